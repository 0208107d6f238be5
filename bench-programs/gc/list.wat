;; Linked list traversal: a list of one million nodes, built once and summed 100 times.
(module
  (type $node (struct (field $v i32) (field $next (ref null $node))))
  (func (export "run") (result i32)
    (local $head (ref null $node)) (local $i i32) (local $n (ref null $node)) (local $sum i32) (local $k i32)
    (loop $build
      (local.set $head (struct.new $node (local.get $i) (local.get $head)))
      (br_if $build (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1000000))))
    (loop $passes
      (local.set $n (local.get $head))
      (block $end
        (loop $walk
          (br_if $end (ref.is_null (local.get $n)))
          (local.set $sum (i32.add (local.get $sum) (struct.get $node $v (local.get $n))))
          (local.set $n (struct.get $node $next (local.get $n)))
          (br $walk)))
      (br_if $passes (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 100))))
    (local.get $sum)))
