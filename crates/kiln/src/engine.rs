//! [`Config`] and [`Engine`]: compilation settings, the compiler, and engine-wide registries.

use crate::types::FuncType;
use anyhow::{Context, Result};
use kiln_cranelift::{Compiler, CompilerOptions};
use kiln_environ::{ModuleInfo, WasmFuncType, WasmSubType};
use kiln_runtime::{ArrayToWasmFn, CodeInfo, CodeMemory};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How hard Cranelift optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No optimisation: fastest compilation.
    None,
    /// Optimise for speed (the default).
    #[default]
    Speed,
    /// Optimise for speed and code size.
    SpeedAndSize,
}

/// Global settings for an [`Engine`].
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) opt_level: OptLevel,
    pub(crate) max_wasm_stack: usize,
    pub(crate) guard_pages: bool,
    pub(crate) spectre_guards: bool,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) gc_heap_limit: u64,
    pub(crate) multi_memory: bool,
    pub(crate) tail_call: bool,
    pub(crate) extended_const: bool,
    pub(crate) memory64: bool,
    pub(crate) custom_page_sizes: bool,
    pub(crate) wide_arithmetic: bool,
    pub(crate) function_references: bool,
    pub(crate) threads: bool,
    pub(crate) exceptions: bool,
    pub(crate) gc: bool,
    pub(crate) component_model_implements: bool,
    pub(crate) consume_fuel: bool,
    pub(crate) legacy_exceptions: bool,
    pub(crate) compact_imports: bool,
    pub(crate) custom_descriptors: bool,
    pub(crate) epoch_interruption: bool,
    /// Directory of the on-disk compile cache; `None` when the cache is off (see `cache.rs`).
    pub(crate) cache_dir: Option<std::path::PathBuf>,
    /// zstd level of new cache entries; `None` stores them uncompressed (see `cache.rs`).
    pub(crate) cache_compression: Option<i32>,
    pub(crate) simd: bool,
    pub(crate) relaxed_simd: bool,
    pub(crate) relaxed_simd_deterministic: bool,
    pub(crate) profiler: ProfilingStrategy,
}

/// How compiled code is made visible to profilers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfilingStrategy {
    /// Nothing is written.
    #[default]
    None,
    /// Every compiled function is appended to `/tmp/perf-PID.map` (`START SIZE NAME` per line),
    /// which `perf report` reads to name JIT code.
    PerfMap,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            opt_level: OptLevel::Speed,
            max_wasm_stack: 512 * 1024,
            guard_pages: true,
            spectre_guards: true,
            memory_limit: None,
            gc_heap_limit: 1 << 30,
            multi_memory: true,
            tail_call: true,
            extended_const: true,
            memory64: true,
            custom_page_sizes: false,
            wide_arithmetic: false,
            function_references: true,
            threads: true,
            exceptions: true,
            gc: true,
            component_model_implements: true,
            consume_fuel: false,
            legacy_exceptions: false,
            compact_imports: true,
            custom_descriptors: false,
            epoch_interruption: false,
            cache_dir: None,
            cache_compression: Some(crate::cache::DEFAULT_COMPRESSION),
            simd: true,
            relaxed_simd: true,
            relaxed_simd_deterministic: false,
            profiler: ProfilingStrategy::None,
        }
    }
}

impl Config {
    /// The default configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// Cranelift's optimisation level.
    pub fn cranelift_opt_level(&mut self, level: OptLevel) -> &mut Self {
        self.opt_level = level;
        self
    }

    /// Maximum bytes of native stack wasm may use before a call traps with "call stack exhausted".
    /// Must stay well below the host thread's stack size.
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Self {
        self.max_wasm_stack = bytes;
        self
    }

    /// Whether 32-bit memories reserve their whole index space plus a guard region, so that compiled
    /// code needs no bounds checks (the default). When off, every access is checked explicitly.
    pub fn memory_guard_pages(&mut self, enable: bool) -> &mut Self {
        self.guard_pages = enable;
        self
    }

    /// With explicit bounds checks, clamp the address on a failed check so that speculative
    /// execution cannot read out of bounds (the default).
    pub fn spectre_guards(&mut self, enable: bool) -> &mut Self {
        self.spectre_guards = enable;
        self
    }

    /// Frame pointers are always kept: backtraces walk them. Accepted for compatibility.
    pub fn preserve_frame_pointers(&mut self, _enable: bool) -> &mut Self {
        self
    }

