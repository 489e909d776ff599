package admintest

import (
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func do(t *testing.T, s *Server, method, pathQuery, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+pathQuery, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// The expected bodies below are written out from Envoy's source
// (logs_handler.cc, admin.cc; reference §5), not produced by this package.
const usageCurrent = "usage: /logging?<name>=<level> (change single level)\n" +
	"usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n" +
	"usage: /logging?level=<level> (change all levels)\n" +
	"usage: /logging?group=<group_name>:<level> (change group of loggers)\n" +
	"levels: trace debug info warning error critical off \n"

const usage400 = "usage: /logging?<name>=<level> (change single level)\n" +
	"usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n" +
	"usage: /logging?level=<level> (change all levels)\n" +
	"levels: trace debug info warning error critical off \n"

const usageNoPaths = "usage: /logging?<name>=<level> (change single level)\n" +
	"usage: /logging?level=<level> (change all levels)\n" +
	"levels: trace debug info warning error critical off \n"

func TestLogging(t *testing.T) {
	list := func(admin, wasm string) string {
		return "active loggers:\n  admin: " + admin + "\n  wasm: " + wasm + "\n\n"
	}
	tests := []struct {
		name      string
		style     LoggingStyle
		method    string
		query     string
		code      int
		body      string
		wasmAfter string
	}{
		{"list", LoggingCurrent, "POST", "", 200, list("info", "info"), "info"},
		{"get refused", LoggingCurrent, "GET", "", 405, "Method GET not allowed, POST required.", "info"},
		{"put refused", LoggingCurrent, "PUT", "?wasm=trace", 405, "Method PUT not allowed, POST required.", "info"},
		{"set one", LoggingCurrent, "POST", "?wasm=trace", 200, list("info", "trace"), "trace"},
		{"set all", LoggingCurrent, "POST", "?level=debug", 200, list("debug", "debug"), "debug"},
		{"paths", LoggingCurrent, "POST", "?paths=wasm:trace,admin:off", 200, list("off", "trace"), "trace"},
		{"paths trailing comma", LoggingCurrent, "POST", "?paths=wasm:error,", 200, list("info", "error"), "error"},
		{"warn is not a level", LoggingCurrent, "POST", "?wasm=warn", 400, "error: unknown logger level\n\n" + usageCurrent + list("info", "info"), "info"},
		{"unknown logger", LoggingCurrent, "POST", "?wsam=trace", 400, "error: unknown logger name\n\n" + usageCurrent + list("info", "info"), "info"},
		{"paths all or nothing", LoggingCurrent, "POST", "?paths=wasm:trace,nope:debug", 400, "error: unknown logger name\n\n" + usageCurrent + list("info", "info"), "info"},
		{"paths empty level", LoggingCurrent, "POST", "?paths=wasm:", 400, "error: empty logger name or empty logger level\n\n" + usageCurrent + list("info", "info"), "info"},
		{"two params", LoggingCurrent, "POST", "?wasm=trace&admin=debug", 400, "error: invalid number of parameters\n\n" + usageCurrent + list("info", "info"), "info"},
		{"empty value ignored", LoggingCurrent, "POST", "?wasm=&admin=debug", 200, list("debug", "info"), "info"},
		{"group needs fine grain", LoggingCurrent, "POST", "?group=http:debug", 400, "error: group parameter requires fine-grain logging to be enabled\n\n" + usageCurrent + list("info", "info"), "info"},
		{"not decoded", LoggingCurrent, "POST", "?paths=wasm%3Atrace", 400, "error: empty logger name or empty logger level\n\n" + usageCurrent + list("info", "info"), "info"},
		{"400 style: empty value counts", Logging400, "POST", "?wasm=", 400, "error: unknown logger level\n\n" + usage400 + list("info", "info"), "info"},
		{"404 style", Logging404, "POST", "?wasm=bogus", 404, usage400 + list("info", "info"), "info"},
		{"404 style paths", Logging404, "POST", "?paths=wasm:debug,admin:error", 200, list("error", "debug"), "debug"},
		{"no paths: paths is a name", LoggingNoPaths, "POST", "?paths=wasm:debug", 404, usageNoPaths + list("info", "info"), "info"},
		{"no paths: single works", LoggingNoPaths, "POST", "?wasm=critical", 200, list("info", "critical"), "critical"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Loggers: []string{"admin", "wasm"}, Logging: tt.style})
			defer s.Close()
			code, h, body := do(t, s, tt.method, "/logging"+tt.query, "")
			if code != tt.code || body != tt.body {
				t.Errorf("got %d %q\nwant %d %q", code, body, tt.code, tt.body)
			}
			if ct := h.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
				t.Errorf("content type %q", ct)
			}
			if got := s.Level("wasm"); got != tt.wasmAfter {
				t.Errorf("wasm level after: %q, want %q", got, tt.wasmAfter)
			}
		})
	}
}

