;; Grows its memory 1 MiB (16 pages) at a time until something stops it. Large steps reach the
;; memory cap in a handful of instructions, so the memory limit, not the CPU limit, stops it
;; even on a loaded machine (the CPU limit is an epoch deadline, i.e. wall time: a CI run once
;; saw page-at-a-time growth hit the 5 ms deadline first).
(module
  (memory (export "memory") 1)
  (func (export "runnel_abi_version") (result i32) (i32.const 1))
  (func (export "runnel_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "runnel_transform") (param i32 i32) (result i64)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (i64.const 0)))
