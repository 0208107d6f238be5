//! [`ComponentType`], [`Lower`] and [`Lift`] for Rust's own types: integers, floats, `bool`,
//! `char`, strings, slices, `Vec`, arrays (fixed-length lists), `Option`, `Result`, tuples and
//! resource handles; parameter and result lists.

use super::internal::{
    case_payload_or_unit, lift_discriminant, load_discriminant, lower_discriminant, next_field, next_flat,
    next_flat_mut, store_bytes, store_discriminant, store_pod_at, tuple_types, val_mismatch, write_discriminant,
};
use super::{AbiLayout, ComponentNamedList, ComponentResults, ComponentType, Lift, LiftParams, Lower, LowerParams};
use crate::Trap;
use crate::component::abi::{self, AbiMemory, StringSource};
use crate::component::values::Val;
use crate::component::{Resource, ResourceAny};
use anyhow::{Result, anyhow, bail};
use kiln_environ::component::{MAX_LIST_BYTE_LENGTH, ResourceId, ValueType};
use kiln_runtime::ValRaw;

macro_rules! integers {
    ($($t:ty => $vt:ident $variant:ident, $raw:ident, $get:ident;)*) => {$(
        impl ComponentType for $t {
            const LAYOUT: AbiLayout = AbiLayout::scalar(std::mem::size_of::<$t>() as u32);
            const POD: bool = true;
            fn ty() -> ValueType { ValueType::$vt }
        }
        impl Lower for $t {
            fn to_val(&self) -> Val { Val::$variant(*self) }
            #[inline]
            fn lower<C: AbiMemory + ?Sized>(&self, _: &mut C, _: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
                dst[0] = ValRaw::$raw(*self as _);
                Ok(())
            }
            #[inline]
            fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, _: &ValueType, offset: usize) -> Result<()> {
                store_bytes(cx, offset, &self.to_le_bytes())
            }
            #[inline]
            fn store_pod(&self, _: &ValueType, dst: &mut [u8]) -> Result<()> {
                dst[..std::mem::size_of::<$t>()].copy_from_slice(&self.to_le_bytes());
                Ok(())
            }
            fn store_list<C: AbiMemory + ?Sized>(items: &[Self], cx: &mut C, _: &ValueType, offset: usize) -> Result<()> {
                const N: usize = std::mem::size_of::<$t>();
                let memory = cx.memory_mut()?;
                let dst = memory
                    .get_mut(offset..offset + items.len() * N)
                    .ok_or_else(|| anyhow::Error::new(Trap::PointerOutOfBounds))?;
                for (chunk, v) in dst.chunks_exact_mut(N).zip(items) {
                    chunk.copy_from_slice(&v.to_le_bytes());
                }
                Ok(())
            }
        }
        impl Lift for $t {
            fn from_val(value: Val) -> Result<Self> {
                match value {
                    Val::$variant(v) => Ok(v),
                    other => val_mismatch(stringify!($vt), &other),
                }
            }
            #[inline]
            fn lift<C: AbiMemory + ?Sized>(_: &C, _: &ValueType, src: &[ValRaw]) -> Result<Self> {
                // Narrower integers keep the low bits of their i32 (`lift_flat_unsigned/signed`).
                Ok(src[0].$get() as $t)
            }
            #[inline]
            fn load<C: AbiMemory + ?Sized>(_: &C, _: &ValueType, bytes: &[u8]) -> Result<Self> {
                const N: usize = std::mem::size_of::<$t>();
                let mut le = [0u8; N];
                le.copy_from_slice(&bytes[..N]);
                Ok(<$t>::from_le_bytes(le))
            }
            fn load_list<C: AbiMemory + ?Sized>(_: &C, _: &ValueType, bytes: &[u8], len: usize) -> Result<Vec<Self>> {
                const N: usize = std::mem::size_of::<$t>();
                Ok(bytes[..len * N]
                    .chunks_exact(N)
                    .map(|c| {
                        let mut le = [0u8; N];
                        le.copy_from_slice(c);
                        <$t>::from_le_bytes(le)
                    })
                    .collect())
            }
        }
    )*};
}

integers! {
    i8 => S8 S8, i32, get_i32;
    u8 => U8 U8, i32, get_i32;
    i16 => S16 S16, i32, get_i32;
    u16 => U16 U16, i32, get_i32;
    i32 => S32 S32, i32, get_i32;
    u32 => U32 U32, i32, get_i32;
    i64 => S64 S64, i64, get_i64;
    u64 => U64 U64, i64, get_i64;
}

