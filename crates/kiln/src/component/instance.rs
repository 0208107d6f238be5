//! [`Instance`]: a component instantiated by running its plan: core modules, adapter modules,
//! lowered host imports and always-trapping functions, with one flags global per runtime component
//! instance (may-leave / may-enter).

use super::abi::{self, AbiMemory, Flat};
use super::compiled::Component;
use super::func::{Func, FuncData, LiftedFunc, flat_to_raw, raw_to_flat};
use super::linker::HostDtor;
use super::linker::{Definition, HostFunc};
use super::resources::{Repr, ResourceKind, ResourceState};
use super::tasks::{TaskState, task_builtin};
use super::values::Val;
use crate::store::{AsContextMut, StoreContextMut, StoreId, StoreInner, StoreOpaque};
use crate::{Caller, Extern, Global, GlobalType, Memory, Mutability, Trap, ValType};
use anyhow::{Context, Result, anyhow, bail};
use kiln_environ::component::{
    Context as AbiContext, CoreDef, ExportItem, FlatType, FuncType, ImportPath, Initializer, ModuleRef, Options,
    PtrSize, ResourceDef, ResourceOp, StringEncoding, flatten_async_lift, flatten_async_lower, flatten_func_in,
};
use kiln_fact::{AdapterImport, FLAG_CONTEXT_LIVE, FLAG_MAY_ENTER, FLAG_MAY_LEAVE};
use std::any::Any;
use std::sync::Arc;

/// An instantiated component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

/// A resolved host definition, type-erased (`Definition<T>` of the store's `T`).
pub(crate) type HostDefinition = Arc<dyn Any + Send + Sync>;

/// Per-instance state kept in the store.
pub struct InstanceState {
    pub(crate) component: Component,
    core_instances: Vec<crate::Instance>,
    adapter_instances: Vec<Option<crate::Instance>>,
    lowered: Vec<crate::Func>,
    /// The host-run adapters (see [`kiln_environ::component::ComponentPlan::host_adapters`]).
    host_adapters: Vec<crate::Func>,
    /// The callee of each host-run adapter as a lifted function (an index into `funcs`), made
    /// on its first call.
    host_adapter_callees: Vec<Option<usize>>,
    always_trap: Vec<crate::Func>,
    pub(crate) flags: Vec<Global>,
    trap_func: Option<crate::Func>,
    imports: Vec<Option<HostDefinition>>,
    pub(crate) funcs: Vec<FuncData>,
    /// The resolved canonical options of each lowered host import, then of each host-run
    /// adapter's caller, filled on its first call (the core items they name exist only once the
    /// core instances do).
    lowered_options: Vec<Option<ResolvedOptions>>,
    /// The identity of each run-time resource of the plan.
    pub(crate) resource_kinds: Vec<ResourceKind>,
    /// The host destructors of imported resources (`HostDtorBox<T>`), by plan resource.
    host_dtors: Vec<Option<Arc<dyn Any + Send + Sync>>>,
    /// Handle tables and call scopes (in a `RefCell` so that the reference ABI, which lifts
    /// through a shared borrow of the store, can move handles).
    pub(crate) resources: std::cell::RefCell<ResourceState>,
    /// The `canon resource.*` built-ins, by [`kiln_environ::component::ComponentPlan::resource_builtins`] index.
    resource_builtins: Vec<crate::Func>,
    /// The adapters' resource intrinsics: transfer own, transfer borrow, enter call, exit call.
    resource_intrinsics: Option<[crate::Func; 4]>,
    /// The task, waitable, stream, ... built-ins, by
    /// [`kiln_environ::component::ComponentPlan::task_builtins`] index.
    task_builtins: Vec<crate::Func>,
    /// Context slots and backpressure counters.
    pub(crate) tasks: TaskState,
}

impl Drop for InstanceState {
    fn drop(&mut self) {
        // A `ResourceAny` is a plain value, so the store cannot drop it for the user; say so
        // rather than leak silently.
        let leaked = self.resources.get_mut().host_owned_handles();
        if leaked > 0 {
            tracing::warn!(
                "{leaked} owned resource handle(s) given to the host were never dropped \
                 (`ResourceAny::resource_drop`) or given back: their destructors did not run"
            );
        }
    }
}

/// A path to an export: the names from the root down.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExportIndex {
    path: Vec<String>,
}

impl ExportIndex {
    pub(crate) fn new(path: Vec<String>) -> ExportIndex {
        ExportIndex { path }
    }

    pub(crate) fn path(&self) -> &[String] {
        &self.path
    }
}

/// What [`Instance::get_func`] accepts: a root export name or an [`ExportIndex`].
pub trait InstanceExportLookup {
    #[doc(hidden)]
    fn path(&self) -> Vec<String>;
}
impl InstanceExportLookup for str {
    fn path(&self) -> Vec<String> {
        vec![self.to_string()]
    }
}
impl InstanceExportLookup for String {
    fn path(&self) -> Vec<String> {
        vec![self.clone()]
    }
}
impl InstanceExportLookup for ExportIndex {
    fn path(&self) -> Vec<String> {
        self.path.clone()
    }
}
impl<T: InstanceExportLookup + ?Sized> InstanceExportLookup for &T {
    fn path(&self) -> Vec<String> {
        (**self).path()
    }
}

pub(crate) fn core_type(t: FlatType) -> ValType {
    match t {
        FlatType::I32 => ValType::I32,
        FlatType::I64 => ValType::I64,
        FlatType::F32 => ValType::F32,
        FlatType::F64 => ValType::F64,
    }
}

/// The core signature of a function of type `ty` lowered with or without `async`.
fn lowered_core_type(ty: &FuncType, async_: bool, ptr: PtrSize) -> crate::FuncType {
    let sig = if async_ { flatten_async_lower(ty, ptr) } else { flatten_func_in(ty, AbiContext::Lower, ptr) };
    crate::FuncType::new(sig.params.iter().map(|t| core_type(*t)), sig.results.iter().map(|t| core_type(*t)))
}

