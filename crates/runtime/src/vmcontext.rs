//! `#[repr(C)]` structures shared with compiled code. Their layouts are fixed by
//! `kiln_environ::vmoffsets`; the tests below check that both agree.

use std::cell::UnsafeCell;

/// Opaque type of a `VMContext` (its layout depends on the module: see `VMOffsets`).
#[repr(C, align(16))]
pub struct VMContext {
    _opaque: [u8; 0],
}

/// What a `funcref` points to.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VMFuncRef {
    /// Entry with the wasm calling convention.
    pub native_call: *const u8,
    /// Host shim for host functions (null for wasm functions).
    pub array_call: *const u8,
    /// Engine-wide signature id.
    pub type_id: u32,
    /// Callee context.
    pub vmctx: *mut VMContext,
}

impl VMFuncRef {
    /// An all-null funcref (never called: filled before use).
    pub const NULL: VMFuncRef = VMFuncRef {
        native_call: std::ptr::null(),
        array_call: std::ptr::null(),
        type_id: u32::MAX,
        vmctx: std::ptr::null_mut(),
    };
}

/// A linear memory as compiled code sees it.
#[repr(C)]
#[derive(Debug)]
pub struct VMMemoryDefinition {
    /// Start of the memory.
    pub base: *mut u8,
    /// Current size in bytes.
    pub current_length: usize,
}

/// A table as compiled code sees it.
#[repr(C)]
#[derive(Debug)]
pub struct VMTableDefinition {
    /// Start of the element array.
    pub base: *mut usize,
    /// Current number of elements.
    pub current_elements: usize,
}

/// Storage of one global.
#[repr(C, align(16))]
#[derive(Debug, Default)]
pub struct VMGlobalDefinition {
    /// Raw little-endian bytes.
    pub storage: UnsafeCell<[u8; 16]>,
}

impl VMGlobalDefinition {
    /// Reads the raw value.
    pub fn get(&self) -> ValRaw {
        // SAFETY: globals are only accessed by one thread at a time (the store's).
        ValRaw::from_bytes(unsafe { *self.storage.get() })
    }

    /// Writes the raw value.
    pub fn set(&self, value: ValRaw) {
        // SAFETY: as in `get`.
        unsafe { *self.storage.get() = value.to_bytes() }
    }
}

/// Per-store state read and written by compiled code.
#[repr(C)]
#[derive(Debug)]
pub struct VMStoreContext {
    /// Compiled code traps when the stack pointer goes below this.
    pub stack_limit: UnsafeCell<usize>,
    /// Fuel consumed (reserved for fuel metering).
    pub fuel_consumed: UnsafeCell<i64>,
    /// Epoch deadline (reserved for epoch interruption).
    pub epoch_deadline: UnsafeCell<u64>,
    /// Frame pointer of the wasm frame that last called the host.
    pub last_wasm_exit_fp: UnsafeCell<usize>,
    /// Return address into wasm of the last call to the host.
    pub last_wasm_exit_pc: UnsafeCell<usize>,
    /// The engine's epoch counter (read by compiled code when epoch interruption is on).
    pub epoch_counter: UnsafeCell<*const u64>,
    /// Stack pointer of the wasm frame that last called the host, at that call.
    pub last_wasm_exit_sp: UnsafeCell<usize>,
    /// Heads of the GC heap's free lists (see `kiln_runtime::gc`).
    pub gc_free_lists: UnsafeCell<[usize; kiln_environ::vmgc::NUM_CLASSES]>,
    /// The engine's GC type table (`GcTypeTable::base`).
    pub gc_type_table: UnsafeCell<*const usize>,
    /// The store's exception objects (not read by compiled code).
    pub exceptions: UnsafeCell<crate::exception::ExceptionHeap>,
    /// The store's GC objects.
    pub gc: UnsafeCell<crate::gc::GcHeap>,
}

impl Default for VMStoreContext {
    fn default() -> Self {
        VMStoreContext {
            stack_limit: UnsafeCell::new(usize::MAX),
            fuel_consumed: UnsafeCell::new(0),
            epoch_deadline: UnsafeCell::new(0),
            last_wasm_exit_fp: UnsafeCell::new(0),
            last_wasm_exit_pc: UnsafeCell::new(0),
            epoch_counter: UnsafeCell::new(std::ptr::null()),
            last_wasm_exit_sp: UnsafeCell::new(0),
            gc_free_lists: UnsafeCell::new([0; kiln_environ::vmgc::NUM_CLASSES]),
            gc_type_table: UnsafeCell::new(std::ptr::null()),
            exceptions: UnsafeCell::new(Default::default()),
            gc: UnsafeCell::new(Default::default()),
        }
    }
}

/// The context of a host function: what a host function's `VMFuncRef::vmctx` points to.
#[repr(C)]
pub struct VMHostFuncContext {
    /// [`kiln_environ::VMHOST_FUNC_MAGIC`].
    pub magic: u32,
    /// The host shim, `extern "C" fn(callee_vmctx, caller_vmctx, *mut ValRaw, usize)`.
    pub array_call: *const u8,
    /// This function's funcref (its `vmctx` points back here).
    pub func_ref: VMFuncRef,
    /// Opaque data for the shim (the embedder's closure).
    pub host_state: *mut u8,
    /// The native shim (see `vmhost_func_context::NATIVE_CALL`), or null.
    pub native_call: *const u8,
    /// Opaque data for the native shim.
    pub native_state: *const u8,
}

/// Signature of a host shim.
pub type ArrayCallFn = unsafe extern "C" fn(*mut VMContext, *mut VMContext, *mut ValRaw, usize);

