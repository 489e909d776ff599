package symbolize

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// vlqEncode writes one base64 VLQ value (ECMA-426 §8).
func vlqEncode(v int64) string {
	u := uint64(v) << 1
	if v < 0 {
		u = uint64(-v)<<1 | 1
	}
	var b strings.Builder
	for {
		d := u & 31
		u >>= 5
		if u != 0 {
			d |= 32
		}
		b.WriteByte(base64Alphabet[d])
		if u == 0 {
			return b.String()
		}
	}
}

// mappings encodes segments {offset, source, line, column} (or {offset} for
// an unmapped range) on one generated line, with relative fields.
func mappings(segs ...[]int64) string {
	var prev [4]int64
	var parts []string
	for _, s := range segs {
		p := vlqEncode(s[0] - prev[0])
		prev[0] = s[0]
		if len(s) == 4 {
			for i := 1; i < 4; i++ {
				p += vlqEncode(s[i] - prev[i])
				prev[i] = s[i]
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ",")
}

func sourceMapJSON(root string, sources []string, m string) []byte {
	b, _ := json.Marshal(map[string]any{"version": 3, "sourceRoot": root, "sources": sources, "names": []string{}, "mappings": m})
	return b
}

func TestSourceMapLookup(t *testing.T) {
	m := mappings([]int64{0x100, 0, 9, 4}, []int64{0x108, 1, 0, 0}, []int64{0x110}, []int64{0x120, 0, 25, 5})
	sm, err := ParseSourceMap(sourceMapJSON("", []string{"assembly/index.ts", "~lib/array.ts"}, m), "plugin.wasm")
	if err != nil {
		t.Fatal(err)
	}
	type ans struct {
		file         string
		line, column int
		ok           bool
	}
	tests := []struct {
		off, low uint64
		want     ans
	}{
		{0x100, 0x100, ans{"assembly/index.ts", 10, 5, true}},
		{0x107, 0x100, ans{"assembly/index.ts", 10, 5, true}},
		{0x108, 0x100, ans{"~lib/array.ts", 1, 1, true}},
		{0x10f, 0x100, ans{"~lib/array.ts", 1, 1, true}},
		{0x110, 0x100, ans{}}, // an unmapped range
		{0x11f, 0x100, ans{}}, // still unmapped
		{0x125, 0x120, ans{"assembly/index.ts", 26, 6, true}},
		{0xff, 0, ans{}},      // before the first mapping
		{0x10a, 0x109, ans{}}, // the mapping belongs to another function
	}
	for _, tt := range tests {
		var got ans
		got.file, got.line, got.column, got.ok = sm.Lookup(tt.off, tt.low)
		if got != tt.want {
			t.Errorf("Lookup(0x%x, 0x%x) = %+v, want %+v", tt.off, tt.low, got, tt.want)
		}
	}
}

func TestSourceMapSourceRoot(t *testing.T) {
	tests := []struct{ root, module, src, want string }{
		{"", "plugin.wasm", "assembly/index.ts", "assembly/index.ts"},
		{"src", "plugin.wasm", "index.ts", "src/index.ts"},
		{"./src/", "plugin.wasm", "./index.ts", "src/index.ts"},
		{"/abs", "plugin.wasm", "/other/index.ts", "/other/index.ts"},
		{"https://example.com/src/", "plugin.wasm", "index.ts", "https://example.com/src/index.ts"},
		// AssemblyScript writes the module's own name as sourceRoot.
		{"./plugin.wasm", "plugin.wasm", "assembly/index.ts", "assembly/index.ts"},
		{"./plugin.wasm", "other.wasm", "assembly/index.ts", "plugin.wasm/assembly/index.ts"},
		// AssemblyScript 0.20 and later write it without ".wasm".
		{"./plugin", "plugin.wasm", "~lib/map.ts", "~lib/map.ts"},
		{"./plugin", "other.wasm", "~lib/map.ts", "plugin/~lib/map.ts"},
	}
	for _, tt := range tests {
		sm, err := ParseSourceMap(sourceMapJSON(tt.root, []string{tt.src}, mappings([]int64{1, 0, 0, 0})), tt.module)
		if err != nil {
			t.Fatal(err)
		}
		if file, _, _, _ := sm.Lookup(1, 0); file != tt.want {
			t.Errorf("sourceRoot %q, module %s, source %q: %q, want %q", tt.root, tt.module, tt.src, file, tt.want)
		}
	}
}

func TestSourceMapErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"version":3,"sources":[],"mappings":"A"`, "byte 40: unexpected end of JSON input"},
		{`{"version":3,"sources":[] "mappings":""}`, "byte 27: invalid character '\"' after object key:value pair"},
		{`{"version":"3","sources":[],"mappings":""}`, "version: want int, got a JSON string"},
		{`{"sources":[],"mappings":""}`, "version: missing (want 3)"},
		{`{"version":2,"sources":[],"mappings":""}`, "version: 2, want 3"},
		{`{"version":3,"sections":[{}]}`, "sections: index maps are not supported; give the map of the module itself"},
		{`{"version":3,"sources":[]}`, "mappings: missing"},
		{`{"version":3,"sources":["a"],"mappings":"AAAA,C!AA"}`, `mappings: character 6: '!' is not a base64 VLQ digit`},
		{`{"version":3,"sources":["a"],"mappings":"AA"}`, "mappings: character 0: a segment has 2 fields, want 1, 4 or 5"},
		{`{"version":3,"sources":["a"],"mappings":"ACAA"}`, "mappings: character 0: source index 1, but sources has 1 entries"},
		{`{"version":3,"sources":["a"],"mappings":"AAAA;AAAA"}`, "mappings: character 5: a mapping on generated line 2; a WebAssembly source map has one line, whose columns are module offsets"},
		{`{"version":3,"sources":["a"],"mappings":"D"}`, "mappings: character 0: negative generated column (module offset) -1"},
		{`{"version":3,"sources":["a"],"mappings":"AADA"}`, "mappings: character 0: source position -1:0 out of range"},
		{`{"version":3,"sources":["a"],"mappings":"gggggggggA"}`, "mappings: character 0: VLQ value too long"},
		{`{"version":3,"sources":["a"],"mappings":"AAAg"}`, "mappings: character 3: VLQ value cut short"},
	}
	for _, tt := range tests {
		_, err := ParseSourceMap([]byte(tt.in), "m.wasm")
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseSourceMap(%s) error %v, want %q", tt.in, err, tt.want)
		}
	}
}

// A module whose sourceMappingURL names a map beside it answers from the
// map (module offsets), with names from the name section; a missing map is
// a warning, once.
func TestModuleSourceMap(t *testing.T) {
	base, err := os.ReadFile(fixturePath(t, "cpp-stripped"))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := openFixture(t, "cpp", Options{})
	withName := appendCustom(base, "name", full.mod.Custom("name"))
	// A map for proxy_on_request_headers' body in cpp: 0x1087…0x10ba.
	mapBytes := sourceMapJSON("./plugin.wasm", []string{"assembly/index.ts"}, mappings([]int64{0x1090, 0, 41, 2}, []int64{0x10b5, 0, 43, 8}))
	dir := t.TempDir()
	for _, tt := range []struct {
		name, url string
		mapFile   string
	}{
		{"beside", "./plugin.wasm.map", "plugin.wasm.map"},
		{"data URL", "data:application/json;base64," + base64.StdEncoding.EncodeToString(mapBytes), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sub := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			os.MkdirAll(sub, 0o755)
			if tt.mapFile != "" {
				os.WriteFile(filepath.Join(sub, tt.mapFile), mapBytes, 0o644)
			}
			p := filepath.Join(sub, "plugin.wasm")
			os.WriteFile(p, appendCustom(withName, "sourceMappingURL", uvarintString(tt.url)), 0o644)
			var warns []string
			m, err := Open(p, Options{Warn: func(s string) { warns = append(warns, s) }})
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Lookup(loc.ModuleOffset(0x10b5))
			want := []Frame{{Function: "proxy_on_request_headers", File: "assembly/index.ts", Line: 44, Column: 9, Source: loc.SourceSourceMap}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("Lookup = %+v, %v, want %+v", got, err, want)
			}
			if want := []string{p + ": no DWARF (.debug_info): answers come from the source map, then the name section, then export names"}; !reflect.DeepEqual(warns, want) {
				t.Errorf("warnings %q, want %q", warns, want)
			}
		})
	}
	// AssemblyScript 0.20+ writes sourceRoot "./headers" for headers.wasm;
	// the module was renamed since, and its sourceMappingURL still says
	// what it was built as.
	t.Run("renamed", func(t *testing.T) {
		sub := filepath.Join(dir, "renamed")
		os.MkdirAll(sub, 0o755)
		os.WriteFile(filepath.Join(sub, "headers.wasm.map"), sourceMapJSON("./headers", []string{"assembly/index.ts"}, mappings([]int64{0x1090, 0, 41, 2}, []int64{0x10b5, 0, 43, 8})), 0o644)
		p := filepath.Join(sub, "plugin.wasm")
		os.WriteFile(p, appendCustom(withName, "sourceMappingURL", uvarintString("./headers.wasm.map")), 0o644)
		m, err := Open(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Lookup(loc.ModuleOffset(0x10b5))
		want := []Frame{{Function: "proxy_on_request_headers", File: "assembly/index.ts", Line: 44, Column: 9, Source: loc.SourceSourceMap}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Lookup = %+v, %v, want %+v", got, err, want)
		}
	})
	t.Run("missing", func(t *testing.T) {
		p := filepath.Join(dir, "lonely.wasm")
		url := "./lonely.wasm.map"
		os.WriteFile(p, appendCustom(withName, "sourceMappingURL", uvarintString(url)), 0o644)
		var warns []string
		m, err := Open(p, Options{Warn: func(s string) { warns = append(warns, s) }})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, _ := m.Lookup(loc.ModuleOffset(0x10b5))
			if got[0].Source != loc.SourceNameSection {
				t.Errorf("source %s, want the name section", got[0].Source)
			}
		}
		want := []string{
			p + ": no DWARF (.debug_info): answers come from the source map, then the name section, then export names",
			p + ": source map " + filepath.Join(dir, "lonely.wasm.map") + ` (from its sourceMappingURL "./lonely.wasm.map") not found; pass --source-map`,
		}
		if !reflect.DeepEqual(warns, want) {
			t.Errorf("warnings\n%q\nwant\n%q", warns, want)
		}
	})
}

func uvarintString(s string) []byte {
	var b []byte
	n := uint64(len(s))
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			b = append(b, c|0x80)
			continue
		}
		b = append(b, c)
		break
	}
	return append(b, s...)
}

// The AssemblyScript fixture answers from its source map, and every answer
// is the map's own mapping at or below the offset.
func TestAssemblyScriptSourceMap(t *testing.T) {
	var fx fixtures.Fixture
	for _, f := range fixtures.All() {
		if f.SourceMap != "" {
			fx = f
			break
		}
	}
	if fx.Name == "" {
		t.Skip("no fixture with a source map registered yet")
	}
	m, warns := openFixture(t, fx.Name, Options{})
	raw, err := fx.SourceMapBytes()
	if err != nil {
		t.Fatal(err)
	}
	sm, err := ParseSourceMap(raw, filepath.Base(m.name))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range m.mod.Code {
		for o := b.Start; o < b.End; o++ {
			got, err := m.Lookup(o)
			if err != nil {
				t.Fatal(err)
			}
			file, line, col, ok := sm.Lookup(uint64(o), uint64(b.Start))
			if ok != (got[0].Source == loc.SourceSourceMap) || (ok && (got[0].File != file || got[0].Line != line || got[0].Column != col)) {
				t.Fatalf("at %s: %+v; the map says %s:%d:%d (%v)", o, got, file, line, col, ok)
			}
			if ok {
				n++
			}
		}
	}
	if n == 0 {
		t.Error("no offset answered from the source map")
	}
	t.Logf("%d offsets answered from the source map; warnings %q", n, *warns)
}

func FuzzSourceMap(f *testing.F) {
	f.Add(sourceMapJSON("./plugin.wasm", []string{"a.ts", "b.ts"}, mappings([]int64{0x100, 0, 9, 4}, []int64{0x108, 1, 0, 0}, []int64{0x110})), uint64(0x105))
	f.Add([]byte(`{"version":3,"sources":["a"],"mappings":"gggggggA,AAAA;;"}`), uint64(3))
	f.Add([]byte(`{"version":3,"sourceRoot":"./plugin.wasm","sources":["a.ts",null],"sourcesContent":["A",null,"C"],"mappings":"AAAA"}`), uint64(0))
	f.Add([]byte(`{"version":3,"sources":["a.ts"],"sourcesContent":[7],"mappings":""}`), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, off uint64) {
		sm, err := ParseSourceMap(b, "plugin.wasm")
		if err != nil {
			return
		}
		file, _, _, _ := sm.Lookup(off, off/2)
		for _, name := range append([]string{file}, sm.content.names...) {
			if text, ok, err := sm.Content(name); (ok || text != nil) && err != nil {
				t.Fatalf("Content(%q): text and error %v", name, err)
			}
		}
	})
}
