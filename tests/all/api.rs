//! Tests of the embedding API: traps, host functions, references, memories, globals, tables.

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use kiln::{
    Caller, Engine, Extern, ExternRef, ExternType, Func, FuncType, Global, GlobalType, Instance, Linker, Memory,
    MemoryType, Module, Mutability, RefType, Store, Table, TableType, Trap, Val, ValType,
};
use libtest_mimic::{Failed, Trial};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        pub fn trials() -> Vec<Trial> {
            vec![$(
                Trial::test(concat!("api::", stringify!($name)), || {
                    $name().map_err(|e| Failed::from(format!("{e:?}")))
                }),
            )*]
        }
    };
}

api_tests![
    trap_kinds,
    stack_overflow_then_store_still_works,
    host_error_propagates_through_wasm_frames,
    host_panic_resumes_in_caller,
    backtrace_names_functions,
    externref_round_trip,
    linker_func_wrap_arities,
    typed_func,
    func_new_dynamic,
    memory_read_write_grow,
    global_get_set,
    table_grow,
    module_imports_exports,
    module_errors,
    memory_image_is_private_per_instance,
    bulk_memory_trap_has_a_backtrace,
    fuel_stops_infinite_loops,
    epoch_interrupts_infinite_loops,
    data_segments_that_cannot_use_an_image,
    lazily_initialised_tables,
];

fn instantiate(engine: &Engine, wat: &str) -> Result<(Store<()>, Instance)> {
    let module = Module::new(engine, wat)?;
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    Ok((store, instance))
}

/// Calls `name` with `args`; returns its results.
fn call<T: 'static>(store: &mut Store<T>, instance: &Instance, name: &str, args: &[Val]) -> Result<Vec<Val>> {
    let func = instance.get_func(&mut *store, name).with_context(|| format!("no export `{name}`"))?;
    let n = func.ty(&*store).results().count();
    let mut results = vec![Val::I32(0); n];
    func.call(&mut *store, args, &mut results)?;
    Ok(results)
}

/// Checks that `result` is the trap `expected`, reported with its message.
fn expect_trap<R: fmt::Debug>(result: Result<R>, expected: Trap) -> Result<()> {
    let err = match result {
        Ok(values) => bail!("expected trap `{expected}`, got {values:?}"),
        Err(err) => err,
    };
    let trap = err
        .downcast_ref::<Trap>()
        .with_context(|| format!("expected trap `{expected}`, got a non-trap error: {err:?}"))?;
    ensure!(*trap == expected, "expected trap `{expected}`, got `{trap}`");
    let rendered = format!("{err:?}");
    ensure!(
        rendered.contains(&expected.to_string()),
        "the error does not display the trap message `{expected}`: {rendered}"
    );
    Ok(())
}

const TRAPS_WAT: &str = r#"
(module
  (type $v_i (func (result i32)))
  (type $i_i (func (param i32) (result i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $seven)
  (func $seven (type $v_i) i32.const 7)
  (func (export "unreachable") unreachable)
  (func (export "div_by_zero") (result i32) i32.const 1 i32.const 0 i32.div_s)
  (func (export "rem_by_zero") (result i64) i64.const 1 i64.const 0 i64.rem_u)
  (func (export "overflow") (result i32) i32.const 0x80000000 i32.const -1 i32.div_s)
  (func (export "bad_conversion") (result i32) f32.const nan i32.trunc_f32_s)
  (func (export "too_big_conversion") (result i32) f64.const 1e10 i32.trunc_f64_u)
  (func (export "memory_oob") (result i32) i32.const 65534 i32.load)
  (func (export "call_ok") (result i32) i32.const 0 call_indirect (type $v_i))
  (func (export "call_oob") (result i32) i32.const 5 call_indirect (type $v_i))
  (func (export "call_null") (result i32) i32.const 1 call_indirect (type $v_i))
  (func (export "call_mismatch") (result i32) i32.const 0 i32.const 0 call_indirect (type $i_i))
  (func (export "table_oob") (result funcref) i32.const 5 table.get 0)
)
"#;

fn trap_kinds() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(&engine, TRAPS_WAT)?;
    let cases = [
        ("unreachable", Trap::UnreachableCodeReached),
        ("div_by_zero", Trap::IntegerDivisionByZero),
        ("rem_by_zero", Trap::IntegerDivisionByZero),
        ("overflow", Trap::IntegerOverflow),
        ("bad_conversion", Trap::BadConversionToInteger),
        // Out of range (not NaN) is an overflow, as the spec words it.
        ("too_big_conversion", Trap::IntegerOverflow),
        ("memory_oob", Trap::MemoryOutOfBounds),
        ("call_oob", Trap::IndirectCallOutOfBounds),
        ("call_null", Trap::IndirectCallToNull),
        ("call_mismatch", Trap::BadSignature),
        ("table_oob", Trap::TableOutOfBounds),
    ];
    for (name, trap) in cases {
        expect_trap(call(&mut store, &instance, name, &[]), trap).with_context(|| format!("calling `{name}`"))?;
    }
    // The instance is still usable after all those traps.
    let results = call(&mut store, &instance, "call_ok", &[])?;
    ensure!(results[0].unwrap_i32() == 7);
    Ok(())
}

fn stack_overflow_then_store_still_works() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
            (func $rec (export "rec") (param i32) (result i32)
              local.get 0 i32.const 1 i32.add call $rec)
            (func (export "ok") (result i32) i32.const 42))"#,
    )?;
    let rec = instance.get_typed_func::<i32, i32>(&mut store, "rec")?;
    let ok = instance.get_typed_func::<(), i32>(&mut store, "ok")?;
    expect_trap(rec.call(&mut store, 0), Trap::StackOverflow)?;
    ensure!(ok.call(&mut store, ())? == 42);
    // The stack limit is reset: overflowing again reports the same trap.
    expect_trap(rec.call(&mut store, 0), Trap::StackOverflow)?;
    ensure!(ok.call(&mut store, ())? == 42);
    Ok(())
}

