package tracer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"runtime"
	"sync"
)

// ReadAll counts every record of rd. check, when not nil, is called first
// for each record and stops the reading with its error (--strict).
//
// The counts are those of Next and Add for every record, computed faster
// for what nearly every line of a trace is: an Envoy-framed line that
// arrives while the Reader holds nothing open, and is then a record by
// itself (a call line, or another line whose next line starts a record).
// Reading runs in two stages. Scanning splits lines (with the Reader's
// own line splitting) and parses the framing and the call syntax of each,
// which depend on nothing before the line. Counting counts those lines in
// place and passes every other line to the Reader. With more than one CPU
// the stages run on two goroutines, handing over batches of lines that
// stay in the read buffers they were read into. Both stay sequential, so
// the result is the same either way.
func (s *Stats) ReadAll(rd *Reader, check func(*Record) error) error {
	rd.SkipTimes()
	if check != nil {
		// --strict checks every record, so every line goes through the
		// Reader.
		for {
			r, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := check(r); err != nil {
				return err
			}
			s.Add(r)
		}
	}
	return s.readAll(rd, runtime.GOMAXPROCS(0))
}

// readAll is ReadAll without check, with scanning split among workers
// goroutines (one: everything on the caller's goroutine).
//
// A chunker hands out the read buffers' complete lines in chunks; each
// worker scans whole chunks with a scanner of its own; counting takes the
// chunks in input order. Scanning a line depends on the line alone (a
// worker's templates and parser caches change how fast, not what it
// finds), and counting is sequential, so the result does not depend on
// workers or on which worker scanned what.
func (s *Stats) readAll(rd *Reader, workers int) error {
	// The scanners parse as the Reader does when it skips times.
	rd.SkipTimes()
	ch := newChunker(rd)
	defer func() { rd.detached = nil }()
	lines := 0
	count := func(b *scanBatch) (end bool, err error) {
		b.first = lines + 1
		lines += len(b.lines)
		end, err = s.countBatch(rd, b)
		if end {
			rd.lines = lines
		}
		return end, err
	}
	if workers <= 1 {
		sc := newLineScanner(rd, 0, 1)
		b := &scanBatch{}
		for {
			ch.next(b)
			sc.scanBatch(b)
			if end, err := count(b); end {
				return err
			}
			ch.recycle(b)
		}
	}
	n := 2*workers + 2
	free := make(chan *scanBatch, n)
	work := make(chan *scanBatch, n)
	order := make(chan *scanBatch, n)
	for range n {
		free <- &scanBatch{ready: make(chan struct{}, 1)}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(done)
		wg.Wait()
	}()
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(order)
		for {
			var b *scanBatch
			select {
			case b = <-free:
			case <-done:
				return
			}
			ch.recycle(b)
			ch.next(b)
			// Neither send blocks: there are n batches.
			order <- b
			work <- b
			if b.err != nil {
				return
			}
		}
	}()
	for w := range workers {
		sc := newLineScanner(rd, w, workers)
		go func() {
			defer wg.Done()
			for b := range work {
				sc.scanBatch(b)
				b.ready <- struct{}{}
			}
		}()
	}
	for b := range order {
		<-b.ready
		if end, err := count(b); end {
			return err
		}
		free <- b
	}
	return nil
}

// countBatch counts the lines of a batch. end is true after the last batch
// (the input ended or failed), with the error to return.
func (s *Stats) countBatch(rd *Reader, b *scanBatch) (end bool, err error) {
	buf := b.buf
	for i := range b.lines {
		l := &b.lines[i]
		if rd.idle() {
			switch {
			case l.kind == scanCall:
				s.Records++
				if !l.plain || !s.countPlain(buf, l) {
					s.countScanned(buf, l)
				}
				continue
			case l.kind == scanOther && l.next:
				r := &s.rec
				*r = Record{Line: b.first + i, EndLine: b.first + i, Framing: FramingEnvoy,
					Time: l.time.of(buf), Thread: l.thread.of(buf), Level: l.level.of(buf),
					Logger: l.logger.of(buf), Caller: l.caller.of(buf), Message: l.msg.of(buf)}
				s.Add(r)
				continue
			}
		}
		if r := rd.feed(l.raw.of(buf), b.first+i); r != nil {
			s.Add(r)
		}
		for r := rd.pop(); r != nil; r = rd.pop() {
			s.Add(r)
		}
	}
	if b.idle || b.err != nil {
		// What Next does when the source is idle or ends.
		rd.Flush()
		for r := rd.pop(); r != nil; r = rd.pop() {
			s.Add(r)
		}
	}
	if b.err != nil {
		if errors.Is(b.err, io.EOF) {
			return true, nil
		}
		return true, b.err
	}
	return false, nil
}

