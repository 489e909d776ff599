package tui

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// store keeps every event the UI has seen, compactly: a 48-byte row per
// event in fixed-size chunks (no doubling copies, no slack beyond one
// chunk), the repeated strings (function names, statuses, plugins,
// threads) interned once, short texts that repeat (arguments, decoded
// arguments) stored once, and the rest in a chunked byte arena. A million
// wasm:trace events take about half the size of the log they came from,
// and a tracer.Event is rebuilt only for the rows on screen.
type store struct {
	rows  chunked[row]
	arena arena
	names interner // functions, plugins, reasons, callbacks
	small interner // statuses, actions, runtimes, threads: at most 65535

	crashes []crash
	// logs lists the rows the Logs view shows, in order.
	logs    []int32
	plugins []uint32 // interned plugin names, in order of first appearance
	plugin  map[uint32]bool

	tl timeline

	counts  [numKinds]int
	buf     []byte // scratch for add
	scratch []byte // scratch for decodedBytes
}

// row is one event, 40 bytes. A call's duration comes from the times of
// its two lines (tracer's DurationNS is the same difference). Which fields mean what depends on the kind:
//
//	call        name=function, text=args or return value, extra=decoded or
//	            annotation, status=status or action
//	plugin_log  name=plugin, text=message
//	other       text=message
//	crash       name=callback, status=runtime, extra.off=index in crashes
//	vm_failure  name=reason, text=message, extra=hint
//	finding     name=reason, text=message, extra=hint
type row struct {
	time   int64 // Unix nanoseconds, 0 when the source gave no time
	text   span
	extra  span
	line   int32
	name   uint32
	status uint16
	thread uint16 // interned origin + thread: thread ids are per proxy
	kind   kindCode
	dir    dirCode
	level  level
}

// crash is the index in store.crashes of a crash row.
func (r *row) crash() int { return int(r.extra.off) }

// span is a piece of the arena.
type span struct{ off, n uint32 }

// chunkBits sets the rows and items per chunk (65536).
const chunkBits = 16

// chunked is an append-only slice stored in fixed-size chunks: growing it
// copies at most one chunk. The first chunk starts small, so a short log
// costs little.
type chunked[T any] struct {
	chunks [][]T
	n      int
}

func (c *chunked[T]) at(i int32) *T {
	return &c.chunks[i>>chunkBits][i&(1<<chunkBits-1)]
}

func (c *chunked[T]) add(v T) int32 {
	if c.n&(1<<chunkBits-1) == 0 {
		size := 1 << chunkBits
		if c.n == 0 {
			size = 1024
		}
		c.chunks = append(c.chunks, make([]T, 0, size))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, v)
	c.n++
	return int32(c.n - 1)
}

func (c *chunked[T]) len() int { return c.n }

// arena holds text in 4 MiB chunks; a text never straddles two.
type arena struct {
	chunks [][]byte
	size   uint32 // offset of the next byte
	// seen maps short texts to where they are, so repeats cost nothing;
	// it stops growing at maxSeen entries.
	seen map[string]span
}

const (
	arenaChunk = 4 << 20
	maxText    = 1 << 20 // longer texts are cut (the tracer caps records at 1 MiB too)
	maxSeen    = 1 << 14
	maxSeenLen = 160
)

func (a *arena) put(b string) span {
	if b == "" {
		return span{}
	}
	if len(b) > maxText {
		b = b[:maxText]
	}
	if len(b) <= maxSeenLen {
		if sp, ok := a.seen[b]; ok {
			return sp
		}
	}
	off := a.size
	room := arenaChunk - int(off%arenaChunk)
	if len(a.chunks) == 0 || len(b) > room {
		off = uint32(len(a.chunks)) * arenaChunk
		size := arenaChunk
		if len(a.chunks) == 0 {
			size = 64 << 10 // grows by append up to arenaChunk
		}
		a.chunks = append(a.chunks, make([]byte, 0, size))
	}
	last := &a.chunks[len(a.chunks)-1]
	*last = append(*last, b...)
	a.size = off + uint32(len(b))
	sp := span{off: off, n: uint32(len(b))}
	if len(b) <= maxSeenLen {
		if a.seen == nil {
			a.seen = map[string]span{}
		}
		if len(a.seen) < maxSeen {
			a.seen[b] = sp
		}
	}
	return sp
}

func (a *arena) bytes(sp span) []byte {
	if sp.n == 0 {
		return nil
	}
	c := a.chunks[sp.off/arenaChunk]
	o := sp.off % arenaChunk
	return c[o : o+sp.n]
}

type kindCode uint8

const (
	kOther kindCode = iota
	kCall
	kPluginLog
	kCrash
	kVMFailure
	kFinding
	numKinds
)

