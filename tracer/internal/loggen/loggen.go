// Package loggen writes realistic Envoy logs with the wasm:trace stream
// enabled, for benchmarks and memory tests: several worker threads whose
// requests interleave, each request going through the Proxy-Wasm callbacks
// in Envoy's order (reference/envoy-formats.md §9.5) with the host calls a
// typical header-rewriting plugin makes, plugin logs, failed statuses, and
// other Envoy loggers' lines in between. The output is deterministic for a
// seed.
package loggen

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Options shape the generated log.
type Options struct {
	Lines   int   // stop after this many lines (at least)
	Seed    int64 // random seed
	Threads int   // worker threads (default 4)
}

type worker struct {
	tid     int
	nextCtx int
	pending []line // lines of the current request still to print
}

// Write writes at least opts.Lines lines to w.
func Write(w io.Writer, opts Options) error {
	if opts.Threads <= 0 {
		opts.Threads = 4
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15))
	now := time.Date(2024, 3, 8, 8, 16, 46, 0, time.UTC)
	workers := make([]*worker, opts.Threads)
	for i := range workers {
		workers[i] = &worker{tid: 20 + i, nextCtx: 2}
	}
	g := &gen{rng: rng}
	n := 0
	// The start-up sequence on the main thread.
	for _, l := range g.startup(1) {
		g.writeLine(bw, now, 1, l)
		n++
	}
	for n < opts.Lines {
		wk := workers[rng.IntN(len(workers))]
		if len(wk.pending) == 0 {
			wk.pending = g.request(wk)
		}
		// A worker prints a few lines before another one interleaves.
		burst := 1 + rng.IntN(6)
		for i := 0; i < burst && len(wk.pending) > 0; i++ {
			now = now.Add(time.Duration(20+rng.IntN(400)) * time.Microsecond)
			g.writeLine(bw, now, wk.tid, wk.pending[0])
			wk.pending = wk.pending[1:]
			n++
		}
	}
	return bw.Flush()
}

type gen struct {
	rng *rand.Rand
	buf []byte
}

// A line is a level, a logger, a location and a message.
type line struct {
	level, logger, where string
	msg                  string
}

const (
	vmCC      = "source/extensions/common/wasm/wasm_vm.cc:39"
	contextCC = "source/extensions/common/wasm/context.cc:1157"
)

func (g *gen) writeLine(w *bufio.Writer, t time.Time, tid int, l line) {
	b := g.buf[:0]
	b = append(b, '[')
	b = t.AppendFormat(b, "2006-01-02 15:04:05.000")
	b = append(b, "]["...)
	b = strconv.AppendInt(b, int64(tid), 10)
	b = append(b, "]["...)
	b = append(b, l.level...)
	b = append(b, "]["...)
	b = append(b, l.logger...)
	b = append(b, "] ["...)
	b = append(b, l.where...)
	b = append(b, "] "...)
	b = append(b, l.msg...)
	b = append(b, '\n')
	g.buf = b
	w.Write(b)
}

func trace(msg string) line { return line{"trace", "wasm", vmCC, msg} }

func (g *gen) ptr() string { return strconv.Itoa(65536 + 8*g.rng.IntN(200000)) }

// call renders a host call and its return.
func (g *gen) call(name string, ret string, args ...string) []line {
	a := ""
	for i, s := range args {
		if i > 0 {
			a += ", "
		}
		a += s
	}
	return []line{
		trace("[vm->host] env." + name + "(" + a + ")"),
		trace("[vm<-host] env." + name + " return: " + ret),
	}
}

func (g *gen) callback(name string, ret string, args []string, body []line) []line {
	a := ""
	for i, s := range args {
		if i > 0 {
			a += ", "
		}
		a += s
	}
	out := []line{trace("[host->vm] " + name + "(" + a + ")")}
	out = append(out, body...)
	return append(out, trace("[host<-vm] "+name+" return: "+ret))
}

