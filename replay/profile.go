package replay

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/pprof/profile"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// CPU profiles of guest code. wazero's function listeners (experimental)
// tell the host when every guest function and every host function is
// entered and left; the profiler keeps the call tree as it happens, with
// the wall time spent in each node itself (its children's time taken out)
// and the number of calls, and the place in the caller each call was made
// from. The tree becomes a pprof profile (github.com/google/pprof/profile):
// each node is a sample whose stack is the node's path, leaf first, with
// the call site's file:line in every caller (DWARF, through the module's
// Resolver) and the first line of the leaf function.
//
// Instrumenting every call is exact in what it counts but not free: each
// listener call leaves the compiled code for Go and wazero unwinds the
// stack for it, so a profiled replay runs several times slower (what
// scripts/bench/serve.sh measures). The times are wall time, measured on
// the host's clock; the replay's own output stays on its virtual clock.

// Profiler collects a CPU profile of the VMs of one Module. It is not safe
// for concurrent use: a profiled Module runs one VM at a time.
type Profiler struct {
	epoch  time.Time
	root   profNode
	cur    *profNode
	frames []profFrame
	first  int64 // when the first call began (nanoseconds since epoch)
	last   int64 // when the last call ended
	calls  int64
}

type profFrame struct {
	entered int64 // nanoseconds since epoch
	inner   int64 // time spent in callees
}

// profNode is one place in the call tree: a function called from one call
// site of its caller's node.
type profNode struct {
	def    api.FunctionDefinition
	site   uint64 // code offset of the call in the caller (0: unknown)
	parent *profNode
	kids   []*profNode
	self   int64 // nanoseconds in this node itself
	calls  int64
}

// NewProfiler returns an empty profiler.
func NewProfiler() *Profiler {
	p := &Profiler{epoch: time.Now()}
	p.cur = &p.root
	return p
}

func (p *Profiler) now() int64 { return int64(time.Since(p.epoch)) }

// NewFunctionListener implements experimental.FunctionListenerFactory:
// every function is listened to.
func (p *Profiler) NewFunctionListener(api.FunctionDefinition) experimental.FunctionListener {
	return p
}

// Before implements experimental.FunctionListener.
func (p *Profiler) Before(_ context.Context, _ api.Module, def api.FunctionDefinition, _ []uint64, si experimental.StackIterator) {
	now := p.now()
	var site uint64
	// The first frame is the function being called, the second its
	// caller, stopped at the call.
	if si != nil && si.Next() && si.Next() {
		site = si.Function().SourceOffsetForPC(si.ProgramCounter())
	}
	n := p.cur.child(def, site)
	p.cur = n
	if p.calls == 0 && p.first == 0 {
		p.first = now
	}
	p.frames = append(p.frames, profFrame{entered: now})
}

// After implements experimental.FunctionListener.
func (p *Profiler) After(context.Context, api.Module, api.FunctionDefinition, []uint64) { p.exit() }

// Abort implements experimental.FunctionListener: a trap unwinds every
// frame through here.
func (p *Profiler) Abort(context.Context, api.Module, api.FunctionDefinition, error) { p.exit() }

func (p *Profiler) exit() {
	if len(p.frames) == 0 || p.cur == &p.root {
		return
	}
	now := p.now()
	f := p.frames[len(p.frames)-1]
	p.frames = p.frames[:len(p.frames)-1]
	d := now - f.entered
	n := p.cur
	n.self += d - f.inner
	n.calls++
	p.calls++
	p.last = now
	if len(p.frames) > 0 {
		p.frames[len(p.frames)-1].inner += d
	}
	p.cur = n.parent
}

func (n *profNode) child(def api.FunctionDefinition, site uint64) *profNode {
	for _, k := range n.kids {
		if k.site == site && sameFunction(k.def, def) {
			return k
		}
	}
	k := &profNode{def: def, site: site, parent: n}
	n.kids = append(n.kids, k)
	return k
}

// sameFunction compares definitions: the guest's are one value per
// compiled module; host modules are built per VM, so theirs compare by
// name.
func sameFunction(a, b api.FunctionDefinition) bool {
	if a == b {
		return true
	}
	return a.ModuleName() == b.ModuleName() && a.Name() == b.Name() && a.Index() == b.Index() && a.ModuleName() != ""
}

// context returns ctx with the profiler as wazero's listener factory, for
// compiling host modules (guest modules are compiled with it in Compile).
func (p *Profiler) context(ctx context.Context) context.Context {
	return experimental.WithFunctionListenerFactory(ctx, p)
}

// Calls is the number of function calls seen.
func (p *Profiler) Calls() int64 { return p.calls }

