//! [`Instance`]: an instantiated module.

use crate::externals::{Extern, Global, Memory, Table};
use crate::func::{Func, TypedFunc, WasmParams, WasmResults, invoke_wasm};
use crate::module::Module;
use crate::store::{AsContextMut, InstanceData, StoreId, StoreOpaque};
use crate::types::{ExternType, GlobalType, canonical_table_type};
use anyhow::{Context, Result, anyhow, bail};
use kiln_environ::{
    EntityIndex, EntityType, GlobalType as EnvGlobalType, MemoryType as EnvMemoryType, TableType as EnvTableType,
    canonicalize_val_type, val_subtype,
};
use kiln_runtime::{Instance as RuntimeInstance, InstanceArgs, ValRaw};

/// An instance of a module in a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instance {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

/// An export of an instance.
#[derive(Debug, Clone)]
pub struct Export {
    name: String,
    definition: Extern,
}

impl Export {
    /// The export's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The exported item.
    pub fn into_extern(self) -> Extern {
        self.definition
    }
}

fn limits_match(actual_min: u64, actual_max: Option<u64>, expected_min: u64, expected_max: Option<u64>) -> bool {
    actual_min >= expected_min
        && match expected_max {
            None => true,
            Some(expected) => actual_max.is_some_and(|actual| actual <= expected),
        }
}

fn table_matches(actual: &EnvTableType, expected: &EnvTableType) -> bool {
    actual.element == expected.element
        && actual.table64 == expected.table64
        && limits_match(actual.minimum, actual.maximum, expected.minimum, expected.maximum)
}

/// Immutable globals are covariant; mutable ones must match exactly.
fn global_matches(actual: &EnvGlobalType, expected: &EnvGlobalType, type_id: &impl Fn(u32) -> u32) -> bool {
    let expected_content = canonicalize_val_type(expected.content, type_id);
    actual.mutable == expected.mutable
        && if actual.mutable {
            actual.content == expected_content
        } else {
            val_subtype(actual.content, expected_content)
        }
}

fn memory_matches(actual: &EnvMemoryType, expected: &EnvMemoryType) -> bool {
    actual.memory64 == expected.memory64
        && actual.shared == expected.shared
        && actual.page_size_log2 == expected.page_size_log2
        && limits_match(actual.minimum, actual.maximum, expected.minimum, expected.maximum)
}

