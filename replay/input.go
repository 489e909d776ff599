package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Format is the kind of file a replay input is.
type Format string

const (
	FormatCapture Format = "capture" // capture format v1
	FormatHAR     Format = "har"     // HTTP Archive 1.2
	FormatTap     Format = "tap"     // Envoy tap traces (TraceWrapper JSON)
)

// Overrides supply what HAR files and tap traces do not record (and
// override a capture's values): the plugin's identity and configuration.
type Overrides struct {
	PluginName      *string
	RootID          *string
	VMID            *string
	Configuration   []byte // nil: keep
	VMConfiguration []byte
	Clusters        []string
}

// Apply sets the overrides on c.
func (o Overrides) Apply(c *Capture) {
	if o.PluginName != nil {
		c.Plugin.Name = *o.PluginName
	}
	if o.RootID != nil {
		c.Plugin.RootID = *o.RootID
	}
	if o.VMID != nil {
		c.Plugin.VMID = *o.VMID
	}
	if o.Configuration != nil {
		c.Plugin.Configuration = o.Configuration
	}
	if o.VMConfiguration != nil {
		c.Plugin.VMConfiguration = o.VMConfiguration
	}
	for _, cl := range o.Clusters {
		if !contains(c.Host.Clusters, cl) {
			c.Host.Clusters = append(c.Host.Clusters, cl)
		}
	}
}

// ReadInput reads a replay input of any supported format, detected by
// content: a capture (an object with "version" and "streams"), a HAR file
// (an object with "log"), or Envoy tap traces (objects with
// "http_buffered_trace", "http_streamed_trace_segment",
// "socket_buffered_trace" or "socket_streamed_trace_segment", concatenated
// or in an array). name prefixes error positions.
func ReadInput(name string, data []byte) (*Capture, Format, error) {
	f, err := DetectFormat(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	var c *Capture
	switch f {
	case FormatCapture:
		c, err = ParseCapture(name, data)
	case FormatHAR:
		c, err = ParseHAR(name, data)
	case FormatTap:
		c, err = ParseTap(name, data)
	}
	return c, f, err
}

// DetectFormat looks at the first JSON object's keys.
func DetectFormat(data []byte) (Format, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return "", errors.New("empty input: expected a capture, a HAR file or Envoy tap traces")
	}
	if !utf8.Valid(trimmed[:min(len(trimmed), 4096)]) && trimmed[0] != '{' && trimmed[0] != '[' {
		return "", errors.New("not JSON: expected a capture, a HAR file or Envoy tap traces (binary tap output is not supported; use a JSON_BODY_AS_BYTES or JSON_BODY_AS_STRING sink)")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	lead := int64(len(data) - len(trimmed)) // syntax errors count from the trimmed start
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("not JSON: %s", jsonErrorAt(data, lead, err))
	}
	if d, ok := tok.(json.Delim); ok && d == '[' {
		// An array of tap traces.
		if !dec.More() {
			return "", errors.New("an empty JSON array: expected Envoy tap traces")
		}
		tok, err = dec.Token()
		if err != nil {
			return "", fmt.Errorf("not JSON: %s", jsonErrorAt(data, lead, err))
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			if err := invalidJSON(data, lead); err != nil {
				return "", err
			}
			return "", errors.New("a JSON array of non-objects: expected Envoy tap traces")
		}
		keys := topKeys(dec)
		if hasAny(keys, tapKinds...) {
			return FormatTap, nil
		}
		return "", fmt.Errorf("a JSON array of objects with keys %s: expected Envoy tap traces (%s)", strings.Join(keys, ", "), strings.Join(tapKinds, ", "))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if err := invalidJSON(data, lead); err != nil {
			return "", err
		}
		return "", errors.New("not a JSON object: expected a capture, a HAR file or Envoy tap traces")
	}
	keys := topKeys(dec)
	switch {
	case hasAny(keys, "version", "streams"):
		return FormatCapture, nil
	case hasAny(keys, "log"):
		return FormatHAR, nil
	case hasAny(keys, tapKinds...):
		return FormatTap, nil
	}
	return "", fmt.Errorf("unrecognized JSON object (keys %s): expected a capture (\"version\", \"streams\"), a HAR file (\"log\") or Envoy tap traces (%s)",
		strings.Join(keys, ", "), strings.Join(tapKinds, ", "))
}

// invalidJSON says where input that starts like JSON stops being JSON: a log
// line "[2024-…" or "2024-06-11T…" begins with a valid array or number.
func invalidJSON(data []byte, lead int64) error {
	var v any
	if err := json.Unmarshal(data[lead:], &v); err != nil {
		return fmt.Errorf("not JSON: %s", jsonErrorAt(data, lead, err))
	}
	return nil
}

var tapKinds = []string{"http_buffered_trace", "http_streamed_trace_segment", "socket_buffered_trace", "socket_streamed_trace_segment"}

// topKeys reads the keys of the object whose '{' was just read, skipping
// the values.
func topKeys(dec *json.Decoder) []string {
	var keys []string
	for dec.More() && len(keys) < 32 {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		k, ok := tok.(string)
		if !ok {
			break
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	return keys
}

func hasAny(keys []string, want ...string) bool {
	for _, k := range keys {
		if contains(want, k) {
			return true
		}
	}
	return false
}

// ReadAllLimited reads at most limit bytes, failing beyond.
func ReadAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("input larger than %d MiB", limit>>20)
	}
	return b, nil
}

// redactedHeaders are the credentials a written capture hides by default
// (DESIGN.md §5).
var redactedHeaders = []string{"authorization", "cookie", "set-cookie", "proxy-authorization"}

// Redacted is what a redacted header value becomes.
const Redacted = "[redacted]"

// Redact replaces credential header values in every message of c and
// returns how many it replaced.
func Redact(c *Capture) int {
	n := 0
	redact := func(hs []Header) {
		for i := range hs {
			if contains(redactedHeaders, lower(hs[i].Name)) && hs[i].Value != Redacted {
				hs[i].Value = Redacted
				n++
			}
		}
	}
	msg := func(m *HTTPMessage) {
		if m != nil {
			redact(m.Headers)
			redact(m.Trailers)
		}
	}
	for i := range c.Streams {
		s := &c.Streams[i]
		msg(s.Request)
		msg(s.Response)
		for _, a := range s.HTTPCalls {
			msg(a.Response)
		}
	}
	for _, a := range c.HTTPCalls {
		msg(a.Response)
	}
	return n
}
