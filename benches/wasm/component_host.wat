;; Host -> component calls: `nop` (no parameters, no results), `add` (scalars only) and `take`
;; (a string, so the host lowers it into linear memory through `realloc`).
(component
  (core module $m
    (memory (export "memory") 1)

    ;; Where the next allocation goes. `realloc` only ever bumps it; the post-return of `take`
    ;; puts it back to the start, so every call reuses the same bytes.
    (global $heap (mut i32) (i32.const 64))

    (func (export "nop"))

    (func (export "add") (param i32 i32) (result i32)
      local.get 0
      local.get 1
      i32.add)

    ;; (ptr, len) of a UTF-8 string in, its length in bytes out.
    (func (export "take") (param $ptr i32) (param $len i32) (result i32)
      local.get $len)

    (func (export "take-post-return") (param i32)
      i32.const 64
      global.set $heap)

    ;; A bump allocator: aligns, bumps, grows the memory when needed and copies the old bytes
    ;; on a real reallocation.
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

  (func (export "nop") (canon lift (core func $i "nop")))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (func (export "take") (param "s" string) (result u32)
    (canon lift (core func $i "take")
      (memory (core memory $i "memory"))
      (realloc (core func $i "realloc"))
      (post-return (core func $i "take-post-return"))))
)