/// Signature of an `array_to_wasm` trampoline.
pub type ArrayToWasmFn = unsafe extern "C" fn(*const u8, *mut VMContext, *mut VMContext, *mut ValRaw);

/// One value in an array-call buffer: 16 bytes, little-endian at the start.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ValRaw {
    bytes: [u8; 16],
}

impl std::fmt::Debug for ValRaw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ValRaw({:#x})", u128::from_le_bytes(self.bytes))
    }
}

impl ValRaw {
    /// From raw bytes.
    #[inline]
    pub fn from_bytes(bytes: [u8; 16]) -> ValRaw {
        ValRaw { bytes }
    }
    /// To raw bytes.
    #[inline]
    pub fn to_bytes(self) -> [u8; 16] {
        self.bytes
    }
    /// An i32.
    #[inline]
    pub fn i32(v: i32) -> ValRaw {
        ValRaw::u128(v as u32 as u128)
    }
    /// An i64.
    #[inline]
    pub fn i64(v: i64) -> ValRaw {
        ValRaw::u128(v as u64 as u128)
    }
    /// An f32 by bits.
    #[inline]
    pub fn f32(bits: u32) -> ValRaw {
        ValRaw::u128(bits as u128)
    }
    /// An f64 by bits.
    #[inline]
    pub fn f64(bits: u64) -> ValRaw {
        ValRaw::u128(bits as u128)
    }
    /// A v128.
    #[inline]
    pub fn u128(v: u128) -> ValRaw {
        ValRaw { bytes: v.to_le_bytes() }
    }
    /// A pointer-sized reference (0 = null).
    #[inline]
    pub fn reference(v: usize) -> ValRaw {
        ValRaw::u128(v as u128)
    }
    /// As i32.
    #[inline]
    pub fn get_i32(self) -> i32 {
        i32::from_le_bytes(self.bytes[..4].try_into().unwrap())
    }
    /// As i64.
    #[inline]
    pub fn get_i64(self) -> i64 {
        i64::from_le_bytes(self.bytes[..8].try_into().unwrap())
    }
    /// As f32 bits.
    #[inline]
    pub fn get_f32(self) -> u32 {
        self.get_i32() as u32
    }
    /// As f64 bits.
    #[inline]
    pub fn get_f64(self) -> u64 {
        self.get_i64() as u64
    }
    /// As v128.
    #[inline]
    pub fn get_u128(self) -> u128 {
        u128::from_le_bytes(self.bytes)
    }
    /// As a reference.
    #[inline]
    pub fn get_reference(self) -> usize {
        self.get_i64() as u64 as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_environ::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layouts_match_environ() {
        assert_eq!(offset_of!(VMFuncRef, native_call) as u32, vmfuncref::NATIVE_CALL);
        assert_eq!(offset_of!(VMFuncRef, array_call) as u32, vmfuncref::ARRAY_CALL);
        assert_eq!(offset_of!(VMFuncRef, type_id) as u32, vmfuncref::TYPE_ID);
        assert_eq!(offset_of!(VMFuncRef, vmctx) as u32, vmfuncref::VMCTX);
        assert_eq!(size_of::<VMFuncRef>() as u32, vmfuncref::SIZE);
        assert_eq!(offset_of!(VMMemoryDefinition, base) as u32, vmmemory::BASE);
        assert_eq!(offset_of!(VMMemoryDefinition, current_length) as u32, vmmemory::CURRENT_LENGTH);
        assert_eq!(size_of::<VMMemoryDefinition>() as u32, vmmemory::SIZE);
        assert_eq!(offset_of!(VMTableDefinition, base) as u32, vmtable::BASE);
        assert_eq!(offset_of!(VMTableDefinition, current_elements) as u32, vmtable::CURRENT_ELEMENTS);
        assert_eq!(size_of::<VMGlobalDefinition>() as u32, vmglobal::SIZE);
        assert_eq!(offset_of!(VMStoreContext, stack_limit) as u32, vmstore_context::STACK_LIMIT);
        assert_eq!(offset_of!(VMStoreContext, fuel_consumed) as u32, vmstore_context::FUEL_CONSUMED);
        assert_eq!(offset_of!(VMStoreContext, epoch_deadline) as u32, vmstore_context::EPOCH_DEADLINE);
        assert_eq!(offset_of!(VMStoreContext, last_wasm_exit_fp) as u32, vmstore_context::LAST_WASM_EXIT_FP);
        assert_eq!(offset_of!(VMStoreContext, last_wasm_exit_pc) as u32, vmstore_context::LAST_WASM_EXIT_PC);
        assert_eq!(offset_of!(VMStoreContext, last_wasm_exit_sp) as u32, vmstore_context::LAST_WASM_EXIT_SP);
        assert_eq!(offset_of!(VMStoreContext, epoch_counter) as u32, vmstore_context::EPOCH_COUNTER);
        assert_eq!(offset_of!(VMStoreContext, gc_free_lists) as u32, vmstore_context::GC_FREE_LISTS);
        assert_eq!(offset_of!(VMStoreContext, gc_type_table) as u32, vmstore_context::GC_TYPE_TABLE);
        // Runtime-only fields follow the part compiled code uses.
        assert_eq!(offset_of!(VMStoreContext, exceptions) as u32, vmstore_context::SIZE);
        assert_eq!(offset_of!(VMHostFuncContext, magic) as u32, vmhost_func_context::MAGIC);
        assert_eq!(offset_of!(VMHostFuncContext, array_call) as u32, vmhost_func_context::ARRAY_CALL);
        assert_eq!(offset_of!(VMHostFuncContext, native_call) as u32, vmhost_func_context::NATIVE_CALL);
        assert_eq!(size_of::<ValRaw>() as u32, VAL_RAW_SIZE);
    }
}
