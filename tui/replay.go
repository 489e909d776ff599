package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// replayView is the state of the Replay view.
type replayView struct {
	state ReplayState
	have  bool // state holds an answer from the source
	busy  bool // a step, continue or restart is running
	err   string
	cur   cursor // scroll of the headers and bodies
}

func (m *Model) replayKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	v := &m.replay
	if v.cur.key(msg, k, len(m.replayLines(m.width)), m.contentHeight()-4) {
		return nil
	}
	if m.rep == nil {
		if key.Matches(msg, k.Step, k.Continue, k.Restart) {
			m.flash = "not a replay: open a capture (wasmdbg replay --tui capture.json)"
		}
		return nil
	}
	var op func(context.Context) (ReplayState, error)
	switch {
	case key.Matches(msg, k.Step):
		op = m.rep.Step
	case key.Matches(msg, k.Continue):
		op = m.rep.Continue
	case key.Matches(msg, k.Restart):
		op = m.rep.Restart
	default:
		return nil
	}
	if v.busy {
		m.flash = "the replay is still running"
		return nil
	}
	v.busy = true
	ctx := m.ctx
	return func() tea.Msg {
		s, err := op(ctx)
		return replayMsg{s, err, true}
	}
}

func (m *Model) renderReplay(w, h int) string {
	v := &m.replay
	var b strings.Builder
	if m.rep == nil {
		b.WriteString(rule("Replay", w) + "\n\n")
		for _, l := range wrap("This source is not a replay. Open a capture to step through it callback by callback: wasmdbg replay --tui capture.json --module plugin.wasm, or wasmdbg tui capture.json --module plugin.wasm.", w-4) {
			b.WriteString("  " + l + "\n")
		}
		return b.String()
	}
	s := v.state
	title := "Replay"
	if v.have {
		title += fmt.Sprintf(" · stream %d of %d · %d callbacks run", s.Stream, s.Streams, s.Ran)
	}
	b.WriteString(rule(title, w) + "\n")
	var status string
	switch {
	case v.busy:
		status = "running…"
	case v.err != "":
		status = stBad.Render("error: " + v.err)
	case !v.have:
		status = "reading the replay's state…"
	case s.Trapped:
		status = stBad.Render("✗ trapped: "+s.Trap) + stDim.Render(" (Crashes: 1) · r restarts")
	case s.Done:
		status = stGood.Render("done") + ": every stream ran · r restarts"
	default:
		status = "next: " + stTitle.Render(orDash(s.Next)) + " · s step · c continue to the trap · r restart"
	}
	b.WriteString(fit(" "+status, w) + "\n")
	last := ""
	if s.Last != "" {
		last = "last: " + s.Last
		if s.LastResult != "" {
			last += " → " + s.LastResult
		}
	}
	if s.LocalReply != "" {
		last += " · local reply " + s.LocalReply
	}
	b.WriteString(fit(" "+stDim.Render(last), w) + "\n")
	lines := m.replayLines(w)
	rows := h - 3
	v.cur.fix(len(lines), rows)
	for i := v.cur.top; i < v.cur.top+rows && i < len(lines); i++ {
		b.WriteString(fit(lines[i], w) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// replayLines are the current stream's headers, bodies and trailers.
func (m *Model) replayLines(w int) []string {
	s := m.replay.state
	var out []string
	headers := func(title string, hs []Header) {
		out = append(out, rule(fmt.Sprintf("%s (%d)", title, len(hs)), w))
		if len(hs) == 0 {
			out = append(out, stDim.Render("  none yet"))
		}
		for _, h := range hs {
			out = append(out, "  "+stFunc.Render(printable(h.Name))+": "+printable(h.Value))
		}
	}
	body := func(title string, b []byte) {
		out = append(out, rule(fmt.Sprintf("%s (%d bytes)", title, len(b)), w))
		if len(b) == 0 {
			return
		}
		text := printable(string(b[:min(len(b), 4096)]))
		if len(b) > 4096 {
			text += " …"
		}
		for _, l := range wrap(text, w-2) {
			out = append(out, "  "+l)
		}
	}
	headers("Request headers as the plugin sees them", s.RequestHeaders)
	body("Request body", s.RequestBody)
	if len(s.RequestTrailers) > 0 {
		headers("Request trailers", s.RequestTrailers)
	}
	headers("Response headers", s.ResponseHeaders)
	body("Response body", s.ResponseBody)
	if len(s.ResponseTrailers) > 0 {
		headers("Response trailers", s.ResponseTrailers)
	}
	return out
}

// printable shows bytes that are not printable UTF-8 as escapes, so a
// binary header value cannot upset the terminal.
func printable(s string) string {
	ok := true
	for _, r := range s {
		if r == utf8.RuneError || r < ' ' && r != '\n' || r == 0x7f {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
