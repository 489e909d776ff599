package replay

import (
	"context"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// hostHarness calls host functions directly on a live VM, with arguments
// written into guest memory, in a chosen context.
type hostHarness struct {
	t      *testing.T
	vm     *VM
	stream *hostContext
	next   uint32 // scratch memory for arguments
}

func newHarness(t *testing.T, cfg VMConfig) *hostHarness {
	t.Helper()
	m := compileFile(t, "testdata/wat/hostile.wasm", Options{})
	if cfg.Clock == nil {
		cfg.Clock = NewClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Millisecond)
	}
	vm, err := m.NewVM(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close(context.Background()) })
	h := &hostHarness{t: t, vm: vm, next: 40000}
	s := vm.newContext(kindHTTP, vm.rootCtx.id)
	hs := &httpStream{vm: vm, ctx: s, stream: &Stream{info: &StreamInfo{Source: "10.0.0.1:5555", Destination: "10.0.0.2:80", Protocol: "HTTP/1.1", ConnectionID: 7}}}
	s.http = hs
	hs.reqHeaders = newHeaderMap([]Header{{":method", "GET"}, {":path", "/a?b=c"}, {":authority", "example.com"}, {"x-dup", "1"}, {"x-dup", "2"}})
	hs.reqHeadersOn = true
	s.created = true
	h.stream = s
	vm.current = s
	return h
}

// put copies b into scratch memory and returns its address.
func (h *hostHarness) put(b []byte) uint32 {
	p := h.next
	if !h.vm.mem.Write(p, b) {
		h.t.Fatalf("scratch write at %d failed", p)
	}
	h.next += uint32(len(b)) + 8
	return p
}

func (h *hostHarness) str(s string) (uint64, uint64) {
	return uint64(h.put([]byte(s))), uint64(len(s))
}

// out reserves an 8-byte out-pointer pair and returns (ptrPtr, sizePtr).
func (h *hostHarness) out() (uint64, uint64) {
	p := h.put(make([]byte, 8))
	return uint64(p), uint64(p + 4)
}

func (h *hostHarness) call(name string, args ...uint64) uint32 {
	h.t.Helper()
	impl := envImpls[name]
	if impl == nil {
		impl = wasiImpls[name]
	}
	if impl == nil {
		h.t.Fatalf("no host function %s", name)
	}
	s := make([]uint64, max(len(args), 1))
	copy(s, args)
	r := impl(h.vm, s)
	h.vm.runAfter()
	return r
}

// bytesAt reads what an out-pointer pair points to.
func (h *hostHarness) bytesAt(ptrPtr, sizePtr uint64) string {
	p, _ := h.vm.mem.ReadUint32Le(uint32(ptrPtr))
	n, _ := h.vm.mem.ReadUint32Le(uint32(sizePtr))
	b, ok := h.vm.mem.Read(p, n)
	if !ok {
		h.t.Fatalf("out value at %d+%d is outside memory", p, n)
	}
	return string(b)
}

// property reads a property with proxy_get_property: its value when the
// status is Ok.
func (h *hostHarness) property(path string) (string, abi.Status) {
	k, kn := h.str(path)
	p, s := h.out()
	st := abi.Status(h.call("proxy_get_property", k, kn, p, s))
	if st != abi.Ok {
		return "", st
	}
	return h.bytesAt(p, s), st
}

func (h *hostHarness) u32At(p uint64) uint32 {
	v, _ := h.vm.mem.ReadUint32Le(uint32(p))
	return v
}

func (h *hostHarness) u64At(p uint64) uint64 {
	v, _ := h.vm.mem.ReadUint64Le(uint32(p))
	return v
}

func (h *hostHarness) expect(what string, got uint32, want abi.Status) {
	h.t.Helper()
	if abi.Status(got) != want {
		h.t.Errorf("%s: %s, want %s", what, abi.Status(got), want)
	}
}

