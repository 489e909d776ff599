package replay

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fiveStreams has five requests to the basic plugin; the second traps.
func fiveStreams(policy string) *Capture {
	c := &Capture{Version: 1, Plugin: PluginConfig{FailurePolicy: policy},
		Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond}}
	for i := 0; i < 5; i++ {
		r := req("GET", "/")
		if i == 1 {
			r = req("GET", "/", "x-crash", "yes")
		}
		c.Streams = append(c.Streams, CaptureStream{Kind: "http", Request: r, Response: ok200("")})
	}
	return c
}

// TestFailurePolicies: after a trap, fail_closed answers every later
// stream with Envoy's 503, fail_open lets them through without the
// filter, fail_reload starts a fresh VM for the next stream.
func TestFailurePolicies(t *testing.T) {
	m := compileFile(t, "testdata/wat/basic.wasm", Options{Timeout: time.Second})
	for _, tt := range []struct {
		policy  string
		outcome string // per stream: "p" plugin ran, "5" host 503, "o" open
		reloads int
	}{
		{"", "p555" + "5", 0},
		{"fail_closed", "p5555", 0},
		// The stream that trapped is failed under failure_policy
		// FAIL_OPEN too (cpp-host's fail_open_ is the deprecated
		// fail_open field; policy.go).
		{"fail_open", "p5oo" + "o", 0},
		{"fail_reload", "p5ppp", 1},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			_, _, res := run(t, m, fiveStreams(tt.policy), Quiet)
			var got strings.Builder
			for _, s := range res.Streams {
				switch {
				case s.LocalReply != nil && s.LocalReply.ByHost:
					got.WriteByte('5')
				case s.FailedOpen:
					got.WriteByte('o')
				default:
					got.WriteByte('p')
				}
			}
			if got.String() != tt.outcome || res.Reloads != tt.reloads || !res.Trapped {
				t.Errorf("streams %s, reloads %d, trapped %v; want %s, %d", got.String(), res.Reloads, res.Trapped, tt.outcome, tt.reloads)
			}
		})
	}
}

func TestABI010(t *testing.T) {
	m := compileFile(t, "testdata/wat/abi010.wasm", Options{Timeout: time.Second})
	c := fiveStreams("")
	c.Streams = c.Streams[:1]
	c.Plugin.Configuration = []byte("cfg-010")
	text, _, res := run(t, m, c, Trace)
	if !res.OK() {
		t.Fatalf("%s\n%s", res.verdict(), text)
	}
	for _, want := range []string{
		"[host->vm] proxy_on_request_headers(2, 5)\n",
		"wasm log: cfg-010",
		"[vm->host] env.proxy_continue_request()",
	} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("trace lacks %q:\n%s", want, text)
		}
	}
}
