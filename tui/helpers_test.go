package tui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/wasmdbg/wasmdbg/fixtures"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// cppModule is the path of the C++ fixture in the repository: its sources
// (plugin.cc, sdk.cc) sit beside it, as a user's build tree would.
const cppModule = "../fixtures/cpp/plugin.wasm"

func cppResolver(t testing.TB) *symbolize.Module {
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

// clockAt returns event times one millisecond apart from a fixed start.
type clockAt struct{ t time.Time }

func (c *clockAt) next() string {
	c.t = c.t.Add(time.Millisecond)
	return c.t.Format("2006-01-02T15:04:05.000Z")
}

func ctxID(n uint32) *uint32 { return &n }

func num(s string) *tracer.Number { n := tracer.Number(s); return &n }

func nums(ss ...string) []tracer.Number {
	out := make([]tracer.Number, len(ss))
	for i, s := range ss {
		out[i] = tracer.Number(s)
	}
	return out
}

// scenario is a day in the life of the C++ fixture as Envoy logs it with
// wasm:trace on: VM start, configure, one good request, then a request
// with x-crash: panic that traps with V8's frames (recorded in
// fixtures/cpp/v8-crashes.txt), then one with x-crash: inline.
func scenario() []tracer.Event {
	c := &clockAt{time.Date(2024, 3, 8, 8, 16, 46, 0, time.UTC)}
	line := 0
	ev := func(e tracer.Event) tracer.Event {
		line++
		e.Line = line
		e.Time = c.next()
		if e.Thread == "" {
			e.Thread = "12"
		}
		if e.Level == "" {
			e.Level = "trace"
		}
		return e
	}
	call := func(dir tracer.Direction, fn string, args []tracer.Number, decoded ...tracer.Arg) tracer.Event {
		return ev(tracer.Event{Kind: tracer.KindCall, Direction: dir, Function: fn, Args: args, Decoded: decoded})
	}
	ret := func(dir tracer.Direction, fn, val, status string) tracer.Event {
		e := tracer.Event{Kind: tracer.KindCall, Direction: dir, Function: fn, Return: num(val)}
		if dir == tracer.VMFromHost {
			e.Status = status
		} else {
			e.Action = status
		}
		return ev(e)
	}
	log := func(level, msg string) tracer.Event {
		return ev(tracer.Event{Kind: tracer.KindPluginLog, Level: level, Plugin: "my_plugin my_root_id my_vm_id", Message: msg})
	}
	hostcall := func(fn string, args []tracer.Number, status string, decoded ...tracer.Arg) []tracer.Event {
		rv := "0"
		if status != "Ok" {
			rv = "1"
		}
		return []tracer.Event{call(tracer.VMToHost, fn, args, decoded...), ret(tracer.VMFromHost, fn, rv, status)}
	}
	var out []tracer.Event
	add := func(es ...tracer.Event) { out = append(out, es...) }
	add(ev(tracer.Event{Kind: tracer.KindOther, Level: "info", Message: "starting main dispatch loop"}))
	add(call(tracer.HostToVM, "proxy_on_vm_start", nums("1", "0"), tracer.Arg{Name: "root_context_id", Value: "1"}, tracer.Arg{Name: "vm_configuration_size", Value: "0"}))
	add(hostcall("env.proxy_log", nums("2", "5247632", "24"), "Ok", tracer.Arg{Name: "level", Value: "info"}, tracer.Arg{Name: "message", Value: `"cpp plugin vm started"`})...)
	add(log("info", "cpp plugin vm started"))
	add(ret(tracer.HostFromVM, "proxy_on_vm_start", "1", "true"))
	add(call(tracer.HostToVM, "proxy_on_configure", nums("1", "14"), tracer.Arg{Name: "root_context_id", Value: "1"}, tracer.Arg{Name: "plugin_configuration_size", Value: "14"}))
	add(hostcall("env.proxy_define_metric", nums("0", "5247700", "18", "5247800"), "Ok", tracer.Arg{Name: "type", Value: "Counter"}, tracer.Arg{Name: "name", Value: `"cpp_requests_total"`})...)
	add(log("info", "configured: deny=x-deny header=x-plugin"))
	add(ret(tracer.HostFromVM, "proxy_on_configure", "1", "true"))
	for stream, mode := range []string{"", "panic", "inline"} {
		ctx := uint32(2 + stream)
		add(call(tracer.HostToVM, "proxy_on_context_create", nums(fmt.Sprint(ctx), "1"), tracer.Arg{Name: "context_id", Value: fmt.Sprint(ctx)}, tracer.Arg{Name: "parent_context_id", Value: "1"}))
		add(ret(tracer.HostFromVM, "proxy_on_context_create", "void", ""))
		cb := call(tracer.HostToVM, "proxy_on_request_headers", nums(fmt.Sprint(ctx), "3", "1"), tracer.Arg{Name: "context_id", Value: fmt.Sprint(ctx)}, tracer.Arg{Name: "num_headers", Value: "3"}, tracer.Arg{Name: "end_of_stream", Value: "true"})
		cb.ContextID = ctxID(ctx)
		add(cb)
		add(hostcall("env.proxy_increment_metric", nums("1", "1"), "Ok", tracer.Arg{Name: "metric_id", Value: "1"}, tracer.Arg{Name: "offset", Value: "1"})...)
		add(hostcall("env.proxy_get_header_map_value", nums("0", "5248000", "7", "5248100", "5248104"), "Ok", tracer.Arg{Name: "map_type", Value: "HttpRequestHeaders"}, tracer.Arg{Name: "key", Value: `"x-crash"`})...)
		switch mode {
		case "":
			add(hostcall("env.proxy_get_header_map_value", nums("0", "5248000", "6", "5248100", "5248104"), "NotFound", tracer.Arg{Name: "map_type", Value: "HttpRequestHeaders"}, tracer.Arg{Name: "key", Value: `"x-deny"`})...)
			add(ret(tracer.HostFromVM, "proxy_on_request_headers", "0", "Continue"))
		case "panic":
			add(hostcall("wasi_snapshot_preview1.fd_write", nums("2", "5249000", "1", "5249016"), "ESUCCESS")...)
			add(ev(tracer.Event{Kind: tracer.KindPluginLog, Level: "error", Plugin: "my_plugin my_root_id my_vm_id", Message: "cpp plugin panicked: crashing on purpose (x-crash: panic)"}))
			add(ev(tracer.Event{Kind: tracer.KindCrash, Level: "error", Callback: "proxy_on_request_headers", Runtime: "v8",
				Message:   "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
				PanicText: "cpp plugin panicked: crashing on purpose (x-crash: panic)",
				Frames: []tracer.Frame{
					{Index: 0, Offset: "0x5fc7", Function: "abort"},
					{Index: 1, Offset: "0x1515", Function: "plugin::crash::panic(proxy::View)"},
					{Index: 2, Offset: "0x16c7", Function: "plugin::crash::strike(plugin::crash::Mode)"},
					{Index: 3, Offset: "0x1723", Function: "plugin::crash::descend(plugin::crash::Mode)"},
					{Index: 4, Offset: "0x1731", Function: "plugin::crash::trigger(plugin::crash::Mode)"},
					{Index: 5, Offset: "0x2538", Function: "plugin::Filter::onRequestHeaders(unsigned int, bool)"},
					{Index: 6, Offset: "0x10b5", Function: "proxy_on_request_headers"},
				}}))
		case "inline":
			add(ev(tracer.Event{Kind: tracer.KindFinding, Level: "warning", Reason: "local_reply_after_trap", Message: "the stream was failed with 503 (wasm_fail_stream)", Hint: "fix the trap above; fail_open keeps traffic flowing meanwhile"}))
			add(ev(tracer.Event{Kind: tracer.KindCrash, Level: "error", Callback: "proxy_on_request_headers", Runtime: "v8",
				Message: "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
				Frames: []tracer.Frame{
					{Index: 0, Offset: "0x165c", Function: "plugin::crash::viaInline(unsigned int)"},
					{Index: 1, Offset: "0x1708", Function: "plugin::crash::strike(plugin::crash::Mode)"},
					{Index: 2, Offset: "0x1723", Function: "plugin::crash::descend(plugin::crash::Mode)"},
					{Index: 3, Offset: "0x1731", Function: "plugin::crash::trigger(plugin::crash::Mode)"},
					{Index: 4, Offset: "0x2538", Function: "plugin::Filter::onRequestHeaders(unsigned int, bool)"},
					{Index: 5, Offset: "0x10b5", Function: "proxy_on_request_headers"},
				}}))
		}
	}
	add(ev(tracer.Event{Kind: tracer.KindPluginLog, Level: "warning", Plugin: "other_plugin root vm", Message: "unknown key ignored: colour"}))
	add(ev(tracer.Event{Kind: tracer.KindOther, Level: "info", Message: "upstream connect error or disconnect/reset before headers"}))
	return out
}

// newTestModel returns a model over the scenario at the given size, with
// every command run (frames resolved, the source read to its end).
func newTestModel(t testing.TB, w, h int, evs []tracer.Event) (*Model, *MemSource) {
	t.Helper()
	src := NewMemSource(Info{Kind: KindFile, Name: "envoy.log", Module: "plugin.wasm"}, cppResolver(t))
	src.Push(evs...)
	src.End()
	m := New(src, Options{Files: &SourceFiles{Module: cppModule}})
	drive(t, m, m.Init())
	send(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return m, src
}

// send gives msg to the model and runs every command it starts.
func send(t testing.TB, m *Model, msg tea.Msg) {
	t.Helper()
	_, cmd := m.Update(msg)
	drive(t, m, cmd)
}

// pending holds the commands of each model that have not answered yet,
// like bubbletea's own runtime: a live source's Next may wait for events a
// test pushes later, and its answer must not be lost.
var pending = map[*Model][]chan tea.Msg{}

// drive runs cmd and feeds what it returns back into the model, until no
// command answers for a while (a timer, or a read that waits for events,
// stays pending for later), or for at most a second when a timer keeps
// ticking.
func drive(t testing.TB, m *Model, cmd tea.Cmd) {
	t.Helper()
	start(m, cmd)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		msg, ok := nextMsg(m, 150*time.Millisecond)
		if !ok {
			return
		}
		process(m, msg)
	}
}

// waitFor lets pending commands answer (a batch a test pushed) until cond
// holds.
func waitFor(t testing.TB, m *Model, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		msg, ok := nextMsg(m, time.Until(deadline))
		if !ok {
			t.Fatalf("waited 5 s for %s", what)
		}
		process(m, msg)
	}
	drive(t, m, nil)
}

