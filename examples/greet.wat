;; A component made of two components: `greeter` lifts `greet: func(name: string) -> string` from
;; core wasm with UTF-16 strings; `app`, with UTF-8 strings, imports it, calls it from its own core
;; code and exports the result. The call from `app` into `greeter` goes through a fused adapter
;; (generated core wasm) that transcodes the name to UTF-16 and the greeting back to UTF-8.
;;
;;   kiln run --invoke 'greet("kiln")' examples/greet.wat     prints "Hello, kiln!"
(component
  (component $greeter
    (core module $m
      (memory (export "mem") 1)
      (global $bump (mut i32) (i32.const 1024))
      (func $realloc (export "realloc")
        (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
        (local $p i32)
        ;; A block that shrinks (transcoding allocates the worst case, then shrinks) stays put.
        (if (i32.and (i32.ne (local.get $old) (i32.const 0)) (i32.le_u (local.get $size) (local.get $old_size)))
          (then (return (local.get $old))))
        ;; Bump allocator: align, hand out, advance; a growing block moves with its contents.
        (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get $align))))
        (global.set $bump (i32.add (local.get $p) (local.get $size)))
        (if (local.get $old) (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
        (local.get $p))
      ;; greet(ptr, len in UTF-16 code units) -> pointer to (ptr, len) of "Hello, <name>!"
      (func (export "greet") (param $ptr i32) (param $len i32) (result i32)
        (local $out i32) (local $i i32)
        (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 2)
                              (i32.shl (i32.add (local.get $len) (i32.const 8)) (i32.const 1))))
        ;; "Hello, " in UTF-16
        (i64.store (local.get $out) (i64.const 0x006c_006c_0065_0048))
        (i64.store offset=8 (local.get $out) (i64.const 0x0020_002c_006f))
        (memory.copy (i32.add (local.get $out) (i32.const 14)) (local.get $ptr)
                     (i32.shl (local.get $len) (i32.const 1)))
        (i32.store16 (i32.add (local.get $out) (i32.shl (i32.add (local.get $len) (i32.const 7)) (i32.const 1)))
                     (i32.const 0x21))
        (local.set $i (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 8)))
        (i32.store (local.get $i) (local.get $out))
        (i32.store offset=4 (local.get $i) (i32.add (local.get $len) (i32.const 8)))
        (local.get $i)))
    (core instance $i (instantiate $m))
    (func (export "greet") (param "name" string) (result string)
      (canon lift (core func $i "greet") (memory (core memory $i "mem"))
        (realloc (core func $i "realloc")) string-encoding=utf16)))

  (component $app
    (import "greet" (func $greet (param "name" string) (result string)))
    (core module $libc
      (memory (export "mem") 1)
      (global $bump (mut i32) (i32.const 1024))
      (func (export "realloc")
        (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
        (local $p i32)
        (if (i32.and (i32.ne (local.get $old) (i32.const 0)) (i32.le_u (local.get $size) (local.get $old_size)))
          (then (return (local.get $old))))
        (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
                               (i32.sub (i32.const 0) (local.get $align))))
        (global.set $bump (i32.add (local.get $p) (local.get $size)))
        (if (local.get $old) (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
        (local.get $p)))
    (core instance $libc (instantiate $libc))
    ;; The lowered import: (name ptr, name len, out-pointer for the result string).
    (core func $greet (canon lower (func $greet) (memory (core memory $libc "mem"))
      (realloc (core func $libc "realloc"))))
    (core module $m
      (import "libc" "realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))
      (import "host" "greet" (func $greet (param i32 i32 i32)))
      (func (export "run") (param $ptr i32) (param $len i32) (result i32)
        (local $ret i32)
        (local.set $ret (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 8)))
        (call $greet (local.get $ptr) (local.get $len) (local.get $ret))
        (local.get $ret)))
    (core instance $i (instantiate $m
      (with "libc" (instance $libc))
      (with "host" (instance (export "greet" (func $greet))))))
    (func (export "greet") (param "name" string) (result string)
      (canon lift (core func $i "run") (memory (core memory $libc "mem"))
        (realloc (core func $libc "realloc")))))

  (instance $g (instantiate $greeter))
  (instance $a (instantiate $app (with "greet" (func $g "greet"))))
  (export "greet" (func $a "greet")))
