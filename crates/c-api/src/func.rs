//! Functions: host functions from C callbacks, calls into wasm.

use crate::engine::{StoreData, wasm_store_t, with_caller, with_ctx};
use crate::error::{error, error_msg, guard_err, kiln_error_t};
use crate::obj::{Kind, Obj};
use crate::trap::{HostTrap, trap_data, trap_from_error, trap_msg};
use crate::types::{CExternType, opt, take, wasm_functype_t};
use crate::val::wasm_val_t;
use crate::vec::{CVec, wasm_val_vec_t};
use crate::{boxed, guard, guard_with};
use anyhow::{Context as _, Result, anyhow};
use kiln_rs::{AsContextMut, Caller, Func, FuncType, StoreContextMut, Val, ValRaw, ValType};
use std::ffi::c_void;
use std::ptr::null_mut;

pub type wasm_func_callback_t = unsafe extern "C" fn(*const wasm_val_vec_t, *mut wasm_val_vec_t) -> *mut Obj;
pub type wasm_func_callback_with_env_t =
    unsafe extern "C" fn(*mut c_void, *const wasm_val_vec_t, *mut wasm_val_vec_t) -> *mut Obj;

/// A C environment pointer with the finalizer C registered for it, which runs when this is
/// dropped (with the store, or with the linker, holding the function or type it belongs to).
pub(crate) struct CEnv {
    pub ptr: *mut c_void,
    pub finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the C API's contract: a callback and its environment may be called from any thread
// that uses the store (or, for linker definitions, any store) they are attached to.
unsafe impl Send for CEnv {}
// SAFETY: as above.
unsafe impl Sync for CEnv {}

impl Drop for CEnv {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: C registered this finalizer for this environment.
            unsafe { finalizer(self.ptr) }
        }
    }
}

/// A C callback with its environment.
pub(crate) struct Callback {
    pub kind: CallbackKind,
    pub env: CEnv,
}

pub(crate) enum CallbackKind {
    Plain(wasm_func_callback_t),
    WithEnv(wasm_func_callback_with_env_t),
}

/// The error a host function's callback returned as its trap.
fn callback_trap(trap: &Obj) -> anyhow::Error {
    match trap_data(trap) {
        Some(data) => match data.exit_status {
            Some(status) => anyhow::Error::new(kiln_wasi::I32Exit(status)),
            None => anyhow::Error::new(HostTrap(data.message.clone())),
        },
        None => anyhow!("host function returned a non-trap object as its trap"),
    }
}

/// Signatures with at most this many parameters and results, all numbers, take the fast paths:
/// values convert between C and wasm on the stack, without `Val`s or allocation.
const FAST_VALUES: usize = 16;

/// The parameter and result types of `ty` if it takes the fast paths.
fn number_signature(ty: &FuncType) -> Option<(Vec<ValType>, Vec<ValType>)> {
    let is_number = |t: &ValType| matches!(t, ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64);
    let (params, results): (Vec<_>, Vec<_>) = (ty.params().collect(), ty.results().collect());
    (params.len() <= FAST_VALUES
        && results.len() <= FAST_VALUES
        && params.iter().all(is_number)
        && results.iter().all(is_number))
    .then_some((params, results))
}

