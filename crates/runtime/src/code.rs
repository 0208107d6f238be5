//! Executable code memory and the process-wide registry of code ranges that the signal handler
//! consults to tell a wasm trap from a host crash.
//!
//! Code published from a mapped precompiled file ([`CodeMemory::from_file`]) is checked lazily:
//! it starts inaccessible, and the first access to each [`CHUNK`] (running it or reading it) faults
//! into the signal handler, which checks that chunk against its recorded XXH64 and makes it
//! executable, or stops the process with a message if it is corrupt. Loading a large module thus
//! reads only the chunks its run touches, and corrupt code never runs.

use crate::mmap::{FileMap, Mmap};
use crate::sidetable::{CompactMap, StackMaps};
use anyhow::{Context, Result, bail};
use kiln_environ::{Builtin, FuncNames, SharedBytes, Trap};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

/// Code of a mapped file is checked in chunks of this many bytes.
pub const CHUNK: usize = kiln_environ::CHECK_CHUNK;

/// Metadata about one blob of compiled code, for trap lookup and backtraces.
#[derive(Debug, Default)]
pub struct CodeInfo {
    /// Faulting instruction offset -> trap code ([`Trap::as_u8`]).
    pub traps: CompactMap,
    /// Code range of each defined function.
    pub functions: Vec<Range<u32>>,
    /// Code offset -> wasm offset of the instruction that starts there.
    pub address_map: CompactMap,
    /// Every call made inside a `try_table`, by return address offset.
    pub handlers: HandlerTable,
    /// Sorted by return address: the stack-pointer offsets of the slots that hold garbage-
    /// collectable references across each call that has any.
    pub stack_maps: StackMaps,
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

/// The calls made inside a `try_table`: for each return address offset, the landing block's
/// offset and the frame pointer minus the stack pointer at the call, in two compact maps (how
/// they are stored and loaded), decoded into one sorted array the first time an exception
/// unwinds through the code (a throw looks up every frame it passes).
#[derive(Debug, Default, Clone)]
pub struct HandlerTable {
    /// Return address offset -> landing block offset.
    pub landings: CompactMap,
    /// Return address offset -> frame pointer minus stack pointer at the call.
    pub frames: CompactMap,
    /// `(return offset, landing, frame)`, sorted: the two maps decoded, on first use.
    decoded: std::sync::OnceLock<Box<[(u32, u32, u32)]>>,
}

impl HandlerTable {
    /// The table of `(return address offset, landing offset, frame offset)` entries, sorted by
    /// return address.
    pub fn new(entries: &[(u32, u32, u32)]) -> HandlerTable {
        let landings: Vec<(u32, u32)> = entries.iter().map(|(r, l, _)| (*r, *l)).collect();
        let frames: Vec<(u32, u32)> = entries.iter().map(|(r, _, f)| (*r, *f)).collect();
        HandlerTable::from_maps(CompactMap::new(&landings), CompactMap::new(&frames))
    }

    /// The table over its two maps (as a precompiled file stores them).
    pub fn from_maps(landings: CompactMap, frames: CompactMap) -> HandlerTable {
        HandlerTable { landings, frames, decoded: std::sync::OnceLock::new() }
    }

    /// The landing block and frame offset recorded for return offset `return_offset`. Not for
    /// signal handlers: the first call decodes the table (allocating).
    pub fn get(&self, return_offset: u32) -> Option<(u32, u32)> {
        let decoded = self.decoded.get_or_init(|| self.iter().collect());
        let i = decoded.binary_search_by_key(&return_offset, |e| e.0).ok()?;
        Some((decoded[i].1, decoded[i].2))
    }

    /// Number of calls.
    pub fn len(&self) -> usize {
        self.landings.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.landings.is_empty()
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        self.landings.iter().zip(self.frames.iter()).map(|((r, l), (_, f))| (r, l, f))
    }
}

impl CodeInfo {
    /// The trap recorded at `offset`, if any.
    pub fn trap_at(&self, offset: u32) -> Option<Trap> {
        Trap::from_u8(u8::try_from(self.traps.get(offset)?).ok()?)
    }

    /// The landing block and frame offset of the call whose return address is at `return_offset`,
    /// if that call was made inside a `try_table`.
    ///
    /// The unwinder jumps to the landing block, so it must lie in the function that made the
    /// call: that is checked here, at use, rather than for every entry when code is loaded.
    pub fn handler_at(&self, return_offset: u32) -> Option<(u32, u32)> {
        let (landing, frame) = self.handlers.get(return_offset)?;
        let caller = self.functions.get(self.functions.partition_point(|f| f.end < return_offset))?;
        let inside = caller.start < return_offset && return_offset <= caller.end && caller.contains(&landing);
        inside.then_some((landing, frame))
    }

