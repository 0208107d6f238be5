//! Functions: [`Func`] (wasm or host), host function plumbing, [`Caller`], and [`TypedFunc`].

use crate::store::{AsContext, AsContextMut, StoreContext, StoreContextMut, StoreId, StoreInner, StoreOpaque};
use crate::types::{FuncType, ValType};
use crate::values::{ExternRef, V128, Val};
use crate::{Engine, Extern, ThrownException};
use anyhow::{Context, Result, bail};
use kiln_environ::{VMHOST_FUNC_MAGIC, VMOffsets};
use kiln_runtime::{ArrayToWasmFn, UnwindReason, VMContext, VMFuncRef, VMHostFuncContext, VMStoreContext, ValRaw};
use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

/// A function: exported by a wasm instance, or defined by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

pub(crate) struct FuncData {
    pub(crate) ty: FuncType,
    pub(crate) kind: FuncKind,
}

pub(crate) enum FuncKind {
    Wasm { funcref: *const VMFuncRef, trampoline: ArrayToWasmFn },
    Host { ctx: Box<VMHostFuncContext>, func: Arc<dyn Any + Send + Sync> },
}

impl FuncData {
    pub(crate) fn funcref_ptr(&self) -> *const VMFuncRef {
        match &self.kind {
            FuncKind::Wasm { funcref, .. } => *funcref,
            FuncKind::Host { ctx, .. } => &ctx.func_ref,
        }
    }
}

type HostCall<T> = dyn Fn(Caller<'_, T>, &mut [ValRaw]) -> Result<()> + Send + Sync;

/// A host function's signature and body, independent of any store (a [`crate::Linker`] keeps
/// these and puts them into each store it instantiates in).
pub struct HostFunc<T> {
    pub(crate) ty: FuncType,
    call: Box<HostCall<T>>,
    /// A monomorphised `extern "C"` shim taking the arguments natively, and the closure it calls
    /// (for closures with at most one result; see `vmhost_func_context::NATIVE_CALL`).
    native: Option<NativeShim>,
    /// The engine-specific entry trampoline and signature id, computed on first use (a linker's
    /// host functions go into every store it instantiates in).
    entry: std::sync::OnceLock<(Engine, usize, u32)>,
}

struct NativeShim {
    shim: *const u8,
    state: Arc<dyn Any + Send + Sync>,
}

// SAFETY: the shim is a function pointer; the state is Send + Sync.
unsafe impl Send for NativeShim {}
// SAFETY: as above.
unsafe impl Sync for NativeShim {}

impl<T: 'static> HostFunc<T> {
    /// A host function over the raw `[ValRaw]` buffer of the array trampoline: arguments in,
    /// results out, in the order of `ty` (for callers that know the core types themselves).
    pub(crate) fn new_raw(
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &mut [ValRaw]) -> Result<()> + Send + Sync + 'static,
    ) -> HostFunc<T> {
        HostFunc { ty, call: Box::new(func), native: None, entry: Default::default() }
    }

    pub(crate) fn new_dynamic(
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> HostFunc<T> {
        let sig = ty.clone();
        let call = move |caller: Caller<'_, T>, raw: &mut [ValRaw]| -> Result<()> {
            let Caller { store, caller_vmctx } = caller;
            let params: Vec<Val> =
                sig.params().enumerate().map(|(i, t)| Val::from_raw(&mut store.opaque, raw[i], t)).collect();
            let mut results: Vec<Val> = sig.results().map(Val::default_for).collect();
            func(Caller { store: &mut *store, caller_vmctx }, &params, &mut results)?;
            for (i, (value, ty)) in results.iter().zip(sig.results()).enumerate() {
                if !value.matches_ty_in(&store.opaque, &ty) {
                    bail!("host function returned a value of type {} where {ty} was expected", value.ty());
                }
                raw[i] = value.to_raw(&store.opaque)?;
            }
            Ok(())
        };
        HostFunc { ty, call: Box::new(call), native: None, entry: Default::default() }
    }

    /// Puts this host function into `store`.
    pub(crate) fn into_store(self: Arc<Self>, store: &mut StoreInner<T>) -> Result<Func> {
        let engine = &store.opaque.engine;
        let native = self.native.as_ref().filter(|_| self.ty.env().results.len() <= 1 && has_native_abi(self.ty.env()));
        let (native_call, type_id) = match self.entry.get() {
            Some((cached, call, id)) if Engine::same(cached, engine) => (*call as *const u8, *id),
            _ => {
                let call = match native {
                    Some(_) => engine.native_host_trampoline(self.ty.env())?,
                    None => engine.host_trampoline(self.ty.env())?,
                };
                let id = engine.type_id(self.ty.env());
                let _ = self.entry.set((engine.clone(), call as usize, id));
                (call, id)
            }
        };
        let (native_shim, native_state) = match native {
            Some(native) => (native.shim, Arc::as_ptr(&native.state) as *const u8),
            None => (std::ptr::null(), std::ptr::null()),
        };
        let shim = host_shim::<T> as *const u8;
        let mut ctx = Box::new(VMHostFuncContext {
            magic: VMHOST_FUNC_MAGIC,
            array_call: shim,
            func_ref: VMFuncRef::NULL,
            host_state: Arc::as_ptr(&self) as *mut u8,
            native_call: native_shim,
            native_state,
        });
        let ctx_ptr: *mut VMHostFuncContext = &mut *ctx;
        ctx.func_ref = VMFuncRef { native_call, array_call: shim, type_id, vmctx: ctx_ptr.cast() };
        let ty = self.ty.clone();
        let index = store.opaque.push_func(FuncData { ty, kind: FuncKind::Host { ctx, func: self } });
        Ok(Func { store: store.opaque.id, index })
    }
}

