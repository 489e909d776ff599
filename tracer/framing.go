package tracer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"time"
)

// Framing says which log line layout a record was recognised in.
type Framing uint8

const (
	// FramingNone is a line with no layout wasmdbg knows: plain program
	// output, or the raw message of a tool that prints no prefix.
	FramingNone Framing = iota
	// FramingEnvoy is Envoy's default application log format
	// "[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v", and the pre-1.16 form
	// without the "[%g:%#] " location (reference §2.1); also the glog
	// layout Envoy's documentation gives for GKE, "E0501 10:00:00.123 14
	// envoy/<file>:<line>] [14][wasm]msg" (no year: no time).
	FramingEnvoy
	// FramingIstio is Istio's proxy format
	// "%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t", with tabs or
	// with the tabs turned into runs of spaces by a terminal copy, and the
	// pilot-agent lines "<time>\t<level>\t<scope>\t<msg>" (reference §2.2).
	FramingIstio
	// FramingJSON is a JSON object per line: Istio's --log_as_json, Docker's
	// json-file driver, cloud logging exports (textPayload/jsonPayload).
	FramingJSON
	// FramingNginx is an nginx error log line
	// "YYYY/MM/DD HH:MM:SS [level] pid#tid: *conn msg" (Kong, APISIX).
	FramingNginx
	// FramingIntegration is proxy-wasm-cpp-host's test integration output
	// ("TRACE from integration: ", "ERROR from integration: ").
	FramingIntegration
	// FramingConsole is a line copied out of a log console: a severity
	// letter and the console's timestamp before a message that has no
	// framing of its own ("E 2020-08-11T20:53:49.524885993Z msg", Google
	// Cloud Logging).
	FramingConsole
)

var framingNames = [...]string{"none", "envoy", "istio", "json", "nginx", "integration", "console"}

func (f Framing) String() string {
	if int(f) < len(framingNames) {
		return framingNames[f]
	}
	return "Framing(" + strconv.Itoa(int(f)) + ")"
}

// line is one physical input line split into its framing fields. Every
// slice points into the line itself or into the parser's scratch buffer.
type line struct {
	framing Framing
	time    []byte
	thread  []byte
	level   []byte
	logger  []byte
	caller  []byte
	origin  []byte
	msg     []byte
	nanos   int64 // time as Unix nanoseconds, 0 when unknown

	// istioOpen: an Istio text record whose "\tthread=N" terminator has
	// not been seen yet, so the message continues on following lines.
	istioOpen bool
	// partial: a CRI "P" line, to be joined with the next one.
	partial bool
	// bad says why a line that looked framed is not (for --strict).
	bad string
	// closed: the line is complete in itself and nothing continues it (a
	// line a person pasted as inline code between backticks).
	closed bool
}

// lineParser recognises the framing of one physical line. It keeps the
// prefixes it learned (an unknown prefix before a known framing) so that
// continuation lines carrying the same prefix are stripped too.
type lineParser struct {
	times     timeCache
	skipTimes bool   // leave line.nanos zero on the Envoy fast path
	scratch   []byte // ANSI-stripped copy, JSON unescaping
	learned   [][]byte
	jsonBuf   []byte
	jsonMsg   []byte
	tails     [envoyTails]envoyTail
	ntails    int // tails in use
	nextTail  int // the one replaced next
}

const maxLearned = 8

// parse fills l from the bytes of one physical line (without its newline).
func (p *lineParser) parse(b []byte, l *line) {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	// Hot path: an Envoy line with no prefix. parseEnvoy sets every field
	// but these.
	if len(b) > 24 && b[0] == '[' && isDigit(b[1]) {
		l.caller, l.origin, l.istioOpen, l.partial, l.bad, l.closed = nil, nil, false, false, "", false
		tc := &p.times
		if p.skipTimes {
			tc = nil
		}
		if p.parseEnvoy(b, l, tc) {
			return
		}
	}
	*l = line{}
	if bytes.IndexByte(b, 0x1b) >= 0 {
		b = p.stripANSI(b)
	}
	b, closed := unwrapLine(b)
	defer func() { l.closed = closed }()
	for range 6 {
		rest, origin, ok := stripPrefix(b)
		if !ok {
			break
		}
		if len(origin) > 0 {
			l.origin = origin
		}
		b = rest
	}
	if p.parseFramed(b, l) {
		return
	}
	if l.msg != nil {
		// parseFramed removed a timestamp the world added.
		b = l.msg
	}
	// An unknown prefix (stern, k9s with container names, log shippers)
	// before a framing we know: learn it.
	if i := findFramingStart(b); i > 0 {
		var tmp line
		if p.parseFramed(b[i:], &tmp) {
			prefix := bytes.TrimRight(b[:i], " \t|:")
			tmp.origin = prefix
			if len(l.origin) > 0 {
				tmp.origin = l.origin
			}
			*l = tmp
			p.learn(b[:i])
			return
		}
	}
	for _, pre := range p.learned {
		if bytes.HasPrefix(b, pre) {
			l.origin = bytes.TrimRight(pre, " \t|:")
			b = b[len(pre):]
			break
		}
	}
	l.framing = FramingNone
	l.msg = b
}

func (p *lineParser) learn(prefix []byte) {
	for _, pre := range p.learned {
		if bytes.Equal(pre, prefix) {
			return
		}
	}
	c := append([]byte(nil), prefix...)
	if len(p.learned) == maxLearned {
		copy(p.learned, p.learned[1:])
		p.learned[maxLearned-1] = c
		return
	}
	p.learned = append(p.learned, c)
}

