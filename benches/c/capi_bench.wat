;; The module scripts/bench-capi calls through the C API: `add1` for host -> wasm calls, and
;; `call_host` for wasm -> host calls (it calls the imported `host.inc` n times).
(module
  (import "host" "inc" (func $inc (param i32) (result i32)))
  (func (export "add1") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)))
  (func (export "call_host") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $inc (local.get $acc)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (local.get $acc)))
