//! Exception handling through the embedding API: uncaught exceptions as traps that name their tag,
//! host functions that throw, exceptions that cross host frames in both directions, payloads read
//! by the host, host-defined tags, deep unwinding and unwinding across modules, precompiled
//! modules with handlers, and the `wasm_exceptions` switch; and stack maps that make GC
//! references on the stack findable.

use anyhow::{Context, Result, ensure};
use kiln::{
    Caller, Config, Engine, ExnRef, Extern, Func, FuncType, Instance, Module, Store, Tag, TagType, ThrownException,
    Trap, Val, ValType,
};
use libtest_mimic::{Failed, Trial};

macro_rules! exception_tests {
    ($($name:ident),* $(,)?) => {
        pub fn trials() -> Vec<Trial> {
            vec![$(
                Trial::test(concat!("exceptions::", stringify!($name)), || {
                    $name().map_err(|e| Failed::from(format!("{e:?}")))
                }),
            )*]
        }
    };
}

exception_tests![
    uncaught_exception_is_a_trap_naming_the_tag,
    host_reads_the_payload_of_an_uncaught_exception,
    host_function_throws_into_wasm,
    exception_crosses_a_host_frame,
    host_rethrow_after_nested_host_calls,
    host_defined_tag_is_caught_by_an_importer,
    catch_clauses_match_tag_identity_not_index,
    unwinds_through_deep_recursion,
    unwinds_across_modules,
    rethrow_keeps_the_same_exception,
    precompiled_module_keeps_its_handlers,
    throwing_in_a_loop_and_catching,
    exceptions_switch_rejects_tags,
    gc_references_on_the_stack_are_findable,
    host_function_called_from_the_host_throws,
];

const THROWER: &str = r#"
(module $thrower
  (tag $boom (export "boom") (param i32 i64))
  (tag $quiet)
  (func $throw (export "throw") (param i32)
    (throw $boom (local.get 0) (i64.const -5)))
  (func (export "throw_quiet") (throw $quiet))
  (func (export "indirect") (param i32) (call $throw (local.get 0))))
"#;

fn engine() -> Engine {
    Engine::new(&Config::new()).expect("default engine")
}

fn uncaught_exception_is_a_trap_naming_the_tag() -> Result<()> {
    let engine = engine();
    let module = Module::new(&engine, THROWER)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let throw = instance.get_typed_func::<i32, ()>(&mut store, "indirect")?;
    let err = throw.call(&mut store, 7).expect_err("the exception is not caught");
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::UncaughtException), "not an uncaught-exception trap: {err:?}");
    let thrown = err.downcast_ref::<ThrownException>().context("no ThrownException in the error")?;
    ensure!(thrown.tag_name().contains("`boom`"), "tag not named: {}", thrown.tag_name());
    let message = format!("{err:?}");
    ensure!(message.contains("uncaught exception") && message.contains("`boom`"), "message: {message}");
    // The backtrace has both wasm frames.
    let backtrace = err.downcast_ref::<kiln::WasmBacktrace>().context("no backtrace")?;
    ensure!(backtrace.frames().len() == 2, "frames: {backtrace}");

    // An unexported tag is named by its index and module.
    let quiet = instance.get_typed_func::<(), ()>(&mut store, "throw_quiet")?;
    let err = quiet.call(&mut store, ()).expect_err("uncaught");
    let thrown = err.downcast_ref::<ThrownException>().context("no ThrownException")?;
    ensure!(thrown.tag_name() == "#1 of module `thrower`", "tag name: {}", thrown.tag_name());
    // The store is still usable after an uncaught exception.
    ensure!(throw.call(&mut store, 1).is_err());
    Ok(())
}

fn host_reads_the_payload_of_an_uncaught_exception() -> Result<()> {
    let engine = engine();
    let module = Module::new(&engine, THROWER)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let throw = instance.get_typed_func::<i32, ()>(&mut store, "throw")?;
    let err = throw.call(&mut store, 42).expect_err("uncaught");
    let exn = err.downcast_ref::<ThrownException>().context("no ThrownException")?.exnref(&mut store)?;
    let fields = exn.fields(&mut store)?;
    ensure!(matches!(fields.as_slice(), [Val::I32(42), Val::I64(-5)]), "fields: {fields:?}");
    let boom = instance.get_export(&mut store, "boom").and_then(Extern::into_tag).context("no tag export")?;
    ensure!(exn.tag(&mut store)? == boom, "the exception's tag is not `boom`");
    let ty = boom.ty(&store);
    ensure!(ty.ty().params().collect::<Vec<_>>() == [ValType::I32, ValType::I64]);
    Ok(())
}

