package replay

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// RunOptions say how to report a replay.
type RunOptions struct {
	// Sink receives the events as they happen; nil for none.
	Sink      func(*tracer.Event)
	Verbosity Verbosity
	// NoRestrictions: see VMConfig.NoRestrictions.
	NoRestrictions bool
	// FailurePolicy overrides the capture's failure_policy (policy.go).
	FailurePolicy FailurePolicy
	// ReloadBackoff is FailReload's interval between reloads; 0 means
	// DefaultReloadBackoff.
	ReloadBackoff time.Duration
	// Timing, when set, receives the wall time of every callback.
	Timing *Timing
	// Upstream and Calls answer from real services instead of the
	// capture (live.go).
	Upstream Upstream
	Calls    CallResponder
	// Stop, once closed, ends Repeat after the iteration in progress, with
	// the report over the iterations made (Ctrl-C in a long run). The
	// context is no use for this: cancelling it stops the callback running
	// as if it had hit its time limit.
	Stop <-chan struct{}
}

// Result is the outcome of a replay: what trapped, what each stream did,
// and the host state at the end.
type Result struct {
	Trapped bool
	Crash   *Crash
	// Failure is why the VM stopped (trap, start or configure failure,
	// load error), nil when it ran clean.
	Failure *Failure
	Streams []*Stream
	Metrics []Metric
	Shared  []SharedEntry
	Notes   []string
	Calls   []CallRecord // calls made outside streams (on_tick, on_configure)
	Ticks   int
	Reloads int // fail_reload: VMs started after a failure
	// FailurePolicy is the policy the replay applied; ReloadStats its
	// counters, when fail_reload acted.
	FailurePolicy FailurePolicy
	ReloadStats   *ReloadStats

	passes, passStreams int // Repeat: passes made, streams per pass
	ABI                 string
	Expected            int // expectations checked
	Failed              int // expectations failed
}

// ExpectationResult is one expectation and whether it held.
type ExpectationResult struct {
	What string `json:"what"`
	OK   bool   `json:"ok"`
	Got  string `json:"got,omitempty"`
}

// defaultSources are the client addresses of streams whose capture gives
// none: 127.0.0.1 with ports 40000 and up, one per stream, reused every 64.
var defaultSources = func() []string {
	out := make([]string, 64)
	for i := range out {
		out[i] = "127.0.0.1:" + strconv.Itoa(40000+i)
	}
	return out
}()

// maxTicks bounds the ticks one replay fires, so a 1 ms tick period over a
// long capture cannot run away.
const maxTicks = 10000

// stallWait is how long (virtual time) a stopped stream waits for a tick to
// resume it before the replay calls it stalled.
const stallWait = 30 * time.Second

// Replay runs every stream of the capture through a fresh VM of m, in order,
// the way Envoy would, and returns what happened. Errors are for the host
// itself failing; a plugin that traps or fails to start is a Result.
func Replay(ctx context.Context, m *Module, c *Capture, ro RunOptions) (*Result, error) {
	r, err := newRunner(ctx, m, c, ro)
	if err != nil {
		return r.res, err
	}
	for i := range c.Streams {
		if _, err := r.runStream(i, &c.Streams[i]); err != nil {
			return r.res, err
		}
	}
	return r.finish(), nil
}

// newRunner prepares the host state of a capture (shared data, queues,
// clock, call answers, failure policy) and starts the VM.
func newRunner(ctx context.Context, m *Module, c *Capture, ro RunOptions) (*runner, error) {
	r := &runner{mod: m, capture: c, ro: ro, ctx: ctx, res: &Result{ABI: m.ABI().String()}}
	r.shared = NewSharedStore()
	for _, kv := range c.Host.SharedData {
		r.shared.Set(c.Plugin.VMID, kv.Key, kv.Value)
	}
	for _, q := range c.Host.Queues {
		for _, it := range q.Items {
			r.shared.Enqueue(c.Plugin.VMID, q.Name, it)
		}
	}
	r.start = c.Host.StartTime
	if r.start.IsZero() {
		r.start = defaultStart
	}
	r.clock = NewClock(r.start, c.Host.ClockStep)
	r.calls = newCaptureCalls(c)
	r.initPolicy()
	return r, r.startVM()
}

