//! Builds the tiny C helper that provides setjmp/longjmp (a function that returns twice cannot be
//! written in Rust).
fn main() {
    println!("cargo:rerun-if-changed=src/helpers.c");
    cc::Build::new().file("src/helpers.c").flag_if_supported("-U_FORTIFY_SOURCE").opt_level(2).compile("kiln-helpers");
}
