package tracer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayRoundTrip parses the Envoy-framed trace that wasmdbg replay
// prints back into events and compares them with the events replay emitted
// for it (replay's golden pair, basic.trace.txt and basic.trace.ndjson).
// Fields only one side can know are left out: line numbers and findings
// (tracer's), decoded argument values replay read from guest memory (tracer
// keeps them as the annotation), and the runtime of a crash (replay runs
// wazero but prints V8's block, which tracer reads as V8).
func TestReplayRoundTrip(t *testing.T) {
	dir := filepath.Join("..", "replay", "testdata", "golden")
	txts, _ := filepath.Glob(filepath.Join(dir, "*.trace.txt"))
	if len(txts) == 0 {
		t.Skipf("no replay goldens under %s yet", dir)
	}
	for _, txt := range txts {
		name := strings.TrimSuffix(filepath.Base(txt), ".txt")
		t.Run(name, func(t *testing.T) {
			want := readNDJSON(t, filepath.Join(dir, name+".ndjson"))
			var got []Event
			_, err := Scan(bytes.NewReader(readFile(t, txt)), Options{}, func(e *Event) error {
				if e.Kind != KindFinding {
					got = append(got, *e)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d events parsed, replay emitted %d", len(got), len(want))
			}
			for i := range want {
				g, w := roundTripForm(&got[i], &want[i]), roundTripForm(&want[i], &want[i])
				if g != w {
					t.Errorf("event %d (line %d):\n got %s\nwant %s", i, got[i].Line, g, w)
				}
			}
		})
	}
}

// roundTripForm renders the fields both sides know; context_id only where
// replay sets it.
func roundTripForm(e, replay *Event) string {
	c := *e
	c.Line, c.Decoded, c.Annotation, c.DurationNS, c.Runtime = 0, nil, "", 0, ""
	c.CallLine, c.LastCalls, c.PanicText, c.PanicLine = 0, nil, "", 0
	if replay.ContextID == nil {
		c.ContextID = nil
	}
	for i := range c.Frames {
		c.Frames[i].OffsetKind = ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

func readNDJSON(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, e)
	}
	return out
}