/// A module that catches whatever its import throws and returns the payload.
const CATCHER: &str = r#"
(module
  (import "host" "tag" (tag $t (param i32)))
  (import "host" "f" (func $f (param i32)))
  (func (export "run") (param i32) (result i32)
    (block $caught (result i32)
      (try_table (catch $t $caught)
        (call $f (local.get 0)))
      (i32.const -1))))
"#;

fn host_function_throws_into_wasm() -> Result<()> {
    let engine = engine();
    let module = Module::new(&engine, CATCHER)?;
    let mut store = Store::new(&engine, ());
    let tag = Tag::new(&mut store, &TagType::new(FuncType::new([ValType::I32], []))?)?;
    let f = Func::wrap(&mut store, move |mut caller: Caller<'_, ()>, x: i32| -> Result<()> {
        if x == 0 {
            return Ok(());
        }
        let exn = ExnRef::new(&mut caller, &tag, &[Val::I32(x * 10)])?;
        Err(ThrownException::new(&mut caller, exn)?.into())
    });
    let instance = Instance::new(&mut store, &module, &[tag.into(), f.into()])?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    ensure!(run.call(&mut store, 0)? == -1, "no throw: falls through");
    ensure!(run.call(&mut store, 3)? == 30, "the host's exception is caught with its payload");
    ensure!(run.call(&mut store, 4)? == 40);

    // A host error that is not an exception still unwinds as an error, not into a handler.
    let failing = Func::wrap(&mut store, |_: i32| -> Result<()> { anyhow::bail!("plain host error") });
    let instance = Instance::new(&mut store, &module, &[tag.into(), failing.into()])?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    let err = run.call(&mut store, 1).expect_err("host error");
    ensure!(format!("{err:?}").contains("plain host error"), "{err:?}");

    // A payload of the wrong type is refused when the exception is created.
    ensure!(ExnRef::new(&mut store, &tag, &[Val::I64(1)]).is_err());
    Ok(())
}

fn exception_crosses_a_host_frame() -> Result<()> {
    // wasm (catches) -> host -> wasm (throws): the host propagates the uncaught exception with `?`
    // and the outer wasm frame catches it.
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let thrower = Instance::new(&mut store, &Module::new(&engine, THROWER)?, &[])?;
    let inner = thrower.get_typed_func::<i32, ()>(&mut store, "throw")?;
    let boom = thrower.get_export(&mut store, "boom").context("boom")?;
    let crossings = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = crossings.clone();
    let host = Func::wrap(&mut store, move |mut caller: Caller<'_, ()>, x: i32| -> Result<()> {
        let result = inner.call(&mut caller, x);
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        result
    });
    let catcher = Module::new(
        &engine,
        r#"(module
          (import "t" "boom" (tag $boom (param i32 i64)))
          (import "h" "call" (func $call (param i32)))
          (func (export "run") (param i32) (result i32)
            (block $caught (result i32 i64)
              (try_table (catch $boom $caught) (call $call (local.get 0)))
              (return (i32.const 0)))
            (drop)))"#,
    )?;
    let instance = Instance::new(&mut store, &catcher, &[boom, host.into()])?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    ensure!(run.call(&mut store, 9)? == 9, "the outer wasm frame catches the payload");
    ensure!(crossings.load(std::sync::atomic::Ordering::SeqCst) == 1, "the host saw the exception pass");
    Ok(())
}

