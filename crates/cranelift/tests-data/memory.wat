;; Loads, stores, globals, memory.size/grow and a call_indirect.
(module
  (type $t (func (param i32) (result i32)))
  (memory 1)
  (table 1 funcref)
  (global $g (mut i32) (i32.const 0))
  (func (param i32) (result i32)
    local.get 0 local.get 0 i32.load offset=16 i32.store8
    global.get $g i32.const 1 memory.grow i32.add global.set $g
    local.get 0 i32.const 0 call_indirect (type $t)))
