package symbolize

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"
)

// dieWalker steps through the DIEs of one unit of .debug_info reading only
// each DIE's tag and whether it has children, and skipping its attributes
// by the sizes of their forms (DWARF 5 §7.5.6: the abbreviation table
// gives a DIE's attributes and their forms; every form's size follows from
// the form, the unit header or the data). debug/dwarf's Reader decodes every
// attribute of every DIE it passes, into a new Entry, even to skip
// children; a symbolizer needs a few attributes of a few DIEs
// (subprograms, inlined subroutines and the lexical blocks around them), so
// it walks with a dieWalker and decodes just those with debug/dwarf.
type dieWalker struct {
	info     []byte
	pos      int // offset of the next DIE
	end      int // end of the unit
	vers     int
	addrSize int
	offSize  int
	abbrevs  *abbrevTable
	err      error
}

// abbrevTable is one abbreviation table of .debug_abbrev, by code.
type abbrevTable struct {
	dense  []*abbrevDecl // codes 1..len(dense), the usual numbering
	sparse map[uint64]*abbrevDecl
}

// abbrevDecl is one abbreviation: a DIE's tag, whether it has children,
// and the forms of its attributes.
type abbrevDecl struct {
	tag      dwarf.Tag
	children bool
	forms    []uint64
	// fixed is the size of the attributes when each form's size depends on
	// the unit alone, else -1.
	fixed int
}

func (t *abbrevTable) get(code uint64) *abbrevDecl {
	if code-1 < uint64(len(t.dense)) {
		return t.dense[code-1]
	}
	return t.sparse[code]
}

// DWARF forms (DWARF 5 §7.5.6, and the GNU forms LLVM may write).
const (
	formAddr          = 0x01
	formBlock2        = 0x03
	formBlock4        = 0x04
	formData2         = 0x05
	formData4         = 0x06
	formData8         = 0x07
	formString        = 0x08
	formBlock         = 0x09
	formBlock1        = 0x0a
	formData1         = 0x0b
	formFlag          = 0x0c
	formSdata         = 0x0d
	formStrp          = 0x0e
	formUdata         = 0x0f
	formRefAddr       = 0x10
	formRef1          = 0x11
	formRef2          = 0x12
	formRef4          = 0x13
	formRef8          = 0x14
	formRefUdata      = 0x15
	formIndirect      = 0x16
	formSecOffset     = 0x17
	formExprloc       = 0x18
	formFlagPresent   = 0x19
	formStrx          = 0x1a
	formAddrx         = 0x1b
	formRefSup4       = 0x1c
	formStrpSup       = 0x1d
	formData16        = 0x1e
	formLineStrp      = 0x1f
	formRefSig8       = 0x20
	formImplicitConst = 0x21
	formLoclistx      = 0x22
	formRnglistx      = 0x23
	formRefSup8       = 0x24
	formStrx1         = 0x25
	formStrx2         = 0x26
	formStrx3         = 0x27
	formStrx4         = 0x28
	formAddrx1        = 0x29
	formAddrx2        = 0x2a
	formAddrx3        = 0x2b
	formAddrx4        = 0x2c
	formGNUAddrIndex  = 0x1f01
	formGNUStrIndex   = 0x1f02
	formGNURefAlt     = 0x1f20
	formGNUStrpAlt    = 0x1f21
)

// fixedSize is the size of form in a unit with the given version, address
// and offset sizes; -1 when the data says (strings, blocks, LEB128
// numbers, indirect forms), -2 for a form wasmdbg does not know.
func fixedSize(form uint64, vers, addrSize, offSize int) int {
	switch form {
	case formFlagPresent, formImplicitConst:
		return 0
	case formData1, formRef1, formFlag, formStrx1, formAddrx1:
		return 1
	case formData2, formRef2, formStrx2, formAddrx2:
		return 2
	case formStrx3, formAddrx3:
		return 3
	case formData4, formRef4, formRefSup4, formStrx4, formAddrx4:
		return 4
	case formData8, formRef8, formRefSig8, formRefSup8:
		return 8
	case formData16:
		return 16
	case formAddr:
		return addrSize
	case formRefAddr:
		if vers <= 2 {
			return addrSize
		}
		return offSize
	case formStrp, formSecOffset, formLineStrp, formStrpSup, formGNURefAlt, formGNUStrpAlt:
		return offSize
	case formString, formBlock, formBlock1, formBlock2, formBlock4, formExprloc, formSdata, formUdata,
		formRefUdata, formStrx, formAddrx, formLoclistx, formRnglistx, formIndirect, formGNUAddrIndex, formGNUStrIndex:
		return -1
	}
	return -2
}