// countPlain counts a call line with plain numbers after its template
// whose function the template's id already names, as count would; it
// reports false, having changed nothing, for any other line. The
// function is named by its entry (a name has one), so a return finds
// its call by pointer.
func (s *Stats) countPlain(buf []byte, l *scannedLine) bool {
	if l.key == 0 {
		return false
	}
	e := &s.byTemplate[l.tmplID%uint64(len(s.byTemplate))]
	if e.id != l.tmplID && !s.knownTemplate(buf, l) {
		return false
	}
	cb, h := e.cb, e.h
	switch {
	case l.dir == dirHostToVM || l.dir == dirHostFromVM:
		if cb == nil {
			return false
		}
	case l.dir == dirVMToHost || l.dir == dirVMFromHost:
		if h == nil {
			return false
		}
	default:
		return false
	}
	// The thread (Stats.thread, by the key scanning found).
	te := &s.byKey[(l.key*0x9e3779b97f4a7c15)>>(64-threadSlotsLog)]
	if te.key != l.key {
		te.key, te.t = l.key, s.threadSlow(l.thread.of(buf), nil)
	}
	t := te.t
	switch l.dir {
	case dirHostToVM:
		cb.Count++
		for n := len(t.stack); n > 0 && t.stack[n-1].cb != nil; n = len(t.stack) {
			t.stack[n-1].cb.Unreturned++
			t.stack = t.stack[:n-1]
		}
		t.push(statOpen{cb: cb, start: l.nanos})
	case dirHostFromVM:
		for i := len(t.stack) - 1; i >= 0; i-- {
			o := t.stack[i]
			if o.cb != cb {
				continue
			}
			for j := len(t.stack) - 1; j > i; j-- {
				if t.stack[j].cb != nil {
					t.stack[j].cb.Unreturned++
				}
			}
			if l.nanos != 0 && o.start != 0 {
				cb.lat.add(l.nanos - o.start)
			}
			t.stack = t.stack[:i]
			return true
		}
	case dirVMToHost:
		h.Count++
		t.push(statOpen{host: h})
	case dirVMFromHost:
		if n := len(t.stack); n > 0 && t.stack[n-1].cb == nil {
			t.stack = t.stack[:n-1]
		}
		if l.zero {
			return true
		}
		if name, isStatus := resultMeaning(h.result, string(l.msg.of(buf)[l.tmplLen:])); isStatus {
			if h.Failed == nil {
				h.Failed = map[string]int{}
			}
			h.Failed[name]++
		}
	}
	return true
}

// knownTemplate remembers the function of a scanned line's template by
// its id when the function has been counted already (a return whose call
// was counted under another template, another worker's), and reports
// whether it did. Looking up adds nothing.
func (s *Stats) knownTemplate(buf []byte, l *scannedLine) bool {
	name := l.msg.of(buf)[11:l.nameEnd]
	e := &s.byTemplate[l.tmplID%uint64(len(s.byTemplate))]
	switch l.dir {
	case dirHostToVM, dirHostFromVM:
		if cb, ok := s.Callbacks[string(name)]; ok && cb.Name == string(name) {
			*e = templateFunc{id: l.tmplID, cb: cb}
			return true
		}
	case dirVMToHost, dirVMFromHost:
		if h, ok := s.HostCalls[string(name)]; ok && h.Name == string(name) {
			*e = templateFunc{id: l.tmplID, h: h}
			return true
		}
	}
	return false
}

