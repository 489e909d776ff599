package admintest

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Metric is one Envoy stat.
type Metric struct {
	// Name is the full stat name as /stats prints it, e.g.
	// "wasm.envoy.wasm.runtime.v8.active" or "wasmcustom.cpp_requests_total".
	Name string
	// Type is "counter", "gauge", "histogram" or "text".
	Type  string
	Value uint64 // counter, gauge
	Text  string // text readout
	// Samples are a histogram's recorded values.
	Samples []float64
	// Extracted is the tag-extracted name Prometheus output is grouped by
	// ("" means Name); Tags are the extracted tags, in order.
	Extracted string
	Tags      []Tag
}

// Tag is an extracted stat tag.
type Tag struct{ Name, Value string }

// Envoy's default histogram buckets (source/common/stats/histogram_impl.cc).
var histogramBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
	30000, 60000, 300000, 600000, 1800000, 3600000}

// SetMetric adds or replaces a stat.
func (s *Server) SetMetric(m Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := m
	s.metrics[m.Name] = &cp
}

// Add increments a counter (creating it) by delta.
func (s *Server) Add(name string, delta uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.metrics[name]
	if !ok {
		m = &Metric{Name: name, Type: "counter"}
		s.metrics[name] = m
	}
	m.Value += delta
}

// SetGauge sets a gauge (creating it).
func (s *Server) SetGauge(name string, v uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.metrics[name]
	if !ok {
		m = &Metric{Name: name, Type: "gauge"}
		s.metrics[name] = m
	}
	m.Value = v
}

// WasmStats loads the stats a proxy with Wasm plugins shows: the runtime's
// created/active VMs, the remote-load cache, a plugin's reload counters and
// a plugin's custom counter, gauge and histogram (reference §6).
func (s *Server) WasmStats(runtime string, created, active uint64) {
	rt := "envoy.wasm.runtime." + runtime
	for _, m := range []Metric{
		{Name: "wasm." + rt + ".created", Type: "counter", Value: created},
		{Name: "wasm." + rt + ".active", Type: "gauge", Value: active},
		{Name: "wasm.remote_load_cache_entries", Type: "gauge"},
		{Name: "wasm.remote_load_cache_hits", Type: "counter"},
		{Name: "wasm.remote_load_cache_misses", Type: "counter"},
		{Name: "wasm.remote_load_cache_negative_hits", Type: "counter"},
		{Name: "wasm.remote_load_fetch_failures", Type: "counter"},
		{Name: "wasm.remote_load_fetch_successes", Type: "counter"},
	} {
		s.SetMetric(m)
	}
}

