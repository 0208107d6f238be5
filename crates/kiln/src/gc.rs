//! The GC proposal's objects seen from the host: struct and array types ([`StructType`],
//! [`ArrayType`], [`FieldType`], [`StorageType`]) and references to objects ([`StructRef`],
//! [`ArrayRef`]), which the host can read, write and allocate.
//!
//! Like every GC reference the host holds, a [`StructRef`] or [`ArrayRef`] is rooted in the
//! current scope (the store, a [`crate::RootScope`] or a host call): its object stays alive while
//! the scope lasts, and the handle is refused after it.

use crate::store::{AsContext, AsContextMut, StoreOpaque};
use crate::types::{Mutability, ValType};
use crate::values::{AnyRef, GcRef, Val};
use crate::{Engine, HeapType};
use anyhow::{Result, bail, ensure};
use kiln_environ::{WasmCompositeType, WasmFieldType, WasmStorageType, WasmSubType, vmgc};
use kiln_runtime::{GcObject, ValRaw};
use std::sync::Arc;

/// What a field or element stores: a packed integer or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageType {
    /// An 8-bit integer, read and written as an `i32`'s low 8 bits.
    I8,
    /// A 16-bit integer, read and written as an `i32`'s low 16 bits.
    I16,
    /// A value of this type.
    ValType(ValType),
}

/// A struct field's or an array element's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldType {
    mutability: Mutability,
    storage: StorageType,
}

impl FieldType {
    /// A field of `storage` type.
    pub fn new(mutability: Mutability, storage: StorageType) -> FieldType {
        FieldType { mutability, storage }
    }
    /// Whether it may be written.
    pub fn mutability(&self) -> Mutability {
        self.mutability
    }
    /// What it stores.
    pub fn element_type(&self) -> StorageType {
        self.storage
    }

    fn to_env(self) -> WasmFieldType {
        WasmFieldType {
            mutable: self.mutability == Mutability::Var,
            storage: match self.storage {
                StorageType::I8 => WasmStorageType::I8,
                StorageType::I16 => WasmStorageType::I16,
                StorageType::ValType(v) => WasmStorageType::Val(v.to_env()),
            },
        }
    }

    fn from_env(f: WasmFieldType) -> FieldType {
        FieldType {
            mutability: if f.mutable { Mutability::Var } else { Mutability::Const },
            storage: match f.storage {
                WasmStorageType::I8 => StorageType::I8,
                WasmStorageType::I16 => StorageType::I16,
                WasmStorageType::Val(v) => StorageType::ValType(ValType::from_env(v)),
            },
        }
    }
}

/// A struct type registered with an engine: its fields, and its engine-wide id (what
/// [`HeapType::ConcreteStruct`] names).
#[derive(Debug, Clone)]
pub struct StructType {
    engine: Engine,
    id: u32,
    fields: Arc<[FieldType]>,
}

impl StructType {
    /// Registers a final struct type with these fields (the same as a module's `(type (struct
    /// ...))` with equal fields).
    pub fn new(engine: &Engine, fields: impl IntoIterator<Item = FieldType>) -> Result<StructType> {
        let fields: Arc<[FieldType]> = fields.into_iter().collect();
        let ty = WasmSubType::plain(WasmCompositeType::Struct(fields.iter().map(|f| f.to_env()).collect()));
        let id = engine.sub_type_id(&ty);
        Ok(StructType { engine: engine.clone(), id, fields })
    }

    /// The type registered as engine id `id`, if it is a struct type.
    pub fn from_id(engine: &Engine, id: u32) -> Option<StructType> {
        match engine.sub_type_of_id(id)?.composite {
            WasmCompositeType::Struct(fields) => Some(StructType {
                engine: engine.clone(),
                id,
                fields: fields.iter().map(|f| FieldType::from_env(*f)).collect(),
            }),
            _ => None,
        }
    }

    /// The engine-wide id.
    pub fn id(&self) -> u32 {
        self.id
    }
    /// The heap type of its references.
    pub fn heap_type(&self) -> HeapType {
        HeapType::ConcreteStruct(self.id)
    }
    /// The fields.
    pub fn fields(&self) -> &[FieldType] {
        &self.fields
    }
    /// Field `i`.
    pub fn field(&self, i: usize) -> Option<FieldType> {
        self.fields.get(i).copied()
    }
}

/// An array type registered with an engine.
#[derive(Debug, Clone)]
pub struct ArrayType {
    engine: Engine,
    id: u32,
    element: FieldType,
}

