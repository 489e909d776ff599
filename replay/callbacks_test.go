package replay

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// The callback side of the host, against Envoy: what each return value of
// each callback does, in which order callbacks come, and what a local
// reply looks like. testdata/wat/actions.wat returns what its
// configuration says (see the file).

// actionsConfig is actions.wat's configuration: the return values in
// callback order, then the flags.
type actionsConfig struct {
	reqHeaders, reqBody, reqTrailers, respHeaders, respBody, respTrailers int8
	newConnection, downstreamData, upstreamData                           int8
	flags                                                                 byte
}

func (a actionsConfig) bytes() []byte {
	return []byte{byte(a.reqHeaders), byte(a.reqBody), byte(a.reqTrailers), byte(a.respHeaders), byte(a.respBody),
		byte(a.respTrailers), byte(a.newConnection), byte(a.downstreamData), byte(a.upstreamData), a.flags}
}

const (
	denyInRequestHeaders  = 1
	denyInResponseBody    = 2
	denyInResponseHeaders = 4
)

// replayActions replays the streams through actions.wasm configured with
// cfg and returns the callbacks made (name and arguments, in order) and
// the result.
func replayActions(t *testing.T, cfg actionsConfig, streams ...CaptureStream) ([]string, *Result) {
	t.Helper()
	m := compileFile(t, "testdata/wat/actions.wasm", Options{Timeout: time.Second})
	c := &Capture{Version: 1, Plugin: PluginConfig{Configuration: cfg.bytes()},
		Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond}, Streams: streams}
	text, _, res := run(t, m, c, Callbacks)
	var calls []string
	for _, m := range callbackLine.FindAllStringSubmatch(string(text), -1) {
		calls = append(calls, m[1])
	}
	return calls, res
}

var callbackLine = regexp.MustCompile(`\[host->vm\] (proxy_on_\w+\([^)]*\))`)

// streamCalls is calls from the stream's context creation up to its
// proxy_on_delete (the VM's start and shutdown left out).
func streamCalls(calls []string, ctx string) []string {
	var out []string
	for _, c := range calls {
		if strings.HasPrefix(c[strings.IndexByte(c, '(')+1:], ctx+",") || strings.HasSuffix(c, "("+ctx+")") {
			out = append(out, c)
		}
	}
	return out
}

func post(body ...string) *HTTPMessage {
	r := req("POST", "/")
	for _, b := range body {
		r.Body = append(r.Body, Chunk{Data: []byte(b)})
	}
	return r
}

func capStream(request, response *HTTPMessage) CaptureStream {
	return CaptureStream{Kind: "http", Request: request, Response: response}
}

// TestHeadersReturnValuesAsEnvoy: cpp-host's
// convertVmCallResultToFilterHeadersStatus (src/context.cc) turns
// StopIteration and anything above 4 into StopAllIterationAndWatermark;
// Envoy's convertFilterHeadersStatus (source/extensions/common/wasm/
// context.cc) has no case for ContinueAndEndStream, so 2 continues, the
// body following.
func TestHeadersReturnValuesAsEnvoy(t *testing.T) {
	for _, tt := range []struct {
		ret              int8
		action, returned string
		upstream         bool // the request reached the upstream
	}{
		{0, "Continue", "", true},
		{1, "StopAllIterationAndWatermark", "StopIteration", false},
		{2, "Continue", "ContinueAndEndStream", true},
		{3, "StopAllIterationAndBuffer", "", false},
		{4, "StopAllIterationAndWatermark", "", false},
		{5, "StopAllIterationAndWatermark", "HeadersAction(5)", false},
		{-1, "StopAllIterationAndWatermark", "HeadersAction(4294967295)", false},
	} {
		calls, res := replayActions(t, actionsConfig{reqHeaders: tt.ret}, capStream(post("abc"), ok200("ok")))
		st := res.Streams[0]
		got := st.Callbacks[0]
		if got.Callback != "proxy_on_request_headers" || got.Return != uint32(int32(tt.ret)) || got.Action != tt.action || got.Returned != tt.returned {
			t.Errorf("return %d: %+v, want action %s (returned %q)", tt.ret, got, tt.action, tt.returned)
		}
		if (st.UpstreamRequest != nil) != tt.upstream || (st.Stalled != "") == tt.upstream {
			t.Errorf("return %d: upstream request %v, stalled %q; want the request upstream: %v", tt.ret, st.UpstreamRequest, st.Stalled, tt.upstream)
		}
		if tt.upstream && (st.UpstreamRequest.Body != "abc" || !reflect.DeepEqual(streamCalls(calls, "2")[:3],
			[]string{"proxy_on_context_create(2, 1)", "proxy_on_request_headers(2, 5, 0)", "proxy_on_request_body(2, 3, 1)"})) {
			t.Errorf("return %d: body %q, calls %q; want the body through proxy_on_request_body", tt.ret, st.UpstreamRequest.Body, calls)
		}
	}
	// The response side maps the same way.
	_, res := replayActions(t, actionsConfig{respHeaders: 2}, capStream(req("GET", "/"), ok200("ok")))
	if st := res.Streams[0]; st.Response == nil || st.Response.Body != "ok" || st.Callbacks[1].Action != "Continue" {
		t.Errorf("response headers returning 2: %+v", st)
	}
}

