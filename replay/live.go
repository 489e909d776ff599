package replay

import (
	"context"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Live traffic (wasmdbg serve) runs through the same host as a replay: a
// Session keeps one VM up while streams arrive one at a time, the upstream
// answers when the plugin lets a request through (Upstream), and calls to
// real clusters are answered when they come back (AsyncCallResponder).
// Each stream a Session runs is a capture stream, so what it saw can be
// written as a capture and replayed with the same result.

// Upstream answers a request the plugin let through to the upstream: req
// is the request as the plugin left it (its storage belongs to the host:
// read it, do not keep it). The answer becomes the stream's response in
// the capture.
type Upstream func(st *Stream, req *Message) *HTTPMessage

// AsyncCallResponder is a CallResponder whose answers take time, like
// real clusters: StartHTTPCall starts the call and returns a function that
// waits for its answer. The host waits only when it delivers the answer,
// after the callback that made the call has returned, as Envoy's
// dispatcher does; the callback's time limit does not run meanwhile.
type AsyncCallResponder interface {
	CallResponder
	StartHTTPCall(stream *Stream, req *HTTPCallRequest) (wait func() *HTTPCallResponse)
}

// asyncHTTPCall is proxy_http_call's answer path for an AsyncCallResponder.
func (vm *VM) asyncHTTPCall(ac AsyncCallResponder, stream *Stream, req *HTTPCallRequest, rec CallRecord) uint32 {
	wait := ac.StartHTTPCall(stream, req)
	rec.Response = "pending"
	idx := vm.recordCall(stream, rec, false)
	token := rec.Token
	vm.async = append(vm.async, func() {
		resp := wait()
		if resp == nil {
			resp = &HTTPCallResponse{Failure: "reset"}
		}
		if r := vm.callRecord(stream, idx); r != nil {
			r.Response = resp.Failure
			if resp.Failure == "" {
				r.Response = ":status " + headerValue(resp.Headers, ":status")
			}
		}
		vm.deliverHTTPCall(stream, idx, token, resp)
	})
	return status(abi.Ok)
}

// callRecord returns the record recordCall stored at idx.
func (vm *VM) callRecord(stream *Stream, idx int) *CallRecord {
	list := vm.rootCalls
	if stream != nil {
		list = stream.HTTPCalls
	}
	if idx < 0 || idx >= len(list) {
		return nil
	}
	return &list[idx]
}

// responder answers the plugin's calls: RunOptions.Calls, else the
// capture.
func (r *runner) responder() CallResponder {
	if r.ro.Calls != nil {
		return r.ro.Calls
	}
	return r.calls
}

// response is the upstream's answer to the request the plugin let
// through: RunOptions.Upstream's, else the capture's, else an empty 200.
func (r *runner) response(cs *CaptureStream, st *Stream, req *Message) *HTTPMessage {
	if up := r.ro.Upstream; up != nil {
		cs.Response = up(st, req)
	}
	if cs.Response == nil {
		r.vm.note("a stream without a response in the capture got an empty 200 from the upstream")
		return &HTTPMessage{Headers: []Header{{":status", "200"}}}
	}
	return cs.Response
}

// Session is a VM kept up for streams that arrive one at a time, as a
// proxy worker's VM is. It is not safe for concurrent use: serve runs one
// Session per worker.
type Session struct {
	r *runner
	n int // streams run
}

// NewSession starts a VM for the plugin and host of c (its streams are not
// run) with ro's options; ro.Upstream and ro.Calls connect it to real
// services. Streams are then given to Run.
func NewSession(ctx context.Context, m *Module, c *Capture, ro RunOptions) (*Session, error) {
	r, err := newRunner(ctx, m, c, ro)
	if err != nil {
		return nil, err
	}
	r.dropStreams = true
	return &Session{r: r}, nil
}

// Start is the session's time zero: a stream's At counts from it.
func (s *Session) Start() time.Time { return s.r.start }

// Run runs one stream: the clock moves to cs.At (firing the ticks that fall
// due), the failure policy has its say, then the stream goes through the
// plugin. cs.Response is set to what the upstream answered.
func (s *Session) Run(cs *CaptureStream) (*Stream, error) {
	s.n++
	return s.r.runStream(s.n-1, cs)
}

// Advance moves the clock to t, firing the ticks that fall due (a worker
// with no traffic still ticks).
func (s *Session) Advance(t time.Time) { s.r.advanceTo(t.UnixNano()) }

// NextTick is when the next tick falls due, if the plugin asked for ticks
// and its VM still runs.
func (s *Session) NextTick() (time.Time, bool) {
	vm := s.r.vm
	if vm == nil || vm.failed || vm.tickPeriod <= 0 || vm.ticks >= maxTicks {
		return time.Time{}, false
	}
	return time.Unix(0, vm.nextTick).UTC(), true
}

// Crash is the trap that failed the session's VM, or nil.
func (s *Session) Crash() *Crash {
	if s.r.vm == nil {
		return nil
	}
	return s.r.vm.crash
}

// Failed reports whether the session's VM has failed.
func (s *Session) Failed() bool { return s.r.vm == nil || s.r.vm.failed }

// Close shuts the root context down (proxy_on_done, proxy_on_delete) at
// time end and returns the result: the crash, if any, metrics, notes (the
// streams were handed out by Run and are not kept).
func (s *Session) Close(end time.Time) *Result {
	s.r.advanceTo(end.UnixNano())
	res := s.r.finish()
	s.r.vm.Close(s.r.ctx)
	return res
}
