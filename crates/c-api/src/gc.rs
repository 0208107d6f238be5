//! kiln/gc.h: the GC proposal's references for C. Values of the `any` hierarchy travel in
//! `wasm_val_t` with kind `KILN_ANYREF`, their `of.ref` a `wasm_ref_t` that keeps the object alive
//! until C deletes it (an owned root). Struct and array types are made from field descriptions;
//! objects are allocated, read and written through them.

use crate::engine::{wasm_engine_t, wasm_store_t, with_ctx};
use crate::error::{error, error_msg, guard_err, kiln_error_t};
use crate::obj::{Kind, Obj};
use crate::types::{opt, valtype_of_kind};
use crate::val::wasm_val_t;
use crate::{boxed, guard};
use anyhow::{Result, bail};
use kiln_rs::{
    AnyRef, ArrayRef, ArrayType, AsContextMut, FieldType, I31, Mutability, StorageType, StoreContextMut, StructRef,
    StructType, Val, ValType,
};
use std::ptr::null_mut;

/// `storage` of a [`kiln_field_type_t`]: an 8-bit packed field.
pub const KILN_STORAGE_I8: u8 = 0xF0;
/// `storage` of a [`kiln_field_type_t`]: a 16-bit packed field.
pub const KILN_STORAGE_I16: u8 = 0xF1;

/// A field of a struct type, or an array's element: its storage (a value kind, or
/// `KILN_STORAGE_I8` / `KILN_STORAGE_I16`) and whether it is mutable. Reference kinds mean the
/// nullable abstract type (`externref`, `funcref`, `anyref`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct kiln_field_type_t {
    pub storage: u8,
    pub mutable_: bool,
}

/// A struct type of an engine.
pub struct kiln_struct_type_t {
    ty: StructType,
}

/// An array type of an engine.
pub struct kiln_array_type_t {
    ty: ArrayType,
}

fn field_type(f: &kiln_field_type_t) -> Result<FieldType> {
    let storage = match f.storage {
        KILN_STORAGE_I8 => StorageType::I8,
        KILN_STORAGE_I16 => StorageType::I16,
        kind => match valtype_of_kind(kind) {
            Some(ty) => StorageType::ValType(ty),
            None => bail!("unknown field storage {kind}"),
        },
    };
    let mutability = if f.mutable_ { Mutability::Var } else { Mutability::Const };
    Ok(FieldType::new(mutability, storage))
}