impl ArrayType {
    /// Registers a final array type of `element`s.
    pub fn new(engine: &Engine, element: FieldType) -> Result<ArrayType> {
        let ty = WasmSubType::plain(WasmCompositeType::Array(element.to_env()));
        let id = engine.sub_type_id(&ty);
        Ok(ArrayType { engine: engine.clone(), id, element })
    }

    /// The type registered as engine id `id`, if it is an array type.
    pub fn from_id(engine: &Engine, id: u32) -> Option<ArrayType> {
        match engine.sub_type_of_id(id)?.composite {
            WasmCompositeType::Array(element) => {
                Some(ArrayType { engine: engine.clone(), id, element: FieldType::from_env(element) })
            }
            _ => None,
        }
    }

    /// The engine-wide id.
    pub fn id(&self) -> u32 {
        self.id
    }
    /// The heap type of its references.
    pub fn heap_type(&self) -> HeapType {
        HeapType::ConcreteArray(self.id)
    }
    /// The element type.
    pub fn element_type(&self) -> FieldType {
        self.element
    }
}

/// A reference to a struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StructRef(GcRef);

/// A reference to an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArrayRef(GcRef);

/// The raw form of `v` for a field of type `field`, checked.
fn field_raw(store: &StoreOpaque, field: FieldType, v: &Val) -> Result<ValRaw> {
    match field.storage {
        StorageType::I8 | StorageType::I16 => match v {
            Val::I32(x) => Ok(ValRaw::i32(*x)),
            other => bail!("a packed field takes an i32, not {}", other.ty()),
        },
        StorageType::ValType(ty) => {
            ensure!(v.matches_ty_in(store, &ty), "value of type {} does not match the field's type {ty}", v.ty());
            v.to_raw(store)
        }
    }
}

/// The value of a field of type `field` from its raw bits (packed fields zero-extended).
fn field_val(store: &mut StoreOpaque, field: FieldType, raw: ValRaw) -> Val {
    match field.storage {
        StorageType::I8 => Val::I32(raw.get_i32() & 0xff),
        StorageType::I16 => Val::I32(raw.get_i32() & 0xffff),
        StorageType::ValType(ty) => Val::from_raw(store, raw, ty),
    }
}

/// Allocates an object of engine type `id` from the host.
fn alloc(store: &mut StoreOpaque, id: u32, len: u32) -> Result<usize> {
    // The descriptor outlives its objects: the engine keeps it, and the store keeps the engine.
    let Some(info) = store.engine.inner.gc_type_table.get(id) else {
        bail!("too many GC types in this engine to allocate type {id}");
    };
    // SAFETY: every reference the host holds is rooted, and wasm frames are found from the
    // recorded exits; the caller holds no raw reference across this call.
    let result = unsafe { (*store.store_ctx.gc.get()).alloc(info, len) };
    result.map_err(anyhow::Error::new)
}

fn object(store: &StoreOpaque, g: GcRef) -> Result<GcObject> {
    ensure!(g.store == store.id, "GC reference used with the wrong store");
    // SAFETY: a live root holds a live object of its store.
    Ok(unsafe { GcObject::from_address(store.rooted_word(g.root)?, &store.engine.inner.gc_type_table) })
}

impl StructRef {
    /// Allocates a struct of type `ty` with these field values (may collect first).
    pub fn new(mut store: impl AsContextMut, ty: &StructType, fields: &[Val]) -> Result<StructRef> {
        let store = &mut store.as_context_mut().0.opaque;
        ensure!(Engine::same(&store.engine, &ty.engine), "struct type of another engine");
        ensure!(fields.len() == ty.fields.len(), "expected {} field values, got {}", ty.fields.len(), fields.len());
        // Its objects would need their descriptor, which only wasm's `struct.new_desc` gives.
        ensure!(
            store.engine.sub_type_of_id(ty.id).is_none_or(|t| t.descriptor.is_none()),
            "struct types with a descriptor (custom descriptors) cannot be allocated from the host"
        );
        let raws = ty.fields.iter().zip(fields).map(|(f, v)| field_raw(store, *f, v)).collect::<Result<Vec<_>>>()?;
        let address = alloc(store, ty.id, 0)?;
        // SAFETY: the new object is live; its fields lie at the offsets its descriptor lists.
        let object = unsafe { GcObject::from_address(address, &store.engine.inner.gc_type_table) };
        let info = object.type_info();
        for (i, raw) in raws.into_iter().enumerate() {
            // SAFETY: field `i` lies inside the new struct.
            unsafe { kiln_runtime::gc::write_storage(address, info.field_offsets[i], info.fields[i].storage, raw) };
        }
        Ok(StructRef(GcRef { store: store.id, raw: address, root: store.root(address) }))
    }

