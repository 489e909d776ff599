package replay

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// PropertyTree holds the properties a capture provides (node metadata,
// cluster names, anything the plugin reads with proxy_get_property). A path
// is a list of segments (the ABI separates them with NUL bytes); leaves are
// already serialized as Envoy serializes CEL values: strings and bytes raw,
// integers as 8 little-endian bytes, booleans as one byte, maps as
// header-map pairs (Envoy source/extensions/common/wasm/context.cc
// serializeValue).
type PropertyTree struct {
	root *propNode
}

type propNode struct {
	leaf     []byte
	isLeaf   bool
	keys     []string
	children map[string]*propNode
	// foldKeys: a header map, whose keys are looked up lower-cased.
	foldKeys bool
}

// NewPropertyTree returns an empty tree.
func NewPropertyTree() *PropertyTree { return &PropertyTree{root: &propNode{}} }

// Set stores a serialized leaf at path, creating maps on the way.
func (t *PropertyTree) Set(path []string, value []byte) {
	n := t.root
	for _, seg := range path {
		n = n.child(seg)
	}
	n.isLeaf, n.leaf, n.children, n.keys = true, value, nil, nil
}

func (n *propNode) child(seg string) *propNode {
	if n.children == nil {
		n.children = map[string]*propNode{}
		n.isLeaf = false
	}
	c := n.children[seg]
	if c == nil {
		c = &propNode{}
		n.children[seg] = c
		n.keys = append(n.keys, seg)
	}
	return c
}

func (n *propNode) serialize() []byte {
	if n.isLeaf {
		return n.leaf
	}
	hs := make([]Header, len(n.keys))
	for i, k := range n.keys {
		hs[i] = Header{Name: k, Value: string(n.children[k].serialize())}
	}
	return encodePairs(hs)
}

// PropertyString, PropertyInt and PropertyBool serialize leaves.
func PropertyString(s string) []byte { return []byte(s) }

