package symbolize

import (
	"debug/dwarf"
	"fmt"
	"reflect"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/reader"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// slowIndex is the module's DWARF index with every DIE read by debug/dwarf
// (no dieWalker): the path symbolize took before the walker.
func slowIndex(t testing.TB, m *Module, secs map[string][]byte) *dwarfIndex {
	t.Helper()
	x, errs := newDWARFIndex(secs, m.demangle, nil)
	if x == nil {
		t.Fatalf("debug/dwarf: %v", errs)
	}
	x.slow = true
	return x
}

// referenceLookup answers as symbolize did before the walker: the
// subprograms found by debug/dwarf's Reader, their trees read by it, and
// delve's reader.InlineStack over them, names and call sites resolved per
// lookup. trees caches the trees by subprogram.
func referenceLookup(x *dwarfIndex, trees map[dwarf.Offset]*godwarf.Tree, pc uint64) ([]loc.Frame, bool, error) {
	for u := range x.unitsAt(pc) {
		x.index(u)
		r, haveRow := u.lines.lookup(pc)
		fn, haveFn := u.function(pc)
		if !haveFn {
			if !haveRow {
				continue
			}
			return []loc.Frame{dwarfFrame("", "", r, false)}, true, nil
		}
		tree, ok := trees[fn.die]
		if !ok {
			var err error
			x.mu.Lock()
			tree, err = x.loadTree(fn)
			x.mu.Unlock()
			if err != nil {
				return []loc.Frame{dwarfFrame("", "", r, false)}, true, err
			}
			trees[fn.die] = tree
		}
		var frames []loc.Frame
		cur := r
		for _, in := range reader.InlineStack(tree, pc) {
			name := dieName(in.Entry)
			frames = append(frames, dwarfFrame(name, x.readable(name), cur, true))
			cur = x.callSite(fn.unit, in.Entry)
		}
		name := dieName(tree.Entry)
		return append(frames, dwarfFrame(name, x.readable(name), cur, false)), true, nil
	}
	return nil, false, nil
}

// diffLookups compares x's answers (the dieWalker's) with referenceLookup
// over ref at each offset; it returns the offsets compared.
func diffLookups(t testing.TB, x, ref *dwarfIndex, pcs []uint64) int {
	t.Helper()
	trees := map[dwarf.Offset]*godwarf.Tree{}
	var buf []loc.Frame
	for _, pc := range pcs {
		want, wantOK, wantErr := referenceLookup(ref, trees, pc)
		got, gotOK, gotErr := x.lookup(buf[:0], pc)
		buf = got
		if len(got) == 0 {
			got = nil
		}
		if gotOK != wantOK || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("code offset 0x%x:\nwalker:      %v %v %+v\ndebug/dwarf: %v %v %+v", pc, gotOK, gotErr, got, wantOK, wantErr, want)
		}
	}
	return len(pcs)
}

// The symbolizer answers with the dieWalker exactly as it did with
// debug/dwarf reading every DIE (and delve's reader.InlineStack), frame for
// frame, in every DWARF fixture (C, C++, Rust; DWARF 4 and 5), at every
// code offset.
func TestWalkerLookupSameAsDebugDWARF(t *testing.T) {
	for _, f := range dwarfFixtures() {
		t.Run(f.Name, func(t *testing.T) {
			m := sharedFixture(t, f.Name)
			x := m.dwarfIndex()
			if x == nil {
				t.Fatal("no DWARF index")
			}
			start, end := m.CodeRange()
			var pcs []uint64
			for pc := uint64(0); pc < uint64(end-start); pc++ {
				pcs = append(pcs, pc)
			}
			ref := slowIndex(t, m, dwarfSectionsOf(m, x.info, x.abbrev))
			t.Logf("%d offsets", diffLookups(t, x, ref, pcs))
		})
	}
}

// The walker's fallback: a unit or subprogram the walker cannot read (here
// every form made unknown to it) is read by debug/dwarf, with the same
// answers.
func TestWalkerFallback(t *testing.T) {
	for _, name := range []string{"cpp", "cpp-dwarf5"} {
		t.Run(name, func(t *testing.T) {
			m := sharedFixture(t, name)
			secs := dwarfSectionsOf(m, m.dbg.Custom(".debug_info"), m.dbg.Custom(".debug_abbrev"))
			x, errs := newDWARFIndex(secs, m.demangle, nil)
			if x == nil {
				t.Fatal(errs)
			}
			// Abbreviation tables that know no form: every walk fails at
			// its first DIE with an attribute.
			for _, u := range x.units {
				w, err := x.walker(u, u.entry)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range w.abbrevs.dense {
					for i := range a.forms {
						a.forms[i] = 0x7f
					}
					if len(a.forms) > 0 {
						a.fixed = -1
					}
				}
			}
			if _, err := x.walkSubprograms(x.units[0], x.units[0].entry); err == nil {
				t.Fatal("the walker read a unit whose forms it does not know")
			}
			start, end := m.CodeRange()
			var pcs []uint64
			for pc := uint64(0); pc < uint64(end-start); pc++ {
				pcs = append(pcs, pc)
			}
			diffLookups(t, x, slowIndex(t, m, secs), pcs)
		})
	}
}
