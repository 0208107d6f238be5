//! Executable code memory and the process-wide registry of code ranges that the signal handler
//! consults to tell a wasm trap from a host crash.

use crate::mmap::{FileMap, Mmap};
use crate::sidetable::CompactMap;
use anyhow::{Context, Result, bail};
use kiln_environ::{Builtin, FuncNames, Trap};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};

/// Metadata about one blob of compiled code, for trap lookup and backtraces.
#[derive(Debug, Default)]
pub struct CodeInfo {
    /// Faulting instruction offset -> trap code ([`Trap::as_u8`]).
    pub traps: CompactMap,
    /// Code range of each defined function.
    pub functions: Vec<Range<u32>>,
    /// Code offset -> wasm offset of the instruction that starts there.
    pub address_map: CompactMap,
    /// Sorted by return address: `(return address offset, landing offset, frame pointer minus
    /// stack pointer at the call)` of every call made inside a `try_table`.
    pub handlers: Vec<(u32, u32, u32)>,
    /// Sorted by return address: the stack-pointer offsets of the slots that hold garbage-
    /// collectable references across each call that has any.
    pub stack_maps: Vec<(u32, Vec<u32>)>,
    /// Set for component adapters: an exception that reaches one of their frames stops there and
    /// leaves to the host as uncaught, since exceptions must not cross component boundaries.
    pub exception_barrier: std::sync::atomic::AtomicBool,
    /// Index of the first defined function in the module's function index space.
    pub first_defined_func: u32,
    /// Module name, for backtraces.
    pub module_name: Option<String>,
    /// Function names by function index, for backtraces.
    pub func_names: FuncNames,
}

impl CodeInfo {
    /// The trap recorded at `offset`, if any.
    pub fn trap_at(&self, offset: u32) -> Option<Trap> {
        Trap::from_u8(u8::try_from(self.traps.get(offset)?).ok()?)
    }

    /// The landing block and frame offset of the call whose return address is at `return_offset`,
    /// if that call was made inside a `try_table`.
    pub fn handler_at(&self, return_offset: u32) -> Option<(u32, u32)> {
        let i = self.handlers.binary_search_by_key(&return_offset, |(o, _, _)| *o).ok()?;
        let (_, landing, frame) = self.handlers[i];
        Some((landing, frame))
    }

    /// The stack map of the call whose return address is at `return_offset`, if it has one.
    pub fn stack_map_at(&self, return_offset: u32) -> Option<&[u32]> {
        let i = self.stack_maps.binary_search_by_key(&return_offset, |(o, _)| *o).ok()?;
        Some(&self.stack_maps[i].1)
    }

    /// The defined function containing `offset`.
    pub fn defined_func_at(&self, offset: u32) -> Option<u32> {
        let i = self.functions.partition_point(|r| r.end <= offset);
        let range = self.functions.get(i)?;
        range.contains(&offset).then_some(i as u32)
    }

    /// The wasm offset of the instruction containing `offset`.
    pub fn wasm_offset_at(&self, offset: u32) -> Option<u32> {
        self.address_map.last_at_or_before(offset)
    }
}

/// Where code lives: its own anonymous mapping, or a range of a mapped precompiled file.
enum Backing {
    Anonymous(Mmap),
    /// The mapping is only held to keep the code mapped.
    File {
        _map: Arc<FileMap>,
        base: *const u8,
    },
}

/// Compiled code mapped read+execute, registered for trap handling while alive.
pub struct CodeMemory {
    backing: Backing,
    len: usize,
    /// The builtin relocations that were patched, kept so the code can be serialized again.
    relocs: Vec<(u32, Builtin)>,
    info: Arc<CodeInfo>,
}

