package replay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// VMConfig is everything a VM needs besides the module: the plugin's
// identity and configuration and the host facts a replay fixes.
type VMConfig struct {
	PluginName string
	RootID     string
	VMID       string

	PluginConfig []byte
	VMConfig     []byte
	// Env is the VM's environment_variables (WASI environ_get).
	Env map[string]string

	// LogLevel is the wasm logger's level as proxy_get_log_level reports
	// it; plugin logs below it are dropped, as Envoy would.
	LogLevel abi.LogLevel
	// NoRestrictions turns off cpp-host's allow-lists for host calls made
	// while the VM starts and from inside the allocator (added by
	// proxy-wasm-cpp-host #306, 2022): a host that predates them, or a way
	// past a module the allow-lists stop, to see what it does next.
	NoRestrictions bool
	// AllowOnHeadersStopIteration is Envoy's allow_on_headers_stop_iteration
	// knob: without it StopIteration from a headers callback becomes
	// StopAllIterationAndWatermark.
	AllowOnHeadersStopIteration bool

	// Clock is the virtual clock; nil means a clock starting at the Unix
	// epoch with 1 ms steps.
	Clock *Clock
	// RandomSeed seeds random_get.
	RandomSeed uint64
	// Properties answers proxy_get_property before the standard attributes.
	Properties *PropertyTree
	// Shared is the shared data and queues, possibly shared with other VMs;
	// nil means a fresh store.
	Shared *SharedStore
	// Calls answers the plugin's http_call and gRPC calls.
	Calls CallResponder

	// Sink receives the events; nil emits nothing (the fastest setting).
	Sink func(*tracer.Event)
	// Verbosity chooses which events reach Sink.
	Verbosity Verbosity
}

// Verbosity says which events a VM emits.
type Verbosity int

const (
	// Callbacks emits host->vm calls (callbacks, without the allocator),
	// plugin logs, crashes and VM failures: what a person reads first.
	Callbacks Verbosity = iota
	// Trace adds every host function call and the allocator calls: the
	// whole wasm:trace stream, as Envoy prints it at trace level.
	Trace
	// Quiet emits only plugin logs, crashes and VM failures.
	Quiet
	// Crashes emits only crashes and VM failures (the passes of Repeat
	// after the first): nothing else is built.
	Crashes
)

// ctxKind is the kind of a host context.
type ctxKind uint8

const (
	kindVM ctxKind = iota
	kindRoot
	kindHTTP
	kindTCP
)

// hostContext is cpp-host's ContextBase plus Envoy's Context state.
type hostContext struct {
	id       uint32
	parentID uint32
	kind     ctxKind
	root     *hostContext
	created  bool // in_vm_context_created_
	// destroyed is set once proxy_on_done ran.
	destroyed bool

	// root context
	tempPluginConfig bool          // plugin configuration readable (on_configure)
	callResponse     *callResponse // during proxy_on_http_call_response
	grpcInitial      *headerMap
	grpcTrailing     *headerMap
	grpcMessage      []byte
	hasGrpcMessage   bool
	statusCode       uint32
	statusMessage    string
	callData         []byte // CallData buffer (foreign function arguments)

	http *httpStream
	tcp  *tcpStream

	filterState map[string][]byte // set_property values (Envoy filter state "wasm.<path>")
}

// isRoot reports whether c is a root (plugin) context.
func (c *hostContext) isRoot() bool { return c.kind == kindRoot }

