package replay

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// HTTPCallRequest is an http_call as the plugin made it.
type HTTPCallRequest struct {
	Cluster   string
	Headers   []Header
	Body      []byte
	Trailers  []Header
	TimeoutMS uint32
}

// HTTPCallResponse answers an http_call. Failure "reset" delivers Envoy's
// onHttpCallFailure (status BrokenConnection, message "reset", no headers);
// "timeout" delivers the 504 Envoy's async client answers with.
type HTTPCallResponse struct {
	Headers  []Header
	Body     []byte
	Trailers []Header
	Failure  string
}

// GrpcCallRequest is a proxy_grpc_call or proxy_grpc_stream.
type GrpcCallRequest struct {
	Cluster  string
	Service  string
	Method   string
	Metadata []Header
	Message  []byte
	Stream   bool
}

// GrpcCallResponse answers a gRPC call: unary calls deliver the first
// message (proxy_on_grpc_receive) on success, or proxy_on_grpc_close with
// Status on failure; streams deliver every part in order.
type GrpcCallResponse struct {
	InitialMetadata  []Header
	Messages         [][]byte
	TrailingMetadata []Header
	Status           int32
	Message          string
}

// CallResponder answers the plugin's outgoing calls. stream is the stream
// whose callback was running (nil for root-context calls: on_tick,
// on_configure).
type CallResponder interface {
	KnownCluster(name string) bool
	HTTPCall(stream *Stream, req *HTTPCallRequest) *HTTPCallResponse
	GrpcCall(stream *Stream, req *GrpcCallRequest) *GrpcCallResponse
}

type noCalls struct{}

func (noCalls) KnownCluster(string) bool                             { return false }
func (noCalls) HTTPCall(*Stream, *HTTPCallRequest) *HTTPCallResponse { return nil }
func (noCalls) GrpcCall(*Stream, *GrpcCallRequest) *GrpcCallResponse { return nil }

// callResponse is the root context's http_call_response_ while
// proxy_on_http_call_response runs.
type callResponse struct {
	headers, trailers *headerMap
	body              []byte
}

// Callout ids: cpp-host WasmBase::nextHttpCallId and friends (include/
// proxy-wasm/wasm.h): http calls 4, 8, …; gRPC calls 5, 9, …; gRPC streams
// 6, 10, …; id & 3 is the kind.
const (
	calloutHTTP       = 0
	calloutGrpcCall   = 1
	calloutGrpcStream = 2
)

func (vm *VM) nextCallout(kind int) uint32 {
	vm.nextCallID[kind] += 4
	return vm.nextCallID[kind] + uint32(kind)
}

func hasHeader(hs []Header, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

func (vm *VM) proxyHTTPCall(s []uint64) uint32 {
	upstream, ok1 := vm.read(arg32(s, 0), arg32(s, 1))
	hdrs, ok2 := vm.read(arg32(s, 2), arg32(s, 3))
	body, ok3 := vm.read(arg32(s, 4), arg32(s, 5))
	trls, ok4 := vm.read(arg32(s, 6), arg32(s, 7))
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return status(abi.InvalidMemoryAccess)
	}
	tokenPtr := arg32(s, 9)
	if !vm.setWord(tokenPtr, 0) {
		return status(abi.InvalidMemoryAccess)
	}
	headers, _ := decodePairs(hdrs)
	trailers, _ := decodePairs(trls)
	req := &HTTPCallRequest{Cluster: string(upstream), Headers: headers, Body: append([]byte(nil), body...),
		Trailers: trailers, TimeoutMS: arg32(s, 8)}
	rec := CallRecord{Cluster: req.Cluster, Headers: headers, Body: string(body)}
	st := abi.Ok
	switch {
	case int32(req.TimeoutMS) < 0:
		st = abi.BadArgument
	case !vm.calls.KnownCluster(req.Cluster):
		st = abi.BadArgument
		vm.note(fmt.Sprintf("http_call to unknown cluster %q answered BadArgument, as Envoy does; list it under \"clusters\" in the capture", req.Cluster))
	case !hasHeader(headers, ":path") || !hasHeader(headers, ":method") || !hasHeader(headers, ":authority"):
		st = abi.BadArgument
		vm.note("http_call without :path, :method or :authority answered BadArgument, as Envoy does")
	}
	rec.Status = st.String()
	stream := vm.activeStream
	if st != abi.Ok {
		vm.recordCall(stream, rec, false)
		return status(st)
	}
	token := vm.nextCallout(calloutHTTP)
	rec.Token = token
	vm.setWord(tokenPtr, token)
	if ac, ok := vm.calls.(AsyncCallResponder); ok {
		return vm.asyncHTTPCall(ac, stream, req, rec)
	}
	resp := vm.calls.HTTPCall(stream, req)
	switch {
	case resp == nil:
		rec.Response = "reset (no answer in the capture)"
		vm.note(fmt.Sprintf("the capture has no answer for http_call #%d to %q; answered as a reset connection", token, req.Cluster))
		resp = &HTTPCallResponse{Failure: "reset"}
	case resp.Failure != "":
		rec.Response = resp.Failure
	default:
		rec.Response = ":status " + headerValue(resp.Headers, ":status")
	}
	idx := vm.recordCall(stream, rec, false)
	vm.async = append(vm.async, func() { vm.deliverHTTPCall(stream, idx, token, resp) })
	return status(abi.Ok)
}

