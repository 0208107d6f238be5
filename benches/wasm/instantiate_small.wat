;; A small but complete module for instantiation benchmarks: one host import, a memory with data
;; segments, a table with an element segment, mutable and immutable globals, and a handful of
;; functions.
(module
  (import "host" "log" (func $log (param i32)))

  (memory (export "memory") 1 16)
  (table (export "table") 16 funcref)

  (global $counter (export "counter") (mut i32) (i32.const 0))
  (global $base i32 (i32.const 1024))
  (global $scale (mut f64) (f64.const 1.5))
  (global $wide (mut i64) (i64.const 0x1_0000_0000))

  (data (i32.const 0) "kiln benchmark data segment")
  (data (i32.const 64) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f")

  (elem (i32.const 0) $get $bump $sum $scaled)

  (func $get (export "get") (result i32)
    global.get $counter)

  (func $bump (export "bump") (result i32)
    global.get $counter
    i32.const 1
    i32.add
    global.set $counter
    global.get $counter)

  (func $sum (export "sum") (param $ptr i32) (param $len i32) (result i32)
    (local $acc i32)
    block $done
      loop $again
        local.get $len
        i32.eqz
        br_if $done
        local.get $acc
        local.get $ptr
        i32.load8_u
        i32.add
        local.set $acc
        local.get $ptr
        i32.const 1
        i32.add
        local.set $ptr
        local.get $len
        i32.const 1
        i32.sub
        local.set $len
        br $again
      end
    end
    local.get $acc)

  (func $scaled (export "scaled") (param $x i32) (result i32)
    local.get $x
    f64.convert_i32_s
    global.get $scale
    f64.mul
    i32.trunc_sat_f64_s)

  (func (export "dispatch") (param $i i32) (result i32)
    local.get $i
    call $log
    local.get $i
    call_indirect (result i32))

  (func (export "store") (param $v i32)
    global.get $base
    local.get $v
    i32.store))
