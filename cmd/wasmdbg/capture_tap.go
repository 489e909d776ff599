package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/replay"
)

type tapCaptureOptions struct {
	pf       proxyFlags
	configID string
	out      string
	count    int
	maxBody  uint32
	plugin   string
	noRedact bool
	in       inputFlags
}

// addLiveCapture gives `wasmdbg capture` its live form: collect tap traces
// from a running proxy's /tap and write them as a capture.
func addLiveCapture(cmd *cobra.Command, io stdio) {
	var o tapCaptureOptions
	cmd.Use = "capture (--admin ADDR | --pod POD) --config-id ID --out capture.json [--count N]"
	cmd.Long += `

With --admin or --pod, capture collects live traffic: it starts a /tap session
on the proxy for the tap filter whose admin_config has --config-id, turns the
traces into a capture as "capture convert" does, fills in the plugin's name,
root_id, vm_id and configuration from /config_dump (--plugin picks one when
there are several), and writes --out. It stops after --count requests, or on
Ctrl-C with what it has. Bodies longer than --max-body are cut (and noted).
The proxy needs a tap filter in the chain, e.g. in the HTTP filters before the
Wasm filter:

  - name: envoy.filters.http.tap
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.tap.v3.Tap
      common_config: {admin_config: {config_id: wasm_tap}}`
	cmd.Example = "  wasmdbg capture --admin localhost:9901 --config-id wasm_tap --out capture.json --count 5\n" +
		"  wasmdbg capture --pod web-1 -n bookinfo --config-id wasm_tap --out crash.json --count 1\n" + cmd.Example
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if o.pf.ep.Admin == "" && o.pf.ep.Pod == "" {
			if o.configID != "" || o.out != "" {
				return usageErrorf("say which proxy to capture from: --admin ADDR or --pod POD")
			}
			return c.Help()
		}
		return runTapCapture(c, io, &o)
	}
	o.pf.register(cmd, true)
	f := cmd.Flags()
	f.StringVar(&o.configID, "config-id", "", "the config_id of the tap filter's admin_config")
	f.StringVarP(&o.out, "out", "o", "", `where to write the capture ("-" for standard output)`)
	f.IntVar(&o.count, "count", 0, "stop after this many requests (0: until Ctrl-C)")
	f.Uint32Var(&o.maxBody, "max-body", 1<<20, "bytes of each body Envoy keeps (its default is 1024)")
	f.StringVar(&o.plugin, "plugin", "", "the plugin whose configuration goes into the capture, by name, when the proxy has several")
	f.BoolVar(&o.noRedact, "no-redact", false, "keep credential headers")
	o.in.register(cmd)
}

