package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/symbolize"
)

func hostileCapture(mode string, streams int) *Capture {
	c := &Capture{Version: 1, Plugin: PluginConfig{Configuration: []byte(mode)},
		Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond}}
	for i := 0; i < streams; i++ {
		c.Streams = append(c.Streams, CaptureStream{Kind: "http", Request: req("GET", "/"), Response: ok200("")})
	}
	return c
}

// TestHostileModules: a module that loops, exhausts memory, recurses or
// passes bad pointers ends with a clear report, never a hang or a crash.
func TestHostileModules(t *testing.T) {
	const limit = "wasmdbg: callback exceeded the 200ms time limit (an infinite loop?)"
	tests := []struct {
		mode    string
		opts    Options
		message string   // the crash message
		frames  []string // the innermost frames, module offset and name, as V8 prints them
		rest    []string // what every further frame may be
		verdict string
	}{
		// The fuel checks stop the loop where it is: its frames show it,
		// at the original module's offsets (hostile.wasm's loop in spin,
		// the call to spin), not the instrumented copy's.
		{"l", Options{Timeout: 200 * time.Millisecond}, limit, []string{"0x29a spin", "0x3c9 on_request_headers"}, nil,
			"the plugin ran past the time limit in proxy_on_request_headers"},
		{"c", Options{Timeout: 200 * time.Millisecond}, limit, []string{"0x29a spin", "0x292 on_configure"}, nil,
			"the plugin ran past the time limit in proxy_on_configure"},
		// The allocator, called by the host inside proxy_get_header_map_value.
		{"a", Options{Timeout: 200 * time.Millisecond}, limit, []string{"0x29a spin", "0x230 malloc"}, nil,
			"the plugin ran past the time limit in malloc"},
		// 2^60 calls and no loop: the checks at function entries stop it
		// (wazero's own checks, at loop heads only, would not); the check
		// maps to the first instruction of fan, its callers to the calls.
		{"e", Options{Timeout: 200 * time.Millisecond}, limit, []string{"0x2b2 fan"}, []string{"0x2bf fan", "0x2c6 fan"},
			"the plugin ran past the time limit in proxy_on_request_headers"},
		{"g", Options{Timeout: 5 * time.Second, MaxMemoryPages: 64}, "Uncaught RuntimeError: unreachable", []string{"0x2ae grow_all", "0x3d4 on_request_headers"}, nil,
			"the plugin trapped in proxy_on_request_headers"},
		// wazero reports a stack overflow without frames.
		{"r", Options{Timeout: 5 * time.Second}, "Uncaught RangeError: Maximum call stack size exceeded", nil, nil,
			"the plugin trapped in proxy_on_request_headers"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			m := compileFile(t, "testdata/wat/hostile.wasm", tt.opts)
			if m.fuel == nil {
				t.Fatalf("compiled without fuel checks: %v", m.fuelErr)
			}
			_, _, res := run(t, m, hostileCapture(tt.mode, 2), Quiet)
			c := res.Crash
			if c == nil {
				t.Fatalf("no crash; result %s", res.verdict())
			}
			if c.Message != tt.message {
				t.Errorf("message %q, want %q", c.Message, tt.message)
			}
			if c.Timeout != (tt.message == limit) {
				t.Errorf("timeout %v", c.Timeout)
			}
			var got []string
			for _, f := range c.Frames {
				got = append(got, fmt.Sprintf("%v %s", f.Module, f.Name))
			}
			if len(got) < len(tt.frames) || !slices.Equal(got[:len(tt.frames)], tt.frames) {
				t.Errorf("frames %q, want %q first", got, tt.frames)
			} else if tt.rest == nil && len(got) != len(tt.frames) {
				t.Errorf("frames %q, want %q", got, tt.frames)
			}
			for _, f := range got[min(len(tt.frames), len(got)):] {
				if !slices.Contains(tt.rest, f) {
					t.Errorf("frame %q, want one of %q", f, tt.rest)
				}
			}
			if got := res.verdict(); got != tt.verdict {
				t.Errorf("verdict %q, want %q", got, tt.verdict)
			}
			if s := res.Streams[1]; s.LocalReply == nil || s.LocalReply.Details != "wasm_fail_stream" {
				t.Errorf("the stream after the failure: %+v, want the host's 503", s)
			}
		})
	}
}

