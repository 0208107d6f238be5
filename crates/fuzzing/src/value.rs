//! Engine-neutral values, outcomes and state, so kiln and the oracle can be compared with `==`.

use arbitrary::Unstructured;

/// A wasm value as both engines can express it. References compare by null-ness only: a
/// function or host reference has no identity that means the same thing in two engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    I32(i32),
    I64(i64),
    /// Bits; NaNs are made canonical by [`Value::canonical`].
    F32(u32),
    F64(u64),
    V128(u128),
    /// `true` when null.
    FuncRef(bool),
    ExternRef(bool),
    ExnRef(bool),
}

/// The value types the generators produce arguments for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
    ExnRef,
    /// A non-nullable reference or another type no argument can be made for.
    Other,
}

const F32_CANON: u32 = 0x7fc0_0000;
const F64_CANON: u64 = 0x7ff8_0000_0000_0000;

impl Value {
    /// The value with any scalar NaN replaced by the canonical NaN: the spec lets an arithmetic
    /// operator return any NaN payload (and sign), so two correct engines may differ in those bits.
    pub fn canonical(self) -> Value {
        match self {
            Value::F32(b) if f32::from_bits(b).is_nan() => Value::F32(F32_CANON),
            Value::F64(b) if f64::from_bits(b).is_nan() => Value::F64(F64_CANON),
            v => v,
        }
    }

    /// Converts to kiln's value (references are null).
    pub fn to_kiln(self) -> kiln::Val {
        match self {
            Value::I32(v) => kiln::Val::I32(v),
            Value::I64(v) => kiln::Val::I64(v),
            Value::F32(v) => kiln::Val::F32(v),
            Value::F64(v) => kiln::Val::F64(v),
            Value::V128(v) => kiln::Val::V128(v),
            Value::FuncRef(_) => kiln::Val::FuncRef(None),
            Value::ExternRef(_) => kiln::Val::ExternRef(None),
            Value::ExnRef(_) => kiln::Val::ExnRef(None),
        }
    }

    /// Converts from kiln's value.
    pub fn from_kiln(v: &kiln::Val) -> Value {
        match v {
            kiln::Val::I32(v) => Value::I32(*v),
            kiln::Val::I64(v) => Value::I64(*v),
            kiln::Val::F32(v) => Value::F32(*v),
            kiln::Val::F64(v) => Value::F64(*v),
            kiln::Val::V128(v) => Value::V128(*v),
            kiln::Val::FuncRef(f) => Value::FuncRef(f.is_none()),
            kiln::Val::ExternRef(r) => Value::ExternRef(r.is_none()),
            kiln::Val::ExnRef(r) => Value::ExnRef(r.is_none()),
            // Generated modules use no GC types; an anyref compares by nullness like the rest.
            kiln::Val::AnyRef(r) => Value::ExternRef(r.is_none()),
        }
    }

    /// Converts to wasmi's value (references are null).
    pub fn to_wasmi(self) -> wasmi::Val {
        match self {
            Value::I32(v) => wasmi::Val::I32(v),
            Value::I64(v) => wasmi::Val::I64(v),
            Value::F32(v) => wasmi::Val::F32(wasmi::F32::from_bits(v)),
            Value::F64(v) => wasmi::Val::F64(wasmi::F64::from_bits(v)),
            Value::V128(v) => wasmi::Val::V128(wasmi::V128::from(v)),
            Value::FuncRef(_) => wasmi::Val::FuncRef(wasmi::Ref::Null),
            Value::ExternRef(_) | Value::ExnRef(_) => wasmi::Val::ExternRef(wasmi::Ref::Null),
        }
    }

    /// Converts from wasmi's value.
    pub fn from_wasmi(v: &wasmi::Val) -> Value {
        match v {
            wasmi::Val::I32(v) => Value::I32(*v),
            wasmi::Val::I64(v) => Value::I64(*v),
            wasmi::Val::F32(v) => Value::F32(v.to_bits()),
            wasmi::Val::F64(v) => Value::F64(v.to_bits()),
            wasmi::Val::V128(v) => Value::V128(v.as_u128()),
            wasmi::Val::FuncRef(f) => Value::FuncRef(f.is_null()),
            wasmi::Val::ExternRef(r) => Value::ExternRef(r.is_null()),
        }
    }

    /// A zero (or null) of `ty`.
    pub fn zero(ty: Ty) -> Value {
        match ty {
            Ty::I32 | Ty::Other => Value::I32(0),
            Ty::I64 => Value::I64(0),
            Ty::F32 => Value::F32(0),
            Ty::F64 => Value::F64(0),
            Ty::V128 => Value::V128(0),
            Ty::FuncRef => Value::FuncRef(true),
            Ty::ExternRef => Value::ExternRef(true),
            Ty::ExnRef => Value::ExnRef(true),
        }
    }

