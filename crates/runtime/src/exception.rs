//! Tags and exception objects, and the store's heap of exception objects.
//!
//! A tag's identity is the address of its [`VMTagDefinition`]: every instance that imports a tag
//! stores the exporter's pointer, and a catch clause matches by comparing pointers. An exception
//! object (what an `exnref` points to) is laid out as `kiln_environ::vmexception` describes.
//!
//! An object's `escaped` flag says how it ends:
//! - clear: it is in flight (thrown, not yet caught), with one user, the unwinding that carries
//!   it; the plain `catch` that consumes it frees it. Such objects are roots of the collector;
//! - set: wasm code got it from `catch_ref`/`catch_all_ref`, or the host saw it (an `ExnRef`, a
//!   thrown or uncaught exception), so references to it may be kept anywhere: in locals,
//!   globals, tables, GC objects, other exceptions' payloads, or the host's rooted handles. The
//!   GC heap's collector marks the objects it reaches and frees the others
//!   ([`ExceptionHeap::sweep`]).
//!
//! Payloads are traced conservatively (each slot is followed only if it is the address of a
//! live object).

use crate::vmcontext::{VMStoreContext, ValRaw};
use kiln_environ::vmexception;
use std::collections::HashMap;

/// The definition of a tag; its address is the tag's identity.
#[repr(C)]
#[derive(Debug)]
pub struct VMTagDefinition {
    /// Engine-wide id of the tag's function type.
    pub type_id: u32,
}

/// The header of an exception object, followed by its payload values.
#[repr(C)]
struct VMExceptionHeader {
    tag: *const VMTagDefinition,
    num_values: u32,
    escaped: u32,
    store_context: *const VMStoreContext,
    slot: usize,
}

const HEADER_SLOTS: usize = vmexception::PAYLOAD as usize / std::mem::size_of::<ValRaw>();
const _: () = assert!(std::mem::size_of::<VMExceptionHeader>() == vmexception::PAYLOAD as usize);
const _: () = assert!(std::mem::offset_of!(VMExceptionHeader, tag) == vmexception::TAG as usize);
const _: () = assert!(std::mem::offset_of!(VMExceptionHeader, num_values) == vmexception::NUM_VALUES as usize);
const _: () = assert!(std::mem::offset_of!(VMExceptionHeader, store_context) == vmexception::STORE_CONTEXT as usize);
const _: () = assert!(std::mem::offset_of!(VMExceptionHeader, escaped) == vmexception::ESCAPED as usize);
const _: () = assert!(std::mem::offset_of!(VMExceptionHeader, slot) == vmexception::SLOT as usize);

/// The exception objects of one store.
#[derive(Debug, Default)]
pub struct ExceptionHeap {
    // Boxed slices: objects never move once allocated. A freed object's slot is `None` and
    // listed in `free` for reuse.
    objects: Vec<Option<Box<[ValRaw]>>>,
    free: Vec<usize>,
    /// Live objects at which the next allocation asks for a collection (0: the minimum).
    collect_at: usize,
}

/// Live exception objects at which allocations start asking for collections. Debug builds ask
/// much sooner, so that tests and fuzzing collect from `ExceptionNew` often.
const MIN_COLLECT_AT: usize = if cfg!(debug_assertions) { 64 } else { 1024 };

impl ExceptionHeap {
    /// Allocates an exception object for `tag` with `num_values` zeroed payload slots and returns
    /// its address.
    pub fn alloc(
        &mut self,
        tag: *const VMTagDefinition,
        num_values: u32,
        store_context: *const VMStoreContext,
    ) -> usize {
        let mut object = vec![ValRaw::default(); HEADER_SLOTS + num_values as usize].into_boxed_slice();
        let slot = self.free.pop().unwrap_or(self.objects.len());
        let header = VMExceptionHeader { tag, num_values, escaped: 0, store_context, slot };
        // SAFETY: the object starts with HEADER_SLOTS 16-byte-aligned slots, which hold the header.
        unsafe { object.as_mut_ptr().cast::<VMExceptionHeader>().write(header) };
        let address = object.as_ptr() as usize;
        if slot == self.objects.len() {
            self.objects.push(Some(object));
        } else {
            self.objects[slot] = Some(object);
        }
        address
    }

    /// Frees the object at `address` if it never escaped (see the module documentation).
    pub fn release_unescaped(&mut self, address: usize) {
        // SAFETY: compiled code passes live objects of this heap.
        let header = unsafe { &*(address as *const VMExceptionHeader) };
        if header.escaped != 0 {
            return;
        }
        let slot = header.slot;
        // Only an object that really sits in that slot is freed.
        if self.objects.get(slot).and_then(Option::as_ref).is_some_and(|o| o.as_ptr() as usize == address) {
            self.objects[slot] = None;
            self.free.push(slot);
        }
    }

