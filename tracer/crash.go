package tracer

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// Runtime names, as in the crash event's "runtime" field.
const (
	RuntimeV8       = "v8"
	RuntimeWasmtime = "wasmtime"
	RuntimeWAMR     = "wamr"
	RuntimeWAVM     = "wavm"
	RuntimeWazero   = "wazero"
	RuntimeUnknown  = "unknown"
)

// Offset kinds of a frame (Frame.OffsetKind); "" means module.
const (
	OffsetModule      = "module"      // from the start of the module file (V8, wasmtime)
	OffsetCode        = "code"        // from the code section payload (wazero, DWARF)
	OffsetFunction    = "function"    // from the start of the function body (Kong)
	OffsetInstruction = "instruction" // WAVM's operator index inside the function
)

// Crash is a trap report parsed from one record: the fields of a crash
// event before it is linked to the rest of the log.
type Crash struct {
	Callback string
	Message  string
	Runtime  string
	Frames   []Frame
}

// ParseCrash parses a host's trap report (reference §3):
//
//   - V8 (cpp-host since 2020-12): "Function: X failed: Uncaught RuntimeError: unreachable"
//     then "Proxy-Wasm plugin in-VM backtrace:" and "  0:  0xdbd - runtime._panic" frames
//   - the 2020 layout: "Function: X failed:" then "V8 message: …" and "wasm backtrace:"
//   - WAVM: "Function: X failed: wavm.reachedUnreachable" (older "Function X failed:" +
//     "WAVM message: …"), frames "  1: wasm!module!func+7"
//   - wasmtime: "error while executing at wasm backtrace:", "    0: 0x1234 - <unknown>!func",
//     "Caused by:" and the trap text
//   - WAMR: "Function: X failed: Exception: unreachable", no frames
//   - wazero: "wasm error: unreachable", "wasm stack trace:", "\t.func(i32) i32" frames
//     with "\t\t0x27: file.c:42:18" DWARF lines (code offsets)
//   - nginx-based hosts (Kong, APISIX): the wasmtime text after "[wasm] " or "failed to
//     call function: ", Kong's "Backtrace:" frames "\t0: name @ 0x0047" (function offsets)
//
// Every frame is kept in order, its function exactly as printed. ok is
// false when msg is no trap report.
func ParseCrash(msg []byte) (c Crash, ok bool) {
	text := string(msg)
	if !strings.Contains(text, "\n") && strings.Contains(text, `\n`) && looksLikeCrash(text) {
		// Envoy with --log-format-escaped prints the newlines as "\n".
		text = strings.ReplaceAll(text, `\n`, "\n")
	}
	if !looksLikeCrash(text) {
		return Crash{}, false
	}
	lines := strings.Split(text, "\n")
	first := lines[0]
	c.Runtime = RuntimeUnknown

	// The header line.
	name, after, bare := bareFailedHeader([]byte(first))
	switch {
	case bare:
		c.Callback = string(name)
		c.Message = strings.TrimSpace(string(after))
	case strings.TrimRight(first, " \t") == inVMHeader:
		// The frames of a V8 trap whose header was cut: the callback is
		// known only from the frames, the trap text not at all.
		c.Runtime = RuntimeV8
	case strings.HasPrefix(first, "Function: ") || strings.HasPrefix(first, "Function "):
		rest := strings.TrimPrefix(strings.TrimPrefix(first, "Function"), ":")
		rest = strings.TrimLeft(rest, " ")
		name, after, found := strings.Cut(rest, " failed:")
		if !found {
			return Crash{}, false
		}
		c.Callback = name
		c.Message = strings.TrimSpace(after)
	default:
		if i := strings.Index(first, "wasm error: "); i >= 0 {
			c.Message = strings.TrimSpace(first[i+len("wasm error: "):])
			c.Runtime = RuntimeWazero
		} else if i := strings.Index(first, "error while executing at wasm backtrace:"); i >= 0 {
			// Kong, APISIX: the wasmtime error after nginx's prefix.
			c.Message = ""
			c.Runtime = RuntimeWasmtime
			c.Callback = calleeIn(first[:i])
		} else if i := strings.Index(first, "failed to call function: "); i >= 0 {
			c.Message = strings.TrimSpace(first[i+len("failed to call function: "):])
		} else {
			c.Message = strings.TrimSpace(strings.TrimPrefix(first, "[wasm] "))
			c.Callback = calleeIn(first)
		}
	}

	// The rest: message lines of the old layouts, frames, Caused by.
	var causedBy []string
	inCause := false
	base := "" // indentation of "wasm stack trace:" (a test log indents it)
	framesEnded := false
	wazeroIndent := noIndent // indentation of wazero's frames: a tab, spaces after a copy, or none
	frameWidth := 0          // width of the line just read when it was a frame, else 0
	for i := 1; i < len(lines); i++ {
		// Istio ends a record with "thread=N", after its last frame; a
		// record whose framing a person cut keeps it on the frame line.
		ln := strings.TrimRight(cutThreadSuffix(lines[i]), " \t\r")
		t := strings.TrimLeft(ln, " \t")
		if base != "" {
			ln = strings.TrimPrefix(ln, base)
		}
		width := frameWidth
		frameWidth = 0
		if n := len(c.Frames); n > 0 && width >= minWrapWidth/2 && ln == t && isWrapRemainder([]byte(t)) {
			// The rest of a frame line a terminal wrapped in the middle of
			// its function name.
			c.Frames[n-1].Function += t
			frameWidth = len(lines[i])
			continue
		}
		if t == "" || isElision([]byte(t)) {
			// An elision a person put where frames were left out: the
			// frames after it still belong to the backtrace.
			continue
		}
		if inCause && stripCauseIndex(t) == "error while executing at wasm backtrace:" {
			// A newer wasmtime nests the backtrace in the cause chain; its
			// frames follow, indented deeper than the causes.
			c.Runtime = RuntimeWasmtime
			inCause = false
			continue
		}
		if !inCause && len(c.Frames) > 0 && c.Runtime == RuntimeWasmtime && isCauseLine(t) {
			// The cause after a nested backtrace.
			inCause, framesEnded = true, true
		}
		switch {
		case strings.HasPrefix(t, "V8 message:") || strings.HasPrefix(t, "message from V8:"):
			c.Runtime = RuntimeV8
			c.Message = strings.TrimSpace(t[strings.IndexByte(t, ':')+1:])
			continue
		case strings.HasPrefix(t, "WAVM message:"):
			c.Runtime = RuntimeWAVM
			c.Message = strings.TrimSpace(t[len("WAVM message:"):])
			continue
		case t == "Proxy-Wasm plugin in-VM backtrace:" || t == "wasm backtrace:" || t == "wasm backrace:" || t == "Backtrace:":
			continue
		case t == "wasm stack trace:":
			c.Runtime = RuntimeWazero
			base = ln[:len(ln)-len(t)]
			framesEnded = false
			continue
		case strings.HasPrefix(t, "error while executing at wasm backtrace:"):
			c.Runtime = RuntimeWasmtime
			continue
		case t == "Caused by:":
			inCause = true
			continue
		case strings.HasPrefix(t, "note: using the `WASMTIME_BACKTRACE_DETAILS"):
			continue
		}
		if i := strings.Index(t, "failed to run wasm plugin: failed to run proxy_on_"); i >= 0 {
			// APISIX's line after the trap names the callback.
			c.Callback = calleeIn(t[i:])
			continue
		}
		if inCause {
			causedBy = append(causedBy, stripCauseIndex(t))
			continue
		}
		if framesEnded {
			continue
		}
		if c.Runtime == RuntimeWazero {
			if ind := ln[:len(ln)-len(strings.TrimLeft(ln, " \t"))]; wazeroIndent == noIndent && looksLikeWazeroFrame(t) {
				wazeroIndent = ind
			}
		}
		if f, ok := parseFrame(ln, t, c.Runtime, wazeroIndent); ok {
			if c.Runtime == RuntimeWazero {
				f.Index = len(c.Frames)
			}
			c.Frames = append(c.Frames, f)
			frameWidth = len(lines[i])
			continue
		}
		if n := len(c.Frames); n > 0 {
			// Source lines under a frame: wazero's "\t\t0x27: file:line:col",
			// wasmtime's "at file:line:col" and its further symbols at the
			// same address ("- name", the callers the first was inlined
			// into), sometimes joined to the line before by a copy.
			if addSymbol(&c.Frames[n-1], t) || addSource(&c.Frames[n-1], t) {
				continue
			}
		}
		if len(c.Frames) > 0 {
			// Not a frame, not a source line: the backtrace is over.
			framesEnded = true
			continue
		}
		if c.Message == "" {
			c.Message = t
		}
	}
	if len(causedBy) > 0 {
		c.Message = strings.Join(causedBy, ": ")
		if c.Runtime == RuntimeUnknown {
			c.Runtime = RuntimeWasmtime
		}
	}
	if c.Runtime == RuntimeUnknown {
		c.Runtime = runtimeOf(c.Message, c.Frames)
	}
	// Kong appends " <module: …, vm: …, runtime: …>" to its messages.
	if i := strings.Index(c.Message, " <module: "); i > 0 && strings.HasSuffix(c.Message, ">") {
		c.Message = c.Message[:i]
	} else if i := strings.Index(c.Message, " <vm: "); i > 0 && strings.HasSuffix(c.Message, ">") {
		c.Message = c.Message[:i]
	}
	if c.Runtime == RuntimeWasmtime {
		for i := range c.Frames {
			f := &c.Frames[i]
			if f.OffsetKind == "" && f.Module == "" {
				if mod, fn, ok := strings.Cut(f.Function, "!"); ok {
					f.Module, f.Function = mod, fn
				}
			}
		}
	}
	if c.Callback == "" && len(c.Frames) > 0 {
		// Hosts that do not name the callback: the outermost frame is the
		// export the host called.
		if name := c.Frames[len(c.Frames)-1].Function; lookupCallback(name, -1) != nil {
			c.Callback = name
		}
	}
	return c, true
}

