//! Anonymous memory mappings (rustix), reserved inaccessible and opened page by page, and
//! read-only mappings of whole files ([`FileMap`]).

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

/// A whole file mapped privately and read-only: precompiled modules are used from it in place.
/// Parts of it may later be made executable ([`FileMap::make_executable`]) for code published
/// straight from the file.
///
/// The mapping is private, so nothing this process does changes the file; but a page nobody wrote
/// to shows what the file holds *now*: the file must not be modified in place while it is mapped
/// (kiln itself replaces files by renaming new ones over them).
#[derive(Debug)]
pub struct FileMap {
    ptr: NonNull<u8>,
    len: usize,
    file: std::sync::Arc<std::fs::File>,
}

// SAFETY: the mapping is never written; `make_executable` only changes its protection.
unsafe impl Send for FileMap {}
// SAFETY: as above.
unsafe impl Sync for FileMap {}

impl FileMap {
    /// Maps all of `file`.
    pub fn new(file: std::fs::File) -> Result<FileMap> {
        let len = usize::try_from(file.metadata()?.len()).context("the file does not fit in memory")?;
        if len == 0 {
            return Ok(FileMap { ptr: NonNull::dangling(), len, file: std::sync::Arc::new(file) });
        }
        // SAFETY: a fresh private mapping of a file aliases no Rust object.
        let ptr = unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ, MapFlags::PRIVATE, &file, 0) }
            .context("failed to map the file")?;
        Ok(FileMap {
            ptr: NonNull::new(ptr.cast()).context("mmap returned null")?,
            len,
            file: std::sync::Arc::new(file),
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes are mapped readable for as long as `self` lives and never written.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped file (memory images are mapped from it too).
    pub fn file(&self) -> &std::sync::Arc<std::fs::File> {
        &self.file
    }

    /// Makes `[start, start + len)` (`start` page-aligned) inaccessible and returns its address:
    /// code checked chunk by chunk when first touched starts so ([`crate::code`]).
    pub fn make_inaccessible(&self, start: usize, len: usize) -> Result<*const u8> {
        anyhow::ensure!(
            start.is_multiple_of(page_size()) && len > 0 && start.checked_add(len).is_some_and(|end| end <= self.len),
            "code at {start:#x}+{len:#x} cannot be mapped from the file"
        );
        let size = len.next_multiple_of(page_size());
        // SAFETY: the range lies inside the mapping (its last page is mapped whole).
        let at = unsafe { self.ptr.as_ptr().add(start) };
        // SAFETY: as above; nothing reads the range until it is made accessible again.
        unsafe { rustix::mm::mprotect(at.cast(), size, MprotectFlags::empty()) }
            .with_context(|| format!("mprotect of {size} bytes of a mapped file failed"))?;
        Ok(at)
    }

    /// Makes `[start, start + len)` (`start` page-aligned) read + execute and returns its
    /// address. The bytes do not change: only their protection does.
    ///
    /// # Safety
    ///
    /// The range becomes code: the caller vouches for what it contains.
    pub unsafe fn make_executable(&self, start: usize, len: usize) -> Result<*const u8> {
        anyhow::ensure!(
            start.is_multiple_of(page_size()) && len > 0 && start.checked_add(len).is_some_and(|end| end <= self.len),
            "code at {start:#x}+{len:#x} cannot be mapped from the file"
        );
        let size = len.next_multiple_of(page_size());
        // SAFETY: the range lies inside the mapping (its last page is mapped whole).
        let at = unsafe { self.ptr.as_ptr().add(start) };
        // SAFETY: as above; adding execute permission leaves the bytes as they are.
        unsafe { rustix::mm::mprotect(at.cast(), size, MprotectFlags::READ | MprotectFlags::EXEC) }
            .with_context(|| format!("mprotect of {size} bytes of a mapped file failed"))?;
        Ok(at)
    }
}

impl AsRef<[u8]> for FileMap {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl Drop for FileMap {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: we own the mapping and nothing refers to it any more (borrowers hold an Arc).
            unsafe {
                let _ = rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len);
            }
        }
    }
}
