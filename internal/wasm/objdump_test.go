package wasm

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
)

// TestObjdump cross-checks the reader against wabt's wasm-objdump -h -x on
// every module in testdata and every fixture: section names, offsets and
// sizes, the code section payload start, imports, exports and function
// body sizes. WASMDBG_WASM_CORPUS=dir adds every .wasm under dir (for a
// local sweep over, say, the Go module cache); modules wasm-objdump itself
// rejects are skipped there.
func TestObjdump(t *testing.T) {
	if _, err := exec.LookPath("wasm-objdump"); err != nil {
		t.Skip("wasm-objdump not installed (apt-get install wabt); skipping the cross-check")
	}
	type input struct {
		name   string
		data   []byte
		corpus bool
	}
	var inputs []input
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.wasm"))
	for _, p := range paths {
		inputs = append(inputs, input{name: p, data: readTestdata(t, filepath.Base(p))})
	}
	for _, f := range fixtures.All() {
		b, err := f.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, input{name: "fixture " + f.Name, data: b})
	}
	if dir := os.Getenv("WASMDBG_WASM_CORPUS"); dir != "" {
		filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(p, ".wasm") {
				if b, err := os.ReadFile(p); err == nil {
					inputs = append(inputs, input{name: p, data: b, corpus: true})
				}
			}
			return nil
		})
	}
	if len(inputs) == 0 {
		t.Fatal("no modules to check")
	}
	tmp := t.TempDir()
	checked := 0
	for i, in := range inputs {
		p := filepath.Join(tmp, fmt.Sprintf("m%d.wasm", i))
		if err := os.WriteFile(p, in.data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("wasm-objdump", "-h", "-x", p).Output()
		m, perr := Parse(in.data)
		if err != nil {
			if !in.corpus {
				t.Errorf("%s: wasm-objdump failed: %v", in.name, err)
			}
			continue
		}
		if perr != nil {
			t.Errorf("%s: wasm-objdump reads it, Parse says: %v", in.name, perr)
			continue
		}
		want := parseObjdump(string(out))
		if got := describe(m); got != want {
			t.Errorf("%s: reader and wasm-objdump disagree\n--- reader\n%s--- wasm-objdump\n%s", in.name, got, want)
		}
		checked++
	}
	t.Logf("%d modules agree with wasm-objdump", checked)
}

// objdump's section names, by id.
var objdumpNames = map[SectionID]string{SectionCustom: "Custom", SectionType: "Type", SectionImport: "Import",
	SectionFunction: "Function", SectionTable: "Table", SectionMemory: "Memory", SectionGlobal: "Global",
	SectionExport: "Export", SectionStart: "Start", SectionElement: "Elem", SectionCode: "Code",
	SectionData: "Data", SectionDataCount: "DataCount", SectionTag: "Tag"}

// describe renders what the cross-check compares, in the same shape as
// parseObjdump.
func describe(m *Module) string {
	var b strings.Builder
	// wasm-objdump prints names as C strings, up to the first NUL.
	cstr := func(s string) string { s, _, _ = strings.Cut(s, "\x00"); return s }
	for _, s := range m.Sections {
		fmt.Fprintf(&b, "section %s start=%#x end=%#x", objdumpNames[s.ID], uint64(s.PayloadOffset), uint64(s.End()))
		if s.ID == SectionCustom {
			fmt.Fprintf(&b, " %q", cstr(s.Name))
		}
		b.WriteString("\n")
	}
	kinds := map[ExternKind]string{KindFunc: "func", KindTable: "table", KindMemory: "memory", KindGlobal: "global", KindTag: "tag"}
	for _, im := range m.Imports {
		fmt.Fprintf(&b, "import %s %s.%s\n", kinds[im.Kind], cstr(im.Module), cstr(im.Name))
	}
	for _, e := range m.Exports {
		fmt.Fprintf(&b, "export %s[%d] %q\n", kinds[e.Kind], e.Index, cstr(e.Name))
	}
	for _, c := range m.Code {
		fmt.Fprintf(&b, "body func[%d] size=%d\n", c.Func, c.End-c.Start)
	}
	return b.String()
}

var (
	reSection = regexp.MustCompile(`^\s*(\w+) start=0x([0-9a-f]+) end=0x([0-9a-f]+) \(size=0x[0-9a-f]+\)(?: count: \d+| start: \d+)?(?: "(.*)")?$`)
	reDetail  = regexp.MustCompile(`^(\w+)\[\d+\]:$`)
	reImport  = regexp.MustCompile(`^ - (\w+)\[\d+\] .*<- (.*)$`)
	reExport  = regexp.MustCompile(`^ - (\w+)\[(\d+)\] .*-> "(.*)"$`)
	reBody    = regexp.MustCompile(`^ - func\[(\d+)\] size=(\d+)`)
)

func parseObjdump(out string) string {
	var b strings.Builder
	detail := ""
	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	sc.Buffer(nil, 1<<20)
	hex := func(s string) uint64 { v, _ := strconv.ParseUint(s, 16, 64); return v }
	for sc.Scan() {
		line := sc.Text()
		if m := reSection.FindStringSubmatch(line); m != nil && detail == "" {
			fmt.Fprintf(&b, "section %s start=%#x end=%#x", m[1], hex(m[2]), hex(m[3]))
			if m[1] == "Custom" {
				fmt.Fprintf(&b, " %q", m[4])
			}
			b.WriteString("\n")
			continue
		}
		if line == "Section Details:" {
			detail = "-"
			continue
		}
		if m := reDetail.FindStringSubmatch(line); m != nil {
			detail = m[1]
			continue
		}
		switch detail {
		case "Import":
			if m := reImport.FindStringSubmatch(line); m != nil {
				fmt.Fprintf(&b, "import %s %s\n", m[1], m[2])
			}
		case "Export":
			if m := reExport.FindStringSubmatch(line); m != nil {
				fmt.Fprintf(&b, "export %s[%s] %q\n", m[1], m[2], m[3])
			}
		case "Code":
			if m := reBody.FindStringSubmatch(line); m != nil {
				fmt.Fprintf(&b, "body func[%s] size=%s\n", m[1], m[2])
			}
		}
	}
	return b.String()
}
