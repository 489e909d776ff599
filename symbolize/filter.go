package symbolize

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/ianlancetaylor/demangle"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

// Filter copies a log stream from r to w unchanged, and under every
// backtrace frame it recognises adds the frames the module resolves there,
// one line each:
//
//	1:  0x1bf - plugin::crash::reallyAbort(int)
//	    at plugin::crash::fail(int) (plugin.cc:31:5) [inlined]
//	    at plugin.cc:42:18
//
// A name is printed when it differs from the one on the frame line. The
// frame shapes are Envoy's V8 in-VM backtrace ("  0:  0xdbd - name",
// proxy-wasm-cpp-host src/v8/v8.cc getFailMessage), wasmtime's
// ("  0:   0x1234 - module!name"), V8's JavaScript stack frames ("at name
// (wasm://wasm/…:wasm-function[N]:0xOFF)") — all module offsets — and
// wazero's "wasm stack trace:" frames ("\t.name(i32) i32", no offset: the
// function's declaration is added). Frames inside Istio's JSON log records, where the
// backtrace is one JSON string with "\n" escapes, get their additions
// inside that string, escaped, so the record stays valid JSON.
//
// Each line is written as soon as it is read (and flushed when no more
// input is waiting), so `kubectl logs -f | wasmdbg symbolize` follows a
// live stream. Frames whose offset the module cannot place add nothing.
// The first such frame, and the first whose printed name is not the
// module's, are reported through Options.Warn (the log may come from
// another build); later ones are not, so a long stream from another build
// does not drown its reader.
func (m *Module) Filter(r io.Reader, w io.Writer) error {
	f := filter{m: m, w: bufio.NewWriterSize(w, 64<<10)}
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		if len(line) > 0 {
			f.lineNo++
			if werr := f.line(line); werr != nil {
				return werr
			}
		}
		if err != nil {
			if err == io.EOF {
				return f.w.Flush()
			}
			f.w.Flush()
			return err
		}
		if br.Buffered() == 0 {
			if err := f.w.Flush(); err != nil {
				return err
			}
		}
	}
}

type filter struct {
	m      *Module
	w      *bufio.Writer
	lineNo int
	wazero bool // inside a wazero "wasm stack trace:"
	// warned* are set once a mismatch of that kind has been reported.
	warnedOffset, warnedName bool
}

var (
	// frameRe matches a V8 (Envoy) or wasmtime backtrace frame at the end
	// of a line: index, offset, name. Envoy prints "%3d:  0x%x - name";
	// wasmtime "%3d: %#8x - module!name" (older "%#6x").
	// Istio appends "\tthread=N" to the last line of a record (spaces
	// instead of the tab after a terminal copy). A copy out of a JSON
	// string leaves the escaped newline and quote: `" 0: 0x1a - name\n"`.
	frameRe = regexp.MustCompile(`(^|[\s|\]>"])(\s*)(\d{1,4}): +0x([0-9a-fA-F]{1,16}) - (\S.*?)(?:\s+thread=\d+)?(?:\\n",?)?\s*$`)
	// jsFrameRe matches V8's JavaScript stack frame for wasm (Node, browsers,
	// JS-hosted Proxy-Wasm runners): "at name (wasm://wasm/<hash>:wasm-function[N]:0xOFF)".
	jsFrameRe = regexp.MustCompile(`^(.*?)(\s*)at (?:(.*) \()?wasm://wasm/[^:\s]*:wasm-function\[(\d+)\]:0x([0-9a-fA-F]{1,16})\)?\s*$`)
	// wazeroFrameRe matches a wazero frame after its tab: a name, then the
	// wasm signature wazero appends (internal/wasmdebug signature()).
	wazeroFrameRe = regexp.MustCompile(`^(.*)\(((?:i32|i64|f32|f64|v128|funcref|externref|,)*)\)(?: (?:i32|i64|f32|f64|v128|funcref|externref|\((?:i32|i64|f32|f64|v128|funcref|externref|,)*\)))?\s*$`)
)

const stackTraceHeader = "wasm stack trace:"

func (f *filter) line(line []byte) error {
	body, eol := splitEOL(line)
	text := string(body)
	if strings.Contains(text, `\n`) && strings.Contains(text, `"`) {
		if changed, ok := f.jsonLine(text); ok {
			f.w.WriteString(changed)
			_, err := f.w.WriteString(eol)
			return err
		}
	}
	if _, err := f.w.Write(line); err != nil {
		return err
	}
	add := f.physical(text)
	if len(add) == 0 {
		return nil
	}
	if eol == "" { // the last line, without an end of line: keep it that way
		for _, a := range add {
			f.w.WriteString("\n")
			f.w.WriteString(a)
		}
		return nil
	}
	for _, a := range add {
		f.w.WriteString(a)
		f.w.WriteString(eol)
	}
	return nil
}

