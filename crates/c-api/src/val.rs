//! `wasm_val_t` and conversions between it and [`kiln_rs::Val`].

use crate::engine::{StoreData, wasm_store_t};
use crate::obj::{Kind, Obj};
use crate::types::{
    KILN_ANYREF, KILN_EXNREF, KILN_V128, WASM_EXTERNREF, WASM_F32, WASM_F64, WASM_FUNCREF, WASM_I32, WASM_I64, kind_of,
    opt,
};
use crate::{boxed, guard};
use anyhow::{Result, bail};
use kiln_rs::{AsContextMut, ExternRef, OwnedRooted, RefType, StoreContext, StoreContextMut, Val, ValRaw, ValType};
use std::ptr::null_mut;

#[repr(C)]
#[derive(Clone, Copy)]
pub union wasm_val_union {
    pub i32: i32,
    pub i64: i64,
    pub f32: f32,
    pub f64: f64,
    pub ref_: *mut Obj,
}

/// A value; for reference kinds `of.ref_` is an owned handle, NULL for a null reference.
#[repr(C)]
pub struct wasm_val_t {
    pub kind: u8,
    pub of: wasm_val_union,
}

/// The payload kiln keeps for an `externref` that C passed into wasm: the handle itself, so the
/// same object comes back out.
struct RefPayload(Obj);
// SAFETY: a store, with its externrefs, is used by one thread at a time.
unsafe impl Send for RefPayload {}
// SAFETY: as above.
unsafe impl Sync for RefPayload {}

impl wasm_val_t {
    pub fn i32(v: i32) -> wasm_val_t {
        wasm_val_t { kind: WASM_I32, of: wasm_val_union { i32: v } }
    }

    /// The raw value of a number of type `ty`; `None` for another kind or a non-number.
    pub fn to_raw_number(&self, ty: &ValType) -> Option<ValRaw> {
        // SAFETY: the kind, checked against the type, says which field is live.
        unsafe {
            match (self.kind, ty) {
                (WASM_I32, ValType::I32) => Some(ValRaw::i32(self.of.i32)),
                (WASM_I64, ValType::I64) => Some(ValRaw::i64(self.of.i64)),
                (WASM_F32, ValType::F32) => Some(ValRaw::f32(self.of.f32.to_bits())),
                (WASM_F64, ValType::F64) => Some(ValRaw::f64(self.of.f64.to_bits())),
                _ => None,
            }
        }
    }

    /// The number of type `ty` in `raw`; `None` if `ty` is not a number type.
    pub fn from_raw_number(raw: ValRaw, ty: &ValType) -> Option<wasm_val_t> {
        Some(match ty {
            ValType::I32 => wasm_val_t { kind: WASM_I32, of: wasm_val_union { i32: raw.get_i32() } },
            ValType::I64 => wasm_val_t { kind: WASM_I64, of: wasm_val_union { i64: raw.get_i64() } },
            ValType::F32 => wasm_val_t { kind: WASM_F32, of: wasm_val_union { f32: f32::from_bits(raw.get_f32()) } },
            ValType::F64 => wasm_val_t { kind: WASM_F64, of: wasm_val_union { f64: f64::from_bits(raw.get_f64()) } },
            _ => return None,
        })
    }

    fn is_ref(&self) -> bool {
        matches!(self.kind, WASM_EXTERNREF | WASM_FUNCREF | KILN_ANYREF | KILN_EXNREF)
    }

    pub fn ref_ptr(&self) -> *mut Obj {
        // SAFETY: reference kinds hold the `ref_` field.
        if self.is_ref() { unsafe { self.of.ref_ } } else { null_mut() }
    }

    pub fn deep_copy(&self) -> wasm_val_t {
        if self.is_ref() {
            let r = opt(self.ref_ptr()).map_or(null_mut(), |o| boxed(o.clone()));
            wasm_val_t { kind: self.kind, of: wasm_val_union { ref_: r } }
        } else {
            wasm_val_t { kind: self.kind, of: self.of }
        }
    }

    /// Frees the reference a value owns.
    pub fn drop_ref(self) {
        drop(crate::types::take(self.ref_ptr()));
    }

    /// Converts to a kiln value of type `ty`, failing on a kind mismatch.
    pub fn to_val(&self, ctx: &mut StoreContextMut<'_, StoreData>, ty: &ValType) -> Result<Val> {
        if self.kind != kind_of(ty) || self.kind == KILN_V128 || self.kind == KILN_EXNREF {
            bail!("value of kind {} where kind {} ({ty}) is expected", self.kind, kind_of(ty));
        }
        // SAFETY: each arm reads the union field its kind selects.
        Ok(unsafe {
            match self.kind {
                WASM_I32 => Val::I32(self.of.i32),
                WASM_I64 => Val::I64(self.of.i64),
                WASM_F32 => Val::F32(self.of.f32.to_bits()),
                WASM_F64 => Val::F64(self.of.f64.to_bits()),
                _ => ref_to_val(ctx, self.of.ref_, ty)?,
            }
        })
    }