/// wasm (catches) -> host A -> wasm (calls host B, then throws) -> back through A, which rethrows:
/// the rethrow must resume in the outer wasm frame even though B ran in between.
fn host_rethrow_after_nested_host_calls() -> Result<()> {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let noop = Func::wrap(&mut store, |x: i32| x + 1);
    let inner_module = Module::new(
        &engine,
        r#"(module
          (import "" "noop" (func $noop (param i32) (result i32)))
          (tag $t (export "t") (param i32))
          (func (export "go") (param i32)
            (throw $t (call $noop (call $noop (local.get 0))))))"#,
    )?;
    let inner = Instance::new(&mut store, &inner_module, &[noop.into()])?;
    let go = inner.get_typed_func::<i32, ()>(&mut store, "go")?;
    let tag = inner.get_export(&mut store, "t").context("t")?;
    let host =
        Func::wrap(&mut store, move |mut caller: Caller<'_, ()>, x: i32| -> Result<()> { go.call(&mut caller, x) });
    let outer = Module::new(
        &engine,
        r#"(module
          (import "" "t" (tag $t (param i32)))
          (import "" "host" (func $host (param i32)))
          (func (export "run") (param i32) (result i32)
            (local $depth i32)
            (block $h (result i32)
              (try_table (catch $t $h) (call $host (local.get 0)))
              (i32.const -1))))"#,
    )?;
    let instance = Instance::new(&mut store, &outer, &[tag, host.into()])?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    for x in [1, 10, 100] {
        ensure!(run.call(&mut store, x)? == x + 2, "caught in the outer frame");
    }
    Ok(())
}

fn host_defined_tag_is_caught_by_an_importer() -> Result<()> {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let tag = Tag::new(&mut store, &TagType::new(FuncType::new([ValType::F64], []))?)?;
    let module = Module::new(
        &engine,
        r#"(module
          (import "host" "tag" (tag $t (param f64)))
          (func $thrower (param f64) (throw $t (local.get 0)))
          (func (export "run") (param f64) (result f64)
            (block $caught (result f64)
              (try_table (catch $t $caught) (call $thrower (local.get 0)))
              (f64.const 0))))"#,
    )?;
    let instance = Instance::new(&mut store, &module, &[tag.into()])?;
    let run = instance.get_typed_func::<f64, f64>(&mut store, "run")?;
    ensure!(run.call(&mut store, 2.5)? == 2.5);
    // A tag of a different type is refused at link time.
    let wrong = Tag::new(&mut store, &TagType::new(FuncType::new([ValType::I32], []))?)?;
    let err = Instance::new(&mut store, &module, &[wrong.into()]).expect_err("incompatible tag");
    ensure!(format!("{err:?}").contains("incompatible import type"), "{err:?}");
    ensure!(TagType::new(FuncType::new([], [ValType::I32])).is_err(), "a tag type has no results");
    Ok(())
}

fn catch_clauses_match_tag_identity_not_index() -> Result<()> {
    // Two imports of one tag are the same tag; two tags of the same type are not.
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let a = Tag::new(&mut store, &TagType::new(FuncType::new([], []))?)?;
    let b = Tag::new(&mut store, &TagType::new(FuncType::new([], []))?)?;
    let module = Module::new(
        &engine,
        r#"(module
          (import "" "x" (tag $x))
          (import "" "y" (tag $y))
          (import "" "z" (tag $z))
          (func (export "throw_x_catch_y") (result i32)
            (block $y (try_table (catch $y $y) (throw $x)) (return (i32.const 0)))
            (i32.const 1))
          (func $throw_x (throw $x))
          (func (export "call_x_catch_z") (result i32)
            (block $other (block $z (try_table (catch $z $z) (catch_all $other) (call $throw_x))
              (return (i32.const 0))) (return (i32.const 1)))
            (i32.const 2)))"#,
    )?;
    // x and y are the same tag; z is another one.
    let instance = Instance::new(&mut store, &module, &[a.into(), a.into(), b.into()])?;
    let same = instance.get_typed_func::<(), i32>(&mut store, "throw_x_catch_y")?;
    ensure!(same.call(&mut store, ())? == 1, "an alias of the thrown tag catches it");
    let other = instance.get_typed_func::<(), i32>(&mut store, "call_x_catch_z")?;
    ensure!(other.call(&mut store, ())? == 2, "a different tag does not catch; catch_all does");
    Ok(())
}

