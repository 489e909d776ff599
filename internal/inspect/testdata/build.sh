#!/bin/sh
# Rebuilds the test modules of internal/inspect from their .wat sources with
# wabt's wat2wasm (and addcustom.py for custom sections wat2wasm cannot
# write), and stale-dwarf.wasm with Binaryen's wasm-opt. Tests never run this; they read the committed .wasm files.
set -eu
cd "$(dirname "$0")"
for w in *.wat; do
	case "$w" in
	# shaped like stripped builds: no name section
	emscripten.wat | as-stripped.wat | prerelease.wat) wat2wasm "$w" -o "${w%.wat}.wasm" ;;
	*) wat2wasm --debug-names "$w" -o "${w%.wat}.wasm" ;;
	esac
done
# go-wasi: Go writes go:buildid before every other section, and producers
# before name.
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
str() { printf '%02x%s' "${#1}" "$(hex "$1")"; }
producers="01$(str language)01$(str Go)$(str go1.26.8)"
python3 addcustom.py go-wasi.wasm go-wasi.wasm --before name "producers=$producers"
python3 addcustom.py go-wasi.wasm go-wasi.wasm --first "go:buildid=$(hex 'go-build-id/test')"
# emscripten: the emscripten_metadata section of Emscripten 1.38-2.0
# (major 0, minor 3, then ABI and memory numbers; the values do not matter).
python3 addcustom.py emscripten.wasm emscripten.wasm "emscripten_metadata=00030000070001"
# zig: producers "language: C99" as Zig writes it, and a .debug_str with
# Zig's DW_AT_producer among other strings.
python3 addcustom.py zig.wasm zig.wasm "producers=$(printf '01%s01%s%s' "$(str language)" "$(str C99)" "$(str '')")"
python3 addcustom.py zig.wasm zig.wasm ".debug_str=$(hex 'example')00$(hex 'zig 0.14.0')00$(hex 'u8')00"
# tinygo-cmd: TinyGo writes "processed-by: TinyGo <version>"; 0.35 is the
# first release whose _start calls proc_exit.
cp tinygo-cmd.wasm tinygo-cmd-034.wasm
python3 addcustom.py tinygo-cmd.wasm tinygo-cmd.wasm "producers=$(printf '01%s01%s%s' "$(str processed-by)" "$(str TinyGo)" "$(str 0.35.0)")"
python3 addcustom.py tinygo-cmd-034.wasm tinygo-cmd-034.wasm "producers=$(printf '01%s01%s%s' "$(str processed-by)" "$(str TinyGo)" "$(str 0.34.0)")"
# stale-dwarf: internal/wasm's DWARF 4 module rewritten by wasm-opt without
# -g, as clang does behind your back when -O is on the link line: Binaryen
# drops the name section and zeroes every subprogram address.
wasm-opt -O1 ../../wasm/testdata/dwarf4.wasm -o stale-dwarf.wasm
{
	echo "wat2wasm $(wat2wasm --version)"
	wasm-opt --version
} >TOOLCHAIN
