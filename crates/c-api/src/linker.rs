//! kiln.h: `kiln_linker_t`, imports by name (define, host functions, instances, modules, WASI).

use crate::engine::{StoreData, wasm_engine_t, wasm_store_t, with_ctx};
use crate::error::{error, error_msg, guard_err, kiln_error_t, str_arg};
use crate::func::{CEnv, Callback, CallbackKind, wasm_func_callback_with_env_t};
use crate::instance::instance_obj;
use crate::module::module_of;
use crate::obj::{Kind, Obj};
use crate::trap::{HostTrap, trap_from_error};
use crate::types::{opt, take, wasm_functype_t};
use crate::{boxed, guard};
use kiln_rs::{Linker, Trap, WasmBacktrace};
use std::ffi::{c_char, c_void};
use std::ptr::null_mut;

/// Resolves imports by module and field name; usable with every store of its engine.
pub struct kiln_linker_t {
    pub linker: Linker<StoreData>,
}

fn linker<'a>(l: *mut kiln_linker_t) -> Option<&'a mut Linker<StoreData>> {
    // SAFETY: C passes NULL or a live linker it does not use concurrently.
    unsafe { l.as_mut() }.map(|l| &mut l.linker)
}

fn result(store: *mut wasm_store_t, r: anyhow::Result<()>) -> *mut kiln_error_t {
    match r {
        Ok(()) => null_mut(),
        Err(e) => error(store, &e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_new(engine: *const wasm_engine_t) -> *mut kiln_linker_t {
    guard(null_mut(), || opt(engine).map_or(null_mut(), |e| boxed(kiln_linker_t { linker: Linker::new(&e.engine) })))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_delete(l: *mut kiln_linker_t) {
    guard((), || drop(take(l)));
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_allow_shadowing(l: *mut kiln_linker_t, allow: bool) {
    guard((), || {
        if let Some(l) = linker(l) {
            l.allow_shadowing(allow);
        }
    })
}

/// Defines `module::name` as an extern of `store`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_define(
    l: *mut kiln_linker_t,
    store: *mut wasm_store_t,
    module: *const c_char,
    module_len: usize,
    name: *const c_char,
    name_len: usize,
    item: *const Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(l), Some(module), Some(name)) = (linker(l), str_arg(module, module_len), str_arg(name, name_len))
        else {
            return error_msg("kiln_linker_define: NULL linker or names not UTF-8");
        };
        let Some(item) = opt(item).and_then(|i| i.to_extern()) else {
            return error_msg("kiln_linker_define: not an extern");
        };
        if store.is_null() {
            return error_msg("kiln_linker_define: NULL store");
        }
        result(store, with_ctx(store, |ctx| l.define(&ctx, module, name, item).map(|_| ())))
    })
}

/// Defines `module::name` as a host function that any store can instantiate; `finalizer(env)`
/// runs when the linker is deleted (and every store that instantiated it is gone).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_define_func(
    l: *mut kiln_linker_t,
    module: *const c_char,
    module_len: usize,
    name: *const c_char,
    name_len: usize,
    ty: *const wasm_functype_t,
    callback: Option<wasm_func_callback_with_env_t>,
    env: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(l), Some(module), Some(name)) = (linker(l), str_arg(module, module_len), str_arg(name, name_len))
        else {
            return error_msg("kiln_linker_define_func: NULL linker or names not UTF-8");
        };
        let (Some(ty), Some(callback)) = (opt(ty).and_then(|t| t.func_ty()).cloned(), callback) else {
            return error_msg("kiln_linker_define_func: NULL type or callback");
        };
        let cb = Callback { kind: CallbackKind::WithEnv(callback), env: CEnv { ptr: env, finalizer } };
        let ty2 = ty.clone();
        result(
            null_mut(),
            l.func_new(module, name, ty, move |caller, params, results| cb.call(caller, &ty2, params, results))
                .map(|_| ()),
        )
    })
}

