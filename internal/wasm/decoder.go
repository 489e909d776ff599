package wasm

import (
	"fmt"
	"unicode/utf8"
)

// Error is a malformed-module error: where (a section, or the header) and at
// which file offset the problem was found.
type Error struct {
	Where  string // "section code", "header", "section id 0x0e"
	Offset uint64 // file offset of the byte or entry at fault
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s at offset 0x%x: %s", e.Where, e.Offset, e.Msg)
}

// decoder is a sticky-error cursor over one section's payload, in the
// manner of debug/dwarf's buf: once a read fails every later read returns
// zero values, so parsing code reads straight and checks d.err once per
// entry. Every error carries the file offset it happened at.
type decoder struct {
	where string // "section code"
	buf   []byte
	base  int // file offset of buf[0]
	pos   int
	err   error
}

func newDecoder(where string, buf []byte, base int) *decoder {
	return &decoder{where: where, buf: buf, base: base}
}

// off is the file offset of the next byte.
func (d *decoder) off() int { return d.base + d.pos }

func (d *decoder) left() int { return len(d.buf) - d.pos }

// failAt records the first error, at file offset at.
func (d *decoder) failAt(at int, format string, args ...any) {
	if d.err == nil {
		d.err = &Error{Where: d.where, Offset: uint64(at), Msg: fmt.Sprintf(format, args...)}
	}
}

func (d *decoder) u8() byte {
	if d.err != nil {
		return 0
	}
	if d.pos >= len(d.buf) {
		d.failAt(d.off(), "unexpected end of %s", d.what())
		return 0
	}
	b := d.buf[d.pos]
	d.pos++
	return b
}

func (d *decoder) what() string {
	if d.where == "header" {
		return "file"
	}
	return "section"
}

// uleb reads an unsigned LEB128 integer of at most bits bits.
func (d *decoder) uleb(bits uint) uint64 {
	if d.err != nil {
		return 0
	}
	start := d.off()
	var v uint64
	maxBytes := int((bits + 6) / 7)
	for i := 0; ; i++ {
		if d.pos >= len(d.buf) {
			d.failAt(start, "truncated LEB128 integer")
			return 0
		}
		b := d.buf[d.pos]
		d.pos++
		if i == maxBytes-1 {
			// The last byte may only carry the bits that are left.
			rest := bits - uint(7*i)
			if b&0x80 != 0 {
				d.failAt(start, "LEB128 integer longer than %d bytes", maxBytes)
				return 0
			}
			if rest < 7 && b>>rest != 0 {
				d.failAt(start, "LEB128 integer overflows %d bits", bits)
				return 0
			}
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return v
		}
	}
}

func (d *decoder) u32() uint32 { return uint32(d.uleb(32)) }

func (d *decoder) u64() uint64 { return d.uleb(64) }

// sleb skips a signed LEB128 integer of at most bits bits; constant
// expressions need it, nothing here needs its value.
func (d *decoder) sleb(bits uint) {
	if d.err != nil {
		return
	}
	start := d.off()
	maxBytes := int((bits + 6) / 7)
	for i := 0; ; i++ {
		if d.pos >= len(d.buf) {
			d.failAt(start, "truncated LEB128 integer")
			return
		}
		b := d.buf[d.pos]
		d.pos++
		if b&0x80 == 0 {
			return
		}
		if i == maxBytes-1 {
			d.failAt(start, "LEB128 integer longer than %d bytes", maxBytes)
			return
		}
	}
}

// bytes returns the next n bytes, a slice of the input (not a copy).
func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(d.left()) {
		d.failAt(d.off(), "%s of %d bytes overruns the %s (%d bytes left)", what, n, d.what(), d.left())
		return nil
	}
	b := d.buf[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b
}

// name reads a length-prefixed UTF-8 name (spec §5.2.4).
func (d *decoder) name(what string) string {
	start := d.off()
	n := d.u32()
	b := d.bytes(uint64(n), what)
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		d.failAt(start, "%s is not valid UTF-8", what)
		return ""
	}
	return string(b)
}

// count reads a vector length and checks it against the bytes left, each
// entry taking at least minSize bytes, so a length read from the file never
// sizes an allocation the input cannot fill.
func (d *decoder) count(what string, minSize int) uint32 {
	start := d.off()
	n := d.u32()
	if d.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(d.left()) {
		d.failAt(start, "%d %s declared, but only %d bytes left", n, what, d.left())
		return 0
	}
	return n
}

// end checks that the payload was consumed exactly.
func (d *decoder) end() {
	if d.err == nil && d.pos != len(d.buf) {
		d.failAt(d.off(), "%d unread bytes at the end of the section", d.left())
	}
}
