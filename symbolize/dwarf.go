package symbolize

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/reader"
)

// dwarfSections are the custom sections a wasm module's DWARF may use:
// DWARF 4's and DWARF 5's (tool-conventions Debugging.md). debug/dwarf
// takes the first group through New and the DWARF 5 group through
// AddSection; it has no use for .debug_loclists (variable locations), which
// a symbolizer does not need either.
var dwarfSections = []string{
	".debug_abbrev", ".debug_aranges", ".debug_info", ".debug_line", ".debug_ranges", ".debug_str",
	".debug_addr", ".debug_line_str", ".debug_str_offsets", ".debug_rnglists", ".debug_loclists",
}

// attrMIPSLinkageName is DW_AT_MIPS_linkage_name, which older compilers
// write instead of DW_AT_linkage_name.
const attrMIPSLinkageName dwarf.Attr = 0x2007

// dwarfIndex answers code offsets from a module's DWARF: the line table for
// file:line:column, the subprogram whose ranges contain the offset for the
// function, and the inlined subroutines inside it (loaded with delve's
// godwarf trees, walked with reader.InlineStack) for the inlining chain.
type dwarfIndex struct {
	data     *dwarf.Data
	lines    lineTable
	funcs    []funcRange // sorted by low
	units    []unitFiles
	versions []int // DWARF versions of the units, sorted, each once

	mu    sync.Mutex
	trees map[dwarf.Offset]treeOrErr
}

// funcRange is one address range of a subprogram.
type funcRange struct {
	low, high uint64
	maxHigh   uint64 // highest high of this and every earlier range
	die       dwarf.Offset
	unit      int32
}

// unitFiles maps a unit's file numbers (DW_AT_decl_file, DW_AT_call_file)
// to lineTable.files; -1 for none.
type unitFiles []int32

type treeOrErr struct {
	tree *godwarf.Tree
	err  error
}

// newDWARFIndex reads every unit of the DWARF in sections. A problem in one
// unit's line program costs that unit's lines (a warning); a problem in
// .debug_info stops the walk there: what was read before still answers,
// and the error is returned beside the index. A nil index means no usable
// DWARF at all.
func newDWARFIndex(sections map[string][]byte) (*dwarfIndex, []error) {
	s := sections
	data, err := dwarf.New(s[".debug_abbrev"], s[".debug_aranges"], nil, s[".debug_info"], s[".debug_line"], nil, s[".debug_ranges"], s[".debug_str"])
	if err != nil {
		return nil, []error{dwarfError(err)}
	}
	for _, name := range dwarfSections[6:] {
		if b, ok := s[name]; ok {
			if err := data.AddSection(name, b); err != nil {
				return nil, []error{fmt.Errorf("section %s: %w", name, err)}
			}
		}
	}
	x := &dwarfIndex{data: data, trees: map[dwarf.Offset]treeOrErr{}}
	var warns []error
	fileIDs := map[string]uint32{}
	r := data.Reader()
	unit := int32(-1)
	for {
		e, err := r.Next()
		if err != nil {
			warns = append(warns, dwarfError(err))
			break
		}
		if e == nil {
			break
		}
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			unit = int32(len(x.units))
			x.units = append(x.units, nil)
			lr, err := data.LineReader(e)
			if err != nil {
				warns = append(warns, lineError(e.Offset, err))
				continue
			}
			if lr == nil {
				continue
			}
			files, err := x.lines.addUnit(lr, fileIDs)
			if err != nil {
				warns = append(warns, lineError(e.Offset, err))
				continue
			}
			x.units[unit] = files
		case dwarf.TagSubprogram:
			if unit >= 0 {
				ranges, err := data.Ranges(e)
				if err != nil {
					warns = append(warns, fmt.Errorf("section .debug_info at offset 0x%x: subprogram ranges: %w", uint64(e.Offset), err))
				}
				for _, rg := range ranges {
					if isTombstone(rg[0]) || rg[1] <= rg[0] {
						continue
					}
					x.funcs = append(x.funcs, funcRange{low: rg[0], high: rg[1], die: e.Offset, unit: unit})
				}
			}
			if e.Children {
				r.SkipChildren()
			}
		}
	}
	x.lines.finish()
	sort.SliceStable(x.funcs, func(i, j int) bool { return x.funcs[i].low < x.funcs[j].low })
	var hi uint64
	for i := range x.funcs {
		hi = max(hi, x.funcs[i].high)
		x.funcs[i].maxHigh = hi
	}
	x.versions = unitVersions(s[".debug_info"])
	if len(x.units) == 0 {
		if len(warns) == 0 {
			warns = append(warns, errors.New("section .debug_info: no compilation units"))
		}
		return nil, warns
	}
	return x, warns
}

// dwarfError words a debug/dwarf decoding error with its section and
// offset the way the rest of wasmdbg does.
func dwarfError(err error) error {
	var de dwarf.DecodeError
	if errors.As(err, &de) {
		return fmt.Errorf("section .debug_%s at offset 0x%x: %s", de.Name, uint64(de.Offset), de.Err)
	}
	return fmt.Errorf("section .debug_info: %w", err)
}

