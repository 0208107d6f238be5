//! The GC heap: struct and array objects of the GC proposal, and their mark-sweep collector.
//!
//! Objects are laid out as `kiln_environ::vmgc` describes (an 8-byte header: the type's engine id
//! and the collector's bits) and never move: a reference is the object's address, and compiled
//! code reads fields with one load. Small objects are cells of size-class blocks, large ones are
//! allocated one by one (see [`GcHeap`]). When the heap would grow past a threshold (1.5 times
//! what the last collection kept, at least [`GcHeap::MIN_THRESHOLD`]), the allocation collects
//! first:
//!
//! - **roots**: the store gives them through its roots hook ([`GcHeap::set_roots_hook`]): globals,
//!   tables, passive element segments, the host's rooted handles, and the wasm frames of every
//!   activation on the stack (through the stack maps compiled code records at each call); and
//!   the exception objects in flight or pinned by the host (see `crate::exception`);
//! - **mark**: from each root, through the reference fields the type descriptors list;
//! - **sweep**: every unmarked object is freed: large ones at once, cells block by block when
//!   their size class needs them (lazily).
//!
//! A word is a GC object when it is non-zero and its two low bits are clear: i31s are odd and
//! host references end in `0b10` (see `kiln_environ::vmgc`). Exception references are addresses
//! too, of objects outside this heap: the marker tells them apart by looking them up among the
//! store's exception objects, marks them, and follows their payloads as untyped words (each
//! followed only if it is the address of a live object). The sweep frees the exception objects
//! only wasm held and the marker did not reach.
//!
//! Nothing here may run compiled code or call the host, except the destructors of dead
//! externrefs' host values, which run at the end of a collection, once the heap is consistent.

use crate::vmcontext::ValRaw;
use kiln_environ::{Trap, WasmCompositeType, WasmFieldType, WasmStorageType, vmgc};
use std::alloc::Layout;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The descriptor of a struct or array type that every object of the type points to (see
/// `kiln_environ::vmgc`). Built once per engine type and never freed while its engine lives.
#[repr(C)]
#[derive(Debug)]
pub struct VMGcTypeInfo {
    display_len: u32,
    kind: u32,
    display: *const u32,
    /// The type's engine-wide id.
    pub engine_id: u32,
    /// Struct: the object's size in bytes. Array: the header's.
    pub size: u32,
    /// Array: bytes per element.
    pub elem_size: u32,
    /// Array: whether elements are references the collector follows.
    pub elem_is_ref: bool,
    /// Struct: offsets of the reference fields the collector follows.
    pub ref_offsets: Box<[u32]>,
    /// Struct: offset of every field.
    pub field_offsets: Box<[u32]>,
    /// The fields (struct) or the element (array).
    pub fields: Box<[WasmFieldType]>,
    display_storage: Box<[u32]>,
}

// SAFETY: the display pointer points into `display_storage`, owned by the same value and never
// written after construction.
unsafe impl Send for VMGcTypeInfo {}
// SAFETY: as above; the descriptor is immutable.
unsafe impl Sync for VMGcTypeInfo {}

const _: () = assert!(std::mem::offset_of!(VMGcTypeInfo, display_len) == vmgc::INFO_DISPLAY_LEN as usize);
const _: () = assert!(std::mem::offset_of!(VMGcTypeInfo, kind) == vmgc::INFO_KIND as usize);
const _: () = assert!(std::mem::offset_of!(VMGcTypeInfo, display) == vmgc::INFO_DISPLAY as usize);

impl VMGcTypeInfo {
    /// The descriptor of struct or array type `engine_id`, whose supertype chain (root first,
    /// ending with `engine_id`) is `display`. `None` for function types.
    /// `has_descriptor`: its objects hold a descriptor reference (custom descriptors), which the
    /// collector follows too.
    pub fn new(
        engine_id: u32,
        display: Vec<u32>,
        composite: &WasmCompositeType,
        has_descriptor: bool,
    ) -> Option<Box<VMGcTypeInfo>> {
        let display_storage: Box<[u32]> = display.into();
        let (kind, size, elem_size, elem_is_ref, ref_offsets, field_offsets, fields) = match composite {
            WasmCompositeType::Func(_) => return None,
            WasmCompositeType::Struct(fields) => {
                let (offsets, size) = kiln_environ::struct_field_offsets(fields, has_descriptor);
                let refs = fields.iter().zip(&offsets).filter(|(f, _)| f.storage.is_gc_ref()).map(|(_, o)| *o);
                let refs = has_descriptor.then_some(vmgc::DESCRIPTOR).into_iter().chain(refs);
                (vmgc::KIND_STRUCT, size, 0, false, refs.collect(), offsets.into(), fields.clone())
            }
            WasmCompositeType::Array(elem) => (
                vmgc::KIND_ARRAY,
                vmgc::ARRAY_HEADER_SIZE,
                elem.storage.size(),
                elem.storage.is_gc_ref(),
                Box::default(),
                Box::default(),
                Box::from([*elem]),
            ),
        };
        Some(Box::new(VMGcTypeInfo {
            display_len: display_storage.len() as u32,
            kind,
            display: display_storage.as_ptr(),
            engine_id,
            size,
            elem_size,
            elem_is_ref,
            ref_offsets,
            field_offsets,
            fields,
            display_storage,
        }))
    }

    /// Whether this is an array type.
    pub fn is_array(&self) -> bool {
        self.kind == vmgc::KIND_ARRAY
    }

    /// The supertype chain, root first, ending with this type.
    pub fn display(&self) -> &[u32] {
        &self.display_storage
    }

    /// Whether objects of this type are objects of type `engine_id` whose depth is `depth`.
    pub fn is_subtype_of(&self, engine_id: u32, depth: usize) -> bool {
        self.display_storage.get(depth) == Some(&engine_id)
    }
}

/// The engine's descriptor of each type id (`null` for function types and unregistered ids):
/// what an object's header names. Fixed in size (`vmgc::MAX_TYPES` entries, committed by the
/// system only where written), so its address never changes and compiled code indexes it.
pub struct GcTypeTable {
    entries: Box<[std::sync::atomic::AtomicPtr<VMGcTypeInfo>]>,
}

impl std::fmt::Debug for GcTypeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcTypeTable").finish_non_exhaustive()
    }
}

