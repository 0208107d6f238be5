//! Differential execution: the same module, instantiated and called with the same arguments on
//! two sides, must give the same outcomes (results with NaNs canonical, traps by kind) and
//! leave the same state (exported memories, globals, tables) after every call.
//!
//! Sides: kiln under a configuration drawn from the input, and either `wasmi` (an independent
//! interpreter: [`wasmi_target`]) or kiln under another configuration, perhaps precompiled to
//! `.cwasm` and deserialized ([`kiln_target`]).

use crate::smith::{self, MEMORY_LIMIT, Profile};
use crate::value::{Outcome, State, Ty, Value, kiln_error, ty_of_kiln, wasmi_error};
use crate::{Finding, Stats, TargetResult};
use arbitrary::Unstructured;
use kiln::ExternType;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Fuel for each call (and for instantiation, which may run a start function).
pub const FUEL: u64 = 20_000;
/// Calls of each exported function per module.
const CALLS_PER_FUNC: usize = 2;

/// A module's exports, as the comparison needs them.
#[derive(Debug, Clone, Default)]
pub struct Exports {
    /// Name, parameter types and number of results of each exported function.
    pub funcs: Vec<(String, Vec<Ty>, usize)>,
    pub memories: Vec<String>,
    pub globals: Vec<String>,
    pub tables: Vec<String>,
}

impl Exports {
    /// The exports of a compiled kiln module.
    pub fn of(module: &kiln::Module) -> Exports {
        let mut e = Exports::default();
        for export in module.exports() {
            let name = export.name().to_string();
            match export.ty() {
                ExternType::Func(f) => {
                    e.funcs.push((name, f.params().map(|t| ty_of_kiln(&t)).collect(), f.results().len()))
                }
                ExternType::Memory(_) => e.memories.push(name),
                ExternType::Global(_) => e.globals.push(name),
                ExternType::Table(_) => e.tables.push(name),
                ExternType::Tag(_) => {}
            }
        }
        e
    }
}

/// One engine running one instance.
pub trait Side {
    /// Calls the export `name`.
    fn call(&mut self, name: &str, args: &[Value], results: usize) -> Outcome;
    /// The exports' state now.
    fn state(&mut self, exports: &Exports) -> State;
}

/// A kiln instance. With `fuel` off, calls run without a bound: only run them after the other
/// side has shown that the same call ends.
pub struct KilnSide {
    store: kiln::Store<()>,
    instance: kiln::Instance,
    fuel: bool,
}

/// The kiln configuration the input selects: opt level, guard pages (else explicit bounds
/// checks), Spectre guards, fuel.
pub fn kiln_config(u: &mut Unstructured<'_>, profile: Profile, fuel: bool) -> arbitrary::Result<kiln::Config> {
    let mut c = kiln::Config::new();
    let opt = *u.choose(&[kiln::OptLevel::None, kiln::OptLevel::Speed, kiln::OptLevel::SpeedAndSize])?;
    c.cranelift_opt_level(opt)
        .memory_guard_pages(u.arbitrary()?)
        .spectre_guards(u.arbitrary()?)
        .consume_fuel(fuel)
        .wasm_wide_arithmetic(true)
        .max_wasm_stack(256 * 1024)
        .max_memory_size(MEMORY_LIMIT);
    if profile != Profile::Wasmi {
        // Relaxed SIMD results may differ between lowerings; the deterministic profile may not.
        c.relaxed_simd_deterministic(true);
        // A small GC heap, so that generated allocation loops collect (and run out) often.
        c.wasm_gc(true).gc_heap_limit(1 << 20);
    }
    Ok(c)
}

/// An engine for `config`, shared by every input with the same configuration: building one
/// costs more than compiling a small module, and the configurations drawn are few.
pub fn engine(config: &kiln::Config) -> anyhow::Result<kiln::Engine> {
    static ENGINES: Mutex<BTreeMap<String, kiln::Engine>> = Mutex::new(BTreeMap::new());
    let key = format!("{config:?}");
    let mut engines = ENGINES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(engine) = engines.get(&key) {
        return Ok(engine.clone());
    }
    let engine = kiln::Engine::new(config)?;
    engines.insert(key, engine.clone());
    Ok(engine)
}

