//! The GC proposal's collector, through programs that allocate many times the heap limit: the
//! heap stays bounded, and every kind of root keeps its objects alive across collections
//! (globals, tables, passive element segments, wasm frames of nested activations, host handles,
//! exception payloads, exceptions wasm kept). A missed root shows up as a wrong checksum or a
//! crash here.

use anyhow::{Result, ensure};
use kiln::{Config, Engine, Func, Instance, Linker, Module, Store, Val};
use libtest_mimic::{Failed, Trial};

macro_rules! gc_tests {
    ($($name:ident),* $(,)?) => {
        pub fn trials() -> Vec<Trial> {
            vec![$(
                Trial::test(concat!("gc::", stringify!($name)), || {
                    $name().map_err(|e| Failed::from(format!("{e:?}")))
                }),
            )*]
        }
    };
}

gc_tests![
    binary_trees_stay_within_the_heap_limit,
    globals_tables_and_segments_are_roots,
    frames_of_nested_activations_are_roots,
    host_handles_are_roots,
    exception_payloads_are_roots,
    escaped_exceptions_are_collected_unless_reachable,
    exceptions_the_host_saw_are_collected_once_dropped,
    exhausting_the_heap_traps,
    collections_during_host_calls_keep_arguments,
    unreachable_externrefs_are_released,
    handles_outlived_by_their_scope_are_refused,
    host_allocates_reads_and_writes_objects,
    owned_roots_outlive_scopes_until_dropped,
    eqrefs_through_the_api,
    descriptors_are_traced,
    precompiled_gc_modules_run,
];

fn engine(limit: u64) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_gc(true).wasm_function_references(true).wasm_exceptions(true).gc_heap_limit(limit);
    Engine::new(&config)
}

fn instantiate(engine: &Engine, wat: &str) -> Result<(Store<()>, Instance)> {
    let module = Module::new(engine, wat)?;
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    Ok((store, instance))
}

fn call_i32(store: &mut Store<()>, instance: &Instance, name: &str, args: &[Val]) -> Result<i32> {
    let f = instance.get_func(&mut *store, name).ok_or_else(|| anyhow::anyhow!("no export {name}"))?;
    let mut results = [Val::I32(0)];
    f.call(&mut *store, args, &mut results)?;
    Ok(results[0].unwrap_i32())
}

/// Binary trees, as in the benchmark game: many short-lived trees and one long-lived one.
const TREES: &str = r#"
(module
  (type $node (struct (field $left (ref null $node)) (field $right (ref null $node)) (field $v i32)))
  (global $long (mut (ref null $node)) (ref.null $node))
  (func $make (param $d i32) (result (ref $node))
    (if (result (ref $node)) (i32.eqz (local.get $d))
      (then (struct.new $node (ref.null $node) (ref.null $node) (i32.const 1)))
      (else (struct.new $node
              (call $make (i32.sub (local.get $d) (i32.const 1)))
              (call $make (i32.sub (local.get $d) (i32.const 1)))
              (local.get $d)))))
  (func $check (param $n (ref null $node)) (result i32)
    (if (result i32) (ref.is_null (struct.get $node $left (ref.as_non_null (local.get $n))))
      (then (i32.const 1))
      (else (i32.add (i32.const 1)
              (i32.add (call $check (struct.get $node $left (local.get $n)))
                       (call $check (struct.get $node $right (local.get $n))))))))
  (func (export "run") (param $iterations i32) (param $depth i32) (result i32)
    (local $sum i32)
    (global.set $long (call $make (i32.const 12)))
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (call $check (call $make (local.get $depth)))))
      (br_if $l (local.tee $iterations (i32.sub (local.get $iterations) (i32.const 1)))))
    (i32.add (local.get $sum) (call $check (global.get $long)))))
"#;

fn binary_trees_stay_within_the_heap_limit() -> Result<()> {
    let limit = 8 << 20;
    let engine = engine(limit)?;
    let (mut store, instance) = instantiate(&engine, TREES)?;
    // 300 trees of 2^13 - 1 nodes (40 bytes each: ~330 KB a tree, ~100 MB in all) in 8 MiB.
    let (iterations, depth) = (300, 12);
    let sum = call_i32(&mut store, &instance, "run", &[Val::I32(iterations), Val::I32(depth)])?;
    let nodes = (1 << (depth + 1)) - 1;
    ensure!(sum == iterations * nodes + ((1 << 13) - 1), "checksum {sum}");
    let stats = store.gc_stats();
    ensure!(stats.collections >= 10, "only {} collections", stats.collections);
    ensure!(stats.peak_bytes as u64 <= limit, "peak {} bytes over the limit", stats.peak_bytes);
    // Only the long-lived tree (and nothing the loop made) survives a full collection.
    store.gc();
    let stats = store.gc_stats();
    ensure!(stats.objects == (1 << 13) - 1, "{} objects live after the run", stats.objects);
    Ok(())
}