/// Canonical options with their core items looked up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResolvedOptions {
    /// The store's component instance the options belong to.
    pub(crate) store_instance: usize,
    /// The runtime component instance (within it) whose handle table handles go to.
    pub(crate) instance: u32,
    pub(crate) memory: Option<Memory>,
    pub(crate) realloc: Option<crate::Func>,
    pub(crate) post_return: Option<crate::Func>,
    pub(crate) string_encoding: StringEncoding,
    pub(crate) flags: Global,
    /// The `async` option (a lift: the result comes through `task.return`).
    pub(crate) async_: bool,
    /// An `async` lift's `callback`.
    pub(crate) callback: Option<crate::Func>,
    /// The function's type is `async` (its task may block).
    pub(crate) async_type: bool,
    /// The pointer size of `memory`.
    pub(crate) ptr: PtrSize,
}

/// The reference ABI's view of one side's options, for host <-> wasm calls.
pub(crate) struct HostAbi<'a, T> {
    pub(crate) store: &'a mut StoreInner<T>,
    pub(crate) options: ResolvedOptions,
}

impl<T: 'static> AbiMemory for HostAbi<'_, T> {
    fn memory(&self) -> Result<&[u8]> {
        let memory = self.options.memory.context("the canonical options name no memory")?;
        Ok(memory.raw_data(&self.store.opaque))
    }

    fn memory_mut(&mut self) -> Result<&mut [u8]> {
        let memory = self.options.memory.context("the canonical options name no memory")?;
        Ok(memory.raw_data_mut(&self.store.opaque))
    }

    fn realloc(&mut self, old_ptr: u64, old_size: u32, align: u32, new_size: u32) -> Result<u64> {
        let realloc = self.options.realloc.context("the canonical options name no realloc")?;
        let wide = self.options.ptr.is_64();
        let args = [old_ptr, u64::from(old_size), u64::from(align), u64::from(new_size)];
        let mut raw = args.map(|v| {
            if wide { kiln_runtime::ValRaw::i64(v as i64) } else { kiln_runtime::ValRaw::i32(v as u32 as i32) }
        });
        // The instance may not call out while its realloc runs.
        // SAFETY: the flags global is owned by this store and lives as long as it.
        let flags = unsafe { &*self.options.flags.runtime_ptr(&self.store.opaque) };
        let saved = flags.get();
        flags.set(kiln_runtime::ValRaw::i32(saved.get_i32() & !FLAG_MAY_LEAVE));
        realloc.call_raw(&mut *self.store, &mut raw)?;
        flags.set(saved);
        Ok(if wide { raw[0].get_i64() as u64 } else { u64::from(raw[0].get_i32() as u32) })
    }

    fn string_encoding(&self) -> StringEncoding {
        self.options.string_encoding
    }

    fn ptr_size(&self) -> PtrSize {
        self.options.ptr
    }

    fn lift_handle(&self, ty: &kiln_environ::component::ValueType, handle: u32) -> Result<Val> {
        use kiln_environ::component::ValueType;
        let index = self.options.store_instance;
        let state = &self.store.opaque.component_instances[index];
        let defs = &state.component.inner.plan.resources;
        let mut resources = state.resources.borrow_mut();
        let host = resources.host();
        let (resource, owned) = match ty {
            ValueType::Own(r) => (r.0, true),
            ValueType::Borrow(r) => (r.0, false),
            _ => bail!("not a handle type: {ty}"),
        };
        let kind = state.resource_kinds[resource as usize];
        let repr = match (&defs[resource as usize], owned) {
            // The host's own resource comes back to it as its rep.
            (ResourceDef::Imported(_), true) => {
                Repr::Host { rep: resources.take_own(defs, self.options.instance, resource, handle)? }
            }
            (ResourceDef::Imported(_), false) => {
                Repr::Host { rep: resources.lend(defs, self.options.instance, resource, handle)? }
            }
            (ResourceDef::Defined { .. }, true) => Repr::Guest {
                store: self.store.opaque.id,
                instance: index,
                handle: resources.transfer_own(defs, self.options.instance, host, resource, handle)?,
            },
            (ResourceDef::Defined { .. }, false) => Repr::Guest {
                store: self.store.opaque.id,
                instance: index,
                handle: resources.transfer_borrow(defs, self.options.instance, host, resource, handle)?,
            },
        };
        Ok(Val::Resource(super::ResourceAny { ty: super::ResourceType(kind), repr, owned }))
    }

    fn lower_handle(&mut self, ty: &kiln_environ::component::ValueType, v: &Val) -> Result<u32> {
        use kiln_environ::component::ValueType;
        let Val::Resource(r) = v else { bail!("expected a resource handle for {ty}") };
        let index = self.options.store_instance;
        let state = &self.store.opaque.component_instances[index];
        let defs = &state.component.inner.plan.resources;
        let (resource, owned) = match ty {
            ValueType::Own(t) => (t.0, true),
            ValueType::Borrow(t) => (t.0, false),
            _ => bail!("not a handle type: {ty}"),
        };
        if state.resource_kinds[resource as usize] != r.ty.0 {
            bail!("resource handle of another resource type passed as {ty}");
        }
        if owned && !r.owned {
            bail!("a borrowed resource handle cannot be passed as {ty}");
        }
        let mut resources = state.resources.borrow_mut();
        let host = resources.host();
        match r.repr {
            Repr::Host { rep } if owned => resources.new_own(self.options.instance, resource, rep),
            Repr::Host { rep } => resources.add_borrow(self.options.instance, resource, rep),
            Repr::Guest { store, instance, handle } => {
                if store != self.store.opaque.id || instance != index {
                    bail!("resource handle of another component instance passed as {ty}");
                }
                if owned {
                    resources.transfer_own(defs, host, self.options.instance, resource, handle)
                } else {
                    resources.transfer_borrow(defs, host, self.options.instance, resource, handle)
                }
            }
        }
    }
}

