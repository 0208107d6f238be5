//! Functions: host functions from C callbacks, calls into wasm.

use crate::engine::{StoreData, wasm_store_t, with_caller, with_ctx};
use crate::obj::{Kind, Obj};
use crate::trap::{HostTrap, trap_data, trap_from_error, trap_msg};
use crate::types::{CExternType, opt, take, wasm_functype_t};
use crate::val::wasm_val_t;
use crate::vec::{CVec, wasm_val_vec_t};
use crate::{boxed, guard, guard_with};
use anyhow::{Result, anyhow};
use kiln_rs::{AsContextMut, Caller, Func, FuncType, StoreContextMut, Val};
use std::ffi::c_void;
use std::ptr::null_mut;

pub type wasm_func_callback_t = unsafe extern "C" fn(*const wasm_val_vec_t, *mut wasm_val_vec_t) -> *mut Obj;
pub type wasm_func_callback_with_env_t =
    unsafe extern "C" fn(*mut c_void, *const wasm_val_vec_t, *mut wasm_val_vec_t) -> *mut Obj;

/// A C callback with its environment; the finalizer runs when the function is dropped (with
/// its store, or with the linker that defines it).
pub(crate) struct Callback {
    pub kind: CallbackKind,
    pub env: *mut c_void,
    pub finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
}

pub(crate) enum CallbackKind {
    Plain(wasm_func_callback_t),
    WithEnv(wasm_func_callback_with_env_t),
}

// SAFETY: the C API's contract: a callback and its environment may be called from any thread
// that uses the store (or, for linker functions, any store) they are attached to.
unsafe impl Send for Callback {}
// SAFETY: as above.
unsafe impl Sync for Callback {}

impl Drop for Callback {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: C registered this finalizer for this environment.
            unsafe { finalizer(self.env) }
        }
    }
}

impl Callback {
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
            CallbackKind::WithEnv(f) => unsafe { f(self.env, &args, &mut out) },
        });
        drop(args);
        if let Some(trap) = take(trap) {
            let err = match trap_data(&*trap) {
                Some(data) => match data.exit_status {
                    Some(status) => anyhow::Error::new(kiln_wasi::I32Exit(status)),
                    None => anyhow::Error::new(HostTrap(data.message.clone())),
                },
                None => anyhow!("host function returned a non-trap object as its trap"),
            };
            return Err(err);
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
    let func = with_ctx(store, |ctx| {
        Func::new(ctx, ty, move |caller, params, results| cb.call(caller, &ty2, params, results))
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
        new_func(store, ty, Callback { kind: CallbackKind::Plain(callback), env: null_mut(), finalizer: None })
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
        new_func(store, ty, Callback { kind: CallbackKind::WithEnv(callback), env, finalizer })
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