    /// Whether modules may define or import more than one memory (the multi-memory proposal; on by
    /// default; component adapters always may).
    pub fn wasm_multi_memory(&mut self, enable: bool) -> &mut Self {
        self.multi_memory = enable;
        self
    }

    /// Tail calls: `return_call`, `return_call_indirect`, `return_call_ref` (on by default).
    pub fn wasm_tail_call(&mut self, enable: bool) -> &mut Self {
        self.tail_call = enable;
        self
    }

    /// Extended constant expressions: `i32/i64.add/sub/mul` in initialisers (on by default).
    pub fn wasm_extended_const(&mut self, enable: bool) -> &mut Self {
        self.extended_const = enable;
        self
    }

    /// 64-bit memories and tables (memory64 proposal; on by default). Accesses to 64-bit memories
    /// are always bounds-checked explicitly.
    pub fn wasm_memory64(&mut self, enable: bool) -> &mut Self {
        self.memory64 = enable;
        self
    }

    /// Memories with a page size of 1 byte (custom-page-sizes proposal; off by default, like
    /// toolchains, which do not emit it yet).
    pub fn wasm_custom_page_sizes(&mut self, enable: bool) -> &mut Self {
        self.custom_page_sizes = enable;
        self
    }

    /// 128-bit arithmetic: `i64.add128`, `i64.sub128`, `i64.mul_wide_s/u` (wide-arithmetic
    /// proposal; off by default).
    pub fn wasm_wide_arithmetic(&mut self, enable: bool) -> &mut Self {
        self.wide_arithmetic = enable;
        self
    }

    /// Typed function references: `(ref $t)`, `call_ref`, `br_on_null`, `br_on_non_null`,
    /// `ref.as_non_null`, non-nullable locals (on by default).
    pub fn wasm_function_references(&mut self, enable: bool) -> &mut Self {
        self.function_references = enable;
        self
    }

    /// Shared memories, atomics, `memory.atomic.wait*`/`notify` (threads proposal; on by default).
    pub fn wasm_threads(&mut self, enable: bool) -> &mut Self {
        self.threads = enable;
        self
    }

    /// Makes compiled code visible to a profiler (see [`ProfilingStrategy`]).
    pub fn profiler(&mut self, strategy: ProfilingStrategy) -> &mut Self {
        self.profiler = strategy;
        self
    }

    /// Exception handling: tags, `throw`, `throw_ref`, `try_table`, `exnref` (on by default).
    pub fn wasm_exceptions(&mut self, enable: bool) -> &mut Self {
        self.exceptions = enable;
        self
    }

    /// Accept the legacy exception-handling instructions (`try`, `catch`, `catch_all`, `rethrow`,
    /// `delegate`) that toolchains still emit (Emscripten, clang's `-fwasm-exceptions` before the
    /// `exnref` form); off by default, as in other runtimes. They interoperate with `try_table`
    /// and `throw` of the standard form.
    pub fn wasm_legacy_exceptions(&mut self, enable: bool) -> &mut Self {
        self.legacy_exceptions = enable;
        self
    }

    /// The compact import section (one module name for many imports, or one module name and
    /// type for many names; the `compact-import-section` proposal; on by default, as in
    /// wasmparser). It is only an encoding: the imports are the same once read.
    pub fn wasm_compact_imports(&mut self, enable: bool) -> &mut Self {
        self.compact_imports = enable;
        self
    }

    /// The custom-descriptors proposal (off by default; beyond wasm 3.0): exact reference types
    /// (`(ref (exact $t))`) and descriptors (`descriptor`/`describes` clauses, `struct.new_desc`,
    /// `struct.new_default_desc`, `ref.get_desc`, `ref.cast_desc_eq`, `br_on_cast_desc_eq*`).
    /// The host cannot allocate structs whose type has a descriptor.
    pub fn wasm_custom_descriptors(&mut self, enable: bool) -> &mut Self {
        self.custom_descriptors = enable;
        self
    }

    /// The GC proposal: struct and array types, subtyping, i31s, casts, and the collector that
    /// frees unreachable objects (see [`Config::gc_heap_limit`]); on by default. It only widens
    /// what validates: modules without GC types compile to the same code either way.
    pub fn wasm_gc(&mut self, enable: bool) -> &mut Self {
        self.gc = enable;
        self
    }

