//! Every fuzz target of `kiln-fuzzing` (the bodies `fuzz/` runs under libFuzzer) over seeded
//! inputs, so CI runs them on the stable toolchain: one test per target, each input the bytes of
//! a small PRNG seeded with the target's seed plus the input's number. A failure prints the seed
//! and the module as `.wat`; rerun one input with `KILN_FUZZ_SEED` (decimal or `0x` hex).
//! `KILN_FUZZ_ITERS` multiplies the number of inputs (default 1).

use kiln_fuzzing::{Stats, TARGETS, seeded_bytes};
use libtest_mimic::{Failed, Trial};
use std::time::Instant;

/// Inputs per target at `KILN_FUZZ_ITERS=1`, and the input size.
const INPUTS: &[(&str, u64, usize)] = &[
    ("differential_wasmi", 2000, 4096),
    ("differential_kiln", 800, 4096),
    ("single_inst", 1000, 512),
    ("table_ops", 600, 1024),
    ("crash_compile", 2000, 4096),
    ("crash_cwasm", 600, 4096),
    ("component_adapters", 20, 8),
];

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The seed of input `i` of `target`: the target's name hashed (FNV-1a) plus `i`.
fn seed(target: &str, i: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in target.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h.wrapping_add(i)
}

pub fn trials() -> Vec<Trial> {
    let scale = std::env::var("KILN_FUZZ_ITERS").ok().and_then(|s| parse_u64(&s)).unwrap_or(1);
    let only = std::env::var("KILN_FUZZ_SEED").ok().and_then(|s| parse_u64(&s));
    TARGETS
        .iter()
        .map(|&(name, run)| {
            let (_, count, len) = *INPUTS.iter().find(|(n, ..)| *n == name).expect("every target has an input count");
            Trial::test(format!("fuzzing::{name}"), move || {
                let start = Instant::now();
                let mut total = Stats::default();
                let seeds: Vec<u64> = match only {
                    Some(s) => vec![s],
                    None => (0..count * scale).map(|i| seed(name, i)).collect(),
                };
                for s in seeds {
                    match run(&seeded_bytes(s, len)) {
                        Ok(stats) => total.add(stats),
                        Err(finding) => {
                            return Err(Failed::from(format!(
                                "{name}: seed {s:#x} (KILN_FUZZ_SEED={s:#x}):\n{finding}"
                            )));
                        }
                    }
                }
                println!("{name}: {total:?} in {:.1?}", start.elapsed());
                if total.checked == 0 {
                    return Err(Failed::from(format!("{name}: no input got as far as a check ({total:?})")));
                }
                Ok(())
            })
        })
        .collect()
}

/// Every instruction of `single_inst::INSTRUCTIONS` once (the random runs pick instructions at
/// random), under the default configuration with fuel, against wasmi.
pub fn every_instruction_trial() -> Trial {
    Trial::test("fuzzing::single_inst_every_instruction", || {
        let mut config = kiln::Config::new();
        config.consume_fuel(true);
        let mut total = Stats::default();
        for (i, spec) in kiln_fuzzing::single_inst::INSTRUCTIONS.iter().enumerate() {
            let args = seeded_bytes(i as u64, 512);
            let mut u = arbitrary::Unstructured::new(&args);
            match kiln_fuzzing::single_inst::run_instruction(&mut u, spec, &config) {
                Ok(stats) => total.add(stats),
                Err(finding) => return Err(Failed::from(format!("`{spec}`:\n{finding}"))),
            }
        }
        println!("single_inst_every_instruction: {total:?}");
        if total.modules != kiln_fuzzing::single_inst::INSTRUCTIONS.len() as u64 {
            return Err(Failed::from(format!("not every instruction ran: {total:?}")));
        }
        Ok(())
    })
}

/// The folder of regression cases: `tests/fuzz-cases/<target>/<case>`. A `.wat` file under
/// `differential_wasmi/` is a module run on kiln and wasmi (arguments from a fixed seed); any
/// other file is an input (raw bytes) for the target its folder names.
fn cases_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-cases")
}

