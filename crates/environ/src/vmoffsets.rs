//! Layout of the runtime data structures that compiled code reads and writes.
//!
//! Compiled code and the runtime must agree on these offsets exactly; the runtime's `#[repr(C)]`
//! structs assert against the constants here in its tests.
//!
//! ```text
//! VMContext (one per instance, 16-byte aligned):
//!   +0   magic: u32 ("kiln"), padding
//!   +8   store_context: *mut VMStoreContext
//!   +16  builtins: *const [fn; Builtin::COUNT]
//!   +24  type_ids: *const u32          engine-wide signature id of each module type index
//!   +32  store: *mut ()                opaque: the runtime's store
//!   +40  instance: *mut ()             opaque: the runtime's instance
//!   +48  owned_memories: [VMMemoryDefinition; num_owned_memories]   16 bytes each
//!        funcrefs: [VMFuncRef; num_funcs]          imported functions' entries are copies
//!        tables: [*mut VMTableDefinition; num_tables]
//!        memories: [*mut VMMemoryDefinition; num_memories]
//!        imported_globals: [*mut VMGlobalDefinition; num_imported_globals]
//!        defined_globals: [VMGlobalDefinition; num_defined_globals]   16 bytes each, 16-aligned
//!        tags: [*const VMTagDefinition; num_tags]     a tag's identity is its definition's address
//! ```
//!
//! An *owned* memory is a defined memory that is not shared. Its `VMMemoryDefinition` (base and
//! length) lives inline near the start of the `VMContext`, so compiled code reaches its base with
//! one load at an 8-bit displacement instead of two dependent loads; the runtime's memory object
//! updates this copy when it grows, and an instance importing the memory is given a pointer to
//! it. Imported and shared memories are reached through `memories` only. Every memory has a
//! `memories` slot; an owned memory's slot points at its inline definition.

use crate::ModuleInfo;

/// Pointer size on the host (kiln supports 64-bit hosts only).
pub const POINTER_SIZE: u8 = 8;

/// Magic value in the first word of every `VMContext` ("kiln", little-endian).
pub const VMCONTEXT_MAGIC: u32 = u32::from_le_bytes(*b"kiln");
/// Magic value in the first word of every host function context ("host").
pub const VMHOST_FUNC_MAGIC: u32 = u32::from_le_bytes(*b"host");

/// `VMFuncRef`: what a `funcref` points to, and what a function import is.
///
/// `native_call` uses the wasm calling convention (Cranelift `tail`): `(callee_vmctx, caller_vmctx,
/// params...) -> results`. `array_call` is only set for host functions (the host shim). `type_id` is
/// the engine-wide signature id. `vmctx` is the callee's `VMContext` (or host function context).
pub mod vmfuncref {
    /// Offset of `native_call`.
    pub const NATIVE_CALL: u32 = 0;
    /// Offset of `array_call`.
    pub const ARRAY_CALL: u32 = 8;
    /// Offset of `type_id` (u32).
    pub const TYPE_ID: u32 = 16;
    /// Offset of `vmctx`.
    pub const VMCTX: u32 = 24;
    /// Size of a `VMFuncRef`.
    pub const SIZE: u32 = 32;
}

/// An exception object (what an `exnref` points to), allocated by the `ExceptionNew` builtin and
/// owned by the store: a header, then one [`VAL_RAW_SIZE`] slot per tag parameter.
pub mod vmexception {
    /// Offset of `tag: *const VMTagDefinition` (the thrown tag's identity).
    pub const TAG: u32 = 0;
    /// Offset of `num_values: u32`.
    pub const NUM_VALUES: u32 = 8;
    /// Offset of `escaped: u32`: zero while the object is only in flight (a plain
    /// `catch`/`catch_all` that consumes it frees it); [`ESCAPED_FLAG`] once a
    /// `catch_ref`/`catch_all_ref` handed it to wasm code or the host saw it, so references to
    /// it may be kept anywhere (the collector frees it once nothing reaches it).
    pub const ESCAPED: u32 = 12;
    /// The `escaped` value of an object references to which may be kept.
    pub const ESCAPED_FLAG: u32 = 1;
    /// Offset of `store_context: *const VMStoreContext` (the owning store).
    pub const STORE_CONTEXT: u32 = 16;
    /// Offset of `slot: usize`, the object's index in its store's exception heap.
    pub const SLOT: u32 = 24;
    /// Offset of the first payload value.
    pub const PAYLOAD: u32 = 32;
    /// Offset of payload value `i`.
    pub const fn value(i: u32) -> u32 {
        PAYLOAD + i * super::VAL_RAW_SIZE
    }
}