fn unwinds_through_deep_recursion() -> Result<()> {
    let engine = engine();
    let module = Module::new(
        &engine,
        r#"(module
          (tag $done (param i32))
          (func $down (param i32)
            (if (i32.eqz (local.get 0)) (then (throw $done (i32.const 123))))
            (call $down (i32.sub (local.get 0) (i32.const 1))))
          (func (export "run") (param i32) (result i32)
            (block $h (result i32)
              (try_table (catch $done $h) (call $down (local.get 0)))
              (i32.const -1))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    for depth in [0, 1, 10, 5000] {
        ensure!(run.call(&mut store, depth)? == 123, "depth {depth}");
    }
    Ok(())
}

/// The unwinder looks frames up by module, remembering the last one: an exception that passes
/// frames of two modules, alternating, and is caught by either must land in the right handler.
fn unwinds_across_modules() -> Result<()> {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    // B calls A's `bounce` through a table A fills, so the frames are all wasm.
    let b = Module::new(
        &engine,
        r#"(module
          (type $ii (func (param i32) (result i32)))
          (tag $t (export "t") (param i32))
          (table (export "tbl") 1 funcref)
          (func (export "down") (param i32) (result i32)
            (if (i32.eqz (local.get 0)) (then (throw $t (i32.const 7))))
            ;; With bit 8 set, this frame catches what the calls below throw.
            (if (i32.and (local.get 0) (i32.const 0x100))
              (then
                (return (block $h (result i32)
                  (try_table (catch $t $h)
                    (return (call_indirect (type $ii)
                      (i32.and (i32.sub (local.get 0) (i32.const 1)) (i32.const 0xff)) (i32.const 0))))
                  (unreachable)))))
            (call_indirect (type $ii) (i32.sub (local.get 0) (i32.const 1)) (i32.const 0))))"#,
    )?;
    let a = Module::new(
        &engine,
        r#"(module
          (import "b" "t" (tag $t (param i32)))
          (import "b" "down" (func $down (param i32) (result i32)))
          (import "b" "tbl" (table 1 funcref))
          (elem (i32.const 0) func $bounce)
          (func $bounce (param i32) (result i32) (call $down (local.get 0)))
          (func (export "run") (param i32) (result i32)
            (block $h (result i32)
              (try_table (catch $t $h) (drop (call $down (local.get 0))))
              (i32.const -1))))"#,
    )?;
    let b = Instance::new(&mut store, &b, &[])?;
    let imports = ["t", "down", "tbl"].map(|name| b.get_export(&mut store, name).context(name));
    let [t, down, tbl] = imports;
    let a = Instance::new(&mut store, &a, &[t?, down?, tbl?])?;
    let run = a.get_typed_func::<i32, i32>(&mut store, "run")?;
    // Caught by A's `run` after 2 * depth + 1 frames of B and A, alternating.
    for depth in [0, 1, 2, 9, 255] {
        ensure!(run.call(&mut store, depth)? == 7, "depth {depth}");
    }
    // Caught in B by the outermost `down`, which returns the payload: `run` drops it.
    ensure!(run.call(&mut store, 0x103)? == -1, "caught by B");
    Ok(())
}

fn rethrow_keeps_the_same_exception() -> Result<()> {
    let engine = engine();
    let module = Module::new(
        &engine,
        r#"(module
          (tag $e (export "e") (param i32))
          (global $saved (export "saved") (mut exnref) (ref.null exn))
          (func $inner (param i32)
            (block $h (result exnref)
              (try_table (catch_all_ref $h) (throw $e (local.get 0)))
              (unreachable))
            (global.set $saved (global.get $saved))
            (throw_ref))
          (func (export "run") (param i32) (result i32)
            (block $h (result i32 exnref)
              (try_table (catch_ref $e $h) (call $inner (local.get 0)))
              (unreachable))
            (global.set $saved)))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    ensure!(run.call(&mut store, 5)? == 5);
    let saved = instance.get_export(&mut store, "saved").and_then(Extern::into_global).context("global")?;
    let Val::ExnRef(Some(exn)) = saved.get(&mut store) else { anyhow::bail!("no exception saved") };
    ensure!(matches!(exn.fields(&mut store)?.as_slice(), [Val::I32(5)]));
    // `throw_ref` of null traps.
    let null = Module::new(&engine, r#"(module (func (export "f") (throw_ref (ref.null exn))))"#)?;
    let instance = Instance::new(&mut store, &null, &[])?;
    let f = instance.get_typed_func::<(), ()>(&mut store, "f")?;
    let err = f.call(&mut store, ()).expect_err("null exception reference");
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::NullReference), "{err:?}");
    Ok(())
}

