package replay

import (
	"bytes"
	"context"
	"io"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/wasmdbg/wasmdbg/fixtures"
)

// goFast compiles the Go fixture without the per-callback time limit (ten
// times cheaper per call), for the tests that replay it tens of thousands
// of times.
var goFast = sync.OnceValues(func() (*Module, error) {
	f, _ := fixtures.Get("go")
	wasm, err := f.Bytes()
	if err != nil {
		return nil, err
	}
	return Compile(context.Background(), wasm, Options{CacheDir: testCacheDir})
})

func goModule(t *testing.T, pages uint32) *Module {
	t.Helper()
	m, err := goFast()
	if err != nil {
		t.Fatal(err)
	}
	if pages == 0 {
		return m
	}
	lm, err := Compile(context.Background(), m.Bytes(), Options{CacheDir: testCacheDir, MaxMemoryPages: pages})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lm.Close(context.Background()) })
	return lm
}

// leakCapture is one request with ten headers, the shape of the fixture
// README's V8 measurement.
func leakCapture(config string) *Capture {
	return fixtureCapture(config, CaptureStream{ID: "r", Request: req("GET", "/items", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"), Response: ok200("ok")})
}

// TestRepeatGoLeak: the Go fixture with leak=1 keeps every request's
// headers, ~1.3 KiB each (fixtures/README.md); without it, memory grows
// until Go's collector first runs (a 4 MiB heap) and then stays.
func TestRepeatGoLeak(t *testing.T) {
	m := goModule(t, 0)
	t.Run("leak", func(t *testing.T) {
		_, rep, err := Repeat(context.Background(), m, leakCapture("leak=1"), RunOptions{Verbosity: Quiet}, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != LeakFound || rep.GrowthPerRequest < 1000 || rep.GrowthPerRequest > 2000 {
			t.Errorf("verdict %s, %.0f B per request; want a leak of ~1.3 KiB per request\n%s", rep.Verdict, rep.GrowthPerRequest, reportText(rep))
		}
		if !strings.HasPrefix(rep.Message, "memory grows ~1.") || !strings.HasSuffix(rep.Message, " KiB per request: leak") {
			t.Errorf("message %q", rep.Message)
		}
		if len(rep.Series) != 5000 || rep.Series[4999].Requests != 5000 {
			t.Errorf("series of %d samples", len(rep.Series))
		}
	})
	t.Run("no leak", func(t *testing.T) {
		if testing.Short() {
			t.Skip("60000 requests through the Go fixture")
		}
		res, rep, err := Repeat(context.Background(), m, leakCapture(""), RunOptions{Verbosity: Quiet}, 60000)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != LeakFlat || rep.FlatFrom == 0 || rep.FlatFrom > 50000 {
			t.Errorf("verdict %s (flat from %d); want flat after Go's first collection\n%s", rep.Verdict, rep.FlatFrom, reportText(rep))
		}
		if !res.OK() || len(res.Streams) != 1 {
			t.Errorf("result: ok %v, %d streams kept", res.OK(), len(res.Streams))
		}
	})
}

// TestRepeatOutOfMemory reproduces the leak's end: with an 8 MiB limit the
// Go runtime runs out of memory, as it would in Envoy with that limit.
func TestRepeatOutOfMemory(t *testing.T) {
	m := goModule(t, 128)
	res, rep, err := Repeat(context.Background(), m, leakCapture("leak=1"), RunOptions{Verbosity: Quiet}, 20000)
	if err != nil {
		t.Fatal(err)
	}
	if rep.StoppedAt == 0 || !res.Trapped {
		t.Fatalf("no out-of-memory trap in 20000 iterations\n%s", reportText(rep))
	}
	if !strings.Contains(res.Crash.PanicText, "out of memory") {
		t.Errorf("panic text %q, want Go's out of memory", res.Crash.PanicText)
	}
	if rep.Verdict != LeakFound {
		t.Errorf("verdict %s before the trap, want leak", rep.Verdict)
	}
	if last := res.Streams[len(res.Streams)-1]; !last.Trapped || last.Iteration != rep.StoppedAt {
		t.Errorf("the trapped stream is not kept: %+v", last)
	}
	if rep.Limit != 8<<20 {
		t.Errorf("limit %d", rep.Limit)
	}
}

// TestRepeatStop: a closed Stop ends the run after the iteration in
// progress, judged over what was made, and says so.
func TestRepeatStop(t *testing.T) {
	m := goModule(t, 0)
	stop := make(chan struct{})
	close(stop)
	res, rep, err := Repeat(context.Background(), m, leakCapture(""), RunOptions{Verbosity: Quiet, Stop: stop}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Iterations != 1 || res.Trapped {
		t.Errorf("%d iterations, trapped %v; want 1 iteration, no trap", rep.Iterations, res.Trapped)
	}
	if want := "stopped after 1 of 1000 iterations"; len(rep.Notes) == 0 || rep.Notes[len(rep.Notes)-1] != want {
		t.Errorf("notes %q, want the last to be %q", rep.Notes, want)
	}
	if rep.Verdict != LeakInconclusive {
		t.Errorf("verdict %s after one iteration, want %s", rep.Verdict, LeakInconclusive)
	}
}

func reportText(rep *LeakReport) string {
	var b bytes.Buffer
	rep.Write(&b)
	return b.String()
}

// TestLeakJudge runs the verdict over made-up series.
func TestLeakJudge(t *testing.T) {
	const page = 65536
	steps := func(n, every int, base uint64) []uint64 {
		v := make([]uint64, n)
		for i := range v {
			v[i] = base + uint64(i/every)*page
		}
		return v
	}
	warmup := func(n, every, until int) []uint64 {
		v := make([]uint64, n)
		for i := range v {
			v[i] = 3<<20 + uint64(min(i, until)/every)*page
		}
		return v
	}
	// A leak under a heap that grows by a fraction of its size: the
	// leaked bytes rise steadily, memory follows in steps 1.3 times the
	// size, so some quarters of the run show no step.
	geometric := func(n int, start uint64) []uint64 {
		v := make([]uint64, n)
		mem := start
		for i := range v {
			if live := start + uint64(i)*400<<10; live > mem {
				mem = (live * 13 / 10) / page * page
			}
			v[i] = mem
		}
		return v
	}
	// A heap doubling at ever longer intervals: one doubling in the
	// second half could be a burst it grew to fit.
	doubling := func(n int) []uint64 {
		v := make([]uint64, n)
		for i := range v {
			switch {
			case i < 45:
				v[i] = 1 << 20
			case i < 310:
				v[i] = 2 << 20
			default:
				v[i] = 4 << 20
			}
		}
		return v
	}
	saw := func(n int, floorStep uint64) []uint64 {
		v := make([]uint64, n)
		for i := range v {
			v[i] = 100000 + uint64(i%10)*5000 + uint64(i)*floorStep
		}
		return v
	}
	for _, tt := range []struct {
		name    string
		memory  []uint64
		heap    []uint64
		perIter int
		verdict string
		message string
	}{
		{"never grows", steps(100, 1000, 1<<20), nil, 1, LeakFlat, "memory never grew: no leak"},
		{"steady steps", steps(400, 20, 1<<20), nil, 2, LeakFound, "memory grows ~1.6 KiB per request: leak"},
		{"warm-up then flat", warmup(1000, 50, 300), nil, 1, LeakFlat, "memory is flat from iteration 301: no leak"},
		{"one late step", append(steps(300, 1000, 1<<20), steps(100, 1000, 1<<20+page)...), nil, 1, LeakInconclusive,
			"memory grew ~492 B per request over the second half, but not in every quarter of it: no verdict; repeat more times (--repeat 1600)"},
		{"a step in the last quarter", append(steps(95, 1000, 1<<20), steps(5, 1000, 1<<20+page)...), nil, 1, LeakInconclusive,
			"memory grew ~708 B per request over the second half, but not in every quarter of it: no verdict; repeat more times (--repeat 400)"},
		{"steps at ever longer intervals", geometric(200, 8<<20), nil, 3, LeakFound,
			"memory grows ~164.2 KiB per request, in ever larger steps (56.1 MiB to 95.7 MiB over the second half): leak"},
		{"one doubling in the second half", doubling(400), nil, 1, LeakInconclusive,
			"memory grew ~15.2 KiB per request over the second half, but not in every quarter of it: no verdict; repeat more times (--repeat 1600)"},
		{"too few", steps(5, 1, 1<<20), nil, 1, LeakInconclusive, "5 iterations are too few for a verdict: repeat at least 8 times"},
		{"heap sawtooth level", steps(200, 1000, 1<<20), saw(200, 0), 1, LeakFlat, "memory is level over the second half of the run: no leak"},
		{"heap sawtooth rising", steps(200, 1000, 1<<20), saw(200, 100), 1, LeakFound, "memory grows ~107 B per request: leak"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := &LeakReport{RequestsPerIteration: tt.perIter, Signal: memorySignal}
			if tt.heap != nil {
				rep.Signal = heapSignal
			}
			for i, m := range tt.memory {
				s := MemorySample{Iteration: i + 1, Requests: (i + 1) * tt.perIter, Memory: m}
				if tt.heap != nil {
					h := tt.heap[i]
					s.Heap = &h
				}
				rep.Series = append(rep.Series, s)
			}
			rep.Iterations = len(rep.Series)
			rep.judge()
			if rep.Verdict != tt.verdict || rep.Message != tt.message {
				t.Errorf("verdict %s: %q\nwant      %s: %q", rep.Verdict, rep.Message, tt.verdict, tt.message)
			}
		})
	}
}

// TestLeakReportText is the text form of a report: numbers, chart, verdict.
func TestLeakReportText(t *testing.T) {
	rep := &LeakReport{Iterations: 40, RequestsPerIteration: 1, Signal: memorySignal, Start: 3 << 20, Limit: 1 << 30}
	for i := 0; i < 40; i++ {
		rep.Series = append(rep.Series, MemorySample{Iteration: i + 1, Requests: i + 1, Memory: 3<<20 + uint64(max(i-5, 0)/4)*65536})
	}
	base := uint32(0x11000)
	rep.HeapBase = &base
	rep.judge()
	golden(t, "leak-report.txt", []byte(reportText(rep)))
}

// TestRepeatMallinfo reads the allocator's bytes in use through an
// exported mallinfo (testdata/wat/heap.wat): a sawtooth that stays level
// is no leak, one whose floor rises by 100 bytes a request is.
func TestRepeatMallinfo(t *testing.T) {
	m := compileFile(t, "testdata/wat/heap.wasm", Options{})
	for _, tt := range []struct {
		config  string
		verdict string
		message string
	}{
		{"", LeakFlat, "memory is level over the second half of the run: no leak"},
		{"leak", LeakFound, "memory grows ~100 B per request: leak"},
	} {
		c := leakCapture(tt.config)
		_, rep, err := Repeat(context.Background(), m, c, RunOptions{}, 400)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Signal != heapSignal || rep.HeapBase == nil || *rep.HeapBase != 65536 || rep.StartHeap == nil {
			t.Fatalf("signal %q, heap base %v, start heap %v", rep.Signal, rep.HeapBase, rep.StartHeap)
		}
		if rep.Verdict != tt.verdict || rep.Message != tt.message {
			t.Errorf("config %q: %s %q, want %s %q\n%s", tt.config, rep.Verdict, rep.Message, tt.verdict, tt.message, reportText(rep))
		}
		// The 40 bytes of the answer block are allocated before the
		// first sample, so they are no growth.
		if *rep.StartHeap != 40 {
			t.Errorf("heap in use at start %d, want the probe's 40 bytes", *rep.StartHeap)
		}
	}
}

// FuzzLeakJudge: any series gets a verdict and a report, never a panic or
// a rate that is not a number.
func FuzzLeakJudge(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, uint8(1), false)
	f.Add([]byte{5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, uint8(2), false)
	f.Add([]byte{9, 1, 9, 2, 9, 3, 9, 4, 9, 5, 9, 6, 9, 7, 9, 8}, uint8(1), true)
	f.Add([]byte{}, uint8(0), true)
	f.Fuzz(func(t *testing.T, data []byte, per uint8, heap bool) {
		rep := &LeakReport{RequestsPerIteration: int(per), Signal: memorySignal, Start: 1 << 20}
		if heap {
			rep.Signal = heapSignal
		}
		if len(data)%3 == 1 {
			rep.goFirstGC = 4 << 20
		}
		for i, b := range data {
			s := MemorySample{Iteration: i + 1, Requests: i + 1, Memory: uint64(b) << 16}
			if heap {
				h := uint64(b) * 100
				s.Heap = &h
			}
			rep.Series = append(rep.Series, s)
		}
		rep.Iterations = len(rep.Series)
		rep.judge()
		switch rep.Verdict {
		case LeakFound, LeakFlat, LeakInconclusive:
		default:
			t.Fatalf("verdict %q", rep.Verdict)
		}
		if math.IsNaN(rep.GrowthPerRequest) || math.IsInf(rep.GrowthPerRequest, 0) {
			t.Fatalf("growth %v", rep.GrowthPerRequest)
		}
		rep.Write(io.Discard)
	})
}