// runStream replays stream i of the capture at its time, after the
// failure policy has had its say (fail_reload may start a new VM).
func (r *runner) runStream(i int, cs *CaptureStream) (*Stream, error) {
	if cs.At != nil {
		r.advanceTo(r.start.Add(*cs.At).UnixNano())
	} else {
		r.advanceTo(r.clock.UnixNano() + int64(r.clock.Step))
	}
	verdict, err := r.beforeStream()
	if err != nil {
		return nil, err
	}
	var st *Stream
	if t := r.ro.Timing; t != nil {
		t.beginStream()
	}
	if cs.Kind == "tcp" {
		st = r.runTCP(i, cs)
	} else {
		st = r.runHTTP(i, cs)
	}
	if t := r.ro.Timing; t != nil {
		t.endStream()
	}
	if !r.dropping() {
		st.finishRecord()
	}
	r.afterStream(cs, st, verdict)
	r.checkExpectations(cs, st)
	if r.dropping() {
		r.drop(st)
		return st, nil
	}
	if !r.dropStreams {
		r.res.Streams = append(r.res.Streams, st)
	}
	return st, nil
}

// finish runs the clock to the capture's end, shuts the root context down
// and gathers the result.
func (r *runner) finish() *Result {
	c := r.capture
	if d := c.Host.Duration; d > 0 {
		r.advanceTo(r.start.Add(d).UnixNano())
	}
	r.shutdown()
	vm := r.vm
	r.res.Metrics = mergeMetrics(r.res.Metrics, vm.Metrics())
	r.res.Shared = r.shared.Snapshot(c.Plugin.VMID)
	r.res.Notes = append(r.res.Notes, vm.notes...)
	r.res.Calls = append(r.res.Calls, vm.rootCalls...)
	r.res.Calls = append(r.res.Calls, vm.rootGrpcCalls...)
	r.res.Ticks += vm.ticks
	if r.res.Crash == nil && vm.crash != nil {
		r.res.Crash = vm.crash
	}
	r.res.Trapped = r.res.Crash != nil
	if r.res.Failure == nil {
		r.res.Failure = vm.failure
	}
	return r.res
}

type runner struct {
	mod     *Module
	capture *Capture
	ro      RunOptions
	ctx     context.Context
	res     *Result
	vm      *VM
	clock   *Clock
	shared  *SharedStore
	calls   *captureCalls
	start   time.Time // the capture's start time
	// dropStreams: a Session hands each stream out and keeps none.
	dropStreams bool
	// discard: the passes of Repeat after the first keep no stream that
	// leaves the VM running; the next stream reuses its storage (spare).
	discard bool
	spare   *httpAlloc
	// lowered: see lowerHeaders.
	lowered [2]struct {
		src, out     []Header
		method, path string
		grpc         bool // a gRPC request (isGrpcRequest)
	}

	policy policyState
}

// dropping reports whether the stream that just ran is not kept: its
// record is not finished (no access-log entry) and its storage is reused.
func (r *runner) dropping() bool { return r.discard && !r.vm.failed }

