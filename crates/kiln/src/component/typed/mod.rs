//! Rust types as component types: [`ComponentType`], [`Lift`], [`Lower`], parameter and result
//! lists, and [`TypedFunc`].
//!
//! Typed values move straight between Rust and the guest: lowering writes core values and
//! linear memory directly (one `realloc` and one copy for a string or a list of scalars), and
//! lifting reads them back, without a [`Val`] in between. Each type knows its Canonical ABI
//! layout at compile time ([`AbiLayout`]); the component's type is checked against the Rust
//! type once, when a [`TypedFunc`] is made or a host function is linked, and is then passed
//! down while lowering and lifting so that resource handles find their tables.
//!
//! The derive macros (`#[derive(ComponentType, Lift, Lower)]`) and `flags!` generate the same
//! kind of code as the hand-written impls here, through the helpers in [`internal`].

mod check;
mod impls;
#[doc(hidden)]
pub mod internal;

use super::abi::AbiMemory;
use super::func::Func;
use super::values::Val;
use crate::store::AsContextMut;
use anyhow::Result;
use kiln_environ::component::ValueType;
use kiln_runtime::ValRaw;
use std::marker::PhantomData;

pub use check::typecheck;

/// A type's Canonical ABI layout: its size and alignment in linear memory and how many core
/// values it flattens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbiLayout {
    /// Size in bytes in a 32-bit memory.
    pub size: u32,
    /// Alignment in bytes.
    pub align: u32,
    /// Number of flat core values.
    pub flat: u32,
}

impl AbiLayout {
    /// The empty tuple (and "no payload").
    pub const UNIT: AbiLayout = AbiLayout { size: 0, align: 1, flat: 0 };
    /// `string` and `list<T>`: a pointer and a length.
    pub const POINTER_PAIR: AbiLayout = AbiLayout { size: 8, align: 4, flat: 2 };

    /// A scalar of `size` bytes (one core value).
    pub const fn scalar(size: u32) -> AbiLayout {
        AbiLayout { size, align: size, flat: 1 }
    }

    /// A record (or tuple) of these fields, in order.
    pub const fn record(fields: &[AbiLayout]) -> AbiLayout {
        let mut size = 0;
        let mut align = 1;
        let mut flat = 0;
        let mut i = 0;
        while i < fields.len() {
            let f = fields[i];
            size = align_to(size, f.align) + f.size;
            if f.align > align {
                align = f.align;
            }
            flat += f.flat;
            i += 1;
        }
        AbiLayout { size: align_to(size, align), align, flat }
    }

    /// `list<T, N>` of elements with layout `elem`.
    pub const fn fixed_list(elem: AbiLayout, n: u32) -> AbiLayout {
        AbiLayout { size: elem.size * n, align: elem.align, flat: elem.flat * n }
    }

    /// A variant whose cases have these payloads (`None` for no payload).
    pub const fn variant(cases: &[Option<AbiLayout>]) -> AbiLayout {
        let discriminant = discriminant_size(cases.len());
        let payload = max_payload(cases);
        let align = if payload.align > discriminant { payload.align } else { discriminant };
        let size = align_to(align_to(discriminant, payload.align) + payload.size, align);
        AbiLayout { size, align, flat: 1 + payload.flat }
    }

    /// The offset of the payload in a variant with these cases.
    pub const fn variant_payload_offset(cases: &[Option<AbiLayout>]) -> u32 {
        align_to(discriminant_size(cases.len()), max_payload(cases).align)
    }

    /// An enum of `cases` cases (a variant without payloads).
    pub const fn enumeration(cases: usize) -> AbiLayout {
        let size = discriminant_size(cases);
        AbiLayout { size, align: size, flat: 1 }
    }

    /// `flags` with `count` flags.
    pub const fn flags(count: usize) -> AbiLayout {
        match count {
            0 => AbiLayout::UNIT,
            1..=8 => AbiLayout { size: 1, align: 1, flat: 1 },
            9..=16 => AbiLayout { size: 2, align: 2, flat: 1 },
            _ => {
                let words = count.div_ceil(32) as u32;
                AbiLayout { size: 4 * words, align: 4, flat: words }
            }
        }
    }
}

const fn align_to(offset: u32, align: u32) -> u32 {
    offset.div_ceil(align) * align
}

/// Bytes of a discriminant for `cases` cases.
pub const fn discriminant_size(cases: usize) -> u32 {
    if cases <= 1 << 8 {
        1
    } else if cases <= 1 << 16 {
        2
    } else {
        4
    }
}