/// Entry from compiled code (through the host trampoline) into a host function.
unsafe extern "C" fn host_shim<T: 'static>(
    callee: *mut VMContext,
    caller: *mut VMContext,
    values: *mut ValRaw,
    len: usize,
) {
    // SAFETY: the host trampoline passes this function's own context, the calling instance's
    // VMContext (whose STORE slot holds its `StoreInner<T>`: stores only link their own functions)
    // and a buffer of `len` values.
    let reason = unsafe {
        let func = &*((*callee.cast::<VMHostFuncContext>()).host_state as *const HostFunc<T>);
        let store = *(caller.cast::<u8>().add(VMOffsets::STORE as usize) as *const *mut StoreInner<T>);
        // The call is a root scope: handles made for it (its arguments) stop keeping their
        // objects alive when it returns.
        let scope = (*store).opaque.root_scope_start();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let store = &mut *store;
            let values = std::slice::from_raw_parts_mut(values, len);
            (func.call)(Caller { store, caller_vmctx: caller }, values)
        }));
        (*store).opaque.end_root_scope(scope);
        match result {
            Ok(Ok(())) => return,
            Ok(Err(error)) => host_error_reason(error, (*store).opaque.id),
            Err(payload) => UnwindReason::Panic(payload),
        }
    };
    // SAFETY: as above; nothing with a destructor is live in this frame except `reason`, which
    // moves into the unwind.
    unsafe { unwind_from_host(caller, reason) }
}

/// How a host function's error leaves it: an exception of this store (a [`ThrownException`]
/// anywhere in the error's chain) is thrown into wasm; anything else unwinds to the host.
fn host_error_reason(error: anyhow::Error, store: crate::store::StoreId) -> UnwindReason {
    match ThrownException::find_in(&error, store) {
        Some(raw) => UnwindReason::Exception(raw),
        None => UnwindReason::Host(error),
    }
}

/// Leaves a host function called by wasm with `reason`: throws an exception into the calling
/// wasm frame, or unwinds to the host entry.
///
/// # Safety
///
/// Called at the end of a host shim, with nothing else live in its frame; `caller` is a
/// `VMContext` of the calling store.
unsafe fn unwind_from_host(caller: *mut VMContext, reason: UnwindReason) -> ! {
    // SAFETY: the caller's STORE_CONTEXT slot is valid.
    let store_ctx =
        unsafe { *(caller.cast::<u8>().add(VMOffsets::STORE_CONTEXT as usize) as *const *const VMStoreContext) };
    match reason {
        // SAFETY: the object belongs to this store; nothing with a destructor is live.
        UnwindReason::Exception(raw) => unsafe { kiln_runtime::throw_from_host(store_ctx, raw) },
        // SAFETY: as above; `reason` moves into the unwind.
        reason => unsafe { kiln_runtime::raise_from_host(store_ctx, reason) },
    }
}

/// The store behind a calling instance's `VMContext`.
///
/// # Safety
///
/// `caller` must be a live `VMContext` (or root context) of a `Store<T>`.
unsafe fn store_of<T>(caller: *mut VMContext) -> *mut StoreInner<T> {
    // SAFETY: the STORE slot of every VMContext of a `Store<T>` holds its `StoreInner<T>`.
    unsafe { *(caller.cast::<u8>().add(VMOffsets::STORE as usize) as *const *mut StoreInner<T>) }
}

/// Returns a native host call's result, or unwinds with its error or panic.
///
/// # Safety
///
/// Called at the end of a native shim, with nothing else live in its frame.
unsafe fn finish_native<T, A>(caller: *mut VMContext, outcome: std::thread::Result<Result<A>>) -> A {
    let reason = match outcome {
        Ok(Ok(value)) => return value,
        // SAFETY: `caller` is a VMContext of the calling store (its STORE slot is valid).
        Ok(Err(error)) => host_error_reason(error, unsafe { (*store_of::<T>(caller)).opaque.id }),
        Err(payload) => UnwindReason::Panic(payload),
    };
    // SAFETY: `caller` is a VMContext of the calling store; `reason` moves into the unwind.
    unsafe { unwind_from_host(caller, reason) }
}

