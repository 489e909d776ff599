package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/wasmdbg/wasmdbg/tracer"
)

func TestViewSwitching(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, scenario())
	tests := []struct {
		key  string
		want viewID
	}{
		{"tab", viewTimeline},
		{"tab", viewLogs},
		{"tab", viewMetrics},
		{"tab", viewReplay},
		{"tab", viewCrashes},
		{"shift+tab", viewReplay},
		{"3", viewLogs},
		{"1", viewCrashes},
	}
	for _, tt := range tests {
		press(t, m, tt.key)
		if m.view != tt.want {
			t.Fatalf("after %q: view %s, want %s", tt.key, viewNames[m.view], viewNames[tt.want])
		}
	}
}

func TestCrashesNavigation(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, scenario())
	if got := len(m.st.crashes); got != 2 {
		t.Fatalf("%d crashes, want 2", got)
	}
	steps := []struct {
		key         string
		focus, list int
		frame       string // name of the selected frame, "" to skip
	}{
		// The list previews the first frame whose source is readable:
		// panic() in plugin.cc, not libc's abort.
		{"", 0, 0, "plugin::crash::panic(proxy::View)"},
		{"enter", 1, 0, "plugin::crash::panic(proxy::View)"},
		{"down", 1, 0, "plugin::crash::strike(plugin::crash::Mode)"},
		{"enter", 2, 0, "plugin::crash::strike(plugin::crash::Mode)"},
		{"esc", 1, 0, ""},
		{"esc", 0, 0, ""},
		{"down", 0, 1, "plugin::crash::checkedAt(int const*, unsigned int, unsigned int)"},
		{"down", 0, 1, ""}, // stays on the last crash
		{"up", 0, 0, ""},
	}
	for _, s := range steps {
		if s.key != "" {
			press(t, m, s.key)
		}
		if m.crashes.focus != s.focus || m.crashes.list.pos != s.list {
			t.Fatalf("after %q: focus %d crash %d, want focus %d crash %d", s.key, m.crashes.focus, m.crashes.list.pos, s.focus, s.list)
		}
		if s.frame != "" {
			f, _ := m.selectedFrame()
			if got := f.f.Name(); got != s.frame {
				t.Fatalf("after %q: frame %q, want %q", s.key, got, s.frame)
			}
		}
	}
	// In the zoomed source, the frame's line is on screen and marked.
	press(t, m, "enter", "down", "enter")
	if l := lineWith(screen(m), "▶"); !strings.Contains(l, "92 │") || !strings.Contains(l, "panic(") {
		t.Errorf("zoomed source marks %q, want line 92 of plugin.cc", l)
	}
}

func TestJumpCrashToCallbackAndBack(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, scenario())
	press(t, m, "down", "t")
	if m.view != viewTimeline {
		t.Fatalf("t from a crash: view %s, want Timeline", viewNames[m.view])
	}
	it := m.st.tl.at(m.st.tl.visible[m.timeline.cur.pos])
	if it.flags&fCrash == 0 {
		t.Fatalf("cursor on %+v, want the crash", it)
	}
	parent := m.st.tl.at(it.parent)
	if parent.flags&fTrapped == 0 || parent.flags&fExpanded == 0 {
		t.Errorf("the callback that trapped is not marked trapped and expanded: %b", parent.flags)
	}
	if got := m.st.event(parent.open).Function; got != "proxy_on_request_headers" {
		t.Errorf("trapped callback %q", got)
	}
	// Back from the trapped callback itself.
	press(t, m, "esc")
	press(t, m, "t")
	if m.view != viewCrashes || m.crashes.list.pos != 1 {
		t.Errorf("t from the callback: view %s crash %d, want Crashes crash 1", viewNames[m.view], m.crashes.list.pos)
	}
}

