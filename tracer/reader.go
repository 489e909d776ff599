package tracer

import (
	"bytes"
	"errors"
	"io"
)

// Record is one log record: a line in one of the framings, plus the
// lines that continue its message (a backtrace, a Go traceback written in
// one fd_write). The byte slices point into the record's own buffer and
// are valid until the next call to Reader.Next.
type Record struct {
	Line    int // first input line, from 1
	EndLine int // last input line that belongs to the record
	Framing Framing

	Time    []byte // as printed: "2022-11-17 19:42:08.870", "2024-03-08T08:16:46.747394Z"
	Nanos   int64  // Time as Unix nanoseconds (no zone in the source means UTC); 0 when unknown
	Thread  []byte // "%t", "thread=N", nginx "pid#tid"
	Level   []byte // as printed: "trace", "warning", "err"…
	Logger  []byte // "%n": "wasm", "main"; Istio agent scope
	Caller  []byte // "%g:%#": "source/extensions/common/wasm/wasm_vm.cc:39"
	Origin  []byte // prefix added by the world: "pod/name/container", compose service
	Message []byte // "%v"; continuation lines joined with '\n'

	// Malformed says why a line that started like a known framing could not
	// be parsed ("malformed Envoy log prefix"); empty for good records.
	Malformed string

	buf    []byte
	frames int // backtrace frame lines seen
	// frameWidth is the physical width of the line just appended when it
	// was a frame line, else 0: a terminal may have wrapped it.
	frameWidth int
	call       bool // a wasm:trace call line: never continues
	closed     bool // a line pasted as inline code: never continues either
	crashHead  bool // "Function: X failed:": its backtrace may come after other lines
	istioOpen  bool
	partial    bool
	done       bool
	truncated  bool
	blanks     int // blank continuation lines not yet placed in the message
}

// Reader reads records from a byte stream. It recognises the framing of
// every line (Framing), strips the prefixes the world adds (kubectl
// --prefix, docker compose, CI timestamps, k9s borders, CRI log files,
// unknown prefixes it learns), and joins multi-line messages: unprefixed
// continuation lines, Istio records that end at "\tthread=N", and crash
// backtraces whose frames arrive after other worker threads' lines.
//
// Records come out in input order as soon as they are complete. Memory is
// bounded by MaxLineBytes, MaxRecordBytes and a window of
// crashWindow records held behind a crash that still waits for its
// backtrace. A source that returns ErrIdle (see Follow) makes the Reader
// flush what it holds, so a half-finished record is emitted when the input
// goes quiet.
type Reader struct {
	src    io.Reader
	buf    []byte
	r, w   int
	srcErr error
	lineNo int
	skip   bool // discarding the rest of an over-long line

	p     lineParser
	l     line
	cur   *Record
	crash *Record
	queue []*Record
	free  []*Record
	last  *Record

	// MaxLineBytes caps one physical line; the rest of a longer line is
	// dropped (default 1 MiB).
	MaxLineBytes int
	// MaxRecordBytes caps a record's message; further continuation lines
	// are dropped (default 1 MiB).
	MaxRecordBytes int

	lines      int
	truncLines int
	hot        Record // the record of the fast path, returned directly
	// detached, during Stats.ReadAll: lines are read by its scanning stage
	// and come back through feed, so the next line cannot be looked at;
	// and the read buffer is never written again once a line was
	// returned from it.
	detached *detachedBuffers
}

// detachedBuffers supplies the read buffers of a detached Reader.
type detachedBuffers struct {
	spare [][]byte
	fresh bool // move to a new buffer at the next read, even with room left
}

// buffer returns a buffer of n bytes, a spare one if it fits.
func (d *detachedBuffers) buffer(n int) []byte {
	if k := len(d.spare); k > 0 && len(d.spare[k-1]) == n {
		b := d.spare[k-1]
		d.spare = d.spare[:k-1]
		return b
	}
	return make([]byte, n)
}

// SkipTimes leaves Record.Nanos zero for Envoy-framed lines, for a
// consumer that parses Record.Time itself only where it needs it (Stats).
func (rd *Reader) SkipTimes() { rd.p.skipTimes = true }

