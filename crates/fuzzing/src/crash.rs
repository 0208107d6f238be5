//! Crash-only targets: whatever the input, kiln answers `Ok` or `Err`, never crashes or hangs.
//!
//! - [`compile_target`]: arbitrary bytes, or a wasm-smith module with bytes flipped, inserted or
//!   removed, through `Module::validate`, `Module::new`, instantiation and calls under fuel;
//! - [`cwasm_target`]: a module precompiled under one configuration and deserialized under
//!   another (perhaps corrupted on the way): it must load exactly when the two configurations
//!   agree on every setting that shapes the code, and then run like the JIT.

use crate::differential::{Exports, KilnSide, Side};
use crate::smith::{self, MEMORY_LIMIT, Profile};
use crate::value::Value;
use crate::{Finding, Stats, TargetResult};
use arbitrary::Unstructured;

fn fuel_config() -> kiln::Config {
    let mut c = kiln::Config::new();
    c.consume_fuel(true).wasm_wide_arithmetic(true).max_wasm_stack(256 * 1024).max_memory_size(MEMORY_LIMIT);
    c
}

/// Mutates `wasm` in place: 1 to 4 edits (flip a byte, insert one, remove a range).
pub fn mutate(u: &mut Unstructured<'_>, wasm: &mut Vec<u8>) -> arbitrary::Result<()> {
    for _ in 0..u.int_in_range(1..=4)? {
        if wasm.is_empty() {
            break;
        }
        let at = u.choose_index(wasm.len())?;
        match u.int_in_range(0u8..=2)? {
            0 => wasm[at] ^= u.int_in_range(1u8..=255)?,
            1 => wasm.insert(at, u.arbitrary()?),
            _ => {
                let end = (at + u.int_in_range(1usize..=16)?).min(wasm.len());
                wasm.drain(at..end);
            }
        }
    }
    Ok(())
}

/// Instantiates `module` under fuel and calls every export with zero arguments; only a crash
/// or a hang (fuel bounds it) is a failure, so outcomes are not checked.
fn run_under_fuel(engine: &kiln::Engine, module: &kiln::Module) -> u64 {
    let Ok(mut side) = KilnSide::new(engine, module, true) else { return 0 };
    let exports = Exports::of(module);
    let mut calls = 0;
    for (name, params, results) in &exports.funcs {
        if params.contains(&crate::value::Ty::Other) {
            continue;
        }
        let args: Vec<Value> = params.iter().map(|&t| Value::zero(t)).collect();
        side.call(name, &args, *results);
        calls += 1;
    }
    side.state(&exports);
    calls
}

/// Arbitrary or mutated bytes through validation, compilation, instantiation and calls.
pub fn compile_target(data: &[u8]) -> TargetResult {
    let mut u = Unstructured::new(data);
    let skip = Ok(Stats { skipped: 1, ..Stats::default() });
    let Ok(raw) = u.ratio(1, 4) else { return skip };
    let wasm = if raw {
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.extend_from_slice(u.take_rest());
        bytes
    } else {
        let Ok(mut wasm) = smith::module(&mut u, Profile::Kiln) else { return skip };
        if mutate(&mut u, &mut wasm).is_err() {
            return skip;
        }
        wasm
    };
    let engine = crate::differential::engine(&fuel_config()).map_err(|e| Finding::new(format!("{e:?}"), None))?;
    let valid = kiln::Module::validate(&engine, &wasm).is_ok();
    // Every outcome counts as a check: compiling is what is under test.
    let mut stats = Stats { modules: 1, checked: 1, ..Stats::default() };
    if let Ok(module) = kiln::Module::new(&engine, &wasm) {
        if !valid {
            return Err(Finding::new("Module::new accepted a module Module::validate rejects", Some(&wasm)));
        }
        stats.checked += run_under_fuel(&engine, &module);
    }
    Ok(stats)
}

/// The settings a precompiled module records and checks (see kiln's `serialize` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, arbitrary::Arbitrary)]
struct CodeSettings {
    opt: u8,
    guard_pages: bool,
    spectre: bool,
    fuel: bool,
    simd: bool,
    deterministic_relaxed: bool,
}

impl CodeSettings {
    fn config(self) -> kiln::Config {
        let mut c = kiln::Config::new();
        let opt =
            [kiln::OptLevel::None, kiln::OptLevel::Speed, kiln::OptLevel::SpeedAndSize][usize::from(self.opt % 3)];
        c.cranelift_opt_level(opt)
            .memory_guard_pages(self.guard_pages)
            .spectre_guards(self.spectre)
            .consume_fuel(self.fuel)
            .wasm_simd(self.simd)
            .wasm_relaxed_simd(self.simd)
            .relaxed_simd_deterministic(self.deterministic_relaxed)
            .max_memory_size(MEMORY_LIMIT);
        c
    }

    fn same_code(self, other: CodeSettings) -> bool {
        CodeSettings { opt: self.opt % 3, ..self } == CodeSettings { opt: other.opt % 3, ..other }
    }
}

/// `.cwasm` under a matching or mismatched configuration, sometimes corrupted.
pub fn cwasm_target(data: &[u8]) -> TargetResult {
    let mut u = Unstructured::new(data);
    let skip = Ok(Stats { skipped: 1, ..Stats::default() });
    let Ok(a) = u.arbitrary::<CodeSettings>() else { return skip };
    let Ok(b) = (if u.ratio(1, 2).unwrap_or(true) { Ok(a) } else { u.arbitrary::<CodeSettings>() }) else {
        return skip;
    };
    let Ok(corrupt) = u.ratio(1, 4) else { return skip };
    let Ok(wasm) = smith::module(&mut u, Profile::Kiln) else { return skip };
    let fail = |m: String| Finding::new(m, Some(&wasm));
    let engine_a = crate::differential::engine(&a.config()).map_err(|e| fail(format!("{e:?}")))?;
    let engine_b = crate::differential::engine(&b.config()).map_err(|e| fail(format!("{e:?}")))?;
    let Ok(mut cwasm) = engine_a.precompile_module(&wasm) else { return skip };
    let original = corrupt.then(|| cwasm.clone());
    if corrupt && mutate(&mut u, &mut cwasm).is_err() {
        return skip;
    }
    // Mutations can cancel out (a byte inserted, then removed): such a file is not corrupt.
    let corrupt = original.is_some_and(|o| o != cwasm);
    let mut stats = Stats { modules: 1, checked: 1, ..Stats::default() };
    // SAFETY: this is the API under test; a corrupted or mismatched file must be refused.
    let loaded = unsafe { kiln::Module::deserialize(&engine_b, &cwasm) };
    match loaded {
        Ok(_) if !a.same_code(b) => {
            return Err(fail(format!("a .cwasm compiled with {a:?} loaded into an engine with {b:?}")));
        }
        Err(e) if a.same_code(b) && !corrupt => {
            // Features can differ though settings agree (SIMD off makes smith's SIMD module invalid).
            if kiln::Module::new(&engine_b, &wasm).is_ok() {
                return Err(fail(format!(
                    "a .cwasm did not load into an engine with the same settings ({a:?}): {e:?}"
                )));
            }
            stats.skipped += 1;
        }
        // A corrupted file must be refused (checksums cover the payload, hashes the code):
        // loading one would run unchecked code.
        Ok(_) if corrupt => return Err(fail(format!("a corrupted .cwasm ({} bytes) loaded", cwasm.len()))),
        Ok(module) if b.fuel => stats.checked += run_under_fuel(&engine_b, &module),
        Ok(_) | Err(_) => {}
    }
    Ok(stats)
}