    /// The struct's type.
    pub fn ty(&self, store: impl AsContext) -> Result<StructType> {
        let store = &store.as_context().0.opaque;
        let info = object(store, self.0)?.type_info();
        StructType::from_id(&store.engine, info.engine_id).ok_or_else(|| anyhow::anyhow!("not a struct"))
    }

    /// Field `i`'s value.
    pub fn field(&self, mut store: impl AsContextMut, i: usize) -> Result<Val> {
        let store = &mut store.as_context_mut().0.opaque;
        let object = object(store, self.0)?;
        let info = object.type_info();
        let Some(field) = info.fields.get(i) else { bail!("struct has no field {i}") };
        // SAFETY: field `i` lies inside the live struct.
        let raw = unsafe { kiln_runtime::gc::read_storage(object.address(), info.field_offsets[i], field.storage) };
        Ok(field_val(store, FieldType::from_env(*field), raw))
    }

    /// Sets mutable field `i`.
    pub fn set_field(&self, mut store: impl AsContextMut, i: usize, value: Val) -> Result<()> {
        let store = &mut store.as_context_mut().0.opaque;
        let object = object(store, self.0)?;
        let info = object.type_info();
        let Some(field) = info.fields.get(i).copied() else { bail!("struct has no field {i}") };
        ensure!(field.mutable, "field {i} is immutable");
        let raw = field_raw(store, FieldType::from_env(field), &value)?;
        // SAFETY: field `i` lies inside the live struct.
        unsafe { kiln_runtime::gc::write_storage(object.address(), info.field_offsets[i], field.storage, raw) };
        Ok(())
    }

    /// The reference as an `anyref`.
    pub fn to_anyref(&self) -> AnyRef {
        AnyRef::from_gc(self.0)
    }
}

impl ArrayRef {
    /// Allocates an array of type `ty` with `len` copies of `elem` (may collect first).
    pub fn new(mut store: impl AsContextMut, ty: &ArrayType, elem: &Val, len: u32) -> Result<ArrayRef> {
        let store = &mut store.as_context_mut().0.opaque;
        ensure!(Engine::same(&store.engine, &ty.engine), "array type of another engine");
        let raw = field_raw(store, ty.element, elem)?;
        let address = alloc(store, ty.id, len)?;
        let array = ArrayRef(GcRef { store: store.id, raw: address, root: store.root(address) });
        for i in 0..len {
            array.write(store, i, raw)?;
        }
        Ok(array)
    }

    /// Allocates an array of type `ty` holding `elems`.
    pub fn new_fixed(mut store: impl AsContextMut, ty: &ArrayType, elems: &[Val]) -> Result<ArrayRef> {
        let store = &mut store.as_context_mut().0.opaque;
        ensure!(Engine::same(&store.engine, &ty.engine), "array type of another engine");
        let raws = elems.iter().map(|v| field_raw(store, ty.element, v)).collect::<Result<Vec<_>>>()?;
        let len = u32::try_from(raws.len())?;
        let address = alloc(store, ty.id, len)?;
        let array = ArrayRef(GcRef { store: store.id, raw: address, root: store.root(address) });
        for (i, raw) in raws.into_iter().enumerate() {
            array.write(store, i as u32, raw)?;
        }
        Ok(array)
    }

    fn write(&self, store: &StoreOpaque, i: u32, raw: ValRaw) -> Result<()> {
        let object = object(store, self.0)?;
        ensure!(i < object.len(), "array index {i} out of bounds (length {})", object.len());
        let info = object.type_info();
        // SAFETY: element `i` lies inside the live array.
        unsafe {
            kiln_runtime::gc::write_storage(
                object.address(),
                vmgc::ARRAY_HEADER_SIZE + i * info.elem_size,
                info.fields[0].storage,
                raw,
            )
        };
        Ok(())
    }

    /// The array's type.
    pub fn ty(&self, store: impl AsContext) -> Result<ArrayType> {
        let store = &store.as_context().0.opaque;
        let info = object(store, self.0)?.type_info();
        ArrayType::from_id(&store.engine, info.engine_id).ok_or_else(|| anyhow::anyhow!("not an array"))
    }

    /// The number of elements.
    pub fn len(&self, store: impl AsContext) -> Result<u32> {
        Ok(object(&store.as_context().0.opaque, self.0)?.len())
    }

