package tracer

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// Options configure a Decoder.
type Options struct {
	// File names the input in error messages ("trace.log:12: …").
	File string
	// SetFile copies File into every event (when several inputs are read).
	SetFile bool
	// Strict makes Decode return an error for a line that looks like a
	// known format but does not parse; by default it becomes an "other"
	// event with Malformed set, and is counted in the Summary.
	Strict bool
	// Tree keeps every callback with its host calls for Contexts and the
	// Perfetto export. Without it only open callbacks are kept, so memory
	// stays flat on an endless input.
	Tree bool
	// Resolver, when set, symbolizes crash frames (module offsets for V8
	// and wasmtime, code offsets for wazero).
	Resolver loc.Resolver
}

// Call is a node of the call tree: a callback (host->vm) with the host
// calls it made (vm->host), which may nest further callbacks (the host
// calling malloc inside a host call).
type Call struct {
	Direction  Direction // HostToVM for a callback, VMToHost for a host call
	Function   string
	Args       []Number
	Decoded    []Arg
	Return     *Number // nil when no return line came
	Status     string  // meaning of a host call's return (WasmResult, WASI errno)
	Action     string  // meaning of a callback's return
	Annotation string  // replay's decoded form of the call line
	Line       int
	EndLine    int   // line of the return (or of the crash that ended it)
	Start, End int64 // Unix nanoseconds, 0 when the source has no time
	Thread     string
	Origin     string
	ContextID  uint32
	HasContext bool
	// Trapped: a crash ended the callback. Unreturned: it ended without a
	// return line for another reason (a later callback started, the input
	// ended).
	Trapped    bool
	Unreturned bool
	Children   []*Call
	Logs       []LogRef // plugin logs written while the callback ran
	// Dropped counts children not kept (over maxChildren).
	Dropped int

	pending []pendingStatus
	flagged bool // a placement finding was reported for this call
	// lastErr is the last plugin log at error or critical written while
	// this was the innermost open callback: the last words linked to a
	// crash that ends it when no recognised panic text came.
	lastErr LogRef
	// errRun: lastErr is this callback's latest child, apart from the
	// host calls that wrote it (fd_write, proxy_log).
	errRun bool
}

// LogRef is a plugin log line inside a callback.
type LogRef struct {
	Line    int
	Level   string
	Message string
	// first is the line of the first of several error logs joined into
	// one account of a crash (lastWords); 0 when Message is one log's.
	first int
}

type pendingStatus struct {
	line     int
	function string
	status   string
}

// maxChildren caps the host calls kept per callback.
const maxChildren = 4096

// Summary counts what a Decoder saw.
type Summary struct {
	Records    int
	Calls      int // call events
	Callbacks  int // [host->vm] lines
	PluginLogs int
	Crashes    int
	VMFailures int
	Findings   int // distinct findings emitted
	Other      int
	// Malformed counts lines that looked like a known format but did not
	// parse; FirstMalformed is the first one ("trace.log:12: …").
	Malformed      int
	FirstMalformed string
	// Unreturned counts callbacks that ended without a return line and
	// without a crash.
	Unreturned int
	// FindingCounts counts every occurrence by reason, including the
	// repeats that were not emitted again.
	FindingCounts map[string]int
	// LogLevels counts plugin logs by level.
	LogLevels map[string]int
	// TruncatedRecords counts records whose message was cut at
	// Reader.MaxRecordBytes.
	TruncatedRecords int
}

// Decoder turns records into events: it parses wasm:trace calls and
// decodes their numbers with the ABI tables, pairs them into call trees
// per thread, recognises plugin logs, crashes and VM failures, links each
// crash to the plugin's panic text, the callback it ended and the host
// calls before it, and reports findings.
type Decoder struct {
	opts    Options
	threads map[string]*threadState
	order   []*threadState
	intern  map[string]string
	sum     Summary
	out     []Event
	seen    map[string]bool // findings already emitted
	// occurrences counts findings by key, the repeats included.
	occurrences map[string]int
	// lastLog is the last plugin log anywhere, for hints.
	lastLog     LogRef
	lastLogKey  string
	lastPanic   panicRef
	pendingSigs []Event
	contexts    []*Context
	lastThread  *threadState
	// errThreads are the threads whose last record is a plugin log at
	// error or critical (threadState.errLog): few, so every record checks
	// them.
	errThreads  []*threadState
	lastTime    []byte // the last record's raw time and its rendering
	lastTimeStr string
	ctxIndex    map[ctxKey]*Context
}

