//! Trap codes shared by the code generator (which records them per faulting instruction) and the
//! runtime (which reports them).

use std::fmt;

/// Why wasm execution stopped abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Trap {
    /// The wasm stack (bounded by `Config::max_wasm_stack`) was exhausted.
    StackOverflow = 0,
    /// A load or store outside the bounds of a linear memory.
    MemoryOutOfBounds = 1,
    /// A table access outside the bounds of a table (table.get/set/fill/copy/init).
    TableOutOfBounds = 2,
    /// `call_indirect` with an index outside the table.
    IndirectCallOutOfBounds = 3,
    /// `call_indirect` through a null table entry.
    IndirectCallToNull = 4,
    /// `call_indirect` whose callee has a different signature.
    BadSignature = 5,
    /// Signed integer division overflow (`INT_MIN / -1`).
    IntegerOverflow = 6,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero = 7,
    /// Float-to-int conversion of NaN or an out-of-range value.
    BadConversionToInteger = 8,
    /// The `unreachable` instruction was executed.
    UnreachableCodeReached = 9,
    /// Execution was interrupted (epoch deadline).
    Interrupt = 10,
    /// The store ran out of fuel.
    OutOfFuel = 11,
    /// A reference that must not be null was null.
    NullReference = 12,
    /// A component instance was entered while it may not be (re-entrance, or poisoned by an
    /// earlier trap).
    CannotEnterComponent = 13,
    /// A component instance called out while it may not (inside `realloc` or `post-return`).
    CannotLeaveComponent = 14,
    /// A string that must be UTF-8 is not.
    InvalidUtf8 = 15,
    /// A string that must be UTF-16 is not (unpaired surrogate).
    InvalidUtf16 = 16,
    /// A pointer handed across a component boundary is not aligned for its type.
    UnalignedPointer = 17,
    /// A pointer and length handed across a component boundary reach outside the memory.
    PointerOutOfBounds = 18,
    /// A variant, enum, option or result discriminant is out of range.
    InvalidDiscriminant = 19,
    /// A `char` is not a Unicode scalar value.
    InvalidChar = 20,
    /// A string or list is longer than the Canonical ABI allows.
    LengthTooLarge = 21,
    /// A function lifted by a component instance was called through its own lowering.
    AdapterSameInstance = 22,
    /// An atomic access whose address is not a multiple of its size.
    UnalignedAtomic = 23,
    /// `memory.atomic.wait` on a memory that is not shared.
    AtomicWaitNonShared = 24,
    /// An exception was thrown and no handler caught it before it reached the host.
    UncaughtException = 25,
    /// `call_ref` or `return_call_ref` through a null reference.
    NullFunctionReference = 26,
    /// A fused adapter found a string's bytes outside the source or destination memory.
    StringOutOfBounds = 27,
    /// A fused adapter found a list's elements outside the source or destination memory.
    ListOutOfBounds = 28,
    /// The host read a string whose pointer and length reach outside the guest's memory.
    HostStringOutOfBounds = 29,
    /// The host read a list whose pointer and length reach outside the guest's memory.
    HostListOutOfBounds = 30,
    /// A guest `realloc` called by the host returned a range outside its memory.
    ReallocOutOfBounds = 31,
    /// A guest `realloc` called by the host returned a pointer not aligned for the value.
    ReallocUnaligned = 32,
    /// A UTF-8 string ends in the middle of a multi-byte sequence.
    IncompleteUtf8 = 33,
    /// A resource handle index that is not in the component instance's handle table.
    UnknownHandle = 34,
    /// A resource handle used as a handle of another resource type.
    HandleWrongType = 35,
    /// An owned handle was dropped or moved while it is lent to a call.
    OwnedResourceBorrowed = 36,
    /// A call returned while borrow handles it received were still in its table.
    BorrowsRemain = 37,
    /// An `own` handle was expected, a `borrow` handle was given.
    OwnFromBorrow = 38,
    /// A component instance's resource handle table reached its limit.
    HandleTableFull = 39,
    /// A resource's destructor was called while its instance may not be entered.
    ResourceDestructorReentered = 40,
    /// The host read a UTF-16 string whose pointer is odd.
    HostStringUnaligned = 41,
    /// Precompiled code mapped from a file failed its checksum when first run.
    CorruptCode = 42,
    /// A synchronous task called a built-in that would block it (`waitable-set.wait`, a
    /// synchronous `stream.read`, ...) before it returned its result.
    CannotBlockSyncTask = 43,
    /// `task.return` or `task.cancel` called by a task whose function was not lifted `async`.
    TaskNotAsync = 44,
    /// `backpressure.inc` above 65535 or `backpressure.dec` below 0.
    BackpressureOutOfRange = 45,
    /// `task.return` called with a result type or options other than the task's lift.
    TaskReturnMismatch = 46,
    /// `task.return` called twice, or an `async` task finished without calling it.
    TaskReturnCount = 47,
    /// Every task is waiting and nothing can wake one: an `async` task waits on a waitable set
    /// that can never receive an event.
    Deadlock = 48,
    /// An `async` callback returned a code the Canonical ABI does not define.
    UnsupportedCallbackCode = 49,
    /// `task.cancel` called by an `async` task whose caller did not ask to cancel it.
    TaskNotCancelled = 50,
    /// `i31.get_s` or `i31.get_u` of a null reference (GC proposal).
    NullI31Reference = 51,
    /// `ref.cast` of a value that is not of the target type (GC proposal).
    CastFailure = 52,
    /// A struct access through a null reference.
    NullStructReference = 53,
    /// An array access through a null reference.
    NullArrayReference = 54,
    /// An array access outside the array's length.
    ArrayOutOfBounds = 55,
    /// An allocation larger than any GC object may be.
    AllocationTooLarge = 56,
    /// The GC heap reached its limit (`Config::gc_heap_limit`) even after a collection.
    GcHeapOutOfMemory = 57,
    /// A null descriptor given to `struct.new_desc` or a descriptor cast (custom descriptors).
    NullDescriptorReference = 58,
    /// `ref.cast_desc_eq` of a value whose descriptor is not the given one.
    DescriptorCastFailure = 59,
}