// bareFailedHeader recognises cpp-host's trap header whose "Function: "
// a person cut when pasting it: "proxy_on_vm_start failed: Uncaught
// RuntimeError: unreachable". The name must be a callback or start-up
// export a host calls, so ordinary "x failed: y" messages are not taken.
func bareFailedHeader(b []byte) (name, rest []byte, ok bool) {
	if len(b) == 0 || !(b[0] == 'p' || b[0] == '_' || b[0] == 'm' || b[0] == 'e') {
		return nil, nil, false
	}
	i := bytes.Index(b, []byte(" failed:"))
	if i <= 0 || i > 64 {
		return nil, nil, false
	}
	name = b[:i]
	if bytes.IndexAny(name, " \t") >= 0 {
		return nil, nil, false
	}
	n := string(name)
	if lookupCallback(n, -1) == nil && !isStartFunction(n) && !isAllocator(n) {
		return nil, nil, false
	}
	return name, b[i+len(" failed:"):], true
}

// looksLikeCrash is the cheap test before parsing.
func looksLikeCrash(s string) bool {
	first, _, _ := strings.Cut(s, "\n")
	if (strings.HasPrefix(first, "Function: ") || strings.HasPrefix(first, "Function ")) && strings.Contains(first, " failed:") {
		return true
	}
	if _, _, ok := bareFailedHeader([]byte(first)); ok {
		return true
	}
	if strings.TrimRight(first, " \t") == inVMHeader {
		return true
	}
	if i := strings.Index(first, "failed to call function: "); i >= 0 {
		// nginx hosts (APISIX): the wasmtime trap text, its frames on the
		// following lines under "wasm backtrace:".
		if strings.Contains(first[i:], "wasm trap") || strings.Contains(s, "\nwasm backtrace:") {
			return true
		}
	}
	// wasmtime's backtrace may also sit inside a numbered "Caused by:"
	// chain ("1: error while executing at wasm backtrace:").
	return strings.Contains(first, "wasm error: ") || strings.Contains(s, "error while executing at wasm backtrace:") ||
		strings.Contains(s, "\nwasm stack trace:") || (strings.Contains(first, "[wasm] ") && strings.Contains(s, "Backtrace:"))
}