    fn header_of(object: &[ValRaw]) -> &VMExceptionHeader {
        // SAFETY: a live object starts with its header.
        unsafe { &*object.as_ptr().cast::<VMExceptionHeader>() }
    }

    /// The slot of every live object, by address: how the collector tells exception references
    /// from GC objects.
    pub fn slots_by_address(&self) -> HashMap<usize, usize> {
        let mut slots = HashMap::with_capacity(self.len());
        for (slot, object) in self.objects.iter().enumerate() {
            if let Some(object) = object {
                slots.insert(object.as_ptr() as usize, slot);
            }
        }
        slots
    }

    /// Number of slots (live or free): the bound of the slots [`ExceptionHeap::slots_by_address`]
    /// gives.
    pub fn slot_count(&self) -> usize {
        self.objects.len()
    }

    /// The slots of the objects that are roots: those in flight.
    pub fn root_slots(&self) -> Vec<usize> {
        let mut roots = Vec::new();
        for (slot, object) in self.objects.iter().enumerate() {
            if let Some(object) = object
                && Self::header_of(object).escaped == 0
            {
                roots.push(slot);
            }
        }
        roots
    }

    /// The payload of the live object in `slot`.
    pub fn payload(&self, slot: usize) -> &[ValRaw] {
        let object = self.objects[slot].as_ref().expect("a live exception object");
        let n = Self::header_of(object).num_values as usize;
        &object[HEADER_SLOTS..HEADER_SLOTS + n]
    }

    /// Frees every escaped object the collection did not mark (`marked`, by slot); returns how
    /// many it freed.
    pub fn sweep(&mut self, marked: &[bool]) -> usize {
        let mut freed = 0;
        for slot in 0..self.objects.len() {
            let Some(object) = &mut self.objects[slot] else { continue };
            let escaped = Self::header_of(object).escaped;
            if escaped != 0 && !marked.get(slot).copied().unwrap_or(false) {
                // Debug builds poison the object, so that a reference the roots missed reads
                // garbage (and the tests fail) should its memory be reused as it was.
                if cfg!(debug_assertions) {
                    object.fill(ValRaw::u128(u128::from_le_bytes([0xa5; 16])));
                }
                self.objects[slot] = None;
                self.free.push(slot);
                freed += 1;
            }
        }
        self.collect_at = (2 * self.len()).max(MIN_COLLECT_AT);
        freed
    }

    /// Whether an allocation should collect first: the live objects have doubled since the last
    /// collection (or reached [`MIN_COLLECT_AT`]).
    pub fn wants_collection(&self) -> bool {
        self.len() >= self.collect_at.max(MIN_COLLECT_AT)
    }

    /// Number of live exception objects.
    pub fn len(&self) -> usize {
        self.objects.len() - self.free.len()
    }

    /// Whether no exception object is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A view of an exception object.
#[derive(Debug, Clone, Copy)]
pub struct ExceptionRef(usize);

impl ExceptionRef {
    /// Views the exception object at `address`.
    ///
    /// # Safety
    ///
    /// `address` must come from [`ExceptionHeap::alloc`] of a live store.
    pub unsafe fn from_address(address: usize) -> ExceptionRef {
        ExceptionRef(address)
    }

    fn header(&self) -> &VMExceptionHeader {
        // SAFETY: `from_address` requires a live object, which starts with its header.
        unsafe { &*(self.0 as *const VMExceptionHeader) }
    }

    /// The thrown tag.
    pub fn tag(&self) -> *const VMTagDefinition {
        self.header().tag
    }

    /// Records that references to the object may be kept (by the host here): from now on only
    /// a collection frees it, once nothing reaches it.
    ///
    /// # Safety
    ///
    /// As for [`ExceptionRef::values_mut`]: no other reference to the header may be live.
    pub unsafe fn mark_escaped(&self) {
        // SAFETY: `from_address` requires a live object; the field is only read by the runtime
        // and compiled code of the same thread.
        unsafe { (*(self.0 as *mut VMExceptionHeader)).escaped |= vmexception::ESCAPED_FLAG };
    }

    /// The store that owns the object.
    pub fn store_context(&self) -> *const VMStoreContext {
        self.header().store_context
    }

    /// The payload values.
    pub fn values(&self) -> &[ValRaw] {
        let n = self.header().num_values as usize;
        // SAFETY: the object holds `n` payload slots after the header.
        unsafe { std::slice::from_raw_parts((self.0 as *const ValRaw).add(HEADER_SLOTS), n) }
    }

    /// The payload values, for writing (host-created exceptions).
    ///
    /// # Safety
    ///
    /// No other reference to the payload may be live.
    pub unsafe fn values_mut(&mut self) -> &mut [ValRaw] {
        let n = self.header().num_values as usize;
        // SAFETY: as in `values`; the caller guarantees exclusivity.
        unsafe { std::slice::from_raw_parts_mut((self.0 as *mut ValRaw).add(HEADER_SLOTS), n) }
    }
}
