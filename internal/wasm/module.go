// Package wasm reads the sections of a WebAssembly binary module: the
// header, every section with its file offset and size, types, imports,
// functions, tables, memories, globals, exports, the start function, the
// code section's function bodies (in module offsets, with the code section
// payload start that DWARF offsets count from), the data count, and the
// custom sections debuggers need: "name", "producers", "sourceMappingURL",
// "external_debug_info", "target_features" and every ".debug_*" section.
//
// Format: the WebAssembly core specification, binary format (chapter 5,
// https://webassembly.github.io/spec/core/binary/), its "Name Section"
// appendix, and the tool conventions for producers, target_features and
// DWARF (https://github.com/WebAssembly/tool-conventions). Function bodies
// are located but not decoded; element and data segments are counted, not
// decoded. The reader is modelled on wazero's binary decoder and on Go's
// debug/elf: it never panics on malformed input, every error names the
// section and file offset (*Error), and no length read from the file sizes
// an allocation the remaining input could not fill.
//
// Problems inside custom sections never fail a parse (engines ignore them
// too); they are reported in Module.Warnings.
package wasm

import (
	"bytes"
	"fmt"
	"os"
	"sort"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// Module is a parsed module. Its byte slices (Section.Payload, Data,
// Custom) point into the input given to Parse, which must not change.
type Module struct {
	Version  uint32
	Sections []Section // every section, in file order

	Types     []FuncType
	Imports   []Import
	Funcs     []uint32 // type index of each function defined in the module
	Tables    []TableType
	Memories  []Limits
	Globals   []GlobalType // globals defined in the module
	Tags      []uint32     // type index of each tag defined in the module
	Exports   []Export
	Start     uint32 // start function index, when HasStart
	HasStart  bool
	DataCount uint32 // the datacount section's value, when HasDataCount

	HasDataCount    bool
	ElementSegments uint32 // number of element segments (not decoded)
	DataSegments    uint32 // number of data segments (not decoded)

	// Code holds the function bodies in order: Code[i] is the body of
	// function NumImportedFuncs()+i. CodeStart is the file offset of the
	// code section payload (where its function-count LEB starts): the base
	// of DWARF's code offsets, 0 when there is no code section.
	Code      []Body
	CodeStart loc.ModuleOffset

	Names             Names // from the "name" section, when HasNames
	HasNames          bool
	Producers         []ProducerField // "producers", in file order
	TargetFeatures    []Feature       // "target_features"
	SourceMappingURL  string          // "sourceMappingURL": the module's source map, often relative
	ExternalDebugInfo string          // "external_debug_info": where the separate DWARF file is

	// Warnings are the problems found in custom sections, each an *Error.
	Warnings []error

	funcImports []uint32 // type index of each imported function
}

// ReadFile reads and parses the module at path; errors start with the path.
func ReadFile(path string) (*Module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

var magic = []byte("\x00asm")

// Parse reads a binary module. Errors are *Error values naming the section
// and offset; a nil error means every standard section was well formed.
func Parse(b []byte) (*Module, error) {
	m := &Module{}
	if err := m.header(b); err != nil {
		return nil, err
	}
	lastRank := 0
	var last SectionID
	pos := 8
	for pos < len(b) {
		start := pos
		id := SectionID(b[pos])
		h := newDecoder("section "+id.String(), b[pos+1:], pos+1)
		size := h.u32()
		if h.err != nil {
			return nil, &Error{Where: h.where, Offset: uint64(start), Msg: "section size: " + h.err.(*Error).Msg}
		}
		payload := pos + 1 + h.pos
		if uint64(size) > uint64(len(b)-payload) {
			return nil, &Error{Where: h.where, Offset: uint64(start),
				Msg: fmt.Sprintf("section size %d overruns the file (%d bytes left)", size, len(b)-payload)}
		}
		end := payload + int(size)
		s := Section{ID: id, Name: id.String(), Offset: loc.ModuleOffset(start),
			PayloadOffset: loc.ModuleOffset(payload), Size: size, Payload: b[payload:end]}
		if id != SectionCustom {
			rank, ok := order[id]
			if !ok {
				return nil, &Error{Where: h.where, Offset: uint64(start), Msg: "unknown section id"}
			}
			if rank == lastRank {
				return nil, &Error{Where: h.where, Offset: uint64(start), Msg: "duplicate section"}
			}
			if rank < lastRank {
				return nil, &Error{Where: h.where, Offset: uint64(start), Msg: "out of order: after section " + last.String()}
			}
			lastRank, last = rank, id
		}
		d := newDecoder(h.where, s.Payload, payload)
		if id == SectionCustom {
			s.Name = d.name("custom section name")
			if d.err != nil {
				return nil, d.err
			}
			s.Data, s.DataOffset = s.Payload[d.pos:], loc.ModuleOffset(d.off())
			m.Sections = append(m.Sections, s)
			m.custom(s)
		} else {
			m.Sections = append(m.Sections, s)
			if err := m.section(d, id); err != nil {
				return nil, err
			}
		}
		pos = end
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Module) header(b []byte) error {
	fail := func(off uint64, format string, args ...any) error {
		return &Error{Where: "header", Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) < 4 || !bytes.Equal(b[:4], magic) {
		if looksLikeText(b) {
			return fail(0, "not a binary WebAssembly module: this looks like the text format (.wat); convert it with wat2wasm")
		}
		if len(b) < 4 {
			return fail(0, "not a WebAssembly module: %d bytes, shorter than the 8-byte header", len(b))
		}
		if b[0] == 0x1f && b[1] == 0x8b {
			return fail(0, "not a WebAssembly module: this is gzip-compressed data; decompress it first (gunzip)")
		}
		return fail(0, "not a WebAssembly module: starts with %q, want \"\\x00asm\"", b[:4])
	}
	if len(b) < 8 {
		return fail(4, "truncated header: %d bytes, want 8", len(b))
	}
	m.Version = uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24
	switch {
	case m.Version == 1:
		return nil
	case m.Version&0xffff == 0xd && m.Version>>16 == 1:
		return fail(4, "a WebAssembly component (version 0xd, layer 1), not a core module; Proxy-Wasm hosts load core modules")
	default:
		return fail(4, "unsupported binary version %d, want 1", m.Version)
	}
}

func looksLikeText(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return bytes.HasPrefix(b, []byte("(module")) || bytes.HasPrefix(b, []byte(";;")) || bytes.HasPrefix(b, []byte("(;"))
}

// check verifies what spans sections: the function and code sections agree.
func (m *Module) check() error {
	cs, hasCode := m.Section(SectionCode)
	if len(m.Funcs) == len(m.Code) {
		return nil
	}
	if !hasCode {
		fs, _ := m.Section(SectionFunction)
		return &Error{Where: "section function", Offset: uint64(fs.Offset),
			Msg: fmt.Sprintf("%d functions declared, but the module has no code section", len(m.Funcs))}
	}
	return &Error{Where: "section code", Offset: uint64(cs.Offset),
		Msg: fmt.Sprintf("%d function bodies, but the function section declares %d", len(m.Code), len(m.Funcs))}
}

// Section returns the first section with the given id.
func (m *Module) Section(id SectionID) (Section, bool) {
	for _, s := range m.Sections {
		if s.ID == id {
			return s, true
		}
	}
	return Section{}, false
}

// CustomSection returns the first custom section with the given name.
func (m *Module) CustomSection(name string) (Section, bool) {
	for _, s := range m.Sections {
		if s.ID == SectionCustom && s.Name == name {
			return s, true
		}
	}
	return Section{}, false
}

// Custom returns the content (after the name) of the first custom section
// called name, or nil. DWARF readers take their sections from here:
// Custom(".debug_info"), Custom(".debug_line"), Custom(".debug_str_offsets")…
func (m *Module) Custom(name string) []byte {
	s, _ := m.CustomSection(name)
	return s.Data
}

// DebugSections returns the custom sections whose names start with
// ".debug_", in file order.
func (m *Module) DebugSections() []Section {
	var out []Section
	for _, s := range m.Sections {
		if s.ID == SectionCustom && len(s.Name) > 7 && s.Name[:7] == ".debug_" {
			out = append(out, s)
		}
	}
	return out
}

// NumImportedFuncs is the number of imported functions: defined function i
// has index NumImportedFuncs()+i.
func (m *Module) NumImportedFuncs() uint32 { return uint32(len(m.funcImports)) }

// NumFuncs is the size of the function index space.
func (m *Module) NumFuncs() uint32 { return m.NumImportedFuncs() + uint32(len(m.Funcs)) }

// FuncType returns the signature of function idx (imports included).
func (m *Module) FuncType(idx uint32) (FuncType, bool) {
	var ti uint32
	nimp := m.NumImportedFuncs()
	switch {
	case idx < nimp:
		ti = m.funcImports[idx]
	case idx-nimp < uint32(len(m.Funcs)):
		ti = m.Funcs[idx-nimp]
	default:
		return FuncType{}, false
	}
	if ti >= uint32(len(m.Types)) {
		return FuncType{}, false
	}
	return m.Types[ti], true
}

// FuncName returns the name-section name of function idx, or "".
func (m *Module) FuncName(idx uint32) string { return m.Names.Funcs[idx] }

// Body returns the body of function idx, or false for an imported or
// unknown function.
func (m *Module) Body(idx uint32) (Body, bool) {
	nimp := m.NumImportedFuncs()
	if idx < nimp || idx-nimp >= uint32(len(m.Code)) {
		return Body{}, false
	}
	return m.Code[idx-nimp], true
}

// FuncAt returns the body containing module offset off: Start <= off < End.
// Bodies are sorted by offset, so this is a binary search.
func (m *Module) FuncAt(off loc.ModuleOffset) (Body, bool) {
	i := sort.Search(len(m.Code), func(i int) bool { return m.Code[i].End > off })
	if i < len(m.Code) && m.Code[i].Start <= off {
		return m.Code[i], true
	}
	return Body{}, false
}