// calleeIn finds the callback name in an nginx host's message
// ("… in proxy_on_request_headers", "\"on_request_headers\" step").
func calleeIn(s string) string {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '"' || r == '(' || r == ')' || r == ',' || r == ':'
	}) {
		if strings.HasPrefix(f, "proxy_on_") {
			return f
		}
	}
	return ""
}

// runtimeOf guesses the runtime from the trap text when the layout did not
// say.
func runtimeOf(msg string, frames []Frame) string {
	switch {
	case strings.HasPrefix(msg, "Uncaught ") || strings.Contains(msg, "RuntimeError:"):
		return RuntimeV8
	case strings.HasPrefix(msg, "wavm.") || strings.Contains(msg, "wavm."):
		return RuntimeWAVM
	case strings.HasPrefix(msg, "Exception: "):
		return RuntimeWAMR
	case strings.HasPrefix(msg, "wasm trap: ") || strings.Contains(msg, "error while executing at wasm backtrace"):
		return RuntimeWasmtime
	}
	for _, f := range frames {
		if f.OffsetKind == OffsetInstruction {
			return RuntimeWAVM
		}
	}
	if len(frames) > 0 {
		return RuntimeV8
	}
	return RuntimeUnknown
}

// stripCauseIndex removes anyhow's "0: " numbering of causes.
func stripCauseIndex(t string) string {
	i := 0
	for i < len(t) && isDigit(t[i]) {
		i++
	}
	if i > 0 && i+1 < len(t) && t[i] == ':' && t[i+1] == ' ' {
		return strings.TrimSpace(t[i+2:])
	}
	return t
}