impl Default for GcTypeTable {
    fn default() -> Self {
        // SAFETY: a zeroed `AtomicPtr` is a valid null pointer.
        let entries = unsafe { Box::new_zeroed_slice(vmgc::MAX_TYPES).assume_init() };
        GcTypeTable { entries }
    }
}

impl GcTypeTable {
    /// Records the descriptor of type `id`; false if `id` is beyond the table.
    pub fn set(&self, id: u32, info: &Arc<VMGcTypeInfo>) -> bool {
        match self.entries.get(id as usize) {
            Some(entry) => {
                entry.store(Arc::as_ptr(info).cast_mut(), std::sync::atomic::Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// The descriptor of type `id`, if it is a registered struct or array type.
    pub fn get(&self, id: u32) -> Option<&VMGcTypeInfo> {
        let ptr = self.entries.get(id as usize)?.load(std::sync::atomic::Ordering::Acquire);
        // SAFETY: entries point at descriptors the engine keeps (in `Arc`s) as long as itself,
        // and the table belongs to the engine.
        unsafe { ptr.as_ref() }
    }

    /// The table's address, for compiled code.
    pub fn base(&self) -> *const usize {
        self.entries.as_ptr().cast()
    }
}

/// Whether `word` (a reference of the `any` or `extern` hierarchies) is a GC object's address.
pub fn is_gc_object(word: usize) -> bool {
    word != 0 && word & 3 == 0
}

/// A view of a live GC object.
#[derive(Debug, Clone, Copy)]
pub struct GcObject(usize, *const GcTypeTable);

impl GcObject {
    /// Views the object at `address`, whose type id `types` describes.
    ///
    /// # Safety
    ///
    /// `address` must be a live object of a [`GcHeap`] of an engine whose table is `types`.
    pub unsafe fn from_address(address: usize, types: &GcTypeTable) -> GcObject {
        GcObject(address, types)
    }

    /// The object's address (the reference's word).
    pub fn address(self) -> usize {
        self.0
    }

    /// The object's type id.
    pub fn type_id(self) -> u32 {
        // SAFETY: a live object starts with its header.
        unsafe { *((self.0 + vmgc::TYPE_ID as usize) as *const u32) }
    }

    /// The object's type descriptor.
    pub fn type_info(self) -> &'static VMGcTypeInfo {
        // SAFETY: a live object's type id is a registered struct or array type of the engine
        // whose table this is; descriptors live as long as the engine, which outlives the store
        // that owns the object (the `'static` is that promise).
        unsafe { &*((*self.1).get(self.type_id()).expect("objects have registered types") as *const VMGcTypeInfo) }
    }

    /// An array's length (0 for structs).
    pub fn len(self) -> u32 {
        if !self.type_info().is_array() {
            return 0;
        }
        // SAFETY: an array's header holds its length.
        unsafe { *((self.0 + vmgc::LENGTH as usize) as *const u32) }
    }

    /// Whether the array is empty.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The object's size in bytes.
    pub fn size(self) -> usize {
        let info = self.type_info();
        info.size as usize + self.len() as usize * info.elem_size as usize
    }

    /// Pointer to the byte at `offset` of the object.
    pub fn field_ptr(self, offset: u32) -> *mut u8 {
        (self.0 + offset as usize) as *mut u8
    }
}

/// What a roots hook reports its roots to.
pub trait RootSink {
    /// A word of a reference type of the `any` or `extern` hierarchies (a GC object, an i31, a
    /// host reference or null).
    fn typed(&mut self, word: usize);
    /// A word that may or may not be a reference (an exception payload slot): followed only if
    /// it is the address of a live object.
    fn untyped(&mut self, word: usize);
}

/// The function that reports a store's roots: called with the store's opaque pointer.
pub type RootsHook = unsafe fn(*mut u8, &mut dyn RootSink);

/// A host value an `externref` stands for.
pub type HostValue = Box<dyn std::any::Any + Send + Sync>;

/// What a host reference counts for in the heap's bytes (its slot and box, roughly): enough that
/// a program passing ever more of them collects.
const HOST_REF_BYTES: usize = 64;

/// Small objects live in blocks of this many bytes (aligned to it), each block holding cells of
/// one size class.
const BLOCK_SIZE: usize = 64 << 10;

/// `gc_bits`: reached by the current collection.
const MARK: u32 = 1;
/// `gc_bits`: a free cell (on its class's free list).
const FREE: u32 = 2;
/// `gc_bits`: (debug builds) a cell freed by the last collection, poisoned, and kept off the free
/// lists until the next one.
const QUARANTINE: u32 = 4;

/// A block of small-object cells.
#[derive(Debug)]
struct Block {
    base: usize,
    class: usize,
}

impl Block {
    fn cell_size(&self) -> usize {
        vmgc::cell_size(self.class) as usize
    }
    fn cells(&self) -> impl Iterator<Item = usize> + '_ {
        let size = self.cell_size();
        (0..BLOCK_SIZE / size).map(move |i| self.base + i * size)
    }
}

fn block_layout() -> Layout {
    Layout::from_size_align(BLOCK_SIZE, BLOCK_SIZE).expect("a valid block layout")
}

/// The GC objects and host references of one store.
///
/// Objects of at most `vmgc::MAX_SMALL` bytes are cells of blocks, one block per size class;
/// each class has a free list whose head lives in the store context, so compiled code pops a
/// cell inline (`kiln_environ::vmstore_context::GC_FREE_LISTS`) and calls the allocating builtin
/// only when the list is empty. Free cells are zero except for the link in their first word and
/// the `FREE` bit, so an allocation writes only the header and the fields it sets. Larger objects
/// are allocated one by one. A collection marks from the roots, then sweeps every block: dead
/// cells are zeroed and linked into the free lists, and empty blocks are given back. Sweeping is
/// lazy: a collection only marks, and each block is swept when its class's free list runs dry
/// (just before its cells are reused, so they are in the cache), or before the next collection.
pub struct GcHeap {
    /// The free lists' heads, in the store context.
    free_lists: *mut [usize; vmgc::NUM_CLASSES],
    /// The engine's type table (what objects' type ids index).
    types: *const GcTypeTable,
    /// The size class of each block, by base address.
    blocks: HashMap<usize, usize>,
    /// Per size class, the blocks not yet swept since the last collection.
    unswept: Vec<Vec<usize>>,
    /// Empty blocks kept for reuse (giving them back and taking new ones costs page faults).
    spare: Vec<usize>,
    /// Large objects (allocated one by one).
    large: Vec<usize>,
    /// The bytes their allocations take.
    large_bytes: usize,
    /// Freed large allocations kept for reuse, as (bytes, address): giving memory back and
    /// taking it again costs page faults.
    large_spare: Vec<(usize, usize)>,
    /// The host values of `externref`s: a host reference's word is `((index + 1) << 2) | 2`.
    host_refs: Vec<Option<HostValue>>,
    /// Free slots of `host_refs`.
    host_free: Vec<u32>,
    /// Collect before the heap grows past this.
    threshold: usize,
    /// The most bytes the heap may take (`Config::gc_heap_limit`).
    limit: usize,
    roots_hook: Option<(RootsHook, *mut u8)>,
    /// The store's exception objects, which collections mark and sweep too (null: none).
    exceptions: *mut crate::ExceptionHeap,
    /// Collections are postponed while this is non-zero (instantiation: its objects are not yet
    /// reachable from any root).
    inhibit: u32,
    /// Number of collections so far.
    pub collections: u64,
    /// The largest pause so far, in nanoseconds.
    pub max_pause_ns: u64,
    /// The most bytes the heap took at once.
    pub peak_bytes: usize,
}

impl std::fmt::Debug for GcHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcHeap")
            .field("blocks", &self.blocks.len())
            .field("large", &self.large.len())
            .finish_non_exhaustive()
    }
}

