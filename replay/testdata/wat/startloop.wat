;; startloop: a plugin whose start function never returns, for
;; TestStartLoop: the time limit applies while the module is instantiated.
;; Build: wat2wasm --debug-names startloop.wat -o startloop.wasm
(module
  (memory (export "memory") 1)
  (func $abi_marker (export "proxy_abi_version_0_2_1"))
  (func $malloc (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func $spin (loop $forever (br $forever)))
  (start $spin)
)