// VM is one instance of a plugin: its linear memory, contexts and host
// state. It is not safe for concurrent use.
type VM struct {
	mod  *Module
	cfg  VMConfig
	inst api.Module
	mem  api.Memory

	ctx     context.Context // the context of the running top-level call
	baseCtx context.Context
	depth   int

	// deadline is when the running top-level call passes the time limit,
	// set by its first fuel check (hasDeadline false until then).
	deadline    time.Time
	hasDeadline bool
	// wazeroLimit: the time limit is wazero's (a module compiled without
	// fuel checks), a context deadline per top-level call.
	wazeroLimit bool

	// contexts are the live contexts by id, in two places: the most
	// recent stream context in slot (a request's context is created and
	// destroyed without touching the map), the others in contexts. Look
	// them up with context(id).
	contexts      map[uint32]*hostContext
	slot          *hostContext
	nextContextID uint32
	idsWrapped    bool // nextContextID went past 2^32-1: ids may be in use
	vmCtx         *hostContext
	rootCtx       *hostContext
	current       *hostContext
	effective     uint32

	// restrict is non-zero while _initialize/_start/main or the allocator
	// runs; then only an allow-list of host functions may be called.
	restrict restriction

	failed           bool
	failure          *Failure
	crash            *Crash
	restricted       *abi.HostFunc // the host function a restricted_callback trap denied
	restrictedDuring restriction   // what was running then
	stopNext         bool          // stopNextIteration: a local response was sent
	after            []func()
	async            []func() // events the host delivers after the current call (call responses, queue ready)

	clock  *Clock
	random *rand.ChaCha8

	shared  *SharedStore
	metrics *metrics
	calls   CallResponder

	tickPeriod time.Duration
	nextTick   int64
	ticks      int

	// cbs are the callbacks the module exports, resolved once.
	cbs callbacks

	// logs since the current top-level callback began, for a crash's
	// panic text.
	panicText  []byte
	fromStderr bool // pluginLog is logging an fd_write

	emitCalls bool // host->vm events
	emitHost  bool // vm->host events and allocator calls
	emitLogs  bool // plugin logs and host messages
	sink      func(*tracer.Event)

	activeStream  *Stream // the stream whose event is being processed
	nextCallID    [3]uint32
	grpcOpen      map[uint32]grpcClosed // Envoy's grpc_call_request_ and grpc_stream_
	rootCalls     []CallRecord
	rootGrpcCalls []CallRecord

	rootPendingDone bool
	notes           []string

	timing *Timing // RunOptions.Timing

	interned map[string]string // intern
}

type restriction uint8

const (
	restrictNone restriction = iota
	restrictStart
	restrictMalloc
)

// callback is an export resolved once, called with a reused stack.
type callback struct {
	name  string
	fn    api.Function
	sig   *abi.Callback
	stack []uint64
	busy  bool
	void  bool // sig says it returns nothing
}

type callbacks struct {
	initialize, start, main, mainVoid, malloc                         *callback
	contextCreate, vmStart, configure, validateConfiguration, tick    *callback
	done, log, delete                                                 *callback
	newConnection, downstreamData, upstreamData                       *callback
	downstreamClose, upstreamClose                                    *callback
	requestHeaders, requestBody, requestTrailers                      *callback
	responseHeaders, responseBody, responseTrailers                   *callback
	httpCallResponse, queueReady, foreignFunction                     *callback
	grpcInitialMetadata, grpcTrailingMetadata, grpcReceive, grpcClose *callback
}

// NewVM instantiates the module and runs cpp-host's start sequence:
// _initialize then main/__main_void (or _start) on the VM context with the
// start-up allow-list, then the root context's proxy_on_context_create,
// proxy_on_vm_start and proxy_on_configure. A VM whose start fails is
// returned with its Failure set, so the caller can report what happened.
func (m *Module) NewVM(ctx context.Context, cfg VMConfig) (*VM, error) {
	vm := &VM{
		mod:      m,
		cfg:      cfg,
		baseCtx:  ctx,
		contexts: map[uint32]*hostContext{},
		clock:    cfg.Clock,
		shared:   cfg.Shared,
		calls:    cfg.Calls,
		metrics:  newMetrics(),
		sink:     cfg.Sink,
		grpcOpen: map[uint32]grpcClosed{},
	}
	vm.wazeroLimit = m.fuel == nil && m.opts.Timeout > 0
	if vm.clock == nil {
		vm.clock = NewClock(time.Unix(0, 0).UTC(), time.Millisecond)
	}
	if vm.shared == nil {
		vm.shared = NewSharedStore()
	}
	if vm.calls == nil {
		vm.calls = noCalls{}
	}
	var seed [32]byte
	for i := 0; i < 8; i++ {
		seed[i] = byte(cfg.RandomSeed >> (8 * i))
	}
	vm.random = rand.NewChaCha8(seed)
	if vm.sink != nil {
		vm.emitCalls = cfg.Verbosity == Callbacks || cfg.Verbosity == Trace
		vm.emitHost = cfg.Verbosity == Trace
		vm.emitLogs = cfg.Verbosity != Crashes
	}
	vm.vmCtx = &hostContext{id: 0, kind: kindVM, created: true}
	vm.vmCtx.root = vm.vmCtx
	vm.contexts[0] = vm.vmCtx
	vm.nextContextID = 1
	vm.current = vm.vmCtx

	if err := vm.instantiate(ctx); err != nil {
		return vm, err
	}
	vm.start()
	return vm, nil
}