func start(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	pending[m] = append(pending[m], ch)
}

func process(m *Model, msg tea.Msg) {
	switch msg := msg.(type) {
	case nil, tea.QuitMsg:
	case tea.BatchMsg:
		for _, c := range msg {
			start(m, c)
		}
	default:
		_, next := m.Update(msg)
		start(m, next)
	}
}

// nextMsg returns the first answer of a pending command within d.
func nextMsg(m *Model, d time.Duration) (tea.Msg, bool) {
	chs := pending[m]
	if len(chs) == 0 {
		return nil, false
	}
	cases := make([]reflect.SelectCase, 0, len(chs)+1)
	for _, ch := range chs {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(d))})
	i, v, _ := reflect.Select(cases)
	if i == len(chs) {
		return nil, false
	}
	pending[m] = append(chs[:i:i], chs[i+1:]...)
	msg, _ := v.Interface().(tea.Msg)
	return msg, true
}

// press sends key presses, named as bubbletea names them ("enter",
// "shift+tab", "N") or as text to type.
func press(t testing.TB, m *Model, keys ...string) {
	t.Helper()
	for _, k := range keys {
		send(t, m, keyMsg(k))
	}
}

func typeText(t testing.TB, m *Model, s string) {
	t.Helper()
	for _, r := range s {
		send(t, m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	msg, err := ParseKey(k)
	if err != nil {
		panic(err)
	}
	return msg
}

// screen is the rendered screen as plain text.
func screen(m *Model) string { return ansi.Strip(m.View().Content) }

// golden compares got with testdata/name.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./tui -run %s -update rewrites it):\n--- got\n%s\n--- want\n%s", p, t.Name(), got, want)
	}
}

// lineWith returns the first screen line containing s, or "".
func lineWith(scr, s string) string {
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