type panicRef struct {
	line int
	text string
	key  string
}

type ctxKey struct {
	thread *threadState
	id     uint32
}

// threadState is one worker thread's open calls. Thread ids are unique
// per source (origin), so the key is origin + thread.
type threadState struct {
	origin, thread string
	stack          []*Call
	contexts       map[uint32]uint32 // context id -> parent (0: a root context)
	lastPanic      panicRef
	lastLog        LogRef
	lastTrapped    string // callback a crash ended, whose late "return: void" (wasmtime) is ignored
	effective      bool   // proxy_set_effective_context called in the open callback
	// errLog is the thread's last record while that record is a plugin
	// log at error or critical; the next record of the thread clears it.
	errLog LogRef
}

// NewDecoder returns a Decoder.
func NewDecoder(opts Options) *Decoder {
	return &Decoder{
		opts:        opts,
		threads:     map[string]*threadState{},
		intern:      map[string]string{},
		seen:        map[string]bool{},
		occurrences: map[string]int{},
		ctxIndex:    map[ctxKey]*Context{},
		sum:         Summary{FindingCounts: map[string]int{}, LogLevels: map[string]int{}},
	}
}

// Summary returns the counts so far.
func (d *Decoder) Summary() Summary { return d.sum }

// MalformedError is a line that looked like a known format but did not
// parse, reported in Strict mode.
type MalformedError struct {
	File   string
	Line   int
	Reason string
}

func (e *MalformedError) Error() string {
	f := e.File
	if f == "" {
		f = "<stdin>"
	}
	return fmt.Sprintf("%s:%d: %s", f, e.Line, e.Reason)
}

// Decode turns one record into events. The returned slice is reused by
// the next call. In Strict mode a malformed line is an error.
func (d *Decoder) Decode(r *Record) ([]Event, error) {
	evs, err := d.decode(r)
	if len(d.errThreads) > 0 {
		d.expireErrLogs(r)
	}
	return evs, err
}

func (d *Decoder) decode(r *Record) ([]Event, error) {
	d.out = d.out[:0]
	d.sum.Records++
	if r.truncated {
		d.sum.TruncatedRecords++
	}
	if r.Malformed != "" {
		if err := d.malformed(r, r.Malformed); err != nil {
			return nil, err
		}
		return d.out, nil
	}
	msg := r.Message
	var c CallLine
	if ok, bad := ParseCall(msg, &c); ok {
		d.call(r, &c)
		return d.out, nil
	} else if bad != "" {
		if err := d.malformed(r, "malformed wasm:trace line: "+bad); err != nil {
			return nil, err
		}
		return d.out, nil
	}
	if bytes.HasPrefix(msg, []byte("wasm log")) && len(msg) > 8 && (msg[8] == ':' || msg[8] == ' ') {
		d.pluginLog(r)
		return d.out, nil
	}
	if r.Framing == FramingNginx && startsWithPanic(msg) {
		// nginx hosts write the plugin's log lines as they are, with no
		// "wasm log" prefix; its panic text is still the plugin's.
		d.pluginLogMessage(r, "", string(msg))
		return d.out, nil
	}
	if crash, ok := ParseCrash(msg); ok {
		d.crash(r, crash)
		return d.out, nil
	}
	if f, ok := ClassifyVMFailure(string(msg)); ok && !proseStreamFailure(r, f, msg) {
		d.vmFailure(r, f)
		return d.out, nil
	}
	if inner, ok := quotedMessage(msg); ok {
		if crash, ok := ParseCrash(inner); ok {
			d.crash(r, crash)
			return d.out, nil
		}
		if f, ok := ClassifyVMFailure(string(inner)); ok {
			d.vmFailure(r, f)
			return d.out, nil
		}
	}
	e := d.base(r, KindOther)
	e.Message = string(msg)
	d.emit(e)
	d.sum.Other++
	return d.out, nil
}

