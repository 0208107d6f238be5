//! [`Store`]: owns everything instantiated, the embedder's data, and the per-store VM state.

use crate::engine::Engine;
use crate::func::{FuncData, FuncKind};
use crate::trap::WasmBacktrace;
use crate::types::GlobalType;
use kiln_environ::{VMCONTEXT_MAGIC, VMHOST_FUNC_MAGIC};
use kiln_runtime::{
    ArrayToWasmFn, Instance as RuntimeInstance, LinearMemory, Table as RuntimeTable, UnwindReason, UnwindReport,
    VMFuncRef, VMGlobalDefinition, VMStoreContext,
};

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiplicative hasher for pointer and index keys: the store's maps are keyed by addresses,
/// for which SipHash's DoS resistance buys nothing and costs most of a lookup.
#[derive(Default, Clone, Copy)]
pub(crate) struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A map keyed by addresses.
pub(crate) type AddrMap<V> = HashMap<usize, V, BuildHasherDefault<AddrHasher>>;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies a store, so handles cannot be used with the wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StoreId(u64);

impl StoreId {
    fn fresh() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        StoreId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

pub(crate) struct InstanceData {
    pub(crate) handle: Box<RuntimeInstance>,
    pub(crate) module: crate::Module,
}

/// The caller context of every entry from the host into wasm: shaped like the header of a
/// `VMContext` (magic, store context, store pointer) so host functions entered directly find
/// their store, but with no instance behind it.
#[repr(C, align(16))]
pub(crate) struct RootContext {
    magic: u32,
    store_ctx: *mut VMStoreContext,
    builtins: usize,
    type_ids: usize,
    store: *mut u8,
    instance: usize,
}

pub(crate) struct GlobalData {
    pub(crate) ty: GlobalType,
    pub(crate) definition: *mut VMGlobalDefinition,
}

/// The part of a store that does not depend on the embedder's data type.
// Host-created memories, tables and globals are boxed: compiled code holds pointers to them.
#[allow(clippy::vec_box)]
pub struct StoreOpaque {
    pub(crate) id: StoreId,
    pub(crate) engine: Engine,
    /// `Config::max_wasm_stack`, copied here for the call path.
    pub(crate) max_wasm_stack: usize,
    pub(crate) store_ctx: Box<VMStoreContext>,
    pub(crate) root_ctx: Box<RootContext>,
    pub(crate) instances: Vec<InstanceData>,
    pub(crate) vmctx_to_instance: AddrMap<usize>,
    pub(crate) funcs: Vec<FuncData>,
    funcref_to_func: AddrMap<usize>,
    host_ctx_to_func: AddrMap<usize>,
    pub(crate) memories: Vec<*mut LinearMemory>,
    memory_index: AddrMap<usize>,
    host_memories: Vec<Box<LinearMemory>>,
    /// Shared memories this store uses; they outlive it if other stores hold them too.
    shared_memories: Vec<std::sync::Arc<crate::externals::SharedMemoryInner>>,
    pub(crate) tables: Vec<*mut RuntimeTable>,
    table_index: AddrMap<usize>,
    host_tables: Vec<Box<RuntimeTable>>,
    pub(crate) globals: Vec<GlobalData>,
    global_index: AddrMap<usize>,
    host_globals: Vec<Box<VMGlobalDefinition>>,
    /// What the host's handles ([`crate::AnyRef`], [`crate::ExternRef`]) refer to: roots of every
    /// collection, as (word, serial). Handles made in a scope ([`crate::RootScope`], a host call)
    /// are dropped from the end when it ends; a handle checks its serial, so a slot reused by a
    /// later handle is not mistaken for its own.
    pub(crate) gc_roots: Vec<(usize, u32)>,
    next_root_serial: u32,
    /// Roots that [`crate::OwnedRooted`] handles keep: live while their token is.
    owned_roots: Vec<(std::sync::Weak<()>, usize)>,
    /// `owned_roots`' length after its last pruning.
    owned_roots_pruned: usize,
    pub(crate) tags: Vec<crate::exn::TagData>,
    tag_index: AddrMap<usize>,
    host_tags: Vec<Box<kiln_runtime::VMTagDefinition>>,
    pub(crate) component_instances: Vec<crate::component::InstanceState>,
}

// SAFETY: the raw pointers point into objects this store owns (or that its instances own), which
// are only touched through `&mut` access to the store.
unsafe impl Send for StoreOpaque {}
// SAFETY: shared access only reads.
unsafe impl Sync for StoreOpaque {}

/// The store's contents: its opaque part and the embedder's data. Boxed inside [`Store`] so that
/// its address, which instances record for host calls, never changes.
pub struct StoreInner<T> {
    pub(crate) opaque: StoreOpaque,
    pub(crate) data: T,
}

/// Owns instances, functions, memories, tables, globals and host references, plus data `T` that
/// host functions can reach through [`crate::Caller`].
pub struct Store<T> {
    pub(crate) inner: Box<StoreInner<T>>,
}

impl<T> Store<T> {
    /// Creates a store.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        let mut store = Store {
            inner: Box::new(StoreInner {
                opaque: StoreOpaque {
                    id: StoreId::fresh(),
                    engine: engine.clone(),
                    max_wasm_stack: engine.config().max_wasm_stack,
                    store_ctx: Box::default(),
                    root_ctx: Box::new(RootContext {
                        magic: VMCONTEXT_MAGIC,
                        store_ctx: std::ptr::null_mut(),
                        builtins: 0,
                        type_ids: 0,
                        store: std::ptr::null_mut(),
                        instance: 0,
                    }),
                    instances: Vec::new(),
                    vmctx_to_instance: AddrMap::default(),
                    funcs: Vec::new(),
                    funcref_to_func: AddrMap::default(),
                    host_ctx_to_func: AddrMap::default(),
                    memories: Vec::new(),
                    memory_index: AddrMap::default(),
                    host_memories: Vec::new(),
                    shared_memories: Vec::new(),
                    tables: Vec::new(),
                    table_index: AddrMap::default(),
                    host_tables: Vec::new(),
                    globals: Vec::new(),
                    global_index: AddrMap::default(),
                    host_globals: Vec::new(),
                    gc_roots: Vec::new(),
                    next_root_serial: 1,
                    owned_roots: Vec::new(),
                    owned_roots_pruned: 0,
                    tags: Vec::new(),
                    tag_index: AddrMap::default(),
                    host_tags: Vec::new(),
                    component_instances: Vec::new(),
                },
                data,
            }),
        };
        let store_ptr: *mut StoreInner<T> = &mut *store.inner;
        let opaque = &mut store.inner.opaque;
        // SAFETY: the engine's counter is boxed, so its address is stable while the engine lives
        // (the store holds the engine).
        unsafe { *opaque.store_ctx.epoch_counter.get() = engine.inner.epoch.as_ptr() as *const u64 };
        opaque.root_ctx.store_ctx = &mut *opaque.store_ctx;
        opaque.root_ctx.store = store_ptr.cast();
        let opaque_ptr: *mut StoreOpaque = opaque;
        // SAFETY: the store context is boxed inside the boxed store; no wasm runs yet.
        let gc = unsafe { &mut *opaque.store_ctx.gc.get() };
        // SAFETY: the free lists are zeroed fields of the boxed store context, which outlives
        // the heap inside it.
        unsafe { gc.set_free_lists(opaque.store_ctx.gc_free_lists.get()) };
        // SAFETY: the table belongs to the engine, which the store keeps.
        unsafe {
            gc.set_type_table(&engine.inner.gc_type_table);
            *opaque.store_ctx.gc_type_table.get() = engine.inner.gc_type_table.base();
        }
        gc.set_limit(usize::try_from(engine.config().gc_heap_limit).unwrap_or(usize::MAX));
        gc.set_roots_hook(gc_roots_hook, opaque_ptr.cast());
        // SAFETY: the exception heap is a field of the boxed store context, beside the GC heap.
        unsafe { gc.set_exception_heap(opaque.store_ctx.exceptions.get()) };
        store
    }

    /// Collects the store's GC objects now: frees those that no global, table, element segment,
    /// wasm frame or host handle ([`crate::AnyRef`]) reaches.
    pub fn gc(&mut self) {
        self.inner.opaque.gc();
    }

    /// Statistics of the store's GC heap. Exposed for tests and benchmarks; not a stable API.
    #[doc(hidden)]
    pub fn gc_stats(&self) -> GcStats {
        // SAFETY: no wasm runs while we hold `&self`.
        let heap = unsafe { &*self.inner.opaque.store_ctx.gc.get() };
        GcStats {
            objects: heap.len(),
            bytes: heap.bytes(),
            collections: heap.collections,
            max_pause_ns: heap.max_pause_ns,
            peak_bytes: heap.peak_bytes,
            host_roots: self.inner.opaque.gc_roots.len(),
            host_refs: heap.host_refs(),
        }
    }

    /// The embedder's data.
    pub fn data(&self) -> &T {
        &self.inner.data
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.data
    }

    /// Consumes the store, returning the embedder's data.
    pub fn into_data(self) -> T {
        self.inner.data
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.opaque.engine
    }

    /// Number of exception objects the store keeps (a plain `catch` frees what it consumes;
    /// collections free the others once nothing reaches them). Exposed for tests; not a stable
    /// API.
    #[doc(hidden)]
    pub fn live_exception_objects(&self) -> usize {
        // SAFETY: no wasm runs while we hold `&self`.
        unsafe { (*self.inner.opaque.store_ctx.exceptions.get()).len() }
    }

    /// Sets the fuel wasm may consume from now on (see [`crate::Config::consume_fuel`]).
    pub fn set_fuel(&mut self, fuel: u64) -> anyhow::Result<()> {
        if !self.inner.opaque.engine.config().consume_fuel {
            anyhow::bail!("fuel is not enabled: use Config::consume_fuel");
        }
        let consumed = -(fuel.min(i64::MAX as u64) as i64);
        // SAFETY: no wasm runs while we hold `&mut self`.
        unsafe { *self.inner.opaque.store_ctx.fuel_consumed.get() = consumed };
        Ok(())
    }

    /// The fuel left.
    pub fn get_fuel(&self) -> anyhow::Result<u64> {
        if !self.inner.opaque.engine.config().consume_fuel {
            anyhow::bail!("fuel is not enabled: use Config::consume_fuel");
        }
        // SAFETY: no wasm runs while we hold `&self`.
        let consumed = unsafe { *self.inner.opaque.store_ctx.fuel_consumed.get() };
        Ok(if consumed < 0 { consumed.unsigned_abs() } else { 0 })
    }

    /// Lets wasm in this store run until the engine's epoch has advanced `ticks` more times (see
    /// [`crate::Config::epoch_interruption`]).
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        let deadline = self.inner.opaque.engine.current_epoch().saturating_add(ticks);
        // SAFETY: no wasm runs while we hold `&mut self`.
        unsafe { *self.inner.opaque.store_ctx.epoch_deadline.get() = deadline };
    }
}

