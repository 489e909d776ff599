package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// TapRequest asks Envoy to stream the traces of a tap filter configured with
// common_config.admin_config.config_id (an envoy.admin.v3.TapRequest).
type TapRequest struct {
	ConfigID string
	// Match is an envoy.config.tap.v3.MatchPredicate in JSON; nil matches
	// every request ({"any_match": true}).
	Match json.RawMessage
	// BodiesAsString asks for JSON_BODY_AS_STRING; the default,
	// JSON_BODY_AS_BYTES, keeps bodies byte-exact (base64), which a replay
	// needs.
	BodiesAsString bool
	// MaxBodyBytes raises how much of each body Envoy keeps per direction
	// (max_buffered_rx_bytes / max_buffered_tx_bytes); 0 keeps Envoy's
	// default of 1 KiB. Longer bodies arrive with "truncated": true.
	MaxBodyBytes uint32
	// Streamed asks for streamed trace segments (output_config.streaming)
	// instead of one buffered trace per request.
	Streamed bool
}

// Body is the JSON body of the POST /tap request.
func (t TapRequest) Body() ([]byte, error) {
	if t.ConfigID == "" {
		return nil, errors.New("tap: empty config id: give the config_id of a tap filter's admin_config")
	}
	match := t.Match
	if match == nil {
		match = json.RawMessage(`{"any_match":true}`)
	}
	format := "JSON_BODY_AS_BYTES"
	if t.BodiesAsString {
		format = "JSON_BODY_AS_STRING"
	}
	type sink struct {
		Format         string   `json:"format"`
		StreamingAdmin struct{} `json:"streaming_admin"`
	}
	type output struct {
		Sinks     []sink `json:"sinks"`
		MaxRx     uint32 `json:"max_buffered_rx_bytes,omitempty"`
		MaxTx     uint32 `json:"max_buffered_tx_bytes,omitempty"`
		Streaming bool   `json:"streaming,omitempty"`
	}
	req := struct {
		ConfigID  string `json:"config_id"`
		TapConfig struct {
			Match        json.RawMessage `json:"match"`
			OutputConfig output          `json:"output_config"`
		} `json:"tap_config"`
	}{ConfigID: t.ConfigID}
	req.TapConfig.Match = match
	req.TapConfig.OutputConfig = output{Sinks: []sink{{Format: format}}, MaxRx: t.MaxBodyBytes, MaxTx: t.MaxBodyBytes, Streaming: t.Streamed}
	return json.Marshal(req)
}

// Tap starts a /tap session and returns the stream of traces. Envoy keeps the
// request open and writes each trace as its request completes; the session
// (and the tap) ends when the stream is closed or ctx is done. Envoy serves
// one /tap session at a time.
func (c *Client) Tap(ctx context.Context, t TapRequest) (*TapStream, error) {
	body, err := t.Body()
	if err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: "/tap", body: body, stream: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.code == http.StatusOK:
		return newTapStream(resp.stream, resp.cancel), nil
	case isEnvoyNotFound(resp):
		return nil, fmt.Errorf("%s: envoy has no /tap endpoint: no tap filter with an admin_config is loaded (add envoy.filters.http.tap with common_config.admin_config.config_id: %s)", c.where(r), t.ConfigID)
	case resp.code == http.StatusBadRequest && isText(resp.contentType):
		// admin.cc: "Unknown config id '…'. No extension has registered with
		// this id.", "An attached /tap admin stream already exists. Detach
		// it.", or a proto validation error.
		return nil, &StatusError{Request: r.String(), Status: resp.code, Message: strings.TrimSpace(string(resp.body))}
	}
	return nil, c.notAdmin(r, resp, "200 and a stream of JSON tap traces")
}

// TapStream reads the traces of a /tap session: pretty-printed
// envoy.data.tap.v3.TraceWrapper objects written back to back with no
// delimiter (envoy source/extensions/common/tap/admin.cc streamMsg), which
// only a streaming JSON decoder can split.
type TapStream struct {
	body   io.ReadCloser
	cancel context.CancelFunc
	dec    *json.Decoder
	n      int
}

func newTapStream(body io.ReadCloser, cancel context.CancelFunc) *TapStream {
	return &TapStream{body: body, cancel: cancel, dec: json.NewDecoder(body)}
}