impl Instance {
    pub(crate) fn instantiate<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        component: &Component,
        imports: Vec<Option<Definition<T>>>,
    ) -> Result<Instance> {
        let store = store.as_context_mut().0;
        if !crate::Engine::same(&store.opaque.engine, component.engine()) {
            bail!("cross-engine instantiation is not supported");
        }
        let plan = &component.inner.plan;
        let index = store.opaque.component_instances.len();
        let id = store.opaque.id;
        let mut state = InstanceState {
            component: component.clone(),
            core_instances: Vec::new(),
            adapter_instances: vec![None; component.inner.adapter_modules.len()],
            lowered: Vec::new(),
            host_adapters: Vec::new(),
            host_adapter_callees: vec![None; plan.host_adapters.len()],
            always_trap: Vec::new(),
            flags: Vec::new(),
            trap_func: None,
            imports: imports.into_iter().map(|d| d.map(|d| Arc::new(d) as HostDefinition)).collect(),
            funcs: Vec::new(),
            lowered_options: Vec::new(),
            resource_kinds: Vec::new(),
            host_dtors: Vec::new(),
            resources: std::cell::RefCell::new(ResourceState::default()),
            resource_builtins: Vec::new(),
            resource_intrinsics: None,
            task_builtins: Vec::new(),
            tasks: TaskState::new(plan.num_component_instances),
        };
        for (i, def) in plan.resources.iter().enumerate() {
            let (kind, dtor) = match def {
                ResourceDef::Defined { .. } => {
                    (ResourceKind::Guest { store: id, instance: index, index: i as u32 }, None)
                }
                ResourceDef::Imported(path) => {
                    let (ty, dtor) = resolve_resource::<T>(&state.imports, path, plan)?;
                    (ty.0, Some(Arc::new(HostDtorBox(dtor)) as Arc<dyn Any + Send + Sync>))
                }
            };
            state.resource_kinds.push(kind);
            state.host_dtors.push(dtor);
        }
        for (path, resource) in &plan.resource_aliases {
            // Absent is fine (the declared equality says what it is); present, it must agree.
            match resolve_definition::<T>(&state.imports, path, plan) {
                Ok(Definition::Resource(ty, _)) if ty.0 == state.resource_kinds[*resource as usize] => {}
                Ok(Definition::Resource(..)) => bail!(
                    "mismatched resource types: component import `{}` is declared equal to another resource \
                     type, but the host defines a different one",
                    import_name(plan, path)
                ),
                Ok(_) => bail!("component import `{}`: expected resource", import_name(plan, path)),
                Err(_) => {}
            }
        }
        state.resources =
            std::cell::RefCell::new(ResourceState::new(plan.num_component_instances, &state.resource_kinds));
        for builtin in &plan.resource_builtins {
            state.resource_builtins.push(resource_builtin::<T>(&mut *store, index, builtin));
        }
        for builtin in &plan.task_builtins {
            state.task_builtins.push(task_builtin::<T>(&mut *store, index, builtin));
        }
        let needs_intrinsics = component.inner.adapter_modules.iter().any(|m| {
            m.imports.iter().any(|i| matches!(i, AdapterImport::ResourceTransferOwn | AdapterImport::ResourceEnterCall))
        });
        if needs_intrinsics {
            state.resource_intrinsics = Some(resource_intrinsics::<T>(&mut *store, index));
        }
        let flags_ty = GlobalType::new(ValType::I32, Mutability::Var);
        for _ in 0..plan.num_component_instances {
            state.flags.push(Global::new(
                crate::StoreContextMut(&mut *store),
                flags_ty,
                crate::Val::I32(FLAG_MAY_LEAVE | FLAG_MAY_ENTER),
            )?);
        }
        state.trap_func = Some(crate::Func::wrap(crate::StoreContextMut(&mut *store), |code: i32| -> Result<()> {
            Err(anyhow::Error::new(Trap::from_u8(code as u8).unwrap_or(Trap::UnreachableCodeReached)))
        }));
        for always in &plan.always_trap {
            let trap = always.trap;
            state.always_trap.push(crate::Func::new(
                crate::StoreContextMut(&mut *store),
                lowered_core_type(&always.ty, always.async_, always.ptr),
                move |_, _, _| Err(anyhow::Error::new(trap)),
            ));
        }
        for (i, lowered) in plan.lowered.iter().enumerate() {
            let host = resolve_import::<T>(&state.imports, &lowered.import, plan)?;
            if let Some(declared) = &host.ty {
                check_signature(declared, &lowered.ty).with_context(|| {
                    format!("host function for `{}` has the wrong type", import_name(plan, &lowered.import))
                })?;
            }
            let lowered_fn = Arc::new(LoweredFn::new(lowered.ty.clone(), lowered.options.clone(), i));
            let func = crate::Func::new_raw(
                &mut *store,
                lowered_core_type(&lowered.ty, lowered.options.async_, lowered.options.ptr),
                move |caller: Caller<'_, T>, raw: &mut [kiln_runtime::ValRaw]| {
                    call_lowered(caller.store, index, &lowered_fn, Callee::Host(&host), raw)
                },
            );
            state.lowered.push(func);
            state.lowered_options.push(None);
        }
        for (i, adapter) in plan.host_adapters.iter().enumerate() {
            let slot = plan.lowered.len() + i;
            let lowered_fn = Arc::new(LoweredFn::new(adapter.ty.clone(), adapter.lower.clone(), slot));
            let func = crate::Func::new_raw(
                &mut *store,
                lowered_core_type(&adapter.ty, adapter.lower.async_, adapter.lower.ptr),
                move |caller: Caller<'_, T>, raw: &mut [kiln_runtime::ValRaw]| {
                    call_lowered(caller.store, index, &lowered_fn, Callee::Lifted(i), raw)
                },
            );
            state.host_adapters.push(func);
            state.lowered_options.push(None);
        }
        store.opaque.component_instances.push(state);
        let instance = Instance { store: id, index };
        for init in &plan.initializers {
            match init {
                Initializer::InstantiateModule { module, args } => {
                    let args =
                        args.iter().map(|d| resolve_core(&mut store.opaque, index, d)).collect::<Result<Vec<_>>>()?;
                    let (module, externs) = match module {
                        ModuleRef::Static(m) => (component.inner.modules[*m as usize].clone(), args),
                        ModuleRef::Import { path, imports } => {
                            // The host's module may import fewer items than its declared type
                            // allows, in its own order: pick the arguments by name.
                            let state = &store.opaque.component_instances[index];
                            let module = match resolve_definition::<T>(&state.imports, path, &component.inner.plan)? {
                                Definition::Module(m) => m.clone(),
                                _ => bail!("`{}` is not a core module", import_name(&component.inner.plan, path)),
                            };
                            let externs = module
                                .imports()
                                .map(|i| {
                                    imports
                                        .iter()
                                        .position(|(m, f)| m == i.module() && f == i.name())
                                        .map(|k| args[k])
                                        .with_context(|| {
                                            format!("module import `{}::{}` not defined", i.module(), i.name())
                                        })
                                })
                                .collect::<Result<Vec<_>>>()?;
                            (module, externs)
                        }
                    };
                    let core = crate::Instance::new(crate::StoreContextMut(&mut *store), &module, &externs)?;
                    store.opaque.component_instances[index].core_instances.push(core);
                }
                Initializer::InstantiateAdapterModule { index: m } => {
                    let code = &component.inner.adapter_modules[*m as usize];
                    let mut externs = Vec::new();
                    for import in &code.imports {
                        let state = &store.opaque.component_instances[index];
                        externs.push(match import {
                            AdapterImport::Memory(d) | AdapterImport::Func(d, _) => {
                                resolve_core(&mut store.opaque, index, d)?
                            }
                            AdapterImport::Flags(ci) => Extern::Global(state.flags[*ci as usize]),
                            AdapterImport::Trap => Extern::Func(state.trap_func.unwrap()),
                            AdapterImport::ResourceTransferOwn
                            | AdapterImport::ResourceTransferBorrow
                            | AdapterImport::ResourceEnterCall
                            | AdapterImport::ResourceExitCall => {
                                let funcs = state.resource_intrinsics.context("resource intrinsics not created")?;
                                Extern::Func(match import {
                                    AdapterImport::ResourceTransferOwn => funcs[0],
                                    AdapterImport::ResourceTransferBorrow => funcs[1],
                                    AdapterImport::ResourceEnterCall => funcs[2],
                                    _ => funcs[3],
                                })
                            }
                        });
                    }
                    let core = crate::Instance::new(crate::StoreContextMut(&mut *store), &code.module, &externs)
                        .with_context(|| format!("failed to instantiate adapter module {m}"))?;
                    store.opaque.component_instances[index].adapter_instances[*m as usize] = Some(core);
                }
            }
        }
        Ok(instance)
    }

    fn state<'a>(&self, store: &'a StoreOpaque) -> &'a InstanceState {
        assert_eq!(store.id, self.store, "component instance used with the wrong store");
        &store.component_instances[self.index]
    }

    fn export_item(&self, store: &StoreOpaque, path: &[String]) -> Option<ExportItem> {
        let plan = &self.state(store).component.inner.plan;
        let mut items = &plan.exports;
        let (last, parents) = path.split_last()?;
        for name in parents {
            match items.iter().find(|(n, _)| n == name)? {
                (_, ExportItem::Instance(inner)) => items = inner,
                _ => return None,
            }
        }
        items.iter().find(|(n, _)| n == last).map(|(_, item)| item.clone())
    }

    /// The component this is an instance of.
    pub fn component(&self, store: impl crate::AsContext) -> super::Component {
        self.state(&store.as_context().0.opaque).component.clone()
    }

    /// The index of export `name` inside `parent` (the root if `None`).
    pub fn get_export_index(
        &self,
        store: impl crate::AsContext,
        parent: Option<&ExportIndex>,
        name: &str,
    ) -> Option<ExportIndex> {
        let mut path = parent.map(|p| p.path.clone()).unwrap_or_default();
        path.push(name.to_string());
        self.export_item(&store.as_context().0.opaque, &path)?;
        Some(ExportIndex { path })
    }

    /// The exported function at `export` (a root name or an [`ExportIndex`]).
    pub fn get_func<T: 'static>(
        &self,
        store: impl AsContextMut<Data = T>,
        export: impl InstanceExportLookup,
    ) -> Option<Func> {
        self.try_get_func(store, export).ok()
    }

    /// Like [`Instance::get_func`], but says why there is no function: no such export, an
    /// export that is not a function, or a function kiln cannot call (naming the feature).
    pub fn try_get_func<T: 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        export: impl InstanceExportLookup,
    ) -> Result<Func> {
        let store = store.as_context_mut().0;
        let path = export.path();
        let name = path.join("/");
        let item = self.export_item(&store.opaque, &path).with_context(|| format!("no export named `{name}`"))?;
        let data = match item {
            ExportItem::Func { ty, core, options } => {
                let lifted = lifted_func(&mut store.opaque, self.index, ty, &core, &options)
                    .with_context(|| format!("export `{name}`"))?;
                FuncData::Lifted(lifted)
            }
            ExportItem::ImportedFunc { path, ty } => {
                let state = self.state(&store.opaque);
                let host = resolve_import::<T>(&state.imports, &path, &state.component.inner.plan)?;
                FuncData::Host(host, ty)
            }
            ExportItem::UnsupportedFunc(reason) => bail!("export `{name}` cannot be called: {reason}"),
            _ => bail!("export `{name}` is not a function"),
        };
        let funcs = &mut store.opaque.component_instances[self.index].funcs;
        funcs.push(data);
        Ok(Func { store: self.store, instance: self.index, index: funcs.len() - 1 })
    }

    /// The core module exported at `export` (a root name or an [`ExportIndex`]): one of the
    /// component's own modules, or one it re-exports from its imports.
    pub fn get_module<T: 'static>(
        &self,
        store: impl crate::AsContext<Data = T>,
        export: impl InstanceExportLookup,
    ) -> Option<crate::Module> {
        let store = &store.as_context().0.opaque;
        let state = self.state(store);
        match self.export_item(store, &export.path())? {
            ExportItem::Module(m) => Some(state.component.inner.modules[m as usize].clone()),
            ExportItem::ImportedModule(path) => {
                match resolve_definition::<T>(&state.imports, &path, &state.component.inner.plan).ok()? {
                    Definition::Module(m) => Some(m.clone()),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The resource type exported at `export` (a root name or an [`ExportIndex`]): a type this
    /// instance defines (new for each instantiation) or one it re-exports.
    pub fn get_resource(
        &self,
        store: impl crate::AsContext,
        export: impl InstanceExportLookup,
    ) -> Option<super::ResourceType> {
        let store = &store.as_context().0.opaque;
        match self.export_item(store, &export.path())? {
            ExportItem::Resource(rt) => Some(super::ResourceType(self.state(store).resource_kinds[rt as usize])),
            _ => None,
        }
    }

    /// The exported function at `export`, with Rust types; fails if they do not match.
    pub fn get_typed_func<P, R>(
        &self,
        mut store: impl AsContextMut<Data: 'static>,
        export: impl InstanceExportLookup,
    ) -> Result<super::TypedFunc<P, R>>
    where
        P: super::typed::LowerParams,
        R: super::typed::ComponentResults,
    {
        let name = export.path().join("/");
        let func = self.get_func(&mut store, export).with_context(|| format!("no exported function `{name}`"))?;
        func.typed::<P, R>(&store)
    }
}

fn import_name(plan: &kiln_environ::component::ComponentPlan, path: &ImportPath) -> String {
    let mut name = plan.imports[path.import as usize].name.clone();
    for n in &path.names {
        name.push('#');
        name.push_str(n);
    }
    name
}

/// A host resource destructor, sized so that it can be type-erased.
struct HostDtorBox<T>(Arc<HostDtor<T>>);

fn resolve_definition<'a, T: 'static>(
    imports: &'a [Option<HostDefinition>],
    path: &ImportPath,
    plan: &kiln_environ::component::ComponentPlan,
) -> Result<&'a Definition<T>> {
    let root = imports[path.import as usize]
        .as_ref()
        .with_context(|| format!("import `{}` is not defined", import_name(plan, path)))?;
    let mut def = root.downcast_ref::<Definition<T>>().context("host definition of another store type")?;
    for name in &path.names {
        def = match def {
            Definition::Instance(map) => map
                .get(name)
                .with_context(|| format!("component import `{}` has not been defined", import_name(plan, path)))?,
            _ => bail!("`{}` is not an instance", import_name(plan, path)),
        };
    }
    Ok(def)
}

fn resolve_resource<T: 'static>(
    imports: &[Option<HostDefinition>],
    path: &ImportPath,
    plan: &kiln_environ::component::ComponentPlan,
) -> Result<(super::ResourceType, Arc<HostDtor<T>>)> {
    match resolve_definition::<T>(imports, path, plan)? {
        Definition::Resource(ty, dtor) => Ok((*ty, dtor.clone())),
        _ => bail!("`{}` is not a resource type", import_name(plan, path)),
    }
}

fn resolve_import<T: 'static>(
    imports: &[Option<HostDefinition>],
    path: &ImportPath,
    plan: &kiln_environ::component::ComponentPlan,
) -> Result<Arc<HostFunc<T>>> {
    match resolve_definition::<T>(imports, path, plan)? {
        Definition::Func(f) => Ok(f.clone()),
        _ => bail!("`{}` is not a function", import_name(plan, path)),
    }
}