/// `VMMemoryDefinition`: base pointer and current length in bytes of a linear memory.
pub mod vmmemory {
    /// Offset of `base: *mut u8`.
    pub const BASE: u32 = 0;
    /// Offset of `current_length: usize` (bytes).
    pub const CURRENT_LENGTH: u32 = 8;
    /// Size.
    pub const SIZE: u32 = 16;
}

/// `VMTableDefinition`: elements are pointer-sized (`*const VMFuncRef` or an externref handle; 0 is
/// null).
pub mod vmtable {
    /// Offset of `base: *mut usize`.
    pub const BASE: u32 = 0;
    /// Offset of `current_elements: usize`.
    pub const CURRENT_ELEMENTS: u32 = 8;
    /// Size.
    pub const SIZE: u32 = 16;
    /// Size of one element.
    pub const ELEMENT_SIZE: u32 = 8;
}

/// `VMGlobalDefinition`: 16 bytes of storage; i32/f32 in the low 4 bytes, i64/f64/references in the
/// low 8 bytes (little-endian), v128 in all 16.
pub mod vmglobal {
    /// Size.
    pub const SIZE: u32 = 16;
}

/// `VMStoreContext`: per-store state that compiled code reads and writes.
pub mod vmstore_context {
    /// Offset of `stack_limit: usize`: the prologue of every function traps when SP is below it.
    pub const STACK_LIMIT: u32 = 0;
    /// Offset of `fuel_consumed: i64`.
    pub const FUEL_CONSUMED: u32 = 8;
    /// Offset of `epoch_deadline: u64`.
    pub const EPOCH_DEADLINE: u32 = 16;
    /// Offset of `last_wasm_exit_fp: usize`, written by wasm-to-host trampolines.
    pub const LAST_WASM_EXIT_FP: u32 = 24;
    /// Offset of `last_wasm_exit_pc: usize`, written by wasm-to-host trampolines.
    pub const LAST_WASM_EXIT_PC: u32 = 32;
    /// Offset of `epoch_counter: *const u64`: the engine's epoch counter.
    pub const EPOCH_COUNTER: u32 = 40;
    /// Offset of `last_wasm_exit_sp: usize`, written by wasm-to-host trampolines: the stack pointer
    /// of the wasm caller at its call (where its stack maps' offsets start).
    pub const LAST_WASM_EXIT_SP: u32 = 48;
    /// Offset of `gc_free_lists: [usize; vmgc::NUM_CLASSES]`: the head of each size class's list
    /// of free GC cells (0: empty), popped inline by compiled code (see `kiln_runtime::gc`).
    pub const GC_FREE_LISTS: u32 = 56;
    /// Offset of `gc_type_table: *const *const VMGcTypeInfo`: the engine's descriptor of each
    /// type id (see `vmgc`).
    pub const GC_TYPE_TABLE: u32 = GC_FREE_LISTS + 8 * super::vmgc::NUM_CLASSES as u32;
    /// Size of the part compiled code reads and writes.
    pub const SIZE: u32 = GC_TYPE_TABLE + 8;
}

/// Host function context (`callee_vmctx` of a host function's `VMFuncRef`).
pub mod vmhost_func_context {
    /// Offset of `magic: u32` ([`super::VMHOST_FUNC_MAGIC`]).
    pub const MAGIC: u32 = 0;
    /// Offset of `array_call`: `extern "C" fn(callee_vmctx, caller_vmctx, values: *mut ValRaw,
    /// len: usize)`.
    pub const ARRAY_CALL: u32 = 8;
    /// Offset of `native_call`, for host functions with at most one result: `extern "C"
    /// fn(callee_vmctx, caller_vmctx, params...) -> result`, with wasm values as their natural
    /// C types (i32, i64, f32, f64; references pointer-sized). Called by the native host
    /// trampoline (`Compiler::compile_native_host_trampoline`).
    pub const NATIVE_CALL: u32 = 56;
}

