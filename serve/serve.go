// Package serve runs a Proxy-Wasm plugin as an HTTP filter in front of a
// real upstream, the way Envoy would, on the host of package replay: each
// request that reaches the server goes through the plugin's callbacks
// (headers, body, trailers, local replies, http_call to named clusters),
// is forwarded to the upstream as the plugin left it, and the upstream's
// answer goes back through the plugin to the client. Every stream is kept
// as a capture v1 stream (replay.Capture), so a session can be written out
// and replayed with `wasmdbg replay`, which reproduces it exactly.
//
// Workers are Envoy's worker threads: each has its own VM of the plugin
// (package replay's Session) and runs one stream at a time, so concurrent
// requests are spread over the workers and never share a VM while a
// callback runs. With one worker (the default) every stream runs on one VM
// in arrival order, and the recording replays byte for byte; with more, a
// replay runs on one VM what several VMs did, so state a plugin keeps in
// its VM (counters, caches) can differ.
//
// What the server does not keep of real traffic: header order (Go's
// net/http hands headers over as a map; they reach the plugin sorted by
// name, pseudo-headers first), streaming (each body is read whole, in the
// chunks the network delivered, before the plugin sees it, as after a
// plugin's StopIterationAndBuffer), HTTP/2 and gRPC calls (answered with
// Unavailable).
package serve

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// Options configure a Server.
type Options struct {
	// Module is the compiled plugin; every worker makes its VM from it.
	Module *replay.Module
	// Capture holds the plugin's identity and configuration and the host
	// facts (log level, properties, random seed); its streams are not
	// used. Its StartTime and ClockStep are set by the server.
	Capture *replay.Capture
	// Upstream is where requests the plugin lets through go.
	Upstream *url.URL
	// Clusters maps the cluster names the plugin may http_call to URLs.
	Clusters map[string]*url.URL
	// Workers is the number of VMs (Envoy's worker threads); 0 means 1.
	Workers int
	// Run are the replay options every VM runs with (failure policy,
	// verbosity, restrictions). Sink, Upstream and Calls are the server's.
	Run replay.RunOptions
	// Events receives what happens: trace events and finished streams,
	// from the workers' goroutines (it must be safe for that and quick).
	Events func(Event)
	// Redact replaces credentials (authorization, cookie, set-cookie,
	// proxy-authorization) in the recording; the plugin sees them.
	Redact bool
	// UpstreamTimeout is Envoy's route timeout: an upstream that does not
	// answer in time gets the router's 504 (0 means 15 s, Envoy's default).
	UpstreamTimeout time.Duration
	// MaxBody limits each request and response body (0 means 64 MiB).
	MaxBody int64
	// Transport reaches the upstream and the clusters; nil means a
	// default one.
	Transport http.RoundTripper
}

// Event is one thing that happened in a worker: a trace event (plugin
// log, callback, crash, VM failure; its Thread is the worker's number from
// 1), or a finished stream. It is the seam for user interfaces: the
// command prints events as Envoy's log and access log would, a UI can show
// them live.
type Event struct {
	Worker int
	Trace  *tracer.Event
	Stream *replay.Stream
	// Crash comes with the stream the plugin trapped in: the trap with
	// its frames, symbolized when the module has a resolver.
	Crash *replay.Crash
}

// Server is a plugin in front of an upstream. It implements http.Handler.
type Server struct {
	opts    Options
	start   time.Time
	client  *http.Client
	jobs    chan *job
	quit    chan struct{}
	workers []*worker
	wg      sync.WaitGroup

	mu        sync.Mutex
	streams   []*replay.CaptureStream // recorded, by the order workers took them; nil while running
	rootCalls []replay.CallAnswer
	results   []*replay.Result
	closed    bool
	end       time.Duration // the session's length, once closed
	closeOnce sync.Once
}

type job struct {
	cs   *replay.CaptureStream
	done chan *replay.Stream
}

// Defaults for Options.
const (
	DefaultUpstreamTimeout = 15 * time.Second
	DefaultMaxBody         = 64 << 20
)

