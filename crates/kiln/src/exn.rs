//! Exception handling in the API: [`Tag`], [`TagType`], exception references' contents, and
//! [`ThrownException`], the error that carries an exception across the host.
//!
//! An exception that no wasm handler catches comes out of a call as an error whose root cause is
//! [`crate::Trap::UncaughtException`] and which contains a [`ThrownException`] naming the tag. A
//! host function throws into wasm by returning a `ThrownException` as its error; an error that
//! merely wraps one (a host function that propagates a nested call's uncaught exception with `?`)
//! rethrows it too.

use crate::store::{AsContext, AsContextMut, StoreId, StoreOpaque};
use crate::types::FuncType;
use crate::values::{ExnRef, Val};
use anyhow::{Result, bail};
use kiln_runtime::{ExceptionRef, VMTagDefinition};
use std::fmt;

/// The type of a tag: the parameters of its exceptions' payload (a function type with no results).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagType {
    ty: FuncType,
}

impl TagType {
    /// A tag type with the parameters of `ty`, which must have no results.
    pub fn new(ty: FuncType) -> Result<TagType> {
        if ty.results().len() != 0 {
            bail!("a tag's function type must have no results, found {}", ty.results().len());
        }
        Ok(TagType { ty })
    }

    pub(crate) fn from_func_type(ty: FuncType) -> TagType {
        TagType { ty }
    }

    /// The tag's function type (its parameters are the payload).
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }
}

impl fmt::Display for TagType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tag (param")?;
        for p in self.ty.params() {
            write!(f, " {p}")?;
        }
        write!(f, ")")
    }
}

pub(crate) struct TagData {
    pub(crate) ty: TagType,
    pub(crate) definition: *const VMTagDefinition,
    /// How errors name the tag: its export name or its index in the defining module.
    pub(crate) name: String,
}

/// An exception tag, defined by a module instance or by the host. A store gives each tag one
/// handle, so `==` tells whether two handles are the same tag (an instance's import of a tag is
/// the exporter's tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag {
    pub(crate) store: StoreId,
    pub(crate) index: usize,
}

impl Tag {
    /// Defines a host tag: exceptions thrown with it match only catch clauses for this tag (or for
    /// a module's import of it).
    pub fn new(mut store: impl AsContextMut, ty: &TagType) -> Result<Tag> {
        let store = &mut store.as_context_mut().0.opaque;
        let type_id = store.engine.type_id(ty.ty.env());
        let definition = Box::new(VMTagDefinition { type_id });
        let name = format!("host tag #{}", store.tags.len());
        Ok(Tag { store: store.id, index: store.push_host_tag(definition, ty.clone(), name) })
    }

    fn data<'a>(&self, store: &'a StoreOpaque) -> &'a TagData {
        assert_eq!(store.id, self.store, "tag used with the wrong store");
        &store.tags[self.index]
    }

    /// The tag's type.
    pub fn ty(&self, store: impl AsContext) -> TagType {
        self.data(&store.as_context().0.opaque).ty.clone()
    }

    pub(crate) fn ty_in(&self, store: &StoreOpaque) -> TagType {
        self.data(store).ty.clone()
    }

    pub(crate) fn definition(&self, store: &StoreOpaque) -> *const VMTagDefinition {
        self.data(store).definition
    }
}

