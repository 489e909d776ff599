package tracer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wasmdbg/wasmdbg/tracer/internal/loggen"
)

// statsLimits are the Reader limits a comparison runs with.
type statsLimits struct{ maxLine, maxRecord int }

// statsOf renders everything Stats computed, with the Reader's line counts.
func statsOf(t testing.TB, s *Stats, rd *Reader) string {
	t.Helper()
	js, err := json.Marshal(s.JSON())
	if err != nil {
		t.Fatal(err)
	}
	var txt bytes.Buffer
	if err := s.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	unret := map[string]int{}
	for name, cb := range s.Callbacks {
		unret[name] = cb.Unreturned
	}
	return fmt.Sprintf("%s\n%s\nunreturned %v\nlines %d, truncated %d", js, txt.Bytes(), unret, rd.Lines(), rd.TruncatedLines())
}

func newLimitedReader(src io.Reader, lim statsLimits) *Reader {
	rd := NewReader(src)
	if lim.maxLine > 0 {
		rd.MaxLineBytes = lim.maxLine
	}
	if lim.maxRecord > 0 {
		rd.MaxRecordBytes = lim.maxRecord
	}
	return rd
}

// statsByRecords is what ReadAll must compute: Next and Add for every
// record.
func statsByRecords(t testing.TB, src io.Reader, lim statsLimits) string {
	t.Helper()
	rd := newLimitedReader(src, lim)
	rd.SkipTimes()
	s := NewStats()
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		s.Add(r)
	}
	return statsOf(t, s, rd)
}

func statsByReadAll(t testing.TB, src io.Reader, lim statsLimits, workers int) string {
	t.Helper()
	rd := newLimitedReader(src, lim)
	s := NewStats()
	if err := s.readAll(rd, workers); err != nil {
		t.Fatal(err)
	}
	return statsOf(t, s, rd)
}

// sources returns the ways a test feeds in: at once, in small or odd
// chunks, and going idle (ErrIdle) between chunks.
func sources(in []byte) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":     func() io.Reader { return bytes.NewReader(in) },
		"one byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
		"half":      func() io.Reader { return iotest.HalfReader(bytes.NewReader(in)) },
		"7 bytes":   func() io.Reader { return &chunkReader{data: in, n: 7} },
		"idle 300":  func() io.Reader { return &idleReader{data: in, n: 300} },
		"idle 4001": func() io.Reader { return &idleReader{data: in, n: 4001} },
	}
}

// idleReader returns n bytes, then ErrIdle, and so on.
type idleReader struct {
	data []byte
	n    int
	idle bool
}