/// Calls a wasm function through its entry trampoline, catching traps.
pub(crate) fn invoke_wasm(
    store: &mut StoreOpaque,
    funcref: *const VMFuncRef,
    trampoline: ArrayToWasmFn,
    values: *mut ValRaw,
) -> Result<()> {
    let max_stack = store.max_wasm_stack;
    let store_ctx = store.store_ctx_ptr();
    let caller = store.root_vmctx();
    // SAFETY: the funcref belongs to this store (checked by callers) and is live; `values` has
    // room for the function's parameters and results; the closure owns nothing with a destructor.
    let result = unsafe {
        let (native, vmctx) = ((*funcref).native_call, (*funcref).vmctx);
        kiln_runtime::catch_traps(store_ctx, max_stack, || trampoline(native, vmctx, caller, values))
    };
    result.map_err(|report| store.unwind_to_error(report))
}

impl Func {
    /// Defines a host function with a dynamic signature.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        let store = store.as_context_mut().0;
        Arc::new(HostFunc::new_dynamic(ty, func)).into_store(store).expect("failed to create a host function")
    }

    /// [`Func::new`] over the raw [`ValRaw`] buffer: the closure finds one value per parameter
    /// and leaves one per result in place, with no conversion to or from [`Val`]s.
    ///
    /// # Safety
    ///
    /// The closure must leave, for each result, a value of its type; a reference result must be
    /// a reference of this store.
    pub unsafe fn new_unchecked<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &mut [ValRaw]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        Func::new_raw(store.as_context_mut().0, ty, func)
    }

    /// Runs `f` with the function's signature (without copying it, unlike [`Func::ty`]).
    pub fn with_ty<R>(&self, store: impl AsContext, f: impl FnOnce(&FuncType) -> R) -> R {
        f(&self.data(&store.as_context().0.opaque).ty)
    }

    /// [`Func::new`] over the raw `[ValRaw]` buffer (arguments, then results in place): for the
    /// component runtime's lowered imports, which know their core types.
    pub(crate) fn new_raw<T: 'static>(
        store: &mut StoreInner<T>,
        ty: FuncType,
        func: impl Fn(Caller<'_, T>, &mut [ValRaw]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        Arc::new(HostFunc::new_raw(ty, func)).into_store(store).expect("failed to create a host function")
    }

    /// Defines a host function from a Rust closure; its signature comes from the closure's types.
    pub fn wrap<T: 'static, Params, Results>(
        mut store: impl AsContextMut<Data = T>,
        func: impl IntoFunc<T, Params, Results>,
    ) -> Func {
        let store = store.as_context_mut().0;
        Arc::new(func.into_host_func()).into_store(store).expect("failed to create a host function")
    }

    pub(crate) fn from_raw(store: &mut StoreOpaque, funcref: *const VMFuncRef) -> Option<Func> {
        if funcref.is_null() {
            return None;
        }
        Some(Func { store: store.id, index: store.func_from_funcref(funcref, None) })
    }

    fn data<'a>(&self, store: &'a StoreOpaque) -> &'a FuncData {
        assert_eq!(store.id, self.store, "function used with the wrong store");
        &store.funcs[self.index]
    }

    /// The function's signature.
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        self.data(&store.as_context().0.opaque).ty.clone()
    }

    /// Calls the function with dynamically typed values. `results` must have room for every result.
    pub fn call<T: 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let store = store.as_context_mut().0;
        if store.opaque.id != self.store {
            bail!("function used with the wrong store");
        }
        let ty = store.opaque.funcs[self.index].ty.clone();
        if params.len() != ty.params().len() {
            bail!("expected {} arguments, got {}", ty.params().len(), params.len());
        }
        if results.len() < ty.results().len() {
            bail!("expected room for {} results, got {}", ty.results().len(), results.len());
        }
        let mut raw = vec![ValRaw::default(); params.len().max(ty.results().len())];
        for (i, (param, expected)) in params.iter().zip(ty.params()).enumerate() {
            if !param.matches_ty_in(&store.opaque, &expected) {
                bail!("argument {i} has type {}, expected {expected}", param.ty());
            }
            raw[i] = param.to_raw(&store.opaque)?;
        }
        self.call_raw(store, &mut raw)?;
        for (i, ty) in ty.results().enumerate() {
            results[i] = Val::from_raw(&mut store.opaque, raw[i], ty);
        }
        Ok(())
    }

    /// Calls the function with its arguments in `params_and_results` (one [`ValRaw`] per
    /// parameter, in order), which receives its results in the same way. The buffer must hold
    /// at least `max(params, results)` values (checked). No other conversion or check is made:
    /// the fastest way for an embedder that already knows the signature.
    ///
    /// # Safety
    ///
    /// Each argument must be a value of its parameter's type; a reference argument must be a
    /// reference of this store, as a result of this store's functions gives it.
    pub unsafe fn call_unchecked<T: 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        params_and_results: &mut [ValRaw],
    ) -> Result<()> {
        let store = store.as_context_mut().0;
        if store.opaque.id != self.store {
            bail!("function used with the wrong store");
        }
        let data = &store.opaque.funcs[self.index];
        let needed = data.ty.params().len().max(data.ty.results().len());
        if params_and_results.len() < needed {
            bail!("the buffer holds {} values, the call needs {needed}", params_and_results.len());
        }
        self.call_raw(store, params_and_results)
    }

    /// Calls with arguments and results in a raw buffer of `max(params, results)` values.
    pub(crate) fn call_raw<T: 'static>(&self, store: &mut StoreInner<T>, raw: &mut [ValRaw]) -> Result<()> {
        match &store.opaque.funcs[self.index].kind {
            FuncKind::Wasm { funcref, trampoline } => {
                let (funcref, trampoline) = (*funcref, *trampoline);
                invoke_wasm(&mut store.opaque, funcref, trampoline, raw.as_mut_ptr())
            }
            FuncKind::Host { func, .. } => {
                let func = func
                    .clone()
                    .downcast::<HostFunc<T>>()
                    .map_err(|_| anyhow::anyhow!("host function of another store type"))?;
                (func.call)(Caller { store, caller_vmctx: std::ptr::null_mut() }, raw)
            }
        }
    }

    /// A statically typed view of this function; fails if the types do not match.
    pub fn typed<P: WasmParams, R: WasmResults>(&self, store: impl AsContext) -> Result<TypedFunc<P, R>> {
        let ty = self.ty(&store);
        let params: Vec<ValType> = ty.params().collect();
        let results: Vec<ValType> = ty.results().collect();
        if P::valtypes() != params {
            bail!(
                "type mismatch with parameters: the function takes {params:?}, the typed view passes {:?}",
                P::valtypes()
            );
        }
        if R::valtypes() != results {
            bail!(
                "type mismatch with results: the function returns {results:?}, the typed view expects {:?}",
                R::valtypes()
            );
        }
        let store = &store.as_context().0.opaque;
        let entry = match &store.funcs[self.index].kind {
            FuncKind::Wasm { funcref, trampoline } => Some((*funcref, *trampoline)),
            FuncKind::Host { .. } => None,
        };
        let native_entry = if entry.is_some() && R::NATIVE && has_native_abi(ty.env()) {
            Some(store.engine.native_to_wasm_trampoline(ty.env())?)
        } else {
            None
        };
        Ok(TypedFunc { func: *self, entry, native_entry, _marker: PhantomData })
    }
}