// parseFramed tries every framing at the start of b.
func (p *lineParser) parseFramed(b []byte, l *line) bool {
	origin := l.origin
	defer func() {
		if len(l.origin) == 0 {
			l.origin = origin
		}
	}()
	if len(b) == 0 {
		return false
	}
	switch c := b[0]; {
	case c == '[':
		if len(b) > 5 && isDigit(b[1]) && isDigit(b[2]) && isDigit(b[3]) && isDigit(b[4]) && b[5] == '-' {
			if p.parseEnvoy(b, l, &p.times) {
				return true
			}
			if isAccessLogStart(b) {
				// Envoy's default access log format, not its log.
				*l = line{origin: origin, msg: b}
				return false
			}
			*l = line{origin: origin, msg: b, bad: "malformed Envoy log prefix"}
			return false
		}
		return parseEnvoyNoTime(b, l) || parseCallerOnly(b, l)
	case c >= 'a' && c <= 'z':
		return parseIstioNoTime(b, l)
	case c >= 'A' && c <= 'Z' && len(b) > 2 && b[1] == ' ' && isDigit(b[2]):
		// A cloud console copy: a severity letter before the timestamp
		// ("E 2020-08-11T20:53:49.524885993Z …", Google Cloud Logging).
		level := severityLetter(c)
		end := rfc3339End(b[2:])
		if level == "" || end == 0 {
			return false
		}
		if !p.parseFramed(b[2:], l) {
			ts := b[2 : 2+end]
			*l = line{origin: origin, framing: FramingConsole, time: ts, msg: skipSpaces(b[2+end:])}
			l.nanos, _ = parseTimeNanos(ts)
		}
		if len(l.level) == 0 {
			l.level = []byte(level)
		}
		return true
	case isDigit(c):
		if parseIstioText(b, l) || parseNginx(b, l) {
			return true
		}
		// A timestamp added by the world (CI logs, kubectl --timestamps,
		// CRI log files) in front of something else.
		// (a space, or a tab in log shippers' and consoles' exports).
		if end := rfc3339End(b); end > 0 && end < len(b) && (b[end] == ' ' || b[end] == '\t') {
			rest := b[end+1:]
			if cri, partial, ok := criStream(rest); ok {
				*l = line{origin: origin}
				if p.parseFramed(cri, l) {
					l.partial = partial
					return true
				}
				*l = line{origin: origin, msg: cri, partial: partial}
				return false
			}
			*l = line{origin: origin}
			if p.parseFramed(rest, l) {
				return true
			}
			*l = line{origin: origin, msg: rest}
			return false
		}
	case c == '{':
		if p.parseJSON(b, l) {
			return true
		}
		if len(b) > 1 && b[1] == '"' && !json.Valid(bytes.TrimRight(b, " \t")) {
			// A valid object that is no log line (a JSON access log
			// entry, a line of a pasted config) is not malformed.
			*l = line{origin: origin, msg: b, bad: "malformed JSON log line"}
		}
		return false
	case c >= 'A' && c <= 'Z' && len(b) > 1 && isDigit(b[1]):
		return parseGlog(b, l)
	case c == 'T' || c == 'E':
		return parseIntegration(b, l)
	}
	return false
}

// parseGlog parses the glog layout Envoy's documentation gives for Google
// Kubernetes Engine, --log-format '%L%m%d %T.%e %t envoy/%@] [%t][%n]%v':
// "E0501 10:00:00.123 14 envoy/source/…/wasm_vm.cc:38] [14][wasm]Function: …"
// (with --log-format-escaped, the message's newlines are "\n"). Its time
// has no year, so the record gets none.
func parseGlog(b []byte, l *line) bool {
	level := severityLetter(b[0])
	if b[0] == 'T' {
		level = "trace"
	}
	if level == "" || len(b) < 20 || b[5] != ' ' || b[8] != ':' || b[11] != ':' || b[14] != '.' {
		return false
	}
	for _, i := range [...]int{1, 2, 3, 4, 6, 7, 9, 10, 12, 13} {
		if !isDigit(b[i]) {
			return false
		}
	}
	i := 15
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i == 15 || i >= len(b) || b[i] != ' ' {
		return false
	}
	rest := b[i+1:]
	thread, rest := nextToken(rest)
	if len(thread) == 0 || len(rest) == 0 || rest[0] != ' ' {
		return false
	}
	rest = rest[1:]
	j := bytes.Index(rest, []byte("] ["))
	if j <= 0 {
		return false
	}
	caller := bytes.TrimPrefix(rest[:j], []byte("envoy/"))
	if !isLocation(caller) {
		return false
	}
	rest = rest[j+2:]
	_, k, ok := bracketField(rest, 0)
	if !ok {
		return false
	}
	logger, k, ok := bracketField(rest, k)
	if !ok {
		return false
	}
	*l = line{origin: l.origin, framing: FramingEnvoy, thread: thread, level: []byte(level), logger: logger, caller: caller, msg: rest[k:]}
	return true
}

// isAccessLogStart reports whether a line starting with "[2…" is an entry
// of Envoy's default access log format ("[2024-05-01T10:00:00.000Z] "GET
// /p HTTP/1.1" 503 …"): a bracketed start time, then the quoted request.
func isAccessLogStart(b []byte) bool {
	i := bytes.IndexByte(b, ']')
	return i > 0 && i < 40 && len(b) > i+2 && b[i+1] == ' ' && b[i+2] == '"'
}

