package replay

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Envoy tap traces (reference §8): envoy.data.tap.v3.TraceWrapper objects
// as the admin /tap endpoint and the file sinks write them with
// JSON_BODY_AS_BYTES (base64 bodies) or JSON_BODY_AS_STRING, concatenated
// without a delimiter (or in an array). Buffered HTTP traces, streamed HTTP
// segments (grouped by trace_id), and socket traces (TCP streams) are read.

type tapWrapper struct {
	HTTPBuffered   *tapHTTPBuffered   `json:"http_buffered_trace"`
	HTTPSegment    *tapHTTPSegment    `json:"http_streamed_trace_segment"`
	SocketBuffered *tapSocketBuffered `json:"socket_buffered_trace"`
	SocketSegment  *tapSocketSegment  `json:"socket_streamed_trace_segment"`
}

type tapHTTPBuffered struct {
	Request              *tapMessage    `json:"request"`
	Response             *tapMessage    `json:"response"`
	DownstreamConnection *tapConnection `json:"downstream_connection"`
}

type tapMessage struct {
	Headers             []tapHeader `json:"headers"`
	Body                *tapBody    `json:"body"`
	Trailers            []tapHeader `json:"trailers"`
	HeadersReceivedTime string      `json:"headers_received_time"`
}

type tapHeader struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	RawValue string `json:"raw_value"` // bytes, base64
}

type tapBody struct {
	AsBytes   *string `json:"as_bytes"`
	AsString  *string `json:"as_string"`
	Truncated bool    `json:"truncated"`
}

type tapConnection struct {
	LocalAddress  *tapAddress `json:"local_address"`
	RemoteAddress *tapAddress `json:"remote_address"`
}

type tapAddress struct {
	SocketAddress *struct {
		Address   string `json:"address"`
		PortValue int    `json:"port_value"`
	} `json:"socket_address"`
}

type tapHTTPSegment struct {
	TraceID           json.Number    `json:"trace_id"`
	RequestHeaders    *tapHeaderList `json:"request_headers"`
	RequestBodyChunk  *tapBody       `json:"request_body_chunk"`
	RequestTrailers   *tapHeaderList `json:"request_trailers"`
	ResponseHeaders   *tapHeaderList `json:"response_headers"`
	ResponseBodyChunk *tapBody       `json:"response_body_chunk"`
	ResponseTrailers  *tapHeaderList `json:"response_trailers"`
}

type tapHeaderList struct {
	Headers []tapHeader `json:"headers"`
}

type tapSocketBuffered struct {
	TraceID        json.Number      `json:"trace_id"`
	Connection     *tapConnection   `json:"connection"`
	Events         []tapSocketEvent `json:"events"`
	ReadTruncated  bool             `json:"read_truncated"`
	WriteTruncated bool             `json:"write_truncated"`
}

type tapSocketSegment struct {
	TraceID    json.Number     `json:"trace_id"`
	Connection *tapConnection  `json:"connection"`
	Event      *tapSocketEvent `json:"event"`
	Events     *struct {
		Events []tapSocketEvent `json:"events"`
	} `json:"events"`
}

type tapSocketEvent struct {
	Timestamp string `json:"timestamp"`
	Read      *struct {
		Data *tapBody `json:"data"`
	} `json:"read"`
	Write *struct {
		Data      *tapBody `json:"data"`
		EndStream bool     `json:"end_stream"`
	} `json:"write"`
	Closed *struct{} `json:"closed"`
}

