package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// timelineView is the state of the Timeline view.
type timelineView struct {
	cur cursor
}

// timelineDetail is the height of the pane under the tree that shows the
// selected row in full.
func (m *Model) timelineDetail() int { return min(6, max(m.contentHeight()/4, 3)) }

// timelineRows is the number of tree rows on screen.
func (m *Model) timelineRows() int { return max(m.contentHeight()-1-m.timelineDetail(), 1) }

func (m *Model) timelineKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	tl := &m.st.tl
	tv := &m.timeline
	n := len(tl.visible)
	if tv.cur.key(msg, k, n, m.timelineRows()) {
		if key.Matches(msg, k.Up, k.PageUp, k.Top) {
			m.follow = false
		}
		return nil
	}
	if n == 0 {
		return nil
	}
	i := tl.visible[tv.cur.pos]
	it := tl.at(i)
	switch {
	case key.Matches(msg, k.Open):
		if tl.toggle(tv.cur.pos) && it.flags&fExpanded != 0 {
			// Bring the children on screen, keeping the item itself.
			rows := m.timelineRows()
			if bottom := tl.subtreeEnd(tv.cur.pos) - 1; bottom >= tv.cur.top+rows {
				tv.cur.top = min(tv.cur.pos, bottom-rows+1)
			}
		}
	case key.Matches(msg, k.Back):
		switch {
		case it.flags&fExpanded != 0:
			tl.collapse(tv.cur.pos)
		case it.parent >= 0:
			tv.cur.pos = tl.pos(it.parent)
		}
	case key.Matches(msg, k.Collapse):
		m.collapseAll()
	case key.Matches(msg, k.Jump):
		m.callbackToCrash(i)
	default:
		return nil
	}
	tv.cur.fix(len(tl.visible), m.timelineRows())
	return nil
}

// collapseAll folds every item, keeping the cursor on the top-level item
// that held it.
func (m *Model) collapseAll() {
	tl := &m.st.tl
	keep := int32(-1)
	if len(tl.visible) > 0 {
		keep = tl.visible[m.timeline.cur.pos]
		for tl.at(keep).parent >= 0 {
			keep = tl.at(keep).parent
		}
	}
	tl.visible = tl.visible[:0]
	for i := int32(0); i < int32(tl.len()); i++ {
		it := tl.at(i)
		it.flags &^= fExpanded | fVisible
		if it.parent < 0 {
			it.flags |= fVisible
			if i == keep {
				m.timeline.cur.pos = len(tl.visible)
			}
			tl.visible = append(tl.visible, i)
		}
	}
}

// callbackToCrash shows, in the Crashes view, the crash of item i: the
// crash itself or the callback that trapped.
func (m *Model) callbackToCrash(i int32) {
	tl := &m.st.tl
	for c := range m.st.crashes {
		leaf := m.st.crashes[c].item
		if leaf == i || (leaf >= 0 && tl.at(leaf).parent == i && tl.at(i).flags&fTrapped != 0) {
			m.view = viewCrashes
			m.crashes.list.pos = c
			m.crashes.focus = 0
			m.crashes.frames = cursor{}
			m.crashes.list.fix(len(m.st.crashes), m.crashLayout().list)
			return
		}
	}
	m.flash = "no crash here: t works on a trapped callback (✗) or a trap"
}

func (m *Model) renderTimeline(w, h int) string {
	tl := &m.st.tl
	tv := &m.timeline
	rows := m.timelineRows()
	var b strings.Builder
	title := fmt.Sprintf("Timeline · %s calls", thousands(m.st.counts[kCall]))
	b.WriteString(rule(title, w) + "\n")
	if len(tl.visible) == 0 {
		msg := "No calls, logs or crashes"
		if m.loading {
			msg += " yet"
		}
		b.WriteString("\n  " + msg + ". The call tree needs the wasm:trace stream: raise the wasm logger to trace (wasmdbg level set wasm:trace).")
		return b.String()
	}
	tv.cur.fix(len(tl.visible), rows)
	for p := tv.cur.top; p < tv.cur.top+rows; p++ {
		if p >= len(tl.visible) {
			b.WriteString("\n")
			continue
		}
		b.WriteString(cursorRow(m.itemText(tl.visible[p], w-2), w, p == tv.cur.pos) + "\n")
	}
	b.WriteString(m.renderItemDetail(tl.visible[tv.cur.pos], w, m.timelineDetail()))
	return b.String()
}

// itemText is one row of the tree: time, indentation, the call with its
// arguments (cut to fit), what it returned, and its duration at the right.
func (m *Model) itemText(i int32, w int) string {
	st := m.st
	it := st.tl.at(i)
	r := st.at(it.open)
	t := strings.Repeat(" ", 12)
	if r.time != 0 {
		t = clock(r.time)
	}
	glyph := "  "
	switch {
	case it.first >= 0 && it.flags&fExpanded != 0:
		glyph = "▾ "
	case it.first >= 0:
		glyph = "▸ "
	}
	head := t + " " + strings.Repeat("  ", min(int(it.depth), 20)) + glyph
	body, tail, dur := m.itemBody(it)
	if dur != "" {
		dur = " " + stDim.Render(dur)
	}
	room := w - ansi.StringWidth(head) - ansi.StringWidth(tail) - ansi.StringWidth(dur)
	if room < 10 {
		return cut(head+body+tail, w)
	}
	if dur == "" {
		return head + cut(body, room) + tail
	}
	return head + fit(body+"", room) + tail + dur
}

