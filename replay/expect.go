package replay

import (
	"fmt"
	"strconv"
	"strings"
)

// captureCalls answers calls from a capture: each stream's answers in
// order (an answer naming a cluster is only used for calls to it), and the
// capture-level answers for calls made outside streams.
type captureCalls struct {
	clusters map[string]bool
	root     answers
	streams  []answers
	grpcRoot []GrpcAnswer
	grpc     [][]GrpcAnswer
}

type answers struct {
	list []CallAnswer
	used []bool
}

func newCaptureCalls(c *Capture) *captureCalls {
	cc := &captureCalls{clusters: map[string]bool{}}
	for _, name := range c.Host.Clusters {
		cc.clusters[name] = true
	}
	addClusters := func(as []CallAnswer, gs []GrpcAnswer) {
		for _, a := range as {
			if a.Cluster != "" {
				cc.clusters[a.Cluster] = true
			}
		}
		for _, g := range gs {
			if g.Cluster != "" {
				cc.clusters[g.Cluster] = true
			}
		}
	}
	cc.root = answers{list: c.HTTPCalls, used: make([]bool, len(c.HTTPCalls))}
	cc.grpcRoot = append([]GrpcAnswer(nil), c.GrpcCalls...)
	addClusters(c.HTTPCalls, c.GrpcCalls)
	for _, s := range c.Streams {
		cc.streams = append(cc.streams, answers{list: s.HTTPCalls, used: make([]bool, len(s.HTTPCalls))})
		cc.grpc = append(cc.grpc, append([]GrpcAnswer(nil), s.GrpcCalls...))
		addClusters(s.HTTPCalls, s.GrpcCalls)
	}
	return cc
}

// reset makes every answer of c available again (Repeat's next pass)
// without allocating for the calls a capture does not have.
func (cc *captureCalls) reset(c *Capture) {
	clear(cc.root.used)
	cc.grpcRoot = append([]GrpcAnswer(nil), c.GrpcCalls...)
	for i := range cc.streams {
		clear(cc.streams[i].used)
		cc.grpc[i] = append([]GrpcAnswer(nil), c.Streams[i].GrpcCalls...)
	}
}

func (cc *captureCalls) KnownCluster(name string) bool { return cc.clusters[name] }

func (cc *captureCalls) HTTPCall(s *Stream, req *HTTPCallRequest) *HTTPCallResponse {
	a := &cc.root
	if s != nil && s.Index < len(cc.streams) {
		a = &cc.streams[s.Index]
	}
	for i, ans := range a.list {
		if a.used[i] || ans.Cluster != "" && ans.Cluster != req.Cluster {
			continue
		}
		a.used[i] = true
		if ans.Failure != "" {
			return &HTTPCallResponse{Failure: ans.Failure}
		}
		resp := &HTTPCallResponse{Headers: ans.Response.Headers, Trailers: ans.Response.Trailers}
		resp.Body = joinChunks(ans.Response.Body)
		return resp
	}
	return nil
}

func (cc *captureCalls) GrpcCall(s *Stream, req *GrpcCallRequest) *GrpcCallResponse {
	list := &cc.grpcRoot
	if s != nil && s.Index < len(cc.grpc) {
		list = &cc.grpc[s.Index]
	}
	for i, ans := range *list {
		if ans.Cluster != "" && ans.Cluster != req.Cluster {
			continue
		}
		*list = append((*list)[:i:i], (*list)[i+1:]...)
		return &GrpcCallResponse{InitialMetadata: ans.InitialMetadata, Messages: ans.Messages,
			TrailingMetadata: ans.TrailingMetadata, Status: ans.Status, Message: ans.Message}
	}
	return nil
}

// checkExpectations compares a stream with its capture's "expect".
func (r *runner) checkExpectations(cs *CaptureStream, st *Stream) {
	e := cs.Expect
	if e == nil {
		return
	}
	check := func(what string, ok bool, got string) {
		st.Expectations = append(st.Expectations, ExpectationResult{What: what, OK: ok, Got: got})
		r.res.Expected++
		if !ok {
			r.res.Failed++
		}
	}
	status := st.Response.Status()
	if e.Status != 0 {
		want := strconv.Itoa(e.Status)
		got := status
		if got == "" {
			got = "no response"
		}
		check("status "+want, status == want, got)
	}
	if e.LocalReply != nil {
		got := st.LocalReply != nil && !st.LocalReply.ByHost
		check(fmt.Sprintf("local_reply %v", *e.LocalReply), got == *e.LocalReply, strconv.FormatBool(got))
	}
	if e.Trapped != nil {
		check(fmt.Sprintf("trapped %v", *e.Trapped), st.Trapped == *e.Trapped, strconv.FormatBool(st.Trapped))
	}
	if e.Callback != "" {
		got := ""
		if st.Trapped && r.vm.crash != nil {
			got = r.vm.crash.Callback
		}
		check("trapped in "+e.Callback, got == e.Callback, orNone(got))
	}
	for _, h := range e.ResponseHeaders {
		var hs []Header
		if st.Response != nil {
			hs = st.Response.Headers
		}
		check(fmt.Sprintf("response header %s: %s", lower(h.Name), h.Value), hasPair(hs, h), valuesOf(hs, h.Name))
	}
	for _, h := range e.UpstreamRequestHeaders {
		var hs []Header
		if st.UpstreamRequest != nil {
			hs = st.UpstreamRequest.Headers
		}
		check(fmt.Sprintf("upstream request header %s: %s", lower(h.Name), h.Value), hasPair(hs, h), valuesOf(hs, h.Name))
	}
	if e.Body != nil {
		got := ""
		if st.Response != nil {
			got = st.Response.Body
		}
		check(fmt.Sprintf("body %q", *e.Body), got == *e.Body, strconv.Quote(got))
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func hasPair(hs []Header, want Header) bool {
	for _, h := range hs {
		if h.Name == lower(want.Name) && h.Value == want.Value {
			return true
		}
	}
	return false
}

func valuesOf(hs []Header, name string) string {
	var vs []string
	for _, h := range hs {
		if h.Name == lower(name) {
			vs = append(vs, strconv.Quote(h.Value))
		}
	}
	if len(vs) == 0 {
		return "absent"
	}
	return strings.Join(vs, ", ")
}
