package replay

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/fixtures"
)

// The benchmarks of DESIGN.md §6: the per-request cost of a replay against
// the runtime's floor, a bare wazero loop that instantiates the same module
// and calls the same exports with do-nothing host functions (resolved once,
// called with CallWithStack and a reused stack); and the cold and warm start
// of the Go fixture with the compilation cache. scripts/bench/replay.sh
// prints the ratios.

// cpuTime is the CPU time the process has used (user and system, every
// thread, so the garbage collector's work counts). On a loaded machine it
// tracks cost better than wall time, which includes waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs one b.N times and reports CPU nanoseconds per iteration beside
// the wall time.
func loop(b *testing.B, one func(i int)) {
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		one(i)
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// benchFixtures are the fixtures the per-request benchmarks run: the C one
// is the simple header-checking plugin of the issue; the others show the
// floor moving with the language. The Go fixture is left out: its runtime
// needs a working host (its scheduler and allocator call back into WASI and
// the allocator), so a do-nothing floor corrupts it within a few thousand
// requests; BenchmarkReplayRequestGo measures replay alone.
var benchFixtures = []string{"c", "cpp", "rust"}

func benchWasm(b testing.TB, name string) []byte {
	f, ok := fixtures.Get(name)
	if !ok {
		b.Skipf("no fixture %s", name)
	}
	wasm, err := f.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

// benchRequest is the request every iteration replays: a GET without the
// deny or crash headers, answered 200.
func benchRequest() CaptureStream {
	return CaptureStream{Kind: "http",
		Request:  &HTTPMessage{Headers: []Header{{":authority", "example.com"}, {":path", "/api/items"}, {":method", "GET"}, {":scheme", "https"}, {"user-agent", "bench"}, {"accept", "*/*"}}},
		Response: &HTTPMessage{Headers: []Header{{":status", "200"}, {"content-type", "application/json"}}},
	}
}

// benchConfig is the plugin configuration of the benchmarks.
const benchConfig = "deny=x-deny"

// benchCapture is a capture of one benchRequest stream.
func benchCapture() *Capture {
	return &Capture{Version: 1, Plugin: PluginConfig{RootID: "wasmdbg", Configuration: []byte(benchConfig)},
		Host:    HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond},
		Streams: []CaptureStream{benchRequest()}}
}

// BenchmarkFloor is the bare wazero loop with do-nothing host functions:
// one request per iteration.
func BenchmarkFloor(b *testing.B) {
	for _, name := range benchFixtures {
		b.Run(name, func(b *testing.B) {
			fl := newFloor(b, benchWasm(b, name), floorNothing, false, nil)
			loop(b, func(i int) { fl.request(b, uint64(i+2)) })
		})
	}
}

// BenchmarkFloorAnswering is the floor whose host functions answer as
// Envoy would (floor_test.go): the plugin's work equals its work under
// replay. The per-request goal is judged against it.
func BenchmarkFloorAnswering(b *testing.B) {
	for _, name := range benchFixtures {
		b.Run(name, func(b *testing.B) {
			fl := newFloor(b, benchWasm(b, name), floorAnswering, false, nil)
			loop(b, func(i int) { fl.request(b, uint64(i+2)) })
		})
	}
}

// BenchmarkFloorTimeLimit is the do-nothing loop with wazero's own
// termination checks on (WithCloseOnContextDone): what a time limit costs
// when wazero provides it.
func BenchmarkFloorTimeLimit(b *testing.B) {
	for _, name := range benchFixtures[:1] {
		b.Run(name, func(b *testing.B) {
			fl := newFloor(b, benchWasm(b, name), floorNothing, true, nil)
			loop(b, func(i int) { fl.request(b, uint64(i+2)) })
		})
	}
}

// replayLoop returns a function that replays benchCapture's stream once
// more on one started VM, as the passes after the first of `wasmdbg replay
// --repeat N` do: the events go to a renderer, which after the first
// stream receives only crashes and VM failures, and the stream records are
// not kept.
func replayLoop(b *testing.B, wasm []byte, opts Options) func() {
	ctx := context.Background()
	m, err := Compile(ctx, wasm, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close(ctx) })
	c := benchCapture()
	r, err := newRunner(ctx, m, c, RunOptions{Sink: NewRenderer(io.Discard).Event, Verbosity: Callbacks})
	if err != nil || r.vm.failed {
		b.Fatalf("start: %v %v", err, r.vm.failure)
	}
	one := func() {
		st, err := r.runStream(0, &c.Streams[0])
		if err != nil || st.Response == nil || r.vm.failed {
			b.Fatalf("request failed: %v %+v", err, st)
		}
		r.res.Streams = r.res.Streams[:0]
	}
	one()
	r.quietAfterFirst()
	r.discard = true
	return one
}

