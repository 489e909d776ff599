;; abi010: an ABI 0.1.0 plugin. proxy_on_request_headers takes two
;; arguments; a missing header reads as Ok and empty (0.1.0), which it
;; checks (trapping otherwise); it reads its configuration with
;; proxy_get_configuration during proxy_on_configure and logs it.
;; Build: wat2wasm --debug-names abi010.wat -o abi010.wasm
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_configuration" (func $get_config (param i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_hdr (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_request" (func $continue (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (data (i32.const 1024) "x-missing")
  (func $abi_marker (export "proxy_abi_version_0_1_0"))
  (func $malloc (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.get $p))
  (func $on_configure (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $get_config (i32.const 512) (i32.const 516)))
    (drop (call $log (i32.const 2) (i32.load (i32.const 512)) (i32.load (i32.const 516))))
    (i32.const 1))
  (func $on_request_headers (export "proxy_on_request_headers") (param i32 i32) (result i32)
    (if (call $get_hdr (i32.const 0) (i32.const 1024) (i32.const 9) (i32.const 512) (i32.const 516))
      (then (unreachable)))
    (if (i32.load (i32.const 516)) (then (unreachable)))
    (drop (call $continue))
    (i32.const 0))
)
