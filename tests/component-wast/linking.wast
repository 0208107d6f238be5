;; Imports are checked against what the linker provides, including every export an imported
;; instance's type lists (not only the ones the component happens to lower).

(component
  (core module $m (func (export "g") (result i32) i32.const 7))
  (core instance $i (instantiate $m))
  (func (export "g") (result u32) (canon lift (core func $i "g"))))
(register "provider")

;; Every listed export is there: links.
(component
  (import "provider" (instance $p (export "g" (func (result u32)))))
  (alias export $p "g" (func $g))
  (export "g-again" (func $g)))
(assert_return (invoke "g-again") (u32.const 7))

;; `missing` is listed but not provided, and never lowered: still unlinkable.
(assert_unlinkable
  (component (import "provider" (instance (export "missing" (func)))))
  "missing function export `missing`")

;; An instance where a function is expected.
(assert_unlinkable
  (component (import "provider" (func)))
  "expected func found instance")

;; Imports of types, and of instances that hold only types, carry nothing at run time: they need
;; no definition.
(component
  (type $u u64)
  (import "t" (type $t (eq $u)))
  (import "types-only" (instance
    (type $t1 u64)
    (export "a" (type $t2 (eq $t1)))
    (export "nested" (instance (type $u32 u32) (export "b" (type (eq $u32)))))))
  (core module $m (func (export "f") (result i64) i64.const 5))
  (core instance $i (instantiate $m))
  (func (export "f") (result $t) (canon lift (core func $i "f"))))
(assert_return (invoke "f") (u64.const 5))

;; An instance import with a function still needs one.
(assert_unlinkable
  (component (import "needs-f" (instance (export "f" (func)))))
  "component import `needs-f` has not been defined")
