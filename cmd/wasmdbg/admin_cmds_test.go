package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/admin/admintest"
	"github.com/wasmdbg/wasmdbg/attach"
	"github.com/wasmdbg/wasmdbg/fixtures"
)

var updateAdmin = flag.Bool("update-admin", false, "rewrite the golden files of the admin commands")

func adminGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "admin", name)
	if *updateAdmin || os.Getenv("UPDATE_GOLDEN") != "" || hasUpdateFlag() {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// hasUpdateFlag honours the repository-wide -update flag when another test
// file of this package defines it.
func hasUpdateFlag() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func fakeEnvoy(t *testing.T, opts admintest.Options) *admintest.Server {
	t.Helper()
	t.Setenv("WASMDBG_STATE_DIR", t.TempDir())
	s := admintest.New(opts)
	t.Cleanup(s.Close)
	return s
}

func TestLevelCommand(t *testing.T) {
	s := fakeEnvoy(t, admintest.Options{Loggers: []string{"admin", "http", "wasm"}, Level: "warning"})
	tests := []struct {
		args   []string
		code   int
		out    string
		errOut string
	}{
		{[]string{"level", "--admin", s.URL}, 0, "admin  warning\nhttp   warning\nwasm   warning\n", ""},
		{[]string{"level", "--admin", s.URL, "trace"}, 0, "wasm: warning -> trace\n", ""},
		{[]string{"level", "--admin", s.URL, "wasm=trace", "http:warn"}, 0, "wasm: already trace\nhttp: already warning\n", ""},
		{[]string{"level", "set", "wasm:debug", "--admin", s.URL}, 0, "wasm: trace -> debug\n", ""},
		{[]string{"level", "get", "--admin", s.URL}, 0, "admin  warning\nhttp   warning\nwasm   debug\n", ""},
		{[]string{"level", "set", "--admin", s.URL}, 2, "", "wasmdbg: level set needs LOGGER=LEVEL or a LEVEL for the wasm logger\nRun 'wasmdbg level --help' for usage.\n"},
		{[]string{"level", "set", "wasm:trace", "--admin", s.URL}, 0, "wasm: debug -> trace\n", ""},
		{[]string{"level", "--admin", s.URL, "--json", "wasm=info"}, 0, "{\n  \"changes\": [\n    {\n      \"logger\": \"wasm\",\n      \"from\": \"trace\",\n      \"to\": \"info\"\n    }\n  ]\n}\n", ""},
		{[]string{"level", "--admin", s.URL, "nope=info"}, 1, "", "wasmdbg: the proxy has no nope logger (wasmdbg level lists them); nothing was changed\n"},
		{[]string{"level", "--admin", s.URL, "wasm=loud"}, 2, "", "wasmdbg: \"wasm=loud\": unknown level \"loud\": want one of trace, debug, info, warning (or warn), error, critical, off\nRun 'wasmdbg level --help' for usage.\n"},
		{[]string{"level"}, 2, "", "wasmdbg: say which proxy: --admin host:port for a local envoy, or --pod POD\nRun 'wasmdbg level --help' for usage.\n"},
		{[]string{"level", "--admin", s.URL, "--restore", "trace"}, 2, "", "wasmdbg: --restore takes no level arguments\nRun 'wasmdbg level --help' for usage.\n"},
		{[]string{"level", "--admin", s.URL, "--restore"}, 0, "nothing to restore for " + s.URL + ": no marker in " + os.Getenv("WASMDBG_STATE_DIR") + "\n", ""},
	}
	for _, tt := range tests {
		code, out, errOut := run(t, "wasmdbg", tt.args...)
		if code != tt.code || out != tt.out || errOut != tt.errOut {
			t.Errorf("%q: exit %d\nstdout %q\nstderr %q\nwant %d %q %q", tt.args, code, out, errOut, tt.code, tt.out, tt.errOut)
		}
	}
}

func TestLevelRestoreFromMarker(t *testing.T) {
	s := fakeEnvoy(t, admintest.Options{Level: "warning"})
	store, _ := attach.DefaultStore()
	tgt := attach.Endpoint{Admin: s.URL}.Target()
	// A marker as a SIGKILLed attach leaves it: pid of a finished process.
	m := &attach.Marker{Target: tgt, PID: 1 << 30, Started: time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC),
		Changes: []attach.Change{{Logger: "wasm", From: "warning", To: "debug"}}}
	if err := store.Save(m); err != nil {
		t.Fatal(err)
	}
	s.SetLevel("wasm", "debug")
	code, out, errOut := run(t, "wasmdbg", "level", "--admin", s.URL)
	if code != 0 || !strings.Contains(errOut, "note: wasmdbg attach of ") || !strings.Contains(errOut, " was interrupted; it set wasm from warning to debug (wasmdbg level --restore puts it back)\n") {
		t.Errorf("listing: %d %q", code, errOut)
	}
	code, out, errOut = run(t, "wasmdbg", "level", "--admin", s.URL, "--restore")
	if code != 0 || out != "restored wasm: debug -> warning\n" || errOut != "" {
		t.Errorf("restore: %d %q %q", code, out, errOut)
	}
	if s.Level("wasm") != "warning" {
		t.Errorf("wasm %s", s.Level("wasm"))
	}
	if m, _ := store.Load(tgt); m != nil {
		t.Error("marker not removed")
	}
}

