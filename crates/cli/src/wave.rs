//! Component values on the command line, in WAVE (the WebAssembly Value Encoding of
//! `wasm-tools`): parsing an invocation like `greet("world", some(3))` into kiln
//! [`Val`]s of the function's parameter types, printing results, and finding the function an
//! invocation names among a component's exports.
//!
//! The `wasm-wave` crate parses and prints; this module converts between its
//! [`wasm_wave::value::Value`] and kiln's [`Val`], type by type.

use anyhow::{Context as _, Result, anyhow, bail};
use kiln::component::{Type, Val};
use std::borrow::Cow;
use wasm_wave::untyped::UntypedFuncCall;
use wasm_wave::value::{Type as WaveType, Value};
use wasm_wave::wasm::{WasmTypeKind, WasmValue};

/// An invocation split into the function's name and its (not yet typed) arguments.
pub struct Invocation {
    /// The name as written: `f`, `iface.f`, `ns:pkg/iface.f`, `ns:pkg/iface@1.2.3.f` or
    /// `ns:pkg/iface.f@1.2.3`.
    pub name: String,
    /// The arguments, from the opening parenthesis on.
    args: String,
}

impl Invocation {
    /// Splits `text` (`name(args...)`) and checks that the arguments are well-formed WAVE.
    pub fn parse(text: &str) -> Result<Invocation> {
        let text = text.trim();
        let open = text.find('(').with_context(|| format!("expected `name(arguments...)`, got `{text}`"))?;
        let name = text[..open].trim();
        if name.is_empty() {
            bail!("the invocation `{text}` names no function");
        }
        let invocation = Invocation { name: name.to_string(), args: text[open..].to_string() };
        invocation.call()?;
        Ok(invocation)
    }

    /// The arguments as a WAVE call of a placeholder name (`wasm-wave`'s name syntax does not
    /// cover every export name, e.g. versions before the function name).
    fn call(&self) -> Result<UntypedFuncCall<'static>> {
        let source = format!("f{}", self.args);
        let call = UntypedFuncCall::parse(&source).map_err(|e| anyhow!("invalid arguments `{}`: {e}", self.args))?;
        Ok(call.into_owned())
    }

    /// The arguments as values of `params`' types (trailing `option`s may be left out).
    pub fn args(&self, params: &[(String, Type)]) -> Result<Vec<Val>> {
        let types: Vec<WaveType> = params.iter().map(|(_, t)| wave_type(t)).collect::<Result<_>>()?;
        let values: Vec<Value> =
            self.call()?.to_wasm_params(types.iter()).map_err(|e| anyhow!("invalid arguments `{}`: {e}", self.args))?;
        params.iter().zip(&values).map(|((_, t), v)| from_wave(t, v)).collect()
    }
}

/// Where an exported function lives: at the root (`instance` empty) or in an exported instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPath {
    /// The exported instance's name, or empty for a root export.
    pub instance: String,
    /// The function's name.
    pub func: String,
}

impl std::fmt::Display for ExportPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.instance.is_empty() { write!(f, "{}", self.func) } else { write!(f, "{}.{}", self.instance, self.func) }
    }
}

/// Splits a qualified function name into the instance's name and the function's:
/// `ns:pkg/iface@1.2.3.f` and `ns:pkg/iface.f@1.2.3` (the reference runtime's spelling, the
/// version after the function) both give `("ns:pkg/iface@1.2.3", "f")`, `ns:pkg/iface.f` gives
/// `("ns:pkg/iface", "f")`, and a bare `f` gives `None`.
///
/// Interface and function names are kebab-case, without dots: in the part after the package's
/// `/`, a `.` before the `@` separates the interface from the function (the version follows the
/// function), and otherwise the last `.` of a version-carrying name does.
pub fn split_name(name: &str) -> Option<(String, String)> {
    let tail_start = name.rfind('/').map_or(0, |i| i + 1);
    let (head, tail) = name.split_at(tail_start);
    if let Some((before, version)) = tail.split_once('@')
        && let Some((iface, func)) = before.split_once('.')
    {
        return Some((format!("{head}{iface}@{version}"), func.to_string()));
    }
    let dot = tail.rfind('.')?;
    Some((format!("{head}{}", &tail[..dot]), tail[dot + 1..].to_string()))
}