// stripPrefix removes one prefix the world adds to every line and returns
// what it names (pod/container, compose service), if anything.
func stripPrefix(b []byte) (rest, origin []byte, ok bool) {
	if len(b) == 0 {
		return b, nil, false
	}
	// A Markdown quote ("> " before every line of a pasted log, or ">"
	// right before it): Envoy and Istio lines never start with '>'.
	if b[0] == '>' {
		b = b[1:]
		if len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		return b, nil, true
	}
	// k9s copies: a box-drawing border "│" (U+2502) on both sides.
	if len(b) >= 3 && b[0] == 0xe2 && b[1] == 0x94 && b[2] == 0x82 {
		b = b[3:]
		b = bytes.TrimRight(b, " ")
		if n := len(b); n >= 3 && b[n-3] == 0xe2 && b[n-2] == 0x94 && b[n-1] == 0x82 {
			b = bytes.TrimRight(b[:n-3], " ")
		}
		return bytes.TrimLeft(b, " "), nil, true
	}
	// kubectl logs --prefix: "[pod/name/container] ".
	if bytes.HasPrefix(b, []byte("[pod/")) {
		if j := bytes.IndexByte(b, ']'); j > 0 && j+1 < len(b) && b[j+1] == ' ' {
			return b[j+2:], b[1:j], true
		}
	}
	// docker compose: "envoy-1  | " (v2) or "envoy_1  | " (v1).
	if isIdentStart(b[0]) {
		i := 1
		for i < len(b) && i < 128 && isIdent(b[i]) {
			i++
		}
		j := i
		for j < len(b) && b[j] == ' ' {
			j++
		}
		if j > i && j < len(b) && b[j] == '|' && (j+1 == len(b) || b[j+1] == ' ') {
			rest := b[j+1:]
			if len(rest) > 0 {
				rest = rest[1:]
			}
			return rest, b[:i], true
		}
	}
	return b, nil, false
}

// findFramingStart finds where an Envoy or Istio framing begins after an
// unknown prefix, looking only at the first 200 bytes.
func findFramingStart(b []byte) int {
	n := min(len(b), 200)
	for i := 1; i+11 < n; i++ {
		c := b[i]
		if c == '[' && b[i+1] == '2' && isDigit(b[i+2]) && b[i+5] == '-' && b[i+8] == '-' && (b[i+11] == ' ' || b[i+11] == 'T') {
			if prev := b[i-1]; prev == ' ' || prev == '\t' || prev == '|' || prev == ':' {
				return i
			}
		}
		if c == '2' && isDigit(b[i+1]) && (b[i+4] == '-' && b[i+7] == '-' && b[i+10] == 'T' || b[i+4] == '/' && b[i+7] == '/' && b[i+10] == ' ') {
			// Istio's time, or nginx's ("2022/05/09 09:08:31 [error] …").
			if prev := b[i-1]; prev == ' ' || prev == '\t' || prev == '|' {
				return i
			}
		}
	}
	return -1
}

// criStream recognises the CRI log file stream tag after the timestamp:
// "stdout F msg", "stderr P msg".
func criStream(b []byte) (msg []byte, partial, ok bool) {
	var rest []byte
	switch {
	case bytes.HasPrefix(b, []byte("stdout ")):
		rest = b[7:]
	case bytes.HasPrefix(b, []byte("stderr ")):
		rest = b[7:]
	default:
		return nil, false, false
	}
	if len(rest) >= 1 && (rest[0] == 'F' || rest[0] == 'P') && (len(rest) == 1 || rest[1] == ' ') {
		partial = rest[0] == 'P'
		if len(rest) > 1 {
			return rest[2:], partial, true
		}
		return rest[1:], partial, true
	}
	return nil, false, false
}

// envoyTail is the part of an Envoy line between the thread and the
// message: "[trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39]".
// Nearly every line repeats one of a few, so the parser keeps the last
// ones it parsed and recognises them with one comparison. Only tails that
// end with a location are kept: what parseEnvoy makes of those depends on
// their bytes alone, not on the message after them.
type envoyTail struct {
	key       [2]uint64 // text's first 16 bytes, to tell tails apart cheaply
	text      []byte
	levelEnd  int // text[1:levelEnd] is the level
	loggerEnd int // text[levelEnd+2:loggerEnd] is the logger; the location follows "] ["
}

const envoyTails = 8

// parseEnvoy parses "[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v" with the
// location optional. Lines whose level, logger and location repeat a tail
// the parser remembers skip their parsing.
func (p *lineParser) parseEnvoy(b []byte, l *line, tc *timeCache) bool {
	tsEnd, thEnd, ok := envoyHead(b)
	if !ok {
		return false
	}
	ts := b[1:tsEnd]
	var nanos int64
	if tc != nil {
		if nanos, ok = tc.parse(ts); !ok {
			return false
		}
	}
	thread := b[tsEnd+2 : thEnd]
	rest := b[thEnd+1:]
	if t := p.tail(rest); t != nil {
		n := len(t.text)
		l.framing = FramingEnvoy
		l.time, l.nanos, l.thread = ts, nanos, thread
		l.level, l.logger, l.caller = rest[1:t.levelEnd], rest[t.levelEnd+2:t.loggerEnd], rest[t.loggerEnd+3:n-1]
		l.msg = envoyMessage(rest[n:])
		return true
	}
	tailStart := thEnd + 1
	level, i, ok := bracketField(b, tailStart)
	if !ok {
		return false
	}
	levelEnd := i - 1 - tailStart
	logger, i, ok := bracketField(b, i)
	if !ok {
		return false
	}
	loggerEnd := i - 1 - tailStart
	rest = b[i:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return false
		}
		rest = rest[1:]
	}
	l.framing = FramingEnvoy
	l.time, l.nanos = ts, nanos
	l.thread, l.level, l.logger = thread, level, logger
	if len(rest) > 2 && rest[0] == '[' && !isDigit(rest[1]) && rest[1] != 'h' && rest[1] != 'v' {
		if j := bytes.IndexByte(rest, ']'); j > 0 && isLocation(rest[1:j]) {
			l.caller = rest[1:j]
			rest = rest[j+1:]
			p.remember(b[tailStart:len(b)-len(rest)], levelEnd, loggerEnd)
			rest = envoyMessage(rest)
		}
	}
	l.msg = rest
	return true
}