    /// Converts from a kiln value (which must not be a `v128`).
    pub fn from_val(store: *mut wasm_store_t, ctx: &mut StoreContextMut<'_, StoreData>, v: &Val) -> Result<wasm_val_t> {
        let ref_val = |kind: u8, obj: Option<Obj>| wasm_val_t {
            kind,
            of: wasm_val_union { ref_: obj.map_or(null_mut(), boxed) },
        };
        Ok(match v {
            Val::I32(x) => wasm_val_t { kind: WASM_I32, of: wasm_val_union { i32: *x } },
            Val::I64(x) => wasm_val_t { kind: WASM_I64, of: wasm_val_union { i64: *x } },
            Val::F32(x) => wasm_val_t { kind: WASM_F32, of: wasm_val_union { f32: f32::from_bits(*x) } },
            Val::F64(x) => wasm_val_t { kind: WASM_F64, of: wasm_val_union { f64: f64::from_bits(*x) } },
            Val::FuncRef(f) => ref_val(WASM_FUNCREF, f.map(|f| Obj::new(store, Kind::Func(f)))),
            Val::ExternRef(r) => ref_val(WASM_EXTERNREF, r.map(|r| externref_obj(store, ctx, r)).transpose()?),
            Val::AnyRef(r) => {
                let obj = r.map(|r| OwnedRooted::new(ctx.as_context_mut(), &r).map(|o| Obj::new(store, Kind::Any(o))));
                ref_val(KILN_ANYREF, obj.transpose()?)
            }
            Val::V128(_) => bail!("a v128 value cannot be expressed as a wasm_val_t"),
            Val::ExnRef(_) => bail!("an exnref value cannot be expressed as a wasm_val_t"),
        })
    }
}

/// The handle an externref stands for.
pub(crate) fn externref_obj(
    store: *mut wasm_store_t,
    ctx: &mut StoreContextMut<'_, StoreData>,
    r: ExternRef,
) -> Result<Obj> {
    let data = r.data(StoreContext::from(ctx.as_context_mut()));
    Ok(match data.downcast_ref::<RefPayload>() {
        Some(RefPayload(obj)) => obj.clone(),
        None => Obj::new(store, Kind::HostRef(r, OwnedRooted::new(ctx.as_context_mut(), &r)?)),
    })
}

/// A kiln reference value of type `ty` for a handle (NULL: the null reference).
pub(crate) fn ref_to_val(ctx: &mut StoreContextMut<'_, StoreData>, r: *const Obj, ty: &ValType) -> Result<Val> {
    let ref_ty = match ty {
        ValType::Ref(r) => *r,
        _ => bail!("{ty} is not a reference type"),
    };
    let Some(obj) = opt(r) else {
        if !ref_ty.is_nullable() {
            bail!("null reference where {ty} is expected");
        }
        return Ok(Val::null_ref(ref_ty));
    };
    match kind_of(ty) {
        WASM_FUNCREF => match obj.kind {
            Kind::Func(f) => Ok(Val::FuncRef(Some(f))),
            _ => bail!("a funcref must be a function"),
        },
        KILN_ANYREF => match &obj.kind {
            Kind::Any(r) => {
                let r = r.to_rooted(ctx.as_context_mut())?;
                let v = Val::AnyRef(Some(r));
                if !v.matches_ty(ty) {
                    bail!("the reference is not a {ty}");
                }
                Ok(v)
            }
            _ => bail!("an anyref must be a reference of the `any` hierarchy (kiln_anyref_* functions make them)"),
        },
        _ => match &obj.kind {
            Kind::HostRef(_, r) => Ok(Val::ExternRef(Some(r.to_rooted(ctx.as_context_mut())?))),
            _ => Ok(Val::ExternRef(Some(ExternRef::new(ctx.as_context_mut(), RefPayload(obj.clone()))))),
        },
    }
}

/// The null value of a reference type, for table initializers.
pub(crate) fn null_of(ty: RefType) -> Val {
    Val::null_ref(ty)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_val_delete(v: *mut wasm_val_t) {
    guard((), || {
        // SAFETY: `v` is NULL or a live value C owns; its reference is freed and cleared.
        if let Some(v) = unsafe { v.as_mut() } {
            drop(crate::types::take(v.ref_ptr()));
            if v.is_ref() {
                v.of.ref_ = null_mut();
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_val_copy(out: *mut wasm_val_t, src: *const wasm_val_t) {
    guard((), || {
        if let (false, Some(src)) = (out.is_null(), opt(src)) {
            // SAFETY: `out` points at writable value storage.
            unsafe { out.write(src.deep_copy()) }
        }
    })
}
