package symbolize

import (
	"debug/dwarf"
	"slices"
	"sort"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// inlineNode is a subprogram's tree (loadTree's godwarf.Tree) as lookups
// walk it, with each inlined subroutine's name and call site resolved, and
// an index over the children of nodes that have many: a Rust function can
// inline hundreds of calls at its top level, and reader.InlineStack tries
// every one for every offset.
type inlineNode struct {
	off      dwarf.Offset // the DIE
	ranges   [][2]uint64
	children []*inlineNode
	inlined  bool        // an inlined subroutine, not a lexical block or the subprogram
	call     inlinedCall // for an inlined subroutine: its name and where it was called

	// For a node with many children: the indices of the children with
	// ranges, by the start of their first range, and the highest range end
	// of each of them and every one before it in that order.
	byStart []int32
	maxEnd  []uint64
}

// indexedChildren is how many children a node has before lookups use an
// index to find the ones an offset can be in.
const indexedChildren = 2

// newInlineNodes converts a loaded tree; call resolves an inlined
// subroutine's name and call site.
func newInlineNodes(t *godwarf.Tree, call func(*godwarf.Tree) inlinedCall) *inlineNode {
	n := &inlineNode{off: t.Offset, ranges: t.Ranges, inlined: t.Tag == dwarf.TagInlinedSubroutine}
	if n.inlined {
		n.call = call(t)
	}
	if len(t.Children) > 0 {
		n.children = make([]*inlineNode, len(t.Children))
		for i, c := range t.Children {
			n.children[i] = newInlineNodes(c, call)
		}
	}
	if len(n.children) > indexedChildren {
		for i, c := range n.children {
			if len(c.ranges) > 0 {
				n.byStart = append(n.byStart, int32(i))
			}
		}
		slices.SortStableFunc(n.byStart, func(a, b int32) int {
			x, y := n.children[a].ranges[0][0], n.children[b].ranges[0][0]
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
		n.maxEnd = make([]uint64, len(n.byStart))
		var hi uint64
		for j, i := range n.byStart {
			for _, rg := range n.children[i].ranges {
				hi = max(hi, rg[1])
			}
			n.maxEnd[j] = hi
		}
	}
	return n
}

// containsPC is godwarf.Tree.ContainsPC: the ranges are read in order and
// the first one starting after pc ends the search.
func (n *inlineNode) containsPC(pc uint64) bool {
	for _, rg := range n.ranges {
		if rg[0] > pc {
			return false
		}
		if pc < rg[1] {
			return true
		}
	}
	return false
}

// inlineStack appends to dst the inlined subroutines of root's tree that
// contain pc, innermost first: reader.InlineStack's answer (each child
// whose ranges contain pc, in order, depth first, a node after its
// children; every node for pc 0).
func inlineStack(dst []*inlineNode, root *inlineNode, pc uint64) []*inlineNode {
	return root.walkChildren(dst, pc)
}

func (n *inlineNode) walk(dst []*inlineNode, pc uint64) []*inlineNode {
	if pc == 0 || n.containsPC(pc) {
		dst = n.walkChildren(dst, pc)
		if n.inlined {
			dst = append(dst, n)
		}
	}
	return dst
}

func (n *inlineNode) walkChildren(dst []*inlineNode, pc uint64) []*inlineNode {
	if n.byStart == nil || pc == 0 {
		for _, c := range n.children {
			dst = c.walk(dst, pc)
		}
		return dst
	}
	// Only a child whose first range starts at or before pc and whose
	// ranges end after it can contain pc: the last ones by start, back to
	// where no earlier one ends after pc.
	var buf [8]int32
	cand := buf[:0]
	j := sort.Search(len(n.byStart), func(j int) bool { return n.children[n.byStart[j]].ranges[0][0] > pc }) - 1
	for ; j >= 0 && n.maxEnd[j] > pc; j-- {
		cand = append(cand, n.byStart[j])
	}
	if len(cand) > 1 {
		slices.Sort(cand)
	}
	for _, i := range cand {
		dst = n.children[i].walk(dst, pc)
	}
	return dst
}
