package serve

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/replay"
)

// BenchmarkThroughput is requests per second from 8 keep-alive
// connections to an upstream on loopback, reached directly and through
// serve with the C fixture (the simple header-checking plugin) on one and
// two workers: the ratio is what the plugin and the host add.
// scripts/bench/serve.sh prints it.
func BenchmarkThroughput(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("content-type", "text/plain")
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	f, _ := fixtures.Get("c")
	wasm, err := f.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	m, err := replay.Compile(context.Background(), wasm, replay.Options{Timeout: replay.DefaultTimeout, CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	target := func(b *testing.B, workers int) (string, func()) {
		if workers == 0 {
			return up.URL, func() {}
		}
		u, _ := url.Parse(up.URL)
		srv, err := New(context.Background(), Options{Module: m, Capture: testCapture("deny=x-deny"), Upstream: u,
			Workers: workers, Run: replay.RunOptions{Verbosity: replay.Quiet}})
		if err != nil {
			b.Fatal(err)
		}
		front := httptest.NewServer(srv)
		return front.URL, func() { front.Close(); srv.Close() }
	}
	for _, bc := range []struct {
		name    string
		workers int
	}{{"direct", 0}, {"serve-1-worker", 1}, {"serve-2-workers", 2}, {"serve-8-workers", 8}} {
		b.Run(bc.name, func(b *testing.B) {
			base, stop := target(b, bc.workers)
			defer stop()
			tr := &http.Transport{MaxIdleConnsPerHost: 8, MaxConnsPerHost: 8}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.SetParallelism(max(1, 8/testingProcs()))
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", base+"/api/items", nil)
					req.Header.Set("user-agent", "bench")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// testingProcs is GOMAXPROCS, which RunParallel multiplies its
// parallelism by.
func testingProcs() int { return runtime.GOMAXPROCS(0) }