impl Callback {
    /// Calls the C callback for a host function whose parameters and results are all numbers
    /// (see [`number_signature`]), with the arguments and results in `raw`.
    fn call_numbers(
        &self,
        caller: &mut Caller<'_, StoreData>,
        params: &[ValType],
        results: &[ValType],
        raw: &mut [ValRaw],
    ) -> Result<()> {
        let mut args_buf: [wasm_val_t; FAST_VALUES] = std::array::from_fn(|_| wasm_val_t::i32(0));
        for ((slot, value), ty) in args_buf.iter_mut().zip(raw.iter()).zip(params) {
            *slot = wasm_val_t::from_raw_number(*value, ty).context("not a number type")?;
        }
        let mut out_buf: [wasm_val_t; FAST_VALUES] = std::array::from_fn(|_| wasm_val_t::i32(0));
        for (slot, ty) in out_buf.iter_mut().zip(results) {
            *slot = wasm_val_t::from_raw_number(ValRaw::default(), ty).context("not a number type")?;
        }
        // Vectors over the stack buffers: never dropped (their memory is not C's to free).
        let args = std::mem::ManuallyDrop::new(CVec { size: params.len(), data: args_buf.as_mut_ptr() });
        let mut out = std::mem::ManuallyDrop::new(CVec { size: results.len(), data: out_buf.as_mut_ptr() });
        let trap = with_caller(caller, || match self.kind {
            // SAFETY: C's callback, called with vectors that live across the call.
            CallbackKind::Plain(f) => unsafe { f(&*args, &mut *out) },
            // SAFETY: as above, with the environment C registered.
            CallbackKind::WithEnv(f) => unsafe { f(self.env.ptr, &*args, &mut *out) },
        });
        if let Some(trap) = take(trap) {
            return Err(callback_trap(&trap));
        }
        if out.size != results.len() || out.data != out_buf.as_mut_ptr() {
            return Err(anyhow!("host function changed its results vector"));
        }
        for (i, ((slot, value), ty)) in raw.iter_mut().zip(&out_buf).zip(results).enumerate() {
            *slot = value.to_raw_number(ty).with_context(|| format!("host function result {i}: expected {ty}"))?;
        }
        Ok(())
    }

    /// Calls the C callback for a host function of type `ty`.
    pub(crate) fn call(
        &self,
        mut caller: Caller<'_, StoreData>,
        ty: &FuncType,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let store = caller.data().self_ptr;
        let args = {
            let mut ctx = caller.as_context_mut();
            let vals = params.iter().map(|v| wasm_val_t::from_val(store, &mut ctx, v)).collect::<Result<Vec<_>>>()?;
            CVec::from_vec(vals)
        };
        let mut out: wasm_val_vec_t = CVec::from_vec(
            ty.results()
                .map(|t| {
                    let mut v = wasm_val_t::i32(0);
                    v.kind = crate::types::kind_of(&t);
                    if v.kind >= crate::types::WASM_EXTERNREF {
                        v.of.ref_ = null_mut();
                    }
                    v
                })
                .collect(),
        );
        let trap = with_caller(&mut caller, || match self.kind {
            // SAFETY: C's callback, called with vectors that live across the call.
            CallbackKind::Plain(f) => unsafe { f(&args, &mut out) },
            // SAFETY: as above, with the environment C registered.
            CallbackKind::WithEnv(f) => unsafe { f(self.env.ptr, &args, &mut out) },
        });
        drop(args);
        if let Some(trap) = take(trap) {
            return Err(callback_trap(&trap));
        }
        let mut ctx = caller.as_context_mut();
        if out.size != results.len() {
            return Err(anyhow!("host function changed its results vector"));
        }
        for ((slot, v), t) in results.iter_mut().zip(out.as_slice()).zip(ty.results()) {
            *slot = v.to_val(&mut ctx, &t).map_err(|e| anyhow!("host function result: {e}"))?;
        }
        Ok(())
    }
}

pub(crate) fn func_of(f: *const Obj) -> Option<(*mut wasm_store_t, Func)> {
    match opt(f)? {
        Obj { store, kind: Kind::Func(func), .. } => Some((*store, *func)),
        _ => None,
    }
}

