;; Constructs kiln validates but cannot run (streams, futures, component threads,
;; error-context): a component that only contains them compiles and instantiates; a lowering
;; of a function with a stream fails instantiation, and the built-ins fail when called (see
;; tasks.wast), each with an error naming the feature. Async lifts and lowers run (async.wast).

;; Async and thread built-ins defined but never used, and an async lift that is never exported:
;; the sync export still works.
(component
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

;; A synchronous lowering of a function with a stream parameter.
(assert_unlinkable
  (component
    (type $st (stream u8))
    (import "take" (func $take (param "s" $st)))
    (core func $take (canon lower (func $take)))
    (core module $n (import "" "take" (func (param i32))))
    (core instance (instantiate $n (with "" (instance (export "take" (func $take)))))))
  "unsupported feature: async futures and streams")
