package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMistakes runs the commands as a first-time user gets them wrong:
// each answer is one lowercase line that names the file or the argument,
// says what to do where it can, and has the right exit status.
func TestMistakes(t *testing.T) {
	dir := t.TempDir()
	module := "../../fixtures/cpp/plugin.wasm"
	log := "../../tracer/testdata/logs/istio-text.log"
	noWasm := filepath.Join(dir, "proxy.log")
	os.WriteFile(noWasm, []byte("[2024-01-01 00:00:00.000][1][info][main] [source/server/server.cc:1] starting main dispatch loop\n"), 0o644)
	missing := filepath.Join(dir, "missing.log")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"too many arguments", []string{"inspect", "a.wasm", "b.wasm"}, exitUsage,
			"wasmdbg: wasmdbg inspect takes 1 argument, got \"a.wasm\" \"b.wasm\" (usage: wasmdbg inspect MODULE.wasm [flags])\nRun 'wasmdbg inspect --help' for usage.\n"},
		{"two arguments missing", []string{"capture", "convert"}, exitUsage,
			"wasmdbg: wasmdbg capture convert takes 2 arguments, got none (usage: wasmdbg capture convert IN OUT [flags])\nRun 'wasmdbg capture convert --help' for usage.\n"},
		{"a pod as argument", []string{"metrics", "productpage-v1"}, exitUsage,
			"wasmdbg: wasmdbg metrics takes no arguments, got \"productpage-v1\"; to reach a pod, give --pod productpage-v1\nRun 'wasmdbg metrics --help' for usage.\n"},
		{"no proxy", []string{"plugins"}, exitUsage,
			"wasmdbg: say which proxy: --admin host:port for a local envoy, or --pod POD\nRun 'wasmdbg plugins --help' for usage.\n"},
		{"unknown flag of a subcommand", []string{"trace", "--bogus"}, exitUsage,
			"wasmdbg: unknown flag: --bogus\nRun 'wasmdbg trace --help' for usage.\n"},
		{"trace: missing log", []string{"trace", missing}, exitError,
			"wasmdbg: open " + missing + ": no such file or directory\n"},
		{"trace: --perfetto where nothing can be written, said before reading", []string{"trace", "--perfetto", filepath.Join(missing, "p.json"), "-"}, exitError,
			"wasmdbg: --perfetto: open " + filepath.Join(missing, "p.json") + ": no such file or directory\n"},
		{"trace: a directory", []string{"trace", dir}, exitError,
			"wasmdbg: " + dir + " is a directory: give a log file\n"},
		{"trace: the module as the log", []string{"trace", module}, exitUsage,
			"wasmdbg: " + module + " is a WebAssembly module, not a log: give it with --module " + module + " and the log as the argument\nRun 'wasmdbg trace --help' for usage.\n"},
		{"trace: missing module", []string{"trace", "-m", filepath.Join(dir, "x.wasm"), log}, exitError,
			"wasmdbg: open " + filepath.Join(dir, "x.wasm") + ": no such file or directory\n"},
		{"trace: a log as module", []string{"trace", "-m", log, log}, exitError,
			"wasmdbg: " + log + ": header at offset 0x0: not a WebAssembly module: starts with \"2024\", want \"\\x00asm\"\n"},
		{"trace: no wasm lines", []string{"trace", noWasm}, exitOK, noWasmLines + "\n"},
		{"tui: the module as the log", []string{"tui", "--snapshot", module}, exitUsage,
			"wasmdbg: " + module + " is a WebAssembly module, not a log: give it with --module " + module + " and the log as the argument\nRun 'wasmdbg tui --help' for usage.\n"},
		{"tui: missing log", []string{"tui", "--snapshot", missing}, exitError,
			"wasmdbg: open " + missing + ": no such file or directory\n"},
		{"symbolize: hex without 0x", []string{"symbolize", "-m", module, "165c"}, exitUsage,
			"wasmdbg: \"165c\" is neither an address (hex 0x1bf, decimal 447 or func[N]+0xOFF) nor a file\nRun 'wasmdbg symbolize --help' for usage.\n"},
		{"symbolize: missing source map", []string{"symbolize", "-m", module, "--source-map", filepath.Join(dir, "x.map"), "0x165c"}, exitError,
			"wasmdbg: --source-map: stat " + filepath.Join(dir, "x.map") + ": no such file or directory\n"},
		{"serve: text as module", []string{"serve", "-m", log, "--upstream", "http://127.0.0.1:1"}, exitError,
			"wasmdbg: " + log + ": header at offset 0x0: not a WebAssembly module: starts with \"2024\", want \"\\x00asm\"\n"},
		{"capture convert: a log", []string{"capture", "convert", noWasm, filepath.Join(dir, "out.json")}, exitError,
			"wasmdbg: proxy.log: not JSON: line 1 column 6: invalid character '-' after array element; this looks like a proxy log: read it with wasmdbg trace " + noWasm + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runIn(t, "", tt.args...)
			if code != tt.code || stderr != tt.stderr {
				t.Errorf("exit %d, stderr\n%q\nwant %d,\n%q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}
