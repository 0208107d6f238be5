//! kiln's runner for `*.wast` scripts, the format of the WebAssembly specification test suite.
//!
//! A [`WastContext`] owns a [`Store`] and a [`Linker`], executes every directive of a script and
//! counts the outcome of each one in [`WastStats`]. It does not stop at the first failing
//! directive: a test harness wants the full counts, and one broken instruction should not hide
//! the state of the rest of a file. A file as a whole has failed if any directive failed or was
//! unsupported; [`WastStats::check`] turns that into an error.
//!
//! ```no_run
//! use kiln::{Engine, Store};
//! use kiln_wast::{SpectestConfig, WastContext};
//!
//! # fn main() -> anyhow::Result<()> {
//! let engine = Engine::default();
//! let mut cx = WastContext::new(Store::new(&engine, ()));
//! cx.register_spectest(&SpectestConfig::default())?;
//! let stats = cx.run_file("tests/misc/example.wast".as_ref())?;
//! println!("{stats}");
//! stats.check()?;
//! # Ok(())
//! # }
//! ```

pub mod component;

use anyhow::{Context as _, Result, anyhow};
use kiln::component::Component;
use kiln::{
    Engine, Extern, ExternRef, Global, GlobalType, Instance, Linker, Memory, MemoryType, Module, Mutability, RefType,
    Store, Table, TableType, Trap, Val, ValType,
};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::lexer::Lexer;
use wast::parser::ParseBuffer;
use wast::token::{F32, F64, Span};
use wast::{QuoteWat, QuoteWatTest, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// How the `spectest` module is set up.
#[derive(Debug, Clone, Default)]
pub struct SpectestConfig {
    /// Do not print anything when the script calls `spectest.print*`.
    pub suppress_prints: bool,
}

/// One directive that did not do what the script expected.
#[derive(Debug, Clone)]
pub struct WastFailure {
    /// The script's name, as given to [`WastContext::run_buffer`].
    pub file: String,
    /// 1-based line of the directive.
    pub line: usize,
    /// 1-based column of the directive.
    pub col: usize,
    /// The directive's kind, e.g. `assert_return`.
    pub directive: &'static str,
    /// What went wrong: expected versus actual.
    pub message: String,
    /// Whether the directive was not run because kiln does not support it.
    pub unsupported: bool,
}

impl fmt::Display for WastFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}{}: {}",
            self.file,
            self.line,
            self.col,
            if self.unsupported { "unsupported " } else { "" },
            self.directive,
            self.message
        )
    }
}

/// Directive counts of one or more scripts.
#[derive(Debug, Clone, Default)]
pub struct WastStats {
    /// Directives that did what the script expected.
    pub passed: usize,
    /// Directives that did not.
    pub failed: usize,
    /// Directives that kiln does not support (threads, components, exceptions, ...).
    pub unsupported: usize,
    /// Directives skipped on request (see [`WastContext::skip_lines`]).
    pub skipped: usize,
    /// One entry per failed or unsupported directive.
    pub failures: Vec<WastFailure>,
}

impl WastStats {
    /// Total number of directives seen.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.unsupported + self.skipped
    }

    /// Whether every directive that ran passed and none was unsupported.
    pub fn is_ok(&self) -> bool {
        self.failed == 0 && self.unsupported == 0
    }

    /// `Ok` if [`WastStats::is_ok`], otherwise an error listing every failure.
    pub fn check(&self) -> Result<()> {
        if self.is_ok() {
            return Ok(());
        }
        let mut msg = format!("{self}\n");
        for failure in &self.failures {
            msg.push_str(&format!("  {failure}\n"));
        }
        Err(anyhow!(msg))
    }

    /// Adds the counts (and failures) of `other` to `self`.
    pub fn merge(&mut self, other: WastStats) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.unsupported += other.unsupported;
        self.skipped += other.skipped;
        self.failures.extend(other.failures);
    }
}

impl fmt::Display for WastStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} directives: {} passed, {} failed, {} unsupported, {} skipped",
            self.total(),
            self.passed,
            self.failed,
            self.unsupported,
            self.skipped
        )
    }
}

/// Defines in `linker` the `spectest` module that the specification interpreter provides to
/// scripts: `print*` functions, globals `global_i32` (666), `global_i64` (666), `global_f32`
/// (666.6), `global_f64` (666.6), a funcref `table` (10..20 elements) and a `memory` (1..2
/// pages).
pub fn define_spectest<T: 'static>(
    linker: &mut Linker<T>,
    store: &mut Store<T>,
    config: &SpectestConfig,
) -> Result<()> {
    let quiet = config.suppress_prints;
    linker.func_wrap("spectest", "print", move || spectest_print(quiet, &[]))?;
    linker.func_wrap("spectest", "print_i32", move |v: i32| spectest_print(quiet, &[(&v, "i32")]))?;
    linker.func_wrap("spectest", "print_i64", move |v: i64| spectest_print(quiet, &[(&v, "i64")]))?;
    linker.func_wrap("spectest", "print_f32", move |v: f32| spectest_print(quiet, &[(&v, "f32")]))?;
    linker.func_wrap("spectest", "print_f64", move |v: f64| spectest_print(quiet, &[(&v, "f64")]))?;
    linker.func_wrap("spectest", "print_i32_f32", move |a: i32, b: f32| {
        spectest_print(quiet, &[(&a, "i32"), (&b, "f32")])
    })?;
    linker.func_wrap("spectest", "print_f64_f64", move |a: f64, b: f64| {
        spectest_print(quiet, &[(&a, "f64"), (&b, "f64")])
    })?;

    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, val) in globals {
        let global = Global::new(&mut *store, GlobalType::new(ty, Mutability::Const), val)?;
        linker.define(&*store, "spectest", name, global)?;
    }

    let table = Table::new(&mut *store, TableType::new(RefType::FUNCREF, 10, Some(20)), Val::FuncRef(None))?;
    linker.define(&*store, "spectest", "table", table)?;

    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
    linker.define(&*store, "spectest", "memory", memory)?;
    let shared_memory = Memory::new(&mut *store, MemoryType::shared(1, 2))?;
    linker.define(&*store, "spectest", "shared_memory", shared_memory)?;
    Ok(())
}

/// What spectest's `print*` functions write unless `quiet`: a `value : type` line per argument,
/// or an empty line for `print` itself.
fn spectest_print(quiet: bool, values: &[(&dyn std::fmt::Display, &str)]) {
    if quiet {
        return;
    }
    if values.is_empty() {
        println!();
    }
    for (value, ty) in values {
        println!("{value} : {ty}");
    }
}

