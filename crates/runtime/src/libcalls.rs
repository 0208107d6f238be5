//! The builtin functions compiled code calls through the `VMContext`'s builtin table.
//!
//! Each takes the calling instance's `VMContext` first. A builtin that traps computes its result
//! first, drops everything it owns, and only then unwinds (see `traphandlers`).

use crate::instance::Instance;
use crate::traphandlers::raise_trap_at;
use crate::vmcontext::VMContext;
use kiln_environ::{Builtin, Trap};

/// The builtin table, in [`Builtin`] order.
#[repr(C)]
pub struct VMBuiltins {
    memory_grow: unsafe extern "C" fn(*mut VMContext, u32, u64) -> u64,
    memory_copy: unsafe extern "C" fn(*mut VMContext, u32, u64, u32, u64, u64) -> u32,
    memory_fill: unsafe extern "C" fn(*mut VMContext, u32, u64, u32, u64) -> u32,
    memory_init: unsafe extern "C" fn(*mut VMContext, u32, u32, u64, u32, u32) -> u32,
    data_drop: unsafe extern "C" fn(*mut VMContext, u32),
    table_grow: unsafe extern "C" fn(*mut VMContext, u32, u64, u64) -> u64,
    table_fill: unsafe extern "C" fn(*mut VMContext, u32, u64, u64, u64) -> u32,
    table_copy: unsafe extern "C" fn(*mut VMContext, u32, u32, u64, u64, u64) -> u32,
    table_init: unsafe extern "C" fn(*mut VMContext, u32, u32, u64, u32, u32) -> u32,
    elem_drop: unsafe extern "C" fn(*mut VMContext, u32),
    raise_trap: unsafe extern "C" fn(*mut VMContext, u32, u32, u32, usize),
    ceil_f32: extern "C" fn(f32) -> f32,
    floor_f32: extern "C" fn(f32) -> f32,
    trunc_f32: extern "C" fn(f32) -> f32,
    nearest_f32: extern "C" fn(f32) -> f32,
    ceil_f64: extern "C" fn(f64) -> f64,
    floor_f64: extern "C" fn(f64) -> f64,
    trunc_f64: extern "C" fn(f64) -> f64,
    nearest_f64: extern "C" fn(f64) -> f64,
    memory_atomic_wait32: unsafe extern "C" fn(*mut VMContext, u32, u64, u32, i64) -> u32,
    memory_atomic_wait64: unsafe extern "C" fn(*mut VMContext, u32, u64, u64, i64) -> u32,
    memory_atomic_notify: unsafe extern "C" fn(*mut VMContext, u32, u64, u32) -> u32,
    exception_new: unsafe extern "C" fn(*mut VMContext, u32) -> u64,
    throw: unsafe extern "C" fn(*mut VMContext, u64, usize, u32, u32),
    exception_drop: unsafe extern "C" fn(*mut VMContext, u64),
    table_get_lazy: unsafe extern "C" fn(*mut VMContext, u32, u64) -> u64,
    ref_func: unsafe extern "C" fn(*mut VMContext, u32) -> u64,
    gc_alloc: unsafe extern "C" fn(*mut VMContext, u32, u32) -> u64,
    array_new_data: unsafe extern "C" fn(*mut VMContext, u32, u32, u32, u32) -> u64,
    array_new_elem: unsafe extern "C" fn(*mut VMContext, u32, u32, u32, u32) -> u64,
    array_init_data: unsafe extern "C" fn(*mut VMContext, u64, u32, u32, u32, u32) -> u32,
    array_init_elem: unsafe extern "C" fn(*mut VMContext, u64, u32, u32, u32, u32) -> u32,
    array_copy: unsafe extern "C" fn(*mut VMContext, u64, u32, u64, u32, u32) -> u32,
    is_subtype: unsafe extern "C" fn(*mut VMContext, u32, u32) -> u32,
}

