package abi

// Callback is an export the host calls (host->vm), with the ABI versions
// that use this signature; nil means every version.
type Callback struct {
	Func
	ABIs []Version
	// NonSpec marks callbacks cpp-host or Envoy look up although the spec
	// does not define them.
	NonSpec bool
}

// callbacks follow include/proxy-wasm/wasm.h (the WasmCall* members) and
// src/wasm.cc getFunctions; signatures per SPEC §"Callbacks".
var callbacks = []Callback{
	{Func: Func{Name: "_initialize"}},
	{Func: Func{Name: "_start"}},
	{Func: Func{Name: "main", Params: p("argc", "argv"), Result: ResultNumber}},
	{Func: Func{Name: "__main_void", Result: ResultNumber}},
	{Func: Func{Name: "malloc", Params: p("size"), Result: ResultPointer}},
	{Func: Func{Name: "proxy_on_memory_allocate", Params: p("size"), Result: ResultPointer}},
	{Func: Func{Name: "proxy_on_context_create", Params: p("context_id:ctx", "parent_context_id:ctx")}},
	{Func: Func{Name: "proxy_on_vm_start", Params: p("root_context_id:ctx", "vm_configuration_size"), Result: ResultBool}},
	{Func: Func{Name: "proxy_on_configure", Params: p("root_context_id:ctx", "plugin_configuration_size"), Result: ResultBool}},
	{Func: Func{Name: "proxy_validate_configuration", Params: p("root_context_id:ctx", "plugin_configuration_size"), Result: ResultBool}, NonSpec: true},
	{Func: Func{Name: "proxy_on_tick", Params: p("root_context_id:ctx")}},
	{Func: Func{Name: "proxy_on_done", Params: p("context_id:ctx"), Result: ResultBool}},
	{Func: Func{Name: "proxy_on_log", Params: p("context_id:ctx")}},
	{Func: Func{Name: "proxy_on_delete", Params: p("context_id:ctx")}},
	{Func: Func{Name: "proxy_on_new_connection", Params: p("context_id:ctx"), Result: ResultNetworkAction}},
	{Func: Func{Name: "proxy_on_downstream_data", Params: p("context_id:ctx", "data_size", "end_of_stream:bool"), Result: ResultNetworkAction}},
	{Func: Func{Name: "proxy_on_upstream_data", Params: p("context_id:ctx", "data_size", "end_of_stream:bool"), Result: ResultNetworkAction}},
	{Func: Func{Name: "proxy_on_downstream_connection_close", Params: p("context_id:ctx", "peer_type:peer")}},
	{Func: Func{Name: "proxy_on_upstream_connection_close", Params: p("context_id:ctx", "peer_type:peer")}},
	{Func: Func{Name: "proxy_on_request_headers", Params: p("context_id:ctx", "num_headers"), Result: ResultHeadersAction}, ABIs: only010},
	{Func: Func{Name: "proxy_on_request_headers", Params: p("context_id:ctx", "num_headers", "end_of_stream:bool"), Result: ResultHeadersAction}, ABIs: since02},
	{Func: Func{Name: "proxy_on_request_body", Params: p("context_id:ctx", "body_size", "end_of_stream:bool"), Result: ResultDataAction}},
	{Func: Func{Name: "proxy_on_request_trailers", Params: p("context_id:ctx", "num_trailers"), Result: ResultTrailersAction}},
	{Func: Func{Name: "proxy_on_request_metadata", Params: p("context_id:ctx", "num_elements"), Result: ResultNumber}, NonSpec: true},
	{Func: Func{Name: "proxy_on_response_headers", Params: p("context_id:ctx", "num_headers"), Result: ResultHeadersAction}, ABIs: only010},
	{Func: Func{Name: "proxy_on_response_headers", Params: p("context_id:ctx", "num_headers", "end_of_stream:bool"), Result: ResultHeadersAction}, ABIs: since02},
	{Func: Func{Name: "proxy_on_response_body", Params: p("context_id:ctx", "body_size", "end_of_stream:bool"), Result: ResultDataAction}},
	{Func: Func{Name: "proxy_on_response_trailers", Params: p("context_id:ctx", "num_trailers"), Result: ResultTrailersAction}},
	{Func: Func{Name: "proxy_on_response_metadata", Params: p("context_id:ctx", "num_elements"), Result: ResultNumber}, NonSpec: true},
	{Func: Func{Name: "proxy_on_http_call_response", Params: p("context_id:ctx", "call_id", "num_headers", "body_size", "num_trailers")}},
	{Func: Func{Name: "proxy_on_grpc_receive_initial_metadata", Params: p("context_id:ctx", "call_id", "num_elements")}},
	{Func: Func{Name: "proxy_on_grpc_receive_trailing_metadata", Params: p("context_id:ctx", "call_id", "num_elements")}},
	{Func: Func{Name: "proxy_on_grpc_create_initial_metadata", Params: p("context_id:ctx", "call_id", "num_elements")}, NonSpec: true},
	{Func: Func{Name: "proxy_on_grpc_receive", Params: p("context_id:ctx", "call_id", "message_size")}},
	{Func: Func{Name: "proxy_on_grpc_close", Params: p("context_id:ctx", "call_id", "status_code:grpc")}},
	{Func: Func{Name: "proxy_on_queue_ready", Params: p("context_id:ctx", "queue_id")}},
	{Func: Func{Name: "proxy_on_foreign_function", Params: p("context_id:ctx", "function_id", "arguments_size")}, ABIs: since02},
	{Func: Func{Name: "envoy_on_resolve_dns", Params: p("context_id:ctx", "token", "data_size")}, NonSpec: true},
	{Func: Func{Name: "envoy_on_stats_update", Params: p("context_id:ctx", "data_size")}, NonSpec: true},
}

// LookupCallback finds the signature the host expects for the export name
// under ABI v (VersionUnknown matches the newest signature). It returns nil
// for an export the host never calls.
func LookupCallback(name string, v Version) *Callback {
	var found *Callback
	for i := range callbacks {
		c := &callbacks[i]
		if c.Name != name {
			continue
		}
		if c.ABIs == nil || v == VersionUnknown || contains(c.ABIs, v) {
			found = c
		}
	}
	return found
}

// Callbacks returns every callback signature the tables hold, a name once
// per ABI-specific signature.
func Callbacks() []Callback { return append([]Callback(nil), callbacks...) }

// IsCallback reports whether name is an export some host calls.
func IsCallback(name string) bool { return LookupCallback(name, VersionUnknown) != nil }

func contains(vs []Version, v Version) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}