var kindCodes = map[tracer.Kind]kindCode{
	tracer.KindCall: kCall, tracer.KindPluginLog: kPluginLog, tracer.KindCrash: kCrash,
	tracer.KindVMFailure: kVMFailure, tracer.KindFinding: kFinding, tracer.KindOther: kOther,
}

var kindNames = [numKinds]tracer.Kind{tracer.KindOther, tracer.KindCall, tracer.KindPluginLog,
	tracer.KindCrash, tracer.KindVMFailure, tracer.KindFinding}

type dirCode uint8

const (
	dNone dirCode = iota
	dHostToVM
	dHostFromVM
	dVMToHost
	dVMFromHost
)

var dirCodes = map[tracer.Direction]dirCode{
	tracer.HostToVM: dHostToVM, tracer.HostFromVM: dHostFromVM,
	tracer.VMToHost: dVMToHost, tracer.VMFromHost: dVMFromHost,
}

var dirNames = [...]tracer.Direction{"", tracer.HostToVM, tracer.HostFromVM, tracer.VMToHost, tracer.VMFromHost}

// crash is a crash event kept whole (there are few), with its frames once
// the source resolved them.
type crash struct {
	ev       tracer.Event
	row      int32
	item     int32 // the timeline item of the callback that trapped; -1 if unknown
	resolved [][]loc.Frame
	done     bool // resolution finished (resolved may still hold nils)
	err      string
}

// interner gives each distinct string a small number. With a limit, the
// strings past it share the last number, shown as "…".
type interner struct {
	ids   map[string]uint32
	strs  []string
	limit int
}

func (in *interner) id(s string) uint32 {
	if s == "" {
		return 0
	}
	if in.ids == nil {
		in.ids = map[string]uint32{}
		in.strs = []string{""}
	}
	if id, ok := in.ids[s]; ok {
		return id
	}
	if in.limit > 0 && len(in.strs) >= in.limit {
		if len(in.strs) == in.limit {
			in.strs = append(in.strs, "…")
		}
		return uint32(in.limit)
	}
	id := uint32(len(in.strs))
	in.strs = append(in.strs, sanitize(s))
	in.ids[s] = id
	return id
}

func (in *interner) id16(s string) uint16 { return uint16(in.id(s)) }

func (in *interner) str(id uint32) string {
	if int(id) >= len(in.strs) {
		return ""
	}
	return in.strs[id]
}

// smallLimit keeps the small interner's numbers in 16 bits.
const smallLimit = 1<<16 - 1

func newStore() *store {
	s := &store{plugin: map[uint32]bool{}, small: interner{limit: smallLimit}}
	s.tl.init()
	return s
}

func (s *store) at(i int32) *row { return s.rows.at(i) }

func (s *store) put(b string) span { return s.arena.put(sanitize(b)) }

// putBytes is put for a scratch buffer: a text seen before costs no
// allocation.
func (s *store) putBytes(b []byte) span {
	if len(b) <= maxSeenLen {
		if sp, ok := s.arena.seen[string(b)]; ok {
			return sp
		}
	}
	return s.put(string(b))
}

// putRaw is putBytes for text already sanitized (the compact decoded
// arguments, whose markers are control bytes on purpose).
func (s *store) putRaw(b []byte) span {
	if len(b) <= maxSeenLen {
		if sp, ok := s.arena.seen[string(b)]; ok {
			return sp
		}
	}
	return s.arena.put(string(b))
}

// decoded is a call's decoded arguments as text: "map_type=HttpRequestHeaders, key=0x100e8c".
func (s *store) decoded(r *row) string { return string(s.decodedBytes(r)) }

// decodedBytes is decoded into a scratch buffer, valid until the next call.
func (s *store) decodedBytes(r *row) []byte {
	b := s.bytes(r.extra)
	if r.kind != kCall || !hasMarker(b) {
		return b
	}
	s.scratch = expandArgs(s.scratch[:0], b, s.bytes(r.text))
	return s.scratch
}

func (s *store) text(sp span) string { return string(s.arena.bytes(sp)) }

// bytes returns the span's bytes without copying; they must not be kept.
func (s *store) bytes(sp span) []byte { return s.arena.bytes(sp) }

