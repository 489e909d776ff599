package symbolize

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// Every DWARF fixture answers like llvm-symbolizer (14 and 16) at every
// function's first byte, first instruction and last byte and at a spread of
// offsets inside every body: same raw function names, files, lines,
// columns and inlining chains.
func TestDWARFMatchesLLVM(t *testing.T) {
	fxs := dwarfFixtures()
	if len(fxs) == 0 {
		t.Fatal("no DWARF fixtures registered")
	}
	for _, fx := range fxs {
		t.Run(fx.Name, func(t *testing.T) {
			m, warns := openFixture(t, fx.Name, Options{})
			stride := 7
			if start, end := m.CodeRange(); end-start > 100_000 {
				stride = 257 // Rust's std: keep the llvm run short
			}
			offs := sampleOffsets(t, m, stride)
			if n := compareLLVM(t, m, m.name, offs, false); n < len(offs)/2 {
				t.Errorf("llvm-symbolizer answered only %d of %d offsets from DWARF", n, len(offs))
			}
			if len(*warns) > 0 {
				t.Errorf("warnings: %q", *warns)
			}
		})
	}
}

// The recorded V8 crash frames of every DWARF fixture, given as module
// offsets the way Envoy prints them, resolve to what llvm-symbolizer says
// for the same code offsets, demangled names included; and each frame's
// function is the one V8 named.
func TestEnvoyCrashFramesMatchLLVM(t *testing.T) {
	prefetchCrashAnswers(t, availableLLVM(t))
	for _, lang := range []string{"cpp", "rust"} {
		for _, c := range v8Crashes(t, lang) {
			fx, ok := fixtures.Get(c.fixture)
			if !ok || fx.DWARF == 0 || len(c.frames) == 0 {
				continue
			}
			t.Run(c.fixture+" "+c.args, func(t *testing.T) {
				m := sharedFixture(t, c.fixture)
				start, _ := m.CodeRange()
				var offs []uint64
				for _, f := range c.frames {
					idx, err := m.FuncIndex(f.offset)
					if err != nil {
						t.Fatalf("frame %s: %v", f.offset, err)
					}
					if idx != f.index {
						t.Errorf("frame %s is in function %d, V8 says %d", f.offset, idx, f.index)
					}
					if f.name != "" && !m.namedAs(idx, f.name) {
						t.Errorf("frame %s: V8 names %q, module %q", f.offset, f.name, m.NameOf(idx).Function)
					}
					offs = append(offs, uint64(f.offset-start))
				}
				// Legacy Rust names: llvm's Itanium demangler keeps "$LT$"
				// escapes, so compare them raw.
				compareLLVM(t, m, m.name, offs, fx.Language != "rust")
			})
		}
	}
}

// prefetchCrashAnswers asks llvm-symbolizer, once per tool and module,
// about every recorded crash frame of the DWARF fixtures, raw and demangled.
func prefetchCrashAnswers(t *testing.T, tools []string) {
	offs := map[string][]uint64{}
	for _, lang := range []string{"cpp", "rust"} {
		for _, c := range v8Crashes(t, lang) {
			if fx, ok := fixtures.Get(c.fixture); !ok || fx.DWARF == 0 {
				continue
			}
			m := sharedFixture(t, c.fixture)
			start, _ := m.CodeRange()
			for _, f := range c.frames {
				offs[m.name] = append(offs[m.name], uint64(f.offset-start))
			}
		}
	}
	for file, o := range offs {
		for _, tool := range tools {
			llvmAnswers(t, tool, file, o, true)
			llvmAnswers(t, tool, file, o, false)
		}
	}
}