// countScanned counts a call line that scanning found, as Add would.
func (s *Stats) countScanned(buf []byte, l *scannedLine) {
	c := statCall{dir: directions[l.dir], id: l.tmplID, thread: l.thread.of(buf), time: l.time.of(buf)}
	msg := l.msg.of(buf)
	if n := int(l.tmplLen); n > 0 {
		call := c.dir == HostToVM || c.dir == VMToHost
		if rest := msg[n:]; plainCallRest(rest, call) {
			// What callRest would find, at a glance.
			c.fn = msg[11:l.nameEnd]
			if !call {
				c.ret = rest
			}
			s.count(&c)
			return
		}
	}
	var cl CallLine
	var ok, sure bool
	if l.tmplLen > 0 {
		ok, _, sure = callRest(msg, int(l.tmplLen), c.dir, int(l.nameEnd), &cl)
	}
	if !sure {
		ok, _ = s.calls.parse(msg, &cl)
		c.id = 0
	}
	if !ok {
		s.Malformed++
		return
	}
	c.dir, c.fn, c.ret = cl.Direction, cl.Function, cl.Return
	s.count(&c)
}

// A scanBatch is consecutive lines of the input that are in one read
// buffer, with what scanning learned about each.
type scanBatch struct {
	buf    []byte
	lo, hi int  // the lines, each with its newline; or, with single, the line
	single bool // one line the Reader's readLine returned
	owns   bool // no other batch has lines in buf
	first  int  // the first line's number, from 1 (set by counting)
	lines  []scannedLine
	idle   bool          // the source reported ErrIdle after the last line
	err    error         // the source's error after the last line (io.EOF at the end)
	ready  chan struct{} // scanned, with workers
}

// scannedLine is one physical line: where it is in the batch's buffer and,
// for an Envoy-framed line that the Reader would return at once when it
// holds nothing open, its fields. It holds no pointers, so filling a
// batch costs no write barriers and the garbage collector skips it.
type scannedLine struct {
	raw  span // the line as read
	kind scanKind
	// next: the line after this one is an Envoy-framed line, so a record
	// this line starts ends with it.
	next bool
	// A call line's direction, an index in directions. Its message starts
	// with a template of tmplLen bytes whose function name ends at
	// nameEnd (see callRest), or with none when tmplLen is 0; tmplID names
	// the template's text for good.
	dir uint8
	// plain: the numbers after the template are plain (plainCallRest),
	// so Stats.countPlain may count the line; zero: they are a return's
	// "0" or "void". key is the thread's threadKey, nanos the time of a
	// callback's line (timeCache.parse).
	plain, zero      bool
	tmplLen, nameEnd int32
	tmplID           uint64
	key              uint64
	nanos            int64

	time, thread, level, logger, caller, msg span
}

type scanKind uint8

const (
	scanGeneral scanKind = iota // the Reader has to place it
	scanCall                    // an Envoy-framed wasm:trace call line
	scanOther                   // another Envoy-framed line, not a crash header
)

// directions are the call directions by a number scannedLine can hold.
var directions = [...]Direction{"", HostToVM, HostFromVM, VMToHost, VMFromHost}

// The directions' numbers.
const (
	dirHostToVM = 1 + iota
	dirHostFromVM
	dirVMToHost
	dirVMFromHost
)

func directionIndex(d Direction) uint8 {
	for i, x := range directions {
		if x == d {
			return uint8(i)
		}
	}
	return 0
}

// span is a part of a batch's buffer.
type span struct{ lo, hi int32 }

func (sp span) of(buf []byte) []byte { return buf[sp.lo:sp.hi] }

// spanIn returns where x, a slice of buf (or empty), is in it.
func spanIn(buf, x []byte) span {
	if len(x) == 0 {
		return span{}
	}
	lo := int32(cap(buf) - cap(x))
	return span{lo, lo + int32(len(x))}
}

// A chunker reads for the scanners: it hands out the complete lines of
// the Reader's read buffers, a buffer's worth at a time, with the Reader's
// own line splitting (its buffer and line limit, detached so that lines
// stay where they were read). Only it reads, so it runs on one goroutine.
type chunker struct {
	rd      *Reader
	buffers detachedBuffers
}

