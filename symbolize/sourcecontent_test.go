package symbolize

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// TestSourceMapContent: the text a map embeds is found under the name
// Lookup gives (sourceRoot applied, AssemblyScript's module-named root
// dropped) and under the name "sources" lists; nulls, a short
// sourcesContent and unknown names have none.
func TestSourceMapContent(t *testing.T) {
	tests := []struct {
		name, json string
		want       map[string]string // file -> text; "" when none
	}{
		{"sourceRoot a directory",
			`{"version":3,"sourceRoot":"src","sources":["a.ts",null,"b.ts","c.ts","d.ts"],"sourcesContent":["A",null,"B",null],"mappings":""}`,
			map[string]string{"src/a.ts": "A", "a.ts": "A", "src/b.ts": "B", "src/c.ts": "", "src/d.ts": "", "nope.ts": "", "": ""}},
		{"AssemblyScript's sourceRoot",
			`{"version":3,"sourceRoot":"./plugin.wasm","sources":["assembly/index.ts","~lib/rt.ts"],"sourcesContent":["export function f(): void {}\n","// rt"],"mappings":"AAAA"}`,
			map[string]string{"assembly/index.ts": "export function f(): void {}\n", "~lib/rt.ts": "// rt", "plugin.wasm/assembly/index.ts": ""}},
		{"no sourcesContent", `{"version":3,"sources":["a.ts"],"mappings":""}`, map[string]string{"a.ts": ""}},
		{"null sourcesContent", `{"version":3,"sources":["a.ts"],"sourcesContent":null,"mappings":""}`, map[string]string{"a.ts": ""}},
		{"an empty text", `{"version":3,"sources":["a.ts"],"sourcesContent":[""],"mappings":""}`, map[string]string{"a.ts": "\x00empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm, err := ParseSourceMap([]byte(tt.json), "plugin.wasm")
			if err != nil {
				t.Fatal(err)
			}
			for file, want := range tt.want {
				text, ok, err := sm.Content(file)
				wantOK := want != ""
				if want == "\x00empty" {
					want = ""
				}
				if err != nil || ok != wantOK || string(text) != want {
					t.Errorf("Content(%q) = %q, %v, %v; want %q, %v", file, text, ok, err, want, wantOK)
				}
			}
		})
	}
}

// A sourcesContent of the wrong shape is an error when a text is asked
// for; the mappings still answer.
func TestSourceMapContentErrors(t *testing.T) {
	tests := []struct{ content, want string }{
		{`3`, "sourcesContent: want an array of strings and nulls, got a JSON number"},
		{`{"a.ts":"A"}`, "sourcesContent: want an array of strings and nulls, got a JSON object"},
		{`["A",7]`, "sourcesContent: want an array of strings and nulls, got a JSON number"},
		{`[["A"]]`, "sourcesContent: want an array of strings and nulls, got a JSON array"},
	}
	for _, tt := range tests {
		in := `{"version":3,"sources":["a.ts","b.ts"],"sourcesContent":` + tt.content + `,"mappings":"CAAA"}`
		sm, err := ParseSourceMap([]byte(in), "plugin.wasm")
		if err != nil {
			t.Fatalf("%s: %v", tt.content, err)
		}
		if file, _, _, ok := sm.Lookup(1, 0); !ok || file != "a.ts" {
			t.Errorf("%s: Lookup = %q %v", tt.content, file, ok)
		}
		for range 2 { // the same answer on every call
			text, ok, err := sm.Content("a.ts")
			if err == nil || err.Error() != tt.want || ok || text != nil {
				t.Errorf("%s: Content = %q, %v, %v; want error %q", tt.content, text, ok, err, tt.want)
			}
		}
	}
}

// Module.SourceContent answers for the files its frames name: the
// AssemblyScript fixture's map embeds its sources, found through the
// module's sourceMappingURL beside it; a module without a map has none; a
// map whose sourcesContent is malformed is a warning, once.
func TestModuleSourceContent(t *testing.T) {
	var fx fixtures.Fixture
	for _, f := range fixtures.All() {
		if f.SourceMap != "" && f.NameSection {
			fx = f
			break
		}
	}
	if fx.Name == "" {
		t.Fatal("no fixture with a source map and names")
	}
	m, warns := openFixture(t, fx.Name, Options{})
	frames, err := m.Lookup(loc.ModuleOffset(0x5a7d)) // Crasher#panic, from v8-crashes.txt
	if err != nil || len(frames) == 0 {
		t.Fatalf("Lookup: %v %v", frames, err)
	}
	f := frames[len(frames)-1]
	text, ok := m.SourceContent(f.File)
	if !ok {
		t.Fatalf("SourceContent(%q): none; warnings %q", f.File, *warns)
	}
	lines := strings.Split(string(text), "\n")
	if f.Line < 1 || f.Line > len(lines) || !strings.Contains(lines[f.Line-1], "throw new Error") {
		t.Errorf("%s:%d is not the throw in SourceContent's text (%d lines)", f.File, f.Line, len(lines))
	}
	if _, ok := m.SourceContent("assembly/none.ts"); ok {
		t.Error("SourceContent of a file the map does not list")
	}

	cpp, cppWarns := openFixture(t, "cpp", Options{})
	if text, ok := cpp.SourceContent("plugin.cc"); ok || text != nil || len(*cppWarns) != 0 {
		t.Errorf("a module without a source map: %q, %v, warnings %q", text, ok, *cppWarns)
	}

	wasm, err := os.ReadFile(fixturePath(t, "cpp"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	bad, err := New("plugin.wasm", wasm, Options{
		SourceMapBytes: []byte(`{"version":3,"sources":["a.ts"],"sourcesContent":3,"mappings":""}`),
		Warn:           func(s string) { got = append(got, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, ok := bad.SourceContent("a.ts"); ok {
			t.Error("text from a malformed sourcesContent")
		}
	}
	want := []string{"plugin.wasm: source map: sourcesContent: want an array of strings and nulls, got a JSON number; the sources it embeds are not shown"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}