// DWARF 5 (the plugin's units; wasi-libc's stay 4) is read: .debug_addr,
// .debug_str_offsets, .debug_rnglists and .debug_line_str, which wazero
// does not load, so it prints no source lines for these modules.
func TestDWARF5(t *testing.T) {
	m, _ := openFixture(t, "cpp-dwarf5", Options{})
	if got := m.DWARFVersions(); !reflect.DeepEqual(got, []int{4, 5}) {
		t.Errorf("DWARFVersions = %v, want [4 5]", got)
	}
	// x-crash=inline: the trap sits in checkedAt, inlined into viaInline.
	frames, err := m.Lookup(loc.ModuleOffset(0x165c))
	if err != nil {
		t.Fatal(err)
	}
	want := []Frame{
		{Function: "_ZN6plugin5crash9checkedAtEPKijj", Demangled: "plugin::crash::checkedAt(int const*, unsigned int, unsigned int)", File: "plugin.cc", Line: 80, Column: 18, Inlined: true, Source: loc.SourceDWARF},
		{Function: "_ZN6plugin5crash9viaInlineEj", Demangled: "plugin::crash::viaInline(unsigned int)", File: "plugin.cc", Line: 86, Column: 10, Source: loc.SourceDWARF},
	}
	if !reflect.DeepEqual(frames, want) {
		t.Errorf("Lookup(0x165c) =\n%+v\nwant\n%+v", frames, want)
	}
}

// Names come from the name section as stored, the same as wasm-objdump
// -x -j name prints them, for every fixture with one.
func TestNamesMatchObjdump(t *testing.T) {
	if _, err := exec.LookPath("wasm-objdump"); err != nil {
		t.Skip("wasm-objdump (wabt) not installed: apt-get install wabt")
	}
	re := regexp.MustCompile(`^ - func\[(\d+)\] <(.*)>$`)
	for _, fx := range fixtures.All() {
		if !fx.NameSection {
			continue
		}
		t.Run(fx.Name, func(t *testing.T) {
			m, _ := openFixture(t, fx.Name, Options{})
			out, err := exec.Command("wasm-objdump", "-x", "-j", "name", m.name).Output()
			if err != nil {
				t.Fatalf("wasm-objdump: %v", err)
			}
			n := 0
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				mm := re.FindStringSubmatch(sc.Text())
				if mm == nil {
					continue
				}
				idx, _ := strconv.ParseUint(mm[1], 10, 32)
				f := m.NameOf(uint32(idx))
				if f.Function != mm[2] || f.Source != loc.SourceNameSection {
					t.Errorf("function %d: %q from %s, wasm-objdump %q", idx, f.Function, f.Source, mm[2])
				}
				n++
			}
			if n == 0 {
				t.Fatal("wasm-objdump listed no names")
			}
		})
	}
}

// Module, code and function offsets of the same place give the same frames,
// in every fixture.
func TestConventionsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fx := range fixtures.All() {
		t.Run(fx.Name, func(t *testing.T) {
			m, _ := openFixture(t, fx.Name, Options{})
			start, end := m.CodeRange()
			for range 300 {
				mo := start + loc.ModuleOffset(rng.Uint64N(uint64(end-start)))
				fromModule, err := m.Lookup(mo)
				if err != nil {
					continue // between bodies
				}
				co, err := m.CodeOffset(mo)
				if err != nil || uint64(co) != uint64(mo-start) {
					t.Fatalf("CodeOffset(%s) = %v, %v", mo, co, err)
				}
				fo, err := m.FuncOffset(mo)
				if err != nil {
					t.Fatal(err)
				}
				for _, off := range []loc.Offset{co, fo} {
					got, err := m.Lookup(off)
					if err != nil || !reflect.DeepEqual(got, fromModule) {
						t.Fatalf("Lookup(%s) = %v, %v; Lookup(%s) = %v", off, got, err, mo, fromModule)
					}
					back, err := m.ModuleOffset(off)
					if err != nil || back != mo {
						t.Fatalf("ModuleOffset(%s) = %s, %v, want %s", off, back, err, mo)
					}
				}
			}
		})
	}
}

