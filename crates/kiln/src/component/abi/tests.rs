//! Tests of the reference Canonical ABI over a fake memory with a bump allocator.

use super::*;
use kiln_environ::component::{Case, Field};

const MEMORY_SIZE: usize = 1 << 16;
const HEAP_START: u64 = 1024;

/// A linear memory with a bump `realloc` that records its calls.
struct FakeMemory {
    memory: Vec<u8>,
    next: u64,
    calls: Vec<(u64, u32, u32, u32)>,
    encoding: StringEncoding,
    has_memory: bool,
    /// If set, `realloc` returns this instead of allocating (to test the checks on its result).
    forced_ptr: Option<u64>,
    /// The pointer size the memory pretends to have (the layouts of a 64-bit memory).
    ptr: PtrSize,
}

impl FakeMemory {
    fn new(encoding: StringEncoding) -> FakeMemory {
        FakeMemory {
            memory: vec![0; MEMORY_SIZE],
            next: HEAP_START,
            calls: Vec::new(),
            encoding,
            has_memory: true,
            forced_ptr: None,
            ptr: PtrSize::P32,
        }
    }

    fn bytes(&self, ptr: u64, len: usize) -> &[u8] {
        &self.memory[ptr as usize..][..len]
    }
}

impl AbiMemory for FakeMemory {
    fn memory(&self) -> Result<&[u8]> {
        if !self.has_memory {
            bail!("no memory");
        }
        Ok(&self.memory)
    }

    fn memory_mut(&mut self) -> Result<&mut [u8]> {
        if !self.has_memory {
            bail!("no memory");
        }
        Ok(&mut self.memory)
    }

    fn realloc(&mut self, old_ptr: u64, old_size: u32, align: u32, new_size: u32) -> Result<u64> {
        self.calls.push((old_ptr, old_size, align, new_size));
        if let Some(ptr) = self.forced_ptr {
            return Ok(ptr);
        }
        if old_ptr != 0 && new_size <= old_size {
            return Ok(old_ptr);
        }
        let ptr = self.next.div_ceil(u64::from(align)) * u64::from(align);
        self.next = ptr + u64::from(new_size);
        assert!(self.next as usize <= MEMORY_SIZE, "fake memory exhausted");
        if old_ptr != 0 {
            self.memory.copy_within(old_ptr as usize..(old_ptr + u64::from(old_size)) as usize, ptr as usize);
        }
        Ok(ptr)
    }

    fn string_encoding(&self) -> StringEncoding {
        self.encoding
    }

    fn ptr_size(&self) -> PtrSize {
        self.ptr
    }
}

const ENCODINGS: [StringEncoding; 3] = [StringEncoding::Utf8, StringEncoding::Utf16, StringEncoding::CompactUtf16];

fn trap_of<T: std::fmt::Debug>(result: Result<T>) -> Trap {
    let err = result.expect_err("expected a trap");
    match err.downcast_ref::<Trap>() {
        Some(trap) => *trap,
        None => panic!("expected a trap, got error: {err:#}"),
    }
}

// Type and value constructors.

fn list(t: ValueType) -> ValueType {
    ValueType::List(Box::new(t))
}
fn option(t: ValueType) -> ValueType {
    ValueType::Option(Box::new(t))
}
fn result(ok: Option<ValueType>, err: Option<ValueType>) -> ValueType {
    ValueType::Result { ok: ok.map(Box::new), err: err.map(Box::new) }
}
fn record(fields: &[(&str, ValueType)]) -> ValueType {
    ValueType::Record(fields.iter().map(|(n, t)| Field { name: n.to_string(), ty: t.clone() }).collect())
}
fn tuple(types: &[ValueType]) -> ValueType {
    ValueType::Tuple(types.to_vec().into())
}
fn variant(cases: &[(&str, Option<ValueType>)]) -> ValueType {
    ValueType::Variant(cases.iter().map(|(n, t)| Case { name: n.to_string(), ty: t.clone() }).collect())
}
fn names(prefix: &str, n: usize) -> Box<[String]> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}
fn string(s: &str) -> Val {
    Val::String(s.to_string())
}
fn some(v: Val) -> Val {
    Val::Option(Some(Box::new(v)))
}
fn case(name: &str, payload: Option<Val>) -> Val {
    Val::Variant(name.to_string(), payload.map(Box::new))
}
fn func(params: &[ValueType], result: Option<ValueType>) -> FuncType {
    FuncType { params: params.iter().enumerate().map(|(i, t)| (format!("p{i}"), t.clone())).collect(), result }
}

/// Lowers then lifts through core values, and stores then loads through memory, in every string
/// encoding; both must give `v` back.
fn round_trip(ty: &ValueType, v: &Val) {
    v.typecheck(ty).unwrap();
    for encoding in ENCODINGS {
        let mut cx = FakeMemory::new(encoding);
        let mut flat = Vec::new();
        lower_flat(&mut cx, ty, v, &mut flat).unwrap();
        assert_eq!(flat.iter().map(|f| f.ty()).collect::<Vec<_>>(), env::flat_types(ty), "{ty}");
        let mut vi = flat.into_iter();
        assert_eq!(&lift_flat(&cx, ty, &mut vi).unwrap(), v, "flat round trip of {ty} in {encoding:?}");
        assert_eq!(vi.next(), None);

        let ptr = cx.realloc(0, 0, env::align(ty), env::size(ty)).unwrap();
        store(&mut cx, ty, v, ptr).unwrap();
        assert_eq!(&load(&cx, ty, ptr).unwrap(), v, "memory round trip of {ty} in {encoding:?}");
    }
}

#[test]
fn primitives_round_trip() {
    let cases = [
        (ValueType::Bool, vec![Val::Bool(false), Val::Bool(true)]),
        (ValueType::S8, vec![Val::S8(i8::MIN), Val::S8(-1), Val::S8(i8::MAX)]),
        (ValueType::U8, vec![Val::U8(0), Val::U8(u8::MAX)]),
        (ValueType::S16, vec![Val::S16(i16::MIN), Val::S16(-2), Val::S16(i16::MAX)]),
        (ValueType::U16, vec![Val::U16(0), Val::U16(u16::MAX)]),
        (ValueType::S32, vec![Val::S32(i32::MIN), Val::S32(-3), Val::S32(i32::MAX)]),
        (ValueType::U32, vec![Val::U32(0), Val::U32(u32::MAX)]),
        (ValueType::S64, vec![Val::S64(i64::MIN), Val::S64(-4), Val::S64(i64::MAX)]),
        (ValueType::U64, vec![Val::U64(0), Val::U64(u64::MAX)]),
        (ValueType::F32, vec![Val::Float32(-0.0), Val::Float32(1.5), Val::Float32(f32::INFINITY)]),
        (ValueType::F64, vec![Val::Float64(-2.25), Val::Float64(f64::MIN_POSITIVE), Val::Float64(f64::NEG_INFINITY)]),
        (ValueType::Char, vec![Val::Char('\0'), Val::Char('é'), Val::Char('\u{D7FF}'), Val::Char('\u{10FFFF}')]),
    ];
    for (ty, values) in cases {
        for v in values {
            round_trip(&ty, &v);
        }
    }
}

