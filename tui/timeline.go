package tui

// timeline is the call tree of the Timeline view: callbacks (host->vm) hold
// the host calls they make (vm->host), a host call holds the callbacks the
// host makes during it (proxy_on_memory_allocate), and plugin logs,
// findings and crashes sit under the call that was running. Threads are
// kept apart: each worker thread has its own stack of open calls, so
// interleaved workers do not nest into each other.
//
// Items are appended as events arrive. visible lists the items on screen in
// tree order (children right under their parent); only expanded items show
// their children, and everything starts collapsed, so a million events cost
// one visible entry per top-level call and rendering touches only the rows
// in the window.
type timeline struct {
	items   chunked[item]
	visible []int32
	stacks  map[uint16][]int32 // thread -> open items, innermost last
}

type item struct {
	open   int32 // row of the event that opened the item
	close  int32 // row of its return; -1 while open, and for leaves
	parent int32 // -1 at the top level
	first  int32 // first child; -1 when none
	last   int32 // last child
	next   int32 // next sibling
	depth  uint16
	flags  itemFlag
}

type itemFlag uint16

const (
	fCall     itemFlag = 1 << iota // a call (callback or host call): can hold children
	fExpanded                      // children are shown
	fVisible                       // in visible
	fBad                           // a host call that returned a non-Ok status
	fTrapped                       // the callback that trapped
	fCrash                         // the crash itself
	fFinding                       // a finding or a VM failure
	fChildBad                      // something under it is bad, trapped or a finding
)

func (t *timeline) init() { t.stacks = map[uint16][]int32{} }

func (t *timeline) at(i int32) *item { return t.items.at(i) }

func (t *timeline) len() int { return t.items.len() }

// add places row ri of s into the tree.
func (t *timeline) add(s *store, ri int32) {
	r := s.at(ri)
	stack := t.stacks[r.thread]
	top := int32(-1)
	if len(stack) > 0 {
		top = stack[len(stack)-1]
	}
	switch r.kind {
	case kOther:
		return
	case kCall:
		switch r.dir {
		case dHostToVM, dVMToHost:
			i := t.newItem(ri, top, fCall)
			t.stacks[r.thread] = append(stack, i)
			return
		case dHostFromVM, dVMFromHost:
			want := dHostToVM
			if r.dir == dVMFromHost {
				want = dVMToHost
			}
			for k := len(stack) - 1; k >= 0; k-- {
				it := t.at(stack[k])
				o := s.at(it.open)
				if o.dir != want || o.name != r.name {
					continue
				}
				it.close = ri
				if r.dir == dVMFromHost && !okStatus(s.small.str(uint32(r.status))) {
					it.flags |= fBad
					t.markUp(it.parent)
				}
				// Calls above the match never returned; they end here too.
				t.stacks[r.thread] = stack[:k]
				return
			}
			// A return whose call came before the capture started.
			t.newItem(ri, top, 0)
			return
		}
		t.newItem(ri, top, 0)
	case kCrash:
		c := &s.crashes[r.crash()]
		cb, th := t.trapped(s, r.thread, r.name, int32(c.ev.CallLine))
		parent := top
		if cb >= 0 {
			parent = cb
		}
		leaf := t.newItem(ri, parent, fCrash)
		c.item = leaf
		if cb >= 0 {
			t.at(cb).flags |= fTrapped
			// The trap unwinds everything the callback had open.
			st := t.stacks[th]
			for k := len(st) - 1; k >= 0; k-- {
				if st[k] == cb {
					t.stacks[th] = st[:k]
					break
				}
			}
		}
	case kFinding, kVMFailure:
		t.newItem(ri, top, fFinding)
	default:
		t.newItem(ri, top, 0)
	}
}

// trapped finds the open callback a crash ended: the one on the input
// line the tracer linked it to (callLine), else the innermost host->vm call
// named callback on the crash's thread, else on any thread (Envoy may log
// the failure from another thread than the trace).
func (t *timeline) trapped(s *store, thread uint16, callback uint32, callLine int32) (item int32, th uint16) {
	find := func(st []int32) int32 {
		for k := len(st) - 1; k >= 0; k-- {
			o := s.at(t.at(st[k]).open)
			if o.dir != dHostToVM {
				continue
			}
			if callLine > 0 && o.line == callLine || callLine <= 0 && (callback == 0 || o.name == callback) {
				return st[k]
			}
		}
		return -1
	}
	if i := find(t.stacks[thread]); i >= 0 {
		return i, thread
	}
	for th, st := range t.stacks {
		if i := find(st); i >= 0 {
			return i, th
		}
	}
	return -1, thread
}