// instantiate builds the host modules for this VM and instantiates the
// guest against them.
func (vm *VM) instantiate(ctx context.Context) error {
	m := vm.mod
	env, err := vm.buildHostModule(ctx, "env")
	if err != nil {
		return fmt.Errorf("build host module env: %w", err)
	}
	wasiP1, err := vm.buildHostModule(ctx, abi.WASIPreview1)
	if err != nil {
		return fmt.Errorf("build host module %s: %w", abi.WASIPreview1, err)
	}
	wasiUnstable, err := vm.buildHostModule(ctx, abi.WASIUnstable)
	if err != nil {
		return fmt.Errorf("build host module %s: %w", abi.WASIUnstable, err)
	}
	var fuel api.Module
	if m.fuel != nil {
		if fuel, err = vm.buildFuelModule(ctx); err != nil {
			return fmt.Errorf("build host module %s: %w", fuelModule, err)
		}
	}
	resolve := func(name string) api.Module {
		switch name {
		case "env":
			return env
		case abi.WASIPreview1:
			return wasiP1
		case abi.WASIUnstable:
			return wasiUnstable
		case fuelModule:
			return fuel
		}
		return nil
	}
	ictx := experimental.WithImportResolver(ctx, resolve)
	// The module's start section (AssemblyScript) runs here, before the
	// host starts the VM, as it does in V8's link step.
	inst, err := m.rt.InstantiateModule(ictx, m.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		vm.failed = true
		msg := err.Error()
		if c := vm.crashFromError("start", err); c != nil {
			vm.crash = c
			return &LoadError{Reason: "start_failed", Message: c.V8Message(), Hint: "the module's start section trapped"}
		}
		return &LoadError{Reason: "load_failed", Message: "Failed to create new Wasm instance: " + msg,
			Hint: "wazero could not instantiate the module (memory or table limits, a data segment out of range)"}
	}
	vm.inst = inst
	vm.mem = inst.Memory()
	if vm.mem == nil {
		vm.mem = inst.ExportedMemory("memory")
	}
	vm.resolveCallbacks()
	return nil
}

func (vm *VM) resolveCallbacks() {
	get := func(name string) *callback {
		if _, ok := vm.mod.info.exports[name]; !ok {
			return nil
		}
		fn := vm.inst.ExportedFunction(name)
		if fn == nil {
			return nil
		}
		sig := abi.LookupCallback(name, vm.mod.info.abi)
		n := len(fn.Definition().ParamTypes())
		if r := len(fn.Definition().ResultTypes()); r > n {
			n = r
		}
		return &callback{name: name, fn: fn, sig: sig, stack: make([]uint64, n), void: sig != nil && sig.Result == abi.ResultVoid}
	}
	c := &vm.cbs
	c.initialize = get("_initialize")
	if c.initialize != nil {
		c.main = get("main")
		c.mainVoid = get("__main_void")
	} else {
		c.start = get("_start")
	}
	c.malloc = get("malloc")
	if c.malloc == nil {
		c.malloc = get("proxy_on_memory_allocate")
	}
	c.contextCreate = get("proxy_on_context_create")
	c.vmStart = get("proxy_on_vm_start")
	c.configure = get("proxy_on_configure")
	c.validateConfiguration = get("proxy_validate_configuration")
	c.tick = get("proxy_on_tick")
	c.done = get("proxy_on_done")
	c.log = get("proxy_on_log")
	c.delete = get("proxy_on_delete")
	c.newConnection = get("proxy_on_new_connection")
	c.downstreamData = get("proxy_on_downstream_data")
	c.upstreamData = get("proxy_on_upstream_data")
	c.downstreamClose = get("proxy_on_downstream_connection_close")
	c.upstreamClose = get("proxy_on_upstream_connection_close")
	c.requestHeaders = get("proxy_on_request_headers")
	c.requestBody = get("proxy_on_request_body")
	c.requestTrailers = get("proxy_on_request_trailers")
	c.responseHeaders = get("proxy_on_response_headers")
	c.responseBody = get("proxy_on_response_body")
	c.responseTrailers = get("proxy_on_response_trailers")
	c.httpCallResponse = get("proxy_on_http_call_response")
	c.queueReady = get("proxy_on_queue_ready")
	if vm.mod.info.abi != abi.Version010 {
		c.foreignFunction = get("proxy_on_foreign_function")
	}
	c.grpcInitialMetadata = get("proxy_on_grpc_receive_initial_metadata")
	c.grpcTrailingMetadata = get("proxy_on_grpc_receive_trailing_metadata")
	c.grpcReceive = get("proxy_on_grpc_receive")
	c.grpcClose = get("proxy_on_grpc_close")
}

