//! [`Val`]: a dynamically typed wasm value, and [`ExternRef`]: a host reference.

use crate::func::Func;
use crate::store::{AsContext, AsContextMut, RootSlot, StoreId, StoreOpaque};
use crate::types::{HeapType, RefType, ValType};
use anyhow::{Result, bail};
use kiln_runtime::{VMFuncRef, ValRaw};
use std::any::Any;

/// A reference to a host value owned by a store's GC heap; or, made by wasm's
/// `extern.convert_any`, an `anyref` seen as an `externref` ([`ExternRef::as_anyref`]).
///
/// The handle roots what it refers to: the host value lives while the handle's scope does (the
/// store, a [`crate::RootScope`], or the host function call that received it) or while wasm
/// reaches it, and is dropped by the collector after that. A handle used after its scope ended is
/// an error (or, for [`ExternRef::data`], a panic), never a dangling access.
#[derive(Debug, Clone, Copy)]
pub struct ExternRef {
    pub(crate) store: StoreId,
    /// The word wasm holds: `((index + 1) << 2) | 2` for the host value at `index` of the store's
    /// heap (low bits `10`, never 0), or an `i31` word (odd) or a GC object's address (low bits
    /// `00`) made external.
    pub(crate) raw: usize,
    /// The host root that keeps it alive (none for an i31).
    pub(crate) root: RootSlot,
}

/// Rooted handles are the same reference when they name the same word of the same store,
/// whichever roots keep them.
macro_rules! identity_by_word {
    ($($t:ty),*) => {$(
        impl PartialEq for $t {
            fn eq(&self, other: &$t) -> bool {
                (self.store, self.raw) == (other.store, other.raw)
            }
        }
        impl Eq for $t {}
        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                (self.store, self.raw).hash(state)
            }
        }
    )*};
}

identity_by_word!(ExternRef, GcRef);

/// What [`ExternRef::data`] gives for an external `anyref`, which has no host value: the
/// reference itself is in [`ExternRef::as_anyref`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalizedAnyRef;

impl ExternRef {
    /// Moves `value` into the store and returns a reference to it.
    pub fn new<T: Any + Send + Sync + 'static>(mut store: impl AsContextMut, value: T) -> ExternRef {
        let store = &mut store.as_context_mut().0.opaque;
        // SAFETY: every reference the host holds is rooted, and wasm frames are found from the
        // recorded exits; no raw reference is held here.
        let raw = unsafe { (*store.store_ctx.gc.get()).alloc_host(Box::new(value)) };
        let root = store.root(raw);
        ExternRef { store: store.id, raw, root }
    }

    /// The host value, or [`ExternalizedAnyRef`] for a reference wasm made from an `anyref`.
    pub fn data<'a, T: 'a>(&self, store: impl Into<crate::StoreContext<'a, T>>) -> &'a (dyn Any + Send + Sync) {
        static EXTERNALIZED: ExternalizedAnyRef = ExternalizedAnyRef;
        let store = store.into().0;
        assert_eq!(store.opaque.id, self.store, "ExternRef used with the wrong store");
        if let Err(e) = store.opaque.rooted_word(self.root) {
            panic!("{e}");
        }
        if self.raw & 3 != 2 {
            return &EXTERNALIZED;
        }
        // SAFETY: no wasm runs while the host holds the store; the heap is read only.
        let heap = unsafe { &*store.opaque.store_ctx.gc.get() };
        heap.host_value(self.raw).expect("a rooted host reference is live")
    }

    /// The `anyref` this reference was made from by `extern.convert_any`, if it was (a host
    /// value's reference gives `None`).
    pub fn as_anyref(&self) -> Option<AnyRef> {
        match self.raw & 3 {
            2 => None,
            0 => Some(AnyRef(AnyRefKind::Gc(GcRef { store: self.store, raw: self.raw, root: self.root }))),
            _ => Some(AnyRef::from_i31(I31::wrapping_u32((self.raw >> 1) as u32))),
        }
    }

    /// The word, checked against `store` and the handle's scope.
    pub(crate) fn to_raw(self, store: &StoreOpaque) -> Result<usize> {
        if self.store != store.id {
            bail!("externref used with the wrong store");
        }
        store.rooted_word(self.root)?;
        Ok(self.raw)
    }

    /// A handle for word `raw` (0 is null), rooted in the current scope.
    pub(crate) fn from_raw(store: &mut StoreOpaque, raw: usize) -> Option<ExternRef> {
        if raw == 0 {
            return None;
        }
        let root = if raw & 1 == 1 { RootSlot::NONE } else { store.root(raw) };
        Some(ExternRef { store: store.id, raw, root })
    }
}