#[derive(Debug, PartialEq)]
struct HostError(i32);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host function failed with {}", self.0)
    }
}

impl std::error::Error for HostError {}

fn host_error_propagates_through_wasm_frames() -> Result<()> {
    let engine = Engine::default();
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("host", "fail", |x: i32| -> Result<i32> {
        if x == 0 { Ok(10) } else { Err(anyhow::Error::new(HostError(x))) }
    })?;
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "fail" (func $fail (param i32) (result i32)))
            (func $c (param i32) (result i32) local.get 0 call $fail)
            (func $b (param i32) (result i32) local.get 0 call $c i32.const 1 i32.add)
            (func (export "a") (param i32) (result i32) local.get 0 call $b i32.const 1 i32.add))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module)?;
    let a = instance.get_typed_func::<i32, i32>(&mut store, "a")?;
    ensure!(a.call(&mut store, 0)? == 12);
    let err = match a.call(&mut store, 5) {
        Ok(v) => bail!("expected the host error, got {v}"),
        Err(err) => err,
    };
    ensure!(err.downcast_ref::<HostError>() == Some(&HostError(5)), "the host's error is not preserved: {err:?}");
    ensure!(err.downcast_ref::<Trap>().is_none(), "a host error must not become a trap: {err:?}");
    ensure!(format!("{err:?}").contains("host function failed with 5"));
    ensure!(a.call(&mut store, 0)? == 12);
    Ok(())
}

fn host_panic_resumes_in_caller() -> Result<()> {
    let engine = Engine::default();
    let mut linker = Linker::<()>::new(&engine);
    fn host_panic() {
        std::panic::panic_any("host panic payload");
    }
    linker.func_wrap("host", "panic", host_panic)?;
    let module = Module::new(
        &engine,
        r#"(module
            (import "host" "panic" (func $p))
            (func $inner call $p)
            (func (export "run") call $inner)
            (func (export "ok") (result i32) i32.const 1))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module)?;
    let run = instance.get_typed_func::<(), ()>(&mut store, "run")?;
    let caught = catch_unwind(AssertUnwindSafe(|| run.call(&mut store, ())));
    let payload = match caught {
        Ok(result) => bail!("expected the host panic to resume in the caller, got {result:?}"),
        Err(payload) => payload,
    };
    ensure!(payload.downcast_ref::<&str>() == Some(&"host panic payload"), "the panic payload was not preserved");
    let ok = instance.get_typed_func::<(), i32>(&mut store, "ok")?;
    ensure!(ok.call(&mut store, ())? == 1);
    Ok(())
}

fn backtrace_names_functions() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module $bt
            (func $outer_fn (export "run") call $middle_fn)
            (func $middle_fn call $inner_fn)
            (func $inner_fn unreachable))"#,
    )?;
    let err = call(&mut store, &instance, "run", &[]).err().context("expected a trap")?;
    let rendered = format!("{err:?}");
    let mut positions = Vec::new();
    for name in ["inner_fn", "middle_fn", "outer_fn"] {
        let pos = rendered.find(name).with_context(|| format!("backtrace does not name `{name}`: {rendered}"))?;
        positions.push(pos);
    }
    ensure!(positions.windows(2).all(|w| w[0] < w[1]), "backtrace frames should be listed innermost first: {rendered}");
    Ok(())
}

fn externref_round_trip() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
            (global $g (export "g") (mut externref) (ref.null extern))
            (func (export "id") (param externref) (result externref) local.get 0)
            (func (export "is_null") (param externref) (result i32) local.get 0 ref.is_null)
            (func (export "stash") (param externref) local.get 0 global.set $g)
            (func (export "fetch") (result externref) global.get $g))"#,
    )?;
    let hello = ExternRef::new(&mut store, String::from("hello"));
    let out = call(&mut store, &instance, "id", &[Val::ExternRef(Some(hello))])?;
    let Val::ExternRef(Some(r)) = &out[0] else {
        bail!("expected a non-null externref");
    };
    ensure!(r.data(&store).downcast_ref::<String>().map(String::as_str) == Some("hello"));

    let out = call(&mut store, &instance, "is_null", &[Val::ExternRef(None)])?;
    ensure!(out[0].unwrap_i32() == 1);
    let out = call(&mut store, &instance, "id", &[Val::ExternRef(None)])?;
    ensure!(matches!(out[0], Val::ExternRef(None)));

    let stashed = ExternRef::new(&mut store, 1234u64);
    call(&mut store, &instance, "stash", &[Val::ExternRef(Some(stashed))])?;
    let out = call(&mut store, &instance, "fetch", &[])?;
    let Val::ExternRef(Some(r)) = &out[0] else {
        bail!("expected the stashed externref back");
    };
    ensure!(r.data(&store).downcast_ref::<u64>() == Some(&1234));
    let g = instance.get_global(&mut store, "g").context("no global g")?;
    let Val::ExternRef(Some(r)) = g.get(&mut store) else {
        bail!("expected the global to hold the externref");
    };
    ensure!(r.data(&store).downcast_ref::<u64>() == Some(&1234));
    Ok(())
}

