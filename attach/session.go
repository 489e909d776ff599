package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/symbolize"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// Options configure an attach session.
type Options struct {
	// Endpoint is the proxy: Admin (then Log says where its log is) or Pod.
	// With Selector, Endpoint gives only the Kubernetes settings.
	Endpoint Endpoint
	// Selector attaches to every running pod whose labels match, following
	// pods as they come and go.
	Selector string
	// Container is the proxy's container; "" tries istio-proxy, then
	// envoy, then the pod's only container.
	Container string
	// Level is what the wasm logger is raised to (default debug).
	Level admin.Level
	// Log is a local proxy's log (with Endpoint.Admin).
	Log LogSource

	// Module symbolizes crash frames. Without it, a local proxy's plugin
	// module is used when /config_dump names exactly one local file that
	// exists here.
	Module *symbolize.Module
	// ModuleName names Module in messages.
	ModuleName string

	Store Store // restore markers; the zero value means DefaultStore
	Retry Retry // for restoring; the zero value means DefaultRetry

	// Idle is how long a record may wait for its continuation (a crash for
	// its backtrace) before it is emitted (default 300ms).
	Idle time.Duration
	// Window is how long events of several pods are held to be put in time
	// order (default 500ms; single streams are not held).
	Window time.Duration
	// Reconnects is how many times a broken pod log stream is reopened in
	// a row before the pod is given up (default 5).
	Reconnects int

	// Notify receives what a person should know as it happens: levels
	// raised and restored, pods joining and leaving, reconnects. It is
	// called from several goroutines, one message at a time.
	Notify func(msg string)
}

// Session is a running attach: it has raised the wasm logger of one or
// more proxies, follows their logs, and produces decoded, symbolized
// events. Close restores every level it changed. It is the seam the TUI
// builds on: Next, Frames, Info, Metrics and Close map onto tui.Source.
type Session struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	kube   KubeOpener

	notifyMu sync.Mutex
	resolver loc.Resolver
	module   string

	mu       sync.Mutex
	wake     chan struct{}
	merge    merger
	targets  map[string]*target
	restored []TargetOutcome
	err      error // the first fatal error
	finished bool  // no more events will come
	wg       sync.WaitGroup
	closing  sync.Once
	closeErr error

	metricsMu sync.Mutex
	metrics   *metricsConn
}

// target is one proxy the session is attached to.
type target struct {
	name   string // "pod ns/name" or the admin URL
	origin string // Origin of its events when several targets are followed
	ep     Endpoint
	raised *Raised
	cancel context.CancelFunc
	done   chan struct{}
	gone   bool // the pod went away, and its proxy's levels with it
}

// TargetOutcome is what restoring did to one logger of one proxy.
type TargetOutcome struct {
	Target string
	Outcome
}

