package tracer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report collects what the text output of `wasmdbg trace` shows: crashes
// and VM failures first, then findings, then a summary. It keeps at most
// maxReported of each kind (the rest are counted).
type Report struct {
	Crashes    []Event
	VMFailures []Event
	Findings   []Event
	// repeats counts VM failures identical to one kept (same reason and
	// message): cpp-host logs them once per worker thread.
	repeats  map[string]int
	dropped  int
	failures map[string]int // index into VMFailures
	counts   []int          // occurrences per finding
	counted  int            // findings whose count is known
}

// CountFrom records how often each finding added since the last call
// occurred, from the decoder that produced them.
func (r *Report) CountFrom(d *Decoder) {
	for ; r.counted < len(r.Findings); r.counted++ {
		r.counts = append(r.counts, d.Occurrences(&r.Findings[r.counted]))
	}
}

const maxReported = 1000

// Add records an event if the report shows its kind.
func (r *Report) Add(e *Event) {
	switch e.Kind {
	case KindCrash:
		if len(r.Crashes) < maxReported {
			r.Crashes = append(r.Crashes, *e)
		} else {
			r.dropped++
		}
	case KindVMFailure:
		if r.failures == nil {
			r.failures, r.repeats = map[string]int{}, map[string]int{}
		}
		key := e.Reason + "\x00" + e.Message
		if _, ok := r.failures[key]; ok {
			r.repeats[key]++
			return
		}
		if len(r.VMFailures) < maxReported {
			r.failures[key] = len(r.VMFailures)
			r.VMFailures = append(r.VMFailures, *e)
		} else {
			r.dropped++
		}
	case KindFinding:
		if len(r.Findings) < maxReported {
			r.Findings = append(r.Findings, *e)
		} else {
			r.dropped++
		}
	}
}

// WriteText writes the report: crashes and failures with their frames,
// then findings, then the summary of sum (and st when not nil).
func (r *Report) WriteText(w io.Writer, sum Summary, lines int) error {
	bw := bufio.NewWriter(w)
	for i := range r.Crashes {
		writeCrash(bw, &r.Crashes[i])
		bw.WriteString("\n")
	}
	for i := range r.VMFailures {
		e := &r.VMFailures[i]
		n := r.repeats[e.Reason+"\x00"+e.Message]
		writeVMFailure(bw, e, n)
		bw.WriteString("\n")
	}
	if len(r.Findings) > 0 {
		bw.WriteString("FINDINGS\n")
		for i := range r.Findings {
			n := 0
			if i < len(r.counts) {
				n = r.counts[i]
			}
			writeFinding(bw, &r.Findings[i], n)
		}
		bw.WriteString("\n")
	}
	writeSummary(bw, sum, lines, r.dropped)
	return bw.Flush()
}

// WriteEventText writes one crash, VM failure or finding as the report
// does, for --follow, where events are shown as they arrive.
func WriteEventText(w io.Writer, e *Event) error {
	bw := bufio.NewWriter(w)
	switch e.Kind {
	case KindCrash:
		writeCrash(bw, e)
	case KindVMFailure:
		writeVMFailure(bw, e, 0)
	case KindFinding:
		bw.WriteString("FINDING ")
		writeFinding(bw, e, 0)
	default:
		return nil
	}
	bw.WriteString("\n")
	return bw.Flush()
}

func where(e *Event) string {
	var parts []string
	if e.File != "" {
		parts = append(parts, fmt.Sprintf("%s:%d", e.File, e.Line))
	} else {
		parts = append(parts, fmt.Sprintf("line %d", e.Line))
	}
	if e.Origin != "" {
		parts = append(parts, e.Origin)
	}
	if e.Thread != "" {
		parts = append(parts, "thread "+e.Thread)
	}
	if e.ContextID != nil {
		parts = append(parts, fmt.Sprintf("context %d", *e.ContextID))
	}
	if e.Time != "" {
		parts = append(parts, e.Time)
	}
	return strings.Join(parts, " · ")
}