// NewTapStream reads traces from r, e.g. a saved /tap output.
func NewTapStream(r io.Reader) *TapStream {
	return newTapStream(io.NopCloser(r), func() {})
}

// Trace is one tap trace, kept as Envoy wrote it (Raw) with its kind, the
// name of the TraceWrapper field that is set: http_buffered_trace,
// http_streamed_trace_segment, socket_buffered_trace or
// socket_streamed_trace_segment.
type Trace struct {
	Kind string
	Raw  json.RawMessage
}

// Next returns the next trace, or io.EOF when Envoy ended the stream.
func (s *TapStream) Next() (Trace, error) {
	var raw json.RawMessage
	off := s.dec.InputOffset()
	if err := s.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return Trace{}, io.EOF
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Trace{}, fmt.Errorf("tap stream: trace %d at byte %d: %v", s.n+1, se.Offset-1, se)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Trace{}, fmt.Errorf("tap stream: trace %d at byte %d: stream ended inside a trace", s.n+1, off)
		}
		return Trace{}, fmt.Errorf("tap stream: %w", err)
	}
	s.n++
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Trace{}, fmt.Errorf("tap stream: trace %d at byte %d: not a JSON object", s.n, off)
	}
	t := Trace{Raw: raw}
	for _, k := range []string{"http_buffered_trace", "http_streamed_trace_segment", "socket_buffered_trace", "socket_streamed_trace_segment"} {
		if _, ok := fields[k]; ok {
			t.Kind = k
			return t, nil
		}
	}
	return Trace{}, fmt.Errorf("tap stream: trace %d at byte %d: not a TraceWrapper (no http_buffered_trace, http_streamed_trace_segment, socket_buffered_trace or socket_streamed_trace_segment)", s.n, off)
}

// Close ends the session; Envoy then detaches the tap.
func (s *TapStream) Close() error {
	s.cancel()
	return s.body.Close()
}

// HTTPTrace is the part of an envoy.data.tap.v3.HttpBufferedTrace a summary
// needs.
type HTTPTrace struct {
	Request  TapMessage `json:"request"`
	Response TapMessage `json:"response"`
}

// TapMessage is a tapped request or response.
type TapMessage struct {
	Headers  []TapHeader `json:"headers"`
	Trailers []TapHeader `json:"trailers"`
	Body     *struct {
		AsBytes   []byte `json:"as_bytes"`
		AsString  string `json:"as_string"`
		Truncated bool   `json:"truncated"`
	} `json:"body"`
}

// TapHeader is a config.core.v3.HeaderValue; RawValue carries values that
// are not UTF-8.
type TapHeader struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	RawValue []byte `json:"raw_value"`
}

// Header returns the first value of a header (keys are lower case in Envoy).
func (m TapMessage) Header(key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			if h.Value == "" && h.RawValue != nil {
				return string(h.RawValue)
			}
			return h.Value
		}
	}
	return ""
}

// HTTP decodes an http_buffered_trace.
func (t Trace) HTTP() (HTTPTrace, error) {
	var w struct {
		T *HTTPTrace `json:"http_buffered_trace"`
	}
	if err := json.Unmarshal(t.Raw, &w); err != nil {
		return HTTPTrace{}, fmt.Errorf("http_buffered_trace: %v", err)
	}
	if w.T == nil {
		return HTTPTrace{}, fmt.Errorf("trace is a %s, not an http_buffered_trace", t.Kind)
	}
	return *w.T, nil
}

// Summary is one line about a trace: "GET /path -> 200" for HTTP.
func (t Trace) Summary() string {
	h, err := t.HTTP()
	if err != nil {
		return t.Kind
	}
	s := strings.TrimSpace(h.Request.Header(":method") + " " + h.Request.Header(":authority") + h.Request.Header(":path"))
	if st := h.Response.Header(":status"); st != "" {
		s += " -> " + st
	}
	return s
}

// Collect reads traces until it has n (n <= 0: no limit), the stream ends,
// or ctx is done; each is passed to each (which may be nil) as it arrives.
// Ending because of ctx is not an error: what arrived is returned.
func (s *TapStream) Collect(ctx context.Context, n int, each func(Trace)) ([]Trace, error) {
	stop := context.AfterFunc(ctx, func() { s.body.Close() })
	defer stop()
	var out []Trace
	for n <= 0 || len(out) < n {
		t, err := s.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, t)
		if each != nil {
			each(t)
		}
	}
	return out, nil
}
