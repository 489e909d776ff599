package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/attach"
)

// proxyFlags are the flags that say which proxy a command talks to.
type proxyFlags struct {
	ep attach.Endpoint
}

func (p *proxyFlags) register(cmd *cobra.Command, withPod bool) {
	f := cmd.Flags()
	f.StringVar(&p.ep.Admin, "admin", "", "admin address of a local envoy: host:port or URL (istio: localhost:15000, envoy examples: localhost:9901)")
	f.DurationVar(&p.ep.Timeout, "timeout", admin.DefaultTimeout, "how long to wait for each admin answer")
	if withPod {
		f.StringVar(&p.ep.Pod, "pod", "", "reach this pod's admin port through a port-forward instead of --admin")
		p.registerKube(cmd)
	}
}

func (p *proxyFlags) registerKube(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&p.ep.Namespace, "namespace", "n", "", "the pod's namespace (default: the kubeconfig context's)")
	f.StringVar(&p.ep.Context, "context", "", "kubeconfig context to use")
	f.StringVar(&p.ep.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.IntVar(&p.ep.AdminPort, "admin-port", attach.DefaultAdminPort, "envoy's admin port inside the pod")
}

// endpoint checks the flags and resolves the pod's namespace.
func (p *proxyFlags) endpoint(ctx context.Context) (attach.Endpoint, error) {
	if err := p.ep.Check(); err != nil {
		return p.ep, usageErrorf("%v", err)
	}
	return p.ep.Resolve(ctx)
}

func newLevelCmd(io stdio) *cobra.Command {
	var pf proxyFlags
	var asJSON, restore, force bool
	cmd := &cobra.Command{
		Use:   "level [get | [set] LOGGER=LEVEL… | [set] LEVEL] (--admin ADDR | --pod POD)",
		Short: "Show or change envoy logger levels, or put back what an interrupted attach changed",
		Long: `Without arguments, level lists every envoy logger and its level. With
LOGGER=LEVEL arguments (or istioctl's LOGGER:LEVEL) it changes them, all in one
request; a bare LEVEL means the wasm logger, the one plugin logs and the
wasm:trace stream go to. Levels: trace debug info warning (or warn) error
critical off. The verbs get and set may be written (level get, level set
wasm:trace) and change nothing.

--restore puts back the levels a wasmdbg attach changed and could not restore
(it was killed with SIGKILL, or the proxy was unreachable when it ended): attach
records what it changes in a marker file before changing it.`,
		Example: `  wasmdbg level --admin localhost:9901
  wasmdbg level --admin localhost:15000 trace
  wasmdbg level set wasm:trace --admin localhost:15000
  wasmdbg level --admin localhost:15000 wasm=debug http=info
  wasmdbg level --pod productpage-v1-7795568889-j4dhl -n bookinfo wasm:trace
  wasmdbg level --admin localhost:15000 --restore`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// DESIGN's verbs: "level get" lists, "level set X" changes.
			if len(args) > 0 && (args[0] == "get" || args[0] == "set") {
				if args[0] == "get" && len(args) > 1 {
					return usageErrorf("level get takes no arguments")
				}
				if args[0] == "set" && len(args) == 1 {
					return usageErrorf("level set needs LOGGER=LEVEL or a LEVEL for the wasm logger")
				}
				args = args[1:]
			}
			changes, err := attach.ParseChanges(args)
			if err != nil {
				return usageErrorf("%v", err)
			}
			if restore && len(changes) > 0 {
				return usageErrorf("--restore takes no level arguments")
			}
			ctx := cmd.Context()
			ep, err := pf.endpoint(ctx)
			if err != nil {
				return err
			}
			switch {
			case restore:
				return runRestore(ctx, io, ep, force, asJSON)
			case len(changes) > 0:
				return runSetLevels(ctx, io, ep, changes, asJSON)
			}
			return runListLevels(ctx, io, ep, asJSON)
		},
	}
	pf.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&restore, "restore", false, "put back the levels an interrupted attach left changed")
	cmd.Flags().BoolVar(&force, "force", false, "with --restore: restore even if the attach that changed them still runs")
	return cmd
}