pub(crate) fn check_signature(declared: &FuncType, expected: &FuncType) -> Result<()> {
    if declared.params.len() != expected.params.len() {
        bail!("expected {expected}, the host function has {declared}");
    }
    for ((_, d), (name, e)) in declared.params.iter().zip(expected.params.iter()) {
        super::typed::typecheck(d, e)
            .with_context(|| format!("in parameter `{name}`: expected {expected}, the host function has {declared}"))?;
    }
    match (&declared.result, &expected.result) {
        (None, None) => Ok(()),
        (Some(d), Some(e)) => super::typed::typecheck(d, e)
            .with_context(|| format!("in the result: expected {expected}, the host function has {declared}")),
        _ => bail!("expected {expected}, the host function has {declared}"),
    }
}

pub(crate) fn resolve_core(store: &mut StoreOpaque, index: usize, def: &CoreDef) -> Result<Extern> {
    let state = &store.component_instances[index];
    Ok(match def {
        CoreDef::Export { instance, name } => {
            let core = *state.core_instances.get(*instance as usize).context("core instance not yet created")?;
            core.export_from(store, name).with_context(|| format!("core instance {instance} has no export `{name}`"))?
        }
        CoreDef::Lowered(i) => Extern::Func(state.lowered[*i as usize]),
        CoreDef::AlwaysTrap(i) => Extern::Func(state.always_trap[*i as usize]),
        CoreDef::Unsupported(i) => bail!("{}", state.component.inner.plan.unsupported[*i as usize]),
        CoreDef::HostAdapter(a) => Extern::Func(state.host_adapters[*a as usize]),
        CoreDef::Adapter(a) => {
            let (m, name) = state.component.inner.adapter_exports[*a as usize].clone();
            let core = state.adapter_instances[m as usize].context("adapter module not yet instantiated")?;
            core.export_from(store, &name).context("adapter export missing")?
        }
        CoreDef::InstanceFlags(ci) => Extern::Global(state.flags[*ci as usize]),
        CoreDef::AdapterTrap => Extern::Func(state.trap_func.context("no trap function")?),
        CoreDef::ResourceBuiltin(i) => Extern::Func(state.resource_builtins[*i as usize]),
        CoreDef::TaskBuiltin(i) => Extern::Func(state.task_builtins[*i as usize]),
    })
}

