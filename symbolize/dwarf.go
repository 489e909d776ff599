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
// function, and the inlined subroutines inside it (loaded into delve's
// godwarf trees, walked with reader.InlineStack) for the inlining chain.
type dwarfIndex struct {
	data     *dwarf.Data
	lines    lineTable
	funcs    []funcRange // sorted by low
	units    []unitFiles
	versions []int // DWARF versions of the units, sorted, each once

	mu    sync.Mutex
	progs map[dwarf.Offset]*subprogram
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

// subprogram is a function's DIE tree with what lookups read from it,
// resolved once: names and call sites.
type subprogram struct {
	tree    *godwarf.Tree
	name    string
	decl    row
	inlined map[*godwarf.Tree]inlinedCall // every inlined subroutine in tree
	err     error
}

type inlinedCall struct {
	name string
	call row // where it was inlined into its caller
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
	x := &dwarfIndex{data: data, progs: map[dwarf.Offset]*subprogram{}}
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
	sp.decl = row{
		File: x.fileName(fn.unit, sp.tree.Val(dwarf.AttrDeclFile)),
		Line: intVal(sp.tree.Val(dwarf.AttrDeclLine)),
	}
	var walk func(*godwarf.Tree)
	walk = func(n *godwarf.Tree) {
		for _, c := range n.Children {
			if c.Tag == dwarf.TagInlinedSubroutine {
				if sp.inlined == nil {
					sp.inlined = map[*godwarf.Tree]inlinedCall{}
				}
				sp.inlined[c] = inlinedCall{name: dieName(c.Entry), call: x.callSite(fn.unit, c.Entry)}
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
			if rg[0] < rg[1] && !isTombstone(rg[0]) {
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
	sp := x.subprogram(fn)
	if sp.err != nil {
		return []dwarfFrame{{loc: r}}, true, sp.err
	}
	if len(sp.inlined) == 0 {
		return []dwarfFrame{{name: sp.name, loc: r}}, true, nil
	}
	stack := reader.InlineStack(sp.tree, pc)
	frames := make([]dwarfFrame, 0, len(stack)+1)
	cur := r
	for _, in := range stack {
		c := sp.inlined[in]
		frames = append(frames, dwarfFrame{name: c.name, loc: cur, inlined: true})
		cur = c.call
	}
	frames = append(frames, dwarfFrame{name: sp.name, loc: cur})
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
	sp := x.subprogram(fn)
	if sp.err != nil {
		return dwarfFrame{}, false
	}
	return dwarfFrame{name: sp.name, loc: sp.decl}, true
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