func newChunker(rd *Reader) *chunker {
	ch := &chunker{rd: rd}
	rd.detached = &ch.buffers
	return ch
}

// recycle gives the buffer of a counted batch back for reading. It may
// still be the read buffer, with a partial line after the batch's lines:
// no batch is handed out from it again, so the next read can take it as
// the buffer to move that line to.
func (ch *chunker) recycle(b *scanBatch) {
	if b.owns && len(ch.buffers.spare) < 4 {
		ch.buffers.spare = append(ch.buffers.spare, b.buf[:cap(b.buf)])
	}
	b.buf, b.owns = nil, false
}

// next makes b the next lines to scan: the complete lines of a read buffer
// once it is full (or the source stopped), a line readLine returned (the
// first MaxLineBytes of a longer line, or a last line with no newline), or
// none with the source's ErrIdle or error. The lines are those readLine
// would return one by one: a chunk ends with a newline and holds no line
// longer than the buffer, which is at most MaxLineBytes+1.
func (ch *chunker) next(b *scanBatch) {
	rd := ch.rd
	b.buf, b.lo, b.hi, b.single, b.owns, b.idle, b.err = nil, 0, 0, false, false, false, nil
	for {
		if !rd.skip && rd.srcErr == nil && rd.w < len(rd.buf) {
			rd.readMore()
			continue
		}
		if !rd.skip && rd.r < rd.w {
			// The buffer is full, or the source stopped.
			if j := bytes.LastIndexByte(rd.buf[rd.r:rd.w], '\n'); j >= 0 {
				b.buf, b.lo, b.hi = rd.buf, rd.r, rd.r+j+1
				rd.r += j + 1
				// A full buffer is left at the next read, and so is one
				// that went idle (fresh); after the end nothing is read.
				b.owns = rd.srcErr == nil || errors.Is(rd.srcErr, ErrIdle)
				return
			}
		}
		// No newline left: readLine reads on, or ends or cuts the line.
		ln, ok, err := rd.readLine()
		if err != nil {
			if errors.Is(err, ErrIdle) {
				b.idle = true
				// The partial line moves to a new buffer at the next read,
				// so that no read writes into a buffer being scanned.
				ch.buffers.fresh = true
			} else {
				b.err = err
			}
			return
		}
		if ok {
			b.buf, b.single = rd.buf, true
			b.lo = cap(rd.buf) - cap(ln)
			b.hi = b.lo + len(ln)
			return
		}
	}
}

// lineScanner is the scanning stage of one worker: it parses the lines of
// chunks with a parser and templates of its own (parsers only cache, so
// its answers are the Reader's).
type lineScanner struct {
	p         lineParser
	times     timeCache
	maxRecord int
	groups    [lineGroups]lineGroup
	byThread  [1 << threadSlotsLog]threadTemplate
	ngroups   int
	nextGroup int
	// Template ids: worker w of n gives w+n, w+2n, …, so that the ids of
	// all workers differ.
	lastID, idStep uint64
}

// A lineGroup holds the templates of the Envoy call lines that have the
// same bytes after their thread up to their message, "[trace][wasm]
// [source/extensions/common/wasm/wasm_vm.cc:39] ". A line that repeats a
// template byte for byte up to its call's numbers parses as the line the
// template came from did: what parseEnvoy does with those bytes depends on
// them alone (for a call line, whether a location is there is decided
// before the message starts), and callRest reads the rest as parseCall
// would.
type lineGroup struct {
	key       [2]uint64 // the first 16 bytes after the thread
	msg       int       // where the message starts, counted after the thread
	templates [callTemplates]lineTemplate
}

