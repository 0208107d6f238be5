;; options: relaxed_simd_deterministic=true
;; Relaxed SIMD in the deterministic profile (the host mode depends on the CPU's features).
(module
  (func (param v128 v128 v128) (result v128)
    (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
  (func (param v128 v128 v128) (result v128)
    (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2)))
  (func (param v128 v128) (result v128)
    (f64x2.relaxed_min (i8x16.relaxed_swizzle (local.get 0) (local.get 1)) (local.get 1))))
