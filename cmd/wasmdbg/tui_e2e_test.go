package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/admin/admintest"
)

// tmuxUI drives a command in a tmux session of its own.
type tmuxUI struct {
	t    *testing.T
	tmux string
	sock string
}

// startTmux builds the binary and starts `wasmdbg ARGS…` in a 100x30 tmux
// window; it returns the session and a file that receives the exit status.
func startTmux(t *testing.T, args ...string) (*tmuxUI, string) {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed: the end-to-end TUI test needs it (CI installs it)")
	}
	bin := wasmdbgBinary(t) // built once per test binary; skipped with -short
	dir := t.TempDir()
	exitFile := filepath.Join(dir, "exit")
	// A server of our own, so the test neither sees nor disturbs the
	// user's tmux sessions.
	u := &tmuxUI{t: t, tmux: tmux, sock: fmt.Sprintf("wasmdbg-e2e-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))}
	t.Cleanup(func() { u.run("kill-server") })
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	script := fmt.Sprintf("%s %s 2>%s; echo $? > %s", bin, strings.Join(quoted, " "), filepath.Join(dir, "stderr"), exitFile)
	if out, err := u.run("new-session", "-d", "-s", "ui", "-x", "100", "-y", "30", "env", "TERM=xterm-256color", "sh", "-c", script); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	return u, exitFile
}

func (u *tmuxUI) run(args ...string) (string, error) {
	out, err := exec.Command(u.tmux, append([]string{"-L", u.sock}, args...)...).CombinedOutput()
	return string(out), err
}

func (u *tmuxUI) screen() string {
	out, err := u.run("capture-pane", "-p", "-t", "ui")
	if err != nil {
		u.t.Fatalf("capture-pane: %v\n%s", err, out)
	}
	return out
}

func (u *tmuxUI) waitFor(what string, ok func(string) bool) string {
	u.t.Helper()
	var s string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s = u.screen(); ok(s) {
			return s
		}
	}
	u.t.Fatalf("the screen never showed %s:\n%s", what, s)
	return ""
}

func (u *tmuxUI) send(keys ...string) {
	u.t.Helper()
	if out, err := u.run(append([]string{"send-keys", "-t", "ui"}, keys...)...); err != nil {
		u.t.Fatalf("send-keys %v: %v\n%s", keys, err, out)
	}
}

// waitExit waits for the program to end and returns its exit status.
func (u *tmuxUI) waitExit(exitFile string) string {
	u.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(exitFile); err == nil && strings.TrimSpace(string(b)) != "" {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("the program did not end; the screen:\n%s", u.screen())
		}
	}
}

func has(parts ...string) func(string) bool {
	return func(s string) bool {
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return false
			}
		}
		return true
	}
}

// TestTUIInTmux runs the built binary in a real terminal (tmux), sends
// keys, and reads the screen back with capture-pane: the crash list, a
// frame's source line, the help, and quitting.
func TestTUIInTmux(t *testing.T) {
	module, _ := filepath.Abs("../../fixtures/cpp/plugin.wasm")
	logf, _ := filepath.Abs("testdata/tui/cpp-panic.log")
	u, exitFile := startTmux(t, "tui", "--module", module, logf)

	// The crash list, with the crash located in the plugin's source, and
	// the source line previewed below the frames.
	u.waitFor("the crash list", has("Crashes (1)", "proxy_on_request_headers plugin.cc:52", "RuntimeError: unreachable", "loaded"))
	u.waitFor("the frame's source line", has("▶ 52 │   abort();"))
	// Into the frames; down to strike(), whose line is shown.
	u.send("Enter")
	u.send("Down")
	u.waitFor("strike()'s source line", has("> #2", `▶ 92 │       panic("crashing on purpose (x-crash: panic)");`))
	// The help, generated from the key map.
	u.send("?")
	u.waitFor("the help", has("Keys (esc or ? to close)", "/ search", "n next match", "q quit"))
	u.send("Escape")
	// (A key sent right after Escape would read as Alt+key, as in any
	// terminal: wait for the help to close first.)
	u.waitFor("the crashes again", func(s string) bool { return !strings.Contains(s, "Keys (esc") && strings.Contains(s, "> #2") })
	// Quit: the program ends with status 0.
	u.send("q")
	if got := u.waitExit(exitFile); got != "0" {
		t.Fatalf("exit status %s after q", got)
	}
}

// TestAttachInTmux: wasmdbg attach on a terminal opens the UI over a live
// (fake) Envoy, shows a crash as the log grows, reminds which level it
// will restore, and puts the level back when the user quits.
func TestAttachInTmux(t *testing.T) {
	envoy := admintest.New(admintest.Options{Loggers: []string{"wasm", "http"}, Level: "warning"})
	defer envoy.Close()
	logf := filepath.Join(t.TempDir(), "envoy.log")
	if err := os.WriteFile(logf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	module, _ := filepath.Abs("../../fixtures/cpp/plugin.wasm")
	t.Setenv("WASMDBG_STATE_DIR", t.TempDir())
	u, exitFile := startTmux(t, "attach", "--admin", envoy.URL, "--log-file", logf, "--module", module)
	u.waitFor("the attach session", has("attach "+envoy.URL, "restores wasm warning→debug on quit"))
	if got := envoy.Level("wasm"); got != "debug" {
		t.Fatalf("wasm level %s while attached", got)
	}
	crash, err := os.ReadFile("testdata/tui/cpp-panic.log")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(logf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(crash)
	f.Close()
	u.waitFor("the crash", has("1 crash", "✗ Uncaught RuntimeError: unreachable (crash #1)"))
	u.send("1")
	u.waitFor("the symbolized crash", has("proxy_on_request_headers plugin.cc:52"))
	u.send("q")
	if got := u.waitExit(exitFile); got != "0" {
		t.Fatalf("exit status %s after q", got)
	}
	if got := envoy.Level("wasm"); got != "warning" {
		t.Errorf("quitting left wasm at %s", got)
	}
	// What was restored is printed once the terminal is back.
	stderr, _ := os.ReadFile(filepath.Join(filepath.Dir(exitFile), "stderr"))
	if !strings.Contains(string(stderr), "restored wasm: debug -> warning") {
		t.Errorf("stderr after quitting: %q", stderr)
	}
}

// TestServeInTmux: wasmdbg serve on a terminal shows the traffic in the UI;
// a request that crashes the plugin shows as a symbolized crash; q stops
// serving, with serve's exit status (3: the plugin trapped).
func TestServeInTmux(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer upstream.Close()
	module, _ := filepath.Abs("../../fixtures/cpp/plugin.wasm")
	u, exitFile := startTmux(t, "serve", "--module", module, "--upstream", upstream.URL, "--listen", "127.0.0.1:0")
	scr := u.waitFor("the serve session", has("serve plugin.wasm on http://127.0.0.1:", "q stops serving"))
	addr := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`).FindString(scr)
	if addr == "" {
		t.Fatalf("no address on the screen:\n%s", scr)
	}
	get := func(header string) {
		req, _ := http.NewRequest("GET", addr+"/cart", nil)
		if header != "" {
			req.Header.Set("x-crash", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("")
	u.waitFor("the access log line", has("GET /cart"))
	get("panic")
	u.waitFor("the crash", has("Crashes (1)", "1 crash"))
	u.send("1")
	u.waitFor("the symbolized crash", has("proxy_on_request_headers plugin.cc:52", "▶ 52 │   abort();"))
	u.send("q")
	if got := u.waitExit(exitFile); got != "3" {
		t.Errorf("exit status %s after q, want 3 (the plugin trapped)", got)
	}
}
