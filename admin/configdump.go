package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The type URLs under which a Proxy-Wasm PluginConfig appears in a config
// dump (envoy api/envoy/extensions/**/wasm/v3/*.proto), and the kind of
// extension each one is.
var wasmTypes = map[string]string{
	"type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm":            "http",
	"type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm":         "network",
	"type.googleapis.com/envoy.extensions.wasm.v3.WasmService":                  "service",
	"type.googleapis.com/envoy.extensions.access_loggers.wasm.v3.WasmAccessLog": "access_log",
	"type.googleapis.com/envoy.extensions.stat_sinks.wasm.v3.Wasm":              "stat_sink",
}

// typedStructTypes wrap another message as {type_url, value}; older Istio
// EnvoyFilters deliver Wasm filters this way.
var typedStructTypes = map[string]bool{
	"type.googleapis.com/udpa.type.v1.TypedStruct": true,
	"type.googleapis.com/xds.type.v3.TypedStruct":  true,
}

const (
	listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
	clusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
)

// Plugin is one Proxy-Wasm plugin found in a config dump: the fields of its
// envoy.extensions.wasm.v3.PluginConfig that debugging needs, and where in
// the configuration it sits.
type Plugin struct {
	Name    string `json:"name"`
	RootID  string `json:"root_id,omitempty"`
	VMID    string `json:"vm_id,omitempty"`
	Runtime string `json:"runtime,omitempty"` // as configured; "" lets Envoy pick (v8 first)
	Code    Code   `json:"code"`

	// FailurePolicy is the effective policy: FAIL_CLOSED (the default),
	// FAIL_OPEN (also what the deprecated fail_open: true means) or
	// FAIL_RELOAD. FailOpen is the deprecated field as configured.
	FailurePolicy string `json:"failure_policy"`
	FailOpen      bool   `json:"fail_open,omitempty"`

	// Configuration is the plugin configuration as the plugin receives it
	// (StringValue and BytesValue raw, Struct as JSON); ConfigurationType
	// names the protobuf type it came in ("StringValue", "Struct", …).
	Configuration     string `json:"configuration,omitempty"`
	ConfigurationType string `json:"configuration_type,omitempty"`
	VMConfiguration   string `json:"vm_configuration,omitempty"`

	AllowPrecompiled bool     `json:"allow_precompiled,omitempty"`
	EnvKeys          []string `json:"host_env_keys,omitempty"`
	Capabilities     []string `json:"allowed_capabilities,omitempty"` // capability_restriction_config; empty = all

	// Kind is the extension: http, network, service (bootstrap WasmService),
	// access_log or stat_sink. Singleton is a WasmService's singleton flag
	// (one VM on the main thread instead of one per worker).
	Kind      string `json:"kind"`
	Singleton bool   `json:"singleton,omitempty"`
	// FilterName is the name of the filter entry in the chain
	// ("envoy.filters.http.wasm", "istio.stats", an ECDS resource name).
	FilterName string `json:"filter_name,omitempty"`
	// ECDS is set for plugins delivered by the extension config discovery
	// service (EcdsConfigDump).
	ECDS *ECDS `json:"ecds,omitempty"`
	// Used lists where the plugin is in use: "listener <name>", "cluster
	// <name>", "bootstrap". ECDS plugins list the listeners whose filter
	// chains refer to their resource name.
	Used []string `json:"used,omitempty"`
	// Path is the JSON path of the plugin's configuration in the dump, e.g.
	// "configs[4].ecds_filters[0].ecds_filter.typed_config".
	Path string `json:"path"`
}

// ECDS is what an EcdsConfigDump says about a resource.
type ECDS struct {
	Resource     string `json:"resource"`
	VersionInfo  string `json:"version_info,omitempty"`
	LastUpdated  string `json:"last_updated,omitempty"`
	ClientStatus string `json:"client_status,omitempty"`
	ErrorState   string `json:"error_state,omitempty"` // details of the last rejected update
}