// PropertyInt serializes an int64.
func PropertyInt(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// PropertyUint serializes a uint64.
func PropertyUint(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// PropertyDouble serializes a float64.
func PropertyDouble(v float64) []byte {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
}

// PropertyBool serializes a bool.
func PropertyBool(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

// getProperty is Envoy's Context::getProperty: the first segment names an
// attribute (capture-provided first, then the standard ones, then values
// the plugin set with proxy_set_property), the rest walk into maps.
func (vm *VM) getProperty(c *hostContext, path string) ([]byte, abi.Status) {
	// Envoy splits the path at NULs and stops at its end, so one trailing
	// NUL ends the last segment rather than starting an empty one: the
	// C++ SDK's getProperty NUL-terminates every segment, the last too
	// ("source\x00address\x00").
	path = strings.TrimSuffix(path, "\x00")
	if path == "" {
		return nil, abi.NotFound
	}
	segs := strings.Split(path, "\x00")
	var n *propNode
	if t := vm.cfg.Properties; t != nil && t.root.children != nil {
		n = t.root.children[segs[0]]
	}
	if n == nil {
		n = vm.standardAttribute(c, segs[0])
	}
	if n == nil {
		if v, ok := c.filterState[segs[0]]; ok {
			n = &propNode{isLeaf: true, leaf: v}
		}
	}
	if n == nil {
		if from, ok := configAttributes[segs[0]]; ok {
			vm.note(fmt.Sprintf("property %s is not in the capture, so the plugin got NotFound; Envoy answers it from %s: give it under host.properties", segs[0], from))
		}
		return nil, abi.NotFound
	}
	for _, seg := range segs[1:] {
		if n.isLeaf || n.children == nil {
			return nil, abi.NotFound
		}
		if n.foldKeys {
			seg = strings.ToLower(seg)
		}
		n = n.children[seg]
		if n == nil {
			return nil, abi.NotFound
		}
	}
	if len(segs) == 1 && wrapperAttributes[segs[0]] && !n.isLeaf {
		// Envoy's wrappers for these (RequestWrapper, PeerWrapper, …)
		// cannot list their keys, so serializeValue fails on them.
		return nil, abi.SerializationFailure
	}
	return n.serialize(), abi.Ok
}

// wrapperAttributes are the top-level attributes Envoy answers with a
// BaseWrapper map (source/extensions/filters/common/expr/context.h), whose
// ListKeys is unimplemented: reading one whole is a SerializationFailure
// (Context::serializeValue); only their fields can be read.
var wrapperAttributes = map[string]bool{
	"request": true, "response": true, "connection": true, "upstream": true,
	"source": true, "destination": true, "xds": true,
	"filter_state": true, "upstream_filter_state": true,
}

// configAttributes are the attributes Envoy answers from its configuration
// or its upstream connection rather than from what the stream carries
// (envoy docs "Attributes": upstream, configuration and Wasm attributes;
// source/extensions/common/wasm/context.cc Context::FindValue), which a
// capture gives only when it was told them. Plugins often treat them as
// always there: a Zig SDK example unwraps cluster_name in on_log; Go's
// network example logs upstream.address.
var configAttributes = map[string]string{
	"node": "its configuration", "cluster_name": "its configuration", "cluster_metadata": "its configuration",
	"listener_direction": "its configuration", "listener_metadata": "its configuration",
	"route_name": "its configuration", "route_metadata": "its configuration",
	"virtual_host_name": "its configuration", "virtual_host_metadata": "its configuration",
	"upstream_host_metadata": "its configuration", "filter_chain_name": "its configuration",
	"xds": "its configuration", "upstream": "the upstream connection",
}

func leaf(b []byte) *propNode { return &propNode{isLeaf: true, leaf: b} }

func mapNode(kv ...any) *propNode {
	n := &propNode{}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		var c *propNode
		switch v := v.(type) {
		case *propNode:
			c = v
		case []byte:
			c = leaf(v)
		case string:
			c = leaf([]byte(v))
		}
		if c == nil {
			continue
		}
		key := kv[i].(string)
		if n.children == nil {
			n.children = map[string]*propNode{}
		}
		n.children[key] = c
		n.keys = append(n.keys, key)
	}
	return n
}

// headersNode is Envoy's HeadersWrapper: one key per header name, its
// values joined with ',' (getAllOfHeaderAsString), looked up lower-cased;
// a map Envoy cannot reach reads as empty.
func headersNode(m *headerMap) *propNode {
	n := &propNode{children: map[string]*propNode{}, foldKeys: true}
	if m == nil {
		return n
	}
	for _, h := range m.h {
		if c, ok := n.children[h.Name]; ok {
			c.leaf = append(append(c.leaf, ','), h.Value...)
			continue
		}
		n.children[h.Name] = leaf([]byte(h.Value))
		n.keys = append(n.keys, h.Name)
	}
	return n
}

// requestHeadersNode is headersNode for request headers, where
// HeadersWrapper's get of "host" finds :authority (the request header
// map's static lookup); host is not listed as a key of its own.
func requestHeadersNode(m *headerMap) *propNode {
	n := headersNode(m)
	if a, ok := n.children[":authority"]; ok {
		if _, ok := n.children["host"]; !ok {
			n.children["host"] = a
		}
	}
	return n
}

// standardAttribute computes Envoy's attributes for the context
// (envoy docs "Attributes"; Filters::Common::Expr wrappers): request,
// response, source, destination, connection, and the plugin_* ones.
func (vm *VM) standardAttribute(c *hostContext, name string) *propNode {
	switch name {
	case "plugin_name":
		if c.kind == kindVM {
			return nil
		}
		return leaf([]byte(vm.cfg.PluginName))
	case "plugin_root_id":
		if c.kind == kindVM {
			return leaf(nil)
		}
		return leaf([]byte(vm.cfg.RootID))
	case "plugin_vm_id":
		return leaf([]byte(vm.cfg.VMID))
	}
	var info *StreamInfo
	switch {
	case c.http != nil:
		info = c.http.stream.info
	case c.tcp != nil:
		info = c.tcp.stream.info
	}
	if info == nil {
		return nil
	}
	switch name {
	case "connection_id":
		return leaf(PropertyUint(info.ConnectionID))
	case "connection":
		return mapNode("id", PropertyUint(info.ConnectionID), "mtls", PropertyBool(false))
	case "source":
		return peerNode(info.Source)
	case "destination":
		return peerNode(info.Destination)
	case "request":
		if c.http == nil {
			return nil
		}
		return vm.requestNode(c.http, info)
	case "response":
		if c.http == nil {
			return nil
		}
		return vm.responseNode(c.http)
	}
	return nil
}

func peerNode(addr string) *propNode {
	if addr == "" {
		return nil
	}
	n := mapNode("address", addr)
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		if p, err := strconv.ParseInt(addr[i+1:], 10, 64); err == nil {
			n = mapNode("address", addr, "port", PropertyInt(p))
		}
	}
	return n
}

// requestNode is Envoy's RequestWrapper (source/extensions/filters/common/
// expr/context.cc RequestLookupValues): header-based keys only while the
// request headers are reachable (during the request callbacks that have
// not continued, and in proxy_on_log); time, size and total_size always.
func (vm *VM) requestNode(h *httpStream, info *StreamInfo) *propNode {
	kv := []any{"time", PropertyInt(info.StartTime)}
	if info.Protocol != "" {
		kv = append(kv, "protocol", info.Protocol)
	}
	// Envoy's StreamInfo::bytesReceived: the body received so far.
	received := int64(len(h.forwardedReqBody))
	var m *headerMap
	if h.reqHeadersOn || h.accessLog {
		m = h.reqHeaders
	}
	kv = append(kv, "headers", requestHeadersNode(m))
	if m == nil {
		kv = append(kv, "size", PropertyInt(received), "total_size", PropertyInt(received))
	} else {
		get := func(k string) string { v, _ := m.get([]byte(k)); return v }
		// A key read from a header the request lacks is absent, as
		// Envoy's convertHeaderEntry answers: NotFound, not "".
		opt := func(k string) any {
			if v, ok := m.get([]byte(k)); ok {
				return v
			}
			return (*propNode)(nil)
		}
		path := get(":path")
		urlPath, query, _ := strings.Cut(path, "?")
		query, _, _ = strings.Cut(query, "#")
		kv = append(kv, "path", opt(":path"), "url_path", urlPath, "host", opt(":authority"),
			"scheme", opt(":scheme"), "method", opt(":method"),
			"referer", opt("referer"), "useragent", opt("user-agent"), "id", opt("x-request-id"),
			"query", query)
		// size is the content-length when there is one (absent when it
		// is not a number), else the bytes received.
		if cl, ok := m.get([]byte("content-length")); !ok {
			kv = append(kv, "size", PropertyInt(received))
		} else if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
			kv = append(kv, "size", PropertyInt(n))
		}
		kv = append(kv, "total_size", PropertyInt(received+int64(m.byteSize())))
	}
	if h.accessLog {
		// StreamInfo::requestComplete is set before the access log runs
		// (and only then): Envoy answers a CEL duration, 8 bytes of
		// nanoseconds.
		kv = append(kv, "duration", PropertyInt(vm.clock.UnixNano()-info.StartTime))
	}
	return mapNode(kv...)
}

