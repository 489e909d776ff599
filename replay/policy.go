package replay

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// FailurePolicy is what Envoy does with the streams that come after the
// plugin's VM failed: PluginConfig.failure_policy
// (envoy/extensions/wasm/v3/wasm.proto, Envoy 1.33+), applied by
// PluginConfig::createContext and maybeReloadHandleIfNeeded
// (source/extensions/common/wasm/wasm.cc), on top of proxy-wasm-cpp-host's
// per-callback checks (src/context.cc CHECK_FAIL). Reference:
// shared/reference/envoy-formats.md §4.
type FailurePolicy string

const (
	// FailClosed (Envoy's default, and what UNSPECIFIED means): every
	// later stream gets a local 503 with details wasm_fail_stream; the
	// failed VM is never called again.
	FailClosed FailurePolicy = "fail_closed"
	// FailOpen: later streams go through without the filter. The stream
	// the VM fails in is still failed with the 503: cpp-host lets a stream
	// continue only for the deprecated fail_open: true, which Envoy's
	// Plugin passes as fail_open_, not for failure_policy FAIL_OPEN.
	FailOpen FailurePolicy = "fail_open"
	// FailReload: the next stream gets a fresh VM (a clone of the base VM,
	// started again), at most once per backoff interval; a stream inside
	// the interval is failed closed (stat VmReloadBackoff). Only traps
	// (cpp-host FailState::RuntimeError) are reloaded; a VM that failed
	// to start stays failed, as with FailClosed.
	FailReload FailurePolicy = "fail_reload"
)

// FailurePolicies lists the policies in the spelling captures use.
var FailurePolicies = []FailurePolicy{FailClosed, FailOpen, FailReload}

// DefaultReloadBackoff is ReloadConfig.backoff.base_interval when the
// configuration gives none (wasm.cc: PROTOBUF_GET_MS_OR_DEFAULT(…, 1000)).
const DefaultReloadBackoff = time.Second

// ParseFailurePolicy reads a policy written as the CLI (fail-open), a
// capture (fail_open) or Envoy's API (FAIL_OPEN) spells it.
func ParseFailurePolicy(s string) (FailurePolicy, error) {
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	for _, p := range FailurePolicies {
		if string(p) == norm {
			return p, nil
		}
	}
	if norm == "unspecified" {
		return FailClosed, nil
	}
	return "", fmt.Errorf("unknown failure policy %q (want fail-closed, fail-open or fail-reload)", s)
}

// ReloadStats are Envoy's FAIL_RELOAD counters for the plugin:
// wasm.<plugin name>.vm_reload_backoff, vm_reload_success and
// vm_reload_failure (stats_handler.h WasmEvent VmReloadBackoff, …).
type ReloadStats struct {
	Backoff int `json:"vm_reload_backoff"`
	Success int `json:"vm_reload_success"`
	Failure int `json:"vm_reload_failure"`
}

// policyState is the runner's failure-policy state: Envoy's
// PluginHandleSharedPtrThreadLocal last_load and the backoff.
type policyState struct {
	policy  FailurePolicy
	backoff time.Duration
	// loaded is set once a reload happened; before that the VM is taken
	// to have been loaded long before the capture's first stream (a proxy
	// loads its plugins when it takes its configuration, not when traffic
	// arrives), so the first reload is never held back.
	loaded   bool
	lastLoad int64 // virtual Unix nanoseconds of the last reload
	stats    ReloadStats
}

// Values of Stream.Policy: what the failure policy did before the stream.
const (
	PolicyReloaded     = "vm_reload_success"
	PolicyReloadFailed = "vm_reload_failure"
	PolicyBackoff      = "vm_reload_backoff"
	PolicySkipped      = "filter_skipped"
	PolicyFailed       = "failed_closed"
)

// initPolicy settles the policy: RunOptions, else the capture's, else
// Envoy's default.
func (r *runner) initPolicy() {
	p := r.ro.FailurePolicy
	if p == "" {
		p = FailurePolicy(r.capture.Plugin.FailurePolicy)
	}
	if p == "" {
		p = FailClosed
	}
	r.policy.policy = p
	r.policy.backoff = r.ro.ReloadBackoff
	if r.policy.backoff <= 0 {
		r.policy.backoff = DefaultReloadBackoff
	}
}

