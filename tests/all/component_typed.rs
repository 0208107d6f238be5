//! The typed component API: `#[derive(ComponentType, Lift, Lower)]`, `flags!` and the built-in
//! Rust types, each round-tripped host -> guest -> host through a component whose export calls a
//! host import with the same type. Values go through the guest's memory both ways: the typed
//! call lowers into it, the host import lifts from it and lowers its result back, and the typed
//! call lifts the result. The dynamic (`Val`) path must see the same values.

use anyhow::{Context, Result, bail, ensure};
use kiln::component::types::{FuncType, ValueType};
use kiln::component::{Component, ComponentType, Lift, Linker, Lower, Val, flags};
use kiln::{Engine, Store};
use kiln_environ::component::{Context as AbiContext, FlatType, flatten_func};
use libtest_mimic::{Failed, Trial};
use std::fmt::{Debug, Write};

macro_rules! typed_tests {
    ($($name:ident),* $(,)?) => {
        pub fn trials() -> Vec<Trial> {
            vec![$(
                Trial::test(concat!("component_typed::", stringify!($name)), || {
                    $name().map_err(|e| Failed::from(format!("{e:?}")))
                }),
            )*]
        }
    };
}

typed_tests![
    built_in_types,
    records,
    generic_record,
    variants,
    enums,
    enum_of_257_cases,
    flags_sizes,
    flags_operations,
    params_and_results_in_memory,
    list_of_records,
    type_mismatch_names_the_difference,
    derive_and_val_agree,
    unsupported_export_says_why,
    async_lift_from_rust,
];

// ---------------------------------------------------------------------------------------------
// The echo component

/// Named types (records, variants, enums, flags) in dependency order: each must be imported
/// and exported by name to appear in an imported or exported function's type.
fn named_types(ty: &ValueType, out: &mut Vec<ValueType>) {
    match ty {
        ValueType::List(t) | ValueType::Option(t) | ValueType::FixedList(t, _) => named_types(t, out),
        ValueType::Tuple(ts) => ts.iter().for_each(|t| named_types(t, out)),
        ValueType::Result { ok, err } => {
            ok.iter().for_each(|t| named_types(t, out));
            err.iter().for_each(|t| named_types(t, out));
        }
        ValueType::Record(fields) => fields.iter().for_each(|f| named_types(&f.ty, out)),
        ValueType::Variant(cases) => cases.iter().filter_map(|c| c.ty.as_ref()).for_each(|t| named_types(t, out)),
        _ => {}
    }
    if matches!(ty, ValueType::Record(_) | ValueType::Variant(_) | ValueType::Enum(_) | ValueType::Flags(_))
        && !out.contains(ty)
    {
        out.push(ty.clone());
    }
}

/// `ty` in the text format, naming named types `$<prefix><index>`.
fn wat_ref(ty: &ValueType, prefix: &str, named: &[ValueType]) -> String {
    if let Some(i) = named.iter().position(|n| n == ty) {
        return format!("${prefix}{i}");
    }
    wat_def(ty, prefix, named)
}

fn wat_def(ty: &ValueType, p: &str, named: &[ValueType]) -> String {
    let r = |t: &ValueType| wat_ref(t, p, named);
    match ty {
        ValueType::Bool => "bool".into(),
        ValueType::S8 => "s8".into(),
        ValueType::U8 => "u8".into(),
        ValueType::S16 => "s16".into(),
        ValueType::U16 => "u16".into(),
        ValueType::S32 => "s32".into(),
        ValueType::U32 => "u32".into(),
        ValueType::S64 => "s64".into(),
        ValueType::U64 => "u64".into(),
        ValueType::F32 => "f32".into(),
        ValueType::F64 => "f64".into(),
        ValueType::Char => "char".into(),
        ValueType::String => "string".into(),
        ValueType::List(t) => format!("(list {})", r(t)),
        ValueType::FixedList(t, n) => format!("(list {} {n})", r(t)),
        ValueType::Option(t) => format!("(option {})", r(t)),
        ValueType::Tuple(ts) => format!("(tuple {})", ts.iter().map(r).collect::<Vec<_>>().join(" ")),
        ValueType::Result { ok, err } => {
            let mut s = "(result".to_string();
            if let Some(t) = ok {
                write!(s, " {}", r(t)).unwrap();
            }
            if let Some(t) = err {
                write!(s, " (error {})", r(t)).unwrap();
            }
            s + ")"
        }
        ValueType::Record(fields) => {
            let fields: Vec<_> = fields.iter().map(|f| format!("(field \"{}\" {})", f.name, r(&f.ty))).collect();
            format!("(record {})", fields.join(" "))
        }
        ValueType::Variant(cases) => {
            let cases: Vec<_> = cases
                .iter()
                .map(|c| match &c.ty {
                    Some(t) => format!("(case \"{}\" {})", c.name, r(t)),
                    None => format!("(case \"{}\")", c.name),
                })
                .collect();
            format!("(variant {})", cases.join(" "))
        }
        ValueType::Enum(names) => {
            format!("(enum {})", names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" "))
        }
        ValueType::Flags(names) => {
            format!("(flags {})", names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" "))
        }
        other => panic!("the echo component does not handle {other}"),
    }
}