func TestHeaderMapFunctions(t *testing.T) {
	h := newHarness(t, VMConfig{})
	rq := uint64(abi.HttpRequestHeaders)
	k, kn := h.str("X-DUP")
	p, s := h.out()
	h.expect("get x-dup", h.call("proxy_get_header_map_value", rq, k, kn, p, s), abi.Ok)
	if v := h.bytesAt(p, s); v != "1" {
		t.Errorf("get returns %q, want the first value", v)
	}
	k, kn = h.str("nope")
	h.expect("get missing", h.call("proxy_get_header_map_value", rq, k, kn, p, s), abi.NotFound)
	h.expect("map type 8", h.call("proxy_get_header_map_value", 8, k, kn, p, s), abi.BadArgument)
	h.expect("response headers not there yet", h.call("proxy_get_header_map_value", uint64(abi.HttpResponseHeaders), k, kn, p, s), abi.BadArgument)
	h.expect("call response headers outside the callback", h.call("proxy_get_header_map_value", uint64(abi.HttpCallResponseHeaders), k, kn, p, s), abi.BadArgument)

	k, kn = h.str("New-Key")
	v, vn := h.str("v")
	h.expect("add", h.call("proxy_add_header_map_value", rq, k, kn, v, vn), abi.Ok)
	k, kn = h.str("x-dup")
	v, vn = h.str("only")
	h.expect("replace", h.call("proxy_replace_header_map_value", rq, k, kn, v, vn), abi.Ok)
	k, kn = h.str(":authority")
	h.expect("remove", h.call("proxy_remove_header_map_value", rq, k, kn), abi.Ok)
	// Replace removes both x-dup entries and adds one at the end (Envoy's
	// HeaderMapImpl::setCopy is remove + addCopy).
	want := []Header{{":method", "GET"}, {":path", "/a?b=c"}, {"new-key", "v"}, {"x-dup", "only"}}
	if got := h.stream.http.reqHeaders.h; !reflect.DeepEqual(got, want) {
		t.Errorf("headers %v, want %v", got, want)
	}
	h.expect("pairs", h.call("proxy_get_header_map_pairs", rq, p, s), abi.Ok)
	if got, ok := decodePairs([]byte(h.bytesAt(p, s))); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("pairs %v, want %v", got, want)
	}
	sz := h.put(make([]byte, 4))
	h.expect("size", h.call("proxy_get_header_map_size", rq, uint64(sz)), abi.Ok)
	if got := h.u32At(uint64(sz)); got != 7+3+5+6+5+4+7+1 {
		t.Errorf("size %d, want the bytes of keys and values (Envoy's byteSize)", got)
	}
	set := h.put(encodePairs([]Header{{"A", "1"}}))
	h.expect("set pairs", h.call("proxy_set_header_map_pairs", rq, uint64(set), uint64(pairsSize([]Header{{"A", "1"}}))), abi.Ok)
	if got := h.stream.http.reqHeaders.h; !reflect.DeepEqual(got, []Header{{"a", "1"}}) {
		t.Errorf("after set pairs: %v", got)
	}
	// After the headers continued, Envoy has forgotten them.
	h.stream.http.reqHeadersOn = false
	h.expect("after continue", h.call("proxy_add_header_map_value", rq, k, kn, v, vn), abi.BadArgument)
	h.expect("empty pairs", h.call("proxy_get_header_map_pairs", rq, p, s), abi.Ok)
	if h.u32At(s) != 0 {
		t.Error("pairs of an unavailable map are not empty")
	}
}

