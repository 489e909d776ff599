package tui

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// ReplayOptions configure a ReplaySource.
type ReplayOptions struct {
	// Name is what the status bar calls the replay (the capture's file).
	Name    string
	Module  *replay.Module
	Capture *replay.Capture
	// NoRestrictions is replay.RunOptions.NoRestrictions.
	NoRestrictions bool
	// Resolver resolves frames the replay left unresolved; ModuleName
	// names the module for the UI.
	Resolver   loc.Resolver
	ModuleName string
	// RunToTrap starts by running to the first trap (or the end), so the
	// crash is on screen at once; otherwise the replay waits before its
	// first callback.
	RunToTrap bool
	// RunToEnd runs the whole capture without pausing and ends the event
	// stream (io.EOF), as a file does: for --snapshot.
	RunToEnd bool
}

// ReplaySource runs a capture through the local Proxy-Wasm host (package
// replay) one callback at a time. The replay runs on its own goroutine;
// its event sink pauses it before each top-level callback (host->vm, with
// no callback open; no callback timer runs there) until Step or Continue
// lets it go on. Restart abandons the run and starts a fresh VM.
//
// The stream's headers and bodies "as the plugin sees them" are rebuilt
// from the capture and the plugin's own successful header calls
// (add/replace/remove, set_header_map_pairs) as the trace shows them, and
// the custom metrics from its define/increment/record calls, with
// cpp-host's metric ids (counters 4, 8…, gauges 5, 9…, histograms 6,
// 10…). Once the run ends, the replay's own Result replaces both.
type ReplaySource struct {
	opts ReplayOptions

	mu    sync.Mutex
	queue []tracer.Event
	reset bool
	ended bool // RunToEnd: the run finished
	wake  chan struct{}
	run   *replayRun
	gen   int

	closed sync.Once
}

// NewReplaySource returns a source over a replay of o.Capture through
// o.Module. Nothing runs until the UI asks.
func NewReplaySource(o ReplayOptions) *ReplaySource {
	return &ReplaySource{opts: o, wake: make(chan struct{}, 1)}
}

// Info describes the source.
func (s *ReplaySource) Info() Info {
	return Info{Kind: KindReplay, Name: s.opts.Name, Module: s.opts.ModuleName}
}

