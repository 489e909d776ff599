package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// These tests put a real plugin (the C++ fixture) between real HTTP
// clients and a real upstream, all on loopback, and replay what was
// recorded.

var (
	cacheDir = filepath.Join(os.TempDir(), "wasmdbg-serve-test-cache")
	modOnce  sync.Once
	modWasm  []byte
	modErr   error
)

func cppModule(t *testing.T) *replay.Module {
	t.Helper()
	modOnce.Do(func() {
		f, ok := fixtures.Get("cpp")
		if !ok {
			modErr = fmt.Errorf("no cpp fixture")
			return
		}
		modWasm, modErr = f.Bytes()
	})
	if modErr != nil {
		t.Fatal(modErr)
	}
	m, err := replay.Compile(context.Background(), modWasm, replay.Options{Timeout: 5 * time.Second, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// upstream answers every request with what it saw: the path, the request
// id, whether the plugin's x-auth reached it, and a cookie to set.
func upstream(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("content-type", "text/plain")
		w.Header().Set("set-cookie", "session=s3cr3t")
		w.Header().Set("x-saw-auth", r.Header.Get("x-auth"))
		w.Header().Set("x-id", r.Header.Get("x-id"))
		fmt.Fprintf(w, "upstream saw %s %s id=%s body=%q", r.Method, r.URL.RequestURI(), r.Header.Get("x-id"), body)
	}))
	t.Cleanup(s.Close)
	return s
}

// authCluster answers the fixture's http_call: /check?v=42 is allowed,
// anything else is refused with a 503.
func authCluster(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") == "42" {
			w.WriteHeader(200)
			return
		}
		w.WriteHeader(503)
		io.WriteString(w, "down")
	}))
	t.Cleanup(s.Close)
	return s
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// recorder keeps the events a server emits.
type recorder struct {
	mu      sync.Mutex
	events  []*tracer.Event
	streams []*replay.Stream
}

func (r *recorder) event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Trace != nil {
		r.events = append(r.events, e.Trace)
	}
	if e.Stream != nil {
		r.streams = append(r.streams, e.Stream)
	}
}

func (r *recorder) text() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	rr := replay.NewRenderer(&b)
	for _, e := range r.events {
		rr.Event(e)
	}
	rr.Flush()
	return b.Bytes()
}

func testCapture(config string) *replay.Capture {
	return &replay.Capture{Version: 1,
		Plugin: replay.PluginConfig{Name: "serve-test", RootID: "wasmdbg", VMID: "vm", Configuration: []byte(config)},
		Host:   replay.HostFacts{RandomSeed: 1, LogLevel: abi.LogTrace}}
}

