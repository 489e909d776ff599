package replay

import (
	"context"
	"testing"
	"time"
)

// Benchmarks of the production-conditions features (scripts/bench/serve.sh
// prints their ratios): a whole Replay of many identical streams (the
// per-request path through runStream: clock, failure policy, access log),
// and the price of --cpuprofile's function listeners.

// BenchmarkReplayCapture replays a capture of 1,000 benchRequest streams
// per iteration, without events; cpu-ns/stream is the cost of one.
func BenchmarkReplayCapture(b *testing.B) {
	const streams = 1000
	for _, name := range []string{"c", "cpp"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			m, err := Compile(ctx, benchWasm(b, name), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(ctx)
			c := &Capture{Version: 1, Plugin: PluginConfig{RootID: "wasmdbg", Configuration: []byte("deny=x-deny")},
				Host: HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond}}
			for i := 0; i < streams; i++ {
				c.Streams = append(c.Streams, benchRequest())
			}
			b.ResetTimer()
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				res, err := Replay(ctx, m, c, RunOptions{})
				if err != nil || !res.OK() {
					b.Fatalf("replay: %v", err)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N*streams), "cpu-ns/stream")
		})
	}
}

// BenchmarkProfiledRequest is BenchmarkReplayRequest with the module
// compiled for --cpuprofile (every function call goes through a listener).
func BenchmarkProfiledRequest(b *testing.B) {
	for _, name := range []string{"c", "cpp", "rust"} {
		b.Run(name, func(b *testing.B) {
			one := replayLoop(b, benchWasm(b, name), Options{Profile: true})
			loop(b, func(int) { one() })
		})
	}
}
