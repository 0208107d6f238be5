//! Helpers for the code that `#[derive(ComponentType, Lift, Lower)]` and `flags!` generate (and
//! the built-in impls): not a stable API.
//!
//! They take the component's type of the value being moved and fail with an error (never a
//! panic) if it has the wrong shape; after the type check that cannot happen, but a wrong
//! hand-written impl must not crash the host.

pub use super::super::abi::AbiMemory;
pub use super::super::values::Val;
pub use super::{AbiLayout, ComponentType, Lift, Lower, discriminant_size};
pub use anyhow::{Result, anyhow, bail};
pub use kiln_environ::component::{Case, Field, ValueType};
pub use kiln_runtime::ValRaw;

use crate::Trap;

/// The fields of a record type with `n` fields.
pub fn record_fields(ty: &ValueType, n: usize) -> Result<&[Field]> {
    match ty {
        ValueType::Record(fields) if fields.len() == n => Ok(fields),
        other => bail!("type mismatch: expected a record of {n} fields, found {other}"),
    }
}

/// The element types of a tuple type with `n` elements.
pub fn tuple_types(ty: &ValueType, n: usize) -> Result<&[ValueType]> {
    match ty {
        ValueType::Tuple(types) if types.len() == n => Ok(types),
        other => bail!("type mismatch: expected a tuple of {n} types, found {other}"),
    }
}

/// The cases of a variant type with `n` cases.
pub fn variant_cases(ty: &ValueType, n: usize) -> Result<&[Case]> {
    match ty {
        ValueType::Variant(cases) if cases.len() == n => Ok(cases),
        other => bail!("type mismatch: expected a variant of {n} cases, found {other}"),
    }
}

/// The payload type of a case that has one.
pub fn case_payload(case: &Case) -> Result<&ValueType> {
    case.ty.as_ref().ok_or_else(|| anyhow!("type mismatch: case `{}` has no payload", case.name))
}

/// The offset of the next field with layout `field` after `*end`, moving `*end` past it.
pub fn next_field(end: &mut u32, field: AbiLayout) -> usize {
    let offset = end.div_ceil(field.align) * field.align;
    *end = offset + field.size;
    offset as usize
}

/// The `n` flat values from `*at` on, moving `*at` past them.
pub fn next_flat<'a>(src: &'a [ValRaw], at: &mut usize, n: u32) -> &'a [ValRaw] {
    let start = *at;
    *at += n as usize;
    &src[start..*at]
}

/// The `n` flat slots from `*at` on, moving `*at` past them.
pub fn next_flat_mut<'a>(dst: &'a mut [ValRaw], at: &mut usize, n: u32) -> &'a mut [ValRaw] {
    let start = *at;
    *at += n as usize;
    &mut dst[start..*at]
}

/// The `len` bytes of the linear memory at `offset`.
#[inline]
pub fn memory_range<C: AbiMemory + ?Sized>(cx: &mut C, offset: usize, len: usize) -> Result<&mut [u8]> {
    cx.memory_mut()?.get_mut(offset..offset + len).ok_or_else(|| anyhow::Error::new(Trap::PointerOutOfBounds))
}

/// Stores a plain-data value at `offset` with one bounds check.
#[inline]
pub fn store_pod_at<T: Lower + ?Sized, C: AbiMemory + ?Sized>(
    value: &T,
    cx: &mut C,
    ty: &ValueType,
    offset: usize,
) -> Result<()> {
    let dst = memory_range(cx, offset, T::LAYOUT.size as usize)?;
    value.store_pod(ty, dst)
}

/// Writes `bytes` at `offset` of the linear memory.
#[inline]
pub fn store_bytes<C: AbiMemory + ?Sized>(cx: &mut C, offset: usize, bytes: &[u8]) -> Result<()> {
    match cx.memory_mut()?.get_mut(offset..offset + bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(())
        }
        None => Err(anyhow::Error::new(Trap::PointerOutOfBounds)),
    }
}

/// Writes a discriminant of a type with `cases` cases at the start of `dst`.
pub fn write_discriminant(dst: &mut [u8], cases: usize, discriminant: u32) {
    match discriminant_size(cases) {
        1 => dst[0] = discriminant as u8,
        2 => dst[..2].copy_from_slice(&(discriminant as u16).to_le_bytes()),
        _ => dst[..4].copy_from_slice(&discriminant.to_le_bytes()),
    }
}

/// Writes flags given as 32-bit words for a type of `count` flags into `dst`.
pub fn write_flags(dst: &mut [u8], count: usize, words: &[u32]) {
    match AbiLayout::flags(count).size {
        0 => {}
        1 => dst[0] = words[0] as u8,
        2 => dst[..2].copy_from_slice(&(words[0] as u16).to_le_bytes()),
        _ => {
            for (chunk, w) in dst.chunks_exact_mut(4).zip(words) {
                chunk.copy_from_slice(&w.to_le_bytes());
            }
        }
    }
}

/// Lowers a variant's discriminant and zeroes the payload slots past `used` (the joined flat
/// types of the other cases).
pub fn lower_discriminant(dst: &mut [ValRaw], discriminant: u32, used: u32) {
    dst[0] = ValRaw::i32(discriminant as i32);
    for slot in &mut dst[1 + used as usize..] {
        *slot = ValRaw::default();
    }
}

