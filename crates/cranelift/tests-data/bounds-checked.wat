;; options: guard_pages=false spectre_guards=false
;; Explicit bounds checks (no guard pages, no Spectre masking).
(module
  (memory 1)
  (func (param i32) (result i32)
    local.get 0 i32.load offset=8 local.get 0 i32.load16_u offset=4294967295 i32.add))