// unitVersions lists the DWARF versions of the units in .debug_info, each
// once, sorted: debug/dwarf reads them but does not say. A unit header
// starts with its length (4 bytes, or 0xffffffff and 8 bytes) and version
// (2 bytes), DWARF 5 §7.5.1.
func unitVersions(info []byte) []int {
	seen := map[int]bool{}
	var vs []int
	for off := uint64(0); off+6 <= uint64(len(info)); {
		n := uint64(binary.LittleEndian.Uint32(info[off:]))
		hdr := uint64(4)
		if n == 0xffffffff {
			if off+14 > uint64(len(info)) {
				break
			}
			n, hdr = binary.LittleEndian.Uint64(info[off+4:]), 12
		}
		v := int(binary.LittleEndian.Uint16(info[off+hdr:]))
		if !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
		if n > uint64(len(info))-off-hdr {
			break
		}
		off += hdr + n
	}
	sort.Ints(vs)
	return vs
}

// function returns the subprogram range containing pc; when ranges nest
// (they should not), the one starting last, the innermost.
func (x *dwarfIndex) function(pc uint64) (funcRange, bool) {
	i := sort.Search(len(x.funcs), func(i int) bool { return x.funcs[i].low > pc }) - 1
	for ; i >= 0 && x.funcs[i].maxHigh > pc; i-- {
		if pc < x.funcs[i].high {
			return x.funcs[i], true
		}
	}
	return funcRange{}, false
}

// tree loads (once) the DIE tree of the subprogram at off.
func (x *dwarfIndex) tree(off dwarf.Offset) (*godwarf.Tree, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if t, ok := x.trees[off]; ok {
		return t.tree, t.err
	}
	t, err := loadTree(off, x.data)
	x.trees[off] = treeOrErr{t, err}
	return t, err
}

// loadTree is godwarf.LoadTree, which may panic on malformed input (it
// asserts entry types); a panic there is reported as corrupt DWARF.
func loadTree(off dwarf.Offset, data *dwarf.Data) (t *godwarf.Tree, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("section .debug_info at offset 0x%x: malformed subprogram: %v", uint64(off), r)
		}
	}()
	t, err = godwarf.LoadTree(off, data, 0)
	if err != nil {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: %w", uint64(off), err)
	}
	return t, nil
}

// dwarfFrame is one frame of a DWARF answer before names are demangled.
type dwarfFrame struct {
	name    string // linkage name when there is one, else the plain name
	loc     row
	inlined bool
}

// lookup returns the frames at code offset pc, innermost first, or false
// when DWARF knows nothing about pc. A non-nil error is a problem with
// the inlining information: the frames are then those without it.
func (x *dwarfIndex) lookup(pc uint64) ([]dwarfFrame, bool, error) {
	r, haveRow := x.lines.lookup(pc)
	fn, haveFn := x.function(pc)
	if !haveFn {
		if !haveRow {
			return nil, false, nil
		}
		return []dwarfFrame{{loc: r}}, true, nil
	}
	t, err := x.tree(fn.die)
	if err != nil {
		return []dwarfFrame{{loc: r}}, true, err
	}
	stack := reader.InlineStack(t, pc)
	frames := make([]dwarfFrame, 0, len(stack)+1)
	cur := r
	for _, in := range stack {
		frames = append(frames, dwarfFrame{name: dieName(in.Entry), loc: cur, inlined: true})
		cur = x.callSite(fn.unit, in.Entry)
	}
	frames = append(frames, dwarfFrame{name: dieName(t.Entry), loc: cur})
	return frames, true, nil
}

// callSite is where an inlined subroutine was called from.
func (x *dwarfIndex) callSite(unit int32, e godwarf.Entry) row {
	return row{
		File:   x.fileName(unit, e.Val(dwarf.AttrCallFile)),
		Line:   intVal(e.Val(dwarf.AttrCallLine)),
		Column: intVal(e.Val(dwarf.AttrCallColumn)),
	}
}

// declaration is where the subprogram containing pc is declared, with its
// name: for frames that name a function but carry no offset.
func (x *dwarfIndex) declaration(pc uint64) (dwarfFrame, bool) {
	fn, ok := x.function(pc)
	if !ok {
		return dwarfFrame{}, false
	}
	t, err := x.tree(fn.die)
	if err != nil {
		return dwarfFrame{}, false
	}
	return dwarfFrame{name: dieName(t.Entry), loc: row{
		File: x.fileName(fn.unit, t.Val(dwarf.AttrDeclFile)),
		Line: intVal(t.Val(dwarf.AttrDeclLine)),
	}}, true
}

func (x *dwarfIndex) fileName(unit int32, v any) string {
	i, ok := v.(int64)
	if !ok || unit < 0 || int(unit) >= len(x.units) {
		return ""
	}
	files := x.units[unit]
	if i < 0 || i >= int64(len(files)) || files[i] < 0 {
		return ""
	}
	return x.lines.files[files[i]]
}

func intVal(v any) int {
	if i, ok := v.(int64); ok && i >= 0 && i <= 1<<31-1 {
		return int(i)
	}
	return 0
}

// dieName is the name llvm-symbolizer would show for a subprogram or an
// inlined subroutine: its linkage name (mangled) when it or the DIEs it
// refers to have one, else its plain name.
func dieName(e godwarf.Entry) string {
	for _, a := range []dwarf.Attr{dwarf.AttrLinkageName, attrMIPSLinkageName, dwarf.AttrName} {
		if s, ok := e.Val(a).(string); ok && s != "" {
			return s
		}
	}
	return ""
}
