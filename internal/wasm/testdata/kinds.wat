;; Every import kind, globals with several constant expressions, a table with
;; an element segment, a start function, passive data (so a datacount
;; section), i64/f32/f64 signatures; built without a name section.
(module
  (import "env" "f" (func (param i64 f32 f64) (result i64)))
  (import "env" "table" (table 1 10 funcref))
  (import "env" "memory" (memory 1 2))
  (import "env" "g" (global i32))
  (global i64 (i64.const -1))
  (global f32 (f32.const 1.5))
  (global f64 (f64.const 2.5))
  (global i32 (global.get 0))
  (global funcref (ref.func 1))
  (type $v (func))
  (elem (i32.const 0) 1)
  (data "passive")
  (func $start (type $v)
    i32.const 0
    i32.const 0
    i32.const 1
    memory.init 0
    data.drop 0)
  (start $start)
  (export "start" (func $start))
  (export "g" (global 0))
  (export "t" (table 0))
)