/// Scalars other than integers: each with its `Val` case, size, conversion to and from a
/// flat value and to and from little-endian bytes.
macro_rules! scalars {
    ($($t:ty => $vt:ident $variant:ident, $size:literal,
        lower: |$lv:ident| $lower:expr, lift: |$rv:ident| $lift:expr,
        bytes: |$bv:ident| $to_bytes:expr, from_bytes: |$fb:ident| $from_bytes:expr;)*) => {$(
        impl ComponentType for $t {
            const LAYOUT: AbiLayout = AbiLayout::scalar($size);
            const POD: bool = true;
            fn ty() -> ValueType {
                ValueType::$vt
            }
        }
        impl Lower for $t {
            fn to_val(&self) -> Val {
                Val::$variant(*self)
            }
            #[inline]
            fn lower<C: AbiMemory + ?Sized>(&self, _: &mut C, _: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
                let $lv = *self;
                dst[0] = $lower;
                Ok(())
            }
            #[inline]
            fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, _: &ValueType, offset: usize) -> Result<()> {
                let $bv = *self;
                store_bytes(cx, offset, &$to_bytes)
            }
            #[inline]
            fn store_pod(&self, _: &ValueType, dst: &mut [u8]) -> Result<()> {
                let $bv = *self;
                dst[..$size].copy_from_slice(&$to_bytes);
                Ok(())
            }
        }
        impl Lift for $t {
            fn from_val(value: Val) -> Result<Self> {
                match value {
                    Val::$variant(v) => Ok(v),
                    other => val_mismatch(stringify!($vt), &other),
                }
            }
            #[inline]
            fn lift<C: AbiMemory + ?Sized>(_: &C, _: &ValueType, src: &[ValRaw]) -> Result<Self> {
                let $rv = src[0];
                $lift
            }
            #[inline]
            fn load<C: AbiMemory + ?Sized>(_: &C, _: &ValueType, bytes: &[u8]) -> Result<Self> {
                let mut $fb = [0u8; $size];
                $fb.copy_from_slice(&bytes[..$size]);
                $from_bytes
            }
        }
    )*};
}

// `bool` lifts any non-zero value as true; `char` traps on a non-scalar value; floats are
// lowered with canonical NaNs and canonicalized when lifted, like the reference ABI.
scalars! {
    bool => Bool Bool, 1,
        lower: |v| ValRaw::i32(i32::from(v)), lift: |r| Ok(r.get_i32() != 0),
        bytes: |v| [u8::from(v)], from_bytes: |b| Ok(b[0] != 0);
    char => Char Char, 4,
        lower: |v| ValRaw::i32(v as i32), lift: |r| abi::convert_i32_to_char(r.get_i32() as u32),
        bytes: |v| (v as u32).to_le_bytes(), from_bytes: |b| abi::convert_i32_to_char(u32::from_le_bytes(b));
    f32 => F32 Float32, 4,
        lower: |v| ValRaw::f32(abi::f32_canonical_bits(v)), lift: |r| Ok(abi::decode_f32(r.get_f32())),
        bytes: |v| abi::f32_canonical_bits(v).to_le_bytes(), from_bytes: |b| Ok(abi::decode_f32(u32::from_le_bytes(b)));
    f64 => F64 Float64, 8,
        lower: |v| ValRaw::f64(abi::f64_canonical_bits(v)), lift: |r| Ok(abi::decode_f64(r.get_f64())),
        bytes: |v| abi::f64_canonical_bits(v).to_le_bytes(), from_bytes: |b| Ok(abi::decode_f64(u64::from_le_bytes(b)));
}

impl ComponentType for () {
    const LAYOUT: AbiLayout = AbiLayout::UNIT;
    const IS_UNIT: bool = true;
    const POD: bool = true;
    fn ty() -> ValueType {
        ValueType::Tuple(Box::new([]))
    }
}
impl Lower for () {
    fn to_val(&self) -> Val {
        Val::Tuple(Vec::new())
    }
    fn lower<C: AbiMemory + ?Sized>(&self, _: &mut C, _: &ValueType, _: &mut [ValRaw]) -> Result<()> {
        Ok(())
    }
    fn store<C: AbiMemory + ?Sized>(&self, _: &mut C, _: &ValueType, _: usize) -> Result<()> {
        Ok(())
    }
    fn store_pod(&self, _: &ValueType, _: &mut [u8]) -> Result<()> {
        Ok(())
    }
}
impl Lift for () {
    fn from_val(_: Val) -> Result<Self> {
        Ok(())
    }
    fn lift<C: AbiMemory + ?Sized>(_: &C, _: &ValueType, _: &[ValRaw]) -> Result<Self> {
        Ok(())
    }
    fn load<C: AbiMemory + ?Sized>(_: &C, _: &ValueType, _: &[u8]) -> Result<Self> {
        Ok(())
    }
}

fn read_pair(bytes: &[u8]) -> (u32, u32) {
    let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (word(0), word(4))
}

/// Typed functions run only over 32-bit memories (see `typed::check_ptr_size`), so the pointers
/// the reference ABI gives as `u64` fit in 32 bits.
fn store_pair<C: AbiMemory + ?Sized>(cx: &mut C, offset: usize, (ptr, len): (u64, u32)) -> Result<()> {
    let ptr = ptr as u32;
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&ptr.to_le_bytes());
    bytes[4..].copy_from_slice(&len.to_le_bytes());
    store_bytes(cx, offset, &bytes)
}

