package replay

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), as browsers and
// proxies (Chrome, Firefox, mitmproxy, Charles) export it. Only what a
// replay needs is read; everything else is ignored.
type harFile struct {
	Log *struct {
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	StartedDateTime string      `json:"startedDateTime"`
	Request         *harRequest `json:"request"`
	Response        *struct {
		Status      int         `json:"status"`
		HTTPVersion string      `json:"httpVersion"`
		Headers     []harHeader `json:"headers"`
		Content     struct {
			Text     *string `json:"text"`
			Encoding string  `json:"encoding"`
		} `json:"content"`
	} `json:"response"`
	ServerIPAddress string `json:"serverIPAddress"`
}

type harRequest struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Headers     []harHeader `json:"headers"`
	PostData    *struct {
		Text     *string `json:"text"`
		Encoding string  `json:"encoding"`
	} `json:"postData"`
}

type harHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// hopHeaders are connection-specific headers Envoy's codecs consume before
// any filter runs.
var hopHeaders = []string{"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}

// ParseHAR converts a HAR file into a capture: one HTTP stream per entry,
// with HTTP/2 pseudo-headers made from the method and URL (the Host header
// becomes :authority, as Envoy does for HTTP/1.1), hop-by-hop headers
// dropped, bodies decoded, and the entries' start times kept relative to the
// first.
func ParseHAR(name string, data []byte) (*Capture, error) {
	var h harFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%s: %s", name, jsonSyntaxError(data, err))
	}
	if h.Log == nil {
		return nil, fmt.Errorf("%s: log: missing; a HAR file is {\"log\": {\"entries\": […]}}", name)
	}
	c := &Capture{Version: CaptureVersion, Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond}}
	var first time.Time
	for i, e := range h.Log.Entries {
		path := fmt.Sprintf("%s: log.entries[%d]", name, i)
		if e.Request == nil {
			return nil, fmt.Errorf("%s.request: missing", path)
		}
		s, err := harStream(e, path)
		if err != nil {
			return nil, err
		}
		if t, err := time.Parse(time.RFC3339Nano, e.StartedDateTime); err == nil {
			if first.IsZero() {
				first = t
				c.Host.StartTime = t.UTC()
			}
			if d := t.Sub(first); d >= 0 {
				s.At = &d
			}
		}
		c.Streams = append(c.Streams, s)
	}
	if len(c.Streams) == 0 {
		return nil, fmt.Errorf("%s: log.entries: no entries to replay", name)
	}
	return c, nil
}

func harStream(e harEntry, path string) (CaptureStream, error) {
	s := CaptureStream{Kind: "http"}
	r := e.Request
	if r.Method == "" {
		return s, fmt.Errorf("%s.request.method: missing", path)
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return s, fmt.Errorf("%s.request.url: %q is not an absolute URL", path, r.URL)
	}
	authority := u.Host
	var rest []Header
	for _, hh := range r.Headers {
		n := strings.ToLower(hh.Name)
		switch {
		case n == "":
			continue
		case strings.HasPrefix(n, ":"):
			if n == ":authority" && hh.Value != "" {
				authority = hh.Value
			}
			continue // HTTP/2 pseudo-headers: rebuilt below
		case n == "host":
			authority = hh.Value
			continue
		case contains(hopHeaders, n):
			continue
		}
		rest = append(rest, Header{Name: n, Value: hh.Value})
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	req := &HTTPMessage{Headers: append([]Header{{":authority", authority}, {":path", p}, {":method", r.Method}, {":scheme", u.Scheme}}, rest...)}
	if pd := r.PostData; pd != nil && pd.Text != nil && *pd.Text != "" {
		b, err := harBody(*pd.Text, pd.Encoding)
		if err != nil {
			return s, fmt.Errorf("%s.request.postData.text: %v", path, err)
		}
		req.Body = []Chunk{{Data: b}}
	}
	s.Request = req
	s.Connection.Protocol = harProtocol(r.HTTPVersion)
	if e.ServerIPAddress != "" {
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		s.Connection.Destination = net.JoinHostPort(strings.Trim(e.ServerIPAddress, "[]"), port)
	}
	if resp := e.Response; resp != nil && resp.Status > 0 {
		m := &HTTPMessage{Headers: []Header{{":status", strconv.Itoa(resp.Status)}}}
		for _, hh := range resp.Headers {
			n := strings.ToLower(hh.Name)
			if n == "" || strings.HasPrefix(n, ":") || contains(hopHeaders, n) {
				continue
			}
			m.Headers = append(m.Headers, Header{Name: n, Value: hh.Value})
		}
		if t := resp.Content.Text; t != nil && *t != "" {
			b, err := harBody(*t, resp.Content.Encoding)
			if err != nil {
				return s, fmt.Errorf("%s.response.content.text: %v", path, err)
			}
			m.Body = []Chunk{{Data: b}}
		}
		s.Response = m
	}
	return s, nil
}

func harBody(text, encoding string) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "":
		return []byte(text), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("invalid base64: %v", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q (HAR knows base64)", encoding)
}

// harProtocol maps a HAR httpVersion to Envoy's request.protocol.
func harProtocol(v string) string {
	switch strings.ToLower(v) {
	case "http/2", "http/2.0", "h2", "h2c":
		return "HTTP/2"
	case "http/3", "h3":
		return "HTTP/3"
	case "http/1.0":
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}
