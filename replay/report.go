package replay

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/tracer"
)

// ResultRecord is the last line of `wasmdbg replay --json`: the outcome of
// the whole replay, with the same frame shape as a crash event.
type ResultRecord struct {
	Kind         string         `json:"kind"` // "result"
	Trapped      bool           `json:"trapped"`
	Callback     string         `json:"callback,omitempty"`
	Message      string         `json:"message,omitempty"`
	Frames       []tracer.Frame `json:"frames,omitempty"`
	Panic        string         `json:"panic,omitempty"`
	Failure      *FailureRecord `json:"failure,omitempty"`
	Streams      []*Stream      `json:"streams"`
	Metrics      []Metric       `json:"metrics,omitempty"`
	SharedData   []SharedEntry  `json:"shared_data,omitempty"`
	Calls        []CallRecord   `json:"calls,omitempty"`
	Ticks        int            `json:"ticks,omitempty"`
	Reloads      int            `json:"reloads,omitempty"`
	ReloadStats  *ReloadStats   `json:"reload_stats,omitempty"`
	Notes        []string       `json:"notes,omitempty"`
	Expectations struct {
		Checked int `json:"checked"`
		Failed  int `json:"failed"`
	} `json:"expectations"`
}

// FailureRecord is why the VM stopped, in JSON.
type FailureRecord struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Record returns the result's JSON record.
func (r *Result) Record() *ResultRecord {
	rec := &ResultRecord{Kind: "result", Trapped: r.Trapped, Streams: r.Streams, Metrics: r.Metrics,
		SharedData: r.Shared, Calls: r.Calls, Ticks: r.Ticks, Reloads: r.Reloads, ReloadStats: r.ReloadStats, Notes: r.Notes}
	if rec.Streams == nil {
		rec.Streams = []*Stream{}
	}
	for _, s := range rec.Streams {
		s.Access()
	}
	if c := r.Crash; c != nil {
		rec.Callback, rec.Message, rec.Frames, rec.Panic = c.Callback, c.Message, c.TracerFrames(), c.PanicText
	}
	if f := r.Failure; f != nil && f.Reason != "trapped" {
		rec.Failure = &FailureRecord{Reason: f.Reason, Message: f.Message, Hint: f.Hint}
	}
	rec.Expectations.Checked, rec.Expectations.Failed = r.Expected, r.Failed
	return rec
}

// OK reports whether the replay ran clean: no trap, no VM failure, every
// expectation held.
func (r *Result) OK() bool {
	return !r.Trapped && r.Failure == nil && r.Failed == 0
}

// WriteSummary writes what a person wants after the trace: the crash with
// its symbolized frames and the plugin's own panic text, each stream's
// outcome, the custom metrics, and anything the replay had to decide.
func (r *Result) WriteSummary(w io.Writer) {
	if c := r.Crash; c != nil {
		fmt.Fprintf(w, "\n=== crash in %s: %s\n", c.Callback, c.Message)
		if c.PanicText != "" {
			fmt.Fprintf(w, "the plugin said before trapping:\n%s\n", indent(c.PanicText, "  "))
		}
		switch {
		case len(c.Frames) == 0:
			fmt.Fprintln(w, "no backtrace: the trap left no wasm frames")
		case hasSource(c.Frames):
			fmt.Fprintln(w, "backtrace (module offsets), symbolized:")
			io.WriteString(w, c.SymbolizedText())
		default:
			fmt.Fprintln(w, "backtrace (module offsets; no debug information resolved them to source lines):")
			io.WriteString(w, c.SymbolizedText())
		}
	}
	if f := r.Failure; f != nil && f.Reason != "trapped" {
		fmt.Fprintf(w, "\n=== VM failure (%s): %s\n", f.Reason, f.Message)
		if f.Hint != "" {
			fmt.Fprintf(w, "hint: %s\n", f.Hint)
		}
	}
	total := len(r.Streams)
	if r.passStreams > 0 { // Repeat keeps the first pass and a stream that trapped later
		total = r.passStreams
		fmt.Fprintf(w, "\n=== %d stream%s (the first pass of %d)\n", total, plural(total), r.passes)
	} else {
		fmt.Fprintf(w, "\n=== %d stream%s\n", len(r.Streams), plural(len(r.Streams)))
	}
	for _, s := range r.Streams {
		writeStream(w, s, total)
	}
	r.writePolicy(w)
	if len(r.Calls) > 0 {
		fmt.Fprintln(w, "calls outside streams:")
		for _, c := range r.Calls {
			fmt.Fprintf(w, "  %s\n", callText(c))
		}
	}
	if len(r.Metrics) > 0 {
		fmt.Fprintln(w, "metrics:")
		for _, m := range r.Metrics {
			fmt.Fprintf(w, "  wasmcustom.%s (%s) = %d\n", m.Name, strings.ToLower(m.Kind), m.Value)
		}
	}
	if r.Ticks > 0 {
		fmt.Fprintf(w, "ticks: %d\n", r.Ticks)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.Expected > 0 {
		fmt.Fprintf(w, "expectations: %d checked, %d failed\n", r.Expected, r.Failed)
	}
	fmt.Fprintf(w, "result: %s\n", r.verdict())
}

func (r *Result) verdict() string {
	switch {
	case r.Crash != nil && r.Crash.Timeout:
		return "the plugin ran past the time limit in " + r.Crash.Callback
	case r.Trapped:
		return "the plugin trapped in " + r.Crash.Callback
	case r.Failure != nil:
		return "the VM failed: " + r.Failure.Message
	case r.Failed > 0:
		return fmt.Sprintf("%d expectation%s failed", r.Failed, plural(r.Failed))
	}
	return "ran clean"
}

func hasSource(fs []Frame) bool {
	for _, f := range fs {
		for _, r := range f.Resolved {
			if r.File != "" {
				return true
			}
		}
	}
	return false
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pre)
}

