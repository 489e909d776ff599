// Package admintest serves a fake Envoy admin API for tests: /logging,
// /stats, /stats/prometheus, /config_dump, /server_info and /tap, answering
// with Envoy's paths, methods, status codes, headers and bodies byte for byte
// (shared/reference/envoy-formats.md §5–§8; envoy source/server/admin/
// admin.cc, logs_handler.cc, prometheus_stats.cc, stats_render.cc and
// source/extensions/common/tap/admin.cc). It keeps logger levels as state, so
// a test can check that a tool put them back, and it can drop connections to
// play a broken port-forward.
//
// It deliberately shares no code with package admin: the fake is written from
// Envoy's behaviour, not from the client's expectations, so a bug in one is
// not hidden by the same bug in the other.
package admintest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// LoggingStyle picks which Envoy release's /logging behaviour to play.
type LoggingStyle int

const (
	// LoggingCurrent: 400 "error: <reason>" with the four usage lines
	// (including group=), empty parameters ignored.
	LoggingCurrent LoggingStyle = iota
	// Logging400: 400 "error: <reason>", three usage lines, every parameter
	// counts (Envoy ~1.25 to 1.36).
	Logging400
	// Logging404: 404 with the usage text only, paths= supported (Envoy 1.22
	// to ~1.24).
	Logging404
	// LoggingNoPaths: 404 with the usage text only and no paths= (Envoy
	// before 1.22), so "paths" is taken for a logger name.
	LoggingNoPaths
)

// Options configures a Server. The zero value is a current Envoy with
// every logger at info.
type Options struct {
	// Loggers are the logger names in order; nil means EnvoyLoggers.
	Loggers []string
	// Level is every logger's initial level; "" means info. Per-logger
	// starting levels go in Levels.
	Level  string
	Levels map[string]string
	// FineGrain plays --enable-fine-grain-logging: the list holds source
	// files (FineGrainFiles unless Loggers is set) and names are globs.
	FineGrain bool
	Logging   LoggingStyle
	// Version is /server_info's version string.
	Version string
	// ConfigDump is /config_dump's body; nil means IstioECDSDump.
	ConfigDump []byte
	// TapConfigIDs are the admin_config ids of loaded tap filters; with
	// none, /tap is not registered and answers 404 as in Envoy.
	TapConfigIDs []string
	// Addr is the listen address; "" picks a free local port.
	Addr string
	// Concurrency is the number of worker threads the fake reports
	// (server.concurrency and /server_info); 0 means 2, Istio's sidecar
	// default.
	Concurrency int
}

// EnvoyLoggers are the logger names of a current Envoy, in the order
// /logging lists them (ALL_LOGGER_IDS in source/common/common/logger.h).
var EnvoyLoggers = []string{
	"admin", "alternate_protocols_cache", "aws", "assert", "backtrace", "basic_auth",
	"cache_filter", "client", "config", "connection", "conn_handler", "decompression",
	"dns", "dubbo", "envoy_bug", "ext_authz", "ext_proc", "rocketmq", "file", "filter",
	"forward_proxy", "geolocation", "grpc", "happy_eyeballs", "hc", "health_checker",
	"http", "http2", "hystrix", "init", "io", "jwt", "kafka", "key_value_store", "lua",
	"main", "matcher", "misc", "mongo", "multi_connection", "oauth2", "quic",
	"quic_stream", "pool", "rate_limit_quota", "rbac", "rds", "redis", "router",
	"runtime", "stats", "secret", "tap", "testing", "thrift", "tracing", "upstream",
	"udp", "wasm", "websocket", "golang",
}

// FineGrainFiles stand for the per-file loggers of fine-grain mode.
var FineGrainFiles = []string{
	"source/common/http/conn_manager_impl.cc",
	"source/extensions/common/wasm/context.cc",
	"source/extensions/common/wasm/wasm_vm.cc",
	"source/server/admin/logs_handler.cc",
}

// DefaultVersion is the /server_info version unless Options.Version says
// otherwise: "<commit>/<release>/<Clean|Modified>/<build type>/<TLS>".
const DefaultVersion = "d026e913427989a8d1542de03ba50f2af814e728/1.36.0-dev/Clean/RELEASE/BoringSSL"

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Query  string // raw, as sent
	Body   string
}

func (r Request) String() string {
	if r.Query == "" {
		return r.Method + " " + r.Path
	}
	return r.Method + " " + r.Path + "?" + r.Query
}

// Server is a fake Envoy admin endpoint.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234".
	URL string

	opts Options
	srv  *httptest.Server

	mu       sync.Mutex
	names    []string
	levels   map[string]string
	requests []Request
	metrics  map[string]*Metric
	dump     []byte
	dropping bool
	tap      *tapState
	started  time.Time
}

// New starts a server; Close stops it.
func New(opts Options) *Server {
	s := &Server{opts: opts, levels: map[string]string{}, metrics: map[string]*Metric{}, started: time.Now()}
	s.names = opts.Loggers
	if s.names == nil {
		s.names = EnvoyLoggers
		if opts.FineGrain {
			s.names = FineGrainFiles
		}
	}
	s.names = append([]string(nil), s.names...)
	lvl := opts.Level
	if lvl == "" {
		lvl = "info"
	}
	for _, n := range s.names {
		s.levels[n] = lvl
	}
	for n, l := range opts.Levels {
		s.levels[n] = l
	}
	s.dump = opts.ConfigDump
	if s.dump == nil {
		s.dump = IstioECDSDump
	}
	if s.opts.Version == "" {
		s.opts.Version = DefaultVersion
	}
	if s.opts.Concurrency == 0 {
		s.opts.Concurrency = 2
	}
	s.metrics["server.concurrency"] = &Metric{Name: "server.concurrency", Type: "gauge", Value: uint64(s.opts.Concurrency)}
	s.metrics["server.live"] = &Metric{Name: "server.live", Type: "gauge", Value: 1}
	s.tap = newTapState(opts.TapConfigIDs)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			panic(fmt.Sprintf("admintest: listen on %s: %v", opts.Addr, err))
		}
		s.srv.Listener.Close()
		s.srv.Listener = l
	}
	s.srv.Start()
	s.URL = s.srv.URL
	return s
}