// okStatus reports a host call's status that means success: WasmResult Ok,
// WASI errno SUCCESS (internal/abi names).
func okStatus(s string) bool { return s == "" || s == "Ok" || s == "SUCCESS" }

func (t *timeline) newItem(ri, parent int32, f itemFlag) int32 {
	i := int32(t.items.len())
	it := item{open: ri, close: -1, parent: parent, first: -1, last: -1, next: -1, flags: f}
	if parent >= 0 {
		p := t.at(parent)
		it.depth = p.depth + 1
		if p.first < 0 {
			p.first = i
		} else {
			t.at(p.last).next = i
		}
		p.last = i
	}
	t.items.add(it)
	if f&(fCrash|fFinding) != 0 {
		t.markUp(parent)
	}
	switch {
	case parent < 0:
		t.at(i).flags |= fVisible
		t.visible = append(t.visible, i)
	case t.at(parent).flags&(fVisible|fExpanded) == fVisible|fExpanded:
		t.at(i).flags |= fVisible
		pos := t.pos(parent)
		at := t.subtreeEnd(pos)
		t.visible = append(t.visible, 0)
		copy(t.visible[at+1:], t.visible[at:])
		t.visible[at] = i
	}
	return i
}

// markUp flags i and its ancestors as holding something bad.
func (t *timeline) markUp(i int32) {
	for ; i >= 0; i = t.at(i).parent {
		if t.at(i).flags&fChildBad != 0 {
			return
		}
		t.at(i).flags |= fChildBad
	}
}

// pos is the position of item i in visible, or -1. Recent items are the
// likely ones, so it searches from the end.
func (t *timeline) pos(i int32) int {
	if t.at(i).flags&fVisible == 0 {
		return -1
	}
	for p := len(t.visible) - 1; p >= 0; p-- {
		if t.visible[p] == i {
			return p
		}
	}
	return -1
}

// subtreeEnd is the position in visible just past the visible descendants
// of the item at position p.
func (t *timeline) subtreeEnd(p int) int {
	d := t.at(t.visible[p]).depth
	q := p + 1
	for q < len(t.visible) && t.at(t.visible[q]).depth > d {
		q++
	}
	return q
}

// toggle expands or collapses the item at visible position p and reports
// whether it could.
func (t *timeline) toggle(p int) bool {
	if p < 0 || p >= len(t.visible) {
		return false
	}
	i := t.visible[p]
	if t.at(i).flags&fExpanded != 0 {
		t.collapse(p)
		return true
	}
	return t.expand(p)
}

func (t *timeline) expand(p int) bool {
	i := t.visible[p]
	it := t.at(i)
	if it.first < 0 || it.flags&fExpanded != 0 {
		return false
	}
	it.flags |= fExpanded
	var add []int32
	var walk func(i int32)
	walk = func(i int32) {
		for c := t.at(i).first; c >= 0; c = t.at(c).next {
			t.at(c).flags |= fVisible
			add = append(add, c)
			if t.at(c).flags&fExpanded != 0 {
				walk(c)
			}
		}
	}
	walk(i)
	t.visible = append(t.visible[:p+1], append(add, t.visible[p+1:]...)...)
	return true
}

func (t *timeline) collapse(p int) {
	i := t.visible[p]
	t.at(i).flags &^= fExpanded
	end := t.subtreeEnd(p)
	for _, v := range t.visible[p+1 : end] {
		t.at(v).flags &^= fVisible
	}
	t.visible = append(t.visible[:p+1], t.visible[end:]...)
}

// reveal expands the ancestors of item i and returns its visible position.
func (t *timeline) reveal(i int32) int {
	if t.at(i).flags&fVisible != 0 {
		return t.pos(i)
	}
	var chain []int32
	for a := t.at(i).parent; a >= 0; a = t.at(a).parent {
		chain = append(chain, a)
	}
	for k := len(chain) - 1; k >= 0; k-- {
		a := chain[k]
		if t.at(a).flags&fExpanded == 0 {
			t.expand(t.pos(a))
		}
	}
	return t.pos(i)
}