/// Finds the function `name` among `exports` (`(instance, function)` pairs, `""` for the
/// root). A bare name matches a root function, or else a function of any exported instance
/// (an error if more than one); `iface.f` / `ns:pkg/iface.f` / `ns:pkg/iface@1.2.3.f` /
/// `ns:pkg/iface.f@1.2.3` name the instance too (see [`split_name`]), and an unversioned
/// instance name matches a single versioned one.
pub fn find_export(exports: &[(String, String)], name: &str) -> Result<ExportPath> {
    let all = || exports.iter().map(|(i, f)| ExportPath { instance: i.clone(), func: f.clone() });
    let listing = || {
        let names: Vec<String> = all().map(|p| p.to_string()).collect();
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    };
    let candidates: Vec<ExportPath> = match split_name(name) {
        // A root export named exactly so wins; otherwise any exported instance's function.
        None => match all().find(|p| p.instance.is_empty() && p.func == name) {
            Some(root) => vec![root],
            None => all().filter(|p| p.func == name).collect(),
        },
        Some((instance, func)) => {
            let (instance, func) = (instance.as_str(), func.as_str());
            let exact: Vec<ExportPath> = all().filter(|p| p.instance == instance && p.func == func).collect();
            if !exact.is_empty() || instance.contains('@') {
                exact
            } else {
                let prefix = format!("{instance}@");
                all().filter(|p| p.instance.starts_with(&prefix) && p.func == func).collect()
            }
        }
    };
    match candidates.len() {
        1 => Ok(candidates.into_iter().next().unwrap()),
        0 => bail!("no exported function `{name}` (exported functions: {})", listing()),
        _ => {
            let names: Vec<String> = candidates.iter().map(|p| p.to_string()).collect();
            bail!("`{name}` is ambiguous: it could be any of {}; name the instance too", names.join(", "))
        }
    }
}

/// The WAVE type of `ty`.
pub fn wave_type(ty: &Type) -> Result<WaveType> {
    let invalid = || anyhow!("type {ty} has no WAVE form");
    Ok(match ty {
        Type::Bool => WaveType::BOOL,
        Type::S8 => WaveType::S8,
        Type::U8 => WaveType::U8,
        Type::S16 => WaveType::S16,
        Type::U16 => WaveType::U16,
        Type::S32 => WaveType::S32,
        Type::U32 => WaveType::U32,
        Type::S64 => WaveType::S64,
        Type::U64 => WaveType::U64,
        Type::Float32 => WaveType::F32,
        Type::Float64 => WaveType::F64,
        Type::Char => WaveType::CHAR,
        Type::String => WaveType::STRING,
        Type::List(list) => WaveType::list(wave_type(&list.ty())?),
        Type::FixedLengthList(list) => WaveType::list(wave_type(&list.ty())?),
        Type::Map(map) => WaveType::map(wave_type(&map.key())?, wave_type(&map.value())?).ok_or_else(invalid)?,
        Type::Record(record) => {
            let fields =
                record.fields().map(|f| Ok((f.name.to_string(), wave_type(&f.ty)?))).collect::<Result<Vec<_>>>()?;
            WaveType::record(fields).ok_or_else(invalid)?
        }
        Type::Tuple(tuple) => {
            let types = tuple.types().map(|t| wave_type(&t)).collect::<Result<Vec<_>>>()?;
            WaveType::tuple(types).ok_or_else(invalid)?
        }
        Type::Variant(variant) => {
            let cases = variant
                .cases()
                .map(|c| Ok((c.name.to_string(), c.ty.as_ref().map(wave_type).transpose()?)))
                .collect::<Result<Vec<_>>>()?;
            WaveType::variant(cases).ok_or_else(invalid)?
        }
        Type::Enum(e) => WaveType::enum_ty(e.names().map(str::to_string)).ok_or_else(invalid)?,
        Type::Option(option) => WaveType::option(wave_type(&option.ty())?),
        Type::Result(result) => WaveType::result(
            result.ok().as_ref().map(wave_type).transpose()?,
            result.err().as_ref().map(wave_type).transpose()?,
        ),
        Type::Flags(flags) => WaveType::flags(flags.names().map(str::to_string)).ok_or_else(invalid)?,
        Type::Own(_) | Type::Borrow(_) => bail!("resources cannot be passed on the command line"),
    })
}

