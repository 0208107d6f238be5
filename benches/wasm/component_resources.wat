;; Resource handles: the outer component's exports each run a loop of N operations, so one host
;; call measures N of them.
;;
;; - `new-drop(n)`: `resource.new` then `resource.drop` of a resource the component defines
;;   (no destructor), n times;
;; - `own-through-adapter(n)`: `$client` calls `$impl`'s `make` (an own handle comes back
;;   through a fused adapter) and passes it to `$impl`'s `take` (it goes back, and `$impl` drops
;;   it), n times: 2n adapter crossings each moving an own handle;
;; - `host-method(n)`: calls the host's `[method]counter.inc` on a borrow of a host resource n
;;   times (the handle is created once by the host's constructor, then dropped).
(component
  (import "counter" (type $counter (sub resource)))
  (import "[constructor]counter" (func $ctor (result (own $counter))))
  (import "[method]counter.inc" (func $inc (param "self" (borrow $counter)) (result u32)))

  (component $impl
    (type $R' (resource (rep i32)))
    (export $R "r" (type $R'))
    (canon resource.new $R' (core func $new))
    (canon resource.drop $R' (core func $drop))
    (canon resource.rep $R' (core func $rep))
    (core module $m
      (import "" "new" (func $new (param i32) (result i32)))
      (import "" "drop" (func $drop (param i32)))
      (import "" "rep" (func $rep (param i32) (result i32)))
      (func (export "new-drop") (param $n i32) (result i32)
        (local $i i32) (local $sum i32) (local $h i32)
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $h (call $new (local.get $i)))
          (local.set $sum (i32.add (local.get $sum) (local.get $h)))
          (call $drop (local.get $h))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
        (local.get $sum))
      (func (export "make") (param i32) (result i32) (call $new (local.get 0)))
      (func (export "take") (param $h i32) (result i32)
        (local $r i32)
        (local.set $r (call $rep (local.get $h)))
        (call $drop (local.get $h))
        (local.get $r)))
    (core instance $i (instantiate $m (with "" (instance
      (export "new" (func $new)) (export "drop" (func $drop)) (export "rep" (func $rep))))))
    (func (export "new-drop") (param "n" u32) (result u32) (canon lift (core func $i "new-drop")))
    (func (export "make") (param "rep" u32) (result (own $R)) (canon lift (core func $i "make")))
    (func (export "take") (param "r" (own $R)) (result u32) (canon lift (core func $i "take")))
  )
  ;; The client is a sibling of $impl (the usual composition): calls between a parent and its
  ;; own child trap in the reference runtime.
  (component $client
    (import "r" (type $r (sub resource)))
    (import "make" (func $make (param "rep" u32) (result (own $r))))
    (import "take" (func $take (param "r" (own $r)) (result u32)))
    (import "counter" (type $counter (sub resource)))
    (import "ctor" (func $ctor (result (own $counter))))
    (import "inc" (func $inc (param "self" (borrow $counter)) (result u32)))
    (canon lower (func $make) (core func $make'))
    (canon lower (func $take) (core func $take'))
    (canon lower (func $ctor) (core func $ctor'))
    (canon lower (func $inc) (core func $inc'))
    (canon resource.drop $counter (core func $drop-counter))
    (core module $m
      (import "" "make" (func $make (param i32) (result i32)))
      (import "" "take" (func $take (param i32) (result i32)))
      (import "" "ctor" (func $ctor (result i32)))
      (import "" "inc" (func $inc (param i32) (result i32)))
      (import "" "drop-counter" (func $drop-counter (param i32)))
      (func (export "own-through-adapter") (param $n i32) (result i32)
        (local $i i32) (local $sum i32)
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $sum (i32.add (local.get $sum) (call $take (call $make (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
        (local.get $sum))
      (func (export "host-method") (param $n i32) (result i32)
        (local $i i32) (local $h i32) (local $last i32)
        (local.set $h (call $ctor))
        (block $done (loop $next
          (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $last (call $inc (local.get $h)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
        (call $drop-counter (local.get $h))
        (local.get $last)))
    (core instance $i (instantiate $m (with "" (instance
      (export "make" (func $make')) (export "take" (func $take')) (export "ctor" (func $ctor'))
      (export "inc" (func $inc')) (export "drop-counter" (func $drop-counter))))))
    (func (export "own-through-adapter") (param "n" u32) (result u32)
      (canon lift (core func $i "own-through-adapter")))
    (func (export "host-method") (param "n" u32) (result u32) (canon lift (core func $i "host-method"))))

  (instance $impl (instantiate $impl))
  (alias export $impl "r" (type $r))
  (instance $client (instantiate $client
    (with "r" (type $r)) (with "make" (func $impl "make")) (with "take" (func $impl "take"))
    (with "counter" (type $counter)) (with "ctor" (func $ctor)) (with "inc" (func $inc))))
  (export "new-drop" (func $impl "new-drop"))
  (export "own-through-adapter" (func $client "own-through-adapter"))
  (export "host-method" (func $client "host-method"))
)
