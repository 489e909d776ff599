package replay

import (
	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Guest memory is untrusted: every access goes through these helpers, which
// check bounds (as cpp-host's getMemory/setMemory/setWord do) and report
// failure instead of panicking.

// arg32 reads an i32 argument. wazero passes i32 values in uint64 slots
// whose upper half is unspecified.
func arg32(s []uint64, i int) uint32 { return uint32(s[i]) }

// read returns a view of guest memory [ptr, ptr+size).
func (vm *VM) read(ptr, size uint32) ([]byte, bool) {
	if vm.mem == nil {
		return nil, false
	}
	return vm.mem.Read(ptr, size)
}

// readString copies guest memory [ptr, ptr+size) into a string.
func (vm *VM) readString(ptr, size uint32) (string, bool) {
	b, ok := vm.read(ptr, size)
	if !ok {
		return "", false
	}
	return string(b), true
}

func (vm *VM) setWord(ptr, v uint32) bool {
	return vm.mem != nil && vm.mem.WriteUint32Le(ptr, v)
}

func (vm *VM) setU64(ptr uint32, v uint64) bool {
	return vm.mem != nil && vm.mem.WriteUint64Le(ptr, v)
}

// allocMemory calls the module's allocator on the VM context with the
// allocator allow-list in force (cpp-host WasmBase::allocMemory) and returns
// the guest address of size writable bytes, or false.
func (vm *VM) allocMemory(size uint32) (uint32, bool) {
	addr, ok := vm.malloc(size)
	if !ok {
		return 0, false
	}
	if _, ok := vm.read(addr, size); !ok {
		return 0, false
	}
	return addr, true
}

// malloc is allocMemory without the check that the allocation lies in
// memory, for callers that write it at once (a write out of bounds fails
// the same way).
func (vm *VM) malloc(size uint32) (uint32, bool) {
	cb := vm.cbs.malloc
	if cb == nil || vm.failed {
		return 0, false
	}
	saved := vm.restrict
	if !vm.cfg.NoRestrictions {
		vm.restrict = restrictMalloc
	}
	r, ok := vm.call(vm.vmCtx, cb, uint64(size))
	vm.restrict = saved
	if !ok || uint32(r) == 0 {
		return 0, false
	}
	return uint32(r), true
}

// copyToPointerSize copies data into a fresh guest allocation and writes
// its address and size to the two out-pointers; empty data writes 0, 0
// without allocating (cpp-host WasmBase::copyToPointerSize).
func (vm *VM) copyToPointerSize(data []byte, ptrPtr, sizePtr uint32) bool {
	var addr uint32
	if len(data) > 0 {
		if uint64(len(data)) > 0xffffffff {
			return false
		}
		a, ok := vm.malloc(uint32(len(data)))
		if !ok {
			return false
		}
		if vm.mem == nil || !vm.mem.Write(a, data) {
			return false
		}
		addr = a
	}
	return vm.setWord(ptrPtr, addr) && vm.setWord(sizePtr, uint32(len(data)))
}

// copyStringToPointerSize is copyToPointerSize for a string.
func (vm *VM) copyStringToPointerSize(s string, ptrPtr, sizePtr uint32) bool {
	var addr uint32
	if len(s) > 0 {
		a, ok := vm.malloc(uint32(len(s)))
		if !ok {
			return false
		}
		if vm.mem == nil || !vm.mem.WriteString(a, s) {
			return false
		}
		addr = a
	}
	return vm.setWord(ptrPtr, addr) && vm.setWord(sizePtr, uint32(len(s)))
}

// status converts a result for the host function's return slot.
func status(s abi.Status) uint32 { return uint32(s) }
