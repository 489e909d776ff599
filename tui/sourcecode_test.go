package tui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/charmbracelet/colorprofile"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
)

func TestSourceFiles(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "build", "plugin.wasm")
	src := filepath.Join(dir, "src")
	write := func(p, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(mod, "\x00asm\x01\x00\x00\x00")
	write(filepath.Join(dir, "build", "beside.cc"), "beside\n")
	write(filepath.Join(src, "lib", "deep.cc"), "line 1\r\nline\t2\n")
	write(filepath.Join(src, "bin.cc"), "a\x00b")
	abs := filepath.Join(dir, "abs.cc")
	write(abs, "absolute")
	f := &SourceFiles{Module: mod, Dirs: []string{src}}
	tests := []struct {
		name, from string
		lines      []string
		err        string
	}{
		{"beside.cc", filepath.Join(dir, "build", "beside.cc"), []string{"beside"}, ""},
		// A build path: found under --source-dir once its leading
		// directories are dropped; CRLF and tabs made readable.
		{"/home/ci/work/lib/deep.cc", filepath.Join(src, "lib", "deep.cc"), []string{"line 1", "line    2"}, ""},
		{"./lib/deep.cc", filepath.Join(src, "lib", "deep.cc"), []string{"line 1", "line    2"}, ""},
		{abs, abs, []string{"absolute"}, ""},
		{"bin.cc", "", nil, filepath.Join(src, "bin.cc") + ": not a text file"},
		{"lib", "", nil, "lib: not found beside the module (" + filepath.Join(dir, "build") + "), under --source-dir " + src + ", in the working directory; pass --source-dir with the plugin's source tree"},
		{"missing.cc", "", nil, "missing.cc: not found beside the module (" + filepath.Join(dir, "build") + "), under --source-dir " + src + ", in the working directory; pass --source-dir with the plugin's source tree"},
		{"", "", nil, "this frame names no source file (no DWARF line or source map entry)"},
	}
	for _, tt := range tests {
		got := f.Open(tt.name)
		if got.Err != tt.err || got.From != tt.from || strings.Join(got.Lines, "|") != strings.Join(tt.lines, "|") {
			t.Errorf("Open(%q) = from %q lines %q err %q\nwant from %q lines %q err %q", tt.name, got.From, got.Lines, got.Err, tt.from, tt.lines, tt.err)
		}
	}
	none := (&SourceFiles{}).Open("x.cc")
	if want := "x.cc: not found under --source-dir (none given), in the working directory; pass --source-dir with the plugin's source tree"; none.Err != want {
		t.Errorf("no module, no dirs: %q\nwant %q", none.Err, want)
	}
}

// TestSourceFilesBuiltIn: sources built into wasmdbg (the demo's plugin)
// are found under the names DWARF gives, build paths included, after the
// source directories; a file on disk under --source-dir comes first.
func TestSourceFilesBuiltIn(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sdk.h"), []byte("on disk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &SourceFiles{Dirs: []string{dir}, FS: fstest.MapFS{
		"plugin.cc":  {Data: []byte("int main() {\n  return 0;\n}\n")},
		"lib/deep.h": {Data: []byte("deep")},
		"sdk.h":      {Data: []byte("built in")},
		"bin.o":      {Data: []byte("\x00asm")},
		"empty.h":    {Data: nil},
	}}
	tests := []struct {
		name, from string
		lines      []string
		err        string
	}{
		{"plugin.cc", "built into wasmdbg", []string{"int main() {", "  return 0;", "}"}, ""},
		{"/build/src/plugin.cc", "built into wasmdbg", []string{"int main() {", "  return 0;", "}"}, ""},
		{"./lib/deep.h", "built into wasmdbg", []string{"deep"}, ""},
		{"../lib/deep.h", "built into wasmdbg", []string{"deep"}, ""},
		{"empty.h", "built into wasmdbg", []string{""}, ""},
		{"sdk.h", filepath.Join(dir, "sdk.h"), []string{"on disk"}, ""},
		{"bin.o", "", nil, "bin.o: not a text file"},
		{"lib", "", nil, "lib: not found under --source-dir " + dir + ", among the sources built into wasmdbg, in the working directory; pass --source-dir with the plugin's source tree"},
		{"missing.cc", "", nil, "missing.cc: not found under --source-dir " + dir + ", among the sources built into wasmdbg, in the working directory; pass --source-dir with the plugin's source tree"},
	}
	for _, tt := range tests {
		got := f.Open(tt.name)
		if got.Err != tt.err || got.From != tt.from || strings.Join(got.Lines, "|") != strings.Join(tt.lines, "|") {
			t.Errorf("Open(%q) = from %q lines %q err %q\nwant from %q lines %q err %q", tt.name, got.From, got.Lines, got.Err, tt.from, tt.lines, tt.err)
		}
	}
}