fn lower_pair(dst: &mut [ValRaw], (ptr, len): (u64, u32)) {
    dst[0] = ValRaw::i32(ptr as i32);
    dst[1] = ValRaw::i32(len as i32);
}

impl ComponentType for str {
    const LAYOUT: AbiLayout = AbiLayout::POINTER_PAIR;
    fn ty() -> ValueType {
        ValueType::String
    }
}
impl Lower for str {
    fn to_val(&self) -> Val {
        Val::String(self.to_string())
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, _: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        lower_pair(dst, abi::lower_string(cx, StringSource::host(self))?);
        Ok(())
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, _: &ValueType, offset: usize) -> Result<()> {
        let pair = abi::lower_string(cx, StringSource::host(self))?;
        store_pair(cx, offset, pair)
    }
}
impl ComponentType for String {
    const LAYOUT: AbiLayout = AbiLayout::POINTER_PAIR;
    fn ty() -> ValueType {
        ValueType::String
    }
}
impl Lower for String {
    fn to_val(&self) -> Val {
        Val::String(self.clone())
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        self.as_str().lower(cx, ty, dst)
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
        self.as_str().store(cx, ty, offset)
    }
}
impl Lift for String {
    fn from_val(value: Val) -> Result<Self> {
        match value {
            Val::String(s) => Ok(s),
            other => val_mismatch("string", &other),
        }
    }
    fn lift<C: AbiMemory + ?Sized>(cx: &C, _: &ValueType, src: &[ValRaw]) -> Result<Self> {
        abi::lift_string(cx, u64::from(src[0].get_i32() as u32), u64::from(src[1].get_i32() as u32))
    }
    fn load<C: AbiMemory + ?Sized>(cx: &C, _: &ValueType, bytes: &[u8]) -> Result<Self> {
        let (ptr, len) = read_pair(bytes);
        abi::lift_string(cx, u64::from(ptr), u64::from(len))
    }
}

impl<T: ComponentType + ?Sized> ComponentType for &T {
    const LAYOUT: AbiLayout = T::LAYOUT;
    const IS_UNIT: bool = T::IS_UNIT;
    const POD: bool = T::POD;
    fn ty() -> ValueType {
        T::ty()
    }
}
impl<T: Lower + ?Sized> Lower for &T {
    fn to_val(&self) -> Val {
        (**self).to_val()
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        (**self).lower(cx, ty, dst)
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
        (**self).store(cx, ty, offset)
    }
    fn store_pod(&self, ty: &ValueType, dst: &mut [u8]) -> Result<()> {
        (**self).store_pod(ty, dst)
    }
}

impl<T: ComponentType + ?Sized> ComponentType for Box<T> {
    const LAYOUT: AbiLayout = T::LAYOUT;
    const IS_UNIT: bool = T::IS_UNIT;
    const POD: bool = T::POD;
    fn ty() -> ValueType {
        T::ty()
    }
}
impl<T: Lower + ?Sized> Lower for Box<T> {
    fn to_val(&self) -> Val {
        (**self).to_val()
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        (**self).lower(cx, ty, dst)
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
        (**self).store(cx, ty, offset)
    }
    fn store_pod(&self, ty: &ValueType, dst: &mut [u8]) -> Result<()> {
        (**self).store_pod(ty, dst)
    }
}
impl<T: Lift> Lift for Box<T> {
    fn from_val(value: Val) -> Result<Self> {
        T::from_val(value).map(Box::new)
    }
    fn lift<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, src: &[ValRaw]) -> Result<Self> {
        T::lift(cx, ty, src).map(Box::new)
    }
    fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8]) -> Result<Self> {
        T::load(cx, ty, bytes).map(Box::new)
    }
}

fn list_element(ty: &ValueType) -> Result<&ValueType> {
    match ty {
        ValueType::List(elem) => Ok(elem),
        other => bail!("type mismatch: expected a list, found {other}"),
    }
}

/// `store_list_into_range` for typed elements: one `realloc`, then the elements in place.
fn lower_list<T: Lower, C: AbiMemory + ?Sized>(cx: &mut C, elem: &ValueType, items: &[T]) -> Result<(u64, u32)> {
    let byte_length = items.len() as u64 * u64::from(T::LAYOUT.size);
    abi::trap_if(byte_length > u64::from(MAX_LIST_BYTE_LENGTH), Trap::LengthTooLarge)?;
    let ptr = abi::realloc_checked(cx, 0, 0, T::LAYOUT.align, byte_length as u32)?;
    T::store_list(items, cx, elem, ptr as usize)?;
    Ok((ptr, items.len() as u32))
}