// TestStartLoop: a start function that never returns is stopped by the
// time limit while the module is instantiated, and reported.
func TestStartLoop(t *testing.T) {
	m := compileFile(t, "testdata/wat/startloop.wasm", Options{Timeout: 100 * time.Millisecond})
	_, _, res := run(t, m, hostileCapture("", 1), Quiet)
	// 0x5e is spin's loop instruction.
	want := &Failure{Reason: "start_failed", Message: "Function: start failed: wasmdbg: callback exceeded the 100ms time limit (an infinite loop?)\n" +
		"Proxy-Wasm plugin in-VM backtrace:\n  0:  0x5e - spin", Hint: "the module's start section trapped"}
	if f := res.Failure; f == nil || *f != *want {
		t.Errorf("failure %+v, want %+v", f, want)
	}
	if c := res.Crash; c == nil || !c.Timeout || len(c.Frames) == 0 || c.Frames[0].Name != "spin" {
		t.Errorf("crash %+v, want a timeout in spin", c)
	}
}

// TestBadPointers: every host function answers a pointer outside memory
// with InvalidMemoryAccess (or a WASI fault); the module traps otherwise.
func TestBadPointers(t *testing.T) {
	m := compileFile(t, "testdata/wat/hostile.wasm", Options{Timeout: 5 * time.Second})
	text, _, res := run(t, m, hostileCapture("p", 3), Trace)
	if !res.OK() {
		t.Fatalf("%s\n%s", res.verdict(), text)
	}
	if !bytes.Contains(text, []byte(`env.proxy_log(2, 4294967280, 100)  # env.proxy_log(info, <invalid memory 0xfffffff0+100>)`)) {
		t.Errorf("the trace does not show the bad pointer decoded:\n%s", text)
	}
}

// TestManyContexts: thousands of streams leave no contexts behind.
func TestManyContexts(t *testing.T) {
	m := compileFile(t, "testdata/wat/hostile.wasm", Options{})
	c := hostileCapture("b", 3000)
	res, err := Replay(context.Background(), m, c, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Streams) != 3000 {
		t.Fatalf("%s, %d streams", res.verdict(), len(res.Streams))
	}
	if got := res.Streams[2999].ContextID; got != 3001 {
		t.Errorf("last context id %d, want 3001 (ids are never reused)", got)
	}
}

func TestRestrictedAtStart(t *testing.T) {
	m := compileFile(t, "testdata/wat/restricted.wasm", Options{Timeout: time.Second})
	text, _, res := run(t, m, hostileCapture("", 1), Trace)
	f := res.Failure
	if f == nil || f.Reason != "restricted_callback" {
		t.Fatalf("failure %+v, want restricted_callback\n%s", f, text)
	}
	want := "env.proxy_http_call was called while the VM was starting (_initialize)"
	if !strings.Contains(f.Hint, want) {
		t.Errorf("hint %q lacks %q", f.Hint, want)
	}
	// V8 logs the call, then traps, with no return line.
	if !bytes.Contains(text, []byte("[vm->host] env.proxy_http_call(0, 0, 0, 0, 0, 0, 0, 0, 1000, 512)")) ||
		bytes.Contains(text, []byte("[vm<-host] env.proxy_http_call")) {
		t.Errorf("trace:\n%s", text)
	}
	if s := res.Streams[0]; s.LocalReply == nil || s.LocalReply.Status != 503 {
		t.Errorf("stream %+v, want 503", s)
	}
}

