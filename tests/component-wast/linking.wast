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
  "expected a function, found an instance")