// responseNode is Envoy's ResponseWrapper (ResponseLookupValues): the
// code and its details once there is a response, the maps Envoy can reach
// (empty otherwise), and the sizes, which exist from the start.
func (vm *VM) responseNode(h *httpStream) *propNode {
	var kv []any
	var headers, trailers *headerMap
	if h.respHeadersOn || h.accessLog {
		headers = h.respHeaders
	}
	if h.respTrailersOn || h.accessLog {
		trailers = h.respTrailers
	}
	code := int64(-1)
	if h.respHeaders != nil {
		status, _ := h.respHeaders.get([]byte(":status"))
		if c, err := strconv.ParseInt(status, 10, 64); err == nil {
			code = c
			kv = append(kv, "code", PropertyInt(code))
		}
		details := "via_upstream"
		if h.localReply != nil {
			details = h.localReply.Details
		}
		kv = append(kv, "code_details", details)
	}
	kv = append(kv, "flags", PropertyInt(0), "headers", headersNode(headers), "trailers", headersNode(trailers))
	// grpc_status: Grpc::Common::getGrpcStatus looks in the trailers,
	// then the headers, then maps the HTTP status.
	grpcStatus, found := int64(-1), false
	for _, m := range []*headerMap{trailers, headers} {
		if m == nil {
			continue
		}
		if gs, ok := m.get([]byte("grpc-status")); ok {
			// A value that is not a known status reads as Unknown
			// (Grpc::Common::getGrpcStatus without user-defined codes).
			found, grpcStatus = true, 2
			if v, err := strconv.ParseUint(gs, 10, 32); err == nil && v <= 16 {
				grpcStatus = int64(v)
			}
			break
		}
	}
	if !found && code >= 0 {
		grpcStatus = httpToGrpcStatus(code)
	}
	if grpcStatus >= 0 {
		kv = append(kv, "grpc_status", PropertyInt(grpcStatus))
	}
	// Envoy's StreamInfo::bytesSent: the body sent so far.
	size := int64(len(h.forwardedRespBody))
	total := size
	if headers != nil {
		total += int64(headers.byteSize())
	}
	if trailers != nil {
		total += int64(trailers.byteSize())
	}
	kv = append(kv, "size", PropertyInt(size), "total_size", PropertyInt(total))
	return mapNode(kv...)
}

// httpToGrpcStatus is Envoy's Grpc::Utility::httpToGrpcStatus, the gRPC
// status a response without grpc-status stands for.
func httpToGrpcStatus(code int64) int64 {
	switch code {
	case 400:
		return 13 // Internal
	case 401:
		return 16 // Unauthenticated
	case 403:
		return 7 // PermissionDenied
	case 404:
		return 12 // Unimplemented
	case 429, 502, 503, 504:
		return 14 // Unavailable
	}
	return 2 // Unknown
}

// StreamInfo is what Envoy's StreamInfo knows about a stream that the
// capture provides: addresses, protocol, start time, connection id.
type StreamInfo struct {
	Source       string // "10.0.0.1:51234"
	Destination  string
	Protocol     string // "HTTP/1.1", "HTTP/2"
	StartTime    int64  // Unix nanoseconds
	ConnectionID uint64
}