/// The largest size and alignment and the longest flattening among the payloads.
const fn max_payload(cases: &[Option<AbiLayout>]) -> AbiLayout {
    let mut max = AbiLayout::UNIT;
    let mut i = 0;
    while i < cases.len() {
        if let Some(p) = cases[i] {
            if p.size > max.size {
                max.size = p.size;
            }
            if p.align > max.align {
                max.align = p.align;
            }
            if p.flat > max.flat {
                max.flat = p.flat;
            }
        }
        i += 1;
    }
    max
}

/// The byte range of a value with layout `layout` at `ptr` (a tuple of parameters or results
/// passed through memory), after the Canonical ABI's checks: aligned, and inside the memory.
pub(crate) fn checked_range<C: AbiMemory + ?Sized>(
    cx: &C,
    ptr: u32,
    layout: AbiLayout,
) -> Result<std::ops::Range<usize>> {
    super::abi::check_range_with(
        cx.memory()?.len(),
        u64::from(ptr),
        layout.align,
        u64::from(layout.size),
        crate::Trap::UnalignedPointer,
        crate::Trap::PointerOutOfBounds,
    )?;
    Ok(ptr as usize..ptr as usize + layout.size as usize)
}

/// A Rust type with a component type.
pub trait ComponentType {
    /// The Canonical ABI layout.
    #[doc(hidden)]
    const LAYOUT: AbiLayout;
    /// Whether this is `()`, which stands for "no payload" inside `result`.
    #[doc(hidden)]
    const IS_UNIT: bool = false;
    /// Whether values are plain bytes in memory (no strings, lists or handles): they can be
    /// stored without allocating, straight into a byte slice ([`Lower::store_pod`]).
    #[doc(hidden)]
    const POD: bool = false;
    /// The component type this Rust type stands for. Resource handles are `own` of any
    /// resource (they stand for `own` and `borrow` of every resource).
    fn ty() -> ValueType;
}

/// A Rust value that can be lowered into a component.
pub trait Lower: ComponentType {
    /// The value as a dynamic value.
    fn to_val(&self) -> Val;

    /// Writes the value's flat core values into `dst` (exactly `LAYOUT.flat` slots); `ty` is
    /// the component's type for it (already checked against [`ComponentType::ty`]).
    #[doc(hidden)]
    fn lower<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, dst: &mut [ValRaw]) -> Result<()>;

    /// Writes the value at `offset` of the linear memory (aligned, and `LAYOUT.size` bytes in
    /// bounds: the caller checked).
    #[doc(hidden)]
    fn store<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: &ValueType, offset: usize) -> Result<()>;

    /// Writes a plain-data value ([`ComponentType::POD`]) into `dst` (`LAYOUT.size` bytes).
    #[doc(hidden)]
    fn store_pod(&self, ty: &ValueType, dst: &mut [u8]) -> Result<()> {
        let _ = (ty, dst);
        anyhow::bail!("internal error: a value that is not plain data was stored as such")
    }

    /// Writes `items` as consecutive elements from `offset`: plain data straight into the
    /// memory (one bounds check), anything else element by element.
    #[doc(hidden)]
    fn store_list<C: AbiMemory + ?Sized>(items: &[Self], cx: &mut C, ty: &ValueType, offset: usize) -> Result<()>
    where
        Self: Sized,
    {
        let size = Self::LAYOUT.size as usize;
        if Self::POD {
            let dst = internal::memory_range(cx, offset, items.len() * size)?;
            for (item, dst) in items.iter().zip(dst.chunks_exact_mut(size.max(1))) {
                item.store_pod(ty, dst)?;
            }
            return Ok(());
        }
        for (i, item) in items.iter().enumerate() {
            item.store(cx, ty, offset + i * size)?;
        }
        Ok(())
    }
}

/// A Rust value that can be lifted out of a component.
pub trait Lift: ComponentType + Sized {
    /// The value from a dynamic value of type [`ComponentType::ty`].
    fn from_val(value: Val) -> Result<Self>;

    /// Reads the value from its flat core values (exactly `LAYOUT.flat` of them); traps like
    /// the Canonical ABI on invalid values.
    #[doc(hidden)]
    fn lift<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, src: &[ValRaw]) -> Result<Self>;

    /// Reads the value from `bytes` (exactly `LAYOUT.size` bytes of the linear memory).
    #[doc(hidden)]
    fn load<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8]) -> Result<Self>;

    /// Reads `len` consecutive elements from `bytes` (`LAYOUT.size` bytes each); scalars
    /// override this with one copy.
    #[doc(hidden)]
    fn load_list<C: AbiMemory + ?Sized>(cx: &C, ty: &ValueType, bytes: &[u8], len: usize) -> Result<Vec<Self>> {
        let size = Self::LAYOUT.size as usize;
        (0..len).map(|i| Self::load(cx, ty, &bytes[i * size..][..size])).collect()
    }
}