func writeCrash(w *bufio.Writer, e *Event) {
	cb := e.Callback
	if cb == "" {
		cb = "plugin"
	}
	msg := e.Message
	if msg == "" {
		msg = "(the trap text is not in the log)"
	}
	fmt.Fprintf(w, "CRASH  %s trapped: %s  [%s]\n", cb, msg, e.Runtime)
	fmt.Fprintf(w, "  at %s\n", where(e))
	if e.PanicText != "" {
		lines := strings.Split(strings.TrimRight(e.PanicText, "\n"), "\n")
		const maxPanicLines = 12
		fmt.Fprintf(w, "  plugin said (line %d): %s\n", e.PanicLine, lines[0])
		for i, l := range lines[1:] {
			if i+1 >= maxPanicLines {
				fmt.Fprintf(w, "      … %d more lines\n", len(lines)-maxPanicLines)
				break
			}
			fmt.Fprintf(w, "      %s\n", strings.ReplaceAll(l, "\t", "    "))
		}
	}
	if len(e.Frames) > 0 {
		kind := e.Frames[0].OffsetKind
		switch kind {
		case "", OffsetModule:
			kind = "module offsets"
		case OffsetCode:
			kind = "code offsets"
		case OffsetFunction:
			kind = "function-relative offsets"
		case OffsetInstruction:
			kind = "instruction indexes"
		}
		fmt.Fprintf(w, "  backtrace (%s):\n", kind)
		width := 0
		for _, f := range e.Frames {
			width = max(width, len(f.Offset))
		}
		for _, f := range e.Frames {
			name := f.Function
			if f.Module != "" {
				name = f.Module + "!" + name
			}
			fmt.Fprintf(w, "    %3d  %-*s  %s", f.Index, width, f.Offset, name)
			if f.Demangled != "" && f.Demangled != f.Function {
				fmt.Fprintf(w, "\n         %*s  = %s", width, "", f.Demangled)
			}
			if f.File != "" {
				fmt.Fprintf(w, "\n         %*s    at %s", width, "", fileLine(f.File, f.Line, f.Column))
			}
			for _, in := range f.Inlined {
				name := in.Name()
				if name == "" {
					name = "(inlined)"
				} else {
					name += " (inlined)"
				}
				fmt.Fprintf(w, "\n         %*s    %s at %s", width, "", name, fileLine(in.File, in.Line, in.Column))
			}
			w.WriteString("\n")
		}
	} else {
		w.WriteString("  no backtrace in the log")
		switch e.Runtime {
		case RuntimeV8:
			w.WriteString(" (V8 prints one only when the module has a name section)")
		case RuntimeWAMR:
			w.WriteString(" (WAMR prints none)")
		}
		w.WriteString("\n")
	}
	if e.CallLine > 0 {
		fmt.Fprintf(w, "  in %s called at line %d", cb, e.CallLine)
		if len(e.LastCalls) == 0 {
			w.WriteString(", which made no host calls before the trap\n")
		} else {
			w.WriteString("; its last host calls:\n")
			for _, c := range e.LastCalls {
				args := joinNumbers(c.Args)
				if c.Annotation == "" && len(c.Decoded) == len(c.Args) && len(c.Args) > 0 {
					args = argsText(&Call{Args: c.Args, Decoded: c.Decoded})
				}
				fmt.Fprintf(w, "    line %d  %s(%s)", c.Line, c.Function, args)
				switch {
				case c.Return == nil:
					w.WriteString(" -> (no return)")
				case c.Status != "":
					fmt.Fprintf(w, " -> %s", c.Status)
				default:
					fmt.Fprintf(w, " -> %s", *c.Return)
				}
				if c.Annotation != "" {
					fmt.Fprintf(w, "  # %s", c.Annotation)
				}
				w.WriteString("\n")
			}
		}
	}
}

func fileLine(file string, line, col int) string {
	s := file
	if line > 0 {
		s += fmt.Sprintf(":%d", line)
		if col > 0 {
			s += fmt.Sprintf(":%d", col)
		}
	}
	return s
}

func joinNumbers(ns []Number) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

func writeVMFailure(w *bufio.Writer, e *Event, repeats int) {
	fmt.Fprintf(w, "VM FAILURE  %s: %s\n", e.Reason, e.Message)
	fmt.Fprintf(w, "  at %s", where(e))
	if repeats > 0 {
		fmt.Fprintf(w, " (and %d more times)", repeats)
	}
	w.WriteString("\n")
	writeWrapped(w, "  hint: ", e.Hint)
}

