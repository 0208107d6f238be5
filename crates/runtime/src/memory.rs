//! Linear memories: a fixed reservation opened as the memory grows, so the base never moves.

use crate::mmap::{Mmap, page_size};
use crate::vmcontext::VMMemoryDefinition;
use anyhow::{Result, bail};
use kiln_environ::{MemoryType, WASM_PAGE_SIZE, WASM32_MAX_PAGES};

/// Bytes reserved for every 32-bit memory: its whole 4 GiB index space.
const RESERVATION: usize = 1 << 32;
/// Guard region after the reservation, covering any static offset (up to 4 GiB) of a load or store.
const GUARD: usize = 1 << 32;

/// A linear memory. `#[repr(C)]` with the definition first, so a `*mut LinearMemory` is also the
/// `*mut VMMemoryDefinition` that compiled code reads.
#[repr(C)]
#[derive(Debug)]
pub struct LinearMemory {
    definition: VMMemoryDefinition,
    mmap: Mmap,
    maximum_pages: u64,
    ty: MemoryType,
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
        if ty.memory64 || ty.shared {
            bail!("unsupported feature: 64-bit or shared memories");
        }
        let mut maximum_pages = ty.maximum.unwrap_or(WASM32_MAX_PAGES).min(WASM32_MAX_PAGES);
        if let Some(limit) = limit_bytes {
            maximum_pages = maximum_pages.min(limit / WASM_PAGE_SIZE);
        }
        if ty.minimum > maximum_pages {
            bail!("memory minimum size of {} pages exceeds the memory limit of {} pages", ty.minimum, maximum_pages);
        }
        let reserve = RESERVATION + if guard_pages { GUARD } else { page_size() };
        let mut mmap = Mmap::reserve(reserve)?;
        let initial = (ty.minimum * WASM_PAGE_SIZE) as usize;
        match image {
            Some(image) if !image.is_empty() && image.len() <= initial => {
                // SAFETY: the image's range lies at the start of our fresh reservation.
                unsafe { image.map_at(mmap.as_mut_ptr())? };
                mmap.make_accessible(image.len(), initial - image.len())?;
            }
            _ => mmap.make_accessible(0, initial)?,
        }
        let base = mmap.as_mut_ptr();
        Ok(Box::new(LinearMemory {
            definition: VMMemoryDefinition { base, current_length: initial },
            mmap,
            maximum_pages,
            ty: *ty,
        }))
    }

    /// The definition compiled code reads.
    pub fn definition(&mut self) -> *mut VMMemoryDefinition {
        &mut self.definition
    }

    /// The memory's type (with its current minimum).
    pub fn ty(&self) -> MemoryType {
        MemoryType { minimum: self.pages(), ..self.ty }
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        self.definition.current_length as u64 / WASM_PAGE_SIZE
    }

    /// Current size in bytes.
    pub fn byte_size(&self) -> usize {
        self.definition.current_length
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None` if it cannot grow.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.maximum_pages {
            return None;
        }
        let old_len = self.definition.current_length;
        let new_len = (new * WASM_PAGE_SIZE) as usize;
        if new_len > old_len {
            self.mmap.make_accessible(old_len, new_len - old_len).ok()?;
        }
        self.definition.current_length = new_len;
        Some(old)
    }

    /// The memory's bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: `[base, base + current_length)` is mapped readable and writable.
        unsafe { std::slice::from_raw_parts(self.definition.base, self.definition.current_length) }
    }

    /// The memory's bytes, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, and we hold `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.definition.base, self.definition.current_length) }
    }
}
