//! kiln benchmarks. `bench-compare/benches/wasmtime.rs` runs the same ones, with the same names
//! and the same wasm inputs, against wasmtime; `scripts/bench-compare` pairs the results.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kiln::{Config, Engine, Linker, Module, Store};
use std::hint::black_box;

#[path = "../wasm/mod.rs"]
mod wasm;

fn engine() -> Engine {
    // Default configuration, as in the wasmtime suite.
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

fn bench_tail_call(c: &mut Criterion) {
    let engine = engine();
    let module = Module::new(&engine, wasm::TAIL_CALL_WAT).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
    let even_odd = instance.get_typed_func::<i32, i32>(&mut store, "even_odd").unwrap();
    let dispatch = instance.get_typed_func::<i32, i64>(&mut store, "dispatch").unwrap();

    let mut group = c.benchmark_group("kernels");
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("tail_call_even_odd_1m", |b| {
        b.iter(|| even_odd.call(&mut store, black_box(1_000_000)).unwrap());
    });
    group.bench_function("tail_call_dispatch_1m", |b| {
        b.iter(|| dispatch.call(&mut store, black_box(1_000_000)).unwrap());
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

    // One 16 MiB active data segment, which the engine maps from a copy-on-write image made when
    // the module was compiled (here, outside the loop).
    let data_module = Module::new(&engine, wasm::data_16mib_wat()).unwrap();
    let empty = Linker::new(&engine);
    group.bench_function("data_16mib", |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            black_box(empty.instantiate(&mut store, &data_module).unwrap());
        });
    });
    // The same plus the first write to each 64 KiB page of the data (a copy-on-write fault each).
    let expected = wasm::data_16mib_touch_sum();
    group.bench_function("data_16mib_touch", |b| {
        b.iter(|| {
            let mut store = Store::new(&engine, ());
            let instance = empty.instantiate(&mut store, &data_module).unwrap();
            let touch = instance.get_typed_func::<(), i32>(&mut store, "touch").unwrap();
            assert_eq!(touch.call(&mut store, ()).unwrap(), expected);
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
    let precompiled = engine.precompile_module(&bytes).unwrap();
    group.bench_function("large_deserialize", |b| {
        // SAFETY: kiln's own output from just above.
        b.iter(|| unsafe { Module::deserialize(&engine, &precompiled) }.unwrap());
    });
    // kiln only: a compile answered by a warm on-disk cache (validation, then the cached code).
    let cache_dir = std::env::temp_dir().join(format!("kiln-bench-cache-{}", std::process::id()));
    let mut config = Config::new();
    config.cache(Some(cache_dir.clone()));
    let cached = Engine::new(&config).unwrap();
    Module::new(&cached, &bytes).unwrap();
    group.bench_function("large_cache_hit", |b| {
        b.iter(|| Module::new(&cached, &bytes).unwrap());
    });
    assert_eq!(cached.cache_stats().misses, 1, "every iteration must hit the cache");
    let _ = std::fs::remove_dir_all(&cache_dir);
    group.finish();
}

fn bench_component(c: &mut Criterion) {
    use kiln::component::{Component, Linker as ComponentLinker, Val};

    let engine = engine();
    let linker = ComponentLinker::<()>::new(&engine);
    let mut store = Store::new(&engine, ());

    let host = Component::new(&engine, wasm::COMPONENT_HOST_WAT).unwrap();
    let host = linker.instantiate(&mut store, &host).unwrap();
    let nop = host.get_typed_func::<(), ()>(&mut store, "nop").unwrap();
    let take = host.get_typed_func::<(&str,), (u32,)>(&mut store, "take").unwrap();
    let add = host.get_func(&mut store, "add").unwrap();

    let fused = Component::new(&engine, wasm::COMPONENT_FUSED_WAT).unwrap();
    let fused = linker.instantiate(&mut store, &fused).unwrap();
    let run = fused.get_typed_func::<(u32,), (u32,)>(&mut store, "run").unwrap();

    let text = "k".repeat(wasm::STRING_LEN);
    let len = wasm::FUSED_LIST_LEN;

    let mut group = c.benchmark_group("component");
    group.bench_function("host_to_component_typed_nop", |b| {
        b.iter(|| nop.call(&mut store, ()).unwrap());
    });
    group.bench_function("host_to_component_string_1k", |b| {
        b.iter(|| {
            let (n,) = take.call(&mut store, (black_box(text.as_str()),)).unwrap();
            assert_eq!(n as usize, wasm::STRING_LEN);
        });
    });
    group.bench_function("dynamic_val_call", |b| {
        let mut results = [Val::U32(0)];
        b.iter(|| {
            add.call(&mut store, &[Val::U32(black_box(20)), Val::U32(black_box(22))], &mut results).unwrap();
            assert_eq!(results[0], Val::U32(42));
        });
    });
    group.bench_function("fused_call_list_u8_empty", |b| {
        b.iter(|| {
            let (n,) = run.call(&mut store, (black_box(0),)).unwrap();
            assert_eq!(n, 0);
        });
    });
    group.throughput(Throughput::Bytes(u64::from(len)));
    group.bench_function("fused_call_list_u8_64k", |b| {
        b.iter(|| {
            let (n,) = run.call(&mut store, (black_box(len),)).unwrap();
            assert_eq!(n, len);
        });
    });
    // kiln suite only: the machine's memcpy bandwidth for the same size, to read the 64 KiB list
    // copy against (`scripts/bench-compare` prints the ratio).
    let src = vec![0x5a_u8; len as usize];
    let mut dst = vec![0_u8; len as usize];
    group.bench_function("memcpy_64k_baseline", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        });
    });
    group.finish();
}

mod typed_world {
    // The world of `wasm::COMPONENT_TYPED_WAT` (the same text in the wasmtime suite).
    ::kiln::component::bindgen!({
        inline: "package bench:typed; world typed { import host-add: func(a: u32, b: u32) -> u32; export run: func(n: u32) -> u32; }",
    });
}

#[derive(kiln::component::ComponentType, kiln::component::Lift, kiln::component::Lower, Clone, Copy)]
#[component(record)]
struct Rec {
    a: u32,
    b: u32,
    c: u32,
    d: u32,
    e: u64,
    f: u64,
    g: f32,
    h: f64,
}

struct Adder;

impl typed_world::TypedImports for Adder {
    fn host_add(&mut self, a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
}

fn bench_component_typed(c: &mut Criterion) {
    use kiln::component::{Component, HasSelf, Linker as ComponentLinker};

    let engine = engine();
    let mut linker = ComponentLinker::<Adder>::new(&engine);
    typed_world::Typed::add_to_linker::<_, HasSelf<_>>(&mut linker, |a| a).unwrap();
    let mut store = Store::new(&engine, Adder);
    let component = Component::new(&engine, wasm::COMPONENT_TYPED_WAT).unwrap();
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let sum8 = instance.get_typed_func::<(Rec,), (u32,)>(&mut store, "sum8").unwrap();
    let count = instance.get_typed_func::<(&[Rec],), (u32,)>(&mut store, "count").unwrap();
    let bindings = typed_world::Typed::new(&mut store, &instance).unwrap();
    let rec = Rec { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7.0, h: 8.0 };
    let recs = vec![rec; wasm::RECORDS];

    let mut group = c.benchmark_group("component");
    group.bench_function("typed_record_8_fields", |b| {
        b.iter(|| {
            let (n,) = sum8.call(&mut store, (black_box(rec),)).unwrap();
            assert_eq!(n, 21);
        });
    });
    group.bench_function("typed_list_1000_records", |b| {
        b.iter(|| {
            let (n,) = count.call(&mut store, (black_box(recs.as_slice()),)).unwrap();
            assert_eq!(n as usize, wasm::RECORDS);
        });
    });
    group.throughput(Throughput::Elements(u64::from(wasm::BINDGEN_CALLS)));
    group.bench_function("bindgen_host_import", |b| {
        b.iter(|| {
            let n = bindings.call_run(&mut store, black_box(wasm::BINDGEN_CALLS)).unwrap();
            assert_eq!(n, (0..wasm::BINDGEN_CALLS).sum::<u32>());
        });
    });
    group.finish();
}

fn bench_resources(c: &mut Criterion) {
    use kiln::component::{Component, Linker as ComponentLinker, Resource, ResourceType};

    struct Counter;
    let engine = engine();
    let mut linker = ComponentLinker::<u32>::new(&engine);
    let mut root = linker.root();
    root.resource("counter", ResourceType::host::<Counter>(), |_, _| Ok(())).unwrap();
    root.func_wrap("[constructor]counter", |_, (): ()| -> anyhow::Result<(Resource<Counter>,)> {
        Ok((Resource::new_own(0),))
    })
    .unwrap();
    root.func_wrap("[method]counter.inc", |mut store, (c,): (Resource<Counter>,)| -> anyhow::Result<(u32,)> {
        assert!(!c.owned());
        *store.data_mut() += 1;
        Ok((*store.data(),))
    })
    .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let component = Component::new(&engine, wasm::COMPONENT_RESOURCES_WAT).unwrap();
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let n = wasm::RESOURCE_OPS;
    let mut group = c.benchmark_group("resources");
    group.throughput(Throughput::Elements(u64::from(n)));
    for name in ["new-drop", "own-through-adapter", "host-method"] {
        let func = instance.get_typed_func::<(u32,), (u32,)>(&mut store, name).unwrap();
        group.bench_function(format!("{}_1k", name.replace('-', "_")), |b| {
            b.iter(|| black_box(func.call(&mut store, (black_box(n),)).unwrap()));
        });
    }
    group.finish();
}

fn bench_simd(c: &mut Criterion) {
    let engine = engine();
    let module = Module::new(&engine, wasm::SIMD_WAT).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
    let init = instance.get_typed_func::<i32, ()>(&mut store, "init_f32").unwrap();
    let dot = instance.get_typed_func::<i32, f32>(&mut store, "dot_f32").unwrap();
    let blend = instance.get_typed_func::<(i32, i32), i32>(&mut store, "blend_u8").unwrap();
    let n = wasm::SIMD_BYTES;
    init.call(&mut store, n as i32).unwrap();

    let mut group = c.benchmark_group("simd");
    // Bytes of one input array per iteration (each kernel reads two).
    group.throughput(Throughput::Bytes(u64::from(n)));
    group.bench_function("dot_f32_256k", |b| {
        b.iter(|| {
            let r = dot.call(&mut store, black_box(n as i32)).unwrap();
            assert!(r > 0.0);
        });
    });
    group.bench_function("blend_u8_256k", |b| {
        b.iter(|| blend.call(&mut store, (black_box(n as i32), black_box(77))).unwrap());
    });
    group.finish();
}

fn bench_exceptions(c: &mut Criterion) {
    let engine = engine();
    let module = Module::new(&engine, wasm::EXCEPTIONS_WAT).unwrap();
    let linker = Linker::new(&engine);
    // A fresh store per batch, so that every batch starts alike (plain `catch`es free their
    // exceptions at once; kept ones would wait for a collection).
    let setup = || {
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let funcs = ["throw_catch", "throw_deep", "try_no_throw"]
            .map(|name| instance.get_typed_func::<i32, i32>(&mut store, name).unwrap());
        (store, funcs)
    };
    let mut group = c.benchmark_group("exceptions");
    group.throughput(Throughput::Elements(wasm::THROWS as u64));
    for (i, name) in ["throw_catch_1k", "throw_deep8_1k", "try_no_throw_1k"].into_iter().enumerate() {
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                setup,
                |(store, funcs)| {
                    let sum = funcs[i].call(&mut *store, black_box(wasm::THROWS)).unwrap();
                    assert_eq!(sum, wasm::THROWS * (wasm::THROWS + 1) / 2);
                },
                BatchSize::NumIterations(1000),
            );
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_call,
    bench_trap,
    bench_tail_call,
    bench_instantiate,
    bench_compile,
    bench_component,
    bench_component_typed,
    bench_resources,
    bench_simd,
    bench_exceptions
);
criterion_main!(benches);