func TestBufferFunctions(t *testing.T) {
	h := newHarness(t, VMConfig{PluginConfig: []byte("plugin-config"), VMConfig: []byte("vm")})
	p, s := h.out()
	h.expect("plugin config outside configure", h.call("proxy_get_buffer_bytes", uint64(abi.PluginConfiguration), 0, 100, p, s), abi.NotFound)
	h.vm.current = h.vm.rootCtx
	h.vm.rootCtx.tempPluginConfig = true
	h.expect("plugin config", h.call("proxy_get_buffer_bytes", uint64(abi.PluginConfiguration), 7, 100, p, s), abi.Ok)
	if got := h.bytesAt(p, s); got != "config" {
		t.Errorf("clamped read %q", got)
	}
	h.expect("read past the end", h.call("proxy_get_buffer_bytes", uint64(abi.PluginConfiguration), 50, 10, p, s), abi.Ok)
	if h.u32At(s) != 0 || h.u32At(p) != 0 {
		t.Error("a read past the end is not empty")
	}
	d, dn := h.str("x")
	h.expect("vm config is read-only", h.call("proxy_set_buffer_bytes", uint64(abi.VmConfiguration), 0, 10, d, dn), abi.BadArgument)
	h.expect("buffer type 9", h.call("proxy_get_buffer_status", 9, p, s), abi.BadArgument)
	h.vm.current = h.stream
	h.stream.http.reqBody, h.stream.http.reqBodyOn = bodyBuffer{data: []byte("body"), mutable: true}, true
	rb := uint64(abi.HttpRequestBody)
	for _, tt := range []struct {
		start, length uint64
		data, want    string
		status        abi.Status
	}{
		{0, 0, ">", ">body", abi.Ok},
		{0, 99, "new", "new", abi.Ok},
		{3, 0, "+", "new+", abi.Ok},
		{1, 1, "?", "new+", abi.BadArgument},
		// Envoy's Buffer::copyFrom: start 0 drains length bytes, then
		// prepends, so a shorter length replaces a prefix.
		{0, 2, "?", "?w+", abi.Ok},
	} {
		d, dn := h.str(tt.data)
		h.expect("set body", h.call("proxy_set_buffer_bytes", rb, tt.start, tt.length, d, dn), tt.status)
		if got := string(h.stream.http.reqBody.data); got != tt.want {
			t.Errorf("set_buffer_bytes(%d, %d, %q): body %q, want %q", tt.start, tt.length, tt.data, got, tt.want)
		}
	}
	h.expect("status", h.call("proxy_get_buffer_status", rb, p, s), abi.Ok)
	if h.u32At(p) != 3 {
		t.Errorf("body size %d", h.u32At(p))
	}
	h.stream.http.reqBodyOn = false
	h.expect("body outside its callback", h.call("proxy_get_buffer_status", rb, p, s), abi.Ok)
	if h.u32At(p) != 0 {
		t.Error("body outside its callback is not empty")
	}
}

