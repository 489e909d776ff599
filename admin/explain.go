package admin

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// WasmReport joins the Wasm stats with what explains them: the loaded
// plugins and the number of worker threads.
type WasmReport struct {
	Envoy   string    `json:"envoy,omitempty"` // release, from /server_info
	Workers int       `json:"workers"`         // worker threads (server.concurrency); -1 unknown
	Plugins []Plugin  `json:"-"`               // from /config_dump; nil if unknown
	Stats   WasmStats `json:"stats"`
	// Estimates are ExpectedVMs' answers per runtime (as configured, e.g.
	// "envoy.wasm.runtime.v8"); nil when plugins or workers are unknown.
	Estimates map[string]VMEstimate `json:"estimates,omitempty"`
}

// NewWasmReport fills in the estimate. workers < 0 means unknown; plugins
// nil means unknown.
func NewWasmReport(envoy string, workers int, plugins []Plugin, st WasmStats) WasmReport {
	r := WasmReport{Envoy: envoy, Workers: workers, Plugins: plugins, Stats: st}
	if plugins != nil && workers >= 0 {
		byRuntime := map[string][]Plugin{}
		for _, p := range plugins {
			byRuntime[p.RuntimeFull()] = append(byRuntime[p.RuntimeFull()], p)
		}
		r.Estimates = map[string]VMEstimate{}
		for rt, ps := range byRuntime {
			r.Estimates[rt] = ExpectedVMs(ps, workers)
		}
	}
	return r
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Explain says in words what the numbers mean, one paragraph per line.
func (r WasmReport) Explain() []string {
	var out []string
	head := "envoy"
	if r.Envoy != "" {
		head += " " + r.Envoy
	}
	if r.Workers >= 0 {
		head += ", " + plural(r.Workers, "worker thread", "worker threads")
	}
	if r.Plugins != nil {
		head += ", " + plural(len(r.Plugins), "wasm plugin", "wasm plugins") + " in /config_dump"
	}
	out = append(out, head)

	for _, rt := range r.Stats.Runtimes {
		short := strings.TrimPrefix(rt.Runtime, "envoy.wasm.runtime.")
		out = append(out, fmt.Sprintf("runtime %s: %s VMs active, %s created", short, num(rt.Active), num(rt.Created)))
		if e, ok := r.Estimates[rt.Runtime]; ok {
			out = append(out, "  "+e.explain(rt.Active))
		}
		if rt.Created > rt.Active {
			out = append(out, fmt.Sprintf("  created − active = %s VMs no longer alive: each configuration load first starts a throw-away canary VM, and VMs are replaced on configuration updates and reloads", num(rt.Created-rt.Active)))
		}
	}
	if len(r.Stats.Runtimes) == 0 {
		out = append(out, "no wasm runtime stats: no plugin has loaded since envoy started, or the stats are filtered out (istio keeps the \"wasm\" prefix by default)")
	}
	rts := make([]string, 0, len(r.Estimates))
	for rt := range r.Estimates {
		rts = append(rts, rt)
	}
	sort.Strings(rts)
	for _, rt := range rts {
		e := r.Estimates[rt]
		seen := false
		for _, s := range r.Stats.Runtimes {
			seen = seen || s.Runtime == rt
		}
		if !seen && len(r.Stats.Runtimes) > 0 {
			out = append(out, fmt.Sprintf("runtime %s: no stats, although %s configured for it: envoy may lack this runtime (official builds have only v8), so the plugin did not load",
				strings.TrimPrefix(rt, "envoy.wasm.runtime."), plural(e.Plugins, "plugin is", "plugins are")))
		}
	}
	if r.Stats.VMCount != nil {
		out = append(out, fmt.Sprintf("wasm_vm_count: %s VMs", num(*r.Stats.VMCount)))
	}
	rl := r.Stats.RemoteLoad
	remote := false
	for _, p := range r.Plugins {
		remote = remote || p.Code.Kind == "remote"
	}
	if remote || rl != (RemoteLoad{}) {
		line := fmt.Sprintf("remote modules: %s fetched, %s failed; cache: %s entries, %s hits, %s misses, %s negative hits",
			num(rl.FetchSuccesses), num(rl.FetchFailures), num(rl.CacheEntries), num(rl.CacheHits), num(rl.CacheMisses), num(rl.CacheNegativeHits))
		if rl.FetchFailures > 0 {
			line += "; a failed fetch leaves the plugin unloaded (fail-closed plugins then fail requests)"
		}
		out = append(out, line)
	}
	for _, p := range r.Stats.Plugins {
		var parts []string
		keys := make([]string, 0, len(p.Values))
		for k := range p.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		nonzero := false
		for _, k := range keys {
			parts = append(parts, k+" "+num(p.Values[k]))
			nonzero = nonzero || p.Values[k] != 0 && k != "vm_memory_size"
		}
		name := p.Plugin
		for _, pl := range r.Plugins {
			if nonPromRE.ReplaceAllString(pl.Name, "_") == p.Plugin {
				name = pl.Name // the metric name has it sanitized
				break
			}
		}
		line := "plugin " + name + ": " + strings.Join(parts, ", ")
		if nonzero {
			line += " (reloads follow runtime errors under failure_policy FAIL_RELOAD)"
		}
		out = append(out, line)
	}
	switch {
	case len(r.Stats.Custom) > 0:
		out = append(out, fmt.Sprintf("%s defined by plugins (proxy_define_metric; wasmcustom.<name> in /stats, without the envoy_ prefix in prometheus)",
			plural(len(r.Stats.Custom), "metric", "metrics")))
	default:
		out = append(out, "no plugin metrics: plugins' proxy_define_metric metrics show as wasmcustom.<name> in /stats; if yours defines some, check that the proxy's stats inclusion list keeps them (istio: proxyStatsMatcher)")
	}
	return out
}

// explain compares the estimate with the active gauge.
func (e VMEstimate) explain(active float64) string {
	line := fmt.Sprintf("%s need %s (plugins share VMs only when runtime, vm_id, code and VM configuration are all equal); "+
		"each is expected as a base VM plus a clone on the main thread and on each worker",
		plural(e.Plugins, "plugin", "plugins"), plural(e.PerWorker+e.Singletons, "distinct VM", "distinct VMs"))
	if e.Singletons > 0 {
		line += " (a singleton service: base plus one clone on the main thread)"
	}
	line += ": " + e.Formula()
	exp := float64(e.Expected)
	switch {
	case active == exp:
		line += ", as active shows"
	case active > exp:
		line += fmt.Sprintf("; %s active is more: VMs of a replaced configuration stay until their listeners drain, and FAIL_RELOAD plugins get new VMs after runtime errors", num(active))
	default:
		line += fmt.Sprintf("; %s active is fewer: a plugin may have failed to load or start (wasmdbg trace shows vm_failure events), or some threads have not created their clones yet", num(active))
	}
	return line
}

// Values flattens the report's numbers for comparing scrapes: a stable
// name per number.
func (r WasmReport) Values() map[string]float64 {
	v := map[string]float64{}
	for _, rt := range r.Stats.Runtimes {
		short := strings.TrimPrefix(rt.Runtime, "envoy.wasm.runtime.")
		v["runtime "+short+" active"] = rt.Active
		v["runtime "+short+" created"] = rt.Created
	}
	if r.Stats.VMCount != nil {
		v["wasm_vm_count"] = *r.Stats.VMCount
	}
	rl := r.Stats.RemoteLoad
	for k, x := range map[string]float64{"fetch_successes": rl.FetchSuccesses, "fetch_failures": rl.FetchFailures,
		"cache_entries": rl.CacheEntries, "cache_hits": rl.CacheHits, "cache_misses": rl.CacheMisses, "cache_negative_hits": rl.CacheNegativeHits} {
		v["remote_load "+k] = x
	}
	for _, p := range r.Stats.Plugins {
		for k, x := range p.Values {
			v["plugin "+p.Plugin+" "+k] = x
		}
	}
	for _, m := range r.Stats.Custom {
		for _, s := range m.Samples {
			v[m.Name+s.LabelString()] = s.Value
			if s.Sum != nil {
				v[m.Name+"_sum"+s.LabelString()] = *s.Sum
			}
		}
	}
	return v
}

// WasmReport scrapes /stats/prometheus (required), and for the explanation
// /stats?filter=^wasmcustom\. (the plugins' metric names), /config_dump (the
// plugins) and /server_info (the release); those three are best effort.
// Workers come from the server.concurrency gauge, else from /server_info's
// command line.
func (c *Client) WasmReport(ctx context.Context) (WasmReport, error) {
	mf, custom, err := c.wasmFamilies(ctx)
	if err != nil {
		return WasmReport{}, err
	}
	plugins, err := c.Plugins(ctx)
	if err != nil {
		plugins = nil
	} else if plugins == nil {
		plugins = []Plugin{}
	}
	workers := -1
	if f := mf["envoy_server_concurrency"]; f != nil {
		workers = int(total(f))
	}
	envoy := ""
	if si, err := c.ServerInfo(ctx); err == nil {
		envoy = si.EnvoyVersion()
		if workers < 0 && si.CommandLineOptions.Concurrency > 0 {
			workers = si.CommandLineOptions.Concurrency
		}
	}
	return NewWasmReport(envoy, workers, plugins, ReadWasmStats(mf, custom)), nil
}

// WasmStats scrapes only the numbers: /stats/prometheus, and /stats for
// the plugins' metric names (best effort).
func (c *Client) WasmStats(ctx context.Context) (WasmStats, error) {
	mf, custom, err := c.wasmFamilies(ctx)
	if err != nil {
		return WasmStats{}, err
	}
	return ReadWasmStats(mf, custom), nil
}

func (c *Client) wasmFamilies(ctx context.Context) (map[string]*dto.MetricFamily, []string, error) {
	mf, err := c.Prometheus(ctx)
	if err != nil {
		return nil, nil, err
	}
	var custom []string
	if st, err := c.Stats(ctx, `^wasmcustom\.`); err == nil {
		for _, s := range st {
			custom = append(custom, strings.TrimPrefix(s.Name, "wasmcustom."))
		}
	}
	return mf, custom, nil
}
