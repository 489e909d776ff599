package replay

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmdbg/wasmdbg/tracer"
)

// Leak detection: the capture is replayed again and again on one VM, as a
// proxy's worker runs request after request through the same instance, and
// the guest's memory is read after every iteration.
//
// What can be read from outside a module honestly:
//   - linear memory size (memory.size): what the proxy pays for, what
//     Envoy's vm_memory_size gauge reports, and what hits the limit in an
//     out-of-memory trap. WebAssembly memory never shrinks, so it is a
//     high-water mark: a collector's sawtooth is invisible in it, growth
//     shows as steps (64 KiB pages; Go's allocator grows by 512 KiB).
//   - the allocator's own count of bytes in use, where the module exports
//     it: dlmalloc's mallinfo() (wasi-libc, emscripten) fills a struct
//     whose uordblks field is that count. It goes down on free, so it shows
//     a sawtooth; the verdict compares window minima for that reason.
//   - __heap_base, exported by wasm-ld when asked (Rust's std builds do):
//     the end of static data, where the heap starts; it says how much of
//     the memory is heap, not how much of the heap is used.
// Go's runtime exports nothing about its heap (no DWARF either), so for Go
// the signal is linear memory, and its collector first runs when the heap
// reaches 4 MiB (GOGC=100): until then memory grows without a leak.

// MemorySample is the guest's memory after one iteration.
type MemorySample struct {
	Iteration int    `json:"iteration"` // from 1
	Requests  int    `json:"requests"`  // streams replayed so far
	Memory    uint64 `json:"memory_bytes"`
	// Heap is the allocator's bytes in use (mallinfo().uordblks), when
	// the module exports mallinfo.
	Heap *uint64 `json:"heap_bytes,omitempty"`
}

// Leak verdicts.
const (
	LeakFound        = "leak"
	LeakFlat         = "flat"
	LeakInconclusive = "inconclusive"
)

// LeakReport is the outcome of a repeated replay.
type LeakReport struct {
	Kind                 string `json:"kind"` // "memory"
	Iterations           int    `json:"iterations"`
	RequestsPerIteration int    `json:"requests_per_iteration"`
	// Signal names the series the verdict is based on.
	Signal string `json:"signal"`
	// Start is the memory (and heap) before the first iteration.
	Start     uint64  `json:"start_memory_bytes"`
	StartHeap *uint64 `json:"start_heap_bytes,omitempty"`
	HeapBase  *uint32 `json:"heap_base,omitempty"` // __heap_base, when exported
	Limit     uint64  `json:"memory_limit_bytes"`
	// GrowthPerRequest is the slope of a least-squares line through the
	// signal over the second half of the iterations, per request.
	GrowthPerRequest float64 `json:"growth_per_request_bytes"`
	// GrowsFrom is the first iteration after which the signal was above
	// its first value (0: never); FlatFrom the iteration from which it no
	// longer changed (0: it changed in the last iteration).
	GrowsFrom int    `json:"grows_from_iteration,omitempty"`
	FlatFrom  int    `json:"flat_from_iteration,omitempty"`
	Verdict   string `json:"verdict"`
	Message   string `json:"message"`
	// StoppedAt is the iteration in which the VM failed (a trap, often
	// out of memory); the series ends there.
	StoppedAt int            `json:"stopped_at_iteration,omitempty"`
	Notes     []string       `json:"notes,omitempty"`
	Series    []MemorySample `json:"series"`

	windows   []uint64 // minima of the tail windows
	goFirstGC uint64   // a Go module's heap size at its first collection
}

// goFirstCollection is the heap size at which Go's collector first runs:
// its minimum heap goal, 4 MiB scaled by GOGC (runtime/mgcpacer.go
// defaultHeapMinimum); math.MaxUint64 with GOGC=off.
func goFirstCollection(gogc string) uint64 {
	switch gogc {
	case "":
		return 4 << 20
	case "off":
		return math.MaxUint64
	}
	n, err := strconv.Atoi(gogc)
	if err != nil || n < 0 {
		return 4 << 20 // the runtime ignores a bad value
	}
	return uint64(4<<20) * uint64(n) / 100
}

func goGCText(gogc string) string {
	if gogc == "" {
		return "100, the default"
	}
	return gogc
}

// The signals a verdict can be based on.
const (
	memorySignal = "linear memory (memory.size)"
	heapSignal   = "heap in use (mallinfo().uordblks)"
)

// tailWindows is how many windows the second half of the series is cut
// into; a leak must raise the minimum of every one.
const tailWindows = 4

