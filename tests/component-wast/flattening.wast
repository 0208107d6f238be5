;; Flattening: up to 16 flat parameters are passed directly, more through memory; a result
;; of more than one flat value comes back through memory. The callee's core code reads what it
;; was given and computes with it, so a wrong layout shows as a wrong sum.

(component
  (component $callee
    (core module $m
      (memory (export "memory") 1)
      (global $heap (mut i32) (i32.const 1024))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
        (global.set $heap (i32.add (local.get $p) (local.get 3)))
        (local.get $p))
      ;; 17 u32 parameters: one pointer to them.
      (func (export "sum17") (param i32) (result i32)
        (i32.load (local.get 0))
        (i32.load offset=4 (local.get 0)) i32.add
        (i32.load offset=8 (local.get 0)) i32.add
        (i32.load offset=12 (local.get 0)) i32.add
        (i32.load offset=16 (local.get 0)) i32.add
        (i32.load offset=20 (local.get 0)) i32.add
        (i32.load offset=24 (local.get 0)) i32.add
        (i32.load offset=28 (local.get 0)) i32.add
        (i32.load offset=32 (local.get 0)) i32.add
        (i32.load offset=36 (local.get 0)) i32.add
        (i32.load offset=40 (local.get 0)) i32.add
        (i32.load offset=44 (local.get 0)) i32.add
        (i32.load offset=48 (local.get 0)) i32.add
        (i32.load offset=52 (local.get 0)) i32.add
        (i32.load offset=56 (local.get 0)) i32.add
        (i32.load offset=60 (local.get 0)) i32.add
        (i32.load offset=64 (local.get 0)) i32.add)
      ;; 16 u32 parameters: passed directly.
      (func (export "sum16") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
        local.get 0 local.get 1 i32.add local.get 2 i32.add local.get 3 i32.add local.get 4 i32.add local.get 5 i32.add local.get 6 i32.add local.get 7 i32.add local.get 8 i32.add local.get 9 i32.add local.get 10 i32.add local.get 11 i32.add local.get 12 i32.add local.get 13 i32.add local.get 14 i32.add local.get 15 i32.add)
      ;; (a: u8, b: f32, c: string, d: u64) -> tuple<u64, f32, u32>: the result goes through memory.
      (func (export "mix") (param i32 f32 i32 i32 i64) (result i32)
        (i64.store (i32.const 64) (i64.add (local.get 4) (i64.extend_i32_u (local.get 0))))
        (f32.store (i32.const 72) (f32.mul (local.get 1) (f32.const 2)))
        (i32.store (i32.const 76) (i32.load8_u (local.get 2)))
        (i32.const 64))
      ;; More than 16 flat parameters of mixed types: (list<u8>, tuple<u64 x 8>, f64, u8 x 6):
      ;; the sum of the list's bytes, the u64s, the f64 (truncated) and the u8s, as a u64.
      (func (export "mixed-indirect") (param $p i32) (result i64)
        (local $sum i64) (local $i i32) (local $ptr i32) (local $len i32)
        (local.set $ptr (i32.load (local.get $p)))
        (local.set $len (i32.load offset=4 (local.get $p)))
        (block $done (loop $bytes
          (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
          (local.set $sum (i64.add (local.get $sum)
            (i64.extend_i32_u (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $bytes)))
        (local.set $i (i32.const 0))
        (block $done (loop $words
          (br_if $done (i32.ge_u (local.get $i) (i32.const 64)))
          (local.set $sum (i64.add (local.get $sum) (i64.load offset=8 (i32.add (local.get $p) (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 8)))
          (br $words)))
        (local.set $i (i32.const 0))
        (block $done (loop $small
          (br_if $done (i32.ge_u (local.get $i) (i32.const 6)))
          (local.set $sum (i64.add (local.get $sum)
            (i64.extend_i32_u (i32.load8_u offset=80 (i32.add (local.get $p) (local.get $i))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $small)))
        (i64.add (local.get $sum) (i64.trunc_f64_s (f64.load offset=72 (local.get $p))))))
    (core instance $m (instantiate $m))
    (func (export "sum17") (param "p0" u32) (param "p1" u32) (param "p2" u32) (param "p3" u32) (param "p4" u32) (param "p5" u32) (param "p6" u32) (param "p7" u32) (param "p8" u32) (param "p9" u32) (param "p10" u32) (param "p11" u32) (param "p12" u32) (param "p13" u32) (param "p14" u32) (param "p15" u32) (param "p16" u32) (result u32)
      (canon lift (core func $m "sum17") (memory (core memory $m "memory")) (realloc (core func $m "realloc"))))
    (func (export "sum16") (param "p0" u32) (param "p1" u32) (param "p2" u32) (param "p3" u32) (param "p4" u32) (param "p5" u32) (param "p6" u32) (param "p7" u32) (param "p8" u32) (param "p9" u32) (param "p10" u32) (param "p11" u32) (param "p12" u32) (param "p13" u32) (param "p14" u32) (param "p15" u32) (result u32) (canon lift (core func $m "sum16")))
    (func (export "mix") (param "a" u8) (param "b" f32) (param "c" string) (param "d" u64)
      (result (tuple u64 f32 u32))
      (canon lift (core func $m "mix") (memory (core memory $m "memory")) (realloc (core func $m "realloc"))))
    (func (export "mixed-indirect") (param "l" (list u8)) (param "t" (tuple u64 u64 u64 u64 u64 u64 u64 u64))
      (param "f" f64) (param "a" u8) (param "b" u8) (param "c" u8) (param "d" u8) (param "e" u8) (param "g" u8)
      (result u64)
      (canon lift (core func $m "mixed-indirect") (memory (core memory $m "memory"))
        (realloc (core func $m "realloc"))))
  )
  (instance $c (instantiate $callee))

  (component $caller
    (import "c" (instance $c
      (export "sum17" (func (param "p0" u32) (param "p1" u32) (param "p2" u32) (param "p3" u32) (param "p4" u32) (param "p5" u32) (param "p6" u32) (param "p7" u32) (param "p8" u32) (param "p9" u32) (param "p10" u32) (param "p11" u32) (param "p12" u32) (param "p13" u32) (param "p14" u32) (param "p15" u32) (param "p16" u32) (result u32)))
      (export "sum16" (func (param "p0" u32) (param "p1" u32) (param "p2" u32) (param "p3" u32) (param "p4" u32) (param "p5" u32) (param "p6" u32) (param "p7" u32) (param "p8" u32) (param "p9" u32) (param "p10" u32) (param "p11" u32) (param "p12" u32) (param "p13" u32) (param "p14" u32) (param "p15" u32) (result u32)))
      (export "mix" (func (param "a" u8) (param "b" f32) (param "c" string) (param "d" u64)
        (result (tuple u64 f32 u32))))))
    (core module $libc
      (memory (export "memory") 1)
      (global $heap (mut i32) (i32.const 1024))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get 2))))
        (global.set $heap (i32.add (local.get $p) (local.get 3)))
        (local.get $p)))
    (core instance $libc (instantiate $libc))
    (core func $sum17 (canon lower (func $c "sum17") (memory (core memory $libc "memory"))))
    (core func $sum16 (canon lower (func $c "sum16")))
    (core func $mix (canon lower (func $c "mix") (memory (core memory $libc "memory"))
      (realloc (core func $libc "realloc"))))
    (core module $m
      (import "libc" "memory" (memory 1))
      (import "" "sum17" (func $sum17 (param i32) (result i32)))
      (import "" "sum16"
        (func $sum16 (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
      (import "" "mix" (func $mix (param i32 f32 i32 i32 i64 i32)))
      ;; The caller builds the 17 parameters in its own memory: 0, 1, 4, ..., 256.
      (func (export "sum17-of-squares") (result i32)
        (local $i i32)
        (block $done (loop $fill
          (br_if $done (i32.ge_u (local.get $i) (i32.const 17)))
          (i32.store offset=256 (i32.shl (local.get $i) (i32.const 2)) (i32.mul (local.get $i) (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $fill)))
        (call $sum17 (i32.const 256)))
      (func (export "sum16-of-range") (result i32)
        (call $sum16 (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5)
          (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10) (i32.const 11) (i32.const 12)
          (i32.const 13) (i32.const 14) (i32.const 15)))
      ;; mix(7, 1.25, "A", 100), reading the tuple back from the return area it passed:
      ;; 107 + 2 + 65.
      (func (export "mix-check") (result i64)
        (i32.store8 (i32.const 300) (i32.const 65))
        (call $mix (i32.const 7) (f32.const 1.25) (i32.const 300) (i32.const 1) (i64.const 100) (i32.const 128))
        (i64.add (i64.load (i32.const 128))
          (i64.add (i64.trunc_f32_u (f32.load (i32.const 136))) (i64.extend_i32_u (i32.load (i32.const 140))))))
      ;; Forwarding: 17 lifted parameters arrive as a pointer that the lowered import takes as is.
      (func (export "forward17") (param i32) (result i32) (call $sum17 (local.get 0)))
      (func (export "forward-mix") (param i32 f32 i32 i32 i64) (result i32)
        (call $mix (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (i32.const 128))
        (i32.const 128)))
    (core instance $m (instantiate $m (with "libc" (instance $libc))
      (with "" (instance (export "sum17" (func $sum17)) (export "sum16" (func $sum16)) (export "mix" (func $mix))))))
    (func (export "sum17-of-squares") (result u32) (canon lift (core func $m "sum17-of-squares")))
    (func (export "sum16-of-range") (result u32) (canon lift (core func $m "sum16-of-range")))
    (func (export "mix-check") (result u64) (canon lift (core func $m "mix-check")))
    (func (export "forward17") (param "p0" u32) (param "p1" u32) (param "p2" u32) (param "p3" u32) (param "p4" u32) (param "p5" u32) (param "p6" u32) (param "p7" u32) (param "p8" u32) (param "p9" u32) (param "p10" u32) (param "p11" u32) (param "p12" u32) (param "p13" u32) (param "p14" u32) (param "p15" u32) (param "p16" u32) (result u32)
      (canon lift (core func $m "forward17") (memory (core memory $libc "memory"))
        (realloc (core func $libc "realloc"))))
    (func (export "forward-mix") (param "a" u8) (param "b" f32) (param "c" string) (param "d" u64)
      (result (tuple u64 f32 u32))
      (canon lift (core func $m "forward-mix") (memory (core memory $libc "memory"))
        (realloc (core func $libc "realloc"))))
  )
  (instance $k (instantiate $caller (with "c" (instance $c))))
  (export "sum17" (func $c "sum17"))
  (export "sum16" (func $c "sum16"))
  (export "mix" (func $c "mix"))
  (export "mixed-indirect" (func $c "mixed-indirect"))
  (export "sum17-of-squares" (func $k "sum17-of-squares"))
  (export "sum16-of-range" (func $k "sum16-of-range"))
  (export "mix-check" (func $k "mix-check"))
  (export "forward17" (func $k "forward17"))
  (export "forward-mix" (func $k "forward-mix"))
)

;; host -> callee
(assert_return (invoke "sum17" (u32.const 1) (u32.const 2) (u32.const 3) (u32.const 4) (u32.const 5) (u32.const 6) (u32.const 7) (u32.const 8) (u32.const 9) (u32.const 10) (u32.const 11) (u32.const 12) (u32.const 13) (u32.const 14) (u32.const 15) (u32.const 16) (u32.const 17)) (u32.const 153))
(assert_return (invoke "sum16" (u32.const 3) (u32.const 6) (u32.const 9) (u32.const 12) (u32.const 15) (u32.const 18) (u32.const 21) (u32.const 24) (u32.const 27) (u32.const 30) (u32.const 33) (u32.const 36) (u32.const 39) (u32.const 42) (u32.const 45) (u32.const 48)) (u32.const 408))
(assert_return (invoke "mix" (u8.const 7) (f32.const 1.25) (str.const "A") (u64.const 100))
  (tuple.const (u64.const 107) (f32.const 2.5) (u32.const 65)))
(assert_return (invoke "mixed-indirect" (list.const (u8.const 1) (u8.const 2) (u8.const 3))
    (tuple.const (u64.const 10) (u64.const 20) (u64.const 30) (u64.const 40) (u64.const 50) (u64.const 60)
      (u64.const 70) (u64.const 80))
    (f64.const 1000.75) (u8.const 1) (u8.const 1) (u8.const 1) (u8.const 1) (u8.const 1) (u8.const 2))
  (u64.const 1373))
;; caller core -> adapter -> callee core
(assert_return (invoke "sum17-of-squares") (u32.const 1496))
(assert_return (invoke "sum16-of-range") (u32.const 120))
(assert_return (invoke "mix-check") (u64.const 174))
;; host -> caller -> adapter -> callee, forwarding flat values and pointers unchanged
(assert_return (invoke "forward17" (u32.const 1) (u32.const 2) (u32.const 3) (u32.const 4) (u32.const 5) (u32.const 6) (u32.const 7) (u32.const 8) (u32.const 9) (u32.const 10) (u32.const 11) (u32.const 12) (u32.const 13) (u32.const 14) (u32.const 15) (u32.const 16) (u32.const 17)) (u32.const 153))
(assert_return (invoke "forward-mix" (u8.const 255) (f32.const -0.5) (str.const "\u{1f600}") (u64.const 1))
  (tuple.const (u64.const 256) (f32.const -1) (u32.const 240)))
