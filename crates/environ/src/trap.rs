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
}

impl Trap {
    /// All trap codes, in discriminant order.
    pub const ALL: [Trap; 13] = [
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
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.message())
    }
}

impl std::error::Error for Trap {}
