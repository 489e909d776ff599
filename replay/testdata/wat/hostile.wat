;; hostile: a plugin that misbehaves on purpose, chosen by the first byte
;; of its configuration: "l" loops forever in proxy_on_request_headers,
;; "g" grows memory until it cannot, "r" recurses without end, "p" calls
;; host functions with pointers outside its memory (and traps if any of
;; them does not answer InvalidMemoryAccess or a WASI fault), "b" logs a
;; 64 KiB message on every request, "e" makes 2^60 calls without a loop,
;; "c" loops forever in proxy_on_configure, "a" asks for a header whose
;; value the host allocates with malloc, which then loops forever.
;; Build: wat2wasm --debug-names hostile.wat -o hostile.wasm
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buf (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_hdr (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $get_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $set_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (global $mode (mut i32) (i32.const 0))
  (data (i32.const 1024) ":path")
  (func $abi_marker (export "proxy_abi_version_0_2_1"))
  (func $malloc (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (if (i32.eq (global.get $mode) (i32.const 97)) (then (call $spin)))
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (block $ok
      (loop $grow
        (br_if $ok (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then (return (i32.const 0))))
        (br $grow)))
    (local.get $p))
  (func $on_context_create (export "proxy_on_context_create") (param i32 i32))
  (func $on_configure (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (if (local.get $size)
      (then
        (drop (call $get_buf (i32.const 7) (i32.const 0) (i32.const 1) (i32.const 512) (i32.const 516)))
        (global.set $mode (i32.load8_u (i32.load (i32.const 512))))))
    (if (i32.eq (global.get $mode) (i32.const 99)) (then (call $spin)))
    (i32.const 1))
  (func $spin (loop $forever (br $forever)))
  (func $grow_all (result i32)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (unreachable))
  (func $fan (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (i32.add (call $fan (i32.sub (local.get $n) (i32.const 1)))
                     (call $fan (i32.sub (local.get $n) (i32.const 1)))))))
  (func $recurse (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func $expect (param $got i32) (param $want i32)
    (if (i32.ne (local.get $got) (local.get $want)) (then (unreachable))))
  (func $bad_pointers
    ;; reads past the end of memory
    (call $expect (call $log (i32.const 2) (i32.const 0xfffffff0) (i32.const 100)) (i32.const 6))
    (call $expect (call $log (i32.const 2) (i32.const 65530) (i32.const 10)) (i32.const 6))
    (call $expect (call $get_hdr (i32.const 0) (i32.const -1) (i32.const -1) (i32.const 512) (i32.const 516)) (i32.const 6))
    ;; a found value written to an out-of-range out-pointer
    (call $expect (call $get_hdr (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 0x7ffffff0) (i32.const 516)) (i32.const 6))
    (call $expect (call $get_pairs (i32.const 0) (i32.const 512) (i32.const 65535)) (i32.const 6))
    (call $expect (call $set_pairs (i32.const 0) (i32.const 65000) (i32.const 1000)) (i32.const 6))
    (call $expect (call $get_prop (i32.const 0) (i32.const 0x80000000) (i32.const 512) (i32.const 516)) (i32.const 6))
    (call $expect (call $local (i32.const 403) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x10001) (i32.const 0) (i32.const 0) (i32.const -1)) (i32.const 6))
    ;; a map type past the end of the enum
    (call $expect (call $get_hdr (i32.const 99) (i32.const 1024) (i32.const 5) (i32.const 512) (i32.const 516)) (i32.const 2))
    ;; WASI answers EFAULT (21)
    (call $expect (call $fd_write (i32.const 1) (i32.const 0xfffffff8) (i32.const 1) (i32.const 516)) (i32.const 21))
    (call $expect (call $random (i32.const 65535) (i32.const 16)) (i32.const 21))
    ;; and INVAL (28) past random_get's 64 KiB limit
    (call $expect (call $random (i32.const 0) (i32.const 65537)) (i32.const 28)))
  (func $big_log
    (drop (call $log (i32.const 2) (i32.const 0) (i32.const 65536))))
  (func $on_request_headers (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (if (i32.eq (global.get $mode) (i32.const 108)) (then (call $spin)))
    (if (i32.eq (global.get $mode) (i32.const 103)) (then (drop (call $grow_all))))
    (if (i32.eq (global.get $mode) (i32.const 114)) (then (drop (call $recurse (i32.const 0)))))
    (if (i32.eq (global.get $mode) (i32.const 112)) (then (call $bad_pointers)))
    (if (i32.eq (global.get $mode) (i32.const 98)) (then (call $big_log)))
    (if (i32.eq (global.get $mode) (i32.const 101)) (then (drop (call $fan (i32.const 60)))))
    (if (i32.eq (global.get $mode) (i32.const 97))
      (then (drop (call $get_hdr (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 512) (i32.const 516)))))
    (i32.const 0))
  (func $on_done (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func $on_delete (export "proxy_on_delete") (param i32))
)
