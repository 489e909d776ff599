package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
)

func TestViewGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, tc := range []struct {
			name string
			keys []string
		}{
			{"crashes", nil},
			{"crashes-frames", []string{"enter", "down"}},
			{"crashes-inline", []string{"down", "enter"}},
			{"crashes-source", []string{"enter", "down", "enter"}},
			{"timeline", []string{"2"}},
			{"timeline-expanded", []string{"2", "down", "down", "down", "enter"}},
			{"crash-to-callback", []string{"down", "t"}},
			{"logs", []string{"3"}},
			{"metrics", []string{"4"}},
			{"replay", []string{"5"}},
			{"help", []string{"?"}},
		} {
			name := fmt.Sprintf("%s-%dx%d", tc.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				m, _ := newTestModel(t, size[0], size[1], scenario())
				press(t, m, tc.keys...)
				golden(t, name, screen(m))
			})
		}
	}
}

// TestAssemblyScriptGolden: an AssemblyScript crash (V8 frames recorded in
// fixtures/assemblyscript/v8-crashes.txt), resolved through the source map,
// its source shown from the map's embedded sourcesContent.
func TestAssemblyScriptGolden(t *testing.T) {
	fx, _ := fixtures.Get("as")
	mod, err := fx.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := symbolize.Open(mod, symbolize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := NewMemSource(Info{Kind: KindFile, Name: "envoy.log", Module: "plugin.wasm"}, r)
	src.Push(
		tracer.Event{Kind: tracer.KindPluginLog, Level: "critical", Line: 1, Plugin: "as-filter", Message: "crashing on purpose (x-crash: panic) at: assembly/index.ts(57:30)"},
		tracer.Event{Kind: tracer.KindCrash, Level: "error", Line: 2, Callback: "proxy_on_request_headers", Runtime: "v8",
			Message: "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
			Frames: []tracer.Frame{
				{Index: 0, Offset: "0x5a7d", Function: "assembly/index/Crasher#panic"},
				{Index: 1, Offset: "0x5b4e", Function: "assembly/index/Crasher#strike"},
				{Index: 2, Offset: "0x5be5", Function: "assembly/index/Crasher#descend"},
				{Index: 3, Offset: "0x5c02", Function: "assembly/index/Crasher#trigger"},
				{Index: 4, Offset: "0x6e4f", Function: "assembly/index/Filter#onRequestHeaders"},
			}})
	src.End()
	m := New(src, Options{Files: &SourceFiles{Module: mod, Embedded: r}})
	drive(t, m, m.Init())
	send(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	scr := screen(m)
	if !strings.Contains(scr, "assembly/index.ts:57 · source map") || !strings.Contains(scr, "throw new Error") {
		t.Errorf("the source map's embedded source is not shown:\n%s", scr)
	}
	golden(t, "crashes-assemblyscript-100x30", scr)
}

// TestReplayViewsGolden: the Replay and Metrics views over a replay source
// (the fake one of model_test.go), after stepping to the trap.
func TestReplayViewsGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		src := newFakeReplay()
		m := New(src, Options{View: "replay"})
		drive(t, m, m.Init())
		send(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		press(t, m, "s", "s")
		waitFor(t, m, "two callbacks", func() bool { return m.replay.state.Ran == 2 })
		golden(t, fmt.Sprintf("replay-stepped-%dx%d", size[0], size[1]), screen(m))
		press(t, m, "c")
		waitFor(t, m, "the trap", func() bool { return len(m.st.crashes) == 1 && m.replay.state.Trapped })
		golden(t, fmt.Sprintf("replay-trapped-%dx%d", size[0], size[1]), screen(m))
		press(t, m, "4")
		golden(t, fmt.Sprintf("replay-metrics-%dx%d", size[0], size[1]), screen(m))
	}
}
