;; SIMD: v128 locals, loads and stores (through the bounds-checked address), lane-typed
;; arithmetic on the canonical I8X16 values, shuffles, and the fix-ups (pmin, dot, trunc_sat).
(module
  (memory 1)
  (func (param i32 v128) (result v128) (local v128)
    (v128.store offset=16 (local.get 0)
      (i32x4.add (v128.load (local.get 0)) (local.get 1)))
    (i16x8.extmul_low_i8x16_s (v128.load8x8_u (local.get 0)) (local.get 2)))
  (func (param v128 v128) (result v128)
    (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (local.get 0) (local.get 1)))
  (func (param v128 v128) (result v128 i32)
    (f32x4.pmin (local.get 0) (local.get 1))
    (i32x4.bitmask (i64x2.lt_s (local.get 0) (local.get 1))))
  (func (param v128 v128 i32) (result v128)
    (i32x4.shl (i32x4.dot_i16x8_s (local.get 0) (local.get 1)) (local.get 2)))
  (func (param v128) (result v128)
    (i32x4.trunc_sat_f64x2_s_zero (local.get 0))))