// start runs cpp-host's WasmBase::startVm and then the plugin's root context
// start (ContextBase::onStart, onConfigure).
func (vm *VM) start() {
	if !vm.cfg.NoRestrictions {
		vm.restrict = restrictStart
	}
	if c := vm.cbs.initialize; c != nil {
		vm.call(vm.vmCtx, c)
		if !vm.failed {
			if vm.cbs.main != nil {
				vm.call(vm.vmCtx, vm.cbs.main, 0, 0)
			} else if vm.cbs.mainVoid != nil {
				vm.call(vm.vmCtx, vm.cbs.mainVoid)
			}
		}
	} else if c := vm.cbs.start; c != nil {
		vm.call(vm.vmCtx, c)
	}
	vm.restrict = restrictNone
	if vm.failed {
		return
	}

	root := vm.newContext(kindRoot, 0)
	vm.rootCtx = root
	// ContextBase::onStart: on_context_create(root, 0), then on_vm_start.
	// The plugin's configuration is readable in on_context_create
	// (onStart sets temp_plugin_ around it), not in on_vm_start.
	if c := vm.cbs.contextCreate; c != nil {
		root.tempPluginConfig = true
		vm.callDeferred(root, c, uint64(root.id), 0)
		root.tempPluginConfig = false
	}
	root.created = true
	if vm.failed {
		return
	}
	if c := vm.cbs.vmStart; c != nil {
		r, _ := vm.callDeferred(root, c, uint64(root.id), uint64(len(vm.cfg.VMConfig)))
		if vm.failed {
			return
		}
		if uint32(r) == 0 {
			vm.fail(&Failure{Reason: "start_failed", Message: "Failed to start base Wasm",
				Hint: "proxy_on_vm_start returned false; the plugin rejected its VM configuration (see its logs above)"})
			return
		}
	}
	if c := vm.cbs.configure; c != nil {
		root.tempPluginConfig = true
		r, _ := vm.callDeferred(root, c, uint64(root.id), uint64(len(vm.cfg.PluginConfig)))
		root.tempPluginConfig = false
		if vm.failed {
			return
		}
		if uint32(r) == 0 {
			vm.fail(&Failure{Reason: "configure_failed", Message: "Failed to configure base Wasm plugin",
				Hint: "proxy_on_configure returned false; the plugin rejected its configuration (see its logs above)"})
		}
	}
}

// Failure is why a VM stopped working.
type Failure struct {
	Reason  string // vm_failure reason (DESIGN.md §3.2), or "trapped"
	Message string
	Hint    string
}

// Failed reports whether the VM has failed (trap, start or configure
// failure, time limit).
func (vm *VM) Failed() bool { return vm.failed }

// Failure says why the VM failed, or nil.
func (vm *VM) Failure() *Failure { return vm.failure }

// Crash returns the trap that failed the VM, or nil.
func (vm *VM) Crash() *Crash { return vm.crash }

func (vm *VM) fail(f *Failure) {
	vm.failed = true
	vm.failure = f
	vm.emitFailure(f)
}

