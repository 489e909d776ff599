package tui

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// LiveOptions configure a LiveSource.
type LiveOptions struct {
	// Name is the proxy: a pod ("pod/bookinfo/productpage-v1-…") or an
	// admin address.
	Name string
	// Log is the proxy's log as it arrives (kubectl logs -f, a followed
	// file), best wrapped in tracer.Follow so that records held open are
	// flushed when the proxy goes quiet. It is read until Close.
	Log io.Reader
	// Admin, when set, is sampled for Envoy's Wasm stats and the plugins'
	// custom metrics.
	Admin *admin.Client
	// Resolver and Module symbolize crash frames, as for FileSource.
	Resolver loc.Resolver
	Module   string
	// Restore puts back what the session changed (the logger levels); Close
	// runs it, with RestoreTimeout (default 10 s), whatever made the UI end.
	Restore        func(context.Context) error
	RestoreTimeout time.Duration
	// Release frees the connection (a port-forward) after Restore.
	Release func()
	// Notice is the status bar's reminder, such as "q restores wasm:warning".
	Notice string
}

// LiveSource is a running proxy: its log decoded as it arrives, its
// metrics sampled from the admin API, and on Close the logger levels put
// back, before the connection is released.
type LiveSource struct {
	opts LiveOptions
	log  *FileSource

	closed   sync.Once
	closeErr error
}

// NewLiveSource returns a source over a live proxy.
func NewLiveSource(o LiveOptions) *LiveSource {
	fs := NewFileSource(o.Name, o.Log, FileOptions{Resolver: o.Resolver, Module: o.Module, Follow: true})
	return &LiveSource{opts: o, log: fs}
}

// Info describes the source.
func (s *LiveSource) Info() Info {
	return Info{Kind: KindAttach, Name: s.opts.Name, Live: true, Notice: s.opts.Notice, Module: s.opts.Module}
}

// Next returns the events decoded since the last call, waiting for some.
func (s *LiveSource) Next(ctx context.Context) (Batch, error) { return s.log.Next(ctx) }

// Frames resolves a crash frame.
func (s *LiveSource) Frames(ctx context.Context, f tracer.Frame) ([]loc.Frame, error) {
	return s.log.Frames(ctx, f)
}

// Close stops reading the log, restores what the session changed and
// releases the connection. The restore runs once, with its own time limit,
// even when the caller's context is gone.
func (s *LiveSource) Close() error {
	s.closed.Do(func() {
		s.log.Close()
		if s.opts.Restore != nil {
			d := s.opts.RestoreTimeout
			if d <= 0 {
				d = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), d)
			s.closeErr = s.opts.Restore(ctx)
			cancel()
		}
		if s.opts.Release != nil {
			s.opts.Release()
		}
	})
	return s.closeErr
}

// Metrics samples the admin API: Envoy's Wasm stats (VMs per runtime,
// remote loads, per-plugin reloads) and the plugins' own metrics
// (reference §6).
func (s *LiveSource) Metrics(ctx context.Context) ([]Metric, error) {
	if s.opts.Admin == nil {
		return nil, errors.New("no admin connection: metrics need --admin or a pod")
	}
	mf, err := s.opts.Admin.Prometheus(ctx)
	if err != nil {
		return nil, err
	}
	var custom []string
	if st, err := s.opts.Admin.Stats(ctx, `^wasmcustom\.`); err == nil {
		for _, x := range st {
			custom = append(custom, strings.TrimPrefix(x.Name, "wasmcustom."))
		}
	}
	return wasmMetrics(admin.ReadWasmStats(mf, custom)), nil
}

// wasmMetrics flattens the Wasm stats into one metric per number, named
// as Envoy's /stats names them.
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