// cutThreadSuffix removes Istio's "\tthread=N" (or " thread=N") from the
// end of a line.
func cutThreadSuffix(ln string) string {
	i := strings.LastIndex(ln, "thread=")
	if i <= 0 || (ln[i-1] != ' ' && ln[i-1] != '\t') {
		return ln
	}
	for j := i + len("thread="); j < len(ln); j++ {
		if !isDigit(ln[j]) {
			return ln
		}
	}
	if i+len("thread=") == len(ln) {
		return ln
	}
	return ln[:i]
}

// noIndent marks wazero's frame indentation as not seen yet.
const noIndent = "\x00"

// isCauseLine recognises a numbered anyhow cause ("1: wasm trap: …"),
// which is not a frame ("0: 0x1a2 - name").
func isCauseLine(t string) bool {
	i := 0
	for i < len(t) && isDigit(t[i]) {
		i++
	}
	return i > 0 && strings.HasPrefix(t[i:], ": ") && !strings.HasPrefix(strings.TrimLeft(t[i+1:], " "), "0x")
}

// looksLikeWazeroFrame recognises a wazero frame after its indentation:
// "<module>.<name>(<params>) <results>", not a source line under it.
func looksLikeWazeroFrame(t string) bool {
	if strings.HasPrefix(t, "0x") || strings.HasPrefix(t, "/") {
		return false
	}
	_, ok := wazeroFuncName(t)
	return ok
}

