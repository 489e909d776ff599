package replay

import (
	"strings"
	"testing"
	"time"
)

// TestInputs converts the sample HAR file and tap traces, checks the
// captures against golden files, and replays them.
func TestInputs(t *testing.T) {
	m := compileFile(t, "testdata/wat/basic.wasm", Options{Timeout: time.Second})
	for _, tt := range []struct {
		file    string
		format  Format
		streams int
	}{
		{"chrome.har", FormatHAR, 2},
		{"tap-buffered.json", FormatTap, 2},
		{"tap-streamed.json", FormatTap, 2},
	} {
		t.Run(tt.file, func(t *testing.T) {
			c, f, err := ReadInput(tt.file, readFile(t, "testdata/inputs/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if f != tt.format || len(c.Streams) != tt.streams {
				t.Errorf("format %s with %d streams, want %s with %d", f, len(c.Streams), tt.format, tt.streams)
			}
			out, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "input-"+tt.file+".capture.json", out)
			_, _, res := run(t, m, c, Quiet)
			if res.Trapped || res.Failure != nil {
				t.Errorf("replay: %s", res.verdict())
			}
		})
	}
}

func TestInputNotes(t *testing.T) {
	c, _, err := ReadInput("tap.json", readFile(t, "testdata/inputs/tap-buffered.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "1 tapped bodies were truncated") {
		t.Errorf("notes %q", c.Notes)
	}
	if n := Redact(c); n != 1 || c.Streams[0].Request.Headers[6].Value != Redacted {
		t.Errorf("redacted %d: %v", n, c.Streams[0].Request.Headers)
	}
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "  \n", "in.json: empty input: expected a capture, a HAR file or Envoy tap traces"},
		{"not json", "hello", "in.json: not JSON: line 1 column 1: invalid character 'h' looking for beginning of value"},
		{"not json after blank lines", "\n\n  hello", "in.json: not JSON: line 3 column 3: invalid character 'h' looking for beginning of value"},
		{"istio log line", "2024-06-11T14:20:06.400150Z\tinfo\twasm\tx", "in.json: not JSON: line 1 column 5: invalid character '-' after top-level value"},
		{"array of numbers", "[1, 2]", "in.json: a JSON array of non-objects: expected Envoy tap traces"},
		{"log line", "[2024-01-01 00:00:00.000][1][info][wasm] x", "in.json: not JSON: line 1 column 6: invalid character '-' after array element"},
		{"scalar", "42", "in.json: not a JSON object: expected a capture, a HAR file or Envoy tap traces"},
		{"unknown object", `{"foo": 1, "bar": 2}`,
			"in.json: unrecognized JSON object (keys foo, bar): expected a capture (\"version\", \"streams\"), a HAR file (\"log\") or Envoy tap traces (http_buffered_trace, http_streamed_trace_segment, socket_buffered_trace, socket_streamed_trace_segment)"},
		{"har url", `{"log": {"entries": [{"request": {"method": "GET", "url": "/relative"}}]}}`,
			"in.json: log.entries[0].request.url: \"/relative\" is not an absolute URL"},
		{"har method", `{"log": {"entries": [{"request": {"url": "http://a/"}}]}}`, "in.json: log.entries[0].request.method: missing"},
		{"har empty", `{"log": {"entries": []}}`, "in.json: log.entries: no entries to replay"},
		{"har base64", `{"log": {"entries": [{"request": {"method": "POST", "url": "http://a/", "postData": {"text": "%%", "encoding": "base64"}}}]}}`,
			"in.json: log.entries[0].request.postData.text: invalid base64: illegal base64 data at input byte 0"},
		{"tap no headers", `{"http_buffered_trace": {"request": {"headers": []}}}`,
			"in.json: trace 1: http_buffered_trace.request.headers: missing"},
		{"tap bad body", `{"http_buffered_trace": {"request": {"headers": [{"key": ":path", "value": "/"}], "body": {"as_bytes": "#"}}}}`,
			"in.json: trace 1: request.body.as_bytes: invalid base64: illegal base64 data at input byte 0"},
		{"tap second trace", `{"http_buffered_trace": {"request": {"headers": [{"key": ":path", "value": "/"}]}}} {"http_buffered_trace": 7}`,
			"in.json: trace 2: line 1 column 109: http_buffered_trace: must be an object, not a number"},
		{"har type", `{"log": {"entries": [{"request": {"method": "GET", "url": "http://a/", "headers": "x"}}]}}`,
			"in.json: line 1 column 85: log.entries.request.headers: must be an array, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadInput("in.json", []byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}