impl Default for GcHeap {
    fn default() -> Self {
        GcHeap {
            free_lists: std::ptr::null_mut(),
            types: std::ptr::null(),
            blocks: HashMap::new(),
            unswept: vec![Vec::new(); vmgc::NUM_CLASSES],
            spare: Vec::new(),
            large: Vec::new(),
            large_bytes: 0,
            large_spare: Vec::new(),
            host_refs: Vec::new(),
            host_free: Vec::new(),
            threshold: GcHeap::MIN_THRESHOLD,
            limit: usize::MAX,
            roots_hook: None,
            exceptions: std::ptr::null_mut(),
            inhibit: 0,
            collections: 0,
            max_pause_ns: 0,
            peak_bytes: 0,
        }
    }
}

impl Drop for GcHeap {
    fn drop(&mut self) {
        for &o in &self.large {
            // SAFETY: every listed large object is live and was allocated with its layout.
            let bytes = large_alloc_size(unsafe { GcObject::from_address(o, &*self.types) }.size());
            self.large_spare.push((bytes, o));
        }
        for &(bytes, o) in &self.large_spare {
            // SAFETY: allocated with this layout and no longer used.
            unsafe { std::alloc::dealloc(o as *mut u8, large_layout(bytes)) };
        }
        for base in self.blocks.keys().copied().chain(self.spare.iter().copied()) {
            // SAFETY: blocks were allocated with the block layout.
            unsafe { std::alloc::dealloc(base as *mut u8, block_layout()) };
        }
    }
}

/// The bytes a large object of `size` bytes takes: whole pages, so that freed ones can be
/// reused for objects of similar sizes.
fn large_alloc_size(size: usize) -> usize {
    size.next_multiple_of(4096)
}