// proseStreamFailure reports whether a stream failure found in a line
// with no log framing is a person's sentence about wasm_fail_stream ("the
// thread keeps showing the "wasm_fail_stream" error") rather than an
// access log line, which names the request ("GET /p HTTP/1.1" … 503) or is
// a JSON object ("response_code_details":"wasm_fail_stream").
func proseStreamFailure(r *Record, f VMFailure, msg []byte) bool {
	if f.Reason != ReasonStreamFailed || r.Framing != FramingNone {
		return false
	}
	t := bytes.TrimSpace(msg)
	return !bytes.Contains(t, []byte(" HTTP/")) && !bytes.HasPrefix(t, []byte("{")) && !bytes.HasPrefix(t, []byte("["))
}

// quotedMessage finds a host's message quoted whole inside a line a
// person pasted: between inline-code backticks ("`Failed to load …`"),
// or as the exception of a failed Envoy test ("C++ exception with
// description "Function: … failed: …" thrown in the test body.").
func quotedMessage(msg []byte) ([]byte, bool) {
	if bytes.IndexByte(msg, '\n') >= 0 {
		return nil, false
	}
	msg = bytes.TrimRight(msg, " \t")
	if n := len(msg); n > 2 && msg[0] == '`' && msg[n-1] == '`' && msg[1] != '`' {
		return msg[1 : n-1], true
	}
	const gtest = `C++ exception with description "`
	if i := bytes.Index(msg, []byte(gtest)); i >= 0 {
		rest := msg[i+len(gtest):]
		if j := bytes.LastIndex(rest, []byte(`" thrown in `)); j > 0 {
			return rest[:j], true
		}
	}
	return nil, false
}

// Flush ends the input: callbacks still open are closed as unreturned,
// with their findings.
func (d *Decoder) Flush() []Event {
	d.out = d.out[:0]
	for _, t := range d.order {
		for len(t.stack) > 0 {
			n := t.stack[len(t.stack)-1]
			d.closeNode(t, n, true, false, 0, 0)
		}
	}
	return d.out
}

func (d *Decoder) malformed(r *Record, reason string) error {
	d.sum.Malformed++
	if d.sum.FirstMalformed == "" {
		d.sum.FirstMalformed = (&MalformedError{File: d.opts.File, Line: r.Line, Reason: reason}).Error()
	}
	if d.opts.Strict {
		return &MalformedError{File: d.opts.File, Line: r.Line, Reason: reason}
	}
	e := d.base(r, KindOther)
	e.Message = string(r.Message)
	e.Malformed = reason
	d.emit(e)
	d.sum.Other++
	return nil
}

func (d *Decoder) emit(e Event) {
	if d.opts.SetFile {
		e.File = d.opts.File
	}
	d.out = append(d.out, e)
}

// base fills the fields every event gets from its record.
func (d *Decoder) base(r *Record, k Kind) Event {
	return Event{
		Kind:   k,
		Time:   d.timeString(r),
		Thread: d.str(r.Thread),
		Level:  normLevel(r.Level),
		Line:   r.Line,
		Origin: d.str(r.Origin),
	}
}

// str interns short repeated strings (threads, origins, function names).
func (d *Decoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.intern) < 1<<16 {
		d.intern[s] = s
	}
	return s
}

// timeString renders the record's time as RFC 3339 with the source's
// precision. Envoy and nginx print no zone; their time is taken as UTC
// (containers run in UTC; Record.Nanos makes the same assumption) and gets
// a "Z", as wasmdbg replay writes it.
func (d *Decoder) timeString(r *Record) string {
	t := r.Time
	if len(t) == 0 {
		return ""
	}
	if string(t) == string(d.lastTime) {
		return d.lastTimeStr
	}
	d.lastTime = append(d.lastTime[:0], t...)
	d.lastTimeStr = renderTime(t)
	return d.lastTimeStr
}

func renderTime(t []byte) string {
	if len(t) >= 19 && (t[10] == ' ' || t[4] == '/') {
		b := make([]byte, len(t), len(t)+1)
		copy(b, t)
		b[10] = 'T'
		if b[4] == '/' {
			b[4], b[7] = '-', '-'
		}
		if !hasZoneOffset(b) && b[len(b)-1] != 'Z' {
			b = append(b, 'Z')
		}
		return string(b)
	}
	if len(t) >= 19 && t[10] == 'T' && t[len(t)-1] != 'Z' && !hasZoneOffset(t) {
		// An ISO time with no zone, as a --log-format may print it: UTC,
		// like the others.
		return string(t) + "Z"
	}
	return string(t)
}

