// Package loc holds the value types that name a place in a WebAssembly
// module and in source code, shared by the packages that produce them
// (symbolize) and those that carry them (tracer, replay) without either
// importing the other.
//
// There are three address spaces and every tool disagrees
// (shared/DESIGN.md §3.1, reference/toolchains.md "Address spaces"): module
// offsets count from the first byte of the file (V8 and Envoy backtraces,
// wasmtime, source maps); code offsets count from the first byte of the code
// section's payload, where its function-count LEB starts (DWARF,
// llvm-symbolizer, wazero); function offsets count from the start of one
// function body (Kong). Each has its own type; only package symbolize
// converts between them.
package loc

import "fmt"

// ModuleOffset is a byte offset from the start of the module file.
type ModuleOffset uint64

// CodeOffset is a byte offset from the start of the code section payload.
type CodeOffset uint64

// FuncOffset is a byte offset inside one function body, counted from the
// start of the body (its locals declaration), with the function's index in
// the function index space (imports included).
type FuncOffset struct {
	Func   uint32
	Offset uint64
}

func (o ModuleOffset) String() string { return fmt.Sprintf("0x%x", uint64(o)) }
func (o CodeOffset) String() string   { return fmt.Sprintf("code+0x%x", uint64(o)) }
func (o FuncOffset) String() string   { return fmt.Sprintf("func[%d]+0x%x", o.Func, o.Offset) }

// Source says which kind of debug information answered a lookup.
type Source string

const (
	SourceDWARF       Source = "dwarf"
	SourceSourceMap   Source = "sourcemap"
	SourceNameSection Source = "name"
	SourceExport      Source = "export"
	SourceUnknown     Source = "unknown" // no name: "unknown(function index:N)" as Envoy prints
)

// Frame is one resolved frame at an offset. A lookup returns the frames
// innermost first: the inlined ones (Inlined true) and then the function
// that physically contains the offset.
type Frame struct {
	Function  string `json:"function"`            // raw name as stored (mangled, or Go's sanitized form)
	Demangled string `json:"demangled,omitempty"` // readable name, when it differs from Function
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	Inlined   bool   `json:"inlined,omitempty"`
	Source    Source `json:"source"`
}

// Name is the name to show a person: Demangled when known, else Function.
func (f Frame) Name() string {
	if f.Demangled != "" {
		return f.Demangled
	}
	return f.Function
}

// Offset is any of ModuleOffset, CodeOffset and FuncOffset: a place in a
// module together with the convention it is written in.
type Offset interface {
	fmt.Stringer
	offset()
}

func (ModuleOffset) offset() {}
func (CodeOffset) offset()   {}
func (FuncOffset) offset()   {}

// Resolver answers the frames at an offset, innermost first. symbolize.Module
// implements it; tracer and replay accept it, so neither imports symbolize.
type Resolver interface {
	Lookup(Offset) ([]Frame, error)
}
