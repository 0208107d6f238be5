//! [`Memory`], [`Table`], [`Global`] and the [`Extern`] sum of everything importable.

use crate::func::Func;
use crate::store::{AsContext, AsContextMut, StoreContext, StoreContextMut, StoreId};
use crate::types::{ExternType, GlobalType, MemoryType, Mutability, RefType, TableType};
use crate::values::Val;
use anyhow::{Context, Result, bail};
use kiln_runtime::{LinearMemory, Table as RuntimeTable, VMGlobalDefinition};

/// A linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

impl Memory {
    /// Creates a memory owned by the store.
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory> {
        let store = &mut store.as_context_mut().0.opaque;
        let config = store.engine.config();
        let memory = LinearMemory::new(&ty.ty, config.guard_pages, config.memory_limit)?;
        Ok(Memory { store: store.id, index: store.push_host_memory(memory) })
    }

    fn raw<'a>(&self, store: &crate::store::StoreOpaque) -> &'a mut LinearMemory {
        assert_eq!(store.id, self.store, "memory used with the wrong store");
        // SAFETY: the memory is owned by the store (directly or through an instance) and lives as
        // long as it; callers tie the borrow to a borrow of the store.
        unsafe { &mut *{ store.memories[self.index] } }
    }

    /// The memory's contents.
    pub fn data<'a, T: 'a>(&self, store: impl Into<StoreContext<'a, T>>) -> &'a [u8] {
        self.raw(&store.into().0.opaque).data()
    }

    /// The memory's contents, mutably.
    pub fn data_mut<'a, T: 'a>(&self, store: impl Into<StoreContextMut<'a, T>>) -> &'a mut [u8] {
        self.raw(&store.into().0.opaque).data_mut()
    }

    /// The memory's contents and the embedder's data, both mutably (host functions that move
    /// bytes between guest memory and their own state need both at once).
    pub fn data_and_store_mut<'a, T: 'a>(&self, store: impl Into<StoreContextMut<'a, T>>) -> (&'a mut [u8], &'a mut T) {
        let inner = store.into().0;
        let data = self.raw(&inner.opaque).data_mut();
        (data, &mut inner.data)
    }

    pub(crate) fn raw_data<'a>(&self, store: &'a crate::store::StoreOpaque) -> &'a [u8] {
        self.raw(store).data()
    }

    pub(crate) fn raw_data_mut<'a>(&self, store: &'a crate::store::StoreOpaque) -> &'a mut [u8] {
        self.raw(store).data_mut()
    }

    /// Size in bytes.
    pub fn data_size(&self, store: impl AsContext) -> usize {
        self.raw(&store.as_context().0.opaque).byte_size()
    }

    /// Size in pages.
    pub fn size(&self, store: impl AsContext) -> u64 {
        self.raw(&store.as_context().0.opaque).pages()
    }

    /// Grows by `delta` pages, returning the old size in pages.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Result<u64> {
        self.raw(&store.as_context_mut().0.opaque).grow(delta).context("failed to grow memory")
    }

    /// The memory's type.
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        MemoryType { ty: self.raw(&store.as_context().0.opaque).ty() }
    }

    /// Copies `buffer.len()` bytes starting at `offset` out of the memory.
    pub fn read(&self, store: impl AsContext, offset: usize, buffer: &mut [u8]) -> Result<()> {
        let data = self.raw(&store.as_context().0.opaque).data();
        let src = offset
            .checked_add(buffer.len())
            .and_then(|end| data.get(offset..end))
            .context("out of bounds memory access")?;
        buffer.copy_from_slice(src);
        Ok(())
    }

    /// Copies `buffer` into the memory at `offset`.
    pub fn write(&self, mut store: impl AsContextMut, offset: usize, buffer: &[u8]) -> Result<()> {
        let data = self.raw(&store.as_context_mut().0.opaque).data_mut();
        let dst = offset
            .checked_add(buffer.len())
            .and_then(|end| data.get_mut(offset..end))
            .context("out of bounds memory access")?;
        dst.copy_from_slice(buffer);
        Ok(())
    }

    /// Size of a page in bytes (64 KiB, or 1 with the custom-page-sizes proposal).
    pub fn page_size(&self, store: impl AsContext) -> u64 {
        self.ty(store).page_size()
    }

    pub(crate) fn runtime_ptr(&self, store: &crate::store::StoreOpaque) -> *mut LinearMemory {
        store.memories[self.index]
    }
}

impl<'a, T> From<&'a mut crate::Store<T>> for StoreContextMut<'a, T> {
    fn from(store: &'a mut crate::Store<T>) -> Self {
        StoreContextMut(&mut store.inner)
    }
}
impl<'a, T> From<&'a mut crate::Caller<'_, T>> for StoreContextMut<'a, T> {
    fn from(caller: &'a mut crate::Caller<'_, T>) -> Self {
        StoreContextMut(caller.store)
    }
}