func runListLevels(ctx context.Context, io stdio, ep attach.Endpoint, asJSON bool) error {
	c, release, err := ep.Connect(ctx)
	if err != nil {
		return err
	}
	defer release()
	ls, err := c.Loggers(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(io, ls)
	}
	tw := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', 0)
	for _, l := range ls {
		fmt.Fprintf(tw, "%s\t%s\n", l.Name, l.Level)
	}
	tw.Flush()
	noteMarker(io, ep)
	return nil
}

// noteMarker tells the user when an earlier attach left levels changed.
func noteMarker(io stdio, ep attach.Endpoint) {
	store, err := attach.DefaultStore()
	if err != nil {
		return
	}
	m, err := store.Load(ep.Target())
	if err != nil || m == nil {
		return
	}
	state := "was interrupted"
	if m.Alive() {
		state = fmt.Sprintf("still runs (pid %d)", m.PID)
	}
	for _, ch := range m.Changes {
		fmt.Fprintf(io.err, "note: wasmdbg attach of %s %s; it set %s from %s to %s (wasmdbg level --restore puts it back)\n",
			m.Started.Local().Format(time.DateTime), state, ch.Logger, ch.From, ch.To)
	}
}

func runSetLevels(ctx context.Context, io stdio, ep attach.Endpoint, changes []admin.Logger, asJSON bool) error {
	c, release, err := ep.Connect(ctx)
	if err != nil {
		return err
	}
	defer release()
	before, err := c.Loggers(ctx)
	if err != nil {
		return err
	}
	var done []attach.Change
	for _, ch := range changes {
		from, ok := before.Get(ch.Name)
		if !ok {
			return fmt.Errorf("%w; nothing was changed", attach.UnknownLogger(ch.Name, before))
		}
		done = append(done, attach.Change{Logger: ch.Name, From: from, To: ch.Level})
	}
	after, err := c.SetLevels(ctx, changes...)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(io, map[string]any{"changes": done})
	}
	for _, ch := range done {
		now, _ := after.Get(ch.Logger)
		if ch.From == now {
			fmt.Fprintf(io.out, "%s: already %s\n", ch.Logger, now)
		} else {
			fmt.Fprintf(io.out, "%s: %s -> %s\n", ch.Logger, ch.From, now)
		}
	}
	return nil
}

func runRestore(ctx context.Context, io stdio, ep attach.Endpoint, force, asJSON bool) error {
	store, err := attach.DefaultStore()
	if err != nil {
		return err
	}
	t := ep.Target()
	m, err := store.Load(t)
	if err != nil {
		return err
	}
	if m == nil {
		if asJSON {
			return writeJSON(io, map[string]any{"restored": []attach.Outcome{}})
		}
		fmt.Fprintf(io.out, "nothing to restore for %s: no marker in %s\n", t, store.Dir)
		return nil
	}
	if m.Alive() && !force {
		return fmt.Errorf("wasmdbg attach (pid %d) still runs and will restore %s when it ends; use --force to restore now", m.PID, t)
	}
	outs, err := attach.Restore(context.WithoutCancel(ctx), ep.Connector(), store, m, attach.Retry{Attempts: 3, Wait: 500 * time.Millisecond, MaxWait: 2 * time.Second})
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(io, map[string]any{"restored": outs})
	}
	for _, o := range outs {
		fmt.Fprintln(io.out, o)
	}
	return nil
}

func writeJSON(io stdio, v any) error {
	enc := json.NewEncoder(io.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONLine writes v as one line of NDJSON.
func writeJSONLine(io stdio, v any) error {
	return json.NewEncoder(io.out).Encode(v)
}
