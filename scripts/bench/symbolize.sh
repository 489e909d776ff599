#!/bin/sh
# Side by side: `wasmdbg symbolize --addr-file -` against `llvm-symbolizer
# --obj=M` reading the same 100,000 code-section offsets from standard input
# (llvm-symbolizer's batch mode), over the DWARF fixtures. Checks the answers
# are the same (function, file:line:col, inlined frames; llvm's paths
# cleaned of "./" as wasmdbg prints them) and prints wall time, peak memory
# (max RSS) and the ratio (llvm-symbolizer / wasmdbg: above 1 means wasmdbg
# is faster; the goal is 3).
# Run from the repository root: sh scripts/bench/symbolize.sh [addresses]
set -eu
n=${1:-100000}
llvm=""
for t in llvm-symbolizer llvm-symbolizer-16; do
	if command -v "$t" >/dev/null; then llvm=$t; break; fi
done
if [ -z "$llvm" ] || ! command -v wasm-objdump >/dev/null; then
	echo "symbolize: llvm-symbolizer or wasm-objdump missing (apt-get install llvm wabt); skipped"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/wasmdbg" ./cmd/wasmdbg

# measure NAME OUT CMD...: runs CMD with the addresses on stdin, output to
# OUT; prints "seconds maxrss_kb".
measure() {
	out=$1
	shift
	/usr/bin/time -f '%e %M' -o "$tmp/time" "$@" <"$tmp/addrs" >"$out" 2>"$tmp/stderr" || true
	tail -n 1 "$tmp/time" # after "Command exited with non-zero status 1", if any
}

printf '%-22s %9s %10s %9s %10s %9s %7s  %s\n' module "$llvm" "(max RSS)" wasmdbg "(max RSS)" ratio frames answers
for fx in cpp/plugin.wasm cpp/plugin-dwarf5.wasm rust/plugin.wasm.gz rust/plugin-v0.wasm.gz; do
	src=fixtures/$fx
	[ -f "$src" ] || continue
	m=$tmp/$(echo "$fx" | tr / _ | sed 's/\.gz$//')
	case $src in
	*.gz) gunzip -c "$src" >"$m" ;;
	*) cp "$src" "$m" ;;
	esac
	# $n code offsets spread evenly over the code section payload.
	size=$(printf '%d' "$(wasm-objdump -h "$m" | sed -n 's/.* Code start=.*(size=\(0x[0-9a-f]*\)).*/\1/p')")
	awk -v n="$n" -v size="$size" 'BEGIN { for (i = 0; i < n; i++) printf "0x%x\n", int(i * size / n) }' >"$tmp/addrs"

	set -- $(measure "$tmp/llvm.out" "$llvm" --obj="$m")
	lt=$1 lm=$2
	set -- $(measure "$tmp/wasmdbg.out" "$tmp/wasmdbg" symbolize --module "$m" --code-offsets --addr-file -)
	wt=$1 wm=$2
	# llvm keeps the line table's "././dlmalloc/src/malloc.c"; wasmdbg cleans paths.
	sed -E 's#(^|/)(\./)+#\1#g' "$tmp/llvm.out" >"$tmp/llvm.clean"
	frames=$(grep -c ':[0-9]*:[0-9]*$' "$tmp/wasmdbg.out" || true)
	# Line by line; llvm-symbolizer ignores the name section, so where it
	# says "??" for a function without DWARF (the linker's
	# __wasm_call_ctors…) wasmdbg's name is counted apart, not as a
	# difference.
	same=$(awk -v w="$tmp/wasmdbg.out" '
		{ if ((getline mine < w) <= 0) mine = "<missing>" }
		$0 == mine { next }
		$0 == "??" && mine !~ /:[0-9]+:[0-9]+$/ { named++; next }
		{ diff++; if (diff <= 5) printf "line %d: llvm %s | wasmdbg %s\n", NR, $0, mine > "/dev/stderr" }
		END {
			if ((getline mine < w) > 0) diff++
			if (diff) printf "%d lines differ", diff; else printf "identical"
			if (named) printf " (+%d frames llvm leaves ??, named by wasmdbg)", named
		}' "$tmp/llvm.clean")
	ratio=$(awk -v a="$lt" -v b="$wt" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')
	printf '%-22s %8ss %8sKB %8ss %8sKB %7s %7s  %s\n' "$(basename "$m")" "$lt" "$lm" "$wt" "$wm" "$ratio" "$frames" "$same"
done
