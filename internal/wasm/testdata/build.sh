#!/bin/sh
# Rebuilds the test modules of internal/wasm from their sources. Tests never
# run this; they read the committed .wasm files.
# Toolchains: wabt's wat2wasm, Debian clang-16 + wasm-ld-16 + wasi-libc.
set -eu
cd "$(dirname "$0")"
wat2wasm --debug-names plugin.wat -o plugin.wasm
wat2wasm kinds.wat -o kinds.wasm
for v in 4 5; do
	clang-16 --target=wasm32-wasi -O1 -gdwarf-$v -fdebug-prefix-map="$PWD"=. -c dwarf.c -o dwarf$v.o
	clang-16 --target=wasm32-wasi -nostdlib -Wl,--no-entry -Wl,--export-dynamic dwarf$v.o -o dwarf$v.wasm
	rm dwarf$v.o
done
{
	echo "wat2wasm $(wat2wasm --version)"
	clang-16 --version | head -1
} >TOOLCHAIN
