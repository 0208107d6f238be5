//! [`Val`]: a dynamically typed component value, and its deep type check against a
//! [`ValueType`].
//!
//! The shapes follow Wasmtime's `component::Val` (without resources): records carry their field
//! names, variants, enums and flags their case names, so a value can be checked against a type
//! without knowing where it came from.

use anyhow::{Result, bail};
use kiln_environ::component::ValueType;
use std::fmt::Write;

/// A dynamically typed component value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// `bool`.
    Bool(bool),
    /// `s8`.
    S8(i8),
    /// `u8`.
    U8(u8),
    /// `s16`.
    S16(i16),
    /// `u16`.
    U16(u16),
    /// `s32`.
    S32(i32),
    /// `u32`.
    U32(u32),
    /// `s64`.
    S64(i64),
    /// `u64`.
    U64(u64),
    /// `f32`.
    Float32(f32),
    /// `f64`.
    Float64(f64),
    /// `char`.
    Char(char),
    /// `string`.
    String(String),
    /// `list<T>`, and `list<T, N>` (whose values have exactly `N` elements).
    List(Vec<Val>),
    /// `map<K, V>`: its entries, in order (the Canonical ABI keeps them as a list).
    Map(Vec<(Val, Val)>),
    /// `record`: every field, in the type's order, with its name.
    Record(Vec<(String, Val)>),
    /// `tuple`.
    Tuple(Vec<Val>),
    /// `variant`: the case name and its payload (present exactly when the case has a type).
    Variant(String, Option<Box<Val>>),
    /// `enum`: the case name.
    Enum(String),
    /// `option<T>`.
    Option(Option<Box<Val>>),
    /// `result<T?, E?>`: each payload is present exactly when the type has one.
    Result(Result<Option<Box<Val>>, Option<Box<Val>>>),
    /// `flags`: the names of the flags that are set.
    Flags(Vec<String>),
    /// `own<R>` or `borrow<R>`: a handle held by the host.
    Resource(super::ResourceAny),
}