// minLeakIterations is the fewest iterations a verdict is given for.
const minLeakIterations = 8

// Repeat replays the capture n times on one VM, reading the guest's memory
// after every iteration, and returns the replay's result (the streams of
// the first iteration, and the one that trapped, if any) and the leak
// report. Events reach ro.Sink for the first iteration; after that only
// crashes and VM failures do, so a trap late in the run is still shown.
func Repeat(ctx context.Context, m *Module, c *Capture, ro RunOptions, n int) (*Result, *LeakReport, error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("repeat: %d iterations; want at least 1", n)
	}
	r, err := newRunner(ctx, m, c, ro)
	if err != nil {
		return r.res, nil, err
	}
	rep := &LeakReport{Kind: "memory", RequestsPerIteration: len(c.Streams), Signal: memorySignal,
		Limit: uint64(m.opts.MaxMemoryPages) * 65536}
	if len(c.Streams) == 0 {
		return r.finish(), nil, fmt.Errorf("repeat: the capture has no streams")
	}
	probe := newHeapProbe(r.vm)
	if probe.mallinfo != nil {
		rep.Signal = heapSignal
	}
	rep.HeapBase = probe.heapBase
	if r.vm.mem != nil {
		rep.Start = uint64(r.vm.mem.Size())
		rep.StartHeap = probe.read()
	}
	if m.isGo() {
		rep.goFirstGC = goFirstCollection(c.Plugin.Environment["GOGC"])
		rep.Notes = append(rep.Notes, fmt.Sprintf("a Go module: its runtime exports nothing about its heap, so linear memory is the signal; "+
			"Go's collector first runs when the heap reaches %s (GOGC=%s), and until then memory grows without a leak",
			sizeText(float64(rep.goFirstGC)), goGCText(c.Plugin.Environment["GOGC"])))
	}
	requests := 0
passes:
	for it := 1; it <= n; it++ {
		if it == 2 {
			r.quietAfterFirst()
			r.discard = true
		}
		r.calls.reset(c)
		r.vm.calls = r.calls
		keep := len(r.res.Streams)
		for i := range c.Streams {
			st, err := r.runStream(i, &c.Streams[i])
			if err != nil {
				return r.res, rep, err
			}
			requests++
			if r.vm.failed {
				st.Iteration = it
				break
			}
		}
		if it > 1 && !r.vm.failed {
			r.res.Streams = r.res.Streams[:keep] // only the first iteration's streams are kept
		}
		if r.vm.failed {
			rep.StoppedAt = it
			break
		}
		s := MemorySample{Iteration: it, Requests: requests, Memory: uint64(r.vm.mem.Size()), Heap: probe.read()}
		if rep.Series == nil {
			rep.Series = make([]MemorySample, 0, min(n, 1<<16))
		}
		rep.Series = append(rep.Series, s)
		if err := ctx.Err(); err != nil {
			return r.res, rep, err
		}
		select {
		case <-ro.Stop:
			if it < n {
				rep.Notes = append(rep.Notes, fmt.Sprintf("stopped after %d of %d iterations", it, n))
			}
			break passes
		default:
		}
	}
	rep.Iterations = len(rep.Series)
	rep.judge()
	res := r.finish()
	res.passes, res.passStreams = max(rep.Iterations, rep.StoppedAt), len(c.Streams)
	return res, rep, nil
}

// quietAfterFirst keeps only crashes and VM failures from the VM's events.
func (r *runner) quietAfterFirst() {
	vm := r.vm
	sink := vm.sink
	if sink == nil {
		return
	}
	vm.emitCalls, vm.emitHost, vm.emitLogs = false, false, false
	vm.sink = func(ev *tracer.Event) {
		if ev.Kind == tracer.KindCrash || ev.Kind == tracer.KindVMFailure {
			sink(ev)
		}
	}
	r.ro.Sink = vm.sink // a VM started by fail_reload stays quiet too
	r.ro.Verbosity = Crashes
}

// heapProbe reads the allocator's own numbers, where the module exports
// them.
type heapProbe struct {
	vm       *VM
	mallinfo api.Function
	out      uint32 // guest address of a struct mallinfo
	stack    []uint64
	heapBase *uint32
	vals     []uint64 // storage of the values read returns
}

// mallinfoSize is sizeof(struct mallinfo) on wasm32: ten size_t fields
// (dlmalloc's MALLINFO_FIELD_TYPE is size_t).
const mallinfoSize = 40

// mallinfoUordblks is the offset of uordblks, the bytes in use.
const mallinfoUordblks = 7 * 4