func (r *idleReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if r.idle = !r.idle; !r.idle {
		return 0, ErrIdle
	}
	n := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestReadAllSameAsAdd: ReadAll's counts are those of Next and Add for
// every record, with the stages on one goroutine or two, however the
// input arrives, with the Reader's limits default or small.
func TestReadAllSameAsAdd(t *testing.T) {
	inputs := map[string][]byte{"templates": templateEdges(), "mixed": mixedLog(t)}
	files, err := filepath.Glob("testdata/logs/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no logs under testdata/logs: %v", err)
	}
	for _, f := range files {
		inputs[filepath.Base(f)] = readFile(t, f)
	}
	var gen bytes.Buffer
	if err := loggen.Write(&gen, loggen.Options{Lines: 20_000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	inputs["loggen"] = gen.Bytes()
	inputs["loggen crlf"] = bytes.ReplaceAll(gen.Bytes(), []byte("\n"), []byte("\r\n"))

	for name, in := range inputs {
		for _, lim := range []statsLimits{{}, {maxLine: 150, maxRecord: 90}} {
			for how, src := range sources(in) {
				if how != "whole" && len(in) > 200_000 && how != "idle 4001" {
					continue // the small logs cover these, faster
				}
				// Going idle flushes open records: the reference reads the
				// same way.
				want := statsByRecords(t, src(), lim)
				for _, workers := range []int{1, 2, 3} {
					got := statsByReadAll(t, src(), lim, workers)
					if got != want {
						t.Errorf("%s, %s, limits %+v, workers %d:\n%s", name, how, lim, workers, diffLines(want, got))
					}
				}
			}
		}
	}
}

// templateEdges is call lines that repeat a template with what follows it
// in every shape parseCall tells apart: plain numbers, annotations,
// trailing blanks, CRLF, bad numbers, returns that are not the last word,
// and the same templates on other framings and threads.
func templateEdges() []byte {
	prefixes := []string{
		"[2024-03-08 08:16:46.%03d][%s][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] ",
		"[2024-03-08 08:16:46.%03d][%s][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39]",
		"[2024-03-08 08:16:46.%03d][%s][debug][wasm] ",
		"[2024-03-08 08:16:4.%03d][%s][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] ",
	}
	// Thread ids that fit a word with their length (7 bytes) and that do
	// not, an empty one.
	threads := []string{"20", "21", "22", "1234567", "12345678", "123456789012", ""}
	calls := []string{
		"[host->vm] proxy_on_request_headers(", "[vm->host] env.proxy_get_header_map_value(",
		"[vm->host] env.proxy_add_header_map_value(", "[host->vm] proxy_on_log(", "[vm->host] env.proxy_log(",
		"[host->vm] f(", "[vm->host] env.x(",
	}
	callRests := []string{"2, 14, 1)", "2, 14, 1)  # decoded(\"x\")", "2, 14, 1)   ", "2, 14, 1)\r", "2, 14, 1)\r\r",
		"2, , 1)", "2,14, 1)", ")", " )", "1, 2", "1, 2)x", "-1, 2)", "1.5, nan)", "1, 2)#x", "18446744073709551615)",
		"\t", "", "1, 2) # not an annotation"}
	returns := []string{
		"[host<-vm] proxy_on_request_headers return: ", "[vm<-host] env.proxy_get_header_map_value return: ",
		"[vm<-host] env.proxy_log return: ", "[host<-vm] proxy_on_log return: ",
		"[host<-vm] f return: ", "[vm<-host] env.x return: ",
	}
	retRests := []string{"0", "1", "void", "2  # BadArgument", "2 ", "x", "1 2", " # 3 4", "", "-1", "0\r", "nan", "12345678901234567890"}
	rng := rand.New(rand.NewPCG(5, 7))
	var lines []string
	for i := range 3000 {
		p := prefixes[rng.IntN(len(prefixes))]
		if rng.IntN(4) > 0 {
			p = prefixes[0]
		}
		th := threads[rng.IntN(3)]
		if rng.IntN(8) == 0 {
			th = threads[rng.IntN(len(threads))]
		}
		head := fmt.Sprintf(p, i%1000, th)
		if rng.IntN(2) == 0 {
			c := calls[rng.IntN(len(calls))]
			rest := callRests[0]
			if rng.IntN(3) == 0 {
				rest = callRests[rng.IntN(len(callRests))]
			}
			lines = append(lines, head+c+rest)
		} else {
			r := returns[rng.IntN(len(returns))]
			rest := retRests[rng.IntN(3)]
			if rng.IntN(3) == 0 {
				rest = retRests[rng.IntN(len(retRests))]
			}
			lines = append(lines, head+r+rest)
		}
		if rng.IntN(40) == 0 {
			lines = append(lines, head+"wasm log my_plugin: hello", "  an indented continuation", "")
		}
		if rng.IntN(200) == 0 {
			lines = append(lines, head+"Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
				"Proxy-Wasm plugin in-VM backtrace:", "  0:  0x1a2b - my_func")
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// mixedLog interleaves the lines of every test log with generated ones,
// so that records of every framing meet call lines.
func mixedLog(t testing.TB) []byte {
	var gen bytes.Buffer
	if err := loggen.Write(&gen, loggen.Options{Lines: 3000, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	pool := strings.Split(gen.String(), "\n")
	files, _ := filepath.Glob("testdata/logs/*")
	var others []string
	for _, f := range files {
		others = append(others, strings.Split(string(readFile(t, f)), "\n")...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var out []string
	for range 6000 {
		if rng.IntN(3) == 0 {
			out = append(out, others[rng.IntN(len(others))])
		} else {
			out = append(out, pool[rng.IntN(len(pool))])
		}
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// FuzzStatsReadAll: ReadAll counts any input as Next and Add do.
func FuzzStatsReadAll(f *testing.F) {
	files, _ := filepath.Glob("testdata/logs/*")
	for _, file := range files {
		f.Add(readFile(f, file), uint8(0), false)
	}
	f.Add(templateEdges()[:4000], uint8(3), true)
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8, small bool) {
		lim := statsLimits{}
		if small {
			lim = statsLimits{maxLine: 120, maxRecord: 80}
		}
		src := func() io.Reader {
			if chunk > 0 {
				return &idleReader{data: in, n: int(chunk)}
			}
			return bytes.NewReader(in)
		}
		want := statsByRecords(t, src(), lim)
		for _, workers := range []int{1, 2, 3} {
			if got := statsByReadAll(t, src(), lim, workers); got != want {
				t.Fatalf("workers %d, chunk %d:\n%s", workers, chunk, diffLines(want, got))
			}
		}
	})
}

// A record whose message starts with a newline (an Istio JSON message
// that does) is counted, not a panic in isCrashHeader.
func TestStatsMessageStartsWithNewline(t *testing.T) {
	in := `{"level":"info","time":"2024-03-08T08:16:46.000000Z","scope":"envoy wasm","msg":"\nwasm error: unreachable"}` + "\n"
	rd := NewReader(strings.NewReader(in))
	r, err := rd.Next()
	if err != nil || string(r.Message) != "\nwasm error: unreachable" {
		t.Fatalf("record %q, %v; want message %q", r.Message, err, "\nwasm error: unreachable")
	}
	s := NewStats()
	s.Add(r)
	if s.Records != 1 || s.Crashes != 0 {
		t.Errorf("records %d, crashes %d; want 1, 0", s.Records, s.Crashes)
	}
}
