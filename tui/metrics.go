package tui

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// metricsView keeps every sample of every metric the source reported, up
// to historyLen per metric, for the sparklines.
type metricsView struct {
	names   []string // sorted: the plugin's own metrics first, then by name
	hist    map[string]*metricHist
	samples int
	first   time.Time
	last    time.Time
	err     string
	cur     cursor
}

type metricHist struct {
	kind   string
	custom bool
	vals   []float64 // oldest first
}

const historyLen = 120

func (v *metricsView) init() { v.hist = map[string]*metricHist{} }

func (v *metricsView) add(msg metricsMsg) {
	if msg.err != nil {
		v.err = msg.err.Error()
		return
	}
	v.err = ""
	if v.samples == 0 {
		v.first = msg.at
	}
	v.samples++
	v.last = msg.at
	added := false
	for _, mt := range msg.metrics {
		h := v.hist[mt.Name]
		if h == nil {
			h = &metricHist{}
			v.hist[mt.Name] = h
			v.names = append(v.names, mt.Name)
			added = true
		}
		h.kind, h.custom = mt.Kind, mt.Custom
		h.vals = append(h.vals, mt.Value)
		if len(h.vals) > historyLen {
			h.vals = append(h.vals[:0], h.vals[len(h.vals)-historyLen:]...)
		}
	}
	if added {
		sort.SliceStable(v.names, func(i, j int) bool {
			a, b := v.hist[v.names[i]], v.hist[v.names[j]]
			if a.custom != b.custom {
				return a.custom
			}
			return v.names[i] < v.names[j]
		})
	}
}

func (m *Model) metricsRows() int { return max(m.contentHeight()-2, 1) }

func (m *Model) renderMetrics(w, h int) string {
	v := &m.metrics
	var b strings.Builder
	if m.met == nil {
		b.WriteString(rule("Metrics", w) + "\n\n")
		for _, l := range wrap("This source has no metrics: a log file carries none. Metrics come from a live proxy (wasmdbg attach: Envoy's Wasm stats and the plugin's custom metrics, sampled over time) and from a replay (the metrics the plugin defined).", w-4) {
			b.WriteString("  " + l + "\n")
		}
		return b.String()
	}
	title := "Metrics"
	switch {
	case v.samples == 0:
		title += " · waiting for the first sample"
	case m.info.Live:
		title += fmt.Sprintf(" · %s every %s, last at %s", plural(v.samples, "sample"), m.opts.MetricsEvery, v.last.Format("15:04:05"))
	default:
		title += fmt.Sprintf(" · %s (one after each replay step)", plural(v.samples, "sample"))
	}
	b.WriteString(rule(title, w) + "\n")
	if v.err != "" {
		b.WriteString(fit(" "+stBad.Render("error: "+v.err), w) + "\n")
	}
	spark := min(max(w-70, 8), 40)
	nameW := max(w-2-8-12-spark-3, 16)
	b.WriteString(stDim.Render(fit(fmt.Sprintf("  %-*s %-8s %12s %s", nameW, "NAME", "TYPE", "VALUE", "HISTORY (counters: change per sample)"), w)) + "\n")
	if len(v.names) == 0 && v.samples > 0 {
		b.WriteString("\n  The source reported no metric yet.")
		return b.String()
	}
	rows := m.metricsRows()
	if v.err != "" {
		rows--
	}
	v.cur.fix(len(v.names), rows)
	for i := v.cur.top; i < v.cur.top+rows && i < len(v.names); i++ {
		name := v.names[i]
		mh := v.hist[name]
		val := math.NaN()
		if len(mh.vals) > 0 {
			val = mh.vals[len(mh.vals)-1]
		}
		series := mh.vals
		if mh.kind == "counter" {
			series = deltas(mh.vals)
		}
		label := name
		if mh.custom {
			label = stFunc.Render(name)
		}
		line := fmt.Sprintf("%s %-8s %12s %s", fit(label, nameW), mh.kind, formatValue(val), sparkline(series, spark))
		b.WriteString(cursorRow(line, w, i == v.cur.pos) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func deltas(vals []float64) []float64 {
	if len(vals) < 2 {
		return nil
	}
	out := make([]float64, len(vals)-1)
	for i := 1; i < len(vals); i++ {
		out[i-1] = vals[i] - vals[i-1]
	}
	return out
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return thousands64(int64(v))
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func thousands64(n int64) string {
	if n < 0 {
		return "-" + thousands64(-n)
	}
	return thousands(int(n))
}

var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last width values, scaled between their minimum and
// maximum; a flat series is drawn at the bottom.
func sparkline(vals []float64, width int) string {
	if len(vals) > width {
		vals = vals[len(vals)-width:]
	}
	if len(vals) == 0 {
		return ""
	}
	lo, hi := vals[0], vals[0]
	for _, v := range vals {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	var b strings.Builder
	for _, v := range vals {
		k := 0
		if hi > lo {
			k = int((v - lo) / (hi - lo) * float64(len(sparks)-1))
		}
		b.WriteRune(sparks[k])
	}
	return b.String()
}

// plural is "1 sample", "2 samples".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
