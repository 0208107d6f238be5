;; A WASI 0.2 command (for `wasi_p2::cli_options_for_components`): `wasi:cli/run` returns ok
;; when `get-terminal-stdout` gives a terminal, err otherwise.
(component
  (import "wasi:cli/terminal-output@0.2.12" (instance $to
    (export "terminal-output" (type (sub resource)))))
  (alias export $to "terminal-output" (type $t))
  (import "wasi:cli/terminal-stdout@0.2.12" (instance $ts
    (alias outer 1 $t (type $t'))
    (export "terminal-output" (type $tt (eq $t')))
    (export "get-terminal-stdout" (func (result (option (own $tt)))))))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (core func $get (canon lower (func $ts "get-terminal-stdout") (memory (core memory $mem "mem"))))
  (core func $drop (canon resource.drop $t))
  (core module $M
    (import "" "mem" (memory 1))
    (import "" "get" (func $get (param i32)))
    (import "" "drop" (func $drop (param i32)))
    ;; 0 (ok) when stdout is a terminal, 1 (err) otherwise.
    (func (export "run") (result i32)
      (call $get (i32.const 8))
      (if (result i32) (i32.load8_u (i32.const 8))
        (then (call $drop (i32.load (i32.const 12))) (i32.const 0))
        (else (i32.const 1)))))
  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem")) (export "get" (func $get)) (export "drop" (func $drop))))))
  (func $run (result (result)) (canon lift (core func $m "run")))
  (instance $inst (export "run" (func $run)))
  (export "wasi:cli/run@0.2.12" (instance $inst)))
