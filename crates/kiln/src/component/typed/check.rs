//! Checking a component's type against a Rust type's, with errors that say where they differ.

use anyhow::{Result, bail};
use kiln_environ::component::{ResourceId, ValueType};

/// Checks that values of the component's type `actual` can move as the Rust type whose
/// component type is `expected`: the same structure, names and payloads, where `own` of
/// [`ResourceId::ANY`] (a host handle type) stands for any `own` or `borrow`. The error names
/// the record field, variant case, tuple element or flag that differs.
pub fn typecheck(expected: &ValueType, actual: &ValueType) -> Result<()> {
    use ValueType as V;
    match (expected, actual) {
        (V::Own(ResourceId::ANY), V::Own(_) | V::Borrow(_)) => Ok(()),
        (V::Own(a), V::Own(b)) | (V::Borrow(a), V::Borrow(b)) if a == b || *a == ResourceId::ANY => Ok(()),
        (V::List(a), V::List(b)) => typecheck(a, b).map_err(|e| e.context("in list element")),
        (V::Option(a), V::Option(b)) => typecheck(a, b).map_err(|e| e.context("in option payload")),
        (V::Map(ak, av), V::Map(bk, bv)) => {
            typecheck(ak, bk).map_err(|e| e.context("in map key"))?;
            typecheck(av, bv).map_err(|e| e.context("in map value"))
        }
        (V::FixedList(a, an), V::FixedList(b, bn)) => {
            if an != bn {
                bail!("expected a list of {an} elements, found a list of {bn}");
            }
            typecheck(a, b).map_err(|e| e.context("in list element"))
        }
        (V::Record(a), V::Record(b)) => {
            if a.len() != b.len() {
                bail!("expected a record of {} fields, found {} fields ({actual})", a.len(), b.len());
            }
            for (a, b) in a.iter().zip(b.iter()) {
                if a.name != b.name {
                    bail!("expected record field named `{}`, found `{}`", a.name, b.name);
                }
                typecheck(&a.ty, &b.ty).map_err(|e| e.context(format!("in record field `{}`", a.name)))?;
            }
            Ok(())
        }
        (V::Tuple(a), V::Tuple(b)) => {
            if a.len() != b.len() {
                bail!("expected a tuple of {} elements, found {} elements ({actual})", a.len(), b.len());
            }
            for (i, (a, b)) in a.iter().zip(b.iter()).enumerate() {
                typecheck(a, b).map_err(|e| e.context(format!("in tuple element {i}")))?;
            }
            Ok(())
        }
        (V::Variant(a), V::Variant(b)) => {
            if a.len() != b.len() {
                bail!("expected a variant of {} cases, found {} cases ({actual})", a.len(), b.len());
            }
            for (a, b) in a.iter().zip(b.iter()) {
                if a.name != b.name {
                    bail!("expected variant case named `{}`, found `{}`", a.name, b.name);
                }
                payload(a.ty.as_ref(), b.ty.as_ref())
                    .map_err(|e| e.context(format!("in variant case `{}`", a.name)))?;
            }
            Ok(())
        }
        (V::Enum(a), V::Enum(b)) => names("enum case", a, b),
        (V::Flags(a), V::Flags(b)) => names("flag", a, b),
        (V::Result { ok: ao, err: ae }, V::Result { ok: bo, err: be }) => {
            payload(ao.as_deref(), bo.as_deref()).map_err(|e| e.context("in result's ok payload"))?;
            payload(ae.as_deref(), be.as_deref()).map_err(|e| e.context("in result's error payload"))
        }
        (a, b) if a == b => Ok(()),
        (a, b) => bail!("type mismatch: expected {a}, found {b}"),
    }
}

fn payload(expected: Option<&ValueType>, actual: Option<&ValueType>) -> Result<()> {
    match (expected, actual) {
        (None, None) => Ok(()),
        (Some(a), Some(b)) => typecheck(a, b),
        (None, Some(b)) => bail!("expected no payload, found {b}"),
        (Some(a), None) => bail!("expected a payload of {a}, found none"),
    }
}

fn names(what: &str, expected: &[String], actual: &[String]) -> Result<()> {
    if expected.len() != actual.len() {
        bail!("expected {} {what}s, found {}", expected.len(), actual.len());
    }
    for (a, b) in expected.iter().zip(actual) {
        if a != b {
            bail!("expected {what} named `{a}`, found `{b}`");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_environ::component::{Case, Field};

    fn record(fields: &[(&str, ValueType)]) -> ValueType {
        ValueType::Record(fields.iter().map(|(n, t)| Field { name: n.to_string(), ty: t.clone() }).collect())
    }

    #[test]
    fn names_the_field_that_differs() {
        let expected = record(&[("a", ValueType::U32), ("b", ValueType::String)]);
        let actual = record(&[("a", ValueType::U32), ("b", ValueType::U8)]);
        let err = format!("{:#}", typecheck(&expected, &actual).unwrap_err());
        assert!(err.contains("in record field `b`"), "{err}");
        assert!(err.contains("expected string, found u8"), "{err}");
        let renamed = record(&[("a", ValueType::U32), ("c", ValueType::String)]);
        let err = format!("{:#}", typecheck(&expected, &renamed).unwrap_err());
        assert!(err.contains("expected record field named `b`, found `c`"), "{err}");
    }

    #[test]
    fn names_the_case_that_differs() {
        let case = |n: &str, t: Option<ValueType>| Case { name: n.into(), ty: t };
        let expected = ValueType::Variant(vec![case("x", None), case("y", Some(ValueType::U8))].into());
        let actual = ValueType::Variant(vec![case("x", None), case("y", None)].into());
        let err = format!("{:#}", typecheck(&expected, &actual).unwrap_err());
        assert!(err.contains("in variant case `y`") && err.contains("expected a payload of u8"), "{err}");
        let nested = ValueType::List(Box::new(actual));
        let err = format!("{:#}", typecheck(&ValueType::List(Box::new(expected)), &nested).unwrap_err());
        assert!(err.contains("in list element"), "{err}");
    }

    #[test]
    fn host_handles_take_any_resource() {
        let any = ValueType::Own(ResourceId::ANY);
        assert!(typecheck(&any, &ValueType::Own(ResourceId(3))).is_ok());
        assert!(typecheck(&any, &ValueType::Borrow(ResourceId(3))).is_ok());
        assert!(typecheck(&ValueType::Own(ResourceId(2)), &ValueType::Own(ResourceId(3))).is_err());
        assert!(typecheck(&ValueType::U32, &ValueType::S32).is_err());
    }
}