// envoyHead checks the time and thread fields of an Envoy line,
// "[%Y-%m-%d %T.%e][%t]": b[1:tsEnd] is the time, b[tsEnd+2:thEnd] the
// thread, and the level's '[' should follow at thEnd+1.
func envoyHead(b []byte) (tsEnd, thEnd int, ok bool) {
	end := 24
	if len(b) > 26 {
		// The time is 23 bytes, so its ']' is at 24 and none of b[20:24]
		// is one; the separators at 5, 8, 11, 14 and 17 are checked with
		// two words.
		w := binary.LittleEndian.Uint64(b[17:25])
		x := (w ^ 0x5d5d5d5d5d5d5d5d) & 0x00ffffffff000000 // b[20:24] xor ']'
		if byte(w>>56) != ']' || hasZeroByte(x|0x0000000000ffffff|0xff00000000000000) {
			end = 0
		}
		if end != 0 {
			v := binary.LittleEndian.Uint64(b[5:13])
			if v&0x00ff0000ff0000ff != 0x002000002d00002d || byte(w) != ':' || b[14] != ':' {
				return 0, 0, false
			}
			if b[25] != '[' {
				return 0, 0, false
			}
			j := 26
			for j < len(b) && b[j] != ']' {
				j++
			}
			if j >= len(b) {
				return 0, 0, false
			}
			return 24, j, true
		}
	}
	// Otherwise the first ']' in b[20:40] ends the time. The fields are
	// short: plain loops beat bytes.IndexByte's call here.
	end = 20
	for end < len(b) && end < 40 && b[end] != ']' {
		end++
	}
	if end >= len(b) || b[end] != ']' {
		return 0, 0, false
	}
	// The time's separators: b[1:end] is at least 19 bytes.
	// A --log-format may print the time as ISO 8601, "2024-05-01T10:00:00.123Z".
	if b[5] != '-' || b[8] != '-' || b[11] != ' ' && b[11] != 'T' || b[14] != ':' || b[17] != ':' {
		return 0, 0, false
	}
	i := end + 1
	if i >= len(b) || b[i] != '[' {
		return 0, 0, false
	}
	j := i + 1
	for j < len(b) && b[j] != ']' {
		j++
	}
	if j >= len(b) {
		return 0, 0, false
	}
	return end, j, true
}

// hasZeroByte reports whether any byte of x is zero.
func hasZeroByte(x uint64) bool {
	return (x-0x0101010101010101)&^x&0x8080808080808080 != 0
}

// envoyMessage drops the space between the location and the message.
func envoyMessage(rest []byte) []byte {
	if len(rest) > 0 && rest[0] == ' ' {
		return rest[1:]
	}
	return rest
}

// tail returns the remembered tail b starts with, if any.
func (p *lineParser) tail(b []byte) *envoyTail {
	if len(b) < 16 {
		return nil
	}
	k0, k1 := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	for k := range p.tails[:p.ntails] {
		t := &p.tails[k]
		if t.key[0] == k0 && t.key[1] == k1 && len(b) >= len(t.text) && string(b[:len(t.text)]) == string(t.text) {
			return t
		}
	}
	return nil
}

// remember keeps a tail that ended with a location, replacing the oldest.
func (p *lineParser) remember(text []byte, levelEnd, loggerEnd int) {
	if len(text) < 16 || len(text) > 256 {
		return
	}
	k := p.nextTail
	p.nextTail = (k + 1) % envoyTails
	p.ntails = max(p.ntails, k+1)
	t := &p.tails[k]
	t.key = [2]uint64{binary.LittleEndian.Uint64(text), binary.LittleEndian.Uint64(text[8:])}
	t.text = append(t.text[:0], text...)
	t.levelEnd, t.loggerEnd = levelEnd, loggerEnd
}

// bracketField reads "[field]" at b[i:] and returns the field and the
// index after the ']'.
func bracketField(b []byte, i int) (field []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '[' {
		return nil, 0, false
	}
	j := i + 1
	for j < len(b) && b[j] != ']' {
		j++
	}
	if j >= len(b) {
		return nil, 0, false
	}
	return b[i+1 : j], j + 1, true
}

// isLocation reports whether b looks like "%g:%#": a source path and a
// line number ("source/extensions/common/wasm/wasm_vm.cc:39").
func isLocation(b []byte) bool {
	i := len(b) - 1
	for i > 0 && isDigit(b[i]) {
		i--
	}
	if i <= 0 || i == len(b)-1 || b[i] != ':' {
		return false
	}
	path := b[:i]
	if bytes.HasPrefix(path, []byte("source/")) || bytes.HasPrefix(path, []byte("external/")) {
		return true // Envoy's and Istio's sources
	}
	return bytes.IndexByte(path, '/') >= 0 || bytes.IndexByte(path, '.') >= 0
}

