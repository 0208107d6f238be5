//! [`Type`]: the type of a component value, as the embedder sees it.
//!
//! The shapes follow Wasmtime's `component::types`: one enum with a case per Component Model value
//! type, where each compound case wraps a small handle ([`List`], [`Record`], [`Variant`], ...) that
//! offers accessors for its parts. Every handle owns the engine-independent
//! [`kiln_environ::component::ValueType`] it describes, so converting back and forth is cheap and
//! lossless.

use kiln_environ::component::ResourceId;
/// The engine's structural value and function types, which [`Type`] wraps and
/// [`super::ComponentType::ty`] returns.
pub use kiln_environ::component::{FuncType, ValueType};
use std::fmt;

/// The type of a component value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// `bool`.
    Bool,
    /// `s8`.
    S8,
    /// `u8`.
    U8,
    /// `s16`.
    S16,
    /// `u16`.
    U16,
    /// `s32`.
    S32,
    /// `u32`.
    U32,
    /// `s64`.
    S64,
    /// `u64`.
    U64,
    /// `f32`.
    Float32,
    /// `f64`.
    Float64,
    /// `char`.
    Char,
    /// `string`.
    String,
    /// `list<T>`.
    List(List),
    /// `map<K, V>`: values are [`super::Val::Map`].
    Map(Map),
    /// `list<T, N>`: values are [`super::Val::List`]s of exactly `N` elements.
    FixedLengthList(FixedLengthList),
    /// `record { ... }`.
    Record(Record),
    /// `tuple<...>`.
    Tuple(Tuple),
    /// `variant { ... }`.
    Variant(Variant),
    /// `enum { ... }`.
    Enum(Enum),
    /// `option<T>`.
    Option(OptionType),
    /// `result<T?, E?>`.
    Result(ResultType),
    /// `flags { ... }`.
    Flags(Flags),
    /// `own<R>`: values are [`super::Val::Resource`].
    Own(HandleType),
    /// `borrow<R>`: values are [`super::Val::Resource`].
    Borrow(HandleType),
}

// Primitive types have no handle to own their `ValueType`; `Type::value_type` lends these.
static BOOL: ValueType = ValueType::Bool;
static S8: ValueType = ValueType::S8;
static U8: ValueType = ValueType::U8;
static S16: ValueType = ValueType::S16;
static U16: ValueType = ValueType::U16;
static S32: ValueType = ValueType::S32;
static U32: ValueType = ValueType::U32;
static S64: ValueType = ValueType::S64;
static U64: ValueType = ValueType::U64;
static F32: ValueType = ValueType::F32;
static F64: ValueType = ValueType::F64;
static CHAR: ValueType = ValueType::Char;
static STRING: ValueType = ValueType::String;

impl Type {
    /// The dynamic type describing `ty`.
    pub fn from_value_type(ty: &ValueType) -> Type {
        match ty {
            ValueType::Bool => Type::Bool,
            ValueType::S8 => Type::S8,
            ValueType::U8 => Type::U8,
            ValueType::S16 => Type::S16,
            ValueType::U16 => Type::U16,
            ValueType::S32 => Type::S32,
            ValueType::U32 => Type::U32,
            ValueType::S64 => Type::S64,
            ValueType::U64 => Type::U64,
            ValueType::F32 => Type::Float32,
            ValueType::F64 => Type::Float64,
            ValueType::Char => Type::Char,
            ValueType::String => Type::String,
            ValueType::List(_) => Type::List(List(ty.clone())),
            ValueType::Map(..) => Type::Map(Map(ty.clone())),
            ValueType::FixedList(..) => Type::FixedLengthList(FixedLengthList(ty.clone())),
            ValueType::Record(_) => Type::Record(Record(ty.clone())),
            ValueType::Tuple(_) => Type::Tuple(Tuple(ty.clone())),
            ValueType::Variant(_) => Type::Variant(Variant(ty.clone())),
            ValueType::Enum(_) => Type::Enum(Enum(ty.clone())),
            ValueType::Option(_) => Type::Option(OptionType(ty.clone())),
            ValueType::Result { .. } => Type::Result(ResultType(ty.clone())),
            ValueType::Flags(_) => Type::Flags(Flags(ty.clone())),
            ValueType::Own(_) => Type::Own(HandleType(ty.clone())),
            ValueType::Borrow(_) => Type::Borrow(HandleType(ty.clone())),
        }
    }

    /// The engine-independent type this describes (what the Canonical ABI layout rules take).
    pub fn value_type(&self) -> &ValueType {
        match self {
            Type::Bool => &BOOL,
            Type::S8 => &S8,
            Type::U8 => &U8,
            Type::S16 => &S16,
            Type::U16 => &U16,
            Type::S32 => &S32,
            Type::U32 => &U32,
            Type::S64 => &S64,
            Type::U64 => &U64,
            Type::Float32 => &F32,
            Type::Float64 => &F64,
            Type::Char => &CHAR,
            Type::String => &STRING,
            Type::List(t) => &t.0,
            Type::Map(t) => &t.0,
            Type::FixedLengthList(t) => &t.0,
            Type::Record(t) => &t.0,
            Type::Tuple(t) => &t.0,
            Type::Variant(t) => &t.0,
            Type::Enum(t) => &t.0,
            Type::Option(t) => &t.0,
            Type::Result(t) => &t.0,
            Type::Flags(t) => &t.0,
            Type::Own(t) | Type::Borrow(t) => &t.0,
        }
    }

