package tracer

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// seedLogs adds every testdata log, whole and line by line, to a corpus.
func seedLogs(f *testing.F) {
	files, _ := filepath.Glob("testdata/logs/*")
	for _, file := range files {
		in := readFile(f, file)
		f.Add(in)
		for _, l := range bytes.Split(in, []byte("\n")) {
			f.Add(l)
		}
	}
}

// FuzzReader: any input gives records without a panic, the same records
// whether read at once or a byte at a time, in line order.
func FuzzReader(f *testing.F) {
	seedLogs(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		want := readAll(t, bytes.NewReader(in))
		got := readAll(t, &chunkReader{data: in, n: 1})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("byte-by-byte reading differs:\n got %+v\nwant %+v", got, want)
		}
		last := 0
		for _, r := range want {
			var first, end int
			fmt.Sscanf(r.lines, "%d-%d", &first, &end)
			if end < first || first <= last {
				t.Fatalf("record lines %s after a record starting at %d", r.lines, last)
			}
			last = first
		}
	})
}

// FuzzParseCrash: the backtrace parser never panics and keeps frames in
// order.
func FuzzParseCrash(f *testing.F) {
	seedLogs(f)
	for _, s := range []string{
		"Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0xdbd - runtime._panic",
		"wasm error: unreachable\nwasm stack trace:\n\t.f(i32) i32\n\t\t0x27: a.c:1:2 (inlined)\n\t\t      b.c:3:4",
		"Function: f failed: error while executing at wasm backtrace:\n    0: 0x1 - m!f\n                    at x.rs:1:2\n\nCaused by:\n    0: a\n    1: b",
		"Function f failed:\nWAVM message: wavm.x\nwasm backrace:\n  1: wasm!m!f+7",
		"[wasm] x\nBacktrace:\n\t0: f @ 0x0047",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, ok := ParseCrash(in)
		if !ok {
			return
		}
		if strings.Contains(c.Callback, "\n") {
			t.Fatalf("callback %q spans lines", c.Callback)
		}
		for _, fr := range c.Frames {
			if strings.Contains(fr.Function, "\n") {
				t.Fatalf("frame %q spans lines", fr.Function)
			}
		}
	})
}

// FuzzParseCall: a line is a call or it is not; a call's parts are
// pieces of the line.
func FuzzParseCall(f *testing.F) {
	seedLogs(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var c CallLine
		ok, bad := ParseCall(in, &c)
		if ok && bad != "" {
			t.Fatalf("ok with reason %q", bad)
		}
		if ok && (len(c.Function) == 0 || !bytes.Contains(in, c.Function)) {
			t.Fatalf("function %q not in the line", c.Function)
		}
		if ok {
			decodeArgs(nil, splitArgs(c.Args))
			if hf := lookupHost(string(c.Function)); hf != nil {
				decodeArgs(hf.Params, splitArgs(c.Args))
			}
		}
	})
}

// FuzzDecode runs the whole pipeline, with call trees, stats and every
// renderer, on arbitrary input.
func FuzzDecode(f *testing.F) {
	seedLogs(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var rep Report
		var evs []Event
		d, err := Scan(bytes.NewReader(in), Options{Tree: true}, func(e *Event) error {
			rep.Add(e)
			evs = append(evs, *e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rep.CountFrom(d)
		var out bytes.Buffer
		rep.WriteText(&out, d.Summary(), 0)
		WriteTree(&out, d.Contexts())
		if err := WritePerfetto(&out, d.Contexts(), evs); err != nil {
			t.Fatal(err)
		}
		st := NewStats()
		rd := NewReader(bytes.NewReader(in))
		for {
			r, err := rd.Next()
			if err != nil {
				break
			}
			st.Add(r)
		}
		st.WriteText(&out)
	})
}
