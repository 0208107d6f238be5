//! [`Component`]: a validated component compiled into its core modules and fused-adapter modules.

use crate::{Engine, Module};
use anyhow::{Context, Result};
use kiln_environ::component::{ComponentPlan, CoreDef, ExportItem, ImportKind, Translation};
use kiln_fact::{Adapter, AdapterImport, AdapterOptions};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// Which module of a component [`Component::build`] asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ModuleSlot {
    /// The core module with this index in the component's plan.
    Core(usize),
    /// The adapter module with this index.
    Adapter(usize),
}

/// Compiles (or loads precompiled code for) one module of a component, validated with the given
/// features.
pub(crate) type LoadModule<'a> = dyn Fn(ModuleSlot, &[u8], wasmparser::WasmFeatures) -> Result<Module> + Sync + 'a;

/// A compiled component. Cheap to clone.
#[derive(Clone)]
pub struct Component {
    pub(crate) inner: Arc<ComponentInner>,
}

pub(crate) struct AdapterModuleCode {
    pub(crate) module: Module,
    pub(crate) imports: Vec<AdapterImport<CoreDef>>,
}

pub(crate) struct ComponentInner {
    pub(crate) engine: Engine,
    /// The component binary, kept for `Component::serialize`.
    pub(crate) wasm: Arc<[u8]>,
    pub(crate) plan: ComponentPlan,
    pub(crate) modules: Vec<Module>,
    pub(crate) adapter_modules: Vec<AdapterModuleCode>,
    /// For each adapter: its adapter module and export name.
    pub(crate) adapter_exports: Vec<(u32, String)>,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component")
            .field("core_modules", &self.inner.modules.len())
            .field("adapter_modules", &self.inner.adapter_modules.len())
            .finish()
    }
}

fn adapter_options(options: &kiln_environ::component::Options) -> AdapterOptions<CoreDef> {
    AdapterOptions {
        instance: options.instance,
        string_encoding: options.string_encoding,
        memory: options.memory.clone(),
        realloc: options.realloc.clone(),
        ptr: options.ptr,
        page_size_log2: options.page_size_log2,
    }
}