// find returns the template the line after a thread starts with, or nil.
// The template's length is templateOf's; its slot mixes the direction
// marker, the name's length and its first, middle and last 8 bytes (which
// slot a template gets changes how fast a line is recognised, never what
// it is: the whole text is compared). The group's key is after's first 16
// bytes, so they are not compared again.
func (grp *lineGroup) find(after []byte) *lineTemplate {
	m := grp.msg
	if len(after) < m+13 {
		return nil
	}
	msg := after[m:]
	end := min(len(msg), 11+256)
	var stop byte = ' '
	tail := len(returnMark)
	if msg[3] == '-' && msg[1] == 'v' || msg[5] == '-' && msg[1] == 'h' {
		// A call: the name ends at the first '('.
		stop, tail = '(', 1
	}
	j := bytes.IndexByte(msg[11:end], stop)
	n := m + 11 + j + tail
	if j <= 0 || n >= len(after) {
		return nil
	}
	t := &grp.templates[templateSlot(msg, j)]
	if len(t.text) != n || string(after[16:n]) != string(t.text[16:]) {
		if t = &grp.templates[templateSlot(msg, j)|1]; len(t.text) != n || string(after[16:n]) != string(t.text[16:]) {
			return nil
		}
	}
	return t
}

// templateSlot is the first of the two slots of a template whose function
// name is msg[11:11+j].
func templateSlot(msg []byte, j int) int {
	var a, m, z uint64
	if j >= 8 {
		name := msg[11 : 11+j]
		a = binary.LittleEndian.Uint64(name)
		m = binary.LittleEndian.Uint64(name[(j-8)/2:])
		z = binary.LittleEndian.Uint64(name[j-8:])
	} else {
		for i, c := range msg[11 : 11+j] {
			a |= uint64(c) << (8 * i)
		}
	}
	h := binary.LittleEndian.Uint64(msg[1:9]) ^ uint64(j)
	h ^= a * 0x9e3779b97f4a7c15
	h ^= bits.RotateLeft64(m*0xc2b2ae3d27d4eb4f, 21)
	h ^= bits.RotateLeft64(z*0x165667b19e3779f9, 42)
	h *= 0xff51afd7ed558ccd
	return int(h>>(64-8)) &^ 1
}

// zeroBytes has the high bit set in the lowest zero byte of x, and maybe
// in bytes above it (a borrow): its lowest set bit is exact.
func zeroBytes(x uint64) uint64 {
	return (x - 0x0101010101010101) &^ x & 0x8080808080808080
}

type lineTemplate struct {
	text    []byte    // from after the thread to the call's numbers
	key     [2]uint64 // its first 16 bytes, the group's key
	dir     uint8     // an index in directions
	msg     int32     // the message starts at text[msg] (the group's msg)
	nameEnd int32     // the function name ends at text[msg+nameEnd]
	id      uint64
	// next is the template that followed this one on the same thread
	// last time, the first guess for that thread's next line.
	next *lineTemplate
}

// threadTemplate is the template of a thread's last templated line.
type threadTemplate struct {
	key  uint64 // threadKey
	last *lineTemplate
}

const lineGroups = 8

func newLineScanner(rd *Reader, worker, workers int) *lineScanner {
	return &lineScanner{maxRecord: rd.maxRecord(), lastID: uint64(worker), idStep: uint64(workers)}
}

// scanBatch scans the lines of b.
func (sc *lineScanner) scanBatch(b *scanBatch) {
	b.lines = b.lines[:0]
	if b.buf == nil {
		return
	}
	buf := b.buf
	if b.single {
		b.lines = append(b.lines, scannedLine{raw: span{int32(b.lo), int32(b.hi)}})
		sc.scan(buf, b.lo, buf[b.lo:b.hi], &b.lines[0])
		return
	}
	// The lines are filled in place, in a slice kept in a local variable.
	lines := b.lines
	for pos, end := b.lo, b.hi; pos < end; {
		k := len(lines)
		if k == cap(lines) {
			lines = append(lines, scannedLine{})[:k]
		}
		lines = lines[:k+1]
		sl := &lines[k]
		*sl = scannedLine{}
		if p := sc.quick(buf, pos, end, sl); p > 0 {
			if k > 0 {
				lines[k-1].next = true
			}
			pos = p
			continue
		}
		ln := buf[pos:end]
		ln = ln[:bytes.IndexByte(ln, '\n')]
		*sl = scannedLine{raw: span{int32(pos), int32(pos + len(ln))}}
		envoy := sc.scan(buf, pos, ln, sl)
		if k > 0 {
			lines[k-1].next = envoy
		}
		pos += len(ln) + 1
	}
	b.lines = lines
}

