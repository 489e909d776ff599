package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/admin/admintest"
)

// These tests run the real wasmdbg binary, built with go build, against a
// fake Envoy, and end it the ways a user or the system does: Ctrl-C,
// SIGTERM, SIGHUP, SIGKILL, a failing log command, and a connection that
// drops just when it must restore.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func wasmdbgBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmdbg-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wasmdbg")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan error
}

// syncBuffer is a bytes.Buffer the process writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitStderr waits until the process has written want to stderr.
func (p *proc) waitStderr(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("stderr lacks %q:\n%s", want, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startAttach runs wasmdbg attach against s with a log file, and waits
// until it has raised the wasm logger.
func startAttach(t *testing.T, s *admintest.Server, state string, extra ...string) *proc {
	t.Helper()
	logf := filepath.Join(t.TempDir(), "envoy.log")
	if err := os.WriteFile(logf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"attach", "--admin", s.URL, "--log-file", logf}, extra...)
	want := "debug"
	for i, a := range extra {
		if a == "--level" {
			want = extra[i+1]
		}
	}
	return startWasmdbg(t, s, state, args, want)
}

func startWasmdbg(t *testing.T, s *admintest.Server, state string, args []string, wantLevel string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(wasmdbgBinary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), "WASMDBG_STATE_DIR="+state)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
	})
	deadline := time.Now().Add(20 * time.Second)
	for s.Level("wasm") != wantLevel {
		select {
		case err := <-p.done:
			t.Fatalf("wasmdbg ended before raising the level: %v\n%s", err, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("level not raised; stderr:\n%s", p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return -int(ws.Signal())
			}
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatalf("wasmdbg did not end; stderr:\n%s", p.stderr)
	}
	return -1
}

func markers(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "restore-*.json"))
	return m
}

func TestAttachRestoresOnSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			s := admintest.New(admintest.Options{Level: "warning"})
			defer s.Close()
			state := t.TempDir()
			p := startAttach(t, s, state)
			if len(markers(t, state)) != 1 {
				t.Fatal("no marker while attached")
			}
			p.cmd.Process.Signal(sig)
			if code := p.wait(t); code != 0 {
				t.Errorf("exit %d; stderr:\n%s", code, p.stderr)
			}
			if got := s.Level("wasm"); got != "warning" {
				t.Errorf("wasm left at %s", got)
			}
			if !strings.Contains(p.stderr.String(), "wasmdbg: "+s.URL+": restored wasm: debug -> warning\n") {
				t.Errorf("stderr:\n%s", p.stderr)
			}
			if m := markers(t, state); len(m) != 0 {
				t.Errorf("marker left: %v", m)
			}
		})
	}
}

// After SIGKILL only the marker remains; level --restore, or the next
// attach, puts the level back.
func TestAttachSIGKILLThenRestore(t *testing.T) {
	s := admintest.New(admintest.Options{Level: "warning"})
	defer s.Close()
	state := t.TempDir()
	p := startAttach(t, s, state)
	p.cmd.Process.Signal(syscall.SIGKILL)
	if code := p.wait(t); code != -int(syscall.SIGKILL) {
		t.Fatalf("exit %d", code)
	}
	if s.Level("wasm") != "debug" || len(markers(t, state)) != 1 {
		t.Fatalf("after SIGKILL: wasm %s, markers %v", s.Level("wasm"), markers(t, state))
	}
	lv := exec.Command(wasmdbgBinary(t), "level", "--admin", s.URL, "--restore")
	lv.Env = append(os.Environ(), "WASMDBG_STATE_DIR="+state)
	out, err := lv.CombinedOutput()
	if err != nil || string(out) != "restored wasm: debug -> warning\n" {
		t.Errorf("level --restore: %v %q", err, out)
	}
	if s.Level("wasm") != "warning" || len(markers(t, state)) != 0 {
		t.Errorf("after restore: wasm %s, markers %v", s.Level("wasm"), markers(t, state))
	}

	// Killed again; this time the next attach finds the marker.
	p = startAttach(t, s, state, "--level", "trace")
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
	if s.Level("wasm") != "trace" {
		t.Fatal("not at trace")
	}
	// The next attach restores trace -> warning first, then raises to
	// debug, and records warning as the level to go back to.
	p = startAttach(t, s, state)
	p.waitStderr(t, ": restored wasm: trace -> warning (left by an interrupted wasmdbg attach)\n")
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	if s.Level("wasm") != "warning" || len(markers(t, state)) != 0 {
		t.Errorf("end: wasm %s, markers %v", s.Level("wasm"), markers(t, state))
	}
}

// The connection to the admin API drops just as attach ends: it retries
// until the proxy answers again.
func TestAttachRestoresThroughDroppedConnection(t *testing.T) {
	s := admintest.New(admintest.Options{Level: "info"})
	defer s.Close()
	state := t.TempDir()
	p := startAttach(t, s, state)
	s.SetDropping(true)
	p.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(700 * time.Millisecond)
	if s.Level("wasm") != "debug" {
		t.Fatal("restored while dropping?")
	}
	s.SetDropping(false)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.stderr)
	}
	if s.Level("wasm") != "info" || len(markers(t, state)) != 0 {
		t.Errorf("wasm %s, markers %v\n%s", s.Level("wasm"), markers(t, state), p.stderr)
	}
}

// An error ends attach (here its log command fails): it restores, then
// exits 1 with the error.
func TestAttachRestoresOnError(t *testing.T) {
	s := admintest.New(admintest.Options{Level: "error"})
	defer s.Close()
	state := t.TempDir()
	p := startWasmdbg(t, s, state, []string{"attach", "--admin", s.URL, "--log-cmd", "sleep 0.5; echo 'no such container: envoy' >&2; exit 1"}, "debug")
	if code := p.wait(t); code != 1 {
		t.Errorf("exit %d", code)
	}
	errOut := p.stderr.String()
	if !strings.Contains(errOut, ": restored wasm: debug -> error\n") ||
		!strings.HasSuffix(errOut, "wasmdbg: log command \"sleep 0.5; echo 'no such container: envoy' >&2; exit 1\" exited: exit status 1\n") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if s.Level("wasm") != "error" || len(markers(t, state)) != 0 {
		t.Errorf("wasm %s, markers %v", s.Level("wasm"), markers(t, state))
	}
}
