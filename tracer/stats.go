package tracer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"strings"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Stats aggregates a log without building events: per-callback counts and
// latencies, per-host-call counts and failed statuses, plugin logs by
// level. It reads records directly and allocates only for names it has
// not seen, so it runs close to the speed of the Reader and its memory does
// not grow with the input.
type Stats struct {
	Records    int
	Callbacks  map[string]*CallbackStats
	HostCalls  map[string]*HostCallStats
	LogLevels  map[string]int
	Crashes    int
	VMFailures int
	Malformed  int

	origins map[string]map[string]*statThread
	times   timeCache
	recent  [8]recentThread
	next    int
	last    int
	// Names seen, by a hash of their bytes, in front of the maps (see
	// nameSlot); a name not cached is looked up in the map.
	cbCache    [nameSlots]*CallbackStats
	hostCache  [nameSlots]*HostCallStats
	calls      callParser
	rec        Record // ReadAll's record of a line it counts in place
	byTemplate [256]templateFunc
	byKey      [1 << threadSlotsLog]struct {
		key uint64
		t   *statThread
	}
}

type recentThread struct {
	origin, thread string
	t              *statThread
}

// CallbackStats are the numbers of one export the host calls.
type CallbackStats struct {
	Name    string
	Count   int
	Trapped int
	// Unreturned counts calls whose return line never came (no crash either).
	Unreturned int
	lat        latencies
}

// HostCallStats are the numbers of one host function.
type HostCallStats struct {
	Name  string
	Count int
	// Failed counts non-Ok returns by status name ("BadArgument", "BADF").
	Failed map[string]int
	result abi.Result
}

type statThread struct {
	stack []statOpen
}

type statOpen struct {
	cb    *CallbackStats // an open callback, or nil for a host call
	host  *HostCallStats
	start int64
}

// maxStatNames caps the distinct names kept; further names are counted
// under "(other)" so a hostile input cannot grow the maps without bound.
const maxStatNames = 4096

// NewStats returns an empty Stats.
func NewStats() *Stats {
	return &Stats{
		Callbacks: map[string]*CallbackStats{},
		HostCalls: map[string]*HostCallStats{},
		LogLevels: map[string]int{},
		origins:   map[string]map[string]*statThread{},
	}
}

// Add counts one record.
func (s *Stats) Add(r *Record) {
	s.Records++
	if r.Malformed != "" {
		s.Malformed++
		return
	}
	msg := r.Message
	if isCallMessage(msg) {
		s.addCall(msg, r.Thread, r.Origin, r.Time, r.Nanos)
		return
	}
	switch {
	case bytes.HasPrefix(msg, []byte("wasm log")):
		s.LogLevels[levelOrInfo(r.Level)]++
	case isCrashHeader(msg):
		s.Crashes++
		s.trap(r, msg)
	default:
		if bytes.Contains(msg, []byte("asm")) {
			if f, ok := ClassifyVMFailure(string(msg)); ok && !proseStreamFailure(r, f, msg) {
				s.VMFailures++
			}
		}
	}
}

// addCall counts a wasm:trace call line of a record; thread, origin, time
// and nanos are the record's.
func (s *Stats) addCall(msg, thread, origin, time []byte, nanos int64) {
	var c CallLine
	// Names are validated once each, when first seen (see callback and
	// hostCall).
	if ok, _ := s.calls.parse(msg, &c); !ok {
		s.Malformed++
		return
	}
	s.count(&statCall{dir: c.Direction, fn: c.Function, ret: c.Return, thread: thread, origin: origin, time: time, nanos: nanos})
}

// statCall is a call line to count.
type statCall struct {
	dir     Direction
	fn, ret []byte // the function name and the return value, as CallLine's
	// id, when not 0, names the text of the line up to its function name
	// for good (see lineScanner), so that its function is looked up once.
	id             uint64
	thread, origin []byte
	key            uint64 // threadKey(thread, origin), or 0 to compute it
	time           []byte // parsed when nanos is 0 and the time is needed
	nanos          int64
}

