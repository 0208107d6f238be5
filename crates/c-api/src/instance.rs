//! Instances.

use crate::engine::{wasm_store_t, with_ctx};
use crate::module::module_of;
use crate::obj::{Kind, Obj};
use crate::trap::trap_from_error;
use crate::types::opt;
use crate::vec::{CVec, wasm_extern_vec_t};
use crate::{boxed, guard_with};
use kiln_rs::{Extern, Instance, Module};
use std::ptr::null_mut;

/// Records an instance made through the C API (for trap frames) and returns its handle.
pub(crate) fn instance_obj(store: *mut wasm_store_t, instance: Instance, module: &Module) -> Obj {
    with_ctx(store, |mut ctx| ctx.data_mut().instances.push((instance, module.clone())));
    Obj::new(store, Kind::Instance(instance))
}

/// Stores a trap for `err` in `*trap_out` (if given).
pub(crate) fn set_trap(store: *mut wasm_store_t, trap_out: *mut *mut Obj, err: &anyhow::Error) {
    if !trap_out.is_null() {
        // SAFETY: `trap_out` points at writable pointer storage.
        unsafe { trap_out.write(boxed(trap_from_error(store, err))) }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_instance_new(
    store: *mut wasm_store_t,
    module: *const Obj,
    imports: *const wasm_extern_vec_t,
    trap_out: *mut *mut Obj,
) -> *mut Obj {
    let fail = |msg: &str| {
        set_trap(store, trap_out, &anyhow::anyhow!("{msg}"));
        null_mut()
    };
    guard_with(
        || fail("instantiation panicked"),
        || {
            if !trap_out.is_null() {
                // SAFETY: as in `set_trap`.
                unsafe { trap_out.write(null_mut()) }
            }
            let Some(module) = module_of(module) else { return fail("wasm_instance_new: not a module") };
            if store.is_null() {
                return null_mut();
            }
            let mut externs: Vec<Extern> = Vec::new();
            for e in opt(imports).map_or(&[][..], |v| v.as_slice()) {
                match opt(*e).and_then(|e| e.to_extern()) {
                    Some(e) => externs.push(e),
                    None => return fail("wasm_instance_new: an import is NULL or not an extern"),
                }
            }
            match with_ctx(store, |ctx| Instance::new(ctx, module, &externs)) {
                Ok(instance) => boxed(instance_obj(store, instance, module)),
                Err(err) => {
                    set_trap(store, trap_out, &err);
                    null_mut()
                }
            }
        },
    )
}

/// The exports in the module's export order (exports wasm.h cannot express, tags, are left out).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_instance_exports(instance: *const Obj, out: *mut wasm_extern_vec_t) {
    crate::guard((), || {
        if out.is_null() {
            return;
        }
        let items = match opt(instance) {
            Some(Obj { store, kind: Kind::Instance(i), .. }) => with_ctx(*store, |mut ctx| {
                i.exports(&mut ctx)
                    .filter_map(|e| Obj::from_extern(*store, e.into_extern()))
                    .map(boxed)
                    .collect::<Vec<_>>()
            }),
            _ => Vec::new(),
        };
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(items)) }
    })
}
