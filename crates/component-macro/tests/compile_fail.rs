//! Misuse of the macros fails to compile with a message that says what is wrong; the expected
//! messages are the `.stderr` files beside each case in `tests/ui` (`TRYBUILD=overwrite`
//! rewrites them).

#[test]
fn macros_reject_misuse() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
