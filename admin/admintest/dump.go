package admintest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// IstioECDSDump is a /config_dump of an Istio sidecar with two WasmPlugins
// delivered by ECDS (one StringValue-configured, fail-closed; one
// Struct-configured, fail-open), referred to from the inbound listeners'
// HTTP filter chains by config_discovery, in the shapes of reference §7.
//
//go:embed dumps/istio-ecds.json
var IstioECDSDump []byte

// EnvoyStaticDump is a /config_dump of a plain Envoy with static listeners:
// an HTTP Wasm filter with a local file, root_id, vm_id and the deprecated
// fail_open; a TypedStruct-wrapped one fetched remotely with a sha256 and
// FAIL_RELOAD on wasmtime; a network Wasm filter with inline bytes; and a
// bootstrap WasmService singleton.
//
//go:embed dumps/envoy-static.json
var EnvoyStaticDump []byte

// resourceTypes are the repeated fields ?resource= can select and the type
// of their elements (envoy/admin/v3/config_dump*.proto).
var resourceTypes = map[string]string{
	"ecds_filters":             "type.googleapis.com/envoy.admin.v3.EcdsConfigDump.EcdsFilterConfig",
	"dynamic_listeners":        "type.googleapis.com/envoy.admin.v3.ListenersConfigDump.DynamicListener",
	"static_listeners":         "type.googleapis.com/envoy.admin.v3.ListenersConfigDump.StaticListener",
	"dynamic_active_clusters":  "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster",
	"static_clusters":          "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster",
	"dynamic_route_configs":    "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig",
	"static_route_configs":     "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.StaticRouteConfig",
	"dynamic_active_secrets":   "type.googleapis.com/envoy.admin.v3.SecretsConfigDump.DynamicSecret",
	"static_secrets":           "type.googleapis.com/envoy.admin.v3.SecretsConfigDump.StaticSecret",
	"dynamic_warming_clusters": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster",
}

// serveConfigDump serves the dump, or with ?resource=<field> every element
// of that repeated field as its own config, typed.
func (s *Server) serveConfigDump(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	dump := s.dump
	s.mu.Unlock()
	res := r.URL.Query().Get("resource")
	if res == "" {
		jsonBody(w, http.StatusOK, dump)
		return
	}
	typ, ok := resourceTypes[res]
	if !ok {
		text(w, http.StatusNotFound, fmt.Sprintf("%s not found in config dump", res))
		return
	}
	var d struct {
		Configs []map[string]json.RawMessage `json:"configs"`
	}
	if err := json.Unmarshal(dump, &d); err != nil {
		text(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := []any{}
	for _, c := range d.Configs {
		var items []map[string]any
		if raw, ok := c[res]; ok && json.Unmarshal(raw, &items) == nil {
			for _, it := range items {
				it["@type"] = typ
				out = append(out, it)
			}
		}
	}
	b, _ := json.MarshalIndent(map[string]any{"configs": out}, "", " ")
	jsonBody(w, http.StatusOK, append(b, '\n'))
}

// serveServerInfo is /server_info: envoy.admin.v3.ServerInfo, pretty JSON.
func (s *Server) serveServerInfo(w http.ResponseWriter) {
	s.mu.Lock()
	up := fmt.Sprintf("%ds", int(time.Since(s.started).Seconds()))
	logLevel := s.opts.Level
	s.mu.Unlock()
	if logLevel == "" {
		logLevel = "info"
	}
	// Fields in envoy.admin.v3.ServerInfo order, as Envoy's JSON printer
	// writes them.
	type options struct {
		BaseID             string `json:"base_id"`
		Concurrency        int    `json:"concurrency"`
		ConfigPath         string `json:"config_path"`
		LogLevel           string `json:"log_level"`
		LogFormat          string `json:"log_format"`
		Mode               string `json:"mode"`
		DrainTime          string `json:"drain_time"`
		ParentShutdownTime string `json:"parent_shutdown_time"`
		FileFlushInterval  string `json:"file_flush_interval"`
		DrainStrategy      string `json:"drain_strategy"`
	}
	type node struct {
		ID      string `json:"id"`
		Cluster string `json:"cluster"`
	}
	si := struct {
		Version            string  `json:"version"`
		State              string  `json:"state"`
		HotRestartVersion  string  `json:"hot_restart_version"`
		CommandLineOptions options `json:"command_line_options"`
		Node               node    `json:"node"`
		UptimeCurrentEpoch string  `json:"uptime_current_epoch"`
		UptimeAllEpochs    string  `json:"uptime_all_epochs"`
	}{
		Version: s.opts.Version, State: "LIVE", HotRestartVersion: "11.104",
		CommandLineOptions: options{
			BaseID: "0", Concurrency: s.opts.Concurrency, ConfigPath: "/etc/envoy/envoy.yaml", LogLevel: logLevel,
			LogFormat: "[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v", Mode: "Serve", DrainTime: "600s",
			ParentShutdownTime: "900s", FileFlushInterval: "10s", DrainStrategy: "Gradual",
		},
		Node:               node{ID: "envoy-local", Cluster: "local"},
		UptimeCurrentEpoch: up, UptimeAllEpochs: up,
	}
	b, _ := json.MarshalIndent(si, "", " ")
	jsonBody(w, http.StatusOK, append(b, '\n'))
}
