package tui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// crashesView is the state of the Crashes view: the crash list, the
// frames of the selected crash, and the source code of the selected frame.
type crashesView struct {
	list    cursor
	frames  cursor
	focus   int    // 0: crash list, 1: frames, 2: the frame's source, full height
	src     cursor // the zoomed source
	pending map[int]bool
}

// crashLayout is how the content rows are shared between the panes.
type crashLayout struct{ list, frames, source int }

func (m *Model) crashLayout() crashLayout {
	h := m.contentHeight()
	n := len(m.st.crashes)
	l := crashLayout{list: min(max(n, 1), max(3, h/5))}
	rest := h - l.list - 4 // the list title, the crash title, trap and panic
	nf := 1
	if c := m.selectedCrash(); c >= 0 {
		nf = max(len(m.frameLines(&m.st.crashes[c])), 1)
	}
	l.frames = max(min(nf, rest/2), min(nf, 3), 1)
	l.source = max(rest-l.frames, 0)
	return l
}

// selectedCrash is the index of the crash under the cursor, or -1.
func (m *Model) selectedCrash() int {
	if len(m.st.crashes) == 0 {
		return -1
	}
	return min(m.crashes.list.pos, len(m.st.crashes)-1)
}

// frameLine is one line of the frames pane: a resolved frame (a printed
// frame can expand into several when calls were inlined into it).
type frameLine struct {
	index  int // the printed frame's index
	offset string
	first  bool // the first line of its printed frame
	f      loc.Frame
}

func (m *Model) frameLines(c *crash) []frameLine {
	var out []frameLine
	for j, raw := range c.ev.Frames {
		var fs []loc.Frame
		if j < len(c.resolved) {
			fs = c.resolved[j]
		}
		if len(fs) == 0 {
			// As the log gave it; a symbolized log (tracer with a
			// resolver, a replay) carries the inlined frames too.
			fs = append(append([]loc.Frame(nil), raw.Inlined...), rawFrame(raw))
		}
		for k, f := range fs {
			out = append(out, frameLine{index: raw.Index, offset: offsetText(raw), first: k == 0, f: f})
		}
	}
	return out
}

// rawFrame is a printed frame as a loc.Frame: the names and places the
// log itself gave (a symbolized log, or a replay, carries them).
func rawFrame(f tracer.Frame) loc.Frame {
	lf := loc.Frame{Function: f.Function, Demangled: f.Demangled, File: f.File, Line: f.Line, Column: f.Column}
	if lf.Function == "" {
		lf.Function = "?"
	}
	return lf
}

func offsetText(f tracer.Frame) string {
	switch f.OffsetKind {
	case "code":
		return "code+" + strings.TrimPrefix(f.Offset, "0x")
	case "function":
		return "fn+" + strings.TrimPrefix(f.Offset, "0x")
	}
	return f.Offset
}

func (m *Model) crashesKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	cv := &m.crashes
	l := m.crashLayout()
	switch cv.focus {
	case 0:
		if cv.list.key(msg, k, len(m.st.crashes), l.list) {
			cv.frames = cursor{}
			return nil
		}
		switch {
		case key.Matches(msg, k.Open):
			if c := m.selectedCrash(); c >= 0 {
				cv.frames.pos = m.previewFrame(m.frameLines(&m.st.crashes[c]))
				cv.focus = 1
			}
		case key.Matches(msg, k.Jump):
			m.crashToCallback()
		}
	case 1:
		c := m.selectedCrash()
		fl := m.frameLines(&m.st.crashes[c])
		if cv.frames.key(msg, k, len(fl), l.frames) {
			return nil
		}
		switch {
		case key.Matches(msg, k.Open):
			if len(fl) > 0 {
				cv.focus = 2
				line := fl[cv.frames.pos].f.Line
				cv.src = cursor{pos: max(line-1, 0)}
				cv.src.top = max(line-1-m.contentHeight()/2, 0)
			}
		case key.Matches(msg, k.Back):
			cv.focus = 0
		case key.Matches(msg, k.Jump):
			m.crashToCallback()
		}
	case 2:
		text := m.selectedSource()
		n := 0
		if text != nil {
			n = len(text.Lines)
		}
		if cv.src.key(msg, k, n, m.contentHeight()-1) {
			return nil
		}
		if key.Matches(msg, k.Back) {
			cv.focus = 1
		}
	}
	return nil
}

// crashToCallback shows the selected crash in the Timeline, under the
// callback that trapped.
func (m *Model) crashToCallback() {
	c := m.selectedCrash()
	if c < 0 {
		return
	}
	it := m.st.crashes[c].item
	if it < 0 {
		m.flash = "this crash is not in the timeline"
		return
	}
	m.view = viewTimeline
	m.follow = false
	m.timeline.cur.pos = m.st.tl.reveal(it)
	m.timeline.cur.fix(len(m.st.tl.visible), m.timelineRows())
}

