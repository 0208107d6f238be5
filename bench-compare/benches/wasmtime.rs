//! The kiln benchmark suite (`benches/benches/kiln.rs`) run against wasmtime, with the same names
//! and the same wasm inputs so that `scripts/bench-compare` can pair the results.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wasmtime::{Config, Engine, Linker, Module, Store};

#[path = "../../benches/wasm/mod.rs"]
mod wasm;

fn engine() -> Engine {
    // Default configuration: Cranelift, on-demand allocation (no pooling allocator).
    Engine::new(&Config::new()).unwrap()
}

fn call_linker(engine: &Engine) -> Linker<()> {
    let mut linker = Linker::new(engine);
    linker.func_wrap("host", "inc", |x: i32| x.wrapping_add(1)).unwrap();
    linker
}

fn bench_call(c: &mut Criterion) {
    let engine = engine();
    let module = Module::new(&engine, wasm::CALL_WAT).unwrap();
    let linker = call_linker(&engine);
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();

    let nop = instance.get_typed_func::<(), ()>(&mut store, "nop").unwrap();
    let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add").unwrap();
    let call_host_n = instance.get_typed_func::<i32, i32>(&mut store, "call_host_n").unwrap();

    let mut group = c.benchmark_group("call");
    group.bench_function("host_to_wasm_typed_nop", |b| {
        b.iter(|| nop.call(&mut store, ()).unwrap());
    });
    group.bench_function("host_to_wasm_typed_add", |b| {
        b.iter(|| add.call(&mut store, (black_box(20), black_box(22))).unwrap());
    });
    let n = wasm::HOST_CALLS_PER_ITER;
    group.throughput(Throughput::Elements(u64::from(n)));
    group.bench_function("wasm_to_host", |b| {
        b.iter(|| {
            let r = call_host_n.call(&mut store, black_box(n as i32)).unwrap();
            assert_eq!(r, n as i32);
        });
    });
    group.finish();
}

fn bench_trap(c: &mut Criterion) {
    let engine = engine();
    let module = Module::new(&engine, wasm::CALL_WAT).unwrap();
    let linker = call_linker(&engine);
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let trap = instance.get_typed_func::<(), ()>(&mut store, "trap").unwrap();

    let mut group = c.benchmark_group("trap");
    group.bench_function("round_trip", |b| {
        b.iter(|| {
            let r = trap.call(&mut store, ());
            assert!(r.is_err());
            r
        });
    });
    group.finish();
}

fn bench_instantiate(c: &mut Criterion) {
    let engine = engine();
    let module = Module::new(&engine, wasm::INSTANTIATE_SMALL_WAT).unwrap();
    let mut linker = Linker::new(&engine);
    linker.func_wrap("host", "log", |_: i32| {}).unwrap();

    let mut group = c.benchmark_group("instantiate");
    group.bench_function("small", |b| {
        // A fresh store per iteration; creating and dropping it is part of the measurement.
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            black_box(linker.instantiate(&mut store, &module).unwrap());
        });
    });
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let engine = engine();
    let bytes = wat::parse_str(wasm::large_module_wat()).unwrap();

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("large", |b| {
        b.iter(|| Module::new(&engine, &bytes).unwrap());
    });
    group.finish();
}

criterion_group!(benches, bench_call, bench_trap, bench_instantiate, bench_compile);
criterion_main!(benches);
