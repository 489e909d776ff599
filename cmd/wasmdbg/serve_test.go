package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/serve"
	"github.com/wasmdbg/wasmdbg/tracer"
)

func TestServeUsage(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no module", []string{"serve", "--upstream", "http://127.0.0.1:1"}, "wasmdbg: --module is required: the plugin to serve\n"},
		{"no upstream", []string{"serve", "-m", "x.wasm"}, "wasmdbg: --upstream is required: where requests go, like http://127.0.0.1:8080\n"},
		{"bad upstream", []string{"serve", "-m", "x.wasm", "--upstream", "127.0.0.1:8080"},
			"wasmdbg: --upstream \"127.0.0.1:8080\": give an http:// URL with a host, like http://127.0.0.1:8080\n"},
		{"bad cluster", []string{"serve", "-m", "x.wasm", "--upstream", "http://h", "--cluster", "auth"},
			"wasmdbg: --cluster \"auth\": write it as name=URL, like auth=http://127.0.0.1:9000\n"},
		{"bad cluster url", []string{"serve", "-m", "x.wasm", "--upstream", "http://h", "--cluster", "auth=ftp://x"},
			"wasmdbg: --cluster auth \"ftp://x\": give an http:// URL with a host, like http://127.0.0.1:8080\n"},
		{"bad workers", []string{"serve", "-m", "x.wasm", "--upstream", "http://h", "--workers", "0"}, "wasmdbg: --workers 0: give 1 or more\n"},
		{"bad policy", []string{"serve", "-m", "x.wasm", "--upstream", "http://h", "--failure-policy", "maybe"},
			"wasmdbg: --failure-policy: unknown failure policy \"maybe\" (want fail-closed, fail-open or fail-reload)\n"},
		{"trace and quiet", []string{"serve", "-m", "x.wasm", "--upstream", "http://h", "--trace", "-q"}, "wasmdbg: --trace and --quiet contradict each other\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runIn(t, "", tt.args...)
			if code != exitUsage || stderr != tt.stderr+"Run 'wasmdbg serve --help' for usage.\n" {
				t.Errorf("exit %d, stderr %q; want 2, %q", code, stderr, tt.stderr)
			}
		})
	}
	code, _, stderr := runIn(t, "", "serve", "-m", filepath.Join(t.TempDir(), "none.wasm"), "--upstream", "http://h")
	if code != exitError || !strings.HasPrefix(stderr, "wasmdbg: open ") {
		t.Errorf("missing module: exit %d, %q", code, stderr)
	}
}

// TestServeBinary runs the real binary in front of a real upstream, sends
// it requests with curl's headers, stops it with SIGTERM, and replays the
// recording: the access log of the replay is the one serve printed.
func TestServeBinary(t *testing.T) {
	bin := wasmdbgBinary(t)
	f, _ := fixtures.Get("cpp")
	dir := t.TempDir()
	module, err := f.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("set-cookie", "id=secret-cookie")
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	defer up.Close()
	record := filepath.Join(dir, "rec.json")
	p := startServe(t, bin, "serve", "-m", module, "--upstream", up.URL, "--listen", "127.0.0.1:0",
		"--config", "deny=x-deny", "--record", record, "--quiet", "--no-cache")
	addr := p.listening(t)

	get := func(path string, h ...string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	codes := []int{get("/", "authorization", "Bearer secret-token"), get("/admin", "x-deny", "1"), get("/crash", "x-crash", "oob"), get("/after")}
	if fmt.Sprint(codes) != "[200 403 503 503]" {
		t.Errorf("status codes %v", codes)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != exitTrapped {
		t.Errorf("exit %d after a trap, want 3; stderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "wasmdbg serve: recorded 4 streams to "+record+"; replay them with: wasmdbg replay "+record+"\n") {
		t.Errorf("stderr:\n%s", p.stderr)
	}
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret-token") || strings.Contains(string(data), "secret-cookie") {
		t.Errorf("credentials in the recording:\n%s", data)
	}
	served := accessLines(p.stdout.String())
	code, out, errOut := runIn(t, "", "replay", record, "--quiet", "--no-cache")
	if code != exitTrapped {
		t.Fatalf("replay exit %d; stderr %s", code, errOut)
	}
	if replayed := accessLines(out); strings.Join(replayed, "\n") != strings.Join(served, "\n") || len(served) != 4 {
		t.Errorf("replay's access log:\n%s\nserve's:\n%s", strings.Join(replayed, "\n"), strings.Join(served, "\n"))
	}
	if !strings.Contains(out, "Function: proxy_on_request_headers failed: Uncaught RuntimeError: memory access out of bounds") {
		t.Errorf("the replay does not show the trap:\n%s", out)
	}
}

var accessRe = regexp.MustCompile(`\[\d{4}-\d\d-\d\dT[^]]*Z\] "[^"]*" \d+ .*$`)

// accessLines are the access-log lines of a text output, sorted.
func accessLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if m := accessRe.FindString(strings.TrimSpace(sc.Text())); m != "" {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type serveProc struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan error
}

func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{cmd: exec.Command(bin, args...), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

var listenRe = regexp.MustCompile(`on http://(127\.0\.0\.1:\d+) -> `)

// listening waits for serve's banner and returns the address it took.
func (p *serveProc) listening(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRe.FindStringSubmatch(p.stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve ended: %v\n%s", err, p.stderr)
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve did not start:\n%s", p.stderr)
	return ""
}

func (p *serveProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not end; stderr:\n%s", p.stderr)
	}
	return -1
}

// TestServePrinterJSON: --json prints the trace events as they are, a
// stream record per request with its access-log entry, and a result per
// worker.
func TestServePrinterJSON(t *testing.T) {
	var out bytes.Buffer
	p := newServePrinter(stdio{out: &out, err: io.Discard}, true)
	p.event(serve.Event{Worker: 1, Trace: &tracer.Event{Kind: tracer.KindPluginLog, Thread: "1", Message: "hello"}})
	p.event(serve.Event{Worker: 2, Stream: &replay.Stream{Kind: "http", Method: "GET", Path: "/",
		Response: &replay.Message{Headers: []replay.Header{{Name: ":status", Value: "204"}}}}})
	p.finish([]*replay.Result{{}})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for i, want := range []string{`{"kind":"plugin_log","thread":"1","message":"hello"}`,
		`"kind":"stream","worker":2,`, `{"worker":1,"kind":"result","trapped":false,`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s\nwant %s", i+1, lines[i], want)
		}
	}
	if !strings.Contains(lines[1], `"access_log":{"start_time":"","method":"GET","path":"/","protocol":"-","response_code":204,"response_flags":"-","response_code_details":"via_upstream"`) {
		t.Errorf("stream record: %s", lines[1])
	}
}
