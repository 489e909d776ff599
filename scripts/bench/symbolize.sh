#!/bin/sh
# Side by side: `wasmdbg symbolize --addr-file -` against `llvm-symbolizer
# --obj=M` reading the same 100,000 code-section offsets from standard input
# (llvm-symbolizer's batch mode), over the DWARF fixtures. Checks the answers
# are the same (function, file:line:col, inlined frames; llvm's paths
# cleaned of "./" as wasmdbg prints them) and prints wall time, peak memory
# (max RSS), CPU time (user+sys, steadier than wall time on a shared
# machine) and the ratios (llvm-symbolizer / wasmdbg: above 1 means wasmdbg
# is faster; the goal is 3). C++ names are compared demangled; Rust names
# raw (--no-demangle on both), because llvm's Itanium demangler leaves
# legacy Rust's "$LT$"-style escapes in, which wasmdbg decodes.
# With INSTR=1 and valgrind installed it also counts the instructions each
# tool executes (callgrind), which, unlike times, do not depend on what else
# the machine runs (several minutes more). WASMDBG=path measures that
# binary instead of building ./cmd/wasmdbg (another commit's, say).
# Run from the repository root: sh scripts/bench/symbolize.sh [addresses]
#   INSTR=1 sh scripts/bench/symbolize.sh
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
if [ -n "${WASMDBG:-}" ]; then
	cp "$WASMDBG" "$tmp/wasmdbg"
else
	go build -o "$tmp/wasmdbg" ./cmd/wasmdbg
fi
instr=0
if [ "${INSTR:-0}" = 1 ] && command -v valgrind >/dev/null 2>&1; then instr=1; fi

# measure OUT CMD...: runs CMD with the addresses on stdin, output to OUT;
# prints "wall_seconds maxrss_kb cpu_seconds".
measure() {
	out=$1
	shift
	/usr/bin/time -f '%e %M %U %S' -o "$tmp/time" "$@" <"$tmp/addrs" >"$out" 2>"$tmp/stderr" || true
	# the last line: after "Command exited with non-zero status 1", if any
	tail -n 1 "$tmp/time" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }'
}

# instructions CMD...: instructions CMD executes (all threads, callgrind)
# with the addresses on stdin.
instructions() {
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" <"$tmp/addrs" >/dev/null 2>"$tmp/cg" || true
	sed -n 's/.*refs: *//p' "$tmp/cg" | tr -d ,
}

printf '%-22s  %-19s  %-19s  %-19s\n' "" "$llvm" wasmdbg "ratio ($llvm/wasmdbg)"
printf '%-22s %6s %5s %6s %6s %5s %6s %9s %9s %7s  %s\n' module wall cpu RSS wall cpu RSS wall cpu frames answers
for fx in cpp/plugin.wasm cpp/plugin-dwarf5.wasm rust/plugin.wasm.gz rust/plugin-v0.wasm.gz rust/plugin-dwarf5.wasm.gz; do
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

	raw=""
	case $fx in rust/*) raw=--no-demangle ;; esac
	set -- $(measure "$tmp/llvm.out" "$llvm" --obj="$m" $raw)
	lt=$1 lm=$2 lc=$3
	set -- $(measure "$tmp/wasmdbg.out" "$tmp/wasmdbg" symbolize --module "$m" --code-offsets --addr-file - $raw)
	wt=$1 wm=$2 wc=$3
	# llvm keeps the line table's "././dlmalloc/src/malloc.c" and
	# "core/src/../../stdarch/…"; wasmdbg cleans paths as Go's path.Clean.
	awk '
		function clean(p,   n, parts, out, i, k, abs, res) {
			abs = substr(p, 1, 1) == "/"
			n = split(p, parts, "/")
			k = 0
			for (i = 1; i <= n; i++) {
				if (parts[i] == "" || parts[i] == ".") continue
				if (parts[i] == "..") {
					if (k > 0 && out[k] != "..") { k--; continue }
					if (abs) continue
				}
				out[++k] = parts[i]
			}
			res = ""
			for (i = 1; i <= k; i++) res = res (i > 1 ? "/" : "") out[i]
			if (abs) res = "/" res
			return res == "" ? "." : res
		}
		match($0, /:[0-9]+:[0-9]+$/) && substr($0, 1, RSTART - 1) != "??" {
			print clean(substr($0, 1, RSTART - 1)) substr($0, RSTART); next
		}
		{ print }' "$tmp/llvm.out" >"$tmp/llvm.clean"
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
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
	printf '%-22s %5ss %4ss %5dM %5ss %4ss %5dM %9s %9s %7s  %s\n' "$(basename "$m")" "$lt" "$lc" $((lm / 1024)) "$wt" "$wc" $((wm / 1024)) \
		"$(ratio "$lt" "$wt")" "$(ratio "$lc" "$wc")" "$frames" "$same"
	if [ $instr = 1 ]; then
		li=$(instructions "$llvm" --obj="$m" $raw)
		wi=$(instructions "$tmp/wasmdbg" symbolize --module "$m" --code-offsets --addr-file - $raw)
		printf '%-22s instructions: %s %d, wasmdbg %d, ratio %s\n' "" "$llvm" "$li" "$wi" "$(ratio "$li" "$wi")"
	fi
done
