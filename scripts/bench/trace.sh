#!/bin/sh
# Times `wasmdbg trace --stats` on a realistic 1,000,000-line Envoy
# wasm:trace log against `grep -c '\[host->vm\]'` (a lower bound: it only
# counts one marker) and against an awk program computing the same
# per-function counts, checks that awk and wasmdbg agree on those counts,
# and prints both ratios with CPU time and peak memory. Best of RUNS runs.
# With INSTR=1 and valgrind installed it also counts the instructions each
# tool executes (callgrind), which, unlike times, do not depend on what
# else the machine runs (a minute or two more).
#   sh scripts/bench/trace.sh            (LINES=1000000 RUNS=5 by default)
#   INSTR=1 sh scripts/bench/trace.sh
set -eu
LINES=${LINES:-1000000}
RUNS=${RUNS:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bin="$root/bin/wasmdbg"
if [ ! -x "$bin" ]; then
	(cd "$root" && go build -o "$tmp/wasmdbg" ./cmd/wasmdbg)
	bin="$tmp/wasmdbg"
fi
(cd "$root" && go run ./tracer/internal/loggen/gen.go -lines "$LINES" -seed 1) > "$tmp/trace.log"
size=$(wc -c < "$tmp/trace.log")
echo "input: $(wc -l < "$tmp/trace.log") lines, $((size / 1000000)) MB, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

AWK=awk
command -v mawk >/dev/null 2>&1 && AWK=mawk
cat > "$tmp/count.awk" <<'AWK'
{
	i = index($0, "] [host->vm] ")
	if (i) { s = substr($0, i + 13); j = index(s, "("); cb[substr(s, 1, j - 1)]++; next }
	i = index($0, "] [vm->host] ")
	if (i) { s = substr($0, i + 13); j = index(s, "("); hc[substr(s, 1, j - 1)]++ }
}
END {
	for (k in cb) print "callback", k, cb[k]
	for (k in hc) print "hostcall", k, hc[k]
}
AWK

have_time=0
[ -x /usr/bin/time ] && have_time=1

# measure NAME CMD…: best wall and CPU seconds over RUNS, and peak RSS.
measure() {
	name=$1; shift
	best_wall=""; best_cpu=""; rss=0
	i=0
	while [ $i -lt "$RUNS" ]; do
		i=$((i + 1))
		if [ $have_time = 1 ]; then
			/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" > "$tmp/$name.out"
			read -r wall user sys kb < "$tmp/time"
			cpu=$(echo "$user + $sys" | bc)
		else
			start=$(date +%s.%N)
			"$@" > "$tmp/$name.out"
			wall=$(echo "$(date +%s.%N) - $start" | bc)
			cpu=$wall; kb=0
		fi
		if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc)" = 1 ]; then best_wall=$wall; fi
		if [ -z "$best_cpu" ] || [ "$(echo "$cpu < $best_cpu" | bc)" = 1 ]; then best_cpu=$cpu; fi
		[ "$kb" -gt "$rss" ] && rss=$kb
	done
	printf '%-28s wall %6.3f s   cpu %6.3f s   peak %6d KB\n' "$name" "$best_wall" "$best_cpu" "$rss"
	eval "${name}_wall=$best_wall ${name}_cpu=$best_cpu"
}

measure grep grep -c '\[host->vm\]' "$tmp/trace.log"
measure awk $AWK -f "$tmp/count.awk" "$tmp/trace.log"
measure wasmdbg "$bin" trace --stats --json "$tmp/trace.log"

# The same per-function counts?
sort "$tmp/awk.out" > "$tmp/awk.sorted"
if command -v jq >/dev/null 2>&1; then
	jq -r '(.callbacks[] | "callback \(.function) \(.count)"), (.host_calls[] | "hostcall \(.function) \(.count)")' "$tmp/wasmdbg.out" | sort > "$tmp/wasmdbg.sorted"
	if cmp -s "$tmp/awk.sorted" "$tmp/wasmdbg.sorted"; then
		echo "counts: awk and wasmdbg agree on $(wc -l < "$tmp/awk.sorted") functions"
	else
		echo "counts DIFFER between awk and wasmdbg:"; diff "$tmp/awk.sorted" "$tmp/wasmdbg.sorted" | head; exit 1
	fi
fi

ratio() { echo "scale=2; $1 / $2" | bc; }
echo "wasmdbg / grep: $(ratio "$wasmdbg_wall" "$grep_wall")x wall, $(ratio "$wasmdbg_cpu" "$grep_cpu")x cpu   (goal: within 2x)"
echo "wasmdbg / awk:  $(ratio "$wasmdbg_wall" "$awk_wall")x wall, $(ratio "$wasmdbg_cpu" "$awk_cpu")x cpu   (goal: below 1x)"

# instructions NAME CMD…: instructions executed (all threads), from callgrind.
instructions() {
	name=$1; shift
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>"$tmp/cg" >"$tmp/$name.iout"
	n=$(sed -n 's/.*refs: *//p' "$tmp/cg" | tr -d ,)
	lines=$(wc -l < "$tmp/trace.log")
	printf '%-28s %14d instructions   %6d per line\n' "$name" "$n" "$((n / lines))"
	eval "${name}_instr=$n"
}

if [ "${INSTR:-0}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
	# callgrind runs the program's threads one at a time: this is the work
	# done, not the time it takes on several CPUs.
	instructions grep grep -c '\[host->vm\]' "$tmp/trace.log"
	instructions awk $AWK -f "$tmp/count.awk" "$tmp/trace.log"
	instructions wasmdbg "$bin" trace --stats --json "$tmp/trace.log"
	echo "wasmdbg / grep: $(ratio "$wasmdbg_instr" "$grep_instr")x instructions   wasmdbg / awk: $(ratio "$wasmdbg_instr" "$awk_instr")x instructions"
fi