/// Defines every export of `instance` under `name`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_define_instance(
    l: *mut kiln_linker_t,
    store: *mut wasm_store_t,
    name: *const c_char,
    name_len: usize,
    instance: *const Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(l), Some(name)) = (linker(l), str_arg(name, name_len)) else {
            return error_msg("kiln_linker_define_instance: NULL linker or name not UTF-8");
        };
        let Some(Obj { kind: Kind::Instance(i), .. }) = opt(instance) else {
            return error_msg("kiln_linker_define_instance: not an instance");
        };
        result(store, with_ctx(store, |ctx| l.instance(ctx, name, *i).map(|_| ())))
    })
}

/// Defines the `wasi_snapshot_preview1` functions; they use the WASI context set on the store
/// with `kiln_store_set_wasi` (or a default one: no arguments, environment, files or stdio).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_define_wasi(l: *mut kiln_linker_t) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(l) = linker(l) else { return error_msg("kiln_linker_define_wasi: NULL linker") };
        result(
            null_mut(),
            kiln_wasi::add_to_linker(l, |d: &mut StoreData| {
                d.wasi.get_or_insert_with(|| kiln_wasi::WasiCtx::builder().build())
            }),
        )
    })
}

/// Whether an error from running wasm is a trap (as opposed to a link or validation error).
fn is_trap(e: &anyhow::Error) -> bool {
    e.is::<Trap>() || e.is::<HostTrap>() || e.is::<WasmBacktrace>() || e.is::<kiln_wasi::I32Exit>()
}

/// Instantiates `module`: on success `*instance_out` is set. A trap while running the start
/// function goes to `*trap_out` (NULL error); other failures are returned as an error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_instantiate(
    l: *mut kiln_linker_t,
    store: *mut wasm_store_t,
    module: *const Obj,
    instance_out: *mut *mut Obj,
    trap_out: *mut *mut Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(l), Some(module)) = (linker(l), module_of(module)) else {
            return error_msg("kiln_linker_instantiate: NULL linker or not a module");
        };
        if store.is_null() || instance_out.is_null() {
            return error_msg("kiln_linker_instantiate: NULL store or output");
        }
        if !trap_out.is_null() {
            // SAFETY: `trap_out` points at writable pointer storage.
            unsafe { trap_out.write(null_mut()) }
        }
        // SAFETY: `instance_out` points at writable pointer storage.
        unsafe { instance_out.write(null_mut()) }
        match with_ctx(store, |ctx| l.instantiate(ctx, module)) {
            Ok(i) => {
                // SAFETY: as above.
                unsafe { instance_out.write(boxed(instance_obj(store, i, module))) };
                null_mut()
            }
            Err(e) if is_trap(&e) && !trap_out.is_null() => {
                // SAFETY: as above.
                unsafe { trap_out.write(boxed(trap_from_error(store, &e))) };
                null_mut()
            }
            Err(e) => error(store, &e),
        }
    })
}

/// Instantiates `module` and defines its exports under `name` (module linking by name).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_module(
    l: *mut kiln_linker_t,
    store: *mut wasm_store_t,
    name: *const c_char,
    name_len: usize,
    module: *const Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(l), Some(name), Some(module)) = (linker(l), str_arg(name, name_len), module_of(module)) else {
            return error_msg("kiln_linker_module: NULL linker, bad name or not a module");
        };
        if store.is_null() {
            return error_msg("kiln_linker_module: NULL store");
        }
        result(store, with_ctx(store, |ctx| l.module(ctx, name, module).map(|_| ())))
    })
}

/// The item defined as `module::name` (an owned extern in `*out`), or false.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_linker_get(
    l: *mut kiln_linker_t,
    store: *mut wasm_store_t,
    module: *const c_char,
    module_len: usize,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut Obj,
) -> bool {
    guard(false, || {
        let (Some(l), Some(module), Some(name)) = (linker(l), str_arg(module, module_len), str_arg(name, name_len))
        else {
            return false;
        };
        if store.is_null() || out.is_null() {
            return false;
        }
        match with_ctx(store, |ctx| l.get(ctx, module, name)).and_then(|e| Obj::from_extern(store, e)) {
            Some(o) => {
                // SAFETY: `out` points at writable pointer storage.
                unsafe { out.write(boxed(o)) };
                true
            }
            None => false,
        }
    })
}
