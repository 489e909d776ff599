package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/internal/abi"
	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
)

type replayOptions struct {
	module, debugFile  string
	trace, quiet, json bool
	timeout            time.Duration
	maxMemory          string
	noCache            bool
	noRestrictions     bool
	logLevel           string
	tui                bool
	input              inputFlags
	extras             replayExtras // replay_prod.go
}

// inputFlags fill in what HAR files and tap traces lack (and override a
// capture): shared by replay and capture convert.
type inputFlags struct {
	config, vmConfig, rootID, vmID, pluginName string
	clusters                                   []string
}

func (f *inputFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "the plugin configuration (text, or @FILE to read it from a file)")
	fl.StringVar(&f.vmConfig, "vm-config", "", "the VM configuration (text, or @FILE)")
	fl.StringVar(&f.rootID, "root-id", "", "the plugin's root_id")
	fl.StringVar(&f.vmID, "vm-id", "", "the VM's vm_id")
	fl.StringVar(&f.pluginName, "plugin-name", "", "the plugin's name (Istio: <namespace>.<name>)")
	fl.StringSliceVar(&f.clusters, "cluster", nil, "a cluster the plugin may http_call (repeatable)")
}

func (f *inputFlags) overrides(cmd *cobra.Command) (replay.Overrides, error) {
	var o replay.Overrides
	fl := cmd.Flags()
	str := func(name, v string) *string {
		if fl.Changed(name) {
			return &v
		}
		return nil
	}
	o.RootID, o.VMID, o.PluginName = str("root-id", f.rootID), str("vm-id", f.vmID), str("plugin-name", f.pluginName)
	var err error
	if fl.Changed("config") {
		if o.Configuration, err = textOrFile("--config", f.config); err != nil {
			return o, err
		}
	}
	if fl.Changed("vm-config") {
		if o.VMConfiguration, err = textOrFile("--vm-config", f.vmConfig); err != nil {
			return o, err
		}
	}
	o.Clusters = f.clusters
	return o, nil
}

// textOrFile reads "@path" as a file's content; anything else is the text.
func textOrFile(flag, v string) ([]byte, error) {
	if path, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usageErrorf("%s: %v", flag, err)
		}
		return b, nil
	}
	if v == "" {
		return []byte{}, nil
	}
	return []byte(v), nil
}

func newReplayCmd(io stdio) *cobra.Command {
	var o replayOptions
	cmd := &cobra.Command{
		Use:   "replay CAPTURE [--module M.wasm]",
		Short: "Run a plugin against captured traffic in a local Proxy-Wasm host and reproduce its crash",
		Long: `replay runs a Proxy-Wasm plugin in a local host (wazero) that behaves like
Envoy's: the same host functions and status codes, the same callback order and
return-value rules, a virtual clock and seeded randomness, so two replays of a
capture print the same bytes. It prints what Envoy would print at trace level
on the wasm logger, in Envoy's log format, with what the numbers mean after
"  # "; a trap prints V8's "Function: … failed:" block with module offsets and
then the same frames symbolized to file:line (DWARF, source maps, names).

CAPTURE is a wasmdbg capture (capture.schema.json), a HAR file, or Envoy tap
traces, recognised by content; "-" reads standard input. HAR files and taps do
not record the plugin's identity and configuration: give them with --config,
--root-id, --vm-id, --plugin-name (they override a capture's values too).

Output: the callbacks and plugin logs (--trace adds every host call and the
allocator; --quiet keeps only logs and the crash), then a summary per stream.
--json prints the events as NDJSON and a final {"kind":"result",…} record.

Production conditions: --failure-policy says what Envoy does to the streams
after a trap (each stream's access-log line is in the summary); --repeat N
replays the capture N times on one VM and reports its memory after every pass,
the growth per request and a leak verdict; --cpuprofile writes a pprof profile
of the plugin's functions; --timing adds the plugin's latency per request.

Exit status: 0 ran clean, 3 the plugin trapped, failed to start, an
expectation in the capture failed, or --repeat found a leak, 1 error, 2 usage.`,
		Example: `  wasmdbg replay capture.json --module plugin.wasm
  wasmdbg replay crash.har --module plugin.wasm --config 'deny=x-deny' --root-id my_root
  wasmdbg replay tap.json --module plugin.wasm --trace
  wasmdbg replay capture.json --json | jq 'select(.kind=="result")'
  wasmdbg replay --tui capture.json --module plugin.wasm
  wasmdbg replay capture.json --failure-policy fail-reload
  wasmdbg replay capture.json --repeat 5000 --quiet --max-memory 64MiB
  wasmdbg replay capture.json --repeat 2000 --cpuprofile cpu.pb.gz && go tool pprof -top cpu.pb.gz`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, io, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.module, "module", "m", "", `the plugin (.wasm); default: the capture's "module", relative to the capture`)
	f.StringVar(&o.debugFile, "debug-file", "", "a debug build of the same code, to symbolize a stripped module")
	f.BoolVar(&o.trace, "trace", false, "print every host call and allocator call too (the whole wasm:trace stream)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only plugin logs, the crash and the summary")
	f.BoolVar(&o.json, "json", false, "print NDJSON events and a final result record")
	f.DurationVar(&o.timeout, "timeout", replay.DefaultTimeout, "time limit per callback (0: none, faster, but an infinite loop hangs)")
	f.StringVar(&o.maxMemory, "max-memory", "1GiB", "linear memory limit (like 64MiB; Envoy's is 1GiB)")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use the compilation cache in the user cache directory")
	f.BoolVar(&o.tui, "tui", false, "open the interactive UI (a terminal): step callback by callback, continue to the trap, restart")
	f.BoolVar(&o.noRestrictions, "no-restrictions", false, "allow every host call during VM start and inside the allocator (cpp-host before 2022); replays past a restricted_callback trap")
	f.StringVar(&o.logLevel, "log-level", "", "the wasm logger level the plugin sees (trace, debug, info, warn, error, critical); default: the capture's, else trace")
	o.input.register(cmd)
	o.extras.register(cmd)
	return cmd
}

