//! kiln-fuzzing: generators and oracles that look for kiln's bugs, shared by the cargo-fuzz
//! targets in `fuzz/` (coverage-guided, nightly) and the ordinary test binary (`tests/all/
//! fuzzing.rs`: a few thousand seeded inputs on every CI run).
//!
//! Every target is a function from arbitrary bytes to `Result<Stats, Finding>`: the bytes drive
//! an [`arbitrary::Unstructured`], so libFuzzer's mutations and a seeded PRNG ([`seeded_bytes`])
//! feed the same code. A [`Finding`] names what went wrong and carries the module, which its
//! `Display` prints as `.wat`.
//!
//! - [`differential`]: wasm-smith modules (swarm configurations) on kiln against `wasmi` as an
//!   oracle, and kiln against itself across configurations (opt level, guard pages, Spectre
//!   guards, fuel on/off, AOT `.cwasm` vs JIT): results, traps, memories, globals and tables;
//! - [`single_inst`]: one module per numeric/conversion/SIMD-lane instruction on edge values,
//!   against `wasmi`;
//! - [`table_ops`]: random table operations and externrefs from the host, with expected traps
//!   computed by a model and every host externref released when the store is dropped;
//! - [`component`]: fused component adapters against the reference Canonical ABI (the
//!   `component_props` property test's generators, with a seed from the input);
//! - [`crash`]: arbitrary and mutated bytes through validate/compile/instantiate, and `.cwasm`
//!   under a mismatched config: `Ok` or `Err`, never a crash or hang.
//!
//! This crate must not be a dependency of kiln itself, and `wasmi` is only ever an oracle here:
//! nothing in kiln may call into it. Oracles must not report differences the spec allows (NaN
//! payloads, relaxed SIMD results, resource exhaustion at different depths); each filter says why.

pub mod component;
pub mod crash;
pub mod differential;
pub mod single_inst;
pub mod smith;
pub mod table_ops;
pub mod value;

use std::fmt;

/// What a target did with one input; summed over a run to show that a test exercised something.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Modules (or inputs) that got past generation.
    pub modules: u64,
    /// Calls (or operations) whose outcomes were compared or checked.
    pub checked: u64,
    /// Inputs or calls skipped: generation failed, the oracle refused, fuel or stack ran out.
    pub skipped: u64,
}

impl Stats {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: Stats) {
        self.modules += other.modules;
        self.checked += other.checked;
        self.skipped += other.skipped;
    }
}

/// A bug (or suspected bug) found by a target.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What differed or failed.
    pub message: String,
    /// The module the input produced, if any.
    pub wasm: Option<Vec<u8>>,
}

impl Finding {
    /// A finding about `wasm`.
    pub fn new(message: impl Into<String>, wasm: Option<&[u8]>) -> Finding {
        Finding { message: message.into(), wasm: wasm.map(<[u8]>::to_vec) }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message)?;
        if let Some(wasm) = &self.wasm {
            match wasmprinter::print_bytes(wasm) {
                Ok(text) => writeln!(f, "module:\n{text}")?,
                Err(e) => writeln!(f, "module ({} bytes, not printable: {e})", wasm.len())?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for Finding {}

/// A target's result for one input.
pub type TargetResult = Result<Stats, Finding>;

/// `len` bytes from a small PRNG (splitmix64) seeded with `seed`: the input of a seeded run.
pub fn seeded_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A fuzz target's body.
pub type Target = fn(&[u8]) -> TargetResult;

/// Every target by name, for the fuzz workspace, the seed-corpus script and the test binary.
pub const TARGETS: &[(&str, Target)] = &[
    ("differential_wasmi", differential::wasmi_target),
    ("differential_kiln", differential::kiln_target),
    ("single_inst", single_inst::target),
    ("table_ops", table_ops::target),
    ("crash_compile", crash::compile_target),
    ("crash_cwasm", crash::cwasm_target),
    ("component_adapters", component::target),
];

/// The target named `name` (see [`TARGETS`]).
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Runs the target `name` on `data` and panics with the finding (and its `.wat`), as a
/// libFuzzer target must to report a bug.
pub fn run_or_panic(name: &str, data: &[u8]) {
    let target = target(name).unwrap_or_else(|| panic!("no fuzz target `{name}`"));
    if let Err(finding) = target(data) {
        panic!("{name}: {finding}");
    }
}