// add appends one event.
func (s *store) add(e *tracer.Event) {
	idx := int32(s.rows.len())
	r := row{
		time:   parseTime(e.Time),
		line:   int32(e.Line),
		kind:   kindCodes[e.Kind],
		level:  parseLevel(e.Level),
		thread: s.small.id16(threadKey(e.Origin, e.Thread)),
	}
	switch r.kind {
	case kCall:
		r.dir = dirCodes[e.Direction]
		r.name = s.names.id(e.Function)
		if e.Return != nil {
			r.text = s.put(string(*e.Return))
		} else {
			s.buf = appendNumbers(s.buf[:0], e.Args)
			r.text = s.putBytes(s.buf)
		}
		switch {
		case len(e.Decoded) > 0:
			s.buf = appendCompactArgs(s.buf[:0], e.Decoded, e.Args)
			r.extra = s.putRaw(s.buf)
		case e.Annotation != "":
			r.extra = s.put(e.Annotation)
		}
		st := e.Status
		if st == "" {
			st = e.Action
		}
		r.status = s.small.id16(st)
	case kPluginLog:
		r.name = s.names.id(e.Plugin)
		r.text = s.put(e.Message)
		if !s.plugin[r.name] {
			s.plugin[r.name] = true
			s.plugins = append(s.plugins, r.name)
		}
	case kCrash:
		r.name = s.names.id(e.Callback)
		r.status = s.small.id16(e.Runtime)
		r.text = s.put(e.Message)
		r.extra = span{off: uint32(len(s.crashes))}
		s.crashes = append(s.crashes, crash{ev: sanitizeCrash(*e), row: idx, item: -1})
	case kVMFailure, kFinding:
		r.name = s.names.id(e.Reason)
		r.text = s.put(e.Message)
		r.extra = s.put(e.Hint)
	default:
		r.text = s.put(e.Message)
	}
	s.rows.add(r)
	s.counts[r.kind]++
	if r.kind != kCall {
		s.logs = append(s.logs, idx)
	}
	s.tl.add(s, idx)
}

// event rebuilds the tracer.Event of row i, for detail views and tests.
func (s *store) event(i int32) tracer.Event {
	r := s.at(i)
	if r.kind == kCrash {
		return s.crashes[r.crash()].ev
	}
	origin, thread := splitThreadKey(s.small.str(uint32(r.thread)))
	e := tracer.Event{
		Kind:   kindNames[r.kind],
		Line:   int(r.line),
		Origin: origin,
		Thread: thread,
		Level:  levelNames[r.level],
	}
	if r.time != 0 {
		e.Time = time.Unix(0, r.time).UTC().Format(time.RFC3339Nano)
	}
	switch r.kind {
	case kCall:
		e.Direction = dirNames[r.dir]
		e.Function = s.names.str(r.name)
		if r.dir == dHostFromVM || r.dir == dVMFromHost {
			n := tracer.Number(s.text(r.text))
			e.Return = &n
		} else {
			e.Args = splitNumbers(s.text(r.text))
		}
		st := s.small.str(uint32(r.status))
		if r.dir == dHostFromVM {
			e.Action = st
		} else {
			e.Status = st
		}
	case kPluginLog:
		e.Plugin = s.names.str(r.name)
		e.Message = s.text(r.text)
	case kVMFailure, kFinding:
		e.Reason = s.names.str(r.name)
		e.Message = s.text(r.text)
		e.Hint = s.text(r.extra)
	default:
		e.Message = s.text(r.text)
	}
	return e
}

// threadKey joins an origin and a thread id: thread ids are unique only
// per proxy, and a log can hold several (kubectl logs --prefix).
func threadKey(origin, thread string) string {
	if origin == "" {
		return thread
	}
	return origin + "\x00" + thread
}

func splitThreadKey(k string) (origin, thread string) {
	if o, t, ok := strings.Cut(k, "\x00"); ok {
		return o, t
	}
	return "", k
}

// appendNumbers writes numbers as "1, 2, 3".
func appendNumbers(b []byte, ns []tracer.Number) []byte {
	for i, n := range ns {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, n...)
	}
	return b
}

func splitNumbers(s string) []tracer.Number {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ", ")
	out := make([]tracer.Number, len(parts))
	for i, p := range parts {
		out[i] = tracer.Number(p)
	}
	return out
}

// level is a log level, ordered by severity.
type level uint8

const (
	lvNone level = iota
	lvTrace
	lvDebug
	lvInfo
	lvWarning
	lvError
	lvCritical
	numLevels
)

var levelNames = [numLevels]string{"", "trace", "debug", "info", "warning", "error", "critical"}

// levelShort is the level as the Logs view prints it, five columns wide.
var levelShort = [numLevels]string{"     ", "trace", "debug", "info ", "warn ", "error", "crit "}

// parseLevel reads a level as Envoy, Istio and nginx print it.
func parseLevel(s string) level {
	switch strings.ToLower(s) {
	case "trace":
		return lvTrace
	case "debug":
		return lvDebug
	case "info", "notice":
		return lvInfo
	case "warning", "warn":
		return lvWarning
	case "error", "err":
		return lvError
	case "critical", "crit", "fatal", "alert", "emerg":
		return lvCritical
	}
	return lvNone
}

