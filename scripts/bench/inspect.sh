#!/bin/sh
# Side by side: `wasmdbg inspect --json` against `wasm-objdump -h -x` (wabt),
# which reads and prints the same sections, imports, exports and names, over
# the same fixture modules. Prints milliseconds per run and the ratio
# (wasmdbg / wasm-objdump; below 1 means wasmdbg is faster).
# Run from the repository root: sh scripts/bench/inspect.sh [runs]
set -eu
runs=${1:-20}
if ! command -v wasm-objdump >/dev/null; then
	echo "inspect: wasm-objdump not installed (apt-get install wabt); skipped"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/wasmdbg" ./cmd/wasmdbg
# Every fixture module, decompressed; the benchmark needs no toolchain.
for f in fixtures/*/*.wasm fixtures/*/*.wasm.gz; do
	[ -f "$f" ] || continue
	case $f in
	*.gz) gunzip -c "$f" >"$tmp/$(echo "${f%.gz}" | tr / _)" ;;
	*) cp "$f" "$tmp/$(echo "$f" | tr / _)" ;;
	esac
done
ms() { # ms CMD...: milliseconds for $runs runs of CMD
	start=$(date +%s%N)
	i=0
	while [ $i -lt "$runs" ]; do
		"$@" >/dev/null 2>&1 || true
		i=$((i + 1))
	done
	echo $((($(date +%s%N) - start) / 1000000))
}
printf '%-44s %10s %10s %12s %7s\n' module bytes wasmdbg wasm-objdump ratio
total_a=0
total_b=0
for m in "$tmp"/*.wasm; do
	a=$(ms "$tmp/wasmdbg" inspect --json "$m")
	b=$(ms wasm-objdump -h -x "$m")
	total_a=$((total_a + a))
	total_b=$((total_b + b))
	awk -v n="$(basename "$m")" -v size="$(wc -c <"$m")" -v a="$a" -v b="$b" -v runs="$runs" \
		'BEGIN { printf "%-44s %10d %8.2fms %10.2fms %7.2f\n", n, size, a / runs, b / runs, a / (b > 0 ? b : 1) }'
done
awk -v a="$total_a" -v b="$total_b" \
	'BEGIN { printf "inspect: all modules, wasmdbg inspect --json / wasm-objdump -h -x = %.2f (process start-up included)\n", a / (b > 0 ? b : 1) }'