impl Component {
    /// Compiles a component from its binary or text format.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Component> {
        let wasm = wat::parse_bytes(bytes.as_ref()).context("failed to parse the WebAssembly text format")?;
        Component::from_binary(engine, &wasm)
    }

    /// Compiles a component from a file (binary or text).
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Component> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        Component::new(engine, bytes).with_context(|| format!("failed to load component `{}`", path.display()))
    }

    /// Compiles a component from its binary format.
    pub fn from_binary(engine: &Engine, binary: &[u8]) -> Result<Component> {
        Component::build(engine, binary, &|_, wasm, features| Module::from_binary_with_features(engine, wasm, features))
    }

    /// Translates a component and gets each of its core and adapter modules from `load`, which
    /// compiles them (or loads precompiled code for them).
    pub(crate) fn build(engine: &Engine, binary: &[u8], load: &LoadModule<'_>) -> Result<Component> {
        let features = engine.config().features() | wasmparser::WasmFeatures::MULTI_MEMORY;
        // Validation errors carry "failed to validate the component"; translation errors name
        // what kiln does not support.
        let translation = Translation::parse_with(binary, features, engine.config().component_model_features())?;
        let plan = ComponentPlan::new(&translation, binary).context("failed to translate the component")?;
        let modules = plan
            .modules
            .par_iter()
            .enumerate()
            .map(|(i, range)| {
                load(ModuleSlot::Core(i), &binary[range.clone()], features)
                    .with_context(|| format!("failed to compile core module {i} of the component"))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut adapter_exports = vec![(0, String::new()); plan.adapters.len()];
        let mut adapter_modules = Vec::new();
        for (m, group) in plan.adapter_modules.iter().enumerate() {
            let adapters: Vec<Adapter<CoreDef>> = group
                .iter()
                .map(|a| {
                    let def = &plan.adapters[*a as usize];
                    let name = format!("adapter{a}");
                    adapter_exports[*a as usize] = (m as u32, name.clone());
                    Adapter {
                        name,
                        ty: def.ty.clone(),
                        lower: adapter_options(&def.lower),
                        lift: adapter_options(&def.lift),
                        callee: def.callee.clone(),
                        post_return: def.lift.post_return.clone(),
                    }
                })
                .collect();
            let code =
                kiln_fact::compile(&adapters).with_context(|| format!("failed to generate adapter module {m}"))?;
            let module = load(ModuleSlot::Adapter(m), &code.wasm, features)
                .with_context(|| format!("failed to compile adapter module {m}"))?;
            // Exceptions must not cross component boundaries: the unwinder stops at adapters.
            module.inner.code.info().exception_barrier.store(true, std::sync::atomic::Ordering::Relaxed);
            adapter_modules.push(AdapterModuleCode { module, imports: code.imports });
        }
        Ok(Component {
            inner: Arc::new(ComponentInner {
                engine: engine.clone(),
                wasm: binary.into(),
                plan,
                modules,
                adapter_modules,
                adapter_exports,
            }),
        })
    }

    /// The engine this component was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Number of core modules generated for fused adapters.
    pub fn adapter_module_count(&self) -> usize {
        self.inner.adapter_modules.len()
    }

    /// Number of fused adapters.
    pub fn adapter_count(&self) -> usize {
        self.inner.plan.adapters.len()
    }

    /// Names of the root imports with their kinds (`func`, `instance`, ...).
    pub fn imports(&self) -> impl ExactSizeIterator<Item = (&str, &'static str)> + '_ {
        self.inner.plan.imports.iter().map(|i| {
            let kind = match i.kind {
                ImportKind::Func(_) => "func",
                ImportKind::Instance(_) => "instance",
                ImportKind::Module(_) => "module",
                ImportKind::Component => "component",
                ImportKind::Type(_) => "type",
            };
            (i.name.as_str(), kind)
        })
    }

    /// Names of the root exports, and for exported instances the names inside them, as
    /// `(instance, name)` paths: `("", "f")` for a root function `f`, `("ns:pkg/iface", "g")` for a
    /// function `g` in an exported instance.
    pub fn exported_functions(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, item) in &self.inner.plan.exports {
            match item {
                ExportItem::Func { .. } | ExportItem::ImportedFunc { .. } => out.push((String::new(), name.clone())),
                ExportItem::Instance(items) => {
                    for (inner, item) in items {
                        if matches!(item, ExportItem::Func { .. } | ExportItem::ImportedFunc { .. }) {
                            out.push((name.clone(), inner.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The export `name` inside `parent` (the root if `None`): what it is and its index, for
    /// looking it up in every instance of this component without searching by name again.
    pub fn export_index(
        &self,
        parent: Option<&super::ExportIndex>,
        name: &str,
    ) -> Option<(ComponentItem, super::ExportIndex)> {
        let mut path = parent.map(|p| p.path().to_vec()).unwrap_or_default();
        path.push(name.to_string());
        let mut items = &self.inner.plan.exports;
        let (last, parents) = path.split_last()?;
        for p in parents {
            match items.iter().find(|(n, _)| n == p)? {
                (_, ExportItem::Instance(inner)) => items = inner,
                _ => return None,
            }
        }
        let item = match &items.iter().find(|(n, _)| n == last)?.1 {
            ExportItem::Func { ty, .. } => ComponentItem::ComponentFunc(Some(ty.clone())),
            ExportItem::ImportedFunc { ty, .. } => ComponentItem::ComponentFunc(ty.clone()),
            ExportItem::Instance(_) | ExportItem::ImportedInstance(_) => ComponentItem::ComponentInstance,
            ExportItem::Resource(_) => ComponentItem::Resource,
            ExportItem::Module(_) | ExportItem::ImportedModule(_) => ComponentItem::Module,
            ExportItem::UnsupportedFunc(_) | ExportItem::Other => ComponentItem::Other,
        };
        Some((item, super::ExportIndex::new(path)))
    }
}

/// What a component export is.
#[derive(Debug, Clone)]
pub enum ComponentItem {
    /// A function, with its type when known.
    ComponentFunc(Option<kiln_environ::component::FuncType>),
    /// An instance.
    ComponentInstance,
    /// A resource type.
    Resource,
    /// A core module.
    Module,
    /// A component or a type.
    Other,
}
