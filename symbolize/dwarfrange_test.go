package symbolize

import (
	"debug/dwarf"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/internal/wasm"
)

// TestInlinedRangeToAddressSpaceEnd: TinyGo's wasi-libc DWARF has inlined
// subroutines whose DW_AT_high_pc length runs to 2^32; taken at its word
// such a range covers every later function. This rewrites the length of
// inlined subroutines of the C++ fixture that way: past where each really
// ends, the answer is the unpatched module's, not one with the inlined
// call on top.
func TestInlinedRangeToAddressSpaceEnd(t *testing.T) {
	b, pm := cppModuleBytes(t)
	orig, err := New("plugin.wasm", b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, abbrev := pm.Custom(".debug_info"), pm.Custom(".debug_abbrev")
	infoSec, _ := pm.CustomSection(".debug_info")
	infoAt := int(infoSec.DataOffset)
	d, err := dwarf.New(abbrev, nil, nil, info, pm.Custom(".debug_line"), nil, pm.Custom(".debug_ranges"), pm.Custom(".debug_str"))
	if err != nil {
		t.Fatal(err)
	}
	// One inlined subroutine rewritten at a time: the others keep the
	// frames they contribute at the probe address.
	compared := 0
	r := d.Reader()
	for compared < 8 {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagInlinedSubroutine {
			continue
		}
		low, ok := e.Val(dwarf.AttrLowpc).(uint64)
		hf := e.AttrField(dwarf.AttrHighpc)
		if !ok || hf == nil || hf.Class != dwarf.ClassConstant {
			continue
		}
		pos, ok := attrPos(info, abbrev, e.Offset, dwarf.AttrHighpc)
		if !ok {
			continue
		}
		end := low + uint64(hf.Val.(int64))
		want, err := orig.Lookup(loc.CodeOffset(end))
		if err != nil || len(want) == 0 || want[0].Source != loc.SourceDWARF {
			continue
		}
		patched := append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(patched[infoAt+pos:], uint32(1<<32-low))
		m, err := New("patched.wasm", patched, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m.Lookup(loc.CodeOffset(end)); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("inlined subroutine at .debug_info+0x%x ending at code+0x%x: %+v, %v\nwant %+v", e.Offset, end, got, err, want)
		}
		compared++
	}
	if compared == 0 {
		t.Fatal("the cpp fixture has no inlined subroutine with a DW_AT_high_pc length and DWARF frames past its end")
	}
}

// attrPos returns the .debug_info offset of attribute a of the DIE at off,
// decoding its abbreviation (DWARF 4 units, the forms clang writes).
func attrPos(info, abbrev []byte, off dwarf.Offset, a dwarf.Attr) (int, bool) {
	// Find the unit holding off: unit_length, version, debug_abbrev_offset,
	// address_size (DWARF 4 §7.5.1.1).
	u := 0
	for u+11 <= len(info) {
		end := u + 4 + int(binary.LittleEndian.Uint32(info[u:]))
		if int(off) < end {
			break
		}
		u = end
	}
	if u+11 > len(info) || binary.LittleEndian.Uint16(info[u+4:]) != 4 {
		return 0, false
	}
	abbrevOff, addrSize := int(binary.LittleEndian.Uint32(info[u+6:])), int(info[u+10])
	uleb := func(b []byte, i int) (uint64, int) {
		v, n := binary.Uvarint(b[i:])
		return v, i + n
	}
	pos := int(off)
	code, pos := uleb(info, pos)
	// Find the abbreviation: code, tag, children, (attr, form)… 0 0.
	i := abbrevOff
	for {
		c, j := uleb(abbrev, i)
		if c == 0 {
			return 0, false
		}
		_, j = uleb(abbrev, j)
		j++ // children
		var forms [][2]uint64
		for {
			at, k := uleb(abbrev, j)
			form, k2 := uleb(abbrev, k)
			j = k2
			if at == 0 && form == 0 {
				break
			}
			forms = append(forms, [2]uint64{at, form})
		}
		i = j
		if c != code {
			continue
		}
		for _, af := range forms {
			if dwarf.Attr(af[0]) == a {
				return pos, af[1] == 0x06 // DW_FORM_data4
			}
			switch af[1] {
			case 0x01: // addr
				pos += addrSize
			case 0x0b, 0x0c: // data1, flag
				pos++
			case 0x05: // data2
				pos += 2
			case 0x06, 0x13, 0x17, 0x0e: // data4, ref4, sec_offset, strp
				pos += 4
			case 0x07: // data8
				pos += 8
			case 0x19: // flag_present
			case 0x0d, 0x0f, 0x15: // sdata, udata, ref_udata
				_, pos = uleb(info, pos)
			default:
				return 0, false
			}
		}
		return 0, false
	}
}

// TestUnjoinURL: wasi-sdk maps its sources to "wasisdk://v19…/src/…"; a
// name joined under the compilation directory by debug/dwarf comes back as
// llvm-symbolizer prints it.
func TestUnjoinURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"wasisdk:/v19.13g935fe1acd2fc/build/compiler-rt/wasisdk:/v19.13g935fe1acd2fc/src/llvm-project/compiler-rt/lib/builtins/multi3.c",
			"wasisdk://v19.13g935fe1acd2fc/src/llvm-project/compiler-rt/lib/builtins/multi3.c"},
		{"wasisdk:/v19/build/x.c", "wasisdk://v19/build/x.c"},
		{"/home/u/src/plugin.cc", "/home/u/src/plugin.cc"},
		{"C:/src/plugin.cc", "C:/src/plugin.cc"},
		{"../../../usr/local/Cellar/tinygo/0.12.0/src/runtime/panic.go", "../../../usr/local/Cellar/tinygo/0.12.0/src/runtime/panic.go"},
		{"/src/a:b/c.go", "/src/a:b/c.go"},
	} {
		if got := unjoinURL(tt.in); got != tt.want {
			t.Errorf("unjoinURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUnsortedRangeLists: DWARF does not order a range list, and TinyGo's
// are not in address order; nor is a node's once its children's ranges are
// folded into it. This reverses the .debug_ranges list of every inlined
// subroutine of the C++ fixture that has two entries or more (no base
// address entries): at the start of each listed range the frames are the
// unpatched module's, inlined calls included.
func TestUnsortedRangeLists(t *testing.T) {
	b, pm := cppModuleBytes(t)
	orig, err := New("plugin.wasm", b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rangesSec, ok := pm.CustomSection(".debug_ranges")
	if !ok {
		t.Fatal("the cpp fixture has no .debug_ranges")
	}
	ranges := rangesSec.Data
	d, err := dwarf.New(pm.Custom(".debug_abbrev"), nil, nil, pm.Custom(".debug_info"), pm.Custom(".debug_line"), nil, ranges, pm.Custom(".debug_str"))
	if err != nil {
		t.Fatal(err)
	}
	patched := append([]byte(nil), b...)
	var probes []uint64
	lists := 0
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		off, ok := e.Val(dwarf.AttrRanges).(int64)
		if e.Tag != dwarf.TagInlinedSubroutine || !ok {
			continue
		}
		// Entries of two 4-byte addresses up to the (0, 0) end.
		var pairs [][2]uint32
		for i := int(off); i+8 <= len(ranges); i += 8 {
			lo, hi := binary.LittleEndian.Uint32(ranges[i:]), binary.LittleEndian.Uint32(ranges[i+4:])
			if lo == 0 && hi == 0 {
				break
			}
			pairs = append(pairs, [2]uint32{lo, hi})
		}
		base := false
		for _, p := range pairs {
			base = base || p[0] == 0xffffffff
		}
		if len(pairs) < 2 || base {
			continue
		}
		at := int(rangesSec.DataOffset) + int(off)
		for i, p := range pairs {
			j := at + 8*(len(pairs)-1-i)
			binary.LittleEndian.PutUint32(patched[j:], p[0])
			binary.LittleEndian.PutUint32(patched[j+4:], p[1])
			if usableRange([2]uint64{uint64(p[0]), uint64(p[1])}) {
				probes = append(probes, uint64(p[0]))
			}
		}
		lists++
	}
	if lists == 0 {
		t.Fatal("the cpp fixture has no inlined subroutine with a range list of two entries")
	}
	m, err := New("patched.wasm", patched, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range probes {
		want, err := orig.Lookup(loc.CodeOffset(pc))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := m.Lookup(loc.CodeOffset(pc)); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("code+0x%x: %+v, %v\nwant %+v", pc, got, err, want)
		}
	}
	t.Logf("%d range lists reversed, %d offsets compared", lists, len(probes))
}

// TestStaleDWARFNotUsed: a module rewritten after linking keeps DWARF whose
// unit ranges start inside other functions, and its names and lines would
// be another function's. With most of them off (every range list entry of
// the C++ fixture's units moved 4 bytes in), DWARF is set aside with a
// warning and the name section answers; one entry off changes nothing.
func TestStaleDWARFNotUsed(t *testing.T) {
	b, pm := cppModuleBytes(t)
	rs, _ := pm.CustomSection(".debug_ranges")
	d, err := dwarf.New(pm.Custom(".debug_abbrev"), nil, nil, pm.Custom(".debug_info"), nil, nil, rs.Data, pm.Custom(".debug_str"))
	if err != nil {
		t.Fatal(err)
	}
	var at []int // file offsets of the units' range list entries
	for r := d.Reader(); ; r.SkipChildren() {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		off, ok := e.Val(dwarf.AttrRanges).(int64)
		if !ok {
			continue
		}
		for i := int(off); i+8 <= len(rs.Data) && binary.LittleEndian.Uint64(rs.Data[i:]) != 0; i += 8 {
			if lo := binary.LittleEndian.Uint32(rs.Data[i:]); lo != 0 && lo < 0xfffffffe {
				at = append(at, int(rs.DataOffset)+i)
			}
		}
	}
	if len(at) < 4 {
		t.Fatalf("the cpp fixture's units have %d range list entries", len(at))
	}
	body := pm.Code[len(pm.Code)/2]
	pc := loc.CodeOffset(body.Start - pm.CodeStart)
	for _, tt := range []struct {
		moved  int
		source loc.Source
		warn   string
	}{
		{1, loc.SourceDWARF, ""},
		{len(at), loc.SourceNameSection, "patched.wasm: stale DWARF, not used: "},
	} {
		p := append([]byte(nil), b...)
		for _, o := range at[:tt.moved] {
			binary.LittleEndian.PutUint32(p[o:], binary.LittleEndian.Uint32(p[o:])+4)
		}
		var warns []string
		m, err := New("patched.wasm", p, Options{Warn: func(s string) { warns = append(warns, s) }})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := m.Lookup(pc)
		if err != nil || len(fs) == 0 {
			t.Fatalf("%d moved: %v, %v", tt.moved, fs, err)
		}
		if got := fs[len(fs)-1]; got.Source != tt.source || got.Function != pm.FuncName(body.Func) && tt.source == loc.SourceNameSection {
			t.Errorf("%d moved: outermost frame %+v, want one from %s named %q", tt.moved, got, tt.source, pm.FuncName(body.Func))
		}
		stale := false
		for _, w := range warns {
			stale = stale || strings.Contains(w, "stale DWARF")
			if tt.warn != "" && !strings.HasPrefix(w, tt.warn) {
				t.Errorf("%d moved: warning %q, want one starting %q", tt.moved, w, tt.warn)
			}
		}
		if stale != (tt.warn != "") {
			t.Errorf("%d moved: warnings %q", tt.moved, warns)
		}
	}
}

// cppModuleBytes returns the C++ fixture's bytes and their parse, for the
// tests that patch its DWARF.
func cppModuleBytes(t *testing.T) ([]byte, *wasm.Module) {
	t.Helper()
	fx, ok := fixtures.Get("cpp")
	if !ok {
		t.Skip("no cpp fixture")
	}
	b, err := fx.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := wasm.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, pm
}