/// The context of a host function call: the store, and the instance that called.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut StoreInner<T>,
    /// The calling instance's `VMContext` (null or the store's root context when called from
    /// the host); mapped to an instance only when asked, to keep host calls cheap.
    pub(crate) caller_vmctx: *mut VMContext,
}

impl<T> Caller<'_, T> {
    /// The raw values (0 for null) of the garbage-collectable references (`externref`, `exnref`)
    /// that the calling wasm frames keep on the stack across their calls, innermost frame first:
    /// what a collector will scan. Exposed to test the stack maps; not a stable API.
    #[doc(hidden)]
    pub fn stack_gc_roots(&self) -> Vec<u64> {
        let mut roots = Vec::new();
        // SAFETY: a `Caller` exists only inside a host function called by this store's wasm (or
        // from the host, where the walk finds no wasm frames); the slots are live stack memory.
        unsafe {
            kiln_runtime::visit_stack_roots(&*self.store.opaque.store_ctx, |slot| roots.push(*slot as u64));
        }
        roots
    }

    /// The embedder's data.
    pub fn data(&self) -> &T {
        &self.store.data
    }
    /// Collects the store's GC objects now (see [`crate::Store::gc`]); the calling wasm frames'
    /// references are roots.
    pub fn gc(&mut self) {
        self.store.opaque.gc();
    }
    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.store.data
    }
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.store.opaque.engine
    }
    /// An export of the calling instance (None when called from the host).
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        let index = *self.store.opaque.vmctx_to_instance.get(&(self.caller_vmctx as usize))?;
        crate::Instance { store: self.store.opaque.id, index }.export_from(&mut self.store.opaque, name)
    }
    /// A shorter-lived caller borrowing this one.
    pub fn reborrow(&mut self) -> Caller<'_, T> {
        Caller { store: &mut *self.store, caller_vmctx: self.caller_vmctx }
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.store)
    }
}
impl<T> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.store)
    }
}

