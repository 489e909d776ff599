package symbolize

import (
	"cmp"
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
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

	mu      sync.Mutex
	progs   map[dwarf.Offset]*subprogram
	origins map[dwarf.Offset]*dwarf.Entry // abstract origins and specifications, decoded once

	info, abbrev []byte // .debug_info and .debug_abbrev, for dieWalkers
	abbrevMu     sync.Mutex
	abbrevs      map[abbrevKey]*abbrevTable
	// slow has debug/dwarf read every DIE, as it does where a dieWalker
	// fails: the answers the tests compare the walker's with.
	slow bool
}

// unitIndex is one compilation unit, indexed on first use.
type unitIndex struct {
	start int          // the unit's header in .debug_info
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
	root     *inlineNode // its tree, nil when it inlines nothing
	name     string
	readable string // demangled name, "" when it is name
	decl     row
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
	data, err := openDWARF(s)
	if err != nil {
		return nil, []error{err}
	}
	x := &dwarfIndex{data: data, demangle: demangle, warn: warn, progs: map[dwarf.Offset]*subprogram{},
		origins: map[dwarf.Offset]*dwarf.Entry{}, info: s[".debug_info"], abbrev: s[".debug_abbrev"],
		abbrevs: map[abbrevKey]*abbrevTable{}}
	var warns []error
	units, versions := unitHeaders(s[".debug_info"])
	x.versions = versions
	r := data.Reader()
	for _, uh := range units {
		off := uh.entry
		r.Seek(off)
		e, err := r.Next()
		if err != nil {
			warns = append(warns, dwarfError(err))
			continue
		}
		if e == nil || (e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit && e.Tag != tagSkeletonUnit) {
			continue
		}
		u := &unitIndex{start: uh.start, entry: e.Offset}
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

// rangesOffBodies counts the compilation units' address ranges and those
// that do not start at a function body of m: a module rewritten after
// linking keeps DWARF whose addresses point into the middle of other
// functions (inspect calls it stale when most of them do).
func (x *dwarfIndex) rangesOffBodies(m *wasm.Module) (off, n int) {
	starts := make(map[uint64]bool, len(m.Code))
	for _, b := range m.Code {
		starts[uint64(b.Start-m.CodeStart)] = true
	}
	for _, c := range x.cus {
		n++
		if !starts[c.low] {
			off++
		}
	}
	return off, n
}

// openDWARF gives debug/dwarf the DWARF 4 sections through New and the
// DWARF 5 ones through AddSection.
func openDWARF(s map[string][]byte) (*dwarf.Data, error) {
	data, err := dwarf.New(s[".debug_abbrev"], s[".debug_aranges"], nil, s[".debug_info"], s[".debug_line"], nil, s[".debug_ranges"], s[".debug_str"])
	if err != nil {
		return nil, dwarfError(err)
	}
	for _, name := range dwarfSections[6:] {
		if b, ok := s[name]; ok {
			if err := data.AddSection(name, b); err != nil {
				return nil, fmt.Errorf("section %s: %w", name, err)
			}
		}
	}
	return data, nil
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
		for _, e := range x.subprograms(u, r, cu) {
			ranges, err := x.data.Ranges(e)
			if err != nil {
				x.report(fmt.Errorf("section .debug_info at offset 0x%x: subprogram ranges: %w", uint64(e.Offset), err))
			}
			for _, rg := range ranges {
				if usableRange(rg) {
					u.funcs = append(u.funcs, funcRange{low: rg[0], high: rg[1], die: e.Offset, unit: u})
				}
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

// subprograms decodes the subprogram DIEs of unit u whose DIE, cu, r has
// just read: those not inside another subprogram. A dieWalker finds them
// (every other DIE, and their children, skipped undecoded); when it meets
// something it does not read (a form it does not know, corrupt data), the
// unit is read again with debug/dwarf alone, whose answer stands.
func (x *dwarfIndex) subprograms(u *unitIndex, r *dwarf.Reader, cu *dwarf.Entry) []*dwarf.Entry {
	if !x.slow {
		if offs, err := x.walkSubprograms(u, cu.Offset); err == nil {
			es := make([]*dwarf.Entry, 0, len(offs))
			for _, off := range offs {
				r.Seek(off)
				e, err := r.Next()
				if err != nil {
					x.report(dwarfError(err))
					break
				}
				if e == nil {
					break
				}
				es = append(es, e)
			}
			return es
		}
		r.Seek(cu.Offset)
		r.Next()
	}
	var es []*dwarf.Entry
	for {
		e, err := r.Next()
		if err != nil {
			x.report(dwarfError(err))
			break
		}
		if e == nil || isUnitTag(e.Tag) {
			break // the next unit
		}
		if e.Tag != dwarf.TagSubprogram {
			continue
		}
		es = append(es, e)
		if e.Children {
			r.SkipChildren()
		}
	}
	return es
}

// walkSubprograms returns the offsets of the subprograms subprograms
// decodes, found with a dieWalker.
func (x *dwarfIndex) walkSubprograms(u *unitIndex, cu dwarf.Offset) ([]dwarf.Offset, error) {
	w, err := x.walker(u, cu)
	if err != nil {
		return nil, err
	}
	w.next() // the unit's own DIE
	var offs []dwarf.Offset
	for {
		off, tag, children, ok := w.next()
		if !ok {
			return offs, w.err // nil at the end of the unit
		}
		if isUnitTag(tag) {
			return offs, nil
		}
		if tag != dwarf.TagSubprogram {
			continue
		}
		offs = append(offs, dwarf.Offset(off))
		if children {
			if w.skipChildren(); w.err != nil {
				return nil, w.err
			}
		}
	}
}

// isUnitTag reports whether tag starts a unit.
func isUnitTag(tag dwarf.Tag) bool {
	return tag == dwarf.TagCompileUnit || tag == dwarf.TagPartialUnit || tag == tagSkeletonUnit || tag == dwarf.TagTypeUnit
}

// walker returns a dieWalker over unit u positioned at its DIE at off.
func (x *dwarfIndex) walker(u *unitIndex, off dwarf.Offset) (*dieWalker, error) {
	x.abbrevMu.Lock()
	defer x.abbrevMu.Unlock()
	return newDIEWalker(x.info, x.abbrev, u.start, int(off), x.abbrevs)
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
func unitHeaders(info []byte) (units []unitHeader, versions []int) {
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
			units = append(units, unitHeader{start: int(off), entry: dwarf.Offset(off + hdr)})
		}
		off += lenSize + n
	}
	sort.Ints(versions)
	return units, versions
}

// unitHeader is where a compilation unit's header and first DIE are.
type unitHeader struct {
	start int
	entry dwarf.Offset
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
	tree, err := x.loadTree(fn)
	if err != nil {
		sp.err = err
		return sp
	}
	sp.name = dieName(tree.Entry)
	sp.readable = x.readable(sp.name)
	sp.decl = row{
		File: fn.unit.fileName(tree.Val(dwarf.AttrDeclFile)),
		Line: intVal(tree.Val(dwarf.AttrDeclLine)),
	}
	if hasInlined(tree) {
		sp.root = newInlineNodes(tree, func(c *godwarf.Tree) inlinedCall {
			name := dieName(c.Entry)
			return inlinedCall{name: name, readable: x.readable(name), call: x.callSite(fn.unit, c.Entry)}
		})
	}
	return sp
}

// hasInlined reports whether a tree holds an inlined subroutine.
func hasInlined(t *godwarf.Tree) bool {
	for _, c := range t.Children {
		if c.Tag == dwarf.TagInlinedSubroutine || hasInlined(c) {
			return true
		}
	}
	return false
}

// Limits on one subprogram's DIE tree, against hostile DWARF: nesting
// depth, DIEs kept, and abstract-origin/specification hops per DIE.
const (
	maxTreeDepth   = 128
	maxTreeNodes   = 1 << 16
	maxOriginChain = 8
)

// loadTree reads the subprogram of fn with the DIEs inlining needs
// (inlined subroutines and the lexical blocks around them) into a delve
// godwarf.Tree for reader.InlineStack. It does what godwarf.LoadTree does
// for these tags — ranges of children folded into their parents, each
// DIE's abstract origin and specification behind it for names — but stops
// at reference cycles and absurd depths, which LoadTree follows forever,
// and decodes only the DIEs it keeps (a dieWalker skips the others:
// variables, parameters, call sites…). x.mu is held.
func (x *dwarfIndex) loadTree(fn funcRange) (*godwarf.Tree, error) {
	off := fn.die
	r := x.data.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: %w", uint64(off), err)
	}
	if e == nil || e.Tag != dwarf.TagSubprogram {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: not a subprogram", uint64(off))
	}
	origins := x.data.Reader()
	if e.Children && !x.slow {
		if w, err := x.walker(fn.unit, off); err == nil {
			w.next() // the subprogram's own DIE
			l := treeLoader{x: x, r: origins}
			root := l.node(e)
			if l.children(&walkerCursor{w: w, r: origins}, root, 1) == nil {
				return root, nil
			}
		}
		// The walker met something it does not read (a form it does not
		// know, corrupt data): debug/dwarf reads the children again, and
		// its answer stands.
	}
	l := treeLoader{x: x, r: origins}
	root := l.node(e)
	if e.Children {
		if err := l.children(&readerCursor{r: r}, root, 1); err != nil {
			return nil, fmt.Errorf("section .debug_info in the subprogram at offset 0x%x: %w", uint64(off), err)
		}
	}
	return root, nil
}

type treeLoader struct {
	x     *dwarfIndex
	r     *dwarf.Reader // for abstract origins
	nodes int
}

func (l *treeLoader) node(e *dwarf.Entry) *godwarf.Tree {
	l.nodes++
	n := &godwarf.Tree{Entry: l.withOrigins(e), Tag: e.Tag, Offset: e.Offset}
	if rs, err := l.x.data.Ranges(e); err == nil {
		for _, rg := range rs {
			if usableRange(rg) {
				n.Ranges = append(n.Ranges, rg)
			}
		}
		sortRanges(n.Ranges)
	}
	return n
}

// sortRanges puts ranges in address order. containsPC stops at the first
// range past pc, but a range list need not be in order, nor is a node's
// once its children's ranges are folded in (TinyGo's inlined Go interface
// methods): a pc in a later-listed but lower range is found, as
// llvm-symbolizer finds it.
func sortRanges(rs [][2]uint64) {
	slices.SortFunc(rs, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
}

// dieCursor steps through the DIEs of a subprogram for a treeLoader.
type dieCursor interface {
	// next moves to the next DIE and returns its tag (0 for the null
	// entry ending a list of children) and whether it has children.
	next() (tag dwarf.Tag, children bool, err error)
	// entry decodes the DIE next moved to.
	entry() (*dwarf.Entry, error)
	// skipChildren moves past the children of that DIE.
	skipChildren()
}

// walkerCursor is a dieWalker, with debug/dwarf decoding the DIEs kept.
type walkerCursor struct {
	w   *dieWalker
	r   *dwarf.Reader
	off int
}

func (c *walkerCursor) next() (dwarf.Tag, bool, error) {
	off, tag, children, ok := c.w.next()
	if !ok {
		if c.w.err != nil {
			return 0, false, c.w.err
		}
		return 0, false, errors.New("children run past the end of their unit")
	}
	c.off = off
	return tag, children, nil
}

func (c *walkerCursor) entry() (*dwarf.Entry, error) {
	c.r.Seek(dwarf.Offset(c.off))
	e, err := c.r.Next()
	if err == nil && e == nil {
		err = errors.New("unexpected end of DWARF")
	}
	return e, err
}

func (c *walkerCursor) skipChildren() { c.w.skipChildren() }

// readerCursor is debug/dwarf's Reader, which decodes every DIE.
type readerCursor struct {
	r *dwarf.Reader
	e *dwarf.Entry
}

func (c *readerCursor) next() (dwarf.Tag, bool, error) {
	e, err := c.r.Next()
	if err != nil || e == nil {
		return 0, false, err
	}
	c.e = e
	return e.Tag, e.Children, nil
}

func (c *readerCursor) entry() (*dwarf.Entry, error) { return c.e, nil }

func (c *readerCursor) skipChildren() { c.r.SkipChildren() }

// children reads the children of parent up to their terminating null
// entry, keeping the DIEs that can contain inlined calls.
func (l *treeLoader) children(c dieCursor, parent *godwarf.Tree, depth int) error {
	for {
		tag, children, err := c.next()
		if err != nil {
			return err
		}
		if tag == 0 {
			return nil
		}
		keep := tag == dwarf.TagInlinedSubroutine || tag == dwarf.TagLexDwarfBlock
		if !keep || depth >= maxTreeDepth || l.nodes >= maxTreeNodes {
			if children {
				c.skipChildren()
			}
			continue
		}
		e, err := c.entry()
		if err != nil {
			return err
		}
		child := l.node(e)
		if children {
			if err := l.children(c, child, depth+1); err != nil {
				return err
			}
		}
		parent.Children = append(parent.Children, child)
		parent.Ranges = foldRanges(parent.Ranges, child.Ranges)
	}
}

// foldRanges adds the ranges of b not already covered by a, keeping a in
// address order.
func foldRanges(a, b [][2]uint64) [][2]uint64 {
	n := len(a)
next:
	for _, rb := range b {
		for _, ra := range a {
			if ra[0] <= rb[0] && rb[1] <= ra[1] {
				continue next
			}
		}
		a = append(a, rb)
	}
	if len(a) > n {
		sortRanges(a)
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
		next := l.origin(ref)
		if next == nil {
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

// origin decodes the DIE at ref, once for all the DIEs that refer to it.
func (l *treeLoader) origin(ref dwarf.Offset) *dwarf.Entry {
	if e, ok := l.x.origins[ref]; ok {
		return e
	}
	l.r.Seek(ref)
	e, err := l.r.Next()
	if err != nil {
		e = nil
	}
	l.x.origins[ref] = e
	return e
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

// lookup appends the frames at code offset pc to dst, innermost first, or
// reports false when DWARF knows nothing about pc. The outermost frame's
// Function is empty when no subprogram covers pc (line rows only). A
// non-nil error is a problem with the inlining information: the frames are
// then those without it.
func (x *dwarfIndex) lookup(dst []loc.Frame, pc uint64) ([]loc.Frame, bool, error) {
	for u := range x.unitsAt(pc) {
		x.index(u)
		r, haveRow := u.lines.lookup(pc)
		fn, haveFn := u.function(pc)
		if !haveFn {
			if !haveRow {
				continue
			}
			return append(dst, dwarfFrame("", "", r, false)), true, nil
		}
		sp := x.subprogram(fn)
		if sp.err != nil {
			return append(dst, dwarfFrame("", "", r, false)), true, sp.err
		}
		if sp.root == nil {
			return append(dst, dwarfFrame(sp.name, sp.readable, r, false)), true, nil
		}
		var buf [16]*inlineNode
		cur := r
		for _, in := range inlineStack(buf[:0], sp.root, pc) {
			c := &in.call
			dst = append(dst, dwarfFrame(c.name, c.readable, cur, true))
			cur = c.call
		}
		return append(dst, dwarfFrame(sp.name, sp.readable, cur, false)), true, nil
	}
	return dst, false, nil
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