func TestSharedDataAndQueues(t *testing.T) {
	h := newHarness(t, VMConfig{VMID: "vm1"})
	k, kn := h.str("counter")
	p, s := h.out()
	cas := uint64(h.put(make([]byte, 4)))
	h.expect("get missing", h.call("proxy_get_shared_data", k, kn, p, s, cas), abi.NotFound)
	v, vn := h.str("1")
	h.expect("set", h.call("proxy_set_shared_data", k, kn, v, vn, 0), abi.Ok)
	h.expect("get", h.call("proxy_get_shared_data", k, kn, p, s, cas), abi.Ok)
	if h.bytesAt(p, s) != "1" || h.u32At(cas) != 1 {
		t.Errorf("value %q cas %d", h.bytesAt(p, s), h.u32At(cas))
	}
	h.expect("set with a stale cas", h.call("proxy_set_shared_data", k, kn, v, vn, 7), abi.CasMismatch)
	h.expect("set with the cas", h.call("proxy_set_shared_data", k, kn, v, vn, 1), abi.Ok)
	h.expect("get again", h.call("proxy_get_shared_data", k, kn, p, s, cas), abi.Ok)
	if h.u32At(cas) != 2 {
		t.Errorf("cas %d after a second write, want 2", h.u32At(cas))
	}

	q, qn := h.str("jobs")
	tok := uint64(h.put(make([]byte, 4)))
	h.vm.current = h.vm.rootCtx
	h.expect("register", h.call("proxy_register_shared_queue", q, qn, tok), abi.Ok)
	if h.u32At(tok) != 1 {
		t.Errorf("first queue token %d, want 1", h.u32At(tok))
	}
	e, en := h.str("")
	h.expect("resolve in own vm", h.call("proxy_resolve_shared_queue", e, en, q, qn, tok), abi.Ok)
	o, on := h.str("other-vm")
	h.expect("resolve elsewhere", h.call("proxy_resolve_shared_queue", o, on, q, qn, tok), abi.NotFound)
	h.expect("dequeue empty", h.call("proxy_dequeue_shared_queue", 1, p, s), abi.Empty)
	item, in := h.str("job-1")
	h.expect("enqueue", h.call("proxy_enqueue_shared_queue", 1, item, in), abi.Ok)
	if len(h.vm.async) != 1 {
		t.Errorf("%d deliveries scheduled, want proxy_on_queue_ready once", len(h.vm.async))
	}
	h.expect("dequeue", h.call("proxy_dequeue_shared_queue", 1, p, s), abi.Ok)
	if h.bytesAt(p, s) != "job-1" {
		t.Errorf("dequeued %q", h.bytesAt(p, s))
	}
	h.expect("unknown queue", h.call("proxy_enqueue_shared_queue", 99, item, in), abi.NotFound)
}

func TestMetricFunctions(t *testing.T) {
	h := newHarness(t, VMConfig{})
	id := uint64(h.put(make([]byte, 4)))
	define := func(typ uint64, name string) uint32 {
		n, nn := h.str(name)
		h.expect("define "+name, h.call("proxy_define_metric", typ, n, nn, id), abi.Ok)
		return h.u32At(id)
	}
	ids := []uint32{define(0, "c1"), define(1, "g1"), define(2, "h1"), define(0, "c2")}
	if !reflect.DeepEqual(ids, []uint32{4, 5, 6, 8}) {
		t.Errorf("ids %v, want cpp-host's 4, 5, 6, 8", ids)
	}
	n, nn := h.str("bad")
	h.expect("type 3", h.call("proxy_define_metric", 3, n, nn, id), abi.BadArgument)
	minus := uint64(1<<64 - 3) // -3 as an i64
	h.expect("counter += 0", h.call("proxy_increment_metric", 4, 0), abi.BadArgument)
	h.expect("counter += 5", h.call("proxy_increment_metric", 4, 5), abi.Ok)
	h.expect("gauge += 10", h.call("proxy_increment_metric", 5, 10), abi.Ok)
	h.expect("gauge -= 3", h.call("proxy_increment_metric", 5, minus), abi.Ok)
	h.expect("histogram += 1", h.call("proxy_increment_metric", 6, 1), abi.BadArgument)
	h.expect("record histogram", h.call("proxy_record_metric", 6, 42), abi.Ok)
	h.expect("unknown counter", h.call("proxy_increment_metric", 12, 1), abi.NotFound)
	out := uint64(h.put(make([]byte, 8)))
	h.expect("get counter", h.call("proxy_get_metric", 4, out), abi.Ok)
	if h.u64At(out) != 5 {
		t.Errorf("counter %d", h.u64At(out))
	}
	h.expect("get gauge", h.call("proxy_get_metric", 5, out), abi.Ok)
	if h.u64At(out) != 7 {
		t.Errorf("gauge %d", h.u64At(out))
	}
	h.expect("get histogram", h.call("proxy_get_metric", 6, out), abi.BadArgument)
}