/// Why a directive did not pass.
enum Outcome {
    Failed(String),
    Unsupported(String),
}

impl From<anyhow::Error> for Outcome {
    fn from(err: anyhow::Error) -> Outcome {
        Outcome::Failed(format!("{err:?}"))
    }
}

type DirectiveResult = std::result::Result<(), Outcome>;

fn failed<T>(msg: impl Into<String>) -> std::result::Result<T, Outcome> {
    Err(Outcome::Failed(msg.into()))
}

fn unsupported<T>(msg: impl Into<String>) -> std::result::Result<T, Outcome> {
    Err(Outcome::Unsupported(msg.into()))
}

/// An instance a script can name: a core module instance or a component instance (with its
/// component's binary, to enumerate its exports for `register`).
#[derive(Clone)]
enum Target {
    Core(Instance),
    Component(kiln::component::Instance, Arc<[u8]>),
}

/// A `(module definition ...)` or `(component definition ...)` (a component with its binary).
#[derive(Clone)]
enum Definition {
    Core(Module),
    Component(Component, Arc<[u8]>),
}

/// What an action produced: core values or component values.
enum Values {
    Core(Vec<Val>),
    Component(Vec<kiln::component::Val>),
}

impl Values {
    fn describe(&self) -> String {
        match self {
            Values::Core(vals) => fmt_vals(vals),
            Values::Component(vals) => {
                let parts: Vec<String> = vals.iter().map(component::fmt_val).collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }
}

/// Executes wast scripts against one store.
pub struct WastContext<T: 'static> {
    store: Store<T>,
    linker: Linker<T>,
    /// Satisfies component imports: the built-in `host` functions (see
    /// [`WastContext::new`]) and component instances that were `register`ed.
    component_linker: kiln::component::Linker<T>,
    engine: Engine,
    /// The most recently instantiated module or component, target of unnamed
    /// `invoke`/`get`/`register`.
    current: Option<Target>,
    /// Instances by their `$name` in the script.
    instances: HashMap<String, Target>,
    /// Module and component definitions (`(module definition $m ...)`) by name.
    definitions: HashMap<String, Definition>,
    last_definition: Option<Definition>,
    skip_lines: HashSet<usize>,
}

/// Defines the functions the runner offers to components, at the root of `linker`:
///
/// - `host-echo`, `host-echo-a` .. `host-echo-d`: return their first argument (declare them
///   with a result of the first parameter's type, any type);
/// - `host-trap`: fails with an error (a trap for the calling component).
///
/// Their types come from the importing component, so one script can import them at any
/// signature that fits.
pub fn define_component_host<T: 'static>(linker: &mut kiln::component::Linker<T>) -> Result<()> {
    let mut root = linker.root();
    for name in ["host-echo", "host-echo-a", "host-echo-b", "host-echo-c", "host-echo-d"] {
        root.func_new(name, |_, params, results| {
            if let (Some(slot), Some(first)) = (results.first_mut(), params.first()) {
                *slot = first.clone();
            }
            Ok(())
        })?;
    }
    root.func_new("host-trap", |_, _, _| Err(anyhow!("host-trap called")))?;
    define_host_instance(linker)
}

/// The host resource type of the `host` instance's `resource1` (and `resource1-again`).
struct HostResource1;
/// The host resource type of the `host` instance's `resource2`.
struct HostResource2;

/// The `host` instance that the reference runtime's component scripts import (its
/// `tests/misc_testsuite/component-model`), as those scripts use it:
///
/// - `return-two`, `return-three`, `return-four` and `nested`'s `return-four`: return 2, 3 and 4
///   (`u32`); `host-return-two` at the root returns 2 as well;
/// - `simple-module`: a core module exporting `f` (returns 101) and the global `g` (100);
/// - `resource1` (also exported as `resource1-again`) and `resource2`: two host resource types
///   whose reps are `u32`s; dropping a `resource1` counts a drop and records its rep;
/// - `[constructor]resource1(rep) -> own`, `[method]resource1.simple(self, rep)` (fails unless
///   `self` has that rep), `[method]resource1.take-borrow(self, b)`,
///   `[method]resource1.take-own(self, b)` (drops `b`), `[static]resource1.assert(r, rep)`
///   (fails unless `r` has that rep, then drops it), `[static]resource1.drops() -> u32` and
///   `[static]resource1.last-drop() -> u32`.
fn define_host_instance<T: 'static>(linker: &mut kiln::component::Linker<T>) -> Result<()> {
    use kiln::component::{Resource, ResourceType};
    use std::sync::Mutex;
    // (drops, rep of the last drop)
    let drops = Arc::new(Mutex::new((0u32, 0u32)));
    let count_drop = {
        let drops = drops.clone();
        move |rep: u32| {
            let mut d = drops.lock().unwrap_or_else(|e| e.into_inner());
            d.0 += 1;
            d.1 = rep;
        }
    };
    let simple_module = kiln::Module::new(
        linker.engine(),
        r#"(module (func (export "f") (result i32) i32.const 101) (global (export "g") i32 i32.const 100))"#,
    )?;
    linker.root().func_wrap("host-return-two", |_, (): ()| Ok((2u32,)))?;
    let mut host = linker.instance("host")?;
    host.func_wrap("return-two", |_, (): ()| Ok((2u32,)))?;
    host.func_wrap("return-three", |_, (): ()| Ok((3u32,)))?;
    host.func_wrap("return-four", |_, (): ()| Ok((4u32,)))?;
    host.module("simple-module", &simple_module)?;
    host.instance("nested")?.func_wrap("return-four", |_, (): ()| Ok((4u32,)))?;
    let dtor = count_drop.clone();
    host.resource("resource1", ResourceType::host::<HostResource1>(), move |_, rep| {
        dtor(rep);
        Ok(())
    })?;
    let dtor = count_drop.clone();
    host.resource("resource1-again", ResourceType::host::<HostResource1>(), move |_, rep| {
        dtor(rep);
        Ok(())
    })?;
    host.resource("resource2", ResourceType::host::<HostResource2>(), |_, _| Ok(()))?;
    host.func_wrap("[constructor]resource1", |_, (rep,): (u32,)| Ok((Resource::<HostResource1>::new_own(rep),)))?;
    host.func_wrap("[method]resource1.simple", |_, (this, rep): (Resource<HostResource1>, u32)| -> Result<()> {
        anyhow::ensure!(this.rep() == rep, "resource1.simple: the handle's rep is {}, not {rep}", this.rep());
        Ok(())
    })?;
    host.func_wrap(
        "[method]resource1.take-borrow",
        |_, (_this, _b): (Resource<HostResource1>, Resource<HostResource1>)| -> Result<()> { Ok(()) },
    )?;
    let dtor = count_drop.clone();
    host.func_wrap(
        "[method]resource1.take-own",
        move |_, (_this, b): (Resource<HostResource1>, Resource<HostResource1>)| -> Result<()> {
            dtor(b.rep());
            Ok(())
        },
    )?;
    let dtor = count_drop;
    host.func_wrap("[static]resource1.assert", move |_, (r, rep): (Resource<HostResource1>, u32)| -> Result<()> {
        anyhow::ensure!(r.rep() == rep, "resource1.assert: the handle's rep is {}, not {rep}", r.rep());
        dtor(rep);
        Ok(())
    })?;
    let counts = drops.clone();
    host.func_wrap("[static]resource1.drops", move |_, (): ()| {
        Ok((counts.lock().unwrap_or_else(|e| e.into_inner()).0,))
    })?;
    host.func_wrap("[static]resource1.last-drop", move |_, (): ()| {
        Ok((drops.lock().unwrap_or_else(|e| e.into_inner()).1,))
    })?;
    Ok(())
}

