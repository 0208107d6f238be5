//! Copy-on-write memory images: a module's initial memory contents in a sealed memfd (or in the
//! precompiled file the module was loaded from), mapped privately into each new instance's
//! memory, so instantiation copies nothing and pages are faulted in (shared until written) only
//! when touched.

use anyhow::{Context, Result};
use std::io::Write;
use std::os::fd::AsFd;

/// A sealed memfd of `len` bytes written by `fill` through a shared mapping, without a copy: a
/// compressed cache entry is decompressed straight into one, which is then mapped like any
/// precompiled file (its code published where it lies, its images mapped copy-on-write).
pub fn filled_memfd(name: &str, len: usize, fill: impl FnOnce(&mut [u8]) -> Result<()>) -> Result<std::fs::File> {
    use rustix::mm::{MapFlags, ProtFlags};
    let file = memfd::MemfdOptions::default()
        .allow_sealing(true)
        .close_on_exec(true)
        .create(name)
        .with_context(|| format!("failed to create a memfd for {name}"))?;
    file.as_file().set_len(len as u64)?;
    if len > 0 {
        // SAFETY: a fresh shared mapping of a memfd created above, which nothing else maps.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                // Every page is about to be written: populating them in one go is cheaper than
                // a fault per page.
                MapFlags::SHARED | MapFlags::POPULATE,
                file.as_file().as_fd(),
                0,
            )
        }
        .with_context(|| format!("failed to map {len} bytes for {name}"))?;
        // SAFETY: the mapping is `len` bytes, readable and writable, and only this slice refers
        // to it until it is unmapped below.
        let filled = fill(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) });
        // SAFETY: the mapping made above; the slice given to `fill` is gone.
        unsafe { rustix::mm::munmap(ptr, len) }.context("munmap failed")?;
        filled?;
    }
    file.add_seals(&[memfd::FileSeal::SealShrink, memfd::FileSeal::SealGrow])?;
    // As for images: the write seal may be refused (EBUSY) while pages are still pinned; nothing
    // writes to the file after this anyway.
    let _ = file.add_seal(memfd::FileSeal::SealWrite);
    file.add_seal(memfd::FileSeal::SealSeal)?;
    Ok(file.into_file())
}

/// The initial contents of one linear memory, from offset 0.
#[derive(Debug)]
pub struct MemoryImage {
    source: Source,
    len: usize,
}

#[derive(Debug)]
enum Source {
    /// A sealed memfd holding the image from offset 0.
    Memfd(memfd::Memfd),
    /// A page-aligned range of a precompiled file (see [`crate::FileMap`] for why it must not be
    /// modified in place).
    File(std::sync::Arc<std::fs::File>, u64),
}

impl MemoryImage {
    /// An image of `bytes` (padded to whole pages). The file is sealed against resizing and, when
    /// the kernel lets it, writing.
    pub fn new(bytes: &[u8]) -> Result<MemoryImage> {
        let len = bytes.len().next_multiple_of(crate::mmap::page_size());
        let file = memfd::MemfdOptions::default()
            .allow_sealing(true)
            .close_on_exec(true)
            .create("kiln-memory-image")
            .context("failed to create a memory image")?;
        file.as_file().set_len(len as u64)?;
        file.as_file().write_all(bytes)?;
        file.add_seals(&[memfd::FileSeal::SealShrink, memfd::FileSeal::SealGrow])?;
        // Sealing writes waits for the pages just written to be unpinned and fails with EBUSY
        // while another CPU's page batches still hold them (seen under load). The seal only
        // guards against writes through this file, which nothing makes (the mappings are
        // private), so an image without it is as good. (The kernel already waited before
        // failing: no retry.)
        let _ = file.add_seal(memfd::FileSeal::SealWrite);
        file.add_seal(memfd::FileSeal::SealSeal)?;
        Ok(MemoryImage { source: Source::Memfd(file), len })
    }

    /// The image stored at `offset` (page-aligned) of `file`, `len` bytes (a multiple of the
    /// page size, inside the file).
    pub fn from_file(file: std::sync::Arc<std::fs::File>, offset: u64, len: usize) -> Result<MemoryImage> {
        let page = crate::mmap::page_size();
        anyhow::ensure!(
            offset.is_multiple_of(page as u64)
                && len.is_multiple_of(page)
                && offset + len as u64 <= file.metadata()?.len(),
            "a memory image at {offset:#x}+{len:#x} cannot be mapped from the file"
        );
        Ok(MemoryImage { source: Source::File(file, offset), len })
    }

    /// The image's bytes, read back from its file.
    pub fn contents(&self) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut bytes = vec![0; self.len];
        match &self.source {
            Source::Memfd(file) => file.as_file().read_exact_at(&mut bytes, 0)?,
            Source::File(file, offset) => file.read_exact_at(&mut bytes, *offset)?,
        }
        Ok(bytes)
    }

    /// Length in bytes (a multiple of the page size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the image is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maps the image privately (copy on write) at `base`, replacing what was there.
    ///
    /// # Safety
    ///
    /// `[base, base + len)` must lie in a reservation the caller owns and nothing may refer to
    /// its current contents.
    pub(crate) unsafe fn map_at(&self, base: *mut u8) -> Result<()> {
        use rustix::mm::{MapFlags, ProtFlags};
        let (fd, offset) = match &self.source {
            Source::Memfd(file) => (file.as_file().as_fd(), 0),
            Source::File(file, offset) => (file.as_fd(), *offset),
        };
        // SAFETY: the caller owns the range; MAP_FIXED replaces its current mapping.
        unsafe {
            rustix::mm::mmap(
                base.cast(),
                self.len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::FIXED,
                fd,
                offset,
            )
        }
        .context("failed to map a memory image")?;
        Ok(())
    }
}