/// The component instance state a host function of instance `index` works on.
pub(crate) fn state_mut<T>(store: &mut StoreInner<T>, index: usize) -> &mut InstanceState {
    &mut store.opaque.component_instances[index]
}

/// Traps unless runtime component instance `instance` may leave (it may not inside `realloc` or
/// `post-return`): the Canonical ABI checks this in `resource.new` and `resource.drop` (not in
/// `resource.rep`).
fn check_may_leave<T>(store: &mut StoreInner<T>, index: usize, instance: u32) -> Result<()> {
    let flags = state_mut(store, index).flags[instance as usize];
    // SAFETY: the flags global is owned by this store and lives as long as it.
    let flags = unsafe { &*flags.runtime_ptr(&store.opaque) }.get().get_i32();
    if flags & FLAG_MAY_LEAVE == 0 {
        return Err(anyhow::Error::new(Trap::CannotLeaveComponent));
    }
    Ok(())
}

/// A `canon resource.new / resource.rep / resource.drop` as a host function.
fn resource_builtin<T: 'static>(
    store: &mut StoreInner<T>,
    index: usize,
    builtin: &kiln_environ::component::ResourceBuiltin,
) -> crate::Func {
    let (instance, resource) = (builtin.instance, builtin.resource);
    let store = crate::StoreContextMut(store);
    match builtin.op {
        ResourceOp::New => crate::Func::wrap(store, move |caller: Caller<'_, T>, rep: i32| -> Result<i32> {
            check_may_leave(caller.store, index, instance)?;
            let state = state_mut(caller.store, index);
            Ok(state.resources.get_mut().new_own(instance, resource, rep as u32)? as i32)
        }),
        ResourceOp::Rep => crate::Func::wrap(store, move |caller: Caller<'_, T>, handle: i32| -> Result<i32> {
            let state = state_mut(caller.store, index);
            let defs = &state.component.inner.plan.resources;
            Ok(state.resources.get_mut().rep(defs, instance, resource, handle as u32)? as i32)
        }),
        ResourceOp::Drop => crate::Func::wrap(store, move |caller: Caller<'_, T>, handle: i32| -> Result<()> {
            check_may_leave(caller.store, index, instance)?;
            let state = state_mut(caller.store, index);
            // Disjoint fields: the plan is read while the handle tables change (no `Arc` clone
            // on this hot path).
            let defs = &state.component.inner.plan.resources;
            let dropped = state.resources.get_mut().drop_handle(defs, instance, resource, handle as u32)?;
            let has_dtor = !matches!(defs[resource as usize], ResourceDef::Defined { dtor: None, .. });
            if let (Some(rep), true) = (dropped, has_dtor) {
                run_destructor(caller.store, index, resource, instance, rep)?;
            }
            Ok(())
        }),
    }
}

