package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/tui"
)

func tuiGolden(t *testing.T, name, got string) {
	t.Helper()
	tuiGoldenFile(t, filepath.Join("testdata", "tui", name), got)
}

func tuiGoldenFile(t *testing.T, p, got string) {
	t.Helper()
	name := filepath.Base(p)
	if os.Getenv("UPDATE_GOLDEN") != "" || hasUpdateFlag() {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run UPDATE_GOLDEN=1 go test ./cmd/wasmdbg -run TestTUI)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestTUISnapshot(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
		input  string
	}{
		{"crashes-80x24.txt", []string{"--size", "80x24"}, ""},
		{"frames-100x30.txt", []string{"--size", "100x30", "--keys", "enter", "--keys", "down"}, ""},
		{"timeline-100x30.txt", []string{"--size", "100x30", "--view", "timeline", "--keys", "end", "--keys", "up", "--keys", "enter"}, ""},
		{"logs-100x30.txt", []string{"--size", "100x30", "--view", "logs"}, ""},
		// A capture: replayed to its end through the C++ fixture.
		{"replay-crashes-100x30.txt", []string{"--size", "100x30"}, "../../replay/demo_capture.json"},
		{"replay-100x30.txt", []string{"--size", "100x30", "--view", "replay"}, "../../replay/demo_capture.json"},
		{"replay-metrics-100x30.txt", []string{"--size", "100x30", "--view", "metrics"}, "../../replay/demo_capture.json"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			args := append([]string{"tui", "--snapshot", "--module", "../../fixtures/cpp/plugin.wasm"}, tt.args...)
			if tt.input == "" {
				tt.input = "testdata/tui/cpp-panic.log"
			}
			args = append(args, tt.input)
			code, out, errOut := run(t, "wasmdbg", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			tuiGolden(t, tt.golden, out)
		})
	}
}

// TestDemoTUISourceOutsideCheckout: the demo's UI shows the C++ plugin's
// source around a selected frame from a directory with no wasmdbg checkout
// (an installed binary run anywhere): the sources are built in.
func TestDemoTUISourceOutsideCheckout(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "tui", "demo-source-100x30.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := fixtures.Get("cpp")
	if !ok {
		t.Fatal("no cpp fixture")
	}
	wasm, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	var out, errb bytes.Buffer
	so := tui.SnapshotOptions{Width: 100, Height: 30, Keys: []string{"enter", "down"}}
	if err := demoTUI(context.Background(), stdio{in: strings.NewReader(""), out: &out, err: &errb}, f, wasm, true, true, so); err != nil {
		t.Fatalf("demo: %v (stderr %s)", err, errb.String())
	}
	screen := out.String()
	for _, want := range []string{"plugin.cc:92 · built into wasmdbg", `▶ 92 │       panic("crashing on purpose (x-crash: panic)");`} {
		if !strings.Contains(screen, want) {
			t.Errorf("demo source pane lacks %q:\n%s", want, screen)
		}
	}
	tuiGoldenFile(t, golden, screen)
}

// TestTUISourceMapContent: tui --module of an AssemblyScript plugin shows
// a frame's source from the sources its source map embeds, as the
// symbolizer read them; no source tree on disk.
func TestTUISourceMapContent(t *testing.T) {
	fx, ok := fixtures.Get("as")
	if !ok {
		t.Fatal("no as fixture")
	}
	dir := t.TempDir()
	mod, err := fx.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "envoy.log")
	if err := os.WriteFile(log, []byte("[2024-05-02 10:00:01.105][23][error][wasm] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\n"+
		"Proxy-Wasm plugin in-VM backtrace:\n"+
		"  0:  0x5a7d - assembly/index/Crasher#panic\n"+
		"  1:  0x5b4e - assembly/index/Crasher#strike\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "wasmdbg", "tui", "--snapshot", "--size", "100x30", "--module", mod, log)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"assembly/index.ts:57 · source map", "throw new Error"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q:\n%s", want, out)
		}
	}
}

func TestTUIErrors(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"tui", "testdata/tui/cpp-panic.log"}, exitUsage,
			"wasmdbg: the UI needs a terminal; use --snapshot to print a screen, or wasmdbg trace for text\nRun 'wasmdbg tui --help' for usage.\n"},
		{[]string{"tui", "--keys", "enter", "testdata/tui/cpp-panic.log"}, exitUsage,
			"wasmdbg: --keys goes with --snapshot\nRun 'wasmdbg tui --help' for usage.\n"},
		{[]string{"tui", "--snapshot", "--size", "80", "testdata/tui/cpp-panic.log"}, exitUsage,
			"wasmdbg: --size: \"80\" is not WIDTHxHEIGHT between 20x5 and 1000x1000\nRun 'wasmdbg tui --help' for usage.\n"},
		{[]string{"tui", "--snapshot", "--view", "stack", "testdata/tui/cpp-panic.log"}, exitUsage,
			"wasmdbg: --view \"stack\": want one of crashes, timeline, logs, metrics, replay\nRun 'wasmdbg tui --help' for usage.\n"},
		{[]string{"tui", "--snapshot", "--follow", "testdata/tui/cpp-panic.log"}, exitUsage,
			"wasmdbg: --snapshot reads the whole input; it cannot --follow\nRun 'wasmdbg tui --help' for usage.\n"},
		{[]string{"tui", "--snapshot", "--keys", "F13", "testdata/tui/cpp-panic.log"}, exitUsage,
			"wasmdbg: --keys: unknown key \"F13\" (a character, or one of enter, esc, tab, shift+tab, up, down, left, right, pgup, pgdown, home, end, space)\nRun 'wasmdbg tui --help' for usage.\n"},
		{[]string{"tui", "--snapshot", "testdata/tui/no-such.log"}, exitError,
			"wasmdbg: open testdata/tui/no-such.log: no such file or directory\n"},
		{[]string{"tui", "--snapshot", "--module", "testdata/tui/cpp-panic.log", "testdata/tui/cpp-panic.log"}, exitError, ""},
		{[]string{"replay", "--tui", "--module", "../../fixtures/cpp/plugin.wasm", "../../replay/demo_capture.json"}, exitUsage,
			"wasmdbg: --tui needs a terminal; without it replay prints the trace as text\nRun 'wasmdbg replay --help' for usage.\n"},
		{[]string{"tui", "a", "b"}, exitUsage,
			"wasmdbg: wasmdbg tui takes 0 to 1 arguments, got \"a\" \"b\" (usage: wasmdbg tui [FILE|CAPTURE|-] [flags])\nRun 'wasmdbg tui --help' for usage.\n"},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, "wasmdbg", tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tt.args, code, tt.code, errOut)
		}
		if tt.wantErr != "" && errOut != tt.wantErr {
			t.Errorf("%v: stderr\n%q\nwant\n%q", tt.args, errOut, tt.wantErr)
		}
	}
}

// TestLimitMemoryFor: a large regular file sets the soft memory limit at
// 0.65 of its size while it loads and puts the previous one back; a small
// file, or GOMEMLIMIT set by the user, leaves it alone.
func TestLimitMemoryFor(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.log")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(100 << 20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	before := debug.SetMemoryLimit(-1)
	restore := limitMemoryFor(f)
	if got, want := debug.SetMemoryLimit(-1), int64(100<<20)*65/100; got != want {
		t.Errorf("limit while loading %d; want %d", got, want)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after %d; want %d back", got, before)
	}
	if err := f.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	limitMemoryFor(f)()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("a 1 MiB file changed the limit to %d", got)
	}
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	restore = limitMemoryFor(f)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("GOMEMLIMIT set, yet the limit is %d", got)
	}
	restore()
}
