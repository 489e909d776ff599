package inspect

import (
	"encoding/binary"
	"sort"
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
