package replay

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/symbolize"
)

// TestCPUProfile profiles the C++ fixture over 200 requests and reads the
// profile back as `go tool pprof` does: the plugin's functions are named,
// carry file and line from DWARF, the call counts are exact, and the
// request handler is where the plugin spends its time.
func TestCPUProfile(t *testing.T) {
	f, _ := fixtures.Get("cpp")
	wasm, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	sym, err := symbolize.New("plugin.wasm", wasm, symbolize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Compile(context.Background(), wasm, Options{Resolver: sym, Profile: true, CacheDir: testCacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	const n = 200
	if _, _, err := Repeat(context.Background(), m, leakCapture(""), RunOptions{}, n); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.WriteProfile(&buf); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatalf("go tool pprof could not read it: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if p.DefaultSampleType != "cpu" || len(p.SampleType) != 2 || p.SampleType[1].Unit != "nanoseconds" {
		t.Errorf("sample types %v, default %q", p.SampleType, p.DefaultSampleType)
	}
	// Flat calls and cumulative time per function name.
	calls := map[string]int64{}
	cum := map[string]int64{}
	cumCalls := map[string]int64{}
	lines := map[string]profile.Line{}
	for _, s := range p.Sample {
		leaf := s.Location[0].Line
		calls[leaf[len(leaf)-1].Function.Name] += s.Value[0]
		seen := map[string]bool{}
		for _, l := range s.Location {
			for _, ln := range l.Line {
				if !seen[ln.Function.Name] {
					seen[ln.Function.Name] = true
					cum[ln.Function.Name] += s.Value[1]
					cumCalls[ln.Function.Name] += s.Value[0]
				}
				if ln.Line > 0 {
					lines[ln.Function.Name] = ln
				}
			}
		}
	}
	// Exact counts: one request-headers callback per request, and the
	// header lookups it makes through the host.
	if got := calls["proxy_on_request_headers"]; got != n {
		t.Errorf("proxy_on_request_headers called %d times, want %d", got, n)
	}
	if got := calls["env.proxy_get_header_map_value"]; got < n {
		t.Errorf("env.proxy_get_header_map_value called %d times, want at least one per request", got)
	}
	l, ok := lines["plugin::Filter::onRequestHeaders(unsigned int, bool)"]
	if !ok || l.Function.Filename != "plugin.cc" || l.Line == 0 {
		t.Errorf("onRequestHeaders has no file:line: %+v", l)
	}
	// The hot function: of the plugin's own handlers, the request
	// headers one does the most work (it reads headers and shared data;
	// the others add one header or log one line). Work is counted in
	// calls made beneath a function, which the profile holds exactly;
	// wall time on a shared machine is too noisy to rank two handlers.
	hot, best := "", int64(-1)
	for name, v := range cumCalls {
		if strings.HasPrefix(name, "plugin::Filter::on") && v > best {
			hot, best = name, v
		}
	}
	if hot != "plugin::Filter::onRequestHeaders(unsigned int, bool)" {
		t.Errorf("hottest handler %q, want plugin::Filter::onRequestHeaders", hot)
	}
	if cum["plugin::Filter::onRequestHeaders(unsigned int, bool)"] <= 0 {
		t.Error("no time in onRequestHeaders")
	}
	if p.DurationNanos <= 0 {
		t.Errorf("duration %d", p.DurationNanos)
	}
}

func TestWriteProfileWithoutProfiling(t *testing.T) {
	m := compileFile(t, "testdata/wat/basic.wasm", Options{})
	err := m.WriteProfile(&bytes.Buffer{})
	if want := "the module was not compiled with Options.Profile"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Microsecond)
	}
	got := percentiles(ds)
	want := Percentiles{Count: 100, P50: 50 * time.Microsecond, P99: 99 * time.Microsecond, Max: 100 * time.Microsecond}
	if got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
	if got := percentiles([]time.Duration{7}); got != (Percentiles{Count: 1, P50: 7, P99: 7, Max: 7}) {
		t.Errorf("one value: %+v", got)
	}
	if got := percentiles(nil); got != (Percentiles{}) {
		t.Errorf("none: %+v", got)
	}
}

// TestTimingRecordsRequests: --timing measures every callback and adds a
// stream's callbacks up to the time the plugin added to that request.
func TestTimingRecordsRequests(t *testing.T) {
	f, _ := fixtures.Get("cpp")
	m := fixtureModule(t, f)
	tm := NewTiming()
	c := policyCapture(nil, nil, 3)
	if _, _, res := runWith(t, m, c, RunOptions{Timing: tm, Verbosity: Quiet}); !res.OK() {
		t.Fatal("the replay did not run clean")
	}
	r := tm.Record()
	if r.Requests.Count != 3 || r.Callbacks["proxy_on_request_headers"].Count != 3 || r.Callbacks["proxy_on_log"].Count != 3 {
		t.Errorf("record %+v", r)
	}
	if r.Requests.P50 <= 0 || r.Requests.Max < r.Callbacks["proxy_on_request_headers"].Max {
		t.Errorf("a request's time is not the sum of its callbacks: %+v", r)
	}
	var b bytes.Buffer
	tm.Write(&b)
	if !strings.Contains(b.String(), "=== time in the plugin (wall clock: measured, differs from run to run)\nper request (every callback of a stream): p50 ") {
		t.Errorf("text:\n%s", b.String())
	}
}