// startVM creates the VM (again, for fail_reload). A module Envoy would
// refuse is reported in the Result, not as an error.
func (r *runner) startVM() error {
	c := r.capture
	if r.vm != nil {
		r.res.Metrics = mergeMetrics(r.res.Metrics, r.vm.Metrics())
		r.res.Notes = append(r.res.Notes, r.vm.notes...)
		r.res.Ticks += r.vm.ticks
		if r.res.Crash == nil {
			r.res.Crash = r.vm.crash
		}
		r.vm.Close(r.ctx)
	}
	cfg := VMConfig{
		PluginName: c.Plugin.Name, RootID: c.Plugin.RootID, VMID: c.Plugin.VMID,
		PluginConfig: c.Plugin.Configuration, VMConfig: c.Plugin.VMConfiguration, Env: c.Plugin.Environment,
		LogLevel: c.Host.LogLevel, AllowOnHeadersStopIteration: c.Plugin.AllowOnHeadersStopIteration,
		Clock: r.clock, RandomSeed: c.Host.RandomSeed, Properties: c.Host.Properties, NoRestrictions: r.ro.NoRestrictions,
		Shared: r.shared, Calls: r.responder(), Sink: r.ro.Sink, Verbosity: r.ro.Verbosity,
	}
	ctx := r.ctx
	if p := r.mod.prof; p != nil {
		ctx = p.context(ctx) // host functions are listened to as well
	}
	vm, err := r.mod.NewVM(ctx, cfg)
	vm.timing = r.ro.Timing
	r.vm = vm
	if err != nil {
		if le, ok := err.(*LoadError); ok {
			f := &Failure{Reason: le.Reason, Message: le.Message, Hint: le.Hint}
			vm.failed = true
			vm.failure = f
			vm.emitFailure(f)
			return nil
		}
		return err
	}
	if vm.failed && vm.crash != nil && vm.rootCtx == nil {
		// A trap in _initialize/_start/main: Envoy cannot start the VM.
		f := &Failure{Reason: "initialize_failed", Message: "Failed to initialize Wasm code",
			Hint: "the module trapped while starting (see the backtrace above)"}
		if h := vm.restricted; h != nil {
			f.Reason = "restricted_callback"
			f.Hint = fmt.Sprintf("%s.%s was called while the VM was starting (%s); only logging, clocks, random and the environment are allowed there: move the call to proxy_on_vm_start or later",
				h.Module, h.Name, vm.crash.Callback)
			if h.Name == "proc_exit" && vm.crash.Callback == "_start" {
				// TinyGo 0.35+ and Go's wasip1 commands exit when main
				// returns; cpp-host's start allow-list has no proc_exit.
				f.Hint = fmt.Sprintf("the module is a WASI command whose _start calls %s.proc_exit when main returns (TinyGo 0.35 and later, Go's GOOS=wasip1 without -buildmode), which Envoy does not allow while the VM starts: build it as a reactor with -buildmode=c-shared (it then exports _initialize; TinyGo 0.36 and later also accept -buildmode=wasi-legacy)",
					h.Module)
			}
		}
		vm.failure = f
		vm.emitFailure(f)
	}
	return nil
}

// advanceTo moves the virtual clock to t, firing the ticks that fall due.
func (r *runner) advanceTo(t int64) {
	vm := r.vm
	for vm.tickPeriod > 0 && vm.nextTick <= t && !vm.failed && vm.ticks < maxTicks {
		r.clock.AdvanceTo(vm.nextTick)
		vm.nextTick += int64(vm.tickPeriod)
		vm.onTick()
	}
	r.clock.AdvanceTo(t)
}

// setTickPeriod is Envoy's timer for proxy_set_tick_period_milliseconds:
// the first tick comes one period from now; 0 stops it.
func (vm *VM) setTickPeriod(ms uint32) {
	vm.tickPeriod = time.Duration(ms) * time.Millisecond
	if ms > 0 {
		vm.nextTick = vm.clock.UnixNano() + int64(vm.tickPeriod)
	}
}

func (vm *VM) onTick() {
	root := vm.rootCtx
	if root == nil || vm.failed || vm.cbs.tick == nil {
		return
	}
	vm.ticks++
	vm.callDeferred(root, vm.cbs.tick, uint64(root.id))
	vm.drainAsync()
}

