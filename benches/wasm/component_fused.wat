;; A component-to-component call through a fused adapter: `$caller`'s core code calls the
;; `consume` export of `$callee`, passing a list<u8> that lives in `$caller`'s memory; the adapter
;; copies it into `$callee`'s memory (allocated by `$callee`'s `realloc`). The host calls the
;; outer component's `run: func(len: u32) -> u32`, scalar in and out, so the host side is cheap.
(component
  (component $callee
    (core module $m
      ;; 2 pages: the largest list (64 KiB) fits without growing.
      (memory (export "memory") 2)

      ;; Next allocation; reset by the post-return of `consume`, so each call starts afresh.
      (global $heap (mut i32) (i32.const 64))

      (func (export "consume") (param $ptr i32) (param $len i32) (result i32)
        local.get $len)

      (func (export "consume-post-return") (param i32)
        i32.const 64
        global.set $heap)

      ;; Bump allocator (same shape as the one in component_host.wat).
      (func (export "realloc") (param $old i32) (param $old-size i32) (param $align i32) (param $size i32)
        (result i32)
        (local $p i32)
        (local $end i32)
        global.get $heap
        local.get $align
        i32.const 1
        i32.sub
        i32.add
        i32.const 0
        local.get $align
        i32.sub
        i32.and
        local.tee $p
        local.get $size
        i32.add
        local.tee $end
        global.set $heap
        block $fits
          loop $grow
            local.get $end
            memory.size
            i32.const 16
            i32.shl
            i32.le_u
            br_if $fits
            i32.const 1
            memory.grow
            i32.const -1
            i32.eq
            if
              unreachable
            end
            br $grow
          end
        end
        local.get $old
        if
          local.get $p
          local.get $old
          local.get $old-size
          memory.copy
        end
        local.get $p)
    )
    (core instance $i (instantiate $m))
    (func (export "consume") (param "data" (list u8)) (result u32)
      (canon lift (core func $i "consume")
        (memory (core memory $i "memory"))
        (realloc (core func $i "realloc"))
        (post-return (core func $i "consume-post-return"))))
  )

  (component $caller
    (import "consume" (func $consume (param "data" (list u8)) (result u32)))
    (core module $mem
      ;; The list's bytes: [1024, 1024 + len) with len up to 64 KiB.
      (memory (export "memory") 2))
    (core instance $mem (instantiate $mem))
    (core func $consume (canon lower (func $consume) (memory (core memory $mem "memory"))))
    (core module $m
      (import "" "memory" (memory 2))
      (import "" "consume" (func $consume (param i32 i32) (result i32)))
      (func (export "run") (param $len i32) (result i32)
        i32.const 1024
        local.get $len
        call $consume))
    (core instance $i
      (instantiate $m
        (with "" (instance
          (export "memory" (memory $mem "memory"))
          (export "consume" (func $consume))))))
    (func (export "run") (param "len" u32) (result u32) (canon lift (core func $i "run")))
  )

  (instance $callee (instantiate $callee))
  (instance $caller (instantiate $caller (with "consume" (func $callee "consume"))))
  (export "run" (func $caller "run"))
)