func TestTimelineTree(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, scenario())
	press(t, m, "2")
	tl := &m.st.tl
	top := len(tl.visible)
	if top != 9 {
		t.Fatalf("%d top-level rows, want 9", top)
	}
	press(t, m, "down", "down", "down") // proxy_on_request_headers of context 2
	press(t, m, "enter")
	if got := len(tl.visible); got != top+3 {
		t.Fatalf("expanded: %d rows, want %d", got, top+3)
	}
	press(t, m, "down", "down", "down")
	child := tl.at(tl.visible[m.timeline.cur.pos])
	if child.flags&fBad == 0 {
		t.Errorf("the NotFound host call is not marked bad")
	}
	if l := lineWith(screen(m), "! env."); !strings.Contains(l, "env.proxy_get_header_map_value(map_type=") || !strings.Contains(l, "→ NotFound") {
		t.Errorf("bad host call row %q", l)
	}
	press(t, m, "esc") // a child: to its parent
	if m.timeline.cur.pos != 3 {
		t.Errorf("esc on a child: cursor %d, want the parent at 3", m.timeline.cur.pos)
	}
	press(t, m, "esc") // the parent: collapse
	if got := len(tl.visible); got != top {
		t.Errorf("collapsed: %d rows, want %d", got, top)
	}
	press(t, m, "enter", "down", "down", "enter") // nothing to expand under a leaf
	press(t, m, "c")
	if got := len(tl.visible); got != top || m.timeline.cur.pos != 3 {
		t.Errorf("collapse all: %d rows cursor %d, want %d rows cursor 3", got, m.timeline.cur.pos, top)
	}
}

func TestSearch(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		query  string
		next   []string
		view   viewID
		status string
		check  func(*Model) string
	}{
		{
			name: "timeline reveals a host call inside a collapsed callback", keys: []string{"2"}, query: `"x-deny"`,
			view: viewTimeline, status: `/"x-deny": match 1 of 1`,
			check: func(m *Model) string {
				return m.st.decoded(m.st.at(m.st.tl.at(m.st.tl.visible[m.timeline.cur.pos]).open))
			},
		},
		{
			name: "smart case: capitals match exactly", keys: []string{"2"}, query: "X-DENY",
			view: viewTimeline, status: "/X-DENY: no match",
		},
		{
			name: "n moves on and wraps", keys: []string{"2"}, query: `key="x-crash"`, next: []string{"n", "n", "n"},
			view: viewTimeline, status: `/key="x-crash": match 1 of 3`,
		},
		{
			name: "N moves back and wraps", keys: []string{"2"}, query: `key="x-crash"`, next: []string{"N"},
			view: viewTimeline, status: `/key="x-crash": match 3 of 3`,
		},
		{
			name: "logs", keys: []string{"3"}, query: "PANICKED",
			view: viewLogs, status: "/PANICKED: no match",
		},
		{
			name: "logs ignore case", keys: []string{"3"}, query: "panicked",
			view: viewLogs, status: "/panicked: match 1 of 2",
			check: func(m *Model) string { return m.st.event(m.logs.rows[m.logs.cur.pos]).Message },
		},
		{
			name: "crashes search frames", query: "viainline",
			view: viewCrashes, status: "/viainline: match 1 of 1",
			check: func(m *Model) string { return m.st.crashes[m.crashes.list.pos].ev.Frames[0].Function },
		},
	}
	want := map[string]string{
		"timeline reveals a host call inside a collapsed callback": `map_type=HttpRequestHeaders, key="x-deny"`,
		"logs ignore case":      "cpp plugin panicked: crashing on purpose (x-crash: panic)",
		"crashes search frames": "plugin::crash::viaInline(unsigned int)",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTestModel(t, 80, 24, scenario())
			press(t, m, tt.keys...)
			press(t, m, "/")
			if !m.searching {
				t.Fatal("/ does not open the search line")
			}
			typeText(t, m, tt.query)
			press(t, m, "enter")
			press(t, m, tt.next...)
			if m.view != tt.view {
				t.Fatalf("view %s", viewNames[m.view])
			}
			if got := m.search[m.view].status(); got != tt.status {
				t.Errorf("status %q, want %q", got, tt.status)
			}
			if !strings.Contains(screen(m), tt.status) {
				t.Errorf("the status bar does not say %q:\n%s", tt.status, screen(m))
			}
			if tt.check != nil {
				if got := tt.check(m); got != want[tt.name] {
					t.Errorf("cursor on %q, want %q", got, want[tt.name])
				}
			}
		})
	}
}