#[test]
fn flat_integers_are_sign_extended_and_truncated() {
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ValueType::S8, &Val::S8(-1), &mut flat).unwrap();
    lower_flat(&mut cx, &ValueType::U32, &Val::U32(u32::MAX), &mut flat).unwrap();
    lower_flat(&mut cx, &ValueType::U64, &Val::U64(u64::MAX), &mut flat).unwrap();
    lower_flat(&mut cx, &ValueType::Char, &Val::Char('😀'), &mut flat).unwrap();
    assert_eq!(flat, [Flat::I32(-1), Flat::I32(-1), Flat::I64(-1), Flat::I32(0x1F600)]);
    // lift_flat_unsigned / lift_flat_signed keep the low bits; bool is "not zero".
    let lift = |ty: &ValueType, f: Flat| lift_flat(&cx, ty, &mut [f].into_iter()).unwrap();
    assert_eq!(lift(&ValueType::U8, Flat::I32(0x1ff)), Val::U8(0xff));
    assert_eq!(lift(&ValueType::S8, Flat::I32(0x80)), Val::S8(-128));
    assert_eq!(lift(&ValueType::U16, Flat::I32(-1)), Val::U16(0xffff));
    assert_eq!(lift(&ValueType::S16, Flat::I32(0x18000)), Val::S16(i16::MIN));
    assert_eq!(lift(&ValueType::Bool, Flat::I32(2)), Val::Bool(true));
    assert_eq!(lift(&ValueType::U32, Flat::I32(-1)), Val::U32(u32::MAX));
    // Core value types must match.
    assert!(lift_flat(&cx, &ValueType::U32, &mut [Flat::I64(1)].into_iter()).is_err());
    assert!(lift_flat(&cx, &ValueType::String, &mut [Flat::I32(0)].into_iter()).is_err());
}

#[test]
fn nans_are_canonical() {
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ValueType::F32, &Val::Float32(f32::from_bits(0x7fc0_1234)), &mut flat).unwrap();
    lower_flat(&mut cx, &ValueType::F64, &Val::Float64(f64::from_bits(0xfff0_0000_0000_0001)), &mut flat).unwrap();
    assert_eq!(flat, [Flat::F32(0x7fc0_0000), Flat::F64(0x7ff8_0000_0000_0000)]);
    let Val::Float32(f) = lift_flat(&cx, &ValueType::F32, &mut [Flat::F32(0xffc0_0001)].into_iter()).unwrap() else {
        panic!()
    };
    assert_eq!(f.to_bits(), 0x7fc0_0000);
    cx.memory[8..16].copy_from_slice(&0x7ff0_0000_0000_0001u64.to_le_bytes());
    let Val::Float64(f) = load(&cx, &ValueType::F64, 8).unwrap() else { panic!() };
    assert_eq!(f.to_bits(), 0x7ff8_0000_0000_0000);
}

const STRINGS: [&str; 8] =
    ["", "a", "hello", "héllo wörld ÿ", "日本語のテキスト", "astral 😀🎉 text", "aé日😀", "ÿ\u{100}"];

#[test]
fn strings_round_trip_in_every_encoding() {
    for s in STRINGS {
        round_trip(&ValueType::String, &string(s));
        round_trip(&list(ValueType::String), &Val::List(vec![string(s), string("x"), string(s)]));
    }
}

/// Lowers `s` as a flat string and returns `(ptr, tagged length, realloc calls)`.
fn lower_host_string(encoding: StringEncoding, s: &str) -> (FakeMemory, u64, u32) {
    let mut cx = FakeMemory::new(encoding);
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ValueType::String, &string(s), &mut flat).unwrap();
    let [Flat::I32(ptr), Flat::I32(len)] = flat[..] else { panic!() };
    (cx, u64::from(ptr as u32), len as u32)
}

#[test]
fn string_realloc_sequences_follow_the_spec() {
    let p = HEAP_START;
    // utf8 -> utf8: one exact allocation.
    let (cx, ptr, len) = lower_host_string(StringEncoding::Utf8, "héllo");
    assert_eq!((cx.calls.clone(), ptr, len), (vec![(0, 0, 1, 6)], p, 6));
    assert_eq!(cx.bytes(ptr, 6), "héllo".as_bytes());

    // utf8 -> utf16: worst case (2 bytes per UTF-8 byte), then shrink.
    let (cx, ptr, len) = lower_host_string(StringEncoding::Utf16, "héllo");
    assert_eq!((cx.calls.clone(), ptr, len), (vec![(0, 0, 2, 12), (p, 12, 2, 10)], p, 5));
    assert_eq!(cx.bytes(ptr, 10), b"h\0\xe9\0l\0l\0o\0");
    let (cx, _, len) = lower_host_string(StringEncoding::Utf16, "😀");
    assert_eq!((cx.calls.clone(), len), (vec![(0, 0, 2, 8), (p, 8, 2, 4)], 2));
    let (cx, _, len) = lower_host_string(StringEncoding::Utf16, "abc");
    assert_eq!((cx.calls.clone(), len), (vec![(0, 0, 2, 6)], 3));

    // utf8 -> latin1+utf16, all ASCII: exact, no shrink.
    let (cx, _, len) = lower_host_string(StringEncoding::CompactUtf16, "abc");
    assert_eq!((cx.calls.clone(), len), (vec![(0, 0, 2, 3)], 3));
    // Latin-1 beyond ASCII: shrink to the Latin-1 size.
    let (cx, ptr, len) = lower_host_string(StringEncoding::CompactUtf16, "héllo");
    assert_eq!((cx.calls.clone(), len), (vec![(0, 0, 2, 6), (p, 6, 2, 5)], 5));
    assert_eq!(cx.bytes(ptr, 5), b"h\xe9llo");
    // A character beyond Latin-1: grow to the UTF-16 worst case, inflate the prefix, shrink.
    let (cx, ptr, len) = lower_host_string(StringEncoding::CompactUtf16, "aé日");
    let grown = 1024 + 6; // the bump allocator moves the block when it grows
    assert_eq!(cx.calls, [(0, 0, 2, 6), (p, 6, 2, 12), (grown, 12, 2, 6)]);
    assert_eq!((ptr, len), (grown, 3 | UTF16_TAG));
    assert_eq!(cx.bytes(ptr, 6), b"a\0\xe9\0\xe5\x65");
    let (cx, _, len) = lower_host_string(StringEncoding::CompactUtf16, "😀");
    assert_eq!((cx.calls.clone(), len), (vec![(0, 0, 2, 4), (p, 4, 2, 8), (p + 4, 8, 2, 4)], 2 | UTF16_TAG));
    // Empty strings still call realloc, as the specification does.
    for encoding in ENCODINGS {
        let (cx, _, len) = lower_host_string(encoding, "");
        assert_eq!((cx.calls.len(), len), (1, 0));
    }
}

