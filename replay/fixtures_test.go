package replay

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/symbolize"
)

// The real plugins of package fixtures run through the host: each one's
// clean path (plain request, deny, http_call answered 200 and 503, ticks)
// and each of its crash paths, against golden traces and summaries, with
// every crash frame checked against the frames V8 recorded for the same
// crash (fixtures/*/v8-crashes.txt): same module offsets, same functions.

// langWord is the language name a fixture uses in its strings.
func langWord(f fixtures.Fixture) string {
	return f.Language
}

// hasHTTPCall says whether the fixture makes the contract's http_call.
func hasHTTPCall(f fixtures.Fixture) bool {
	switch f.Language {
	case "cpp", "rust", "assemblyscript":
		return true
	}
	return false
}

func req(method, path string, extra ...string) *HTTPMessage {
	m := &HTTPMessage{Headers: []Header{{":method", method}, {":path", path}, {":authority", "example.com"}, {":scheme", "http"}, {"user-agent", "curl/8.5.0"}}}
	for i := 0; i+1 < len(extra); i += 2 {
		m.Headers = append(m.Headers, Header{extra[i], extra[i+1]})
	}
	return m
}

func ok200(body string) *HTTPMessage {
	m := &HTTPMessage{Headers: []Header{{":status", "200"}, {"content-type", "text/plain"}}}
	if body != "" {
		m.Body = []Chunk{{Data: []byte(body)}}
	}
	return m
}

func boolp(b bool) *bool { return &b }

// fixtureCapture is a capture for a fixture with the given configuration
// and streams.
func fixtureCapture(config string, streams ...CaptureStream) *Capture {
	return &Capture{
		Version: 1,
		Plugin:  PluginConfig{Name: "fixture", RootID: "wasmdbg", VMID: "vm", Configuration: []byte(config)},
		Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond, RandomSeed: 1, LogLevel: abi.LogTrace,
			Clusters: []string{"auth"}},
		Streams: streams,
	}
}

// cleanCapture exercises the fixture's contract without crashing.
func cleanCapture(f fixtures.Fixture) *Capture {
	lang := langWord(f)
	streams := []CaptureStream{
		{ID: "plain", Request: req("GET", "/hello"), Response: ok200("hi"),
			Expect: &Expectation{Status: 200, ResponseHeaders: []Header{{"x-plugin", lang}}}},
		{ID: "deny", Request: req("GET", "/admin", "x-deny", "yes"), Response: ok200(""),
			Expect: &Expectation{Status: 403, LocalReply: boolp(true), Body: strp("denied by " + lang + " plugin")}},
	}
	if hasHTTPCall(f) {
		streams = append(streams,
			CaptureStream{ID: "call-allowed", Request: req("GET", "/api", "x-call", "42"), Response: ok200("api"),
				HTTPCalls: []CallAnswer{{Cluster: "auth", Response: &HTTPMessage{Headers: []Header{{":status", "200"}}}}},
				Expect:    &Expectation{Status: 200, UpstreamRequestHeaders: []Header{{"x-auth", "ok"}}}},
			CaptureStream{ID: "call-refused", Request: req("GET", "/api", "x-call", "43"), Response: ok200("api"),
				HTTPCalls: []CallAnswer{{Cluster: "auth", Response: &HTTPMessage{Headers: []Header{{":status", "503"}}, Body: []Chunk{{Data: []byte("down")}}}}},
				Expect:    &Expectation{Status: 403, LocalReply: boolp(true)}},
		)
	}
	c := fixtureCapture("deny=x-deny;tick=20", streams...)
	c.Host.Duration = 50 * time.Millisecond
	return c
}

func strp(s string) *string { return &s }

// crashCase is one recorded V8 crash of a fixture.
type crashCase struct {
	key     string // as in v8-crashes.txt: "cpp x-crash=panic"
	capture *Capture
	frames  []v8Frame
	message string // V8's trap text after "failed: "
}

type v8Frame struct {
	fn  uint32
	off uint64
}