// TestBodyReturnValuesAsEnvoy: convertVmCallResultToFilterDataStatus maps
// anything above 3 to StopIterationNoBuffer. Envoy's Context::decodeData
// adds the next chunk to what StopIterationAndBuffer kept and passes the
// total; after StopIterationAndWatermark the filter manager buffers the
// chunk but the next call sees only the new one; after
// StopIterationNoBuffer nobody keeps the chunk.
func TestBodyReturnValuesAsEnvoy(t *testing.T) {
	for _, tt := range []struct {
		ret              int8
		action, returned string
		sizes            []string // the body callbacks' size and end_of_stream
	}{
		{0, "Continue", "", []string{"2, 1, 0", "2, 2, 0", "2, 3, 1"}},
		{1, "StopIterationAndBuffer", "", []string{"2, 1, 0", "2, 3, 0", "2, 6, 1"}},
		{2, "StopIterationAndWatermark", "", []string{"2, 1, 0", "2, 2, 0", "2, 3, 1"}},
		{3, "StopIterationNoBuffer", "", []string{"2, 1, 0", "2, 2, 0", "2, 3, 1"}},
		{4, "StopIterationNoBuffer", "DataAction(4)", []string{"2, 1, 0", "2, 2, 0", "2, 3, 1"}},
		{-1, "StopIterationNoBuffer", "DataAction(4294967295)", []string{"2, 1, 0", "2, 2, 0", "2, 3, 1"}},
	} {
		calls, res := replayActions(t, actionsConfig{reqBody: tt.ret}, capStream(post("a", "bb", "ccc"), ok200("")))
		var sizes []string
		for _, c := range calls {
			if s, ok := strings.CutPrefix(c, "proxy_on_request_body("); ok {
				sizes = append(sizes, strings.TrimSuffix(s, ")"))
			}
		}
		st := res.Streams[0]
		if !reflect.DeepEqual(sizes, tt.sizes) || st.Callbacks[1].Action != tt.action || st.Callbacks[1].Returned != tt.returned {
			t.Errorf("return %d: body calls %q, %+v; want %q, %s", tt.ret, sizes, st.Callbacks[1], tt.sizes, tt.action)
		}
		if tt.ret == 0 && (st.UpstreamRequest == nil || st.UpstreamRequest.Body != "abbccc") {
			t.Errorf("return 0: upstream %+v", st.UpstreamRequest)
		}
		if tt.ret != 0 && st.UpstreamRequest != nil {
			t.Errorf("return %d: the request went upstream (%+v) though every body call stopped", tt.ret, st.UpstreamRequest)
		}
	}
}

