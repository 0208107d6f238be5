;; Array allocation, fill, copy and element access: 4000 rounds over 10,000-element arrays.
(module
  (type $ints (array (mut i32)))
  (func (export "run") (result i32)
    (local $round i32) (local $a (ref null $ints)) (local $b (ref null $ints)) (local $i i32) (local $sum i32)
    (loop $rounds
      (local.set $a (array.new $ints (local.get $round) (i32.const 10000)))
      (array.fill $ints (local.get $a) (i32.const 5000) (i32.const 7) (i32.const 5000))
      (local.set $b (array.new_default $ints (i32.const 10000)))
      (array.copy $ints $ints (local.get $b) (i32.const 0) (local.get $a) (i32.const 0) (i32.const 10000))
      (local.set $i (i32.const 0))
      (loop $elems
        (array.set $ints (local.get $b) (local.get $i)
          (i32.add (array.get $ints (local.get $b) (local.get $i)) (local.get $i)))
        (br_if $elems (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 10000))))
      (local.set $sum (i32.add (local.get $sum) (array.get $ints (local.get $b) (i32.const 9999))))
      (br_if $rounds (i32.lt_u (local.tee $round (i32.add (local.get $round) (i32.const 1))) (i32.const 4000))))
    (local.get $sum)))
