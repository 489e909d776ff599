;; Shaped like a Go wasip1 (-buildmode=c-shared) plugin: the WASI functions
;; Go's runtime imports, two of them provided only by newer Envoy
;; (sched_yield since cpp-host #427, fd_fdstat_set_rights since #533).
;; build.sh appends the go:buildid and producers sections Go writes, with
;; producers before name as Go's linker orders them.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_rights" (func $set_rights (param i32 i64 i64) (result i32)))
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $runtime.gopanic (param i32) (result i32) unreachable)
  (func $main.proxyOnRequestHeaders (param i32) (result i32) i32.const 0)
  (func $_initialize (export "_initialize"))
  (func $proxy_abi (export "proxy_abi_version_0_2_1"))
  (func $proxy_on_memory_allocate (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0)
  (func $proxy_on_request_headers (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
)