impl<T> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("id", &self.inner.opaque.id).finish()
    }
}

/// A host root: a slot of the store's root list and the serial it had when made (serial 0: no
/// root, for values that need none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RootSlot {
    index: u32,
    serial: u32,
}

impl RootSlot {
    pub(crate) const NONE: RootSlot = RootSlot { index: 0, serial: 0 };
}

/// A scope for the GC references the host gets ([`crate::AnyRef`], [`crate::ExternRef`]): they
/// keep their objects alive until it is dropped, and are unusable after. Without one, handles live
/// as long as their store; host function calls are scopes of their own.
///
/// ```
/// # use kiln::*;
/// # fn main() -> anyhow::Result<()> {
/// let mut store = Store::new(&Engine::default(), ());
/// for i in 0..1000u32 {
///     let mut scope = RootScope::new(&mut store);
///     let r = ExternRef::new(&mut scope, i);
///     assert_eq!(r.data(&scope).downcast_ref::<u32>(), Some(&i));
/// } // each value can be collected from here on
/// store.gc();
/// assert_eq!(store.gc_stats().host_refs, 0);
/// # Ok(())
/// # }
/// ```
pub struct RootScope<C: AsContextMut> {
    store: C,
    start: usize,
}

impl<C: AsContextMut> RootScope<C> {
    /// Opens a scope in `store`.
    pub fn new(mut store: C) -> RootScope<C> {
        let start = store.as_context_mut().0.opaque.root_scope_start();
        RootScope { store, start }
    }
}