// parseIstioText parses Istio's tab-separated format, and the same after a
// terminal copy turned the tabs into spaces.
func parseIstioText(b []byte, l *line) bool {
	end := rfc3339End(b)
	if end <= 0 || end >= len(b) {
		return false
	}
	ts := b[:end]
	rest := b[end:]
	if rest[0] == '\t' {
		parts := rest[1:]
		i := bytes.IndexByte(parts, '\t')
		if i <= 0 || !isLevel(parts[:i]) {
			return false
		}
		level := parts[:i]
		parts = parts[i+1:]
		j := bytes.IndexByte(parts, '\t')
		var scope, msg []byte
		if j < 0 {
			// "<time>\t<level>\t<scope>" with no message.
			scope = parts
		} else {
			// Spaces a copy left after the last tab are no part of the
			// message (it may be empty: wrapped after the location).
			scope, msg = parts[:j], bytes.TrimRight(parts[j+1:], " ")
		}
		fillIstio(l, ts, level, scope, msg)
		return true
	}
	if rest[0] != ' ' {
		return false
	}
	// Tabs collapsed to spaces: "<time>  <level>  envoy <logger> [<caller>]  <msg>  thread=<n>".
	rest = skipSpaces(rest)
	lv, rest := nextToken(rest)
	if !isLevel(lv) {
		return false
	}
	rest = skipSpaces(rest)
	tok, after := nextToken(rest)
	if len(tok) == 0 {
		return false
	}
	var scope []byte
	if string(tok) == "envoy" {
		logger, after2 := nextToken(skipSpaces(after))
		if len(logger) == 0 {
			return false
		}
		scopeEnd := len(b) - len(after2)
		after = after2
		caller, after3 := nextToken(skipSpaces(after))
		if isLocation(caller) {
			scopeEnd = len(b) - len(after3)
			after = after3
		}
		scope = b[len(b)-len(rest) : scopeEnd]
	} else {
		scope = tok
	}
	msg := trimPadding(skipSpaces(after))
	fillIstio(l, ts, lv, scope, msg)
	return true
}

// trimPadding removes what a terminal or pager leaves at the end of a
// copied line whose tabs it turned into spaces: the padding to the
// screen's width, and a pager's position marker after it ("   [5/1795]").
func trimPadding(b []byte) []byte {
	b = bytes.TrimRight(b, " ")
	if n := len(b); n > 0 && b[n-1] == ']' {
		if i := bytes.LastIndexByte(b, '['); i > 8 && bytes.Equal(b[i-8:i], []byte("        ")) && isPagerMarker(b[i+1:n-1]) {
			b = b[:i]
		}
	}
	return bytes.TrimRight(b, " ")
}

// isPagerMarker reports whether b is "N/M".
func isPagerMarker(b []byte) bool {
	slash := bytes.IndexByte(b, '/')
	if slash <= 0 || slash == len(b)-1 {
		return false
	}
	for i, c := range b {
		if i != slash && !isDigit(c) {
			return false
		}
	}
	return true
}

func fillIstio(l *line, ts, level, scope, msg []byte) {
	l.framing = FramingIstio
	l.time = ts
	l.nanos, _ = parseTimeNanos(ts)
	l.level = level
	if bytes.HasPrefix(scope, []byte("envoy ")) {
		s := scope[6:]
		i := bytes.IndexAny(s, " \t")
		if i < 0 {
			l.logger = s
		} else {
			l.logger = s[:i]
			c := bytes.TrimLeft(s[i:], " \t")
			if isLocation(c) {
				l.caller = c
			}
		}
	} else {
		l.logger = scope
	}
	if len(l.caller) == 0 {
		// Istio before 1.8 printed the location in brackets before the
		// message: "…\tenvoy config\t[external/envoy/…/grpc_subscription_impl.cc:101] msg".
		msg = cutCaller(msg, l)
	}
	if th, m, ok := cutThread(msg); ok {
		l.thread, l.msg = th, m
		return
	}
	l.msg = msg
	l.istioOpen = bytes.HasPrefix(scope, []byte("envoy"))
}

// parseEnvoyNoTime parses an Envoy line whose "[time][thread]" a person
// cut before pasting it: "[level][logger] [file:line] message".
func parseEnvoyNoTime(b []byte, l *line) bool {
	level, i, ok := bracketField(b, 0)
	if !ok || !isLevel(level) {
		return false
	}
	logger, i, ok := bracketField(b, i)
	if !ok || len(logger) == 0 || bytes.IndexByte(logger, ' ') >= 0 {
		return false
	}
	rest := b[i:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return false
		}
		rest = rest[1:]
	}
	l.framing = FramingEnvoy
	l.level, l.logger = level, logger
	l.msg = cutCaller(rest, l)
	return true
}

// parseCallerOnly parses an Envoy line a person cut down to its location
// and message: "[source/extensions/common/wasm/wasm_vm.cc:38] message".
func parseCallerOnly(b []byte, l *line) bool {
	j := bytes.IndexByte(b, ']')
	if j < 2 || j+1 >= len(b) || b[j+1] != ' ' || !isLocation(b[1:j]) {
		return false
	}
	l.framing = FramingEnvoy
	l.caller = b[1:j]
	l.msg = b[j+2:]
	return true
}

