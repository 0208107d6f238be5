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
    /// Creates an exception of `tag` with payload `fields`, for a host function to throw;
    /// rooted in the current scope.
    pub fn new(mut store: impl AsContextMut, tag: &Tag, fields: &[Val]) -> Result<ExnRef> {
        let store = &mut store.as_context_mut().0.opaque;
        // SAFETY: no wasm runs while we hold `&mut` to the store.
        if unsafe { (*store.store_ctx.exceptions.get()).wants_collection() } {
            store.gc();
        }
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
        unsafe { ExceptionRef::from_address(raw).values_mut().copy_from_slice(&raws) };
        // The host holds it from the start: it escapes, and is rooted in this scope.
        Ok(ExnRef::from_raw(store, raw).expect("a new exception is not null"))
    }

    /// The object, if this handle belongs to `store` and its scope has not ended.
    fn object(&self, store: &StoreOpaque) -> Result<ExceptionRef> {
        let raw = self.to_raw(store)?;
        // SAFETY: a rooted exception reference of this store points at a live object.
        Ok(unsafe { ExceptionRef::from_address(raw) })
    }

    /// The exception's tag. Fails if the handle's scope has ended or it belongs to another
    /// store.
    pub fn tag(&self, mut store: impl AsContextMut) -> Result<Tag> {
        let store = &mut store.as_context_mut().0.opaque;
        let definition = self.object(store)?.tag();
        let index = store.tag_handle_of(definition).expect("exception of a tag unknown to its store");
        Ok(Tag { store: store.id, index })
    }

    /// The exception's payload values, typed by its tag. Fails as [`ExnRef::tag`] does.
    pub fn fields(&self, mut store: impl AsContextMut) -> Result<Vec<Val>> {
        let store = &mut store.as_context_mut().0.opaque;
        let object = self.object(store)?;
        let index = store.tag_handle_of(object.tag()).expect("exception of a tag unknown to its store");
        let params: Vec<_> = store.tags[index].ty.ty.params().collect();
        let raws = object.values().to_vec();
        Ok(raws.into_iter().zip(params).map(|(raw, ty)| Val::from_raw(store, raw, ty)).collect())
    }
}

/// An exception on its way through the host: returned (inside the error chain) by a call whose
/// exception no wasm handler caught, and returned by a host function to throw into wasm.
///
/// It keeps its exception object alive for as long as it (or a clone) exists, whatever the
/// scopes: an owned root, like [`crate::OwnedRooted`]. Once it is dropped, a collection frees
/// the object if nothing else reaches it.
#[derive(Debug, Clone)]
pub struct ThrownException {
    store: StoreId,
    raw: usize,
    /// The owned root's token: the store's weak twin of it roots `raw`.
    _root: std::sync::Arc<()>,
    tag_name: String,
}

impl ThrownException {
    /// An exception for a host function to throw: `return Err(ThrownException::new(&mut caller,
    /// exn)?.into())`. Fails if `exn`'s scope has ended or it belongs to another store.
    pub fn new(mut store: impl AsContextMut, exn: ExnRef) -> Result<ThrownException> {
        let store = &mut store.as_context_mut().0.opaque;
        let raw = exn.to_raw(store)?;
        Ok(ThrownException::from_raw(store, raw))
    }

    /// The error for exception object `raw` of `store`, which no wasm handler caught (or which a
    /// host function throws).
    pub(crate) fn from_raw(store: &mut StoreOpaque, raw: usize) -> ThrownException {
        // SAFETY: `raw` is a live exception object of `store`.
        let object = unsafe { ExceptionRef::from_address(raw) };
        // References to it may be kept now: only a collection frees it.
        // SAFETY: no other reference to the object's header is live while the host runs.
        unsafe { object.mark_escaped() };
        let root = std::sync::Arc::new(());
        store.add_owned_root(std::sync::Arc::downgrade(&root), raw);
        let tag_name = store.tag_name_of(object.tag());
        ThrownException { store: store.id, raw, _root: root, tag_name }
    }

    /// The exception, as a handle rooted in `store`'s current scope. Fails if it belongs to
    /// another store.
    pub fn exnref(&self, mut store: impl AsContextMut) -> Result<ExnRef> {
        let store = &mut store.as_context_mut().0.opaque;
        if store.id != self.store {
            bail!("exception used with the wrong store");
        }
        Ok(ExnRef::from_raw(store, self.raw).expect("thrown exceptions are not null"))
    }

    /// How the tag is named in messages.
    pub fn tag_name(&self) -> &str {
        &self.tag_name
    }

    /// The raw object, if `error` carries an exception of this store.
    pub(crate) fn find_in(error: &anyhow::Error, store: StoreId) -> Option<usize> {
        error.chain().find_map(|e| e.downcast_ref::<ThrownException>()).filter(|t| t.store == store).map(|t| t.raw)
    }
}

impl fmt::Display for ThrownException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exception of tag {} was not caught", self.tag_name)
    }
}

impl std::error::Error for ThrownException {}