// itemBody is the text of an item, what follows it (a return value,
// markers) and its duration.
func (m *Model) itemBody(it *item) (body, tail, dur string) {
	st := m.st
	r := st.at(it.open)
	switch r.kind {
	case kCall:
		fn := st.names.str(r.name)
		if r.dir == dHostFromVM || r.dir == dVMFromHost {
			return stDim.Render("← " + fn + " returned " + st.text(r.text)), " " + st.small.str(uint32(r.status)), ""
		}
		args := st.decoded(r)
		if args == "" {
			args = st.text(r.text)
		}
		body = stFunc.Render(fn) + "(" + args + ")"
		if r.dir == dHostToVM {
			body = stTitle.Render(fn) + "(" + args + ")"
		}
		switch {
		case it.flags&fTrapped != 0:
			body = stBad.Render("✗ ") + body
			tail = stBad.Render(" → trapped")
		case it.close >= 0:
			c := st.at(it.close)
			ret := st.small.str(uint32(c.status))
			if ret == "" {
				ret = st.text(c.text)
			}
			if it.flags&fBad != 0 {
				body = stBad.Render("! ") + body
				tail = " → " + stBad.Render(ret)
			} else if ret != "" && ret != "void" {
				tail = " → " + ret
			}
		default:
			tail = stDim.Render(" …")
		}
		if it.flags&fChildBad != 0 && it.flags&fExpanded == 0 && it.flags&fTrapped == 0 {
			tail += stWarn.Render(" ⚠")
		}
		if it.close >= 0 {
			dur = m.itemDuration(it)
		}
		return body, tail, dur
	case kPluginLog:
		lv := levelNames[r.level]
		s := "log " + lv + ": " + oneLine(st.text(r.text))
		switch {
		case r.level >= lvError:
			return stBad.Render(s), "", ""
		case r.level == lvWarning:
			return stWarn.Render(s), "", ""
		}
		return stDim.Render("log "+lv+": ") + oneLine(st.text(r.text)), "", ""
	case kCrash:
		c := &st.crashes[r.crash()].ev
		return stBad.Render("✗ trap: " + trapShort(c.Message)), stDim.Render(fmt.Sprintf(" (crash #%d)", r.crash()+1)), ""
	case kFinding:
		return stWarn.Render("⚠ "+st.names.str(r.name)+": ") + oneLine(st.text(r.text)), "", ""
	case kVMFailure:
		return stBad.Render("✗ "+st.names.str(r.name)+": ") + oneLine(st.text(r.text)), "", ""
	}
	return oneLine(st.text(r.text)), "", ""
}

// renderItemDetail shows the selected item in full.
func (m *Model) renderItemDetail(i int32, w, h int) string {
	st := m.st
	it := st.tl.at(i)
	r := st.at(it.open)
	var head []string
	if r.line > 0 {
		head = append(head, fmt.Sprintf("line %d", r.line))
	}
	if origin, th := splitThreadKey(st.small.str(uint32(r.thread))); th != "" {
		if origin != "" {
			head = append(head, origin)
		}
		head = append(head, "thread "+th)
	}
	var lines []string
	add := func(label, text string) {
		if text == "" {
			return
		}
		for k, l := range wrap(text, w-9) {
			if k == 0 {
				lines = append(lines, fmt.Sprintf(" %-7s %s", label, l))
			} else {
				lines = append(lines, "         "+l)
			}
		}
	}
	switch r.kind {
	case kCall:
		fn := st.names.str(r.name)
		add(string(dirNames[r.dir]), fn+"("+st.text(r.text)+")")
		add("decoded", st.decoded(r))
		if it.close >= 0 {
			c := st.at(it.close)
			ret := st.text(c.text)
			if s := st.small.str(uint32(c.status)); s != "" {
				ret += " (" + s + ")"
			}
			if d := m.itemDuration(it); d != "" {
				ret += " after " + d
			}
			if c.line > 0 {
				ret += fmt.Sprintf(", line %d", c.line)
			}
			add("return", ret)
		} else if it.flags&fTrapped != 0 {
			add("return", "none: the callback trapped (t: its crash)")
		}
	case kPluginLog:
		add("plugin", st.names.str(r.name))
		add(levelNames[r.level], st.text(r.text))
	case kCrash:
		c := &st.crashes[r.crash()].ev
		add("trap", c.Message)
		add("panic", c.PanicText)
	case kFinding, kVMFailure:
		label := "finding"
		if r.kind == kVMFailure {
			label = "failure"
		}
		add(label, st.names.str(r.name)+": "+st.text(r.text))
		add("hint", st.text(r.extra))
	default:
		add("line", st.text(r.text))
	}
	out := rule(strings.Join(head, " · "), w) + "\n"
	if len(lines) > h-1 {
		lines = lines[:h-1]
	}
	return out + strings.Join(lines, "\n")
}

// itemDuration is how long a call took: as the source measured it, or
// from the timestamps of its two lines; "" when neither says.
func (m *Model) itemDuration(it *item) string {
	r, c := m.st.at(it.open), m.st.at(it.close)
	switch {
	case c.time != 0 && r.time != 0 && c.time > r.time:
		return duration(c.time - r.time)
	}
	return ""
}

// clock formats Unix nanoseconds as a time of day with milliseconds.
func clock(ns int64) string {
	return time.Unix(0, ns).UTC().Format("15:04:05.000")
}

// duration formats a duration in the unit that suits it.
func duration(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", ns)
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
