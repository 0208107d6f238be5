//! Rust types as component types: [`ComponentType`], [`Lift`], [`Lower`], parameter and result
//! lists, and [`TypedFunc`].
//!
//! Values cross through [`Val`]: typed calls check types once, when the [`TypedFunc`] is made.

use super::func::Func;
use super::values::Val;
use crate::store::AsContextMut;
use anyhow::{Result, bail};
use kiln_environ::component::ValueType;
use kiln_runtime::ValRaw;
use std::marker::PhantomData;

/// A Rust type with a component type.
pub trait ComponentType {
    /// The component type.
    fn ty() -> ValueType;
    /// Whether this is `()`, which stands for "no payload" inside `result`.
    #[doc(hidden)]
    const IS_UNIT: bool = false;
}

/// A Rust value that can be lowered into a component.
pub trait Lower: ComponentType {
    /// The value as a dynamic value.
    fn to_val(&self) -> Val;
    /// The value as one flat core value, for types that flatten to exactly one value and need no
    /// memory (scalars): the typed-call fast path.
    #[doc(hidden)]
    fn lower_scalar(&self) -> Option<ValRaw> {
        None
    }
}

/// A Rust value that can be lifted out of a component.
pub trait Lift: ComponentType + Sized {
    /// The value from a dynamic value of type [`ComponentType::ty`].
    fn from_val(value: Val) -> Result<Self>;
    /// The value from one flat core value, for scalars (see [`Lower::lower_scalar`]); traps like
    /// the Canonical ABI (an invalid `char`).
    #[doc(hidden)]
    fn lift_scalar(_raw: ValRaw) -> Option<Result<Self>> {
        None
    }
}

impl<T: 'static> ComponentType for super::Resource<T> {
    fn ty() -> ValueType {
        ValueType::Own(kiln_environ::component::ResourceId::ANY)
    }
}
impl<T: 'static> Lower for super::Resource<T> {
    fn to_val(&self) -> Val {
        Val::Resource(self.into_resource_any())
    }
}
impl<T: 'static> Lift for super::Resource<T> {
    fn from_val(value: Val) -> Result<Self> {
        match value {
            Val::Resource(r) => r.try_into_resource(),
            other => mismatch("resource", &other),
        }
    }
}
impl ComponentType for super::ResourceAny {
    fn ty() -> ValueType {
        ValueType::Own(kiln_environ::component::ResourceId::ANY)
    }
}
impl Lower for super::ResourceAny {
    fn to_val(&self) -> Val {
        Val::Resource(*self)
    }
}
impl Lift for super::ResourceAny {
    fn from_val(value: Val) -> Result<Self> {
        match value {
            Val::Resource(r) => Ok(r),
            other => mismatch("resource", &other),
        }
    }
}

fn mismatch<T>(expected: &str, found: &Val) -> Result<T> {
    bail!("type mismatch: expected {expected}, found {}", found.desc())
}

macro_rules! primitives {
    ($($t:ty => $variant:ident $vt:ident, $lower:expr, $lift:expr;)*) => {$(
        impl ComponentType for $t {
            fn ty() -> ValueType { ValueType::$vt }
        }
        impl Lower for $t {
            fn to_val(&self) -> Val { Val::$variant(*self) }
            fn lower_scalar(&self) -> Option<ValRaw> { Some($lower(*self)) }
        }
        impl Lift for $t {
            fn from_val(value: Val) -> Result<Self> {
                match value {
                    Val::$variant(v) => Ok(v),
                    other => mismatch(stringify!($vt), &other),
                }
            }
            fn lift_scalar(raw: ValRaw) -> Option<Result<Self>> { Some($lift(raw)) }
        }
    )*};
}

const CANONICAL_NAN32: u32 = 0x7fc0_0000;
const CANONICAL_NAN64: u64 = 0x7ff8_0000_0000_0000;

fn lift_char(raw: ValRaw) -> Result<char> {
    char::from_u32(raw.get_i32() as u32).ok_or_else(|| anyhow::Error::new(crate::Trap::InvalidChar))
}

primitives! {
    bool => Bool Bool, |v: bool| ValRaw::i32(v as i32), |r: ValRaw| Ok(r.get_i32() != 0);
    i8 => S8 S8, |v: i8| ValRaw::i32(v as i32), |r: ValRaw| Ok(r.get_i32() as i8);
    u8 => U8 U8, |v: u8| ValRaw::i32(v as i32), |r: ValRaw| Ok(r.get_i32() as u8);
    i16 => S16 S16, |v: i16| ValRaw::i32(v as i32), |r: ValRaw| Ok(r.get_i32() as i16);
    u16 => U16 U16, |v: u16| ValRaw::i32(v as i32), |r: ValRaw| Ok(r.get_i32() as u16);
    i32 => S32 S32, ValRaw::i32, |r: ValRaw| Ok(r.get_i32());
    u32 => U32 U32, |v: u32| ValRaw::i32(v as i32), |r: ValRaw| Ok(r.get_i32() as u32);
    i64 => S64 S64, ValRaw::i64, |r: ValRaw| Ok(r.get_i64());
    u64 => U64 U64, |v: u64| ValRaw::i64(v as i64), |r: ValRaw| Ok(r.get_i64() as u64);
    f32 => Float32 F32,
        |v: f32| ValRaw::f32(if v.is_nan() { CANONICAL_NAN32 } else { v.to_bits() }),
        |r: ValRaw| Ok(if f32::from_bits(r.get_f32()).is_nan() { f32::from_bits(CANONICAL_NAN32) } else { f32::from_bits(r.get_f32()) });
    f64 => Float64 F64,
        |v: f64| ValRaw::f64(if v.is_nan() { CANONICAL_NAN64 } else { v.to_bits() }),
        |r: ValRaw| Ok(if f64::from_bits(r.get_f64()).is_nan() { f64::from_bits(CANONICAL_NAN64) } else { f64::from_bits(r.get_f64()) });
    char => Char Char, |v: char| ValRaw::i32(v as i32), lift_char;
}

