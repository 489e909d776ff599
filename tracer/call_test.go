package tracer

import (
	"testing"

	"github.com/wasmdbg/wasmdbg/internal/abi"
)

func TestParseCall(t *testing.T) {
	tests := []struct {
		in                        string
		dir                       Direction
		fn, args, ret, annotation string
	}{
		{"[host->vm] proxy_on_request_headers(2, 8, 1)", HostToVM, "proxy_on_request_headers", "2, 8, 1", "", ""},
		{"[host->vm] _start()", HostToVM, "_start", "", "", ""},
		{"[host<-vm] proxy_on_request_headers return: 0", HostFromVM, "proxy_on_request_headers", "", "0", ""},
		{"[host<-vm] proxy_on_log return: void", HostFromVM, "proxy_on_log", "", "void", ""},
		{"[vm->host] env.proxy_log(2, 5247632, 65)", VMToHost, "env.proxy_log", "2, 5247632, 65", "", ""},
		{"[vm->host] wasi_snapshot_preview1.clock_time_get(1, 1, 1048576)", VMToHost, "wasi_snapshot_preview1.clock_time_get", "1, 1, 1048576", "", ""},
		{"[vm<-host] env.proxy_http_call return: 2", VMFromHost, "env.proxy_http_call", "", "2", ""},
		// WAMR prints i32 signed, V8 i64 -1 as 2^64-1, floats with six decimals.
		{"[vm->host] env.proxy_get_buffer_bytes(0, 0, 1024, -2147418112, -2147418108)", VMToHost, "env.proxy_get_buffer_bytes", "0, 0, 1024, -2147418112, -2147418108", "", ""},
		{"[vm->host] env.proxy_increment_metric(4, 18446744073709551615)", VMToHost, "env.proxy_increment_metric", "4, 18446744073709551615", "", ""},
		{"[host->vm] f(1.500000, -nan)", HostToVM, "f", "1.500000, -nan", "", ""},
		// wasmdbg replay's decoded suffix.
		{`[vm->host] env.proxy_get_header_map_value(0, 65536, 5, 70000, 70004)  # env.proxy_get_header_map_value(HttpRequestHeaders, "allow")`, VMToHost, "env.proxy_get_header_map_value", "0, 65536, 5, 70000, 70004", "", `env.proxy_get_header_map_value(HttpRequestHeaders, "allow")`},
		{"[vm<-host] env.proxy_get_header_map_value return: 1  # NotFound", VMFromHost, "env.proxy_get_header_map_value", "", "1", "NotFound"},
		{"[host->vm] proxy_on_tick(1)   ", HostToVM, "proxy_on_tick", "1", "", ""},
	}
	for _, tt := range tests {
		var c CallLine
		ok, bad := ParseCall([]byte(tt.in), &c)
		if !ok {
			t.Errorf("%q: not parsed (%s)", tt.in, bad)
			continue
		}
		if c.Direction != tt.dir || string(c.Function) != tt.fn || string(c.Args) != tt.args || string(c.Return) != tt.ret || string(c.Annotation) != tt.annotation {
			t.Errorf("%q: got %s %q (%q) return %q # %q", tt.in, c.Direction, c.Function, c.Args, c.Return, c.Annotation)
		}
	}
}

func TestParseCallErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"[vm->host] env.proxy_log(2, 5247632", "no ')' at the end of the arguments"},
		{"[vm->host] env.proxy_log 2, 5)", "no '(' after the function name"},
		{"[vm->host] proxy_log(2)", `host function "proxy_log" has no "module." prefix`},
		{"[vm->host] env.proxy_log(2,5)", `arguments are not separated by ", "`},
		{"[vm->host] env.proxy_log(2, x)", `argument "x" is not a number`},
		{"[host<-vm] proxy_on_done returns 1", `no " return: " after the function name`},
		{"[host<-vm] proxy_on_done return: ok", `return value "ok" is not a number or void`},
		{"[host->vm] bad name(1)", `function name "bad name" has a space or parenthesis`},
	}
	for _, tt := range tests {
		var c CallLine
		ok, bad := ParseCall([]byte(tt.in), &c)
		if ok || bad != tt.want {
			t.Errorf("%q: ok %v, reason %q; want %q", tt.in, ok, bad, tt.want)
		}
	}
	for _, notCall := range []string{"wasm log: [host->vm] x()", "[host] x", "", "[host->vm]"} {
		var c CallLine
		if ok, bad := ParseCall([]byte(notCall), &c); ok || bad != "" {
			t.Errorf("%q: ok %v, reason %q; want not a call line", notCall, ok, bad)
		}
	}
}

// V8 prints i32 unsigned and WAMR signed (reference §1.3): both decode to
// the same map type and pointer.
func TestDecodeArgsBothRenderings(t *testing.T) {
	hf := abi.LookupHost("env", "proxy_get_header_map_value")
	v8 := decodeArgs(hf.Params, splitArgs([]byte("2, 4294901760, 5, 65536, 65540")))
	wamr := decodeArgs(hf.Params, splitArgs([]byte("2, -65536, 5, 65536, 65540")))
	if len(v8) != 5 || v8[0].Value != "HttpResponseHeaders" || v8[1].Value != "0xffff0000" {
		t.Fatalf("v8 decode: %+v", v8)
	}
	for i := range v8 {
		if v8[i] != wamr[i] {
			t.Errorf("arg %d: V8 %+v, WAMR %+v", i, v8[i], wamr[i])
		}
	}
	inc := abi.LookupHost("env", "proxy_increment_metric")
	if got := decodeArgs(inc.Params, splitArgs([]byte("4, 18446744073709551615"))); got[1].Value != "-1" {
		t.Errorf("increment delta: %+v, want -1", got)
	}
	tests := []struct {
		result abi.Result
		ret    string
		want   string
		status bool
	}{
		{abi.ResultStatus, "2", "BadArgument", true},
		{abi.ResultStatus, "99", "Status(99)", true},
		{abi.ResultErrno, "52", "NOSYS", true},
		{abi.ResultHeadersAction, "1", "StopIteration", false},
		{abi.ResultDataAction, "3", "StopIterationNoBuffer", false},
		{abi.ResultBool, "0", "false", false},
		{abi.ResultStatus, "void", "", false},
		{abi.ResultPointer, "65536", "", false},
	}
	for _, tt := range tests {
		got, status := resultMeaning(tt.result, tt.ret)
		if got != tt.want || status != tt.status {
			t.Errorf("resultMeaning(%v, %s) = %q %v, want %q %v", tt.result, tt.ret, got, status, tt.want, tt.status)
		}
	}
}