// normLevel maps the level spellings of spdlog, nginx and JSON loggers to
// trace, debug, info, warning, error, critical.
func normLevel(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "trace", "TRACE":
		return "trace"
	case "debug", "DEBUG":
		return "debug"
	case "info", "INFO", "notice", "NOTICE", "DEFAULT":
		return "info"
	case "warning", "warn", "WARNING", "WARN":
		return "warning"
	case "error", "err", "ERROR":
		return "error"
	case "critical", "crit", "alert", "emerg", "fatal", "CRITICAL", "ALERT", "EMERGENCY", "FATAL":
		return "critical"
	}
	return strings.ToLower(string(b))
}

func (d *Decoder) thread(r *Record) *threadState {
	if t := d.lastThread; t != nil && t.thread == string(r.Thread) && t.origin == string(r.Origin) {
		return t
	}
	key := string(r.Origin) + "\x00" + string(r.Thread)
	if t, ok := d.threads[key]; ok {
		d.lastThread = t
		return t
	}
	t := &threadState{origin: d.str(r.Origin), thread: d.str(r.Thread), contexts: map[uint32]uint32{}}
	d.threads[key] = t
	d.order = append(d.order, t)
	d.lastThread = t
	return t
}

func (t *threadState) key() string { return t.origin + "\x00" + t.thread }

// callback returns the innermost open callback.
func (t *threadState) callback() *Call {
	for i := len(t.stack) - 1; i >= 0; i-- {
		if t.stack[i].Direction == HostToVM {
			return t.stack[i]
		}
	}
	return nil
}

// call handles one wasm:trace line.
func (d *Decoder) call(r *Record, c *CallLine) {
	d.sum.Calls++
	t := d.thread(r)
	e := d.base(r, KindCall)
	e.Direction = c.Direction
	e.Function = d.str(c.Function)
	if len(c.Annotation) > 0 {
		e.Annotation = string(c.Annotation)
	}
	switch c.Direction {
	case HostToVM:
		d.sum.Callbacks++
		e.Args = splitArgs(c.Args)
		cb := lookupCallback(e.Function, len(e.Args))
		n := &Call{Direction: HostToVM, Function: e.Function, Args: e.Args, Annotation: e.Annotation,
			Line: r.Line, EndLine: r.Line, Start: r.Nanos, Thread: t.thread, Origin: t.origin}
		if cb != nil {
			e.Decoded = decodeArgs(cb.Params, e.Args)
			if len(cb.Params) > 0 && cb.Params[0].Kind == abi.KindContextID && len(e.Args) > 0 {
				if v, ok := wordValue(string(e.Args[0]), abi.I32); ok {
					n.ContextID, n.HasContext = uint32(v), true
				}
			}
		}
		if isStartFunction(e.Function) {
			n.ContextID, n.HasContext = 0, true
		}
		if n.HasContext {
			id := n.ContextID
			e.ContextID = &id
		}
		n.Decoded = e.Decoded
		if e.Function == "proxy_on_context_create" && len(e.Args) == 2 {
			ctx, ok1 := wordValue(string(e.Args[0]), abi.I32)
			parent, ok2 := wordValue(string(e.Args[1]), abi.I32)
			if ok1 && ok2 {
				t.contexts[uint32(ctx)] = uint32(parent)
			}
		}
		// A callback cannot start inside another callback unless the host
		// called back into the VM during a host call (malloc): a callback on
		// top means it ended without its return line.
		for len(t.stack) > 0 && t.stack[len(t.stack)-1].Direction == HostToVM {
			d.closeNode(t, t.stack[len(t.stack)-1], true, false, r.Line, r.Nanos)
		}
		d.push(t, n)
		if len(t.stack) == 1 {
			t.effective = false
		}
		d.emit(e)
	case HostFromVM:
		e.Return = numberPtr(c.Return)
		n := d.findOpen(t, HostToVM, e.Function)
		if n == nil && t.lastTrapped == e.Function {
			// wasmtime logs "return: void" after a trap: already closed.
			t.lastTrapped = ""
			d.emit(e)
			return
		}
		cb := lookupCallback(e.Function, -1)
		if n != nil {
			cb = lookupCallback(e.Function, len(n.Args))
			if n.HasContext {
				id := n.ContextID
				e.ContextID = &id
			}
		}
		if cb != nil {
			e.Action, _ = resultMeaning(cb.Result, string(c.Return))
		}
		if n != nil {
			n.Return = e.Return
			n.Action = e.Action
			if len(c.Annotation) > 0 && n.Annotation == "" {
				n.Annotation = e.Annotation
			}
			if r.Nanos != 0 && n.Start != 0 {
				e.DurationNS = r.Nanos - n.Start
			}
			d.emit(e)
			d.closeNode(t, n, false, false, r.Line, r.Nanos)
			return
		}
		d.emit(e)
	case VMToHost:
		e.Args = splitArgs(c.Args)
		hf := lookupHost(e.Function)
		if hf != nil {
			e.Decoded = decodeArgs(hf.Params, e.Args)
		}
		n := &Call{Direction: VMToHost, Function: e.Function, Args: e.Args, Decoded: e.Decoded, Annotation: e.Annotation,
			Line: r.Line, EndLine: r.Line, Start: r.Nanos, Thread: t.thread, Origin: t.origin}
		if cb := t.callback(); cb != nil && cb.HasContext {
			id := cb.ContextID
			e.ContextID = &id
			n.ContextID, n.HasContext = id, true
		}
		d.push(t, n)
		d.emit(e)
		d.checkCall(r, t, n, hf)
	case VMFromHost:
		e.Return = numberPtr(c.Return)
		n := d.findOpen(t, VMToHost, e.Function)
		if hf := lookupHost(e.Function); hf != nil {
			if s, isStatus := resultMeaning(hf.Result, string(c.Return)); isStatus {
				e.Status = s
			}
		}
		if n != nil {
			n.Return, n.Status = e.Return, e.Status
			if n.HasContext {
				id := n.ContextID
				e.ContextID = &id
			}
			if r.Nanos != 0 && n.Start != 0 {
				e.DurationNS = r.Nanos - n.Start
			}
			if len(c.Annotation) > 0 && n.Annotation == "" {
				n.Annotation = e.Annotation
			}
		}
		d.emit(e)
		if n != nil {
			d.closeNode(t, n, false, false, r.Line, r.Nanos)
			d.noteStatus(t, n)
		}
	}
}