/// A table of references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

impl Table {
    /// Creates a table owned by the store, with every element set to `init`.
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table> {
        let store = &mut store.as_context_mut().0.opaque;
        if !init.matches_ty_in(store, &crate::ValType::Ref(ty.element())) {
            bail!("table initial value does not match the element type {}", ty.element());
        }
        let raw = init.to_raw(store)?.get_reference();
        let table = RuntimeTable::new(&ty.ty, raw)?;
        Ok(Table { store: store.id, index: store.push_host_table(table) })
    }

    fn raw<'a>(&self, store: &crate::store::StoreOpaque) -> &'a mut RuntimeTable {
        assert_eq!(store.id, self.store, "table used with the wrong store");
        // SAFETY: as for memories: owned by the store, borrow tied to the store borrow.
        unsafe { &mut *{ store.tables[self.index] } }
    }

    /// The table's type.
    pub fn ty(&self, store: impl AsContext) -> TableType {
        TableType { ty: self.raw(&store.as_context().0.opaque).ty() }
    }

    /// Number of elements.
    pub fn size(&self, store: impl AsContext) -> u64 {
        self.raw(&store.as_context().0.opaque).size()
    }

    /// Element `index`, or None when out of bounds.
    pub fn get(&self, mut store: impl AsContextMut, index: u64) -> Option<Val> {
        let store = &mut store.as_context_mut().0.opaque;
        let table = self.raw(store);
        let raw = table.get(index)?;
        let element = RefType::from_env(table.ty().element);
        Some(Val::from_raw(store, kiln_runtime::ValRaw::reference(raw), crate::ValType::Ref(element)))
    }

    /// Sets element `index`.
    pub fn set(&self, mut store: impl AsContextMut, index: u64, value: Val) -> Result<()> {
        let store = &mut store.as_context_mut().0.opaque;
        let table = self.raw(store);
        let element = RefType::from_env(table.ty().element);
        if !value.matches_ty_in(store, &crate::ValType::Ref(element)) {
            bail!("value of type {} does not match the table's element type {element}", value.ty());
        }
        let raw = value.to_raw(store)?.get_reference();
        if !table.set(index, raw) {
            bail!("out of bounds table access: index {index}");
        }
        Ok(())
    }

    /// Grows by `delta` elements set to `init`, returning the old size.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64, init: Val) -> Result<u64> {
        let store = &mut store.as_context_mut().0.opaque;
        let table = self.raw(store);
        let raw = init.to_raw(store)?.get_reference();
        table.grow(delta, raw).context("failed to grow table")
    }

    pub(crate) fn runtime_ptr(&self, store: &crate::store::StoreOpaque) -> *mut RuntimeTable {
        store.tables[self.index]
    }
}

/// A global variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

impl Global {
    /// Creates a global owned by the store.
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, value: Val) -> Result<Global> {
        let store = &mut store.as_context_mut().0.opaque;
        if !value.matches_ty_in(store, ty.content()) {
            bail!("global value of type {} does not match the global's type {}", value.ty(), ty.content());
        }
        let definition = Box::new(VMGlobalDefinition::default());
        definition.set(value.to_raw(store)?);
        Ok(Global { store: store.id, index: store.push_host_global(definition, ty) })
    }

    /// The global's type.
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        let store = &store.as_context().0.opaque;
        assert_eq!(store.id, self.store, "global used with the wrong store");
        store.globals[self.index].ty
    }

    /// The current value.
    pub fn get(&self, mut store: impl AsContextMut) -> Val {
        let store = &mut store.as_context_mut().0.opaque;
        assert_eq!(store.id, self.store, "global used with the wrong store");
        let data = &store.globals[self.index];
        let ty = *data.ty.content();
        // SAFETY: the definition is owned by the store or one of its instances.
        let raw = unsafe { (*data.definition).get() };
        Val::from_raw(store, raw, ty)
    }

    /// Sets the value; the global must be mutable.
    pub fn set(&self, mut store: impl AsContextMut, value: Val) -> Result<()> {
        let store = &mut store.as_context_mut().0.opaque;
        assert_eq!(store.id, self.store, "global used with the wrong store");
        let data = &store.globals[self.index];
        if data.ty.mutability() != Mutability::Var {
            bail!("immutable global cannot be set");
        }
        if !value.matches_ty_in(store, data.ty.content()) {
            bail!("value of type {} does not match the global's type {}", value.ty(), data.ty.content());
        }
        let definition = data.definition;
        let raw = value.to_raw(store)?;
        // SAFETY: as in `get`.
        unsafe { (*definition).set(raw) };
        Ok(())
    }

    pub(crate) fn runtime_ptr(&self, store: &crate::store::StoreOpaque) -> *mut VMGlobalDefinition {
        store.globals[self.index].definition
    }
}