/// The one builtin table every `VMContext` points to.
pub static BUILTINS: VMBuiltins = VMBuiltins {
    memory_grow,
    memory_copy,
    memory_fill,
    memory_init,
    data_drop,
    table_grow,
    table_fill,
    table_copy,
    table_init,
    elem_drop,
    raise_trap: raise_trap_builtin,
    ceil_f32,
    floor_f32,
    trunc_f32,
    nearest_f32,
    ceil_f64,
    floor_f64,
    trunc_f64,
    nearest_f64,
    memory_atomic_wait32,
    memory_atomic_wait64,
    memory_atomic_notify,
    // Entered like the allocating builtins below: allocating an exception may collect.
    exception_new: kiln_exception_new_entry,
    throw,
    exception_drop,
    table_get_lazy,
    ref_func,
    // The allocating builtins are entered through entries that record the calling wasm frame,
    // so that a collection finds its references (see `gc_entries` below).
    gc_alloc: kiln_gc_alloc_entry,
    array_new_data: kiln_array_new_data_entry,
    array_new_elem: kiln_array_new_elem_entry,
    array_init_data,
    array_init_elem,
    array_copy,
    is_subtype,
};

const _: () = assert!(std::mem::size_of::<VMBuiltins>() == Builtin::COUNT * 8);

/// Address of a builtin, for absolute relocations in compiled code.
pub fn builtin_address(builtin: Builtin) -> usize {
    let table = &BUILTINS as *const VMBuiltins as *const usize;
    // SAFETY: VMBuiltins is a repr(C) array of COUNT function pointers.
    unsafe { *table.add(builtin as usize) }
}

/// The status a checked builtin returns: 0, or the trap's code + 1 (compiled code raises it).
fn status(result: Result<(), Trap>) -> u32 {
    match result {
        Ok(()) => 0,
        Err(trap) => u32::from(trap.as_u8()) + 1,
    }
}

/// An allocation's result for compiled code: the object, or `trap code + 1`.
fn allocation(result: Result<usize, Trap>) -> u64 {
    match result {
        Ok(address) => address as u64,
        Err(trap) => u64::from(trap.as_u8()) + 1,
    }
}

unsafe extern "C" fn gc_alloc(vmctx: *mut VMContext, ty: u32, len: u32) -> u64 {
    // SAFETY: compiled code passes its own live VMContext and a validated type index; it was
    // entered through `kiln_gc_alloc_entry`, so its frame's references are visible.
    allocation(unsafe { Instance::from_vmctx(vmctx) }.gc_alloc(ty, len))
}

unsafe extern "C" fn array_new_data(vmctx: *mut VMContext, ty: u32, data: u32, offset: u32, len: u32) -> u64 {
    // SAFETY: as for `gc_alloc`.
    allocation(unsafe { Instance::from_vmctx(vmctx) }.array_new_data(ty, data, offset, len))
}

unsafe extern "C" fn array_new_elem(vmctx: *mut VMContext, ty: u32, elem: u32, offset: u32, len: u32) -> u64 {
    // SAFETY: as for `gc_alloc`.
    allocation(unsafe { Instance::from_vmctx(vmctx) }.array_new_elem(ty, elem, offset, len))
}

unsafe extern "C" fn array_init_data(
    vmctx: *mut VMContext,
    array: u64,
    dst: u32,
    data: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: compiled code passes its own live VMContext and a non-null array of its store.
    status(unsafe { Instance::from_vmctx(vmctx) }.array_init_data(array as usize, dst, data, src, len))
}

unsafe extern "C" fn array_init_elem(
    vmctx: *mut VMContext,
    array: u64,
    dst: u32,
    elem: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: as above.
    status(unsafe { Instance::from_vmctx(vmctx) }.array_init_elem(array as usize, dst, elem, src, len))
}

unsafe extern "C" fn array_copy(
    vmctx: *mut VMContext,
    dst: u64,
    dst_index: u32,
    src: u64,
    src_index: u32,
    len: u32,
) -> u32 {
    // SAFETY: compiled code passes its own live VMContext and non-null arrays of its store.
    status(unsafe { Instance::from_vmctx(vmctx) }.array_copy(dst as usize, dst_index, src as usize, src_index, len))
}