    /// The stack map of the call whose return address is at `return_offset`, if it has one.
    pub fn stack_map_at(&self, return_offset: u32) -> Option<Vec<u32>> {
        self.stack_maps.get(return_offset)
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
    pub fn new(code: &[u8], relocs: &[(u32, Builtin)], info: impl Into<Arc<CodeInfo>>) -> Result<CodeMemory> {
        let info = info.into();
        if code.is_empty() {
            let mmap = Mmap::reserve(crate::mmap::page_size())?;
            return Ok(CodeMemory { backing: Backing::Anonymous(mmap), len: 0, relocs: Vec::new(), info });
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
    ///
    /// With `lazy`, the chunk hashes (one little-endian XXH64 per [`CHUNK`]) and the message to
    /// print if one does not match, the code is checked chunk by chunk when first touched (see
    /// the module documentation); without, it must have been checked already.
    pub unsafe fn from_file(
        map: Arc<FileMap>,
        start: usize,
        len: usize,
        info: impl Into<Arc<CodeInfo>>,
        lazy: Option<(SharedBytes, String)>,
    ) -> Result<CodeMemory> {
        let info = info.into();
        let base = match lazy {
            Some((hashes, message)) => {
                let chunks = len.div_ceil(CHUNK);
                anyhow::ensure!(len > 0 && hashes.len() == 8 * chunks, "the code's chunk hashes do not match its size");
                let code = map.bytes().get(start..start + len).context("the code lies outside the file")?;
                // The last page of the code may also hold other bytes of the file (the next
                // module's tables), which must stay readable: the last chunk is checked now and
                // made executable at once; only the chunks before it wait for their first touch.
                let last = chunks - 1;
                let expected = hashes
                    .get(8 * last..8 * last + 8)
                    .and_then(|h| <[u8; 8]>::try_from(h).ok())
                    .map(u64::from_le_bytes);
                if expected != Some(kiln_environ::xxh64(&code[last * CHUNK..])) {
                    anyhow::bail!("{message} (the code's last chunk, at offset {:#x})", last * CHUNK);
                }
                // Find out now whether the file system lets its pages execute (a `noexec` mount
                // does not), rather than when the first chunk is checked.
                // SAFETY: the last chunk's bytes were just checked against their hash.
                let base = unsafe { map.make_executable(start + last * CHUNK, len - last * CHUNK)? }
                    .wrapping_sub(last * CHUNK);
                let state: Box<[AtomicU8]> =
                    (0..chunks).map(|i| AtomicU8::new(if i == last { CHECKED } else { UNCHECKED })).collect();
                let message = format!("kiln: {message}\n").into_bytes().into_boxed_slice();
                let lazy = Arc::new(LazyCheck { base: base as usize, len, hashes, state, message });
                // Registered before any page becomes inaccessible, so that a fault on one from
                // another thread already finds it.
                register_lazy(base as usize, base as usize + len, info.clone(), Some(lazy));
                if last > 0
                    && let Err(e) = map.make_inaccessible(start, last * CHUNK)
                {
                    unregister(base as usize);
                    return Err(e);
                }
                base
            }
            None => {
                // SAFETY: the caller vouches for the code.
                let base = unsafe { map.make_executable(start, len)? };
                register_lazy(base as usize, base as usize + len, info.clone(), None);
                base
            }
        };
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

const UNCHECKED: u8 = 0;
const CHECKING: u8 = 1;
const CHECKED: u8 = 2;
const CORRUPT: u8 = 3;

/// Code of a mapped file whose chunks are checked when first touched.
struct LazyCheck {
    base: usize,
    len: usize,
    /// One little-endian XXH64 per chunk.
    hashes: SharedBytes,
    state: Box<[AtomicU8]>,
    /// Printed (with the chunk's offset) before stopping the process when a chunk is corrupt.
    message: Box<[u8]>,
}

impl LazyCheck {
    /// Checks chunk `i` and makes it executable. Returns whether the faulting access may be
    /// retried: false if the chunk is corrupt. Async-signal-safe: atomics, `mprotect` and
    /// arithmetic only.
    fn check_chunk(&self, i: usize) -> bool {
        let Some(state) = self.state.get(i) else { return false };
        match state.compare_exchange(UNCHECKED, CHECKING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {}
            // Another thread is checking it (the access faults again until it is done), or it
            // was made executable after this access faulted.
            Err(CHECKING | CHECKED) => return true,
            Err(_) => return false,
        }
        let start = self.base + i * CHUNK;
        let len = CHUNK.min(self.len - i * CHUNK);
        let size = len.next_multiple_of(crate::mmap::page_size());
        use rustix::mm::MprotectFlags as F;
        // SAFETY: the chunk lies inside the code's range of the mapping, which its `CodeMemory`
        // keeps alive while it is registered; nothing can read it before this check completes.
        let readable = unsafe { rustix::mm::mprotect(start as *mut _, size, F::READ) }.is_ok();
        let expected = self.hashes.get(8 * i..8 * i + 8).map(|h| u64::from_le_bytes(h.try_into().unwrap_or([0; 8])));
        let intact = readable && {
            // SAFETY: the chunk is readable now, and nothing writes it.
            let bytes = unsafe { std::slice::from_raw_parts(start as *const u8, len) };
            expected == Some(kiln_environ::xxh64(bytes))
        };
        if intact {
            // SAFETY: as above; making checked code executable is the point.
            if unsafe { rustix::mm::mprotect(start as *mut _, size, F::READ | F::EXEC) }.is_ok() {
                state.store(CHECKED, Ordering::Release);
                return true;
            }
        }
        // SAFETY: as above; the corrupt chunk becomes inaccessible again.
        let _ = unsafe { rustix::mm::mprotect(start as *mut _, size, F::empty()) };
        state.store(CORRUPT, Ordering::Release);
        false
    }
}

/// What a fault at an address means for lazily checked code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCheck {
    /// The address is not in lazily checked code.
    NotLazy,
    /// The chunk was checked (now or by another thread): retry the access.
    Retry,
    /// The chunk is corrupt: it stays inaccessible.
    Corrupt,
}

/// Handles a fault at `addr`: if it lies in lazily checked code, checks its chunk. Called from
/// the signal handler, which turns `Corrupt` into a trap when wasm was running (see
/// [`abort_corrupt`] otherwise).
pub fn check_on_fault(addr: usize) -> FaultCheck {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let Some((start, (end, _, Some(lazy)))) = registry.range(..=addr).next_back() else { return FaultCheck::NotLazy };
    if addr >= *end {
        return FaultCheck::NotLazy;
    }
    let chunk = (addr - start) / CHUNK;
    if lazy.check_chunk(chunk) { FaultCheck::Retry } else { FaultCheck::Corrupt }
}

/// Prints the message of the corrupt code at `addr` and aborts: for a corrupt chunk touched
/// outside a wasm call, where no error can be returned.
pub fn abort_corrupt(addr: usize) -> ! {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    if let Some((_, (_, _, Some(lazy)))) = registry.range(..=addr).next_back() {
        // SAFETY: write(2) is async-signal-safe; the message outlives the call.
        unsafe { libc::write(2, lazy.message.as_ptr().cast(), lazy.message.len()) };
    }
    // SAFETY: abort(3) is async-signal-safe.
    unsafe { libc::abort() }
}

/// Registered code: start -> (end, info, lazy check).
type Registry = BTreeMap<usize, (usize, Arc<CodeInfo>, Option<Arc<LazyCheck>>)>;
static REGISTRY: RwLock<Registry> = RwLock::new(BTreeMap::new());

fn register(start: usize, end: usize, info: Arc<CodeInfo>) {
    register_lazy(start, end, info, None);
}

fn register_lazy(start: usize, end: usize, info: Arc<CodeInfo>, lazy: Option<Arc<LazyCheck>>) {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner()).insert(start, (end, info, lazy));
}

fn unregister(start: usize) {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner()).remove(&start);
}

/// Lookups of many addresses under one read lock of the registry, remembering the last code
/// found (a walk over a stack mostly stays in one module): what an exception's unwinding uses
/// for every frame it passes. Not for signal handlers (use [`with_code_at`]); the lock is held
/// until this is dropped, so it must be dropped before control leaves by a jump.
pub struct CodeLookup {
    registry: std::sync::RwLockReadGuard<'static, Registry>,
    /// Start, end and info of the code found last.
    last: std::cell::Cell<Option<(usize, usize, *const CodeInfo)>>,
}

impl CodeLookup {
    /// Takes the registry's read lock.
    pub fn new() -> CodeLookup {
        CodeLookup { registry: REGISTRY.read().unwrap_or_else(|e| e.into_inner()), last: std::cell::Cell::new(None) }
    }

    /// The code containing `pc` and the offset of `pc` in it.
    pub fn find(&self, pc: usize) -> Option<(&CodeInfo, u32)> {
        let (start, info) = match self.last.get() {
            Some((start, end, info)) if (start..end).contains(&pc) => (start, info),
            _ => {
                let (start, (end, info, _)) = self.registry.range(..=pc).next_back()?;
                if pc >= *end {
                    return None;
                }
                let info: *const CodeInfo = Arc::as_ptr(info);
                self.last.set(Some((*start, *end, info)));
                (*start, info)
            }
        };
        // SAFETY: `info` points into an `Arc` held by the registry, which the read lock in
        // `self` keeps from changing; the reference does not outlive `self`.
        Some((unsafe { &*info }, (pc - start) as u32))
    }
}

impl Default for CodeLookup {
    fn default() -> CodeLookup {
        CodeLookup::new()
    }
}

/// Looks up which registered code contains `pc` and calls `f` with its info and the offset of `pc`.
///
/// Called from the signal handler: it takes a read lock (no allocation). A writer on another thread
/// only delays it; this thread cannot hold the lock while running wasm.
pub fn with_code_at<R>(pc: usize, f: impl FnOnce(&CodeInfo, u32) -> R) -> Option<R> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let (start, (end, info, _)) = registry.range(..=pc).next_back()?;
    if pc >= *end {
        return None;
    }
    Some(f(info, (pc - start) as u32))
}