func numberPtr(b []byte) *Number {
	n := Number(b)
	return &n
}

func isStartFunction(name string) bool {
	switch name {
	case "_initialize", "_start", "main", "__main_void":
		return true
	}
	return false
}

func isAllocator(name string) bool { return name == "malloc" || name == "proxy_on_memory_allocate" }

// push adds an open node under the innermost open call.
func (d *Decoder) push(t *threadState, n *Call) {
	if len(t.stack) > 0 {
		parent := t.stack[len(t.stack)-1]
		if len(parent.Children) < maxChildren {
			parent.Children = append(parent.Children, n)
		} else {
			parent.Dropped++
		}
	}
	if n.Direction == VMToHost && !isLogWrite(n.Function) {
		if cb := t.callback(); cb != nil {
			cb.errRun = false
		}
	}
	t.stack = append(t.stack, n)
}

// isLogWrite reports whether a host call is one a plugin log is written
// with: WASI's fd_write (stdout, stderr) or proxy_log.
func isLogWrite(function string) bool {
	return strings.HasSuffix(function, ".fd_write") || function == "env.proxy_log"
}

// findOpen finds the innermost open call of the direction and name.
func (d *Decoder) findOpen(t *threadState, dir Direction, name string) *Call {
	for i := len(t.stack) - 1; i >= 0; i-- {
		if n := t.stack[i]; n.Direction == dir && n.Function == name {
			return n
		}
	}
	return nil
}

// closeNode pops n and everything above it. Nodes above n ended without a
// return line; n itself is marked unreturned or trapped as told.
func (d *Decoder) closeNode(t *threadState, n *Call, unreturned, trapped bool, line int, nanos int64) {
	i := len(t.stack) - 1
	for i >= 0 && t.stack[i] != n {
		i--
	}
	if i < 0 {
		return
	}
	for j := len(t.stack) - 1; j > i; j-- {
		above := t.stack[j]
		if trapped {
			above.Trapped = true
		} else {
			above.Unreturned = true
		}
		d.endNode(t, above, line, nanos)
	}
	n.Unreturned = unreturned && !trapped
	n.Trapped = trapped
	d.endNode(t, n, line, nanos)
	t.stack = t.stack[:i]
}

