package replay

import (
	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Stream is what happened to one replayed stream: what the plugin saw and
// did, what the upstream and the client would have received. Its JSON form
// is part of the final "result" record of `wasmdbg replay --json`.
type Stream struct {
	Index     int    `json:"index"` // position in the capture, from 0
	ID        string `json:"id,omitempty"`
	Kind      string `json:"kind"` // "http" or "tcp"
	ContextID uint32 `json:"context_id"`
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`

	// Callbacks is each callback the host made for the stream, in order.
	Callbacks []CallbackRecord `json:"callbacks,omitempty"`

	// UpstreamRequest is the request as the plugin let it go to the
	// upstream (after its header changes); nil when it never got there.
	UpstreamRequest *Message `json:"upstream_request,omitempty"`
	// Response is what the client received.
	Response *Message `json:"response,omitempty"`
	// LocalReply is the response the plugin sent itself, if any.
	LocalReply *LocalReply `json:"local_reply,omitempty"`

	RequestHeadersAdded    []Header `json:"request_headers_added,omitempty"`
	RequestHeadersRemoved  []Header `json:"request_headers_removed,omitempty"`
	ResponseHeadersAdded   []Header `json:"response_headers_added,omitempty"`
	ResponseHeadersRemoved []Header `json:"response_headers_removed,omitempty"`

	// RequestBodyChanged and ResponseBodyChanged say the plugin rewrote a
	// body (proxy_set_buffer_bytes).
	RequestBodyChanged  bool `json:"request_body_changed,omitempty"`
	ResponseBodyChanged bool `json:"response_body_changed,omitempty"`

	HTTPCalls []CallRecord `json:"http_calls,omitempty"`
	GrpcCalls []CallRecord `json:"grpc_calls,omitempty"`

	// Stalled says why the stream never completed (a callback stopped
	// iteration and nothing resumed it).
	Stalled string `json:"stalled,omitempty"`
	// Reset is the details of a stream the plugin closed.
	Reset             string `json:"reset,omitempty"`
	Trapped           bool   `json:"trapped,omitempty"`
	FailedOpen        bool   `json:"failed_open,omitempty"` // the VM had failed; the filter was skipped
	RouteCacheCleared bool   `json:"route_cache_cleared,omitempty"`

	// TCP
	DownstreamForwarded int    `json:"downstream_bytes_forwarded,omitempty"`
	UpstreamForwarded   int    `json:"upstream_bytes_forwarded,omitempty"`
	Closed              string `json:"closed,omitempty"`

	Logs int `json:"logs"` // plugin log records during the stream

	info *StreamInfo
	mem  *httpAlloc // the storage an HTTP stream lives in (runHTTP)

	Expectations []ExpectationResult `json:"expectations,omitempty"`

	// Policy says what the failure policy did to the stream (Policy*
	// values), AccessLog how Envoy's access log records it (policy.go;
	// filled in by Access, and for the JSON result by Result.Record).
	Policy    string          `json:"failure_policy,omitempty"`
	AccessLog *AccessLogEntry `json:"access_log,omitempty"`
	// Iteration is the pass of a repeated replay (Repeat) the stream was
	// in, when later than the first.
	Iteration int `json:"iteration,omitempty"`

	bytesReceived int // the request body's length, for the access log
}

// CallbackRecord is one callback: its raw return value and what the host
// made of it.
type CallbackRecord struct {
	Callback string `json:"callback"`
	Return   uint32 `json:"return"`
	// Action is the effective filter status after cpp-host's mapping
	// (StopIteration becomes StopAllIterationAndWatermark, a local
	// response forces a stop).
	Action string `json:"action,omitempty"`
	// Returned names the raw value when Action differs from it.
	Returned string `json:"returned,omitempty"`
}

// Message is an HTTP message: headers, body and trailers.
type Message struct {
	Headers  []Header `json:"headers"`
	Body     string   `json:"body,omitempty"`
	Trailers []Header `json:"trailers,omitempty"`
}

// Status is the :status of a response message, or "".
func (m *Message) Status() string {
	if m == nil {
		return ""
	}
	for _, h := range m.Headers {
		if h.Name == ":status" {
			return h.Value
		}
	}
	return ""
}

// LocalReply is a response sent with proxy_send_local_response (or by the
// host when the VM failed: 503, details "wasm_fail_stream").
type LocalReply struct {
	Status     uint32   `json:"status"`
	Body       string   `json:"body,omitempty"`
	Headers    []Header `json:"headers,omitempty"`
	Details    string   `json:"details,omitempty"`
	GrpcStatus int32    `json:"grpc_status"`
	// ByHost is set for the host's own 503 after a VM failure.
	ByHost bool `json:"by_host,omitempty"`
}

// CallRecord is one http_call or gRPC call the plugin made.
type CallRecord struct {
	Token    uint32   `json:"token"`
	Cluster  string   `json:"cluster"`
	Headers  []Header `json:"headers,omitempty"`
	Body     string   `json:"body,omitempty"`
	Service  string   `json:"service,omitempty"`
	Method   string   `json:"method,omitempty"`
	Status   string   `json:"status"`           // the host call's result (Ok, BadArgument…)
	Response string   `json:"answer,omitempty"` // what the capture answered: ":status 200", "reset", "grpc 0"…
}

// bodyBuffer is a buffer a plugin reads and writes through
// proxy_{get,set}_buffer_bytes. Immutable buffers (configuration, call
// responses, a body outside its callback) refuse writes as Envoy does.
type bodyBuffer struct {
	data    []byte
	mutable bool
}

// copyFrom is Envoy's Buffer::copyFrom for a mutable buffer
// (source/extensions/common/wasm/context.cc): start 0 drains length bytes
// from the front (all of them when length is larger) and prepends data, so
// (0, 0) prepends, (0, n) replaces the first n bytes and (0, size) the
// whole buffer; start >= size appends; any other start is BadArgument.
func (b *bodyBuffer) copyFrom(start, length uint64, data []byte) abi.Status {
	if !b.mutable {
		return abi.BadArgument
	}
	size := uint64(len(b.data))
	switch {
	case start == 0:
		rest := b.data[min(length, size):]
		b.data = append(append(make([]byte, 0, len(data)+len(rest)), data...), rest...)
	case start >= size:
		b.data = append(b.data, data...)
	default:
		return abi.BadArgument
	}
	return abi.Ok
}

// httpStream is the state Envoy's Context keeps for an HTTP stream: which
// maps and buffers the plugin may touch right now (Envoy clears its pointers
// when a callback continues), and the flow of the stream.
type httpStream struct {
	vm     *VM
	ctx    *hostContext
	stream *Stream
	mem    *httpAlloc // what the stream's state is allocated in

	reqHeaders, reqTrailers, respHeaders, respTrailers         *headerMap
	reqHeadersOn, reqTrailersOn, respHeadersOn, respTrailersOn bool
	reqBody, respBody                                          bodyBuffer
	reqBodyOn, respBodyOn                                      bool
	bufferingReq, bufferingResp                                bool
	endOfStream                                                bool
	accessLog                                                  bool
	decoding                                                   bool // in the request phase (trailers may be added)

	reqStopped, respStopped bool // iteration stopped, waiting for proxy_continue_stream
	reqStoppedBy            stopCause
	respStoppedBy           stopCause
	pendingReqBody          []byte
	pendingRespBody         []byte
	forwardedReqBody        []byte
	forwardedRespBody       []byte

	grpcRequest, headRequest bool // shape a local reply (localReplyMessage)
	// respHeadersSent: the response headers went on to the client (the
	// headers callback continued, or the plugin resumed the response), so
	// a local reply can only reset the stream.
	respHeadersSent bool

	localReply         *LocalReply
	localReplyEncoding bool // the plugin's local reply is going through the response callbacks
	failReply          bool // failure_local_reply_sent_
	reset              string
}

func (h *httpStream) sendLocalReply(lr *LocalReply) {
	if h.localReply == nil && !h.failReply {
		h.localReply = lr
	}
}

func (h *httpStream) resume(t abi.StreamType) {
	switch t {
	case abi.StreamHttpRequest:
		if h.reqStopped {
			h.reqStopped = false
			h.forwardedReqBody = append(h.forwardedReqBody, h.pendingReqBody...)
			h.pendingReqBody = nil
			h.bufferingReq = false
		}
	case abi.StreamHttpResponse:
		if h.respStopped {
			h.respStopped = false
			h.respHeadersSent = h.respHeaders != nil
			h.forwardedRespBody = append(h.forwardedRespBody, h.pendingRespBody...)
			h.pendingRespBody = nil
			h.bufferingResp = false
		}
	}
}

func (h *httpStream) resetStream(details string) {
	if h.reset == "" {
		h.reset = details
	}
}

// tcpStream is Envoy's network-filter Context state.
type tcpStream struct {
	vm     *VM
	ctx    *hostContext
	stream *Stream

	downstream, upstream bodyBuffer
	// heldDownstream and heldUpstream are data a callback stopped on:
	// still in the connection's buffer, seen again by the next call.
	heldDownstream, heldUpstream []byte
	downstreamOn, upstreamOn     bool
	downstreamClosed             bool
	upstreamClosed               bool
	closedTCP                    bool
	stopped                      bool
	closeDetails                 string
}

// resume is continueReading (proxy_continue_stream(Downstream)): the
// filters after the plugin run on the connection's buffer, so the data
// the plugin held goes upstream.
func (t *tcpStream) resume() {
	t.stopped = false
	if len(t.heldDownstream) > 0 {
		t.stream.DownstreamForwarded += len(t.heldDownstream)
		t.heldDownstream = nil
		t.downstreamOn = false
	}
}

func (t *tcpStream) close(details string) {
	if t.closeDetails == "" {
		t.closeDetails = details
	}
}

// mutableMap is Envoy's Context::getMap: the maps a plugin may change now.
func (vm *VM) mutableMap(c *hostContext, t abi.MapType) *headerMap {
	h := c.http
	if h == nil {
		return nil
	}
	switch t {
	case abi.HttpRequestHeaders:
		if h.reqHeadersOn {
			return h.reqHeaders
		}
	case abi.HttpRequestTrailers:
		// Trailers can be added to a request whose body ends now.
		if !h.reqTrailersOn && h.reqBodyOn && h.endOfStream && h.decoding {
			h.reqTrailers = newHeaderMap(nil)
			h.reqTrailersOn = true
		}
		if h.reqTrailersOn {
			return h.reqTrailers
		}
	case abi.HttpResponseHeaders:
		if h.respHeadersOn {
			return h.respHeaders
		}
	case abi.HttpResponseTrailers:
		if !h.respTrailersOn && h.respBodyOn && h.endOfStream && !h.decoding {
			h.respTrailers = newHeaderMap(nil)
			h.respTrailersOn = true
		}
		if h.respTrailersOn {
			return h.respTrailers
		}
	}
	return nil
}

// constMap is Envoy's Context::getConstMap: the maps a plugin may read now.
// accessLog reports the access-log phase, where a missing map reads as
// NotFound rather than BadArgument.
func (vm *VM) constMap(c *hostContext, t abi.MapType) (m *headerMap, accessLog bool) {
	root := c.root
	switch t {
	case abi.GrpcReceiveInitialMetadata:
		return root.grpcInitial, false
	case abi.GrpcReceiveTrailingMetadata:
		return root.grpcTrailing, false
	case abi.HttpCallResponseHeaders:
		if r := root.callResponse; r != nil {
			return r.headers, false
		}
		return nil, false
	case abi.HttpCallResponseTrailers:
		if r := root.callResponse; r != nil {
			return r.trailers, false
		}
		return nil, false
	}
	h := c.http
	if h == nil {
		return nil, false
	}
	if h.accessLog {
		switch t {
		case abi.HttpRequestHeaders:
			return h.reqHeaders, true
		case abi.HttpResponseHeaders:
			return h.respHeaders, true
		case abi.HttpResponseTrailers:
			return h.respTrailers, true
		}
		return nil, true
	}
	switch t {
	case abi.HttpRequestHeaders:
		if h.reqHeadersOn {
			return h.reqHeaders, false
		}
	case abi.HttpRequestTrailers:
		if h.reqTrailersOn {
			return h.reqTrailers, false
		}
	case abi.HttpResponseHeaders:
		if h.respHeadersOn {
			return h.respHeaders, false
		}
	case abi.HttpResponseTrailers:
		if h.respTrailersOn {
			return h.respTrailers, false
		}
	}
	return nil, false
}

var emptyBuffer = &bodyBuffer{}

// buffer is Envoy's Context::getBuffer; nil means NotFound.
func (vm *VM) buffer(c *hostContext, t abi.BufferType) *bodyBuffer {
	switch t {
	case abi.CallData:
		return &bodyBuffer{data: c.callData}
	case abi.VmConfiguration:
		return &bodyBuffer{data: vm.cfg.VMConfig}
	case abi.PluginConfiguration:
		if c.tempPluginConfig {
			return &bodyBuffer{data: vm.cfg.PluginConfig}
		}
		return nil
	case abi.HttpRequestBody:
		if h := c.http; h != nil && h.reqBodyOn {
			return &h.reqBody
		}
		return emptyBuffer
	case abi.HttpResponseBody:
		if h := c.http; h != nil && h.respBodyOn {
			return &h.respBody
		}
		return emptyBuffer
	case abi.DownstreamData:
		if t := c.tcp; t != nil && t.downstreamOn {
			return &t.downstream
		}
		return emptyBuffer
	case abi.UpstreamData:
		if t := c.tcp; t != nil && t.upstreamOn {
			return &t.upstream
		}
		return emptyBuffer
	case abi.HttpCallResponseBody:
		if r := c.root.callResponse; r != nil {
			return &bodyBuffer{data: r.body}
		}
		return nil
	case abi.GrpcReceiveBuffer:
		if c.root.hasGrpcMessage {
			return &bodyBuffer{data: c.root.grpcMessage}
		}
		return emptyBuffer
	}
	return nil
}
