#!/bin/sh
# Side by side: the per-request cost of `wasmdbg replay` against the
# runtime's floor, a bare wazero loop in the same test binary that
# instantiates the same fixture module and calls the same exports
# (context create, request headers, response headers, log, done, delete)
# resolved once and called with CallWithStack on a reused stack
# (replay/floor_test.go). Two floors: "do-nothing" host functions (every env
# call answers NotFound, as the issue words it) and "fair" ones that answer
# as Envoy would (header lookups, shared data, configuration), so that the
# plugin does exactly the work it does under replay (a test checks the
# calls and answers are the same). The goal (at most 1.3x) is judged
# against the fair floor.
#
# "replay" is a request as `wasmdbg replay --repeat N` runs its passes
# after the first: default flags (--timeout 5s, --max-memory 1GiB), events
# to the renderer of which only crashes and VM failures are printed, stream
# records not kept. "--timeout 0" is the same without the time limit.
# "cli" is the whole command measured from outside: the CPU time of
# `wasmdbg replay --repeat N` minus that of `--repeat 1`, per request (the
# C fixture; a pass includes the leak detector's memory sample).
#
# Costs are CPU nanoseconds per request (getrusage), which a loaded machine
# distorts less than wall time. Then the cold and warm start of the Go
# fixture with the compilation cache.
# Run from the repository root: sh scripts/bench/replay.sh [iterations]
# (200,000 by default: the CLI's CPU time comes from time(1) in 10 ms
# steps, which is 0.05 us a request at that count, 0.3 us at 30,000).
set -eu
n=${1:-200000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/replay.test" ./replay
go build -o "$tmp/wasmdbg" ./cmd/wasmdbg
cd replay
"$tmp/replay.test" -test.run '^$' -test.bench '^Benchmark(Floor|FloorAnswering|ReplayRequest|ReplayRequestNoTimeout|FloorTimeLimit)$' \
	-test.benchtime "${n}x" >"$tmp/req.txt"
"$tmp/replay.test" -test.run '^$' -test.bench '^BenchmarkStart(Cold|Warm)$' -test.benchtime 3x >"$tmp/start.txt"
cd ..
# cpu NAME: the cpu-ns/op of benchmark NAME (e.g. Floor/c).
cpu() {
	awk -v want="Benchmark$1-" 'index($1, want) == 1 { for (i = 1; i <= NF; i++) if ($(i+1) == "cpu-ns/op") print $i }' "$tmp/req.txt"
}
ns() {
	awk -v want="Benchmark$1-" 'index($1, want) == 1 { print $3 }' "$tmp/start.txt"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# The CLI: one request per pass, the same request as the benchmarks.
cat >"$tmp/capture.json" <<'EOF'
{"version": 1, "plugin": {"root_id": "wasmdbg", "configuration": "deny=x-deny"},
 "streams": [{"request": {"headers": [[":authority", "example.com"], [":path", "/api/items"], [":method", "GET"],
                                      [":scheme", "https"], ["user-agent", "bench"], ["accept", "*/*"]]},
              "response": {"headers": [[":status", "200"], ["content-type", "application/json"]]}}]}
EOF
# clicpu N: user+system seconds of `wasmdbg replay --repeat N` on the C fixture.
clicpu() {
	/usr/bin/time -f '%U %S' -o "$tmp/time.txt" "$tmp/wasmdbg" replay "$tmp/capture.json" -m fixtures/cpp/plugin-c.wasm \
		--repeat "$1" >/dev/null 2>&1 || { echo "wasmdbg replay --repeat $1 failed" >&2; exit 1; }
	awk '{ print $1 + $2 }' "$tmp/time.txt"
}
clicpu 1 >/dev/null # fill the compilation cache
c1=$(clicpu 1)
cn=$(clicpu "$((n + 1))")
cli=$(awk -v a="$cn" -v b="$c1" -v n="$n" 'BEGIN { printf "%.0f", (a - b) * 1e9 / n }')

printf '%-8s %10s %10s %10s %11s   %s\n' fixture do-nothing fair replay '--timeout 0' 'replay / fair (--timeout 0 / fair), replay / do-nothing'
for f in c cpp rust; do
	fl=$(cpu "Floor/$f")
	an=$(cpu "FloorAnswering/$f")
	re=$(cpu "ReplayRequest/$f")
	nt=$(cpu "ReplayRequestNoTimeout/$f")
	printf '%-8s %8.0fns %8.0fns %8.0fns %9.0fns   %sx (%sx), %sx\n' "$f" "$fl" "$an" "$re" "$nt" \
		"$(ratio "$re" "$an")" "$(ratio "$nt" "$an")" "$(ratio "$re" "$fl")"
done
an=$(cpu "FloorAnswering/c")
printf '%-8s %10s %8.0fns %8.0fns %11s   %sx   (the whole `wasmdbg replay --repeat %d`, per request)\n' "c cli" "" "$an" "$cli" "" "$(ratio "$cli" "$an")" "$n"
fl=$(cpu "FloorTimeLimit/c")
printf '%-8s %8.0fns %10s %10s %11s   (wazero'"'"'s own time limit, WithCloseOnContextDone: %sx the do-nothing floor)\n' "c" "$fl" "" "" "" "$(ratio "$fl" "$(cpu Floor/c)")"
cold=$(ns StartCold)
warm=$(ns StartWarm)
printf 'go fixture start: cold %.0f ms, warm (compilation cache) %.0f ms: warm is %s%% of cold (goal: at most 25%%)\n' \
	"$(awk -v v="$cold" 'BEGIN { print v / 1e6 }')" "$(awk -v v="$warm" 'BEGIN { print v / 1e6 }')" \
	"$(awk -v a="$warm" -v b="$cold" 'BEGIN { printf "%.0f", 100 * a / b }')"
