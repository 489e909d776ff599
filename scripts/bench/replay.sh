#!/bin/sh
# Side by side: the per-request cost of `wasmdbg replay` against the
# runtime's floor, a bare wazero loop in the same test binary that
# instantiates the same fixture module and calls the same exports
# (context create, request headers, response headers, log, done, delete)
# with do-nothing host functions, resolved once and called with
# CallWithStack on a reused stack (replay/bench_test.go). A second floor
# answers the header lookups (so the plugin does the same work as under
# replay), isolating the host's own cost. Costs are CPU nanoseconds per
# request (getrusage), which a loaded machine distorts less than wall time.
# Then the cold and warm start of the Go fixture with the compilation cache.
# Run from the repository root: sh scripts/bench/replay.sh [iterations]
set -eu
n=${1:-30000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/replay.test" ./replay
cd replay
"$tmp/replay.test" -test.run '^$' -test.bench '^Benchmark(Floor|FloorAnswering|ReplayRequest|FloorTimeLimit|ReplayRequestTimeLimit)$' \
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
printf '%-10s %12s %12s %12s %12s %12s\n' fixture floor answering replay 'vs floor' 'vs answering'
for f in c cpp rust; do
	fl=$(cpu "Floor/$f")
	an=$(cpu "FloorAnswering/$f")
	re=$(cpu "ReplayRequest/$f")
	printf '%-10s %10.0fns %10.0fns %10.0fns %11sx %11sx\n' "$f" "$fl" "$an" "$re" "$(ratio "$re" "$fl")" "$(ratio "$re" "$an")"
done
fl=$(cpu "FloorTimeLimit/c")
re=$(cpu "ReplayRequestTimeLimit/c")
printf '%-10s %10.0fns %12s %10.0fns %11sx %12s   (with --timeout: wazero termination checks on both)\n' "c" "$fl" "" "$re" "$(ratio "$re" "$fl")" ""
cold=$(ns StartCold)
warm=$(ns StartWarm)
printf 'go fixture start: cold %.0f ms, warm (compilation cache) %.0f ms: warm is %s%% of cold (goal: at most 25%%)\n' \
	"$(awk -v v="$cold" 'BEGIN { print v / 1e6 }')" "$(awk -v v="$warm" 'BEGIN { print v / 1e6 }')" \
	"$(awk -v a="$warm" -v b="$cold" 'BEGIN { printf "%.0f", 100 * a / b }')"
