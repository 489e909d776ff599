package tui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// writeTrace writes an Envoy log with the wasm:trace stream on: four
// worker threads whose requests interleave, each going through context
// creation, request headers (host calls, a plugin log), response headers,
// the access log and destruction, as Envoy orders them (reference §9.5),
// with a failed status now and then; and at the end a crash with its
// backtrace. Every line is one event; it stops after at least n lines.
func writeTrace(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	t := time.Date(2024, 3, 8, 8, 16, 46, 0, time.UTC)
	lines := 0
	line := func(tid int, level, logger, src, msg string) {
		t = t.Add(37 * time.Microsecond)
		fmt.Fprintf(bw, "[%s][%d][%s][%s] [%s] %s\n", t.Format("2006-01-02 15:04:05.000"), tid, level, logger, src, msg)
		lines++
	}
	const vm = "source/extensions/common/wasm/wasm_vm.cc:39"
	const ctxcc = "source/extensions/common/wasm/context.cc:1157"
	trace := func(tid int, msg string) { line(tid, "trace", "wasm", vm, msg) }
	type req struct {
		ctx   int
		steps []func(tid int)
	}
	next := 2
	newReq := func() *req {
		c := next
		next++
		r := &req{ctx: c}
		hostCall := func(fn, args, ret string) func(int) {
			return func(tid int) {
				trace(tid, fmt.Sprintf("[vm->host] env.%s(%s)", fn, args))
				trace(tid, fmt.Sprintf("[vm<-host] env.%s return: %s", fn, ret))
			}
		}
		status := "0"
		if c%7 == 0 {
			status = "1" // NotFound
		}
		r.steps = []func(int){
			func(tid int) { trace(tid, fmt.Sprintf("[host->vm] proxy_on_context_create(%d, 1)", c)) },
			func(tid int) { trace(tid, "[host<-vm] proxy_on_context_create return: void") },
			func(tid int) { trace(tid, fmt.Sprintf("[host->vm] proxy_on_request_headers(%d, 7, 1)", c)) },
			hostCall("proxy_increment_metric", "4, 1", "0"),
			hostCall("proxy_get_header_map_value", "0, 1052300, 6, 1052310, 1052314", status),
			hostCall("proxy_get_header_map_value", "0, 1052320, 8, 1052330, 1052334", "0"),
			func(tid int) {
				line(tid, "info", "wasm", ctxcc, fmt.Sprintf("wasm log my_plugin my_root_id my_vm_id: request %d to /cart", c))
			},
			func(tid int) { trace(tid, "[host<-vm] proxy_on_request_headers return: 0") },
			func(tid int) { trace(tid, fmt.Sprintf("[host->vm] proxy_on_response_headers(%d, 5, 0)", c)) },
			hostCall("proxy_add_header_map_value", "2, 1052400, 8, 1052410, 3", "0"),
			func(tid int) { trace(tid, "[host<-vm] proxy_on_response_headers return: 0") },
			func(tid int) { trace(tid, fmt.Sprintf("[host->vm] proxy_on_log(%d)", c)) },
			func(tid int) { trace(tid, "[host<-vm] proxy_on_log return: void") },
			func(tid int) { trace(tid, fmt.Sprintf("[host->vm] proxy_on_done(%d)", c)) },
			func(tid int) { trace(tid, "[host<-vm] proxy_on_done return: 1") },
			func(tid int) { trace(tid, fmt.Sprintf("[host->vm] proxy_on_delete(%d)", c)) },
			func(tid int) { trace(tid, "[host<-vm] proxy_on_delete return: void") },
		}
		return r
	}
	workers := make([]*req, 4)
	for i := 0; lines < n; i++ {
		k := (i * 7 / 3) % len(workers)
		if workers[k] == nil || len(workers[k].steps) == 0 {
			workers[k] = newReq()
		}
		for j := 0; j < 3 && len(workers[k].steps) > 0; j++ {
			workers[k].steps[0](20 + k)
			workers[k].steps = workers[k].steps[1:]
		}
	}
	tid := 20
	trace(tid, "[host->vm] proxy_on_request_headers(9999999, 7, 1)")
	line(tid, "error", "wasm", "source/extensions/common/wasm/wasm_vm.cc:38",
		"Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n"+
			"  0:  0x5fc7 - abort\n  1:  0x1515 - plugin::crash::panic(proxy::View)\n  2:  0x16c7 - plugin::crash::strike(plugin::crash::Mode)")
	return bw.Flush()
}

