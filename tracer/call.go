package tracer

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// CallLine is a wasm:trace line split into its parts. The slices point
// into the parsed message; ParseCall does not allocate.
type CallLine struct {
	Direction Direction
	// Function is the name as printed: "proxy_on_request_headers" for a
	// callback, "env.proxy_log" for a host call.
	Function []byte
	// Args is the text between the parentheses of a call ("2, 8, 1"), empty
	// for returns and calls with no arguments.
	Args []byte
	// Return is "void" or the number after "return: ", empty for calls.
	Return []byte
	// Annotation is a decoded form a tool appended after "  # "
	// (wasmdbg replay does: "# env.proxy_get_header_map_value(HttpRequestHeaders, \"allow\")").
	Annotation []byte
}

// annotationMark separates a wasm:trace line from the decoded form
// wasmdbg replay appends (agreed with package replay).
var annotationMark = []byte("  # ")

var returnMark = []byte(" return: ")

// ParseCall parses a wasm:trace message (reference §1.2):
//
//	[host->vm] proxy_on_request_headers(2, 8, 1)
//	[host<-vm] proxy_on_request_headers return: 0
//	[vm->host] env.proxy_log(2, 5247632, 65)
//	[vm<-host] env.proxy_log return: 0
//
// with an optional "  # annotation" suffix. It returns a reason when msg
// starts with a direction marker but is not a well-formed call line, and ok
// false when msg is not a call line at all.
func ParseCall(msg []byte, c *CallLine) (ok bool, bad string) {
	return parseCall(msg, c, true)
}

// parseCall is ParseCall; without checkNames the function name is not
// validated, for a caller that validates each distinct name once (Stats).
func parseCall(msg []byte, c *CallLine, checkNames bool) (ok bool, bad string) {
	c.Function, c.Args, c.Return, c.Annotation = nil, nil, nil, nil
	c.Direction = callDirection(msg)
	if c.Direction == "" {
		return false, ""
	}
	rest := msg[11:]
	if bytes.IndexByte(rest, '#') >= 0 {
		if j := bytes.Index(rest, annotationMark); j >= 0 {
			c.Annotation = rest[j+len(annotationMark):]
			rest = rest[:j]
		}
	}
	n := len(rest)
	for n > 0 && (rest[n-1] == ' ' || rest[n-1] == '\t') {
		n--
	}
	rest = rest[:n]
	if c.Direction == HostToVM || c.Direction == VMToHost {
		open := bytes.IndexByte(rest, '(')
		if open <= 0 {
			return false, "no '(' after the function name"
		}
		if rest[n-1] != ')' {
			return false, "no ')' at the end of the arguments"
		}
		c.Function = rest[:open]
		c.Args = rest[open+1 : n-1]
		if checkNames {
			if bad := checkName(c.Function, c.Direction == VMToHost); bad != "" {
				return false, bad
			}
		}
		if bad := checkArgs(c.Args); bad != "" {
			return false, bad
		}
		return true, ""
	}
	// "NAME return: VALUE": the value is the last word.
	i := bytes.LastIndexByte(rest, ' ') - (len(returnMark) - 1)
	if i <= 0 || string(rest[i:i+len(returnMark)]) != " return: " {
		if i = bytes.Index(rest, returnMark); i <= 0 {
			return false, "no \" return: \" after the function name"
		}
	}
	c.Function = rest[:i]
	c.Return = rest[i+len(returnMark):]
	if checkNames {
		if bad := checkName(c.Function, c.Direction == VMFromHost); bad != "" {
			return false, bad
		}
	}
	if r := c.Return; len(r) == 1 && isDigit(r[0]) || string(r) == "void" || isNumber(r) {
		return true, ""
	}
	return false, "return value " + strconv.Quote(string(c.Return)) + " is not a number or void"
}

// callDirection returns the direction of a wasm:trace line, or "" when msg
// is not one (isCallMessage).
func callDirection(msg []byte) Direction {
	if len(msg) < 12 {
		return ""
	}
	// One 8-byte comparison for the marker's start, three bytes for its end.
	switch binary.LittleEndian.Uint64(msg) {
	case markHostTo:
		if string(msg[8:11]) == "m] " {
			return HostToVM
		}
	case markHostFrom:
		if string(msg[8:11]) == "m] " {
			return HostFromVM
		}
	case markVMTo:
		if string(msg[8:11]) == "t] " {
			return VMToHost
		}
	case markVMFrom:
		if string(msg[8:11]) == "t] " {
			return VMFromHost
		}
	}
	return ""
}

