package wasm

import (
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// section decodes one non-custom section; d covers its payload.
func (m *Module) section(d *decoder, id SectionID) error {
	switch id {
	case SectionType:
		m.typeSection(d)
	case SectionImport:
		m.importSection(d)
	case SectionFunction:
		n := d.count("functions", 1)
		m.Funcs = make([]uint32, 0, n)
		for i := uint32(0); i < n && d.err == nil; i++ {
			m.Funcs = append(m.Funcs, m.typeIndex(d, "function", i))
		}
	case SectionTable:
		n := d.count("tables", 2)
		m.Tables = make([]TableType, 0, n)
		for i := uint32(0); i < n && d.err == nil; i++ {
			m.Tables = append(m.Tables, tableType(d, "table", i))
		}
	case SectionMemory:
		n := d.count("memories", 2)
		m.Memories = make([]Limits, 0, n)
		for i := uint32(0); i < n && d.err == nil; i++ {
			m.Memories = append(m.Memories, limits(d, "memory", i))
		}
	case SectionTag:
		n := d.count("tags", 2)
		m.Tags = make([]uint32, 0, n)
		for i := uint32(0); i < n && d.err == nil; i++ {
			m.Tags = append(m.Tags, m.tagType(d, i))
		}
	case SectionGlobal:
		n := d.count("globals", 3)
		m.Globals = make([]GlobalType, 0, n)
		for i := uint32(0); i < n && d.err == nil; i++ {
			m.Globals = append(m.Globals, globalType(d, "global", i))
			constExpr(d, "global", i)
		}
	case SectionExport:
		m.exportSection(d)
	case SectionStart:
		at := d.off()
		m.Start, m.HasStart = d.u32(), true
		if d.err == nil && m.Start >= m.NumFuncs() {
			d.failAt(at, "start function %d does not exist (%d functions)", m.Start, m.NumFuncs())
		}
	case SectionElement:
		// Segments are not decoded: only how many there are.
		m.ElementSegments = d.count("element segments", 1)
		d.pos = len(d.buf)
	case SectionDataCount:
		m.DataCount, m.HasDataCount = d.u32(), true
	case SectionCode:
		m.codeSection(d)
	case SectionData:
		m.DataSegments = d.count("data segments", 1)
		d.pos = len(d.buf)
	}
	d.end()
	return d.err
}

func (m *Module) typeSection(d *decoder) {
	n := d.count("types", 3)
	m.Types = make([]FuncType, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		at := d.off()
		if form := d.u8(); d.err == nil && form != 0x60 {
			d.failAt(at, "type %d: unsupported type form 0x%02x (only function types, 0x60, are read)", i, form)
			return
		}
		var t FuncType
		t.Params = valTypes(d, "type", i, "parameters")
		t.Results = valTypes(d, "type", i, "results")
		m.Types = append(m.Types, t)
	}
}

func valTypes(d *decoder, what string, i uint32, list string) []ValType {
	n := d.count(list, 1)
	if n == 0 {
		return nil
	}
	ts := make([]ValType, 0, n)
	for j := uint32(0); j < n && d.err == nil; j++ {
		ts = append(ts, valType(d, what, i))
	}
	return ts
}

func valType(d *decoder, what string, i uint32) ValType {
	at := d.off()
	b := d.u8()
	if d.err == nil && !validValType(b) {
		d.failAt(at, "%s %d: unknown value type 0x%02x", what, i, b)
	}
	return ValType(b)
}

// typeIndex reads a type index and checks it names a type.
func (m *Module) typeIndex(d *decoder, what string, i uint32) uint32 {
	at := d.off()
	t := d.u32()
	if d.err == nil && t >= uint32(len(m.Types)) {
		d.failAt(at, "%s %d: type index %d out of range (%d types)", what, i, t, len(m.Types))
	}
	return t
}

func (m *Module) tagType(d *decoder, i uint32) uint32 {
	at := d.off()
	if attr := d.u8(); d.err == nil && attr != 0 {
		d.failAt(at, "tag %d: unknown attribute 0x%02x", i, attr)
	}
	return m.typeIndex(d, "tag", i)
}

func (m *Module) importSection(d *decoder) {
	n := d.count("imports", 4)
	m.Imports = make([]Import, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		im := Import{Offset: loc.ModuleOffset(d.off())}
		im.Module = d.name("import module name")
		im.Name = d.name("import name")
		at := d.off()
		im.Kind = ExternKind(d.u8())
		switch im.Kind {
		case KindFunc:
			im.TypeIndex = m.typeIndex(d, "import", i)
			m.funcImports = append(m.funcImports, im.TypeIndex)
		case KindTable:
			im.Table = tableType(d, "import", i)
		case KindMemory:
			im.Memory = limits(d, "import", i)
		case KindGlobal:
			im.Global = globalType(d, "import", i)
		case KindTag:
			im.TypeIndex = m.tagType(d, i)
		default:
			d.failAt(at, "import %d (%s.%s): unknown import kind 0x%02x", i, im.Module, im.Name, byte(im.Kind))
		}
		m.Imports = append(m.Imports, im)
	}
}

func (m *Module) exportSection(d *decoder) {
	n := d.count("exports", 3)
	m.Exports = make([]Export, 0, n)
	seen := make(map[string]bool, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		at := d.off()
		e := Export{Name: d.name("export name")}
		kat := d.off()
		e.Kind = ExternKind(d.u8())
		e.Index = d.u32()
		if d.err != nil {
			return
		}
		if e.Kind > KindTag {
			d.failAt(kat, "export %d (%s): unknown export kind 0x%02x", i, e.Name, byte(e.Kind))
			return
		}
		if seen[e.Name] {
			d.failAt(at, "export %d: duplicate export name %q", i, e.Name)
			return
		}
		seen[e.Name] = true
		m.Exports = append(m.Exports, e)
	}
}

func tableType(d *decoder, what string, i uint32) TableType {
	at := d.off()
	b := d.u8()
	if b == 0x40 { // function-references proposal: a table with an initializer
		if z := d.u8(); d.err == nil && z != 0 {
			d.failAt(at, "%s %d: bad table prefix 0x40 0x%02x", what, i, z)
		}
		t := TableType{Elem: refType(d, what, i)}
		t.Limits = limits(d, what, i)
		constExpr(d, what, i)
		return t
	}
	if d.err == nil && ValType(b) != FuncRef && ValType(b) != ExternRef {
		d.failAt(at, "%s %d: unknown table element type 0x%02x", what, i, b)
	}
	return TableType{Elem: ValType(b), Limits: limits(d, what, i)}
}

func refType(d *decoder, what string, i uint32) ValType {
	at := d.off()
	b := d.u8()
	if d.err == nil && ValType(b) != FuncRef && ValType(b) != ExternRef {
		d.failAt(at, "%s %d: unsupported reference type 0x%02x", what, i, b)
	}
	return ValType(b)
}

// limits reads memory or table limits: flags bit 0 has-max, bit 1 shared
// (threads), bit 2 64-bit (memory64), bit 3 a custom page size follows
// (custom-page-sizes proposal).
func limits(d *decoder, what string, i uint32) Limits {
	at := d.off()
	flags := d.u8()
	if d.err != nil {
		return Limits{}
	}
	if flags&^0x0f != 0 {
		d.failAt(at, "%s %d: unknown limits flags 0x%02x", what, i, flags)
		return Limits{}
	}
	l := Limits{HasMax: flags&1 != 0, Shared: flags&2 != 0, Is64: flags&4 != 0}
	read := func() uint64 {
		if l.Is64 {
			return d.u64()
		}
		return uint64(d.u32())
	}
	l.Min = read()
	if l.HasMax {
		l.Max = read()
		if d.err == nil && l.Max < l.Min {
			d.failAt(at, "%s %d: maximum %d below minimum %d", what, i, l.Max, l.Min)
		}
	}
	if flags&8 != 0 {
		d.u32() // log2 of the page size
	}
	return l
}

func globalType(d *decoder, what string, i uint32) GlobalType {
	g := GlobalType{Type: valType(d, what, i)}
	at := d.off()
	switch mut := d.u8(); {
	case d.err != nil:
	case mut == 0:
	case mut == 1:
		g.Mutable = true
	default:
		d.failAt(at, "%s %d: bad mutability 0x%02x", what, i, mut)
	}
	return g
}

// constExpr skips a constant expression (spec §3.3.10 with the
// extended-const, reference-types and SIMD proposals) up to its end opcode.
func constExpr(d *decoder, what string, i uint32) {
	for d.err == nil {
		at := d.off()
		switch op := d.u8(); op {
		case 0x0b: // end
			return
		case 0x41: // i32.const
			d.sleb(32)
		case 0x42: // i64.const
			d.sleb(64)
		case 0x43: // f32.const
			d.bytes(4, "f32 constant")
		case 0x44: // f64.const
			d.bytes(8, "f64 constant")
		case 0x23, 0xd2: // global.get, ref.func
			d.u32()
		case 0xd0: // ref.null heaptype
			d.sleb(33)
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // i32/i64 add, sub, mul
		case 0xfd: // SIMD prefix: only v128.const (12) is constant
			sub := d.u32()
			if d.err == nil && sub != 12 {
				d.failAt(at, "%s %d: instruction 0xfd %d is not allowed in a constant expression", what, i, sub)
				return
			}
			d.bytes(16, "v128 constant")
		default:
			if d.err == nil {
				d.failAt(at, "%s %d: instruction 0x%02x is not allowed in a constant expression", what, i, op)
			}
			return
		}
	}
}

func (m *Module) codeSection(d *decoder) {
	m.CodeStart = loc.ModuleOffset(d.base)
	n := d.count("function bodies", 1)
	m.Code = make([]Body, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		at := d.off()
		size := d.u32()
		if d.err != nil {
			return
		}
		if uint64(size) > uint64(d.left()) {
			d.failAt(at, "function body %d overruns section", i)
			return
		}
		if size == 0 {
			d.failAt(at, "function body %d is empty", i)
			return
		}
		start := d.off()
		d.pos += int(size)
		m.Code = append(m.Code, Body{
			Func:       m.NumImportedFuncs() + i,
			SizeOffset: loc.ModuleOffset(at),
			Start:      loc.ModuleOffset(start),
			End:        loc.ModuleOffset(d.off()),
		})
	}
}
