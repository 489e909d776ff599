#!/bin/sh
# Plugins built by other people: runs wasmdbg over a directory of Proxy-Wasm
# modules it was not built with (FOREIGN_DIR; none are committed, see
# README "Plugins built by other people") and prints, per module: what
# inspect says it is (ABI, language, toolchain, SDK, whether Envoy loads
# it), how a replay of a few plain requests ends, and for modules with
# DWARF how many of N sampled code offsets get the same file:line:col
# frames (inlined ones included) from `wasmdbg symbolize` as from
# `llvm-symbolizer`, with both tools' CPU time and their ratio
# (llvm-symbolizer / wasmdbg: above 1 means wasmdbg is faster).
# Names are not compared: llvm-symbolizer leaves Rust's "$LT$" escapes in.
# Run from the repository root: FOREIGN_DIR=dir sh scripts/bench/foreign.sh [offsets]
set -eu
n=${1:-500}
if [ -z "${FOREIGN_DIR:-}" ] || [ ! -d "$FOREIGN_DIR" ]; then
	echo "foreign: set FOREIGN_DIR to a directory of .wasm Proxy-Wasm modules; skipped"
	exit 0
fi
for t in jq awk; do
	command -v "$t" >/dev/null || { echo "foreign: $t missing; skipped"; exit 0; }
done
llvm=""
for t in llvm-symbolizer llvm-symbolizer-16; do
	if command -v "$t" >/dev/null; then llvm=$t; break; fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/wasmdbg" ./cmd/wasmdbg
cat >"$tmp/capture.json" <<'EOF'
{"version": 1,
 "plugin": {"name": "foreign"},
 "host": {"start_time": "2024-05-01T12:00:00Z", "random_seed": 7},
 "streams": [
  {"id": "get", "request": {"headers": [[":method", "GET"], [":path", "/status/200"], [":authority", "example.com"], [":scheme", "http"], ["user-agent", "curl/8.5.0"], ["accept", "*/*"]]},
   "response": {"headers": [[":status", "200"], ["content-type", "application/json"]], "body": "{\"hello\":\"world\"}"}},
  {"id": "post", "request": {"headers": [[":method", "POST"], [":path", "/anything"], [":authority", "example.com"], [":scheme", "http"], ["content-type", "application/json"]], "body": "{\"id\": 42}"},
   "response": {"headers": [[":status", "200"]]}}]}
EOF

# cpu CMD...: runs CMD (stdin from $tmp/addrs), prints user+sys seconds.
cpu() {
	/usr/bin/time -f '%U %S' -o "$tmp/time" "$@" <"$tmp/addrs" >"$tmp/out" 2>/dev/null || true
	tail -n 1 "$tmp/time" | awk '{ printf "%.2f", $1 + $2 }'
}

printf '%-44s %-5s %-36s %-6s %-28s %s\n' module ABI "language (toolchain; SDK)" loads replay "DWARF frames same as $llvm (cpu s, ratio)"
for m in "$FOREIGN_DIR"/*.wasm; do
	name=$(basename "$m")
	"$tmp/wasmdbg" inspect --json "$m" >"$tmp/inspect.json" 2>/dev/null || { printf '%-44s not a module wasmdbg reads\n' "$name"; continue; }
	abi=$(jq -r .abi_version "$tmp/inspect.json")
	lang=$(jq -r '.language | .name + (if .toolchain then " (" + .toolchain + ")" else "" end) + (if .sdk then "; " + .sdk else "" end)' "$tmp/inspect.json" | cut -c1-36)
	loads=$(jq -r .host_check.loads "$tmp/inspect.json")
	result=$(timeout 120 "$tmp/wasmdbg" replay "$tmp/capture.json" --module "$m" --json 2>/dev/null |
		jq -r 'select(.kind == "result") | if .trapped then "trapped in " + .callback elif .failure then .failure.reason else "clean" end' | tail -n 1)
	cmp="-"
	if [ -n "$llvm" ] && [ "$(jq -r .debug.dwarf "$tmp/inspect.json")" = true ]; then
		size=$(jq -r '.sections[] | select(.name == "code") | .size' "$tmp/inspect.json")
		awk -v n="$n" -v size="$size" 'BEGIN { srand(1); for (i = 0; i < n; i++) printf "0x%x\n", 1 + int(rand() * (size - 1)) }' >"$tmp/addrs"
		tw=$(cpu "$tmp/wasmdbg" symbolize --module "$m" --code-offsets --json --addr-file -)
		jq -c '.[] | [.frames[] | select(.source == "dwarf") | [.file // "", .line // 0, .column // 0]]' "$tmp/out" >"$tmp/ours"
		tl=$(cpu "$llvm" --output-style=JSON --obj="$m")
		jq -c '.Symbol // [] | [.[] | select(.FunctionName != "") | [.FileName, .Line, .Column]]' "$tmp/out" >"$tmp/theirs"
		same=$(paste -d '\t' "$tmp/ours" "$tmp/theirs" | awk -F '\t' '$2 != "[]" { n++; if ($1 == $2) s++ } END { printf "%d/%d", s, n }')
		cmp=$(awk -v s="$same" -v tw="$tw" -v tl="$tl" 'BEGIN { printf "%s (%s vs %s, %.2f)", s, tw, tl, (tw > 0 ? tl / tw : 0) }')
	fi
	printf '%-44s %-5s %-36s %-6s %-28s %s\n' "$name" "$abi" "$lang" "$loads" "${result:-error}" "$cmp"
done
