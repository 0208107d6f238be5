//! Phase 2 of component translation: instantiate the root component symbolically, inlining every
//! nested component instantiation, into one flat [`ComponentPlan`]: core module instantiations in
//! order, host imports that are lowered, fused adapters between instances, and the exports.
//!
//! Adapters are then partitioned into adapter modules: each module is instantiated at the earliest
//! point where everything its adapters import exists, and holds every adapter ready at that point,
//! so there are as few modules as the dependencies allow (see [`ComponentPlan::adapter_modules`]).

use super::abi::{FlatType, StringEncoding};
use super::translate::{
    ImportKind, InstanceSignature, LocalInit, LocalOptions, NOT_A_RESOURCE, ResourceOp, TaskOp, Translation,
};
use super::types::{FuncType, ResourceId};
use crate::{ModuleInfo, Trap};
use anyhow::{Context, Result, bail};
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::rc::Rc;
use wasmparser::{ComponentExternalKind, ExternalKind};

/// A path to an item provided by the host: root import `import`, then nested export names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImportPath {
    /// Index into [`ComponentPlan::imports`].
    pub import: u32,
    /// Names of nested instance exports.
    pub names: Vec<String>,
}

/// A core item at run time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CoreDef {
    /// Export `name` of runtime core instance `instance` (counted over module instantiations).
    Export {
        /// Runtime core instance.
        instance: u32,
        /// Export name.
        name: String,
    },
    /// Host import lowered into a core function: [`ComponentPlan::lowered`] index.
    Lowered(u32),
    /// A function that always traps (a lift lowered into the same instance): index into
    /// [`ComponentPlan::always_trap`].
    AlwaysTrap(u32),
    /// Something kiln cannot run (an async or thread built-in, an async lower, ...): index into
    /// [`ComponentPlan::unsupported`], the reason. Instantiation fails where it is used.
    Unsupported(u32),
    /// A fused adapter: index into [`ComponentPlan::adapters`].
    Adapter(u32),
    /// An adapter run by the host, for calls where either side uses the async ABI: index into
    /// [`ComponentPlan::host_adapters`].
    HostAdapter(u32),
    /// The flags global of a runtime component instance (adapter modules import it).
    InstanceFlags(u32),
    /// The function adapters call to trap with a reason (adapter modules import it).
    AdapterTrap,
    /// A `canon resource.new/drop/rep`: index into [`ComponentPlan::resource_builtins`].
    ResourceBuiltin(u32),
    /// A task, waitable, stream, future, thread or `error-context` built-in: index into
    /// [`ComponentPlan::task_builtins`].
    TaskBuiltin(u32),
}

/// A run-time resource type: one per `(type (resource ...))` definition per instantiation, and
/// one per resource type the root imports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceDef {
    /// Defined by runtime component instance `instance` (its *implementation*).
    Defined {
        /// The defining runtime component instance.
        instance: u32,
        /// Its destructor, called with the rep when an owned handle is dropped.
        dtor: Option<CoreDef>,
    },
    /// Provided by the host through a root import.
    Imported(ImportPath),
}

/// A resource built-in lowered into a core function.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceBuiltin {
    /// Which built-in.
    pub op: ResourceOp,
    /// The run-time resource (index into [`ComponentPlan::resources`]).
    pub resource: u32,
    /// The runtime component instance whose handle table it works on.
    pub instance: u32,
}

/// A task, waitable, stream, future, thread or `error-context` built-in lowered into a core
/// function.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskBuiltin {
    /// What it does.
    pub op: TaskOp,
    /// Its core parameter types.
    pub params: Vec<FlatType>,
    /// Its core result types.
    pub results: Vec<FlatType>,
    /// The memory of its `memory` option, where kiln uses it.
    pub memory: Option<CoreDef>,
    /// The runtime component instance it belongs to.
    pub instance: u32,
}

/// Canonical options with their core items resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Options {
    /// The runtime component instance these options belong to.
    pub instance: u32,
    /// String encoding.
    pub string_encoding: StringEncoding,
    /// Memory.
    pub memory: Option<CoreDef>,
    /// `realloc`.
    pub realloc: Option<CoreDef>,
    /// `post-return`.
    pub post_return: Option<CoreDef>,
    /// The `async` option.
    pub async_: bool,
    /// An `async` lift's `callback`.
    pub callback: Option<CoreDef>,
    /// The function's type is `async` (see [`LocalOptions::async_type`]).
    pub async_type: bool,
    /// The pointer size of `memory`.
    pub ptr: super::abi::PtrSize,
    /// `memory`'s custom page size, as a power of two (`None`: 64 KiB pages).
    pub page_size_log2: Option<u32>,
}

/// A lowering that can only trap: its core signature (the function type lowered with the
/// lowering's `async` option and pointer size) and its trap.
#[derive(Debug, Clone)]
pub struct AlwaysTrap {
    /// The lowered function's type.
    pub ty: FuncType,
    /// Lowered with the `async` option.
    pub async_: bool,
    /// The pointer size of the lowering's memory.
    pub ptr: super::abi::PtrSize,
    /// What it traps with.
    pub trap: Trap,
}