// TestTrailersAndNetworkReturnValuesAsEnvoy: trailers map anything but 0
// to StopIteration (convertVmCallResultToFilterTrailersStatus), the
// network callbacks anything but 0 (ContextBase::onDownstreamData: result
// == 0 ? Continue : StopIteration).
func TestTrailersAndNetworkReturnValuesAsEnvoy(t *testing.T) {
	for _, ret := range []int8{0, 1, 2, -1} {
		r := post("x")
		r.Trailers = []Header{{"grpc-status", "0"}}
		_, res := replayActions(t, actionsConfig{reqTrailers: ret}, capStream(r, ok200("")))
		st := res.Streams[0]
		want := "StopIteration"
		if ret == 0 {
			want = "Continue"
		}
		if got := st.Callbacks[2]; got.Callback != "proxy_on_request_trailers" || got.Action != want || (st.UpstreamRequest != nil) != (ret == 0) {
			t.Errorf("trailers returning %d: %+v, upstream %v; want %s", ret, got, st.UpstreamRequest, want)
		}

		tcp := CaptureStream{Kind: "tcp", TCP: []TCPEvent{{Downstream: &Chunk{Data: []byte("ab")}}, {Upstream: &Chunk{Data: []byte("xyz")}}}}
		_, res = replayActions(t, actionsConfig{newConnection: ret, downstreamData: ret, upstreamData: ret}, tcp)
		st = res.Streams[0]
		for _, cb := range st.Callbacks {
			if cb.Action != want {
				t.Errorf("network callbacks returning %d: %+v, want %s", ret, cb, want)
			}
		}
	}
}

// TestTCPDataHeldAsEnvoy: data a network callback stopped on stays in the
// connection's buffer (Network::FilterManagerImpl::onContinueReading
// passes the connection's read buffer, which only a filter drains) and is
// seen again, with what arrived since, by the next call; a call that
// continues forwards it all. The upstream direction likewise (the write
// filter leaves the buffer to its caller). Closes come with their peer
// type, an upstream end of stream as close type Unknown
// (Context::onWrite), and the TCP order is done, log, delete
// (Context::onCloseTCP).
func TestTCPDataHeldAsEnvoy(t *testing.T) {
	tcp := CaptureStream{Kind: "tcp", TCP: []TCPEvent{
		{Downstream: &Chunk{Data: []byte("ab")}},
		{Downstream: &Chunk{Data: []byte("cde")}},
		{Upstream: &Chunk{Data: []byte("xy")}},
		{Upstream: &Chunk{Data: []byte("z")}, EndStream: true},
		{Close: "downstream", Peer: "local"},
	}}
	calls, res := replayActions(t, actionsConfig{downstreamData: 1, upstreamData: 1}, tcp)
	want := []string{
		"proxy_on_context_create(2, 1)", "proxy_on_new_connection(2)",
		"proxy_on_downstream_data(2, 2, 0)", "proxy_on_downstream_data(2, 5, 0)",
		"proxy_on_upstream_data(2, 2, 0)", "proxy_on_upstream_data(2, 3, 1)",
		"proxy_on_upstream_connection_close(2, 0)", "proxy_on_downstream_connection_close(2, 1)",
		"proxy_on_done(2)", "proxy_on_log(2)", "proxy_on_delete(2)",
	}
	if got := streamCalls(calls, "2"); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
	if st := res.Streams[0]; st.DownstreamForwarded != 0 || st.UpstreamForwarded != 0 {
		t.Errorf("forwarded %d down, %d up; want nothing (every call stopped)", st.DownstreamForwarded, st.UpstreamForwarded)
	}
	// Continue: each chunk goes on alone.
	calls, res = replayActions(t, actionsConfig{}, tcp)
	if got := streamCalls(calls, "2"); got[3] != "proxy_on_downstream_data(2, 3, 0)" || res.Streams[0].DownstreamForwarded != 5 || res.Streams[0].UpstreamForwarded != 3 {
		t.Errorf("continuing: calls %q, %+v", got, res.Streams[0])
	}
}