// Close releases the instance.
func (vm *VM) Close(ctx context.Context) error {
	if vm.inst == nil {
		return nil
	}
	return vm.inst.Close(ctx)
}

// newContext allocates a context id as cpp-host does (next_context_id_,
// never reused) and registers the context.
func (vm *VM) newContext(kind ctxKind, parent uint32) *hostContext {
	return vm.newContextIn(&hostContext{}, kind, parent)
}

// newContextIn is newContext with the context's storage given.
func (vm *VM) newContextIn(c *hostContext, kind ctxKind, parent uint32) *hostContext {
	id := vm.nextContextID
	// Ids at or past nextContextID are free until the counter wraps.
	for id == 0 || vm.idsWrapped && vm.context(id) != nil {
		id++
	}
	vm.nextContextID = id + 1
	if vm.nextContextID == 0 {
		vm.idsWrapped = true
	}
	*c = hostContext{id: id, parentID: parent, kind: kind}
	if kind == kindRoot {
		c.root = c
	} else if r := vm.rootCtx; r != nil && r.id == parent {
		c.root = r
	} else if p := vm.context(parent); p != nil {
		c.root = p.root
	} else {
		c.root = c
	}
	if kind != kindRoot && vm.slot == nil {
		vm.slot = c
	} else {
		vm.contexts[id] = c
	}
	return c
}

// context returns the live context with the id, or nil.
func (vm *VM) context(id uint32) *hostContext {
	if c := vm.slot; c != nil && c.id == id {
		return c
	}
	return vm.contexts[id]
}

func (vm *VM) removeContext(c *hostContext) {
	if c == vm.slot {
		vm.slot = nil
	} else if c.id != 0 {
		delete(vm.contexts, c.id)
	}
}

// contextOrEffective is cpp-host's contextOrEffectiveContext().
func (vm *VM) contextOrEffective() *hostContext {
	if vm.effective != 0 {
		if c := vm.context(vm.effective); c != nil {
			return c
		}
	}
	return vm.current
}

// call invokes a callback on context c, as cpp-host's WasmCall wrappers do:
// the context becomes current (effective context reset), the call is traced,
// and a trap fails the VM. It returns the result (0 for void) and whether
// the call completed.
func (vm *VM) call(c *hostContext, cb *callback, args ...uint64) (uint64, bool) {
	if vm.failed {
		return 0, false
	}
	// No defers: wazero recovers whatever panics below CallWithStack (a
	// trap, a host function's hostTrap) and returns it as an error.
	savedCtx, savedEff := vm.current, vm.effective
	vm.current, vm.effective = c, 0

	stack := cb.stack
	if cb.busy { // re-entered (an allocator call from inside the allocator)
		stack = make([]uint64, len(cb.stack))
	}
	cb.busy = true
	for i, a := range args {
		stack[i] = a
	}

	traced := vm.emitCalls && (vm.emitHost || cb != vm.cbs.malloc)
	if traced {
		vm.emitCallback(cb, args)
	}
	var err error
	switch {
	case vm.depth > 0: // the allocator, called by a host function
		vm.depth++
		err = cb.fn.CallWithStack(vm.ctx, stack)
		vm.depth--
	case vm.timing != nil || vm.wazeroLimit:
		err = vm.callTop(cb, stack)
	default: // callTop's work, inlined for the usual case
		vm.clock.now += int64(vm.clock.Step)
		vm.panicText = vm.panicText[:0]
		vm.ctx = vm.baseCtx
		vm.hasDeadline = false
		vm.depth = 1
		err = cb.fn.CallWithStack(vm.baseCtx, stack)
		vm.depth = 0
	}
	cb.busy = false
	vm.current, vm.effective = savedCtx, savedEff
	if err != nil {
		vm.trap(cb.name, err)
		return 0, false
	}
	var r uint64
	if !cb.void {
		r = uint64(uint32(stack[0]))
	}
	if traced {
		vm.emitCallbackReturn(cb, r)
	}
	return r, true
}

