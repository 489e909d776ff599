package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const inspectTestdata = "../../internal/inspect/testdata/"

func TestInspectCommand(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(inspectTestdata + "go-wasi.wasm")
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.wasm")
	if err := os.WriteFile(truncated, good[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "plugin.wat")
	if err := os.WriteFile(text, []byte("(module)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		stdin   []byte
		code    int
		out     string // prefix of stdout
		wantErr string // all of stderr
	}{
		{"loads", []string{"inspect", inspectTestdata + "go-wasi.wasm"}, nil, exitOK,
			inspectTestdata + "go-wasi.wasm: 596 bytes, Proxy-Wasm ABI 0.2.1, Go (go1.26.8)\nverdict: loads in envoy", ""},
		{"would not load is still exit 0", []string{"inspect", inspectTestdata + "mismatch.wasm"}, nil, exitOK,
			inspectTestdata + "mismatch.wasm: 255 bytes, Proxy-Wasm ABI 0.2.1, unknown\nverdict: would NOT load in envoy", ""},
		{"strict", []string{"inspect", "--strict", inspectTestdata + "mismatch.wasm"}, nil, exitTrapped,
			inspectTestdata + "mismatch.wasm: 255 bytes", ""},
		{"strict and older host", []string{"inspect", "--strict", "--host", "envoy-1.33", inspectTestdata + "go-wasi.wasm"}, nil, exitTrapped,
			inspectTestdata + "go-wasi.wasm: 596 bytes, Proxy-Wasm ABI 0.2.1, Go (go1.26.8)\nverdict: would NOT load in envoy-1.33", ""},
		{"stdin", []string{"inspect", "-"}, good, exitOK, "stdin: 596 bytes, Proxy-Wasm ABI 0.2.1", ""},
		{"json", []string{"inspect", "--json", inspectTestdata + "go-wasi.wasm"}, nil, exitOK, "{\n  \"abi_version\": \"0.2.1\",", ""},
		{"missing file", []string{"inspect", filepath.Join(dir, "nope.wasm")}, nil, exitError, "",
			"wasmdbg: open " + filepath.Join(dir, "nope.wasm") + ": no such file or directory\n"},
		{"truncated", []string{"inspect", truncated}, nil, exitError, "",
			"wasmdbg: " + truncated + ": section import at offset 0x4a: section size 134 overruns the file (23 bytes left)\n"},
		{"text format", []string{"inspect", text}, nil, exitError, "",
			"wasmdbg: " + text + ": header at offset 0x0: not a binary WebAssembly module: this looks like the text format (.wat); convert it with wat2wasm\n"},
		{"unknown host", []string{"inspect", "--host", "nginx", inspectTestdata + "go-wasi.wasm"}, nil, exitUsage, "",
			"wasmdbg: --host: unknown host \"nginx\": choose one of envoy, envoy-1.33, envoy-1.32\nRun 'wasmdbg inspect --help' for usage.\n"},
		{"no argument", []string{"inspect"}, nil, exitUsage, "",
			"wasmdbg: wasmdbg inspect takes 1 argument, got none (usage: wasmdbg inspect MODULE.wasm [flags])\nRun 'wasmdbg inspect --help' for usage.\n"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Main(append([]string{"wasmdbg"}, tt.args...), bytes.NewReader(tt.stdin), &out, &errb)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", tt.name, code, tt.code, errb.String())
		}
		if !strings.HasPrefix(out.String(), tt.out) {
			t.Errorf("%s: stdout\n%s\nwant prefix\n%s", tt.name, out.String(), tt.out)
		}
		if errb.String() != tt.wantErr {
			t.Errorf("%s: stderr\n%q\nwant\n%q", tt.name, errb.String(), tt.wantErr)
		}
	}
}

func TestInspectJSONKeys(t *testing.T) {
	var out bytes.Buffer
	if code := Main([]string{"wasmdbg", "inspect", "--json", inspectTestdata + "pic.wasm"}, nil, &out, &out); code != exitOK {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	var r struct {
		ABIVersion string `json:"abi_version"`
		HostCheck  struct {
			Loads   bool `json:"loads"`
			Missing []struct {
				Name, Message, Hint string
			} `json:"missing"`
		} `json:"host_check"`
		Debug struct {
			NameSection bool `json:"name_section"`
		} `json:"debug"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.ABIVersion != "0.2.1" || r.HostCheck.Loads || len(r.HostCheck.Missing) != 5 || !r.Debug.NameSection {
		t.Errorf("decoded %+v", r)
	}
	if m := r.HostCheck.Missing[0]; m.Name != "env.__stack_pointer" || m.Message != "Failed to load Wasm module due to a missing import: env.__stack_pointer" {
		t.Errorf("first missing import %+v", m)
	}
}