// TestHTTPCallbackOrderAsEnvoy: Envoy runs the access log before the
// filter's onDestroy (ConnectionManagerImpl::doDeferredStreamDestroy: log,
// then destroyFilters): proxy_on_log, proxy_on_done, proxy_on_delete. A
// headers-only request gets no body callback; trailers follow the body; a
// request of headers and trailers has no body callback either.
func TestHTTPCallbackOrderAsEnvoy(t *testing.T) {
	r := post("abc")
	r.Trailers = []Header{{"x-t", "1"}}
	trailersOnly := req("POST", "/")
	trailersOnly.Trailers = []Header{{"x-t", "1"}}
	calls, _ := replayActions(t, actionsConfig{}, capStream(req("GET", "/"), ok200("")), capStream(r, ok200("hi")),
		capStream(trailersOnly, ok200("")))
	if got, want := streamCalls(calls, "2"), []string{
		"proxy_on_context_create(2, 1)", "proxy_on_request_headers(2, 5, 1)", "proxy_on_response_headers(2, 2, 1)",
		"proxy_on_log(2)", "proxy_on_done(2)", "proxy_on_delete(2)",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("headers only:\n%q\nwant\n%q", got, want)
	}
	if got, want := streamCalls(calls, "3"), []string{
		"proxy_on_context_create(3, 1)", "proxy_on_request_headers(3, 5, 0)", "proxy_on_request_body(3, 3, 0)",
		"proxy_on_request_trailers(3, 1)", "proxy_on_response_headers(3, 2, 0)", "proxy_on_response_body(3, 2, 1)",
		"proxy_on_log(3)", "proxy_on_done(3)", "proxy_on_delete(3)",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("with body and trailers:\n%q\nwant\n%q", got, want)
	}
	// Headers and trailers, no data: no body callback.
	if got, want := streamCalls(calls, "4"), []string{
		"proxy_on_context_create(4, 1)", "proxy_on_request_headers(4, 5, 0)", "proxy_on_request_trailers(4, 1)",
		"proxy_on_response_headers(4, 2, 1)", "proxy_on_log(4)", "proxy_on_done(4)", "proxy_on_delete(4)",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("trailers only:\n%q\nwant\n%q", got, want)
	}
}

// TestLocalReplyThroughTheFilterAsEnvoy: a local reply sent while the
// request is decoded goes down the filter chain (FilterManager::
// sendLocalReplyViaFilterChain), so the plugin's own response callbacks
// see it; Utility::prepareLocalReply shapes it (content-length and
// text/plain for a body; for a gRPC request a trailers-only 200 with
// grpc-status and grpc-message; for HEAD no body). Sent once the response
// headers went to the client, it resets the stream; sent while they are
// held, it goes to the client past the filters (FilterManager::
// sendLocalReply, sendDirectLocalReply).
func TestLocalReplyThroughTheFilterAsEnvoy(t *testing.T) {
	grpc := req("POST", "/pkg.Svc/M", "content-type", "application/grpc")
	grpc.Body = []Chunk{{Data: []byte("\x00\x00\x00\x00\x00")}}
	for _, tt := range []struct {
		name     string
		flags    byte
		request  *HTTPMessage
		calls    []string
		response *Message
		reset    string
	}{
		{"in request headers", denyInRequestHeaders, post("abc"),
			[]string{"proxy_on_request_headers(2, 5, 0)", "proxy_on_response_headers(2, 3, 0)", "proxy_on_response_body(2, 6, 1)"},
			&Message{Headers: []Header{{":status", "403"}, {"content-length", "6"}, {"content-type", "text/plain"}}, Body: "denied"}, ""},
		{"gRPC request", denyInRequestHeaders, grpc,
			[]string{"proxy_on_request_headers(2, 6, 0)", "proxy_on_response_headers(2, 4, 1)"},
			&Message{Headers: []Header{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "7"}, {"grpc-message", "denied"}}}, ""},
		{"HEAD request", denyInRequestHeaders, req("HEAD", "/"),
			[]string{"proxy_on_request_headers(2, 5, 1)", "proxy_on_response_headers(2, 3, 1)"},
			&Message{Headers: []Header{{":status", "403"}, {"content-length", "6"}, {"content-type", "text/plain"}}}, ""},
		{"in response headers", denyInResponseHeaders, req("GET", "/"),
			[]string{"proxy_on_request_headers(2, 5, 1)", "proxy_on_response_headers(2, 2, 0)"},
			&Message{Headers: []Header{{":status", "403"}, {"content-length", "6"}, {"content-type", "text/plain"}}, Body: "denied"}, ""},
		{"in response body", denyInResponseBody, req("GET", "/"),
			[]string{"proxy_on_request_headers(2, 5, 1)", "proxy_on_response_headers(2, 2, 0)", "proxy_on_response_body(2, 5, 1)"},
			nil, "wasm_denied"},
	} {
		calls, res := replayActions(t, actionsConfig{flags: tt.flags}, capStream(tt.request, ok200("hello")))
		var got []string
		for _, c := range streamCalls(calls, "2") {
			if strings.Contains(c, "_headers") || strings.Contains(c, "_body") {
				got = append(got, c)
			}
		}
		st := res.Streams[0]
		if !reflect.DeepEqual(got, tt.calls) {
			t.Errorf("%s: calls %q, want %q", tt.name, got, tt.calls)
		}
		if !reflect.DeepEqual(st.Response, tt.response) || st.Reset != tt.reset {
			t.Errorf("%s: response %+v, reset %q; want %+v, %q", tt.name, st.Response, st.Reset, tt.response, tt.reset)
		}
	}
}