/// `load_list_from_range` for typed elements.
fn lift_list<T: Lift, C: AbiMemory + ?Sized>(cx: &C, elem: &ValueType, ptr: u32, len: u32) -> Result<Vec<T>> {
    let byte_length = u64::from(len) * u64::from(T::LAYOUT.size);
    abi::trap_if(byte_length > u64::from(MAX_LIST_BYTE_LENGTH), Trap::HostListOutOfBounds)?;
    let memory = cx.memory()?;
    abi::check_range_with(
        memory.len(),
        u64::from(ptr),
        T::LAYOUT.align,
        byte_length,
        Trap::UnalignedPointer,
        Trap::HostListOutOfBounds,
    )?;
    T::load_list(cx, elem, &memory[ptr as usize..][..byte_length as usize], len as usize)
}

impl<T: ComponentType> ComponentType for [T] {
    const LAYOUT: AbiLayout = AbiLayout::POINTER_PAIR;
    fn ty() -> ValueType {
        ValueType::List(Box::new(T::ty()))
    }
}
impl<T: Lower> Lower for [T] {
    fn to_val(&self) -> Val {
        Val::List(self.iter().map(Lower::to_val).collect())
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        lower_pair(dst, lower_list(cx, list_element(ty)?, self)?);
        Ok(())
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
        let pair = lower_list(cx, list_element(ty)?, self)?;
        store_pair(cx, offset, pair)
    }
}
impl<T: ComponentType> ComponentType for Vec<T> {
    const LAYOUT: AbiLayout = AbiLayout::POINTER_PAIR;
    fn ty() -> ValueType {
        ValueType::List(Box::new(T::ty()))
    }
}
impl<T: Lower> Lower for Vec<T> {
    fn to_val(&self) -> Val {
        self.as_slice().to_val()
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        self.as_slice().lower(cx, ty, dst)
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
        self.as_slice().store(cx, ty, offset)
    }
}
impl<T: Lift> Lift for Vec<T> {
    fn from_val(value: Val) -> Result<Self> {
        match value {
            Val::List(items) => items.into_iter().map(T::from_val).collect(),
            other => val_mismatch("list", &other),
        }
    }
    fn lift<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, src: &[ValRaw]) -> Result<Self> {
        lift_list(cx, list_element(ty)?, src[0].get_i32() as u32, src[1].get_i32() as u32)
    }
    fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8]) -> Result<Self> {
        let (ptr, len) = read_pair(bytes);
        lift_list(cx, list_element(ty)?, ptr, len)
    }
}

fn fixed_element(ty: &ValueType, n: usize) -> Result<&ValueType> {
    match ty {
        ValueType::FixedList(elem, len) if *len as usize == n => Ok(elem),
        other => bail!("type mismatch: expected a list of {n} elements, found {other}"),
    }
}

/// `list<T, N>`: `N` elements in place, like a tuple.
impl<T: ComponentType, const N: usize> ComponentType for [T; N] {
    const LAYOUT: AbiLayout = AbiLayout::fixed_list(T::LAYOUT, N as u32);
    const POD: bool = T::POD;
    fn ty() -> ValueType {
        ValueType::FixedList(Box::new(T::ty()), N as u32)
    }
}
impl<T: Lower, const N: usize> Lower for [T; N] {
    fn to_val(&self) -> Val {
        Val::List(self.iter().map(Lower::to_val).collect())
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        let elem = fixed_element(ty, N)?;
        let flat = T::LAYOUT.flat as usize;
        for (i, item) in self.iter().enumerate() {
            item.lower(cx, elem, &mut dst[i * flat..][..flat])?;
        }
        Ok(())
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
        T::store_list(self, cx, fixed_element(ty, N)?, offset)
    }
    fn store_pod(&self, ty: &ValueType, dst: &mut [u8]) -> Result<()> {
        let elem = fixed_element(ty, N)?;
        let size = T::LAYOUT.size as usize;
        for (i, item) in self.iter().enumerate() {
            item.store_pod(elem, &mut dst[i * size..][..size])?;
        }
        Ok(())
    }
}
impl<T: Lift, const N: usize> Lift for [T; N] {
    fn from_val(value: Val) -> Result<Self> {
        let items = Vec::<T>::from_val(value)?;
        let len = items.len();
        items.try_into().map_err(|_| anyhow!("expected a list of {N} elements, found {len}"))
    }
    fn lift<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, src: &[ValRaw]) -> Result<Self> {
        let elem = fixed_element(ty, N)?;
        let flat = T::LAYOUT.flat as usize;
        let items = (0..N).map(|i| T::lift(cx, elem, &src[i * flat..][..flat])).collect::<Result<Vec<T>>>()?;
        Ok(items.try_into().unwrap_or_else(|_| unreachable!("exactly N elements were lifted")))
    }
    fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8]) -> Result<Self> {
        let items = T::load_list(cx, fixed_element(ty, N)?, bytes, N)?;
        Ok(items.try_into().unwrap_or_else(|_| unreachable!("exactly N elements were loaded")))
    }
}

fn option_payload(ty: &ValueType) -> Result<&ValueType> {
    match ty {
        ValueType::Option(t) => Ok(t),
        other => bail!("type mismatch: expected an option, found {other}"),
    }
}