    /// Element `i`.
    pub fn get(&self, mut store: impl AsContextMut, i: u32) -> Result<Val> {
        let store = &mut store.as_context_mut().0.opaque;
        let object = object(store, self.0)?;
        ensure!(i < object.len(), "array index {i} out of bounds (length {})", object.len());
        let info = object.type_info();
        let field = info.fields[0];
        // SAFETY: element `i` lies inside the live array.
        let raw = unsafe {
            kiln_runtime::gc::read_storage(
                object.address(),
                vmgc::ARRAY_HEADER_SIZE + i * info.elem_size,
                field.storage,
            )
        };
        Ok(field_val(store, FieldType::from_env(field), raw))
    }

    /// Sets element `i` of a mutable array.
    pub fn set(&self, mut store: impl AsContextMut, i: u32, value: Val) -> Result<()> {
        let store = &mut store.as_context_mut().0.opaque;
        let info = object(store, self.0)?.type_info();
        let field = FieldType::from_env(info.fields[0]);
        ensure!(field.mutability == Mutability::Var, "the array is immutable");
        let raw = field_raw(store, field, &value)?;
        self.write(store, i, raw)
    }

    /// The reference as an `anyref`.
    pub fn to_anyref(&self) -> AnyRef {
        AnyRef::from_gc(self.0)
    }
}

impl AnyRef {
    /// The struct this is, if it is one.
    pub fn as_struct(&self, store: impl AsContext) -> Result<Option<StructRef>> {
        Ok(match self.gc_ref() {
            Some(g) if !object(&store.as_context().0.opaque, g)?.type_info().is_array() => Some(StructRef(g)),
            _ => None,
        })
    }
    /// The array this is, if it is one.
    pub fn as_array(&self, store: impl AsContext) -> Result<Option<ArrayRef>> {
        Ok(match self.gc_ref() {
            Some(g) if object(&store.as_context().0.opaque, g)?.type_info().is_array() => Some(ArrayRef(g)),
            _ => None,
        })
    }
}

/// A non-null reference of the `eq` hierarchy: an [`I31`](crate::I31) or a GC object (struct or
/// array), which wasm can compare with `ref.eq`. An [`AnyRef`] that is known to be one (host
/// references made internal by `any.convert_extern` are not), rooted as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EqRef(AnyRef);

impl EqRef {
    /// The reference to an `i31`.
    pub fn from_i31(i31: crate::I31) -> EqRef {
        EqRef(AnyRef::from_i31(i31))
    }
    /// The `i31` this reference is, if it is one.
    pub fn as_i31(&self) -> Option<crate::I31> {
        self.0.as_i31()
    }
    /// Whether it is an `i31`.
    pub fn is_i31(&self) -> bool {
        self.0.as_i31().is_some()
    }
    /// Whether it is a struct.
    pub fn is_struct(&self, store: impl AsContext) -> Result<bool> {
        self.0.is_struct(store)
    }
    /// Whether it is an array.
    pub fn is_array(&self, store: impl AsContext) -> Result<bool> {
        self.0.is_array(store)
    }
    /// The struct this is, if it is one.
    pub fn as_struct(&self, store: impl AsContext) -> Result<Option<StructRef>> {
        self.0.as_struct(store)
    }
    /// The array this is, if it is one.
    pub fn as_array(&self, store: impl AsContext) -> Result<Option<ArrayRef>> {
        self.0.as_array(store)
    }
    /// The same reference as an `anyref`.
    pub fn to_anyref(&self) -> AnyRef {
        self.0
    }
}

impl AnyRef {
    /// This reference as an `eqref`, if it is one (an `i31` or a GC object).
    pub fn as_eqref(&self) -> Option<EqRef> {
        self.is_eq().then_some(EqRef(*self))
    }
}

impl StructRef {
    /// The same reference as an `eqref`.
    pub fn to_eqref(&self) -> EqRef {
        EqRef(self.to_anyref())
    }
}

impl ArrayRef {
    /// The same reference as an `eqref`.
    pub fn to_eqref(&self) -> EqRef {
        EqRef(self.to_anyref())
    }
}

impl From<EqRef> for AnyRef {
    fn from(e: EqRef) -> AnyRef {
        e.0
    }
}

impl From<StructRef> for EqRef {
    fn from(s: StructRef) -> EqRef {
        s.to_eqref()
    }
}

impl From<ArrayRef> for EqRef {
    fn from(a: ArrayRef) -> EqRef {
        a.to_eqref()
    }
}

