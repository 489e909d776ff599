package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const (
	cppModule      = "../../fixtures/cpp/plugin.wasm"
	cppStripped    = "../../fixtures/cpp/plugin-stripped.wasm"
	cModule        = "../../fixtures/cpp/plugin-c.wasm"
	inlineFrameOut = "plugin::crash::checkedAt(int const*, unsigned int, unsigned int)\nplugin.cc:80:18\nplugin::crash::viaInline(unsigned int)\nplugin.cc:86:10\n\n"
)

func runSymbolizeCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(append([]string{"wasmdbg"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestSymbolizeCommand(t *testing.T) {
	tests := []struct {
		name       string
		stdin      string
		args       []string
		code       int
		out, err   string
		outContain string
	}{
		{name: "module offsets, llvm-symbolizer text",
			args: []string{"symbolize", "--module", cppModule, "0x165c", "5491"},
			out:  inlineFrameOut + "plugin::crash::unreachableNow()\nplugin.cc:55:51\n\n"},
		{name: "code offsets with addresses",
			args: []string{"symbolize", "-m", cppModule, "--code-offsets", "-a", "0x12a6"},
			out:  "0x12a6\n" + inlineFrameOut},
		{name: "names as stored",
			args: []string{"symbolize", "-m", cppModule, "--no-demangle", "0x165c"},
			out:  "_ZN6plugin5crash9checkedAtEPKijj\nplugin.cc:80:18\n_ZN6plugin5crash9viaInlineEj\nplugin.cc:86:10\n\n"},
		{name: "function offset",
			args:       []string{"symbolize", "-m", cppModule, "func[52]+0x5"},
			outContain: "plugin::crash::viaInline(unsigned int)\nplugin.cc:"},
		{name: "batch from stdin, a bad line answered ?? in step",
			stdin: "0x165c\n\nnope\n0x1573\n",
			args:  []string{"symbolize", "-m", cppModule, "--addr-file", "-"},
			code:  exitError,
			out:   inlineFrameOut + "??\n??:0:0\n\nplugin::crash::unreachableNow()\nplugin.cc:55:51\n\n",
			err:   "wasmdbg: <stdin>:3: bad address \"nope\": want hex (0x1bf) or decimal (447)\n"},
		{name: "outside the code section",
			args: []string{"symbolize", "-m", cppModule, "0x99999", "0x1573"},
			code: exitError,
			out:  "??\n??:0:0\n\nplugin::crash::unreachableNow()\nplugin.cc:55:51\n\n",
			err:  "wasmdbg: 0x99999: outside the code section (0x3b6–0x682d)\n"},
		{name: "stripped with its debug file",
			args: []string{"symbolize", "-m", cppStripped, "--debug-file", cppModule, "0x165c"},
			out:  inlineFrameOut},
		{name: "stripped alone: exports, DWARF absent said once",
			args: []string{"symbolize", "-m", cppStripped, "0x10b5", "0x10b6"},
			out:  "proxy_on_request_headers\n??:0:0\n\nproxy_on_request_headers\n??:0:0\n\n",
			err:  "wasmdbg: warning: " + cppStripped + ": no DWARF (.debug_info): answers come from export names\n"},
		{name: "filter",
			stdin: "Proxy-Wasm plugin in-VM backtrace:\n  0:  0x165c - plugin::crash::viaInline(unsigned int)\nother\n",
			args:  []string{"symbolize", "-m", cppModule},
			out:   "Proxy-Wasm plugin in-VM backtrace:\n  0:  0x165c - plugin::crash::viaInline(unsigned int)\n      at plugin::crash::checkedAt(int const*, unsigned int, unsigned int) (plugin.cc:80:18) [inlined]\n      at plugin.cc:86:10\nother\n"},
		{name: "filter from a file argument",
			args: []string{"symbolize", "-m", cppModule, "no-such.log"},
			code: exitError,
			err:  "wasmdbg: open no-such.log: no such file or directory\n"},
		// Usage and refusals.
		{name: "no module",
			args: []string{"symbolize", "0x1"},
			code: exitUsage,
			err:  "wasmdbg: symbolize needs --module M.wasm: the module the offsets are in\nRun 'wasmdbg symbolize --help' for usage.\n"},
		{name: "a file among addresses",
			args: []string{"symbolize", "-m", cppModule, "0x1", "envoy.log"},
			code: exitUsage,
			err:  "wasmdbg: \"envoy.log\" is not an address (hex 0x1bf, decimal 447 or func[N]+0xOFF); to filter a log, give only its file name\nRun 'wasmdbg symbolize --help' for usage.\n"},
		{name: "addresses and --addr-file",
			args: []string{"symbolize", "-m", cppModule, "--addr-file", "-", "0x1"},
			code: exitUsage,
			err:  "wasmdbg: give addresses either as arguments or with --addr-file, not both\nRun 'wasmdbg symbolize --help' for usage.\n"},
		{name: "--json in filter mode",
			args: []string{"symbolize", "-m", cppModule, "--json"},
			code: exitUsage,
			err:  "wasmdbg: --json, --print-address and --no-demangle apply to addresses; a log is filtered as text\nRun 'wasmdbg symbolize --help' for usage.\n"},
		{name: "missing module",
			args: []string{"symbolize", "-m", "nope.wasm", "0x1"},
			code: exitError,
			err:  "wasmdbg: open nope.wasm: no such file or directory\n"},
		{name: "debug file of other code",
			args: []string{"symbolize", "-m", cppStripped, "--debug-file", cModule, "0x1"},
			code: exitError,
			err:  "wasmdbg: debug file " + cModule + " is not a build of the same code as " + cppStripped + ": their code sections differ in size (0x6477 and 0x3ec8 bytes); pass the debug file built together with this module\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runSymbolizeCmd(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if tt.outContain != "" {
				if !strings.Contains(out, tt.outContain) {
					t.Errorf("stdout\n%s\nlacks\n%s", out, tt.outContain)
				}
			} else if out != tt.out {
				t.Errorf("stdout\n%q\nwant\n%q", out, tt.out)
			}
			if errOut != tt.err {
				t.Errorf("stderr\n%q\nwant\n%q", errOut, tt.err)
			}
		})
	}
}

// --json prints one array with the shape: address, frames with
// function, demangled, file, line, column, inlined, source.
func TestSymbolizeJSON(t *testing.T) {
	for _, args := range [][]string{
		{"symbolize", "-m", cppModule, "--json", "0x165c", "0x99999"},
		{"symbolize", "-m", cppModule, "--json", "--addr-file", "-"},
	} {
		code, out, _ := runSymbolizeCmd(t, "0x165c\n0x99999\n", args...)
		if code != exitError {
			t.Errorf("%v: exit %d, want %d", args, code, exitError)
		}
		var res []struct {
			Address      string `json:"address"`
			ModuleOffset string `json:"module_offset"`
			CodeOffset   string `json:"code_offset"`
			Error        string `json:"error"`
			Frames       []map[string]any
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if len(res) != 2 || res[0].Address != "0x165c" || res[0].CodeOffset != "0x12a6" || len(res[0].Frames) != 2 {
			t.Fatalf("%v: %s", args, out)
		}
		f := res[0].Frames[0]
		want := map[string]any{"function": "_ZN6plugin5crash9checkedAtEPKijj", "demangled": "plugin::crash::checkedAt(int const*, unsigned int, unsigned int)",
			"file": "plugin.cc", "line": 80.0, "column": 18.0, "inlined": true, "source": "dwarf"}
		for k, v := range want {
			if f[k] != v {
				t.Errorf("%v: frame key %s = %v, want %v", args, k, f[k], v)
			}
		}
		if res[1].Error != "0x99999: outside the code section (0x3b6–0x682d)" || len(res[1].Frames) != 0 {
			t.Errorf("%v: second result %+v", args, res[1])
		}
	}
}
