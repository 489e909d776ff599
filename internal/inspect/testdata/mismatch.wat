;; Imports env.proxy_log with the wrong type (two parameters), and exports
;; proxy_on_request_headers with ABI 0.1.0's signature while declaring 0.2.1.
(module
  (import "env" "proxy_log" (func (param i32 i32) (result i32)))
  (import "env" "proxy_get_log_level" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0)
  (func (export "proxy_on_request_headers") (param i32 i32) (result i32) i32.const 0)
  (func (export "proxy_on_done") (param i32))
)
