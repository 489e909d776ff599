package tui

import (
	"fmt"
	"sort"
	"unicode"

	tea "charm.land/bubbletea/v2"
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
	// pending is the direction of a move waiting for the scan to reach the
	// end of the domain (+1, -1; 0 none): a long scan goes in steps, so
	// the UI stays responsive over a million events.
	pending int
	// hits caches, per interned name, whether it matches.
	names, small []int8
}

// searchStep is how many domain elements one step scans (a few tens of
// milliseconds for timeline items); a variable for tests.
var searchStep = 1 << 16

// searchStepMsg continues the scan of a view's search.
type searchStepMsg struct{ view viewID }

func (s search) status() string {
	switch {
	case s.pending != 0:
		return fmt.Sprintf("/%s: searching…", s.query)
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
func (m *Model) startSearch(q string) tea.Cmd {
	s := &m.search[m.view]
	*s = search{query: q, m: newMatcher(q), at: -1}
	if q == "" {
		return nil
	}
	if s.m.fold {
		for i, c := range s.m.q {
			if 'A' <= c && c <= 'Z' {
				s.m.q[i] = c + 'a' - 'A'
			}
		}
	}
	return m.findNext(m.view, true)
}

// domainLen is the size of a view's search domain.
func (m *Model) domainLen(v viewID) int {
	switch v {
	case viewCrashes:
		return len(m.st.crashes)
	case viewTimeline:
		return m.st.tl.len()
	case viewLogs:
		return len(m.logs.rows)
	}
	return 0
}

// domainMatch reports whether element i of a view's domain matches.
func (m *Model) domainMatch(v viewID, s *search, i int) bool {
	st := m.st
	mt := s.m
	switch v {
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
		if m.rowMatch(s, it.open) {
			return true
		}
		return it.close >= 0 && m.rowMatch(s, it.close)
	case viewLogs:
		return m.rowMatch(s, m.logs.rows[i])
	}
	return false
}

func (m *Model) rowMatch(s *search, ri int32) bool {
	st := m.st
	mt := s.m
	r := st.at(ri)
	if r.kind == kCrash {
		c := &st.crashes[r.crash()].ev
		return mt.in(c.Callback) || mt.in(c.Message) || mt.in(c.PanicText)
	}
	return internedMatch(&s.names, &st.names, r.name, mt) || mt.inBytes(st.bytes(r.text)) ||
		mt.inBytes(st.decodedBytes(r)) || internedMatch(&s.small, &st.small, uint32(r.status), mt)
}

// internedMatch matches an interned string once per search, not once per
// row.
func internedMatch(cache *[]int8, in *interner, id uint32, mt matcher) bool {
	if int(id) >= len(*cache) {
		*cache = append(*cache, make([]int8, len(in.strs)-len(*cache)+1)...)
	}
	switch (*cache)[id] {
	case 1:
		return false
	case 2:
		return true
	}
	hit := mt.in(in.str(id))
	(*cache)[id] = 1
	if hit {
		(*cache)[id] = 2
	}
	return hit
}

// domainCursor is the domain element under a view's cursor.
func (m *Model) domainCursor(v viewID) int {
	switch v {
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

// findNext moves to the next (or previous) match of a view's query,
// wrapping around. Matches are found up to the end of the domain first; a
// long scan continues in steps (searchStepMsg) and the move happens when
// it ends.
func (m *Model) findNext(v viewID, forward bool) tea.Cmd {
	s := &m.search[v]
	if s.query == "" {
		m.flash = "no search yet: press /"
		return nil
	}
	n := m.domainLen(v)
	end := min(n, s.scanned+searchStep)
	for i := s.scanned; i < end; i++ {
		if m.domainMatch(v, s, i) {
			s.matches = append(s.matches, int32(i))
		}
	}
	s.scanned = end
	if end < n {
		s.pending = 1
		if !forward {
			s.pending = -1
		}
		return func() tea.Msg { return searchStepMsg{v} }
	}
	s.pending = 0
	if len(s.matches) == 0 {
		s.at = -1
		return nil
	}
	cur := m.domainCursor(v)
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
	m.gotoDomain(v, int(s.matches[k]))
	return nil
}

// gotoDomain puts a view's cursor on element i of its domain.
func (m *Model) gotoDomain(v viewID, i int) {
	m.follow = false
	switch v {
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