fn large_layout(alloc_size: usize) -> Layout {
    Layout::from_size_align(alloc_size, 16).expect("object sizes are bounded")
}

fn gc_bits(cell: usize) -> *mut u32 {
    (cell + vmgc::GC_BITS as usize) as *mut u32
}

impl GcHeap {
    /// The least heap size at which collections start.
    pub const MIN_THRESHOLD: usize = 4 << 20;

    /// Sets where the free lists' heads live (the store context, which compiled code reads).
    ///
    /// # Safety
    ///
    /// `free_lists` must be zeroed and stay valid (and not move) as long as the heap.
    pub unsafe fn set_free_lists(&mut self, free_lists: *mut [usize; vmgc::NUM_CLASSES]) {
        self.free_lists = free_lists;
    }

    /// Sets the engine's type table.
    ///
    /// # Safety
    ///
    /// `types` must outlive the heap (the store keeps its engine).
    pub unsafe fn set_type_table(&mut self, types: *const GcTypeTable) {
        self.types = types;
    }

    /// Views the object at `address`.
    ///
    /// # Safety
    ///
    /// `address` must be a live object of this heap.
    pub unsafe fn object(&self, address: usize) -> GcObject {
        GcObject(address, self.types)
    }

    /// The engine's type table.
    pub fn type_table(&self) -> &GcTypeTable {
        // SAFETY: set by the store before any object exists, and outlives the heap.
        unsafe { &*self.types }
    }