impl<C: AsContextMut> Drop for RootScope<C> {
    fn drop(&mut self) {
        self.store.as_context_mut().0.opaque.end_root_scope(self.start);
    }
}

impl<C: AsContextMut> AsContext for RootScope<C> {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        self.store.as_context()
    }
}

impl<C: AsContextMut> AsContextMut for RootScope<C> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        self.store.as_context_mut()
    }
}

impl<'a, C: AsContextMut> From<&'a RootScope<C>> for StoreContext<'a, C::Data> {
    fn from(scope: &'a RootScope<C>) -> Self {
        scope.as_context()
    }
}

/// Statistics of a store's GC heap ([`Store::gc_stats`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct GcStats {
    /// Live objects.
    pub objects: usize,
    /// Bytes they take.
    pub bytes: usize,
    /// Collections so far.
    pub collections: u64,
    /// The longest collection so far, in nanoseconds.
    pub max_pause_ns: u64,
    /// The most bytes live objects took at once.
    pub peak_bytes: usize,
    /// References the host holds.
    pub host_roots: usize,
    /// Live host values of `externref`s.
    pub host_refs: usize,
}

/// The store's roots (see `kiln_runtime::gc`): the host's handles, every instance's globals,
/// tables and element segments, host-created tables and globals, and the wasm frames on the
/// stack. (The heap finds the exception objects that are roots itself.)
///
/// # Safety
///
/// `store` is the `StoreOpaque` that registered the hook; the collector runs on its thread while
/// wasm or the host uses it, so only plain reads happen here.
unsafe fn gc_roots_hook(store: *mut u8, roots: &mut dyn kiln_runtime::RootSink) {
    // SAFETY: the hook's contract.
    let store = unsafe { &*(store as *const StoreOpaque) };
    for (word, _) in &store.gc_roots {
        roots.typed(*word);
    }
    for (token, word) in &store.owned_roots {
        if token.strong_count() > 0 {
            roots.typed(*word);
        }
    }
    for instance in &store.instances {
        instance.handle.trace_roots(roots);
    }
    for table in &store.host_tables {
        table.trace(roots);
    }
    for global in &store.globals {
        if global.ty.content().to_env().is_gc_ref() {
            // SAFETY: registered globals outlive the store's use of them.
            roots.typed(unsafe { (*global.definition).get() }.get_reference());
        }
    }
    // SAFETY: called inside the store's wasm call (or outside wasm, where nothing is found).
    unsafe { kiln_runtime::visit_stack_roots(&*store.store_ctx, |slot| roots.typed(*slot)) };
}