#[test]
fn strings_load_in_every_encoding() {
    let mut cx = FakeMemory::new(StringEncoding::Utf16);
    cx.memory[64..70].copy_from_slice(b"a\0\x3d\xd8\x00\xde"); // "a😀"
    let lift = |cx: &FakeMemory, ptr: u32, len: u32| {
        lift_flat(cx, &ValueType::String, &mut [Flat::I32(ptr as i32), Flat::I32(len as i32)].into_iter())
    };
    assert_eq!(lift(&cx, 64, 3).unwrap(), string("a😀"));
    cx.encoding = StringEncoding::CompactUtf16;
    assert_eq!(lift(&cx, 64, 3 | UTF16_TAG).unwrap(), string("a😀"));
    assert_eq!(lift(&cx, 64, 3).unwrap(), string("a\0="));
    cx.memory[80..82].copy_from_slice(b"\xe9\xff");
    assert_eq!(lift(&cx, 80, 2).unwrap(), string("éÿ"));
    cx.encoding = StringEncoding::Utf8;
    cx.memory[80..82].copy_from_slice("é".as_bytes());
    assert_eq!(lift(&cx, 80, 2).unwrap(), string("é"));
}

#[test]
fn string_traps() {
    let lift = |cx: &FakeMemory, ptr: u32, len: u32| {
        lift_flat(cx, &ValueType::String, &mut [Flat::I32(ptr as i32), Flat::I32(len as i32)].into_iter())
    };
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    cx.memory[64..67].copy_from_slice(b"a\xffb");
    assert_eq!(trap_of(lift(&cx, 64, 3)), Trap::InvalidUtf8);
    cx.memory[64..66].copy_from_slice(b"\xc3\x28");
    assert_eq!(trap_of(lift(&cx, 64, 2)), Trap::InvalidUtf8);
    // Ending inside a sequence that is valid so far is incomplete; an invalid prefix is invalid.
    assert_eq!(trap_of(lift(&cx, 64, 1)), Trap::IncompleteUtf8);
    cx.memory[64..67].copy_from_slice(b"a\xe2\x82");
    assert_eq!(trap_of(lift(&cx, 64, 3)), Trap::IncompleteUtf8);
    cx.memory[64..66].copy_from_slice(b"\xe0\x80");
    assert_eq!(trap_of(lift(&cx, 64, 2)), Trap::InvalidUtf8);
    assert_eq!(trap_of(lift(&cx, MEMORY_SIZE as u32 - 1, 2)), Trap::HostStringOutOfBounds);
    assert_eq!(trap_of(lift(&cx, 0, u32::MAX)), Trap::HostStringOutOfBounds);
    lift(&cx, MEMORY_SIZE as u32, 0).unwrap();

    // A lone surrogate, leading or trailing.
    cx.encoding = StringEncoding::Utf16;
    cx.memory[64..68].copy_from_slice(b"a\0\x00\xd8");
    assert_eq!(trap_of(lift(&cx, 64, 2)), Trap::InvalidUtf16);
    cx.memory[64..68].copy_from_slice(b"\x00\xdca\0");
    assert_eq!(trap_of(lift(&cx, 64, 2)), Trap::InvalidUtf16);
    assert_eq!(trap_of(lift(&cx, 65, 1)), Trap::HostStringUnaligned);
    // 2 * length overflows 32 bits: simply out of bounds.
    assert_eq!(trap_of(lift(&cx, 0, 0x8000_0000)), Trap::HostStringOutOfBounds);

    cx.encoding = StringEncoding::CompactUtf16;
    assert_eq!(trap_of(lift(&cx, 64, 2 | UTF16_TAG)), Trap::InvalidUtf16);
    assert_eq!(trap_of(lift(&cx, 65, 1)), Trap::HostStringUnaligned);
    assert_eq!(trap_of(lift(&cx, 0, u32::MAX)), Trap::HostStringOutOfBounds);
}

#[test]
fn realloc_results_are_checked() {
    for encoding in ENCODINGS {
        let mut cx = FakeMemory::new(encoding);
        cx.forced_ptr = Some(MEMORY_SIZE as u64 - 2);
        assert_eq!(
            trap_of(lower_params(&mut cx, &func(&[ValueType::String], None), &[string("hello")])),
            Trap::ReallocOutOfBounds
        );
        if encoding != StringEncoding::Utf8 {
            cx.forced_ptr = Some(1025);
            assert_eq!(
                trap_of(lower_params(&mut cx, &func(&[ValueType::String], None), &[string("x")])),
                Trap::ReallocUnaligned
            );
        }
        cx.forced_ptr = Some(1026);
        let ty = func(&[list(ValueType::U32)], None);
        assert_eq!(trap_of(lower_params(&mut cx, &ty, &[Val::List(vec![Val::U32(1)])])), Trap::ReallocUnaligned);
        // Even an empty list's allocation is checked.
        cx.forced_ptr = Some(MEMORY_SIZE as u64 + 4);
        assert_eq!(trap_of(lower_params(&mut cx, &ty, &[Val::List(vec![])])), Trap::ReallocOutOfBounds);
        // So is the tuple of parameters passed through memory.
        let many = func(&vec![ValueType::U64; 17], None);
        cx.forced_ptr = Some(MEMORY_SIZE as u64 - 8);
        let args = vec![Val::U64(0); 17];
        assert_eq!(trap_of(lower_params(&mut cx, &many, &args)), Trap::ReallocOutOfBounds);
        cx.forced_ptr = Some(4);
        assert_eq!(trap_of(lower_params(&mut cx, &many, &args)), Trap::ReallocUnaligned);
    }
}

#[test]
fn no_memory_is_an_error_not_a_trap() {
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    cx.has_memory = false;
    let err = lower_params(&mut cx, &func(&[ValueType::String], None), &[string("x")]).unwrap_err();
    assert!(err.downcast_ref::<Trap>().is_none());
    // Scalars need no memory.
    assert_eq!(lower_params(&mut cx, &func(&[ValueType::U8], None), &[Val::U8(3)]).unwrap(), [Flat::I32(3)]);
}

fn nested_record() -> ValueType {
    list(record(&[("a", ValueType::String), ("b", option(list(ValueType::U16)))]))
}

