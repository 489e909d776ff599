package replay

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
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
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var text bytes.Buffer
			var want []*tracer.Event
			r := NewRenderer(&text)
			sink := func(ev *tracer.Event) {
				r.Event(ev)
				want = append(want, ev)
			}
			if _, err := Replay(context.Background(), tc.m, tc.c, RunOptions{Sink: sink, Verbosity: Trace}); err != nil {
				t.Fatal(err)
			}
			r.Flush()
			var got []tracer.Event
			_, err := tracer.Scan(bytes.NewReader(text.Bytes()), tracer.Options{File: "replay.log", Strict: true}, func(e *tracer.Event) error {
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
		Frames                    []string
	}
	mk := func(e *tracer.Event) view {
		v := view{Kind: e.Kind, Time: e.Time, Level: e.Level, Thread: e.Thread, Direction: e.Direction, Function: e.Function,
			Args: e.Args, Status: e.Status, Action: e.Action, Plugin: e.Plugin, Message: e.Message, Callback: e.Callback}
		if e.Return != nil {
			v.Return = string(*e.Return)
		}
		for _, f := range e.Frames {
			v.Frames = append(v.Frames, fmt.Sprintf("%d %s %s", f.Index, f.Offset, f.Function))
		}
		return v
	}
	wv, gv := mk(w), mk(g)
	if !reflect.DeepEqual(wv, gv) {
		return fmt.Sprintf("\nreplay %+v\ntracer %+v", wv, gv)
	}
	return ""
}
