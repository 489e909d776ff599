package replay

import (
	"context"
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// The runtime's floor for the per-request benchmarks (DESIGN.md §6): a bare
// wazero loop that instantiates the same module and calls the same exports
// as a replay of benchRequest, with the exports resolved once and called
// with CallWithStack on a reused stack. It comes in two kinds:
//
//   - floorNothing: every env function answers NotFound (void ones
//     nothing), every WASI function success: the issue's "do-nothing host
//     functions". The plugin then does less than under any real host: a
//     header it looks up is never there, so it allocates and copies
//     nothing, and the shared-data counter is never read back.
//   - floorAnswering: the host functions the fixtures call answer as Envoy
//     would, with the least work that allows: header lookups from
//     benchRequest's maps (allocating in the guest and copying, as any host
//     must), shared data with CAS, metric definitions, the plugin
//     configuration; everything else Ok. The plugin does exactly the work it
//     does under replay (TestFloorAnswersLikeReplay checks the calls and
//     their answers), so the difference is the host's own cost. This is the
//     fair floor the 1.3x goal is judged on.
type floorKind int

const (
	floorNothing floorKind = iota
	floorAnswering
)

// floorCall is one crossing the floor made, for TestFloorAnswersLikeReplay:
// a host call with its answer, or a call into the module ("host->vm").
type floorCall struct {
	dir, fn string
	ret     uint32
}

// floor is an instantiated module and one request's exports.
type floor struct {
	mod         api.Module
	seq         []api.Function
	stack       []uint64
	nreq, nresp uint64 // header counts
	ctx         context.Context
	// record, when set, receives every crossing (tests only).
	record func(floorCall)
}

// newFloor instantiates wasm on a fresh runtime with the floor's host
// functions and starts it as replay does (_initialize, the root context's
// create, vm_start and configure with benchConfig).
func newFloor(tb testing.TB, wasm []byte, kind floorKind, ensureTermination bool, record func(floorCall)) *floor {
	ctx := context.Background()
	info, err := parseModule(wasm)
	if err != nil {
		tb.Fatal(err)
	}
	fl := &floor{ctx: ctx, record: record}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(ensureTermination))
	tb.Cleanup(func() { r.Close(ctx) })
	answers := fl.answers()
	builders := map[string]wazero.HostModuleBuilder{}
	for _, im := range info.imports {
		hb := builders[im.module]
		if hb == nil {
			hb = r.NewHostModuleBuilder(im.module)
			builders[im.module] = hb
		}
		def := uint32(abi.NotFound)
		if im.module != "env" {
			def = 0
		}
		var answer func(m api.Module, s []uint64) uint32
		if im.module != "env" {
			answer = wasiFloor[im.name]
		} else if kind == floorAnswering {
			answer = answers[im.name]
			def = uint32(abi.Ok)
		}
		void := len(im.typ.results) == 0
		name := im.module + "." + im.name
		hb.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, m api.Module, s []uint64) {
			ret := def
			if answer != nil {
				ret = answer(m, s)
			}
			if !void {
				s[0] = uint64(ret)
			}
			if fl.record != nil {
				fl.record(floorCall{"vm->host", name, ret})
			}
		}), valueTypes(im.typ.params), valueTypes(im.typ.results)).Export(im.name)
	}
	for _, hb := range builders {
		if _, err := hb.Instantiate(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		tb.Fatal(err)
	}
	fl.mod = mod
	call := func(name string, args ...uint64) {
		fn := mod.ExportedFunction(name)
		if fn == nil {
			return
		}
		st := make([]uint64, 8)
		copy(st, args)
		if err := fn.CallWithStack(ctx, st); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
	}
	call("_initialize")
	call("proxy_on_context_create", 1, 0)
	call("proxy_on_vm_start", 1, 0)
	call("proxy_on_configure", 1, uint64(len(benchConfig)))
	for _, name := range []string{"proxy_on_context_create", "proxy_on_request_headers",
		"proxy_on_response_headers", "proxy_on_log", "proxy_on_done", "proxy_on_delete"} {
		fn := mod.ExportedFunction(name)
		if fn == nil {
			tb.Fatalf("module has no %s", name)
		}
		fl.seq = append(fl.seq, fn)
	}
	fl.stack = make([]uint64, 4)
	fl.nreq, fl.nresp = uint64(len(benchRequest().Request.Headers)), uint64(len(benchRequest().Response.Headers))
	return fl
}

