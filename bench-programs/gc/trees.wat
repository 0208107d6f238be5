;; Binary trees (the benchmark game's GC test): short-lived trees of growing depth and one
;; long-lived tree; returns the total node count checked.
(module
  (type $node (struct (field $left (ref null $node)) (field $right (ref null $node))))
  (func $make (param $d i32) (result (ref $node))
    (if (result (ref $node)) (i32.eqz (local.get $d))
      (then (struct.new $node (ref.null $node) (ref.null $node)))
      (else (struct.new $node
              (call $make (i32.sub (local.get $d) (i32.const 1)))
              (call $make (i32.sub (local.get $d) (i32.const 1)))))))
  (func $check (param $n (ref $node)) (result i32)
    (local $l (ref null $node))
    (local.set $l (struct.get $node $left (local.get $n)))
    (if (result i32) (ref.is_null (local.get $l))
      (then (i32.const 1))
      (else (i32.add (i32.const 1)
              (i32.add (call $check (ref.as_non_null (local.get $l)))
                       (call $check (ref.as_non_null (struct.get $node $right (local.get $n)))))))))
  (func (export "run") (result i32)
    (local $long (ref null $node)) (local $d i32) (local $i i32) (local $n i32) (local $sum i32)
    (local.set $long (call $make (i32.const 16)))
    (local.set $d (i32.const 4))
    (loop $depths
      ;; 2^(20 - d) trees of depth d.
      (local.set $n (i32.shl (i32.const 1) (i32.sub (i32.const 20) (local.get $d))))
      (local.set $i (i32.const 0))
      (loop $trees
        (local.set $sum (i32.add (local.get $sum) (call $check (call $make (local.get $d)))))
        (br_if $trees (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
      (br_if $depths (i32.le_u (local.tee $d (i32.add (local.get $d) (i32.const 2))) (i32.const 16))))
    (i32.add (local.get $sum) (call $check (ref.as_non_null (local.get $long))))))
