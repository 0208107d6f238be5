;; The oracle must agree with kiln here: wasmi 2.0.0 gives 1 for select(1, x, eqz x) with x = 7
;; (found by differential_wasmi, seed 0x5c2b0d2b04c69d94, in a module wasm-smith built with
;; disallow_traps, which guards every division this way).
(module
  (func (export "f") (param i32) (result i32)
    i32.const 1
    local.get 0
    local.get 0
    i32.eqz
    select)
  (func (export "g") (param i32) (result i32) (local i32)
    i32.const 1
    local.get 0
    local.get 0
    i32.eqz
    select
    local.set 1
    local.get 1)
  (func (export "h") (param i32) (result i32)
    i32.const 1
    local.get 0
    local.get 0
    i32.eqz
    select
    local.set 0
    local.get 0))
