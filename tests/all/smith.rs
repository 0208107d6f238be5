//! Random valid modules from `wasm-smith`, with exception handling, tail calls, SIMD, relaxed SIMD,
//! multi-memory, memory64, threads' atomics and wide arithmetic turned on, go through
//! `Module::new`, instantiation and a call of every exported function under fuel. Each step must
//! give `Ok` or an error (a trap, an uncaught exception, an unsupported feature named as such);
//! a crash takes the whole test binary down. The byte streams come from a seeded PRNG, so every
//! run tests the same modules.

use anyhow::{Result, bail};
use kiln::{Config, Engine, Instance, Module, Store, Val, ValType};
use libtest_mimic::{Failed, Trial};
use std::sync::Mutex;

const CHUNKS: u64 = 4;
const PER_CHUNK: u64 = 500;
const SEED: u64 = 0x6b69_6c6e_736d_6974;

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    modules: u64,
    compiled: u64,
    unsupported: u64,
    instantiated: u64,
    calls: u64,
    returned: u64,
    trapped: u64,
    uncaught_exceptions: u64,
}

impl Counts {
    const ZERO: Counts = Counts {
        modules: 0,
        compiled: 0,
        unsupported: 0,
        instantiated: 0,
        calls: 0,
        returned: 0,
        trapped: 0,
        uncaught_exceptions: 0,
    };

    fn add(&mut self, o: &Counts) {
        self.modules += o.modules;
        self.compiled += o.compiled;
        self.unsupported += o.unsupported;
        self.instantiated += o.instantiated;
        self.calls += o.calls;
        self.returned += o.returned;
        self.trapped += o.trapped;
        self.uncaught_exceptions += o.uncaught_exceptions;
    }
}

static TOTAL: Mutex<Counts> = Mutex::new(Counts::ZERO);

pub fn trials() -> Vec<Trial> {
    (0..CHUNKS)
        .map(|chunk| {
            Trial::test(format!("smith::random_modules_{chunk}"), move || {
                run_chunk(chunk).map_err(|e| Failed::from(format!("{e:?}")))
            })
        })
        .collect()
}

pub fn print_summary() {
    let c = *TOTAL.lock().unwrap_or_else(|e| e.into_inner());
    if c.modules > 0 {
        println!(
            "smith: {} random modules: {} compiled ({} refused as unsupported), {} instantiated; {} calls: {} returned, {} trapped ({} uncaught exceptions)",
            c.modules, c.compiled, c.unsupported, c.instantiated, c.calls, c.returned, c.trapped, c.uncaught_exceptions
        );
    }
}

fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.consume_fuel(true).wasm_wide_arithmetic(true).max_wasm_stack(256 * 1024);
    Engine::new(&config)
}

fn smith_config(u: &mut arbitrary::Unstructured<'_>) -> arbitrary::Result<wasm_smith::Config> {
    let mut config: wasm_smith::Config = u.arbitrary()?;
    config.gc_enabled = false;
    config.custom_page_sizes_enabled = false;
    config.shared_everything_threads_enabled = false;
    config.custom_descriptors_enabled = false;
    config.exceptions_enabled = true;
    // Tags make wasm-smith emit `throw`, `throw_ref` and `try_table`.
    config.min_tags = 1;
    config.max_tags = config.max_tags.max(2);
    config.tail_call_enabled = true;
    config.simd_enabled = true;
    config.max_imports = 0;
    config.min_funcs = 1;
    config.max_funcs = config.max_funcs.clamp(1, 20);
    config.max_instructions = config.max_instructions.min(200);
    config.export_everything = true;
    config.max_memory32_bytes = config.max_memory32_bytes.min(1 << 24);
    config.max_memory64_bytes = config.max_memory64_bytes.min(1 << 24);
    config.max_table_elements = config.max_table_elements.min(1000);
    Ok(config)
}

fn run_chunk(chunk: u64) -> Result<()> {
    let engine = engine()?;
    let mut counts = Counts::default();
    let mut state = SEED ^ chunk.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for case in 0..PER_CHUNK {
        let bytes: Vec<u8> = (0..4096).flat_map(|_| next().to_le_bytes()).collect();
        let mut u = arbitrary::Unstructured::new(&bytes);
        let Ok(config) = smith_config(&mut u) else { continue };
        let Ok(module) = wasm_smith::Module::new(config, &mut u) else { continue };
        let wasm = module.to_bytes();
        counts.modules += 1;
        let module = match Module::new(&engine, &wasm) {
            Ok(module) => module,
            Err(e) => {
                let message = format!("{e:?}");
                if message.contains("unsupported feature") {
                    counts.unsupported += 1;
                    continue;
                }
                bail!("chunk {chunk} case {case}: a valid module failed to compile: {message}");
            }
        };
        counts.compiled += 1;
        let mut store = Store::new(&engine, ());
        store.set_fuel(100_000)?;
        let Ok(instance) = Instance::new(&mut store, &module, &[]) else { continue };
        counts.instantiated += 1;
        let exports: Vec<String> = module.exports().map(|e| e.name().to_string()).collect();
        for name in exports {
            let Some(func) = instance.get_func(&mut store, &name) else { continue };
            let ty = func.ty(&store);
            // Non-nullable reference parameters have no value to pass from here.
            if ty.params().any(|t| matches!(t, ValType::Ref(r) if !r.is_nullable())) {
                continue;
            }
            let params: Vec<Val> = ty.params().map(Val::default_for).collect();
            let mut results = vec![Val::I32(0); ty.results().len()];
            store.set_fuel(100_000)?;
            counts.calls += 1;
            match func.call(&mut store, &params, &mut results) {
                Ok(()) => counts.returned += 1,
                Err(e) => {
                    counts.trapped += 1;
                    if e.downcast_ref::<kiln::ThrownException>().is_some() {
                        counts.uncaught_exceptions += 1;
                    } else if e.downcast_ref::<kiln::Trap>().is_none() {
                        bail!("chunk {chunk} case {case}: `{name}` failed without a trap: {e:?}");
                    }
                }
            }
        }
    }
    TOTAL.lock().unwrap_or_else(|e| e.into_inner()).add(&counts);
    if counts.compiled == 0 {
        bail!("chunk {chunk}: no module compiled ({counts:?})");
    }
    Ok(())
}