var v8FrameRe = regexp.MustCompile(`wasm-function\[(\d+)\]:0x([0-9a-f]+)\)?$`)

// v8Cases reads fixtures/<dir>/v8-crashes.txt.
func v8Cases(t *testing.T, dir string) map[string]crashCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", dir, "v8-crashes.txt"))
	if err != nil {
		t.Fatalf("recorded V8 crashes: %v", err)
	}
	cases := map[string]crashCase{}
	var cur *crashCase
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "== "):
			if cur != nil {
				cases[cur.key] = *cur
			}
			cur = &crashCase{key: strings.TrimPrefix(line, "== ")}
		case cur == nil:
		case strings.HasPrefix(line, "trap: "):
			_, msg, _ := strings.Cut(line, " failed: ")
			cur.message = msg
		case strings.HasPrefix(line, "    at "):
			m := v8FrameRe.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("v8-crashes.txt: bad frame %q", line)
			}
			fn, _ := strconv.ParseUint(m[1], 10, 32)
			off, _ := strconv.ParseUint(m[2], 16, 64)
			cur.frames = append(cur.frames, v8Frame{uint32(fn), off})
		}
	}
	if cur != nil {
		cases[cur.key] = *cur
	}
	return cases
}

// crashCases builds a capture for every recorded crash of fixture f. The
// AssemblyScript ones recorded with "--proc-exit return" are the ones that
// match cpp-host (proc_exit returns).
func crashCases(t *testing.T, f fixtures.Fixture, dir string) []crashCase {
	recorded := v8Cases(t, dir)
	var out []crashCase
	plain := CaptureStream{ID: "plain", Request: req("GET", "/"), Response: ok200("")}
	for _, mode := range f.CrashHeaders {
		key := f.Name + " x-crash=" + mode
		if rc, ok := recorded[f.Name+" --proc-exit return x-crash="+mode]; ok {
			rc.key = key
			recorded[key] = rc
		}
		rc, ok := recorded[key]
		if !ok {
			// Not recorded (rust-command-export): the trap is still
			// checked, and the golden file holds its frames.
			rc = crashCase{key: key}
		}
		rc.capture = fixtureCapture("deny=x-deny", plain, CaptureStream{ID: "crash-" + mode,
			Request: req("GET", "/crash", "x-crash", mode), Response: ok200(""),
			Expect: &Expectation{Trapped: boolp(true), Callback: "proxy_on_request_headers"}})
		out = append(out, rc)
	}
	if rc, ok := recorded[f.Name+" --config crash=configure"]; ok {
		rc.capture = fixtureCapture("crash=configure", plain)
		out = append(out, rc)
	}
	if rc, ok := recorded[f.Name+" --config crash=tick --ticks 1"]; ok {
		rc.capture = fixtureCapture("crash=tick;tick=10", plain)
		rc.capture.Host.Duration = 30 * time.Millisecond
		out = append(out, rc)
	}
	return out
}

// fixtureRunOptions: rust-command-export's exports re-run
// __wasm_call_ctors (and so WASI environ_sizes_get) on every call, the
// allocator included; cpp-host's allocator allow-list makes that a
// restricted_callback trap in Envoy (TestRustCommandExportIsRestricted).
// Its other paths are replayed past it, as the V8 recordings were.
func fixtureRunOptions(f fixtures.Fixture) RunOptions {
	return RunOptions{NoRestrictions: f.Name == "rust-command-export"}
}

var fixtureDirs = map[string]string{"cpp": "cpp", "c": "cpp", "assemblyscript": "assemblyscript", "rust": "rust", "go": "go"}

// fixtureModule compiles a fixture once per test binary, with its
// symbolizer as the resolver.
var fixtureModules sync.Map

