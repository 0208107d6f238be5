;; Exception handling kernels: `throw_catch(n)` throws n exceptions from a callee and catches each in
;; the caller's try_table (one frame of unwinding); `throw_deep(n)` throws n times through 8 frames;
;; `try_no_throw(n)` makes n calls inside a try_table that never throw (the normal-path cost).
(module
  (tag $e (param i32))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func (export "throw_catch") (param $n i32) (result i32)
    (local $acc i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $thrower (local.get $n)))
        (i32.const 0))
      (local.set $acc (i32.add (local.get $acc)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $acc))
  (func $down (param $depth i32) (param $v i32)
    (if (i32.eqz (local.get $depth)) (then (throw $e (local.get $v))))
    (call $down (i32.sub (local.get $depth) (i32.const 1)) (local.get $v)))
  (func (export "throw_deep") (param $n i32) (result i32)
    (local $acc i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $down (i32.const 7) (local.get $n)))
        (i32.const 0))
      (local.set $acc (i32.add (local.get $acc)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $acc))
  (func $id (param i32) (result i32) (local.get 0))
  (func (export "try_no_throw") (param $n i32) (result i32)
    (local $acc i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h)
          (local.set $acc (i32.add (local.get $acc) (call $id (local.get $n)))))
        (i32.const 0))
      (drop)
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $acc)))