/// A reference to an exception object, rooted like [`AnyRef`]: it keeps the object alive until
/// the [`crate::RootScope`] (or host call) it was made in ends, and using it after that is an
/// error. The store owns the object; collections free it once nothing reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExnRef {
    pub(crate) store: StoreId,
    /// Address of the runtime exception object (never 0).
    pub(crate) raw: usize,
    pub(crate) root: RootSlot,
}

impl ExnRef {
    /// A handle for exception object `raw` (0 is null), rooted in the current scope.
    pub(crate) fn from_raw(store: &mut StoreOpaque, raw: usize) -> Option<ExnRef> {
        if raw == 0 {
            return None;
        }
        // References to it may be kept now: it is no longer only in flight.
        // SAFETY: non-null exnref values of this store point at its live exception objects.
        unsafe { kiln_runtime::ExceptionRef::from_address(raw).mark_escaped() };
        let root = store.root(raw);
        Some(ExnRef { store: store.id, raw, root })
    }

    /// The object's address, checked against `store` and the handle's scope.
    pub(crate) fn to_raw(self, store: &StoreOpaque) -> Result<usize> {
        if self.store != store.id {
            bail!("exception reference used with the wrong store");
        }
        store.rooted_word(self.root)?;
        Ok(self.raw)
    }
}

/// A 128-bit SIMD value (`v128`) for typed calls and host closures: `TypedFunc<V128, V128>`,
/// `Func::wrap(&mut store, |v: V128| ...)`. Lane 0 is the least significant end (wasm's lanes are
/// little-endian); `u128` works the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct V128(u128);

impl V128 {
    /// The value's 128 bits.
    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// The value's 16 bytes in memory order.
    pub fn to_le_bytes(self) -> [u8; 16] {
        self.0.to_le_bytes()
    }
}

impl From<u128> for V128 {
    fn from(bits: u128) -> V128 {
        V128(bits)
    }
}

impl From<V128> for u128 {
    fn from(v: V128) -> u128 {
        v.0
    }
}

impl From<V128> for Val {
    fn from(v: V128) -> Val {
        Val::V128(v.0)
    }
}

impl<'a, T> From<&'a crate::Store<T>> for crate::StoreContext<'a, T> {
    fn from(store: &'a crate::Store<T>) -> Self {
        store.as_context()
    }
}
impl<'a, T> From<&'a mut crate::Store<T>> for crate::StoreContext<'a, T> {
    fn from(store: &'a mut crate::Store<T>) -> Self {
        crate::StoreContext(&store.inner)
    }
}
impl<'a, T> From<&'a crate::Caller<'_, T>> for crate::StoreContext<'a, T> {
    fn from(caller: &'a crate::Caller<'_, T>) -> Self {
        crate::StoreContext(caller.store)
    }
}
impl<'a, T> From<&'a mut crate::Caller<'_, T>> for crate::StoreContext<'a, T> {
    fn from(caller: &'a mut crate::Caller<'_, T>) -> Self {
        crate::StoreContext(caller.store)
    }
}

/// A wasm value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// 32-bit float, as bits (so NaN payloads survive).
    F32(u32),
    /// 64-bit float, as bits.
    F64(u64),
    /// 128-bit vector.
    V128(u128),
    /// A function reference.
    FuncRef(Option<Func>),
    /// A host reference.
    ExternRef(Option<ExternRef>),
    /// A caught exception (exception-handling proposal).
    ExnRef(Option<ExnRef>),
    /// A reference of the GC hierarchy (`anyref`, `eqref`, `i31ref`).
    AnyRef(Option<AnyRef>),
}

/// A 31-bit integer as an unboxed reference (`i31ref`, GC proposal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct I31(u32);

