package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/admin/admintest"
)

var ctx = context.Background()

func client(t *testing.T, url string, opts ...admin.Option) *admin.Client {
	t.Helper()
	c, err := admin.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"localhost:15000", "http://localhost:15000"},
		{":9901", "http://127.0.0.1:9901"},
		{"http://10.0.0.1:15000/", "http://10.0.0.1:15000"},
		{"https://envoy.example.com/admin/", "https://envoy.example.com/admin"},
		{"[::1]:15000", "http://[::1]:15000"},
	}
	for _, tt := range tests {
		u, err := admin.ParseAddr(tt.in)
		if err != nil || u.String() != tt.want {
			t.Errorf("ParseAddr(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
	errs := []struct{ in, want string }{
		{"", "empty admin address: give host:port or a URL, e.g. localhost:15000"},
		{"ftp://x:1", `admin address "ftp://x:1": scheme "ftp" is not http or https`},
		{"http://:15000", `admin address "http://:15000": no host`},
		{"localhost:15000/logging?x=1", `admin address "localhost:15000/logging?x=1": give the endpoint only, without a query`},
		{"local host:1", `admin address "local host:1": invalid character " " in host name`},
	}
	for _, tt := range errs {
		_, err := admin.ParseAddr(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseAddr(%q) error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]admin.Level{"warn": "warning", "WARNING": "warning", " trace ": "trace", "off": "off", "Critical": "critical"} {
		if got, err := admin.ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %q, %v", in, got, err)
		}
	}
	_, err := admin.ParseLevel("verbose")
	want := `unknown level "verbose": want one of trace, debug, info, warning (or warn), error, critical, off`
	if err == nil || err.Error() != want {
		t.Errorf("error %v", err)
	}
}

func TestLoggers(t *testing.T) {
	s := admintest.New(admintest.Options{Level: "warning", Levels: map[string]string{"misc": "error"}})
	defer s.Close()
	ls, err := client(t, s.URL).Loggers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != len(admintest.EnvoyLoggers) || ls[0] != (admin.Logger{Name: "admin", Level: "warning"}) {
		t.Errorf("loggers %v", ls)
	}
	if l, _ := ls.Get("misc"); l != admin.LevelError {
		t.Errorf("misc %q", l)
	}
	if l, ok := ls.Get("wasm"); !ok || l != admin.LevelWarning {
		t.Errorf("wasm %q %v", l, ok)
	}
	if ls.FineGrain() {
		t.Error("not fine grain")
	}
	if got := s.Requests(); len(got) != 1 || got[0].String() != "POST /logging" {
		t.Errorf("requests %v", got)
	}
}

func TestSetLevels(t *testing.T) {
	tests := []struct {
		name    string
		style   admintest.LoggingStyle
		changes []admin.Logger
		sent    []string
	}{
		{"one", admintest.LoggingCurrent, []admin.Logger{{"wasm", "trace"}}, []string{"POST /logging?wasm=trace"}},
		{"several in one request", admintest.LoggingCurrent, []admin.Logger{{"wasm", "trace"}, {"http", "debug"}},
			[]string{"POST /logging?paths=wasm:trace,http:debug"}},
		{"404-era envoy with paths", admintest.Logging404, []admin.Logger{{"wasm", "trace"}, {"http", "debug"}},
			[]string{"POST /logging?paths=wasm:trace,http:debug"}},
		{"envoy before paths: one request per logger", admintest.LoggingNoPaths, []admin.Logger{{"wasm", "trace"}, {"http", "debug"}},
			[]string{"POST /logging?paths=wasm:trace,http:debug", "POST /logging?wasm=trace", "POST /logging?http=debug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := admintest.New(admintest.Options{Logging: tt.style})
			defer s.Close()
			ls, err := client(t, s.URL).SetLevels(ctx, tt.changes...)
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range tt.changes {
				if got, _ := ls.Get(ch.Name); got != ch.Level {
					t.Errorf("returned list: %s=%s", ch.Name, got)
				}
				if got := s.Level(ch.Name); got != string(ch.Level) {
					t.Errorf("server: %s=%s", ch.Name, got)
				}
			}
			var sent []string
			for _, r := range s.Requests() {
				sent = append(sent, r.String())
			}
			if !reflect.DeepEqual(sent, tt.sent) {
				t.Errorf("sent %q, want %q", sent, tt.sent)
			}
		})
	}
}

func TestSetLevelsErrors(t *testing.T) {
	tests := []struct {
		name    string
		style   admintest.LoggingStyle
		changes []admin.Logger
		want    string
	}{
		{"unknown logger", admintest.LoggingCurrent, []admin.Logger{{"wsam", "trace"}},
			"POST /logging?wsam=trace: envoy refused the change: unknown logger name"},
		{"unknown in batch", admintest.LoggingCurrent, []admin.Logger{{"wasm", "trace"}, {"nope", "debug"}},
			"POST /logging?paths=wasm:trace,nope:debug: envoy refused the change: unknown logger name"},
		{"old envoy says no reason", admintest.Logging404, []admin.Logger{{"wsam", "trace"}},
			"POST /logging?wsam=trace: envoy refused the change: unknown logger name or level (this envoy does not say which)"},
		{"old envoy, unknown in batch: no fallback", admintest.LoggingNoPaths, []admin.Logger{{"wasm", "trace"}, {"nope", "debug"}},
			"POST /logging?paths=wasm:trace,nope:debug: envoy refused the change: unknown logger name or level (this envoy does not say which)"},
		{"bad level", admintest.LoggingCurrent, []admin.Logger{{"wasm", "warn"}},
			`set levels: wasm: unknown level "warn"`},
		{"name with &", admintest.LoggingCurrent, []admin.Logger{{"a&b", "info"}},
			`set levels: logger name "a&b": '&' cannot be sent to envoy`},
		{"name with : in batch", admintest.LoggingCurrent, []admin.Logger{{"a:b", "info"}, {"wasm", "info"}},
			`set levels: logger name "a:b" contains ',' or ':', which paths= cannot carry`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := admintest.New(admintest.Options{Logging: tt.style})
			defer s.Close()
			_, err := client(t, s.URL).SetLevels(ctx, tt.changes...)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v\nwant %s", err, tt.want)
			}
			if s.Level("wasm") != "info" {
				t.Errorf("wasm changed to %s", s.Level("wasm"))
			}
		})
	}
	if _, err := client(t, "localhost:1").SetLevels(ctx); err == nil || err.Error() != "set levels: no logger given" {
		t.Errorf("no changes: %v", err)
	}
}

