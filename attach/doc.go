// Package attach connects wasmdbg to a running proxy: a local Envoy through
// its admin address, or a Kubernetes pod through a port-forward. It raises
// the wasm logger's level and always puts it back (on Ctrl-C, SIGTERM,
// SIGHUP, an error or a dropped connection, and after a SIGKILL through a
// marker file the next run finds), follows the proxy's log and turns it into
// decoded, symbolized events.
//
// Envoy admin facts: shared/reference/envoy-formats.md §5; Kubernetes
// port-forward and logs: shared/reference/peers.md §6.
package attach