/// Defines in `ns` every function of `exports` (the exports of `instance` inside the exported
/// instance `parent`, or at its root) as a host function calling it.
fn define_exports<T: 'static>(
    ns: &mut kiln::component::LinkerInstance<'_, T>,
    store: &mut Store<T>,
    instance: kiln::component::Instance,
    parent: Option<&kiln::component::ExportIndex>,
    exports: &[(String, component::ExportTree)],
) -> Result<()> {
    for (name, item) in exports {
        let Some(index) = instance.get_export_index(&*store, parent, name) else {
            continue;
        };
        match item {
            component::ExportTree::Func => {
                if let Some(func) = instance.get_func(&mut *store, &index) {
                    ns.func_new(name, move |store, params, results| func.call(store, params, results))?;
                }
            }
            component::ExportTree::Instance(inner) => {
                let mut nested = ns.instance(name)?;
                define_exports(&mut nested, store, instance, Some(&index), inner)?;
            }
            component::ExportTree::Module => {
                if let Some(module) = instance.get_module(&*store, &index) {
                    ns.module(name, &module)?;
                }
            }
            component::ExportTree::Resource => {
                if let Some(ty) = instance.get_resource(&*store, &index) {
                    ns.resource_type(name, ty)?;
                }
            }
            component::ExportTree::Other => {}
        }
    }
    Ok(())
}

/// Applies a script's configuration lines (`;;! gc = true`, the convention of the reference
/// runtime's test scripts, at the top of the file) to `config`. Returns whether the script had
/// any. Proposals kiln always has on (`bulk_memory`, `reference_types`, the async Component Model
/// features, ...) are accepted when asked for and refused when asked to be off; unknown keys and
/// hints such as `hogs_memory` are ignored.
pub fn apply_config_directives(config: &mut kiln::Config, text: &str) -> Result<bool> {
    let mut any = false;
    for line in text.lines().map(str::trim).take_while(|l| l.is_empty() || l.starts_with(";;")) {
        let Some(directive) = line.strip_prefix(";;!") else { continue };
        let Some((key, value)) = directive.split_once('=') else { continue };
        let (key, value) = (key.trim(), value.trim());
        let Ok(on) = value.parse::<bool>() else { continue };
        any = true;
        let known = kiln::Config::WASM_FEATURE_NAMES.contains(&key.replace('_', "-").as_str());
        match key {
            _ if known => drop(config.wasm_feature(key, on)?),
            "bulk_memory"
            | "reference_types"
            | "component_model"
            | "component_model_async"
            | "component_model_error_context"
            | "component_model_fixed_length_lists"
            | "component_model_fixed_size_lists"
            | "component_model_map"
            | "component_model_gc"
                if !on =>
            {
                anyhow::bail!("`{key} = false`: kiln cannot turn this feature off")
            }
            _ => {}
        }
    }
    Ok(any)
}

