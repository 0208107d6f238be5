//! Runs the GC kernels of `bench-programs/gc` and prints what the collector did: collections,
//! the longest pause, and the heap's peak size. `cargo run --release -p kiln --example gc_stats`.

use kiln::{Config, Engine, Instance, Module, Store, Val};

fn main() -> anyhow::Result<()> {
    let mut config = Config::new();
    config.wasm_gc(true);
    let engine = Engine::new(&config)?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench-programs/gc");
    let mut kernels: Vec<_> = std::fs::read_dir(&dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    kernels.sort();
    println!("{:<8} {:>12} {:>12} {:>14} {:>12}", "kernel", "result", "collections", "max pause ms", "peak MiB");
    for path in kernels {
        let module = Module::from_file(&engine, &path)?;
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        let run = instance.get_func(&mut store, "run").ok_or_else(|| anyhow::anyhow!("no `run` export"))?;
        let mut out = [Val::I32(0)];
        run.call(&mut store, &[], &mut out)?;
        let stats = store.gc_stats();
        println!(
            "{:<8} {:>12} {:>12} {:>14.2} {:>12.1}",
            path.file_stem().unwrap_or_default().to_string_lossy(),
            out[0].unwrap_i32(),
            stats.collections,
            stats.max_pause_ns as f64 / 1e6,
            stats.peak_bytes as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}