type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (c *client) do(method, path string, body string, headers ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestServeEndToEnd drives the fixture's whole contract through serve with
// real requests, then replays the recording: the same responses, and the
// same trace, byte for byte.
func TestServeEndToEnd(t *testing.T) {
	m := cppModule(t)
	up, auth := upstream(t), authCluster(t)
	rec := &recorder{}
	// A tick every 20 ms: the idle worker fires them on real time, the
	// replay on its virtual clock, in the same places.
	srv, err := New(context.Background(), Options{Module: m, Capture: testCapture("deny=x-deny;tick=20"),
		Upstream: mustURL(t, up.URL), Clusters: map[string]*url.URL{"auth": mustURL(t, auth.URL)},
		Run: replay.RunOptions{Verbosity: replay.Trace}, Events: rec.event, Redact: true})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(srv)
	c := &client{t: t, base: front.URL, c: front.Client()}

	type want struct {
		status int
		body   string
		header [2]string
	}
	for _, tt := range []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		want    want
	}{
		{"plain", "GET", "/hello?x=1", "", []string{"authorization", "Bearer top-secret", "cookie", "c=1"},
			want{200, `upstream saw GET /hello?x=1 id= body=""`, [2]string{"x-plugin", "cpp"}}},
		{"deny", "GET", "/admin", "", []string{"x-deny", "1"}, want{403, "denied by cpp plugin", [2]string{"x-denied-by", "cpp"}}},
		{"call allowed", "GET", "/api", "", []string{"x-call", "42"}, want{200, `upstream saw GET /api id= body=""`, [2]string{"x-saw-auth", "ok"}}},
		{"call refused", "GET", "/api", "", []string{"x-call", "43"}, want{403, "call failed", [2]string{"x-plugin", "cpp"}}},
		{"post", "POST", "/upload", "some data", nil, want{200, `upstream saw POST /upload id= body="some data"`, [2]string{"x-plugin", "cpp"}}},
		{"crash", "GET", "/crash", "", []string{"x-crash", "panic"}, want{503, "", [2]string{}}},
		{"after the crash", "GET", "/later", "", nil, want{503, "", [2]string{}}},
	} {
		time.Sleep(15 * time.Millisecond)
		resp, body := c.do(tt.method, tt.path, tt.body, tt.headers...)
		if resp.StatusCode != tt.want.status || body != tt.want.body {
			t.Errorf("%s: %d %q, want %d %q", tt.name, resp.StatusCode, body, tt.want.status, tt.want.body)
		}
		if h := tt.want.header; h[0] != "" && resp.Header.Get(h[0]) != h[1] {
			t.Errorf("%s: %s: %q, want %q", tt.name, h[0], resp.Header.Get(h[0]), h[1])
		}
	}
	front.Close()
	capture := srv.Close()

	// The recording, through its JSON form as `wasmdbg replay` reads it.
	data, err := capture.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"top-secret", "c=1", "s3cr3t"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the recording holds the credential %q", secret)
		}
	}
	if !bytes.Contains(data, []byte(`["authorization", "[redacted]"]`)) {
		t.Errorf("authorization not redacted:\n%s", data)
	}
	back, err := replay.ParseCapture("recorded.json", data)
	if err != nil {
		t.Fatalf("the recording does not parse: %v\n%s", err, data)
	}
	if len(back.Streams) != 7 || len(back.Streams[2].HTTPCalls) != 1 {
		t.Fatalf("%d streams recorded", len(back.Streams))
	}

	var text bytes.Buffer
	rr := replay.NewRenderer(&text)
	res, err := replay.Replay(context.Background(), cppModule(t), back, replay.RunOptions{Verbosity: replay.Trace, Sink: rr.Event})
	if err != nil {
		t.Fatal(err)
	}
	rr.Flush()
	if len(res.Streams) != len(rec.streams) {
		t.Fatalf("replay has %d streams, serve had %d", len(res.Streams), len(rec.streams))
	}
	for i, got := range res.Streams {
		was := rec.streams[i]
		if got.Access().String() != was.Access().String() {
			t.Errorf("stream %d: replay %s, serve %s", i+1, got.Access(), was.Access())
		}
		if got.Response.Status() != was.Response.Status() || got.Response.Body != was.Response.Body {
			t.Errorf("stream %d: replay answered %s %q, serve %s %q", i+1, got.Response.Status(), got.Response.Body, was.Response.Status(), was.Response.Body)
		}
	}
	if res.Ticks == 0 {
		t.Error("no tick in the replay")
	}
	if !res.Trapped || res.Crash.Callback != "proxy_on_request_headers" {
		t.Errorf("the replay does not trap as serve did: %+v", res.Crash)
	}
	// Authorization, cookie and set-cookie differ (redacted), but the
	// plugin never reads them, so every line it and the host print is the
	// same.
	if served := rec.text(); !bytes.Equal(text.Bytes(), served) {
		t.Errorf("the replay's trace differs from serve's:\n%s", lineDiff(served, text.Bytes()))
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\nserve:  %s\nreplay: %s", i+1, x, y)
		}
	}
	return "(equal)"
}

// TestServeConcurrent: 1,000 requests over 8 connections through 4
// workers; every client gets its own answer, and the recording holds each
// request with its own response.
func TestServeConcurrent(t *testing.T) {
	m := cppModule(t)
	up := upstream(t)
	srv, err := New(context.Background(), Options{Module: m, Capture: testCapture(""), Upstream: mustURL(t, up.URL),
		Workers: 4, Run: replay.RunOptions{Verbosity: replay.Quiet}})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(srv)
	const conns, per = 8, 125
	var wg sync.WaitGroup
	errs := make(chan string, conns*per)
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			// One keep-alive connection per client.
			hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
			defer hc.CloseIdleConnections()
			for i := 0; i < per; i++ {
				id := fmt.Sprintf("c%d-r%d", c, i)
				req, _ := http.NewRequest("POST", front.URL+"/item/"+id, strings.NewReader("payload-"+id))
				req.Header.Set("x-id", id)
				resp, err := hc.Do(req)
				if err != nil {
					errs <- id + ": " + err.Error()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf(`upstream saw POST /item/%s id=%s body="payload-%s"`, id, id, id)
				if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("x-id") != id || resp.Header.Get("x-plugin") != "cpp" {
					errs <- fmt.Sprintf("%s: %d %q x-id %q", id, resp.StatusCode, body, resp.Header.Get("x-id"))
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 5 {
			t.Error(e)
		}
	}
	front.Close()
	capture := srv.Close()
	if len(capture.Streams) != conns*per {
		t.Fatalf("%d streams recorded, want %d", len(capture.Streams), conns*per)
	}
	seen := map[string]bool{}
	for _, cs := range capture.Streams {
		id := headerValue(cs.Request.Headers, "x-id")
		if seen[id] {
			t.Errorf("stream %s recorded twice", id)
		}
		seen[id] = true
		if got := headerValue(cs.Response.Headers, "x-id"); got != id {
			t.Errorf("stream %s recorded with the response to %s", id, got)
		}
	}
	var total uint64
	for _, r := range srv.Results() {
		for _, mt := range r.Metrics {
			total += mt.Value
		}
	}
	if total != conns*per {
		t.Errorf("the workers' VMs counted %d requests, want %d", total, conns*per)
	}
}

// TestServeUpstreamDown: the router's own 503 goes back through the
// plugin, which adds its header to it, as in Envoy.
func TestServeUpstreamDown(t *testing.T) {
	m := cppModule(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.URL
	dead.Close()
	srv, err := New(context.Background(), Options{Module: m, Capture: testCapture(""), Upstream: mustURL(t, addr),
		Run: replay.RunOptions{Verbosity: replay.Quiet}})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(srv)
	defer front.Close()
	c := &client{t: t, base: front.URL, c: front.Client()}
	resp, body := c.do("GET", "/", "")
	if resp.StatusCode != 503 || body != "upstream connect error or disconnect/reset before headers. reset reason: connection failure" || resp.Header.Get("x-plugin") != "cpp" {
		t.Errorf("%d %q x-plugin %q", resp.StatusCode, body, resp.Header.Get("x-plugin"))
	}
	front.Close()
	srv.Close()
}

// TestServeCompressionPassesThrough: the upstream gets the client's
// Accept-Encoding (none added), and an encoded answer reaches the client
// as the upstream sent it, content-encoding and all, as through Envoy.
func TestServeCompressionPassesThrough(t *testing.T) {
	m := cppModule(t)
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Accept-Encoding"))
		mu.Unlock()
		w.Header().Set("Content-Encoding", "gzip")
		w.Write([]byte("\x1f\x8b not really gzip"))
	}))
	defer up.Close()
	srv, err := New(context.Background(), Options{Module: m, Capture: testCapture(""), Upstream: mustURL(t, up.URL),
		Run: replay.RunOptions{Verbosity: replay.Quiet}})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(srv)
	defer front.Close()
	// A client that neither asks for nor decodes gzip.
	c := &client{t: t, base: front.URL, c: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
	resp, body := c.do("GET", "/", "")
	if resp.Header.Get("Content-Encoding") != "gzip" || body != "\x1f\x8b not really gzip" {
		t.Errorf("client got content-encoding %q, body %q; want the upstream's bytes as sent", resp.Header.Get("Content-Encoding"), body)
	}
	c.do("GET", "/", "", "accept-encoding", "br")
	front.Close()
	srv.Close()
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "br"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("upstream saw Accept-Encoding %q; want %q (the client's own)", seen, want)
	}
}

