package admin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// StatKind says how a /stats line printed its value.
type StatKind string

const (
	StatNumber    StatKind = "number"    // a counter or gauge: "name: 12" (the text form does not say which)
	StatText      StatKind = "text"      // a text readout: `name: "value"`
	StatHistogram StatKind = "histogram" // "name: P0(…) P25(…) …" or "name: No recorded values"
)

// Stat is one line of /stats in its text form.
type Stat struct {
	Name  string   `json:"name"`
	Kind  StatKind `json:"kind"`
	Value uint64   `json:"value,omitempty"` // StatNumber
	Text  string   `json:"text,omitempty"`  // StatText: the readout; StatHistogram: the summary as printed
}

// Stats reads /stats?filter=<regex> (all stats when filter is empty). Envoy
// applies filter as an RE2 regular expression to full stat names, so a
// plugin's custom metrics are "wasmcustom\." and the runtime's "^wasm\.".
func (c *Client) Stats(ctx context.Context, filter string) ([]Stat, error) {
	q := ""
	if filter != "" {
		q = "filter=" + url.QueryEscape(filter)
	}
	r := request{method: http.MethodGet, path: "/stats", query: q}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.code == http.StatusBadRequest:
		// e.g. "Invalid re2 regex" for a bad filter.
		return nil, &StatusError{Request: r.String(), Status: resp.code, Message: snippet(resp.body)}
	case resp.code != http.StatusOK || !isText(resp.contentType):
		return nil, c.notAdmin(r, resp, "200 text/plain \"<name>: <value>\" lines")
	}
	st, err := ParseStats(bytes.NewReader(resp.body))
	if err != nil {
		return nil, c.notAdmin(r, resp, "200 text/plain \"<name>: <value>\" lines")
	}
	return st, nil
}

func isText(ct string) bool { return ct == "" || strings.HasPrefix(ct, "text/plain") }

// ParseStats reads the text form of /stats (envoy
// source/server/admin/stats_render.cc StatsTextRender): "name: 12",
// `name: "text"`, "name: P0(nan,0) …" or "name: No recorded values" for
// histograms, and in the detailed histogram modes a "name:" line followed by
// indented "  totals=…" lines, which are kept as the histogram's text.
func ParseStats(r io.Reader) ([]Stat, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	var out []Stat
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "  ") && len(out) > 0 && out[len(out)-1].Kind == StatHistogram {
			h := &out[len(out)-1]
			h.Text = strings.TrimSpace(h.Text + " " + strings.TrimSpace(line))
			continue
		}
		name, val, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("line %d: %q is not a \"<name>: <value>\" line", n, snippet([]byte(line)))
		}
		val = strings.TrimPrefix(val, " ")
		st := Stat{Name: name}
		switch {
		case strings.HasPrefix(val, `"`) && strings.HasSuffix(val, `"`) && len(val) >= 2:
			st.Kind, st.Text = StatText, val[1:len(val)-1]
		case val == "" || val == "No recorded values" || strings.HasPrefix(val, "P0(") || strings.HasPrefix(val, "B"):
			st.Kind, st.Text = StatHistogram, val
		default:
			v, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: stat %s: value %q is not a number", n, name, snippet([]byte(val)))
			}
			st.Kind, st.Value = StatNumber, v
		}
		out = append(out, st)
	}
	return out, sc.Err()
}

// PrometheusText reads /stats/prometheus as Envoy wrote it.
func (c *Client) PrometheusText(ctx context.Context) ([]byte, error) {
	r := request{method: http.MethodGet, path: "/stats/prometheus"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.code != http.StatusOK || !isText(resp.contentType) {
		return nil, c.notAdmin(r, resp, "200 text/plain in the prometheus text format")
	}
	return resp.body, nil
}

// Prometheus reads /stats/prometheus into metric families by name.
func (c *Client) Prometheus(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	b, err := c.PrometheusText(ctx)
	if err != nil {
		return nil, err
	}
	mf, err := ParsePrometheus(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("GET %s/stats/prometheus: %w", c.URL(), err)
	}
	return mf, nil
}

// ParsePrometheus reads Prometheus text exposition format with expfmt (the
// format Envoy's /stats/prometheus writes: "# TYPE" lines, "{}" for metrics
// without tags, a blank line after each family). Metric and label names are
// checked with UTF-8 validation, which accepts everything Envoy emits.
func ParsePrometheus(r io.Reader) (mf map[string]*dto.MetricFamily, err error) {
	// The parser is a state machine over untrusted input; make sure a bug in
	// it cannot take the program down.
	defer func() {
		if p := recover(); p != nil {
			mf, err = nil, fmt.Errorf("prometheus text: parser failed: %v", p)
		}
	}()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err = p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("prometheus text: %w", err)
	}
	return mf, nil
}