impl KilnSide {
    /// Instantiates `module`; `Err` is the instantiation's outcome.
    pub fn new(engine: &kiln::Engine, module: &kiln::Module, fuel: bool) -> Result<KilnSide, Outcome> {
        let mut store = kiln::Store::new(engine, ());
        if fuel {
            store.set_fuel(FUEL).map_err(|e| kiln_error(&e))?;
        }
        let instance = kiln::Instance::new(&mut store, module, &[]).map_err(|e| kiln_error(&e))?;
        Ok(KilnSide { store, instance, fuel })
    }
}

impl Side for KilnSide {
    fn call(&mut self, name: &str, args: &[Value], results: usize) -> Outcome {
        let Some(func) = self.instance.get_func(&mut self.store, name) else {
            return Outcome::Error(format!("no function `{name}`"));
        };
        if self.fuel
            && let Err(e) = self.store.set_fuel(FUEL)
        {
            return kiln_error(&e);
        }
        let params: Vec<kiln::Val> = args.iter().map(|v| v.to_kiln()).collect();
        let mut out = vec![kiln::Val::I32(0); results];
        match func.call(&mut self.store, &params, &mut out) {
            Ok(()) => Outcome::Returned(out.iter().map(Value::from_kiln).collect()),
            Err(e) => kiln_error(&e),
        }
    }

    fn state(&mut self, exports: &Exports) -> State {
        let mut s = State::default();
        for name in &exports.memories {
            if let Some(m) = self.instance.get_memory(&mut self.store, name) {
                s.memories.push((name.clone(), m.data(&self.store).to_vec()));
            }
        }
        for name in &exports.globals {
            if let Some(g) = self.instance.get_global(&mut self.store, name) {
                s.globals.push((name.clone(), Value::from_kiln(&g.get(&mut self.store)).canonical()));
            }
        }
        for name in &exports.tables {
            if let Some(t) = self.instance.get_table(&mut self.store, name) {
                let size = t.size(&self.store);
                let nulls = (0..size).map(|i| t.get(&mut self.store, i).is_some_and(|v| !is_null(&v))).collect();
                s.tables.push((name.clone(), nulls));
            }
        }
        s
    }
}

fn is_null(v: &kiln::Val) -> bool {
    matches!(Value::from_kiln(v), Value::FuncRef(true) | Value::ExternRef(true) | Value::ExnRef(true))
}

/// A wasmi instance (always with fuel).
pub struct WasmiSide {
    store: wasmi::Store<wasmi::StoreLimits>,
    instance: wasmi::Instance,
}

impl WasmiSide {
    /// Compiles and instantiates `wasm`. `Ok(Err(_))` is the instantiation's outcome; `Err(_)`
    /// means wasmi did not accept the module (then there is nothing to compare with).
    pub fn new(wasm: &[u8]) -> Result<Result<WasmiSide, Outcome>, wasmi::Error> {
        let mut config = wasmi::Config::default();
        config
            .consume_fuel(true)
            .wasm_wide_arithmetic(true)
            .wasm_relaxed_simd(false)
            .compilation_mode(wasmi::CompilationMode::Eager);
        let engine = wasmi::Engine::new(&config);
        let module = wasmi::Module::new(&engine, wasm)?;
        let limits = wasmi::StoreLimitsBuilder::new().memory_size(MEMORY_LIMIT as usize).build();
        let mut store = wasmi::Store::new(&engine, limits);
        store.limiter(|limits| limits);
        store.set_fuel(FUEL)?;
        Ok(match wasmi::Instance::new(&mut store, &module, &[]) {
            Ok(instance) => Ok(WasmiSide { store, instance }),
            Err(e) => Err(wasmi_error(&e)),
        })
    }
}

impl Side for WasmiSide {
    fn call(&mut self, name: &str, args: &[Value], results: usize) -> Outcome {
        let Some(func) = self.instance.get_func(&self.store, name) else {
            return Outcome::Error(format!("no function `{name}`"));
        };
        if let Err(e) = self.store.set_fuel(FUEL) {
            return wasmi_error(&e);
        }
        let params: Vec<wasmi::Val> = args.iter().map(|v| v.to_wasmi()).collect();
        let mut out = vec![wasmi::Val::I32(0); results];
        match func.call(&mut self.store, &params, &mut out) {
            Ok(()) => Outcome::Returned(out.iter().map(Value::from_wasmi).collect()),
            Err(e) => wasmi_error(&e),
        }
    }