// Start raises the levels and starts following the logs. Levels left
// changed by an earlier, interrupted attach of the same proxy are put back
// first (Notify says so).
func Start(ctx context.Context, opts Options) (*Session, error) {
	if opts.Level == "" {
		opts.Level = admin.LevelDebug
	}
	if opts.Store.Dir == "" {
		st, err := DefaultStore()
		if err != nil {
			return nil, err
		}
		opts.Store = st
	}
	if opts.Retry.Attempts == 0 {
		opts.Retry = DefaultRetry
	}
	if opts.Idle <= 0 {
		opts.Idle = 300 * time.Millisecond
	}
	if opts.Window <= 0 {
		opts.Window = 500 * time.Millisecond
	}
	if opts.Reconnects <= 0 {
		opts.Reconnects = 5
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Session{opts: opts, ctx: sctx, cancel: cancel, wake: make(chan struct{}, 1), targets: map[string]*target{}}
	s.merge.window = opts.Window
	if opts.Module != nil {
		s.resolver = &lockedResolver{r: opts.Module}
		s.module = opts.ModuleName
	}
	var err error
	switch {
	case opts.Selector != "":
		err = s.startSelector(ctx)
	case opts.Endpoint.Pod != "":
		err = s.startPod(ctx)
	default:
		err = s.startLocal(ctx)
	}
	if err != nil {
		if cerr := s.Close(); cerr != nil {
			err = errors.Join(err, &RestoreError{Err: cerr})
		}
		return nil, err
	}
	return s, nil
}

func (s *Session) notify(format string, args ...any) {
	if s.opts.Notify == nil {
		return
	}
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	s.opts.Notify(fmt.Sprintf(format, args...))
}

// raise raises the wasm logger of one proxy and records the target.
func (s *Session) raise(ctx context.Context, ep Endpoint, name, origin string) (*target, error) {
	want := []admin.Logger{{Name: "wasm", Level: s.opts.Level}}
	r, stale, err := Raise(ctx, ep.Connector(), s.opts.Store, ep.Target(), want)
	for _, o := range stale {
		s.notify("%s: %s (left by an interrupted wasmdbg attach)", name, o)
	}
	var re *RaiseError
	if errors.As(err, &re) {
		s.report(name, re.Restored, nil)
	}
	if err != nil {
		if strings.Contains(err.Error(), name) { // the admin client's errors name the address already
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.SetRetry(s.opts.Retry)
	for _, ch := range r.Changes() {
		s.notify("%s: %s %s -> %s; it goes back when wasmdbg ends", name, ch.Logger, ch.From, ch.To)
	}
	if len(r.Changes()) == 0 {
		s.notify("%s: wasm already at %s; nothing to restore", name, s.opts.Level)
	}
	t := &target{name: name, origin: origin, ep: ep, raised: r, done: make(chan struct{})}
	s.mu.Lock()
	s.targets[name] = t
	s.mu.Unlock()
	return t, nil
}

func (s *Session) startLocal(ctx context.Context) error {
	ep := s.opts.Endpoint
	if err := ep.Check(); err != nil {
		return err
	}
	if s.opts.Log == nil {
		return errors.New("attach --admin needs the proxy's log: --log-file FILE or --log-cmd COMMAND")
	}
	t, err := s.raise(ctx, ep, ep.Target().String(), "")
	if err != nil {
		return err
	}
	if s.resolver == nil {
		s.findLocalModule(ctx, ep)
	}
	src, tail, err := s.opts.Log.Open(s.ctx)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithCancel(s.ctx)
	t.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(t.done)
		defer src.Close()
		err := s.scan(tctx, src, tail, "", s.opts.Log.String())
		if tctx.Err() == nil && err != nil {
			s.fail(err)
		}
		s.finish()
	}()
	return nil
}

// findLocalModule picks the plugin module named by a local proxy's
// /config_dump, when there is exactly one and it exists here.
func (s *Session) findLocalModule(ctx context.Context, ep Endpoint) {
	c, release, err := ep.Connect(ctx)
	if err != nil {
		return
	}
	defer release()
	ps, err := c.Plugins(ctx)
	if err != nil {
		return
	}
	var files []string
	seen := map[string]bool{}
	for _, p := range ps {
		if f, ok := p.LocalModule(); ok && !seen[f] {
			if _, err := os.Stat(f); err == nil {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	switch len(files) {
	case 0:
		return
	case 1:
		m, err := symbolize.Open(files[0], symbolize.Options{Warn: func(msg string) { s.notify("warning: %s", msg) }})
		if err != nil {
			s.notify("cannot symbolize with %s from /config_dump: %v", files[0], err)
			return
		}
		s.resolver, s.module = &lockedResolver{r: m}, files[0]
		s.notify("symbolizing crash frames with %s (the plugin's module in /config_dump)", files[0])
	default:
		s.notify("several plugin modules in /config_dump (%s): give --module to symbolize crash frames", strings.Join(files, ", "))
	}
}

func (s *Session) startPod(ctx context.Context) error {
	ep, err := s.opts.Endpoint.Resolve(ctx)
	if err != nil {
		return err
	}
	s.kube = ep.Kube
	p, err := s.kube.Pod(ctx, ep.Namespace, ep.Pod)
	if err != nil {
		return err
	}
	container, err := s.container(p)
	if err != nil {
		return err
	}
	if !p.Running() {
		return fmt.Errorf("pod %s/%s is %s, not running", p.Namespace, p.Name, strings.ToLower(p.Phase))
	}
	t, err := s.raise(ctx, ep, ep.Target().String(), "")
	if err != nil {
		return err
	}
	s.followPod(t, p, container, time.Now().Add(-2*time.Second), true)
	return nil
}

// container picks the proxy's container in a pod.
func (s *Session) container(p Pod) (string, error) {
	if c := s.opts.Container; c != "" {
		if !p.HasContainer(c) {
			return "", fmt.Errorf("pod %s/%s has no container %s (it has %s)", p.Namespace, p.Name, c, strings.Join(p.Containers, ", "))
		}
		return c, nil
	}
	for _, c := range []string{"istio-proxy", "envoy"} {
		if p.HasContainer(c) {
			return c, nil
		}
	}
	if len(p.Containers) == 1 {
		return p.Containers[0], nil
	}
	return "", fmt.Errorf("pod %s/%s has no istio-proxy or envoy container; say which with -c (it has %s)", p.Namespace, p.Name, strings.Join(p.Containers, ", "))
}

// followPod follows a pod's log from since, reopening it when it breaks.
// With fatal set (a single pod), giving up ends the session.
func (s *Session) followPod(t *target, p Pod, container string, since time.Time, fatal bool) {
	tctx, cancel := context.WithCancel(s.ctx)
	t.cancel = cancel
	ls := newLineStream()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.scan(tctx, ls.pr, false, t.origin, t.name)
	}()
	go func() {
		defer s.wg.Done()
		defer close(t.done)
		defer ls.pw.Close()
		kl := &kubeletLines{}
		failures := 0
		for {
			rc, err := s.kube.Logs(tctx, p.Namespace, p.Name, container, since)
			if err == nil {
				err = ls.copyLines(rc, kl.filter)
				rc.Close()
				if err == nil {
					err = errors.New("log stream ended")
				}
			}
			if tctx.Err() != nil {
				return
			}
			now, perr := s.kube.Pod(tctx, p.Namespace, p.Name)
			if perr != nil || !now.Running() {
				why := "gone"
				if perr == nil {
					why = strings.ToLower(now.Phase)
				}
				s.mu.Lock()
				t.gone = true
				s.mu.Unlock()
				if fatal {
					s.fail(fmt.Errorf("%s is %s", t.name, why))
					s.finish()
				} else {
					s.notify("%s is %s", t.name, why)
				}
				return
			}
			failures++
			if failures > s.opts.Reconnects {
				if fatal {
					s.fail(fmt.Errorf("%s: log stream: %w (gave up after %d reconnects)", t.name, err, s.opts.Reconnects))
					s.finish()
				} else {
					s.notify("%s: log stream: %v; gave up after %d reconnects", t.name, err, s.opts.Reconnects)
				}
				return
			}
			s.notify("%s: log stream broke (%v); reconnecting", t.name, err)
			if !sleepCtx(tctx, time.Duration(failures)*250*time.Millisecond) {
				return
			}
			if kl.since().IsZero() {
				since = time.Now().Add(-2 * time.Second)
			} else {
				since = kl.since()
				kl.reopened()
			}
			s.reassert(tctx, t)
		}
	}()
}

// reassert raises the level again when the proxy lost it (its container
// restarted while the log stream was down).
func (s *Session) reassert(ctx context.Context, t *target) {
	c, release, err := t.ep.Connect(ctx)
	if err != nil {
		return
	}
	defer release()
	cur, err := c.Loggers(ctx)
	if err != nil {
		return
	}
	var set []admin.Logger
	for _, ch := range t.raised.Changes() {
		if now, _ := cur.Get(ch.Logger); now == ch.From {
			set = append(set, admin.Logger{Name: ch.Logger, Level: ch.To})
		}
	}
	if len(set) > 0 {
		if _, err := c.SetLevels(ctx, set...); err == nil {
			s.notify("%s: the proxy restarted; %s raised to %s again", t.name, set[0].Name, set[0].Level)
		}
	}
}

func (s *Session) startSelector(ctx context.Context) error {
	ep, err := s.opts.Endpoint.Resolve(ctx)
	if err != nil {
		return err
	}
	s.kube = ep.Kube
	events, err := s.kube.WatchPods(s.ctx, ep.Namespace, s.opts.Selector)
	if err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for ev := range events {
			name := "pod " + ev.Pod.Namespace + "/" + ev.Pod.Name
			s.mu.Lock()
			t := s.targets[name]
			s.mu.Unlock()
			switch {
			case !ev.Gone && t == nil:
				s.addPod(ep, ev.Pod, name, ev.Initial)
			case ev.Gone && t != nil:
				s.dropPod(t)
			}
		}
	}()
	s.notify("following pods with %s in namespace %s", s.opts.Selector, ep.Namespace)
	return nil
}

// addPod attaches to a pod that appeared (or was there at the start).
func (s *Session) addPod(ep Endpoint, p Pod, name string, initial bool) {
	container, err := s.container(p)
	if err != nil {
		s.notify("%v; skipped", err)
		return
	}
	pe := ep
	pe.Pod, pe.Namespace = p.Name, p.Namespace
	t, err := s.raise(s.ctx, pe, name, "pod/"+p.Name+"/"+container)
	if err != nil {
		s.notify("%v; skipped", err)
		return
	}
	// Pods there at the start are followed from now; pods that appear
	// later from their first line, so a plugin that fails to load shows.
	since := time.Time{}
	if initial {
		since = time.Now().Add(-2 * time.Second)
	} else {
		s.notify("%s joined", name)
	}
	s.followPod(t, p, container, since, false)
}

// dropPod stops following a pod that is gone or no longer matches, and
// restores its level when it still runs.
func (s *Session) dropPod(t *target) {
	t.cancel()
	<-t.done
	s.mu.Lock()
	delete(s.targets, t.name)
	s.mu.Unlock()
	p, err := s.kube.Pod(s.ctx, t.ep.Namespace, t.ep.Pod)
	if err != nil || p.Deleting || p.Phase != "Running" {
		// Its Envoy is gone, and with it the changed level.
		s.opts.Store.Remove(t.raised.Marker())
		s.notify("%s left", t.name)
		return
	}
	outs, err := t.raised.Restore(s.ctx)
	s.report(t.name, outs, err)
}

func (s *Session) report(name string, outs []Outcome, err error) {
	for _, o := range outs {
		s.notify("%s: %s", name, o)
	}
	if err != nil {
		s.notify("%s: %v", name, err)
	}
	s.mu.Lock()
	for _, o := range outs {
		s.restored = append(s.restored, TargetOutcome{Target: name, Outcome: o})
	}
	s.mu.Unlock()
}

// scan decodes one log stream into events.
func (s *Session) scan(ctx context.Context, r io.Reader, tail bool, origin, file string) error {
	opts := tracer.Options{File: file}
	if s.resolver != nil {
		opts.Resolver = s.resolver
	}
	_, err := tracer.Scan(tracer.Follow(ctx, r, tail, s.opts.Idle, 250*time.Millisecond), opts, func(e *tracer.Event) error {
		ev := *e
		if origin != "" && ev.Origin == "" {
			ev.Origin = origin
		}
		s.emit(file, ev)
		return nil
	})
	return err
}

func (s *Session) emit(stream string, ev tracer.Event) {
	s.mu.Lock()
	s.merge.add(stream, ev, time.Now())
	s.mu.Unlock()
	s.poke()
}

func (s *Session) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.poke()
}

func (s *Session) finish() {
	s.mu.Lock()
	s.finished = true
	s.mu.Unlock()
	s.poke()
}

// Next waits for events and returns them, in time order. It returns the
// session's error once a single proxy's log can no longer be followed, and
// io.EOF when the log ended cleanly; a selector session ends only with ctx.
func (s *Session) Next(ctx context.Context) ([]tracer.Event, error) {
	for {
		s.mu.Lock()
		multi := s.opts.Selector != ""
		now := time.Now()
		evs := s.merge.release(now, !multi || s.finished || s.err != nil)
		due, held := s.merge.next()
		err, finished := s.err, s.finished
		s.mu.Unlock()
		if len(evs) > 0 {
			return evs, nil
		}
		if err != nil {
			return nil, err
		}
		if finished {
			return nil, io.EOF
		}
		var timer <-chan time.Time
		if held {
			t := time.NewTimer(max(time.Until(due), time.Millisecond))
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.wake:
		case <-timer:
		}
	}
}

// Frames resolves one crash frame into source frames, innermost first;
// nil without a module.
func (s *Session) Frames(ctx context.Context, f tracer.Frame) ([]loc.Frame, error) {
	if s.resolver == nil {
		return nil, nil
	}
	fs := []tracer.Frame{f}
	if err := tracer.Symbolize(fs, s.resolver); err != nil {
		return nil, err
	}
	out := append([]loc.Frame(nil), fs[0].Inlined...)
	return append(out, loc.Frame{Function: fs[0].Function, Demangled: fs[0].Demangled, File: fs[0].File, Line: fs[0].Line, Column: fs[0].Column}), nil
}

// Info describes the session for a status line.
type Info struct {
	Name   string // the proxy: a pod, a selector, an admin URL
	Notice string // what will be restored
	Module string // the module crash frames are symbolized with
}

// Info describes the session.
func (s *Session) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	var name string
	switch {
	case s.opts.Selector != "":
		name = fmt.Sprintf("pods %s (%d attached)", s.opts.Selector, len(s.targets))
	case s.opts.Endpoint.Pod != "":
		name = "pod " + s.opts.Endpoint.Pod
	default:
		name = s.opts.Endpoint.Target().String()
	}
	var changes []string
	for _, t := range s.sortedTargets() {
		for _, ch := range t.raised.Changes() {
			changes = append(changes, fmt.Sprintf("%s %s→%s", ch.Logger, ch.From, ch.To))
			break
		}
	}
	notice := ""
	if len(changes) > 0 {
		notice = "restores " + strings.Join(dedupe(changes), ", ") + " on quit"
	}
	return Info{Name: name, Notice: notice, Module: s.module}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (s *Session) sortedTargets() []*target {
	ts := make([]*target, 0, len(s.targets))
	for _, t := range s.targets {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
	return ts
}

// metricsConn is the connection Metrics keeps open between samples (a
// port-forward is too slow to open every two seconds), and what it read
// once: the plugins, release and workers change rarely, and a full
// /config_dump can be megabytes.
type metricsConn struct {
	target  string
	c       *admin.Client
	dead    <-chan struct{}
	release func()
	base    admin.WasmReport
	baseAt  time.Time
}

// metricsRefresh is how often Metrics reads /config_dump and /server_info
// again.
const metricsRefresh = time.Minute

// Metrics reads the Wasm stats of the (first) proxy. It keeps the
// connection between calls and reopens it when the port-forward died.
func (s *Session) Metrics(ctx context.Context) (admin.WasmReport, error) {
	s.mu.Lock()
	ts := s.sortedTargets()
	s.mu.Unlock()
	if len(ts) == 0 {
		return admin.WasmReport{}, errors.New("no proxy attached")
	}
	s.metricsMu.Lock()
	defer s.metricsMu.Unlock()
	m := s.metrics
	if m != nil && (m.target != ts[0].name || isClosed(m.dead)) {
		m.release()
		m, s.metrics = nil, nil
	}
	if m == nil {
		c, dead, release, err := ts[0].ep.connect(ctx)
		if err != nil {
			return admin.WasmReport{}, err
		}
		m = &metricsConn{target: ts[0].name, c: c, dead: dead, release: release}
		s.metrics = m
	}
	if m.baseAt.IsZero() || time.Since(m.baseAt) > metricsRefresh {
		r, err := m.c.WasmReport(ctx)
		if err != nil {
			m.release()
			s.metrics = nil
			return admin.WasmReport{}, err
		}
		m.base, m.baseAt = r, time.Now()
		return r, nil
	}
	st, err := m.c.WasmStats(ctx)
	if err != nil {
		m.release()
		s.metrics = nil
		return admin.WasmReport{}, err
	}
	return admin.NewWasmReport(m.base.Envoy, m.base.Workers, m.base.Plugins, st), nil
}

func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Close stops following and restores every level the session changed,
// retrying through broken connections. It is safe to call more than once;
// later calls return the first result.
func (s *Session) Close() error {
	s.closing.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.metricsMu.Lock()
		if s.metrics != nil {
			s.metrics.release()
			s.metrics = nil
		}
		s.metricsMu.Unlock()
		s.mu.Lock()
		ts := s.sortedTargets()
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, len(ts))
		for i, t := range ts {
			if t.gone {
				s.opts.Store.Remove(t.raised.Marker())
				s.notify("%s: nothing to restore, the proxy is gone", t.name)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs, err := t.raised.Restore(ctx)
				if err != nil {
					errs[i] = fmt.Errorf("%s: %w", t.name, err)
				}
				s.report(t.name, outs, nil)
			}()
		}
		wg.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// RestoreError says that levels could not be put back (their markers stay
// for wasmdbg level --restore).
type RestoreError struct{ Err error }

func (e *RestoreError) Error() string { return "restoring levels: " + e.Err.Error() }
func (e *RestoreError) Unwrap() error { return e.Err }

// NotRestored reports whether err says that a level change is still in
// place: restoring it failed.
func NotRestored(err error) bool {
	var re *RaiseError
	var rs *RestoreError
	return errors.As(err, &rs) || errors.As(err, &re) && re.RestoreErr != nil
}

// Restored lists what Close (and pods leaving) put back.
func (s *Session) Restored() []TargetOutcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TargetOutcome(nil), s.restored...)
}

// lockedResolver serializes lookups: several pods' decoders share one
// module.
type lockedResolver struct {
	mu sync.Mutex
	r  loc.Resolver
}

func (l *lockedResolver) Lookup(off loc.Offset) ([]loc.Frame, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Lookup(off)
}

// FuncByName passes the module's function lookup through (tracer uses it
// for hosts that print function-relative offsets).
func (l *lockedResolver) FuncByName(name string) (uint32, bool) {
	n, ok := l.r.(interface {
		FuncByName(string) (uint32, bool)
	})
	if !ok {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return n.FuncByName(name)
}
