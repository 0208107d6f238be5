//! Component Model values in scripts: converting `(str.const "x")`-style arguments to
//! [`kiln::component::Val`]s of a function's parameter types, comparing results with the values
//! an `assert_return` expects, and formatting both for failure messages; and the export tree of a
//! component, which the runner walks to make a named instance importable.

use anyhow::{Context as _, Result, bail};
use kiln::component::{Type, Val};
use std::fmt::Write as _;
use wasmparser::component_types::ComponentEntityType;
use wasmparser::types::TypesRef;
use wasmparser::{Parser, Payload, Validator, WasmFeatures};
use wast::component::WastVal;

/// One export of a component, as far as another component can import it through the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportTree {
    /// A function.
    Func,
    /// An instance, with its exports in order.
    Instance(Vec<(String, ExportTree)>),
    /// A core module.
    Module,
    /// A resource type.
    Resource,
    /// Anything else (a type, a component, a value): not registered.
    Other,
}

/// The root exports of the component binary `bytes`, in order, with the exports of exported
/// instances at every depth (from the instances' types).
pub fn export_tree(bytes: &[u8]) -> Result<Vec<(String, ExportTree)>> {
    let types = Validator::new_with_features(WasmFeatures::all())
        .validate_all(bytes)
        .context("failed to validate the component to list its exports")?;
    let types = types.as_ref();
    // The root's export names, in order: the export sections at nesting depth 1 (nested modules
    // and components come with their own `Version` .. `End`).
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentExportSection(section) if depth == 1 => {
                for export in section {
                    names.push(export?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    names
        .into_iter()
        .map(|name| {
            let item =
                types.component_item_for_export(&name).with_context(|| format!("export `{name}` has no type"))?;
            let tree = entity_tree(types, &item.ty);
            Ok((name, tree))
        })
        .collect()
}

fn entity_tree(types: TypesRef<'_>, ty: &ComponentEntityType) -> ExportTree {
    match ty {
        ComponentEntityType::Func(_) => ExportTree::Func,
        ComponentEntityType::Module(_) => ExportTree::Module,
        ComponentEntityType::Type { created: wasmparser::component_types::ComponentAnyTypeId::Resource(_), .. } => {
            ExportTree::Resource
        }
        ComponentEntityType::Instance(id) => ExportTree::Instance(
            types[*id].exports.iter().map(|(name, item)| (name.clone(), entity_tree(types, &item.ty))).collect(),
        ),
        _ => ExportTree::Other,
    }
}

/// Converts the script value `v` to a [`Val`] of type `ty`.
///
/// The script's value must have the type's shape (a `u8.const` for a `u8`, a `record.const` with
/// every field for a record, ...); record fields may be written in any order and come out in the
/// type's order.
pub fn val(ty: &Type, v: &WastVal<'_>) -> Result<Val> {
    Ok(match (ty, v) {
        (Type::Bool, WastVal::Bool(b)) => Val::Bool(*b),
        (Type::S8, WastVal::S8(n)) => Val::S8(*n),
        (Type::U8, WastVal::U8(n)) => Val::U8(*n),
        (Type::S16, WastVal::S16(n)) => Val::S16(*n),
        (Type::U16, WastVal::U16(n)) => Val::U16(*n),
        (Type::S32, WastVal::S32(n)) => Val::S32(*n),
        (Type::U32, WastVal::U32(n)) => Val::U32(*n),
        (Type::S64, WastVal::S64(n)) => Val::S64(*n),
        (Type::U64, WastVal::U64(n)) => Val::U64(*n),
        (Type::Float32, WastVal::F32(f)) => Val::Float32(f32::from_bits(f.bits)),
        (Type::Float64, WastVal::F64(f)) => Val::Float64(f64::from_bits(f.bits)),
        (Type::Char, WastVal::Char(c)) => Val::Char(*c),
        (Type::String, WastVal::String(s)) => Val::String(s.to_string()),
        (Type::List(list), WastVal::List(elems)) => {
            let elem = list.ty();
            Val::List(elems.iter().map(|e| val(&elem, e)).collect::<Result<_>>()?)
        }
        (Type::FixedLengthList(list), WastVal::List(elems)) => {
            if elems.len() != list.len() as usize {
                bail!("list of {} values for type {ty}", elems.len());
            }
            let elem = list.ty();
            Val::List(elems.iter().map(|e| val(&elem, e)).collect::<Result<_>>()?)
        }
        (Type::Map(map), WastVal::Map(entries)) => {
            let (key, value) = (map.key(), map.value());
            Val::Map(entries.iter().map(|(k, v)| Ok((val(&key, k)?, val(&value, v)?))).collect::<Result<_>>()?)
        }
        (Type::Record(record), WastVal::Record(values)) => {
            let mut out = Vec::new();
            for field in record.fields() {
                let Some((_, v)) = values.iter().find(|(name, _)| *name == field.name) else {
                    bail!("record value has no field `{}` (type {ty})", field.name);
                };
                out.push((field.name.to_string(), val(&field.ty, v)?));
            }
            if let Some((name, _)) = values.iter().find(|(name, _)| !record.fields().any(|f| f.name == *name)) {
                bail!("record type {ty} has no field `{name}`");
            }
            Val::Record(out)
        }
        (Type::Tuple(tuple), WastVal::Tuple(values)) => {
            if tuple.types().len() != values.len() {
                bail!("tuple of {} values for type {ty}", values.len());
            }
            Val::Tuple(tuple.types().zip(values).map(|(t, v)| val(&t, v)).collect::<Result<_>>()?)
        }
        (Type::Variant(variant), WastVal::Variant(name, payload)) => {
            let Some(case) = variant.cases().find(|c| c.name == *name) else {
                bail!("variant type {ty} has no case `{name}`");
            };
            Val::Variant(name.to_string(), payload_val(case.ty.as_ref(), payload.as_deref(), ty)?)
        }
        (Type::Enum(_), WastVal::Enum(name)) => Val::Enum(name.to_string()),
        (Type::Option(option), WastVal::Option(payload)) => Val::Option(match payload {
            Some(v) => Some(Box::new(val(&option.ty(), v)?)),
            None => None,
        }),
        (Type::Result(result), WastVal::Result(r)) => Val::Result(match r {
            Ok(payload) => Ok(payload_val(result.ok().as_ref(), payload.as_deref(), ty)?),
            Err(payload) => Err(payload_val(result.err().as_ref(), payload.as_deref(), ty)?),
        }),
        (Type::Flags(_), WastVal::Flags(names)) => Val::Flags(names.iter().map(|n| n.to_string()).collect()),
        _ => bail!("expected a value of type {ty}, got {}", fmt_wast_val(v)),
    })
}

/// Converts the script value `v` to a [`Val`] without a type to follow (for functions whose
/// type kiln does not know, such as re-exported host functions): fields stay in written order.
pub fn val_untyped(v: &WastVal<'_>) -> Result<Val> {
    let payload = |p: &Option<Box<WastVal<'_>>>| -> Result<Option<Box<Val>>> {
        p.as_deref().map(|p| val_untyped(p).map(Box::new)).transpose()
    };
    Ok(match v {
        WastVal::Bool(b) => Val::Bool(*b),
        WastVal::S8(n) => Val::S8(*n),
        WastVal::U8(n) => Val::U8(*n),
        WastVal::S16(n) => Val::S16(*n),
        WastVal::U16(n) => Val::U16(*n),
        WastVal::S32(n) => Val::S32(*n),
        WastVal::U32(n) => Val::U32(*n),
        WastVal::S64(n) => Val::S64(*n),
        WastVal::U64(n) => Val::U64(*n),
        WastVal::F32(f) => Val::Float32(f32::from_bits(f.bits)),
        WastVal::F64(f) => Val::Float64(f64::from_bits(f.bits)),
        WastVal::Char(c) => Val::Char(*c),
        WastVal::String(s) => Val::String(s.to_string()),
        WastVal::List(items) => Val::List(items.iter().map(val_untyped).collect::<Result<_>>()?),
        WastVal::Tuple(items) => Val::Tuple(items.iter().map(val_untyped).collect::<Result<_>>()?),
        WastVal::Record(fields) => {
            Val::Record(fields.iter().map(|(n, v)| Ok((n.to_string(), val_untyped(v)?))).collect::<Result<_>>()?)
        }
        WastVal::Variant(name, p) => Val::Variant(name.to_string(), payload(p)?),
        WastVal::Enum(name) => Val::Enum(name.to_string()),
        WastVal::Option(p) => Val::Option(payload(p)?),
        WastVal::Result(Ok(p)) => Val::Result(Ok(payload(p)?)),
        WastVal::Result(Err(p)) => Val::Result(Err(payload(p)?)),
        WastVal::Flags(names) => Val::Flags(names.iter().map(|n| n.to_string()).collect()),
        WastVal::Map(entries) => {
            Val::Map(entries.iter().map(|(k, v)| Ok((val_untyped(k)?, val_untyped(v)?))).collect::<Result<_>>()?)
        }
    })
}

fn payload_val(ty: Option<&Type>, payload: Option<&WastVal<'_>>, whole: &Type) -> Result<Option<Box<Val>>> {
    match (ty, payload) {
        (Some(t), Some(v)) => Ok(Some(Box::new(val(t, v)?))),
        (None, None) => Ok(None),
        (Some(_), None) => bail!("missing payload for {whole}"),
        (None, Some(_)) => bail!("unexpected payload for {whole}"),
    }
}

/// Whether `actual` is the value the script expects. A NaN matches any NaN; flags match as sets.
pub fn matches(expected: &WastVal<'_>, actual: &Val) -> bool {
    match (expected, actual) {
        (WastVal::Bool(e), Val::Bool(a)) => e == a,
        (WastVal::S8(e), Val::S8(a)) => e == a,
        (WastVal::U8(e), Val::U8(a)) => e == a,
        (WastVal::S16(e), Val::S16(a)) => e == a,
        (WastVal::U16(e), Val::U16(a)) => e == a,
        (WastVal::S32(e), Val::S32(a)) => e == a,
        (WastVal::U32(e), Val::U32(a)) => e == a,
        (WastVal::S64(e), Val::S64(a)) => e == a,
        (WastVal::U64(e), Val::U64(a)) => e == a,
        (WastVal::F32(e), Val::Float32(a)) => {
            let e = f32::from_bits(e.bits);
            if e.is_nan() { a.is_nan() } else { e.to_bits() == a.to_bits() }
        }
        (WastVal::F64(e), Val::Float64(a)) => {
            let e = f64::from_bits(e.bits);
            if e.is_nan() { a.is_nan() } else { e.to_bits() == a.to_bits() }
        }
        (WastVal::Char(e), Val::Char(a)) => e == a,
        (WastVal::String(e), Val::String(a)) => e == a,
        (WastVal::Map(e), Val::Map(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|((ek, ev), (ak, av))| matches(ek, ak) && matches(ev, av))
        }
        (WastVal::List(e), Val::List(a)) | (WastVal::Tuple(e), Val::Tuple(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a))
        }
        (WastVal::Record(e), Val::Record(a)) => {
            e.len() == a.len() && e.iter().all(|(name, e)| a.iter().any(|(n, a)| n == name && matches(e, a)))
        }
        (WastVal::Variant(en, ep), Val::Variant(an, ap)) => en == an && payload_matches(ep.as_deref(), ap.as_deref()),
        (WastVal::Enum(e), Val::Enum(a)) => e == a,
        (WastVal::Option(e), Val::Option(a)) => payload_matches(e.as_deref(), a.as_deref()),
        (WastVal::Result(Ok(e)), Val::Result(Ok(a))) | (WastVal::Result(Err(e)), Val::Result(Err(a))) => {
            payload_matches(e.as_deref(), a.as_deref())
        }
        (WastVal::Flags(e), Val::Flags(a)) => e.len() == a.len() && e.iter().all(|name| a.iter().any(|n| n == name)),
        _ => false,
    }
}

fn payload_matches(expected: Option<&WastVal<'_>>, actual: Option<&Val>) -> bool {
    match (expected, actual) {
        (None, None) => true,
        (Some(e), Some(a)) => matches(e, a),
        _ => false,
    }
}

/// Formats a script value in the script's own syntax.
pub fn fmt_wast_val(v: &WastVal<'_>) -> String {
    let mut out = String::new();
    write_wast_val(&mut out, v);
    out
}

fn write_wast_val(out: &mut String, v: &WastVal<'_>) {
    let seq = |out: &mut String, head: &str, items: &[WastVal<'_>]| {
        out.push('(');
        out.push_str(head);
        for item in items {
            out.push(' ');
            write_wast_val(out, item);
        }
        out.push(')');
    };
    match v {
        WastVal::Bool(b) => write!(out, "(bool.const {b})").unwrap(),
        WastVal::S8(n) => write!(out, "(s8.const {n})").unwrap(),
        WastVal::U8(n) => write!(out, "(u8.const {n})").unwrap(),
        WastVal::S16(n) => write!(out, "(s16.const {n})").unwrap(),
        WastVal::U16(n) => write!(out, "(u16.const {n})").unwrap(),
        WastVal::S32(n) => write!(out, "(s32.const {n})").unwrap(),
        WastVal::U32(n) => write!(out, "(u32.const {n})").unwrap(),
        WastVal::S64(n) => write!(out, "(s64.const {n})").unwrap(),
        WastVal::U64(n) => write!(out, "(u64.const {n})").unwrap(),
        WastVal::F32(f) => write!(out, "(f32.const {} (0x{:08x}))", f32::from_bits(f.bits), f.bits).unwrap(),
        WastVal::F64(f) => write!(out, "(f64.const {} (0x{:016x}))", f64::from_bits(f.bits), f.bits).unwrap(),
        WastVal::Char(c) => write!(out, "(char.const {:?})", c.to_string()).unwrap(),
        WastVal::String(s) => write!(out, "(str.const {s:?})").unwrap(),
        WastVal::List(items) => seq(out, "list.const", items),
        WastVal::Tuple(items) => seq(out, "tuple.const", items),
        WastVal::Map(entries) => {
            out.push_str("(map.const");
            for (k, v) in entries {
                out.push_str(" (entry ");
                write_wast_val(out, k);
                out.push(' ');
                write_wast_val(out, v);
                out.push(')');
            }
            out.push(')');
        }
        WastVal::Record(fields) => {
            out.push_str("(record.const");
            for (name, v) in fields {
                write!(out, " (field {name:?} ").unwrap();
                write_wast_val(out, v);
                out.push(')');
            }
            out.push(')');
        }
        WastVal::Variant(name, payload) => {
            write!(out, "(variant.const {name:?}").unwrap();
            if let Some(p) = payload {
                out.push(' ');
                write_wast_val(out, p);
            }
            out.push(')');
        }
        WastVal::Enum(name) => write!(out, "(enum.const {name:?})").unwrap(),
        WastVal::Option(None) => out.push_str("(option.none)"),
        WastVal::Option(Some(p)) => {
            out.push_str("(option.some ");
            write_wast_val(out, p);
            out.push(')');
        }
        WastVal::Result(r) => {
            let (head, payload) = match r {
                Ok(p) => ("result.ok", p),
                Err(p) => ("result.err", p),
            };
            write!(out, "({head}").unwrap();
            if let Some(p) = payload {
                out.push(' ');
                write_wast_val(out, p);
            }
            out.push(')');
        }
        WastVal::Flags(names) => {
            out.push_str("(flags.const");
            for name in names {
                write!(out, " {name:?}").unwrap();
            }
            out.push(')');
        }
    }
}

/// Formats a component value in the script syntax.
pub fn fmt_val(v: &Val) -> String {
    let mut out = String::new();
    write_val(&mut out, v);
    out
}

fn write_val(out: &mut String, v: &Val) {
    let seq = |out: &mut String, head: &str, items: &[Val]| {
        out.push('(');
        out.push_str(head);
        for item in items {
            out.push(' ');
            write_val(out, item);
        }
        out.push(')');
    };
    let payload = |out: &mut String, head: &str, p: &Option<Box<Val>>| {
        out.push('(');
        out.push_str(head);
        if let Some(p) = p {
            out.push(' ');
            write_val(out, p);
        }
        out.push(')');
    };
    match v {
        Val::Bool(b) => write!(out, "(bool.const {b})").unwrap(),
        Val::S8(n) => write!(out, "(s8.const {n})").unwrap(),
        Val::U8(n) => write!(out, "(u8.const {n})").unwrap(),
        Val::S16(n) => write!(out, "(s16.const {n})").unwrap(),
        Val::U16(n) => write!(out, "(u16.const {n})").unwrap(),
        Val::S32(n) => write!(out, "(s32.const {n})").unwrap(),
        Val::U32(n) => write!(out, "(u32.const {n})").unwrap(),
        Val::S64(n) => write!(out, "(s64.const {n})").unwrap(),
        Val::U64(n) => write!(out, "(u64.const {n})").unwrap(),
        Val::Float32(f) => write!(out, "(f32.const {f} (0x{:08x}))", f.to_bits()).unwrap(),
        Val::Float64(f) => write!(out, "(f64.const {f} (0x{:016x}))", f.to_bits()).unwrap(),
        Val::Char(c) => write!(out, "(char.const {:?})", c.to_string()).unwrap(),
        Val::String(s) => write!(out, "(str.const {s:?})").unwrap(),
        Val::List(items) => seq(out, "list.const", items),
        Val::Map(entries) => {
            out.push_str("(map.const");
            for (k, v) in entries {
                out.push_str(" (entry ");
                write_val(out, k);
                out.push(' ');
                write_val(out, v);
                out.push(')');
            }
            out.push(')');
        }
        Val::Tuple(items) => seq(out, "tuple.const", items),
        Val::Record(fields) => {
            out.push_str("(record.const");
            for (name, v) in fields {
                write!(out, " (field {name:?} ").unwrap();
                write_val(out, v);
                out.push(')');
            }
            out.push(')');
        }
        Val::Variant(name, p) => payload(out, &format!("variant.const {name:?}"), p),
        Val::Enum(name) => write!(out, "(enum.const {name:?})").unwrap(),
        Val::Option(None) => out.push_str("(option.none)"),
        Val::Option(Some(p)) => payload(out, "option.some", &Some(p.clone())),
        Val::Result(Ok(p)) => payload(out, "result.ok", p),
        Val::Result(Err(p)) => payload(out, "result.err", p),
        Val::Flags(names) => {
            out.push_str("(flags.const");
            for name in names {
                write!(out, " {name:?}").unwrap();
            }
            out.push(')');
        }
        Val::Resource(r) => write!(out, "(resource {})", if r.owned() { "own" } else { "borrow" }).unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wast::parser::{self, ParseBuffer};

    /// A buffer holding `text` (a value without its outer parentheses, as the parser reads it).
    fn parse(text: &str) -> (ParseBuffer<'_>,) {
        (ParseBuffer::new(text).unwrap(),)
    }

    #[test]
    fn converts_and_matches() {
        let (buf,) = parse("list.const (option.some (str.const \"a\")) (option.none)");
        let v: WastVal<'_> = parser::parse(&buf).unwrap();
        let actual = Val::List(vec![Val::Option(Some(Box::new(Val::String("a".into())))), Val::Option(None)]);
        assert!(matches(&v, &actual));
        assert!(!matches(&v, &Val::List(vec![])));
        assert_eq!(fmt_val(&actual), "(list.const (option.some (str.const \"a\")) (option.none))");

        let (buf,) = parse("f32.const nan");
        let v: WastVal<'_> = parser::parse(&buf).unwrap();
        assert!(matches(&v, &Val::Float32(f32::from_bits(0x7fc0_0001))));
        assert!(!matches(&v, &Val::Float32(1.0)));

        let (buf,) = parse("flags.const \"b\" \"a\"");
        let v: WastVal<'_> = parser::parse(&buf).unwrap();
        assert!(matches(&v, &Val::Flags(vec!["a".into(), "b".into()])));
        assert!(val(&Type::Bool, &v).is_err());
    }

    #[test]
    fn export_trees() {
        let bytes = wat::parse_str(
            r#"(component
                (type $t u32)
                (export "t" (type $t))
                (component $inner
                    (core module $m (func (export "f")))
                    (core instance $i (instantiate $m))
                    (func $f (canon lift (core func $i "f")))
                    (instance $leaf (export "g" (func $f)))
                    (export "f" (func $f))
                    (export "nest" (instance $leaf)))
                (instance $x (instantiate $inner))
                (alias export $x "f" (func $f))
                (export "f" (func $f))
                (export "x" (instance $x)))"#,
        )
        .unwrap();
        let leaf = ExportTree::Instance(vec![("g".into(), ExportTree::Func)]);
        let x = ExportTree::Instance(vec![("f".into(), ExportTree::Func), ("nest".into(), leaf)]);
        assert_eq!(
            export_tree(&bytes).unwrap(),
            vec![("t".into(), ExportTree::Other), ("f".into(), ExportTree::Func), ("x".into(), x)]
        );
    }
}