/// Which core module an instantiation uses.
#[derive(Debug, Clone)]
pub enum ModuleRef {
    /// A module defined in the component binary: index into [`ComponentPlan::modules`].
    Static(u32),
    /// A module provided by the host, with the imports its declared type allows, in the order
    /// of the instantiation's arguments (the module itself may import fewer, in any order).
    Import {
        /// Where the module comes from.
        path: ImportPath,
        /// `(module, field)` of each argument.
        imports: Vec<(String, String)>,
    },
}

/// One step of instantiation.
#[derive(Debug, Clone)]
pub enum Initializer {
    /// Instantiate a core module with one argument per import, in the module's import order.
    /// Creates the next runtime core instance.
    InstantiateModule {
        /// The module.
        module: ModuleRef,
        /// Arguments.
        args: Vec<CoreDef>,
    },
    /// Instantiate adapter module `index` (see [`ComponentPlan::adapter_modules`]).
    InstantiateAdapterModule {
        /// Adapter module index.
        index: u32,
    },
}

/// A host function lowered into a core function.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// Where the host function comes from.
    pub import: ImportPath,
    /// Its type.
    pub ty: FuncType,
    /// The caller's options.
    pub options: Options,
}

/// A fused adapter between two component instances.
#[derive(Debug, Clone)]
pub struct AdapterDef {
    /// The function type.
    pub ty: FuncType,
    /// The caller's `canon lower` options.
    pub lower: Options,
    /// The callee's `canon lift` options (its `post_return` included).
    pub lift: Options,
    /// The core function the callee lifted.
    pub callee: CoreDef,
}

/// An export of the root component.
#[derive(Debug, Clone)]
pub enum ExportItem {
    /// A lifted function.
    Func {
        /// Its type.
        ty: FuncType,
        /// The core function lifted.
        core: CoreDef,
        /// The lift options.
        options: Options,
    },
    /// A re-exported host function, with its declared type when known.
    ImportedFunc {
        /// Where it comes from.
        path: ImportPath,
        /// Its type.
        ty: Option<FuncType>,
    },
    /// An instance of named exports.
    Instance(Vec<(String, ExportItem)>),
    /// A re-exported host instance.
    ImportedInstance(ImportPath),
    /// A resource type: index into [`ComponentPlan::resources`].
    Resource(u32),
    /// A core module of the component: index into [`ComponentPlan::modules`].
    Module(u32),
    /// A re-exported core module the host provided.
    ImportedModule(ImportPath),
    /// A function kiln cannot call (an async lift, ...), with the reason naming the feature.
    UnsupportedFunc(String),
    /// A core module, component or type: not callable, kept for names.
    Other,
}

/// A root import.
#[derive(Debug, Clone)]
pub struct PlanImport {
    /// Import name.
    pub name: String,
    /// What it is.
    pub kind: ImportKind,
}

/// A component reduced to a flat instantiation plan.
#[derive(Debug, Clone, Default)]
pub struct ComponentPlan {
    /// Byte ranges of the static core modules in the component binary.
    pub modules: Vec<Range<usize>>,
    /// Root imports.
    pub imports: Vec<PlanImport>,
    /// Steps, in order.
    pub initializers: Vec<Initializer>,
    /// Lowered host functions.
    pub lowered: Vec<Lowered>,
    /// Always-trapping functions.
    pub always_trap: Vec<AlwaysTrap>,
    /// Fused adapters.
    pub adapters: Vec<AdapterDef>,
    /// Adapters the host runs (a lower or a lift with the `async` option on either side): the
    /// caller's arguments are lifted into values and the callee called with them.
    pub host_adapters: Vec<AdapterDef>,
    /// Adapter modules: which adapters each holds.
    pub adapter_modules: Vec<Vec<u32>>,
    /// Number of runtime core instances created by `InstantiateModule`.
    pub num_core_instances: u32,
    /// Number of runtime component instances (root and every nested instantiation).
    pub num_component_instances: u32,
    /// Root exports.
    pub exports: Vec<(String, ExportItem)>,
    /// Why each [`CoreDef::Unsupported`] cannot be run (`unsupported feature: ...`).
    pub unsupported: Vec<String>,
    /// Run-time resource types.
    pub resources: Vec<ResourceDef>,
    /// Host import paths of resource types that an import declares equal to an earlier one
    /// (`(export "b" (type (eq $a)))`), with that run-time resource: the host need not define
    /// them, but if it does, it must give the same type.
    pub resource_aliases: Vec<(ImportPath, u32)>,
    /// Resource built-ins.
    pub resource_builtins: Vec<ResourceBuiltin>,
    /// Task, waitable, stream, future, thread and `error-context` built-ins.
    pub task_builtins: Vec<TaskBuiltin>,
}