// ErrIdle is returned by a source (see Follow) when no input arrived for a
// while. The Reader then emits every record it holds open.
var ErrIdle = errors.New("input idle")

const (
	defaultMaxLine   = 1 << 20
	defaultMaxRecord = 1 << 20
	readChunk        = 256 << 10
	// crashWindow is how many records may complete behind a crash header
	// that still waits for its backtrace before it is given up.
	crashWindow = 16
	// maxRecordLines caps the continuation lines of one record.
	maxRecordLines = 4096
)

// NewReader returns a Reader over src.
func NewReader(src io.Reader) *Reader {
	return &Reader{src: src, MaxLineBytes: defaultMaxLine, MaxRecordBytes: defaultMaxRecord}
}

// Lines returns how many physical lines were read so far.
func (rd *Reader) Lines() int { return rd.lines }

// TruncatedLines returns how many lines were longer than MaxLineBytes.
func (rd *Reader) TruncatedLines() int { return rd.truncLines }

// Next returns the next complete record, or io.EOF after the last one.
// The record is valid until the next call.
func (rd *Reader) Next() (*Record, error) {
	for {
		if r := rd.pop(); r != nil {
			return r, nil
		}
		ln, ok, err := rd.readLine()
		if err != nil {
			if errors.Is(err, ErrIdle) {
				rd.Flush()
				continue
			}
			rd.Flush()
			if len(rd.queue) > 0 {
				continue
			}
			return nil, err
		}
		if ok {
			rd.lineNo = rd.lines
			if r := rd.addLine(ln); r != nil {
				return r, nil
			}
		}
	}
}

// feed places line n, read by someone else (Stats.ReadAll's scanning
// goroutine), as Next places the lines it reads. It returns a record that
// is complete at once; others come from pop.
func (rd *Reader) feed(ln []byte, n int) *Record {
	rd.lineNo = n
	return rd.addLine(ln)
}

// pop returns the oldest record that is complete, or nil. The record is
// valid until the next call to pop, feed or Next.
func (rd *Reader) pop() *Record {
	if rd.last != nil {
		rd.recycle(rd.last)
		rd.last = nil
	}
	if len(rd.queue) == 0 || !rd.queue[0].done {
		return nil
	}
	r := rd.queue[0]
	copy(rd.queue, rd.queue[1:])
	rd.queue[len(rd.queue)-1] = nil
	rd.queue = rd.queue[:len(rd.queue)-1]
	rd.last = r
	return r
}

// idle reports whether the Reader holds nothing open or queued, so that
// the next line can only start a record.
func (rd *Reader) idle() bool { return len(rd.queue) == 0 }

// Flush closes every record that is still open (a message that might
// have continued, a crash still waiting for its backtrace), so Next
// returns it. Next calls it at the end of the input and when the source
// reports ErrIdle.
func (rd *Reader) Flush() {
	for _, r := range rd.queue {
		r.done = true
	}
	rd.cur, rd.crash = nil, nil
}

// readLine returns the next physical line without its newline and counts
// it in rd.lines. ok is false when a chunk was read but no line completed.
func (rd *Reader) readLine() (ln []byte, ok bool, err error) {
	if i := bytes.IndexByte(rd.buf[rd.r:rd.w], '\n'); i >= 0 {
		ln = rd.buf[rd.r : rd.r+i]
		rd.r += i + 1
		if rd.skip {
			rd.skip = false
			return nil, false, nil
		}
		rd.lines++
		return ln, true, nil
	}
	if rd.srcErr != nil {
		err := rd.srcErr
		if !errors.Is(err, ErrIdle) && rd.r < rd.w {
			// The last line has no newline.
			ln = rd.buf[rd.r:rd.w]
			rd.r = rd.w
			if rd.skip {
				rd.skip = false
				return nil, false, nil
			}
			rd.lines++
			return ln, true, nil
		}
		if errors.Is(err, ErrIdle) {
			rd.srcErr = nil
		}
		return nil, false, err
	}
	ln, ok = rd.readMore()
	return ln, ok, nil
}

