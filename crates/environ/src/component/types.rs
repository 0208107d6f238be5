//! Component-level types: what `canon lift` / `canon lower` convert between.

use std::fmt;

/// Identifies a resource type. In a [`super::Translation`] it is a static key (one per resource
/// type the validator knows); in a [`super::ComponentPlan`] it is a run-time resource, an index
/// into [`super::ComponentPlan::resources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub u32);

impl ResourceId {
    /// In a type the host declares (a typed host function's parameters), "a resource the host
    /// checks itself when the value arrives": `own<ANY>` matches any `own` or `borrow` handle in
    /// [`ValueType::accepts`].
    pub const ANY: ResourceId = ResourceId(u32::MAX);
}

/// A component value type, with compound types stored inline (types are small and compared
/// structurally, as the Component Model's type equality is structural).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueType {
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
    F32,
    /// `f64`.
    F64,
    /// `char`: a Unicode scalar value.
    Char,
    /// `string`.
    String,
    /// `list<T>`.
    List(Box<ValueType>),
    /// `map<K, V>`: in the Canonical ABI, a `list<tuple<K, V>>` of its entries.
    Map(Box<ValueType>, Box<ValueType>),
    /// `list<T, N>`: exactly `N` elements (at least one), laid out and flattened like a tuple of
    /// `N` `T`s.
    FixedList(Box<ValueType>, u32),
    /// `record { name: T, ... }` (at least one field).
    Record(Box<[Field]>),
    /// `tuple<T, ...>` (at least one element).
    Tuple(Box<[ValueType]>),
    /// `variant { case(T)?, ... }` (at least one case).
    Variant(Box<[Case]>),
    /// `enum { name, ... }`.
    Enum(Box<[String]>),
    /// `option<T>`.
    Option(Box<ValueType>),
    /// `result<T?, E?>`.
    Result {
        /// The `ok` payload.
        ok: Option<Box<ValueType>>,
        /// The `error` payload.
        err: Option<Box<ValueType>>,
    },
    /// `flags { name, ... }`.
    Flags(Box<[String]>),
    /// `own<R>`.
    Own(ResourceId),
    /// `borrow<R>`.
    Borrow(ResourceId),
}

/// A record field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Field type.
    pub ty: ValueType,
}

/// A variant case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Case {
    /// Case name.
    pub name: String,
    /// Payload type, if any.
    pub ty: Option<ValueType>,
}

/// A component function type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    /// Named parameters.
    pub params: Box<[(String, ValueType)]>,
    /// The result, if any.
    pub result: Option<ValueType>,
}