#[derive(Debug, Clone)]
enum FuncDef {
    Import(ImportPath, Option<FuncType>),
    Lifted { ty: FuncType, core: CoreDef, options: Options },
    // A function kiln cannot run (see `LocalInit::Unsupported`), with the reason.
    Unsupported(String),
}

#[derive(Debug, Clone)]
enum InstanceDef {
    Import(ImportPath, Rc<InstanceSignature>),
    Items(Rc<Vec<(String, Item)>>),
}

#[derive(Debug, Clone)]
enum ModuleDef {
    Static(u32),
    Import(ImportPath, Rc<super::translate::ModuleSignature>),
}

#[derive(Debug, Clone)]
struct ComponentDef {
    index: u32,
    closure: Rc<Closure>,
}

/// The enclosing scope a nested component definition captured, for `alias outer`.
#[derive(Debug)]
struct Closure {
    modules: Vec<ModuleDef>,
    components: Vec<ComponentDef>,
    parent: Option<Rc<Closure>>,
}

#[derive(Debug, Clone)]
enum Item {
    Func(FuncDef),
    Instance(InstanceDef),
    Module(ModuleDef),
    Component(ComponentDef),
    /// A type: `Some(resource)` for a resource type (a run-time resource index).
    Type(Option<u32>),
}

#[derive(Debug, Clone)]
enum CoreInstanceDef {
    Runtime(u32),
    Synthetic(Rc<Vec<(String, CoreDef)>>),
}

#[derive(Default)]
struct Frame {
    instance: u32,
    core_modules: Vec<ModuleDef>,
    core_instances: Vec<CoreInstanceDef>,
    core_funcs: Vec<CoreDef>,
    core_memories: Vec<CoreDef>,
    core_tables: Vec<CoreDef>,
    core_globals: Vec<CoreDef>,
    core_tags: Vec<CoreDef>,
    funcs: Vec<FuncDef>,
    instances: Vec<InstanceDef>,
    components: Vec<ComponentDef>,
    exports: Vec<(String, Item)>,
    /// Static resource keys of this component definition bound to run-time resources.
    resources: HashMap<u32, u32>,
}

impl Frame {
    fn item(&self, kind: ComponentExternalKind, index: u32) -> Result<Item> {
        let i = index as usize;
        Ok(match kind {
            ComponentExternalKind::Func => Item::Func(self.funcs.get(i).context("function index")?.clone()),
            ComponentExternalKind::Instance => Item::Instance(self.instances.get(i).context("instance index")?.clone()),
            ComponentExternalKind::Module => Item::Module(self.core_modules.get(i).context("module index")?.clone()),
            ComponentExternalKind::Component => {
                Item::Component(self.components.get(i).context("component index")?.clone())
            }
            ComponentExternalKind::Type => Item::Type(self.resource_of(index)?),
            ComponentExternalKind::Value => bail!("unsupported feature: component values"),
        })
    }

    /// The run-time resource of a type recorded as a static key (see [`NOT_A_RESOURCE`]).
    fn resource_of(&self, key: u32) -> Result<Option<u32>> {
        if key == NOT_A_RESOURCE {
            return Ok(None);
        }
        self.resources.get(&key).copied().map(Some).with_context(|| format!("resource type {key} is not bound"))
    }

    /// `ty` with its static resource keys replaced by this instantiation's run-time resources.
    fn resolve_func(&self, ty: &FuncType) -> Result<FuncType> {
        ty.map_resources(&mut |r: ResourceId| {
            self.resources
                .get(&r.0)
                .map(|rt| ResourceId(*rt))
                .with_context(|| format!("resource type {} is not bound", r.0))
        })
    }
}

impl Frame {
    fn push(&mut self, item: Item) {
        match item {
            Item::Func(f) => self.funcs.push(f),
            Item::Instance(i) => self.instances.push(i),
            Item::Module(m) => self.core_modules.push(m),
            Item::Component(c) => self.components.push(c),
            Item::Type(_) => {}
        }
    }

    fn core_item(&self, kind: ExternalKind, index: u32) -> Result<CoreDef> {
        let i = index as usize;
        Ok(match kind {
            ExternalKind::Func | ExternalKind::FuncExact => self.core_funcs.get(i),
            ExternalKind::Memory => self.core_memories.get(i),
            ExternalKind::Table => self.core_tables.get(i),
            ExternalKind::Global => self.core_globals.get(i),
            ExternalKind::Tag => self.core_tags.get(i),
        }
        .context("core item index out of range")?
        .clone())
    }

    fn push_core(&mut self, kind: ExternalKind, def: CoreDef) -> Result<()> {
        match kind {
            ExternalKind::Func | ExternalKind::FuncExact => self.core_funcs.push(def),
            ExternalKind::Memory => self.core_memories.push(def),
            ExternalKind::Table => self.core_tables.push(def),
            ExternalKind::Global => self.core_globals.push(def),
            ExternalKind::Tag => self.core_tags.push(def),
        }
        Ok(())
    }