func writeStream(w io.Writer, s *Stream, total int) {
	name := ""
	if s.ID != "" {
		name = " " + s.ID
	}
	if s.Iteration > 0 {
		name += fmt.Sprintf(" (pass %d)", s.Iteration)
	}
	fmt.Fprintf(w, "stream %d/%d%s: ", s.Index+1, total, name)
	if s.Kind == "tcp" {
		fmt.Fprintf(w, "tcp connection, %d bytes downstream and %d upstream forwarded, %s\n",
			s.DownstreamForwarded, s.UpstreamForwarded, s.Closed)
	} else {
		fmt.Fprintf(w, "%s %s -> %s\n", s.Method, s.Path, outcome(s))
	}
	if s.Trapped {
		fmt.Fprintln(w, "  the plugin trapped; the host failed the stream")
	}
	if p := policyText(s); p != "" {
		fmt.Fprintf(w, "  %s\n", p)
	}
	for _, cb := range s.Callbacks {
		if cb.Returned != "" {
			fmt.Fprintf(w, "  %s returned %s, which the host treats as %s\n", cb.Callback, cb.Returned, cb.Action)
		}
	}
	headerLines(w, "request header added", s.RequestHeadersAdded)
	headerLines(w, "request header removed", s.RequestHeadersRemoved)
	headerLines(w, "response header added", s.ResponseHeadersAdded)
	headerLines(w, "response header removed", s.ResponseHeadersRemoved)
	if s.RequestBodyChanged && s.UpstreamRequest != nil {
		fmt.Fprintf(w, "  request body rewritten by the plugin: %d bytes went upstream\n", len(s.UpstreamRequest.Body))
	}
	if s.ResponseBodyChanged && s.Response != nil {
		fmt.Fprintf(w, "  response body rewritten by the plugin: %d bytes went to the client\n", len(s.Response.Body))
	}
	for _, c := range s.HTTPCalls {
		fmt.Fprintf(w, "  %s\n", callText(c))
	}
	for _, c := range s.GrpcCalls {
		fmt.Fprintf(w, "  %s\n", callText(c))
	}
	if s.Stalled != "" {
		fmt.Fprintf(w, "  stalled: %s\n", s.Stalled)
	}
	if s.Reset != "" {
		fmt.Fprintf(w, "  reset by the plugin (%s)\n", s.Reset)
	}
	for _, e := range s.Expectations {
		if e.OK {
			fmt.Fprintf(w, "  expect %s: ok\n", e.What)
		} else {
			fmt.Fprintf(w, "  expect %s: FAILED (got %s)\n", e.What, e.Got)
		}
	}
}

func outcome(s *Stream) string {
	switch {
	case s.LocalReply != nil && s.LocalReply.ByHost:
		return fmt.Sprintf("%d local reply by the host (%s)", s.LocalReply.Status, s.LocalReply.Details)
	case s.LocalReply != nil:
		out := fmt.Sprintf("%d local reply by the plugin", s.LocalReply.Status)
		if s.LocalReply.Body != "" {
			out += ", body " + strconv.Quote(s.LocalReply.Body)
		}
		if s.LocalReply.Details != "" {
			out += ", details " + s.LocalReply.Details
		}
		return out
	case s.Reset != "":
		return "reset"
	case s.Stalled != "":
		return "no response (stalled)"
	case s.Response != nil:
		return s.Response.Status()
	}
	return "no response"
}

func headerLines(w io.Writer, what string, hs []Header) {
	for _, h := range hs {
		fmt.Fprintf(w, "  %s: %s: %s\n", what, h.Name, h.Value)
	}
}

func callText(c CallRecord) string {
	what := "http_call"
	if c.Service != "" || c.Method != "" {
		what = "gRPC call " + c.Service + "/" + c.Method
	}
	s := fmt.Sprintf("%s to %q", what, c.Cluster)
	if c.Token != 0 {
		s += fmt.Sprintf(" (#%d)", c.Token)
	}
	s += ": " + c.Status
	if c.Response != "" {
		s += ", answered " + c.Response
	}
	return s
}
