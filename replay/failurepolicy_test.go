package replay

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/fixtures"
)

// policyCapture is five requests through the C++ fixture, the second of
// which traps; crashAt adds more trapping streams and at places streams in
// time (after the capture's start).
func policyCapture(crashAt map[int]bool, at map[int]time.Duration, n int) *Capture {
	var streams []CaptureStream
	for i := 1; i <= n; i++ {
		cs := CaptureStream{ID: fmt.Sprintf("s%d", i), Request: req("GET", fmt.Sprintf("/%d", i)), Response: ok200("ok")}
		if crashAt[i] {
			cs.Request = req("GET", fmt.Sprintf("/%d", i), "x-crash", "panic")
		}
		if d, ok := at[i]; ok {
			d := d
			cs.At = &d
		}
		streams = append(streams, cs)
	}
	return fixtureCapture("deny=x-deny", streams...)
}

// TestFailurePolicyStreams runs the policies over the C++ fixture and
// checks what Envoy's access log would say of each stream, the reload
// counters and the metrics, which survive a reload (they are stats in the
// proxy's store).
func TestFailurePolicyStreams(t *testing.T) {
	f, _ := fixtures.Get("cpp")
	m := fixtureModule(t, f)
	type want struct {
		code    int
		details string
		policy  string
		plugin  bool // the plugin's x-plugin response header is there
	}
	ok := want{200, "via_upstream", "", true}
	trapped := want{503, "wasm_fail_stream", "", false}
	for _, tt := range []struct {
		name     string
		policy   FailurePolicy // "" uses the capture's
		capture  string        // capture's failure_policy
		config   string        // the plugin's configuration, if not deny=x-deny
		crashAt  map[int]bool
		at       map[int]time.Duration
		n        int
		want     []want
		reloads  int
		stats    *ReloadStats
		requests uint64 // the counter after the replay (metrics survive reloads)
	}{
		{name: "default-fail-closed", n: 5, crashAt: map[int]bool{2: true},
			want:     []want{ok, trapped, {503, "wasm_fail_stream", PolicyFailed, false}, {503, "wasm_fail_stream", PolicyFailed, false}, {503, "wasm_fail_stream", PolicyFailed, false}},
			requests: 2},
		{name: "fail-closed", policy: FailClosed, capture: "fail_open", n: 5, crashAt: map[int]bool{2: true},
			want:     []want{ok, trapped, {503, "wasm_fail_stream", PolicyFailed, false}, {503, "wasm_fail_stream", PolicyFailed, false}, {503, "wasm_fail_stream", PolicyFailed, false}},
			requests: 2},
		// failure_policy FAIL_OPEN: the stream that trapped is still
		// failed (cpp-host's fail_open_ is false), later ones skip the
		// filter: no x-plugin header, no count.
		{name: "fail-open", policy: FailOpen, n: 5, crashAt: map[int]bool{2: true},
			want:     []want{ok, trapped, {200, "via_upstream", PolicySkipped, false}, {200, "via_upstream", PolicySkipped, false}, {200, "via_upstream", PolicySkipped, false}},
			requests: 2},
		{name: "fail-open-from-capture", capture: "fail_open", n: 5, crashAt: map[int]bool{2: true},
			want:     []want{ok, trapped, {200, "via_upstream", PolicySkipped, false}, {200, "via_upstream", PolicySkipped, false}, {200, "via_upstream", PolicySkipped, false}},
			requests: 2},
		{name: "fail-reload", policy: FailReload, n: 5, crashAt: map[int]bool{2: true},
			want:    []want{ok, trapped, {200, "via_upstream", PolicyReloaded, true}, ok, ok},
			reloads: 1, stats: &ReloadStats{Success: 1}, requests: 5},
		// A second trap within the backoff interval (1 s) of the reload:
		// the next stream is failed closed (VmReloadBackoff); one that
		// comes after the interval gets a new VM.
		{name: "fail-reload-backoff", capture: "fail_reload", n: 6, crashAt: map[int]bool{2: true, 4: true},
			at:      map[int]time.Duration{6: 3 * time.Second},
			want:    []want{ok, trapped, {200, "via_upstream", PolicyReloaded, true}, trapped, {503, "wasm_fail_stream", PolicyBackoff, false}, {200, "via_upstream", PolicyReloaded, true}},
			reloads: 2, stats: &ReloadStats{Success: 2, Backoff: 1}, requests: 5},
		// A VM that traps while it starts (crash=configure): every reload
		// fails the same way (vm_reload_failure), and the streams within
		// the backoff after a reload are failed without one.
		{name: "fail-reload-failure", policy: FailReload, config: "crash=configure", n: 3,
			at:      map[int]time.Duration{3: 2 * time.Second},
			want:    []want{{503, "wasm_fail_stream", PolicyReloadFailed, false}, {503, "wasm_fail_stream", PolicyBackoff, false}, {503, "wasm_fail_stream", PolicyReloadFailed, false}},
			reloads: 2, stats: &ReloadStats{Failure: 2, Backoff: 1}, requests: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := policyCapture(tt.crashAt, tt.at, tt.n)
			c.Plugin.FailurePolicy = tt.capture
			if tt.config != "" {
				c.Plugin.Configuration = []byte(tt.config)
			}
			ro := RunOptions{Verbosity: Quiet, FailurePolicy: tt.policy}
			_, _, res := runWith(t, m, c, ro)
			if len(res.Streams) != len(tt.want) {
				t.Fatalf("%d streams, want %d", len(res.Streams), len(tt.want))
			}
			for i, w := range tt.want {
				s := res.Streams[i]
				e := s.Access()
				got := want{e.ResponseCode, e.Details, s.Policy, s.Response != nil && hasPair(s.Response.Headers, Header{"x-plugin", "cpp"})}
				if got != w {
					t.Errorf("stream %d: %+v, want %+v", i+1, got, w)
				}
				if s.Trapped != tt.crashAt[i+1] && tt.config == "" {
					t.Errorf("stream %d: trapped %v", i+1, s.Trapped)
				}
			}
			if res.Reloads != tt.reloads {
				t.Errorf("%d reloads, want %d", res.Reloads, tt.reloads)
			}
			if (res.ReloadStats == nil) != (tt.stats == nil) || tt.stats != nil && *res.ReloadStats != *tt.stats {
				t.Errorf("reload stats %+v, want %+v", res.ReloadStats, tt.stats)
			}
			if tt.requests > 0 && (len(res.Metrics) != 1 || res.Metrics[0].Value != tt.requests) {
				t.Errorf("metrics %+v, want cpp_requests_total = %d", res.Metrics, tt.requests)
			}
			if !res.Trapped {
				t.Error("the replay does not report the trap")
			}
			var sum bytes.Buffer
			res.WriteSummary(&sum)
			golden(t, "policy-"+tt.name+".txt", sum.Bytes())
		})
	}
}

func TestParseFailurePolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want FailurePolicy
	}{
		{"fail-closed", FailClosed}, {"fail_open", FailOpen}, {"FAIL_RELOAD", FailReload}, {"UNSPECIFIED", FailClosed},
	} {
		got, err := ParseFailurePolicy(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseFailurePolicy(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	_, err := ParseFailurePolicy("retry")
	if want := `unknown failure policy "retry" (want fail-closed, fail-open or fail-reload)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestAccessLogLine checks the rendered access-log line of each outcome.
func TestAccessLogLine(t *testing.T) {
	info := &StreamInfo{StartTime: defaultStart.UnixNano(), Protocol: "HTTP/2"}
	for _, tt := range []struct {
		st   Stream
		want string
	}{
		{Stream{Kind: "http", Method: "POST", Path: "/p", Response: &Message{Headers: []Header{{":status", "201"}}, Body: "done"}},
			`[2024-01-01T00:00:00.000Z] "POST /p HTTP/2" 201 - via_upstream 3 4`},
		{Stream{Kind: "http", Method: "GET", Path: "/", LocalReply: &LocalReply{Status: 403, Details: "denied_by_cpp"}, Response: &Message{Body: "denied"}},
			`[2024-01-01T00:00:00.000Z] "GET / HTTP/2" 403 - denied_by_cpp 3 6`},
		{Stream{Kind: "http", Method: "GET", Path: "/", LocalReply: &LocalReply{Status: 418}},
			`[2024-01-01T00:00:00.000Z] "GET / HTTP/2" 418 - - 3 0`},
		{Stream{Kind: "http", Method: "GET", Path: "/", Reset: "wasm_close_stream"},
			`[2024-01-01T00:00:00.000Z] "GET / HTTP/2" 0 - wasm_close_stream 3 0`},
		{Stream{Kind: "tcp", DownstreamForwarded: 8, UpstreamForwarded: 7, Closed: "connection closed"},
			`[2024-01-01T00:00:00.000Z] "- - -" 0 - - 8 7`},
		{Stream{Kind: "tcp", Closed: "wasm_fail_stream"},
			`[2024-01-01T00:00:00.000Z] "- - -" 0 - wasm_fail_stream 0 0`},
	} {
		st := tt.st
		st.info = info
		if st.Kind == "http" {
			st.bytesReceived = 3
		}
		if got := accessLogEntry(&st).String(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
	if got := accessLogEntry(&Stream{Kind: "http"}).String(); got != `[] "- - -" 0 - - 0 0` {
		t.Errorf("a stream without info: %s", got)
	}
}
