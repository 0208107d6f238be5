//! Precompiled modules and components (`Module::serialize` / `deserialize`, the `.cwasm`
//! format) and the on-disk compile cache.
//!
//! Round trips must behave exactly like freshly compiled code (results, traps with their
//! backtraces, memory images); a file from another configuration or kiln build must be refused
//! with an error naming the difference; truncated, bit-flipped or re-checksummed corrupt files
//! must give errors, never crashes. The cache must hit on a second compile, stay off when
//! disabled, and recover from corrupt entries.

use anyhow::{Context, Result, bail, ensure};
use kiln::component::{Component, Linker as ComponentLinker, Val as ComponentVal};
use kiln::{CacheStats, Config, Engine, Linker, Module, OptLevel, Precompiled, Store, Trap, Val, WasmBacktrace};
use libtest_mimic::{Failed, Trial};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A module exercising what precompiled code must carry: a name section (backtraces), a memory
/// image, an active element segment with `call_indirect`, globals, traps by signal (division,
/// out-of-bounds load) and by builtin (`unreachable`), and a bulk-memory builtin.
const DEMO: &str = r#"(module $demo
  (type $t (func (param i32) (result i32)))
  (memory (export "mem") 1)
  (data (i32.const 16) "hello, aot")
  (global $g (mut i32) (i32.const 7))
  (table 2 funcref)
  (elem (i32.const 0) $double $fail)
  (func $double (param i32) (result i32) local.get 0 i32.const 2 i32.mul)
  (func $fail (param i32) (result i32) local.get 0 call $inner)
  (func $inner (param i32) (result i32) unreachable)
  (func (export "call") (param i32 i32) (result i32) local.get 1 local.get 0 call_indirect (type $t))
  (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "bump") (result i32) global.get $g i32.const 1 i32.add global.set $g global.get $g)
  (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func (export "floor") (param f64) (result f64) local.get 0 f64.floor)
  (func (export "fill") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill))"#;

/// The calls [`transcript`] makes, with their arguments.
fn demo_calls() -> Vec<(&'static str, Vec<Val>)> {
    vec![
        ("call", vec![Val::I32(0), Val::I32(21)]),
        ("call", vec![Val::I32(1), Val::I32(5)]),
        ("call", vec![Val::I32(2), Val::I32(5)]),
        ("load", vec![Val::I32(16)]),
        ("load", vec![Val::I32(25)]),
        ("load", vec![Val::I32(70000)]),
        ("bump", vec![]),
        ("bump", vec![]),
        ("div", vec![Val::I32(-9), Val::I32(2)]),
        ("div", vec![Val::I32(1), Val::I32(0)]),
        ("floor", vec![Val::F64((-2.5f64).to_bits())]),
        ("fill", vec![Val::I32(65530), Val::I32(0), Val::I32(10)]),
        ("fill", vec![Val::I32(16), Val::I32(0x41), Val::I32(3)]),
        ("load", vec![Val::I32(17)]),
    ]
}

