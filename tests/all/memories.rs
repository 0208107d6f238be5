//! Where linear memories live: an owned (defined, unshared) memory keeps its base and length
//! inline in its instance's `VMContext`, and every importer reaches that same definition, so a
//! growth through any instance or the host is seen by all of them. Each test runs with guard
//! pages and with explicit bounds checks (where compiled code reads the length on every access).

use anyhow::{Context, Result, ensure};
use kiln::{Config, Engine, Instance, Memory, Module, Store, Trap, TypedFunc};
use libtest_mimic::{Failed, Trial};

/// A test of one engine configuration.
type MemoryTest = fn(&Engine) -> Result<()>;

pub fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for guard_pages in [true, false] {
        let mode = if guard_pages { "guard_pages" } else { "bounds_checked" };
        let tests: [(&str, MemoryTest); 3] = [
            ("growth_seen_by_exporter_and_importers", growth_seen_by_exporter_and_importers),
            ("reexported_memory_is_one_memory", reexported_memory_is_one_memory),
            ("owned_imported_and_shared_memories_side_by_side", owned_imported_and_shared_memories_side_by_side),
        ];
        for (name, test) in tests {
            trials.push(Trial::test(format!("memories::{name}::{mode}"), move || {
                let mut config = Config::new();
                config.memory_guard_pages(guard_pages);
                let engine = Engine::new(&config).map_err(|e| Failed::from(format!("{e:?}")))?;
                test(&engine).map_err(|e| Failed::from(format!("{e:?}")))
            }));
        }
    }
    trials
}

/// Exports `size`, `grow`, `load` and `store` on its memory; `IMPORTER` imports the memory instead
/// of defining it.
const EXPORTER: &str = r#"(module
    (memory (export "mem") 1 8)
    (func (export "size") (result i32) memory.size)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
    (func (export "load") (param i32) (result i32) local.get 0 i32.load)
    (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store))"#;

const IMPORTER: &str = r#"(module
    (import "exporter" "mem" (memory 1))
    (func (export "size") (result i32) memory.size)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
    (func (export "load") (param i32) (result i32) local.get 0 i32.load)
    (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store))"#;

/// One instance's view of the memory.
struct View {
    size: TypedFunc<(), i32>,
    grow: TypedFunc<i32, i32>,
    load: TypedFunc<i32, i32>,
    store: TypedFunc<(i32, i32), ()>,
}

impl View {
    fn new(store: &mut Store<()>, instance: &Instance) -> Result<View> {
        Ok(View {
            size: instance.get_typed_func(&mut *store, "size")?,
            grow: instance.get_typed_func(&mut *store, "grow")?,
            load: instance.get_typed_func(&mut *store, "load")?,
            store: instance.get_typed_func(&mut *store, "store")?,
        })
    }
}

fn expect_out_of_bounds(result: Result<i32>) -> Result<()> {
    let err = result.err().context("expected an out-of-bounds trap")?;
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::MemoryOutOfBounds), "unexpected error: {err:?}");
    Ok(())
}

fn growth_seen_by_exporter_and_importers(engine: &Engine) -> Result<()> {
    let mut store = Store::new(engine, ());
    let exporter = Instance::new(&mut store, &Module::new(engine, EXPORTER)?, &[])?;
    let mem = exporter.get_memory(&mut store, "mem").context("no memory export")?;
    let importer_module = Module::new(engine, IMPORTER)?;
    let first = Instance::new(&mut store, &importer_module, &[mem.into()])?;
    let second = Instance::new(&mut store, &importer_module, &[mem.into()])?;
    let views = [View::new(&mut store, &exporter)?, View::new(&mut store, &first)?, View::new(&mut store, &second)?];

    // Each instance in turn grows the memory by one page and writes just below the new end;
    // every instance and the host then see the new size and the value.
    let page = 65536;
    for (i, grower) in views.iter().enumerate() {
        let old = grower.grow.call(&mut store, 1)?;
        ensure!(old == 1 + i as i32, "instance {i} grew from {old} pages");
        let pages = old + 1;
        let addr = pages * page - 4;
        grower.store.call(&mut store, (addr, 1000 + i as i32))?;
        ensure!(mem.size(&store) == pages as u64);
        ensure!(mem.data(&store)[addr as usize..][..4] == (1000 + i as i32).to_le_bytes());
        for (j, view) in views.iter().enumerate() {
            ensure!(view.size.call(&mut store, ())? == pages, "instance {j} after growth by {i}");
            ensure!(view.load.call(&mut store, addr)? == 1000 + i as i32, "instance {j} reads {i}'s write");
            expect_out_of_bounds(view.load.call(&mut store, pages * page))?;
        }
    }

    // The host grows it: all three instances see it.
    ensure!(mem.grow(&mut store, 2)? == 4);
    mem.data_mut(&mut store)[6 * page as usize - 4..].copy_from_slice(&77i32.to_le_bytes());
    for view in &views {
        ensure!(view.size.call(&mut store, ())? == 6);
        ensure!(view.load.call(&mut store, 6 * page - 4)? == 77);
    }
    // Up to the maximum (8 pages) and no further, from any side.
    ensure!(views[1].grow.call(&mut store, 2)? == 6);
    ensure!(views[0].grow.call(&mut store, 1)? == -1);
    ensure!(views[2].grow.call(&mut store, 1)? == -1);
    ensure!(mem.grow(&mut store, 1).is_err());
    for view in &views {
        ensure!(view.size.call(&mut store, ())? == 8);
    }
    Ok(())
}