// WriteProfile writes the profile, gzip-compressed protobuf as `go tool
// pprof` reads it, with the module's functions named and, where m's
// Resolver has DWARF (or a source map) for them, given file and line.
func (m *Module) WriteProfile(w io.Writer) error {
	p := m.prof
	if p == nil {
		return fmt.Errorf("the module was not compiled with Options.Profile")
	}
	prof := m.buildProfile(p)
	if err := prof.CheckValid(); err != nil {
		return fmt.Errorf("BUG: invalid profile: %v", err)
	}
	return prof.Write(w)
}

// Profiler returns the module's profiler, or nil.
func (m *Module) Profiler() *Profiler { return m.prof }

type locKey struct {
	fn   string
	site uint64
	leaf bool
}

// pprofBuilder interns functions and locations while a profile is built.
type pprofBuilder struct {
	m     *Module
	prof  *profile.Profile
	funcs map[string]*profile.Function
	locs  map[locKey]*profile.Location
	entry map[uint32]uint64 // function index -> code offset of its first instruction
}

func (m *Module) buildProfile(p *Profiler) *profile.Profile {
	prof := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "calls", Unit: "count"},
			{Type: "cpu", Unit: "nanoseconds"},
		},
		DefaultSampleType: "cpu",
		PeriodType:        &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:            1,
		TimeNanos:         p.epoch.Add(time.Duration(p.first)).UnixNano(),
		DurationNanos:     max(p.last-p.first, 0),
		Comments:          []string{"wasmdbg replay: wall time in guest and host functions, measured by wazero function listeners"},
	}
	prof.Mapping = []*profile.Mapping{{ID: 1, File: "plugin.wasm", HasFunctions: true, HasFilenames: m.opts.Resolver != nil, HasLineNumbers: m.opts.Resolver != nil}}
	b := &pprofBuilder{m: m, prof: prof, funcs: map[string]*profile.Function{}, locs: map[locKey]*profile.Location{}, entry: map[uint32]uint64{}}
	var walk func(n *profNode)
	walk = func(n *profNode) {
		if n.calls > 0 || n.self > 0 {
			prof.Sample = append(prof.Sample, &profile.Sample{Location: b.stack(n), Value: []int64{n.calls, max(n.self, 0)}})
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	for _, k := range p.root.kids {
		walk(k)
	}
	return prof
}

// stack is the locations of a node's path, leaf first: the leaf at its
// function's first line, every caller at the call it made.
func (b *pprofBuilder) stack(n *profNode) []*profile.Location {
	var out []*profile.Location
	out = append(out, b.location(n.def, 0, true))
	for c := n; c.parent != nil && c.parent.def != nil; c = c.parent {
		out = append(out, b.location(c.parent.def, c.site, false))
	}
	return out
}

func funcKey(def api.FunctionDefinition) string {
	if def.ModuleName() != "" { // a host function
		return def.ModuleName() + "." + def.Name()
	}
	return fmt.Sprintf("#%d", def.Index())
}

func (b *pprofBuilder) location(def api.FunctionDefinition, site uint64, leaf bool) *profile.Location {
	key := locKey{fn: funcKey(def), site: site, leaf: leaf}
	if l, ok := b.locs[key]; ok {
		return l
	}
	l := &profile.Location{ID: uint64(len(b.prof.Location) + 1), Mapping: b.prof.Mapping[0]}
	b.locs[key] = l
	b.prof.Location = append(b.prof.Location, l)
	if def.ModuleName() != "" {
		l.Line = []profile.Line{{Function: b.function(key.fn, key.fn, "")}}
		return l
	}
	idx := def.Index()
	off, ok := site, site != 0
	if leaf {
		off, ok = b.entryOffset(idx)
	}
	if ok {
		l.Address = uint64(b.m.info.codeStart) + off // a module offset, as V8 prints them
	}
	raw := b.m.info.names[idx]
	name := v8FunctionName(b.m.info, idx)
	if strings.HasPrefix(name, "unknown(") {
		name = fmt.Sprintf("wasm-function[%d]", idx)
	}
	var frames []loc.Frame
	if r := b.m.opts.Resolver; r != nil && ok {
		frames, _ = r.Lookup(loc.CodeOffset(off))
	}
	// The resolver answers innermost first, inlined frames before the
	// function that holds the code: pprof's Line order too.
	for i, f := range frames {
		fn := f.Name()
		sys := f.Function
		if i == len(frames)-1 && !f.Inlined {
			// The physical function: the name the backtraces use.
			fn, sys = name, raw
			if f.Demangled != "" {
				fn = f.Demangled
			}
		}
		l.Line = append(l.Line, profile.Line{Function: b.function(fn, sys, f.File), Line: int64(f.Line), Column: int64(f.Column)})
	}
	if len(l.Line) == 0 || frames[len(frames)-1].Inlined {
		l.Line = append(l.Line, profile.Line{Function: b.function(name, raw, "")})
	}
	return l
}

func (b *pprofBuilder) function(name, system, file string) *profile.Function {
	key := name + "\x00" + file
	if f, ok := b.funcs[key]; ok {
		return f
	}
	if system == "" {
		system = name
	}
	f := &profile.Function{ID: uint64(len(b.prof.Function) + 1), Name: name, SystemName: system, Filename: file}
	b.funcs[key] = f
	b.prof.Function = append(b.prof.Function, f)
	return f
}

// entryOffset is the code offset of the first instruction of function idx
// (after its locals declarations), where its first line is.
func (b *pprofBuilder) entryOffset(idx uint32) (uint64, bool) {
	if off, ok := b.entry[idx]; ok {
		return off, true
	}
	body, ok := b.m.info.parsed.Body(idx)
	if !ok {
		return 0, false
	}
	// Code offsets count from the code section's payload.
	code := b.m.wasm[b.m.info.codeStart:min(b.m.info.codeStart+b.m.info.codeSize, len(b.m.wasm))]
	start, end := int(body.Start)-b.m.info.codeStart, int(body.End)-b.m.info.codeStart
	if start < 0 || end > len(code) || start >= end {
		return 0, false
	}
	pos := start
	leb := func() (uint64, bool) {
		var v uint64
		for shift := 0; shift < 35 && pos < end; shift += 7 {
			c := code[pos]
			pos++
			v |= uint64(c&0x7f) << shift
			if c&0x80 == 0 {
				return v, true
			}
		}
		return 0, false
	}
	groups, ok := leb()
	if !ok {
		return 0, false
	}
	for i := uint64(0); i < groups; i++ {
		if _, ok := leb(); !ok {
			return 0, false
		}
		pos++ // the value type
	}
	if pos >= end {
		return 0, false
	}
	b.entry[idx] = uint64(pos)
	return uint64(pos), true
}

// Timing is the wall time the plugin took, per callback and per request:
// the latency a proxy would add for it. It is measured, so it differs from
// run to run; replay prints it only when asked (--timing).
type Timing struct {
	Callbacks map[string][]time.Duration
	Requests  []time.Duration
	stream    time.Duration // the current stream's total so far
	inStream  bool
}

// NewTiming returns an empty Timing.
func NewTiming() *Timing { return &Timing{Callbacks: map[string][]time.Duration{}} }

func (t *Timing) add(callback string, d time.Duration) {
	t.Callbacks[callback] = append(t.Callbacks[callback], d)
	if t.inStream {
		t.stream += d
	}
}

func (t *Timing) beginStream() { t.inStream, t.stream = true, 0 }

func (t *Timing) endStream() {
	if t.inStream {
		t.Requests = append(t.Requests, t.stream)
	}
	t.inStream = false
}

// Percentiles are a latency distribution's summary.
type Percentiles struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// percentiles uses the nearest-rank method.
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Percentiles{Count: len(s), P50: rank(0.50), P99: rank(0.99), Max: s[len(s)-1]}
}

