//! Unit tests: generated modules validate ([`validate`]) and behave ([`exec`], run with kiln).

mod exec;
mod validate;

use crate::{Adapter, AdapterOptions, StringEncoding};
use kiln_environ::component::{Case, Field, FuncType, ValueType};

pub(crate) fn func(params: Vec<ValueType>, result: Option<ValueType>) -> FuncType {
    FuncType { params: params.into_iter().enumerate().map(|(i, t)| (format!("p{i}"), t)).collect(), result }
}

pub(crate) fn record(types: Vec<ValueType>) -> ValueType {
    ValueType::Record(types.into_iter().enumerate().map(|(i, ty)| Field { name: format!("f{i}"), ty }).collect())
}

pub(crate) fn tuple(types: Vec<ValueType>) -> ValueType {
    ValueType::Tuple(types.into())
}

pub(crate) fn variant(cases: Vec<Option<ValueType>>) -> ValueType {
    ValueType::Variant(cases.into_iter().enumerate().map(|(i, ty)| Case { name: format!("c{i}"), ty }).collect())
}

pub(crate) fn enum_(n: usize) -> ValueType {
    ValueType::Enum((0..n).map(|i| format!("e{i}")).collect())
}

pub(crate) fn flags(n: usize) -> ValueType {
    ValueType::Flags((0..n).map(|i| format!("f{i}")).collect())
}

pub(crate) fn list(t: ValueType) -> ValueType {
    ValueType::List(Box::new(t))
}

pub(crate) fn map(k: ValueType, v: ValueType) -> ValueType {
    ValueType::Map(Box::new(k), Box::new(v))
}

pub(crate) fn fixed(t: ValueType, n: u32) -> ValueType {
    ValueType::FixedList(Box::new(t), n)
}

pub(crate) fn option(t: ValueType) -> ValueType {
    ValueType::Option(Box::new(t))
}

pub(crate) fn result(ok: Option<ValueType>, err: Option<ValueType>) -> ValueType {
    ValueType::Result { ok: ok.map(Box::new), err: err.map(Box::new) }
}

pub(crate) fn options(instance: u32, encoding: StringEncoding, prefix: &str) -> AdapterOptions<String> {
    AdapterOptions {
        instance,
        string_encoding: encoding,
        memory: Some(format!("{prefix}-memory")),
        realloc: Some(format!("{prefix}-realloc")),
        ptr: crate::PtrSize::P32,
        page_size_log2: None,
    }
}

/// An adapter from a caller (instance 0) to a callee (instance 1) with post-return.
pub(crate) fn adapter(name: &str, ty: FuncType, caller: StringEncoding, callee: StringEncoding) -> Adapter<String> {
    Adapter {
        name: name.to_string(),
        ty,
        lower: options(0, caller, "caller"),
        lift: options(1, callee, "callee"),
        callee: format!("{name}-callee"),
        post_return: Some(format!("{name}-post-return")),
    }
}

/// Every pairing of caller and callee pointer sizes (32- and 64-bit memories).
pub(crate) const PTR_PAIRS: [(crate::PtrSize, crate::PtrSize); 4] = {
    use crate::PtrSize::{P32, P64};
    [(P32, P32), (P32, P64), (P64, P32), (P64, P64)]
};

pub(crate) const ENCODINGS: [StringEncoding; 3] =
    [StringEncoding::Utf8, StringEncoding::Utf16, StringEncoding::CompactUtf16];

pub(crate) fn validate(wasm: &[u8]) {
    let features = kiln_environ::supported_features()
        | wasmparser::WasmFeatures::MULTI_MEMORY
        | wasmparser::WasmFeatures::MEMORY64;
    if let Err(e) = wasmparser::Validator::new_with_features(features).validate_all(wasm) {
        let text = wasmprinter_fallback(wasm);
        panic!("adapter module does not validate: {e}\n{text}");
    }
}

fn wasmprinter_fallback(wasm: &[u8]) -> String {
    let mut out = String::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
            out.push_str("func:\n");
            let mut reader = body.get_operators_reader().unwrap();
            while !reader.eof() {
                let offset = reader.original_position();
                let op = reader.read().unwrap();
                out.push_str(&format!("  {offset:#x}: {op:?}\n"));
            }
        }
    }
    out
}