func (d *Decoder) endNode(t *threadState, n *Call, line int, nanos int64) {
	if line > 0 {
		n.EndLine = line
	}
	n.End = nanos
	if n.Direction != HostToVM {
		return
	}
	if n.Unreturned {
		d.sum.Unreturned++
	}
	d.callbackDone(t, n)
	if len(t.stack) > 0 && t.stack[0] == n && d.opts.Tree {
		d.keepRoot(t, n)
	}
	if n.Function == "proxy_on_delete" && n.HasContext {
		// The context is gone; its id may be reused by the next stream.
		delete(t.contexts, n.ContextID)
	}
}

// pluginLog handles "wasm log<prefix>: <message>" (reference §2.3).
func (d *Decoder) pluginLog(r *Record) {
	rest := r.Message[len("wasm log"):]
	if rest[0] == ':' {
		d.pluginLogMessage(r, "", string(bytes.TrimPrefix(rest[1:], []byte(" "))))
		return
	}
	ids, msg, ok := bytes.Cut(rest[1:], []byte(": "))
	if !ok {
		ids, msg = bytes.TrimSuffix(rest[1:], []byte(":")), nil
	}
	// An empty vm_id leaves a space before the colon in older Envoys.
	d.pluginLogMessage(r, d.str(bytes.TrimRight(ids, " ")), string(msg))
}

// startsWithPanic reports whether a message begins with a plugin's panic
// text: Rust's "panicked at …", Go's "panic: …".
func startsWithPanic(msg []byte) bool {
	return bytes.HasPrefix(msg, []byte("panicked at ")) || bytes.HasPrefix(msg, []byte("panic: "))
}

// pluginLogMessage emits a plugin log with its prefix ids and message.
func (d *Decoder) pluginLogMessage(r *Record, plugin, message string) {
	d.sum.PluginLogs++
	t := d.thread(r)
	e := d.base(r, KindPluginLog)
	e.Plugin, e.Message = plugin, message
	if e.Level == "" {
		e.Level = "info"
	}
	d.sum.LogLevels[e.Level]++
	ref := LogRef{Line: r.Line, Level: e.Level, Message: e.Message}
	t.lastLog = ref
	d.lastLog, d.lastLogKey = ref, t.key()
	if panicKind([]byte(e.Message)) != "" {
		p := panicRef{line: r.Line, text: e.Message, key: t.key()}
		t.lastPanic, d.lastPanic = p, p
	}
	cb := t.callback()
	if cb != nil {
		if len(cb.Logs) < maxChildren {
			cb.Logs = append(cb.Logs, ref)
		}
		if cb.HasContext {
			id := cb.ContextID
			e.ContextID = &id
		}
	}
	if !isErrorOrWorse(e.Level) && cb != nil {
		cb.errRun = false
	}
	if isErrorOrWorse(e.Level) {
		words := ref
		// A plugin that writes its last words to stderr in pieces (Rust's
		// "memory allocation of ", "67108864", " bytes failed": one log
		// record per fd_write) gets them joined, when nothing else came
		// in between but the writes themselves (same level: the same
		// stream).
		prev := t.errLog
		if cb != nil {
			prev = LogRef{}
			if cb.errRun {
				prev = cb.lastErr
			}
			cb.errRun = true
		}
		if prev.Line > 0 && prev.Level == ref.Level {
			words.Message = joinFragments(prev.Message, words.Message)
			words.first = prev.Line
			if prev.first > 0 {
				words.first = prev.first
			}
		}
		if cb != nil {
			cb.lastErr = words
		}
		if t.errLog.Line == 0 {
			d.errThreads = append(d.errThreads, t)
		}
		t.errLog = words
	}
	if isWarnOrWorse(e.Level) {
		for _, n := range t.stack {
			n.pending = n.pending[:0]
		}
	}
	d.emit(e)
	d.matchSignatures(e, nil)
}

func isWarnOrWorse(level string) bool {
	return level == "warning" || isErrorOrWorse(level)
}

func isErrorOrWorse(level string) bool { return level == "error" || level == "critical" }