func newHeapProbe(vm *VM) *heapProbe {
	p := &heapProbe{vm: vm}
	if vm.inst == nil || vm.failed {
		return p
	}
	if g := vm.inst.ExportedGlobal("__heap_base"); g != nil {
		v := uint32(g.Get())
		p.heapBase = &v
	}
	fn := vm.inst.ExportedFunction("mallinfo")
	if fn == nil {
		return p
	}
	def := fn.Definition()
	if len(def.ParamTypes()) != 1 || def.ParamTypes()[0] != api.ValueTypeI32 || len(def.ResultTypes()) != 0 {
		vm.note("the module exports mallinfo with a signature other than (i32) -> (); its heap is not read")
		return p
	}
	// One block for the answers, allocated once: it is part of the heap
	// from the first sample on, so it never shows as growth.
	out, ok := vm.allocMemory(mallinfoSize)
	if !ok {
		return p
	}
	p.mallinfo, p.out, p.stack = fn, out, make([]uint64, 1)
	return p
}

// read returns the allocator's bytes in use, or nil.
func (p *heapProbe) read() *uint64 {
	if p.mallinfo == nil || p.vm.failed {
		return nil
	}
	p.stack[0] = uint64(p.out)
	if err := p.vm.callExport(p.mallinfo, p.stack); err != nil {
		p.mallinfo = nil
		p.vm.note("mallinfo failed (" + trapHeadline(err.Error()) + "); the heap is not read any more")
		return nil
	}
	v, ok := p.vm.mem.ReadUint32Le(p.out + mallinfoUordblks)
	if !ok {
		return nil
	}
	// The values live in chunks: a pass allocates nothing.
	if len(p.vals) == cap(p.vals) {
		p.vals = make([]uint64, 0, 1024)
	}
	p.vals = append(p.vals, uint64(v))
	return &p.vals[len(p.vals)-1]
}

// isGo reports whether the module was built by the Go toolchain.
func (m *Module) isGo() bool {
	if _, ok := m.info.parsed.CustomSection("go:buildid"); ok {
		return true
	}
	for _, n := range m.info.names {
		if n == "runtime.gcStart" {
			return true
		}
	}
	return false
}

// signal is the series the verdict reads.
func (rep *LeakReport) signal() []float64 {
	v := make([]float64, len(rep.Series))
	for i, s := range rep.Series {
		if s.Heap != nil && rep.Signal == heapSignal {
			v[i] = float64(*s.Heap)
		} else {
			v[i] = float64(s.Memory)
		}
	}
	return v
}