// BenchmarkReplayRequest is one replayed request per iteration with the
// default options of `wasmdbg replay` (the default --timeout).
func BenchmarkReplayRequest(b *testing.B) {
	for _, name := range benchFixtures {
		b.Run(name, func(b *testing.B) {
			one := replayLoop(b, benchWasm(b, name), Options{Timeout: DefaultTimeout})
			b.ReportAllocs()
			loop(b, func(int) { one() })
		})
	}
}

// BenchmarkReplayRequestNoTimeout is BenchmarkReplayRequest with --timeout 0.
func BenchmarkReplayRequestNoTimeout(b *testing.B) {
	for _, name := range benchFixtures {
		b.Run(name, func(b *testing.B) {
			one := replayLoop(b, benchWasm(b, name), Options{})
			b.ReportAllocs()
			loop(b, func(int) { one() })
		})
	}
}

// BenchmarkReplayRequestGo is BenchmarkReplayRequest for the Go fixture.
func BenchmarkReplayRequestGo(b *testing.B) {
	one := replayLoop(b, benchWasm(b, "go"), Options{Timeout: DefaultTimeout})
	b.ReportAllocs()
	loop(b, func(int) { one() })
}

// BenchmarkRepeat is `wasmdbg replay --repeat N` of a one-request capture:
// each iteration is a pass, with the leak detector's memory sample.
func BenchmarkRepeat(b *testing.B) {
	for _, name := range benchFixtures[:1] {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			m, err := Compile(ctx, benchWasm(b, name), Options{Timeout: DefaultTimeout})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(ctx)
			b.ReportAllocs()
			b.ResetTimer()
			start := cpuTime()
			res, _, err := Repeat(ctx, m, benchCapture(), RunOptions{Sink: NewRenderer(io.Discard).Event}, b.N)
			if err != nil || !res.OK() {
				b.Fatalf("%v %s", err, res.verdict())
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// startVM compiles the module and starts a VM, as `wasmdbg replay` does
// before the first stream.
func startVM(b *testing.B, wasm []byte, cacheDir string) {
	ctx := context.Background()
	m, err := Compile(ctx, wasm, Options{Timeout: DefaultTimeout, CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	vm, err := m.NewVM(ctx, VMConfig{RootID: "wasmdbg", PluginConfig: []byte("deny=x-deny")})
	if err != nil || vm.failed {
		b.Fatalf("start: %v", err)
	}
	m.Close(ctx)
}

// BenchmarkStartCold compiles the Go fixture with an empty cache each time.
func BenchmarkStartCold(b *testing.B) {
	wasm := benchWasm(b, "go")
	for i := 0; i < b.N; i++ {
		dir, err := os.MkdirTemp("", "replay-cold")
		if err != nil {
			b.Fatal(err)
		}
		startVM(b, wasm, dir)
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

// BenchmarkStartWarm starts the Go fixture from a filled cache.
func BenchmarkStartWarm(b *testing.B) {
	wasm := benchWasm(b, "go")
	dir := b.TempDir()
	startVM(b, wasm, dir)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		startVM(b, wasm, dir)
	}
}
