package tui

import (
	"context"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// Source is everything the UI shows, behind one narrow interface: a trace
// file (package tracer), a replay (package replay) or a live attach session
// (package attach). The UI calls it only from commands, never from Update,
// so a method may block and do IO.
type Source interface {
	// Info describes the source for the status bar.
	Info() Info
	// Next waits for the next batch of events and returns it. It returns
	// io.EOF once the source will give nothing more (a file read to its
	// end); a live source blocks until it has events or ctx is done.
	Next(ctx context.Context) (Batch, error)
	// Frames resolves one frame of a crash into source frames, innermost
	// first (inlined frames, then the function that holds the offset). A
	// source without debug information returns nil and no error; the UI
	// then shows the frame as the runtime printed it.
	Frames(ctx context.Context, f tracer.Frame) ([]loc.Frame, error)
	// Close ends the source. For an attach session it restores every
	// logger level the session changed. It is safe to call more than once.
	Close() error
}

// Replayer is implemented by replay sources: the UI offers step, continue
// and restart when the source has it. The events each call produces arrive
// through Next.
type Replayer interface {
	// Step runs the next callback.
	Step(ctx context.Context) (ReplayState, error)
	// Continue runs callbacks until the plugin traps or the capture ends.
	Continue(ctx context.Context) (ReplayState, error)
	// Restart starts the replay again from a fresh VM; the next batch from
	// Next has Reset set.
	Restart(ctx context.Context) (ReplayState, error)
	// State says where the replay stands, without running anything.
	State(ctx context.Context) (ReplayState, error)
}

// Metered is implemented by sources that have metrics: an attach session
// (Envoy's Wasm stats and the plugin's custom metrics, sampled over time)
// and a replay (the metrics the plugin defined).
type Metered interface {
	// Metrics returns the current value of every metric.
	Metrics(ctx context.Context) ([]Metric, error)
}

// SourceKind says what a source reads.
type SourceKind string

const (
	KindFile   SourceKind = "file"   // a captured log or an NDJSON event file
	KindReplay SourceKind = "replay" // a capture replayed through the local host
	KindAttach SourceKind = "attach" // a running proxy
	KindServe  SourceKind = "serve"  // the plugin serving live traffic (wasmdbg serve)
)

// Info describes a source.
type Info struct {
	Kind SourceKind
	// Name is what the status bar calls the source: a file name, a
	// capture, a pod.
	Name string
	// Live is true when events keep arriving (attach): the lists follow
	// new events until the user scrolls up.
	Live bool
	// Notice is a standing reminder for the status bar, such as the
	// logger levels an attach session will restore on quit.
	Notice string
	// Module names the module Frames resolves with; "" when there is none
	// (the UI then says how to give one).
	Module string
}

// Batch is a slice of events in the order the source produced them.
type Batch struct {
	// Reset says the events shown so far are void (a replay restarted):
	// the UI forgets them before adding these.
	Reset  bool
	Events []tracer.Event
}

// ReplayState is a snapshot of a replay between two callbacks.
type ReplayState struct {
	Stream  int // current stream, from 1; 0 before the first
	Streams int // streams in the capture
	// Ran is the number of callbacks run so far; Next is the callback the
	// next Step runs, "" when the capture is done.
	Ran  int
	Next string
	// Last is the callback the last Step or Continue ran, and LastResult
	// what it returned (Continue, StopIteration…).
	Last       string
	LastResult string
	Done       bool
	// Trapped is set once the plugin trapped; Trap is the trap text.
	Trapped bool
	Trap    string
	// The current stream's headers, trailers and bodies as the plugin sees
	// them: after its own changes, in order, byte-exact.
	RequestHeaders   []Header
	RequestBody      []byte
	RequestTrailers  []Header
	ResponseHeaders  []Header
	ResponseBody     []byte
	ResponseTrailers []Header
	// LocalReply describes a local response the plugin sent, if any
	// ("403 denied by cpp plugin").
	LocalReply string
}

// Header is one header as the plugin sees it.
type Header struct {
	Name, Value string
}

// Metric is one metric's current value.
type Metric struct {
	Name  string  // as Envoy names it: "wasmcustom.cpp_requests_total", "wasm.envoy.wasm.runtime.v8.active"
	Kind  string  // counter, gauge, histogram
	Value float64 // for a histogram, the sample count
	// Custom is true for a metric the plugin defined (proxy_define_metric).
	Custom bool
}
