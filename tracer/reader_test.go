package tracer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// rec is the comparable form of a Record in tests.
type rec struct {
	lines                                       string // "first-last"
	framing                                     Framing
	time, thread, level, logger, caller, origin string
	msg                                         string
	bad                                         string
}

func recOf(r *Record) rec {
	return rec{
		lines: fmt.Sprintf("%d-%d", r.Line, r.EndLine), framing: r.Framing,
		time: string(r.Time), thread: string(r.Thread), level: string(r.Level), logger: string(r.Logger),
		caller: string(r.Caller), origin: string(r.Origin), msg: string(r.Message), bad: r.Malformed,
	}
}

func readAll(t testing.TB, src io.Reader) []rec {
	t.Helper()
	rd := NewReader(src)
	var out []rec
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, recOf(r))
	}
}

const vmCC = "source/extensions/common/wasm/wasm_vm.cc:39"

func TestReaderFramings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []rec
	}{{
		name: "envoy default with location",
		in:   "[2022-11-17 19:42:08.870][1][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [vm->host] env.proxy_http_call(33088, 12)\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2022-11-17 19:42:08.870", thread: "1", level: "trace", logger: "wasm", caller: vmCC, msg: "[vm->host] env.proxy_http_call(33088, 12)"}},
	}, {
		name: "envoy before 1.16 without location",
		in:   "[2020-06-01 10:00:00.001][17][debug][wasm] [host->vm] proxy_on_tick(1)\n[2020-06-01 10:00:00.002][17][info][main] all clusters initialized\n",
		want: []rec{
			{lines: "1-1", framing: FramingEnvoy, time: "2020-06-01 10:00:00.001", thread: "17", level: "debug", logger: "wasm", msg: "[host->vm] proxy_on_tick(1)"},
			{lines: "2-2", framing: FramingEnvoy, time: "2020-06-01 10:00:00.002", thread: "17", level: "info", logger: "main", msg: "all clusters initialized"},
		},
	}, {
		name: "istio text with tabs",
		in:   "2024-03-08T08:16:46.747394Z\ttrace\tenvoy wasm external/envoy/source/extensions/common/wasm/wasm_vm.cc:39\t[host->vm] proxy_on_request_headers(2, 8, 1)\tthread=24\n",
		want: []rec{{lines: "1-1", framing: FramingIstio, time: "2024-03-08T08:16:46.747394Z", thread: "24", level: "trace", logger: "wasm", caller: "external/envoy/" + vmCC, msg: "[host->vm] proxy_on_request_headers(2, 8, 1)"}},
	}, {
		name: "istio text with tabs collapsed to spaces",
		in:   "2024-04-09T16:58:38.711061Z critical envoy wasm external/envoy/source/extensions/common/wasm/context.cc:1157 wasm log istio-system.filter: Failed to get request headers: unknown status code: 6 thread=48\n",
		want: []rec{{lines: "1-1", framing: FramingIstio, time: "2024-04-09T16:58:38.711061Z", thread: "48", level: "critical", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/context.cc:1157", msg: "wasm log istio-system.filter: Failed to get request headers: unknown status code: 6"}},
	}, {
		name: "istio text, terminal copy with runs of spaces and no location",
		in:   "2022-05-19T07:12:57.911491Z     error   envoy wasm      Function: proxy_on_context_create failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0xd90 - runtime._panic\n  1:  0x10a47 - proxy_on_context_create\n",
		want: []rec{{lines: "1-4", framing: FramingIstio, time: "2022-05-19T07:12:57.911491Z", level: "error", logger: "wasm", msg: "Function: proxy_on_context_create failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0xd90 - runtime._panic\n  1:  0x10a47 - proxy_on_context_create"}},
	}, {
		name: "istio multi-line record ends at thread=",
		in:   "2024-09-27T07:46:57.899488Z\tcritical\tenvoy wasm external/envoy/source/extensions/common/wasm/context.cc:1157\twasm log ns.rl: panicked at src/hostcalls.rs:1220:42:\ncalled `Result::unwrap()` on an `Err` value: FromUtf8Error { bytes: [77, 161] }\tthread=74\n2024-09-27T07:46:57.899652Z\terror\tenvoy wasm external/envoy/source/extensions/common/wasm/wasm_vm.cc:38\tFunction: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\tthread=74\n",
		want: []rec{
			{lines: "1-2", framing: FramingIstio, time: "2024-09-27T07:46:57.899488Z", thread: "74", level: "critical", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/context.cc:1157", msg: "wasm log ns.rl: panicked at src/hostcalls.rs:1220:42:\ncalled `Result::unwrap()` on an `Err` value: FromUtf8Error { bytes: [77, 161] }"},
			{lines: "3-3", framing: FramingIstio, time: "2024-09-27T07:46:57.899652Z", thread: "74", level: "error", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/wasm_vm.cc:38", msg: "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable"},
		},
	}, {
		name: "istio pilot-agent line",
		in:   "2024-03-08T08:16:40.000000Z\terror\twasm\terror in converting the wasm config to local: cannot fetch Wasm module\n",
		want: []rec{{lines: "1-1", framing: FramingIstio, time: "2024-03-08T08:16:40.000000Z", level: "error", logger: "wasm", msg: "error in converting the wasm config to local: cannot fetch Wasm module"}},
	}, {
		name: "istio json with escaped newlines",
		in:   `{"level":"error","time":"2024-03-08T08:16:46.747394Z","scope":"envoy wasm","msg":"Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x1a2 - tick","caller":"external/envoy/source/extensions/common/wasm/wasm_vm.cc:38","thread":"31"}` + "\n",
		want: []rec{{lines: "1-1", framing: FramingJSON, time: "2024-03-08T08:16:46.747394Z", thread: "31", level: "error", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/wasm_vm.cc:38", msg: "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x1a2 - tick"}},
	}, {
		name: "kubectl logs --prefix on every line",
		in:   "[pod/gw-7d9f/istio-proxy] [2023-02-12 19:15:47.297][31][error][wasm] [" + vmCC + "] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\n[pod/gw-7d9f/istio-proxy] Proxy-Wasm plugin in-VM backtrace:\n[pod/gw-7d9f/istio-proxy]   0:  0x9e0a6 - rust_panic\n",
		want: []rec{{lines: "1-3", framing: FramingEnvoy, time: "2023-02-12 19:15:47.297", thread: "31", level: "error", logger: "wasm", caller: vmCC, origin: "pod/gw-7d9f/istio-proxy", msg: "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x9e0a6 - rust_panic"}},
	}, {
		name: "docker compose prefix, v1 and v2",
		in:   "proxy_1        | [2021-06-30 11:38:07.810][22][critical][wasm] [source/extensions/common/wasm/context.cc:1227] wasm log my_plugin: boom\nenvoy-1  | [2021-06-30 11:38:07.811][22][info][wasm] wasm log my_plugin: ok\n",
		want: []rec{
			{lines: "1-1", framing: FramingEnvoy, time: "2021-06-30 11:38:07.810", thread: "22", level: "critical", logger: "wasm", caller: "source/extensions/common/wasm/context.cc:1227", origin: "proxy_1", msg: "wasm log my_plugin: boom"},
			{lines: "2-2", framing: FramingEnvoy, time: "2021-06-30 11:38:07.811", thread: "22", level: "info", logger: "wasm", origin: "envoy-1", msg: "wasm log my_plugin: ok"},
		},
	}, {
		name: "github actions timestamps",
		in:   "2024-01-02T03:04:05.1234567Z [2024-01-02 03:04:05.120][9][trace][wasm] [host<-vm] proxy_on_done return: 1\n2024-01-02T03:04:05.1234568Z plain output\n",
		want: []rec{
			{lines: "1-1", framing: FramingEnvoy, time: "2024-01-02 03:04:05.120", thread: "9", level: "trace", logger: "wasm", msg: "[host<-vm] proxy_on_done return: 1"},
			{lines: "2-2", framing: FramingNone, msg: "plain output"},
		},
	}, {
		name: "kubectl --timestamps before istio text",
		in:   "2024-03-08T08:16:46.747500123Z 2024-03-08T08:16:46.747394Z\tinfo\tenvoy wasm external/envoy/source/extensions/common/wasm/context.cc:1157\twasm log ns.p: hi\tthread=24\n",
		want: []rec{{lines: "1-1", framing: FramingIstio, time: "2024-03-08T08:16:46.747394Z", thread: "24", level: "info", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/context.cc:1157", msg: "wasm log ns.p: hi"}},
	}, {
		name: "CRI log file with a partial line",
		in:   "2024-03-08T08:16:46.747500123Z stderr P [2024-03-08 08:16:46.747][24][info][wasm] wasm log: a very \n2024-03-08T08:16:46.747500124Z stderr F long line\n",
		want: []rec{{lines: "1-2", framing: FramingEnvoy, time: "2024-03-08 08:16:46.747", thread: "24", level: "info", logger: "wasm", msg: "wasm log: a very long line"}},
	}, {
		name: "proxy-wasm-cpp-host test integration",
		in:   "TRACE from integration: [host->vm] proxy_on_context_create(1, 0)\nERROR from integration: Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\n",
		want: []rec{
			{lines: "1-1", framing: FramingIntegration, level: "trace", msg: "[host->vm] proxy_on_context_create(1, 0)"},
			{lines: "2-2", framing: FramingIntegration, level: "error", msg: "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable"},
		},
	}, {
		name: "cloud logging export with textPayload",
		in:   `{"insertId":"abc","resource":{"type":"k8s_container","labels":{"pod_name":"gw-1","container_name":"istio-proxy"}},"textPayload":"[2024-03-08 08:16:46.747][24][trace][wasm] [host->vm] proxy_on_log(5)","timestamp":"2024-03-08T08:16:46.747512Z"}` + "\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2024-03-08 08:16:46.747", thread: "24", level: "trace", logger: "wasm", origin: "pod/gw-1/istio-proxy", msg: "[host->vm] proxy_on_log(5)"}},
	}, {
		name: "cloud logging export with jsonPayload",
		in:   `{"jsonPayload":{"level":"warning","scope":"envoy wasm","msg":"wasm log ns.p: slow","thread":"7"},"resource":{"labels":{"pod_name":"gw-2","container_name":"istio-proxy"}},"timestamp":"2024-03-08T08:16:47Z"}` + "\n",
		want: []rec{{lines: "1-1", framing: FramingJSON, time: "2024-03-08T08:16:47Z", thread: "7", level: "warning", logger: "wasm", origin: "pod/gw-2/istio-proxy", msg: "wasm log ns.p: slow"}},
	}, {
		name: "docker json-file driver",
		in:   `{"log":"[2024-03-08 08:16:46.747][24][info][wasm] wasm log: started\n","stream":"stderr","time":"2024-03-08T08:16:46.747712Z"}` + "\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2024-03-08 08:16:46.747", thread: "24", level: "info", logger: "wasm", msg: "wasm log: started"}},
	}, {
		name: "k9s copy with borders",
		in:   "│ 2023-10-12T06:07:26.021556Z    error    envoy wasm external/envoy/source/extensions/common/wasm/context.cc:1154    wasm log: GC Warning: Failed to expand heap by 131072 KiB    thread=27                        │\n",
		want: []rec{{lines: "1-1", framing: FramingIstio, time: "2023-10-12T06:07:26.021556Z", thread: "27", level: "error", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/context.cc:1154", msg: "wasm log: GC Warning: Failed to expand heap by 131072 KiB"}},
	}, {
		name: "unknown prefix is learned and stripped from continuation lines",
		in:   "gw-1 istio-proxy [2023-02-12 19:15:47.297][31][error][wasm] Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\ngw-1 istio-proxy Proxy-Wasm plugin in-VM backtrace:\ngw-1 istio-proxy   0:  0x1 - tick\n",
		want: []rec{{lines: "1-3", framing: FramingEnvoy, time: "2023-02-12 19:15:47.297", thread: "31", level: "error", logger: "wasm", origin: "gw-1 istio-proxy", msg: "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x1 - tick"}},
	}, {
		name: "nginx error log with a wasmtime trap",
		in:   "2023/11/30 12:52:39 [error] 74030#0: *1 [wasm] error while executing at wasm backtrace:\n    0: 0x1a2b - <unknown>!proxy_on_request_headers\n\nCaused by:\n    wasm trap: wasm `unreachable` instruction executed\n",
		want: []rec{{lines: "1-5", framing: FramingNginx, time: "2023/11/30 12:52:39", thread: "74030#0", level: "error", msg: "[wasm] error while executing at wasm backtrace:\n    0: 0x1a2b - <unknown>!proxy_on_request_headers\n\nCaused by:\n    wasm trap: wasm `unreachable` instruction executed"}},
	}, {
		name: "ANSI colours are removed",
		in:   "\x1b[36menvoy-1  |\x1b[0m [2021-06-30 11:38:07.811][22][info][wasm] wasm log: colour\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2021-06-30 11:38:07.811", thread: "22", level: "info", logger: "wasm", origin: "envoy-1", msg: "wasm log: colour"}},
	}, {
		name: "CRLF line ends",
		in:   "[2022-11-17 19:42:08.870][1][info][wasm] wasm log: dos\r\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2022-11-17 19:42:08.870", thread: "1", level: "info", logger: "wasm", msg: "wasm log: dos"}},
	}, {
		name: "malformed envoy prefix",
		in:   "[2022-11-17 19:42:08.870][1][tra\n",
		want: []rec{{lines: "1-1", framing: FramingNone, msg: "[2022-11-17 19:42:08.870][1][tra", bad: "malformed Envoy log prefix"}},
	}, {
		// Shapes of logs pasted into issue trackers, written from their
		// structure (reallogs samples under notes/, not copied text).
		name: "envoy line whose time and thread were cut",
		in:   "[error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, level: "error", logger: "wasm", caller: "source/extensions/common/wasm/wasm_vm.cc:38", msg: "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable"}},
	}, {
		name: "istio line whose time was cut, tabs collapsed to single spaces",
		in:   "error envoy wasm Function: proxy_on_log failed: Uncaught RuntimeError: unreachable\nwarning envoy wasm external/envoy/source/extensions/common/wasm/context.cc:1190 wasm log ns.p: slow thread=9\n",
		want: []rec{
			{lines: "1-1", framing: FramingIstio, level: "error", logger: "wasm", msg: "Function: proxy_on_log failed: Uncaught RuntimeError: unreachable"},
			{lines: "2-2", framing: FramingIstio, thread: "9", level: "warning", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/context.cc:1190", msg: "wasm log ns.p: slow"},
		},
	}, {
		name: "cloud console copy: severity letter, its timestamp, old istio's bracketed location",
		in:   "W 2020-09-01T10:00:01.000000000Z warning\tenvoy config\t[external/envoy/source/common/config/grpc_subscription_impl.cc:101] gRPC config rejected\nE 2020-09-01T10:00:02.5Z listener-a: bad module\n",
		want: []rec{
			{lines: "1-1", framing: FramingIstio, time: "2020-09-01T10:00:01.000000000Z", level: "warning", logger: "config", caller: "external/envoy/source/common/config/grpc_subscription_impl.cc:101", msg: "gRPC config rejected"},
			{lines: "2-2", framing: FramingConsole, time: "2020-09-01T10:00:02.5Z", level: "error", msg: "listener-a: bad module"},
		},
	}, {
		name: "markdown quote before a compose prefix, and right before a timestamp",
		in:   "> edge-2   | [2025-01-07 09:12:44.101][15][debug][wasm] wasm log quota quota_vm: loaded\n>2025-01-07T09:12:45.000001Z\ttrace\tenvoy wasm\t[vm->host] env.proxy_log(2, 1024, 9)\n",
		want: []rec{
			{lines: "1-1", framing: FramingEnvoy, time: "2025-01-07 09:12:44.101", thread: "15", level: "debug", logger: "wasm", origin: "edge-2", msg: "wasm log quota quota_vm: loaded"},
			{lines: "2-2", framing: FramingIstio, time: "2025-01-07T09:12:45.000001Z", level: "trace", logger: "wasm", msg: "[vm->host] env.proxy_log(2, 1024, 9)"},
		},
	}, {
		name: "a line in inline-code backticks",
		in:   "`not a log line`\n`[2025-01-07 09:12:45.000111][15][warning][wasm] wasm log quota: slow`\n",
		want: []rec{
			{lines: "1-1", framing: FramingNone, msg: "`not a log line`"},
			{lines: "2-2", framing: FramingEnvoy, time: "2025-01-07 09:12:45.000111", thread: "15", level: "warning", logger: "wasm", msg: "wasm log quota: slow"},
		},
	}, {
		name: "lines copied out of a JSON string array keep no quotes or escaped newlines",
		in:   "[error][wasm] Function: proxy_on_request_body failed: Uncaught RuntimeError: unreachable\\n\"\n\" 0: 0x1b20 - __rust_start_panic\\n\",\n\" 1: 0x77c -proxy_on_request_body\\n\"\n",
		want: []rec{{lines: "1-3", framing: FramingEnvoy, level: "error", logger: "wasm", msg: "Function: proxy_on_request_body failed: Uncaught RuntimeError: unreachable\n 0: 0x1b20 - __rust_start_panic\n 1: 0x77c -proxy_on_request_body"}},
	}, {
		name: "a log shipper's timestamp and a tab before the line",
		in:   "2025-01-07T09:21:00.000Z\t[2025-01-07 09:21:00.000][3][info][wasm] wasm log: shipped\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2025-01-07 09:21:00.000", thread: "3", level: "info", logger: "wasm", msg: "wasm log: shipped"}},
	}, {
		name: "istio text copied from a pager: padding to the screen width and its position marker",
		in:   "2022-08-03T14:15:04.691239Z     debug   envoy wasm      wasm log f-0.1: [6] headers                                        [5/1795]\n2022-08-03T14:15:04.691267Z     trace   envoy wasm      [vm<-host] env.proxy_log return: 0                    \n",
		want: []rec{
			{lines: "1-1", framing: FramingIstio, time: "2022-08-03T14:15:04.691239Z", level: "debug", logger: "wasm", msg: "wasm log f-0.1: [6] headers"},
			{lines: "2-2", framing: FramingIstio, time: "2022-08-03T14:15:04.691267Z", level: "trace", logger: "wasm", msg: "[vm<-host] env.proxy_log return: 0"},
		},
	}, {
		name: "spaces a copy left after the line: a backtick, a pager marker, an istio tab",
		in: "`[2025-01-07 09:12:45.000][15][warning][wasm] wasm log q: slow`   \n" +
			"2022-08-03T14:15:04.691239Z     debug   envoy wasm      wasm log f-0.1: [6] b                                        [5/1795]   \n" +
			"2024-04-09T16:58:38.711061Z\tcritical\tenvoy wasm external/envoy/source/extensions/common/wasm/context.cc:1157\t   \n" +
			"wasm log ns.f: cut\tthread=48   \n",
		want: []rec{
			{lines: "1-1", framing: FramingEnvoy, time: "2025-01-07 09:12:45.000", thread: "15", level: "warning", logger: "wasm", msg: "wasm log q: slow"},
			{lines: "2-2", framing: FramingIstio, time: "2022-08-03T14:15:04.691239Z", level: "debug", logger: "wasm", msg: "wasm log f-0.1: [6] b"},
			{lines: "3-4", framing: FramingIstio, time: "2024-04-09T16:58:38.711061Z", thread: "48", level: "critical", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/context.cc:1157", msg: "wasm log ns.f: cut"},
		},
	}, {
		name: "spaces after lines copied out of a JSON string array",
		in:   "[error][wasm] Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\\n\"  \n\" 0: 0x1b20 - a\\n\",  \n",
		want: []rec{{lines: "1-2", framing: FramingEnvoy, level: "error", logger: "wasm", msg: "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\n 0: 0x1b20 - a"}},
	}, {
		name: "an unknown prefix before an envoy line with an ISO 8601 time",
		in:   "[Envoy (Epoch 0)] [2020-08-25T06:06:05.299Z][21][warning][config] [external/envoy/source/common/config/grpc_subscription_impl.cc:101] rejected\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2020-08-25T06:06:05.299Z", thread: "21", level: "warning", logger: "config", caller: "external/envoy/source/common/config/grpc_subscription_impl.cc:101", origin: "[Envoy (Epoch 0)]", msg: "rejected"}},
	}, {
		name: "istio json whose location is in the message (before 1.8)",
		in:   `{"time":"2020-05-25T08:10:32.317234Z","level":"warning","scope":"envoy wasm","msg":"[external/envoy/source/extensions/common/wasm/wasm.cc:643] createWasm: failed to load (in progress) from http://s/f.wasm","thread":""}` + "\n",
		want: []rec{{lines: "1-1", framing: FramingJSON, time: "2020-05-25T08:10:32.317234Z", level: "warning", logger: "wasm", caller: "external/envoy/source/extensions/common/wasm/wasm.cc:643", msg: "createWasm: failed to load (in progress) from http://s/f.wasm"}},
	}, {
		name: "an unknown prefix before an nginx line is learned",
		in:   "apisix-7d9f apisix 2022/05/09 09:08:31 [error] 51#51: failed to call function: wasm trap: wasm `unreachable` instruction executed\napisix-7d9f apisix wasm backtrace:\n",
		want: []rec{{lines: "1-2", framing: FramingNginx, time: "2022/05/09 09:08:31", thread: "51#51", level: "error", origin: "apisix-7d9f apisix", msg: "failed to call function: wasm trap: wasm `unreachable` instruction executed\nwasm backtrace:"}},
	}, {
		name: "envoy json_format with the keys of its documentation's example",
		in:   `{"Timestamp":"2024-05-01T10:00:00.123","ThreadId":"14","SourceLine":"wasm_vm.cc:38","Level":"error","Message":"Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x20 - proxy_on_tick"}` + "\n",
		want: []rec{{lines: "1-1", framing: FramingJSON, time: "2024-05-01T10:00:00.123", thread: "14", level: "error", caller: "wasm_vm.cc:38", msg: "Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x20 - proxy_on_tick"}},
	}, {
		name: "envoy's glog --log-format for GKE, with --log-format-escaped",
		in: "E0501 not glog\n" + `E0501 10:00:00.123 14 envoy/source/extensions/common/wasm/wasm_vm.cc:38] [14][wasm]Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x20 - proxy_on_tick` + "\n" +
			"T0501 10:00:00.124 14 envoy/source/extensions/common/wasm/context.cc:1151] [14][wasm]wasm log ns.p: hi\n",
		want: []rec{
			{lines: "1-1", framing: FramingNone, msg: "E0501 not glog"},
			{lines: "2-2", framing: FramingEnvoy, thread: "14", level: "error", logger: "wasm", caller: "source/extensions/common/wasm/wasm_vm.cc:38", msg: `Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x20 - proxy_on_tick`},
			{lines: "3-3", framing: FramingEnvoy, thread: "14", level: "trace", logger: "wasm", caller: "source/extensions/common/wasm/context.cc:1151", msg: "wasm log ns.p: hi"},
		},
	}, {
		name: "envoy --log-format with an ISO 8601 time",
		in:   "[2024-05-01T10:00:00.123Z][12][info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log a.b c-d: iso\n",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2024-05-01T10:00:00.123Z", thread: "12", level: "info", logger: "wasm", caller: "source/extensions/common/wasm/context.cc:1151", msg: "wasm log a.b c-d: iso"}},
	}, {
		name: "last line without newline",
		in:   "[2022-11-17 19:42:08.870][1][info][wasm] wasm log: end",
		want: []rec{{lines: "1-1", framing: FramingEnvoy, time: "2022-11-17 19:42:08.870", thread: "1", level: "info", logger: "wasm", msg: "wasm log: end"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, strings.NewReader(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records, want %d:\n%+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReaderMultiLine(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "lines|message"
	}{{
		name: "frames unindented and with blank lines between",
		in: "[2021-01-28 19:36:37.191][38][error][wasm] [" + vmCC + "] Function: malloc failed: Uncaught RuntimeError: unreachable\n\n" +
			"Proxy-Wasm plugin in-VM backtrace:\n\n0: 0x3b6e - runtime.runtimePanic\n\n1: 0x1c8a - runtime.alloc\n" +
			"[2021-01-28 19:36:37.192][38][info][wasm] wasm log: next\n",
		want: []string{
			"1-7|Function: malloc failed: Uncaught RuntimeError: unreachable\n\nProxy-Wasm plugin in-VM backtrace:\n\n0: 0x3b6e - runtime.runtimePanic\n\n1: 0x1c8a - runtime.alloc",
			"8-8|wasm log: next",
		},
	}, {
		name: "plugin log line pasted without its Envoy header",
		in: "[2025-02-01 10:00:00.001][7][error][wasm] wasm log ns.meter: runtime: out of memory: cannot allocate\n" +
			"wasm log ns.meter: 65536 -byte block ( 8192 in use)\nsome words after\n",
		want: []string{
			"1-1|wasm log ns.meter: runtime: out of memory: cannot allocate",
			"2-2|wasm log ns.meter: 65536 -byte block ( 8192 in use)",
			"3-3|some words after",
		},
	}, {
		name: "access log entry after an Envoy line",
		in: "[2025-02-01 10:00:00.001][7][info][wasm] wasm log ns.meter: ok\n" +
			"[2025-02-01T10:00:01.000Z] \"GET /a HTTP/1.1\" 503 - wasm_fail_stream - \"-\" 0 0 1 -\n",
		want: []string{
			"1-1|wasm log ns.meter: ok",
			"2-2|[2025-02-01T10:00:01.000Z] \"GET /a HTTP/1.1\" 503 - wasm_fail_stream - \"-\" 0 0 1 -",
		},
	}, {
		name: "backtrace after another worker's lines",
		in: "[2022-03-07 10:43:04.332][902][error][wasm] Function: proxy_on_response_headers failed: Uncaught RuntimeError: unreachable\n" +
			"[2022-03-07 10:43:04.332][905][trace][wasm] [host->vm] proxy_on_context_create(3, 1)\n" +
			"[2022-03-07 10:43:04.332][905][info][wasm] wasm log p: other worker\n" +
			"Proxy-Wasm plugin in-VM backtrace:\n  0:  0xdb3 - runtime._panic\n  1:  0x31f7 - proxy_on_response_headers\n" +
			"[2022-03-07 10:43:04.333][902][info][wasm] wasm log p: after\n",
		want: []string{
			"1-6|Function: proxy_on_response_headers failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0xdb3 - runtime._panic\n  1:  0x31f7 - proxy_on_response_headers",
			"2-2|[host->vm] proxy_on_context_create(3, 1)",
			"3-3|wasm log p: other worker",
			"7-7|wasm log p: after",
		},
	}, {
		name: "another worker's line between two frames",
		in: "[2024-05-01 10:00:00.124][12][error][wasm] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\n" +
			"Proxy-Wasm plugin in-VM backtrace:\n  0:  0x1a2b - a<char, int>::f(int, long)\n" +
			"[2024-05-01 10:00:00.124][13][info][upstream] cm init: all clusters initialized\n" +
			"  1:  0x2b3c - proxy_on_request_headers\n" +
			"[2024-05-01 10:00:00.125][13][info][wasm] wasm log p: next\n" +
			"Proxy-Wasm plugin in-VM backtrace:\n  0:  0x10 - b\n",
		want: []string{
			"1-5|Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x1a2b - a<char, int>::f(int, long)\n  1:  0x2b3c - proxy_on_request_headers",
			"4-4|cm init: all clusters initialized",
			"6-6|wasm log p: next",
			"7-8|Proxy-Wasm plugin in-VM backtrace:\n  0:  0x10 - b",
		},
	}, {
		name: "another worker's istio line between two frames",
		in: "2025-12-26T04:40:10.362951Z\terror\tenvoy wasm\tFunction: proxy_on_tick failed: Uncaught RuntimeError: unreachable\n" +
			"Proxy-Wasm plugin in-VM backtrace:\n  0:  0x94bcd - runtime.exit\n" +
			"2025-12-26T04:40:10.362960Z\tinfo\tenvoy upstream\tcds: add 1 cluster(s)\tthread=30\n" +
			"  1:  0xa0ff5 - proxy_on_tick\tthread=22\n",
		want: []string{
			"1-5|Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x94bcd - runtime.exit\n  1:  0xa0ff5 - proxy_on_tick",
			"4-4|cds: add 1 cluster(s)",
		},
	}, {
		name: "a crash without frames is given up after a window",
		in: "[2025-05-19 05:10:06.224][23][error][wasm] Function: proxy_on_response_headers failed: Exception: out of bounds memory access\n" +
			strings.Repeat("[2025-05-19 05:10:06.225][22][trace][wasm] [host->vm] proxy_on_tick(1)\n", crashWindow+2),
		want: append([]string{"1-1|Function: proxy_on_response_headers failed: Exception: out of bounds memory access"},
			repeatLines(2, crashWindow+2, "[host->vm] proxy_on_tick(1)")...),
	}, {
		name: "go traceback written in one fd_write",
		in: "[2024-01-03 23:46:27.247][92][error][wasm] wasm log: panic: go plugin: crashing on purpose\ngoroutine 1 [running]:\nmain.(*crasher).boom(0x1bcf78)\n\tgo/native/main.go:83 +0x15\n" +
			"[2024-01-03 23:46:27.248][92][error][wasm] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable\n",
		want: []string{
			"1-4|wasm log: panic: go plugin: crashing on purpose\ngoroutine 1 [running]:\nmain.(*crasher).boom(0x1bcf78)\n\tgo/native/main.go:83 +0x15",
			"5-5|Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable",
		},
	}, {
		name: "unframed lines after a call line are records of their own",
		in:   "[2022-03-07 10:43:04.332][905][trace][wasm] [host->vm] proxy_on_tick(1)\nlibc++abi: Pure virtual function called!\n",
		want: []string{"1-1|[host->vm] proxy_on_tick(1)", "2-2|libc++abi: Pure virtual function called!"},
	}, {
		name: "code fences end the record before them and continue nothing",
		in:   "```\n[2025-01-07 09:13:00.100][40][info][wasm] wasm log: done\n```\n  indented prose\n```log\n2025-01-07T09:13:00.500000Z\terror\tenvoy wasm\tFunction: proxy_on_tick failed: Uncaught RuntimeError: unreachable\n~~~\n",
		want: []string{"1-1|```", "2-2|wasm log: done", "3-3|```", "4-4|  indented prose", "5-5|```log",
			"6-6|Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable", "7-7|~~~"},
	}, {
		name: "an elision a person put between frames keeps the backtrace going",
		in: "[2025-01-07 09:20:00.000][3][error][wasm] Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n" +
			"  0:  0x10 - a\n...\n  9:  0x90 - proxy_on_tick\n[2025-01-07 09:20:00.001][3][info][wasm] wasm log: next\n",
		want: []string{"1-5|Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x10 - a\n...\n  9:  0x90 - proxy_on_tick",
			"6-6|wasm log: next"},
	}, {
		name: "a terminal wrapped a long frame line in the middle of its name, at 80 columns",
		in: "[2025-01-07 09:22:00.000][3][error][wasm] Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n" +
			"  0:  0x2b5c1 - _ZN3std9panicking19begin_panic_handler28_$u7b$$u7b$closure$u7d\n$u7d$17h0011223344556677E\n  1:  0x90 - proxy_on_tick\nThanks\n",
		want: []string{"1-5|Function: proxy_on_tick failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n" +
			"  0:  0x2b5c1 - _ZN3std9panicking19begin_panic_handler28_$u7b$$u7b$closure$u7d\n$u7d$17h0011223344556677E\n  1:  0x90 - proxy_on_tick",
			"6-6|Thanks"},
	}, {
		name: "a terminal wrapped the istio line right after its location",
		in:   "2025-01-07T09:13:00.500000Z critical envoy wasm external/envoy/source/extensions/common/wasm/context.cc:1190\nwasm log team-a.headers: cannot read :status thread=33\n",
		want: []string{"1-2|wasm log team-a.headers: cannot read :status"},
	}, {
		name: "blank lines are kept between lines of a message, not after it",
		in: "[2025-01-07 09:16:00.000][40][info][wasm] wasm log: panic: out of memory\n\n\n" +
			"[2025-01-07 09:16:00.001][40][error][wasm] Function: malloc failed: Uncaught RuntimeError: unreachable\n\nProxy-Wasm plugin in-VM backtrace:\n\n  0:  0x3b - runtime.alloc\n\n",
		want: []string{"1-3|wasm log: panic: out of memory",
			"4-9|Function: malloc failed: Uncaught RuntimeError: unreachable\n\nProxy-Wasm plugin in-VM backtrace:\n\n  0:  0x3b - runtime.alloc"},
	}, {
		name: "a trap header whose \"Function: \" was cut still starts a record",
		in:   "the proxy said:\nproxy_on_vm_start failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x7c - runtime._panic\n",
		want: []string{"1-1|the proxy said:", "2-4|proxy_on_vm_start failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n  0:  0x7c - runtime._panic"},
	}, {
		name: "a runtime's own rust panic on stderr does not continue the nginx line before it",
		in:   "2025/01/07 09:14:03 [info] 7#7: loaded wasm plugin\nthread '<unnamed>' panicked at 'index out of bounds', crates/host/src/lib.rs:9:1\n",
		want: []string{"1-1|loaded wasm plugin", "2-2|thread '<unnamed>' panicked at 'index out of bounds', crates/host/src/lib.rs:9:1"},
	}, {
		name: "wazero trace without framing",
		in:   "wasm error: unreachable\nwasm stack trace:\n\t.runtime.abort(i32) i32\n\t\t0x27: /src/plugin.c:42:18\nunrelated\n",
		want: []string{"1-4|wasm error: unreachable\nwasm stack trace:\n\t.runtime.abort(i32) i32\n\t\t0x27: /src/plugin.c:42:18", "5-5|unrelated"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, strings.NewReader(tt.in))
			var s []string
			for _, r := range got {
				s = append(s, r.lines+"|"+r.msg)
			}
			if strings.Join(s, "\n---\n") != strings.Join(tt.want, "\n---\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(s, "\n---\n"), strings.Join(tt.want, "\n---\n"))
			}
		})
	}
}

func repeatLines(first, n int, msg string) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("%d-%d|%s", first+i, first+i, msg))
	}
	return out
}

