package tracer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer/internal/loggen"
)

func scanAll(t *testing.T, in string, opts Options) ([]Event, *Decoder) {
	t.Helper()
	var evs []Event
	d, err := Scan(strings.NewReader(in), opts, func(e *Event) error {
		evs = append(evs, *e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, d
}

func TestStrict(t *testing.T) {
	in := "[2024-01-01 00:00:00.000][1][trace][wasm] [host->vm] proxy_on_tick(1)\n[2024-01-01 00:00:00.001][1][trace][wasm] [vm->host] env.proxy_log(2, 3\n"
	_, err := Scan(strings.NewReader(in), Options{File: "envoy.log", Strict: true}, func(*Event) error { return nil })
	var me *MalformedError
	if !errors.As(err, &me) || err.Error() != "envoy.log:2: malformed wasm:trace line: no ')' at the end of the arguments" {
		t.Fatalf("err = %v", err)
	}
	evs, d := scanAll(t, in, Options{File: "envoy.log"})
	s := d.Summary()
	if s.Malformed != 1 || s.FirstMalformed != "envoy.log:2: malformed wasm:trace line: no ')' at the end of the arguments" {
		t.Errorf("summary %+v", s)
	}
	if last := evs[len(evs)-1]; last.Kind != KindOther || last.Malformed == "" || last.Line != 2 {
		t.Errorf("malformed line event %+v", last)
	}
}

// A crash is linked to the callback it ended even when the crash record
// carries no thread (an Istio JSON line without "thread"), to the panic
// text, and the callback's last host calls are listed.
func TestCrashLinking(t *testing.T) {
	in := `[2024-01-01 00:00:00.000][7][trace][wasm] [host->vm] proxy_on_http_call_response(1, 4, 0, 0, 0)
[2024-01-01 00:00:00.001][7][trace][wasm] [vm->host] env.proxy_set_effective_context(3)
[2024-01-01 00:00:00.001][7][trace][wasm] [vm<-host] env.proxy_set_effective_context return: 0
[2024-01-01 00:00:00.002][7][trace][wasm] [vm->host] env.proxy_get_header_map_pairs(6, 100, 104)
[2024-01-01 00:00:00.002][7][trace][wasm] [host->vm] malloc(0)
[2024-01-01 00:00:00.002][7][trace][wasm] [host<-vm] malloc return: 0
[2024-01-01 00:00:00.003][7][trace][wasm] [vm<-host] env.proxy_get_header_map_pairs return: 0
[2024-01-01 00:00:00.003][7][info][wasm] wasm log: panic: runtime error: slice out of range
{"level":"error","time":"2024-01-01T00:00:00.004Z","scope":"envoy wasm","msg":"Function: proxy_on_http_call_response failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x3fe5 - runtime.runtimePanic"}
[2024-01-01 00:00:00.005][7][trace][wasm] [host->vm] proxy_on_tick(1)
[2024-01-01 00:00:00.005][7][trace][wasm] [host<-vm] proxy_on_tick return: void
`
	evs, d := scanAll(t, in, Options{Tree: true})
	var crash *Event
	for i := range evs {
		if evs[i].Kind == KindCrash {
			crash = &evs[i]
		}
	}
	if crash == nil {
		t.Fatal("no crash event")
	}
	if crash.CallLine != 1 || crash.ContextID == nil || *crash.ContextID != 1 || crash.PanicLine != 8 {
		t.Errorf("crash links: call line %d, context %v, panic line %d", crash.CallLine, crash.ContextID, crash.PanicLine)
	}
	if len(crash.LastCalls) != 2 || crash.LastCalls[1].Function != "env.proxy_get_header_map_pairs" || crash.LastCalls[1].Status != "Ok" {
		t.Errorf("last calls %+v", crash.LastCalls)
	}
	ctxs := d.Contexts()
	if len(ctxs) != 1 || len(ctxs[0].Callbacks) != 2 {
		t.Fatalf("contexts %+v", ctxs)
	}
	cb := ctxs[0].Callbacks[0]
	if !cb.Trapped || cb.EndLine != 9 || len(cb.Children) != 2 || len(cb.Children[1].Children) != 1 || cb.Children[1].Children[0].Function != "malloc" {
		t.Errorf("trapped callback %+v", cb)
	}
	if d.Summary().Unreturned != 0 {
		t.Errorf("unreturned %d", d.Summary().Unreturned)
	}
}

// nginx hosts (APISIX) print the plugin's panic text as a plain error log
// line: it is a plugin log, and the trap that follows is linked to it.
// APISIX names the callback only in the line after the trap, which ends
// the trap report (another worker's line does not).
// Older Envoys leave a space before the colon of an empty vm_id; the
// plugin ids are kept without it.
func TestPluginLogShapes(t *testing.T) {
	in := "2025/01/07 09:14:02 [emerg] 7#7: *31 panicked at src/filter.rs:88:5:\nmissing header x-tenant, client: 10.0.0.9\n" +
		"2025/01/07 09:14:02 [error] 7#7: failed to call function: wasm trap: wasm `unreachable` instruction executed\n" +
		"2025/01/07 09:14:02 [error] 8#8: *40 [lua] wasm.lua:76: phase_func(): t: failed to run wasm plugin: failed to run proxy_on_log\n" +
		"2025/01/07 09:14:02 [error] 7#7: *31 [lua] wasm.lua:76: phase_func(): tenant: failed to run wasm plugin: failed to run proxy_on_request_headers, client: 10.0.0.9\n" +
		"2025/01/07 09:14:03 [info] 7#7: panics seen: 1\n" +
		"[2021-01-05 19:40:10.616][14][critical][wasm] wasm log quota quota : panicked at 'boom', src/lib.rs:3:9\n"
	evs, _ := scanAll(t, in, Options{})
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s|%d|%s|%s|%s", e.Kind, e.Line, e.Plugin, e.Message, e.PanicText))
		if e.Kind == KindCrash && e.Callback != "proxy_on_request_headers" {
			t.Errorf("crash callback %q, want proxy_on_request_headers from APISIX's next line", e.Callback)
		}
	}
	want := []string{
		"plugin_log|1||panicked at src/filter.rs:88:5:\nmissing header x-tenant, client: 10.0.0.9|",
		"crash|3||wasm trap: wasm `unreachable` instruction executed|panicked at src/filter.rs:88:5:\nmissing header x-tenant, client: 10.0.0.9",
		"other|4||[lua] wasm.lua:76: phase_func(): t: failed to run wasm plugin: failed to run proxy_on_log|",
		"other|6||panics seen: 1|",
		"plugin_log|7|quota quota|panicked at 'boom', src/lib.rs:3:9|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type fakeResolver map[loc.Offset][]loc.Frame

func (f fakeResolver) Lookup(off loc.Offset) ([]loc.Frame, error) {
	if fr, ok := f[off]; ok {
		return fr, nil
	}
	return nil, errors.New("0x" + off.String() + ": outside the code section")
}

func TestSymbolizeFrames(t *testing.T) {
	r := fakeResolver{
		loc.ModuleOffset(0x1bf): {
			{Function: "_ZN6plugin5crash11reallyAbortEi", Demangled: "plugin::crash::reallyAbort(int)", File: "cpp/plugin.cc", Line: 42, Column: 18, Inlined: true, Source: loc.SourceDWARF},
			{Function: "_ZN6plugin5crash6middleEv", Demangled: "plugin::crash::middle()", File: "cpp/plugin.cc", Line: 50, Column: 3, Source: loc.SourceDWARF},
		},
		loc.CodeOffset(0x27):                   {{Function: "crash_inner", File: "a.c", Line: 4, Source: loc.SourceDWARF}},
		loc.FuncOffset{Func: 45, Offset: 0x47}: {{Function: "f45", File: "k.rs", Line: 9, Source: loc.SourceDWARF}},
		loc.FuncOffset{Func: 7, Offset: 0x1a}:  {{Function: "proxy_on_response_headers", File: "lib.rs", Line: 3, Source: loc.SourceDWARF}},
	}
	frames := []Frame{
		{Index: 0, Offset: "0x1bf", Function: "plugin::crash::middle()"},
		{Index: 1, Offset: "0x27", OffsetKind: OffsetCode, Function: "crash_inner"},
		{Index: 2, Offset: "0x9999", Function: "x"},
		{Index: 3, Offset: "7", OffsetKind: OffsetInstruction, Function: "y"},
		{Index: 4, Offset: "0x0047", OffsetKind: OffsetFunction, Function: "func 45"},
		{Index: 5, Offset: "0x001a", OffsetKind: OffsetFunction, Function: "proxy_on_response_headers"},
	}
	err := Symbolize(frames, namedResolver{r})
	if err == nil || !strings.Contains(err.Error(), "outside the code section") {
		t.Errorf("err = %v", err)
	}
	f := frames[0]
	if f.Demangled != "plugin::crash::middle()" || f.File != "cpp/plugin.cc" || f.Line != 50 || len(f.Inlined) != 1 || f.Inlined[0].Line != 42 {
		t.Errorf("frame 0 %+v", f)
	}
	if frames[1].File != "a.c" || frames[1].Demangled != "" || frames[2].File != "" || frames[3].File != "" {
		t.Errorf("frames %+v", frames[1:])
	}
	if frames[4].File != "k.rs" || frames[5].File != "lib.rs" {
		t.Errorf("function-relative frames %+v", frames[4:])
	}
}

// namedResolver adds FuncByName, as symbolize.Module has it.
type namedResolver struct{ fakeResolver }

func (namedResolver) FuncByName(name string) (uint32, bool) {
	return 7, name == "proxy_on_response_headers"
}

// Every testdata log gives the same records fed a byte at a time.
func TestStreamingAllLogs(t *testing.T) {
	files, _ := filepath.Glob("testdata/logs/*")
	for _, f := range files {
		in := readFile(t, f)
		want := readAll(t, bytes.NewReader(in))
		got := readAll(t, &chunkReader{data: in, n: 1})
		if len(got) != len(want) {
			t.Errorf("%s: %d records byte by byte, %d at once", f, len(got), len(want))
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: record %d differs:\n got %+v\nwant %+v", f, i, got[i], want[i])
			}
		}
	}
}

// Memory stays flat over a long input: the Reader and Stats keep nothing
// per line, and the Decoder without Tree keeps only open callbacks.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("long input")
	}
	// retained is the heap still in use after reading lines, with the
	// Reader, Stats and Decoder alive.
	retained := func(lines int) uint64 {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(loggen.Write(pw, loggen.Options{Lines: lines, Seed: 7}))
		}()
		d := NewDecoder(Options{})
		rd := NewReader(pr)
		st := NewStats()
		for {
			r, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			st.Add(r)
			if _, err := d.Decode(r); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		runtime.KeepAlive(d)
		runtime.KeepAlive(rd)
		runtime.KeepAlive(st)
		return ms.HeapAlloc
	}
	small, large := retained(50_000), retained(500_000)
	// Ten times the input may not keep more than 64 KiB more.
	if large > small+64<<10 {
		t.Errorf("heap after 50k lines %d KiB, after 500k lines %d KiB: grows with the input", small>>10, large>>10)
	}
	t.Logf("heap after 50k lines %d KiB, after 500k lines %d KiB", small>>10, large>>10)
}

func TestFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	rd := NewReader(Follow(ctx, pr, false, 30*time.Millisecond, 10*time.Millisecond))
	got := make(chan string, 4)
	go func() {
		for {
			r, err := rd.Next()
			if err != nil {
				close(got)
				return
			}
			got <- string(r.Message)
		}
	}()
	// A crash header with no backtrace yet: held open until the input goes
	// quiet, then emitted without waiting for another line.
	pw.Write([]byte("[2024-01-01 00:00:00.000][1][error][wasm] Function: proxy_on_tick failed: Exception: unreachable\n"))
	select {
	case m := <-got:
		if m != "Function: proxy_on_tick failed: Exception: unreachable" {
			t.Errorf("got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("record not emitted after the input went quiet")
	}
	pw.Close()
	if _, ok := <-got; ok {
		t.Error("more records after the pipe closed")
	}
}

func TestFollowFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "envoy.log")
	if err := os.WriteFile(path, []byte("[2024-01-01 00:00:00.000][1][info][wasm] wasm log: one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	rd := NewReader(Follow(ctx, f, true, 20*time.Millisecond, 5*time.Millisecond))
	next := func() string {
		r, err := rd.Next()
		if err != nil {
			return err.Error()
		}
		return string(r.Message)
	}
	if m := next(); m != "wasm log: one" {
		t.Fatalf("first %q", m)
	}
	w, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	w.WriteString("[2024-01-01 00:00:01.000][1][info][wasm] wasm log: two\n")
	w.Close()
	if m := next(); m != "wasm log: two" {
		t.Fatalf("appended %q", m)
	}
	// copytruncate: the file starts again.
	os.WriteFile(path, []byte("[2024-01-01 00:00:02.000][1][info][wasm] wasm log: 3\n"), 0o644)
	if m := next(); m != "wasm log: 3" {
		t.Fatalf("after truncation %q", m)
	}
	cancel()
	if m := next(); m != "EOF" {
		t.Fatalf("after cancel %q", m)
	}
}

func TestQuotedMessage(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"`Failed to load WASM module due to a missing import: env.f`", "Failed to load WASM module due to a missing import: env.f", true},
		{"`Failed to load WASM module due to a missing import: env.f`  \t", "Failed to load WASM module due to a missing import: env.f", true},
		{"``", "", false},
		{"`a`\n`b`", "", false},
		{`C++ exception with description "Function: f failed: x" thrown in the test body.`, "Function: f failed: x", true},
	}
	for _, tt := range tests {
		got, ok := quotedMessage([]byte(tt.in))
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("quotedMessage(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
