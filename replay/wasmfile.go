package replay

import (
	"bytes"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// This file gathers the few facts about a module binary that the host needs
// before wazero sees it, from internal/wasm's section reader: the ABI
// marker, the imports and exports with their signatures, the code section's
// place in the file and each function body's range in it (to turn wazero's
// code offsets into V8's module offsets and function indices), and the name
// section (V8 prints those names).

// funcType is a function signature.
type funcType struct {
	params, results []abi.ValType
}

func (t funcType) String() string { return abi.Signature(t.params, t.results) }

func (t funcType) equal(params, results []abi.ValType) bool {
	return bytes.Equal(valBytes(t.params), valBytes(params)) && bytes.Equal(valBytes(t.results), valBytes(results))
}

func valBytes(ts []abi.ValType) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}

// wasmImport is one function import.
type wasmImport struct {
	module, name string
	typ          funcType
}

// moduleInfo is what replay knows about a module binary.
type moduleInfo struct {
	abi abi.Version

	types       []funcType
	imports     []wasmImport // function imports only, in index order
	funcTypes   []uint32     // type index of each defined function
	exports     map[string]uint32
	exportOrder []string // function exports in file order
	hasMemory   bool     // defines or imports a memory

	codeStart int // file offset of the code section payload (its count LEB)
	codeSize  int // payload size

	names map[uint32]string // name section function names by function index

	parsed *wasm.Module
}

// funcType returns the signature of function index i (imports first).
func (m *moduleInfo) funcType(i uint32) (funcType, bool) {
	if int(i) < len(m.imports) {
		return m.imports[i].typ, true
	}
	d := int(i) - len(m.imports)
	if d >= len(m.funcTypes) || int(m.funcTypes[d]) >= len(m.types) {
		return funcType{}, false
	}
	return m.types[m.funcTypes[d]], true
}

// exportType returns the signature of a function export.
func (m *moduleInfo) exportType(name string) (funcType, bool) {
	i, ok := m.exports[name]
	if !ok {
		return funcType{}, false
	}
	return m.funcType(i)
}

// opcodeAt returns the byte at code offset off (the opcode of the
// instruction wazero reports there), or 0 when out of range.
func (m *moduleInfo) opcodeAt(b []byte, off uint64) byte {
	i := m.codeStart + int(off)
	if off >= uint64(m.codeSize) || i < 0 || i >= len(b) {
		return 0
	}
	return b[i]
}

// parseModule reads the facts replay needs. It does not validate the code;
// wazero does that when it compiles. Errors are internal/wasm's, naming the
// section and file offset.
func parseModule(b []byte) (*moduleInfo, error) {
	pm, err := wasm.Parse(b)
	if err != nil {
		return nil, err
	}
	m := &moduleInfo{exports: map[string]uint32{}, names: pm.Names.Funcs, codeStart: -1, parsed: pm}
	if m.names == nil {
		m.names = map[uint32]string{}
	}
	for _, t := range pm.Types {
		m.types = append(m.types, funcType{params: t.Params, results: t.Results})
	}
	for _, im := range pm.Imports {
		switch im.Kind {
		case wasm.KindFunc:
			var t funcType
			if int(im.TypeIndex) < len(m.types) {
				t = m.types[im.TypeIndex]
			}
			m.imports = append(m.imports, wasmImport{module: im.Module, name: im.Name, typ: t})
		case wasm.KindMemory:
			m.hasMemory = true
		}
	}
	m.funcTypes = pm.Funcs
	if len(pm.Memories) > 0 {
		m.hasMemory = true
	}
	for _, e := range pm.Exports {
		if e.Kind != wasm.KindFunc {
			continue
		}
		if _, dup := m.exports[e.Name]; !dup {
			m.exportOrder = append(m.exportOrder, e.Name)
		}
		m.exports[e.Name] = e.Index
	}
	for _, s := range pm.Sections {
		if s.ID == wasm.SectionCode {
			m.codeStart, m.codeSize = int(s.PayloadOffset), int(s.Size)
		}
	}
	for _, name := range m.exportOrder {
		if v, ok := abi.VersionFromExport(name); ok {
			if m.abi == abi.VersionUnknown {
				m.abi = v
			}
		}
	}
	return m, nil
}

// hasDWARF reports whether the module carries DWARF custom sections.
func (m *moduleInfo) hasDWARF() bool { return len(m.parsed.DebugSections()) > 0 }