fn core_types(types: &[FlatType]) -> String {
    types
        .iter()
        .map(|t| match t {
            FlatType::I32 => "i32",
            FlatType::I64 => "i64",
            FlatType::F32 => "f32",
            FlatType::F64 => "f64",
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A component exporting `echo: func(x: T) -> T` that forwards to its import `host-echo` of the
/// same type, with a bump allocator as `realloc`.
fn echo_component(ty: &ValueType) -> String {
    let mut named = Vec::new();
    named_types(ty, &mut named);
    let mut out = String::from("(component\n");
    for (i, t) in named.iter().enumerate() {
        writeln!(out, "  (type $d{i} {})", wat_def(t, "i", &named)).unwrap();
        writeln!(out, "  (import \"t{i}\" (type $i{i} (eq $d{i})))").unwrap();
    }
    let func = FuncType { params: vec![("x".to_string(), ty.clone())].into(), result: Some(ty.clone()) };
    let lift = flatten_func(&func, AbiContext::Lift);
    let lower = flatten_func(&func, AbiContext::Lower);
    let out_ptr = lower.params.len() > lift.params.len();
    let gets: String = (0..lift.params.len()).map(|i| format!("local.get {i} ")).collect();
    let pass_out_ptr = if out_ptr { "i32.const 8" } else { "" };
    let it = wat_ref(ty, "i", &named);
    write!(
        out,
        r#"  (import "host-echo" (func $host (param "x" {it}) (result {it})))
  (core module $libc
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get $align) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get $align))))
      (global.set $next (i32.add (local.get $p) (local.get $size)))
      (block $ok
        (loop $grow
          (br_if $ok (i32.le_u (global.get $next) (i32.shl (memory.size) (i32.const 16))))
          (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
          (br $grow)))
      (local.get $p)))
  (core instance $libc (instantiate $libc))
  (alias core export $libc "memory" (core memory $mem))
  (alias core export $libc "realloc" (core func $realloc))
  (core func $lowered (canon lower (func $host) (memory $mem) (realloc $realloc)))
  (core module $m
    (import "" "host" (func $host (param {lower_params}) (result {lower_results})))
    (func (export "echo") (param {lift_params}) (result {lift_results})
      {gets}{pass_out_ptr}
      call $host
      {pass_out_ptr}))
  (core instance $m (instantiate $m (with "" (instance (export "host" (func $lowered))))))
"#,
        lower_params = core_types(&lower.params),
        lower_results = core_types(&lower.results),
        lift_params = core_types(&lift.params),
        lift_results = core_types(&lift.results),
    )
    .unwrap();
    for (i, t) in named.iter().enumerate() {
        writeln!(out, "  (type $x{i} {})", wat_def(t, "e", &named)).unwrap();
        writeln!(out, "  (export $e{i} \"t{i}\" (type $x{i}))").unwrap();
    }
    let et = wat_ref(ty, "e", &named);
    writeln!(
        out,
        r#"  (func (export "echo") (param "x" {et}) (result {et})
    (canon lift (core func $m "echo") (memory $mem) (realloc $realloc))))"#
    )
    .unwrap();
    out
}