    fn options(&self, local: &LocalOptions) -> Result<Options> {
        let core_func = |i: u32| self.core_funcs.get(i as usize).cloned().context("core function index");
        Ok(Options {
            instance: self.instance,
            string_encoding: local.string_encoding,
            memory: local
                .memory
                .map(|m| self.core_memories.get(m as usize).cloned().context("memory index"))
                .transpose()?,
            realloc: local.realloc.map(core_func).transpose()?,
            post_return: local.post_return.map(core_func).transpose()?,
            async_: local.async_,
            callback: local.callback.map(core_func).transpose()?,
            async_type: local.async_type,
            ptr: local.ptr,
            page_size_log2: local.page_size_log2,
        })
    }
}

/// Where an imported instance's resource types come from.
enum Provider {
    /// The host, through this import path (at the root).
    Host(ImportPath),
    /// The instance given as an instantiation argument.
    Items(Rc<Vec<(String, Item)>>),
    /// A host instance passed down as an argument: its resources are already bound.
    Signature(Rc<InstanceSignature>),
}

fn lookup<'a>(items: &'a [(String, Item)], name: &str) -> Result<&'a Item> {
    items.iter().find(|(n, _)| n == name).map(|(_, item)| item).with_context(|| format!("no export named `{name}`"))
}

struct Inliner<'a> {
    translation: &'a Translation,
    wasm: &'a [u8],
    plan: ComponentPlan,
    module_imports: HashMap<u32, Vec<(String, String)>>,
    /// The parent of each runtime component instance (`None` for the root).
    parents: Vec<Option<u32>>,
}

impl ComponentPlan {
    /// Builds the plan of the component binary `wasm`, already read into `translation`.
    pub fn new(translation: &Translation, wasm: &[u8]) -> Result<ComponentPlan> {
        let mut inliner = Inliner {
            translation,
            wasm,
            plan: ComponentPlan { modules: translation.modules.clone(), ..ComponentPlan::default() },
            module_imports: HashMap::new(),
            parents: Vec::new(),
        };
        let root = translation.components.len() as u32 - 1;
        let root_closure = Rc::new(Closure { modules: Vec::new(), components: Vec::new(), parent: None });
        let exports = inliner.instantiate(ComponentDef { index: root, closure: root_closure }, None, None)?;
        let mut plan = inliner.plan;
        plan.exports =
            exports.iter().map(|(name, item)| Ok((name.clone(), export_item(item)?))).collect::<Result<_>>()?;
        plan.partition_adapters()?;
        Ok(plan)
    }
}

fn export_item(item: &Item) -> Result<ExportItem> {
    Ok(match item {
        Item::Func(FuncDef::Lifted { ty, core, options }) => {
            ExportItem::Func { ty: ty.clone(), core: core.clone(), options: options.clone() }
        }
        Item::Func(FuncDef::Import(path, ty)) => ExportItem::ImportedFunc { path: path.clone(), ty: ty.clone() },
        Item::Func(FuncDef::Unsupported(reason)) => ExportItem::UnsupportedFunc(reason.clone()),
        Item::Instance(InstanceDef::Items(items)) => ExportItem::Instance(
            items.iter().map(|(name, item)| Ok((name.clone(), export_item(item)?))).collect::<Result<_>>()?,
        ),
        Item::Instance(InstanceDef::Import(path, _)) => ExportItem::ImportedInstance(path.clone()),
        Item::Type(Some(rt)) => ExportItem::Resource(*rt),
        Item::Module(ModuleDef::Static(m)) => ExportItem::Module(*m),
        Item::Module(ModuleDef::Import(path, _)) => ExportItem::ImportedModule(path.clone()),
        Item::Component(_) | Item::Type(None) => ExportItem::Other,
    })
}

