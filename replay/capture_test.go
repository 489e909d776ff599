package replay

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestParseCaptureErrors(t *testing.T) {
	const stream = `{"request": {"headers": [[":method", "GET"], [":path", "/"]]}}`
	tests := []struct {
		name, in, want string
	}{
		{"not json", `{"version": 1,`, "capture.json: unexpected end of JSON input"},
		{"syntax", "{\"version\": 1,\n \"streams\": [}", "capture.json: line 2 column 14: invalid character '}' looking for beginning of value"},
		{"trailing data", `{"version": 1} {}`, "capture.json: unexpected data after the capture object"},
		{"no version", `{"streams": []}`, "capture.json: version: missing; a capture starts with \"version\": 1"},
		{"future version", `{"version": 2}`, "capture.json: version: unsupported version 2 (this wasmdbg reads version 1)"},
		{"unknown field", `{"version": 1, "stream": []}`,
			"capture.json: stream: unknown field (known: $schema, version, module, module_sha256, plugin, host, streams, http_calls, grpc_calls)"},
		{"header value", `{"version": 1, "streams": [{}, {}, {"request": {"headers": [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"], ["i", "j"], ["k", 5]]}}]}`,
			"capture.json: streams[0]: an HTTP stream needs a \"request\"\ncapture.json: streams[1]: an HTTP stream needs a \"request\"\ncapture.json: streams[2].request.headers[5]: value must be a string or {\"base64\": …}"},
		{"header shape", `{"version": 1, "streams": [{"request": {"headers": [["a"]]}}]}`,
			"capture.json: streams[0].request.headers[0]: a header is [\"name\", \"value\"] (two elements), not 1"},
		{"bad base64", `{"version": 1, "streams": [{"request": {"headers": [[":path", {"base64": "!!"}]]}}]}`,
			"capture.json: streams[0].request.headers[0].base64: invalid base64: illegal base64 data at input byte 0"},
		{"start time", `{"version": 1, "host": {"start_time": "yesterday"}}`,
			"capture.json: host.start_time: must be an RFC 3339 time like \"2024-01-01T00:00:00Z\", not \"yesterday\""},
		{"log level", `{"version": 1, "host": {"log_level": "loud"}}`,
			"capture.json: host.log_level: must be one of trace, debug, info, warn, error, critical, not \"loud\""},
		{"policy", `{"version": 1, "plugin": {"failure_policy": "retry"}}`,
			"capture.json: plugin.failure_policy: must be one of fail_closed, fail_open, fail_reload, not \"retry\""},
		{"kind", `{"version": 1, "streams": [{"kind": "udp"}]}`, "capture.json: streams[0].kind: must be \"http\" or \"tcp\", not \"udp\""},
		{"tcp event", `{"version": 1, "streams": [{"kind": "tcp", "tcp": [{"downstream": "a", "upstream": "b"}]}]}`,
			"capture.json: streams[0].tcp[0]: a tcp event has exactly one of \"downstream\", \"upstream\" and \"close\""},
		{"call answer", `{"version": 1, "streams": [` + stream[:len(stream)-1] + `, "http_calls": [{"cluster": "a"}]}]}`,
			"capture.json: streams[0].http_calls[0]: give exactly one of \"response\" and \"failure\""},
		{"expect status", `{"version": 1, "streams": [` + stream[:len(stream)-1] + `, "expect": {"status": 42}}]}`,
			"capture.json: streams[0].expect.status: must be an integer from 100 to 999, not 42"},
		{"property", `{"version": 1, "host": {"properties": {"a": null}}}`,
			"capture.json: host.properties.a: must be a string, number, boolean, object, array or {\"base64\": …}, not null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCapture("capture.json", []byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestCaptureRoundTrip(t *testing.T) {
	in := `{
  "version": 1,
  "module": "plugin.wasm",
  "plugin": {"name": "p", "root_id": "r", "vm_id": "v", "configuration": {"deny": "x-deny", "n": 3},
             "vm_configuration": {"base64": "AP8="}, "environment": {"K": "V"}, "failure_policy": "fail_open"},
  "host": {"start_time": "2024-02-03T04:05:06.5Z", "clock_step_ms": 2.5, "random_seed": 9, "log_level": "warning",
           "properties": {"node": {"id": "n1", "metadata": {"cluster": "c"}}, "listener_direction": 1},
           "clusters": ["auth"], "shared_data": {"k": "v"}, "queues": {"q": ["a", {"base64": "/w=="}]}, "duration_ms": 100},
  "streams": [
    {"id": "s1", "at_ms": 5, "connection": {"source": "1.2.3.4:5", "protocol": "HTTP/2"},
     "request": {"headers": [{"name": ":method", "value": "GET"}, [":path", "/"], ["bin", {"base64": "/w=="}]], "body": ["a", "b"], "trailers": [["t", "1"]]},
     "response": {"headers": [[":status", "200"]], "body": "ok"},
     "http_calls": [{"cluster": "auth", "response": {"headers": [[":status", "200"]]}}, {"failure": "reset"}],
     "grpc_calls": [{"cluster": "g", "messages": ["m"], "status": 0}],
     "expect": {"status": 200, "local_reply": false, "response_headers": [["x", "y"]]}},
    {"kind": "tcp", "tcp": [{"downstream": "ping"}, {"upstream": "pong", "end_stream": true}, {"close": "downstream", "peer": "local"}]}
  ]
}`
	c, err := ParseCapture("c.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Plugin.Configuration) != `{"deny":"x-deny","n":3}` || !bytes.Equal(c.Plugin.VMConfiguration, []byte{0, 0xff}) {
		t.Errorf("configurations %q %q", c.Plugin.Configuration, c.Plugin.VMConfiguration)
	}
	if c.Host.ClockStep != 2500*time.Microsecond || c.Host.LogLevel != 3 || c.Host.Duration != 100*time.Millisecond {
		t.Errorf("host %+v", c.Host)
	}
	if v, st := (&VM{cfg: VMConfig{Properties: c.Host.Properties}}).getProperty(&hostContext{}, "node\x00metadata\x00cluster"); st != 0 || string(v) != "c" {
		t.Errorf("property node/metadata/cluster = %q, %v", v, st)
	}
	out, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "roundtrip.capture.json", out)
	c2, err := ParseCapture("out.json", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out2, _ := c2.Encode()
	if !bytes.Equal(out, out2) {
		t.Errorf("writing twice differs:\n%s\n%s", out, out2)
	}
}

// TestSchemaNamesEveryField keeps capture.schema.json and the reader in
// step: every field the reader accepts is in the schema, and the other way
// round.
func TestSchemaNamesEveryField(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(CaptureSchema, &schema); err != nil {
		t.Fatalf("capture.schema.json is not JSON: %v", err)
	}
	props := func(def map[string]any) []string {
		p, _ := def["properties"].(map[string]any)
		var out []string
		for k := range p {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	defs := schema["$defs"].(map[string]any)
	def := func(name string) map[string]any { return defs[name].(map[string]any) }
	// The reader's field lists, from its unknown-field errors.
	readerFields := func(in string) []string {
		_, err := ParseCapture("c", []byte(in))
		if err == nil {
			t.Fatalf("%s: no error", in)
		}
		msg := err.Error()
		for _, line := range strings.Split(msg, "\n") {
			if i := strings.Index(line, "(known: "); i >= 0 {
				msg = line[i+len("(known: "):]
				break
			}
		}
		list := strings.Split(strings.TrimSuffix(msg, ")"), ", ")
		sort.Strings(list)
		return list
	}
	cases := []struct {
		name   string
		schema []string
		probe  string
	}{
		{"top", props(schema), `{"version": 1, "zz": 1}`},
		{"plugin", props(def("plugin")), `{"version": 1, "plugin": {"zz": 1}}`},
		{"host", props(def("host")), `{"version": 1, "host": {"zz": 1}}`},
		{"stream", props(def("stream")), `{"version": 1, "streams": [{"zz": 1}]}`},
		{"message", props(def("message")), `{"version": 1, "streams": [{"request": {"zz": 1}}]}`},
		{"expect", props(def("expect")), `{"version": 1, "streams": [{"expect": {"zz": 1}}]}`},
		{"tcpEvent", props(def("tcpEvent")), `{"version": 1, "streams": [{"kind": "tcp", "tcp": [{"zz": 1}]}]}`},
		{"callAnswer", props(def("callAnswer")), `{"version": 1, "http_calls": [{"zz": 1}]}`},
		{"grpcAnswer", props(def("grpcAnswer")), `{"version": 1, "grpc_calls": [{"zz": 1}]}`},
	}
	for _, c := range cases {
		if got := readerFields(c.probe); !reflect.DeepEqual(got, c.schema) {
			t.Errorf("%s: the reader knows %v, the schema %v", c.name, got, c.schema)
		}
	}
}

func TestPairs(t *testing.T) {
	hs := []Header{{":path", "/a"}, {"x-empty", ""}, {"k", "v\x00w"}}
	b := encodePairs(hs)
	if len(b) != pairsSize(hs) {
		t.Fatalf("size %d, want %d", len(b), pairsSize(hs))
	}
	got, ok := decodePairs(b)
	if !ok || !reflect.DeepEqual(got, hs) {
		t.Errorf("round trip: %v %v", got, ok)
	}
	bad := map[string][]byte{
		"empty":          nil,
		"short count":    {1, 0, 0},
		"count too big":  {0, 4, 0, 0},
		"sizes past end": {1, 0, 0, 0, 9, 0, 0, 0},
		"missing nul":    append(encodePairs([]Header{{"a", "b"}})[:len(encodePairs([]Header{{"a", "b"}}))-1], 'x'),
		"trailing bytes": append(encodePairs([]Header{{"a", "b"}}), 0),
	}
	for name, in := range bad {
		if hs, ok := decodePairs(in); ok || hs != nil {
			t.Errorf("%s: decoded %v", name, hs)
		}
	}
}

func TestHeaderMap(t *testing.T) {
	m := newHeaderMap([]Header{{"a", "1"}, {"b", "2"}, {"a", "3"}})
	if v, ok := m.get([]byte("A")); !ok || v != "1" {
		t.Errorf("get A = %q %v, want the first value", v, ok)
	}
	m.replace("A", "9") // Envoy's setCopy: remove every "a", add one at the end
	if !reflect.DeepEqual(m.h, []Header{{"b", "2"}, {"a", "9"}}) {
		t.Errorf("replace: %v", m.h)
	}
	m.add("C-Key", "x")
	m.remove("B")
	if !reflect.DeepEqual(m.h, []Header{{"a", "9"}, {"c-key", "x"}}) {
		t.Errorf("add/remove: %v", m.h)
	}
	if m.byteSize() != 2+6 {
		t.Errorf("byteSize %d", m.byteSize())
	}
}
