package inspect

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// FuzzInspect feeds every module the reader accepts through Inspect and both
// writers: whatever the module, inspect answers without panicking.
func FuzzInspect(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, fx := range fixtures.All() {
		if b, err := fx.Bytes(); err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wasm.Parse(b)
		if err != nil {
			return
		}
		for _, h := range Hosts() {
			r, err := Inspect(m, len(b), Options{Host: h[0]})
			if err != nil {
				t.Fatal(err)
			}
			if r.HostCheck.Loads != (len(r.HostCheck.Problems) == 0) {
				t.Fatalf("loads %v with problems %v", r.HostCheck.Loads, r.HostCheck.Problems)
			}
			if err := r.WriteText(io.Discard); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(io.Discard); err != nil {
				t.Fatal(err)
			}
		}
	})
}
