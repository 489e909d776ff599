package admintest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

type tapState struct {
	mu       sync.Mutex
	ids      map[string]bool
	attached *tapSession
}

type tapSession struct {
	configID string
	traces   chan []byte
	done     chan struct{}
	once     sync.Once
}

func (t *tapSession) end() { t.once.Do(func() { close(t.done) }) }

func newTapState(ids []string) *tapState {
	t := &tapState{ids: map[string]bool{}}
	for _, id := range ids {
		t.ids[id] = true
	}
	return t
}

func (t *tapState) registered() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ids) > 0
}

func (t *tapState) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.attached != nil {
		t.attached.end()
	}
}

// tapRequest is the part of envoy.admin.v3.TapRequest the fake checks.
type tapRequest struct {
	ConfigID  string `json:"config_id"`
	TapConfig *struct {
		OutputConfig *struct {
			Sinks []map[string]json.RawMessage `json:"sinks"`
		} `json:"output_config"`
	} `json:"tap_config"`
}

// serveTap is extensions/common/tap/admin.cc AdminHandler::handler: one
// attached session at a time, a JSON (or YAML) TapRequest body, a known
// config_id; then the stream stays open and each trace is written as pretty
// JSON, back to back without a delimiter, until the client goes away.
func (s *Server) serveTap(w http.ResponseWriter, r *http.Request, body string) {
	t := s.tap
	t.mu.Lock()
	if t.attached != nil {
		t.mu.Unlock()
		text(w, http.StatusBadRequest, "An attached /tap admin stream already exists. Detach it.")
		return
	}
	if strings.TrimSpace(body) == "" {
		t.mu.Unlock()
		text(w, http.StatusBadRequest, "/tap requires a JSON/YAML body")
		return
	}
	var req tapRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.mu.Unlock()
		// The fake reads JSON only (Envoy also takes YAML), and its wording
		// of parse and validation errors only resembles Envoy's.
		text(w, http.StatusBadRequest, fmt.Sprintf("Unable to parse JSON as proto (%v): %s", err, body))
		return
	}
	if req.ConfigID == "" || req.TapConfig == nil || req.TapConfig.OutputConfig == nil || len(req.TapConfig.OutputConfig.Sinks) != 1 {
		t.mu.Unlock()
		text(w, http.StatusBadRequest, "Proto constraint validation failed (TapRequestValidationError.ConfigId: value length must be at least 1 runes): "+body)
		return
	}
	if !t.ids[req.ConfigID] {
		t.mu.Unlock()
		text(w, http.StatusBadRequest, fmt.Sprintf("Unknown config id '%s'. No extension has registered with this id.", req.ConfigID))
		return
	}
	sess := &tapSession{configID: req.ConfigID, traces: make(chan []byte, 64), done: make(chan struct{})}
	t.attached = sess
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		if t.attached == sess {
			t.attached = nil
		}
		t.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sess.done:
			for { // write what was sent before the end
				select {
				case tr := <-sess.traces:
					if _, err := w.Write(tr); err != nil {
						return
					}
				default:
					return
				}
			}
		case tr := <-sess.traces:
			if _, err := w.Write(tr); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
}

// TapAttached reports whether a /tap session is attached.
func (s *Server) TapAttached() bool {
	s.tap.mu.Lock()
	defer s.tap.mu.Unlock()
	return s.tap.attached != nil
}

// WaitTapAttached waits up to d for a /tap session.
func (s *Server) WaitTapAttached(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s.TapAttached() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// SendTrace writes one trace (a TraceWrapper as JSON, e.g. from HTTPTrace)
// to the attached /tap session, as Envoy does when a tapped request
// completes. It reports false when no session is attached.
func (s *Server) SendTrace(trace []byte) bool {
	s.tap.mu.Lock()
	sess := s.tap.attached
	s.tap.mu.Unlock()
	if sess == nil {
		return false
	}
	select {
	case sess.traces <- trace:
		return true
	case <-sess.done:
		return false
	}
}

// EndTap ends the attached /tap session from Envoy's side.
func (s *Server) EndTap() { s.tap.close() }

// Header is a tapped header.
type Header struct{ Key, Value string }

// HTTPTrace renders an envoy.data.tap.v3.TraceWrapper holding an
// http_buffered_trace as Envoy's admin sink writes it: pretty JSON with
// one-space indentation, proto field names and order, primitives always
// printed, bodies as base64 (JSON_BODY_AS_BYTES).
func HTTPTrace(reqHeaders []Header, reqBody []byte, respHeaders []Header, respBody []byte, at time.Time) []byte {
	type hv struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	type body struct {
		AsBytes   []byte `json:"as_bytes"`
		Truncated bool   `json:"truncated"`
	}
	type message struct {
		Headers             []hv   `json:"headers"`
		Body                *body  `json:"body,omitempty"`
		Trailers            []hv   `json:"trailers"`
		HeadersReceivedTime string `json:"headers_received_time"`
	}
	conv := func(hs []Header) []hv {
		out := []hv{}
		for _, h := range hs {
			out = append(out, hv{h.Key, h.Value})
		}
		return out
	}
	msg := func(hs []Header, b []byte, t time.Time) message {
		m := message{Headers: conv(hs), Trailers: []hv{}, HeadersReceivedTime: t.UTC().Format("2006-01-02T15:04:05.000Z")}
		if b != nil {
			m.Body = &body{AsBytes: b}
		}
		return m
	}
	type conn struct {
		LocalAddress  map[string]any `json:"local_address"`
		RemoteAddress map[string]any `json:"remote_address"`
	}
	addr := func(ip string, port int) map[string]any {
		return map[string]any{"socket_address": map[string]any{"address": ip, "port_value": port}}
	}
	w := struct {
		T struct {
			Request              message `json:"request"`
			Response             message `json:"response"`
			DownstreamConnection conn    `json:"downstream_connection"`
		} `json:"http_buffered_trace"`
	}{}
	w.T.Request = msg(reqHeaders, reqBody, at)
	w.T.Response = msg(respHeaders, respBody, at.Add(2*time.Millisecond))
	w.T.DownstreamConnection = conn{addr("127.0.0.1", 10000), addr("127.0.0.1", 51234)}
	b, err := json.MarshalIndent(w, "", " ")
	if err != nil {
		panic("BUG: admintest: " + err.Error())
	}
	return b
}