func headerValue(hs []Header, name string) string {
	for _, h := range hs {
		if len(h.Name) == len(name) && (h.Name == name || strings.EqualFold(h.Name, name)) {
			return h.Value
		}
	}
	return ""
}

// recordCall appends a call record to the stream (or the root record) and
// returns its index.
func (vm *VM) recordCall(stream *Stream, rec CallRecord, grpc bool) int {
	list := &vm.rootCalls
	if stream != nil {
		list = &stream.HTTPCalls
		if grpc {
			list = &stream.GrpcCalls
		}
	} else if grpc {
		list = &vm.rootGrpcCalls
	}
	*list = append(*list, rec)
	return len(*list) - 1
}

// deliverHTTPCall is Envoy's onHttpCallSuccess / onHttpCallFailure followed
// by ContextBase::onHttpCallResponse on the root context.
func (vm *VM) deliverHTTPCall(stream *Stream, _ int, token uint32, resp *HTTPCallResponse) {
	root := vm.rootCtx
	cb := vm.cbs.httpCallResponse
	if vm.failed || root == nil {
		return
	}
	saved := vm.activeStream
	vm.activeStream = stream
	defer func() { vm.activeStream = saved }()
	switch resp.Failure {
	case "reset":
		// Envoy's onHttpCallFailure sets the status before it calls in.
		root.statusCode, root.statusMessage = uint32(abi.BrokenConnection), "reset"
		if cb != nil {
			vm.callDeferred(root, cb, uint64(root.id), uint64(token), 0, 0, 0)
		}
		root.statusMessage = ""
		return
	case "timeout":
		resp = &HTTPCallResponse{Headers: []Header{{":status", "504"}, {"content-length", "24"}, {"content-type", "text/plain"}},
			Body: []byte("upstream request timeout")}
	}
	if cb == nil {
		return
	}
	cr := &callResponse{headers: newHeaderMap(resp.Headers), body: resp.Body}
	if len(resp.Trailers) > 0 {
		cr.trailers = newHeaderMap(resp.Trailers)
	}
	root.callResponse = cr
	nt := 0
	if cr.trailers != nil {
		nt = len(cr.trailers.h)
	}
	vm.callDeferred(root, cb, uint64(root.id), uint64(token), uint64(len(cr.headers.h)), uint64(len(cr.body)), uint64(nt))
	root.callResponse = nil
}

// grpcCluster reads the cluster out of proxy_grpc_call's first argument: a
// serialized envoy.config.core.v3.GrpcService (envoy_grpc = 1 { cluster_name
// = 1 }), or, when the bytes are not a protobuf message, the cluster name
// itself (Envoy Context::grpcCall).
func grpcCluster(b []byte) (cluster string, proto bool) {
	fields, ok := protoFields(b)
	if !ok {
		return string(b), false
	}
	for _, f := range fields {
		if f.num == 1 && f.wire == 2 {
			inner, ok := protoFields(f.data)
			if !ok {
				continue
			}
			for _, g := range inner {
				if g.num == 1 && g.wire == 2 {
					return string(g.data), true
				}
			}
		}
	}
	return "", true
}

type protoField struct {
	num  uint64
	wire uint8
	data []byte
}

// protoFields splits protobuf wire format into fields; ok is false unless
// the whole input parses.
func protoFields(b []byte) ([]protoField, bool) {
	var out []protoField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		f := protoField{num: uint64(num), wire: uint8(typ)}
		v := b[n:]
		m := protowire.ConsumeFieldValue(num, typ, v)
		if m < 0 {
			return nil, false
		}
		if typ == protowire.BytesType {
			f.data, _ = protowire.ConsumeBytes(v)
		}
		out = append(out, f)
		b = v[m:]
	}
	return out, true
}