// parseIstioNoTime parses an Istio line whose timestamp was cut or
// replaced by a log viewer's: "<level>\tenvoy <logger>[ <file:line>]\t<msg>"
// with tabs or runs of spaces, and the older form with the location in
// brackets at the start of the message.
func parseIstioNoTime(b []byte, l *line) bool {
	lv, rest := nextToken(b)
	if !isLevel(lv) || len(rest) == 0 {
		return false
	}
	rest = skipSpaces(rest)
	tok, after := nextToken(rest)
	if string(tok) != "envoy" {
		return false
	}
	logger, after := nextToken(skipSpaces(after))
	if len(logger) == 0 {
		return false
	}
	l.framing = FramingIstio
	l.level, l.logger = lv, logger
	after = skipSpaces(after)
	if caller, after2 := nextToken(after); len(caller) > 0 && caller[0] != '[' && isLocation(caller) {
		l.caller, after = caller, skipSpaces(after2)
	}
	msg := cutCaller(after, l)
	if th, m, ok := cutThread(msg); ok {
		l.thread, msg = th, m
	}
	l.msg = msg
	return true
}

// cutCaller moves a leading "[file:line] " location into l.caller.
func cutCaller(rest []byte, l *line) []byte {
	if len(rest) > 2 && rest[0] == '[' && !isDigit(rest[1]) && rest[1] != 'h' && rest[1] != 'v' {
		if j := bytes.IndexByte(rest, ']'); j > 0 && isLocation(rest[1:j]) {
			l.caller = rest[1:j]
			rest = rest[j+1:]
			if len(rest) > 0 && rest[0] == ' ' {
				rest = rest[1:]
			}
		}
	}
	return rest
}

// severityLetter maps the one-letter severities of log consoles (Google
// Cloud Logging, glog) to level words.
func severityLetter(c byte) string {
	switch c {
	case 'D':
		return "debug"
	case 'I', 'N':
		return "info"
	case 'W':
		return "warning"
	case 'E':
		return "error"
	case 'C', 'A', 'F':
		return "critical"
	}
	return ""
}

// unwrapLine removes what a person's copy wraps around a whole line: the
// quotes and escaped newline of a line copied out of a JSON string array
// or a log viewer (`" 0: 0x2c01a - name\n"`, `[error][wasm] … failed\n"`),
// and inline-code backticks around a framed line, which make the line
// complete in itself (closed).
func unwrapLine(b []byte) (_ []byte, closed bool) {
	if n := len(b); n > 0 && b[n-1] == ' ' {
		// Spaces after a JSON string's closing quote are the copy's.
		if t := bytes.TrimRight(b, " "); bytes.HasSuffix(t, []byte(`\n"`)) || bytes.HasSuffix(t, []byte(`\n",`)) {
			b = t
		}
	}
	if n := len(b); n >= 3 && b[n-1] == '"' && b[n-3] == '\\' && b[n-2] == 'n' {
		b = b[:n-3]
		if len(b) > 0 && b[0] == '"' {
			b = b[1:]
		}
	} else if n >= 4 && b[n-1] == ',' && b[n-2] == '"' && b[n-4] == '\\' && b[n-3] == 'n' {
		b = b[:n-4]
		if len(b) > 0 && b[0] == '"' {
			b = b[1:]
		}
	}
	if n := len(b); n > 2 && b[0] == '`' && b[1] != '`' && (b[1] == '[' || isDigit(b[1])) {
		// Spaces after the closing backtick are the copy's, not the line's.
		if c := bytes.TrimRight(b, " \t"); len(c) > 2 && c[len(c)-1] == '`' {
			return c[1 : len(c)-1], true
		}
	}
	return b, false
}

// cutThread splits Istio's "\tthread=N" terminator (or " thread=N" after
// a terminal copy) off the end of a message.
func cutThread(msg []byte) (thread, rest []byte, ok bool) {
	i := bytes.LastIndex(msg, []byte("thread="))
	if i < 0 {
		return nil, msg, false
	}
	th := msg[i+7:]
	th = bytes.TrimRight(th, " \t")
	if len(th) == 0 {
		return nil, msg, false
	}
	for _, c := range th {
		if !isDigit(c) {
			return nil, msg, false
		}
	}
	if i == 0 {
		return th, msg[:0], true
	}
	if c := msg[i-1]; c != '\t' && c != ' ' {
		return nil, msg, false
	}
	return th, bytes.TrimRight(msg[:i], " \t"), true
}

