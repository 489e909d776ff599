// Package admin is a client for Envoy's admin API, limited to what debugging
// a Proxy-Wasm plugin needs: logger levels (/logging), statistics (/stats and
// /stats/prometheus), the loaded Wasm plugins (/config_dump, including
// ECDS-delivered ones), the Envoy version (/server_info) and HTTP tap traces
// (/tap).
//
// Every method, query form, status code and body it expects is the one Envoy
// itself uses, as recorded in shared/reference/envoy-formats.md §5–§8 (source:
// envoy source/server/admin/{admin,logs_handler,prometheus_stats,
// stats_render}.cc and source/extensions/common/tap/admin.cc). Answers that do
// not have Envoy's shape are reported as "not an envoy admin endpoint" rather
// than parsed into nonsense, so pointing the client at the wrong port gives a
// clear error.
//
// Package admintest serves the same API from memory for tests.
package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultTimeout bounds every non-streaming request.
const DefaultTimeout = 10 * time.Second

// maxBody caps how much of a non-streaming answer is read. A full Istio
// /config_dump is a few MB; anything beyond this is not an admin answer.
const maxBody = 256 << 20

// Client talks to one Envoy admin endpoint. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	http    *http.Client
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc (for example
// one whose transport dials through a Kubernetes port-forward).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout bounds each non-streaming request (default DefaultTimeout). For
// /tap it bounds only the wait for the response headers.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client for the admin endpoint at addr: a URL
// ("http://127.0.0.1:15000", "https://envoy:9901/admin/") or a bare
// host:port ("localhost:15000", ":9901" for the local host).
func New(addr string, opts ...Option) (*Client, error) {
	u, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	c := &Client{base: u, http: &http.Client{}, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// ParseAddr turns what a user typed for --admin into the endpoint's base URL.
func ParseAddr(addr string) (*url.URL, error) {
	s := strings.TrimSpace(addr)
	if s == "" {
		return nil, errors.New("empty admin address: give host:port or a URL, e.g. localhost:15000")
	}
	if strings.HasPrefix(s, ":") {
		s = "127.0.0.1" + s
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %v", addr, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("admin address %q: scheme %q is not http or https", addr, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("admin address %q: no host", addr)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("admin address %q: give the endpoint only, without a query", addr)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// URL is the endpoint's base URL, e.g. "http://127.0.0.1:15000".
func (c *Client) URL() string { return c.base.String() }

// request is one admin call. query is already encoded, without '?'.
type request struct {
	method, path, query string
	body                []byte
	stream              bool // no overall timeout; the caller reads the body
}

func (r request) String() string {
	if r.query == "" {
		return r.method + " " + r.path
	}
	return r.method + " " + r.path + "?" + r.query
}

// response is an answer read in full (or, for streams, with its body open).
type response struct {
	code        int
	contentType string
	body        []byte
	stream      io.ReadCloser
	cancel      context.CancelFunc
}

// do sends r and reads the answer. Transport failures become errors that say
// what to check; HTTP statuses are left to the caller, which knows which ones
// the endpoint uses.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawQuery = r.query
	var cancel context.CancelFunc
	if r.stream {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %v", c.where(r), unwrapURLError(err))
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if r.stream && c.timeout > 0 {
		hc = withHeaderTimeout(hc, c.timeout)
	}
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		return nil, c.transportError(ctx, r, err)
	}
	out := &response{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	if r.stream && resp.StatusCode == http.StatusOK {
		out.stream, out.cancel = resp.Body, cancel
		return out, nil
	}
	defer cancel()
	defer resp.Body.Close()
	out.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, c.transportError(ctx, r, err)
	}
	return out, nil
}

// withHeaderTimeout bounds the wait for response headers of a streaming
// request without bounding the stream itself.
func withHeaderTimeout(hc *http.Client, d time.Duration) *http.Client {
	t, ok := hc.Transport.(*http.Transport)
	if hc.Transport == nil {
		t, ok = http.DefaultTransport.(*http.Transport), true
	}
	if !ok {
		return hc
	}
	t = t.Clone()
	t.ResponseHeaderTimeout = d
	cp := *hc
	cp.Transport = t
	cp.Timeout = 0
	return &cp
}

func (c *Client) transportError(ctx context.Context, r request, err error) error {
	err = unwrapURLError(err)
	where := c.where(r)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return fmt.Errorf("%s: no answer within %v; is %s an envoy admin address?", where, c.timeout, c.base.Host)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", where, context.Canceled)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		cause := op.Err
		var sc *os.SyscallError // "connect: connection refused": the syscall is no news after "cannot connect"
		if errors.As(cause, &sc) {
			cause = sc.Err
		}
		return fmt.Errorf("%s: cannot connect: %v; check that envoy runs and that its admin interface listens at %s (istio: localhost:15000, envoy examples: 9901)", where, cause, c.base.Host)
	}
	return fmt.Errorf("%s: %v", where, err)
}

// where names a request in errors: "POST http://127.0.0.1:15000/logging?wasm=trace".
func (c *Client) where(r request) string {
	s := r.method + " " + c.URL() + r.path
	if r.query != "" {
		s += "?" + r.query
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// NotAdminError says that an address answered, but not as an Envoy admin
// endpoint does: a web page, another service's 404, or a body of the wrong
// shape.
type NotAdminError struct {
	URL         string // the endpoint's base URL
	Request     string // "POST /logging"
	Status      int
	ContentType string
	Body        string // the first line or so of the answer
	Want        string // what Envoy would have answered
}

func (e *NotAdminError) Error() string {
	ct := e.ContentType
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("%s is not an envoy admin endpoint: %s answered %d (%s) %q, envoy answers %s",
		e.URL, e.Request, e.Status, ct, e.Body, e.Want)
}

func (c *Client) notAdmin(r request, resp *response, want string) error {
	return &NotAdminError{
		URL: c.URL(), Request: r.method + " " + r.path, Status: resp.code,
		ContentType: resp.contentType, Body: snippet(resp.body), Want: want,
	}
}

// StatusError is an answer with a status Envoy uses for this endpoint, but
// not success; Message is Envoy's explanation (its first line).
type StatusError struct {
	Request string // "POST /logging?wasm=bogus"
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: envoy answered %d: %s", e.Request, e.Status, e.Message)
}

// snippet is the start of a body for an error message: its first non-empty
// line, at most 80 bytes.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// isEnvoyNotFound reports whether a 404 is Envoy's own ("invalid path. admin
// commands are: …", admin.cc), i.e. the admin API is there but the handler
// is not registered.
func isEnvoyNotFound(resp *response) bool {
	return resp.code == http.StatusNotFound && bytes.HasPrefix(resp.body, []byte("invalid path."))
}
