package wasm

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseTestdata(t *testing.T, name string) *Module {
	t.Helper()
	m, err := Parse(readTestdata(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func TestPlugin(t *testing.T) {
	m := parseTestdata(t, "plugin.wasm")
	var imports []string
	for _, im := range m.Imports {
		ft := m.Types[im.TypeIndex]
		imports = append(imports, im.Module+"."+im.Name+" "+im.Kind.String()+" "+ft.String())
	}
	wantImports := []string{
		"env.proxy_log func i32 i32 i32 -> i32",
		"env.proxy_get_header_map_value func i32 i32 i32 i32 i32 -> i32",
		"wasi_snapshot_preview1.fd_write func i32 i32 i32 i32 -> i32",
	}
	if !reflect.DeepEqual(imports, wantImports) {
		t.Errorf("imports\n%q\nwant\n%q", imports, wantImports)
	}
	var exports []string
	for _, e := range m.Exports {
		exports = append(exports, e.Name+" "+e.Kind.String())
	}
	wantExports := []string{"memory memory", "proxy_abi_version_0_2_1 func", "_initialize func", "malloc func",
		"proxy_on_context_create func", "proxy_on_request_headers func"}
	if !reflect.DeepEqual(exports, wantExports) {
		t.Errorf("exports %q, want %q", exports, wantExports)
	}
	if m.NumImportedFuncs() != 3 || m.NumFuncs() != 9 || len(m.Code) != 6 {
		t.Errorf("imported %d, funcs %d, bodies %d", m.NumImportedFuncs(), m.NumFuncs(), len(m.Code))
	}
	if ft, ok := m.FuncType(8); !ok || ft.String() != "i32 -> void" {
		t.Errorf("type of func 8 (crash): %v %v", ft, ok)
	}
	if ft, ok := m.FuncType(2); !ok || ft.String() != "i32 i32 i32 i32 -> i32" {
		t.Errorf("type of func 2 (fd_write): %v %v", ft, ok)
	}
	if _, ok := m.FuncType(9); ok {
		t.Error("func 9 does not exist")
	}
	if !m.HasNames || m.Names.Module != "plugin" {
		t.Errorf("names: %v %+v", m.HasNames, m.Names)
	}
	if got := m.FuncName(0); got != "proxy_log" {
		t.Errorf("func 0 named %q", got)
	}
	if got := m.FuncName(8); got != "crash" {
		t.Errorf("func 8 named %q", got)
	}
	if got := m.Names.Locals[5]; !reflect.DeepEqual(got, map[uint32]string{0: "size", 1: "p"}) {
		t.Errorf("locals of malloc: %v", got)
	}
	if len(m.Memories) != 1 || m.Memories[0].Min != 2 || len(m.Globals) != 1 || !m.Globals[0].Mutable {
		t.Errorf("memories %+v globals %+v", m.Memories, m.Globals)
	}
	if m.DataSegments != 1 || m.HasStart || m.HasDataCount || len(m.Warnings) != 0 {
		t.Errorf("data %d start %v datacount %v warnings %v", m.DataSegments, m.HasStart, m.HasDataCount, m.Warnings)
	}
}

func TestKinds(t *testing.T) {
	m := parseTestdata(t, "kinds.wasm")
	want := []Import{
		{Module: "env", Name: "f", Kind: KindFunc, TypeIndex: 1, Offset: 0x18},
		{Module: "env", Name: "table", Kind: KindTable, Table: TableType{Elem: FuncRef, Limits: Limits{Min: 1, Max: 10, HasMax: true}}, Offset: 0x20},
		{Module: "env", Name: "memory", Kind: KindMemory, Memory: Limits{Min: 1, Max: 2, HasMax: true}, Offset: 0x2f},
		{Module: "env", Name: "g", Kind: KindGlobal, Global: GlobalType{Type: I32}, Offset: 0x3e},
	}
	if !reflect.DeepEqual(m.Imports, want) {
		t.Errorf("imports\n%+v\nwant\n%+v", m.Imports, want)
	}
	if got := m.Types[1].String(); got != "i64 f32 f64 -> i64" {
		t.Errorf("type 1 %q", got)
	}
	wantGlobals := []GlobalType{{Type: I64}, {Type: F32}, {Type: F64}, {Type: I32}, {Type: FuncRef}}
	if !reflect.DeepEqual(m.Globals, wantGlobals) {
		t.Errorf("globals %+v", m.Globals)
	}
	if !m.HasStart || m.Start != 1 || !m.HasDataCount || m.DataCount != 1 || m.ElementSegments != 1 || m.DataSegments != 1 {
		t.Errorf("start %v/%d datacount %v/%d elements %d data %d", m.HasStart, m.Start, m.HasDataCount, m.DataCount, m.ElementSegments, m.DataSegments)
	}
	if m.HasNames {
		t.Error("kinds.wasm has no name section")
	}
	wantExports := []Export{{"start", KindFunc, 1}, {"g", KindGlobal, 0}, {"t", KindTable, 0}}
	if !reflect.DeepEqual(m.Exports, wantExports) {
		t.Errorf("exports %+v", m.Exports)
	}
}

func TestCustomSections(t *testing.T) {
	tests := []struct {
		file  string
		debug []string
	}{
		{"dwarf4.wasm", []string{".debug_info", ".debug_loc", ".debug_ranges", ".debug_abbrev", ".debug_line", ".debug_str"}},
		{"dwarf5.wasm", []string{".debug_info", ".debug_loclists", ".debug_line_str", ".debug_abbrev",
			".debug_str_offsets", ".debug_rnglists", ".debug_line", ".debug_str", ".debug_addr"}},
	}
	for _, tt := range tests {
		m := parseTestdata(t, tt.file)
		var names []string
		for _, s := range m.DebugSections() {
			names = append(names, s.Name)
			if got := m.Custom(s.Name); len(got) == 0 || &got[0] != &s.Data[0] {
				t.Errorf("%s: Custom(%q) does not return the section data", tt.file, s.Name)
			}
		}
		if !reflect.DeepEqual(names, tt.debug) {
			t.Errorf("%s: debug sections %q, want %q", tt.file, names, tt.debug)
		}
		wantProducers := []ProducerField{
			{Name: "language", Values: []ProducerValue{{"C11", ""}}},
			{Name: "processed-by", Values: []ProducerValue{{"Debian clang", "16.0.6 (15~deb12u1)"}}},
		}
		if !reflect.DeepEqual(m.Producers, wantProducers) {
			t.Errorf("%s: producers %+v", tt.file, m.Producers)
		}
		if len(m.TargetFeatures) == 0 || m.TargetFeatures[0].Prefix != '+' {
			t.Errorf("%s: target features %+v", tt.file, m.TargetFeatures)
		}
		if m.FuncName(1) != "on_tick" {
			t.Errorf("%s: func 1 named %q", tt.file, m.FuncName(1))
		}
		if m.Custom(".debug_nope") != nil {
			t.Errorf("%s: Custom of a missing section is not nil", tt.file)
		}
	}
}

func TestOffsets(t *testing.T) {
	m := parseTestdata(t, "dwarf5.wasm")
	// wasm-objdump -h: Code start=0x67; llvm-dwarfdump: the CU covers code
	// offsets [0x2, 0x1e) and [0x1f, 0x53), the two function bodies.
	if m.CodeStart != 0x67 {
		t.Fatalf("code start %s, want 0x67", m.CodeStart)
	}
	wantBodies := []Body{{Func: 1, SizeOffset: 0x68, Start: 0x69, End: 0x85}, {Func: 2, SizeOffset: 0x85, Start: 0x86, End: 0xba}}
	if !reflect.DeepEqual(m.Code, wantBodies) {
		t.Fatalf("bodies %+v\nwant %+v", m.Code, wantBodies)
	}
	for _, tt := range []struct {
		off loc.ModuleOffset
		fn  uint32
		ok  bool
	}{
		{0x69, 1, true}, {0x84, 1, true}, {0x85, 0, false}, {0x86, 2, true},
		{0xb9, 2, true}, {0xba, 0, false}, {0x0, 0, false}, {0x67, 0, false},
	} {
		b, ok := m.FuncAt(tt.off)
		if ok != tt.ok || (ok && b.Func != tt.fn) {
			t.Errorf("FuncAt(%s) = %d %v, want %d %v", tt.off, b.Func, ok, tt.fn, tt.ok)
		}
	}
	if b, ok := m.Body(2); !ok || b.Start != 0x86 {
		t.Errorf("Body(2) = %+v %v", b, ok)
	}
	if _, ok := m.Body(0); ok {
		t.Error("Body(0) of an imported function")
	}
}

// The module builders below make hand-made inputs for the error tables.

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func str(s string) []byte { return cat(uleb(uint64(len(s))), []byte(s)) }

func sec(id byte, payload ...[]byte) []byte {
	p := cat(payload...)
	return cat([]byte{id}, uleb(uint64(len(p))), p)
}

func custom(name string, payload ...[]byte) []byte { return sec(0, str(name), cat(payload...)) }

func module(sections ...[]byte) []byte {
	return cat([]byte("\x00asm\x01\x00\x00\x00"), cat(sections...))
}

var (
	typeVoid  = sec(1, []byte{1, 0x60, 0, 0})  // one type: () -> ()
	funcOne   = sec(3, []byte{1, 0})           // one function of type 0
	codeOne   = sec(10, []byte{1, 2, 0, 0x0b}) // one body: no locals, end
	importLog = sec(2, []byte{1}, str("env"), str("proxy_log"), []byte{0, 0})
)

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "header at offset 0x0: not a WebAssembly module: 0 bytes, shorter than the 8-byte header"},
		{"elf", []byte("\x7fELF\x02\x01\x01\x00"), `header at offset 0x0: not a WebAssembly module: starts with "\x7fELF", want "\x00asm"`},
		{"text", []byte("  (module (func))"), "header at offset 0x0: not a binary WebAssembly module: this looks like the text format (.wat); convert it with wat2wasm"},
		{"gzip", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"), "header at offset 0x0: not a WebAssembly module: this is gzip-compressed data; decompress it first (gunzip)"},
		{"short header", []byte("\x00asm\x01"), "header at offset 0x4: truncated header: 5 bytes, want 8"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "header at offset 0x4: unsupported binary version 2, want 1"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "header at offset 0x4: a WebAssembly component (version 0xd, layer 1), not a core module; Proxy-Wasm hosts load core modules"},
		{"section size truncated", module([]byte{1, 0x80}), "section type at offset 0x8: section size: truncated LEB128 integer"},
		{"section size too long", module([]byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), "section type at offset 0x8: section size: LEB128 integer longer than 5 bytes"},
		{"section size overflow", module([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x7f}), "section type at offset 0x8: section size: LEB128 integer overflows 32 bits"},
		{"section overruns file", module([]byte{10, 0x20, 1, 2}), "section code at offset 0x8: section size 32 overruns the file (2 bytes left)"},
		{"unknown section", module(sec(14)), "section id 0x0e at offset 0x8: unknown section id"},
		{"duplicate", module(typeVoid, typeVoid), "section type at offset 0xe: duplicate section"},
		{"out of order", module(sec(5, []byte{0}), typeVoid), "section type at offset 0xb: out of order: after section memory"},
		{"type form", module(sec(1, []byte{1, 0x5f, 0, 0})), "section type at offset 0xb: type 0: unsupported type form 0x5f (only function types, 0x60, are read)"},
		{"value type", module(sec(1, []byte{1, 0x60, 1, 0x40, 0})), "section type at offset 0xd: type 0: unknown value type 0x40"},
		{"type count", module(sec(1, uleb(1000), []byte{0x60, 0, 0})), "section type at offset 0xa: 1000 types declared, but only 3 bytes left"},
		{"type truncated", module(sec(1, []byte{2, 0x60, 0, 0, 0x60, 0})), "section type at offset 0xa: 2 types declared, but only 5 bytes left"},
		{"unread bytes", module(sec(1, []byte{1, 0x60, 0, 0, 0xaa})), "section type at offset 0xe: 1 unread bytes at the end of the section"},
		{"import kind", module(typeVoid, sec(2, []byte{1}, str("env"), str("x"), []byte{7, 0})), "section import at offset 0x17: import 0 (env.x): unknown import kind 0x07"},
		{"import type index", module(typeVoid, sec(2, []byte{1}, str("env"), str("proxy_log"), []byte{0, 5})), "section import at offset 0x20: import 0: type index 5 out of range (1 types)"},
		{"import name utf8", module(typeVoid, sec(2, []byte{1}, str("env"), str("\xff\xfe"), []byte{0, 0})), "section import at offset 0x15: import name is not valid UTF-8"},
		{"import name overruns", module(typeVoid, sec(2, []byte{1}, str("env"), []byte{40, 'a', 'b', 0})), "section import at offset 0x16: import name of 40 bytes overruns the section (3 bytes left)"},
		{"function type index", module(typeVoid, sec(3, []byte{1, 3})), "section function at offset 0x11: function 0: type index 3 out of range (1 types)"},
		{"memory limits", module(sec(5, []byte{1, 0x10, 1})), "section memory at offset 0xb: memory 0: unknown limits flags 0x10"},
		{"memory max below min", module(sec(5, []byte{1, 1, 5, 2})), "section memory at offset 0xb: memory 0: maximum 2 below minimum 5"},
		{"table elem", module(sec(4, []byte{1, 0x7f, 0, 1})), "section table at offset 0xb: table 0: unknown table element type 0x7f"},
		{"global mutability", module(sec(6, []byte{1, 0x7f, 2, 0x41, 0, 0x0b})), "section global at offset 0xc: global 0: bad mutability 0x02"},
		{"global init", module(sec(6, []byte{1, 0x7f, 0, 0x20, 0, 0x0b})), "section global at offset 0xd: global 0: instruction 0x20 is not allowed in a constant expression"},
		{"global init unterminated", module(sec(6, []byte{1, 0x7f, 0, 0x41, 0})), "section global at offset 0xf: unexpected end of section"},
		{"export kind", module(sec(7, []byte{1}, str("x"), []byte{9, 0})), "section export at offset 0xd: export 0 (x): unknown export kind 0x09"},
		{"duplicate export", module(typeVoid, funcOne, sec(7, []byte{2}, str("x"), []byte{0, 0}, str("x"), []byte{0, 0}), codeOne), "section export at offset 0x19: export 1: duplicate export name \"x\""},
		{"start out of range", module(typeVoid, funcOne, sec(8, []byte{4}), codeOne), "section start at offset 0x14: start function 4 does not exist (1 functions)"},
		{"body overruns", module(typeVoid, funcOne, sec(10, []byte{1, 9, 0, 0x0b})), "section code at offset 0x15: function body 0 overruns section"},
		{"body empty", module(typeVoid, funcOne, sec(10, []byte{1, 0})), "section code at offset 0x15: function body 0 is empty"},
		{"bodies vs functions", module(typeVoid, sec(3, []byte{2, 0, 0}), codeOne), "section code at offset 0x13: 1 function bodies, but the function section declares 2"},
		{"no code section", module(typeVoid, funcOne), "section function at offset 0xe: 1 functions declared, but the module has no code section"},
		{"custom name overruns", module([]byte{0, 2, 5, 'a'}), "section custom at offset 0xb: custom section name of 5 bytes overruns the section (1 bytes left)"},
	}
	for _, tt := range tests {
		m, err := Parse(tt.in)
		if err == nil {
			t.Errorf("%s: no error, module %+v", tt.name, m)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, err, tt.want)
		}
		if _, ok := err.(*Error); !ok {
			t.Errorf("%s: error is a %T, not *Error", tt.name, err)
		}
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.wasm")
	if err := os.WriteFile(p, module(sec(10, []byte{1, 9})), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p)
	want := p + ": section code at offset 0xb: function body 0 overruns section"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.wasm")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// Custom sections never fail a parse; their problems become warnings and
// what was read before the fault is kept.
func TestWarnings(t *testing.T) {
	funcNames := func(entries ...[]byte) []byte {
		return cat([]byte{1}, uleb(uint64(len(cat(entries...)))), cat(entries...))
	}
	tests := []struct {
		name  string
		in    []byte
		want  []string
		check func(*Module) string
	}{
		{
			name: "producers before name, as Go writes them",
			in: module(typeVoid, funcOne, codeOne,
				custom("producers", []byte{1}, str("language"), []byte{1}, str("Go"), str("go1.26")),
				custom("name", funcNames([]byte{1, 0}, str("main.main")))),
			check: func(m *Module) string {
				if m.FuncName(0) != "main.main" || len(m.Producers) != 1 || m.Producers[0].Values[0].Version != "go1.26" {
					return "names or producers lost"
				}
				return ""
			},
		},
		{
			name: "unknown name subsections skipped",
			in: module(typeVoid, funcOne, codeOne,
				custom("name", []byte{4, 3, 1, 0, 0}, []byte{9, 1, 0}, funcNames([]byte{1, 0}, str("f")), []byte{0, 2}, str("m"))),
			check: func(m *Module) string {
				if m.FuncName(0) != "f" || m.Names.Module != "m" {
					return "names lost: " + m.FuncName(0) + " " + m.Names.Module
				}
				return ""
			},
		},
		{
			name: "subsection overruns",
			in:   module(typeVoid, funcOne, codeOne, custom("name", []byte{0, 2}, str("m"), []byte{1, 50, 1})),
			want: []string{"section name at offset 0x25: subsection 1 of 50 bytes overruns the section (1 bytes left)"},
			check: func(m *Module) string {
				if m.Names.Module != "m" || !m.HasNames {
					return "module name lost"
				}
				return ""
			},
		},
		{
			name: "function names truncated",
			in:   module(typeVoid, funcOne, codeOne, custom("name", funcNames([]byte{2, 0}, str("a"), []byte{1}))),
			want: []string{"section name at offset 0x26: truncated LEB128 integer"},
			check: func(m *Module) string {
				if m.FuncName(0) != "a" {
					return "first name lost"
				}
				return ""
			},
		},
		{
			name: "bad producers and features",
			in: module(custom("producers", []byte{1}, str("sdk"), []byte{3}, str("x")),
				custom("target_features", []byte{1, '*'}, str("simd128")),
				custom("sourceMappingURL", str("./a.wasm.map"), []byte{0})),
			want: []string{
				"section producers at offset 0x19: 3 producer values declared, but only 2 bytes left",
				"section target_features at offset 0x2f: feature 0: unknown prefix 0x2a",
				"section sourceMappingURL at offset 0x58: 1 unread bytes at the end of the section",
			},
			check: func(m *Module) string {
				if m.SourceMappingURL != "./a.wasm.map" {
					return "source map URL lost"
				}
				return ""
			},
		},
		{
			name: "duplicate name section",
			in:   module(custom("name", []byte{0, 2}, str("a")), custom("name", []byte{0, 2}, str("b"))),
			want: []string{"section name at offset 0x13: duplicate name section ignored"},
			check: func(m *Module) string {
				if m.Names.Module != "a" {
					return "first name section not kept"
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		m, err := Parse(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var got []string
		for _, w := range m.Warnings {
			got = append(got, w.Error())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: warnings\n%q\nwant\n%q", tt.name, got, tt.want)
		}
		if msg := tt.check(m); msg != "" {
			t.Errorf("%s: %s", tt.name, msg)
		}
	}
}

func TestExternalDebugInfo(t *testing.T) {
	m, err := Parse(module(custom("external_debug_info", str("plugin.debug.wasm"))))
	if err != nil || m.ExternalDebugInfo != "plugin.debug.wasm" {
		t.Errorf("%v %q", err, m.ExternalDebugInfo)
	}

}