// failOpen reports whether Envoy leaves the filter out of the chain of a
// stream that starts after the VM failed (createContext returns nullptr).
func (r *runner) failOpen() bool { return r.policy.policy == FailOpen }

// failOpenInCallback is cpp-host's plugin_->fail_open_, which decides what
// CHECK_FAIL does inside the stream the VM fails in. Envoy's Plugin sets it
// from the deprecated fail_open field only (plugin.h), so under every
// failure_policy the stream that trapped gets the 503.
func (r *runner) failOpenInCallback() bool { return false }

// beforeStream is maybeReloadHandleIfNeeded: under FailReload, a VM that
// trapped is replaced by a fresh one unless the last reload was less than
// the backoff interval ago (virtual clock; Envoy's jitter, up to half the
// interval more, is left out so that replays stay deterministic).
func (r *runner) beforeStream() (string, error) {
	vm := r.vm
	if !vm.failed || r.policy.policy != FailReload || vm.crash == nil {
		return "", nil
	}
	now := r.clock.UnixNano()
	if r.policy.loaded && now-r.policy.lastLoad < int64(r.policy.backoff) {
		r.policy.stats.Backoff++
		return PolicyBackoff, nil
	}
	r.policy.loaded, r.policy.lastLoad = true, now
	if err := r.startVM(); err != nil {
		return "", err
	}
	r.res.Reloads++
	if r.vm.failed {
		r.policy.stats.Failure++
		return PolicyReloadFailed, nil
	}
	r.policy.stats.Success++
	return PolicyReloaded, nil
}

// afterStream records what the policy did for the stream and the stream's
// access-log entry.
func (r *runner) afterStream(cs *CaptureStream, st *Stream, verdict string) {
	switch {
	case verdict != "":
		st.Policy = verdict
	case st.FailedOpen:
		st.Policy = PolicySkipped
	case r.vm.failed && !st.Trapped && st.LocalReply != nil && st.LocalReply.ByHost || st.Closed == "wasm_fail_stream" && !st.Trapped:
		st.Policy = PolicyFailed
	}
	if r.policy.stats != (ReloadStats{}) {
		stats := r.policy.stats
		r.res.ReloadStats = &stats
	}
	r.res.FailurePolicy = r.policy.policy
	// The access-log entry is built when it is printed (Access); here only
	// what it needs of the capture, without allocating.
	if cs.Request != nil {
		for _, c := range cs.Request.Body {
			st.bytesReceived += len(c.Data)
		}
	}
}

// Access is the stream's access-log entry, built on first use.
func (st *Stream) Access() *AccessLogEntry {
	if st.AccessLog == nil {
		st.AccessLog = accessLogEntry(st)
	}
	return st.AccessLog
}

// AccessLogEntry is a stream as Envoy's access log records it: the fields
// of Istio's default format that a replay knows.
type AccessLogEntry struct {
	StartTime string `json:"start_time"`
	// Method, Path and Protocol are "-" for TCP, as Envoy prints them.
	Method   string `json:"method"`
	Path     string `json:"path"`
	Protocol string `json:"protocol"`
	// ResponseCode is 0 when no response was sent (a reset, a stall, TCP).
	ResponseCode int `json:"response_code"`
	// ResponseFlags is "-": none of the paths a plugin or its failure
	// takes sets one (sendLocalReply and resetStream from a filter don't).
	ResponseFlags string `json:"response_flags"`
	// Details is %RESPONSE_CODE_DETAILS% (HTTP: via_upstream, the
	// plugin's local-reply details, wasm_fail_stream, wasm_close_stream)
	// or %CONNECTION_TERMINATION_DETAILS% (TCP), "-" when none.
	Details       string `json:"response_code_details"`
	BytesReceived int    `json:"bytes_received"`
	BytesSent     int    `json:"bytes_sent"`
}