/// A Rust type that is a wasm value type.
pub trait WasmTy: Sized + Send + 'static {
    /// The type's C representation in native host calls.
    #[doc(hidden)]
    type Abi: Copy;
    /// The wasm type.
    fn valtype() -> ValType;
    #[doc(hidden)]
    fn into_abi(self, store: &StoreOpaque) -> Result<Self::Abi>;
    #[doc(hidden)]
    fn from_abi(store: &mut StoreOpaque, abi: Self::Abi) -> Self;
    #[doc(hidden)]
    fn into_raw(self, store: &StoreOpaque) -> Result<ValRaw>;
    #[doc(hidden)]
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self;
}

macro_rules! wasm_ty_num {
    ($($t:ty => $vt:ident, $to:expr, $from:expr;)*) => {$(
        impl WasmTy for $t {
            type Abi = $t;
            fn into_abi(self, _: &StoreOpaque) -> Result<$t> { Ok(self) }
            fn from_abi(_: &mut StoreOpaque, abi: $t) -> $t { abi }
            fn valtype() -> ValType { ValType::$vt }
            fn into_raw(self, _: &StoreOpaque) -> Result<ValRaw> { Ok($to(self)) }
            fn from_raw(_: &mut StoreOpaque, raw: ValRaw) -> Self { $from(raw) }
        }
    )*};
}

wasm_ty_num! {
    i32 => I32, ValRaw::i32, |r: ValRaw| r.get_i32();
    u32 => I32, |v: u32| ValRaw::i32(v as i32), |r: ValRaw| r.get_i32() as u32;
    i64 => I64, ValRaw::i64, |r: ValRaw| r.get_i64();
    u64 => I64, |v: u64| ValRaw::i64(v as i64), |r: ValRaw| r.get_i64() as u64;
    f32 => F32, |v: f32| ValRaw::f32(v.to_bits()), |r: ValRaw| f32::from_bits(r.get_f32());
    f64 => F64, |v: f64| ValRaw::f64(v.to_bits()), |r: ValRaw| f64::from_bits(r.get_f64());
    u128 => V128, ValRaw::u128, |r: ValRaw| r.get_u128();
    V128 => V128, |v: V128| ValRaw::u128(v.as_u128()), |r: ValRaw| V128::from(r.get_u128());
}

/// Whether a signature can use the native (register) trampolines: Rust's C ABI passes a `u128`
/// in two integer registers where Cranelift passes a `v128` in one vector register, so
/// signatures with `v128` always take the `[ValRaw]` array path.
fn has_native_abi(ty: &kiln_environ::WasmFuncType) -> bool {
    !ty.params.iter().chain(ty.results.iter()).any(|t| *t == kiln_environ::WasmValType::V128)
}

impl WasmTy for Option<Func> {
    type Abi = usize;
    fn into_abi(self, store: &StoreOpaque) -> Result<usize> {
        Ok(Val::FuncRef(self).to_raw(store)?.get_reference())
    }
    fn from_abi(store: &mut StoreOpaque, abi: usize) -> Self {
        Func::from_raw(store, abi as *const VMFuncRef)
    }
    fn valtype() -> ValType {
        ValType::FUNCREF
    }
    fn into_raw(self, store: &StoreOpaque) -> Result<ValRaw> {
        Val::FuncRef(self).to_raw(store)
    }
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self {
        Func::from_raw(store, raw.get_reference() as *const VMFuncRef)
    }
}

impl WasmTy for Option<ExternRef> {
    type Abi = usize;
    fn into_abi(self, store: &StoreOpaque) -> Result<usize> {
        Ok(Val::ExternRef(self).to_raw(store)?.get_reference())
    }
    fn from_abi(store: &mut StoreOpaque, abi: usize) -> Self {
        ExternRef::from_raw(store, abi)
    }
    fn valtype() -> ValType {
        ValType::EXTERNREF
    }
    fn into_raw(self, store: &StoreOpaque) -> Result<ValRaw> {
        Val::ExternRef(self).to_raw(store)
    }
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self {
        ExternRef::from_raw(store, raw.get_reference())
    }
}

impl WasmTy for Option<crate::AnyRef> {
    type Abi = usize;
    fn into_abi(self, store: &StoreOpaque) -> Result<usize> {
        Ok(Val::AnyRef(self).to_raw(store)?.get_reference())
    }
    fn from_abi(store: &mut StoreOpaque, abi: usize) -> Self {
        crate::AnyRef::from_raw(store, abi)
    }
    fn valtype() -> ValType {
        ValType::Ref(crate::RefType::new(true, crate::HeapType::Any))
    }
    fn into_raw(self, store: &StoreOpaque) -> Result<ValRaw> {
        Val::AnyRef(self).to_raw(store)
    }
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self {
        crate::AnyRef::from_raw(store, raw.get_reference())
    }
}

