;; Core modules crossing component boundaries: exported by one component instance, imported by
;; another through an instance (or from the host's `host` instance), checked against the
;; importer's module type at link time, and instantiated with arguments picked by name.

;; A registered instance exporting two modules: one importing two globals, one exporting a func.
(component $provider
  (core module (export "adder")
    (import "env" "a" (global $a i32))
    (import "env" "b" (global $b i32))
    (func (export "sum") (result i32) (i32.add (global.get $a) (global.get $b))))
  (core module (export "leaf")
    (func (export "seven") (result i32) i32.const 7)
    (memory (export "mem") 1 2)
    (table (export "tab") 2 funcref)
    (global (export "g") (mut i32) i32.const 0))
)

;; The importer declares more imports than the module has and lists them in another order:
;; instantiation picks the arguments by name. The result is checked through a start function.
(component
  (import "provider" (instance $p
    (export "adder" (core module
      (import "env" "extra" (func))
      (import "env" "b" (global i32))
      (import "env" "a" (global i32))
      (export "sum" (func (result i32)))))))
  (core module $env
    (global (export "a") i32 i32.const 40)
    (global (export "b") i32 i32.const 2)
    (func (export "extra")))
  (core instance $env (instantiate $env))
  (core instance $adder (instantiate (module $p "adder") (with "env" (instance $env))))
  (core module $check
    (import "adder" "sum" (func $sum (result i32)))
    (func $start (if (i32.ne (call $sum) (i32.const 42)) (then unreachable)))
    (start $start))
  (core instance (instantiate $check (with "adder" (instance $adder))))
)

;; Limits are covariant for exports: a memory of 1..2 pages fits `(memory 0)` and `(memory 1 3)`.
(component
  (import "provider" (instance
    (export "leaf" (core module
      (export "mem" (memory 1 3))
      (export "tab" (table 1 funcref))
      (export "g" (global (mut i32)))))))
)

;; Each way a module type can fail to match, with the message naming it.
(assert_unlinkable
  (component (import "provider" (instance (export "leaf" (core module (export "missing" (func)))))))
  "module export `missing` not defined")
(assert_unlinkable
  (component (import "provider" (instance (export "adder" (core module (import "env" "a" (global i32)))))))
  "module import `env::b` not defined")
(assert_unlinkable
  (component (import "provider" (instance (export "leaf" (core module (export "seven" (func (result i64))))))))
  "expected type `(func (result i64))`, found type `(func (result i32))`")
(assert_unlinkable
  (component (import "provider" (instance (export "leaf" (core module (export "mem" (memory 3)))))))
  "export `mem` has the wrong type")
(assert_unlinkable
  (component (import "provider" (instance (export "leaf" (core module (export "g" (global i32)))))))
  "export `g` has the wrong type")
(assert_unlinkable
  (component (import "provider" (instance (export "leaf" (core module (export "tab" (memory 1)))))))
  "expected memory found table")
(assert_unlinkable
  (component
    (import "provider" (instance (export "adder" (core module
      (import "env" "a" (func))
      (import "env" "b" (global i32)))))))
  "expected global found func")
(assert_unlinkable
  (component
    (import "provider" (instance (export "adder" (core module
      (import "env" "a" (global (mut i32)))
      (import "env" "b" (global i32)))))))
  "module import `env::a` has the wrong type")
(assert_unlinkable
  (component (import "provider" (instance (export "adder" (func)))))
  "found module")
(assert_unlinkable
  (component (import "nothing-here" (core module)))
  "nothing-here")

;; A module re-exported through a component that imported it, then used by a third.
(component $middle
  (import "provider" (instance $p (export "leaf" (core module (export "seven" (func (result i32)))))))
  (export "again" (core module $p "leaf"))
)
(component
  (import "middle" (instance $m (export "again" (core module (export "seven" (func (result i32)))))))
  (core instance $leaf (instantiate (module $m "again")))
  (core module $check
    (import "leaf" "seven" (func $seven (result i32)))
    (func $start (if (i32.ne (call $seven) (i32.const 7)) (then unreachable)))
    (start $start))
  (core instance (instantiate $check (with "leaf" (instance $leaf))))
)

;; The host's module: `simple-module` exports `f` (101) and `g` (100).
(component
  (import "host" (instance $h (export "simple-module" (core module
    (export "f" (func (result i32)))
    (export "g" (global i32))))))
  (core instance $m (instantiate (module $h "simple-module")))
  (core module $check
    (import "m" "f" (func $f (result i32)))
    (import "m" "g" (global $g i32))
    (func $start
      (if (i32.ne (call $f) (i32.const 101)) (then unreachable))
      (if (i32.ne (global.get $g) (i32.const 100)) (then unreachable)))
    (start $start))
  (core instance (instantiate $check (with "m" (instance $m))))
)