impl<T: ComponentType> ComponentType for Option<T> {
    const LAYOUT: AbiLayout = AbiLayout::variant(&[None, Some(T::LAYOUT)]);
    const POD: bool = T::POD;
    fn ty() -> ValueType {
        ValueType::Option(Box::new(T::ty()))
    }
}
impl<T: Lower> Lower for Option<T> {
    fn to_val(&self) -> Val {
        Val::Option(self.as_ref().map(|v| Box::new(v.to_val())))
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        let payload = option_payload(ty)?;
        match self {
            None => lower_discriminant(dst, 0, 0),
            Some(v) => {
                lower_discriminant(dst, 1, T::LAYOUT.flat);
                v.lower(cx, payload, &mut dst[1..][..T::LAYOUT.flat as usize])?;
            }
        }
        Ok(())
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
        if Self::POD {
            return store_pod_at(self, cx, ty, offset);
        }
        let payload = option_payload(ty)?;
        match self {
            None => store_discriminant(cx, 2, offset, 0),
            Some(v) => {
                store_discriminant(cx, 2, offset, 1)?;
                let at = AbiLayout::variant_payload_offset(&[None, Some(T::LAYOUT)]) as usize;
                v.store(cx, payload, offset + at)
            }
        }
    }
    fn store_pod(&self, ty: &ValueType, dst: &mut [u8]) -> Result<()> {
        let payload = option_payload(ty)?;
        match self {
            None => write_discriminant(dst, 2, 0),
            Some(v) => {
                write_discriminant(dst, 2, 1);
                let at = AbiLayout::variant_payload_offset(&[None, Some(T::LAYOUT)]) as usize;
                v.store_pod(payload, &mut dst[at..][..T::LAYOUT.size as usize])?;
            }
        }
        Ok(())
    }
}
impl<T: Lift> Lift for Option<T> {
    fn from_val(value: Val) -> Result<Self> {
        match value {
            Val::Option(v) => v.map(|v| T::from_val(*v)).transpose(),
            other => val_mismatch("option", &other),
        }
    }
    fn lift<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, src: &[ValRaw]) -> Result<Self> {
        let payload = option_payload(ty)?;
        Ok(match lift_discriminant(src, 2)? {
            0 => None,
            _ => Some(T::lift(cx, payload, &src[1..][..T::LAYOUT.flat as usize])?),
        })
    }
    fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8]) -> Result<Self> {
        let payload = option_payload(ty)?;
        Ok(match load_discriminant(bytes, 2)? {
            0 => None,
            _ => {
                let at = AbiLayout::variant_payload_offset(&[None, Some(T::LAYOUT)]) as usize;
                Some(T::load(cx, payload, &bytes[at..][..T::LAYOUT.size as usize])?)
            }
        })
    }
}

fn result_payloads(ty: &ValueType) -> Result<(&ValueType, &ValueType)> {
    match ty {
        ValueType::Result { ok, err } => {
            Ok((case_payload_or_unit(ok.as_deref()), case_payload_or_unit(err.as_deref())))
        }
        other => bail!("type mismatch: expected a result, found {other}"),
    }
}

fn payload_type<T: ComponentType>() -> Option<Box<ValueType>> {
    (!T::IS_UNIT).then(|| Box::new(T::ty()))
}