func runReplay(cmd *cobra.Command, io stdio, o replayOptions, input string) error {
	if o.trace && o.quiet {
		return usageErrorf("--trace and --quiet contradict each other")
	}
	pages, err := memoryPages(o.maxMemory)
	if err != nil {
		return err
	}
	ov, err := o.input.overrides(cmd)
	if err != nil {
		return err
	}
	capture, name, err := readReplayInput(io, input)
	if err != nil {
		return err
	}
	ov.Apply(capture)
	if o.logLevel != "" {
		if err := setLogLevel(capture, o.logLevel); err != nil {
			return err
		}
	}
	modPath := o.module
	if modPath == "" {
		if capture.Module == "" {
			return usageErrorf("no module: pass --module M.wasm, or set \"module\" in the capture")
		}
		modPath = capture.Module
		if !filepath.IsAbs(modPath) && input != "-" {
			modPath = filepath.Join(filepath.Dir(input), modPath)
		}
	}
	wasm, err := readModule(modPath)
	if err != nil {
		return err
	}
	if want := capture.ModuleSHA256; want != "" {
		sum := sha256.Sum256(wasm)
		if got := hex.EncodeToString(sum[:]); got != want {
			fmt.Fprintf(io.err, "wasmdbg: warning: %s is not the module the capture was recorded with (sha256 %s, the capture says %s)\n", modPath, got[:12], want[:min(12, len(want))])
		}
	}
	for _, n := range capture.Notes {
		fmt.Fprintf(io.err, "wasmdbg: note: %s: %s\n", name, n)
	}
	resolver := openResolver(io, modPath, wasm, o.debugFile)
	opts := replay.Options{Timeout: o.timeout, MaxMemoryPages: pages, Resolver: resolver}
	if !o.noCache {
		opts.CacheDir = replay.DefaultCacheDir()
	}
	v := replay.Callbacks
	switch {
	case o.trace:
		v = replay.Trace
	case o.quiet:
		v = replay.Quiet
	}
	ro := replay.RunOptions{Verbosity: v, NoRestrictions: o.noRestrictions}
	if err := o.extras.apply(cmd, &ro, &opts); err != nil {
		return err
	}
	if o.tui {
		return replayTUI(cmd.Context(), io, name, modPath, wasm, opts, capture, o.noRestrictions)
	}
	if o.extras.repeat > 0 {
		stop, release := stopOnInterrupt(io, "wasmdbg: stopping after this iteration; the report covers the iterations made (Ctrl-C again quits at once)")
		defer release()
		ro.Stop = stop
	}
	res, err := replayModule(cmd.Context(), io, wasm, opts, capture, ro, o.json, &o.extras)
	if err != nil {
		return err
	}
	if !res.OK() || o.extras.failed() {
		return errTrapped
	}
	return nil
}

// stopOnInterrupt closes stop at the first SIGINT or SIGTERM, after saying
// what happens; the next one ends the program as usual. release undoes it.
func stopOnInterrupt(io stdio, say string) (stop <-chan struct{}, release func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	ch, done := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case <-sig:
			signal.Stop(sig)
			fmt.Fprintln(io.err, say)
			close(ch)
		case <-done:
		}
	}()
	return ch, func() {
		signal.Stop(sig)
		close(done)
	}
}

