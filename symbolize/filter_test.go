package symbolize

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ianlancetaylor/demangle"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// The filter over a log with every backtrace shape and unrelated lines:
// golden output per DWARF version (testdata/filter-<fixture>.golden, with
// the warnings at the end); -update rewrites them.
func TestFilterGolden(t *testing.T) {
	// The Rust and Go logs are made from the recorded V8 frames
	// (envoyLog), so that they follow the fixtures when those are rebuilt.
	tests := []struct{ fixture, input, debug string }{
		{"cpp", "filter-input.log", ""},
		{"cpp-dwarf5", "filter-input.log", ""},
		{"cpp-mangled", "filter-input.log", ""},
		{"cpp-stripped", "filter-input.log", "cpp"},
		{"rust", "rust", ""},
		{"rust-v0", "rust-v0", ""},
		{"rust-nodebug", "rust", ""},
		{"go", "go", ""},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			var in []byte
			if strings.HasSuffix(tt.input, ".log") {
				var err error
				if in, err = os.ReadFile(filepath.Join("testdata", tt.input)); err != nil {
					t.Fatal(err)
				}
			} else {
				in = []byte(envoyLog(t, tt.input))
			}
			var opts Options
			if tt.debug != "" {
				opts.DebugFile = fixturePath(t, tt.debug)
			}
			m, warns := openFixture(t, tt.fixture, opts)
			var out bytes.Buffer
			if err := m.Filter(bytes.NewReader(in), &out); err != nil {
				t.Fatal(err)
			}
			got := out.String() + "\n--- warnings ---\n"
			for _, w := range *warns {
				got += strings.ReplaceAll(w, m.name, "MODULE") + "\n"
			}
			golden := filepath.Join("testdata", "filter-"+tt.fixture+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("filter output differs from %s (go test -update to accept):\n%s", golden, got)
			}
		})
	}
}

