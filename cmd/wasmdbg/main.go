// Command wasmdbg debugs Proxy-Wasm plugins: it reads proxy logs, symbolizes
// backtraces, replays captured requests through a local host and talks to a
// running Envoy. Installed as kubectl-wasmdbg it is also a kubectl plugin.
//
// This package holds flags and wiring only; the work happens in the packages
// it imports.
package main

import "os"

func main() { os.Exit(Main(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