    /// A short description of the kind of type ("list", "record", ...), for error messages.
    pub fn desc(&self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::S8 => "s8",
            Type::U8 => "u8",
            Type::S16 => "s16",
            Type::U16 => "u16",
            Type::S32 => "s32",
            Type::U32 => "u32",
            Type::S64 => "s64",
            Type::U64 => "u64",
            Type::Float32 => "f32",
            Type::Float64 => "f64",
            Type::Char => "char",
            Type::String => "string",
            Type::List(_) => "list",
            Type::Map(_) => "map",
            Type::FixedLengthList(_) => "fixed-length list",
            Type::Record(_) => "record",
            Type::Tuple(_) => "tuple",
            Type::Variant(_) => "variant",
            Type::Enum(_) => "enum",
            Type::Option(_) => "option",
            Type::Result(_) => "result",
            Type::Flags(_) => "flags",
            Type::Own(_) => "own",
            Type::Borrow(_) => "borrow",
        }
    }
}

impl From<&ValueType> for Type {
    fn from(ty: &ValueType) -> Type {
        Type::from_value_type(ty)
    }
}

impl From<ValueType> for Type {
    fn from(ty: ValueType) -> Type {
        Type::from_value_type(&ty)
    }
}

impl From<&Type> for ValueType {
    fn from(ty: &Type) -> ValueType {
        ty.value_type().clone()
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value_type().fmt(f)
    }
}

macro_rules! handle_impls {
    ($($name:ident),*) => {$(
        impl $name {
            /// The engine-independent type this describes.
            pub fn value_type(&self) -> &ValueType {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

handle_impls!(List, Record, Tuple, Variant, Enum, OptionType, ResultType, Flags, HandleType);
handle_impls!(Map, FixedLengthList);

/// A `list<T>` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct List(ValueType);

impl List {
    /// The element type.
    pub fn ty(&self) -> Type {
        match &self.0 {
            ValueType::List(elem) => Type::from_value_type(elem),
            _ => unreachable!(),
        }
    }
}

/// A `map<K, V>` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Map(ValueType);

impl Map {
    /// The key type.
    pub fn key(&self) -> Type {
        match &self.0 {
            ValueType::Map(key, _) => Type::from_value_type(key),
            _ => unreachable!(),
        }
    }

    /// The value type.
    pub fn value(&self) -> Type {
        match &self.0 {
            ValueType::Map(_, value) => Type::from_value_type(value),
            _ => unreachable!(),
        }
    }
}

/// A `list<T, N>` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FixedLengthList(ValueType);

impl FixedLengthList {
    /// The element type.
    pub fn ty(&self) -> Type {
        match &self.0 {
            ValueType::FixedList(elem, _) => Type::from_value_type(elem),
            _ => unreachable!(),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> u32 {
        match &self.0 {
            ValueType::FixedList(_, n) => *n,
            _ => unreachable!(),
        }
    }

    /// Whether the list has no elements (never: validation requires at least one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A `record` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record(ValueType);

/// A field of a [`Record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field's name.
    pub name: &'a str,
    /// The field's type.
    pub ty: Type,
}

impl Record {
    /// The fields, in declaration (and memory layout) order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = Field<'_>> {
        let fields = match &self.0 {
            ValueType::Record(fields) => &fields[..],
            _ => unreachable!(),
        };
        fields.iter().map(|f| Field { name: &f.name, ty: Type::from_value_type(&f.ty) })
    }
}

/// A `tuple` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tuple(ValueType);

impl Tuple {
    /// The element types, in order.
    pub fn types(&self) -> impl ExactSizeIterator<Item = Type> + '_ {
        let types = match &self.0 {
            ValueType::Tuple(types) => &types[..],
            _ => unreachable!(),
        };
        types.iter().map(Type::from_value_type)
    }
}

/// A `variant` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Variant(ValueType);

/// A case of a [`Variant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case<'a> {
    /// The case's name.
    pub name: &'a str,
    /// The case's payload type, if it has one.
    pub ty: Option<Type>,
}

impl Variant {
    /// The cases, in discriminant order.
    pub fn cases(&self) -> impl ExactSizeIterator<Item = Case<'_>> {
        let cases = match &self.0 {
            ValueType::Variant(cases) => &cases[..],
            _ => unreachable!(),
        };
        cases.iter().map(|c| Case { name: &c.name, ty: c.ty.as_ref().map(Type::from_value_type) })
    }
}

/// An `enum` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Enum(ValueType);

impl Enum {
    /// The case names, in discriminant order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        let names = match &self.0 {
            ValueType::Enum(names) => &names[..],
            _ => unreachable!(),
        };
        names.iter().map(String::as_str)
    }
}

/// An `option<T>` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionType(ValueType);

impl OptionType {
    /// The payload type of `some`.
    pub fn ty(&self) -> Type {
        match &self.0 {
            ValueType::Option(t) => Type::from_value_type(t),
            _ => unreachable!(),
        }
    }
}

/// A `result<T?, E?>` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultType(ValueType);

impl ResultType {
    /// The payload type of `ok`, if any.
    pub fn ok(&self) -> Option<Type> {
        match &self.0 {
            ValueType::Result { ok, .. } => ok.as_deref().map(Type::from_value_type),
            _ => unreachable!(),
        }
    }

    /// The payload type of `error`, if any.
    pub fn err(&self) -> Option<Type> {
        match &self.0 {
            ValueType::Result { err, .. } => err.as_deref().map(Type::from_value_type),
            _ => unreachable!(),
        }
    }
}

/// A `flags` type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Flags(ValueType);

impl Flags {
    /// The flag names, in bit order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        let names = match &self.0 {
            ValueType::Flags(names) => &names[..],
            _ => unreachable!(),
        };
        names.iter().map(String::as_str)
    }
}

