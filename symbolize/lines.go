package symbolize

import (
	"debug/dwarf"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// lineTable is every row of a unit's line program, indexed for
// lookups by code offset. Rows are not trusted to be sorted (Zig and some
// LLVM output interleave them, so debug/dwarf's SeekPC can miss): each
// sequence's rows are sorted here, sequences are sorted by their first
// address, and a lookup is two binary searches.
type lineTable struct {
	seqs  []lineSeq
	rows  []lineRow
	files []string // file names, deduplicated across units
}

// lineSeq is one DW_LNE_end_sequence-terminated run of rows covering the
// code offsets [low, high); its rows are rows[first:last].
type lineSeq struct {
	low, high   uint64
	maxHigh     uint64 // the highest high of this and every earlier sequence
	first, last int
}

type lineRow struct {
	addr   uint64
	file   uint32 // index into lineTable.files
	line   uint32
	column uint32
}

// row is a resolved line-table answer.
type row struct {
	File   string
	Line   int
	Column int
}

// isTombstone reports whether a code offset marks code the linker dropped.
// wasm-ld writes -1 (and -2 in .debug_ranges/.debug_loc, where -1 selects
// a base address; both truncated to 32 bits in wasm32) and older linkers 0;
// offset 0 is the code section's function count, never an instruction.
func isTombstone(addr uint64) bool {
	return addr == 0 || addr >= 0xfffffffe
}

// usableRange reports whether a DWARF address range can hold code: it does
// not start at a tombstone, is not empty, and ends inside wasm32's address
// space. TinyGo's wasi-libc DWARF has inlined subroutines whose
// DW_AT_high_pc length runs to 2^32, which would cover every later
// function; llvm-symbolizer does not report them either.
func usableRange(rg [2]uint64) bool {
	return !isTombstone(rg[0]) && rg[0] < rg[1] && rg[1] <= 0xfffffffe
}

// unitLines reads the line program of one compilation unit into t and
// returns the unit's file table as indexes into t.files (nil entries stay
// -1), for DW_AT_decl_file and DW_AT_call_file.
func (t *lineTable) addUnit(lr *dwarf.LineReader, fileIDs map[string]uint32) ([]int32, error) {
	var e dwarf.LineEntry
	start, startSeqs := len(t.rows), len(t.seqs)
	inSeq := false
	seqStart := 0
	fileIndex := map[*dwarf.LineFile]uint32{}
	for {
		err := lr.Next(&e)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.rows, t.seqs = t.rows[:start], t.seqs[:startSeqs]
			return nil, err
		}
		if !inSeq {
			inSeq, seqStart = true, len(t.rows)
		}
		if e.EndSequence {
			t.endSequence(seqStart, e.Address)
			inSeq = false
			continue
		}
		id, ok := fileIndex[e.File]
		if !ok {
			name := ""
			if e.File != nil {
				name = e.File.Name
			}
			id = t.fileID(name, fileIDs)
			fileIndex[e.File] = id
		}
		t.rows = append(t.rows, lineRow{addr: e.Address, file: id, line: clampU32(e.Line), column: clampU32(e.Column)})
	}
	if inSeq { // a program that ends without DW_LNE_end_sequence: its rows answer nothing
		t.rows = t.rows[:seqStart]
	}
	files := lr.Files()
	ids := make([]int32, len(files))
	for i, f := range files {
		ids[i] = -1
		if f != nil {
			ids[i] = int32(t.fileID(f.Name, fileIDs))
		}
	}
	return ids, nil
}

func clampU32(v int) uint32 {
	if v < 0 {
		return 0
	}
	if v > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(v)
}

func (t *lineTable) fileID(name string, ids map[string]uint32) uint32 {
	if id, ok := ids[name]; ok {
		return id
	}
	key := name
	name = unjoinURL(name)
	id := uint32(len(t.files))
	t.files = append(t.files, name)
	ids[key] = id
	return id
}

// urlInPath finds a URL scheme ("wasisdk:/" once cleaned) at the start of
// a file name or of one of its elements; one letter is a drive, not a
// scheme.
var urlInPath = regexp.MustCompile(`(?:^|/)([A-Za-z][A-Za-z0-9+.-]+):/`)

// unjoinURL undoes what debug/dwarf does to a file name whose directory is
// a URL, as wasi-sdk's debug prefix map makes its libc's
// ("wasisdk://v19.13g935fe1acd2fc/src/…"): debug/dwarf takes it for a
// relative path, joins it under the compilation directory and cleans away
// its "//". llvm-symbolizer takes it for absolute; so does this, from the
// last scheme in the name, with its "//" back.
func unjoinURL(name string) string {
	if !strings.Contains(name, ":/") {
		return name
	}
	locs := urlInPath.FindAllStringSubmatchIndex(name, -1)
	if len(locs) == 0 {
		return name
	}
	last := locs[len(locs)-1]
	scheme, rest := name[last[2]:last[3]], name[last[3]+2:]
	return scheme + "://" + strings.TrimPrefix(rest, "/")
}

// endSequence closes the sequence of rows[first:] ending at high, or drops
// it when the linker tombstoned it or it is empty.
func (t *lineTable) endSequence(first int, high uint64) {
	rows := t.rows[first:]
	if len(rows) == 0 {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].addr < rows[j].addr })
	low := rows[0].addr
	if isTombstone(low) || high <= low {
		t.rows = t.rows[:first]
		return
	}
	t.seqs = append(t.seqs, lineSeq{low: low, high: high, first: first, last: len(t.rows)})
}

// finish sorts the sequences; call it once every unit is added.
func (t *lineTable) finish() {
	sort.SliceStable(t.seqs, func(i, j int) bool { return t.seqs[i].low < t.seqs[j].low })
	var hi uint64
	for i := range t.seqs {
		hi = max(hi, t.seqs[i].high)
		t.seqs[i].maxHigh = hi
	}
}

// lookup returns the row for code offset pc: in the sequence containing pc,
// the last row at or below pc (llvm-symbolizer's choice when rows share an
// address).
func (t *lineTable) lookup(pc uint64) (row, bool) {
	// The last sequence starting at or below pc; sequences should not
	// overlap, but when they do, an earlier one may still contain pc, as
	// long as maxHigh says one does.
	i := sort.Search(len(t.seqs), func(i int) bool { return t.seqs[i].low > pc }) - 1
	for ; i >= 0 && t.seqs[i].maxHigh > pc; i-- {
		s := t.seqs[i]
		if pc < s.high {
			rows := t.rows[s.first:s.last]
			j := sort.Search(len(rows), func(j int) bool { return rows[j].addr > pc }) - 1
			r := rows[j]
			return row{File: t.files[r.file], Line: int(r.line), Column: int(r.column)}, true
		}
	}
	return row{}, false
}

// lineError positions a line-program error at its unit.
func lineError(unit dwarf.Offset, err error) error {
	return fmt.Errorf("section .debug_line: line program of the unit at .debug_info+0x%x: %w", uint64(unit), err)
}
