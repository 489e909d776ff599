package tracer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// Finding reasons: host calls made where they may not be, statuses the
// plugin ignored, and the known crash signatures (signatures below).
const (
	FindingCallDuringStart      = "call_during_vm_start"
	FindingCallDuringMalloc     = "call_during_malloc"
	FindingHTTPCallDuringStart  = "http_call_during_plugin_start"
	FindingResponseMapInRequest = "response_map_in_request_callback"
	FindingRequestMapAfterSent  = "request_map_modified_after_sent"
	FindingMapAfterStreamEnd    = "header_map_after_stream_end"
	FindingCallResponseOutside  = "http_call_response_outside_callback"
	FindingStreamCallFromRoot   = "stream_call_from_root_context"
	FindingIgnoredStatus        = "ignored_status"
	FindingPausedAfterFailure   = "paused_after_failed_call"
)

var (
	requestCallbacks  = set("proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers", "proxy_on_request_metadata")
	responseCallbacks = set("proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers", "proxy_on_response_metadata")
	endCallbacks      = set("proxy_on_log", "proxy_on_done", "proxy_on_delete")
	rootCallbacks     = set("proxy_on_vm_start", "proxy_on_configure", "proxy_on_tick", "proxy_on_queue_ready",
		"proxy_on_http_call_response", "proxy_on_grpc_receive_initial_metadata", "proxy_on_grpc_receive_trailing_metadata",
		"proxy_on_grpc_receive", "proxy_on_grpc_close", "proxy_on_foreign_function", "proxy_validate_configuration")
	headerMapReads  = set("proxy_get_header_map_value", "proxy_get_header_map_pairs", "proxy_get_header_map_size")
	headerMapWrites = set("proxy_add_header_map_value", "proxy_replace_header_map_value", "proxy_remove_header_map_value",
		"proxy_set_header_map_pairs")
	streamControl = set("proxy_send_local_response", "proxy_continue_stream", "proxy_close_stream",
		"proxy_continue_request", "proxy_continue_response")
	outgoingCalls = set("proxy_http_call", "proxy_grpc_call", "proxy_grpc_stream")
	// expectedAbsence are statuses that answer "not there" rather than
	// report an error; plugins check them as a matter of course.
	expectedAbsence = map[string]string{
		"proxy_get_header_map_value":  "NotFound",
		"proxy_get_property":          "NotFound",
		"proxy_get_shared_data":       "NotFound",
		"proxy_get_buffer_bytes":      "NotFound",
		"proxy_get_buffer_status":     "NotFound",
		"proxy_resolve_shared_queue":  "NotFound",
		"proxy_dequeue_shared_queue":  "Empty",
		"proxy_set_shared_data":       "CasMismatch",
		"proxy_get_header_map_pairs":  "NotFound",
		"proxy_call_foreign_function": "NotFound",
	}
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// checkCall applies the placement rules to a host call as it is made
// (rules from the spec and proxy-wasm-cpp-host, reference §9).
func (d *Decoder) checkCall(r *Record, t *threadState, n *Call, hf *abi.HostFunc) {
	cb := t.callback()
	if cb == nil {
		return
	}
	mod, name, _ := strings.Cut(n.Function, ".")
	if name == "proxy_set_effective_context" {
		t.effective = true
	}
	if name == "proxy_log" || name == "fd_write" {
		// A warning or error logged by the plugin answers an earlier failed
		// status.
		if len(n.Args) > 0 {
			v, _ := wordValue(string(n.Args[0]), abi.I32)
			if (name == "proxy_log" && v >= uint64(abi.LogWarn)) || (name == "fd_write" && v == 2) {
				for _, s := range t.stack {
					s.pending = s.pending[:0]
				}
			}
		}
	}
	report := func(reason, msg, hint string) {
		n.flagged = true
		d.finding(r, reason, cb.Function, n.Function, cb, msg, hint)
	}
	switch {
	case isStartFunction(cb.Function):
		if !abi.AllowedDuringStart(mod, name) {
			report(FindingCallDuringStart,
				fmt.Sprintf("%s called from %s: while the VM starts, proxy-wasm-cpp-host allows only logging, WASI basics and memory growth, and V8 traps any other host call with restricted_callback", n.Function, cb.Function),
				"move the call into proxy_on_vm_start or proxy_on_configure (Go: out of init() and main() into OnVMStart/OnPluginStart)")
		}
		return
	case isAllocator(cb.Function):
		if !abi.AllowedDuringMalloc(mod, name) {
			report(FindingCallDuringMalloc,
				fmt.Sprintf("%s called from the allocator %s, which the host calls while it serves another host call: only logging, fd_write, clock_time_get and poll_oneoff are allowed there", n.Function, cb.Function),
				"keep the allocator free of host calls (no logging of allocations through proxy_* functions, no metrics)")
		}
		return
	}
	if mod != "env" {
		return
	}
	mapType, hasMap := mapArg(n, hf)
	switch {
	case outgoingCalls[name] && (cb.Function == "proxy_on_vm_start" || cb.Function == "proxy_on_configure"):
		report(FindingHTTPCallDuringStart,
			fmt.Sprintf("%s called from %s: plugin start-up also runs in a throw-away canary clone of the VM and, for the base VM, on the main thread, so the response may reach a VM that is gone or never serves traffic", n.Function, cb.Function),
			"set a tick period in proxy_on_configure and make the call from proxy_on_tick (Go SDK: DispatchHttpCall from OnTick, not OnPluginStart)")
	case hasMap && requestCallbacks[cb.Function] && (mapType == abi.HttpResponseHeaders || mapType == abi.HttpResponseTrailers) &&
		(headerMapReads[name] || headerMapWrites[name]):
		report(FindingResponseMapInRequest,
			fmt.Sprintf("%s on %s from %s: the response does not exist yet while the request is processed, so Envoy answers BadArgument", n.Function, mapType, cb.Function),
			"read or change response headers in proxy_on_response_headers; keep what the request taught you in the stream context")
	case hasMap && responseCallbacks[cb.Function] && (mapType == abi.HttpRequestHeaders || mapType == abi.HttpRequestTrailers) && headerMapWrites[name]:
		report(FindingRequestMapAfterSent,
			fmt.Sprintf("%s on %s from %s: the request was already sent upstream, so the change has no effect", n.Function, mapType, cb.Function),
			"change request headers in proxy_on_request_headers (return StopIteration there if you must wait for something)")
	case hasMap && endCallbacks[cb.Function] && mapType <= abi.HttpResponseTrailers &&
		(headerMapWrites[name] || (cb.Function == "proxy_on_delete" && headerMapReads[name])):
		report(FindingMapAfterStreamEnd,
			fmt.Sprintf("%s on %s from %s: the stream has ended; headers can only be read (in proxy_on_log), not changed", n.Function, mapType, cb.Function),
			"make header changes while the stream runs; in proxy_on_log only read them")
	case (hasMap && (mapType == abi.HttpCallResponseHeaders || mapType == abi.HttpCallResponseTrailers) ||
		name == "proxy_get_buffer_bytes" && bufferArg(n, hf, abi.HttpCallResponseBody)) &&
		cb.Function != "proxy_on_http_call_response":
		report(FindingCallResponseOutside,
			fmt.Sprintf("%s for the HTTP call response from %s: the response maps and body exist only during proxy_on_http_call_response", n.Function, cb.Function),
			"read the call's response in proxy_on_http_call_response and keep what you need")
	case rootCallbacks[cb.Function] && !t.effective &&
		((hasMap && mapType <= abi.HttpResponseTrailers && (headerMapReads[name] || headerMapWrites[name])) ||
			streamControl[name] || (name == "proxy_get_buffer_bytes" || name == "proxy_set_buffer_bytes") && streamBuffer(n, hf)):
		report(FindingStreamCallFromRoot,
			fmt.Sprintf("%s from %s, which runs on the root context: without proxy_set_effective_context(<stream id>) first there is no stream to act on", n.Function, cb.Function),
			"call proxy_set_effective_context with the stream's context id first (the SDKs do this in their http-call callbacks), or act from the stream's own callbacks")
	}
}

// mapArg returns a header-map call's map type.
func mapArg(n *Call, hf *abi.HostFunc) (abi.MapType, bool) {
	if hf == nil || len(hf.Params) == 0 || hf.Params[0].Kind != abi.KindMapType || len(n.Args) == 0 {
		return 0, false
	}
	v, ok := wordValue(string(n.Args[0]), abi.I32)
	return abi.MapType(v), ok
}

func bufferArg(n *Call, hf *abi.HostFunc, want abi.BufferType) bool {
	if hf == nil || len(hf.Params) == 0 || hf.Params[0].Kind != abi.KindBufferType || len(n.Args) == 0 {
		return false
	}
	v, ok := wordValue(string(n.Args[0]), abi.I32)
	return ok && abi.BufferType(v) == want
}

// streamBuffer reports whether a buffer call names a stream's buffer.
func streamBuffer(n *Call, hf *abi.HostFunc) bool {
	for _, b := range [...]abi.BufferType{abi.HttpRequestBody, abi.HttpResponseBody, abi.DownstreamData, abi.UpstreamData} {
		if bufferArg(n, hf, b) {
			return true
		}
	}
	return false
}

// noteStatus remembers a failed status until the callback ends or the
// plugin logs a warning about it.
func (d *Decoder) noteStatus(t *threadState, n *Call) {
	if n.flagged || n.Status == "" || n.Status == "Ok" || !strings.HasPrefix(n.Function, "env.") {
		return
	}
	name := strings.TrimPrefix(n.Function, "env.")
	if expectedAbsence[name] == n.Status {
		return
	}
	if cb := t.callback(); cb != nil && len(cb.pending) < 64 {
		cb.pending = append(cb.pending, pendingStatus{line: n.Line, function: n.Function, status: n.Status})
	}
}

// callbackDone reports what only the end of a callback shows: statuses it
// ignored, and a stream left paused after a failed call.
func (d *Decoder) callbackDone(t *threadState, cb *Call) {
	if cb.Trapped || cb.Unreturned {
		// The plugin did not go on: what it ignored is moot.
		cb.pending = nil
		return
	}
	for _, p := range cb.pending {
		r := &Record{Line: p.line}
		d.finding(r, FindingIgnoredStatus, cb.Function, p.function, cb,
			fmt.Sprintf("%s returned %s in %s and the plugin went on without logging a warning or error", p.function, p.status, cb.Function),
			statusHint(p.function, p.status))
	}
	cb.pending = nil
	if !isPause(cb.Action) {
		return
	}
	var failed *Call
	for _, c := range cb.Children {
		name := strings.TrimPrefix(c.Function, "env.")
		switch {
		case outgoingCalls[name] && c.Status == "Ok", name == "proxy_send_local_response":
			return
		case outgoingCalls[name] && c.Status != "" && failed == nil:
			failed = c
		}
	}
	if failed != nil {
		r := &Record{Line: cb.EndLine}
		d.finding(r, FindingPausedAfterFailure, cb.Function, failed.Function, cb,
			fmt.Sprintf("%s returned %s after %s failed with %s (line %d): no response callback will resume the stream, so it hangs until the route timeout", cb.Function, cb.Action, failed.Function, failed.Status, failed.Line),
			"when the call fails, return Continue or send a local response; "+statusHint(failed.Function, failed.Status))
	}
}

func isPause(action string) bool {
	switch action {
	case "StopIteration", "StopAllIterationAndBuffer", "StopAllIterationAndWatermark",
		"StopIterationAndBuffer", "StopIterationAndWatermark", "StopIterationNoBuffer":
		return true
	}
	return false
}

// statusHint explains a failed status of a host call.
func statusHint(function, status string) string {
	name := strings.TrimPrefix(function, "env.")
	switch {
	case outgoingCalls[name] && status == "BadArgument":
		return "Envoy answers BadArgument to an http/gRPC call whose cluster is unknown or whose headers lack :method, :path or :authority"
	case status == "BadArgument":
		return "BadArgument usually means the map, buffer or stream does not exist in this callback"
	case status == "NotFound":
		return "NotFound means the key, property or call id does not exist"
	case status == "InternalFailure":
		return "InternalFailure can mean a capability_restriction_config denies the call"
	case status == "Unimplemented":
		return "this host does not implement the call"
	}
	return "check the status the host returned and handle it"
}

// finding emits a finding once per reason, callback and host function;
// repeats are only counted.
func (d *Decoder) finding(r *Record, reason, callback, function string, cb *Call, msg, hint string) {
	d.sum.FindingCounts[reason]++
	key := findingKey(reason, callback, function)
	d.occurrences[key]++
	if d.seen[key] {
		return
	}
	d.seen[key] = true
	d.sum.Findings++
	e := Event{Kind: KindFinding, Line: r.Line, Reason: reason, Callback: callback, Function: function, Message: msg, Hint: hint, Level: "warning"}
	if cb != nil {
		e.Thread, e.Origin = cb.Thread, cb.Origin
		if cb.HasContext {
			id := cb.ContextID
			e.ContextID = &id
		}
	}
	d.emit(e)
}

// signature is a known crash shape with its explanation and fix. All of
// Text must appear in the message (a plugin log, or a crash's message and
// panic text), all of Frames in some frame's function, and Callback, when
// set, must be the crashed callback.
type signature struct {
	ID          string
	Text        []string
	Frames      []string
	Callback    string
	CrashOnly   bool
	Explanation string
	Fix         string
}

// signatures are the crash shapes seen again and again in public issue
// trackers, matched against plugin logs and crash events.
var signatures = []signature{
	{
		ID:          "rust_sdk_non_utf8_header",
		Text:        []string{"FromUtf8Error"},
		Explanation: "the Rust SDK (proxy-wasm crate) decodes header and metadata maps into String and panics when a name or value is not valid UTF-8 (proxy-wasm-rust-sdk#25); any client can send such a header",
		Fix:         "use the _bytes variants (get_http_request_headers_bytes, get_http_request_header_bytes, …) or an SDK release that returns bytes",
	},
	{
		ID:          "rust_sdk_unexpected_status",
		Text:        []string{"panicked at", "unexpected status: "},
		Explanation: "the Rust SDK panics when a host call returns a status it does not expect, usually because the call is not allowed in the current callback (the map, buffer or stream does not exist there)",
		Fix:         "enable wasm:trace to see which host call failed just before, and move it to a callback where its map or buffer exists",
	},
	{
		ID:          "go_sdk_http_call_empty_response",
		Frames:      []string{"slicePanic", "getMap"},
		Callback:    "proxy_on_http_call_response",
		CrashOnly:   true,
		Explanation: "the TinyGo SDK (tetratelabs/proxy-wasm-go-sdk) slices an empty header map when an HTTP call gets no response (upstream unavailable, timeout), and panics in proxy_on_http_call_response (tetratelabs/proxy-wasm-go-sdk#217)",
		Fix:         "upgrade the SDK (fixed in tetratelabs/proxy-wasm-go-sdk#218) and check numHeaders == 0 in the response callback before reading headers",
	},
	{
		ID:          "go_sdk_http_call_empty_response",
		Text:        []string{"slice out of range"},
		Callback:    "proxy_on_http_call_response",
		CrashOnly:   true,
		Explanation: "the TinyGo SDK (tetratelabs/proxy-wasm-go-sdk) slices an empty header map when an HTTP call gets no response (upstream unavailable, timeout), and panics in proxy_on_http_call_response (tetratelabs/proxy-wasm-go-sdk#217)",
		Fix:         "upgrade the SDK (fixed in tetratelabs/proxy-wasm-go-sdk#218) and check numHeaders == 0 in the response callback before reading headers",
	},
	{
		ID:          "tinygo_invalid_context_id",
		Text:        []string{"invalid context id"},
		Explanation: "the Go SDK has no context registered under the id the host passed: the context was never created in this VM (an earlier trap in proxy_on_context_create, or a VM that was restarted after a crash while the host kept its streams)",
		Fix:         "look for an earlier crash on the same thread; fix it, and upgrade the SDK (tetratelabs/proxy-wasm-go-sdk#261)",
	},
	{
		ID:          "oom_gc_failed_to_expand_heap",
		Text:        []string{"GC Warning: Failed to expand heap"},
		Explanation: "the garbage-collected heap (TinyGo with a Boehm-style GC, e.g. nottinygc) could not grow: the VM is close to its memory limit, usually a leak or a body buffered whole",
		Fix:         "find what keeps growing (wasmdbg replay --repeat shows memory per request), buffer bodies in chunks, and avoid global caches that grow per request",
	},
	{
		ID:          "oom_heap_size",
		Text:        []string{"Out of Memory! Heap size"},
		Explanation: "the garbage-collected heap ran out of memory and the allocator returned NULL; the next allocation traps",
		Fix:         "find what keeps growing (wasmdbg replay --repeat shows memory per request), buffer bodies in chunks, and avoid global caches that grow per request",
	},
	{
		ID:          "oom_go_panic",
		Text:        []string{"out of memory"},
		Explanation: "the Go runtime could not allocate (panic: runtime error: out of memory / fatal error: out of memory): the VM reached its memory limit",
		Fix:         "find what keeps growing (wasmdbg replay --repeat shows memory per request); TinyGo's default GC never returns memory to the host",
	},
	{
		ID:          "oom_rust",
		Frames:      []string{"rust_oom"},
		CrashOnly:   true,
		Explanation: "the Rust allocator failed (alloc::alloc::handle_alloc_error → rust_oom): the VM reached its memory limit",
		Fix:         "find what keeps growing (wasmdbg replay --repeat shows memory per request) and avoid buffering whole bodies",
	},
	{
		ID:          "oom_rust",
		Text:        []string{"memory allocation of ", " failed"},
		Explanation: "the Rust allocator failed (\"memory allocation of N bytes failed\"): the VM reached its memory limit",
		Fix:         "find what keeps growing (wasmdbg replay --repeat shows memory per request) and avoid buffering whole bodies",
	},
	{
		// Checked first: the same ID, so the general entry below is then
		// not reported too.
		ID:          "restricted_callback_during_go_start",
		Text:        []string{"restricted_callback"},
		Frames:      []string{"runtime.exit"},
		CrashOnly:   true,
		Explanation: "the module is a WASI command (Go's GOOS=wasip1 default, or TinyGo 0.35 and later): when main returns, the runtime calls proc_exit, which the host refuses while the VM starts (restricted_callback), so the VM never starts",
		Fix:         "build a reactor: go build -buildmode=c-shared (Go 1.24+, GOOS=wasip1 GOARCH=wasm) or tinygo build -buildmode=c-shared; wasmdbg inspect says whether a build will load",
	},
	{
		ID:          "restricted_callback_during_go_start",
		Text:        []string{"restricted_callback"},
		CrashOnly:   true,
		Explanation: "a host call made while the VM starts (_start, _initialize, main: Go package init and main) was refused with restricted_callback; only logging, WASI basics and memory growth are allowed then",
		Fix:         "move the call out of init() and main() into OnVMStart/OnPluginStart (or proxy_on_vm_start / proxy_on_configure)",
	},
}

func findingKey(reason, callback, function string) string {
	return reason + "\x00" + callback + "\x00" + function
}

// Occurrences returns how many times the finding e stands for occurred
// (findings are emitted once per reason, callback and host function).
func (d *Decoder) Occurrences(e *Event) int {
	if e.Kind != KindFinding {
		return 0
	}
	if n := d.occurrences[findingKey(e.Reason, e.Callback, e.Function)]; n > 0 {
		return n
	}
	return d.occurrences[e.Reason]
}

// matchSignatures reports the known crash signatures an event shows. A
// crash's panic text was already matched as a plugin log, so only the
// signatures that need the crash (its callback or frames) look at it.
func (d *Decoder) matchSignatures(e Event, cb *Call) {
	var matched [4]string
	nm := 0
	for i := range signatures {
		s := &signatures[i]
		if slices.Contains(matched[:nm], s.ID) {
			continue
		}
		if s.CrashOnly && e.Kind != KindCrash {
			continue
		}
		text := e.Message
		if e.Kind == KindCrash && s.CrashOnly && e.PanicText != "" {
			text += "\n" + e.PanicText
		}
		if s.Callback != "" && e.Callback != s.Callback {
			continue
		}
		if !containsAll(text, s.Text) || !framesContain(e.Frames, s.Frames) {
			continue
		}
		callback := e.Callback
		if callback == "" && cb != nil {
			callback = cb.Function
		}
		if nm < len(matched) {
			matched[nm] = s.ID
			nm++
		}
		r := &Record{Line: e.Line}
		d.sum.FindingCounts[s.ID]++
		key := s.ID
		d.occurrences[key]++
		if d.seen[key] {
			continue
		}
		d.seen[key] = true
		d.sum.Findings++
		f := Event{Kind: KindFinding, Line: r.Line, Reason: s.ID, Callback: callback, Message: s.Explanation, Hint: s.Fix,
			Level: "warning", Thread: e.Thread, Origin: e.Origin, Time: e.Time}
		d.emit(f)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func framesContain(frames []Frame, subs []string) bool {
	for _, sub := range subs {
		found := false
		for _, f := range frames {
			if strings.Contains(f.Function, sub) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