    /// Sets the most bytes the heap may take.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.threshold = self.threshold.min(limit);
    }

    /// Sets how the heap finds its store's roots (see [`RootsHook`]).
    pub fn set_roots_hook(&mut self, hook: RootsHook, store: *mut u8) {
        self.roots_hook = Some((hook, store));
    }

    /// Sets the store's exception heap, whose objects collections mark and sweep (see
    /// `crate::exception`).
    ///
    /// # Safety
    ///
    /// `exceptions` must stay valid (and not move) as long as the heap, and be used only on the
    /// thread that collects.
    pub unsafe fn set_exception_heap(&mut self, exceptions: *mut crate::ExceptionHeap) {
        self.exceptions = exceptions;
    }

    /// Collects if collections are allowed now (not inside an instantiation).
    ///
    /// # Safety
    ///
    /// As for [`GcHeap::collect`].
    pub unsafe fn collect_if_allowed(&mut self) {
        if self.inhibit == 0 {
            // SAFETY: the caller's guarantee.
            unsafe { self.collect() };
        }
    }

    /// Number of live objects (counted: for statistics).
    pub fn len(&self) -> usize {
        let small: usize = self
            .blocks
            .iter()
            .map(|(base, class)| Block { base: *base, class: *class })
            // SAFETY: every cell of a live block has a header.
            .map(|b| b.cells().filter(|c| unsafe { *gc_bits(*c) } & (FREE | QUARANTINE) == 0).count())
            .sum();
        small + self.large.len()
    }

    /// Whether there are no objects.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes in use: blocks with objects, large objects and host references (what the
    /// collection threshold compares against; spare memory is reused before the heap grows).
    fn used_bytes(&self) -> usize {
        self.blocks.len() * BLOCK_SIZE + self.large_bytes + self.host_refs() * HOST_REF_BYTES
    }

    /// Bytes the heap takes: its blocks (spare ones too), large objects (and kept allocations)
    /// and host references.
    pub fn bytes(&self) -> usize {
        (self.blocks.len() + self.spare.len()) * BLOCK_SIZE
            + self.large_bytes
            + self.large_spare.iter().map(|(bytes, _)| bytes).sum::<usize>()
            + self.host_refs() * HOST_REF_BYTES
    }

    /// Number of live host references.
    pub fn host_refs(&self) -> usize {
        self.host_refs.len() - self.host_free.len()
    }

    /// Makes a host reference to `value` and returns its word, collecting first if the heap is
    /// past its threshold.
    ///
    /// # Safety
    ///
    /// As for [`GcHeap::alloc`].
    pub unsafe fn alloc_host(&mut self, value: HostValue) -> usize {
        // SAFETY: the caller's guarantee.
        unsafe { self.before_growth(HOST_REF_BYTES) };
        let index = match self.host_free.pop() {
            Some(i) => {
                self.host_refs[i as usize] = Some(value);
                i as usize
            }
            None => {
                self.host_refs.push(Some(value));
                self.host_refs.len() - 1
            }
        };
        self.peak_bytes = self.peak_bytes.max(self.bytes());
        ((index + 1) << 2) | 2
    }

    /// The host value of host reference `word`, if it is live.
    pub fn host_value(&self, word: usize) -> Option<&(dyn std::any::Any + Send + Sync)> {
        let index = host_index(word)?;
        self.host_refs.get(index)?.as_deref()
    }

    /// Collects first if growing the heap by `size` bytes passes the threshold or the limit.
    /// Returns whether it collected.
    ///
    /// # Safety
    ///
    /// As for [`GcHeap::alloc`].
    unsafe fn before_growth(&mut self, size: usize) -> bool {
        let needed = self.used_bytes() + size;
        if (needed > self.threshold || self.bytes() + size > self.limit)
            && self.inhibit == 0
            && self.roots_hook.is_some()
        {
            // SAFETY: the caller's guarantee.
            unsafe { self.collect() };
            return true;
        }
        false
    }

    /// Postpones collections until the matching [`GcHeap::allow_collection`].
    pub fn inhibit_collection(&mut self) {
        self.inhibit += 1;
    }

    /// Ends a [`GcHeap::inhibit_collection`].
    pub fn allow_collection(&mut self) {
        self.inhibit -= 1;
    }

    /// Pops a free cell of `class`, if there is one.
    fn pop_cell(&mut self, class: usize) -> Option<usize> {
        // SAFETY: the free lists live in the store context, set up before any allocation.
        let head = unsafe { &mut (*self.free_lists)[class] };
        let cell = *head;
        if cell == 0 {
            return None;
        }
        // SAFETY: a free cell's first word links to the next free cell of its class.
        *head = unsafe { *((cell + vmgc::FREE_LINK as usize) as *const usize) };
        Some(cell)
    }

    /// A new block for `class`, its cells pushed on the class's free list.
    fn add_block(&mut self, class: usize) -> Result<(), Trap> {
        let base = match self.spare.pop() {
            Some(base) => {
                // SAFETY: a spare block is ours; its old cells may have another size.
                unsafe { std::ptr::write_bytes(base as *mut u8, 0, BLOCK_SIZE) };
                base
            }
            // SAFETY: the layout has a non-zero size.
            None => (unsafe { std::alloc::alloc_zeroed(block_layout()) }) as usize,
        };
        if base == 0 {
            return Err(Trap::GcHeapOutOfMemory);
        }
        self.blocks.insert(base, class);
        let block = Block { base, class };
        // SAFETY: the free lists live in the store context.
        let head = unsafe { &mut (*self.free_lists)[class] };
        for cell in block.cells().collect::<Vec<_>>().into_iter().rev() {
            // SAFETY: the cell lies in the new, zeroed block.
            unsafe {
                *((cell + vmgc::FREE_LINK as usize) as *mut usize) = *head;
                *gc_bits(cell) = FREE;
            }
            *head = cell;
        }
        Ok(())
    }

    /// Allocates a zeroed object of type `info` (with `len` elements for an array), collecting
    /// first if the heap must grow past its threshold.
    ///
    /// # Safety
    ///
    /// If a collection may run (the roots hook is set and collections are not inhibited), every
    /// reference the caller holds must be visible to the roots hook.
    pub unsafe fn alloc(&mut self, info: &VMGcTypeInfo, len: u32) -> Result<usize, Trap> {
        let size = u64::from(info.size) + u64::from(len) * u64::from(info.elem_size);
        if size > vmgc::MAX_OBJECT_SIZE {
            return Err(Trap::AllocationTooLarge);
        }
        let size = size as usize;
        let address = if let Some(class) = vmgc::size_class(size as u32) {
            let class = class as usize;
            // Collect before growing past the threshold, twice if need be: debug builds give
            // freed cells back only at the collection after the one that freed them.
            let mut collections = 0;
            loop {
                if let Some(cell) = self.pop_cell(class) {
                    break cell;
                }
                if let Some(base) = self.unswept[class].pop() {
                    self.sweep_block(base, class);
                    continue;
                }
                // A spare block is already counted in the heap's size.
                let total = self.bytes() + if self.spare.is_empty() { BLOCK_SIZE } else { 0 };
                let over = self.used_bytes() + BLOCK_SIZE > self.threshold || total > self.limit;
                if over && collections < 2 && self.inhibit == 0 && self.roots_hook.is_some() {
                    // SAFETY: the caller's guarantee.
                    unsafe { self.collect() };
                    collections += 1;
                    continue;
                }
                if total > self.limit {
                    return Err(Trap::GcHeapOutOfMemory);
                }
                self.add_block(class)?;
            }
        } else {
            // SAFETY: the caller's guarantee.
            unsafe { self.before_growth(size) };
            let bytes = large_alloc_size(size);
            if self.bytes() + bytes > self.limit {
                self.release_large_spares();
                if self.bytes() + bytes > self.limit {
                    return Err(Trap::GcHeapOutOfMemory);
                }
            }
            let address = match self.large_spare.iter().position(|(b, _)| *b == bytes) {
                Some(i) => {
                    let (_, address) = self.large_spare.swap_remove(i);
                    // SAFETY: a spare allocation of `bytes` bytes is ours.
                    unsafe { std::ptr::write_bytes(address as *mut u8, 0, bytes) };
                    address
                }
                // SAFETY: the layout has a non-zero size.
                None => (unsafe { std::alloc::alloc_zeroed(large_layout(bytes)) }) as usize,
            };
            if address == 0 {
                return Err(Trap::GcHeapOutOfMemory);
            }
            self.large.push(address);
            self.large_bytes += bytes;
            address
        };
        self.peak_bytes = self.peak_bytes.max(self.bytes());
        Ok(Self::init(address, info, len))
    }

    /// Sweeps the block at `base` (of size class `class`): clears the marks of live cells, zeroes
    /// dead ones and links them into the free list. A block left empty becomes a spare.
    fn sweep_block(&mut self, base: usize, class: usize) {
        let block = Block { base, class };
        let size = block.cell_size();
        // SAFETY: every cell of a block has a header.
        let live = block.cells().any(|c| unsafe { *gc_bits(c) } & (MARK | QUARANTINE) != 0);
        if !live {
            if cfg!(debug_assertions) {
                // SAFETY: the block is ours and holds no live object.
                unsafe { std::ptr::write_bytes(base as *mut u8, 0xa5, BLOCK_SIZE) };
            }
            self.blocks.remove(&base);
            self.spare.push(base);
            return;
        }
        // SAFETY: the free lists live in the store context.
        let head = unsafe { &mut (*self.free_lists)[class] };
        // Linked from the last cell, so that the list hands out cells in address order.
        let cells = BLOCK_SIZE / size;
        for i in (0..cells).rev() {
            let cell = base + i * size;
            // SAFETY: the cell lies in the block and has a header; dead cells are rewritten whole.
            unsafe {
                let bits = *gc_bits(cell);
                let free = if bits & MARK != 0 {
                    *gc_bits(cell) = 0;
                    false
                } else if bits & FREE != 0 {
                    true
                } else if bits & QUARANTINE == 0 && cfg!(debug_assertions) {
                    // Poisoned, and reused only after the next sweep of this block.
                    std::ptr::write_bytes(cell as *mut u8, 0xa5, size);
                    *gc_bits(cell) = QUARANTINE;
                    false
                } else {
                    std::ptr::write_bytes(cell as *mut u8, 0, size);
                    *gc_bits(cell) = FREE;
                    true
                };
                if free {
                    *((cell + vmgc::FREE_LINK as usize) as *mut usize) = *head;
                    *head = cell;
                }
            }
        }
    }

    /// Sweeps every block not yet swept since the last collection.
    pub fn finish_sweeping(&mut self) {
        for class in 0..vmgc::NUM_CLASSES {
            while let Some(base) = self.unswept[class].pop() {
                self.sweep_block(base, class);
            }
        }
        self.trim_spare_blocks(self.used_bytes());
    }

    /// Keeps as many empty blocks as half the blocks in use (at least 16, at most a quarter of
    /// the room the limit leaves above `live` bytes); gives back the rest.
    fn trim_spare_blocks(&mut self, live: usize) {
        let room = self.limit.saturating_sub(live) / 4 / BLOCK_SIZE;
        let keep = (self.blocks.len() / 2).max(16).min(room);
        for base in self.spare.drain(keep.min(self.spare.len())..) {
            // SAFETY: spare blocks hold no objects.
            unsafe { std::alloc::dealloc(base as *mut u8, block_layout()) };
        }
    }

    /// Gives back every kept large allocation.
    fn release_large_spares(&mut self) {
        for (bytes, o) in self.large_spare.drain(..) {
            // SAFETY: allocated with this layout and no longer used.
            unsafe { std::alloc::dealloc(o as *mut u8, large_layout(bytes)) };
        }
    }

    /// Writes the header of a new object in a zeroed cell or allocation.
    fn init(address: usize, info: &VMGcTypeInfo, len: u32) -> usize {
        // The type id and clear gc bits; then the length (arrays) or zero (a struct's first
        // field, or a free cell's link).
        // SAFETY: the cell or allocation holds at least the 16-byte header.
        unsafe {
            *((address + vmgc::TYPE_ID as usize) as *mut u64) = u64::from(info.engine_id);
            *((address + vmgc::LENGTH as usize) as *mut u64) = u64::from(len);
            *gc_bits(address) = 0;
        }
        address
    }

    /// Collects now: frees every object no root reaches.
    ///
    /// # Safety
    ///
    /// As for [`GcHeap::alloc`]; the roots hook must report every reference in use.
    pub unsafe fn collect(&mut self) {
        let Some((hook, store)) = self.roots_hook else { return };
        let start = std::time::Instant::now();
        // The marker needs every block swept: a dead cell must read as free, and no mark may be
        // left from the last collection.
        self.finish_sweeping();
        let types = self.types;
        let exceptions_ptr = self.exceptions;
        // SAFETY: set by the store, valid as long as the heap; used on this thread only, and only
        // read until the marker is done.
        let exceptions = unsafe { exceptions_ptr.as_ref() };
        let mut marker = Marker {
            types,
            stack: Vec::new(),
            large_set: None,
            large: &self.large,
            blocks: &self.blocks,
            host_marks: vec![false; self.host_refs.len()],
            live: 0,
            exception_slots: exceptions.as_ref().map(|e| e.slots_by_address()).unwrap_or_default(),
            exception_marks: vec![false; exceptions.as_ref().map_or(0, |e| e.slot_count())],
            exception_stack: Vec::new(),
            exceptions,
        };
        if let Some(exceptions) = &marker.exceptions {
            for slot in exceptions.root_slots() {
                marker.mark_exception(slot);
            }
        }
        // SAFETY: the hook was registered by the store that owns this heap, with its pointer.
        unsafe { hook(store, &mut marker) };
        marker.drain();
        let host_marks = std::mem::take(&mut marker.host_marks);
        let exception_marks = std::mem::take(&mut marker.exception_marks);
        let marked_small = marker.live;
        drop(marker);
        // SAFETY: as above; the marker's shared view of it is gone.
        if let Some(exceptions) = unsafe { exceptions_ptr.as_mut() } {
            exceptions.sweep(&exception_marks);
        }
        // Host values are dropped after the sweep, in one go (their destructors are host code).
        let mut dead_host_values = Vec::new();
        for (i, marked) in host_marks.iter().enumerate() {
            if !*marked && let Some(value) = self.host_refs[i].take() {
                dead_host_values.push(value);
                self.host_free.push(i as u32);
            }
        }
        let mut live = self.host_refs() * HOST_REF_BYTES + marked_small;
        // Large objects.
        let spare = &mut self.large_spare;
        self.large.retain(|&o| {
            // SAFETY: listed objects are live; the collector owns their gc bits.
            unsafe {
                let bytes = large_alloc_size(GcObject(o, types).size());
                if *gc_bits(o) & MARK != 0 {
                    *gc_bits(o) = 0;
                    live += bytes;
                    true
                } else {
                    // Debug builds poison freed objects, so that a reference the roots missed
                    // reads garbage (and the GC tests fail) rather than stale but plausible
                    // values.
                    if cfg!(debug_assertions) {
                        std::ptr::write_bytes(o as *mut u8, 0xa5, bytes);
                    }
                    spare.push((bytes, o));
                    false
                }
            }
        });
        // SAFETY: every listed object is live.
        self.large_bytes = self.large.iter().map(|o| large_alloc_size(GcObject(*o, types).size())).sum();
        // Blocks are swept lazily (`sweep_block`): the free lists start empty.
        // SAFETY: the free lists live in the store context.
        unsafe { *self.free_lists = [0; vmgc::NUM_CLASSES] };
        for (base, class) in &self.blocks {
            self.unswept[*class].push(*base);
        }
        // Keep freed large allocations up to a quarter of what survived (at least 4 MiB), within
        // a quarter of the room the limit leaves.
        let cap = (live / 4).max(4 << 20).min(self.limit.saturating_sub(live) / 4);
        let mut kept = 0;
        self.large_spare.retain(|&(bytes, o)| {
            kept += bytes;
            if kept <= cap {
                return true;
            }
            // SAFETY: allocated with this layout and no longer used.
            unsafe { std::alloc::dealloc(o as *mut u8, large_layout(bytes)) };
            false
        });
        self.trim_spare_blocks(live);
        drop(dead_host_values);
        // Collect again once the heap has grown to 1.5 times what survived (at least
        // MIN_THRESHOLD), and no later than the limit. A smaller heap is faster as well as
        // smaller: with 2x or 3x, binary trees ran 15-30% slower (scripts/bench-gc), its
        // allocations spreading over more memory than the caches hold.
        self.threshold = (live + live / 2).max(GcHeap::MIN_THRESHOLD).min(self.limit);
        self.collections += 1;
        self.max_pause_ns = self.max_pause_ns.max(start.elapsed().as_nanos() as u64);
    }
}