// Code is where a plugin's module comes from (vm_config.code, an
// AsyncDataSource).
type Code struct {
	// Kind is local_file, inline_bytes, inline_string, environment_variable
	// or remote; "" when the dump has no code.
	Kind     string `json:"kind,omitempty"`
	Filename string `json:"filename,omitempty"`
	EnvVar   string `json:"environment_variable,omitempty"`
	URI      string `json:"uri,omitempty"`
	Cluster  string `json:"cluster,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Inline   []byte `json:"-"` // inline_bytes or inline_string, decoded
	Size     int    `json:"inline_size,omitempty"`
}

func (c Code) String() string {
	switch c.Kind {
	case "local_file":
		return c.Filename
	case "remote":
		s := c.URI
		if c.SHA256 != "" {
			s += " sha256:" + c.SHA256
		}
		return s
	case "inline_bytes", "inline_string":
		return fmt.Sprintf("%s (%d bytes)", c.Kind, c.Size)
	case "environment_variable":
		return "$" + c.EnvVar
	}
	return "no code"
}

// ConfigDump reads /config_dump with the given query (nil for all of it),
// e.g. url.Values{"resource": {"ecds_filters"}}.
func (c *Client) ConfigDump(ctx context.Context, query url.Values) ([]byte, error) {
	r := request{method: http.MethodGet, path: "/config_dump", query: query.Encode()}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if resp.code == http.StatusBadRequest && isText(resp.contentType) {
		// Envoy's own refusals: a bad mask or name_regex.
		return nil, &StatusError{Request: r.String(), Status: resp.code, Message: snippet(resp.body)}
	}
	var probe struct {
		Configs json.RawMessage `json:"configs"`
	}
	if resp.code != http.StatusOK || json.Unmarshal(resp.body, &probe) != nil || probe.Configs == nil {
		return nil, c.notAdmin(r, resp, `200 application/json {"configs": […]}`)
	}
	return resp.body, nil
}

// Plugins reads /config_dump and returns every Proxy-Wasm plugin in it.
func (c *Client) Plugins(ctx context.Context) ([]Plugin, error) {
	b, err := c.ConfigDump(ctx, nil)
	if err != nil {
		return nil, err
	}
	ps, err := ParsePlugins(b)
	if err != nil {
		return nil, fmt.Errorf("GET %s/config_dump: %w", c.URL(), err)
	}
	return ps, nil
}

// ParsePlugins finds every Proxy-Wasm plugin in a /config_dump document:
// HTTP and network Wasm filters in listeners (static and dynamic, in every
// state) and clusters, ECDS-delivered filters (EcdsConfigDump), bootstrap
// WasmServices, Wasm access loggers and stat sinks, also when wrapped in a
// TypedStruct. It walks the whole document rather than a fixed set of paths,
// so new places in the dump are found too. A plugin that appears in several
// places (the same listener active and draining, or one ECDS resource used by
// many listeners) is returned once with every place in Used. Malformed
// plugin entries are errors naming their JSON path.
func ParsePlugins(dump []byte) ([]Plugin, error) {
	var root any
	dec := json.NewDecoder(bytes.NewReader(dump))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("config dump: %w", jsonError(dump, err))
	}
	if _, ok := root.(map[string]any); !ok {
		return nil, fmt.Errorf("config dump: not a JSON object")
	}
	w := &walker{refs: map[string][]string{}}
	w.walk(root, "", scope{})
	if w.err != nil {
		return nil, w.err
	}
	return w.result(), nil
}

// jsonError adds the line and column to a JSON syntax error.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Errorf("line %d, column %d: %v", line, col, se)
	}
	return err
}

// lineCol turns a json.SyntaxError offset (bytes read up to and including
// the bad one) into a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	i := min(max(off-1, 0), int64(len(data)))
	before := data[:i]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(i) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// scope is what the walk knows about the enclosing configuration.
type scope struct {
	used string // "listener x", "cluster y", "bootstrap"
	ecds *ECDS
	name string // the name of the enclosing filter entry
}

type walker struct {
	found []Plugin
	refs  map[string][]string // ECDS resource name -> places whose chains refer to it
	err   error
}

func (w *walker) walk(v any, path string, sc scope) {
	if w.err != nil {
		return
	}
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			w.walk(e, path+"["+strconv.Itoa(i)+"]", sc)
		}
	case map[string]any:
		typ, _ := v["@type"].(string)
		switch {
		case typ == listenerType:
			sc.used = "listener " + str(v["name"])
		case typ == "" && v["name"] != nil && (v["filter_chains"] != nil || v["default_filter_chain"] != nil):
			sc.used = "listener " + str(v["name"]) // a listener inside the bootstrap
		case typ == clusterType:
			sc.used = "cluster " + str(v["name"])
		case strings.HasSuffix(typ, "envoy.admin.v3.BootstrapConfigDump"):
			sc.used = "bootstrap"
		}
		if ef, ok := v["ecds_filter"].(map[string]any); ok {
			sc.ecds = &ECDS{
				Resource: str(ef["name"]), VersionInfo: str(v["version_info"]),
				LastUpdated: str(v["last_updated"]), ClientStatus: str(v["client_status"]),
			}
			if es, ok := v["error_state"].(map[string]any); ok {
				sc.ecds.ErrorState = str(es["details"])
			}
		}
		if n, ok := v["name"].(string); ok && (v["typed_config"] != nil || v["config_discovery"] != nil) {
			sc.name = n
			if v["config_discovery"] != nil && sc.used != "" {
				w.refs[n] = appendUnique(w.refs[n], sc.used)
			}
		}
		if kind, ok := wasmTypes[typ]; ok {
			w.plugin(v, kind, path, sc)
			return
		}
		if typedStructTypes[typ] {
			if kind, ok := wasmTypes[str(v["type_url"])]; ok {
				if inner, ok := v["value"].(map[string]any); ok {
					w.plugin(inner, kind, path+".value", sc)
				}
				return
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.walk(v[k], path+sep(path)+k, sc)
		}
	}
}

func sep(path string) string {
	if path == "" {
		return ""
	}
	return "."
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func appendUnique(list []string, s string) []string {
	for _, e := range list {
		if e == s {
			return list
		}
	}
	return append(list, s)
}

// plugin reads a Wasm extension message ({"config": PluginConfig}) at path.
func (w *walker) plugin(msg map[string]any, kind, path string, sc scope) {
	fail := func(field, format string, args ...any) {
		if w.err == nil {
			w.err = fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...))
		}
	}
	p := Plugin{Kind: kind, FilterName: sc.name, ECDS: sc.ecds, Path: path, FailurePolicy: "FAIL_CLOSED"}
	p.Singleton, _ = msg["singleton"].(bool)
	if sc.used != "" && sc.ecds == nil {
		p.Used = []string{sc.used}
	}
	cfg, ok := msg["config"].(map[string]any)
	if !ok {
		if msg["config"] != nil {
			fail("config", "not an object")
			return
		}
		cfg = map[string]any{} // a Wasm filter with an empty config is still one
	}
	p.Name, p.RootID = str(cfg["name"]), str(cfg["root_id"])
	if fo, ok := cfg["fail_open"].(bool); ok && fo {
		p.FailOpen, p.FailurePolicy = true, "FAIL_OPEN"
	}
	if fp := str(cfg["failure_policy"]); fp != "" && fp != "UNSPECIFIED" {
		p.FailurePolicy = fp
	}
	var err error
	if p.Configuration, p.ConfigurationType, err = anyValue(cfg["configuration"]); err != nil {
		fail("config.configuration", "%v", err)
		return
	}
	if cr, ok := cfg["capability_restriction_config"].(map[string]any); ok {
		if ac, ok := cr["allowed_capabilities"].(map[string]any); ok {
			for k := range ac {
				p.Capabilities = append(p.Capabilities, k)
			}
			sort.Strings(p.Capabilities)
		}
	}
	vm, _ := cfg["vm_config"].(map[string]any)
	if vm == nil {
		if cfg["vm_config"] != nil {
			fail("config.vm_config", "not an object")
			return
		}
		vm = map[string]any{}
	}
	p.VMID, p.Runtime = str(vm["vm_id"]), str(vm["runtime"])
	p.AllowPrecompiled, _ = vm["allow_precompiled"].(bool)
	if p.VMConfiguration, _, err = anyValue(vm["configuration"]); err != nil {
		fail("config.vm_config.configuration", "%v", err)
		return
	}
	if ev, ok := vm["environment_variables"].(map[string]any); ok {
		for _, k := range asList(ev["host_env_keys"]) {
			p.EnvKeys = append(p.EnvKeys, str(k))
		}
	}
	if p.Code, err = code(vm["code"]); err != nil {
		fail("config.vm_config.code", "%v", err)
		return
	}
	w.found = append(w.found, p)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// code reads an AsyncDataSource: {"local": DataSource} or {"remote":
// RemoteDataSource}.
func code(v any) (Code, error) {
	if v == nil {
		return Code{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Code{}, fmt.Errorf("not an object")
	}
	if local, ok := m["local"].(map[string]any); ok {
		switch {
		case local["filename"] != nil:
			return Code{Kind: "local_file", Filename: str(local["filename"])}, nil
		case local["inline_bytes"] != nil:
			b, err := base64.StdEncoding.DecodeString(str(local["inline_bytes"]))
			if err != nil {
				return Code{}, fmt.Errorf("local.inline_bytes: %v", err)
			}
			return Code{Kind: "inline_bytes", Inline: b, Size: len(b)}, nil
		case local["inline_string"] != nil:
			s := str(local["inline_string"])
			return Code{Kind: "inline_string", Inline: []byte(s), Size: len(s)}, nil
		case local["environment_variable"] != nil:
			return Code{Kind: "environment_variable", EnvVar: str(local["environment_variable"])}, nil
		}
		return Code{}, nil
	}
	if remote, ok := m["remote"].(map[string]any); ok {
		c := Code{Kind: "remote", SHA256: str(remote["sha256"])}
		if hu, ok := remote["http_uri"].(map[string]any); ok {
			c.URI, c.Cluster = str(hu["uri"]), str(hu["cluster"])
		}
		return c, nil
	}
	return Code{}, nil
}

// anyValue renders a google.protobuf.Any the way Envoy hands it to a plugin:
// StringValue as its string, BytesValue as its bytes, anything else (Struct,
// a custom message) as JSON. It also returns the short type name.
func anyValue(v any) (string, string, error) {
	switch v := v.(type) {
	case nil:
		return "", "", nil
	case string:
		return v, "", nil
	case map[string]any:
		typ := str(v["@type"])
		short := typ[strings.LastIndexByte(typ, '.')+1:]
		switch typ {
		case "type.googleapis.com/google.protobuf.StringValue":
			return str(v["value"]), short, nil
		case "type.googleapis.com/google.protobuf.BytesValue":
			b, err := base64.StdEncoding.DecodeString(str(v["value"]))
			if err != nil {
				return "", short, fmt.Errorf("BytesValue: %v", err)
			}
			return string(b), short, nil
		}
		var body any = v["value"] // well-known types (Struct, Value) keep their JSON under "value"
		if _, wkt := v["value"]; !wkt || !strings.Contains(typ, "google.protobuf.") {
			rest := map[string]any{}
			for k, e := range v {
				if k != "@type" {
					rest[k] = e
				}
			}
			body = rest
		}
		b, err := json.Marshal(body)
		if err != nil {
			return "", short, err
		}
		return string(b), short, nil
	}
	return "", "", fmt.Errorf("not an Any object")
}

// result merges duplicates and attaches ECDS references.
func (w *walker) result() []Plugin {
	var out []Plugin
	index := map[string]int{}
	for _, p := range w.found {
		if p.ECDS != nil {
			for _, u := range w.refs[p.ECDS.Resource] {
				p.Used = appendUnique(p.Used, u)
			}
		}
		k := p.key()
		if i, ok := index[k]; ok {
			for _, u := range p.Used {
				out[i].Used = appendUnique(out[i].Used, u)
			}
			continue
		}
		index[k] = len(out)
		out = append(out, p)
	}
	return out
}

func (p Plugin) key() string {
	ecds := ""
	if p.ECDS != nil {
		ecds = p.ECDS.Resource + "@" + p.ECDS.VersionInfo
	}
	return strings.Join([]string{p.Kind, p.Name, p.RootID, p.VMID, p.Runtime, p.Code.String(),
		string(p.Code.Inline), p.Configuration, p.FailurePolicy, p.FilterName, ecds}, "\x00")
}

// LocalModule is the path of the plugin's module on the proxy's file system,
// when the code is a local file.
func (p Plugin) LocalModule() (string, bool) {
	return p.Code.Filename, p.Code.Kind == "local_file" && p.Code.Filename != ""
}

// RuntimeName is the short runtime name: v8, wasmtime, wamr, null, or "v8
// (default)" when none is configured (Envoy then picks the first available,
// v8 in official builds).
func (p Plugin) RuntimeName() string {
	if p.Runtime == "" {
		return "v8 (default)"
	}
	return strings.TrimPrefix(p.Runtime, "envoy.wasm.runtime.")
}

// RuntimeFull is the configured runtime, or envoy.wasm.runtime.v8 when none
// is: Envoy then takes the first it has, and official builds have only v8.
func (p Plugin) RuntimeFull() string {
	if p.Runtime == "" {
		return "envoy.wasm.runtime.v8"
	}
	return p.Runtime
}

// LogPrefix is what Envoy puts after "wasm log" for this plugin's stream
// contexts (proxy-wasm-cpp-host makeLogPrefix): " <name> <root_id> <vm_id>",
// each only when set.
func (p Plugin) LogPrefix() string {
	var parts []string
	for _, s := range []string{p.Name, p.RootID, p.VMID} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}
