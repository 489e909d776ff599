package replay

import (
	"encoding/binary"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Header-map serialization of the Proxy-Wasm ABI (reference §9.4,
// proxy-wasm-cpp-host src/pairs_util.cc): little-endian u32 count, then
// count × (u32 key length, u32 value length), then count × (key, NUL,
// value, NUL). The host rejects a map (treats it as empty) that exceeds
// 1 MiB or 1024 pairs, misses a NUL, or has trailing bytes.
const (
	pairsMaxBytes = 1024 * 1024
	pairsMaxCount = 1024
)

// Header is one header (or metadata, or trailer) entry.
type Header struct {
	Name  string
	Value string
}

// pairsSize is the serialized size of hs.
func pairsSize(hs []Header) int {
	n := 4
	for _, h := range hs {
		n += 8 + len(h.Name) + 1 + len(h.Value) + 1
	}
	return n
}

// marshalPairs serializes hs into b, which must be pairsSize(hs) long.
func marshalPairs(hs []Header, b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b, uint32(len(hs)))
	p := 4
	for _, h := range hs {
		le.PutUint32(b[p:], uint32(len(h.Name)))
		le.PutUint32(b[p+4:], uint32(len(h.Value)))
		p += 8
	}
	for _, h := range hs {
		p += copy(b[p:], h.Name)
		b[p] = 0
		p++
		p += copy(b[p:], h.Value)
		b[p] = 0
		p++
	}
}

// encodePairs returns the serialized form of hs.
func encodePairs(hs []Header) []byte {
	b := make([]byte, pairsSize(hs))
	marshalPairs(hs, b)
	return b
}

// decodePairs parses a serialized map as cpp-host's PairsUtil::toPairs does:
// any violation yields an empty map (ok false says why it was empty).
func decodePairs(b []byte) (hs []Header, ok bool) {
	if len(b) > pairsMaxBytes || len(b) < 4 {
		return nil, false
	}
	le := binary.LittleEndian
	n := le.Uint32(b)
	if n > pairsMaxCount || 4+uint64(n)*8 > uint64(len(b)) {
		return nil, false
	}
	pos := 4 + int(n)*8
	hs = make([]Header, n)
	for i := range hs {
		kl := uint64(le.Uint32(b[4+i*8:]))
		vl := uint64(le.Uint32(b[8+i*8:]))
		if uint64(pos)+kl+1 > uint64(len(b)) || b[pos+int(kl)] != 0 {
			return nil, false
		}
		hs[i].Name = string(b[pos : pos+int(kl)])
		pos += int(kl) + 1
		if uint64(pos)+vl+1 > uint64(len(b)) || b[pos+int(vl)] != 0 {
			return nil, false
		}
		hs[i].Value = string(b[pos : pos+int(vl)])
		pos += int(vl) + 1
	}
	if pos != len(b) {
		return nil, false
	}
	return hs, true
}

// headerMap is an HTTP header (or trailer, or metadata) map with Envoy's
// semantics: keys are lower-cased on write, order is kept, a key may repeat
// and a read returns the first value (Envoy source/extensions/common/wasm/
// context.cc).
type headerMap struct {
	h      []Header
	shared bool // h belongs to someone else (the capture): copy before writing
	// buf is storage own may copy into, kept when the map is reused.
	buf []Header
}

// share makes the map read hs in place until its first write.
func (m *headerMap) share(hs []Header) {
	m.h, m.shared = hs, true
}

// own copies a shared slice before a write, leaving room to add.
func (m *headerMap) own() {
	if m.shared {
		if cap(m.buf) < len(m.h)+4 {
			m.buf = make([]Header, 0, len(m.h)+4)
		}
		m.h, m.shared = append(m.buf[:0], m.h...), false
	}
}

// reuse empties the map, keeping its own storage.
func (m *headerMap) reuse() {
	if !m.shared && cap(m.h) > cap(m.buf) {
		m.buf = m.h[:0]
	}
	m.h, m.shared = nil, false
}

func newHeaderMap(hs []Header) *headerMap {
	m := &headerMap{h: make([]Header, len(hs))}
	copy(m.h, hs)
	return m
}

// reset replaces the content with a copy of hs, reusing storage.
func (m *headerMap) reset(hs []Header) {
	m.shared = false
	if cap(m.h) < len(hs) {
		m.h = make([]Header, 0, len(hs)+4) // room for the plugin's additions
	}
	m.h = append(m.h[:0], hs...)
}

// lower lower-cases ASCII letters only, as Envoy's LowerCaseString
// (absl::AsciiStrToLower): other bytes of a header name stay as they are.
func lower(s string) string {
	if isLower(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// isLower reports whether s has no ASCII upper-case letter.
func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return true
}

// get returns the first value of key (compared lower-cased).
func (m *headerMap) get(key []byte) (string, bool) {
	for i := range m.h {
		if equalFoldASCII(m.h[i].Name, key) {
			return m.h[i].Value, true
		}
	}
	return "", false
}

// equalFoldASCII compares name (stored lower-case) with key lower-cased,
// without allocating.
func equalFoldASCII(name string, key []byte) bool {
	if len(name) != len(key) {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if name[i] != c {
			return false
		}
	}
	return true
}

// add is Envoy's HeaderMap::addCopy with the key lower-cased. Envoy keeps
// pseudo-headers ahead of the others (HeaderList::insert puts a ':' key at
// the end of the pseudo-headers), so one added later is not last.
func (m *headerMap) add(key, value string) {
	m.own()
	m.insert(Header{Name: lower(key), Value: value})
}

func (m *headerMap) insert(h Header) {
	if len(h.Name) > 0 && h.Name[0] == ':' {
		i := 0
		for i < len(m.h) && len(m.h[i].Name) > 0 && m.h[i].Name[0] == ':' {
			i++
		}
		if i < len(m.h) {
			m.h = append(m.h, Header{})
			copy(m.h[i+1:], m.h[i:])
			m.h[i] = h
			return
		}
	}
	m.h = append(m.h, h)
}

func (m *headerMap) remove(key string) {
	m.own()
	key = lower(key)
	out := m.h[:0]
	for _, h := range m.h {
		if h.Name != key {
			out = append(out, h)
		}
	}
	m.h = out
}

// replace is Envoy's HeaderMap::setCopy (source/common/http/
// header_map_impl.cc): every entry of the key is removed and the new one
// added, so it moves to the end (a pseudo-header to the end of the
// pseudo-headers).
func (m *headerMap) replace(key, value string) {
	m.remove(key)
	m.insert(Header{Name: lower(key), Value: value})
}

// setPairs removes every key, then adds hs with addCopy (Envoy
// setHeaderMapPairs on a map of type t).
func (m *headerMap) setPairs(t abi.MapType, hs []Header) {
	if m.shared {
		m.h, m.shared = m.buf[:0], false
	}
	m.h = m.h[:0]
	for _, h := range hs {
		m.addCopy(t, h.Name, h.Value)
	}
}

// byteSize is Envoy's HeaderMap::byteSize: the sum of key and value lengths,
// which is what proxy_get_header_map_size returns.
func (m *headerMap) byteSize() int {
	n := 0
	for _, h := range m.h {
		n += len(h.Name) + len(h.Value)
	}
	return n
}

func (m *headerMap) clone() []Header {
	out := make([]Header, len(m.h))
	copy(out, m.h)
	return out
}