// abbrevKey identifies a parsed abbreviation table: its offset, and the
// unit sizes its fixed sizes were computed with.
type abbrevKey struct {
	off                     uint64
	vers, addrSize, offSize int
}

// newDIEWalker returns a walker over the unit whose header starts at off
// in info, positioned at the DIE at pos (in the unit). tables caches the
// parsed abbreviation tables.
func newDIEWalker(info, abbrev []byte, off, pos int, tables map[abbrevKey]*abbrevTable) (*dieWalker, error) {
	w := &dieWalker{info: info}
	if off+6 > len(info) {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: unit header past the end", off)
	}
	n := uint64(binary.LittleEndian.Uint32(info[off:]))
	lenSize := 4
	w.offSize = 4
	if n == 0xffffffff {
		if off+14 > len(info) {
			return nil, fmt.Errorf("section .debug_info at offset 0x%x: unit header past the end", off)
		}
		n, lenSize, w.offSize = binary.LittleEndian.Uint64(info[off+4:]), 12, 8
	}
	if n > uint64(len(info)-off-lenSize) {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: unit length past the end", off)
	}
	w.end = off + lenSize + int(n)
	h := off + lenSize
	if h+2 > w.end {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: unit header past the end", off)
	}
	w.vers = int(binary.LittleEndian.Uint16(info[h:]))
	h += 2
	var abbrevOff uint64
	readOff := func() bool {
		if h+w.offSize > w.end {
			return false
		}
		if w.offSize == 8 {
			abbrevOff = binary.LittleEndian.Uint64(info[h:])
		} else {
			abbrevOff = uint64(binary.LittleEndian.Uint32(info[h:]))
		}
		h += w.offSize
		return true
	}
	switch {
	case w.vers >= 5:
		if h+2 > w.end {
			return nil, fmt.Errorf("section .debug_info at offset 0x%x: unit header past the end", off)
		}
		w.addrSize = int(info[h+1])
		h += 2
		if !readOff() {
			return nil, fmt.Errorf("section .debug_info at offset 0x%x: unit header past the end", off)
		}
	case w.vers >= 2:
		if !readOff() || h+1 > w.end {
			return nil, fmt.Errorf("section .debug_info at offset 0x%x: unit header past the end", off)
		}
		w.addrSize = int(info[h])
	default:
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: unsupported DWARF version %d", off, w.vers)
	}
	key := abbrevKey{abbrevOff, w.vers, w.addrSize, w.offSize}
	t, ok := tables[key]
	if !ok {
		var err error
		if t, err = parseAbbrevs(abbrev, abbrevOff, w.vers, w.addrSize, w.offSize); err != nil {
			return nil, err
		}
		tables[key] = t
	}
	w.abbrevs = t
	if pos < h || pos > w.end {
		return nil, fmt.Errorf("section .debug_info at offset 0x%x: DIE outside its unit", pos)
	}
	w.pos = pos
	return w, nil
}

// parseAbbrevs reads the abbreviation table at off (DWARF 5 §7.5.3), with
// the fixed sizes of a unit of the given version and sizes.
func parseAbbrevs(b []byte, off uint64, vers, addrSize, offSize int) (*abbrevTable, error) {
	if off > uint64(len(b)) {
		return nil, fmt.Errorf("section .debug_abbrev at offset 0x%x: past the end", off)
	}
	d := leb{b: b, pos: int(off)}
	t := &abbrevTable{}
	for {
		code := d.uleb()
		if code == 0 || d.bad {
			break
		}
		a := &abbrevDecl{tag: dwarf.Tag(d.uleb())}
		a.children = d.byte() != 0
		for !d.bad {
			attr, form := d.uleb(), d.uleb()
			if attr == 0 && form == 0 {
				break
			}
			if form == formImplicitConst {
				d.sleb()
			}
			a.forms = append(a.forms, form)
			if sz := fixedSize(form, vers, addrSize, offSize); sz >= 0 && a.fixed >= 0 {
				a.fixed += sz
			} else {
				a.fixed = -1
			}
		}
		if code-1 == uint64(len(t.dense)) {
			t.dense = append(t.dense, a)
		} else {
			if t.sparse == nil {
				t.sparse = map[uint64]*abbrevDecl{}
			}
			t.sparse[code] = a
		}
	}
	if d.bad {
		return nil, fmt.Errorf("section .debug_abbrev at offset 0x%x: truncated", off)
	}
	return t, nil
}