unsafe extern "C" fn is_subtype(vmctx: *mut VMContext, sub: u32, sup: u32) -> u32 {
    // SAFETY: compiled code passes its own live VMContext.
    u32::from(unsafe { Instance::from_vmctx(vmctx) }.hierarchy().is_subtype(sub, sup))
}

/// Entries of the allocating builtins. Each records the calling wasm frame in the store context
/// as a wasm-to-host trampoline does (its frame pointer, the return address, and the stack
/// pointer at the call), then jumps to the builtin: a collection then walks the wasm frames from
/// there. The offsets are `VMOffsets::STORE_CONTEXT` and `vmstore_context::LAST_WASM_EXIT_*`,
/// checked below.
macro_rules! gc_entries {
    ($($entry:ident => $target:ident,)*) => {
        $(
            #[cfg(target_arch = "x86_64")]
            std::arch::global_asm!(
                ".text",
                concat!(".globl ", stringify!($entry)),
                ".p2align 4",
                concat!(stringify!($entry), ":"),
                "mov rax, [rdi + 8]",
                "mov [rax + 24], rbp",
                "mov r11, [rsp]",
                "mov [rax + 32], r11",
                "lea r11, [rsp + 8]",
                "mov [rax + 48], r11",
                "jmp {target}",
                target = sym $target,
            );
            #[cfg(target_arch = "aarch64")]
            std::arch::global_asm!(
                ".text",
                concat!(".globl ", stringify!($entry)),
                ".p2align 4",
                concat!(stringify!($entry), ":"),
                "ldr x16, [x0, #8]",
                "str x29, [x16, #24]",
                "str x30, [x16, #32]",
                "mov x17, sp",
                "str x17, [x16, #48]",
                "b {target}",
                target = sym $target,
            );
        )*
    };
}

gc_entries! {
    kiln_exception_new_entry => exception_new,
    kiln_gc_alloc_entry => gc_alloc,
    kiln_array_new_data_entry => array_new_data,
    kiln_array_new_elem_entry => array_new_elem,
}

const _: () = {
    use kiln_environ::{VMOffsets, vmstore_context};
    assert!(VMOffsets::STORE_CONTEXT == 8);
    assert!(vmstore_context::LAST_WASM_EXIT_FP == 24);
    assert!(vmstore_context::LAST_WASM_EXIT_PC == 32);
    assert!(vmstore_context::LAST_WASM_EXIT_SP == 48);
};

unsafe extern "C" {
    fn kiln_exception_new_entry(vmctx: *mut VMContext, tag: u32) -> u64;
    fn kiln_gc_alloc_entry(vmctx: *mut VMContext, ty: u32, len: u32) -> u64;
    fn kiln_array_new_data_entry(vmctx: *mut VMContext, ty: u32, data: u32, offset: u32, len: u32) -> u64;
    fn kiln_array_new_elem_entry(vmctx: *mut VMContext, ty: u32, elem: u32, offset: u32, len: u32) -> u64;
}

unsafe extern "C" fn table_get_lazy(vmctx: *mut VMContext, table: u32, index: u64) -> u64 {
    // SAFETY: compiled code passes its own live VMContext and an index it checked.
    unsafe { Instance::from_vmctx(vmctx) }.table_get_lazy(table, index) as u64
}

unsafe extern "C" fn ref_func(vmctx: *mut VMContext, func: u32) -> u64 {
    // SAFETY: compiled code passes its own live VMContext and a validated function index.
    unsafe { Instance::from_vmctx(vmctx) }.funcref(func) as u64
}

unsafe extern "C" fn memory_grow(vmctx: *mut VMContext, memory: u32, delta: u64) -> u64 {
    // SAFETY: compiled code passes its own live VMContext.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    instance.memory_grow(memory, delta).unwrap_or(u64::MAX)
}

