//! Embedding-level tests of wasm 3.0 proposals that the spec scripts cannot express: shared memories
//! used by several stores on several threads, constant stack in unbounded tail recursion, and the
//! per-proposal `Config` switches, recursion groups of function types at link time, and i31s and
//! casts through the host API (`Val::AnyRef`, `I31`; the rest of GC is in `gc.rs`).

use anyhow::{Context, Result, ensure};
use kiln::{Config, Engine, Instance, Linker, Memory, MemoryType, Module, SharedMemory, Store};
use libtest_mimic::{Failed, Trial};

macro_rules! proposal_tests {
    ($($name:ident),* $(,)?) => {
        pub fn trials() -> Vec<Trial> {
            vec![$(
                Trial::test(concat!("proposals::", stringify!($name)), || {
                    $name().map_err(|e| Failed::from(format!("{e:?}")))
                }),
            )*]
        }
    };
}

proposal_tests![
    shared_memory_atomics_across_threads,
    wait_and_notify_across_threads,
    tail_recursion_runs_in_constant_stack,
    config_switches_disable_proposals,
    recursion_groups_keep_alike_types_apart,
    i31_references_through_the_api,
    br_on_cast_to_abstract_types,
    extern_and_any_conversions,
    legacy_exception_instructions,
];

const COUNTER: &str = r#"
(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "add") (param $n i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "wait") (result i32)
    (memory.atomic.wait32 (i32.const 8) (i32.const 0) (i64.const 30000000000)))
  (func (export "wake") (result i32)
    (i32.atomic.store (i32.const 8) (i32.const 1))
    (memory.atomic.notify (i32.const 8) (i32.const 1))))
"#;

fn instantiate(engine: &Engine, module: &Module, shared: &SharedMemory) -> Result<(Store<()>, Instance)> {
    let mut store = Store::new(engine, ());
    let memory = Memory::from_shared(&mut store, shared)?;
    let mut linker = Linker::new(engine);
    linker.define(&store, "env", "memory", memory)?;
    let instance = linker.instantiate(&mut store, module)?;
    Ok((store, instance))
}

fn shared_memory_atomics_across_threads() -> Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTER)?;
    let shared = SharedMemory::new(&engine, MemoryType::shared(1, 1))?;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (engine, module, shared) = (engine.clone(), module.clone(), shared.clone());
            std::thread::spawn(move || -> Result<()> {
                let (mut store, instance) = instantiate(&engine, &module, &shared)?;
                let add = instance.get_typed_func::<i32, ()>(&mut store, "add")?;
                add.call(&mut store, 100_000)
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread panicked")?;
    }
    let mut bytes = [0u8; 4];
    shared.read(0, &mut bytes)?;
    ensure!(u32::from_le_bytes(bytes) == 400_000, "lost atomic updates: {}", u32::from_le_bytes(bytes));
    Ok(())
}

fn wait_and_notify_across_threads() -> Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, COUNTER)?;
    let shared = SharedMemory::new(&engine, MemoryType::shared(1, 1))?;
    let waiter = {
        let (engine, module, shared) = (engine.clone(), module.clone(), shared.clone());
        std::thread::spawn(move || -> Result<i32> {
            let (mut store, instance) = instantiate(&engine, &module, &shared)?;
            let wait = instance.get_typed_func::<(), i32>(&mut store, "wait")?;
            wait.call(&mut store, ())
        })
    };
    let (mut store, instance) = instantiate(&engine, &module, &shared)?;
    let wake = instance.get_typed_func::<(), i32>(&mut store, "wake")?;
    // The waiter either is woken (0) or, if it starts after the store, sees the new value (1).
    let mut woken = 0;
    while woken == 0 && !waiter.is_finished() {
        woken = wake.call(&mut store, ())?;
        std::thread::yield_now();
    }
    let result = waiter.join().expect("waiter panicked")?;
    ensure!(result == 0 || result == 1, "wait returned {result}");
    ensure!(result == 1 || woken == 1, "the waiter was woken but notify reported {woken}");
    Ok(())
}

