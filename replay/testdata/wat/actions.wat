;; actions: every filter callback returns the value the plugin
;; configuration gives it, so tests can check what the host makes of each
;; return value (cpp-host convertVmCallResultTo*, Envoy convert*Status).
;; Configuration bytes, each read as a signed byte (0xff returns -1):
;;   0 proxy_on_request_headers   1 proxy_on_request_body
;;   2 proxy_on_request_trailers  3 proxy_on_response_headers
;;   4 proxy_on_response_body     5 proxy_on_response_trailers
;;   6 proxy_on_new_connection    7 proxy_on_downstream_data
;;   8 proxy_on_upstream_data
;;   9 flags: 1 send a local reply (403 "denied", details "wasm_denied")
;;     in proxy_on_request_headers, 2 in proxy_on_response_body, 4 in
;;     proxy_on_response_headers
;; The root context's proxy_on_context_create logs "configuration
;; readable" when proxy_get_buffer_bytes(PluginConfiguration) answers Ok.
;; Build: wat2wasm --debug-names actions.wat -o actions.wasm
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buf (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local_reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (global $cfg (mut i32) (i32.const 0))
  (data (i32.const 1024) "wasm_denied")
  (data (i32.const 1040) "denied")
  (data (i32.const 1056) "configuration readable")
  (data (i32.const 2048) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (func $abi_marker (export "proxy_abi_version_0_2_1"))
  (func $malloc (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (block $ok
      (loop $grow
        (br_if $ok (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (return (i32.const 0))))
        (br $grow)))
    (local.get $p))
  ;; ret is configuration byte i, sign-extended.
  (func $ret (param $i i32) (result i32)
    (i32.load8_s (i32.add (global.get $cfg) (local.get $i))))
  (func $flag (param $f i32) (result i32)
    (i32.and (i32.load8_u (i32.add (global.get $cfg) (i32.const 9))) (local.get $f)))
  (func $deny
    (drop (call $local_reply (i32.const 403) (i32.const 1024) (i32.const 11) (i32.const 1040) (i32.const 6)
      (i32.const 0) (i32.const 0) (i32.const -1))))
  (func $on_context_create (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (if (i32.eqz (local.get $parent))
      (then (if (i32.eqz (call $get_buf (i32.const 7) (i32.const 0) (i32.const 10) (i32.const 600) (i32.const 604)))
        (then (drop (call $log (i32.const 2) (i32.const 1056) (i32.const 22))))))))
  (func $on_vm_start (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func $on_configure (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (global.set $cfg (i32.const 2048))
    (if (i32.eqz (call $get_buf (i32.const 7) (i32.const 0) (local.get $size) (i32.const 512) (i32.const 516)))
      (then (if (i32.ge_u (i32.load (i32.const 516)) (i32.const 10))
        (then (global.set $cfg (i32.load (i32.const 512)))))))
    (i32.const 1))
  (func $on_request_headers (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (if (call $flag (i32.const 1)) (then (call $deny)))
    (call $ret (i32.const 0)))
  (func $on_request_body (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
    (call $ret (i32.const 1)))
  (func $on_request_trailers (export "proxy_on_request_trailers") (param i32 i32) (result i32)
    (call $ret (i32.const 2)))
  (func $on_response_headers (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (if (call $flag (i32.const 4)) (then (call $deny)))
    (call $ret (i32.const 3)))
  (func $on_response_body (export "proxy_on_response_body") (param i32 i32 i32) (result i32)
    (if (call $flag (i32.const 2)) (then (call $deny)))
    (call $ret (i32.const 4)))
  (func $on_response_trailers (export "proxy_on_response_trailers") (param i32 i32) (result i32)
    (call $ret (i32.const 5)))
  (func $on_new_connection (export "proxy_on_new_connection") (param i32) (result i32)
    (call $ret (i32.const 6)))
  (func $on_downstream_data (export "proxy_on_downstream_data") (param i32 i32 i32) (result i32)
    (call $ret (i32.const 7)))
  (func $on_upstream_data (export "proxy_on_upstream_data") (param i32 i32 i32) (result i32)
    (call $ret (i32.const 8)))
  (func $on_downstream_close (export "proxy_on_downstream_connection_close") (param i32 i32))
  (func $on_upstream_close (export "proxy_on_upstream_connection_close") (param i32 i32))
  (func $on_log (export "proxy_on_log") (param i32))
  (func $on_done (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func $on_delete (export "proxy_on_delete") (param i32))
)