// timeLayouts are the shapes of tracer.Event.Time: RFC 3339 with the
// source's precision, with or without a zone (Envoy's default format has
// none, which means UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

func parseTime(s string) int64 {
	if s == "" {
		return 0
	}
	if ns, ok := parseTimeFast(s); ok {
		return ns
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano()
		}
	}
	return 0
}

// reset forgets every event (a replay restarted).
func (s *store) reset() {
	*s = *newStore()
}

// sanitizeCrash cleans the text of a crash event kept whole.
func sanitizeCrash(e tracer.Event) tracer.Event {
	e.Callback, e.Message, e.PanicText = sanitize(e.Callback), sanitize(e.Message), sanitize(e.PanicText)
	e.Frames = append([]tracer.Frame(nil), e.Frames...)
	for i := range e.Frames {
		f := &e.Frames[i]
		f.Function, f.Demangled, f.File, f.Offset = sanitize(f.Function), sanitize(f.Demangled), sanitize(f.File), sanitize(f.Offset)
	}
	return e
}

// parseTimeFast reads the common shape "2006-01-02T15:04:05[.frac][Z]"
// (UTC) without time.Parse; anything else is left to it.
func parseTimeFast(s string) (int64, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' && s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 {
		return 0, false
	}
	rest := s[19:]
	frac := 0
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := 100000000
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if scale > 0 {
				frac += int(rest[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == 1 {
			return 0, false
		}
		rest = rest[i:]
	}
	if rest != "" && rest != "Z" {
		return 0, false // an offset: time.Parse knows them
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, frac, time.UTC).UnixNano(), true
}

// Compact decoded arguments. Most decoded values restate a raw argument
// (a size as printed) or its pointer in hex ("0x100e8c"); pointers differ
// from call to call, so the decoded texts would hardly ever repeat. Stored
// with the value replaced by a marker and the argument's index, the text
// of, say, every proxy_get_header_map_value on the request headers is the
// same and is stored once (arena.seen), and the values come back from the
// raw arguments on display.
const (
	markHex  = 0x01 // followed by i: "0x" + hex of raw argument i
	markSame = 0x02 // followed by i: raw argument i as printed
)

func appendCompactArgs(b []byte, as []tracer.Arg, raw []tracer.Number) []byte {
	for i, a := range as {
		if i > 0 {
			b = append(b, ", "...)
		}
		if a.Name != "" {
			b = append(b, sanitize(a.Name)...)
			b = append(b, '=')
		}
		b = appendCompactValue(b, a.Value, raw)
	}
	return b
}

// appendCompactValue writes v, or a marker for the raw argument it
// restates (the nearest by position is tried first: tracer's decoded
// arguments line up with the raw ones, replay's skip the sizes).
func appendCompactValue(b []byte, v string, raw []tracer.Number) []byte {
	for i := 0; i < len(raw) && i < 200; i++ {
		r := string(raw[i])
		switch {
		case v == r && r != "":
			return append(b, markSame, byte(i))
		case strings.HasPrefix(v, "0x") && isHexOf(v[2:], r):
			return append(b, markHex, byte(i))
		}
	}
	return append(b, sanitize(v)...)
}

// isHexOf reports whether hex is the decimal number dec in lower-case hex.
func isHexOf(hex, dec string) bool {
	if hex == "" || dec == "" || dec[0] == '-' {
		return false
	}
	n, err := strconv.ParseUint(dec, 10, 64)
	if err != nil {
		return false
	}
	var tmp [16]byte
	return string(strconv.AppendUint(tmp[:0], n, 16)) == hex
}

func hasMarker(b []byte) bool {
	for _, c := range b {
		if c == markHex || c == markSame {
			return true
		}
	}
	return false
}

// expandArgs writes compact decoded arguments back as text, taking the
// values from the raw arguments ("1, 2, 3").
func expandArgs(out, b, raw []byte) []byte {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if (c != markHex && c != markSame) || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		i++
		arg := nthArg(raw, int(b[i]))
		if c == markSame {
			out = append(out, arg...)
			continue
		}
		n, err := strconv.ParseUint(string(arg), 10, 64)
		if err != nil {
			out = append(out, '?')
			continue
		}
		out = append(out, "0x"...)
		out = strconv.AppendUint(out, n, 16)
	}
	return out
}

// nthArg is argument n of "a, b, c".
func nthArg(raw []byte, n int) []byte {
	for ; n > 0; n-- {
		i := bytes.Index(raw, []byte(", "))
		if i < 0 {
			return nil
		}
		raw = raw[i+2:]
	}
	if i := bytes.Index(raw, []byte(", ")); i >= 0 {
		return raw[:i]
	}
	return raw
}