fn tail_recursion_runs_in_constant_stack() -> Result<()> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (func $count (export "count") (param $n i64) (param $acc i64) (result i64)
            (if (result i64) (i64.eqz (local.get $n))
              (then (local.get $acc))
              (else (return_call $count (i64.sub (local.get $n) (i64.const 1))
                                        (i64.add (local.get $acc) (i64.const 1))))))
          (type $t (func (param i64 i64) (result i64)))
          (table funcref (elem $count))
          (func (export "count_indirect") (param i64 i64) (result i64)
            (return_call_indirect (type $t) (local.get 0) (local.get 1) (i32.const 0))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    // Ten million frames of a non-tail call would need far more than the 512 KiB wasm stack.
    let count = instance.get_typed_func::<(i64, i64), i64>(&mut store, "count")?;
    ensure!(count.call(&mut store, (10_000_000, 0))? == 10_000_000);
    let indirect = instance.get_typed_func::<(i64, i64), i64>(&mut store, "count_indirect")?;
    ensure!(indirect.call(&mut store, (1_000_000, 5))? == 1_000_005);
    Ok(())
}

/// A change to an engine configuration.
type Configure = fn(&mut Config);

fn config_switches_disable_proposals() -> Result<()> {
    let cases: [(&str, Configure); 7] = [
        ("(module (func return_call 0))", |c| {
            c.wasm_tail_call(false);
        }),
        ("(module (memory i64 1))", |c| {
            c.wasm_memory64(false);
        }),
        ("(module (memory 1 1 shared))", |c| {
            c.wasm_threads(false);
        }),
        ("(module (memory 1) (memory 1))", |c| {
            c.wasm_multi_memory(false);
        }),
        ("(module (type $t (func)) (func (param (ref $t))))", |c| {
            c.wasm_function_references(false).wasm_gc(false);
        }),
        (r#"(module (import "m" (item "a" (global i32)) (item "b" (global i64))))"#, |c| {
            c.wasm_compact_imports(false);
        }),
        ("(module (type (struct (field i32))))", |c| {
            c.wasm_gc(false);
        }),
    ];
    // Custom descriptors (exact types) are off by default.
    let exact = "(module (type $t (struct)) (func (param (ref (exact $t)))))";
    ensure!(Module::new(&Engine::default(), exact).is_err(), "exact types validated by default");
    let mut with_exact = Config::new();
    with_exact.wasm_custom_descriptors(true);
    Module::new(&Engine::new(&with_exact)?, exact).context("exact types with wasm_custom_descriptors")?;
    let descriptor = "(module (rec (type $t (descriptor $d) (struct)) (type $d (describes $t) (struct))))";
    ensure!(Module::new(&Engine::default(), descriptor).is_err(), "descriptors validated by default");
    Module::new(&Engine::new(&with_exact)?, descriptor).context("descriptors with wasm_custom_descriptors")?;
    let mut gc_without_typed_refs = Config::new();
    gc_without_typed_refs.wasm_function_references(false);
    let err = Engine::new(&gc_without_typed_refs).err().context("GC without typed function references")?;
    ensure!(err.to_string().contains("GC needs typed function references"), "{err}");
    for (wat, disable) in cases {
        Module::new(&Engine::default(), wat).map_err(|e| anyhow::anyhow!("{wat} should compile by default: {e:?}"))?;
        let mut config = Config::new();
        disable(&mut config);
        let engine = Engine::new(&config)?;
        ensure!(Module::new(&engine, wat).is_err(), "{wat} compiled with its proposal disabled");
    }
    Ok(())
}

