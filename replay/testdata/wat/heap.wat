;; heap: an ABI 0.2.1 plugin whose allocator keeps dlmalloc's books: it
;; exports mallinfo (uordblks, the bytes in use, at offset 28 of the struct)
;; and __heap_base, as a C plugin built with an allocator that has mallinfo
;; would. Each request allocates 300 bytes and frees them every tenth
;; request (a collector's sawtooth); with a configuration it keeps 100 of
;; every request's bytes (a leak of 100 bytes per request).
;; Build: wat2wasm --debug-names heap.wat -o heap.wasm
(module
  (memory (export "memory") 2)
  (global $heap_base (export "__heap_base") i32 (i32.const 65536))
  (global $top (mut i32) (i32.const 65536))
  (global $inuse (mut i32) (i32.const 0))
  (global $leaky (mut i32) (i32.const 0))
  (global $garbage (mut i32) (i32.const 0))
  (global $requests (mut i32) (i32.const 0))
  (func $abi_marker (export "proxy_abi_version_0_2_1"))
  (func $malloc (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $top))
    (global.set $top (i32.add (global.get $top) (local.get $n)))
    (global.set $inuse (i32.add (global.get $inuse) (local.get $n)))
    (block $ok
      (loop $grow
        (br_if $ok (i32.le_u (global.get $top) (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then (return (i32.const 0))))
        (br $grow)))
    (local.get $p))
  (func $mallinfo (export "mallinfo") (param $out i32)
    (memory.fill (local.get $out) (i32.const 0) (i32.const 40))
    (i32.store offset=28 (local.get $out) (global.get $inuse)))
  (func $on_context_create (export "proxy_on_context_create") (param i32 i32))
  (func $on_configure (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (global.set $leaky (i32.ne (local.get $size) (i32.const 0)))
    (i32.const 1))
  (func $on_request_headers (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (drop (call $malloc (i32.const 300)))
    (global.set $garbage (i32.add (global.get $garbage)
      (select (i32.const 200) (i32.const 300) (global.get $leaky))))
    (global.set $requests (i32.add (global.get $requests) (i32.const 1)))
    (if (i32.eqz (i32.rem_u (global.get $requests) (i32.const 10)))
      (then
        (global.set $inuse (i32.sub (global.get $inuse) (global.get $garbage)))
        (global.set $garbage (i32.const 0))))
    (i32.const 0))
  (func $on_done (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func $on_delete (export "proxy_on_delete") (param i32))
)