// selectedFrame is the frame line under the frames cursor.
func (m *Model) selectedFrame() (frameLine, bool) {
	c := m.selectedCrash()
	if c < 0 {
		return frameLine{}, false
	}
	fl := m.frameLines(&m.st.crashes[c])
	if len(fl) == 0 {
		return frameLine{}, false
	}
	if m.crashes.focus == 0 {
		return fl[m.previewFrame(fl)], true
	}
	return fl[min(m.crashes.frames.pos, len(fl)-1)], true
}

// previewFrame is the frame whose source the crash list shows: the
// innermost frame whose source file could be read (the plugin's own code,
// usually, rather than libc's abort), else the innermost with a file name.
func (m *Model) previewFrame(fl []frameLine) int {
	named := -1
	for i, f := range fl {
		if f.f.File == "" {
			continue
		}
		if named < 0 {
			named = i
		}
		if t := m.sources[f.f.File]; t != nil && t.Err == "" {
			return i
		}
	}
	return max(named, 0)
}

// selectedSource is the source text of the selected frame: nil while it
// loads or when the frame names no file.
func (m *Model) selectedSource() *SourceText {
	f, ok := m.selectedFrame()
	if !ok || f.f.File == "" {
		return nil
	}
	return m.sources[f.f.File]
}

func (m *Model) renderCrashes(w, h int) string {
	cv := &m.crashes
	if len(m.st.crashes) == 0 {
		msg := "No crash"
		if m.loading {
			msg += " yet"
		}
		msg += fmt.Sprintf(" in %s events.", thousands(m.st.rows.len()))
		if m.st.counts[kVMFailure] > 0 {
			msg += fmt.Sprintf(" %d VM failures: see Logs (3).", m.st.counts[kVMFailure])
		}
		return rule("Crashes", w) + "\n\n  " + msg + "\n\n  " +
			stDim.Render("Traps appear here with their frames and source lines; tab goes to the Timeline.")
	}
	if cv.focus == 2 {
		return m.renderSourceZoom(w, h)
	}
	l := m.crashLayout()
	var b strings.Builder
	b.WriteString(rule(fmt.Sprintf("Crashes (%d)", len(m.st.crashes)), w) + "\n")
	cv.list.fix(len(m.st.crashes), l.list)
	for i := cv.list.top; i < cv.list.top+l.list; i++ {
		if i >= len(m.st.crashes) {
			b.WriteString("\n")
			continue
		}
		b.WriteString(cursorRow(m.crashSummary(i, w-2), w, i == cv.list.pos && cv.focus == 0) + "\n")
	}
	c := &m.st.crashes[m.selectedCrash()]
	ev := &c.ev
	title := fmt.Sprintf("#%d %s", m.selectedCrash()+1, orDash(ev.Callback))
	if ev.Line > 0 {
		title += fmt.Sprintf(" · line %d", ev.Line)
	}
	if ev.Runtime != "" {
		title += " · " + ev.Runtime
	}
	b.WriteString(rule(title, w) + "\n")
	b.WriteString(fit(" "+stBad.Render("trap ")+" "+trapShort(ev.Message), w) + "\n")
	if ev.PanicText != "" {
		b.WriteString(fit(" "+stWarn.Render("panic")+" "+oneLine(ev.PanicText), w) + "\n")
	} else {
		b.WriteString(fit(" "+stDim.Render("panic (no panic message before the trap)"), w) + "\n")
	}
	fl := m.frameLines(c)
	cv.frames.fix(len(fl), l.frames)
	switch {
	case len(fl) == 0:
		b.WriteString(fit("  "+stDim.Render("no backtrace: the runtime printed no frames (Envoy prints them with V8 and a name section)"), w) + "\n")
		for i := 1; i < l.frames; i++ {
			b.WriteString("\n")
		}
	default:
		for i := cv.frames.top; i < cv.frames.top+l.frames; i++ {
			if i >= len(fl) {
				b.WriteString("\n")
				continue
			}
			b.WriteString(cursorRow(frameText(fl[i], w-2), w, cv.focus == 1 && i == cv.frames.pos) + "\n")
		}
	}
	if l.source > 0 {
		b.WriteString(m.renderSourcePane(w, l.source))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// crashSummary is one line of the crash list.
func (m *Model) crashSummary(i, w int) string {
	c := &m.st.crashes[i]
	ev := &c.ev
	where := ""
	if fl := m.frameLines(c); len(fl) > 0 {
		if f := fl[m.previewFrame(fl)].f; f.File != "" {
			where = stFile.Render(fmt.Sprintf("%s:%d", shortPath(f.File), f.Line)) + " "
		}
	}
	t := ""
	if r := m.st.at(c.row); r.time != 0 {
		t = clock(r.time) + " "
	}
	trap := strings.TrimPrefix(trapShort(ev.Message), "Uncaught ")
	return cut(fmt.Sprintf("%s%s %s %s%s", t, stBad.Render("✗"), stFunc.Render(orDash(ev.Callback)), where, trap), w)
}

// trapShort drops the "Function: X failed: " prefix the callback column
// already says.
func trapShort(msg string) string {
	if _, after, ok := strings.Cut(msg, " failed: "); ok && strings.HasPrefix(msg, "Function: ") {
		return after
	}
	return msg
}

func frameText(f frameLine, w int) string {
	// A printed frame's first line has its index; the offset goes on its
	// physical frame, and the frames inlined there say so instead.
	idx, off := "", f.offset
	if f.first {
		idx = "#" + strconv.Itoa(f.index)
	}
	if f.f.Inlined {
		off = "inlined"
	}
	name := f.f.Name()
	where := stDim.Render("no source line")
	if f.f.File != "" {
		where = shortPath(f.f.File)
		if f.f.Line > 0 {
			where += ":" + strconv.Itoa(f.f.Line)
			if f.f.Column > 0 {
				where += ":" + strconv.Itoa(f.f.Column)
			}
		}
		where = stFile.Render(where)
	}
	head := fmt.Sprintf("%-3s %-8s ", idx, off)
	ww := ansi.StringWidth(where)
	room := w - len(head) - ww - 2
	if room < 12 {
		return cut(head+stFunc.Render(name)+"  "+where, w)
	}
	return head + fit(stFunc.Render(name), room) + "  " + where
}

// renderSourcePane shows the lines around the selected frame's line.
func (m *Model) renderSourcePane(w, h int) string {
	f, ok := m.selectedFrame()
	if !ok {
		return ""
	}
	var b strings.Builder
	if f.f.File == "" {
		b.WriteString(rule("Source", w) + "\n")
		msg := "this frame has no file and line: the module has no DWARF or source map entry here (build with -g, or give the debug build with --module)"
		if m.info.Module == "" {
			msg = "no module to resolve frames with: pass --module plugin.wasm (a build with DWARF or a source map) to see file:line and the source"
		}
		for i, l := range wrap(msg, w-2) {
			if i >= h-1 {
				break
			}
			b.WriteString("  " + stDim.Render(l) + "\n")
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	text, loaded := m.sources[f.f.File]
	title := fmt.Sprintf("%s:%d", f.f.File, f.f.Line)
	if loaded && text != nil && text.From != "" && text.From != f.f.File {
		title += " · " + text.From
	}
	if m.crashes.focus == 0 {
		title = fmt.Sprintf("frame #%d · ", f.index) + title
	} else {
		title += " · enter: full file"
	}
	b.WriteString(rule(title, w) + "\n")
	switch {
	case !loaded || text == nil:
		b.WriteString(fit("  "+stDim.Render("reading "+f.f.File+"…"), w))
		return b.String()
	case text.Err != "":
		for i, l := range wrap(text.Err, w-2) {
			if i >= h-1 {
				break
			}
			b.WriteString("  " + stWarn.Render(l) + "\n")
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	rows := h - 1
	top := max(f.f.Line-1-rows/2, 0)
	top = max(min(top, len(text.Lines)-rows), 0)
	b.WriteString(sourceLines(text, top, rows, f.f.Line, w))
	return b.String()
}

func (m *Model) renderSourceZoom(w, h int) string {
	f, _ := m.selectedFrame()
	text := m.selectedSource()
	title := fmt.Sprintf("%s:%d", f.f.File, f.f.Line)
	if text != nil && text.From != "" && text.From != f.f.File {
		title += " · " + text.From
	}
	title += " · esc: back"
	out := rule(title, w) + "\n"
	switch {
	case f.f.File == "":
		return out + "  " + stDim.Render("this frame has no source line")
	case text == nil:
		return out + "  " + stDim.Render("reading "+f.f.File+"…")
	case text.Err != "":
		return out + strings.Join(wrap(text.Err, w-2), "\n")
	}
	m.crashes.src.fix(len(text.Lines), h-1)
	return out + sourceLines(text, m.crashes.src.top, h-1, f.f.Line, w)
}

// sourceLines renders rows lines of text from top, marking line mark.
func sourceLines(text *SourceText, top, rows, mark, w int) string {
	nw := len(strconv.Itoa(min(top+rows, len(text.Lines))))
	var b strings.Builder
	for i := top; i < top+rows; i++ {
		if i >= len(text.Lines) {
			b.WriteString("\n")
			continue
		}
		num := fmt.Sprintf("%*d", nw, i+1)
		if i+1 == mark {
			b.WriteString(stCurLine.Render(fit("▶ "+num+" │ "+text.Lines[i], w)) + "\n")
		} else {
			b.WriteString(fit("  "+stDim.Render(num+" │")+" "+text.Lines[i], w) + "\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// shortPath keeps the last two elements of a long path.
func shortPath(p string) string {
	if len(p) <= 40 {
		return p
	}
	parts := strings.Split(p, "/")
	if len(parts) <= 2 {
		return p
	}
	return "…/" + strings.Join(parts[len(parts)-2:], "/")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
