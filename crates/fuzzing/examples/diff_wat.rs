//! Debugging aid: `diff_wat FILE.wat FUNC [I32 ARGS...]` instantiates the module on wasmi and on
//! kiln (opt levels none and speed) and prints what calling FUNC returns on each.

use kiln_fuzzing::differential::{Exports, KilnSide, Side, WasmiSide};
use kiln_fuzzing::value::Value;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wasm = wat::parse_file(&args[0])?;
    let name = &args[1];
    let vals: Vec<Value> = args[2..].iter().map(|a| Value::I32(a.parse().expect("i32 argument"))).collect();
    let mut w = WasmiSide::new(&wasm).map_err(|e| anyhow::anyhow!("{e}"))?.map_err(|o| anyhow::anyhow!("{o:?}"))?;
    let probe = kiln::Module::new(&kiln::Engine::default(), &wasm)?;
    let exports = Exports::of(&probe);
    let results = exports.funcs.iter().find(|f| &f.0 == name).map(|f| f.2).unwrap_or(0);
    println!("wasmi: {:?} {:?}", w.call(name, &vals, results), w.state(&exports).globals);
    for opt in [kiln::OptLevel::None, kiln::OptLevel::Speed] {
        let mut c = kiln::Config::new();
        c.cranelift_opt_level(opt).consume_fuel(true);
        let engine = kiln::Engine::new(&c)?;
        let module = kiln::Module::new(&engine, &wasm)?;
        let mut k = KilnSide::new(&engine, &module, true).map_err(|o| anyhow::anyhow!("{o:?}"))?;
        println!("kiln {opt:?}: {:?} {:?}", k.call(name, &vals, results), k.state(&exports).globals);
    }
    Ok(())
}
