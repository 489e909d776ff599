package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/tui"
)

func newDemoCmd(io stdio) *cobra.Command {
	var noCache, verbose, noTUI bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Replay a bundled capture through a bundled crashing plugin and show the crash symbolized",
		Long: `demo is wasmdbg's main job on embedded defaults, with no files: it replays a
bundled capture (four requests: one passes, one is denied with a local 403,
one waits for an http_call, one makes the plugin panic) through the bundled
C++ fixture plugin, built with DWARF, in the local Proxy-Wasm host. It prints
the plugin's logs as Envoy would (--verbose adds every callback), V8's crash
block with module offsets, the same frames symbolized to file:line, and what
happened to each request.

The crash is the expected outcome: demo exits 0 once it has shown it.
The same run on your own plugin: wasmdbg replay capture.json --module plugin.wasm`,
		Example: "  wasmdbg demo\n  make demo",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd, io, noCache, verbose, noTUI)
		},
	}
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "do not use the compilation cache")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every callback too, as Envoy's wasm:trace does")
	cmd.Flags().BoolVar(&noTUI, "no-tui", false, "print text even on a terminal (on a terminal, demo opens the interactive UI)")
	return cmd
}

func runDemo(cmd *cobra.Command, io stdio, noCache, verbose, noTUI bool) error {
	f, ok := fixtures.Get("cpp")
	if !ok {
		return fmt.Errorf("the demo plugin (fixture cpp) is not built into this wasmdbg")
	}
	wasm, err := f.Bytes()
	if err != nil {
		return err
	}
	if !noTUI && isTerminal(io.out) {
		return demoTUI(cmd.Context(), io, f, wasm, noCache, false, tui.SnapshotOptions{})
	}
	fmt.Fprintf(io.out, "wasmdbg demo: replaying 4 requests through %s (%s, DWARF %d)\n\n", "the C++ fixture plugin", f.Toolchain, f.DWARF)
	opts := replay.Options{Timeout: replay.DefaultTimeout, Resolver: openResolver(io, "plugin.wasm", wasm, "")}
	if !noCache {
		opts.CacheDir = replay.DefaultCacheDir()
	}
	v := replay.Quiet
	if verbose {
		v = replay.Callbacks
	}
	res, err := replayModule(cmd.Context(), io, wasm, opts, replay.DemoCapture(), replay.RunOptions{Verbosity: v}, false, nil)
	if err != nil {
		return err
	}
	if !res.Trapped {
		return fmt.Errorf("BUG: the demo plugin did not crash; its fixture or the host changed")
	}
	fmt.Fprintln(io.out, "\nThat is the crash, reproduced and symbolized. Replay your own: wasmdbg replay capture.json --module plugin.wasm")
	return nil
}