/// Size of one `ValRaw` slot in array-call buffers: every value occupies 16 bytes, stored
/// little-endian at the start of its slot (i32/f32 in 4 bytes, i64/f64/references in 8, v128 in 16).
pub const VAL_RAW_SIZE: u32 = 16;

/// Offsets of the fields of one module's `VMContext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VMOffsets {
    /// Number of functions (imported + defined).
    pub num_funcs: u32,
    /// Number of tables.
    pub num_tables: u32,
    /// Number of memories.
    pub num_memories: u32,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Number of defined globals.
    pub num_defined_globals: u32,
    /// Number of tags (imported + defined).
    pub num_tags: u32,
    /// Offset of each memory's inline `VMMemoryDefinition` (owned memories only).
    memory_definitions: Vec<Option<u32>>,
    funcrefs: u32,
    tables: u32,
    memories: u32,
    imported_globals: u32,
    defined_globals: u32,
    tags: u32,
    size: u32,
}

impl VMOffsets {
    /// Offset of the magic word.
    pub const MAGIC: u32 = 0;
    /// Offset of the `*mut VMStoreContext`.
    pub const STORE_CONTEXT: u32 = 8;
    /// Offset of the builtin table pointer.
    pub const BUILTINS: u32 = 16;
    /// Offset of the type id array pointer.
    pub const TYPE_IDS: u32 = 24;
    /// Offset of the runtime's opaque store pointer.
    pub const STORE: u32 = 32;
    /// Offset of the runtime's opaque instance pointer.
    pub const INSTANCE: u32 = 40;

    /// Computes the layout for `module`.
    pub fn new(module: &ModuleInfo) -> VMOffsets {
        let num_funcs = module.functions.len() as u32;
        let num_tables = module.tables.len() as u32;
        let num_memories = module.memories.len() as u32;
        let num_imported_globals = module.num_imported_globals;
        let num_defined_globals = module.globals.len() as u32 - num_imported_globals;
        let owned_memories = 48;
        let mut next_owned = owned_memories;
        let memory_definitions = (0..num_memories)
            .map(|m| {
                let owned = m >= module.num_imported_memories && !module.memories[m as usize].shared;
                owned.then(|| {
                    let offset = next_owned;
                    next_owned += vmmemory::SIZE;
                    offset
                })
            })
            .collect();
        let funcrefs = next_owned;
        let tables = funcrefs + num_funcs * vmfuncref::SIZE;
        let memories = tables + num_tables * u32::from(POINTER_SIZE);
        let imported_globals = memories + num_memories * u32::from(POINTER_SIZE);
        let defined_globals = (imported_globals + num_imported_globals * u32::from(POINTER_SIZE)).next_multiple_of(16);
        let num_tags = module.tags.len() as u32;
        let tags = defined_globals + num_defined_globals * vmglobal::SIZE;
        let size = tags + num_tags * u32::from(POINTER_SIZE);
        VMOffsets {
            num_funcs,
            num_tables,
            num_memories,
            num_imported_globals,
            num_defined_globals,
            memory_definitions,
            funcrefs,
            tables,
            memories,
            imported_globals,
            defined_globals,
            num_tags,
            tags,
            size,
        }
    }

    /// Total size of the `VMContext` in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Offset of the `VMFuncRef` of function `index` (imported or defined).
    pub fn funcref(&self, index: u32) -> u32 {
        assert!(index < self.num_funcs);
        self.funcrefs + index * vmfuncref::SIZE
    }

    /// Offset of the `*mut VMTableDefinition` of table `index`.
    pub fn table_ptr(&self, index: u32) -> u32 {
        assert!(index < self.num_tables);
        self.tables + index * u32::from(POINTER_SIZE)
    }

    /// Offset of the `*mut VMMemoryDefinition` of memory `index` (every memory has one).
    pub fn memory_ptr(&self, index: u32) -> u32 {
        assert!(index < self.num_memories);
        self.memories + index * u32::from(POINTER_SIZE)
    }

    /// Offset of the inline `VMMemoryDefinition` of memory `index` if it is owned (defined and
    /// not shared); `None` for imported and shared memories, which are reached through
    /// [`VMOffsets::memory_ptr`].
    pub fn memory_definition(&self, index: u32) -> Option<u32> {
        self.memory_definitions[index as usize]
    }