#[test]
fn nested_types_round_trip() {
    let element = |a: &str, b: Option<Vec<u16>>| {
        Val::Record(vec![
            ("a".into(), string(a)),
            ("b".into(), Val::Option(b.map(|b| Box::new(Val::List(b.into_iter().map(Val::U16).collect()))))),
        ])
    };
    let v = Val::List(vec![
        element("first", Some(vec![1, 2, 0xffff])),
        element("😀 second", None),
        element("", Some(vec![])),
    ]);
    round_trip(&nested_record(), &v);
    round_trip(&nested_record(), &Val::List(vec![]));

    let ty = tuple(&[ValueType::U8, list(list(ValueType::Char)), ValueType::U64, option(option(ValueType::S8))]);
    let v = Val::Tuple(vec![
        Val::U8(9),
        Val::List(vec![Val::List(vec![Val::Char('x'), Val::Char('😀')]), Val::List(vec![])]),
        Val::U64(1 << 40),
        some(Val::Option(None)),
    ]);
    round_trip(&ty, &v);
    let bytes = list(ValueType::U8);
    round_trip(&bytes, &Val::List((0..=255).map(Val::U8).collect()));
    round_trip(&list(ValueType::S8), &Val::List(vec![Val::S8(-1), Val::S8(5)]));
}

fn mixed_variant() -> ValueType {
    variant(&[
        ("a", Some(ValueType::F32)),
        ("b", Some(ValueType::U32)),
        ("c", Some(ValueType::F64)),
        ("d", None),
        ("e", Some(ValueType::String)),
        ("f", Some(ValueType::S64)),
        ("g", Some(tuple(&[ValueType::F32, ValueType::U8]))),
    ])
}

#[test]
fn variants_round_trip_with_joined_flat_types() {
    let ty = mixed_variant();
    assert_eq!(env::flat_types(&ty), [FlatType::I32, FlatType::I64, FlatType::I32]);
    let values = [
        case("a", Some(Val::Float32(1.5))),
        case("a", Some(Val::Float32(-0.0))),
        case("b", Some(Val::U32(u32::MAX))),
        case("c", Some(Val::Float64(-3.75))),
        case("d", None),
        case("e", Some(string("日本 😀"))),
        case("f", Some(Val::S64(-7))),
        case("g", Some(Val::Tuple(vec![Val::Float32(2.5), Val::U8(200)]))),
    ];
    for v in &values {
        round_trip(&ty, v);
    }
    // The spec's bit casts: f32 in an i64 slot via its bits, i32 zero-extended, f64 via bits.
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let lower = |cx: &mut FakeMemory, v: &Val| {
        let mut flat = Vec::new();
        lower_flat(cx, &ty, v, &mut flat).unwrap();
        flat
    };
    let bits32 = i64::from(1.5f32.to_bits());
    assert_eq!(lower(&mut cx, &values[0]), [Flat::I32(0), Flat::I64(bits32), Flat::I32(0)]);
    assert_eq!(lower(&mut cx, &values[2]), [Flat::I32(2 - 1), Flat::I64(0xffff_ffff), Flat::I32(0)]);
    assert_eq!(lower(&mut cx, &values[3]), [Flat::I32(2), Flat::I64((-3.75f64).to_bits() as i64), Flat::I32(0)]);
    assert_eq!(lower(&mut cx, &values[4]), [Flat::I32(3), Flat::I64(0), Flat::I32(0)]);
    assert_eq!(lower(&mut cx, &values[7]), [Flat::I32(6), Flat::I64(i64::from(2.5f32.to_bits())), Flat::I32(200)]);
    // Lifting wraps i64 slots to the case's i32: high bits are ignored.
    let flat = [Flat::I32(1), Flat::I64(0x1234_5678_0000_0005), Flat::I32(0)];
    assert_eq!(lift_flat(&cx, &ty, &mut flat.into_iter()).unwrap(), case("b", Some(Val::U32(5))));

    // f32 and i32 join to i32.
    let small = variant(&[("x", Some(ValueType::F32)), ("y", Some(ValueType::S32))]);
    assert_eq!(env::flat_types(&small), [FlatType::I32, FlatType::I32]);
    let mut flat = Vec::new();
    lower_flat(&mut cx, &small, &case("x", Some(Val::Float32(1.0))), &mut flat).unwrap();
    assert_eq!(flat, [Flat::I32(0), Flat::I32(1.0f32.to_bits() as i32)]);
    round_trip(&small, &case("x", Some(Val::Float32(1.0))));
    round_trip(&small, &case("y", Some(Val::S32(-1))));
}

#[test]
fn options_results_enums_round_trip() {
    let ty = result(None, Some(ValueType::String));
    round_trip(&ty, &Val::Result(Ok(None)));
    round_trip(&ty, &Val::Result(Err(Some(Box::new(string("failed: é😀"))))));
    let ty = result(Some(ValueType::U8), None);
    round_trip(&ty, &Val::Result(Ok(Some(Box::new(Val::U8(1))))));
    round_trip(&ty, &Val::Result(Err(None)));
    round_trip(&result(None, None), &Val::Result(Err(None)));
    let ty = option(ValueType::F64);
    round_trip(&ty, &Val::Option(None));
    round_trip(&ty, &some(Val::Float64(0.5)));

    let ty = ValueType::Enum(names("c", 300));
    assert_eq!((env::size(&ty), env::align(&ty)), (2, 2));
    for i in [0, 1, 255, 256, 299] {
        round_trip(&ty, &Val::Enum(format!("c{i}")));
    }
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    store(&mut cx, &ty, &Val::Enum("c299".into()), 32).unwrap();
    assert_eq!(cx.bytes(32, 2), [0x2b, 0x01]);
    round_trip(&ValueType::Enum(names("e", 2)), &Val::Enum("e1".into()));
}

#[test]
fn flags_round_trip_and_bit_layout() {
    for n in [1, 8, 9, 16, 17, 32, 33, 65] {
        let ty = ValueType::Flags(names("f", n));
        let all = Val::Flags(names("f", n).into_vec());
        round_trip(&ty, &all);
        round_trip(&ty, &Val::Flags(vec![]));
        let sparse: Vec<String> = (0..n).filter(|i| i % 3 == 0 || *i == n - 1).map(|i| format!("f{i}")).collect();
        round_trip(&ty, &Val::Flags(sparse));
    }
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let ty = ValueType::Flags(names("f", 33));
    let v = Val::Flags(vec!["f0".into(), "f31".into(), "f32".into()]);
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ty, &v, &mut flat).unwrap();
    assert_eq!(flat, [Flat::I32(i32::MIN | 1), Flat::I32(1)]);
    store(&mut cx, &ty, &v, 16).unwrap();
    assert_eq!(cx.bytes(16, 8), [1, 0, 0, 0x80, 1, 0, 0, 0]);

    let ty = ValueType::Flags(names("f", 65));
    let v = Val::Flags(vec!["f1".into(), "f64".into()]);
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ty, &v, &mut flat).unwrap();
    assert_eq!(flat, [Flat::I32(2), Flat::I32(0), Flat::I32(1)]);
    store(&mut cx, &ty, &v, 32).unwrap();
    assert_eq!(cx.bytes(32, 12), [2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);

    let ty = ValueType::Flags(names("f", 12));
    store(&mut cx, &ty, &Val::Flags(vec!["f9".into()]), 64).unwrap();
    assert_eq!(cx.bytes(64, 3), [0, 2, 0]);
    // Bits beyond the last flag are ignored when lifting.
    cx.memory[64..66].copy_from_slice(&[1, 0xf0]);
    assert_eq!(load(&cx, &ty, 64).unwrap(), Val::Flags(vec!["f0".into()]));
}

