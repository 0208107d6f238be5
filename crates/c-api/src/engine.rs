//! `wasm_config_t`, `wasm_engine_t`, `wasm_store_t`, and the store data the C API keeps (host
//! info of store-owned objects, the WASI context, foreign object ids).

use crate::obj::{HostInfo, Key};
use crate::types::opt;
use crate::{boxed, guard};
use kiln_rs::{AsContextMut, Caller, Config, Engine, RootScope, Store, StoreContextMut};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ptr::null_mut;

/// Engine configuration.
pub struct wasm_config_t {
    pub config: Config,
}

/// A compilation environment, shareable between threads.
pub struct wasm_engine_t {
    pub engine: Engine,
}

/// What a C store keeps beside the wasm state.
pub struct StoreData {
    /// The `wasm_store_t` this data belongs to (set once the store is boxed).
    pub self_ptr: *mut wasm_store_t,
    /// Host info of store-owned objects (functions, globals, tables, memories, instances,
    /// foreign objects), by identity: every handle to the same object sees the same info.
    pub host_info: HashMap<Key, HostInfo>,
    pub next_foreign: u64,
    pub wasi: Option<kiln_wasi::WasiCtx>,
    /// The WASI 0.2 context for components, built from the same configuration, and the table
    /// of its resources (streams, descriptors).
    pub wasi_p2: Option<Box<WasiP2>>,
    /// Captured WASI output (`wasi_config_capture_stdout` / `_stderr`).
    pub wasi_stdout: Option<crate::wasi::Captured>,
    pub wasi_stderr: Option<crate::wasi::Captured>,
    /// Instances made through this API with their modules, to find a trap frame's instance.
    pub instances: Vec<(kiln_rs::Instance, kiln_rs::Module)>,
}

/// A component's WASI 0.2 state.
pub struct WasiP2 {
    pub ctx: kiln_wasi::p2::WasiCtx,
    pub table: kiln_rs::component::ResourceTable,
}

impl kiln_wasi::p2::WasiView for StoreData {
    fn ctx(&mut self) -> kiln_wasi::p2::WasiCtxView<'_> {
        // A store without a configured context gets the default one: nothing in, nothing out.
        let p2 = self.wasi_p2.get_or_insert_with(|| {
            Box::new(WasiP2 {
                ctx: kiln_wasi::p2::WasiCtx::builder().build(),
                table: kiln_rs::component::ResourceTable::new(),
            })
        });
        kiln_wasi::p2::WasiCtxView { ctx: &mut p2.ctx, table: &mut p2.table }
    }
}

// SAFETY: a store is used by one thread at a time (wasm.h: stores are not thread-safe); the raw
// pointers here are only dereferenced by the thread using the store.
unsafe impl Send for StoreData {}

/// A store: the wasm objects of one instance graph.
pub struct wasm_store_t {
    pub store: Store<StoreData>,
}

impl Drop for wasm_store_t {
    fn drop(&mut self) {
        // Host info finalizers first (the objects they describe are still alive), then the
        // store and with it the environments of host functions.
        let infos = std::mem::take(&mut self.store.data_mut().host_info);
        drop(infos);
    }
}

thread_local! {
    /// The callers of host functions running on this thread, innermost last: while a host
    /// function runs, its store is reached through the caller rather than through the
    /// `wasm_store_t` (which the running call borrows).
    static CALLERS: RefCell<Vec<(*mut wasm_store_t, *mut Caller<'static, StoreData>)>> = const { RefCell::new(Vec::new()) };
    /// The stores whose component host functions are running on this thread: they are
    /// borrowed by the running call and cannot be used from C until it returns.
    static COMPONENT_CALLS: RefCell<Vec<*mut wasm_store_t>> = const { RefCell::new(Vec::new()) };
}

/// Runs a component host function's callback with `store` marked busy.
pub(crate) fn component_host_call<R>(store: *mut wasm_store_t, f: impl FnOnce() -> R) -> R {
    COMPONENT_CALLS.with(|c| c.borrow_mut().push(store));
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            COMPONENT_CALLS.with(|c| c.borrow_mut().pop());
        }
    }
    let _pop = Pop;
    f()
}

