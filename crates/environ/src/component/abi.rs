//! The Canonical ABI's layout rules (`CanonicalABI.md`): sizes and alignments in linear memory,
//! flattening into core values, and the flattening limits that choose direct or indirect passing.
//!
//! FACT (adapters in core wasm) and the host's reference lift/lower both use these functions, so
//! the two agree on every layout by construction.

use super::types::{FuncType, ValueType};

/// At most this many flat parameters are passed directly; more go through memory.
pub const MAX_FLAT_PARAMS: usize = 16;
/// At most this many flat results are returned directly; more go through memory.
pub const MAX_FLAT_RESULTS: usize = 1;
/// At most this many flat parameters are passed directly to an `async` lowered import; more go
/// through memory.
pub const MAX_FLAT_ASYNC_PARAMS: usize = 4;

/// The core signature of an `async` `canon lower`: the parameters flattened (at most
/// [`MAX_FLAT_ASYNC_PARAMS`], else one pointer), then an out-pointer if there is a result; the one
/// core result is the subtask's packed status.
pub fn flatten_async_lower(ty: &FuncType, p: PtrSize) -> FlatSignature {
    let (mut params, params_indirect) = flatten_params(ty, MAX_FLAT_ASYNC_PARAMS, p);
    let results_indirect = ty.result.is_some();
    if results_indirect {
        params.push(p.flat());
    }
    FlatSignature { params, results: vec![FlatType::I32], params_indirect, results_indirect }
}

/// The core signature of an `async` `canon lift`: the parameters as for a synchronous lift; no
/// core result without a `callback` (the result is given to `task.return`), else the `i32`
/// callback code.
pub fn flatten_async_lift(ty: &FuncType, callback: bool, p: PtrSize) -> FlatSignature {
    let mut sig = flatten_func_in(ty, Context::Lift, p);
    sig.results = if callback { vec![FlatType::I32] } else { Vec::new() };
    sig.results_indirect = false;
    sig
}

/// A core value type in a flattened signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlatType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
}

impl FlatType {
    /// The Canonical ABI's `join`: the type that can hold both (for variant payloads).
    pub fn join(self, other: FlatType) -> FlatType {
        match (self, other) {
            (a, b) if a == b => a,
            (FlatType::I32, FlatType::F32) | (FlatType::F32, FlatType::I32) => FlatType::I32,
            _ => FlatType::I64,
        }
    }
}

/// The width of pointers and lengths in one side's linear memory: the Canonical ABI's
/// `ptr_type` (64-bit with a 64-bit `memory` option, the `cm64` feature; else 32-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PtrSize {
    /// A 32-bit memory (or none): `i32` pointers, 4 bytes in memory.
    #[default]
    P32,
    /// A 64-bit memory: `i64` pointers, 8 bytes in memory.
    P64,
}

impl PtrSize {
    /// The pointer size of a memory: 64-bit if `memory64`.
    pub fn of_memory(memory64: bool) -> PtrSize {
        if memory64 { PtrSize::P64 } else { PtrSize::P32 }
    }

    /// Bytes a pointer (or a length) takes in memory; also its alignment.
    pub fn bytes(self) -> u32 {
        match self {
            PtrSize::P32 => 4,
            PtrSize::P64 => 8,
        }
    }

    /// The core type of a pointer (or a length).
    pub fn flat(self) -> FlatType {
        match self {
            PtrSize::P32 => FlatType::I32,
            PtrSize::P64 => FlatType::I64,
        }
    }

    /// Whether pointers are 64-bit.
    pub fn is_64(self) -> bool {
        self == PtrSize::P64
    }
}

/// How a component instance's strings are encoded in its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StringEncoding {
    /// UTF-8: pointer and length in bytes; pointer alignment 1.
    #[default]
    Utf8,
    /// UTF-16 (little-endian): pointer and length in code units; pointer alignment 2.
    Utf16,
    /// `latin1+utf16`: pointer and a length whose bit 31 tags UTF-16 (else Latin-1 bytes);
    /// pointer alignment 2.
    CompactUtf16,
}

