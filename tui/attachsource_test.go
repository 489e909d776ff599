package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/wasmdbg/wasmdbg/admin/admintest"
	"github.com/wasmdbg/wasmdbg/attach"
	"github.com/wasmdbg/wasmdbg/symbolize"
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

// liveEnvoy is a fake Envoy (admin API) whose log is a file the test
// appends to, attached to by a real attach session.
func liveEnvoy(t *testing.T, notes *Notes) (*admintest.Server, *attach.Session, func(string)) {
	t.Helper()
	envoy := admintest.New(admintest.Options{Loggers: []string{"wasm", "http"}, Level: "warning"})
	t.Cleanup(envoy.Close)
	envoy.WasmStats("v8", 4, 2)
	envoy.Add("wasmcustom.cpp_requests_total", 7)
	dir := t.TempDir()
	logf := filepath.Join(dir, "envoy.log")
	if err := os.WriteFile(logf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mod, err := symbolize.Open(cppModule, symbolize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := attach.Options{Endpoint: attach.Endpoint{Admin: envoy.URL}, Log: attach.LogFile(logf), Module: mod, ModuleName: "plugin.wasm",
		Store: attach.Store{Dir: dir}, Idle: 50 * time.Millisecond}
	if notes != nil {
		opts.Notify = notes.Add
	}
	s, err := attach.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	write := func(text string) {
		f, err := os.OpenFile(logf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(text)
		f.Close()
	}
	return envoy, s, write
}

func TestAttachSource(t *testing.T) {
	notes := NewNotes()
	envoy, s, write := liveEnvoy(t, notes)
	src := NewAttachSource(s, notes)
	info := src.Info()
	if info.Kind != KindAttach || !info.Live || info.Notice != "restores wasm warning→debug on quit" || info.Module != "plugin.wasm" {
		t.Errorf("info %+v", info)
	}
	if envoy.Level("wasm") != "debug" {
		t.Fatalf("wasm level %s while attached", envoy.Level("wasm"))
	}
	time.Sleep(300 * time.Millisecond) // the follower reaches the file's end
	write(liveLines)
	var evs []tracer.Event
	var crash *tracer.Event
	for deadline := time.Now().Add(10 * time.Second); crash == nil && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		b, _ := src.Next(ctx)
		cancel()
		evs = append(evs, b.Events...)
		for i := range evs {
			if evs[i].Kind == tracer.KindCrash {
				crash = &evs[i]
			}
		}
	}
	if crash == nil || len(crash.Frames) != 2 {
		t.Fatalf("no crash in %+v", evs)
	}
	if evs[0].Origin != "wasmdbg" || !strings.Contains(evs[0].Message, "wasm warning -> debug") {
		t.Errorf("the session's note is not the first line: %+v", evs[0])
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
	if err := src.Close(); err != nil || envoy.Level("wasm") != "warning" {
		t.Errorf("Close: %v, wasm %s", err, envoy.Level("wasm"))
	}
	if un := strings.Join(notes.Unshown(), "\n"); !strings.Contains(un, "restored wasm: debug -> warning") {
		t.Errorf("the restore is not in the notes left to print: %q", un)
	}
}

// TestAttachUI: the UI follows a live proxy, samples its metrics into
// sparklines, and puts the wasm level back when the user quits.
func TestAttachUI(t *testing.T) {
	envoy, s, write := liveEnvoy(t, nil)
	m := New(NewAttachSource(s, nil), Options{MetricsEvery: 20 * time.Millisecond})
	drive(t, m, m.Init())
	send(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	time.Sleep(300 * time.Millisecond)
	write(liveLines)
	waitFor(t, m, "the crash", func() bool { return len(m.st.crashes) == 1 })
	if m.view != viewLogs || m.logs.cur.pos != len(m.logs.rows)-1 {
		t.Errorf("a live source opens on the Logs view, following: view %s, cursor %d of %d", viewNames[m.view], m.logs.cur.pos, len(m.logs.rows))
	}
	if !strings.Contains(screen(m), "restores wasm warning→debug on quit") {
		t.Errorf("no restore reminder in the status bar:\n%s", screen(m))
	}
	for i := 0; i < 3; i++ {
		envoy.Add("wasmcustom.cpp_requests_total", uint64(1+i*3))
		n := m.metrics.samples
		waitFor(t, m, "a metrics sample", func() bool { return m.metrics.samples > n })
	}
	press(t, m, "4")
	line := lineWith(screen(m), "wasmcustom.cpp_requests_total")
	if !strings.Contains(line, "counter") || !strings.ContainsAny(line, "▁▂▃▄▅▆▇█") {
		t.Errorf("metrics row %q\n%s", line, screen(m))
	}
	press(t, m, "q")
	if envoy.Level("wasm") != "warning" {
		t.Errorf("quitting left wasm at %s", envoy.Level("wasm"))
	}
}