/// Two members of a recursion group are different types even when they look alike, and neither
/// is the host's signature of the same shape; isomorphic groups in two modules are the same types.
fn recursion_groups_keep_alike_types_apart() -> Result<()> {
    let mut config = Config::new();
    config.wasm_gc(true);
    let engine = Engine::new(&config)?;
    let exporter = Module::new(
        &engine,
        r#"(module (rec (type $a (func)) (type $b (func)))
             (func (export "a") (type $a)) (func (export "b") (type $b)))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let exports = Instance::new(&mut store, &exporter, &[])?;
    let a = exports.get_func(&mut store, "a").ok_or_else(|| anyhow::anyhow!("no a"))?;
    let b = exports.get_func(&mut store, "b").ok_or_else(|| anyhow::anyhow!("no b"))?;
    let importer =
        Module::new(&engine, r#"(module (rec (type $x (func)) (type $y (func))) (import "" "f" (func (type $y))))"#)?;
    ensure!(
        Instance::new(&mut store, &importer, &[b.into()]).is_ok(),
        "the same position of an isomorphic group links"
    );
    let err = Instance::new(&mut store, &importer, &[a.into()]).expect_err("position 0 is not position 1");
    ensure!(format!("{err:?}").contains("incompatible import type"), "{err:?}");
    let host = kiln::Func::wrap(&mut store, || {});
    ensure!(Instance::new(&mut store, &importer, &[host.into()]).is_err(), "a host `(func)` is not a group member");
    let plain = Module::new(&engine, r#"(module (import "" "f" (func)))"#)?;
    ensure!(Instance::new(&mut store, &plain, &[host.into()]).is_ok());
    ensure!(Instance::new(&mut store, &plain, &[a.into()]).is_err(), "a group member is not the plain `(func)`");
    // Without the GC proposal's type system, recursion groups do not validate.
    let mut no_gc = Config::new();
    no_gc.wasm_gc(false);
    let err = Module::new(&Engine::new(&no_gc)?, r#"(module (rec (type (func)) (type (func))))"#).expect_err("gc off");
    ensure!(format!("{err:?}").contains("gc"), "{err:?}");
    Ok(())
}

/// `i31ref`s cross the host boundary as `Val::AnyRef`: read from globals and results, passed as
/// arguments, compared and null-checked; GC is on by default, and without it the module is
/// refused with an error naming the feature.
fn i31_references_through_the_api() -> Result<()> {
    use kiln::{AnyRef, I31, Val};
    let wat = r#"(module
        (global (export "g") (mut anyref) (ref.i31 (i32.const -5)))
        (func (export "make") (param i32) (result i31ref) (ref.i31 (local.get 0)))
        (func (export "get_s") (param i31ref) (result i32) (i31.get_s (local.get 0)))
        (func (export "is_i31") (param anyref) (result i32) (ref.test (ref i31) (local.get 0))))"#;
    Module::new(&Engine::default(), wat).context("GC is on by default")?;
    let mut no_gc = Config::new();
    no_gc.wasm_gc(false);
    let err = Module::new(&Engine::new(&no_gc)?, wat).expect_err("validated without GC");
    ensure!(format!("{err:#}").contains("gc"), "the error should name the feature: {err:#}");
    let (engine, mut store, instance) = gc_instance(wat)?;

    let g = instance.get_global(&mut store, "g").expect("global g");
    let Val::AnyRef(Some(r)) = g.get(&mut store) else { anyhow::bail!("the global is not an i31") };
    ensure!(r.as_i31().map(I31::get_i32) == Some(-5));
    ensure!(r.as_i31().map(I31::get_u32) == Some(0x7fff_fffb));

    let make = instance.get_func(&mut store, "make").expect("make");
    let mut out = [Val::I32(0)];
    make.call(&mut store, &[Val::I32(0x4000_0001)], &mut out)?;
    let Val::AnyRef(Some(made)) = out[0] else { anyhow::bail!("make returned {:?}", out[0]) };
    // ref.i31 keeps the low 31 bits; get_s sign-extends them.
    ensure!(made.as_i31().map(I31::get_i32) == Some(-0x3fff_ffff));

    let get_s = instance.get_func(&mut store, "get_s").expect("get_s");
    let arg = Val::AnyRef(Some(AnyRef::from_i31(I31::new_i32(-7).expect("fits"))));
    get_s.call(&mut store, &[arg], &mut out)?;
    ensure!(matches!(out[0], Val::I32(-7)));
    let err = get_s.call(&mut store, &[Val::AnyRef(None)], &mut out).expect_err("null i31");
    ensure!(format!("{err:#}").contains("null i31 reference"), "{err:#}");

    let is_i31 = instance.get_func(&mut store, "is_i31").expect("is_i31");
    is_i31.call(&mut store, &[arg], &mut out)?;
    ensure!(matches!(out[0], Val::I32(1)));
    is_i31.call(&mut store, &[Val::AnyRef(None)], &mut out)?;
    ensure!(matches!(out[0], Val::I32(0)));
    ensure!(I31::new_u32(1 << 31).is_none() && I31::new_i32(1 << 30).is_none());

    // A struct is an `eq` but not an i31.
    let structs = r#"(module (type $s (struct (field i32)))
      (func (export "s") (result anyref) (struct.new $s (i32.const 1))))"#;
    let module = Module::new(&engine, structs)?;
    let instance = Instance::new(&mut store, &module, &[])?;
    let s = instance.get_func(&mut store, "s").expect("s");
    let mut out = [Val::AnyRef(None)];
    s.call(&mut store, &[], &mut out)?;
    let Val::AnyRef(Some(object)) = out[0] else { anyhow::bail!("s returned {:?}", out[0]) };
    ensure!(object.is_eq() && object.as_i31().is_none() && object.is_struct(&store)? && !object.is_array(&store)?);
    Ok(())
}

/// An engine with GC on, a store, and an instance of `wat` in it.
fn gc_instance(wat: &str) -> Result<(Engine, Store<()>, Instance)> {
    let mut config = Config::new();
    config.wasm_gc(true);
    let engine = Engine::new(&config)?;
    let module = Module::new(&engine, wat)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    Ok((engine, store, instance))
}

/// `br_on_cast` and `br_on_cast_fail` to abstract types, taken and not taken, for null and
/// non-null references, with an operand carried under the reference, in the `any` and `func`
/// hierarchies. The expected results are the reference runtime's (wasmtime 49.0.3 with
/// `-W gc=y,function-references=y` on the same module).
fn br_on_cast_to_abstract_types() -> Result<()> {
    let wat = r#"(module
  ;; kind: 0 null, 1 i31(7)
  (func $mk (param $kind i32) (result anyref)
    (if (result anyref) (local.get $kind) (then (ref.i31 (i32.const 7))) (else (ref.null any))))
  ;; br_on_cast to (ref i31): 10 + value if taken, else 1
  (func (export "cast_i31") (param i32) (result i32)
    (block $l (result (ref i31))
      (br_on_cast $l anyref (ref i31) (call $mk (local.get 0)))
      (drop) (return (i32.const 1)))
    (i31.get_s) (i32.const 10) (i32.add))
  ;; br_on_cast to (ref null eq): taken for null and i31
  (func (export "cast_null_eq") (param i32) (result i32)
    (block $l (result eqref)
      (br_on_cast $l anyref eqref (call $mk (local.get 0)))
      (drop) (return (i32.const 1)))
    (ref.is_null) (i32.const 20) (i32.add))
  ;; br_on_cast to (ref none): never taken for non-null; nullable none: taken only for null
  (func (export "cast_null_none") (param i32) (result i32)
    (block $l (result nullref)
      (br_on_cast $l anyref nullref (call $mk (local.get 0)))
      (drop) (return (i32.const 1)))
    (drop) (i32.const 30))
  ;; br_on_cast_fail to (ref eq): taken for null (fails), falls through for i31
  (func (export "fail_eq") (param i32) (result i32)
    (block $l (result anyref)
      (br_on_cast_fail $l anyref (ref eq) (call $mk (local.get 0)))
      (drop) (return (i32.const 2)))
    (ref.is_null) (i32.const 40) (i32.add))
  ;; with an extra operand under the reference, carried to the label
  (func (export "carry") (param i32) (result i32)
    (block $l (param) (result i32 (ref i31))
      (i32.const 100)
      (br_on_cast $l anyref (ref i31) (call $mk (local.get 0)))
      (drop) (drop) (return (i32.const 3)))
    (i31.get_u) (i32.add))
  ;; funcref hierarchy: (ref func) from funcref
  (func $f)
  (elem declare func $f)
  (func (export "func_cast") (param i32) (result i32)
    (block $l (result (ref func))
      (br_on_cast $l funcref (ref func)
        (if (result funcref) (local.get 0) (then (ref.func $f)) (else (ref.null func))))
      (drop) (return (i32.const 4)))
    (drop) (i32.const 50))
)"#;
    let (_, mut store, instance) = gc_instance(wat)?;
    let expected = [
        ("cast_i31", [1, 17]),
        ("cast_null_eq", [21, 20]),
        ("cast_null_none", [30, 1]),
        ("fail_eq", [41, 2]),
        ("carry", [3, 107]),
        ("func_cast", [4, 50]),
    ];
    for (name, results) in expected {
        let f = instance.get_typed_func::<i32, i32>(&mut store, name)?;
        for (arg, want) in results.into_iter().enumerate() {
            let got = f.call(&mut store, arg as i32)?;
            ensure!(got == want, "{name}({arg}) = {got}, wasmtime gives {want}");
        }
    }
    Ok(())
}