// Close stops the server and ends any /tap session.
func (s *Server) Close() {
	s.tap.close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return strings.TrimPrefix(s.URL, "http://") }

// Level returns a logger's current level.
func (s *Server) Level(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.levels[name]
}

// Levels returns every logger's level.
func (s *Server) Levels() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.levels))
	for k, v := range s.levels {
		out[k] = v
	}
	return out
}

// SetLevel changes a logger's level behind the client's back, as another
// operator would.
func (s *Server) SetLevel(name, level string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.levels[name] = level
}

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsTo returns the requests to one path ("/logging").
func (s *Server) RequestsTo(path string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// SetDropping makes the server cut every connection, open or new, without
// an answer (true) or serve again (false): a dropped port-forward.
func (s *Server) SetDropping(drop bool) {
	s.mu.Lock()
	s.dropping = drop
	s.mu.Unlock()
	if drop {
		s.srv.CloseClientConnections()
	}
}

// SetConfigDump replaces /config_dump's body.
func (s *Server) SetConfigDump(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dump = b
}

// handlers are Envoy's admin paths this server implements, with their help
// text and whether they mutate state (and so require POST), as registered
// in admin.cc. Other registered paths are listed in help but answer 404.
var handlers = []struct {
	path, help string
	mutates    bool
}{
	{"/", "Admin home page", false},
	{"/certs", "print certs on machine", false},
	{"/clusters", "upstream cluster status", false},
	{"/config_dump", "dump current Envoy configs (experimental)", false},
	{"/contention", "dump current Envoy mutex contention stats (if enabled)", false},
	{"/cpuprofiler", "enable/disable the CPU profiler", true},
	{"/drain_listeners", "drain listeners", true},
	{"/healthcheck/fail", "cause the server to fail health checks", true},
	{"/healthcheck/ok", "cause the server to pass health checks", true},
	{"/heap_dump", "dump current Envoy heap (if supported)", false},
	{"/heapprofiler", "enable/disable the heap profiler", true},
	{"/help", "print out list of admin commands", false},
	{"/hot_restart_version", "print the hot restart compatibility version", false},
	{"/init_dump", "dump current Envoy init manager information (experimental)", false},
	{"/listeners", "print listener info", false},
	{"/logging", "query/change logging levels", true},
	{"/memory", "print current allocation/heap usage", false},
	{"/quitquitquit", "exit the server", true},
	{"/ready", "print server state, return 200 if LIVE, otherwise return 503", false},
	{"/reopen_logs", "reopen access logs", true},
	{"/reset_counters", "reset all counters to zero", true},
	{"/runtime", "print runtime values", false},
	{"/runtime_modify", "Adds or modifies runtime values as passed in query parameters. To delete a previously added key, use an empty string as the value. Note that deletion only applies to overrides added via this endpoint; values loaded from disk can be modified via override but not deleted. E.g. ?key1=value1&key2=value2...", true},
	{"/server_info", "print server version/status information", false},
	{"/stats", "print server stats", false},
	{"/stats/prometheus", "print server stats in prometheus format", false},
	{"/stats/recentlookups", "Show recent stat-name lookups", false},
	{"/tap", "tap filter control", true},
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	dropping := s.dropping
	body := ""
	if r.Body != nil {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		body = b.String()
	}
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body})
	s.mu.Unlock()
	if dropping {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	h := w.Header()
	h.Set("Server", "envoy")
	h.Set("Cache-Control", "no-cache, max-age=0")
	h.Set("X-Content-Type-Options", "nosniff")
	path := r.URL.Path
	for _, hd := range handlers {
		if path != hd.path {
			continue
		}
		// admin.cc: a handler that mutates state refuses anything but POST.
		if hd.mutates && r.Method != http.MethodPost {
			text(w, http.StatusMethodNotAllowed, fmt.Sprintf("Method %s not allowed, POST required.", r.Method))
			return
		}
		switch path {
		case "/logging":
			s.serveLogging(w, r)
			return
		case "/stats":
			s.serveStats(w, r)
			return
		case "/stats/prometheus":
			s.servePrometheus(w, r)
			return
		case "/config_dump":
			s.serveConfigDump(w, r)
			return
		case "/server_info":
			s.serveServerInfo(w)
			return
		case "/ready":
			text(w, http.StatusOK, "LIVE\n")
			return
		case "/help":
			text(w, http.StatusOK, help())
			return
		case "/tap":
			if s.tap.registered() {
				s.serveTap(w, r, body)
				return
			}
		}
		break
	}
	text(w, http.StatusNotFound, "invalid path. "+help())
}

// help is /help's body: "admin commands are:" and one line per handler,
// sorted by path (admin.cc handlerHelp).
func help() string {
	var b strings.Builder
	b.WriteString("admin commands are:\n")
	hs := append(handlers[:0:0], handlers...)
	sort.Slice(hs, func(i, j int) bool { return hs[i].path < hs[j].path })
	for _, h := range hs {
		fmt.Fprintf(&b, "  %s: %s\n", h.path, h.help)
	}
	return b.String()
}

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(code)
	w.Write([]byte(body)) //nolint:errcheck // the client went away
}

func jsonBody(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body) //nolint:errcheck // the client went away
}