#[test]
fn hand_computed_record_layout() {
    // record { a: u8, b: u32, c: string }: a at 0, b at 4, c at 8 (pointer, length); size 16.
    let ty = record(&[("a", ValueType::U8), ("b", ValueType::U32), ("c", ValueType::String)]);
    assert_eq!((env::size(&ty), env::align(&ty), env::field_offsets(&ty)), (16, 4, vec![0, 4, 8]));
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    cx.memory[16..32].fill(0xaa);
    let v =
        Val::Record(vec![("a".into(), Val::U8(7)), ("b".into(), Val::U32(0x0102_0304)), ("c".into(), string("hi"))]);
    store(&mut cx, &ty, &v, 16).unwrap();
    assert_eq!(cx.calls, [(0, 0, 1, 2)]);
    let [p0, p1, p2, p3] = (HEAP_START as u32).to_le_bytes();
    // The padding after `a` is left untouched, as in the specification.
    assert_eq!(cx.bytes(16, 16), [7, 0xaa, 0xaa, 0xaa, 4, 3, 2, 1, p0, p1, p2, p3, 2, 0, 0, 0]);
    assert_eq!(cx.bytes(HEAP_START, 2), b"hi");
    assert_eq!(load(&cx, &ty, 16).unwrap(), v);

    // variant { x(u8), y(u64) }: a one-byte discriminant, payload at 8; size 16.
    let ty = variant(&[("x", Some(ValueType::U8)), ("y", Some(ValueType::U64))]);
    store(&mut cx, &ty, &case("y", Some(Val::U64(0x1122_3344_5566_7788))), 48).unwrap();
    assert_eq!(cx.bytes(48, 1), [1]);
    assert_eq!(cx.bytes(56, 8), 0x1122_3344_5566_7788u64.to_le_bytes());
}

#[test]
fn discriminant_and_char_traps() {
    let cx = FakeMemory::new(StringEncoding::Utf8);
    let lift = |ty: &ValueType, flat: &[Flat]| lift_flat(&cx, ty, &mut flat.iter().copied());
    assert_eq!(trap_of(lift(&option(ValueType::U8), &[Flat::I32(2), Flat::I32(0)])), Trap::InvalidDiscriminant);
    assert_eq!(trap_of(lift(&option(ValueType::U8), &[Flat::I32(-1), Flat::I32(0)])), Trap::InvalidDiscriminant);
    let flat = [Flat::I32(7), Flat::I64(0), Flat::I32(0)];
    assert_eq!(trap_of(lift(&mixed_variant(), &flat)), Trap::InvalidDiscriminant);
    assert_eq!(trap_of(lift(&result(None, None), &[Flat::I32(2)])), Trap::InvalidDiscriminant);
    assert_eq!(trap_of(lift(&ValueType::Char, &[Flat::I32(0xD800)])), Trap::InvalidChar);
    assert_eq!(trap_of(lift(&ValueType::Char, &[Flat::I32(0xDFFF)])), Trap::InvalidChar);
    assert_eq!(trap_of(lift(&ValueType::Char, &[Flat::I32(0x11_0000)])), Trap::InvalidChar);
    assert_eq!(trap_of(lift(&ValueType::Char, &[Flat::I32(-1)])), Trap::InvalidChar);

    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    cx.memory[8..12].copy_from_slice(&0xD800u32.to_le_bytes());
    assert_eq!(trap_of(load(&cx, &ValueType::Char, 8)), Trap::InvalidChar);
    cx.memory[8..12].copy_from_slice(&0x11_0000u32.to_le_bytes());
    assert_eq!(trap_of(load(&cx, &ValueType::Char, 8)), Trap::InvalidChar);
    let e300 = ValueType::Enum(names("c", 300));
    cx.memory[8..10].copy_from_slice(&300u16.to_le_bytes());
    assert_eq!(trap_of(load(&cx, &e300, 8)), Trap::InvalidDiscriminant);
    cx.memory[8] = 2;
    assert_eq!(trap_of(load(&cx, &result(Some(ValueType::U8), None), 8)), Trap::InvalidDiscriminant);
}

