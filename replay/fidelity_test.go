package replay

import (
	"reflect"
	"testing"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Envoy's answers, case by case, for the corners plugins built by other
// people reach. Each case names the Envoy or cpp-host function it follows.

// TestSetBufferBytesAsEnvoy: Envoy's Buffer::copyFrom
// (source/extensions/common/wasm/context.cc) on a mutable body: start 0
// drains length bytes (all when length is larger) and prepends; start at or
// past the end appends; a start inside the body is BadArgument.
func TestSetBufferBytesAsEnvoy(t *testing.T) {
	for _, tt := range []struct {
		name          string
		start, length uint64
		data, want    string
		status        abi.Status
	}{
		{"prepend", 0, 0, ">", ">hello", abi.Ok},
		{"replace a prefix", 0, 2, "J", "Jllo", abi.Ok},
		{"replace a prefix with more", 0, 1, "HH", "HHello", abi.Ok},
		{"replace all", 0, 5, "bye", "bye", abi.Ok},
		{"replace all, length past the end", 0, 1 << 31, "bye", "bye", abi.Ok},
		{"clear", 0, 5, "", "", abi.Ok},
		{"append at the end", 5, 0, "!", "hello!", abi.Ok},
		{"append past the end", 99, 3, "!", "hello!", abi.Ok},
		{"start inside", 2, 0, "?", "hello", abi.BadArgument},
		{"start inside with length", 1, 4, "?", "hello", abi.BadArgument},
	} {
		b := bodyBuffer{data: []byte("hello"), mutable: true}
		st := b.copyFrom(tt.start, tt.length, []byte(tt.data))
		if st != tt.status || string(b.data) != tt.want {
			t.Errorf("%s: copyFrom(%d, %d, %q) = %s, %q; want %s, %q", tt.name, tt.start, tt.length, tt.data, st, b.data, tt.status, tt.want)
		}
	}
	// BufferBase::copyFrom: configuration, call responses and a body
	// outside its callback are strings Envoy will not change.
	b := bodyBuffer{data: []byte("cfg")}
	if st := b.copyFrom(0, 0, []byte("x")); st != abi.BadArgument {
		t.Errorf("immutable buffer: %s, want BadArgument", st)
	}
}

// TestHeaderOrderAsEnvoy: Envoy's HeaderMapImpl keeps pseudo-headers
// first (HeaderList::insert) and setCopy removes every entry of the key and
// adds one (proxy_replace_header_map_value moves the header to the end).
func TestHeaderOrderAsEnvoy(t *testing.T) {
	base := []Header{{":method", "GET"}, {":path", "/"}, {"a", "1"}, {"b", "2"}, {"a", "3"}}
	for _, tt := range []struct {
		name string
		op   func(m *headerMap)
		want []Header
	}{
		{"add", func(m *headerMap) { m.add("C", "x") },
			[]Header{{":method", "GET"}, {":path", "/"}, {"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "x"}}},
		{"add a pseudo-header", func(m *headerMap) { m.add(":Scheme", "https") },
			[]Header{{":method", "GET"}, {":path", "/"}, {":scheme", "https"}, {"a", "1"}, {"b", "2"}, {"a", "3"}}},
		{"replace a repeated key", func(m *headerMap) { m.replace("A", "9") },
			[]Header{{":method", "GET"}, {":path", "/"}, {"b", "2"}, {"a", "9"}}},
		{"replace a missing key", func(m *headerMap) { m.replace("d", "4") },
			[]Header{{":method", "GET"}, {":path", "/"}, {"a", "1"}, {"b", "2"}, {"a", "3"}, {"d", "4"}}},
		{"replace a pseudo-header", func(m *headerMap) { m.replace(":method", "POST") },
			[]Header{{":path", "/"}, {":method", "POST"}, {"a", "1"}, {"b", "2"}, {"a", "3"}}},
		{"set pairs", func(m *headerMap) { m.setPairs(abi.HttpResponseHeaders, []Header{{"X", "1"}, {":status", "200"}}) },
			[]Header{{":status", "200"}, {"x", "1"}}},
	} {
		m := newHeaderMap(base)
		tt.op(m)
		if !reflect.DeepEqual(m.h, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, m.h, tt.want)
		}
	}
}

// TestPropertyWrappersAsEnvoy: Envoy's attribute wrappers
// (source/extensions/filters/common/expr/context.h: BaseWrapper::ListKeys
// is unimplemented, HeadersWrapper lists its keys) and the request and
// response lookups of context.cc.
func TestPropertyWrappersAsEnvoy(t *testing.T) {
	h := newHarness(t, VMConfig{})
	hs := h.stream.http
	get := h.property
	reqHeaderBytes := int64(len(":method") + len("GET") + len(":path") + len("/a?b=c") + len(":authority") +
		len("example.com") + 2*len("x-dup") + 2)
	check := func(phase string, cases []struct {
		path, want string
		status     abi.Status
	}) {
		t.Helper()
		for _, tt := range cases {
			if got, st := get(tt.path); st != tt.status || got != tt.want {
				t.Errorf("%s: %q: %x %s, want %x %s", phase, tt.path, got, st, tt.want, tt.status)
			}
		}
	}
	type row = struct {
		path, want string
		status     abi.Status
	}
	check("request headers", []row{
		// Whole wrappers cannot be serialized (Context::serializeValue:
		// ListKeys fails).
		{"request", "", abi.SerializationFailure},
		{"response", "", abi.SerializationFailure},
		{"source", "", abi.SerializationFailure},
		{"destination", "", abi.SerializationFailure},
		{"connection", "", abi.SerializationFailure},
		// A header map can: its keys, values joined with ','.
		{"request\x00headers", string(encodePairs([]Header{{":method", "GET"}, {":path", "/a?b=c"}, {":authority", "example.com"}, {"x-dup", "1,2"}})), abi.Ok},
		// HeadersWrapper looks a key up lower-cased.
		{"request\x00headers\x00X-Dup", "1,2", abi.Ok},
		// No content-length: size is bytesReceived; total_size adds the
		// header bytes.
		{"request\x00size", string(PropertyInt(0)), abi.Ok},
		{"request\x00total_size", string(PropertyInt(reqHeaderBytes)), abi.Ok},
		{"request\x00protocol", "HTTP/1.1", abi.Ok},
		// No response yet: no code, but the sizes and an empty header map.
		{"response\x00code", "", abi.NotFound},
		{"response\x00code_details", "", abi.NotFound},
		{"response\x00grpc_status", "", abi.NotFound},
		{"response\x00size", string(PropertyInt(0)), abi.Ok},
		{"response\x00total_size", string(PropertyInt(0)), abi.Ok},
		{"response\x00headers", "\x00\x00\x00\x00", abi.Ok},
		{"response\x00headers\x00x", "", abi.NotFound},
	})

	// After the request headers continued Envoy no longer reaches them:
	// the header-based keys are gone, the sizes stay.
	hs.reqHeadersOn = false
	hs.forwardedReqBody = []byte("abc")
	check("request body", []row{
		{"request\x00path", "", abi.NotFound},
		{"request\x00url_path", "", abi.NotFound},
		{"request\x00headers", "\x00\x00\x00\x00", abi.Ok},
		{"request\x00size", string(PropertyInt(3)), abi.Ok},
		{"request\x00total_size", string(PropertyInt(3)), abi.Ok},
	})

	// A content-length that is not a number: size is absent.
	hs.reqHeadersOn = true
	hs.reqHeaders = newHeaderMap([]Header{{":path", "/"}, {"content-length", "ten"}})
	check("bad content-length", []row{
		{"request\x00size", "", abi.NotFound},
		{"request\x00total_size", string(PropertyInt(3 + int64(len(":path/content-lengthten")))), abi.Ok},
	})

	// grpc_status: trailers, then headers, then the HTTP status mapped
	// (Grpc::Common::getGrpcStatus, Grpc::Utility::httpToGrpcStatus).
	hs.respHeadersOn = true
	for _, tt := range []struct {
		name              string
		headers, trailers []Header
		want              string
		status            abi.Status
	}{
		{"plain 200", []Header{{":status", "200"}}, nil, string(PropertyInt(2)), abi.Ok},
		{"503", []Header{{":status", "503"}}, nil, string(PropertyInt(14)), abi.Ok},
		{"header", []Header{{":status", "200"}, {"grpc-status", "5"}}, nil, string(PropertyInt(5)), abi.Ok},
		{"trailer first", []Header{{":status", "200"}, {"grpc-status", "5"}}, []Header{{"grpc-status", "0"}}, string(PropertyInt(0)), abi.Ok},
		{"not a status", []Header{{":status", "200"}, {"grpc-status", "x"}}, nil, string(PropertyInt(2)), abi.Ok},
	} {
		hs.respHeaders = newHeaderMap(tt.headers)
		hs.respTrailers, hs.respTrailersOn = nil, false
		if tt.trailers != nil {
			hs.respTrailers, hs.respTrailersOn = newHeaderMap(tt.trailers), true
		}
		if got, st := get("response\x00grpc_status"); st != tt.status || got != tt.want {
			t.Errorf("grpc_status, %s: %x %s, want %x %s", tt.name, got, st, tt.want, tt.status)
		}
	}
}

// TestGrpcStreamCloseAsEnvoy: Envoy's Context::grpcClose half-closes a
// stream, which stays in grpc_stream_ (sends and a second close answer Ok,
// its answers keep coming) until the remote side closes too;
// onGrpcCloseWrapper forgets a stream only when the plugin closed it.
func TestGrpcStreamCloseAsEnvoy(t *testing.T) {
	h := newHarness(t, VMConfig{Calls: fixedCalls{known: map[string]bool{"grpc-backend": true}}})
	svc, svcn := h.str("grpc-backend")
	sv, svn := h.str("svc")
	me, men := h.str("M")
	msg, msgn := h.str("m")
	tok := uint64(h.put(make([]byte, 4)))
	open := func() uint64 {
		t.Helper()
		h.expect("grpc_stream", h.call("proxy_grpc_stream", svc, svcn, sv, svn, me, men, 0, 0, tok), abi.Ok)
		return uint64(h.u32At(tok))
	}

	id := open()
	h.expect("close", h.call("proxy_grpc_close", id), abi.Ok)
	h.expect("send after a half-close", h.call("proxy_grpc_send", id, msg, msgn, 0), abi.Ok)
	h.expect("close again", h.call("proxy_grpc_close", id), abi.Ok)
	h.vm.grpcCloseCallback(uint32(id), &GrpcCallResponse{Status: 0})
	h.expect("send after both closed", h.call("proxy_grpc_send", id, msg, msgn, 0), abi.NotFound)
	h.expect("close after both closed", h.call("proxy_grpc_close", id), abi.NotFound)

	id = open()
	h.vm.grpcCloseCallback(uint32(id), &GrpcCallResponse{Status: 14})
	h.expect("close after the remote closed", h.call("proxy_grpc_close", id), abi.Ok)
	h.expect("close once more", h.call("proxy_grpc_close", id), abi.NotFound)

	id = open()
	h.expect("cancel", h.call("proxy_grpc_cancel", id), abi.Ok)
	h.expect("send after cancel", h.call("proxy_grpc_send", id, msg, msgn, 0), abi.NotFound)
	h.expect("close after cancel", h.call("proxy_grpc_close", id), abi.NotFound)
}

// TestHeaderNamesLowerCasedASCIIOnly: Envoy lower-cases header names with
// absl::AsciiStrToLower (Http::LowerCaseString): A–Z only, every other
// byte kept; lookups ignore ASCII case, and "host" is :authority in
// request headers whatever its case.
func TestHeaderNamesLowerCasedASCIIOnly(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"X-Trace", "x-trace"}, {"x-ÄÖ-Id", "x-ÄÖ-id"}, {"plain", "plain"}, {"ÉTAG", "Étag"},
	} {
		if got := lower(tt.in); got != tt.want {
			t.Errorf("lower(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if got := string(canonicalKey(abi.HttpResponseHeaders, []byte(tt.in))); got != tt.want {
			t.Errorf("canonicalKey(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	for _, k := range []string{"host", "Host", "HOST"} {
		if got := string(lookupKey(abi.HttpRequestHeaders, []byte(k))); got != ":authority" {
			t.Errorf("lookupKey(request, %q) = %q; want :authority", k, got)
		}
		if got := string(canonicalKey(abi.HttpRequestHeaders, []byte(k))); got != ":authority" {
			t.Errorf("canonicalKey(request, %q) = %q; want :authority", k, got)
		}
		if got := string(lookupKey(abi.HttpResponseHeaders, []byte(k))); got != k {
			t.Errorf("lookupKey(response, %q) = %q; want it unchanged", k, got)
		}
	}
	guest := []byte("X-Up")
	canonicalKey(abi.HttpRequestHeaders, guest)
	if string(guest) != "X-Up" {
		t.Errorf("canonicalKey changed its argument (guest memory) to %q", guest)
	}
}