/// Runs every call of [`demo_calls`] in a fresh instance and describes each outcome: the results,
/// or the trap with the function names and wasm offsets of its backtrace.
fn transcript(engine: &Engine, module: &Module) -> Result<Vec<String>> {
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine).instantiate(&mut store, module)?;
    let mut out = Vec::new();
    for (name, args) in demo_calls() {
        let func = instance.get_func(&mut store, name).with_context(|| format!("no export `{name}`"))?;
        let mut results = vec![Val::I32(0); func.ty(&store).results().count()];
        let line = match func.call(&mut store, &args, &mut results) {
            Ok(()) => format!("{name}: ok {results:?}"),
            Err(err) => {
                let trap = err.downcast_ref::<Trap>().with_context(|| format!("{name}: not a trap: {err:?}"))?;
                let frames = err
                    .downcast_ref::<WasmBacktrace>()
                    .map(|bt| {
                        bt.frames()
                            .iter()
                            .map(|f| format!("{}@{:?}", f.func_name().unwrap_or("?"), f.module_offset()))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                format!("{name}: trap {trap:?} at {frames:?}")
            }
        };
        out.push(line);
    }
    Ok(out)
}

/// Checks a few lines of the transcript against what the spec says, so a round trip cannot pass
/// by being wrong in the same way twice.
fn check_expected(lines: &[String]) -> Result<()> {
    let expect = |i: usize, want: &str| -> Result<()> {
        ensure!(lines[i].contains(want), "line {i} `{}` should contain `{want}`", lines[i]);
        Ok(())
    };
    expect(0, "ok [I32(42)]")?;
    expect(1, "UnreachableCodeReached")?;
    expect(1, "inner@")?;
    expect(1, "fail@")?;
    expect(2, "trap")?;
    expect(3, &format!("ok [I32({})]", b'h'))?;
    expect(4, &format!("ok [I32({})]", b't'))?;
    expect(5, "MemoryOutOfBounds")?;
    expect(6, "ok [I32(8)]")?;
    expect(7, "ok [I32(9)]")?;
    expect(8, "ok [I32(-4)]")?;
    expect(9, "IntegerDivisionByZero")?;
    expect(10, &format!("ok [F64({})]", (-3.0f64).to_bits()))?;
    expect(11, "MemoryOutOfBounds")?;
    expect(13, &format!("ok [I32({})]", b'A'))?;
    Ok(())
}

fn round_trip_module() -> Result<()> {
    let engine = Engine::default();
    let module = Module::new(&engine, DEMO)?;
    let expected = transcript(&engine, &module)?;
    check_expected(&expected)?;

    let bytes = module.serialize()?;
    ensure!(Engine::detect_precompiled(&bytes) == Some(Precompiled::Module), "not detected as a module");
    // SAFETY: the bytes were just produced by `serialize`.
    let loaded = unsafe { Module::deserialize(&engine, &bytes) }?;
    ensure!(loaded.name() == Some("demo"), "module name lost: {:?}", loaded.name());
    ensure!(loaded.exports().count() == module.exports().count(), "exports differ");
    ensure!(transcript(&engine, &loaded)? == expected, "the deserialized module behaves differently");

    // Another engine with the same settings loads it too; serializing again gives the same bytes.
    let other = Engine::new(&Config::new())?;
    // SAFETY: as above.
    let in_other = unsafe { Module::deserialize(&other, &bytes) }?;
    ensure!(transcript(&other, &in_other)? == expected, "the module behaves differently in another engine");
    ensure!(in_other.serialize()? == bytes, "serialize(deserialize(x)) != x");
    ensure!(engine.precompile_module(DEMO.as_bytes())? == bytes, "precompile_module differs from serialize");
    Ok(())
}

/// GC's `i31` types and constant expressions (`ref.i31` initialising a table and a global)
/// survive `.cwasm`: the module description records the new heap types and constant operation.
fn round_trip_gc_i31() -> Result<()> {
    let mut config = Config::new();
    config.wasm_gc(true);
    let engine = Engine::new(&config)?;
    let wat = r#"(module
        (table $t 2 (ref i31) (ref.i31 (i32.const 5)))
        (global $g i31ref (ref.i31 (i32.const -3)))
        (func (export "f") (result i32)
          (i32.add (i31.get_s (global.get $g)) (i31.get_u (table.get $t (i32.const 1))))))"#;
    let bytes = Module::new(&engine, wat)?.serialize()?;
    // SAFETY: bytes this engine just produced.
    let module = unsafe { Module::deserialize(&engine, &bytes) }?;
    let mut store = Store::new(&engine, ());
    let instance = kiln::Instance::new(&mut store, &module, &[])?;
    let f = instance.get_typed_func::<(), i32>(&mut store, "f")?;
    ensure!(f.call(&mut store, ())? == 2);
    Ok(())
}