// joinFragments joins two consecutive stderr writes. Envoy strips one
// trailing newline from each, so where a line ended is lost; pieces of one
// line split at a formatted value meet at a space ("of " + "67108864"),
// and anything else is taken to be the next line.
func joinFragments(a, b string) string {
	if strings.HasSuffix(a, " ") || strings.HasPrefix(b, " ") {
		return a + b
	}
	return a + "\n" + b
}

// lastWordsWindow is how many input lines a crash may follow the plugin
// log it is linked to by lastWords without a wasm:trace stream (other
// threads' lines come in between).
const lastWordsWindow = 50

// expireErrLogs clears the last-record error log of r's thread unless r is
// that log: the thread wrote something else since.
func (d *Decoder) expireErrLogs(r *Record) {
	kept := d.errThreads[:0]
	for _, t := range d.errThreads {
		if t.errLog.Line == 0 || t.errLog.Line != r.Line && t.thread == string(r.Thread) && t.origin == string(r.Origin) ||
			r.Line-t.errLog.Line > lastWordsWindow {
			t.errLog = LogRef{}
			continue
		}
		kept = append(kept, t)
	}
	clear(d.errThreads[len(kept):])
	d.errThreads = kept
}

// lastWords finds the plugin's last words for a crash whose panic text is
// in no shape panicKind recognises (a C or C++ plugin's message on stderr
// before abort, any SDK's error log): the last plugin log at error or
// critical written inside the callback the trap ended (n, with the
// callbacks nested in it), when a wasm:trace stream shows it; without one,
// the thread's last record before the crash when it is such a log, within
// lastWordsWindow lines. A log of a callback that returned is never taken:
// its return line, or any later record of the thread, comes in between.
func (d *Decoder) lastWords(line int, t *threadState, owner *threadState, n *Call) LogRef {
	if n != nil {
		var best LogRef
		for i := len(owner.stack) - 1; i >= 0; i-- {
			c := owner.stack[i]
			if c.Direction == HostToVM && c.lastErr.Line > best.Line {
				best = c.lastErr
			}
			if c == n {
				return best
			}
		}
		return LogRef{}
	}
	if len(t.thread) > 0 || t.errLog.Line > 0 {
		if t.errLog.Line > 0 && line-t.errLog.Line <= lastWordsWindow {
			return t.errLog
		}
		return LogRef{}
	}
	// A crash record without a thread (an Istio JSON line without
	// "thread"): the most recent such log of any thread.
	var best LogRef
	for _, o := range d.errThreads {
		if o.errLog.Line > best.Line && line-o.errLog.Line <= lastWordsWindow {
			best = o.errLog
		}
	}
	return best
}

// crash handles a trap report and links it to what came before.
func (d *Decoder) crash(r *Record, c Crash) {
	d.sum.Crashes++
	t := d.thread(r)
	e := d.base(r, KindCrash)
	if e.Level == "" {
		e.Level = "error"
	}
	e.Callback, e.Message, e.Runtime, e.Frames = c.Callback, c.Message, c.Runtime, c.Frames
	// The callback the trap ended, when a wasm:trace stream is present.
	owner, n := d.trappedCallback(t, c.Callback)
	// The plugin's panic text, logged just before on the same thread.
	p := t.lastPanic
	if p.line == 0 && len(t.thread) == 0 {
		p = d.lastPanic
	}
	if p.line > 0 && r.Line-p.line <= 500 {
		e.PanicText, e.PanicLine = p.text, p.line
		t.lastPanic = panicRef{}
		if d.lastPanic.line == p.line {
			d.lastPanic = panicRef{}
		}
	} else if w := d.lastWords(r.Line, t, owner, n); w.Line > 0 && w.Line < r.Line {
		e.PanicText, e.PanicLine = w.Message, w.Line
		if w.first > 0 {
			e.PanicLine = w.first
		}
		for _, o := range d.errThreads {
			if o.errLog.Line == w.Line {
				o.errLog = LogRef{} // linked once
			}
		}
	}
	if n != nil {
		if n.HasContext {
			id := n.ContextID
			e.ContextID = &id
		}
		e.CallLine = n.Line
		e.LastCalls = lastCalls(n, 5)
		owner.lastTrapped = n.Function
		d.closeNode(owner, n, false, true, r.Line, r.Nanos)
	}
	if d.opts.Resolver != nil {
		_ = Symbolize(e.Frames, d.opts.Resolver)
	}
	d.emit(e)
	d.matchSignatures(e, n)
}