// readMore makes room in the read buffer and reads into it once. When the
// buffer is full with one line and at its limit, it returns the line's
// first MaxLineBytes instead (ok) and discards the rest up to its newline.
func (rd *Reader) readMore() (ln []byte, ok bool) {
	// Make room: move the partial line to the front, grow up to the limit.
	if rd.detached != nil && rd.r > 0 && (rd.w == len(rd.buf) || rd.detached.fresh) {
		// Lines already returned stay where they are: the partial line
		// moves to a new buffer.
		rd.detached.fresh = false
		nb := rd.detached.buffer(len(rd.buf))
		n := copy(nb, rd.buf[rd.r:rd.w])
		rd.buf, rd.r, rd.w = nb, 0, n
	} else if rd.r > 0 && rd.detached == nil {
		n := copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r, rd.w = 0, n
	}
	if rd.w == len(rd.buf) {
		maxLine := rd.MaxLineBytes
		if maxLine <= 0 {
			maxLine = defaultMaxLine
		}
		if len(rd.buf) >= maxLine {
			// An over-long line: its first maxLine bytes are the line, the
			// rest up to the next newline is dropped.
			rd.r = rd.w
			if rd.skip {
				return nil, false
			}
			rd.skip = true
			rd.truncLines++
			rd.lines++
			return rd.buf[:maxLine], true
		}
		size := max(2*len(rd.buf), readChunk)
		size = min(size, maxLine+1)
		nb := make([]byte, size)
		copy(nb, rd.buf[:rd.w])
		rd.buf = nb
	}
	n, err := rd.src.Read(rd.buf[rd.w:])
	rd.w += n
	if err != nil {
		rd.srcErr = err
	}
	return nil, false
}

// addLine places one physical line: a new record, or a continuation. It
// returns a record only on the fast path: a call line with nothing queued,
// complete at once, which points into the read buffer and is valid until
// the next line is read.
func (rd *Reader) addLine(b []byte) *Record {
	l := &rd.l
	// A CRI partial line continues on the next physical line without a
	// newline between them.
	if rd.cur != nil && rd.cur.partial {
		rd.p.parse(b, l)
		rd.cur.partial = l.partial
		rd.appendRaw(rd.cur, nil, l.msg)
		rd.cur.EndLine = rd.lineNo
		return nil
	}
	rd.p.parse(b, l)
	if l.framing != FramingNone {
		if len(rd.queue) == 0 && !l.istioOpen && !l.partial && l.bad == "" && len(l.msg) <= rd.maxRecord() {
			// The hot path: nothing is queued before this line and it is
			// complete at once (a call line never continues; another Envoy
			// line whose next line, already read, starts a new record),
			// so it is returned pointing into the read buffer, without
			// being copied or queued.
			call := isCallMessage(l.msg)
			if call || l.framing == FramingEnvoy && !isCrashHeader(l.msg) && rd.nextIsEnvoy() {
				r := &rd.hot
				r.Line, r.EndLine, r.Framing, r.Nanos = rd.lineNo, rd.lineNo, l.framing, l.nanos
				r.Time, r.Thread, r.Level, r.Logger, r.Caller = l.time, l.thread, l.level, l.logger, l.caller
				r.Origin, r.Message, r.Malformed = l.origin, l.msg, ""
				r.call, r.done = call, true
				return r
			}
		}
		if l.framing == FramingNginx && bytes.Contains(l.msg, apisixFailedCallback) {
			// APISIX names the callback a trap ended only in its next line
			// on the same worker: "[lua] wasm.lua:76: phase_func(): …:
			// failed to run wasm plugin: failed to run proxy_on_log". It
			// is the trap report's last line.
			for _, c := range [...]*Record{rd.cur, rd.crash} {
				if c != nil && !c.done && c.Framing == FramingNginx && c.crashHead && sameThread(c, l) {
					rd.appendCont(c, l.msg)
					rd.finish(c)
					return nil
				}
			}
		}
		rd.startRecord(l)
		return nil
	}
	msg := l.msg
	trimmed := bytes.TrimLeft(msg, " \t")
	if isFence(trimmed) {
		// A Markdown code fence around a pasted log ends the record before
		// it, even an Istio record still waiting for its "thread=N", and
		// is a record of its own that nothing continues.
		if c := rd.cur; c != nil && c.istioOpen {
			c.istioOpen = false
		}
		rd.startRecord(l)
		rd.finish(rd.cur)
		return nil
	}
	bt := backtraceLine(trimmed)
	target := rd.cur
	if bt != btNone && rd.crash != nil && (target == nil || !target.crashHead) && (bt == btFrame || rd.crash.frames == 0) {
		// A crash whose frames started takes only more frames: a backtrace
		// header after another worker's line starts a backtrace of its own.
		target = rd.crash
	}
	if target != nil && target.istioOpen {
		// An Istio record continues until the line that ends in "thread=N".
		th, m, ok := cutThread(msg)
		rd.appendCont(target, m)
		if bt == btFrame {
			target.frames++
			target.frameWidth = len(b)
		}
		if ok {
			target.Thread = rd.ownLate(target, th)
			target.istioOpen = false
			rd.finish(target)
		}
		return nil
	}
	if bt == btHeader && isInVMHeader(trimmed) && (target == nil || !target.crashHead) {
		// cpp-host's backtrace header with no trap header before it (a
		// paste that kept only the backtrace): a crash of its own, not
		// the continuation of the line before.
		l.msg = trimmed
		rd.startRecord(l)
		return nil
	}
	if len(trimmed) == 0 {
		// Blank lines between frames or messages belong to an open
		// message; otherwise they are dropped.
		if target != nil && !target.call && !target.closed && target.Framing != FramingNone {
			rd.appendCont(target, msg)
		}
		return nil
	}
	if bt != btNone && target != nil && !target.call && !target.closed {
		rd.appendCont(target, msg)
		if bt == btFrame {
			target.frames++
			target.frameWidth = len(b)
		}
		return nil
	}
	cur := rd.cur
	if cur != nil && cur.frames > 0 && !continuesBacktrace(msg) && !(cur.frameWidth >= minWrapWidth && isWrapRemainder(msg)) {
		// A backtrace ends at the first line that is none of its parts
		// (wasmdbg replay prints a summary right after the block).
		cur = nil
	}
	if cur != nil && !cur.call && !cur.closed && !startsTrapReport(trimmed) && !isBareWasmLog(msg) && !isAccessLogStart(msg) && (cur.Framing != FramingNone || continuesUnframed(cur, msg)) {
		rd.appendCont(cur, msg)
		return nil
	}
	rd.startRecord(l)
	return nil
}

