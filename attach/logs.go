package attach

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// kubeletLines strips the RFC 3339 timestamp the kubelet puts before each
// line of a log requested with timestamps, remembers the last one, and
// drops lines already seen, so a log stream reopened with SinceTime (which
// has only second precision) after a drop does not repeat lines.
type kubeletLines struct {
	last   time.Time // timestamp of the last line passed on
	atLast int       // lines passed on with exactly that timestamp
	skip   int       // lines at last still to drop after a reopen
}

// filter returns the line without its timestamp, or ok false when the line
// was already seen. Lines without a timestamp pass unchanged.
func (k *kubeletLines) filter(line []byte) ([]byte, bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 20 {
		return line, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(line[:sp]))
	if err != nil {
		return line, true
	}
	rest := line[sp+1:]
	switch {
	case t.Before(k.last):
		return nil, false
	case t.Equal(k.last):
		if k.skip > 0 {
			k.skip--
			return nil, false
		}
		k.atLast++
	default:
		k.last, k.atLast, k.skip = t, 1, 0
	}
	return rest, true
}

// reopened prepares for a stream that starts again at since: lines up to
// the last one seen will come again.
func (k *kubeletLines) reopened() { k.skip = k.atLast }

// since is where to reopen the stream from.
func (k *kubeletLines) since() time.Time { return k.last }

// lineStream turns a log source that breaks and is reopened into one
// continuous stream of lines, for tracer.Follow.
type lineStream struct {
	pr *io.PipeReader
	pw *io.PipeWriter
}

func newLineStream() *lineStream {
	pr, pw := io.Pipe()
	return &lineStream{pr: pr, pw: pw}
}

// copyLines copies r to the stream line by line through filter (nil: no
// filter) until r ends; it returns r's error (nil at a clean end).
func (ls *lineStream) copyLines(r io.Reader, filter func([]byte) ([]byte, bool)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if filter != nil {
			var ok bool
			if line, ok = filter(line); !ok {
				continue
			}
		}
		if _, err := ls.pw.Write(append(line, '\n')); err != nil {
			return err
		}
	}
	return sc.Err()
}

// LogSource opens the log of a local proxy for attach --admin.
type LogSource interface {
	// Open starts reading; the reader ends when the source does (a command
	// exits) or ctx is done. tail says the reader is a growing file.
	Open(ctx context.Context) (r io.ReadCloser, tail bool, err error)
	String() string
}

// LogFile follows a file from its current end, as tail -F does (a
// truncated file is read again from the top).
type LogFile string

// Open implements LogSource.
func (f LogFile) Open(ctx context.Context) (io.ReadCloser, bool, error) {
	file, err := os.Open(string(f))
	if err != nil {
		return nil, false, fmt.Errorf("open log file: %w", err)
	}
	if fi, err := file.Stat(); err == nil && fi.Mode().IsRegular() {
		if _, err := file.Seek(0, io.SeekEnd); err != nil {
			file.Close()
			return nil, false, fmt.Errorf("open log file: %w", err)
		}
		return file, true, nil
	}
	return file, false, nil // a pipe or device: read as it comes
}

func (f LogFile) String() string { return string(f) }

// LogCommand runs a shell command (docker logs -f envoy, journalctl -fu
// envoy, …) and reads its standard output and error.
type LogCommand string

// Open implements LogSource.
func (c LogCommand) Open(ctx context.Context) (io.ReadCloser, bool, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", string(c))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("run log command %q: %w", string(c), err)
	}
	rc := &cmdReader{pr: pr}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil:
			pw.Close()
		case errors.As(err, &ee):
			pw.CloseWithError(fmt.Errorf("log command %q exited: %v", string(c), ee))
		case err != nil:
			pw.CloseWithError(fmt.Errorf("log command %q: %w", string(c), err))
		default:
			pw.Close() // exit status 0: the log ended
		}
	}()
	return rc, false, nil
}

func (c LogCommand) String() string { return "`" + string(c) + "`" }

type cmdReader struct {
	pr   *io.PipeReader
	once sync.Once
}

func (r *cmdReader) Read(p []byte) (int, error) { return r.pr.Read(p) }
func (r *cmdReader) Close() error {
	r.once.Do(func() { r.pr.Close() })
	return nil
}