/// Bit 31 of a `latin1+utf16` string length: the string is UTF-16.
pub const UTF16_TAG: u32 = 1 << 31;
/// Longest string that crosses a component boundary, in bytes (the Canonical ABI's
/// `MAX_STRING_BYTE_LENGTH`, 2^28 - 1).
pub const MAX_STRING_BYTE_LENGTH: u32 = (1 << 28) - 1;
/// Longest list that crosses a component boundary, in bytes (the Canonical ABI's
/// `MAX_LIST_BYTE_LENGTH`, 2^28 - 1).
pub const MAX_LIST_BYTE_LENGTH: u32 = (1 << 28) - 1;
/// Largest allocation a string or list store asks `realloc` for (the Canonical ABI's
/// `REALLOC_I32_MAX`); within the limits above, transcoding never reaches it.
pub const REALLOC_MAX: u32 = u32::MAX;

/// Whether a signature is flattened for `canon lift` (the callee side) or `canon lower` (the
/// caller side): they differ in how too many results are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// `canon lift`: results that do not fit are returned as a pointer into the callee's memory.
    Lift,
    /// `canon lower`: results that do not fit are written through a pointer passed as the last
    /// parameter.
    Lower,
}

/// A flattened core signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatSignature {
    /// Core parameters.
    pub params: Vec<FlatType>,
    /// Core results.
    pub results: Vec<FlatType>,
    /// Whether the parameters are passed as one pointer to a tuple in memory.
    pub params_indirect: bool,
    /// Whether the results go through memory (returned pointer for lift, out-pointer parameter for
    /// lower).
    pub results_indirect: bool,
}

fn align_to(offset: u32, align: u32) -> u32 {
    offset.div_ceil(align) * align
}

/// Number of cases -> size in bytes of the discriminant.
pub fn discriminant_size(cases: usize) -> u32 {
    if cases <= 1 << 8 {
        1
    } else if cases <= 1 << 16 {
        2
    } else {
        4
    }
}

/// Number of flags -> number of 32-bit words when flattened.
pub fn flags_words(count: usize) -> usize {
    count.div_ceil(32)
}

/// Size in bytes of a `flags` value in memory.
pub fn flags_size(count: usize) -> u32 {
    match count {
        0 => 0,
        1..=8 => 1,
        9..=16 => 2,
        _ => 4 * flags_words(count) as u32,
    }
}

/// Alignment of `ty` in a 32-bit linear memory.
pub fn align(ty: &ValueType) -> u32 {
    align_in(ty, PtrSize::P32)
}

/// Alignment of `ty` in a linear memory with pointers of size `p`.
pub fn align_in(ty: &ValueType, p: PtrSize) -> u32 {
    let align = |t: &ValueType| align_in(t, p);
    match ty {
        ValueType::Bool | ValueType::S8 | ValueType::U8 => 1,
        ValueType::S16 | ValueType::U16 => 2,
        ValueType::S32 | ValueType::U32 | ValueType::F32 | ValueType::Char => 4,
        ValueType::S64 | ValueType::U64 | ValueType::F64 => 8,
        ValueType::String | ValueType::List(_) | ValueType::Map(..) => p.bytes(),
        ValueType::FixedList(t, _) => align(t),
        ValueType::Own(_) | ValueType::Borrow(_) => 4,
        ValueType::Flags(names) => match names.len() {
            0..=8 => 1,
            9..=16 => 2,
            _ => 4,
        },
        ValueType::Record(_) | ValueType::Tuple(_) => {
            ty.as_record_fields().unwrap().iter().map(|t| align(t)).max().unwrap_or(1)
        }
        _ => {
            let cases = ty.as_variant_cases().unwrap();
            let disc = discriminant_size(cases.len());
            cases.iter().flatten().map(|t| align(t)).max().unwrap_or(1).max(disc)
        }
    }
}

/// Size in bytes of `ty` in a 32-bit linear memory.
pub fn size(ty: &ValueType) -> u32 {
    size_in(ty, PtrSize::P32)
}

