;; tinygo: the shape of a TinyGo Proxy-Wasm plugin built with -no-debug
;; (tetratelabs/proxy-wasm-go-sdk before 2024): a _start export, WASI
;; fd_write, malloc, and no name section. TinyGo's runtime prints a panic
;; on stdout, one fd_write per character in the releases of 2020 (a line
;; buffer later), lines ending in "\r\n", then executes unreachable. This plugin panics that way in
;; proxy_on_request_headers when the request has an x-crash header.
;; Build: wat2wasm tinygo.wat -o tinygo.wasm   (no --debug-names: no name section)
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_hdr (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (data (i32.const 1024) "panic: runtime error: index out of range\r\n")
  (data (i32.const 1100) "x-crash")
  (func (export "proxy_abi_version_0_2_0"))
  (func (export "_start"))
  (func (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  ;; putchar: one fd_write of one byte to stdout, as TinyGo 0.12 does.
  (func $putchar (param $c i32)
    (i32.store8 (i32.const 512) (local.get $c))
    (i32.store (i32.const 520) (i32.const 512))
    (i32.store (i32.const 524) (i32.const 1))
    (drop (call $fd_write (i32.const 1) (i32.const 520) (i32.const 1) (i32.const 528))))
  (func $panic
    (local $i i32)
    (loop $next
      (call $putchar (i32.load8_u (i32.add (i32.const 1024) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 42))))
    (unreachable))
  (func (export "proxy_on_request_headers") (param $ctx i32) (param i32 i32) (result i32)
    (if (i32.eqz (call $get_hdr (i32.const 0) (i32.const 1100) (i32.const 7) (i32.const 600) (i32.const 604)))
      (then (call $panic)))
    (i32.const 0))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_delete") (param i32))
)