fn round_trip_through_a_file_with_fuel() -> Result<()> {
    let mut config = Config::new();
    config.consume_fuel(true).epoch_interruption(true).cranelift_opt_level(OptLevel::None);
    let engine = Engine::new(&config)?;
    let dir = TempDir::new("file")?;
    let path = dir.path().join("demo.cwasm");
    std::fs::write(&path, engine.precompile_module(DEMO.as_bytes())?)?;
    // SAFETY: written just above by `precompile_module`.
    let module = unsafe { Module::deserialize_file(&engine, &path) }?;
    let mut store = Store::new(&engine, ());
    store.set_fuel(1_000)?;
    store.set_epoch_deadline(1);
    let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
    let call = instance.get_typed_func::<(i32, i32), i32>(&mut store, "call")?;
    ensure!(call.call(&mut store, (0, 4))? == 8, "double(4) through the table");
    store.set_fuel(2)?;
    let err = call.call(&mut store, (0, 4)).err().context("2 units of fuel cannot be enough")?;
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel), "expected out of fuel, got {err:?}");
    store.set_fuel(1_000)?;
    engine.increment_epoch();
    let err = call.call(&mut store, (0, 4)).err().context("the epoch deadline has passed")?;
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::Interrupt), "expected an interrupt, got {err:?}");
    Ok(())
}

fn round_trip_component() -> Result<()> {
    let engine = Engine::default();
    let path = format!("{}/../examples/greet.wat", env!("CARGO_MANIFEST_DIR"));
    let component = Component::from_file(&engine, &path)?;
    let bytes = component.serialize()?;
    ensure!(Engine::detect_precompiled(&bytes) == Some(Precompiled::Component), "not detected as a component");
    ensure!(engine.precompile_component(&std::fs::read(&path)?)? == bytes, "precompile_component differs");
    // SAFETY: produced by `serialize` just above.
    let loaded = unsafe { Component::deserialize(&engine, &bytes) }?;
    ensure!(loaded.adapter_count() == component.adapter_count(), "adapters lost");
    ensure!(loaded.serialize()? == bytes, "serialize(deserialize(x)) != x");
    let mut store = Store::new(&engine, ());
    let instance = ComponentLinker::new(&engine).instantiate(&mut store, &loaded)?;
    let greet = instance.get_func(&mut store, "greet").context("no greet export")?;
    for name in ["kiln", "wörld 🌍", ""] {
        let mut result = [ComponentVal::Bool(false)];
        greet.call(&mut store, &[ComponentVal::String(name.into())], &mut result)?;
        let want = ComponentVal::String(format!("Hello, {name}!"));
        ensure!(result[0] == want, "greet({name:?}) gave {:?}", result[0]);
    }

    // A module file is not a component file and the other way round.
    let module_bytes = Module::new(&engine, DEMO)?.serialize()?;
    // SAFETY: kiln output; it is refused before any code is loaded.
    let err =
        unsafe { Component::deserialize(&engine, &module_bytes) }.err().context("a module loaded as component")?;
    ensure!(format!("{err:#}").contains("is a precompiled module, not a precompiled component"), "{err:#}");
    // SAFETY: as above.
    let err = unsafe { Module::deserialize(&engine, &bytes) }.err().context("a component loaded as module")?;
    ensure!(format!("{err:#}").contains("is a precompiled component, not a precompiled module"), "{err:#}");
    Ok(())
}

/// Deserializes `bytes`, expecting an error whose text contains every one of `needles`.
fn expect_refused(engine: &Engine, bytes: &[u8], needles: &[&str]) -> Result<()> {
    // SAFETY: every input here is kiln output or a corruption the checks must refuse before any
    // code runs; nothing loaded is ever called.
    match unsafe { Module::deserialize(engine, bytes) } {
        Ok(_) => bail!("loaded, but should be refused with {needles:?}"),
        Err(err) => {
            let text = format!("{err:#}");
            for needle in needles {
                ensure!(text.contains(needle), "error should mention `{needle}`: {text}");
            }
            Ok(())
        }
    }
}

