//! Core modules the host gives a component (`LinkerInstance::module`) and modules a component
//! exports (`Instance::get_module`), through the Rust API: the module type a component declares
//! is checked when it is instantiated, and the module is instantiated with the arguments its own
//! imports name.

use anyhow::{Context, Result, ensure};
use kiln::component::{Component, Linker};
use kiln::{Engine, Module, Store};
use libtest_mimic::{Failed, Trial};

type Test = fn() -> Result<()>;

pub fn trials() -> Vec<Trial> {
    let tests: [(&str, Test); 2] = [
        ("host_module_into_component", host_module_into_component),
        ("exported_module_back_to_host", exported_module_back_to_host),
    ];
    tests
        .into_iter()
        .map(|(name, f)| {
            Trial::test(format!("component_modules::{name}"), move || f().map_err(|e| Failed::from(format!("{e:?}"))))
        })
        .collect()
}

/// A component that imports a core module, instantiates it with a global of its own and lifts
/// its export; then the same component against modules that do not fit.
const IMPORTER: &str = r#"(component
  (import "plugin" (core module $plugin
    (import "env" "base" (global i32))
    (import "env" "unused" (func))
    (export "run" (func (param i32) (result i32)))))
  (core module $env
    (global (export "base") i32 i32.const 1000)
    (func (export "unused")))
  (core instance $env (instantiate $env))
  (core instance $p (instantiate $plugin (with "env" (instance $env))))
  (func (export "run") (param "x" u32) (result u32) (canon lift (core func $p "run")))
)"#;

fn host_module_into_component() -> Result<()> {
    let engine = Engine::default();
    let component = Component::new(&engine, IMPORTER)?;
    // The plugin imports less than the type allows (no `unused`).
    let plugin = Module::new(
        &engine,
        r#"(module (import "env" "base" (global $b i32))
             (func (export "run") (param i32) (result i32) (i32.add (local.get 0) (global.get $b))))"#,
    )?;
    let mut linker = Linker::new(&engine);
    linker.root().module("plugin", &plugin)?;
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &component)?;
    let run = instance.get_typed_func::<(u32,), (u32,)>(&mut store, "run")?;
    ensure!(run.call(&mut store, (42,))?.0 == 1042);

    // Modules that do not fit the declared type are refused at instantiation, saying why.
    let cases = [
        (r#"(module (func (export "other")))"#, "module export `run` not defined"),
        (
            r#"(module (import "env" "missing" (func)) (func (export "run") (param i32) (result i32) local.get 0))"#,
            "module import `env::missing` not defined",
        ),
        (
            r#"(module (func (export "run") (param i64) (result i32) i32.const 0))"#,
            "expected type `(func (param i32) (result i32))`, found type `(func (param i64) (result i32))`",
        ),
        (
            r#"(module (import "env" "base" (global (mut i32))) (func (export "run") (param i32) (result i32) local.get 0))"#,
            "module import `env::base` has the wrong type",
        ),
    ];
    for (wat, expected) in cases {
        let mut linker = Linker::<()>::new(&engine);
        linker.root().module("plugin", &Module::new(&engine, wat)?)?;
        let err = linker.instantiate(&mut store, &component).err().context("a module that does not fit linked")?;
        let text = format!("{err:#}");
        ensure!(text.contains(expected), "expected `{expected}` in: {text}");
    }
    // And an import defined as something else.
    let mut linker = Linker::<()>::new(&engine);
    linker.root().func_new("plugin", |_, _, _| Ok(()))?;
    let err = linker.instantiate(&mut store, &component).err().context("a function linked as a module")?;
    ensure!(format!("{err:#}").contains("expected module found func"), "{err:#}");
    Ok(())
}

fn exported_module_back_to_host() -> Result<()> {
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
             (core module $m (func (export "answer") (result i32) i32.const 42))
             (export "m" (core module $m)))"#,
    )?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let module = instance.get_module(&store, "m").context("the exported module")?;
    ensure!(instance.get_module(&store, "nope").is_none());
    let core = kiln::Instance::new(&mut store, &module, &[])?;
    let answer = core.get_typed_func::<(), i32>(&mut store, "answer")?;
    ensure!(answer.call(&mut store, ())? == 42);
    Ok(())
}