/// The resource named by an `own<R>` or `borrow<R>` type, by its index among the resource
/// types of the component (use [`super::Instance::get_resource`] and
/// [`super::ResourceAny::ty`] for resource identities).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HandleType(ValueType);

impl HandleType {
    /// The resource's index within its component.
    pub fn id(&self) -> ResourceId {
        match &self.0 {
            ValueType::Own(id) | ValueType::Borrow(id) => *id,
            _ => unreachable!(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_environ::component::{Case as EnvCase, Field as EnvField};

    #[test]
    fn accessors_and_round_trip() {
        let ty = ValueType::Record(
            vec![
                EnvField { name: "a".into(), ty: ValueType::String },
                EnvField {
                    name: "b".into(),
                    ty: ValueType::Option(Box::new(ValueType::List(Box::new(ValueType::U16)))),
                },
            ]
            .into(),
        );
        let t = Type::from_value_type(&ty);
        assert_eq!(t.value_type(), &ty);
        assert_eq!(t.to_string(), "record { a: string, b: option<list<u16>> }");
        let Type::Record(r) = &t else { panic!() };
        let fields: Vec<_> = r.fields().collect();
        assert_eq!(fields[0], Field { name: "a", ty: Type::String });
        let Type::Option(o) = &fields[1].ty else { panic!() };
        let Type::List(l) = o.ty() else { panic!() };
        assert_eq!(l.ty(), Type::U16);

        let v = Type::from(ValueType::Variant(
            vec![EnvCase { name: "x".into(), ty: None }, EnvCase { name: "y".into(), ty: Some(ValueType::F32) }].into(),
        ));
        let Type::Variant(v) = v else { panic!() };
        let cases: Vec<_> = v.cases().collect();
        assert_eq!(cases, [Case { name: "x", ty: None }, Case { name: "y", ty: Some(Type::Float32) }]);

        let r = Type::from(ValueType::Result { ok: None, err: Some(Box::new(ValueType::String)) });
        let Type::Result(r) = &r else { panic!() };
        assert_eq!((r.ok(), r.err()), (None, Some(Type::String)));
        assert_eq!(r.to_string(), "result<_, string>");

        let e = Type::from(ValueType::Enum(vec!["p".into(), "q".into()].into()));
        let Type::Enum(e) = &e else { panic!() };
        assert_eq!(e.names().collect::<Vec<_>>(), ["p", "q"]);
        let f = Type::from(ValueType::Flags(vec!["r".into()].into()));
        let Type::Flags(f) = &f else { panic!() };
        assert_eq!(f.names().collect::<Vec<_>>(), ["r"]);
        let t = Type::from(ValueType::Tuple(vec![ValueType::U8, ValueType::Char].into()));
        let Type::Tuple(tt) = &t else { panic!() };
        assert_eq!(tt.types().collect::<Vec<_>>(), [Type::U8, Type::Char]);
        assert_eq!(ValueType::from(&t), *t.value_type());
        assert_eq!(Type::Float64.value_type(), &ValueType::F64);
        let m = Type::from(ValueType::Map(Box::new(ValueType::String), Box::new(ValueType::U32)));
        let Type::Map(map) = &m else { panic!() };
        assert_eq!((map.key(), map.value()), (Type::String, Type::U32));
        assert_eq!(m.to_string(), "map<string, u32>");
        let l = Type::from(ValueType::FixedList(Box::new(ValueType::Char), 4));
        let Type::FixedLengthList(list) = &l else { panic!() };
        assert_eq!((list.ty(), list.len(), list.is_empty()), (Type::Char, 4, false));
        assert_eq!((l.to_string(), l.desc()), ("list<char, 4>".to_string(), "fixed-length list"));
        let own = Type::from(ValueType::Own(ResourceId(3)));
        let Type::Own(res) = &own else { panic!() };
        assert_eq!(res.id(), ResourceId(3));
    }
}