pub(crate) fn in_component_call(store: *mut wasm_store_t) -> bool {
    COMPONENT_CALLS.with(|c| c.borrow().contains(&store))
}

/// Runs `f` with the caller of a host function registered as the current context of its store.
pub(crate) fn with_caller<R>(caller: &mut Caller<'_, StoreData>, f: impl FnOnce() -> R) -> R {
    let store = caller.data().self_ptr;
    let ptr = std::ptr::from_mut(caller).cast::<Caller<'static, StoreData>>();
    CALLERS.with(|c| c.borrow_mut().push((store, ptr)));
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            CALLERS.with(|c| c.borrow_mut().pop());
        }
    }
    let _pop = Pop;
    f()
}

/// The store itself, when no host function of it is running on this thread (store-level
/// settings such as fuel are reached only this way).
pub(crate) fn store_mut<'a>(store: *mut wasm_store_t) -> Option<&'a mut Store<StoreData>> {
    let busy = CALLERS.with(|c| c.borrow().iter().any(|(s, _)| *s == store)) || in_component_call(store);
    // SAFETY: C passes NULL or a live store; no call into it is running on this thread.
    if busy { None } else { unsafe { store.as_mut() }.map(|s| &mut s.store) }
}

/// Runs `f` with exclusive access to `store`: through the innermost running host function of
/// that store if there is one, else through the store itself. `f` runs in a root scope of its
/// own: GC handles it makes end with it, so what an entry point gives back to C holds owned
/// roots (`Kind::Any`, `Kind::HostRef`), dropped with the C handle.
pub(crate) fn with_ctx<R>(store: *mut wasm_store_t, f: impl FnOnce(StoreContextMut<'_, StoreData>) -> R) -> R {
    // A panic, which the entry point's guard turns into its failure value.
    assert!(!store.is_null(), "an object without a store used where one is needed");
    // A panic too: the store is borrowed by the component call running below.
    assert!(!in_component_call(store), "a store used inside one of its component host functions");
    let caller = CALLERS.with(|c| c.borrow().iter().rev().find(|(s, _)| *s == store).map(|(_, c)| *c));
    match caller {
        // SAFETY: the caller is registered only while its host function runs on this thread,
        // below this call on the stack; nothing else uses it meanwhile.
        Some(caller) => f(RootScope::new(unsafe { &mut *caller }.as_context_mut()).as_context_mut()),
        // SAFETY: C passes a live store; no host call of it is running on this thread.
        None => f(RootScope::new(unsafe { &mut *store }.store.as_context_mut()).as_context_mut()),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn wasm_config_new() -> *mut wasm_config_t {
    guard(null_mut(), || boxed(wasm_config_t { config: Config::new() }))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_config_delete(config: *mut wasm_config_t) {
    guard((), || drop(crate::types::take(config)));
}

#[unsafe(no_mangle)]
pub extern "C" fn wasm_engine_new() -> *mut wasm_engine_t {
    guard(null_mut(), || boxed(wasm_engine_t { engine: Engine::default() }))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_engine_new_with_config(config: *mut wasm_config_t) -> *mut wasm_engine_t {
    guard(null_mut(), || {
        let Some(config) = crate::types::take(config) else { return null_mut() };
        match Engine::new(&config.config) {
            Ok(engine) => boxed(wasm_engine_t { engine }),
            Err(_) => null_mut(),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_engine_delete(engine: *mut wasm_engine_t) {
    guard((), || drop(crate::types::take(engine)));
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_store_new(engine: *mut wasm_engine_t) -> *mut wasm_store_t {
    guard(null_mut(), || {
        let Some(engine) = opt(engine) else { return null_mut() };
        let data = StoreData {
            self_ptr: null_mut(),
            host_info: HashMap::new(),
            next_foreign: 0,
            wasi: None,
            wasi_p2: None,
            wasi_stdout: None,
            wasi_stderr: None,
            instances: Vec::new(),
        };
        let store = boxed(wasm_store_t { store: Store::new(&engine.engine, data) });
        // SAFETY: just allocated.
        unsafe { (*store).store.data_mut().self_ptr = store };
        store
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_store_delete(store: *mut wasm_store_t) {
    guard((), || drop(crate::types::take(store)));
}