/// Converts a parsed WAVE value of type `ty` to a kiln value.
pub fn from_wave(ty: &Type, v: &Value) -> Result<Val> {
    let payload = |t: Option<Type>, p: Option<Cow<'_, Value>>| -> Result<Option<Box<Val>>> {
        match (t, p) {
            (Some(t), Some(p)) => Ok(Some(Box::new(from_wave(&t, &p)?))),
            _ => Ok(None),
        }
    };
    Ok(match ty {
        Type::Bool => Val::Bool(v.unwrap_bool()),
        Type::S8 => Val::S8(v.unwrap_s8()),
        Type::U8 => Val::U8(v.unwrap_u8()),
        Type::S16 => Val::S16(v.unwrap_s16()),
        Type::U16 => Val::U16(v.unwrap_u16()),
        Type::S32 => Val::S32(v.unwrap_s32()),
        Type::U32 => Val::U32(v.unwrap_u32()),
        Type::S64 => Val::S64(v.unwrap_s64()),
        Type::U64 => Val::U64(v.unwrap_u64()),
        Type::Float32 => Val::Float32(v.unwrap_f32()),
        Type::Float64 => Val::Float64(v.unwrap_f64()),
        Type::Char => Val::Char(v.unwrap_char()),
        Type::String => Val::String(v.unwrap_string().into_owned()),
        Type::List(list) => {
            let elem = list.ty();
            Val::List(v.unwrap_list().map(|e| from_wave(&elem, &e)).collect::<Result<_>>()?)
        }
        Type::FixedLengthList(list) => {
            let elem = list.ty();
            let items: Vec<Val> = v.unwrap_list().map(|e| from_wave(&elem, &e)).collect::<Result<_>>()?;
            if items.len() != list.len() as usize {
                bail!("expected {} elements for {ty}, got {}", list.len(), items.len());
            }
            Val::List(items)
        }
        Type::Map(map) => {
            let (key, value) = (map.key(), map.value());
            Val::Map(
                v.unwrap_map()
                    .map(|(k, val)| Ok((from_wave(&key, &k)?, from_wave(&value, &val)?)))
                    .collect::<Result<_>>()?,
            )
        }
        Type::Record(record) => {
            let values: Vec<(Cow<'_, str>, Cow<'_, Value>)> = v.unwrap_record().collect();
            let mut fields = Vec::new();
            for field in record.fields() {
                let value = match values.iter().find(|(n, _)| n == field.name) {
                    Some((_, value)) => from_wave(&field.ty, value)?,
                    // WAVE leaves out `none` fields.
                    None if matches!(field.ty, Type::Option(_)) => Val::Option(None),
                    None => bail!("missing field `{}`", field.name),
                };
                fields.push((field.name.to_string(), value));
            }
            Val::Record(fields)
        }
        Type::Tuple(tuple) => {
            Val::Tuple(tuple.types().zip(v.unwrap_tuple()).map(|(t, e)| from_wave(&t, &e)).collect::<Result<_>>()?)
        }
        Type::Variant(variant) => {
            let (name, p) = v.unwrap_variant();
            let case = variant.cases().find(|c| c.name == name).with_context(|| format!("no case `{name}`"))?;
            Val::Variant(name.into_owned(), payload(case.ty, p)?)
        }
        Type::Enum(_) => Val::Enum(v.unwrap_enum().into_owned()),
        Type::Option(option) => Val::Option(payload(Some(option.ty()), v.unwrap_option())?),
        Type::Result(result) => Val::Result(match v.unwrap_result() {
            Ok(p) => Ok(payload(result.ok(), p)?),
            Err(p) => Err(payload(result.err(), p)?),
        }),
        Type::Flags(_) => Val::Flags(v.unwrap_flags().map(Cow::into_owned).collect()),
        Type::Own(_) | Type::Borrow(_) => bail!("resources cannot be passed on the command line"),
    })
}