func (vm *VM) grpcRequest(s []uint64, stream bool) (*GrpcCallRequest, abi.Status) {
	svc, ok1 := vm.read(arg32(s, 0), arg32(s, 1))
	service, ok2 := vm.read(arg32(s, 2), arg32(s, 3))
	method, ok3 := vm.read(arg32(s, 4), arg32(s, 5))
	md, ok4 := vm.read(arg32(s, 6), arg32(s, 7))
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, abi.InvalidMemoryAccess
	}
	req := &GrpcCallRequest{Service: string(service), Method: string(method), Stream: stream}
	req.Metadata, _ = decodePairs(md)
	if !stream {
		msg, ok := vm.read(arg32(s, 8), arg32(s, 9))
		if !ok {
			return nil, abi.InvalidMemoryAccess
		}
		req.Message = append([]byte(nil), msg...)
	}
	cluster, proto := grpcCluster(svc)
	req.Cluster = cluster
	if !proto && !vm.calls.KnownCluster(cluster) {
		vm.note(fmt.Sprintf("gRPC call to unknown cluster %q answered ParseFailure, as Envoy does", cluster))
		return req, abi.ParseFailure
	}
	return req, abi.Ok
}

func (vm *VM) proxyGrpcCall(s []uint64) uint32 { return vm.grpcStart(s, false, 11) }

func (vm *VM) proxyGrpcStream(s []uint64) uint32 { return vm.grpcStart(s, true, 8) }

func (vm *VM) grpcStart(s []uint64, isStream bool, tokenPtr int) uint32 {
	req, st := vm.grpcRequest(s, isStream)
	stream := vm.activeStream
	if st != abi.Ok {
		if req != nil {
			vm.recordCall(stream, CallRecord{Cluster: req.Cluster, Service: req.Service, Method: req.Method, Status: st.String()}, true)
		}
		return status(st)
	}
	kind := calloutGrpcCall
	if isStream {
		kind = calloutGrpcStream
	}
	token := vm.nextCallout(kind)
	if !vm.setWord(arg32(s, tokenPtr), token) {
		return status(abi.InvalidMemoryAccess)
	}
	rec := CallRecord{Token: token, Cluster: req.Cluster, Service: req.Service, Method: req.Method,
		Headers: req.Metadata, Body: string(req.Message), Status: abi.Ok.String()}
	var resp *GrpcCallResponse
	if vm.calls.KnownCluster(req.Cluster) {
		resp = vm.calls.GrpcCall(stream, req)
	}
	if resp == nil {
		resp = &GrpcCallResponse{Status: 14, Message: "no answer in the capture"}
		vm.note(fmt.Sprintf("the capture has no answer for gRPC call #%d to %q; answered with status 14 (Unavailable)", token, req.Cluster))
	}
	rec.Response = fmt.Sprintf("grpc-status %d", resp.Status)
	vm.recordCall(stream, rec, true)
	vm.grpcOpen[token] = 0
	vm.async = append(vm.async, func() { vm.deliverGrpc(stream, token, isStream, resp) })
	return status(abi.Ok)
}

// deliverGrpc plays a gRPC answer to the root context as Envoy's async
// client callbacks do (Context::onGrpcReceiveWrapper, …CloseWrapper).
func (vm *VM) deliverGrpc(stream *Stream, token uint32, isStream bool, resp *GrpcCallResponse) {
	root := vm.rootCtx
	if _, open := vm.grpcOpen[token]; root == nil || !open {
		return
	}
	saved := vm.activeStream
	vm.activeStream = stream
	defer func() { vm.activeStream = saved }()
	id := uint64(root.id)
	if !isStream {
		if resp.Status == 0 && len(resp.Messages) > 0 {
			if cb := vm.cbs.grpcReceive; cb != nil && !vm.failed {
				root.grpcMessage, root.hasGrpcMessage = resp.Messages[0], true
				vm.callDeferred(root, cb, id, uint64(token), uint64(len(resp.Messages[0])))
				root.grpcMessage, root.hasGrpcMessage = nil, false
			}
			delete(vm.grpcOpen, token)
			return
		}
		vm.grpcCloseCallback(token, resp)
		return
	}
	if cb := vm.cbs.grpcInitialMetadata; cb != nil && len(resp.InitialMetadata) > 0 && !vm.failed {
		root.grpcInitial = newHeaderMap(resp.InitialMetadata)
		vm.callDeferred(root, cb, id, uint64(token), uint64(len(resp.InitialMetadata)))
		root.grpcInitial = nil
	}
	for _, msg := range resp.Messages {
		if cb := vm.cbs.grpcReceive; cb != nil && !vm.failed && vm.grpcIsOpen(token) {
			root.grpcMessage, root.hasGrpcMessage = msg, true
			vm.callDeferred(root, cb, id, uint64(token), uint64(len(msg)))
			root.grpcMessage, root.hasGrpcMessage = nil, false
		}
	}
	if cb := vm.cbs.grpcTrailingMetadata; cb != nil && len(resp.TrailingMetadata) > 0 && !vm.failed && vm.grpcIsOpen(token) {
		root.grpcTrailing = newHeaderMap(resp.TrailingMetadata)
		vm.callDeferred(root, cb, id, uint64(token), uint64(len(resp.TrailingMetadata)))
		root.grpcTrailing = nil
	}
	if vm.grpcIsOpen(token) {
		vm.grpcCloseCallback(token, resp)
	}
}

