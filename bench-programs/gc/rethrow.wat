;; Exceptions through cleanups, as toolchains compile destructors and `finally`: each of 1,000,000
;; iterations throws, catches with `catch_all_ref` (the cleanup), rethrows with `throw_ref` and
;; catches the payload outside. Every 1000th exception is kept in a global until the next.
(module
  (tag $e (param i32))
  (global $kept (mut exnref) (ref.null exn))
  (func $work (param $i i32)
    (local $x exnref)
    (local.set $x
      (block $cleanup (result exnref)
        (try_table (catch_all_ref $cleanup) (throw $e (local.get $i)))
        (unreachable)))
    (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 1000)))
      (then (global.set $kept (local.get $x))))
    (throw_ref (local.get $x)))
  (func (export "run") (result i32)
    (local $i i32) (local $sum i32)
    (loop $l
      (local.set $sum
        (i32.add (local.get $sum)
          (block $caught (result i32)
            (try_table (catch $e $caught) (call $work (local.get $i)))
            (unreachable))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1000000))))
    (local.get $sum)))
