//! libFuzzer target `crash_cwasm`: `kiln_fuzzing`'s body of the same name (see its docs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kiln_fuzzing::run_or_panic("crash_cwasm", data));
