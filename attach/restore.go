package attach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
)

// Levels is what restoring needs from an admin endpoint; *admin.Client has
// it.
type Levels interface {
	Loggers(ctx context.Context) (admin.Loggers, error)
	SetLevels(ctx context.Context, changes ...admin.Logger) (admin.Loggers, error)
}

// Connector returns a fresh connection to the proxy's admin API (for a pod,
// a new port-forward) and a function that releases it. Restoring calls it
// again after a dropped connection.
type Connector func(ctx context.Context) (Levels, func(), error)

// Target names the proxy whose levels were changed, as the user reached it.
type Target struct {
	Admin      string `json:"admin,omitempty"` // base URL, for a local Envoy
	Context    string `json:"context,omitempty"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Pod        string `json:"pod,omitempty"`
	AdminPort  int    `json:"admin_port,omitempty"`
}

func (t Target) String() string {
	if t.Pod == "" {
		return t.Admin
	}
	s := "pod " + t.Namespace + "/" + t.Pod
	if t.Context != "" {
		s += " (context " + t.Context + ")"
	}
	return s
}

// key is a file-name-safe identity of the target.
func (t Target) key() string {
	id := t.Admin
	if t.Pod != "" {
		id = fmt.Sprintf("pod|%s|%s|%s|%s|%d", t.Kubeconfig, t.Context, t.Namespace, t.Pod, t.AdminPort)
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

// Change is one logger level attach changed.
type Change struct {
	Logger string      `json:"logger"`
	From   admin.Level `json:"from"`
	To     admin.Level `json:"to"`
}

// Marker records, before any level is changed, what a wasmdbg process is
// about to change, so that the levels can be put back even if that process
// is killed with SIGKILL: the next attach or `wasmdbg level --restore` finds
// it.
type Marker struct {
	Version int       `json:"version"`
	Target  Target    `json:"target"`
	PID     int       `json:"pid"`
	Host    string    `json:"host,omitempty"`
	Started time.Time `json:"started"`
	Changes []Change  `json:"changes"`

	file string
}

// File is where the marker is stored.
func (m Marker) File() string { return m.file }

// Alive reports whether the process that wrote the marker still runs on
// this host (then it will restore by itself).
func (m Marker) Alive() bool {
	if h, _ := os.Hostname(); m.Host != "" && m.Host != h {
		return false
	}
	if m.PID <= 0 || m.PID == os.Getpid() {
		return false
	}
	p, err := os.FindProcess(m.PID)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Store keeps markers as JSON files in a directory.
type Store struct{ Dir string }

// DefaultStore is the per-user state directory: $WASMDBG_STATE_DIR, else
// $XDG_STATE_HOME/wasmdbg, else ~/.local/state/wasmdbg (the user cache
// directory on systems without a home-relative state convention).
func DefaultStore() (Store, error) {
	if d := os.Getenv("WASMDBG_STATE_DIR"); d != "" {
		return Store{Dir: d}, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return Store{Dir: filepath.Join(d, "wasmdbg")}, nil
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		if h, err := os.UserHomeDir(); err == nil {
			return Store{Dir: filepath.Join(h, ".local", "state", "wasmdbg")}, nil
		}
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return Store{}, fmt.Errorf("find a directory for restore markers: %w (set WASMDBG_STATE_DIR)", err)
	}
	return Store{Dir: filepath.Join(d, "wasmdbg")}, nil
}

func (s Store) path(t Target) string {
	return filepath.Join(s.Dir, "restore-"+t.key()+".json")
}

// Save writes m durably (write, sync, rename) before any level changes.
func (s Store) Save(m *Marker) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("save restore marker: %w", err)
	}
	m.Version = 1
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save restore marker: %w", err)
	}
	p := s.path(m.Target)
	tmp, err := os.CreateTemp(s.Dir, ".restore-*")
	if err != nil {
		return fmt.Errorf("save restore marker: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save restore marker %s: %w", p, err)
	}
	m.file = p
	return nil
}

// Load returns the marker for t, or nil if there is none.
func (s Store) Load(t Target) (*Marker, error) {
	return s.read(s.path(t))
}

func (s Store) read(p string) (*Marker, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read restore marker: %w", err)
	}
	var m Marker
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("restore marker %s: %v (delete it if the levels are right)", p, err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("restore marker %s: version %d, this wasmdbg reads version 1", p, m.Version)
	}
	for i, c := range m.Changes {
		if c.Logger == "" || c.From.Rank() < 0 || c.To.Rank() < 0 {
			return nil, fmt.Errorf("restore marker %s: changes[%d]: logger %q from %q to %q is not a valid change", p, i, c.Logger, c.From, c.To)
		}
	}
	m.file = p
	return &m, nil
}

// List returns every marker in the store, oldest first.
func (s Store) List() ([]*Marker, error) {
	files, err := filepath.Glob(filepath.Join(s.Dir, "restore-*.json"))
	if err != nil {
		return nil, err
	}
	var out []*Marker
	for _, f := range files {
		m, err := s.read(f)
		if err != nil {
			return nil, err
		}
		if m != nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// Remove deletes the marker file.
func (s Store) Remove(m *Marker) error {
	if m == nil || m.file == "" {
		return nil
	}
	if err := os.Remove(m.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove restore marker: %w", err)
	}
	return nil
}

// Outcome is what restoring did to one logger.
type Outcome struct {
	Change
	Now    admin.Level `json:"now"`    // the level found before restoring
	Action string      `json:"action"` // restored, unchanged (already back), left (someone else changed it)
}

func (o Outcome) String() string {
	switch o.Action {
	case "restored":
		return fmt.Sprintf("restored %s: %s -> %s", o.Logger, o.Now, o.From)
	case "unchanged":
		return fmt.Sprintf("%s is already %s", o.Logger, o.From)
	}
	return fmt.Sprintf("left %s at %s: it was changed to that after wasmdbg set %s (put it back with wasmdbg level %s=%s)", o.Logger, o.Now, o.To, o.Logger, o.From)
}

// restoreOnce puts back every change of m whose logger is still at the level
// wasmdbg set; a logger someone else changed in the meantime is left alone.
func restoreOnce(ctx context.Context, c Levels, changes []Change) ([]Outcome, error) {
	cur, err := c.Loggers(ctx)
	if err != nil {
		return nil, err
	}
	var outs []Outcome
	var set []admin.Logger
	for _, ch := range changes {
		now, ok := cur.Get(ch.Logger)
		o := Outcome{Change: ch, Now: now}
		switch {
		case !ok:
			return nil, fmt.Errorf("logger %s is gone from the proxy's list; is this the same proxy?", ch.Logger)
		case now == ch.From:
			o.Action = "unchanged"
		case now == ch.To:
			o.Action = "restored"
			set = append(set, admin.Logger{Name: ch.Logger, Level: ch.From})
		default:
			o.Action = "left"
		}
		outs = append(outs, o)
	}
	if len(set) > 0 {
		if _, err := c.SetLevels(ctx, set...); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// Retry says how hard restoring tries through a broken connection.
type Retry struct {
	Attempts int           // total tries, at least 1
	Wait     time.Duration // first pause; doubled after each failure
	MaxWait  time.Duration
}

// DefaultRetry tries for about half a minute.
var DefaultRetry = Retry{Attempts: 8, Wait: 250 * time.Millisecond, MaxWait: 8 * time.Second}

// Restore puts m's changes back through connect, reconnecting and retrying
// as r says, and removes the marker once done. A restore must outlive the
// reason for it (a cancelled context on Ctrl-C), so ctx only bounds the
// whole: pass a context that is not already cancelled.
func Restore(ctx context.Context, connect Connector, store Store, m *Marker, r Retry) ([]Outcome, error) {
	if r.Attempts < 1 {
		r.Attempts = 1
	}
	wait := r.Wait
	var last error
	for i := 0; i < r.Attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("restore %s: %w (last error: %v)", m.Target, ctx.Err(), last)
			case <-time.After(wait):
			}
			wait = min(wait*2, max(r.MaxWait, r.Wait))
		}
		c, release, err := connect(ctx)
		if err != nil {
			last = err
			continue
		}
		outs, err := restoreOnce(ctx, c, m.Changes)
		release()
		if err != nil {
			last = err
			var le *admin.LoggingError
			var na *admin.NotAdminError
			if errors.As(err, &le) || errors.As(err, &na) {
				break // a refusal does not get better by retrying
			}
			continue
		}
		if err := store.Remove(m); err != nil {
			return outs, err
		}
		return outs, nil
	}
	return nil, fmt.Errorf("restore %s: %w; the marker %s stays, run wasmdbg level --restore when the proxy is reachable", m.Target, last, m.file)
}

// Raised holds the levels one wasmdbg process raised, and restores them.
type Raised struct {
	connect Connector
	store   Store
	marker  *Marker
	retry   Retry
	done    bool
}

// Raise reads the current levels, records a marker for the changes it is
// about to make, and makes them. Loggers already at the wanted level are
// not recorded. A stale marker for the same target (left by a wasmdbg that
// died) is restored first, so the levels recorded are the original ones;
// what it restored is returned. A marker whose process still runs is an
// error: two sessions would restore over each other.
func Raise(ctx context.Context, connect Connector, store Store, t Target, want []admin.Logger) (*Raised, []Outcome, error) {
	var stale []Outcome
	old, err := store.Load(t)
	if err != nil {
		return nil, nil, err
	}
	if old != nil {
		if old.Alive() {
			return nil, nil, fmt.Errorf("wasmdbg (pid %d, since %s) is attached to %s and will restore its levels when it ends; stop it first, or remove %s if that is not so",
				old.PID, old.Started.Format(time.RFC3339), t, old.file)
		}
		if stale, err = Restore(ctx, connect, store, old, Retry{Attempts: 1}); err != nil {
			return nil, nil, err
		}
	}
	c, release, err := connect(ctx)
	if err != nil {
		return nil, stale, err
	}
	defer release()
	cur, err := c.Loggers(ctx)
	if err != nil {
		return nil, stale, err
	}
	host, _ := os.Hostname()
	m := &Marker{Target: t, PID: os.Getpid(), Host: host, Started: time.Now().UTC().Truncate(time.Second)}
	var set []admin.Logger
	for _, w := range want {
		now, ok := cur.Get(w.Name)
		if !ok {
			return nil, stale, UnknownLogger(w.Name, cur)
		}
		if now == w.Level {
			continue
		}
		m.Changes = append(m.Changes, Change{Logger: w.Name, From: now, To: w.Level})
		set = append(set, w)
	}
	s := &Raised{connect: connect, store: store, marker: m, retry: DefaultRetry}
	if len(set) == 0 {
		s.done = true
		return s, stale, nil
	}
	if err := store.Save(m); err != nil {
		return nil, stale, err
	}
	if _, err := c.SetLevels(ctx, set...); err != nil {
		// Usually nothing changed (Envoy applies a batch all or nothing),
		// but a request cut short (Ctrl-C) may have been applied, and a
		// one-by-one fallback may have got part way; restore checks each
		// logger and says what it did.
		re := &RaiseError{Err: err}
		re.Restored, re.RestoreErr = Restore(context.WithoutCancel(ctx), connect, store, m, DefaultRetry)
		return nil, stale, re
	}
	return s, stale, nil
}

// RaiseError is a failed level change, with what was done to put back
// whatever part of it the proxy applied.
type RaiseError struct {
	Err        error
	Restored   []Outcome
	RestoreErr error
}

func (e *RaiseError) Error() string {
	if e.RestoreErr != nil {
		return fmt.Sprintf("%v; and restoring failed: %v", e.Err, e.RestoreErr)
	}
	return e.Err.Error()
}

func (e *RaiseError) Unwrap() error { return e.Err }

// UnknownLogger explains that the proxy has no logger called name, with the
// names that look like it.
func UnknownLogger(name string, cur admin.Loggers) error {
	if cur.FineGrain() {
		return fmt.Errorf("the proxy has no %s logger: it runs with --enable-fine-grain-logging, which names source files instead (e.g. source/extensions/common/wasm/*)", name)
	}
	names := make([]string, 0, len(cur))
	for _, l := range cur {
		if strings.Contains(l.Name, name) || strings.Contains(name, l.Name) {
			names = append(names, l.Name)
		}
	}
	if len(names) > 0 {
		return fmt.Errorf("the proxy has no %s logger (similar: %s)", name, strings.Join(names, ", "))
	}
	return fmt.Errorf("the proxy has no %s logger (wasmdbg level lists them)", name)
}

// Changes are the level changes the session made.
func (s *Raised) Changes() []Change { return s.marker.Changes }

// Marker is the session's marker (its file is empty when nothing changed).
func (s *Raised) Marker() *Marker { return s.marker }

// Restore puts the levels back (once; later calls do nothing) with retries
// through dropped connections.
func (s *Raised) Restore(ctx context.Context) ([]Outcome, error) {
	if s.done {
		return nil, nil
	}
	outs, err := Restore(ctx, s.connect, s.store, s.marker, s.retry)
	if err == nil {
		s.done = true
	}
	return outs, err
}

// SetRetry changes how hard Restore tries (tests shorten it).
func (s *Raised) SetRetry(r Retry) { s.retry = r }