// callTop makes a call from the host into the module (not one from inside
// a host function): the virtual clock moves a step, the panic text starts
// afresh, and the time limit applies.
func (vm *VM) callTop(cb *callback, stack []uint64) error {
	vm.clock.Advance(vm.clock.Step)
	vm.panicText = vm.panicText[:0]
	ctx := vm.baseCtx
	var cancel context.CancelFunc
	if vm.mod.fuel == nil && vm.mod.opts.Timeout > 0 { // wazero's termination checks
		ctx, cancel = context.WithTimeout(ctx, vm.mod.opts.Timeout)
	}
	vm.ctx = ctx
	vm.hasDeadline = false
	vm.depth++
	var t0 time.Time
	if vm.timing != nil {
		t0 = time.Now()
	}
	err := cb.fn.CallWithStack(ctx, stack)
	if vm.timing != nil {
		vm.timing.add(cb.name, time.Since(t0))
	}
	vm.depth--
	if cancel != nil {
		timedOut := ctx.Err() != nil
		cancel()
		if err != nil && timedOut {
			err = &timeoutError{limit: vm.mod.opts.Timeout, err: err}
		}
	}
	return err
}

// callDeferred is call followed by cpp-host's DeferAfterCallActions: the
// stop-iteration flag is cleared and the deferred actions (local replies,
// stream continuation) run.
func (vm *VM) callDeferred(c *hostContext, cb *callback, args ...uint64) (uint64, bool) {
	r, ok := vm.call(c, cb, args...)
	vm.stopNext = false
	vm.runAfter()
	return r, ok
}

// runAfter runs the actions deferred to after the current call.
func (vm *VM) runAfter() {
	if len(vm.after) > 0 {
		vm.runAfterAll()
	}
}

func (vm *VM) runAfterAll() {
	for len(vm.after) > 0 {
		f := vm.after[0]
		vm.after = vm.after[1:]
		f()
	}
	vm.after = vm.after[:0]
}

// drainAsync delivers the events the host queued for after the current call
// (http_call and gRPC answers, queue-ready notifications), in order.
func (vm *VM) drainAsync() {
	if len(vm.async) > 0 {
		vm.drainAsyncAll()
	}
}

func (vm *VM) drainAsyncAll() {
	for len(vm.async) > 0 && !vm.failed {
		f := vm.async[0]
		vm.async = vm.async[1:]
		f()
	}
	vm.async = vm.async[:0]
}

// buildFuelModule builds the host module of the fuel checks (fuel.go):
// wasmdbg.fuel, called by the module every fuelPerCheck loop iterations
// and function calls, traps the running callback once it has run past the
// time limit, counted from its first check.
func (vm *VM) buildFuelModule(ctx context.Context) (api.Module, error) {
	limit := vm.mod.opts.Timeout
	check := func(_ context.Context, _ api.Module, s []uint64) {
		now := time.Now()
		if !vm.hasDeadline {
			vm.deadline, vm.hasDeadline = now.Add(limit), true
		} else if now.After(vm.deadline) {
			panic(&timeoutError{limit: limit})
		}
		s[0] = fuelPerCheck
	}
	b := vm.mod.rt.NewHostModuleBuilder(fuelModule)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(check), nil, []api.ValueType{api.ValueTypeI32}).
		WithName(fuelFunc).Export(fuelFunc)
	compiled, err := b.Compile(ctx)
	if err != nil {
		return nil, err
	}
	return vm.mod.rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(""))
}

// callExport calls an export outside the callback machinery (the leak
// detector's heap probe), under the time limit.
func (vm *VM) callExport(fn api.Function, stack []uint64) error {
	vm.hasDeadline = false
	return fn.CallWithStack(vm.baseCtx, stack)
}

type timeoutError struct {
	limit time.Duration
	err   error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("callback exceeded the %s time limit (an infinite loop?)", e.limit)
}

func (e *timeoutError) Unwrap() error { return e.err }

