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
}

impl Trap {
    /// All trap codes, in discriminant order.
    pub const ALL: [Trap; 27] = [
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
    ];

    /// Decodes a trap code produced by [`Trap::as_u8`].
    pub fn from_u8(code: u8) -> Option<Trap> {
        Trap::ALL.get(usize::from(code)).copied()
    }

    /// The stable numeric code of this trap.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The message the WebAssembly specification's test suite uses for this trap.
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
            Trap::UnreachableCodeReached => "unreachable",
            Trap::Interrupt => "interrupt",
            Trap::OutOfFuel => "all fuel consumed by WebAssembly",
            Trap::NullReference => "null reference",
            Trap::CannotEnterComponent => "cannot enter component instance",
            Trap::CannotLeaveComponent => "cannot leave component instance",
            Trap::InvalidUtf8 => "invalid UTF-8",
            Trap::InvalidUtf16 => "invalid UTF-16",
            Trap::UnalignedPointer => "unaligned pointer",
            Trap::PointerOutOfBounds => "pointer out of bounds of memory",
            Trap::InvalidDiscriminant => "invalid discriminant",
            Trap::InvalidChar => "invalid char value",
            Trap::LengthTooLarge => "string or list length too large",
            Trap::AdapterSameInstance => "cannot call a function lifted and lowered by the same component instance",
            Trap::UnalignedAtomic => "unaligned atomic",
            Trap::AtomicWaitNonShared => "expected shared memory",
            Trap::UncaughtException => "uncaught exception",
            Trap::NullFunctionReference => "null function reference",
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
