package main

import (
	"context"
	"fmt"
	"os/signal"
	"sort"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/admin"
)

func newMetricsCmd(io stdio) *cobra.Command {
	var pf proxyFlags
	var asJSON bool
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "metrics (--admin ADDR | --pod POD) [--json] [--watch 5s]",
		Short: "Show the proxy's Wasm VM stats and the plugins' own metrics, explained",
		Long: `metrics reads /stats/prometheus and explains the Wasm numbers: VMs created and
active per runtime against what the loaded plugins and worker threads make
expected, remote module fetches and their cache, reloads after runtime errors,
and the metrics plugins define with proxy_define_metric (wasmcustom.<name> in
/stats, without the envoy_ prefix in prometheus). With --watch it scrapes
again at each interval and prints what changed.`,
		Example: `  wasmdbg metrics --admin localhost:15000
  wasmdbg metrics --admin localhost:9901 --watch 5s
  wasmdbg metrics --pod productpage-v1-7795568889-j4dhl -n bookinfo --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch < 0 || watch > 0 && watch < 100*time.Millisecond {
				return usageErrorf("--watch %v: give an interval of at least 100ms", watch)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ep, err := pf.endpoint(ctx)
			if err != nil {
				return err
			}
			c, release, err := ep.Connect(ctx)
			if err != nil {
				return err
			}
			defer release()
			r, err := c.WasmReport(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSONLine(io, metricsJSON(r, time.Now(), nil)); err != nil {
					return err
				}
			} else {
				printWasmReport(io, r)
			}
			if watch == 0 {
				return nil
			}
			return watchMetrics(ctx, io, c, r, watch, asJSON)
		},
	}
	pf.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (one object per scrape with --watch)")
	cmd.Flags().DurationVar(&watch, "watch", 0, "scrape again at this interval and print the changes, until interrupted")
	return cmd
}

func printWasmReport(io stdio, r admin.WasmReport) {
	for _, l := range r.Explain() {
		fmt.Fprintln(io.out, l)
	}
	if len(r.Stats.Custom) > 0 {
		fmt.Fprintln(io.out)
		tw := tabwriter.NewWriter(io.out, 0, 0, 2, ' ', 0)
		for _, m := range r.Stats.Custom {
			for _, s := range m.Samples {
				v := fmtValue(s.Value)
				if s.Sum != nil {
					v = fmt.Sprintf("count %s, sum %s", v, fmtValue(*s.Sum))
				}
				fmt.Fprintf(tw, "  %s%s\t%s\t%s\n", m.Name, s.LabelString(), m.Type, v)
			}
		}
		tw.Flush()
	}
	if len(r.Stats.Unclaimed) > 0 {
		fmt.Fprintf(io.out, "\nother metrics outside envoy_ (another custom namespace such as istio's, or plugin metrics not matched): %d families, e.g. %s\n",
			len(r.Stats.Unclaimed), r.Stats.Unclaimed[0])
	}
}

func fmtValue(f float64) string { return fmt.Sprint(f) }

func metricsJSON(r admin.WasmReport, at time.Time, deltas map[string]float64) map[string]any {
	m := map[string]any{"time": at.UTC().Format(time.RFC3339Nano), "report": r, "explanation": r.Explain()}
	if deltas != nil {
		m["changes"] = deltas
	}
	return m
}

// watchMetrics scrapes at each tick and prints the values that changed.
func watchMetrics(ctx context.Context, io stdio, c *admin.Client, prev admin.WasmReport, every time.Duration, asJSON bool) error {
	t := time.NewTicker(every)
	defer t.Stop()
	last := prev.Values()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			r, err := c.WasmReport(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				fmt.Fprintf(io.err, "%s: %v\n", now.Format(time.TimeOnly), err)
				continue
			}
			cur := r.Values()
			deltas := map[string]float64{}
			for k, v := range cur {
				if old, ok := last[k]; !ok || old != v {
					deltas[k] = v - old
				}
			}
			last = cur
			if asJSON {
				if err := writeJSONLine(io, metricsJSON(r, now, deltas)); err != nil {
					return err
				}
				continue
			}
			keys := make([]string, 0, len(deltas))
			for k := range deltas {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(keys) == 0 {
				fmt.Fprintf(io.out, "%s  no change\n", now.Format(time.TimeOnly))
				continue
			}
			for _, k := range keys {
				fmt.Fprintf(io.out, "%s  %s = %s (%+g)\n", now.Format(time.TimeOnly), k, fmtValue(cur[k]), deltas[k])
			}
		}
	}
}