// replayModule compiles and replays, writing events and the summary (or
// the JSON result) to io.out.
func replayModule(ctx context.Context, io stdio, wasm []byte, opts replay.Options, c *replay.Capture, ro replay.RunOptions, asJSON bool, x *replayExtras) (*replay.Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var sink func(*tracer.Event)
	var enc *json.Encoder
	var r *replay.Renderer
	if asJSON {
		enc = json.NewEncoder(io.out)
		enc.SetEscapeHTML(false)
		sink = func(ev *tracer.Event) { enc.Encode(ev) }
	} else {
		r = replay.NewRenderer(io.out)
		sink = r.Event
	}
	m, err := replay.Compile(ctx, wasm, opts)
	if err != nil {
		var le *replay.LoadError
		if !errors.As(err, &le) || le.Reason == "load_failed" && strings.HasPrefix(le.Message, "Failed to parse corrupted") {
			return nil, err
		}
		res := &replay.Result{Failure: &replay.Failure{Reason: le.Reason, Message: le.Message, Hint: le.Hint}}
		sink(&tracer.Event{Kind: tracer.KindVMFailure, Level: "error", Thread: "1", Time: c.Host.StartTime.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			Reason: le.Reason, Message: le.Message, Hint: le.Hint})
		finishReplay(io, r, enc, res)
		return res, nil
	}
	defer m.Close(ctx)
	ro.Sink = sink
	res, err := x.run(ctx, m, c, ro)
	if err != nil {
		return nil, err
	}
	if enc != nil {
		if err := x.beforeResult(io, enc, m); err != nil {
			return nil, err
		}
	}
	finishReplay(io, r, enc, res)
	if enc == nil {
		if err := x.afterSummary(io, m); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func finishReplay(io stdio, r *replay.Renderer, enc *json.Encoder, res *replay.Result) {
	if enc != nil {
		enc.Encode(res.Record())
		return
	}
	r.Flush()
	res.WriteSummary(io.out)
}

// readReplayInput reads a capture, HAR file or tap trace (or "-").
func readReplayInput(io stdio, input string) (*replay.Capture, string, error) {
	var data []byte
	var err error
	name := input
	if input == "-" {
		name = "stdin"
		data, err = replay.ReadAllLimited(io.in, 1<<30)
	} else {
		var f *os.File
		if f, err = os.Open(input); err == nil {
			data, err = replay.ReadAllLimited(f, 1<<30)
			f.Close()
		}
		name = filepath.Base(input)
	}
	if err != nil {
		return nil, "", readError(input, err)
	}
	c, _, err := replay.ReadInput(name, data)
	if err != nil {
		if looksLikeLog(data) {
			err = fmt.Errorf("%w; this looks like a proxy log: read it with wasmdbg trace %s", err, input)
		}
		return nil, "", &exitErr{code: exitError, err: err}
	}
	return c, name, nil
}

// openResolver opens the module's symbolizer; a module it cannot read is
// still replayed, with frames as the name section has them. It returns an
// untyped nil then, never a nil *symbolize.Module inside the interface.
func openResolver(io stdio, path string, wasm []byte, debugFile string) loc.Resolver {
	opts := symbolize.Options{DebugFile: debugFile, Warn: func(msg string) {
		fmt.Fprintf(io.err, "wasmdbg: warning: %s\n", msg)
	}}
	m, err := symbolize.New(path, wasm, opts)
	if err != nil {
		fmt.Fprintf(io.err, "wasmdbg: warning: frames will not be symbolized: %v\n", err)
		return nil
	}
	return m
}

var levelNames = []string{"trace", "debug", "info", "warn", "error", "critical"}

func setLogLevel(c *replay.Capture, level string) error {
	if level == "warning" {
		level = "warn"
	}
	for i, n := range levelNames {
		if n == level {
			c.Host.LogLevel = abi.LogLevel(i)
			return nil
		}
	}
	return usageErrorf("--log-level: %q is not one of %s", level, strings.Join(levelNames, ", "))
}

// memoryPages parses a size like 64MiB into 64 KiB wasm pages.
func memoryPages(s string) (uint32, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
			if err != nil || n == 0 {
				break
			}
			bytes := n * u.mult
			pages := (bytes + 65535) / 65536
			if pages > 65536 {
				return 0, usageErrorf("--max-memory %s is more than wasm32's 4GiB", s)
			}
			return uint32(pages), nil
		}
	}
	return 0, usageErrorf("--max-memory: %q is not a size like 64MiB or 1GiB", s)
}
