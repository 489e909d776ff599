package replay

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// maxBacktraceFrames is cpp-host's PROXY_WASM_HOST_MAX_BACKTRACE_FRAMES_COUNT
// (include/proxy-wasm/limits.h), V8's --stack-trace-limit.
const maxBacktraceFrames = 20

// Crash is a trap: the callback that failed, V8's message, the frames with
// module offsets as V8 prints them, and their symbolized form.
type Crash struct {
	Callback  string // the export that was called ("proxy_on_request_headers")
	Message   string // V8's text: "Uncaught RuntimeError: unreachable"
	Runtime   string // "wazero": what really ran (the text mimics V8)
	Frames    []Frame
	PanicText string // the plugin's own last words (stdout, stderr, error logs) in that callback
	Timeout   bool   // the callback ran past the time limit
	HostError bool   // a host function failed (a wasmdbg bug)
	// Unnamed is set when the module names no function (no name section,
	// or one without function names): V8 then prints only the headline,
	// no backtrace, although Frames still has the frames.
	Unnamed bool
	Detail  string // wazero's own error text
}

// Frame is one backtrace frame.
type Frame struct {
	Index    int
	Module   loc.ModuleOffset // as V8 prints it
	Code     loc.CodeOffset   // the same place, code-section relative
	FuncIdx  uint32
	Name     string      // as V8 prints it: the name section name, __cxa_demangle'd when that succeeds
	RawName  string      // as stored in the name section ("" when none)
	Resolved []loc.Frame // symbolized, innermost (inlined) first; nil when no resolver answered
}

// framesFromError builds V8-shaped frames from a wazero error's offsets.
func (vm *VM) framesFromError(text string) []Frame {
	info := vm.mod.info
	conv := vm.mod.offsetConverter()
	if conv == nil {
		return nil
	}
	var frames []Frame
	for _, off := range vm.mod.trapOffsets(text) {
		if len(frames) == maxBacktraceFrames {
			break
		}
		mo, err := conv.ModuleOffset(off)
		if err != nil {
			continue
		}
		fo, err := conv.FuncOffset(mo)
		if err != nil {
			continue
		}
		fi := fo.Func
		f := Frame{
			Index:   len(frames),
			Module:  mo,
			Code:    off,
			FuncIdx: fi,
			RawName: info.names[fi],
		}
		f.Name = v8FunctionName(info, fi)
		if r := vm.mod.opts.Resolver; r != nil {
			if rf, err := r.Lookup(f.Module); err == nil && len(rf) > 0 {
				f.Resolved = rf
			}
		}
		frames = append(frames, f)
	}
	return frames
}

// offsetConverter returns the symbolizer that converts the module's
// offsets between conventions, or nil when it cannot read the module (then
// there are no frames to show).
func (m *Module) offsetConverter() *symbolize.Module {
	m.offsetsOnce.Do(func() {
		m.offsets, _ = symbolize.New("plugin.wasm", m.wasm, symbolize.Options{})
	})
	return m.offsets
}

// v8FunctionName is the name V8 prints for function index i: the name
// section's, passed through __cxa_demangle when it succeeds
// (cpp-host src/bytecode_util.cc getFunctionNameIndex), else
// "unknown(function index:N)".
func v8FunctionName(info *moduleInfo, i uint32) string {
	name, ok := info.names[i]
	if !ok {
		return "unknown(function index:" + strconv.FormatUint(uint64(i), 10) + ")"
	}
	return cxaDemangle(name)
}

// V8Message is the block Envoy logs when a callback traps (cpp-host
// src/v8/v8.cc getFailMessage): the headline, and the backtrace when the
// module names its functions (getFailMessage returns the headline alone
// when function_names_index_, the name section's function names, is
// empty: stripped Emscripten, TinyGo -no-debug and wasm-opt'd builds).
func (c *Crash) V8Message() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Function: %s failed: %s", c.Callback, c.Message)
	if len(c.Frames) > 0 && !c.Unnamed {
		b.WriteString("\nProxy-Wasm plugin in-VM backtrace:")
		for _, f := range c.Frames {
			fmt.Fprintf(&b, "\n%3d:  0x%x - %s", f.Index, uint64(f.Module), f.Name)
		}
	}
	return b.String()
}

// TracerFrames converts the frames to the tracer.Event form, symbolized
// where a resolver answered.
func (c *Crash) TracerFrames() []tracer.Frame {
	out := make([]tracer.Frame, len(c.Frames))
	for i, f := range c.Frames {
		tf := tracer.Frame{Index: f.Index, Offset: f.Module.String(), OffsetKind: "module", Function: f.Name}
		// As tracer symbolizes a crash frame: the function's own frame
		// (its readable name, the line of the call the inlined frames
		// came from), the inlined frames innermost first.
		if len(f.Resolved) > 0 {
			outer := f.Resolved[len(f.Resolved)-1]
			tf.Demangled = outer.Demangled
			if tf.Demangled == "" && outer.Function != f.Name {
				tf.Demangled = outer.Function
			}
			tf.File, tf.Line, tf.Column = outer.File, outer.Line, outer.Column
			if len(f.Resolved) > 1 {
				tf.Inlined = append([]loc.Frame(nil), f.Resolved[:len(f.Resolved)-1]...)
			}
		}
		out[i] = tf
	}
	return out
}

// SymbolizedText renders the frames with source locations, one block per
// frame, inlined frames first:
//
//	0:  0x1bf - plugin::crash::reallyAbort(int)
//	      at cpp/plugin.cc:42:18
func (c *Crash) SymbolizedText() string {
	var b strings.Builder
	for _, f := range c.Frames {
		fmt.Fprintf(&b, "%3d:  0x%x - %s\n", f.Index, uint64(f.Module), f.Name)
		for i, r := range f.Resolved {
			if r.File == "" && r.Line == 0 {
				// No line information: say only what the name means.
				if n := r.Name(); n != f.Name && n != "" {
					fmt.Fprintf(&b, "        %s\n", n)
				}
				continue
			}
			where := r.File
			if r.Line > 0 {
				where += ":" + strconv.Itoa(r.Line)
				if r.Column > 0 {
					where += ":" + strconv.Itoa(r.Column)
				}
			}
			name := r.Name()
			switch {
			case r.Inlined:
				fmt.Fprintf(&b, "        %s (inlined) at %s\n", name, where)
			case i == len(f.Resolved)-1 && name != f.Name && name != "":
				fmt.Fprintf(&b, "        %s at %s\n", name, where)
			default:
				fmt.Fprintf(&b, "        at %s\n", where)
			}
		}
	}
	return b.String()
}
