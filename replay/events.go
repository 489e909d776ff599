package replay

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// The VM reports what happens as tracer.Event values (DESIGN.md §3.2), the
// same events package tracer reads from Envoy's logs, so that replay output
// and production logs go through the same tools. Render turns them into
// Envoy's log lines.

// eventThread is the thread id printed for every event.
const eventThread = "1"

func (vm *VM) newEvent(kind tracer.Kind, level string) *tracer.Event {
	return &tracer.Event{Kind: kind, Time: formatTime(vm.clock.UnixNano()), Thread: eventThread, Level: level}
}

// formatTime renders Unix nanoseconds as RFC 3339 with milliseconds, the
// precision of Envoy's default log format.
func formatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// levelName is spdlog's name for a Proxy-Wasm log level, as Envoy prints it.
func levelName(l abi.LogLevel) string {
	switch l {
	case abi.LogTrace:
		return "trace"
	case abi.LogDebug:
		return "debug"
	case abi.LogInfo:
		return "info"
	case abi.LogWarn:
		return "warning"
	case abi.LogError:
		return "error"
	}
	return "critical"
}

// v8Number renders an argument as V8's trace does: i32 and i64 as unsigned
// decimals, floats with six decimals (reference §1.3).
func v8Number(t abi.ValType, v uint64) tracer.Number {
	switch t {
	case abi.I32:
		return tracer.Number(strconv.FormatUint(uint64(uint32(v)), 10))
	case abi.F32:
		return tracer.Number(strconv.FormatFloat(float64(math.Float32frombits(uint32(v))), 'f', 6, 32))
	case abi.F64:
		return tracer.Number(strconv.FormatFloat(math.Float64frombits(v), 'f', 6, 64))
	}
	return tracer.Number(strconv.FormatUint(v, 10))
}

func (vm *VM) emitCallback(cb *callback, args []uint64) {
	ev := vm.newEvent(tracer.KindCall, "trace")
	ev.Direction = tracer.HostToVM
	ev.Function = cb.name
	var params []abi.Param
	if cb.sig != nil {
		params = cb.sig.Params
	}
	for i, a := range args {
		t := abi.I32
		if i < len(params) {
			t = params[i].Type
		}
		ev.Args = append(ev.Args, v8Number(t, a))
	}
	for i, p := range params {
		if i >= len(args) {
			break
		}
		if p.Kind == abi.KindContextID && i == 0 {
			id := uint32(args[i])
			ev.ContextID = &id
		}
		ev.Decoded = append(ev.Decoded, tracer.Arg{Name: p.Name, Value: decodeNumber(p.Kind, args[i])})
	}
	vm.sink(ev)
}

func (vm *VM) emitCallbackReturn(cb *callback, r uint64) {
	ev := vm.newEvent(tracer.KindCall, "trace")
	ev.Direction = tracer.HostFromVM
	ev.Function = cb.name
	if cb.sig == nil || cb.sig.Result == abi.ResultVoid {
		ev.Return = numberPtr("void")
	} else {
		ev.Return = numberPtr(tracer.Number(strconv.FormatUint(r, 10)))
		ev.Action = resultMeaning(cb.sig.Result, uint32(r))
	}
	vm.sink(ev)
}

func numberPtr(n tracer.Number) *tracer.Number { return &n }

// resultMeaning names a callback's return value.
func resultMeaning(r abi.Result, v uint32) string {
	switch r {
	case abi.ResultHeadersAction:
		return abi.HeadersAction(v).String()
	case abi.ResultDataAction:
		return abi.DataAction(v).String()
	case abi.ResultTrailersAction:
		return abi.TrailersAction(v).String()
	case abi.ResultNetworkAction:
		return abi.NetworkAction(v).String()
	case abi.ResultBool:
		if v == 0 {
			return "false"
		}
		return "true"
	}
	return ""
}

