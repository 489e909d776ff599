package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const replayTestdata = "../../replay/testdata/"

func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"wasmdbg"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestReplayCommand(t *testing.T) {
	module := replayTestdata + "wat/basic.wasm"
	capture := replayTestdata + "captures/basic.json"
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.json")
	os.WriteFile(clean, []byte(`{"version": 1, "streams": [{"request": {"headers": [[":method", "GET"], [":path", "/"]]},
		"expect": {"status": 200}}]}`), 0o644)
	failing := filepath.Join(dir, "failing.json")
	os.WriteFile(failing, []byte(`{"version": 1, "streams": [{"request": {"headers": [[":method", "GET"], [":path", "/"]]},
		"expect": {"status": 404}}]}`), 0o644)
	truncated := filepath.Join(dir, "truncated.wasm")
	if b, err := os.ReadFile(module); err == nil {
		os.WriteFile(truncated, b[:40], 0o644)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"version": 1, "streams": [{"request": {"headers": [[":method", 7]]}}]}`), 0o644)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string // in stdout
		stderr   string // all of stderr
	}{
		{"trap is exit 3", []string{"replay", capture, "--module", module, "--no-cache"}, exitTrapped,
			"Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x246 - crash_inner",
			"wasmdbg: warning: ../../replay/testdata/wat/basic.wasm: no DWARF (.debug_info): answers come from the name section, then export names\n"},
		{"clean is exit 0", []string{"replay", clean, "--module", module, "--no-cache"}, exitOK, "result: ran clean\n", ""},
		{"failed expectation is exit 3", []string{"replay", failing, "-m", module, "--no-cache"}, exitTrapped,
			"  expect status 404: FAILED (got 200)\n", ""},
		{"trace shows host calls", []string{"replay", clean, "--module", module, "--trace", "--no-cache"}, exitOK,
			"[vm->host] env.proxy_get_header_map_value(0, 1040, 7, 512, 516)  # env.proxy_get_header_map_value(HttpRequestHeaders, \"x-crash\")\n", ""},
		{"no module", []string{"replay", capture}, exitUsage, "",
			"wasmdbg: no module: pass --module M.wasm, or set \"module\" in the capture\nRun 'wasmdbg replay --help' for usage.\n"},
		{"bad memory size", []string{"replay", capture, "-m", module, "--max-memory", "lots"}, exitUsage, "",
			"wasmdbg: --max-memory: \"lots\" is not a size like 64MiB or 1GiB\nRun 'wasmdbg replay --help' for usage.\n"},
		{"bad capture", []string{"replay", bad, "-m", module}, exitError, "",
			"wasmdbg: bad.json: streams[0].request.headers[0]: value must be a string or {\"base64\": …}\n"},
		{"trace and quiet", []string{"replay", capture, "-m", module, "--trace", "--quiet"}, exitUsage, "",
			"wasmdbg: --trace and --quiet contradict each other\nRun 'wasmdbg replay --help' for usage.\n"},
		{"missing import is exit 3", []string{"replay", clean, "-m", replayTestdata + "wat/badimport.wasm", "--no-cache"}, exitTrapped,
			"Failed to load Wasm module due to a missing import: env.proxy_frobnicate\n", ""},
		{"missing file", []string{"replay", filepath.Join(dir, "nope.json"), "-m", module}, exitError, "",
			"wasmdbg: open " + filepath.Join(dir, "nope.json") + ": no such file or directory\n"},
		{"directory as capture", []string{"replay", dir, "-m", module}, exitError, "",
			"wasmdbg: read " + dir + ": is a directory\n"},
		{"no argument", []string{"replay"}, exitUsage, "",
			"wasmdbg: wasmdbg replay takes 1 argument, got none (usage: wasmdbg replay CAPTURE [--module M.wasm] [flags])\nRun 'wasmdbg replay --help' for usage.\n"},
		{"a log as capture", []string{"replay", "../../tracer/testdata/logs/replay-cpp.log", "-m", module}, exitError, "",
			"wasmdbg: replay-cpp.log: not JSON: line 1 column 6: invalid character '-' after array element; this looks like a proxy log: read it with wasmdbg trace ../../tracer/testdata/logs/replay-cpp.log\n"},
		{"missing module", []string{"replay", capture, "-m", filepath.Join(dir, "nope.wasm")}, exitError, "",
			"wasmdbg: open " + filepath.Join(dir, "nope.wasm") + ": no such file or directory\n"},
		{"directory as module", []string{"replay", capture, "-m", dir}, exitError, "",
			"wasmdbg: " + dir + " is a directory: give the plugin's .wasm file\n"},
		{"text as module", []string{"replay", capture, "-m", capture}, exitError, "",
			"wasmdbg: " + capture + `: header at offset 0x0: not a WebAssembly module: starts with "{\n  ", want "\x00asm"` + "\n"},
		{"truncated module", []string{"replay", capture, "-m", truncated}, exitError, "",
			"wasmdbg: " + truncated + ": section type at offset 0x8: section size 52 overruns the file (30 bytes left)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runIn(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr)
			}
			if !strings.Contains(out, tt.contains) {
				t.Errorf("stdout does not contain %q:\n%s", tt.contains, out)
			}
			if stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
		})
	}
}

func TestReplayJSON(t *testing.T) {
	code, out, stderr := runIn(t, "", "replay", replayTestdata+"captures/basic.json", "--module", replayTestdata+"wat/basic.wasm", "--json", "--no-cache")
	if code != exitTrapped {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	var last map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		last = nil
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %d is not JSON: %v", n+1, err)
		}
		n++
	}
	if last["kind"] != "result" || last["trapped"] != true || last["callback"] != "proxy_on_request_headers" {
		t.Errorf("last record %v", last)
	}
	frames, _ := last["frames"].([]any)
	if len(frames) != 3 || frames[0].(map[string]any)["offset"] != "0x246" {
		t.Errorf("frames %v", frames)
	}
}

func TestReplayFromStdinWithCaptureModule(t *testing.T) {
	dir := t.TempDir()
	wasm, err := os.ReadFile(replayTestdata + "wat/basic.wasm")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "plugin.wasm"), wasm, 0o644)
	c := `{"version": 1, "module": "plugin.wasm", "streams": [{"request": {"headers": [[":method", "GET"], [":path", "/"]]}}]}`
	os.WriteFile(filepath.Join(dir, "c.json"), []byte(c), 0o644)
	if code, out, stderr := runIn(t, "", "replay", filepath.Join(dir, "c.json"), "--no-cache"); code != exitOK {
		t.Errorf("module from the capture: exit %d, stderr %s\n%s", code, stderr, out)
	}
	if code, _, stderr := runIn(t, c, "replay", "-", "--module", filepath.Join(dir, "plugin.wasm"), "--no-cache"); code != exitOK {
		t.Errorf("stdin: exit %d, stderr %s", code, stderr)
	}
}

func TestDemo(t *testing.T) {
	code, out, stderr := runIn(t, "", "demo", "--no-cache")
	if code != exitOK {
		t.Fatalf("demo: exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{
		"Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
		"  1:  0x1515 - plugin::crash::panic(proxy::View)\n        at plugin.cc:52:3",
		"cpp plugin panicked: crashing on purpose (x-crash: panic)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestCaptureConvert(t *testing.T) {
	dir := t.TempDir()
	har := `{"log": {"entries": [{"startedDateTime": "2024-05-01T10:00:00.000Z",
		"request": {"method": "GET", "url": "https://shop.example.com/cart?x=1", "httpVersion": "HTTP/2",
			"headers": [{"name": ":authority", "value": "shop.example.com"}, {"name": "Cookie", "value": "session=secret"}, {"name": "Accept", "value": "*/*"}]},
		"response": {"status": 200, "headers": [{"name": "Content-Type", "value": "text/plain"}], "content": {"text": "aGk=", "encoding": "base64"}}}]}}`
	in := filepath.Join(dir, "s.har")
	os.WriteFile(in, []byte(har), 0o644)
	out := filepath.Join(dir, "c.json")
	code, _, stderr := runIn(t, "", "capture", "convert", in, out, "--config", "deny=x-deny", "--root-id", "r")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stderr != "wasmdbg: redacted 1 credential header value(s); --no-redact keeps them\n" {
		t.Errorf("stderr %q", stderr)
	}
	b, _ := os.ReadFile(out)
	for _, want := range []string{`"configuration": "deny=x-deny"`, `"root_id": "r"`, `"cookie",`, `"[redacted]"`,
		`":path",`, `"/cart?x=1"`, `"body": "hi"`, `"protocol": "HTTP/2"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("converted capture lacks %s:\n%s", want, b)
		}
	}
	// The output replays.
	if code, _, stderr := runIn(t, "", "replay", out, "--module", replayTestdata+"wat/basic.wasm", "--no-cache"); code != exitOK {
		t.Errorf("replaying the converted capture: exit %d, %s", code, stderr)
	}
}

// A module the symbolizer refuses (here: a --debug-file of other code) is
// still replayed; its trap is shown with the name section's frames instead of
// a nil *symbolize.Module inside loc.Resolver panicking on Lookup.
func TestReplayUnsymbolizableModule(t *testing.T) {
	module := replayTestdata + "wat/basic.wasm"
	other := replayTestdata + "wat/badimport.wasm"
	code, out, errs := runIn(t, "", "replay", replayTestdata+"captures/basic.json", "--module", module, "--debug-file", other, "--no-cache")
	if code != exitTrapped {
		t.Fatalf("exit %d; want %d (trapped)\nstderr: %s", code, exitTrapped, errs)
	}
	if !strings.Contains(errs, "wasmdbg: warning: frames will not be symbolized: ") {
		t.Errorf("stderr %q; want the warning that frames will not be symbolized", errs)
	}
	if !strings.Contains(out, "  0:  0x246 - crash_inner") {
		t.Errorf("stdout lacks the V8 frame of the trap:\n%s", out)
	}
}