// TestCommandExitAtStart: a TinyGo 0.35+ command build calls proc_exit(0)
// at the end of _start; Envoy traps it (restricted_callback) and the hint
// names the reactor build mode rather than "move the call".
func TestCommandExitAtStart(t *testing.T) {
	m := compileFile(t, "testdata/wat/cmdexit.wasm", Options{Timeout: time.Second})
	text, _, res := run(t, m, hostileCapture("", 1), Trace)
	f := res.Failure
	if f == nil || f.Reason != "restricted_callback" {
		t.Fatalf("failure %+v, want restricted_callback\n%s", f, text)
	}
	want := "the module is a WASI command whose _start calls wasi_snapshot_preview1.proc_exit when main returns (TinyGo 0.35 and later, Go's GOOS=wasip1 without -buildmode), which Envoy does not allow while the VM starts: build it as a reactor with -buildmode=c-shared (it then exports _initialize; TinyGo 0.36 and later also accept -buildmode=wasi-legacy)"
	if f.Hint != want {
		t.Errorf("hint\n%s\nwant\n%s", f.Hint, want)
	}
	for _, line := range []string{
		"[vm->host] wasi_snapshot_preview1.proc_exit(0)",
		"Function: _start failed: Uncaught Error: restricted_callback",
		"  0:  0x", // cpp-host's backtrace, innermost frame first
		" - runtime.run\n",
		" - _start\n",
	} {
		if !bytes.Contains(text, []byte(line)) {
			t.Errorf("trace lacks %q:\n%s", line, text)
		}
	}
	if c := res.Crash; c == nil || c.Callback != "_start" {
		t.Errorf("crash %+v, want one in _start", c)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		wasm   []byte
		reason string
		msg    string
	}{
		{"missing import", readFile(t, "testdata/wat/badimport.wasm"), "missing_import",
			"Failed to load Wasm module due to a missing import: env.proxy_frobnicate"},
		{"not wasm", []byte("(module)"), "load_failed",
			"Failed to parse corrupted Wasm module: header at offset 0x0: not a binary WebAssembly module: this looks like the text format (.wat); convert it with wat2wasm"},
		{"truncated", readFile(t, "testdata/wat/basic.wasm")[:200], "load_failed",
			"Failed to parse corrupted Wasm module: section import at offset 0x3e: section size 144 overruns the file (135 bytes left)"},
		{"no abi marker", []byte("\x00asm\x01\x00\x00\x00"), "unknown_abi_version", "Missing or unknown Proxy-Wasm ABI version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(context.Background(), tt.wasm, Options{})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want a LoadError", err)
			}
			if le.Reason != tt.reason || le.Message != tt.msg {
				t.Errorf("got %s: %s\nwant %s: %s", le.Reason, le.Message, tt.reason, tt.msg)
			}
			if le.Hint == "" {
				t.Error("no hint")
			}
		})
	}
}

// TestNoGoroutineLeak: a timed-out callback does not leave anything
// running.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	m := compileFile(t, "testdata/wat/hostile.wasm", Options{Timeout: 100 * time.Millisecond})
	run(t, m, hostileCapture("l", 1), Quiet)
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the replay, %d before", n, before)
	}
}

// TestTimeoutSymbolized: a C plugin (testdata/c/spin.c, DWARF from
// clang-16) loops forever, or makes 2^60 calls without a loop; the time
// limit stops both and the frames resolve to the source lines
// llvm-symbolizer-16 gives for the same offsets of the original module
// (llvm-symbolizer-16 --obj=spin.wasm 0x190: spin ./spin.c:23:10).
func TestTimeoutSymbolized(t *testing.T) {
	wasm := readFile(t, "testdata/c/spin.wasm")
	sym, err := symbolize.New("spin.wasm", wasm, symbolize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := compileBytes(t, wasm, Options{Timeout: 100 * time.Millisecond, Resolver: sym})
	if m.fuel == nil {
		t.Fatalf("compiled without fuel checks: %v", m.fuelErr)
	}
	tests := []struct {
		headers []Header // spin with one, fan with more
		frames  []string // the innermost frames
		rest    []string // what every further frame may be
	}{
		{[]Header{{":path", "/"}}, []string{"0x25e spin spin.c:23:10", "0x1f7 on_request_headers spin.c:36:10"}, nil},
		{[]Header{{":path", "/"}, {":method", "GET"}}, []string{"0x2ca fan spin.c:28:0"},
			[]string{"0x31d fan spin.c:31:9", "0x339 fan spin.c:31:22"}},
	}
	for _, tt := range tests {
		c := &Capture{Version: 1, Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond},
			Streams: []CaptureStream{{Kind: "http", Request: &HTTPMessage{Headers: tt.headers}, Response: ok200("")}}}
		_, _, res := run(t, m, c, Quiet)
		cr := res.Crash
		if cr == nil || !cr.Timeout {
			t.Fatalf("%d headers: crash %+v, want a timeout", len(tt.headers), cr)
		}
		var got []string
		for _, f := range cr.Frames {
			s := fmt.Sprintf("%v %s", f.Module, f.Name)
			if len(f.Resolved) > 0 {
				r := f.Resolved[0]
				s += fmt.Sprintf(" %s:%d:%d", r.File, r.Line, r.Column)
			}
			got = append(got, s)
		}
		n := min(len(tt.frames), len(got))
		if !slices.Equal(got[:n], tt.frames) || tt.rest == nil && len(got) != len(tt.frames) {
			t.Errorf("%d headers: frames %q, want %q", len(tt.headers), got, tt.frames)
		}
		for _, f := range got[n:] {
			if !slices.Contains(tt.rest, f) {
				t.Errorf("%d headers: frame %q, want one of %q", len(tt.headers), f, tt.rest)
			}
		}
	}
}