fn header_mismatches_are_refused() -> Result<()> {
    let bytes = Engine::default().precompile_module(DEMO.as_bytes())?;
    let with = |f: &dyn Fn(&mut Config)| -> Result<Engine> {
        let mut config = Config::new();
        f(&mut config);
        Engine::new(&config)
    };
    let recompile = "recompile it";
    let engine = with(&|c| {
        c.cranelift_opt_level(OptLevel::None);
    })?;
    expect_refused(&engine, &bytes, &["opt_level=speed", "this engine has `opt_level=none`", recompile])?;
    let engine = with(&|c| {
        c.consume_fuel(true);
    })?;
    expect_refused(&engine, &bytes, &["codegen: compiled with `consume_fuel=false`", "consume_fuel=true", recompile])?;
    let engine = with(&|c| {
        c.epoch_interruption(true);
    })?;
    expect_refused(&engine, &bytes, &["epoch_interruption=false", recompile])?;
    let engine = with(&|c| {
        c.memory_guard_pages(false);
    })?;
    expect_refused(&engine, &bytes, &["guard_pages=true", recompile])?;
    // Found by the crash_cwasm fuzz target: this setting changes the code of relaxed SIMD
    // operators, but was not recorded, so code with host-dependent results loaded into an engine
    // that promises deterministic ones.
    let engine = with(&|c| {
        c.relaxed_simd_deterministic(true);
    })?;
    expect_refused(&engine, &bytes, &["relaxed_simd_deterministic=false", recompile])?;
    let engine = with(&|c| {
        c.wasm_multi_memory(false);
    })?;
    expect_refused(&engine, &bytes, &["wasm features", recompile])?;

    // Settings that only matter at run time do not make a file incompatible.
    let engine = with(&|c| {
        c.max_wasm_stack(256 * 1024).max_memory_size(1 << 20);
    })?;
    // SAFETY: kiln output for an engine with the same code-generation settings.
    unsafe { Module::deserialize(&engine, &bytes) }.context("runtime-only settings must not matter")?;

    // A file from another kiln build: change one character of the recorded build id.
    let engine = Engine::default();
    let at = find(&bytes, b"(build ").context("no build id in the header")? + b"(build ".len();
    let mut other_build = bytes.clone();
    other_build[at] = if other_build[at] == b'0' { b'1' } else { b'0' };
    expect_refused(&engine, &other_build, &["compiled by kiln", "this engine (kiln", "different kiln", recompile])?;

    // Another format version, a wasm binary, and something else entirely.
    let mut other_format = bytes.clone();
    other_format[8] = 99;
    expect_refused(&engine, &other_format, &["format version 99", recompile])?;
    let wasm = wat::parse_str(DEMO)?;
    expect_refused(&engine, &wasm, &["WebAssembly binary", "compile it"])?;
    expect_refused(&engine, b"#!/bin/sh\necho hi\n", &["not a precompiled module"])?;
    Ok(())
}

/// Where the payload and its checksum are, from the documented layout.
fn payload_layout(bytes: &[u8]) -> Result<(usize, Range<usize>)> {
    let mut pos = 8 + 4 + 1;
    let u32_at = |p: usize| u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
    let u64_at = |p: usize| u64::from_le_bytes(bytes[p..p + 8].try_into().unwrap()) as usize;
    let fields = u32_at(pos);
    pos += 4;
    for _ in 0..fields * 2 {
        pos += 8 + u64_at(pos);
    }
    let len = u64_at(pos);
    let checksum = pos + 8;
    let payload = checksum + 8..checksum + 8 + len;
    ensure!(payload.end == bytes.len(), "layout mismatch: payload {payload:?} in {} bytes", bytes.len());
    Ok((checksum, payload))
}

/// Rewrites the payload-length field and checksum after a change to the payload.
fn reseal(bytes: &mut [u8], checksum_at: usize) {
    let payload_len = (bytes.len() - checksum_at - 8) as u64;
    bytes[checksum_at - 8..checksum_at].copy_from_slice(&payload_len.to_le_bytes());
    let checksum = kiln::precompiled_checksum(bytes, checksum_at + 8);
    bytes[checksum_at..checksum_at + 8].copy_from_slice(&checksum.to_le_bytes());
}