func (g *gen) startup(tid int) []line {
	var out []line
	out = append(out, line{"info", "main", "source/server/server.cc:435", "initializing epoch 0 (base id=0, hot restart version=11.104)"})
	out = append(out, g.callback("_initialize", "void", nil, nil)...)
	out = append(out, g.callback("proxy_on_context_create", "void", []string{"1", "0"}, nil)...)
	out = append(out, g.callback("proxy_on_vm_start", "1", []string{"1", "0"},
		g.call("proxy_log", "0", "2", g.ptr(), "24"))...)
	out = append(out, line{"info", "wasm", contextCC, "wasm log bench-plugin: plugin vm started"})
	out = append(out, g.callback("proxy_on_configure", "1", []string{"1", "42"},
		append(g.call("proxy_get_buffer_bytes", "0", "7", "0", "42", g.ptr(), g.ptr()),
			g.call("proxy_define_metric", "0", "0", g.ptr(), "22", g.ptr())...))...)
	return out
}

// request renders one HTTP request through the plugin.
func (g *gen) request(wk *worker) []line {
	ctx := strconv.Itoa(wk.nextCtx)
	wk.nextCtx++
	var out []line
	out = append(out, line{"debug", "http", "source/common/http/conn_manager_impl.cc:391", "[C" + ctx + "] new stream"})
	out = append(out, g.callback("proxy_on_context_create", "void", []string{ctx, "1"}, nil)...)
	var body []line
	body = append(body, g.call("proxy_increment_metric", "0", "4", "1")...)
	for i := 0; i < 2+g.rng.IntN(3); i++ {
		ret := "0"
		if g.rng.IntN(10) == 0 {
			ret = "1" // NotFound
		}
		body = append(body, g.call("proxy_get_header_map_value", ret, "0", g.ptr(), strconv.Itoa(3+g.rng.IntN(12)), g.ptr(), g.ptr())...)
	}
	body = append(body, g.call("proxy_get_property", "0", g.ptr(), "12", g.ptr(), g.ptr())...)
	body = append(body, g.call("proxy_log", "0", "1", g.ptr(), strconv.Itoa(20+g.rng.IntN(60)))...)
	if g.rng.IntN(50) == 0 {
		body = append(body, g.call("proxy_replace_header_map_value", "2", "2", g.ptr(), "9", g.ptr(), "3")...)
	}
	out = append(out, g.callback("proxy_on_request_headers", "0", []string{ctx, strconv.Itoa(6 + g.rng.IntN(10)), "1"}, body)...)
	out = append(out, line{"debug", "wasm", contextCC, "wasm log bench-plugin bench-root: request " + ctx + " accepted"})
	out = append(out, line{"debug", "router", "source/common/router/router.cc:520", "[C" + ctx + "][S1] cluster 'backend' match for URL '/api/v1/items'"})
	out = append(out, g.callback("proxy_on_response_headers", "0", []string{ctx, strconv.Itoa(4 + g.rng.IntN(6)), "0"},
		append(g.call("proxy_add_header_map_value", "0", "2", g.ptr(), "8", g.ptr(), "2"),
			g.call("proxy_get_header_map_value", "0", "2", g.ptr(), "7", g.ptr(), g.ptr())...))...)
	out = append(out, g.callback("proxy_on_response_body", "0", []string{ctx, strconv.Itoa(g.rng.IntN(4096)), "1"}, nil)...)
	out = append(out, g.callback("proxy_on_log", "void", []string{ctx},
		append(g.call("proxy_get_header_map_value", "0", "0", g.ptr(), "5", g.ptr(), g.ptr()),
			g.call("proxy_log", "0", "2", g.ptr(), "31")...))...)
	out = append(out, line{"info", "wasm", contextCC, "wasm log bench-plugin bench-root: request done: /api/v1/items 200"})
	out = append(out, g.callback("proxy_on_done", "1", []string{ctx}, nil)...)
	out = append(out, g.callback("proxy_on_delete", "void", []string{ctx}, nil)...)
	return out
}
