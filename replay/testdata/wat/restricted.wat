;; restricted: calls proxy_http_call from _initialize, which cpp-host
;; forbids while the VM starts (restricted_callback).
;; Build: wat2wasm --debug-names restricted.wat -o restricted.wasm
(module
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $abi_marker (export "proxy_abi_version_0_2_1"))
  (func $malloc (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func $init (export "_initialize")
    (drop (call $http_call (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 512))))
)
