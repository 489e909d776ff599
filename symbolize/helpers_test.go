package symbolize

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

var (
	update     = flag.Bool("update", false, "rewrite the golden files under testdata")
	allOffsets = flag.Bool("all-offsets", false, "compare every offset of every function body with llvm-symbolizer, not a sample")
)

// fixtureDir holds the fixtures written out once for the test binary, so
// that tools (llvm-symbolizer, wasm-objdump) and source-map lookups beside
// the module can read them.
var (
	fixtureDir     string
	fixtureDirOnce sync.Once
	fixturePaths   sync.Map // name -> path
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// fixturePath writes fixture name (and its source map) into a directory of
// its own and returns the module's path.
func fixturePath(t testing.TB, name string) string {
	t.Helper()
	if p, ok := fixturePaths.Load(name); ok {
		return p.(string)
	}
	fixtureDirOnce.Do(func() {
		var err error
		if fixtureDir, err = os.MkdirTemp("", "symbolize-fixtures-"); err != nil {
			panic(err)
		}
	})
	fx, ok := fixtures.Get(name)
	if !ok {
		t.Skipf("fixture %s is not registered yet", name)
	}
	dir := filepath.Join(fixtureDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := fx.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	fixturePaths.Store(name, p)
	return p
}

// openFixture opens a fixture from its file, recording warnings.
func openFixture(t testing.TB, name string, opts Options) (*Module, *[]string) {
	t.Helper()
	var warns []string
	var mu sync.Mutex
	opts.Warn = func(s string) {
		mu.Lock()
		warns = append(warns, s)
		mu.Unlock()
	}
	m, err := Open(fixturePath(t, name), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, &warns
}

var sharedModules sync.Map // fixture name -> *Module

// sharedFixture is one Module per fixture for the whole test binary, for
// tests that only look up: indexes are built once (the Rust fixtures' take
// a fraction of a second).
func sharedFixture(t testing.TB, name string) *Module {
	t.Helper()
	if m, ok := sharedModules.Load(name); ok {
		return m.(*Module)
	}
	m, _ := openFixture(t, name, Options{})
	sharedModules.Store(name, m)
	return m
}

// dwarfFixtures are the registered fixtures with DWARF.
func dwarfFixtures() []fixtures.Fixture {
	var out []fixtures.Fixture
	for _, f := range fixtures.All() {
		if f.DWARF > 0 {
			out = append(out, f)
		}
	}
	return out
}

// sampleOffsets returns code offsets to check in m: every function's first
// byte, first instruction and last byte, and every stride-th offset of every
// body (every offset with -all-offsets).
func sampleOffsets(t testing.TB, m *Module, stride int) []uint64 {
	t.Helper()
	if *allOffsets {
		stride = 1
	}
	raw, err := os.ReadFile(m.name)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := m.CodeRange()
	var offs []uint64
	for _, b := range m.mod.Code {
		body := raw[b.Start:b.End]
		first := b.Start + loc.ModuleOffset(localsSize(body))
		offs = append(offs, uint64(b.Start-start), uint64(first-start), uint64(b.End-1-start))
		for o := b.Start; o < b.End; o += loc.ModuleOffset(stride) {
			offs = append(offs, uint64(o-start))
		}
	}
	return offs
}

// localsSize is the length of a function body's locals declaration (core
// spec §5.5.13: a vector of (count, type) pairs): where its first
// instruction starts.
func localsSize(body []byte) int {
	n, i := uleb(body, 0)
	for k := uint64(0); k < n && i < len(body); k++ {
		_, i = uleb(body, i)
		i++ // the value type
	}
	return i
}

func uleb(b []byte, i int) (uint64, int) {
	var v uint64
	for shift := 0; i < len(b); shift += 7 {
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
	}
	return v, i
}

// appendCustom appends a custom section to a module (spec §5.5.3): id 0,
// the payload size, the name, the content.
func appendCustom(mod []byte, name string, data []byte) []byte {
	var payload []byte
	payload = binary.AppendUvarint(payload, uint64(len(name)))
	payload = append(payload, name...)
	payload = append(payload, data...)
	out := append(append([]byte(nil), mod...), 0)
	out = binary.AppendUvarint(out, uint64(len(payload)))
	return append(out, payload...)
}

// v8Case is one recorded crash of fixtures/<lang>/v8-crashes.txt.
type v8Case struct {
	fixture, args, trap string
	frames              []v8Frame
}

type v8Frame struct {
	name   string // as V8 printed it, "" for none
	index  uint32
	offset loc.ModuleOffset
}

var v8FrameRe = regexp.MustCompile(`^\s+at (?:(.*) \()?wasm://wasm/[0-9a-f]+:wasm-function\[(\d+)\]:0x([0-9a-f]+)\)?$`)

// v8Crashes reads the recorded V8 frames of every fixture of a language.
func v8Crashes(t testing.TB, lang string) []v8Case {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", lang, "v8-crashes.txt"))
	if err != nil {
		t.Skipf("no recorded V8 crashes for %s: %v", lang, err)
	}
	var cases []v8Case
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "== "); ok {
			fx, args, _ := strings.Cut(rest, " ")
			cases = append(cases, v8Case{fixture: fx, args: args})
			continue
		}
		if len(cases) == 0 {
			continue
		}
		c := &cases[len(cases)-1]
		if trap, ok := strings.CutPrefix(line, "trap: "); ok {
			c.trap = trap
		}
		if m := v8FrameRe.FindStringSubmatch(line); m != nil {
			idx, _ := strconv.ParseUint(m[2], 10, 32)
			off, _ := strconv.ParseUint(m[3], 16, 64)
			c.frames = append(c.frames, v8Frame{name: m[1], index: uint32(idx), offset: loc.ModuleOffset(off)})
		}
	}
	return cases
}