impl<T: ComponentType, E: ComponentType> ComponentType for Result<T, E> {
    const LAYOUT: AbiLayout = AbiLayout::variant(&[Some(T::LAYOUT), Some(E::LAYOUT)]);
    const POD: bool = T::POD && E::POD;
    fn ty() -> ValueType {
        ValueType::Result { ok: payload_type::<T>(), err: payload_type::<E>() }
    }
}
impl<T: Lower, E: Lower> Lower for Result<T, E> {
    fn to_val(&self) -> Val {
        Val::Result(match self {
            Ok(v) => Ok((!T::IS_UNIT).then(|| Box::new(v.to_val()))),
            Err(e) => Err((!E::IS_UNIT).then(|| Box::new(e.to_val()))),
        })
    }
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
        let (ok, err) = result_payloads(ty)?;
        match self {
            Ok(v) => {
                lower_discriminant(dst, 0, T::LAYOUT.flat);
                v.lower(cx, ok, &mut dst[1..][..T::LAYOUT.flat as usize])
            }
            Err(e) => {
                lower_discriminant(dst, 1, E::LAYOUT.flat);
                e.lower(cx, err, &mut dst[1..][..E::LAYOUT.flat as usize])
            }
        }
    }
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
        if Self::POD {
            return store_pod_at(self, cx, ty, offset);
        }
        let (ok, err) = result_payloads(ty)?;
        let at = offset + AbiLayout::variant_payload_offset(&[Some(T::LAYOUT), Some(E::LAYOUT)]) as usize;
        match self {
            Ok(v) => {
                store_discriminant(cx, 2, offset, 0)?;
                v.store(cx, ok, at)
            }
            Err(e) => {
                store_discriminant(cx, 2, offset, 1)?;
                e.store(cx, err, at)
            }
        }
    }
    fn store_pod(&self, ty: &ValueType, dst: &mut [u8]) -> Result<()> {
        let (ok, err) = result_payloads(ty)?;
        let at = AbiLayout::variant_payload_offset(&[Some(T::LAYOUT), Some(E::LAYOUT)]) as usize;
        match self {
            Ok(v) => {
                write_discriminant(dst, 2, 0);
                v.store_pod(ok, &mut dst[at..][..T::LAYOUT.size as usize])
            }
            Err(e) => {
                write_discriminant(dst, 2, 1);
                e.store_pod(err, &mut dst[at..][..E::LAYOUT.size as usize])
            }
        }
    }
}
impl<T: Lift, E: Lift> Lift for Result<T, E> {
    fn from_val(value: Val) -> Result<Self> {
        let payload = |v: Option<Box<Val>>| v.map(|v| *v).unwrap_or(Val::Tuple(Vec::new()));
        match value {
            Val::Result(Ok(v)) => Ok(Ok(T::from_val(payload(v))?)),
            Val::Result(Err(e)) => Ok(Err(E::from_val(payload(e))?)),
            other => val_mismatch("result", &other),
        }
    }
    fn lift<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, src: &[ValRaw]) -> Result<Self> {
        let (ok, err) = result_payloads(ty)?;
        Ok(match lift_discriminant(src, 2)? {
            0 => Ok(T::lift(cx, ok, &src[1..][..T::LAYOUT.flat as usize])?),
            _ => Err(E::lift(cx, err, &src[1..][..E::LAYOUT.flat as usize])?),
        })
    }
    fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8]) -> Result<Self> {
        let (ok, err) = result_payloads(ty)?;
        let at = AbiLayout::variant_payload_offset(&[Some(T::LAYOUT), Some(E::LAYOUT)]) as usize;
        Ok(match load_discriminant(bytes, 2)? {
            0 => Ok(T::load(cx, ok, &bytes[at..][..T::LAYOUT.size as usize])?),
            _ => Err(E::load(cx, err, &bytes[at..][..E::LAYOUT.size as usize])?),
        })
    }
}

macro_rules! tuples {
    ($n:literal: $($a:ident $i:tt)+) => {
        impl<$($a: ComponentType),+> ComponentType for ($($a,)+) {
            const LAYOUT: AbiLayout = AbiLayout::record(&[$($a::LAYOUT),+]);
            const POD: bool = true $(&& $a::POD)+;
            fn ty() -> ValueType { ValueType::Tuple(Box::new([$($a::ty()),+])) }
        }
        impl<$($a: Lower),+> Lower for ($($a,)+) {
            fn to_val(&self) -> Val {
                Val::Tuple(vec![$(self.$i.to_val()),+])
            }
            fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
                let types = tuple_types(ty, $n)?;
                let mut at = 0;
                $(self.$i.lower(cx, &types[$i], next_flat_mut(dst, &mut at, $a::LAYOUT.flat))?;)+
                Ok(())
            }
            fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
                if Self::POD {
                    return store_pod_at(self, cx, ty, offset);
                }
                let types = tuple_types(ty, $n)?;
                let mut end = 0;
                $(self.$i.store(cx, &types[$i], offset + next_field(&mut end, $a::LAYOUT))?;)+
                Ok(())
            }
            fn store_pod(&self, ty: &ValueType, dst: &mut [u8]) -> Result<()> {
                let types = tuple_types(ty, $n)?;
                let mut end = 0;
                $({
                    let at = next_field(&mut end, $a::LAYOUT);
                    self.$i.store_pod(&types[$i], &mut dst[at..][..$a::LAYOUT.size as usize])?;
                })+
                Ok(())
            }
        }
        impl<$($a: Lift),+> Lift for ($($a,)+) {
            fn from_val(value: Val) -> Result<Self> {
                match value {
                    Val::Tuple(items) if items.len() == $n => {
                        let mut items = items.into_iter();
                        Ok(($($a::from_val(items.next().expect("length checked"))?,)+))
                    }
                    other => val_mismatch(concat!("a tuple of ", $n), &other),
                }
            }
            fn lift<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, src: &[ValRaw]) -> Result<Self> {
                let types = tuple_types(ty, $n)?;
                let mut at = 0;
                Ok(($($a::lift(cx, &types[$i], next_flat(src, &mut at, $a::LAYOUT.flat))?,)+))
            }
            fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8]) -> Result<Self> {
                let types = tuple_types(ty, $n)?;
                let mut end = 0;
                Ok(($({
                    let at = next_field(&mut end, $a::LAYOUT);
                    $a::load(cx, &types[$i], &bytes[at..][..$a::LAYOUT.size as usize])?
                },)+))
            }
        }
        impl<$($a: ComponentType),+> ComponentNamedList for ($($a,)+) {
            const LAYOUT: AbiLayout = AbiLayout::record(&[$($a::LAYOUT),+]);
            fn types() -> Vec<ValueType> { vec![$($a::ty()),+] }
        }
        impl<$($a: Lower),+> LowerParams for ($($a,)+) {
            fn to_vals(&self) -> Vec<Val> {
                vec![$(self.$i.to_val()),+]
            }
            fn lower_params<C: AbiMemory + ?Sized>(
                &self,
                cx: &mut C,
                types: &[(String, ValueType)],
                dst: &mut [ValRaw],
            ) -> Result<()> {
                check_arity(types, $n)?;
                let mut at = 0;
                $(self.$i.lower(cx, &types[$i].1, next_flat_mut(dst, &mut at, $a::LAYOUT.flat))?;)+
                Ok(())
            }
            fn store_params<C: AbiMemory + ?Sized>(
                &self,
                cx: &mut C,
                types: &[(String, ValueType)],
                offset: usize,
            ) -> Result<()> {
                check_arity(types, $n)?;
                let mut end = 0;
                $(self.$i.store(cx, &types[$i].1, offset + next_field(&mut end, $a::LAYOUT))?;)+
                Ok(())
            }
        }
        impl<$($a: Lift),+> LiftParams for ($($a,)+) {
            fn from_vals(values: &[Val]) -> Result<Self> {
                if values.len() != $n {
                    bail!("expected {} arguments, got {}", $n, values.len());
                }
                Ok(($($a::from_val(values[$i].clone())?,)+))
            }
            fn lift_params<C: AbiMemory + ?Sized>(
                cx: &C,
                types: &[(String, ValueType)],
                src: &[ValRaw],
            ) -> Result<Self> {
                check_arity(types, $n)?;
                let mut at = 0;
                Ok(($($a::lift(cx, &types[$i].1, next_flat(src, &mut at, $a::LAYOUT.flat))?,)+))
            }
            fn load_params<C: AbiMemory + ?Sized>(
                cx: &C,
                types: &[(String, ValueType)],
                bytes: &[u8],
            ) -> Result<Self> {
                check_arity(types, $n)?;
                let mut end = 0;
                Ok(($({
                    let at = next_field(&mut end, $a::LAYOUT);
                    $a::load(cx, &types[$i].1, &bytes[at..][..$a::LAYOUT.size as usize])?
                },)+))
            }
        }
    };
}

