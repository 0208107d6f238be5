;; Exceptions must not cross component boundaries (Canonical ABI): one that leaves a lifted
;; function traps, even when the calling component's core code has a catch-all handler.
(component
  (component $A
    (core module $a
      (type $t (func (param i32)))
      (tag $t (type $t))
      (func (export "throw") (throw $t (i32.const 7)))
      (func (export "caught") (result i32)
        (block $h (result i32)
          (try_table (catch $t $h) (throw $t (i32.const 5)))
          (i32.const -1))))
    (core instance $a (instantiate $a))
    (func (export "throw") (canon lift (core func $a "throw")))
    (func (export "caught") (result s32) (canon lift (core func $a "caught")))
  )
  (component $B
    (import "a" (instance $a (export "throw" (func)) (export "caught" (func (result s32)))))
    (core func $throw (canon lower (func $a "throw")))
    (core func $caught (canon lower (func $a "caught")))
    (core module $b
      (import "" "throw" (func $throw))
      (import "" "caught" (func $caught (result i32)))
      (func (export "run") (result i32)
        (block $h
          (try_table (catch_all $h) (call $throw))
          (return (i32.const 0)))
        (i32.const 1))
      (func (export "inner") (result i32) (call $caught)))
    (core instance $b (instantiate $b
      (with "" (instance (export "throw" (func $throw)) (export "caught" (func $caught))))))
    (func (export "run") (result s32) (canon lift (core func $b "run")))
    (func (export "inner") (result s32) (canon lift (core func $b "inner")))
  )
  (instance $a (instantiate $A))
  (instance $b (instantiate $B (with "a" (instance $a))))
  (export "run" (func $b "run"))
  (export "inner" (func $b "inner"))
  (export "throw" (func $a "throw"))
)


;; Caught inside the component that threw: fine.
(assert_return (invoke "inner") (s32.const 5))
;; Thrown across the boundary into a catch-all: a trap, never caught. (A trap leaves both
;; component instances unable to be entered again, so the next case gets fresh instances.)
(assert_trap (invoke "run") "uncaught exception")

(component
  (component $A
    (core module $a
      (type $t (func (param i32)))
      (tag $t (type $t))
      (func (export "throw") (throw $t (i32.const 7)))
      (func (export "caught") (result i32)
        (block $h (result i32)
          (try_table (catch $t $h) (throw $t (i32.const 5)))
          (i32.const -1))))
    (core instance $a (instantiate $a))
    (func (export "throw") (canon lift (core func $a "throw")))
    (func (export "caught") (result s32) (canon lift (core func $a "caught")))
  )
  (component $B
    (import "a" (instance $a (export "throw" (func)) (export "caught" (func (result s32)))))
    (core func $throw (canon lower (func $a "throw")))
    (core func $caught (canon lower (func $a "caught")))
    (core module $b
      (import "" "throw" (func $throw))
      (import "" "caught" (func $caught (result i32)))
      (func (export "run") (result i32)
        (block $h
          (try_table (catch_all $h) (call $throw))
          (return (i32.const 0)))
        (i32.const 1))
      (func (export "inner") (result i32) (call $caught)))
    (core instance $b (instantiate $b
      (with "" (instance (export "throw" (func $throw)) (export "caught" (func $caught))))))
    (func (export "run") (result s32) (canon lift (core func $b "run")))
    (func (export "inner") (result s32) (canon lift (core func $b "inner")))
  )
  (instance $a (instantiate $A))
  (instance $b (instantiate $B (with "a" (instance $a))))
  (export "run" (func $b "run"))
  (export "inner" (func $b "inner"))
  (export "throw" (func $a "throw"))
)


;; Thrown out of a lifted function to the host: a trap.
(assert_trap (invoke "throw") "uncaught exception")