fn reexported_memory_is_one_memory(engine: &Engine) -> Result<()> {
    let mut store = Store::new(engine, ());
    let exporter = Instance::new(&mut store, &Module::new(engine, EXPORTER)?, &[])?;
    let mem = exporter.get_memory(&mut store, "mem").context("no memory export")?;
    // A middle instance re-exports the memory it imported; the last imports it from there.
    let middle = Module::new(
        engine,
        r#"(module (import "exporter" "mem" (memory 1)) (export "mem" (memory 0))
            (func (export "size") (result i32) memory.size)
            (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
            (func (export "load") (param i32) (result i32) local.get 0 i32.load)
            (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store))"#,
    )?;
    let middle = Instance::new(&mut store, &middle, &[mem.into()])?;
    let reexported = middle.get_memory(&mut store, "mem").context("no re-export")?;
    let last = Instance::new(&mut store, &Module::new(engine, IMPORTER)?, &[reexported.into()])?;
    let (exporter, middle, last) =
        (View::new(&mut store, &exporter)?, View::new(&mut store, &middle)?, View::new(&mut store, &last)?);

    ensure!(last.grow.call(&mut store, 3)? == 1);
    last.store.call(&mut store, (4 * 65536 - 4, 31))?;
    for view in [&exporter, &middle, &last] {
        ensure!(view.size.call(&mut store, ())? == 4);
        ensure!(view.load.call(&mut store, 4 * 65536 - 4)? == 31);
    }
    ensure!(mem.size(&store) == 4 && reexported.size(&store) == 4);
    ensure!(exporter.grow.call(&mut store, 1)? == 4);
    ensure!(last.size.call(&mut store, ())? == 5);
    Ok(())
}

fn owned_imported_and_shared_memories_side_by_side(engine: &Engine) -> Result<()> {
    let mut store = Store::new(engine, ());
    let host = Memory::new(&mut store, kiln::MemoryType::new(1, None))?;
    host.data_mut(&mut store)[..4].copy_from_slice(&11i32.to_le_bytes());
    // Memory 0 is imported, 1 owned (inline in the VMContext), 2 shared (reached through a
    // pointer like an import); each starts with a different value, and each can grow on its own.
    let module = Module::new(
        engine,
        r#"(module
            (import "host" "mem" (memory $imported 1))
            (memory $owned 1 4)
            (memory $shared 1 4 shared)
            (data (memory $owned) (i32.const 0) "\16\00\00\00")
            (data (memory $shared) (i32.const 0) "\21\00\00\00")
            (func (export "sum") (param i32) (result i32)
              (i32.add (i32.add (i32.load $imported (local.get 0)) (i32.load $owned (local.get 0)))
                       (i32.load $shared (local.get 0))))
            (func (export "grow_owned") (result i32) (memory.grow $owned (i32.const 1)))
            (func (export "sizes") (result i32)
              (i32.add (i32.add (i32.mul (memory.size $imported) (i32.const 100))
                                (i32.mul (memory.size $owned) (i32.const 10)))
                       (memory.size $shared))))"#,
    )?;
    let instance = Instance::new(&mut store, &module, &[host.into()])?;
    let sum = instance.get_typed_func::<i32, i32>(&mut store, "sum")?;
    let grow_owned = instance.get_typed_func::<(), i32>(&mut store, "grow_owned")?;
    let sizes = instance.get_typed_func::<(), i32>(&mut store, "sizes")?;
    ensure!(sum.call(&mut store, 0)? == 11 + 0x16 + 0x21);
    ensure!(sizes.call(&mut store, ())? == 111);
    ensure!(grow_owned.call(&mut store, ())? == 1);
    ensure!(sizes.call(&mut store, ())? == 121);
    // Address 65536 is now inside the owned memory but not the other two.
    expect_out_of_bounds(sum.call(&mut store, 65536))?;
    ensure!(host.grow(&mut store, 1)? == 1);
    ensure!(sizes.call(&mut store, ())? == 221);
    expect_out_of_bounds(sum.call(&mut store, 65536))?;
    Ok(())
}