// nextIsEnvoy reports whether the next line is already in the read buffer
// and is an Envoy-framed line, which starts a new record whatever the
// Reader holds: a framed line never continues another record. It parses
// the line as Reader.addLine will, without changing the parser's state
// (the time cache only caches).
func (rd *Reader) nextIsEnvoy() bool {
	if rd.detached != nil || rd.skip {
		return false
	}
	rest := rd.buf[rd.r:rd.w]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return false
	}
	b := rest[:i]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if len(b) <= 24 || b[0] != '[' || !isDigit(b[1]) {
		return false
	}
	tc := &rd.p.times
	if rd.p.skipTimes {
		tc = nil
	}
	var l line
	return rd.p.parseEnvoy(b, &l, tc)
}

// continuesBacktrace reports whether msg (not blank, not a frame) can
// still belong to a backtrace: an indented line (sources under a frame,
// wasmtime's causes) or wasmtime's "Caused by:" and "note:" lines.
func continuesBacktrace(msg []byte) bool {
	return msg[0] == ' ' || msg[0] == '\t' || bytes.HasPrefix(msg, []byte("Caused by:")) || bytes.HasPrefix(msg, []byte("note: ")) ||
		isElision(msg)
}

// minWrapWidth is the narrowest terminal whose wrapping of a long frame
// line is taken for one: a frame line at least this wide followed by a
// one-word line continues on it.
const minWrapWidth = 72

// isWrapRemainder reports whether an unframed line can be the rest of a
// frame line a terminal wrapped in the middle of its function name: one
// word, not indented, not the start of something else.
func isWrapRemainder(b []byte) bool {
	if len(b) == 0 || bytes.IndexAny(b, " \t") >= 0 {
		return false
	}
	switch b[0] {
	case '[', '{', '`', '>', '#', '"':
		return false
	}
	return !isFence(b) && !isElision(b)
}

