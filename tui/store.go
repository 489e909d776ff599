package tui

import (
	"strings"
	"time"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// store keeps every event the UI has seen, compactly: a fixed-size row per
// event, the repeated strings (function names, statuses, plugins, threads)
// interned once, and the rest of the text in one byte arena. A million
// wasm:trace events take well under the size of the log they came from,
// and a tracer.Event is rebuilt only for the rows on screen.
type store struct {
	rows  []row
	arena []byte
	names interner

	crashes []crash
	// logs lists the rows the Logs view shows, in order.
	logs    []int32
	plugins []uint32 // interned plugin names, in order of first appearance
	plugin  map[uint32]bool

	tl timeline

	counts [numKinds]int
}

// row is one event. Which fields mean what depends on the kind:
//
//	call        name=function, text=args or return value, extra=decoded or
//	            annotation, status=status or action
//	plugin_log  name=plugin, text=message
//	other       text=message
//	crash       name=callback, status=runtime, ref=index in crashes
//	vm_failure  name=reason, text=message, extra=hint
//	finding     name=reason, text=message, extra=hint
type row struct {
	time   int64 // Unix nanoseconds, 0 when the source gave no time
	dur    int64 // a return's DurationNS, when the source measured it
	text   span
	extra  span
	line   int32
	ctx    uint32 // context id + 1; 0 when none
	name   uint32
	status uint32
	thread uint32 // interned origin + thread: thread ids are per proxy
	ref    int32
	kind   kindCode
	dir    dirCode
	level  level
}

// span is a piece of the arena.
type span struct{ off, n uint32 }

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

// interner gives each distinct string a small number.
type interner struct {
	ids  map[string]uint32
	strs []string
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
	id := uint32(len(in.strs))
	in.strs = append(in.strs, sanitize(s))
	in.ids[s] = id
	return id
}

func (in *interner) str(id uint32) string {
	if int(id) >= len(in.strs) {
		return ""
	}
	return in.strs[id]
}

func newStore() *store {
	s := &store{plugin: map[uint32]bool{}}
	s.tl.init()
	return s
}

func (s *store) put(b string) span {
	if b == "" {
		return span{}
	}
	b = sanitize(b)
	sp := span{off: uint32(len(s.arena)), n: uint32(len(b))}
	s.arena = append(s.arena, b...)
	return sp
}

func (s *store) text(sp span) string {
	if sp.n == 0 {
		return ""
	}
	return string(s.arena[sp.off : sp.off+sp.n])
}

// bytes returns the span's bytes without copying; they must not be kept.
func (s *store) bytes(sp span) []byte { return s.arena[sp.off : sp.off+sp.n] }

// add appends one event.
func (s *store) add(e *tracer.Event) {
	idx := int32(len(s.rows))
	r := row{
		time:   parseTime(e.Time),
		line:   int32(e.Line),
		kind:   kindCodes[e.Kind],
		level:  parseLevel(e.Level),
		thread: s.names.id(threadKey(e.Origin, e.Thread)),
		ref:    -1,
		dur:    e.DurationNS,
	}
	if e.ContextID != nil {
		r.ctx = *e.ContextID + 1
	}
	switch r.kind {
	case kCall:
		r.dir = dirCodes[e.Direction]
		r.name = s.names.id(e.Function)
		if e.Return != nil {
			r.text = s.put(string(*e.Return))
		} else {
			r.text = s.put(joinNumbers(e.Args))
		}
		switch {
		case len(e.Decoded) > 0:
			r.extra = s.put(joinArgs(e.Decoded))
		case e.Annotation != "":
			r.extra = s.put(e.Annotation)
		}
		st := e.Status
		if st == "" {
			st = e.Action
		}
		r.status = s.names.id(st)
	case kPluginLog:
		r.name = s.names.id(e.Plugin)
		r.text = s.put(e.Message)
		if !s.plugin[r.name] {
			s.plugin[r.name] = true
			s.plugins = append(s.plugins, r.name)
		}
	case kCrash:
		r.name = s.names.id(e.Callback)
		r.status = s.names.id(e.Runtime)
		r.text = s.put(e.Message)
		r.ref = int32(len(s.crashes))
		s.crashes = append(s.crashes, crash{ev: sanitizeCrash(*e), row: idx, item: -1})
	case kVMFailure, kFinding:
		r.name = s.names.id(e.Reason)
		r.text = s.put(e.Message)
		r.extra = s.put(e.Hint)
	default:
		r.text = s.put(e.Message)
	}
	s.rows = append(s.rows, r)
	s.counts[r.kind]++
	if r.kind != kCall {
		s.logs = append(s.logs, idx)
	}
	s.tl.add(s, idx)
}

// event rebuilds the tracer.Event of row i, for detail views and tests.
func (s *store) event(i int32) tracer.Event {
	r := &s.rows[i]
	if r.kind == kCrash {
		return s.crashes[r.ref].ev
	}
	origin, thread := splitThreadKey(s.names.str(r.thread))
	e := tracer.Event{
		Kind:       kindNames[r.kind],
		Line:       int(r.line),
		Origin:     origin,
		Thread:     thread,
		Level:      levelNames[r.level],
		DurationNS: r.dur,
	}
	if r.time != 0 {
		e.Time = time.Unix(0, r.time).UTC().Format(time.RFC3339Nano)
	}
	if r.ctx != 0 {
		c := r.ctx - 1
		e.ContextID = &c
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
		e.Status = s.names.str(r.status)
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

func joinNumbers(ns []tracer.Number) string {
	switch len(ns) {
	case 0:
		return ""
	case 1:
		return string(ns[0])
	}
	var b strings.Builder
	for i, n := range ns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(n))
	}
	return b.String()
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

func joinArgs(as []tracer.Arg) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteString(", ")
		}
		if a.Name != "" {
			b.WriteString(a.Name)
			b.WriteByte('=')
		}
		b.WriteString(a.Value)
	}
	return b.String()
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
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano()
		}
	}
	return 0
}

// reset forgets every event (a replay restarted).
func (s *store) reset() {
	*s = store{arena: s.arena[:0], rows: s.rows[:0], plugin: map[uint32]bool{}, tl: s.tl}
	s.tl.reset()
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