func fixtureModule(t *testing.T, f fixtures.Fixture) *Module {
	t.Helper()
	if m, ok := fixtureModules.Load(f.Name); ok {
		return m.(*Module)
	}
	wasm, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	sym, err := symbolize.New(f.Name+".wasm", wasm, fixtureSymbolizeOptions(t, f))
	if err != nil {
		t.Fatalf("symbolize %s: %v", f.Name, err)
	}
	m, err := Compile(context.Background(), wasm, Options{Timeout: 10 * time.Second, Resolver: sym, CacheDir: testCacheDir})
	if err != nil {
		t.Fatalf("compile %s: %v", f.Name, err)
	}
	fixtureModules.Store(f.Name, m)
	return m
}

// fixtureModuleLimited compiles a fixture with a memory limit (pages).
func fixtureModuleLimited(t *testing.T, f fixtures.Fixture, pages uint32) *Module {
	t.Helper()
	key := fmt.Sprintf("%s/%d", f.Name, pages)
	if m, ok := fixtureModules.Load(key); ok {
		return m.(*Module)
	}
	full := fixtureModule(t, f)
	m, err := Compile(context.Background(), full.Bytes(), Options{Timeout: 10 * time.Second, Resolver: full.opts.Resolver, MaxMemoryPages: pages, CacheDir: testCacheDir})
	if err != nil {
		t.Fatalf("compile %s: %v", f.Name, err)
	}
	fixtureModules.Store(key, m)
	return m
}

func fixtureSymbolizeOptions(t *testing.T, f fixtures.Fixture) symbolize.Options {
	var o symbolize.Options
	if f.DebugFile != "" {
		dbg, ok := fixtures.Get(f.DebugFile)
		if !ok {
			t.Fatalf("%s: debug file fixture %s missing", f.Name, f.DebugFile)
		}
		b, err := dbg.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		o.DebugFile, o.DebugBytes = dbg.Name+".wasm", b
	}
	if f.SourceMap != "" {
		sm, err := f.SourceMapBytes()
		if err != nil {
			t.Fatal(err)
		}
		o.SourceMapBytes = sm
	}
	return o
}

func TestFixtureCleanPaths(t *testing.T) {
	for _, f := range fixtures.All() {
		f := f
		t.Run(f.Name, func(t *testing.T) {
			m := fixtureModule(t, f)
			c := cleanCapture(f)
			ro := fixtureRunOptions(f)
			ro.Verbosity = Callbacks
			text, _, res := runWith(t, m, c, ro)
			var sum bytes.Buffer
			res.WriteSummary(&sum)
			golden(t, "fixture-"+f.Name+".clean.txt", append(text, sum.Bytes()...))
			if !res.OK() {
				t.Errorf("%s: the clean path did not run clean:\n%s", f.Name, sum.String())
			}
			if res.Ticks == 0 {
				t.Errorf("%s: no tick fired with tick=20 over 50 ms", f.Name)
			}
			if len(res.Metrics) == 0 || res.Metrics[0].Name != langWord(f)+"_requests_total" || res.Metrics[0].Value != uint64(len(c.Streams)) {
				t.Errorf("%s: metrics %+v, want %s_requests_total = %d", f.Name, res.Metrics, langWord(f), len(c.Streams))
			}
		})
	}
}

func TestFixtureCrashPaths(t *testing.T) {
	for _, f := range fixtures.All() {
		f := f
		dir := fixtureDirs[f.Language]
		t.Run(f.Name, func(t *testing.T) {
			m := fixtureModule(t, f)
			var all bytes.Buffer
			for _, cc := range crashCases(t, f, dir) {
				ro := fixtureRunOptions(f)
				ro.Verbosity = Quiet
				m := m
				if strings.HasSuffix(cc.key, "x-crash=oom") {
					// Allocating up to Envoy's 1 GiB takes long with the
					// time limit's loop checks; a smaller limit fails the
					// same way sooner.
					m = fixtureModuleLimited(t, f, 4096)
				}
				_, _, res := runWith(t, m, cc.capture, ro)
				fmt.Fprintf(&all, "== %s\n", cc.key)
				res.WriteSummary(&all)
				if !res.Trapped {
					t.Errorf("%s: did not trap", cc.key)
					continue
				}
				checkFrames(t, cc, res.Crash)
				if res.Failed > 0 {
					t.Errorf("%s: %d expectations failed", cc.key, res.Failed)
				}
			}
			golden(t, "fixture-"+f.Name+".crashes.txt", all.Bytes())
		})
	}
}