// New starts the workers' VMs. A plugin that fails to start is not an
// error: its streams get the failure policy's answer, as in Envoy.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Module == nil || opts.Capture == nil || opts.Upstream == nil {
		return nil, errors.New("serve: Module, Capture and Upstream are required")
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Transport == nil {
		// DisableCompression: the upstream sees the client's
		// Accept-Encoding, not one Go adds, and an encoded body passes
		// through with its content-encoding, as through Envoy.
		opts.Transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, DisableCompression: true}
	}
	// The clock starts on a whole millisecond and moves only when the
	// plugin reads it; streams start on whole milliseconds after it. A
	// capture keeps exactly that, so its replay sees the same times.
	start := time.Now().UTC().Truncate(time.Millisecond)
	c := *opts.Capture
	c.Streams, c.HTTPCalls, c.GrpcCalls = nil, nil, nil
	c.Host.StartTime, c.Host.ClockStep, c.Host.Duration = start, 0, 0
	c.Host.Clusters = clusterNames(opts.Clusters)
	opts.Capture = &c
	s := &Server{opts: opts, start: start, jobs: make(chan *job), quit: make(chan struct{}),
		client: &http.Client{Transport: opts.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for i := 0; i < opts.Workers; i++ {
		w, err := s.newWorker(ctx, i+1)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.workers = append(s.workers, w)
	}
	for _, w := range s.workers {
		s.wg.Add(1)
		go w.loop()
	}
	return s, nil
}

func clusterNames(m map[string]*url.URL) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Start is the session's start: the recording's start_time.
func (s *Server) Start() time.Time { return s.start }

// ServeHTTP runs one request through the plugin and the upstream.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cs, status, err := s.captureRequest(r)
	if err != nil {
		http.Error(w, "wasmdbg serve: "+err.Error(), status)
		return
	}
	j := &job{cs: cs, done: make(chan *replay.Stream, 1)}
	select {
	case s.jobs <- j:
	case <-s.quit:
		http.Error(w, "wasmdbg serve: shutting down", http.StatusServiceUnavailable)
		return
	case <-r.Context().Done():
		return
	}
	st := <-j.done
	writeResponse(w, st)
}

// captureRequest reads a request as a capture stream: its headers as
// Envoy's HTTP connection manager hands them to filters, its body in the
// chunks the network delivered, its trailers.
func (s *Server) captureRequest(r *http.Request) (*replay.CaptureStream, int, error) {
	hs := []replay.Header{{Name: ":authority", Value: r.Host}, {Name: ":path", Value: r.URL.RequestURI()},
		{Name: ":method", Value: r.Method}, {Name: ":scheme", Value: "http"}}
	hs = append(hs, sortedHeaders(r.Header, nil)...)
	// The connection manager adds these before the filters run.
	if r.Header.Get("x-request-id") == "" {
		hs = append(hs, replay.Header{Name: "x-request-id", Value: requestID()})
	}
	if r.Header.Get("x-forwarded-proto") == "" {
		hs = append(hs, replay.Header{Name: "x-forwarded-proto", Value: "http"})
	}
	msg := &replay.HTTPMessage{Headers: hs}
	chunks, err := readChunks(r.Body, s.opts.MaxBody)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, http.StatusRequestEntityTooLarge, err
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read the request body: %w", err)
	}
	msg.Body = chunks
	msg.Trailers = sortedHeaders(r.Trailer, nil)
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	cs := &replay.CaptureStream{Kind: "http", Request: msg,
		Connection: replay.Connection{Source: r.RemoteAddr, Protocol: r.Proto}}
	if local != nil {
		cs.Connection.Destination = local.String()
	}
	return cs, 0, nil
}

var errTooLarge = errors.New("body larger than the limit")

// readBuffers are the buffers bodies are read through (each chunk is
// copied out of it).
var readBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// readChunks reads a body the way Envoy's codec delivers it: one chunk per
// read from the network.
func readChunks(body io.Reader, limit int64) ([]replay.Chunk, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	var chunks []replay.Chunk
	var total int64
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			total += int64(n)
			if total > limit {
				return nil, fmt.Errorf("%w (%d MiB)", errTooLarge, limit>>20)
			}
			chunks = append(chunks, replay.Chunk{Data: append([]byte(nil), buf[:n]...)})
		}
		if err == io.EOF {
			return chunks, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// sortedHeaders flattens a header map: lower-cased names in order, each
// value its own entry, skipping the names in skip.
func sortedHeaders(h http.Header, skip map[string]bool) []replay.Header {
	names := make([]string, 0, len(h))
	for k := range h {
		if !skip[strings.ToLower(k)] {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	var out []replay.Header
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, replay.Header{Name: strings.ToLower(k), Value: v})
		}
	}
	return out
}

