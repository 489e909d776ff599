package abi

import "testing"

func TestEnumNames(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{BadArgument.String(), "BadArgument"},
		{Status(12).String(), "Unimplemented"},
		{Status(99).String(), "Status(99)"},
		{HttpCallResponseTrailers.String(), "HttpCallResponseTrailers"},
		{CallData.String(), "CallData"},
		{LogWarn.String(), "warn"},
		{HeadersStopAllIterationAndWatermark.String(), "StopAllIterationAndWatermark"},
		{DataStopIterationNoBuffer.String(), "StopIterationNoBuffer"},
		{ErrnoNotcapable.String(), "NOTCAPABLE"},
		{ErrnoNosys.String(), "NOSYS"},
		{ErrnoBadf.String(), "BADF"},
		{GrpcStatus(-1).String(), "InvalidCode"},
		{GrpcStatus(14).String(), "Unavailable"},
		{Version021.String(), "0.2.1"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestHostFuncsPerABI(t *testing.T) {
	count := func(v Version) (env int) {
		for _, f := range HostFuncs(v) {
			if f.Module == "env" {
				env++
			}
		}
		return env
	}
	// 36 common proxy_* functions + pthread_equal + emscripten_notify_memory_growth,
	// plus 4 (0.1.0), 2 (0.2.0) or 3 (0.2.1) ABI-specific ones.
	for v, want := range map[Version]int{Version010: 42, Version020: 40, Version021: 41} {
		if got := count(v); got != want {
			t.Errorf("ABI %s: %d env functions, want %d", v, got, want)
		}
	}
	if f := LookupHost("wasi_unstable", "fd_write"); f == nil || f.Module != "wasi_unstable" {
		t.Fatalf("wasi_unstable.fd_write: %+v", f)
	}
	f := LookupHost("env", "proxy_increment_metric")
	if got := Signature(f.ParamTypes(), f.ResultType()); got != "i32 i64 -> i32" {
		t.Errorf("proxy_increment_metric signature %q", got)
	}
	if f := LookupHost("wasi_snapshot_preview1", "proc_exit"); Signature(f.ParamTypes(), f.ResultType()) != "i32 -> void" {
		t.Errorf("proc_exit signature %q", Signature(f.ParamTypes(), f.ResultType()))
	}
	if LookupHost("env", "proxy_nope") != nil {
		t.Error("unknown function found")
	}
}

func TestCallbacks(t *testing.T) {
	if c := LookupCallback("proxy_on_request_headers", Version010); len(c.Params) != 2 {
		t.Errorf("0.1.0 request headers has %d params", len(c.Params))
	}
	if c := LookupCallback("proxy_on_request_headers", Version021); len(c.Params) != 3 {
		t.Errorf("0.2.1 request headers has %d params", len(c.Params))
	}
	if LookupCallback("proxy_on_foreign_function", Version010) != nil {
		t.Error("0.1.0 has no foreign function callback")
	}
	n := 0
	for _, c := range Callbacks() {
		if c.Name == "proxy_on_request_headers" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("Callbacks lists proxy_on_request_headers %d times, want 2 (0.1.0 and 0.2.x)", n)
	}
	if !IsCallback("malloc") || IsCallback("memory") {
		t.Error("IsCallback")
	}
}

func TestRestrictedLists(t *testing.T) {
	if !AllowedDuringStart("wasi_unstable", "fd_write") || !AllowedDuringStart("env", "proxy_log") {
		t.Error("fd_write and proxy_log are allowed during start")
	}
	if AllowedDuringStart("env", "proxy_http_call") || AllowedDuringStart("wasi_snapshot_preview1", "proc_exit") {
		t.Error("proxy_http_call and proc_exit are not allowed during start")
	}
	if AllowedDuringMalloc("wasi_snapshot_preview1", "random_get") {
		t.Error("random_get is not allowed in malloc")
	}
}