// The first 8 bytes of the four markers as little-endian words (a test
// checks them).
const (
	markHostTo   = 0x763e2d74736f685b // "[host->v"
	markHostFrom = 0x762d3c74736f685b // "[host<-v"
	markVMTo     = 0x736f683e2d6d765b // "[vm->hos"
	markVMFrom   = 0x736f682d3c6d765b // "[vm<-hos"
)

// callParser is parseCall without name checks, faster on the lines a
// trace repeats. A call line is a template, its marker and function name
// ("[vm->host] env.proxy_log(" or "[vm<-host] env.proxy_log return: "),
// then numbers. The parser keeps the templates of the lines it parsed, by
// a hash of their first bytes, and of a line that starts with a known one
// reads only what follows it (callRest).
type callParser struct {
	templates [callTemplates]callTemplate
}

// callTemplate is the start of a call line up to its numbers.
type callTemplate struct {
	text    []byte
	dir     Direction
	nameEnd int // text[11:nameEnd] is the function name
}

const callTemplates = 256

var templateSeed = maphash.MakeSeed()

// templateOf returns the length n of the template a call line msg has, as
// callTemplateLen would find it, or 0; and a slot for it among
// callTemplates, from a hash of its direction and function name. It looks
// at the first 256 bytes of msg at most.
func templateOf(msg []byte) (slot, n int) {
	if len(msg) < 13 {
		return 0, 0
	}
	end := min(len(msg), 11+256)
	var j int
	if msg[3] == '-' && msg[1] == 'v' || msg[5] == '-' && msg[1] == 'h' {
		// A call: the name ends at the first '('.
		j = bytes.IndexByte(msg[11:end], '(')
		n = 11 + j + 1
	} else {
		// A return: at the first space, before " return: ".
		j = bytes.IndexByte(msg[11:end], ' ')
		n = 11 + j + len(returnMark)
	}
	if j <= 0 || n >= len(msg) {
		return 0, 0
	}
	// The marker's start (the direction is in msg[1:6]) and the name.
	h := maphash.Bytes(templateSeed, msg[1:11+j])
	return int(h >> (64 - 8)), n
}

// parse is parseCall(msg, c, false).
func (cp *callParser) parse(msg []byte, c *CallLine) (ok bool, bad string) {
	slot, n := templateOf(msg)
	if n == 0 {
		return parseCall(msg, c, false)
	}
	t := &cp.templates[slot]
	if len(t.text) == n && string(msg[:n]) == string(t.text) {
		if ok, bad, sure := callRest(msg, n, t.dir, t.nameEnd, c); sure {
			return ok, bad
		}
		return parseCall(msg, c, false)
	}
	ok, bad = parseCall(msg, c, false)
	if ok && callTemplateLen(msg, c) == n {
		t.text = append(t.text[:0], msg[:n]...)
		t.dir, t.nameEnd = c.Direction, 11+len(c.Function)
	}
	return ok, bad
}

// callTemplateLen returns the length of the template of msg, a call line
// parseCall parsed into c, or 0 when it cannot be one: a template holds no
// '#' (so an annotation can only start after it) and is followed by at
// least one byte.
func callTemplateLen(msg []byte, c *CallLine) int {
	var n int
	if c.Direction == HostToVM || c.Direction == VMToHost {
		n = 11 + len(c.Function) + 1 // through the '('
	} else {
		n = 11 + len(c.Function) + len(returnMark)
		if n > len(msg) || string(msg[11+len(c.Function):n]) != " return: " {
			return 0
		}
	}
	if n >= len(msg) || n > 256 || bytes.IndexByte(msg[:n], '#') >= 0 {
		return 0
	}
	return n
}

// callRest is parseCall(msg, c, false) for a msg that starts with the
// n bytes of a template with direction dir and function name
// msg[11:nameEnd]: only the rest is read. sure is false when the rest is
// not what a template's numbers look like (trimming would reach into the
// template, or a return value is not the last word); parseCall decides
// those. Otherwise the answer is parseCall's: a template has no '#', so an
// annotation can only start after it; a call's first '(' is the
// template's last byte; a return value with no space after " return: " is
// the last word.
func callRest(msg []byte, n int, dir Direction, nameEnd int, c *CallLine) (ok bool, bad string, sure bool) {
	rest := msg[n:]
	var annotation []byte
	if bytes.IndexByte(rest, '#') >= 0 {
		if j := bytes.Index(rest, annotationMark); j >= 0 {
			annotation = rest[j+len(annotationMark):]
			rest = rest[:j]
		}
	}
	m := len(rest)
	for m > 0 && (rest[m-1] == ' ' || rest[m-1] == '\t') {
		m--
	}
	rest = rest[:m]
	call := dir == HostToVM || dir == VMToHost
	if m == 0 || !call && bytes.IndexByte(rest, ' ') >= 0 {
		return false, "", false
	}
	c.Direction, c.Function, c.Annotation = dir, msg[11:nameEnd], annotation
	if call {
		c.Return = nil
		if rest[m-1] != ')' {
			c.Args = nil
			return false, "no ')' at the end of the arguments", true
		}
		c.Args = rest[:m-1]
		if bad := checkArgs(c.Args); bad != "" {
			return false, bad, true
		}
		return true, "", true
	}
	c.Args, c.Return = nil, rest
	if len(rest) == 1 && isDigit(rest[0]) || string(rest) == "void" || isNumber(rest) {
		return true, "", true
	}
	return false, "return value " + strconv.Quote(string(c.Return)) + " is not a number or void", true
}