// TimingRecord is Timing in JSON.
type TimingRecord struct {
	Requests  Percentiles            `json:"requests"`
	Callbacks map[string]Percentiles `json:"callbacks"`
}

// Record summarizes the measurements.
func (t *Timing) Record() *TimingRecord {
	r := &TimingRecord{Requests: percentiles(t.Requests), Callbacks: map[string]Percentiles{}}
	for name, ds := range t.Callbacks {
		r.Callbacks[name] = percentiles(ds)
	}
	return r
}

// Write prints the summary's timing section.
func (t *Timing) Write(w io.Writer) {
	r := t.Record()
	fmt.Fprintln(w, "\n=== time in the plugin (wall clock: measured, differs from run to run)")
	if r.Requests.Count > 0 {
		fmt.Fprintf(w, "per request (every callback of a stream): p50 %s  p99 %s  max %s  (%d request%s)\n",
			durText(r.Requests.P50), durText(r.Requests.P99), durText(r.Requests.Max), r.Requests.Count, plural(r.Requests.Count))
	}
	names := make([]string, 0, len(r.Callbacks))
	width := 0
	for n := range r.Callbacks {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	for _, n := range names {
		p := r.Callbacks[n]
		fmt.Fprintf(w, "  %-*s %7d call%s  p50 %-9s p99 %-9s max %s\n", width, n, p.Count, plural(p.Count)+strings.Repeat(" ", len("s")-len(plural(p.Count))),
			durText(p.P50), durText(p.P99), durText(p.Max))
	}
}

// durText rounds a duration for people: 812ns, 3.1µs, 12.4ms.
func durText(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d >= time.Microsecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%dns", int64(d))
}