impl I31 {
    /// The low 31 bits of `x` (as `ref.i31` takes them).
    pub fn wrapping_u32(x: u32) -> I31 {
        I31(x & 0x7fff_ffff)
    }
    /// `x` if it fits in 31 bits unsigned.
    pub fn new_u32(x: u32) -> Option<I31> {
        (x <= 0x7fff_ffff).then_some(I31(x))
    }
    /// `x` if it fits in 31 bits signed.
    pub fn new_i32(x: i32) -> Option<I31> {
        (-(1 << 30)..(1 << 30)).contains(&x).then_some(I31::wrapping_u32(x as u32))
    }
    /// The value zero-extended (`i31.get_u`).
    pub fn get_u32(self) -> u32 {
        self.0
    }
    /// The value sign-extended (`i31.get_s`).
    pub fn get_i32(self) -> i32 {
        ((self.0 << 1) as i32) >> 1
    }
}

/// A non-null reference of the GC hierarchy: an [`I31`], a GC object (struct or array), or a host
/// reference made internal by wasm's `any.convert_extern`.
///
/// A GC object seen by the host is rooted in its store: it stays alive while the store lives,
/// or until the [`crate::RootScope`] it was made in ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnyRef(AnyRefKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AnyRefKind {
    I31(I31),
    Extern(ExternRef),
    Gc(GcRef),
}

/// A host handle of a GC object: its address (objects do not move) and the root that keeps it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GcRef {
    pub(crate) store: StoreId,
    pub(crate) raw: usize,
    pub(crate) root: RootSlot,
}

impl AnyRef {
    /// The reference to an `i31`.
    pub fn from_i31(i31: I31) -> AnyRef {
        AnyRef(AnyRefKind::I31(i31))
    }
    /// The `i31` this reference is, if it is one.
    pub fn as_i31(&self) -> Option<I31> {
        match self.0 {
            AnyRefKind::I31(i31) => Some(i31),
            _ => None,
        }
    }
    /// `extern`'s reference as an `anyref`, as wasm's `any.convert_extern` makes it (a reference
    /// that `extern.convert_any` made from an `anyref` gives that `anyref` back).
    pub fn from_externref(extern_ref: ExternRef) -> AnyRef {
        extern_ref.as_anyref().unwrap_or(AnyRef(AnyRefKind::Extern(extern_ref)))
    }
    /// The host reference this one was made from by `any.convert_extern`, if it was.
    pub fn as_externref(&self) -> Option<ExternRef> {
        match self.0 {
            AnyRefKind::Extern(e) => Some(e),
            _ => None,
        }
    }
    /// Whether it is an `eqref` (an `i31` or a GC object; host references are not).
    pub fn is_eq(&self) -> bool {
        !matches!(self.0, AnyRefKind::Extern(_))
    }
    /// Whether it is a struct.
    pub fn is_struct(&self, store: impl AsContext) -> Result<bool> {
        Ok(self.gc_object(&store.as_context().0.opaque)?.is_some_and(|o| !o.type_info().is_array()))
    }
    /// Whether it is an array.
    pub fn is_array(&self, store: impl AsContext) -> Result<bool> {
        Ok(self.gc_object(&store.as_context().0.opaque)?.is_some_and(|o| o.type_info().is_array()))
    }
    /// The GC object, if this is one (checked against `store`).
    pub(crate) fn gc_object(&self, store: &StoreOpaque) -> Result<Option<kiln_runtime::GcObject>> {
        let Some(g) = self.gc_ref() else { return Ok(None) };
        if g.store != store.id {
            bail!("anyref used with the wrong store");
        }
        // SAFETY: a live root holds a live object of its store.
        Ok(Some(unsafe {
            kiln_runtime::GcObject::from_address(store.rooted_word(g.root)?, &store.engine.inner.gc_type_table)
        }))
    }
    /// The GC object this reference points to, if it is one.
    pub(crate) fn gc_ref(&self) -> Option<GcRef> {
        match self.0 {
            AnyRefKind::Gc(g) => Some(g),
            _ => None,
        }
    }
    pub(crate) fn from_gc(g: GcRef) -> AnyRef {
        AnyRef(AnyRefKind::Gc(g))
    }
    pub(crate) fn to_raw(self, store: &StoreOpaque) -> Result<usize> {
        match self.0 {
            AnyRefKind::I31(i31) => Ok(kiln_runtime::i31_word(i31.0 as i32)),
            AnyRefKind::Gc(g) => {
                if g.store != store.id {
                    bail!("anyref used with the wrong store");
                }
                store.rooted_word(g.root)
            }
            AnyRefKind::Extern(e) => e.to_raw(store),
        }
    }
    /// The word is an `i31` (odd), an internal host reference (low bits `10`) or a GC object
    /// (low bits `00`), which is rooted for the host.
    pub(crate) fn from_raw(store: &mut StoreOpaque, raw: usize) -> Option<AnyRef> {
        match raw {
            0 => None,
            _ if raw & 1 == 1 => Some(AnyRef::from_i31(I31::wrapping_u32((raw >> 1) as u32))),
            _ if raw & 3 == 2 => ExternRef::from_raw(store, raw).map(|e| AnyRef(AnyRefKind::Extern(e))),
            _ => Some(AnyRef(AnyRefKind::Gc(GcRef { store: store.id, raw, root: store.root(raw) }))),
        }
    }
}

