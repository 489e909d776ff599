package tracer

import (
	"fmt"
	"strings"
	"testing"
)

// TestLastWords: a crash with no recognised panic text is linked to the
// plugin's last log at error or critical inside the callback it ended
// (with a wasm:trace stream), or to the thread's last record before it
// when that is such a log (without one); never to a log of a callback that
// returned, of another thread, or from too far back.
func TestLastWords(t *testing.T) {
	const (
		cbStart = "[2024-01-01 00:00:00.000][1][trace][wasm] [host->vm] proxy_on_request_headers(2, 5, 1)\n"
		cbRet   = "[2024-01-01 00:00:00.001][1][trace][wasm] [host<-vm] proxy_on_request_headers return: 0\n"
		logErr  = "[2024-01-01 00:00:00.001][1][error][wasm] wasm log p r vm: cpp plugin panicked: bad state\n"
		logCrit = "[2024-01-01 00:00:00.001][1][critical][wasm] wasm log p r vm: invariant broken\n"
		logWarn = "[2024-01-01 00:00:00.001][1][warning][wasm] wasm log p r vm: slow upstream\n"
		logInfo = "[2024-01-01 00:00:00.001][1][info][wasm] wasm log p r vm: headers read\n"
		hostLog = "[2024-01-01 00:00:00.001][1][trace][wasm] [vm->host] env.proxy_log(4, 1000, 20)\n"
		hostRet = "[2024-01-01 00:00:00.001][1][trace][wasm] [vm<-host] env.proxy_log return: 0\n"
		crash   = "[2024-01-01 00:00:00.002][1][error][wasm] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\n" +
			"Proxy-Wasm plugin in-VM backtrace:\n  0:  0x5fc7 - abort\n  1:  0x10b5 - proxy_on_request_headers\n"
		// other thread's records
		otherErr   = "[2024-01-01 00:00:00.001][2][error][wasm] wasm log p r vm: upstream refused\n"
		otherLine  = "[2024-01-01 00:00:00.001][2][debug][http] [source/common/http/conn_manager_impl.cc:1000] [C1][S2] request end stream\n"
		envoyLine  = "[2024-01-01 00:00:00.001][1][debug][router] [source/common/router/router.cc:500] [C1][S2] router decoding headers\n"
		goPanic    = "[2024-01-01 00:00:00.001][1][info][wasm] wasm log p r vm: panic: runtime error: index out of range [3] with length 2\n"
		noThread   = `{"level":"error","time":"2024-01-01T00:00:00.004Z","scope":"envoy wasm","msg":"Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x5fc7 - abort"}` + "\n"
		crashWAMR  = "[2024-01-01 00:00:00.002][1][error][wasm] Function: proxy_on_request_headers failed: Exception: unreachable\n"
		write      = "[2024-01-01 00:00:00.001][1][trace][wasm] [vm->host] wasi_snapshot_preview1.fd_write(2, 1000, 1, 1016)\n"
		writeRet   = "[2024-01-01 00:00:00.001][1][trace][wasm] [vm<-host] wasi_snapshot_preview1.fd_write return: 0\n"
		hostGet    = "[2024-01-01 00:00:00.001][1][trace][wasm] [vm->host] env.proxy_get_header_map_value(0, 1000, 5, 1020, 1024)\n"
		hostGetRet = "[2024-01-01 00:00:00.001][1][trace][wasm] [vm<-host] env.proxy_get_header_map_value return: 0\n"
		// One stderr line written in three fd_writes (Rust's OOM report).
		frag1 = "[2024-01-01 00:00:00.001][1][error][wasm] wasm log p r vm: out of room for \n"
		frag2 = "[2024-01-01 00:00:00.001][1][error][wasm] wasm log p r vm: 4096\n"
		frag3 = "[2024-01-01 00:00:00.001][1][error][wasm] wasm log p r vm:  bytes\n"
	)
	tests := []struct {
		name string
		in   string
		want []string // "line:text" of each crash's panic, "-" when none
	}{
		// With a wasm:trace stream.
		{"error log inside the trapped callback", cbStart + hostLog + logErr + hostRet + crash,
			[]string{"3:cpp plugin panicked: bad state"}},
		{"the last error log of the callback, a later info log between", cbStart + logErr + logCrit + logInfo + crash,
			[]string{"3:invariant broken"}},
		{"error log in an earlier callback that returned", cbStart + logErr + cbRet + cbStart + crash,
			[]string{"-"}},
		{"a warning is no last words", cbStart + logWarn + crash,
			[]string{"-"}},
		{"recognised panic text wins", cbStart + goPanic + logErr + crash,
			[]string{"2:panic: runtime error: index out of range [3] with length 2"}},
		{"crash record without a thread, callback found by name", cbStart + logErr + noThread,
			[]string{"2:cpp plugin panicked: bad state"}},
		{"another thread's error log", cbStart + otherErr + crash,
			[]string{"-"}},
		// Without one.
		{"no trace: the thread's last record", logInfo + logErr + crash,
			[]string{"2:cpp plugin panicked: bad state"}},
		{"no trace: other threads' lines between", logErr + otherLine + otherErr + otherLine + crashWAMR,
			[]string{"1:cpp plugin panicked: bad state"}},
		{"no trace: the thread logged again since", logErr + logInfo + crash,
			[]string{"-"}},
		{"no trace: an Envoy line of the thread since", logErr + envoyLine + crash,
			[]string{"-"}},
		{"no trace: another thread's error log", otherErr + crash,
			[]string{"-"}},
		{"no trace: too far back", logErr + strings.Repeat(otherLine, lastWordsWindow) + crashWAMR,
			[]string{"-"}},
		{"no trace: just inside the window", logErr + strings.Repeat(otherLine, lastWordsWindow-1) + crashWAMR,
			[]string{"1:cpp plugin panicked: bad state"}},
		{"no trace: linked once, not to a second crash", logErr + crashWAMR + crashWAMR,
			[]string{"1:cpp plugin panicked: bad state", "-"}},
		{"no trace: a record without a thread takes the last one", otherLine + logErr + noThread,
			[]string{"2:cpp plugin panicked: bad state"}},
		{"trace ended by a return: not the last record", cbStart + logErr + cbRet + crashWAMR,
			[]string{"-"}},
		// Consecutive error logs of the thread are one account.
		{"pieces of one line joined", frag1 + frag2 + frag3 + crash,
			[]string{"1:out of room for 4096 bytes"}},
		{"pieces joined inside the trapped callback", cbStart + frag1 + frag2 + frag3 + crash,
			[]string{"2:out of room for 4096 bytes"}},
		{"whole lines joined as lines", logErr + logErr + crash,
			[]string{"1:cpp plugin panicked: bad state\ncpp plugin panicked: bad state"}},
		{"pieces written by fd_write calls in a trace are joined", cbStart + write + frag1 + writeRet + write + frag2 + writeRet + write + frag3 + writeRet + crash,
			[]string{"3:out of room for 4096 bytes"}},
		{"pieces with another host call between are not joined", cbStart + frag1 + hostGet + hostGetRet + frag3 + crash,
			[]string{"5: bytes"}},
		{"a piece of an earlier callback is not joined", cbStart + frag1 + cbRet + cbStart + frag3 + crash,
			[]string{"5: bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, _ := scanAll(t, tt.in, Options{})
			var got []string
			for _, e := range evs {
				if e.Kind != KindCrash {
					continue
				}
				if e.PanicText == "" {
					got = append(got, "-")
				} else {
					got = append(got, fmt.Sprintf("%d:%s", e.PanicLine, e.PanicText))
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("panic links\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
