package tracer

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseCrash(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // JSON of the Crash
	}{{
		name: "v8",
		in:   "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0xdbd - runtime._panic\n 12:  0x10a47 - unknown(function index:57)",
		want: `{"Callback":"proxy_on_request_headers","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":[{"index":0,"offset":"0xdbd","function":"runtime._panic"},{"index":12,"offset":"0x10a47","function":"unknown(function index:57)"}]}`,
	}, {
		name: "v8 without a name section",
		in:   "Function: proxy_on_tick failed: Uncaught RuntimeError: divide by zero",
		want: `{"Callback":"proxy_on_tick","Message":"Uncaught RuntimeError: divide by zero","Runtime":"v8","Frames":null}`,
	}, {
		name: "v8 2020 layout",
		in:   "Function: proxy_on_tick failed:\nV8 message: Uncaught RuntimeError: unreachable\nwasm backtrace:\n  0:  0x5e1 - _ZN4Tick2onEv\n",
		want: `{"Callback":"proxy_on_tick","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":[{"index":0,"offset":"0x5e1","function":"_ZN4Tick2onEv"}]}`,
	}, {
		name: "v8 2020 layout, first wording",
		in:   "Function: proxy_on_tick failed:\nmessage from V8: Uncaught RuntimeError: unreachable",
		want: `{"Callback":"proxy_on_tick","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":null}`,
	}, {
		name: "wavm",
		in:   "Function: proxy_on_context_create failed: wavm.outOfBoundsMemoryAccess\nProxy-Wasm plugin in-VM backtrace:\n  1: wasm!edge!ensure+118\n  2: wasm!!proxy_on_context_create+9\n",
		want: `{"Callback":"proxy_on_context_create","Message":"wavm.outOfBoundsMemoryAccess","Runtime":"wavm","Frames":[{"index":1,"offset":"118","offset_kind":"instruction","function":"ensure","module":"edge"},{"index":2,"offset":"9","offset_kind":"instruction","function":"proxy_on_context_create"}]}`,
	}, {
		name: "wavm 2020",
		in:   "Function proxy_on_tick failed:\nWAVM message: wavm.reachedUnreachable\nwasm backrace:\n  1: wasm!t!runtime._panic+7",
		want: `{"Callback":"proxy_on_tick","Message":"wavm.reachedUnreachable","Runtime":"wavm","Frames":[{"index":1,"offset":"7","offset_kind":"instruction","function":"runtime._panic","module":"t"}]}`,
	}, {
		name: "wasmtime with details",
		in:   "Function: proxy_on_request_headers failed: error while executing at wasm backtrace:\n    0:   0x41b2 - plugin!check::h1\n                    at /src/check.rs:44:9\n    1: 0x3a90 - <unknown>!<wasm function 7>\n\nCaused by:\n    wasm trap: wasm `unreachable` instruction executed",
		want: "{\"Callback\":\"proxy_on_request_headers\",\"Message\":\"wasm trap: wasm `unreachable` instruction executed\",\"Runtime\":\"wasmtime\",\"Frames\":[{\"index\":0,\"offset\":\"0x41b2\",\"function\":\"check::h1\",\"module\":\"plugin\",\"file\":\"/src/check.rs\",\"line\":44,\"column\":9},{\"index\":1,\"offset\":\"0x3a90\",\"function\":\"\\u003cwasm function 7\\u003e\",\"module\":\"\\u003cunknown\\u003e\"}]}",
	}, {
		name: "wasmtime numbered causes",
		in:   "Function: proxy_on_tick failed: error while executing at wasm backtrace:\n    0: 0x2210 - <unknown>!tick\n\nCaused by:\n    0: error while executing\n    1: wasm trap: integer divide by zero",
		want: `{"Callback":"proxy_on_tick","Message":"error while executing: wasm trap: integer divide by zero","Runtime":"wasmtime","Frames":[{"index":0,"offset":"0x2210","function":"tick","module":"\u003cunknown\u003e"}]}`,
	}, {
		name: "wamr",
		in:   "Function: proxy_on_response_headers failed: Exception: out of bounds memory access",
		want: `{"Callback":"proxy_on_response_headers","Message":"Exception: out of bounds memory access","Runtime":"wamr","Frames":null}`,
	}, {
		name: "wazero with inlined DWARF lines",
		in:   "wasm error: unreachable\nwasm stack trace:\n\t.crash_inner(i32) i32\n\t\t0x27: /src/a.c:10:3 (inlined)\n\t\t      /src/a.c:20:5\n\tplugin.$7()",
		want: `{"Callback":"","Message":"unreachable","Runtime":"wazero","Frames":[{"index":0,"offset":"0x27","offset_kind":"code","function":"crash_inner","file":"/src/a.c","line":20,"column":5,"inlined":[{"function":"","file":"/src/a.c","line":10,"column":3,"inlined":true,"source":"dwarf"}]},{"index":1,"offset":"","offset_kind":"code","function":"$7","module":"plugin"}]}`,
	}, {
		name: "kong backtrace, callback from the outermost frame",
		in:   "[wasm] Uncaught RuntimeError: unreachable\nBacktrace:\n\t0: func 45 @ 0x0047\n\t1: proxy_on_response_headers @ 0x001a",
		want: `{"Callback":"proxy_on_response_headers","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":[{"index":0,"offset":"0x0047","offset_kind":"function","function":"func 45"},{"index":1,"offset":"0x001a","offset_kind":"function","function":"proxy_on_response_headers"}]}`,
	}, {
		name: "apisix wasm-nginx-module on wasmtime",
		in:   "failed to call function: error while executing at wasm backtrace:\n    0: 0x5a1 - <unknown>!proxy_on_http_request_headers\n\nCaused by:\n    wasm trap: out of bounds memory access",
		want: `{"Callback":"","Message":"wasm trap: out of bounds memory access","Runtime":"wasmtime","Frames":[{"index":0,"offset":"0x5a1","function":"proxy_on_http_request_headers","module":"\u003cunknown\u003e"}]}`,
	}, {
		name: "header whose \"Function: \" a person cut",
		in:   "proxy_on_vm_start failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x7c - runtime._panic\n  1:  0x1a0 - proxy_on_vm_start",
		want: `{"Callback":"proxy_on_vm_start","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":[{"index":0,"offset":"0x7c","function":"runtime._panic"},{"index":1,"offset":"0x1a0","function":"proxy_on_vm_start"}]}`,
	}, {
		name: "frame that lost the space after its dash",
		in:   "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\n 0: 0x1b20 -_ZN4core9panicking9panic_fmt17h0011223344556677E",
		want: `{"Callback":"proxy_on_tick","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":[{"index":0,"offset":"0x1b20","function":"_ZN4core9panicking9panic_fmt17h0011223344556677E"}]}`,
	}, {
		name: "nginx host: wasmtime trap text, frames under wasm backtrace:",
		in:   "failed to call function: wasm trap: wasm `unreachable` instruction executed\nwasm backtrace:\n    0: 0x5d10 - tenant.wasm!__rust_start_panic\n    1: 0x611 - tenant.wasm!proxy_on_request_headers",
		want: "{\"Callback\":\"proxy_on_request_headers\",\"Message\":\"wasm trap: wasm `unreachable` instruction executed\",\"Runtime\":\"wasmtime\",\"Frames\":[{\"index\":0,\"offset\":\"0x5d10\",\"function\":\"__rust_start_panic\",\"module\":\"tenant.wasm\"},{\"index\":1,\"offset\":\"0x611\",\"function\":\"proxy_on_request_headers\",\"module\":\"tenant.wasm\"}]}",
	}, {
		name: "wasmtime backtrace nested in a numbered cause chain",
		in: "Error: failed to run main module\nCaused by:\n    0: failed to invoke command default\n    1: error while executing at wasm backtrace:\n" +
			"           0: 0x77 - tenant.check\n                           at /src/check.c:3:1\n           1: 0x99 - m.wasm!_start\n    2: wasm trap: wasm `unreachable` instruction executed",
		want: "{\"Callback\":\"_start\",\"Message\":\"failed to invoke command default: wasm trap: wasm `unreachable` instruction executed\",\"Runtime\":\"wasmtime\",\"Frames\":[{\"index\":0,\"offset\":\"0x77\",\"function\":\"tenant.check\",\"file\":\"/src/check.c\",\"line\":3,\"column\":1},{\"index\":1,\"offset\":\"0x99\",\"function\":\"_start\",\"module\":\"m.wasm\"}]}",
	}, {
		name: "wasmtime's further symbols at one address, one joined to the line before by a copy",
		in: "panic: error while executing at wasm backtrace:\n    0: 0x150 - tenant.abort\n        at /src/rt.go:78:6        - tenant.panicAt\n        at /src/panic.go:90:7\n" +
			"    1: 0x1de - tenant.alloc\n        at /src/gc.go:324:20\n\n    Caused by:\n        wasm trap: wasm `unreachable` instruction executed",
		want: "{\"Callback\":\"\",\"Message\":\"wasm trap: wasm `unreachable` instruction executed\",\"Runtime\":\"wasmtime\",\"Frames\":[{\"index\":0,\"offset\":\"0x150\",\"function\":\"tenant.abort\",\"file\":\"/src/rt.go\",\"line\":78,\"column\":6,\"inlined\":[{\"function\":\"tenant.panicAt\",\"file\":\"/src/panic.go\",\"line\":90,\"column\":7,\"inlined\":true,\"source\":\"dwarf\"}]},{\"index\":1,\"offset\":\"0x1de\",\"function\":\"tenant.alloc\",\"file\":\"/src/gc.go\",\"line\":324,\"column\":20}]}",
	}, {
		name: "wazero frames indented with spaces after a copy",
		in:   "wasm error: integer divide by zero\nwasm stack trace:\n    .tenant.split(i32,i32) i32\n        0x1a2: /src/split.c:12:9\n    .$7(i32) (recovered by wazero)",
		want: `{"Callback":"","Message":"integer divide by zero","Runtime":"wazero","Frames":[{"index":0,"offset":"0x1a2","offset_kind":"code","function":"tenant.split","file":"/src/split.c","line":12,"column":9},{"index":1,"offset":"","offset_kind":"code","function":"$7"}]}`,
	}, {
		name: "wazero frames whose names hold spaces, commas and parentheses",
		in: "wasm error: integer divide by zero\nwasm stack trace:\n\tp.std::vector<int, std::allocator<int> >::at(unsigned long) const(i32,i32) i32\n" +
			"\tp.github.com/a/b.(*ctx).OnTick(i32)\n\tp.f() (i32,i64)\n\t.proxy_on_tick(i32,i32) (recovered by wazero)",
		want: `{"Callback":"proxy_on_tick","Message":"integer divide by zero","Runtime":"wazero","Frames":[` +
			`{"index":0,"offset":"","offset_kind":"code","function":"std::vector\u003cint, std::allocator\u003cint\u003e \u003e::at(unsigned long) const","module":"p"},` +
			`{"index":1,"offset":"","offset_kind":"code","function":"github.com/a/b.(*ctx).OnTick","module":"p"},` +
			`{"index":2,"offset":"","offset_kind":"code","function":"f","module":"p"},` +
			`{"index":3,"offset":"","offset_kind":"code","function":"proxy_on_tick"}]}`,
	}, {
		name: "frame line a terminal wrapped in the middle of the name",
		in:   "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x2b5c1 - _ZN3std9panicking19begin_panic_handler28_$u7b$$u7b$closure$u7d\n$u7d$17h0011223344556677E\n  1:  0x90 - proxy_on_tick",
		want: `{"Callback":"proxy_on_tick","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":[{"index":0,"offset":"0x2b5c1","function":"_ZN3std9panicking19begin_panic_handler28_$u7b$$u7b$closure$u7d$u7d$17h0011223344556677E"},{"index":1,"offset":"0x90","function":"proxy_on_tick"}]}`,
	}, {
		name: "frames a person left out",
		in:   "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x10 - a\n  [...]\n  9:  0x90 - proxy_on_tick",
		want: `{"Callback":"proxy_on_tick","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":[{"index":0,"offset":"0x10","function":"a"},{"index":9,"offset":"0x90","function":"proxy_on_tick"}]}`,
	}, {
		name: "envoy --log-format-escaped",
		in:   `Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x1 - tick`,
		want: `{"Callback":"proxy_on_tick","Message":"Uncaught RuntimeError: unreachable","Runtime":"v8","Frames":[{"index":0,"offset":"0x1","function":"tick"}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ParseCrash([]byte(tt.in))
			if !ok {
				t.Fatal("not recognised as a crash")
			}
			b, _ := json.Marshal(c)
			if string(b) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b, tt.want)
			}
		})
	}
	for _, no := range []string{"wasm log: Function: x", "Function call took 3ms", "error while loading",
		"refresh failed: upstream timeout", "failed to call function: assertion failed: `(left == right)`"} {
		if _, ok := ParseCrash([]byte(no)); ok {
			t.Errorf("%q: recognised as a crash", no)
		}
	}
}

func TestPanicKind(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"panic: runtime error: index out of range [2] with length 0\ngoroutine 1 [running]:", "go"},
		{"panicked at 'unexpected status: 2', src/hostcalls.rs:298:23", "rust"},
		{"panicked at src/hostcalls.rs:1220:42:\ncalled `Result::unwrap()`", "rust"},
		{"Index out of range at: ~lib/array.ts(106:42)", "assemblyscript"},
		{"libc++abi: terminating due to uncaught exception", "c++"},
		{"request done at: /index (200)", ""},
		{"all good", ""},
	}
	for _, tt := range tests {
		if got := panicKind([]byte(tt.msg)); got != tt.want {
			t.Errorf("panicKind(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}

func TestClassifyVMFailure(t *testing.T) {
	tests := []struct {
		msg, reason, hintHas string
	}{
		{"Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.fd_pread", ReasonMissingImport, "proxy-wasm-cpp-host #533"},
		{"Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.sched_yield", ReasonMissingImport, "proxy-wasm-cpp-host #427 (2024-12, Envoy 1.33+)"},
		{"Failed to load Wasm module due to a missing import: env.proxy_get_log_level", ReasonMissingImport, "exists only in Proxy-Wasm ABI 0.2.1"},
		{"Failed to load Wasm module due to a missing import: env.abort", ReasonMissingImport, "--use abort=abort_proc_exit"},
		{"Failed to load Wasm module due to a missing import: env.runtime.ticks", ReasonMissingImport, "TinyGo -target=wasm"},
		{"Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.sock_open", ReasonMissingImport, "no Proxy-Wasm host implements"},
		{"Failed to load Wasm module due to an import type mismatch: env.proxy_log, want: i32 i32 -> i32, but host exports: i32 i32 i32 -> i32", ReasonImportTypeMismatch, "cpp-host registers env.proxy_log as i32 i32 i32 -> i32"},
		{"Failed to load Wasm module due to an import type mismatch for function env.proxy_log, want: i32 -> i32, but host exports: i32 i32 i32 -> i32", ReasonImportTypeMismatch, "env.proxy_log"},
		{"Bad function signature for: proxy_on_request_headers, want: i32 i32 i32 -> i32, but the module exports: i32 i32 -> i32", ReasonBadExportSignature, "(the host calls i32 i32 i32 -> i32)"},
		{"Wasm VM failed Missing or unknown Proxy-Wasm ABI version", ReasonUnknownABIVersion, "proxy_abi_version_0_2_1"},
		{"Wasm VM failed Wasm module is missing malloc function.", ReasonMissingMalloc, "-Wl,--export=malloc"},
		{"Wasm VM failed Failed to load Wasm code", ReasonLoadFailed, "wasmdbg inspect"},
		{"Failed to create Wasm VM using envoy.wasm.runtime.wamr runtime. Envoy was compiled without support for it", ReasonLoadFailed, "release images have only V8"},
		{"Wasm VM failed Failed to initialize Wasm code", ReasonInitializeFailed, "_initialize"},
		{"Wasm VM failed Failed to start thread-local Wasm", ReasonStartFailed, "proxy_on_vm_start"},
		{"Wasm VM failed Failed to configure base Wasm plugin", ReasonConfigureFailed, "proxy_on_configure"},
		{"Failed to load Wasm code (fetch failed) from https://x/p.wasm", ReasonFetchFailed, "sha256"},
		{"createWasm: failed to load (in progress) from https://x/p.wasm", ReasonFetchFailed, "sha256"},
		{"createWasm: failed to load (cached) from https://x/p.wasm", ReasonFetchFailed, "sha256"},
		{"listener-a: WASM missing Proxy-Wasm ABI version or requires an unsupported version.", ReasonUnknownABIVersion, "proxy_abi_version_0_2_1"},
		{"gRPC config for type.googleapis.com/envoy.api.v2.Listener rejected: Error adding/updating listener(s) l-1: Failed to initialize WASM code from /etc/p.wasm", ReasonInitializeFailed, "_initialize"},
		{"Attempted call to restricted WASI capability: fd_read", ReasonRestrictedCallback, "capability_restriction_config"},
		{"Plugin configured to fail closed failed to load", ReasonPluginFailClosed, "FAIL_OPEN"},
		{"Plugin authz failed to load", ReasonPluginFailClosed, "FAIL_OPEN"},
		{"[C1][S2] Sending local reply with details wasm_fail_stream", ReasonStreamFailed, "FAIL_RELOAD"},
		{"failed to new instance: unknown import: `env::proxy_continue_stream` has not been defined", ReasonMissingImport, "env.proxy_continue_stream exists only"},
		// Spellings of releases before mid-2020, and messages they threw
		// inside a rejected listener update.
		{"Wasm VM failed Wasm missing malloc", ReasonMissingMalloc, "-Wl,--export=malloc"},
		{"WASM missing malloc", ReasonMissingMalloc, "proxy_on_memory_allocate"},
		{"Failed to load WASM module due to a missing import: env.js_fetch", ReasonMissingImport, "env.js_fetch"},
		{"Failed to parse corrupted WASM module", ReasonLoadFailed, "wasmdbg inspect"},
		{"Failed to configure WASM code", ReasonConfigureFailed, "proxy_on_configure"},
		{"Failed to load Wasm code (fetching) from http://store.local/a.wasm", ReasonFetchFailed, "sha256"},
		{"gRPC config for type.googleapis.com/envoy.api.v2.Listener rejected: Error adding/updating listener(s) in-8080: Failed to load WASM code (fetching) from http://store.local/a.wasm", ReasonFetchFailed, "sha256"},
		{"Failed to load WASM module due to a missing import: __wbindgen_placeholder__.__wbindgen_object_drop_ref", ReasonMissingImport, "cargo tree -i wasm-bindgen"},
		{"Failed to load Wasm module due to a missing import: wbg.__wbg_now_a1b2", ReasonMissingImport, "wasm-bindgen's glue"},
		// The Istio agent fetches remote modules itself; Go's multi-error
		// list puts the cause on the next line.
		{"error in applying failopen rbac config: cannot fetch Wasm module oci://r.example/f:1: manifest unknown", ReasonFetchFailed, "image pull secret"},
		{"* cannot fetch Wasm module http://h.example/f.wasm: wasm module download failed after 5 attempts", ReasonFetchFailed, "sha256"},
		{"convert the wasm config: 1 error occurred:\n\t* cannot fetch Wasm module oci://r.example/f:2: unauthorized\n", ReasonFetchFailed, "sha256"},
		// Envoy logs it whatever the failure policy.
		{"Plugin rate-limiter failed to load", ReasonPluginFailClosed, "Under failure_policy FAIL_CLOSED, the default"},
	}
	for _, tt := range tests {
		f, ok := ClassifyVMFailure(tt.msg)
		if !ok || f.Reason != tt.reason || !strings.Contains(f.Hint, tt.hintHas) {
			t.Errorf("%q:\n got %v %q hint %q\nwant %q with %q", tt.msg, ok, f.Reason, f.Hint, tt.reason, tt.hintHas)
		}
	}
	if f, _ := ClassifyVMFailure("convert the wasm config: 1 error occurred:\n\t* cannot fetch Wasm module oci://r.example/f:2: unauthorized"); f.Message != "convert the wasm config: 1 error occurred: cannot fetch Wasm module oci://r.example/f:2: unauthorized" {
		t.Errorf("multi-error message %q", f.Message)
	}
	for _, no := range []string{"wasm log: Failed to load Wasm code", "loading plugin", "Plugin x loaded", "convert the wasm config: 1 error occurred:\n\t* invalid plugin config", "cannot fetch Wasm module"} {
		if f, ok := ClassifyVMFailure(no); ok {
			t.Errorf("%q classified as %s", no, f.Reason)
		}
	}
}