// parseNginx parses "YYYY/MM/DD HH:MM:SS [level] pid#tid: *conn msg".
func parseNginx(b []byte, l *line) bool {
	if len(b) < 22 || b[4] != '/' || b[7] != '/' || b[10] != ' ' || b[13] != ':' || b[16] != ':' || b[19] != ' ' || b[20] != '[' {
		return false
	}
	ts := b[:19]
	nanos, ok := parseTimeNanos(ts)
	if !ok {
		return false
	}
	rest := b[21:]
	j := bytes.IndexByte(rest, ']')
	if j <= 0 {
		return false
	}
	level := rest[:j]
	rest = rest[j+1:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	var thread []byte
	if k := bytes.Index(rest, []byte(": ")); k > 0 && bytes.IndexByte(rest[:k], '#') > 0 {
		thread = rest[:k]
		rest = rest[k+2:]
	}
	if len(rest) > 1 && rest[0] == '*' {
		k := 1
		for k < len(rest) && isDigit(rest[k]) {
			k++
		}
		if k > 1 && k < len(rest) && rest[k] == ' ' {
			rest = rest[k+1:]
		}
	}
	l.framing = FramingNginx
	l.time, l.nanos, l.level, l.thread, l.msg = ts, nanos, level, thread, rest
	return true
}

func parseIntegration(b []byte, l *line) bool {
	for _, p := range [...]struct{ prefix, level string }{
		{"TRACE from integration: ", "trace"},
		{"ERROR from integration: ", "error"},
	} {
		if bytes.HasPrefix(b, []byte(p.prefix)) {
			l.framing = FramingIntegration
			l.level = []byte(p.level)
			l.msg = b[len(p.prefix):]
			return true
		}
	}
	return false
}

// jsonLine is the union of the JSON log layouts wasmdbg reads: Istio and
// Envoy JSON logs, Docker's json-file driver, fluent-bit, and cloud logging
// exports with a textPayload or a jsonPayload.
type jsonLine struct {
	Level     string          `json:"level"`
	Severity  string          `json:"severity"`
	Time      string          `json:"time"`
	Timestamp string          `json:"timestamp"`
	Scope     string          `json:"scope"`
	Logger    string          `json:"logger"`
	Name      string          `json:"name"`
	Msg       *string         `json:"msg"`
	Message   *string         `json:"message"`
	Log       *string         `json:"log"`
	Text      *string         `json:"textPayload"`
	Caller    string          `json:"caller"`
	Thread    json.RawMessage `json:"thread"`
	// The keys of Envoy's own json_format example (application_log_config):
	// "ThreadId": "%t", "SourceLine": "%s:%#" (Timestamp, Level and Message
	// match the fields above; encoding/json ignores case).
	ThreadID   json.RawMessage `json:"threadid"`
	SourceLine string          `json:"sourceline"`
	Payload    *jsonLine       `json:"jsonPayload"`
	Resource   *struct {
		Labels struct {
			Pod       string `json:"pod_name"`
			Container string `json:"container_name"`
		} `json:"labels"`
	} `json:"resource"`
	Kubernetes *struct {
		Pod       string `json:"pod_name"`
		Container string `json:"container_name"`
	} `json:"kubernetes"`
}

// parseJSON recognises one JSON object per line. A raw log line inside
// ("log", "textPayload") is parsed again for its own framing.
func (p *lineParser) parseJSON(b []byte, l *line) bool {
	trimmed := bytes.TrimRight(b, " \t")
	if len(trimmed) < 2 || trimmed[len(trimmed)-1] != '}' {
		return false
	}
	var j jsonLine
	if err := json.Unmarshal(trimmed, &j); err != nil {
		return false
	}
	origin := jsonOrigin(&j)
	outerTime := firstNonEmpty(j.Time, j.Timestamp)
	if j.Payload != nil {
		origin2 := origin
		j = *j.Payload
		j.Timestamp = firstNonEmpty(j.Timestamp, outerTime)
		origin = origin2
	}
	raw := j.Log
	if raw == nil {
		raw = j.Text
	}
	var msg *string
	switch {
	case j.Msg != nil:
		msg = j.Msg
	case j.Message != nil:
		msg = j.Message
	}
	if msg == nil && raw != nil {
		// A raw line inside JSON (Docker json-file, textPayload): its own
		// framing decides, the JSON only adds time and origin.
		inner := []byte(*raw)
		inner = bytes.TrimSuffix(inner, []byte("\n"))
		first, more, _ := bytes.Cut(inner, []byte("\n"))
		p.jsonBuf = append(p.jsonBuf[:0], first...)
		var sub lineParser
		sub.parse(p.jsonBuf, l)
		if len(more) > 0 {
			p.jsonMsg = append(append(append(p.jsonMsg[:0], l.msg...), '\n'), more...)
			l.msg = p.jsonMsg
		}
		if l.framing == FramingNone {
			l.framing = FramingJSON
			l.time = []byte(outerTime)
			l.nanos, _ = parseTimeNanos(l.time)
		}
		if len(l.origin) == 0 && origin != "" {
			l.origin = []byte(origin)
		}
		return true
	}
	if msg == nil {
		return false
	}
	l.framing = FramingJSON
	l.time = []byte(firstNonEmpty(j.Time, j.Timestamp, outerTime))
	l.nanos, _ = parseTimeNanos(l.time)
	l.level = []byte(firstNonEmpty(j.Level, j.Severity))
	scope := firstNonEmpty(j.Scope, j.Logger, j.Name)
	if s, ok := cutPrefixString(scope, "envoy "); ok {
		scope = s
	}
	l.logger = []byte(scope)
	l.caller = []byte(firstNonEmpty(j.Caller, j.SourceLine))
	l.thread = jsonThread(j.Thread)
	if l.thread == nil {
		l.thread = jsonThread(j.ThreadID)
	}
	l.msg = []byte(*msg)
	if len(l.caller) == 0 {
		// Istio before 1.8 put the location in the message, as in its
		// text lines: "[external/envoy/…/wasm.cc:643] createWasm: …".
		l.msg = cutCaller(l.msg, l)
	}
	if origin != "" {
		l.origin = []byte(origin)
	}
	return true
}

func jsonOrigin(j *jsonLine) string {
	if j.Resource != nil && j.Resource.Labels.Pod != "" {
		return joinOrigin(j.Resource.Labels.Pod, j.Resource.Labels.Container)
	}
	if j.Kubernetes != nil && j.Kubernetes.Pod != "" {
		return joinOrigin(j.Kubernetes.Pod, j.Kubernetes.Container)
	}
	return ""
}

func joinOrigin(pod, container string) string {
	if container == "" {
		return "pod/" + pod
	}
	return "pod/" + pod + "/" + container
}

func jsonThread(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
		return nil
	}
	return []byte(raw)
}

// rfc3339End returns the length of an RFC 3339 UTC timestamp
// ("2024-03-08T08:16:46.747394Z", any fraction) at the start of b, or 0.
func rfc3339End(b []byte) int {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(b[i]) {
			return 0
		}
	}
	i := 19
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && b[i] == 'Z' {
		return i + 1
	}
	// A numeric offset: +00:00.
	if i+6 <= len(b) && (b[i] == '+' || b[i] == '-') && b[i+3] == ':' {
		return i + 6
	}
	return 0
}

