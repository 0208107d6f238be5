//! The reference Canonical ABI: lifting and lowering dynamic [`Val`]s to and from a component
//! instance's linear memory and core values.
//!
//! This is a deliberately plain transcription of the specification's `definitions.py`
//! (`design/mvp/canonical-abi/definitions.py` in the component-model repository): the same
//! `realloc` calls with the same arguments, the same checks in the same order, the same traps.
//! The adapters FACT generates are tested against it, so it favours being obviously right over
//! being fast. Layout (sizes, alignments, offsets, flattening) comes from
//! [`kiln_environ::component`], which the adapters use too.
//!
//! The runtime supplies an [`AbiMemory`]: the memory, `realloc` and string encoding of the
//! canonical options on one side of a call. Strings inside [`Val`]s are host strings (UTF-8), so
//! they take the specification's paths for a UTF-8 source; [`lower_string`] takes a
//! [`StringSource`] of any encoding, for comparing string transcoding with the adapters.
//!
//! Differences from `definitions.py`, all unobservable by a conforming guest:
//! - the specification *asserts* alignment and bounds at the start of `load`/`store` (its callers
//!   checked them); the public [`load`] and [`store`] check and trap instead, and every memory
//!   access is bounds-checked;
//! - NaNs are lowered canonical (the specification's `DETERMINISTIC_PROFILE`) and, as specified,
//!   canonicalized when lifted;
//! - a value that does not match its type is an ordinary error (not a trap), raised before any
//!   `realloc` by the function-level entry points;
//! - with an out-pointer, [`lower_results`] returns no core values (the lowered function's core
//!   signature has no results then).

use super::values::Val;
use crate::Trap;
use anyhow::{Result, bail};
use kiln_environ::component::{
    self as env, Context, FlatType, FuncType, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS, MAX_LIST_BYTE_LENGTH,
    MAX_STRING_BYTE_LENGTH, PtrSize, REALLOC_MAX, StringEncoding, UTF16_TAG, ValueType,
};

#[cfg(test)]
mod tests;

/// The canonical options of one side of a call, as the reference lift/lower sees them.
pub trait AbiMemory {
    /// The linear memory; an error if the options name no memory.
    fn memory(&self) -> Result<&[u8]>;
    /// The linear memory, writable; an error if the options name no memory.
    fn memory_mut(&mut self) -> Result<&mut [u8]>;
    /// Calls the options' `realloc` (into wasm): `(old_ptr, old_size, align, new_size) -> ptr`,
    /// with arguments and result of the memory's pointer type.
    fn realloc(&mut self, old_ptr: u64, old_size: u32, align: u32, new_size: u32) -> Result<u64>;
    /// The options' string encoding.
    fn string_encoding(&self) -> StringEncoding;
    /// The pointer size of the options' memory (64-bit memories: the `cm64` feature).
    fn ptr_size(&self) -> PtrSize {
        PtrSize::P32
    }
    /// Lifts handle `handle` of type `ty` (`own` or `borrow`) out of the instance's table into
    /// a host [`Val::Resource`].
    fn lift_handle(&self, ty: &ValueType, handle: u32) -> Result<Val> {
        let _ = handle;
        Err(unsupported(ty))
    }
    /// Lowers the host resource `v` into the instance's table as a handle of type `ty`.
    fn lower_handle(&mut self, ty: &ValueType, v: &Val) -> Result<u32> {
        let _ = v;
        Err(unsupported(ty))
    }
}

/// A core value in a flattened signature; floats are carried as their bits so NaN payloads
/// survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Flat {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// The bits of an `f32`.
    F32(u32),
    /// The bits of an `f64`.
    F64(u64),
}

impl Flat {
    /// The core type of this value.
    pub(crate) fn ty(self) -> FlatType {
        match self {
            Flat::I32(_) => FlatType::I32,
            Flat::I64(_) => FlatType::I64,
            Flat::F32(_) => FlatType::F32,
            Flat::F64(_) => FlatType::F64,
        }
    }

    /// Zero of type `ty` (what unused variant payload slots are lowered as).
    pub(crate) fn zero(ty: FlatType) -> Flat {
        match ty {
            FlatType::I32 => Flat::I32(0),
            FlatType::I64 => Flat::I64(0),
            FlatType::F32 => Flat::F32(0),
            FlatType::F64 => Flat::F64(0),
        }
    }
}

const CANONICAL_FLOAT32_NAN: u32 = 0x7fc0_0000;
const CANONICAL_FLOAT64_NAN: u64 = 0x7ff8_0000_0000_0000;

pub(crate) fn trap(code: Trap) -> anyhow::Error {
    anyhow::Error::new(code)
}

pub(crate) fn trap_if(cond: bool, code: Trap) -> Result<()> {
    if cond { Err(trap(code)) } else { Ok(()) }
}

/// The specification's pair of checks on a range handed across the boundary:
/// `trap_if(ptr != align_to(ptr, alignment))` then `trap_if(ptr + length > len(memory))`.
fn check_range(memory_len: usize, ptr: u64, align: u32, byte_length: u64) -> Result<()> {
    check_range_with(memory_len, ptr, align, byte_length, Trap::UnalignedPointer, Trap::PointerOutOfBounds)
}

/// [`check_range`] with the traps that name what the range holds (a string, a list, a `realloc`
/// result).
pub(crate) fn check_range_with(
    memory_len: usize,
    ptr: u64,
    align: u32,
    byte_length: u64,
    unaligned: Trap,
    out_of_bounds: Trap,
) -> Result<()> {
    trap_if(!ptr.is_multiple_of(u64::from(align)), unaligned)?;
    trap_if(ptr.checked_add(byte_length).is_none_or(|end| end > memory_len as u64), out_of_bounds)
}

pub(crate) fn f32_canonical_bits(f: f32) -> u32 {
    if f.is_nan() { CANONICAL_FLOAT32_NAN } else { f.to_bits() }
}

pub(crate) fn f64_canonical_bits(f: f64) -> u64 {
    if f.is_nan() { CANONICAL_FLOAT64_NAN } else { f.to_bits() }
}

/// `decode_i32_as_float`: NaNs are canonicalized.
pub(crate) fn decode_f32(bits: u32) -> f32 {
    f32::from_bits(if f32::from_bits(bits).is_nan() { CANONICAL_FLOAT32_NAN } else { bits })
}

/// `decode_i64_as_float`: NaNs are canonicalized.
pub(crate) fn decode_f64(bits: u64) -> f64 {
    f64::from_bits(if f64::from_bits(bits).is_nan() { CANONICAL_FLOAT64_NAN } else { bits })
}

/// `convert_i32_to_char`.
pub(crate) fn convert_i32_to_char(i: u32) -> Result<char> {
    trap_if(i >= 0x11_0000, Trap::InvalidChar)?;
    trap_if((0xD800..=0xDFFF).contains(&i), Trap::InvalidChar)?;
    Ok(char::from_u32(i).expect("checked scalar value"))
}

fn type_mismatch(ty: &ValueType, v: &Val) -> anyhow::Error {
    anyhow::anyhow!("type mismatch: expected {ty}, found {}", v.desc())
}

fn unsupported(ty: &ValueType) -> anyhow::Error {
    anyhow::anyhow!("values of type {ty} are not supported by dynamic lifting and lowering yet")
}

/// The values of a record or tuple in field order, checked against the field names.
fn record_values<'a>(ty: &ValueType, v: &'a Val) -> Result<Vec<&'a Val>> {
    match (ty, v) {
        (ValueType::Record(fields), Val::Record(values)) if fields.len() == values.len() => fields
            .iter()
            .zip(values)
            .map(|(field, (name, value))| {
                if field.name != *name {
                    bail!("record field `{name}` given where `{}` is expected", field.name);
                }
                Ok(value)
            })
            .collect(),
        (ValueType::Tuple(types), Val::Tuple(values)) if types.len() == values.len() => Ok(values.iter().collect()),
        _ => Err(type_mismatch(ty, v)),
    }
}

