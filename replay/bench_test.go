package replay

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/abi"
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

func benchWasm(b *testing.B, name string) []byte {
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

// floorLoop instantiates wasm with do-nothing host functions (every env
// function answers NotFound, every WASI one success) and returns a function
// that runs one request: the same callbacks a replay makes for
// benchRequest. With answering, proxy_get_header_map_value answers from
// benchRequest's headers (allocating in the guest and copying, as any host
// must), so the plugin does the same work as under replay and the
// difference is the host's own cost.
func floorLoop(b *testing.B, wasm []byte, ensureTermination, answering bool) func(id uint64) {
	ctx := context.Background()
	info, err := parseModule(wasm)
	if err != nil {
		b.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(ensureTermination))
	b.Cleanup(func() { r.Close(ctx) })
	builders := map[string]wazero.HostModuleBuilder{}
	for _, im := range info.imports {
		hb := builders[im.module]
		if hb == nil {
			hb = r.NewHostModuleBuilder(im.module)
			builders[im.module] = hb
		}
		answer := uint64(abi.NotFound)
		if im.module != "env" {
			answer = 0
		}
		void := len(im.typ.results) == 0
		// The few WASI answers Go's runtime relies on: a clock that moves,
		// poll_oneoff reporting no events, empty environment.
		var clock uint64
		var out func(m api.Module, s []uint64)
		switch im.name {
		case "clock_time_get":
			out = func(m api.Module, s []uint64) { clock += 1000; m.Memory().WriteUint64Le(uint32(s[2]), clock) }
		case "poll_oneoff":
			out = func(m api.Module, s []uint64) { m.Memory().WriteUint32Le(uint32(s[3]), 0) }
		case "environ_sizes_get", "args_sizes_get":
			out = func(m api.Module, s []uint64) {
				m.Memory().WriteUint32Le(uint32(s[0]), 0)
				m.Memory().WriteUint32Le(uint32(s[1]), 0)
			}
		case "fd_write":
			out = func(m api.Module, s []uint64) { m.Memory().WriteUint32Le(uint32(s[3]), 0) }
		}
		if answering && im.module == "env" && im.name == "proxy_get_header_map_value" {
			req, resp := benchRequest().Request.Headers, benchRequest().Response.Headers
			var malloc api.Function
			st := make([]uint64, 1)
			out = func(m api.Module, s []uint64) {
				hs := req
				if s[0] == uint64(abi.HttpResponseHeaders) {
					hs = resp
				}
				if malloc == nil {
					if malloc = m.ExportedFunction("proxy_on_memory_allocate"); malloc == nil {
						malloc = m.ExportedFunction("malloc")
					}
				}
				key, _ := m.Memory().Read(uint32(s[1]), uint32(s[2]))
				for _, h := range hs {
					if h.Name == string(key) {
						st[0] = uint64(len(h.Value))
						malloc.CallWithStack(ctx, st)
						m.Memory().WriteString(uint32(st[0]), h.Value)
						m.Memory().WriteUint32Le(uint32(s[3]), uint32(st[0]))
						m.Memory().WriteUint32Le(uint32(s[4]), uint32(len(h.Value)))
						s[0] = 0
						return
					}
				}
				s[0] = uint64(abi.NotFound)
			}
		}
		hb.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, m api.Module, s []uint64) {
			if out != nil {
				out(m, s)
				if answering && im.name == "proxy_get_header_map_value" {
					return
				}
			}
			if !void {
				s[0] = answer
			}
		}), valueTypes(im.typ.params), valueTypes(im.typ.results)).Export(im.name)
	}
	for _, hb := range builders {
		if _, err := hb.Instantiate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		b.Fatal(err)
	}
	call := func(name string, args ...uint64) {
		fn := mod.ExportedFunction(name)
		if fn == nil {
			return
		}
		st := make([]uint64, 8)
		copy(st, args)
		fn.CallWithStack(ctx, st)
	}
	call("_initialize")
	call("proxy_on_context_create", 1, 0)
	call("proxy_on_vm_start", 1, 0)
	call("proxy_on_configure", 1, 0)
	type export struct {
		fn   api.Function
		args int
	}
	get := func(name string, n int) export {
		fn := mod.ExportedFunction(name)
		if fn == nil {
			b.Fatalf("module has no %s", name)
		}
		return export{fn, n}
	}
	seq := []export{get("proxy_on_context_create", 2), get("proxy_on_request_headers", 3),
		get("proxy_on_response_headers", 3), get("proxy_on_log", 1), get("proxy_on_done", 1), get("proxy_on_delete", 1)}
	stack := make([]uint64, 4)
	n := uint64(len(benchRequest().Request.Headers))
	return func(id uint64) {
		for i, e := range seq {
			stack[0] = id
			switch i {
			case 0:
				stack[1] = 1
			case 1:
				stack[1], stack[2] = n, 1
			case 2:
				stack[1], stack[2] = 2, 0
			}
			if err := e.fn.CallWithStack(ctx, stack); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFloor is the bare wazero loop: one request per iteration.
func BenchmarkFloor(b *testing.B) {
	for _, name := range benchFixtures {
		b.Run(name, func(b *testing.B) {
			one := floorLoop(b, benchWasm(b, name), false, false)
			loop(b, func(i int) { one(uint64(i + 2)) })
		})
	}
}

// BenchmarkFloorAnswering is the floor whose header lookups answer (see
// floorLoop): the plugin's work equals its work under replay.
func BenchmarkFloorAnswering(b *testing.B) {
	for _, name := range benchFixtures {
		b.Run(name, func(b *testing.B) {
			one := floorLoop(b, benchWasm(b, name), false, true)
			loop(b, func(i int) { one(uint64(i + 2)) })
		})
	}
}

// BenchmarkFloorTimeLimit is the same loop with wazero's termination checks
// on (what --timeout needs).
func BenchmarkFloorTimeLimit(b *testing.B) {
	for _, name := range benchFixtures[:1] {
		b.Run(name, func(b *testing.B) {
			one := floorLoop(b, benchWasm(b, name), true, false)
			loop(b, func(i int) { one(uint64(i + 2)) })
		})
	}
}

// replayLoop returns a function that replays one benchRequest stream on a
// started VM, as Replay does for each stream of a capture, without events.
func replayLoop(b *testing.B, wasm []byte, opts Options) func() {
	ctx := context.Background()
	m, err := Compile(ctx, wasm, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close(ctx) })
	c := &Capture{Version: 1, Plugin: PluginConfig{RootID: "wasmdbg", Configuration: []byte("deny=x-deny")},
		Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond}}
	r := &runner{mod: m, capture: c, ctx: ctx, res: &Result{}}
	r.shared = NewSharedStore()
	r.clock = NewClock(defaultStart, time.Millisecond)
	r.calls = newCaptureCalls(c)
	if err := r.startVM(); err != nil || r.vm.failed {
		b.Fatalf("start: %v %v", err, r.vm.failure)
	}
	cs := benchRequest()
	return func() {
		st := r.runHTTP(0, &cs)
		if st.Response == nil || r.vm.failed {
			b.Fatalf("request failed: %+v", st)
		}
	}
}

// BenchmarkReplayRequest is one replayed request per iteration, without a
// time limit (as the floor).
func BenchmarkReplayRequest(b *testing.B) {
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
	one := replayLoop(b, benchWasm(b, "go"), Options{})
	b.ReportAllocs()
	loop(b, func(int) { one() })
}

// BenchmarkReplayRequestTimeLimit is the same with the default --timeout.
func BenchmarkReplayRequestTimeLimit(b *testing.B) {
	for _, name := range benchFixtures[:1] {
		b.Run(name, func(b *testing.B) {
			one := replayLoop(b, benchWasm(b, name), Options{Timeout: DefaultTimeout})
			loop(b, func(int) { one() })
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