// decodeNumber gives a numeric argument its meaning.
func decodeNumber(k abi.Kind, v uint64) string {
	u := uint32(v)
	switch k {
	case abi.KindMapType:
		return abi.MapType(u).String()
	case abi.KindBufferType:
		return abi.BufferType(u).String()
	case abi.KindStreamType:
		return abi.StreamType(u).String()
	case abi.KindLogLevel:
		return abi.LogLevel(u).String()
	case abi.KindMetricType:
		return abi.MetricType(u).String()
	case abi.KindPeerType:
		return abi.PeerType(u).String()
	case abi.KindBool:
		if u == 0 {
			return "false"
		}
		return "true"
	case abi.KindGrpcStatus:
		return abi.GrpcStatus(int32(u)).String()
	case abi.KindSigned:
		return strconv.FormatInt(int64(v), 10)
	case abi.KindClockID:
		switch u {
		case 0:
			return "realtime"
		case 1:
			return "monotonic"
		}
	}
	return strconv.FormatUint(uint64(u), 10)
}

// maxDecoded is how many bytes of a string argument a decoded form shows.
const maxDecoded = 256

// quoteBytes renders guest bytes as a Go-quoted string, cut at maxDecoded.
func quoteBytes(b []byte) string {
	if len(b) <= maxDecoded {
		return strconv.Quote(string(b))
	}
	cut := maxDecoded
	for cut > maxDecoded-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strconv.Quote(string(b[:cut])) + "…(" + strconv.Itoa(len(b)) + " bytes)"
}

// decodeHostArgs reads a host call's arguments from guest memory: the
// pointer+size pairs as strings or header maps, the enums by name; out
// pointers and sizes are left out.
func (vm *VM) decodeHostArgs(f *abi.HostFunc, s []uint64) []tracer.Arg {
	var out []tracer.Arg
	for i, p := range f.Params {
		if p.Kind == abi.KindSize || p.Kind == abi.KindOutPtr {
			continue
		}
		v := s[i]
		var val string
		switch p.Kind {
		case abi.KindString, abi.KindBytes, abi.KindPairs:
			size := uint32(0)
			if i+1 < len(s) {
				size = uint32(s[i+1])
			}
			b, ok := vm.read(uint32(v), size)
			switch {
			case !ok:
				val = "<invalid memory 0x" + strconv.FormatUint(uint64(uint32(v)), 16) + "+" + strconv.FormatUint(uint64(size), 10) + ">"
			case p.Kind == abi.KindPairs:
				val = decodePairsText(b)
			default:
				val = quoteBytes(b)
			}
		default:
			val = decodeNumber(p.Kind, v)
		}
		out = append(out, tracer.Arg{Name: p.Name, Value: val})
	}
	return out
}

// decodePairsText renders a serialized header map: {":path": "/", "a": "b"}.
func decodePairsText(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	hs, ok := decodePairs(b)
	if !ok {
		return "<malformed map " + strconv.Itoa(len(b)) + " bytes>"
	}
	var sb strings.Builder
	sb.WriteByte('{')
	for i, h := range hs {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(quoteBytes([]byte(h.Name)))
		sb.WriteString(": ")
		sb.WriteString(quoteBytes([]byte(h.Value)))
	}
	sb.WriteByte('}')
	return sb.String()
}

func (vm *VM) emitHostCall(f *abi.HostFunc, s []uint64) {
	ev := vm.newEvent(tracer.KindCall, "trace")
	ev.Direction = tracer.VMToHost
	ev.Function = f.Module + "." + f.Name
	for i, p := range f.Params {
		ev.Args = append(ev.Args, v8Number(p.Type, s[i]))
	}
	ev.Decoded = vm.decodeHostArgs(f, s)
	if c := vm.contextOrEffective(); c != nil {
		id := c.id
		ev.ContextID = &id
	}
	vm.sink(ev)
}