const ARITIES_WAT: &str = r#"
(module
  (import "host" "f0" (func $f0 (result i32)))
  (import "host" "f1" (func $f1 (param i32) (result i32)))
  (import "host" "f2" (func $f2 (param i32 i64) (result i64)))
  (import "host" "f3" (func $f3 (param i32 i64 f32) (result f64)))
  (import "host" "f4" (func $f4 (param i32 i64 f32 f64) (result i32 i64)))
  (import "host" "c0" (func $c0 (result i64)))
  (import "host" "c1" (func $c1 (param i32)))
  (import "host" "c2" (func $c2 (param i32 i32) (result i32)))
  (import "host" "c3" (func $c3 (param i64 i64 i64) (result i64)))
  (import "host" "c4" (func $c4 (param f64 f64 f64 f64) (result f64)))
  (func (export "f0") (result i32) call $f0)
  (func (export "f1") (param i32) (result i32) local.get 0 call $f1)
  (func (export "f2") (param i32 i64) (result i64) local.get 0 local.get 1 call $f2)
  (func (export "f3") (param i32 i64 f32) (result f64)
    local.get 0 local.get 1 local.get 2 call $f3)
  (func (export "f4") (param i32 i64 f32 f64) (result i32 i64)
    local.get 0 local.get 1 local.get 2 local.get 3 call $f4)
  (func (export "c0") (result i64) call $c0)
  (func (export "c1") (param i32) local.get 0 call $c1)
  (func (export "c2") (param i32 i32) (result i32) local.get 0 local.get 1 call $c2)
  (func (export "c3") (param i64 i64 i64) (result i64)
    local.get 0 local.get 1 local.get 2 call $c3)
  (func (export "c4") (param f64 f64 f64 f64) (result f64)
    local.get 0 local.get 1 local.get 2 local.get 3 call $c4)
)
"#;

fn linker_func_wrap_arities() -> Result<()> {
    let engine = Engine::default();
    let mut linker = Linker::<i64>::new(&engine);
    linker
        .func_wrap("host", "f0", || 1i32)?
        .func_wrap("host", "f1", |a: i32| a + 1)?
        .func_wrap("host", "f2", |a: i32, b: i64| i64::from(a) * b)?
        .func_wrap("host", "f3", |a: i32, b: i64, c: f32| f64::from(a) + b as f64 + f64::from(c))?
        .func_wrap("host", "f4", |a: i32, b: i64, c: f32, d: f64| (a + c as i32, b + d as i64))?
        .func_wrap("host", "c0", |caller: Caller<'_, i64>| *caller.data())?
        .func_wrap("host", "c1", |mut caller: Caller<'_, i64>, a: i32| {
            *caller.data_mut() += i64::from(a);
        })?
        .func_wrap("host", "c2", |mut caller: Caller<'_, i64>, a: i32, b: i32| {
            *caller.data_mut() += 1;
            a - b
        })?
        .func_wrap("host", "c3", |caller: Caller<'_, i64>, a: i64, b: i64, c: i64| -> Result<i64> {
            Ok(a * b * c + *caller.data())
        })?
        .func_wrap("host", "c4", |caller: Caller<'_, i64>, a: f64, b: f64, c: f64, d: f64| {
            a + b + c + d + *caller.data() as f64
        })?;
    let module = Module::new(&engine, ARITIES_WAT)?;
    let mut store = Store::new(&engine, 100i64);
    let instance = linker.instantiate(&mut store, &module)?;

    let f0 = instance.get_typed_func::<(), i32>(&mut store, "f0")?;
    ensure!(f0.call(&mut store, ())? == 1);
    let f1 = instance.get_typed_func::<i32, i32>(&mut store, "f1")?;
    ensure!(f1.call(&mut store, 41)? == 42);
    let f2 = instance.get_typed_func::<(i32, i64), i64>(&mut store, "f2")?;
    ensure!(f2.call(&mut store, (-3, 1 << 40))? == -3 * (1 << 40));
    let f3 = instance.get_typed_func::<(i32, i64, f32), f64>(&mut store, "f3")?;
    ensure!(f3.call(&mut store, (1, 2, 0.5))? == 3.5);
    let f4 = instance.get_typed_func::<(i32, i64, f32, f64), (i32, i64)>(&mut store, "f4")?;
    ensure!(f4.call(&mut store, (1, 2, 3.0, 4.0))? == (4, 6));

    let c0 = instance.get_typed_func::<(), i64>(&mut store, "c0")?;
    ensure!(c0.call(&mut store, ())? == 100);
    let c1 = instance.get_typed_func::<i32, ()>(&mut store, "c1")?;
    c1.call(&mut store, 5)?;
    ensure!(*store.data() == 105);
    let c2 = instance.get_typed_func::<(i32, i32), i32>(&mut store, "c2")?;
    ensure!(c2.call(&mut store, (10, 3))? == 7);
    ensure!(*store.data() == 106);
    let c3 = instance.get_typed_func::<(i64, i64, i64), i64>(&mut store, "c3")?;
    ensure!(c3.call(&mut store, (2, 3, 4))? == 24 + 106);
    let c4 = instance.get_typed_func::<(f64, f64, f64, f64), f64>(&mut store, "c4")?;
    *store.data_mut() = 0;
    ensure!(c4.call(&mut store, (0.5, 1.5, 2.0, 4.0))? == 8.0);

    // Host functions are callable from the host too.
    let f2 = linker.get(&mut store, "host", "f2").and_then(Extern::into_func).context("linker has no host.f2")?;
    let mut results = [Val::I64(0)];
    f2.call(&mut store, &[Val::I32(6), Val::I64(7)], &mut results)?;
    ensure!(results[0].unwrap_i64() == 42);
    Ok(())
}