    /// Components may say which interface an import or export implements
    /// (`(import "a" (implements "ns:pkg/iface") ...)`, the Component Model's `implements`
    /// names; on by default). Off, such components fail to validate.
    pub fn wasm_component_model_implements(&mut self, enable: bool) -> &mut Self {
        self.component_model_implements = enable;
        self
    }

    /// The proposals [`Config::wasm_feature`] switches, in the reference runtime's `-W`
    /// spelling (`_` is accepted for `-`, as its test scripts' `;;!` lines write them).
    pub const WASM_FEATURE_NAMES: [&'static str; 16] = [
        "simd",
        "relaxed-simd",
        "tail-call",
        "extended-const",
        "multi-memory",
        "memory64",
        "custom-page-sizes",
        "wide-arithmetic",
        "function-references",
        "threads",
        "exceptions",
        "legacy-exceptions",
        "compact-imports",
        "custom-descriptors",
        "gc",
        "component-model-implements",
    ];

    /// Switches the proposal `name` (one of [`Config::WASM_FEATURE_NAMES`]) on or off: the
    /// by-name form of the `wasm_*` switches, for command lines and scripts.
    pub fn wasm_feature(&mut self, name: &str, enable: bool) -> anyhow::Result<&mut Self> {
        Ok(match name.replace('_', "-").as_str() {
            "simd" => self.wasm_simd(enable),
            "relaxed-simd" => self.wasm_relaxed_simd(enable),
            "tail-call" => self.wasm_tail_call(enable),
            "extended-const" => self.wasm_extended_const(enable),
            "multi-memory" => self.wasm_multi_memory(enable),
            "memory64" => self.wasm_memory64(enable),
            "custom-page-sizes" => self.wasm_custom_page_sizes(enable),
            "wide-arithmetic" => self.wasm_wide_arithmetic(enable),
            "function-references" => self.wasm_function_references(enable),
            "threads" => self.wasm_threads(enable),
            "exceptions" => self.wasm_exceptions(enable),
            "legacy-exceptions" => self.wasm_legacy_exceptions(enable),
            "compact-imports" => self.wasm_compact_imports(enable),
            "custom-descriptors" => self.wasm_custom_descriptors(enable),
            "gc" => self.wasm_gc(enable),
            "component-model-implements" => self.wasm_component_model_implements(enable),
            _ => anyhow::bail!("unsupported feature: {name} (kiln knows: {})", Config::WASM_FEATURE_NAMES.join(", ")),
        })
    }

    /// Whether modules may use 128-bit SIMD (`v128` and its operators; on by default).
    pub fn wasm_simd(&mut self, enable: bool) -> &mut Self {
        self.simd = enable;
        self
    }

    /// Whether modules may use the relaxed SIMD operators (on by default; needs
    /// [`Config::wasm_simd`]). Their results may differ between hosts within the bounds the spec
    /// allows, unless [`Config::relaxed_simd_deterministic`] is on.
    pub fn wasm_relaxed_simd(&mut self, enable: bool) -> &mut Self {
        self.relaxed_simd = enable;
        self
    }

    /// Whether every relaxed SIMD operator gives the result of the spec's deterministic profile,
    /// the same on every host (off by default: each operator takes the host's fastest allowed
    /// result, for example a fused multiply-add where the CPU has one).
    pub fn relaxed_simd_deterministic(&mut self, enable: bool) -> &mut Self {
        self.relaxed_simd_deterministic = enable;
        self
    }

    /// The wasm features modules are validated against.
    /// The Component Model features components are validated with.
    pub(crate) fn component_model_features(&self) -> wasmparser::WasmFeatures {
        let mut features = kiln_environ::component::component_model_features();
        features.set(wasmparser::WasmFeatures::CM_IMPLEMENTS, self.component_model_implements);
        features
    }

    pub(crate) fn features(&self) -> wasmparser::WasmFeatures {
        use wasmparser::WasmFeatures as F;
        let mut features = kiln_environ::supported_features();
        features.set(F::MULTI_MEMORY, self.multi_memory);
        features.set(F::TAIL_CALL, self.tail_call);
        features.set(F::EXTENDED_CONST, self.extended_const);
        features.set(F::MEMORY64, self.memory64);
        features.set(F::CUSTOM_PAGE_SIZES, self.custom_page_sizes);
        features.set(F::WIDE_ARITHMETIC, self.wide_arithmetic);
        features.set(F::FUNCTION_REFERENCES, self.function_references);
        features.set(F::THREADS, self.threads);
        features.set(F::EXCEPTIONS, self.exceptions);
        features.set(F::LEGACY_EXCEPTIONS, self.legacy_exceptions);
        features.set(F::COMPACT_IMPORTS, self.compact_imports);
        features.set(F::GC, self.gc);
        features.set(F::CUSTOM_DESCRIPTORS, self.custom_descriptors);
        features.set(F::SIMD, self.simd);
        features.set(F::RELAXED_SIMD, self.relaxed_simd);
        features
    }