fn slice<'a, T>(ptr: *const T, len: usize) -> Option<&'a [T]> {
    if len == 0 {
        return Some(&[]);
    }
    // SAFETY: C lends `len` readable items at `ptr` when it is not NULL.
    (!ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A struct type with `len` fields; NULL for an unknown storage kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_struct_type_new(
    engine: *const wasm_engine_t,
    fields: *const kiln_field_type_t,
    len: usize,
) -> *mut kiln_struct_type_t {
    guard(null_mut(), || {
        let (Some(engine), Some(fields)) = (opt(engine), slice(fields, len)) else { return null_mut() };
        let Ok(fields) = fields.iter().map(field_type).collect::<Result<Vec<_>>>() else { return null_mut() };
        StructType::new(&engine.engine, fields).map_or(null_mut(), |ty| boxed(kiln_struct_type_t { ty }))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_struct_type_delete(ty: *mut kiln_struct_type_t) {
    guard((), || drop(crate::types::take(ty)))
}

/// An array type; NULL for an unknown storage kind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_array_type_new(
    engine: *const wasm_engine_t,
    element: *const kiln_field_type_t,
) -> *mut kiln_array_type_t {
    guard(null_mut(), || {
        let (Some(engine), Some(element)) = (opt(engine), opt(element)) else { return null_mut() };
        let Ok(element) = field_type(element) else { return null_mut() };
        ArrayType::new(&engine.engine, element).map_or(null_mut(), |ty| boxed(kiln_array_type_t { ty }))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_array_type_delete(ty: *mut kiln_array_type_t) {
    guard((), || drop(crate::types::take(ty)))
}

/// Writes `result`'s value to `out` and returns NULL, or returns its error.
fn give<T>(store: *mut wasm_store_t, out: *mut T, result: Result<T>) -> *mut kiln_error_t {
    match result {
        Ok(v) => {
            // SAFETY: the entry points check that `out` points at writable storage.
            unsafe { out.write(v) };
            null_mut()
        }
        Err(e) => error(store, &e),
    }
}

/// A `KILN_ANYREF` value holding `r` (NULL: the null reference), rooted while C holds it.
fn anyref_val(
    store: *mut wasm_store_t,
    ctx: &mut StoreContextMut<'_, crate::engine::StoreData>,
    r: AnyRef,
) -> Result<wasm_val_t> {
    wasm_val_t::from_val(store, ctx, &Val::AnyRef(Some(r)))
}

/// The reference in a `KILN_ANYREF` handle, rooted in the current scope.
fn anyref_of(ctx: &mut StoreContextMut<'_, crate::engine::StoreData>, r: *const Obj) -> Result<AnyRef> {
    match opt(r).map(|o| &o.kind) {
        Some(Kind::Any(owned)) => owned.to_rooted(ctx.as_context_mut()),
        Some(_) => bail!("not an anyref (a reference of the `any` hierarchy)"),
        None => bail!("null reference"),
    }
}

/// Values in C for a field of type `ty`: packed fields and numbers as their kinds (packed fields
/// as `WASM_I32`), references as `wasm_val_t` references.
fn vals_of(
    ctx: &mut StoreContextMut<'_, crate::engine::StoreData>,
    values: &[wasm_val_t],
    types: impl Iterator<Item = FieldType>,
) -> Result<Vec<Val>> {
    values
        .iter()
        .zip(types)
        .map(|(v, f)| {
            let ty = match f.element_type() {
                StorageType::I8 | StorageType::I16 => ValType::I32,
                StorageType::ValType(t) => t,
            };
            v.to_val(ctx, &ty)
        })
        .collect()
}

/// An i31 reference of the low 31 bits of `value`, into *out (`KILN_ANYREF`, caller-owned).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_anyref_from_i31(store: *mut wasm_store_t, value: u32, out: *mut wasm_val_t) -> bool {
    guard(false, || {
        if store.is_null() || out.is_null() {
            return false;
        }
        let made = with_ctx(store, |mut ctx| anyref_val(store, &mut ctx, AnyRef::from_i31(I31::wrapping_u32(value))));
        match made {
            Ok(v) => {
                // SAFETY: `out` points at writable value storage.
                unsafe { out.write(v) };
                true
            }
            Err(_) => false,
        }
    })
}

/// Whether `r` (a `KILN_ANYREF` value's reference) is an i31; its value, zero- or sign-extended,
/// into *unsigned_out and *signed_out (either may be NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_anyref_i31_get(r: *const Obj, unsigned_out: *mut u32, signed_out: *mut i32) -> bool {
    guard(false, || {
        let Some(Kind::Any(owned)) = opt(r).map(|o| &o.kind) else { return false };
        let store = opt(r).map_or(null_mut(), |o| o.store);
        let Ok(Some(i31)) = with_ctx(store, |mut ctx| owned.to_rooted(&mut ctx).map(|a| a.as_i31())) else {
            return false;
        };
        // SAFETY: each is NULL or points at writable storage.
        unsafe {
            if let Some(out) = unsigned_out.as_mut() {
                *out = i31.get_u32();
            }
            if let Some(out) = signed_out.as_mut() {
                *out = i31.get_i32();
            }
        }
        true
    })
}

/// Whether `r` is a struct (`is_array` false) or an array (`is_array` true) of its store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_anyref_is(r: *const Obj, is_array: bool) -> bool {
    guard(false, || {
        let Some(obj) = opt(r) else { return false };
        let Kind::Any(_) = &obj.kind else { return false };
        with_ctx(obj.store, |mut ctx| {
            let a = anyref_of(&mut ctx, r)?;
            if is_array { a.is_array(&ctx) } else { a.is_struct(&ctx) }
        })
        .unwrap_or(false)
    })
}

/// A struct of type `ty` with `len` field values (packed fields as `WASM_I32`, truncated), into
/// *out (`KILN_ANYREF`, caller-owned).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_structref_new(
    store: *mut wasm_store_t,
    ty: *const kiln_struct_type_t,
    fields: *const wasm_val_t,
    len: usize,
    out: *mut wasm_val_t,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(ty), Some(fields)) = (opt(ty), slice(fields, len)) else {
            return error_msg("kiln_structref_new: NULL type or fields");
        };
        if store.is_null() || out.is_null() {
            return error_msg("kiln_structref_new: NULL store or out");
        }
        if fields.len() != ty.ty.fields().len() {
            return error_msg(format!(
                "kiln_structref_new: the type has {} fields, {} values given",
                ty.ty.fields().len(),
                fields.len()
            ));
        }
        let made = with_ctx(store, |mut ctx| {
            let vals = vals_of(&mut ctx, fields, ty.ty.fields().iter().copied())?;
            let s = StructRef::new(&mut ctx, &ty.ty, &vals)?;
            anyref_val(store, &mut ctx, s.to_anyref())
        });
        give(store, out, made)
    })
}