// A stripped module with its debug build answers every offset as the debug
// build does, mapped by code offset.
func TestDebugFile(t *testing.T) {
	for _, fx := range fixtures.All() {
		if fx.DebugFile == "" {
			continue
		}
		t.Run(fx.Name, func(t *testing.T) {
			dbgPath := fixturePath(t, fx.DebugFile)
			stripped, warns := openFixture(t, fx.Name, Options{DebugFile: dbgPath})
			debug, _ := openFixture(t, fx.DebugFile, Options{})
			sStart, sEnd := stripped.CodeRange()
			dStart, _ := debug.CodeRange()
			step := max(1, int(sEnd-sStart)/3000)
			n := 0
			for mo := sStart; mo < sEnd; mo += loc.ModuleOffset(step) {
				got, gerr := stripped.Lookup(mo)
				want, werr := debug.Lookup(mo - sStart + dStart)
				if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
					t.Fatalf("at %s: %v, %v; the debug build at %s: %v, %v", mo, got, gerr, mo-sStart+dStart, want, werr)
				}
				if gerr == nil && got[0].Source == loc.SourceDWARF {
					n++
				}
			}
			if n == 0 {
				t.Error("no offset answered from the debug file's DWARF")
			}
			if len(*warns) > 0 {
				t.Errorf("warnings: %q", *warns)
			}
		})
	}
}

// When only custom sections differ, module offsets move by what precedes
// the code section; the lookup maps them through the code offset. Here a
// custom section placed before all others (as a precompiled_* one can be)
// shifts the production build's code by its size.
func TestDebugFileShiftedOffsets(t *testing.T) {
	stripped, err := os.ReadFile(fixturePath(t, "cpp-stripped"))
	if err != nil {
		t.Fatal(err)
	}
	pad := appendCustom(nil, "precompiled_padding", bytes.Repeat([]byte{0xaa}, 300))
	shifted := append(append(append([]byte(nil), stripped[:8]...), pad...), stripped[8:]...)
	m, err := New("prod.wasm", shifted, Options{DebugFile: fixturePath(t, "cpp")})
	if err != nil {
		t.Fatal(err)
	}
	debug := sharedFixture(t, "cpp")
	start, _ := m.CodeRange()
	dStart, _ := debug.CodeRange()
	if start != dStart+loc.ModuleOffset(len(pad)) {
		t.Fatalf("code starts at %s, the debug build's at %s: padding of %d bytes not applied", start, dStart, len(pad))
	}
	for _, off := range []loc.ModuleOffset{0x165c, 0x1573, 0x2538, 0x5fc7} {
		got, err := m.Lookup(off + loc.ModuleOffset(len(pad)))
		want, werr := debug.Lookup(off)
		if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("at %s (+%d): %+v, %v; debug build at %s: %+v, %v", off, len(pad), got, err, off, want, werr)
		}
	}
}

// A module naming its debug file in external_debug_info (emscripten's
// -gseparate-dwarf) gets it from beside itself; a missing or mismatched one
// is a warning, not an error.
func TestExternalDebugInfo(t *testing.T) {
	stripped, err := os.ReadFile(fixturePath(t, "cpp-stripped"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []struct{ name, fixture string }{{"plugin.debug.wasm", "cpp"}, {"other.debug.wasm", "c"}} {
		b, err := os.ReadFile(fixturePath(t, f.fixture))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f.name), b, 0o644)
	}
	tests := []struct {
		url    string
		source loc.Source
		warn   string
	}{
		{"plugin.debug.wasm", loc.SourceDWARF, ""},
		{"missing.wasm", loc.SourceExport, "%[1]s: its debug file %[2]s/missing.wasm (external_debug_info \"missing.wasm\") is not there; pass --debug-file"},
		{"https://example.com/p.debug.wasm", loc.SourceExport, "%[1]s: its debug file https://example.com/p.debug.wasm (external_debug_info) is remote; download it and pass --debug-file"},
		{"other.debug.wasm", loc.SourceExport, "%[1]s: external_debug_info: debug file %[2]s/other.debug.wasm is not a build of the same code as %[1]s: their code sections differ in size (0x6477 and 0x3ec8 bytes); pass the debug file built together with this module"},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, "plugin.wasm")
		os.WriteFile(p, appendCustom(stripped, "external_debug_info", uvarintString(tt.url)), 0o644)
		var warns []string
		m, err := Open(p, Options{Warn: func(s string) { warns = append(warns, s) }})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := m.Lookup(loc.ModuleOffset(0x10b5))
		if err != nil || fs[len(fs)-1].Source != tt.source {
			t.Errorf("%s: %+v, %v; want an answer from %s", tt.url, fs, err, tt.source)
		}
		if tt.warn != "" {
			if want := fmt.Sprintf(tt.warn, p, dir); len(warns) == 0 || warns[0] != want {
				t.Errorf("%s: warnings %q\nwant %q", tt.url, warns, want)
			}
		}
	}
}

