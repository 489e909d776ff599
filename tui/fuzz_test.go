package tui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/wasmdbg/wasmdbg/tracer"
)

// seedLogs are the logs under testdata of tracer and of the tui command.
func seedLogs(f *testing.F) {
	for _, pat := range []string{"../tracer/testdata/logs/*", "../cmd/wasmdbg/testdata/tui/*.log"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err == nil {
				f.Add(b, "2dttenc")
			}
		}
	}
}

// FuzzUI reads any input as a log (or NDJSON events), loads it into the
// UI, presses the keys the second argument names (one byte each, from a
// small alphabet of the UI's keys) and renders at two sizes: nothing may
// panic, and every line of the screen must fit its width.
func FuzzUI(f *testing.F) {
	seedLogs(f)
	f.Add([]byte(`{"kind":"crash","callback":"proxy_on_log","frames":[{"index":0,"offset":"0x10","function":"\u001b[2J"}]}`+"\n"), "1e/x\nnN")
	f.Fuzz(func(t *testing.T, data []byte, keys string) {
		if len(data) > 4<<10 || len(keys) > 32 {
			return
		}
		src := NewFileSource("fuzz.log", bytes.NewReader(data), FileOptions{})
		m := New(src, Options{})
		m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
		for {
			b, err := src.Next(context.Background())
			if err != nil {
				break
			}
			m.Update(batchMsg{b: b})
		}
		m.Update(batchMsg{err: context.Canceled})
		alphabet := []string{"tab", "shift+tab", "enter", "esc", "up", "down", "pgdown", "end", "home", "/", "n", "N", "t", "c", "l", "p", "f", "?", "1", "2", "3", "4", "5", "x"}
		for i := 0; i < len(keys); i++ {
			k := alphabet[int(keys[i])%len(alphabet)]
			if m.searching && k == "x" {
				k = "enter"
			}
			_, _ = m.Update(keyMsg(k))
		}
		// Rendering is the slow part under the fuzzer's instrumentation:
		// once per size, after the keys.
		for _, size := range [][2]int{{80, 24}, {33, 9}} {
			m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			out := m.View().Content
			for _, line := range bytes.Split([]byte(out), []byte("\n")) {
				if w := ansi.StringWidth(string(line)); w > size[0] {
					t.Fatalf("a %d-column screen has a line of %d columns: %q", size[0], w, line)
				}
			}
		}
	})
}

// FuzzNDJSON reads any bytes as `wasmdbg trace --json` output: an error
// names the line, and never a panic.
func FuzzNDJSON(f *testing.F) {
	f.Add([]byte(`{"kind":"call","direction":"host->vm","function":"proxy_on_log","args":[2]}` + "\n" + `{"kind":"other","message":"x"}`))
	f.Add([]byte("{\"kind\":\"crash\"}\n{bad\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newStore()
		err := readNDJSON(bytes.NewReader(b), "in.ndjson", func(e *tracer.Event) error { s.add(e); return nil })
		if err != nil && !bytes.HasPrefix([]byte(err.Error()), []byte("in.ndjson:")) {
			t.Fatalf("error without a position: %v", err)
		}
	})
}