/// `match_case` over despecialized variants: the case index and payload of a variant-like value.
fn match_case<'a>(ty: &ValueType, v: &'a Val) -> Result<(u32, Option<&'a Val>)> {
    let (index, payload) = match (ty, v) {
        (ValueType::Variant(cases), Val::Variant(name, payload)) => {
            (cases.iter().position(|c| c.name == *name), payload.as_deref())
        }
        (ValueType::Enum(names), Val::Enum(name)) => (names.iter().position(|n| n == name), None),
        (ValueType::Option(_), Val::Option(payload)) => (Some(usize::from(payload.is_some())), payload.as_deref()),
        (ValueType::Result { .. }, Val::Result(Ok(payload))) => (Some(0), payload.as_deref()),
        (ValueType::Result { .. }, Val::Result(Err(payload))) => (Some(1), payload.as_deref()),
        _ => return Err(type_mismatch(ty, v)),
    };
    let cases = ty.as_variant_cases().expect("variant-like");
    let Some(index) = index else { return Err(type_mismatch(ty, v)) };
    if cases[index].is_some() != payload.is_some() {
        return Err(type_mismatch(ty, v));
    }
    Ok((index as u32, payload))
}

/// `case_label_with_refinements` in reverse: the value of case `index` of a variant-like type.
fn make_case(ty: &ValueType, index: u32, payload: Option<Val>) -> Val {
    let payload = payload.map(Box::new);
    match ty {
        ValueType::Variant(cases) => Val::Variant(cases[index as usize].name.clone(), payload),
        ValueType::Enum(names) => Val::Enum(names[index as usize].clone()),
        ValueType::Option(_) if index == 0 => Val::Option(None),
        ValueType::Option(_) => Val::Option(payload),
        ValueType::Result { .. } if index == 0 => Val::Result(Ok(payload)),
        ValueType::Result { .. } => Val::Result(Err(payload)),
        _ => unreachable!("not a variant"),
    }
}

/// `pack_flags_into_int`, as little-endian 32-bit words.
fn pack_flags(names: &[String], v: &Val) -> Result<Vec<u32>> {
    let Val::Flags(set) = v else { return Err(type_mismatch(&ValueType::Flags(names.into()), v)) };
    let mut words = vec![0u32; env::flags_words(names.len())];
    for flag in set {
        let Some(i) = names.iter().position(|n| n == flag) else {
            bail!("unknown flag `{flag}` for type {}", ValueType::Flags(names.into()));
        };
        words[i / 32] |= 1 << (i % 32);
    }
    Ok(words)
}

/// `unpack_flags_from_int`: bits beyond the last label are ignored.
fn unpack_flags(names: &[String], words: &[u32]) -> Val {
    let set = names.iter().enumerate().filter(|(i, _)| words[i / 32] & (1 << (i % 32)) != 0);
    Val::Flags(set.map(|(_, n)| n.clone()).collect())
}

// ---------------------------------------------------------------------------------------------
// Loading

/// The byte range `[ptr, ptr + len)` of a memory as host indices, if it is in `0..memory_len`.
fn host_range(ptr: u64, len: usize, memory_len: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(ptr).ok()?;
    let end = start.checked_add(len).filter(|&end| end <= memory_len)?;
    Some(start..end)
}

fn read<const N: usize>(memory: &[u8], ptr: u64) -> Result<[u8; N]> {
    match host_range(ptr, N, memory.len()) {
        Some(range) => Ok(memory[range].try_into().unwrap()),
        None => Err(trap(Trap::PointerOutOfBounds)),
    }
}

fn read_u32(memory: &[u8], ptr: u64) -> Result<u32> {
    Ok(u32::from_le_bytes(read(memory, ptr)?))
}

/// Reads a pointer or a length: 4 or 8 bytes, by the memory's pointer size.
fn read_ptr(memory: &[u8], ptr: u64, p: PtrSize) -> Result<u64> {
    Ok(match p {
        PtrSize::P32 => u64::from(read_u32(memory, ptr)?),
        PtrSize::P64 => u64::from_le_bytes(read(memory, ptr)?),
    })
}

/// Reads a little-endian unsigned integer of `nbytes` (1, 2 or 4) bytes (`load_int`).
fn read_uint(memory: &[u8], ptr: u64, nbytes: u32) -> Result<u32> {
    Ok(match nbytes {
        1 => u32::from(read::<1>(memory, ptr)?[0]),
        2 => u32::from(u16::from_le_bytes(read(memory, ptr)?)),
        _ => read_u32(memory, ptr)?,
    })
}

/// `load`: reads a value of type `ty` at `ptr`, trapping if `ptr` is misaligned or the value
/// does not fit in memory.
// An entry point for tests of the adapters; the runtime itself does not need it (yet).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, ptr: u64) -> Result<Val> {
    let p = cx.ptr_size();
    check_range(cx.memory()?.len(), ptr, env::align_in(ty, p), u64::from(env::size_in(ty, p)))?;
    load_at(cx, ty, ptr)
}

fn load_at<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, ptr: u64) -> Result<Val> {
    let memory = cx.memory()?;
    let p = cx.ptr_size();
    let second = ptr + u64::from(p.bytes());
    Ok(match ty {
        ValueType::Bool => Val::Bool(read::<1>(memory, ptr)?[0] != 0),
        ValueType::U8 => Val::U8(read::<1>(memory, ptr)?[0]),
        ValueType::S8 => Val::S8(read::<1>(memory, ptr)?[0] as i8),
        ValueType::U16 => Val::U16(u16::from_le_bytes(read(memory, ptr)?)),
        ValueType::S16 => Val::S16(i16::from_le_bytes(read(memory, ptr)?)),
        ValueType::U32 => Val::U32(u32::from_le_bytes(read(memory, ptr)?)),
        ValueType::S32 => Val::S32(i32::from_le_bytes(read(memory, ptr)?)),
        ValueType::U64 => Val::U64(u64::from_le_bytes(read(memory, ptr)?)),
        ValueType::S64 => Val::S64(i64::from_le_bytes(read(memory, ptr)?)),
        ValueType::F32 => Val::Float32(decode_f32(u32::from_le_bytes(read(memory, ptr)?))),
        ValueType::F64 => Val::Float64(decode_f64(u64::from_le_bytes(read(memory, ptr)?))),
        ValueType::Char => Val::Char(convert_i32_to_char(read_u32(memory, ptr)?)?),
        ValueType::String => {
            let begin = read_ptr(memory, ptr, p)?;
            let tagged_code_units = read_ptr(memory, second, p)?;
            Val::String(load_string_from_range(cx, begin, tagged_code_units)?)
        }
        ValueType::List(elem) => {
            let begin = read_ptr(memory, ptr, p)?;
            let length = read_ptr(memory, second, p)?;
            Val::List(load_list_from_range(cx, begin, length, elem)?)
        }
        ValueType::Map(..) => {
            let begin = read_ptr(memory, ptr, p)?;
            let length = read_ptr(memory, second, p)?;
            load_map_from_range(cx, begin, length, ty)?
        }
        ValueType::FixedList(elem, n) => {
            let elem_size = u64::from(env::size_in(elem, p));
            let elems = (0..u64::from(*n)).map(|i| load_at(cx, elem, ptr + i * elem_size));
            Val::List(elems.collect::<Result<_>>()?)
        }
        ValueType::Record(fields) => {
            let offsets = env::field_offsets_in(ty, p);
            let mut record = Vec::with_capacity(fields.len());
            for (field, offset) in fields.iter().zip(offsets) {
                record.push((field.name.clone(), load_at(cx, &field.ty, ptr + u64::from(offset))?));
            }
            Val::Record(record)
        }
        ValueType::Tuple(types) => {
            let offsets = env::field_offsets_in(ty, p);
            let values = types.iter().zip(offsets).map(|(t, offset)| load_at(cx, t, ptr + u64::from(offset)));
            Val::Tuple(values.collect::<Result<_>>()?)
        }
        ValueType::Variant(_) | ValueType::Enum(_) | ValueType::Option(_) | ValueType::Result { .. } => {
            let cases = ty.as_variant_cases().unwrap();
            let disc_size = env::discriminant_size(cases.len());
            let case_index = read_uint(memory, ptr, disc_size)?;
            check_discriminant(case_index, cases.len())?;
            let payload = match cases[case_index as usize] {
                None => None,
                Some(case_ty) => Some(load_at(cx, case_ty, ptr + u64::from(env::variant_payload_offset_in(ty, p)))?),
            };
            make_case(ty, case_index, payload)
        }
        ValueType::Flags(names) => {
            let size = env::flags_size(names.len());
            let mut words = vec![0u32; env::flags_words(names.len())];
            match size {
                0 => {}
                1 | 2 => words[0] = read_uint(memory, ptr, size)?,
                _ => {
                    for (i, word) in words.iter_mut().enumerate() {
                        *word = read_u32(memory, ptr + 4 * i as u64)?;
                    }
                }
            }
            unpack_flags(names, &words)
        }
        ValueType::Own(_) | ValueType::Borrow(_) => cx.lift_handle(ty, read_u32(memory, ptr)?)?,
    })
}

