;; ABI 0.1.0: two-parameter header callbacks are right here, but the module
;; also imports proxy_continue_stream, which only 0.2.x hosts register, and
;; exports proxy_on_foreign_function, which 0.1.0 hosts never call.
(module
  (import "env" "proxy_log" (func (param i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_request" (func (result i32)))
  (import "env" "proxy_continue_stream" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_1_0"))
  (func (export "malloc") (param i32) (result i32) i32.const 0)
  (func (export "proxy_on_request_headers") (param i32 i32) (result i32) i32.const 0)
  (func (export "proxy_on_foreign_function") (param i32 i32 i32))
  (func (export "_start"))
)
