package replay

import (
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// runHTTP replays one HTTP stream in Envoy's order (reference §9.5):
// context create, request headers, body chunks, trailers; the response (the
// captured one, or the plugin's local reply); then proxy_on_log,
// proxy_on_done, proxy_on_delete.
func (r *runner) runHTTP(idx int, cs *CaptureStream) *Stream {
	vm := r.vm
	req := cs.Request
	// One allocation for everything a stream keeps (this runs per
	// request), or none when the last stream was dropped (Repeat).
	mem := r.httpAlloc()
	reqHeaders := r.lowerHeaders(0, req.Headers)
	st := &mem.stream // zeroed
	st.Index, st.ID, st.Kind = idx, cs.ID, "http"
	st.Method, st.Path = r.lowered[0].method, r.lowered[0].path
	st.mem, mem.raw = mem, mem.rawBuf[:0]
	st.info = r.fillStreamInfo(&mem.info, cs, idx)
	var resp *HTTPMessage // asked for when the request reaches the upstream (r.response)
	if vm.failed && vm.rootCtx == nil || vm.failed && r.failOpen() {
		// No filter instance (the VM never started) or fail open: Envoy
		// does not add the filter to the chain.
		if r.failOpen() {
			st.FailedOpen = true
			st.UpstreamRequest = &Message{Headers: lowerAll(req.Headers), Body: string(joinChunks(req.Body)), Trailers: lowerAll(req.Trailers)}
			resp = r.response(cs, st, st.UpstreamRequest)
			st.Response = &Message{Headers: lowerAll(resp.Headers), Body: string(joinChunks(resp.Body)), Trailers: lowerAll(resp.Trailers)}
			return st
		}
		st.LocalReply = &LocalReply{Status: 503, Details: "wasm_fail_stream", GrpcStatus: 14, ByHost: true}
		st.Response = localReplyMessage(st.LocalReply, r.lowered[0].grpc, st.Method == "HEAD")
		return st
	}

	c := vm.newContextIn(&mem.ctx, kindHTTP, vm.rootCtx.id)
	h := &mem.http // zeroed
	h.vm, h.ctx, h.stream, h.mem = vm, c, st, mem
	// FilterManager::requestHeadersInitialized: what a local reply is
	// shaped by, from the request as it arrived.
	h.grpcRequest, h.headRequest = r.lowered[0].grpc, st.Method == "HEAD"
	c.http = h
	st.ContextID = c.id
	vm.activeStream = st

	// decodeHeaders
	r.onCreate(c)
	h.decoding = true
	h.reqHeaders = &mem.reqHeaders
	h.reqHeaders.share(reqHeaders)
	h.reqHeadersOn = true
	eos := len(req.Body) == 0 && len(req.Trailers) == 0
	h.endOfStream = eos
	a := r.callHeaders(c, st, vm.cbs.requestHeaders, len(req.Headers), eos)
	if a == 0 {
		h.reqHeadersOn = false
	} else {
		h.reqStopped, h.reqStoppedBy = true, stopReason("proxy_on_request_headers", abi.ResultHeadersAction, a)
	}
	r.settle()

	if h.reqStopped && h.localReply == nil && h.reset == "" {
		// Stopped at the headers (StopAll…): Envoy holds the body until
		// the plugin resumes; only a tick can still do that.
		r.waitResume(&h.reqStopped)
	}
	if !h.reqStopped {
		for i, chunk := range req.Body {
			if h.localReply != nil || h.reset != "" || vm.failed && h.failReply {
				break
			}
			r.decodeData(c, st, h, chunk.Data, i == len(req.Body)-1 && len(req.Trailers) == 0)
		}
		if len(req.Trailers) > 0 && h.localReply == nil && h.reset == "" && c.created {
			h.reqTrailers = newHeaderMap(lowerAll(req.Trailers))
			h.reqTrailersOn = true
			ta := r.callFilter(c, st, vm.cbs.requestTrailers, abi.ResultTrailersAction, uint64(c.id), uint64(len(req.Trailers)))
			if ta == 0 {
				// The trailers continue: what the body callbacks held
				// goes upstream before them.
				h.reqTrailersOn = false
				h.reqStopped = true
				h.resume(abi.StreamHttpRequest)
			} else {
				h.reqStopped, h.reqStoppedBy = true, stopReason("proxy_on_request_trailers", abi.ResultTrailersAction, ta)
			}
			r.settle()
		}
	}
	h.decoding = false
	if h.localReply == nil && h.reset == "" && r.waitResume(&h.reqStopped) {
		st.Stalled = "the request never reached the upstream: " + h.reqStoppedBy.String() + " and nothing resumed it (proxy_continue_stream)"
	}

	switch {
	case h.reset != "":
		st.Reset = h.reset
	case h.localReply != nil:
		r.encodeLocalReply(c, st, h)
	case st.Stalled != "":
	default:
		// The maps are not written after this point (only the access log
		// reads them): the result shares their storage.
		st.UpstreamRequest = &mem.upstream
		*st.UpstreamRequest = Message{Headers: h.reqHeaders.h, Body: string(h.forwardedReqBody)}
		if h.reqTrailers != nil {
			st.UpstreamRequest.Trailers = h.reqTrailers.h
		}
		mem.reqBefore, mem.reqAfter, mem.diffReq = reqHeaders, h.reqHeaders.h, true
		st.RequestBodyChanged = string(joinChunks(req.Body)) != st.UpstreamRequest.Body
		resp = r.response(cs, st, st.UpstreamRequest)
		r.encode(c, st, h, r.lowerHeaders(1, resp.Headers), resp.Body, lowerAll(resp.Trailers))
		if h.localReply != nil && st.Response == nil && st.Reset == "" {
			// A local reply sent while the response was being processed
			// replaces it.
			st.Response = h.localReplyMessage(h.localReply)
			st.LocalReply = h.localReply
		}
	}

	// Access log, then onDestroy (Envoy's order: log, done, delete).
	if !c.created {
		r.onCreate(c)
	}
	if !vm.failed && vm.cbs.log != nil && c.created {
		h.accessLog = true
		vm.callDeferred(c, vm.cbs.log, uint64(c.id))
		h.accessLog = false
		vm.drainAsync()
	}
	r.destroy(c, false)
	if vm.crash != nil && st.Trapped {
		st.Trapped = true
	}
	vm.activeStream = nil
	return st
}

// httpAlloc holds what one HTTP stream needs, allocated at once (and
// reused, see runner.httpAlloc).
type httpAlloc struct {
	stream      Stream
	http        httpStream
	ctx         hostContext
	info        StreamInfo
	upstream    Message
	response    Message
	reqHeaders  headerMap
	respHeaders headerMap
	callbacks   [6]CallbackRecord
	// the storage of the header diffs: added entries from the front,
	// removed ones after them.
	reqDiff, respDiff [4]Header

	// What finishRecord makes the stream's record of, when the record is
	// kept: the callbacks as they returned, and the header lists before
	// and after the plugin (the maps are not written after that point).
	raw                   []rawCallback
	rawBuf                [6]rawCallback
	diffReq, diffResp     bool
	reqBefore, reqAfter   []Header
	respBefore, respAfter []Header
}

// rawCallback is a CallbackRecord before its texts are made.
type rawCallback struct {
	name        string
	kind        abi.Result
	raw, action uint32
}

// finishRecord completes the record of an HTTP stream that is kept (a
// dropped one, in the quiet passes of Repeat, skips the work): its
// callbacks' texts and the header diffs.
func (st *Stream) finishRecord() {
	mem := st.mem
	if mem == nil {
		return
	}
	st.Callbacks = mem.callbacks[:0]
	if len(mem.raw) > 0 {
		for _, c := range mem.raw {
			rec := CallbackRecord{Callback: c.name, Return: c.raw, Action: resultMeaning(c.kind, c.action)}
			if c.raw != c.action {
				rec.Returned = resultMeaning(c.kind, c.raw)
			}
			st.Callbacks = append(st.Callbacks, rec)
		}
		mem.raw = mem.raw[:0]
	}
	if mem.diffReq {
		st.RequestHeadersAdded, st.RequestHeadersRemoved = diffHeaders(mem.reqBefore, mem.reqAfter, mem.reqDiff[:0])
		mem.diffReq = false
	}
	if mem.diffResp {
		st.ResponseHeadersAdded, st.ResponseHeadersRemoved = diffHeaders(mem.respBefore, mem.respAfter, mem.respDiff[:0])
		mem.diffResp = false
	}
}

// alloc returns the allocation the stream lives in.
func (h *httpStream) alloc() *httpAlloc { return h.mem }

// httpAlloc returns storage for a stream: the last dropped stream's, else
// a new one.
func (r *runner) httpAlloc() *httpAlloc {
	mem := r.spare
	if mem == nil {
		return &httpAlloc{}
	}
	r.spare = nil
	// Only the stream's record and state start from zero: the context,
	// stream info and messages are written whole before they are used,
	// the record's lists are appended to from empty, and the header maps
	// keep the storage they copied the capture's headers into
	// (headerMap.own), so a plugin that adds a header on every request
	// allocates nothing.
	mem.stream = Stream{}
	mem.http = httpStream{}
	mem.reqHeaders.reuse()
	mem.respHeaders.reuse()
	return mem
}

// drop hands the storage of a stream nobody keeps to the next one.
func (r *runner) drop(st *Stream) {
	if st.mem != nil {
		r.spare = st.mem
	}
}

// stopCause is which callback stopped a stream's iteration and how, for
// the text of a stalled stream.
type stopCause struct {
	callback string
	kind     abi.Result
	action   uint32
}

func (s stopCause) String() string {
	return s.callback + " stopped iteration (" + resultMeaning(s.kind, s.action) + ")"
}

func stopReason(cb string, kind abi.Result, action uint32) stopCause {
	return stopCause{cb, kind, action}
}

func (r *runner) callHeaders(c *hostContext, st *Stream, cb *callback, n int, eos bool) uint32 {
	if r.vm.mod.info.abi == abi.Version010 {
		return r.callFilter(c, st, cb, abi.ResultHeadersAction, uint64(c.id), uint64(n))
	}
	return r.callFilter(c, st, cb, abi.ResultHeadersAction, uint64(c.id), uint64(n), boolArg(eos))
}

func boolArg(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// decodeData is Envoy's Context::decodeData: after StopIterationAndBuffer
// the next call sees everything buffered so far.
func (r *runner) decodeData(c *hostContext, st *Stream, h *httpStream, data []byte, eos bool) {
	if !c.created {
		return
	}
	wasBuffering := h.bufferingReq
	if wasBuffering && len(h.pendingReqBody)+len(data) > bufferLimit {
		// Context::decodeData adds the chunk to the decoding buffer first;
		// past the limit its high watermark answers 413 down the filter
		// chain (ActiveStreamDecoderFilter::requestDataTooLarge) and the
		// plugin is not called with it.
		h.sendLocalReply(&LocalReply{Status: 413, Body: "Payload Too Large", Details: "request_payload_too_large", GrpcStatus: -1})
		h.pendingReqBody = nil
		return
	}
	var visible []byte
	if wasBuffering {
		visible = append(h.pendingReqBody, data...)
		h.pendingReqBody = nil
	} else {
		visible = append([]byte(nil), data...)
	}
	h.reqBody = bodyBuffer{data: visible, mutable: true}
	h.reqBodyOn = true
	h.endOfStream = eos
	a := r.callFilter(c, st, r.vm.cbs.requestBody, abi.ResultDataAction, uint64(c.id), uint64(len(visible)), boolArg(eos))
	h.bufferingReq = false
	switch a {
	case 0:
		h.forwardedReqBody = append(append(h.forwardedReqBody, h.pendingReqBody...), h.reqBody.data...)
		h.pendingReqBody = nil
		h.reqBodyOn = false
		h.reqStopped = false
	case uint32(abi.DataStopIterationAndBuffer):
		h.bufferingReq = true
		h.pendingReqBody = append(h.pendingReqBody, h.reqBody.data...)
		h.reqStopped, h.reqStoppedBy = true, stopReason("proxy_on_request_body", abi.ResultDataAction, a)
	case uint32(abi.DataStopIterationAndWatermark):
		// The filter manager buffers it (commonHandleAfterDataCallback);
		// the next call sees only the new chunk.
		h.pendingReqBody = append(h.pendingReqBody, h.reqBody.data...)
		h.reqStopped, h.reqStoppedBy = true, stopReason("proxy_on_request_body", abi.ResultDataAction, a)
	default:
		// StopIterationNoBuffer: the filter manager does not buffer the
		// chunk (the filter was to keep it, which a plugin cannot), so
		// it is gone, unless the call was buffering: Context::decodeData
		// had added it to the buffer already (addDecodedData).
		if wasBuffering {
			h.pendingReqBody = append(h.pendingReqBody, h.reqBody.data...)
		}
		h.reqStopped, h.reqStoppedBy = true, stopReason("proxy_on_request_body", abi.ResultDataAction, a)
	}
	r.settle()
}

// encodeData is decodeData for the response.
func (r *runner) encodeData(c *hostContext, st *Stream, h *httpStream, data []byte, eos bool) {
	if !c.created || h.failReply {
		h.forwardedRespBody = append(h.forwardedRespBody, data...)
		return
	}
	wasBuffering := h.bufferingResp
	if wasBuffering && len(h.pendingRespBody)+len(data) > bufferLimit {
		// ActiveStreamEncoderFilter::responseDataTooLarge: a 500, which
		// resets the stream when the headers went out already.
		h.sendLocalReply(&LocalReply{Status: 500, Body: "Internal Server Error", Details: "response_payload_too_large", GrpcStatus: -1})
		h.pendingRespBody = nil
		return
	}
	var visible []byte
	if wasBuffering {
		visible = append(h.pendingRespBody, data...)
		h.pendingRespBody = nil
	} else {
		visible = append([]byte(nil), data...)
	}
	h.respBody = bodyBuffer{data: visible, mutable: true}
	h.respBodyOn = true
	h.endOfStream = eos
	a := r.callFilter(c, st, r.vm.cbs.responseBody, abi.ResultDataAction, uint64(c.id), uint64(len(visible)), boolArg(eos))
	h.bufferingResp = false
	switch a {
	case 0:
		h.forwardedRespBody = append(append(h.forwardedRespBody, h.pendingRespBody...), h.respBody.data...)
		h.pendingRespBody = nil
		h.respBodyOn = false
		h.respStopped = false
	case uint32(abi.DataStopIterationAndBuffer):
		h.bufferingResp = true
		h.pendingRespBody = append(h.pendingRespBody, h.respBody.data...)
		h.respStopped, h.respStoppedBy = true, stopReason("proxy_on_response_body", abi.ResultDataAction, a)
	case uint32(abi.DataStopIterationAndWatermark):
		// The filter manager buffers it (commonHandleAfterDataCallback);
		// the next call sees only the new chunk.
		h.pendingRespBody = append(h.pendingRespBody, h.respBody.data...)
		h.respStopped, h.respStoppedBy = true, stopReason("proxy_on_response_body", abi.ResultDataAction, a)
	default:
		// StopIterationNoBuffer: the filter manager does not buffer the
		// chunk (the filter was to keep it, which a plugin cannot), so
		// it is gone, unless the call was buffering: Context::decodeData
		// had added it to the buffer already (addDecodedData).
		if wasBuffering {
			h.pendingRespBody = append(h.pendingRespBody, h.respBody.data...)
		}
		h.respStopped, h.respStoppedBy = true, stopReason("proxy_on_response_body", abi.ResultDataAction, a)
	}
	r.settle()
}

// bufferLimit is the stream's buffer limit: Envoy's default
// per_connection_buffer_limit_bytes (1 MiB), which the filter manager's
// watermark buffers use. A body a plugin buffers past it is refused.
const bufferLimit = 1 << 20

// encode runs the response through the filter: headers, body chunks,
// trailers, as Envoy's encodeHeaders/encodeData/encodeTrailers do.
func (r *runner) encode(c *hostContext, st *Stream, h *httpStream, headers []Header, body []Chunk, trailers []Header) {
	vm := r.vm
	h.respHeaders = &h.alloc().respHeaders
	h.respHeaders.share(headers)
	original := headers
	if c.created && !h.failReply {
		h.respHeadersOn = true
		eos := len(body) == 0 && len(trailers) == 0
		h.endOfStream = eos
		a := r.callHeaders(c, st, vm.cbs.responseHeaders, len(headers), eos)
		if a == 0 {
			h.respHeadersOn = false
			h.respHeadersSent = true
		} else {
			h.respStopped, h.respStoppedBy = true, stopReason("proxy_on_response_headers", abi.ResultHeadersAction, a)
		}
		r.settle()
	}
	if h.localReply != nil && h.localReply.ByHost {
		st.LocalReply = h.localReply
		st.Response = h.localReplyMessage(h.localReply)
		return
	}
	if !c.created || h.failReply {
		h.respHeadersSent = true // the filter let them pass
	}
	for i, chunk := range body {
		if h.reset != "" || h.localReply != nil && !h.localReplyEncoding {
			break
		}
		r.encodeData(c, st, h, chunk.Data, i == len(body)-1 && len(trailers) == 0)
	}
	r.localReplyTooLate(h)
	if len(trailers) > 0 && h.reset == "" {
		h.respTrailers = newHeaderMap(trailers)
		if c.created && !h.failReply {
			h.respTrailersOn = true
			ta := r.callFilter(c, st, vm.cbs.responseTrailers, abi.ResultTrailersAction, uint64(c.id), uint64(len(trailers)))
			if ta == 0 {
				h.respTrailersOn = false
				h.respStopped = true
				h.resume(abi.StreamHttpResponse)
			} else {
				h.respStopped, h.respStoppedBy = true, stopReason("proxy_on_response_trailers", abi.ResultTrailersAction, ta)
			}
			r.settle()
			r.localReplyTooLate(h)
		}
	}
	if h.reset != "" {
		st.Reset = h.reset
		return
	}
	if h.failReply {
		st.LocalReply = h.localReply
		st.Response = h.localReplyMessage(h.localReply)
		return
	}
	if h.localReply != nil && !h.localReplyEncoding {
		return // sent during the response: the caller reports it
	}
	if r.waitResume(&h.respStopped) {
		st.Stalled = "the response never reached the client: " + h.respStoppedBy.String() + " and nothing resumed it (proxy_continue_stream)"
		return
	}
	st.Response = &h.alloc().response
	*st.Response = Message{Headers: h.respHeaders.h, Body: string(h.forwardedRespBody)}
	if h.respTrailers != nil {
		st.Response.Trailers = h.respTrailers.h
	}
	mem := h.alloc()
	mem.respBefore, mem.respAfter, mem.diffResp = original, h.respHeaders.h, true
	st.ResponseBodyChanged = string(joinChunks(body)) != st.Response.Body
}

// localReplyTooLate is FilterManager::sendLocalReply for a reply sent
// after the response headers went on to the client (the headers callback
// continued): Envoy can only reset the stream, with the reply's details as
// the response code details. Before that (the headers were stopped) the
// reply goes straight to the client, past the filters (sendDirectLocalReply).
func (r *runner) localReplyTooLate(h *httpStream) {
	lr := h.localReply
	if lr == nil || h.localReplyEncoding || !h.respHeadersSent || h.reset != "" {
		return
	}
	details := lr.Details
	if details == "" {
		details = "local_reset"
	}
	h.reset = details
	r.vm.note("a local reply (" + strconv.Itoa(int(lr.Status)) + ") was sent after the response headers had gone to the client; Envoy resets the stream instead (FilterManager::sendLocalReply)")
}

// encodeLocalReply sends the plugin's local reply down the filter chain, as
// Envoy's sendLocalReply does: the plugin sees it in its response callbacks
// (unless it is the host's own failure reply).
func (r *runner) encodeLocalReply(c *hostContext, st *Stream, h *httpStream) {
	lr := h.localReply
	st.LocalReply = lr
	if lr.ByHost {
		st.Response = h.localReplyMessage(lr)
		return
	}
	msg := h.localReplyMessage(lr)
	var body []Chunk
	if msg.Body != "" { // none for gRPC (trailers only) and HEAD
		body = []Chunk{{Data: []byte(msg.Body)}}
	}
	h.localReplyEncoding = true
	r.encode(c, st, h, msg.Headers, body, nil)
	if st.Response == nil && h.failReply {
		st.Response = h.localReplyMessage(h.localReply)
	}
}

// localReplyMessage is the response Envoy builds for a local reply
// (source/common/http/utility.cc, Utility::prepareLocalReply and
// encodeLocalReply): :status, the plugin's headers added as
// HeaderMap::addCopy adds them (inline ones joined with ','), then
//   - for a gRPC request (content-type application/grpc…), a trailers-only
//     answer: :status 200, content-type application/grpc, grpc-status (the
//     plugin's, else the given code if it is 0..16, else the HTTP status
//     mapped), grpc-message the body percent-encoded, no content-length
//     and no body;
//   - otherwise content-length and, unless the plugin set one,
//     content-type text/plain for a body; without a body both are removed;
//     a HEAD request gets the headers only.
func localReplyMessage(lr *LocalReply, grpc, head bool) *Message {
	m := &headerMap{h: make([]Header, 1, 3+len(lr.Headers))}
	m.h[0] = Header{":status", strconv.Itoa(int(lr.Status))}
	for _, h := range lr.Headers {
		m.addCopy(abi.HttpResponseHeaders, h.Name, h.Value)
	}
	if grpc {
		m.set(":status", "200")
		m.set("content-type", "application/grpc")
		if _, ok := m.get([]byte("grpc-status")); !ok {
			code := httpToGrpcStatus(int64(lr.Status))
			if lr.GrpcStatus >= 0 && lr.GrpcStatus <= 16 {
				code = int64(lr.GrpcStatus)
			}
			m.set("grpc-status", strconv.FormatInt(code, 10))
		}
		if lr.Body != "" && !head {
			m.set("grpc-message", percentEncode(lr.Body))
		}
		m.remove("content-length")
		return &Message{Headers: m.h}
	}
	if lr.Body != "" {
		m.set("content-length", strconv.Itoa(len(lr.Body)))
		if _, ok := m.get([]byte("content-type")); !ok {
			m.h = append(m.h, Header{"content-type", "text/plain"})
		}
	} else {
		m.remove("content-length")
		m.remove("content-type")
	}
	msg := &Message{Headers: m.h, Body: lr.Body}
	if head {
		msg.Body = ""
	}
	return msg
}

// percentEncode is Envoy's PercentEncoding::encode with '%' reserved, as
// grpc-message is written: bytes below ' ', from '~' up, and '%' become
// %XX.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= '~' || c == '%' {
			if b == nil {
				b = append(make([]byte, 0, len(s)+8), s[:i]...)
			}
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else if b != nil {
			b = append(b, c)
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// isGrpcRequest is Grpc::Common::isGrpcRequestHeaders: a :path and a
// content-type that is application/grpc, alone or followed by '+'
// (hasGrpcContentType; application/grpc-web is not gRPC).
func isGrpcRequest(hs []Header) bool {
	if _, ok := headerMapGet(hs, ":path"); !ok {
		return false
	}
	ct, _ := headerMapGet(hs, "content-type")
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+')
}

// localReplyMessage is localReplyMessage for this stream's request.
func (h *httpStream) localReplyMessage(lr *LocalReply) *Message {
	return localReplyMessage(lr, h.grpcRequest, h.headRequest)
}

func headerMapGet(hs []Header, name string) (string, bool) {
	for i := range hs {
		if hs[i].Name == name {
			return hs[i].Value, true
		}
	}
	return "", false
}

// pseudoHeader is the value of name in lower-cased headers.
func pseudoHeader(hs []Header, name string) string {
	for i := range hs {
		if hs[i].Name == name {
			return hs[i].Value
		}
	}
	return ""
}

// lowerHeaders is lowerAll for the headers of a capture's request (slot
// 0) or response (slot 1), remembering the last list of each and its
// :method and :path: a replay of many identical requests checks them once. The list is kept (so its
// storage cannot be reused for another list at the same address); a
// capture is not modified while it is replayed.
func (r *runner) lowerHeaders(slot int, hs []Header) []Header {
	c := &r.lowered[slot]
	if len(hs) > 0 && len(c.src) == len(hs) && &c.src[0] == &hs[0] {
		return c.out
	}
	t := abi.HttpRequestHeaders
	if slot == 1 {
		t = abi.HttpResponseHeaders
	}
	out := codecHeaders(t, lowerAll(hs))
	c.src, c.out = hs, out
	c.method, c.path = pseudoHeader(out, ":method"), pseudoHeader(out, ":path")
	c.grpc = slot == 0 && isGrpcRequest(out)
	return out
}

func equalHeaders(a, b []Header) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lowerAll returns hs with lower-cased names; hs itself when they already
// are (the usual case: HTTP/2 and captures write them so).
func lowerAll(hs []Header) []Header {
	for i := range hs {
		if !isLower(hs[i].Name) {
			out := make([]Header, len(hs))
			copy(out, hs[:i])
			for j := i; j < len(hs); j++ {
				out[j] = Header{Name: lower(hs[j].Name), Value: hs[j].Value}
			}
			return out
		}
	}
	return hs
}

func joinChunks(cs []Chunk) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, c.Data...)
	}
	return b
}

