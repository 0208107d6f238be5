//! Type objects: `wasm_valtype_t`, and one [`CExternType`] behind every other type handle
//! (`wasm_functype_t`, `wasm_globaltype_t`, `wasm_tabletype_t`, `wasm_memorytype_t`,
//! `wasm_externtype_t`), plus import and export types.

use crate::vec::{CVec, byte_vec, wasm_byte_vec_t, wasm_valtype_vec_t};
use crate::{boxed, guard};
use kiln_rs::{ExternType, FuncType, GlobalType, HeapType, MemoryType, Mutability, TableType, ValType};
use std::ptr::null_mut;

pub const WASM_I32: u8 = 0;
pub const WASM_I64: u8 = 1;
pub const WASM_F32: u8 = 2;
pub const WASM_F64: u8 = 3;
/// kiln's extension (`KILN_V128` in kiln.h): wasm.h has no kind for `v128`.
pub const KILN_V128: u8 = 4;
pub const WASM_EXTERNREF: u8 = 128;
pub const WASM_FUNCREF: u8 = 129;
/// kiln's extension (`KILN_ANYREF` in kiln.h): a reference of the GC proposal's `any` hierarchy
/// (anyref, eqref, i31ref, structref, arrayref, their concrete types).
pub const KILN_ANYREF: u8 = 130;
/// kiln's extension (`KILN_EXNREF` in kiln.h): an exception reference, which values in C cannot
/// hold yet.
pub const KILN_EXNREF: u8 = 131;

pub const WASM_EXTERN_FUNC: u8 = 0;
pub const WASM_EXTERN_GLOBAL: u8 = 1;
pub const WASM_EXTERN_TABLE: u8 = 2;
pub const WASM_EXTERN_MEMORY: u8 = 3;

/// A value type.
#[derive(Clone, Debug)]
pub struct wasm_valtype_t {
    pub ty: ValType,
}

pub(crate) fn kind_of(ty: &ValType) -> u8 {
    match ty {
        ValType::I32 => WASM_I32,
        ValType::I64 => WASM_I64,
        ValType::F32 => WASM_F32,
        ValType::F64 => WASM_F64,
        ValType::V128 => KILN_V128,
        ValType::Ref(r) => match r.heap_type().top() {
            HeapType::Func => WASM_FUNCREF,
            HeapType::Any => KILN_ANYREF,
            HeapType::Exn => KILN_EXNREF,
            _ => WASM_EXTERNREF,
        },
    }
}

pub(crate) fn valtype_of_kind(kind: u8) -> Option<ValType> {
    Some(match kind {
        WASM_I32 => ValType::I32,
        WASM_I64 => ValType::I64,
        WASM_F32 => ValType::F32,
        WASM_F64 => ValType::F64,
        KILN_V128 => ValType::V128,
        WASM_EXTERNREF => ValType::EXTERNREF,
        WASM_FUNCREF => ValType::FUNCREF,
        KILN_ANYREF => ValType::Ref(kiln_rs::RefType::new(true, HeapType::Any)),
        _ => return None,
    })
}

/// The limits of a table or memory, as wasm.h has them (32 bits; `u32::MAX` = no maximum).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wasm_limits_t {
    pub min: u32,
    pub max: u32,
}

fn limits(min: u64, max: Option<u64>) -> wasm_limits_t {
    wasm_limits_t {
        min: u32::try_from(min).unwrap_or(u32::MAX),
        max: max.map_or(u32::MAX, |m| u32::try_from(m).unwrap_or(u32::MAX)),
    }
}

fn max_of(l: &wasm_limits_t) -> Option<u32> {
    (l.max != u32::MAX).then_some(l.max)
}

/// The type behind every type handle except value, import and export types.
#[derive(Clone)]
pub struct CExternType {
    pub which: Which,
}

#[derive(Clone)]
pub enum Which {
    Func { ty: FuncType, params: wasm_valtype_vec_t, results: wasm_valtype_vec_t },
    Global { ty: GlobalType, content: Box<wasm_valtype_t> },
    Table { ty: TableType, element: Box<wasm_valtype_t>, limits: wasm_limits_t },
    Memory { ty: MemoryType, limits: wasm_limits_t },
}

pub type wasm_functype_t = CExternType;
pub type wasm_globaltype_t = CExternType;
pub type wasm_tabletype_t = CExternType;
pub type wasm_memorytype_t = CExternType;
pub type wasm_externtype_t = CExternType;

