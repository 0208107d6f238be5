//! Globals, tables and memories (standalone ones too).

use crate::engine::{wasm_store_t, with_ctx};
use crate::obj::{Kind, Obj};
use crate::types::{CExternType, opt, wasm_globaltype_t, wasm_memorytype_t, wasm_tabletype_t};
use crate::val::{null_of, ref_to_val, wasm_val_t};
use crate::{boxed, guard};
use kiln_rs::{Global, Memory, Table, Val, ValType};
use std::ptr::null_mut;

fn global_of(g: *const Obj) -> Option<(*mut wasm_store_t, Global)> {
    match opt(g)? {
        Obj { store, kind: Kind::Global(x), .. } => Some((*store, *x)),
        _ => None,
    }
}

fn table_of(t: *const Obj) -> Option<(*mut wasm_store_t, Table)> {
    match opt(t)? {
        Obj { store, kind: Kind::Table(x), .. } => Some((*store, *x)),
        _ => None,
    }
}

fn memory_of(m: *const Obj) -> Option<(*mut wasm_store_t, Memory)> {
    match opt(m)? {
        Obj { store, kind: Kind::Memory(x), .. } => Some((*store, *x)),
        _ => None,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_global_new(
    store: *mut wasm_store_t,
    ty: *const wasm_globaltype_t,
    val: *const wasm_val_t,
) -> *mut Obj {
    guard(null_mut(), || {
        let (Some(ty), Some(val)) = (opt(ty).and_then(|t| t.global_ty()), opt(val)) else { return null_mut() };
        if store.is_null() {
            return null_mut();
        }
        let made = with_ctx(store, |mut ctx| {
            let v = val.to_val(&mut ctx, ty.content())?;
            Global::new(ctx, *ty, v)
        });
        made.map_or(null_mut(), |g| boxed(Obj::new(store, Kind::Global(g))))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_global_type(g: *const Obj) -> *mut CExternType {
    guard(null_mut(), || {
        let Some((store, g)) = global_of(g) else { return null_mut() };
        boxed(CExternType::global(with_ctx(store, |ctx| g.ty(&ctx))))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_global_get(g: *const Obj, out: *mut wasm_val_t) {
    guard((), || {
        let Some((store, g)) = global_of(g) else { return };
        if out.is_null() {
            return;
        }
        let v = with_ctx(store, |mut ctx| {
            let v = g.get(&mut ctx);
            wasm_val_t::from_val(store, &mut ctx, &v)
        });
        if let Ok(v) = v {
            // SAFETY: `out` points at writable value storage.
            unsafe { out.write(v) }
        }
    })
}

/// Sets a mutable global; a wrong kind, or an immutable global, leaves it unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_global_set(g: *mut Obj, val: *const wasm_val_t) {
    guard((), || {
        let (Some((store, g)), Some(val)) = (global_of(g), opt(val)) else { return };
        let _ = with_ctx(store, |mut ctx| {
            let ty = g.ty(&ctx);
            let v = val.to_val(&mut ctx, ty.content())?;
            g.set(&mut ctx, v)
        });
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_new(
    store: *mut wasm_store_t,
    ty: *const wasm_tabletype_t,
    init: *mut Obj,
) -> *mut Obj {
    guard(null_mut(), || {
        let Some(ty) = opt(ty).and_then(|t| t.table_ty()) else { return null_mut() };
        if store.is_null() {
            return null_mut();
        }
        let made = with_ctx(store, |mut ctx| {
            let init = ref_to_val(&mut ctx, init, &ValType::Ref(ty.element()))?;
            Table::new(ctx, *ty, init)
        });
        made.map_or(null_mut(), |t| boxed(Obj::new(store, Kind::Table(t))))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_type(t: *const Obj) -> *mut CExternType {
    guard(null_mut(), || {
        let Some((store, t)) = table_of(t) else { return null_mut() };
        boxed(CExternType::table(with_ctx(store, |ctx| t.ty(&ctx))))
    })
}

/// The element at `index`: NULL for a null element or an index out of bounds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_get(t: *const Obj, index: u32) -> *mut Obj {
    guard(null_mut(), || {
        let Some((store, t)) = table_of(t) else { return null_mut() };
        with_ctx(store, |mut ctx| match t.get(&mut ctx, u64::from(index)) {
            Some(v @ (Val::FuncRef(Some(_)) | Val::ExternRef(Some(_)) | Val::AnyRef(Some(_)))) => {
                wasm_val_t::from_val(store, &mut ctx, &v).map_or(null_mut(), |v| v.ref_ptr())
            }
            _ => null_mut(),
        })
    })
}

fn table_init(
    ctx: &mut kiln_rs::StoreContextMut<'_, crate::engine::StoreData>,
    t: Table,
    r: *const Obj,
) -> anyhow::Result<Val> {
    let ty = t.ty(&*ctx);
    if r.is_null() {
        return Ok(null_of(ty.element()));
    }
    ref_to_val(ctx, r, &ValType::Ref(ty.element()))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_set(t: *mut Obj, index: u32, r: *mut Obj) -> bool {
    guard(false, || {
        let Some((store, t)) = table_of(t) else { return false };
        with_ctx(store, |mut ctx| {
            let v = table_init(&mut ctx, t, r)?;
            t.set(&mut ctx, u64::from(index), v)
        })
        .is_ok()
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_size(t: *const Obj) -> u32 {
    guard(0, || {
        let Some((store, t)) = table_of(t) else { return 0 };
        u32::try_from(with_ctx(store, |ctx| t.size(&ctx))).unwrap_or(u32::MAX)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_table_grow(t: *mut Obj, delta: u32, init: *mut Obj) -> bool {
    guard(false, || {
        let Some((store, t)) = table_of(t) else { return false };
        with_ctx(store, |mut ctx| {
            let v = table_init(&mut ctx, t, init)?;
            t.grow(&mut ctx, u64::from(delta), v)
        })
        .is_ok()
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_new(store: *mut wasm_store_t, ty: *const wasm_memorytype_t) -> *mut Obj {
    guard(null_mut(), || {
        let Some(ty) = opt(ty).and_then(|t| t.memory_ty()) else { return null_mut() };
        if store.is_null() {
            return null_mut();
        }
        with_ctx(store, |ctx| Memory::new(ctx, *ty)).map_or(null_mut(), |m| boxed(Obj::new(store, Kind::Memory(m))))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_type(m: *const Obj) -> *mut CExternType {
    guard(null_mut(), || {
        let Some((store, m)) = memory_of(m) else { return null_mut() };
        boxed(CExternType::memory(with_ctx(store, |ctx| m.ty(&ctx))))
    })
}

/// The memory's bytes; valid until the memory grows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_data(m: *mut Obj) -> *mut u8 {
    guard(null_mut(), || {
        let Some((store, m)) = memory_of(m) else { return null_mut() };
        with_ctx(store, |ctx| m.data_mut(ctx).as_mut_ptr())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_data_size(m: *const Obj) -> usize {
    guard(0, || {
        let Some((store, m)) = memory_of(m) else { return 0 };
        with_ctx(store, |ctx| m.data_size(&ctx))
    })
}

/// The size in pages (of the memory's page size; 64 KiB unless custom page sizes are used).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_size(m: *const Obj) -> u32 {
    guard(0, || {
        let Some((store, m)) = memory_of(m) else { return 0 };
        u32::try_from(with_ctx(store, |ctx| m.size(&ctx))).unwrap_or(u32::MAX)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memory_grow(m: *mut Obj, delta: u32) -> bool {
    guard(false, || {
        let Some((store, m)) = memory_of(m) else { return false };
        with_ctx(store, |mut ctx| m.grow(&mut ctx, u64::from(delta))).is_ok()
    })
}
