package tui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	"github.com/wasmdbg/wasmdbg/tracer"
)

// FileOptions configure a FileSource.
type FileOptions struct {
	// Resolver symbolizes crash frames (a symbolize.Module); nil shows the
	// frames as the log printed them. Module is its name, for the UI.
	Resolver loc.Resolver
	Module   string
	// Follow keeps reading after the end of the input (a growing file, a
	// pipe from kubectl logs -f): the source is live. The reader should
	// then be a tracer.Follow reader, so records held open are flushed
	// when the input goes quiet.
	Follow bool
	// Closer is closed with the source (the file behind the reader).
	Closer io.Closer
	// Notice is shown in the status bar.
	Notice string
}

// FileSource reads a proxy log through package tracer (every framing it
// knows), or an NDJSON event file written by `wasmdbg trace --json`, and
// hands the events to the UI in batches. A goroutine decodes ahead of the
// UI by at most maxAhead events, so memory stays bounded by what the UI
// keeps; a followed log's events reach the UI as soon as they decode.
type FileSource struct {
	name string
	r    io.Reader
	opts FileOptions

	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	closed sync.Once

	mu    sync.Mutex
	queue []tracer.Event
	err   error
	ended bool
	data  chan struct{} // something was queued, or the input ended
	room  chan struct{} // the UI took the queue
}

// maxAhead bounds the events decoded but not yet taken by the UI; one
// batch is at most this many events, so a million events make a few
// hundred messages and the first screen shows after a few milliseconds.
const maxAhead = 4096

// NewFileSource returns a source reading r, which is called name.
func NewFileSource(name string, r io.Reader, opts FileOptions) *FileSource {
	ctx, cancel := context.WithCancel(context.Background())
	return &FileSource{name: name, r: r, opts: opts, ctx: ctx, cancel: cancel,
		data: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// Info describes the source.
func (s *FileSource) Info() Info {
	return Info{Kind: KindFile, Name: s.name, Live: s.opts.Follow, Notice: s.opts.Notice, Module: s.opts.Module}
}

// Next returns the events decoded since the last call, waiting for some;
// io.EOF at the end of the input.
func (s *FileSource) Next(ctx context.Context) (Batch, error) {
	s.once.Do(func() { go s.read() })
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			b := Batch{Events: s.queue}
			s.queue = nil
			s.mu.Unlock()
			signal(s.room)
			return b, nil
		}
		if s.ended {
			err := s.err
			s.err = io.EOF
			s.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return Batch{}, err
		}
		s.mu.Unlock()
		select {
		case <-s.data:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Frames resolves a crash frame with the module given in FileOptions.
func (s *FileSource) Frames(_ context.Context, f tracer.Frame) ([]loc.Frame, error) {
	return resolveFrame(s.opts.Resolver, f)
}

// Close stops reading and closes the input.
func (s *FileSource) Close() error {
	var err error
	s.closed.Do(func() {
		s.cancel()
		if s.opts.Closer != nil {
			err = s.opts.Closer.Close()
		}
	})
	return err
}

func (s *FileSource) read() {
	br := bufio.NewReaderSize(s.r, 64<<10)
	add := func(e *tracer.Event) error {
		for {
			s.mu.Lock()
			if len(s.queue) < maxAhead {
				if s.queue == nil {
					s.queue = make([]tracer.Event, 0, 1024)
				}
				s.queue = append(s.queue, *e)
				s.mu.Unlock()
				signal(s.data)
				return nil
			}
			s.mu.Unlock()
			select {
			case <-s.room:
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
		}
	}
	var err error
	if isNDJSON(br) {
		err = readNDJSON(br, s.name, add)
	} else {
		_, err = tracer.Scan(br, tracer.Options{File: s.name}, add)
	}
	s.mu.Lock()
	s.ended = true
	if err != nil && !errors.Is(err, context.Canceled) {
		s.err = err
	}
	s.mu.Unlock()
	signal(s.data)
}

// isNDJSON reports whether the input is the output of `wasmdbg trace
// --json`: its first line is a JSON object with a "kind". Istio's JSON
// logs are objects too, but have no "kind".
func isNDJSON(br *bufio.Reader) bool {
	// Only what the first read brought: waiting for more would swallow
	// the idle signal of a followed log (tracer.ErrIdle), which makes the
	// tracer emit the record it holds.
	if b, _ := br.Peek(1); len(b) == 0 {
		return false
	}
	b, _ := br.Peek(min(br.Buffered(), 4096))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	var probe struct {
		Kind *tracer.Kind `json:"kind"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.Kind != nil
}

// maxNDJSONLine caps one event line.
const maxNDJSONLine = 16 << 20

func readNDJSON(r io.Reader, name string, add func(*tracer.Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxNDJSONLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var e tracer.Event
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("%s:%d: not an event: %v", name, line, err)
		}
		if e.Kind == "" {
			return fmt.Errorf("%s:%d: event without a kind", name, line)
		}
		if err := add(&e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return nil
}
