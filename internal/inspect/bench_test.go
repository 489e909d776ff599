package inspect

import (
	"io"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// BenchmarkInspect parses, inspects and writes the JSON report of the cpp
// fixture (DWARF 4, a name section): the work of `wasmdbg inspect --json`
// without process start-up. scripts/bench/inspect.sh compares the command
// with wasm-objdump.
func BenchmarkInspect(b *testing.B) {
	f, ok := fixtures.Get("cpp")
	if !ok {
		b.Skip("fixture cpp not registered")
	}
	data, err := f.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := wasm.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		r, err := Inspect(m, len(data), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
