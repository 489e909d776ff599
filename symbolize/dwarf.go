package symbolize

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"sort"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/reader"

	"github.com/wasmdbg/wasmdbg/internal/loc"
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
// function, and the inlined subroutines inside it (loaded into delve's
// godwarf trees, walked with reader.InlineStack) for the inlining chain.
//
// Like llvm-symbolizer it finds the compilation unit first, by the unit's
// ranges, and indexes a unit (its line program and subprograms) only when
// an offset falls in it: a crash's dozen frames in a 6 MB Rust module read
// a few of its 119 units.
type dwarfIndex struct {
	data     *dwarf.Data
	units    []*unitIndex
	cus      []cuRange    // ranges of units, sorted by low
	unranged []*unitIndex // units that give no ranges: searched when no ranged unit answers
	versions []int        // DWARF versions of the units, sorted, each once

	// demangle gives a name's readable form (Module.demangle), stored with
	// each subprogram so that lookups do not demangle; warn reports
	// problems found while indexing a unit.
	demangle func(string) string
	warn     func(error)

	mu    sync.Mutex
	progs map[dwarf.Offset]*subprogram
}

// unitIndex is one compilation unit, indexed on first use.
type unitIndex struct {
	entry dwarf.Offset // the unit's DIE
	once  sync.Once
	lines lineTable
	files []int32     // the unit's file numbers (DW_AT_decl_file, DW_AT_call_file) -> lines.files; -1 none
	funcs []funcRange // sorted by low
}

type cuRange struct {
	low, high, maxHigh uint64 // maxHigh: highest high of this and every earlier range
	unit               *unitIndex
}

// funcRange is one address range of a subprogram.
type funcRange struct {
	low, high uint64
	maxHigh   uint64 // highest high of this and every earlier range
	die       dwarf.Offset
	unit      *unitIndex
}

// subprogram is a function's DIE tree with what lookups read from it,
// resolved once: names and call sites.
type subprogram struct {
	tree     *godwarf.Tree
	name     string
	readable string // demangled name, "" when it is name
	decl     row
	inlined  map[*godwarf.Tree]inlinedCall // every inlined subroutine in tree
	err      error
}

type inlinedCall struct {
	name, readable string
	call           row // where it was inlined into its caller
}

// newDWARFIndex opens the DWARF in sections and reads each compilation
// unit's entry and ranges. A nil index means no usable DWARF at all, with
// the reason; otherwise the errors are problems with some units, which the
// others survive.
func newDWARFIndex(sections map[string][]byte, demangle func(string) string, warn func(error)) (*dwarfIndex, []error) {
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
	x := &dwarfIndex{data: data, demangle: demangle, warn: warn, progs: map[dwarf.Offset]*subprogram{}}
	var warns []error
	entries, versions := unitHeaders(s[".debug_info"])
	x.versions = versions
	r := data.Reader()
	for _, off := range entries {
		r.Seek(off)
		e, err := r.Next()
		if err != nil {
			warns = append(warns, dwarfError(err))
			continue
		}
		if e == nil || (e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit && e.Tag != tagSkeletonUnit) {
			continue
		}
		u := &unitIndex{entry: e.Offset}
		x.units = append(x.units, u)
		ranges, err := data.Ranges(e)
		if err != nil {
			warns = append(warns, fmt.Errorf("section .debug_info at offset 0x%x: unit ranges: %w", uint64(e.Offset), err))
		}
		ranged := false
		for _, rg := range ranges {
			if usableRange(rg) {
				x.cus = append(x.cus, cuRange{low: rg[0], high: rg[1], unit: u})
				ranged = true
			}
		}
		if !ranged {
			x.unranged = append(x.unranged, u)
		}
	}
	sort.SliceStable(x.cus, func(i, j int) bool { return x.cus[i].low < x.cus[j].low })
	var hi uint64
	for i := range x.cus {
		hi = max(hi, x.cus[i].high)
		x.cus[i].maxHigh = hi
	}
	if len(x.units) == 0 {
		if len(warns) == 0 {
			warns = append(warns, errors.New("section .debug_info: no compilation units"))
		}
		return nil, warns
	}
	return x, warns
}

// tagSkeletonUnit is DW_TAG_skeleton_unit (DWARF 5), which debug/dwarf
// does not name.
const tagSkeletonUnit dwarf.Tag = 0x4a