impl Inliner<'_> {
    /// A lowering (with `options`) of a function of type `ty` that can only trap with `trap`.
    fn always_trap(&mut self, ty: FuncType, options: &Options, trap: Trap) -> CoreDef {
        self.plan.always_trap.push(AlwaysTrap { ty, async_: options.async_, ptr: options.ptr, trap });
        CoreDef::AlwaysTrap(self.plan.always_trap.len() as u32 - 1)
    }

    /// Whether runtime instance `ancestor` is a strict ancestor of `instance`.
    fn is_ancestor(&self, ancestor: u32, instance: u32) -> bool {
        let mut current = self.parents.get(instance as usize).copied().flatten();
        while let Some(i) = current {
            if i == ancestor {
                return true;
            }
            current = self.parents.get(i as usize).copied().flatten();
        }
        false
    }

    /// Binds the static keys of `signature`'s resources (recursively) to the resources that
    /// `provider` gives, and returns the signature in run-time terms.
    fn bind_instance(
        &mut self,
        frame: &mut Frame,
        signature: &InstanceSignature,
        provider: &Provider,
    ) -> Result<InstanceSignature> {
        let mut out = InstanceSignature::default();
        for (name, key) in &signature.resources {
            let rt = match provider {
                // A resource the host already provides through an earlier import, exported
                // again under this instance (`(export "error" (type (eq ...)))`, what WIT's `use`
                // makes, e.g. `error` in `wasi:io/streams`): the same resource, which the
                // host's instance need not define again.
                // If the host does define it, it must be that same resource type.
                Provider::Host(path) if frame.resources.contains_key(key) => {
                    let mut path = path.clone();
                    path.names.push(name.clone());
                    self.plan.resource_aliases.push((path, frame.resources[key]));
                    continue;
                }
                Provider::Host(path) => {
                    let mut path = path.clone();
                    path.names.push(name.clone());
                    self.plan.resources.push(ResourceDef::Imported(path));
                    self.plan.resources.len() as u32 - 1
                }
                Provider::Items(items) => match lookup(items, name)? {
                    Item::Type(Some(rt)) => *rt,
                    _ => bail!("instance export `{name}` is not a resource type"),
                },
                Provider::Signature(signature) => signature
                    .resources
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, rt)| *rt)
                    .with_context(|| format!("instance has no resource type `{name}`"))?,
            };
            frame.resources.insert(*key, rt);
            out.resources.push((name.clone(), rt));
        }
        for (name, inner) in &signature.instances {
            let inner_provider = match provider {
                Provider::Host(path) => {
                    let mut path = path.clone();
                    path.names.push(name.clone());
                    Provider::Host(path)
                }
                Provider::Items(items) => match lookup(items, name)? {
                    Item::Instance(InstanceDef::Items(items)) => Provider::Items(items.clone()),
                    Item::Instance(InstanceDef::Import(_, signature)) => Provider::Signature(signature.clone()),
                    _ => bail!("instance export `{name}` is not an instance"),
                },
                Provider::Signature(signature) => {
                    Provider::Signature(Rc::new(signature.instance(name).cloned().unwrap_or_default()))
                }
            };
            out.instances.push((name.clone(), self.bind_instance(frame, inner, &inner_provider)?));
        }
        for (name, ty) in &signature.funcs {
            out.funcs.push((name.clone(), ty.as_ref().map(|t| frame.resolve_func(t)).transpose()?));
        }
        out.modules = signature.modules.clone();
        Ok(out)
    }

    /// Instantiates `component` with `args` (None for the root, whose imports come from the host)
    /// and returns its exports.
    fn instantiate(
        &mut self,
        component: ComponentDef,
        args: Option<&[(String, Item)]>,
        parent: Option<u32>,
    ) -> Result<Vec<(String, Item)>> {
        let mut frame = Frame { instance: self.plan.num_component_instances, ..Frame::default() };
        self.plan.num_component_instances += 1;
        self.parents.push(parent);
        let translation = self.translation;
        let static_component = &translation.components[component.index as usize];
        for init in &static_component.inits {
            match init {
                LocalInit::Import { name, kind } => {
                    let item = match args {
                        Some(args) => {
                            let item = lookup(args, name)
                                .with_context(|| format!("missing instantiation argument `{name}`"))?
                                .clone();
                            match (kind, &item) {
                                (ImportKind::Type(Some(key)), Item::Type(Some(rt))) => {
                                    frame.resources.insert(*key, *rt);
                                }
                                (ImportKind::Type(Some(_)), _) => {
                                    bail!("instantiation argument `{name}` is not a resource type")
                                }
                                (ImportKind::Instance(signature), Item::Instance(instance)) => {
                                    let provider = match instance {
                                        InstanceDef::Items(items) => Provider::Items(items.clone()),
                                        InstanceDef::Import(_, signature) => Provider::Signature(signature.clone()),
                                    };
                                    self.bind_instance(&mut frame, signature, &provider)?;
                                }
                                _ => {}
                            }
                            item
                        }
                        None => {
                            let path = ImportPath { import: self.plan.imports.len() as u32, names: Vec::new() };
                            let (item, kind) = match kind {
                                ImportKind::Func(ty) => {
                                    let ty = frame.resolve_func(ty)?;
                                    (Item::Func(FuncDef::Import(path, Some(ty.clone()))), ImportKind::Func(ty))
                                }
                                ImportKind::Instance(signature) => {
                                    let resolved =
                                        self.bind_instance(&mut frame, signature, &Provider::Host(path.clone()))?;
                                    (
                                        Item::Instance(InstanceDef::Import(path, Rc::new(resolved.clone()))),
                                        ImportKind::Instance(resolved),
                                    )
                                }
                                ImportKind::Module(sig) => (
                                    Item::Module(ModuleDef::Import(path, Rc::new(sig.clone()))),
                                    ImportKind::Module(sig.clone()),
                                ),
                                ImportKind::Component => bail!("unsupported feature: importing components (`{name}`)"),
                                ImportKind::Type(Some(key)) => {
                                    self.plan.resources.push(ResourceDef::Imported(path));
                                    let rt = self.plan.resources.len() as u32 - 1;
                                    frame.resources.insert(*key, rt);
                                    (Item::Type(Some(rt)), ImportKind::Type(Some(rt)))
                                }
                                ImportKind::Type(None) => (Item::Type(None), ImportKind::Type(None)),
                            };
                            self.plan.imports.push(super::inline::PlanImport { name: name.clone(), kind });
                            item
                        }
                    };
                    frame.push(item);
                }
                LocalInit::CoreModule(index) => frame.core_modules.push(ModuleDef::Static(*index)),
                LocalInit::Component(index) => {
                    let closure = Rc::new(Closure {
                        modules: frame.core_modules.clone(),
                        components: frame.components.clone(),
                        parent: Some(component.closure.clone()),
                    });
                    frame.components.push(ComponentDef { index: *index, closure });
                }
                LocalInit::CoreInstantiate { module, args } => {
                    let module = frame.core_modules.get(*module as usize).context("core module index")?.clone();
                    let (module_imports, module) = match module {
                        ModuleDef::Static(module) => (self.module_imports(module)?, ModuleRef::Static(module)),
                        ModuleDef::Import(path, sig) => {
                            let imports: Vec<_> = sig.imports.iter().map(|(m, f, _)| (m.clone(), f.clone())).collect();
                            (imports.clone(), ModuleRef::Import { path, imports })
                        }
                    };
                    let mut resolved = Vec::new();
                    for (import_module, field) in module_imports {
                        let (_, instance) = args
                            .iter()
                            .find(|(name, _)| *name == import_module)
                            .with_context(|| format!("no instantiation argument for `{import_module}`"))?;
                        let instance = frame.core_instances.get(*instance as usize).context("core instance index")?;
                        resolved.push(match instance {
                            CoreInstanceDef::Runtime(i) => CoreDef::Export { instance: *i, name: field.clone() },
                            CoreInstanceDef::Synthetic(items) => items
                                .iter()
                                .find(|(name, _)| *name == field)
                                .map(|(_, def)| def.clone())
                                .with_context(|| format!("no export `{field}` for import `{import_module}`"))?,
                        });
                    }
                    self.plan.initializers.push(Initializer::InstantiateModule { module, args: resolved });
                    frame.core_instances.push(CoreInstanceDef::Runtime(self.plan.num_core_instances));
                    self.plan.num_core_instances += 1;
                }
                LocalInit::CoreInstanceFromExports(exports) => {
                    let items = exports
                        .iter()
                        .map(|(name, kind, index)| Ok((name.clone(), frame.core_item(*kind, *index)?)))
                        .collect::<Result<_>>()?;
                    frame.core_instances.push(CoreInstanceDef::Synthetic(Rc::new(items)));
                }
                LocalInit::CoreAlias { kind, instance, name } => {
                    let def = match frame.core_instances.get(*instance as usize).context("core instance index")? {
                        CoreInstanceDef::Runtime(i) => CoreDef::Export { instance: *i, name: name.clone() },
                        CoreInstanceDef::Synthetic(items) => items
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, def)| def.clone())
                            .with_context(|| format!("no core export `{name}`"))?,
                    };
                    frame.push_core(*kind, def)?;
                }
                LocalInit::Instantiate { component, args } => {
                    let target = frame.components.get(*component as usize).context("component index")?.clone();
                    let args = args
                        .iter()
                        .map(|(name, kind, index)| Ok((name.clone(), frame.item(*kind, *index)?)))
                        .collect::<Result<Vec<_>>>()?;
                    let exports = self.instantiate(target, Some(&args), Some(frame.instance))?;
                    frame.instances.push(InstanceDef::Items(Rc::new(exports)));
                }
                LocalInit::InstanceFromExports(exports) => {
                    let items = exports
                        .iter()
                        .map(|(name, kind, index)| Ok((name.clone(), frame.item(*kind, *index)?)))
                        .collect::<Result<_>>()?;
                    frame.instances.push(InstanceDef::Items(Rc::new(items)));
                }
                LocalInit::InstanceAlias { kind, instance, name, type_key } => {
                    let item = match frame.instances.get(*instance as usize).context("instance index")? {
                        InstanceDef::Import(path, signature) => {
                            let mut path = path.clone();
                            path.names.push(name.clone());
                            match kind {
                                ComponentExternalKind::Func => {
                                    Item::Func(FuncDef::Import(path, signature.func(name).cloned()))
                                }
                                ComponentExternalKind::Instance => {
                                    let inner = signature.instance(name).cloned().unwrap_or_default();
                                    Item::Instance(InstanceDef::Import(path, Rc::new(inner)))
                                }
                                ComponentExternalKind::Module => {
                                    let sig = signature.module(name).cloned().unwrap_or_default();
                                    Item::Module(ModuleDef::Import(path, Rc::new(sig)))
                                }
                                ComponentExternalKind::Component => {
                                    bail!("unsupported feature: components exported by imported instances")
                                }
                                ComponentExternalKind::Type => {
                                    Item::Type(signature.resources.iter().find(|(n, _)| n == name).map(|(_, rt)| *rt))
                                }
                                ComponentExternalKind::Value => bail!("unsupported feature: component values"),
                            }
                        }
                        InstanceDef::Items(items) => lookup(items, name)?.clone(),
                    };
                    if let (Some(key), Item::Type(Some(rt))) = (type_key, &item) {
                        frame.resources.insert(*key, *rt);
                    }
                    frame.push(item);
                }
                LocalInit::OuterAlias { component: is_component, count, index } => {
                    let item = if *count == 0 {
                        if *is_component {
                            Item::Component(frame.components.get(*index as usize).context("component index")?.clone())
                        } else {
                            Item::Module(frame.core_modules.get(*index as usize).context("module index")?.clone())
                        }
                    } else {
                        let mut closure = &component.closure;
                        for _ in 1..*count {
                            closure = closure.parent.as_ref().context("outer alias beyond the root")?;
                        }
                        if *is_component {
                            Item::Component(
                                closure.components.get(*index as usize).context("outer component index")?.clone(),
                            )
                        } else {
                            Item::Module(closure.modules.get(*index as usize).context("outer module index")?.clone())
                        }
                    };
                    frame.push(item);
                }
                LocalInit::Lift { core_func, ty, options } => {
                    let core = frame.core_funcs.get(*core_func as usize).context("core function index")?.clone();
                    let options = frame.options(options)?;
                    let ty = frame.resolve_func(ty)?;
                    frame.funcs.push(FuncDef::Lifted { ty, core, options });
                }
                LocalInit::Lower { func, ty, options } => {
                    let options = frame.options(options)?;
                    // The lowering component's view of the type can name resources it never
                    // aliased (a child's resources get fresh ids in the parent), so the type is
                    // taken from the function itself, resolved where it was lifted or imported.
                    let def = match frame.funcs.get(*func as usize).context("function index")?.clone() {
                        FuncDef::Unsupported(reason) => self.unsupported(reason),
                        FuncDef::Import(path, known) => {
                            let ty = match known {
                                Some(ty) => ty,
                                None => frame.resolve_func(ty)?,
                            };
                            self.plan.lowered.push(Lowered { import: path, ty, options });
                            CoreDef::Lowered(self.plan.lowered.len() as u32 - 1)
                        }
                        FuncDef::Lifted { ty: lifted_ty, options: lift, .. } if lift.instance == frame.instance => {
                            self.always_trap(lifted_ty, &options, Trap::AdapterSameInstance)
                        }
                        // A call between an instance and its ancestor or descendant might be
                        // recursive (the Canonical ABI's `call_might_be_recursive`): it traps.
                        FuncDef::Lifted { ty: lifted_ty, options: lift, .. }
                            if self.is_ancestor(lift.instance, frame.instance)
                                || self.is_ancestor(frame.instance, lift.instance) =>
                        {
                            self.always_trap(lifted_ty, &options, Trap::CannotEnterComponent)
                        }
                        FuncDef::Lifted { ty: lifted_ty, core, options: lift }
                            if options.async_ || options.async_type || lift.async_ =>
                        {
                            let adapter = AdapterDef { ty: lifted_ty, lower: options, lift, callee: core };
                            self.plan.host_adapters.push(adapter);
                            CoreDef::HostAdapter(self.plan.host_adapters.len() as u32 - 1)
                        }
                        FuncDef::Lifted { ty: lifted_ty, core, options: lift } => {
                            self.plan.adapters.push(AdapterDef { ty: lifted_ty, lower: options, lift, callee: core });
                            CoreDef::Adapter(self.plan.adapters.len() as u32 - 1)
                        }
                    };
                    frame.core_funcs.push(def);
                }
                LocalInit::Unsupported { core: true, reason } => {
                    let def = self.unsupported(reason.clone());
                    frame.core_funcs.push(def);
                }
                LocalInit::Unsupported { core: false, reason } => {
                    frame.funcs.push(FuncDef::Unsupported(reason.clone()))
                }
                LocalInit::Export { name, kind, index } => {
                    let item = frame.item(*kind, *index)?;
                    frame.exports.push((name.clone(), item.clone()));
                    frame.push(item);
                }
                LocalInit::DefineResource { key, dtor } => {
                    let dtor = dtor
                        .map(|f| frame.core_funcs.get(f as usize).cloned().context("destructor index"))
                        .transpose()?;
                    self.plan.resources.push(ResourceDef::Defined { instance: frame.instance, dtor });
                    frame.resources.insert(*key, self.plan.resources.len() as u32 - 1);
                }
                LocalInit::TaskBuiltin { op, params, results, memory } => {
                    let memory = memory
                        .map(|m| frame.core_memories.get(m as usize).cloned().context("memory index"))
                        .transpose()?;
                    let op = match op {
                        TaskOp::Return { result: Some(ty), string_encoding } => {
                            let resolved =
                                frame.resolve_func(&FuncType { params: Box::new([]), result: Some(ty.clone()) })?;
                            TaskOp::Return { result: resolved.result, string_encoding: *string_encoding }
                        }
                        other => other.clone(),
                    };
                    self.plan.task_builtins.push(TaskBuiltin {
                        op,
                        params: params.clone(),
                        results: results.clone(),
                        memory,
                        instance: frame.instance,
                    });
                    frame.core_funcs.push(CoreDef::TaskBuiltin(self.plan.task_builtins.len() as u32 - 1));
                }
                LocalInit::ResourceBuiltin { op, key } => {
                    let resource = frame.resource_of(*key)?.context("resource built-in of an unbound resource")?;
                    self.plan.resource_builtins.push(ResourceBuiltin { op: *op, resource, instance: frame.instance });
                    frame.core_funcs.push(CoreDef::ResourceBuiltin(self.plan.resource_builtins.len() as u32 - 1));
                }
            }
        }
        Ok(frame.exports)
    }

    /// A new [`CoreDef::Unsupported`] placeholder for `reason`.
    fn unsupported(&mut self, reason: String) -> CoreDef {
        self.plan.unsupported.push(reason);
        CoreDef::Unsupported(self.plan.unsupported.len() as u32 - 1)
    }

    fn module_imports(&mut self, module: u32) -> Result<Vec<(String, String)>> {
        if let Some(imports) = self.module_imports.get(&module) {
            return Ok(imports.clone());
        }
        let range = self.plan.modules[module as usize].clone();
        let info = ModuleInfo::parse_validated(&self.wasm[range])?;
        let imports: Vec<_> = info.imports.iter().map(|i| (i.module.clone(), i.name.clone())).collect();
        self.module_imports.insert(module, imports.clone());
        Ok(imports)
    }
}