/// `load_string_from_range`: decodes a string in the options' encoding, checking alignment,
/// bounds and validity.
fn load_string_from_range<C: AbiMemory + ?Sized>(cx: &C, ptr: u64, tagged_code_units: u64) -> Result<String> {
    enum Decode {
        Utf8,
        Utf16,
        Latin1,
    }
    let tagged_code_units = narrow_tagged_length(cx, tagged_code_units)?;
    let units = u64::from(tagged_code_units);
    let (alignment, byte_length, encoding) = match cx.string_encoding() {
        StringEncoding::Utf8 => (1, units, Decode::Utf8),
        StringEncoding::Utf16 => (2, 2 * units, Decode::Utf16),
        StringEncoding::CompactUtf16 => {
            if tagged_code_units & UTF16_TAG != 0 {
                (2, 2 * u64::from(tagged_code_units ^ UTF16_TAG), Decode::Utf16)
            } else {
                (2, units, Decode::Latin1)
            }
        }
    };
    trap_if(byte_length > u64::from(MAX_STRING_BYTE_LENGTH), Trap::HostStringOutOfBounds)?;
    let memory = cx.memory()?;
    check_range_with(
        memory.len(),
        ptr,
        alignment,
        byte_length,
        Trap::HostStringUnaligned,
        Trap::HostStringOutOfBounds,
    )?;
    let bytes = &memory[ptr as usize..][..byte_length as usize];
    match encoding {
        Decode::Utf8 => match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            // No error length: the string ends inside a sequence that was valid so far.
            Err(e) if e.error_len().is_none() => Err(trap(Trap::IncompleteUtf8)),
            Err(_) => Err(trap(Trap::InvalidUtf8)),
        },
        Decode::Utf16 => {
            let units = bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
            char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| trap(Trap::InvalidUtf16))
        }
        Decode::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// A string's length as read from memory or core values, as a `u32` whose bit 31 is the
/// `latin1+utf16` UTF-16 tag. In a 64-bit memory the tag is bit 63 (the specification's
/// `utf16_tag`); a length beyond 31 bits (32 untagged) is far beyond the longest string and
/// traps as out of bounds.
fn narrow_tagged_length<C: AbiMemory + ?Sized>(cx: &C, tagged_code_units: u64) -> Result<u32> {
    let out_of_bounds = || trap(Trap::HostStringOutOfBounds);
    if cx.ptr_size() == PtrSize::P32 {
        return u32::try_from(tagged_code_units).map_err(|_| out_of_bounds());
    }
    if cx.string_encoding() != StringEncoding::CompactUtf16 {
        return u32::try_from(tagged_code_units).map_err(|_| out_of_bounds());
    }
    let units = tagged_code_units & !(1 << 63);
    let units = u32::try_from(units).ok().filter(|&u| u & UTF16_TAG == 0).ok_or_else(out_of_bounds)?;
    Ok(if tagged_code_units >> 63 != 0 { units | UTF16_TAG } else { units })
}

/// A string's length (bit 31: the `latin1+utf16` UTF-16 tag) as it goes into memory or core
/// values: in a 64-bit memory the tag moves to bit 63.
fn widen_tagged_length<C: AbiMemory + ?Sized>(cx: &C, tagged_code_units: u32) -> u64 {
    let tagged = cx.ptr_size() == PtrSize::P64
        && cx.string_encoding() == StringEncoding::CompactUtf16
        && tagged_code_units & UTF16_TAG != 0;
    if tagged { u64::from(tagged_code_units & !UTF16_TAG) | 1 << 63 } else { u64::from(tagged_code_units) }
}

/// A map is loaded as the list of its entries, `tuple<K, V>`.
fn load_map_from_range<C: AbiMemory + ?Sized>(cx: &C, ptr: u64, length: u64, ty: &ValueType) -> Result<Val> {
    let entries = load_list_from_range(cx, ptr, length, &ty.list_element().expect("a map"))?;
    Ok(Val::Map(entries.into_iter().map(into_entry).collect()))
}

/// A loaded `tuple<K, V>` map entry as a key and a value.
fn into_entry(entry: Val) -> (Val, Val) {
    match entry {
        Val::Tuple(pair) => {
            let mut pair = pair.into_iter();
            (pair.next().expect("a key"), pair.next().expect("a value"))
        }
        _ => unreachable!("map entries load as tuples"),
    }
}

/// `load_list_from_range`.
fn load_list_from_range<C: AbiMemory + ?Sized>(cx: &C, ptr: u64, length: u64, elem: &ValueType) -> Result<Vec<Val>> {
    let p = cx.ptr_size();
    let elem_size = u64::from(env::size_in(elem, p));
    // A product beyond 64 bits is out of bounds of any memory.
    let byte_length = length.saturating_mul(elem_size);
    trap_if(byte_length > u64::from(MAX_LIST_BYTE_LENGTH), Trap::HostListOutOfBounds)?;
    let memory_len = cx.memory()?.len();
    check_range_with(
        memory_len,
        ptr,
        env::align_in(elem, p),
        byte_length,
        Trap::UnalignedPointer,
        Trap::HostListOutOfBounds,
    )?;
    if let ValueType::U8 = elem {
        let bytes = &cx.memory()?[ptr as usize..][..length as usize];
        return Ok(bytes.iter().map(|&b| Val::U8(b)).collect());
    }
    (0..length).map(|i| load_at(cx, elem, ptr + i * elem_size)).collect()
}

// ---------------------------------------------------------------------------------------------
// Storing

fn write<C: AbiMemory + ?Sized>(cx: &mut C, ptr: u64, bytes: &[u8]) -> Result<()> {
    let memory = cx.memory_mut()?;
    match host_range(ptr, bytes.len(), memory.len()) {
        Some(range) => {
            memory[range].copy_from_slice(bytes);
            Ok(())
        }
        None => Err(trap(Trap::PointerOutOfBounds)),
    }
}

/// Writes a pointer or a length: 4 or 8 bytes, by the memory's pointer size.
fn write_ptr<C: AbiMemory + ?Sized>(cx: &mut C, ptr: u64, value: u64) -> Result<()> {
    match cx.ptr_size() {
        PtrSize::P32 => write(cx, ptr, &(value as u32).to_le_bytes()),
        PtrSize::P64 => write(cx, ptr, &value.to_le_bytes()),
    }
}

/// A pointer or a length as a core value of the memory's pointer type.
fn ptr_flat(p: PtrSize, value: u64) -> Flat {
    match p {
        PtrSize::P32 => Flat::I32(value as u32 as i32),
        PtrSize::P64 => Flat::I64(value as i64),
    }
}

/// Reads a pointer or a length core value of the memory's pointer type.
fn next_ptr(vi: &mut dyn Iterator<Item = Flat>, p: PtrSize) -> Result<u64> {
    Ok(match next_flat(vi, p.flat())? {
        Flat::I32(x) => u64::from(x as u32),
        Flat::I64(x) => x as u64,
        _ => unreachable!(),
    })
}

/// `store`: writes `v` (of type `ty`) at `ptr`, trapping if `ptr` is misaligned or the value
/// does not fit in memory. Strings and lists are allocated with `realloc`.
// An entry point for tests of the adapters; the runtime itself does not need it (yet).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn store<C: AbiMemory + ?Sized>(cx: &mut C, ty: &ValueType, v: &Val, ptr: u64) -> Result<()> {
    let p = cx.ptr_size();
    check_range(cx.memory()?.len(), ptr, env::align_in(ty, p), u64::from(env::size_in(ty, p)))?;
    store_at(cx, ty, v, ptr)
}

