//go:build ignore

// Command gen writes a realistic Envoy log with the wasm:trace stream
// enabled, for scripts/bench/trace.sh: go run ./tracer/internal/loggen/gen.go -lines 1000000 > trace.log
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wasmdbg/wasmdbg/tracer/internal/loggen"
)

func main() {
	lines := flag.Int("lines", 1_000_000, "lines to write (at least)")
	seed := flag.Int64("seed", 1, "random seed")
	threads := flag.Int("threads", 4, "worker threads")
	flag.Parse()
	if err := loggen.Write(os.Stdout, loggen.Options{Lines: *lines, Seed: *seed, Threads: *threads}); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