// trap fails the VM after a call into the module did not complete.
func (vm *VM) trap(callback string, err error) {
	c := vm.crashFromError(callback, err)
	vm.failed = true
	vm.crash = c
	vm.failure = &Failure{Reason: "trapped", Message: c.V8Message()}
	vm.emitCrash(c)
	if h := vm.restricted; h != nil && vm.restrictedDuring == restrictMalloc {
		vm.note(fmt.Sprintf("restricted_callback: %s.%s was called from inside the allocator (%s), where cpp-host allows only env.proxy_log, fd_write, clock_time_get and poll_oneoff; Envoy fails the VM the first time it hands the plugin a value. A module whose exports re-run __wasm_call_ctors (rust-lld's .command_export wrappers) does this on every allocation: build it as a WASI reactor. --no-restrictions replays past it.",
			h.Module, h.Name, callback))
	}
}

// hostTrap is what a host function panics with to trap the module
// (restricted_callback), so wazero unwinds the guest.
type hostTrap struct{ msg string }

func (t *hostTrap) Error() string { return t.msg }

// crashFromError turns a wazero call error into a Crash with V8's wording.
func (vm *VM) crashFromError(callback string, err error) *Crash {
	c := &Crash{Callback: callback, Runtime: "wazero"}
	var exit *sys.ExitError
	var ht *hostTrap
	var te *timeoutError
	text := err.Error()
	switch {
	case errors.As(err, &te):
		c.Message = "wasmdbg: " + te.Error()
		c.Timeout = true
	case errors.As(err, &ht):
		c.Message = "Uncaught Error: " + ht.msg
	case errors.As(err, &exit):
		c.Message = fmt.Sprintf("wasmdbg: module closed with exit code %d", exit.ExitCode())
	case text == "stack overflow":
		// wazero returns its stack-overflow error as is, without frames.
		c.Message = "Uncaught RangeError: Maximum call stack size exceeded"
	default:
		head := trapHeadline(text)
		if msg, ok := strings.CutPrefix(head, "wasm error: "); ok {
			c.Message = vm.v8TrapMessage(msg, text)
		} else {
			c.Message = "wasmdbg: host error: " + head
			c.HostError = true
		}
	}
	c.Detail = text
	c.PanicText = strings.TrimRight(string(vm.panicText), "\r\n")
	c.Frames = vm.framesFromError(text)
	c.Unnamed = len(vm.mod.info.names) == 0
	return c
}

// v8TrapMessage maps wazero's trap text (internal/wasmruntime/errors.go) to
// V8's (message-template.h), looking at the trapping opcode where wazero
// uses one text for several traps.
func (vm *VM) v8TrapMessage(msg, full string) string {
	var op byte
	if offs := vm.mod.trapOffsets(full); len(offs) > 0 {
		op = vm.mod.info.opcodeAt(vm.mod.wasm, uint64(offs[0]))
	}
	v8 := msg
	switch msg {
	case "unreachable":
		v8 = "unreachable"
	case "out of bounds memory access":
		v8 = "memory access out of bounds"
	case "integer divide by zero":
		v8 = "divide by zero"
		if op == 0x6f || op == 0x70 || op == 0x81 || op == 0x82 { // i32/i64.rem_s/u
			v8 = "remainder by zero"
		}
	case "integer overflow":
		v8 = "divide result unrepresentable"
		if op >= 0xa8 && op <= 0xb1 || op == 0xfc { // trunc, trunc_sat prefix
			v8 = "float unrepresentable in integer range"
		}
	case "invalid conversion to integer":
		v8 = "float unrepresentable in integer range"
	case "invalid table access":
		// wazero has one text for an index past the table and for a null
		// slot; V8 has two. A call_indirect that fails is almost always a
		// null function pointer (wasm-ld keeps slot 0 null), so that is
		// what replay says for it.
		v8 = "table index is out of bounds"
		if op == 0x11 {
			v8 = "null function or function signature mismatch"
		}
	case "indirect call type mismatch":
		v8 = "null function or function signature mismatch"
	case "stack overflow":
		return "Uncaught RangeError: Maximum call stack size exceeded"
	case "unaligned atomic":
		v8 = "operation does not support unaligned accesses"
	}
	return "Uncaught RuntimeError: " + v8
}

// sortedEnv returns the environment in a stable order (cpp-host keeps an
// unordered map; a replay must not depend on Go's map order).
func sortedEnv(env map[string]string) [][2]string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = [2]string{k, env[k]}
	}
	return out
}