fn new_func(store: *mut wasm_store_t, ty: *const wasm_functype_t, cb: Callback) -> *mut Obj {
    let Some(ty) = opt(ty).and_then(|t| t.func_ty()).cloned() else { return null_mut() };
    if store.is_null() {
        return null_mut();
    }
    let ty2 = ty.clone();
    let func = with_ctx(store, |ctx| match number_signature(&ty) {
        Some((params, results)) => {
            let call = move |mut caller: Caller<'_, StoreData>, raw: &mut [ValRaw]| {
                cb.call_numbers(&mut caller, &params, &results, raw)
            };
            // SAFETY: `call_numbers` leaves a number of each result's type in `raw`.
            unsafe { Func::new_unchecked(ctx, ty, call) }
        }
        None => Func::new(ctx, ty, move |caller, params, results| cb.call(caller, &ty2, params, results)),
    });
    boxed(Obj::new(store, Kind::Func(func)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_new(
    store: *mut wasm_store_t,
    ty: *const wasm_functype_t,
    callback: Option<wasm_func_callback_t>,
) -> *mut Obj {
    guard(null_mut(), || {
        let Some(callback) = callback else { return null_mut() };
        new_func(
            store,
            ty,
            Callback { kind: CallbackKind::Plain(callback), env: CEnv { ptr: null_mut(), finalizer: None } },
        )
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_new_with_env(
    store: *mut wasm_store_t,
    ty: *const wasm_functype_t,
    callback: Option<wasm_func_callback_with_env_t>,
    env: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut Obj {
    guard(null_mut(), || {
        let Some(callback) = callback else { return null_mut() };
        new_func(store, ty, Callback { kind: CallbackKind::WithEnv(callback), env: CEnv { ptr: env, finalizer } })
    })
}

fn func_type(f: *const Obj) -> Option<FuncType> {
    let (store, func) = func_of(f)?;
    Some(with_ctx(store, |ctx| func.ty(&ctx)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_type(f: *const Obj) -> *mut CExternType {
    guard(null_mut(), || func_type(f).map_or(null_mut(), |t| boxed(CExternType::func(t))))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_param_arity(f: *const Obj) -> usize {
    guard(0, || func_type(f).map_or(0, |t| t.params().len()))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_result_arity(f: *const Obj) -> usize {
    guard(0, || func_type(f).map_or(0, |t| t.results().len()))
}

/// Calls `func` with C values; results are written into `results`, which must have exactly the
/// function's result arity.
pub(crate) fn call(
    store: *mut wasm_store_t,
    ctx: &mut StoreContextMut<'_, StoreData>,
    func: Func,
    args: &[wasm_val_t],
    results: &mut [wasm_val_t],
) -> Result<()> {
    // Numbers only: straight into the raw buffer and back, without `Val`s or allocation.
    let mut raw = [ValRaw::default(); FAST_VALUES];
    let fast = func.with_ty(&*ctx, |ty| {
        let (params, result_count) = (ty.params(), ty.results().len());
        if params.len() != args.len() || result_count != results.len() || params.len().max(result_count) > FAST_VALUES {
            return false;
        }
        for ((slot, arg), ty) in raw.iter_mut().zip(args).zip(params) {
            match arg.to_raw_number(&ty) {
                Some(value) => *slot = value,
                None => return false,
            }
        }
        ty.results().all(|t| matches!(t, ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64))
    });
    if fast {
        let n = args.len().max(results.len());
        // SAFETY: every argument is a number of its parameter's type (checked above).
        unsafe { func.call_unchecked(ctx.as_context_mut(), &mut raw[..n])? };
        func.with_ty(&*ctx, |ty| {
            for ((slot, value), ty) in results.iter_mut().zip(raw).zip(ty.results()) {
                *slot = wasm_val_t::from_raw_number(value, &ty).expect("checked above");
            }
        });
        return Ok(());
    }
    let ty = func.ty(&*ctx);
    if args.len() != ty.params().len() {
        return Err(anyhow!("wrong number of arguments: expected {}, got {}", ty.params().len(), args.len()));
    }
    if results.len() != ty.results().len() {
        return Err(anyhow!("wrong number of results: expected {}, got {}", ty.results().len(), results.len()));
    }
    let params = args
        .iter()
        .zip(ty.params())
        .enumerate()
        .map(|(i, (a, t))| a.to_val(ctx, &t).map_err(|e| anyhow!("argument {i}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let mut out = vec![Val::I32(0); results.len()];
    func.call(ctx.as_context_mut(), &params, &mut out)?;
    for (slot, v) in results.iter_mut().zip(&out) {
        *slot = wasm_val_t::from_val(store, ctx, v)?;
    }
    Ok(())
}

/// Calls the function; a trap (or an argument or arity mismatch, as a trap) is returned, NULL on
/// success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_func_call(
    f: *const Obj,
    args: *const wasm_val_vec_t,
    results: *mut wasm_val_vec_t,
) -> *mut Obj {
    let store = opt(f).map_or(null_mut(), |f| f.store);
    guard_with(
        || boxed(trap_msg(store, "wasm_func_call panicked")),
        || {
            let Some((store, func)) = func_of(f) else {
                return boxed(trap_msg(store, "wasm_func_call: not a function"));
            };
            let args = opt(args).map_or(&[][..], |a| a.as_slice());
            // SAFETY: `results` is NULL or a live vector C lends for writing.
            let mut none = CVec::empty();
            let results = match unsafe { results.as_mut() } {
                Some(r) => r.as_mut_slice(),
                None => none.as_mut_slice(),
            };
            match with_ctx(store, |mut ctx| call(store, &mut ctx, func, args, results)) {
                Ok(()) => null_mut(),
                Err(err) => boxed(trap_from_error(store, &err)),
            }
        },
    )
}

/// One value of [`kiln_func_call_unchecked`]'s buffer (C's `kiln_val_raw_t`): 16 bytes, the
/// value little-endian at the start.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct kiln_val_raw_t {
    bytes: [u8; 16],
}

/// Buffers up to this many values are copied through the stack (no allocation per call).
const UNCHECKED_STACK_VALUES: usize = 16;

/// Calls `f` with the arguments in `args_and_results` (one value per parameter), which receives
/// the results; `len` must be at least the larger of the parameter and result counts. A trap
/// goes to `*trap` (caller-owned) and NULL is returned; misuse (not a function, a buffer too
/// short, a signature with reference types, whose raw values C cannot make) returns an error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_func_call_unchecked(
    f: *const Obj,
    args_and_results: *mut kiln_val_raw_t,
    len: usize,
    trap: *mut *mut Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let Some((store, func)) = func_of(f) else {
            return error_msg("kiln_func_call_unchecked: not a function");
        };
        if args_and_results.is_null() && len != 0 {
            return error_msg("kiln_func_call_unchecked: NULL buffer");
        }
        let buffer: &mut [kiln_val_raw_t] = if len == 0 {
            &mut []
        } else {
            // SAFETY: C lends `len` values at `args_and_results` for reading and writing.
            unsafe { std::slice::from_raw_parts_mut(args_and_results, len) }
        };
        let result = with_ctx(store, |mut ctx| {
            let (has_refs, needed) = func.with_ty(&ctx, |ty| {
                (ty.params().chain(ty.results()).any(|t| t.is_ref()), ty.params().len().max(ty.results().len()))
            });
            if has_refs {
                return Err(anyhow!("kiln_func_call_unchecked: the function takes or returns references"));
            }
            if len < needed {
                return Err(anyhow!(
                    "kiln_func_call_unchecked: the buffer holds {len} values, the call needs {needed}"
                ));
            }
            let mut on_stack = [ValRaw::default(); UNCHECKED_STACK_VALUES];
            let mut on_heap = Vec::new();
            let raw = if len <= UNCHECKED_STACK_VALUES {
                &mut on_stack[..len]
            } else {
                on_heap.resize(len, ValRaw::default());
                &mut on_heap[..]
            };
            for (r, c) in raw.iter_mut().zip(buffer.iter()) {
                *r = ValRaw::from_bytes(c.bytes);
            }
            // SAFETY: only numbers and vectors cross (checked above), and any bit pattern is a
            // value of those types; the length is checked by the call.
            let called = unsafe { func.call_unchecked(ctx.as_context_mut(), raw) };
            if called.is_ok() {
                for (c, r) in buffer.iter_mut().zip(raw.iter()) {
                    c.bytes = r.to_bytes();
                }
            }
            Ok(called)
        });
        match result {
            Err(misuse) => error(store, &misuse),
            Ok(Ok(())) => {
                if !trap.is_null() {
                    // SAFETY: C passes NULL or a place for the trap pointer.
                    unsafe { *trap = null_mut() };
                }
                null_mut()
            }
            // Whatever the call failed with (a wasm trap, a host function's error) is its trap.
            Ok(Err(err)) if !trap.is_null() => {
                // SAFETY: as above.
                unsafe { *trap = boxed(trap_from_error(store, &err)) };
                null_mut()
            }
            Ok(Err(err)) => error(store, &err),
        }
    })
}