// index reads unit u's line program and subprograms, once.
func (x *dwarfIndex) index(u *unitIndex) {
	u.once.Do(func() {
		r := x.data.Reader()
		r.Seek(u.entry)
		cu, err := r.Next()
		if err != nil || cu == nil {
			x.report(dwarfError(err))
			return
		}
		if lr, err := x.data.LineReader(cu); err != nil {
			x.report(lineError(cu.Offset, err))
		} else if lr != nil {
			files, err := u.lines.addUnit(lr, map[string]uint32{})
			if err != nil {
				x.report(lineError(cu.Offset, err))
			}
			u.files = files
		}
		u.lines.finish()
		for {
			e, err := r.Next()
			if err != nil {
				x.report(dwarfError(err))
				break
			}
			if e == nil || e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit || e.Tag == tagSkeletonUnit || e.Tag == dwarf.TagTypeUnit {
				break // the next unit
			}
			if e.Tag != dwarf.TagSubprogram {
				continue
			}
			ranges, err := x.data.Ranges(e)
			if err != nil {
				x.report(fmt.Errorf("section .debug_info at offset 0x%x: subprogram ranges: %w", uint64(e.Offset), err))
			}
			for _, rg := range ranges {
				if usableRange(rg) {
					u.funcs = append(u.funcs, funcRange{low: rg[0], high: rg[1], die: e.Offset, unit: u})
				}
			}
			if e.Children {
				r.SkipChildren()
			}
		}
		sort.SliceStable(u.funcs, func(i, j int) bool { return u.funcs[i].low < u.funcs[j].low })
		var hi uint64
		for i := range u.funcs {
			hi = max(hi, u.funcs[i].high)
			u.funcs[i].maxHigh = hi
		}
	})
}

func (x *dwarfIndex) report(err error) {
	if err != nil && x.warn != nil {
		x.warn(err)
	}
}

// unitsAt yields the units whose ranges contain pc, then the units
// without ranges.
func (x *dwarfIndex) unitsAt(pc uint64) iter.Seq[*unitIndex] {
	return func(yield func(*unitIndex) bool) {
		i := sort.Search(len(x.cus), func(i int) bool { return x.cus[i].low > pc }) - 1
		for ; i >= 0 && x.cus[i].maxHigh > pc; i-- {
			if pc < x.cus[i].high && !yield(x.cus[i].unit) {
				return
			}
		}
		for _, u := range x.unranged {
			if !yield(u) {
				return
			}
		}
	}
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

// unitHeaders reads the unit headers of .debug_info (DWARF 5 §7.5.1): the
// offset of each compilation unit's first DIE, and the DWARF versions
// used, each once, sorted — debug/dwarf reads both but says neither. A
// header is the unit length (4 bytes, or 0xffffffff and 8), the version
// (2), then for versions 2–4 the abbreviation offset (4 or 8) and address
// size (1); for 5 the unit type (1), address size (1), abbreviation offset
// and, for skeleton and split units, an 8-byte id. Type units hold no code
// and are left out.
func unitHeaders(info []byte) (entries []dwarf.Offset, versions []int) {
	seen := map[int]bool{}
	for off := uint64(0); off+6 <= uint64(len(info)); {
		n := uint64(binary.LittleEndian.Uint32(info[off:]))
		lenSize, offSize := uint64(4), uint64(4)
		if n == 0xffffffff {
			if off+14 > uint64(len(info)) {
				break
			}
			n, lenSize, offSize = binary.LittleEndian.Uint64(info[off+4:]), 12, 8
		}
		if n > uint64(len(info))-off-lenSize {
			break
		}
		v := int(binary.LittleEndian.Uint16(info[off+lenSize:]))
		if !seen[v] {
			seen[v] = true
			versions = append(versions, v)
		}
		hdr := lenSize + 2 + offSize + 1
		if v >= 5 && off+lenSize+2 < uint64(len(info)) {
			hdr = lenSize + 2 + 2 + offSize
			switch info[off+lenSize+2] {
			case 0x01, 0x03: // DW_UT_compile, DW_UT_partial
			case 0x04, 0x05: // DW_UT_skeleton, DW_UT_split_compile
				hdr += 8
			default: // type units
				hdr = 0
			}
		}
		if hdr > 0 && hdr < lenSize+n {
			entries = append(entries, dwarf.Offset(off+hdr))
		}
		off += lenSize + n
	}
	sort.Ints(versions)
	return entries, versions
}

// function returns the subprogram range of unit u containing pc; when
// ranges nest (they should not), the one starting last, the innermost.
func (u *unitIndex) function(pc uint64) (funcRange, bool) {
	i := sort.Search(len(u.funcs), func(i int) bool { return u.funcs[i].low > pc }) - 1
	for ; i >= 0 && u.funcs[i].maxHigh > pc; i-- {
		if pc < u.funcs[i].high {
			return u.funcs[i], true
		}
	}
	return funcRange{}, false
}

// subprogram loads (once) the subprogram of fn.
func (x *dwarfIndex) subprogram(fn funcRange) *subprogram {
	x.mu.Lock()
	defer x.mu.Unlock()
	if sp, ok := x.progs[fn.die]; ok {
		return sp
	}
	sp := &subprogram{}
	x.progs[fn.die] = sp
	if sp.tree, sp.err = loadTree(fn.die, x.data); sp.err != nil {
		return sp
	}
	sp.name = dieName(sp.tree.Entry)
	sp.readable = x.readable(sp.name)
	sp.decl = row{
		File: fn.unit.fileName(sp.tree.Val(dwarf.AttrDeclFile)),
		Line: intVal(sp.tree.Val(dwarf.AttrDeclLine)),
	}
	var walk func(*godwarf.Tree)
	walk = func(n *godwarf.Tree) {
		for _, c := range n.Children {
			if c.Tag == dwarf.TagInlinedSubroutine {
				if sp.inlined == nil {
					sp.inlined = map[*godwarf.Tree]inlinedCall{}
				}
				name := dieName(c.Entry)
				sp.inlined[c] = inlinedCall{name: name, readable: x.readable(name), call: x.callSite(fn.unit, c.Entry)}
			}
			walk(c)
		}
	}
	walk(sp.tree)
	return sp
}

// Limits on one subprogram's DIE tree, against hostile DWARF: nesting
// depth, DIEs kept, and abstract-origin/specification hops per DIE.
const (
	maxTreeDepth   = 128
	maxTreeNodes   = 1 << 16
	maxOriginChain = 8
)

// loadTree reads the subprogram at off with the DIEs inlining needs
// (inlined subroutines and the lexical blocks around them) into a delve
// godwarf.Tree for reader.InlineStack. It does what godwarf.LoadTree does
// for these tags — ranges of children folded into their parents, each
// DIE's abstract origin and specification behind it for names — but stops
// at reference cycles and absurd depths, which LoadTree follows forever.
func loadTree(off dwarf.Offset, data *dwarf.Data) (*godwarf.Tree, error) {
	r := data.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: %w", uint64(off), err)
	}
	if e == nil || e.Tag != dwarf.TagSubprogram {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: not a subprogram", uint64(off))
	}
	l := treeLoader{data: data, origins: data.Reader()}
	root := l.node(e)
	if e.Children {
		if err := l.children(r, root, 1); err != nil {
			return nil, fmt.Errorf("section .debug_info in the subprogram at offset 0x%x: %w", uint64(off), err)
		}
	}
	return root, nil
}