    /// An argument of `ty` drawn from `u`, half the time from the edge cases.
    pub fn arbitrary(u: &mut Unstructured<'_>, ty: Ty) -> arbitrary::Result<Value> {
        let edge = u.ratio(1, 2)?;
        Ok(match ty {
            Ty::I32 if edge => Value::I32(*u.choose(I32_EDGES)?),
            Ty::I32 => Value::I32(u.arbitrary()?),
            Ty::I64 if edge => Value::I64(*u.choose(I64_EDGES)?),
            Ty::I64 => Value::I64(u.arbitrary()?),
            Ty::F32 if edge => Value::F32(*u.choose(F32_EDGES)?),
            Ty::F32 => Value::F32(u.arbitrary()?),
            Ty::F64 if edge => Value::F64(*u.choose(F64_EDGES)?),
            Ty::F64 => Value::F64(u.arbitrary()?),
            Ty::V128 if edge => {
                let mut bytes = [0u8; 16];
                for lane in bytes.chunks_mut(4) {
                    lane.copy_from_slice(&u.choose(F32_EDGES)?.to_le_bytes());
                }
                Value::V128(u128::from_le_bytes(bytes))
            }
            Ty::V128 => Value::V128(u.arbitrary()?),
            other => Value::zero(other),
        })
    }
}

/// Integer edge cases: zero, ±1, the extremes and their neighbours, powers of two.
pub const I32_EDGES: &[i32] =
    &[0, 1, -1, 2, i32::MIN, i32::MAX, i32::MIN + 1, i32::MAX - 1, 0x8000, 0xffff, 31, 32, 65536];
pub const I64_EDGES: &[i64] =
    &[0, 1, -1, 2, i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1, 0x8000_0000, 0xffff_ffff, -0x8000_0000, 63, 64];
/// Float edge cases as bits: ±0, ±1, ±inf, quiet and signalling NaNs with payloads, the
/// smallest subnormal, the largest finite, values just outside integer ranges.
pub const F32_EDGES: &[u32] = &[
    0x0000_0000,
    0x8000_0000,
    0x3f80_0000,
    0xbf80_0000,
    0x7f80_0000,
    0xff80_0000,
    0x7fc0_0000,
    0xffc0_0000,
    0x7fa0_0001,
    0x7f80_0001,
    0x0000_0001,
    0x7f7f_ffff,
    0x4f00_0000,
    0xcf00_0000,
    0x5f00_0000,
    0x3f00_0000,
    0xbf7f_ffff,
    0x4effffff,
];
pub const F64_EDGES: &[u64] = &[
    0x0000_0000_0000_0000,
    0x8000_0000_0000_0000,
    0x3ff0_0000_0000_0000,
    0xbff0_0000_0000_0000,
    0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000,
    0x7ff8_0000_0000_0000,
    0xfff8_0000_0000_0000,
    0x7ff4_0000_0000_0001,
    0x7ff0_0000_0000_0001,
    0x0000_0000_0000_0001,
    0x7fef_ffff_ffff_ffff,
    0x41e0_0000_0000_0000,
    0xc1e0_0000_0000_0000,
    0x43e0_0000_0000_0000,
    0xc3e0_0000_0000_0000,
    0x41df_ffff_ffc0_0000,
    0xbfef_ffff_ffff_ffff,
];

/// The neutral type of a kiln value type.
pub fn ty_of_kiln(ty: &kiln::ValType) -> Ty {
    use kiln::{HeapType, ValType};
    match ty {
        ValType::I32 => Ty::I32,
        ValType::I64 => Ty::I64,
        ValType::F32 => Ty::F32,
        ValType::F64 => Ty::F64,
        ValType::V128 => Ty::V128,
        ValType::Ref(r) if !r.is_nullable() => Ty::Other,
        ValType::Ref(r) => match r.heap_type() {
            HeapType::Func => Ty::FuncRef,
            HeapType::Extern => Ty::ExternRef,
            HeapType::Exn => Ty::ExnRef,
            _ => Ty::Other,
        },
    }
}

/// How a call (or an instantiation) ended, in terms both engines share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Returned(Vec<Value>),
    Trap(TrapKind),
    /// An uncaught wasm exception.
    Exception,
    /// Any other error, with its message (compared by kind only, never by text).
    Error(String),
}