fn truncated_and_corrupt_files_are_errors() -> Result<()> {
    let engine = Engine::default();
    let bytes = engine.precompile_module(DEMO.as_bytes())?;
    for len in 0..bytes.len() {
        expect_refused(&engine, &bytes[..len], &[]).with_context(|| format!("truncated to {len} bytes"))?;
    }
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        expect_refused(&engine, &flipped, &[]).with_context(|| format!("bit {bit} flipped"))?;
    }
    let mut extra = bytes.clone();
    extra.push(0);
    expect_refused(&engine, &extra, &["the payload should be"])?;

    // A corrupt payload whose checksum was recomputed gets past the checksum: the decoder must
    // still refuse truncation and inconsistent metadata (and never crash on the rest). Nothing
    // loaded from a mutated file is run: its code bytes may be garbage.
    let (checksum_at, payload) = payload_layout(&bytes)?;
    for cut in 1..payload.len() {
        let mut truncated = bytes[..bytes.len() - cut].to_vec();
        reseal(&mut truncated, checksum_at);
        expect_refused(&engine, &truncated, &["corrupt"]).with_context(|| format!("payload cut by {cut}"))?;
    }
    let mut rng = 0x5eed_u64;
    let mut next = move |n: usize| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) as usize % n
    };
    let mut refused = 0;
    for _ in 0..2_000 {
        let mut mutated = bytes.clone();
        for _ in 0..1 + next(4) {
            let at = payload.start + next(payload.len());
            mutated[at] = next(256) as u8;
        }
        reseal(&mut mutated, checksum_at);
        // SAFETY: the result is dropped without running any of its code.
        if unsafe { Module::deserialize(&engine, &mutated) }.is_err() {
            refused += 1;
        }
    }
    // Mutations of the machine code itself cannot be detected; most others are.
    ensure!(refused > 0, "no payload mutation was refused");
    Ok(())
}

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<TempDir> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kiln-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn cached_engine(dir: &Path, fuel: bool) -> Result<Engine> {
    let mut config = Config::new();
    config.cache(Some(dir.to_path_buf())).consume_fuel(fuel);
    Engine::new(&config)
}

fn stats(hits: u64, misses: u64, corrupt_entries: u64, write_errors: u64) -> CacheStats {
    CacheStats { hits, misses, corrupt_entries, write_errors }
}

fn cache_hits_on_the_second_compile() -> Result<()> {
    let dir = TempDir::new("cache-hit")?;
    let engine = cached_engine(dir.path(), false)?;
    let first = Module::new(&engine, DEMO)?;
    ensure!(engine.cache_stats() == stats(0, 1, 0, 0), "first compile: {:?}", engine.cache_stats());
    let entries = files_in(dir.path());
    ensure!(entries.len() == 1, "expected one cache entry, found {entries:?}");
    let written = std::fs::metadata(&entries[0])?.modified()?;

    let second = Module::new(&engine, DEMO)?;
    ensure!(engine.cache_stats() == stats(1, 1, 0, 0), "second compile: {:?}", engine.cache_stats());
    let expected = transcript(&engine, &first)?;
    check_expected(&expected)?;
    ensure!(transcript(&engine, &second)? == expected, "the cached module behaves differently");

    // A new engine (a new process, in effect) with the same settings reuses the entry as it is.
    let fresh = cached_engine(dir.path(), false)?;
    let third = Module::new(&fresh, DEMO)?;
    ensure!(fresh.cache_stats() == stats(1, 0, 0, 0), "fresh engine: {:?}", fresh.cache_stats());
    ensure!(transcript(&fresh, &third)? == expected, "the cached module behaves differently in a new engine");
    ensure!(files_in(dir.path()) == entries, "the cache entry was replaced");
    ensure!(std::fs::metadata(&entries[0])?.modified()? == written, "the cache entry was rewritten");

    // Other settings or other bytes are other entries.
    let fueled = cached_engine(dir.path(), true)?;
    Module::new(&fueled, DEMO)?;
    Module::new(&engine, "(module (func (export \"f\")))")?;
    ensure!(fueled.cache_stats() == stats(0, 1, 0, 0), "fuel engine: {:?}", fueled.cache_stats());
    ensure!(files_in(dir.path()).len() == 3, "expected three entries: {:?}", files_in(dir.path()));
    ensure!(!files_in(dir.path()).iter().any(|p| p.to_string_lossy().ends_with(".tmp")), "temporary files left behind");

    // Component core modules go through the cache too.
    let greet = format!("{}/../examples/greet.wat", env!("CARGO_MANIFEST_DIR"));
    Component::from_file(&fresh, &greet)?;
    let after_first = fresh.cache_stats();
    Component::from_file(&fresh, &greet)?;
    let after_second = fresh.cache_stats();
    ensure!(after_second.misses == after_first.misses, "second component compile missed: {after_second:?}");
    ensure!(after_second.hits > after_first.hits, "second component compile did not hit: {after_second:?}");
    Ok(())
}