// parseTimeNanos converts the timestamps of the framings ("2022-11-17
// 19:42:08.870", "2024-03-08T08:16:46.747394Z", "2023/11/30 12:52:39")
// to Unix nanoseconds without allocating. Zone offsets other than Z are
// applied; a time with no zone is taken as UTC.
func parseTimeNanos(ts []byte) (int64, bool) {
	if len(ts) < 19 {
		return 0, false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(ts[i]) {
			return 0, false
		}
	}
	year := int(ts[0]-'0')*1000 + int(ts[1]-'0')*100 + int(ts[2]-'0')*10 + int(ts[3]-'0')
	month := int(ts[5]-'0')*10 + int(ts[6]-'0')
	day := int(ts[8]-'0')*10 + int(ts[9]-'0')
	hour := int(ts[11]-'0')*10 + int(ts[12]-'0')
	minute := int(ts[14]-'0')*10 + int(ts[15]-'0')
	sec := int(ts[17]-'0')*10 + int(ts[18]-'0')
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return 0, false
	}
	var frac int64
	i := 19
	if i < len(ts) && (ts[i] == '.' || ts[i] == ',') {
		i++
		scale := int64(100_000_000)
		for i < len(ts) && isDigit(ts[i]) {
			frac += int64(ts[i]-'0') * scale
			scale /= 10
			i++
		}
	}
	var offset int64
	if i+6 <= len(ts) && (ts[i] == '+' || ts[i] == '-') && ts[i+3] == ':' {
		h := int64(ts[i+1]-'0')*10 + int64(ts[i+2]-'0')
		m := int64(ts[i+4]-'0')*10 + int64(ts[i+5]-'0')
		offset = (h*60 + m) * 60
		if ts[i] == '-' {
			offset = -offset
		}
	}
	days := daysFromCivil(year, month, day)
	secs := days*86400 + int64(hour*3600+minute*60+sec) - offset
	return secs*int64(time.Second) + frac, true
}

// timeCache remembers the last whole second parsed: consecutive log lines
// mostly share it, so only the fraction needs parsing.
type timeCache struct {
	lo, mid uint64 // the second's first 16 bytes, "2022-11-17 19:42"
	hi      uint32 // and its last 3, ":08"
	secs    int64  // nanoseconds of the whole second
	valid   bool
}

// secondKey packs the first 19 bytes of ts, the whole second, into three
// words so a comparison costs three instructions. len(ts) >= 19.
func secondKey(ts []byte) (lo, mid uint64, hi uint32) {
	_ = ts[18]
	return binary.LittleEndian.Uint64(ts), binary.LittleEndian.Uint64(ts[8:]),
		uint32(ts[16]) | uint32(ts[17])<<8 | uint32(ts[18])<<16
}

func (tc *timeCache) parse(ts []byte) (int64, bool) {
	if tc.valid && len(ts) >= 19 {
		if lo, mid, hi := secondKey(ts); lo == tc.lo && mid == tc.mid && hi == tc.hi {
			// Same second: only the fraction is new.
			if len(ts) == 23 && ts[19] == '.' && isDigit(ts[20]) && isDigit(ts[21]) && isDigit(ts[22]) {
				// Envoy's milliseconds.
				return tc.secs + int64(ts[20]-'0')*100_000_000 + int64(ts[21]-'0')*10_000_000 + int64(ts[22]-'0')*1_000_000, true
			}
			var frac int64
			scale := int64(100_000_000)
			i := 19
			if i < len(ts) && (ts[i] == '.' || ts[i] == ',') {
				i++
				for i < len(ts) && isDigit(ts[i]) {
					frac += int64(ts[i]-'0') * scale
					scale /= 10
					i++
				}
			}
			if i == len(ts) || (i == len(ts)-1 && ts[i] == 'Z') {
				return tc.secs + frac, true
			}
		}
	}
	v, ok := parseTimeNanos(ts)
	if ok && !hasZoneOffset(ts) {
		tc.lo, tc.mid, tc.hi = secondKey(ts)
		tc.secs, tc.valid = parseTimeNanos(ts[:19])
	}
	return v, ok
}

// hasZoneOffset reports whether a timestamp ends in a numeric offset.
func hasZoneOffset(ts []byte) bool {
	n := len(ts)
	return n >= 6 && (ts[n-6] == '+' || ts[n-6] == '-') && ts[n-3] == ':'
}

// daysFromCivil is the number of days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

// isLevel reports whether b is a log level word as spdlog, Istio, nginx
// or a JSON logger print it.
func isLevel(b []byte) bool {
	switch string(b) {
	case "trace", "debug", "info", "warning", "warn", "error", "critical", "off", "fatal", "none",
		"notice", "crit", "alert", "emerg", "err":
		return true
	}
	return false
}

// stripANSI removes terminal escape sequences (colours from docker
// compose, stern, kubectl plugins) into the parser's scratch buffer.
func (p *lineParser) stripANSI(b []byte) []byte {
	out := p.scratch[:0]
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '[' {
			j := i + 2
			for j < len(b) && (b[j] < 0x40 || b[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		out = append(out, b[i])
	}
	p.scratch = out
	return out
}

func skipSpaces(b []byte) []byte {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return b[i:]
}

func nextToken(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && b[i] != ' ' && b[i] != '\t' {
		i++
	}
	return b[:i], b[i:]
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) }
func isIdent(c byte) bool      { return isIdentStart(c) || c == '_' || c == '-' || c == '.' }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func cutPrefixString(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}
