//! Instances: a `VMContext` allocation plus the instance's own tables, memories and segments.

use crate::code::CodeMemory;
use crate::exception::VMTagDefinition;
use crate::memory::LinearMemory;
use crate::table::Table;
use crate::vmcontext::{VMContext, VMFuncRef, VMGlobalDefinition, VMStoreContext, ValRaw};
use anyhow::Result;
use kiln_environ::*;
use std::alloc::Layout;
use std::ops::Range;
use std::ptr::NonNull;
use std::sync::Arc;

/// Everything needed to lay out an instance. Imports are given as raw pointers owned by the store.
pub struct InstanceArgs {
    /// The module.
    pub info: Arc<ModuleInfo>,
    /// The module binary (data segments live there).
    pub wasm: Arc<[u8]>,
    /// The module's compiled code.
    pub code: Arc<CodeMemory>,
    /// Engine-wide signature id of each module type index.
    pub type_ids: Arc<[u32]>,
    /// Funcrefs of the imported functions, in import order.
    pub imported_funcs: Vec<VMFuncRef>,
    /// Imported tables.
    pub imported_tables: Vec<*mut Table>,
    /// Imported memories.
    pub imported_memories: Vec<*mut LinearMemory>,
    /// Imported globals.
    pub imported_globals: Vec<*mut VMGlobalDefinition>,
    /// Imported tags.
    pub imported_tags: Vec<*const VMTagDefinition>,
    /// The store's context.
    pub store_ctx: *mut VMStoreContext,
    /// Opaque pointer to the embedder's store, for host functions.
    pub store: *mut u8,
    /// Whether memories get guard regions (compiled code relies on them when it was compiled so).
    pub guard_pages: bool,
    /// Upper bound on each memory's size in bytes.
    pub memory_limit: Option<u64>,
    /// Copy-on-write initial contents of each defined memory, if the module has one.
    pub memory_images: Arc<[Option<Arc<crate::MemoryImage>>]>,
    /// Data segments already contained in those images (not copied at initialisation).
    pub data_in_image: Arc<[bool]>,
    /// Per defined table, its lazy initial contents ([`lazy_table_images`]), if it has them.
    pub table_images: TableImages,
    /// The GC descriptor of each module type index (`None` for function types).
    pub gc_types: GcTypes,
    /// The engine's subtype relation, for checks on function types.
    pub hierarchy: Arc<crate::gc::TypeHierarchy>,
}

/// The GC descriptor of each module type index (`None` for function types).
pub type GcTypes = Arc<[Option<Arc<crate::gc::VMGcTypeInfo>>]>;

/// The funcrefs of an instance's functions, which live in its `VMContext`. Imported ones are
/// written when the instance is created; a defined one when it is first asked for, because a
/// large program's instance has tens of thousands of functions and uses few of their funcrefs
/// (compiled code calls defined functions directly; only `ref.func`, tables, exports and the
/// host need funcrefs, and they all come here).
#[derive(Clone)]
pub struct FuncRefs {
    vmctx: *mut u8,
    /// Offset of function 0's funcref in the `VMContext`.
    first: u32,
    code: Arc<CodeMemory>,
    info: Arc<ModuleInfo>,
    type_ids: Arc<[u32]>,
}

// SAFETY: the pointer is the owning instance's `VMContext`, which is used by one thread at a time
// through its store, like the instance itself.
unsafe impl Send for FuncRefs {}

impl std::fmt::Debug for FuncRefs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncRefs").field("vmctx", &self.vmctx).finish_non_exhaustive()
    }
}

impl FuncRefs {
    /// The funcref of function `f` (a valid index), written first if it is a defined function's
    /// and not yet written.
    pub fn get(&self, f: FuncIndex) -> *mut VMFuncRef {
        assert!((f as usize) < self.info.functions.len(), "function {f} out of range");
        // SAFETY: `VMOffsets` puts the funcrefs of every function from `first` on, inside the
        // `VMContext` allocation, which outlives every copy of `self` (instances own their
        // tables, the only other holders).
        let slot = unsafe { self.vmctx.add((self.first + f * vmfuncref::SIZE) as usize) }.cast::<VMFuncRef>();
        if let Some(defined) = self.info.defined_func_index(f) {
            // SAFETY: the slot is a `VMFuncRef` of the live `VMContext`, zeroed when it was
            // allocated (a null `vmctx` means not yet written) and written only here; the store
            // gives one thread at a time access to it.
            unsafe {
                if (*slot).vmctx.is_null() {
                    let range = &self.code.info().functions[defined as usize];
                    *slot = VMFuncRef {
                        native_call: self.code.base().add(range.start as usize),
                        array_call: std::ptr::null(),
                        type_id: self.type_ids[self.info.functions[f as usize] as usize],
                        vmctx: self.vmctx.cast(),
                    };
                }
            }
        }
        slot
    }
}