/// Objects reachable only from a global, a table, a passive element segment and an array, while
/// garbage forces collections.
const ROOTS: &str = r#"
(module
  (type $box (struct (field (mut i32))))
  (type $boxes (array (mut (ref null $box))))
  (type $bytes (array (mut i8)))
  (global $g (mut (ref null $box)) (ref.null $box))
  (global $a (mut (ref null $boxes)) (ref.null $boxes))
  (table $t 4 (ref null $box))
  (elem $e (ref null $box) (item (struct.new $box (i32.const 300))) (item (struct.new $box (i32.const 400))))
  (func $garbage (param $n i32)
    (loop $l
      (drop (array.new_default $bytes (i32.const 1000)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "run") (result i32)
    (local $i i32) (local $fresh (ref null $boxes))
    (global.set $g (struct.new $box (i32.const 100)))
    (table.set $t (i32.const 2) (struct.new $box (i32.const 200)))
    (global.set $a (array.new_default $boxes (i32.const 1000)))
    (loop $fill
      (array.set $boxes (global.get $a) (local.get $i) (struct.new $box (local.get $i)))
      (call $garbage (i32.const 20))
      (br_if $fill (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1000))))
    (call $garbage (i32.const 50000))
    ;; The segment's objects, copied out only now.
    (local.set $fresh (array.new_elem $boxes $e (i32.const 0) (i32.const 2)))
    (local.set $i (i32.const 0))
    (loop $sum
      (global.set $g (struct.new $box (i32.add
        (struct.get $box 0 (global.get $g))
        (struct.get $box 0 (array.get $boxes (global.get $a) (local.get $i))))))
      (br_if $sum (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 1000))))
    (i32.add (struct.get $box 0 (global.get $g))
      (i32.add (struct.get $box 0 (table.get $t (i32.const 2)))
        (i32.add (struct.get $box 0 (array.get $boxes (local.get $fresh) (i32.const 0)))
                 (struct.get $box 0 (array.get $boxes (local.get $fresh) (i32.const 1))))))))
"#;

fn globals_tables_and_segments_are_roots() -> Result<()> {
    let engine = engine(4 << 20)?;
    let (mut store, instance) = instantiate(&engine, ROOTS)?;
    let sum = call_i32(&mut store, &instance, "run", &[])?;
    ensure!(sum == 100 + 999 * 1000 / 2 + 200 + 300 + 400, "checksum {sum}");
    ensure!(store.gc_stats().collections >= 5, "only {} collections", store.gc_stats().collections);
    Ok(())
}