fn cache_disabled_writes_nothing() -> Result<()> {
    let dir = TempDir::new("cache-off")?;
    let mut config = Config::new();
    config.cache(Some(dir.path().to_path_buf())).cache(None);
    let engine = Engine::new(&config)?;
    Module::new(&engine, DEMO)?;
    Module::new(&engine, DEMO)?;
    ensure!(engine.cache_stats() == CacheStats::default(), "cache used while off: {:?}", engine.cache_stats());
    ensure!(files_in(dir.path()).is_empty(), "files written while the cache is off: {:?}", files_in(dir.path()));
    let default = Engine::default();
    Module::new(&default, DEMO)?;
    ensure!(default.cache_stats() == CacheStats::default(), "the cache must be off by default");
    Ok(())
}

fn cache_recovers_from_corrupt_entries() -> Result<()> {
    let dir = TempDir::new("cache-corrupt")?;
    Module::new(&cached_engine(dir.path(), false)?, DEMO)?;
    let entry = files_in(dir.path()).pop().context("no cache entry written")?;
    let good = std::fs::read(&entry)?;
    let corruptions: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("bit flip", {
            let mut b = good.clone();
            let last = b.len() - 1;
            b[last] ^= 0x10;
            b
        }),
        ("garbage", b"not a cache entry at all".to_vec()),
        ("a module file", Engine::default().precompile_module(DEMO.as_bytes())?),
    ];
    for (what, bytes) in corruptions {
        std::fs::write(&entry, &bytes)?;
        let engine = cached_engine(dir.path(), false)?;
        let module = Module::new(&engine, DEMO).with_context(|| format!("compiling over a {what} entry"))?;
        ensure!(engine.cache_stats() == stats(0, 1, 1, 0), "{what}: {:?}", engine.cache_stats());
        check_expected(&transcript(&engine, &module)?).with_context(|| format!("after a {what} entry"))?;
        ensure!(std::fs::read(&entry)? == good, "{what}: the entry was not rewritten");
    }
    // A directory where the entry should be cannot be read or replaced: compiling still works.
    std::fs::remove_file(&entry)?;
    std::fs::create_dir(&entry)?;
    let engine = cached_engine(dir.path(), false)?;
    Module::new(&engine, DEMO)?;
    ensure!(engine.cache_stats() == stats(0, 1, 1, 1), "entry is a directory: {:?}", engine.cache_stats());
    Ok(())
}

fn cache_in_an_unusable_directory_still_compiles() -> Result<()> {
    let dir = TempDir::new("cache-unusable")?;
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory")?;
    let engine = cached_engine(&file.join("cache"), false)?;
    let module = Module::new(&engine, DEMO)?;
    check_expected(&transcript(&engine, &module)?)?;
    ensure!(engine.cache_stats() == stats(0, 1, 1, 1), "{:?}", engine.cache_stats());
    Ok(())
}

