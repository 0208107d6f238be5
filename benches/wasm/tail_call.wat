;; Tail-call-heavy kernels: mutual recursion and a threaded-interpreter style dispatch, each one
;; million tail calls deep (which would overflow the stack without tail calls).
(module
  (type $handler (func (param i32 i64) (result i64)))
  (table $handlers 4 funcref)
  (elem (table $handlers) (i32.const 0) func $h0 $h1 $h2 $h3)

  (func $even (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else (return_call $odd (i32.sub (local.get $n) (i32.const 1))))))
  (func $odd (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (return_call $even (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "even_odd") (param i32) (result i32) (call $even (local.get 0)))

  ;; Each handler updates the accumulator and jumps to the handler chosen by the low bits of the
  ;; remaining count, like an interpreter's computed goto.
  (func $next (param $n i32) (param $acc i64) (result i64)
    (if (result i64) (i32.eqz (local.get $n))
      (then (local.get $acc))
      (else
        (return_call_indirect $handlers (type $handler)
          (i32.sub (local.get $n) (i32.const 1)) (local.get $acc)
          (i32.and (local.get $n) (i32.const 3))))))
  (func $h0 (type $handler) (return_call $next (local.get 0) (i64.add (local.get 1) (i64.const 1))))
  (func $h1 (type $handler) (return_call $next (local.get 0) (i64.mul (local.get 1) (i64.const 3))))
  (func $h2 (type $handler) (return_call $next (local.get 0) (i64.xor (local.get 1) (i64.const 0x5555))))
  (func $h3 (type $handler) (return_call $next (local.get 0) (i64.sub (local.get 1) (i64.const 7))))
  (func (export "dispatch") (param i32) (result i64) (call $next (local.get 0) (i64.const 0))))