/// Runs the destructor of run-time resource `resource` for `rep`, dropped by `dropper`: the
/// guest destructor of a component-defined resource, or the host's for an imported one.
pub(crate) fn run_destructor<T: 'static>(
    store: &mut StoreInner<T>,
    index: usize,
    resource: u32,
    dropper: u32,
    rep: u32,
) -> Result<()> {
    let state = state_mut(store, index);
    let component = state.component.clone();
    match &component.inner.plan.resources[resource as usize] {
        ResourceDef::Imported(_) => {
            let dtor = state.host_dtors[resource as usize].clone().context("host resource without a destructor")?;
            let dtor = dtor.downcast_ref::<HostDtorBox<T>>().context("host destructor of another store type")?;
            (dtor.0)(StoreContextMut(store), rep)
        }
        ResourceDef::Defined { dtor: None, .. } => Ok(()),
        ResourceDef::Defined { instance, dtor: Some(dtor) } => {
            let func = resolve_core(&mut store.opaque, index, dtor)?
                .into_func()
                .context("resource destructor is not a function")?;
            let mut raw = [kiln_runtime::ValRaw::i32(rep as i32)];
            if *instance == dropper {
                return func.call_raw(store, &mut raw).map_err(super::func::exception_to_trap);
            }
            // Dropped by another instance: the destructor enters the implementing instance.
            let flags = state_mut(store, index).flags[*instance as usize];
            // SAFETY: the flags global is owned by this store and lives as long as it.
            let global = unsafe { &*flags.runtime_ptr(&store.opaque) };
            let saved = global.get().get_i32();
            if saved & FLAG_MAY_ENTER == 0 {
                return Err(anyhow::Error::new(Trap::CannotEnterComponent));
            }
            global.set(kiln_runtime::ValRaw::i32(saved & !FLAG_MAY_ENTER & !FLAG_CONTEXT_LIVE));
            func.call_raw(store, &mut raw).map_err(super::func::exception_to_trap)?;
            global.set(kiln_runtime::ValRaw::i32(saved));
            Ok(())
        }
    }
}

