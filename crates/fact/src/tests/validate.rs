//! Every kind of type produces a module that validates with kiln's features plus multi-memory,
//! between every pair of string encodings and of 32- and 64-bit memories.

use super::*;
use crate::{AdapterImport, compile};
use kiln_environ::component::ValueType as T;

fn check(ty: FuncType) {
    for (caller_ptr, callee_ptr) in PTR_PAIRS {
        for caller in ENCODINGS {
            for callee in ENCODINGS {
                let mut a = adapter("f", ty.clone(), caller, callee);
                a.lower.ptr = caller_ptr;
                a.lift.ptr = callee_ptr;
                let module = compile(&[a]).unwrap();
                validate(&module.wasm);
            }
        }
    }
}

fn one_param(t: ValueType) {
    check(func(vec![t.clone()], None));
    check(func(vec![], Some(t.clone())));
    check(func(vec![t.clone(), t.clone()], Some(t)));
}

#[test]
fn primitives() {
    for t in [T::Bool, T::S8, T::U8, T::S16, T::U16, T::S32, T::U32, T::S64, T::U64, T::F32, T::F64, T::Char, T::String]
    {
        one_param(t);
    }
}

#[test]
fn compound_types() {
    one_param(list(list(T::String)));
    one_param(list(T::U8));
    one_param(list(record(vec![T::U8, T::U64, T::F32])));
    one_param(list(record(vec![T::Char, T::Bool])));
    one_param(record(vec![T::U8, T::String, T::F64, list(T::Char)]));
    one_param(tuple(vec![T::S16, option(T::String)]));
    one_param(variant(vec![Some(T::F32), Some(T::U64), None, Some(T::String), Some(T::F64)]));
    one_param(variant(vec![Some(record(vec![T::F32, T::F64])), Some(tuple(vec![T::U64, T::F32]))]));
    one_param(variant(vec![Some(variant(vec![Some(T::F32), Some(T::U8)])), Some(T::S64)]));
    one_param(enum_(2));
    one_param(enum_(300));
    one_param(variant((0..300).map(|i| if i % 3 == 0 { Some(T::U32) } else { None }).collect()));
    for n in [0, 1, 8, 9, 16, 17, 33, 65] {
        one_param(flags(n));
    }
    one_param(option(T::U8));
    one_param(option(option(T::F64)));
    one_param(result(Some(T::String), Some(T::U32)));
    one_param(result(None, None));
    one_param(result(None, Some(list(T::S8))));
    one_param(list(flags(0)));
}

#[test]
fn maps_and_fixed_length_lists() {
    one_param(map(T::String, T::U32));
    one_param(map(T::U8, map(T::String, list(T::Char))));
    one_param(fixed(T::U8, 1));
    one_param(fixed(T::F32, 4));
    one_param(fixed(T::String, 3));
    one_param(fixed(variant(vec![Some(T::F32), Some(T::U64), None]), 2));
    one_param(fixed(fixed(T::Char, 2), 3));
    // More than 16 flat values: through memory, element-wise in a loop or copied in one go.
    one_param(fixed(T::U64, 17));
    one_param(fixed(record(vec![T::U8, T::Bool]), 40));
    one_param(fixed(T::String, 300));
    one_param(list(fixed(T::U16, 1000)));
    one_param(option(fixed(map(T::U32, T::String), 2)));
}

#[test]
fn indirect_params_and_results() {
    check(func((0..17).map(|_| T::U32).collect(), Some(T::U8)));
    check(func((0..20).map(|_| T::String).collect(), Some(tuple(vec![T::String, T::U64]))));
    check(func(vec![], Some(record(vec![T::U8, T::U16, T::U32, T::U64]))));
}

#[test]
fn several_adapters_share_imports() {
    let ty = func(vec![T::String], Some(T::String));
    let adapters = vec![
        adapter("a", ty.clone(), StringEncoding::Utf8, StringEncoding::Utf16),
        adapter("b", ty.clone(), StringEncoding::Utf16, StringEncoding::Utf8),
        adapter("c", func(vec![T::U32], None), StringEncoding::Utf8, StringEncoding::Utf8),
    ];
    let module = compile(&adapters).unwrap();
    validate(&module.wasm);
    assert_eq!(module.exports, ["a", "b", "c"]);
    assert_eq!(module.imports[0], AdapterImport::Trap);
    let memories = module.imports.iter().filter(|i| matches!(i, AdapterImport::Memory(_))).count();
    let flags = module.imports.iter().filter(|i| matches!(i, AdapterImport::Flags(_))).count();
    assert_eq!((memories, flags), (2, 2));
    // Trap, 2 flags, 2 memories, 2 reallocs, 3 callees, 3 post-returns.
    assert_eq!(module.imports.len(), 13);
}

#[test]
fn handles_use_resource_intrinsics_and_missing_options_are_errors() {
    use crate::AdapterImport;
    use kiln_environ::component::ResourceId;
    // Owns and borrows, nested in a list: the adapter moves them through the runtime's
    // intrinsics, and opens a call scope for the borrows.
    let ty = func(
        vec![T::Own(ResourceId(0)), T::List(Box::new(T::Borrow(ResourceId(1))))],
        Some(T::Option(Box::new(T::Own(ResourceId(0))))),
    );
    let module = compile(&[adapter("h", ty, StringEncoding::Utf8, StringEncoding::Utf8)]).unwrap();
    validate(&module.wasm);
    for import in [
        AdapterImport::ResourceTransferOwn,
        AdapterImport::ResourceTransferBorrow,
        AdapterImport::ResourceEnterCall,
        AdapterImport::ResourceExitCall,
    ] {
        assert!(module.imports.contains(&import), "missing {import:?}");
    }
    // No handles, no intrinsics.
    let module =
        compile(&[adapter("p", func(vec![T::U32], None), StringEncoding::Utf8, StringEncoding::Utf8)]).unwrap();
    assert!(!module.imports.iter().any(|i| matches!(i, AdapterImport::ResourceTransferOwn)));
    let mut a = adapter("s", func(vec![T::String], None), StringEncoding::Utf8, StringEncoding::Utf8);
    a.lift.realloc = None;
    assert!(compile(&[a]).is_err());
    let mut a = adapter("u", func(vec![T::U32], Some(T::U32)), StringEncoding::Utf8, StringEncoding::Utf8);
    a.lift.realloc = None;
    a.lift.memory = None;
    a.lower.realloc = None;
    a.lower.memory = None;
    let module = compile(&[a]).unwrap();
    validate(&module.wasm);
}