// Feeding the input one byte at a time, or in odd chunks, gives the same
// records as reading it at once.
func TestReaderStreamingChunks(t *testing.T) {
	in := readFile(t, "testdata/logs/envoy-trace.log")
	want := readAll(t, bytes.NewReader(in))
	if len(want) < 20 {
		t.Fatalf("testdata/mixed.log gives only %d records", len(want))
	}
	for name, src := range map[string]io.Reader{
		"one byte":  iotest.OneByteReader(bytes.NewReader(in)),
		"half":      iotest.HalfReader(bytes.NewReader(in)),
		"data+eof":  iotest.DataErrReader(bytes.NewReader(in)),
		"timeout":   &retryReader{r: iotest.TimeoutReader(bytes.NewReader(in))},
		"tiny bufs": &chunkReader{data: in, n: 7},
	} {
		got := readAll(t, src)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: records differ\n got %d: %+v\nwant %d: %+v", name, len(got), got, len(want), want)
		}
	}
}

type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// retryReader turns iotest.TimeoutReader's one-off timeout into ErrIdle.
type retryReader struct{ r io.Reader }

func (r *retryReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if errors.Is(err, iotest.ErrTimeout) {
		return n, nil
	}
	return n, err
}

// A source that goes quiet makes the Reader emit the record it holds open.
func TestReaderFlushOnIdle(t *testing.T) {
	src := &scriptReader{steps: []step{
		{data: "[2022-11-17 19:42:08.870][1][info][wasm] wasm log: first\n"},
		{err: ErrIdle},
		{data: "[2022-11-17 19:42:08.871][1][info][wasm] wasm log: second\n"},
	}}
	rd := NewReader(src)
	r, err := rd.Next()
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Message) != "wasm log: first" || src.pos != 2 {
		t.Fatalf("first record %q emitted after %d reads, want after the idle signal (2)", r.Message, src.pos)
	}
	r, err = rd.Next()
	if err != nil || string(r.Message) != "wasm log: second" {
		t.Fatalf("second record %v %v", r, err)
	}
	if _, err := rd.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %v", err)
	}
}

