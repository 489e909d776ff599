package abi

// HostFunc is an env or WASI function a host provides, with the ABI
// versions that register it.
type HostFunc struct {
	Func
	// ABIs lists the ABI versions cpp-host registers the function for; nil
	// means every version (FOR_ALL_HOST_FUNCTIONS and WASI).
	ABIs []Version
	// Since says when cpp-host (and so Envoy) gained a WASI function, for
	// hints on a missing import; empty for functions every host has.
	Since string
}

// Provided reports whether a host speaking ABI v registers f.
func (f *HostFunc) Provided(v Version) bool {
	if f.ABIs == nil {
		return true
	}
	for _, a := range f.ABIs {
		if a == v {
			return true
		}
	}
	return false
}

// WASI module names; cpp-host registers every WASI function under both.
const (
	WASIPreview1 = "wasi_snapshot_preview1"
	WASIUnstable = "wasi_unstable"
)

var (
	only010 = []Version{Version010}
	since02 = []Version{Version020, Version021}
	only021 = []Version{Version021}
)

// envFuncs are the env.proxy_* functions of include/proxy-wasm/exports.h
// (FOR_ALL_HOST_FUNCTIONS and FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC, registered
// per ABI in src/wasm.cc registerCallbacks), plus the two non-proxy env
// functions cpp-host always registers.
var envFuncs = []HostFunc{
	{Func: Func{Name: "proxy_log", Params: p("level:level", "message:str", "message_size:size"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_log_level", Params: p("return_level:out"), Result: ResultStatus}, ABIs: only021},
	{Func: Func{Name: "proxy_get_status", Params: p("return_code:out", "return_message_data:out", "return_message_size:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_configuration", Params: p("return_data:out", "return_size:out"), Result: ResultStatus}, ABIs: only010},
	{Func: Func{Name: "proxy_set_property", Params: p("path:str", "path_size:size", "value:bytes", "value_size:size"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_property", Params: p("path:str", "path_size:size", "return_value_data:out", "return_value_size:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_send_local_response", Params: p("status_code", "details:str", "details_size:size", "body:bytes", "body_size:size", "headers:pairs", "headers_size:size", "grpc_status:grpc"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_continue_request", Result: ResultStatus}, ABIs: only010},
	{Func: Func{Name: "proxy_continue_response", Result: ResultStatus}, ABIs: only010},
	{Func: Func{Name: "proxy_clear_route_cache", Result: ResultStatus}, ABIs: only010},
	{Func: Func{Name: "proxy_continue_stream", Params: p("stream_type:stream"), Result: ResultStatus}, ABIs: since02},
	{Func: Func{Name: "proxy_close_stream", Params: p("stream_type:stream"), Result: ResultStatus}, ABIs: since02},
	{Func: Func{Name: "proxy_get_shared_data", Params: p("key:str", "key_size:size", "return_value_data:out", "return_value_size:out", "return_cas:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_set_shared_data", Params: p("key:str", "key_size:size", "value:bytes", "value_size:size", "cas"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_register_shared_queue", Params: p("name:str", "name_size:size", "return_queue_id:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_resolve_shared_queue", Params: p("vm_id:str", "vm_id_size:size", "name:str", "name_size:size", "return_queue_id:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_dequeue_shared_queue", Params: p("queue_id", "return_value_data:out", "return_value_size:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_enqueue_shared_queue", Params: p("queue_id", "value:bytes", "value_size:size"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_header_map_value", Params: p("map_type:map", "key:str", "key_size:size", "return_value_data:out", "return_value_size:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_add_header_map_value", Params: p("map_type:map", "key:str", "key_size:size", "value:str", "value_size:size"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_replace_header_map_value", Params: p("map_type:map", "key:str", "key_size:size", "value:str", "value_size:size"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_remove_header_map_value", Params: p("map_type:map", "key:str", "key_size:size"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_header_map_pairs", Params: p("map_type:map", "return_map_data:out", "return_map_size:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_set_header_map_pairs", Params: p("map_type:map", "map:pairs", "map_size:size"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_header_map_size", Params: p("map_type:map", "return_size:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_buffer_status", Params: p("buffer_type:buf", "return_size:out", "return_flags:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_buffer_bytes", Params: p("buffer_type:buf", "start", "max_size", "return_data:out", "return_size:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_set_buffer_bytes", Params: p("buffer_type:buf", "start", "size", "value:bytes", "value_size:size"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_http_call", Params: p("upstream:str", "upstream_size:size", "headers:pairs", "headers_size:size", "body:bytes", "body_size:size", "trailers:pairs", "trailers_size:size", "timeout_ms", "return_call_id:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_grpc_call", Params: p("upstream:str", "upstream_size:size", "service:str", "service_size:size", "method:str", "method_size:size", "initial_metadata:pairs", "initial_metadata_size:size", "message:bytes", "message_size:size", "timeout_ms", "return_call_id:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_grpc_stream", Params: p("upstream:str", "upstream_size:size", "service:str", "service_size:size", "method:str", "method_size:size", "initial_metadata:pairs", "initial_metadata_size:size", "return_stream_id:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_grpc_send", Params: p("stream_id", "message:bytes", "message_size:size", "end_stream:bool"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_grpc_cancel", Params: p("call_id"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_grpc_close", Params: p("call_id"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_set_tick_period_milliseconds", Params: p("period_ms"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_current_time_nanoseconds", Params: p("return_time:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_define_metric", Params: p("metric_type:metric", "name:str", "name_size:size", "return_metric_id:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_increment_metric", Params: p("metric_id", "@offset:signed"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_record_metric", Params: p("metric_id", "@value"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_get_metric", Params: p("metric_id", "return_value:out"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_set_effective_context", Params: p("context_id:ctx"), Result: ResultStatus}},
	{Func: Func{Name: "proxy_done", Result: ResultStatus}},
	{Func: Func{Name: "proxy_call_foreign_function", Params: p("name:str", "name_size:size", "arguments:bytes", "arguments_size:size", "return_results_data:out", "return_results_size:out"), Result: ResultStatus}},
	{Func: Func{Name: "pthread_equal", Params: p("left", "right"), Result: ResultNumber}},
	{Func: Func{Name: "emscripten_notify_memory_growth", Params: p("memory_index")}},
}

// WASI generations in cpp-host, for hints on a missing import.
const (
	wasiGoSDK2024 = "proxy-wasm-cpp-host #427 (2024-12, Envoy 1.33+)"
	wasiGoSDK2026 = "proxy-wasm-cpp-host #533 (2026-04, Envoy releases after it)"
)

// wasiFuncs are FOR_ALL_WASI_FUNCTIONS of include/proxy-wasm/exports.h, with
// the signatures of the wasi_unstable_* declarations there.
var wasiFuncs = []HostFunc{
	{Func: Func{Name: "fd_write", Params: p("fd:fd", "iovs", "iovs_len", "return_nwritten:out"), Result: ResultErrno}},
	{Func: Func{Name: "fd_read", Params: p("fd:fd", "iovs", "iovs_len", "return_nread:out"), Result: ResultErrno}},
	{Func: Func{Name: "fd_seek", Params: p("fd:fd", "@offset:signed", "whence", "return_offset:out"), Result: ResultErrno}},
	{Func: Func{Name: "fd_close", Params: p("fd:fd"), Result: ResultErrno}},
	{Func: Func{Name: "fd_fdstat_get", Params: p("fd:fd", "return_stat:out"), Result: ResultErrno}},
	{Func: Func{Name: "fd_fdstat_set_flags", Params: p("fd:fd", "flags"), Result: ResultErrno}, Since: wasiGoSDK2024},
	{Func: Func{Name: "fd_fdstat_set_rights", Params: p("fd:fd", "@rights_base", "@rights_inheriting"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "environ_get", Params: p("environ:out", "environ_buf:out"), Result: ResultErrno}},
	{Func: Func{Name: "environ_sizes_get", Params: p("return_count:out", "return_buf_size:out"), Result: ResultErrno}},
	{Func: Func{Name: "args_get", Params: p("argv:out", "argv_buf:out"), Result: ResultErrno}},
	{Func: Func{Name: "args_sizes_get", Params: p("return_argc:out", "return_argv_buf_size:out"), Result: ResultErrno}},
	{Func: Func{Name: "clock_time_get", Params: p("clock_id:clock", "@precision", "return_time:out"), Result: ResultErrno}},
	{Func: Func{Name: "clock_res_get", Params: p("clock_id:clock", "return_resolution:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_advise", Params: p("fd:fd", "@offset", "@len", "advice"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_allocate", Params: p("fd:fd", "@offset", "@len"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_datasync", Params: p("fd:fd"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_filestat_set_size", Params: p("fd:fd", "@size"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_filestat_set_times", Params: p("fd:fd", "@atim", "@mtim", "fst_flags"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_pread", Params: p("fd:fd", "iovs", "iovs_len", "@offset", "return_nread:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_pwrite", Params: p("fd:fd", "iovs", "iovs_len", "@offset", "return_nwritten:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_readdir", Params: p("fd:fd", "buf", "buf_len", "@cookie", "return_bufused:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_renumber", Params: p("fd:fd", "to:fd"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_sync", Params: p("fd:fd"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_tell", Params: p("fd:fd", "return_offset:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "path_create_directory", Params: p("fd:fd", "path:str", "path_len:size"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "path_filestat_set_times", Params: p("fd:fd", "flags", "path:str", "path_len:size", "@atim", "@mtim", "fst_flags"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "path_link", Params: p("old_fd:fd", "old_flags", "old_path:str", "old_path_len:size", "new_fd:fd", "new_path:str", "new_path_len:size"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "path_readlink", Params: p("fd:fd", "path:str", "path_len:size", "buf", "buf_len", "return_bufused:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "path_remove_directory", Params: p("fd:fd", "path:str", "path_len:size"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "path_rename", Params: p("fd:fd", "old_path:str", "old_path_len:size", "new_fd:fd", "new_path:str", "new_path_len:size"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "path_symlink", Params: p("old_path:str", "old_path_len:size", "fd:fd", "new_path:str", "new_path_len:size"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "path_unlink_file", Params: p("fd:fd", "path:str", "path_len:size"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "sock_accept", Params: p("fd:fd", "flags", "return_fd:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "sock_recv", Params: p("fd:fd", "ri_data", "ri_data_len", "ri_flags", "return_datalen:out", "return_flags:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "sock_send", Params: p("fd:fd", "si_data", "si_data_len", "si_flags", "return_datalen:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "sock_shutdown", Params: p("fd:fd", "how"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "random_get", Params: p("buf:out", "buf_len"), Result: ResultErrno}},
	{Func: Func{Name: "sched_yield", Result: ResultErrno}, Since: wasiGoSDK2024},
	{Func: Func{Name: "poll_oneoff", Params: p("in", "out:out", "nsubscriptions", "return_nevents:out"), Result: ResultErrno}, Since: wasiGoSDK2024},
	{Func: Func{Name: "proc_exit", Params: p("exit_code")}},
	{Func: Func{Name: "path_open", Params: p("fd:fd", "dirflags", "path:str", "path_len:size", "oflags", "@rights_base", "@rights_inheriting", "fdflags", "return_fd:out"), Result: ResultErrno}},
	{Func: Func{Name: "fd_prestat_get", Params: p("fd:fd", "return_prestat:out"), Result: ResultErrno}},
	{Func: Func{Name: "fd_prestat_dir_name", Params: p("fd:fd", "path:out", "path_len"), Result: ResultErrno}},
	{Func: Func{Name: "path_filestat_get", Params: p("fd:fd", "flags", "path:str", "path_len:size", "return_stat:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
	{Func: Func{Name: "fd_filestat_get", Params: p("fd:fd", "return_stat:out"), Result: ResultErrno}, Since: wasiGoSDK2026},
}

var hostIndex = func() map[string]*HostFunc {
	m := make(map[string]*HostFunc)
	for i := range envFuncs {
		f := &envFuncs[i]
		f.Module = "env"
		m["env."+f.Name] = f
	}
	for _, mod := range []string{WASIPreview1, WASIUnstable} {
		for i := range wasiFuncs {
			f := wasiFuncs[i] // one copy per module name
			f.Module = mod
			m[mod+"."+f.Name] = &f
		}
	}
	return m
}()

// LookupHost finds a host function by import module and name. It returns
// nil for a function no cpp-host version provides.
func LookupHost(module, name string) *HostFunc { return hostIndex[module+"."+name] }

// HostFuncs returns every host function a host speaking ABI v provides:
// env functions for v, then WASI under both module names.
func HostFuncs(v Version) []*HostFunc {
	var fs []*HostFunc
	for i := range envFuncs {
		if envFuncs[i].Provided(v) {
			fs = append(fs, hostIndex["env."+envFuncs[i].Name])
		}
	}
	for _, mod := range []string{WASIPreview1, WASIUnstable} {
		for i := range wasiFuncs {
			fs = append(fs, hostIndex[mod+"."+wasiFuncs[i].Name])
		}
	}
	return fs
}

// startAllowed is cpp-host's allow-list for calls made while _initialize,
// _start or main run on the VM context (src/wasm.cc WasmBase::startVm; V8
// traps any other host call with "restricted_callback"). WASI names are
// allowed under both module names.
var startAllowed = map[string]bool{
	"env.emscripten_notify_memory_growth": true, "env.proxy_log": true,
	"fd_write": true, "args_sizes_get": true, "args_get": true, "environ_sizes_get": true,
	"environ_get": true, "clock_time_get": true, "clock_res_get": true, "random_get": true,
	"poll_oneoff": true, "fd_fdstat_get": true, "fd_fdstat_set_flags": true,
	// Allowed because Go runs package initializers in _initialize.
	"fd_advise": true, "fd_allocate": true, "fd_datasync": true, "fd_fdstat_set_rights": true,
	"fd_filestat_get": true, "fd_filestat_set_size": true, "fd_filestat_set_times": true,
	"fd_pread": true, "fd_prestat_dir_name": true, "fd_prestat_get": true, "fd_pwrite": true,
	"fd_readdir": true, "fd_renumber": true, "fd_sync": true, "fd_tell": true,
	"path_create_directory": true, "path_filestat_get": true, "path_filestat_set_times": true,
	"path_link": true, "path_readlink": true, "path_remove_directory": true, "path_rename": true,
	"path_symlink": true, "path_unlink_file": true, "sock_accept": true, "sock_recv": true,
	"sock_send": true, "sock_shutdown": true,
}

// mallocAllowed is the allow-list while the host calls the module's
// allocator (include/proxy-wasm/wasm.h WasmBase::allocMemory).
var mallocAllowed = map[string]bool{
	"env.proxy_log": true, "fd_write": true, "clock_time_get": true, "poll_oneoff": true,
}

// AllowedDuringStart reports whether module.name may be called while the VM
// starts (_initialize, main, _start), before any root context exists.
func AllowedDuringStart(module, name string) bool { return allowed(startAllowed, module, name) }

// AllowedDuringMalloc reports whether module.name may be called from inside
// the module's allocator when the host calls it.
func AllowedDuringMalloc(module, name string) bool { return allowed(mallocAllowed, module, name) }

func allowed(list map[string]bool, module, name string) bool {
	if module == WASIPreview1 || module == WASIUnstable {
		return list[name]
	}
	return list[module+"."+name]
}
