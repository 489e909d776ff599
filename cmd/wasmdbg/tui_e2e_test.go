package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestTUIInTmux runs the built binary in a real terminal (tmux), sends
// keys, and reads the screen back with capture-pane: the crash list, a
// frame's source line, the help, and quitting.
func TestTUIInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed: the end-to-end TUI test needs it (CI installs it)")
	}
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "wasmdbg")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	module, err := filepath.Abs("../../fixtures/cpp/plugin.wasm")
	if err != nil {
		t.Fatal(err)
	}
	logf, err := filepath.Abs("testdata/tui/cpp-panic.log")
	if err != nil {
		t.Fatal(err)
	}
	exitFile := filepath.Join(dir, "exit")
	// A server of our own, so the test neither sees nor disturbs the
	// user's tmux sessions.
	sock := fmt.Sprintf("wasmdbg-e2e-%d", os.Getpid())
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { tm("kill-server") })
	script := fmt.Sprintf("%s tui --module %s %s; echo $? > %s", bin, module, logf, exitFile)
	if out, err := tm("new-session", "-d", "-s", "ui", "-x", "100", "-y", "30", "env", "TERM=xterm-256color", "sh", "-c", script); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	screen := func() string {
		out, err := tm("capture-pane", "-p", "-t", "ui")
		if err != nil {
			t.Fatalf("capture-pane: %v\n%s", err, out)
		}
		return out
	}
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		var s string
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if s = screen(); ok(s) {
				return s
			}
		}
		t.Fatalf("the screen never showed %s:\n%s", what, s)
		return ""
	}
	send := func(keys ...string) {
		t.Helper()
		if out, err := tm(append([]string{"send-keys", "-t", "ui"}, keys...)...); err != nil {
			t.Fatalf("send-keys %v: %v\n%s", keys, err, out)
		}
	}
	has := func(parts ...string) func(string) bool {
		return func(s string) bool {
			for _, p := range parts {
				if !strings.Contains(s, p) {
					return false
				}
			}
			return true
		}
	}

	// The crash list, with the crash located in the plugin's source, and
	// the source line previewed below the frames.
	waitFor("the crash list", has("Crashes (1)", "proxy_on_request_headers plugin.cc:52", "RuntimeError: unreachable", "loaded"))
	waitFor("the frame's source line", has("▶ 52 │   abort();"))
	// Into the frames; down to strike(), whose line is shown.
	send("Enter")
	send("Down")
	waitFor("strike()'s source line", has("> #2", `▶ 92 │       panic("crashing on purpose (x-crash: panic)");`))
	// The help, generated from the key map.
	send("?")
	waitFor("the help", has("Keys (esc or ? to close)", "/ search", "n next match", "q quit"))
	send("Escape")
	// (A key sent right after Escape would read as Alt+key, as in any
	// terminal: wait for the help to close first.)
	waitFor("the crashes again", func(s string) bool { return !strings.Contains(s, "Keys (esc") && strings.Contains(s, "> #2") })
	// Quit: the program ends with status 0.
	send("q")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(exitFile); err == nil && strings.TrimSpace(string(b)) != "" {
			if got := strings.TrimSpace(string(b)); got != "0" {
				t.Fatalf("exit status %s after q", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit; the screen:\n%s", screen())
		}
	}
}
