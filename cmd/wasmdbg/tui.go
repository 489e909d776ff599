package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/attach"
	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/serve"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
	"github.com/wasmdbg/wasmdbg/tui"
)

type tuiOptions struct {
	module     string
	sourceDirs []string
	follow     bool
	view       string
	snapshot   bool
	size       string
	keys       []string
	idle       time.Duration
}

func newTUICmd(io stdio) *cobra.Command {
	var o tuiOptions
	cmd := &cobra.Command{
		Use:   "tui [FILE|CAPTURE|-]",
		Short: "Browse crashes, call trees, logs and metrics in an interactive terminal UI",
		Long: `tui opens the interactive terminal UI over a proxy log (any framing
wasmdbg trace reads, or the NDJSON of wasmdbg trace --json), or over a replay
of a capture (anything wasmdbg replay reads: a capture, a HAR file, Envoy tap
traces; the module is --module or the capture's "module"). A replay runs to
its first trap; then s steps one callback, c continues to the next trap, r
restarts. Views (tab, or 1-5):

  Crashes   every trap with its callback, trap text and the plugin's panic
            message; its frames symbolized with --module; the source code
            around each frame's line
  Timeline  callbacks in time order, expandable into the host calls they
            made, with decoded arguments, statuses and durations
  Logs      plugin logs and other lines, filtered by level (l) and plugin (p)
  Metrics   (attach and replay sources)
  Replay    step, continue, restart (replay sources)

? shows every key; / searches, n and N move between matches; q quits.
Source files are looked up as DWARF or the source map names them: at that
path, in the source map's embedded sources, beside the module, then under each
--source-dir.

The UI needs a terminal. --snapshot prints one screen as text instead, after
loading the whole input and pressing --keys, for scripts and bug reports.`,
		Example: `  wasmdbg tui --module plugin.wasm envoy.log
  kubectl logs deploy/gateway -c istio-proxy | wasmdbg tui --module plugin.wasm -
  wasmdbg tui --follow --module plugin.wasm /var/log/envoy.log
  wasmdbg tui --module plugin.wasm --source-dir ~/src/plugin envoy.log
  wasmdbg tui --module plugin.wasm capture.json
  wasmdbg tui --snapshot --view crashes --size 100x30 --module plugin.wasm envoy.log`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTUI(cmd.Context(), io, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.module, "module", "m", "", "symbolize crash frames with this module (.wasm); its directory is searched for sources")
	f.StringArrayVar(&o.sourceDirs, "source-dir", nil, "also look for source files under `DIR` (repeatable)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep reading a growing file or standard input")
	f.StringVar(&o.view, "view", "", "the view to open: "+strings.Join(tui.ViewNames(), ", "))
	f.BoolVar(&o.snapshot, "snapshot", false, "print one screen as text and exit (no terminal needed)")
	f.StringVar(&o.size, "size", "120x40", "with --snapshot: the screen size, WIDTHxHEIGHT")
	f.StringArrayVar(&o.keys, "keys", nil, "with --snapshot: keys to press first, e.g. --keys enter --keys down (repeatable)")
	f.DurationVar(&o.idle, "idle", 500*time.Millisecond, "with --follow: show a record held open (a crash waiting for its backtrace) after this much quiet")
	return cmd
}

func runTUI(ctx context.Context, io stdio, o tuiOptions, args []string) error {
	name := "-"
	if len(args) == 1 {
		name = args[0]
	}
	w, h, err := parseSize(o.size)
	switch {
	case err != nil:
		return usageErrorf("--size: %v", err)
	case o.snapshot && o.follow:
		return usageErrorf("--snapshot reads the whole input; it cannot --follow")
	case !o.snapshot && len(o.keys) > 0:
		return usageErrorf("--keys goes with --snapshot")
	case o.idle <= 0:
		return usageErrorf("--idle must be positive, got %s", o.idle)
	case o.view != "" && !validView(o.view):
		return usageErrorf("--view %q: want one of %s", o.view, strings.Join(tui.ViewNames(), ", "))
	case name == "-" && isTerminal(io.in):
		return usageErrorf("give a log file, or pipe one in: %s tui envoy.log", "wasmdbg")
	case !o.snapshot && !isTerminal(io.out):
		return usageErrorf("the UI needs a terminal; use --snapshot to print a screen, or wasmdbg trace for text")
	}
	for _, k := range o.keys {
		if _, err := tui.ParseKey(k); err != nil {
			return usageErrorf("--keys: %v", err)
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()

	if name != "-" && isReplayInput(name) {
		return runTUIReplay(ctx, io, o, name, w, h)
	}
	var resolver *symbolize.Module
	var warnings []string
	if o.module != "" {
		m, err := symbolize.Open(o.module, symbolize.Options{Warn: func(msg string) { warnings = append(warnings, msg) }})
		if err != nil {
			return err
		}
		resolver = m
	}
	in, display, closer, err := openInput(io, name)
	if err != nil {
		return err
	}
	if o.follow {
		_, isFile := in.(*os.File)
		in = tracer.Follow(ctx, in, isFile && name != "-", o.idle, 250*time.Millisecond)
	} else if f, ok := in.(*os.File); ok {
		defer limitMemoryFor(f)()
	}
	fo := tui.FileOptions{Follow: o.follow, Closer: closer}
	if resolver != nil {
		fo.Resolver, fo.Module = resolver, o.module
	}
	src := tui.NewFileSource(display, in, fo)
	opts := tui.Options{View: o.view, Files: sourceFiles(o.module, o.sourceDirs, resolver)}
	if o.snapshot {
		defer src.Close()
	}
	err = showSource(ctx, io, src, opts, o.snapshot, tui.SnapshotOptions{View: o.view, Width: w, Height: h, Keys: o.keys})
	for _, w := range warnings {
		fmt.Fprintf(io.err, "wasmdbg: warning: %s\n", w)
	}
	return err
}

// isReplayInput reports whether the file is something wasmdbg replay reads
// (a capture, a HAR file, Envoy tap traces) rather than a log: its first
// JSON object says so (replay.DetectFormat).
func isReplayInput(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, b)
	b = bytes.TrimLeft(b[:n], " \t\r\n\ufeff")
	if len(b) == 0 || b[0] != '{' && b[0] != '[' {
		return false
	}
	_, err = replay.DetectFormat(b)
	return err == nil
}

// runTUIReplay opens the UI over a replay of a capture: it runs to the
// first trap, then steps, continues and restarts as the user asks.
func runTUIReplay(ctx context.Context, std stdio, o tuiOptions, input string, w, h int) error {
	if o.follow {
		return usageErrorf("--follow reads a growing log; %s is a replay input", input)
	}
	capture, name, err := readReplayInput(std, input)
	if err != nil {
		return err
	}
	modPath := o.module
	if modPath == "" {
		if capture.Module == "" {
			return usageErrorf("no module: pass --module M.wasm, or set \"module\" in the capture")
		}
		modPath = capture.Module
		if !filepath.IsAbs(modPath) {
			modPath = filepath.Join(filepath.Dir(input), modPath)
		}
	}
	wasm, err := readModule(modPath)
	if err != nil {
		return err
	}
	resolver := openResolver(std, modPath, wasm, "")
	ropts := replay.Options{Timeout: replay.DefaultTimeout, CacheDir: replay.DefaultCacheDir()}
	if resolver != nil {
		ropts.Resolver = resolver
	}
	src, err := newReplaySource(ctx, name, modPath, wasm, ropts, capture, o.snapshot, false)
	if err != nil {
		return err
	}
	defer src.Close()
	return showSource(ctx, std, src, tui.Options{View: o.view, Files: sourceFiles(modPath, o.sourceDirs, resolver)},
		o.snapshot, tui.SnapshotOptions{View: o.view, Width: w, Height: h, Keys: o.keys})
}

// newReplaySource compiles the module for a replay source. A module the
// host would refuse becomes a source holding that VM failure.
func newReplaySource(ctx context.Context, name, modPath string, wasm []byte, ropts replay.Options, c *replay.Capture, toEnd, noRestrictions bool) (tui.Source, error) {
	mod, err := replay.Compile(ctx, wasm, ropts)
	if err != nil {
		var le *replay.LoadError
		if !errors.As(err, &le) {
			return nil, err
		}
		src := tui.NewMemSource(tui.Info{Kind: tui.KindReplay, Name: name, Module: modPath}, nil)
		src.Push(tracer.Event{Kind: tracer.KindVMFailure, Level: "error", Reason: le.Reason, Message: le.Message, Hint: le.Hint})
		src.End()
		return src, nil
	}
	ro := tui.ReplayOptions{Name: name, Module: mod, Capture: c, ModuleName: modPath, RunToTrap: true, RunToEnd: toEnd, NoRestrictions: noRestrictions}
	if ropts.Resolver != nil {
		ro.Resolver = ropts.Resolver
	}
	return tui.NewReplaySource(ro), nil
}

// replayTUI is `wasmdbg replay --tui`: the UI over the replay, which runs
// to its first trap and then steps as the user asks.
func replayTUI(ctx context.Context, std stdio, name, modPath string, wasm []byte, opts replay.Options, c *replay.Capture, noRestrictions bool) error {
	if !isTerminal(std.out) {
		return usageErrorf("--tui needs a terminal; without it replay prints the trace as text")
	}
	src, err := newReplaySource(ctx, name, modPath, wasm, opts, c, false, noRestrictions)
	if err != nil {
		return err
	}
	defer src.Close()
	return showSource(ctx, std, src, tui.Options{Files: sourceFiles(modPath, nil, opts.Resolver)}, false, tui.SnapshotOptions{})
}

// sourceFiles is where the UI finds the source a frame names: beside the
// module, under dirs, and among the sources the module's source map
// embeds, as the symbolizer r (a *symbolize.Module) read them.
func sourceFiles(module string, dirs []string, r loc.Resolver) *tui.SourceFiles {
	f := &tui.SourceFiles{Module: module, Dirs: dirs}
	if m, ok := r.(*symbolize.Module); ok && m != nil {
		f.Embedded = m
	}
	return f
}

// demoTUI is `wasmdbg demo` on a terminal: the bundled capture replayed
// through the bundled C++ plugin, in the UI. The plugin's sources are built
// into wasmdbg with it (fixtures.Fixture.Sources), so a selected frame shows
// its lines from any working directory. snapshot prints one screen instead
// (tests).
func demoTUI(ctx context.Context, std stdio, f fixtures.Fixture, wasm []byte, noCache, snapshot bool, so tui.SnapshotOptions) error {
	opts := replay.Options{Timeout: replay.DefaultTimeout}
	if r := openResolver(std, "plugin.wasm", wasm, ""); r != nil {
		opts.Resolver = r
	}
	if !noCache {
		opts.CacheDir = replay.DefaultCacheDir()
	}
	src, err := newReplaySource(ctx, "demo (the C++ fixture plugin)", "plugin.wasm", wasm, opts, replay.DemoCapture(), snapshot, false)
	if err != nil {
		return err
	}
	defer src.Close()
	return showSource(ctx, std, src, tui.Options{View: so.View, Files: &tui.SourceFiles{FS: f.Sources()}}, snapshot, so)
}

// attachTUI is `wasmdbg attach` on a terminal: the session in the UI. The
// UI restores the levels when it ends (the source's Close); what the
// session said meanwhile that the UI did not show (the restore outcomes) is
// printed once the terminal is back.
func attachTUI(ctx context.Context, std stdio, s *attach.Session, notes *tui.Notes, files *tui.SourceFiles) error {
	src := tui.NewAttachSource(s, notes)
	runErr := showSource(ctx, std, src, tui.Options{Files: files}, false, tui.SnapshotOptions{})
	closeErr := s.Close() // done by the UI already; this returns its result
	printNotes(std, notes)
	if closeErr != nil {
		return fmt.Errorf("restoring levels: %w", closeErr)
	}
	return runErr
}

// printNotes prints what an attach session said that the UI did not show.
func printNotes(std stdio, notes *tui.Notes) {
	if notes == nil {
		return
	}
	for _, n := range notes.Unshown() {
		fmt.Fprintf(std.err, "wasmdbg: %s\n", n)
	}
}

// newServeFeed is the UI's source for `wasmdbg serve`: the events the
// server calls back with.
func newServeFeed(module, addr, record string) *tui.MemSource {
	notice := "q stops serving"
	if record != "" {
		notice += " and writes " + filepath.Base(record)
	}
	return tui.NewMemSource(tui.Info{Kind: tui.KindServe, Name: filepath.Base(module) + " on http://" + addr, Live: true, Notice: notice, Module: module}, nil)
}

// pushServeEvent passes one of serve's events to the UI: the trace events
// (their thread is the worker), and each stream's access-log line.
func pushServeEvent(feed *tui.MemSource, e serve.Event) {
	switch {
	case e.Trace != nil:
		feed.Push(*e.Trace)
	case e.Stream != nil:
		feed.Push(tracer.Event{Kind: tracer.KindOther, Level: "info", Thread: strconv.Itoa(e.Worker), Origin: "access log", Message: e.Stream.Access().String()})
	}
}

// serveTUI runs the UI while the server serves, until the user quits, a
// signal comes (ctx) or the server stops by itself; it returns the
// server's error, if it stopped by itself. The caller then shuts down as
// without the UI.
func serveTUI(ctx context.Context, std stdio, feed *tui.MemSource, served <-chan error, files *tui.SourceFiles) error {
	uictx, cancel := context.WithCancel(ctx)
	defer cancel()
	var serveErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case serveErr = <-served:
			cancel()
		case <-uictx.Done():
		}
	}()
	err := tui.Run(uictx, feed, tui.Options{Files: files}, tui.RunOptions{Out: std.out})
	cancel()
	<-done
	if err != nil {
		fmt.Fprintf(std.err, "wasmdbg serve: the UI ended: %v\n", err)
	}
	fmt.Fprintln(std.err, "wasmdbg serve: stopping: finishing the requests in flight")
	return serveErr
}