func TestMetricsCommand(t *testing.T) {
	s := fakeEnvoy(t, admintest.Options{ConfigDump: admintest.EnvoyStaticDump})
	s.WasmStats("v8", 13, 10)
	s.Add("wasmcustom.cpp_requests_total", 7)
	s.SetMetric(admintest.Metric{Name: "wasmcustom.latency_ms", Type: "histogram", Samples: []float64{0.2, 3, 70}})
	s.SetMetric(admintest.Metric{Name: "wasmcustom.custom_header_value_counts_value=foo_reporter=wasmgosdk", Type: "counter", Value: 1,
		Extracted: "wasmcustom.custom_header_value_counts", Tags: []admintest.Tag{{Name: "value", Value: "foo"}, {Name: "reporter", Value: "wasmgosdk"}}})
	s.Add("wasm.cpp-filter.vm_reload_success", 2)
	code, out, errOut := run(t, "wasmdbg", "metrics", "--admin", s.URL)
	if code != 0 || errOut != "" {
		t.Fatalf("%d %s", code, errOut)
	}
	adminGolden(t, "metrics.txt", out)

	code, out, errOut = run(t, "wasmdbg", "metrics", "--admin", s.URL, "--watch", "10ms")
	if code != 2 || errOut != "wasmdbg: --watch 10ms: give an interval of at least 100ms\nRun 'wasmdbg metrics --help' for usage.\n" {
		t.Errorf("bad watch: %d %q %q", code, out, errOut)
	}
}

func TestPluginsCommand(t *testing.T) {
	s := fakeEnvoy(t, admintest.Options{ConfigDump: admintest.EnvoyStaticDump})
	code, out, errOut := run(t, "wasmdbg", "plugins", "--admin", s.URL, "--module", filepath.Join("..", "..", "fixtures", "cpp", "plugin.wasm"))
	if code != 0 || errOut != "" {
		t.Fatalf("%d %s", code, errOut)
	}
	adminGolden(t, "plugins-static.txt", out)

	istio := fakeEnvoy(t, admintest.Options{})
	code, out, _ = run(t, "wasmdbg", "plugins", "--admin", istio.URL)
	if code != 0 {
		t.Fatal(code)
	}
	adminGolden(t, "plugins-istio.txt", out)

	code, out, _ = run(t, "wasmdbg", "plugins", "--admin", istio.URL, "--json")
	if code != 0 || !strings.HasPrefix(out, "[\n  {\n    \"name\": \"default.header-authorization\",") {
		t.Errorf("json: %d %.200s", code, out)
	}
	code, _, errOut = run(t, "wasmdbg", "plugins", "--admin", istio.URL, "--module", "/nonexistent.wasm")
	if code != 2 || errOut != "wasmdbg: --module: open /nonexistent.wasm: no such file or directory\nRun 'wasmdbg plugins --help' for usage.\n" {
		t.Errorf("bad module: %d %q", code, errOut)
	}
}