/// Cache entries are zstd-compressed by default and plain with `cache_compression(None)`; each
/// kind is read by an engine of either setting, and a large compressed entry (several frames,
/// decompressed in parallel) loads and runs; damage to its frames is a corrupt entry, replaced.
fn cache_entries_compressed_or_not() -> Result<()> {
    // 9 MiB of data: several frames, compressible as code is.
    let contents: Vec<u8> = (0..9usize << 20).map(|i| ((i / 64) % 251) as u8 | 1).collect();
    let wasm = {
        use wasm_encoder::{
            CodeSection, ConstExpr, DataSection, ExportKind, ExportSection, Function, FunctionSection, MemArg,
            MemArgTarget, MemorySection, MemoryType, TypeSection, ValType,
        };
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32], [ValType::I32]);
        let mut functions = FunctionSection::new();
        functions.function(0);
        let mut memories = MemorySection::new();
        let ty = MemoryType { minimum: 160, maximum: None, memory64: false, shared: false, page_size_log2: None };
        memories.memory(ty);
        let mut exports = ExportSection::new();
        exports.export("read", ExportKind::Func, 0);
        let mut code = CodeSection::new();
        let mut read = Function::new([]);
        read.instructions()
            .local_get(0)
            .i32_load8_u(MemArg { offset: 0, align: 0, target: MemArgTarget::Memory(0), ordering: None })
            .end();
        code.function(&read);
        let mut data = DataSection::new();
        data.active(0, &ConstExpr::i32_const(0), contents.iter().copied());
        let mut module = wasm_encoder::Module::new();
        module.section(&types).section(&functions).section(&memories).section(&exports).section(&code).section(&data);
        module.finish()
    };
    let engine_with = |dir: &Path, level: Option<i32>| -> Result<Engine> {
        let mut config = Config::new();
        config.cache(Some(dir.to_path_buf())).cache_compression(level);
        Engine::new(&config)
    };
    let read_back = |engine: &Engine, module: &Module| -> Result<()> {
        let mut store = Store::new(engine, ());
        let instance = Linker::new(engine).instantiate(&mut store, module)?;
        let read = instance.get_typed_func::<i32, i32>(&mut store, "read")?;
        for probe in [0, 4 << 20, (9 << 20) - 1] {
            ensure!(read.call(&mut store, probe as i32)? == i32::from(contents[probe]), "byte {probe}");
        }
        Ok(())
    };
    let serialized = Module::new(&Engine::default(), &wasm)?.serialize()?;
    for (level, compressed) in [(Some(3), true), (None, false)] {
        let dir = TempDir::new("cache-compression")?;
        Module::new(&engine_with(dir.path(), level)?, &wasm)?;
        let entry = files_in(dir.path()).pop().context("no cache entry written")?;
        let bytes = std::fs::read(&entry)?;
        ensure!(bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) == compressed, "{level:?}: wrong kind of entry");
        if compressed {
            ensure!(bytes.len() * 2 < serialized.len(), "{} bytes compressed from {}", bytes.len(), serialized.len());
        } else {
            ensure!(bytes.len() >= serialized.len(), "an uncompressed entry of {} bytes", bytes.len());
        }
        // Read back by engines of both settings.
        for reader in [Some(3), None] {
            let engine = engine_with(dir.path(), reader)?;
            let module = Module::new(&engine, &wasm)?;
            ensure!(
                engine.cache_stats() == stats(1, 0, 0, 0),
                "{level:?} read by {reader:?}: {:?}",
                engine.cache_stats()
            );
            read_back(&engine, &module)?;
        }
        if !compressed {
            continue;
        }
        // Damage in a middle frame, or a frame cut short: a corrupt entry, replaced.
        let damaged = [
            {
                let mut b = bytes.clone();
                b[bytes.len() / 2] ^= 0x04;
                b
            },
            bytes[..bytes.len() - 1000].to_vec(),
        ];
        for (i, damage) in damaged.into_iter().enumerate() {
            std::fs::write(&entry, &damage)?;
            let engine = engine_with(dir.path(), level)?;
            let module = Module::new(&engine, &wasm)?;
            ensure!(engine.cache_stats() == stats(0, 1, 1, 0), "damage {i}: {:?}", engine.cache_stats());
            read_back(&engine, &module)?;
            ensure!(std::fs::read(&entry)? == bytes, "damage {i}: the entry was not rewritten");
        }
    }
    Ok(())
}

