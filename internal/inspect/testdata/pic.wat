;; Linked as position-independent code: it imports its stack pointer and
;; memory base as globals (which cpp-host refuses), its memory and table
;; (which cpp-host creates), an Emscripten runtime function, a WASI function
;; no host implements, and a WASI 0.2 interface. No allocator; a reactor
;; with __main_void.
(module
  (import "env" "memory" (memory 1))
  (import "env" "__indirect_function_table" (table 0 funcref))
  (import "env" "__stack_pointer" (global (mut i32)))
  (import "env" "__memory_base" (global i32))
  (import "env" "emscripten_notify_memory_growth" (func (param i32)))
  (import "env" "emscripten_memcpy_big" (func (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32) (result i32)))
  (import "wasi:io/streams@0.2.0" "write" (func (param i32) (result i32)))
  (func (export "_initialize"))
  (func (export "__main_void") (result i32) i32.const 0)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_tick") (param i32))
)
