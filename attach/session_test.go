package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/admin/admintest"
	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// fakeKube plays Kubernetes: each pod has its own fake Envoy (reached by
// "port-forward"), log streams the test writes to, and a watch channel.
type fakeKube struct {
	t      *testing.T
	mu     sync.Mutex
	pods   map[string]*fakePod
	events chan PodEvent
}

type fakePod struct {
	pod     Pod
	envoy   *admintest.Server
	streams chan *io.PipeWriter
	since   []time.Time
}

func newFakeKube(t *testing.T) *fakeKube {
	return &fakeKube{t: t, pods: map[string]*fakePod{}, events: make(chan PodEvent, 16)}
}

func (k *fakeKube) addPod(name string, containers ...string) *fakePod {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := admintest.New(admintest.Options{Level: "info"})
	k.t.Cleanup(s.Close)
	fp := &fakePod{pod: Pod{Namespace: "bookinfo", Name: name, Phase: "Running", Containers: containers}, envoy: s, streams: make(chan *io.PipeWriter, 8)}
	k.pods[name] = fp
	return fp
}

func (k *fakeKube) get(name string) *fakePod {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pods[name]
}

func (k *fakeKube) remove(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.pods, name)
}

func (k *fakeKube) DefaultNamespace() string { return "bookinfo" }

func (k *fakeKube) Pod(ctx context.Context, ns, name string) (Pod, error) {
	if fp := k.get(name); fp != nil {
		k.mu.Lock()
		defer k.mu.Unlock()
		return fp.pod, nil
	}
	return Pod{}, fmt.Errorf("pod %s not found in namespace %s", name, ns)
}

func (k *fakeKube) PortForward(ctx context.Context, ns, pod string, port int) (string, <-chan struct{}, func(), error) {
	fp := k.get(pod)
	if fp == nil {
		return "", nil, nil, fmt.Errorf("pod %s not found", pod)
	}
	return fp.envoy.Addr(), make(chan struct{}), func() {}, nil
}

func (k *fakeKube) Logs(ctx context.Context, ns, pod, container string, since time.Time) (io.ReadCloser, error) {
	fp := k.get(pod)
	if fp == nil {
		return nil, fmt.Errorf("pod %s not found", pod)
	}
	pr, pw := io.Pipe()
	k.mu.Lock()
	fp.since = append(fp.since, since)
	k.mu.Unlock()
	fp.streams <- pw
	go func() {
		<-ctx.Done()
		pw.Close()
	}()
	return pr, nil
}