/// Per defined table, its lazy initial contents (see [`lazy_table_images`]), if it has them.
pub type TableImages = Arc<[Option<Arc<[u32]>>]>;

/// The initial contents of each defined table of `info` that can be initialised lazily (see
/// `crate::table`): a funcref table with no initialiser expression whose active segments all
/// have constant offsets, hold functions (or `ref.func` / `ref.null` items) and fit the table's
/// minimum size. For each element, the function index plus one, or 0. Computed once per module.
pub fn lazy_table_images(info: &ModuleInfo) -> Vec<Option<Arc<[u32]>>> {
    let defined = info.num_imported_tables as usize;
    let mut images: Vec<Option<Vec<u32>>> = info.tables[defined..]
        .iter()
        .zip(&info.table_inits)
        .map(|(ty, init)| {
            let funcref = ty.element.heap.is_func();
            (funcref && init.is_none() && !ty.table64).then(Vec::new)
        })
        .collect();
    for seg in &info.elems {
        let SegmentMode::Active { index, offset } = &seg.mode else { continue };
        let Some(slot) = (*index as usize).checked_sub(defined) else { continue };
        let Some(image) = images[slot].as_mut() else { continue };
        let items: Option<Vec<u32>> = match &seg.items {
            ElemItems::Functions(funcs) => Some(funcs.iter().map(|f| f + 1).collect()),
            ElemItems::Exprs(exprs) => exprs
                .iter()
                .map(|e| match e.ops.as_slice() {
                    [ConstOp::RefFunc(f)] => Some(f + 1),
                    [ConstOp::RefNull(_)] => Some(0),
                    _ => None,
                })
                .collect(),
        };
        let start = match offset.ops.as_slice() {
            [ConstOp::I32Const(v)] => Some(*v as u32 as u64),
            _ => None,
        };
        let minimum = info.tables[*index as usize].minimum;
        match (items, start) {
            (Some(items), Some(start)) if start + items.len() as u64 <= minimum => {
                let end = start as usize + items.len();
                if image.len() < end {
                    image.resize(end, 0);
                }
                image[start as usize..end].copy_from_slice(&items);
            }
            _ => images[slot] = None,
        }
    }
    images.into_iter().map(|image| image.filter(|i| !i.is_empty()).map(Into::into)).collect()
}

/// A module instance. Boxed: its `VMContext` points back to it.
pub struct Instance {
    vmctx: NonNull<u8>,
    layout: Layout,
    offsets: VMOffsets,
    info: Arc<ModuleInfo>,
    wasm: Arc<[u8]>,
    code: Arc<CodeMemory>,
    _type_ids: Arc<[u32]>,
    tables: Vec<*mut Table>,
    memories: Vec<*mut LinearMemory>,
    // Boxed: compiled code holds pointers to them, so they must not move when the Vec does.
    #[allow(clippy::vec_box)]
    defined_tables: Vec<Box<Table>>,
    #[allow(clippy::vec_box)]
    defined_memories: Vec<Box<LinearMemory>>,
    /// Definitions of the defined tags (their addresses are the tags' identities).
    _defined_tags: Box<[VMTagDefinition]>,
    /// Every tag, imported ones first.
    tags: Vec<*const VMTagDefinition>,
    store_ctx: *mut VMStoreContext,
    passive_elems: Vec<Box<[usize]>>,
    passive_data: Vec<Range<usize>>,
    data_in_image: Arc<[bool]>,
    funcrefs: FuncRefs,
    /// Which defined tables are initialised lazily (their active segments are then not written).
    lazy_tables: Vec<bool>,
    gc_types: GcTypes,
    hierarchy: Arc<crate::gc::TypeHierarchy>,
}

// SAFETY: an instance is used by one thread at a time through its store.
unsafe impl Send for Instance {}