// quick scans the line at pos in place when it repeats a call template
// with plain numbers after it: it does what splitting and scan would, in
// one pass, and returns where the next line starts (0 when it did not).
// No byte it accepts is a newline, so the line ends where splitting would
// end it: the time's bytes are checked for one, the thread stops at one,
// templates hold none and plain numbers are followed by one.
func (sc *lineScanner) quick(buf []byte, lo, end int, sl *scannedLine) int {
	rest := buf[lo:end]
	if len(rest) < 64 || rest[0] != '[' || !isDigit(rest[1]) {
		return 0
	}
	// envoyHead's common case: "[%Y-%m-%d %T.%e][" with no newline.
	w0, w1, w2 := binary.LittleEndian.Uint64(rest), binary.LittleEndian.Uint64(rest[8:]), binary.LittleEndian.Uint64(rest[16:])
	if hasZeroByte(w0^newlines) || hasZeroByte(w1^newlines) || hasZeroByte(w2^newlines) {
		return 0
	}
	w := binary.LittleEndian.Uint64(rest[17:25])
	x := (w ^ 0x5d5d5d5d5d5d5d5d) & 0x00ffffffff000000
	if byte(w>>56) != ']' || hasZeroByte(x|0x0000000000ffffff|0xff00000000000000) ||
		binary.LittleEndian.Uint64(rest[5:13])&0x00ff0000ff0000ff != 0x002000002d00002d ||
		byte(w) != ':' || rest[14] != ':' || rest[25] != '[' {
		return 0
	}
	// The thread: its first ']' or newline, 8 bytes at a time. A thread
	// id of up to 7 bytes is its key in Stats (threadKey) as well.
	thEnd := 26
	var key uint64
	tw := binary.LittleEndian.Uint64(rest[26:])
	if m := zeroBytes(tw^0x5d5d5d5d5d5d5d5d) | zeroBytes(tw^newlines); m != 0 {
		i := bits.TrailingZeros64(m) / 8
		thEnd += i
		if i > 0 {
			key = tw&(1<<(8*i)-1) | uint64(i)<<56
		}
	} else {
		thEnd += 8
		for thEnd < len(rest) && rest[thEnd] != ']' && rest[thEnd] != '\n' {
			thEnd++
		}
	}
	if thEnd >= len(rest) || rest[thEnd] != ']' {
		return 0
	}
	after := rest[thEnd+1:]
	if len(after) < 16 {
		return 0
	}
	// The template: the one that followed the thread's last one the last
	// time, or the one find finds. Any template whose text the line starts
	// with is the line's (see lineGroup).
	var t *lineTemplate
	var ts *threadTemplate
	k0, k1 := binary.LittleEndian.Uint64(after), binary.LittleEndian.Uint64(after[8:])
	if key != 0 {
		ts = &sc.byThread[(key*0x9e3779b97f4a7c15)>>(64-threadSlotsLog)]
		if ts.key == key && ts.last != nil {
			// A template's first 16 bytes are its group's key.
			if p := ts.last.next; p != nil && p.key == [2]uint64{k0, k1} && len(after) > len(p.text) &&
				string(after[16:len(p.text)]) == string(p.text[16:]) {
				t = p
			}
		}
	}
	if t == nil {
		for g := range sc.groups[:sc.ngroups] {
			grp := &sc.groups[g]
			if grp.key[0] == k0 && grp.key[1] == k1 && len(after) > grp.msg {
				if t = grp.find(after); t != nil {
					break
				}
			}
		}
		if t == nil {
			return 0
		}
	}
	if ts != nil {
		if ts.key == key && ts.last != nil {
			ts.last.next = t
		}
		ts.key, ts.last = key, t
	}
	m := int(t.msg)
	n := len(t.text)
	call := t.dir == dirHostToVM || t.dir == dirVMToHost
	// Plain numbers find the newline as they are checked.
	j := plainTail(after[n:], call)
	plain := j >= 0
	if !plain {
		if j = bytes.IndexByte(after[n:], '\n'); j < 0 {
			return 0
		}
	}
	// The line is rest[:thEnd+1+n+j], its message after[m:e].
	size, e := thEnd+1+n+j, n+j
	if after[e-1] == '\r' {
		e--
	}
	if e-m > sc.maxRecord {
		return 0
	}
	at := int32(lo + thEnd + 1) // after, in the buffer
	sl.raw, sl.kind, sl.dir, sl.tmplID = span{int32(lo), int32(lo + size)}, scanCall, t.dir, t.id
	sl.tmplLen, sl.nameEnd, sl.key = int32(n-m), t.nameEnd, key
	sl.time, sl.thread = span{int32(lo + 1), int32(lo + 24)}, span{int32(lo + 26), int32(lo + thEnd)}
	sl.msg = span{at + int32(m), at + int32(e)}
	if !plain {
		// Not plain, unless plainCallRest says otherwise.
		plain = plainCallRest(after[n:e], call)
	}
	if plain {
		sl.plain = true
		if !call {
			r := after[n:e]
			sl.zero = len(r) == 1 && r[0] == '0' || string(r) == "void"
		}
		if t.dir <= dirHostFromVM {
			// A callback's time.
			sl.nanos, _ = sc.times.parse(rest[1:24])
		}
	}
	return lo + size + 1
}