// judge sets the verdict. A leak is growth that does not stop: over the
// second half of the iterations (after any warm-up), cut into windows, the
// lowest value of each window must be above the previous window's. Minima
// are what a collected heap returns to after each collection, so a
// sawtooth that stays level is not a leak, and one whose floor keeps
// rising is. The rate is the slope of a least-squares line through that
// half.
func (rep *LeakReport) judge() {
	v := rep.signal()
	n := len(v)
	perReq := float64(max(rep.RequestsPerIteration, 1))
	if n == 0 {
		rep.Verdict = LeakInconclusive
		rep.Message = "no iteration completed: no verdict"
		return
	}
	for i := 1; i < n; i++ {
		if v[i] > v[0] {
			rep.GrowsFrom = i + 1
			break
		}
	}
	last := 0
	for i := 1; i < n; i++ {
		if v[i] != v[i-1] {
			last = i
		}
	}
	if last < n-1 {
		rep.FlatFrom = last + 1
	}
	tail := v[n/2:]
	rep.GrowthPerRequest = slope(tail) / perReq
	if n < minLeakIterations {
		rep.Verdict = LeakInconclusive
		rep.Message = fmt.Sprintf("%d iteration%s are too few for a verdict: repeat at least %d times", n, plural(n), minLeakIterations)
		return
	}
	k := min(tailWindows, len(tail))
	rep.windows = make([]uint64, k)
	rising := true
	for w := 0; w < k; w++ {
		lo, hi := w*len(tail)/k, (w+1)*len(tail)/k
		m := tail[lo]
		for _, x := range tail[lo:hi] {
			m = math.Min(m, x)
		}
		rep.windows[w] = uint64(m)
		if w > 0 && rep.windows[w] <= rep.windows[w-1] {
			rising = false
		}
	}
	if rep.Signal == heapSignal && k > 1 {
		// A collected heap's sawtooth tilts a fitted line; the floor's
		// rise from the first window to the last is the growth.
		span := float64((k - 1) * len(tail) / k)
		rep.GrowthPerRequest = (float64(rep.windows[k-1]) - float64(rep.windows[0])) / span / perReq
	}
	flat := rep.windows[k-1] <= rep.windows[0]
	if rep.Signal == memorySignal {
		// Linear memory only grows, so a window's lowest value is its
		// first: a step inside the last window would not show. Flat means
		// no step in the whole second half (or a plateau).
		flat = tail[len(tail)-1] <= tail[0] || rep.plateau(v)
	}
	beforeGC := false
	if rep.goFirstGC > 0 && rep.Signal == memorySignal {
		// Growth below the first collection's heap size is no evidence:
		// the heap is garbage that has not been collected yet. Memory
		// past start + that size (plus a quarter for the runtime's own
		// structures) means the collector ran and memory grew anyway.
		grown := rep.Series[n-1].Memory - min(rep.Start, rep.Series[n-1].Memory)
		beforeGC = rep.goFirstGC == math.MaxUint64 || grown < rep.goFirstGC+rep.goFirstGC/4
	}
	switch {
	case rising && rep.GrowthPerRequest > 0 && beforeGC:
		rep.Verdict = LeakInconclusive
		if rep.goFirstGC == math.MaxUint64 {
			rep.Message = fmt.Sprintf("memory grows ~%s per request, but with GOGC=off Go's collector never runs: no verdict", sizeText(rep.GrowthPerRequest))
			break
		}
		rep.Message = fmt.Sprintf("memory grows ~%s per request, but Go's collector has not run yet (memory is within %s of where it started): "+
			"no verdict; repeat more times (--repeat %d)", sizeText(rep.GrowthPerRequest), sizeText(float64(rep.goFirstGC+rep.goFirstGC/4)), 4*n)
	case rising && rep.GrowthPerRequest > 0:
		rep.Verdict = LeakFound
		rep.Message = fmt.Sprintf("memory grows ~%s per request: leak", sizeText(rep.GrowthPerRequest))
	case rep.Signal == memorySignal && rep.GrowthPerRequest > 0 && !beforeGC && tail[len(tail)-1] >= 1.5*tail[0] && stepsIn(tail) >= 2:
		// A heap that grows by a fraction of its size each time
		// (TinyGo's, most allocators') steps at ever longer intervals,
		// so some quarters show no step; but memory half as large again
		// over the second half of the run, in two steps or more, is no
		// warm-up that ended (plateau), nor one heap doubling to fit a
		// burst: it is a leak.
		rep.Verdict = LeakFound
		rep.Message = fmt.Sprintf("memory grows ~%s per request, in ever larger steps (%s to %s over the second half): leak",
			sizeText(rep.GrowthPerRequest), sizeText(tail[0]), sizeText(tail[len(tail)-1]))
	case flat:
		rep.Verdict = LeakFlat
		switch {
		case rep.GrowsFrom == 0:
			rep.Message = "memory never grew: no leak"
		case rep.FlatFrom > 0:
			rep.Message = fmt.Sprintf("memory is flat from iteration %d: no leak", rep.FlatFrom)
		default:
			rep.Message = "memory is level over the second half of the run: no leak"
		}
	default:
		rep.Verdict = LeakInconclusive
		rep.Message = fmt.Sprintf("memory grew ~%s per request over the second half, but not in every quarter of it: "+
			"no verdict; repeat more times (--repeat %d)", sizeText(math.Max(rep.GrowthPerRequest, 0)), 4*n)
	}
}

// plateau reports whether linear memory, which only grows and does so in
// steps, has stopped growing: no step for at least half the run, or, after
// three steps or more, for twice the longest time between two of them
// (a warm-up that ended: Go's heap reaching its collector's goal).
func (rep *LeakReport) plateau(v []float64) bool {
	var steps []int
	for i := 1; i < len(v); i++ {
		if v[i] > v[i-1] {
			steps = append(steps, i)
		}
	}
	if len(steps) == 0 {
		return true
	}
	since := len(v) - steps[len(steps)-1]
	if since >= len(v)/2 {
		return true
	}
	gap := 0
	for i := 1; i < len(steps); i++ {
		gap = max(gap, steps[i]-steps[i-1])
	}
	return len(steps) >= 3 && since >= 2*gap
}

// stepsIn counts the rises in a series.
func stepsIn(v []float64) int {
	n := 0
	for i := 1; i < len(v); i++ {
		if v[i] > v[i-1] {
			n++
		}
	}
	return n
}

