package replay

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

// CaptureSchema is the JSON Schema of capture format v1.
//
//go:embed capture.schema.json
var CaptureSchema []byte

// CaptureVersion is the version of the capture format this package writes.
const CaptureVersion = 1

// Capture is a replayable record of traffic through a plugin: capture
// format v1 (DESIGN.md §3.3, capture.schema.json). Byte strings that are
// not valid UTF-8 are written as {"base64": "…"}.
type Capture struct {
	Version      int
	Module       string // path of the .wasm, relative to the capture file
	ModuleSHA256 string
	Plugin       PluginConfig
	Host         HostFacts
	Streams      []CaptureStream
	// HTTPCalls and GrpcCalls answer calls made outside any stream
	// (proxy_on_tick, proxy_on_configure), in order.
	HTTPCalls []CallAnswer
	GrpcCalls []GrpcAnswer

	// Notes say what a conversion could not keep (truncated tap bodies);
	// they are not written.
	Notes []string
}

// PluginConfig is the plugin's identity and configuration, as Envoy's
// PluginConfig and VmConfig give them.
type PluginConfig struct {
	Name                        string
	RootID                      string
	VMID                        string
	Configuration               []byte
	VMConfiguration             []byte
	Environment                 map[string]string
	FailurePolicy               string // "fail_closed" (Envoy's default), "fail_open", "fail_reload"
	AllowOnHeadersStopIteration bool
}

// HostFacts fix everything else the plugin can observe.
type HostFacts struct {
	StartTime  time.Time
	ClockStep  time.Duration
	RandomSeed uint64
	LogLevel   abi.LogLevel
	Properties *PropertyTree
	propsJSON  json.RawMessage // kept to write the capture back
	Clusters   []string
	SharedData []KeyValue
	Queues     []Queue
	// Duration keeps the virtual clock (and ticks) running until this long
	// after StartTime.
	Duration time.Duration
}

// KeyValue is one shared-data entry.
type KeyValue struct {
	Key   string
	Value []byte
}

// Queue is a shared queue and its items at start.
type Queue struct {
	Name  string
	Items [][]byte
}

// CaptureStream is one HTTP request/response or TCP connection.
type CaptureStream struct {
	ID         string
	Kind       string         // "http" or "tcp"
	At         *time.Duration // when it starts, after StartTime
	Connection Connection
	Request    *HTTPMessage
	Response   *HTTPMessage
	HTTPCalls  []CallAnswer
	GrpcCalls  []GrpcAnswer
	TCP        []TCPEvent
	Expect     *Expectation
}

// Connection is what the stream info knows about the connection.
type Connection struct {
	Source      string
	Destination string
	Protocol    string
}

// HTTPMessage is headers, body chunks and trailers, byte-exact.
type HTTPMessage struct {
	Headers  []Header
	Body     []Chunk
	Trailers []Header
}

// Chunk is one piece of a body or TCP data.
type Chunk struct {
	Data []byte
}

// CallAnswer answers one http_call.
type CallAnswer struct {
	Cluster  string
	Response *HTTPMessage
	Failure  string // "reset" or "timeout"
}

// GrpcAnswer answers one gRPC call or stream.
type GrpcAnswer struct {
	Cluster          string
	InitialMetadata  []Header
	Messages         [][]byte
	TrailingMetadata []Header
	Status           int32
	Message          string
}

// TCPEvent is data in one direction, or a close.
type TCPEvent struct {
	Downstream *Chunk
	Upstream   *Chunk
	EndStream  bool
	Close      string // "downstream" or "upstream"
	Peer       string // "remote" (default) or "local"
}

// Expectation is what a stream should do; replay checks it.
type Expectation struct {
	Status                 int
	LocalReply             *bool
	Trapped                *bool
	Callback               string
	ResponseHeaders        []Header
	UpstreamRequestHeaders []Header
	Body                   *string
}

// ParseCapture reads capture format v1. name prefixes error positions
// ("capture.json: streams[2].request.headers[5]: …").
func ParseCapture(name string, data []byte) (*Capture, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %s", name, jsonSyntaxError(data, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: unexpected data after the capture object", name)
	}
	w := &walker{}
	c := w.capture(v)
	if err := w.err(name); err != nil {
		return nil, err
	}
	return c, nil
}

// jsonSyntaxError adds a line and column to encoding/json's errors and
// words type errors for people ("request.headers: must be an array, not
// a string") rather than in Go's terms.
func jsonSyntaxError(data []byte, err error) string {
	return jsonErrorAt(data, 0, err)
}