/// What the host import saw.
#[derive(Default)]
struct Seen(Vec<Val>);

/// Round-trips `value` through the echo component for its own type, by the typed path and by
/// the dynamic path, and checks the host import saw it too.
fn echo<T>(engine: &Engine, value: T) -> Result<()>
where
    T: ComponentType + Lift + Lower + PartialEq + Debug + Clone + Send + Sync + 'static,
{
    let wat = echo_component(&T::ty());
    let component = Component::new(engine, &wat).with_context(|| format!("compiling\n{wat}"))?;
    let mut linker = Linker::<Seen>::new(engine);
    linker.root().func_wrap("host-echo", |mut store: kiln::StoreContextMut<'_, Seen>, (x,): (T,)| {
        store.data_mut().0.push(x.to_val());
        Ok((x,))
    })?;
    let mut store = Store::new(engine, Seen::default());
    let instance = linker.instantiate(&mut store, &component)?;
    let echo = instance.get_typed_func::<(T,), (T,)>(&mut store, "echo")?;
    let (back,) = echo.call(&mut store, (value.clone(),))?;
    ensure!(back == value, "typed echo of {value:?} gave {back:?}");
    ensure!(store.data().0 == [value.to_val()], "the host import saw {:?}, not {value:?}", store.data().0);
    // The same function called with dynamic values.
    let func = instance.get_func(&mut store, "echo").context("echo")?;
    let mut results = [Val::Bool(false)];
    func.call(&mut store, &[value.to_val()], &mut results)?;
    let back = T::from_val(results[0].clone())?;
    ensure!(back == value, "dynamic echo of {value:?} gave {back:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Types

#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq)]
#[component(record)]
struct Point {
    #[component(name = "x-coord")]
    x: i32,
    y: u32,
}

#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq)]
#[component(record)]
struct Everything {
    flag: bool,
    small: i8,
    byte: u8,
    short: i16,
    word: u32,
    long: i64,
    unsigned: u64,
    single: f32,
    double: f64,
    letter: char,
    name: String,
    bytes: Vec<u8>,
    maybe: Option<f64>,
    outcome: Result<String, u8>,
    pair: (u16, String),
    origin: Point,
    points: Vec<Point>,
}

#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq)]
#[component(record)]
struct Pair<T> {
    first: T,
    second: T,
}

#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq)]
#[component(variant)]
enum Shape {
    #[component(name = "circle")]
    Circle(f32),
    #[component(name = "rect")]
    Rect(Point),
    #[component(name = "empty")]
    Empty,
    #[component(name = "named")]
    Named(String),
    #[component(name = "big")]
    Big(u64),
    #[component(name = "precise")]
    Precise(f64),
}

#[derive(ComponentType, Lift, Lower, Debug, Clone, Copy, PartialEq)]
#[component(enum)]
#[repr(u8)]
enum Color {
    #[component(name = "red")]
    Red,
    #[component(name = "green")]
    Green,
    #[component(name = "blue")]
    Blue,
}

#[derive(ComponentType, Lift, Lower, Debug, Clone, Copy, PartialEq)]
#[component(enum)]
#[repr(u16)]
#[rustfmt::skip]
enum Wide {
    C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17, C18, C19, C20,
    C21, C22, C23, C24, C25, C26, C27, C28, C29, C30, C31, C32, C33, C34, C35, C36, C37, C38, C39,
    C40, C41, C42, C43, C44, C45, C46, C47, C48, C49, C50, C51, C52, C53, C54, C55, C56, C57, C58,
    C59, C60, C61, C62, C63, C64, C65, C66, C67, C68, C69, C70, C71, C72, C73, C74, C75, C76, C77,
    C78, C79, C80, C81, C82, C83, C84, C85, C86, C87, C88, C89, C90, C91, C92, C93, C94, C95, C96,
    C97, C98, C99, C100, C101, C102, C103, C104, C105, C106, C107, C108, C109, C110, C111, C112,
    C113, C114, C115, C116, C117, C118, C119, C120, C121, C122, C123, C124, C125, C126, C127, C128,
    C129, C130, C131, C132, C133, C134, C135, C136, C137, C138, C139, C140, C141, C142, C143, C144,
    C145, C146, C147, C148, C149, C150, C151, C152, C153, C154, C155, C156, C157, C158, C159, C160,
    C161, C162, C163, C164, C165, C166, C167, C168, C169, C170, C171, C172, C173, C174, C175, C176,
    C177, C178, C179, C180, C181, C182, C183, C184, C185, C186, C187, C188, C189, C190, C191, C192,
    C193, C194, C195, C196, C197, C198, C199, C200, C201, C202, C203, C204, C205, C206, C207, C208,
    C209, C210, C211, C212, C213, C214, C215, C216, C217, C218, C219, C220, C221, C222, C223, C224,
    C225, C226, C227, C228, C229, C230, C231, C232, C233, C234, C235, C236, C237, C238, C239, C240,
    C241, C242, C243, C244, C245, C246, C247, C248, C249, C250, C251, C252, C253, C254, C255, C256
}

/// Seventeen flat values: as a parameter it goes through memory, as a result too.
#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq)]
#[component(record)]
struct Seventeen {
    a: u32,
    b: u32,
    c: u32,
    d: u32,
    e: u32,
    f: u32,
    g: u32,
    h: u32,
    i: u32,
    j: u32,
    k: u32,
    l: u32,
    m: u32,
    n: u32,
    o: u32,
    p: u32,
    q: u64,
}

flags! {
    F1 { const A; }
    F8 { const A; const B; const C; const D; const E; const F; const G; const H; }
    F9 { const A; const B; const C; const D; const E; const F; const G; const H; const I; }
    F16 {
        const A0; const A1; const A2; const A3; const A4; const A5; const A6; const A7;
        const A8; const A9; const A10; const A11; const A12; const A13; const A14; const A15;
    }
    F17 {
        const A0; const A1; const A2; const A3; const A4; const A5; const A6; const A7;
        const A8; const A9; const A10; const A11; const A12; const A13; const A14; const A15;
        const A16;
    }
    F32 {
        const A0; const A1; const A2; const A3; const A4; const A5; const A6; const A7;
        const A8; const A9; const A10; const A11; const A12; const A13; const A14; const A15;
        const A16; const A17; const A18; const A19; const A20; const A21; const A22; const A23;
        const A24; const A25; const A26; const A27; const A28; const A29; const A30; const A31;
    }
    /// More flags than the validator allows in a component type today (32): the multi-word
    /// layout, checked without a component.
    F40 { const B0; const B1; const B2; const B3; const B4; const B5; const B6; const B7; const B8; const B9; const B10; const B11; const B12; const B13; const B14; const B15; const B16; const B17; const B18; const B19; const B20; const B21; const B22; const B23; const B24; const B25; const B26; const B27; const B28; const B29; const B30; const B31; const B32; const B33; const B34; const B35; const B36; const B37; const B38; const B39; }
    Perms {
        #[component(name = "read")]
        const READ;
        #[component(name = "write")]
        const WRITE;
        #[component(name = "exec")]
        const EXEC;
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

fn built_in_types() -> Result<()> {
    let engine = Engine::default();
    echo(&engine, 42u32)?;
    echo(&engine, -7i64)?;
    echo(&engine, 'λ')?;
    echo(&engine, true)?;
    echo(&engine, 1.5f32)?;
    echo(&engine, String::from("hello, component"))?;
    echo(&engine, "x".repeat(1024))?;
    echo(&engine, vec![1u8, 2, 3, 255])?;
    echo(&engine, vec![-1i64, i64::MIN, i64::MAX])?;
    echo(&engine, vec![String::from("a"), String::new(), String::from("ünïcödé")])?;
    echo(&engine, Some(3u16))?;
    echo(&engine, None::<String>)?;
    echo(&engine, Ok::<u32, String>(9))?;
    echo(&engine, Err::<u32, String>("bad".into()))?;
    echo(&engine, Ok::<(), u8>(()))?;
    echo(&engine, Err::<(), u8>(4))?;
    echo(&engine, (1u8, String::from("two"), 3.0f64))?;
    echo(&engine, [1u32, 2, 3, 4])?;
    echo(&engine, vec![Some(1u64), None, Some(u64::MAX)])?;
    Ok(())
}

fn records() -> Result<()> {
    let engine = Engine::default();
    echo(&engine, Point { x: -42, y: 73 })?;
    echo(
        &engine,
        Everything {
            flag: true,
            small: -128,
            byte: 200,
            short: -300,
            word: 70_000,
            long: -1 << 40,
            unsigned: u64::MAX - 1,
            single: -0.25,
            double: std::f64::consts::PI,
            letter: '🦀',
            name: "kiln".into(),
            bytes: (0..=255).collect(),
            maybe: Some(2.5),
            outcome: Err(17),
            pair: (65535, "pair".into()),
            origin: Point { x: 0, y: 0 },
            points: vec![Point { x: 1, y: 2 }, Point { x: -3, y: 4 }],
        },
    )
}

fn generic_record() -> Result<()> {
    let engine = Engine::default();
    echo(&engine, Pair { first: 1u8, second: 2u8 })?;
    echo(&engine, Pair { first: String::from("a"), second: String::from("b") })?;
    echo(&engine, Pair { first: Point { x: 1, y: 1 }, second: Point { x: 2, y: 2 } })
}

fn variants() -> Result<()> {
    let engine = Engine::default();
    // The payloads join to i64 (u64, f64, f32, i32): each case must survive the join.
    for shape in [
        Shape::Circle(1.25),
        Shape::Rect(Point { x: -1, y: 9 }),
        Shape::Empty,
        Shape::Named("hexagon".into()),
        Shape::Big(u64::MAX),
        Shape::Precise(-1e300),
    ] {
        echo(&engine, shape.clone())?;
        echo(&engine, vec![shape.clone(), Shape::Empty])?;
        echo(&engine, Some(shape))?;
    }
    Ok(())
}

fn enums() -> Result<()> {
    let engine = Engine::default();
    for color in [Color::Red, Color::Green, Color::Blue] {
        echo(&engine, color)?;
    }
    echo(&engine, vec![Color::Blue, Color::Red])
}

fn enum_of_257_cases() -> Result<()> {
    let engine = Engine::default();
    ensure!(Wide::LAYOUT.size == 2, "257 cases need a 2-byte discriminant");
    for case in [Wide::C0, Wide::C255, Wide::C256] {
        echo(&engine, case)?;
        echo(&engine, (case, 1u8))?;
    }
    Ok(())
}

fn flags_sizes() -> Result<()> {
    let engine = Engine::default();
    echo(&engine, F1::A)?;
    echo(&engine, F1::empty())?;
    echo(&engine, F8::A | F8::H)?;
    echo(&engine, F9::I | F9::B)?;
    echo(&engine, F16::A15 | F16::A0)?;
    echo(&engine, F17::A16 | F17::A3)?;
    echo(&engine, F32::A31 | F32::A16 | F32::A0)?;
    echo(&engine, F32::all())?;
    echo(&engine, (F17::A16, F9::all(), F8::all()))?;
    Ok(())
}

fn flags_operations() -> Result<()> {
    let rw = Perms::READ | Perms::WRITE;
    ensure!(rw.contains(Perms::READ) && !rw.contains(Perms::EXEC));
    ensure!(!rw == Perms::EXEC, "not is masked to the defined flags");
    ensure!(rw & Perms::WRITE == Perms::WRITE);
    ensure!(rw ^ Perms::all() == Perms::EXEC);
    let mut p = Perms::empty();
    ensure!(p.is_empty());
    p |= Perms::EXEC;
    p ^= Perms::READ;
    p &= !Perms::EXEC;
    ensure!(p == Perms::READ);
    ensure!(format!("{rw:?}") == "Perms(read | write)", "Debug: {rw:?}");
    ensure!(format!("{:?}", Perms::empty()) == "Perms()");
    ensure!(Perms::ty() == ValueType::Flags(vec!["read".into(), "write".into(), "exec".into()].into()));
    ensure!(F9::LAYOUT.size == 2 && F17::LAYOUT.size == 4 && F8::LAYOUT.size == 1);
    // Past 32 flags: 32-bit words, one flat value each.
    ensure!(F40::LAYOUT == kiln::component::AbiLayout { size: 8, align: 4, flat: 2 });
    let high = F40::B39 | F40::B0 | F40::B32;
    ensure!(high.contains(F40::B39) && !high.contains(F40::B31));
    ensure!((!high).contains(F40::B31) && !(!high).contains(F40::B39));
    ensure!(F40::from_val(high.to_val())? == high);
    ensure!(format!("{high:?}") == "F40(B0 | B32 | B39)", "{high:?}");
    Ok(())
}

fn params_and_results_in_memory() -> Result<()> {
    let engine = Engine::default();
    let value = Seventeen {
        a: 1,
        b: 2,
        c: 3,
        d: 4,
        e: 5,
        f: 6,
        g: 7,
        h: 8,
        i: 9,
        j: 10,
        k: 11,
        l: 12,
        m: 13,
        n: 14,
        o: 15,
        p: 16,
        q: u64::MAX,
    };
    ensure!(Seventeen::LAYOUT.flat == 17);
    echo(&engine, value)
}

fn list_of_records() -> Result<()> {
    let engine = Engine::default();
    let points: Vec<Point> = (0..1000).map(|i| Point { x: -i, y: i as u32 * 3 }).collect();
    echo(&engine, points)?;
    let many: Vec<Pair<String>> =
        (0..100).map(|i| Pair { first: format!("first {i}"), second: "é".repeat(i) }).collect();
    echo(&engine, many)
}

#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq)]
#[component(record)]
struct PointRenamed {
    x: i32,
    y: u32,
}

#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq)]
#[component(record)]
struct PointWrongType {
    #[component(name = "x-coord")]
    x: i32,
    y: String,
}

#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq)]
#[component(variant)]
enum ShapeWrongPayload {
    #[component(name = "circle")]
    Circle(f64),
    #[component(name = "rect")]
    Rect(Point),
    #[component(name = "empty")]
    Empty,
    #[component(name = "named")]
    Named(String),
    #[component(name = "big")]
    Big(u64),
    #[component(name = "precise")]
    Precise(f64),
}

/// `get_typed_func` with a Rust type that differs from the component's names where.
fn type_mismatch_names_the_difference() -> Result<()> {
    let engine = Engine::default();
    let expect_error = |wat: String,
                        check: &dyn Fn(&mut Store<Seen>, &kiln::component::Instance) -> Result<()>,
                        needle: &str|
     -> Result<()> {
        let component = Component::new(&engine, &wat)?;
        let mut linker = Linker::<Seen>::new(&engine);
        linker.root().func_new("host-echo", |_, params, results| {
            results[0] = params[0].clone();
            Ok(())
        })?;
        let mut store = Store::new(&engine, Seen::default());
        let instance = linker.instantiate(&mut store, &component)?;
        match check(&mut store, &instance) {
            Ok(()) => bail!("a mismatched type was accepted"),
            Err(e) => {
                let message = format!("{e:#}");
                ensure!(message.contains(needle), "the error `{message}` does not mention `{needle}`");
                Ok(())
            }
        }
    };
    let point = echo_component(&Point::ty());
    expect_error(
        point.clone(),
        &|store, instance| instance.get_typed_func::<(PointRenamed,), (PointRenamed,)>(store, "echo").map(drop),
        "expected record field named `x`, found `x-coord`",
    )?;
    expect_error(
        point.clone(),
        &|store, instance| instance.get_typed_func::<(PointWrongType,), (PointWrongType,)>(store, "echo").map(drop),
        "in record field `y`",
    )?;
    expect_error(
        echo_component(&Shape::ty()),
        &|store, instance| {
            instance.get_typed_func::<(ShapeWrongPayload,), (ShapeWrongPayload,)>(store, "echo").map(drop)
        },
        "in variant case `circle`",
    )?;
    expect_error(
        point,
        &|store, instance| instance.get_typed_func::<(Point,), (u32,)>(store, "echo").map(drop),
        "in the result",
    )?;
    // A host function whose Rust type differs from the import's is refused at instantiation.
    let component = Component::new(&engine, echo_component(&Point::ty()))?;
    let mut linker = Linker::<()>::new(&engine);
    linker.root().func_wrap("host-echo", |_, (p,): (PointWrongType,)| Ok((p,)))?;
    let mut store = Store::new(&engine, ());
    match linker.instantiate(&mut store, &component) {
        Ok(_) => bail!("a host function of the wrong type was accepted"),
        Err(e) => {
            let message = format!("{e:#}");
            ensure!(message.contains("in record field `y`"), "{message}");
        }
    }
    Ok(())
}

/// The derived `to_val`/`from_val` agree with the values the dynamic path lifts.
fn derive_and_val_agree() -> Result<()> {
    let shape = Shape::Rect(Point { x: 3, y: 4 });
    let val = shape.to_val();
    let expected = Val::Variant(
        "rect".into(),
        Some(Box::new(Val::Record(vec![("x-coord".into(), Val::S32(3)), ("y".into(), Val::U32(4))]))),
    );
    ensure!(val == expected, "{val:?}");
    ensure!(Shape::from_val(val)? == shape);
    ensure!(Color::from_val(Val::Enum("green".into()))? == Color::Green);
    ensure!(Color::from_val(Val::Enum("mauve".into())).is_err());
    ensure!(Perms::from_val(Val::Flags(vec!["exec".into()]))? == Perms::EXEC);
    Ok(())
}

/// `Instance::try_get_func` says why an export is not a function kiln can call; `get_func` is
/// `None` for each.
fn unsupported_export_says_why() -> Result<()> {
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
            (core module $m (func (export "f") (param i32)))
            (core instance $i (instantiate $m))
            (type $t (record (field "a" u8)))
            (export "t" (type $t))
            (type $s (stream u8))
            (func (export "f") (param "s" $s) (canon lift (core func $i "f"))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let cases = [
        ("f", "export `f` cannot be called: unsupported feature: async futures and streams"),
        ("t", "export `t` is not a function"),
        ("nope", "no export named `nope`"),
    ];
    for (name, expected) in cases {
        let error = match instance.try_get_func(&mut store, name) {
            Ok(_) => bail!("`{name}` gave a function"),
            Err(e) => format!("{e:#}"),
        };
        ensure!(error.starts_with(expected), "`{name}`: expected `{expected}...`, got `{error}`");
        ensure!(instance.get_func(&mut store, name).is_none());
    }
    Ok(())
}

/// Functions lifted `async` called from Rust, typed and dynamically: the result is what the
/// task gave `task.return`; a task that never calls it traps.
fn async_lift_from_rust() -> Result<()> {
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
            (canon task.return (result u32) (core func $ret))
            (core module $m
              (import "" "ret" (func $ret (param i32)))
              (func (export "double") (param i32) (result i32)
                (call $ret (i32.mul (local.get 0) (i32.const 2)))
                (i32.const 0 (; EXIT ;)))
              (func (export "cb") (param i32 i32 i32) (result i32) unreachable)
              (func (export "silent") (param i32)))
            (core instance $i (instantiate $m (with "" (instance (export "ret" (func $ret))))))
            (func (export "double") async (param "x" u32) (result u32)
              (canon lift (core func $i "double") async (callback (core func $i "cb"))))
            (func (export "silent") async (param "x" u32) (result u32)
              (canon lift (core func $i "silent") async)))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let double = instance.get_typed_func::<(u32,), (u32,)>(&mut store, "double")?;
    ensure!(double.call(&mut store, (21,))?.0 == 42);
    let dynamic = instance.try_get_func(&mut store, "double")?;
    let mut results = [Val::U32(0)];
    dynamic.call(&mut store, &[Val::U32(5)], &mut results)?;
    ensure!(results[0] == Val::U32(10), "got {:?}", results[0]);
    let silent = instance.get_typed_func::<(u32,), (u32,)>(&mut store, "silent")?;
    let error = format!("{:#}", silent.call(&mut store, (1,)).unwrap_err());
    ensure!(error.contains("must call `task.return` exactly once"), "got `{error}`");
    Ok(())
}