fn valtype_vec(types: impl Iterator<Item = ValType>) -> wasm_valtype_vec_t {
    CVec::from_vec(types.map(|ty| boxed(wasm_valtype_t { ty })).collect())
}

impl CExternType {
    pub fn func(ty: FuncType) -> CExternType {
        let params = valtype_vec(ty.params());
        let results = valtype_vec(ty.results());
        CExternType { which: Which::Func { ty, params, results } }
    }
    pub fn global(ty: GlobalType) -> CExternType {
        let content = Box::new(wasm_valtype_t { ty: *ty.content() });
        CExternType { which: Which::Global { ty, content } }
    }
    pub fn table(ty: TableType) -> CExternType {
        let element = Box::new(wasm_valtype_t { ty: ValType::Ref(ty.element()) });
        let limits = limits(ty.minimum(), ty.maximum());
        CExternType { which: Which::Table { ty, element, limits } }
    }
    pub fn memory(ty: MemoryType) -> CExternType {
        let limits = limits(ty.minimum(), ty.maximum());
        CExternType { which: Which::Memory { ty, limits } }
    }
    /// `None` for kinds wasm.h cannot express (tags).
    pub fn from_extern(ty: ExternType) -> Option<CExternType> {
        Some(match ty {
            ExternType::Func(f) => CExternType::func(f),
            ExternType::Global(g) => CExternType::global(g),
            ExternType::Table(t) => CExternType::table(t),
            ExternType::Memory(m) => CExternType::memory(m),
            _ => return None,
        })
    }
    pub fn kind(&self) -> u8 {
        match self.which {
            Which::Func { .. } => WASM_EXTERN_FUNC,
            Which::Global { .. } => WASM_EXTERN_GLOBAL,
            Which::Table { .. } => WASM_EXTERN_TABLE,
            Which::Memory { .. } => WASM_EXTERN_MEMORY,
        }
    }
    pub fn func_ty(&self) -> Option<&FuncType> {
        match &self.which {
            Which::Func { ty, .. } => Some(ty),
            _ => None,
        }
    }
    pub fn global_ty(&self) -> Option<&GlobalType> {
        match &self.which {
            Which::Global { ty, .. } => Some(ty),
            _ => None,
        }
    }
    pub fn table_ty(&self) -> Option<&TableType> {
        match &self.which {
            Which::Table { ty, .. } => Some(ty),
            _ => None,
        }
    }
    pub fn memory_ty(&self) -> Option<&MemoryType> {
        match &self.which {
            Which::Memory { ty, .. } => Some(ty),
            _ => None,
        }
    }
}

/// Reads a borrowed pointer from C: NULL gives `None`.
pub(crate) fn opt<'a, T>(p: *const T) -> Option<&'a T> {
    // SAFETY: C passes NULL or a pointer to a live object it keeps alive for the call.
    unsafe { p.as_ref() }
}

/// Takes ownership of a boxed object C gives up: NULL gives `None`.
pub(crate) fn take<T>(p: *mut T) -> Option<Box<T>> {
    // SAFETY: owned pointers C passes came from `Box::into_raw` in this crate.
    (!p.is_null()).then(|| unsafe { Box::from_raw(p) })
}

macro_rules! own_delete {
    ($($name:ident: $ty:ty,)*) => {$(
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(p: *mut $ty) {
            guard((), || drop(take(p)));
        }
    )*};
}

macro_rules! type_copy {
    ($($name:ident: $ty:ty,)*) => {$(
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(p: *const $ty) -> *mut $ty {
            guard(null_mut(), || opt(p).map_or(null_mut(), |t| boxed(t.clone())))
        }
    )*};
}

own_delete! {
    wasm_valtype_delete: wasm_valtype_t,
    wasm_functype_delete: CExternType,
    wasm_globaltype_delete: CExternType,
    wasm_tabletype_delete: CExternType,
    wasm_memorytype_delete: CExternType,
    wasm_externtype_delete: CExternType,
    wasm_importtype_delete: wasm_importtype_t,
    wasm_exporttype_delete: wasm_exporttype_t,
}

type_copy! {
    wasm_valtype_copy: wasm_valtype_t,
    wasm_functype_copy: CExternType,
    wasm_globaltype_copy: CExternType,
    wasm_tabletype_copy: CExternType,
    wasm_memorytype_copy: CExternType,
    wasm_externtype_copy: CExternType,
    wasm_importtype_copy: wasm_importtype_t,
    wasm_exporttype_copy: wasm_exporttype_t,
}