impl WasmTy for Option<crate::EqRef> {
    type Abi = usize;
    fn into_abi(self, store: &StoreOpaque) -> Result<usize> {
        Ok(Val::AnyRef(self.map(crate::AnyRef::from)).to_raw(store)?.get_reference())
    }
    fn from_abi(store: &mut StoreOpaque, abi: usize) -> Self {
        // Values of type `eqref` are `i31`s and GC objects.
        crate::AnyRef::from_raw(store, abi).and_then(|a| a.as_eqref())
    }
    fn valtype() -> ValType {
        ValType::Ref(crate::RefType::new(true, crate::HeapType::Eq))
    }
    fn into_raw(self, store: &StoreOpaque) -> Result<ValRaw> {
        Val::AnyRef(self.map(crate::AnyRef::from)).to_raw(store)
    }
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self {
        crate::AnyRef::from_raw(store, raw.get_reference()).and_then(|a| a.as_eqref())
    }
}

impl WasmTy for Option<crate::ExnRef> {
    type Abi = usize;
    fn into_abi(self, store: &StoreOpaque) -> Result<usize> {
        Ok(Val::ExnRef(self).to_raw(store)?.get_reference())
    }
    fn from_abi(store: &mut StoreOpaque, abi: usize) -> Self {
        crate::ExnRef::from_raw(store, abi)
    }
    fn valtype() -> ValType {
        ValType::Ref(crate::RefType::new(true, crate::HeapType::Exn))
    }
    fn into_raw(self, store: &StoreOpaque) -> Result<ValRaw> {
        Val::ExnRef(self).to_raw(store)
    }
    fn from_raw(store: &mut StoreOpaque, raw: ValRaw) -> Self {
        crate::ExnRef::from_raw(store, raw.get_reference())
    }
}

/// Parameters of a typed call: `()`, a [`WasmTy`], or a tuple of them.
pub trait WasmParams: Send {
    #[doc(hidden)]
    const COUNT: usize;
    /// As the result of a native host call: its C type, and whether it can be one (at most one
    /// value).
    #[doc(hidden)]
    type NativeAbi: Copy;
    #[doc(hidden)]
    const NATIVE: bool;
    #[doc(hidden)]
    fn into_native(self, store: &StoreOpaque) -> Result<Self::NativeAbi>;
    #[doc(hidden)]
    fn valtypes() -> Vec<ValType>;
    /// Calls wasm function `funcref` through the typed-call trampoline `entry` with these
    /// parameters in registers.
    ///
    /// # Safety
    ///
    /// `entry` must be the trampoline for exactly this signature and `funcref` a live wasm
    /// function of `store` with it.
    #[doc(hidden)]
    unsafe fn call_native<R: WasmResults>(
        self,
        store: &mut StoreOpaque,
        entry: *const u8,
        funcref: *const VMFuncRef,
    ) -> Result<R>;
    #[doc(hidden)]
    fn store_raw(self, store: &StoreOpaque, raw: &mut [ValRaw]) -> Result<()>;
}

/// Results of a typed call: `()`, a [`WasmTy`], or a tuple of them.
pub trait WasmResults: Sized {
    #[doc(hidden)]
    const COUNT: usize;
    /// The C type of the result of a typed call through a native trampoline.
    #[doc(hidden)]
    type NativeAbi: Copy;
    /// Whether typed calls can return this natively (at most one value).
    #[doc(hidden)]
    const NATIVE: bool;
    #[doc(hidden)]
    fn from_native(store: &mut StoreOpaque, abi: Self::NativeAbi) -> Option<Self>;
    #[doc(hidden)]
    fn valtypes() -> Vec<ValType>;
    #[doc(hidden)]
    fn load_raw(store: &mut StoreOpaque, raw: &[ValRaw]) -> Self;
}

impl<A: WasmTy> WasmParams for A {
    const COUNT: usize = 1;
    type NativeAbi = A::Abi;
    const NATIVE: bool = true;
    fn into_native(self, store: &StoreOpaque) -> Result<A::Abi> {
        self.into_abi(store)
    }
    unsafe fn call_native<R: WasmResults>(
        self,
        store: &mut StoreOpaque,
        entry: *const u8,
        funcref: *const VMFuncRef,
    ) -> Result<R> {
        // SAFETY: forwarded from the caller.
        unsafe { (self,).call_native(store, entry, funcref) }
    }
    fn valtypes() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn store_raw(self, store: &StoreOpaque, raw: &mut [ValRaw]) -> Result<()> {
        raw[0] = self.into_raw(store)?;
        Ok(())
    }
}

impl<A: WasmTy> WasmResults for A {
    const COUNT: usize = 1;
    type NativeAbi = A::Abi;
    const NATIVE: bool = true;
    fn from_native(store: &mut StoreOpaque, abi: A::Abi) -> Option<Self> {
        Some(A::from_abi(store, abi))
    }
    fn valtypes() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn load_raw(store: &mut StoreOpaque, raw: &[ValRaw]) -> Self {
        A::from_raw(store, raw[0])
    }
}

