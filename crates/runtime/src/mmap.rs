//! Anonymous memory mappings (rustix), reserved inaccessible and opened page by page.

use anyhow::{Context, Result};
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};
use std::ptr::NonNull;

/// The host page size.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// An owned anonymous mapping, initially inaccessible.
#[derive(Debug)]
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a mapping is plain memory; synchronisation is the owner's business.
unsafe impl Send for Mmap {}
// SAFETY: as above.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Reserves `len` bytes (a multiple of the page size) of address space with no access.
    pub fn reserve(len: usize) -> Result<Mmap> {
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::empty(),
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .with_context(|| format!("failed to reserve {len} bytes of address space"))?;
        Ok(Mmap { ptr: NonNull::new(ptr.cast()).context("mmap returned null")?, len })
    }

    /// Makes `[start, start + len)` readable and writable.
    pub fn make_accessible(&self, start: usize, len: usize) -> Result<()> {
        self.protect(start, len, MprotectFlags::READ | MprotectFlags::WRITE)
    }

    /// Makes `[start, start + len)` readable and executable.
    pub fn make_executable(&self, start: usize, len: usize) -> Result<()> {
        self.protect(start, len, MprotectFlags::READ | MprotectFlags::EXEC)
    }

    fn protect(&self, start: usize, len: usize, flags: MprotectFlags) -> Result<()> {
        assert!(start + len <= self.len);
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our own mapping.
        unsafe { rustix::mm::mprotect(self.ptr.as_ptr().add(start).cast(), len, flags) }
            .with_context(|| format!("mprotect of {len} bytes failed"))?;
        Ok(())
    }

    /// Start of the mapping.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Start of the mapping.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: we own the mapping and nothing refers to it any more.
        unsafe {
            let _ = rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
