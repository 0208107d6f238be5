//! Linear memories: a fixed reservation opened as the memory grows, so the base never moves.
//!
//! 32-bit memories with 64 KiB pages reserve their whole 4 GiB index space plus a guard region,
//! so compiled code needs no bounds checks. 64-bit memories and memories with 1-byte pages are
//! bounds-checked by compiled code; they reserve their maximum size up to [`MAX_CHECKED_RESERVATION`]
//! and cannot grow past it. Shared memories (threads) may be grown by several threads at once:
//! growth is serialised by a lock and the new length is published atomically.

use crate::mmap::{Mmap, page_size};
use crate::vmcontext::VMMemoryDefinition;
use anyhow::{Result, bail};
use kiln_environ::MemoryType;
use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes reserved for every guard-page-covered memory: its whole 4 GiB index space.
const RESERVATION: usize = 1 << 32;
/// Guard region after the reservation, covering any static offset (up to 4 GiB) of a load or store.
const GUARD: usize = 1 << 32;
/// The largest reservation of an explicitly bounds-checked memory (64-bit or 1-byte pages): such a
/// memory never grows beyond 8 GiB.
pub const MAX_CHECKED_RESERVATION: u64 = 8 << 30;

/// A linear memory.
///
/// Compiled code reads the memory's `VMMemoryDefinition` (base and length) at
/// [`LinearMemory::definition_ptr`]. That is the memory's own `own_definition` until the instance
/// that owns an unshared memory moves it into its `VMContext` ([`LinearMemory::place_definition`]),
/// where compiled code loads the base with one load; growth always writes the live definition, so
/// every instance that imports the memory (given `definition_ptr`) sees the new length.
#[derive(Debug)]
pub struct LinearMemory {
    own_definition: UnsafeCell<VMMemoryDefinition>,
    /// The inline definition in the owning `VMContext`, once placed there; `own_definition` is
    /// used until then (found afresh each time, so moving the memory is harmless).
    placed_definition: Option<NonNull<VMMemoryDefinition>>,
    mmap: Mmap,
    maximum_pages: u64,
    ty: MemoryType,
    /// Bytes currently mapped readable and writable (a multiple of the host page size); held while
    /// growing.
    accessible: Mutex<usize>,
}

// SAFETY: the definition is only written under the `accessible` lock (growth), with an atomic store
// of the length; the base never changes. A placed definition lives in the owning instance's
// `VMContext`, which outlives the memory. Shared memories are used from several threads; the bytes
// themselves are wasm's to race on, as the threads proposal allows.
unsafe impl Sync for LinearMemory {}
// SAFETY: as above; nothing is tied to the creating thread.
unsafe impl Send for LinearMemory {}

fn round_up_to_host_page(bytes: u64) -> Result<usize> {
    let page = page_size() as u64;
    let rounded = bytes.checked_next_multiple_of(page).ok_or_else(|| anyhow::anyhow!("memory size overflows"))?;
    usize::try_from(rounded).map_err(|_| anyhow::anyhow!("memory size overflows the host address space"))
}

impl LinearMemory {
    /// Creates a memory of type `ty`; `limit_bytes` caps its size (the embedder's limit).
    pub fn new(ty: &MemoryType, guard_pages: bool, limit_bytes: Option<u64>) -> Result<Box<LinearMemory>> {
        Self::with_image(ty, guard_pages, limit_bytes, None)
    }