/// `any.convert_extern` and `extern.convert_any`, in code and in constant expressions: i31s
/// survive the round trip, host references made internal are `any` but neither `eq` nor `i31`
/// (tests, casts and `br_on_cast` say so), null stays null, and the wast convention that
/// `ref.extern N` made internal is `ref.host N` holds. The script passes unchanged on
/// wasmtime 49.0.3 (`wasmtime wast -W gc=y,function-references=y`). Then the host API: the
/// external i31 and the internal host reference as the host sees them.
fn extern_and_any_conversions() -> Result<()> {
    use kiln::{AnyRef, ExternRef, ExternalizedAnyRef, I31, Val};
    let script = r#"(module
  (global $gi externref (extern.convert_any (ref.i31 (i32.const 5))))
  (global $gn anyref (any.convert_extern (ref.null extern)))
  ;; kind: 0 null, 1 i31(9), 2 the host externref argument
  (func $mk (param $kind i32) (param $x externref) (result anyref)
    (if (result anyref) (i32.eqz (local.get $kind)) (then (ref.null any))
      (else (if (result anyref) (i32.eq (local.get $kind) (i32.const 1))
        (then (ref.i31 (i32.const 9)))
        (else (any.convert_extern (local.get $x)))))))
  ;; bit 0: ref.test any, 1: eq, 2: i31, 3: null eq, 4: round trip through extern is non-null
  (func (export "tests") (param i32 externref) (result i32)
    (local $a anyref)
    (local.set $a (call $mk (local.get 0) (local.get 1)))
    (i32.or (i32.or (i32.or (i32.or
      (ref.test (ref any) (local.get $a))
      (i32.shl (ref.test (ref eq) (local.get $a)) (i32.const 1)))
      (i32.shl (ref.test (ref i31) (local.get $a)) (i32.const 2)))
      (i32.shl (ref.test eqref (local.get $a)) (i32.const 3)))
      (i32.shl (i32.eqz (ref.is_null (extern.convert_any (local.get $a)))) (i32.const 4))))
  ;; i31 through extern and back
  (func (export "round_trip_i31") (param i32) (result i32)
    (i31.get_s (ref.cast (ref i31) (any.convert_extern (extern.convert_any (ref.i31 (local.get 0)))))))
  (func (export "global_i31") (result i32)
    (i31.get_u (ref.cast (ref i31) (any.convert_extern (global.get $gi)))))
  (func (export "global_null") (result i32) (ref.is_null (global.get $gn)))
  ;; cast of an internal host reference to eq traps
  (func (export "cast_eq") (param externref) (result i32)
    (drop (ref.cast (ref eq) (any.convert_extern (local.get 0)))) (i32.const 1))
  ;; br_on_cast of an internal host reference to i31: not taken
  (func (export "boc") (param externref) (result i32)
    (block $l (result (ref i31))
      (br_on_cast $l anyref (ref i31) (any.convert_extern (local.get 0)))
      (drop) (return (i32.const 7)))
    (drop) (i32.const 8))
)
(assert_return (invoke "tests" (i32.const 0) (ref.extern 3)) (i32.const 8))
(assert_return (invoke "tests" (i32.const 1) (ref.extern 3)) (i32.const 31))
(assert_return (invoke "tests" (i32.const 2) (ref.extern 3)) (i32.const 17))
(assert_return (invoke "round_trip_i31" (i32.const -3)) (i32.const -3))
(assert_return (invoke "global_i31") (i32.const 5))
(assert_return (invoke "global_null") (i32.const 1))
(assert_trap (invoke "cast_eq" (ref.extern 1)) "cast failure")
(assert_return (invoke "boc" (ref.extern 1)) (i32.const 7))
(module
  (func (export "internalize") (param externref) (result anyref) (any.convert_extern (local.get 0)))
  (func (export "externalize") (param anyref) (result externref) (extern.convert_any (local.get 0))))
