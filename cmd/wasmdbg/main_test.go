package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func run(t *testing.T, argv0 string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(append([]string{argv0}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"version"}, exitOK, ""},
		{[]string{"--help"}, exitOK, ""},
		{nil, exitOK, ""},
		{[]string{"--no-such-flag"}, exitUsage, "wasmdbg: unknown flag: --no-such-flag\nRun 'wasmdbg --help' for usage.\n"},
		{[]string{"no-such-command"}, exitUsage, "wasmdbg: unknown command \"no-such-command\" for \"wasmdbg\"\nRun 'wasmdbg --help' for usage.\n"},
		{[]string{"version", "extra"}, exitUsage, "wasmdbg: wasmdbg version takes no arguments, got \"extra\"\nRun 'wasmdbg version --help' for usage.\n"},
	}
	for _, tt := range tests {
		code, _, stderr := run(t, "wasmdbg", tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		if stderr != tt.wantErr {
			t.Errorf("%v: stderr\n%q\nwant\n%q", tt.args, stderr, tt.wantErr)
		}
	}
}

func TestVersion(t *testing.T) {
	_, out, _ := run(t, "wasmdbg", "version")
	if !strings.HasPrefix(out, "wasmdbg ") || !strings.Contains(out, " go1.") {
		t.Errorf("version output %q", out)
	}
	_, out, _ = run(t, "wasmdbg", "version", "--json")
	var v struct{ Version, Go, OS, Arch string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" || !strings.HasPrefix(v.Go, "go1.") || v.OS == "" || v.Arch == "" {
		t.Errorf("version --json output %q: %+v %v", out, v, err)
	}
}

func TestKubectlPluginName(t *testing.T) {
	code, out, _ := run(t, "/usr/local/bin/kubectl-wasmdbg", "--help")
	if code != 0 || !strings.Contains(out, "kubectl wasmdbg [command]") {
		t.Errorf("exit %d, help:\n%s", code, out)
	}
	_, out, _ = run(t, "wasmdbg", "--help")
	if strings.Contains(out, "kubectl") && strings.Contains(out, "kubectl wasmdbg [command]") {
		t.Errorf("plain name shows kubectl usage:\n%s", out)
	}
}

func TestEverySubcommandHasHelpAndExample(t *testing.T) {
	root := newRootCmd("wasmdbg", stdio{})
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Short == "" || c.Example == "" {
			t.Errorf("%s: needs a Short description and an Example", c.Name())
		}
	}
}