type treeLoader struct {
	data    *dwarf.Data
	origins *dwarf.Reader
	nodes   int
}

func (l *treeLoader) node(e *dwarf.Entry) *godwarf.Tree {
	l.nodes++
	n := &godwarf.Tree{Entry: l.withOrigins(e), Tag: e.Tag, Offset: e.Offset}
	if rs, err := l.data.Ranges(e); err == nil {
		for _, rg := range rs {
			if usableRange(rg) {
				n.Ranges = append(n.Ranges, rg)
			}
		}
	}
	return n
}

// children reads the children of parent up to their terminating null
// entry, keeping the DIEs that can contain inlined calls.
func (l *treeLoader) children(r *dwarf.Reader, parent *godwarf.Tree, depth int) error {
	for {
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e == nil || e.Tag == 0 {
			return nil
		}
		keep := e.Tag == dwarf.TagInlinedSubroutine || e.Tag == dwarf.TagLexDwarfBlock
		if !keep || depth >= maxTreeDepth || l.nodes >= maxTreeNodes {
			if e.Children {
				r.SkipChildren()
			}
			continue
		}
		child := l.node(e)
		if e.Children {
			if err := l.children(r, child, depth+1); err != nil {
				return err
			}
		}
		parent.Children = append(parent.Children, child)
		parent.Ranges = foldRanges(parent.Ranges, child.Ranges)
	}
}

// foldRanges adds the ranges of b not already covered by a.
func foldRanges(a, b [][2]uint64) [][2]uint64 {
next:
	for _, rb := range b {
		for _, ra := range a {
			if ra[0] <= rb[0] && rb[1] <= ra[1] {
				continue next
			}
		}
		a = append(a, rb)
	}
	return a
}

