package admin

import (
	"crypto/sha256"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// WasmStats is what /stats/prometheus says about Proxy-Wasm: the runtime's
// VM counts, the remote-load cache, per-plugin reload counters and the
// plugins' own metrics (reference §6).
type WasmStats struct {
	Runtimes   []RuntimeStats `json:"runtimes"`
	VMCount    *float64       `json:"wasm_vm_count,omitempty"` // wasm.wasm_vm_count, newest Envoy only
	RemoteLoad RemoteLoad     `json:"remote_load"`
	Plugins    []PluginStats  `json:"plugins,omitempty"`
	Custom     []Metric       `json:"custom,omitempty"`
	// Unclaimed are families outside Envoy's envoy_ namespace that are not
	// known plugin metrics: another registered custom namespace (Istio's
	// istio_* metrics) or plugin metrics wasmdbg could not match.
	Unclaimed []string `json:"unclaimed,omitempty"`
}

// RuntimeStats are wasm.<runtime>.created (counter) and .active (gauge).
type RuntimeStats struct {
	Runtime string  `json:"runtime"` // as configured, e.g. "envoy.wasm.runtime.v8"
	Created float64 `json:"created"`
	Active  float64 `json:"active"`
}

// RemoteLoad are the wasm.remote_load_* stats.
type RemoteLoad struct {
	CacheEntries      float64 `json:"cache_entries"`
	CacheHits         float64 `json:"cache_hits"`
	CacheNegativeHits float64 `json:"cache_negative_hits"`
	CacheMisses       float64 `json:"cache_misses"`
	FetchSuccesses    float64 `json:"fetch_successes"`
	FetchFailures     float64 `json:"fetch_failures"`
}

// PluginStats are the wasm.<plugin>.* counters and gauges Envoy keeps per
// plugin (reload under FAIL_RELOAD, newest releases also memory).
type PluginStats struct {
	Plugin string             `json:"plugin"` // as sanitized in the metric name
	Values map[string]float64 `json:"values"` // vm_reload_backoff, vm_reload_success, vm_reload_failure, vm_reload, vm_memory_size
}

// Metric is one metric family, flattened.
type Metric struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"` // counter, gauge, histogram, untyped
	Samples []Sample `json:"samples"`
}

// Sample is one labelled value of a family; for histograms Value is the
// sample count and Sum the sample sum.
type Sample struct {
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
	Sum    *float64          `json:"sum,omitempty"`
}

// LabelString renders labels as Prometheus does: {a="1",b="2"}, sorted.
func (s Sample) LabelString() string {
	if len(s.Labels) == 0 {
		return ""
	}
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, s.Labels[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

var (
	runtimeRE    = regexp.MustCompile(`^envoy_wasm_(envoy_wasm_runtime_[a-z0-9_]+?)_(created|active)$`)
	pluginStatRE = regexp.MustCompile(`^envoy_wasm_(.+)_(vm_reload_backoff|vm_reload_success|vm_reload_failure|vm_reload|vm_memory_size)$`)
	nonPromRE    = regexp.MustCompile(`[^a-zA-Z0-9_]`)
)

// PrometheusName is the name Envoy's /stats/prometheus gives a custom stat
// created as wasmcustom.<name> (prometheus_stats.cc metricName): the
// namespace stripped, every character outside [a-zA-Z0-9_] turned into '_',
// no envoy_ prefix. ok is false when Envoy drops it (empty, or starting with
// a digit).
func PrometheusName(customName string) (string, bool) {
	n := nonPromRE.ReplaceAllString(customName, "_")
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		return "", false
	}
	return n, true
}

// ReadWasmStats picks the Wasm families out of /stats/prometheus. custom are
// the names of the plugins' metrics as /stats lists them, without the
// "wasmcustom." namespace; with them, the custom families can be told from
// Istio's own metrics, which also lack the envoy_ prefix. Tag extraction
// may have shortened a name (…_value=foo becomes a label), so a family
// matches a custom stat whose sanitized name it starts.
func ReadWasmStats(mf map[string]*dto.MetricFamily, custom []string) WasmStats {
	var ws WasmStats
	var customProm []string
	for _, c := range custom {
		if n, ok := PrometheusName(c); ok {
			customProm = append(customProm, n)
		}
	}
	names := make([]string, 0, len(mf))
	for n := range mf {
		names = append(names, n)
	}
	sort.Strings(names)
	runtimes := map[string]*RuntimeStats{}
	var rtOrder []string
	plugins := map[string]*PluginStats{}
	var plOrder []string
	for _, n := range names {
		f := mf[n]
		v := total(f)
		switch {
		case strings.HasPrefix(n, "envoy_wasm_remote_load_"):
			switch strings.TrimPrefix(n, "envoy_wasm_remote_load_") {
			case "cache_entries":
				ws.RemoteLoad.CacheEntries = v
			case "cache_hits":
				ws.RemoteLoad.CacheHits = v
			case "cache_negative_hits":
				ws.RemoteLoad.CacheNegativeHits = v
			case "cache_misses":
				ws.RemoteLoad.CacheMisses = v
			case "fetch_successes":
				ws.RemoteLoad.FetchSuccesses = v
			case "fetch_failures":
				ws.RemoteLoad.FetchFailures = v
			}
		case n == "envoy_wasm_wasm_vm_count":
			ws.VMCount = &v
		case runtimeRE.MatchString(n):
			m := runtimeRE.FindStringSubmatch(n)
			rt := strings.ReplaceAll(m[1], "envoy_wasm_runtime_", "envoy.wasm.runtime.")
			r, ok := runtimes[rt]
			if !ok {
				r = &RuntimeStats{Runtime: rt}
				runtimes[rt] = r
				rtOrder = append(rtOrder, rt)
			}
			if m[2] == "created" {
				r.Created = v
			} else {
				r.Active = v
			}
		case pluginStatRE.MatchString(n):
			m := pluginStatRE.FindStringSubmatch(n)
			p, ok := plugins[m[1]]
			if !ok {
				p = &PluginStats{Plugin: m[1], Values: map[string]float64{}}
				plugins[m[1]] = p
				plOrder = append(plOrder, m[1])
			}
			p.Values[m[2]] = v
		case !strings.HasPrefix(n, "envoy_"):
			if isCustom(n, customProm) {
				ws.Custom = append(ws.Custom, flatten(f))
			} else {
				ws.Unclaimed = append(ws.Unclaimed, n)
			}
		}
	}
	for _, rt := range rtOrder {
		ws.Runtimes = append(ws.Runtimes, *runtimes[rt])
	}
	for _, p := range plOrder {
		ws.Plugins = append(ws.Plugins, *plugins[p])
	}
	return ws
}

func isCustom(family string, customProm []string) bool {
	for _, c := range customProm {
		if c == family || strings.HasPrefix(c, family+"_") {
			return true
		}
	}
	return false
}

// total sums a family's samples (a counter or gauge split by labels).
func total(f *dto.MetricFamily) float64 {
	sum := 0.0
	for _, m := range f.GetMetric() {
		sum += value(m)
	}
	return sum
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Summary != nil:
		return float64(m.GetSummary().GetSampleCount())
	}
	return math.NaN()
}

