package tui

import (
	"context"
	"errors"
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/tracer"
)

func demoReplay(t *testing.T, o ReplayOptions) *ReplaySource {
	t.Helper()
	f, _ := fixtures.Get("cpp")
	wasm, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mod, err := replay.Compile(ctx, wasm, replay.Options{Timeout: replay.DefaultTimeout, Resolver: cppResolver(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	o.Module, o.Capture, o.Name = mod, replay.DemoCapture(), "demo"
	src := NewReplaySource(o)
	t.Cleanup(func() { src.Close() })
	return src
}

// drain takes every event the source has queued, without waiting for more.
func drain(t *testing.T, src Source) (evs []tracer.Event, reset bool) {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		b, err := src.Next(ctx)
		cancel()
		if err != nil {
			return evs, reset
		}
		reset = reset || b.Reset
		evs = append(evs, b.Events...)
	}
}

func TestReplaySourceStepContinueRestart(t *testing.T) {
	ctx := context.Background()
	src := demoReplay(t, ReplayOptions{})
	s, err := src.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ran != 0 || s.Next != "_initialize" || s.Streams != 4 || s.Stream != 0 {
		t.Fatalf("before the first step: %+v", s)
	}
	if evs, _ := drain(t, src); len(evs) != 0 {
		t.Fatalf("%d events before the first step", len(evs))
	}
	s, _ = src.Step(ctx)
	evs, _ := drain(t, src)
	if s.Ran != 1 || s.Last != "_initialize" || len(evs) == 0 || evs[0].Function != "_initialize" {
		t.Fatalf("after a step: %+v, first event %+v", s, evs[0])
	}
	// Step until the first stream's response headers ran: the plugin added
	// x-plugin: cpp to them.
	for s.Stream < 1 || s.Last != "proxy_on_response_headers" {
		if s, _ = src.Step(ctx); s.Done {
			t.Fatal("the replay ended before stream 1's response headers")
		}
	}
	if !slices.Contains(s.ResponseHeaders, Header{"x-plugin", "cpp"}) || !slices.Contains(s.RequestHeaders, Header{":path", "/cart"}) {
		t.Errorf("stream 1 as the plugin sees it: request %v response %v", s.RequestHeaders, s.ResponseHeaders)
	}
	ms, _ := src.Metrics(ctx)
	if len(ms) != 1 || ms[0].Name != "wasmcustom.cpp_requests_total" || ms[0].Kind != "counter" || ms[0].Value != 1 {
		t.Errorf("metrics after one request: %+v", ms)
	}
	s, _ = src.Continue(ctx)
	if !s.Trapped || s.Trap != "Uncaught RuntimeError: unreachable" || s.Stream != 4 ||
		!slices.Contains(s.RequestHeaders, Header{"x-crash", "panic"}) {
		t.Fatalf("continue to the trap: %+v", s)
	}
	first, _ := drain(t, src)
	crashes := 0
	for _, e := range first {
		if e.Kind == tracer.KindCrash {
			crashes++
		}
	}
	if crashes != 1 {
		t.Errorf("%d crash events up to the trap", crashes)
	}
	s, _ = src.Restart(ctx)
	if s.Ran != 0 || s.Trapped || s.Next != "_initialize" {
		t.Fatalf("after restart: %+v", s)
	}
	if evs, reset := drain(t, src); !reset || len(evs) != 0 {
		t.Fatalf("restart: reset %v, %d events", reset, len(evs))
	}
	// The replay is deterministic: the second run shows the same events,
	// times included (the clock is virtual).
	s, _ = src.Continue(ctx)
	again, _ := drain(t, src)
	if want := append(evs, first...); !s.Trapped || !reflect.DeepEqual(again, want) {
		t.Fatalf("second run: %+v, %d events, want the first run's %d", s, len(again), len(want))
	}
	s, _ = src.Continue(ctx)
	if !s.Done {
		t.Errorf("continue after the trap does not finish: %+v", s)
	}
	ms, _ = src.Metrics(ctx)
	if len(ms) != 1 || ms[0].Value != 4 {
		t.Errorf("final metrics: %+v", ms)
	}
}

func TestReplaySourceRunToEnd(t *testing.T) {
	src := demoReplay(t, ReplayOptions{RunToEnd: true})
	var n int
	for {
		b, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n += len(b.Events)
	}
	s, _ := src.State(context.Background())
	if !s.Done || !s.Trapped || n < 100 {
		t.Errorf("run to end: %+v after %d events", s, n)
	}
}
