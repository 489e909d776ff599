// Package tui is wasmdbg's interactive terminal UI (bubbletea v2): the
// crashes of a Proxy-Wasm plugin with their symbolized frames and source
// lines, the call tree of the wasm:trace stream, the plugin's logs and
// metrics, and step-by-step control of a replay.
//
// The UI reads everything through one narrow interface, Source (events so
// far, frames for an offset, Close), plus Replayer and Metered for the
// sources that can step or have metrics, so it never knows whether it shows
// a log file (package tracer, through FileSource), a replay (package
// replay) or a live proxy (package attach). Model is the root model: it
// keeps the events compactly (a million events take less memory than the
// log they came from), renders only the rows on screen, and does every IO
// in commands, never in Update. Keys come from one KeyMap, from which the
// help is generated.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// RunOptions say which terminal the UI runs in; zero values mean the
// process's own (stdin, or /dev/tty when stdin is a pipe; stdout).
type RunOptions struct {
	In  io.Reader
	Out io.Writer
	// Env is the environment for colour detection (NO_COLOR, TERM…);
	// nil means os.Environ().
	Env []string
}

// Run shows src until the user quits or ctx ends, and closes src however
// the UI ends (for attach this restores the logger levels). The error is
// the UI's, or else the one Close returned.
func Run(ctx context.Context, src Source, opts Options, ro RunOptions) error {
	m := New(src, opts)
	env := ro.Env
	if env == nil {
		env = os.Environ()
	}
	out := ro.Out
	if out == nil {
		out = os.Stdout
	}
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithOutput(out),
		tea.WithEnvironment(env), tea.WithColorProfile(ColorProfile(out, env))}
	if ro.In != nil {
		popts = append(popts, tea.WithInput(ro.In))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	cerr := src.Close()
	if m.closeErr != nil {
		cerr = m.closeErr
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		err = nil // ctx ended: the caller knows why
	}
	if err != nil {
		return err
	}
	return cerr
}

// ColorProfile is the colour profile of out: what the terminal supports,
// with NO_COLOR (any non-empty value, as no-color.org says) removing the
// colours but keeping bold and reverse, which the UI's cursor relies on.
func ColorProfile(out io.Writer, env []string) colorprofile.Profile {
	p := colorprofile.Detect(out, env)
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NO_COLOR="); ok && v != "" && p > colorprofile.ASCII {
			p = colorprofile.ASCII
		}
	}
	return p
}

// FrameOffset reads the offset of a printed frame in the convention the
// frame says it uses: a module offset by default, a code offset for
// wazero's frames.
func FrameOffset(f tracer.Frame) (loc.Offset, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(f.Offset, "0x"), "0X")
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil || s == "" {
		return nil, fmt.Errorf("frame %d: offset %q is not a hex number", f.Index, f.Offset)
	}
	switch f.OffsetKind {
	case "", "module":
		return loc.ModuleOffset(v), nil
	case "code":
		return loc.CodeOffset(v), nil
	}
	return nil, fmt.Errorf("frame %d: %s offsets cannot be resolved without the function index", f.Index, f.OffsetKind)
}

// resolveFrame is Source.Frames for sources that hold a loc.Resolver.
func resolveFrame(r loc.Resolver, f tracer.Frame) ([]loc.Frame, error) {
	if r == nil {
		return nil, nil
	}
	off, err := FrameOffset(f)
	if err != nil {
		return nil, err
	}
	return r.Lookup(off)
}

// MemSource is a Source over events given in memory: for tests, for
// commands that already hold their events, and for producers that call
// back with events as they happen (serve's event sink): Push queues
// events and is safe from any goroutine, End says no more will come; until
// End, Next waits like a live source.
type MemSource struct {
	info     Info
	resolver loc.Resolver

	mu      sync.Mutex
	queue   []Batch
	ended   bool
	wake    chan struct{}
	closed  int
	onClose func() error
}

// NewMemSource returns an empty source; r resolves frames (nil: none).
func NewMemSource(info Info, r loc.Resolver) *MemSource {
	return &MemSource{info: info, resolver: r, wake: make(chan struct{}, 1)}
}

// Push queues events as one batch.
func (s *MemSource) Push(evs ...tracer.Event) { s.push(Batch{Events: evs}) }

// Reset queues a batch that voids what was shown before.
func (s *MemSource) Reset(evs ...tracer.Event) { s.push(Batch{Reset: true, Events: evs}) }

func (s *MemSource) push(b Batch) {
	s.mu.Lock()
	s.queue = append(s.queue, b)
	s.mu.Unlock()
	s.notify()
}

// End makes Next return io.EOF once the queue is empty.
func (s *MemSource) End() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.notify()
}

func (s *MemSource) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Info describes the source.
func (s *MemSource) Info() Info { return s.info }

// Next returns the events queued since the last call, in one batch (a
// Reset starts a new one).
func (s *MemSource) Next(ctx context.Context) (Batch, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			b := s.queue[0]
			n := 1
			for n < len(s.queue) && !s.queue[n].Reset {
				// A full slice expression: never append into a caller's array.
				b.Events = append(b.Events[:len(b.Events):len(b.Events)], s.queue[n].Events...)
				n++
			}
			s.queue = s.queue[n:]
			s.mu.Unlock()
			return b, nil
		}
		ended := s.ended
		s.mu.Unlock()
		if ended {
			return Batch{}, io.EOF
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

// Frames resolves f with the source's resolver.
func (s *MemSource) Frames(_ context.Context, f tracer.Frame) ([]loc.Frame, error) {
	return resolveFrame(s.resolver, f)
}

// OnClose sets what Close does the first time (stop a server).
func (s *MemSource) OnClose(fn func() error) {
	s.mu.Lock()
	s.onClose = fn
	s.mu.Unlock()
}

// Close runs the OnClose function once, and counts the calls for tests.
func (s *MemSource) Close() error {
	s.mu.Lock()
	s.closed++
	fn := s.onClose
	first := s.closed == 1
	s.mu.Unlock()
	if first && fn != nil {
		return fn()
	}
	return nil
}

// Closed reports how many times Close was called.
func (s *MemSource) Closed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
