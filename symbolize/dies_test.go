package symbolize

import (
	"fmt"
	"testing"
)

// walkDIEs lists every DIE of every compilation unit as a dieWalker reads
// it: "offset tag children", and "null" for the null entries that end
// lists of children.
func walkDIEs(info, abbrev []byte) ([]string, error) {
	units, _ := unitHeaders(info)
	tables := map[abbrevKey]*abbrevTable{}
	var out []string
	for _, u := range units {
		w, err := newDIEWalker(info, abbrev, u.start, int(u.entry), tables)
		if err != nil {
			return out, err
		}
		for {
			off, tag, children, ok := w.next()
			if !ok {
				if w.err != nil {
					return out, w.err
				}
				break
			}
			if tag == 0 {
				out = append(out, "null") // debug/dwarf gives no offset
				continue
			}
			out = append(out, fmt.Sprintf("0x%x %v %v", off, tag, children))
		}
	}
	return out, nil
}

// dwarfSectionsOf returns the module's DWARF sections with .debug_info
// and .debug_abbrev replaced.
func dwarfSectionsOf(m *Module, info, abbrev []byte) map[string][]byte {
	secs := map[string][]byte{}
	for _, name := range dwarfSections {
		if s, ok := m.dbg.CustomSection(name); ok {
			secs[name] = s.Data
		}
	}
	secs[".debug_info"], secs[".debug_abbrev"] = info, abbrev
	return secs
}

// readDIEs is walkDIEs done by debug/dwarf, which decodes every attribute.
func readDIEs(secs map[string][]byte) ([]string, error) {
	info, abbrev := secs[".debug_info"], secs[".debug_abbrev"]
	d, err := openDWARF(secs)
	if err != nil {
		return nil, err
	}
	units, _ := unitHeaders(info)
	var out []string
	r := d.Reader()
	for _, u := range units {
		w, err := newDIEWalker(info, abbrev, u.start, int(u.entry), map[abbrevKey]*abbrevTable{})
		if err != nil {
			return out, err
		}
		r.Seek(u.entry)
		for {
			e, err := r.Next()
			if err != nil {
				return out, err
			}
			if e == nil || e.Tag != 0 && int(e.Offset) >= w.end {
				break // the next unit
			}
			if e.Tag == 0 {
				out = append(out, "null")
				continue
			}
			out = append(out, fmt.Sprintf("0x%x %v %v", e.Offset, e.Tag, e.Children))
		}
	}
	return out, nil
}

// The dieWalker reads the same DIEs as debug/dwarf in every DWARF fixture
// (DWARF 4 and 5, C, C++, Rust, Go): every form's size is right.
func TestDIEWalkerSameAsDebugDWARF(t *testing.T) {
	for _, f := range dwarfFixtures() {
		t.Run(f.Name, func(t *testing.T) {
			m := sharedFixture(t, f.Name)
			info, abbrev := m.dbg.Custom(".debug_info"), m.dbg.Custom(".debug_abbrev")
			want, err := readDIEs(dwarfSectionsOf(m, info, abbrev))
			if err != nil {
				t.Fatalf("debug/dwarf: %v", err)
			}
			got, err := walkDIEs(info, abbrev)
			if err != nil {
				t.Fatalf("dieWalker: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("dieWalker read %d DIEs, debug/dwarf %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("DIE %d: dieWalker %q, debug/dwarf %q", i, got[i], want[i])
				}
			}
		})
	}
}

// FuzzDIEWalker corrupts .debug_info or .debug_abbrev of a DWARF 5 and a
// DWARF 4 module (bytes written at pos): the walker never panics; where
// debug/dwarf reads every DIE without an error, the walker reads the same
// DIEs or fails, and the symbolizer's answers are those of debug/dwarf
// alone (referenceLookup) at every 5th code offset.
func FuzzDIEWalker(f *testing.F) {
	names := []string{"cpp-dwarf5", "cpp"}
	var mods []*Module
	for _, name := range names {
		m, _ := openFixture(f, name, Options{})
		mods = append(mods, m)
	}
	for i := range names {
		f.Add(uint8(i), uint32(0), []byte{}, false) // unchanged
		f.Add(uint8(i), uint32(0x40), []byte{0x0b}, false)
		f.Add(uint8(i), uint32(0x20), []byte{0x16, 0x0f}, true)
		f.Add(uint8(i), uint32(0x10), []byte{0xff, 0xff}, false)
		f.Add(uint8(i), uint32(0x1c), []byte{0x1f, 0x02}, true) // a GNU form
	}
	f.Fuzz(func(t *testing.T, which uint8, pos uint32, patch []byte, inAbbrev bool) {
		m := mods[int(which)%len(mods)]
		info, abbrev := m.dbg.Custom(".debug_info"), m.dbg.Custom(".debug_abbrev")
		in, ab := append([]byte(nil), info...), append([]byte(nil), abbrev...)
		d := &in
		if inAbbrev {
			d = &ab
		}
		p := int(pos % uint32(len(*d)))
		copy((*d)[p:], patch)
		got, gerr := walkDIEs(in, ab)
		secs := dwarfSectionsOf(m, in, ab)
		want, werr := readDIEs(secs)
		if werr != nil {
			return // corrupt for debug/dwarf too: no panic is the test
		}
		if gerr == nil && fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("dieWalker and debug/dwarf differ:\n%v\n%v", got, want)
		}
		x, _ := newDWARFIndex(secs, m.demangle, nil)
		if x == nil {
			return
		}
		start, end := m.CodeRange()
		var pcs []uint64
		for pc := uint64(0); pc < uint64(end-start); pc += 5 {
			pcs = append(pcs, pc)
		}
		diffLookups(t, x, slowIndex(t, m, secs), pcs)
	})
}