impl Outcome {
    /// Whether the comparison must stop here because the engines may legitimately differ from
    /// now on: fuel is counted differently by each engine, and stack depth limits are in
    /// different units (native bytes vs frames), so the same program may exhaust one and not
    /// the other, and the state after such a trap is then not comparable.
    pub fn exhausted(&self) -> bool {
        matches!(self, Outcome::Trap(TrapKind::OutOfFuel | TrapKind::StackOverflow))
    }

    /// The outcome with NaN results canonical.
    pub fn canonical(self) -> Outcome {
        match self {
            Outcome::Returned(vals) => Outcome::Returned(vals.into_iter().map(Value::canonical).collect()),
            o => o,
        }
    }
}

/// A trap, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    /// Table accesses and `call_indirect` indices out of bounds (wasmi reports both alike).
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerOverflow,
    IntegerDivisionByZero,
    BadConversionToInteger,
    StackOverflow,
    OutOfFuel,
    NullReference,
    Other,
}

/// The outcome of a kiln call or instantiation that failed.
pub fn kiln_error(e: &anyhow::Error) -> Outcome {
    use kiln::Trap;
    if e.downcast_ref::<kiln::ThrownException>().is_some() {
        return Outcome::Exception;
    }
    let Some(trap) = e.downcast_ref::<Trap>() else { return Outcome::Error(format!("{e:?}")) };
    Outcome::Trap(match trap {
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        Trap::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        Trap::TableOutOfBounds | Trap::IndirectCallOutOfBounds => TrapKind::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapKind::IndirectCallToNull,
        Trap::BadSignature => TrapKind::BadSignature,
        Trap::IntegerOverflow => TrapKind::IntegerOverflow,
        Trap::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        Trap::BadConversionToInteger => TrapKind::BadConversionToInteger,
        Trap::StackOverflow => TrapKind::StackOverflow,
        Trap::OutOfFuel => TrapKind::OutOfFuel,
        Trap::NullReference => TrapKind::NullReference,
        _ => TrapKind::Other,
    })
}

/// The outcome of a wasmi call or instantiation that failed.
pub fn wasmi_error(e: &wasmi::Error) -> Outcome {
    use wasmi::TrapCode as T;
    let Some(code) = e.as_trap_code() else {
        // wasmi reports segments that do not fit during instantiation as errors, not traps.
        let text = e.to_string();
        if text.contains("out of bounds table") {
            return Outcome::Trap(TrapKind::TableOutOfBounds);
        }
        if text.contains("out of bounds memory") {
            return Outcome::Trap(TrapKind::MemoryOutOfBounds);
        }
        return Outcome::Error(text);
    };
    Outcome::Trap(match code {
        T::UnreachableCodeReached => TrapKind::Unreachable,
        T::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        T::TableOutOfBounds => TrapKind::TableOutOfBounds,
        T::IndirectCallToNull => TrapKind::IndirectCallToNull,
        T::BadSignature => TrapKind::BadSignature,
        T::IntegerOverflow => TrapKind::IntegerOverflow,
        T::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        T::BadConversionToInteger => TrapKind::BadConversionToInteger,
        T::StackOverflow => TrapKind::StackOverflow,
        T::OutOfFuel => TrapKind::OutOfFuel,
        _ => TrapKind::Other,
    })
}

/// What a module's exports hold after a call: memories (bytes), globals (values, NaNs
/// canonical) and tables (size and which entries are null).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub memories: Vec<(String, Vec<u8>)>,
    pub globals: Vec<(String, Value)>,
    pub tables: Vec<(String, Vec<bool>)>,
}

impl State {
    /// A short description of the first difference from `other`.
    pub fn diff(&self, other: &State) -> Option<String> {
        for ((name, a), (_, b)) in self.memories.iter().zip(&other.memories) {
            if a.len() != b.len() {
                return Some(format!("memory `{name}`: {} vs {} bytes", a.len(), b.len()));
            }
            // `==` first: a memcmp, where the position search is a slow loop in a debug build.
            if a == b {
                continue;
            }
            if let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) {
                return Some(format!("memory `{name}` byte {i}: {:#04x} vs {:#04x}", a[i], b[i]));
            }
        }
        for ((name, a), (_, b)) in self.globals.iter().zip(&other.globals) {
            if a != b {
                return Some(format!("global `{name}`: {a:?} vs {b:?}"));
            }
        }
        for ((name, a), (_, b)) in self.tables.iter().zip(&other.tables) {
            if a != b {
                return Some(format!("table `{name}`: {} entries vs {} (or null-ness differs)", a.len(), b.len()));
            }
        }
        if self != other {
            return Some("different exports".to_string());
        }
        None
    }
}