/// Converts a kiln value of type `ty` to a WAVE value.
pub fn to_wave(ty: &Type, v: &Val) -> Result<Value> {
    let wty = wave_type(ty)?;
    let err = |e: wasm_wave::wasm::WasmValueError| anyhow!("cannot express {} as {ty}: {e}", v.desc());
    let payload = |t: Option<Type>, p: &Option<Box<Val>>| -> Result<Option<Value>> {
        match (t, p) {
            (Some(t), Some(p)) => Ok(Some(to_wave(&t, p)?)),
            _ => Ok(None),
        }
    };
    Ok(match (ty, v) {
        (Type::Bool, Val::Bool(b)) => Value::make_bool(*b),
        (Type::S8, Val::S8(n)) => Value::make_s8(*n),
        (Type::U8, Val::U8(n)) => Value::make_u8(*n),
        (Type::S16, Val::S16(n)) => Value::make_s16(*n),
        (Type::U16, Val::U16(n)) => Value::make_u16(*n),
        (Type::S32, Val::S32(n)) => Value::make_s32(*n),
        (Type::U32, Val::U32(n)) => Value::make_u32(*n),
        (Type::S64, Val::S64(n)) => Value::make_s64(*n),
        (Type::U64, Val::U64(n)) => Value::make_u64(*n),
        (Type::Float32, Val::Float32(f)) => Value::make_f32(*f),
        (Type::Float64, Val::Float64(f)) => Value::make_f64(*f),
        (Type::Char, Val::Char(c)) => Value::make_char(*c),
        (Type::String, Val::String(s)) => Value::make_string(Cow::Borrowed(s)),
        (Type::List(list), Val::List(items)) => {
            let elem = list.ty();
            let items = items.iter().map(|i| to_wave(&elem, i)).collect::<Result<Vec<_>>>()?;
            Value::make_list(&wty, items).map_err(err)?
        }
        (Type::FixedLengthList(list), Val::List(items)) => {
            let elem = list.ty();
            let items = items.iter().map(|i| to_wave(&elem, i)).collect::<Result<Vec<_>>>()?;
            Value::make_list(&wty, items).map_err(err)?
        }
        (Type::Map(map), Val::Map(entries)) => {
            let (key, value) = (map.key(), map.value());
            let entries = entries
                .iter()
                .map(|(k, v)| Ok((to_wave(&key, k)?, to_wave(&value, v)?)))
                .collect::<Result<Vec<_>>>()?;
            Value::make_map(&wty, entries).map_err(err)?
        }
        (Type::Record(record), Val::Record(fields)) => {
            let mut out = Vec::new();
            for (field, (name, value)) in record.fields().zip(fields) {
                out.push((name.as_str(), to_wave(&field.ty, value)?));
            }
            Value::make_record(&wty, out).map_err(err)?
        }
        (Type::Tuple(tuple), Val::Tuple(items)) => {
            let items = tuple.types().zip(items).map(|(t, i)| to_wave(&t, i)).collect::<Result<Vec<_>>>()?;
            Value::make_tuple(&wty, items).map_err(err)?
        }
        (Type::Variant(variant), Val::Variant(name, p)) => {
            let case = variant.cases().find(|c| c.name == name).with_context(|| format!("no case `{name}`"))?;
            Value::make_variant(&wty, name, payload(case.ty, p)?).map_err(err)?
        }
        (Type::Enum(_), Val::Enum(name)) => Value::make_enum(&wty, name).map_err(err)?,
        (Type::Option(option), Val::Option(p)) => {
            Value::make_option(&wty, payload(Some(option.ty()), p)?).map_err(err)?
        }
        (Type::Result(result), Val::Result(r)) => {
            let r = match r {
                Ok(p) => Ok(payload(result.ok(), p)?),
                Err(p) => Err(payload(result.err(), p)?),
            };
            Value::make_result(&wty, r).map_err(err)?
        }
        (Type::Flags(_), Val::Flags(names)) => {
            Value::make_flags(&wty, names.iter().map(String::as_str)).map_err(err)?
        }
        _ => bail!("value {} does not have type {ty}", v.desc()),
    })
}