func writeFinding(w *bufio.Writer, e *Event, count int) {
	fmt.Fprintf(w, "  %s  at %s", e.Reason, where(e))
	if count > 1 {
		fmt.Fprintf(w, " (%d times)", count)
	}
	w.WriteString("\n")
	writeWrapped(w, "    ", e.Message)
	writeWrapped(w, "    fix: ", e.Hint)
}

// writeWrapped writes text after a prefix, wrapped at 100 columns with
// continuation lines indented under the text.
func writeWrapped(w *bufio.Writer, prefix, text string) {
	if text == "" {
		return
	}
	indent := strings.Repeat(" ", len([]rune(prefix)))
	col := 0
	w.WriteString(prefix)
	col = len(prefix)
	for i, word := range strings.Fields(text) {
		if i > 0 {
			if col+1+len(word) > 100 {
				w.WriteString("\n")
				w.WriteString(indent)
				col = len(indent)
			} else {
				w.WriteString(" ")
				col++
			}
		}
		w.WriteString(word)
		col += len(word)
	}
	w.WriteString("\n")
}

func writeSummary(w *bufio.Writer, s Summary, lines, dropped int) {
	w.WriteString("SUMMARY\n")
	fmt.Fprintf(w, "  %s, %s: %s (%s), %s, %s, %s, %s, %s\n",
		plural(lines, "line"), plural(s.Records, "record"), plural(s.Calls, "call"), plural(s.Callbacks, "callback"),
		plural(s.PluginLogs, "plugin log"), plural(s.Crashes, "crash"), plural(s.VMFailures, "VM failure"),
		plural(s.Findings, "finding"), plural(s.Other, "other line"))
	if len(s.LogLevels) > 0 {
		fmt.Fprintf(w, "  plugin logs by level: %s\n", countsString(s.LogLevels, levelOrder))
	}
	if s.Unreturned > 0 {
		fmt.Fprintf(w, "  %s ended without a return line and without a crash (trace cut short, or a trap the log does not show)\n", plural(s.Unreturned, "callback"))
	}
	if s.TruncatedRecords > 0 {
		fmt.Fprintf(w, "  %s cut at the record size limit\n", plural(s.TruncatedRecords, "record"))
	}
	if dropped > 0 {
		fmt.Fprintf(w, "  %d more crashes, failures or findings not shown (limit %d each)\n", dropped, maxReported)
	}
	if s.Malformed > 0 {
		fmt.Fprintf(w, "  %s could not be parsed, the first at %s (use --strict to stop there)\n", plural(s.Malformed, "line"), strings.TrimPrefix(s.FirstMalformed, "<stdin>:"))
	} else {
		w.WriteString("  every line parsed\n")
	}
}

var levelOrder = []string{"trace", "debug", "info", "warning", "error", "critical"}

