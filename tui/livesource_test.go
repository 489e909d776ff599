package tui

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/admin/admintest"
	"github.com/wasmdbg/wasmdbg/tracer"
)

const liveLines = `[2024-05-02 10:00:01.102][23][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_request_headers(2, 4, 1)
[2024-05-02 10:00:01.104][23][error][wasm] [source/extensions/common/wasm/context.cc:1157] wasm log cpp-filter cpp-root vm-1: cpp plugin panicked: crashing on purpose (x-crash: panic)
[2024-05-02 10:00:01.105][23][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable
Proxy-Wasm plugin in-VM backtrace:
  0:  0x5fc7 - abort
  1:  0x1515 - plugin::crash::panic(proxy::View)
[2024-05-02 10:00:01.106][23][debug][http] [source/common/http/filter_manager.cc:1033] [C4][S2] Sending local reply with details wasm_fail_stream
`

// liveProxy is a fake Envoy (admin API) and the write end of its log.
func liveProxy(t *testing.T) (*admintest.Server, *admin.Client, *io.PipeWriter, io.Reader) {
	t.Helper()
	s := admintest.New(admintest.Options{Loggers: []string{"wasm"}, Level: "warning"})
	t.Cleanup(s.Close)
	s.WasmStats("v8", 4, 2)
	s.Add("wasmcustom.cpp_requests_total", 7)
	c, err := admin.New(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	return s, c, pw, tracer.Follow(context.Background(), pr, false, 50*time.Millisecond, 10*time.Millisecond)
}

func TestLiveSource(t *testing.T) {
	s, c, pw, log := liveProxy(t)
	var restored, released int
	var order []string
	src := NewLiveSource(LiveOptions{Name: "pod/default/gateway", Log: log, Admin: c, Resolver: cppResolver(t), Module: "plugin.wasm",
		Restore: func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("restore runs without a time limit")
			}
			restored++
			order = append(order, "restore")
			return errors.New("wasm: connection refused")
		},
		Release: func() { released++; order = append(order, "release") },
		Notice:  "q restores wasm:warning"})
	if info := src.Info(); info.Kind != KindAttach || !info.Live || info.Notice != "q restores wasm:warning" {
		t.Errorf("info %+v", info)
	}
	go io.WriteString(pw, liveLines)
	var evs []tracer.Event
	for len(evs) < 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := src.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d events: %v", len(evs), err)
		}
		evs = append(evs, b.Events...)
	}
	var crash *tracer.Event
	for i := range evs {
		if evs[i].Kind == tracer.KindCrash {
			crash = &evs[i]
		}
	}
	if crash == nil || len(crash.Frames) != 2 {
		t.Fatalf("no crash with 2 frames in %+v", evs)
	}
	fs, err := src.Frames(context.Background(), crash.Frames[1])
	if err != nil || len(fs) == 0 || fs[len(fs)-1].File != "plugin.cc" || fs[len(fs)-1].Line != 52 {
		t.Errorf("frame 1 resolves to %+v, %v", fs, err)
	}
	ms, err := src.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Metric{}
	for _, m := range ms {
		got[m.Name] = m
	}
	for name, want := range map[string]Metric{
		"wasm.envoy.wasm.runtime.v8.active":  {Name: "wasm.envoy.wasm.runtime.v8.active", Kind: "gauge", Value: 2},
		"wasm.envoy.wasm.runtime.v8.created": {Name: "wasm.envoy.wasm.runtime.v8.created", Kind: "counter", Value: 4},
		"wasmcustom.cpp_requests_total":      {Name: "wasmcustom.cpp_requests_total", Kind: "counter", Value: 7, Custom: true},
	} {
		if got[name] != want {
			t.Errorf("%s: %+v, want %+v", name, got[name], want)
		}
	}
	_ = s
	if err := src.Close(); err == nil || err.Error() != "wasm: connection refused" {
		t.Errorf("Close: %v", err)
	}
	src.Close()
	if restored != 1 || released != 1 || strings.Join(order, ",") != "restore,release" {
		t.Errorf("restore %d, release %d, order %v", restored, released, order)
	}
}

// TestLiveUI: the UI follows a live proxy, samples its metrics into
// sparklines, and restores the levels when the user quits.
func TestLiveUI(t *testing.T) {
	s, c, pw, log := liveProxy(t)
	restored := false
	src := NewLiveSource(LiveOptions{Name: "pod/default/gateway", Log: log, Admin: c,
		Restore: func(context.Context) error { restored = true; return nil }})
	m := New(src, Options{MetricsEvery: 20 * time.Millisecond})
	drive(t, m, m.Init())
	send(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	go io.WriteString(pw, liveLines)
	waitFor(t, m, "the crash", func() bool { return len(m.st.crashes) == 1 })
	if m.view != viewLogs || m.logs.cur.pos != len(m.logs.rows)-1 {
		t.Errorf("a live source opens on the Logs view, following: view %s, cursor %d of %d", viewNames[m.view], m.logs.cur.pos, len(m.logs.rows))
	}
	for i := 0; i < 3; i++ {
		s.Add("wasmcustom.cpp_requests_total", uint64(1+i*3))
		n := m.metrics.samples
		waitFor(t, m, "a metrics sample", func() bool { return m.metrics.samples > n })
	}
	press(t, m, "4")
	scr := screen(m)
	line := lineWith(scr, "wasmcustom.cpp_requests_total")
	if !strings.Contains(line, "counter") || !strings.ContainsAny(line, "▁▂▃▄▅▆▇█") {
		t.Errorf("metrics row %q\n%s", line, scr)
	}
	press(t, m, "q")
	if !restored {
		t.Error("quitting did not restore the levels")
	}
}