type step struct {
	data string
	err  error
}

type scriptReader struct {
	steps []step
	pos   int
}

func (s *scriptReader) Read(p []byte) (int, error) {
	if s.pos >= len(s.steps) {
		return 0, io.EOF
	}
	st := s.steps[s.pos]
	s.pos++
	n := copy(p, st.data)
	return n, st.err
}

func TestReaderLimits(t *testing.T) {
	long := "[2022-11-17 19:42:08.870][1][info][wasm] wasm log: " + strings.Repeat("x", 5000) + "\n"
	rd := NewReader(strings.NewReader(long + "[2022-11-17 19:42:08.871][1][info][wasm] wasm log: after\n"))
	rd.MaxLineBytes = 1024
	var msgs []string
	for {
		r, err := rd.Next()
		if err != nil {
			break
		}
		msgs = append(msgs, fmt.Sprintf("%d:%d", r.Line, len(r.Message)))
	}
	// The long line keeps its first 1024 bytes (the prefix takes 41).
	if got := strings.Join(msgs, " "); got != "1:983 2:15" || rd.TruncatedLines() != 1 {
		t.Errorf("records %s, truncated %d; want 1:983 2:15, 1", got, rd.TruncatedLines())
	}
	rd = NewReader(strings.NewReader("[2022-11-17 19:42:08.870][1][info][wasm] wasm log: a\n" + strings.Repeat("  continuation\n", 100)))
	rd.MaxRecordBytes = 100
	r, err := rd.Next()
	if err != nil || len(r.Message) > 100 || !r.Truncated() || r.EndLine != 101 {
		t.Errorf("record of %d bytes, truncated %v, lines %d-%d; want ≤100, true, 1-101", len(r.Message), r.Truncated(), r.Line, r.EndLine)
	}
}
