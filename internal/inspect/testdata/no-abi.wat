;; Callbacks and an allocator, but no proxy_abi_version_* marker; a command
;; (_start) that also exports main, which the host only calls after
;; _initialize.
(module
  (import "env" "proxy_log" (func (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start"))
  (func (export "main") (param i32 i32) (result i32) i32.const 0)
  (func (export "malloc") (param i32) (result i32) i32.const 0)
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
)
