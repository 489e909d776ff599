package replay

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wasmdbg/wasmdbg/tracer"
)

// Source locations Envoy prints in the [%g:%#] field for each kind of
// record. The line numbers are build specific (reference §1.4, §11); these
// are the ones seen in Envoy 1.2x logs, and no parser relies on them.
const (
	locTrace   = "source/extensions/common/wasm/wasm_vm.cc:39"
	locError   = "source/extensions/common/wasm/wasm_vm.cc:38"
	locLog     = "source/extensions/common/wasm/context.cc:1168"
	locFailure = "source/extensions/common/wasm/wasm.cc:110"
	locContext = "source/extensions/common/wasm/context.cc:1171"
)

// DecodedMarker separates a wasm:trace line from the decoded form replay
// appends to it: "[vm<-host] env.proxy_get_header_map_value return: 1  # NotFound".
const DecodedMarker = "  # "

// Renderer writes events as Envoy writes its log: the default format
// "[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v" (reference §2.1), with the
// wasm:trace line shapes of §1.2 and the plugin log lines of §2.3, so that
// package tracer reads replay output like a proxy's.
type Renderer struct {
	w *bufio.Writer
}

// NewRenderer returns a Renderer writing to w. Call Flush when done.
func NewRenderer(w io.Writer) *Renderer { return &Renderer{w: bufio.NewWriter(w)} }

// Flush writes any buffered output.
func (r *Renderer) Flush() error { return r.w.Flush() }

// Event writes one event.
func (r *Renderer) Event(ev *tracer.Event) {
	var loc, msg string
	switch ev.Kind {
	case tracer.KindCall:
		loc, msg = locTrace, CallLine(ev)
	case tracer.KindPluginLog:
		loc = locLog
		prefix := ""
		if ev.Plugin != "" {
			prefix = " " + ev.Plugin
		}
		msg = "wasm log" + prefix + ": " + ev.Message
	case tracer.KindCrash:
		loc, msg = locError, CrashText(ev)
	case tracer.KindVMFailure:
		loc, msg = locFailure, FailureText(ev)
		if strings.HasPrefix(ev.Message, "Failed to load Wasm module due to") || strings.HasPrefix(ev.Message, "Bad function signature") {
			loc = locError
		}
	default:
		loc, msg = locContext, ev.Message
	}
	r.w.WriteString(envoyPrefix(ev.Time, ev.Thread, ev.Level, loc))
	r.w.WriteString(msg)
	r.w.WriteByte('\n')
}

// envoyPrefix renders "[2024-01-01 00:00:00.001][1][trace][wasm] [file:line] ".
func envoyPrefix(ts, thread, level, loc string) string {
	t, err := time.Parse(time.RFC3339Nano, ts)
	stamp := ts
	if err == nil {
		stamp = t.UTC().Format("2006-01-02 15:04:05.000")
	}
	if thread == "" {
		thread = eventThread
	}
	return "[" + stamp + "][" + thread + "][" + level + "][wasm] [" + loc + "] "
}

// CallLine renders a call event as its wasm:trace line plus, after
// DecodedMarker, what the numbers mean.
func CallLine(ev *tracer.Event) string {
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(string(ev.Direction))
	b.WriteString("] ")
	b.WriteString(ev.Function)
	switch ev.Direction {
	case tracer.HostToVM, tracer.VMToHost:
		b.WriteByte('(')
		for i, a := range ev.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(string(a))
		}
		b.WriteByte(')')
		if d := decodedCall(ev); d != "" {
			b.WriteString(DecodedMarker)
			b.WriteString(d)
		}
	default:
		b.WriteString(" return: ")
		if ev.Return != nil {
			b.WriteString(string(*ev.Return))
		}
		meaning := ev.Status
		if meaning == "" {
			meaning = ev.Action
		}
		if meaning != "" {
			b.WriteString(DecodedMarker)
			b.WriteString(meaning)
		}
	}
	return b.String()
}

// decodedCall renders "env.proxy_get_header_map_value(HttpRequestHeaders,
// \"allow\")": the function with its meaningful arguments (sizes and out
// pointers left out). For callbacks it is only written when some argument
// means more than its number.
func decodedCall(ev *tracer.Event) string {
	if len(ev.Decoded) == 0 {
		return ""
	}
	if ev.Direction == tracer.HostToVM {
		same := true
		for i, d := range ev.Decoded {
			if i >= len(ev.Args) || string(ev.Args[i]) != d.Value {
				same = false
			}
		}
		if same {
			return ""
		}
	}
	vals := make([]string, len(ev.Decoded))
	for i, d := range ev.Decoded {
		vals[i] = d.Value
	}
	return ev.Function + "(" + strings.Join(vals, ", ") + ")"
}

// CrashText is the V8-shaped block for a crash event (cpp-host
// src/v8/v8.cc getFailMessage). V8 prints no backtrace for a module that
// names no function; the event keeps its frames, and every one of them is
// then "unknown(function index:N)", which is what this looks at.
func CrashText(ev *tracer.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Function: %s failed: %s", ev.Callback, ev.Message)
	if len(ev.Frames) > 0 && !allUnnamed(ev.Frames) {
		b.WriteString("\nProxy-Wasm plugin in-VM backtrace:")
		for _, f := range ev.Frames {
			fmt.Fprintf(&b, "\n%3d:  %s - %s", f.Index, f.Offset, f.Function)
		}
	}
	return b.String()
}

// allUnnamed reports whether no frame has a name (V8's "unknown(function
// index:N)" for each).
func allUnnamed(frames []tracer.Frame) bool {
	for _, f := range frames {
		if !strings.HasPrefix(f.Function, "unknown(function index:") {
			return false
		}
	}
	return true
}

// FailureText is what Envoy logs for a VM that cannot run.
func FailureText(ev *tracer.Event) string {
	if strings.HasPrefix(ev.Message, "Failed to load Wasm module due to") || strings.HasPrefix(ev.Message, "Bad function signature") {
		return ev.Message
	}
	return "Wasm VM failed " + ev.Message
}
