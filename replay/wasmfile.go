package replay

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// This file reads the few facts about a module binary that the host needs
// before wazero sees it: the ABI marker, the imports and exports with their
// signatures, the code section's place in the file and each function body's
// range in it (to turn wazero's code offsets into V8's module offsets and
// function indices), and the name section (V8 prints those names). It is
// deliberately small; the full section reader belongs to internal/wasm.
// Format: WebAssembly Core Specification §5 (binary format).

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

// section is one section's place in the file.
type section struct {
	id          byte
	name        string // custom sections only
	start, end  int    // the whole section: id byte to end of payload
	payloadFrom int    // first byte of the payload (after the size LEB)
}

// moduleInfo is what replay knows about a module binary.
type moduleInfo struct {
	abi        abi.Version
	abiMarkers []string // every proxy_abi_version_* export, in order

	types       []funcType
	imports     []wasmImport // function imports only, in index order
	funcTypes   []uint32     // type index of each defined function
	exports     map[string]uint32
	exportOrder []string // function exports in file order
	hasMemory   bool     // defines or imports a memory
	startFunc   bool     // has a start section

	sections  []section
	codeStart int      // file offset of the code section payload (its count LEB)
	codeSize  int      // payload size
	bodies    [][2]int // code offsets [start, end) of each defined function body (from its size LEB)

	names      map[uint32]string // name section function names by function index
	moduleName string
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

// funcAtCode returns the function index whose body holds code offset off.
func (m *moduleInfo) funcAtCode(off uint64) (uint32, bool) {
	lo, hi := 0, len(m.bodies)
	for lo < hi {
		mid := (lo + hi) / 2
		switch {
		case off < uint64(m.bodies[mid][0]):
			hi = mid
		case off >= uint64(m.bodies[mid][1]):
			lo = mid + 1
		default:
			return uint32(len(m.imports) + mid), true
		}
	}
	return 0, false
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

// reader is a cursor with a sticky error; every error carries the file
// offset it happened at.
type reader struct {
	b    []byte
	pos  int
	err  error
	sect string // section being read, for error positions
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		where := "module"
		if r.sect != "" {
			where = "section " + r.sect
		}
		r.err = fmt.Errorf("%s at offset 0x%x: %s", where, r.pos, fmt.Sprintf(format, args...))
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 0xffffffff {
				r.fail("integer too large")
				return 0
			}
			return uint32(v)
		}
	}
	r.fail("integer representation too long")
	return 0
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(r.pos)+uint64(n) > uint64(len(r.b)) {
		r.fail("length %d out of bounds", n)
		return nil
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

func (r *reader) name() string { return string(r.bytes(r.u32())) }

// skipLimits skips a table or memory limits record.
func (r *reader) skipLimits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

var errNotWasm = errors.New("not a WebAssembly module (bad magic number)")

var sectionNames = []string{"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "datacount", "tag"}

func sectionName(id byte) string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return fmt.Sprintf("%d", id)
}

// parseModule reads the facts replay needs. It does not validate the code;
// wazero does that when it compiles.
func parseModule(b []byte) (*moduleInfo, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errNotWasm
	}
	if !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}) {
		return nil, fmt.Errorf("module at offset 0x4: unsupported binary version %x", b[4:8])
	}
	m := &moduleInfo{exports: map[string]uint32{}, names: map[uint32]string{}, codeStart: -1}
	r := &reader{b: b, pos: 8}
	for r.pos < len(b) && r.err == nil {
		start := r.pos
		id := r.byte()
		r.sect = sectionName(id)
		size := r.u32()
		from := r.pos
		if r.err != nil {
			break
		}
		if uint64(from)+uint64(size) > uint64(len(b)) {
			r.fail("size %d runs past the end of the file", size)
			break
		}
		end := from + int(size)
		s := section{id: id, start: start, end: end, payloadFrom: from}
		sr := &reader{b: b[:end], pos: from, sect: r.sect}
		switch id {
		case 0:
			s.name = sr.name()
			if sr.err == nil && s.name == "name" {
				m.parseNames(&reader{b: b[:end], pos: sr.pos, sect: "custom \"name\""})
			}
		case 1:
			m.parseTypes(sr)
		case 2:
			m.parseImports(sr)
		case 3:
			n := sr.u32()
			for i := uint32(0); i < n && sr.err == nil; i++ {
				m.funcTypes = append(m.funcTypes, sr.u32())
			}
		case 5:
			if sr.u32() > 0 {
				m.hasMemory = true
			}
		case 7:
			m.parseExports(sr)
		case 8:
			m.startFunc = true
		case 10:
			m.codeStart, m.codeSize = from, int(size)
			m.parseCode(sr)
		}
		if sr.err != nil {
			return nil, sr.err
		}
		m.sections = append(m.sections, s)
		r.pos = end
	}
	if r.err != nil {
		return nil, r.err
	}
	for _, name := range m.exportOrder {
		if v, ok := abi.VersionFromExport(name); ok {
			m.abiMarkers = append(m.abiMarkers, name)
			if m.abi == abi.VersionUnknown {
				m.abi = v
			}
		}
	}
	return m, nil
}

