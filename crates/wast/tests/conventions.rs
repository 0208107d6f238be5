//! The runner's component conventions, on `component-conventions.wast`, and assertions that must
//! fail when the component is rejected for the wrong reason.

use kiln::{Engine, Store};
use kiln_wast::WastContext;

fn run(text: &str) -> kiln_wast::WastStats {
    let engine = Engine::default();
    let mut cx = WastContext::new(Store::new(&engine, ()));
    cx.run_buffer("test.wast", text).unwrap()
}

#[test]
fn component_conventions() {
    let stats = run(include_str!("component-conventions.wast"));
    stats.check().unwrap();
    assert!(stats.passed >= 20, "{stats}");
}

#[test]
fn component_assertions_check_the_message() {
    // Rejected, but for another reason than the script expects.
    let stats = run(r#"(assert_invalid (component (type (flags))) "cannot have more than 32 flags")"#);
    assert_eq!(stats.failed, 1, "{stats}");
    assert!(stats.failures[0].message.contains("flags must have at least one entry"), "{stats:?}");
    let stats = run(r#"(assert_unlinkable (component (import "nope" (func))) "wrong type")"#);
    assert_eq!(stats.failed, 1, "{stats}");
    // A part of the message is enough.
    let stats = run(r#"(assert_invalid (component (type (flags))) "at least one entry")"#);
    stats.check().unwrap();
}

#[test]
fn unnamed_components_are_not_registered() {
    let stats = run(r#"
        (component
          (core module $m (func (export "f")))
          (core instance $i (instantiate $m))
          (func (export "f") (canon lift (core func $i "f"))))
        (assert_unlinkable
          (component (import "f" (func)))
          "`f` has not been defined")
    "#);
    stats.check().unwrap();
}