impl ValueType {
    /// This type with every resource id replaced by `f(id)`.
    pub fn map_resources(
        &self,
        f: &mut impl FnMut(ResourceId) -> anyhow::Result<ResourceId>,
    ) -> anyhow::Result<ValueType> {
        Ok(match self {
            ValueType::Own(r) => ValueType::Own(f(*r)?),
            ValueType::Borrow(r) => ValueType::Borrow(f(*r)?),
            ValueType::List(t) => ValueType::List(Box::new(t.map_resources(f)?)),
            ValueType::Map(k, v) => ValueType::Map(Box::new(k.map_resources(f)?), Box::new(v.map_resources(f)?)),
            ValueType::FixedList(t, n) => ValueType::FixedList(Box::new(t.map_resources(f)?), *n),
            ValueType::Option(t) => ValueType::Option(Box::new(t.map_resources(f)?)),
            ValueType::Record(fields) => ValueType::Record(
                fields
                    .iter()
                    .map(|field| Ok(Field { name: field.name.clone(), ty: field.ty.map_resources(f)? }))
                    .collect::<anyhow::Result<_>>()?,
            ),
            ValueType::Tuple(types) => {
                ValueType::Tuple(types.iter().map(|t| t.map_resources(f)).collect::<anyhow::Result<_>>()?)
            }
            ValueType::Variant(cases) => ValueType::Variant(
                cases
                    .iter()
                    .map(|c| {
                        Ok(Case { name: c.name.clone(), ty: c.ty.as_ref().map(|t| t.map_resources(f)).transpose()? })
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            ValueType::Result { ok, err } => ValueType::Result {
                ok: ok.as_ref().map(|t| t.map_resources(f).map(Box::new)).transpose()?,
                err: err.as_ref().map(|t| t.map_resources(f).map(Box::new)).transpose()?,
            },
            other => other.clone(),
        })
    }

    /// Whether a host function declared with type `self` can take or give values of type
    /// `actual`: equal types, where [`ResourceId::ANY`] in `self` stands for any resource.
    pub fn accepts(&self, actual: &ValueType) -> bool {
        match (self, actual) {
            (ValueType::Own(a), ValueType::Own(b)) | (ValueType::Borrow(a), ValueType::Borrow(b)) => {
                *a == ResourceId::ANY || a == b
            }
            // A host handle type (`Resource<T>`, `ResourceAny`) is either kind of handle.
            (ValueType::Own(ResourceId::ANY), ValueType::Borrow(_)) => true,
            (ValueType::List(a), ValueType::List(b)) | (ValueType::Option(a), ValueType::Option(b)) => a.accepts(b),
            (ValueType::Map(ak, av), ValueType::Map(bk, bv)) => ak.accepts(bk) && av.accepts(bv),
            (ValueType::FixedList(a, an), ValueType::FixedList(b, bn)) => an == bn && a.accepts(b),
            (ValueType::Record(a), ValueType::Record(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| a.name == b.name && a.ty.accepts(&b.ty))
            }
            (ValueType::Tuple(a), ValueType::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| a.accepts(b))
            }
            (ValueType::Variant(a), ValueType::Variant(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b.iter()).all(|(a, b)| {
                        a.name == b.name
                            && match (&a.ty, &b.ty) {
                                (None, None) => true,
                                (Some(a), Some(b)) => a.accepts(b),
                                _ => false,
                            }
                    })
            }
            (ValueType::Result { ok: ao, err: ae }, ValueType::Result { ok: bo, err: be }) => {
                let payload = |a: &Option<Box<ValueType>>, b: &Option<Box<ValueType>>| match (a, b) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.accepts(b),
                    _ => false,
                };
                payload(ao, bo) && payload(ae, be)
            }
            (a, b) => a == b,
        }
    }

    /// Whether values of this type contain resource handles.
    pub fn has_handles(&self) -> bool {
        match self {
            ValueType::Own(_) | ValueType::Borrow(_) => true,
            ValueType::List(t) | ValueType::Option(t) => t.has_handles(),
            ValueType::FixedList(t, _) => t.has_handles(),
            ValueType::Map(k, v) => k.has_handles() || v.has_handles(),
            ValueType::Record(fields) => fields.iter().any(|f| f.ty.has_handles()),
            ValueType::Tuple(types) => types.iter().any(|t| t.has_handles()),
            ValueType::Variant(cases) => cases.iter().any(|c| c.ty.as_ref().is_some_and(|t| t.has_handles())),
            ValueType::Result { ok, err } => {
                ok.as_ref().is_some_and(|t| t.has_handles()) || err.as_ref().is_some_and(|t| t.has_handles())
            }
            _ => false,
        }
    }

    /// Whether values of this type contain `borrow` handles.
    pub fn has_borrows(&self) -> bool {
        match self {
            ValueType::Borrow(_) => true,
            ValueType::List(t) | ValueType::Option(t) => t.has_borrows(),
            ValueType::FixedList(t, _) => t.has_borrows(),
            ValueType::Map(k, v) => k.has_borrows() || v.has_borrows(),
            ValueType::Record(fields) => fields.iter().any(|f| f.ty.has_borrows()),
            ValueType::Tuple(types) => types.iter().any(|t| t.has_borrows()),
            ValueType::Variant(cases) => cases.iter().any(|c| c.ty.as_ref().is_some_and(|t| t.has_borrows())),
            ValueType::Result { ok, err } => {
                ok.as_ref().is_some_and(|t| t.has_borrows()) || err.as_ref().is_some_and(|t| t.has_borrows())
            }
            _ => false,
        }
    }

    /// The cases of this type viewed as a variant (the Canonical ABI's "despecialization"):
    /// `enum`, `option` and `result` are variants; other types return `None`.
    pub fn as_variant_cases(&self) -> Option<Vec<Option<&ValueType>>> {
        Some(match self {
            ValueType::Variant(cases) => cases.iter().map(|c| c.ty.as_ref()).collect(),
            ValueType::Enum(names) => names.iter().map(|_| None).collect(),
            ValueType::Option(t) => vec![None, Some(&**t)],
            ValueType::Result { ok, err } => vec![ok.as_deref(), err.as_deref()],
            _ => return None,
        })
    }

    /// The element type of a `list` or `map` (whose elements are `tuple<K, V>` entries) in linear
    /// memory; `None` for other types.
    pub fn list_element(&self) -> Option<std::borrow::Cow<'_, ValueType>> {
        use std::borrow::Cow;
        match self {
            ValueType::List(t) => Some(Cow::Borrowed(&**t)),
            ValueType::Map(k, v) => Some(Cow::Owned(ValueType::Tuple(Box::new([(**k).clone(), (**v).clone()])))),
            _ => None,
        }
    }