impl From<EqRef> for Val {
    fn from(e: EqRef) -> Val {
        Val::AnyRef(Some(e.0))
    }
}

impl From<StructRef> for Val {
    fn from(s: StructRef) -> Val {
        Val::AnyRef(Some(s.to_anyref()))
    }
}

impl From<ArrayRef> for Val {
    fn from(a: ArrayRef) -> Val {
        Val::AnyRef(Some(a.to_anyref()))
    }
}

/// A GC reference ([`crate::ExternRef`], [`AnyRef`], [`EqRef`], [`StructRef`], [`ArrayRef`])
/// that stays a root for as long as the host keeps it, whatever scope it was made in: the form to
/// keep in host state between calls. Dropping every clone lets the collector free its object;
/// [`OwnedRooted::to_rooted`] gives back a handle rooted in the current scope.
pub struct OwnedRooted<T: RootedKind> {
    store: crate::store::StoreId,
    raw: usize,
    token: Arc<()>,
    _kind: std::marker::PhantomData<fn() -> T>,
}

impl<T: RootedKind> Clone for OwnedRooted<T> {
    fn clone(&self) -> Self {
        OwnedRooted { store: self.store, raw: self.raw, token: self.token.clone(), _kind: std::marker::PhantomData }
    }
}

impl<T: RootedKind> std::fmt::Debug for OwnedRooted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedRooted").field("raw", &self.raw).finish()
    }
}

/// The handles [`OwnedRooted`] can own.
pub trait RootedKind: Sized + private::Sealed {
    #[doc(hidden)]
    fn word(&self, store: &StoreOpaque) -> Result<usize>;
    #[doc(hidden)]
    fn from_word(store: &mut StoreOpaque, word: usize) -> Self;
}

mod private {
    pub trait Sealed {}
    impl Sealed for crate::ExternRef {}
    impl Sealed for crate::AnyRef {}
    impl Sealed for super::EqRef {}
    impl Sealed for super::StructRef {}
    impl Sealed for super::ArrayRef {}
}

impl RootedKind for crate::ExternRef {
    fn word(&self, store: &StoreOpaque) -> Result<usize> {
        self.to_raw(store)
    }
    fn from_word(store: &mut StoreOpaque, word: usize) -> Self {
        crate::ExternRef::from_raw(store, word).expect("owned references are never null")
    }
}

impl RootedKind for AnyRef {
    fn word(&self, store: &StoreOpaque) -> Result<usize> {
        self.to_raw(store)
    }
    fn from_word(store: &mut StoreOpaque, word: usize) -> Self {
        AnyRef::from_raw(store, word).expect("owned references are never null")
    }
}

impl RootedKind for EqRef {
    fn word(&self, store: &StoreOpaque) -> Result<usize> {
        self.0.to_raw(store)
    }
    fn from_word(store: &mut StoreOpaque, word: usize) -> Self {
        EqRef(AnyRef::from_raw(store, word).expect("owned references are never null"))
    }
}

impl RootedKind for StructRef {
    fn word(&self, store: &StoreOpaque) -> Result<usize> {
        Ok(object(store, self.0)?.address())
    }
    fn from_word(store: &mut StoreOpaque, word: usize) -> Self {
        StructRef(GcRef { store: store.id, raw: word, root: store.root(word) })
    }
}

impl RootedKind for ArrayRef {
    fn word(&self, store: &StoreOpaque) -> Result<usize> {
        Ok(object(store, self.0)?.address())
    }
    fn from_word(store: &mut StoreOpaque, word: usize) -> Self {
        ArrayRef(GcRef { store: store.id, raw: word, root: store.root(word) })
    }
}

impl<T: RootedKind> OwnedRooted<T> {
    /// Keeps what `value` refers to alive until the result (and its clones) are dropped.
    pub fn new(mut store: impl AsContextMut, value: &T) -> Result<OwnedRooted<T>> {
        let store = &mut store.as_context_mut().0.opaque;
        let raw = value.word(store)?;
        let token = Arc::new(());
        store.add_owned_root(Arc::downgrade(&token), raw);
        Ok(OwnedRooted { store: store.id, raw, token, _kind: std::marker::PhantomData })
    }

    /// A handle to the same object, rooted in the current scope.
    pub fn to_rooted(&self, mut store: impl AsContextMut) -> Result<T> {
        let store = &mut store.as_context_mut().0.opaque;
        ensure!(store.id == self.store, "OwnedRooted used with the wrong store");
        Ok(T::from_word(store, self.raw))
    }
}