func TestPropertyFunctions(t *testing.T) {
	props := NewPropertyTree()
	props.Set([]string{"node", "id"}, []byte("sidecar~1"))
	h := newHarness(t, VMConfig{PluginName: "ns.plugin", RootID: "root", VMID: "vm", Properties: props})
	get := h.property
	for _, tt := range []struct {
		path, want string
		status     abi.Status
	}{
		{"plugin_name", "ns.plugin", abi.Ok},
		{"plugin_root_id", "root", abi.Ok},
		{"plugin_vm_id", "vm", abi.Ok},
		{"node\x00id", "sidecar~1", abi.Ok},
		{"request\x00path", "/a?b=c", abi.Ok},
		{"request\x00url_path", "/a", abi.Ok},
		{"request\x00query", "b=c", abi.Ok},
		{"request\x00host", "example.com", abi.Ok},
		// Headers the request lacks: Envoy's wrapper has no value for them.
		{"request\x00referer", "", abi.NotFound},
		{"request\x00useragent", "", abi.NotFound},
		{"request\x00id", "", abi.NotFound},
		{"request\x00scheme", "", abi.NotFound},
		{"request\x00headers\x00x-dup", "1,2", abi.Ok},
		{"source\x00address", "10.0.0.1:5555", abi.Ok},
		{"source\x00port", string(PropertyInt(5555)), abi.Ok},
		{"connection_id", string(PropertyUint(7)), abi.Ok},
		{"response\x00code", "", abi.NotFound},
		{"request\x00nope", "", abi.NotFound},
		{"nope", "", abi.NotFound},
	} {
		got, st := get(tt.path)
		if st != tt.status || got != tt.want {
			t.Errorf("%q: %q %s, want %q %s", tt.path, got, st, tt.want, tt.status)
		}
	}
	k, kn := h.str("my.flag")
	v, vn := h.str("on")
	h.expect("set on a stream", h.call("proxy_set_property", k, kn, v, vn), abi.Ok)
	if got, st := get("my.flag"); st != abi.Ok || got != "on" {
		t.Errorf("my.flag: %q %s", got, st)
	}
	h.vm.current = h.vm.rootCtx
	h.expect("set on the root", h.call("proxy_set_property", k, kn, v, vn), abi.NotFound)
	if _, st := get("request\x00path"); st != abi.NotFound {
		t.Errorf("request.path on the root: %s", st)
	}
}

// TestRequestQueryFragment: Envoy's request.query stops at a fragment;
// url_path is the path before the query.
func TestRequestQueryFragment(t *testing.T) {
	h := newHarness(t, VMConfig{})
	h.stream.http.reqHeaders = newHeaderMap([]Header{{":method", "GET"}, {":path", "/p?x=1&y=2#frag"}})
	for _, tt := range []struct{ path, want string }{
		{"request\x00query", "x=1&y=2"},
		{"request\x00url_path", "/p"},
		{"request\x00path", "/p?x=1&y=2#frag"},
	} {
		if got, st := h.property(tt.path); st != abi.Ok || got != tt.want {
			t.Errorf("%q: %q %s, want %q", tt.path, got, st, tt.want)
		}
	}
}

