;;! component_model_implements = false

;; With the `implements` names switched off (Config::wasm_component_model_implements), a
;; component that uses them does not validate, and one that does not is unaffected.
(assert_invalid
  (component (import "a" (implements "a:b/c") (instance)))
  "the `cm-implements` feature is not active")
(component (import "a:b/c" (instance)))
