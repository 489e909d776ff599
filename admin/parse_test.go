package admin_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/admin/admintest"
)

func TestParsePlugins(t *testing.T) {
	type want struct {
		name, root, vm, runtime, code, policy, config, ctype, kind, filter, ecds string
		used                                                                     []string
	}
	tests := []struct {
		dump []byte
		want []want
	}{
		{admintest.IstioECDSDump, []want{
			{"default.header-authorization", "header-authorization", "", "v8",
				"/var/lib/istio/data/5b8b5e3e1b0c5b0b2e6c1c6ac0d2bdc5c5b7e6f0/5b8b5e3e1b0c5b0b2e6c1c6ac0d2bdc5c5b7e6f0c2c4f2e3b1d9f8a7c6b5a4d3.wasm",
				"FAIL_CLOSED", `{"header":"x-api-key","deny":"x-deny"}`, "StringValue", "http",
				"extensions.istio.io/wasmplugin/default.header-authorization", "extensions.istio.io/wasmplugin/default.header-authorization",
				[]string{"listener virtualInbound", "listener 0.0.0.0_8080"}},
			{"istio-system.display-metadata", "", "", "v8", "/var/lib/istio/data/7f3c0b1e2d4a/7f3c0b1e2d4a9c8b.wasm",
				"FAIL_OPEN", `{"header_1":"some_value_1"}`, "Struct", "http",
				"extensions.istio.io/wasmplugin/istio-system.display-metadata", "extensions.istio.io/wasmplugin/istio-system.display-metadata",
				[]string{"listener virtualInbound"}},
		}},
		{admintest.EnvoyStaticDump, []want{
			{"singleton-stats", "stats_root", "stats_vm", "v8", "/etc/envoy/plugins/stats.wasm", "FAIL_CLOSED", "", "", "service",
				"envoy.bootstrap.wasm", "", []string{"bootstrap"}},
			{"cpp-filter", "cpp_root", "cpp_vm", "v8", "/etc/envoy/plugins/cpp/plugin.wasm", "FAIL_OPEN", "deny=x-deny;header=x-plugin",
				"StringValue", "http", "envoy.filters.http.wasm", "", []string{"listener listener_http"}},
			{"rust-filter", "rust_root", "", "wasmtime",
				"https://plugins.example.com/rust/plugin.wasm sha256:0c1d5e8b9f7a6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918a7b6c5d",
				"FAIL_RELOAD", "deny=x-deny", "BytesValue", "http", "rust-filter", "", []string{"listener listener_http"}},
			{"tcp-counter", "", "", "v8 (default)", "inline_bytes (8 bytes)", "FAIL_CLOSED", "", "", "network",
				"envoy.filters.network.wasm", "", []string{"listener listener_tcp"}},
		}},
	}
	for _, tt := range tests {
		ps, err := admin.ParsePlugins(tt.dump)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != len(tt.want) {
			t.Fatalf("%d plugins, want %d: %+v", len(ps), len(tt.want), ps)
		}
		for i, p := range ps {
			ecds := ""
			if p.ECDS != nil {
				ecds = p.ECDS.Resource
			}
			got := want{p.Name, p.RootID, p.VMID, p.RuntimeName(), p.Code.String(), p.FailurePolicy, p.Configuration,
				p.ConfigurationType, p.Kind, p.FilterName, ecds, p.Used}
			if !reflect.DeepEqual(got, tt.want[i]) {
				t.Errorf("plugin %d:\n got %+v\nwant %+v", i, got, tt.want[i])
			}
		}
	}
	ps, _ := admin.ParsePlugins(admintest.EnvoyStaticDump)
	if ps[1].LogPrefix() != "cpp-filter cpp_root cpp_vm" || ps[1].VMConfiguration != "vm-config" || !ps[1].FailOpen {
		t.Errorf("cpp-filter details %+v", ps[1])
	}
	if f, ok := ps[1].LocalModule(); !ok || f != "/etc/envoy/plugins/cpp/plugin.wasm" {
		t.Errorf("local module %q %v", f, ok)
	}
	if !bytes.Equal(ps[3].Code.Inline, []byte("\x00asm\x01\x00\x00\x00")) {
		t.Errorf("inline bytes %q", ps[3].Code.Inline)
	}
}