macro_rules! accessors {
    ($($variant:ident $get:ident $unwrap:ident $ty:ty,)*) => {$(
        /// The value if it has this type.
        pub fn $get(&self) -> Option<$ty> {
            match self {
                Val::$variant(v) => Some(*v),
                _ => None,
            }
        }
        /// The value; panics if it has another type.
        pub fn $unwrap(&self) -> $ty {
            self.$get().unwrap_or_else(|| panic!("expected {}, found {:?}", stringify!($variant), self))
        }
    )*};
}

impl Val {
    accessors! {
        I32 i32 unwrap_i32 i32,
        I64 i64 unwrap_i64 i64,
        V128 v128 unwrap_v128 u128,
    }

    /// The f32 value if it is one.
    pub fn f32(&self) -> Option<f32> {
        match self {
            Val::F32(bits) => Some(f32::from_bits(*bits)),
            _ => None,
        }
    }
    /// The f32 value; panics otherwise.
    pub fn unwrap_f32(&self) -> f32 {
        self.f32().expect("expected f32")
    }
    /// The f64 value if it is one.
    pub fn f64(&self) -> Option<f64> {
        match self {
            Val::F64(bits) => Some(f64::from_bits(*bits)),
            _ => None,
        }
    }
    /// The f64 value; panics otherwise.
    pub fn unwrap_f64(&self) -> f64 {
        self.f64().expect("expected f64")
    }
    /// The funcref if this is one.
    pub fn funcref(&self) -> Option<Option<&Func>> {
        match self {
            Val::FuncRef(f) => Some(f.as_ref()),
            _ => None,
        }
    }
    /// The `anyref` if this is one.
    pub fn anyref(&self) -> Option<Option<AnyRef>> {
        match self {
            Val::AnyRef(a) => Some(*a),
            _ => None,
        }
    }
    /// The externref if this is one.
    pub fn externref(&self) -> Option<Option<ExternRef>> {
        match self {
            Val::ExternRef(e) => Some(*e),
            _ => None,
        }
    }

    /// A null reference of type `ty`.
    pub fn null_ref(ty: RefType) -> Val {
        match ty.heap_type().top() {
            HeapType::Func => Val::FuncRef(None),
            HeapType::Extern => Val::ExternRef(None),
            HeapType::Exn => Val::ExnRef(None),
            _ => Val::AnyRef(None),
        }
    }

