//! Dynamic values ([`Val`]) straight to and from core values on the host call path: scalars and
//! strings convert in place, with no intermediate vectors; other types go through the reference
//! Canonical ABI in `abi` (whose results they share).

use super::abi::{self, AbiMemory, StringSource};
use super::func::{flat_to_raw, raw_to_flat};
use super::values::Val;
use anyhow::Result;
use kiln_environ::component::{self as env, ValueType as V};
use kiln_runtime::ValRaw;

/// Lowers `v` (already checked against `ty`) into `dst` (exactly `ty`'s flat count).
pub(crate) fn lower_val<C: AbiMemory + ?Sized>(cx: &mut C, ty: &V, v: &Val, dst: &mut [ValRaw]) -> Result<()> {
    dst[0] = match (ty, v) {
        (V::Bool, Val::Bool(b)) => ValRaw::i32(i32::from(*b)),
        (V::U8, Val::U8(x)) => ValRaw::i32(i32::from(*x)),
        (V::U16, Val::U16(x)) => ValRaw::i32(i32::from(*x)),
        (V::U32, Val::U32(x)) => ValRaw::i32(*x as i32),
        (V::S8, Val::S8(x)) => ValRaw::i32(i32::from(*x)),
        (V::S16, Val::S16(x)) => ValRaw::i32(i32::from(*x)),
        (V::S32, Val::S32(x)) => ValRaw::i32(*x),
        (V::U64, Val::U64(x)) => ValRaw::i64(*x as i64),
        (V::S64, Val::S64(x)) => ValRaw::i64(*x),
        (V::F32, Val::Float32(f)) => ValRaw::f32(abi::f32_canonical_bits(*f)),
        (V::F64, Val::Float64(f)) => ValRaw::f64(abi::f64_canonical_bits(*f)),
        (V::Char, Val::Char(c)) => ValRaw::i32(u32::from(*c) as i32),
        (V::String, Val::String(s)) => {
            let (ptr, len) = abi::lower_string_wide(cx, StringSource::host(s))?;
            if cx.ptr_size().is_64() {
                dst[1] = ValRaw::i64(len as i64);
                ValRaw::i64(ptr as i64)
            } else {
                dst[1] = ValRaw::i32(len as i32);
                ValRaw::i32(ptr as u32 as i32)
            }
        }
        _ => {
            let mut flat = Vec::with_capacity(dst.len());
            abi::lower_flat(cx, ty, v, &mut flat)?;
            for (slot, value) in dst.iter_mut().zip(flat) {
                *slot = flat_to_raw(value);
            }
            return Ok(());
        }
    };
    Ok(())
}

/// Lifts a value of type `ty` from `src` (exactly its flat count), trapping like the
/// Canonical ABI on invalid values.
pub(crate) fn lift_val<C: AbiMemory + ?Sized>(cx: &C, ty: &V, src: &[ValRaw]) -> Result<Val> {
    Ok(match ty {
        V::Bool => Val::Bool(src[0].get_i32() != 0),
        V::U8 => Val::U8(src[0].get_i32() as u8),
        V::U16 => Val::U16(src[0].get_i32() as u16),
        V::U32 => Val::U32(src[0].get_i32() as u32),
        V::S8 => Val::S8(src[0].get_i32() as i8),
        V::S16 => Val::S16(src[0].get_i32() as i16),
        V::S32 => Val::S32(src[0].get_i32()),
        V::U64 => Val::U64(src[0].get_i64() as u64),
        V::S64 => Val::S64(src[0].get_i64()),
        V::F32 => Val::Float32(abi::decode_f32(src[0].get_f32())),
        V::F64 => Val::Float64(abi::decode_f64(src[0].get_f64())),
        V::Char => Val::Char(abi::convert_i32_to_char(src[0].get_i32() as u32)?),
        V::String => {
            let (ptr, len) = if cx.ptr_size().is_64() {
                (src[0].get_i64() as u64, src[1].get_i64() as u64)
            } else {
                (u64::from(src[0].get_i32() as u32), u64::from(src[1].get_i32() as u32))
            };
            Val::String(abi::lift_string(cx, ptr, len)?)
        }
        _ => {
            let types = env::flat_types_in(ty, cx.ptr_size());
            let mut flat = types.iter().zip(src).map(|(t, v)| raw_to_flat(*t, *v));
            let value = abi::lift_flat(cx, ty, &mut flat)?;
            debug_assert!(flat.next().is_none());
            value
        }
    })
}

/// Lowers the arguments of a call straight into the core parameters when they fit in
/// `MAX_FLAT_PARAMS` flat values (`Ok(false)`: they do not, nothing was done).
pub(crate) fn lower_params<C: AbiMemory + ?Sized>(
    cx: &mut C,
    params: &[(String, V)],
    args: &[Val],
    dst: &mut [ValRaw],
) -> Result<bool> {
    let total: u64 = params.iter().map(|(_, t)| env::flat_count(t)).sum();
    if total > env::MAX_FLAT_PARAMS as u64 {
        return Ok(false);
    }
    let mut at = 0;
    for ((_, t), v) in params.iter().zip(args) {
        let n = env::flat_count(t) as usize;
        lower_val(cx, t, v, &mut dst[at..at + n])?;
        at += n;
    }
    Ok(true)
}
