package attach

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/admin/admintest"
)

var ctx = context.Background()

func setup(t *testing.T, opts admintest.Options) (*admintest.Server, Endpoint, Store) {
	t.Helper()
	s := admintest.New(opts)
	t.Cleanup(s.Close)
	return s, Endpoint{Admin: s.URL, Timeout: time.Second}, Store{Dir: t.TempDir()}
}

var fast = Retry{Attempts: 20, Wait: 20 * time.Millisecond, MaxWait: 50 * time.Millisecond}

func TestRaiseAndRestore(t *testing.T) {
	s, ep, store := setup(t, admintest.Options{Level: "warning"})
	sess, stale, err := Raise(ctx, ep.Connector(), store, ep.Target(), []admin.Logger{{Name: "wasm", Level: "debug"}, {Name: "http", Level: "warning"}})
	if err != nil || stale != nil {
		t.Fatal(err, stale)
	}
	if s.Level("wasm") != "debug" {
		t.Fatalf("wasm %s", s.Level("wasm"))
	}
	// http was already at warning: not recorded, not touched.
	if want := []Change{{Logger: "wasm", From: "warning", To: "debug"}}; !reflect.DeepEqual(sess.Changes(), want) {
		t.Errorf("changes %+v", sess.Changes())
	}
	m, err := store.Load(ep.Target())
	if err != nil || m == nil || m.PID != os.Getpid() || len(m.Changes) != 1 {
		t.Fatalf("marker %+v %v", m, err)
	}
	outs, err := sess.Restore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].String() != "restored wasm: debug -> warning" {
		t.Errorf("outcomes %v", outs)
	}
	if s.Level("wasm") != "warning" {
		t.Errorf("wasm %s after restore", s.Level("wasm"))
	}
	if m, _ := store.Load(ep.Target()); m != nil {
		t.Errorf("marker left: %+v", m)
	}
	if outs, err := sess.Restore(ctx); outs != nil || err != nil {
		t.Errorf("second restore did something: %v %v", outs, err)
	}
}