// count counts a call line.
func (s *Stats) count(c *statCall) {
	switch c.dir {
	case HostToVM:
		cb := s.callbackOf(c.id, c.fn)
		if cb == nil {
			s.Malformed++
			return
		}
		cb.Count++
		t := s.thread(c)
		// A callback on top ended without its return line; on top of a host
		// call it is nested (the host calling malloc).
		for n := len(t.stack); n > 0 && t.stack[n-1].cb != nil; n = len(t.stack) {
			t.stack[n-1].cb.Unreturned++
			t.stack = t.stack[:n-1]
		}
		t.push(statOpen{cb: cb, start: s.nanos(c.time, c.nanos)})
	case HostFromVM:
		t := s.thread(c)
		for i := len(t.stack) - 1; i >= 0; i-- {
			o := t.stack[i]
			if o.cb == nil || o.cb.Name != string(c.fn) {
				continue
			}
			for j := len(t.stack) - 1; j > i; j-- {
				if t.stack[j].cb != nil {
					t.stack[j].cb.Unreturned++
				}
			}
			if now := s.nanos(c.time, c.nanos); now != 0 && o.start != 0 {
				o.cb.lat.add(now - o.start)
			}
			t.stack = t.stack[:i]
			return
		}
		// No open call of that name: the name still has to be valid.
		if s.callbackOf(c.id, c.fn) == nil {
			s.Malformed++
		}
	case VMToHost:
		h := s.hostCallOf(c.id, c.fn)
		if h == nil {
			s.Malformed++
			return
		}
		h.Count++
		s.thread(c).push(statOpen{host: h})
	case VMFromHost:
		t := s.thread(c)
		var h *HostCallStats
		if n := len(t.stack); n > 0 && t.stack[n-1].cb == nil {
			// The usual case: the return of the call just made, whose name
			// was checked then.
			if o := t.stack[n-1].host; o != nil && o.Name == string(c.fn) {
				h = o
			}
			t.stack = t.stack[:n-1]
		}
		if h == nil {
			if h = s.hostCallOf(c.id, c.fn); h == nil {
				s.Malformed++
				return
			}
		}
		if len(c.ret) == 1 && c.ret[0] == '0' || string(c.ret) == "void" {
			return
		}
		if name, isStatus := resultMeaning(h.result, string(c.ret)); isStatus {
			if h.Failed == nil {
				h.Failed = map[string]int{}
			}
			h.Failed[name]++
		}
	}
}

// nanos is the record's time, parsed here when the Reader skipped it.
func (s *Stats) nanos(time []byte, nanos int64) int64 {
	if nanos != 0 || len(time) == 0 {
		return nanos
	}
	n, _ := s.times.parse(time)
	return n
}

// push opens a callback (cb set) or a host call (cb nil); the stack is
// capped so a log of unreturned host calls cannot grow it without bound.
func (t *statThread) push(o statOpen) {
	if len(t.stack) >= 256 {
		copy(t.stack, t.stack[1:])
		t.stack = t.stack[:len(t.stack)-1]
	}
	t.stack = append(t.stack, o)
}

// trap closes the callback a crash ended.
func (s *Stats) trap(r *Record, msg []byte) {
	t := s.thread(&statCall{thread: r.Thread, origin: r.Origin})
	name := ""
	if c, ok := ParseCrash(msg); ok {
		name = c.Callback
	}
	for i := len(t.stack) - 1; i >= 0; i-- {
		if t.stack[i].cb != nil && (name == "" || t.stack[i].cb.Name == name) {
			t.stack[i].cb.Trapped++
			t.stack = t.stack[:i]
			return
		}
	}
}

func levelOrInfo(b []byte) string {
	if l := normLevel(b); l != "" {
		return l
	}
	return "info"
}

// nameSlots is the size of the name caches, a power of two.
const nameSlots = 64

// nameSlot hashes a function name cheaply: its length and two of its
// bytes tell the names of one plugin apart well enough for a cache.
func nameSlot(name []byte) int {
	n := len(name)
	if n == 0 {
		return 0
	}
	return (n*7 + int(name[n-1])*3 + int(name[n/2])) & (nameSlots - 1)
}

// callbackOf is callback, remembered for the template id.
func (s *Stats) callbackOf(id uint64, name []byte) *CallbackStats {
	if id == 0 {
		return s.callback(name)
	}
	e := &s.byTemplate[id%uint64(len(s.byTemplate))]
	if e.id == id && e.cb != nil {
		return e.cb
	}
	cb := s.callback(name)
	if cb != nil && cb.Name == string(name) {
		*e = templateFunc{id: id, cb: cb}
	}
	return cb
}

// hostCallOf is hostCall, remembered for the template id.
func (s *Stats) hostCallOf(id uint64, name []byte) *HostCallStats {
	if id == 0 {
		return s.hostCall(name)
	}
	e := &s.byTemplate[id%uint64(len(s.byTemplate))]
	if e.id == id && e.h != nil {
		return e.h
	}
	h := s.hostCall(name)
	if h != nil && h.Name == string(name) {
		*e = templateFunc{id: id, h: h}
	}
	return h
}

