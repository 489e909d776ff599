package replay

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// TestTracerReadsReplayOutput: package tracer parses replay's text output
// back into the events replay emitted (the contract between the two:
// Envoy's framing, the wasm:trace shapes, the "  # " annotations, the V8
// crash block).
func TestTracerReadsReplayOutput(t *testing.T) {
	cases := []struct {
		name string
		m    *Module
		c    *Capture
	}{
		{"basic", compileFile(t, "testdata/wat/basic.wasm", Options{Timeout: time.Second}), loadCapture(t, "testdata/captures/basic.json")},
	}
	if f, ok := fixtures.Get("cpp"); ok {
		cases = append(cases, struct {
			name string
			m    *Module
			c    *Capture
		}{"cpp demo", fixtureModule(t, f), DemoCapture()})
	}
	// Every crash path of the C and C++ plugins: their panic says why on
	// stderr (a plugin log at error) and aborts, a shape tracer links by
	// its place, not its text.
	for _, name := range []string{"cpp", "c", "rust"} {
		f, ok := fixtures.Get(name)
		if !ok {
			t.Fatalf("no %s fixture", name)
		}
		for _, cc := range crashCases(t, f, fixtureDirs[f.Language]) {
			m := fixtureModule(t, f)
			if strings.HasSuffix(cc.key, "x-crash=oom") {
				m = fixtureModuleLimited(t, f, 4096) // as in TestFixtureCrashPaths
			}
			cases = append(cases, struct {
				name string
				m    *Module
				c    *Capture
			}{cc.key, m, cc.capture})
		}
	}
	// Quiet leaves out the wasm:trace stream: tracer then links a crash
	// to the plugin's last words by their place in the log alone.
	verbosities := []struct {
		name string
		v    Verbosity
	}{{"trace", Trace}, {"quiet", Quiet}}
	for _, tc := range cases {
		for _, vb := range verbosities {
			t.Run(tc.name+"/"+vb.name, func(t *testing.T) {
				var text bytes.Buffer
				var want []*tracer.Event
				r := NewRenderer(&text)
				sink := func(ev *tracer.Event) {
					r.Event(ev)
					want = append(want, ev)
				}
				if _, err := Replay(context.Background(), tc.m, tc.c, RunOptions{Sink: sink, Verbosity: vb.v}); err != nil {
					t.Fatal(err)
				}
				r.Flush()
				var got []tracer.Event
				// With the module's resolver, tracer symbolizes the V8
				// frames as replay did.
				_, err := tracer.Scan(bytes.NewReader(text.Bytes()), tracer.Options{File: "replay.log", Strict: true, Resolver: tc.m.opts.Resolver}, func(e *tracer.Event) error {
					if e.Kind != tracer.KindFinding {
						got = append(got, *e)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("tracer read %d events, replay emitted %d", len(got), len(want))
				}
				for i := range want {
					if d := eventDiff(want[i], &got[i]); d != "" {
						t.Errorf("event %d (%s %s %s): %s", i+1, want[i].Kind, want[i].Direction, want[i].Function, d)
					}
				}
			})
		}
	}
}

// eventDiff compares what both sides must agree on.
func eventDiff(w, g *tracer.Event) string {
	type view struct {
		Kind                      tracer.Kind
		Time, Level, Thread       string
		Direction                 tracer.Direction
		Function                  string
		Args                      []tracer.Number
		Return                    string
		Status, Action            string
		Plugin, Message, Callback string
		PanicText                 string
		Frames                    []string
	}
	mk := func(e *tracer.Event) view {
		v := view{Kind: e.Kind, Time: e.Time, Level: e.Level, Thread: e.Thread, Direction: e.Direction, Function: e.Function,
			Args: e.Args, Status: e.Status, Action: e.Action, Plugin: e.Plugin, Message: e.Message, Callback: e.Callback,
			PanicText: e.PanicText}
		if e.Return != nil {
			v.Return = string(*e.Return)
		}
		for _, f := range e.Frames {
			fr := fmt.Sprintf("%d %s %s = %q at %s:%d:%d", f.Index, f.Offset, f.Function, f.Demangled, f.File, f.Line, f.Column)
			for _, in := range f.Inlined {
				fr += fmt.Sprintf(" [inlined %s at %s:%d:%d]", in.Name(), in.File, in.Line, in.Column)
			}
			v.Frames = append(v.Frames, fr)
		}
		return v
	}
	wv, gv := mk(w), mk(g)
	if !reflect.DeepEqual(wv, gv) {
		return fmt.Sprintf("\nreplay %+v\ntracer %+v", wv, gv)
	}
	return ""
}