// wazeroFuncName cuts the signature wazero prints after a frame's
// "<module>.<name>": "(i32,i32) i32", "() (i32,i64)", and a
// " (recovered by wazero)" after it. The name itself may hold spaces and
// parentheses (a C++ "f(int, long) const", a Go "p.(*T).M"): the
// signature is found from the end, its parameters being value types only.
func wazeroFuncName(t string) (string, bool) {
	t = strings.TrimSuffix(t, " (recovered by wazero)")
	if i := strings.LastIndex(t, ") ("); i > 0 && strings.HasSuffix(t, ")") && wazeroTypes(t[i+3:len(t)-1]) {
		t = t[:i+1] // several results
	} else if i := strings.LastIndex(t, ") "); i > 0 && wazeroTypes(t[i+2:]) && !strings.Contains(t[i+2:], ",") {
		t = t[:i+1] // one result
	}
	if !strings.HasSuffix(t, ")") {
		return "", false
	}
	open := strings.LastIndexByte(t, '(')
	if open <= 0 || !wazeroTypes(t[open+1:len(t)-1]) {
		return "", false
	}
	return t[:open], true
}

// wazeroTypes reports whether s is a comma-separated list of wasm value
// type names, as wazero prints a signature's parameters ("" for none).
func wazeroTypes(s string) bool {
	if s == "" {
		return true
	}
	for _, v := range strings.Split(s, ",") {
		switch v {
		case "i32", "i64", "f32", "f64", "v128", "funcref", "externref":
		default:
			return false
		}
	}
	return true
}

// parseFrame recognises one backtrace frame line (raw ln, trimmed t).
// wazeroIndent is the indentation of the wazero frames seen so far.
func parseFrame(ln, t, runtime, wazeroIndent string) (Frame, bool) {
	// wazero: "\t.runtime.abort(i32) i32" (one tab, or the spaces a copy
	// turned it into) or a ".$12()" without a name.
	if runtime == RuntimeWazero && wazeroIndent != noIndent && strings.HasPrefix(ln, wazeroIndent) && looksLikeWazeroFrame(t) &&
		len(ln)-len(t) == len(wazeroIndent) {
		name, _ := wazeroFuncName(t)
		f := Frame{Function: name, OffsetKind: OffsetCode}
		if mod, fn, ok := strings.Cut(name, "."); ok {
			f.Module, f.Function = mod, fn
		}
		return f, true
	}
	i := 0
	for i < len(t) && isDigit(t[i]) {
		i++
	}
	if i == 0 || i >= len(t) || t[i] != ':' {
		return Frame{}, false
	}
	idx, err := strconv.Atoi(t[:i])
	if err != nil {
		return Frame{}, false
	}
	rest := strings.TrimLeft(t[i+1:], " \t")
	// V8 "0x1a2 - name", wasmtime "0x1a2 - module!name".
	if strings.HasPrefix(rest, "0x") {
		j := 2
		for j < len(rest) && isHex(rest[j]) {
			j++
		}
		if j == 2 {
			return Frame{}, false
		}
		off := rest[:j]
		after := strings.TrimLeft(rest[j:], " ")
		if !strings.HasPrefix(after, "-") {
			return Frame{}, false
		}
		name := strings.TrimLeft(after[1:], " ")
		return Frame{Index: idx, Offset: strings.ToLower(off), Function: name}, true
	}
	// WAVM "wasm!module!func+7".
	if m, ok := strings.CutPrefix(rest, "wasm!"); ok {
		mod, fn, _ := strings.Cut(m, "!")
		f := Frame{Index: idx, Module: mod, Function: fn, OffsetKind: OffsetInstruction}
		if p := strings.LastIndexByte(fn, '+'); p > 0 {
			if _, err := strconv.Atoi(fn[p+1:]); err == nil {
				f.Function, f.Offset = fn[:p], fn[p+1:]
			}
		}
		return f, true
	}
	// Kong: "name @ 0x0047" (function-relative).
	if p := strings.LastIndex(rest, " @ 0x"); p > 0 {
		return Frame{Index: idx, Function: rest[:p], Offset: strings.ToLower(rest[p+3:]), OffsetKind: OffsetFunction}, true
	}
	return Frame{}, false
}

