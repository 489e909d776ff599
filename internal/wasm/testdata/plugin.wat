;; A small Proxy-Wasm plugin shape for the section reader's tests: ABI 0.2.1,
;; env and WASI imports, a reactor (_initialize), malloc, two callbacks, a
;; data segment and a name section with local names (wat2wasm --debug-names).
(module $plugin
  (import "env" "proxy_log" (func $proxy_log (param $level i32) (param $ptr i32) (param $size i32) (result i32)))
  (import "env" "proxy_get_header_map_value"
    (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "x-crash")
  (func $abi (export "proxy_abi_version_0_2_1"))
  (func $init (export "_initialize"))
  (func $malloc (export "malloc") (param $size i32) (result i32)
    (local $p i32)
    global.get $heap
    local.set $p
    global.get $heap
    local.get $size
    i32.add
    global.set $heap
    local.get $p)
  (func $on_context_create (export "proxy_on_context_create") (param $ctx i32) (param $parent i32))
  (func $on_request_headers (export "proxy_on_request_headers")
    (param $ctx i32) (param $headers i32) (param $eos i32) (result i32)
    (call $crash (local.get $headers))
    i32.const 0)
  (func $crash (param $n i32)
    local.get $n
    i32.eqz
    if
      unreachable
    end)
)
