package wasm

import (
	"fmt"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// SectionID is the id byte of a section (spec §5.5.2).
type SectionID uint8

// The section ids of the core specification and the exception-handling
// proposal.
const (
	SectionCustom SectionID = iota
	SectionType
	SectionImport
	SectionFunction
	SectionTable
	SectionMemory
	SectionGlobal
	SectionExport
	SectionStart
	SectionElement
	SectionCode
	SectionData
	SectionDataCount
	SectionTag // exception handling proposal
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "datacount", "tag"}

// String is the section's name as the spec and wasm-objdump write it in
// lower case: "type", "code", "datacount".
func (id SectionID) String() string {
	if int(id) < len(sectionNames) {
		return sectionNames[id]
	}
	return fmt.Sprintf("id 0x%02x", uint8(id))
}

// order is each known section's rank in the order the spec requires
// (§5.5.16, with tag after memory and datacount before code).
var order = map[SectionID]int{
	SectionType: 1, SectionImport: 2, SectionFunction: 3, SectionTable: 4, SectionMemory: 5,
	SectionTag: 6, SectionGlobal: 7, SectionExport: 8, SectionStart: 9, SectionElement: 10,
	SectionDataCount: 11, SectionCode: 12, SectionData: 13,
}

// ValType is a value type byte (spec §5.3.1).
type ValType byte

// The value types: numbers, vectors (SIMD) and references.
const (
	I32       ValType = 0x7f
	I64       ValType = 0x7e
	F32       ValType = 0x7d
	F64       ValType = 0x7c
	V128      ValType = 0x7b
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6f
)

func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("type 0x%02x", byte(t))
}

func validValType(b byte) bool {
	switch ValType(b) {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

// FuncType is a function signature.
type FuncType struct {
	Params, Results []ValType
}

// String renders the signature the way proxy-wasm-cpp-host prints it in its
// load errors, "i32 i32 -> i32", with "void" for an empty side
// (src/v8/v8.cc printValTypes).
func (t FuncType) String() string { return typeList(t.Params) + " -> " + typeList(t.Results) }

// Equal reports whether two signatures are the same.
func (t FuncType) Equal(u FuncType) bool {
	return equalTypes(t.Params, u.Params) && equalTypes(t.Results, u.Results)
}

func equalTypes(a, b []ValType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func typeList(ts []ValType) string {
	if len(ts) == 0 {
		return "void"
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, " ")
}

// ExternKind is what an import or export is (spec §5.5.5).
type ExternKind uint8

// The kinds of import and export.
const (
	KindFunc ExternKind = iota
	KindTable
	KindMemory
	KindGlobal
	KindTag
)

var kindNames = [...]string{"func", "table", "memory", "global", "tag"}

func (k ExternKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind 0x%02x", uint8(k))
}

// Limits are the bounds of a memory or table, in pages or elements.
type Limits struct {
	Min, Max uint64
	HasMax   bool
	Shared   bool // threads proposal
	Is64     bool // memory64 proposal
}

// TableType is a table's element type and limits.
type TableType struct {
	Elem ValType
	Limits
}

// GlobalType is a global's value type and mutability.
type GlobalType struct {
	Type    ValType
	Mutable bool
}

// Import is one entry of the import section. Exactly one of the typed
// fields is meaningful, chosen by Kind.
type Import struct {
	Module, Name string
	Kind         ExternKind
	TypeIndex    uint32 // KindFunc, KindTag: index into Module.Types
	Table        TableType
	Memory       Limits
	Global       GlobalType
	Offset       loc.ModuleOffset // the entry
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32 // in the index space of Kind (imports first)
}

// Section is one section of the module as it sits in the file.
type Section struct {
	ID   SectionID
	Name string // custom sections: their name; others: ID.String()
	// Offset is the file offset of the id byte, PayloadOffset that of the
	// first byte after the size (wasm-objdump -h prints it as start=), and
	// Size the payload's length; for a custom section the payload includes
	// its name.
	Offset, PayloadOffset loc.ModuleOffset
	Size                  uint32
	// Payload is the section's payload, a slice of the parsed input. For a
	// custom section Data is what follows the name, DataOffset its offset.
	Payload    []byte
	Data       []byte
	DataOffset loc.ModuleOffset
}

// End is the file offset one past the section's last byte.
func (s Section) End() loc.ModuleOffset { return s.PayloadOffset + loc.ModuleOffset(s.Size) }

// Body is one function body of the code section, in module (file) offsets.
type Body struct {
	Func uint32 // function index, imports included
	// SizeOffset is where the body's size LEB starts (LLVM's symbol
	// address for the function), Start the first byte of the body (its
	// locals declaration; V8's function code offset), End one past its
	// last byte (after the final end opcode).
	SizeOffset, Start, End loc.ModuleOffset
}

// Names is the content of the "name" custom section
// (spec appendix "Name Section"). Subsections other than module, function
// and local names are skipped.
type Names struct {
	Module string
	Funcs  map[uint32]string            // function index -> name
	Locals map[uint32]map[uint32]string // function index -> local index -> name
}

// ProducerField is one field of the "producers" section
// (tool-conventions ProducersSection.md): "language", "processed-by" or
// "sdk", with its values in file order.
type ProducerField struct {
	Name   string
	Values []ProducerValue
}

// ProducerValue is a tool or language and its version, which may be empty.
type ProducerValue struct {
	Name, Version string
}

// Feature is one entry of the "target_features" section
// (tool-conventions Linking.md): Prefix is '+' (used), '-' (disallowed) or
// '=' (required).
type Feature struct {
	Prefix byte
	Name   string
}
