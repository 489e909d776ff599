#!/bin/sh
# Side by side: finding every Proxy-Wasm plugin in a large Istio-shaped
# /config_dump (500 listeners, 20 ECDS plugins, 2000 clusters; 6 MB) with
# admin.ParsePlugins against jq selecting the Wasm typed configs in the same
# file. jq does less (no ECDS-to-listener linking, no dedupe, no config
# decoding) and includes its process start; wasmdbg's number is the Go
# benchmark's time per parse. Also prints the /stats/prometheus parse rate.
# Run from the repository root: sh scripts/bench/admin.sh [runs]
set -eu
runs=${1:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
WASMDBG_WRITE_BENCH_DUMP="$tmp/dump.json" go test -count=1 -run '^TestWriteBenchDump$' ./admin >/dev/null
out=$(WASMDBG_BENCH_DUMP="$tmp/dump.json" go test -count=1 -run '^$' -bench 'BenchmarkParse(Plugins|Prometheus)$' -benchtime "${runs}x" ./admin)
go_ns=$(echo "$out" | awk '/^BenchmarkParsePlugins/ { print $3 }')
prom=$(echo "$out" | awk '/^BenchmarkParsePrometheus/ { print $5 " " $6 }')
printf 'config_dump: %d bytes\n' "$(wc -c <"$tmp/dump.json")"
awk -v ns="$go_ns" 'BEGIN { printf "admin.ParsePlugins        %8.1f ms per parse\n", ns / 1e6 }'
if ! command -v jq >/dev/null; then
	echo "admin: jq not installed (apt-get install jq); comparison skipped"
	echo "admin.ParsePrometheus     $prom (20000 series)"
	exit 0
fi
start=$(date +%s%N)
i=0
while [ $i -lt "$runs" ]; do
	jq '[.. | objects | select(."@type" == "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm") | .config.name] | length' "$tmp/dump.json" >/dev/null
	i=$((i + 1))
done
jq_ns=$((($(date +%s%N) - start) / runs))
awk -v ns="$jq_ns" 'BEGIN { printf "jq (select Wasm configs)  %8.1f ms per run\n", ns / 1e6 }'
awk -v a="$go_ns" -v b="$jq_ns" 'BEGIN { printf "admin: ParsePlugins / jq = %.2f (below 1: wasmdbg is faster)\n", a / b }'
echo "admin.ParsePrometheus     $prom (20000 series, expfmt)"
