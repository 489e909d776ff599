package replay

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"io"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// hostImpl implements one host function; it reads its arguments from s and
// returns the i32 result (ignored for void functions).
type hostImpl func(vm *VM, s []uint64) uint32

// envImpls are the env.* functions, with cpp-host's argument handling
// (src/exports.cc) and Envoy's behaviour behind it
// (source/extensions/common/wasm/context.cc).
var envImpls = map[string]hostImpl{
	"proxy_log":                          (*VM).proxyLog,
	"proxy_get_log_level":                (*VM).proxyGetLogLevel,
	"proxy_get_status":                   (*VM).proxyGetStatus,
	"proxy_get_configuration":            (*VM).proxyGetConfiguration,
	"proxy_set_property":                 (*VM).proxySetProperty,
	"proxy_get_property":                 (*VM).proxyGetProperty,
	"proxy_send_local_response":          (*VM).proxySendLocalResponse,
	"proxy_continue_request":             func(vm *VM, s []uint64) uint32 { return vm.continueStream(abi.StreamHttpRequest) },
	"proxy_continue_response":            func(vm *VM, s []uint64) uint32 { return vm.continueStream(abi.StreamHttpResponse) },
	"proxy_clear_route_cache":            (*VM).proxyClearRouteCache,
	"proxy_continue_stream":              (*VM).proxyContinueStream,
	"proxy_close_stream":                 (*VM).proxyCloseStream,
	"proxy_get_shared_data":              (*VM).proxyGetSharedData,
	"proxy_set_shared_data":              (*VM).proxySetSharedData,
	"proxy_register_shared_queue":        (*VM).proxyRegisterSharedQueue,
	"proxy_resolve_shared_queue":         (*VM).proxyResolveSharedQueue,
	"proxy_dequeue_shared_queue":         (*VM).proxyDequeueSharedQueue,
	"proxy_enqueue_shared_queue":         (*VM).proxyEnqueueSharedQueue,
	"proxy_get_header_map_value":         (*VM).proxyGetHeaderMapValue,
	"proxy_add_header_map_value":         (*VM).proxyAddHeaderMapValue,
	"proxy_replace_header_map_value":     (*VM).proxyReplaceHeaderMapValue,
	"proxy_remove_header_map_value":      (*VM).proxyRemoveHeaderMapValue,
	"proxy_get_header_map_pairs":         (*VM).proxyGetHeaderMapPairs,
	"proxy_set_header_map_pairs":         (*VM).proxySetHeaderMapPairs,
	"proxy_get_header_map_size":          (*VM).proxyGetHeaderMapSize,
	"proxy_get_buffer_status":            (*VM).proxyGetBufferStatus,
	"proxy_get_buffer_bytes":             (*VM).proxyGetBufferBytes,
	"proxy_set_buffer_bytes":             (*VM).proxySetBufferBytes,
	"proxy_http_call":                    (*VM).proxyHTTPCall,
	"proxy_grpc_call":                    (*VM).proxyGrpcCall,
	"proxy_grpc_stream":                  (*VM).proxyGrpcStream,
	"proxy_grpc_send":                    (*VM).proxyGrpcSend,
	"proxy_grpc_cancel":                  (*VM).proxyGrpcCancel,
	"proxy_grpc_close":                   (*VM).proxyGrpcClose,
	"proxy_set_tick_period_milliseconds": (*VM).proxySetTickPeriod,
	"proxy_get_current_time_nanoseconds": (*VM).proxyGetCurrentTime,
	"proxy_define_metric":                (*VM).proxyDefineMetric,
	"proxy_increment_metric":             (*VM).proxyIncrementMetric,
	"proxy_record_metric":                (*VM).proxyRecordMetric,
	"proxy_get_metric":                   (*VM).proxyGetMetric,
	"proxy_set_effective_context":        (*VM).proxySetEffectiveContext,
	"proxy_done":                         (*VM).proxyDone,
	"proxy_call_foreign_function":        (*VM).proxyCallForeignFunction,
	"pthread_equal": func(vm *VM, s []uint64) uint32 {
		if arg32(s, 0) == arg32(s, 1) {
			return 1
		}
		return 0
	},
	"emscripten_notify_memory_growth": func(vm *VM, s []uint64) uint32 { return 0 },
}