func (vm *VM) emitHostReturn(f *abi.HostFunc, r uint32, void bool) {
	ev := vm.newEvent(tracer.KindCall, "trace")
	ev.Direction = tracer.VMFromHost
	ev.Function = f.Module + "." + f.Name
	if void {
		ev.Return = numberPtr("void")
	} else {
		ev.Return = numberPtr(tracer.Number(strconv.FormatUint(uint64(r), 10)))
		switch f.Result {
		case abi.ResultStatus:
			ev.Status = abi.Status(r).String()
		case abi.ResultErrno:
			ev.Status = abi.Errno(r).String()
		}
	}
	vm.sink(ev)
}

// logPrefix is Envoy's log_prefix() for a context (reference §2.3).
func (vm *VM) logPrefix(c *hostContext) string {
	var parts []string
	switch c.kind {
	case kindVM:
		return ""
	case kindRoot:
		parts = []string{vm.cfg.RootID, vm.cfg.VMID}
	default:
		parts = []string{vm.cfg.PluginName, vm.cfg.RootID, vm.cfg.VMID}
	}
	var b strings.Builder
	for _, p := range parts {
		if p != "" {
			b.WriteByte(' ')
			b.WriteString(p)
		}
	}
	return b.String()
}

// pluginLog is Envoy's Context::log: a "wasm log<prefix>: <msg>" record at
// the message's level, dropped below the wasm logger's level.
func (vm *VM) pluginLog(c *hostContext, level abi.LogLevel, msg []byte) {
	if level >= abi.LogError && !vm.fromStderr {
		vm.keepPanicText(msg)
		vm.keepPanicText([]byte{'\n'})
	}
	if s := vm.activeStream; s != nil {
		s.Logs++
	}
	if level < vm.cfg.LogLevel || !vm.emitLogs {
		return
	}
	ev := vm.newEvent(tracer.KindPluginLog, levelName(level))
	ev.Plugin = strings.TrimPrefix(vm.logPrefix(c), " ")
	ev.Message = string(msg)
	id := c.id
	ev.ContextID = &id
	vm.sink(ev)
}

// maxPanicText bounds what a crash keeps of the plugin's last words.
const maxPanicText = 16 << 10

// keepPanicText collects what the plugin writes to stdout or stderr or
// logs at error and above during a callback: its own account of a crash
// (Go's traceback, TinyGo's panic, Rust's panic message).
func (vm *VM) keepPanicText(b []byte) {
	if room := maxPanicText - len(vm.panicText); room > 0 {
		vm.panicText = append(vm.panicText, b[:min(len(b), room)]...)
	}
}

// hostError is Envoy's Context::error: a trace-level line on the wasm
// logger (proc_exit, fd_seek and fd_close report themselves this way).
func (vm *VM) hostError(msg string) {
	if !vm.emitLogs || vm.cfg.LogLevel > abi.LogTrace {
		return
	}
	ev := vm.newEvent(tracer.KindOther, "trace")
	ev.Message = msg
	vm.sink(ev)
}

func (vm *VM) emitCrash(c *Crash) {
	if vm.sink == nil {
		return
	}
	ev := vm.newEvent(tracer.KindCrash, "error")
	ev.Callback = c.Callback
	ev.Message = c.Message
	ev.Runtime = c.Runtime
	ev.Frames = c.TracerFrames()
	ev.PanicText = c.PanicText
	vm.sink(ev)
}

func (vm *VM) emitFailure(f *Failure) {
	if vm.sink == nil {
		return
	}
	ev := vm.newEvent(tracer.KindVMFailure, "error")
	ev.Reason = f.Reason
	ev.Message = f.Message
	ev.Hint = f.Hint
	vm.sink(ev)
}

// note records something the replay had to decide that Envoy would not
// print (an unknown cluster, a call the capture does not answer); notes go
// into the summary, once each.
func (vm *VM) note(msg string) {
	for _, n := range vm.notes {
		if n == msg {
			return
		}
	}
	vm.notes = append(vm.notes, msg)
}

func (vm *VM) noteUnimplemented(what string) {
	vm.note(what + " is not implemented by the replay host (Envoy may provide it); the plugin got an error status")
}

// Notes returns what the replay had to decide on its own, in order.
func (vm *VM) Notes() []string { return vm.notes }
