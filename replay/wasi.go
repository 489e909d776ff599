package replay

import (
	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// wasiImpls are the WASI functions as proxy-wasm-cpp-host provides them
// (src/exports.cc, the wasi_unstable_* functions, registered under both
// wasi_snapshot_preview1 and wasi_unstable): stdout and stderr go to the
// plugin log, clocks and random come from the replay's virtual clock and
// seed, there is no filesystem and no network.
var wasiImpls = map[string]hostImpl{
	"fd_write":  (*VM).wasiFdWrite,
	"fd_pwrite": (*VM).wasiFdPwrite,
	"fd_read":   errnoStub(abi.ErrnoNosys),
	"fd_seek": func(vm *VM, s []uint64) uint32 {
		vm.hostError("wasi_unstable fd_seek")
		return 0
	},
	"fd_close": func(vm *VM, s []uint64) uint32 {
		vm.hostError("wasi_unstable fd_close")
		return 0
	},
	"fd_fdstat_get":        (*VM).wasiFdFdstatGet,
	"fd_fdstat_set_flags":  errnoStub(abi.ErrnoNosys),
	"fd_fdstat_set_rights": stdioOnly(0),
	"fd_advise":            errnoStub(abi.ErrnoSuccess),
	"fd_allocate":          stdioOnly(0),
	"fd_datasync":          stdioOnly(0),
	"fd_filestat_set_size": stdioOnly(0),
	"fd_filestat_set_times": func(vm *VM, s []uint64) uint32 {
		return stdioOnly(0)(vm, s)
	},
	"fd_pread": errnoStub(abi.ErrnoNosys),
	"fd_readdir": func(vm *VM, s []uint64) uint32 {
		if !vm.setWord(arg32(s, 4), 0) {
			return uint32(abi.ErrnoFault)
		}
		return 20 // ENOTDIR
	},
	"fd_renumber": func(vm *VM, s []uint64) uint32 {
		if !isStdio(arg32(s, 0)) || !isStdio(arg32(s, 1)) {
			return uint32(abi.ErrnoBadf)
		}
		return uint32(abi.ErrnoNotsup)
	},
	"fd_sync": stdioOnly(0),
	"fd_tell": func(vm *VM, s []uint64) uint32 {
		if !isStdio(arg32(s, 0)) {
			return uint32(abi.ErrnoBadf)
		}
		if !vm.setU64(arg32(s, 1), 0) {
			return uint32(abi.ErrnoFault)
		}
		return 0
	},
	"fd_prestat_get":          errnoStub(abi.ErrnoBadf),
	"fd_prestat_dir_name":     errnoStub(abi.ErrnoNosys),
	"fd_filestat_get":         errnoStub(abi.ErrnoBadf),
	"path_open":               errnoStub(abi.ErrnoNoent),
	"path_filestat_get":       errnoStub(abi.ErrnoNotsup),
	"path_create_directory":   errnoStub(abi.ErrnoNotsup),
	"path_filestat_set_times": errnoStub(abi.ErrnoNotsup),
	"path_link":               errnoStub(abi.ErrnoNotsup),
	"path_readlink": func(vm *VM, s []uint64) uint32 {
		if !vm.setWord(arg32(s, 5), 0) {
			return uint32(abi.ErrnoFault)
		}
		return uint32(abi.ErrnoNotsup)
	},
	"path_remove_directory": errnoStub(abi.ErrnoNotsup),
	"path_rename":           errnoStub(abi.ErrnoNotsup),
	"path_symlink":          errnoStub(abi.ErrnoNotsup),
	"path_unlink_file":      errnoStub(abi.ErrnoNotsup),
	"sock_accept": func(vm *VM, s []uint64) uint32 {
		if !vm.setU64(arg32(s, 2), 0) {
			return uint32(abi.ErrnoFault)
		}
		return uint32(abi.ErrnoNotsup)
	},
	"sock_recv": func(vm *VM, s []uint64) uint32 {
		if !vm.setWord(arg32(s, 4), 0) || vm.mem == nil || !vm.mem.WriteUint16Le(arg32(s, 5), 0) {
			return uint32(abi.ErrnoFault)
		}
		return uint32(abi.ErrnoNotsup)
	},
	"sock_send": func(vm *VM, s []uint64) uint32 {
		if !vm.setWord(arg32(s, 4), 0) {
			return uint32(abi.ErrnoFault)
		}
		return uint32(abi.ErrnoNotsup)
	},
	"sock_shutdown":     errnoStub(abi.ErrnoNotsup),
	"environ_get":       (*VM).wasiEnvironGet,
	"environ_sizes_get": (*VM).wasiEnvironSizesGet,
	"args_get":          errnoStub(abi.ErrnoSuccess),
	"args_sizes_get": func(vm *VM, s []uint64) uint32 {
		if !vm.setWord(arg32(s, 0), 0) || !vm.setWord(arg32(s, 1), 0) {
			return uint32(abi.ErrnoFault)
		}
		return 0
	},
	"clock_time_get": (*VM).wasiClockTimeGet,
	"clock_res_get": func(vm *VM, s []uint64) uint32 {
		if id := arg32(s, 0); id != 0 && id != 1 {
			return uint32(abi.ErrnoNotsup)
		}
		if !vm.setU64(arg32(s, 1), 1) {
			return uint32(abi.ErrnoFault)
		}
		return 0
	},
	"random_get":  (*VM).wasiRandomGet,
	"sched_yield": errnoStub(abi.ErrnoSuccess),
	"poll_oneoff": func(vm *VM, s []uint64) uint32 {
		if !vm.setWord(arg32(s, 3), 0) {
			return uint32(abi.ErrnoFault)
		}
		return 0
	},
	"proc_exit": func(vm *VM, s []uint64) uint32 {
		// cpp-host logs and returns: the module continues, and usually
		// reaches the unreachable that follows its call to exit.
		vm.hostError("wasi_unstable proc_exit")
		return 0
	},
}

func errnoStub(e abi.Errno) hostImpl {
	return func(*VM, []uint64) uint32 { return uint32(e) }
}

func isStdio(fd uint32) bool { return fd == 1 || fd == 2 }

// stdioOnly is the shape of cpp-host's fd_* stubs added for the Go SDK:
// BADF unless fd is stdout or stderr, then the given errno.
func stdioOnly(e abi.Errno) hostImpl {
	return func(vm *VM, s []uint64) uint32 {
		if !isStdio(arg32(s, 0)) {
			return uint32(abi.ErrnoBadf)
		}
		return uint32(e)
	}
}

// writev is cpp-host's writevImpl: fd 1 logs at info, fd 2 at error, the
// iovecs are concatenated and one trailing newline dropped.
func (vm *VM) writev(fd, iovs, n uint32) (uint32, abi.Errno) {
	var level abi.LogLevel
	switch fd {
	case 1:
		level = abi.LogInfo
	case 2:
		level = abi.LogError
	default:
		return 0, abi.ErrnoBadf
	}
	var msg []byte
	for i := uint32(0); i < n; i++ {
		vec, ok := vm.read(iovs+i*8, 8)
		if !ok {
			return 0, abi.ErrnoFault
		}
		buf, size := le.Uint32(vec), le.Uint32(vec[4:])
		if size == 0 {
			continue
		}
		data, ok := vm.read(buf, size)
		if !ok {
			return 0, abi.ErrnoFault
		}
		msg = append(msg, data...)
		if len(msg) > 1<<30 {
			return 0, abi.ErrnoFault
		}
	}
	written := uint32(len(msg))
	if written > 0 {
		// Go prints its traceback on stderr one item per write, TinyGo
		// its panic on stdout (one write per character before 2021): the
		// panic text is the stream, not the records.
		vm.keepPanicText(msg)
		if msg[len(msg)-1] == '\n' {
			msg = msg[:len(msg)-1]
		}
		vm.fromStderr = fd == 2
		vm.pluginLog(vm.contextOrEffective(), level, msg)
		vm.fromStderr = false
	}
	return written, abi.ErrnoSuccess
}

func (vm *VM) wasiFdWrite(s []uint64) uint32 {
	n, e := vm.writev(arg32(s, 0), arg32(s, 1), arg32(s, 2))
	if e != abi.ErrnoSuccess {
		return uint32(e)
	}
	if !vm.setWord(arg32(s, 3), n) {
		return uint32(abi.ErrnoFault)
	}
	return 0
}

func (vm *VM) wasiFdPwrite(s []uint64) uint32 {
	if !isStdio(arg32(s, 0)) {
		return uint32(abi.ErrnoBadf)
	}
	n, e := vm.writev(arg32(s, 0), arg32(s, 1), arg32(s, 2))
	if e != abi.ErrnoSuccess {
		return uint32(e)
	}
	if !vm.setWord(arg32(s, 4), n) {
		return uint32(abi.ErrnoFault)
	}
	return 0
}

func (vm *VM) wasiFdFdstatGet(s []uint64) uint32 {
	if !isStdio(arg32(s, 0)) {
		return uint32(abi.ErrnoBadf)
	}
	// 24 bytes: filetype and flags zero, fs_rights_base = FD_WRITE (64).
	// cpp-host ignores a failed write here; so does replay.
	var stat [24]byte
	le.PutUint64(stat[8:], 64)
	if vm.mem != nil {
		vm.mem.Write(arg32(s, 1), stat[:])
	}
	return 0
}

func (vm *VM) wasiEnvironGet(s []uint64) uint32 {
	arr, buf := arg32(s, 0), arg32(s, 1)
	for _, kv := range sortedEnv(vm.cfg.Env) {
		if !vm.setWord(arr, buf) {
			return uint32(abi.ErrnoFault)
		}
		data := kv[0] + "=" + kv[1] + "\x00"
		if vm.mem == nil || !vm.mem.WriteString(buf, data) {
			return uint32(abi.ErrnoFault)
		}
		buf += uint32(len(data))
		arr += 4
	}
	return 0
}

func (vm *VM) wasiEnvironSizesGet(s []uint64) uint32 {
	if !vm.setWord(arg32(s, 0), uint32(len(vm.cfg.Env))) {
		return uint32(abi.ErrnoFault)
	}
	size := 0
	for k, v := range vm.cfg.Env {
		size += len(k) + len(v) + 2
	}
	if !vm.setWord(arg32(s, 1), uint32(size)) {
		return uint32(abi.ErrnoFault)
	}
	return 0
}

func (vm *VM) wasiClockTimeGet(s []uint64) uint32 {
	var t int64
	switch arg32(s, 0) {
	case 0:
		t = vm.clock.Realtime()
	case 1:
		t = vm.clock.Monotonic()
	default:
		return uint32(abi.ErrnoNotsup)
	}
	if !vm.setU64(arg32(s, 2), uint64(t)) {
		return uint32(abi.ErrnoFault)
	}
	return 0
}

// randomGetMax is PROXY_WASM_HOST_WASI_RANDOM_GET_MAX_SIZE_BYTES.
const randomGetMax = 64 * 1024

func (vm *VM) wasiRandomGet(s []uint64) uint32 {
	n := arg32(s, 1)
	if n > randomGetMax {
		return uint32(abi.ErrnoInval)
	}
	if n == 0 {
		return 0
	}
	var buf [randomGetMax]byte
	b := buf[:n]
	vm.random.Read(b)
	if vm.mem == nil || !vm.mem.Write(arg32(s, 0), b) {
		return uint32(abi.ErrnoFault)
	}
	return 0
}