impl ComponentType for () {
    fn ty() -> ValueType {
        ValueType::Tuple(Box::new([]))
    }
    const IS_UNIT: bool = true;
}
impl Lower for () {
    fn to_val(&self) -> Val {
        Val::Tuple(Vec::new())
    }
}
impl Lift for () {
    fn from_val(_: Val) -> Result<Self> {
        Ok(())
    }
}

impl ComponentType for String {
    fn ty() -> ValueType {
        ValueType::String
    }
}
impl Lower for String {
    fn to_val(&self) -> Val {
        Val::String(self.clone())
    }
}
impl Lift for String {
    fn from_val(value: Val) -> Result<Self> {
        match value {
            Val::String(s) => Ok(s),
            other => mismatch("string", &other),
        }
    }
}
impl ComponentType for str {
    fn ty() -> ValueType {
        ValueType::String
    }
}
impl Lower for str {
    fn to_val(&self) -> Val {
        Val::String(self.to_string())
    }
}

impl<T: ComponentType + ?Sized> ComponentType for &T {
    fn ty() -> ValueType {
        T::ty()
    }
}
impl<T: Lower + ?Sized> Lower for &T {
    fn to_val(&self) -> Val {
        (**self).to_val()
    }
}

impl<T: ComponentType> ComponentType for [T] {
    fn ty() -> ValueType {
        ValueType::List(Box::new(T::ty()))
    }
}
impl<T: Lower> Lower for [T] {
    fn to_val(&self) -> Val {
        Val::List(self.iter().map(Lower::to_val).collect())
    }
}
impl<T: ComponentType> ComponentType for Vec<T> {
    fn ty() -> ValueType {
        ValueType::List(Box::new(T::ty()))
    }
}
impl<T: Lower> Lower for Vec<T> {
    fn to_val(&self) -> Val {
        Val::List(self.iter().map(Lower::to_val).collect())
    }
}
impl<T: Lift> Lift for Vec<T> {
    fn from_val(value: Val) -> Result<Self> {
        match value {
            Val::List(items) => items.into_iter().map(T::from_val).collect(),
            other => mismatch("list", &other),
        }
    }
}

impl<T: ComponentType> ComponentType for Option<T> {
    fn ty() -> ValueType {
        ValueType::Option(Box::new(T::ty()))
    }
}
impl<T: Lower> Lower for Option<T> {
    fn to_val(&self) -> Val {
        Val::Option(self.as_ref().map(|v| Box::new(v.to_val())))
    }
}
impl<T: Lift> Lift for Option<T> {
    fn from_val(value: Val) -> Result<Self> {
        match value {
            Val::Option(v) => v.map(|v| T::from_val(*v)).transpose(),
            other => mismatch("option", &other),
        }
    }
}

fn payload_type<T: ComponentType>() -> Option<Box<ValueType>> {
    (!T::IS_UNIT).then(|| Box::new(T::ty()))
}

impl<T: ComponentType, E: ComponentType> ComponentType for Result<T, E> {
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
}
impl<T: Lift, E: Lift> Lift for Result<T, E> {
    fn from_val(value: Val) -> Result<Self> {
        let payload = |v: Option<Box<Val>>| v.map(|v| *v).unwrap_or(Val::Tuple(Vec::new()));
        match value {
            Val::Result(Ok(v)) => Ok(Ok(T::from_val(payload(v))?)),
            Val::Result(Err(e)) => Ok(Err(E::from_val(payload(e))?)),
            other => mismatch("result", &other),
        }
    }
}