func (k *fakeKube) WatchPods(ctx context.Context, ns, selector string) (<-chan PodEvent, error) {
	out := make(chan PodEvent)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-k.events:
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// stream waits for the next log stream the session opens for a pod.
func (fp *fakePod) stream(t *testing.T) *io.PipeWriter {
	t.Helper()
	select {
	case w := <-fp.streams:
		return w
	case <-time.After(5 * time.Second):
		t.Fatalf("no log stream opened for %s", fp.pod.Name)
	}
	return nil
}

// istio renders Istio text log lines with the kubelet's timestamp.
func istio(at time.Time, level, logger, msg string, thread int) string {
	lines := strings.Split(msg, "\n")
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(at.UTC().Format(time.RFC3339Nano) + " ")
		if i == 0 {
			fmt.Fprintf(&b, "%s\t%s\tenvoy %s external/envoy/source/extensions/common/wasm/context.cc:1157\t", at.UTC().Format("2006-01-02T15:04:05.000000Z"), level, logger)
		}
		b.WriteString(l)
		if i == len(lines)-1 {
			fmt.Fprintf(&b, "\tthread=%d", thread)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// The cpp fixture's x-crash=unreachable frames, as Envoy prints them
// (fixtures/cpp/v8-crashes.txt).
const cppCrash = "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\n" +
	"Proxy-Wasm plugin in-VM backtrace:\n" +
	"  0:  0x1573 - plugin::crash::unreachableNow()\n" +
	"  1:  0x16cf - plugin::crash::strike(plugin::crash::Mode)\n" +
	"  2:  0x1723 - plugin::crash::descend(plugin::crash::Mode)\n" +
	"  3:  0x1731 - plugin::crash::trigger(plugin::crash::Mode)\n" +
	"  4:  0x2538 - plugin::Filter::onRequestHeaders(unsigned int, bool)\n" +
	"  5:  0x10b5 - proxy_on_request_headers"

func cppModule(t *testing.T) *symbolize.Module {
	t.Helper()
	f, ok := fixtures.Get("cpp")
	if !ok {
		t.Fatal("no cpp fixture")
	}
	b, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	m, err := symbolize.New("plugin.wasm", b, symbolize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func write(t *testing.T, w *io.PipeWriter, s string) {
	t.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
}

// collect reads events until want have arrived.
func collect(t *testing.T, s *Session, want int) []tracer.Event {
	t.Helper()
	var out []tracer.Event
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(out) < want {
		evs, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		out = append(out, evs...)
	}
	return out
}

type notes struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notes) add(m string) { n.mu.Lock(); n.msgs = append(n.msgs, m); n.mu.Unlock() }
func (n *notes) all() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msgs, "\n")
}

func TestSessionPod(t *testing.T) {
	k := newFakeKube(t)
	web := k.addPod("web-1", "web", "istio-proxy")
	var n notes
	s, err := Start(ctx, Options{
		Endpoint: Endpoint{Pod: "web-1", Kube: k}, Module: cppModule(t), ModuleName: "plugin.wasm",
		Store: Store{Dir: t.TempDir()}, Retry: fast, Idle: 50 * time.Millisecond, Notify: n.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if web.envoy.Level("wasm") != "debug" {
		t.Fatalf("wasm %s", web.envoy.Level("wasm"))
	}
	if info := s.Info(); info.Name != "pod web-1" || info.Notice != "restores wasm info→debug on quit" || info.Module != "plugin.wasm" {
		t.Errorf("info %+v", info)
	}
	t0 := time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC)
	w := web.stream(t)
	write(t, w, istio(t0, "info", "wasm", "wasm log default.cpp-filter: configured: deny=x-deny header=x-plugin", 20))
	write(t, w, istio(t0.Add(time.Second), "error", "wasm", cppCrash, 24))
	evs := collect(t, s, 2)
	if evs[0].Kind != tracer.KindPluginLog || evs[0].Message != "configured: deny=x-deny header=x-plugin" {
		t.Errorf("log event %+v", evs[0])
	}
	c := evs[1]
	if c.Kind != tracer.KindCrash || len(c.Frames) != 6 || c.Frames[0].File == "" || c.Frames[0].Line == 0 {
		t.Fatalf("crash %+v", c)
	}
	if !strings.HasSuffix(c.Frames[4].File, "plugin.cc") {
		t.Errorf("frame 4 at %s:%d", c.Frames[4].File, c.Frames[4].Line)
	}
	fs, err := s.Frames(ctx, tracer.Frame{Offset: "0x1573", Function: "plugin::crash::unreachableNow()"})
	if err != nil || len(fs) == 0 || fs[len(fs)-1].File == "" {
		t.Errorf("Frames: %+v %v", fs, err)
	}

	// The stream breaks; the session reopens it from the last timestamp
	// and drops the lines it already saw.
	last := istio(t0.Add(2*time.Second), "info", "wasm", "wasm log default.cpp-filter: request done: /a 200", 20)
	write(t, w, last)
	collect(t, s, 1)
	w.CloseWithError(errors.New("connection reset by peer"))
	w2 := web.stream(t)
	if got := web.since[len(web.since)-1]; !got.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("reopened since %v", got)
	}
	write(t, w2, last)
	write(t, w2, istio(t0.Add(3*time.Second), "info", "wasm", "wasm log default.cpp-filter: request done: /b 200", 20))
	evs = collect(t, s, 1)
	if len(evs) != 1 || evs[0].Message != "request done: /b 200" {
		t.Errorf("after reconnect: %+v", evs)
	}
	if !strings.Contains(n.all(), "pod bookinfo/web-1: log stream broke (connection reset by peer); reconnecting") {
		t.Errorf("notes:\n%s", n.all())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if web.envoy.Level("wasm") != "info" {
		t.Errorf("not restored: %s", web.envoy.Level("wasm"))
	}
	if r := s.Restored(); len(r) != 1 || r[0].Target != "pod bookinfo/web-1" || r[0].String() != "restored wasm: debug -> info" {
		t.Errorf("restored %+v", r)
	}
}

func TestSessionPodErrors(t *testing.T) {
	k := newFakeKube(t)
	k.addPod("two", "app", "sidecar")
	pending := k.addPod("pending", "istio-proxy")
	pending.pod.Phase = "Pending"
	tests := []struct {
		pod, container, want string
	}{
		{"nope", "", "pod nope not found in namespace bookinfo"},
		{"two", "", "pod bookinfo/two has no istio-proxy or envoy container; say which with -c (it has app, sidecar)"},
		{"two", "envoy", "pod bookinfo/two has no container envoy (it has app, sidecar)"},
		{"pending", "", "pod bookinfo/pending is pending, not running"},
	}
	for _, tt := range tests {
		_, err := Start(ctx, Options{Endpoint: Endpoint{Pod: tt.pod, Kube: k}, Container: tt.container, Store: Store{Dir: t.TempDir()}})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v", tt.pod, err)
		}
	}
}

func TestSessionPodGone(t *testing.T) {
	k := newFakeKube(t)
	web := k.addPod("web-1", "istio-proxy")
	store := Store{Dir: t.TempDir()}
	s, err := Start(ctx, Options{Endpoint: Endpoint{Pod: "web-1", Kube: k}, Store: store, Retry: fast})
	if err != nil {
		t.Fatal(err)
	}
	w := web.stream(t)
	k.remove("web-1")
	w.Close()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = s.Next(c)
	if err == nil || err.Error() != "pod bookinfo/web-1 is gone" {
		t.Fatalf("%v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if ms, _ := store.List(); len(ms) != 0 {
		t.Errorf("marker kept for a gone pod")
	}
}

func TestSessionSelector(t *testing.T) {
	k := newFakeKube(t)
	a := k.addPod("web-a", "istio-proxy")
	b := k.addPod("web-b", "istio-proxy")
	store := Store{Dir: t.TempDir()}
	var n notes
	s, err := Start(ctx, Options{Endpoint: Endpoint{Kube: k}, Selector: "app=web", Store: store, Retry: fast,
		Idle: 30 * time.Millisecond, Window: 300 * time.Millisecond, Notify: n.add})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k.events <- PodEvent{Pod: a.pod, Initial: true}
	k.events <- PodEvent{Pod: b.pod, Initial: true}
	wa, wb := a.stream(t), b.stream(t)
	t0 := time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC)
	// a logs at 1s and 3s, b at 2s, but b's line is read last.
	write(t, wa, istio(t0.Add(1*time.Second), "info", "wasm", "wasm log web: one", 1))
	write(t, wa, istio(t0.Add(3*time.Second), "info", "wasm", "wasm log web: three", 1))
	time.Sleep(40 * time.Millisecond)
	write(t, wb, istio(t0.Add(2*time.Second), "info", "wasm", "wasm log web: two", 1))
	evs := collect(t, s, 3)
	var got []string
	for _, e := range evs {
		got = append(got, e.Origin+" "+e.Message)
	}
	if strings.Join(got, "|") != "pod/web-a/istio-proxy one|pod/web-b/istio-proxy two|pod/web-a/istio-proxy three" {
		t.Errorf("order %q", got)
	}
	if a.envoy.Level("wasm") != "debug" || b.envoy.Level("wasm") != "debug" {
		t.Error("levels not raised")
	}

	// A pod joins later and is raised; b stops matching while running
	// and is restored; a is deleted and its marker dropped.
	c := k.addPod("web-c", "istio-proxy")
	k.events <- PodEvent{Pod: c.pod}
	wc := c.stream(t)
	write(t, wc, istio(t0.Add(4*time.Second), "info", "wasm", "wasm log web: four", 1))
	if evs := collect(t, s, 1); evs[0].Origin != "pod/web-c/istio-proxy" {
		t.Errorf("joined pod event %+v", evs[0])
	}
	if !c.since[0].IsZero() {
		t.Errorf("a pod that joins later is followed from its first line, not %v", c.since[0])
	}
	k.events <- PodEvent{Pod: b.pod, Gone: true}
	k.remove("web-a")
	k.events <- PodEvent{Pod: a.pod, Gone: true}
	deadline := time.Now().Add(5 * time.Second)
	for b.envoy.Level("wasm") != "info" || strings.Count(n.all(), "left") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("b %s; notes:\n%s", b.envoy.Level("wasm"), n.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c.envoy.Level("wasm") != "info" {
		t.Errorf("c not restored")
	}
	if ms, _ := store.List(); len(ms) != 0 {
		t.Errorf("markers left: %+v", ms)
	}
	for _, want := range []string{"pod bookinfo/web-c joined", "pod bookinfo/web-b: restored wasm: debug -> info", "pod bookinfo/web-a left", "pod bookinfo/web-c: restored wasm: debug -> info"} {
		if !strings.Contains(n.all(), want) {
			t.Errorf("notes lack %q:\n%s", want, n.all())
		}
	}
}

func TestSessionLocal(t *testing.T) {
	// A local Envoy whose /config_dump names the module by a path that
	// exists here: the session symbolizes with it without --module.
	dir := t.TempDir()
	f, _ := fixtures.Get("cpp")
	b, _ := f.Bytes()
	mod := filepath.Join(dir, "plugin.wasm")
	if err := os.WriteFile(mod, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dump := strings.ReplaceAll(string(admintest.EnvoyStaticDump), "/etc/envoy/plugins/cpp/plugin.wasm", mod)
	envoy := admintest.New(admintest.Options{ConfigDump: []byte(dump)})
	defer envoy.Close()
	logf := filepath.Join(dir, "envoy.log")
	crash := "[2025-10-14 09:00:01.000][24][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] " + cppCrash + "\n"
	if err := os.WriteFile(logf, []byte(crash), 0o644); err != nil {
		t.Fatal(err)
	}
	var n notes
	s, err := Start(ctx, Options{Endpoint: Endpoint{Admin: envoy.URL}, Log: LogCommand("cat " + logf), Store: Store{Dir: dir}, Idle: 30 * time.Millisecond, Notify: n.add})
	if err != nil {
		t.Fatal(err)
	}
	evs := collect(t, s, 1)
	if evs[0].Kind != tracer.KindCrash || evs[0].Frames[0].File == "" {
		t.Errorf("crash not symbolized: %+v\nnotes: %s", evs[0], n.all())
	}
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.Next(c); err != io.EOF {
		t.Errorf("after the command ended: %v", err)
	}
	if err := s.Close(); err != nil || envoy.Level("wasm") != "info" {
		t.Errorf("close %v, wasm %s", err, envoy.Level("wasm"))
	}
	if !strings.Contains(n.all(), "symbolizing crash frames with "+mod+" (the plugin's module in /config_dump)") {
		t.Errorf("notes:\n%s", n.all())
	}

	_, err = Start(ctx, Options{Endpoint: Endpoint{Admin: envoy.URL}, Store: Store{Dir: dir}})
	if err == nil || err.Error() != "attach --admin needs the proxy's log: --log-file FILE or --log-cmd COMMAND" {
		t.Errorf("no log: %v", err)
	}
	s, err = Start(ctx, Options{Endpoint: Endpoint{Admin: envoy.URL}, Log: LogCommand("echo oops >&2; exit 3"), Store: Store{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var nerr error
	for nerr == nil {
		_, nerr = s.Next(c)
	}
	if nerr.Error() != `log command "echo oops >&2; exit 3" exited: exit status 3` {
		t.Errorf("failing command: %v", nerr)
	}
}

func TestKubeletLines(t *testing.T) {
	var k kubeletLines
	in := []string{
		"2025-10-14T09:00:00.1Z a",
		"2025-10-14T09:00:00.2Z b",
		"2025-10-14T09:00:00.2Z c",
		"no timestamp here",
	}
	var got []string
	for _, l := range in {
		if out, ok := k.filter([]byte(l)); ok {
			got = append(got, string(out))
		}
	}
	// The stream reopens from .2: both .2 lines come again, then a new one.
	k.reopened()
	for _, l := range []string{"2025-10-14T09:00:00.2Z b", "2025-10-14T09:00:00.2Z c", "2025-10-14T09:00:00.2Z d", "2025-10-14T09:00:00.3Z e"} {
		if out, ok := k.filter([]byte(l)); ok {
			got = append(got, string(out))
		}
	}
	if strings.Join(got, ",") != "a,b,c,no timestamp here,d,e" {
		t.Errorf("%q", got)
	}
}

func TestMerger(t *testing.T) {
	m := merger{window: time.Second}
	t0 := time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC)
	m.add("a", tracer.Event{Message: "a3", Time: "2025-10-14T09:00:03Z"}, t0)
	m.add("a", tracer.Event{Message: "a3 continued"}, t0) // no time: stays after a3
	m.add("b", tracer.Event{Message: "b1", Time: "2025-10-14 09:00:01.500"}, t0.Add(100*time.Millisecond))
	m.add("c", tracer.Event{Message: "c, no time, first of its stream"}, t0.Add(2500*time.Millisecond))
	if got := m.release(t0.Add(500*time.Millisecond), false); len(got) != 0 {
		t.Errorf("released early: %v", got)
	}
	var got []string
	for _, e := range m.release(t0.Add(1200*time.Millisecond), false) {
		got = append(got, e.Message)
	}
	// c sorts at its arrival (2.5s), before a3: a3 waits behind it.
	if due, ok := m.next(); !ok || !due.Equal(t0.Add(3500*time.Millisecond)) {
		t.Errorf("next %v %v", due, ok)
	}
	for _, e := range m.release(t0.Add(3500*time.Millisecond), false) {
		got = append(got, e.Message)
	}
	if strings.Join(got, "|") != "b1|c, no time, first of its stream|a3|a3 continued" {
		t.Errorf("%q", got)
	}
	if _, ok := m.next(); ok {
		t.Error("events left")
	}
}

// Metrics keeps one connection (port-forward) for its samples and reads
// /config_dump only once per refresh.
func TestSessionMetrics(t *testing.T) {
	k := newFakeKube(t)
	web := k.addPod("web-1", "istio-proxy")
	web.envoy.WasmStats("v8", 5, 4)
	web.envoy.Add("wasmcustom.cpp_requests_total", 3)
	s, err := Start(ctx, Options{Endpoint: Endpoint{Pod: "web-1", Kube: &countingKube{fakeKube: k}}, Store: Store{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 3; i++ {
		r, err := s.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Stats.Custom) != 1 || r.Stats.Custom[0].Samples[0].Value != float64(3+i) || r.Estimates == nil {
			t.Errorf("sample %d: %+v", i, r)
		}
		web.envoy.Add("wasmcustom.cpp_requests_total", 1)
	}
	if n := len(web.envoy.RequestsTo("/config_dump")); n != 1 {
		t.Errorf("/config_dump read %d times", n)
	}
	if n := len(web.envoy.RequestsTo("/stats/prometheus")); n != 3 {
		t.Errorf("/stats/prometheus read %d times", n)
	}
	kk := s.kube.(*countingKube)
	if kk.forwards.Load() != 2 { // one to raise, one kept for metrics
		t.Errorf("%d port-forwards", kk.forwards.Load())
	}
}

type countingKube struct {
	*fakeKube
	forwards atomic.Int32
}

func (k *countingKube) PortForward(ctx context.Context, ns, pod string, port int) (string, <-chan struct{}, func(), error) {
	k.forwards.Add(1)
	return k.fakeKube.PortForward(ctx, ns, pod, port)
}