func (vm *VM) queueReady(context, token uint32) {
	c := vm.context(context)
	if c == nil || vm.failed || vm.cbs.queueReady == nil {
		return
	}
	vm.callDeferred(c, vm.cbs.queueReady, uint64(c.id), uint64(token))
}

// shutdown is WasmBase::startShutdown for the root context: proxy_on_done,
// then proxy_on_delete unless the plugin asked to finish later.
func (r *runner) shutdown() {
	vm := r.vm
	root := vm.rootCtx
	if root == nil || vm.failed {
		return
	}
	done := true
	if cb := vm.cbs.done; cb != nil {
		v, ok := vm.callDeferred(root, cb, uint64(root.id))
		done = !ok || uint32(v) != 0
	}
	vm.drainAsync()
	if vm.failed {
		return
	}
	if !done {
		vm.rootPendingDone = true
		vm.note("proxy_on_done(root) returned false and the plugin never called proxy_done(); Envoy would keep the root context until it does")
		return
	}
	vm.deleteRoot()
}

func (vm *VM) deleteRoot() {
	root := vm.rootCtx
	if root == nil || vm.failed || !root.created {
		return
	}
	if cb := vm.cbs.delete; cb != nil {
		vm.callDeferred(root, cb, uint64(root.id))
	}
	vm.removeContext(root)
}

// streamInfo builds the stream info Envoy would have.
func (r *runner) streamInfo(cs *CaptureStream, idx int) *StreamInfo {
	return r.fillStreamInfo(&StreamInfo{}, cs, idx)
}

func (r *runner) fillStreamInfo(info *StreamInfo, cs *CaptureStream, idx int) *StreamInfo {
	*info = StreamInfo{Source: cs.Connection.Source, Destination: cs.Connection.Destination,
		Protocol: cs.Connection.Protocol, StartTime: r.clock.UnixNano(), ConnectionID: uint64(idx + 1)}
	if info.Source == "" {
		// A client port per stream, as a real client would use.
		info.Source = defaultSources[idx%len(defaultSources)]
	}
	if info.Destination == "" {
		info.Destination = "127.0.0.1:10000"
	}
	if info.Protocol == "" {
		info.Protocol = "HTTP/1.1"
	}
	return info
}

// callFilter runs a stream callback with cpp-host's failure checks
// (CHECK_FAIL) and return-value mapping and returns the effective filter
// status. The caller records what that means for the stream, then calls
// settle.
func (r *runner) callFilter(c *hostContext, st *Stream, cb *callback, kind abi.Result, args ...uint64) uint32 {
	vm := r.vm
	if vm.failed {
		return r.failStream(c, st)
	}
	if cb == nil {
		return 0
	}
	raw, _ := vm.call(c, cb, args...)
	action := uint32(raw)
	switch kind {
	case abi.ResultHeadersAction:
		if vm.stopNext || action > uint32(abi.HeadersStopAllIterationAndWatermark) ||
			action == uint32(abi.HeadersStopIteration) && !vm.cfg.AllowOnHeadersStopIteration {
			action = uint32(abi.HeadersStopAllIterationAndWatermark)
		}
		if action == uint32(abi.HeadersContinueAndEndStream) {
			// cpp-host passes ContinueAndEndStream through; Envoy's
			// convertFilterHeadersStatus has no case for it and its
			// default is Continue (the body still follows).
			action = uint32(abi.HeadersContinue)
		}
	case abi.ResultDataAction:
		if vm.stopNext || action > uint32(abi.DataStopIterationNoBuffer) {
			action = uint32(abi.DataStopIterationNoBuffer)
		}
	case abi.ResultTrailersAction:
		if vm.stopNext || action > uint32(abi.TrailersStopIteration) {
			action = uint32(abi.TrailersStopIteration)
		}
	case abi.ResultNetworkAction:
		if action != 0 {
			action = uint32(abi.NetworkStopIteration)
		}
	}
	if !vm.failed {
		if m := st.mem; m != nil { // texts made when the record is kept (finishRecord)
			m.raw = append(m.raw, rawCallback{name: cb.name, kind: kind, raw: uint32(raw), action: action})
		} else {
			rec := CallbackRecord{Callback: cb.name, Return: uint32(raw), Action: resultMeaning(kind, action)}
			if raw != uint64(action) {
				rec.Returned = resultMeaning(kind, uint32(raw))
			}
			st.Callbacks = append(st.Callbacks, rec)
		}
	}
	if vm.failed {
		st.Trapped = vm.crash != nil
		action = r.failStream(c, st)
	}
	return action
}