// ParseTap converts Envoy tap traces into a capture.
func ParseTap(name string, data []byte) (*Capture, error) {
	c := &Capture{Version: CaptureVersion, Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond}}
	var wrappers []tapWrapper
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &wrappers); err != nil {
			return nil, fmt.Errorf("%s: %s", name, jsonSyntaxError(trimmed, err))
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		for {
			var w tapWrapper
			start := dec.InputOffset()
			err := dec.Decode(&w)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: trace %d: %s", name, len(wrappers)+1, jsonErrorAt(trimmed, start, err))
			}
			wrappers = append(wrappers, w)
		}
	}
	segIndex := map[string]int{}
	var first time.Time
	truncated := 0
	for i, w := range wrappers {
		where := fmt.Sprintf("%s: trace %d", name, i+1)
		switch {
		case w.HTTPBuffered != nil:
			s, t, n, err := tapBuffered(w.HTTPBuffered, where)
			if err != nil {
				return nil, err
			}
			truncated += n
			if !t.IsZero() {
				if first.IsZero() {
					first = t
					c.Host.StartTime = t.UTC()
				}
				if d := t.Sub(first); d >= 0 {
					s.At = &d
				}
			}
			c.Streams = append(c.Streams, s)
		case w.HTTPSegment != nil:
			seg := w.HTTPSegment
			id := seg.TraceID.String()
			idx, ok := segIndex[id]
			if !ok {
				c.Streams = append(c.Streams, CaptureStream{Kind: "http", ID: "trace-" + id})
				idx = len(c.Streams) - 1
				segIndex[id] = idx
			}
			s := &c.Streams[idx]
			n, err := tapSegment(s, seg, where)
			if err != nil {
				return nil, err
			}
			truncated += n
		case w.SocketBuffered != nil:
			s, n, err := tapSocket(w.SocketBuffered.TraceID, w.SocketBuffered.Connection, w.SocketBuffered.Events, where)
			if err != nil {
				return nil, err
			}
			truncated += n
			c.Streams = append(c.Streams, s)
		case w.SocketSegment != nil:
			seg := w.SocketSegment
			id := "socket-" + seg.TraceID.String()
			idx, ok := segIndex[id]
			if !ok {
				c.Streams = append(c.Streams, CaptureStream{Kind: "tcp", ID: "trace-" + seg.TraceID.String()})
				idx = len(c.Streams) - 1
				segIndex[id] = idx
			}
			var evs []tapSocketEvent
			if seg.Event != nil {
				evs = append(evs, *seg.Event)
			}
			if seg.Events != nil {
				evs = append(evs, seg.Events.Events...)
			}
			s, n, err := tapSocket(seg.TraceID, seg.Connection, evs, where)
			if err != nil {
				return nil, err
			}
			truncated += n
			st := &c.Streams[idx]
			st.TCP = append(st.TCP, s.TCP...)
			if s.Connection != (Connection{}) {
				st.Connection = s.Connection
			}
		default:
			return nil, fmt.Errorf("%s: not a TraceWrapper (expected one of %v)", where, tapKinds)
		}
	}
	if len(c.Streams) == 0 {
		return nil, fmt.Errorf("%s: no traces", name)
	}
	for i := range c.Streams {
		if c.Streams[i].Kind == "http" && (c.Streams[i].Request == nil || len(c.Streams[i].Request.Headers) == 0) {
			return nil, fmt.Errorf("%s: %s has no request headers", name, c.Streams[i].ID)
		}
	}
	if truncated > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%d tapped bodies were truncated by the tap's buffer limit (max_buffered_rx_bytes/tx_bytes, 1 KiB by default); the replay sees the truncated bytes", truncated))
	}
	return c, nil
}

func tapHeaders(hs []tapHeader, where string) ([]Header, error) {
	out := make([]Header, 0, len(hs))
	for i, h := range hs {
		v := h.Value
		if h.RawValue != "" {
			b, err := base64.StdEncoding.DecodeString(h.RawValue)
			if err != nil {
				return nil, fmt.Errorf("%s.headers[%d].raw_value: invalid base64: %v", where, i, err)
			}
			v = string(b)
		}
		if h.Key == "" {
			return nil, fmt.Errorf("%s.headers[%d].key: missing", where, i)
		}
		out = append(out, Header{Name: h.Key, Value: v})
	}
	return out, nil
}

func tapBodyBytes(b *tapBody, where string) ([]byte, bool, error) {
	if b == nil {
		return nil, false, nil
	}
	switch {
	case b.AsBytes != nil:
		d, err := base64.StdEncoding.DecodeString(*b.AsBytes)
		if err != nil {
			return nil, false, fmt.Errorf("%s.as_bytes: invalid base64: %v", where, err)
		}
		return d, b.Truncated, nil
	case b.AsString != nil:
		return []byte(*b.AsString), b.Truncated, nil
	}
	return nil, b.Truncated, nil
}

func tapMsg(m *tapMessage, where string) (*HTTPMessage, int, error) {
	if m == nil {
		return nil, 0, nil
	}
	hs, err := tapHeaders(m.Headers, where)
	if err != nil {
		return nil, 0, err
	}
	out := &HTTPMessage{Headers: hs}
	body, trunc, err := tapBodyBytes(m.Body, where+".body")
	if err != nil {
		return nil, 0, err
	}
	if len(body) > 0 {
		out.Body = []Chunk{{Data: body}}
	}
	if len(m.Trailers) > 0 {
		if out.Trailers, err = tapHeaders(m.Trailers, where+".trailers"); err != nil {
			return nil, 0, err
		}
	}
	n := 0
	if trunc {
		n = 1
	}
	return out, n, nil
}