macro_rules! tuple_impls {
    ($($a:ident)*) => {
        #[allow(non_snake_case, unused_mut, unused_variables, unused_assignments)]
        impl<$($a: WasmTy,)*> WasmParams for ($($a,)*) {
            const COUNT: usize = 0 $(+ { let _ = stringify!($a); 1 })*;
            type NativeAbi = ();
            // Only `()` returns natively; tuples of values are multi-value results.
            const NATIVE: bool = <Self as WasmParams>::COUNT == 0;
            fn into_native(self, _store: &StoreOpaque) -> Result<()> {
                if <Self as WasmParams>::COUNT == 0 {
                    Ok(())
                } else {
                    bail!("multi-value results cannot be returned from a native host call")
                }
            }
            unsafe fn call_native<R: WasmResults>(
                self,
                store: &mut StoreOpaque,
                entry: *const u8,
                funcref: *const VMFuncRef,
            ) -> Result<R> {
                let ($($a,)*) = self;
                $(let $a = $a.into_abi(store)?;)*
                // SAFETY: the caller guarantees `entry` has exactly this C signature.
                let entry: unsafe extern "C" fn(*const u8, *mut VMContext, *mut VMContext, $($a::Abi,)*) -> R::NativeAbi =
                    unsafe { std::mem::transmute::<*const u8, _>(entry) };
                let max_stack = store.max_wasm_stack;
                let store_ctx = store.store_ctx_ptr();
                let caller = store.root_vmctx();
                let mut out = std::mem::MaybeUninit::<R::NativeAbi>::uninit();
                // SAFETY: `funcref` is live (caller's guarantee); the closure holds only `Copy`
                // values, so a trap skipping its frame leaks nothing.
                let result = unsafe {
                    let (native, vmctx) = ((*funcref).native_call, (*funcref).vmctx);
                    kiln_runtime::catch_traps(store_ctx, max_stack, || {
                        out.write(entry(native, vmctx, caller, $($a,)*));
                    })
                };
                match result {
                    // SAFETY: the call returned normally, so `out` was written.
                    Ok(()) => R::from_native(store, unsafe { out.assume_init() })
                        .ok_or_else(|| anyhow::anyhow!("multi-value results need the array call path")),
                    Err(report) => Err(store.unwind_to_error(report)),
                }
            }
            fn valtypes() -> Vec<ValType> { vec![$($a::valtype()),*] }
            fn store_raw(self, store: &StoreOpaque, raw: &mut [ValRaw]) -> Result<()> {
                let ($($a,)*) = self;
                let mut i = 0;
                $(raw[i] = $a.into_raw(store)?; i += 1;)*
                Ok(())
            }
        }

        #[allow(non_snake_case, unused_mut, unused_variables, unused_assignments, clippy::unused_unit)]
        impl<$($a: WasmTy,)*> WasmResults for ($($a,)*) {
            const COUNT: usize = 0 $(+ { let _ = stringify!($a); 1 })*;
            type NativeAbi = ();
            const NATIVE: bool = <Self as WasmResults>::COUNT == 0;
            #[allow(unreachable_code)]
            fn from_native(_store: &mut StoreOpaque, _abi: ()) -> Option<Self> {
                // Only `()` has a native form; any element makes this return `None`.
                Some(($({ let _ = stringify!($a); return None },)*))
            }
            fn valtypes() -> Vec<ValType> { vec![$($a::valtype()),*] }
            fn load_raw(store: &mut StoreOpaque, raw: &[ValRaw]) -> Self {
                let mut i = 0;
                ($({ let v = $a::from_raw(store, raw[i]); i += 1; v },)*)
            }
        }

        #[allow(non_snake_case)]
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, ($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
        {
            fn into_host_func(self) -> HostFunc<T> {
                // A closure without a `Caller` is one that ignores it.
                let with_caller = move |_: Caller<'_, T>, $($a: $a),*| self($($a),*);
                IntoFunc::<T, (Caller<'static, T>, $($a,)*), R>::into_host_func(with_caller)
            }
        }

        #[allow(non_snake_case)]
        impl<T: 'static, F, $($a: WasmTy,)* R: WasmRet> IntoFunc<T, (Caller<'static, T>, $($a,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
        {
            fn into_host_func(self) -> HostFunc<T> {
                let ty = FuncType::new(vec![$($a::valtype()),*], <R::Values as WasmResults>::valtypes());
                let func = Arc::new(self);
                let array_func = func.clone();
                let call = move |mut caller: Caller<'_, T>, raw: &mut [ValRaw]| -> Result<()> {
                    let mut _i = 0;
                    $(let $a = $a::from_raw(&mut caller.store.opaque, raw[_i]); _i += 1;)*
                    let result = array_func(caller.reborrow(), $($a),*);
                    result.into_values()?.store_raw(&caller.store.opaque, raw)
                };

                /// Native entry with a [`Caller`].
                unsafe extern "C" fn native<T: 'static, F, $($a: WasmTy,)* R: WasmRet>(
                    callee: *mut VMContext,
                    caller: *mut VMContext,
                    $($a: $a::Abi,)*
                ) -> <R::Values as WasmParams>::NativeAbi
                where
                    F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
                {
                    // SAFETY: as for the native entry without a caller.
                    let outcome = unsafe {
                        let f = &*((*callee.cast::<VMHostFuncContext>()).native_state as *const F);
                        let store = store_of::<T>(caller);
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            let store = &mut *store;
                            // A root scope, as in `host_shim`.
                            let scope = store.opaque.root_scope_start();
                            $(let $a = $a::from_abi(&mut store.opaque, $a);)*
                            let result = f(Caller { store: &mut *store, caller_vmctx: caller }, $($a),*);
                            let result = result.into_values().and_then(|values| values.into_native(&store.opaque));
                            store.opaque.end_root_scope(scope);
                            result
                        }))
                    };
                    // SAFETY: as above.
                    unsafe { finish_native::<T, _>(caller, outcome) }
                }

                let native = <R::Values as WasmParams>::NATIVE.then(|| NativeShim {
                    shim: native::<T, F, $($a,)* R> as *const u8,
                    state: func as Arc<dyn Any + Send + Sync>,
                });
                HostFunc { ty, call: Box::new(call), native, entry: Default::default() }
            }
        }
    };
}