impl ExnRef {
    /// Creates an exception of `tag` with payload `fields`, for a host function to throw.
    pub fn new(mut store: impl AsContextMut, tag: &Tag, fields: &[Val]) -> Result<ExnRef> {
        let store = &mut store.as_context_mut().0.opaque;
        let data = tag.data(store);
        let params: Vec<_> = data.ty.ty.params().collect();
        if params.len() != fields.len() {
            bail!("tag takes {} payload values, {} given", params.len(), fields.len());
        }
        for (i, (field, ty)) in fields.iter().zip(&params).enumerate() {
            if !field.matches_ty(ty) {
                bail!("payload value {i} has type {}, the tag expects {ty}", field.ty());
            }
        }
        let definition = data.definition;
        let raws = fields.iter().map(|f| f.to_raw(store)).collect::<Result<Vec<_>>>()?;
        let store_ctx = store.store_ctx_ptr();
        // SAFETY: the store context is live and no wasm runs while we hold `&mut` to the store.
        let heap = unsafe { &mut *store.store_ctx.exceptions.get() };
        let raw = heap.alloc(definition, raws.len() as u32, store_ctx);
        // SAFETY: just allocated with room for `raws.len()` values; nothing else refers to it yet.
        // The host holds the reference, so it escapes from the start.
        unsafe {
            let mut object = ExceptionRef::from_address(raw);
            object.values_mut().copy_from_slice(&raws);
            object.pin_for_host();
        }
        Ok(ExnRef { store: store.id, raw })
    }

    fn object(&self, store: &StoreOpaque) -> ExceptionRef {
        assert_eq!(store.id, self.store, "exception reference used with the wrong store");
        // SAFETY: exception objects live as long as their store, which `store` is.
        unsafe { ExceptionRef::from_address(self.raw) }
    }

    /// The exception's tag.
    pub fn tag(&self, mut store: impl AsContextMut) -> Tag {
        let store = &mut store.as_context_mut().0.opaque;
        let definition = self.object(store).tag();
        let index = store.tag_handle_of(definition).expect("exception of a tag unknown to its store");
        Tag { store: store.id, index }
    }

    /// The exception's payload values, typed by its tag.
    pub fn fields(&self, mut store: impl AsContextMut) -> Vec<Val> {
        let store = &mut store.as_context_mut().0.opaque;
        let object = self.object(store);
        let index = store.tag_handle_of(object.tag()).expect("exception of a tag unknown to its store");
        let params: Vec<_> = store.tags[index].ty.ty.params().collect();
        let raws = object.values().to_vec();
        raws.into_iter().zip(params).map(|(raw, ty)| Val::from_raw(store, raw, ty)).collect()
    }
}

/// An exception on its way through the host: returned (inside the error chain) by a call whose
/// exception no wasm handler caught, and returned by a host function to throw into wasm.
#[derive(Debug, Clone)]
pub struct ThrownException {
    exn: ExnRef,
    tag_name: String,
}

impl ThrownException {
    /// An exception for a host function to throw: `return Err(ThrownException::new(&mut caller,
    /// exn).into())`.
    pub fn new(store: impl AsContext, exn: ExnRef) -> ThrownException {
        ThrownException::new_in(&store.as_context().0.opaque, exn)
    }

    pub(crate) fn from_raw(store: &StoreOpaque, raw: usize) -> ThrownException {
        ThrownException::new_in(store, ExnRef { store: store.id, raw })
    }

    fn new_in(store: &StoreOpaque, exn: ExnRef) -> ThrownException {
        let object = exn.object(store);
        // The host holds it now: it must outlive any catch that consumes it.
        // SAFETY: no other reference to the object's header is live while the host runs.
        unsafe { object.pin_for_host() };
        let tag_name = store.tag_name_of(object.tag());
        ThrownException { exn, tag_name }
    }

    /// The exception.
    pub fn exnref(&self) -> ExnRef {
        self.exn
    }

    /// How the tag is named in messages.
    pub fn tag_name(&self) -> &str {
        &self.tag_name
    }

    /// The raw object, if `error` carries an exception of this store.
    pub(crate) fn find_in(error: &anyhow::Error, store: StoreId) -> Option<usize> {
        error
            .chain()
            .find_map(|e| e.downcast_ref::<ThrownException>())
            .filter(|t| t.exn.store == store)
            .map(|t| t.exn.raw)
    }
}

impl fmt::Display for ThrownException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exception of tag {} was not caught", self.tag_name)
    }
}

impl std::error::Error for ThrownException {}
