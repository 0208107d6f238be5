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
(assert_trap (invoke "run") "uncaught exception propagated out of component")

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
(assert_trap (invoke "throw") "uncaught exception propagated out of component")

;; A resource destructor that throws, run because another component dropped the handle: the
;; exception stops at the boundary (a trap), it does not reach the dropper's handler.
(component
  (component $A
    (core module $dtor
      (tag $t)
      (func (export "dtor") (param i32) (throw $t)))
    (core instance $d (instantiate $dtor))
    (type $R' (resource (rep i32) (dtor (core func $d "dtor"))))
    (export $R "r" (type $R'))
    (canon resource.new $R' (core func $new))
    (core module $m
      (import "" "new" (func $new (param i32) (result i32)))
      (func (export "make") (result i32) (call $new (i32.const 7))))
    (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
    (func (export "make") (result (own $R)) (canon lift (core func $i "make"))))
  (component $B
    (import "r" (type $R (sub resource)))
    (import "make" (func $make (result (own $R))))
    (canon lower (func $make) (core func $make))
    (canon resource.drop $R (core func $drop))
    (core module $b
      (import "" "make" (func $make (result i32)))
      (import "" "drop" (func $drop (param i32)))
      (func (export "run")
        (block $caught
          (try_table (catch_all $caught)
            (call $drop (call $make)))
          (return))
        ;; the destructor's exception leaked into this component
        unreachable))
    (core instance $b (instantiate $b (with "" (instance (export "make" (func $make)) (export "drop" (func $drop))))))
    (func (export "drop-throwing") (canon lift (core func $b "run"))))
  (instance $a (instantiate $A))
  (alias export $a "r" (type $R))
  (instance $b (instantiate $B (with "r" (type $R)) (with "make" (func $a "make"))))
  (export "drop-throwing" (func $b "drop-throwing")))
(assert_trap (invoke "drop-throwing") "uncaught exception propagated out of component")