// isElision reports whether a line is a person's mark for lines left
// out of a paste ("...", "…", "[...]", "... 12 more frames"), which keeps a
// backtrace going.
func isElision(b []byte) bool {
	b = bytes.TrimSpace(b)
	b = bytes.TrimPrefix(bytes.TrimSuffix(b, []byte("]")), []byte("["))
	b = bytes.TrimPrefix(bytes.TrimSuffix(b, []byte(")")), []byte("("))
	return bytes.HasPrefix(b, []byte("...")) || bytes.HasPrefix(b, []byte("…"))
}

// continuesUnframed reports whether msg continues an unframed record: an
// indented line, or a line of a wazero or wasmtime trace.
func continuesUnframed(cur *Record, msg []byte) bool {
	if msg[0] == ' ' || msg[0] == '\t' {
		return true
	}
	return bytes.HasPrefix(msg, []byte("wasm stack trace:")) || bytes.HasPrefix(msg, []byte("Caused by:"))
}

// isBareWasmLog reports whether an unframed line is a plugin log line
// whose Envoy header was cut off in the paste ("wasm log ns.p: …"): it
// starts a record of its own instead of continuing the one before.
func isBareWasmLog(msg []byte) bool {
	return len(msg) > 9 && bytes.HasPrefix(msg, []byte("wasm log")) && (msg[8] == ' ' || msg[8] == ':')
}

// startRecord begins a new record from the parsed line, closing the open one.
func (rd *Reader) startRecord(l *line) {
	// A waiting crash is complete once its frames came and a new record
	// starts, or when its own thread moves on.
	if c := rd.crash; c != nil && c != rd.cur && (c.frames > 0 || sameThread(c, l)) {
		rd.finish(c)
	}
	if rd.cur != nil {
		rd.closeCur(l)
	}
	r := rd.alloc()
	r.Line, r.EndLine = rd.lineNo, rd.lineNo
	r.Framing = l.framing
	r.Nanos = l.nanos
	r.Malformed = l.bad
	// Fields are copied into the record's buffer; Message goes last so
	// continuation lines can be appended.
	r.Time = rd.own(r, l.time)
	r.Thread = rd.own(r, l.thread)
	r.Level = rd.own(r, l.level)
	r.Logger = rd.own(r, l.logger)
	r.Caller = rd.own(r, l.caller)
	r.Origin = rd.own(r, l.origin)
	start := len(r.buf)
	msg := l.msg
	if max := rd.maxRecord(); len(msg) > max {
		msg, r.truncated = msg[:max], true
	}
	r.buf = append(r.buf, msg...)
	r.Message = r.buf[start:]
	r.istioOpen = l.istioOpen
	r.partial = l.partial
	r.call = isCallMessage(r.Message)
	r.closed = l.closed
	r.crashHead = !r.call && isCrashHeader(r.Message)
	rd.queue = append(rd.queue, r)
	rd.cur = r
	if (r.call || r.closed) && !r.istioOpen && !r.partial {
		// A call line never continues: emit it at once.
		rd.finish(r)
	}
}

// closeCur ends the open record because a new framed line started. A crash
// header that has no frames yet may still get them after other threads'
// lines: it waits in the crash slot for a while.
func (rd *Reader) closeCur(next *line) {
	cur := rd.cur
	rd.cur = nil
	if cur.done {
		return
	}
	// Only a framed header waits: a bare trap report a person pasted, or a
	// runtime's own (wazero, the wasmtime CLI), is not interleaved with
	// other workers' lines, and would take the next trace's frames.
	// One whose frames already started waits too: another worker's line
	// may land between two of them (kubectl logs of several pods, compose
	// services); the next framed line after that ends it (startRecord).
	if cur.crashHead && cur.Framing != FramingNone && !sameThread(cur, next) {
		if rd.crash != nil && rd.crash != cur {
			rd.finish(rd.crash)
		}
		rd.crash = cur
		return
	}
	if rd.crash == cur {
		rd.crash = nil
	}
	rd.finish(cur)
}

func sameThread(r *Record, l *line) bool {
	return len(l.thread) > 0 && bytes.Equal(r.Thread, l.thread) && bytes.Equal(r.Origin, l.origin)
}