// request runs one benchRequest stream on context id, with the arguments
// replay passes: (id, root) to context_create, (id, header count, end of
// stream) to the headers callbacks, (id) to the others.
func (fl *floor) request(tb testing.TB, id uint64) {
	for i, fn := range fl.seq {
		st := fl.stack
		st[0] = id
		switch i {
		case 0:
			st[1] = 1
		case 1:
			st[1], st[2] = fl.nreq, 1
		case 2:
			st[1], st[2] = fl.nresp, 1
		}
		if fl.record != nil {
			fl.record(floorCall{dir: "host->vm", fn: fn.Definition().ExportNames()[0]})
		}
		if err := fn.CallWithStack(fl.ctx, st); err != nil {
			tb.Fatal(err)
		}
	}
}

// wasiFloor are the few WASI answers the fixtures' runtimes rely on: a
// clock that moves, poll_oneoff reporting no events, empty environment and
// arguments, fd_write writing nothing.
var wasiFloor = func() map[string]func(api.Module, []uint64) uint32 {
	var clock uint64
	return map[string]func(api.Module, []uint64) uint32{
		"clock_time_get": func(m api.Module, s []uint64) uint32 {
			clock += 1000
			m.Memory().WriteUint64Le(uint32(s[2]), clock)
			return 0
		},
		"poll_oneoff": func(m api.Module, s []uint64) uint32 { m.Memory().WriteUint32Le(uint32(s[3]), 0); return 0 },
		"environ_sizes_get": func(m api.Module, s []uint64) uint32 {
			m.Memory().WriteUint32Le(uint32(s[0]), 0)
			m.Memory().WriteUint32Le(uint32(s[1]), 0)
			return 0
		},
		"args_sizes_get": func(m api.Module, s []uint64) uint32 {
			m.Memory().WriteUint32Le(uint32(s[0]), 0)
			m.Memory().WriteUint32Le(uint32(s[1]), 0)
			return 0
		},
		"fd_write": func(m api.Module, s []uint64) uint32 { m.Memory().WriteUint32Le(uint32(s[3]), 0); return 0 },
	}
}()