// TestServeNoRedact keeps credentials when asked.
func TestServeNoRedact(t *testing.T) {
	m := cppModule(t)
	up := upstream(t)
	srv, err := New(context.Background(), Options{Module: m, Capture: testCapture(""), Upstream: mustURL(t, up.URL),
		Run: replay.RunOptions{Verbosity: replay.Quiet}})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(srv)
	c := &client{t: t, base: front.URL, c: front.Client()}
	c.do("GET", "/", "", "authorization", "Bearer keep-me", "proxy-authorization", "Basic eA==")
	front.Close()
	capture := srv.Close()
	if got := headerValue(capture.Streams[0].Request.Headers, "authorization"); got != "Bearer keep-me" {
		t.Errorf("authorization %q", got)
	}
	if got := headerValue(capture.Streams[0].Response.Headers, "set-cookie"); got != "session=s3cr3t" {
		t.Errorf("set-cookie %q", got)
	}
}

// TestServeTrailersHeadAndNoContent: request trailers reach the upstream
// and the recording, response trailers reach the client; a HEAD keeps
// the upstream's length; a 204 has no body.
func TestServeTrailersHeadAndNoContent(t *testing.T) {
	m := cppModule(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
			return
		case "/head":
			w.Header().Set("content-length", "1234")
			return
		}
		w.Header().Set("Trailer", "x-checksum")
		fmt.Fprintf(w, "got %s with trailer %q", body, r.Trailer.Get("x-sent"))
		w.Header().Set("x-checksum", "abc")
	}))
	defer up.Close()
	srv, err := New(context.Background(), Options{Module: m, Capture: testCapture(""), Upstream: mustURL(t, up.URL),
		Run: replay.RunOptions{Verbosity: replay.Quiet}})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(srv)
	req, _ := http.NewRequest("POST", front.URL+"/upload", io.MultiReader(strings.NewReader("part1-"), strings.NewReader("part2")))
	req.Trailer = http.Header{"X-Sent": {"yes"}}
	req.ContentLength = -1 // chunked, so that trailers can follow
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `got part1-part2 with trailer "yes"` || resp.Trailer.Get("x-checksum") != "abc" {
		t.Errorf("body %q, trailers %v", body, resp.Trailer)
	}
	c := &client{t: t, base: front.URL, c: front.Client()}
	if resp, body := c.do("GET", "/empty", ""); resp.StatusCode != 204 || body != "" {
		t.Errorf("204: %d %q", resp.StatusCode, body)
	}
	if resp, _ := c.do("HEAD", "/head", ""); resp.StatusCode != 200 || resp.ContentLength != 1234 {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	front.Close()
	capture := srv.Close()
	rec := capture.Streams[0]
	if got := headerValue(rec.Request.Trailers, "x-sent"); got != "yes" {
		t.Errorf("request trailers recorded: %v", rec.Request.Trailers)
	}
	if got := headerValue(rec.Response.Trailers, "x-checksum"); got != "abc" {
		t.Errorf("response trailers recorded: %v", rec.Response.Trailers)
	}
	if len(rec.Request.Body) == 0 {
		t.Error("request body not recorded")
	}
}