fn check_arity(types: &[(String, ValueType)], n: usize) -> Result<()> {
    if types.len() != n {
        bail!("expected {n} parameters, the function has {}", types.len());
    }
    Ok(())
}

tuples!(1: A0 0);
tuples!(2: A0 0 A1 1);
tuples!(3: A0 0 A1 1 A2 2);
tuples!(4: A0 0 A1 1 A2 2 A3 3);
tuples!(5: A0 0 A1 1 A2 2 A3 3 A4 4);
tuples!(6: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5);
tuples!(7: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6);
tuples!(8: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7);
tuples!(9: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8);
tuples!(10: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9);
tuples!(11: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10);
tuples!(12: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11);
tuples!(13: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11 A12 12);
tuples!(14: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11 A12 12 A13 13);
tuples!(15: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11 A12 12 A13 13 A14 14);
tuples!(16: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11 A12 12 A13 13 A14 14 A15 15);
tuples!(17: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11 A12 12 A13 13 A14 14 A15 15 A16 16);
tuples!(18: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11 A12 12 A13 13 A14 14 A15 15 A16 16 A17 17);
tuples!(19: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11 A12 12 A13 13 A14 14 A15 15 A16 16 A17 17 A18 18);
tuples!(20: A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7 A8 8 A9 9 A10 10 A11 11 A12 12 A13 13 A14 14 A15 15 A16 16 A17 17 A18 18 A19 19);

impl ComponentNamedList for () {
    const LAYOUT: AbiLayout = AbiLayout::UNIT;
    fn types() -> Vec<ValueType> {
        Vec::new()
    }
}
impl LowerParams for () {
    fn to_vals(&self) -> Vec<Val> {
        Vec::new()
    }
    fn lower_params<C: AbiMemory + ?Sized>(
        &self,
        _: &mut C,
        types: &[(String, ValueType)],
        _: &mut [ValRaw],
    ) -> Result<()> {
        check_arity(types, 0)
    }
    fn store_params<C: AbiMemory + ?Sized>(&self, _: &mut C, types: &[(String, ValueType)], _: usize) -> Result<()> {
        check_arity(types, 0)
    }
}
impl LiftParams for () {
    fn from_vals(values: &[Val]) -> Result<Self> {
        if !values.is_empty() {
            bail!("expected no arguments, got {}", values.len());
        }
        Ok(())
    }
    fn lift_params<C: AbiMemory + ?Sized>(_: &C, types: &[(String, ValueType)], _: &[ValRaw]) -> Result<Self> {
        check_arity(types, 0)
    }
    fn load_params<C: AbiMemory + ?Sized>(_: &C, types: &[(String, ValueType)], _: &[u8]) -> Result<Self> {
        check_arity(types, 0)
    }
}

