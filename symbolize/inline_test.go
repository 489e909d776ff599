package symbolize

import (
	"fmt"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/reader"
)

// inlineStack answers as delve's reader.InlineStack does, at every offset
// of every subprogram that inlines something, in every DWARF fixture.
func TestInlineStackSameAsDelve(t *testing.T) {
	for _, f := range dwarfFixtures() {
		t.Run(f.Name, func(t *testing.T) {
			m := sharedFixture(t, f.Name)
			x := m.dwarfIndex()
			checked := 0
			for _, u := range x.units {
				x.index(u)
				for _, fn := range u.funcs {
					x.mu.Lock()
					tree, err := x.loadTree(fn)
					x.mu.Unlock()
					if err != nil || !hasInlined(tree) {
						continue
					}
					root := newInlineNodes(tree, func(*godwarf.Tree) inlinedCall { return inlinedCall{} })
					for pc := fn.low; pc < fn.high; pc++ {
						var want []string
						for _, n := range reader.InlineStack(tree, pc) {
							want = append(want, fmt.Sprint(n.Offset))
						}
						var got []string
						for _, n := range inlineStack(nil, root, pc) {
							got = append(got, fmt.Sprint(n.off))
						}
						if fmt.Sprint(got) != fmt.Sprint(want) {
							t.Fatalf("subprogram at 0x%x, pc 0x%x: inlineStack %v, reader.InlineStack %v", uint64(fn.die), pc, got, want)
						}
						checked++
					}
				}
			}
			t.Logf("%d offsets", checked)
		})
	}
}
