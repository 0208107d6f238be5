//! The examples the README runs give the results it promises.

use anyhow::{Result, ensure};
use kiln::component::{Component, Linker as ComponentLinker, Val};
use kiln::{Engine, Linker, Module, Store};
use libtest_mimic::{Failed, Trial};

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn fib() -> Result<()> {
    let engine = Engine::default();
    let module = Module::from_file(&engine, example("fib.wat"))?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
    let fib = instance.get_typed_func::<i32, i32>(&mut store, "fib")?;
    ensure!(fib.call(&mut store, 20)? == 6765, "fib(20)");
    Ok(())
}

fn greet_component() -> Result<()> {
    let engine = Engine::default();
    let component = Component::from_file(&engine, example("greet.wat"))?;
    ensure!(component.adapter_count() == 1, "the app -> greeter call is one fused adapter");
    let mut store = Store::new(&engine, ());
    let instance = ComponentLinker::new(&engine).instantiate(&mut store, &component)?;
    let greet = instance.get_func(&mut store, "greet").ok_or_else(|| anyhow::anyhow!("no greet export"))?;
    for name in ["kiln", "wörld 🌍", "日本語", ""] {
        let mut result = [Val::Bool(false)];
        greet.call(&mut store, &[Val::String(name.into())], &mut result)?;
        ensure!(result[0] == Val::String(format!("Hello, {name}!")), "greet({name:?}) gave {:?}", result[0]);
    }
    Ok(())
}

/// The `bindgen!` example of `docs/components.md` (`cargo run -p kiln --example
/// component_bindgen`), run here so that it keeps working.
#[path = "../../crates/kiln/examples/component_bindgen.rs"]
mod component_bindgen_example;

pub fn trials() -> Vec<Trial> {
    let wrap = |f: fn() -> Result<()>| move || f().map_err(|e| Failed::from(format!("{e:?}")));
    vec![
        Trial::test("examples::fib", wrap(fib)),
        Trial::test("examples::greet_component", wrap(greet_component)),
        Trial::test("examples::component_bindgen", wrap(component_bindgen_example::main)),
    ]
}