#[test]
fn list_traps() {
    let cx = FakeMemory::new(StringEncoding::Utf8);
    let lift = |ty: &ValueType, ptr: u32, len: u32| {
        lift_flat(&cx, ty, &mut [Flat::I32(ptr as i32), Flat::I32(len as i32)].into_iter())
    };
    let words = list(ValueType::U32);
    assert_eq!(trap_of(lift(&words, 2, 1)), Trap::UnalignedPointer);
    assert_eq!(trap_of(lift(&words, 2, 0)), Trap::UnalignedPointer);
    assert_eq!(trap_of(lift(&list(ValueType::U8), MEMORY_SIZE as u32 - 1, 2)), Trap::HostListOutOfBounds);
    assert_eq!(trap_of(lift(&words, MEMORY_SIZE as u32 - 4, 2)), Trap::HostListOutOfBounds);
    // An over-long length is out of bounds when loading (no 32-bit overflow).
    assert_eq!(trap_of(lift(&list(ValueType::U64), 0, 0x2000_0000)), Trap::HostListOutOfBounds);
    assert_eq!(trap_of(lift(&list(ValueType::U8), 0, u32::MAX)), Trap::HostListOutOfBounds);
    assert_eq!(lift(&words, 4, 2).unwrap(), Val::List(vec![Val::U32(0), Val::U32(0)]));
    // The same checks apply to lists found in memory.
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    cx.memory[8..16].copy_from_slice(&[2, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(trap_of(load(&cx, &words, 8)), Trap::UnalignedPointer);
    assert_eq!(trap_of(load(&cx, &words, 6)), Trap::UnalignedPointer);
    assert_eq!(trap_of(load(&cx, &words, MEMORY_SIZE as u64 - 4)), Trap::PointerOutOfBounds);
}

#[test]
fn over_long_list_is_length_too_large_when_stored() {
    // 2^18 elements of a 16 KiB type: 2^32 bytes, rejected before calling realloc.
    let elem = ValueType::Flags(names("f", 1 << 17));
    assert_eq!(env::size(&elem), 1 << 14);
    let v = Val::List(vec![Val::Flags(vec![]); 1 << 18]);
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let mut flat = Vec::new();
    assert_eq!(trap_of(lower_flat(&mut cx, &list(elem), &v, &mut flat)), Trap::LengthTooLarge);
    assert!(cx.calls.is_empty());
}

#[test]
fn params_are_passed_directly_up_to_the_limit() {
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let ty = func(&vec![ValueType::U32; 16], Some(ValueType::U8));
    let args: Vec<Val> = (0..16).map(Val::U32).collect();
    let flat = lower_params(&mut cx, &ty, &args).unwrap();
    assert_eq!(flat, (0..16).map(Flat::I32).collect::<Vec<_>>());
    assert!(cx.calls.is_empty());
    assert_eq!(lift_params(&cx, &ty, &flat).unwrap(), args);
    assert_eq!(lower_results(&mut cx, &ty, Some(&Val::U8(5)), None).unwrap(), [Flat::I32(5)]);
    assert_eq!(lift_results(&cx, &ty, &[Flat::I32(5)]).unwrap(), Some(Val::U8(5)));
    assert_eq!(results_out_ptr(&ty, PtrSize::P32, &flat).unwrap(), None);
    assert!(lift_params(&cx, &ty, &flat[1..]).is_err());
    assert!(lift_results(&cx, &ty, &[Flat::I32(5), Flat::I32(6)]).is_err());
}

#[test]
fn params_beyond_the_limit_go_through_memory() {
    for encoding in ENCODINGS {
        let mut cx = FakeMemory::new(encoding);
        let mut params = vec![ValueType::U8, ValueType::String];
        params.extend(vec![ValueType::U64; 15]);
        let ty = func(&params, None);
        let mut args = vec![Val::U8(1), string("aé😀")];
        args.extend((0..15).map(|i| Val::U64(i << 33)));
        let flat = lower_params(&mut cx, &ty, &args).unwrap();
        // tuple<u8, string, u64 x 15>: align 8, size 8 + 8 + 15 * 8.
        assert_eq!(cx.calls[0], (0, 0, 8, 136));
        assert_eq!(flat, [Flat::I32(HEAP_START as i32)]);
        assert_eq!(cx.bytes(HEAP_START, 1), [1]);
        assert_eq!(lift_params(&cx, &ty, &flat).unwrap(), args);
        assert_eq!(trap_of(lift_params(&cx, &ty, &[Flat::I32(HEAP_START as i32 + 4)])), Trap::UnalignedPointer);
        let end = MEMORY_SIZE as i32 - 128;
        assert_eq!(trap_of(lift_params(&cx, &ty, &[Flat::I32(end)])), Trap::PointerOutOfBounds);
    }
}

#[test]
fn results_beyond_the_limit_go_through_memory() {
    for encoding in ENCODINGS {
        let ty = func(&[ValueType::U32], Some(nested_record()));
        let result = Val::List(vec![Val::Record(vec![
            ("a".into(), string("ok 😀")),
            ("b".into(), some(Val::List(vec![Val::U16(3), Val::U16(4)]))),
        ])]);
        // Host import: the caller passes its argument and an out-pointer; the host stores there.
        let mut cx = FakeMemory::new(encoding);
        let flat_args = [Flat::I32(42), Flat::I32(512)];
        assert_eq!(lift_params(&cx, &ty, &flat_args).unwrap(), [Val::U32(42)]);
        let out_ptr = results_out_ptr(&ty, PtrSize::P32, &flat_args).unwrap();
        assert_eq!(out_ptr, Some(512));
        assert_eq!(lower_results(&mut cx, &ty, Some(&result), out_ptr).unwrap(), []);
        assert!(lower_results(&mut cx, &ty, Some(&result), None).is_err());
        // Lifted export: the callee returns a pointer to the result.
        assert_eq!(lift_results(&cx, &ty, &[Flat::I32(512)]).unwrap(), Some(result.clone()));
        assert_eq!(trap_of(lift_results(&cx, &ty, &[Flat::I32(514)])), Trap::UnalignedPointer);
        let end = MEMORY_SIZE as i32 - 4;
        assert_eq!(trap_of(lift_results(&cx, &ty, &[Flat::I32(end)])), Trap::PointerOutOfBounds);
        assert_eq!(trap_of(lower_results(&mut cx, &ty, Some(&result), Some(2))), Trap::UnalignedPointer);
        assert_eq!(trap_of(lower_results(&mut cx, &ty, Some(&result), Some(end as u64))), Trap::PointerOutOfBounds);

        let ty = func(&[], Some(result_string()));
        let err = Val::Result(Err(Some(Box::new(string("bad")))));
        let mut cx = FakeMemory::new(encoding);
        lower_results(&mut cx, &ty, Some(&err), Some(64)).unwrap();
        assert_eq!(cx.bytes(64, 1), [1]);
        assert_eq!(lift_results(&cx, &ty, &[Flat::I32(64)]).unwrap(), Some(err));
    }
}

fn result_string() -> ValueType {
    result(None, Some(ValueType::String))
}

#[test]
fn mismatched_values_fail_before_realloc() {
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let ty = func(&[ValueType::String, nested_record()], None);
    let bad = Val::List(vec![Val::Record(vec![("a".into(), string("x")), ("b".into(), some(Val::U8(1)))])]);
    let err = lower_params(&mut cx, &ty, &[string("first"), bad]).unwrap_err();
    assert!(format!("{err:#}").contains("type mismatch at `[0].b.some`"), "{err:#}");
    assert!(err.downcast_ref::<Trap>().is_none());
    assert!(cx.calls.is_empty());
    assert!(lower_params(&mut cx, &ty, &[string("only one")]).is_err());
    let ty = func(&[], Some(ValueType::U8));
    assert!(lower_results(&mut cx, &ty, Some(&Val::S8(1)), None).is_err());
    assert!(lower_results(&mut cx, &ty, None, None).is_err());
    // The inner entry points reject mismatches too, without panicking.
    let mut flat = Vec::new();
    assert!(lower_flat(&mut cx, &ValueType::Enum(names("e", 2)), &Val::Enum("zz".into()), &mut flat).is_err());
    assert!(store(&mut cx, &ValueType::Flags(names("f", 2)), &Val::Flags(vec!["g".into()]), 0).is_err());
    assert!(store(&mut cx, &option(ValueType::U8), &Val::Option(None), 1).is_ok());
}

#[test]
fn store_and_load_check_their_pointer() {
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    assert_eq!(trap_of(store(&mut cx, &ValueType::U32, &Val::U32(1), 2)), Trap::UnalignedPointer);
    let end = MEMORY_SIZE as u64;
    assert_eq!(trap_of(store(&mut cx, &ValueType::U32, &Val::U32(1), end)), Trap::PointerOutOfBounds);
    assert_eq!(trap_of(load(&cx, &ValueType::U64, 4)), Trap::UnalignedPointer);
    assert_eq!(trap_of(load(&cx, &ValueType::U64, end)), Trap::PointerOutOfBounds);
}

/// The text's length in `encoding` as the specification tags it.
fn tagged_length(text: &str, encoding: StringEncoding) -> u32 {
    let utf16_units = text.encode_utf16().count() as u32;
    match encoding {
        StringEncoding::Utf8 => text.len() as u32,
        StringEncoding::Utf16 => utf16_units,
        StringEncoding::CompactUtf16 if text.chars().all(|c| u32::from(c) < 256) => utf16_units,
        StringEncoding::CompactUtf16 => utf16_units | UTF16_TAG,
    }
}

#[test]
fn strings_transcode_between_every_encoding_pair() {
    for text in STRINGS {
        for src_encoding in ENCODINGS {
            let src =
                StringSource { text, encoding: src_encoding, tagged_code_units: tagged_length(text, src_encoding) };
            for dst_encoding in ENCODINGS {
                let mut cx = FakeMemory::new(dst_encoding);
                let (ptr, len) = lower_string(&mut cx, src).unwrap();
                assert_eq!(
                    lift_string(&cx, ptr, u64::from(len)).unwrap(),
                    text,
                    "{src_encoding:?} -> {dst_encoding:?}"
                );
                // The result is tagged as the destination would measure it (latin1+utf16 keeps a
                // UTF-16 source as UTF-16 only if it needs it).
                assert_eq!(len, tagged_length(text, dst_encoding), "{text:?} {src_encoding:?} -> {dst_encoding:?}");
            }
        }
    }
}

#[test]
fn transcoding_realloc_sequences_follow_the_spec() {
    let p = HEAP_START;
    let source = |text, encoding| StringSource { text, encoding, tagged_code_units: tagged_length(text, encoding) };
    let calls = |dst, src: StringSource<'_>| {
        let mut cx = FakeMemory::new(dst);
        let (ptr, len) = lower_string(&mut cx, src).unwrap();
        (cx.calls, ptr, len)
    };
    // utf16 -> utf8: one byte per code unit; on the first non-ASCII character grow to 3 bytes per
    // unit, then shrink to the encoded size.
    let (c, ptr, len) = calls(StringEncoding::Utf8, source("aé日", StringEncoding::Utf16));
    assert_eq!(c, [(0, 0, 1, 3), (p, 3, 1, 9), (p + 3, 9, 1, 6)]);
    assert_eq!((ptr, len), (p + 3, 6));
    // All ASCII: no growth.
    assert_eq!(calls(StringEncoding::Utf8, source("abc", StringEncoding::Utf16)).0, [(0, 0, 1, 3)]);
    // Latin-1 -> utf8: worst case 2 bytes per unit.
    let latin1 = StringSource { text: "é", encoding: StringEncoding::CompactUtf16, tagged_code_units: 1 };
    assert_eq!(calls(StringEncoding::Utf8, latin1).0, [(0, 0, 1, 1), (p, 1, 1, 2)]);
    // Latin-1 -> utf16 and utf16 -> utf16: exact copies.
    assert_eq!(calls(StringEncoding::Utf16, latin1), (vec![(0, 0, 2, 2)], p, 1));
    assert_eq!(calls(StringEncoding::Utf16, source("日😀", StringEncoding::Utf16)).0, [(0, 0, 2, 6)]);
    // Latin-1 -> latin1+utf16: exact copy with alignment 2.
    assert_eq!(calls(StringEncoding::CompactUtf16, latin1), (vec![(0, 0, 2, 1)], p, 1));
    // UTF-16 half of latin1+utf16 -> latin1+utf16: copy as UTF-16, then compress if it fits Latin-1.
    let probably =
        StringSource { text: "abé", encoding: StringEncoding::CompactUtf16, tagged_code_units: 3 | UTF16_TAG };
    let (c, ptr, len) = calls(StringEncoding::CompactUtf16, probably);
    assert_eq!((c, len), (vec![(0, 0, 2, 6), (p, 6, 1, 3)], 3));
    let mut cx = FakeMemory::new(StringEncoding::CompactUtf16);
    lower_string(&mut cx, probably).unwrap();
    assert_eq!(cx.bytes(ptr, 3), b"ab\xe9");
    let (c, _, len) = calls(StringEncoding::CompactUtf16, source("a日", StringEncoding::CompactUtf16));
    assert_eq!((c, len), (vec![(0, 0, 2, 4)], 2 | UTF16_TAG));
    // utf16 -> latin1+utf16: optimistic Latin-1 of one byte per unit, inflated on demand.
    let (c, _, len) = calls(StringEncoding::CompactUtf16, source("é日", StringEncoding::Utf16));
    assert_eq!((c, len), (vec![(0, 0, 2, 2), (p, 2, 2, 4)], 2 | UTF16_TAG));
    // A source whose length disagrees with its text is an error, not a panic.
    let bad = StringSource { text: "日", encoding: StringEncoding::CompactUtf16, tagged_code_units: 1 };
    for dst in ENCODINGS {
        assert!(lower_string(&mut FakeMemory::new(dst), bad).is_err());
        let short = StringSource { text: "héllo", encoding: StringEncoding::Utf8, tagged_code_units: 2 };
        assert!(lower_string(&mut FakeMemory::new(dst), short).is_err());
    }
}

#[test]
fn maps_round_trip_as_lists_of_entries() {
    let ty = ValueType::Map(Box::new(ValueType::String), Box::new(list(ValueType::U16)));
    let v = Val::Map(vec![
        (string("a"), Val::List(vec![Val::U16(1), Val::U16(2)])),
        (string("é😀"), Val::List(vec![])),
        (string(""), Val::List(vec![Val::U16(u16::MAX)])),
    ]);
    round_trip(&ty, &v);
    round_trip(&ty, &Val::Map(vec![]));
    // Entries are laid out as tuple<string, list<u16>>: one allocation of 3 * 16 bytes, align 4.
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ty, &v, &mut flat).unwrap();
    assert_eq!(cx.calls[0], (0, 0, 4, 48));
    assert_eq!(flat[1], Flat::I32(3));
    // A map's entries are bounds-checked like a list's.
    let lift =
        |ptr: u32, len: u32| lift_flat(&cx, &ty, &mut [Flat::I32(ptr as i32), Flat::I32(len as i32)].into_iter());
    assert_eq!(trap_of(lift(MEMORY_SIZE as u32 - 16, 2)), Trap::HostListOutOfBounds);
    assert_eq!(trap_of(lift(2, 1)), Trap::UnalignedPointer);
    // Values are checked against both the key and the value type.
    let bad = Val::Map(vec![(string("k"), Val::U16(1))]);
    assert!(bad.typecheck(&ty).unwrap_err().to_string().contains("`[0].value`"));
}