struct Marker<'a> {
    types: *const GcTypeTable,
    stack: Vec<usize>,
    /// The set of live large objects, built on the first untyped word that needs it.
    large_set: Option<HashSet<usize>>,
    large: &'a [usize],
    blocks: &'a HashMap<usize, usize>,
    /// Bytes of the small objects marked.
    live: usize,
    /// Which host references are reachable.
    host_marks: Vec<bool>,
    /// The store's exception objects (see `crate::exception`): their slots by address, which
    /// are marked, and the marked ones whose payloads are still to be traced.
    exceptions: Option<&'a crate::ExceptionHeap>,
    exception_slots: HashMap<usize, usize>,
    exception_marks: Vec<bool>,
    exception_stack: Vec<usize>,
}

/// The slot of host reference `word` (low bits `0b10`), if it is one.
fn host_index(word: usize) -> Option<usize> {
    (word & 3 == 2).then(|| (word >> 2).wrapping_sub(1))
}

impl RootSink for Marker<'_> {
    fn typed(&mut self, word: usize) {
        if is_gc_object(word) {
            // An exception reference is an address too (exception objects are not in the GC
            // heap); while none is live, this costs one test.
            if !self.exception_slots.is_empty()
                && let Some(&slot) = self.exception_slots.get(&word)
            {
                self.mark_exception(slot);
                return;
            }
            self.mark(word);
        } else if let Some(mark) = host_index(word).and_then(|i| self.host_marks.get_mut(i)) {
            *mark = true;
        }
    }

    fn untyped(&mut self, word: usize) {
        if is_gc_object(word) {
            if let Some(&slot) = self.exception_slots.get(&word) {
                self.mark_exception(slot);
            } else if self.is_live_object(word) {
                self.mark(word);
            }
        } else if let Some(mark) = host_index(word).and_then(|i| self.host_marks.get_mut(i)) {
            // An integer that looks like a live host reference keeps it: conservative, never
            // unsafe.
            *mark = true;
        }
    }
}