// envoyLog writes the x-crash=panic and x-crash=inline crashes recorded
// for fixture as Envoy logs them (names through __cxa_demangle, which
// reads legacy Rust as Itanium), then the first three frames of the panic
// as wazero prints them (name-section names, "$N" for the third).
func envoyLog(t *testing.T, fixture string) string {
	lang, _, _ := strings.Cut(fixture, "-")
	var b strings.Builder
	n := 0
	for _, c := range v8Crashes(t, lang) {
		if c.fixture != fixture || (c.args != "x-crash=panic" && c.args != "x-crash=inline") {
			continue
		}
		fmt.Fprintf(&b, "[2026-03-01 10:00:0%d.123][31][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] %s\nProxy-Wasm plugin in-VM backtrace:\n", n, strings.Replace(c.trap, "RuntimeError", "Uncaught RuntimeError", 1))
		for i, f := range c.frames {
			fmt.Fprintf(&b, "%3d:  0x%x - %s\n", i, uint64(f.offset), cxaDemangle(f.name))
		}
		if n == 0 {
			b.WriteString("wasm error: unreachable\nwasm stack trace:\n")
			for i, f := range c.frames[:min(3, len(c.frames))] {
				if i == 2 {
					fmt.Fprintf(&b, "\t.$%d(i32) i32\n", f.index)
				} else {
					fmt.Fprintf(&b, "\t.%s(i32) i32\n", f.name)
				}
			}
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no recorded crashes for %s", fixture)
	}
	return b.String()
}

// cxaDemangle is what Envoy's backtrace shows for a name: libc++abi's
// __cxa_demangle when it succeeds (Itanium, legacy Rust read as Itanium),
// else the name as stored.
func cxaDemangle(name string) string {
	if s, err := demangle.ToString(name, demangle.LLVMStyle, demangle.NoRust); err == nil {
		return s
	}
	return name
}

// The filter changes nothing but adds lines: each input line comes out
// unchanged, followed only by added "at" lines (or, inside a JSON string,
// escaped "\n      at …" segments).
func TestFilterOnlyAdds(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "filter-input.log"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := openFixture(t, "cpp", Options{})
	var out bytes.Buffer
	if err := m.Filter(bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	added := regexp.MustCompile(`^(?:\[pod/[^\]]*\] |envoy-1  \| )?      at \S`)
	jsonAdded := regexp.MustCompile(`\\n      at [^"\\]*`)
	inLines := strings.SplitAfter(string(in), "\n")
	outLines := strings.SplitAfter(out.String(), "\n")
	n := 0
	for _, want := range inLines {
		if n >= len(outLines) {
			t.Fatalf("output ends before input line %q", want)
		}
		got := outLines[n]
		if strings.HasPrefix(want, "{") {
			got = jsonAdded.ReplaceAllString(got, "")
		}
		if !strings.HasSuffix(want, "\n") {
			// The last line has no end of line; added lines need one before them.
			got = strings.TrimSuffix(got, "\n")
		}
		if got != want {
			t.Fatalf("input line %q came out as %q", want, outLines[n])
		}
		n++
		for n < len(outLines) && added.MatchString(strings.TrimPrefix(outLines[n], "\n")) {
			n++
		}
	}
	if n != len(outLines) {
		t.Errorf("extra output: %q", outLines[n:])
	}
	if c := strings.Count(out.String(), "      at "); c < 20 {
		t.Errorf("only %d frames added", c)
	}
}

// A real-shaped Envoy backtrace of every recorded crash of every DWARF
// fixture, filtered, carries the file:line:col of each frame and inlined
// call as llvm-symbolizer gives them for the same code offsets.
func TestFilterEnvoyBacktracesMatchLLVM(t *testing.T) {
	tools := availableLLVM(t)
	prefetchCrashAnswers(t, tools)
	for _, lang := range []string{"cpp", "rust"} {
		for _, c := range v8Crashes(t, lang) {
			fx, ok := fixtures.Get(c.fixture)
			if !ok || fx.DWARF == 0 || len(c.frames) == 0 || !fx.NameSection {
				continue
			}
			t.Run(c.fixture+" "+c.args, func(t *testing.T) {
				m := sharedFixture(t, c.fixture)
				start, _ := m.CodeRange()
				var log strings.Builder
				fmt.Fprintf(&log, "[2026-03-01 10:00:01.123][31][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] %s\nProxy-Wasm plugin in-VM backtrace:\n", strings.Replace(c.trap, "RuntimeError", "Uncaught RuntimeError", 1))
				var offs []uint64
				for i, f := range c.frames {
					fmt.Fprintf(&log, "%3d:  0x%x - %s\n", i, uint64(f.offset), f.name)
					offs = append(offs, uint64(f.offset-start))
				}
				var out bytes.Buffer
				if err := m.Filter(strings.NewReader(log.String()), &out); err != nil {
					t.Fatal(err)
				}
				got := addedLocations(out.String())
				for _, tool := range tools {
					want := llvmAnswers(t, tool, m.name, offs, true)
					for i := range offs {
						var w []string
						for _, f := range want[i] {
							if f.FunctionName == "" && f.FileName == "" && f.Line == 0 {
								// llvm's "??:0:0": no DWARF for this code (rust-lld's
								// .command_export wrappers, rustc's allocator shim), so
								// the filter adds no location either.
								continue
							}
							w = append(w, fmt.Sprintf("%s:%d:%d", cleanPath(f.FileName), f.Line, f.Column))
						}
						if strings.Join(got[i], " ") != strings.Join(w, " ") {
							t.Errorf("%s, frame %d: filter added %q, %s says %q\n%s", tool, i, got[i], tool, w, out.String())
						}
					}
				}
			})
		}
	}
}

var atLocation = regexp.MustCompile(`^      at (?:.* \()?([^ ()]+:\d+:\d+)\)?(?: \[inlined\])?$`)

// addedLocations returns, per frame line, the file:line:col of the lines
// the filter added under it.
func addedLocations(out string) [][]string {
	var res [][]string
	for _, line := range strings.Split(out, "\n") {
		if frameRe.MatchString(line) && !strings.HasPrefix(line, "      at ") {
			res = append(res, nil)
			continue
		}
		if m := atLocation.FindStringSubmatch(line); m != nil && len(res) > 0 {
			res[len(res)-1] = append(res[len(res)-1], m[1])
		}
	}
	return res
}

// slowReader hands out one line per Read and records how much output had
// been written by then: the filter must not hold lines back.
type slowReader struct {
	lines []string
	out   *bytes.Buffer
	seen  []int
}

func (r *slowReader) Read(p []byte) (int, error) {
	r.seen = append(r.seen, r.out.Len())
	if len(r.lines) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.lines[0])
	r.lines = r.lines[1:]
	return n, nil
}

// Each line is written out before the next one is read, so a live stream
// (kubectl logs -f) is symbolized as it arrives.
func TestFilterStreams(t *testing.T) {
	m, _ := openFixture(t, "cpp", Options{})
	var out bytes.Buffer
	r := &slowReader{lines: []string{"Proxy-Wasm plugin in-VM backtrace:\n", "  0:  0x1573 - plugin::crash::unreachableNow()\n", "unrelated\n"}, out: &out}
	if err := m.Filter(r, &out); err != nil {
		t.Fatal(err)
	}
	want := "Proxy-Wasm plugin in-VM backtrace:\n  0:  0x1573 - plugin::crash::unreachableNow()\n      at plugin.cc:55:51\nunrelated\n"
	if out.String() != want {
		t.Errorf("output\n%q\nwant\n%q", out.String(), want)
	}
	// Before reading line 2, line 1 was out; before line 3, line 2 and its frame.
	if len(r.seen) < 3 || r.seen[1] != len("Proxy-Wasm plugin in-VM backtrace:\n") || r.seen[2] != len(want)-len("unrelated\n") {
		t.Errorf("output lengths seen before each read: %v", r.seen)
	}
}

// Logs pasted into issues reach the filter with their framing mangled:
// the additions still come under each frame, with the prefix every line
// carries, and the lines themselves are left as they are.
func TestFilterPastedShapes(t *testing.T) {
	m, _ := openFixture(t, "cpp", Options{})
	tests := []struct{ name, in, want string }{{
		name: "istio thread= after spaces (tabs collapsed by a terminal)",
		in:   "  3:  0x1573 - plugin::crash::unreachableNow()     thread=422\n",
		want: "  3:  0x1573 - plugin::crash::unreachableNow()     thread=422\n      at plugin.cc:55:51\n",
	}, {
		name: "a line copied out of a JSON string keeps its quote and escaped newline",
		in:   "\" 0: 0x1573 - plugin::crash::unreachableNow()\\n\"\n",
		want: "\" 0: 0x1573 - plugin::crash::unreachableNow()\\n\"\n      at plugin.cc:55:51\n",
	}, {
		name: "markdown quote before a compose prefix is repeated on added lines",
		in:   "> envoy-1  |   0:  0x1573 - plugin::crash::unreachableNow()\n",
		want: "> envoy-1  |   0:  0x1573 - plugin::crash::unreachableNow()\n> envoy-1  |       at plugin.cc:55:51\n",
	}, {
		name: "wazero frames indented with spaces instead of a tab",
		in:   "wasm stack trace:\n    .plugin::crash::divide(int)(i32) i32\n        0x32e: plugin.cc:107:14\n    .$63(i32,i32,i32) i32\nafter\n",
		want: "wasm stack trace:\n    .plugin::crash::divide(int)(i32) i32\n         at plugin::crash::divide(int) (declared at plugin.cc:61)\n        0x32e: plugin.cc:107:14\n" +
			"    .$63(i32,i32,i32) i32\n         at plugin::Filter::onRequestHeaders(unsigned int, bool) (declared at plugin.cc:294)\nafter\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := m.Filter(strings.NewReader(tt.in), &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", out.String(), tt.want)
			}
		})
	}
}

func FuzzFilter(f *testing.F) {
	in, err := os.ReadFile(filepath.Join("testdata", "filter-input.log"))
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.SplitAfter(string(in), "\n") {
		f.Add(line)
	}
	f.Add("wasm stack trace:\n\t.$99999999999(i32)\n")
	m, _ := openFixture(f, "cpp", Options{})
	f.Fuzz(func(t *testing.T, s string) {
		var out bytes.Buffer
		if err := m.Filter(strings.NewReader(s), &out); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out.String(), strings.SplitAfter(s, "\n")[0]) && !strings.Contains(s, `\n`) {
			t.Fatalf("first line changed: %q -> %q", s, out.String())
		}
	})
}

var _ = loc.ModuleOffset(0)