// next reads the DIE at the walker's position and moves past it (not past
// its children): its offset, tag (0 for the null entry that ends a list
// of children) and whether children follow. ok is false at the end of the
// unit or on an error (w.err).
func (w *dieWalker) next() (off int, tag dwarf.Tag, children, ok bool) {
	if w.err != nil || w.pos >= w.end {
		return 0, 0, false, false
	}
	off = w.pos
	d := leb{b: w.info[:w.end], pos: w.pos}
	code := d.uleb()
	if d.bad {
		w.err = fmt.Errorf("section .debug_info at offset 0x%x: truncated DIE", off)
		return 0, 0, false, false
	}
	if code == 0 {
		w.pos = d.pos
		return off, 0, false, true
	}
	a := w.abbrevs.get(code)
	if a == nil {
		w.err = fmt.Errorf("section .debug_info at offset 0x%x: unknown abbreviation %d", off, code)
		return 0, 0, false, false
	}
	if a.fixed >= 0 {
		d.pos += a.fixed
	} else {
		for _, f := range a.forms {
			if !w.skipForm(&d, f) {
				w.err = fmt.Errorf("section .debug_info at offset 0x%x: attribute form 0x%x not understood", off, f)
				return 0, 0, false, false
			}
		}
	}
	if d.pos > w.end || d.bad {
		w.err = fmt.Errorf("section .debug_info at offset 0x%x: DIE past the end of its unit", off)
		return 0, 0, false, false
	}
	w.pos = d.pos
	return off, a.tag, a.children, true
}

// skipForm moves d past one attribute value of form f.
func (w *dieWalker) skipForm(d *leb, f uint64) bool {
	if sz := fixedSize(f, w.vers, w.addrSize, w.offSize); sz >= 0 {
		d.pos += sz
		return true
	}
	switch f {
	case formString:
		for d.pos < len(d.b) && d.b[d.pos] != 0 {
			d.pos++
		}
		d.pos++
	case formBlock1:
		n := int(d.byte())
		d.pos += n
	case formBlock2:
		if d.pos+2 > len(d.b) {
			return false
		}
		n := int(binary.LittleEndian.Uint16(d.b[d.pos:]))
		d.pos += 2 + n
	case formBlock4:
		if d.pos+4 > len(d.b) {
			return false
		}
		n := uint64(binary.LittleEndian.Uint32(d.b[d.pos:]))
		if n > uint64(len(d.b)) {
			return false
		}
		d.pos += 4 + int(n)
	case formBlock, formExprloc:
		n := d.uleb()
		if n > uint64(len(d.b)) {
			return false
		}
		d.pos += int(n)
	case formSdata:
		d.sleb()
	case formUdata, formRefUdata, formStrx, formAddrx, formLoclistx, formRnglistx, formGNUAddrIndex, formGNUStrIndex:
		d.uleb()
	case formIndirect:
		g := d.uleb()
		if g == formIndirect || d.bad {
			return false
		}
		return w.skipForm(d, g)
	default:
		return false
	}
	return !d.bad && d.pos <= len(d.b)
}

// skipChildren moves past the children of the DIE just read, which has
// some, and the null entry that ends them.
func (w *dieWalker) skipChildren() {
	depth := 1
	for depth > 0 {
		_, tag, children, ok := w.next()
		if !ok {
			if w.err == nil {
				w.err = errors.New("section .debug_info: children run past the end of their unit")
			}
			return
		}
		switch {
		case tag == 0:
			depth--
		case children:
			depth++
		}
	}
}

// leb reads LEB128 numbers and bytes; bad is set when one runs past the
// end.
type leb struct {
	b   []byte
	pos int
	bad bool
}

func (d *leb) byte() byte {
	if d.pos >= len(d.b) {
		d.bad = true
		return 0
	}
	c := d.b[d.pos]
	d.pos++
	return c
}

func (d *leb) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if d.pos >= len(d.b) {
			d.bad = true
			return 0
		}
		c := d.b[d.pos]
		d.pos++
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c < 0x80 {
			return v
		}
	}
}

func (d *leb) sleb() int64 {
	var v int64
	var shift uint
	for {
		if d.pos >= len(d.b) {
			d.bad = true
			return 0
		}
		c := d.b[d.pos]
		d.pos++
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c < 0x80 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
}
