package wasm

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
)

// FuzzParse checks that Parse never panics and that what it returns holds
// together: sections inside the file and in order, function bodies inside
// the code section and found again by FuncAt, errors and warnings of type
// *Error. Seeds: the testdata modules, every fixture, and the hand-made
// modules of the error tables.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	for _, p := range paths {
		f.Add(readTestdata(f, filepath.Base(p)))
	}
	for _, fx := range fixtures.All() {
		if b, err := fx.Bytes(); err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Add(module(typeVoid, funcOne, codeOne, custom("name", []byte{0, 2}, str("m"))))
	f.Add(module(typeVoid, importLog, sec(7, []byte{1}, str("x"), []byte{0, 0})))
	f.Add(module(custom("producers", []byte{1}, str("language"), []byte{1}, str("Go"), str("go1.26"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			return
		}
		end := uint64(8)
		for _, s := range m.Sections {
			if uint64(s.Offset) != end || uint64(s.End()) > uint64(len(b)) || int(s.Size) != len(s.Payload) {
				t.Fatalf("section %s at %s..%s out of place (previous ended at 0x%x, file 0x%x)", s.Name, s.Offset, s.End(), end, len(b))
			}
			end = uint64(s.End())
		}
		if end != uint64(len(b)) {
			t.Fatalf("sections end at 0x%x, file at 0x%x", end, len(b))
		}
		if len(m.Code) != len(m.Funcs) {
			t.Fatalf("%d bodies, %d functions", len(m.Code), len(m.Funcs))
		}
		cs, _ := m.Section(SectionCode)
		prev := cs.PayloadOffset
		for i, c := range m.Code {
			if c.SizeOffset < prev || c.Start <= c.SizeOffset || c.End <= c.Start || c.End > cs.End() {
				t.Fatalf("body %d %+v out of place", i, c)
			}
			if got, ok := m.FuncAt(c.Start); !ok || got != c {
				t.Fatalf("FuncAt(%s) = %+v %v, want %+v", c.Start, got, ok, c)
			}
			if got, ok := m.FuncAt(c.End - 1); !ok || got != c {
				t.Fatalf("FuncAt(%s) = %+v %v, want %+v", c.End-1, got, ok, c)
			}
			prev = c.End
		}
		for _, w := range m.Warnings {
			var e *Error
			if !errors.As(w, &e) {
				t.Fatalf("warning %T %v is not an *Error", w, w)
			}
		}
		for idx := range m.NumFuncs() {
			m.FuncType(idx)
		}
	})
}