impl Val {
    /// A short description of the kind of value ("list", "record", ...), for error messages.
    pub fn desc(&self) -> &'static str {
        match self {
            Val::Bool(_) => "bool",
            Val::S8(_) => "s8",
            Val::U8(_) => "u8",
            Val::S16(_) => "s16",
            Val::U16(_) => "u16",
            Val::S32(_) => "s32",
            Val::U32(_) => "u32",
            Val::S64(_) => "s64",
            Val::U64(_) => "u64",
            Val::Float32(_) => "f32",
            Val::Float64(_) => "f64",
            Val::Char(_) => "char",
            Val::String(_) => "string",
            Val::List(_) => "list",
            Val::Map(_) => "map",
            Val::Record(_) => "record",
            Val::Tuple(_) => "tuple",
            Val::Variant(..) => "variant",
            Val::Enum(_) => "enum",
            Val::Option(_) => "option",
            Val::Result(_) => "result",
            Val::Flags(_) => "flags",
            Val::Resource(_) => "resource",
        }
    }

    /// Whether this value has type `ty` (checked deeply).
    pub fn matches(&self, ty: &ValueType) -> bool {
        self.typecheck(ty).is_ok()
    }

    /// Checks that this value has type `ty`, deeply; the error names the path to the first
    /// mismatch (for example ``type mismatch at `[2].b.some`: expected list<u16>, found string``).
    pub fn typecheck(&self, ty: &ValueType) -> Result<()> {
        let mut path = String::new();
        self.check(ty, &mut path)
    }

    fn check(&self, ty: &ValueType, path: &mut String) -> Result<()> {
        let ok = match (self, ty) {
            (Val::Bool(_), ValueType::Bool)
            | (Val::S8(_), ValueType::S8)
            | (Val::U8(_), ValueType::U8)
            | (Val::S16(_), ValueType::S16)
            | (Val::U16(_), ValueType::U16)
            | (Val::S32(_), ValueType::S32)
            | (Val::U32(_), ValueType::U32)
            | (Val::S64(_), ValueType::S64)
            | (Val::U64(_), ValueType::U64)
            | (Val::Float32(_), ValueType::F32)
            | (Val::Float64(_), ValueType::F64)
            | (Val::Char(_), ValueType::Char)
            | (Val::String(_), ValueType::String) => true,
            (Val::List(elems), ValueType::List(elem)) => {
                for (i, v) in elems.iter().enumerate() {
                    nested(path, format_args!("[{i}]"), |path| v.check(elem, path))?;
                }
                true
            }
            (Val::List(elems), ValueType::FixedList(elem, n)) => {
                if elems.len() != *n as usize {
                    return mismatch(path, format_args!("list of {} elements", elems.len()), ty);
                }
                for (i, v) in elems.iter().enumerate() {
                    nested(path, format_args!("[{i}]"), |path| v.check(elem, path))?;
                }
                true
            }
            (Val::Map(entries), ValueType::Map(key, value)) => {
                for (i, (k, v)) in entries.iter().enumerate() {
                    nested(path, format_args!("[{i}].key"), |path| k.check(key, path))?;
                    nested(path, format_args!("[{i}].value"), |path| v.check(value, path))?;
                }
                true
            }
            (Val::Record(values), ValueType::Record(fields)) => {
                if values.len() != fields.len() {
                    return mismatch(path, format_args!("record with {} fields", values.len()), ty);
                }
                for ((name, v), field) in values.iter().zip(fields.iter()) {
                    if *name != field.name {
                        return mismatch(path, format_args!("record field `{name}` where `{}` is", field.name), ty);
                    }
                    nested(path, format_args!(".{name}"), |path| v.check(&field.ty, path))?;
                }
                true
            }
            (Val::Tuple(values), ValueType::Tuple(types)) => {
                if values.len() != types.len() {
                    return mismatch(path, format_args!("tuple of {} values", values.len()), ty);
                }
                for (i, (v, t)) in values.iter().zip(types.iter()).enumerate() {
                    nested(path, format_args!(".{i}"), |path| v.check(t, path))?;
                }
                true
            }
            (Val::Variant(name, payload), ValueType::Variant(cases)) => {
                let Some(case) = cases.iter().find(|c| c.name == *name) else {
                    return mismatch(path, format_args!("variant case `{name}`"), ty);
                };
                check_payload(path, name, payload.as_deref(), case.ty.as_ref(), ty)?;
                true
            }
            (Val::Enum(name), ValueType::Enum(names)) => {
                if !names.contains(name) {
                    return mismatch(path, format_args!("enum case `{name}`"), ty);
                }
                true
            }
            (Val::Option(payload), ValueType::Option(t)) => {
                if let Some(v) = payload {
                    nested(path, format_args!(".some"), |path| v.check(t, path))?;
                }
                true
            }
            (Val::Result(r), ValueType::Result { ok, err }) => {
                match r {
                    Ok(payload) => check_payload(path, "ok", payload.as_deref(), ok.as_deref(), ty)?,
                    Err(payload) => check_payload(path, "err", payload.as_deref(), err.as_deref(), ty)?,
                }
                true
            }
            // The resource type itself is checked when the handle is lowered (a `ValueType`
            // names resources by their index in one component).
            (Val::Resource(r), ValueType::Own(_) | ValueType::Borrow(_)) => {
                if matches!(ty, ValueType::Own(_)) && !r.owned {
                    return mismatch(path, format_args!("a borrowed handle"), ty);
                }
                true
            }
            (Val::Flags(set), ValueType::Flags(names)) => {
                if let Some(name) = set.iter().find(|n| !names.contains(n)) {
                    return mismatch(path, format_args!("flag `{name}`"), ty);
                }
                true
            }
            _ => false,
        };
        if !ok {
            return mismatch(path, format_args!("{}", self.desc()), ty);
        }
        Ok(())
    }
}

/// Checks a variant-like payload against the case's payload type.
fn check_payload(
    path: &mut String,
    case: &str,
    payload: Option<&Val>,
    ty: Option<&ValueType>,
    whole: &ValueType,
) -> Result<()> {
    match (payload, ty) {
        (None, None) => Ok(()),
        (Some(v), Some(t)) => nested(path, format_args!(".{case}"), |path| v.check(t, path)),
        (Some(_), None) => mismatch(path, format_args!("a payload for case `{case}`, which has none"), whole),
        (None, Some(_)) => mismatch(path, format_args!("no payload for case `{case}`, which needs one"), whole),
    }
}