(assert_return (invoke "internalize" (ref.extern 1)) (ref.host 1))
(assert_return (invoke "internalize" (ref.null extern)) (ref.null any))
(assert_return (invoke "externalize" (ref.host 2)) (ref.extern 2))
(assert_return (invoke "externalize" (ref.null any)) (ref.null extern))"#;
    let mut config = Config::new();
    config.wasm_gc(true);
    let engine = Engine::new(&config)?;
    let mut cx = kiln_wast::WastContext::new(Store::new(&engine, ()));
    let stats = cx.run_buffer("conversions.wast", script)?;
    ensure!(stats.passed == 14 && stats.failed == 0 && stats.unsupported == 0, "{:?}", stats.failures);

    let wat = r#"(module
        (func (export "ext") (param i32) (result externref) (extern.convert_any (ref.i31 (local.get 0))))
        (func (export "int") (param externref) (result anyref) (any.convert_extern (local.get 0)))
        (func (export "back") (param anyref) (result externref) (extern.convert_any (local.get 0))))"#;
    let module = Module::new(&engine, wat)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let mut out = [Val::I32(0)];
    instance.get_func(&mut store, "ext").expect("ext").call(&mut store, &[Val::I32(-4)], &mut out)?;
    let Val::ExternRef(Some(external)) = out[0] else { anyhow::bail!("ext returned {:?}", out[0]) };
    ensure!(external.as_anyref().and_then(|a| a.as_i31()).map(I31::get_i32) == Some(-4));
    ensure!(external.data(&store).downcast_ref::<ExternalizedAnyRef>().is_some());

    let host = ExternRef::new(&mut store, String::from("host value"));
    instance.get_func(&mut store, "int").expect("int").call(&mut store, &[Val::ExternRef(Some(host))], &mut out)?;
    let Val::AnyRef(Some(internal)) = out[0] else { anyhow::bail!("int returned {:?}", out[0]) };
    ensure!(internal.as_i31().is_none() && !internal.is_eq() && internal.as_externref() == Some(host));
    instance.get_func(&mut store, "back").expect("back").call(&mut store, &[Val::AnyRef(Some(internal))], &mut out)?;
    let Val::ExternRef(Some(back)) = out[0] else { anyhow::bail!("back returned {:?}", out[0]) };
    ensure!(back == host && back.as_anyref().is_none());
    ensure!(back.data(&store).downcast_ref::<String>().map(String::as_str) == Some("host value"));
    let i31 = Val::AnyRef(Some(AnyRef::from_i31(I31::new_i32(3).expect("fits"))));
    instance.get_func(&mut store, "back").expect("back").call(&mut store, &[i31], &mut out)?;
    let Val::ExternRef(Some(e)) = out[0] else { anyhow::bail!("back returned {:?}", out[0]) };
    ensure!(e.as_anyref().and_then(|a| a.as_i31()).map(I31::get_i32) == Some(3));

    // An internal host reference of another store is refused, not misread.
    let mut other = Store::new(&engine, ());
    let other_instance = Instance::new(&mut other, &module, &[])?;
    let back = other_instance.get_func(&mut other, "back").expect("back");
    let err = back.call(&mut other, &[Val::AnyRef(Some(internal))], &mut out).expect_err("wrong store");
    ensure!(format!("{err:#}").contains("wrong store"), "{err:#}");
    Ok(())
}