// TestLocalReplyMessageAsEnvoy: Utility::prepareLocalReply case by case.
func TestLocalReplyMessageAsEnvoy(t *testing.T) {
	for _, tt := range []struct {
		name       string
		lr         LocalReply
		grpc, head bool
		want       Message
	}{
		{"plugin's content-type kept", LocalReply{Status: 400, Body: "{}", Headers: []Header{{"content-type", "application/json"}}}, false, false,
			Message{Headers: []Header{{":status", "400"}, {"content-type", "application/json"}, {"content-length", "2"}}, Body: "{}"}},
		{"no body: content-length and content-type removed", LocalReply{Status: 204, Headers: []Header{{"content-length", "9"}, {"content-type", "x/y"}, {"x-a", "1"}}}, false, false,
			Message{Headers: []Header{{":status", "204"}, {"x-a", "1"}}}},
		{"plugin's headers added as addCopy adds them", LocalReply{Status: 302, Headers: []Header{{"Location", "/a"}, {"location", "/b"}, {"x-a", "1"}, {"x-a", "2"}}}, false, false,
			Message{Headers: []Header{{":status", "302"}, {"location", "/a,/b"}, {"x-a", "1"}, {"x-a", "2"}}}},
		{"grpc: the code given", LocalReply{Status: 429, Body: "slow down", GrpcStatus: 8}, true, false,
			Message{Headers: []Header{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "8"}, {"grpc-message", "slow down"}}}},
		{"grpc: -1 is the HTTP status mapped", LocalReply{Status: 503, GrpcStatus: -1}, true, false,
			Message{Headers: []Header{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "14"}}}},
		{"grpc: the plugin's grpc-status wins, grpc-message percent-encoded", LocalReply{Status: 401, Body: "100% ~nö\n", GrpcStatus: 3,
			Headers: []Header{{"grpc-status", "16"}, {"content-length", "3"}}}, true, false,
			Message{Headers: []Header{{":status", "200"}, {"grpc-status", "16"}, {"content-type", "application/grpc"}, {"grpc-message", "100%25 %7En%C3%B6%0A"}}}},
		{"grpc HEAD: no grpc-message", LocalReply{Status: 403, Body: "no", GrpcStatus: -1}, true, true,
			Message{Headers: []Header{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "7"}}}},
	} {
		if got := localReplyMessage(&tt.lr, tt.grpc, tt.head); !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%s:\n%+v\nwant\n%+v", tt.name, *got, tt.want)
		}
	}
	for _, tt := range []struct {
		headers []Header
		grpc    bool
	}{
		{[]Header{{":path", "/"}, {"content-type", "application/grpc"}}, true},
		{[]Header{{":path", "/"}, {"content-type", "application/grpc+proto"}}, true},
		{[]Header{{":path", "/"}, {"content-type", "application/grpc-web"}}, false},
		{[]Header{{"content-type", "application/grpc"}}, false}, // no :path
		{[]Header{{":path", "/"}}, false},
	} {
		if got := isGrpcRequest(tt.headers); got != tt.grpc {
			t.Errorf("isGrpcRequest(%v) = %v", tt.headers, got)
		}
	}
}

