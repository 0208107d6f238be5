;; The smallest thing `kiln run` runs: without `--invoke` it calls `_start`.
;; (There is no WASI yet, so this module cannot print by itself: it leaves
;; "Hello, world!" in its exported memory and returns the string's length.)
;;
;;   kiln run examples/hello.wat                  # 13
;;   kiln run examples/hello.wat --invoke answer  # 42
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "Hello, world!")
  (func (export "_start") (result i32)
    (i32.const 13))
  (func (export "answer") (result i32)
    (i32.const 42))
)