// jsonErrorAt is jsonSyntaxError for a value that starts at base in data.
func jsonErrorAt(data []byte, base int64, err error) string {
	var se *json.SyntaxError
	off := int64(-1)
	msg := err.Error()
	if errors.As(err, &se) {
		off = base + se.Offset
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		off = base + te.Offset
		msg = fmt.Sprintf("must be %s, not %s", typeWord(te.Type), article(te.Value))
		if te.Field != "" {
			msg = te.Field + ": " + msg
		}
	}
	if errors.Is(err, errUnexpectedEOF) || err.Error() == "unexpected EOF" {
		return "unexpected end of JSON input"
	}
	if off < 0 || off > int64(len(data)) {
		return msg
	}
	pos := max(int(off)-1, 0) // the offending byte
	line := 1 + bytes.Count(data[:pos], []byte{'\n'})
	col := pos - bytes.LastIndexByte(data[:pos], '\n')
	return fmt.Sprintf("line %d column %d: %s", line, col, msg)
}

func typeWord(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	}
	return "a number"
}

func article(jsonKind string) string {
	switch jsonKind {
	case "object", "array":
		return "an " + jsonKind
	case "null":
		return "null"
	}
	return "a " + jsonKind
}

var errUnexpectedEOF = errors.New("unexpected EOF")

// walker validates decoded JSON with paths in its errors.
type walker struct {
	errs []string
}

const maxErrors = 10

func (w *walker) errorf(path, format string, args ...any) {
	if len(w.errs) < maxErrors {
		w.errs = append(w.errs, path+": "+fmt.Sprintf(format, args...))
	}
}