fn typed_func() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
            (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
            (func (export "swap") (param i64 f64) (result f64 i64) local.get 1 local.get 0)
            (func (export "nothing")))"#,
    )?;
    let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
    ensure!(add.call(&mut store, (2, 3))? == 5);
    ensure!(add.call(&mut store, (i32::MAX, 1))? == i32::MIN);
    let swap = instance.get_typed_func::<(i64, f64), (f64, i64)>(&mut store, "swap")?;
    ensure!(swap.call(&mut store, (7, 1.5))? == (1.5, 7));
    let nothing = instance.get_func(&mut store, "nothing").context("no export `nothing`")?.typed::<(), ()>(&store)?;
    nothing.call(&mut store, ())?;

    // Wrong signatures are rejected.
    ensure!(instance.get_typed_func::<(i64, i32), i32>(&mut store, "add").is_err());
    ensure!(instance.get_typed_func::<(i32, i32), i64>(&mut store, "add").is_err());
    ensure!(instance.get_typed_func::<(), ()>(&mut store, "missing").is_err());
    Ok(())
}

fn func_new_dynamic() -> Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let ty = FuncType::new([ValType::I32, ValType::I32], [ValType::I32]);
    let mul = Func::new(&mut store, ty, |_caller, params, results| {
        let (Some(a), Some(b)) = (params[0].i32(), params[1].i32()) else {
            return Err(anyhow!("expected two i32 parameters"));
        };
        results[0] = Val::I32(a.wrapping_mul(b));
        Ok(())
    });
    let ty = mul.ty(&store);
    ensure!(ty.params().count() == 2);
    ensure!(ty.results().count() == 1);

    let module = Module::new(
        &engine,
        r#"(module
            (import "" "mul" (func $mul (param i32 i32) (result i32)))
            (func (export "square") (param i32) (result i32) local.get 0 local.get 0 call $mul))"#,
    )?;
    let instance = Instance::new(&mut store, &module, &[mul.into()])?;
    let square = instance.get_typed_func::<i32, i32>(&mut store, "square")?;
    ensure!(square.call(&mut store, 12)? == 144);

    let mut linker = Linker::<()>::new(&engine);
    linker
        .func_new("env", "fail", FuncType::new([], []), |_caller, _params, _results| Err(anyhow!("dynamic failure")))?;
    let module = Module::new(&engine, r#"(module (import "env" "fail" (func $f)) (func (export "run") call $f))"#)?;
    let instance = linker.instantiate(&mut store, &module)?;
    let err = call(&mut store, &instance, "run", &[]).err().context("expected the dynamic host error")?;
    ensure!(format!("{err:?}").contains("dynamic failure"));
    Ok(())
}

fn memory_read_write_grow() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
            (memory (export "mem") 1 3)
            (func (export "load") (param i32) (result i32) local.get 0 i32.load)
            (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
            (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
            (func (export "size") (result i32) memory.size))"#,
    )?;
    let mem = instance.get_memory(&mut store, "mem").context("no memory")?;
    ensure!(mem.size(&store) == 1);
    ensure!(mem.data(&store).len() == 65536);
    mem.data_mut(&mut store)[100..104].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    let load = instance.get_typed_func::<i32, i32>(&mut store, "load")?;
    ensure!(load.call(&mut store, 100)? == 0x1234_5678);
    let store_fn = instance.get_typed_func::<(i32, i32), ()>(&mut store, "store")?;
    store_fn.call(&mut store, (200, 0xdead_beefu32 as i32))?;
    ensure!(mem.data(&store)[200..204] == 0xdead_beefu32.to_le_bytes());

    ensure!(mem.grow(&mut store, 1)? == 1);
    ensure!(mem.size(&store) == 2);
    ensure!(mem.data(&store).len() == 2 * 65536);
    // The new page is zeroed and reachable from wasm.
    ensure!(load.call(&mut store, 65536 + 8)? == 0);
    store_fn.call(&mut store, (65536 + 8, 9))?;
    ensure!(mem.data(&store)[65536 + 8] == 9);
    let grow = instance.get_typed_func::<i32, i32>(&mut store, "grow")?;
    ensure!(grow.call(&mut store, 1)? == 2);
    ensure!(mem.size(&store) == 3);
    // Past the maximum: an error from the host, -1 in wasm.
    ensure!(mem.grow(&mut store, 1).is_err());
    ensure!(grow.call(&mut store, 1)? == -1);
    expect_trap(load.call(&mut store, 3 * 65536), Trap::MemoryOutOfBounds)?;

    // A host-created memory imported by a module.
    let host_mem = Memory::new(&mut store, MemoryType::new(1, None))?;
    host_mem.data_mut(&mut store)[0] = 42;
    let module = Module::new(
        &engine,
        r#"(module (import "" "m" (memory 1))
            (func (export "first") (result i32) i32.const 0 i32.load8_u))"#,
    )?;
    let instance = Instance::new(&mut store, &module, &[host_mem.into()])?;
    let first = instance.get_typed_func::<(), i32>(&mut store, "first")?;
    ensure!(first.call(&mut store, ())? == 42);
    Ok(())
}

