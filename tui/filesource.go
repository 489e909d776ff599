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
	"time"

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
// hands the events to the UI in batches. A goroutine reads ahead by at
// most a few batches, so memory stays bounded by what the UI keeps.
type FileSource struct {
	name string
	r    io.Reader
	opts FileOptions

	once   sync.Once
	ch     chan sourceItem
	ctx    context.Context
	cancel context.CancelFunc
	closed sync.Once
}

type sourceItem struct {
	b   Batch
	err error
}

// fileBatch is the number of events per batch when reading a file whole:
// large enough that a million events cost a few hundred messages, small
// enough that the first screen shows after a few milliseconds.
const fileBatch = 8192

// NewFileSource returns a source reading r, which is called name.
func NewFileSource(name string, r io.Reader, opts FileOptions) *FileSource {
	ctx, cancel := context.WithCancel(context.Background())
	return &FileSource{name: name, r: r, opts: opts, ch: make(chan sourceItem, 2), ctx: ctx, cancel: cancel}
}

// Info describes the source.
func (s *FileSource) Info() Info {
	return Info{Kind: KindFile, Name: s.name, Live: s.opts.Follow, Notice: s.opts.Notice, Module: s.opts.Module}
}

// Next returns the next batch of events; io.EOF at the end of the input.
func (s *FileSource) Next(ctx context.Context) (Batch, error) {
	s.once.Do(func() { go s.read() })
	select {
	case it, ok := <-s.ch:
		if !ok {
			return Batch{}, io.EOF
		}
		return it.b, it.err
	case <-ctx.Done():
		return Batch{}, ctx.Err()
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
	defer close(s.ch)
	br := bufio.NewReaderSize(s.r, 64<<10)
	var batch []tracer.Event
	last := time.Now()
	send := func(block bool) bool {
		if len(batch) == 0 {
			return true
		}
		it := sourceItem{b: Batch{Events: batch}}
		if block {
			select {
			case s.ch <- it:
			case <-s.ctx.Done():
				return false
			}
		} else {
			select {
			case s.ch <- it:
			default:
				return true // the UI is busy: keep gathering
			}
		}
		batch, last = nil, time.Now()
		return true
	}
	add := func(e *tracer.Event) error {
		batch = append(batch, *e)
		switch {
		case len(batch) >= fileBatch:
			if !send(true) {
				return s.ctx.Err()
			}
		case s.opts.Follow && time.Since(last) > 20*time.Millisecond, s.opts.Follow && len(batch) == 1:
			send(false)
		}
		return nil
	}
	var err error
	if isNDJSON(br) {
		err = readNDJSON(br, s.name, add)
	} else {
		_, err = tracer.Scan(br, tracer.Options{File: s.name}, add)
	}
	if !send(true) {
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		select {
		case s.ch <- sourceItem{err: err}:
		case <-s.ctx.Done():
		}
	}
}

// isNDJSON reports whether the input is the output of `wasmdbg trace
// --json`: its first line is a JSON object with a "kind". Istio's JSON
// logs are objects too, but have no "kind".
func isNDJSON(br *bufio.Reader) bool {
	b, _ := br.Peek(4096)
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