// Next returns the events the replay produced since the last call. It
// waits while the replay is paused; with RunToEnd it ends with io.EOF.
func (s *ReplaySource) Next(ctx context.Context) (Batch, error) {
	s.start()
	for {
		s.mu.Lock()
		if len(s.queue) > 0 || s.reset {
			b := Batch{Reset: s.reset, Events: s.queue}
			s.queue, s.reset = nil, false
			s.mu.Unlock()
			return b, nil
		}
		ended := s.ended
		s.mu.Unlock()
		if ended {
			return Batch{}, io.EOF
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

// Frames resolves a crash frame. The replay symbolizes the frames it
// reports with replay.Options.Resolver already; this resolves the rest.
func (s *ReplaySource) Frames(_ context.Context, f tracer.Frame) ([]loc.Frame, error) {
	return resolveFrame(s.opts.Resolver, f)
}

// Close abandons the run.
func (s *ReplaySource) Close() error {
	s.closed.Do(func() {
		s.mu.Lock()
		r := s.run
		s.mu.Unlock()
		if r != nil {
			r.abandon()
		}
	})
	return nil
}

// State says where the replay stands.
func (s *ReplaySource) State(ctx context.Context) (ReplayState, error) {
	r := s.start()
	if err := r.waitIdle(ctx); err != nil {
		return ReplayState{}, err
	}
	return r.snapshot(), nil
}

// Step runs the next callback.
func (s *ReplaySource) Step(ctx context.Context) (ReplayState, error) {
	return s.resume(ctx, modeStep)
}

// Continue runs callbacks until the plugin traps or the capture ends.
func (s *ReplaySource) Continue(ctx context.Context) (ReplayState, error) {
	return s.resume(ctx, modeToTrap)
}

// Restart starts over with a fresh VM, paused before its first callback.
func (s *ReplaySource) Restart(ctx context.Context) (ReplayState, error) {
	s.mu.Lock()
	old := s.run
	s.run = nil
	s.queue, s.reset = nil, true
	s.mu.Unlock()
	if old != nil {
		old.abandon()
	}
	s.notify()
	r := s.startMode(modeStep)
	if err := r.waitIdle(ctx); err != nil {
		return ReplayState{}, err
	}
	return r.snapshot(), nil
}

// Metrics returns the plugin's custom metrics.
func (s *ReplaySource) Metrics(context.Context) ([]Metric, error) {
	r := s.start()
	return r.metricsNow(), nil
}

func (s *ReplaySource) resume(ctx context.Context, m runMode) (ReplayState, error) {
	r := s.start()
	if err := r.waitIdle(ctx); err != nil {
		return ReplayState{}, err
	}
	if r.finished() {
		return r.snapshot(), nil
	}
	r.proceed(m)
	if err := r.waitIdle(ctx); err != nil {
		return ReplayState{}, err
	}
	return r.snapshot(), nil
}

func (s *ReplaySource) start() *replayRun {
	first := modeStep
	switch {
	case s.opts.RunToEnd:
		first = modeToEnd
	case s.opts.RunToTrap:
		first = modeToTrap
	}
	return s.startMode(first)
}

// startMode starts a run if none is going; mode says how far it runs
// before its first pause.
func (s *ReplaySource) startMode(mode runMode) *replayRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return s.run
	}
	s.gen++
	r := &replayRun{src: s, gen: s.gen, mode: mode, resume: make(chan runMode), idle: make(chan struct{}),
		done: make(chan struct{}), view: newStreamView(s.opts.Capture)}
	s.run = r
	go r.main()
	return r
}

func (s *ReplaySource) push(gen int, e tracer.Event) {
	s.mu.Lock()
	if s.run != nil && s.run.gen == gen {
		s.queue = append(s.queue, e)
	}
	s.mu.Unlock()
	s.notify()
}

func (s *ReplaySource) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

type runMode int

const (
	modeStep    runMode = iota // pause before the next top-level callback
	modeToTrap                 // pause after the first trap
	modeToEnd                  // never pause
	modeAbandon                // drop everything, never pause
)

// replayRun is one run of the capture. The run's goroutine and the
// controller (Step, Continue, State) hand over through idle: the run
// closes it when it pauses, the controller makes a new one before letting
// it go on.
type replayRun struct {
	src    *ReplaySource
	gen    int
	resume chan runMode
	done   chan struct{}

	mu       sync.Mutex
	idle     chan struct{}
	mode     runMode
	depth    int
	trapSeen bool
	view     *streamView
	state    ReplayState
	res      *replay.Result
	err      error
}

func (r *replayRun) main() {
	defer close(r.done)
	ro := replay.RunOptions{Sink: r.sink, Verbosity: replay.Trace, NoRestrictions: r.src.opts.NoRestrictions}
	res, err := replay.Replay(context.Background(), r.src.opts.Module, r.src.opts.Capture, ro)
	r.mu.Lock()
	r.res, r.err = res, err
	r.mu.Unlock()
	if r.src.opts.RunToEnd {
		r.src.mu.Lock()
		if r.src.run == r {
			r.src.ended = true
		}
		r.src.mu.Unlock()
		r.src.notify()
	}
}

// sink receives every event of the run, on the run's goroutine.
func (r *replayRun) sink(ev *tracer.Event) {
	r.mu.Lock()
	mode := r.mode
	top := ev.Kind == tracer.KindCall && ev.Direction == tracer.HostToVM && r.depth == 0
	pause := top && (mode == modeStep || mode == modeToTrap && r.trapSeen)
	if pause {
		r.state.Next = ev.Function
		close(r.idle)
	}
	r.mu.Unlock()
	if mode == modeAbandon {
		return
	}
	if pause {
		if m := <-r.resume; m == modeAbandon {
			return
		}
	}
	e := *ev
	r.mu.Lock()
	switch {
	case e.Kind == tracer.KindCall && e.Direction == tracer.HostToVM:
		if r.depth == 0 {
			r.state.Ran++
			r.state.Last, r.state.LastResult, r.state.Next = e.Function, "", ""
		}
		r.depth++
	case e.Kind == tracer.KindCall && e.Direction == tracer.HostFromVM:
		r.depth = max(r.depth-1, 0)
		if r.depth == 0 {
			r.state.LastResult = e.Action
			if r.state.LastResult == "" && e.Return != nil && *e.Return != "void" {
				r.state.LastResult = string(*e.Return)
			}
		}
	case e.Kind == tracer.KindCrash:
		r.depth = 0
		r.trapSeen = true
		r.state.Trapped = true
		r.state.Trap = trapShort(e.Message)
	}
	r.view.see(&e)
	r.mu.Unlock()
	r.src.push(r.gen, e)
}

// waitIdle waits until the run pauses or ends.
func (r *replayRun) waitIdle(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	select {
	case <-idle:
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// proceed lets a paused run go on in mode m.
func (r *replayRun) proceed(m runMode) {
	r.mu.Lock()
	r.idle = make(chan struct{})
	r.mode = m
	if m == modeToTrap {
		r.trapSeen = false
	}
	r.mu.Unlock()
	select {
	case r.resume <- m:
	case <-r.done:
	}
}

func (r *replayRun) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// abandon drops the run: it finishes in the background without pausing
// and its events go nowhere.
func (r *replayRun) abandon() {
	r.mu.Lock()
	r.mode = modeAbandon
	r.mu.Unlock()
	select {
	case r.resume <- modeAbandon:
	case <-r.done:
	default: // running: it sees modeAbandon at its next event
	}
}

// snapshot is the state to show, taken while the run is paused or over.
func (r *replayRun) snapshot() ReplayState {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state
	s.Streams = len(r.src.opts.Capture.Streams)
	s.Stream = r.view.stream + 1
	r.view.fill(&s)
	if r.finished() {
		s.Done, s.Next = true, ""
		switch {
		case r.err != nil:
			s.Trap = r.err.Error()
		case r.res != nil && r.res.Failure != nil && !s.Trapped:
			s.Trap = r.res.Failure.Reason + ": " + r.res.Failure.Message
		}
		if r.res != nil && r.view.stream >= 0 && r.view.stream < len(r.res.Streams) {
			finalStream(&s, r.res.Streams[r.view.stream])
		}
	}
	return s
}

func (r *replayRun) metricsNow() []Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished() && r.res != nil {
		out := make([]Metric, len(r.res.Metrics))
		for i, mt := range r.res.Metrics {
			out[i] = Metric{Name: "wasmcustom." + mt.Name, Kind: strings.ToLower(mt.Kind), Value: float64(mt.Value), Custom: true}
		}
		return out
	}
	return r.view.metricList()
}

// finalStream shows a finished stream as the replay reports it.
func finalStream(s *ReplayState, st *replay.Stream) {
	if st.UpstreamRequest != nil {
		s.RequestHeaders = headers(st.UpstreamRequest.Headers)
		s.RequestBody = []byte(st.UpstreamRequest.Body)
		s.RequestTrailers = headers(st.UpstreamRequest.Trailers)
	}
	if st.Response != nil {
		s.ResponseHeaders = headers(st.Response.Headers)
		s.ResponseBody = []byte(st.Response.Body)
		s.ResponseTrailers = headers(st.Response.Trailers)
	}
	if lr := st.LocalReply; lr != nil {
		s.LocalReply = strconv.Itoa(int(lr.Status)) + " " + lr.Details
	}
}

func headers(hs []replay.Header) []Header {
	out := make([]Header, len(hs))
	for i, h := range hs {
		out[i] = Header{h.Name, h.Value}
	}
	return out
}

// streamView rebuilds, from the events, what the plugin sees of the
// current stream and the metrics it defined.
type streamView struct {
	capture           *replay.Capture
	stream            int // index in capture.Streams; -1 before the first
	maps              map[string][]Header
	reqBody, respBody int // body chunks delivered
	localReply        string
	pending           *tracer.Event // the host call whose return is awaited
	metrics           []*Metric
	byID              map[uint32]*Metric
	nextID            [3]uint32
}

func newStreamView(c *replay.Capture) *streamView {
	return &streamView{capture: c, stream: -1, maps: map[string][]Header{}, byID: map[uint32]*Metric{}, nextID: [3]uint32{0, 1, 2}}
}

func (v *streamView) cur() *replay.CaptureStream {
	if v.stream < 0 || v.stream >= len(v.capture.Streams) {
		return nil
	}
	return &v.capture.Streams[v.stream]
}

func (v *streamView) see(e *tracer.Event) {
	if e.Kind != tracer.KindCall {
		return
	}
	switch e.Direction {
	case tracer.HostToVM:
		v.callback(e)
	case tracer.VMToHost:
		c := *e
		v.pending = &c
	case tracer.VMFromHost:
		if v.pending != nil && v.pending.Function == e.Function && e.Status == "Ok" {
			v.hostCall(v.pending)
		}
		v.pending = nil
	}
}

// callback follows Envoy's callback order (reference §9.5): a context
// with a parent starts the next stream of the capture.
func (v *streamView) callback(e *tracer.Event) {
	switch e.Function {
	case "proxy_on_context_create":
		if arg(e, "parent_context_id") != "0" && arg(e, "parent_context_id") != "" {
			v.stream++
			v.maps = map[string][]Header{}
			v.reqBody, v.respBody, v.localReply = 0, 0, ""
			if cs := v.cur(); cs != nil && cs.Request != nil {
				v.maps["HttpRequestHeaders"] = lowerHeaders(cs.Request.Headers)
			}
		}
	case "proxy_on_request_body":
		v.reqBody++
	case "proxy_on_request_trailers":
		if cs := v.cur(); cs != nil && cs.Request != nil {
			v.maps["HttpRequestTrailers"] = lowerHeaders(cs.Request.Trailers)
		}
	case "proxy_on_response_headers":
		if _, ok := v.maps["HttpResponseHeaders"]; !ok {
			if cs := v.cur(); cs != nil && cs.Response != nil {
				v.maps["HttpResponseHeaders"] = lowerHeaders(cs.Response.Headers)
			}
		}
	case "proxy_on_response_body":
		v.respBody++
	case "proxy_on_response_trailers":
		if cs := v.cur(); cs != nil && cs.Response != nil {
			v.maps["HttpResponseTrailers"] = lowerHeaders(cs.Response.Trailers)
		}
	}
}

// hostCall applies a host call that returned Ok.
func (v *streamView) hostCall(e *tracer.Event) {
	fn := strings.TrimPrefix(e.Function, "env.")
	mt := arg(e, "map_type")
	switch fn {
	case "proxy_add_header_map_value":
		if k, ok := unquote(arg(e, "key")); ok {
			if val, ok := unquote(arg(e, "value")); ok {
				v.maps[mt] = append(v.maps[mt], Header{strings.ToLower(k), val})
			}
		}
	case "proxy_replace_header_map_value":
		k, ok1 := unquote(arg(e, "key"))
		val, ok2 := unquote(arg(e, "value"))
		if ok1 && ok2 {
			k = strings.ToLower(k)
			hs := removeHeader(v.maps[mt], k)
			v.maps[mt] = append(hs, Header{k, val})
		}
	case "proxy_remove_header_map_value":
		if k, ok := unquote(arg(e, "key")); ok {
			v.maps[mt] = removeHeader(v.maps[mt], strings.ToLower(k))
		}
	case "proxy_set_header_map_pairs":
		if hs, ok := parsePairsText(arg(e, "map")); ok {
			v.maps[mt] = hs
		}
	case "proxy_send_local_response":
		v.localReply = arg(e, "status_code")
		if d, ok := unquote(arg(e, "details")); ok && d != "" {
			v.localReply += " " + d
		}
	case "proxy_define_metric":
		name, _ := unquote(arg(e, "name"))
		t := map[string]int{"Counter": 0, "Gauge": 1, "Histogram": 2}
		k, ok := t[arg(e, "metric_type")]
		if !ok {
			return
		}
		v.nextID[k] += 4
		m := &Metric{Name: "wasmcustom." + name, Kind: strings.ToLower(arg(e, "metric_type")), Custom: true}
		v.byID[v.nextID[k]] = m
		v.metrics = append(v.metrics, m)
	case "proxy_increment_metric":
		id, _ := strconv.ParseUint(arg(e, "metric_id"), 10, 32)
		d, _ := strconv.ParseInt(arg(e, "offset"), 10, 64)
		if m := v.byID[uint32(id)]; m != nil && m.Kind != "histogram" {
			m.Value += float64(d)
		}
	case "proxy_record_metric":
		id, _ := strconv.ParseUint(arg(e, "metric_id"), 10, 32)
		val, _ := strconv.ParseUint(arg(e, "value"), 10, 64)
		if m := v.byID[uint32(id)]; m != nil {
			switch m.Kind {
			case "counter":
				m.Value += float64(val)
			case "gauge":
				m.Value = float64(val)
			default:
				m.Value++
			}
		}
	}
}

func (v *streamView) fill(s *ReplayState) {
	s.RequestHeaders = v.maps["HttpRequestHeaders"]
	s.RequestTrailers = v.maps["HttpRequestTrailers"]
	s.ResponseHeaders = v.maps["HttpResponseHeaders"]
	s.ResponseTrailers = v.maps["HttpResponseTrailers"]
	s.LocalReply = v.localReply
	if cs := v.cur(); cs != nil {
		if cs.Request != nil {
			s.RequestBody = joinChunks(cs.Request.Body[:min(v.reqBody, len(cs.Request.Body))])
		}
		if cs.Response != nil {
			s.ResponseBody = joinChunks(cs.Response.Body[:min(v.respBody, len(cs.Response.Body))])
		}
	}
}

func (v *streamView) metricList() []Metric {
	out := make([]Metric, len(v.metrics))
	for i, m := range v.metrics {
		out[i] = *m
	}
	return out
}

func arg(e *tracer.Event, name string) string {
	for _, a := range e.Decoded {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// unquote reads a decoded string argument (Go-quoted by the replay); a
// value the replay cut ("…(N bytes)") does not count.
func unquote(s string) (string, bool) {
	u, err := strconv.Unquote(s)
	return u, err == nil
}

// parsePairsText reads the replay's rendering of a header map:
// {"a": "b", "c": "d"}.
func parsePairsText(s string) ([]Header, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, false
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	var out []Header
	for s != "" {
		k, rest, ok := cutQuoted(s)
		if !ok || !strings.HasPrefix(rest, ": ") {
			return nil, false
		}
		val, rest2, ok := cutQuoted(rest[2:])
		if !ok {
			return nil, false
		}
		out = append(out, Header{strings.ToLower(k), val})
		s = strings.TrimPrefix(strings.TrimPrefix(rest2, ","), " ")
	}
	return out, true
}

// cutQuoted reads one Go-quoted string at the start of s.
func cutQuoted(s string) (string, string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			u, err := strconv.Unquote(s[:i+1])
			return u, s[i+1:], err == nil
		}
	}
	return "", "", false
}

func lowerHeaders(hs []replay.Header) []Header {
	out := make([]Header, len(hs))
	for i, h := range hs {
		out[i] = Header{strings.ToLower(h.Name), h.Value}
	}
	return out
}

func removeHeader(hs []Header, k string) []Header {
	out := hs[:0:0]
	for _, h := range hs {
		if h.Name != k {
			out = append(out, h)
		}
	}
	return out
}

func joinChunks(cs []replay.Chunk) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, c.Data...)
	}
	return b
}