// Lookups from many goroutines at once (tracer and replay share a Module)
// agree with lookups from one: run with -race.
func TestConcurrentLookups(t *testing.T) {
	m, _ := openFixture(t, "cpp", Options{})
	offs := spread(m, 2000)
	want := make([][]Frame, len(offs))
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := g; i < len(offs); i += 4 {
				fs, err := m.Lookup(offs[i])
				if err != nil {
					done <- err
					return
				}
				want[i] = fs
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	single, _ := openFixture(t, "cpp", Options{})
	for i, o := range offs {
		if fs, _ := single.Lookup(o); !reflect.DeepEqual(fs, want[i]) {
			t.Fatalf("%s: concurrent %+v, alone %+v", o, want[i], fs)
		}
	}
}

// A debug file of other code is refused, saying where the code differs.
func TestDebugFileMismatch(t *testing.T) {
	tests := []struct{ module, debug, want string }{
		{"cpp-stripped", "c", "debug file %[2]s is not a build of the same code as %[1]s: their code sections differ in size (0x6477 and 0x3ec8 bytes); pass the debug file built together with this module"},
		{"cpp-stripped", "cpp-clang14", "debug file %[2]s is not a build of the same code as %[1]s: their code sections differ in size (0x6477 and 0x6216 bytes); pass the debug file built together with this module"},
	}
	for _, tt := range tests {
		mod, dbg := fixturePath(t, tt.module), fixturePath(t, tt.debug)
		_, err := Open(mod, Options{DebugFile: dbg})
		if want := fmt.Sprintf(tt.want, mod, dbg); err == nil || err.Error() != want {
			t.Errorf("Open(%s, debug %s) error\n%v\nwant\n%s", tt.module, tt.debug, err, want)
		}
	}
	// Same size, one byte changed.
	b, err := os.ReadFile(fixturePath(t, "cpp"))
	if err != nil {
		t.Fatal(err)
	}
	changed := slices.Clone(b)
	changed[0x3b6+0x100] ^= 0xff
	_, err = New("prod.wasm", b, Options{DebugFile: "debug.wasm", DebugBytes: changed})
	want := "debug file debug.wasm is not a build of the same code as prod.wasm: their code sections differ first at code offset 0x100; pass the debug file built together with this module"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// Offsets with no frames say why, in the convention they were given in.
func TestLookupErrors(t *testing.T) {
	m, _ := openFixture(t, "cpp", Options{})
	tests := []struct {
		off  loc.Offset
		want string
	}{
		{loc.ModuleOffset(0x99999), "0x99999: outside the code section (0x3b6–0x682d)"},
		{loc.ModuleOffset(0x10), "0x10: outside the code section (0x3b6–0x682d)"},
		{loc.ModuleOffset(0x682d), "0x682d: outside the code section (0x3b6–0x682d)"},
		{loc.ModuleOffset(0x3b6), "0x3b6: in the code section but not inside a function body (a function count or body size)"},
		{loc.CodeOffset(0x6477), "code+0x6477: outside the code section (size 0x6477)"},
		{loc.CodeOffset(0x1), "code+0x1: in the code section but not inside a function body (a function count or body size)"},
		{loc.FuncOffset{Func: 3, Offset: 0}, "func[3]+0x0: function 3 is imported; it has no body"},
		{loc.FuncOffset{Func: 89, Offset: 0}, "func[89]+0x0: no function 89 (the module has 89)"},
		{loc.FuncOffset{Func: 14, Offset: 2}, "func[14]+0x2: past the end of the body of function 14 (size 0x2)"},
		{nil, "no offset"},
	}
	for _, tt := range tests {
		_, err := m.Lookup(tt.off)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Lookup(%v) error %v, want %q", tt.off, err, tt.want)
		}
	}
}

// Without DWARF, names answer, and the module says once that DWARF is
// absent; without names either, exports and then Envoy's
// "unknown(function index:N)".
func TestWithoutDWARF(t *testing.T) {
	m, warns := openFixture(t, "cpp-stripped", Options{})
	for range 2 {
		fs, err := m.Lookup(loc.ModuleOffset(0x10b5)) // in proxy_on_request_headers
		if err != nil {
			t.Fatal(err)
		}
		want := []Frame{{Function: "proxy_on_request_headers", Source: loc.SourceExport}}
		if !reflect.DeepEqual(fs, want) {
			t.Errorf("got %+v, want %+v", fs, want)
		}
	}
	fs, _ := m.Lookup(loc.ModuleOffset(0x165c))
	if want := []Frame{{Function: "unknown(function index:52)", Source: loc.SourceUnknown}}; !reflect.DeepEqual(fs, want) {
		t.Errorf("got %+v, want %+v", fs, want)
	}
	wantWarns := []string{m.name + ": no DWARF (.debug_info): answers come from export names"}
	if !reflect.DeepEqual(*warns, wantWarns) {
		t.Errorf("warnings %q, want %q", *warns, wantWarns)
	}
}

// Corrupt DWARF degrades to the name section with a warning; a corrupt line
// program costs only its unit's lines. Never a panic.
func TestCorruptDWARF(t *testing.T) {
	stripped, err := os.ReadFile(fixturePath(t, "cpp-stripped"))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := openFixture(t, "cpp", Options{})
	sections := func(replace map[string][]byte) []byte {
		b := stripped
		for _, s := range full.mod.Sections {
			if s.ID != 0 {
				continue
			}
			data := s.Data
			if r, ok := replace[s.Name]; ok {
				data = r
			}
			b = appendCustom(b, s.Name, data)
		}
		return b
	}
	info := full.mod.Custom(".debug_info")
	tests := []struct {
		name     string
		replace  map[string][]byte
		wantWarn string
		source   loc.Source
	}{
		{"truncated .debug_info", map[string][]byte{".debug_info": info[:7]},
			"m.wasm: corrupt DWARF, not used: section .debug_info at offset 0x4: underflow; answers come from the name section, then export names", loc.SourceNameSection},
		{"unit length past the end", map[string][]byte{".debug_info": append([]byte{0xff, 0xff, 0xff, 0x0f}, info[4:]...)},
			"m.wasm: corrupt DWARF, not used: section .debug_info at offset 0x4: underflow; answers come from the name section, then export names", loc.SourceNameSection},
		{"abbreviations missing", map[string][]byte{".debug_abbrev": {}},
			"m.wasm: corrupt DWARF, not used: section .debug_info at offset 0xc: unknown abbreviation table index; answers come from the name section, then export names", loc.SourceNameSection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warns []string
			m, err := New("m.wasm", sections(tt.replace), Options{Warn: func(s string) { warns = append(warns, s) }})
			if err != nil {
				t.Fatal(err)
			}
			fs, err := m.Lookup(loc.ModuleOffset(0x165c))
			if err != nil {
				t.Fatal(err)
			}
			if fs[0].Source != tt.source {
				t.Errorf("source %s, want %s", fs[0].Source, tt.source)
			}
			if len(warns) == 0 || warns[0] != tt.wantWarn {
				t.Errorf("warnings %q\nwant %q", warns, tt.wantWarn)
			}
		})
	}
}