func TestSearchEscKeepsState(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, scenario())
	press(t, m, "2", "/")
	typeText(t, m, "nothing")
	press(t, m, "esc")
	if m.searching || m.search[viewTimeline].query != "" {
		t.Errorf("esc: searching %v query %q", m.searching, m.search[viewTimeline].query)
	}
	press(t, m, "n")
	if !strings.Contains(screen(m), "no search yet: press /") {
		t.Errorf("n without a search:\n%s", screen(m))
	}
	press(t, m, "4", "/")
	if m.searching || !strings.Contains(screen(m), "nothing to search in Metrics") {
		t.Errorf("/ in Metrics:\n%s", screen(m))
	}
}

func TestLogsFilter(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, scenario())
	press(t, m, "3")
	steps := []struct {
		key   string
		rows  int
		title string
	}{
		{"", 9, "9 of 9 lines · all levels (l) · every plugin (p)"},
		{"l", 9, "9 of 9 lines · ≥ debug"},
		{"l", 9, "9 of 9 lines · ≥ info"},
		{"l", 5, "5 of 9 lines · ≥ warning"},
		{"l", 3, "3 of 9 lines · ≥ error"},
		{"l", 2, "2 of 9 lines · ≥ critical"},
		{"l", 9, "9 of 9 lines · all levels"},
		{"p", 3, "3 of 9 lines · all levels (l) · plugin my_plugin (p)"},
		{"p", 1, "1 of 9 lines · all levels (l) · plugin other_plugin (p)"},
		{"p", 9, "every plugin"},
	}
	for _, s := range steps {
		if s.key != "" {
			press(t, m, s.key)
		}
		if got := len(m.logs.rows); got != s.rows {
			t.Errorf("after %q: %d rows, want %d", s.key, got, s.rows)
		}
		if scr := screen(m); !strings.Contains(scr, s.title) {
			t.Errorf("after %q: title is not %q:\n%s", s.key, s.title, strings.SplitN(scr, "\n", 3)[1])
		}
	}
	press(t, m, "g", "down", "enter")
	scr := screen(m)
	if !strings.Contains(scr, "line 5 · thread 12 · my_plugin my_root_id") || !strings.Contains(scr, "esc: back") || !strings.Contains(scr, "cpp plugin vm started") {
		t.Errorf("enter on a log line does not show it in full:\n%s", scr)
	}
	press(t, m, "esc")
	if m.logs.open {
		t.Error("esc does not close the full line")
	}
}

func TestHelpAndQuit(t *testing.T) {
	m, src := newTestModel(t, 80, 24, scenario())
	press(t, m, "?")
	scr := screen(m)
	for _, want := range []string{"Keys (esc or ? to close)", "/ search", "n next match", "N previous match", "t jump crash↔callback", "q quit"} {
		if !strings.Contains(scr, want) {
			t.Errorf("help does not show %q:\n%s", want, scr)
		}
	}
	press(t, m, "esc")
	if m.showHelp {
		t.Error("esc does not close the help")
	}
	_, cmd := m.Update(keyMsg("q"))
	if !m.quitting || cmd == nil {
		t.Fatal("q does not quit")
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok { // quit is batched with sync's nil
		for _, c := range b {
			if c != nil {
				msg = c()
			}
		}
	}
	if _, ok := msg.(closedMsg); !ok {
		t.Fatalf("q ran %T, want the source's Close", msg)
	}
	if src.Closed() != 1 {
		t.Errorf("Close called %d times", src.Closed())
	}
	_, cmd = m.Update(msg)
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("the program does not quit after Close")
	}
}

// attachLike is a live source whose Close fails, as an attach session's
// level restore can.
type attachLike struct{ *MemSource }

func (attachLike) Close() error { return errors.New("restore wasm level: connection refused") }

