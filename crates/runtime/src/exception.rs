//! Tags and exception objects, and the store's heap of exception objects.
//!
//! A tag's identity is the address of its [`VMTagDefinition`]: every instance that imports a tag
//! stores the exporter's pointer, and a catch clause matches by comparing pointers. An exception
//! object (what an `exnref` points to) is laid out as `kiln_environ::vmexception` describes. The
//! objects live until their store is dropped: there is no collector yet, so a store that throws
//! without end grows without end (as under a null collector).

use crate::vmcontext::{VMStoreContext, ValRaw};
use kiln_environ::vmexception;

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
}

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

    /// Calls `f` with the payload of every live exception object.
    pub fn for_each_payload(&self, f: &mut dyn FnMut(&[ValRaw])) {
        for object in self.objects.iter().flatten() {
            // SAFETY: a live object starts with its header, whose count bounds its payload.
            let n = unsafe { (*object.as_ptr().cast::<VMExceptionHeader>()).num_values } as usize;
            f(&object[HEADER_SLOTS..HEADER_SLOTS + n]);
        }
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

    /// Records that a reference to the object may be kept (it will not be freed before the
    /// store).
    ///
    /// # Safety
    ///
    /// As for [`ExceptionRef::values_mut`]: no other reference to the header may be live.
    pub unsafe fn mark_escaped(&self) {
        // SAFETY: `from_address` requires a live object; the field is only read by the runtime
        // and compiled code of the same thread.
        unsafe { (*(self.0 as *mut VMExceptionHeader)).escaped = 1 };
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