    /// The field types of this type viewed as a record (`record` and `tuple`).
    pub fn as_record_fields(&self) -> Option<Vec<&ValueType>> {
        Some(match self {
            ValueType::Record(fields) => fields.iter().map(|f| &f.ty).collect(),
            ValueType::Tuple(types) => types.iter().collect(),
            _ => return None,
        })
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Bool => f.write_str("bool"),
            ValueType::S8 => f.write_str("s8"),
            ValueType::U8 => f.write_str("u8"),
            ValueType::S16 => f.write_str("s16"),
            ValueType::U16 => f.write_str("u16"),
            ValueType::S32 => f.write_str("s32"),
            ValueType::U32 => f.write_str("u32"),
            ValueType::S64 => f.write_str("s64"),
            ValueType::U64 => f.write_str("u64"),
            ValueType::F32 => f.write_str("f32"),
            ValueType::F64 => f.write_str("f64"),
            ValueType::Char => f.write_str("char"),
            ValueType::String => f.write_str("string"),
            ValueType::List(t) => write!(f, "list<{t}>"),
            ValueType::Map(k, v) => write!(f, "map<{k}, {v}>"),
            ValueType::FixedList(t, n) => write!(f, "list<{t}, {n}>"),
            ValueType::Record(fields) => {
                f.write_str("record { ")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", field.name, field.ty)?;
                }
                f.write_str(" }")
            }
            ValueType::Tuple(types) => {
                f.write_str("tuple<")?;
                for (i, t) in types.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(">")
            }
            ValueType::Variant(cases) => {
                f.write_str("variant { ")?;
                for (i, case) in cases.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match &case.ty {
                        Some(t) => write!(f, "{}({t})", case.name)?,
                        None => f.write_str(&case.name)?,
                    }
                }
                f.write_str(" }")
            }
            ValueType::Enum(names) => write!(f, "enum {{ {} }}", names.join(", ")),
            ValueType::Option(t) => write!(f, "option<{t}>"),
            ValueType::Result { ok, err } => match (ok, err) {
                (None, None) => f.write_str("result"),
                (Some(ok), None) => write!(f, "result<{ok}>"),
                (None, Some(err)) => write!(f, "result<_, {err}>"),
                (Some(ok), Some(err)) => write!(f, "result<{ok}, {err}>"),
            },
            ValueType::Flags(names) => write!(f, "flags {{ {} }}", names.join(", ")),
            ValueType::Own(r) => write!(f, "own<resource {}>", r.0),
            ValueType::Borrow(r) => write!(f, "borrow<resource {}>", r.0),
        }
    }
}

impl FuncType {
    /// This type with every resource id replaced by `f(id)`.
    pub fn map_resources(
        &self,
        f: &mut impl FnMut(ResourceId) -> anyhow::Result<ResourceId>,
    ) -> anyhow::Result<FuncType> {
        Ok(FuncType {
            params: self
                .params
                .iter()
                .map(|(n, t)| Ok((n.clone(), t.map_resources(f)?)))
                .collect::<anyhow::Result<_>>()?,
            result: self.result.as_ref().map(|t| t.map_resources(f)).transpose()?,
        })
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("func(")?;
        for (i, (name, ty)) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}: {ty}")?;
        }
        f.write_str(")")?;
        if let Some(result) = &self.result {
            write!(f, " -> {result}")?;
        }
        Ok(())
    }
}
