;; Typed host <-> component calls: `sum8` takes a record of 8 fields (flattened to 8 core
;; values), `count` a list of such records (lowered into linear memory through `realloc`),
;; and `run(n)` calls the host import `host-add` n times (the bindgen benchmark's host side).
(component
  (type $rec (record
    (field "a" u32) (field "b" u32) (field "c" u32) (field "d" u32)
    (field "e" u64) (field "f" u64) (field "g" f32) (field "h" f64)))
  (export $rec-e "rec" (type $rec))
  (import "host-add" (func $host-add (param "a" u32) (param "b" u32) (result u32)))
  (core func $add (canon lower (func $host-add)))
  (core module $m
    (import "host" "add" (func $add (param i32 i32) (result i32)))
    (memory (export "memory") 1)

    ;; Where the next allocation goes; the post-return of `count` puts it back to the start.
    (global $heap (mut i32) (i32.const 64))

    ;; The sum of the integer fields (the 64-bit ones wrapped).
    (func (export "sum8") (param i32 i32 i32 i32 i64 i64 f32 f64) (result i32)
      local.get 0
      local.get 1
      i32.add
      local.get 2
      i32.add
      local.get 3
      i32.add
      local.get 4
      i32.wrap_i64
      i32.add
      local.get 5
      i32.wrap_i64
      i32.add)

    ;; (ptr, len) of the list in, its length out.
    (func (export "count") (param $ptr i32) (param $len i32) (result i32)
      local.get $len)

    (func (export "count-post-return") (param i32)
      i32.const 64
      global.set $heap)

    ;; acc = host-add(acc, i) for i in 0..n.
    (func (export "run") (param $n i32) (result i32)
      (local $i i32)
      (local $acc i32)
      block $done
        loop $next
          local.get $i
          local.get $n
          i32.ge_u
          br_if $done
          local.get $acc
          local.get $i
          call $add
          local.set $acc
          local.get $i
          i32.const 1
          i32.add
          local.set $i
          br $next
        end
      end
      local.get $acc)

    ;; A bump allocator: aligns, bumps and grows the memory when needed (fresh allocations
    ;; only).
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
      local.get $p)
  )
  (core instance $i (instantiate $m (with "host" (instance (export "add" (func $add))))))

  (func (export "sum8") (param "r" $rec-e) (result u32) (canon lift (core func $i "sum8")))
  (func (export "count") (param "l" (list $rec-e)) (result u32)
    (canon lift (core func $i "count")
      (memory (core memory $i "memory"))
      (realloc (core func $i "realloc"))
      (post-return (core func $i "count-post-return"))))
  (func (export "run") (param "n" u32) (result u32) (canon lift (core func $i "run")))
)