impl Trap {
    /// All trap codes, in discriminant order.
    pub const ALL: [Trap; 60] = [
        Trap::StackOverflow,
        Trap::MemoryOutOfBounds,
        Trap::TableOutOfBounds,
        Trap::IndirectCallOutOfBounds,
        Trap::IndirectCallToNull,
        Trap::BadSignature,
        Trap::IntegerOverflow,
        Trap::IntegerDivisionByZero,
        Trap::BadConversionToInteger,
        Trap::UnreachableCodeReached,
        Trap::Interrupt,
        Trap::OutOfFuel,
        Trap::NullReference,
        Trap::CannotEnterComponent,
        Trap::CannotLeaveComponent,
        Trap::InvalidUtf8,
        Trap::InvalidUtf16,
        Trap::UnalignedPointer,
        Trap::PointerOutOfBounds,
        Trap::InvalidDiscriminant,
        Trap::InvalidChar,
        Trap::LengthTooLarge,
        Trap::AdapterSameInstance,
        Trap::UnalignedAtomic,
        Trap::AtomicWaitNonShared,
        Trap::UncaughtException,
        Trap::NullFunctionReference,
        Trap::StringOutOfBounds,
        Trap::ListOutOfBounds,
        Trap::HostStringOutOfBounds,
        Trap::HostListOutOfBounds,
        Trap::ReallocOutOfBounds,
        Trap::ReallocUnaligned,
        Trap::IncompleteUtf8,
        Trap::UnknownHandle,
        Trap::HandleWrongType,
        Trap::OwnedResourceBorrowed,
        Trap::BorrowsRemain,
        Trap::OwnFromBorrow,
        Trap::HandleTableFull,
        Trap::ResourceDestructorReentered,
        Trap::HostStringUnaligned,
        Trap::CorruptCode,
        Trap::CannotBlockSyncTask,
        Trap::TaskNotAsync,
        Trap::BackpressureOutOfRange,
        Trap::TaskReturnMismatch,
        Trap::TaskReturnCount,
        Trap::Deadlock,
        Trap::UnsupportedCallbackCode,
        Trap::TaskNotCancelled,
        Trap::NullI31Reference,
        Trap::CastFailure,
        Trap::NullStructReference,
        Trap::NullArrayReference,
        Trap::ArrayOutOfBounds,
        Trap::AllocationTooLarge,
        Trap::GcHeapOutOfMemory,
        Trap::NullDescriptorReference,
        Trap::DescriptorCastFailure,
    ];

    /// Decodes a trap code produced by [`Trap::as_u8`].
    pub fn from_u8(code: u8) -> Option<Trap> {
        Trap::ALL.get(usize::from(code)).copied()
    }