/// Runs `f` with `segment` appended to `path`, restoring `path` afterwards.
fn nested(
    path: &mut String,
    segment: std::fmt::Arguments<'_>,
    f: impl FnOnce(&mut String) -> Result<()>,
) -> Result<()> {
    let len = path.len();
    write!(path, "{segment}").unwrap();
    let result = f(path);
    path.truncate(len);
    result
}

fn mismatch(path: &str, found: std::fmt::Arguments<'_>, expected: &ValueType) -> Result<()> {
    if path.is_empty() {
        bail!("type mismatch: expected {expected}, found {found}")
    }
    bail!("type mismatch at `{path}`: expected {expected}, found {found}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_environ::component::{Case, Field};

    fn nested_type() -> ValueType {
        ValueType::List(Box::new(ValueType::Record(
            vec![
                Field { name: "a".into(), ty: ValueType::String },
                Field { name: "b".into(), ty: ValueType::Option(Box::new(ValueType::List(Box::new(ValueType::U16)))) },
            ]
            .into(),
        )))
    }

    #[test]
    fn typecheck_accepts_and_names_paths() {
        let ty = nested_type();
        let good_elem = Val::Record(vec![
            ("a".into(), Val::String("x".into())),
            ("b".into(), Val::Option(Some(Box::new(Val::List(vec![Val::U16(1)]))))),
        ]);
        let good = Val::List(vec![good_elem.clone()]);
        assert!(good.matches(&ty));
        let bad = Val::List(vec![
            good_elem.clone(),
            Val::Record(vec![
                ("a".into(), Val::String("x".into())),
                ("b".into(), Val::Option(Some(Box::new(Val::List(vec![Val::U16(1), Val::U32(2)]))))),
            ]),
        ]);
        let err = bad.typecheck(&ty).unwrap_err().to_string();
        assert_eq!(err, "type mismatch at `[1].b.some[1]`: expected u16, found u32");
        let err = Val::U8(0).typecheck(&ValueType::S8).unwrap_err().to_string();
        assert_eq!(err, "type mismatch: expected s8, found u8");
        let renamed =
            Val::List(vec![Val::Record(vec![("z".into(), Val::String("x".into())), ("b".into(), Val::Option(None))])]);
        assert!(renamed.typecheck(&ty).unwrap_err().to_string().contains("record field `z` where `a` is"));
    }

    #[test]
    fn typecheck_variants_enums_flags() {
        let variant = ValueType::Variant(
            vec![Case { name: "n".into(), ty: None }, Case { name: "s".into(), ty: Some(ValueType::String) }].into(),
        );
        assert!(Val::Variant("n".into(), None).matches(&variant));
        assert!(Val::Variant("s".into(), Some(Box::new(Val::String("".into())))).matches(&variant));
        assert!(!Val::Variant("s".into(), None).matches(&variant));
        assert!(!Val::Variant("n".into(), Some(Box::new(Val::U8(1)))).matches(&variant));
        assert!(!Val::Variant("q".into(), None).matches(&variant));
        let result = ValueType::Result { ok: None, err: Some(Box::new(ValueType::String)) };
        assert!(Val::Result(Ok(None)).matches(&result));
        assert!(Val::Result(Err(Some(Box::new(Val::String("e".into()))))).matches(&result));
        assert!(!Val::Result(Err(None)).matches(&result));
        let e = ValueType::Enum(vec!["a".into(), "b".into()].into());
        assert!(Val::Enum("b".into()).matches(&e));
        assert!(!Val::Enum("c".into()).matches(&e));
        let f = ValueType::Flags(vec!["a".into(), "b".into()].into());
        assert!(Val::Flags(vec!["b".into()]).matches(&f));
        assert!(!Val::Flags(vec!["c".into()]).matches(&f));
        let t = ValueType::Tuple(vec![ValueType::U8, ValueType::Char].into());
        assert!(Val::Tuple(vec![Val::U8(1), Val::Char('x')]).matches(&t));
        assert!(!Val::Tuple(vec![Val::U8(1)]).matches(&t));
        assert!(!Val::U32(1).matches(&ValueType::Own(kiln_environ::component::ResourceId(0))));
    }
}