// TestStreamSizesAndDuration: Envoy's request.duration exists once the
// request is complete (the access log, proxy_on_log), as nanoseconds; the
// headers_bytes and total_size counts use the header maps Envoy can reach.
func TestStreamSizesAndDuration(t *testing.T) {
	h := newHarness(t, VMConfig{})
	hs := h.stream.http
	hs.respHeaders = newHeaderMap([]Header{{":status", "200"}, {"content-type", "text/plain"}})
	hs.respTrailers = newHeaderMap([]Header{{"grpc-status", "0"}})
	hs.forwardedRespBody = []byte("hello")
	get := h.property
	reqHeaders := int64(len(":method") + len("GET") + len(":path") + len("/a?b=c") + len(":authority") +
		len("example.com") + 2*len("x-dup") + 2)
	respHeaders := int64(len(":status") + len("200") + len("content-type") + len("text/plain"))
	for _, phase := range []struct {
		name              string
		accessLog, respOn bool
		duration          string
		durationStatus    abi.Status
		respTotal         int64
	}{
		{"request headers", false, false, "", abi.NotFound, 5},
		{"response headers", false, true, "", abi.NotFound, 5 + respHeaders},
		{"access log", true, false, string(PropertyInt(int64(3 * time.Millisecond))), abi.Ok, 5 + respHeaders + int64(len("grpc-status0"))},
	} {
		hs.accessLog, hs.respHeadersOn = phase.accessLog, phase.respOn
		if phase.accessLog {
			hs.stream.info.StartTime = h.vm.clock.UnixNano() - int64(3*time.Millisecond)
		}
		for _, tt := range []struct {
			path, want string
			status     abi.Status
		}{
			{"request\x00duration", phase.duration, phase.durationStatus},
			// Envoy has no headers_bytes attribute (expr/context.h).
			{"request\x00headers_bytes", "", abi.NotFound},
			{"request\x00total_size", string(PropertyInt(reqHeaders)), abi.Ok},
			{"response\x00size", string(PropertyInt(5)), abi.Ok},
			{"response\x00headers_bytes", "", abi.NotFound},
			{"response\x00total_size", string(PropertyInt(phase.respTotal)), abi.Ok},
		} {
			if got, st := get(tt.path); st != tt.status || got != tt.want {
				t.Errorf("%s: %q: %x %s, want %x %s", phase.name, tt.path, got, st, tt.want, tt.status)
			}
		}
	}
}

type fixedCalls struct{ known map[string]bool }

func (f fixedCalls) KnownCluster(n string) bool { return f.known[n] }
func (f fixedCalls) HTTPCall(*Stream, *HTTPCallRequest) *HTTPCallResponse {
	return &HTTPCallResponse{Failure: "reset"}
}
func (f fixedCalls) GrpcCall(*Stream, *GrpcCallRequest) *GrpcCallResponse { return nil }

func TestHTTPCallFunction(t *testing.T) {
	h := newHarness(t, VMConfig{Calls: fixedCalls{known: map[string]bool{"auth": true}}})
	pairs := func(hs ...Header) (uint64, uint64) {
		b := encodePairs(hs)
		return uint64(h.put(b)), uint64(len(b))
	}
	full := []Header{{":method", "GET"}, {":path", "/"}, {":authority", "auth"}}
	tok := uint64(h.put(make([]byte, 4)))
	call := func(cluster string, timeout uint64, hs ...Header) abi.Status {
		c, cn := h.str(cluster)
		hp, hn := pairs(hs...)
		return abi.Status(h.call("proxy_http_call", c, cn, hp, hn, 0, 0, 0, 0, timeout, tok))
	}
	if st := call("nowhere", 1000, full...); st != abi.BadArgument {
		t.Errorf("unknown cluster: %s", st)
	}
	if st := call("auth", 1000, full[:2]...); st != abi.BadArgument {
		t.Errorf("no :authority: %s", st)
	}
	if st := call("auth", 1<<32-1, full...); st != abi.BadArgument {
		t.Errorf("negative timeout: %s", st)
	}
	for _, want := range []uint32{4, 8} {
		if st := call("auth", 1000, full...); st != abi.Ok || h.u32At(tok) != want {
			t.Errorf("call: %s, token %d, want %d", st, h.u32At(tok), want)
		}
	}
	// The answer comes after the call: a reset sets the root's status.
	h.vm.drainAsync()
	code, p, s := uint64(h.put(make([]byte, 4))), uint64(0), uint64(0)
	p, s = h.out()
	h.expect("status", h.call("proxy_get_status", code, p, s), abi.Ok)
	if h.u32At(code) != uint32(abi.BrokenConnection) {
		t.Errorf("status code %d after a reset", h.u32At(code))
	}
}