impl Marker<'_> {
    /// Whether `word` is the address of a live object (for untyped words).
    fn is_live_object(&mut self, word: usize) -> bool {
        let base = word & !(BLOCK_SIZE - 1);
        if let Some(&class) = self.blocks.get(&base) {
            let block = Block { base, class };
            // SAFETY: a cell-aligned address inside a block is a cell with a header.
            return (word - block.base).is_multiple_of(block.cell_size())
                && unsafe { *gc_bits(word) } & (FREE | QUARANTINE) == 0;
        }
        let large = self.large;
        self.large_set.get_or_insert_with(|| large.iter().copied().collect()).contains(&word)
    }

    fn mark_exception(&mut self, slot: usize) {
        if !self.exception_marks[slot] {
            self.exception_marks[slot] = true;
            self.exception_stack.push(slot);
        }
    }

    fn mark(&mut self, word: usize) {
        // SAFETY: `word` is a live object (a root or a field of one).
        unsafe {
            if *gc_bits(word) & MARK == 0 {
                *gc_bits(word) |= MARK;
                self.stack.push(word);
            }
        }
    }

    fn drain(&mut self) {
        loop {
            while let Some(o) = self.stack.pop() {
                self.trace(o);
            }
            let Some(slot) = self.exception_stack.pop() else { break };
            let exceptions = self.exceptions.expect("exception marks need the exception heap");
            // Payload slots are untyped: the tag's parameter types are not at hand here.
            for value in exceptions.payload(slot) {
                self.untyped(value.get_i64() as usize);
            }
        }
    }

    fn trace(&mut self, o: usize) {
        let object = GcObject(o, self.types);
        let info = object.type_info();
        let size = object.size();
        if size <= vmgc::MAX_SMALL as usize {
            self.live += size;
        }
        if info.is_array() {
            if info.elem_is_ref {
                for i in 0..object.len() as usize {
                    // SAFETY: element `i` is inside the live array.
                    let word = unsafe { *((o + vmgc::ARRAY_HEADER_SIZE as usize + i * 8) as *const usize) };
                    self.typed(word);
                }
            }
        } else {
            for &offset in info.ref_offsets.iter() {
                // SAFETY: the offset is a field inside the live struct.
                let word = unsafe { *((o + offset as usize) as *const usize) };
                self.typed(word);
            }
        }
    }
}

