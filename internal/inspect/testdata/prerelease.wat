;; Shaped like a plugin for the 2019 pre-release Envoy Wasm ABI (envoy-wasm
;; before proxy_abi_version markers, Rust SDK 0.0.x with rustc 1.33): the
;; callbacks are _proxy_onStart, _proxy_onConfigure…, the host functions
;; env._proxy_log…, the allocator _malloc. No current host loads it.
(module
  (import "env" "_proxy_log" (func (param i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "_proxy_onStart"))
  (func (export "_proxy_onConfigure") (param i32 i32))
  (func (export "_proxy_onTick"))
  (func (export "_malloc") (param i32) (result i32) i32.const 0)
  (func (export "_free") (param i32))
)