fn global_get_set() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
            (global $g (export "g") (mut i32) (i32.const 1))
            (global (export "c") i64 (i64.const 7))
            (func (export "get") (result i32) global.get $g)
            (func (export "inc") global.get $g i32.const 1 i32.add global.set $g))"#,
    )?;
    let g = instance.get_global(&mut store, "g").context("no global g")?;
    let c = instance.get_global(&mut store, "c").context("no global c")?;
    ensure!(g.get(&mut store).unwrap_i32() == 1);
    ensure!(c.get(&mut store).unwrap_i64() == 7);
    g.set(&mut store, Val::I32(10))?;
    let get = instance.get_typed_func::<(), i32>(&mut store, "get")?;
    ensure!(get.call(&mut store, ())? == 10);
    let inc = instance.get_typed_func::<(), ()>(&mut store, "inc")?;
    inc.call(&mut store, ())?;
    ensure!(g.get(&mut store).unwrap_i32() == 11);
    ensure!(c.set(&mut store, Val::I64(8)).is_err(), "setting an immutable global must fail");
    ensure!(g.set(&mut store, Val::I64(8)).is_err(), "setting a global with a value of the wrong type must fail");

    // A host global imported by a module.
    let hg = Global::new(&mut store, GlobalType::new(ValType::F64, Mutability::Var), Val::F64(2.5f64.to_bits()))?;
    let module = Module::new(
        &engine,
        r#"(module (import "" "hg" (global $hg (mut f64)))
            (func (export "double") global.get $hg global.get $hg f64.add global.set $hg))"#,
    )?;
    let instance = Instance::new(&mut store, &module, &[hg.into()])?;
    let double = instance.get_typed_func::<(), ()>(&mut store, "double")?;
    double.call(&mut store, ())?;
    ensure!(hg.get(&mut store).unwrap_f64() == 5.0);
    Ok(())
}

