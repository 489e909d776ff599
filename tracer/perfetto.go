package tracer

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"sort"
	"strconv"
)

// traceEvent is one entry of the Chrome Trace Event format, which
// ui.perfetto.dev and chrome://tracing open.
type traceEvent struct {
	Name  string         `json:"name"`
	Cat   string         `json:"cat,omitempty"`
	Ph    string         `json:"ph"`
	Ts    float64        `json:"ts"`
	Dur   *float64       `json:"dur,omitempty"`
	Pid   int            `json:"pid"`
	Tid   int            `json:"tid"`
	Scope string         `json:"s,omitempty"`
	Args  map[string]any `json:"args,omitempty"`
}

// WritePerfetto writes a Chrome Trace Event file: every callback and the
// host calls nested in it as slices on its worker thread's track (one
// process per origin), and crashes, VM failures, findings and plugin logs
// from events as instant events. Timestamps are microseconds from the
// first timed record; a log without times uses line numbers instead, so
// the order is still right.
func WritePerfetto(w io.Writer, contexts []*Context, events []Event) error {
	timed := true
	var t0 int64 = math.MaxInt64
	for _, c := range contexts {
		for _, cb := range c.Callbacks {
			if cb.Start == 0 {
				timed = false
			} else if cb.Start < t0 {
				t0 = cb.Start
			}
		}
	}
	for i := range events {
		if n := eventNanos(&events[i]); n == 0 {
			timed = false
		} else if n < t0 {
			t0 = n
		}
	}
	ids := newTrackIDs()
	var out []traceEvent
	ts := func(nanos int64, line int) float64 {
		if !timed {
			return float64(line)
		}
		return float64(nanos-t0) / 1e3
	}
	var slice func(n *Call, pid, tid int)
	slice = func(n *Call, pid, tid int) {
		start := ts(n.Start, n.Line)
		end := ts(n.End, n.EndLine)
		if n.End == 0 && timed {
			end = start
		}
		dur := math.Max(end-start, 0)
		name := n.Function
		cat := "callback"
		if n.Direction == VMToHost {
			cat = "host_call"
		}
		args := map[string]any{"line": n.Line}
		if len(n.Args) > 0 {
			args["args"] = argsText(n)
		}
		if n.HasContext {
			args["context_id"] = n.ContextID
		}
		switch {
		case n.Trapped:
			name += " (trapped)"
			args["trapped"] = true
		case n.Unreturned:
			args["returned"] = false
		case n.Return != nil:
			args["return"] = string(*n.Return)
			if n.Status != "" {
				args["status"] = n.Status
			}
			if n.Action != "" {
				args["action"] = n.Action
			}
		}
		if n.Annotation != "" {
			args["decoded"] = n.Annotation
		}
		out = append(out, traceEvent{Name: name, Cat: cat, Ph: "X", Ts: start, Dur: &dur, Pid: pid, Tid: tid, Args: args})
		for _, c := range n.Children {
			slice(c, pid, tid)
		}
	}
	for _, c := range contexts {
		pid, tid := ids.track(c.Origin, c.Thread)
		for _, cb := range c.Callbacks {
			slice(cb, pid, tid)
		}
	}
	for i := range events {
		e := &events[i]
		var name, cat string
		args := map[string]any{"line": e.Line}
		switch e.Kind {
		case KindCrash:
			name, cat = "crash in "+e.Callback+": "+e.Message, "crash"
			args["runtime"] = e.Runtime
			if len(e.Frames) > 0 {
				fr := make([]string, len(e.Frames))
				for j, f := range e.Frames {
					fr[j] = f.Offset + " " + f.Function
				}
				args["frames"] = fr
			}
			if e.PanicText != "" {
				args["panic"] = e.PanicText
			}
		case KindVMFailure:
			name, cat = "VM failure: "+e.Reason, "vm_failure"
			args["message"], args["hint"] = e.Message, e.Hint
		case KindFinding:
			name, cat = "finding: "+e.Reason, "finding"
			args["message"], args["hint"] = e.Message, e.Hint
		case KindPluginLog:
			name, cat = "log "+e.Level+": "+firstLine(e.Message, 80), "plugin_log"
			args["message"], args["plugin"] = e.Message, e.Plugin
		default:
			continue
		}
		pid, tid := ids.track(e.Origin, e.Thread)
		out = append(out, traceEvent{Name: name, Cat: cat, Ph: "i", Scope: "t", Ts: ts(eventNanos(e), e.Line), Pid: pid, Tid: tid, Args: args})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ts < out[j].Ts })
	out = append(ids.metadata(), out...)

	bw := bufio.NewWriter(w)
	bw.WriteString(`{"displayTimeUnit":"ms","traceEvents":[`)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range out {
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n")
		if err := enc.Encode(&out[i]); err != nil {
			return err
		}
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

func firstLine(s string, max int) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			s = s[:i]
			break
		}
	}
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// eventNanos parses an event's time back to nanoseconds.
func eventNanos(e *Event) int64 {
	if e.Time == "" {
		return 0
	}
	n, _ := parseTimeNanos([]byte(e.Time))
	return n
}

// trackIDs numbers origins as processes and threads as tracks.
type trackIDs struct {
	pids   map[string]int
	tids   map[[2]string]int
	names  []traceEvent
	nextID int
}

func newTrackIDs() *trackIDs {
	return &trackIDs{pids: map[string]int{}, tids: map[[2]string]int{}, nextID: 1 << 20}
}

func (t *trackIDs) track(origin, thread string) (pid, tid int) {
	pid, ok := t.pids[origin]
	if !ok {
		pid = len(t.pids) + 1
		t.pids[origin] = pid
		name := "proxy"
		if origin != "" {
			name = origin
		}
		t.names = append(t.names, traceEvent{Name: "process_name", Ph: "M", Pid: pid, Args: map[string]any{"name": name}})
	}
	key := [2]string{origin, thread}
	tid, ok = t.tids[key]
	if !ok {
		if n, err := strconv.Atoi(thread); err == nil && n >= 0 && n < 1<<20 {
			tid = n
		} else {
			tid = t.nextID
			t.nextID++
		}
		t.tids[key] = tid
		name := "thread " + thread
		if thread == "" {
			name = "thread (unknown)"
		}
		t.names = append(t.names, traceEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: tid, Args: map[string]any{"name": name}})
	}
	return pid, tid
}

func (t *trackIDs) metadata() []traceEvent { return t.names }
