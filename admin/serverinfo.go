package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// ServerInfo is the part of /server_info (envoy.admin.v3.ServerInfo) wasmdbg
// uses.
type ServerInfo struct {
	// Version as Envoy prints it: "<commit>/<version>/<Clean|Modified>/<RELEASE|DEBUG>/<TLS library>",
	// e.g. "d026e913427989a8d1542de03ba50f2af814e728/1.36.0-dev/Clean/RELEASE/BoringSSL".
	Version string `json:"version"`
	// State is LIVE, DRAINING, PRE_INITIALIZING or INITIALIZING.
	State              string `json:"state"`
	HotRestartVersion  string `json:"hot_restart_version,omitempty"`
	UptimeCurrentEpoch string `json:"uptime_current_epoch,omitempty"`
	UptimeAllEpochs    string `json:"uptime_all_epochs,omitempty"`
	CommandLineOptions struct {
		LogLevel          string `json:"log_level,omitempty"`
		ComponentLogLevel string `json:"component_log_level,omitempty"`
		LogFormat         string `json:"log_format,omitempty"`
		LogPath           string `json:"log_path,omitempty"`
		ConfigPath        string `json:"config_path,omitempty"`
		Concurrency       int    `json:"concurrency,omitempty"`
	} `json:"command_line_options"`
	Node struct {
		ID      string `json:"id,omitempty"`
		Cluster string `json:"cluster,omitempty"`
	} `json:"node"`
}

// EnvoyVersion is the release part of Version ("1.36.0-dev"), or Version
// itself when it does not have the usual shape.
func (s ServerInfo) EnvoyVersion() string {
	parts := strings.Split(s.Version, "/")
	if len(parts) >= 2 {
		return parts[1]
	}
	return s.Version
}

// ServerInfo reads /server_info.
func (c *Client) ServerInfo(ctx context.Context) (ServerInfo, error) {
	r := request{method: http.MethodGet, path: "/server_info"}
	resp, err := c.do(ctx, r)
	if err != nil {
		return ServerInfo{}, err
	}
	var si ServerInfo
	if resp.code != http.StatusOK || json.Unmarshal(resp.body, &si) != nil || si.Version == "" || si.State == "" {
		return ServerInfo{}, c.notAdmin(r, resp, `200 application/json {"version": …, "state": …}`)
	}
	return si, nil
}