// addSymbol attaches wasmtime's further symbol at a frame's address
// ("- runtime.runtimePanicAt": the function the frame's own symbol was
// inlined into), also when a copy joined it to the source line before
// ("at /src/a.go:78:6 - runtime.runtimePanicAt"). The symbols are kept
// in Inlined, in the order printed, each with the source line under it.
func addSymbol(f *Frame, t string) bool {
	if name, ok := strings.CutPrefix(t, "- "); ok && name != "" {
		f.Inlined = append(f.Inlined, loc.Frame{Function: strings.TrimSpace(name), Inlined: true, Source: loc.SourceDWARF})
		return true
	}
	rest, ok := strings.CutPrefix(t, "at ")
	if !ok {
		return false
	}
	i := strings.LastIndex(rest, " - ")
	if i < 0 {
		if n := len(f.Inlined); n > 0 && f.Inlined[n-1].File == "" && f.Inlined[n-1].Function != "" {
			// The source line of the last further symbol.
			if file, line, col, ok := splitFileLine(strings.TrimSpace(rest)); ok {
				f.Inlined[n-1].File, f.Inlined[n-1].Line, f.Inlined[n-1].Column = file, line, col
				return true
			}
		}
		return false
	}
	if !addSymbol(f, "at "+strings.TrimSpace(rest[:i])) && !addSource(f, "at "+strings.TrimSpace(rest[:i])) {
		return false
	}
	return addSymbol(f, "- "+strings.TrimSpace(rest[i+3:]))
}

// addSource attaches a source line printed under a frame by the runtime
// itself: wazero "0x27: /src/plugin.c:42:18" (with " (inlined)" on the
// inlined part) or an indented continuation "/src/a.c:3:1"; wasmtime
// "at /src/lib.rs:12:5".
func addSource(f *Frame, t string) bool {
	t = strings.TrimPrefix(t, "at ")
	inlined := false
	if s, ok := strings.CutSuffix(t, " (inlined)"); ok {
		t, inlined = s, true
	}
	if strings.HasPrefix(t, "0x") {
		colon := strings.Index(t, ": ")
		if colon < 0 {
			return false
		}
		if f.Offset == "" {
			f.Offset = strings.ToLower(t[:colon])
		}
		t = t[colon+2:]
	}
	file, line, col, ok := splitFileLine(t)
	if !ok {
		return false
	}
	if f.File != "" || inlined {
		// Inlined frames come first, the physical function's line last.
		if f.File != "" {
			f.Inlined = append(f.Inlined, loc.Frame{File: f.File, Line: f.Line, Column: f.Column, Inlined: true, Source: loc.SourceDWARF})
		}
		if inlined {
			f.Inlined = append(f.Inlined, loc.Frame{File: file, Line: line, Column: col, Inlined: true, Source: loc.SourceDWARF})
			f.File, f.Line, f.Column = "", 0, 0
			return true
		}
	}
	f.File, f.Line, f.Column = file, line, col
	return true
}

