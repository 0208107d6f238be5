;; Nested topologies: components inside components, outer aliases, instances passed as
;; arguments, re-exported imports, lowered-then-lifted host imports, registered instances.

;; Three levels deep; the innermost component reaches a core module and a type of the root
;; through outer aliases, and its export travels up through two instances.
(component $root
  (core module $adder
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (type $pair (tuple u32 u32))
  (component $mid
    (component $leaf
      (alias outer $root $adder (core module $adder))
      (alias outer $root $pair (type $pair))
      (core instance $a (instantiate $adder))
      (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $a "add")))
      (func (export "add-pair") (param "p" $pair) (result u32) (canon lift (core func $a "add"))))
    (instance $l (instantiate $leaf))
    (export "add" (func $l "add"))
    (export "add-pair" (func $l "add-pair")))
  (instance $m (instantiate $mid))
  (export "add" (func $m "add"))
  (export "add-pair" (func $m "add-pair"))
)
(assert_return (invoke "add" (u32.const 40) (u32.const 2)) (u32.const 42))
(assert_return (invoke "add-pair" (tuple.const (u32.const 4294967295) (u32.const 2))) (u32.const 1))

;; An instance built from exports and passed as an argument; the user calls through it with a
;; fused adapter, nested two components down.
(component
  (component $math
    (core module $m
      (func (export "mul") (param i32 i32) (result i32) (i32.mul (local.get 0) (local.get 1)))
      (func (export "neg") (param i64) (result i64) (i64.sub (i64.const 0) (local.get 0))))
    (core instance $m (instantiate $m))
    (func (export "mul") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $m "mul")))
    (func (export "neg") (param "a" s64) (result s64) (canon lift (core func $m "neg"))))
  (instance $math (instantiate $math))
  (instance $bundle (export "times" (func $math "mul")) (export "negate" (func $math "neg")))
  (component $user
    (import "ops" (instance $ops
      (export "times" (func (param "a" u32) (param "b" u32) (result u32)))
      (export "negate" (func (param "a" s64) (result s64)))))
    (component $inner
      (import "times" (func $times (param "a" u32) (param "b" u32) (result u32)))
      (core func $times (canon lower (func $times)))
      (core module $sq
        (import "" "times" (func $times (param i32 i32) (result i32)))
        (func (export "square") (param i32) (result i32) (call $times (local.get 0) (local.get 0))))
      (core instance $sq (instantiate $sq (with "" (instance (export "times" (func $times))))))
      (func (export "square") (param "x" u32) (result u32) (canon lift (core func $sq "square"))))
    (instance $i (instantiate $inner (with "times" (func $ops "times"))))
    (export "square" (func $i "square"))
    (export "negate" (func $ops "negate")))
  (instance $u (instantiate $user (with "ops" (instance $bundle))))
  (export "square" (func $u "square"))
  (export "negate" (func $u "negate"))
)
(assert_return (invoke "square" (u32.const 12)) (u32.const 144))
(assert_return (invoke "negate" (s64.const 9223372036854775807)) (s64.const -9223372036854775807))

;; A re-exported host import, and the same import lowered and lifted again.
(component
  (import "host-echo" (func $echo (param "s" string) (result string)))
  (core module $libc
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (local.get $p)))
  (core instance $libc (instantiate $libc))
  (core func $lowered (canon lower (func $echo) (memory (core memory $libc "memory"))
    (realloc (core func $libc "realloc"))))
  (core module $shim
    (import "" "echo" (func $echo (param i32 i32 i32)))
    (func (export "echo") (param i32 i32) (result i32)
      (call $echo (local.get 0) (local.get 1) (i32.const 16))
      (i32.const 16)))
  (core instance $shim (instantiate $shim (with "" (instance (export "echo" (func $lowered))))))
  (func $relifted (param "s" string) (result string)
    (canon lift (core func $shim "echo") (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
  (export "reexported" (func $echo))
  (export "relifted" (func $relifted))
)
(assert_return (invoke "reexported" (str.const "r\u{e9}-export")) (str.const "r\u{e9}-export"))
(assert_return (invoke "relifted" (str.const "lowered, lifted \u{1f600}")) (str.const "lowered, lifted \u{1f600}"))

;; A registered component instance satisfies a later component's instance import.
(component $provider
  (core module $m
    (global $n (mut i32) (i32.const 0))
    (func (export "next") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))
  (core instance $m (instantiate $m))
  (func (export "next") (result u32) (canon lift (core func $m "next")))
)
(register "counter" $provider)
(component
  (import "counter" (instance $c (export "next" (func (result u32)))))
  (core func $next (canon lower (func $c "next")))
  (core module $m
    (import "" "next" (func $next (result i32)))
    (func (export "twice") (result i32) (call $next) (call $next) i32.add))
  (core instance $m (instantiate $m (with "" (instance (export "next" (func $next))))))
  (func (export "twice") (result u32) (canon lift (core func $m "twice")))
)
(assert_return (invoke "twice") (u32.const 3))
(assert_return (invoke "twice") (u32.const 7))
(assert_return (invoke $provider "next") (u32.const 5))

;; Definitions instantiated twice have separate state.
(component definition $Counter
  (core module $m
    (global $n (mut i32) (i32.const 0))
    (func (export "next") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))
  (core instance $m (instantiate $m))
  (func (export "next") (result u32) (canon lift (core func $m "next")))
)
(component instance $a $Counter)
(component instance $b $Counter)
(assert_return (invoke $a "next") (u32.const 1))
(assert_return (invoke $a "next") (u32.const 2))
(assert_return (invoke $b "next") (u32.const 1))

;; Linking and validation failures.
(assert_unlinkable
  (component (import "no-such-import" (func)))
  "no-such-import")
(assert_unlinkable
  (component
    (import "counter" (instance $c (export "missing" (func))))
    (core func (canon lower (func $c "missing"))))
  "missing")
(assert_invalid
  (component
    (core module $m (func (export "f") (param i32)))
    (core instance $m (instantiate $m))
    (func (export "f") (param "x" u64) (canon lift (core func $m "f"))))
  "do not match parameter types")
(assert_invalid
  (component (export "f" (func 0)))
  "index out of bounds")
(assert_malformed
  (component quote "(core module $m) (nonsense)")
  "unexpected token")
(assert_malformed
  (component binary "\00asm\0d\00\01\00\ff")
  "malformed")
