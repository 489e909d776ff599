package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
)

const traceLogs = "../../tracer/testdata/logs/"

func runTraceCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(append([]string{"wasmdbg"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTraceExitCodes(t *testing.T) {
	clean := "[2024-01-01 00:00:00.000][1][trace][wasm] [host->vm] proxy_on_tick(1)\n[2024-01-01 00:00:00.001][1][trace][wasm] [host<-vm] proxy_on_tick return: void\n"
	tests := []struct {
		name    string
		stdin   string
		args    []string
		code    int
		wantErr string
	}{
		{"clean log", clean, []string{"trace", "-"}, exitOK, ""},
		{"crash in the log", "", []string{"trace", traceLogs + "misc.log"}, exitTrapped, ""},
		{"vm failure in the log", "", []string{"trace", traceLogs + "vmfail.log"}, exitTrapped, ""},
		{"missing file", "", []string{"trace", "no-such.log"}, exitError, "wasmdbg: open no-such.log: no such file or directory\n"},
		{"strict", "", []string{"trace", "--strict", traceLogs + "istio-json.log"}, exitError,
			"wasmdbg: " + traceLogs + "istio-json.log:7: malformed wasm:trace line: no ')' at the end of the arguments (without --strict such lines are counted and skipped)\n"},
		{"strict stats", "", []string{"trace", "--stats", "--strict", traceLogs + "istio-json.log"}, exitError,
			"wasmdbg: " + traceLogs + "istio-json.log:8: malformed JSON log line (without --strict such lines are counted and skipped)\n"},
		{"tree and stats", clean, []string{"trace", "--tree", "--stats"}, exitUsage, "wasmdbg: --tree and --stats are different outputs: choose one\nRun 'wasmdbg trace --help' for usage.\n"},
		{"follow two files", "", []string{"trace", "--follow", "a", "b"}, exitUsage, "wasmdbg: --follow reads one input, got 2\nRun 'wasmdbg trace --help' for usage.\n"},
		{"follow and perfetto", "", []string{"trace", "--follow", "--perfetto", "x.json"}, exitUsage, "wasmdbg: --follow cannot be combined with --tree or --perfetto, which need the whole input\nRun 'wasmdbg trace --help' for usage.\n"},
		{"bad module", clean, []string{"trace", "--module", "no-such.wasm"}, exitError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runTraceCLI(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if tt.wantErr != "" && stderr != tt.wantErr {
				t.Errorf("stderr\n%q\nwant\n%q", stderr, tt.wantErr)
			}
		})
	}
}

func TestTraceOutputs(t *testing.T) {
	log := traceLogs + "envoy-trace.log"
	// --json: one event per line, "->" unescaped.
	_, out, _ := runTraceCLI(t, "", "trace", "--json", log)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	kinds := map[string]int{}
	for _, l := range lines {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		kinds[e["kind"].(string)]++
	}
	if kinds["call"] != 49 || kinds["crash"] != 1 || kinds["plugin_log"] != 4 || !strings.Contains(out, `"direction":"host->vm"`) {
		t.Errorf("kinds %v", kinds)
	}
	// --stats --json: one document.
	_, out, _ = runTraceCLI(t, "", "trace", "--stats", "--json", log)
	var st struct {
		Kind      string `json:"kind"`
		Callbacks []struct {
			Function string `json:"function"`
			Count    int    `json:"count"`
			Trapped  int    `json:"trapped"`
		} `json:"callbacks"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Kind != "stats" || st.Callbacks[1].Function != "proxy_on_request_headers" || st.Callbacks[1].Trapped != 1 {
		t.Errorf("stats %+v (%v)\n%s", st, err, out)
	}
	// --tree from standard input.
	in, _ := os.ReadFile(log)
	_, out, _ = runTraceCLI(t, string(in), "trace", "--tree")
	if !strings.Contains(out, "stream context 2 (root 1) · thread 24\n") || !strings.Contains(out, "-> TRAPPED (line 49)") {
		t.Errorf("tree:\n%s", out)
	}
	// Several files: events say which.
	_, out, _ = runTraceCLI(t, "", "trace", "--json", traceLogs+"misc.log", traceLogs+"ci.log")
	if !strings.Contains(out, `"file":"`+traceLogs+`misc.log"`) || !strings.Contains(out, `"file":"`+traceLogs+`ci.log"`) {
		t.Errorf("events of several files do not name them:\n%s", out)
	}
}

func TestTracePerfetto(t *testing.T) {
	out := filepath.Join(t.TempDir(), "trace.json")
	code, _, stderr := runTraceCLI(t, "", "trace", "--perfetto", out, traceLogs+"envoy-trace.log")
	if code != exitTrapped || !strings.Contains(stderr, "open it in https://ui.perfetto.dev") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []struct {
			Name string   `json:"name"`
			Ph   string   `json:"ph"`
			Ts   float64  `json:"ts"`
			Dur  *float64 `json:"dur"`
			Tid  int      `json:"tid"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not a JSON trace: %v", err)
	}
	phases := map[string]int{}
	for _, e := range doc.TraceEvents {
		phases[e.Ph]++
		if e.Ph == "X" && (e.Dur == nil || *e.Dur < 0) {
			t.Errorf("slice %q without a duration", e.Name)
		}
		if e.Name == "proxy_on_request_headers (trapped)" && e.Tid != 24 {
			t.Errorf("trapped slice on thread %d", e.Tid)
		}
	}
	if phases["X"] != 25 || phases["i"] != 7 || phases["M"] != 4 {
		t.Errorf("phases %v", phases)
	}
}

// --module symbolizes crash frames with the module's DWARF: the C++
// fixture's real V8 frames for x-crash: oob (fixtures/cpp/v8-crashes.txt).
func TestTraceModule(t *testing.T) {
	fx, ok := fixtures.Get("cpp")
	if !ok {
		t.Skip("no cpp fixture")
	}
	wasm, err := fx.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	module := filepath.Join(t.TempDir(), "plugin.wasm")
	if err := os.WriteFile(module, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	log := `[2026-03-01 10:00:00.014][23][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Function: proxy_on_request_headers failed: Uncaught RuntimeError: memory access out of bounds
Proxy-Wasm plugin in-VM backtrace:
  0:  0x157a - plugin::crash::loadFar()
  1:  0x16d7 - plugin::crash::strike(plugin::crash::Mode)
  2:  0x2538 - plugin::Filter::onRequestHeaders(unsigned int, bool)
  3:  0x10b5 - proxy_on_request_headers
`
	code, out, stderr := runTraceCLI(t, log, "trace", "--module", module, "--json")
	if code != exitTrapped {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var e struct {
		Frames []struct {
			Function string `json:"function"`
			File     string `json:"file"`
			Line     int    `json:"line"`
		} `json:"frames"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &e); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(e.Frames) != 4 || e.Frames[0].File == "" || !strings.HasSuffix(e.Frames[0].File, "plugin.cc") || e.Frames[0].Line == 0 {
		t.Errorf("frames not symbolized: %+v", e.Frames)
	}
	if e.Frames[3].Function != "proxy_on_request_headers" || e.Frames[3].File == "" {
		t.Errorf("last frame %+v", e.Frames[3])
	}
}