/// Each frame of a recursion holds an object in a local, an operand and a parameter while the
/// innermost frames allocate; halfway, the recursion goes through the host and back in (a second
/// activation), so the outer activation's frames are only reachable through the first exit.
const FRAMES: &str = r#"
(module
  (type $box (struct (field i64)))
  (type $bytes (array (mut i8)))
  (import "host" "reenter" (func $reenter (param i32) (result i64)))
  (func $garbage (param $n i32)
    (loop $l
      (drop (array.new_default $bytes (i32.const 2000)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func $down (export "down") (param $d i32) (param $mine (ref $box)) (result i64)
    (local $also (ref null $box))
    (local.set $also (struct.new $box (i64.extend_i32_u (local.get $d))))
    (call $garbage (i32.const 200))
    (i64.add
      (struct.get $box 0 (local.get $mine))
      (i64.add
        (if (result i64) (i32.eqz (local.get $d))
          (then (i64.const 0))
          (else (if (result i64) (i32.eq (local.get $d) (i32.const 25))
            (then (call $reenter (i32.sub (local.get $d) (i32.const 1))))
            (else (call $down (i32.sub (local.get $d) (i32.const 1))
                              (struct.new $box (i64.extend_i32_u (local.get $d))))))))
        (struct.get $box 0 (ref.as_non_null (local.get $also))))))
  (func (export "start") (param $d i32) (result i64)
    (call $down (local.get $d) (struct.new $box (i64.const 1000)))))
"#;

fn frames_of_nested_activations_are_roots() -> Result<()> {
    let engine = engine(2 << 20)?;
    let module = Module::new(&engine, FRAMES)?;
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "reenter", |mut caller: kiln::Caller<'_, ()>, d: i32| -> Result<i64> {
        let start = caller.get_export("start").and_then(|e| e.into_func()).expect("start export");
        let mut results = [Val::I64(0)];
        start.call(&mut caller, &[Val::I32(d)], &mut results)?;
        Ok(results[0].unwrap_i64())
    })?;
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_func(&mut store, "start").expect("start");
    let mut results = [Val::I64(0)];
    start.call(&mut store, &[Val::I32(50)], &mut results)?;
    // Frames 50..=25 (outer activation) hold `mine` = d + 1 (1000 for the first) and `also` = d;
    // the inner activation restarts at 24 with `mine` = 1000.
    let outer: i64 = 1000 + (25..50).map(|d| d + 1).sum::<i64>() + (25..=50).sum::<i64>();
    let inner: i64 = 1000 + (0..24).map(|d| d + 1).sum::<i64>() + (0..=24).sum::<i64>();
    ensure!(results[0].unwrap_i64() == outer + inner, "checksum {:?}, expected {}", results[0], outer + inner);
    ensure!(store.gc_stats().collections >= 3, "only {} collections", store.gc_stats().collections);
    Ok(())
}

const HOST: &str = r#"
(module
  (type $box (struct (field i32)))
  (type $bytes (array (mut i8)))
  (func (export "make") (param i32) (result (ref $box)) (struct.new $box (local.get 0)))
  (func (export "read") (param (ref $box)) (result i32) (struct.get $box 0 (local.get 0)))
  (func (export "garbage") (param $n i32)
    (loop $l
      (drop (array.new_default $bytes (i32.const 4000)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
"#;

fn host_handles_are_roots() -> Result<()> {
    let engine = engine(2 << 20)?;
    let (mut store, instance) = instantiate(&engine, HOST)?;
    let make = instance.get_func(&mut store, "make").expect("make");
    let read = instance.get_func(&mut store, "read").expect("read");
    let garbage = instance.get_func(&mut store, "garbage").expect("garbage");
    let mut held = Vec::new();
    for i in 0..50 {
        let mut r = [Val::AnyRef(None)];
        make.call(&mut store, &[Val::I32(i * 7)], &mut r)?;
        held.push(r[0]);
        garbage.call(&mut store, &[Val::I32(100)], &mut [])?;
    }
    store.gc();
    ensure!(store.gc_stats().collections >= 3, "only {} collections", store.gc_stats().collections);
    for (i, h) in held.iter().enumerate() {
        ensure!(
            h.anyref().flatten().is_some_and(|a| a.is_struct(&store).unwrap_or(false)),
            "handle {i} is not a struct"
        );
        let mut r = [Val::I32(0)];
        read.call(&mut store, &[*h], &mut r)?;
        ensure!(r[0].unwrap_i32() == i as i32 * 7, "handle {i} reads {:?}", r[0]);
    }
    // A handle of another store is refused, not read.
    let mut other = Store::new(&engine, ());
    let other_instance = Instance::new(&mut other, instance_module(&engine)?, &[])?;
    let other_read = other_instance.get_func(&mut other, "read").expect("read");
    ensure!(other_read.call(&mut other, &[held[0]], &mut [Val::I32(0)]).is_err(), "a foreign handle was accepted");
    Ok(())
}

fn instance_module(engine: &Engine) -> Result<&'static Module> {
    Ok(Box::leak(Box::new(Module::new(engine, HOST)?)))
}

const EXCEPTIONS: &str = r#"
(module
  (type $box (struct (field i32)))
  (type $bytes (array (mut i8)))
  (tag $t (param (ref $box)))
  (global $caught (mut exnref) (ref.null exn))
  (func $garbage (param $n i32)
    (loop $l
      (drop (array.new_default $bytes (i32.const 4000)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "run") (result i32)
    (block $h (result exnref)
      (try_table (catch_all_ref $h)
        (throw $t (struct.new $box (i32.const 42))))
      (unreachable))
    (global.set $caught)
    (call $garbage (i32.const 2000))
    (block $h2 (result (ref $box))
      (try_table (catch $t $h2) (throw_ref (global.get $caught)))
      (unreachable))
    (struct.get $box 0)))
"#;

fn exception_payloads_are_roots() -> Result<()> {
    let engine = engine(2 << 20)?;
    let (mut store, instance) = instantiate(&engine, EXCEPTIONS)?;
    let v = call_i32(&mut store, &instance, "run", &[])?;
    ensure!(v == 42, "payload reads {v}");
    ensure!(store.gc_stats().collections >= 2, "only {} collections", store.gc_stats().collections);
    Ok(())
}

/// Exceptions that wasm caught with `catch_all_ref` and kept: in a global, a table, a struct
/// field, another exception's payload, a local across collections, and one the host holds.
/// `churn` throws and keeps exceptions that nothing reaches afterwards, and allocates structs.
const KEPT_EXCEPTIONS: &str = r#"
(module
  (tag $id (param i32))
  (tag $wrap (param exnref))
  (type $box (struct (field (mut exnref))))
  (global $g (mut exnref) (ref.null exn))
  (global $boxed (mut (ref null $box)) (ref.null $box))
  (global $wrapped (mut exnref) (ref.null exn))
  (global $sink (mut exnref) (ref.null exn))
  (table $t 2 exnref)
  (func $make (export "make") (param i32) (result exnref)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (throw $id (local.get 0)))
      (unreachable)))
  (func $id_of (param exnref) (result i32)
    (block $h (result i32)
      (try_table (catch $id $h) (throw_ref (local.get 0)))
      (unreachable)))
  (func (export "throw") (param i32) (throw $id (local.get 0)))
  (func $churn (export "churn") (param $n i32)
    (loop $l
      (global.set $sink (call $make (local.get $n)))
      (drop (struct.new $box (ref.null exn)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "keep")
    (global.set $g (call $make (i32.const 1)))
    (table.set $t (i32.const 1) (call $make (i32.const 2)))
    (global.set $boxed (struct.new $box (call $make (i32.const 3))))
    (global.set $wrapped
      (block $h (result exnref)
        (try_table (catch_all_ref $h) (throw $wrap (call $make (i32.const 4))))
        (unreachable))))
  (func (export "check") (param $n i32) (result i32)
    (local $x exnref)
    (local.set $x (call $make (i32.const 5)))
    (call $churn (local.get $n))
    (i32.add
      (i32.add (i32.mul (call $id_of (global.get $g)) (i32.const 10000))
               (i32.mul (call $id_of (table.get $t (i32.const 1))) (i32.const 1000)))
      (i32.add
        (i32.add (i32.mul (call $id_of (struct.get $box 0 (global.get $boxed))) (i32.const 100))
                 (i32.mul (call $id_of
                            (block $h (result exnref)
                              (try_table (catch $wrap $h) (throw_ref (global.get $wrapped)))
                              (unreachable)))
                          (i32.const 10)))
        (call $id_of (local.get $x))))))
"#;

fn escaped_exceptions_are_collected_unless_reachable() -> Result<()> {
    let engine = engine(4 << 20)?;
    let (mut store, instance) = instantiate(&engine, KEPT_EXCEPTIONS)?;
    // Typed: `Option<ExnRef>` results (and parameters) root their handles like `Val`s do.
    let make = instance.get_typed_func::<i32, Option<kiln::ExnRef>>(&mut store, "make")?;
    let held = make.call(&mut store, 6)?.ok_or_else(|| anyhow::anyhow!("make returned null"))?;
    instance.get_typed_func::<(), ()>(&mut store, "keep")?.call(&mut store, ())?;
    // 100,000 exceptions thrown and kept, each soon unreachable: collections free them while a
    // local, the globals, the table, a struct, another exception and the host hold six.
    let v = call_i32(&mut store, &instance, "check", &[Val::I32(100_000)])?;
    ensure!(v == 12345, "the kept exceptions read {v}");
    let live = store.live_exception_objects();
    ensure!(live <= 2048, "{live} exception objects kept");
    ensure!(store.gc_stats().collections >= 10, "only {} collections", store.gc_stats().collections);
    store.gc();
    // The six kept, the last churned one (in `$sink`), and nothing else.
    let live = store.live_exception_objects();
    ensure!(live == 7, "{live} exception objects after a collection");
    let fields = held.fields(&mut store)?;
    ensure!(matches!(fields[..], [Val::I32(6)]), "the host's exception reads {fields:?}");
    Ok(())
}

/// The host's exceptions: uncaught ones (errors holding a `ThrownException`), handles from
/// results, host-made ones. Each lives as long as the error or the handle's scope, then a
/// collection frees it.
fn exceptions_the_host_saw_are_collected_once_dropped() -> Result<()> {
    use kiln::{ExnRef, RootScope, Tag, ThrownException};
    let engine = engine(4 << 20)?;
    let (mut store, instance) = instantiate(&engine, KEPT_EXCEPTIONS)?;
    let throw = instance.get_typed_func::<i32, ()>(&mut store, "throw")?;
    // 5,000 uncaught exceptions, each error dropped at once.
    for i in 0..5000 {
        throw.call(&mut store, i).expect_err("uncaught");
    }
    store.gc();
    ensure!(store.live_exception_objects() == 0, "{} objects kept", store.live_exception_objects());

    // An error kept across a collection keeps its exception.
    let err = throw.call(&mut store, 7).expect_err("uncaught");
    store.gc();
    ensure!(store.live_exception_objects() == 1);
    {
        let mut scope = RootScope::new(&mut store);
        let thrown = err.downcast_ref::<ThrownException>().ok_or_else(|| anyhow::anyhow!("no exception"))?;
        let exn = thrown.exnref(&mut scope)?;
        let fields = exn.fields(&mut scope)?;
        ensure!(matches!(fields[..], [Val::I32(7)]), "the kept exception reads {fields:?}");
    }
    drop(err);
    store.gc();
    ensure!(store.live_exception_objects() == 0, "{} objects kept", store.live_exception_objects());

    // A handle lives as long as its scope; using it afterwards is an error.
    let make = instance.get_func(&mut store, "make").ok_or_else(|| anyhow::anyhow!("no make"))?;
    let churn = instance.get_typed_func::<i32, ()>(&mut store, "churn")?;
    let collections = store.gc_stats().collections;
    let stale = {
        let mut scope = RootScope::new(&mut store);
        let mut results = [Val::ExnRef(None)];
        make.call(&mut scope, &[Val::I32(8)], &mut results)?;
        let Val::ExnRef(Some(exn)) = results[0] else { anyhow::bail!("make returned {:?}", results[0]) };
        // Thrown and kept exceptions make wasm collect a few times.
        churn.call(&mut scope, 5000)?;
        let fields = exn.fields(&mut scope)?;
        ensure!(matches!(fields[..], [Val::I32(8)]), "a rooted handle's exception reads {fields:?}");
        exn
    };
    ensure!(store.gc_stats().collections > collections + 2, "churn did not collect");
    store.gc();
    // Only the last churned exception, which `$sink` holds.
    ensure!(store.live_exception_objects() == 1, "{} objects kept", store.live_exception_objects());
    let err = stale.fields(&mut store).expect_err("a handle used after its scope");
    ensure!(format!("{err}").contains("scope"), "{err}");

    // Host-made exceptions, thrown by a host function and caught by nothing: freed likewise.
    let tag = Tag::new(&mut store, &kiln::TagType::new(kiln::FuncType::new([kiln::ValType::I32], []))?)?;
    for i in 0..3000 {
        let mut scope = RootScope::new(&mut store);
        let exn = ExnRef::new(&mut scope, &tag, &[Val::I32(i)])?;
        drop(ThrownException::new(&mut scope, exn)?);
    }
    store.gc();
    ensure!(store.live_exception_objects() == 1, "{} objects kept", store.live_exception_objects());
    Ok(())
}

/// `EqRef`: typed `eqref` parameters and results, `ref.eq` identity, i31s, the struct behind
/// one, owned roots of them; host references made internal are `anyref`s but not `eqref`s.
fn eqrefs_through_the_api() -> Result<()> {
    use kiln::{AnyRef, EqRef, ExternRef, I31, OwnedRooted, RootScope};
    let engine = engine(4 << 20)?;
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
          (type $p (struct (field i32)))
          (func (export "same") (param eqref eqref) (result i32) (ref.eq (local.get 0) (local.get 1)))
          (func (export "make") (param i32) (result eqref) (struct.new $p (local.get 0)))
          (func (export "i31") (param i32) (result eqref) (ref.i31 (local.get 0))))"#,
    )?;
    let same = instance.get_typed_func::<(Option<EqRef>, Option<EqRef>), i32>(&mut store, "same")?;
    let make = instance.get_typed_func::<i32, Option<EqRef>>(&mut store, "make")?;
    let i31 = instance.get_typed_func::<i32, Option<EqRef>>(&mut store, "i31")?;
    let owned = {
        let mut scope = RootScope::new(&mut store);
        let a = make.call(&mut scope, 7)?.ok_or_else(|| anyhow::anyhow!("null struct"))?;
        let b = make.call(&mut scope, 7)?;
        ensure!(same.call(&mut scope, (Some(a), Some(a)))? == 1 && same.call(&mut scope, (Some(a), b))? == 0);
        ensure!(a.is_struct(&scope)? && !a.is_array(&scope)? && !a.is_i31());
        let s = a.as_struct(&scope)?.ok_or_else(|| anyhow::anyhow!("not a struct"))?;
        ensure!(matches!(s.field(&mut scope, 0)?, Val::I32(7)));
        ensure!(s.to_eqref() == a && AnyRef::from(a).as_eqref() == Some(a));
        let five = i31.call(&mut scope, 5)?.ok_or_else(|| anyhow::anyhow!("null i31"))?;
        ensure!(five.as_i31().map(I31::get_u32) == Some(5));
        ensure!(same.call(&mut scope, (Some(five), Some(EqRef::from_i31(I31::wrapping_u32(5)))))? == 1);
        let host = AnyRef::from_externref(ExternRef::new(&mut scope, 1u8));
        ensure!(host.as_eqref().is_none(), "an internalized host reference is not an eqref");
        OwnedRooted::new(&mut scope, &a)?
    };
    store.gc();
    let a = owned.to_rooted(&mut store)?;
    let s = a.as_struct(&store)?.ok_or_else(|| anyhow::anyhow!("not a struct"))?;
    ensure!(matches!(s.field(&mut store, 0)?, Val::I32(7)), "the owned eqref's struct survives");
    Ok(())
}

/// Custom descriptors: a descriptor reachable only from the objects it describes survives
/// collections (the hidden descriptor word is traced), and casts by descriptor still work.
fn descriptors_are_traced() -> Result<()> {
    let mut config = Config::new();
    config.wasm_custom_descriptors(true).gc_heap_limit(2 << 20);
    let engine = Engine::new(&config)?;
    let (mut store, instance) = instantiate(
        &engine,
        r#"(module
          (rec (type $a (descriptor $b) (struct (field i32)))
               (type $b (describes $a) (struct (field i32))))
          (type $junk (array i64))
          (global $kept (mut (ref null $a)) (ref.null none))
          (func (export "make")
            (global.set $kept (struct.new_desc $a (i32.const 7) (struct.new $b (i32.const 42)))))
          (func (export "churn") (param $n i32)
            (loop $l (drop (array.new_default $junk (i32.const 100)))
              (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
          (func (export "check") (result i32)
            (local $d (ref $b))
            (local.set $d (ref.get_desc $a (ref.as_non_null (global.get $kept))))
            (i32.add (struct.get $b 0 (local.get $d))
              (struct.get $a 0 (ref.cast_desc_eq (ref $a) (global.get $kept) (local.get $d))))))"#,
    )?;
    instance.get_typed_func::<(), ()>(&mut store, "make")?.call(&mut store, ())?;
    instance.get_typed_func::<i32, ()>(&mut store, "churn")?.call(&mut store, 20_000)?;
    store.gc();
    ensure!(store.gc_stats().collections >= 3, "only {} collections", store.gc_stats().collections);
    let v = call_i32(&mut store, &instance, "check", &[])?;
    ensure!(v == 49, "descriptor and object read {v}");
    Ok(())
}

const EXHAUST: &str = r#"
(module
  (type $node (struct (field i64) (field (ref null $node))))
  (type $big (array i64))
  (global $list (mut (ref null $node)) (ref.null $node))
  (func (export "hoard")
    (loop $l
      (global.set $list (struct.new $node (i64.const 0) (global.get $list)))
      (br $l)))
  (func (export "huge") (result i32)
    (array.len (array.new_default $big (i32.const 0x7fffffff))))
  (func (export "small") (result i32)
    (global.set $list (ref.null $node))
    (struct.get $node 0 (struct.new $node (i64.const 7) (ref.null $node)))
    (i32.wrap_i64)))
"#;

fn exhausting_the_heap_traps() -> Result<()> {
    let engine = engine(4 << 20)?;
    let (mut store, instance) = instantiate(&engine, EXHAUST)?;
    let hoard = instance.get_func(&mut store, "hoard").expect("hoard");
    let err = hoard.call(&mut store, &[], &mut []).expect_err("hoarding must trap");
    ensure!(err.downcast_ref::<kiln::Trap>() == Some(&kiln::Trap::GcHeapOutOfMemory), "unexpected error: {err:?}");
    ensure!(format!("{err:?}").contains("GC heap out of memory"), "message: {err:?}");
    ensure!(store.gc_stats().peak_bytes <= 4 << 20, "peak {} over the limit", store.gc_stats().peak_bytes);
    let huge = instance.get_func(&mut store, "huge").expect("huge");
    let err = huge.call(&mut store, &[], &mut [Val::I32(0)]).expect_err("a 16 GiB array must trap");
    ensure!(
        matches!(
            err.downcast_ref::<kiln::Trap>(),
            Some(kiln::Trap::AllocationTooLarge | kiln::Trap::GcHeapOutOfMemory)
        ),
        "unexpected error: {err:?}"
    );
    // The store is still usable, and dropping the hoard frees it.
    let v = call_i32(&mut store, &instance, "small", &[])?;
    ensure!(v == 7, "small returned {v}");
    store.gc();
    ensure!(store.gc_stats().objects == 0, "{} objects remain", store.gc_stats().objects);
    Ok(())
}

const HOST_CALL: &str = r#"
(module
  (type $box (struct (field i32)))
  (import "host" "collect" (func $collect (param (ref $box)) (result (ref $box))))
  (func (export "run") (result i32)
    (local $a (ref null $box))
    (local.set $a (struct.new $box (i32.const 5)))
    (i32.add (struct.get $box 0 (call $collect (struct.new $box (i32.const 37))))
             (struct.get $box 0 (local.get $a)))))
"#;

fn collections_during_host_calls_keep_arguments() -> Result<()> {
    let engine = engine(1 << 20)?;
    let module = Module::new(&engine, HOST_CALL)?;
    let mut store = Store::new(&engine, ());
    let ty = module.imports().next().expect("an import").ty().func().cloned().expect("a function import");
    let collect = Func::new(&mut store, ty, |mut caller, params, results| {
        caller.gc();
        caller.gc();
        results[0] = params[0];
        Ok(())
    });
    let instance = Instance::new(&mut store, &module, &[collect.into()])?;
    let v = call_i32(&mut store, &instance, "run", &[])?;
    ensure!(v == 42, "run returned {v}");
    ensure!(store.gc_stats().collections >= 2, "only {} collections", store.gc_stats().collections);
    Ok(())
}

/// Counts drops of host values.
struct Tracked(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

const KEEPER: &str = r#"
(module
  (table $kept 100 externref)
  (type $cell (struct (field externref)))
  (global $cell (mut (ref null $cell)) (ref.null $cell))
  (func (export "offer") (param $i i32) (param $r externref)
    ;; Every tenth reference is kept in the table, every hundredth in a struct too.
    (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 10)))
      (then (table.set $kept (i32.div_u (local.get $i) (i32.const 10)) (local.get $r))))
    (if (i32.eqz (i32.rem_u (local.get $i) (i32.const 100)))
      (then (global.set $cell (struct.new $cell (local.get $r))))))
  (func (export "clear")
    (table.fill $kept (i32.const 0) (ref.null extern) (i32.const 100))
    (global.set $cell (ref.null $cell))))
"#;

/// Host values passed to wasm and dropped by it are released while the store lives, by
/// collections the allocations themselves start; those wasm keeps (in a table, in a struct) stay.
fn unreachable_externrefs_are_released() -> Result<()> {
    let engine = engine(1 << 20)?;
    let (mut store, instance) = instantiate(&engine, KEEPER)?;
    let offer = instance.get_typed_func::<(i32, Option<kiln::ExternRef>), ()>(&mut store, "offer")?;
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = 1000u32;
    for i in 0..n {
        let mut scope = kiln::RootScope::new(&mut store);
        let r = kiln::ExternRef::new(&mut scope, Tracked(dropped.clone()));
        offer.call(&mut scope, (i as i32, Some(r)))?;
    }
    store.gc();
    let count = || dropped.load(std::sync::atomic::Ordering::SeqCst);
    ensure!(count() == 900, "{} of 1000 host values released, expected the 900 wasm dropped", count());
    ensure!(store.gc_stats().host_refs == 100, "{} host values live", store.gc_stats().host_refs);
    let clear = instance.get_typed_func::<(), ()>(&mut store, "clear")?;
    clear.call(&mut store, ())?;
    store.gc();
    ensure!(count() == 1000, "{} released after wasm let go of all of them", count());
    // Many more than the heap limit holds, with no explicit collection.
    for _ in 0..40_000u32 {
        let mut scope = kiln::RootScope::new(&mut store);
        let r = kiln::ExternRef::new(&mut scope, Tracked(dropped.clone()));
        offer.call(&mut scope, (1, Some(r)))?;
    }
    ensure!(store.gc_stats().peak_bytes <= 1 << 20, "peak {} bytes", store.gc_stats().peak_bytes);
    ensure!(count() > 30_000, "only {} released by the allocations' own collections", count());
    Ok(())
}

fn handles_outlived_by_their_scope_are_refused() -> Result<()> {
    let engine = engine(1 << 20)?;
    let (mut store, instance) = instantiate(&engine, HOST)?;
    let make = instance.get_func(&mut store, "make").expect("make");
    let read = instance.get_func(&mut store, "read").expect("read");
    let stale = {
        let mut scope = kiln::RootScope::new(&mut store);
        let mut out = [Val::AnyRef(None)];
        make.call(&mut scope, &[Val::I32(5)], &mut out)?;
        out[0]
    };
    store.gc();
    ensure!(store.gc_stats().objects == 0, "the object outlived its only handle's scope");
    let err = read.call(&mut store, &[stale], &mut [Val::I32(0)]).expect_err("a stale handle");
    ensure!(format!("{err:#}").contains("after the scope that rooted it ended"), "{err:#}");
    // A handle made later in the reused slot is its own.
    let mut out = [Val::AnyRef(None)];
    make.call(&mut store, &[Val::I32(6)], &mut out)?;
    ensure!(read.call(&mut store, &[stale], &mut [Val::I32(0)]).is_err(), "the stale handle took the new slot");
    let mut r = [Val::I32(0)];
    read.call(&mut store, &[out[0]], &mut r)?;
    ensure!(r[0].unwrap_i32() == 6);
    Ok(())
}

const SHAPES: &str = r#"
(module
  (type $point (struct (field $x (mut i32)) (field $y i64) (field $tag (mut i8))))
  (type $bytes (array (mut i8)))
  (type $points (array (ref null $point)))
  (func (export "sum") (param $p (ref $point)) (result i64)
    (i64.add (i64.extend_i32_s (struct.get $point $x (local.get $p))) (struct.get $point $y (local.get $p))))
  (func (export "bytes") (param $b (ref $bytes)) (result i32)
    (local $i i32) (local $sum i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (array.len (local.get $b))))
      (local.set $sum (i32.add (local.get $sum) (array.get_u $bytes (local.get $b) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $sum))
  (func (export "first") (param $ps (ref $points)) (result (ref null $point))
    (array.get $points (local.get $ps) (i32.const 0)))
  (func (export "point") (result (ref $point))
    (struct.new $point (i32.const -3) (i64.const 10) (i32.const 0x1ff))))
"#;

/// The host API of GC objects: types built by the host are the module's own (same structure, same
/// engine id); objects allocated by the host are read by wasm and the other way round; packed
/// fields keep their low bits; immutable fields, wrong types and bounds are refused.
fn host_allocates_reads_and_writes_objects() -> Result<()> {
    use kiln::{ArrayRef, ArrayType, FieldType, Mutability, StorageType, StructRef, StructType, ValType};
    let engine = engine(16 << 20)?;
    let (mut store, instance) = instantiate(&engine, SHAPES)?;
    let point = StructType::new(
        &engine,
        [
            FieldType::new(Mutability::Var, StorageType::ValType(ValType::I32)),
            FieldType::new(Mutability::Const, StorageType::ValType(ValType::I64)),
            FieldType::new(Mutability::Var, StorageType::I8),
        ],
    )?;
    let p = StructRef::new(&mut store, &point, &[Val::I32(5), Val::I64(37), Val::I32(0x1234)])?;
    let sum = instance.get_func(&mut store, "sum").expect("sum");
    let mut out = [Val::I64(0)];
    sum.call(&mut store, &[p.into()], &mut out)?;
    ensure!(out[0].unwrap_i64() == 42, "sum of a host struct: {:?}", out[0]);
    ensure!(matches!(p.field(&mut store, 2)?, Val::I32(0x34)), "packed field keeps 8 bits");
    p.set_field(&mut store, 0, Val::I32(-37))?;
    sum.call(&mut store, &[p.into()], &mut out)?;
    ensure!(out[0].unwrap_i64() == 0, "after set_field: {:?}", out[0]);
    ensure!(p.set_field(&mut store, 1, Val::I64(0)).is_err(), "an immutable field was written");
    ensure!(p.set_field(&mut store, 0, Val::I64(0)).is_err(), "a field took a value of another type");
    ensure!(p.ty(&store)?.id() == point.id());

    // A wasm-made struct through the host API.
    let make = instance.get_func(&mut store, "point").expect("point");
    let mut out = [Val::AnyRef(None)];
    make.call(&mut store, &[], &mut out)?;
    let made = out[0].anyref().flatten().and_then(|a| a.as_struct(&store).ok().flatten()).expect("a struct");
    ensure!(matches!(made.field(&mut store, 0)?, Val::I32(-3)) && matches!(made.field(&mut store, 2)?, Val::I32(0xff)));

    let bytes = ArrayType::new(&engine, FieldType::new(Mutability::Var, StorageType::I8))?;
    let b = ArrayRef::new(&mut store, &bytes, &Val::I32(3), 100)?;
    b.set(&mut store, 99, Val::I32(0x101))?;
    ensure!(b.set(&mut store, 100, Val::I32(0)).is_err(), "out-of-bounds write accepted");
    let f = instance.get_func(&mut store, "bytes").expect("bytes");
    let mut out = [Val::I32(0)];
    f.call(&mut store, &[b.into()], &mut out)?;
    ensure!(out[0].unwrap_i32() == 99 * 3 + 1, "sum of host bytes: {:?}", out[0]);
    ensure!(b.len(&store)? == 100);

    let points = ArrayType::new(
        &engine,
        FieldType::new(
            Mutability::Const,
            StorageType::ValType(ValType::Ref(kiln::RefType::new(true, point.heap_type()))),
        ),
    )?;
    let ps = ArrayRef::new_fixed(&mut store, &points, &[p.into(), Val::AnyRef(None)])?;
    let first = instance.get_func(&mut store, "first").expect("first");
    let mut out = [Val::AnyRef(None)];
    first.call(&mut store, &[ps.into()], &mut out)?;
    let got = out[0].anyref().flatten().and_then(|a| a.as_struct(&store).ok().flatten()).expect("a struct");
    ensure!(got == p, "the element is the struct put there");
    // The array element type refuses a struct of another type.
    let other = StructType::new(&engine, [FieldType::new(Mutability::Const, StorageType::ValType(ValType::I32))])?;
    let o = StructRef::new(&mut store, &other, &[Val::I32(1)])?;
    ensure!(ArrayRef::new_fixed(&mut store, &points, &[o.into()]).is_err(), "an element of the wrong type");
    Ok(())
}

/// A host function keeps a reference it received in its state as an `OwnedRooted` (a plain
/// handle would end with the call); later calls use it; dropping it lets the collector free the
/// object. Typed calls take and give `Option<AnyRef>`.
fn owned_roots_outlive_scopes_until_dropped() -> Result<()> {
    use kiln::{AnyRef, OwnedRooted, RootScope};
    let engine = engine(4 << 20)?;
    let module = Module::new(
        &engine,
        r#"(module
          (type $box (struct (field i32)))
          (import "host" "keep" (func $keep (param anyref)))
          (func (export "make") (param i32) (result anyref) (struct.new $box (local.get 0)))
          (func (export "give") (param i32) (call $keep (struct.new $box (local.get 0))))
          (func (export "read") (param anyref) (result i32)
            (struct.get $box 0 (ref.cast (ref $box) (local.get 0)))))"#,
    )?;
    let mut store: Store<Option<OwnedRooted<AnyRef>>> = Store::new(&engine, None);
    let mut linker = Linker::new(&engine);
    linker.func_wrap(
        "host",
        "keep",
        |mut caller: kiln::Caller<'_, Option<OwnedRooted<AnyRef>>>, r: Option<AnyRef>| {
            let owned = r.map(|r| OwnedRooted::new(&mut caller, &r)).transpose()?;
            *caller.data_mut() = owned;
            anyhow::Ok(())
        },
    )?;
    let instance = linker.instantiate(&mut store, &module)?;
    let give = instance.get_typed_func::<i32, ()>(&mut store, "give")?;
    let read = instance.get_typed_func::<Option<AnyRef>, i32>(&mut store, "read")?;
    let make = instance.get_typed_func::<i32, Option<AnyRef>>(&mut store, "make")?;
    give.call(&mut store, 41)?;
    // Collections in between: the object is reachable only through the owned root.
    for _ in 0..3 {
        store.gc();
    }
    ensure!(store.gc_stats().objects == 1, "{} objects live", store.gc_stats().objects);
    let kept = store.data().clone().expect("the host kept it");
    {
        let mut scope = RootScope::new(&mut store);
        let r = kept.to_rooted(&mut scope)?;
        ensure!(read.call(&mut scope, Some(r))? == 41);
        let other = make.call(&mut scope, 9)?;
        ensure!(read.call(&mut scope, other)? == 9);
    }
    drop(kept);
    *store.data_mut() = None;
    store.gc();
    ensure!(store.gc_stats().objects == 0, "{} objects outlived their owners", store.gc_stats().objects);
    Ok(())
}

/// GC modules through `.cwasm`: sub types, constant expressions that allocate (a passive segment
/// of `struct.new` items) and the type ids compiled code reads, loaded into a second engine with
/// the same settings, where the same types have other engine ids.
fn precompiled_gc_modules_run() -> Result<()> {
    let engine_a = engine(8 << 20)?;
    let bytes = Module::new(&engine_a, ROOTS)?.serialize()?;
    let engine_b = engine(8 << 20)?;
    // Registering another type first gives the same structure another engine id in engine B.
    kiln::StructType::new(&engine_b, [])?;
    // SAFETY: the bytes come from kiln's own `serialize` just above.
    let module = unsafe { Module::deserialize(&engine_b, &bytes)? };
    let mut store = Store::new(&engine_b, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let sum = call_i32(&mut store, &instance, "run", &[])?;
    ensure!(sum == 100 + 999 * 1000 / 2 + 200 + 300 + 400, "checksum {sum} from the .cwasm");
    let trees = Module::new(&engine_a, TREES)?.serialize()?;
    // SAFETY: as above.
    let module = unsafe { Module::deserialize(&engine_b, &trees)? };
    let instance = Instance::new(&mut store, &module, &[])?;
    let sum = call_i32(&mut store, &instance, "run", &[Val::I32(20), Val::I32(10)])?;
    ensure!(sum == 20 * ((1 << 11) - 1) + ((1 << 13) - 1), "trees checksum {sum} from the .cwasm");
    Ok(())
}
