//! Resources through the embedding API: host resource types defined in a `Linker` and kept in a
//! `ResourceTable`, guest resources handed to the host as `ResourceAny` and given back, and the
//! errors (never panics) for handles of the wrong type or kind.

use anyhow::{Result, ensure};
use kiln::component::{Component, Linker, Resource, ResourceAny, ResourceTable, ResourceType, Val};
use kiln::{Engine, Store};
use libtest_mimic::{Failed, Trial};

macro_rules! resource_tests {
    ($($name:ident),* $(,)?) => {
        pub fn trials() -> Vec<Trial> {
            vec![$(
                Trial::test(concat!("component_resources::", stringify!($name)), || {
                    $name().map_err(|e| Failed::from(format!("{e:?}")))
                }),
            )*]
        }
    };
}

resource_tests![
    host_resource_created_borrowed_and_dropped_by_a_component,
    guest_resource_held_by_the_host_and_given_back,
    wrong_resource_types_are_errors,
    numbered_host_resource_types,
];

/// The host's state behind a `counter` resource.
struct Counter {
    value: u32,
}

#[derive(Default)]
struct Host {
    table: ResourceTable,
    dropped: Vec<u32>,
}

/// A component importing the host's `counter` resource with a constructor, a method taking a
/// borrow and a static function taking ownership; it also drops one handle itself.
const COUNTER_USER: &str = r#"
(component
  (import "counter" (type $C (sub resource)))
  (import "new-counter" (func $new (param "start" u32) (result (own $C))))
  (import "inc" (func $inc (param "self" (borrow $C)) (result u32)))
  (import "consume" (func $consume (param "c" (own $C)) (result u32)))
  (canon lower (func $new) (core func $new'))
  (canon lower (func $inc) (core func $inc'))
  (canon lower (func $consume) (core func $consume'))
  (canon resource.drop $C (core func $drop))
  (core module $M
    (import "" "new" (func $new (param i32) (result i32)))
    (import "" "inc" (func $inc (param i32) (result i32)))
    (import "" "consume" (func $consume (param i32) (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (func (export "run") (result i32)
      (local $a i32) (local $b i32) (local $r i32)
      (local.set $a (call $new (i32.const 10)))
      (local.set $b (call $new (i32.const 100)))
      (drop (call $inc (local.get $a)))
      (local.set $r (call $inc (local.get $a)))       ;; 12
      (local.set $r (i32.add (local.get $r) (call $inc (local.get $b))))  ;; + 101
      (call $drop (local.get $a))                     ;; host destructor
      (i32.add (local.get $r) (call $consume (local.get $b))))  ;; + 101
  )
  (core instance $m (instantiate $M (with "" (instance
    (export "new" (func $new')) (export "inc" (func $inc'))
    (export "consume" (func $consume')) (export "drop" (func $drop))))))
  (func (export "run") (result u32) (canon lift (core func $m "run")))
)
"#;

fn host_resource_created_borrowed_and_dropped_by_a_component() -> Result<()> {
    let engine = Engine::default();
    let mut linker: Linker<Host> = Linker::new(&engine);
    let mut root = linker.root();
    root.resource("counter", ResourceType::host::<Counter>(), |mut store, rep| {
        let host = store.data_mut();
        host.table.delete(Resource::<Counter>::new_own(rep))?;
        host.dropped.push(rep);
        Ok(())
    })?;
    root.func_wrap("new-counter", |mut store, (start,): (u32,)| -> Result<(Resource<Counter>,)> {
        Ok((store.data_mut().table.push(Counter { value: start })?,))
    })?;
    root.func_wrap("inc", |mut store, (c,): (Resource<Counter>,)| -> Result<(u32,)> {
        ensure!(!c.owned(), "a borrow parameter arrives as a borrowed handle");
        let counter = store.data_mut().table.get_mut(&c)?;
        counter.value += 1;
        Ok((counter.value,))
    })?;
    root.func_wrap("consume", |mut store, (c,): (Resource<Counter>,)| -> Result<(u32,)> {
        ensure!(c.owned(), "an own parameter arrives as an owned handle");
        Ok((store.data_mut().table.delete(c)?.value,))
    })?;
    let component = Component::new(&engine, COUNTER_USER)?;
    let mut store = Store::new(&engine, Host::default());
    let instance = linker.instantiate(&mut store, &component)?;
    let run = instance.get_typed_func::<(), (u32,)>(&mut store, "run")?;
    let (result,) = run.call(&mut store, ())?;
    ensure!(result == 12 + 101 + 101, "run returned {result}");
    // The component dropped the first counter (host destructor), the host consumed the second.
    ensure!(store.data().dropped == [0], "destructor calls: {:?}", store.data().dropped);
    ensure!(store.data().table.is_empty(), "every counter is gone: {:?}", store.data().table);
    Ok(())
}

/// A component defining resource `R` (rep = the argument of `make`), with a destructor that
/// counts, and functions taking it back as `borrow` and `own`.
const GUEST_RESOURCE: &str = r#"
(component
  (core module $Dtor
    (global $dtors (export "dtors") (mut i32) (i32.const 0))
    (func (export "dtor") (param i32) (global.set $dtors (i32.add (global.get $dtors) (i32.const 1)))))
  (core instance $d (instantiate $Dtor))
  (type $R' (resource (rep i32) (dtor (core func $d "dtor"))))
  (export $R "R" (type $R'))
  (canon resource.new $R' (core func $new))
  (canon resource.rep $R' (core func $rep))
  (canon resource.drop $R' (core func $drop))
  (core module $M
    (import "" "new" (func $new (param i32) (result i32)))
    (import "" "rep" (func $rep (param i32) (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (import "" "dtors" (global $dtors (mut i32)))
    (func (export "make") (param i32) (result i32) (call $new (local.get 0)))
    (func (export "rep-of") (param i32) (result i32) (local.get 0))
    (func (export "take") (param $h i32) (result i32)
      (local $r i32)
      (local.set $r (call $rep (local.get $h)))
      (call $drop (local.get $h))
      (local.get $r))
    (func (export "dtors") (result i32) (global.get $dtors)))
  (core instance $m (instantiate $M (with "" (instance
    (export "new" (func $new)) (export "rep" (func $rep)) (export "drop" (func $drop))
    (export "dtors" (global $d "dtors"))))))
  (func (export "make") (param "rep" u32) (result (own $R)) (canon lift (core func $m "make")))
  (func (export "rep-of") (param "r" (borrow $R)) (result u32) (canon lift (core func $m "rep-of")))
  (func (export "take") (param "r" (own $R)) (result u32) (canon lift (core func $m "take")))
  (func (export "dtors") (result u32) (canon lift (core func $m "dtors")))
)
"#;

fn guest_resource_held_by_the_host_and_given_back() -> Result<()> {
    let engine = Engine::default();
    let component = Component::new(&engine, GUEST_RESOURCE)?;
    let linker: Linker<()> = Linker::new(&engine);
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &component)?;
    let make = instance.get_typed_func::<(u32,), (ResourceAny,)>(&mut store, "make")?;
    let rep_of = instance.get_typed_func::<(ResourceAny,), (u32,)>(&mut store, "rep-of")?;
    let take = instance.get_typed_func::<(ResourceAny,), (u32,)>(&mut store, "take")?;
    let dtors = instance.get_typed_func::<(), (u32,)>(&mut store, "dtors")?;

    let r_type = instance.get_resource(&store, "R").expect("R is exported");
    ensure!(r_type != ResourceType::host::<Counter>());
    let (a,) = make.call(&mut store, (7,))?;
    let (b,) = make.call(&mut store, (8,))?;
    ensure!(a.owned() && a.ty() == r_type, "an own result is an owned handle of R");
    // Lent to the implementer: it sees the rep; the host keeps its handle.
    ensure!(rep_of.call(&mut store, (a,))?.0 == 7);
    ensure!(rep_of.call(&mut store, (a,))?.0 == 7);
    // Given back: the component owns (and drops) it; the host's handle is gone.
    ensure!(take.call(&mut store, (a,))?.0 == 7);
    ensure!(dtors.call(&mut store, ())?.0 == 1);
    // Dropped by the host: the guest destructor runs.
    b.resource_drop(&mut store)?;
    ensure!(dtors.call(&mut store, ())?.0 == 2);
    // A moved handle is gone from the host's table: a trap, which poisons the instance, so
    // destructors cannot run in it any more either.
    let err = take.call(&mut store, (a,)).unwrap_err();
    ensure!(format!("{err:?}").contains("unknown handle index"), "a moved handle is gone: {err:?}");
    // Another instance sees the destructor count through a fresh store.
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &component)?;
    let make = instance.get_typed_func::<(u32,), (ResourceAny,)>(&mut store, "make")?;
    let dtors = instance.get_typed_func::<(), (u32,)>(&mut store, "dtors")?;
    let (c,) = make.call(&mut store, (9,))?;
    c.resource_drop(&mut store)?;
    ensure!(dtors.call(&mut store, ())?.0 == 1, "resource_drop ran the guest destructor");
    // Dynamic values work the same way.
    let make = instance.get_func(&mut store, "make").unwrap();
    let mut results = [Val::Bool(false)];
    make.call(&mut store, &[Val::U32(3)], &mut results)?;
    let Val::Resource(d) = &results[0] else { anyhow::bail!("expected a resource, got {:?}", results[0]) };
    ensure!(d.ty() == instance.get_resource(&store, "R").unwrap());
    Ok(())
}

fn wrong_resource_types_are_errors() -> Result<()> {
    let engine = Engine::default();
    let component = Component::new(&engine, GUEST_RESOURCE)?;
    let linker: Linker<()> = Linker::new(&engine);
    let mut store = Store::new(&engine, ());
    let first = linker.instantiate(&mut store, &component)?;
    let second = linker.instantiate(&mut store, &component)?;
    ensure!(
        first.get_resource(&store, "R") != second.get_resource(&store, "R"),
        "each instantiation defines its own R"
    );
    let make = first.get_typed_func::<(u32,), (ResourceAny,)>(&mut store, "make")?;
    let (a,) = make.call(&mut store, (1,))?;
    // A guest resource is not a host resource: an error, not a panic.
    ensure!(a.try_into_resource::<Counter>().is_err());
    // A handle of the first instance's R given to the second: an error naming the mismatch.
    let rep_of = second.get_typed_func::<(ResourceAny,), (u32,)>(&mut store, "rep-of")?;
    let err = rep_of.call(&mut store, (a,)).unwrap_err();
    ensure!(format!("{err:?}").contains("another resource type"), "{err:?}");
    // A host resource where a guest one is expected.
    let host = Resource::<Counter>::new_own(0).into_resource_any();
    let rep_of = first.get_typed_func::<(ResourceAny,), (u32,)>(&mut store, "rep-of")?;
    let err = rep_of.call(&mut store, (host,)).unwrap_err();
    ensure!(format!("{err:?}").contains("another resource type"), "{err:?}");
    // Functions that use a host resource cannot be linked without it.
    let component = Component::new(&engine, COUNTER_USER)?;
    let mut linker: Linker<()> = Linker::new(&engine);
    linker.root().func_wrap("new-counter", |_, (_,): (u32,)| -> Result<(u32,)> { Ok((0,)) })?;
    let err = linker.instantiate(&mut store, &component).unwrap_err();
    ensure!(format!("{err:?}").contains("counter"), "{err:?}");
    Ok(())
}

/// Host resource types named by a number (`ResourceType::host_id`, what the C API uses): handles
/// made with `ResourceAny::host` go into a component as `own`, its method import sees the rep,
/// its drop runs the host destructor; a number is its own type, distinct from any other number
/// and from Rust-typed host resources.
fn numbered_host_resource_types() -> Result<()> {
    use std::sync::{Arc, Mutex};
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
          (import "file" (type $file (sub resource)))
          (import "[method]file.size" (func $size (param "self" (borrow $file)) (result u32)))
          (core func $size (canon lower (func $size)))
          (core func $drop (canon resource.drop $file))
          (core module $m
            (import "" "size" (func $size (param i32) (result i32)))
            (import "" "drop" (func $drop (param i32)))
            (func (export "measure") (param i32) (result i32)
              (local $n i32)
              (local.set $n (call $size (local.get 0)))
              (call $drop (local.get 0))
              (local.get $n)))
          (core instance $i (instantiate $m
            (with "" (instance (export "size" (func $size)) (export "drop" (func $drop))))))
          (func (export "measure") (param "f" (own $file)) (result u32) (canon lift (core func $i "measure"))))"#,
    )?;
    let ty = ResourceType::host_id(42);
    ensure!(ty == ResourceType::host_id(42) && ty != ResourceType::host_id(43));
    ensure!(ty != ResourceType::host::<Counter>() && ty.host_id_of() == Some(42));
    let dropped = Arc::new(Mutex::new(Vec::new()));
    let mut linker = Linker::<()>::new(&engine);
    let log = dropped.clone();
    linker.root().resource("file", ty, move |_, rep| {
        log.lock().unwrap().push(rep);
        Ok(())
    })?;
    linker.root().func_new("[method]file.size", |_, params, results| {
        let Val::Resource(r) = &params[0] else { anyhow::bail!("not a resource: {:?}", params[0]) };
        ensure!(!r.owned() && r.ty() == ResourceType::host_id(42));
        results[0] = Val::U32(r.host_rep().unwrap_or(0) * 10);
        Ok(())
    })?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &component)?;
    let measure = instance.get_func(&mut store, "measure").expect("measure");
    let mut out = [Val::Bool(false)];
    measure.call(&mut store, &[Val::Resource(ResourceAny::host(ty, 7, true)?)], &mut out)?;
    ensure!(matches!(out[0], Val::U32(70)), "{:?}", out[0]);
    ensure!(*dropped.lock().unwrap() == [7]);

    let other = ResourceAny::host(ResourceType::host_id(43), 1, true)?;
    ensure!(measure.call(&mut store, &[Val::Resource(other)], &mut out).is_err());
    ensure!(ResourceAny::host(instance_type(&mut store, &engine)?, 1, true).is_err(), "a guest type is not the host's");
    Ok(())
}

/// A resource type a component instance defines (for the refusal above).
fn instance_type(store: &mut Store<()>, engine: &Engine) -> Result<ResourceType> {
    let component = Component::new(engine, r#"(component (type $r (resource (rep i32))) (export "r" (type $r)))"#)?;
    let instance = Linker::new(engine).instantiate(&mut *store, &component)?;
    instance.get_resource(&*store, "r").ok_or_else(|| anyhow::anyhow!("no resource export"))
}