func splitEOL(line []byte) ([]byte, string) {
	switch {
	case len(line) >= 2 && line[len(line)-2] == '\r' && line[len(line)-1] == '\n':
		return line[:len(line)-2], "\r\n"
	case len(line) >= 1 && line[len(line)-1] == '\n':
		return line[:len(line)-1], "\n"
	}
	return line, ""
}

// physical returns the lines to add under one line of text (without its
// end of line).
func (f *filter) physical(text string) []string {
	if strings.HasSuffix(strings.TrimRight(text, " "), stackTraceHeader) {
		f.wazero = true
		return nil
	}
	if f.wazero {
		if add, ok := f.wazeroFrame(text); ok {
			return add
		}
		if !isWazeroSource(text) {
			f.wazero = false
		}
	}
	return f.frame(text)
}

// frame resolves a V8 or wasmtime frame line.
func (f *filter) frame(text string) []string {
	sm := frameRe.FindStringSubmatchIndex(text)
	if sm == nil {
		return f.jsFrame(text)
	}
	prefix := linePrefix(text[:sm[3]])
	off, err := strconv.ParseUint(text[sm[8]:sm[9]], 16, 64)
	if err != nil {
		return nil
	}
	name := text[sm[10]:sm[11]]
	frames, ok := f.resolve(loc.ModuleOffset(off), name)
	if !ok {
		return nil
	}
	return render(prefix, name, frames)
}

// jsFrame resolves a V8 JavaScript stack frame of a wasm function.
func (f *filter) jsFrame(text string) []string {
	sm := jsFrameRe.FindStringSubmatch(text)
	if sm == nil {
		return nil
	}
	off, err := strconv.ParseUint(sm[5], 16, 64)
	if err != nil {
		return nil
	}
	name := sm[3]
	if name == "" {
		name = "wasm-function[" + sm[4] + "]"
	}
	frames, ok := f.resolve(loc.ModuleOffset(off), name)
	if !ok {
		return nil
	}
	return render(linePrefix(sm[1]), name, frames)
}

// perLinePrefix matches what the world adds before every line of a log,
// which the added lines repeat so they stay with their stream: kubectl
// logs --prefix ("[pod/name/container] "), docker compose ("envoy-1  | "),
// CI timestamps ("2026-03-01T10:00:00.1234567Z ").
var perLinePrefix = regexp.MustCompile(`^(?:\[[^\]]+\] |\S+ +\| |\d{4}-\d\d-\d\dT[0-9:.]+Z |> ?)+$`)

// linePrefix is the part of a frame line's prefix to repeat on added lines.
func linePrefix(p string) string {
	if strings.HasSuffix(p, "|") {
		// The frame regexp ends the prefix at compose's bar; its space
		// belongs to the prefix too.
		p += " "
	}
	if perLinePrefix.MatchString(p) {
		return p
	}
	return ""
}

// resolve looks a frame up and checks its printed name against the module.
func (f *filter) resolve(off loc.ModuleOffset, printed string) ([]Frame, bool) {
	frames, err := f.m.Lookup(off)
	if err != nil {
		if !f.warnedOffset {
			f.warnedOffset = true
			f.m.warn(fmt.Sprintf("line %d: %v: is %s the module that produced this log? (later frames like this are not reported)", f.lineNo, err, f.m.name))
		}
		return nil, false
	}
	idx, _ := f.m.FuncIndex(off)
	if !f.warnedName && !f.m.namedAs(idx, printed) {
		f.warnedName = true
		f.m.warn(fmt.Sprintf("line %d: the frame at %s names %q, but function %d of %s is %q: the log may come from another build (later frames like this are not reported)", f.lineNo, off, printed, idx, f.m.name, f.m.NameOf(idx).Name()))
	}
	return frames, true
}

// namedAs reports whether a backtrace's name for function idx agrees with
// the module: the name section's raw or demangled name, wasmtime's
// "module!name" or "<wasm function N>", Envoy's "unknown(function index:N)".
func (m *Module) namedAs(idx uint32, printed string) bool {
	if i := strings.LastIndex(printed, "!"); i > 0 && !strings.Contains(printed[:i], "(") {
		printed = printed[i+1:] // wasmtime: module!function
	}
	for _, form := range []string{"unknown(function index:%d)", "<wasm function %d>", "wasm-function[%d]"} {
		if printed == fmt.Sprintf(form, idx) {
			return true
		}
	}
	f := m.nameFrame(idx)
	if f.Source != loc.SourceNameSection {
		return true // nothing to compare with
	}
	raw := f.Function
	if printed == raw || printed == f.Name() || printed == Demangle(raw, DemangleOptions{Go: m.isGo}) {
		return true
	}
	// Envoy demangles with __cxa_demangle, which reads legacy Rust names
	// as Itanium (hash and "$u7b$" escapes kept); wasmtime drops the hash.
	if s, err := demangle.ToString(raw, demangle.LLVMStyle, demangle.NoRust); err == nil && printed == s {
		return true
	}
	return printed == Demangle(raw, DemangleOptions{StripRustHash: true, Go: m.isGo})
}

