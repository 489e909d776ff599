package replay

import (
	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Envoy keeps some headers "inline" (O(1) slots, envoy/http/header_map.h):
// HeaderMapImpl::insertByKey, which addCopy and the codecs' addViaMove go
// through, appends a second value of an inline header to the first with
// ',' (appendToHeader) instead of adding an entry. These are the core sets
// of the macros INLINE_REQ_HEADERS, INLINE_REQ_RESP_HEADERS,
// INLINE_RESP_HEADERS and INLINE_RESP_HEADERS_TRAILERS, with the default
// x-envoy header prefix. Extensions compiled into a build register more
// (CustomInlineHeaderRegistry: cache-control, authorization, … by the
// cache, cors, compressor filters); those depend on the build and are not
// here.

// inlineReqResp is INLINE_REQ_RESP_HEADERS: inline in request and
// response headers.
var inlineReqResp = []string{
	"connection", "content-type", "x-envoy-decorator-operation", "keep-alive", "proxy-connection",
	"proxy-status", "x-request-id", "transfer-encoding", "upgrade", "via",
	"content-length", "x-envoy-attempt-count",
}

// inlineReq is INLINE_REQ_HEADERS.
var inlineReq = []string{
	"x-client-trace-id", "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node",
	"x-envoy-external-address", "x-envoy-force-trace", "x-envoy-hedge-on-per-try-timeout",
	"x-envoy-internal", "x-envoy-ip-tags", "x-envoy-retry-on", "x-envoy-retry-grpc-on",
	"x-envoy-retriable-status-codes", "x-envoy-retriable-header-names", "x-envoy-is-timeout-retry",
	"x-envoy-original-path", "x-envoy-original-url", "x-envoy-upstream-alt-stat-name",
	"x-envoy-upstream-rq-timeout-alt-response", "expect", "x-forwarded-client-cert",
	"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "grpc-timeout", ":authority",
	":method", ":path", ":protocol", ":scheme", "te", "user-agent",
	"x-envoy-expected-rq-timeout-ms", "x-envoy-max-retries", "x-envoy-upstream-rq-timeout-ms",
	"x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-upstream-stream-duration-ms", "x-forwarded-port",
}

// inlineResp is INLINE_RESP_HEADERS.
var inlineResp = []string{
	"date", "x-envoy-degraded", "x-envoy-immediate-health-check-fail", "x-envoy-ratelimited",
	"x-envoy-upstream-canary", "x-envoy-upstream-healthchecked-cluster", "location", "server",
	"x-envoy-upstream-service-time", ":status",
}

// inlineRespTrailers is INLINE_RESP_HEADERS_TRAILERS: inline in response
// headers and response trailers.
var inlineRespTrailers = []string{"grpc-message", "grpc-status"}

// inlineHeaders maps a lower-cased name to the map types it is inline in
// (a bit per abi.MapType).
var inlineHeaders = func() map[string]uint8 {
	m := map[string]uint8{}
	mark := func(names []string, types ...abi.MapType) {
		for _, n := range names {
			for _, t := range types {
				m[n] |= 1 << t
			}
		}
	}
	mark(inlineReqResp, abi.HttpRequestHeaders, abi.HttpResponseHeaders)
	mark(inlineReq, abi.HttpRequestHeaders)
	mark(inlineResp, abi.HttpResponseHeaders)
	mark(inlineRespTrailers, abi.HttpResponseHeaders, abi.HttpResponseTrailers)
	return m
}()

// inlineFilter rules most names out before the map lookup (a bit per
// length and first byte of the inline names): a plugin's own headers
// rarely share both with one.
var inlineFilter = func() (f [64]uint64) {
	for n := range inlineHeaders {
		f[len(n)&63] |= 1 << (n[0] & 63)
	}
	return f
}()

// isInline reports whether key (lower-cased) has an inline slot in maps of
// type t. The lookup converts key without allocating.
func isInline(t abi.MapType, key []byte) bool {
	if len(key) == 0 || inlineFilter[len(key)&63]&(1<<(key[0]&63)) == 0 {
		return false
	}
	return inlineHeaders[string(key)]&(1<<t) != 0
}

// canonicalKey is the key Envoy files a header under in a map of type t:
// lower-cased (Http::LowerCaseString), and in request headers "host" is
// :authority (the request StaticLookupTable maps the legacy host header
// to the :authority slot, so get, add, set and remove of "host" act on
// :authority). key itself is returned when it needs no change.
func canonicalKey(t abi.MapType, key []byte) []byte {
	for i, c := range key {
		if c >= 'A' && c <= 'Z' {
			// ASCII only, as Envoy's LowerCaseString (absl::AsciiStrToLower);
			// a copy: key may be guest memory.
			low := make([]byte, len(key))
			copy(low, key[:i])
			for j := i; j < len(key); j++ {
				c := key[j]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				low[j] = c
			}
			key = low
			break
		}
	}
	if t == abi.HttpRequestHeaders && string(key) == "host" {
		return authority
	}
	return key
}

// lookupKey is canonicalKey for a lookup, which compares without regard to
// ASCII case anyway: only the "host" alias is resolved, nothing is copied.
func lookupKey(t abi.MapType, key []byte) []byte {
	if t == abi.HttpRequestHeaders && equalFoldASCII("host", key) {
		return authority
	}
	return key
}

var authority = []byte(":authority")

// appendInline is insertByKey for an inline key the map already holds: the
// value is appended to the first entry's, after a ',' unless that is empty
// (HeaderMapImpl::appendToHeader; an empty value appends nothing). It
// reports whether the key was there.
func (m *headerMap) appendInline(key []byte, value string) bool {
	for i := range m.h {
		if m.h[i].Name == string(key) {
			if value == "" {
				return true
			}
			m.own()
			if m.h[i].Value == "" {
				m.h[i].Value = value
			} else {
				m.h[i].Value = m.h[i].Value + "," + value
			}
			return true
		}
	}
	return false
}

// addCopy is Envoy's HeaderMap::addCopy on a map of type t: an inline
// header already present is appended to, anything else is a new entry.
func (m *headerMap) addCopy(t abi.MapType, key, value string) {
	k := canonicalKey(t, []byte(key))
	if isInline(t, k) && m.appendInline(k, value) {
		return
	}
	m.add(string(k), value)
}

// set is setCopy of an inline header, as Envoy's set<Name> helpers do it:
// the value of the entry replaced where it stands, or a new entry.
func (m *headerMap) set(key, value string) {
	for i := range m.h {
		if m.h[i].Name == key {
			m.own()
			m.h[i].Value = value
			return
		}
	}
	m.add(key, value)
}

// codecHeaders is hs as Envoy's codecs file them (HeaderMapImpl::addViaMove
// goes through insertByKey): in request headers a "host" header is
// :authority (dropped when the request has :authority), and a repeated
// inline header is one entry, its values joined with ','. hs itself is
// returned when nothing changes (the usual case).
func codecHeaders(t abi.MapType, hs []Header) []Header {
	var seen uint64 // inline names met so far, by a hash bit: rules out most repeats
	change := false
	for _, h := range hs {
		k := []byte(h.Name)
		if t == abi.HttpRequestHeaders && h.Name == "host" {
			change = true
			break
		}
		if !isInline(t, k) {
			continue
		}
		bit := uint64(1) << (uint(len(k)*31+int(k[len(k)-1])) & 63)
		if seen&bit != 0 {
			change = true
			break
		}
		seen |= bit
	}
	if !change {
		return hs
	}
	// A request that has :authority loses its host header: Envoy's HTTP/2
	// codecs discard it (envoy#30005, runtime guard
	// envoy.reloadable_features.http2_discard_host_header, on since 1.29
	// and in 1.27.x/1.28.x patch releases); HTTP/1 has no :authority.
	// Joining it to :authority gave "a.com,b.com", a host no route matches.
	dropHost := false
	if t == abi.HttpRequestHeaders {
		for _, h := range hs {
			if h.Name == ":authority" {
				dropHost = true
				break
			}
		}
	}
	m := &headerMap{h: make([]Header, 0, len(hs))}
	for _, h := range hs {
		if dropHost && h.Name == "host" {
			continue
		}
		m.addCopy(t, h.Name, h.Value)
	}
	return m.h
}