    /// Creates a memory whose first bytes come from `image` (mapped copy-on-write). The image
    /// must fit in the memory's initial size.
    pub fn with_image(
        ty: &MemoryType,
        guard_pages: bool,
        limit_bytes: Option<u64>,
        image: Option<&crate::MemoryImage>,
    ) -> Result<Box<LinearMemory>> {
        let log2 = u32::from(ty.page_size_log2);
        let mut maximum_pages = ty.maximum.unwrap_or(u64::MAX).min(ty.max_pages_for_index());
        if let Some(limit) = limit_bytes {
            maximum_pages = maximum_pages.min(limit >> log2);
        }
        let reserve = if ty.guard_pages_cover() {
            RESERVATION + if guard_pages { GUARD } else { page_size() }
        } else {
            let max_bytes = maximum_pages.saturating_mul(ty.page_size()).min(MAX_CHECKED_RESERVATION);
            maximum_pages = maximum_pages.min(max_bytes >> log2);
            // One inaccessible host page after the end catches nothing compiled code relies on, but
            // keeps the mapping non-empty for zero-sized memories.
            round_up_to_host_page(max_bytes)? + page_size()
        };
        if ty.minimum > maximum_pages {
            bail!("memory minimum size of {} pages exceeds the memory limit of {} pages", ty.minimum, maximum_pages);
        }
        let mmap = Mmap::reserve(reserve)?;
        let initial = (ty.minimum << log2) as usize;
        let accessible = round_up_to_host_page(initial as u64)?;
        match image {
            Some(image) if !image.is_empty() && image.len() <= initial => {
                // SAFETY: the image's range lies at the start of our fresh reservation.
                unsafe { image.map_at(mmap.as_ptr().cast_mut())? };
                mmap.make_accessible(image.len(), accessible - image.len())?;
            }
            _ => mmap.make_accessible(0, accessible)?,
        }
        let base = mmap.as_ptr().cast_mut();
        Ok(Box::new(LinearMemory {
            own_definition: UnsafeCell::new(VMMemoryDefinition { base, current_length: initial }),
            placed_definition: None,
            mmap,
            maximum_pages,
            ty: *ty,
            accessible: Mutex::new(accessible),
        }))
    }

    /// The definition compiled code reads: what an instance importing this memory stores in its
    /// `VMContext`.
    pub fn definition_ptr(&self) -> *mut VMMemoryDefinition {
        match self.placed_definition {
            Some(placed) => placed.as_ptr(),
            None => self.own_definition.get(),
        }
    }

    /// Moves the live definition to `at` (the inline slot of the owning instance's `VMContext`),
    /// copying the current one there. Called once, before any code or importer has seen the
    /// memory.
    ///
    /// # Safety
    ///
    /// `at` must be aligned, valid for reads and writes, and outlive this memory; nothing else may
    /// write to it.
    pub unsafe fn place_definition(&mut self, at: *mut VMMemoryDefinition) {
        debug_assert!(!self.ty.shared, "shared memories keep their own definition");
        // SAFETY: `&mut self` excludes concurrent growth; the caller vouches for `at`.
        unsafe { at.write(VMMemoryDefinition { base: self.base(), current_length: self.byte_size() }) };
        self.placed_definition = NonNull::new(at);
    }

    fn length_cell(&self) -> &AtomicUsize {
        // SAFETY: `current_length` is a properly aligned usize that lives as long as `self` (see
        // `place_definition`); every concurrent access to it goes through atomics (compiled code's
        // plain loads of a word-sized aligned value are atomic on the supported hosts).
        unsafe { AtomicUsize::from_ptr(&raw mut (*self.definition_ptr()).current_length) }
    }

    /// The memory's type (with its current minimum).
    pub fn ty(&self) -> MemoryType {
        MemoryType { minimum: self.pages(), ..self.ty }
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        self.byte_size() as u64 >> self.ty.page_size_log2
    }

    /// Current size in bytes.
    pub fn byte_size(&self) -> usize {
        self.length_cell().load(Ordering::Acquire)
    }

    /// The largest size in pages this memory can reach.
    pub fn maximum_pages(&self) -> u64 {
        self.maximum_pages
    }

    /// Whether this is a shared memory.
    pub fn is_shared(&self) -> bool {
        self.ty.shared
    }

    /// The first byte of the memory.
    pub fn base(&self) -> *mut u8 {
        // SAFETY: the base is written once, at creation (and copied by `place_definition`).
        unsafe { (*self.definition_ptr()).base }
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None` if it cannot grow.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        let mut accessible = self.accessible.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.maximum_pages {
            return None;
        }
        let new_len = usize::try_from(new << self.ty.page_size_log2).ok()?;
        let new_accessible = round_up_to_host_page(new_len as u64).ok()?;
        if new_accessible > *accessible {
            self.mmap.make_accessible(*accessible, new_accessible - *accessible).ok()?;
            *accessible = new_accessible;
        }
        self.length_cell().store(new_len, Ordering::Release);
        Some(old)
    }

    /// The memory's bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: `[base, base + current_length)` is mapped readable and writable.
        unsafe { std::slice::from_raw_parts(self.base(), self.byte_size()) }
    }

    /// The memory's bytes, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, and we hold `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.base(), self.byte_size()) }
    }
}
