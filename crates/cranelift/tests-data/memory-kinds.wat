;; options: guard_pages=false spectre_guards=false
;; Where compiled code finds each kind of memory: an imported memory and a shared one through
;; the definition pointer in the VMContext, a defined unshared (owned) one inline in the VMContext.
;; Explicit bounds checks, so every access reads both the base and the length.
(module
  (import "env" "imported" (memory $imported 1))
  (memory $owned 1)
  (memory $shared 1 1 shared)
  (func (param i32) (result i32)
    (i32.load $imported (local.get 0))
    (i32.load $owned (local.get 0))
    i32.add
    (i32.load $shared (local.get 0))
    i32.add
    memory.size $owned
    i32.add))
