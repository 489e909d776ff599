package inspect

import (
	"debug/dwarf"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// unitVersions walks the unit headers of .debug_info (DWARF 4 §7.5.1.1,
// DWARF 5 §7.5.1.1: unit_length, then a 2-byte version) and returns the
// distinct versions, ascending, and the number of units. A module can mix
// versions: clang's -gdwarf-5 units linked with a libc built for DWARF 4.
// A truncated header ends the walk; symbolize reports such damage.
func unitVersions(info []byte) (versions []int, units int) {
	seen := map[int]bool{}
	for off := uint64(0); off+6 <= uint64(len(info)); {
		length, hdr := uint64(binary.LittleEndian.Uint32(info[off:])), uint64(4)
		if length == 0xffffffff { // 64-bit DWARF
			if off+14 > uint64(len(info)) {
				break
			}
			length, hdr = binary.LittleEndian.Uint64(info[off+4:]), 12
		} else if length >= 0xfffffff0 {
			break // reserved values
		}
		v := int(binary.LittleEndian.Uint16(info[off+hdr:]))
		if v < 2 || v > 5 {
			break
		}
		units++
		if !seen[v] {
			seen[v] = true
			versions = append(versions, v)
		}
		next := off + hdr + length
		if length == 0 || next < off || next > uint64(len(info)) {
			break
		}
		off = next
	}
	sort.Ints(versions)
	return versions, units
}

// lineVersion is the version of the first line program header
// (.debug_line), for modules whose .debug_info is missing or unreadable.
func lineVersion(line []byte) int {
	if len(line) < 6 {
		return 0
	}
	hdr := 4
	if binary.LittleEndian.Uint32(line) == 0xffffffff {
		if len(line) < 14 {
			return 0
		}
		hdr = 12
	}
	if v := int(binary.LittleEndian.Uint16(line[hdr:])); v >= 2 && v <= 5 {
		return v
	}
	return 0
}

// dwarfSections are the sections debug/dwarf reads besides the DWARF 4
// ones passed to dwarf.New.
var dwarf5Sections = []string{".debug_addr", ".debug_line_str", ".debug_str_offsets", ".debug_rnglists", ".debug_loclists"}

// rangeCheck counts the address ranges of the compile units and how many
// of them start exactly where a function body does. In a module as the
// linker wrote it every one does (each function's range begins at its body's
// start, as a code offset); a module rewritten afterwards (wasm-opt, which
// clang runs behind your back when it is on PATH and -O is on the link
// line) keeps DWARF that no longer matches its code: Binaryen without -g
// zeroes the addresses. Only the unit entries are decoded, so a 6 MB Rust
// debug build is checked in milliseconds.
func rangeCheck(m *wasm.Module, units int) (ranges, matched, zeroed int, err error) {
	defer func() {
		// debug/dwarf is the standard library's; a panic on a malformed
		// section there must not take inspect down.
		if p := recover(); p != nil {
			err = fmt.Errorf("read DWARF: %v", p)
		}
	}()
	d, err := dwarf.New(m.Custom(".debug_abbrev"), nil, nil, m.Custom(".debug_info"), m.Custom(".debug_line"),
		nil, m.Custom(".debug_ranges"), m.Custom(".debug_str"))
	if err != nil {
		return 0, 0, 0, err
	}
	for _, name := range dwarf5Sections {
		if b := m.Custom(name); b != nil {
			if err := d.AddSection(name, b); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	starts := make(map[uint64]bool, len(m.Code))
	for _, b := range m.Code {
		starts[uint64(b.Start-m.CodeStart)] = true
	}
	r := d.Reader()
	for i := 0; i < units; i++ {
		e, err := r.Next()
		if err != nil {
			return ranges, matched, zeroed, err
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit || e.Tag == dwarf.TagSkeletonUnit {
			rs, err := d.Ranges(e)
			if err != nil {
				return ranges, matched, zeroed, err
			}
			for _, rg := range rs {
				switch low := rg[0]; {
				case low == 0 && rg[1] <= 1:
					// Binaryen's and old linkers' mark of code that moved or died.
					zeroed++
				case low >= 0xfffffffe:
					// wasm-ld's tombstones (-1, -2) for dead code.
				default:
					ranges++
					if starts[low] {
						matched++
					}
				}
			}
		}
		if i+1 < units {
			r.SkipChildren() // on a unit entry: a jump to the next unit
		}
	}
	return ranges, matched, zeroed, nil
}