// finish marks r complete; a crash waiting for its backtrace gives up once
// enough records completed behind it.
func (rd *Reader) finish(r *Record) {
	r.done = true
	if r == rd.crash {
		rd.crash = nil
	}
	if r == rd.cur {
		rd.cur = nil
	}
	if rd.crash != nil {
		behind := 0
		for i := len(rd.queue) - 1; i >= 0 && rd.queue[i] != rd.crash; i-- {
			if rd.queue[i].done {
				behind++
			}
		}
		if behind >= crashWindow {
			rd.crash.done = true
			rd.crash = nil
		}
	}
}

// appendCont adds a continuation line to r's message. Blank lines are
// kept only between lines of the message, not at its end; a message that
// was empty (a terminal wrapped the line right after Istio's location)
// starts with the continuation, not with a newline.
func (rd *Reader) appendCont(r *Record, msg []byte) {
	r.EndLine = rd.lineNo
	r.frameWidth = 0
	if r.truncated || r.EndLine-r.Line > maxRecordLines {
		r.truncated = true
		return
	}
	if len(bytes.TrimLeft(msg, " \t")) == 0 {
		r.blanks++
		return
	}
	if len(r.Message) == 0 {
		r.blanks = 0
		rd.appendRaw(r, nil, msg)
		return
	}
	if len(r.Message)+r.blanks+1+len(msg) > rd.maxRecord() {
		r.truncated = true
		return
	}
	for ; r.blanks > 0; r.blanks-- {
		rd.appendRaw(r, newline, nil)
	}
	rd.appendRaw(r, newline, msg)
}

var newline = []byte{'\n'}

// apisixFailedCallback is how APISIX's wasm plugin runner reports the
// callback that failed (apisix/wasm.lua).
var apisixFailedCallback = []byte("failed to run wasm plugin: failed to run proxy_on_")

// appendRaw appends sep and b to r's message, which is last in r.buf.
func (rd *Reader) appendRaw(r *Record, sep, b []byte) {
	if len(r.Message)+len(sep)+len(b) > rd.maxRecord() {
		r.truncated = true
		return
	}
	start := len(r.buf) - len(r.Message)
	r.buf = append(append(r.buf, sep...), b...)
	r.Message = r.buf[start:]
}

// ownLate sets a field after the message was placed: the field gets its own
// small allocation (rare: Istio's thread= terminator on a later line).
func (rd *Reader) ownLate(r *Record, b []byte) []byte {
	return append([]byte(nil), b...)
}

// own copies b into r's buffer (before the message is placed).
func (rd *Reader) own(r *Record, b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	start := len(r.buf)
	r.buf = append(r.buf, b...)
	return r.buf[start:len(r.buf):len(r.buf)]
}

func (rd *Reader) maxRecord() int {
	if rd.MaxRecordBytes <= 0 {
		return defaultMaxRecord
	}
	return rd.MaxRecordBytes
}

func (rd *Reader) alloc() *Record {
	if n := len(rd.free); n > 0 {
		r := rd.free[n-1]
		rd.free = rd.free[:n-1]
		buf := r.buf[:0]
		*r = Record{buf: buf}
		return r
	}
	return &Record{buf: make([]byte, 0, 256)}
}

func (rd *Reader) recycle(r *Record) {
	if r == &rd.hot || cap(r.buf) > 64<<10 || len(rd.free) >= 64 {
		return
	}
	rd.free = append(rd.free, r)
}

// Clone returns a copy of r that stays valid after the next Reader.Next.
func (r *Record) Clone() *Record {
	c := *r
	c.buf = nil
	cp := func(s []byte) []byte {
		if s == nil {
			return nil
		}
		return append([]byte(nil), s...)
	}
	c.Time, c.Thread, c.Level, c.Logger = cp(r.Time), cp(r.Thread), cp(r.Level), cp(r.Logger)
	c.Caller, c.Origin, c.Message = cp(r.Caller), cp(r.Origin), cp(r.Message)
	return &c
}

// Truncated reports whether continuation lines or bytes of the record were
// dropped because of MaxRecordBytes.
func (r *Record) Truncated() bool { return r.truncated }

// btKind classifies an unframed line that belongs to a backtrace.
type btKind uint8