// templateFunc is the function of a template (see lineScanner).
type templateFunc struct {
	id uint64
	cb *CallbackStats
	h  *HostCallStats
}

func (s *Stats) callback(name []byte) *CallbackStats {
	slot := nameSlot(name)
	if cb := s.cbCache[slot]; cb != nil && cb.Name == string(name) {
		return cb
	}
	cb := s.lookupCallback(name)
	if cb != nil && cb.Name == string(name) {
		s.cbCache[slot] = cb
	}
	return cb
}

func (s *Stats) lookupCallback(name []byte) *CallbackStats {
	if cb, ok := s.Callbacks[string(name)]; ok {
		return cb
	}
	if checkName(name, false) != "" {
		return nil
	}
	key := string(name)
	if len(s.Callbacks) >= maxStatNames {
		key = "(other)"
		if cb, ok := s.Callbacks[key]; ok {
			return cb
		}
	}
	cb := &CallbackStats{Name: key}
	s.Callbacks[key] = cb
	return cb
}

func (s *Stats) hostCall(name []byte) *HostCallStats {
	slot := nameSlot(name)
	if h := s.hostCache[slot]; h != nil && h.Name == string(name) {
		return h
	}
	h := s.lookupHostCall(name)
	if h != nil && h.Name == string(name) {
		s.hostCache[slot] = h
	}
	return h
}

func (s *Stats) lookupHostCall(name []byte) *HostCallStats {
	if h, ok := s.HostCalls[string(name)]; ok {
		return h
	}
	if checkName(name, true) != "" {
		return nil
	}
	key := string(name)
	if len(s.HostCalls) >= maxStatNames {
		key = "(other)"
		if h, ok := s.HostCalls[key]; ok {
			return h
		}
	}
	h := &HostCallStats{Name: key}
	if hf := lookupHost(key); hf != nil {
		h.result = hf.Result
	} else {
		h.result = abi.ResultStatus
	}
	s.HostCalls[key] = h
	return h
}

// threadKey packs a thread id of up to 7 bytes that came without an
// origin into a word, its length in the top byte; 0 for any other.
func threadKey(thread, origin []byte) uint64 {
	if len(origin) != 0 || len(thread) == 0 || len(thread) > 7 {
		return 0
	}
	k := uint64(len(thread)) << 56
	for i, c := range thread {
		k |= uint64(c) << (8 * i)
	}
	return k
}

func (s *Stats) thread(c *statCall) *statThread {
	k := c.key
	if k == 0 {
		k = threadKey(c.thread, c.origin)
	}
	if k != 0 {
		e := &s.byKey[(k*0x9e3779b97f4a7c15)>>(64-threadSlotsLog)]
		if e.key != k {
			e.key, e.t = k, s.threadSlow(c.thread, c.origin)
		}
		return e.t
	}
	return s.threadSlow(c.thread, c.origin)
}

// threadSlotsLog is log2 of the size of the cache of short thread ids.
const threadSlotsLog = 4

func (s *Stats) threadSlow(thread, origin []byte) *statThread {
	if e := &s.recent[s.last]; e.t != nil && e.thread == string(thread) && e.origin == string(origin) {
		return e.t
	}
	for i := range s.recent {
		e := &s.recent[i]
		if e.t != nil && e.thread == string(thread) && e.origin == string(origin) {
			s.last = i
			return e.t
		}
	}
	t := s.lookupThread(thread, origin)
	s.recent[s.next] = recentThread{origin: string(origin), thread: string(thread), t: t}
	s.last = s.next
	s.next = (s.next + 1) % len(s.recent)
	return t
}

func (s *Stats) lookupThread(thread, origin []byte) *statThread {
	threads, ok := s.origins[string(origin)]
	if !ok {
		if len(s.origins) >= maxStatNames {
			threads = s.origins[""]
		}
		if threads == nil {
			threads = map[string]*statThread{}
			s.origins[string(origin)] = threads
		}
	}
	t, ok := threads[string(thread)]
	if !ok {
		if len(threads) >= maxStatNames {
			for _, any := range threads {
				return any
			}
		}
		t = &statThread{}
		threads[string(thread)] = t
	}
	return t
}

// Latency is a callback's latency summary in nanoseconds.
type Latency struct {
	Count         int // calls with both a start and an end time
	P50, P99, Max int64
}

// Latency returns the callback's latency percentiles (nearest rank).
// Exact while fewer than latencyExact distinct values were seen, then
// within 1/64 (about 1.6%).
func (cb *CallbackStats) Latency() Latency { return cb.lat.summary() }

