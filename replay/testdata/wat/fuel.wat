;; fuel: the shapes the fuel rewriter (fuel.go) must renumber or step
;; over, for TestFuelRewrite, which runs every export with and without the
;; fuel checks and compares the results. Not a plugin: no imports, no
;; globals (the rewriter adds both sections), a start function, element
;; segments of every encoding (flags 0 to 7), ref.func in a global and in
;; code, call_indirect, loops with parameters and results, br_table,
;; select with a type, bulk memory, SIMD immediates, big constants.
;; Build: wat2wasm --debug-names fuel.wat -o fuel.wasm
(module
  (type $binop (func (param i32 i32) (result i32)))
  (type $loopty (func (param i32 i32) (result i32 i32)))
  (table $t 8 funcref)
  (table $t2 4 funcref)
  (memory (export "memory") 1)
  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (func $started (result i32) (i32.load (i32.const 0)))
  (func $start (i32.store (i32.const 0) (i32.const 7)))
  (start $start)
  ;; flags 0: active, table 0, function indices
  (elem (i32.const 0) $add $sub)
  ;; flags 1: passive, function indices
  (elem $passive func $mul $add)
  ;; flags 2: active, explicit table, function indices
  (elem (table $t2) (i32.const 0) func $sub $mul)
  ;; flags 3: declarative, function indices
  (elem declare func $started)
  ;; flags 4: active, table 0, expressions
  (elem (i32.const 2) funcref (ref.func $mul) (ref.null func))
  ;; flags 5: passive, expressions
  (elem $passive2 funcref (ref.func $sub) (ref.null func))
  ;; flags 6: active, explicit table, expressions
  (elem (table $t2) (i32.const 2) funcref (ref.func $add) (ref.null func))
  ;; flags 7: declarative, expressions
  (elem declare funcref (ref.func $start) (ref.null func))
  (global $fref funcref (ref.func $mul))

  ;; call_indirect through every table slot the segments filled
  (func (export "indirect") (result i32)
    (local $acc i32)
    (table.init $t $passive (i32.const 4) (i32.const 0) (i32.const 2))
    (table.init $t $passive2 (i32.const 6) (i32.const 0) (i32.const 1))
    (local.set $acc (call_indirect $t (type $binop) (i32.const 10) (i32.const 3) (i32.const 0)))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $binop) (i32.const 10) (i32.const 3) (i32.const 1))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $binop) (i32.const 10) (i32.const 3) (i32.const 2))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $binop) (i32.const 10) (i32.const 3) (i32.const 4))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $binop) (i32.const 10) (i32.const 3) (i32.const 5))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $binop) (i32.const 10) (i32.const 3) (i32.const 6))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t2 (type $binop) (i32.const 10) (i32.const 3) (i32.const 0))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t2 (type $binop) (i32.const 10) (i32.const 3) (i32.const 1))))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t2 (type $binop) (i32.const 10) (i32.const 3) (i32.const 2))))
    (table.set $t (i32.const 7) (global.get $fref))
    (local.set $acc (i32.add (local.get $acc) (call_indirect $t (type $binop) (i32.const 10) (i32.const 3) (i32.const 7))))
    (table.set $t (i32.const 7) (ref.func $add))
    (i32.add (local.get $acc) (call_indirect $t (type $binop) (i32.const 10) (i32.const 3) (i32.const 7))))

  (func (export "started") (result i32) (call $started))

  ;; a loop whose block type is a type index (two params, two results),
  ;; left with br_if, and a br_table inside a second loop
  (func (export "loops") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (i32.const 0) (i32.const 1)
    (loop $fib (type $loopty)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $sum (i32.add))
      (local.get $sum)
      (local.get $sum)
      (drop)
      (i32.add (local.get $sum) (i32.const 1))
      (br_if $fib (i32.lt_u (local.get $i) (local.get $n))))
    (i32.add)
    (local.set $i (i32.const 0))
    (block $done
      (loop $dispatch
        (block $c2 (block $c1 (block $c0
          (br_table $c0 $c1 $c2 $done (i32.rem_u (local.get $i) (i32.const 4))))
          (local.set $sum (i32.add (local.get $sum) (i32.const 1))))
          (local.set $sum (i32.mul (local.get $sum) (i32.const 3))))
          (local.set $sum (i32.xor (local.get $sum) (i32.const 0x5a5a)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $dispatch)))
    (i32.add (local.get $sum)))

  ;; constants of every width, typed select, bulk memory, SIMD lanes
  (func (export "immediates") (result i64)
    (local $v v128)
    (memory.fill (i32.const 64) (i32.const 0xab) (i32.const 32))
    (memory.copy (i32.const 128) (i32.const 64) (i32.const 16))
    (local.set $v (v128.const i32x4 0x01020304 -1 0x7fffffff 0x80000000))
    (local.set $v (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get $v) (v128.load offset=128 (i32.const 0))))
    (local.set $v (i32x4.replace_lane 2 (local.get $v) (i32.const 99)))
    (v128.store offset=256 align=8 (i32.const 0) (local.get $v))
    (local.set $v (v128.load32_lane 1 (i32.const 64) (local.get $v)))
    (i64.add
      (i64.add (i64.const 0x7fffffffffffffff) (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $v))))
      (i64.add
        (select (result i64) (i64.const -9223372036854775808) (i64.const 3) (i32.load8_u (i32.const 130)))
        (i64.add (i64.trunc_f64_s (f64.const 1e18)) (i64.trunc_sat_f32_s (f32.const 3.5))))))

  ;; 2^n calls and no loop: only the checks at function entries see it
  (func $fan (export "fan") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (i32.add (call $fan (i32.sub (local.get $n) (i32.const 1)))
                     (call $fan (i32.sub (local.get $n) (i32.const 1)))))))

  (func (export "spin") (loop $forever (br $forever)))
)