impl ComponentResults for () {
    const LAYOUT: AbiLayout = AbiLayout::UNIT;
    fn result_type() -> Option<ValueType> {
        None
    }
    fn into_val(self) -> Option<Val> {
        None
    }
    fn from_val(_: Option<Val>) -> Result<Self> {
        Ok(())
    }
    fn lift_result<C: AbiMemory + ?Sized>(_: &C, _: Option<&ValueType>, _: &[ValRaw]) -> Result<Self> {
        Ok(())
    }
    fn load_result<C: AbiMemory + ?Sized>(_: &C, _: Option<&ValueType>, _: &[u8]) -> Result<Self> {
        Ok(())
    }
    fn lower_result<C: AbiMemory + ?Sized>(&self, _: &mut C, _: Option<&ValueType>, _: &mut [ValRaw]) -> Result<()> {
        Ok(())
    }
    fn store_result<C: AbiMemory + ?Sized>(&self, _: &mut C, _: Option<&ValueType>, _: usize) -> Result<()> {
        Ok(())
    }
}

fn result_ty(ty: Option<&ValueType>) -> Result<&ValueType> {
    ty.ok_or_else(|| anyhow!("type mismatch: the function has no result"))
}

impl<T: Lift + Lower> ComponentResults for (T,) {
    const LAYOUT: AbiLayout = T::LAYOUT;
    fn result_type() -> Option<ValueType> {
        Some(T::ty())
    }
    fn into_val(self) -> Option<Val> {
        Some(self.0.to_val())
    }
    fn from_val(value: Option<Val>) -> Result<Self> {
        match value {
            Some(v) => Ok((T::from_val(v)?,)),
            None => bail!("expected a result, found none"),
        }
    }
    fn lift_result<C: AbiMemory + ?Sized>(cx: &C, ty: Option<&ValueType>, src: &[ValRaw]) -> Result<Self> {
        Ok((T::lift(cx, result_ty(ty)?, src)?,))
    }
    fn load_result<C: AbiMemory + ?Sized>(cx: &C, ty: Option<&ValueType>, bytes: &[u8]) -> Result<Self> {
        Ok((T::load(cx, result_ty(ty)?, bytes)?,))
    }
    fn lower_result<C: AbiMemory + ?Sized>(
        &self,
        cx: &mut C,
        ty: Option<&ValueType>,
        dst: &mut [ValRaw],
    ) -> Result<()> {
        self.0.lower(cx, result_ty(ty)?, dst)
    }
    fn store_result<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: Option<&ValueType>, offset: usize) -> Result<()> {
        self.0.store(cx, result_ty(ty)?, offset)
    }
}

// Resource handles: one i32, the handle in the instance's table.
fn lower_resource<C: AbiMemory + ?Sized>(cx: &mut C, ty: &ValueType, r: ResourceAny) -> Result<u32> {
    cx.lower_handle(ty, &Val::Resource(r))
}

fn lift_resource<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, handle: u32) -> Result<ResourceAny> {
    match cx.lift_handle(ty, handle)? {
        Val::Resource(r) => Ok(r),
        other => val_mismatch("resource", &other),
    }
}

macro_rules! handles {
    ($($t:ty, $to_any:expr, $from_any:expr $(, $g:ident)?;)*) => {$(
        impl$(<$g: 'static>)? ComponentType for $t {
            const LAYOUT: AbiLayout = AbiLayout::scalar(4);
            fn ty() -> ValueType {
                ValueType::Own(ResourceId::ANY)
            }
        }
        impl$(<$g: 'static>)? Lower for $t {
            fn to_val(&self) -> Val {
                Val::Resource($to_any(*self))
            }
            fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()> {
                dst[0] = ValRaw::i32(lower_resource(cx, ty, $to_any(*self))? as i32);
                Ok(())
            }
            fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()> {
                let handle = lower_resource(cx, ty, $to_any(*self))?;
                store_bytes(cx, offset, &handle.to_le_bytes())
            }
        }
        // `ResourceAny` converts with `Ok`, which clippy would rather see removed.
        #[allow(clippy::needless_question_mark)]
        impl$(<$g: 'static>)? Lift for $t {
            fn from_val(value: Val) -> Result<Self> {
                match value {
                    Val::Resource(r) => $from_any(r),
                    other => val_mismatch("resource", &other),
                }
            }
            fn lift<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, src: &[ValRaw]) -> Result<Self> {
                $from_any(lift_resource(cx, ty, src[0].get_i32() as u32)?)
            }
            fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8]) -> Result<Self> {
                let handle = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                $from_any(lift_resource(cx, ty, handle)?)
            }
        }
    )*};
}

handles! {
    Resource<T>, Resource::into_resource_any, ResourceAny::try_into_resource::<T>, T;
    ResourceAny, std::convert::identity, Ok::<ResourceAny, anyhow::Error>;
}