// showSource runs the UI over src, or prints a snapshot of it.
func showSource(ctx context.Context, std stdio, src tui.Source, opts tui.Options, snapshot bool, so tui.SnapshotOptions) error {
	// The UI holds every event it has read, compactly, and throws away the
	// decoding garbage around them: collecting at 50% growth instead of Go's
	// 100% keeps the peak near the live heap (a million events: peak heap
	// 120 MB instead of 170 MB, for a 138 MB log). GOGC still wins.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(50))
	}
	if snapshot {
		out, err := tui.Snapshot(ctx, src, opts, so)
		if err != nil {
			return err
		}
		_, err = std.out.Write([]byte(out))
		return err
	}
	return tui.Run(ctx, src, opts, tui.RunOptions{Out: std.out})
}

// limitMemoryFor keeps the UI's memory below the size of a large log it
// loads whole: the events it keeps take about half the file's size
// (40-byte rows, strings once), and a soft memory limit at 0.65 of it makes
// the collector clear the decoding garbage before the process outgrows the
// file (a million-line, 138 MB log: peak RSS 143 MB without, 114 MB with,
// in the same time). GOMEMLIMIT still wins; small files need no limit. It
// returns the function that puts the previous limit back.
func limitMemoryFor(f *os.File) func() {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < 64<<20 || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(st.Size() * 65 / 100)
	return func() { debug.SetMemoryLimit(prev) }
}

// openInput opens FILE, or standard input for "-".
func openInput(std stdio, name string) (io.Reader, string, io.Closer, error) {
	if name == "-" {
		return std.in, "<stdin>", nil, nil
	}
	f, err := openLog(name)
	if err != nil {
		return nil, "", nil, err
	}
	return f, name, f, nil
}

func validView(v string) bool {
	for _, n := range tui.ViewNames() {
		if strings.EqualFold(v, n) {
			return true
		}
	}
	return false
}

// parseSize reads WIDTHxHEIGHT.
func parseSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 20 || h < 5 || w > 1000 || h > 1000 {
		return 0, 0, fmt.Errorf("%q is not WIDTHxHEIGHT between 20x5 and 1000x1000", s)
	}
	return w, h, nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f any) bool {
	t, ok := f.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(t.Fd())
}