func (s *Server) sortedMetrics(filter *regexp.Regexp, usedOnly bool) []*Metric {
	var ms []*Metric
	for _, m := range s.metrics {
		if filter != nil && !filter.MatchString(m.Name) {
			continue
		}
		if usedOnly && !m.used() {
			continue
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms
}

func (m *Metric) used() bool {
	switch m.Type {
	case "histogram":
		return len(m.Samples) > 0
	case "text":
		return m.Text != ""
	}
	return m.Value != 0
}

func (m *Metric) extracted() string {
	if m.Extracted != "" {
		return m.Extracted
	}
	return m.Name
}

// filterParam compiles ?filter= as Envoy does (an RE2 regex searched in the
// full name); a bad one is Envoy's 400.
func filterParam(w http.ResponseWriter, q url.Values) (*regexp.Regexp, bool) {
	f := q.Get("filter")
	if f == "" {
		return nil, true
	}
	re, err := regexp.Compile(f)
	if err != nil {
		text(w, http.StatusBadRequest, "Invalid re2 regex")
		return nil, false
	}
	return re, true
}

// serveStats is /stats in its text form (stats_render.cc StatsTextRender):
// text readouts, then counters and gauges by name, then histograms.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	re, ok := filterParam(w, q)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.sortedMetrics(re, q.Has("usedonly"))
	var b strings.Builder
	for _, m := range ms {
		if m.Type == "text" {
			fmt.Fprintf(&b, "%s: \"%s\"\n", m.Name, m.Text)
		}
	}
	for _, m := range ms {
		if m.Type == "counter" || m.Type == "gauge" {
			fmt.Fprintf(&b, "%s: %d\n", m.Name, m.Value)
		}
	}
	for _, m := range ms {
		if m.Type == "histogram" {
			if len(m.Samples) == 0 {
				fmt.Fprintf(&b, "%s: No recorded values\n", m.Name)
			} else {
				fmt.Fprintf(&b, "%s: %s\n", m.Name, quantileSummary(m.Samples))
			}
		}
	}
	text(w, http.StatusOK, b.String())
}

// quantileSummary is ParentHistogramImpl::quantileSummary: "P0(i,c) P25(…)
// … P100(…)" with interval and cumulative values; the fake's interval is
// empty (nan), as after a stats flush with no new samples.
func quantileSummary(samples []float64) string {
	sorted := append([]float64(nil), samples...)
	sort.Float64s(sorted)
	var parts []string
	for _, q := range []float64{0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100} {
		idx := int(q / 100 * float64(len(sorted)-1))
		parts = append(parts, fmt.Sprintf("P%s(nan,%s)", strconv.FormatFloat(q, 'g', -1, 64), strconv.FormatFloat(sorted[idx], 'g', -1, 64)))
	}
	return strings.Join(parts, " ")
}

// servePrometheus is /stats/prometheus (prometheus_stats.cc): per type
// (counters, gauges, then histograms), families sorted by tag-extracted name,
// each "# TYPE" line, its metrics as name{tags} value, and a blank line.
func (s *Server) servePrometheus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	re, ok := filterParam(w, q)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.sortedMetrics(re, q.Has("usedonly"))
	var b strings.Builder
	types := []string{"counter", "gauge"}
	if q.Has("text_readouts") {
		types = append(types, "text")
	}
	types = append(types, "histogram")
	for _, typ := range types {
		groups := map[string][]*Metric{}
		var names []string
		for _, m := range ms {
			if m.Type != typ {
				continue
			}
			e := m.extracted()
			if _, ok := groups[e]; !ok {
				names = append(names, e)
			}
			groups[e] = append(groups[e], m)
		}
		sort.Strings(names)
		for _, e := range names {
			name, ok := promName(e)
			if !ok {
				continue
			}
			ptype := typ
			if typ == "text" {
				ptype = "gauge"
			}
			fmt.Fprintf(&b, "# TYPE %s %s\n", name, ptype)
			g := groups[e]
			sort.Slice(g, func(i, j int) bool { return g[i].Name < g[j].Name })
			for _, m := range g {
				b.WriteString(promLines(name, m))
			}
			b.WriteString("\n")
		}
	}
	text(w, http.StatusOK, b.String())
}

var nonProm = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// promName is PrometheusStatsFormatter::metricName: a name whose first
// segment is the registered custom namespace "wasmcustom" loses it and gets
// no "envoy_" prefix (dropped if what is left is empty or starts with a
// digit); every other name is "envoy_" + the sanitized name.
func promName(extracted string) (string, bool) {
	if rest, ok := strings.CutPrefix(extracted, "wasmcustom."); ok {
		n := nonProm.ReplaceAllString(rest, "_")
		if n == "" || n[0] >= '0' && n[0] <= '9' {
			return "", false
		}
		return n, true
	}
	return "envoy_" + nonProm.ReplaceAllString(extracted, "_"), true
}

func promTags(tags []Tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = fmt.Sprintf("%s=\"%s\"", nonProm.ReplaceAllString(t.Name, "_"), t.Value)
	}
	return strings.Join(parts, ",")
}

func promLines(name string, m *Metric) string {
	tags := promTags(m.Tags)
	switch m.Type {
	case "counter", "gauge":
		return fmt.Sprintf("%s{%s} %d\n", name, tags, m.Value)
	case "text":
		t := promTags(append(append([]Tag(nil), m.Tags...), Tag{"text_value", m.Text}))
		return fmt.Sprintf("%s{%s} 1\n", name, t)
	}
	hist := ""
	if tags != "" {
		hist = tags + ","
	}
	var b strings.Builder
	sum := 0.0
	for _, v := range m.Samples {
		sum += v
	}
	for _, le := range histogramBuckets {
		n := 0
		for _, v := range m.Samples {
			if v <= le {
				n++
			}
		}
		fmt.Fprintf(&b, "%s_bucket{%sle=\"%s\"} %d\n", name, hist, strconv.FormatFloat(le, 'g', 32, 64), n)
	}
	fmt.Fprintf(&b, "%s_bucket{%sle=\"+Inf\"} %d\n", name, hist, len(m.Samples))
	fmt.Fprintf(&b, "%s_sum{%s} %s\n", name, tags, strconv.FormatFloat(sum, 'g', 32, 64))
	fmt.Fprintf(&b, "%s_count{%s} %d\n", name, tags, len(m.Samples))
	return b.String()
}