impl Instance {
    /// Instantiates `module` with `imports` given in the module's import order.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance> {
        let inner = store.as_context_mut().0;
        let store_ptr: *mut crate::store::StoreInner<T> = inner;
        Instance::instantiate(&mut inner.opaque, store_ptr.cast(), module, imports)
    }

    pub(crate) fn instantiate(
        store: &mut StoreOpaque,
        store_ptr: *mut u8,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance> {
        if !crate::Engine::same(&store.engine, module.engine()) {
            bail!("cross-engine instantiation is not supported");
        }
        let info = module.inner.info.clone();
        if imports.len() != info.imports.len() {
            bail!("expected {} imports, found {}", info.imports.len(), imports.len());
        }
        let mut args = InstanceArgs {
            info: info.clone(),
            wasm: module.inner.wasm.clone(),
            code: module.inner.code.clone(),
            type_ids: module.inner.type_ids.clone(),
            imported_funcs: Vec::new(),
            imported_tables: Vec::new(),
            imported_memories: Vec::new(),
            imported_globals: Vec::new(),
            imported_tags: Vec::new(),
            store_ctx: store.store_ctx_ptr(),
            store: store_ptr,
            guard_pages: store.engine.config().guard_pages,
            memory_limit: store.engine.config().memory_limit,
            memory_images: module.inner.memory_images.clone(),
            data_in_image: module.inner.data_in_image.clone(),
            table_images: module
                .inner
                .table_images
                .get_or_init(|| kiln_runtime::lazy_table_images(&module.inner.info).into())
                .clone(),
            gc_types: module.inner.gc_types.clone(),
            hierarchy: store.engine.inner.hierarchy.clone(),
        };
        for (import, item) in info.imports.iter().zip(imports) {
            if item.store_id() != store.id {
                bail!("import `{}::{}` comes from another store", import.module, import.name);
            }
            let expected = info.entity_type(import.index);
            let type_id = |i: u32| module.inner.type_ids[i as usize];
            let mismatch = |actual: ExternType| {
                anyhow!(
                    "incompatible import type for `{}::{}`: expected {}, found {actual}",
                    import.module,
                    import.name,
                    ExternType::from_entity(&info, &module.inner.type_ids, expected.clone())
                )
            };
            match (&expected, item) {
                (EntityType::Function(ty), Extern::Func(f)) => {
                    let data = &store.funcs[f.index];
                    // SAFETY: the funcref belongs to this store and is live.
                    let funcref = unsafe { *data.funcref_ptr() };
                    // Engine ids tell types apart that look alike but sit in different recursion
                    // groups; a function of a declared subtype matches too, unless the import is
                    // exact.
                    let matches = if import.exact {
                        funcref.type_id == type_id(*ty)
                    } else {
                        store.engine.is_subtype(funcref.type_id, type_id(*ty))
                    };
                    if !matches {
                        return Err(mismatch(ExternType::Func(data.ty.clone())));
                    }
                    args.imported_funcs.push(funcref);
                }
                (EntityType::Table(ty), Extern::Table(t)) => {
                    let ptr = t.runtime_ptr(store);
                    // SAFETY: the table is owned by this store.
                    let actual = unsafe { (*ptr).ty() };
                    if !table_matches(&actual, &canonical_table_type(*ty, &module.inner.type_ids)) {
                        return Err(mismatch(ExternType::Table(crate::TableType { ty: actual })));
                    }
                    args.imported_tables.push(ptr);
                }
                (EntityType::Memory(ty), Extern::Memory(m)) => {
                    let ptr = m.runtime_ptr(store);
                    // SAFETY: the memory is owned by this store.
                    let actual = unsafe { (*ptr).ty() };
                    if !memory_matches(&actual, ty) {
                        return Err(mismatch(ExternType::Memory(crate::MemoryType { ty: actual })));
                    }
                    args.imported_memories.push(ptr);
                }
                (EntityType::Global(ty), Extern::Global(g)) => {
                    let actual = store.globals[g.index].ty;
                    if !global_matches(&actual.to_env(), ty, &type_id) {
                        return Err(mismatch(ExternType::Global(actual)));
                    }
                    args.imported_globals.push(g.runtime_ptr(store));
                }
                (EntityType::Tag(ty), Extern::Tag(t)) => {
                    let definition = t.definition(store);
                    // Tags match exactly: a catch clause reads the payload with the import's types.
                    // SAFETY: tag definitions live as long as the store that owns `t`.
                    if unsafe { (*definition).type_id } != type_id(*ty) {
                        return Err(mismatch(ExternType::Tag(t.ty_in(store))));
                    }
                    args.imported_tags.push(definition);
                }
                (_, other) => {
                    let actual = match other {
                        Extern::Func(f) => ExternType::Func(store.funcs[f.index].ty.clone()),
                        Extern::Global(g) => ExternType::Global(store.globals[g.index].ty),
                        // SAFETY: owned by this store.
                        Extern::Table(t) => {
                            ExternType::Table(crate::TableType { ty: unsafe { (*t.runtime_ptr(store)).ty() } })
                        }
                        // SAFETY: owned by this store.
                        Extern::Memory(m) => {
                            ExternType::Memory(crate::MemoryType { ty: unsafe { (*m.runtime_ptr(store)).ty() } })
                        }
                        Extern::Tag(t) => ExternType::Tag(t.ty_in(store)),
                    };
                    return Err(mismatch(actual));
                }
            }
        }
        let mut handle = RuntimeInstance::new(args).with_context(|| {
            format!("failed to instantiate module `{}`", info.name.as_deref().unwrap_or("<module>"))
        })?;
        let initialized = handle.initialize();
        let vmctx = handle.vmctx() as usize;
        // Register the defined tags, so that exceptions of them can be inspected and named.
        for t in info.num_imported_tags..info.tags.len() as u32 {
            let name = match info.exports.iter().find(|e| e.index == EntityIndex::Tag(t)) {
                Some(export) => format!("`{}`", export.name),
                None => format!("#{t}"),
            };
            let name = format!("{name} of module `{}`", info.name.as_deref().unwrap_or("<module>"));
            let ty = ExternType::from_entity(&info, &module.inner.type_ids, EntityType::Tag(info.tags[t as usize]));
            let Some(ty) = ty.tag().cloned() else { unreachable!("a tag's type is a tag type") };
            store.tag_handle(handle.tag(t), || ty, || name);
        }
        let index = store.instances.len();
        store.instances.push(InstanceData { handle, module: module.clone() });
        store.vmctx_to_instance.insert(vmctx, index);
        let instance = Instance { store: store.id, index };
        if let Err(trap) = initialized {
            return Err(anyhow::Error::new(trap));
        }
        if let Some(start) = info.start {
            let funcref = store.instances[index].handle.funcref(start);
            let ty = info.functions[start as usize];
            let trampoline = match module.inner.array_to_wasm.get(ty as usize).copied().flatten() {
                Some(t) => t,
                None => store.engine.array_to_wasm_trampoline(info.func_type_at(ty))?,
            };
            let mut raw = [ValRaw::default(); 1];
            invoke_wasm(store, funcref, trampoline, raw.as_mut_ptr())?;
        }
        Ok(instance)
    }

    pub(crate) fn export_from(&self, store: &mut StoreOpaque, name: &str) -> Option<Extern> {
        assert_eq!(store.id, self.store, "instance used with the wrong store");
        let data = &store.instances[self.index];
        let module = data.module.clone();
        let info = &module.inner.info;
        let index = info.export(name)?;
        Some(self.extern_for(store, &module, index))
    }

    fn extern_for(&self, store: &mut StoreOpaque, module: &Module, index: EntityIndex) -> Extern {
        let info = &module.inner.info;
        let handle = &store.instances[self.index].handle;
        match index {
            EntityIndex::Function(f) => {
                let funcref = handle.funcref(f);
                let ty = info.functions[f as usize] as usize;
                let trampoline = module.inner.array_to_wasm.get(ty).copied().flatten();
                Extern::Func(Func { store: store.id, index: store.func_from_funcref(funcref, trampoline) })
            }
            EntityIndex::Table(t) => {
                let ptr = handle.table(t);
                Extern::Table(Table { store: store.id, index: store.table_handle(ptr) })
            }
            EntityIndex::Memory(m) => {
                let ptr = handle.memory(m);
                Extern::Memory(Memory { store: store.id, index: store.memory_handle(ptr) })
            }
            EntityIndex::Global(g) => {
                let ptr = handle.global_ptr(g);
                let mut ty = info.globals[g as usize];
                ty.content = canonicalize_val_type(ty.content, &|i| module.inner.type_ids[i as usize]);
                let ty = GlobalType::from_env(ty);
                Extern::Global(Global { store: store.id, index: store.global_handle(ptr, ty) })
            }
            EntityIndex::Tag(t) => {
                let definition = handle.tag(t);
                let index = store.tag_handle_of(definition).expect("instances register their tags");
                Extern::Tag(crate::Tag { store: store.id, index })
            }
        }
    }

    /// The export `name`.
    pub fn get_export(&self, mut store: impl AsContextMut, name: &str) -> Option<Extern> {
        self.export_from(&mut store.as_context_mut().0.opaque, name)
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: impl AsContextMut, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported function `name`, with a static signature.
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        mut store: impl AsContextMut,
        name: &str,
    ) -> Result<TypedFunc<P, R>> {
        let func =
            self.get_func(&mut store, name).with_context(|| format!("failed to find function export `{name}`"))?;
        func.typed::<P, R>(&store).with_context(|| format!("failed to convert function `{name}` to the given type"))
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, store: impl AsContextMut, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: impl AsContextMut, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: impl AsContextMut, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// All exports, in order.
    pub fn exports(&self, mut store: impl AsContextMut) -> impl ExactSizeIterator<Item = Export> {
        let store = &mut store.as_context_mut().0.opaque;
        assert_eq!(store.id, self.store, "instance used with the wrong store");
        let module = store.instances[self.index].module.clone();
        let exports: Vec<Export> = module
            .inner
            .info
            .exports
            .iter()
            .map(|e| Export { name: e.name.clone(), definition: self.extern_for(store, &module, e.index) })
            .collect();
        exports.into_iter()
    }

    /// The module this is an instance of.
    pub fn module(&self, store: impl crate::AsContext) -> Module {
        store.as_context().0.opaque.instances[self.index].module.clone()
    }
}
