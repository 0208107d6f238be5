;; Core tags inside components: aliased out of core instances, renamed in synthesized core
;; instances and passed to core instantiations like any other core item; each instantiation of
;; a module defines its own tags.

(component
  (core module $Tag (tag (export "t") (param i32)))
  (core module $Thrower
    (import "env" "exn" (tag $t (param i32)))
    (func (export "throw") (param i32) (throw $t (local.get 0))))
  (core module $Catcher
    (import "tag" "t" (tag $t (param i32)))
    (import "a" "throw" (func $throw-a (param i32)))
    (import "b" "throw" (func $throw-b (param i32)))
    ;; Returns the payload if the tag matched, 1000 + x if some other exception was caught.
    (func $run (param $which i32) (param $x i32) (result i32)
      (block $other
        (block $h (result i32)
          (try_table (catch $t $h) (catch_all $other)
            (if (local.get $which)
              (then (call $throw-b (local.get $x)))
              (else (call $throw-a (local.get $x)))))
          (return (i32.const -1)))
        (return))
      (i32.add (i32.const 1000) (local.get $x)))
    (func (export "run-a") (param i32) (result i32) (call $run (i32.const 0) (local.get 0)))
    (func (export "run-b") (param i32) (result i32) (call $run (i32.const 1) (local.get 0))))
  (core instance $tag-a (instantiate $Tag))
  (core instance $tag-b (instantiate $Tag))
  ;; The same tag under another name, through an alias and a synthesized instance.
  (alias core export $tag-a "t" (core tag $ta))
  (core instance $env-a (export "exn" (tag $ta)))
  (core instance $ta (instantiate $Thrower (with "env" (instance $env-a))))
  (core instance $tb (instantiate $Thrower (with "env" (instance (export "exn" (tag $tag-b "t"))))))
  (core instance $c (instantiate $Catcher
    (with "tag" (instance (export "t" (tag $ta))))
    (with "a" (instance $ta))
    (with "b" (instance $tb))))
  (func (export "run-a") (param "x" u32) (result u32) (canon lift (core func $c "run-a")))
  (func (export "run-b") (param "x" u32) (result u32) (canon lift (core func $c "run-b")))
)
(assert_return (invoke "run-a" (u32.const 5)) (u32.const 5))
(assert_return (invoke "run-b" (u32.const 5)) (u32.const 1005))

;; A tag passed down into a nested component's core module through its own core instance.
(component
  (component $inner
    (core module $Tag (tag (export "t") (param i64)))
    (core module $M
      (import "" "t" (tag $t (param i64)))
      (func (export "f") (result i64)
        (block $h (result i64)
          (try_table (catch $t $h) (throw $t (i64.const 77)))
          (i64.const 0))))
    (core instance $tag (instantiate $Tag))
    (core instance $m (instantiate $M (with "" (instance $tag))))
    (func (export "f") (result u64) (canon lift (core func $m "f"))))
  (instance $i (instantiate $inner))
  (export "f" (func $i "f"))
)
(assert_return (invoke "f") (u64.const 77))