    fn state(&mut self, exports: &Exports) -> State {
        let mut s = State::default();
        for name in &exports.memories {
            if let Some(m) = self.instance.get_memory(&self.store, name) {
                s.memories.push((name.clone(), m.data(&self.store).to_vec()));
            }
        }
        for name in &exports.globals {
            if let Some(g) = self.instance.get_global(&self.store, name) {
                s.globals.push((name.clone(), Value::from_wasmi(&g.get(&self.store)).canonical()));
            }
        }
        for name in &exports.tables {
            if let Some(t) = self.instance.get_table(&self.store, name) {
                let size = t.size(&self.store);
                let nulls = (0..size)
                    .map(|i| match t.get(&self.store, i) {
                        Some(wasmi::Val::FuncRef(r)) => !r.is_null(),
                        Some(wasmi::Val::ExternRef(r)) => !r.is_null(),
                        _ => false,
                    })
                    .collect();
                s.tables.push((name.clone(), nulls));
            }
        }
        s
    }
}

/// Whether two outcomes agree. Errors that are not traps agree with each other whatever their
/// text (engines word them differently).
fn agree(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Outcome::Error(_), Outcome::Error(_)) => true,
        (a, b) => a.clone().canonical() == b.clone().canonical(),
    }
}

/// Calls every exported function of `exports` on both sides with the same arguments from `u`
/// and compares. `a` must have fuel: `b` is only called once `a` has shown the call ends.
pub fn compare_calls(
    u: &mut Unstructured<'_>,
    exports: &Exports,
    a: &mut dyn Side,
    b: &mut dyn Side,
    names: (&str, &str),
    wasm: &[u8],
) -> TargetResult {
    let mut stats = Stats { modules: 1, ..Stats::default() };
    let initial = (a.state(exports), b.state(exports));
    if let Some(d) = initial.0.diff(&initial.1) {
        return Err(Finding::new(
            format!("state after instantiation differs ({} vs {}): {d}", names.0, names.1),
            Some(wasm),
        ));
    }
    for _ in 0..CALLS_PER_FUNC {
        for (name, params, results) in &exports.funcs {
            if params.contains(&Ty::Other) {
                stats.skipped += 1;
                continue;
            }
            let args = params.iter().map(|&t| Value::arbitrary(u, t)).collect::<arbitrary::Result<Vec<_>>>();
            let Ok(args) = args else { return Ok(stats) };
            let oa = a.call(name, &args, *results);
            if oa.exhausted() {
                stats.skipped += 1;
                return Ok(stats);
            }
            let ob = b.call(name, &args, *results);
            if ob.exhausted() {
                stats.skipped += 1;
                return Ok(stats);
            }
            if !agree(&oa, &ob) {
                return Err(Finding::new(
                    format!("`{name}`({args:?}): {} gave {oa:?}, {} gave {ob:?}", names.0, names.1),
                    Some(wasm),
                ));
            }
            let (sa, sb) = (a.state(exports), b.state(exports));
            if let Some(d) = sa.diff(&sb) {
                return Err(Finding::new(
                    format!("after `{name}`({args:?}) -> {oa:?}: state differs ({} vs {}): {d}", names.0, names.1),
                    Some(wasm),
                ));
            }
            stats.checked += 1;
        }
    }
    Ok(stats)
}

/// kiln (a configuration drawn from the input) against wasmi on a wasm-smith module.
pub fn wasmi_target(data: &[u8]) -> TargetResult {
    let mut u = Unstructured::new(data);
    let skip = Ok(Stats { skipped: 1, ..Stats::default() });
    let Ok(config) = kiln_config(&mut u, Profile::Wasmi, true) else { return skip };
    let Ok(wasm) = smith::module(&mut u, Profile::Wasmi) else { return skip };
    wasmi_module(&mut u, &config, &wasm)
}

