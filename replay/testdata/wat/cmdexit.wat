;; cmdexit: the shape of a TinyGo 0.35+ (or Go wasip1) command build: _start
;; runs main and then calls proc_exit(0) when it returns, which cpp-host
;; forbids while the VM starts (restricted_callback).
;; Build: wat2wasm --debug-names cmdexit.wat -o cmdexit.wasm
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func $abi_marker (export "proxy_abi_version_0_2_0"))
  (func $malloc (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func $proxy_on_context_create (export "proxy_on_context_create") (param i32 i32))
  (func $main.main
    (drop (call $clock_time_get (i32.const 0) (i64.const 1000) (i32.const 64))))
  (func $runtime.run
    (call $main.main)
    (call $proc_exit (i32.const 0)))
  (func $_start (export "_start")
    (call $runtime.run))
)