impl ComponentPlan {
    fn adapter_deps(&self, adapter: u32) -> (Vec<u32>, Vec<u32>) {
        let a = &self.adapters[adapter as usize];
        let mut cores = Vec::new();
        let mut adapters = Vec::new();
        let defs = [Some(&a.callee), a.lift.post_return.as_ref(), a.lift.realloc.as_ref(), a.lift.memory.as_ref()]
            .into_iter()
            .chain([a.lower.realloc.as_ref(), a.lower.memory.as_ref()]);
        for def in defs.flatten() {
            match def {
                CoreDef::Export { instance, .. } => cores.push(*instance),
                CoreDef::Adapter(other) => adapters.push(*other),
                _ => {}
            }
        }
        (cores, adapters)
    }

    /// Places adapter modules into the initializer list (see the module docs).
    fn partition_adapters(&mut self) -> Result<()> {
        let deps: Vec<_> = (0..self.adapters.len() as u32).map(|a| self.adapter_deps(a)).collect();
        let num_adapters = self.adapters.len() as u32;
        let mut placed = vec![false; self.adapters.len()];
        let mut ready_cores = BTreeSet::new();
        let mut output = Vec::new();
        let initializers = std::mem::take(&mut self.initializers);
        let mut next_core = 0u32;
        let adapters_in = |args: &[CoreDef]| -> Vec<u32> {
            args.iter().filter_map(|d| if let CoreDef::Adapter(a) = d { Some(*a) } else { None }).collect()
        };
        let mut place = |needed: Vec<u32>, ready_cores: &BTreeSet<u32>, output: &mut Vec<Initializer>| -> Result<()> {
            // Everything `needed` depends on, transitively through other adapters.
            let mut wanted: BTreeSet<u32> = BTreeSet::new();
            let mut stack = needed;
            while let Some(a) = stack.pop() {
                if !placed[a as usize] && wanted.insert(a) {
                    stack.extend(deps[a as usize].1.iter().copied());
                }
            }
            while wanted.iter().any(|a| !placed[*a as usize]) {
                let group: Vec<u32> = (0..num_adapters)
                    .filter(|a| {
                        let (cores, adapters) = &deps[*a as usize];
                        !placed[*a as usize]
                            && cores.iter().all(|c| ready_cores.contains(c))
                            && adapters.iter().all(|d| placed[*d as usize])
                    })
                    .collect();
                if group.is_empty() {
                    bail!("fused adapters depend on each other in a cycle");
                }
                for a in &group {
                    placed[*a as usize] = true;
                }
                self.adapter_modules.push(group);
                output.push(Initializer::InstantiateAdapterModule { index: self.adapter_modules.len() as u32 - 1 });
            }
            Ok(())
        };
        for init in initializers {
            if let Initializer::InstantiateModule { args, .. } = &init {
                place(adapters_in(args), &ready_cores, &mut output)?;
                ready_cores.insert(next_core);
                next_core += 1;
            }
            output.push(init);
        }
        let all: Vec<u32> = (0..num_adapters).collect();
        place(all, &ready_cores, &mut output)?;
        self.initializers = output;
        Ok(())
    }
}