/// Reads field `index` of struct `r` into *out (caller-owned; packed fields zero-extended).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_structref_field(r: *const Obj, index: usize, out: *mut wasm_val_t) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(obj) = opt(r) else { return error_msg("kiln_structref_field: NULL reference") };
        if out.is_null() {
            return error_msg("kiln_structref_field: NULL out");
        }
        let store = obj.store;
        let read = with_ctx(store, |mut ctx| {
            let Some(s) = anyref_of(&mut ctx, r)?.as_struct(&ctx)? else { bail!("not a struct") };
            let v = s.field(&mut ctx, index)?;
            wasm_val_t::from_val(store, &mut ctx, &v)
        });
        give(store, out, read)
    })
}

/// Writes `value` to field `index` of struct `r` (which must be mutable).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_structref_set_field(
    r: *const Obj,
    index: usize,
    value: *const wasm_val_t,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(obj), Some(value)) = (opt(r), opt(value)) else {
            return error_msg("kiln_structref_set_field: NULL reference or value");
        };
        let store = obj.store;
        with_ctx(store, |mut ctx| {
            let Some(s) = anyref_of(&mut ctx, r)?.as_struct(&ctx)? else { bail!("not a struct") };
            let Some(field) = s.ty(&ctx)?.field(index) else { bail!("struct field index {index} out of bounds") };
            let v = vals_of(&mut ctx, std::slice::from_ref(value), std::iter::once(field))?.remove(0);
            s.set_field(&mut ctx, index, v)
        })
        .map_or_else(|e| error(store, &e), |()| null_mut())
    })
}

/// An array of type `ty` with `len` copies of `element`, into *out (`KILN_ANYREF`, caller-owned).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_arrayref_new(
    store: *mut wasm_store_t,
    ty: *const kiln_array_type_t,
    element: *const wasm_val_t,
    len: u32,
    out: *mut wasm_val_t,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(ty), Some(element)) = (opt(ty), opt(element)) else {
            return error_msg("kiln_arrayref_new: NULL type or element");
        };
        if store.is_null() || out.is_null() {
            return error_msg("kiln_arrayref_new: NULL store or out");
        }
        let made = with_ctx(store, |mut ctx| {
            let v = vals_of(&mut ctx, std::slice::from_ref(element), std::iter::once(ty.ty.element_type()))?.remove(0);
            let a = ArrayRef::new(&mut ctx, &ty.ty, &v, len)?;
            anyref_val(store, &mut ctx, a.to_anyref())
        });
        give(store, out, made)
    })
}

/// The length of array `r` into *out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_arrayref_len(r: *const Obj, out: *mut u32) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(obj) = opt(r) else { return error_msg("kiln_arrayref_len: NULL reference") };
        if out.is_null() {
            return error_msg("kiln_arrayref_len: NULL out");
        }
        let store = obj.store;
        let result = with_ctx(store, |mut ctx| {
            let Some(a) = anyref_of(&mut ctx, r)?.as_array(&ctx)? else { bail!("not an array") };
            a.len(&ctx)
        });
        give(store, out, result)
    })
}

/// Reads element `index` of array `r` into *out (caller-owned; packed elements zero-extended).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_arrayref_get(r: *const Obj, index: u32, out: *mut wasm_val_t) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(obj) = opt(r) else { return error_msg("kiln_arrayref_get: NULL reference") };
        if out.is_null() {
            return error_msg("kiln_arrayref_get: NULL out");
        }
        let store = obj.store;
        let result = with_ctx(store, |mut ctx| {
            let Some(a) = anyref_of(&mut ctx, r)?.as_array(&ctx)? else { bail!("not an array") };
            let v = a.get(&mut ctx, index)?;
            wasm_val_t::from_val(store, &mut ctx, &v)
        });
        give(store, out, result)
    })
}

/// Writes `value` to element `index` of array `r` (whose elements must be mutable).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_arrayref_set(r: *const Obj, index: u32, value: *const wasm_val_t) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(obj), Some(value)) = (opt(r), opt(value)) else {
            return error_msg("kiln_arrayref_set: NULL reference or value");
        };
        let store = obj.store;
        with_ctx(store, |mut ctx| {
            let Some(a) = anyref_of(&mut ctx, r)?.as_array(&ctx)? else { bail!("not an array") };
            let element = a.ty(&ctx)?.element_type();
            let v = vals_of(&mut ctx, std::slice::from_ref(value), std::iter::once(element))?.remove(0);
            a.set(&mut ctx, index, v)
        })
        .map_or_else(|e| error(store, &e), |()| null_mut())
    })
}
