package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/tracer"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./replay -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./replay -update rewrites it); got:\n%s", name, got)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compileFile(t testing.TB, path string, opts Options) *Module {
	t.Helper()
	m, err := Compile(context.Background(), readFile(t, path), opts)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func loadCapture(t testing.TB, path string) *Capture {
	t.Helper()
	c, err := ParseCapture(filepath.Base(path), readFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// run replays a capture and returns the rendered trace, the JSON events and
// the result.
func run(t testing.TB, m *Module, c *Capture, v Verbosity) (text, events []byte, res *Result) {
	t.Helper()
	return runWith(t, m, c, RunOptions{Verbosity: v})
}

func runWith(t testing.TB, m *Module, c *Capture, ro RunOptions) (text, events []byte, res *Result) {
	t.Helper()
	var tb, jb bytes.Buffer
	r := NewRenderer(&tb)
	enc := json.NewEncoder(&jb)
	enc.SetEscapeHTML(false)
	sink := func(ev *tracer.Event) {
		r.Event(ev)
		if err := enc.Encode(ev); err != nil {
			t.Fatal(err)
		}
	}
	ro.Sink = sink
	res, err := Replay(context.Background(), m, c, ro)
	if err != nil {
		t.Fatal(err)
	}
	r.Flush()
	return tb.Bytes(), jb.Bytes(), res
}

func TestReplayBasicGolden(t *testing.T) {
	m := compileFile(t, "testdata/wat/basic.wasm", Options{Timeout: DefaultTimeout})
	c := loadCapture(t, "testdata/captures/basic.json")
	for _, tt := range []struct {
		name string
		v    Verbosity
	}{{"trace", Trace}, {"callbacks", Callbacks}} {
		t.Run(tt.name, func(t *testing.T) {
			text, events, res := run(t, m, c, tt.v)
			golden(t, "basic."+tt.name+".txt", text)
			golden(t, "basic."+tt.name+".ndjson", events)
			var sum bytes.Buffer
			res.WriteSummary(&sum)
			golden(t, "basic."+tt.name+".summary.txt", sum.Bytes())
			if !res.Trapped || res.Failed != 0 || res.Expected != 6 {
				t.Errorf("trapped %v, expectations %d failed of %d", res.Trapped, res.Failed, res.Expected)
			}
		})
	}
}

func TestReplayIsDeterministic(t *testing.T) {
	m := compileFile(t, "testdata/wat/basic.wasm", Options{Timeout: time.Second})
	c := loadCapture(t, "testdata/captures/basic.json")
	a, ae, _ := run(t, m, c, Trace)
	b, be, _ := run(t, m, c, Trace)
	if !bytes.Equal(a, b) || !bytes.Equal(ae, be) {
		t.Error("two replays of the same capture differ")
	}
}

// TestBodyBufferingTCPAndQueues: after StopIterationAndBuffer the next body
// callback sees everything buffered; the plugin's replacement goes
// upstream; trailers follow the body; TCP data, closes and the TCP order
// (done, log, delete); a queue seeded by the capture and fed by the plugin
// notifies its registrant after the call that enqueued.
func TestBodyBufferingTCPAndQueues(t *testing.T) {
	m := compileFile(t, "testdata/wat/flow.wasm", Options{Timeout: time.Second})
	c := loadCapture(t, "testdata/captures/flow.json")
	text, _, res := run(t, m, c, Callbacks)
	var sum bytes.Buffer
	res.WriteSummary(&sum)
	golden(t, "flow.txt", append(text, sum.Bytes()...))
	if up := res.Streams[0].UpstreamRequest; up == nil || up.Body != "REPLACED" {
		t.Errorf("upstream request %+v, want the plugin's replacement body", up)
	}
	// With trailers the body never ends a stream: the plugin holds it and
	// the trailers release it unchanged.
	if up := res.Streams[1].UpstreamRequest; up == nil || up.Body != "part-1;part-2" || len(up.Trailers) != 1 {
		t.Errorf("upstream request %+v, want the buffered body and the trailers", up)
	}
	for _, want := range []string{
		"proxy_on_request_body(2, 8, 0)", "proxy_on_request_body(2, 16, 0)", "proxy_on_request_body(2, 23, 1)",
		"wasm log flow flow: chunk-1;chunk-2;chunk-3", "wasm log flow: seeded", "wasm log flow flow: trailers",
		"proxy_on_upstream_connection_close(4, 0)", "wasm log flow flow: closed downstream",
	} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("trace lacks %q", want)
		}
	}
	if s := res.Streams[2]; s.DownstreamForwarded != 8 || s.UpstreamForwarded != 7 {
		t.Errorf("tcp stream %+v", s)
	}
}

// TestMain shares one compilation cache between the tests, so a module
// compiled twice (with another memory limit) is compiled once.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "replay-test-cache")
	if err == nil {
		testCacheDir = dir
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

var testCacheDir string