/// kiln under `config` against wasmi on `wasm`, with arguments from `u` (also the entry point
/// for `.wat` regression cases).
pub fn wasmi_module(u: &mut Unstructured<'_>, config: &kiln::Config, wasm: &[u8]) -> TargetResult {
    let skip = Ok(Stats { skipped: 1, ..Stats::default() });
    let engine = engine(config).map_err(|e| Finding::new(format!("Engine::new: {e:?}"), None))?;
    // wasmi refusing a module (a limit of its own) leaves nothing to compare.
    let Ok(oracle) = WasmiSide::new(wasm) else { return skip };
    let module = match kiln::Module::new(&engine, wasm) {
        Ok(m) => m,
        Err(e) => return Err(Finding::new(format!("kiln rejected a module wasmi accepts: {e:?}"), Some(wasm))),
    };
    let exports = Exports::of(&module);
    let kiln_side = KilnSide::new(&engine, &module, true);
    match (oracle, kiln_side) {
        (Ok(mut w), Ok(mut k)) => compare_calls(u, &exports, &mut w, &mut k, ("wasmi", "kiln"), wasm),
        (Err(a), Err(b)) if agree(&a, &b) || a.exhausted() || b.exhausted() => skip,
        // A resource error (not a trap) on one side only, such as a memory limit: not comparable.
        (Err(Outcome::Error(_)), Ok(_)) | (Ok(_), Err(Outcome::Error(_))) => skip,
        (Err(a), Ok(_)) if a.exhausted() => skip,
        (Ok(_), Err(b)) if b.exhausted() => skip,
        (w, k) => {
            Err(Finding::new(format!("instantiation: wasmi gave {:?}, kiln gave {:?}", w.err(), k.err()), Some(wasm)))
        }
    }
}

/// kiln against kiln: two configurations drawn from the input (opt level, guard pages vs
/// explicit bounds checks, Spectre guards), the second perhaps without fuel and perhaps through
/// `.cwasm` (serialize, deserialize) instead of JIT.
pub fn kiln_target(data: &[u8]) -> TargetResult {
    let mut u = Unstructured::new(data);
    let skip = Ok(Stats { skipped: 1, ..Stats::default() });
    let Ok(config_a) = kiln_config(&mut u, Profile::KilnGc, true) else { return skip };
    let Ok(fuel_b) = u.arbitrary::<bool>() else { return skip };
    let Ok(aot_b) = u.arbitrary::<bool>() else { return skip };
    let Ok(config_b) = kiln_config(&mut u, Profile::KilnGc, fuel_b) else { return skip };
    let Ok(wasm) = smith::module(&mut u, Profile::KilnGc) else { return skip };
    let fail = |what: &str, e: anyhow::Error| Finding::new(format!("{what}: {e:?}"), Some(&wasm));
    let engine_a = engine(&config_a).map_err(|e| fail("Engine::new", e))?;
    let engine_b = engine(&config_b).map_err(|e| fail("Engine::new", e))?;
    let module_a = match kiln::Module::new(&engine_a, &wasm) {
        Ok(m) => m,
        Err(e) if format!("{e:?}").contains("unsupported feature") => return skip,
        Err(e) => return Err(fail("a valid module failed to compile", e)),
    };
    let module_b = if aot_b {
        let bytes = engine_b.precompile_module(&wasm).map_err(|e| fail("precompile_module", e))?;
        // SAFETY: the bytes were just produced by `precompile_module` for this engine's config.
        unsafe { kiln::Module::deserialize(&engine_b, &bytes) }.map_err(|e| fail("Module::deserialize", e))?
    } else {
        kiln::Module::new(&engine_b, &wasm).map_err(|e| fail("compiles under config A but not B", e))?
    };
    let exports = Exports::of(&module_a);
    let names = ("kiln A", if aot_b { "kiln B (.cwasm)" } else { "kiln B" });
    let a = KilnSide::new(&engine_a, &module_a, true);
    // B without fuel may only instantiate once A has shown that the start function ends.
    match a {
        Err(oa) if oa.exhausted() => skip,
        Err(oa) => match KilnSide::new(&engine_b, &module_b, fuel_b) {
            Err(ob) if agree(&oa, &ob) || ob.exhausted() => skip,
            b => Err(Finding::new(
                format!("instantiation: {} gave {oa:?}, {} gave {:?}", names.0, names.1, b.err()),
                Some(&wasm),
            )),
        },
        Ok(mut a) => match KilnSide::new(&engine_b, &module_b, fuel_b) {
            Ok(mut b) => compare_calls(&mut u, &exports, &mut a, &mut b, names, &wasm),
            Err(ob) if ob.exhausted() => skip,
            Err(ob) => {
                Err(Finding::new(format!("instantiation: {} succeeded, {} gave {ob:?}", names.0, names.1), Some(&wasm)))
            }
        },
    }
}
