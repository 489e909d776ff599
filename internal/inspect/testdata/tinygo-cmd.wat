;; Shaped like a TinyGo -target=wasi plugin built without -buildmode: a WASI
;; command whose _start runs main and then (TinyGo 0.35 and later) calls
;; proc_exit(0). build.sh writes it twice, with producers "processed-by
;; TinyGo 0.35.0" (tinygo-cmd.wasm, which Envoy refuses to start) and
;; "TinyGo 0.34.0" (tinygo-cmd-034.wasm, whose _start returns).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $runtime.run)
  (func $_start (export "_start") (call $runtime.run) (call $proc_exit (i32.const 0)))
  (func $malloc (export "malloc") (param i32) (result i32) i32.const 0)
  (func $proxy_abi (export "proxy_abi_version_0_2_0"))
  (func $proxy_on_request_headers (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
)
