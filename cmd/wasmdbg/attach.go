package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/attach"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
	"github.com/wasmdbg/wasmdbg/tui"
)

type attachOptions struct {
	pf                  proxyFlags
	selector, container string
	level               string
	logFile, logCmd     string
	module              string
	asJSON, all         bool
}

func newAttachCmd(io stdio) *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach (POD | -l SELECTOR | --admin ADDR --log-file F | --admin ADDR --log-cmd CMD)",
		Short: "Raise a live proxy's wasm log level, follow and decode its log, and put the level back on exit",
		Long: `attach connects to a running proxy, raises its wasm logger (--level, default
debug; trace adds the wasm:trace host<->VM call stream), follows its log and
prints plugin logs, calls, crashes with symbolized backtraces, VM load failures
and findings as they arrive.

A pod is reached through the Kubernetes API as kubectl does (kubeconfig,
--context, -n; a port-forward to the admin port, WebSocket first with SPDY
fallback), and its proxy container's log is followed. With -l, every running
pod that matches is followed, its events marked with the pod and merged in
time order; pods that come and go are picked up and dropped. A local Envoy is
reached with --admin, and its log read from a file (--log-file) or a command
(--log-cmd "docker logs -f envoy").

The level goes back to what it was on Ctrl-C, SIGTERM, SIGHUP, an error or a
dropped connection (re-established to restore, with retries). What attach
changes is recorded before it changes it, so after a SIGKILL the next attach,
or wasmdbg level --restore, puts it back. What was restored is printed.

Crash frames are symbolized with --module, or for a local Envoy with the
plugin module its /config_dump names when that file is here.`,
		Example: `  wasmdbg attach productpage-v1-7795568889-j4dhl -n bookinfo --module filter.wasm
  wasmdbg attach -l app=productpage -n bookinfo --level trace --json
  wasmdbg attach --admin localhost:9901 --log-file /var/log/envoy.log
  wasmdbg attach --admin localhost:9901 --log-cmd "docker logs -f --tail 0 envoy"
  kubectl wasmdbg attach -l app=gateway -n envoy-gateway-system -c envoy --admin-port 19000`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.pf.ep.Pod = args[0]
			}
			return runAttach(cmd.Context(), io, o)
		},
	}
	f := cmd.Flags()
	o.pf.register(cmd, false)
	o.pf.registerKube(cmd)
	f.StringVarP(&o.selector, "selector", "l", "", "attach to every running pod with these labels (e.g. app=web)")
	f.StringVarP(&o.container, "container", "c", "", "the proxy's container (default: istio-proxy, else envoy, else the only one)")
	f.StringVar(&o.level, "level", "debug", "what to raise the wasm logger to: debug (plugin logs) or trace (also every host<->VM call)")
	f.StringVar(&o.logFile, "log-file", "", "with --admin: follow this log file from its end")
	f.StringVar(&o.logCmd, "log-cmd", "", "with --admin: run this shell command and read its output as the log")
	f.StringVarP(&o.module, "module", "m", "", "symbolize crash frames with this module (.wasm)")
	f.BoolVar(&o.asJSON, "json", false, "print events as NDJSON (wasmdbg trace --json's format), including non-Wasm lines")
	f.BoolVar(&o.all, "all", false, "also print log lines that are not about Wasm")
	return cmd
}

func (o attachOptions) check() error {
	ep := o.pf.ep
	modes := 0
	for _, set := range []bool{ep.Pod != "", o.selector != "", ep.Admin != ""} {
		if set {
			modes++
		}
	}
	switch {
	case modes == 0:
		return usageErrorf("say which proxy: a pod name, -l SELECTOR, or --admin ADDR with --log-file or --log-cmd")
	case modes > 1:
		return usageErrorf("give one of a pod name, -l SELECTOR and --admin")
	case ep.Admin != "" && (o.logFile == "") == (o.logCmd == ""):
		return usageErrorf("--admin needs the proxy's log: exactly one of --log-file FILE and --log-cmd COMMAND")
	case ep.Admin == "" && (o.logFile != "" || o.logCmd != ""):
		return usageErrorf("--log-file and --log-cmd are for a local envoy (--admin); a pod's log is read through kubernetes")
	case ep.Admin != "" && o.container != "":
		return usageErrorf("-c is for pods")
	}
	return nil
}

func runAttach(ctx context.Context, io stdio, o attachOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	lvl, err := admin.ParseLevel(o.level)
	if err != nil {
		return usageErrorf("--level: %v", err)
	}
	opts := attach.Options{
		Endpoint: o.pf.ep, Selector: o.selector, Container: o.container, Level: lvl,
		Notify: func(msg string) { fmt.Fprintf(io.err, "wasmdbg: %s\n", msg) },
	}
	switch {
	case o.logFile != "":
		opts.Log = attach.LogFile(o.logFile)
	case o.logCmd != "":
		opts.Log = attach.LogCommand(o.logCmd)
	}
	if o.module != "" {
		m, err := symbolize.Open(o.module, symbolize.Options{Warn: func(msg string) { fmt.Fprintf(io.err, "wasmdbg: warning: %s\n", msg) }})
		if err != nil {
			return err
		}
		opts.Module, opts.ModuleName = m, o.module
	}
	// Ctrl-C, SIGTERM and SIGHUP end the session; Close then restores.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// On a terminal (and without --json) the session opens in the UI; its
	// messages then go to the UI instead of over it.
	var notes *tui.Notes
	if !o.asJSON && isTerminal(io.out) {
		notes = tui.NewNotes()
		opts.Notify = notes.Add
	}
	s, err := attach.Start(ctx, opts)
	if err != nil {
		printNotes(io, notes)
		if ctx.Err() != nil && !attach.NotRestored(err) {
			return nil // interrupted while starting; what was changed is restored and reported
		}
		return err
	}
	if notes != nil {
		return attachTUI(ctx, io, s, notes, sourceFiles(o.module, nil, opts.Module))
	}
	runErr := printEvents(ctx, io, s, o)
	closeErr := s.Close()
	switch {
	case closeErr != nil:
		return fmt.Errorf("restoring levels: %w", closeErr)
	case runErr != nil:
		return runErr
	}
	return nil
}

// printEvents prints the session's events until it ends or ctx is done.
func printEvents(ctx context.Context, io stdio, s *attach.Session, o attachOptions) error {
	var jw *tracer.JSONWriter
	if o.asJSON {
		jw = tracer.NewJSONWriter(io.out)
	}
	for {
		evs, err := s.Next(ctx)
		for i := range evs {
			var werr error
			if jw != nil {
				werr = jw.Write(&evs[i])
			} else {
				werr = attach.WriteEvent(io.out, &evs[i], o.all)
			}
			if werr != nil {
				return werr
			}
		}
		if jw != nil {
			if err := jw.Flush(); err != nil {
				return err
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, errEOF), ctx.Err() != nil:
			return nil
		default:
			return err
		}
	}
}

// errEOF is io.EOF, named outside the functions whose stdio parameter is
// called io.
var errEOF = io.EOF
