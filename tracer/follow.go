package tracer

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// Follow wraps a growing input for `wasmdbg trace --follow`. Reads return
// data as it arrives; when none arrived for idle, one read returns
// ErrIdle so a Reader emits the record it holds open (a crash whose
// backtrace may still come, an Istio record without its thread= end).
// With tail set (a regular file), the end of r is not the end: Follow
// polls for appended data every poll, and starts again from the top when
// the file was truncated (copytruncate log rotation). Reads return io.EOF
// when ctx is done, or when r ends and tail is not set (a closed pipe).
func Follow(ctx context.Context, r io.Reader, tail bool, idle, poll time.Duration) io.Reader {
	f := &follower{ch: make(chan chunk, 4), ctx: ctx, idle: idle}
	go f.pump(r, tail, poll)
	return f
}

type chunk struct {
	data []byte
	err  error
}

type follower struct {
	ch       chan chunk
	ctx      context.Context
	idle     time.Duration
	cur      []byte
	err      error
	idleSent bool
}

func (f *follower) pump(r io.Reader, tail bool, poll time.Duration) {
	var pos int64
	file, _ := r.(*os.File)
	for {
		buf := make([]byte, 64<<10)
		n, err := r.Read(buf)
		pos += int64(n)
		if n > 0 {
			select {
			case f.ch <- chunk{data: buf[:n]}:
			case <-f.ctx.Done():
				return
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) && tail {
			if file != nil {
				if fi, serr := file.Stat(); serr == nil && fi.Size() < pos {
					if _, serr := file.Seek(0, io.SeekStart); serr == nil {
						pos = 0
					}
				}
			}
			select {
			case <-time.After(poll):
				continue
			case <-f.ctx.Done():
				return
			}
		}
		select {
		case f.ch <- chunk{err: err}:
		case <-f.ctx.Done():
		}
		return
	}
}

func (f *follower) Read(p []byte) (int, error) {
	for len(f.cur) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		var timeout <-chan time.Time
		if !f.idleSent && f.idle > 0 {
			t := time.NewTimer(f.idle)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case c := <-f.ch:
			if c.err != nil {
				f.err = c.err
				continue
			}
			f.cur, f.idleSent = c.data, false
		case <-timeout:
			f.idleSent = true
			return 0, ErrIdle
		case <-f.ctx.Done():
			f.err = io.EOF
		}
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}