fn store_at<C: AbiMemory + ?Sized>(cx: &mut C, ty: &ValueType, v: &Val, ptr: u64) -> Result<()> {
    let p = cx.ptr_size();
    let second = ptr + u64::from(p.bytes());
    match (ty, v) {
        (ValueType::Bool, Val::Bool(b)) => write(cx, ptr, &[u8::from(*b)]),
        (ValueType::U8, Val::U8(x)) => write(cx, ptr, &x.to_le_bytes()),
        (ValueType::S8, Val::S8(x)) => write(cx, ptr, &x.to_le_bytes()),
        (ValueType::U16, Val::U16(x)) => write(cx, ptr, &x.to_le_bytes()),
        (ValueType::S16, Val::S16(x)) => write(cx, ptr, &x.to_le_bytes()),
        (ValueType::U32, Val::U32(x)) => write(cx, ptr, &x.to_le_bytes()),
        (ValueType::S32, Val::S32(x)) => write(cx, ptr, &x.to_le_bytes()),
        (ValueType::U64, Val::U64(x)) => write(cx, ptr, &x.to_le_bytes()),
        (ValueType::S64, Val::S64(x)) => write(cx, ptr, &x.to_le_bytes()),
        (ValueType::F32, Val::Float32(f)) => write(cx, ptr, &f32_canonical_bits(*f).to_le_bytes()),
        (ValueType::F64, Val::Float64(f)) => write(cx, ptr, &f64_canonical_bits(*f).to_le_bytes()),
        (ValueType::Char, Val::Char(c)) => write(cx, ptr, &u32::from(*c).to_le_bytes()),
        (ValueType::String, Val::String(s)) => {
            let (begin, tagged_code_units) = store_string_into_range(cx, StringSource::host(s))?;
            write_ptr(cx, ptr, begin)?;
            let length = widen_tagged_length(cx, tagged_code_units);
            write_ptr(cx, second, length)
        }
        (ValueType::List(elem), Val::List(values)) => {
            let (begin, length) = store_list_into_range(cx, elem, values)?;
            write_ptr(cx, ptr, begin)?;
            write_ptr(cx, second, u64::from(length))
        }
        (ValueType::Map(key, value), Val::Map(entries)) => {
            let (begin, length) = store_map_into_range(cx, key, value, entries)?;
            write_ptr(cx, ptr, begin)?;
            write_ptr(cx, second, u64::from(length))
        }
        (ValueType::FixedList(elem, n), Val::List(values)) => {
            check_fixed_length(ty, *n, values)?;
            let elem_size = u64::from(env::size_in(elem, p));
            for (i, v) in values.iter().enumerate() {
                store_at(cx, elem, v, ptr + i as u64 * elem_size)?;
            }
            Ok(())
        }
        (ValueType::Record(_) | ValueType::Tuple(_), _) => {
            let values = record_values(ty, v)?;
            let types = ty.as_record_fields().unwrap();
            for ((t, value), offset) in types.into_iter().zip(values).zip(env::field_offsets_in(ty, p)) {
                store_at(cx, t, value, ptr + u64::from(offset))?;
            }
            Ok(())
        }
        (ValueType::Variant(_) | ValueType::Enum(_) | ValueType::Option(_) | ValueType::Result { .. }, _) => {
            let (case_index, payload) = match_case(ty, v)?;
            let cases = ty.as_variant_cases().unwrap();
            let disc_size = env::discriminant_size(cases.len());
            write(cx, ptr, &case_index.to_le_bytes()[..disc_size as usize])?;
            match (cases[case_index as usize], payload) {
                (Some(case_ty), Some(payload)) => {
                    store_at(cx, case_ty, payload, ptr + u64::from(env::variant_payload_offset_in(ty, p)))
                }
                _ => Ok(()),
            }
        }
        (ValueType::Flags(names), _) => {
            let words = pack_flags(names, v)?;
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            write(cx, ptr, &bytes[..env::flags_size(names.len()) as usize])
        }
        (ValueType::Own(_) | ValueType::Borrow(_), Val::Resource(_)) => {
            let handle = cx.lower_handle(ty, v)?;
            write(cx, ptr, &handle.to_le_bytes())
        }
        _ => Err(type_mismatch(ty, v)),
    }
}

/// A string on its way from one memory to another, as the specification's `String` value carries
/// it: the text, plus the encoding and tagged code-unit count it had where it was lifted from.
/// These choose the `realloc` sequence of the store. Host strings are [`StringSource::host`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StringSource<'a> {
    /// The text.
    pub text: &'a str,
    /// The encoding of the memory it was lifted from.
    pub encoding: StringEncoding,
    /// Its length there in code units, with [`UTF16_TAG`] for `latin1+utf16` UTF-16 strings.
    pub tagged_code_units: u32,
}

impl<'a> StringSource<'a> {
    /// A host string: UTF-8, measured in bytes.
    pub(crate) fn host(text: &'a str) -> StringSource<'a> {
        // Longer strings saturate, and the stores then trap as too long.
        let tagged_code_units = u32::try_from(text.len()).unwrap_or(u32::MAX);
        StringSource { text, encoding: StringEncoding::Utf8, tagged_code_units }
    }
}

/// Lifts a string given as `(ptr, tagged_code_units)` (`load_string_from_range`).
pub(crate) fn lift_string<C: AbiMemory + ?Sized>(cx: &C, ptr: u64, tagged_code_units: u64) -> Result<String> {
    load_string_from_range(cx, ptr, tagged_code_units)
}

/// Lowers a string into freshly allocated memory (`store_string_into_range`), returning
/// `(ptr, tagged_code_units)`, the latter with bit 31 as the UTF-16 tag (see
/// [`lower_string_wide`] for the length as the memory has it).
pub(crate) fn lower_string<C: AbiMemory + ?Sized>(cx: &mut C, src: StringSource<'_>) -> Result<(u64, u32)> {
    store_string_into_range(cx, src)
}

/// [`lower_string`], with the length as the memory's pointer type has it (a 64-bit memory's
/// UTF-16 tag is bit 63).
pub(crate) fn lower_string_wide<C: AbiMemory + ?Sized>(cx: &mut C, src: StringSource<'_>) -> Result<(u64, u64)> {
    let (ptr, tagged) = store_string_into_range(cx, src)?;
    Ok((ptr, widen_tagged_length(cx, tagged)))
}

/// The encoding of a string's code units, once `latin1+utf16` is resolved to one of its halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimpleEncoding {
    Utf8,
    Utf16,
    Latin1,
}

fn encode(src: &str, encoding: SimpleEncoding) -> Result<Vec<u8>> {
    Ok(match encoding {
        SimpleEncoding::Utf8 => src.as_bytes().to_vec(),
        SimpleEncoding::Utf16 => utf16_le(src),
        SimpleEncoding::Latin1 => match src.chars().map(u8::try_from).collect() {
            Ok(bytes) => bytes,
            Err(_) => bail!("a Latin-1 source string has a character beyond Latin-1"),
        },
    })
}