var (
	traceOnce sync.Once
	tracePath string
	traceErr  error
)

// millionTrace writes the 1,000,000-event trace once per test binary.
func millionTrace(b *testing.B) string {
	traceOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmdbg-tui-bench")
		if err != nil {
			traceErr = err
			return
		}
		tracePath = filepath.Join(dir, "trace-1m.log")
		f, err := os.Create(tracePath)
		if err != nil {
			traceErr = err
			return
		}
		traceErr = writeTrace(f, 1_000_000)
		if err := f.Close(); traceErr == nil {
			traceErr = err
		}
	})
	if traceErr != nil {
		b.Fatal(traceErr)
	}
	return tracePath
}

// heapSampler records the largest live heap while it runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	peak uint64
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(h.done)
		for {
			metrics.Read(s)
			h.peak = max(h.peak, s[0].Value.Uint64())
			select {
			case <-h.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return h
}

func (h *heapSampler) end() uint64 {
	close(h.stop)
	<-h.done
	return h.peak
}

// BenchmarkLoadMillion loads a generated 1,000,000-event trace into the
// UI as `wasmdbg tui` does, commands run in order, and reports the time to
// the first rendered frame, the time to the whole file, and the peak live
// heap against the file's size.
func BenchmarkLoadMillion(b *testing.B) {
	path := millionTrace(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	var first, total time.Duration
	var peak, kept uint64
	var events int
	for i := 0; i < b.N; i++ {
		runtime.GC()
		h := sampleHeap()
		start := time.Now()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		src := NewFileSource(path, f, FileOptions{Closer: f})
		m := New(src, Options{View: "timeline"})
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		queue := []tea.Cmd{m.Init()}
		rendered := false
		for len(queue) > 0 {
			c := queue[0]
			queue = queue[1:]
			if c == nil {
				continue
			}
			switch msg := c().(type) {
			case nil:
			case tea.BatchMsg:
				queue = append(queue, msg...)
			default:
				_, next := m.Update(msg)
				queue = append(queue, next)
				if _, ok := msg.(batchMsg); ok && !rendered && m.st.rows.len() > 0 {
					_ = m.View()
					first += time.Since(start)
					rendered = true
				}
			}
		}
		_ = m.View()
		total += time.Since(start)
		peak = max(peak, h.end())
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		kept = ms.HeapAlloc
		events = m.st.rows.len()
		if m.srcErr != "" || len(m.st.crashes) != 1 {
			b.Fatalf("load: error %q, %d crashes", m.srcErr, len(m.st.crashes))
		}
		src.Close()
		runtime.KeepAlive(m)
	}
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-frame-ms")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "load-ms")
	b.ReportMetric(float64(events), "events")
	b.ReportMetric(float64(fi.Size())/1e6, "input-MB")
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(kept)/1e6, "kept-heap-MB")
}

// loadedMillion is a model with the million events loaded.
func loadedMillion(b *testing.B) *Model {
	path := millionTrace(b)
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	src := NewFileSource(path, f, FileOptions{Closer: f})
	b.Cleanup(func() { src.Close() })
	m := New(src, Options{View: "timeline"})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	for {
		bt, err := src.Next(context.Background())
		if err != nil {
			break
		}
		m.Update(batchMsg{b: bt})
	}
	return m
}

// BenchmarkViewMillion renders a screen of each list view over a million
// events: only the visible rows are built.
func BenchmarkViewMillion(b *testing.B) {
	m := loadedMillion(b)
	for _, v := range []string{"2", "3"} {
		m.Update(keyMsg(v))
		m.Update(keyMsg("end"))
		b.Run(viewNames[m.view], func(b *testing.B) {
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Update(keyMsg("up"))
				_ = m.View()
			}
		})
	}
}

// BenchmarkSearchMillion searches the million-event timeline for a string
// found once, near the end: the whole scan, which the UI runs in steps of
// searchStep items between frames.
func BenchmarkSearchMillion(b *testing.B) {
	m := loadedMillion(b)
	m.Update(keyMsg("2"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.timeline.cur = cursor{}
		for cmd := m.startSearch("9999999"); cmd != nil; {
			_, cmd = m.Update(cmd())
		}
		if s := m.search[viewTimeline]; len(s.matches) != 1 {
			b.Fatalf("%d matches", len(s.matches))
		}
	}
}

// TestMain removes the generated million-event trace after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if tracePath != "" {
		os.RemoveAll(filepath.Dir(tracePath))
	}
	os.Exit(code)
}