// TestInlineHeadersAsEnvoy: HeaderMapImpl::insertByKey (source/common/
// http/header_map_impl.cc) appends a second value of an inline header to
// the first with ',' (appendToHeader, nothing for an empty value); other
// headers repeat. In request headers "host" is the :authority slot.
func TestInlineHeadersAsEnvoy(t *testing.T) {
	h := newHarness(t, VMConfig{})
	hs := h.stream.http
	add := func(m abi.MapType, k, v string) {
		t.Helper()
		kp, kn := h.str(k)
		vp, vn := h.str(v)
		h.expect("add "+k, h.call("proxy_add_header_map_value", uint64(m), kp, kn, vp, vn), abi.Ok)
	}
	for _, tt := range []struct {
		name  string
		m     abi.MapType
		start []Header
		ops   func()
		want  []Header
	}{
		{"inline request headers join", abi.HttpRequestHeaders,
			[]Header{{":method", "GET"}, {"x-forwarded-for", "1.1.1.1"}, {"content-type", ""}},
			func() {
				add(abi.HttpRequestHeaders, "X-Forwarded-For", "2.2.2.2")
				add(abi.HttpRequestHeaders, "content-type", "text/plain")
				add(abi.HttpRequestHeaders, "x-forwarded-for", "")
				add(abi.HttpRequestHeaders, "x-custom", "a")
				add(abi.HttpRequestHeaders, "x-custom", "b")
				add(abi.HttpRequestHeaders, "user-agent", "curl") // inline, absent: a new entry
				add(abi.HttpRequestHeaders, "user-agent", "wget")
			},
			[]Header{{":method", "GET"}, {"x-forwarded-for", "1.1.1.1,2.2.2.2"}, {"content-type", "text/plain"},
				{"x-custom", "a"}, {"x-custom", "b"}, {"user-agent", "curl,wget"}}},
		{"host is :authority", abi.HttpRequestHeaders,
			[]Header{{":method", "GET"}, {":authority", "a.com"}},
			func() { add(abi.HttpRequestHeaders, "Host", "b.com") },
			[]Header{{":method", "GET"}, {":authority", "a.com,b.com"}}},
		{"response headers: their own inline set", abi.HttpResponseHeaders,
			[]Header{{":status", "200"}, {"server", "envoy"}, {"x-forwarded-for", "1"}, {"grpc-status", "0"}},
			func() {
				add(abi.HttpResponseHeaders, "server", "wasm")
				add(abi.HttpResponseHeaders, "x-forwarded-for", "2") // request-only inline
				add(abi.HttpResponseHeaders, "grpc-status", "1")
				add(abi.HttpResponseHeaders, "host", "h") // not :authority here
			},
			[]Header{{":status", "200"}, {"server", "envoy,wasm"}, {"x-forwarded-for", "1"}, {"grpc-status", "0,1"},
				{"x-forwarded-for", "2"}, {"host", "h"}}},
	} {
		m := newHeaderMap(tt.start)
		switch tt.m {
		case abi.HttpRequestHeaders:
			hs.reqHeaders, hs.reqHeadersOn = m, true
		case abi.HttpResponseHeaders:
			hs.respHeaders, hs.respHeadersOn = m, true
		}
		tt.ops()
		if !reflect.DeepEqual(m.h, tt.want) {
			t.Errorf("%s:\n%v\nwant\n%v", tt.name, m.h, tt.want)
		}
	}

	// get, replace and remove of "host" act on :authority.
	hs.reqHeaders = newHeaderMap([]Header{{":method", "GET"}, {":authority", "a.com"}})
	k, kn := h.str("host")
	p, s := h.out()
	h.expect("get host", h.call("proxy_get_header_map_value", 0, k, kn, p, s), abi.Ok)
	if got := h.bytesAt(p, s); got != "a.com" {
		t.Errorf("get host = %q, want :authority's a.com", got)
	}
	v, vn := h.str("c.com")
	h.expect("replace host", h.call("proxy_replace_header_map_value", 0, k, kn, v, vn), abi.Ok)
	if want := []Header{{":method", "GET"}, {":authority", "c.com"}}; !reflect.DeepEqual(hs.reqHeaders.h, want) {
		t.Errorf("replace host: %v, want %v", hs.reqHeaders.h, want)
	}
	h.expect("remove host", h.call("proxy_remove_header_map_value", 0, k, kn), abi.Ok)
	if want := []Header{{":method", "GET"}}; !reflect.DeepEqual(hs.reqHeaders.h, want) {
		t.Errorf("remove host: %v, want %v", hs.reqHeaders.h, want)
	}

	// proxy_set_header_map_pairs adds with addCopy too.
	pairs := encodePairs([]Header{{":method", "GET"}, {"content-type", "a"}, {"content-type", "b"}, {"x", "1"}, {"x", "2"}})
	pp, pn := h.str(string(pairs))
	h.expect("set pairs", h.call("proxy_set_header_map_pairs", 0, pp, pn), abi.Ok)
	if want := []Header{{":method", "GET"}, {"content-type", "a,b"}, {"x", "1"}, {"x", "2"}}; !reflect.DeepEqual(hs.reqHeaders.h, want) {
		t.Errorf("set pairs: %v, want %v", hs.reqHeaders.h, want)
	}

	// A reused map (the next request's) keeps last time's addition past
	// its end; adding it again to a map that has the inline header
	// already joins it, it does not take the old entry back.
	m := &headerMap{h: make([]Header, 2, 4)}
	copy(m.h, []Header{{":method", "GET"}, {"content-type", "a"}})
	m.h[:3][2] = Header{"content-type", "b"}
	hs.reqHeaders = m
	add(abi.HttpRequestHeaders, "content-type", "b")
	if want := []Header{{":method", "GET"}, {"content-type", "a,b"}}; !reflect.DeepEqual(m.h, want) {
		t.Errorf("reused map: %v, want %v", m.h, want)
	}
}