// checkFrames compares the replay's frames with V8's.
func checkFrames(t *testing.T, cc crashCase, c *Crash) {
	t.Helper()
	wantMsg := "Uncaught " + cc.message
	if strings.HasPrefix(cc.message, "RuntimeError: ") && c.Message != wantMsg {
		t.Errorf("%s: message %q, V8 said %q", cc.key, c.Message, wantMsg)
	}
	if len(c.Frames) < len(cc.frames) {
		t.Errorf("%s: %d frames, V8 had %d", cc.key, len(c.Frames), len(cc.frames))
	}
	for i, want := range cc.frames {
		if i >= len(c.Frames) {
			break
		}
		got := c.Frames[i]
		if uint64(got.Module) != want.off || got.FuncIdx != want.fn {
			t.Errorf("%s: frame %d is 0x%x in function %d, V8 had 0x%x in function %d", cc.key, i, uint64(got.Module), got.FuncIdx, want.off, want.fn)
		}
	}
}

// TestRustCommandExportIsRestricted replays rust-command-export as Envoy's
// cpp-host would: its allocator export calls environ_sizes_get (through
// __wasm_call_ctors), which the allocator allow-list refuses.
func TestRustCommandExportIsRestricted(t *testing.T) {
	f, ok := fixtures.Get("rust-command-export")
	if !ok {
		t.Fatal("no rust-command-export fixture")
	}
	m := fixtureModule(t, f)
	_, _, res := run(t, m, cleanCapture(f), Quiet)
	c := res.Crash
	if c == nil || c.Callback != "proxy_on_memory_allocate" || c.Message != "Uncaught Error: restricted_callback" {
		t.Fatalf("crash %+v, want restricted_callback in proxy_on_memory_allocate", c)
	}
	var names []string
	for _, fr := range c.Frames {
		names = append(names, fr.RawName)
	}
	want := "__wasi_environ_sizes_get __wasilibc_initialize_environ __wasilibc_initialize_environ_eagerly __wasm_call_ctors proxy_on_memory_allocate.command_export"
	if strings.Join(names, " ") != want {
		t.Errorf("frames %s, want %s", strings.Join(names, " "), want)
	}
	if len(res.Notes) == 0 || !strings.Contains(res.Notes[0], "wasi_snapshot_preview1.environ_sizes_get was called from inside the allocator") {
		t.Errorf("notes %q", res.Notes)
	}
}

// TestFixtureConfigureFails: fail=1 makes proxy_on_configure return false;
// Envoy's "Failed to configure base Wasm plugin" and no filter for streams.
func TestFixtureConfigureFails(t *testing.T) {
	f, ok := fixtures.Get("cpp")
	if !ok {
		t.Fatal("no cpp fixture")
	}
	text, _, res := run(t, fixtureModule(t, f), fixtureCapture("fail=1", CaptureStream{Kind: "http", Request: req("GET", "/"), Response: ok200("")}), Quiet)
	if res.Failure == nil || res.Failure.Reason != "configure_failed" || res.Trapped {
		t.Fatalf("failure %+v", res.Failure)
	}
	if !bytes.Contains(text, []byte("[error][wasm] [source/extensions/common/wasm/wasm.cc:110] Wasm VM failed Failed to configure base Wasm plugin\n")) ||
		!bytes.Contains(text, []byte("wasm log wasmdbg vm: failing on purpose (fail=1)")) {
		t.Errorf("output:\n%s", text)
	}
	if s := res.Streams[0]; s.LocalReply == nil || s.LocalReply.Status != 503 {
		t.Errorf("stream %+v, want the host's 503", s)
	}
}