impl<T: 'static> WastContext<T> {
    /// A context running scripts in `store`. Call [`WastContext::register_spectest`] before
    /// running spec tests.
    pub fn new(store: Store<T>) -> WastContext<T> {
        let engine = store.engine().clone();
        let mut linker = Linker::new(&engine);
        // Scripts register several instances under the same name (e.g. `(register "M")` twice).
        linker.allow_shadowing(true);
        let mut component_linker = kiln::component::Linker::new(&engine);
        component_linker.allow_shadowing(true);
        define_component_host(&mut component_linker).expect("fresh linker");
        WastContext {
            store,
            linker,
            component_linker,
            engine,
            current: None,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
            skip_lines: HashSet::new(),
        }
    }

    /// The store scripts run in.
    pub fn store(&self) -> &Store<T> {
        &self.store
    }

    /// The store scripts run in.
    pub fn store_mut(&mut self) -> &mut Store<T> {
        &mut self.store
    }

    /// The linker modules are instantiated with; `register` adds to it.
    pub fn linker_mut(&mut self) -> &mut Linker<T> {
        &mut self.linker
    }

    /// The linker components are instantiated with; `register` of a component instance adds
    /// to it.
    pub fn component_linker_mut(&mut self) -> &mut kiln::component::Linker<T> {
        &mut self.component_linker
    }

    /// Directives starting on these (1-based) lines are not run and count as skipped.
    pub fn skip_lines(&mut self, lines: impl IntoIterator<Item = usize>) {
        self.skip_lines.extend(lines);
    }

    /// Defines the `spectest` module the specification interpreter provides to scripts.
    pub fn register_spectest(&mut self, config: &SpectestConfig) -> Result<()> {
        define_spectest(&mut self.linker, &mut self.store, config)
    }

    /// Runs the script in the file at `path`.
    pub fn run_file(&mut self, path: &Path) -> Result<WastStats> {
        let text = std::fs::read_to_string(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        self.run_buffer(&path.display().to_string(), &text)
    }

    /// Runs the script `text`; `filename` names it in failure messages.
    ///
    /// Returns `Err` only if the script cannot be parsed at all. Otherwise every directive runs
    /// (until a panic inside kiln, after which the rest of the file is counted as failed) and the
    /// counts are returned: check [`WastStats::is_ok`].
    pub fn run_buffer(&mut self, filename: &str, text: &str) -> Result<WastStats> {
        let mut lexer = Lexer::new(text);
        // The spec suite has a test (`names.wast`) full of confusable characters.
        lexer.allow_confusing_unicode(true);
        let buf = ParseBuffer::new_with_lexer(lexer).map_err(|mut e| {
            e.set_path(filename.as_ref());
            e.set_text(text);
            anyhow::Error::new(e)
        })?;
        let wast = wast::parser::parse::<Wast<'_>>(&buf).map_err(|mut e| {
            e.set_path(filename.as_ref());
            e.set_text(text);
            anyhow::Error::new(e)
        })?;

        let mut stats = WastStats::default();
        let mut directives = wast.directives.into_iter();
        while let Some(directive) = directives.next() {
            let (line, col) = linecol(directive.span(), text);
            let kind = directive_name(&directive);
            if self.skip_lines.contains(&line) {
                stats.skipped += 1;
                continue;
            }
            let result = catch_unwind(AssertUnwindSafe(|| self.directive(directive)));
            let mut record = |message: String, unsupported: bool| {
                stats.failures.push(WastFailure {
                    file: filename.to_string(),
                    line,
                    col,
                    directive: kind,
                    message,
                    unsupported,
                });
            };
            match result {
                Ok(Ok(())) => stats.passed += 1,
                Ok(Err(Outcome::Failed(msg))) => {
                    stats.failed += 1;
                    record(msg, false);
                }
                Ok(Err(Outcome::Unsupported(msg))) => {
                    stats.unsupported += 1;
                    record(msg, true);
                }
                Err(payload) => {
                    // After a panic inside the runtime the store may be in any state: do not
                    // run anything else in it.
                    let rest = directives.len();
                    stats.failed += 1 + rest;
                    record(
                        format!(
                            "kiln panicked: {}; the remaining {rest} directive(s) of this file \
                             were not run and count as failed",
                            panic_message(&payload)
                        ),
                        false,
                    );
                    break;
                }
            }
        }
        Ok(stats)
    }

    fn directive(&mut self, directive: WastDirective<'_>) -> DirectiveResult {
        match directive {
            WastDirective::Module(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                // A failed module must not leave an older instance as the target of the
                // directives that follow, or they would test the wrong module.
                self.current = None;
                if let Some(name) = &name {
                    self.instances.remove(name);
                }
                let definition = self.define(&mut module)?;
                let target = self.instantiate_definition(definition)?;
                self.set_current(name, target)
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = module.name().map(|id| id.name().to_string());
                let definition = self.define(&mut module)?;
                if let Some(name) = name {
                    self.definitions.insert(name, definition.clone());
                }
                self.last_definition = Some(definition);
                Ok(())
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let name = instance.map(|id| id.name().to_string());
                self.current = None;
                let definition = match module {
                    Some(id) => self
                        .definitions
                        .get(id.name())
                        .cloned()
                        .ok_or_else(|| Outcome::Failed(format!("no definition named `${}`", id.name())))?,
                    None => self
                        .last_definition
                        .clone()
                        .ok_or_else(|| Outcome::Failed("no definition to instantiate".to_string()))?,
                };
                let target = self.instantiate_definition(definition)?;
                self.set_current(name, target)
            }
            WastDirective::Register { name, module, .. } => {
                match self.instance(module.map(|id| id.name()))? {
                    Target::Core(instance) => {
                        self.linker
                            .instance(&mut self.store, name, instance)
                            .with_context(|| format!("failed to register instance as `{name}`"))?;
                    }
                    Target::Component(instance, binary) => {
                        self.register_component(name, instance, &binary)?;
                    }
                }
                Ok(())
            }
            WastDirective::Invoke(invoke) => {
                let _results = self.invoke(&invoke)??;
                Ok(())
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let actual = match self.execute(exec)? {
                    Ok(values) => values,
                    Err(err) => return failed(format!("expected values, got error: {err:?}")),
                };
                self.check_results(&results, &actual)
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec)? {
                Ok(values) => failed(format!("expected trap `{message}`, got values {}", values.describe())),
                Err(err) => check_trap(&err, message),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call)? {
                Ok(values) => failed(format!("expected exhaustion `{message}`, got values {}", values.describe())),
                Err(err) => check_trap(&err, message),
            },
            WastDirective::AssertInvalid { mut module, message, .. } => {
                // A module the text encoder already rejects is rejected too.
                let Ok(bytes) = module.encode() else {
                    return Ok(());
                };
                if is_component(&module) {
                    let result = Component::from_binary(&self.engine, &bytes).map(drop);
                    return check_component_error(result, "invalid", message);
                }
                match Module::validate(&self.engine, &bytes) {
                    Ok(()) => failed(format!("expected module to be invalid (`{message}`), but it validated")),
                    Err(_) => Ok(()),
                }
            }
            WastDirective::AssertMalformed { mut module, message, .. } => {
                // Quoted text that fails to parse or encode is malformed, as expected.
                let bytes = match module.to_test() {
                    Ok(QuoteWatTest::Binary(bytes)) => bytes,
                    Ok(QuoteWatTest::Text(_)) => match module.encode() {
                        Ok(bytes) => bytes,
                        Err(_) => return Ok(()),
                    },
                    Err(_) => return Ok(()),
                };
                if is_component(&module) {
                    let result = Component::from_binary(&self.engine, &bytes).map(drop);
                    return check_component_error(result, "malformed", message);
                }
                match Module::new(&self.engine, &bytes) {
                    Ok(_) => failed(format!("expected module to be malformed (`{message}`), but it compiled")),
                    Err(_) => Ok(()),
                }
            }
            WastDirective::AssertUnlinkable { mut module, message, .. } => {
                let bytes = module.encode().map_err(|e| anyhow!(e))?;
                if matches!(module, Wat::Component(_)) {
                    let component = self.compile_component(&bytes)?;
                    let linked = self.component_linker.instantiate(&mut self.store, &component).map(drop);
                    return check_component_error(linked, "unlinkable", message);
                }
                let module = self.compile(&bytes)?;
                match self.linker.instantiate(&mut self.store, &module) {
                    Ok(_) => failed(format!("expected module to fail to link (`{message}`), but it instantiated")),
                    Err(_) => Ok(()),
                }
            }
            WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
                unsupported("custom section assertions")
            }
            WastDirective::AssertException { exec, .. } => match self.execute(exec)? {
                Ok(values) => failed(format!("expected an uncaught exception, got values {}", values.describe())),
                Err(err) if err.downcast_ref::<kiln::ThrownException>().is_some() => Ok(()),
                Err(err) => failed(format!("expected an uncaught exception, got error: {err:?}")),
            },
            WastDirective::AssertSuspension { .. } => unsupported("stack switching"),
            WastDirective::Thread(_) | WastDirective::Wait { .. } => unsupported("threads"),
        }
    }

    /// Makes `target` the current instance and, if the script named it (`(component $foo ...)`,
    /// `(component instance $foo $Def)`), the instance `$foo` for later directives. A named
    /// component instance is also importable by later components as `foo` (see
    /// [`WastContext::register_component`]), as in the reference runtime's runner.
    fn set_current(&mut self, name: Option<String>, target: Target) -> DirectiveResult {
        self.current = Some(target.clone());
        if let Some(name) = name {
            self.instances.insert(name.clone(), target.clone());
            if let Target::Component(instance, binary) = target {
                self.register_component(&name, instance, &binary)?;
            }
        }
        Ok(())
    }

    fn instantiate_definition(&mut self, definition: Definition) -> std::result::Result<Target, Outcome> {
        Ok(match definition {
            Definition::Core(module) => Target::Core(self.instantiate(&module)?),
            Definition::Component(component, binary) => {
                Target::Component(self.instantiate_component(&component)?, binary)
            }
        })
    }

    /// Encodes and compiles a module or component.
    fn define(&self, module: &mut QuoteWat<'_>) -> std::result::Result<Definition, Outcome> {
        let bytes = module.encode().map_err(|e| Outcome::Failed(format!("failed to encode module: {e}")))?;
        Ok(if is_component(module) {
            let component = self.compile_component(&bytes)?;
            Definition::Component(component, bytes.into())
        } else {
            Definition::Core(self.compile(&bytes)?)
        })
    }

    fn compile(&self, bytes: &[u8]) -> std::result::Result<Module, Outcome> {
        Module::from_binary(&self.engine, bytes)
            .map_err(|e| Outcome::Failed(format!("failed to compile module: {e:?}")))
    }

    fn compile_component(&self, bytes: &[u8]) -> std::result::Result<Component, Outcome> {
        Component::from_binary(&self.engine, bytes)
            .map_err(|e| Outcome::Failed(format!("failed to compile component: {e:?}")))
    }

    fn instantiate(&mut self, module: &Module) -> std::result::Result<Instance, Outcome> {
        self.linker
            .instantiate(&mut self.store, module)
            .map_err(|e| Outcome::Failed(format!("failed to instantiate module: {e:?}")))
    }

    fn instantiate_component(
        &mut self,
        component: &Component,
    ) -> std::result::Result<kiln::component::Instance, Outcome> {
        self.component_linker
            .instantiate(&mut self.store, component)
            .map_err(|e| Outcome::Failed(format!("failed to instantiate component: {e:?}")))
    }

    /// Makes the exports of a component instance importable by later components under `name`:
    /// `(import "name" (instance (export "f" (func ...))))` for a root function export `f`, a
    /// nested linker instance for each exported instance (at any depth), and nothing for types
    /// (type imports need no definition). Calls go through the host into the registered
    /// instance. Functions the runtime cannot reach by export path (those of a re-exported
    /// imported instance) are left out: importing them fails to link.
    ///
    /// Registering a name again adds to (and shadows inside) the earlier registration.
    fn register_component(
        &mut self,
        name: &str,
        instance: kiln::component::Instance,
        binary: &[u8],
    ) -> DirectiveResult {
        let exports = component::export_tree(binary)
            .with_context(|| format!("failed to register the component instance as `{name}`"))?;
        let mut ns = self.component_linker.instance(name)?;
        define_exports(&mut ns, &mut self.store, instance, None, &exports)
            .with_context(|| format!("failed to register the component instance as `{name}`"))?;
        Ok(())
    }

    fn instance(&self, name: Option<&str>) -> std::result::Result<Target, Outcome> {
        match name {
            Some(name) => {
                self.instances.get(name).cloned().ok_or_else(|| Outcome::Failed(format!("no instance named `${name}`")))
            }
            None => self.current.clone().ok_or_else(|| Outcome::Failed("no current module instance".to_string())),
        }
    }

    fn core_instance(&self, name: Option<&str>) -> std::result::Result<Instance, Outcome> {
        match self.instance(name)? {
            Target::Core(instance) => Ok(instance),
            Target::Component(..) => failed("expected a core module instance, found a component instance"),
        }
    }

    /// Runs an `invoke`, `get` or module-instantiation action. The outer error is a failure of
    /// the script itself (missing export, bad argument); the inner one the action's own error,
    /// which assertions inspect.
    fn execute(&mut self, exec: WastExecute<'_>) -> std::result::Result<Result<Values>, Outcome> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Get { module, global, .. } => {
                let instance = self.core_instance(module.map(|id| id.name()))?;
                let export = instance
                    .get_export(&mut self.store, global)
                    .ok_or_else(|| Outcome::Failed(format!("no export named `{global}`")))?;
                let Extern::Global(g) = export else {
                    return failed(format!("export `{global}` is not a global"));
                };
                Ok(Ok(Values::Core(vec![g.get(&mut self.store)])))
            }
            WastExecute::Wat(mut module) => {
                let bytes = module.encode().map_err(|e| anyhow!(e))?;
                if matches!(module, Wat::Component(_)) {
                    let component = self.compile_component(&bytes)?;
                    return Ok(self
                        .component_linker
                        .instantiate(&mut self.store, &component)
                        .map(|_| Values::Component(Vec::new())));
                }
                let module = self.compile(&bytes)?;
                Ok(self.linker.instantiate(&mut self.store, &module).map(|_| Values::Core(Vec::new())))
            }
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> std::result::Result<Result<Values>, Outcome> {
        let instance = match self.instance(invoke.module.map(|id| id.name()))? {
            Target::Core(instance) => instance,
            Target::Component(instance, _) => return self.invoke_component(instance, invoke),
        };
        let func = instance
            .get_func(&mut self.store, invoke.name)
            .ok_or_else(|| Outcome::Failed(format!("no function export named `{}`", invoke.name)))?;
        let mut args = Vec::with_capacity(invoke.args.len());
        for arg in &invoke.args {
            args.push(self.arg(arg)?);
        }
        let n_results = func.ty(&self.store).results().len();
        let mut results = vec![Val::I32(0); n_results];
        Ok(func.call(&mut self.store, &args, &mut results).map(|()| Values::Core(results)))
    }

    fn invoke_component(
        &mut self,
        instance: kiln::component::Instance,
        invoke: &WastInvoke<'_>,
    ) -> std::result::Result<Result<Values>, Outcome> {
        let func = instance
            .try_get_func(&mut self.store, invoke.name)
            .map_err(|e| Outcome::Failed(format!("no function export named `{}`: {e:#}", invoke.name)))?;
        if func.ty(&self.store).is_none() {
            // A re-exported host function: kiln does not know its type, so the values go as
            // written and the host function checks them.
            let mut args = Vec::with_capacity(invoke.args.len());
            for arg in &invoke.args {
                args.push(match arg {
                    WastArg::Component(v) => component::val_untyped(v)?,
                    WastArg::Core(WastArgCore::F32(f)) => kiln::component::Val::Float32(f32::from_bits(f.bits)),
                    WastArg::Core(WastArgCore::F64(f)) => kiln::component::Val::Float64(f64::from_bits(f.bits)),
                    _ => return failed("a core value passed to a component function"),
                });
            }
            // Room for one result: the host function fills it if it has one.
            let mut results = vec![kiln::component::Val::Bool(false)];
            return Ok(func.call(&mut self.store, &args, &mut results).map(|()| Values::Component(results)));
        }
        let params = func.params(&self.store);
        if params.len() != invoke.args.len() {
            return failed(format!(
                "function `{}` takes {} argument(s), {} given",
                invoke.name,
                params.len(),
                invoke.args.len()
            ));
        }
        let mut args = Vec::with_capacity(params.len());
        for ((name, ty), arg) in params.iter().zip(&invoke.args) {
            // The parser reads `(f32.const ...)` and `(f64.const ...)` as core values.
            let value = match (arg, ty) {
                (WastArg::Component(arg), _) => {
                    component::val(ty, arg).with_context(|| format!("argument `{name}`"))?
                }
                (WastArg::Core(WastArgCore::F32(f)), kiln::component::Type::Float32) => {
                    kiln::component::Val::Float32(f32::from_bits(f.bits))
                }
                (WastArg::Core(WastArgCore::F64(f)), kiln::component::Type::Float64) => {
                    kiln::component::Val::Float64(f64::from_bits(f.bits))
                }
                _ => return failed(format!("argument `{name}`: expected a value of type {ty}, got a core value")),
            };
            args.push(value);
        }
        let mut results: Vec<kiln::component::Val> =
            func.result(&self.store).map(|_| kiln::component::Val::Bool(false)).into_iter().collect();
        Ok(func.call(&mut self.store, &args, &mut results).map(|()| Values::Component(results)))
    }

    fn arg(&mut self, arg: &WastArg<'_>) -> std::result::Result<Val, Outcome> {
        let WastArg::Core(arg) = arg else {
            return failed("a component value passed to a core function");
        };
        Ok(match arg {
            WastArgCore::I32(v) => Val::I32(*v),
            WastArgCore::I64(v) => Val::I64(*v),
            WastArgCore::F32(v) => Val::F32(v.bits),
            WastArgCore::F64(v) => Val::F64(v.bits),
            WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
            WastArgCore::RefNull(ty) => match null_kind(ty) {
                Some(NullKind::Func) => Val::FuncRef(None),
                Some(NullKind::Extern) => Val::ExternRef(None),
                Some(NullKind::Exn) => Val::ExnRef(None),
                Some(NullKind::Any) => Val::AnyRef(None),
                None => return unsupported(format!("reference type {ty:?}")),
            },
            WastArgCore::RefExtern(n) => Val::ExternRef(Some(ExternRef::new(&mut self.store, *n))),
            // A host reference in the `any` hierarchy: an internal `externref` (the GC spec's
            // convention: `any.convert_extern` of `ref.extern N` is `ref.host N`).
            WastArgCore::RefHost(n) => {
                Val::AnyRef(Some(kiln::AnyRef::from_externref(ExternRef::new(&mut self.store, *n))))
            }
        })
    }

    fn check_results(&self, expected: &[WastRet<'_>], actual: &Values) -> DirectiveResult {
        let actual_len = match actual {
            Values::Core(v) => v.len(),
            Values::Component(v) => v.len(),
        };
        if expected.len() != actual_len {
            return failed(format!(
                "expected {} result(s) {}, got {} result(s) {}",
                expected.len(),
                fmt_rets(expected),
                actual_len,
                actual.describe()
            ));
        }
        for (i, exp) in expected.iter().enumerate() {
            let ok = match (exp, actual) {
                (WastRet::Core(exp), Values::Core(vals)) => self.matches(exp, &vals[i])?,
                (WastRet::Component(exp), Values::Component(vals)) => component::matches(exp, &vals[i]),
                (WastRet::Core(WastRetCore::F32(p)), Values::Component(vals)) => {
                    matches!(vals[i], kiln::component::Val::Float32(a) if f32_matches(p, a.to_bits()))
                }
                (WastRet::Core(WastRetCore::F64(p)), Values::Component(vals)) => {
                    matches!(vals[i], kiln::component::Val::Float64(a) if f64_matches(p, a.to_bits()))
                }
                (WastRet::Core(_), Values::Component(_)) => {
                    return failed("expected a core value, the function is a component function");
                }
                (WastRet::Component(_), Values::Core(_)) => {
                    return failed("expected a component value, the function is a core function");
                }
                (other, _) => return unsupported(format!("result pattern {other:?}")),
            };
            if !ok {
                let (e, a) = match (exp, actual) {
                    (WastRet::Core(e), Values::Core(vals)) => (fmt_ret(e), fmt_val(&vals[i])),
                    (WastRet::Component(e), Values::Component(vals)) => {
                        (component::fmt_wast_val(e), component::fmt_val(&vals[i]))
                    }
                    (WastRet::Core(e), Values::Component(vals)) => (fmt_ret(e), component::fmt_val(&vals[i])),
                    _ => unreachable!(),
                };
                return failed(format!(
                    "result {i}: expected {e}, got {a} (all results: expected {}, got {})",
                    fmt_rets(expected),
                    actual.describe()
                ));
            }
        }
        Ok(())
    }

    fn matches(&self, expected: &WastRetCore<'_>, actual: &Val) -> std::result::Result<bool, Outcome> {
        Ok(match (expected, actual) {
            (WastRetCore::I32(e), Val::I32(a)) => e == a,
            (WastRetCore::I64(e), Val::I64(a)) => e == a,
            (WastRetCore::F32(e), Val::F32(a)) => f32_matches(e, *a),
            (WastRetCore::F64(e), Val::F64(a)) => f64_matches(e, *a),
            (WastRetCore::V128(e), Val::V128(a)) => v128_matches(e, *a),
            (WastRetCore::RefNull(ty), Val::FuncRef(r)) => {
                r.is_none() && ty.as_ref().is_none_or(|ty| matches!(null_kind(ty), Some(NullKind::Func)))
            }
            (WastRetCore::RefNull(ty), Val::ExternRef(r)) => {
                r.is_none() && ty.as_ref().is_none_or(|ty| matches!(null_kind(ty), Some(NullKind::Extern)))
            }
            (WastRetCore::RefExtern(e), Val::ExternRef(Some(r))) => match e {
                None => true,
                Some(e) => r.data(&self.store).downcast_ref::<u32>() == Some(e),
            },
            (WastRetCore::RefFunc(_), Val::FuncRef(r)) => r.is_some(),
            (WastRetCore::RefNull(ty), Val::ExnRef(r)) => {
                r.is_none() && ty.as_ref().is_none_or(|ty| matches!(null_kind(ty), Some(NullKind::Exn)))
            }
            (WastRetCore::RefNull(ty), Val::AnyRef(r)) => {
                r.is_none() && ty.as_ref().is_none_or(|ty| matches!(null_kind(ty), Some(NullKind::Any)))
            }
            // i31s and GC objects are `eq`s; host references made internal are only `any`s.
            (WastRetCore::RefEq, Val::AnyRef(r)) => r.is_some_and(|r| r.is_eq()),
            (WastRetCore::RefI31, Val::AnyRef(r)) => r.is_some_and(|r| r.as_i31().is_some()),
            (WastRetCore::RefStruct, Val::AnyRef(Some(r))) => r.is_struct(&self.store)?,
            (WastRetCore::RefArray, Val::AnyRef(Some(r))) => r.is_array(&self.store)?,
            (WastRetCore::RefAny, Val::AnyRef(r)) => r.is_some(),
            (WastRetCore::RefHost(n), Val::AnyRef(Some(r))) => {
                r.as_externref().is_some_and(|e| e.data(&self.store).downcast_ref::<u32>() == Some(n))
            }
            (WastRetCore::Either(options), _) => {
                for option in options {
                    if self.matches(option, actual)? {
                        return Ok(true);
                    }
                }
                false
            }
            (WastRetCore::RefI31Shared, _) => return unsupported("shared GC references"),
            _ => false,
        })
    }
}