// withOrigins pairs a DIE with the DIEs its DW_AT_abstract_origin and
// DW_AT_specification chain leads to, so attributes missing on it (names)
// are found on them.
func (l *treeLoader) withOrigins(e *dwarf.Entry) godwarf.Entry {
	if e.Tag != dwarf.TagSubprogram && e.Tag != dwarf.TagInlinedSubroutine {
		return e
	}
	chain := dieChain{e}
	seen := map[dwarf.Offset]bool{e.Offset: true}
	cur := e
	for range maxOriginChain {
		ref, ok := cur.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if !ok {
			if ref, ok = cur.Val(dwarf.AttrSpecification).(dwarf.Offset); !ok {
				break
			}
		}
		if seen[ref] {
			break
		}
		seen[ref] = true
		l.origins.Seek(ref)
		next, err := l.origins.Next()
		if err != nil || next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	if len(chain) == 1 {
		return e
	}
	return chain
}

// dieChain is a DIE followed by its abstract origin and specification
// DIEs; an attribute is the first one found along it.
type dieChain []*dwarf.Entry

func (c dieChain) Val(a dwarf.Attr) any {
	if f := c.AttrField(a); f != nil {
		return f.Val
	}
	return nil
}

func (c dieChain) AttrField(a dwarf.Attr) *dwarf.Field {
	for _, e := range c {
		if f := e.AttrField(a); f != nil {
			return f
		}
	}
	return nil
}

// readable is name demangled, or "" when that changes nothing.
func (x *dwarfIndex) readable(name string) string {
	if x.demangle == nil || name == "" {
		return ""
	}
	if d := x.demangle(name); d != name {
		return d
	}
	return ""
}

// lookup returns the frames at code offset pc, innermost first, or false
// when DWARF knows nothing about pc. The outermost frame's Function is
// empty when no subprogram covers pc (line rows only). A non-nil error is a
// problem with the inlining information: the frames are then those without
// it.
func (x *dwarfIndex) lookup(pc uint64) ([]loc.Frame, bool, error) {
	for u := range x.unitsAt(pc) {
		x.index(u)
		r, haveRow := u.lines.lookup(pc)
		fn, haveFn := u.function(pc)
		if !haveFn {
			if !haveRow {
				continue
			}
			return []loc.Frame{dwarfFrame("", "", r, false)}, true, nil
		}
		sp := x.subprogram(fn)
		if sp.err != nil {
			return []loc.Frame{dwarfFrame("", "", r, false)}, true, sp.err
		}
		if len(sp.inlined) == 0 {
			return []loc.Frame{dwarfFrame(sp.name, sp.readable, r, false)}, true, nil
		}
		stack := reader.InlineStack(sp.tree, pc)
		frames := make([]loc.Frame, 0, len(stack)+1)
		cur := r
		for _, in := range stack {
			c := sp.inlined[in]
			frames = append(frames, dwarfFrame(c.name, c.readable, cur, true))
			cur = c.call
		}
		return append(frames, dwarfFrame(sp.name, sp.readable, cur, false)), true, nil
	}
	return nil, false, nil
}

func dwarfFrame(name, readable string, r row, inlined bool) loc.Frame {
	return loc.Frame{Function: name, Demangled: readable, File: r.File, Line: r.Line, Column: r.Column, Inlined: inlined, Source: loc.SourceDWARF}
}

// callSite is where an inlined subroutine was called from.
func (x *dwarfIndex) callSite(u *unitIndex, e godwarf.Entry) row {
	return row{
		File:   u.fileName(e.Val(dwarf.AttrCallFile)),
		Line:   intVal(e.Val(dwarf.AttrCallLine)),
		Column: intVal(e.Val(dwarf.AttrCallColumn)),
	}
}

// declaration is the subprogram containing pc, named and placed where it
// is declared: for frames that name a function but carry no offset.
func (x *dwarfIndex) declaration(pc uint64) (loc.Frame, bool) {
	for u := range x.unitsAt(pc) {
		x.index(u)
		fn, ok := u.function(pc)
		if !ok {
			continue
		}
		sp := x.subprogram(fn)
		if sp.err != nil {
			return loc.Frame{}, false
		}
		return dwarfFrame(sp.name, sp.readable, sp.decl, false), true
	}
	return loc.Frame{}, false
}

// fileName is the name of file number v of unit u.
func (u *unitIndex) fileName(v any) string {
	i, ok := v.(int64)
	if !ok || i < 0 || i >= int64(len(u.files)) || u.files[i] < 0 {
		return ""
	}
	return u.lines.files[u.files[i]]
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
