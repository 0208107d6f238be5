;; options: guard_pages=false
;; Explicit bounds checks with Spectre masking: out-of-bounds addresses become null and fault.
(module
  (memory 1)
  (func (param i32) (result i64)
    local.get 0 i64.load offset=8))