/// Size in bytes of `ty` in a linear memory with pointers of size `p`.
pub fn size_in(ty: &ValueType, p: PtrSize) -> u32 {
    let size = |t: &ValueType| size_in(t, p);
    let align = |t: &ValueType| align_in(t, p);
    match ty {
        ValueType::Bool | ValueType::S8 | ValueType::U8 => 1,
        ValueType::S16 | ValueType::U16 => 2,
        ValueType::S32 | ValueType::U32 | ValueType::F32 | ValueType::Char => 4,
        ValueType::S64 | ValueType::U64 | ValueType::F64 => 8,
        ValueType::String | ValueType::List(_) | ValueType::Map(..) => 2 * p.bytes(),
        // Validation bounds every type's size below 2^28 bytes.
        ValueType::FixedList(t, n) => size(t) * n,
        ValueType::Own(_) | ValueType::Borrow(_) => 4,
        ValueType::Flags(names) => flags_size(names.len()),
        ValueType::Record(_) | ValueType::Tuple(_) => {
            let mut offset = 0;
            for field in ty.as_record_fields().unwrap() {
                offset = align_to(offset, align(field)) + size(field);
            }
            align_to(offset, align(ty))
        }
        _ => {
            let cases = ty.as_variant_cases().unwrap();
            let payload_offset = variant_payload_offset_in(ty, p);
            let max_payload = cases.iter().flatten().map(|t| size(t)).max().unwrap_or(0);
            align_to(payload_offset + max_payload, align(ty))
        }
    }
}

/// Byte offsets of the fields of a record or tuple in a 32-bit memory.
pub fn field_offsets(ty: &ValueType) -> Vec<u32> {
    field_offsets_in(ty, PtrSize::P32)
}

/// Byte offsets of the fields of a record or tuple in a memory with pointers of size `p`.
pub fn field_offsets_in(ty: &ValueType, p: PtrSize) -> Vec<u32> {
    let mut offset = 0;
    let mut offsets = Vec::new();
    for field in ty.as_record_fields().expect("not a record or tuple") {
        offset = align_to(offset, align_in(field, p));
        offsets.push(offset);
        offset += size_in(field, p);
    }
    offsets
}

/// Byte offset of the payload of a variant-like type in a 32-bit memory.
pub fn variant_payload_offset(ty: &ValueType) -> u32 {
    variant_payload_offset_in(ty, PtrSize::P32)
}

/// Byte offset of the payload of a variant-like type (after the discriminant, aligned to the
/// largest payload alignment) in a memory with pointers of size `p`.
pub fn variant_payload_offset_in(ty: &ValueType, p: PtrSize) -> u32 {
    let cases = ty.as_variant_cases().expect("not a variant");
    let max_align = cases.iter().flatten().map(|t| align_in(t, p)).max().unwrap_or(1);
    align_to(discriminant_size(cases.len()), max_align)
}

/// The core values `ty` flattens to, with 32-bit pointers.
pub fn flatten(ty: &ValueType, out: &mut Vec<FlatType>) {
    flatten_in(ty, PtrSize::P32, out)
}

/// The core values `ty` flattens to, with pointers of size `p`.
pub fn flatten_in(ty: &ValueType, p: PtrSize, out: &mut Vec<FlatType>) {
    let flatten = |t: &ValueType, out: &mut Vec<FlatType>| flatten_in(t, p, out);
    match ty {
        ValueType::Bool
        | ValueType::S8
        | ValueType::U8
        | ValueType::S16
        | ValueType::U16
        | ValueType::S32
        | ValueType::U32
        | ValueType::Char
        | ValueType::Own(_)
        | ValueType::Borrow(_) => out.push(FlatType::I32),
        ValueType::S64 | ValueType::U64 => out.push(FlatType::I64),
        ValueType::F32 => out.push(FlatType::F32),
        ValueType::F64 => out.push(FlatType::F64),
        ValueType::String | ValueType::List(_) | ValueType::Map(..) => out.extend([p.flat(), p.flat()]),
        ValueType::FixedList(t, n) => {
            let start = out.len();
            flatten(t, out);
            let one = out.len() - start;
            for _ in 1..*n {
                out.extend_from_within(start..start + one);
            }
        }
        ValueType::Flags(names) => out.extend(std::iter::repeat_n(FlatType::I32, flags_words(names.len()))),
        ValueType::Record(_) | ValueType::Tuple(_) => {
            for field in ty.as_record_fields().unwrap() {
                flatten(field, out);
            }
        }
        _ => {
            out.push(FlatType::I32);
            out.extend(variant_payload_flat_in(ty, p));
        }
    }
}