func TestParsePluginsErrors(t *testing.T) {
	const wasm = `"@type":"type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"`
	tests := []struct{ in, want string }{
		{``, "config dump: EOF"},
		{`[]`, "config dump: not a JSON object"},
		{"{\"configs\": [\n  {\"a\": tru}]}", "config dump: line 2, column 12: invalid character '}' in literal true (expecting 'e')"},
		{`{"configs":[{` + wasm + `,"config":"x"}]}`, "configs[0].config: not an object"},
		{`{"configs":[{` + wasm + `,"config":{"vm_config":[]}}]}`, "configs[0].config.vm_config: not an object"},
		{`{"configs":[{` + wasm + `,"config":{"vm_config":{"code":{"local":{"inline_bytes":"!!"}}}}}]}`,
			"configs[0].config.vm_config.code: local.inline_bytes: illegal base64 data at input byte 0"},
		{`{"configs":[{` + wasm + `,"config":{"configuration":7}}]}`, "configs[0].config.configuration: not an Any object"},
		{`{"configs":[{` + wasm + `,"config":{"configuration":{"@type":"type.googleapis.com/google.protobuf.BytesValue","value":"%"}}}]}`,
			"configs[0].config.configuration: BytesValue: illegal base64 data at input byte 0"},
	}
	for _, tt := range tests {
		_, err := admin.ParsePlugins([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
	// A Wasm filter without config is still a plugin, with defaults.
	ps, err := admin.ParsePlugins([]byte(`{"configs":[{` + wasm + `}]}`))
	if err != nil || len(ps) != 1 || ps[0].FailurePolicy != "FAIL_CLOSED" || ps[0].Code.String() != "no code" {
		t.Errorf("%+v %v", ps, err)
	}
}

func TestParseLoggers(t *testing.T) {
	ls, err := admin.ParseLoggers([]byte("error: unknown logger name\n\nusage: x\nlevels: trace \nactive loggers:\n  admin: info\n  wasm: trace\n\n"))
	if err != nil || !reflect.DeepEqual(ls, admin.Loggers{{"admin", "info"}, {"wasm", "trace"}}) {
		t.Errorf("%v %v", ls, err)
	}
	errs := []struct{ in, want string }{
		{"", `no "active loggers:" line`},
		{"<html>", `no "active loggers:" line`},
		{"active loggers:\n  admin info\n", `line 2: "admin info" is not a "  <logger>: <level>" line`},
		{"active loggers:\nadmin: info\n", `line 2: "admin: info" is not a "  <logger>: <level>" line`},
		{"active loggers:\n  admin: loud\n", `line 2: logger admin has unknown level "loud"`},
	}
	for _, tt := range errs {
		_, err := admin.ParseLoggers([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: %v, want %s", tt.in, err, tt.want)
		}
	}
}

func TestParseStats(t *testing.T) {
	in := "server.version_text: \"1.36.0\"\nwasm.envoy.wasm.runtime.v8.active: 2\nwasmcustom.x: 18446744073709551615\n" +
		"wasmcustom.h: No recorded values\nwasmcustom.d:\n  totals=1,2:3\n  intervals=\n  summary=P0(1,1)\n"
	st, err := admin.ParseStats(strings.NewReader(in))
	want := []admin.Stat{
		{Name: "server.version_text", Kind: admin.StatText, Text: "1.36.0"},
		{Name: "wasm.envoy.wasm.runtime.v8.active", Kind: admin.StatNumber, Value: 2},
		{Name: "wasmcustom.x", Kind: admin.StatNumber, Value: 18446744073709551615},
		{Name: "wasmcustom.h", Kind: admin.StatHistogram, Text: "No recorded values"},
		{Name: "wasmcustom.d", Kind: admin.StatHistogram, Text: "totals=1,2:3 intervals= summary=P0(1,1)"},
	}
	if err != nil || !reflect.DeepEqual(st, want) {
		t.Errorf("%+v %v", st, err)
	}
	errs := []struct{ in, want string }{
		{"<html>\n", `line 1: "<html>" is not a "<name>: <value>" line`},
		{"a b: 1\n", `line 1: "a b: 1" is not a "<name>: <value>" line`},
		{"x: 1\ny: -3\n", `line 2: stat y: value "-3" is not a number`},
	}
	for _, tt := range errs {
		_, err := admin.ParseStats(strings.NewReader(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: %v, want %s", tt.in, err, tt.want)
		}
	}
}

func TestParsePrometheus(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("admintest", "testdata", "prometheus.golden"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := admin.ParsePrometheus(bytes.NewReader(golden))
	if err != nil {
		t.Fatal(err)
	}
	c := mf["custom_header_value_counts"].GetMetric()[0]
	if lp := c.GetLabel(); len(lp) != 2 || lp[0].GetName() != "reporter" && lp[0].GetName() != "value" {
		t.Errorf("labels %v", lp)
	}
	if h := mf["latency_ms"].GetMetric()[0].GetHistogram(); h.GetSampleSum() != 73.2 {
		t.Errorf("sum %v", h.GetSampleSum())
	}
	errs := []struct{ in, want string }{
		{"# TYPE x counter\nx{} abc\n", `prometheus text: text format parsing error in line 2: expected float as value, got "abc"`},
		{"x{a=\"1\" 2\n", `prometheus text: text format parsing error in line 1: unexpected end of label value "1"`},
	}
	for _, tt := range errs {
		_, err := admin.ParsePrometheus(strings.NewReader(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestTapStreamFromServer(t *testing.T) {
	s := admintest.New(admintest.Options{TapConfigIDs: []string{"wasm_tap"}})
	defer s.Close()
	c := client(t, s.URL)
	ts, err := c.Tap(ctx, admin.TapRequest{ConfigID: "wasm_tap", MaxBodyBytes: 65536})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if got := s.RequestsTo("/tap")[0].Body; got != `{"config_id":"wasm_tap","tap_config":{"match":{"any_match":true},"output_config":{"sinks":[{"format":"JSON_BODY_AS_BYTES","streaming_admin":{}}],"max_buffered_rx_bytes":65536,"max_buffered_tx_bytes":65536}}}` {
		t.Errorf("request body %s", got)
	}
	at := time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC)
	s.SendTrace(admintest.HTTPTrace([]admintest.Header{{Key: ":method", Value: "GET"}, {Key: ":authority", Value: "svc"}, {Key: ":path", Value: "/a"}}, nil,
		[]admintest.Header{{Key: ":status", Value: "200"}}, []byte("ok"), at))
	s.SendTrace(admintest.HTTPTrace([]admintest.Header{{Key: ":method", Value: "POST"}, {Key: ":path", Value: "/b"}}, []byte{0xff, 0},
		[]admintest.Header{{Key: ":status", Value: "403"}}, nil, at))
	var got []string
	for i := 0; i < 2; i++ {
		tr, err := ts.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tr.Kind+" "+tr.Summary())
	}
	if want := []string{"http_buffered_trace GET svc/a -> 200", "http_buffered_trace POST /b -> 403"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
	s.EndTap()
	if _, err := ts.Next(); err != io.EOF {
		t.Errorf("after end: %v", err)
	}
}

func TestTapErrors(t *testing.T) {
	s := admintest.New(admintest.Options{TapConfigIDs: []string{"wasm_tap"}})
	defer s.Close()
	none := admintest.New(admintest.Options{})
	defer none.Close()
	tests := []struct {
		c    *admin.Client
		id   string
		want string
	}{
		{client(t, s.URL), "", "tap: empty config id: give the config_id of a tap filter's admin_config"},
		{client(t, s.URL), "other", "POST /tap: envoy answered 400: Unknown config id 'other'. No extension has registered with this id."},
		{client(t, none.URL), "wasm_tap", "POST " + none.URL + "/tap: envoy has no /tap endpoint: no tap filter with an admin_config is loaded (add envoy.filters.http.tap with common_config.admin_config.config_id: wasm_tap)"},
	}
	for _, tt := range tests {
		_, err := tt.c.Tap(ctx, admin.TapRequest{ConfigID: tt.id})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q:\n got %v\nwant %s", tt.id, err, tt.want)
		}
	}
	first, err := client(t, s.URL).Tap(ctx, admin.TapRequest{ConfigID: "wasm_tap"})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	s.WaitTapAttached(2 * time.Second)
	_, err = client(t, s.URL).Tap(ctx, admin.TapRequest{ConfigID: "wasm_tap"})
	if err == nil || err.Error() != "POST /tap: envoy answered 400: An attached /tap admin stream already exists. Detach it." {
		t.Errorf("second session: %v", err)
	}
}

func TestTapStreamParse(t *testing.T) {
	at := time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC)
	one := admintest.HTTPTrace([]admintest.Header{{Key: ":path", Value: "/x"}}, nil, nil, nil, at)
	ok := string(one) + "\n" + string(one) + string(one)
	ts := admin.NewTapStream(strings.NewReader(ok))
	for i := 0; i < 3; i++ {
		if _, err := ts.Next(); err != nil {
			t.Fatalf("trace %d: %v", i+1, err)
		}
	}
	if _, err := ts.Next(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
	errs := []struct{ in, want string }{
		{string(one) + `{"http_buffered_trace": {`, "tap stream: trace 2 at byte 570: stream ended inside a trace"},
		{string(one) + `{"foo": 1}`, "tap stream: trace 2 at byte 570: not a TraceWrapper (no http_buffered_trace, http_streamed_trace_segment, socket_buffered_trace or socket_streamed_trace_segment)"},
		{`[1]`, "tap stream: trace 1 at byte 0: not a JSON object"},
		{`{"a":}`, "tap stream: trace 1 at byte 5: invalid character '}' looking for beginning of value"},
	}
	for _, tt := range errs {
		ts := admin.NewTapStream(strings.NewReader(tt.in))
		var err error
		for err == nil {
			_, err = ts.Next()
		}
		if err.Error() != tt.want {
			t.Errorf("%.30q:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
	if _, err := (admin.Trace{Kind: "socket_buffered_trace", Raw: []byte(`{"socket_buffered_trace":{}}`)}).HTTP(); err == nil ||
		err.Error() != "trace is a socket_buffered_trace, not an http_buffered_trace" {
		t.Errorf("HTTP of socket trace: %v", err)
	}
}