func flatten(f *dto.MetricFamily) Metric {
	out := Metric{Name: f.GetName(), Type: strings.ToLower(f.GetType().String())}
	for _, m := range f.GetMetric() {
		s := Sample{Value: value(m)}
		if h := m.GetHistogram(); h != nil {
			sum := h.GetSampleSum()
			s.Sum = &sum
		}
		for _, l := range m.GetLabel() {
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			s.Labels[l.GetName()] = l.GetValue()
		}
		out.Samples = append(out.Samples, s)
	}
	sort.Slice(out.Samples, func(i, j int) bool { return out.Samples[i].LabelString() < out.Samples[j].LabelString() })
	return out
}

// VMKey is what makes two plugins share a Wasm VM in Envoy: the same
// runtime, vm_id, code and VM configuration (proxy-wasm-cpp-host keys its VM
// cache on these). Plugins with equal keys share one VM per thread.
func (p Plugin) VMKey() string {
	h := sha256.Sum256(p.Code.Inline)
	return strings.Join([]string{p.RuntimeName(), p.VMID, p.Code.Kind, p.Code.Filename, p.Code.URI, p.Code.SHA256, p.Code.EnvVar,
		fmt.Sprintf("%x", h[:8]), p.VMConfiguration}, "\x00")
}

// ExpectedVMs estimates how many VMs a set of plugins keeps alive in an
// Envoy with the given number of worker threads. Per distinct VM key
// (plugins with equal keys share VMs) Envoy keeps the base VM it loaded and
// configured, plus a thread-local clone on every thread that runs the
// filter: each worker and, since Envoy's thread-local slots include it, the
// main thread; that is workers+2. A singleton WasmService runs only on the
// main thread: base plus one clone. The throw-away "canary" clone made to
// test each configuration is destroyed at once, so it counts in created but
// not in active. This is read from Envoy and proxy-wasm-cpp-host code and
// matches published observations (8 plugins, concurrency 2: active 32,
// created 40 = 32 + 8 canaries); it is an estimate, not a guarantee.
func ExpectedVMs(plugins []Plugin, workers int) VMEstimate {
	perWorker := map[string]bool{}
	singleton := map[string]bool{}
	for _, p := range plugins {
		if p.Kind == "service" && p.Singleton {
			singleton[p.VMKey()] = true
			continue
		}
		perWorker[p.VMKey()] = true
	}
	e := VMEstimate{Plugins: len(plugins), PerWorker: len(perWorker), Workers: workers}
	for k := range singleton {
		if !perWorker[k] {
			e.Singletons++
		}
	}
	e.Expected = e.PerWorker*(workers+2) + e.Singletons*2
	return e
}

// VMEstimate is ExpectedVMs' answer.
type VMEstimate struct {
	Plugins    int `json:"plugins"`
	PerWorker  int `json:"per_worker_vms"` // distinct VM keys of filters and per-worker services
	Singletons int `json:"singleton_vms"`  // distinct VM keys only singleton services use
	Workers    int `json:"workers"`
	Expected   int `json:"expected_active"`
}

// Formula shows how Expected was reached: "3 × (2 + 2) + 1 × 2 = 14".
func (e VMEstimate) Formula() string {
	s := fmt.Sprintf("%d × (%d + 2)", e.PerWorker, e.Workers)
	if e.Singletons > 0 {
		s += fmt.Sprintf(" + %d × 2", e.Singletons)
	}
	return fmt.Sprintf("%s = %d", s, e.Expected)
}