// countsString renders counts in the given key order, then the rest
// sorted: "info 3, error 1".
func countsString(m map[string]int, order []string) string {
	var parts []string
	seen := map[string]bool{}
	for _, k := range order {
		if n, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
			seen[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "sh") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// JSONWriter writes events as NDJSON (DESIGN §3.2), one object per line,
// with "->" and "<-" left unescaped.
type JSONWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewJSONWriter returns a JSONWriter on w; call Flush at the end.
func NewJSONWriter(w io.Writer) *JSONWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONWriter{w: bw, enc: enc}
}

// Write writes one event. The fields DESIGN §3.2 requires of its kind are
// written even when empty: a plugin log with no prefix ids or an empty
// message, a crash whose callback a paste cut or whose runtime printed no
// frames.
func (j *JSONWriter) Write(e *Event) error {
	switch {
	case e.Kind == KindPluginLog && (e.Plugin == "" || e.Message == ""):
		return j.enc.Encode(pluginLogJSON{e, e.Plugin, e.Message})
	case e.Kind == KindCrash && (e.Callback == "" || e.Message == "" || len(e.Frames) == 0):
		frames := e.Frames
		if frames == nil {
			frames = []Frame{}
		}
		return j.enc.Encode(crashJSON{e, e.Callback, e.Message, frames})
	case (e.Kind == KindOther || e.Kind == KindVMFailure || e.Kind == KindFinding) && e.Message == "":
		return j.enc.Encode(messageJSON{e, e.Message})
	}
	return j.enc.Encode(e)
}

// The JSON forms of events with required fields left empty: the outer
// field hides the embedded one of the same name, without omitempty.
type (
	pluginLogJSON struct {
		*Event
		Plugin  string `json:"plugin"`
		Message string `json:"message"`
	}
	crashJSON struct {
		*Event
		Callback string  `json:"callback"`
		Message  string  `json:"message"`
		Frames   []Frame `json:"frames"`
	}
	messageJSON struct {
		*Event
		Message string `json:"message"`
	}
)

// Flush writes buffered events out.
func (j *JSONWriter) Flush() error { return j.w.Flush() }

// WriteTree prints the call tree per context: each callback with its
// decoded arguments, meaning of the return, duration, the host calls it
// made and the plugin logs it wrote (Options.Tree must have been set).
func WriteTree(w io.Writer, contexts []*Context) error {
	bw := bufio.NewWriter(w)
	for i, c := range contexts {
		if i > 0 {
			bw.WriteString("\n")
		}
		bw.WriteString(contextTitle(c))
		bw.WriteString("\n")
		for _, cb := range c.Callbacks {
			writeNode(bw, cb, 1)
		}
	}
	return bw.Flush()
}

func contextTitle(c *Context) string {
	var b strings.Builder
	switch {
	case c.VM:
		b.WriteString("VM context 0 (start-up)")
	case c.IsRoot():
		fmt.Fprintf(&b, "root context %d", c.ID)
	case c.HasParent:
		fmt.Fprintf(&b, "stream context %d (root %d)", c.ID, c.Parent)
	default:
		fmt.Fprintf(&b, "context %d", c.ID)
	}
	if c.Origin != "" {
		b.WriteString(" · " + c.Origin)
	}
	if c.Thread != "" {
		b.WriteString(" · thread " + c.Thread)
	}
	return b.String()
}

func writeNode(w *bufio.Writer, n *Call, depth int) {
	indent := strings.Repeat("  ", depth)
	fmt.Fprintf(w, "%sline %d  %s(%s)", indent, n.Line, n.Function, argsText(n))
	switch {
	case n.Trapped:
		fmt.Fprintf(w, " -> TRAPPED (line %d)", n.EndLine)
	case n.Unreturned:
		w.WriteString(" -> (no return line)")
	case n.Return != nil:
		meaning := n.Action
		if n.Direction == VMToHost {
			meaning = n.Status
		}
		if meaning == "" {
			meaning = string(*n.Return)
		} else if string(*n.Return) != "void" && !strings.HasPrefix(meaning, "0x") {
			meaning = fmt.Sprintf("%s (%s)", meaning, *n.Return)
		}
		fmt.Fprintf(w, " -> %s", meaning)
	}
	if n.Start != 0 && n.End != 0 && n.End >= n.Start && n.Direction == HostToVM {
		fmt.Fprintf(w, "  %s", time.Duration(n.End-n.Start))
	}
	if n.Annotation != "" {
		fmt.Fprintf(w, "  # %s", n.Annotation)
	}
	w.WriteString("\n")
	li := 0
	for _, c := range n.Children {
		for li < len(n.Logs) && n.Logs[li].Line < c.Line {
			writeLog(w, n.Logs[li], depth+1)
			li++
		}
		writeNode(w, c, depth+1)
	}
	for ; li < len(n.Logs); li++ {
		writeLog(w, n.Logs[li], depth+1)
	}
	if n.Dropped > 0 {
		fmt.Fprintf(w, "%s  … %d more host calls not kept\n", indent, n.Dropped)
	}
}

func writeLog(w *bufio.Writer, l LogRef, depth int) {
	msg, _, more := strings.Cut(l.Message, "\n")
	if more {
		msg += " …"
	}
	fmt.Fprintf(w, "%sline %d  log %s: %s\n", strings.Repeat("  ", depth), l.Line, l.Level, msg)
}

// argsText renders arguments with their names and meanings when the ABI
// tables know them ("map_type=HttpRequestHeaders, key=0x10000, …"), else
// as printed.
func argsText(n *Call) string {
	if len(n.Decoded) == len(n.Args) && len(n.Args) > 0 {
		var b bytes.Buffer
		for i, a := range n.Decoded {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.Name)
			b.WriteByte('=')
			b.WriteString(a.Value)
		}
		return b.String()
	}
	return joinNumbers(n.Args)
}