/// A funcref table filled by constant element segments is initialised lazily (kiln_runtime's
/// `table` docs): every way of reading an element must see the segments' functions, and every
/// way of writing one (including null, over an element not yet read) must stick. Exercised from
/// compiled code of the defining module and of a module importing the table, and from the host.
fn lazily_initialised_tables() -> Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let definer = Module::new(
        &engine,
        r#"(module
            (type $v_i (func (result i32)))
            (table $t (export "t") 8 20 funcref)
            (elem (table $t) (i32.const 1) func $one $two $three)
            (elem (table $t) (i32.const 5) funcref (ref.func $five) (ref.null func))
            (func $one (result i32) i32.const 1)
            (func $two (result i32) i32.const 2)
            (func $three (result i32) i32.const 3)
            (func $five (export "five") (result i32) i32.const 5)
            (func (export "call") (param i32) (result i32) local.get 0 call_indirect (type $v_i))
            (func (export "is_null") (param i32) (result i32) local.get 0 table.get ref.is_null)
            (func (export "set_null") (param i32) local.get 0 ref.null func table.set)
            (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 table.copy)
            (func (export "grow") (param i32) (result i32) ref.null func local.get 0 table.grow)
            (func (export "five_ref") (result funcref) ref.func $five))"#,
    )?;
    let user = Module::new(
        &engine,
        r#"(module
            (type $v_i (func (result i32)))
            (import "d" "t" (table 8 funcref))
            (func (export "call") (param i32) (result i32) local.get 0 call_indirect (type $v_i))
            (func (export "get") (param i32) (result funcref) local.get 0 table.get))"#,
    )?;
    let d = Instance::new(&mut store, &definer, &[])?;
    let t = d.get_table(&mut store, "t").context("no table")?;
    let u = Instance::new(&mut store, &user, &[t.into()])?;
    let d_call = d.get_typed_func::<i32, i32>(&mut store, "call")?;
    let u_call = u.get_typed_func::<i32, i32>(&mut store, "call")?;

    // Element 2 first read by the importing module, element 1 by the host, 3 by its definer.
    ensure!(u_call.call(&mut store, 2)? == 2, "through the importing module");
    let Some(Val::FuncRef(Some(one))) = t.get(&mut store, 1) else { bail!("element 1 is not a function") };
    ensure!(one.typed::<(), i32>(&store)?.call(&mut store, ())? == 1, "through the host");
    ensure!(d_call.call(&mut store, 3)? == 3, "through the defining module");
    ensure!(d_call.call(&mut store, 5)? == 5, "a `ref.func` item");
    expect_trap(u_call.call(&mut store, 6), Trap::IndirectCallToNull)?;
    expect_trap(d_call.call(&mut store, 0), Trap::IndirectCallToNull)?;

    // The same funcref whichever way it is reached: the export, `ref.func`, and the table.
    let five_ref = call(&mut store, &d, "five_ref", &[])?;
    let from_table = call(&mut store, &u, "get", &[Val::I32(5)])?;
    let export = d.get_func(&mut store, "five").context("no export five")?;
    for v in [&five_ref[0], &from_table[0]] {
        let Val::FuncRef(Some(f)) = v else { bail!("not a function: {v:?}") };
        ensure!(f.typed::<(), i32>(&store)?.call(&mut store, ())? == 5);
    }
    ensure!(export.typed::<(), i32>(&store)?.call(&mut store, ())? == 5);

    // Null written by compiled code over an element never read, then by the host: both stick.
    call(&mut store, &d, "set_null", &[Val::I32(3)])?;
    expect_trap(u_call.call(&mut store, 3), Trap::IndirectCallToNull)?;
    let fresh = Instance::new(&mut store, &definer, &[])?;
    let fresh_t = fresh.get_table(&mut store, "t").context("no table")?;
    fresh_t.set(&mut store, 2, Val::FuncRef(None))?;
    ensure!(matches!(fresh_t.get(&mut store, 2), Some(Val::FuncRef(None))), "the host's null did not stick");
    let fresh_call = fresh.get_typed_func::<i32, i32>(&mut store, "call")?;
    expect_trap(fresh_call.call(&mut store, 2), Trap::IndirectCallToNull)?;
    ensure!(fresh_call.call(&mut store, 1)? == 1, "a neighbour of the null lost its function");
    let is_null = fresh.get_typed_func::<i32, i32>(&mut store, "is_null")?;
    ensure!((0..8).map(|i| is_null.call(&mut store, i)).collect::<Result<Vec<_>>>()? == [1, 0, 1, 0, 1, 0, 1, 1]);

    // Bulk operations on a table never read: copy (null over a function, functions over nulls),
    // then grow.
    let third = Instance::new(&mut store, &definer, &[])?;
    let copy = third.get_typed_func::<(i32, i32, i32), ()>(&mut store, "copy")?;
    copy.call(&mut store, (0, 1, 3))?; // elements 0-2 become functions 1, 2, 3; element 3 stays 3
    copy.call(&mut store, (1, 6, 1))?; // element 6 (null) over element 1
    let third_call = third.get_typed_func::<i32, i32>(&mut store, "call")?;
    ensure!(third_call.call(&mut store, 0)? == 1 && third_call.call(&mut store, 2)? == 3);
    ensure!(third_call.call(&mut store, 3)? == 3 && third_call.call(&mut store, 5)? == 5);
    expect_trap(third_call.call(&mut store, 1), Trap::IndirectCallToNull)?;
    let grow = third.get_typed_func::<i32, i32>(&mut store, "grow")?;
    ensure!(grow.call(&mut store, 4)? == 8);
    ensure!(third_call.call(&mut store, 3)? == 3, "growing lost an element");
    expect_trap(third_call.call(&mut store, 10), Trap::IndirectCallToNull)?;
    Ok(())
}

fn table_grow() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
            (type $v_i (func (result i32)))
            (table (export "t") 1 10 funcref)
            (func (export "call") (param i32) (result i32) local.get 0 call_indirect (type $v_i))
            (func (export "size") (result i32) table.size 0))"#,
    )?;
    let t = instance.get_table(&mut store, "t").context("no table")?;
    ensure!(t.size(&store) == 1);
    let seventy_seven = Func::wrap(&mut store, || 77i32);
    ensure!(t.grow(&mut store, 2, Val::FuncRef(Some(seventy_seven)))? == 1);
    ensure!(t.size(&store) == 3);
    let size = instance.get_typed_func::<(), i32>(&mut store, "size")?;
    ensure!(size.call(&mut store, ())? == 3);
    let call_fn = instance.get_typed_func::<i32, i32>(&mut store, "call")?;
    ensure!(call_fn.call(&mut store, 2)? == 77);
    expect_trap(call_fn.call(&mut store, 0), Trap::IndirectCallToNull)?;
    expect_trap(call_fn.call(&mut store, 3), Trap::IndirectCallOutOfBounds)?;
    ensure!(matches!(t.get(&mut store, 1), Some(Val::FuncRef(Some(_)))));
    ensure!(matches!(t.get(&mut store, 0), Some(Val::FuncRef(None))));
    ensure!(t.get(&mut store, 3).is_none());
    t.set(&mut store, 0, Val::FuncRef(Some(seventy_seven)))?;
    ensure!(call_fn.call(&mut store, 0)? == 77);
    ensure!(t.grow(&mut store, 100, Val::FuncRef(None)).is_err(), "growing past the maximum must fail");
    ensure!(t.size(&store) == 3);

    // Host tables.
    let host = Table::new(&mut store, TableType::new(RefType::EXTERNREF, 0, None), Val::ExternRef(None))?;
    let r = ExternRef::new(&mut store, "in a table");
    ensure!(host.grow(&mut store, 4, Val::ExternRef(Some(r)))? == 0);
    let Some(Val::ExternRef(Some(r))) = host.get(&mut store, 3) else {
        bail!("expected an externref in the host table");
    };
    ensure!(r.data(&store).downcast_ref::<&str>() == Some(&"in a table"));
    Ok(())
}

