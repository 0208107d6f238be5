//! Modules: validate, compile, imports/exports, serialize/deserialize, share/obtain.

use crate::engine::{wasm_store_t, with_ctx};
use crate::obj::{Kind, Obj};
use crate::types::{CExternType, opt, take, wasm_exporttype_t, wasm_importtype_t};
use crate::vec::{CVec, wasm_byte_vec_t, wasm_exporttype_vec_t, wasm_importtype_vec_t};
use crate::{boxed, guard};
use kiln_rs::{Engine, Module};
use std::ptr::null_mut;
use std::rc::Rc;

/// A module that can move to another thread and be obtained in a store there.
pub struct wasm_shared_module_t {
    pub module: Module,
}

pub(crate) fn module_of(m: *const Obj) -> Option<&'static Module> {
    match &opt(m)?.kind {
        // SAFETY: the module lives as long as its handle, which C keeps alive while using it.
        Kind::Module(module) => Some(unsafe { &*Rc::as_ptr(module) }),
        _ => None,
    }
}

fn engine_of(store: *mut wasm_store_t) -> Option<Engine> {
    if store.is_null() {
        return None;
    }
    Some(with_ctx(store, |ctx| ctx.engine().clone()))
}

pub(crate) fn module_obj(store: *mut wasm_store_t, module: Module) -> Obj {
    Obj::new(store, Kind::Module(Rc::new(module)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_new(store: *mut wasm_store_t, binary: *const wasm_byte_vec_t) -> *mut Obj {
    guard(null_mut(), || {
        let (Some(engine), Some(binary)) = (engine_of(store), opt(binary)) else { return null_mut() };
        match Module::from_binary(&engine, binary.as_slice()) {
            Ok(module) => boxed(module_obj(store, module)),
            Err(_) => null_mut(),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_validate(store: *mut wasm_store_t, binary: *const wasm_byte_vec_t) -> bool {
    guard(false, || {
        let (Some(engine), Some(binary)) = (engine_of(store), opt(binary)) else { return false };
        Module::validate(&engine, binary.as_slice()).is_ok()
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_imports(module: *const Obj, out: *mut wasm_importtype_vec_t) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let items = module_of(module).map_or_else(Vec::new, |m| {
            m.imports()
                .filter_map(|i| {
                    let ty = CExternType::from_extern(i.ty())?;
                    Some(boxed(wasm_importtype_t::new(i.module(), i.name(), ty)))
                })
                .collect()
        });
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(items)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_exports(module: *const Obj, out: *mut wasm_exporttype_vec_t) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let items = module_of(module).map_or_else(Vec::new, |m| {
            m.exports()
                .filter_map(|e| Some(boxed(wasm_exporttype_t::new(e.name(), CExternType::from_extern(e.ty())?))))
                .collect()
        });
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(items)) }
    })
}

/// kiln's precompiled format (`.cwasm`); an empty vector on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_serialize(module: *const Obj, out: *mut wasm_byte_vec_t) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let bytes = module_of(module).and_then(|m| m.serialize().ok()).unwrap_or_default();
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(bytes)) }
    })
}

/// Loads what `wasm_module_serialize` wrote, with the same compatibility checks as a `.cwasm`
/// file (format version, kiln version, engine configuration, checksum): NULL if any fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_deserialize(store: *mut wasm_store_t, bytes: *const wasm_byte_vec_t) -> *mut Obj {
    guard(null_mut(), || {
        let (Some(engine), Some(bytes)) = (engine_of(store), opt(bytes)) else { return null_mut() };
        // SAFETY: the bytes run as machine code; wasm.h's contract is that they come from
        // `wasm_module_serialize`. kiln checks the header and checksum before using them.
        match unsafe { Module::deserialize(&engine, bytes.as_slice()) } {
            Ok(module) => boxed(module_obj(store, module)),
            Err(_) => null_mut(),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_share(module: *const Obj) -> *mut wasm_shared_module_t {
    guard(null_mut(), || module_of(module).map_or(null_mut(), |m| boxed(wasm_shared_module_t { module: m.clone() })))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_module_obtain(store: *mut wasm_store_t, shared: *const wasm_shared_module_t) -> *mut Obj {
    guard(null_mut(), || {
        let (Some(engine), Some(shared)) = (engine_of(store), opt(shared)) else { return null_mut() };
        if !Engine::same(&engine, shared.module.engine()) {
            return null_mut();
        }
        boxed(module_obj(store, shared.module.clone()))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_shared_module_delete(shared: *mut wasm_shared_module_t) {
    guard((), || drop(take(shared)));
}