fn utf16_le(src: &str) -> Vec<u8> {
    src.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// `store_string_into_range`: dispatches on the source and destination encodings and returns
/// `(ptr, tagged_code_units)`.
fn store_string_into_range<C: AbiMemory + ?Sized>(cx: &mut C, src: StringSource<'_>) -> Result<(u64, u32)> {
    let (src_simple_encoding, src_code_units) = match src.encoding {
        StringEncoding::CompactUtf16 if src.tagged_code_units & UTF16_TAG != 0 => {
            (SimpleEncoding::Utf16, src.tagged_code_units ^ UTF16_TAG)
        }
        StringEncoding::CompactUtf16 => (SimpleEncoding::Latin1, src.tagged_code_units),
        StringEncoding::Utf8 => (SimpleEncoding::Utf8, src.tagged_code_units),
        StringEncoding::Utf16 => (SimpleEncoding::Utf16, src.tagged_code_units),
    };
    let text = src.text;
    let consistent = match src_simple_encoding {
        SimpleEncoding::Utf8 => text.len() as u64 == u64::from(src_code_units),
        SimpleEncoding::Utf16 => text.encode_utf16().count() as u64 == u64::from(src_code_units),
        SimpleEncoding::Latin1 => {
            text.chars().all(|c| u32::from(c) < 1 << 8) && text.chars().count() as u64 == u64::from(src_code_units)
        }
    };
    if !consistent {
        bail!("a source string's encoding and code-unit count disagree with its text");
    }
    // Strings lifted from guest memory are within the limit already; host strings may not be.
    let src_byte_length = match src_simple_encoding {
        SimpleEncoding::Utf16 => 2 * u64::from(src_code_units),
        SimpleEncoding::Utf8 | SimpleEncoding::Latin1 => u64::from(src_code_units),
    };
    trap_if(src_byte_length > u64::from(MAX_STRING_BYTE_LENGTH), Trap::LengthTooLarge)?;
    match cx.string_encoding() {
        StringEncoding::Utf8 => match src_simple_encoding {
            SimpleEncoding::Utf8 => store_string_copy(cx, text, src_code_units, 1, 1, SimpleEncoding::Utf8),
            SimpleEncoding::Utf16 => store_utf16_to_utf8(cx, text, src_code_units),
            SimpleEncoding::Latin1 => store_latin1_to_utf8(cx, text, src_code_units),
        },
        StringEncoding::Utf16 => match src_simple_encoding {
            SimpleEncoding::Utf8 => store_utf8_to_utf16(cx, text, src_code_units),
            SimpleEncoding::Utf16 | SimpleEncoding::Latin1 => {
                store_string_copy(cx, text, src_code_units, 2, 2, SimpleEncoding::Utf16)
            }
        },
        StringEncoding::CompactUtf16 => match (src.encoding, src_simple_encoding) {
            (StringEncoding::Utf8 | StringEncoding::Utf16, _) => {
                store_string_to_latin1_or_utf16(cx, text, src_code_units)
            }
            (_, SimpleEncoding::Latin1) => store_string_copy(cx, text, src_code_units, 1, 2, SimpleEncoding::Latin1),
            (_, _) => store_probably_utf16_to_latin1_or_utf16(cx, text, src_code_units),
        },
    }
}

/// The specification's checks on the range a `realloc` returned, with the traps that say so.
fn check_realloc_result<C: AbiMemory + ?Sized>(cx: &C, ptr: u64, align: u32, size: u32) -> Result<()> {
    let memory_len = cx.memory()?.len();
    check_range_with(memory_len, ptr, align, u64::from(size), Trap::ReallocUnaligned, Trap::ReallocOutOfBounds)
}

/// Calls `realloc` and applies the specification's checks to the returned range.
pub(crate) fn realloc_checked<C: AbiMemory + ?Sized>(
    cx: &mut C,
    old_ptr: u64,
    old_size: u32,
    align: u32,
    new_size: u32,
) -> Result<u64> {
    let ptr = cx.realloc(old_ptr, old_size, align, new_size)?;
    check_realloc_result(cx, ptr, align, new_size)?;
    Ok(ptr)
}

/// `store_string_copy`: the destination uses the source's code units; one exact allocation.
fn store_string_copy<C: AbiMemory + ?Sized>(
    cx: &mut C,
    src: &str,
    src_code_units: u32,
    dst_code_unit_size: u32,
    dst_alignment: u32,
    dst_encoding: SimpleEncoding,
) -> Result<(u64, u32)> {
    let dst_byte_length = u64::from(dst_code_unit_size) * u64::from(src_code_units);
    trap_if(dst_byte_length > u64::from(REALLOC_MAX), Trap::LengthTooLarge)?;
    let ptr = realloc_checked(cx, 0, 0, dst_alignment, dst_byte_length as u32)?;
    if dst_encoding == SimpleEncoding::Utf8 {
        // The host's own bytes: one copy, no intermediate buffer.
        write(cx, ptr, src.as_bytes())?;
    } else {
        let encoded = encode(src, dst_encoding)?;
        debug_assert_eq!(encoded.len() as u64, dst_byte_length);
        write(cx, ptr, &encoded)?;
    }
    Ok((ptr, src_code_units))
}

/// `store_utf16_to_utf8`.
fn store_utf16_to_utf8<C: AbiMemory + ?Sized>(cx: &mut C, src: &str, src_code_units: u32) -> Result<(u64, u32)> {
    let worst_case_size = u64::from(src_code_units) * 3;
    store_string_to_utf8(cx, src, src_code_units, worst_case_size)
}

/// `store_latin1_to_utf8`.
fn store_latin1_to_utf8<C: AbiMemory + ?Sized>(cx: &mut C, src: &str, src_code_units: u32) -> Result<(u64, u32)> {
    let worst_case_size = u64::from(src_code_units) * 2;
    store_string_to_utf8(cx, src, src_code_units, worst_case_size)
}

/// `store_string_to_utf8`: optimistically one byte per source code unit; on the first non-ASCII
/// character, grow to the worst case, encode the rest, and shrink to the used size.
fn store_string_to_utf8<C: AbiMemory + ?Sized>(
    cx: &mut C,
    src: &str,
    src_code_units: u32,
    worst_case_size: u64,
) -> Result<(u64, u32)> {
    let mut ptr = realloc_checked(cx, 0, 0, 1, src_code_units)?;
    // The specification writes each ASCII byte as it goes; writing the prefix in one go before
    // any further `realloc` is the same.
    let ascii_prefix = src.bytes().take_while(u8::is_ascii).count();
    write(cx, ptr, &src.as_bytes()[..ascii_prefix])?;
    if ascii_prefix < src.len() {
        trap_if(worst_case_size > u64::from(REALLOC_MAX), Trap::LengthTooLarge)?;
        let worst_case_size = worst_case_size as u32;
        ptr = realloc_checked(cx, ptr, src_code_units, 1, worst_case_size)?;
        write(cx, ptr + ascii_prefix as u64, &src.as_bytes()[ascii_prefix..])?;
        let encoded_len = src.len() as u32;
        if worst_case_size > encoded_len {
            ptr = realloc_checked(cx, ptr, worst_case_size, 1, encoded_len)?;
        }
        return Ok((ptr, encoded_len));
    }
    Ok((ptr, src_code_units))
}

/// `store_utf8_to_utf16`: allocate the worst case (two bytes per UTF-8 byte), then shrink.
fn store_utf8_to_utf16<C: AbiMemory + ?Sized>(cx: &mut C, src: &str, src_code_units: u32) -> Result<(u64, u32)> {
    let worst_case_size = 2 * u64::from(src_code_units);
    trap_if(worst_case_size > u64::from(REALLOC_MAX), Trap::LengthTooLarge)?;
    let worst_case_size = worst_case_size as u32;
    let mut ptr = realloc_checked(cx, 0, 0, 2, worst_case_size)?;
    let encoded = utf16_le(src);
    write(cx, ptr, &encoded)?;
    let encoded_len = encoded.len() as u32;
    if encoded_len < worst_case_size {
        ptr = realloc_checked(cx, ptr, worst_case_size, 2, encoded_len)?;
    }
    Ok((ptr, encoded_len / 2))
}

/// `store_string_to_latin1_or_utf16`: optimistically Latin-1 (one byte per source code unit);
/// on the first character beyond Latin-1, grow to the UTF-16 worst case, inflate the Latin-1
/// prefix in place and encode the rest; finally shrink to the used size.
fn store_string_to_latin1_or_utf16<C: AbiMemory + ?Sized>(
    cx: &mut C,
    src: &str,
    src_code_units: u32,
) -> Result<(u64, u32)> {
    let mut ptr = realloc_checked(cx, 0, 0, 2, src_code_units)?;
    // The specification writes each Latin-1 byte as it goes; writing the prefix in one go before
    // any further `realloc` is the same.
    let latin1_prefix: Vec<u8> = src.chars().map_while(|c| u8::try_from(c).ok()).collect();
    write(cx, ptr, &latin1_prefix)?;
    let dst_byte_length = latin1_prefix.len() as u32;
    if latin1_prefix.len() < src.chars().count() {
        let worst_case_size = 2 * u64::from(src_code_units);
        trap_if(worst_case_size > u64::from(REALLOC_MAX), Trap::LengthTooLarge)?;
        let worst_case_size = worst_case_size as u32;
        ptr = realloc_checked(cx, ptr, src_code_units, 2, worst_case_size)?;
        {
            let range =
                host_range(ptr, worst_case_size as usize, cx.memory()?.len()).expect("checked by realloc_checked");
            let memory = &mut cx.memory_mut()?[range];
            for j in (0..dst_byte_length as usize).rev() {
                memory[2 * j] = memory[j];
                memory[2 * j + 1] = 0;
            }
        }
        let encoded = utf16_le(src);
        let done = 2 * dst_byte_length;
        write(cx, ptr + u64::from(done), &encoded[done as usize..])?;
        let encoded_len = encoded.len() as u32;
        if worst_case_size > encoded_len {
            ptr = realloc_checked(cx, ptr, worst_case_size, 2, encoded_len)?;
        }
        return Ok((ptr, (encoded_len / 2) | UTF16_TAG));
    }
    if dst_byte_length < src_code_units {
        ptr = realloc_checked(cx, ptr, src_code_units, 2, dst_byte_length)?;
    }
    Ok((ptr, dst_byte_length))
}

/// `store_probably_utf16_to_latin1_or_utf16`: copy the UTF-16; if every character fits in
/// Latin-1, compress in place and shrink.
fn store_probably_utf16_to_latin1_or_utf16<C: AbiMemory + ?Sized>(
    cx: &mut C,
    src: &str,
    src_code_units: u32,
) -> Result<(u64, u32)> {
    let src_byte_length = 2 * u64::from(src_code_units);
    trap_if(src_byte_length > u64::from(REALLOC_MAX), Trap::LengthTooLarge)?;
    let src_byte_length = src_byte_length as u32;
    let ptr = realloc_checked(cx, 0, 0, 2, src_byte_length)?;
    let encoded = utf16_le(src);
    write(cx, ptr, &encoded)?;
    if src.chars().any(|c| u32::from(c) >= 1 << 8) {
        return Ok((ptr, (encoded.len() as u32 / 2) | UTF16_TAG));
    }
    let latin1_size = encoded.len() as u32 / 2;
    {
        let range = host_range(ptr, encoded.len(), cx.memory()?.len()).expect("checked by realloc_checked");
        let memory = &mut cx.memory_mut()?[range];
        for i in 0..latin1_size as usize {
            memory[i] = memory[2 * i];
        }
    }
    let ptr = realloc_checked(cx, ptr, src_byte_length, 1, latin1_size)?;
    Ok((ptr, latin1_size))
}

/// `store_list_into_range`: returns `(ptr, length)`.
fn store_list_into_range<C: AbiMemory + ?Sized>(cx: &mut C, elem: &ValueType, values: &[Val]) -> Result<(u64, u32)> {
    let p = cx.ptr_size();
    let elem_size = env::size_in(elem, p);
    let byte_length = values.len() as u64 * u64::from(elem_size);
    trap_if(byte_length > u64::from(MAX_LIST_BYTE_LENGTH), Trap::LengthTooLarge)?;
    let ptr = realloc_checked(cx, 0, 0, env::align_in(elem, p), byte_length as u32)?;
    if let ValueType::U8 = elem {
        let bytes = values.iter().map(|v| match v {
            Val::U8(b) => Ok(*b),
            _ => Err(type_mismatch(elem, v)),
        });
        write(cx, ptr, &bytes.collect::<Result<Vec<u8>>>()?)?;
    } else {
        for (i, v) in values.iter().enumerate() {
            store_at(cx, elem, v, ptr + i as u64 * u64::from(elem_size))?;
        }
    }
    Ok((ptr, values.len() as u32))
}

/// A map is stored as the list of its entries, `tuple<K, V>`: returns `(ptr, length)`.
fn store_map_into_range<C: AbiMemory + ?Sized>(
    cx: &mut C,
    key: &ValueType,
    value: &ValueType,
    entries: &[(Val, Val)],
) -> Result<(u64, u32)> {
    let entry = ValueType::Tuple(Box::new([key.clone(), value.clone()]));
    let p = cx.ptr_size();
    let (entry_size, offsets) = (env::size_in(&entry, p), env::field_offsets_in(&entry, p));
    let byte_length = entries.len() as u64 * u64::from(entry_size);
    trap_if(byte_length > u64::from(MAX_LIST_BYTE_LENGTH), Trap::LengthTooLarge)?;
    let ptr = realloc_checked(cx, 0, 0, env::align_in(&entry, p), byte_length as u32)?;
    for (i, (k, v)) in entries.iter().enumerate() {
        let at = ptr + i as u64 * u64::from(entry_size);
        store_at(cx, key, k, at + u64::from(offsets[0]))?;
        store_at(cx, value, v, at + u64::from(offsets[1]))?;
    }
    Ok((ptr, entries.len() as u32))
}

/// A fixed-length list value must have exactly the type's length.
fn check_fixed_length(ty: &ValueType, n: u32, values: &[Val]) -> Result<()> {
    if values.len() != n as usize {
        bail!("type mismatch: expected {ty}, found a list of {} elements", values.len());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Flat lowering

/// `lower_flat`: appends the core values of `v` (of type `ty`) to `out`, allocating strings and
/// lists with `realloc`.
pub(crate) fn lower_flat<C: AbiMemory + ?Sized>(
    cx: &mut C,
    ty: &ValueType,
    v: &Val,
    out: &mut Vec<Flat>,
) -> Result<()> {
    match (ty, v) {
        (ValueType::Bool, Val::Bool(b)) => out.push(Flat::I32(i32::from(*b))),
        (ValueType::U8, Val::U8(x)) => out.push(Flat::I32(i32::from(*x))),
        (ValueType::U16, Val::U16(x)) => out.push(Flat::I32(i32::from(*x))),
        (ValueType::U32, Val::U32(x)) => out.push(Flat::I32(*x as i32)),
        (ValueType::U64, Val::U64(x)) => out.push(Flat::I64(*x as i64)),
        (ValueType::S8, Val::S8(x)) => out.push(Flat::I32(i32::from(*x))),
        (ValueType::S16, Val::S16(x)) => out.push(Flat::I32(i32::from(*x))),
        (ValueType::S32, Val::S32(x)) => out.push(Flat::I32(*x)),
        (ValueType::S64, Val::S64(x)) => out.push(Flat::I64(*x)),
        (ValueType::F32, Val::Float32(f)) => out.push(Flat::F32(f32_canonical_bits(*f))),
        (ValueType::F64, Val::Float64(f)) => out.push(Flat::F64(f64_canonical_bits(*f))),
        (ValueType::Char, Val::Char(c)) => out.push(Flat::I32(u32::from(*c) as i32)),
        (ValueType::String, Val::String(s)) => {
            let (ptr, packed_length) = store_string_into_range(cx, StringSource::host(s))?;
            let p = cx.ptr_size();
            out.extend([ptr_flat(p, ptr), ptr_flat(p, widen_tagged_length(cx, packed_length))]);
        }
        (ValueType::List(elem), Val::List(values)) => {
            let (ptr, length) = store_list_into_range(cx, elem, values)?;
            let p = cx.ptr_size();
            out.extend([ptr_flat(p, ptr), ptr_flat(p, u64::from(length))]);
        }
        (ValueType::Map(key, value), Val::Map(entries)) => {
            let (ptr, length) = store_map_into_range(cx, key, value, entries)?;
            let p = cx.ptr_size();
            out.extend([ptr_flat(p, ptr), ptr_flat(p, u64::from(length))]);
        }
        (ValueType::FixedList(elem, n), Val::List(values)) => {
            check_fixed_length(ty, *n, values)?;
            for value in values {
                lower_flat(cx, elem, value, out)?;
            }
        }
        (ValueType::Record(_) | ValueType::Tuple(_), _) => {
            let values = record_values(ty, v)?;
            for (t, value) in ty.as_record_fields().unwrap().into_iter().zip(values) {
                lower_flat(cx, t, value, out)?;
            }
        }
        (ValueType::Variant(_) | ValueType::Enum(_) | ValueType::Option(_) | ValueType::Result { .. }, _) => {
            lower_flat_variant(cx, ty, v, out)?;
        }
        (ValueType::Flags(names), _) => {
            out.extend(pack_flags(names, v)?.into_iter().map(|w| Flat::I32(w as i32)));
        }
        (ValueType::Own(_) | ValueType::Borrow(_), Val::Resource(_)) => {
            out.push(Flat::I32(cx.lower_handle(ty, v)? as i32));
        }
        _ => return Err(type_mismatch(ty, v)),
    }
    Ok(())
}

/// `lower_flat_variant`: the discriminant, then the case's payload coerced to the joined flat
/// types, then zeros for the unused joined slots.
fn lower_flat_variant<C: AbiMemory + ?Sized>(cx: &mut C, ty: &ValueType, v: &Val, out: &mut Vec<Flat>) -> Result<()> {
    let (case_index, case_value) = match_case(ty, v)?;
    let flat_types = env::variant_payload_flat_in(ty, cx.ptr_size());
    out.push(Flat::I32(case_index as i32));
    let start = out.len();
    if let (Some(case_ty), Some(case_value)) = (ty.as_variant_cases().unwrap()[case_index as usize], case_value) {
        lower_flat(cx, case_ty, case_value, out)?;
    }
    for (slot, &want) in out[start..].iter_mut().zip(&flat_types) {
        *slot = match (*slot, want) {
            (Flat::F32(bits), FlatType::I32) => Flat::I32(bits as i32),
            (Flat::I32(x), FlatType::I64) => Flat::I64(i64::from(x as u32)),
            (Flat::F32(bits), FlatType::I64) => Flat::I64(i64::from(bits)),
            (Flat::F64(bits), FlatType::I64) => Flat::I64(bits as i64),
            (have, want) => {
                assert_eq!(have.ty(), want, "variant payload flattening disagrees with the joined types");
                have
            }
        };
    }
    let used = out.len() - start;
    out.extend(flat_types[used..].iter().map(|&t| Flat::zero(t)));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Flat lifting

fn next_flat(vi: &mut dyn Iterator<Item = Flat>, want: FlatType) -> Result<Flat> {
    match vi.next() {
        Some(v) if v.ty() == want => Ok(v),
        Some(v) => bail!("core value type mismatch: expected {want:?}, found {v:?}"),
        None => bail!("too few core values: expected another {want:?}"),
    }
}

fn next_i32(vi: &mut dyn Iterator<Item = Flat>) -> Result<i32> {
    match next_flat(vi, FlatType::I32)? {
        Flat::I32(x) => Ok(x),
        _ => unreachable!(),
    }
}

/// `lift_flat`: reads the core values of a value of type `ty` from `vi`, loading strings and
/// lists from memory.
pub(crate) fn lift_flat<C: AbiMemory + ?Sized>(
    cx: &C,
    ty: &ValueType,
    vi: &mut impl Iterator<Item = Flat>,
) -> Result<Val> {
    lift_flat_dyn(cx, ty, vi)
}

fn lift_flat_dyn<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, vi: &mut dyn Iterator<Item = Flat>) -> Result<Val> {
    Ok(match ty {
        ValueType::Bool => Val::Bool(next_i32(vi)? != 0),
        ValueType::U8 => Val::U8(next_i32(vi)? as u8),
        ValueType::U16 => Val::U16(next_i32(vi)? as u16),
        ValueType::U32 => Val::U32(next_i32(vi)? as u32),
        ValueType::S8 => Val::S8(next_i32(vi)? as i8),
        ValueType::S16 => Val::S16(next_i32(vi)? as i16),
        ValueType::S32 => Val::S32(next_i32(vi)?),
        ValueType::U64 | ValueType::S64 => {
            let Flat::I64(x) = next_flat(vi, FlatType::I64)? else { unreachable!() };
            if let ValueType::U64 = ty { Val::U64(x as u64) } else { Val::S64(x) }
        }
        ValueType::F32 => {
            let Flat::F32(bits) = next_flat(vi, FlatType::F32)? else { unreachable!() };
            Val::Float32(decode_f32(bits))
        }
        ValueType::F64 => {
            let Flat::F64(bits) = next_flat(vi, FlatType::F64)? else { unreachable!() };
            Val::Float64(decode_f64(bits))
        }
        ValueType::Char => Val::Char(convert_i32_to_char(next_i32(vi)? as u32)?),
        ValueType::String => {
            let ptr = next_ptr(vi, cx.ptr_size())?;
            let packed_length = next_ptr(vi, cx.ptr_size())?;
            Val::String(load_string_from_range(cx, ptr, packed_length)?)
        }
        ValueType::List(elem) => {
            let ptr = next_ptr(vi, cx.ptr_size())?;
            let length = next_ptr(vi, cx.ptr_size())?;
            Val::List(load_list_from_range(cx, ptr, length, elem)?)
        }
        ValueType::Map(..) => {
            let ptr = next_ptr(vi, cx.ptr_size())?;
            let length = next_ptr(vi, cx.ptr_size())?;
            load_map_from_range(cx, ptr, length, ty)?
        }
        ValueType::FixedList(elem, n) => {
            Val::List((0..*n).map(|_| lift_flat_dyn(cx, elem, vi)).collect::<Result<_>>()?)
        }
        ValueType::Record(fields) => {
            let mut record = Vec::with_capacity(fields.len());
            for field in fields.iter() {
                record.push((field.name.clone(), lift_flat_dyn(cx, &field.ty, vi)?));
            }
            Val::Record(record)
        }
        ValueType::Tuple(types) => Val::Tuple(types.iter().map(|t| lift_flat_dyn(cx, t, vi)).collect::<Result<_>>()?),
        ValueType::Variant(_) | ValueType::Enum(_) | ValueType::Option(_) | ValueType::Result { .. } => {
            lift_flat_variant(cx, ty, vi)?
        }
        ValueType::Flags(names) => {
            let words = (0..env::flags_words(names.len())).map(|_| Ok(next_i32(vi)? as u32));
            unpack_flags(names, &words.collect::<Result<Vec<u32>>>()?)
        }
        ValueType::Own(_) | ValueType::Borrow(_) => cx.lift_handle(ty, next_i32(vi)? as u32)?,
    })
}

/// Traps with "invalid variant discriminant" if `case_index` names no case; the message also
/// says which (the reference runtime's wording, "discriminant 2 out of range [0..2)").
fn check_discriminant(case_index: u32, cases: usize) -> Result<()> {
    if case_index as usize >= cases {
        return Err(anyhow::Error::new(Trap::InvalidDiscriminant)
            .context(format!("discriminant {case_index} out of range [0..{cases})")));
    }
    Ok(())
}

/// `lift_flat_variant`: the discriminant (trapping if out of range), then the payload read
/// through `CoerceValueIter` (the joined flat types converted back to the case's own), then the
/// unused joined slots skipped.
fn lift_flat_variant<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, vi: &mut dyn Iterator<Item = Flat>) -> Result<Val> {
    let cases = ty.as_variant_cases().unwrap();
    let case_index = next_i32(vi)? as u32;
    check_discriminant(case_index, cases.len())?;
    // Reading all joined slots up front is equivalent to the specification's lazy iterator
    // followed by skipping the rest: reading core values has no effects.
    let joined = env::variant_payload_flat_in(ty, cx.ptr_size());
    let have: Vec<Flat> = joined.iter().map(|&t| next_flat(vi, t)).collect::<Result<_>>()?;
    let payload = match cases[case_index as usize] {
        None => None,
        Some(case_ty) => {
            let wants = env::flat_types_in(case_ty, cx.ptr_size());
            let coerced = have.iter().zip(wants).map(|(&have, want)| match (have, want) {
                (Flat::I32(x), FlatType::F32) => Flat::F32(x as u32),
                (Flat::I64(x), FlatType::I32) => Flat::I32(x as i32),
                (Flat::I64(x), FlatType::F32) => Flat::F32(x as u32),
                (Flat::I64(x), FlatType::F64) => Flat::F64(x as u64),
                (have, want) => {
                    assert_eq!(have.ty(), want, "variant payload flattening disagrees with the joined types");
                    have
                }
            });
            Some(lift_flat_dyn(cx, case_ty, &mut coerced.collect::<Vec<_>>().into_iter())?)
        }
    };
    Ok(make_case(ty, case_index, payload))
}

// ---------------------------------------------------------------------------------------------
// Lifting and lowering values (function parameters and results)

fn flat_count(types: &[&ValueType]) -> usize {
    // Counted, not built: a fixed-length list may flatten to millions of values.
    let count = types.iter().fold(0u64, |n, t| n.saturating_add(env::flat_count(t)));
    usize::try_from(count).unwrap_or(usize::MAX)
}

fn tuple_of(types: &[&ValueType]) -> ValueType {
    ValueType::Tuple(types.iter().map(|&t| t.clone()).collect())
}

/// `lift_values`: directly from the core values if they fit in `max_flat`, else from a tuple in
/// memory whose pointer is the next core value.
fn lift_values<C: AbiMemory + ?Sized>(
    cx: &C,
    max_flat: usize,
    vi: &mut dyn Iterator<Item = Flat>,
    types: &[&ValueType],
) -> Result<Vec<Val>> {
    if flat_count(types) > max_flat {
        let p = cx.ptr_size();
        let ptr = next_ptr(vi, p)?;
        let tuple_type = tuple_of(types);
        check_range(cx.memory()?.len(), ptr, env::align_in(&tuple_type, p), u64::from(env::size_in(&tuple_type, p)))?;
        match load_at(cx, &tuple_type, ptr)? {
            Val::Tuple(values) => Ok(values),
            _ => unreachable!(),
        }
    } else {
        types.iter().map(|t| lift_flat_dyn(cx, t, vi)).collect()
    }
}

/// `lower_values`: directly as core values if they fit in `max_flat`, else stored as a tuple in
/// memory: allocated with `realloc(0, 0, align, size)` (returned as the one core value) or, given
/// `out_param`, written there (and no core values are returned).
fn lower_values<C: AbiMemory + ?Sized>(
    cx: &mut C,
    max_flat: usize,
    values: &[&Val],
    types: &[&ValueType],
    out_param: Option<u64>,
) -> Result<Vec<Flat>> {
    if flat_count(types) > max_flat {
        let p = cx.ptr_size();
        let tuple_type = tuple_of(types);
        let (align, size) = (env::align_in(&tuple_type, p), env::size_in(&tuple_type, p));
        let ptr = match out_param {
            None => realloc_checked(cx, 0, 0, align, size)?,
            Some(ptr) => {
                check_range(cx.memory()?.len(), ptr, align, u64::from(size))?;
                ptr
            }
        };
        for ((t, v), offset) in types.iter().zip(values).zip(env::field_offsets_in(&tuple_type, p)) {
            store_at(cx, t, v, ptr + u64::from(offset))?;
        }
        Ok(if out_param.is_none() { vec![ptr_flat(p, ptr)] } else { Vec::new() })
    } else {
        let mut flat = Vec::new();
        for (t, v) in types.iter().zip(values) {
            lower_flat(cx, t, v, &mut flat)?;
        }
        Ok(flat)
    }
}

fn typecheck_params(ty: &FuncType, args: &[Val]) -> Result<()> {
    if args.len() != ty.params.len() {
        bail!("expected {} arguments, got {}", ty.params.len(), args.len());
    }
    for ((name, t), v) in ty.params.iter().zip(args) {
        v.typecheck(t).map_err(|e| e.context(format!("argument `{name}`")))?;
    }
    Ok(())
}

fn typecheck_result(ty: &FuncType, result: Option<&Val>) -> Result<()> {
    match (&ty.result, result) {
        (None, None) => Ok(()),
        (Some(t), Some(v)) => v.typecheck(t).map_err(|e| e.context("function result")),
        (Some(t), None) => bail!("expected a result of type {t}, got none"),
        (None, Some(_)) => bail!("expected no result, got one"),
    }
}

/// Lowers host arguments into a lifted function's memory (`canon lift`'s `lower_values` with
/// `MAX_FLAT_PARAMS`): the core arguments to call it with.
pub(crate) fn lower_params<C: AbiMemory + ?Sized>(cx: &mut C, ty: &FuncType, args: &[Val]) -> Result<Vec<Flat>> {
    typecheck_params(ty, args)?;
    let types: Vec<&ValueType> = ty.params.iter().map(|(_, t)| t).collect();
    let values: Vec<&Val> = args.iter().collect();
    lower_values(cx, MAX_FLAT_PARAMS, &values, &types, None)
}

/// Lifts a lifted function's core results (`canon lift`'s `lift_values` with
/// `MAX_FLAT_RESULTS`); if they do not fit, the one core result points to them in memory.
pub(crate) fn lift_results<C: AbiMemory + ?Sized>(cx: &C, ty: &FuncType, flat: &[Flat]) -> Result<Option<Val>> {
    let types: Vec<&ValueType> = ty.result.iter().collect();
    let mut vi = flat.iter().copied();
    let mut values = lift_values(cx, MAX_FLAT_RESULTS, &mut vi, &types)?;
    if vi.next().is_some() {
        bail!("too many core results for {ty}");
    }
    Ok(values.pop())
}

/// The out-pointer of a lowered import's core arguments (their last one), if its results are
/// passed indirectly.
pub(crate) fn results_out_ptr(ty: &FuncType, p: PtrSize, flat: &[Flat]) -> Result<Option<u64>> {
    let sig = env::flatten_func_in(ty, Context::Lower, p);
    if !sig.results_indirect {
        return Ok(None);
    }
    match flat.last() {
        Some(Flat::I32(ptr)) if flat.len() == sig.params.len() && p == PtrSize::P32 => Ok(Some(u64::from(*ptr as u32))),
        Some(Flat::I64(ptr)) if flat.len() == sig.params.len() && p == PtrSize::P64 => Ok(Some(*ptr as u64)),
        _ => bail!("expected {} core arguments ending in an out-pointer for {ty}", sig.params.len()),
    }
}

/// Lifts a lowered import's core arguments from the caller (`canon lower`'s `lift_values` with
/// `MAX_FLAT_PARAMS`); if they do not fit, the first core argument points to them in memory.
/// `flat` may end with the results' out-pointer, which is left for [`lower_results`] (see
/// [`results_out_ptr`]).
pub(crate) fn lift_params<C: AbiMemory + ?Sized>(cx: &C, ty: &FuncType, flat: &[Flat]) -> Result<Vec<Val>> {
    let types: Vec<&ValueType> = ty.params.iter().map(|(_, t)| t).collect();
    let mut vi = flat.iter().copied();
    let values = lift_values(cx, MAX_FLAT_PARAMS, &mut vi, &types)?;
    let rest = vi.count();
    let sig = env::flatten_func_in(ty, Context::Lower, cx.ptr_size());
    if rest != 0 && !(rest == 1 && sig.results_indirect) {
        bail!("too many core arguments for {ty}");
    }
    Ok(values)
}

/// Lowers a host import's result back to the caller (`canon lower`'s `lower_values` with
/// `MAX_FLAT_RESULTS`): the core results, or, if they do not fit, nothing, the value having been
/// stored through `out_ptr` (the caller's last core argument).
pub(crate) fn lower_results<C: AbiMemory + ?Sized>(
    cx: &mut C,
    ty: &FuncType,
    result: Option<&Val>,
    out_ptr: Option<u64>,
) -> Result<Vec<Flat>> {
    typecheck_result(ty, result)?;
    let types: Vec<&ValueType> = ty.result.iter().collect();
    let values: Vec<&Val> = result.into_iter().collect();
    let indirect = flat_count(&types) > MAX_FLAT_RESULTS;
    if indirect && out_ptr.is_none() {
        bail!("the result of {ty} is returned through memory, but no out-pointer was given");
    }
    lower_values(cx, MAX_FLAT_RESULTS, &values, &types, if indirect { out_ptr } else { None })
}

/// Lifts an `async` lowered import's core arguments from the caller: the parameters (directly
/// if they fit in `MAX_FLAT_ASYNC_PARAMS`, else through the first argument's pointer), then the
/// result's out-pointer if the function has a result.
pub(crate) fn lift_async_params<C: AbiMemory + ?Sized>(
    cx: &C,
    ty: &FuncType,
    flat: &[Flat],
) -> Result<(Vec<Val>, Option<u64>)> {
    let types: Vec<&ValueType> = ty.params.iter().map(|(_, t)| t).collect();
    let mut vi = flat.iter().copied();
    let values = lift_values(cx, env::MAX_FLAT_ASYNC_PARAMS, &mut vi, &types)?;
    let out_ptr = if ty.result.is_some() { Some(next_ptr(&mut vi, cx.ptr_size())?) } else { None };
    if vi.next().is_some() {
        bail!("too many core arguments for an async lower of {ty}");
    }
    Ok((values, out_ptr))
}

/// Stores an `async` lowered import's result through the caller's out-pointer (always in
/// memory, whatever its size).
pub(crate) fn store_async_result<C: AbiMemory + ?Sized>(
    cx: &mut C,
    ty: &FuncType,
    result: Option<&Val>,
    out_ptr: Option<u64>,
) -> Result<()> {
    typecheck_result(ty, result)?;
    let types: Vec<&ValueType> = ty.result.iter().collect();
    let values: Vec<&Val> = result.into_iter().collect();
    if let Some(ptr) = out_ptr {
        lower_values(cx, 0, &values, &types, Some(ptr))?;
    }
    Ok(())
}

/// Lifts the arguments of `task.return` (the task's result, directly if it fits in
/// `MAX_FLAT_PARAMS`, else through one pointer into the callee's memory).
pub(crate) fn lift_task_return<C: AbiMemory + ?Sized>(
    cx: &C,
    result: Option<&ValueType>,
    flat: &[Flat],
) -> Result<Option<Val>> {
    let types: Vec<&ValueType> = result.into_iter().collect();
    let mut vi = flat.iter().copied();
    let mut values = lift_values(cx, MAX_FLAT_PARAMS, &mut vi, &types)?;
    Ok(values.pop())
}