enum NullKind {
    Func,
    Extern,
    Exn,
    Any,
}

fn null_kind(ty: &HeapType<'_>) -> Option<NullKind> {
    match ty {
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Func | AbstractHeapType::NoFunc } => {
            Some(NullKind::Func)
        }
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern } => {
            Some(NullKind::Extern)
        }
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Exn | AbstractHeapType::NoExn } => {
            Some(NullKind::Exn)
        }
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Any | AbstractHeapType::Eq | AbstractHeapType::I31 | AbstractHeapType::None,
        } => Some(NullKind::Any),
        _ => None,
    }
}

fn is_component(module: &QuoteWat<'_>) -> bool {
    matches!(module, QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..))
}

/// Spec trap messages that kiln words differently: (expected by the script, accepted from kiln).
const TRAP_ALIASES: &[(&str, &str)] = &[
    // `call_indirect` past the end of the table: kiln says "undefined element: out of bounds
    // table access", and the bulk-memory proposal renamed table range errors.
    ("undefined element", "out of bounds table access"),
    ("out of bounds table access", "undefined element"),
];

/// Whether the error `actual` is the trap the script expects.
fn trap_matches(actual: &str, expected: &str) -> bool {
    if contains_message(actual, expected) {
        return true;
    }
    // The core spec scripts number the element ("uninitialized element 2"); kiln's message does
    // not. Only this message is matched without its number: other numbers (a resource handle
    // index, say) are part of what a script checks.
    if let Some(n) = expected.strip_prefix("uninitialized element ")
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && actual.contains("uninitialized element")
    {
        return true;
    }
    TRAP_ALIASES.iter().any(|(e, a)| *e == expected && actual.contains(a))
}

