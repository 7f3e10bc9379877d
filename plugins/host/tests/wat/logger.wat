;; Logs a line on every call, then answers through the round-robin logic's simplest case: an
;; empty batch only (it answers the postcard of an empty Vec).
(module
  (import "runnel" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello from wat")
  (data (i32.const 32) "\00")
  (func (export "runnel_abi_version") (result i32) (i32.const 1))
  (func (export "runnel_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "runnel_partition") (param i32 i32) (result i64)
    (call $log (i32.const 0) (i32.const 14))
    (i64.or (i64.shl (i64.const 32) (i64.const 32)) (i64.const 1))))
