package tui

import (
	"context"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/attach"
	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// AttachSource shows a live attach session (package attach): the proxies'
// logs decoded and symbolized as they arrive, their Wasm stats and the
// plugins' own metrics, and what the session tells a person (levels raised,
// pods joining and leaving) as lines of the Logs view. Close restores every
// logger level the session raised, before the program exits.
type AttachSource struct {
	s     *attach.Session
	notes *Notes
}

// NewAttachSource returns a source over s. notes, when set, is the
// session's Notify (see Notes).
func NewAttachSource(s *attach.Session, notes *Notes) *AttachSource {
	return &AttachSource{s: s, notes: notes}
}

// Info describes the session: the proxy, and the levels Close restores.
func (a *AttachSource) Info() Info {
	in := a.s.Info()
	return Info{Kind: KindAttach, Name: in.Name, Live: true, Notice: in.Notice, Module: in.Module}
}

// Next returns the events (and notes) since the last call, waiting for
// some.
func (a *AttachSource) Next(ctx context.Context) (Batch, error) {
	if a.notes == nil {
		evs, err := a.s.Next(ctx)
		return Batch{Events: evs}, err
	}
	// The session's Next and the notes both wait: one goroutine waits on
	// the session, the caller on either.
	type result struct {
		evs []tracer.Event
		err error
	}
	ch := make(chan result, 1)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		evs, err := a.s.Next(sctx)
		ch <- result{evs, err}
	}()
	select {
	case r := <-ch:
		return Batch{Events: append(a.notes.take(), r.evs...)}, r.err
	case <-a.notes.wait():
		cancel()
		r := <-ch
		if r.err != nil && ctx.Err() == nil && (r.err == context.Canceled || r.err == context.DeadlineExceeded) {
			r.err = nil
		}
		return Batch{Events: append(a.notes.take(), r.evs...)}, r.err
	case <-ctx.Done():
		return Batch{}, ctx.Err()
	}
}

// Frames resolves a crash frame with the session's module.
func (a *AttachSource) Frames(ctx context.Context, f tracer.Frame) ([]loc.Frame, error) {
	return a.s.Frames(ctx, f)
}

// Close stops following and restores the levels.
func (a *AttachSource) Close() error { return a.s.Close() }

// Metrics samples the first proxy's admin API.
func (a *AttachSource) Metrics(ctx context.Context) ([]Metric, error) {
	r, err := a.s.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	return wasmMetrics(r.Stats), nil
}

// Notes collects what an attach session tells a person while the UI owns
// the terminal (attach.Options.Notify = notes.Add): the UI shows each as
// a line of the Logs view, and Unshown gives what came after it stopped
// (the restore outcomes), to print once the terminal is back.
type Notes struct {
	mu    sync.Mutex
	queue []string
	all   []string
	shown int
	wake  chan struct{}
}

// NewNotes returns an empty collector.
func NewNotes() *Notes { return &Notes{wake: make(chan struct{}, 1)} }

// Add records a message; it is safe for concurrent use.
func (n *Notes) Add(msg string) {
	n.mu.Lock()
	n.queue = append(n.queue, msg)
	n.all = append(n.all, msg)
	n.mu.Unlock()
	signal(n.wake)
}

// Unshown returns the messages the UI did not take.
func (n *Notes) Unshown() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.all[n.shown:]...)
}

func (n *Notes) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.queue) > 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return n.wake
}

// take turns the queued messages into events of kind other.
func (n *Notes) take() []tracer.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []tracer.Event
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, m := range n.queue {
		out = append(out, tracer.Event{Kind: tracer.KindOther, Level: "info", Time: now, Origin: "wasmdbg", Message: "wasmdbg: " + m})
	}
	n.shown += len(n.queue)
	n.queue = nil
	return out
}

// wasmMetrics flattens the Wasm stats into one metric per number, named
// as Envoy's /stats names them (reference §6).
func wasmMetrics(st admin.WasmStats) []Metric {
	var out []Metric
	for _, rt := range st.Runtimes {
		out = append(out,
			Metric{Name: "wasm." + rt.Runtime + ".active", Kind: "gauge", Value: rt.Active},
			Metric{Name: "wasm." + rt.Runtime + ".created", Kind: "counter", Value: rt.Created})
	}
	if st.VMCount != nil {
		out = append(out, Metric{Name: "wasm.wasm_vm_count", Kind: "gauge", Value: *st.VMCount})
	}
	rl := st.RemoteLoad
	for _, x := range []struct {
		name string
		v    float64
	}{{"cache_entries", rl.CacheEntries}, {"cache_hits", rl.CacheHits}, {"cache_misses", rl.CacheMisses},
		{"cache_negative_hits", rl.CacheNegativeHits}, {"fetch_successes", rl.FetchSuccesses}, {"fetch_failures", rl.FetchFailures}} {
		kind := "counter"
		if x.name == "cache_entries" {
			kind = "gauge"
		}
		out = append(out, Metric{Name: "wasm.remote_load_" + x.name, Kind: kind, Value: x.v})
	}
	for _, p := range st.Plugins {
		keys := make([]string, 0, len(p.Values))
		for k := range p.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			kind := "counter"
			if k == "vm_memory_size" {
				kind = "gauge"
			}
			out = append(out, Metric{Name: "wasm." + p.Plugin + "." + k, Kind: kind, Value: p.Values[k]})
		}
	}
	for _, m := range st.Custom {
		for _, smp := range m.Samples {
			out = append(out, Metric{Name: "wasmcustom." + m.Name + smp.LabelString(), Kind: m.Type, Value: smp.Value, Custom: true})
		}
	}
	return out
}

var _ io.Closer = (*AttachSource)(nil)