// buildHostModule builds and instantiates one host module (env or a WASI
// name) whose functions are bound to vm. It is anonymous: the guest finds it
// through the import resolver, so many VMs can share one runtime.
func (vm *VM) buildHostModule(ctx context.Context, module string) (api.Module, error) {
	b := vm.mod.rt.NewHostModuleBuilder(module)
	impls := wasiImpls
	if module == "env" {
		impls = envImpls
	}
	for _, f := range abi.HostFuncs(vm.mod.info.abi) {
		if f.Module != module {
			continue
		}
		impl := impls[f.Name]
		if impl == nil {
			panic("BUG: no implementation for host function " + f.Module + "." + f.Name)
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(vm.wrap(f, impl), valueTypes(f.ParamTypes()), valueTypes(f.ResultType())).
			WithName(f.Name).
			Export(f.Name)
	}
	compiled, err := b.Compile(ctx)
	if err != nil {
		return nil, err
	}
	return vm.mod.rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(""))
}

func valueTypes(ts []abi.ValType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		out[i] = api.ValueType(t)
	}
	return out
}

// wrap adds what every host function does around its work: the wasm:trace
// lines and the restricted-callback check (V8 logs the [vm->host] line before
// the check, so a denied call shows the line and then the trap).
func (vm *VM) wrap(f *abi.HostFunc, impl hostImpl) api.GoModuleFunc {
	allowStart := abi.AllowedDuringStart(f.Module, f.Name)
	allowMalloc := abi.AllowedDuringMalloc(f.Module, f.Name)
	void := f.Result == abi.ResultVoid
	return func(_ context.Context, _ api.Module, s []uint64) {
		if vm.emitHost {
			vm.emitHostCall(f, s)
		}
		if vm.restrict != restrictNone {
			if vm.restrict == restrictStart && !allowStart || vm.restrict == restrictMalloc && !allowMalloc {
				vm.restricted, vm.restrictedDuring = f, vm.restrict
				panic(&hostTrap{msg: "restricted_callback"})
			}
		}
		r := impl(vm, s)
		if !void {
			s[0] = uint64(r)
		}
		if vm.emitHost {
			vm.emitHostReturn(f, r, void)
		}
	}
}

// --- logging

func (vm *VM) proxyLog(s []uint64) uint32 {
	level := arg32(s, 0)
	if level > uint32(abi.LogCritical) {
		return status(abi.BadArgument)
	}
	msg, ok := vm.read(arg32(s, 1), arg32(s, 2))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	vm.pluginLog(vm.contextOrEffective(), abi.LogLevel(level), msg)
	return status(abi.Ok)
}

