package symbolize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// llvmSymbolizers are the llvm-symbolizer builds the answers are checked
// against: Debian's default (LLVM 14) and llvm-16. CI installs "llvm".
var llvmSymbolizers = []string{"llvm-symbolizer", "llvm-symbolizer-16"}

// llvmFrame is one frame of llvm-symbolizer --output-style=JSON.
type llvmFrame struct {
	FunctionName string
	FileName     string
	Line         int
	Column       int
	StartLine    int
}

// llvmSymbolize runs tool over code offsets of the module at file, with
// inlined frames and names as stored (--no-demangle) or demangled, and
// returns the frames per offset.
func llvmSymbolize(t *testing.T, tool, file string, offs []uint64, demangled bool) [][]llvmFrame {
	t.Helper()
	var in bytes.Buffer
	for _, o := range offs {
		fmt.Fprintf(&in, "0x%x\n", o)
	}
	args := []string{"--obj=" + file, "--output-style=JSON", "--inlining"}
	if !demangled {
		args = append(args, "--no-demangle")
	}
	cmd := exec.Command(tool, args...)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, stderr.String())
	}
	var res [][]llvmFrame
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r struct {
			Address string
			Symbol  []llvmFrame
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s output %q: %v", tool, sc.Text(), err)
		}
		res = append(res, r.Symbol)
	}
	if len(res) != len(offs) {
		t.Fatalf("%s answered %d of %d addresses", tool, len(res), len(offs))
	}
	return res
}

// llvmCache holds llvm-symbolizer's answers per (tool, module, demangling)
// and code offset, so that tests asking about a few offsets at a time do
// not start llvm-symbolizer (and have it read a 6 MB module) each time.
var (
	llvmCacheMu sync.Mutex
	llvmCache   = map[llvmKey]map[uint64][]llvmFrame{}
)

type llvmKey struct {
	tool, file string
	demangled  bool
}

// llvmAnswers is llvmSymbolize through llvmCache: offsets not asked before
// are answered in one run.
func llvmAnswers(t *testing.T, tool, file string, offs []uint64, demangled bool) [][]llvmFrame {
	t.Helper()
	llvmCacheMu.Lock()
	defer llvmCacheMu.Unlock()
	key := llvmKey{tool, file, demangled}
	cache := llvmCache[key]
	if cache == nil {
		cache = map[uint64][]llvmFrame{}
		llvmCache[key] = cache
	}
	var missing []uint64
	for _, o := range offs {
		if _, ok := cache[o]; !ok {
			missing = append(missing, o)
			cache[o] = nil
		}
	}
	if len(missing) > 0 {
		for i, a := range llvmSymbolize(t, tool, file, missing, demangled) {
			cache[missing[i]] = a
		}
	}
	out := make([][]llvmFrame, len(offs))
	for i, o := range offs {
		out[i] = cache[o]
	}
	return out
}

// availableLLVM returns the llvm-symbolizer builds installed, logging the
// missing ones.
func availableLLVM(t *testing.T) []string {
	var tools []string
	for _, tool := range llvmSymbolizers {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("%s not installed: answers not compared with it (apt-get install llvm llvm-16)", tool)
			continue
		}
		tools = append(tools, tool)
	}
	if len(tools) == 0 {
		t.Skip("no llvm-symbolizer installed: install Debian's llvm to compare answers")
	}
	return tools
}

// compareLLVM checks Lookup against llvm-symbolizer at every code offset in
// offs: the same frames, each with the same function name (raw, or with
// demangled the demangled one), file (both
// cleaned: llvm keeps "././dlmalloc/src/malloc.c" as the line table spells
// it), line and column. Where llvm has no DWARF answer, the frame must come
// from another source. It returns the number of offsets llvm answered with
// DWARF.
func compareLLVM(t *testing.T, m *Module, file string, offs []uint64, demangled bool) int {
	t.Helper()
	answered := 0
	for _, tool := range availableLLVM(t) {
		want := llvmAnswers(t, tool, file, offs, demangled)
		fails := 0
		answered = 0
		for i, o := range offs {
			got, err := m.Lookup(loc.CodeOffset(o))
			if err != nil {
				t.Errorf("%s: Lookup: %v", loc.CodeOffset(o), err)
				fails++
				continue
			}
			if msg := diffLLVM(got, want[i], demangled); msg != "" {
				t.Errorf("%s at %s: %s\n got  %s\n want %s", tool, loc.CodeOffset(o), msg, fmtFrames(got), fmtLLVM(want[i]))
				fails++
			}
			if len(want[i]) > 0 && (want[i][0].FileName != "" || want[i][0].FunctionName != "") {
				answered++
			}
			if fails > 20 {
				t.Fatalf("%s: too many differences", tool)
			}
		}
		t.Logf("%s: %d offsets compared, %d answered from DWARF", tool, len(offs), answered)
	}
	return answered
}

func diffLLVM(got []Frame, want []llvmFrame, demangled bool) string {
	if len(want) == 1 && want[0].FunctionName == "" && want[0].FileName == "" {
		if got[0].Source == loc.SourceDWARF {
			return "llvm has no DWARF answer, wasmdbg answered from DWARF"
		}
		return ""
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d frames, llvm %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Source != loc.SourceDWARF {
			return fmt.Sprintf("frame %d answered from %s", i, g.Source)
		}
		if w.FunctionName == "" && i == len(want)-1 {
			// No subprogram DIE: wasmdbg names the function from the name section.
		} else if name := g.Function; (demangled && g.Name() != w.FunctionName) || (!demangled && name != w.FunctionName) {
			return fmt.Sprintf("frame %d function", i)
		}
		if cleanPath(w.FileName) != g.File || w.Line != g.Line || w.Column != g.Column {
			return fmt.Sprintf("frame %d location", i)
		}
		if g.Inlined != (i < len(want)-1) {
			return fmt.Sprintf("frame %d inlined=%v", i, g.Inlined)
		}
	}
	return ""
}

func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean(p)
}

func fmtFrames(fs []Frame) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "[%s %s:%d:%d inl=%v %s] ", f.Function, f.File, f.Line, f.Column, f.Inlined, f.Source)
	}
	return b.String()
}

func fmtLLVM(fs []llvmFrame) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "[%s %s:%d:%d] ", f.FunctionName, f.FileName, f.Line, f.Column)
	}
	return b.String()
}