#[test]
fn fixed_length_lists_round_trip_like_tuples() {
    let ty = ValueType::FixedList(Box::new(record(&[("a", ValueType::U8), ("b", ValueType::String)])), 3);
    let elem = |n: u8, s: &str| Val::Record(vec![("a".into(), Val::U8(n)), ("b".into(), string(s))]);
    let v = Val::List(vec![elem(1, "x"), elem(2, ""), elem(3, "ÿ😀")]);
    round_trip(&ty, &v);
    // Flat: the elements' flat values one after the other.
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ty, &v, &mut flat).unwrap();
    assert_eq!(flat.len(), 9);
    // A fixed-length list of another length is a type mismatch, not a trap.
    let short = Val::List(vec![elem(1, "x")]);
    assert!(short.typecheck(&ty).unwrap_err().to_string().contains("list of 1 elements"));
    let err = lower_flat(&mut cx, &ty, &short, &mut Vec::new()).unwrap_err();
    assert!(err.downcast_ref::<Trap>().is_none());
    // Nested in a variant, with joined payload types.
    let nested = option(ValueType::FixedList(Box::new(ValueType::F32), 2));
    round_trip(&nested, &some(Val::List(vec![Val::Float32(1.5), Val::Float32(-0.0)])));
    round_trip(&nested, &Val::Option(None));
    // Long ones go through memory when passed as parameters.
    let long = ValueType::FixedList(Box::new(ValueType::U64), 20);
    let ty = func(std::slice::from_ref(&long), Some(long.clone()));
    let args = [Val::List((0..20).map(|i| Val::U64(i << 40)).collect())];
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    let flat = lower_params(&mut cx, &ty, &args).unwrap();
    assert_eq!(cx.calls, [(0, 0, 8, 160)]);
    assert_eq!(lift_params(&cx, &ty, &flat).unwrap(), args);
}