unsafe extern "C" fn memory_copy(
    vmctx: *mut VMContext,
    dst_mem: u32,
    dst: u64,
    src_mem: u32,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: as above.
    let result = unsafe { Instance::from_vmctx(vmctx) }.memory_copy(dst_mem, dst, src_mem, src, len);
    status(result)
}

unsafe extern "C" fn memory_fill(vmctx: *mut VMContext, memory: u32, dst: u64, value: u32, len: u64) -> u32 {
    // SAFETY: as above.
    let result = unsafe { Instance::from_vmctx(vmctx) }.memory_fill(memory, dst, value as u8, len);
    status(result)
}

unsafe extern "C" fn memory_init(vmctx: *mut VMContext, memory: u32, data: u32, dst: u64, src: u32, len: u32) -> u32 {
    // SAFETY: as above.
    let result = unsafe { Instance::from_vmctx(vmctx) }.memory_init(memory, data, dst, src, len);
    status(result)
}

unsafe extern "C" fn data_drop(vmctx: *mut VMContext, data: u32) {
    // SAFETY: as above.
    unsafe { Instance::from_vmctx(vmctx) }.data_drop(data)
}

unsafe extern "C" fn table_grow(vmctx: *mut VMContext, table: u32, delta: u64, init: u64) -> u64 {
    // SAFETY: as above.
    unsafe { Instance::from_vmctx(vmctx) }.table_grow(table, delta, init as usize).unwrap_or(u64::MAX)
}

unsafe extern "C" fn table_fill(vmctx: *mut VMContext, table: u32, dst: u64, value: u64, len: u64) -> u32 {
    // SAFETY: as above.
    let result = unsafe { Instance::from_vmctx(vmctx) }.table_fill(table, dst, value as usize, len);
    status(result)
}

unsafe extern "C" fn table_copy(
    vmctx: *mut VMContext,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: as above.
    let result = unsafe { Instance::from_vmctx(vmctx) }.table_copy(dst_table, src_table, dst, src, len);
    status(result)
}

unsafe extern "C" fn table_init(vmctx: *mut VMContext, table: u32, elem: u32, dst: u64, src: u32, len: u32) -> u32 {
    // SAFETY: as above.
    let result = unsafe { Instance::from_vmctx(vmctx) }.table_init(table, elem, dst, src, len);
    status(result)
}

unsafe extern "C" fn elem_drop(vmctx: *mut VMContext, elem: u32) {
    // SAFETY: as above.
    unsafe { Instance::from_vmctx(vmctx) }.elem_drop(elem)
}

unsafe extern "C" fn raise_trap_builtin(vmctx: *mut VMContext, code: u32, func: u32, wasm_offset: u32, fp: usize) {
    // SAFETY: as above.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let trap = Trap::from_u8(code as u8).unwrap_or(Trap::UnreachableCodeReached);
    let code_mem = instance.code();
    let func_pc =
        code_mem.info().functions.get(func as usize).map_or(0, |r| code_mem.base() as usize + r.start as usize);
    // SAFETY: called by compiled code inside `catch_traps`; nothing here owns a destructor.
    unsafe { raise_trap_at(trap, func_pc, wasm_offset, fp) }
}

unsafe extern "C" fn exception_new(vmctx: *mut VMContext, tag: u32) -> u64 {
    // SAFETY: as above.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let info = instance.info();
    let num_values = info.func_type_at(info.tags[tag as usize]).params.len() as u32;
    let store_ctx = instance.store_context();
    // Exception objects that only wasm held are freed by collections: ask for one when they
    // have doubled since the last.
    // SAFETY: the store context outlives its instances; only this thread uses the store now.
    if unsafe { (*(*store_ctx).exceptions.get()).wants_collection() } {
        // SAFETY: entered through `kiln_exception_new_entry`, which recorded the calling wasm
        // frame, so the collection finds the references of every wasm frame; no borrow of the
        // exception heap is held across it.
        unsafe { (*(*store_ctx).gc.get()).collect_if_allowed() };
    }
    // SAFETY: as above.
    let heap = unsafe { &mut *(*store_ctx).exceptions.get() };
    heap.alloc(instance.tag(tag), num_values, store_ctx) as u64
}

