package wasm

import (
	"sort"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// largestFixture returns the biggest fixture module, or dwarf5.wasm before
// any fixture is registered.
func largestFixture(b *testing.B) (string, []byte) {
	all := fixtures.All()
	type mod struct {
		name string
		data []byte
	}
	var mods []mod
	for _, f := range all {
		d, err := f.Bytes()
		if err != nil {
			b.Fatal(err)
		}
		mods = append(mods, mod{f.Name, d})
	}
	if len(mods) == 0 {
		return "dwarf5.wasm", readTestdata(b, "dwarf5.wasm")
	}
	sort.Slice(mods, func(i, j int) bool { return len(mods[i].data) > len(mods[j].data) })
	return mods[0].name, mods[0].data
}

// BenchmarkParse parses the largest fixture; scripts/bench/inspect.sh puts
// the whole command side by side with wasm-objdump.
func BenchmarkParse(b *testing.B) {
	name, data := largestFixture(b)
	b.Logf("module %s, %d bytes", name, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFuncAt looks up the function containing every body's start.
func BenchmarkFuncAt(b *testing.B) {
	_, data := largestFixture(b)
	m, err := Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	offs := make([]loc.ModuleOffset, len(m.Code))
	for i, c := range m.Code {
		offs[i] = c.Start + 1
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, o := range offs {
			if _, ok := m.FuncAt(o); !ok {
				b.Fatal("not found")
			}
		}
	}
}
