//! Builds the C setjmp/longjmp helper on architectures without kiln's own assembly version
//! (see `src/setjmp.rs`).
fn main() {
    println!("cargo:rerun-if-changed=src/helpers.c");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        cc::Build::new()
            .file("src/helpers.c")
            .flag_if_supported("-U_FORTIFY_SOURCE")
            .opt_level(2)
            .compile("kiln-helpers");
    }
}