tuple_impls!();
tuple_impls!(A1);
tuple_impls!(A1 A2);
tuple_impls!(A1 A2 A3);
tuple_impls!(A1 A2 A3 A4);
tuple_impls!(A1 A2 A3 A4 A5);
tuple_impls!(A1 A2 A3 A4 A5 A6);
tuple_impls!(A1 A2 A3 A4 A5 A6 A7);
tuple_impls!(A1 A2 A3 A4 A5 A6 A7 A8);
tuple_impls!(A1 A2 A3 A4 A5 A6 A7 A8 A9);
tuple_impls!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10);
tuple_impls!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11);
tuple_impls!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12);

/// What a host closure may return: `()`, a [`WasmTy`], a tuple of them, or a `Result` of those.
pub trait WasmRet {
    /// The values returned on success.
    #[doc(hidden)]
    type Values: WasmParams + WasmResults;
    #[doc(hidden)]
    fn into_values(self) -> Result<Self::Values>;
}

impl<R: WasmParams + WasmResults> WasmRet for R {
    type Values = R;
    fn into_values(self) -> Result<R> {
        Ok(self)
    }
}

impl<R: WasmParams + WasmResults> WasmRet for Result<R> {
    type Values = R;
    fn into_values(self) -> Result<R> {
        self
    }
}

/// A Rust closure usable as a host function. `Params` is a tuple of [`WasmTy`] (optionally led by
/// a [`Caller`]); `Results` is a [`WasmRet`].
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    #[doc(hidden)]
    fn into_host_func(self) -> HostFunc<T>;
}

/// A function with a statically known signature: calls skip dynamic type checks.
pub struct TypedFunc<P, R> {
    func: Func,
    /// For wasm functions: the funcref and entry trampoline, looked up once.
    entry: Option<(*const VMFuncRef, ArrayToWasmFn)>,
    /// For wasm functions with at most one result: the typed-call trampoline.
    native_entry: Option<*const u8>,
    _marker: PhantomData<fn(P) -> R>,
}

// SAFETY: the pointers are only dereferenced through the store that owns them, which the call
// checks.
unsafe impl<P, R> Send for TypedFunc<P, R> {}
// SAFETY: as above.
unsafe impl<P, R> Sync for TypedFunc<P, R> {}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, R> Copy for TypedFunc<P, R> {}

const INLINE_VALUES: usize = 8;

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }

    /// Calls the function.
    pub fn call<T: 'static>(&self, mut store: impl AsContextMut<Data = T>, params: P) -> Result<R> {
        let store = store.as_context_mut().0;
        if store.opaque.id != self.func.store {
            bail!("function used with the wrong store");
        }
        if let (Some(native), Some((funcref, _))) = (self.native_entry, self.entry) {
            // SAFETY: `typed` checked the signature and compiled `native` for it; the funcref
            // belongs to this store (checked above).
            return unsafe { params.call_native(&mut store.opaque, native, funcref) };
        }
        let needed = P::COUNT.max(R::COUNT);
        let mut inline = [ValRaw::default(); INLINE_VALUES];
        let mut heap;
        let raw: &mut [ValRaw] = if needed <= INLINE_VALUES {
            &mut inline
        } else {
            heap = vec![ValRaw::default(); needed];
            &mut heap
        };
        params.store_raw(&store.opaque, raw).context("invalid argument")?;
        match self.entry {
            Some((funcref, trampoline)) => invoke_wasm(&mut store.opaque, funcref, trampoline, raw.as_mut_ptr())?,
            None => self.func.call_raw(store, raw)?,
        }
        Ok(R::load_raw(&mut store.opaque, raw))
    }
}
