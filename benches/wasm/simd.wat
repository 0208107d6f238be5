;; SIMD kernels over 256 KiB arrays: an f32 dot product and an 8-bit alpha blend. The arrays sit
;; at A = 0, B = 256 KiB and DST = 512 KiB; `init` fills A and B deterministically (small floats
;; for the dot product, so no denormals or infinities; bytes for the blend reuse the same memory).
(module
  (memory (export "memory") 12)

  ;; f32 lanes: A[i] = (i % 97) / 64, B[i] = (i % 89) / 128.
  (func (export "init_f32") (param $n_bytes i32)
    (local $i i32)
    (loop $fill
      (f32.store (local.get $i)
        (f32.div (f32.convert_i32_u (i32.rem_u (i32.shr_u (local.get $i) (i32.const 2)) (i32.const 97)))
                 (f32.const 64)))
      (f32.store (i32.add (local.get $i) (i32.const 0x40000))
        (f32.div (f32.convert_i32_u (i32.rem_u (i32.shr_u (local.get $i) (i32.const 2)) (i32.const 89)))
                 (f32.const 128)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $fill (i32.lt_u (local.get $i) (local.get $n_bytes)))))

  ;; The f32 dot product of A and B over `n_bytes` (a multiple of 32): two accumulators, a
  ;; horizontal sum at the end.
  (func (export "dot_f32") (param $n_bytes i32) (result f32)
    (local $i i32) (local $acc0 v128) (local $acc1 v128)
    (loop $step
      (local.set $acc0 (f32x4.add (local.get $acc0)
        (f32x4.mul (v128.load (local.get $i)) (v128.load offset=0x40000 (local.get $i)))))
      (local.set $acc1 (f32x4.add (local.get $acc1)
        (f32x4.mul (v128.load offset=16 (local.get $i)) (v128.load offset=0x40010 (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br_if $step (i32.lt_u (local.get $i) (local.get $n_bytes))))
    (local.set $acc0 (f32x4.add (local.get $acc0) (local.get $acc1)))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
      (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))

  ;; DST[i] = (A[i] * alpha + B[i] * (256 - alpha)) >> 8 for `n_bytes` bytes (a multiple of 16),
  ;; alpha in 0..=256; returns the sum of DST's first and last bytes (so the work is observable).
  (func (export "blend_u8") (param $n_bytes i32) (param $alpha i32) (result i32)
    (local $i i32) (local $wa v128) (local $wb v128) (local $a v128) (local $b v128)
    (local.set $wa (i16x8.splat (local.get $alpha)))
    (local.set $wb (i16x8.splat (i32.sub (i32.const 256) (local.get $alpha))))
    (loop $step
      (local.set $a (v128.load (local.get $i)))
      (local.set $b (v128.load offset=0x40000 (local.get $i)))
      (v128.store offset=0x80000 (local.get $i)
        (i8x16.narrow_i16x8_u
          (i16x8.shr_u
            (i16x8.add (i16x8.mul (i16x8.extend_low_i8x16_u (local.get $a)) (local.get $wa))
                       (i16x8.mul (i16x8.extend_low_i8x16_u (local.get $b)) (local.get $wb)))
            (i32.const 8))
          (i16x8.shr_u
            (i16x8.add (i16x8.mul (i16x8.extend_high_i8x16_u (local.get $a)) (local.get $wa))
                       (i16x8.mul (i16x8.extend_high_i8x16_u (local.get $b)) (local.get $wb)))
            (i32.const 8))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $step (i32.lt_u (local.get $i) (local.get $n_bytes))))
    (i32.add (i32.load8_u offset=0x80000 (i32.const 0))
             (i32.load8_u offset=0x80000 (i32.sub (local.get $n_bytes) (i32.const 1))))))
