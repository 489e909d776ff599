package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// worker is one of Envoy's worker threads: a VM of the plugin that runs
// one stream at a time, ticking on real time while idle.
type worker struct {
	s       *Server
	id      int
	thread  string
	session *replay.Session

	cur     *replay.CaptureStream // the stream being run
	pending []*call               // its http_calls
}

func (s *Server) newWorker(ctx context.Context, id int) (*worker, error) {
	w := &worker{s: s, id: id, thread: strconv.Itoa(id)}
	ro := s.opts.Run
	ro.Upstream = w.upstream
	ro.Calls = w
	ro.Sink = w.event
	sess, err := replay.NewSession(ctx, s.opts.Module, s.opts.Capture, ro)
	if err != nil {
		return nil, err
	}
	w.session = sess
	return w, nil
}

func (w *worker) event(ev *tracer.Event) {
	ev.Thread = w.thread
	if f := w.s.opts.Events; f != nil {
		f(Event{Worker: w.id, Trace: ev})
	}
}

// loop takes streams until the server quits; between them it fires the
// plugin's ticks when they fall due.
func (w *worker) loop() {
	defer w.s.wg.Done()
	for {
		var tick <-chan time.Time
		if due, ok := w.session.NextTick(); ok {
			tick = time.After(max(time.Until(due), 0))
		}
		select {
		case j := <-w.s.jobs:
			w.run(j)
		case <-tick:
			// Exactly the tick that fell due: the clock stops at its
			// time, where a replay's clock will be when it fires it.
			if due, ok := w.session.NextTick(); ok && !time.Now().Before(due) {
				w.session.Advance(due)
			}
		case <-w.s.quit:
			return
		}
	}
}

func (w *worker) run(j *job) {
	slot := w.s.slot(j.cs)
	w.cur, w.pending = j.cs, nil
	st, err := w.session.Run(j.cs)
	if err != nil {
		// The host itself failed (not the plugin): nothing to record.
		w.event(&tracer.Event{Kind: tracer.KindOther, Level: "error", Message: "wasmdbg serve: " + err.Error()})
		j.done <- nil
		return
	}
	j.done <- st
	// Calls the plugin never saw answered (its VM failed first) are
	// still in the recording, where the replay looks for them.
	for _, c := range w.pending {
		c.answer()
	}
	j.cs.HTTPCalls = nil
	for _, c := range w.pending {
		j.cs.HTTPCalls = append(j.cs.HTTPCalls, c.recorded())
	}
	w.cur, w.pending = nil, nil
	w.s.record(slot, j.cs)
	if f := w.s.opts.Events; f != nil {
		e := Event{Worker: w.id, Stream: st}
		if st.Trapped {
			e.Crash = w.session.Crash()
		}
		f(e)
	}
}

// upstream forwards the request the plugin let through and reads the
// answer whole; what Envoy's router would answer itself (a connection
// failure, a timeout) comes back as its local reply, which the plugin sees
// as the response.
func (w *worker) upstream(_ *replay.Stream, m *replay.Message) *replay.HTTPMessage {
	s := w.s
	u := *s.opts.Upstream
	path := headerValue(m.Headers, ":path")
	ref, err := url.Parse(path)
	if err != nil || path == "" {
		return routerReply(http.StatusBadRequest, "invalid :path "+strconv.Quote(path))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + ref.Path
	u.RawQuery = ref.RawQuery
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.UpstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, headerValue(m.Headers, ":method"), u.String(), strings.NewReader(m.Body))
	if err != nil {
		return routerReply(http.StatusBadRequest, err.Error())
	}
	for _, h := range m.Headers {
		if strings.HasPrefix(h.Name, ":") || hopByHop[h.Name] || h.Name == "content-length" {
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	req.Host = headerValue(m.Headers, ":authority")
	req.ContentLength = int64(len(m.Body))
	for _, t := range m.Trailers {
		if req.Trailer == nil {
			req.Trailer = http.Header{}
		}
		req.Trailer.Add(t.Name, t.Value)
	}
	if len(m.Trailers) > 0 {
		req.ContentLength = -1
	}
	return w.s.roundTrip(req)
}

// roundTrip sends a request and reads the whole answer.
func (s *Server) roundTrip(req *http.Request) *replay.HTTPMessage {
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return routerReply(http.StatusGatewayTimeout, "upstream request timeout")
		}
		return routerReply(http.StatusServiceUnavailable, "upstream connect error or disconnect/reset before headers. reset reason: connection failure")
	}
	defer resp.Body.Close()
	msg := &replay.HTTPMessage{Headers: []replay.Header{{Name: ":status", Value: strconv.Itoa(resp.StatusCode)}}}
	msg.Headers = append(msg.Headers, sortedHeaders(resp.Header, hopByHop)...)
	chunks, err := readChunks(resp.Body, s.opts.MaxBody)
	if err != nil {
		return routerReply(http.StatusBadGateway, "upstream body: "+err.Error())
	}
	msg.Body = chunks
	msg.Trailers = sortedHeaders(resp.Trailer, nil)
	return msg
}

