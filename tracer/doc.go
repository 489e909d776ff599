// Package tracer reads proxy logs in any real framing and turns them into
// typed events: the wasm:trace host<->VM calls with their numbers decoded,
// plugin logs, crashes with every backtrace frame, VM load failures and
// findings; and from those, call trees, stats, text reports and Perfetto
// traces. It is what `wasmdbg trace` runs, and what attach and the TUI build
// on.
//
// Formats: shared/reference/envoy-formats.md §1 (the wasm:trace lines),
// §2 (Envoy, Istio text and JSON framings, plugin log prefixes), §3 (trap
// reports of V8, wasmtime, WAMR, WAVM, and VM failure messages), §9 (the
// ABI the numbers are decoded with, via internal/abi). The JSON form of
// Event is the contract of shared/DESIGN.md §3.2.
//
// The pipeline has three stages, each usable alone:
//
//   - Reader splits a byte stream into Records. It recognises the framing
//     of every line (Framing), strips the prefixes the world adds
//     (kubectl --prefix, docker compose, CI timestamps, CRI files, k9s
//     borders, unknown prefixes it learns), joins multi-line messages
//     (backtraces, Go tracebacks, Istio records that end at thread=N, frames
//     that arrive after another thread's line), and streams: a record comes
//     out as soon as it is complete, memory is bounded, and a source that
//     returns ErrIdle (see Follow) flushes what is held open. It also reads
//     logs as people paste them into issues: Markdown fences and quotes,
//     lines in inline-code backticks or copied out of JSON strings, lines
//     whose time (and thread) were cut, cloud-console copies, terminal
//     wraps and padding, blank lines between lines and "..." elisions.
//   - Decoder turns Records into Events: ParseCall for wasm:trace lines,
//     ParseCrash for trap reports, ClassifyVMFailure for load failures,
//     plugin logs; it pairs calls per thread into call trees (Context,
//     Call), links each crash to the plugin's panic text (a recognised
//     panic shape, else its last log at error or critical inside the
//     callback the trap ended), the callback it ended and that callback's
//     last host calls, reports findings (host
//     calls where they cannot work, ignored statuses, known crash
//     signatures), and symbolizes frames through a loc.Resolver.
//   - Stats aggregates Records directly, without events, for `wasmdbg
//     trace --stats`. Its ReadAll counts the lines a trace is mostly made
//     of in place, without Records, and gives the others to the Reader
//     (statsread.go).
//
// Scan runs the first two over an io.Reader. Report, WriteTree,
// NewJSONWriter and WritePerfetto render the results.
package tracer