// checkName rejects names with spaces or parentheses; host calls must be
// "module.field".
func checkName(name []byte, import_ bool) string {
	for _, ch := range name {
		if badNameByte[ch] {
			return "function name " + strconv.Quote(string(name)) + " has a space or parenthesis"
		}
	}
	if import_ && bytes.IndexByte(name, '.') <= 0 {
		return "host function " + strconv.Quote(string(name)) + " has no \"module.\" prefix"
	}
	return ""
}

var argClass = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	t[','], t[' '] = 2, 3
	return t
}()

var badNameByte = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for _, c := range " (),\x7f" {
		t[c] = true
	}
	return t
}()

// checkArgs validates "2, 8, 1": numbers separated by ", ". The common
// case (digits, commas, spaces) is checked in one pass; anything else goes
// through the careful path.
func checkArgs(args []byte) string {
	if len(args) == 0 {
		return ""
	}
	// What nearly every line has: numbers of digits separated by ", ".
	for i := 0; ; i += 2 {
		start := i
		i = skipDigits(args, i)
		if i == start {
			break
		}
		if i == len(args) {
			return ""
		}
		if i+2 >= len(args) || args[i] != ',' || args[i+1] != ' ' {
			break
		}
	}
	// The common case (digits, ", ") in one pass over a class table.
	simple, prev := true, byte(',')
	for i := 0; i < len(args); i++ {
		ch := args[i]
		switch argClass[ch] {
		case 1: // digit
		case 2: // ','
			if prev == ',' || i+1 >= len(args) || args[i+1] != ' ' {
				simple = false
			}
		case 3: // ' '
			if prev != ',' {
				simple = false
			}
		default:
			simple = false
		}
		if !simple {
			break
		}
		prev = ch
	}
	if simple && isDigit(prev) {
		return ""
	}
	for len(args) > 0 {
		var a []byte
		if i := bytes.IndexByte(args, ','); i >= 0 {
			a, args = args[:i], args[i+1:]
			if len(args) == 0 || args[0] != ' ' {
				return "arguments are not separated by \", \""
			}
			args = args[1:]
		} else {
			a, args = args, nil
		}
		if !isNumber(a) {
			return "argument " + strconv.Quote(string(a)) + " is not a number"
		}
	}
	return ""
}

