;; Shaped like a proxy-wasm-zig-sdk plugin built by Zig 0.14: Zig's linker
;; names imports "name|module" and functions by namespace, with __anon_N
;; instances; producers say "language: C99" as for C, and DW_AT_producer
;; says "zig 0.14.0". build.sh appends the producers and .debug_str
;; sections.
(module
  (import "env" "proxy_log" (func $proxy_log|env (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write|wasi_snapshot_preview1 (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $fmt.allocPrint__anon_1812 (result i32) i32.const 0)
  (func $heap.WasmAllocator.alloc (param i32) (result i32) i32.const 0)
  (func $hostcalls.getBufferBytes (result i32) i32.const 0)
  (func $example.Root.onVmStart (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
  (func $_initialize (export "_initialize"))
  (func $proxy_abi_version_0_2_0 (export "proxy_abi_version_0_2_0"))
  (func $proxy_on_memory_allocate (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 0)
)