/// How many core values `ty` flattens to, computed without building them (saturating).
pub fn flat_count(ty: &ValueType) -> u64 {
    match ty {
        ValueType::String | ValueType::List(_) | ValueType::Map(..) => 2,
        ValueType::FixedList(t, n) => flat_count(t).saturating_mul(u64::from(*n)),
        ValueType::Flags(names) => flags_words(names.len()) as u64,
        ValueType::Record(_) | ValueType::Tuple(_) => {
            ty.as_record_fields().unwrap().into_iter().fold(0, |n, t| n.saturating_add(flat_count(t)))
        }
        ValueType::Variant(_) | ValueType::Enum(_) | ValueType::Option(_) | ValueType::Result { .. } => {
            1 + ty.as_variant_cases().unwrap().into_iter().flatten().map(flat_count).max().unwrap_or(0)
        }
        _ => 1,
    }
}

/// The joined flat payload of a variant-like type (without the discriminant), 32-bit pointers.
pub fn variant_payload_flat(ty: &ValueType) -> Vec<FlatType> {
    variant_payload_flat_in(ty, PtrSize::P32)
}

/// The joined flat payload of a variant-like type (without the discriminant), with pointers of
/// size `p`.
pub fn variant_payload_flat_in(ty: &ValueType, p: PtrSize) -> Vec<FlatType> {
    let mut joined: Vec<FlatType> = Vec::new();
    for case in ty.as_variant_cases().expect("not a variant").into_iter().flatten() {
        let mut flat = Vec::new();
        flatten_in(case, p, &mut flat);
        for (i, t) in flat.into_iter().enumerate() {
            match joined.get_mut(i) {
                Some(slot) => *slot = slot.join(t),
                None => joined.push(t),
            }
        }
    }
    joined
}

/// The core values `ty` flattens to, as a new vector (32-bit pointers).
pub fn flat_types(ty: &ValueType) -> Vec<FlatType> {
    flat_types_in(ty, PtrSize::P32)
}

/// The core values `ty` flattens to, as a new vector, with pointers of size `p`.
pub fn flat_types_in(ty: &ValueType, p: PtrSize) -> Vec<FlatType> {
    let mut out = Vec::new();
    flatten_in(ty, p, &mut out);
    out
}

/// The parameters of `ty` viewed as one tuple (how they are laid out when passed in memory).
pub fn params_tuple(ty: &FuncType) -> ValueType {
    ValueType::Tuple(ty.params.iter().map(|(_, t)| t.clone()).collect())
}

/// The flat parameters of `ty`, or one pointer if there are more than `max_flat`; and whether
/// they go through memory.
fn flatten_params(ty: &FuncType, max_flat: usize, p: PtrSize) -> (Vec<FlatType>, bool) {
    // Count first: a fixed-length list may flatten to millions of values, which are never built
    // when they go through memory anyway.
    let param_count = ty.params.iter().fold(0u64, |n, (_, t)| n.saturating_add(flat_count(t)));
    if param_count > max_flat as u64 {
        return (vec![p.flat()], true);
    }
    let mut params = Vec::new();
    for (_, param) in ty.params.iter() {
        flatten_in(param, p, &mut params);
    }
    (params, false)
}

/// The core signature of a function of type `ty` in `context`, with 32-bit pointers.
pub fn flatten_func(ty: &FuncType, context: Context) -> FlatSignature {
    flatten_func_in(ty, context, PtrSize::P32)
}