#[test]
fn layouts_of_64_bit_memories() {
    // record { a: u8, b: string, c: list<u16> }: pointers and lengths take 8 bytes, aligned to 8.
    let ty =
        record(&[("a", ValueType::U8), ("b", ValueType::String), ("c", ValueType::List(Box::new(ValueType::U16)))]);
    let mut cx = FakeMemory::new(StringEncoding::Utf8);
    cx.ptr = PtrSize::P64;
    let v = Val::Record(vec![
        ("a".into(), Val::U8(7)),
        ("b".into(), string("hi")),
        ("c".into(), Val::List(vec![Val::U16(1), Val::U16(2)])),
    ]);
    store(&mut cx, &ty, &v, 16).unwrap();
    assert_eq!(cx.calls, [(0, 0, 1, 2), (0, 0, 2, 4)]);
    let word = |at: u64| u64::from_le_bytes(cx.bytes(at, 8).try_into().unwrap());
    assert_eq!(cx.bytes(16, 1), [7]);
    assert_eq!((word(24), word(32)), (HEAP_START, 2));
    assert_eq!((word(40), word(48)), (HEAP_START + 2, 2));
    assert_eq!(load(&cx, &ty, 16).unwrap(), v);
    // A record of 40 bytes aligned to 8: 12 is misaligned.
    assert_eq!(trap_of(load(&cx, &ty, 12)), Trap::UnalignedPointer);

    // Flat: `i64` pointer and length.
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ValueType::String, &string("xyz"), &mut flat).unwrap();
    let [Flat::I64(ptr), Flat::I64(3)] = flat[..] else { panic!("{flat:?}") };
    assert_eq!(lift_flat(&cx, &ValueType::String, &mut flat.iter().copied()).unwrap(), string("xyz"));
    assert_eq!(cx.bytes(ptr as u64, 3), b"xyz");
    // A 32-bit core value where the memory needs a 64-bit one is an error, not a misread.
    assert!(lift_flat(&cx, &ValueType::String, &mut [Flat::I32(0), Flat::I32(0)].into_iter()).is_err());
    // A length beyond 32 bits, or a range that wraps, is out of bounds.
    let huge = [Flat::I64(1024), Flat::I64(1 << 32)];
    assert_eq!(trap_of(lift_flat(&cx, &ValueType::String, &mut huge.into_iter())), Trap::HostStringOutOfBounds);
    let wraps = [Flat::I64(-16), Flat::I64(32)];
    assert_eq!(trap_of(lift_flat(&cx, &ValueType::String, &mut wraps.into_iter())), Trap::HostStringOutOfBounds);
    let list = ValueType::List(Box::new(ValueType::U64));
    let wraps = [Flat::I64(-16), Flat::I64(1 << 61)];
    assert_eq!(trap_of(lift_flat(&cx, &list, &mut wraps.into_iter())), Trap::HostListOutOfBounds);

    // `latin1+utf16`: the UTF-16 tag is bit 63 of a 64-bit length.
    let mut cx = FakeMemory::new(StringEncoding::CompactUtf16);
    cx.ptr = PtrSize::P64;
    let mut flat = Vec::new();
    lower_flat(&mut cx, &ValueType::String, &string("∑"), &mut flat).unwrap();
    assert_eq!(flat[1], Flat::I64((1u64 | 1 << 63) as i64));
    assert_eq!(lift_flat(&cx, &ValueType::String, &mut flat.iter().copied()).unwrap(), string("∑"));
    flat.clear();
    lower_flat(&mut cx, &ValueType::String, &string("é"), &mut flat).unwrap();
    assert_eq!(flat[1], Flat::I64(1));
    // Bit 31 is no tag there: a length that needs it is out of bounds.
    let ptr = flat[0];
    let bit31 = [ptr, Flat::I64(1 << 31 | 1)];
    assert_eq!(trap_of(lift_flat(&cx, &ValueType::String, &mut bit31.into_iter())), Trap::HostStringOutOfBounds);

    // The out-pointer of a lowered import is the last `i64` argument.
    let ty = FuncType { params: Box::new([]), result: Some(ValueType::String) };
    assert_eq!(results_out_ptr(&ty, PtrSize::P64, &[Flat::I64(64)]).unwrap(), Some(64));
    assert!(results_out_ptr(&ty, PtrSize::P64, &[Flat::I32(64)]).is_err());
}

#[test]
fn length_limits_come_before_alignment() {
    // `MAX_STRING_BYTE_LENGTH` and `MAX_LIST_BYTE_LENGTH` (2^28 - 1 bytes) are checked first.
    let cx = FakeMemory::new(StringEncoding::Utf16);
    let over = [Flat::I32(1), Flat::I32(1 << 27)];
    assert_eq!(trap_of(lift_flat(&cx, &ValueType::String, &mut over.into_iter())), Trap::HostStringOutOfBounds);
    let within = [Flat::I32(1), Flat::I32((1 << 27) - 1)];
    assert_eq!(trap_of(lift_flat(&cx, &ValueType::String, &mut within.into_iter())), Trap::HostStringUnaligned);
    let list = ValueType::List(Box::new(ValueType::U32));
    let over = [Flat::I32(2), Flat::I32(1 << 26)];
    assert_eq!(trap_of(lift_flat(&cx, &list, &mut over.into_iter())), Trap::HostListOutOfBounds);
    let within = [Flat::I32(2), Flat::I32((1 << 26) - 1)];
    assert_eq!(trap_of(lift_flat(&cx, &list, &mut within.into_iter())), Trap::UnalignedPointer);
}