// String renders the entry in Istio's default text format, cut after the
// fields replay knows: [%START_TIME%] "%REQ(:METHOD)% %REQ(:PATH)%
// %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%
// %BYTES_RECEIVED% %BYTES_SENT%.
func (e *AccessLogEntry) String() string {
	return fmt.Sprintf("[%s] \"%s %s %s\" %d %s %s %d %d", e.StartTime, e.Method, e.Path, e.Protocol,
		e.ResponseCode, e.ResponseFlags, e.Details, e.BytesReceived, e.BytesSent)
}

func accessLogEntry(st *Stream) *AccessLogEntry {
	e := &AccessLogEntry{Method: "-", Path: "-", Protocol: "-", ResponseFlags: "-", Details: "-"}
	if info := st.info; info != nil {
		e.StartTime = time.Unix(0, info.StartTime).UTC().Format("2006-01-02T15:04:05.000Z")
		if st.Kind != "tcp" {
			e.Protocol = info.Protocol
		}
	}
	if st.Kind == "tcp" {
		e.BytesReceived, e.BytesSent = st.DownstreamForwarded, st.UpstreamForwarded
		if strings.HasPrefix(st.Closed, "wasm_") { // closed by the plugin or its failure
			e.Details = st.Closed
		}
		return e
	}
	e.Method, e.Path = orDash(st.Method), orDash(st.Path)
	e.BytesReceived = st.bytesReceived
	switch {
	case st.Reset != "":
		e.Details = st.Reset
		return e
	case st.LocalReply != nil:
		e.ResponseCode = int(st.LocalReply.Status)
		e.Details = orDash(st.LocalReply.Details)
	case st.Response != nil:
		e.ResponseCode, _ = strconv.Atoi(st.Response.Status())
		e.Details = "via_upstream"
	}
	if st.Response != nil {
		e.BytesSent = len(st.Response.Body)
	}
	return e
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// policyText says in words what the failure policy did to a stream, for
// the summary; "" when it did nothing.
func policyText(s *Stream) string {
	switch s.Policy {
	case PolicyReloaded:
		return "fail_reload: a new VM was started for this stream (vm_reload_success)"
	case PolicyReloadFailed:
		return "fail_reload: the new VM failed to start; the stream was failed closed (vm_reload_failure)"
	case PolicyBackoff:
		return "fail_reload: the VM failed less than the backoff interval after the last reload; the stream was failed closed (vm_reload_backoff)"
	case PolicySkipped:
		return "the VM had failed; the stream went through without the filter (fail_open)"
	case PolicyFailed:
		return "the VM had failed; the host failed the stream without calling the plugin (fail_closed)"
	}
	return ""
}

// writePolicy writes the summary's access log and failure-policy lines.
func (r *Result) writePolicy(w io.Writer) {
	if len(r.Streams) > 0 {
		fmt.Fprintln(w, "access log (Istio's default format, the fields a replay knows):")
		for _, s := range r.Streams {
			fmt.Fprintf(w, "  %s\n", s.Access())
		}
	}
	traps := 0
	for _, s := range r.Streams {
		if s.Trapped {
			traps++
		}
	}
	if traps > 1 {
		fmt.Fprintf(w, "the plugin trapped in %d streams; the first trap is shown above, every one in the output\n", traps)
	}
	if st := r.ReloadStats; st != nil {
		fmt.Fprintf(w, "failure policy %s: vm_reload_success %d, vm_reload_failure %d, vm_reload_backoff %d\n",
			r.FailurePolicy, st.Success, st.Failure, st.Backoff)
	}
}

// mergeMetrics adds the metrics of a VM that is being replaced to those
// already gathered: Envoy's custom metrics are stats in the proxy's store,
// found by name, so a reloaded VM that defines the same metric keeps
// counting where the failed one stopped. Counters and histograms add up, a
// gauge takes the later value.
func mergeMetrics(into, from []Metric) []Metric {
	for _, m := range from {
		found := false
		for i := range into {
			if into[i].Name != m.Name || into[i].Type != m.Type {
				continue
			}
			found = true
			switch m.Kind {
			case "Gauge":
				into[i].Value = m.Value
			default:
				into[i].Value += m.Value
				into[i].Values = append(into[i].Values, m.Values...)
			}
		}
		if !found {
			into = append(into, m)
		}
	}
	return into
}