// skipDigits returns the index of the first byte at or after i in b that
// is not an ASCII digit, or len(b). It looks at 8 bytes at a time: a byte
// is a digit when subtracting '0' neither borrows nor adding 0x46 carries
// into its top bit; the lowest byte flagged is exact, since the digits
// below it neither borrow nor carry.
func skipDigits(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := ((x - 0x3030303030303030) | (x + 0x4646464646464646)) & 0x8080808080808080; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// isNumber accepts what std::to_string prints for integers and floats
// ("-1", "18446744073709551615", "1.500000", "nan", "-inf").
func isNumber(b []byte) bool {
	if len(b) == 0 || len(b) > 40 {
		return false
	}
	s := b
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	switch string(s) {
	case "nan", "inf", "-nan":
		return true
	}
	if len(s) == 0 {
		return false
	}
	digits := 0
	for _, ch := range s {
		switch {
		case isDigit(ch):
			digits++
		case ch == '.' || ch == 'e' || ch == 'E' || ch == '-' || ch == '+':
		default:
			return false
		}
	}
	return digits > 0
}

// eachArg calls fn for every argument of a call line.
func eachArg(args []byte, fn func(i int, a []byte)) {
	i := 0
	for len(args) > 0 {
		j := bytes.Index(args, []byte(", "))
		if j < 0 {
			fn(i, args)
			return
		}
		fn(i, args[:j])
		args = args[j+2:]
		i++
	}
}

// splitArgs returns the arguments as printed.
func splitArgs(args []byte) []Number {
	if len(args) == 0 {
		return nil
	}
	// One string for all arguments, sliced: two allocations per call.
	all := string(args)
	out := make([]Number, 0, bytes.Count(args, []byte(", "))+1)
	for {
		i := strings.Index(all, ", ")
		if i < 0 {
			return append(out, Number(all))
		}
		out = append(out, Number(all[:i]))
		all = all[i+2:]
	}
}

// wordValue reads a printed i32 or i64 as the bit pattern the VM passed.
// V8 prints i32 unsigned, WAMR signed (reference §1.3): both decode to the
// same value.
func wordValue(s string, t abi.ValType) (uint64, bool) {
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		if t == abi.I32 && u > 0xffffffff {
			return 0, false
		}
		return u, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	if t == abi.I32 {
		if v < -1<<31 {
			return 0, false
		}
		return uint64(uint32(int32(v))), true
	}
	return uint64(v), true
}

// lookupCallback finds the callback signature that matches the number of
// arguments printed (proxy_on_request_headers has 2 in ABI 0.1.0, 3 after).
func lookupCallback(name string, nargs int) *abi.Callback {
	for _, v := range [...]abi.Version{abi.VersionUnknown, abi.Version010} {
		if cb := abi.LookupCallback(name, v); cb != nil && (nargs < 0 || len(cb.Params) == nargs) {
			return cb
		}
	}
	return abi.LookupCallback(name, abi.VersionUnknown)
}

// lookupHost finds a host function from its printed "module.field" name.
func lookupHost(name string) *abi.HostFunc {
	mod, field, ok := cutString(name, '.')
	if !ok {
		return nil
	}
	return abi.LookupHost(mod, field)
}

// decodeArgs names and decodes arguments with the ABI table.
func decodeArgs(params []abi.Param, args []Number) []Arg {
	if len(params) == 0 || len(args) == 0 {
		return nil
	}
	out := make([]Arg, 0, len(args))
	for i, a := range args {
		if i >= len(params) {
			break
		}
		p := params[i]
		v, ok := wordValue(string(a), p.Type)
		if !ok {
			out = append(out, Arg{Name: p.Name, Value: string(a)})
			continue
		}
		val := string(a) // plain numbers as printed, when printed unsigned
		if k := p.Kind; k != abi.KindNumber && k != abi.KindSize && k != abi.KindContextID || a[0] == '-' {
			val = kindValue(p.Kind, p.Type, v)
		}
		out = append(out, Arg{Name: p.Name, Value: val})
	}
	return out
}

// kindValue renders a decoded value by what the parameter means.
func kindValue(k abi.Kind, t abi.ValType, v uint64) string {
	switch k {
	case abi.KindString, abi.KindBytes, abi.KindPairs, abi.KindOutPtr:
		return "0x" + strconv.FormatUint(v, 16)
	case abi.KindMapType:
		return abi.MapType(v).String()
	case abi.KindBufferType:
		return abi.BufferType(v).String()
	case abi.KindStreamType:
		return abi.StreamType(v).String()
	case abi.KindLogLevel:
		return abi.LogLevel(v).String()
	case abi.KindMetricType:
		return abi.MetricType(v).String()
	case abi.KindPeerType:
		return abi.PeerType(v).String()
	case abi.KindBool:
		if v == 0 {
			return "false"
		}
		return "true"
	case abi.KindGrpcStatus:
		return abi.GrpcStatus(int32(uint32(v))).String()
	case abi.KindFd:
		switch v {
		case 0:
			return "stdin"
		case 1:
			return "stdout"
		case 2:
			return "stderr"
		}
	case abi.KindClockID:
		switch v {
		case 0:
			return "realtime"
		case 1:
			return "monotonic"
		case 2:
			return "process_cputime"
		case 3:
			return "thread_cputime"
		}
	case abi.KindSigned:
		if t == abi.I32 {
			return strconv.FormatInt(int64(int32(uint32(v))), 10)
		}
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatUint(v, 10)
}

// resultMeaning names a callback's return value ("Continue",
// "StopIteration", "true") or a host call's status ("BadArgument",
// "NOSYS"). ok is false when the value has no name.
func resultMeaning(r abi.Result, ret string) (meaning string, status bool) {
	if ret == "void" || ret == "" {
		return "", false
	}
	v, ok := wordValue(ret, abi.I32)
	if !ok {
		return "", false
	}
	switch r {
	case abi.ResultStatus:
		return abi.Status(v).String(), true
	case abi.ResultErrno:
		return abi.Errno(v).String(), true
	case abi.ResultHeadersAction:
		return abi.HeadersAction(v).String(), false
	case abi.ResultDataAction:
		return abi.DataAction(v).String(), false
	case abi.ResultTrailersAction:
		return abi.TrailersAction(v).String(), false
	case abi.ResultNetworkAction:
		return abi.NetworkAction(v).String(), false
	case abi.ResultBool:
		if v == 0 {
			return "false", false
		}
		return "true", false
	}
	return "", false
}

func cutString(s string, sep byte) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