/// The intrinsics fused adapters import to move handles (see `kiln_fact::AdapterImport`).
fn resource_intrinsics<T: 'static>(store: &mut StoreInner<T>, index: usize) -> [crate::Func; 4] {
    let transfer = |store: &mut StoreInner<T>, own: bool| {
        crate::Func::wrap(
            crate::StoreContextMut(store),
            move |caller: Caller<'_, T>, handle: i32, from: i32, to: i32, resource: i32| -> Result<i32> {
                let state = state_mut(caller.store, index);
                let component = state.component.clone();
                let defs = &component.inner.plan.resources;
                let (from, to, resource, handle) = (from as u32, to as u32, resource as u32, handle as u32);
                Ok(if own {
                    state.resources.get_mut().transfer_own(defs, from, to, resource, handle)?
                } else {
                    state.resources.get_mut().transfer_borrow(defs, from, to, resource, handle)?
                } as i32)
            },
        )
    };
    let own = transfer(store, true);
    let borrow = transfer(store, false);
    let enter = crate::Func::wrap(crate::StoreContextMut(&mut *store), move |caller: Caller<'_, T>, _callee: i32| {
        state_mut(caller.store, index).resources.get_mut().enter_call();
    });
    let exit = crate::Func::wrap(crate::StoreContextMut(&mut *store), move |caller: Caller<'_, T>| -> Result<()> {
        state_mut(caller.store, index).resources.get_mut().exit_call()
    });
    [own, borrow, enter, exit]
}

pub(crate) fn resolve_options(store: &mut StoreOpaque, index: usize, options: &Options) -> Result<ResolvedOptions> {
    let func = |store: &mut StoreOpaque, d: &Option<CoreDef>| -> Result<Option<crate::Func>> {
        d.as_ref()
            .map(|d| {
                resolve_core(store, index, d)?.into_func().ok_or_else(|| anyhow!("canonical option is not a function"))
            })
            .transpose()
    };
    let memory = options
        .memory
        .as_ref()
        .map(|d| {
            resolve_core(store, index, d)?.into_memory().ok_or_else(|| anyhow!("canonical option is not a memory"))
        })
        .transpose()?;
    Ok(ResolvedOptions {
        store_instance: index,
        instance: options.instance,
        memory,
        realloc: func(store, &options.realloc)?,
        post_return: func(store, &options.post_return)?,
        string_encoding: options.string_encoding,
        flags: store.component_instances[index].flags[options.instance as usize],
        async_: options.async_,
        callback: func(store, &options.callback)?,
        async_type: options.async_type,
        ptr: options.ptr,
    })
}

/// A function lifted from core function `core` with `options`, as a component function of
/// store component instance `index`.
fn lifted_func(
    store: &mut StoreOpaque,
    index: usize,
    ty: FuncType,
    core: &CoreDef,
    options: &Options,
) -> Result<LiftedFunc> {
    let core =
        resolve_core(store, index, core)?.into_func().context("it lifts something that is not a core function")?;
    let options = resolve_options(store, index, options)?;
    let sig = if options.async_ {
        flatten_async_lift(&ty, options.callback.is_some(), options.ptr)
    } else {
        flatten_func_in(&ty, AbiContext::Lift, options.ptr)
    };
    let lends = ty.params.iter().any(|(_, t)| t.has_borrows());
    Ok(LiftedFunc {
        ty: Arc::new(ty),
        core_params: sig.params.len(),
        core_results: sig.results.into(),
        core,
        options,
        lends,
    })
}

/// What a lowered function calls: a host function, or (for a host-run adapter, by its index) a
/// function lifted by another component instance.
enum Callee<'a, T> {
    Host(&'a HostFunc<T>),
    Lifted(usize),
}

/// The subtask status an `async` lower returns when the callee has returned (`RETURNED`, no
/// subtask handle).
const SUBTASK_RETURNED: i32 = 2;

/// Calls `callee` with dynamic values.
fn invoke<T: 'static>(
    store: &mut StoreInner<T>,
    index: usize,
    callee: &Callee<'_, T>,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    match callee {
        Callee::Host(host) => (host.call)(StoreContextMut(store), params, results),
        Callee::Lifted(adapter) => {
            let func = match store.opaque.component_instances[index].host_adapter_callees[*adapter] {
                Some(func) => func,
                None => {
                    let state = &store.opaque.component_instances[index];
                    let def = state.component.inner.plan.host_adapters[*adapter].clone();
                    let lifted = lifted_func(&mut store.opaque, index, def.ty, &def.callee, &def.lift)?;
                    let state = &mut store.opaque.component_instances[index];
                    state.funcs.push(FuncData::Lifted(lifted));
                    state.host_adapter_callees[*adapter] = Some(state.funcs.len() - 1);
                    state.funcs.len() - 1
                }
            };
            Func { store: store.opaque.id, instance: index, index: func }.call(StoreContextMut(store), params, results)
        }
    }
}

/// What a lowered host import (or host-run adapter) needs on every call, computed once.
struct LoweredFn {
    ty: FuncType,
    options: Options,
    /// Its slot in `InstanceState::lowered_options`.
    index: usize,
    /// Whether parameters hold borrows (the call opens a scope for them).
    lends: bool,
    /// Every parameter and the result is one flat value that needs no memory (scalars and
    /// handles): values convert one by one, without the reference ABI's flattening.
    direct: bool,
    /// The core parameter types (the lowered signature's).
    core_params: Vec<FlatType>,
}

impl LoweredFn {
    fn new(ty: FuncType, options: Options, index: usize) -> LoweredFn {
        use kiln_environ::component::ValueType as V;
        let one_flat = |t: &V| {
            matches!(
                t,
                V::Bool
                    | V::S8
                    | V::U8
                    | V::S16
                    | V::U16
                    | V::S32
                    | V::U32
                    | V::S64
                    | V::U64
                    | V::F32
                    | V::F64
                    | V::Char
                    | V::Own(_)
                    | V::Borrow(_)
            )
        };
        let direct = ty.params.len() <= kiln_environ::component::MAX_FLAT_PARAMS
            && ty.params.iter().all(|(_, t)| one_flat(t))
            && ty.result.iter().all(one_flat);
        let lends = ty.params.iter().any(|(_, t)| t.has_borrows());
        let core_params = if options.async_ {
            flatten_async_lower(&ty, options.ptr).params
        } else {
            flatten_func_in(&ty, AbiContext::Lower, options.ptr).params
        };
        LoweredFn { ty, options, index, lends, direct, core_params }
    }
}

