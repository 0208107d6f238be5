;; Call-overhead benchmarks: host->wasm typed calls, wasm->host calls and a trap round trip.
(module
  (import "host" "inc" (func $inc (param i32) (result i32)))

  ;; An empty function: measures the bare cost of entering and leaving wasm.
  (func (export "nop"))

  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add)

  ;; Calls the host import `$n` times, threading an accumulator through it.
  (func (export "call_host_n") (param $n i32) (result i32)
    (local $acc i32)
    block $done
      loop $again
        local.get $n
        i32.eqz
        br_if $done
        local.get $acc
        call $inc
        local.set $acc
        local.get $n
        i32.const 1
        i32.sub
        local.set $n
        br $again
      end
    end
    local.get $acc)

  (func (export "trap")
    unreachable))