// settle finishes a stream callback once the caller has recorded what it
// returned: cpp-host's DeferAfterCallActions (local replies, stream
// continuation), then the events the host delivers after the call (call
// answers, queue notifications).
func (r *runner) settle() {
	vm := r.vm
	vm.stopNext = false
	vm.runAfter()
	vm.drainAsync()
}

// failStream is CHECK_FAIL's failure branch: cpp-host's fail_open_ lets the
// stream through; otherwise the stream is failed once (a local 503 with
// details wasm_fail_stream, or a closed connection) and iteration stops.
// With failure_policy FAIL_OPEN fail_open_ is false, so the stream the VM
// fails in is failed too (policy.go).
func (r *runner) failStream(c *hostContext, st *Stream) uint32 {
	if r.failOpenInCallback() {
		st.FailedOpen = true
		return 0
	}
	if h := c.http; h != nil && !h.failReply {
		h.failReply = true
		h.localReply = &LocalReply{Status: 503, Details: "wasm_fail_stream", GrpcStatus: 14, ByHost: true}
	}
	if t := c.tcp; t != nil {
		t.close("wasm_fail_stream")
	}
	if c.http != nil {
		return uint32(abi.HeadersStopAllIterationAndWatermark)
	}
	return 1
}

// onCreate is ContextBase::onCreate: proxy_on_context_create the first time
// the stream reaches the filter.
func (r *runner) onCreate(c *hostContext) {
	vm := r.vm
	if !vm.failed && !c.created && vm.cbs.contextCreate != nil {
		vm.callDeferred(c, vm.cbs.contextCreate, uint64(c.id), uint64(c.parentID))
		vm.drainAsync()
	}
	c.created = true
}

// destroy is Envoy's onDestroy (HTTP: proxy_on_done, proxy_on_delete) or
// onCloseTCP (proxy_on_done, proxy_on_log, proxy_on_delete).
func (r *runner) destroy(c *hostContext, withLog bool) {
	vm := r.vm
	if c.destroyed || !c.created {
		vm.removeContext(c)
		return
	}
	c.destroyed = true
	if !vm.failed && vm.cbs.done != nil {
		vm.callDeferred(c, vm.cbs.done, uint64(c.id))
		vm.drainAsync()
	}
	if withLog && !vm.failed && vm.cbs.log != nil {
		vm.callDeferred(c, vm.cbs.log, uint64(c.id))
		vm.drainAsync()
	}
	if !vm.failed && vm.cbs.delete != nil {
		vm.callDeferred(c, vm.cbs.delete, uint64(c.id))
		vm.drainAsync()
	}
	vm.removeContext(c)
}

// waitResume gives a stopped stream the chance to be resumed by a tick
// (a plugin that waits for a timer); it reports whether *stopped still is.
func (r *runner) waitResume(stopped *bool) bool {
	vm := r.vm
	if !*stopped || vm.tickPeriod == 0 {
		return *stopped
	}
	deadline := r.clock.UnixNano() + int64(stallWait)
	for *stopped && vm.tickPeriod > 0 && vm.nextTick <= deadline && !vm.failed && vm.ticks < maxTicks {
		r.clock.AdvanceTo(vm.nextTick)
		vm.nextTick += int64(vm.tickPeriod)
		vm.onTick()
	}
	return *stopped
}