func TestLoggingFineGrain(t *testing.T) {
	s := New(Options{FineGrain: true})
	defer s.Close()
	code, _, body := do(t, s, "POST", "/logging?paths=source/extensions/common/wasm/*:trace", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if s.Level("source/extensions/common/wasm/wasm_vm.cc") != "trace" || s.Level("source/server/admin/logs_handler.cc") != "info" {
		t.Errorf("levels %v", s.Levels())
	}
}

func TestNotFoundAndHelp(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	code, _, body := do(t, s, "GET", "/logging/", "")
	if code != 404 || !strings.HasPrefix(body, "invalid path. admin commands are:\n  /: Admin home page\n") {
		t.Errorf("%d %q", code, body)
	}
	if !strings.Contains(body, "\n  /logging: query/change logging levels\n") {
		t.Errorf("help lacks /logging:\n%s", body)
	}
	// /tap exists only when a tap filter registered an admin config id.
	code, _, body = do(t, s, "POST", "/tap", `{"config_id":"x"}`)
	if code != 404 || !strings.HasPrefix(body, "invalid path. ") {
		t.Errorf("/tap without tap filter: %d %q", code, body)
	}
}

func TestPrometheus(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.WasmStats("v8", 5, 2)
	s.Add("wasm.envoy.wasm.runtime.v8.created", 0)
	s.Add("wasmcustom.cpp_requests_total", 7)
	s.Add("wasmcustom.1bad", 1)               // dropped: starts with a digit once stripped
	s.Add("cluster.wasmcustom.upstream_x", 3) // only a leading namespace is stripped
	s.SetGauge("wasmcustom.queue-depth", 4)
	s.SetMetric(Metric{Name: "wasmcustom.latency_ms", Type: "histogram", Samples: []float64{0.2, 3, 70}})
	s.SetMetric(Metric{Name: "wasmcustom.custom_header_value_counts_value=foo_reporter=wasmgosdk", Type: "counter", Value: 1,
		Extracted: "wasmcustom.custom_header_value_counts", Tags: []Tag{{"value", "foo"}, {"reporter", "wasmgosdk"}}})
	code, _, body := do(t, s, "GET", "/stats/prometheus?filter=wasm", "")
	if code != 200 {
		t.Fatal(code)
	}
	golden(t, "prometheus.golden", body)
	// The shapes the reference quotes, independent of the golden file.
	for _, want := range []string{
		"# TYPE envoy_wasm_envoy_wasm_runtime_v8_active gauge\nenvoy_wasm_envoy_wasm_runtime_v8_active{} 2\n\n",
		"# TYPE cpp_requests_total counter\ncpp_requests_total{} 7\n\n",
		"custom_header_value_counts{value=\"foo\",reporter=\"wasmgosdk\"} 1\n",
		"envoy_cluster_wasmcustom_upstream_x{} 3\n",
		"queue_depth{} 4\n",
		"latency_ms_bucket{le=\"0.5\"} 1\n",
		"latency_ms_bucket{le=\"3600000\"} 3\n",
		"latency_ms_bucket{le=\"+Inf\"} 3\n",
		"latency_ms_sum{} 73.200000000000002842170943040401\n", // fmt {:.32g}, as Envoy prints it
		"latency_ms_count{} 3\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(body, "1bad") {
		t.Error("digit-first custom metric not dropped")
	}
}

func TestStatsText(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.WasmStats("v8", 5, 2)
	s.Add("wasmcustom.cpp_requests_total", 7)
	s.SetMetric(Metric{Name: "wasmcustom.latency_ms", Type: "histogram"})
	s.SetMetric(Metric{Name: "server.version_text", Type: "text", Text: "1.36.0"})
	code, _, body := do(t, s, "GET", "/stats?filter=wasmcustom", "")
	want := "wasmcustom.cpp_requests_total: 7\nwasmcustom.latency_ms: No recorded values\n"
	if code != 200 || body != want {
		t.Errorf("%d %q, want %q", code, body, want)
	}
	code, _, body = do(t, s, "GET", "/stats?filter=(", "")
	if code != 400 || body != "Invalid re2 regex" {
		t.Errorf("bad regex: %d %q", code, body)
	}
}

func TestServerInfoAndDump(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	code, h, body := do(t, s, "GET", "/server_info", "")
	if code != 200 || h.Get("Content-Type") != "application/json" || !strings.Contains(body, "\n \"version\": \""+DefaultVersion+"\",\n") {
		t.Errorf("%d %s %s", code, h.Get("Content-Type"), body)
	}
	code, _, body = do(t, s, "GET", "/config_dump?resource=ecds_filters", "")
	if code != 200 || strings.Count(body, "\"@type\": \"type.googleapis.com/envoy.admin.v3.EcdsConfigDump.EcdsFilterConfig\"") != 2 {
		t.Errorf("%d %s", code, body)
	}
}

func TestTap(t *testing.T) {
	s := New(Options{TapConfigIDs: []string{"wasm_tap"}})
	defer s.Close()
	for _, tt := range []struct{ body, want string }{
		{"", "/tap requires a JSON/YAML body"},
		{`{"config_id":"other","tap_config":{"output_config":{"sinks":[{"streaming_admin":{}}]}}}`, "Unknown config id 'other'. No extension has registered with this id."},
	} {
		code, _, body := do(t, s, "POST", "/tap", tt.body)
		if code != 400 || body != tt.want {
			t.Errorf("%q: %d %q, want %q", tt.body, code, body, tt.want)
		}
	}
	code, _, body := do(t, s, "GET", "/tap", "")
	if code != 405 || body != "Method GET not allowed, POST required." {
		t.Errorf("GET /tap: %d %q", code, body)
	}

	req, _ := http.NewRequest("POST", s.URL+"/tap", strings.NewReader(`{"config_id":"wasm_tap","tap_config":{"match":{"any_match":true},"output_config":{"sinks":[{"streaming_admin":{}}]}}}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if !s.WaitTapAttached(2 * time.Second) {
		t.Fatal("session not attached")
	}
	code, _, body = do(t, s, "POST", "/tap", `{"config_id":"wasm_tap","tap_config":{"output_config":{"sinks":[{"streaming_admin":{}}]}}}`)
	if code != 400 || body != "An attached /tap admin stream already exists. Detach it." {
		t.Errorf("second session: %d %q", code, body)
	}
	at := time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC)
	t1 := HTTPTrace([]Header{{":method", "GET"}, {":path", "/a"}}, nil, []Header{{":status", "200"}}, []byte("ok"), at)
	t2 := HTTPTrace([]Header{{":method", "POST"}, {":path", "/b"}}, []byte{0xff, 0}, []Header{{":status", "503"}}, nil, at)
	if !s.SendTrace(t1) || !s.SendTrace(t2) {
		t.Fatal("send")
	}
	s.EndTap()
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != string(t1)+string(t2) {
		t.Errorf("stream %q", got)
	}
	golden(t, "tap-trace.golden", string(t1))
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestDropping(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.SetDropping(true)
	if _, err := http.Post(s.URL+"/logging", "", nil); err == nil {
		t.Error("request succeeded while dropping")
	}
	s.SetDropping(false)
	if code, _, _ := do(t, s, "POST", "/logging", ""); code != 200 {
		t.Errorf("after recovery: %d", code)
	}
}