impl StoreOpaque {
    /// Collects now (see [`Store::gc`]).
    pub(crate) fn gc(&mut self) {
        // SAFETY: the roots hook sees every reference: the host's are rooted, and wasm frames are
        // found from the recorded exits.
        unsafe {
            let heap = &mut *self.store_ctx.gc.get();
            heap.collect();
            // What the collection freed is reusable (and counted as free) at once.
            heap.finish_sweeping();
        }
    }

    /// Roots `word` (a GC object or host reference) for the host, in the current scope.
    pub(crate) fn root(&mut self, word: usize) -> RootSlot {
        let serial = self.next_root_serial;
        self.next_root_serial = self.next_root_serial.wrapping_add(1).max(1);
        self.gc_roots.push((word, serial));
        RootSlot { index: (self.gc_roots.len() - 1) as u32, serial }
    }

    /// The word root `slot` holds, or an error if its scope has ended.
    pub(crate) fn rooted_word(&self, slot: RootSlot) -> anyhow::Result<usize> {
        if slot == RootSlot::NONE {
            return Ok(0);
        }
        match self.gc_roots.get(slot.index as usize) {
            Some((word, serial)) if *serial == slot.serial => Ok(*word),
            _ => anyhow::bail!("a GC reference was used after the scope that rooted it ended (see `RootScope`)"),
        }
    }

    /// Adds a root that lives as long as `token` has strong references.
    pub(crate) fn add_owned_root(&mut self, token: std::sync::Weak<()>, word: usize) {
        // Drop the dead ones whenever the list has doubled since the last time.
        if self.owned_roots.len() >= 2 * self.owned_roots_pruned.max(8) {
            self.owned_roots.retain(|(t, _)| t.strong_count() > 0);
            self.owned_roots_pruned = self.owned_roots.len();
        }
        self.owned_roots.push((token, word));
    }

