//! Runtime functions that compiled code calls through the builtin table.
//!
//! `VMContext` holds a pointer to an array of function pointers, indexed by [`Builtin`] discriminant.
//! Every builtin uses the platform's C calling convention (`extern "C"`, SystemV on x86-64 Linux) and
//! takes the calling instance's `*mut VMContext` as its first argument. Builtins that can trap do not
//! return in that case: the runtime unwinds straight to the host entry point.

/// A runtime builtin. Signatures list wasm-level types; `vmctx` is pointer-sized, index and length
/// arguments are `u32` unless stated. Builtins documented as "-> status" return 0 on success or
/// `trap code + 1`; compiled code then raises that trap itself through [`Builtin::RaiseTrap`], so
/// the trap's backtrace starts at the exact wasm instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Builtin {
    /// `(vmctx, memory: u32, delta_pages: u64) -> u64`: old size in pages, or `u64::MAX` on failure.
    MemoryGrow = 0,
    /// `(vmctx, dst_mem: u32, dst: u64, src_mem: u32, src: u64, len: u64) -> status`.
    MemoryCopy,
    /// `(vmctx, memory: u32, dst: u64, value: u32, len: u64) -> status`.
    MemoryFill,
    /// `(vmctx, memory: u32, data: u32, dst: u64, src: u32, len: u32) -> status`.
    MemoryInit,
    /// `(vmctx, data: u32)`.
    DataDrop,
    /// `(vmctx, table: u32, delta: u64, init: u64 /*raw element*/) -> u64`: old size or `u64::MAX`.
    TableGrow,
    /// `(vmctx, table: u32, dst: u64, value: u64 /*raw element*/, len: u64) -> status`.
    TableFill,
    /// `(vmctx, dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64) -> status`.
    TableCopy,
    /// `(vmctx, table: u32, elem: u32, dst: u64, src: u32, len: u32) -> status`.
    TableInit,
    /// `(vmctx, elem: u32)`.
    ElemDrop,
    /// `(vmctx, trap: u32 /*Trap code*/, func: u32 /*defined function index*/, wasm_offset: u32,
    /// fp: usize /*frame pointer of the trapping function*/)`; never returns. Used for traps that the
    /// code raises on purpose (`unreachable`), which avoids the cost of a signal.
    RaiseTrap,
    /// `(f32) -> f32` (used only when the ISA lacks native rounding).
    CeilF32,
    /// `(f32) -> f32`.
    FloorF32,
    /// `(f32) -> f32`.
    TruncF32,
    /// `(f32) -> f32`.
    NearestF32,
    /// `(f64) -> f64`.
    CeilF64,
    /// `(f64) -> f64`.
    FloorF64,
    /// `(f64) -> f64`.
    TruncF64,
    /// `(f64) -> f64`.
    NearestF64,
    /// `(vmctx, memory: u32, addr: u64, expected: u32, timeout_ns: i64 /*negative: none*/) -> u32`:
    /// 0 woken, 1 value differed, 2 timed out. Compiled code has checked bounds, alignment and that
    /// the memory is shared.
    MemoryAtomicWait32,
    /// `(vmctx, memory: u32, addr: u64, expected: u64, timeout_ns: i64) -> u32`, as above.
    MemoryAtomicWait64,
    /// `(vmctx, memory: u32, addr: u64, count: u32) -> u32`: the number of waiters woken.
    MemoryAtomicNotify,
    /// `(vmctx, tag: u32 /*tag index*/) -> u64`: a new exception object for that tag, owned by the
    /// store; compiled code writes the payload (see `vmexception`).
    ExceptionNew,
    /// `(vmctx, exception: u64, fp: usize /*frame pointer of the throwing function*/, func: u32
    /// /*its defined index*/, wasm_offset: u32)`; never returns. Unwinds from the caller of the throwing function to the nearest frame with a
    /// handler, or out to the host as an uncaught exception.
    Throw,
    /// `(vmctx, exception: u64)`: a plain `catch`/`catch_all` has consumed the exception; the
    /// runtime frees it unless it escaped (see `vmexception::ESCAPED`).
    ExceptionDrop,
    /// `(vmctx, table: u32, index: u64 /*in bounds*/) -> u64`: element `index` of a funcref table
    /// that reads as 0, which may be an element not yet initialised (see `kiln_runtime::table`):
    /// its value, which is 0 only for null.
    TableGetLazy,
    /// `(vmctx, func: u32) -> u64`: the funcref of function `func` (initialised on first use).
    RefFunc,
    /// `(vmctx, ty: u32 /*struct or array type index*/, len: u32) -> u64`: a new zeroed object
    /// (`len` is ignored for structs), or `trap code + 1` (below 256: never an address). May
    /// collect: its table entry records the calling wasm frame first (see `kiln_runtime::gc`).
    GcAlloc,
    /// `(vmctx, ty: u32, data: u32, offset: u32, len: u32) -> u64`: `array.new_data`, result as
    /// for `GcAlloc`.
    ArrayNewData,
    /// `(vmctx, ty: u32, elem: u32, offset: u32, len: u32) -> u64`: `array.new_elem`, result as
    /// for `GcAlloc`.
    ArrayNewElem,
    /// `(vmctx, array: u64 /*non-null*/, dst: u32, data: u32, src: u32, len: u32) -> status`.
    ArrayInitData,
    /// `(vmctx, array: u64 /*non-null*/, dst: u32, elem: u32, src: u32, len: u32) -> status`.
    ArrayInitElem,
    /// `(vmctx, dst: u64, dst_index: u32, src: u64, src_index: u32, len: u32) -> status`; both
    /// arrays non-null.
    ArrayCopy,
    /// `(vmctx, sub: u32, sup: u32 /*engine type ids*/) -> u32`: 1 if `sub` is `sup` or a
    /// declared subtype of it.
    IsSubtype,
}