fn precompiled_module_keeps_its_handlers() -> Result<()> {
    let engine = engine();
    let module = Module::new(&engine, CATCHER)?;
    let bytes = module.serialize()?;
    // SAFETY: the bytes were produced by this engine just above.
    let module = unsafe { Module::deserialize(&engine, &bytes)? };
    let mut store = Store::new(&engine, ());
    let tag = Tag::new(&mut store, &TagType::new(FuncType::new([ValType::I32], []))?)?;
    let f = Func::wrap(&mut store, move |mut caller: Caller<'_, ()>, x: i32| -> Result<()> {
        let exn = ExnRef::new(&mut caller, &tag, &[Val::I32(x + 1)])?;
        Err(ThrownException::new(&mut caller, exn)?.into())
    });
    let instance = Instance::new(&mut store, &module, &[tag.into(), f.into()])?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    ensure!(run.call(&mut store, 1)? == 2, "a deserialized module still catches");
    Ok(())
}

fn throwing_in_a_loop_and_catching() -> Result<()> {
    // Many throws in one call: each is caught by the function's own try_table (no unwinding) or
    // by its caller's.
    let engine = engine();
    let module = Module::new(
        &engine,
        r#"(module
          (tag $t (param i32))
          (func $maybe (param i32) (if (i32.and (local.get 0) (i32.const 1)) (then (throw $t (local.get 0)))))
          (func (export "sum") (param $n i32) (result i32)
            (local $acc i32)
            (loop $l
              (block $h (result i32)
                (try_table (result i32) (catch $t $h) (call $maybe (local.get $n)) (i32.const 0)))
              (local.set $acc (i32.add (local.get $acc)))
              (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
            (local.get $acc)))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let sum = instance.get_typed_func::<i32, i32>(&mut store, "sum")?;
    // Odd numbers 1..=9999 are thrown and summed: 5000^2.
    ensure!(sum.call(&mut store, 10_000)? == 25_000_000);
    // A plain `catch` consumed each exception, which nothing else could reach: all were freed.
    ensure!(store.live_exception_objects() == 0, "{} objects kept", store.live_exception_objects());

    // Exceptions caught with `catch_ref` may be kept by wasm code: a collection frees those
    // nothing reaches (here all but the global's), and allocations ask for collections.
    let keeper = Module::new(
        &engine,
        r#"(module
          (tag $t)
          (global $last (export "last") (mut exnref) (ref.null exn))
          (func (export "keep") (param $n i32)
            (loop $l
              (block $h (result exnref)
                (try_table (catch_ref $t $h) (throw $t))
                (unreachable))
              (global.set $last)
              (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &keeper, &[])?;
    let keep = instance.get_typed_func::<i32, ()>(&mut store, "keep")?;
    keep.call(&mut store, 100)?;
    store.gc();
    ensure!(store.live_exception_objects() == 1, "{} objects kept", store.live_exception_objects());
    keep.call(&mut store, 100_000)?;
    ensure!(store.live_exception_objects() <= 2048, "{} objects kept", store.live_exception_objects());
    let last = instance.get_export(&mut store, "last").and_then(Extern::into_global).context("last")?;
    ensure!(matches!(last.get(&mut store), Val::ExnRef(Some(_))));
    Ok(())
}

fn exceptions_switch_rejects_tags() -> Result<()> {
    let mut config = Config::new();
    config.wasm_exceptions(false);
    let engine = Engine::new(&config)?;
    let err = Module::new(&engine, THROWER).expect_err("exceptions are off");
    ensure!(format!("{err:?}").contains("exception"), "{err:?}");
    Ok(())
}

/// Garbage-collectable references (`externref`) that wasm keeps across a call are in stack slots
/// the stack maps name, in every wasm frame of the activation, so the collector finds them.
/// Function references are not collected and need no slots; exception references do (the
/// collector frees the exception objects wasm kept once nothing reaches them).
fn gc_references_on_the_stack_are_findable() -> Result<()> {
    let engine = engine();
    let mut store = Store::new(&engine, Vec::<Vec<u64>>::new());
    let probe = Func::wrap(&mut store, |mut caller: Caller<'_, Vec<Vec<u64>>>| {
        let roots = caller.stack_gc_roots();
        caller.data_mut().push(roots);
    });
    let module = Module::new(
        &engine,
        r#"(module
          (import "" "probe" (func $probe))
          (tag $t (param i32))
          (func $inner (param externref) (result externref)
            (call $probe)
            (local.get 0))
          (func (export "one") (param externref) (result externref)
            (call $probe)
            (local.get 0))
          (func (export "nested") (param externref externref) (result externref externref)
            (call $inner (local.get 0))
            (local.get 1))
          (func (export "funcref_only") (param funcref) (result funcref)
            (call $probe)
            (local.get 0))
          (func (export "exn") (result i32)
            (block $h (result i32 exnref)
              (try_table (catch_ref $t $h) (throw $t (i32.const 3)))
              (unreachable))
            (call $probe)
            (drop (ref.is_null))))"#,
    )?;
    let instance = Instance::new(&mut store, &module, &[probe.into()])?;
    let a = kiln::ExternRef::new(&mut store, 1u32);
    let b = kiln::ExternRef::new(&mut store, 2u32);

    let one = instance.get_func(&mut store, "one").context("one")?;
    let mut out = [Val::ExternRef(None)];
    one.call(&mut store, &[Val::ExternRef(Some(a))], &mut out)?;
    let roots = store.data_mut().pop().context("probe ran")?;
    ensure!(roots.iter().filter(|r| **r != 0).count() == 1, "one live externref: {roots:?}");
    ensure!(matches!(out[0], Val::ExternRef(Some(r)) if r == a), "the reference survives the call");

    let nested = instance.get_func(&mut store, "nested").context("nested")?;
    let mut out = [Val::ExternRef(None), Val::ExternRef(None)];
    nested.call(&mut store, &[Val::ExternRef(Some(a)), Val::ExternRef(Some(b))], &mut out)?;
    let roots = store.data_mut().pop().context("probe ran")?;
    let live: Vec<u64> = roots.iter().copied().filter(|r| *r != 0).collect();
    ensure!(live.len() == 2 && live[0] != live[1], "a in $inner's frame, b in the caller's: {roots:?}");

    let funcref_only = instance.get_func(&mut store, "funcref_only").context("funcref_only")?;
    let mut out = [Val::FuncRef(None)];
    funcref_only.call(&mut store, &[Val::FuncRef(Some(one))], &mut out)?;
    let roots = store.data_mut().pop().context("probe ran")?;
    ensure!(roots.is_empty(), "function references are not roots: {roots:?}");

    let exn = instance.get_typed_func::<(), i32>(&mut store, "exn")?;
    exn.call(&mut store, ())?;
    let roots = store.data_mut().pop().context("probe ran")?;
    ensure!(roots.iter().filter(|r| **r != 0).count() == 1, "a caught exnref is in one stack slot: {roots:?}");

    // Called straight from the host, a host function sees no wasm frames.
    let mut none: [Val; 0] = [];
    probe.call(&mut store, &[], &mut none)?;
    ensure!(store.data_mut().pop().context("probe ran")?.is_empty());
    Ok(())
}

/// A host function called straight from the host (no wasm frame below it) that fails or throws:
/// the error comes back from the call, and there is no frame to resume in.
fn host_function_called_from_the_host_throws() -> Result<()> {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let tag = Tag::new(&mut store, &TagType::new(FuncType::new([], []))?)?;
    let thrower = Func::wrap(&mut store, move |mut caller: Caller<'_, ()>| -> Result<()> {
        let exn = ExnRef::new(&mut caller, &tag, &[])?;
        Err(ThrownException::new(&mut caller, exn)?.into())
    });
    let err = thrower.call(&mut store, &[], &mut []).expect_err("uncaught");
    ensure!(err.downcast_ref::<ThrownException>().is_some(), "{err:?}");
    let failing = Func::wrap(&mut store, || -> Result<()> { anyhow::bail!("plain failure") });
    let err = failing.call(&mut store, &[], &mut []).expect_err("fails");
    ensure!(format!("{err:?}").contains("plain failure"), "{err:?}");
    Ok(())
}