// grpcClosed says which sides of a gRPC stream have closed (Envoy's
// GrpcStreamClientHandler local_closed_ and remote_closed_): a stream stays
// in Envoy's grpc_stream_ until both have.
type grpcClosed uint8

const (
	grpcLocalClosed grpcClosed = 1 << iota
	grpcRemoteClosed
)

// grpcIsOpen says the call or stream is still in Envoy's maps, so its
// answers are delivered (a stream the plugin half-closed still receives).
func (vm *VM) grpcIsOpen(token uint32) bool {
	_, ok := vm.grpcOpen[token]
	return ok
}

// grpcCloseCallback is Envoy's onGrpcCloseWrapper: proxy_on_grpc_close,
// then the cleanup that forgets a call, or a stream the plugin has closed
// too (one it has not stays, and proxy_grpc_close still answers Ok).
func (vm *VM) grpcCloseCallback(token uint32, resp *GrpcCallResponse) {
	root := vm.rootCtx
	defer func() {
		if token&3 == calloutGrpcStream && vm.grpcOpen[token]&grpcLocalClosed == 0 {
			vm.grpcOpen[token] |= grpcRemoteClosed
			return
		}
		delete(vm.grpcOpen, token)
	}()
	cb := vm.cbs.grpcClose
	if cb == nil || vm.failed {
		return
	}
	root.statusCode, root.statusMessage = uint32(resp.Status), resp.Message
	vm.callDeferred(root, cb, uint64(root.id), uint64(token), uint64(uint32(resp.Status)))
	root.statusMessage = ""
}

// proxyGrpcSend is Envoy's Context::grpcSend: BadArgument for an id that is
// not a stream's, NotFound for a stream Envoy has forgotten; a stream the
// plugin has half-closed still answers Ok.
func (vm *VM) proxyGrpcSend(s []uint64) uint32 {
	token := arg32(s, 0)
	if _, ok := vm.read(arg32(s, 1), arg32(s, 2)); !ok {
		return status(abi.InvalidMemoryAccess)
	}
	if token&3 != calloutGrpcStream {
		return status(abi.BadArgument)
	}
	if !vm.grpcIsOpen(token) {
		return status(abi.NotFound)
	}
	return status(abi.Ok)
}

func (vm *VM) proxyGrpcCancel(s []uint64) uint32 { return vm.grpcEnd(arg32(s, 0), true) }

func (vm *VM) proxyGrpcClose(s []uint64) uint32 { return vm.grpcEnd(arg32(s, 0), false) }

// grpcEnd is Envoy's Context::grpcCancel and grpcClose: a call is
// cancelled either way; a stream is reset by cancel, and half-closed by
// close, which forgets it only once the remote side has closed too.
func (vm *VM) grpcEnd(token uint32, cancel bool) uint32 {
	k := token & 3
	if k != calloutGrpcCall && k != calloutGrpcStream {
		return status(abi.BadArgument)
	}
	closed, ok := vm.grpcOpen[token]
	if !ok {
		return status(abi.NotFound)
	}
	if k == calloutGrpcStream && !cancel && closed&grpcRemoteClosed == 0 {
		vm.grpcOpen[token] = closed | grpcLocalClosed
		return status(abi.Ok)
	}
	delete(vm.grpcOpen, token)
	return status(abi.Ok)
}