// TestSourceMapContent: AssemblyScript embeds every source in the source
// map (sourcesContent); the symbolizer that read the map through the
// module's sourceMappingURL gives the text under the names its frames use.
// Without it, the UI does not read the map itself.
func TestSourceMapContent(t *testing.T) {
	fx, _ := fixtures.Get("as")
	dir := t.TempDir()
	mod, err := fx.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := symbolize.Open(mod, symbolize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := resolveFrame(sm, tracer.Frame{Offset: "0x5a7d"}) // Crasher#panic, from v8-crashes.txt
	if err != nil || len(fs) == 0 {
		t.Fatalf("resolve: %v %v", fs, err)
	}
	file, line := fs[len(fs)-1].File, fs[len(fs)-1].Line
	got := (&SourceFiles{Module: mod, Embedded: sm}).Open(file)
	if got.Err != "" || got.From != "source map" || line < 1 || line > len(got.Lines) {
		t.Fatalf("Open(%q): from %q, %d lines, err %q", file, got.From, len(got.Lines), got.Err)
	}
	if l := got.Lines[line-1]; !strings.Contains(l, "throw new Error") {
		t.Errorf("%s:%d is %q, want the throw", file, line, l)
	}
	none := (&SourceFiles{Module: mod}).Open(file)
	want := file + ": not found beside the module (" + dir + "), under --source-dir (none given), in the working directory; pass --source-dir with the plugin's source tree"
	if none.Err != want {
		t.Errorf("without the symbolizer: %q\nwant %q", none.Err, want)
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\tb", "a    b"},
		{"line\nnext", "line\nnext"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"cr\r\n", "cr\n"},
		{"bad \xff utf8", `bad \xff utf8`},
		{"c1 \u009b", `c1 \x9b`},
		{"ok ünïcode ✓", "ok ünïcode ✓"},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestHostileLogText: escape sequences in a log line never reach the
// terminal.
func TestHostileLogText(t *testing.T) {
	evs := scenario()
	evs = append(evs, tracer.Event{Kind: tracer.KindPluginLog, Level: "error", Plugin: "p\x1b]0;owned\x07", Message: "\x1b[2J\x1b[Hcleared"})
	m, _ := newTestModel(t, 100, 30, evs)
	press(t, m, "3", "end")
	out := m.View().Content
	if strings.Contains(out, "\x1b[2J") || strings.Contains(out, "\x1b]0;owned") {
		t.Errorf("a log's escape sequence reached the screen: %q", out)
	}
	if !strings.Contains(screen(m), `\x1b[2J\x1b[Hcleared`) {
		t.Errorf("the escaped text is not shown:\n%s", screen(m))
	}
}

func TestColorProfiles(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, scenario())
	render := func(p colorprofile.Profile) string {
		var b bytes.Buffer
		w := &colorprofile.Writer{Forward: &b, Profile: p}
		w.WriteString(m.View().Content)
		return b.String()
	}
	ansi := render(colorprofile.ANSI)
	if !strings.Contains(ansi, "\x1b[31m") {
		t.Error("no red in a colour terminal's output")
	}
	ascii := render(colorprofile.ASCII)
	if strings.Contains(ascii, "\x1b[31m") || strings.Contains(ascii, "38;5") {
		t.Error("colours on a terminal without them")
	}
	if !strings.Contains(ascii, "\x1b[7m") {
		t.Error("the cursor row is not reversed without colours")
	}
	if !strings.Contains(render(colorprofile.NoTTY), "> 08:16:46.032 ✗ proxy_on_request_headers") {
		t.Error("the cursor row has no '>' marker in plain text")
	}
	var out bytes.Buffer
	for _, tt := range []struct {
		env  []string
		want colorprofile.Profile
	}{
		{[]string{"TERM=xterm-256color", "CLICOLOR_FORCE=1"}, colorprofile.ANSI256},
		{[]string{"TERM=xterm-256color", "CLICOLOR_FORCE=1", "NO_COLOR=1"}, colorprofile.ASCII},
		{[]string{"TERM=xterm-256color", "CLICOLOR_FORCE=1", "NO_COLOR=yes"}, colorprofile.ASCII},
		{[]string{"TERM=dumb"}, colorprofile.NoTTY},
	} {
		if got := ColorProfile(&out, tt.env); got != tt.want {
			t.Errorf("%v: profile %v, want %v", tt.env, got, tt.want)
		}
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s := newStore()
	evs := scenario()
	for i := range evs {
		s.add(&evs[i])
	}
	for i, e := range evs {
		got := s.event(int32(i))
		want := e
		// What the store keeps of an event: not the decoded arguments
		// (kept as text), nor the context id.
		want.Decoded, want.ContextID = nil, nil
		if want.Kind == tracer.KindCall && want.Direction == tracer.HostFromVM {
			want.Status = ""
		}
		if want.Kind == tracer.KindCall && want.Direction == tracer.VMFromHost {
			want.Action = ""
		}
		if parseTime(got.Time) != parseTime(want.Time) || got.Kind != want.Kind || got.Function != want.Function ||
			strings.Join(numStrings(got.Args), ",") != strings.Join(numStrings(want.Args), ",") ||
			got.Message != want.Message || got.Status != want.Status || got.Action != want.Action ||
			got.Level != want.Level || got.Thread != want.Thread || got.Line != want.Line {
			t.Errorf("event %d: got %+v\nwant %+v", i, got, want)
		}
	}
	if got := s.decoded(s.at(1)); got != "root_context_id=1, vm_configuration_size=0" {
		t.Errorf("decoded %q", got)
	}
}

func numStrings(ns []tracer.Number) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}

func TestCompactDecoded(t *testing.T) {
	args := []tracer.Number{"0", "1052300", "6", "1052310", "1052314"}
	dec := []tracer.Arg{{Name: "map_type", Value: "HttpRequestHeaders"}, {Name: "key", Value: "0x100e8c"}, {Name: "key_size", Value: "6"}, {Name: "return_value_data", Value: "0x100e96"}, {Name: "return_value_size", Value: "0x100e9a"}}
	s := newStore()
	e := tracer.Event{Kind: tracer.KindCall, Direction: tracer.VMToHost, Function: "env.proxy_get_header_map_value", Args: args, Decoded: dec}
	s.add(&e)
	args2 := []tracer.Number{"0", "2052300", "6", "2052310", "2052314"}
	e2 := tracer.Event{Kind: tracer.KindCall, Direction: tracer.VMToHost, Function: "env.proxy_get_header_map_value", Args: args2,
		Decoded: []tracer.Arg{{Name: "map_type", Value: "HttpRequestHeaders"}, {Name: "key", Value: "0x1f50cc"}, {Name: "key_size", Value: "6"}, {Name: "return_value_data", Value: "0x1f50d6"}, {Name: "return_value_size", Value: "0x1f50da"}}}
	s.add(&e2)
	if got, want := s.decoded(s.at(0)), "map_type=HttpRequestHeaders, key=0x100e8c, key_size=6, return_value_data=0x100e96, return_value_size=0x100e9a"; got != want {
		t.Errorf("decoded %q\nwant %q", got, want)
	}
	if got, want := s.decoded(s.at(1)), "map_type=HttpRequestHeaders, key=0x1f50cc, key_size=6, return_value_data=0x1f50d6, return_value_size=0x1f50da"; got != want {
		t.Errorf("decoded %q\nwant %q", got, want)
	}
	if s.at(0).extra != s.at(1).extra {
		t.Error("the two calls' decoded arguments are not stored once")
	}
}
