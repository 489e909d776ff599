#!/bin/sh
# The TUI on a realistic 1,000,000-line Envoy wasm:trace log (the tracer's
# generator, plus a crash at the end):
#   - time to first frame in a real terminal (tmux): from start until the
#     screen shows events, polled every 20 ms;
#   - the whole load (`wasmdbg tui --snapshot`: read, decode, keep every
#     event, render) against `wasmdbg trace --json` (read and decode only)
#     on the same file: wall, CPU and peak RSS, with the ratio;
#   - peak RSS against the input's size (goal: below 1x).
# Best of RUNS runs.   sh scripts/bench/tui.sh   (LINES=1000000 RUNS=3)
set -eu
LINES=${LINES:-1000000}
RUNS=${RUNS:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
sock="wasmdbg-bench-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$tmp"' EXIT

(cd "$root" && go build -o "$tmp/wasmdbg" ./cmd/wasmdbg)
bin="$tmp/wasmdbg"
(cd "$root" && go run ./tracer/internal/loggen/gen.go -lines "$LINES" -seed 1) > "$tmp/trace.log"
cat >> "$tmp/trace.log" <<'LOG'
[2024-03-09 10:00:01.105][23][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable
Proxy-Wasm plugin in-VM backtrace:
  0:  0x5fc7 - abort
  1:  0x1515 - plugin::crash::panic(proxy::View)
LOG
size=$(wc -c < "$tmp/trace.log")
echo "input: $(wc -l < "$tmp/trace.log") lines, $((size / 1000000)) MB, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

measure() { # measure NAME CMD…: best wall and CPU seconds over RUNS, peak RSS
	name=$1; shift
	best_wall=""; best_cpu=""; rss=0
	i=0
	while [ $i -lt "$RUNS" ]; do
		i=$((i + 1))
		/usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" > "$tmp/$name.out" || true # trace exits 3 on a crash
		tail -n 1 "$tmp/time" > "$tmp/time1" # after "Command exited with non-zero status N"
		read -r wall user sys kb < "$tmp/time1"
		cpu=$(echo "$user + $sys" | bc)
		if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc)" = 1 ]; then best_wall=$wall; fi
		if [ -z "$best_cpu" ] || [ "$(echo "$cpu < $best_cpu" | bc)" = 1 ]; then best_cpu=$cpu; fi
		[ "$kb" -gt "$rss" ] && rss=$kb
	done
	printf '%-30s wall %6.2f s   cpu %6.2f s   peak RSS %7d KB\n' "$name" "$best_wall" "$best_cpu" "$rss"
	eval "${name}_wall=$best_wall ${name}_cpu=$best_cpu ${name}_rss=$rss"
}

if command -v tmux >/dev/null 2>&1; then
	best=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		i=$((i + 1))
		tmux -L "$sock" kill-server 2>/dev/null || true
		start=$(date +%s%N)
		tmux -L "$sock" new-session -d -s b -x 120 -y 40 "env TERM=xterm-256color $bin tui --view timeline $tmp/trace.log"
		while :; do
			if tmux -L "$sock" capture-pane -p -t b 2>/dev/null | grep -q 'file .* [1-9][0-9,]* events'; then break; fi
			if [ $(( ($(date +%s%N) - start) / 1000000 )) -gt 30000 ]; then echo "no first frame in 30 s"; exit 1; fi
			sleep 0.02
		done
		ms=$(( ($(date +%s%N) - start) / 1000000 ))
		tmux -L "$sock" send-keys -t b q
		sleep 0.3
		if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
	done
	echo "time to first frame in tmux: $best ms (goal: below 2000 ms)"
else
	echo "time to first frame: tmux not installed; skipped"
fi

measure trace_json "$bin" trace --json "$tmp/trace.log"
measure tui_snapshot "$bin" tui --snapshot --view timeline "$tmp/trace.log"
grep -q 'crash' "$tmp/tui_snapshot.out" || { echo "the snapshot shows no crash"; exit 1; }

ratio() { echo "scale=2; $1 / $2" | bc; }
echo "tui load / trace --json: $(ratio "$tui_snapshot_wall" "$trace_json_wall")x wall, $(ratio "$tui_snapshot_cpu" "$trace_json_cpu")x cpu"
echo "tui peak RSS / input size: $(ratio "$((tui_snapshot_rss * 1024))" "$size")x   (goal: below 1x)"