// SAFETY: the mapping is immutable after publication.
unsafe impl Send for CodeMemory {}
// SAFETY: as above.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// Copies `code` into fresh memory, patches the absolute relocations to builtins, makes it
    /// executable and registers it.
    pub fn new(code: &[u8], relocs: &[(u32, Builtin)], info: CodeInfo) -> Result<CodeMemory> {
        if code.is_empty() {
            let mmap = Mmap::reserve(crate::mmap::page_size())?;
            return Ok(CodeMemory {
                backing: Backing::Anonymous(mmap),
                len: 0,
                relocs: Vec::new(),
                info: Arc::new(info),
            });
        }
        let size = code.len().next_multiple_of(crate::mmap::page_size());
        let mut mmap = Mmap::reserve(size).context("failed to allocate code memory")?;
        mmap.make_accessible(0, size)?;
        // SAFETY: the mapping is `size >= code.len()` bytes, readable and writable, and ours alone.
        let bytes = unsafe { std::slice::from_raw_parts_mut(mmap.as_mut_ptr(), size) };
        bytes[..code.len()].copy_from_slice(code);
        for (offset, builtin) in relocs {
            let at = *offset as usize;
            if at + 8 > code.len() {
                bail!("relocation at {at:#x} lies outside the code");
            }
            let address = crate::libcalls::builtin_address(*builtin) as u64;
            bytes[at..at + 8].copy_from_slice(&address.to_le_bytes());
        }
        mmap.make_executable(0, size)?;
        let info = Arc::new(info);
        register(mmap.as_ptr() as usize, mmap.as_ptr() as usize + code.len(), info.clone());
        Ok(CodeMemory { backing: Backing::Anonymous(mmap), len: code.len(), relocs: relocs.to_vec(), info })
    }

    /// Publishes the code at `[start, start + len)` of a mapped precompiled file where it lies:
    /// the range is made executable, nothing is copied, and pages are read from the file only when
    /// run. `start` must be page-aligned and the code must have no relocations (they would have to
    /// be written into it); callers fall back to [`CodeMemory::new`] otherwise.
    ///
    /// # Safety
    ///
    /// The range must hold code compiled for this process's configuration: it will be executed.
    pub unsafe fn from_file(map: Arc<FileMap>, start: usize, len: usize, info: CodeInfo) -> Result<CodeMemory> {
        // SAFETY: the caller vouches for the code.
        let base = unsafe { map.make_executable(start, len)? };
        let info = Arc::new(info);
        register(base as usize, base as usize + len, info.clone());
        Ok(CodeMemory { backing: Backing::File { _map: map, base }, len, relocs: Vec::new(), info })
    }

    /// The code as loaded, with each builtin relocation's 8 bytes zeroed (the address they held is
    /// only valid in this process): what [`CodeMemory::new`] accepts again with [`Self::relocs`].
    pub fn unrelocated_code(&self) -> Vec<u8> {
        // SAFETY: the first `len` bytes of the mapping hold the code and stay readable (read +
        // execute) and unchanged for as long as `self` lives.
        let mut code = unsafe { std::slice::from_raw_parts(self.base(), self.len) }.to_vec();
        for (offset, _) in &self.relocs {
            // `new` checked that every relocation lies inside the code.
            let at = *offset as usize;
            code[at..at + 8].fill(0);
        }
        code
    }

    /// The builtin relocations applied to the code, sorted by offset.
    pub fn relocs(&self) -> &[(u32, Builtin)] {
        &self.relocs
    }

    /// Start of the code.
    pub fn base(&self) -> *const u8 {
        match &self.backing {
            Backing::Anonymous(mmap) => mmap.as_ptr(),
            Backing::File { base, .. } => *base,
        }
    }

    /// Length of the code in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no code.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The registered metadata.
    pub fn info(&self) -> &Arc<CodeInfo> {
        &self.info
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        if self.len > 0 {
            unregister(self.base() as usize);
        }
    }
}

/// Registered code: start -> (end, info).
static REGISTRY: RwLock<BTreeMap<usize, (usize, Arc<CodeInfo>)>> = RwLock::new(BTreeMap::new());

fn register(start: usize, end: usize, info: Arc<CodeInfo>) {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner()).insert(start, (end, info));
}

fn unregister(start: usize) {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner()).remove(&start);
}

/// Looks up which registered code contains `pc` and calls `f` with its info and the offset of `pc`.
///
/// Called from the signal handler: it takes a read lock (no allocation). A writer on another thread
/// only delays it; this thread cannot hold the lock while running wasm.
pub fn with_code_at<R>(pc: usize, f: impl FnOnce(&CodeInfo, u32) -> R) -> Option<R> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let (start, (end, info)) = registry.range(..=pc).next_back()?;
    if pc >= *end {
        return None;
    }
    Some(f(info, (pc - start) as u32))
}