fn module_imports_exports() -> Result<()> {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module $named
            (import "a" "f" (func (param i32)))
            (import "a" "m" (memory 1))
            (import "b" "g" (global i64))
            (import "b" "t" (table 1 funcref))
            (func (export "run") (result i32) i32.const 0)
            (global (export "gx") (mut f32) (f32.const 0))
            (export "mem" (memory 0)))"#,
    )?;
    ensure!(module.name() == Some("named"));
    let imports: Vec<(String, String, &'static str)> =
        module.imports().map(|i| (i.module().to_string(), i.name().to_string(), kind(&i.ty()))).collect();
    ensure!(
        imports
            == [
                ("a".to_string(), "f".to_string(), "func"),
                ("a".to_string(), "m".to_string(), "memory"),
                ("b".to_string(), "g".to_string(), "global"),
                ("b".to_string(), "t".to_string(), "table"),
            ],
        "unexpected imports {imports:?}"
    );
    let exports: Vec<(String, &'static str)> =
        module.exports().map(|e| (e.name().to_string(), kind(&e.ty()))).collect();
    ensure!(
        exports == [("run".to_string(), "func"), ("gx".to_string(), "global"), ("mem".to_string(), "memory"),],
        "unexpected exports {exports:?}"
    );
    match module.exports().next().map(|e| e.ty()) {
        Some(ExternType::Func(ty)) => {
            ensure!(ty.params().count() == 0);
            ensure!(ty.results().map(|t| t.to_string()).collect::<Vec<_>>() == ["i32"]);
        }
        _ => bail!("expected `run` to be a function"),
    }
    Ok(())
}

fn kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "func",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

fn module_errors() -> Result<()> {
    let engine = Engine::default();
    // Type error: the body leaves nothing on the stack.
    let invalid = wat::parse_str("(module (func (result i32)))")?;
    ensure!(Module::validate(&engine, &invalid).is_err());
    ensure!(Module::new(&engine, &invalid).is_err());
    // Not wasm at all.
    ensure!(Module::validate(&engine, b"\0asm\x02\0\0\0").is_err());
    ensure!(Module::new(&engine, b"definitely not wasm").is_err());
    // Text that does not parse.
    ensure!(Module::new(&engine, "(module (func (i32.bogus)))").is_err());
    // Missing imports fail instantiation with an error, not a panic.
    let needs_import = Module::new(&engine, r#"(module (import "x" "y" (func)))"#)?;
    let mut store = Store::new(&engine, ());
    ensure!(Instance::new(&mut store, &needs_import, &[]).is_err());
    let linker = Linker::<()>::new(&engine);
    let err =
        linker.instantiate(&mut store, &needs_import).err().context("instantiation without the import must fail")?;
    let msg = format!("{err:?}");
    ensure!(msg.contains('x') && msg.contains('y'), "the error should name the missing import: {msg}");
    Ok(())
}

/// A 16 MiB data segment comes from a copy-on-write image: every instance sees the data, and
/// writes stay private to the instance that made them.
fn memory_image_is_private_per_instance() -> Result<()> {
    let engine = Engine::default();
    let mut data = String::new();
    for _ in 0..(16 << 20) / 16 {
        data.push_str("0123456789abcdef");
    }
    let wat = format!(
        r#"(module
            (memory (export "mem") 257)
            (data (i32.const 65536) "{data}")
            (func (export "read") (param i32) (result i32) local.get 0 i32.load8_u)
            (func (export "write") (param i32 i32) local.get 0 local.get 1 i32.store8))"#
    );
    let module = Module::new(&engine, wat)?;
    let mut store = Store::new(&engine, ());
    let a = Instance::new(&mut store, &module, &[])?;
    let b = Instance::new(&mut store, &module, &[])?;
    let read_a = a.get_typed_func::<i32, i32>(&mut store, "read")?;
    let read_b = b.get_typed_func::<i32, i32>(&mut store, "read")?;
    let write_a = a.get_typed_func::<(i32, i32), ()>(&mut store, "write")?;
    let last = 65536 + (16 << 20) - 1;
    ensure!(read_a.call(&mut store, 65536)? == i32::from(b'0'), "first byte of the image");
    ensure!(read_b.call(&mut store, last)? == i32::from(b'f'), "last byte of the image");
    ensure!(read_a.call(&mut store, 100)? == 0, "bytes before the segment are zero");
    write_a.call(&mut store, (65536, 0x7a))?;
    ensure!(read_a.call(&mut store, 65536)? == 0x7a, "the write is visible to its instance");
    ensure!(read_b.call(&mut store, 65536)? == i32::from(b'0'), "the write is private");
    let fresh = Instance::new(&mut store, &module, &[])?;
    let read_fresh = fresh.get_typed_func::<i32, i32>(&mut store, "read")?;
    ensure!(read_fresh.call(&mut store, 65536)? == i32::from(b'0'), "the image itself is unchanged");
    Ok(())
}

/// Segments with a `global.get` offset, or beyond the initial size, are copied at instantiation
/// with the spec's checks (the latter traps).
fn data_segments_that_cannot_use_an_image() -> Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let base = Global::new(&mut store, GlobalType::new(ValType::I32, Mutability::Const), Val::I32(32))?;
    let module = Module::new(
        &engine,
        r#"(module
            (import "env" "base" (global $base i32))
            (memory 1)
            (data (i32.const 0) "ab")
            (data (global.get $base) "cd")
            (func (export "read") (param i32) (result i32) local.get 0 i32.load8_u))"#,
    )?;
    let instance = Instance::new(&mut store, &module, &[base.into()])?;
    let read = instance.get_typed_func::<i32, i32>(&mut store, "read")?;
    ensure!(read.call(&mut store, 0)? == i32::from(b'a'));
    ensure!(read.call(&mut store, 33)? == i32::from(b'd'));
    let oob = Module::new(&engine, r#"(module (memory 1) (data (i32.const 65535) "xy"))"#)?;
    let err = Instance::new(&mut store, &oob, &[]).err().context("out-of-bounds segment must fail")?;
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::MemoryOutOfBounds), "unexpected error: {err:?}");
    Ok(())
}