// slope is the least-squares slope of v against its index.
func slope(v []float64) float64 {
	n := float64(len(v))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i, y := range v {
		x := float64(i)
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// sizeText renders a byte count as people read it: 812 B, 1.3 KiB, 4.0 MiB.
func sizeText(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// Write prints the report: the numbers, a chart, the verdict.
func (rep *LeakReport) Write(w io.Writer) {
	fmt.Fprintf(w, "\n=== memory over %d iteration%s (%d request%s each)\n", rep.Iterations, plural(rep.Iterations),
		rep.RequestsPerIteration, plural(rep.RequestsPerIteration))
	if n := len(rep.Series); n > 0 {
		end := rep.Series[n-1]
		fmt.Fprintf(w, "linear memory: %s before the first request, %s after %d (limit %s)\n",
			sizeText(float64(rep.Start)), sizeText(float64(end.Memory)), end.Requests, sizeText(float64(rep.Limit)))
		if rep.StartHeap != nil && end.Heap != nil {
			fmt.Fprintf(w, "heap in use (mallinfo): %s before, %s after\n", sizeText(float64(*rep.StartHeap)), sizeText(float64(*end.Heap)))
		}
	}
	if rep.HeapBase != nil {
		fmt.Fprintf(w, "__heap_base: 0x%x (static data below, heap above)\n", *rep.HeapBase)
	}
	fmt.Fprintf(w, "signal: %s\n", rep.Signal)
	if len(rep.Series) > 1 {
		writeChart(w, rep.signal(), rep.Series[0].Iteration, rep.Series[len(rep.Series)-1].Iteration)
	}
	switch {
	case rep.GrowsFrom > 0 && rep.Verdict != LeakFlat:
		fmt.Fprintf(w, "flat until iteration %d, growing after it\n", rep.GrowsFrom-1)
	case rep.GrowsFrom > 0 && rep.FlatFrom > 0:
		fmt.Fprintf(w, "grew until iteration %d, flat after it\n", rep.FlatFrom-1)
	}
	if len(rep.windows) > 0 {
		parts := make([]string, len(rep.windows))
		for i, m := range rep.windows {
			parts[i] = sizeText(float64(m))
		}
		fmt.Fprintf(w, "lowest value in each quarter of the second half: %s\n", strings.Join(parts, ", "))
		fmt.Fprintf(w, "growth over the second half: %s per request (least squares)\n", signedSize(rep.GrowthPerRequest))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if rep.StoppedAt > 0 {
		fmt.Fprintf(w, "the VM failed in iteration %d; the series ends before it\n", rep.StoppedAt)
	}
	fmt.Fprintf(w, "verdict: %s\n", rep.Message)
}

func signedSize(b float64) string {
	if b < 0 {
		return "-" + sizeText(-b)
	}
	return sizeText(b)
}

// chartWidth and chartHeight are the text chart's size in cells.
const (
	chartWidth  = 60
	chartHeight = 6
)

// writeChart draws v as columns of block characters: each column is the
// highest value among the iterations it covers.
func writeChart(w io.Writer, v []float64, firstIter, lastIter int) {
	cols := min(chartWidth, len(v))
	col := make([]float64, cols)
	for c := range col {
		lo, hi := c*len(v)/cols, (c+1)*len(v)/cols
		m := v[lo]
		for _, x := range v[lo:hi] {
			m = math.Max(m, x)
		}
		col[c] = m
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	blocks := []rune(" ▁▂▃▄▅▆▇█")
	label := func(x float64) string { return fmt.Sprintf("%9s", sizeText(x)) }
	for row := chartHeight - 1; row >= 0; row-- {
		var b strings.Builder
		switch row {
		case chartHeight - 1:
			b.WriteString(label(hi) + " ┤")
		case 0:
			b.WriteString(label(lo) + " ┤")
		default:
			b.WriteString(strings.Repeat(" ", 9) + " │")
		}
		for _, x := range col {
			// Height in eighths of a row; the lowest value gets one
			// eighth so that a flat series is still drawn.
			h := 1.0
			if hi > lo {
				h = 1 + (x-lo)/(hi-lo)*float64(chartHeight*8-1)
			}
			cell := h - float64(row*8)
			switch {
			case cell >= 8:
				b.WriteRune(blocks[8])
			case cell <= 0:
				b.WriteRune(' ')
			default:
				b.WriteRune(blocks[int(cell)])
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	axis := strings.Repeat(" ", 10) + "└" + strings.Repeat("─", cols)
	fmt.Fprintln(w, axis)
	first, last := fmt.Sprint(firstIter), fmt.Sprint(lastIter)
	pad := max(cols-len(first)-len(last), 1)
	fmt.Fprintf(w, "%s%s%s%s  iteration\n", strings.Repeat(" ", 11), first, strings.Repeat(" ", pad), last)
}