/// Stores a discriminant of a type with `cases` cases at `offset`.
pub fn store_discriminant<C: AbiMemory + ?Sized>(
    cx: &mut C,
    cases: usize,
    offset: usize,
    discriminant: u32,
) -> Result<()> {
    match discriminant_size(cases) {
        1 => store_bytes(cx, offset, &[discriminant as u8]),
        2 => store_bytes(cx, offset, &(discriminant as u16).to_le_bytes()),
        _ => store_bytes(cx, offset, &discriminant.to_le_bytes()),
    }
}

/// The flat discriminant of a type with `cases` cases; traps if out of range.
pub fn lift_discriminant(src: &[ValRaw], cases: usize) -> Result<u32> {
    let d = src[0].get_i32() as u32;
    check_discriminant(d, cases)
}

/// The discriminant at the start of `bytes` of a type with `cases` cases; traps if out of range.
pub fn load_discriminant(bytes: &[u8], cases: usize) -> Result<u32> {
    let d = match discriminant_size(cases) {
        1 => u32::from(bytes[0]),
        2 => u32::from(u16::from_le_bytes([bytes[0], bytes[1]])),
        _ => u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
    };
    check_discriminant(d, cases)
}

fn check_discriminant(d: u32, cases: usize) -> Result<u32> {
    if d as usize >= cases {
        return Err(anyhow::Error::new(Trap::InvalidDiscriminant));
    }
    Ok(d)
}

/// The error for a dynamic value that does not fit the Rust type.
pub fn val_mismatch<T>(expected: &str, found: &Val) -> Result<T> {
    bail!("type mismatch: expected {expected}, found {}", found.desc())
}

/// The payload of a dynamic variant value, or an error naming the case.
pub fn val_payload(payload: Option<Box<Val>>, case: &str) -> Result<Val> {
    payload.map(|v| *v).ok_or_else(|| anyhow!("variant case `{case}` needs a payload"))
}

/// The names of a flags type.
pub fn flags_names(ty: &ValueType) -> Result<&[String]> {
    match ty {
        ValueType::Flags(names) => Ok(names),
        other => bail!("type mismatch: expected flags, found {other}"),
    }
}

/// Lowers flags given as 32-bit words.
pub fn lower_flags(words: &[u32], dst: &mut [ValRaw]) {
    for (slot, w) in dst.iter_mut().zip(words) {
        *slot = ValRaw::i32(*w as i32);
    }
}

/// Stores flags given as 32-bit words for a type of `count` flags.
pub fn store_flags<C: AbiMemory + ?Sized>(cx: &mut C, count: usize, words: &[u32], offset: usize) -> Result<()> {
    match AbiLayout::flags(count).size {
        0 => Ok(()),
        1 => store_bytes(cx, offset, &[words[0] as u8]),
        2 => store_bytes(cx, offset, &(words[0] as u16).to_le_bytes()),
        _ => {
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            store_bytes(cx, offset, &bytes)
        }
    }
}

/// Lifts flags of a type with `count` flags into words; bits past `count` are ignored, as
/// the Canonical ABI says.
pub fn lift_flags(src: &[ValRaw], count: usize, words: &mut [u32]) {
    for (w, v) in words.iter_mut().zip(src) {
        *w = v.get_i32() as u32;
    }
    mask_flags(count, words);
}

/// Loads flags of a type with `count` flags into words.
pub fn load_flags(bytes: &[u8], count: usize, words: &mut [u32]) {
    match AbiLayout::flags(count).size {
        0 => {}
        1 => words[0] = u32::from(bytes[0]),
        2 => words[0] = u32::from(u16::from_le_bytes([bytes[0], bytes[1]])),
        _ => {
            for (w, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
                *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
    }
    mask_flags(count, words);
}

fn mask_flags(count: usize, words: &mut [u32]) {
    for (i, w) in words.iter_mut().enumerate() {
        let bits = count.saturating_sub(i * 32).min(32);
        if bits < 32 {
            *w &= (1u32 << bits) - 1;
        }
    }
}

/// Flags as the names of the set flags.
pub fn flags_to_val(names: &[&str], words: &[u32]) -> Val {
    Val::Flags(
        names
            .iter()
            .enumerate()
            .filter(|(i, _)| words[i / 32] & (1 << (i % 32)) != 0)
            .map(|(_, n)| n.to_string())
            .collect(),
    )
}

/// Flags from a dynamic value.
pub fn flags_from_val(names: &[&str], value: &Val, words: &mut [u32]) -> Result<()> {
    let Val::Flags(set) = value else { return val_mismatch("flags", value) };
    for name in set {
        let i = names.iter().position(|n| n == name).ok_or_else(|| anyhow!("unknown flag `{name}`"))?;
        words[i / 32] |= 1 << (i % 32);
    }
    Ok(())
}

/// Writes names of the set flags, `A | B`, for `Debug`.
pub fn fmt_flags(f: &mut std::fmt::Formatter<'_>, type_name: &str, names: &[&str], words: &[u32]) -> std::fmt::Result {
    write!(f, "{type_name}(")?;
    let mut first = true;
    for (i, name) in names.iter().enumerate() {
        if words[i / 32] & (1 << (i % 32)) != 0 {
            if !first {
                f.write_str(" | ")?;
            }
            f.write_str(name)?;
            first = false;
        }
    }
    f.write_str(")")
}

/// Stands for "no payload" where a Rust `()` is lifted or lowered: `()` never looks at its type.
static NO_PAYLOAD: ValueType = ValueType::Bool;

/// The type of a payload, or the stand-in for none (a `()` in Rust).
pub fn case_payload_or_unit(ty: Option<&ValueType>) -> &ValueType {
    ty.unwrap_or(&NO_PAYLOAD)
}