/// The legacy exception instructions (`try`/`catch`/`catch_all`/`rethrow`/`delegate`), behind
/// `Config::wasm_legacy_exceptions`: payloads, clause order, `catch_all`, `rethrow` outward, a
/// throw inside a catch body passing its own `try`, `delegate` past a block and out of the
/// function, unmatched exceptions reaching a caller's `try_table` and a `try_table`'s reaching an
/// enclosing legacy `try`, 10,000 rethrows in a loop, and an uncaught one reaching the host. The
/// reference runtime (wasmtime 49) does not implement these instructions, so the expected values
/// come from the legacy exception-handling proposal's semantics.
fn legacy_exception_instructions() -> Result<()> {
    let script = r#"(module
  (tag $e0)
  (tag $e1 (param i32))
  (tag $e2 (param i32 i64))
  (func $throw1 (param i32) (throw $e1 (local.get 0)))
  (func $throw0 (throw $e0))
  ;; a tagged catch with payload, from a call
  (func (export "catch1") (param i32) (result i32)
    try (result i32)
      (call $throw1 (local.get 0)) (i32.const 0)
    catch $e1
      (i32.const 100) (i32.add)
    end)
  ;; clauses in order; catch_all last; a throw straight in the body
  (func (export "which") (param i32) (result i32)
    try (result i32)
      (if (i32.eq (local.get 0) (i32.const 0)) (then (throw $e0)))
      (if (i32.eq (local.get 0) (i32.const 1)) (then (throw $e1 (i32.const 5))))
      (if (i32.eq (local.get 0) (i32.const 2)) (then (throw $e2 (i32.const 6) (i64.const 7))))
      (i32.const 99)
    catch $e0
      (i32.const 10)
    catch $e1
      (i32.const 20) (i32.add)
    catch_all
      (i32.const 30)
    end)
  ;; rethrow from a catch body goes outward, to the enclosing try
  (func (export "rethrow") (param i32) (result i32)
    try (result i32)
      try (result i32)
        (call $throw1 (local.get 0)) (i32.const 0)
      catch $e1
        drop
        rethrow 0
      end
    catch $e1
      (i32.const 1000) (i32.add)
    end)
  ;; an exception thrown in a catch body is not caught by the same try
  (func (export "in_catch") (result i32)
    try (result i32)
      try (result i32)
        (call $throw0) (i32.const 0)
      catch $e0
        (call $throw1 (i32.const 3)) (i32.const 1)
      catch $e1
        drop
        (i32.const 2)
      end
    catch $e1
      (i32.const 40) (i32.add)
    end)
  ;; delegate to the enclosing try, past an intermediate block
  (func (export "delegate") (param i32) (result i32)
    try (result i32)
      block (result i32)
        try (result i32)
          (call $throw1 (local.get 0)) (i32.const 0)
        delegate 1
      end
    catch $e1
      (i32.const 500) (i32.add)
    end)
  ;; delegate to the function level: the caller sees it
  (func $delegate_out (param i32) (result i32)
    try (result i32)
      (call $throw1 (local.get 0)) (i32.const 0)
    delegate 0)
  (func (export "delegate_out") (param i32) (result i32)
    try (result i32)
      (call $delegate_out (local.get 0))
    catch $e1
      (i32.const 600) (i32.add)
    end)
  ;; no clause matches: the caller's try_table catches it
  (func $unmatched
    try
      (call $throw0)
    catch $e1
      drop
    end)
  (func (export "mixed") (result i32)
    (block $h
      (try_table (catch $e0 $h) (call $unmatched))
      (return (i32.const 0)))
    (i32.const 77))
  ;; a try_table inside a legacy try: what it does not catch reaches the legacy catch
  (func (export "nested_table") (result i32)
    try (result i32)
      (block $h
        (try_table (catch $e0 $h) (call $throw1 (i32.const 9)))
        (return (i32.const 0)))
      (i32.const 1)
    catch $e1
    end)
  ;; catch_all + rethrow inside a try with a tagged clause, many times in a loop
  (func (export "loop") (param i32) (result i32)
    (local $n i32)
    (loop $l
      try
        try
          (call $throw0)
        catch_all
          rethrow 0
        end
      catch $e0
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
      end
      (br_if $l (i32.lt_u (local.get $n) (local.get 0))))
    (local.get $n))
  ;; a try without clauses passes exceptions on
  (func (export "no_clauses") (result i32)
    try (result i32)
      try
        (call $throw0)
      end
      (i32.const 1)
    catch $e0
      (i32.const 2)
    end)
  ;; uncaught: reaches the host
  (func (export "uncaught")
    try
      (call $throw0)
    catch $e1
      drop
    end)
)
(assert_return (invoke "catch1" (i32.const 7)) (i32.const 107))
(assert_return (invoke "which" (i32.const 0)) (i32.const 10))
(assert_return (invoke "which" (i32.const 1)) (i32.const 25))
(assert_return (invoke "which" (i32.const 2)) (i32.const 30))
(assert_return (invoke "which" (i32.const 3)) (i32.const 99))
(assert_return (invoke "rethrow" (i32.const 4)) (i32.const 1004))
(assert_return (invoke "in_catch") (i32.const 43))
(assert_return (invoke "delegate" (i32.const 5)) (i32.const 505))
(assert_return (invoke "delegate_out" (i32.const 6)) (i32.const 606))
(assert_return (invoke "mixed") (i32.const 77))
(assert_return (invoke "nested_table") (i32.const 9))
(assert_return (invoke "loop" (i32.const 10000)) (i32.const 10000))
(assert_return (invoke "no_clauses") (i32.const 2))
(assert_exception (invoke "uncaught"))"#;
    let module_text = &script[..script.find("(assert").expect("assertions")];
    let mut config = Config::new();
    config.wasm_exceptions(true);
    let err = Module::new(&Engine::new(&config)?, module_text).expect_err("legacy instructions are off by default");
    ensure!(format!("{err:#}").contains("legacy_exceptions feature required"), "{err:#}");
    config.wasm_legacy_exceptions(true);
    let engine = Engine::new(&config)?;
    let mut cx = kiln_wast::WastContext::new(Store::new(&engine, ()));
    let stats = cx.run_buffer("legacy-exceptions.wast", script)?;
    ensure!(stats.passed == 15 && stats.failed == 0 && stats.unsupported == 0, "{:?}", stats.failures);
    Ok(())
}