/// A list of parameter types.
pub trait ComponentNamedList {
    /// The layout of the parameters as one tuple.
    #[doc(hidden)]
    const LAYOUT: AbiLayout;
    /// The types, in order.
    fn types() -> Vec<ValueType>;
}

/// Parameters the host passes to a component function.
pub trait LowerParams: ComponentNamedList {
    /// As dynamic values.
    fn to_vals(&self) -> Vec<Val>;
    /// Writes the flat parameters (at most `MAX_FLAT_PARAMS` of them) into `dst`.
    #[doc(hidden)]
    fn lower_params<C: AbiMemory + ?Sized>(
        &self,
        cx: &mut C,
        types: &[(String, ValueType)],
        dst: &mut [ValRaw],
    ) -> Result<()>;
    /// Writes the parameters as one tuple at `offset`.
    #[doc(hidden)]
    fn store_params<C: AbiMemory + ?Sized>(
        &self,
        cx: &mut C,
        types: &[(String, ValueType)],
        offset: usize,
    ) -> Result<()>;
}

/// Parameters a host function receives.
pub trait LiftParams: ComponentNamedList + Sized {
    /// From dynamic values.
    fn from_vals(values: &[Val]) -> Result<Self>;
    /// Reads the flat parameters.
    #[doc(hidden)]
    fn lift_params<C: AbiMemory + ?Sized>(cx: &C, types: &[(String, ValueType)], src: &[ValRaw]) -> Result<Self>;
    /// Reads the parameters as one tuple from `bytes`.
    #[doc(hidden)]
    fn load_params<C: AbiMemory + ?Sized>(cx: &C, types: &[(String, ValueType)], bytes: &[u8]) -> Result<Self>;
}

/// A function's results: `()` for none, `(T,)` for one.
pub trait ComponentResults: Sized {
    /// The layout of the result (of `()` when there is none).
    #[doc(hidden)]
    const LAYOUT: AbiLayout;
    /// The result type, if any.
    fn result_type() -> Option<ValueType>;
    /// The result as a dynamic value.
    fn into_val(self) -> Option<Val>;
    /// From the dynamic result.
    fn from_val(value: Option<Val>) -> Result<Self>;
    /// Reads the result from its flat core values.
    #[doc(hidden)]
    fn lift_result<C: AbiMemory + ?Sized>(cx: &C, ty: Option<&ValueType>, src: &[ValRaw]) -> Result<Self>;
    /// Reads the result from `bytes`.
    #[doc(hidden)]
    fn load_result<C: AbiMemory + ?Sized>(cx: &C, ty: Option<&ValueType>, bytes: &[u8]) -> Result<Self>;
    /// Writes the result's flat core values.
    #[doc(hidden)]
    fn lower_result<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: Option<&ValueType>, dst: &mut [ValRaw])
    -> Result<()>;
    /// Writes the result at `offset`.
    #[doc(hidden)]
    fn store_result<C: AbiMemory + ?Sized>(&self, cx: &mut C, ty: Option<&ValueType>, offset: usize) -> Result<()>;
}

/// A component function with Rust parameter and result types.
pub struct TypedFunc<P, R> {
    func: Func,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, R> Copy for TypedFunc<P, R> {}

impl<P: LowerParams, R: ComponentResults> TypedFunc<P, R> {
    pub(crate) fn new(func: Func) -> Self {
        TypedFunc { func, _marker: PhantomData }
    }

    /// The function with these types, unchecked: calls fail (never crash) if they do not match,
    /// but the failure may come after the callee ran. Generated bindings use this for
    /// functions they checked once at load time.
    ///
    /// # Safety
    ///
    /// Nothing memory-unsafe can follow from a wrong type here; `unsafe` is kept so that code
    /// written for other runtimes, where it matters, compiles unchanged.
    pub unsafe fn new_unchecked(func: Func) -> Self {
        TypedFunc::new(func)
    }

    /// Post-return already runs inside [`TypedFunc::call`]: this does nothing and exists so
    /// that code written for runtimes with an explicit post-return step compiles unchanged.
    pub fn post_return(&self, _store: impl AsContextMut) -> Result<()> {
        Ok(())
    }

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }

    /// Calls the function (post-return runs before this returns).
    pub fn call<T: 'static>(&self, store: impl AsContextMut<Data = T>, params: P) -> Result<R> {
        self.func.call_typed(store, params)
    }
}
