;; The runner's component conventions (see `conventions.rs`): named component instances are
;; importable by their name, type imports need no definition, definitions and instances,
;; assertions on components.

;; A named component instance is importable by later components under its name (without the
;; `$`): root functions, and nested exported instances at any depth.
(component $A
  (core module $m
    (global $g (mut i32) (i32.const 0))
    (func (export "bump") (result i32)
      (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (core instance $i (instantiate $m))
  (func $bump (result u32) (canon lift (core func $i "bump")))
  (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (instance $inner (export "add" (func $add)))
  (instance $outer (export "inner" (instance $inner)) (export "bump" (func $bump)))
  (export "bump" (func $bump))
  (export "ns:pkg/iface@1.0.0" (instance $outer))
  (type $t u64)
  (export "t" (type $t))
)
(assert_return (invoke "bump") (u32.const 1))

(component
  (import "A" (instance $a
    (export "bump" (func (result u32)))
    (export "ns:pkg/iface@1.0.0" (instance
      (export "bump" (func (result u32)))
      (export "inner" (instance (export "add" (func (param "a" u32) (param "b" u32) (result u32)))))))))
  (alias export $a "ns:pkg/iface@1.0.0" (instance $iface))
  (alias export $iface "inner" (instance $inner))
  (alias export $inner "add" (func $add))
  (alias export $a "bump" (func $bump))
  (export "add" (func $add))
  (export "bump" (func $bump))
)
(assert_return (invoke "bump") (u32.const 2))
(assert_return (invoke "add" (u32.const 2) (u32.const 40)) (u32.const 42))

;; Type imports need no definition.
(component
  (type $u u64)
  (import "t" (type $t (eq $u)))
  (import "A" (instance $a (export "bump" (func (result u32)))))
  (alias export $a "bump" (func $bump))
  (export "bump2" (func $bump))
)
(assert_return (invoke "bump2") (u32.const 3))

;; `component definition` and `component instance`: the instance is importable by its name.
(component definition $D
  (core module $m (func (export "f") (result i32) (i32.const 7)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))
(component instance $d1 $D)
(component
  (import "d1" (instance $d (export "f" (func (result u32)))))
  (alias export $d "f" (func $f))
  (export "g" (func $f)))
(assert_return (invoke "g") (u32.const 7))
(assert_unlinkable
  (component (import "d1" (instance (export "missing" (func)))))
  "missing function export `missing`")
(assert_unlinkable
  (component (import "nope" (func)))
  "has not been defined")
(assert_invalid
  (component (type (flags)))
  "flags must have at least one entry")
(assert_malformed
  (component binary "\00asm\0d\00\01\00\ff")
  "")
;; A trap in a registered instance reaches the caller as a trap.
(component $T
  (core module $m (func (export "boom") unreachable))
  (core instance $i (instantiate $m))
  (func (export "boom") (canon lift (core func $i "boom"))))
(component
  (import "T" (instance $t (export "boom" (func))))
  (alias export $t "boom" (func $boom))
  (export "call-boom" (func $boom)))
(assert_trap (invoke "call-boom") "unreachable")

;; Registering a name again shadows the earlier registration's functions.
(component $A
  (core module $m (func (export "bump") (result i32) (i32.const 100)))
  (core instance $i (instantiate $m))
  (func (export "bump") (result u32) (canon lift (core func $i "bump"))))
(component
  (import "A" (instance $a (export "bump" (func (result u32)))))
  (alias export $a "bump" (func $bump))
  (export "bump" (func $bump)))
(assert_return (invoke "bump") (u32.const 100))

;; An explicit `register` works too.
(component
  (core module $m (func (export "f") (result i32) (i32.const 5)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))
(register "five")
(component
  (import "five" (instance $five (export "f" (func (result u32)))))
  (alias export $five "f" (func $f))
  (export "g" (func $f)))
(assert_return (invoke "g") (u32.const 5))