    /// The number of host roots: a scope's start.
    pub(crate) fn root_scope_start(&self) -> usize {
        self.gc_roots.len()
    }

    /// Ends a scope started at `start`: its handles no longer keep anything alive.
    pub(crate) fn end_root_scope(&mut self, start: usize) {
        self.gc_roots.truncate(start);
    }

    pub(crate) fn store_ctx_ptr(&mut self) -> *mut VMStoreContext {
        &mut *self.store_ctx
    }

    /// The caller `VMContext` for entries from the host.
    pub(crate) fn root_vmctx(&mut self) -> *mut kiln_runtime::VMContext {
        (&mut *self.root_ctx as *mut RootContext).cast()
    }

    pub(crate) fn push_func(&mut self, data: FuncData) -> usize {
        let index = self.funcs.len();
        let funcref = data.funcref_ptr() as usize;
        if let FuncKind::Host { ctx, .. } = &data.kind {
            self.host_ctx_to_func.insert(&**ctx as *const _ as usize, index);
        }
        self.funcref_to_func.insert(funcref, index);
        self.funcs.push(data);
        index
    }

    /// The store's function for a raw funcref (non-null), creating a handle on first sight.
    pub(crate) fn func_from_funcref(&mut self, funcref: *const VMFuncRef, trampoline: Option<ArrayToWasmFn>) -> usize {
        if let Some(index) = self.funcref_to_func.get(&(funcref as usize)) {
            return *index;
        }
        // SAFETY: non-null funcrefs reaching the store point into live contexts it owns.
        let data = unsafe { *funcref };
        // SAFETY: every funcref's vmctx is a VMContext or a host function context; both start with
        // a u32 magic.
        let magic = unsafe { *(data.vmctx as *const u32) };
        if magic == VMHOST_FUNC_MAGIC
            && let Some(index) = self.host_ctx_to_func.get(&(data.vmctx as usize)).copied()
        {
            self.funcref_to_func.insert(funcref as usize, index);
            return index;
        }
        debug_assert_eq!(magic, VMCONTEXT_MAGIC);
        let ty = self.engine.type_of_id(data.type_id).expect("funcref with an unregistered type");
        let trampoline = match trampoline {
            Some(t) => t,
            None => self.engine.array_to_wasm_trampoline(ty.env()).expect("failed to compile an entry trampoline"),
        };
        self.push_func(FuncData { ty, kind: FuncKind::Wasm { funcref, trampoline } })
    }

    pub(crate) fn memory_handle(&mut self, memory: *mut LinearMemory) -> usize {
        *self.memory_index.entry(memory as usize).or_insert_with(|| {
            self.memories.push(memory);
            self.memories.len() - 1
        })
    }

    pub(crate) fn attach_shared_memory(
        &mut self,
        shared: std::sync::Arc<crate::externals::SharedMemoryInner>,
    ) -> usize {
        let ptr = shared.ptr();
        self.shared_memories.push(shared);
        self.memory_handle(ptr)
    }

    pub(crate) fn push_host_memory(&mut self, mut memory: Box<LinearMemory>) -> usize {
        let ptr: *mut LinearMemory = &mut *memory;
        self.host_memories.push(memory);
        self.memory_handle(ptr)
    }

    pub(crate) fn table_handle(&mut self, table: *mut RuntimeTable) -> usize {
        *self.table_index.entry(table as usize).or_insert_with(|| {
            self.tables.push(table);
            self.tables.len() - 1
        })
    }

    pub(crate) fn push_host_table(&mut self, mut table: Box<RuntimeTable>) -> usize {
        let ptr: *mut RuntimeTable = &mut *table;
        self.host_tables.push(table);
        self.table_handle(ptr)
    }

    pub(crate) fn global_handle(&mut self, definition: *mut VMGlobalDefinition, ty: GlobalType) -> usize {
        *self.global_index.entry(definition as usize).or_insert_with(|| {
            self.globals.push(GlobalData { ty, definition });
            self.globals.len() - 1
        })
    }

    pub(crate) fn push_host_global(&mut self, mut global: Box<VMGlobalDefinition>, ty: GlobalType) -> usize {
        let ptr: *mut VMGlobalDefinition = &mut *global;
        self.host_globals.push(global);
        self.global_handle(ptr, ty)
    }