func TestLoggingErrorCarriesList(t *testing.T) {
	s := admintest.New(admintest.Options{Logging: admintest.Logging400})
	defer s.Close()
	_, err := client(t, s.URL).SetLevels(ctx, admin.Logger{Name: "wasm", Level: "trace"}, admin.Logger{Name: "nope", Level: "trace"})
	var le *admin.LoggingError
	if !errors.As(err, &le) || le.Status != 400 || le.Message != "unknown logger name" || le.NoPaths || len(le.Loggers) != len(admintest.EnvoyLoggers) {
		t.Fatalf("%#v", err)
	}
}

func TestFineGrain(t *testing.T) {
	s := admintest.New(admintest.Options{FineGrain: true})
	defer s.Close()
	ls, err := client(t, s.URL).Loggers(ctx)
	if err != nil || !ls.FineGrain() {
		t.Fatalf("%v %v", ls, err)
	}
	if _, ok := ls.Get("wasm"); ok {
		t.Error("fine-grain list has a wasm logger")
	}
}

func TestSetAllLevels(t *testing.T) {
	s := admintest.New(admintest.Options{})
	defer s.Close()
	ls, err := client(t, s.URL).SetAllLevels(ctx, admin.LevelDebug)
	if err != nil || ls[0].Level != admin.LevelDebug || s.Level("wasm") != "debug" {
		t.Fatalf("%v %v", ls, err)
	}
}