// newlines is '\n' in every byte.
const newlines = 0x0a0a0a0a0a0a0a0a

// sameBuffer reports whether a and b have the same backing array start.
func sameBuffer(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}

// scan parses a line as lineParser.parse does on its hot path (an Envoy
// line with no prefix; times skipped), and as Reader.addLine decides what
// it can return at once. b is the line, at lo in buf. It reports whether
// the line is Envoy-framed.
func (sc *lineScanner) scan(buf []byte, lo int, b []byte, sl *scannedLine) bool {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	if len(b) <= 24 || b[0] != '[' || !isDigit(b[1]) {
		return false
	}
	tsEnd, thEnd, ok := envoyHead(b)
	if !ok {
		return false
	}
	if sc.known(lo, b, tsEnd, thEnd, sl) {
		return true
	}
	return sc.scanEnvoy(buf, b, thEnd, sl)
}

// known scans a call line that repeats a template, and reports whether it
// did. b is the line, at lo in the batch's buffer; its time and thread end
// at tsEnd and thEnd.
func (sc *lineScanner) known(lo int, b []byte, tsEnd, thEnd int, sl *scannedLine) bool {
	after := b[thEnd+1:]
	if len(after) < 16 {
		return false
	}
	k0, k1 := binary.LittleEndian.Uint64(after), binary.LittleEndian.Uint64(after[8:])
	for g := range sc.groups[:sc.ngroups] {
		grp := &sc.groups[g]
		m := grp.msg
		if grp.key[0] != k0 || grp.key[1] != k1 || len(after) <= m || len(after)-m > sc.maxRecord {
			continue
		}
		t := grp.find(after)
		if t == nil {
			continue
		}
		n := len(t.text)
		at := int32(lo + thEnd + 1) // after, in the buffer
		sl.kind, sl.dir, sl.tmplID = scanCall, t.dir, t.id
		sl.time, sl.thread = span{int32(lo + 1), int32(lo + tsEnd)}, span{int32(lo + tsEnd + 2), int32(lo + thEnd)}
		sl.msg = span{at + int32(m), at + int32(len(after))}
		sl.tmplLen, sl.nameEnd = int32(n-m), t.nameEnd
		return true
	}
	return false
}

// scanEnvoy scans an Envoy-framed line that is not a known call line.
func (sc *lineScanner) scanEnvoy(buf, b []byte, thEnd int, sl *scannedLine) bool {
	var l line
	if !sc.p.parseEnvoy(b, &l, nil) {
		return false
	}
	if len(l.msg) > sc.maxRecord {
		return true
	}
	sl.time, sl.thread, sl.msg = spanIn(buf, l.time), spanIn(buf, l.thread), spanIn(buf, l.msg)
	if d := callDirection(l.msg); d != "" {
		sl.kind, sl.dir = scanCall, directionIndex(d)
		var c CallLine
		if ok, _ := parseCall(l.msg, &c, false); ok {
			sc.learn(b[thEnd+1:], len(b)-len(l.msg)-(thEnd+1), &c)
		}
		return true
	}
	if !isCrashHeader(l.msg) {
		sl.kind = scanOther
		sl.level, sl.logger, sl.caller = spanIn(buf, l.level), spanIn(buf, l.logger), spanIn(buf, l.caller)
	}
	return true
}