// TestRootContextCreateSeesPluginConfiguration: ContextBase::onStart sets
// temp_plugin_ around the root's proxy_on_context_create, so Envoy's
// getBuffer(PluginConfiguration) answers there (and in
// proxy_on_configure), not in proxy_on_vm_start.
func TestRootContextCreateSeesPluginConfiguration(t *testing.T) {
	m := compileFile(t, "testdata/wat/actions.wasm", Options{Timeout: time.Second})
	c := &Capture{Version: 1, Plugin: PluginConfig{Configuration: actionsConfig{}.bytes()},
		Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond}}
	text, _, _ := run(t, m, c, Callbacks)
	if !strings.Contains(string(text), "configuration readable") {
		t.Errorf("the root's proxy_on_context_create could not read the plugin configuration:\n%s", text)
	}
}

// TestBodyBufferLimitAsEnvoy: a body a plugin buffers
// (StopIterationAndBuffer) past the buffer limit (Envoy's default
// per_connection_buffer_limit_bytes, 1 MiB) trips the filter manager's
// watermark: 413 "Payload Too Large" down the filter chain for a request
// (the plugin is not called with the chunk that went over, and sees the
// 413 in its response callbacks); for a response a 500, which resets the
// stream once its headers went out (requestDataTooLarge,
// responseDataTooLarge).
func TestBodyBufferLimitAsEnvoy(t *testing.T) {
	chunk := strings.Repeat("x", 600<<10)
	calls, res := replayActions(t, actionsConfig{reqBody: 1}, capStream(post(chunk, chunk), ok200("")))
	want := []string{
		"proxy_on_context_create(2, 1)", "proxy_on_request_headers(2, 5, 0)", "proxy_on_request_body(2, 614400, 0)",
		"proxy_on_response_headers(2, 3, 0)", "proxy_on_response_body(2, 17, 1)",
		"proxy_on_log(2)", "proxy_on_done(2)", "proxy_on_delete(2)",
	}
	st := res.Streams[0]
	if got := streamCalls(calls, "2"); !reflect.DeepEqual(got, want) || st.Response.Status() != "413" || st.UpstreamRequest != nil {
		t.Errorf("request over the limit: calls %q, response %+v; want %q and a 413", got, st.Response, want)
	}
	resp := ok200(chunk)
	resp.Body = append(resp.Body, Chunk{Data: []byte(chunk)})
	_, res = replayActions(t, actionsConfig{respBody: 1}, capStream(req("GET", "/"), resp))
	if st := res.Streams[0]; st.Reset != "response_payload_too_large" || st.Response != nil {
		t.Errorf("response over the limit: reset %q, response %+v; want a reset", st.Reset, st.Response)
	}
	// Under the limit nothing happens.
	_, res = replayActions(t, actionsConfig{reqBody: 1}, capStream(post("a", "b"), ok200("")))
	if st := res.Streams[0]; st.LocalReply != nil {
		t.Errorf("small body: local reply %+v", st.LocalReply)
	}
}