// Servers that are not Envoy's admin: each must be named as such, with what
// it answered.
func TestNotAdmin(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/logging", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html>\n<html><body>Grafana</body></html>")
	})
	mux.HandleFunc("/server_info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	other := httptest.NewServer(mux)
	defer other.Close()
	c := client(t, other.URL)
	u := other.URL
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"html", func() error { _, err := c.Loggers(ctx); return err },
			u + ` is not an envoy admin endpoint: POST /logging answered 200 (text/html; charset=utf-8) "<!DOCTYPE html>", envoy answers 200 "active loggers:"`},
		{"go 404", func() error { _, err := c.PrometheusText(ctx); return err },
			u + ` is not an envoy admin endpoint: GET /stats/prometheus answered 404 (text/plain; charset=utf-8) "404 page not found", envoy answers 200 text/plain in the prometheus text format`},
		{"json of another service", func() error { _, err := c.ServerInfo(ctx); return err },
			u + ` is not an envoy admin endpoint: GET /server_info answered 200 (application/json) "{\"status\":\"ok\"}", envoy answers 200 application/json {"version": …, "state": …}`},
		{"config dump", func() error { _, err := c.Plugins(ctx); return err },
			u + ` is not an envoy admin endpoint: GET /config_dump answered 404 (text/plain; charset=utf-8) "404 page not found", envoy answers 200 application/json {"configs": […]}`},
		{"stats", func() error { _, err := c.Stats(ctx, "wasm"); return err },
			u + ` is not an envoy admin endpoint: GET /stats answered 404 (text/plain; charset=utf-8) "404 page not found", envoy answers 200 text/plain "<name>: <value>" lines`},
	}
	for _, tt := range tests {
		err := tt.call()
		var na *admin.NotAdminError
		if !errors.As(err, &na) || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.name, err, tt.want)
		}
	}
}

func TestTransportErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = client(t, addr).Loggers(ctx)
	want := "POST http://" + addr + "/logging: cannot connect: connection refused; check that envoy runs and that its admin interface listens at " + addr + " (istio: localhost:15000, envoy examples: 9901)"
	if err == nil || err.Error() != want {
		t.Errorf("refused:\n got %v\nwant %s", err, want)
	}

	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	_, err = client(t, slow.URL, admin.WithTimeout(50*time.Millisecond)).Loggers(ctx)
	want = fmt.Sprintf("POST %s/logging: no answer within 50ms; is %s an envoy admin address?", slow.URL, strings.TrimPrefix(slow.URL, "http://"))
	if err == nil || err.Error() != want {
		t.Errorf("timeout:\n got %v\nwant %s", err, want)
	}
}

func TestStats(t *testing.T) {
	s := admintest.New(admintest.Options{})
	defer s.Close()
	s.WasmStats("v8", 3, 3)
	s.Add("wasmcustom.cpp_requests_total", 12)
	s.SetMetric(admintest.Metric{Name: "wasmcustom.latency", Type: "histogram", Samples: []float64{1, 2}})
	st, err := client(t, s.URL).Stats(ctx, `^wasm(custom)?\.`)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 10 || st[0] != (admin.Stat{Name: "wasm.envoy.wasm.runtime.v8.active", Kind: admin.StatNumber, Value: 3}) {
		t.Errorf("stats %+v", st)
	}
	if last := st[len(st)-1]; last.Kind != admin.StatHistogram || !strings.HasPrefix(last.Text, "P0(nan,1) ") {
		t.Errorf("histogram %+v", last)
	}
	if got := s.RequestsTo("/stats"); got[0].Query != "filter=%5Ewasm%28custom%29%3F%5C." {
		t.Errorf("query %q", got[0].Query)
	}
	_, err = client(t, s.URL).Stats(ctx, "(")
	if err == nil || err.Error() != "GET /stats?filter=%28: envoy answered 400: Invalid re2 regex" {
		t.Errorf("bad filter: %v", err)
	}
}

func TestPrometheusFromAdmintest(t *testing.T) {
	s := admintest.New(admintest.Options{})
	defer s.Close()
	s.WasmStats("v8", 5, 2)
	s.Add("wasmcustom.cpp_requests_total", 7)
	s.SetMetric(admintest.Metric{Name: "wasmcustom.latency_ms", Type: "histogram", Samples: []float64{0.2, 3, 70}})
	mf, err := client(t, s.URL).Prometheus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := mf["envoy_wasm_envoy_wasm_runtime_v8_active"]; g == nil || g.GetMetric()[0].GetGauge().GetValue() != 2 {
		t.Errorf("active: %v", g)
	}
	if c := mf["cpp_requests_total"]; c == nil || c.GetMetric()[0].GetCounter().GetValue() != 7 {
		t.Errorf("custom: %v", c)
	}
	if h := mf["latency_ms"]; h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() != 3 {
		t.Errorf("histogram: %v", h)
	}
}

func TestServerInfo(t *testing.T) {
	s := admintest.New(admintest.Options{})
	defer s.Close()
	si, err := client(t, s.URL).ServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si.EnvoyVersion() != "1.36.0-dev" || si.State != "LIVE" || si.CommandLineOptions.LogLevel != "info" {
		t.Errorf("%+v", si)
	}
}