// trappedCallback finds the open callback a crash ended: on the crash's
// thread, else the most recent open callback of that name anywhere.
func (d *Decoder) trappedCallback(t *threadState, name string) (*threadState, *Call) {
	match := func(n *Call) bool { return n.Direction == HostToVM && (name == "" || n.Function == name) }
	for i := len(t.stack) - 1; i >= 0; i-- {
		if match(t.stack[i]) {
			return t, t.stack[i]
		}
	}
	if name == "" {
		return nil, nil
	}
	var bestT *threadState
	var best *Call
	for _, o := range d.order {
		for i := len(o.stack) - 1; i >= 0; i-- {
			if n := o.stack[i]; match(n) && (best == nil || n.Line > best.Line) {
				bestT, best = o, n
			}
		}
	}
	return bestT, best
}

// lastCalls lists the host calls a callback made last, oldest first.
func lastCalls(n *Call, max int) []CallRef {
	var refs []CallRef
	for i := len(n.Children) - 1; i >= 0 && len(refs) < max; i-- {
		c := n.Children[i]
		if c.Direction != VMToHost {
			continue
		}
		refs = append(refs, CallRef{Function: c.Function, Args: c.Args, Decoded: c.Decoded, Return: c.Return,
			Status: c.Status, Annotation: c.Annotation, Line: c.Line})
	}
	for i, j := 0, len(refs)-1; i < j; i, j = i+1, j-1 {
		refs[i], refs[j] = refs[j], refs[i]
	}
	return refs
}

// vmFailure handles a VM load or start failure.
func (d *Decoder) vmFailure(r *Record, f VMFailure) {
	d.sum.VMFailures++
	t := d.thread(r)
	e := d.base(r, KindVMFailure)
	e.Reason, e.Message, e.Hint = f.Reason, f.Message, f.Hint
	if f.Function != "" {
		e.Function = f.Function
	} else if f.Import != "" {
		e.Function = f.Import
	}
	if f.Reason == ReasonConfigureFailed || f.Reason == ReasonStartFailed {
		last := t.lastLog
		if last.Line == 0 {
			last = d.lastLog
		}
		if last.Line > 0 && r.Line-last.Line <= 200 {
			e.Hint += fmt.Sprintf(" The plugin logged just before (line %d): %q.", last.Line, last.Message)
		}
	}
	d.emit(e)
}

// keepRoot stores a finished top-level callback in its context.
func (d *Decoder) keepRoot(t *threadState, n *Call) {
	id := n.ContextID
	if !n.HasContext {
		id = 0
	}
	k := ctxKey{t, id}
	c := d.ctxIndex[k]
	if c == nil || (n.Function == "proxy_on_context_create" && c.closed) {
		c = &Context{ID: id, Thread: t.thread, Origin: t.origin}
		if parent, ok := t.contexts[id]; ok {
			c.Parent, c.HasParent = parent, true
		}
		if id == 0 {
			c.VM = true
		}
		d.ctxIndex[k] = c
		d.contexts = append(d.contexts, c)
	}
	c.Callbacks = append(c.Callbacks, n)
	if n.Function == "proxy_on_delete" {
		c.closed = true
	}
}

// Context is one Proxy-Wasm context and the callbacks the host made on it,
// in order: a stream (an HTTP request or TCP connection), a root context
// (the plugin), or the VM context (start-up functions, id 0).
type Context struct {
	ID        uint32
	Parent    uint32 // the root context of a stream
	HasParent bool   // proxy_on_context_create was seen
	VM        bool
	Thread    string
	Origin    string
	Callbacks []*Call
	closed    bool
}

// IsRoot reports whether the context is a root (plugin) context.
func (c *Context) IsRoot() bool { return c.HasParent && c.Parent == 0 && !c.VM }

// Contexts returns the call trees per context in order of first callback
// (Options.Tree must be set).
func (d *Decoder) Contexts() []*Context { return d.contexts }

// Threads returns the open and finished state per thread; used by the
// Perfetto export to name tracks.
func (d *Decoder) threadNames() []string {
	names := make([]string, len(d.order))
	for i, t := range d.order {
		names[i] = t.key()
	}
	return names
}

// itoa is strconv.Itoa for small helpers.
func itoa(i int) string { return strconv.Itoa(i) }