    /// The stable numeric code of this trap.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The message the WebAssembly specification's test suite (and, for component traps, the
    /// Component Model's test suite) uses for this trap. Where the two runtimes' wordings differ
    /// and the suites do not decide, this is the wording of the reference runtime, so that people
    /// moving over find the same text (`wasm \`unreachable\` instruction executed` contains the
    /// spec suite's `unreachable`).
    pub fn message(self) -> &'static str {
        match self {
            Trap::StackOverflow => "call stack exhausted",
            Trap::MemoryOutOfBounds => "out of bounds memory access",
            Trap::TableOutOfBounds => "out of bounds table access",
            Trap::IndirectCallOutOfBounds => "undefined element: out of bounds table access",
            Trap::IndirectCallToNull => "uninitialized element",
            Trap::BadSignature => "indirect call type mismatch",
            Trap::IntegerOverflow => "integer overflow",
            Trap::IntegerDivisionByZero => "integer divide by zero",
            Trap::BadConversionToInteger => "invalid conversion to integer",
            Trap::UnreachableCodeReached => "wasm `unreachable` instruction executed",
            Trap::Interrupt => "interrupt",
            Trap::OutOfFuel => "all fuel consumed by WebAssembly",
            Trap::NullReference => "null reference",
            Trap::CannotEnterComponent => "cannot enter component instance",
            Trap::CannotLeaveComponent => "cannot leave component instance",
            Trap::InvalidUtf8 => "invalid utf-8",
            Trap::InvalidUtf16 => "invalid utf-16",
            Trap::UnalignedPointer => "unaligned pointer",
            Trap::PointerOutOfBounds => "pointer out of bounds of memory",
            Trap::InvalidDiscriminant => "invalid variant discriminant",
            Trap::InvalidChar => "invalid `char` bit pattern",
            Trap::LengthTooLarge => "string or list length too large",
            Trap::AdapterSameInstance => {
                "degenerate component adapter called: a function lifted and lowered by the same component instance"
            }
            Trap::UnalignedAtomic => "unaligned atomic",
            Trap::AtomicWaitNonShared => "expected shared memory",
            Trap::UncaughtException => "uncaught exception",
            Trap::NullFunctionReference => "null function reference",
            Trap::StringOutOfBounds => "string content out-of-bounds",
            Trap::ListOutOfBounds => "list content out-of-bounds",
            Trap::HostStringOutOfBounds => "string pointer/length out of bounds of memory",
            Trap::HostListOutOfBounds => "list pointer/length out of bounds of memory",
            Trap::ReallocOutOfBounds => "realloc return: beyond end of memory",
            Trap::ReallocUnaligned => "realloc return: result not aligned",
            Trap::IncompleteUtf8 => "incomplete utf-8 byte sequence",
            Trap::UnknownHandle => "unknown handle index",
            Trap::HandleWrongType => "handle used with the wrong type",
            Trap::OwnedResourceBorrowed => "cannot remove owned resource while borrowed",
            Trap::BorrowsRemain => "borrow handles still remain at the end of the call",
            Trap::OwnFromBorrow => "cannot lift own resource from a borrow",
            Trap::HandleTableFull => "resource handle table is full",
            Trap::ResourceDestructorReentered => "cannot enter component instance to run a resource destructor",
            // The reference runtime's wording (the Component Model suite checks adapters' and
            // host calls' misaligned strings with `unaligned pointer`; both words are here).
            Trap::HostStringUnaligned => "unaligned pointer: string pointer not aligned to 2",
            Trap::CorruptCode => "precompiled code is corrupt (checksum mismatch): delete or recompile it",
            Trap::CannotBlockSyncTask => "cannot block a synchronous task before returning",
            Trap::TaskNotAsync => "`task.return` and `task.cancel` may only be called by a task lifted with `async`",
            Trap::BackpressureOutOfRange => "backpressure counter out of range [0, 65535]",
            Trap::TaskReturnMismatch => "invalid `task.return` signature and/or options for current task",
            Trap::TaskReturnCount => "an `async` task must call `task.return` exactly once",
            Trap::Deadlock => "deadlock detected: event loop cannot make further progress",
            Trap::UnsupportedCallbackCode => "unsupported callback code",
            Trap::TaskNotCancelled => "`task.cancel` called by a task whose cancellation was not requested",
            Trap::NullI31Reference => "null i31 reference",
            Trap::CastFailure => "cast failure",
            Trap::NullStructReference => "null structure reference",
            Trap::NullArrayReference => "null array reference",
            Trap::ArrayOutOfBounds => "out of bounds array access",
            Trap::AllocationTooLarge => "allocation size too large",
            Trap::GcHeapOutOfMemory => "allocation failed: GC heap out of memory",
            Trap::NullDescriptorReference => "null descriptor reference",
            Trap::DescriptorCastFailure => "descriptor cast failure",
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.message())
    }
}

impl std::error::Error for Trap {}

#[cfg(test)]
mod tests {
    use super::Trap;

    #[test]
    fn codes_round_trip() {
        for (i, trap) in Trap::ALL.iter().enumerate() {
            assert_eq!(trap.as_u8() as usize, i);
            assert_eq!(Trap::from_u8(trap.as_u8()), Some(*trap));
        }
        assert_eq!(Trap::from_u8(Trap::ALL.len() as u8), None);
    }
}
