;; Shaped like an AssemblyScript 0.2x plugin built for release with
;; G-Core's proxy-wasm-sdk-as (asc --optimizeLevel 3): no name section and
;; no AssemblyScript runtime exports, but AssemblyScript's strings, UTF-16
;; with their object header, in the data section: the library source paths
;; abort() reports.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 1036) "\2c\00\00\00\00\00\00\00\00\00\00\00\02\00\00\00\38\00\00\00~\00l\00i\00b\00/\00@\00g\00c\00o\00r\00e\00d\00e\00v\00/\00p\00r\00o\00x\00y\00-\00w\00a\00s\00m\00-\00s\00d\00k\00-\00a\00s\00/\00")
  (func (export "malloc") (param i32) (result i32) i32.const 0)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "_start"))
)