/// A module whose memory image holds `len` bytes of a pattern at address 0 (`read(a)` loads the
/// byte at `a`), precompiled.
fn image_module(engine: &Engine, len: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    let contents: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8 | 1).collect();
    let pages = len.div_ceil(65536) + 1;
    let hex: String = contents.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module (memory {pages}) (data (i32.const 0) "{hex}")
             (func (export "read") (param i32) (result i32) (i32.load8_u (local.get 0))))"#
    );
    Ok((engine.precompile_module(wat.as_bytes())?, contents))
}

/// Memory images are checked against their chunk hashes at load (a large one on another thread,
/// while the rest of the module loads): damage anywhere in one is refused, from bytes and from a
/// mapped file, and an intact image reads back exactly.
fn memory_images_are_checked_at_load() -> Result<()> {
    let engine = Engine::default();
    let dir = TempDir::new("aot-images")?;
    // 256 KiB is checked inline, 3 MiB on the helper thread.
    for len in [256 << 10, 3 << 20] {
        let (bytes, contents) = image_module(&engine, len)?;
        let at = find(&bytes, &contents[..64]).context("the image is not stored whole")?;
        let path = dir.path().join(format!("image-{len}.cwasm"));
        std::fs::write(&path, &bytes)?;
        // SAFETY: kiln's own output for this engine.
        for module in
            [unsafe { Module::deserialize(&engine, &bytes) }?, unsafe { Module::deserialize_file(&engine, &path) }?]
        {
            let mut store = Store::new(&engine, ());
            let instance = Linker::new(&engine).instantiate(&mut store, &module)?;
            let read = instance.get_typed_func::<i32, i32>(&mut store, "read")?;
            for probe in [0, 1, len / 2, len - 1] {
                ensure!(read.call(&mut store, probe as i32)? == i32::from(contents[probe]), "{len}: byte {probe}");
            }
        }
        for offset in [0, len / 2 + 7, len - 1] {
            let mut flipped = bytes.clone();
            flipped[at + offset] ^= 0x10;
            std::fs::write(&path, &flipped)?;
            // SAFETY: refused before any code runs.
            let errors = [
                unsafe { Module::deserialize(&engine, &flipped) }.err(),
                unsafe { Module::deserialize_file(&engine, &path) }.err(),
            ];
            for err in errors {
                let err = err.with_context(|| format!("{len}: a flipped image byte at {offset} loaded"))?;
                ensure!(format!("{err:#}").contains("memory image"), "{len}, {offset}: {err:#}");
            }
        }
    }
    Ok(())
}

/// `needle`'s first position in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn trials() -> Vec<Trial> {
    type Test = fn() -> Result<()>;
    let tests: [(&str, Test); 12] = [
        ("cache_entries_compressed_or_not", cache_entries_compressed_or_not),
        ("memory_images_are_checked_at_load", memory_images_are_checked_at_load),
        ("round_trip_module", round_trip_module),
        ("round_trip_gc_i31", round_trip_gc_i31),
        ("round_trip_through_a_file_with_fuel", round_trip_through_a_file_with_fuel),
        ("round_trip_component", round_trip_component),
        ("header_mismatches_are_refused", header_mismatches_are_refused),
        ("truncated_and_corrupt_files_are_errors", truncated_and_corrupt_files_are_errors),
        ("cache_hits_on_the_second_compile", cache_hits_on_the_second_compile),
        ("cache_disabled_writes_nothing", cache_disabled_writes_nothing),
        ("cache_recovers_from_corrupt_entries", cache_recovers_from_corrupt_entries),
        ("cache_in_an_unusable_directory_still_compiles", cache_in_an_unusable_directory_still_compiles),
    ];
    tests
        .into_iter()
        .map(|(name, f)| Trial::test(format!("aot::{name}"), move || f().map_err(|e| Failed::from(format!("{e:?}")))))
        .collect()
}
