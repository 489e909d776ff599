package tracer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/wasmdbg/wasmdbg/tracer/internal/loggen"
)

var (
	benchOnce sync.Once
	benchLog  []byte
)

// benchInput is a realistic 200,000-line Envoy wasm:trace log.
func benchInput(b *testing.B) []byte {
	benchOnce.Do(func() {
		var buf bytes.Buffer
		if err := loggen.Write(&buf, loggen.Options{Lines: 200_000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		benchLog = buf.Bytes()
	})
	return benchLog
}

// BenchmarkReader measures framing and record assembly alone.
func BenchmarkReader(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rd := NewReader(bytes.NewReader(in))
		for {
			if _, err := rd.Next(); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStats is what `wasmdbg trace --stats` does per input.
func BenchmarkStats(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rd := NewReader(bytes.NewReader(in))
		s := NewStats()
		for {
			r, err := rd.Next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				b.Fatal(err)
			}
			s.Add(r)
		}
	}
}

// BenchmarkReadAll is what `wasmdbg trace --stats` does per input: the
// chunker, scanning workers and counting on goroutines of their own
// (everything on one goroutine for 1 worker), against BenchmarkStats'
// Next and Add for every record. Compare them, or this one before and
// after a change: it guards the fast path.
func BenchmarkReadAll(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			in := benchInput(b)
			lines := bytes.Count(in, []byte("\n"))
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				s := NewStats()
				if err := s.readAll(NewReader(bytes.NewReader(in)), workers); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
		})
	}
}

// BenchmarkDecode is what `wasmdbg trace --json` does before encoding.
func BenchmarkDecode(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Scan(bytes.NewReader(in), Options{}, func(*Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