func (w *walker) err(name string) error {
	if len(w.errs) == 0 {
		return nil
	}
	lines := make([]string, len(w.errs))
	for i, e := range w.errs {
		lines[i] = name + ": " + e
	}
	return errors.New(strings.Join(lines, "\n"))
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// object checks v is an object with only the given fields.
func (w *walker) object(v any, path string, fields ...string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		w.errorf(path, "must be an object, not %s", typeName(v))
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for _, f := range fields {
			if f == k {
				found = true
				break
			}
		}
		if !found {
			w.errorf(join(path, k), "unknown field (known: %s)", strings.Join(fields, ", "))
		}
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func (w *walker) str(v any, path string) string {
	s, ok := v.(string)
	if !ok {
		w.errorf(path, "must be a string, not %s", typeName(v))
	}
	return s
}

func (w *walker) boolean(v any, path string) bool {
	b, ok := v.(bool)
	if !ok {
		w.errorf(path, "must be true or false, not %s", typeName(v))
	}
	return b
}

func (w *walker) number(v any, path string) float64 {
	n, ok := v.(json.Number)
	if !ok {
		w.errorf(path, "must be a number, not %s", typeName(v))
		return 0
	}
	f, err := n.Float64()
	if err != nil {
		w.errorf(path, "invalid number %s", n)
	}
	return f
}

func (w *walker) integer(v any, path string, min, max int64) int64 {
	n, ok := v.(json.Number)
	if !ok {
		w.errorf(path, "must be an integer, not %s", typeName(v))
		return 0
	}
	i, err := n.Int64()
	if err != nil || i < min || i > max {
		w.errorf(path, "must be an integer from %d to %d, not %s", min, max, n)
		return 0
	}
	return i
}

func (w *walker) array(v any, path string) []any {
	a, ok := v.([]any)
	if !ok {
		w.errorf(path, "must be an array, not %s", typeName(v))
	}
	return a
}

// bytesValue reads a byte string: a JSON string (its UTF-8 bytes) or
// {"base64": "…"}.
func (w *walker) bytesValue(v any, path, what string) []byte {
	switch v := v.(type) {
	case string:
		return []byte(v)
	case map[string]any:
		if b64, ok := v["base64"]; ok && len(v) == 1 {
			s, ok := b64.(string)
			if !ok {
				w.errorf(join(path, "base64"), "must be a string, not %s", typeName(b64))
				return nil
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				w.errorf(join(path, "base64"), "invalid base64: %v", err)
			}
			return b
		}
	}
	w.errorf(path, "%s must be a string or {\"base64\": …}", what)
	return nil
}

func (w *walker) capture(v any) *Capture {
	m := w.object(v, "", "$schema", "version", "module", "module_sha256", "plugin", "host", "streams", "http_calls", "grpc_calls")
	if m == nil {
		return nil
	}
	c := &Capture{}
	if ver, ok := m["version"]; !ok {
		w.errorf("version", "missing; a capture starts with \"version\": 1")
	} else if n := w.integer(ver, "version", 0, math.MaxInt32); n != CaptureVersion && len(w.errs) == 0 {
		w.errorf("version", "unsupported version %d (this wasmdbg reads version %d)", n, CaptureVersion)
	} else {
		c.Version = int(n)
	}
	if x, ok := m["module"]; ok {
		c.Module = w.str(x, "module")
	}
	if x, ok := m["module_sha256"]; ok {
		c.ModuleSHA256 = w.str(x, "module_sha256")
	}
	if x, ok := m["plugin"]; ok {
		c.Plugin = w.plugin(x, "plugin")
	}
	c.Host = HostFacts{StartTime: defaultStart, ClockStep: time.Millisecond, LogLevel: abi.LogTrace}
	if x, ok := m["host"]; ok {
		w.host(x, "host", &c.Host)
	}
	if x, ok := m["streams"]; ok {
		for i, s := range w.array(x, "streams") {
			c.Streams = append(c.Streams, w.stream(s, index("streams", i)))
		}
	}
	if x, ok := m["http_calls"]; ok {
		c.HTTPCalls = w.callAnswers(x, "http_calls")
	}
	if x, ok := m["grpc_calls"]; ok {
		c.GrpcCalls = w.grpcAnswers(x, "grpc_calls")
	}
	return c
}

// defaultStart is the virtual clock's start when a capture gives none.
var defaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

var failurePolicies = []string{"fail_closed", "fail_open", "fail_reload"}

func (w *walker) plugin(v any, path string) PluginConfig {
	var p PluginConfig
	m := w.object(v, path, "name", "root_id", "vm_id", "configuration", "vm_configuration", "environment",
		"failure_policy", "allow_on_headers_stop_iteration")
	if m == nil {
		return p
	}
	for k, x := range m {
		fp := join(path, k)
		switch k {
		case "name":
			p.Name = w.str(x, fp)
		case "root_id":
			p.RootID = w.str(x, fp)
		case "vm_id":
			p.VMID = w.str(x, fp)
		case "configuration":
			p.Configuration = w.configValue(x, fp)
		case "vm_configuration":
			p.VMConfiguration = w.configValue(x, fp)
		case "environment":
			em, ok := x.(map[string]any)
			if !ok {
				w.errorf(fp, "must be an object of strings, not %s", typeName(x))
				continue
			}
			p.Environment = map[string]string{}
			for ek, ev := range em {
				p.Environment[ek] = w.str(ev, join(fp, ek))
			}
		case "failure_policy":
			p.FailurePolicy = w.str(x, fp)
			if p.FailurePolicy != "" && !contains(failurePolicies, p.FailurePolicy) {
				w.errorf(fp, "must be one of %s, not %q", strings.Join(failurePolicies, ", "), p.FailurePolicy)
			}
		case "allow_on_headers_stop_iteration":
			p.AllowOnHeadersStopIteration = w.boolean(x, fp)
		}
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// configValue reads a plugin or VM configuration: a string or {"base64"}
// is passed as is; any other JSON value is passed as its JSON text, as
// Envoy does for a google.protobuf.Struct configuration.
func (w *walker) configValue(v any, path string) []byte {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case map[string]any:
		if _, ok := x["base64"]; ok && len(x) == 1 {
			return w.bytesValue(v, path, "value")
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		w.errorf(path, "cannot encode: %v", err)
	}
	return b
}

var logLevels = []string{"trace", "debug", "info", "warn", "error", "critical"}

func (w *walker) host(v any, path string, h *HostFacts) {
	m := w.object(v, path, "start_time", "clock_step_ms", "random_seed", "log_level", "properties",
		"clusters", "shared_data", "queues", "duration_ms")
	if m == nil {
		return
	}
	for k, x := range m {
		fp := join(path, k)
		switch k {
		case "start_time":
			s := w.str(x, fp)
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil && s != "" {
				w.errorf(fp, "must be an RFC 3339 time like \"2024-01-01T00:00:00Z\", not %q", s)
			}
			h.StartTime = t.UTC()
		case "clock_step_ms":
			f := w.number(x, fp)
			if f < 0 || f > 3.6e6 {
				w.errorf(fp, "must be from 0 to 3600000, not %v", f)
			}
			h.ClockStep = time.Duration(f * float64(time.Millisecond))
		case "random_seed":
			h.RandomSeed = uint64(w.integer(x, fp, 0, math.MaxInt64))
		case "log_level":
			s := w.str(x, fp)
			i := indexOf(logLevels, s)
			if s == "warning" {
				i = int(abi.LogWarn)
			}
			if i < 0 {
				w.errorf(fp, "must be one of %s, not %q", strings.Join(logLevels, ", "), s)
			} else {
				h.LogLevel = abi.LogLevel(i)
			}
		case "properties":
			pm, ok := x.(map[string]any)
			if !ok {
				w.errorf(fp, "must be an object, not %s", typeName(x))
				continue
			}
			h.Properties = NewPropertyTree()
			for _, k := range sortedKeys(pm) {
				w.properties(pm[k], join(fp, k), h.Properties, []string{k})
			}
			h.propsJSON, _ = json.Marshal(x)
		case "clusters":
			for i, c := range w.array(x, fp) {
				h.Clusters = append(h.Clusters, w.str(c, index(fp, i)))
			}
		case "shared_data":
			sm, ok := x.(map[string]any)
			if !ok {
				w.errorf(fp, "must be an object, not %s", typeName(x))
				continue
			}
			for _, key := range sortedKeys(sm) {
				h.SharedData = append(h.SharedData, KeyValue{Key: key, Value: w.bytesValue(sm[key], join(fp, key), "value")})
			}
		case "queues":
			qm, ok := x.(map[string]any)
			if !ok {
				w.errorf(fp, "must be an object, not %s", typeName(x))
				continue
			}
			for _, name := range sortedKeys(qm) {
				q := Queue{Name: name}
				for i, item := range w.array(qm[name], join(fp, name)) {
					q.Items = append(q.Items, w.bytesValue(item, index(join(fp, name), i), "item"))
				}
				h.Queues = append(h.Queues, q)
			}
		case "duration_ms":
			h.Duration = time.Duration(w.integer(x, fp, 0, 86400000)) * time.Millisecond
		}
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// properties fills a PropertyTree from nested JSON objects: a string is a
// string, {"base64"} bytes, an integer an int64, a fractional number a
// double, a boolean a bool, an object a map, an array a list.
func (w *walker) properties(v any, path string, t *PropertyTree, prefix []string) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["base64"]; ok && len(x) == 1 {
			t.Set(prefix, w.bytesValue(x, path, "value"))
			return
		}
		if len(x) == 0 {
			t.Set(prefix, encodePairs(nil))
			return
		}
		for _, k := range sortedKeys(x) {
			w.properties(x[k], join(path, k), t, append(append([]string(nil), prefix...), k))
		}
	case string:
		t.Set(prefix, []byte(x))
	case bool:
		t.Set(prefix, PropertyBool(x))
	case json.Number:
		if i, err := x.Int64(); err == nil {
			t.Set(prefix, PropertyInt(i))
		} else if f, err := x.Float64(); err == nil {
			t.Set(prefix, PropertyDouble(f))
		} else {
			w.errorf(path, "invalid number %s", x)
		}
	case []any:
		var items []Header
		for i, e := range x {
			sub := NewPropertyTree()
			w.properties(e, index(path, i), sub, []string{"v"})
			items = append(items, Header{Name: string(sub.root.children["v"].serialize())})
		}
		t.Set(prefix, encodePairs(items))
	default:
		w.errorf(path, "must be a string, number, boolean, object, array or {\"base64\": …}, not %s", typeName(v))
	}
}

func (w *walker) stream(v any, path string) CaptureStream {
	var s CaptureStream
	m := w.object(v, path, "id", "kind", "at_ms", "connection", "request", "response", "http_calls", "grpc_calls", "tcp", "expect")
	if m == nil {
		return s
	}
	s.Kind = "http"
	if x, ok := m["kind"]; ok {
		s.Kind = w.str(x, join(path, "kind"))
		if s.Kind != "http" && s.Kind != "tcp" {
			w.errorf(join(path, "kind"), "must be \"http\" or \"tcp\", not %q", s.Kind)
		}
	}
	errsBefore := len(w.errs)
	for k, x := range m {
		fp := join(path, k)
		switch k {
		case "id":
			s.ID = w.str(x, fp)
		case "at_ms":
			f := w.number(x, fp)
			if f < 0 {
				w.errorf(fp, "must not be negative")
			}
			d := time.Duration(f * float64(time.Millisecond))
			s.At = &d
		case "connection":
			cm := w.object(x, fp, "source", "destination", "protocol")
			if cm != nil {
				for ck, cv := range cm {
					switch ck {
					case "source":
						s.Connection.Source = w.str(cv, join(fp, ck))
					case "destination":
						s.Connection.Destination = w.str(cv, join(fp, ck))
					case "protocol":
						s.Connection.Protocol = w.str(cv, join(fp, ck))
					}
				}
			}
		case "request":
			s.Request = w.message(x, fp)
		case "response":
			s.Response = w.message(x, fp)
		case "http_calls":
			s.HTTPCalls = w.callAnswers(x, fp)
		case "grpc_calls":
			s.GrpcCalls = w.grpcAnswers(x, fp)
		case "tcp":
			for i, e := range w.array(x, fp) {
				s.TCP = append(s.TCP, w.tcpEvent(e, index(fp, i)))
			}
		case "expect":
			s.Expect = w.expect(x, fp)
		}
	}
	if len(w.errs) > errsBefore {
		return s
	}
	if s.Kind == "http" {
		if s.Request == nil {
			w.errorf(path, "an HTTP stream needs a \"request\"")
		} else if len(s.Request.Headers) == 0 {
			w.errorf(join(path, "request.headers"), "an HTTP request needs headers (at least :method and :path)")
		}
		if len(s.TCP) > 0 {
			w.errorf(join(path, "tcp"), "only a stream with \"kind\": \"tcp\" has tcp events")
		}
	} else if s.Request != nil || s.Response != nil {
		w.errorf(path, "a TCP stream has \"tcp\" events, not request or response")
	}
	return s
}

func (w *walker) message(v any, path string) *HTTPMessage {
	m := w.object(v, path, "headers", "body", "trailers")
	if m == nil {
		return nil
	}
	msg := &HTTPMessage{}
	if x, ok := m["headers"]; ok {
		msg.Headers = w.headers(x, join(path, "headers"))
	}
	if x, ok := m["body"]; ok {
		msg.Body = w.body(x, join(path, "body"))
	}
	if x, ok := m["trailers"]; ok {
		msg.Trailers = w.headers(x, join(path, "trailers"))
	}
	return msg
}

// headers reads a header list: [["name", "value"], …] or [{"name": …,
// "value": …}, …]; a value that is not UTF-8 is {"base64": …}.
func (w *walker) headers(v any, path string) []Header {
	var out []Header
	for i, e := range w.array(v, path) {
		p := index(path, i)
		var name, value any
		switch x := e.(type) {
		case []any:
			if len(x) != 2 {
				w.errorf(p, "a header is [\"name\", \"value\"] (two elements), not %d", len(x))
				continue
			}
			name, value = x[0], x[1]
		case map[string]any:
			om := w.object(x, p, "name", "value")
			name, value = om["name"], om["value"]
			if name == nil {
				w.errorf(p, "missing \"name\"")
				continue
			}
		default:
			w.errorf(p, "a header is [\"name\", \"value\"] or {\"name\": …, \"value\": …}, not %s", typeName(e))
			continue
		}
		n, ok := name.(string)
		if !ok {
			w.errorf(p, "name must be a string, not %s", typeName(name))
			continue
		}
		if n == "" {
			w.errorf(p, "name must not be empty")
		}
		val := w.bytesValue(value, p, "value")
		out = append(out, Header{Name: n, Value: string(val)})
	}
	return out
}

// body reads a body: a string, {"base64"}, or an array of those (chunks,
// delivered one callback each).
func (w *walker) body(v any, path string) []Chunk {
	if a, ok := v.([]any); ok {
		var out []Chunk
		for i, e := range a {
			out = append(out, Chunk{Data: w.bytesValue(e, index(path, i), "a body chunk")})
		}
		return out
	}
	return []Chunk{{Data: w.bytesValue(v, path, "a body")}}
}

func (w *walker) callAnswers(v any, path string) []CallAnswer {
	var out []CallAnswer
	for i, e := range w.array(v, path) {
		p := index(path, i)
		m := w.object(e, p, "cluster", "response", "failure")
		if m == nil {
			continue
		}
		var a CallAnswer
		if x, ok := m["cluster"]; ok {
			a.Cluster = w.str(x, join(p, "cluster"))
		}
		if x, ok := m["response"]; ok {
			a.Response = w.message(x, join(p, "response"))
		}
		if x, ok := m["failure"]; ok {
			a.Failure = w.str(x, join(p, "failure"))
			if a.Failure != "reset" && a.Failure != "timeout" {
				w.errorf(join(p, "failure"), "must be \"reset\" or \"timeout\", not %q", a.Failure)
			}
		}
		if (a.Response == nil) == (a.Failure == "") {
			w.errorf(p, "give exactly one of \"response\" and \"failure\"")
		}
		out = append(out, a)
	}
	return out
}

func (w *walker) grpcAnswers(v any, path string) []GrpcAnswer {
	var out []GrpcAnswer
	for i, e := range w.array(v, path) {
		p := index(path, i)
		m := w.object(e, p, "cluster", "initial_metadata", "messages", "trailing_metadata", "status", "message")
		if m == nil {
			continue
		}
		var a GrpcAnswer
		for k, x := range m {
			fp := join(p, k)
			switch k {
			case "cluster":
				a.Cluster = w.str(x, fp)
			case "initial_metadata":
				a.InitialMetadata = w.headers(x, fp)
			case "trailing_metadata":
				a.TrailingMetadata = w.headers(x, fp)
			case "messages":
				for j, msg := range w.array(x, fp) {
					a.Messages = append(a.Messages, w.bytesValue(msg, index(fp, j), "a message"))
				}
			case "status":
				a.Status = int32(w.integer(x, fp, 0, 16))
			case "message":
				a.Message = w.str(x, fp)
			}
		}
		out = append(out, a)
	}
	return out
}

func (w *walker) tcpEvent(v any, path string) TCPEvent {
	var e TCPEvent
	m := w.object(v, path, "downstream", "upstream", "end_stream", "close", "peer")
	if m == nil {
		return e
	}
	n := 0
	for k, x := range m {
		fp := join(path, k)
		switch k {
		case "downstream":
			e.Downstream = &Chunk{Data: w.bytesValue(x, fp, "data")}
			n++
		case "upstream":
			e.Upstream = &Chunk{Data: w.bytesValue(x, fp, "data")}
			n++
		case "end_stream":
			e.EndStream = w.boolean(x, fp)
		case "close":
			e.Close = w.str(x, fp)
			if e.Close != "downstream" && e.Close != "upstream" {
				w.errorf(fp, "must be \"downstream\" or \"upstream\", not %q", e.Close)
			}
			n++
		case "peer":
			e.Peer = w.str(x, fp)
			if e.Peer != "remote" && e.Peer != "local" {
				w.errorf(fp, "must be \"remote\" or \"local\", not %q", e.Peer)
			}
		}
	}
	if n != 1 {
		w.errorf(path, "a tcp event has exactly one of \"downstream\", \"upstream\" and \"close\"")
	}
	return e
}

func (w *walker) expect(v any, path string) *Expectation {
	m := w.object(v, path, "status", "local_reply", "trapped", "callback", "response_headers", "upstream_request_headers", "body")
	if m == nil {
		return nil
	}
	e := &Expectation{}
	for k, x := range m {
		fp := join(path, k)
		switch k {
		case "status":
			e.Status = int(w.integer(x, fp, 100, 999))
		case "local_reply":
			b := w.boolean(x, fp)
			e.LocalReply = &b
		case "trapped":
			b := w.boolean(x, fp)
			e.Trapped = &b
		case "callback":
			e.Callback = w.str(x, fp)
		case "response_headers":
			e.ResponseHeaders = w.headers(x, fp)
		case "upstream_request_headers":
			e.UpstreamRequestHeaders = w.headers(x, fp)
		case "body":
			s := w.str(x, fp)
			e.Body = &s
		}
	}
	return e
}

// --- writing

// MarshalJSON writes the capture in its canonical, readable form.
func (c *Capture) MarshalJSON() ([]byte, error) {
	type out struct {
		Version      int              `json:"version"`
		Module       string           `json:"module,omitempty"`
		ModuleSHA256 string           `json:"module_sha256,omitempty"`
		Plugin       jsonPlugin       `json:"plugin"`
		Host         jsonHost         `json:"host"`
		Streams      []jsonStream     `json:"streams"`
		HTTPCalls    []jsonCallAnswer `json:"http_calls,omitempty"`
		GrpcCalls    []jsonGrpcAnswer `json:"grpc_calls,omitempty"`
	}
	o := out{Version: CaptureVersion, Module: c.Module, ModuleSHA256: c.ModuleSHA256,
		Plugin: pluginJSON(c.Plugin), Host: hostJSON(c.Host), Streams: []jsonStream{},
		HTTPCalls: callAnswersJSON(c.HTTPCalls), GrpcCalls: grpcAnswersJSON(c.GrpcCalls)}
	for _, s := range c.Streams {
		o.Streams = append(o.Streams, streamJSON(s))
	}
	return json.Marshal(o)
}

// Encode writes the capture as indented JSON with a trailing newline.
func (c *Capture) Encode() ([]byte, error) {
	b, err := c.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return prettyJSON(b)
}

// jsonBytes writes bytes as a string when they are UTF-8, else as
// {"base64": …}.
type jsonBytes []byte

func (b jsonBytes) MarshalJSON() ([]byte, error) {
	if utf8.Valid(b) {
		return json.Marshal(string(b))
	}
	return json.Marshal(map[string]string{"base64": base64.StdEncoding.EncodeToString(b)})
}

type jsonHeader Header

func (h jsonHeader) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{h.Name, jsonBytes(h.Value)})
}

func headersJSON(hs []Header) []jsonHeader {
	if hs == nil {
		return nil
	}
	out := make([]jsonHeader, len(hs))
	for i, h := range hs {
		out[i] = jsonHeader(h)
	}
	return out
}

type jsonPlugin struct {
	Name                        string            `json:"name,omitempty"`
	RootID                      string            `json:"root_id,omitempty"`
	VMID                        string            `json:"vm_id,omitempty"`
	Configuration               *jsonBytes        `json:"configuration,omitempty"`
	VMConfiguration             *jsonBytes        `json:"vm_configuration,omitempty"`
	Environment                 map[string]string `json:"environment,omitempty"`
	FailurePolicy               string            `json:"failure_policy,omitempty"`
	AllowOnHeadersStopIteration bool              `json:"allow_on_headers_stop_iteration,omitempty"`
}

func optBytes(b []byte) *jsonBytes {
	if b == nil {
		return nil
	}
	j := jsonBytes(b)
	return &j
}

func pluginJSON(p PluginConfig) jsonPlugin {
	return jsonPlugin{Name: p.Name, RootID: p.RootID, VMID: p.VMID, Configuration: optBytes(p.Configuration),
		VMConfiguration: optBytes(p.VMConfiguration), Environment: p.Environment, FailurePolicy: p.FailurePolicy,
		AllowOnHeadersStopIteration: p.AllowOnHeadersStopIteration}
}

type jsonHost struct {
	StartTime   string                 `json:"start_time"`
	ClockStepMS float64                `json:"clock_step_ms"`
	RandomSeed  uint64                 `json:"random_seed"`
	LogLevel    string                 `json:"log_level"`
	Properties  json.RawMessage        `json:"properties,omitempty"`
	Clusters    []string               `json:"clusters,omitempty"`
	SharedData  map[string]jsonBytes   `json:"shared_data,omitempty"`
	Queues      map[string][]jsonBytes `json:"queues,omitempty"`
	DurationMS  int64                  `json:"duration_ms,omitempty"`
}

func hostJSON(h HostFacts) jsonHost {
	o := jsonHost{StartTime: h.StartTime.UTC().Format(time.RFC3339Nano), ClockStepMS: float64(h.ClockStep) / float64(time.Millisecond),
		RandomSeed: h.RandomSeed, LogLevel: logLevels[h.LogLevel], Properties: h.propsJSON, Clusters: h.Clusters,
		DurationMS: int64(h.Duration / time.Millisecond)}
	if h.StartTime.IsZero() {
		o.StartTime = defaultStart.Format(time.RFC3339)
	}
	if len(h.SharedData) > 0 {
		o.SharedData = map[string]jsonBytes{}
		for _, kv := range h.SharedData {
			o.SharedData[kv.Key] = kv.Value
		}
	}
	if len(h.Queues) > 0 {
		o.Queues = map[string][]jsonBytes{}
		for _, q := range h.Queues {
			for _, it := range q.Items {
				o.Queues[q.Name] = append(o.Queues[q.Name], it)
			}
		}
	}
	return o
}

type jsonMessage struct {
	Headers  []jsonHeader `json:"headers"`
	Body     any          `json:"body,omitempty"`
	Trailers []jsonHeader `json:"trailers,omitempty"`
}

func messageJSON(m *HTTPMessage) *jsonMessage {
	if m == nil {
		return nil
	}
	o := &jsonMessage{Headers: headersJSON(m.Headers), Trailers: headersJSON(m.Trailers)}
	if o.Headers == nil {
		o.Headers = []jsonHeader{}
	}
	switch len(m.Body) {
	case 0:
	case 1:
		o.Body = jsonBytes(m.Body[0].Data)
	default:
		chunks := make([]jsonBytes, len(m.Body))
		for i, c := range m.Body {
			chunks[i] = c.Data
		}
		o.Body = chunks
	}
	return o
}

type jsonCallAnswer struct {
	Cluster  string       `json:"cluster,omitempty"`
	Response *jsonMessage `json:"response,omitempty"`
	Failure  string       `json:"failure,omitempty"`
}

func callAnswersJSON(as []CallAnswer) []jsonCallAnswer {
	var out []jsonCallAnswer
	for _, a := range as {
		out = append(out, jsonCallAnswer{Cluster: a.Cluster, Response: messageJSON(a.Response), Failure: a.Failure})
	}
	return out
}

type jsonGrpcAnswer struct {
	Cluster          string       `json:"cluster,omitempty"`
	InitialMetadata  []jsonHeader `json:"initial_metadata,omitempty"`
	Messages         []jsonBytes  `json:"messages,omitempty"`
	TrailingMetadata []jsonHeader `json:"trailing_metadata,omitempty"`
	Status           int32        `json:"status"`
	Message          string       `json:"message,omitempty"`
}

func grpcAnswersJSON(as []GrpcAnswer) []jsonGrpcAnswer {
	var out []jsonGrpcAnswer
	for _, a := range as {
		g := jsonGrpcAnswer{Cluster: a.Cluster, InitialMetadata: headersJSON(a.InitialMetadata),
			TrailingMetadata: headersJSON(a.TrailingMetadata), Status: a.Status, Message: a.Message}
		for _, m := range a.Messages {
			g.Messages = append(g.Messages, m)
		}
		out = append(out, g)
	}
	return out
}

type jsonStream struct {
	ID         string           `json:"id,omitempty"`
	Kind       string           `json:"kind,omitempty"`
	AtMS       *float64         `json:"at_ms,omitempty"`
	Connection *jsonConnection  `json:"connection,omitempty"`
	Request    *jsonMessage     `json:"request,omitempty"`
	Response   *jsonMessage     `json:"response,omitempty"`
	HTTPCalls  []jsonCallAnswer `json:"http_calls,omitempty"`
	GrpcCalls  []jsonGrpcAnswer `json:"grpc_calls,omitempty"`
	TCP        []jsonTCPEvent   `json:"tcp,omitempty"`
	Expect     *jsonExpect      `json:"expect,omitempty"`
}

type jsonConnection struct {
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination,omitempty"`
	Protocol    string `json:"protocol,omitempty"`
}

type jsonTCPEvent struct {
	Downstream *jsonBytes `json:"downstream,omitempty"`
	Upstream   *jsonBytes `json:"upstream,omitempty"`
	EndStream  bool       `json:"end_stream,omitempty"`
	Close      string     `json:"close,omitempty"`
	Peer       string     `json:"peer,omitempty"`
}

type jsonExpect struct {
	Status                 int          `json:"status,omitempty"`
	LocalReply             *bool        `json:"local_reply,omitempty"`
	Trapped                *bool        `json:"trapped,omitempty"`
	Callback               string       `json:"callback,omitempty"`
	ResponseHeaders        []jsonHeader `json:"response_headers,omitempty"`
	UpstreamRequestHeaders []jsonHeader `json:"upstream_request_headers,omitempty"`
	Body                   *string      `json:"body,omitempty"`
}

func streamJSON(s CaptureStream) jsonStream {
	o := jsonStream{ID: s.ID, Request: messageJSON(s.Request), Response: messageJSON(s.Response),
		HTTPCalls: callAnswersJSON(s.HTTPCalls), GrpcCalls: grpcAnswersJSON(s.GrpcCalls)}
	if s.Kind == "tcp" {
		o.Kind = "tcp"
	}
	if s.At != nil {
		ms := float64(*s.At) / float64(time.Millisecond)
		o.AtMS = &ms
	}
	if s.Connection != (Connection{}) {
		o.Connection = &jsonConnection{Source: s.Connection.Source, Destination: s.Connection.Destination, Protocol: s.Connection.Protocol}
	}
	for _, e := range s.TCP {
		j := jsonTCPEvent{EndStream: e.EndStream, Close: e.Close, Peer: e.Peer}
		if e.Downstream != nil {
			j.Downstream = optBytes(e.Downstream.Data)
			if j.Downstream == nil {
				j.Downstream = optBytes([]byte{})
			}
		}
		if e.Upstream != nil {
			j.Upstream = optBytes(e.Upstream.Data)
			if j.Upstream == nil {
				j.Upstream = optBytes([]byte{})
			}
		}
		o.TCP = append(o.TCP, j)
	}
	if e := s.Expect; e != nil {
		o.Expect = &jsonExpect{Status: e.Status, LocalReply: e.LocalReply, Trapped: e.Trapped, Callback: e.Callback,
			ResponseHeaders: headersJSON(e.ResponseHeaders), UpstreamRequestHeaders: headersJSON(e.UpstreamRequestHeaders), Body: e.Body}
	}
	return o
}