#[unsafe(no_mangle)]
pub extern "C" fn wasm_valtype_new(kind: u8) -> *mut wasm_valtype_t {
    valtype_of_kind(kind).map_or(null_mut(), |ty| boxed(wasm_valtype_t { ty }))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_valtype_kind(t: *const wasm_valtype_t) -> u8 {
    opt(t).map_or(WASM_I32, |t| kind_of(&t.ty))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_functype_new(
    params: *mut wasm_valtype_vec_t,
    results: *mut wasm_valtype_vec_t,
) -> *mut wasm_functype_t {
    guard(null_mut(), || {
        // SAFETY: the vectors are NULL or live vectors whose ownership C hands over.
        let take_types = |v: *mut wasm_valtype_vec_t| -> Option<Vec<ValType>> {
            let v = unsafe { v.as_mut() }?;
            let items = v.take();
            let types = items.iter().map(|p| opt(*p).map(|t| t.ty)).collect::<Option<Vec<_>>>();
            for p in items {
                drop(take(p));
            }
            types
        };
        let (Some(params), Some(results)) = (take_types(params), take_types(results)) else {
            return null_mut();
        };
        boxed(CExternType::func(FuncType::new(params, results)))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_functype_params(t: *const wasm_functype_t) -> *const wasm_valtype_vec_t {
    match opt(t).map(|t| &t.which) {
        Some(Which::Func { params, .. }) => params,
        _ => std::ptr::null(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_functype_results(t: *const wasm_functype_t) -> *const wasm_valtype_vec_t {
    match opt(t).map(|t| &t.which) {
        Some(Which::Func { results, .. }) => results,
        _ => std::ptr::null(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_globaltype_new(content: *mut wasm_valtype_t, mutability: u8) -> *mut wasm_globaltype_t {
    guard(null_mut(), || {
        let Some(content) = take(content) else { return null_mut() };
        let mutability = match mutability {
            0 => Mutability::Const,
            1 => Mutability::Var,
            _ => return null_mut(),
        };
        boxed(CExternType::global(GlobalType::new(content.ty, mutability)))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_globaltype_content(t: *const wasm_globaltype_t) -> *const wasm_valtype_t {
    match opt(t).map(|t| &t.which) {
        Some(Which::Global { content, .. }) => &**content,
        _ => std::ptr::null(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_globaltype_mutability(t: *const wasm_globaltype_t) -> u8 {
    match opt(t).and_then(|t| t.global_ty()).map(|g| g.mutability()) {
        Some(Mutability::Var) => 1,
        _ => 0,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_tabletype_new(
    element: *mut wasm_valtype_t,
    limits: *const wasm_limits_t,
) -> *mut wasm_tabletype_t {
    guard(null_mut(), || {
        let element = take(element);
        let (Some(element), Some(limits)) = (element, opt(limits)) else { return null_mut() };
        let ValType::Ref(r) = element.ty else { return null_mut() };
        if max_of(limits).is_some_and(|max| max < limits.min) {
            return null_mut();
        }
        boxed(CExternType::table(TableType::new(r, limits.min, max_of(limits))))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_tabletype_element(t: *const wasm_tabletype_t) -> *const wasm_valtype_t {
    match opt(t).map(|t| &t.which) {
        Some(Which::Table { element, .. }) => &**element,
        _ => std::ptr::null(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_tabletype_limits(t: *const wasm_tabletype_t) -> *const wasm_limits_t {
    match opt(t).map(|t| &t.which) {
        Some(Which::Table { limits, .. }) => limits,
        _ => std::ptr::null(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memorytype_new(limits: *const wasm_limits_t) -> *mut wasm_memorytype_t {
    guard(null_mut(), || {
        let Some(limits) = opt(limits) else { return null_mut() };
        if max_of(limits).is_some_and(|max| max < limits.min) || limits.min > 65536 {
            return null_mut();
        }
        boxed(CExternType::memory(MemoryType::new(limits.min, max_of(limits))))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_memorytype_limits(t: *const wasm_memorytype_t) -> *const wasm_limits_t {
    match opt(t).map(|t| &t.which) {
        Some(Which::Memory { limits, .. }) => limits,
        _ => std::ptr::null(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_externtype_kind(t: *const wasm_externtype_t) -> u8 {
    opt(t).map_or(WASM_EXTERN_FUNC, |t| t.kind())
}

macro_rules! type_casts {
    ($($as_extern:ident $as_extern_const:ident $from_extern:ident $from_extern_const:ident $kind:ident,)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $as_extern(t: *mut CExternType) -> *mut CExternType {
            t
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn $as_extern_const(t: *const CExternType) -> *const CExternType {
            t
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $from_extern(t: *mut CExternType) -> *mut CExternType {
            if opt(t).is_some_and(|t| t.kind() == $kind) { t } else { null_mut() }
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $from_extern_const(t: *const CExternType) -> *const CExternType {
            if opt(t).is_some_and(|t| t.kind() == $kind) { t } else { std::ptr::null() }
        }
    )*};
}

type_casts! {
    wasm_functype_as_externtype wasm_functype_as_externtype_const
        wasm_externtype_as_functype wasm_externtype_as_functype_const WASM_EXTERN_FUNC,
    wasm_globaltype_as_externtype wasm_globaltype_as_externtype_const
        wasm_externtype_as_globaltype wasm_externtype_as_globaltype_const WASM_EXTERN_GLOBAL,
    wasm_tabletype_as_externtype wasm_tabletype_as_externtype_const
        wasm_externtype_as_tabletype wasm_externtype_as_tabletype_const WASM_EXTERN_TABLE,
    wasm_memorytype_as_externtype wasm_memorytype_as_externtype_const
        wasm_externtype_as_memorytype wasm_externtype_as_memorytype_const WASM_EXTERN_MEMORY,
}

/// An import: module name, field name and type.
#[derive(Clone)]
pub struct wasm_importtype_t {
    pub module: wasm_byte_vec_t,
    pub name: wasm_byte_vec_t,
    pub ty: Box<CExternType>,
}

/// An export: name and type.
#[derive(Clone)]
pub struct wasm_exporttype_t {
    pub name: wasm_byte_vec_t,
    pub ty: Box<CExternType>,
}

impl wasm_importtype_t {
    pub fn new(module: &str, name: &str, ty: CExternType) -> wasm_importtype_t {
        wasm_importtype_t { module: byte_vec(module.as_bytes()), name: byte_vec(name.as_bytes()), ty: Box::new(ty) }
    }
}

impl wasm_exporttype_t {
    pub fn new(name: &str, ty: CExternType) -> wasm_exporttype_t {
        wasm_exporttype_t { name: byte_vec(name.as_bytes()), ty: Box::new(ty) }
    }
}

/// Takes a name vector C hands over.
fn take_name(name: *mut wasm_byte_vec_t) -> Option<wasm_byte_vec_t> {
    // SAFETY: NULL or a live vector C gives up.
    let v = unsafe { name.as_mut() }?;
    Some(CVec::from_vec(v.take()))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_importtype_new(
    module: *mut wasm_byte_vec_t,
    name: *mut wasm_byte_vec_t,
    ty: *mut wasm_externtype_t,
) -> *mut wasm_importtype_t {
    guard(null_mut(), || {
        let (module, name, ty) = (take_name(module), take_name(name), take(ty));
        match (module, name, ty) {
            (Some(module), Some(name), Some(ty)) => boxed(wasm_importtype_t { module, name, ty }),
            _ => null_mut(),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_importtype_module(t: *const wasm_importtype_t) -> *const wasm_byte_vec_t {
    opt(t).map_or(std::ptr::null(), |t| &t.module)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_importtype_name(t: *const wasm_importtype_t) -> *const wasm_byte_vec_t {
    opt(t).map_or(std::ptr::null(), |t| &t.name)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_importtype_type(t: *const wasm_importtype_t) -> *const wasm_externtype_t {
    opt(t).map_or(std::ptr::null(), |t| &*t.ty)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_exporttype_new(
    name: *mut wasm_byte_vec_t,
    ty: *mut wasm_externtype_t,
) -> *mut wasm_exporttype_t {
    guard(null_mut(), || {
        let (name, ty) = (take_name(name), take(ty));
        match (name, ty) {
            (Some(name), Some(ty)) => boxed(wasm_exporttype_t { name, ty }),
            _ => null_mut(),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_exporttype_name(t: *const wasm_exporttype_t) -> *const wasm_byte_vec_t {
    opt(t).map_or(std::ptr::null(), |t| &t.name)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_exporttype_type(t: *const wasm_exporttype_t) -> *const wasm_externtype_t {
    opt(t).map_or(std::ptr::null(), |t| &*t.ty)
}