// wazeroFrame resolves a wazero frame ("\t.name(i32) i32", or indented
// with spaces after a copy turned the tab into them): wazero prints no
// offset, so the addition is the function's declaration.
func (f *filter) wazeroFrame(text string) ([]string, bool) {
	tab := strings.IndexByte(text, '\t')
	var sm []string
	if tab >= 0 && !strings.HasPrefix(text[tab+1:], "\t") {
		sm = wazeroFrameRe.FindStringSubmatch(text[tab+1:])
	}
	if sm == nil {
		if tab = len(text) - len(strings.TrimLeft(text, " ")) - 1; tab < 0 {
			return nil, false
		}
		if sm = wazeroFrameRe.FindStringSubmatch(text[tab+1:]); sm == nil {
			return nil, false
		}
	}
	full := sm[1]
	name := full
	if mod := f.m.moduleName(); strings.HasPrefix(name, mod+".") {
		name = name[len(mod)+1:]
	} else {
		return nil, true // another module's function (a host function)
	}
	var idx uint32
	if n, ok := strings.CutPrefix(name, "$"); ok {
		i, err := strconv.ParseUint(n, 10, 32)
		if err != nil {
			return nil, true
		}
		idx = uint32(i)
	} else if i, ok := f.m.FuncByName(name); ok {
		idx = i
	} else {
		return nil, true
	}
	fr, err := f.m.LookupFunc(idx)
	if err != nil {
		return nil, true
	}
	var line string
	switch {
	case fr.File != "" && fr.Line > 0:
		line = fmt.Sprintf("at %s (declared at %s:%d)", fr.Name(), fr.File, fr.Line)
	case fr.Name() != name:
		line = "at " + fr.Name()
	default:
		return nil, true
	}
	return []string{text[:tab] + "      " + line}, true
}

// isWazeroSource reports wazero's own source lines under a frame
// ("\t\t0x16e2: file:line:col", and its inlined continuation lines
// "\t\t        file:line:col"), which keep a stack trace going, also
// indented with spaces.
func isWazeroSource(text string) bool {
	if strings.Contains(text, "\t\t") {
		return true
	}
	t := strings.TrimLeft(text, " \t")
	if len(t) == len(text) {
		return false
	}
	return strings.HasPrefix(t, "0x") && strings.Contains(t, ": ") || strings.HasPrefix(t, "/")
}

// moduleName is the module name wazero prefixes function names with: the
// name section's module name, often empty.
func (m *Module) moduleName() string {
	if m.mod.HasNames {
		return m.mod.Names.Module
	}
	return m.dbg.Names.Module
}

// render formats the frames to add under a frame printed as printed:
// "      at NAME (FILE:LINE:COL)" with the name left out when it is the
// printed one, "[inlined]" after inlined frames; nothing at all when the
// frames say no more than the line does.
func render(prefix, printed string, frames []Frame) []string {
	var out []string
	for _, fr := range frames {
		if fr.Source == loc.SourceUnknown {
			continue // "unknown(function index:N)" tells nothing the offset does not
		}
		name := fr.Name()
		if !fr.Inlined && (name == printed || strings.HasSuffix(printed, "!"+name)) {
			name = ""
		}
		where := ""
		if fr.File != "" {
			where = fmt.Sprintf("%s:%d:%d", fr.File, fr.Line, fr.Column)
		}
		var s string
		switch {
		case name != "" && where != "":
			s = name + " (" + where + ")"
		case name != "":
			s = name
		case where != "":
			s = where
		default:
			continue
		}
		if fr.Inlined {
			s += " [inlined]"
		}
		out = append(out, prefix+"      at "+s)
	}
	return out
}

// jsonLine handles a line holding a JSON record whose message carries a
// backtrace as "\n"-escaped lines (Istio's --log_as_json): the frames'
// additions go inside the string, escaped. It returns false when there is
// nothing to add.
func (f *filter) jsonLine(text string) (string, bool) {
	parts := strings.Split(text, `\n`)
	var b strings.Builder
	changed := false
	for i, p := range parts {
		if i > 0 {
			b.WriteString(`\n`)
		}
		// A frame in the last part ends where the JSON string does.
		end := jsonStringEnd(p)
		if add := f.physical(unescapeJSON(p[:end])); len(add) > 0 {
			b.WriteString(p[:end])
			for _, a := range add {
				b.WriteString(`\n`)
				b.WriteString(escapeJSON(a))
			}
			b.WriteString(p[end:])
			changed = true
			continue
		}
		b.WriteString(p)
	}
	f.wazero = false
	return b.String(), changed
}

// jsonStringEnd is the index of the first unescaped '"' in s, or len(s).
func jsonStringEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(s)
}

func unescapeJSON(s string) string {
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return s
	}
	return out
}

func escapeJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