/// Traps found inside runtime builtins (bulk memory and table operations) carry the same wasm
/// backtrace as any other trap, starting at the instruction that trapped.
fn bulk_memory_trap_has_a_backtrace() -> Result<()> {
    let engine = Engine::default();
    let wat = r#"(module $bulk
        (memory 1)
        (table 2 funcref)
        (func $fill (export "fill") (memory.fill (i32.const 65530) (i32.const 0) (i32.const 10)))
        (func $outer (export "outer") call $fill)
        (func $copy (export "copy") (table.copy (i32.const 1) (i32.const 0) (i32.const 2))))"#;
    let (mut store, instance) = instantiate(&engine, wat)?;
    let err = call(&mut store, &instance, "outer", &[]).err().context("memory.fill out of bounds must trap")?;
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::MemoryOutOfBounds), "unexpected error: {err:?}");
    let backtrace = err.downcast_ref::<kiln::WasmBacktrace>().context("no backtrace")?;
    let names: Vec<_> = backtrace.frames().iter().map(|f| f.func_name().unwrap_or("?")).collect();
    ensure!(names == ["fill", "outer"], "backtrace frames: {names:?}");
    let fill_offset = backtrace.frames()[0].module_offset().context("no offset")?;
    let wasm = wat::parse_str(wat)?;
    ensure!(wasm[fill_offset as usize] == 0xfc, "offset {fill_offset:#x} is not the memory.fill instruction");
    let err = call(&mut store, &instance, "copy", &[]).err().context("table.copy out of bounds must trap")?;
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::TableOutOfBounds), "unexpected error: {err:?}");
    ensure!(err.downcast_ref::<kiln::WasmBacktrace>().is_some_and(|b| !b.frames().is_empty()), "no frames");
    Ok(())
}

const SPIN: &str = r#"(module
    (func (export "spin") (loop $l (br $l)))
    (func $rec (export "rec") (call $rec))
    (func (export "count") (param $n i32) (result i32)
      (loop $l (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n)))
      (local.get $n)))"#;

/// With fuel enabled, an infinite loop (or unbounded recursion) traps "all fuel consumed", the
/// store keeps working, and fuel left after a finite call is reported.
fn fuel_stops_infinite_loops() -> Result<()> {
    let mut config = kiln::Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config)?;
    let module = Module::new(&engine, SPIN)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let spin = instance.get_typed_func::<(), ()>(&mut store, "spin")?;
    let rec = instance.get_typed_func::<(), ()>(&mut store, "rec")?;
    let count = instance.get_typed_func::<i32, i32>(&mut store, "count")?;
    store.set_fuel(10_000)?;
    expect_trap(spin.call(&mut store, ()), Trap::OutOfFuel)?;
    store.set_fuel(10_000)?;
    expect_trap(rec.call(&mut store, ()), Trap::OutOfFuel)?;
    store.set_fuel(1_000_000)?;
    ensure!(count.call(&mut store, 1000)? == 0);
    let left = store.get_fuel()?;
    ensure!(left < 1_000_000 - 4000 && left > 1_000_000 - 10_000, "fuel left after 1000 iterations: {left}");
    store.set_fuel(0)?;
    expect_trap(count.call(&mut store, 1), Trap::OutOfFuel)?;
    Ok(())
}

/// With epoch interruption, another thread advancing the epoch stops an infinite loop.
fn epoch_interrupts_infinite_loops() -> Result<()> {
    let mut config = kiln::Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config)?;
    let module = Module::new(&engine, SPIN)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let spin = instance.get_typed_func::<(), ()>(&mut store, "spin")?;
    let count = instance.get_typed_func::<i32, i32>(&mut store, "count")?;
    store.set_epoch_deadline(1);
    ensure!(count.call(&mut store, 1000)? == 0, "runs before the deadline");
    let ticker = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            engine.increment_epoch();
        })
    };
    expect_trap(spin.call(&mut store, ()), Trap::Interrupt)?;
    ticker.join().map_err(|_| anyhow!("ticker thread panicked"))?;
    store.set_epoch_deadline(1);
    ensure!(count.call(&mut store, 10)? == 0, "the store runs again after a new deadline");
    Ok(())
}
