package tui

import (
	"fmt"
	"sort"
	"unicode"
)

// search is the state of '/' in one view. The domain it searches depends
// on the view: crash indexes (Crashes), timeline items (Timeline), rows of
// the filtered log list (Logs). Matches are found once, in domain order,
// and extended when new events arrive; n and N move to the nearest match
// after or before the cursor.
type search struct {
	query   string
	m       matcher
	matches []int32
	scanned int // domain elements already scanned
	at      int // index in matches of the current match; -1 none yet
}

func (s search) status() string {
	switch {
	case len(s.matches) == 0:
		return fmt.Sprintf("/%s: no match", s.query)
	case s.at < 0:
		return fmt.Sprintf("/%s: %d matches", s.query, len(s.matches))
	}
	return fmt.Sprintf("/%s: match %d of %d", s.query, s.at+1, len(s.matches))
}

// matcher finds a query in text. Smart case: a query without capitals
// ignores case (ASCII), one with capitals does not.
type matcher struct {
	q    []byte
	fold bool
}

func newMatcher(q string) matcher {
	fold := true
	for _, r := range q {
		if unicode.IsUpper(r) {
			fold = false
		}
	}
	return matcher{q: []byte(q), fold: fold}
}

func (mt matcher) in(s string) bool { return indexText(s, mt.q, mt.fold) >= 0 }

func (mt matcher) inBytes(b []byte) bool { return indexText(b, mt.q, mt.fold) >= 0 }

// indexText is strings.Index, ASCII case-insensitive when fold is set
// (q is then lower case already), without allocating.
func indexText[T string | []byte](h T, q []byte, fold bool) int {
	n := len(q)
	if n == 0 {
		return 0
	}
	for i := 0; i+n <= len(h); i++ {
		j := 0
		for ; j < n; j++ {
			c := h[i+j]
			if fold && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != q[j] {
				break
			}
		}
		if j == n {
			return i
		}
	}
	return -1
}

func (m *Model) searchable() bool {
	return m.view == viewCrashes || m.view == viewTimeline || m.view == viewLogs
}

// startSearch sets the query of the current view and moves to the first
// match after the cursor.
func (m *Model) startSearch(q string) {
	s := &m.search[m.view]
	*s = search{query: q, m: newMatcher(q), at: -1}
	if q == "" {
		return
	}
	if s.m.fold {
		for i, c := range s.m.q {
			if 'A' <= c && c <= 'Z' {
				s.m.q[i] = c + 'a' - 'A'
			}
		}
	}
	m.findNext(true)
}

// domainLen is the size of the current view's search domain.
func (m *Model) domainLen() int {
	switch m.view {
	case viewCrashes:
		return len(m.st.crashes)
	case viewTimeline:
		return m.st.tl.len()
	case viewLogs:
		return len(m.logs.rows)
	}
	return 0
}

// domainMatch reports whether element i of the current view's domain
// matches.
func (m *Model) domainMatch(mt matcher, i int) bool {
	st := m.st
	switch m.view {
	case viewCrashes:
		c := &st.crashes[i]
		if mt.in(c.ev.Callback) || mt.in(c.ev.Message) || mt.in(c.ev.PanicText) {
			return true
		}
		for _, f := range c.ev.Frames {
			if mt.in(f.Function) || mt.in(f.Demangled) || mt.in(f.File) {
				return true
			}
		}
		for _, fs := range c.resolved {
			for _, f := range fs {
				if mt.in(f.Function) || mt.in(f.Demangled) || mt.in(f.File) {
					return true
				}
			}
		}
		return false
	case viewTimeline:
		it := st.tl.at(int32(i))
		if m.rowMatch(mt, it.open) {
			return true
		}
		return it.close >= 0 && m.rowMatch(mt, it.close)
	case viewLogs:
		return m.rowMatch(mt, m.logs.rows[i])
	}
	return false
}

func (m *Model) rowMatch(mt matcher, ri int32) bool {
	st := m.st
	r := st.at(ri)
	if r.kind == kCrash {
		c := &st.crashes[r.crash()].ev
		return mt.in(c.Callback) || mt.in(c.Message) || mt.in(c.PanicText)
	}
	return mt.in(st.names.str(r.name)) || mt.inBytes(st.bytes(r.text)) ||
		mt.inBytes(st.decodedBytes(r)) || mt.in(st.small.str(uint32(r.status)))
}

// domainCursor is the domain element under the cursor.
func (m *Model) domainCursor() int {
	switch m.view {
	case viewCrashes:
		return m.crashes.list.pos
	case viewTimeline:
		if len(m.st.tl.visible) == 0 {
			return -1
		}
		return int(m.st.tl.visible[m.timeline.cur.pos])
	case viewLogs:
		return m.logs.cur.pos
	}
	return -1
}

// findNext moves to the next (or previous) match of the current view's
// query, wrapping around.
func (m *Model) findNext(forward bool) {
	s := &m.search[m.view]
	if s.query == "" {
		m.flash = "no search yet: press /"
		return
	}
	n := m.domainLen()
	for i := s.scanned; i < n; i++ {
		if m.domainMatch(s.m, i) {
			s.matches = append(s.matches, int32(i))
		}
	}
	s.scanned = n
	if len(s.matches) == 0 {
		s.at = -1
		return
	}
	cur := m.domainCursor()
	var k int
	if forward {
		k = sort.Search(len(s.matches), func(j int) bool { return int(s.matches[j]) > cur })
		if k == len(s.matches) {
			k = 0
			m.flash = "search wrapped to the top"
		}
	} else {
		k = sort.Search(len(s.matches), func(j int) bool { return int(s.matches[j]) >= cur }) - 1
		if k < 0 {
			k = len(s.matches) - 1
			m.flash = "search wrapped to the bottom"
		}
	}
	s.at = k
	m.gotoDomain(int(s.matches[k]))
}

// gotoDomain puts the cursor on domain element i of the current view.
func (m *Model) gotoDomain(i int) {
	m.follow = false
	switch m.view {
	case viewCrashes:
		m.crashes.list.pos = i
		m.crashes.focus = 0
		m.crashes.list.fix(len(m.st.crashes), m.crashLayout().list)
	case viewTimeline:
		p := m.st.tl.reveal(int32(i))
		m.timeline.cur.pos = p
		m.timeline.cur.fix(len(m.st.tl.visible), m.timelineRows())
	case viewLogs:
		m.logs.cur.pos = i
		m.logs.cur.fix(len(m.logs.rows), m.logsRows())
	}
}
