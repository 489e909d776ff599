#!/bin/sh
# Side by side, for production conditions:
#  1. requests per second from 8 keep-alive connections to an upstream on
#     loopback, reached directly and through `wasmdbg serve`'s server with
#     the C fixture (a header-checking plugin) on 1, 2 and 8 workers
#     (serve/bench_test.go BenchmarkThroughput); the ratio is what the
#     plugin and the host add, HTTP parsing and the second hop included;
#  2. the price of --cpuprofile: one replayed request with the module
#     compiled with wazero's function listeners against the same request
#     without them (replay/prod_bench_test.go), in CPU nanoseconds;
#  3. the same at the command line: `wasmdbg replay --repeat` of the C++
#     fixture with and without --cpuprofile, wall time.
# Run from the repository root: sh scripts/bench/serve.sh [requests]
set -eu
n=${1:-5000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/serve.test" ./serve
go test -c -o "$tmp/replay.test" ./replay
go build -o "$tmp/wasmdbg" ./cmd/wasmdbg
(cd serve && "$tmp/serve.test" -test.run '^$' -test.bench '^BenchmarkThroughput$' -test.benchtime "${n}x" >"$tmp/serve.txt")
(cd replay && "$tmp/replay.test" -test.run '^$' -test.bench '^Benchmark(ReplayRequest|ProfiledRequest)$' -test.benchtime 5000x >"$tmp/prof.txt")

metric() { # metric FILE NAME UNIT
	awk -v want="Benchmark$2-" -v unit="$3" 'index($1, want) == 1 { for (i = 1; i <= NF; i++) if ($(i+1) == unit) print $i }' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

direct=$(metric "$tmp/serve.txt" Throughput/direct req/s)
printf 'throughput, %s requests over 8 connections (load average %s)\n' "$n" "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
printf '  %-18s %10.0f req/s\n' direct "$direct"
for w in 1-worker 2-workers 8-workers; do
	s=$(metric "$tmp/serve.txt" "Throughput/serve-$w" req/s)
	printf '  %-18s %10.0f req/s   direct/serve %sx\n' "serve $w" "$s" "$(ratio "$direct" "$s")"
done

printf -- '--cpuprofile, CPU ns per replayed request\n'
for f in c cpp rust; do
	plain=$(metric "$tmp/prof.txt" "ReplayRequest/$f" cpu-ns/op)
	prof=$(metric "$tmp/prof.txt" "ProfiledRequest/$f" cpu-ns/op)
	printf '  %-6s %10.0fns plain %10.0fns profiled   %sx\n' "$f" "$plain" "$prof" "$(ratio "$prof" "$plain")"
done

# The command line: 20,000 passes of one request through the C++ fixture.
cat >"$tmp/one.json" <<'EOF'
{"version": 1, "plugin": {"root_id": "wasmdbg", "configuration": "deny=x-deny"},
 "streams": [{"request": {"headers": [[":method", "GET"], [":path", "/api"], [":authority", "example.com"]]},
              "response": {"headers": [[":status", "200"]]}}]}
EOF
cp fixtures/cpp/plugin.wasm "$tmp/plugin.wasm"
now() { date +%s%N; }
"$tmp/wasmdbg" replay "$tmp/one.json" -m "$tmp/plugin.wasm" --repeat 10 --quiet >/dev/null # warm the compilation caches
"$tmp/wasmdbg" replay "$tmp/one.json" -m "$tmp/plugin.wasm" --repeat 10 --quiet --cpuprofile "$tmp/warm.pb.gz" >/dev/null 2>&1
t0=$(now)
"$tmp/wasmdbg" replay "$tmp/one.json" -m "$tmp/plugin.wasm" --repeat 20000 --quiet >/dev/null
t1=$(now)
"$tmp/wasmdbg" replay "$tmp/one.json" -m "$tmp/plugin.wasm" --repeat 20000 --quiet --cpuprofile "$tmp/cpu.pb.gz" >/dev/null 2>&1
t2=$(now)
plain=$(( (t1 - t0) / 1000000 ))
prof=$(( (t2 - t1) / 1000000 ))
printf '  wasmdbg replay --repeat 20000 (C++ fixture): %d ms, with --cpuprofile %d ms: %sx\n' "$plain" "$prof" "$(ratio "$prof" "$plain")"