/// The core signature of a function of type `ty` in `context`, with pointers of size `p` (the
/// pointer size of its options' memory).
pub fn flatten_func_in(ty: &FuncType, context: Context, p: PtrSize) -> FlatSignature {
    let (mut params, params_indirect) = flatten_params(ty, MAX_FLAT_PARAMS, p);
    let results_indirect = ty.result.as_ref().is_some_and(|t| flat_count(t) > MAX_FLAT_RESULTS as u64);
    let mut results = Vec::new();
    if let Some(result) = ty.result.as_ref().filter(|_| !results_indirect) {
        flatten_in(result, p, &mut results);
    }
    if results_indirect {
        match context {
            Context::Lift => results = vec![p.flat()],
            Context::Lower => {
                params.push(p.flat());
                results = Vec::new();
            }
        }
    }
    FlatSignature { params, results, params_indirect, results_indirect }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::types::{Case, Field};

    fn record(types: &[ValueType]) -> ValueType {
        ValueType::Record(
            types.iter().enumerate().map(|(i, t)| Field { name: format!("f{i}"), ty: t.clone() }).collect(),
        )
    }

    #[test]
    fn record_layout_follows_alignment() {
        let ty = record(&[ValueType::U8, ValueType::U32, ValueType::U16]);
        assert_eq!(field_offsets(&ty), vec![0, 4, 8]);
        assert_eq!(size(&ty), 12);
        assert_eq!(align(&ty), 4);
        let ty = record(&[ValueType::U8, ValueType::U64]);
        assert_eq!(size(&ty), 16);
    }

    #[test]
    fn variant_layout_and_flattening() {
        let ty = ValueType::Variant(
            vec![
                Case { name: "a".into(), ty: Some(ValueType::F32) },
                Case { name: "b".into(), ty: Some(ValueType::U32) },
                Case { name: "c".into(), ty: Some(ValueType::F64) },
                Case { name: "d".into(), ty: None },
            ]
            .into(),
        );
        assert_eq!(variant_payload_offset(&ty), 8);
        assert_eq!(size(&ty), 16);
        // f32 and u32 join to i32; i32 and f64 join to i64.
        assert_eq!(flat_types(&ty), vec![FlatType::I32, FlatType::I64]);
        let option = ValueType::Option(Box::new(ValueType::String));
        assert_eq!(flat_types(&option), vec![FlatType::I32; 3]);
        assert_eq!(size(&option), 12);
    }

    #[test]
    fn discriminants_and_flags() {
        assert_eq!(discriminant_size(2), 1);
        assert_eq!(discriminant_size(256), 1);
        assert_eq!(discriminant_size(257), 2);
        assert_eq!(discriminant_size(65537), 4);
        let flags = |n: usize| ValueType::Flags((0..n).map(|i| format!("f{i}")).collect());
        assert_eq!((size(&flags(8)), align(&flags(8))), (1, 1));
        assert_eq!((size(&flags(9)), align(&flags(9))), (2, 2));
        assert_eq!((size(&flags(33)), align(&flags(33))), (8, 4));
        assert_eq!(flat_types(&flags(33)).len(), 2);
    }

    #[test]
    fn maps_and_fixed_length_lists() {
        let map = ValueType::Map(Box::new(ValueType::String), Box::new(ValueType::U8));
        assert_eq!((size(&map), align(&map)), (8, 4));
        assert_eq!(flat_types(&map), vec![FlatType::I32; 2]);
        assert_eq!(*map.list_element().unwrap(), ValueType::Tuple(vec![ValueType::String, ValueType::U8].into()));
        // Laid out like a tuple of N elements, flattened as N copies.
        let fixed = ValueType::FixedList(Box::new(record(&[ValueType::U8, ValueType::U16])), 3);
        assert_eq!((size(&fixed), align(&fixed)), (12, 2));
        assert_eq!(flat_types(&fixed), vec![FlatType::I32; 6]);
        assert_eq!(flat_count(&fixed), 6);
        let inner = ValueType::FixedList(Box::new(ValueType::F64), 2);
        let option = ValueType::Option(Box::new(inner));
        assert_eq!(flat_types(&option), vec![FlatType::I32, FlatType::F64, FlatType::F64]);
        assert_eq!((size(&option), align(&option)), (24, 8));
        // A huge fixed-length list is counted, not built: it goes through memory.
        let huge = ValueType::FixedList(Box::new(ValueType::U8), 268_435_455);
        assert_eq!(flat_count(&huge), 268_435_455);
        let ty = FuncType { params: vec![("a".into(), huge.clone())].into(), result: Some(huge) };
        let sig = flatten_func(&ty, Context::Lower);
        assert!(sig.params_indirect && sig.results_indirect);
        assert_eq!((sig.params.len(), sig.results.len()), (2, 0));
        let small = ValueType::FixedList(Box::new(ValueType::U32), 16);
        let sig = flatten_func(&FuncType { params: vec![("a".into(), small)].into(), result: None }, Context::Lift);
        assert!(!sig.params_indirect);
        assert_eq!(sig.params.len(), 16);
    }

    #[test]
    fn flattening_limits() {
        let many = FuncType {
            params: (0..17).map(|i| (format!("p{i}"), ValueType::U32)).collect(),
            result: Some(ValueType::String),
        };
        let lift = flatten_func(&many, Context::Lift);
        assert!(lift.params_indirect && lift.results_indirect);
        assert_eq!((lift.params.len(), lift.results.len()), (1, 1));
        let lower = flatten_func(&many, Context::Lower);
        assert_eq!((lower.params.len(), lower.results.len()), (2, 0));
    }
}
