package tracer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGolden runs every log under testdata/logs through the reader and
// decoder and compares the text report, the NDJSON events, the call tree
// and the stats with testdata/golden (refresh with go test -update).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/logs/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no logs under testdata/logs: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			in := readFile(t, file)
			var js bytes.Buffer
			jw := NewJSONWriter(&js)
			var rep Report
			rd := NewReader(bytes.NewReader(in))
			d := NewDecoder(Options{File: name, Tree: true})
			err := ScanRecords(rd, d, func(e *Event) error {
				rep.Add(e)
				return jw.Write(e)
			})
			if err != nil {
				t.Fatal(err)
			}
			jw.Flush()
			rep.CountFrom(d)
			var txt, tree, stats bytes.Buffer
			if err := rep.WriteText(&txt, d.Summary(), rd.Lines()); err != nil {
				t.Fatal(err)
			}
			if err := WriteTree(&tree, d.Contexts()); err != nil {
				t.Fatal(err)
			}
			st := NewStats()
			rd = NewReader(bytes.NewReader(in))
			for {
				r, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				st.Add(r)
			}
			st.WriteText(&stats)
			base := strings.TrimSuffix(name, filepath.Ext(name))
			golden(t, "testdata/golden/"+base+".txt", txt.Bytes())
			golden(t, "testdata/golden/"+base+".json", js.Bytes())
			golden(t, "testdata/golden/"+base+".tree", tree.Bytes())
			golden(t, "testdata/golden/"+base+".stats", stats.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, diffLines(string(want), string(got)))
	}
}

// diffLines shows the first differing lines.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\nwant: " + a + "\n got: " + b
		}
	}
	return "(same lines, different bytes)"
}