// routerReply is the local reply Envoy's router sends when the upstream
// gives none (source/common/router/router.cc): text/plain, the reason as
// the body.
func routerReply(code int, body string) *replay.HTTPMessage {
	return &replay.HTTPMessage{Headers: []replay.Header{{Name: ":status", Value: strconv.Itoa(code)},
		{Name: "content-length", Value: strconv.Itoa(len(body))}, {Name: "content-type", Value: "text/plain"}},
		Body: []replay.Chunk{{Data: []byte(body)}}}
}

func headerValue(hs []replay.Header, name string) string {
	for _, h := range hs {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

// KnownCluster implements replay.CallResponder: the --cluster names.
func (w *worker) KnownCluster(name string) bool {
	_, ok := w.s.opts.Clusters[name]
	return ok
}

// HTTPCall implements replay.CallResponder; StartHTTPCall is what the host
// uses (replay.AsyncCallResponder).
func (w *worker) HTTPCall(st *replay.Stream, req *replay.HTTPCallRequest) *replay.HTTPCallResponse {
	return w.StartHTTPCall(st, req)()
}

// GrpcCall implements replay.CallResponder: serve makes no gRPC calls; the
// plugin gets status 14 (Unavailable).
func (w *worker) GrpcCall(*replay.Stream, *replay.GrpcCallRequest) *replay.GrpcCallResponse {
	return &replay.GrpcCallResponse{Status: 14, Message: "wasmdbg serve makes no gRPC calls"}
}

// call is one http_call in flight.
type call struct {
	cluster string
	ch      chan *replay.HTTPCallResponse
	once    sync.Once
	resp    *replay.HTTPCallResponse
}

func (c *call) answer() *replay.HTTPCallResponse {
	c.once.Do(func() { c.resp = <-c.ch })
	return c.resp
}

// recorded is the call's answer as a capture holds it.
func (c *call) recorded() replay.CallAnswer {
	r := c.answer()
	a := replay.CallAnswer{Cluster: c.cluster, Failure: r.Failure}
	if r.Failure == "" {
		a.Response = &replay.HTTPMessage{Headers: r.Headers, Trailers: r.Trailers}
		if len(r.Body) > 0 {
			a.Response.Body = []replay.Chunk{{Data: r.Body}}
		}
	}
	return a
}

// StartHTTPCall implements replay.AsyncCallResponder: the call goes to the
// cluster's URL with the plugin's :method, :path and :authority, and its
// timeout; a connection failure is Envoy's onHttpCallFailure (reset), a
// timeout its 504.
func (w *worker) StartHTTPCall(st *replay.Stream, req *replay.HTTPCallRequest) func() *replay.HTTPCallResponse {
	c := &call{cluster: req.Cluster, ch: make(chan *replay.HTTPCallResponse, 1)}
	base := w.s.opts.Clusters[req.Cluster]
	go func() { c.ch <- w.s.httpCall(base, req) }()
	if st != nil && w.cur != nil {
		w.pending = append(w.pending, c)
	} else {
		// A call from the root context (on_tick, on_configure): the
		// capture answers those at its top level, in order.
		return func() *replay.HTTPCallResponse {
			r := c.answer()
			w.s.mu.Lock()
			w.s.rootCalls = append(w.s.rootCalls, c.recorded())
			w.s.mu.Unlock()
			return r
		}
	}
	return c.answer
}

func (s *Server) httpCall(base *url.URL, req *replay.HTTPCallRequest) *replay.HTTPCallResponse {
	if base == nil {
		return &replay.HTTPCallResponse{Failure: "reset"}
	}
	u := *base
	ref, err := url.Parse(headerValue(req.Headers, ":path"))
	if err != nil {
		return &replay.HTTPCallResponse{Failure: "reset"}
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + ref.Path
	u.RawQuery = ref.RawQuery
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = s.opts.UpstreamTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, headerValue(req.Headers, ":method"), u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return &replay.HTTPCallResponse{Failure: "reset"}
	}
	for _, h := range req.Headers {
		if !strings.HasPrefix(h.Name, ":") && !hopByHop[strings.ToLower(h.Name)] {
			hr.Header.Add(h.Name, h.Value)
		}
	}
	hr.Host = headerValue(req.Headers, ":authority")
	resp, err := s.client.Do(hr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &replay.HTTPCallResponse{Failure: "timeout"}
		}
		return &replay.HTTPCallResponse{Failure: "reset"}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.opts.MaxBody))
	if err != nil {
		return &replay.HTTPCallResponse{Failure: "reset"}
	}
	out := &replay.HTTPCallResponse{Headers: []replay.Header{{Name: ":status", Value: strconv.Itoa(resp.StatusCode)}}, Body: body}
	out.Headers = append(out.Headers, sortedHeaders(resp.Header, hopByHop)...)
	out.Trailers = sortedHeaders(resp.Trailer, nil)
	return out
}