/// Whether `expected` occurs in `actual`, not as the start of a longer number: "unknown handle
/// index 5" is not in "unknown handle index 50".
fn contains_message(actual: &str, expected: &str) -> bool {
    if !expected.ends_with(|c: char| c.is_ascii_digit()) {
        return actual.contains(expected);
    }
    actual
        .match_indices(expected)
        .any(|(at, _)| !actual[at + expected.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The messages of `err` and its causes, joined with `: ` (no backtrace).
fn error_text(err: &anyhow::Error) -> String {
    err.chain().map(|e| e.to_string()).collect::<Vec<_>>().join(": ")
}

/// Checks the outcome of compiling (or, for `unlinkable`, instantiating) a component that an
/// `assert_invalid`, `assert_malformed` or `assert_unlinkable` expects to fail with `message`.
/// The message must appear in the error: a component rejected for another reason (typically a
/// feature kiln has not implemented) does not pass.
fn check_component_error(result: Result<()>, what: &str, message: &str) -> DirectiveResult {
    match result {
        Ok(()) => failed(format!("expected the component to be {what} (`{message}`), but it was accepted")),
        Err(err) => {
            let text = error_text(&err);
            if contains_message(&text, message) {
                Ok(())
            } else {
                failed(format!("expected the component to be {what} with `{message}`, got a different error: {text}"))
            }
        }
    }
}

fn check_trap(err: &anyhow::Error, expected: &str) -> DirectiveResult {
    let actual = format!("{err:?}");
    if trap_matches(&actual, expected) {
        return Ok(());
    }
    let kind = if err.downcast_ref::<Trap>().is_some() { "a different trap" } else { "an error that is not a trap" };
    failed(format!("expected trap `{expected}`, got {kind}: {actual}"))
}

fn f32_matches(expected: &NanPattern<F32>, actual: u32) -> bool {
    match expected {
        NanPattern::CanonicalNan => actual & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => actual & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => v.bits == actual,
    }
}

fn f64_matches(expected: &NanPattern<F64>, actual: u64) -> bool {
    match expected {
        NanPattern::CanonicalNan => actual & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => actual & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == actual,
    }
}

fn v128_matches(expected: &V128Pattern, actual: u128) -> bool {
    let b = actual.to_le_bytes();
    let lane = |i: usize, n: usize| -> u64 {
        let mut v = 0u64;
        for j in (0..n).rev() {
            v = (v << 8) | u64::from(b[i * n + j]);
        }
        v
    };
    match expected {
        V128Pattern::I8x16(e) => e.iter().enumerate().all(|(i, e)| lane(i, 1) == u64::from(*e as u8)),
        V128Pattern::I16x8(e) => e.iter().enumerate().all(|(i, e)| lane(i, 2) == u64::from(*e as u16)),
        V128Pattern::I32x4(e) => e.iter().enumerate().all(|(i, e)| lane(i, 4) == u64::from(*e as u32)),
        V128Pattern::I64x2(e) => e.iter().enumerate().all(|(i, e)| lane(i, 8) == *e as u64),
        V128Pattern::F32x4(e) => e.iter().enumerate().all(|(i, e)| f32_matches(e, lane(i, 4) as u32)),
        V128Pattern::F64x2(e) => e.iter().enumerate().all(|(i, e)| f64_matches(e, lane(i, 8))),
    }
}

fn linecol(span: Span, text: &str) -> (usize, usize) {
    let (line, col) = span.linecol_in(text);
    (line + 1, col + 1)
}

fn directive_name(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Formats a value for failure messages.
pub fn fmt_val(v: &Val) -> String {
    match v {
        Val::I32(v) => format!("i32:{v}"),
        Val::I64(v) => format!("i64:{v}"),
        Val::F32(bits) => format!("f32:{} (0x{bits:08x})", f32::from_bits(*bits)),
        Val::F64(bits) => format!("f64:{} (0x{bits:016x})", f64::from_bits(*bits)),
        Val::V128(v) => format!("v128:0x{v:032x}"),
        Val::FuncRef(None) => "ref.null func".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(None) => "ref.null extern".to_string(),
        Val::ExternRef(Some(_)) => "ref.extern".to_string(),
        Val::ExnRef(None) => "ref.null exn".to_string(),
        Val::ExnRef(Some(_)) => "ref.exn".to_string(),
        Val::AnyRef(None) => "ref.null any".to_string(),
        Val::AnyRef(Some(r)) => match r.as_i31() {
            Some(i) => format!("ref.i31 {}", i.get_u32()),
            None => "ref.any".to_string(),
        },
    }
}

fn fmt_vals(vals: &[Val]) -> String {
    let parts: Vec<String> = vals.iter().map(fmt_val).collect();
    format!("[{}]", parts.join(", "))
}

fn fmt_f32(p: &NanPattern<F32>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => format!("{} (0x{:08x})", f32::from_bits(v.bits), v.bits),
    }
}

fn fmt_f64(p: &NanPattern<F64>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".to_string(),
        NanPattern::ArithmeticNan => "nan:arithmetic".to_string(),
        NanPattern::Value(v) => format!("{} (0x{:016x})", f64::from_bits(v.bits), v.bits),
    }
}

fn fmt_ret(r: &WastRetCore<'_>) -> String {
    match r {
        WastRetCore::I32(v) => format!("i32:{v}"),
        WastRetCore::I64(v) => format!("i64:{v}"),
        WastRetCore::F32(p) => format!("f32:{}", fmt_f32(p)),
        WastRetCore::F64(p) => format!("f64:{}", fmt_f64(p)),
        WastRetCore::V128(p) => format!("v128:{p:?}"),
        WastRetCore::RefNull(None) => "ref.null".to_string(),
        WastRetCore::RefNull(Some(ty)) => format!("ref.null {ty:?}"),
        WastRetCore::RefExtern(None) => "ref.extern".to_string(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefFunc(_) => "ref.func".to_string(),
        WastRetCore::Either(options) => {
            let parts: Vec<String> = options.iter().map(fmt_ret).collect();
            format!("either({})", parts.join(" | "))
        }
        other => format!("{other:?}"),
    }
}

fn fmt_rets(rets: &[WastRet<'_>]) -> String {
    let parts: Vec<String> = rets
        .iter()
        .map(|r| match r {
            WastRet::Core(r) => fmt_ret(r),
            WastRet::Component(v) => component::fmt_wast_val(v),
            other => format!("{other:?}"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_message_matching() {
        assert!(trap_matches("wasm trap: integer divide by zero", "integer divide by zero"));
        assert!(trap_matches("wasm trap: uninitialized element", "uninitialized element 2"));
        assert!(!trap_matches("wasm trap: uninitialized", "uninitialized element 2"));
        assert!(trap_matches("wasm trap: unknown handle index 5", "unknown handle index 5"));
        assert!(!trap_matches("wasm trap: unknown handle index 5", "unknown handle index 4"));
        assert!(!trap_matches("wasm trap: unknown handle index 5", "unknown handle index 50"));
        assert!(!trap_matches("wasm trap: unknown handle index 50", "unknown handle index 5"));
        assert!(trap_matches("wasm trap: unknown handle index 5: more", "unknown handle index 5"));
        assert!(trap_matches("wasm trap: undefined element: out of bounds table access", "undefined element"));
        assert!(trap_matches("wasm trap: out of bounds table access", "undefined element"));
        assert!(!trap_matches("wasm trap: unreachable", "integer overflow"));
    }

    #[test]
    fn nan_patterns() {
        assert!(f32_matches(&NanPattern::CanonicalNan, 0x7fc0_0000));
        assert!(f32_matches(&NanPattern::CanonicalNan, 0xffc0_0000));
        assert!(!f32_matches(&NanPattern::CanonicalNan, 0x7fc0_0001));
        assert!(f32_matches(&NanPattern::ArithmeticNan, 0x7fc0_0001));
        assert!(!f32_matches(&NanPattern::ArithmeticNan, 0x7fa0_0000));
        assert!(f64_matches(&NanPattern::CanonicalNan, 0x7ff8_0000_0000_0000));
        assert!(f64_matches(&NanPattern::ArithmeticNan, 0xfff8_0000_0000_0001));
        assert!(!f64_matches(&NanPattern::ArithmeticNan, 0x7ff0_0000_0000_0001));
    }

    #[test]
    fn v128_lanes() {
        let v = u128::from_le_bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(v128_matches(&V128Pattern::I32x4([1, 2, 3, -1]), v));
        assert!(!v128_matches(&V128Pattern::I32x4([1, 2, 3, 4]), v));
    }
}