/// A shared linear memory (threads proposal) that instances in several stores, on several threads,
/// can import at once. Cheap to clone. Attach it to a store with [`Memory::from_shared`].
#[derive(Clone)]
pub struct SharedMemory {
    inner: std::sync::Arc<SharedMemoryInner>,
}

pub(crate) struct SharedMemoryInner {
    memory: Box<LinearMemory>,
    engine: crate::Engine,
}

impl SharedMemoryInner {
    pub(crate) fn ptr(&self) -> *mut LinearMemory {
        // Compiled code and builtins reach the memory through this pointer; growth is internally
        // synchronised and the base never moves.
        &*self.memory as *const LinearMemory as *mut LinearMemory
    }
}

impl std::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedMemory").field("ty", &self.ty()).finish()
    }
}

impl SharedMemory {
    /// Creates a shared memory; `ty` must be shared (see [`MemoryType::shared`]).
    pub fn new(engine: &crate::Engine, ty: MemoryType) -> Result<SharedMemory> {
        if !ty.is_shared() {
            bail!("SharedMemory::new needs a shared memory type");
        }
        let config = engine.config();
        let memory = LinearMemory::new(&ty.ty, config.guard_pages, config.memory_limit)?;
        Ok(SharedMemory { inner: std::sync::Arc::new(SharedMemoryInner { memory, engine: engine.clone() }) })
    }

    /// The memory's type (with its current size as minimum).
    pub fn ty(&self) -> MemoryType {
        MemoryType { ty: self.inner.memory.ty() }
    }

    /// Current size in pages.
    pub fn size(&self) -> u64 {
        self.inner.memory.pages()
    }

    /// Current size in bytes.
    pub fn data_size(&self) -> usize {
        self.inner.memory.byte_size()
    }

    /// Grows by `delta` pages; returns the old size in pages. Safe to call while other threads run
    /// wasm that uses the memory.
    pub fn grow(&self, delta: u64) -> Result<u64> {
        self.inner.memory.grow(delta).context("failed to grow shared memory")
    }

    /// Reads `buffer.len()` bytes at `offset` (other threads may be writing them concurrently).
    pub fn read(&self, offset: usize, buffer: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buffer.len()).filter(|end| *end <= self.data_size());
        if end.is_none() {
            bail!("out of bounds shared memory read");
        }
        // SAFETY: the range is inside the accessible part of the memory, which never shrinks.
        unsafe { std::ptr::copy(self.inner.memory.base().add(offset), buffer.as_mut_ptr(), buffer.len()) };
        Ok(())
    }

    /// Writes `buffer` at `offset` (racing with other threads as wasm's own stores do).
    pub fn write(&self, offset: usize, buffer: &[u8]) -> Result<()> {
        let end = offset.checked_add(buffer.len()).filter(|end| *end <= self.data_size());
        if end.is_none() {
            bail!("out of bounds shared memory write");
        }
        // SAFETY: as in `read`.
        unsafe { std::ptr::copy(buffer.as_ptr(), self.inner.memory.base().add(offset), buffer.len()) };
        Ok(())
    }
}

impl Memory {
    /// Makes `shared` usable in `store` (for example as an import); the store keeps it alive.
    pub fn from_shared(mut store: impl AsContextMut, shared: &SharedMemory) -> Result<Memory> {
        let store = &mut store.as_context_mut().0.opaque;
        if !crate::Engine::same(&store.engine, &shared.inner.engine) {
            bail!("shared memory used with a store of another engine");
        }
        Ok(Memory { store: store.id, index: store.attach_shared_memory(shared.inner.clone()) })
    }
}

/// Anything an instance can import or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A global.
    Global(Global),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
    /// An exception tag.
    Tag(crate::Tag),
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }
    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }
    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }
    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }
    /// The tag, if this is one.
    pub fn into_tag(self) -> Option<crate::Tag> {
        match self {
            Extern::Tag(t) => Some(t),
            _ => None,
        }
    }
    /// Its type.
    pub fn ty(&self, store: impl AsContext) -> ExternType {
        match self {
            Extern::Tag(t) => ExternType::Tag(t.ty(store)),
            Extern::Func(f) => ExternType::Func(f.ty(store)),
            Extern::Global(g) => ExternType::Global(g.ty(store)),
            Extern::Table(t) => ExternType::Table(t.ty(store)),
            Extern::Memory(m) => ExternType::Memory(m.ty(store)),
        }
    }
    pub(crate) fn store_id(&self) -> StoreId {
        match self {
            Extern::Func(f) => f.store,
            Extern::Global(g) => g.store,
            Extern::Table(t) => t.store,
            Extern::Memory(m) => m.store,
            Extern::Tag(t) => t.store,
        }
    }
}

impl From<crate::Tag> for Extern {
    fn from(t: crate::Tag) -> Extern {
        Extern::Tag(t)
    }
}
impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}