// splitFileLine splits "path:line[:col]".
func splitFileLine(s string) (file string, line, col int, ok bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 {
		return "", 0, 0, false
	}
	nums := 0
	for i := len(parts) - 1; i >= 1 && nums < 2; i-- {
		if _, err := strconv.Atoi(parts[i]); err != nil {
			break
		}
		nums++
	}
	if nums == 0 {
		return "", 0, 0, false
	}
	file = strings.Join(parts[:len(parts)-nums], ":")
	if file == "" || strings.ContainsAny(file, " \t") {
		return "", 0, 0, false
	}
	if nums == 2 {
		line, _ = strconv.Atoi(parts[len(parts)-2])
		col, _ = strconv.Atoi(parts[len(parts)-1])
	} else {
		line, _ = strconv.Atoi(parts[len(parts)-1])
	}
	return file, line, col, true
}

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// Symbolize fills in the source location of every frame whose offset r
// can resolve: module offsets (V8, wasmtime), code offsets (wazero), and
// function-relative offsets (Kong) when the function is known by index or,
// through r's FuncByName, by name. WAVM's instruction indexes are left as
// they are.
func Symbolize(frames []Frame, r loc.Resolver) error {
	var firstErr error
	byName, _ := r.(funcNamer)
	for i := range frames {
		f := &frames[i]
		off, ok := frameOffset(*f, byName)
		if !ok {
			continue
		}
		res, err := r.Lookup(off)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if len(res) == 0 {
			continue
		}
		outer := res[len(res)-1]
		f.Demangled = outer.Demangled
		if f.Demangled == "" && outer.Function != f.Function {
			f.Demangled = outer.Function
		}
		f.File, f.Line, f.Column = outer.File, outer.Line, outer.Column
		f.Inlined = append([]loc.Frame(nil), res[:len(res)-1]...)
	}
	return firstErr
}

// funcNamer is what a Resolver may also offer (symbolize.Module does): the
// index of a function by its name-section name, for hosts that print
// function-relative offsets (Kong: "name @ 0x0047").
type funcNamer interface {
	FuncByName(name string) (uint32, bool)
}

// frameOffset converts a frame's printed offset to its typed address.
func frameOffset(f Frame, byName funcNamer) (loc.Offset, bool) {
	s, ok := strings.CutPrefix(f.Offset, "0x")
	if !ok {
		return nil, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return nil, false
	}
	switch f.OffsetKind {
	case "", OffsetModule:
		return loc.ModuleOffset(v), true
	case OffsetCode:
		return loc.CodeOffset(v), true
	case OffsetFunction:
		// Kong prints "func 45" for a function without a name.
		if n, ok := strings.CutPrefix(f.Function, "func "); ok {
			if idx, err := strconv.ParseUint(n, 10, 32); err == nil {
				return loc.FuncOffset{Func: uint32(idx), Offset: v}, true
			}
		}
		if byName != nil {
			if idx, ok := byName.FuncByName(f.Function); ok {
				return loc.FuncOffset{Func: idx, Offset: v}, true
			}
		}
	}
	return nil, false
}

// panicKind says whether a plugin log message is the plugin's own report
// of a panic: Go's "panic: …" traceback, Rust's "panicked at …",
// AssemblyScript's "<msg> at: file(l:c)", a C++ abort.
func panicKind(msg []byte) string {
	switch {
	case bytes.HasPrefix(msg, []byte("panic: ")) || bytes.Contains(msg, []byte("\npanic: ")) ||
		bytes.HasPrefix(msg, []byte("fatal error: ")) || bytes.Contains(msg, []byte("goroutine 1 [running]")):
		return "go"
	case bytes.Contains(msg, []byte("panicked at")):
		return "rust"
	case isASAbort(msg):
		return "assemblyscript"
	case bytes.Contains(msg, []byte("libc++abi: terminating")) || bytes.HasPrefix(msg, []byte("terminate called")) ||
		bytes.Contains(msg, []byte("Assertion failed")):
		return "c++"
	}
	return ""
}

// isASAbort recognises AssemblyScript's abort message: "<msg> at:
// assembly/index.ts(24:26)" (abort_proc_exit in @solo-io/proxy-runtime).
func isASAbort(msg []byte) bool {
	i := bytes.LastIndex(msg, []byte(" at: "))
	if i < 0 {
		return false
	}
	tail := bytes.TrimRight(msg[i+5:], " ")
	open := bytes.LastIndexByte(tail, '(')
	if open <= 0 || len(tail) < 5 || tail[len(tail)-1] != ')' {
		return false
	}
	inner := tail[open+1 : len(tail)-1]
	colon := bytes.IndexByte(inner, ':')
	if colon <= 0 {
		return false
	}
	for j, c := range inner {
		if j != colon && !isDigit(c) {
			return false
		}
	}
	return true
}
