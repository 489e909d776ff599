package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/replay"
	"github.com/wasmdbg/wasmdbg/serve"
	"github.com/wasmdbg/wasmdbg/tui"
)

type serveOptions struct {
	module, upstream, listen, record string
	config, vmConfig                 string
	rootID, vmID, pluginName         string
	clusters                         []string
	failurePolicy                    string
	workers                          int
	noRedact                         bool
	trace, quiet, json               bool
	logLevel, maxMemory, debugFile   string
	timeout, upstreamTimeout, drain  time.Duration
	noCache, noRestrictions          bool
}

func newServeCmd(io stdio) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve --module M.wasm --upstream URL",
		Short: "Run a plugin as an HTTP filter in front of a real upstream, live, and record what passes as a capture",
		Long: `serve puts a Proxy-Wasm plugin in front of an upstream the way Envoy would,
on replay's host: requests from curl, a browser or a test suite go through the
plugin's callbacks (request headers, body, trailers; the response the same
way), local replies go back to the client, http_calls go to the clusters named
with --cluster, and the upstream gets the request as the plugin left it.

It prints what Envoy would log at trace level on the wasm logger (the
callbacks, the plugin's logs, a crash with its frames symbolized) and one
access-log line per request. --record writes every stream as a capture that
wasmdbg replay reproduces exactly (with one worker); credentials
(authorization, cookie, set-cookie, proxy-authorization) are redacted in it
unless --no-redact.

After a trap the failure policy answers (--failure-policy, Envoy's default
fail-closed: 503 wasm_fail_stream) and serve keeps serving. Each worker is a
VM, like Envoy's per-thread VMs: --workers 4 serves four requests at once.
Ctrl-C (SIGINT) or SIGTERM stops it gracefully: requests in flight finish,
the plugin's root context is shut down, and the recording is written.

Bodies are read whole before the plugin sees them (no streaming), headers reach
it sorted by name (Go's HTTP server keeps no order), gRPC calls are answered
Unavailable.

Exit status: 0 stopped cleanly, 3 the plugin trapped or failed to start during
the session, 1 error, 2 usage.`,
		Example: `  wasmdbg serve --module plugin.wasm --upstream http://127.0.0.1:8080
  wasmdbg serve -m plugin.wasm --upstream http://127.0.0.1:8080 --config 'deny=x-deny' --record capture.json
  curl -H 'x-deny: 1' http://127.0.0.1:10000/admin
  wasmdbg serve -m plugin.wasm --upstream http://localhost:8080 --cluster auth=http://localhost:9000 --workers 4
  wasmdbg replay capture.json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd, io, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.module, "module", "m", "", "the plugin (.wasm); required")
	f.StringVar(&o.upstream, "upstream", "", "where requests go after the plugin, like http://127.0.0.1:8080; required")
	f.StringVar(&o.listen, "listen", "127.0.0.1:10000", "the address to serve on (port 0 picks a free one)")
	f.StringVar(&o.record, "record", "", "write every stream to FILE as a capture (written when serve stops)")
	f.StringArrayVar(&o.clusters, "cluster", nil, "a cluster the plugin may http_call, as name=URL (repeatable)")
	f.StringVar(&o.config, "config", "", "the plugin configuration (text, or @FILE to read it from a file)")
	f.StringVar(&o.vmConfig, "vm-config", "", "the VM configuration (text, or @FILE)")
	f.StringVar(&o.rootID, "root-id", "", "the plugin's root_id")
	f.StringVar(&o.vmID, "vm-id", "", "the VM's vm_id")
	f.StringVar(&o.pluginName, "plugin-name", "serve", "the plugin's name (Istio: <namespace>.<name>)")
	f.StringVar(&o.failurePolicy, "failure-policy", "fail-closed", "after a trap: fail-closed (503 wasm_fail_stream), fail-open (skip the filter) or fail-reload (a new VM)")
	f.IntVar(&o.workers, "workers", 1, "VMs serving at once, like Envoy's worker threads (1: the recording replays exactly)")
	f.BoolVar(&o.noRedact, "no-redact", false, "keep credentials (authorization, cookie, set-cookie, proxy-authorization) in the recording")
	f.BoolVar(&o.trace, "trace", false, "print every host call too (the whole wasm:trace stream)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only plugin logs, crashes and the access log")
	f.BoolVar(&o.json, "json", false, "print NDJSON: the events, a {\"kind\":\"stream\"} record per request, a result per worker at the end")
	f.StringVar(&o.logLevel, "log-level", "trace", "the wasm logger level the plugin sees (trace, debug, info, warn, error, critical)")
	f.DurationVar(&o.timeout, "timeout", replay.DefaultTimeout, "time limit per callback (0: none)")
	f.DurationVar(&o.upstreamTimeout, "upstream-timeout", serve.DefaultUpstreamTimeout, "Envoy's route timeout: an upstream slower than this gets a 504")
	f.DurationVar(&o.drain, "drain", 10*time.Second, "on SIGINT/SIGTERM, how long requests in flight may take to finish")
	f.StringVar(&o.maxMemory, "max-memory", "1GiB", "linear memory limit per VM (like 64MiB; Envoy's is 1GiB)")
	f.StringVar(&o.debugFile, "debug-file", "", "a debug build of the same code, to symbolize a stripped module")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use the compilation cache in the user cache directory")
	f.BoolVar(&o.noRestrictions, "no-restrictions", false, "allow every host call during VM start and inside the allocator")
	return cmd
}

// serveSetup is what the flags amount to.
type serveSetup struct {
	upstream *url.URL
	clusters map[string]*url.URL
	capture  *replay.Capture
	run      replay.RunOptions
	pages    uint32
}

func (o *serveOptions) setup(cmd *cobra.Command) (*serveSetup, error) {
	if o.module == "" {
		return nil, usageErrorf("--module is required: the plugin to serve")
	}
	if o.upstream == "" {
		return nil, usageErrorf("--upstream is required: where requests go, like http://127.0.0.1:8080")
	}
	if o.trace && o.quiet {
		return nil, usageErrorf("--trace and --quiet contradict each other")
	}
	if o.workers < 1 {
		return nil, usageErrorf("--workers %d: give 1 or more", o.workers)
	}
	st := &serveSetup{clusters: map[string]*url.URL{}}
	var err error
	if st.upstream, err = httpURL("--upstream", o.upstream); err != nil {
		return nil, err
	}
	for _, c := range o.clusters {
		name, raw, ok := strings.Cut(c, "=")
		if !ok || name == "" {
			return nil, usageErrorf("--cluster %q: write it as name=URL, like auth=http://127.0.0.1:9000", c)
		}
		if st.clusters[name], err = httpURL("--cluster "+name, raw); err != nil {
			return nil, err
		}
	}
	if st.pages, err = memoryPages(o.maxMemory); err != nil {
		return nil, err
	}
	c := &replay.Capture{Version: replay.CaptureVersion}
	c.Plugin = replay.PluginConfig{Name: o.pluginName, RootID: o.rootID, VMID: o.vmID}
	if c.Plugin.Configuration, err = textOrFile("--config", o.config); err != nil {
		return nil, err
	}
	if c.Plugin.VMConfiguration, err = textOrFile("--vm-config", o.vmConfig); err != nil {
		return nil, err
	}
	if len(c.Plugin.VMConfiguration) == 0 {
		c.Plugin.VMConfiguration = nil
	}
	policy, err := replay.ParseFailurePolicy(o.failurePolicy)
	if err != nil {
		return nil, usageErrorf("--failure-policy: %v", err)
	}
	c.Plugin.FailurePolicy = string(policy)
	if err := setLogLevel(c, o.logLevel); err != nil {
		return nil, err
	}
	c.Host.RandomSeed = 1
	st.capture = c
	st.run = replay.RunOptions{Verbosity: replay.Callbacks, NoRestrictions: o.noRestrictions, FailurePolicy: policy}
	switch {
	case o.trace:
		st.run.Verbosity = replay.Trace
	case o.quiet:
		st.run.Verbosity = replay.Quiet
	}
	return st, nil
}

func httpURL(flag, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, usageErrorf("%s %q: give an http:// URL with a host, like http://127.0.0.1:8080", flag, raw)
	}
	return u, nil
}

func runServe(cmd *cobra.Command, io stdio, o serveOptions) error {
	setup, err := o.setup(cmd)
	if err != nil {
		return err
	}
	wasm, err := readModule(o.module)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	opts := replay.Options{Timeout: o.timeout, MaxMemoryPages: setup.pages, Resolver: openResolver(io, o.module, wasm, o.debugFile)}
	if !o.noCache {
		opts.CacheDir = replay.DefaultCacheDir()
	}
	m, err := replay.Compile(ctx, wasm, opts)
	if err != nil {
		var le *replay.LoadError
		if errors.As(err, &le) && le.Hint != "" {
			return &exitErr{code: exitTrapped, err: fmt.Errorf("%s: %s\nhint: %s", o.module, le.Message, le.Hint)}
		}
		return err
	}
	defer m.Close(ctx)

	if o.record != "" {
		// Fail now, not after an hour of traffic.
		if err := checkWritable(o.record); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return usageErrorf("--listen %s: %v", o.listen, err)
	}
	p := newServePrinter(io, o.json)
	events := p.event
	// On a terminal (and without --json) the traffic shows in the UI.
	var feed *tui.MemSource
	if !o.json && isTerminal(io.out) {
		feed = newServeFeed(o.module, ln.Addr().String(), o.record)
		events = func(e serve.Event) { pushServeEvent(feed, e) }
	}
	srv, err := serve.New(ctx, serve.Options{Module: m, Capture: setup.capture, Upstream: setup.upstream, Clusters: setup.clusters,
		Workers: o.workers, Run: setup.run, Events: events, Redact: !o.noRedact, UpstreamTimeout: o.upstreamTimeout})
	if err != nil {
		ln.Close()
		return err
	}
	sig, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	workers := "1 worker"
	if o.workers > 1 {
		workers = fmt.Sprintf("%d workers", o.workers)
	}
	fmt.Fprintf(io.err, "wasmdbg serve: %s (ABI %s) on http://%s -> %s, %s, %s", filepath.Base(o.module), m.ABI(), ln.Addr(), setup.upstream, workers, setup.capture.Plugin.FailurePolicy)
	if o.record != "" {
		fmt.Fprintf(io.err, ", recording to %s", o.record)
	}
	fmt.Fprintln(io.err, "; Ctrl-C stops")

	var serveErr error
	if feed != nil {
		serveErr = serveTUI(sig, io, feed, served, sourceFiles(o.module, nil, opts.Resolver))
	} else {
		select {
		case <-sig.Done():
			fmt.Fprintln(io.err, "wasmdbg serve: stopping: finishing the requests in flight")
		case serveErr = <-served:
		}
	}
	drain, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	hs.Shutdown(drain)
	capture := srv.Close()
	p.finish(srv.Results())
	if o.record != "" {
		if err := writeRecording(o.record, o.module, wasm, capture); err != nil {
			return err
		}
		fmt.Fprintf(io.err, "wasmdbg serve: recorded %d stream%s to %s; replay them with: wasmdbg replay %s\n",
			len(capture.Streams), plural(len(capture.Streams)), o.record, o.record)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	for _, r := range srv.Results() {
		if r.Trapped || r.Failure != nil {
			return errTrapped
		}
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func checkWritable(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return usageErrorf("--record: %v", err)
	}
	return f.Close()
}

// writeRecording writes the capture next to a temporary name and renames
// it, so an interrupted write never leaves half a capture; the module is
// named relative to the capture, with its digest.
func writeRecording(path, module string, wasm []byte, c *replay.Capture) error {
	if abs, err := filepath.Abs(module); err == nil {
		if dir, err := filepath.Abs(filepath.Dir(path)); err == nil {
			if rel, err := filepath.Rel(dir, abs); err == nil {
				c.Module = rel
			}
		}
	}
	sum := sha256.Sum256(wasm)
	c.ModuleSHA256 = hex.EncodeToString(sum[:])
	data, err := c.Encode()
	if err != nil {
		return fmt.Errorf("encode the recording: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write the recording: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write the recording: %w", err)
	}
	return nil
}

// servePrinter prints the workers' events as they come: Envoy's log lines
// for the trace, the crash symbolized, an access-log line per request; or
// NDJSON.
type servePrinter struct {
	mu  sync.Mutex
	io  stdio
	r   *replay.Renderer
	enc *json.Encoder
}

func newServePrinter(io stdio, asJSON bool) *servePrinter {
	p := &servePrinter{io: io}
	if asJSON {
		p.enc = json.NewEncoder(io.out)
		p.enc.SetEscapeHTML(false)
	} else {
		p.r = replay.NewRenderer(io.out)
	}
	return p
}

func (p *servePrinter) event(e serve.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.enc != nil {
		switch {
		case e.Trace != nil:
			p.enc.Encode(e.Trace)
		case e.Stream != nil:
			e.Stream.Access()
			p.enc.Encode(struct {
				Kind   string `json:"kind"`
				Worker int    `json:"worker"`
				*replay.Stream
			}{"stream", e.Worker, e.Stream})
		}
		return
	}
	switch {
	case e.Trace != nil:
		p.r.Event(e.Trace)
	case e.Stream != nil:
		if c := e.Crash; c != nil {
			p.r.Flush()
			fmt.Fprintf(p.io.out, "=== crash in %s (worker %d): %s\n", c.Callback, e.Worker, c.Message)
			if c.PanicText != "" {
				fmt.Fprintf(p.io.out, "the plugin said before trapping:\n  %s\n", strings.ReplaceAll(strings.TrimRight(c.PanicText, "\n"), "\n", "\n  "))
			}
			fmt.Fprint(p.io.out, c.SymbolizedText())
		}
		p.r.Flush()
		fmt.Fprintln(p.io.out, e.Stream.Access().String())
	}
	p.r.Flush()
}

// finish prints each worker's end: its result record in JSON; in text,
// the custom metrics and notes.
func (p *servePrinter) finish(results []*replay.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, res := range results {
		if p.enc != nil {
			p.enc.Encode(struct {
				Worker int `json:"worker"`
				*replay.ResultRecord
			}{i + 1, res.Record()})
			continue
		}
		for _, m := range res.Metrics {
			fmt.Fprintf(p.io.out, "worker %d: wasmcustom.%s (%s) = %d\n", i+1, m.Name, strings.ToLower(m.Kind), m.Value)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(p.io.out, "worker %d: note: %s\n", i+1, n)
		}
	}
	if p.r != nil {
		p.r.Flush()
	}
}
