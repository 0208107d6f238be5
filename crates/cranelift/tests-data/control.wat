;; Blocks with parameters, loops, if/else, br_table with arguments, unreachable code.
(module
  (func (param i32) (result i32)
    (block $out (result i32)
      (loop $top
        local.get 0 i32.const 1 i32.sub local.tee 0
        br_if $top)
      i32.const 1
      local.get 0
      br_table $out $out 0)
    (if (result i32) (local.get 0) (then i32.const 2) (else unreachable))
    i32.add)
  (func (result i32 i32)
    i32.const 1 i32.const 2 (block (param i32 i32) (result i32 i32)) return))