// requestID is a random UUID (version 4), as Envoy generates x-request-id.
func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// hopByHop are the connection-specific headers Envoy removes from what it
// forwards (RFC 9110 §7.6.1).
var hopByHop = map[string]bool{"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "upgrade": true, "te": true, "trailer": true}

// writeResponse sends the client what the stream ended with.
func writeResponse(w http.ResponseWriter, st *replay.Stream) {
	switch {
	case st == nil:
		http.Error(w, "wasmdbg serve: the stream was lost (shutting down)", http.StatusServiceUnavailable)
		return
	case st.Reset != "":
		// The plugin closed the stream: the client sees a reset.
		panic(http.ErrAbortHandler)
	case st.Response == nil:
		msg := "the plugin stopped the stream and nothing resumed it"
		if st.Stalled != "" {
			msg = st.Stalled
		}
		w.Header().Set("x-wasmdbg-stalled", "1")
		http.Error(w, "wasmdbg serve: "+msg, http.StatusInternalServerError)
		return
	}
	resp := st.Response
	code := 200
	length := ""
	h := w.Header()
	for _, hd := range resp.Headers {
		switch {
		case hd.Name == ":status":
			code, _ = strconv.Atoi(hd.Value)
		case hd.Name == "content-length":
			length = hd.Value
		case strings.HasPrefix(hd.Name, ":"), hopByHop[hd.Name]:
		default:
			h.Add(hd.Name, hd.Value)
		}
	}
	if code < 100 || code > 999 {
		code = http.StatusBadGateway
	}
	switch {
	case st.Method == http.MethodHead:
		// The answer to a HEAD says how long the body would be.
		if length != "" {
			h.Set("Content-Length", length)
		}
		w.WriteHeader(code)
		return
	case code == http.StatusNoContent || code == http.StatusNotModified || code < 200:
		w.WriteHeader(code) // no body allowed
		return
	}
	for _, t := range resp.Trailers {
		h.Add("Trailer", t.Name)
	}
	if len(resp.Trailers) == 0 {
		// The body as the plugin left it, whatever length it declared.
		h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	}
	w.WriteHeader(code)
	io.WriteString(w, resp.Body)
	for _, t := range resp.Trailers {
		h.Add(http.TrailerPrefix+t.Name, t.Value)
	}
}

// record stores a finished stream for the recording at its slot.
func (s *Server) record(slot int, cs *replay.CaptureStream) {
	if s.opts.Redact {
		// The stream's result shares header storage with the capture
		// stream, and the client may still be reading it: redact a copy.
		cs = cloneHeaders(cs)
		replay.Redact(&replay.Capture{Streams: []replay.CaptureStream{*cs}})
	}
	s.mu.Lock()
	s.streams[slot] = cs
	s.mu.Unlock()
}

// slot reserves the next place in the recording, in the order workers
// take streams, and returns the stream's time after the start: the real
// time, rounded up to the millisecond (so that every tick that already
// fired lies before it, as it will in a replay).
func (s *Server) slot(cs *replay.CaptureStream) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := roundUp(time.Since(s.start)) // under the lock: slots in time order
	cs.At = &at
	s.streams = append(s.streams, nil)
	return len(s.streams) - 1
}

// Close stops the workers once the streams they run are done (call it
// after the HTTP server has shut down), shuts each VM's root context down
// at the end of the session, and returns the recording.
func (s *Server) Close() *replay.Capture {
	s.closeOnce.Do(func() {
		close(s.quit)
		s.wg.Wait()
		end := roundUp(time.Since(s.start))
		s.mu.Lock()
		s.closed, s.end = true, end
		s.mu.Unlock()
		for _, w := range s.workers {
			res := w.session.Close(s.start.Add(end))
			s.mu.Lock()
			s.results = append(s.results, res)
			s.mu.Unlock()
		}
	})
	return s.Capture()
}

// roundUp rounds a time after the start up to the millisecond.
func roundUp(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// Results are the workers' results after Close: crashes, metrics, notes.
func (s *Server) Results() []*replay.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*replay.Result(nil), s.results...)
}

// Capture returns the recording so far: the streams that finished, in the
// order they were taken, as capture v1.
func (s *Server) Capture() *replay.Capture {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *s.opts.Capture
	c.Version = replay.CaptureVersion
	c.Streams = nil
	for _, cs := range s.streams {
		if cs != nil {
			c.Streams = append(c.Streams, *cs)
		}
	}
	c.HTTPCalls = append([]replay.CallAnswer(nil), s.rootCalls...)
	c.Host.Duration = s.end
	if !s.closed {
		c.Host.Duration = roundUp(time.Since(s.start))
	}
	return &c
}

// cloneHeaders copies the header lists of a capture stream (the parts
// Redact writes to).
func cloneHeaders(cs *replay.CaptureStream) *replay.CaptureStream {
	c := *cs
	msg := func(m *replay.HTTPMessage) *replay.HTTPMessage {
		if m == nil {
			return nil
		}
		n := *m
		n.Headers = append([]replay.Header(nil), m.Headers...)
		n.Trailers = append([]replay.Header(nil), m.Trailers...)
		return &n
	}
	c.Request, c.Response = msg(cs.Request), msg(cs.Response)
	c.HTTPCalls = append([]replay.CallAnswer(nil), cs.HTTPCalls...)
	for i := range c.HTTPCalls {
		c.HTTPCalls[i].Response = msg(c.HTTPCalls[i].Response)
	}
	return &c
}
