;; Constructs kiln validates but cannot run (the async canonical ABI, component threads,
;; error-context): a component that only contains them compiles and instantiates; an async
;; lowering given to a core module fails instantiation, an async lift fails when called, and the
;; built-ins fail when called (see tasks.wast), each with an error naming the feature.

;; Async and thread built-ins defined but never used, an async function type in an import that
;; is never lowered, and an async lift that is never exported: the sync export still works.
(component
  (import "host-async" (func async (param "x" u32)))
  (type $st (stream u8))
  (type $ft (future u32))
  (canon task.return (result u32) (core func $ret))
  (canon context.get i32 0 (core func $get))
  (canon backpressure.inc (core func $bp))
  (canon waitable-set.new (core func $ws))
  (canon stream.new $st (core func $sn))
  (canon future.new $ft (core func $fn))
  (canon thread.index (core func $ti))
  (canon error-context.drop (core func $ecd))
  (core module $m
    (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
    (func (export "run") (result i32) i32.const 0)
    (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func $async async (result u32) (canon lift (core func $i "run") async (callback (core func $i "cb"))))
  (func (export "f") (param "x" u32) (result u32) (canon lift (core func $i "f")))
)
(assert_return (invoke "f" (u32.const 41)) (u32.const 42))

;; Nested definitions that use the async ABI, never instantiated.
(component
  (component $never
    (core module $M (memory (export "mem") 1))
    (core instance $m (instantiate $M))
    (canon waitable-set.wait (memory (core memory $m "mem")) (core func $wait))
    (core module $N (import "" "wait" (func (param i32 i32) (result i32))))
    (core instance (instantiate $N (with "" (instance (export "wait" (func $wait)))))))
  (core module $m (func (export "g") (result i32) i32.const 7))
  (core instance $i (instantiate $m))
  (func (export "g") (result u32) (canon lift (core func $i "g")))
)
(assert_return (invoke "g") (u32.const 7))

;; An async lift that is exported instantiates; calling it fails naming the feature (see
;; `component_typed::async_lift_export_says_why` for the message).
(component
  (core module $m
    (func (export "f") (result i32) i32.const 0)
    (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0)
    (func (export "g") (result i32) i32.const 5))
  (core instance $i (instantiate $m))
  (func (export "f") async (canon lift (core func $i "f") async (callback (core func $i "cb"))))
  (func (export "g") (result u32) (canon lift (core func $i "g"))))
(assert_return (invoke "g") (u32.const 5))

;; An async lowering of another instance's async export.
(assert_unlinkable
  (component
    (component $callee
      (core module $m
        (func (export "f") (result i32) i32.const 0)
        (func (export "cb") (param i32 i32 i32) (result i32) i32.const 0))
      (core instance $i (instantiate $m))
      (func (export "f") async (canon lift (core func $i "f") async (callback (core func $i "cb")))))
    (instance $c (instantiate $callee))
    (core module $mem (memory (export "mem") 1))
    (core instance $mem (instantiate $mem))
    (core func $f (canon lower (func $c "f") async (memory (core memory $mem "mem"))))
    (core module $n (import "" "f" (func (result i32))))
    (core instance (instantiate $n (with "" (instance (export "f" (func $f)))))))
  "unsupported feature: async canonical ABI")

;; A synchronous lowering of a function with a stream parameter.
(assert_unlinkable
  (component
    (type $st (stream u8))
    (import "take" (func $take (param "s" $st)))
    (core func $take (canon lower (func $take)))
    (core module $n (import "" "take" (func (param i32))))
    (core instance (instantiate $n (with "" (instance (export "take" (func $take)))))))
  "unsupported feature: async futures and streams")