func (vm *VM) proxyGetLogLevel(s []uint64) uint32 {
	if !vm.setWord(arg32(s, 0), uint32(vm.cfg.LogLevel)) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

// --- status, configuration, properties

func (vm *VM) proxyGetStatus(s []uint64) uint32 {
	c := vm.contextOrEffective().root
	if !vm.setWord(arg32(s, 0), c.statusCode) {
		return status(abi.InvalidMemoryAccess)
	}
	if !vm.copyStringToPointerSize(c.statusMessage, arg32(s, 1), arg32(s, 2)) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxyGetConfiguration(s []uint64) uint32 {
	c := vm.contextOrEffective()
	data := vm.cfg.VMConfig
	if c.tempPluginConfig {
		data = vm.cfg.PluginConfig
	}
	if !vm.copyToPointerSize(data, arg32(s, 0), arg32(s, 1)) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxySetProperty(s []uint64) uint32 {
	key, ok1 := vm.read(arg32(s, 0), arg32(s, 1))
	value, ok2 := vm.read(arg32(s, 2), arg32(s, 3))
	if !ok1 || !ok2 {
		return status(abi.InvalidMemoryAccess)
	}
	c := vm.contextOrEffective()
	if c.http == nil && c.tcp == nil {
		return status(abi.NotFound) // no stream info on root or VM contexts
	}
	if c.filterState == nil {
		c.filterState = map[string][]byte{}
	}
	c.filterState[string(key)] = append([]byte(nil), value...)
	return status(abi.Ok)
}

func (vm *VM) proxyGetProperty(s []uint64) uint32 {
	path, ok := vm.read(arg32(s, 0), arg32(s, 1))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	value, st := vm.getProperty(vm.contextOrEffective(), string(path))
	if st != abi.Ok {
		return status(st)
	}
	if !vm.copyToPointerSize(value, arg32(s, 2), arg32(s, 3)) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

// --- stream control

func (vm *VM) proxySendLocalResponse(s []uint64) uint32 {
	details, ok1 := vm.read(arg32(s, 1), arg32(s, 2))
	body, ok2 := vm.read(arg32(s, 3), arg32(s, 4))
	hdrs, ok3 := vm.read(arg32(s, 5), arg32(s, 6))
	if !ok1 || !ok2 || !ok3 {
		return status(abi.InvalidMemoryAccess)
	}
	pairs, _ := decodePairs(hdrs)
	c := vm.contextOrEffective()
	if c.http != nil {
		lr := &LocalReply{
			Status:     arg32(s, 0),
			Body:       string(body),
			Details:    strings.Join(strings.Fields(string(details)), "_"),
			GrpcStatus: int32(arg32(s, 7)),
		}
		for _, h := range pairs {
			lr.Headers = append(lr.Headers, Header{Name: lower(h.Name), Value: h.Value})
		}
		st := c.http
		vm.after = append(vm.after, func() { st.sendLocalReply(lr) })
	}
	vm.stopNext = true
	return status(abi.Ok)
}

func (vm *VM) proxyClearRouteCache(s []uint64) uint32 {
	if c := vm.contextOrEffective(); c.http != nil {
		c.http.stream.RouteCacheCleared = true
	}
	return status(abi.Ok)
}

func (vm *VM) proxyContinueStream(s []uint64) uint32 {
	t := arg32(s, 0)
	if t > uint32(abi.StreamUpstream) {
		return status(abi.BadArgument)
	}
	return vm.continueStream(abi.StreamType(t))
}

// continueStream is Envoy's Context::continueStream.
func (vm *VM) continueStream(t abi.StreamType) uint32 {
	c := vm.contextOrEffective()
	switch t {
	case abi.StreamHttpRequest, abi.StreamHttpResponse:
		if h := c.http; h != nil {
			vm.after = append(vm.after, func() { h.resume(t) })
			// Envoy forgets the request maps whichever direction continues.
			h.reqHeadersOn, h.reqBodyOn, h.reqTrailersOn = false, false, false
		}
		return status(abi.Ok)
	case abi.StreamDownstream:
		if tc := c.tcp; tc != nil {
			vm.after = append(vm.after, func() { tc.resume() })
		}
		return status(abi.Ok)
	case abi.StreamUpstream:
		return status(abi.Unimplemented)
	}
	return status(abi.BadArgument)
}

func (vm *VM) proxyCloseStream(s []uint64) uint32 {
	t := arg32(s, 0)
	if t > uint32(abi.StreamUpstream) {
		return status(abi.BadArgument)
	}
	c := vm.contextOrEffective()
	switch abi.StreamType(t) {
	case abi.StreamHttpRequest, abi.StreamHttpResponse:
		if h := c.http; h != nil {
			vm.after = append(vm.after, func() { h.resetStream("wasm_close_stream") })
		}
	case abi.StreamDownstream:
		if tc := c.tcp; tc != nil {
			vm.after = append(vm.after, func() { tc.close("wasm_downstream_close") })
		}
	case abi.StreamUpstream:
		if tc := c.tcp; tc != nil {
			vm.after = append(vm.after, func() { tc.close("wasm_upstream_close") })
		}
	}
	return status(abi.Ok)
}

func (vm *VM) proxySetEffectiveContext(s []uint64) uint32 {
	id := arg32(s, 0)
	if vm.context(id) == nil {
		return status(abi.BadArgument)
	}
	vm.effective = id
	return status(abi.Ok)
}

// proxyDone is WasmBase::done: a root context whose proxy_on_done returned
// false finishes its shutdown.
func (vm *VM) proxyDone(s []uint64) uint32 {
	c := vm.contextOrEffective()
	root := c.root
	if !vm.rootPendingDone || root != vm.rootCtx {
		return status(abi.NotFound)
	}
	vm.rootPendingDone = false
	vm.after = append(vm.after, func() { vm.deleteRoot() })
	return status(abi.Ok)
}

// envoyForeignFunctions are the foreign functions Envoy registers
// (source/extensions/common/wasm/foreign.cc); replay implements compress
// and uncompress, not the CEL, property and filter-state ones.
var envoyForeignFunctions = map[string]bool{
	"compress": true, "uncompress": true, "expr_create": true, "expr_evaluate": true, "expr_delete": true,
	"declare_property": true, "set_envoy_filter_state": true, "clear_route_cache": true,
}

// maxUncompressed bounds what the uncompress foreign function inflates.
const maxUncompressed = 64 << 20

// foreignZlib is Envoy's compress and uncompress (zlib's compress and
// uncompress: the zlib format at the default level). Go's deflate picks
// other matches than zlib's, so compressed bytes can differ from Envoy's;
// they inflate to the same data.
func foreignZlib(name string, args []byte) ([]byte, abi.Status) {
	if name == "compress" {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write(args)
		w.Close()
		return b.Bytes(), abi.Ok
	}
	r, err := zlib.NewReader(bytes.NewReader(args))
	if err != nil {
		return nil, abi.SerializationFailure
	}
	out, err := io.ReadAll(io.LimitReader(r, maxUncompressed+1))
	if err != nil || len(out) > maxUncompressed {
		return nil, abi.SerializationFailure
	}
	return out, abi.Ok
}

// proxyCallForeignFunction is cpp-host's call_foreign_function: the result
// goes into memory the module allocates, its address and size written
// where the plugin asked (either pointer may be 0).
func (vm *VM) proxyCallForeignFunction(s []uint64) uint32 {
	name, ok := vm.read(arg32(s, 0), arg32(s, 1))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	args, ok := vm.read(arg32(s, 2), arg32(s, 3))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	switch n := string(name); n {
	case "compress", "uncompress":
		out, st := foreignZlib(n, args)
		if st != abi.Ok {
			return status(st)
		}
		var addr uint32
		if ptrPtr := arg32(s, 4); ptrPtr != 0 {
			if len(out) > 0 {
				a, ok := vm.allocMemory(uint32(len(out)))
				if !ok || !vm.mem.Write(a, out) {
					return status(abi.InvalidMemoryAccess)
				}
				addr = a
			}
			if !vm.setWord(ptrPtr, addr) {
				return status(abi.InvalidMemoryAccess)
			}
		}
		if sizePtr := arg32(s, 5); sizePtr != 0 && !vm.setWord(sizePtr, uint32(len(out))) {
			return status(abi.InvalidMemoryAccess)
		}
		return status(abi.Ok)
	}
	vm.noteUnimplemented("foreign function " + string(name))
	if envoyForeignFunctions[string(name)] {
		return status(abi.Unimplemented)
	}
	return status(abi.NotFound)
}

// --- shared data and queues

func (vm *VM) proxyGetSharedData(s []uint64) uint32 {
	key, ok := vm.read(arg32(s, 0), arg32(s, 1))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	value, cas, found := vm.shared.get(vm.cfg.VMID, string(key))
	if !found {
		return status(abi.NotFound)
	}
	if !vm.copyToPointerSize(value, arg32(s, 2), arg32(s, 3)) {
		return status(abi.InvalidMemoryAccess)
	}
	if !vm.setWord(arg32(s, 4), cas) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxySetSharedData(s []uint64) uint32 {
	key, ok1 := vm.read(arg32(s, 0), arg32(s, 1))
	value, ok2 := vm.read(arg32(s, 2), arg32(s, 3))
	if !ok1 || !ok2 {
		return status(abi.InvalidMemoryAccess)
	}
	return status(vm.shared.set(vm.cfg.VMID, vm.intern(key), value, arg32(s, 4)))
}

func (vm *VM) proxyRegisterSharedQueue(s []uint64) uint32 {
	name, ok := vm.read(arg32(s, 0), arg32(s, 1))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	c := vm.contextOrEffective()
	owner := c.parentID
	if c.isRoot() || c.kind == kindVM {
		owner = c.id
	}
	token := vm.shared.registerQueue(vm.cfg.VMID, string(name), vm, owner)
	if !vm.setWord(arg32(s, 2), token) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxyResolveSharedQueue(s []uint64) uint32 {
	vmID, ok1 := vm.read(arg32(s, 0), arg32(s, 1))
	name, ok2 := vm.read(arg32(s, 2), arg32(s, 3))
	if !ok1 || !ok2 {
		return status(abi.InvalidMemoryAccess)
	}
	id := string(vmID)
	if id == "" {
		id = vm.cfg.VMID
	}
	token := vm.shared.resolveQueue(id, string(name))
	if token == 0 {
		return status(abi.NotFound)
	}
	if !vm.setWord(arg32(s, 4), token) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxyDequeueSharedQueue(s []uint64) uint32 {
	data, st := vm.shared.dequeue(arg32(s, 0))
	if st != abi.Ok {
		return status(st)
	}
	if !vm.copyToPointerSize(data, arg32(s, 1), arg32(s, 2)) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxyEnqueueSharedQueue(s []uint64) uint32 {
	data, ok := vm.read(arg32(s, 1), arg32(s, 2))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	return status(vm.shared.enqueue(arg32(s, 0), data))
}

// --- header maps

func validMap(t uint32) bool { return t <= uint32(abi.HttpCallResponseTrailers) }

func (vm *VM) proxyGetHeaderMapValue(s []uint64) uint32 {
	t := arg32(s, 0)
	if !validMap(t) {
		return status(abi.BadArgument)
	}
	key, ok := vm.read(arg32(s, 1), arg32(s, 2))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	c := vm.contextOrEffective()
	m, accessLog := vm.constMap(c, abi.MapType(t))
	var value string
	if m == nil {
		if !accessLog {
			return status(abi.BadArgument)
		}
		if vm.mod.info.abi != abi.Version010 {
			return status(abi.NotFound)
		}
	} else if v, found := m.get(lookupKey(abi.MapType(t), key)); found {
		value = v
	} else if vm.mod.info.abi != abi.Version010 {
		return status(abi.NotFound)
	}
	if !vm.copyStringToPointerSize(value, arg32(s, 3), arg32(s, 4)) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) readKeyValue(s []uint64) (key, value string, ok bool) {
	k, ok1 := vm.read(arg32(s, 1), arg32(s, 2))
	v, ok2 := vm.read(arg32(s, 3), arg32(s, 4))
	if !ok1 || !ok2 {
		return "", "", false
	}
	return vm.intern(k), vm.intern(v), true
}

// Interned strings: at most maxInterned, of at most maxInternLen bytes.
const (
	maxInterned  = 4096
	maxInternLen = 64
)

// intern returns b as a string, the same one for the same bytes: the
// header names and values a plugin sets on every request are copied out
// of guest memory once.
func (vm *VM) intern(b []byte) string {
	if len(b) > maxInternLen {
		return string(b)
	}
	if s, ok := vm.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(vm.interned) < maxInterned {
		if vm.interned == nil {
			vm.interned = map[string]string{}
		}
		vm.interned[s] = s
	}
	return s
}

func (vm *VM) proxyAddHeaderMapValue(s []uint64) uint32 {
	t := arg32(s, 0)
	if !validMap(t) {
		return status(abi.BadArgument)
	}
	k, ok1 := vm.read(arg32(s, 1), arg32(s, 2))
	v, ok2 := vm.read(arg32(s, 3), arg32(s, 4))
	if !ok1 || !ok2 {
		return status(abi.InvalidMemoryAccess)
	}
	m := vm.mutableMap(vm.contextOrEffective(), abi.MapType(t))
	if m == nil {
		return status(abi.BadArgument)
	}
	m.own()
	// HeaderMapImpl::insertByKey: a second value of an inline header
	// (content-type, x-forwarded-for, :authority, …) is appended to the
	// first with ','.
	if k = canonicalKey(abi.MapType(t), k); isInline(abi.MapType(t), k) && m.appendInline(k, string(v)) {
		return status(abi.Ok)
	}
	// A map that is reused (the next request's) still holds, past its
	// end, what was added to it last time: the same header again takes
	// those strings, without copying or interning.
	if n := len(m.h); n < cap(m.h) {
		if prev := m.h[: n+1 : n+1][n]; equalFoldASCII(prev.Name, k) && prev.Value == string(v) {
			m.h = m.h[:n+1]
			return status(abi.Ok)
		}
	}
	m.add(vm.intern(k), vm.intern(v))
	return status(abi.Ok)
}

func (vm *VM) proxyReplaceHeaderMapValue(s []uint64) uint32 {
	t := arg32(s, 0)
	if !validMap(t) {
		return status(abi.BadArgument)
	}
	key, value, ok := vm.readKeyValue(s)
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	m := vm.mutableMap(vm.contextOrEffective(), abi.MapType(t))
	if m == nil {
		return status(abi.BadArgument)
	}
	m.replace(string(canonicalKey(abi.MapType(t), []byte(key))), value)
	return status(abi.Ok)
}

func (vm *VM) proxyRemoveHeaderMapValue(s []uint64) uint32 {
	t := arg32(s, 0)
	if !validMap(t) {
		return status(abi.BadArgument)
	}
	key, ok := vm.read(arg32(s, 1), arg32(s, 2))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	m := vm.mutableMap(vm.contextOrEffective(), abi.MapType(t))
	if m == nil {
		return status(abi.BadArgument)
	}
	m.remove(string(canonicalKey(abi.MapType(t), key)))
	return status(abi.Ok)
}

func (vm *VM) proxyGetHeaderMapPairs(s []uint64) uint32 {
	t := arg32(s, 0)
	if !validMap(t) {
		return status(abi.BadArgument)
	}
	m, _ := vm.constMap(vm.contextOrEffective(), abi.MapType(t))
	ptrPtr, sizePtr := arg32(s, 1), arg32(s, 2)
	if m == nil || len(m.h) == 0 {
		if !vm.copyToPointerSize(nil, ptrPtr, sizePtr) {
			return status(abi.InvalidMemoryAccess)
		}
		return status(abi.Ok)
	}
	size := pairsSize(m.h)
	addr, ok := vm.allocMemory(uint32(size))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	buf, ok := vm.read(addr, uint32(size))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	marshalPairs(m.h, buf)
	if !vm.setWord(ptrPtr, addr) || !vm.setWord(sizePtr, uint32(size)) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxySetHeaderMapPairs(s []uint64) uint32 {
	t := arg32(s, 0)
	if !validMap(t) {
		return status(abi.BadArgument)
	}
	data, ok := vm.read(arg32(s, 1), arg32(s, 2))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	pairs, _ := decodePairs(data)
	m := vm.mutableMap(vm.contextOrEffective(), abi.MapType(t))
	if m == nil {
		return status(abi.BadArgument)
	}
	m.setPairs(abi.MapType(t), pairs)
	return status(abi.Ok)
}

func (vm *VM) proxyGetHeaderMapSize(s []uint64) uint32 {
	t := arg32(s, 0)
	if !validMap(t) {
		return status(abi.BadArgument)
	}
	m := vm.mutableMap(vm.contextOrEffective(), abi.MapType(t))
	if m == nil {
		return status(abi.BadArgument)
	}
	if !vm.setWord(arg32(s, 1), uint32(m.byteSize())) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

// --- buffers

func (vm *VM) proxyGetBufferStatus(s []uint64) uint32 {
	t := arg32(s, 0)
	if t > uint32(abi.CallData) {
		return status(abi.BadArgument)
	}
	b := vm.buffer(vm.contextOrEffective(), abi.BufferType(t))
	if b == nil {
		return status(abi.NotFound)
	}
	if !vm.setWord(arg32(s, 1), uint32(len(b.data))) || !vm.setWord(arg32(s, 2), 0) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxyGetBufferBytes(s []uint64) uint32 {
	t := arg32(s, 0)
	if t > uint32(abi.CallData) {
		return status(abi.BadArgument)
	}
	b := vm.buffer(vm.contextOrEffective(), abi.BufferType(t))
	if b == nil {
		return status(abi.NotFound)
	}
	start, length := uint64(arg32(s, 1)), uint64(arg32(s, 2))
	size := uint64(len(b.data))
	if start > size {
		length = 0
	} else if start+length > size {
		length = size - start
	}
	ptrPtr, sizePtr := arg32(s, 3), arg32(s, 4)
	if length == 0 {
		if !vm.setWord(ptrPtr, 0) || !vm.setWord(sizePtr, 0) {
			return status(abi.InvalidMemoryAccess)
		}
		return status(abi.Ok)
	}
	if !vm.copyToPointerSize(b.data[start:start+length], ptrPtr, sizePtr) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxySetBufferBytes(s []uint64) uint32 {
	t := arg32(s, 0)
	if t > uint32(abi.CallData) {
		return status(abi.BadArgument)
	}
	b := vm.buffer(vm.contextOrEffective(), abi.BufferType(t))
	if b == nil {
		return status(abi.NotFound)
	}
	data, ok := vm.read(arg32(s, 3), arg32(s, 4))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	return status(b.copyFrom(uint64(arg32(s, 1)), uint64(arg32(s, 2)), data))
}

// --- timers, time

func (vm *VM) proxySetTickPeriod(s []uint64) uint32 {
	ms := arg32(s, 0)
	vm.setTickPeriod(ms)
	return status(abi.Ok)
}

func (vm *VM) proxyGetCurrentTime(s []uint64) uint32 {
	if !vm.setU64(arg32(s, 0), uint64(vm.clock.Realtime())) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

// --- metrics (ids and rules: cpp-host include/proxy-wasm/wasm.h, Envoy
// Context::defineMetric and friends)

func (vm *VM) proxyDefineMetric(s []uint64) uint32 {
	name, ok := vm.read(arg32(s, 1), arg32(s, 2))
	if !ok {
		return status(abi.InvalidMemoryAccess)
	}
	id, st := vm.metrics.define(arg32(s, 0), string(name))
	if st != abi.Ok {
		return status(st)
	}
	if !vm.setWord(arg32(s, 3), id) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

func (vm *VM) proxyIncrementMetric(s []uint64) uint32 {
	return status(vm.metrics.increment(arg32(s, 0), int64(s[1])))
}

func (vm *VM) proxyRecordMetric(s []uint64) uint32 {
	return status(vm.metrics.record(arg32(s, 0), s[1]))
}

func (vm *VM) proxyGetMetric(s []uint64) uint32 {
	v, st := vm.metrics.get(arg32(s, 0))
	if st != abi.Ok {
		return status(st)
	}
	if !vm.setU64(arg32(s, 1), v) {
		return status(abi.InvalidMemoryAccess)
	}
	return status(abi.Ok)
}

// le is the byte order of every value in guest memory.
var le = binary.LittleEndian
