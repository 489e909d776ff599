package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/admin"
)

// bigDump is an Istio-shaped /config_dump of a large mesh: listeners
// listeners, each with an HTTP connection manager whose chain refers to
// every ECDS plugin, ecds ECDS-delivered plugins, and clusters clusters as
// filler (real dumps are mostly clusters and routes).
func bigDump(listeners, ecds, clusters int) []byte {
	var refs []any
	var filters []any
	for i := 0; i < ecds; i++ {
		name := fmt.Sprintf("extensions.istio.io/wasmplugin/ns%d.plugin-%d", i%7, i)
		refs = append(refs, map[string]any{"name": name, "config_discovery": map[string]any{
			"config_source": map[string]any{"ads": map[string]any{}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
			"type_urls":     []string{"type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"}}})
		filters = append(filters, map[string]any{"version_info": "2025-10-14T09:12:04Z/11", "last_updated": "2025-10-14T09:12:05.031Z",
			"ecds_filter": map[string]any{"@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", "name": name,
				"typed_config": map[string]any{"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", "config": map[string]any{
					"name": fmt.Sprintf("ns%d.plugin-%d", i%7, i), "root_id": "root",
					"vm_config":     map[string]any{"runtime": "envoy.wasm.runtime.v8", "code": map[string]any{"local": map[string]any{"filename": fmt.Sprintf("/var/lib/istio/data/%064d/%064d.wasm", i, i)}}},
					"configuration": map[string]any{"@type": "type.googleapis.com/google.protobuf.StringValue", "value": strings.Repeat("k=v;", 50)},
				}}}})
	}
	chain := append(append([]any{}, refs...), map[string]any{"name": "envoy.filters.http.router", "typed_config": map[string]any{"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}})
	var ls []any
	for i := 0; i < listeners; i++ {
		name := fmt.Sprintf("10.0.%d.%d_8080", i/250, i%250)
		ls = append(ls, map[string]any{"name": name, "active_state": map[string]any{"version_info": "1", "listener": map[string]any{
			"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": name,
			"address": map[string]any{"socket_address": map[string]any{"address": "0.0.0.0", "port_value": 8080}},
			"filter_chains": []any{map[string]any{"filters": []any{map[string]any{"name": "envoy.filters.network.http_connection_manager",
				"typed_config": map[string]any{"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
					"stat_prefix": name, "http_filters": chain}}}}}}}})
	}
	var cs []any
	for i := 0; i < clusters; i++ {
		cs = append(cs, map[string]any{"version_info": "1", "cluster": map[string]any{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
			"name": fmt.Sprintf("outbound|80||svc-%d.ns.svc.cluster.local", i), "type": "EDS", "connect_timeout": "10s",
			"eds_cluster_config": map[string]any{"eds_config": map[string]any{"ads": map[string]any{}, "resource_api_version": "V3"}, "service_name": fmt.Sprintf("outbound|80||svc-%d.ns.svc.cluster.local", i)},
			"circuit_breakers":   map[string]any{"thresholds": []any{map[string]any{"max_connections": 4294967295, "max_pending_requests": 4294967295, "max_requests": 4294967295, "max_retries": 4294967295}}}}})
	}
	d := map[string]any{"configs": []any{
		map[string]any{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": cs},
		map[string]any{"@type": "type.googleapis.com/envoy.admin.v3.EcdsConfigDump", "ecds_filters": filters},
		map[string]any{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": ls},
	}}
	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		panic(err)
	}
	return b
}

// bigPrometheus is /stats/prometheus of a busy sidecar: series counters
// with cluster tags, the Wasm stats, and a few histograms.
func bigPrometheus(series int) []byte {
	var b bytes.Buffer
	for f := 0; f < 40; f++ {
		fmt.Fprintf(&b, "# TYPE envoy_cluster_upstream_stat_%d counter\n", f)
		for i := 0; i < series/40; i++ {
			fmt.Fprintf(&b, "envoy_cluster_upstream_stat_%d{cluster_name=\"outbound|80||svc-%d.ns.svc.cluster.local\"} %d\n", f, i, i*f)
		}
		b.WriteString("\n")
	}
	b.WriteString("# TYPE envoy_wasm_envoy_wasm_runtime_v8_created counter\nenvoy_wasm_envoy_wasm_runtime_v8_created{} 40\n\n")
	b.WriteString("# TYPE envoy_wasm_envoy_wasm_runtime_v8_active gauge\nenvoy_wasm_envoy_wasm_runtime_v8_active{} 32\n\n")
	b.WriteString("# TYPE cpp_requests_total counter\ncpp_requests_total{} 12345\n\n")
	for h := 0; h < 5; h++ {
		fmt.Fprintf(&b, "# TYPE envoy_cluster_upstream_rq_time_%d histogram\n", h)
		for _, le := range []string{"0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "+Inf"} {
			fmt.Fprintf(&b, "envoy_cluster_upstream_rq_time_%d_bucket{le=\"%s\"} 7\n", h, le)
		}
		fmt.Fprintf(&b, "envoy_cluster_upstream_rq_time_%d_sum{} 73.200000000000002842170943040401\nenvoy_cluster_upstream_rq_time_%d_count{} 7\n\n", h, h)
	}
	return b.Bytes()
}

func benchDump() []byte {
	if p := os.Getenv("WASMDBG_BENCH_DUMP"); p != "" {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	return bigDump(500, 20, 2000)
}

func BenchmarkParsePlugins(b *testing.B) {
	dump := benchDump()
	b.SetBytes(int64(len(dump)))
	for b.Loop() {
		ps, err := admin.ParsePlugins(dump)
		if err != nil || len(ps) == 0 {
			b.Fatal(err, len(ps))
		}
	}
}

func BenchmarkParsePrometheus(b *testing.B) {
	text := bigPrometheus(20000)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		mf, err := admin.ParsePrometheus(bytes.NewReader(text))
		if err != nil || len(mf) < 40 {
			b.Fatal(err)
		}
		admin.ReadWasmStats(mf, []string{"cpp_requests_total"})
	}
}

// TestWriteBenchDump writes the benchmark's dump for scripts/bench/admin.sh
// when WASMDBG_WRITE_BENCH_DUMP names a file, and checks that every ECDS
// plugin is found with all the listeners that use it.
func TestWriteBenchDump(t *testing.T) {
	d := bigDump(50, 5, 10)
	ps, err := admin.ParsePlugins(d)
	if err != nil || len(ps) != 5 || len(ps[0].Used) != 50 {
		t.Fatalf("%d plugins, %v", len(ps), err)
	}
	if p := os.Getenv("WASMDBG_WRITE_BENCH_DUMP"); p != "" {
		if err := os.WriteFile(p, bigDump(500, 20, 2000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
