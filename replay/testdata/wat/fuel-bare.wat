;; fuel-bare: a module with no import, global, table or memory section, so
;; the fuel rewriter (fuel.go) must add the import and global sections in
;; their places. For TestFuelRewrite.
;; Build: wat2wasm --debug-names fuel-bare.wat -o fuel-bare.wasm
(module
  (func $twice (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
  (func (export "count") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (call $twice (i32.add (local.get $acc) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func (export "spin") (loop $forever (br $forever)))
)
