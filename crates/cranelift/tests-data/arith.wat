;; Integer and float arithmetic, comparisons and conversions.
(module
  (func (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add local.get 1 i32.div_s local.get 1 i32.rem_s i32.eqz)
  (func (param f64 f64) (result i64)
    local.get 0 local.get 1 f64.min f64.nearest i64.trunc_f64_s))