func TestStreamControlFunctions(t *testing.T) {
	h := newHarness(t, VMConfig{})
	d, dn := h.str("not allowed here")
	b, bn := h.str("no")
	h.expect("local reply", h.call("proxy_send_local_response", 403, d, dn, b, bn, 0, 0, 7), abi.Ok)
	lr := h.stream.http.localReply
	if lr == nil || lr.Status != 403 || lr.Details != "not_allowed_here" || lr.GrpcStatus != 7 {
		t.Errorf("local reply %+v (details spaces become _)", lr)
	}
	h.expect("continue 9", h.call("proxy_continue_stream", 9), abi.BadArgument)
	h.expect("continue upstream", h.call("proxy_continue_stream", uint64(abi.StreamUpstream)), abi.Unimplemented)
	h.expect("effective 99", h.call("proxy_set_effective_context", 99), abi.BadArgument)
	h.expect("effective root", h.call("proxy_set_effective_context", uint64(h.vm.rootCtx.id)), abi.Ok)
	n, nn := h.str("expr_create")
	p, s := h.out()
	h.expect("envoy foreign function", h.call("proxy_call_foreign_function", n, nn, 0, 0, p, s), abi.Unimplemented)
	// compress and uncompress are Envoy's zlib ones: a round trip gives
	// the arguments back; what is not zlib data is a SerializationFailure.
	text := strings.Repeat("hello proxy-wasm ", 20)
	n, nn = h.str("compress")
	a, an := h.str(text)
	h.expect("compress", h.call("proxy_call_foreign_function", n, nn, a, an, p, s), abi.Ok)
	z := h.bytesAt(p, s)
	if len(z) >= len(text) || z[0] != 0x78 {
		t.Errorf("compress gave %d bytes starting %x, want a shorter zlib stream", len(z), z[:1])
	}
	n, nn = h.str("uncompress")
	a, an = h.str(z)
	h.expect("uncompress", h.call("proxy_call_foreign_function", n, nn, a, an, p, s), abi.Ok)
	if got := h.bytesAt(p, s); got != text {
		t.Errorf("uncompress gave %q, want %q", got, text)
	}
	a, an = h.str("not zlib")
	h.expect("uncompress garbage", h.call("proxy_call_foreign_function", n, nn, a, an, p, s), abi.SerializationFailure)
	n, nn = h.str("frobnicate")
	h.expect("unknown foreign function", h.call("proxy_call_foreign_function", n, nn, 0, 0, p, s), abi.NotFound)
	h.expect("done without pending shutdown", h.call("proxy_done"), abi.NotFound)
}

func TestWASIFunctions(t *testing.T) {
	h := newHarness(t, VMConfig{Env: map[string]string{"B": "2", "A": "1"}, RandomSeed: 3})
	cnt, size := uint64(h.put(make([]byte, 4))), uint64(h.put(make([]byte, 4)))
	if e := h.call("environ_sizes_get", cnt, size); e != 0 || h.u32At(cnt) != 2 || h.u32At(size) != 8 {
		t.Errorf("environ_sizes_get: %d, %d, %d", e, h.u32At(cnt), h.u32At(size))
	}
	arr, buf := uint64(h.put(make([]byte, 8))), uint64(h.put(make([]byte, 8)))
	if e := h.call("environ_get", arr, buf); e != 0 {
		t.Fatalf("environ_get: %d", e)
	}
	got, _ := h.vm.mem.Read(uint32(buf), 8)
	if string(got) != "A=1\x00B=2\x00" {
		t.Errorf("environ %q, want sorted entries", got)
	}
	ts := uint64(h.put(make([]byte, 8)))
	if e := h.call("clock_time_get", 0, 1, ts); e != 0 || h.u64At(ts) != uint64(h.vm.clock.UnixNano()) {
		t.Errorf("clock_time_get: %d %d", e, h.u64At(ts))
	}
	for _, tt := range []struct {
		name string
		args []uint64
		want abi.Errno
	}{
		{"clock_time_get", []uint64{2, 0, ts}, abi.ErrnoNotsup},
		{"fd_write", []uint64{3, 0, 0, ts}, abi.ErrnoBadf},
		{"fd_fdstat_get", []uint64{0, ts}, abi.ErrnoBadf},
		{"path_open", []uint64{3, 0, 0, 0, 0, 0, 0, 0, ts}, abi.ErrnoNoent},
		{"fd_read", []uint64{0, 0, 0, ts}, abi.ErrnoNosys},
		{"random_get", []uint64{ts, 65537}, abi.ErrnoInval},
		{"sock_shutdown", []uint64{3, 0}, abi.ErrnoNotsup},
		{"fd_prestat_get", []uint64{3, ts}, abi.ErrnoBadf},
	} {
		if e := abi.Errno(h.call(tt.name, tt.args...)); e != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, e, tt.want)
		}
	}
	r := uint64(h.put(make([]byte, 8)))
	h.call("random_get", r, 8)
	first := h.u64At(r)
	h2 := newHarness(t, VMConfig{RandomSeed: 3})
	r2 := uint64(h2.put(make([]byte, 8)))
	h2.call("random_get", r2, 8)
	if h2.u64At(r2) != first {
		t.Error("random_get differs between two VMs with the same seed")
	}
	iov := h.put(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, h.put([]byte("hello\n"))), 6))
	nw := uint64(h.put(make([]byte, 4)))
	if e := h.call("fd_write", 2, uint64(iov), 1, nw); e != 0 || h.u32At(nw) != 6 {
		t.Errorf("fd_write: %d, wrote %d", e, h.u32At(nw))
	}
}

