package tracer

import (
	"bytes"
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
	if len(msg) < 12 || msg[0] != '[' {
		c.Direction = ""
		return false, ""
	}
	rest := msg[11:]
	switch string(msg[:11]) {
	case "[host->vm] ":
		c.Direction = HostToVM
	case "[host<-vm] ":
		c.Direction = HostFromVM
	case "[vm->host] ":
		c.Direction = VMToHost
	case "[vm<-host] ":
		c.Direction = VMFromHost
	default:
		c.Direction = ""
		return false, ""
	}
	if i := bytes.IndexByte(rest, '#'); i >= 0 {
		if j := bytes.Index(rest, annotationMark); j >= 0 {
			c.Annotation = rest[j+len(annotationMark):]
			rest = rest[:j]
		}
	}
	for len(rest) > 0 && (rest[len(rest)-1] == ' ' || rest[len(rest)-1] == '\t') {
		rest = rest[:len(rest)-1]
	}
	if c.Direction == HostToVM || c.Direction == VMToHost {
		open := bytes.IndexByte(rest, '(')
		if open <= 0 {
			return false, "no '(' after the function name"
		}
		if rest[len(rest)-1] != ')' {
			return false, "no ')' at the end of the arguments"
		}
		c.Function = rest[:open]
		c.Args = rest[open+1 : len(rest)-1]
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
	if i <= 0 || string(rest[i:i+len(returnMark)]) != string(returnMark) {
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
	if string(c.Return) != "void" && !isNumber(c.Return) {
		return false, "return value " + strconv.Quote(string(c.Return)) + " is not a number or void"
	}
	return true, ""
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