// SortedCallbacks returns the callbacks by count, most called first.
func (s *Stats) SortedCallbacks() []*CallbackStats {
	out := make([]*CallbackStats, 0, len(s.Callbacks))
	for _, cb := range s.Callbacks {
		out = append(out, cb)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// SortedHostCalls returns the host functions by count, most called first.
func (s *Stats) SortedHostCalls() []*HostCallStats {
	out := make([]*HostCallStats, 0, len(s.HostCalls))
	for _, h := range s.HostCalls {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// FailedString renders the failed statuses: "BadArgument×3, NotFound×1".
func (h *HostCallStats) FailedString() string {
	if len(h.Failed) == 0 {
		return ""
	}
	names := make([]string, 0, len(h.Failed))
	for n := range h.Failed {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if h.Failed[names[i]] != h.Failed[names[j]] {
			return h.Failed[names[i]] > h.Failed[names[j]]
		}
		return names[i] < names[j]
	})
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		b.WriteString("×")
		b.WriteString(itoa(h.Failed[n]))
	}
	return b.String()
}

// latencies keeps exact counts per distinct value until there are too many,
// then a log-linear histogram with 64 buckets per power of two.
type latencies struct {
	exact valueCounts
	hist  []int64
	n     int
	max   int64
}

const latencyExact = 4096

func (l *latencies) add(v int64) {
	if v < 0 {
		v = 0
	}
	l.n++
	if v > l.max {
		l.max = v
	}
	if l.hist == nil {
		l.exact.inc(v)
		if l.exact.len <= latencyExact {
			return
		}
		l.hist = make([]int64, 64*64)
		for _, e := range l.exact.slots {
			if e.c != 0 {
				l.hist[bucketOf(e.v)] += int64(e.c)
			}
		}
		l.exact = valueCounts{}
		return
	}
	l.hist[bucketOf(v)]++
}

// valueCounts counts values in an open-addressing table with linear
// probing, at most half full: a callback's latency is counted once a
// return, where a Go map's generic insert cost several times more.
type valueCounts struct {
	slots []valueCount // a power of two; c is 0 in an empty slot
	len   int          // values with a slot
}

type valueCount struct {
	v int64
	c int
}

func (vc *valueCounts) inc(v int64) {
	if 2*(vc.len+1) > len(vc.slots) {
		vc.grow()
	}
	mask := len(vc.slots) - 1
	for i := int((uint64(v)*0x9e3779b97f4a7c15)>>32) & mask; ; i = (i + 1) & mask {
		e := &vc.slots[i]
		if e.c == 0 {
			e.v, e.c = v, 1
			vc.len++
			return
		}
		if e.v == v {
			e.c++
			return
		}
	}
}

func (vc *valueCounts) grow() {
	old := vc.slots
	vc.slots = make([]valueCount, max(64, 2*len(old)))
	mask := len(vc.slots) - 1
	for _, e := range old {
		if e.c == 0 {
			continue
		}
		i := int((uint64(e.v)*0x9e3779b97f4a7c15)>>32) & mask
		for vc.slots[i].c != 0 {
			i = (i + 1) & mask
		}
		vc.slots[i] = e
	}
}

// bucketOf maps v to a log-linear bucket: exact below 64, then 64
// sub-buckets per power of two.
func bucketOf(v int64) int {
	u := uint64(v)
	if u < 64 {
		return int(u)
	}
	e := bits.Len64(u) - 7 // u>>e is in [64, 128)
	return (e+1)*64 + int(u>>uint(e)) - 64
}

// bucketUpper is the largest value of a bucket.
func bucketUpper(b int) int64 {
	if b < 64 {
		return int64(b)
	}
	e := b/64 - 1
	m := int64(b%64 + 64)
	return (m+1)<<uint(e) - 1
}

func (l *latencies) summary() Latency {
	s := Latency{Count: l.n, Max: l.max}
	if l.n == 0 {
		return s
	}
	rank := func(p float64) int {
		r := int(p*float64(l.n) + 0.999999)
		if r < 1 {
			r = 1
		}
		return r
	}
	r50, r99 := rank(0.50), rank(0.99)
	if l.hist == nil {
		vals := make([]valueCount, 0, l.exact.len)
		for _, e := range l.exact.slots {
			if e.c != 0 {
				vals = append(vals, e)
			}
		}
		sort.Slice(vals, func(i, j int) bool { return vals[i].v < vals[j].v })
		seen, got50 := 0, false
		for _, e := range vals {
			seen += e.c
			if !got50 && seen >= r50 {
				s.P50, got50 = e.v, true
			}
			if seen >= r99 {
				s.P99 = e.v
				break
			}
		}
		return s
	}
	var seen int64
	got50 := false
	for b, c := range l.hist {
		seen += c
		if !got50 && seen >= int64(r50) {
			s.P50, got50 = min(bucketUpper(b), l.max), true
		}
		if seen >= int64(r99) {
			s.P99 = min(bucketUpper(b), l.max)
			break
		}
	}
	return s
}

// WriteText prints the stats as tables.
func (s *Stats) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	cbs := s.SortedCallbacks()
	width := len("CALLBACK")
	for _, cb := range cbs {
		width = max(width, len(cb.Name))
	}
	fmt.Fprintf(bw, "%-*s  %9s  %7s  %10s  %10s  %10s\n", width, "CALLBACK", "COUNT", "TRAPPED", "P50", "P99", "MAX")
	for _, cb := range cbs {
		l := cb.Latency()
		p50, p99, mx := "-", "-", "-"
		if l.Count > 0 {
			p50, p99, mx = time.Duration(l.P50).String(), time.Duration(l.P99).String(), time.Duration(l.Max).String()
		}
		fmt.Fprintf(bw, "%-*s  %9d  %7d  %10s  %10s  %10s\n", width, cb.Name, cb.Count, cb.Trapped, p50, p99, mx)
	}
	hcs := s.SortedHostCalls()
	width = len("HOST CALL")
	for _, h := range hcs {
		width = max(width, len(h.Name))
	}
	fmt.Fprintf(bw, "\n%-*s  %9s  %s\n", width, "HOST CALL", "COUNT", "NOT OK")
	for _, h := range hcs {
		fmt.Fprintf(bw, "%-*s  %9d", width, h.Name, h.Count)
		if f := h.FailedString(); f != "" {
			bw.WriteString("  " + f)
		}
		bw.WriteString("\n")
	}
	fmt.Fprintf(bw, "\nplugin logs: ")
	if len(s.LogLevels) == 0 {
		bw.WriteString("none\n")
	} else {
		bw.WriteString(countsString(s.LogLevels, levelOrder) + "\n")
	}
	fmt.Fprintf(bw, "crashes: %d, VM failures: %d, records: %d, unparseable lines: %d\n", s.Crashes, s.VMFailures, s.Records, s.Malformed)
	return bw.Flush()
}

// StatsJSON is the --stats --json document.
type StatsJSON struct {
	Kind       string             `json:"kind"` // "stats"
	Records    int                `json:"records"`
	Callbacks  []CallbackStatJSON `json:"callbacks"`
	HostCalls  []HostCallStatJSON `json:"host_calls"`
	LogLevels  map[string]int     `json:"plugin_logs"`
	Crashes    int                `json:"crashes"`
	VMFailures int                `json:"vm_failures"`
	Malformed  int                `json:"malformed"`
}

// CallbackStatJSON is one callback's numbers; latencies in nanoseconds.
type CallbackStatJSON struct {
	Function   string `json:"function"`
	Count      int    `json:"count"`
	Trapped    int    `json:"trapped,omitempty"`
	Unreturned int    `json:"unreturned,omitempty"`
	Timed      int    `json:"timed"`
	P50NS      int64  `json:"p50_ns"`
	P99NS      int64  `json:"p99_ns"`
	MaxNS      int64  `json:"max_ns"`
}

// HostCallStatJSON is one host function's numbers.
type HostCallStatJSON struct {
	Function string         `json:"function"`
	Count    int            `json:"count"`
	NotOk    map[string]int `json:"not_ok,omitempty"`
}

// JSON returns the stats as a JSON document value.
func (s *Stats) JSON() StatsJSON {
	out := StatsJSON{Kind: "stats", Records: s.Records, LogLevels: s.LogLevels, Crashes: s.Crashes,
		VMFailures: s.VMFailures, Malformed: s.Malformed, Callbacks: []CallbackStatJSON{}, HostCalls: []HostCallStatJSON{}}
	for _, cb := range s.SortedCallbacks() {
		l := cb.Latency()
		out.Callbacks = append(out.Callbacks, CallbackStatJSON{Function: cb.Name, Count: cb.Count, Trapped: cb.Trapped,
			Unreturned: cb.Unreturned, Timed: l.Count, P50NS: l.P50, P99NS: l.P99, MaxNS: l.Max})
	}
	for _, h := range s.SortedHostCalls() {
		out.HostCalls = append(out.HostCalls, HostCallStatJSON{Function: h.Name, Count: h.Count, NotOk: h.Failed})
	}
	return out
}