func TestRestoreLeavesOthersChanges(t *testing.T) {
	s, ep, store := setup(t, admintest.Options{})
	sess, _, err := Raise(ctx, ep.Connector(), store, ep.Target(), []admin.Logger{{Name: "wasm", Level: "trace"}, {Name: "http", Level: "debug"}})
	if err != nil {
		t.Fatal(err)
	}
	s.SetLevel("wasm", "error") // another operator
	s.SetLevel("http", "info")  // someone already put it back
	outs, err := sess.Restore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{outs[0].String(), outs[1].String()}
	want := []string{
		"left wasm at error: it was changed to that after wasmdbg set trace (put it back with wasmdbg level wasm=info)",
		"http is already info",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
	if s.Level("wasm") != "error" {
		t.Error("clobbered someone else's level")
	}
}

func TestRestoreThroughDroppedConnection(t *testing.T) {
	s, ep, store := setup(t, admintest.Options{})
	sess, _, err := Raise(ctx, ep.Connector(), store, ep.Target(), []admin.Logger{{Name: "wasm", Level: "trace"}})
	if err != nil {
		t.Fatal(err)
	}
	sess.SetRetry(fast)
	s.SetDropping(true)
	go func() {
		time.Sleep(150 * time.Millisecond)
		s.SetDropping(false)
	}()
	outs, err := sess.Restore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Action != "restored" || s.Level("wasm") != "info" {
		t.Errorf("%v, wasm %s", outs, s.Level("wasm"))
	}
	if len(s.RequestsTo("/logging")) < 4 {
		t.Errorf("no retries seen: %v", s.Requests())
	}
}

func TestRestoreGivesUpAndKeepsMarker(t *testing.T) {
	s, ep, store := setup(t, admintest.Options{})
	sess, _, err := Raise(ctx, ep.Connector(), store, ep.Target(), []admin.Logger{{Name: "wasm", Level: "trace"}})
	if err != nil {
		t.Fatal(err)
	}
	sess.SetRetry(Retry{Attempts: 2, Wait: time.Millisecond})
	s.SetDropping(true)
	_, err = sess.Restore(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "restore "+s.URL+": POST "+s.URL+"/logging: ") ||
		!strings.HasSuffix(err.Error(), "; the marker "+sess.Marker().File()+" stays, run wasmdbg level --restore when the proxy is reachable") {
		t.Errorf("%v", err)
	}
	if m, _ := store.Load(ep.Target()); m == nil {
		t.Error("marker removed although restore failed")
	}
	s.SetDropping(false)
	if _, err := sess.Restore(ctx); err != nil || s.Level("wasm") != "info" {
		t.Errorf("retry later: %v %s", err, s.Level("wasm"))
	}
}

// A marker left by a process that died (SIGKILL) is restored by the next
// Raise before it records its own changes, so the original level survives.
func TestRaiseRestoresStaleMarker(t *testing.T) {
	s, ep, store := setup(t, admintest.Options{Level: "warning"})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1)")
	}
	old := &Marker{Target: ep.Target(), PID: dead.Process.Pid, Started: time.Now().Add(-time.Hour),
		Changes: []Change{{Logger: "wasm", From: "warning", To: "trace"}}}
	if err := store.Save(old); err != nil {
		t.Fatal(err)
	}
	s.SetLevel("wasm", "trace") // what the dead attach had set
	sess, stale, err := Raise(ctx, ep.Connector(), store, ep.Target(), []admin.Logger{{Name: "wasm", Level: "debug"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || stale[0].String() != "restored wasm: trace -> warning" {
		t.Errorf("stale %v", stale)
	}
	if want := []Change{{Logger: "wasm", From: "warning", To: "debug"}}; !reflect.DeepEqual(sess.Changes(), want) {
		t.Errorf("changes %+v", sess.Changes())
	}
	sess.Restore(ctx)
	if s.Level("wasm") != "warning" {
		t.Errorf("wasm %s", s.Level("wasm"))
	}
}

func TestRaiseRefusesLiveMarker(t *testing.T) {
	_, ep, store := setup(t, admintest.Options{})
	live := exec.Command("sleep", "30")
	if err := live.Start(); err != nil {
		t.Skip("no sleep(1)")
	}
	defer live.Process.Kill()
	host, _ := os.Hostname()
	m := &Marker{Target: ep.Target(), PID: live.Process.Pid, Host: host, Started: time.Date(2025, 10, 14, 9, 0, 0, 0, time.UTC),
		Changes: []Change{{Logger: "wasm", From: "info", To: "trace"}}}
	if err := store.Save(m); err != nil {
		t.Fatal(err)
	}
	_, _, err := Raise(ctx, ep.Connector(), store, ep.Target(), []admin.Logger{{Name: "wasm", Level: "debug"}})
	want := "wasmdbg (pid " + itoa(live.Process.Pid) + ", since 2025-10-14T09:00:00Z) is attached to " + ep.Target().String() +
		" and will restore its levels when it ends; stop it first, or remove " + m.File() + " if that is not so"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestRaiseErrors(t *testing.T) {
	tests := []struct {
		name string
		opts admintest.Options
		want []admin.Logger
		err  string
	}{
		{"unknown", admintest.Options{}, []admin.Logger{{Name: "wsam", Level: "debug"}}, "the proxy has no wsam logger (wasmdbg level lists them)"},
		{"similar", admintest.Options{}, []admin.Logger{{Name: "http3", Level: "debug"}}, "the proxy has no http3 logger (similar: http)"},
		{"fine grain", admintest.Options{FineGrain: true}, []admin.Logger{{Name: "wasm", Level: "debug"}},
			"the proxy has no wasm logger: it runs with --enable-fine-grain-logging, which names source files instead (e.g. source/extensions/common/wasm/*)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ep, store := setup(t, tt.opts)
			_, _, err := Raise(ctx, ep.Connector(), store, ep.Target(), tt.want)
			if err == nil || err.Error() != tt.err {
				t.Fatalf("got %v\nwant %s", err, tt.err)
			}
			if ms, _ := store.List(); len(ms) != 0 {
				t.Errorf("marker left: %+v", ms)
			}
		})
	}
}

func TestRaiseNothingToChange(t *testing.T) {
	s, ep, store := setup(t, admintest.Options{Level: "debug"})
	sess, _, err := Raise(ctx, ep.Connector(), store, ep.Target(), []admin.Logger{{Name: "wasm", Level: "debug"}})
	if err != nil || len(sess.Changes()) != 0 {
		t.Fatal(err, sess.Changes())
	}
	if ms, _ := store.List(); len(ms) != 0 {
		t.Errorf("marker written for no change")
	}
	if outs, err := sess.Restore(ctx); outs != nil || err != nil {
		t.Errorf("%v %v", outs, err)
	}
	if n := len(s.RequestsTo("/logging")); n != 1 {
		t.Errorf("%d /logging requests, want the one listing", n)
	}
}

func TestMarkerErrors(t *testing.T) {
	store := Store{Dir: t.TempDir()}
	tgt := Target{Admin: "http://127.0.0.1:15000"}
	p := store.path(tgt)
	tests := []struct{ body, want string }{
		{"{", "restore marker " + p + ": unexpected end of JSON input (delete it if the levels are right)"},
		{`{"version":2}`, "restore marker " + p + ": version 2, this wasmdbg reads version 1"},
		{`{"version":1,"changes":[{"logger":"wasm","from":"loud","to":"debug"}]}`,
			"restore marker " + p + `: changes[0]: logger "wasm" from "loud" to "debug" is not a valid change`},
	}
	for _, tt := range tests {
		if err := os.WriteFile(p, []byte(tt.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := store.Load(tgt)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v", tt.body, err)
		}
	}
	os.Remove(p)
	if m, err := store.Load(tgt); m != nil || err != nil {
		t.Errorf("missing marker: %v %v", m, err)
	}
	if filepath.Dir(p) != store.Dir || !strings.HasPrefix(filepath.Base(p), "restore-") {
		t.Errorf("path %s", p)
	}
}

func TestTargetKeysDiffer(t *testing.T) {
	a := Target{Admin: "http://127.0.0.1:15000"}.key()
	b := Target{Admin: "http://127.0.0.1:15001"}.key()
	c := Target{Pod: "p", Namespace: "n", AdminPort: 15000}.key()
	d := Target{Pod: "p", Namespace: "m", AdminPort: 15000}.key()
	if a == b || a == c || c == d {
		t.Error("keys collide")
	}
}

func TestParseChanges(t *testing.T) {
	got, err := ParseChanges([]string{"trace", "http:debug", "router=WARN"})
	want := []admin.Logger{{Name: "wasm", Level: "trace"}, {Name: "http", Level: "debug"}, {Name: "router", Level: "warning"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%v %v", got, err)
	}
	errs := []struct {
		in   []string
		want string
	}{
		{[]string{"=debug"}, `"=debug": no logger name before the level`},
		{[]string{"wasm=loud"}, `"wasm=loud": unknown level "loud": want one of trace, debug, info, warning (or warn), error, critical, off`},
		{[]string{"debug", "wasm=trace"}, `"wasm=trace": logger wasm given twice`},
	}
	for _, tt := range errs {
		_, err := ParseChanges(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: %v", tt.in, err)
		}
	}
}

func FuzzMarker(f *testing.F) {
	f.Add([]byte(`{"version":1,"target":{"admin":"http://127.0.0.1:15000"},"pid":12,"started":"2025-10-14T09:00:00Z","changes":[{"logger":"wasm","from":"info","to":"debug"}]}`))
	f.Add([]byte(`{"version":1,"changes":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		store := Store{Dir: t.TempDir()}
		tgt := Target{Admin: "x"}
		if err := os.WriteFile(store.path(tgt), b, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := store.Load(tgt)
		if err == nil && m != nil {
			for _, c := range m.Changes {
				if c.From.Rank() < 0 || c.To.Rank() < 0 {
					t.Fatalf("invalid change accepted: %+v", c)
				}
			}
		}
	})
}

func FuzzParseChanges(f *testing.F) {
	f.Add("wasm=trace")
	f.Add("http:warn")
	f.Add("debug")
	f.Fuzz(func(t *testing.T, s string) {
		ls, err := ParseChanges(strings.Fields(s))
		if err == nil {
			for _, l := range ls {
				if l.Level.Rank() < 0 || l.Name == "" {
					t.Fatalf("bad change accepted: %+v", l)
				}
			}
		}
	})
}

// A change that reached the proxy but whose answer was lost (Ctrl-C while
// the request was in flight) is put back, and the error says what was done.
func TestRaiseInterruptedChangeIsRestored(t *testing.T) {
	s, _, store := setup(t, admintest.Options{})
	// In front of the fake: forward the change, then hold the answer until
	// the client gives up.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Post(s.URL+r.URL.RequestURI(), "", nil)
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r.URL.RawQuery != "" {
			<-r.Context().Done()
			return
		}
		w.Write(b)
	}))
	defer front.Close()
	calls := 0
	connect := func(ctx context.Context) (Levels, func(), error) {
		calls++
		url := s.URL
		if calls == 1 {
			url = front.URL
		}
		c, err := admin.New(url)
		return c, func() {}, err
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		for s.Level("wasm") != "debug" {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, _, err := Raise(cctx, connect, store, Target{Admin: s.URL}, []admin.Logger{{Name: "wasm", Level: "debug"}})
	var re *RaiseError
	if !errors.As(err, &re) || !errors.Is(err, context.Canceled) || re.RestoreErr != nil || NotRestored(err) {
		t.Fatalf("%#v", err)
	}
	if len(re.Restored) != 1 || re.Restored[0].String() != "restored wasm: debug -> info" || s.Level("wasm") != "info" {
		t.Errorf("%v, wasm %s", re.Restored, s.Level("wasm"))
	}
	if ms, _ := store.List(); len(ms) != 0 {
		t.Errorf("marker left")
	}
}
