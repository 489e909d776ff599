;; Shaped like a proxy-wasm-cpp-sdk plugin built with Emscripten and
;; stripped (the istio and envoy example builds): no name section and no
;; producers, but Emscripten's stack exports, its memory-growth import, the
;; C++ runtime's __cxa_* exports and the callbacks only the C++ SDK's
;; intrinsics define. build.sh appends the emscripten_metadata section
;; older Emscripten releases write.
(module
  (import "env" "proxy_log" (func (param i32 i32 i32) (result i32)))
  (import "env" "emscripten_notify_memory_growth" (func (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize"))
  (func (export "malloc") (param i32) (result i32) i32.const 0)
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_validate_configuration") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_configure") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "proxy_on_request_metadata") (param i32 i32) (result i32) i32.const 0)
  (func (export "proxy_on_done") (param i32) (result i32) i32.const 1)
  (func (export "proxy_on_delete") (param i32))
  (func (export "stackSave") (result i32) i32.const 0)
  (func (export "stackRestore") (param i32))
  (func (export "__cxa_is_pointer_type") (param i32) (result i32) i32.const 0)
)