    /// Offset of the `*mut VMGlobalDefinition` of imported global `index`.
    pub fn imported_global_ptr(&self, index: u32) -> u32 {
        assert!(index < self.num_imported_globals);
        self.imported_globals + index * u32::from(POINTER_SIZE)
    }

    /// Offset of the `*const VMTagDefinition` of tag `index` (imported or defined).
    pub fn tag_ptr(&self, index: u32) -> u32 {
        assert!(index < self.num_tags);
        self.tags + index * u32::from(POINTER_SIZE)
    }

    /// Offset of the storage of defined global `defined_index` (global index minus imported count).
    pub fn defined_global(&self, defined_index: u32) -> u32 {
        assert!(defined_index < self.num_defined_globals);
        self.defined_globals + defined_index * vmglobal::SIZE
    }
}

/// GC objects (what struct and array references point to) and the type descriptors they name.
///
/// ```text
/// object (8-aligned, never at an address with either low bit set: those are i31s and host refs):
///   +0   type_id: u32         the engine-wide id of its type
///   +4   gc_bits: u32         the collector's mark and free bits
///   +8   struct: fields, at their natural alignment
///   +8   array: length: u32, then elements from +16
/// a free cell: a zero header but for the free bit, the next free cell's address at +8
/// VMGcTypeInfo (one per engine struct or array type, never freed while its engine lives; the
/// store context points at the engine's table of them, indexed by type id):
///   +0   display_len: u32     depth in the subtype hierarchy + 1
///   +4   kind: u32            1 struct, 2 array
///   +8   display: *const u32  engine ids of the supertype chain, root first, this type last
/// ```
///
/// A cast to a concrete type `T` of depth `d` succeeds when `display_len > d` and
/// `display[d] == T`: constant time, whatever the depth; to a final type, when the object's type
/// id is `T`.
pub mod vmgc {
    /// Offset of the type id.
    pub const TYPE_ID: u32 = 0;
    /// Offset of the collector's bits.
    pub const GC_BITS: u32 = 4;
    /// Size of a struct's header; fields start here.
    pub const HEADER_SIZE: u32 = 8;
    /// Offset of the descriptor reference of a struct whose type has a descriptor (its fields
    /// then start at 16).
    pub const DESCRIPTOR: u32 = 8;
    /// Offset of an array's length.
    pub const LENGTH: u32 = 8;
    /// Size of an array's header; elements start here.
    pub const ARRAY_HEADER_SIZE: u32 = 16;
    /// Offset of a free cell's link to the next free cell of its size class.
    pub const FREE_LINK: u32 = 8;
    /// Offset of `display_len` in a `VMGcTypeInfo`.
    pub const INFO_DISPLAY_LEN: u32 = 0;
    /// Offset of `kind` in a `VMGcTypeInfo`.
    pub const INFO_KIND: u32 = 4;
    /// Offset of `display` in a `VMGcTypeInfo`.
    pub const INFO_DISPLAY: u32 = 8;
    /// `kind` of struct types.
    pub const KIND_STRUCT: u32 = 1;
    /// `kind` of array types.
    pub const KIND_ARRAY: u32 = 2;
    /// The largest object, in bytes: bigger allocations trap.
    pub const MAX_OBJECT_SIZE: u64 = 1 << 32;
    /// Number of small-object size classes: cells of 16, 24, 32, ..., 256 bytes.
    pub const NUM_CLASSES: usize = 31;
    /// The largest small object (a cell of the last class).
    pub const MAX_SMALL: u32 = 256;
    /// The most engine types whose objects can exist (the size of the engine's type table).
    pub const MAX_TYPES: usize = 1 << 22;

    /// The bytes of a cell of size class `class`.
    pub const fn cell_size(class: usize) -> u32 {
        8 * (class as u32 + 2)
    }

    /// The size class of an object of `size` bytes, if it is small.
    pub const fn size_class(size: u32) -> Option<u32> {
        if size <= MAX_SMALL {
            let size = if size < 16 { 16 } else { size };
            Some(size.div_ceil(8) - 2)
        } else {
            None
        }
    }
}