/// One test per regression case.
pub fn case_trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    let Ok(targets) = std::fs::read_dir(cases_dir()) else { return trials };
    let mut paths: Vec<_> = targets
        .flatten()
        .flat_map(|dir| std::fs::read_dir(dir.path()).into_iter().flatten().flatten().map(|e| e.path()))
        .collect();
    paths.sort();
    for path in paths {
        let target = path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or("").to_string();
        let case = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        trials.push(Trial::test(format!("fuzzing::case::{target}::{case}"), move || run_case(&target, &path)));
    }
    trials
}

fn run_case(target: &str, path: &std::path::Path) -> Result<(), Failed> {
    let bytes = std::fs::read(path).map_err(|e| Failed::from(format!("{}: {e}", path.display())))?;
    let stats = if path.extension().is_some_and(|e| e == "wat") {
        if target != "differential_wasmi" {
            return Err(Failed::from(format!("{}: .wat cases belong under differential_wasmi/", path.display())));
        }
        let wasm = wat::parse_bytes(&bytes).map_err(|e| Failed::from(format!("{}: {e}", path.display())))?;
        let args = seeded_bytes(0xca5e, 4096);
        let mut u = arbitrary::Unstructured::new(&args);
        let mut config = kiln::Config::new();
        config.consume_fuel(true).wasm_wide_arithmetic(true);
        kiln_fuzzing::differential::wasmi_module(&mut u, &config, &wasm)
    } else {
        let run = kiln_fuzzing::target(target)
            .ok_or_else(|| Failed::from(format!("{}: no fuzz target `{target}`", path.display())))?;
        run(&bytes)
    };
    match stats {
        Ok(stats) if stats.checked > 0 => Ok(()),
        Ok(stats) => Err(Failed::from(format!("{}: nothing was checked ({stats:?})", path.display()))),
        Err(finding) => Err(Failed::from(format!("{}:\n{finding}", path.display()))),
    }
}

/// The differential oracle can fail: kiln running one module against wasmi running a slightly
/// different one must be reported, for a differing result, trap and memory byte each.
pub fn oracle_trial() -> Trial {
    Trial::test("fuzzing::oracle_detects_differences", || {
        use kiln_fuzzing::differential::{Exports, KilnSide, WasmiSide, compare_calls};
        let module = |result: &str, trap: &str, byte: u8| {
            format!(
                r#"(module (memory (export "m") 1)
                     (func (export "r") (result i32) {result})
                     (func (export "t") {trap})
                     (func (export "s") i32.const 8 i32.const {byte} i32.store8))"#
            )
        };
        let reference = module("i32.const 1", "unreachable", 7);
        let variants = [
            ("result", module("i32.const 2", "unreachable", 7), "`r`"),
            ("trap", module("i32.const 1", "i32.const 1 i32.const 0 i32.div_u drop", 7), "`t`"),
            ("memory", module("i32.const 1", "unreachable", 9), "memory `m` byte 8"),
        ];
        let mut config = kiln::Config::new();
        config.consume_fuel(true);
        let engine = kiln::Engine::new(&config).map_err(|e| Failed::from(e.to_string()))?;
        for (what, variant, expected) in variants {
            let kiln_wasm = wat::parse_str(&reference).map_err(|e| Failed::from(e.to_string()))?;
            let wasmi_wasm = wat::parse_str(&variant).map_err(|e| Failed::from(e.to_string()))?;
            let module = kiln::Module::new(&engine, &kiln_wasm).map_err(|e| Failed::from(e.to_string()))?;
            let exports = Exports::of(&module);
            let mut k = KilnSide::new(&engine, &module, true).map_err(|o| Failed::from(format!("{o:?}")))?;
            let mut w = WasmiSide::new(&wasmi_wasm)
                .map_err(|e| Failed::from(e.to_string()))?
                .map_err(|o| Failed::from(format!("{o:?}")))?;
            let bytes = seeded_bytes(1, 256);
            let mut u = arbitrary::Unstructured::new(&bytes);
            match compare_calls(&mut u, &exports, &mut w, &mut k, ("wasmi", "kiln"), &kiln_wasm) {
                Ok(stats) => return Err(Failed::from(format!("a different {what} went unnoticed ({stats:?})"))),
                Err(finding) if finding.message.contains(expected) => {}
                Err(finding) => return Err(Failed::from(format!("{what}: unexpected finding: {finding}"))),
            }
        }
        Ok(())
    })
}