// answers are floorAnswering's env functions: what the fixtures call on
// their request path and at start, answered as Envoy would.
func (fl *floor) answers() map[string]func(api.Module, []uint64) uint32 {
	req, resp := benchRequest().Request.Headers, benchRequest().Response.Headers
	var malloc api.Function
	st := make([]uint64, 1)
	// put copies b into a fresh guest allocation and writes its address
	// and size to the out-pointers (cpp-host's copyToPointerSize).
	put := func(m api.Module, b string, ptrPtr, sizePtr uint64) {
		var addr uint32
		if len(b) > 0 {
			if malloc == nil {
				if malloc = m.ExportedFunction("proxy_on_memory_allocate"); malloc == nil {
					malloc = m.ExportedFunction("malloc")
				}
			}
			st[0] = uint64(len(b))
			if fl.record != nil {
				fl.record(floorCall{dir: "host->vm", fn: malloc.Definition().ExportNames()[0]})
			}
			malloc.CallWithStack(fl.ctx, st)
			addr = uint32(st[0])
			m.Memory().WriteString(addr, b)
		}
		m.Memory().WriteUint32Le(uint32(ptrPtr), addr)
		m.Memory().WriteUint32Le(uint32(sizePtr), uint32(len(b)))
	}
	type shared struct {
		value string
		cas   uint32
	}
	data := map[string]shared{}
	var nextCAS uint32
	var nextMetric uint32 = 4
	return map[string]func(api.Module, []uint64) uint32{
		"proxy_get_header_map_value": func(m api.Module, s []uint64) uint32 {
			hs := req
			if uint32(s[0]) == uint32(abi.HttpResponseHeaders) {
				hs = resp
			}
			key, _ := m.Memory().Read(uint32(s[1]), uint32(s[2]))
			for _, h := range hs {
				if h.Name == string(key) {
					put(m, h.Value, s[3], s[4])
					return uint32(abi.Ok)
				}
			}
			return uint32(abi.NotFound)
		},
		"proxy_get_buffer_bytes": func(m api.Module, s []uint64) uint32 {
			if uint32(s[0]) != uint32(abi.PluginConfiguration) {
				return uint32(abi.NotFound)
			}
			put(m, benchConfig[uint32(s[1]):uint32(s[1])+uint32(s[2])], s[3], s[4])
			return uint32(abi.Ok)
		},
		"proxy_get_buffer_status": func(m api.Module, s []uint64) uint32 {
			if uint32(s[0]) != uint32(abi.PluginConfiguration) {
				return uint32(abi.NotFound)
			}
			m.Memory().WriteUint32Le(uint32(s[1]), uint32(len(benchConfig)))
			m.Memory().WriteUint32Le(uint32(s[2]), 0)
			return uint32(abi.Ok)
		},
		"proxy_define_metric": func(m api.Module, s []uint64) uint32 {
			m.Memory().WriteUint32Le(uint32(s[3]), nextMetric)
			nextMetric++
			return uint32(abi.Ok)
		},
		"proxy_get_shared_data": func(m api.Module, s []uint64) uint32 {
			key, _ := m.Memory().Read(uint32(s[0]), uint32(s[1]))
			v, ok := data[string(key)]
			if !ok {
				return uint32(abi.NotFound)
			}
			put(m, v.value, s[2], s[3])
			m.Memory().WriteUint32Le(uint32(s[4]), v.cas)
			return uint32(abi.Ok)
		},
		"proxy_set_shared_data": func(m api.Module, s []uint64) uint32 {
			key, _ := m.Memory().Read(uint32(s[0]), uint32(s[1]))
			value, _ := m.Memory().Read(uint32(s[2]), uint32(s[3]))
			old, ok := data[string(key)]
			if ok && uint32(s[4]) != 0 && uint32(s[4]) != old.cas {
				return uint32(abi.CasMismatch)
			}
			nextCAS++
			data[string(key)] = shared{string(value), nextCAS}
			return uint32(abi.Ok)
		},
		"proxy_get_property": func(api.Module, []uint64) uint32 { return uint32(abi.NotFound) },
	}
}

// TestFloorAnswersLikeReplay keeps the comparison honest: for three
// requests in a row, the answering floor and a replay make the same calls
// into the module (callbacks and allocations) and the plugin makes the same
// host calls, which get the same answers.
func TestFloorAnswersLikeReplay(t *testing.T) {
	for _, name := range benchFixtures {
		t.Run(name, func(t *testing.T) {
			wasm := benchWasm(t, name)
			var got []floorCall
			fl := newFloor(t, wasm, floorAnswering, false, func(c floorCall) { got = append(got, c) })
			got = got[:0]
			for id := uint64(2); id < 5; id++ {
				fl.request(t, id)
			}

			var want []floorCall
			ctx := context.Background()
			m, err := Compile(ctx, wasm, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			c := benchCapture()
			c.Streams = append(c.Streams, benchRequest(), benchRequest())
			sink := func(ev *tracer.Event) {
				switch ev.Direction {
				case tracer.HostToVM:
					want = append(want, floorCall{dir: "host->vm", fn: ev.Function})
				case tracer.VMFromHost:
					ret, _ := strconv.ParseUint(string(*ev.Return), 10, 32)
					want = append(want, floorCall{"vm->host", ev.Function, uint32(ret)})
				}
			}
			r, err := newRunner(ctx, m, c, RunOptions{Sink: sink, Verbosity: Trace})
			if err != nil {
				t.Fatal(err)
			}
			want = want[:0]
			for i := range c.Streams {
				if _, err := r.runStream(i, &c.Streams[i]); err != nil {
					t.Fatal(err)
				}
			}
			if testing.Verbose() {
				for i := range max(len(got), len(want)) {
					var g, w floorCall
					if i < len(got) {
						g = got[i]
					}
					if i < len(want) {
						w = want[i]
					}
					t.Logf("%3d %-60v %v", i, g, w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("the floor crossed %d times, replay %d", len(got), len(want))
			}
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("crossing %d: floor %+v, replay %+v", i, got[i], want[i])
				}
			}
		})
	}
}