func (m *moduleInfo) parseTypes(r *reader) {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if form := r.byte(); form != 0x60 && r.err == nil {
			r.fail("type %d: unsupported form 0x%x", i, form)
			return
		}
		var t funcType
		for j, np := uint32(0), r.u32(); j < np && r.err == nil; j++ {
			t.params = append(t.params, abi.ValType(r.byte()))
		}
		for j, nr := uint32(0), r.u32(); j < nr && r.err == nil; j++ {
			t.results = append(t.results, abi.ValType(r.byte()))
		}
		m.types = append(m.types, t)
	}
}

func (m *moduleInfo) parseImports(r *reader) {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		mod, name := r.name(), r.name()
		switch kind := r.byte(); kind {
		case 0:
			ti := r.u32()
			var t funcType
			if int(ti) < len(m.types) {
				t = m.types[ti]
			} else if r.err == nil {
				r.fail("import %s.%s: type index %d out of range", mod, name, ti)
			}
			m.imports = append(m.imports, wasmImport{module: mod, name: name, typ: t})
		case 1:
			r.byte()
			r.skipLimits()
		case 2:
			m.hasMemory = true
			r.skipLimits()
		case 3:
			r.byte()
			r.byte()
		case 4:
			r.byte()
			r.u32()
		default:
			r.fail("import %s.%s: unknown kind 0x%x", mod, name, kind)
		}
	}
}

func (m *moduleInfo) parseExports(r *reader) {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := r.name()
		kind := r.byte()
		idx := r.u32()
		if kind == 0 && r.err == nil {
			if _, dup := m.exports[name]; !dup {
				m.exportOrder = append(m.exportOrder, name)
			}
			m.exports[name] = idx
		}
	}
}

func (m *moduleInfo) parseCode(r *reader) {
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.pos - m.codeStart
		size := r.u32()
		r.bytes(size)
		m.bodies = append(m.bodies, [2]int{start, r.pos - m.codeStart})
	}
}

// parseNames reads the name section's module and function names. A
// malformed name section is ignored, as engines do.
func (m *moduleInfo) parseNames(r *reader) {
	for r.pos < len(r.b) && r.err == nil {
		id := r.byte()
		size := r.u32()
		sub := r.bytes(size)
		if r.err != nil {
			return
		}
		sr := &reader{b: sub}
		switch id {
		case 0:
			m.moduleName = sr.name()
		case 1:
			n := sr.u32()
			for i := uint32(0); i < n && sr.err == nil; i++ {
				idx := sr.u32()
				name := sr.name()
				if sr.err == nil {
					m.names[idx] = name
				}
			}
		}
	}
}

// hasDWARF reports whether the module carries DWARF custom sections.
func (m *moduleInfo) hasDWARF() bool {
	for _, s := range m.sections {
		if s.id == 0 && strings.HasPrefix(s.name, ".debug_") {
			return true
		}
	}
	return false
}
