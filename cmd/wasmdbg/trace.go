package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
)

type traceOptions struct {
	tree, stats, json, follow, strict bool
	perfetto, module                  string
	idle                              time.Duration
}

func newTraceCmd(io stdio) *cobra.Command {
	var o traceOptions
	cmd := &cobra.Command{
		Use:   "trace [FILE…|-]",
		Short: "Decode proxy logs: wasm:trace call trees, plugin logs, crashes, VM failures, findings",
		Long: `trace reads Envoy and Istio logs in any framing (Envoy's default with or without
[%g:%#], Istio text with tabs or spaces, Istio JSON, kubectl --prefix, docker
compose, CI timestamps, CRI files, cloud logging exports, nginx error logs) and
turns them into events: wasm:trace calls with their numbers decoded (map types,
statuses, actions), plugin logs, crashes with every backtrace frame (V8, the 2020
layout, wasmtime, WAMR, WAVM, wazero, nginx hosts) linked to the plugin's panic
text and the callback they ended, VM load failures with a hint, and findings:
host calls made where they cannot work, failed statuses the plugin ignored, and
known crash signatures with their fix.

The default output shows crashes and failures first, then findings, then a
summary. --tree prints the call tree per context, --stats per-callback counts
and latency and per-host-call statuses, --json one event per line (the NDJSON
contract of DESIGN.md §3.2), --perfetto a trace for ui.perfetto.dev.

With --module, crash frames get file:line from the module's DWARF, source map
or name section. --follow keeps reading a growing file (or standard input) and
prints events as they arrive; Ctrl-C prints the summary.

Exit status: 0 ok, 1 error, 2 usage, 3 the log shows a crash or a VM failure.`,
		Example: `  wasmdbg trace envoy.log
  kubectl logs deploy/gateway -c istio-proxy | wasmdbg trace -
  wasmdbg trace --module plugin.wasm envoy.log
  wasmdbg trace --tree envoy.log
  wasmdbg trace --stats envoy.log
  wasmdbg trace --json envoy.log | jq 'select(.kind == "crash")'
  wasmdbg trace --perfetto trace.json envoy.log
  wasmdbg trace --follow /var/log/envoy.log`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrace(cmd.Context(), io, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.tree, "tree", false, "print the call tree per context")
	f.BoolVar(&o.stats, "stats", false, "print per-callback counts and latency, per-host-call counts and failed statuses, plugin logs by level")
	f.BoolVar(&o.json, "json", false, "print events as NDJSON (with --stats: one JSON document)")
	f.StringVar(&o.perfetto, "perfetto", "", "also write a Chrome Trace Event file for ui.perfetto.dev to `OUT.json`")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep reading a growing file or standard input; Ctrl-C ends")
	f.BoolVar(&o.strict, "strict", false, "stop at the first line that looks like a known format but does not parse")
	f.StringVarP(&o.module, "module", "m", "", "symbolize crash frames with this module (.wasm)")
	f.DurationVar(&o.idle, "idle", 500*time.Millisecond, "with --follow: emit a record held open (a crash waiting for its backtrace) after this much quiet")
	return cmd
}

func runTrace(ctx context.Context, io stdio, o traceOptions, args []string) error {
	switch {
	case o.tree && o.stats:
		return usageErrorf("--tree and --stats are different outputs: choose one")
	case o.tree && o.json:
		return usageErrorf("--tree prints text; use --json alone for events")
	case o.follow && len(args) > 1:
		return usageErrorf("--follow reads one input, got %d", len(args))
	case o.follow && (o.tree || o.perfetto != ""):
		return usageErrorf("--follow cannot be combined with --tree or --perfetto, which need the whole input")
	case o.idle <= 0:
		return usageErrorf("--idle must be positive, got %s", o.idle)
	}
	if len(args) == 0 {
		args = []string{"-"}
	}
	var resolver *symbolize.Module
	if o.module != "" {
		m, err := symbolize.Open(o.module, symbolize.Options{
			Warn: func(msg string) { fmt.Fprintf(io.err, "wasmdbg: warning: %s\n", msg) },
		})
		if err != nil {
			return err
		}
		resolver = m
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if o.follow {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}

	t := &traceRun{io: io, o: o}
	if o.perfetto != "" {
		// Created first: a path that cannot be written is said before a
		// long input is read, not after.
		f, err := os.Create(o.perfetto)
		if err != nil {
			return fmt.Errorf("--perfetto: %w", err)
		}
		defer f.Close()
		t.perfettoFile = f
	}
	if o.stats {
		t.stats = tracer.NewStats()
	}
	if o.json && !o.stats {
		t.jw = tracer.NewJSONWriter(io.out)
	}
	for _, name := range args {
		if err := t.input(ctx, name, len(args) > 1, resolver); err != nil {
			return err
		}
	}
	return t.finish()
}

// traceRun holds the outputs across inputs.
type traceRun struct {
	io       stdio
	o        traceOptions
	stats    *tracer.Stats
	jw       *tracer.JSONWriter
	report   tracer.Report
	sum      tracer.Summary
	lines    int
	contexts []*tracer.Context
	kept     []tracer.Event // for --perfetto
	// perfettoFile is --perfetto's output, created before reading.
	perfettoFile *os.File
	failed       bool // a crash or VM failure was seen
}

func (t *traceRun) input(ctx context.Context, name string, several bool, resolver *symbolize.Module) error {
	var src io.Reader
	display := name
	if name == "-" {
		src, display = t.io.in, "<stdin>"
		if isTerminal(t.io.in) {
			fmt.Fprintln(t.io.err, "wasmdbg: reading a log from standard input (end it with Ctrl-D; or give a file: wasmdbg trace envoy.log)")
		}
	} else {
		f, err := openLog(name)
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	if t.o.follow {
		_, isFile := src.(*os.File)
		tail := isFile && name != "-"
		src = tracer.Follow(ctx, src, tail, t.o.idle, 250*time.Millisecond)
	}
	rd := tracer.NewReader(src)
	defer func() { t.lines += rd.Lines() }()

	if t.stats != nil {
		var check func(*tracer.Record) error
		if t.o.strict {
			check = func(r *tracer.Record) error {
				if r.Malformed != "" {
					return strictError(display, r.Line, r.Malformed)
				}
				return nil
			}
		}
		if err := t.stats.ReadAll(rd, check); err != nil {
			var se *strictErr
			if errors.As(err, &se) {
				return err
			}
			return readError(display, err)
		}
		if t.stats.Crashes > 0 || t.stats.VMFailures > 0 {
			t.failed = true
		}
		return nil
	}

	opts := tracer.Options{File: display, SetFile: several, Strict: t.o.strict, Tree: t.o.tree || t.o.perfetto != ""}
	if resolver != nil {
		opts.Resolver = resolver
	}
	d := tracer.NewDecoder(opts)
	err := tracer.ScanRecords(rd, d, func(e *tracer.Event) error {
		if e.Kind == tracer.KindCrash || e.Kind == tracer.KindVMFailure {
			t.failed = true
		}
		if t.o.perfetto != "" && e.Kind != tracer.KindCall && e.Kind != tracer.KindOther {
			t.kept = append(t.kept, *e)
		}
		switch {
		case t.jw != nil:
			if err := t.jw.Write(e); err != nil {
				return err
			}
			if t.o.follow {
				return t.jw.Flush()
			}
		case t.o.follow && !t.o.tree:
			return tracer.WriteEventText(t.io.out, e)
		default:
			t.report.Add(e)
		}
		return nil
	})
	var me *tracer.MalformedError
	if errors.As(err, &me) {
		return strictError(display, me.Line, me.Reason)
	}
	if err != nil {
		return readError(display, err)
	}
	t.report.CountFrom(d)
	t.addSummary(d.Summary())
	t.contexts = append(t.contexts, d.Contexts()...)
	return nil
}

// noWasmLines explains a log in which nothing was about Wasm: Envoy writes
// plugin logs and the call stream only at the wasm logger's level.
const noWasmLines = "wasmdbg: note: no Wasm lines in the input: Envoy logs a plugin's messages only when the wasm logger's level lets them through (info by default; the wasm:trace calls need trace): raise it with wasmdbg level --admin ADDR wasm=debug (or --pod POD), or follow the proxy with wasmdbg attach"

// strictErr is a malformed line under --strict.
type strictErr struct{ msg string }

func (e *strictErr) Error() string { return e.msg }

func strictError(file string, line int, reason string) error {
	return &strictErr{fmt.Sprintf("%s:%d: %s (without --strict such lines are counted and skipped)", file, line, reason)}
}

// addSummary adds one input's counts to the total.
func (t *traceRun) addSummary(s tracer.Summary) {
	a := &t.sum
	a.Records += s.Records
	a.Calls += s.Calls
	a.Callbacks += s.Callbacks
	a.PluginLogs += s.PluginLogs
	a.Crashes += s.Crashes
	a.VMFailures += s.VMFailures
	a.Findings += s.Findings
	a.Other += s.Other
	a.Malformed += s.Malformed
	if a.FirstMalformed == "" {
		a.FirstMalformed = s.FirstMalformed
	}
	a.Unreturned += s.Unreturned
	a.TruncatedRecords += s.TruncatedRecords
	if a.FindingCounts == nil {
		a.FindingCounts, a.LogLevels = map[string]int{}, map[string]int{}
	}
	for k, v := range s.FindingCounts {
		a.FindingCounts[k] += v
	}
	for k, v := range s.LogLevels {
		a.LogLevels[k] += v
	}
}

func (t *traceRun) finish() error {
	out := t.io.out
	switch {
	case t.stats != nil && t.o.json:
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(t.stats.JSON()); err != nil {
			return err
		}
	case t.stats != nil:
		if err := t.stats.WriteText(out); err != nil {
			return err
		}
	case t.jw != nil:
		if err := t.jw.Flush(); err != nil {
			return err
		}
	case t.o.tree:
		if len(t.contexts) == 0 {
			fmt.Fprintln(out, "no wasm:trace calls in the input (enable them with: wasmdbg level set wasm:trace)")
		} else if err := tracer.WriteTree(out, t.contexts); err != nil {
			return err
		}
	case t.o.follow:
		if err := t.report.WriteText(out, t.sum, t.lines); err != nil {
			return err
		}
	default:
		if err := t.report.WriteText(out, t.sum, t.lines); err != nil {
			return err
		}
		if t.lines > 0 && t.sum.Records == t.sum.Other {
			fmt.Fprintln(t.io.err, noWasmLines)
		}
	}
	if f := t.perfettoFile; f != nil {
		if err := tracer.WritePerfetto(f, t.contexts, t.kept); err != nil {
			return fmt.Errorf("write Perfetto trace: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write Perfetto trace: %w", err)
		}
		fmt.Fprintf(t.io.err, "wasmdbg: wrote %s; open it in https://ui.perfetto.dev\n", t.o.perfetto)
	}
	if t.failed {
		return errTrapped
	}
	return nil
}