// TestCodecHeadersAsEnvoy: the codecs add what arrives with addViaMove,
// which is insertByKey: a request's host header is :authority, repeated
// inline headers are one entry, others repeat.
func TestCodecHeadersAsEnvoy(t *testing.T) {
	for _, tt := range []struct {
		t        abi.MapType
		in, want []Header
	}{
		{abi.HttpRequestHeaders,
			[]Header{{":method", "GET"}, {":path", "/"}, {"host", "a.com"}, {"x-forwarded-for", "1"}, {"cookie", "a=1"}, {"x-forwarded-for", "2"}, {"cookie", "b=2"}},
			[]Header{{":method", "GET"}, {":path", "/"}, {":authority", "a.com"}, {"x-forwarded-for", "1,2"}, {"cookie", "a=1"}, {"cookie", "b=2"}}},
		{abi.HttpRequestHeaders,
			[]Header{{":authority", "a.com"}, {"host", "b.com"}},
			[]Header{{":authority", "a.com"}}},
		{abi.HttpRequestHeaders,
			[]Header{{":method", "GET"}, {"host", "b.com"}, {":authority", "a.com"}, {"host", "c.com"}, {"x", "1"}},
			[]Header{{":method", "GET"}, {":authority", "a.com"}, {"x", "1"}}},
		{abi.HttpResponseHeaders,
			[]Header{{":status", "200"}, {"set-cookie", "a"}, {"set-cookie", "b"}, {"via", "1"}, {"via", "2"}, {"host", "h"}},
			[]Header{{":status", "200"}, {"set-cookie", "a"}, {"set-cookie", "b"}, {"via", "1,2"}, {"host", "h"}}},
	} {
		if got := codecHeaders(tt.t, tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %v:\n%v\nwant\n%v", tt.t, tt.in, got, tt.want)
		}
	}
	plain := []Header{{":method", "GET"}, {"content-type", "a"}, {"x", "1"}, {"x", "2"}}
	if got := codecHeaders(abi.HttpRequestHeaders, plain); &got[0] != &plain[0] {
		t.Errorf("headers Envoy files as they are were copied")
	}
}

// TestRequestHeadersHostProperty: request.headers.host is :authority
// (HeadersWrapper gets through the request map's static lookup).
func TestRequestHeadersHostProperty(t *testing.T) {
	h := newHarness(t, VMConfig{})
	if got, st := h.property("request\x00headers\x00host"); st != abi.Ok || got != "example.com" {
		t.Errorf("request.headers.host = %q %s, want Ok and :authority's example.com", got, st)
	}
}
