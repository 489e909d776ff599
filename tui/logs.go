package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// logsView is the state of the Logs view: the rows that pass the filters,
// kept up to date as events arrive.
type logsView struct {
	cur      cursor
	minLevel level
	plugin   uint32 // interned plugin name; 0: every plugin
	rows     []int32
	seen     int  // how many of store.logs were filtered
	open     bool // the selected line is shown in full
}

func (v *logsView) init() {}

func (v *logsView) reset() { *v = logsView{minLevel: v.minLevel, plugin: v.plugin} }

// extend filters the log rows that arrived since the last call.
func (v *logsView) extend(s *store) {
	for _, ri := range s.logs[v.seen:] {
		if v.pass(s, ri) {
			v.rows = append(v.rows, ri)
		}
	}
	v.seen = len(s.logs)
}

// refilter rebuilds the list after a filter changed, keeping the cursor on
// the same event or the nearest after it.
func (v *logsView) refilter(s *store) {
	keep := int32(-1)
	if len(v.rows) > 0 {
		keep = v.rows[min(v.cur.pos, len(v.rows)-1)]
	}
	v.rows, v.seen = v.rows[:0], 0
	v.extend(s)
	v.cur.pos = 0
	for i, ri := range v.rows {
		if ri >= keep {
			v.cur.pos = i
			break
		}
	}
}

func (v *logsView) pass(s *store, ri int32) bool {
	r := s.at(ri)
	if v.minLevel != lvNone && rowLevel(r) < v.minLevel {
		return false
	}
	if v.plugin != 0 && (r.kind != kPluginLog || r.name != v.plugin) {
		return false
	}
	return true
}

// rowLevel is a row's level, with the kinds that have none placed where a
// reader expects them: crashes critical, VM failures error, findings
// warning.
func rowLevel(r *row) level {
	switch r.kind {
	case kCrash:
		return lvCritical
	case kVMFailure:
		return max(r.level, lvError)
	case kFinding:
		return max(r.level, lvWarning)
	}
	return r.level
}

// logsRows is the number of log rows on screen.
func (m *Model) logsRows() int { return max(m.contentHeight()-1, 1) }

func (m *Model) logsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	v := &m.logs
	if !v.open && v.cur.key(msg, k, len(v.rows), m.logsRows()) {
		if key.Matches(msg, k.Up, k.PageUp, k.Top) {
			m.follow = false
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Open):
		v.open = len(v.rows) > 0
		return nil
	case key.Matches(msg, k.Back):
		v.open = false
		return nil
	case key.Matches(msg, k.Level):
		// trace is the lowest level: "all" and "trace" show the same rows
		// except those with no level, so the cycle skips it.
		switch v.minLevel {
		case lvNone:
			v.minLevel = lvDebug
		case lvCritical:
			v.minLevel = lvNone
		default:
			v.minLevel++
		}
	case key.Matches(msg, k.Plugin):
		ps := m.st.plugins
		next := uint32(0)
		for i, p := range ps {
			if v.plugin == 0 {
				next = p
				break
			}
			if p == v.plugin && i+1 < len(ps) {
				next = ps[i+1]
				break
			}
		}
		if len(ps) == 0 {
			m.flash = "no plugin logs to filter"
			return nil
		}
		v.plugin = next
	default:
		return nil
	}
	v.refilter(m.st)
	m.search[viewLogs] = search{}
	v.cur.fix(len(v.rows), m.logsRows())
	return nil
}

func (m *Model) renderLogs(w, h int) string {
	v := &m.logs
	st := m.st
	lv := "all levels"
	if v.minLevel != lvNone {
		lv = "≥ " + levelNames[v.minLevel]
	}
	pl := "every plugin"
	if v.plugin != 0 {
		name, _, _ := strings.Cut(st.names.str(v.plugin), " ")
		pl = "plugin " + name
	}
	title := fmt.Sprintf("Logs · %s of %s lines · %s (l) · %s (p)", thousands(len(v.rows)), thousands(len(st.logs)), lv, pl)
	var b strings.Builder
	b.WriteString(rule(title, w) + "\n")
	if len(v.rows) == 0 {
		if len(st.logs) == 0 {
			b.WriteString("\n  No log lines" + map[bool]string{true: " yet", false: ""}[m.loading] + ".")
		} else {
			b.WriteString("\n  No line passes the filters: l and p change them.")
		}
		return b.String()
	}
	rows := m.logsRows()
	v.cur.fix(len(v.rows), rows)
	if v.open {
		return b.String() + m.renderLogLine(v.rows[v.cur.pos], w, rows)
	}
	for i := v.cur.top; i < v.cur.top+rows; i++ {
		if i >= len(v.rows) {
			b.WriteString("\n")
			continue
		}
		b.WriteString(cursorRow(m.logText(v.rows[i], w-2), w, i == v.cur.pos) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// logText is one row of the Logs view.
func (m *Model) logText(ri int32, w int) string {
	st := m.st
	r := st.at(ri)
	t := strings.Repeat(" ", 12)
	if r.time != 0 {
		t = clock(r.time)
	}
	lvl := rowLevel(r)
	ls := levelShort[lvl]
	switch {
	case lvl >= lvError:
		ls = stBad.Render(ls)
	case lvl == lvWarning:
		ls = stWarn.Render(ls)
	case lvl <= lvDebug:
		ls = stDim.Render(ls)
	}
	var msg string
	switch r.kind {
	case kPluginLog:
		// The plugin name; the root and VM ids are in the full view.
		name, _, _ := strings.Cut(st.names.str(r.name), " ")
		msg = stFunc.Render(name) + " " + oneLine(st.text(r.text))
	case kCrash:
		c := &st.crashes[r.crash()].ev
		msg = stBad.Render("✗ "+oneLine(c.Message)) + stDim.Render(fmt.Sprintf(" (crash #%d)", r.crash()+1))
	case kVMFailure, kFinding:
		msg = st.names.str(r.name) + ": " + oneLine(st.text(r.text))
	default:
		msg = stDim.Render(oneLine(st.text(r.text)))
	}
	return cut(t+" "+ls+" "+msg, w)
}

// renderLogLine shows one log row in full, wrapped.
func (m *Model) renderLogLine(ri int32, w, h int) string {
	st := m.st
	r := st.at(ri)
	e := st.event(ri)
	var head []string
	if e.Time != "" {
		head = append(head, e.Time)
	}
	if e.Level != "" {
		head = append(head, e.Level)
	}
	if e.Line > 0 {
		head = append(head, fmt.Sprintf("line %d", e.Line))
	}
	if e.Thread != "" {
		head = append(head, "thread "+e.Thread)
	}
	if e.Plugin != "" {
		head = append(head, e.Plugin)
	}
	text := e.Message
	switch r.kind {
	case kCrash:
		text = e.Message
		if e.PanicText != "" {
			text += "\npanic: " + e.PanicText
		}
	case kVMFailure, kFinding:
		text = e.Reason + ": " + e.Message
		if e.Hint != "" {
			text += "\nhint: " + e.Hint
		}
	}
	var lines []string
	for _, l := range wrap(strings.Join(head, " · ")+" · esc: back", w-2) {
		lines = append(lines, stDim.Render(l))
	}
	lines = append(append(lines, ""), wrap(text, w-2)...)
	if len(lines) > h {
		lines = lines[:h]
	}
	return " " + strings.Join(lines, "\n ")
}
