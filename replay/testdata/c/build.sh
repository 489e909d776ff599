#!/bin/sh
# Builds spin.wasm from spin.c with Debian's clang-16 and wasm-ld-16 (no
# libc): DWARF 4 naming ./spin.c, no build-machine paths.
set -eu
cd "$(dirname "$0")"
clang-16 --target=wasm32 -O0 -g -fdebug-prefix-map="$PWD"=. -nostdlib -c spin.c -o /tmp/spin.$$.o
wasm-ld-16 --no-entry /tmp/spin.$$.o -o spin.wasm
rm -f /tmp/spin.$$.o
echo "built spin.wasm with $(clang-16 --version | head -1)"