func runTapCapture(cmd *cobra.Command, io stdio, o *tapCaptureOptions) error {
	switch {
	case o.configID == "":
		return usageErrorf("--config-id is required: the config_id of the tap filter's admin_config")
	case o.out == "":
		return usageErrorf("--out is required (\"-\" for standard output)")
	case o.count < 0:
		return usageErrorf("--count must be 0 or more, got %d", o.count)
	}
	ov, err := o.in.overrides(cmd)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ep, err := o.pf.endpoint(ctx)
	if err != nil {
		return err
	}
	c, release, err := ep.Connect(ctx)
	if err != nil {
		return err
	}
	defer release()
	// Which plugin's configuration goes into the capture is settled before
	// any traffic is taken.
	plugin, err := pickPlugin(ctx, io, c, o.plugin)
	if err != nil {
		return err
	}
	ts, err := c.Tap(ctx, admin.TapRequest{ConfigID: o.configID, MaxBodyBytes: o.maxBody})
	if err != nil {
		return err
	}
	until := "Ctrl-C to stop"
	if o.count > 0 {
		until = fmt.Sprintf("stops after %d", o.count)
	}
	fmt.Fprintf(io.err, "wasmdbg: tapping %s (config_id %s); %s\n", c.URL(), o.configID, until)
	traces, err := ts.Collect(ctx, o.count, func(t admin.Trace) {
		fmt.Fprintf(io.err, "wasmdbg: %s\n", t.Summary())
	})
	ts.Close()
	if err != nil && len(traces) == 0 {
		return err
	}
	if err != nil {
		fmt.Fprintf(io.err, "wasmdbg: %v; writing the %d traces received\n", err, len(traces))
	}
	if len(traces) == 0 {
		return fmt.Errorf("no traffic was tapped: send requests through the listener with the tap filter while capture runs")
	}
	var raw []byte
	for _, t := range traces {
		raw = append(raw, t.Raw...)
	}
	cp, err := replay.ParseTap(c.URL()+"/tap", raw)
	if err != nil {
		return err
	}
	// What the dump says about the plugin; the flags win over it.
	if plugin != nil {
		fillPlugin(io, cp, *plugin, o.out)
	}
	ov.Apply(cp)
	if !o.noRedact {
		if n := replay.Redact(cp); n > 0 {
			fmt.Fprintf(io.err, "wasmdbg: redacted %d credential header value(s); --no-redact keeps them\n", n)
		}
	}
	for _, n := range cp.Notes {
		fmt.Fprintf(io.err, "wasmdbg: note: %s\n", n)
	}
	b, err := cp.Encode()
	if err != nil {
		return err
	}
	if o.out == "-" {
		_, err = io.out.Write(b)
		return err
	}
	if err := os.WriteFile(o.out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(io.err, "wasmdbg: wrote %s: %d streams; replay it with wasmdbg replay %s\n", o.out, len(cp.Streams), o.out)
	return nil
}

// pickPlugin finds the plugin in /config_dump whose configuration goes into
// the capture: the one named, or the only HTTP plugin. nil means the dump
// cannot say, and the flags must.
func pickPlugin(ctx context.Context, io stdio, c *admin.Client, name string) (*admin.Plugin, error) {
	ps, err := c.Plugins(ctx)
	if err != nil {
		fmt.Fprintf(io.err, "wasmdbg: note: no plugin configuration from /config_dump (%v); give --config and the ids\n", err)
		return nil, nil
	}
	var pick []admin.Plugin
	var names []string
	for _, p := range ps {
		if p.Kind != "http" {
			continue
		}
		names = append(names, p.Name)
		if name == "" || p.Name == name {
			pick = append(pick, p)
		}
	}
	switch {
	case name != "" && len(pick) == 0:
		return nil, usageErrorf("--plugin %s: the proxy has no HTTP plugin by that name (it has %s)", name, orNone(names))
	case len(pick) == 0:
		fmt.Fprintf(io.err, "wasmdbg: note: /config_dump has no HTTP Wasm plugin; give --config and the ids\n")
		return nil, nil
	case len(pick) > 1:
		return nil, usageErrorf("the proxy has several HTTP plugins (%s): say which with --plugin", strings.Join(names, ", "))
	}
	return &pick[0], nil
}

// fillPlugin copies the plugin's identity and configuration into the
// capture, and its module when the file is here.
func fillPlugin(io stdio, cp *replay.Capture, p admin.Plugin, out string) {
	cp.Plugin.Name, cp.Plugin.RootID, cp.Plugin.VMID = p.Name, p.RootID, p.VMID
	cp.Plugin.Configuration = []byte(p.Configuration)
	cp.Plugin.VMConfiguration = []byte(p.VMConfiguration)
	cp.Plugin.FailurePolicy = strings.ToLower(p.FailurePolicy)
	if f, ok := p.LocalModule(); ok {
		if _, err := os.Stat(f); err == nil && out != "-" {
			if rel, err := filepath.Rel(filepath.Dir(out), f); err == nil {
				f = rel
			}
			cp.Module = f
		}
	}
	fmt.Fprintf(io.err, "wasmdbg: plugin %s from /config_dump (root_id %q, vm_id %q, %d bytes of configuration)\n",
		p.Name, p.RootID, p.VMID, len(p.Configuration))
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