macro_rules! tuples {
    ($($a:ident)+) => {
        impl<$($a: ComponentType),+> ComponentType for ($($a,)+) {
            fn ty() -> ValueType { ValueType::Tuple(Box::new([$($a::ty()),+])) }
        }
        #[allow(non_snake_case)]
        impl<$($a: Lower),+> Lower for ($($a,)+) {
            fn to_val(&self) -> Val {
                let ($($a,)+) = self;
                Val::Tuple(vec![$($a.to_val()),+])
            }
        }
        #[allow(non_snake_case)]
        impl<$($a: Lift),+> Lift for ($($a,)+) {
            fn from_val(value: Val) -> Result<Self> {
                match value {
                    Val::Tuple(items) => {
                        let mut items = items.into_iter();
                        Ok(($($a::from_val(items.next().ok_or_else(|| anyhow::anyhow!("tuple too short"))?)?,)+))
                    }
                    other => mismatch("tuple", &other),
                }
            }
        }
        #[allow(non_snake_case)]
        impl<$($a: ComponentType),+> ComponentNamedList for ($($a,)+) {
            fn types() -> Vec<ValueType> { vec![$($a::ty()),+] }
        }
        #[allow(non_snake_case, unused_assignments)]
        impl<$($a: Lower),+> LowerParams for ($($a,)+) {
            fn to_vals(&self) -> Vec<Val> {
                let ($($a,)+) = self;
                vec![$($a.to_val()),+]
            }
            fn lower_scalars(&self, out: &mut [ValRaw]) -> bool {
                let ($($a,)+) = self;
                let mut i = 0;
                $(
                    match $a.lower_scalar() {
                        Some(raw) if i < out.len() => out[i] = raw,
                        _ => return false,
                    }
                    i += 1;
                )+
                true
            }
        }
        #[allow(non_snake_case)]
        impl<$($a: Lift),+> LiftParams for ($($a,)+) {
            fn from_vals(values: &[Val]) -> Result<Self> {
                let mut items = values.iter().cloned();
                Ok(($($a::from_val(items.next().ok_or_else(|| anyhow::anyhow!("too few arguments"))?)?,)+))
            }
        }
    };
}

/// A list of parameter types.
pub trait ComponentNamedList {
    /// The types, in order.
    fn types() -> Vec<ValueType>;
}

/// Parameters the host passes to a component function.
pub trait LowerParams: ComponentNamedList {
    /// As dynamic values.
    fn to_vals(&self) -> Vec<Val>;
    /// Lowers every parameter into `out` as one flat value each; false if some parameter is not
    /// a scalar (the caller then takes the general path).
    #[doc(hidden)]
    fn lower_scalars(&self, _out: &mut [ValRaw]) -> bool {
        false
    }
}

/// Parameters a host function receives.
pub trait LiftParams: ComponentNamedList + Sized {
    /// From dynamic values.
    fn from_vals(values: &[Val]) -> Result<Self>;
}

impl ComponentNamedList for () {
    fn types() -> Vec<ValueType> {
        Vec::new()
    }
}
impl LowerParams for () {
    fn to_vals(&self) -> Vec<Val> {
        Vec::new()
    }
    fn lower_scalars(&self, _out: &mut [ValRaw]) -> bool {
        true
    }
}
impl LiftParams for () {
    fn from_vals(_: &[Val]) -> Result<Self> {
        Ok(())
    }
}

tuples!(A1);
tuples!(A1 A2);
tuples!(A1 A2 A3);
tuples!(A1 A2 A3 A4);
tuples!(A1 A2 A3 A4 A5);
tuples!(A1 A2 A3 A4 A5 A6);
tuples!(A1 A2 A3 A4 A5 A6 A7);
tuples!(A1 A2 A3 A4 A5 A6 A7 A8);

/// A function's results: `()` for none, `(T,)` for one.
pub trait ComponentResults: Sized {
    /// The result type, if any.
    fn result_type() -> Option<ValueType>;
    /// The result as a dynamic value.
    fn into_val(self) -> Option<Val>;
    /// From the dynamic result.
    fn from_val(value: Option<Val>) -> Result<Self>;
    /// From the one flat core result of a scalar result type; `None` if not a scalar.
    #[doc(hidden)]
    fn lift_scalar(_raw: ValRaw) -> Option<Result<Self>> {
        None
    }
}

impl ComponentResults for () {
    fn result_type() -> Option<ValueType> {
        None
    }
    fn into_val(self) -> Option<Val> {
        None
    }
    fn from_val(_: Option<Val>) -> Result<Self> {
        Ok(())
    }
    fn lift_scalar(_raw: ValRaw) -> Option<Result<Self>> {
        Some(Ok(()))
    }
}

impl<T: Lift + Lower> ComponentResults for (T,) {
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
    fn lift_scalar(raw: ValRaw) -> Option<Result<Self>> {
        T::lift_scalar(raw).map(|r| r.map(|v| (v,)))
    }
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

    /// The untyped function.
    pub fn func(&self) -> &Func {
        &self.func
    }

    /// Calls the function (post-return runs before this returns).
    pub fn call<T: 'static>(&self, mut store: impl AsContextMut<Data = T>, params: P) -> Result<R> {
        let mut raw = [ValRaw::default(); 16];
        if params.lower_scalars(&mut raw)
            && let Some(result) = self.func.call_scalar(&mut store, &mut raw, R::lift_scalar)
        {
            return result;
        }
        let params = params.to_vals();
        let mut results = if R::result_type().is_some() { vec![Val::Bool(false)] } else { Vec::new() };
        self.func.call(&mut store, &params, &mut results)?;
        R::from_val(results.pop())
    }
}