/// Formats a kiln value of type `ty` in WAVE.
pub fn format(ty: &Type, v: &Val) -> Result<String> {
    let value = to_wave(ty, v)?;
    debug_assert!(value.kind() != WasmTypeKind::Unsupported);
    wasm_wave::to_string(&value).map_err(|e| anyhow!("cannot print the result: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln::component::Component;
    use kiln::{Engine, Store};

    /// The parameter types of the function `f` declared by `sig` (which lifts the core
    /// function `$m "f"`, taking one pointer, with `$m`'s memory and realloc).
    fn param_types(sig: &str) -> Vec<(String, Type)> {
        let engine = Engine::default();
        let wat = format!(
            r#"(component
                (core module $m
                  (memory (export "memory") 1)
                  (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
                  (func (export "f") (param i32)))
                (core instance $m (instantiate $m))
                {sig})"#
        );
        let component = Component::new(&engine, wat).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = kiln::component::Linker::new(&engine).instantiate(&mut store, &component).unwrap();
        let func = instance.get_func(&mut store, "f").unwrap();
        func.params(&store)
    }

    #[test]
    fn invocation_names() {
        let inv = Invocation::parse("ns:pkg/iface@1.2.3.f(1, \"x\")").unwrap();
        assert_eq!(inv.name, "ns:pkg/iface@1.2.3.f");
        assert!(Invocation::parse("f(1,").is_err());
        assert!(Invocation::parse("f").is_err());
        assert!(Invocation::parse("(1)").is_err());
    }

    #[test]
    fn qualified_names_split() {
        let split = split_name;
        let pair = |i: &str, f: &str| Some((i.to_string(), f.to_string()));
        assert_eq!(split("f"), None);
        assert_eq!(split("iface.f"), pair("iface", "f"));
        assert_eq!(split("ns:pkg/iface.f"), pair("ns:pkg/iface", "f"));
        assert_eq!(split("ns:pkg/iface@1.2.3.f"), pair("ns:pkg/iface@1.2.3", "f"));
        assert_eq!(split("ns:pkg/iface.f@1.2.3"), pair("ns:pkg/iface@1.2.3", "f"));
        assert_eq!(split("ns:pkg/iface@1.0.0-rc.1.f"), pair("ns:pkg/iface@1.0.0-rc.1", "f"));
        assert_eq!(split("ns:pkg/iface.f@1.0.0-rc.1+build.5"), pair("ns:pkg/iface@1.0.0-rc.1+build.5", "f"));
        assert_eq!(split("ns:pkg/a-b.do-it@0.2.0"), pair("ns:pkg/a-b@0.2.0", "do-it"));
    }

    #[test]
    fn export_lookup() {
        let exports = vec![
            (String::new(), "run".to_string()),
            ("ns:pkg/iface@1.2.3".to_string(), "run".to_string()),
            ("ns:pkg/iface@1.2.3".to_string(), "f".to_string()),
            ("ns:pkg/other".to_string(), "f".to_string()),
            ("ns:pkg/other".to_string(), "g".to_string()),
        ];
        let path = |i: &str, f: &str| ExportPath { instance: i.to_string(), func: f.to_string() };
        assert_eq!(find_export(&exports, "run").unwrap(), path("", "run"));
        assert_eq!(find_export(&exports, "ns:pkg/iface.run").unwrap(), path("ns:pkg/iface@1.2.3", "run"));
        assert_eq!(find_export(&exports, "g").unwrap(), path("ns:pkg/other", "g"));
        assert_eq!(find_export(&exports, "ns:pkg/iface@1.2.3.f").unwrap(), path("ns:pkg/iface@1.2.3", "f"));
        assert_eq!(find_export(&exports, "ns:pkg/iface.f").unwrap(), path("ns:pkg/iface@1.2.3", "f"));
        assert_eq!(find_export(&exports, "ns:pkg/iface.f@1.2.3").unwrap(), path("ns:pkg/iface@1.2.3", "f"));
        assert_eq!(find_export(&exports, "ns:pkg/iface.run@1.2.3").unwrap(), path("ns:pkg/iface@1.2.3", "run"));
        assert!(find_export(&exports, "ns:pkg/iface.f@2.0.0").is_err());
        assert_eq!(find_export(&exports, "ns:pkg/other.f").unwrap(), path("ns:pkg/other", "f"));
        let err = find_export(&exports, "f").unwrap_err().to_string();
        assert!(err.contains("ambiguous"), "{err}");
        let err = find_export(&exports, "nope").unwrap_err().to_string();
        assert!(err.contains("no exported function `nope`") && err.contains("ns:pkg/other.g"), "{err}");
        assert!(find_export(&exports, "ns:pkg/iface@2.0.0.f").is_err());
    }

    #[test]
    fn arguments_round_trip() {
        let params = param_types(
            r#"(type $r (record (field "a" u8) (field "b" (option string))))
               (export $r' "r" (type $r))
               (type $v (variant (case "x" f32) (case "y")))
               (export $v' "v" (type $v))
               (type $e (enum "red" "green"))
               (export $e' "e" (type $e))
               (type $fl (flags "p" "q"))
               (export $fl' "fl" (type $fl))
               (func (export "f") (param "r" $r') (param "l" (list (tuple s64 char))) (param "v" $v')
                 (param "e" $e') (param "fl" $fl') (param "res" (result string (error u32)))
                 (param "s" string) (param "o" (option bool))
                 (canon lift (core func $m "f") (memory (core memory $m "memory"))
                   (realloc (core func $m "realloc"))))"#,
        );
        let inv =
            Invocation::parse(r#"f({a: 7}, [(-1, 'x'), (2, '😀')], x(1.5), green, {q}, err(3), "hi\n", some(true))"#)
                .unwrap();
        let args = inv.args(&params).unwrap();
        assert_eq!(args[0], Val::Record(vec![("a".into(), Val::U8(7)), ("b".into(), Val::Option(None))]));
        assert_eq!(
            args[1],
            Val::List(vec![
                Val::Tuple(vec![Val::S64(-1), Val::Char('x')]),
                Val::Tuple(vec![Val::S64(2), Val::Char('😀')])
            ])
        );
        assert_eq!(args[2], Val::Variant("x".into(), Some(Box::new(Val::Float32(1.5)))));
        assert_eq!(args[3], Val::Enum("green".into()));
        assert_eq!(args[4], Val::Flags(vec!["q".into()]));
        assert_eq!(args[5], Val::Result(Err(Some(Box::new(Val::U32(3))))));
        assert_eq!(args[6], Val::String("hi\n".into()));
        assert_eq!(args[7], Val::Option(Some(Box::new(Val::Bool(true)))));
        let printed: Vec<String> = params.iter().zip(&args).map(|((_, t), v)| format(t, v).unwrap()).collect();
        assert_eq!(
            printed,
            ["{a: 7}", "[(-1, 'x'), (2, '😀')]", "x(1.5)", "green", "{q}", "err(3)", "\"hi\\n\"", "some(true)"]
        );
        // Trailing options may be left out; wrong types are errors.
        let short = Invocation::parse(r#"f({a: 1}, [], y, red, {}, ok("s"), "")"#).unwrap();
        assert_eq!(short.args(&params).unwrap()[7], Val::Option(None));
        let bad = Invocation::parse(r#"f({a: 300}, [], y, red, {}, ok("s"), "", none)"#).unwrap();
        assert!(bad.args(&params).is_err());
    }
}