const (
	btNone   btKind = iota
	btHeader        // "Proxy-Wasm plugin in-VM backtrace:", "V8 message: …"
	btFrame         // "  0:  0xdbd - runtime._panic", "  1: wasm!m!f+7"
)

// backtraceLine recognises the lines of V8's, WAVM's and the 2020 layout's
// backtraces (left-trimmed), which may arrive after other threads' lines.
func backtraceLine(b []byte) btKind {
	switch {
	case bytes.HasPrefix(b, []byte(inVMHeader)),
		bytes.HasPrefix(b, []byte("wasm backtrace:")), bytes.HasPrefix(b, []byte("wasm backrace:")),
		bytes.HasPrefix(b, []byte("V8 message:")), bytes.HasPrefix(b, []byte("message from V8:")),
		bytes.HasPrefix(b, []byte("WAVM message:")):
		return btHeader
	}
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i == 0 || i >= len(b) || b[i] != ':' {
		return btNone
	}
	rest := skipSpaces(b[i+1:])
	if bytes.HasPrefix(rest, []byte("0x")) {
		j := 2
		for j < len(rest) && isHex(rest[j]) {
			j++
		}
		// "0x1a2 - name", and "0x1a2 -name" after a copy lost a space.
		if after := skipSpaces(rest[j:]); j > 2 && len(after) > 1 && after[0] == '-' {
			return btFrame
		}
	}
	if bytes.HasPrefix(rest, []byte("wasm!")) {
		return btFrame
	}
	return btNone
}

// inVMHeader is the line cpp-host puts between a V8 trap's header and its
// frames.
const inVMHeader = "Proxy-Wasm plugin in-VM backtrace:"

// isInVMHeader reports whether b is cpp-host's backtrace header alone.
func isInVMHeader(b []byte) bool {
	return bytes.Equal(bytes.TrimRight(b, " \t"), []byte(inVMHeader))
}

// isCallMessage reports whether msg is a wasm:trace line.
func isCallMessage(msg []byte) bool { return callDirection(msg) != "" }

// startsTrapReport reports whether an unframed line begins a new trap
// report rather than continuing the message before it.
func startsTrapReport(b []byte) bool {
	if bytes.HasPrefix(b, []byte("Function")) {
		first, _, _ := bytes.Cut(b, []byte("\n"))
		return bytes.Contains(first, []byte(" failed:"))
	}
	if _, _, ok := bareFailedHeader(b); ok {
		return true
	}
	if bytes.HasPrefix(b, []byte("thread '")) && bytes.Contains(b, []byte("' panicked at")) {
		// A Rust program's own panic on stderr (the runtime's, not the
		// plugin's): not a continuation of the log line before it.
		return true
	}
	return bytes.Contains(b, []byte("wasm error: "))
}

// isFence reports whether a line is a Markdown code fence ("```",
// "```log", "~~~"), as around logs pasted into an issue.
func isFence(b []byte) bool {
	return bytes.HasPrefix(b, []byte("```")) || bytes.HasPrefix(b, []byte("~~~"))
}

// isCrashHeader reports whether msg starts a host's trap report:
// "Function: X failed: …" (cpp-host), "Function X failed:" (old WAVM), a
// wasmtime or wazero trace.
func isCrashHeader(msg []byte) bool {
	if len(msg) == 0 || bytes.HasPrefix(msg, []byte("wasm log")) {
		// A plugin's log (what every test below would find).
		return false
	}
	first := msg
	if i := bytes.IndexByte(msg, '\n'); i >= 0 {
		first = msg[:i]
	}
	if len(first) > 0 && first[0] == 'F' {
		return bytes.HasPrefix(first, []byte("Function")) && bytes.Contains(first, []byte(" failed:"))
	}
	if isInVMHeader(first) {
		return true
	}
	if _, _, ok := bareFailedHeader(first); ok {
		return true
	}
	if bytes.HasPrefix(first, []byte("wasm log")) || !bytes.Contains(msg, []byte("wasm ")) {
		return false
	}
	return bytes.Contains(first, []byte("error while executing at wasm backtrace:")) ||
		bytes.Contains(first, []byte("wasm stack trace:")) || bytes.Contains(first, []byte("wasm error: ")) ||
		bytes.Contains(first, []byte("failed to call function: wasm trap")) // nginx hosts
}