func tapBuffered(t *tapHTTPBuffered, where string) (CaptureStream, time.Time, int, error) {
	s := CaptureStream{Kind: "http"}
	req, n1, err := tapMsg(t.Request, where+": request")
	if err != nil {
		return s, time.Time{}, 0, err
	}
	if req == nil || len(req.Headers) == 0 {
		return s, time.Time{}, 0, fmt.Errorf("%s: http_buffered_trace.request.headers: missing", where)
	}
	resp, n2, err := tapMsg(t.Response, where+": response")
	if err != nil {
		return s, time.Time{}, 0, err
	}
	s.Request, s.Response = req, resp
	if t.DownstreamConnection != nil {
		s.Connection.Source = tapAddr(t.DownstreamConnection.RemoteAddress)
		s.Connection.Destination = tapAddr(t.DownstreamConnection.LocalAddress)
	}
	var ts time.Time
	if t.Request != nil && t.Request.HeadersReceivedTime != "" {
		ts, _ = time.Parse(time.RFC3339Nano, t.Request.HeadersReceivedTime)
	}
	return s, ts, n1 + n2, nil
}

func tapAddr(a *tapAddress) string {
	if a == nil || a.SocketAddress == nil {
		return ""
	}
	return net.JoinHostPort(a.SocketAddress.Address, strconv.Itoa(a.SocketAddress.PortValue))
}

// tapSegment adds one streamed HTTP segment to its stream.
func tapSegment(s *CaptureStream, seg *tapHTTPSegment, where string) (int, error) {
	if s.Request == nil {
		s.Request = &HTTPMessage{}
	}
	msg := func(resp bool) *HTTPMessage {
		if !resp {
			return s.Request
		}
		if s.Response == nil {
			s.Response = &HTTPMessage{}
		}
		return s.Response
	}
	var err error
	trunc := 0
	chunk := func(m *HTTPMessage, b *tapBody, w string) {
		var d []byte
		var t bool
		d, t, err = tapBodyBytes(b, w)
		if t {
			trunc++
		}
		m.Body = append(m.Body, Chunk{Data: d})
	}
	switch {
	case seg.RequestHeaders != nil:
		s.Request.Headers, err = tapHeaders(seg.RequestHeaders.Headers, where+": request_headers")
	case seg.RequestBodyChunk != nil:
		chunk(s.Request, seg.RequestBodyChunk, where+": request_body_chunk")
	case seg.RequestTrailers != nil:
		s.Request.Trailers, err = tapHeaders(seg.RequestTrailers.Headers, where+": request_trailers")
	case seg.ResponseHeaders != nil:
		msg(true).Headers, err = tapHeaders(seg.ResponseHeaders.Headers, where+": response_headers")
	case seg.ResponseBodyChunk != nil:
		chunk(msg(true), seg.ResponseBodyChunk, where+": response_body_chunk")
	case seg.ResponseTrailers != nil:
		msg(true).Trailers, err = tapHeaders(seg.ResponseTrailers.Headers, where+": response_trailers")
	default:
		return 0, fmt.Errorf("%s: an http_streamed_trace_segment with no part", where)
	}
	return trunc, err
}

// tapSocket turns socket events into TCP events: read is data from the
// client (downstream), write is data to it (what the upstream sent).
func tapSocket(id json.Number, conn *tapConnection, events []tapSocketEvent, where string) (CaptureStream, int, error) {
	s := CaptureStream{Kind: "tcp", ID: "trace-" + id.String()}
	if conn != nil {
		s.Connection.Source = tapAddr(conn.RemoteAddress)
		s.Connection.Destination = tapAddr(conn.LocalAddress)
	}
	trunc := 0
	for i, e := range events {
		w := fmt.Sprintf("%s: events[%d]", where, i)
		switch {
		case e.Read != nil:
			d, t, err := tapBodyBytes(e.Read.Data, w+".read.data")
			if err != nil {
				return s, 0, err
			}
			if t {
				trunc++
			}
			s.TCP = append(s.TCP, TCPEvent{Downstream: &Chunk{Data: d}})
		case e.Write != nil:
			d, t, err := tapBodyBytes(e.Write.Data, w+".write.data")
			if err != nil {
				return s, 0, err
			}
			if t {
				trunc++
			}
			s.TCP = append(s.TCP, TCPEvent{Upstream: &Chunk{Data: d}, EndStream: e.Write.EndStream})
		case e.Closed != nil:
			s.TCP = append(s.TCP, TCPEvent{Close: "downstream", Peer: "remote"})
		}
	}
	return s, trunc, nil
}
