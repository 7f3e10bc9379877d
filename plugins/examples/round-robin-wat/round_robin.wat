;; A round-robin partitioner written by hand in WebAssembly text, to show the plugin ABI is
;; language-neutral. It reads only the two leading varints of the postcard PartitionRequest
;; (the partition count and the record count), then answers a postcard Vec<u32>: record i of
;; the stream goes to partition (i mod partitions), continuing across batches.
(module
  (memory (export "memory") 1)
  ;; The next record's sequence number, across calls.
  (global $next (mut i32) (i32.const 0))
  ;; The read/write cursor.
  (global $pos (mut i32) (i32.const 0))

  (func (export "runnel_abi_version") (result i32) (i32.const 1))

  ;; Grows memory so that [0, end) exists (a failed grow traps under the host's limit).
  (func $reserve (param $end i32)
    (local $have i32)
    (local.set $have (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (drop (memory.grow
          (i32.div_u
            (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
            (i32.const 65536)))))))

  ;; One request at a time: the request always goes at address 1024.
  (func (export "runnel_alloc") (param $len i32) (result i32)
    (call $reserve (i32.add (i32.const 1024) (local.get $len)))
    (i32.const 1024))

  ;; Reads an unsigned varint (LEB128, as postcard writes) at $pos.
  (func $varint (result i32)
    (local $result i32) (local $shift i32) (local $byte i32)
    (loop $more
      (local.set $byte (i32.load8_u (global.get $pos)))
      (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
      (local.set $result
        (i32.or (local.get $result)
          (i32.shl (i32.and (local.get $byte) (i32.const 127)) (local.get $shift))))
      (local.set $shift (i32.add (local.get $shift) (i32.const 7)))
      (br_if $more (i32.and (local.get $byte) (i32.const 128))))
    (local.get $result))

  ;; Writes an unsigned varint at $pos.
  (func $put (param $v i32)
    (loop $more
      (if (i32.lt_u (local.get $v) (i32.const 128))
        (then
          (i32.store8 (global.get $pos) (local.get $v))
          (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
          (return)))
      (i32.store8 (global.get $pos)
        (i32.or (i32.and (local.get $v) (i32.const 127)) (i32.const 128)))
      (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
      (local.set $v (i32.shr_u (local.get $v) (i32.const 7)))
      (br $more)))

  (func (export "runnel_partition") (param $ptr i32) (param $len i32) (result i64)
    (local $partitions i32) (local $n i32) (local $i i32) (local $out i32)
    (global.set $pos (local.get $ptr))
    (local.set $partitions (call $varint))
    (local.set $n (call $varint))
    ;; The answer goes right after the request: at most 5 bytes per varint.
    (local.set $out (i32.add (local.get $ptr) (local.get $len)))
    (call $reserve
      (i32.add (local.get $out) (i32.add (i32.const 5) (i32.mul (local.get $n) (i32.const 5)))))
    (global.set $pos (local.get $out))
    (call $put (local.get $n))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $put (i32.rem_u (global.get $next) (local.get $partitions)))
        (global.set $next (i32.add (global.get $next) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.extend_i32_u (i32.sub (global.get $pos) (local.get $out))))))