/// A lowered host import (or host-run adapter) called by wasm: lift the arguments from the
/// caller, run the callee, lower its result back (for an `async` lower: store it through the
/// out-pointer and return the subtask status "returned").
fn call_lowered<T: 'static>(
    store: &mut StoreInner<T>,
    index: usize,
    lowered: &LoweredFn,
    callee: Callee<'_, T>,
    raw: &mut [kiln_runtime::ValRaw],
) -> Result<()> {
    let ty = &lowered.ty;
    let options = match store.opaque.component_instances[index].lowered_options[lowered.index] {
        Some(options) => options,
        None => {
            let options = resolve_options(&mut store.opaque, index, &lowered.options)?;
            store.opaque.component_instances[index].lowered_options[lowered.index] = Some(options);
            options
        }
    };
    // SAFETY: the flags global is owned by this store and lives as long as it.
    let flags = unsafe { &*options.flags.runtime_ptr(&store.opaque) }.get().get_i32();
    if flags & FLAG_MAY_LEAVE == 0 {
        return Err(anyhow::Error::new(Trap::CannotLeaveComponent));
    }
    if lowered.options.async_type
        && !lowered.options.async_
        && !store.opaque.component_instances[index].tasks.may_block(options.instance)
    {
        // Calling an `async` function synchronously may block, which this task may not.
        return Err(anyhow::Error::new(Trap::CannotBlockSyncTask));
    }
    if lowered.options.async_ {
        return call_lowered_async(store, index, lowered, options, callee, raw);
    }
    // Borrows the host receives live for the duration of the host call.
    if lowered.lends {
        store.opaque.component_instances[index].resources.get_mut().enter_call();
    }
    if let Some(typed) = match &callee {
        // Typed layouts are those of 32-bit memories: over a 64-bit one, go through values.
        Callee::Host(host) if !options.ptr.is_64() => host.typed.as_ref(),
        Callee::Host(_) | Callee::Lifted(_) => None,
    } {
        // A typed host function lifts and lowers its own values, straight from `raw`.
        typed(&mut *store, options, ty, raw)?;
        if lowered.lends {
            let resources = store.opaque.component_instances[index].resources.get_mut();
            resources.end_borrows_of_innermost_call();
            resources.exit_call()?;
        }
        return Ok(());
    }
    let flat: Vec<Flat> = lowered.core_params.iter().zip(raw.iter()).map(|(t, v)| raw_to_flat(*t, *v)).collect();
    let params = {
        let cx = HostAbi { store: &mut *store, options };
        if lowered.direct {
            let mut vi = flat.iter().copied();
            ty.params.iter().map(|(_, t)| abi::lift_flat(&cx, t, &mut vi)).collect::<Result<Vec<_>>>()?
        } else {
            abi::lift_params(&cx, ty, &flat)?
        }
    };
    let mut result = if ty.result.is_some() { vec![Val::Bool(false)] } else { Vec::new() };
    invoke(store, index, &callee, &params, &mut result)?;
    if lowered.lends {
        let resources = store.opaque.component_instances[index].resources.get_mut();
        resources.end_borrows_of_innermost_call();
        resources.exit_call()?;
    }
    let mut cx = HostAbi { store: &mut *store, options };
    let flat_results = match (&ty.result, result.first()) {
        (Some(result_ty), Some(value)) if lowered.direct => {
            value.typecheck(result_ty).map_err(|e| e.context("host function result"))?;
            let mut out = Vec::with_capacity(1);
            abi::lower_flat(&mut cx, result_ty, value, &mut out)?;
            out
        }
        _ => {
            let out_ptr = abi::results_out_ptr(ty, cx.options.ptr, &flat)?;
            abi::lower_results(&mut cx, ty, result.first(), out_ptr)?
        }
    };
    for (slot, value) in raw.iter_mut().zip(flat_results) {
        *slot = flat_to_raw(value);
    }
    Ok(())
}

/// The `async` form of [`call_lowered`]: the arguments come as at most `MAX_FLAT_ASYNC_PARAMS`
/// core values (else through a pointer) followed by the result's out-pointer. kiln runs the
/// callee to completion, so the subtask has always returned by the time this does.
fn call_lowered_async<T: 'static>(
    store: &mut StoreInner<T>,
    index: usize,
    lowered: &LoweredFn,
    options: ResolvedOptions,
    callee: Callee<'_, T>,
    raw: &mut [kiln_runtime::ValRaw],
) -> Result<()> {
    let ty = &lowered.ty;
    let flat: Vec<Flat> = lowered.core_params.iter().zip(raw.iter()).map(|(t, v)| raw_to_flat(*t, *v)).collect();
    // Borrows the callee receives live for the duration of the call.
    if lowered.lends {
        store.opaque.component_instances[index].resources.get_mut().enter_call();
    }
    let (params, out_ptr) = {
        let cx = HostAbi { store: &mut *store, options };
        abi::lift_async_params(&cx, ty, &flat)?
    };
    let mut result = if ty.result.is_some() { vec![Val::Bool(false)] } else { Vec::new() };
    store.opaque.component_instances[index].tasks.async_lowers += 1;
    let called = invoke(store, index, &callee, &params, &mut result);
    store.opaque.component_instances[index].tasks.async_lowers -= 1;
    called?;
    if lowered.lends {
        let resources = store.opaque.component_instances[index].resources.get_mut();
        resources.end_borrows_of_innermost_call();
        resources.exit_call()?;
    }
    let mut cx = HostAbi { store: &mut *store, options };
    abi::store_async_result(&mut cx, ty, result.first(), out_ptr)?;
    raw[0] = kiln_runtime::ValRaw::i32(SUBTASK_RETURNED);
    Ok(())
}
