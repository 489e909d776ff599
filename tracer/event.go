package tracer

import "github.com/wasmdbg/wasmdbg/internal/loc"

// Kind is the kind of an event.
type Kind string

const (
	KindCall      Kind = "call"
	KindPluginLog Kind = "plugin_log"
	KindCrash     Kind = "crash"
	KindVMFailure Kind = "vm_failure"
	KindFinding   Kind = "finding"
	KindOther     Kind = "other"
)

// Direction is the arrow of a wasm:trace line.
type Direction string

const (
	HostToVM   Direction = "host->vm" // the host calls an export (a callback)
	HostFromVM Direction = "host<-vm" // the export returns
	VMToHost   Direction = "vm->host" // the module calls an import (a host function)
	VMFromHost Direction = "vm<-host" // the import returns
)

// Event is one decoded log record. Its JSON form (one object per line) is a
// contract other tools rely on: shared/DESIGN.md §3.2. Fields that do not
// apply to a kind are left empty and omitted.
type Event struct {
	Kind Kind `json:"kind"`

	// Where the record came from, when the source says.
	Time   string `json:"time,omitempty"`   // RFC 3339 with the source's precision
	Thread string `json:"thread,omitempty"` // worker thread id as printed
	Level  string `json:"level,omitempty"`  // trace, debug, info, warning, error, critical
	Line   int    `json:"line,omitempty"`   // first input line of the record, from 1
	Origin string `json:"origin,omitempty"` // prefix added by the world: pod/container, compose service
	File   string `json:"file,omitempty"`   // input file, when several were read

	// call
	Direction Direction `json:"direction,omitempty"`
	Function  string    `json:"function,omitempty"` // as printed: "env.proxy_log", "proxy_on_request_headers"
	Args      []Number  `json:"args,omitempty"`
	Return    *Number   `json:"return,omitempty"` // a number, or "void"
	Status    string    `json:"status,omitempty"` // WasmResult or WASI errno name of a host-call return
	Action    string    `json:"action,omitempty"` // meaning of a callback return (Continue, StopIteration, true…)
	Decoded   []Arg     `json:"decoded,omitempty"`
	ContextID *uint32   `json:"context_id,omitempty"`
	// Annotation is the decoded form a tool appended to the line after
	// "  # " (wasmdbg replay), kept as printed.
	Annotation string `json:"annotation,omitempty"`
	// DurationNS is the time from the call line to its return line
	// (set on host<-vm and vm<-host events when both have a time).
	DurationNS int64 `json:"duration_ns,omitempty"`

	// plugin_log (and the text of other, crash, vm_failure, finding)
	Plugin  string `json:"plugin,omitempty"` // the log prefix ids as printed ("ns.name root vm")
	Message string `json:"message,omitempty"`

	// crash
	Callback  string  `json:"callback,omitempty"` // from "Function: X failed:"
	Runtime   string  `json:"runtime,omitempty"`  // v8, wasmtime, wamr, wavm, wazero, unknown
	Frames    []Frame `json:"frames,omitempty"`
	PanicText string  `json:"panic,omitempty"`      // the plugin's own panic message logged just before
	PanicLine int     `json:"panic_line,omitempty"` // its input line
	// CallLine is the input line of the [host->vm] call the trap ended,
	// when a wasm:trace stream is present; LastCalls the host calls that
	// callback made last before the trap, oldest first.
	CallLine  int       `json:"call_line,omitempty"`
	LastCalls []CallRef `json:"last_calls,omitempty"`

	// vm_failure and finding
	Reason string `json:"reason,omitempty"`
	Hint   string `json:"hint,omitempty"`

	// Malformed says why a line that looked like a known format could not
	// be parsed (kind other).
	Malformed string `json:"malformed,omitempty"`
}

// CallRef is a host call as a crash event lists it in last_calls.
type CallRef struct {
	Function   string   `json:"function"`
	Args       []Number `json:"args,omitempty"`
	Decoded    []Arg    `json:"decoded,omitempty"`
	Return     *Number  `json:"return,omitempty"`
	Status     string   `json:"status,omitempty"`
	Annotation string   `json:"annotation,omitempty"`
	Line       int      `json:"line,omitempty"`
}

// Number is an argument or return value exactly as printed ("18446744073709551615",
// "-1", "1.500000"), written to JSON as a bare number; "void" is written as a string.
type Number string

// MarshalJSON writes the number unquoted, and "void" quoted.
func (n Number) MarshalJSON() ([]byte, error) {
	if n == "void" || n == "" {
		return []byte(`"` + string(n) + `"`), nil
	}
	return []byte(n), nil
}

// UnmarshalJSON accepts a bare number or a string.
func (n *Number) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	*n = Number(s)
	return nil
}

// Arg is a decoded argument: its parameter name and its meaning
// ("map_type": "HttpRequestHeaders", "key": "\"allow\"").
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Frame is one frame of an in-VM backtrace. Index, Offset and Function are
// as printed (Function raw, "" when the runtime printed none); the other
// fields are filled in once the frame is symbolized. Offset is a module
// offset for V8 and wasmtime frames, a code offset for wazero's
// (OffsetKind says which).
type Frame struct {
	Index      int    `json:"index"`
	Offset     string `json:"offset"`                // "0xdbd"
	OffsetKind string `json:"offset_kind,omitempty"` // "module" (default), "code", "function", "instruction"
	Function   string `json:"function"`
	Module     string `json:"module,omitempty"` // wasmtime's "module!", WAVM's "wasm!module!", wazero's "module."

	Demangled string      `json:"demangled,omitempty"`
	File      string      `json:"file,omitempty"`
	Line      int         `json:"line,omitempty"`
	Column    int         `json:"column,omitempty"`
	Inlined   []loc.Frame `json:"inlined,omitempty"` // frames inlined at this point, innermost first
}