    /// Whether wasm consumes fuel: every operator (but nop, drop, block, loop, end, else) costs
    /// one unit, and execution traps with [`crate::Trap::OutOfFuel`] when a store's fuel (see
    /// [`crate::Store::set_fuel`]) runs out. Checked at function entries and loop headers.
    pub fn consume_fuel(&mut self, enable: bool) -> &mut Self {
        self.consume_fuel = enable;
        self
    }

    /// Whether wasm can be interrupted: execution traps with [`crate::Trap::Interrupt`] once
    /// [`Engine::increment_epoch`] reaches a store's deadline (see
    /// [`crate::Store::set_epoch_deadline`]). Checked at function entries and loop headers.
    pub fn epoch_interruption(&mut self, enable: bool) -> &mut Self {
        self.epoch_interruption = enable;
        self
    }

    /// Upper bound on the size of every linear memory, in bytes.
    pub fn max_memory_size(&mut self, bytes: u64) -> &mut Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Upper bound on the bytes a store's GC objects take (1 GiB by default). An allocation that
    /// would pass it, even after a collection, traps with
    /// [`crate::Trap::GcHeapOutOfMemory`].
    pub fn gc_heap_limit(&mut self, bytes: u64) -> &mut Self {
        self.gc_heap_limit = bytes;
        self
    }
}

/// Compiles and runs WebAssembly. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub(crate) config: Config,
    pub(crate) compiler: Compiler,
    /// The epoch counter compiled code compares with each store's deadline.
    pub(crate) epoch: Box<std::sync::atomic::AtomicU64>,
    /// What precompiled code must have been compiled with to run here (see `serialize.rs`).
    pub(crate) compat: crate::serialize::CompatHeader,
    pub(crate) cache_counters: crate::cache::CacheCounters,
    types: Mutex<TypeRegistry>,
    /// The subtype relation of the registered types (shared with instances).
    pub(crate) hierarchy: Arc<kiln_runtime::gc::TypeHierarchy>,
    /// The GC descriptor of each type id, for objects' headers.
    pub(crate) gc_type_table: kiln_runtime::gc::GcTypeTable,
    trampolines: Mutex<Trampolines>,
}

#[derive(Default)]
struct TypeRegistry {
    /// Non-recursive types that form a group of their own (and host signatures), by structure.
    ids: HashMap<WasmSubType, u32>,
    /// Other recursion groups, by canonical form (see [`Engine::rec_group_ids`]): the id of their
    /// first member; the others follow it.
    groups: HashMap<Vec<WasmSubType>, u32>,
    /// Every registered type by id, with references as engine ids.
    types: Vec<WasmSubType>,
    /// The GC descriptor of every struct and array type, by id.
    gc_infos: Vec<Option<Arc<kiln_runtime::VMGcTypeInfo>>>,
}

impl TypeRegistry {
    /// Appends `ty` (in engine form) as the next id, with its supertype chain and GC descriptor.
    fn push(
        &mut self,
        ty: WasmSubType,
        hierarchy: &kiln_runtime::gc::TypeHierarchy,
        table: &kiln_runtime::gc::GcTypeTable,
    ) -> u32 {
        let id = self.types.len() as u32;
        let mut display: Vec<u32> = match ty.supertype {
            Some(sup) => hierarchy.display(sup).map(|d| d.to_vec()).unwrap_or_default(),
            None => Vec::new(),
        };
        display.push(id);
        let info: Option<Arc<kiln_runtime::VMGcTypeInfo>> =
            kiln_runtime::VMGcTypeInfo::new(id, display.clone(), &ty.composite, ty.descriptor.is_some()).map(Arc::from);
        // An id beyond the table cannot have objects: modules using it are refused (see
        // `Module::new`).
        if let Some(info) = &info {
            table.set(id, info);
        }
        self.gc_infos.push(info);
        hierarchy.push(id, display.into());
        self.types.push(ty);
        id
    }
}