// plainTail is where the newline is in rest, the bytes after a call
// line's template, when they are plain numbers (plainCallRest) followed by
// "\n" or "\r\n"; otherwise -1.
func plainTail(rest []byte, call bool) int {
	i := 0
	if call {
		if len(rest) > 0 && rest[0] != ')' {
			for {
				j := skipDigits(rest, i)
				if j == i || j+1 >= len(rest) {
					return -1
				}
				i = j
				if rest[i] == ')' {
					break
				}
				if rest[i] != ',' || rest[i+1] != ' ' {
					return -1
				}
				i += 2
			}
		}
		i++ // the ')'
	} else {
		if len(rest) >= 5 && string(rest[:4]) == "void" {
			i = 4
		} else if i = skipDigits(rest, 0); i == 0 {
			return -1
		}
	}
	if i < len(rest) && rest[i] == '\n' {
		return i
	}
	if i+1 < len(rest) && rest[i] == '\r' && rest[i+1] == '\n' {
		return i + 1
	}
	return -1
}

// plainCallRest reports whether rest, what follows a call line's template,
// is what nearly every line has: numbers of digits separated by ", " and a
// ')' for a call, one number of digits or "void" for a return. Then
// callRest accepts it with no annotation, nothing to trim, and rest (a
// return's) as the value.
func plainCallRest(rest []byte, call bool) bool {
	if !call {
		return len(rest) > 0 && (skipDigits(rest, 0) == len(rest) || string(rest) == "void")
	}
	n := len(rest)
	if n == 0 || rest[n-1] != ')' {
		return false
	}
	args := rest[:n-1]
	if len(args) == 0 {
		return true
	}
	for i := 0; ; i += 2 {
		start := i
		i = skipDigits(args, i)
		if i == start {
			return false
		}
		if i == len(args) {
			return true
		}
		if i+2 >= len(args) || args[i] != ',' || args[i+1] != ' ' {
			return false
		}
	}
}

// learn keeps the template of a call line that parseCall accepted into c:
// after is the line after its thread, and its message starts at msg.
func (sc *lineScanner) learn(after []byte, msg int, c *CallLine) {
	n := callTemplateLen(after[msg:], c)
	slot, tn := templateOf(after[msg:])
	if n == 0 || tn != n || len(after) < 16 || msg+n < 16 {
		return
	}
	// callTemplateLen's n is templateOf's, for a name of n-11-1 or
	// n-11-len(returnMark) bytes.
	slot = templateSlot(after[msg:], len(c.Function))
	k0, k1 := binary.LittleEndian.Uint64(after), binary.LittleEndian.Uint64(after[8:])
	var grp *lineGroup
	for g := range sc.groups[:sc.ngroups] {
		if x := &sc.groups[g]; x.key[0] == k0 && x.key[1] == k1 && x.msg == msg {
			grp = x
			break
		}
	}
	if grp == nil {
		grp = &sc.groups[sc.nextGroup]
		sc.ngroups = max(sc.ngroups, sc.nextGroup+1)
		sc.nextGroup = (sc.nextGroup + 1) % lineGroups
		*grp = lineGroup{key: [2]uint64{k0, k1}, msg: msg}
	}
	// Two ways per slot: a template replaces one that differs, the older
	// of two.
	t := &grp.templates[slot]
	if u := &grp.templates[slot|1]; len(t.text) > 0 && (len(u.text) == 0 || u.id < t.id) {
		t = u
	}
	sc.lastID += sc.idStep
	t.text = append(t.text[:0], after[:msg+n]...)
	t.dir, t.msg, t.nameEnd, t.id = directionIndex(c.Direction), int32(msg), int32(11+len(c.Function)), sc.lastID
	t.key, t.next = grp.key, nil
}
