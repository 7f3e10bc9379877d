;; Grows its memory a page at a time until something stops it.
(module
  (memory (export "memory") 1)
  (func (export "runnel_abi_version") (result i32) (i32.const 1))
  (func (export "runnel_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "runnel_transform") (param i32 i32) (result i64)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (i64.const 0)))