impl Instance {
    /// Allocates and fills the `VMContext`; creates the defined tables and memories. Does not run
    /// initialisers: see [`Instance::initialize`].
    pub fn new(args: InstanceArgs) -> Result<Box<Instance>> {
        let info = args.info;
        let offsets = VMOffsets::new(&info);
        let layout = Layout::from_size_align(offsets.size() as usize, 16)?;
        // SAFETY: the layout has a non-zero size (the header alone is 48 bytes).
        let vmctx = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })
            .ok_or_else(|| anyhow::anyhow!("out of memory"))?;

        let mut defined_tables = Vec::new();
        for ty in &info.tables[info.num_imported_tables as usize..] {
            // Tables report engine-level element types (they may be exported to other modules).
            let mut ty = *ty;
            if let WasmHeapType::Concrete(k, i) = ty.element.heap {
                ty.element.heap = WasmHeapType::Engine(k, args.type_ids[i as usize]);
            }
            defined_tables.push(Table::new(&ty, 0)?);
        }
        let mut defined_memories = Vec::new();
        for (i, ty) in info.memories[info.num_imported_memories as usize..].iter().enumerate() {
            let image = args.memory_images.get(i).and_then(|image| image.as_deref());
            let mut memory = LinearMemory::with_image(ty, args.guard_pages, args.memory_limit, image)?;
            if let Some(offset) = offsets.memory_definition(info.num_imported_memories + i as u32) {
                // SAFETY: the slot is inside the VMContext allocation, 16-byte aligned, and written
                // by nothing else; the VMContext is freed only when the instance is dropped, which
                // drops this memory with it.
                unsafe { memory.place_definition(vmctx.as_ptr().add(offset as usize).cast()) };
            }
            defined_memories.push(memory);
        }
        let defined_tags: Box<[VMTagDefinition]> = info.tags[info.num_imported_tags as usize..]
            .iter()
            .map(|ty| VMTagDefinition { type_id: args.type_ids[*ty as usize] })
            .collect();
        let mut tags = args.imported_tags;
        tags.extend(defined_tags.iter().map(|t| t as *const VMTagDefinition));
        let mut tables = args.imported_tables;
        tables.extend(defined_tables.iter_mut().map(|t| &mut **t as *mut Table));
        let mut memories = args.imported_memories;
        memories.extend(defined_memories.iter_mut().map(|m| &mut **m as *mut LinearMemory));

        let code_for_funcrefs = args.code.clone();
        let mut instance = Box::new(Instance {
            vmctx,
            layout,
            offsets: offsets.clone(),
            info: info.clone(),
            wasm: args.wasm,
            code: args.code,
            _type_ids: args.type_ids.clone(),
            tables,
            memories,
            defined_tables,
            defined_memories,
            _defined_tags: defined_tags,
            tags,
            store_ctx: args.store_ctx,
            passive_elems: Vec::new(),
            passive_data: Vec::new(),
            data_in_image: args.data_in_image,
            funcrefs: FuncRefs {
                vmctx: vmctx.as_ptr(),
                first: if info.functions.is_empty() { 0 } else { offsets.funcref(0) },
                code: code_for_funcrefs,
                info: info.clone(),
                type_ids: args.type_ids.clone(),
            },
            lazy_tables: Vec::new(),
            gc_types: args.gc_types,
            hierarchy: args.hierarchy,
        });
        for (i, image) in args.table_images.iter().enumerate() {
            let lazy = match (image, instance.defined_tables.get_mut(i)) {
                (Some(image), Some(table)) if image.len() as u64 <= table.size() => {
                    let funcrefs = instance.funcrefs.clone();
                    table.set_lazy(crate::table::LazyInit { image: image.clone(), funcrefs });
                    true
                }
                _ => false,
            };
            instance.lazy_tables.push(lazy);
        }
        let instance_ptr: *mut Instance = &mut *instance;
        // SAFETY: all writes below stay inside the zeroed VMContext allocation, at offsets computed
        // for this module; every pointer written outlives the instance (the store keeps imports
        // alive, the instance owns the rest).
        unsafe {
            let base = instance.vmctx.as_ptr();
            let write = |offset: u32, value: usize| *(base.add(offset as usize) as *mut usize) = value;
            *(base as *mut u32) = VMCONTEXT_MAGIC;
            write(VMOffsets::STORE_CONTEXT, args.store_ctx as usize);
            write(VMOffsets::BUILTINS, &crate::libcalls::BUILTINS as *const _ as usize);
            write(VMOffsets::TYPE_IDS, args.type_ids.as_ptr() as usize);
            write(VMOffsets::STORE, args.store as usize);
            write(VMOffsets::INSTANCE, instance_ptr as usize);
            for (i, func) in args.imported_funcs.iter().enumerate() {
                *(base.add(offsets.funcref(i as u32) as usize) as *mut VMFuncRef) = *func;
            }
            // Defined functions' funcrefs are written when first used (`FuncRefs`).
            for (i, table) in instance.tables.iter().enumerate() {
                write(offsets.table_ptr(i as u32), *table as usize);
            }
            for (i, memory) in instance.memories.iter().enumerate() {
                write(offsets.memory_ptr(i as u32), (**memory).definition_ptr() as usize);
            }
            for (i, global) in args.imported_globals.iter().enumerate() {
                write(offsets.imported_global_ptr(i as u32), *global as usize);
            }
            for (i, tag) in instance.tags.iter().enumerate() {
                write(offsets.tag_ptr(i as u32), *tag as usize);
            }
        }
        Ok(instance)
    }

    /// Runs global initialisers and the active element and data segments, in the spec's order. A
    /// trap leaves the effects of earlier segments in place, as the spec requires.
    pub fn initialize(&mut self) -> Result<(), Trap> {
        // Objects made by initialisers are reachable from no root until they are stored.
        // SAFETY: the store context outlives its instances; only this thread uses it now.
        let gc = unsafe { &mut *(*self.store_ctx).gc.get() };
        gc.inhibit_collection();
        let result = self.initialize_inner();
        // SAFETY: as above.
        unsafe { &mut *(*self.store_ctx).gc.get() }.allow_collection();
        result
    }

    fn initialize_inner(&mut self) -> Result<(), Trap> {
        let info = self.info.clone();
        for (i, init) in info.global_inits.iter().enumerate() {
            let value = self.eval_const(init)?;
            let global = self.global_ptr(info.num_imported_globals + i as u32);
            // SAFETY: the global lives inside our VMContext.
            unsafe { (*global).set(value) };
        }
        for (i, init) in info.table_inits.iter().enumerate() {
            if let Some(init) = init {
                let value = self.eval_const(init)?.get_reference();
                // SAFETY: the table is owned by this instance and not borrowed elsewhere here.
                let elements = unsafe { (*self.table(info.num_imported_tables + i as u32)).elements_mut() };
                elements.fill(value);
            }
        }
        // Only passive segments are kept; active ones are written straight into their table
        // below, and declared ones are dropped from the start.
        self.passive_elems = info
            .elems
            .iter()
            .map(|seg| match seg.mode {
                SegmentMode::Passive => self.elem_items(&seg.items),
                _ => Ok(Box::default()),
            })
            .collect::<Result<_, _>>()?;
        self.passive_data = info.data.iter().map(|d| d.data.clone()).collect();
        for seg in info.elems.iter() {
            if let SegmentMode::Active { index, offset } = &seg.mode {
                // A lazily initialised table's segments are in its image (all in bounds).
                let defined = index.checked_sub(info.num_imported_tables);
                if defined.is_some_and(|d| self.lazy_tables.get(d as usize).copied().unwrap_or(false)) {
                    continue;
                }
                let dst = self.eval_offset(offset, info.tables[*index as usize].table64)?;
                let items = self.elem_items(&seg.items)?;
                // SAFETY: tables outlive the instance and are not borrowed elsewhere here.
                let elements = unsafe { (*self.table(*index)).elements_mut() };
                let end = dst
                    .checked_add(items.len() as u64)
                    .filter(|end| *end <= elements.len() as u64)
                    .ok_or(Trap::TableOutOfBounds)?;
                elements[dst as usize..end as usize].copy_from_slice(&items);
            }
        }
        for (i, seg) in info.data.iter().enumerate() {
            if self.data_in_image.get(i).copied().unwrap_or(false) {
                // Already in the memory, mapped from the module's image.
                self.data_drop(i as u32);
                continue;
            }
            if let SegmentMode::Active { index, offset } = &seg.mode {
                let dst = self.eval_offset(offset, info.memories[*index as usize].memory64)?;
                let len = seg.data.len() as u32;
                self.memory_init(*index, i as u32, dst, 0, len)?;
                self.data_drop(i as u32);
            }
        }
        Ok(())
    }

    /// A segment offset: `i64` for 64-bit tables and memories, `i32` otherwise.
    fn eval_offset(&self, expr: &ConstExpr, is64: bool) -> Result<u64, Trap> {
        let value = self.eval_const(expr)?;
        Ok(if is64 { value.get_i64() as u64 } else { value.get_i32() as u32 as u64 })
    }

    fn eval_const(&self, expr: &ConstExpr) -> Result<ValRaw, Trap> {
        // The stack never holds more values than the expression has operations; expressions are
        // almost always one operation, so a fixed array avoids an allocation per global and
        // segment.
        let mut small = [ValRaw::default(); 8];
        let mut large;
        let stack: &mut [ValRaw] = if expr.ops.len() <= small.len() {
            &mut small
        } else {
            large = vec![ValRaw::default(); expr.ops.len()];
            &mut large
        };
        let mut depth = 0usize;
        for op in &expr.ops {
            let value = match *op {
                ConstOp::I32Const(v) => ValRaw::i32(v),
                ConstOp::I64Const(v) => ValRaw::i64(v),
                ConstOp::F32Const(v) => ValRaw::f32(v),
                ConstOp::F64Const(v) => ValRaw::f64(v),
                ConstOp::V128Const(v) => ValRaw::u128(v),
                // SAFETY: validation guarantees the index is in range.
                ConstOp::GlobalGet(g) => unsafe { (*self.global_ptr(g)).get() },
                ConstOp::RefNull(_) => ValRaw::reference(0),
                ConstOp::RefFunc(f) => ValRaw::reference(self.funcref(f) as usize),
                // An i31 is the tagged word `(x << 1) | 1`; validation guarantees an i32 operand.
                ConstOp::RefI31 => {
                    depth -= 1;
                    ValRaw::reference(i31_word(stack[depth].get_i32()))
                }
                // GC allocations (collections are inhibited while initialisers run).
                ConstOp::StructNew(ty)
                | ConstOp::StructNewDefault(ty)
                | ConstOp::StructNewDesc(ty)
                | ConstOp::StructNewDefaultDesc(ty) => {
                    let info = self.gc_type(ty);
                    // Custom descriptors: the descriptor is on top, above the fields.
                    let descriptor = if matches!(op, ConstOp::StructNewDesc(_) | ConstOp::StructNewDefaultDesc(_)) {
                        depth -= 1;
                        match stack[depth].get_reference() {
                            0 => return Err(Trap::NullDescriptorReference),
                            d => Some(d),
                        }
                    } else {
                        None
                    };
                    let with_fields = matches!(op, ConstOp::StructNew(_) | ConstOp::StructNewDesc(_));
                    let n = if with_fields { info.fields.len() } else { 0 };
                    depth -= n;
                    let object = self.gc_alloc(ty, 0)?;
                    for (i, v) in stack[depth..depth + n].iter().enumerate() {
                        // SAFETY: the field lies inside the new object; its storage type is the field's.
                        unsafe { crate::gc::write_storage(object, info.field_offsets[i], info.fields[i].storage, *v) };
                    }
                    if let Some(d) = descriptor {
                        // SAFETY: a type with a descriptor keeps its word at DESCRIPTOR.
                        unsafe { *((object + kiln_environ::vmgc::DESCRIPTOR as usize) as *mut usize) = d };
                    }
                    ValRaw::reference(object)
                }
                ConstOp::ArrayNew(ty) | ConstOp::ArrayNewDefault(ty) => {
                    let with_value = matches!(op, ConstOp::ArrayNew(_));
                    depth -= if with_value { 2 } else { 1 };
                    let len = stack[depth + usize::from(with_value)].get_i32() as u32;
                    let object = self.gc_alloc(ty, len)?;
                    if with_value {
                        self.array_fill_raw(object, 0, len, stack[depth]);
                    }
                    ValRaw::reference(object)
                }
                ConstOp::ArrayNewFixed(ty, n) => {
                    depth -= n as usize;
                    let object = self.gc_alloc(ty, n)?;
                    for i in 0..n {
                        self.array_fill_raw(object, i, 1, stack[depth + i as usize]);
                    }
                    ValRaw::reference(object)
                }
                // Validation guarantees two operands of the right type.
                binary => {
                    depth -= 2;
                    let (a, b) = (stack[depth], stack[depth + 1]);
                    match binary {
                        ConstOp::I32Add => ValRaw::i32(a.get_i32().wrapping_add(b.get_i32())),
                        ConstOp::I32Sub => ValRaw::i32(a.get_i32().wrapping_sub(b.get_i32())),
                        ConstOp::I32Mul => ValRaw::i32(a.get_i32().wrapping_mul(b.get_i32())),
                        ConstOp::I64Add => ValRaw::i64(a.get_i64().wrapping_add(b.get_i64())),
                        ConstOp::I64Sub => ValRaw::i64(a.get_i64().wrapping_sub(b.get_i64())),
                        _ => ValRaw::i64(a.get_i64().wrapping_mul(b.get_i64())),
                    }
                }
            };
            stack[depth] = value;
            depth += 1;
        }
        Ok(depth.checked_sub(1).map(|top| stack[top]).unwrap_or_default())
    }

    /// The raw values of an element segment's items.
    fn elem_items(&self, items: &ElemItems) -> Result<Box<[usize]>, Trap> {
        Ok(match items {
            ElemItems::Functions(funcs) => funcs.iter().map(|f| self.funcref(*f) as usize).collect(),
            ElemItems::Exprs(exprs) => {
                exprs.iter().map(|e| self.eval_const(e).map(|v| v.get_reference())).collect::<Result<_, _>>()?
            }
        })
    }

    /// The GC descriptor of struct or array type `ty`.
    pub fn gc_type(&self, ty: TypeIndex) -> &Arc<crate::gc::VMGcTypeInfo> {
        self.gc_types[ty as usize].as_ref().expect("validated GC instructions name struct or array types")
    }

    /// The store's GC heap.
    fn gc_heap(&self) -> &crate::gc::GcHeap {
        // SAFETY: the store context outlives its instances; only this thread uses the store now.
        unsafe { &*(*self.store_ctx).gc.get() }
    }

    /// `array.copy` between non-null arrays of this store.
    pub fn array_copy(&self, dst: usize, dst_index: u32, src: usize, src_index: u32, len: u32) -> Result<(), Trap> {
        let heap = self.gc_heap();
        // SAFETY: compiled code passes live arrays whose element types validation matched.
        unsafe { crate::gc::array_copy(heap.type_table(), dst, dst_index, src, src_index, len) }
    }

    /// The engine's subtype relation.
    pub fn hierarchy(&self) -> &crate::gc::TypeHierarchy {
        &self.hierarchy
    }

    /// Allocates a zeroed object of struct or array type `ty` (`len` elements for an array).
    /// May collect first: every reference in use must be visible to the store's roots hook (wasm
    /// frames are, once the allocating builtin's entry recorded the exit).
    pub fn gc_alloc(&self, ty: TypeIndex, len: u32) -> Result<usize, Trap> {
        let info = self.gc_type(ty);
        // SAFETY: the store context outlives its instances; only this thread uses the store now.
        let gc = unsafe { &mut *(*self.store_ctx).gc.get() };
        // SAFETY: callers are builtins entered through the exit-recording entries, initialisers
        // (collections inhibited), or the host with its references rooted.
        unsafe { gc.alloc(info, len) }
    }

    /// Writes `value` to elements `start..start + len` of array `object` (in bounds).
    fn array_fill_raw(&self, object: usize, start: u32, len: u32, value: ValRaw) {
        // SAFETY: `object` is a live array; callers keep the range inside its length.
        let object = unsafe { self.gc_heap().object(object) };
        let info = object.type_info();
        let storage = info.fields[0].storage;
        for i in start..start + len {
            let offset = kiln_environ::vmgc::ARRAY_HEADER_SIZE + i * info.elem_size;
            // SAFETY: element `i` lies inside the array.
            unsafe { crate::gc::write_storage(object.address(), offset, storage, value) };
        }
    }

    /// `array.new_data`: an array of type `ty` with `len` elements read from data segment `data`
    /// at byte `offset`.
    pub fn array_new_data(&self, ty: TypeIndex, data: u32, offset: u32, len: u32) -> Result<usize, Trap> {
        let elem_size = self.gc_type(ty).elem_size;
        let range = self.passive_data[data as usize].clone();
        let bytes = u64::from(len) * u64::from(elem_size);
        let end = u64::from(offset) + bytes;
        if end > range.len() as u64 {
            return Err(Trap::MemoryOutOfBounds);
        }
        let object = self.gc_alloc(ty, len)?;
        let src = &self.wasm[range.start + offset as usize..range.start + end as usize];
        // SAFETY: the new array holds exactly `bytes` bytes of elements after its header.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.as_ptr(),
                (object + kiln_environ::vmgc::ARRAY_HEADER_SIZE as usize) as *mut u8,
                src.len(),
            )
        };
        Ok(object)
    }

    /// `array.new_elem`: an array of type `ty` with `len` elements of element segment `elem`
    /// from `offset`.
    pub fn array_new_elem(&self, ty: TypeIndex, elem: u32, offset: u32, len: u32) -> Result<usize, Trap> {
        let items_len = self.passive_elems[elem as usize].len() as u64;
        if u64::from(offset) + u64::from(len) > items_len {
            return Err(Trap::TableOutOfBounds);
        }
        // The segment is a root while the allocation may collect; read it after.
        let object = self.gc_alloc(ty, len)?;
        let items = &self.passive_elems[elem as usize][offset as usize..(offset + len) as usize];
        // SAFETY: the new array holds `len` pointer-sized elements after its header.
        unsafe {
            std::ptr::copy_nonoverlapping(
                items.as_ptr(),
                (object + kiln_environ::vmgc::ARRAY_HEADER_SIZE as usize) as *mut usize,
                items.len(),
            )
        };
        Ok(object)
    }

    /// `array.init_data` on non-null array `object`.
    pub fn array_init_data(&self, object: usize, dst: u32, data: u32, src: u32, len: u32) -> Result<(), Trap> {
        // SAFETY: compiled code passes non-null array references of this store.
        let array = unsafe { self.gc_heap().object(object) };
        if u64::from(dst) + u64::from(len) > u64::from(array.len()) {
            return Err(Trap::ArrayOutOfBounds);
        }
        let elem_size = array.type_info().elem_size;
        let range = self.passive_data[data as usize].clone();
        let bytes = u64::from(len) * u64::from(elem_size);
        let end = u64::from(src) + bytes;
        if end > range.len() as u64 {
            return Err(Trap::MemoryOutOfBounds);
        }
        let from = &self.wasm[range.start + src as usize..range.start + end as usize];
        // SAFETY: checked above: the destination elements lie inside the array.
        unsafe {
            std::ptr::copy_nonoverlapping(
                from.as_ptr(),
                array.field_ptr(kiln_environ::vmgc::ARRAY_HEADER_SIZE + dst * elem_size),
                from.len(),
            )
        };
        Ok(())
    }

    /// `array.init_elem` on non-null array `object`.
    pub fn array_init_elem(&self, object: usize, dst: u32, elem: u32, src: u32, len: u32) -> Result<(), Trap> {
        // SAFETY: compiled code passes non-null array references of this store.
        let array = unsafe { self.gc_heap().object(object) };
        if u64::from(dst) + u64::from(len) > u64::from(array.len()) {
            return Err(Trap::ArrayOutOfBounds);
        }
        let items = &self.passive_elems[elem as usize];
        if u64::from(src) + u64::from(len) > items.len() as u64 {
            return Err(Trap::TableOutOfBounds);
        }
        let items = &items[src as usize..(src + len) as usize];
        // SAFETY: checked above; reference elements are pointer-sized.
        unsafe {
            std::ptr::copy_nonoverlapping(
                items.as_ptr(),
                array.field_ptr(kiln_environ::vmgc::ARRAY_HEADER_SIZE + dst * 8).cast::<usize>(),
                items.len(),
            )
        };
        Ok(())
    }

    /// The raw references of the passive element segments (GC roots).
    pub fn passive_elems(&self) -> impl Iterator<Item = usize> + '_ {
        self.passive_elems.iter().flat_map(|items| items.iter().copied())
    }

    /// The instance's `VMContext`.
    pub fn vmctx(&self) -> *mut VMContext {
        self.vmctx.as_ptr().cast()
    }

    /// The instance behind a `VMContext`.
    ///
    /// # Safety
    ///
    /// `vmctx` must be the context of a live instance, not borrowed elsewhere.
    pub unsafe fn from_vmctx<'a>(vmctx: *mut VMContext) -> &'a mut Instance {
        // SAFETY: the INSTANCE slot holds the owning instance's address.
        unsafe { &mut *(*(vmctx.cast::<u8>().add(VMOffsets::INSTANCE as usize) as *const *mut Instance)) }
    }

    /// The module.
    pub fn info(&self) -> &Arc<ModuleInfo> {
        &self.info
    }

    /// The compiled code.
    pub fn code(&self) -> &Arc<CodeMemory> {
        &self.code
    }

    /// The funcref of function `f` inside the `VMContext` (written first if need be).
    pub fn funcref(&self, f: FuncIndex) -> *mut VMFuncRef {
        self.funcrefs.get(f)
    }

    /// Element `index` (in bounds) of table `t`, initialised from its image if it is due.
    pub fn table_get_lazy(&mut self, t: TableIndex, index: u64) -> usize {
        // SAFETY: tables outlive the instance and are not borrowed during a builtin.
        let table = unsafe { &mut *self.table(t) };
        table.get(index).unwrap_or(0)
    }

    /// Table `t`.
    pub fn table(&self, t: TableIndex) -> *mut Table {
        self.tables[t as usize]
    }

    /// Memory `m`.
    pub fn memory(&self, m: MemoryIndex) -> *mut LinearMemory {
        self.memories[m as usize]
    }

    /// Tag `t` (its address is its identity).
    pub fn tag(&self, t: TagIndex) -> *const VMTagDefinition {
        self.tags[t as usize]
    }

    /// The store context the instance belongs to.
    pub fn store_context(&self) -> *mut VMStoreContext {
        self.store_ctx
    }

    /// Storage of global `g`.
    pub fn global_ptr(&self, g: GlobalIndex) -> *mut VMGlobalDefinition {
        // SAFETY: offsets are inside the VMContext; imported slots hold valid pointers.
        unsafe {
            let base = self.vmctx.as_ptr();
            if g < self.info.num_imported_globals {
                *(base.add(self.offsets.imported_global_ptr(g) as usize) as *const *mut VMGlobalDefinition)
            } else {
                base.add(self.offsets.defined_global(g - self.info.num_imported_globals) as usize).cast()
            }
        }
    }

    // ---- operations behind builtins ----

    /// `memory.grow`.
    pub fn memory_grow(&mut self, m: MemoryIndex, delta: u64) -> Option<u64> {
        // SAFETY: memories outlive the instance and are not borrowed during a builtin.
        unsafe { (*self.memory(m)).grow(delta) }
    }

    /// `memory.copy`.
    pub fn memory_copy(
        &mut self,
        dst_mem: MemoryIndex,
        dst: u64,
        src_mem: MemoryIndex,
        src: u64,
        len: u64,
    ) -> Result<(), Trap> {
        // SAFETY: as in `memory_grow`; `ptr::copy` handles overlap within one memory.
        unsafe {
            let dst_len = (*self.memory(dst_mem)).byte_size() as u64;
            let src_len = (*self.memory(src_mem)).byte_size() as u64;
            if dst.checked_add(len).is_none_or(|end| end > dst_len)
                || src.checked_add(len).is_none_or(|end| end > src_len)
            {
                return Err(Trap::MemoryOutOfBounds);
            }
            let dst_ptr = (*self.memory(dst_mem)).data_mut().as_mut_ptr().add(dst as usize);
            let src_ptr = (*self.memory(src_mem)).data().as_ptr().add(src as usize);
            std::ptr::copy(src_ptr, dst_ptr, len as usize);
        }
        Ok(())
    }

    /// `memory.fill`.
    pub fn memory_fill(&mut self, m: MemoryIndex, dst: u64, value: u8, len: u64) -> Result<(), Trap> {
        // SAFETY: as in `memory_grow`.
        let data = unsafe { (*self.memory(m)).data_mut() };
        let end = dst.checked_add(len).filter(|end| *end <= data.len() as u64).ok_or(Trap::MemoryOutOfBounds)?;
        data[dst as usize..end as usize].fill(value);
        Ok(())
    }

    /// `memory.init`.
    pub fn memory_init(&mut self, m: MemoryIndex, data_index: u32, dst: u64, src: u32, len: u32) -> Result<(), Trap> {
        let range = self.passive_data[data_index as usize].clone();
        let src_end = u64::from(src) + u64::from(len);
        if src_end > range.len() as u64 {
            return Err(Trap::MemoryOutOfBounds);
        }
        // SAFETY: as in `memory_grow`.
        let data = unsafe { (*self.memory(m)).data_mut() };
        let end =
            dst.checked_add(u64::from(len)).filter(|end| *end <= data.len() as u64).ok_or(Trap::MemoryOutOfBounds)?;
        let bytes = &self.wasm[range.start + src as usize..range.start + src_end as usize];
        data[dst as usize..end as usize].copy_from_slice(bytes);
        Ok(())
    }

    /// `data.drop`.
    pub fn data_drop(&mut self, data_index: u32) {
        self.passive_data[data_index as usize] = 0..0;
    }

    /// `table.grow`.
    pub fn table_grow(&mut self, t: TableIndex, delta: u64, init: usize) -> Option<u64> {
        // SAFETY: tables outlive the instance and are not borrowed during a builtin.
        unsafe { (*self.table(t)).grow(delta, init) }
    }

    /// `table.fill`.
    pub fn table_fill(&mut self, t: TableIndex, dst: u64, value: usize, len: u64) -> Result<(), Trap> {
        // SAFETY: as in `table_grow`.
        let elements = unsafe { (*self.table(t)).elements_mut() };
        let end = dst.checked_add(len).filter(|end| *end <= elements.len() as u64).ok_or(Trap::TableOutOfBounds)?;
        elements[dst as usize..end as usize].fill(value);
        Ok(())
    }

    /// `table.copy`.
    pub fn table_copy(
        &mut self,
        dst_t: TableIndex,
        src_t: TableIndex,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), Trap> {
        // SAFETY: as in `table_grow`; the same table is handled with `copy_within`.
        unsafe {
            let dst_len = (*self.table(dst_t)).size();
            let src_len = (*self.table(src_t)).size();
            if dst.checked_add(len).is_none_or(|e| e > dst_len) || src.checked_add(len).is_none_or(|e| e > src_len) {
                return Err(Trap::TableOutOfBounds);
            }
            let (dst, src, len) = (dst as usize, src as usize, len as usize);
            if dst_t == src_t {
                (*self.table(dst_t)).elements_mut().copy_within(src..src + len, dst);
            } else {
                let src_elems = (*self.table(src_t)).elements()[src..src + len].to_vec();
                (*self.table(dst_t)).elements_mut()[dst..dst + len].copy_from_slice(&src_elems);
            }
        }
        Ok(())
    }

    /// `table.init`.
    pub fn table_init(&mut self, t: TableIndex, elem: u32, dst: u64, src: u32, len: u32) -> Result<(), Trap> {
        let items = &self.passive_elems[elem as usize];
        let src_end = src as usize + len as usize;
        if src_end > items.len() {
            return Err(Trap::TableOutOfBounds);
        }
        // SAFETY: as in `table_grow`.
        let elements = unsafe { (*self.table(t)).elements_mut() };
        let end =
            dst.checked_add(u64::from(len)).filter(|e| *e <= elements.len() as u64).ok_or(Trap::TableOutOfBounds)?;
        elements[dst as usize..end as usize].copy_from_slice(&items[src as usize..src_end]);
        Ok(())
    }

    /// `elem.drop`.
    pub fn elem_drop(&mut self, elem: u32) {
        self.passive_elems[elem as usize] = Box::new([]);
    }

    /// Number of defined memories (owned by this instance).
    pub fn defined_memories(&self) -> usize {
        self.defined_memories.len()
    }

    /// Number of defined tables (owned by this instance).
    pub fn defined_tables(&self) -> usize {
        self.defined_tables.len()
    }

    /// Reports the GC roots this instance owns: its defined globals and tables of reference
    /// types, and its passive element segments.
    pub fn trace_roots(&self, roots: &mut dyn crate::gc::RootSink) {
        let info = &self.info;
        for (i, ty) in info.globals.iter().enumerate().skip(info.num_imported_globals as usize) {
            if ty.content.is_gc_ref() {
                // SAFETY: the global lives inside our VMContext.
                roots.typed(unsafe { (*self.global_ptr(i as u32)).get() }.get_reference());
            }
        }
        for table in &self.defined_tables {
            table.trace(roots);
        }
        // Function references are not GC objects (and share their low bits).
        for (items, seg) in self.passive_elems.iter().zip(&info.elems) {
            if seg.ty.heap.is_gc_managed() {
                for item in items.iter() {
                    roots.typed(*item);
                }
            }
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.vmctx.as_ptr(), self.layout) }
    }
}

/// The word an `i31ref` of `x` is: its low 31 bits shifted up one, tagged with a 1 so that it is
/// never null (0) nor a pointer (aligned).
pub fn i31_word(x: i32) -> usize {
    (((x as u32) << 1) | 1) as usize
}