impl Builtin {
    /// Number of builtins (length of the builtin table).
    pub const COUNT: usize = 34;

    /// All builtins, in discriminant order.
    pub const ALL: [Builtin; Builtin::COUNT] = [
        Builtin::MemoryGrow,
        Builtin::MemoryCopy,
        Builtin::MemoryFill,
        Builtin::MemoryInit,
        Builtin::DataDrop,
        Builtin::TableGrow,
        Builtin::TableFill,
        Builtin::TableCopy,
        Builtin::TableInit,
        Builtin::ElemDrop,
        Builtin::RaiseTrap,
        Builtin::CeilF32,
        Builtin::FloorF32,
        Builtin::TruncF32,
        Builtin::NearestF32,
        Builtin::CeilF64,
        Builtin::FloorF64,
        Builtin::TruncF64,
        Builtin::NearestF64,
        Builtin::MemoryAtomicWait32,
        Builtin::MemoryAtomicWait64,
        Builtin::MemoryAtomicNotify,
        Builtin::ExceptionNew,
        Builtin::Throw,
        Builtin::ExceptionDrop,
        Builtin::TableGetLazy,
        Builtin::RefFunc,
        Builtin::GcAlloc,
        Builtin::ArrayNewData,
        Builtin::ArrayNewElem,
        Builtin::ArrayInitData,
        Builtin::ArrayInitElem,
        Builtin::ArrayCopy,
        Builtin::IsSubtype,
    ];

    /// Decodes a builtin from its discriminant (as stored in precompiled code's relocations).
    pub fn from_u32(index: u32) -> Option<Builtin> {
        Builtin::ALL.get(usize::try_from(index).ok()?).copied()
    }

    /// Byte offset of this builtin's function pointer in the builtin table.
    pub fn table_offset(self, pointer_size: u8) -> u32 {
        self as u32 * u32::from(pointer_size)
    }
}

#[cfg(test)]
mod tests {
    use super::Builtin;

    #[test]
    fn all_is_in_discriminant_order() {
        for (i, builtin) in Builtin::ALL.iter().enumerate() {
            assert_eq!(*builtin as u32, i as u32);
            assert_eq!(Builtin::from_u32(i as u32), Some(*builtin));
        }
        assert_eq!(Builtin::from_u32(Builtin::COUNT as u32), None);
    }
}
