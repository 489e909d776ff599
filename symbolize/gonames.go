package symbolize

import (
	"bytes"
	"encoding/binary"
	"regexp"
	"sort"

	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// Go's wasm linker writes function names into the name section with every
// character outside [A-Za-z0-9_.] replaced by '_'
// (cmd/link/internal/wasm/asm.go): "github.com/proxy-wasm/proxy-wasm-go-sdk/
// proxywasm/internal.proxyOnContextCreate" becomes
// "github.com_proxy_wasm_proxy_wasm_go_sdk_proxywasm_internal.proxyOnContextCreate".
// The names as Go prints them are in the module too: the runtime's pclntab,
// which panics and tracebacks read, is in the data section. goFuncNames
// reads them from there and maps the written form back.

// pclntabMagics start a pclntab header for wasm (runtime/symtab.go): the
// magic of Go 1.20+ or of Go 1.18–1.19, two zero pad bytes, the
// instruction size quantum (1) and the pointer size (8).
var pclntabMagics = [][]byte{
	{0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8},
	{0xf0, 0xff, 0xff, 0xff, 0, 0, 1, 8},
}

// maxFuncNameTab bounds the function-name table read from a module.
const maxFuncNameTab = 64 << 20

var goUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.]`)

// goFuncNames maps the function names of a module built by Go's gc
// toolchain, as its name section writes them, to the names Go prints.
// Names two functions would share in the written form are left out. A
// module without a readable pclntab gives nil.
func goFuncNames(mod *wasm.Module) map[string]string {
	mem, ok := dataImage(mod)
	if !ok {
		return nil
	}
	base, ok := mem.find(pclntabMagics)
	if !ok {
		return nil
	}
	// The header (runtime/symtab.go pcHeader): magic, pads, minLC, ptrSize,
	// then nfunc, nfiles, textStart, funcnameOffset, cuOffset,
	// filetabOffset, pctabOffset, pclnOffset, each 8 bytes on wasm.
	h, ok := mem.read(base, 8+8*8)
	if !ok {
		return nil
	}
	nameOff, cuOff := binary.LittleEndian.Uint64(h[8+3*8:]), binary.LittleEndian.Uint64(h[8+4*8:])
	// The table is in the data the segments hold: no longer than they are.
	if nameOff < 8+8*8 || cuOff <= nameOff || cuOff-nameOff > min(maxFuncNameTab, mem.size) || base+cuOff > 1<<32 {
		return nil
	}
	tab, ok := mem.read(base+nameOff, int(cuOff-nameOff))
	if !ok {
		return nil
	}
	out := map[string]string{}
	ambiguous := map[string]bool{}
	for _, n := range bytes.Split(tab, []byte{0}) {
		if len(n) == 0 {
			continue
		}
		name := string(n)
		written := goUnsafe.ReplaceAllString(name, "_")
		if written == name || ambiguous[written] {
			continue
		}
		if prev, ok := out[written]; ok && prev != name {
			delete(out, written)
			ambiguous[written] = true
			continue
		}
		out[written] = name
	}
	return out
}

// image is the initial contents of linear memory given by a module's
// active data segments, sorted by address; bytes between them are zero.
type image struct {
	segs []segment
	size uint64 // bytes the segments hold
}

type segment struct {
	addr uint64
	data []byte
}

// dataImage decodes the data section's active segments (spec §5.5.14):
// flags 0 (memory 0) or 2 (a memory index), an i32.const offset
// expression, the bytes; passive segments (1) are not in memory at start.
func dataImage(mod *wasm.Module) (*image, bool) {
	sec, ok := mod.Section(wasm.SectionData)
	if !ok {
		return nil, false
	}
	d := &cursor{b: sec.Payload, ok: true}
	n := d.uleb()
	img := &image{}
	for i := uint64(0); i < n && d.ok; i++ {
		flags := d.uleb()
		if flags == 2 {
			d.uleb() // memory index
		}
		var addr uint64
		if flags != 1 {
			if d.byte() != 0x41 { // i32.const; anything else: give up
				return nil, false
			}
			addr = uint64(uint32(d.sleb()))
			if d.byte() != 0x0b {
				return nil, false
			}
		}
		size := d.uleb()
		data := d.bytes(size)
		if flags != 1 && d.ok && len(data) > 0 {
			img.segs = append(img.segs, segment{addr, data})
			img.size += uint64(len(data))
		}
	}
	if !d.ok {
		return nil, false
	}
	sort.Slice(img.segs, func(i, j int) bool { return img.segs[i].addr < img.segs[j].addr })
	return img, true
}

// find returns the address of the first of magics found in a segment.
func (m *image) find(magics [][]byte) (uint64, bool) {
	for _, s := range m.segs {
		for _, mg := range magics {
			if i := bytes.Index(s.data, mg); i >= 0 {
				return s.addr + uint64(i), true
			}
		}
	}
	return 0, false
}

// read returns n bytes of memory at addr, zeros where no segment lies.
func (m *image) read(addr uint64, n int) ([]byte, bool) {
	if n < 0 || addr+uint64(n) > 1<<32 {
		return nil, false
	}
	out := make([]byte, n)
	end := addr + uint64(n)
	i := sort.Search(len(m.segs), func(i int) bool { return m.segs[i].addr+uint64(len(m.segs[i].data)) > addr })
	for ; i < len(m.segs) && m.segs[i].addr < end; i++ {
		s := m.segs[i]
		lo, hi := max(s.addr, addr), min(s.addr+uint64(len(s.data)), end)
		if lo < hi {
			copy(out[lo-addr:hi-addr], s.data[lo-s.addr:hi-s.addr])
		}
	}
	return out, true
}

// cursor reads LEB128 numbers and bytes with a sticky failure.
type cursor struct {
	b  []byte
	ok bool
}

func (c *cursor) byte() byte {
	if !c.ok || len(c.b) == 0 {
		c.ok = false
		return 0
	}
	v := c.b[0]
	c.b = c.b[1:]
	return v
}

func (c *cursor) uleb() uint64 {
	v, n := binary.Uvarint(c.b)
	if !c.ok || n <= 0 {
		c.ok = false
		return 0
	}
	c.b = c.b[n:]
	return v
}

func (c *cursor) sleb() int64 {
	var v int64
	var shift uint
	for c.ok {
		b := c.byte()
		v |= int64(b&0x7f) << shift
		shift += 7
		if b < 0x80 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
		if shift >= 64 {
			c.ok = false
		}
	}
	return 0
}

func (c *cursor) bytes(n uint64) []byte {
	if !c.ok || n > uint64(len(c.b)) {
		c.ok = false
		return nil
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v
}
