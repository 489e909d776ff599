package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// heapCapture writes a capture of one request for replay's heap.wat
// plugin, which leaks 100 bytes a request when configured.
func heapCapture(t *testing.T, config string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "heap.json")
	body := `{"version": 1, "plugin": {"configuration": "` + config + `"},
		"streams": [{"request": {"headers": [[":method", "GET"], [":path", "/"]]}}]}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayProductionFlags(t *testing.T) {
	basic := replayTestdata + "captures/basic.json"
	module := replayTestdata + "wat/basic.wasm"
	heap := replayTestdata + "wat/heap.wasm"
	leaky, level := heapCapture(t, "leak"), heapCapture(t, "")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string // in stdout
		stderr   string   // all of stderr
	}{
		{"bad policy", []string{"replay", basic, "-m", module, "--failure-policy", "retry"}, exitUsage, nil,
			"wasmdbg: --failure-policy: unknown failure policy \"retry\" (want fail-closed, fail-open or fail-reload)\nRun 'wasmdbg replay --help' for usage.\n"},
		{"bad backoff", []string{"replay", basic, "-m", module, "--reload-backoff", "0s"}, exitUsage, nil,
			"wasmdbg: --reload-backoff must be positive, not 0s\nRun 'wasmdbg replay --help' for usage.\n"},
		{"bad repeat", []string{"replay", basic, "-m", module, "--repeat", "0"}, exitUsage, nil,
			"wasmdbg: --repeat 0: give the number of passes, 1 or more\nRun 'wasmdbg replay --help' for usage.\n"},
		{"fail open", []string{"replay", basic, "-m", module, "--no-cache", "--quiet", "--failure-policy", "fail-open"}, exitTrapped,
			[]string{"access log (Istio's default format, the fields a replay knows):\n", `"POST /upload HTTP/1.1" 503 - wasm_fail_stream 4 0`},
			"wasmdbg: warning: ../../replay/testdata/wat/basic.wasm: no DWARF (.debug_info): answers come from the name section, then export names\n"},
		{"leak", []string{"replay", leaky, "-m", heap, "--no-cache", "--repeat", "200"}, exitTrapped,
			[]string{"=== memory over 200 iterations (1 request each)\n", "signal: heap in use (mallinfo().uordblks)\n", "verdict: memory grows ~103 B per request: leak\n"},
			""},
		{"no leak", []string{"replay", level, "-m", heap, "--no-cache", "--repeat", "200"}, exitOK,
			[]string{"verdict: memory is level over the second half of the run: no leak\n", "=== 1 stream (the first pass of 200)\n"},
			""},
		{"timing", []string{"replay", level, "-m", heap, "--no-cache", "--timing"}, exitOK,
			[]string{"\n=== time in the plugin (wall clock: measured, differs from run to run)\nper request (every callback of a stream): p50 "},
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runIn(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr)
			}
			for _, c := range tt.contains {
				if !strings.Contains(out, c) {
					t.Errorf("stdout does not contain %q:\n%s", c, out)
				}
			}
			if stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
		})
	}
}

// TestReplayRepeatJSON: --json --repeat prints the memory record, with its
// series, just before the result.
func TestReplayRepeatJSON(t *testing.T) {
	code, out, stderr := runIn(t, "", "replay", heapCapture(t, "leak"), "-m", replayTestdata+"wat/heap.wasm", "--no-cache", "--repeat", "200", "--json")
	if code != exitTrapped {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	var kinds []string
	var mem struct {
		Kind    string `json:"kind"`
		Verdict string `json:"verdict"`
		Series  []struct {
			Iteration int     `json:"iteration"`
			Memory    uint64  `json:"memory_bytes"`
			Heap      *uint64 `json:"heap_bytes"`
		} `json:"series"`
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev struct{ Kind string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		kinds = append(kinds, ev.Kind)
		if ev.Kind == "memory" {
			json.Unmarshal(sc.Bytes(), &mem)
		}
	}
	if n := len(kinds); n < 2 || kinds[n-2] != "memory" || kinds[n-1] != "result" {
		t.Errorf("record kinds %v, want …, memory, result", kinds)
	}
	if mem.Verdict != "leak" || len(mem.Series) != 200 || mem.Series[199].Iteration != 200 || mem.Series[0].Heap == nil {
		t.Errorf("memory record %+v", mem)
	}
}

// TestReplayCPUProfileFile: --cpuprofile writes a file pprof reads.
func TestReplayCPUProfileFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cpu.pb.gz")
	code, _, stderr := runIn(t, "", "replay", heapCapture(t, ""), "-m", replayTestdata+"wat/heap.wasm", "--no-cache", "--quiet", "--cpuprofile", out)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr)
	}
	if !strings.Contains(stderr, "wasmdbg: CPU profile of ") || !strings.Contains(stderr, " function calls written to "+out+" (go tool pprof -top "+out+")\n") {
		t.Errorf("stderr %q", stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, fn := range p.Function {
		names[fn.Name] = true
	}
	if !names["on_request_headers"] || !names["malloc"] {
		t.Errorf("functions %v; want the plugin's on_request_headers and malloc", names)
	}
	code, _, stderr = runIn(t, "", "replay", heapCapture(t, ""), "-m", replayTestdata+"wat/heap.wasm", "--no-cache", "--quiet", "--cpuprofile", filepath.Join(out, "nope"))
	if code != exitError || !strings.HasPrefix(stderr, "wasmdbg: write the CPU profile: open ") {
		t.Errorf("unwritable profile: exit %d, stderr %q", code, stderr)
	}
}