    /// The zero value of `ty` (null for references).
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::Ref(r) => Val::null_ref(r),
        }
    }

    /// The value's type (references report their nullable abstract type).
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FUNCREF,
            Val::ExternRef(_) => ValType::EXTERNREF,
            Val::ExnRef(_) => ValType::Ref(crate::RefType::new(true, HeapType::Exn)),
            Val::AnyRef(_) => ValType::Ref(crate::RefType::new(true, HeapType::Any)),
        }
    }

    /// Whether this value belongs to type `ty`.
    pub fn matches_ty(&self, ty: &ValType) -> bool {
        match (self, ty) {
            // A function's exact signature is checked where the store is at hand (`to_raw_checked`).
            (Val::FuncRef(f), ValType::Ref(r)) => match r.heap_type() {
                HeapType::Func | HeapType::ConcreteFunc(_) => f.is_some() || r.is_nullable(),
                HeapType::NoFunc => f.is_none() && r.is_nullable(),
                _ => false,
            },
            (Val::ExternRef(e), ValType::Ref(r)) => match r.heap_type() {
                HeapType::Extern => e.is_some() || r.is_nullable(),
                HeapType::NoExtern => e.is_none() && r.is_nullable(),
                _ => false,
            },
            (Val::ExnRef(e), ValType::Ref(r)) => match r.heap_type() {
                HeapType::Exn => e.is_some() || r.is_nullable(),
                HeapType::NoExn => e.is_none() && r.is_nullable(),
                _ => false,
            },
            (Val::AnyRef(a), ValType::Ref(r)) => match r.heap_type() {
                HeapType::Any => a.is_some() || r.is_nullable(),
                HeapType::Eq => a.is_some_and(|a| a.is_eq()) || (a.is_none() && r.is_nullable()),
                HeapType::I31 => a.is_some_and(|a| a.as_i31().is_some()) || (a.is_none() && r.is_nullable()),
                HeapType::None => a.is_none() && r.is_nullable(),
                // Which GC objects belong needs their store: see `matches_ty_in`.
                HeapType::Struct | HeapType::Array | HeapType::ConcreteStruct(_) | HeapType::ConcreteArray(_) => {
                    a.is_some_and(|a| a.gc_ref().is_some()) || (a.is_none() && r.is_nullable())
                }
                _ => false,
            },
            _ => self.ty() == *ty,
        }
    }

    /// Whether this value belongs to type `ty`, checking GC objects' types in `store`.
    pub(crate) fn matches_ty_in(&self, store: &StoreOpaque, ty: &ValType) -> bool {
        if !self.matches_ty(ty) {
            return false;
        }
        let (Val::AnyRef(Some(a)), ValType::Ref(r)) = (self, ty) else { return true };
        let Some(g) = a.gc_ref() else { return true };
        if g.store != store.id {
            return false;
        }
        // A stale handle is refused by `to_raw`, with the reason.
        let Ok(word) = store.rooted_word(g.root) else { return true };
        // SAFETY: a live root holds a live object of its store.
        let object = unsafe { kiln_runtime::GcObject::from_address(word, &store.engine.inner.gc_type_table) };
        let info = object.type_info();
        match r.heap_type() {
            HeapType::Struct => !info.is_array(),
            HeapType::Array => info.is_array(),
            HeapType::ConcreteStruct(id) | HeapType::ConcreteArray(id) => info.display().contains(&id),
            _ => true,
        }
    }

    pub(crate) fn to_raw(self, store: &StoreOpaque) -> Result<ValRaw> {
        Ok(match self {
            Val::I32(v) => ValRaw::i32(v),
            Val::I64(v) => ValRaw::i64(v),
            Val::F32(v) => ValRaw::f32(v),
            Val::F64(v) => ValRaw::f64(v),
            Val::V128(v) => ValRaw::u128(v),
            Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) | Val::AnyRef(None) => ValRaw::reference(0),
            Val::AnyRef(Some(a)) => ValRaw::reference(a.to_raw(store)?),
            Val::ExnRef(Some(e)) => ValRaw::reference(e.to_raw(store)?),
            Val::FuncRef(Some(f)) => {
                if f.store != store.id {
                    bail!("function used with the wrong store");
                }
                ValRaw::reference(store.funcs[f.index].funcref_ptr() as usize)
            }
            Val::ExternRef(Some(e)) => ValRaw::reference(e.to_raw(store)?),
        })
    }

    pub(crate) fn from_raw(store: &mut StoreOpaque, raw: ValRaw, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw.get_i32()),
            ValType::I64 => Val::I64(raw.get_i64()),
            ValType::F32 => Val::F32(raw.get_f32()),
            ValType::F64 => Val::F64(raw.get_f64()),
            ValType::V128 => Val::V128(raw.get_u128()),
            ValType::Ref(r) => match r.heap_type().top() {
                HeapType::Func => Val::FuncRef(Func::from_raw(store, raw.get_reference() as *const VMFuncRef)),
                HeapType::Extern => Val::ExternRef(ExternRef::from_raw(store, raw.get_reference())),
                HeapType::Exn => Val::ExnRef(ExnRef::from_raw(store, raw.get_reference())),
                _ => Val::AnyRef(AnyRef::from_raw(store, raw.get_reference())),
            },
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}
impl From<Func> for Val {
    fn from(f: Func) -> Val {
        Val::FuncRef(Some(f))
    }
}
impl From<ExternRef> for Val {
    fn from(e: ExternRef) -> Val {
        Val::ExternRef(Some(e))
    }
}