/// Writes `value` to the storage of type `storage` at byte `offset` of `object`.
///
/// # Safety
///
/// The storage must lie inside the live object.
pub unsafe fn write_storage(object: usize, offset: u32, storage: WasmStorageType, value: ValRaw) {
    let ptr = (object + offset as usize) as *mut u8;
    let bytes = value.to_bytes();
    let size = storage.size() as usize;
    // SAFETY: the caller guarantees `size` bytes at `ptr` belong to the object.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, size) };
}

/// Reads the storage of type `storage` at byte `offset` of `object`, zero-extended (packed
/// fields are extended by the reader).
///
/// # Safety
///
/// The storage must lie inside the live object.
pub unsafe fn read_storage(object: usize, offset: u32, storage: WasmStorageType) -> ValRaw {
    let ptr = (object + offset as usize) as *const u8;
    let mut bytes = [0u8; 16];
    // SAFETY: the caller guarantees `size` bytes at `ptr` belong to the object.
    unsafe { std::ptr::copy_nonoverlapping(ptr, bytes.as_mut_ptr(), storage.size() as usize) };
    ValRaw::from_bytes(bytes)
}

/// `array.copy` between non-null arrays (overlapping ranges allowed).
///
/// # Safety
///
/// Both must be live arrays whose element types allow the copy (validation ensures it).
pub unsafe fn array_copy(
    types: &GcTypeTable,
    dst: usize,
    dst_index: u32,
    src: usize,
    src_index: u32,
    len: u32,
) -> Result<(), Trap> {
    // SAFETY: the caller guarantees live arrays.
    let (d, s) = unsafe { (GcObject::from_address(dst, types), GcObject::from_address(src, types)) };
    if u64::from(dst_index) + u64::from(len) > u64::from(d.len())
        || u64::from(src_index) + u64::from(len) > u64::from(s.len())
    {
        return Err(Trap::ArrayOutOfBounds);
    }
    let elem = d.type_info().elem_size;
    // SAFETY: both ranges were checked against the arrays' lengths.
    unsafe {
        std::ptr::copy(
            s.field_ptr(vmgc::ARRAY_HEADER_SIZE + src_index * elem),
            d.field_ptr(vmgc::ARRAY_HEADER_SIZE + dst_index * elem),
            len as usize * elem as usize,
        )
    };
    Ok(())
}

/// The engine's subtype relation between its types, by engine id: each type's supertype chain
/// (root first, ending with the type). Shared by the engine, which registers types, and the
/// runtime, which checks function types' subtyping on `call_indirect` and casts.
#[derive(Debug, Default)]
pub struct TypeHierarchy {
    displays: std::sync::RwLock<Vec<Arc<[u32]>>>,
}

impl TypeHierarchy {
    /// Records the chain of the next engine id (ids are registered densely, in order).
    pub fn push(&self, id: u32, display: Arc<[u32]>) {
        let mut displays = self.displays.write().unwrap();
        assert_eq!(displays.len(), id as usize, "engine types are registered in order");
        displays.push(display);
    }

    /// The supertype chain of `id`.
    pub fn display(&self, id: u32) -> Option<Arc<[u32]>> {
        self.displays.read().unwrap().get(id as usize).cloned()
    }

    /// Whether engine type `sub` is `sup` or one of its declared subtypes.
    pub fn is_subtype(&self, sub: u32, sup: u32) -> bool {
        if sub == sup {
            return true;
        }
        let displays = self.displays.read().unwrap();
        match (displays.get(sub as usize), displays.get(sup as usize)) {
            (Some(a), Some(b)) => a.get(b.len() - 1) == Some(&sup),
            _ => false,
        }
    }
}