unsafe extern "C" fn exception_drop(vmctx: *mut VMContext, exception: u64) {
    // SAFETY: as above.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    // SAFETY: the store context outlives its instances; only this thread uses the store now.
    let heap = unsafe { &mut *(*instance.store_context()).exceptions.get() };
    heap.release_unescaped(exception as usize);
}

unsafe extern "C" fn throw(vmctx: *mut VMContext, exception: u64, fp: usize, func: u32, wasm_offset: u32) {
    // SAFETY: as above.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let code_mem = instance.code();
    let func_pc =
        code_mem.info().functions.get(func as usize).map_or(0, |r| code_mem.base() as usize + r.start as usize);
    let site = crate::traphandlers::ThrowSite { func_pc, wasm_offset, fp };
    // SAFETY: called by compiled code inside `catch_traps` with its own frame pointer and an
    // exception object of its store; nothing here owns a destructor.
    unsafe { crate::traphandlers::throw_from_wasm(exception as usize, site) }
}

extern "C" fn ceil_f32(x: f32) -> f32 {
    x.ceil()
}
extern "C" fn floor_f32(x: f32) -> f32 {
    x.floor()
}
extern "C" fn trunc_f32(x: f32) -> f32 {
    x.trunc()
}
extern "C" fn nearest_f32(x: f32) -> f32 {
    x.round_ties_even()
}
extern "C" fn ceil_f64(x: f64) -> f64 {
    x.ceil()
}
extern "C" fn floor_f64(x: f64) -> f64 {
    x.floor()
}
extern "C" fn trunc_f64(x: f64) -> f64 {
    x.trunc()
}
extern "C" fn nearest_f64(x: f64) -> f64 {
    x.round_ties_even()
}

/// The host address of wasm address `addr` in memory `memory`; compiled code has bounds-checked it.
///
/// # Safety
///
/// `vmctx` must be a live instance's context.
unsafe fn atomic_target(vmctx: *mut VMContext, memory: u32, addr: u64) -> *mut u8 {
    // SAFETY: the caller passes a live context; the memory outlives the call.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    // SAFETY: memories outlive the instance.
    let base = unsafe { (*instance.memory(memory)).base() };
    // SAFETY: compiled code checked `addr + size <= length`.
    unsafe { base.add(addr as usize) }
}

fn timeout(ns: i64) -> Option<std::time::Duration> {
    u64::try_from(ns).ok().map(std::time::Duration::from_nanos)
}

unsafe extern "C" fn memory_atomic_wait32(
    vmctx: *mut VMContext,
    memory: u32,
    addr: u64,
    expected: u32,
    timeout_ns: i64,
) -> u32 {
    // SAFETY: called by compiled code with its own context and a checked, aligned address.
    let target = unsafe { atomic_target(vmctx, memory, addr) };
    // SAFETY: the address is 4-aligned and inside the memory.
    unsafe { crate::parking::wait(target, crate::parking::Expected::U32(expected), timeout(timeout_ns)) }
}

unsafe extern "C" fn memory_atomic_wait64(
    vmctx: *mut VMContext,
    memory: u32,
    addr: u64,
    expected: u64,
    timeout_ns: i64,
) -> u32 {
    // SAFETY: as in `memory_atomic_wait32`.
    let target = unsafe { atomic_target(vmctx, memory, addr) };
    // SAFETY: the address is 8-aligned and inside the memory.
    unsafe { crate::parking::wait(target, crate::parking::Expected::U64(expected), timeout(timeout_ns)) }
}

unsafe extern "C" fn memory_atomic_notify(vmctx: *mut VMContext, memory: u32, addr: u64, count: u32) -> u32 {
    // SAFETY: as in `memory_atomic_wait32`.
    let target = unsafe { atomic_target(vmctx, memory, addr) };
    crate::parking::notify(target, count)
}
