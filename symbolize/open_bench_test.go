package symbolize

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// spread returns n code offsets spread evenly over the function bodies of m.
func spread(m *Module, n int) []loc.CodeOffset {
	start, _ := m.CodeRange()
	var total uint64
	for _, b := range m.mod.Code {
		total += uint64(b.End - b.Start)
	}
	offs := make([]loc.CodeOffset, 0, n)
	step := float64(total) / float64(n)
	bi, base := 0, uint64(0) // body index, body bytes before it
	for i := range n {
		pos := uint64(float64(i) * step)
		for pos >= base+uint64(m.mod.Code[bi].End-m.mod.Code[bi].Start) {
			base += uint64(m.mod.Code[bi].End - m.mod.Code[bi].Start)
			bi++
		}
		b := m.mod.Code[bi]
		offs = append(offs, loc.CodeOffset(b.Start-start)+loc.CodeOffset(pos-base))
	}
	return offs
}

// BenchmarkLookup100k resolves 100,000 addresses spread over the bodies of
// a DWARF fixture (indexes built, once, before the clock starts); ns/op is
// for all 100,000.
func BenchmarkLookup100k(b *testing.B) {
	for _, name := range []string{"cpp", "cpp-dwarf5", "rust"} {
		b.Run(name, func(b *testing.B) {
			m, _ := openFixture(b, name, Options{})
			offs := spread(m, 100_000)
			m.Lookup(offs[0])
			b.ResetTimer()
			for b.Loop() {
				for _, o := range offs {
					if _, err := m.Lookup(o); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(offs)), "ns/lookup")
		})
	}
}

// BenchmarkOpenFirstLookup is the cost of opening a module and answering
// its first offset: parsing the sections and building the DWARF index.
func BenchmarkOpenFirstLookup(b *testing.B) {
	for _, name := range []string{"cpp", "cpp-dwarf5", "rust"} {
		b.Run(name, func(b *testing.B) {
			raw, err := os.ReadFile(fixturePath(b, name))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				m, err := New("x.wasm", raw, Options{})
				if err != nil {
					b.Fatal(err)
				}
				start, _ := m.CodeRange()
				m.Lookup(loc.ModuleOffset(start + 0x100))
			}
		})
	}
}

// BenchmarkBatch100k is `wasmdbg symbolize --addr-file` minus process start:
// 100,000 code offsets read as text, answered as llvm-symbolizer text.
func BenchmarkBatch100k(b *testing.B) {
	for _, name := range []string{"cpp", "rust"} {
		b.Run(name, func(b *testing.B) {
			raw, err := os.ReadFile(fixturePath(b, name))
			if err != nil {
				b.Fatal(err)
			}
			m, _ := openFixture(b, name, Options{})
			var in strings.Builder
			for _, o := range spread(m, 100_000) {
				fmt.Fprintf(&in, "0x%x\n", uint64(o))
			}
			for b.Loop() {
				// A fresh module each time: the command opens one per run.
				m, err := New("x.wasm", raw, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := m.Batch(strings.NewReader(in.String()), "addrs", io.Discard, true, Format{}, func(error) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