/// The kinds of trampoline the engine compiles per signature (see docs/architecture.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TrampolineKind {
    /// wasm -> host array-call shim.
    HostArray,
    /// wasm -> host native shim.
    HostNative,
    /// host -> wasm, register arguments.
    NativeToWasm,
    /// host -> wasm, `[ValRaw]` buffer.
    ArrayToWasm,
}

/// Compiled trampolines by kind and signature, with the code that keeps them alive.
type Trampolines = HashMap<(TrampolineKind, WasmFuncType), (Arc<CodeMemory>, usize)>;

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("config", &self.inner.config).finish()
    }
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(&Config::default()).expect("default configuration is valid on this host")
    }
}

impl Engine {
    /// Creates an engine for the host with `config`.
    pub fn new(config: &Config) -> Result<Engine> {
        if config.relaxed_simd && !config.simd {
            anyhow::bail!("relaxed SIMD needs SIMD: disable `wasm_relaxed_simd` too, or enable `wasm_simd`");
        }
        if config.gc && !config.function_references {
            anyhow::bail!(
                "GC needs typed function references: disable `wasm_gc` too, or enable `wasm_function_references`"
            );
        }
        kiln_runtime::init_traps();
        let options = CompilerOptions {
            opt_level: match config.opt_level {
                OptLevel::None => kiln_cranelift::OptLevel::None,
                OptLevel::Speed => kiln_cranelift::OptLevel::Speed,
                OptLevel::SpeedAndSize => kiln_cranelift::OptLevel::SpeedAndSize,
            },
            guard_pages: config.guard_pages,
            spectre_guards: config.spectre_guards,
            consume_fuel: config.consume_fuel,
            epoch_interruption: config.epoch_interruption,
            relaxed_simd_deterministic: config.relaxed_simd_deterministic,
        };
        let compiler = Compiler::new(&options).context("failed to create the compiler for this host")?;
        let compat = crate::serialize::CompatHeader::new(config, &compiler);
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                compat,
                cache_counters: Default::default(),
                compiler,
                epoch: Box::new(std::sync::atomic::AtomicU64::new(0)),
                types: Mutex::default(),
                hierarchy: Arc::default(),
                gc_type_table: Default::default(),
                trampolines: Mutex::default(),
            }),
        })
    }

    /// Advances the epoch: wasm running in stores whose deadline it reaches traps with
    /// [`crate::Trap::Interrupt`] at its next check. Callable from any thread (for example a
    /// timer).
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The current epoch.
    pub(crate) fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether two handles are the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The engine-wide id of a signature (a final function type with no supertype).
    pub(crate) fn type_id(&self, ty: &WasmFuncType) -> u32 {
        self.sub_type_id(&WasmSubType::func(ty.clone()))
    }

    /// The engine-wide id of a defined type that forms a recursion group of its own (references
    /// and supertype as engine ids).
    pub(crate) fn sub_type_id(&self, ty: &WasmSubType) -> u32 {
        let mut registry = self.inner.types.lock().unwrap();
        if let Some(id) = registry.ids.get(ty) {
            return *id;
        }
        let id = registry.push(ty.clone(), &self.inner.hierarchy, &self.inner.gc_type_table);
        registry.ids.insert(ty.clone(), id);
        id
    }

    /// Whether engine type `sub` is `sup` or a declared subtype of it.
    pub(crate) fn is_subtype(&self, sub: u32, sup: u32) -> bool {
        self.inner.hierarchy.is_subtype(sub, sup)
    }

    /// The GC descriptor of engine type `id` (`None` for function types).
    pub(crate) fn gc_type_info(&self, id: u32) -> Option<Arc<kiln_runtime::VMGcTypeInfo>> {
        self.inner.types.lock().unwrap().gc_infos.get(id as usize).cloned().flatten()
    }

    /// The registered type `id`, in engine form.
    pub(crate) fn sub_type_of_id(&self, id: u32) -> Option<WasmSubType> {
        self.inner.types.lock().unwrap().types.get(id as usize).cloned()
    }

    /// The engine-wide ids of the members of a recursion group in canonical form: references to
    /// types outside the group are engine ids, and a reference to the group's member `j` is
    /// `Engine(rec_group_placeholder(j))`. Isomorphic groups get the same ids, member by member.
    pub(crate) fn rec_group_ids(&self, group: Vec<WasmSubType>) -> Vec<u32> {
        let mut registry = self.inner.types.lock().unwrap();
        let n = group.len() as u32;
        if let Some(base) = registry.groups.get(&group) {
            return (*base..*base + n).collect();
        }
        let base = registry.types.len() as u32;
        let resolve = |i: u32| match kiln_environ::rec_group_member(i) {
            Some(j) => base + j,
            None => i,
        };
        for ty in &group {
            let resolved = kiln_environ::map_engine_refs(ty, &resolve);
            registry.push(resolved, &self.inner.hierarchy, &self.inner.gc_type_table);
        }
        registry.groups.insert(group, base);
        (base..base + n).collect()
    }

    /// The function type with engine-wide id `id` (see [`crate::HeapType::ConcreteFunc`]).
    pub fn func_type_of_id(&self, id: u32) -> Option<FuncType> {
        self.type_of_id(id)
    }

    /// The signature registered as `id`.
    pub(crate) fn type_of_id(&self, id: u32) -> Option<FuncType> {
        let registry = self.inner.types.lock().unwrap();
        registry.types.get(id as usize).and_then(|t| t.as_func()).cloned().map(FuncType::from_env)
    }

    /// A trampoline of `kind` for signature `ty`, compiled on first use and cached.
    fn trampoline(&self, kind: TrampolineKind, ty: &WasmFuncType) -> Result<usize> {
        let mut cache = self.inner.trampolines.lock().unwrap();
        if let Some((_, addr)) = cache.get(&(kind, ty.clone())) {
            return Ok(*addr);
        }
        let compiler = &self.inner.compiler;
        let (compiled, offset) = match kind {
            TrampolineKind::HostArray => {
                let code = compiler.compile_host_trampoline(ty)?;
                let offset = code.host_trampoline;
                (code, offset)
            }
            TrampolineKind::HostNative => {
                let code = compiler.compile_native_host_trampoline(ty)?;
                let offset = code.host_trampoline;
                (code, offset)
            }
            TrampolineKind::NativeToWasm => {
                let code = compiler.compile_native_to_wasm_trampoline(ty)?;
                let offset = code.host_trampoline;
                (code, offset)
            }
            TrampolineKind::ArrayToWasm => {
                let info = ModuleInfo { types: vec![WasmSubType::func(ty.clone())], ..ModuleInfo::default() };
                let code = compiler.compile_module(&info, &[])?;
                let offset = code.array_to_wasm.first().copied().flatten();
                (code, offset)
            }
        };
        let offset = offset.context("the compiler returned no trampoline")?;
        let code = Arc::new(CodeMemory::new(&compiled.code, &compiled.relocs, CodeInfo::default())?);
        let addr = code.base() as usize + offset as usize;
        cache.insert((kind, ty.clone()), (code, addr));
        Ok(addr)
    }

    /// The wasm-calling-convention entry for host functions of signature `ty` (array call).
    pub(crate) fn host_trampoline(&self, ty: &WasmFuncType) -> Result<*const u8> {
        let addr = self.trampoline(TrampolineKind::HostArray, ty).context("failed to compile a host trampoline")?;
        Ok(addr as *const u8)
    }

    /// The wasm-calling-convention entry for host functions with a native shim, by signature.
    pub(crate) fn native_host_trampoline(&self, ty: &WasmFuncType) -> Result<*const u8> {
        let addr =
            self.trampoline(TrampolineKind::HostNative, ty).context("failed to compile a native host trampoline")?;
        Ok(addr as *const u8)
    }

    /// The typed-call entry trampoline for wasm functions of signature `ty` (at most one result).
    pub(crate) fn native_to_wasm_trampoline(&self, ty: &WasmFuncType) -> Result<*const u8> {
        let addr =
            self.trampoline(TrampolineKind::NativeToWasm, ty).context("failed to compile a typed-call trampoline")?;
        Ok(addr as *const u8)
    }

    /// The array-call entry trampoline for wasm functions of signature `ty`.
    pub(crate) fn array_to_wasm_trampoline(&self, ty: &WasmFuncType) -> Result<ArrayToWasmFn> {
        let addr = self.trampoline(TrampolineKind::ArrayToWasm, ty).context("failed to compile an entry trampoline")?;
        // SAFETY: the address is the start of a compiled trampoline with exactly this signature,
        // kept alive by the engine's cache.
        Ok(unsafe { std::mem::transmute::<usize, ArrayToWasmFn>(addr) })
    }
}

/// Compile-time check that the handles can cross threads.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
};