    /// The handle of the tag defined at `definition`, registering it on first sight.
    pub(crate) fn tag_handle(
        &mut self,
        definition: *const kiln_runtime::VMTagDefinition,
        ty: impl FnOnce() -> crate::TagType,
        name: impl FnOnce() -> String,
    ) -> usize {
        *self.tag_index.entry(definition as usize).or_insert_with(|| {
            self.tags.push(crate::exn::TagData { ty: ty(), definition, name: name() });
            self.tags.len() - 1
        })
    }

    pub(crate) fn push_host_tag(
        &mut self,
        definition: Box<kiln_runtime::VMTagDefinition>,
        ty: crate::TagType,
        name: String,
    ) -> usize {
        let ptr: *const kiln_runtime::VMTagDefinition = &*definition;
        self.host_tags.push(definition);
        self.tag_handle(ptr, || ty, || name)
    }

    /// The handle of an already registered tag.
    pub(crate) fn tag_handle_of(&self, definition: *const kiln_runtime::VMTagDefinition) -> Option<usize> {
        self.tag_index.get(&(definition as usize)).copied()
    }

    /// How messages name the tag defined at `definition`.
    pub(crate) fn tag_name_of(&self, definition: *const kiln_runtime::VMTagDefinition) -> String {
        match self.tag_handle_of(definition) {
            Some(index) => self.tags[index].name.clone(),
            None => "<unknown tag>".to_string(),
        }
    }

    /// Turns an unwind out of wasm into the error the API returns (resuming host panics).
    #[allow(clippy::boxed_local)] // The runtime boxes reports to keep `Result`s small on the hot path.
    pub(crate) fn unwind_to_error(&mut self, report: Box<UnwindReport>) -> anyhow::Error {
        let UnwindReport { reason, frames } = *report;
        let backtrace = WasmBacktrace::from_raw(&frames);
        match reason {
            UnwindReason::Trap(trap) => anyhow::Error::new(backtrace).context(trap),
            UnwindReason::Host(error) if backtrace.frames().is_empty() => error,
            UnwindReason::Host(error) => error.context(backtrace),
            UnwindReason::Panic(payload) => std::panic::resume_unwind(payload),
            UnwindReason::Exception(raw) => anyhow::Error::new(crate::ThrownException::from_raw(self, raw))
                .context(backtrace)
                .context(crate::Trap::UncaughtException),
        }
    }
}

/// Shared access to a store.
pub struct StoreContext<'a, T>(pub(crate) &'a StoreInner<T>);

/// Exclusive access to a store.
pub struct StoreContextMut<'a, T>(pub(crate) &'a mut StoreInner<T>);

impl<'a, T> From<StoreContextMut<'a, T>> for StoreContext<'a, T> {
    fn from(ctx: StoreContextMut<'a, T>) -> StoreContext<'a, T> {
        StoreContext(ctx.0)
    }
}

impl<T> StoreContext<'_, T> {
    /// The embedder's data.
    pub fn data(&self) -> &T {
        &self.0.data
    }
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.0.opaque.engine
    }
}

impl<T> StoreContextMut<'_, T> {
    /// The embedder's data.
    pub fn data(&self) -> &T {
        &self.0.data
    }
    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.0.data
    }
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.0.opaque.engine
    }
}

/// Anything that gives shared access to a store.
pub trait AsContext {
    /// The embedder's data type.
    type Data;
    /// Shared access.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Anything that gives exclusive access to a store.
pub trait AsContextMut: AsContext {
    /// Exclusive access.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(&self.inner)
    }
}
impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(&mut self.inner)
    }
}
impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}
impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}
impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.0)
    }
}
impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}
impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}
impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        (**self).as_context_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::RootContext;
    use kiln_environ::VMOffsets;
    use std::mem::offset_of;

    #[test]
    fn root_context_matches_vmcontext_header() {
        assert_eq!(offset_of!(RootContext, store_ctx) as u32, VMOffsets::STORE_CONTEXT);
        assert_eq!(offset_of!(RootContext, store) as u32, VMOffsets::STORE);
        assert_eq!(offset_of!(RootContext, instance) as u32, VMOffsets::INSTANCE);
    }
}
