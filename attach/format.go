package attach

import (
	"fmt"
	"io"
	"strings"

	"github.com/wasmdbg/wasmdbg/tracer"
)

// WriteEvent writes one event as attach prints it live: one line per call
// and plugin log ("09:00:01.000 info  my-plugin: configured"), and the
// crash, VM failure or finding block of wasmdbg trace with its symbolized
// frames. Lines that are not about Wasm (kind other) are written only with
// all set. With several proxies, each line starts with the event's origin.
func WriteEvent(w io.Writer, e *tracer.Event, all bool) error {
	switch e.Kind {
	case tracer.KindCrash, tracer.KindVMFailure, tracer.KindFinding:
		if e.Origin != "" {
			if _, err := fmt.Fprintf(w, "%s[%s]\n", clock(e.Time), e.Origin); err != nil {
				return err
			}
		}
		return tracer.WriteEventText(w, e)
	case tracer.KindOther:
		if !all {
			return nil
		}
	}
	var b strings.Builder
	b.WriteString(clock(e.Time))
	if e.Origin != "" {
		b.WriteString("[" + e.Origin + "] ")
	}
	lvl := e.Level
	if lvl == "" {
		lvl = "-"
	}
	fmt.Fprintf(&b, "%-8s ", lvl)
	switch e.Kind {
	case tracer.KindPluginLog:
		if e.Plugin != "" {
			b.WriteString(e.Plugin + ": ")
		}
		b.WriteString(e.Message)
	case tracer.KindCall:
		b.WriteString(callText(e))
	default:
		b.WriteString(e.Message)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// clock is the time of day of an event's time, with a trailing space, or
// nothing when the source had none.
func clock(t string) string {
	if t == "" {
		return ""
	}
	if i := strings.IndexAny(t, "T "); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimSuffix(t, "Z") + " "
}

// callText renders a wasm:trace call with what the numbers mean.
func callText(e *tracer.Event) string {
	var b strings.Builder
	switch e.Direction {
	case tracer.HostToVM, tracer.VMToHost:
		b.WriteString(string(e.Direction) + " " + e.Function + "(")
		if len(e.Decoded) > 0 {
			for i, a := range e.Decoded {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(a.Name + "=" + a.Value)
			}
		} else {
			for i, a := range e.Args {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(string(a))
			}
		}
		b.WriteString(")")
	default:
		b.WriteString(string(e.Direction) + " " + e.Function + " -> ")
		if e.Return != nil {
			b.WriteString(string(*e.Return))
		}
		for _, m := range []string{e.Status, e.Action} {
			if m != "" {
				b.WriteString(" " + m)
			}
		}
	}
	return b.String()
}