// Tap → capture → replay: traffic tapped from a (fake) Envoy becomes a
// capture with the plugin's configuration from /config_dump, and replaying
// it reproduces the plugin's crash.
func TestCaptureTapToReplay(t *testing.T) {
	dir := t.TempDir()
	f, _ := fixtures.Get("cpp")
	b, _ := f.Bytes()
	mod := filepath.Join(dir, "plugin.wasm")
	if err := os.WriteFile(mod, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dump := strings.ReplaceAll(string(admintest.EnvoyStaticDump), "/etc/envoy/plugins/cpp/plugin.wasm", mod)
	s := fakeEnvoy(t, admintest.Options{ConfigDump: []byte(dump), TapConfigIDs: []string{"wasm_tap"}})
	out := filepath.Join(dir, "capture.json")

	// Two HTTP plugins in the dump: capture must be told which, before it
	// takes any traffic.
	code, _, errOut := run(t, "wasmdbg", "capture", "--admin", s.URL, "--config-id", "wasm_tap", "--out", out, "--count", "2")
	if code != 2 || errOut != "wasmdbg: the proxy has several HTTP plugins (cpp-filter, rust-filter): say which with --plugin\nRun 'wasmdbg capture --help' for usage.\n" {
		t.Errorf("ambiguous plugin: %d %q", code, errOut)
	}
	code, _, errOut = run(t, "wasmdbg", "capture", "--admin", s.URL, "--config-id", "other", "--out", out, "--plugin", "cpp-filter")
	if code != 1 || errOut != "wasmdbg: POST /tap: envoy answered 400: Unknown config id 'other'. No extension has registered with this id.\n" {
		t.Errorf("unknown config id: %d %q", code, errOut)
	}

	type result struct {
		code   int
		errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, _, errOut := run(t, "wasmdbg", "capture", "--admin", s.URL, "--config-id", "wasm_tap", "--out", out, "--count", "2", "--plugin", "cpp-filter")
		done <- result{code, errOut}
	}()
	if !s.WaitTapAttached(10 * time.Second) {
		t.Fatal("no tap session")
	}
	at := time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC)
	req := func(extra ...admintest.Header) []admintest.Header {
		return append([]admintest.Header{{Key: ":authority", Value: "web"}, {Key: ":path", Value: "/a"}, {Key: ":method", Value: "GET"},
			{Key: "authorization", Value: "Bearer secret"}}, extra...)
	}
	s.SendTrace(admintest.HTTPTrace(req(), nil, []admintest.Header{{Key: ":status", Value: "200"}}, []byte("ok"), at))
	s.SendTrace(admintest.HTTPTrace(req(admintest.Header{Key: "x-crash", Value: "unreachable"}), nil, []admintest.Header{{Key: ":status", Value: "503"}}, nil, at.Add(time.Second)))
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("capture did not end")
	}
	if r.code != 0 {
		t.Fatalf("capture: exit %d\n%s", r.code, r.errOut)
	}
	for _, want := range []string{"tapping " + s.URL + " (config_id wasm_tap); stops after 2", "GET web/a -> 200", "GET web/a -> 503",
		`plugin cpp-filter from /config_dump (root_id "cpp_root", vm_id "cpp_vm", 27 bytes of configuration)`, "redacted 2 credential header value(s)"} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.errOut)
		}
	}
	capt, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"module": "plugin.wasm"`, `"root_id": "cpp_root"`, `"configuration": "deny=x-deny;header=x-plugin"`, "[redacted]"} {
		if !strings.Contains(string(capt), want) {
			t.Errorf("capture lacks %s:\n%s", want, capt)
		}
	}
	code, stdout, errOut := run(t, "wasmdbg", "replay", out)
	if code != exitTrapped || !strings.Contains(stdout+errOut, "plugin::crash::unreachableNow()") {
		t.Errorf("replay: exit %d\n%s\n%s", code, stdout, errOut)
	}
}