func TestQuitReportsCloseError(t *testing.T) {
	src := attachLike{NewMemSource(Info{Kind: KindAttach, Name: "pod/x", Live: true, Notice: "q restores wasm:warning"}, nil)}
	m := New(src, Options{})
	send(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if !strings.Contains(screen(m), "q restores wasm:warning") {
		t.Errorf("the status bar misses the restore reminder:\n%s", screen(m))
	}
	_, cmd := m.Update(keyMsg("ctrl+c"))
	if !strings.Contains(screen(m), "restoring logger levels…") {
		t.Errorf("quitting an attach session does not say it restores levels:\n%s", screen(m))
	}
	drive(t, m, cmd)
	if err := m.CloseErr(); err == nil || err.Error() != "restore wasm level: connection refused" {
		t.Errorf("CloseErr %v", err)
	}
}

func TestFollowLiveSource(t *testing.T) {
	src := NewMemSource(Info{Kind: KindAttach, Name: "pod/x", Live: true}, nil)
	m := New(src, Options{})
	drive(t, m, m.Init())
	send(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if m.view != viewLogs || !m.follow {
		t.Fatalf("a live source opens on %s, follow %v; want Logs, following", viewNames[m.view], m.follow)
	}
	evs := scenario()
	for i := 0; i < 30; i += 10 {
		src.Push(evs[i : i+10]...)
		waitFor(t, m, "a batch", func() bool { return m.st.rows.len() == i+10 })
		if m.logs.cur.pos != len(m.logs.rows)-1 {
			t.Fatalf("following: cursor %d of %d logs", m.logs.cur.pos, len(m.logs.rows))
		}
	}
	press(t, m, "up")
	if m.follow {
		t.Fatal("moving up does not stop following")
	}
	pos := m.logs.cur.pos
	src.Push(evs[30:]...)
	waitFor(t, m, "the last batch", func() bool { return m.st.rows.len() == len(evs) })
	if m.logs.cur.pos != pos {
		t.Errorf("paused, the cursor moved from %d to %d", pos, m.logs.cur.pos)
	}
	if !strings.Contains(screen(m), "paused (f: follow)") {
		t.Errorf("status bar does not say paused:\n%s", screen(m))
	}
	press(t, m, "f")
	if !m.follow || m.logs.cur.pos != len(m.logs.rows)-1 {
		t.Errorf("f: follow %v cursor %d of %d", m.follow, m.logs.cur.pos, len(m.logs.rows))
	}
}

// fakeReplay is a replay source: each Step runs one callback of a script
// and pushes its events; Continue runs to the trap; Restart starts over.
type fakeReplay struct {
	*MemSource
	mu    sync.Mutex
	steps [][]tracer.Event
	at    int
}

func newFakeReplay() *fakeReplay {
	evs := scenario()
	var steps [][]tracer.Event
	start := 0
	for i, e := range evs {
		if (e.Kind == tracer.KindCall && e.Direction == tracer.HostFromVM) || e.Kind == tracer.KindCrash {
			steps = append(steps, evs[start:i+1])
			start = i + 1
		}
	}
	return &fakeReplay{MemSource: NewMemSource(Info{Kind: KindReplay, Name: "capture.json"}, nil), steps: steps}
}

func (f *fakeReplay) state() ReplayState {
	s := ReplayState{Stream: 1, Streams: 3, Ran: f.at,
		RequestHeaders: []Header{{":method", "GET"}, {":path", "/"}, {"x-crash", "panic"}, {"x-bin", "a\x00b"}},
		RequestBody:    []byte("hello")}
	if f.at < len(f.steps) {
		s.Next = firstCall(f.steps[f.at])
	} else {
		s.Done = true
	}
	if f.at > 0 {
		last := f.steps[f.at-1]
		if e := last[len(last)-1]; e.Kind == tracer.KindCrash {
			s.Trapped, s.Trap = true, "unreachable"
		}
		s.Last = firstCall(last)
	}
	return s
}

func firstCall(evs []tracer.Event) string {
	for _, e := range evs {
		if e.Kind == tracer.KindCall {
			return e.Function
		}
	}
	return ""
}

func (f *fakeReplay) State(context.Context) (ReplayState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state(), nil
}

func (f *fakeReplay) Step(context.Context) (ReplayState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at < len(f.steps) {
		f.Push(f.steps[f.at]...)
		f.at++
	}
	return f.state(), nil
}

func (f *fakeReplay) Continue(ctx context.Context) (ReplayState, error) {
	for {
		s, _ := f.Step(ctx)
		if s.Trapped || s.Done {
			return s, nil
		}
	}
}

func (f *fakeReplay) Restart(context.Context) (ReplayState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = 0
	f.MemSource.Reset()
	return f.state(), nil
}

func (f *fakeReplay) Metrics(context.Context) ([]Metric, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []Metric{{Name: "wasmcustom.cpp_requests_total", Kind: "counter", Value: float64(f.at), Custom: true}}, nil
}

func TestReplayControl(t *testing.T) {
	src := newFakeReplay()
	m := New(src, Options{View: "replay"})
	drive(t, m, m.Init())
	send(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if !m.replay.have || m.replay.state.Next != "proxy_on_vm_start" {
		t.Fatalf("initial state %+v", m.replay.state)
	}
	press(t, m, "s")
	waitFor(t, m, "the first callback's events", func() bool { return m.st.rows.len() == 6 })
	if m.replay.state.Ran != 1 || m.replay.state.Next != "proxy_on_configure" || m.st.rows.len() != 6 {
		t.Fatalf("after a step: %+v, %d events", m.replay.state, m.st.rows.len())
	}
	scr := screen(m)
	for _, want := range []string{"next: proxy_on_configure", "last: proxy_on_vm_start", "x-crash: panic", `x-bin: a\x00b`, "Request body (5 bytes)", "hello"} {
		if !strings.Contains(scr, want) {
			t.Errorf("replay view misses %q:\n%s", want, scr)
		}
	}
	press(t, m, "c")
	waitFor(t, m, "the crash", func() bool { return len(m.st.crashes) == 1 })
	if !m.replay.state.Trapped || !strings.Contains(screen(m), "✗ trapped: unreachable") {
		t.Errorf("continue: %+v\n%s", m.replay.state, screen(m))
	}
	if got := m.metrics.hist["wasmcustom.cpp_requests_total"]; got == nil || len(got.vals) != 3 {
		t.Errorf("metrics after each replay step: %+v", got)
	}
	press(t, m, "r")
	waitFor(t, m, "the reset", func() bool { return m.st.rows.len() == 0 })
	if m.st.rows.len() != 0 || len(m.st.crashes) != 0 || m.replay.state.Ran != 0 {
		t.Errorf("restart: %d events, %d crashes, state %+v", m.st.rows.len(), len(m.st.crashes), m.replay.state)
	}
}

func TestReplayKeysOnOtherSources(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, scenario())
	press(t, m, "5", "s")
	if !strings.Contains(screen(m), "not a replay: open a capture") {
		t.Errorf("s on a file source:\n%s", screen(m))
	}
}

func TestTinyTerminals(t *testing.T) {
	for _, size := range [][2]int{{0, 0}, {1, 1}, {10, 3}, {40, 8}} {
		m, _ := newTestModel(t, size[0], size[1], scenario())
		for _, k := range []string{"enter", "enter", "2", "enter", "3", "enter", "4", "5", "?"} {
			press(t, m, k)
			_ = screen(m)
		}
	}
}

// TestSearchInSteps: a scan longer than a step continues between frames,
// says so, and moves when it is done.
func TestSearchInSteps(t *testing.T) {
	defer func(n int) { searchStep = n }(searchStep)
	searchStep = 4
	m, _ := newTestModel(t, 80, 24, scenario())
	press(t, m, "2", "/")
	typeText(t, m, `key="x-crash"`)
	_, cmd := m.Update(keyMsg("enter"))
	if !strings.Contains(screen(m), `/key="x-crash": searching…`) {
		t.Errorf("no progress shown:\n%s", screen(m))
	}
	drive(t, m, cmd)
	if got := m.search[viewTimeline].status(); got != `/key="x-crash": match 1 of 3` {
		t.Errorf("after the scan: %q", got)
	}
	press(t, m, "N", "N")
	if got := m.search[viewTimeline].status(); got != `/key="x-crash": match 2 of 3` {
		t.Errorf("N twice: %q", got)
	}
}