func TestGrpcFunctions(t *testing.T) {
	h := newHarness(t, VMConfig{Calls: fixedCalls{known: map[string]bool{"grpc-backend": true}}})
	tok := uint64(h.put(make([]byte, 4)))
	svc, svcn := h.str("grpc-backend")
	sv, svn := h.str("pkg.Svc")
	me, men := h.str("Call")
	msg, msgn := h.str("payload")
	h.expect("grpc_call", h.call("proxy_grpc_call", svc, svcn, sv, svn, me, men, 0, 0, msg, msgn, 1000, tok), abi.Ok)
	if h.u32At(tok) != 5 {
		t.Errorf("grpc call id %d, want 5", h.u32At(tok))
	}
	h.expect("grpc_stream", h.call("proxy_grpc_stream", svc, svcn, sv, svn, me, men, 0, 0, tok), abi.Ok)
	if h.u32At(tok) != 6 {
		t.Errorf("grpc stream id %d, want 6", h.u32At(tok))
	}
	h.expect("send on a call id", h.call("proxy_grpc_send", 5, msg, msgn, 0), abi.BadArgument)
	h.expect("send on the stream", h.call("proxy_grpc_send", 6, msg, msgn, 0), abi.Ok)
	h.expect("cancel the call", h.call("proxy_grpc_cancel", 5), abi.Ok)
	h.expect("cancel it again", h.call("proxy_grpc_cancel", 5), abi.NotFound)
	h.expect("close the stream", h.call("proxy_grpc_close", 6), abi.Ok)
	h.expect("close an http id", h.call("proxy_grpc_close", 4), abi.BadArgument)
	bad, badn := h.str("nowhere")
	h.expect("unknown cluster", h.call("proxy_grpc_call", bad, badn, sv, svn, me, men, 0, 0, msg, msgn, 1000, tok), abi.ParseFailure)
	// A serialized GrpcService {envoy_grpc {cluster_name: "grpc-backend"}}.
	proto := append([]byte{0x0a, byte(2 + len("grpc-backend")), 0x0a, byte(len("grpc-backend"))}, "grpc-backend"...)
	if c, isProto := grpcCluster(proto); c != "grpc-backend" || !isProto {
		t.Errorf("grpcCluster(proto) = %q, %v", c, isProto)
	}
	if c, isProto := grpcCluster([]byte("auth")); c != "auth" || isProto {
		t.Errorf("grpcCluster(name) = %q, %v", c, isProto)
	}
}
