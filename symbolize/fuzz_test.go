package symbolize

import (
	"os"
	"sync"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

var (
	fuzzModulesOnce sync.Once
	fuzzModules     []*Module
)

// FuzzLookup looks up random offsets, in every convention, in every
// fixture: never a panic, and an answer in one convention is the answer in
// the others.
func FuzzLookup(f *testing.F) {
	f.Add(uint8(0), uint64(0x165c), uint8(0))
	f.Add(uint8(1), uint64(0x27), uint8(1))
	f.Add(uint8(2), uint64(52)<<32|3, uint8(2))
	f.Add(uint8(3), uint64(1<<63), uint8(0))
	fuzzModulesOnce.Do(func() {
		for _, fx := range fixtures.All() {
			m, _ := openFixture(f, fx.Name, Options{})
			fuzzModules = append(fuzzModules, m)
		}
	})
	f.Fuzz(func(t *testing.T, which uint8, off uint64, conv uint8) {
		m := fuzzModules[int(which)%len(fuzzModules)]
		var o loc.Offset
		switch conv % 3 {
		case 0:
			o = loc.ModuleOffset(off)
		case 1:
			o = loc.CodeOffset(off)
		default:
			o = loc.FuncOffset{Func: uint32(off >> 32), Offset: off & 0xffffffff}
		}
		frames, err := m.Lookup(o)
		if err != nil {
			return
		}
		if len(frames) == 0 || frames[len(frames)-1].Inlined || frames[len(frames)-1].Function == "" {
			t.Fatalf("Lookup(%s) = %+v", o, frames)
		}
		mo, err := m.ModuleOffset(o)
		if err != nil {
			t.Fatal(err)
		}
		again, err := m.Lookup(mo)
		if err != nil || len(again) != len(frames) {
			t.Fatalf("Lookup(%s) = %+v, but Lookup(%s) = %+v, %v", o, frames, mo, again, err)
		}
		idx, _ := m.FuncIndex(o)
		if _, err := m.LookupFunc(idx); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSections corrupts one custom section of the cpp fixture (a DWARF
// section, the name section…) and looks offsets up in the stripped build
// carrying the result: corrupt debug information is warned about, never a
// panic or a hang. The input is a patch (bytes written at pos) and a cut
// (the section's new length, when below it) rather than whole sections,
// so that inputs stay small for the fuzzer to mutate and minimize.
func FuzzSections(f *testing.F) {
	stripped, err := os.ReadFile(fixturePath(f, "cpp-stripped"))
	if err != nil {
		f.Fatal(err)
	}
	full, _ := openFixture(f, "cpp", Options{})
	var names []string
	var datas [][]byte
	for _, s := range full.mod.Sections {
		if s.ID == 0 {
			names = append(names, s.Name)
			datas = append(datas, s.Data)
		}
	}
	for i := range names {
		f.Add(uint8(i), uint32(0), []byte{}, uint32(1<<31), uint16(0x165c))
		f.Add(uint8(i), uint32(11), []byte{0xff, 0xff, 0xff, 0xff}, uint32(1<<31), uint16(0x1573))
		f.Add(uint8(i), uint32(0), []byte{0x00}, uint32(len(datas[i])/2), uint16(0x2538))
	}
	start, end := full.CodeRange()
	f.Fuzz(func(t *testing.T, which uint8, pos uint32, patch []byte, cut uint32, off uint16) {
		i := int(which) % len(names)
		d := append([]byte(nil), datas[i]...)
		if int(cut) < len(d) {
			d = d[:cut]
		}
		if len(d) > 0 {
			p := int(pos % uint32(len(d)))
			d = append(d[:p], append(patch, d[min(len(d), p+len(patch)):]...)...)
		} else {
			d = patch
		}
		b := stripped
		for j := range names {
			if j == i {
				b = appendCustom(b, names[j], d)
			} else {
				b = appendCustom(b, names[j], datas[j])
			}
		}
		m, err := New("fuzz.wasm", b, Options{Warn: func(string) {}})
		if err != nil {
			t.Fatal(err) // custom sections never fail a module
		}
		span := uint64(end - start)
		for _, o := range []uint64{0x165c, 0x1573, 0x2538, uint64(start) + uint64(off)%span} {
			if frames, err := m.Lookup(loc.ModuleOffset(o)); err == nil && len(frames) == 0 {
				t.Fatalf("Lookup(0x%x): no frames and no error", o)
			}
		}
		m.LookupFunc(uint32(off % 90))
	})
}
