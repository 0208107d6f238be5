;;! custom_page_sizes = true

;; A canonical memory with custom (1-byte) pages: adapters import it with its page size and
;; bound its strings by its size in bytes, not in 64 KiB pages.
(component definition $C
  (component $a
    (core module $m
      (memory (export "memory") 70000 (pagesize 1))
      (global $heap (mut i32) (i32.const 1024))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        (local.set $p (global.get $heap))
        (global.set $heap (i32.add (global.get $heap) (local.get 3)))
        (local.get $p))
      (func (export "len") (param i32 i32) (result i32) (local.get 1))
      ;; A string of 5 bytes at 69998: past the end of the 70000-byte memory.
      (func (export "bad") (result i32)
        (i32.store (i32.const 16) (i32.const 69998))
        (i32.store (i32.const 20) (i32.const 5))
        (i32.const 16)))
    (core instance $i (instantiate $m))
    (func (export "len") (param "s" string) (result u32)
      (canon lift (core func $i "len") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
    (func (export "bad") (result string)
      (canon lift (core func $i "bad") (memory (core memory $i "memory")))))
  (instance $a (instantiate $a))
  (component $b
    (import "len" (func $len (param "s" string) (result u32)))
    (import "bad" (func $bad (result string)))
    (core module $libc
      (memory (export "memory") 1)
      (global $heap (mut i32) (i32.const 1024))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        (local.set $p (global.get $heap))
        (global.set $heap (i32.add (global.get $heap) (local.get 3)))
        (local.get $p)))
    (core instance $libc (instantiate $libc))
    (core func $len (canon lower (func $len) (memory (core memory $libc "memory"))))
    (core func $bad (canon lower (func $bad) (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
    (core module $m
      (import "" "len" (func $len (param i32 i32) (result i32)))
      (import "" "bad" (func $bad (param i32)))
      (import "" "memory" (memory 1))
      (data (i32.const 16) "hello")
      (func (export "run") (result i32) (call $len (i32.const 16) (i32.const 5)))
      (func (export "bad") (call $bad (i32.const 32))))
    (core instance $i (instantiate $m (with "" (instance
      (export "len" (func $len)) (export "bad" (func $bad)) (export "memory" (memory $libc "memory"))))))
    (func (export "run") (result u32) (canon lift (core func $i "run")))
    (func (export "bad") (canon lift (core func $i "bad"))))
  (instance $b (instantiate $b (with "len" (func $a "len")) (with "bad" (func $a "bad"))))
  (export "run" (func $b "run"))
  (export "bad" (func $b "bad"))
  (export "len" (func $a "len"))
  (export "host-bad" (func $a "bad")))

(component instance $c1 $C)
;; Through an adapter, and from the host.
(assert_return (invoke "run") (u32.const 5))
(assert_return (invoke "len" (str.const "héllo")) (u32.const 6))
(assert_trap (invoke "host-bad") "string pointer/length out of bounds of memory")
(component instance $c2 $C)
(assert_trap (invoke "bad") "string content out-of-bounds")
