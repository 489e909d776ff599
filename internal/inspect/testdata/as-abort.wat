;; An AssemblyScript-shaped plugin built without --use abort=...: it imports
;; env.abort, which no Proxy-Wasm host provides. ABI 0.2.0, malloc, a start
;; section, the AS runtime exports, and proxy-runtime 0.1.8's misnamed
;; proxy_on_grpc_trailing_metadata, which no host calls.
(module
  (import "env" "proxy_log" (func (param i32 i32 i32) (result i32)))
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (import "wasi_unstable" "proc_exit" (func (param i32)))
  (memory (export "memory") 1)
  (func $start)
  (start $start)
  (func (export "proxy_abi_version_0_2_0"))
  (func $alloc (export "__alloc") (param i32 i32) (result i32) i32.const 0)
  (func (export "__retain") (param i32) (result i32) local.get 0)
  (func (export "__release") (param i32))
  (func (export "malloc") (param i32) (result i32) i32.const 0)
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "proxy_validate_configuration") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_grpc_trailing_metadata") (param i32 i32 i32))
)