// diffHeaders returns the entries of after that are not in before (added or
// changed) and those of before that are gone, appended to buf (added
// first, removed after them). Header lists are short: a quadratic scan is
// cheaper than maps.
func diffHeaders(before, after []Header, buf []Header) (added, removed []Header) {
	if len(before) == len(after) && (len(before) == 0 || &before[0] == &after[0]) {
		return nil, nil // the map was never written
	}
	if len(after) > len(before) && equalHeaders(before, after[:len(before)]) {
		return after[len(before):len(after):len(after)], nil // only added to
	}
	if len(before) == len(after) {
		same := true
		for i := range before {
			if before[i] != after[i] {
				same = false
				break
			}
		}
		if same {
			return nil, nil
		}
	}
	var small [64]bool
	var used []bool
	if len(before) <= len(small) {
		used = small[:len(before)]
	} else {
		used = make([]bool, len(before))
	}
	for _, h := range after {
		found := false
		for i := range before {
			if !used[i] && before[i] == h {
				used[i], found = true, true
				break
			}
		}
		if !found {
			buf = append(buf, h)
		}
	}
	nAdded := len(buf)
	for i, h := range before {
		if !used[i] {
			buf = append(buf, h)
		}
	}
	if nAdded > 0 {
		added = buf[:nAdded:nAdded]
	}
	if len(buf) > nAdded {
		removed = buf[nAdded:len(buf):len(buf)]
	}
	return added, removed
}
