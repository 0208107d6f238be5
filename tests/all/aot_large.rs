//! A large generated module (tens of thousands of functions, each with an exception handler)
//! through every way precompiled code travels: `Module::serialize` / `deserialize`, a mapped
//! `.cwasm` file (`deserialize_file`), and the compile cache. Each copy must compute what the
//! fresh compile computes (calls through a table of every function, caught exceptions, memory
//! image and passive data, traps with named backtraces), and damaged copies of the big file must
//! be refused.

use crate::aot::{TempDir, files_in};
use anyhow::{Context, Result, ensure};
use kiln::{Config, Engine, Linker, Module, Store, Trap, WasmBacktrace};
use libtest_mimic::{Failed, Trial};
use std::borrow::Cow;
use wasm_encoder::{
    BlockType, Catch, CodeSection, ConstExpr, DataCountSection, DataSection, ElementSection, Elements, ExportKind,
    ExportSection, Function, FunctionSection, MemArg, MemArgTarget, MemorySection, MemoryType, Module as Encoded,
    NameMap, NameSection, RefType, TableSection, TableType, TagKind, TagSection, TagType, TypeSection, ValType,
};

/// Defined functions besides the leaf and the helpers.
const FUNCS: u32 = 20_000;
/// Index of the first `f` function (0 is the leaf).
const FIRST: u32 = 1;
const IMAGE: &[u8] = b"kiln large module";
const PASSIVE: &[u8] = b"passive bytes";

/// The module: `leaf(x)` traps for x = -1, throws `2x` for x % 7 == 3 and returns x + 1 otherwise;
/// `f{i}(x)` calls the leaf inside a `try_table` and returns its result plus i, or the thrown
/// value plus 100000; `dispatch(i, x)` calls `f{i}` through a table holding every `f`; `read(a)`
/// loads a byte; `passive(a)` copies the passive segment to `a` and reads its first byte back.
pub fn generate(funcs: u32) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    types.ty().function([ValType::I32], []);
    types.ty().function([ValType::I32, ValType::I32], [ValType::I32]);
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    let mut names = NameMap::new();

    let mut leaf = Function::new([]);
    leaf.instructions()
        .local_get(0)
        .i32_const(-1)
        .i32_eq()
        .if_(BlockType::Empty)
        .unreachable()
        .end()
        .local_get(0)
        .i32_const(7)
        .i32_rem_s()
        .i32_const(3)
        .i32_eq()
        .if_(BlockType::Empty)
        .local_get(0)
        .i32_const(2)
        .i32_mul()
        .throw(0)
        .end()
        .local_get(0)
        .i32_const(1)
        .i32_add()
        .end();
    functions.function(0);
    code.function(&leaf);
    names.append(0, "leaf");
    for i in 0..funcs {
        let mut f = Function::new([]);
        f.instructions()
            .block(BlockType::Result(ValType::I32))
            .try_table(BlockType::Result(ValType::I32), [Catch::One { tag: 0, label: 0 }])
            .local_get(0)
            .call(0)
            .i32_const(i as i32)
            .i32_add()
            .end()
            .return_()
            .end()
            .i32_const(100_000)
            .i32_add()
            .end();
        functions.function(0);
        code.function(&f);
        names.append(FIRST + i, &format!("f{i}"));
    }
    let dispatch_index = FIRST + funcs;
    let mut dispatch = Function::new([]);
    dispatch.instructions().local_get(1).local_get(0).call_indirect(0, 0).end();
    functions.function(2);
    code.function(&dispatch);
    names.append(dispatch_index, "dispatch");
    let mem = MemArg { offset: 0, align: 0, target: MemArgTarget::Memory(0), ordering: None };
    let mut read = Function::new([]);
    read.instructions().local_get(0).i32_load8_u(mem).end();
    functions.function(0);
    code.function(&read);
    let mut passive = Function::new([]);
    passive
        .instructions()
        .local_get(0)
        .i32_const(0)
        .i32_const(PASSIVE.len() as i32)
        .memory_init(0, 1)
        .local_get(0)
        .i32_load8_u(mem)
        .end();
    functions.function(0);
    code.function(&passive);

    let mut tables = TableSection::new();
    let size = u64::from(funcs);
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: size,
        maximum: Some(size),
        shared: false,
    });
    let mut memories = MemorySection::new();
    memories.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
    let mut tags = TagSection::new();
    tags.tag(TagType { kind: TagKind::Exception, func_type_idx: 1 });
    let mut exports = ExportSection::new();
    exports.export("dispatch", ExportKind::Func, dispatch_index);
    exports.export("read", ExportKind::Func, dispatch_index + 1);
    exports.export("passive", ExportKind::Func, dispatch_index + 2);
    exports.export("memory", ExportKind::Memory, 0);
    let mut elements = ElementSection::new();
    let all: Vec<u32> = (FIRST..FIRST + funcs).collect();
    elements.active(None, &ConstExpr::i32_const(0), Elements::Functions(Cow::Borrowed(&all)));
    let mut data = DataSection::new();
    data.active(0, &ConstExpr::i32_const(64), IMAGE.iter().copied());
    data.passive(PASSIVE.iter().copied());
    let mut name_section = NameSection::new();
    name_section.module("large");
    name_section.functions(&names);

    let mut module = Encoded::new();
    module
        .section(&types)
        .section(&functions)
        .section(&tables)
        .section(&memories)
        .section(&tags)
        .section(&exports)
        .section(&elements)
        .section(&DataCountSection { count: 2 })
        .section(&code)
        .section(&data)
        .section(&name_section);
    module.finish()
}

/// The position of the last byte of the (last) code blob of a precompiled file, from the
/// payload's trailer: its last 4 bytes count the blobs, each listed before as (start, end) u64s.
pub fn last_code_byte(file: &[u8]) -> Result<usize> {
    let u64_at = |p: usize| u64::from_le_bytes(file[p..p + 8].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(file[file.len() - 4..].try_into().unwrap());
    ensure!(count > 0, "the file lists no code");
    let end = u64_at(file.len() - 4 - 8);
    ensure!(end > 0 && end <= file.len(), "bad code end {end}");
    Ok(end - 1)
}

/// What `f{i}(x)` returns.
fn expected(i: u32, x: i32) -> i32 {
    if x % 7 == 3 { 2 * x + 100_000 } else { x + 1 + i as i32 }
}

/// Runs a sample of calls on `module` and checks each result, the data, and a trap's backtrace.
fn check(engine: &Engine, module: &Module, what: &str) -> Result<()> {
    let mut store = Store::new(engine, ());
    let instance =
        Linker::new(engine).instantiate(&mut store, module).with_context(|| format!("{what}: instantiate"))?;
    let dispatch = instance.get_typed_func::<(i32, i32), i32>(&mut store, "dispatch")?;
    for i in (0..FUNCS).step_by(997).chain([FUNCS - 1]) {
        for x in [5, 10, 17] {
            let got = dispatch.call(&mut store, (i as i32, x)).with_context(|| format!("{what}: f{i}({x})"))?;
            ensure!(got == expected(i, x), "{what}: f{i}({x}) = {got}, expected {}", expected(i, x));
        }
    }
    let read = instance.get_typed_func::<i32, i32>(&mut store, "read")?;
    ensure!(read.call(&mut store, 64)? == i32::from(IMAGE[0]), "{what}: the memory image is missing");
    let passive = instance.get_typed_func::<i32, i32>(&mut store, "passive")?;
    ensure!(passive.call(&mut store, 1000)? == i32::from(PASSIVE[0]), "{what}: the passive segment is wrong");
    let last = FUNCS - 1;
    let err = dispatch.call(&mut store, (last as i32, -1)).err().with_context(|| format!("{what}: no trap"))?;
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::UnreachableCodeReached), "{what}: {err:?}");
    let frames: Vec<String> = err
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| bt.frames().iter().map(|f| f.func_name().unwrap_or("?").to_string()).collect())
        .unwrap_or_default();
    ensure!(
        frames.first().map(String::as_str) == Some("leaf") && frames.get(1) == Some(&format!("f{last}")),
        "{what}: backtrace {frames:?}"
    );
    ensure!(
        err.downcast_ref::<WasmBacktrace>().and_then(|bt| bt.frames()[0].module_offset()).is_some(),
        "{what}: the trap has no wasm offset"
    );
    Ok(())
}

fn large_module_round_trips() -> Result<()> {
    let wasm = generate(FUNCS);
    let engine = Engine::default();
    let fresh = Module::new(&engine, &wasm)?;
    check(&engine, &fresh, "fresh compile")?;

    let bytes = fresh.serialize()?;
    // SAFETY: kiln's own output for this engine.
    let loaded = unsafe { Module::deserialize(&engine, &bytes) }?;
    check(&engine, &loaded, "deserialized")?;
    ensure!(loaded.serialize()? == bytes, "a loaded module serializes differently");

    let dir = TempDir::new("aot-large")?;
    let path = dir.path().join("large.cwasm");
    std::fs::write(&path, &bytes)?;
    // SAFETY: as above; nothing modifies the file while the module lives.
    let mapped = unsafe { Module::deserialize_file(&engine, &path) }?;
    check(&engine, &mapped, "mapped file")?;
    ensure!(mapped.serialize()? == bytes, "a mapped module serializes differently");
    drop((loaded, mapped));

    // Damage to the big file: cut anywhere, or a flipped bit in the code (its last byte).
    for cut in [100, 4096, bytes.len() / 3, bytes.len() - 100] {
        std::fs::write(&path, &bytes[..cut])?;
        // SAFETY: refused before any code runs.
        let err = unsafe { Module::deserialize_file(&engine, &path) }.err().context("a truncated file loaded")?;
        ensure!(format!("{err:#}").contains("truncated or corrupt"), "cut at {cut}: {err:#}");
    }
    // A flipped bit in the description is refused at load; one in mapped code is found when its
    // chunk is first run, which traps (below), and one in copied code is refused at load.
    let mut flipped = bytes.clone();
    let at = crate::aot::find(&bytes, b"dispatch").context("no export name in the file")?;
    flipped[at] ^= 0x40;
    std::fs::write(&path, &flipped)?;
    // SAFETY: refused by the checksum before any code runs.
    let err = unsafe { Module::deserialize_file(&engine, &path) }.err().context("a flipped bit loaded")?;
    ensure!(format!("{err:#}").contains("checksum does not match"), "{err:#}");
    let mut flipped = bytes.clone();
    flipped[last_code_byte(&bytes)?] ^= 0x40;
    // SAFETY: copied code is checked as a whole before it is published.
    let err = unsafe { Module::deserialize(&engine, &flipped) }.err().context("flipped code loaded")?;
    ensure!(format!("{err:#}").contains("checksum of the code"), "{err:#}");

    // Mapped from a file, the last chunk of the code is checked at load (its page may hold the
    // tables that follow, which must stay readable), so the flipped last byte is refused.
    std::fs::write(&path, &flipped)?;
    // SAFETY: refused before any code runs.
    let err = unsafe { Module::deserialize_file(&engine, &path) }.err().context("flipped last chunk loaded")?;
    ensure!(format!("{err:#}").contains("checksum of the code"), "{err:#}");

    // A flipped byte in an earlier chunk: the module loads (those chunks are checked when first
    // touched), and running a function of the corrupt chunk is a trap, every time, and the host
    // goes on. The functions come in order, `dispatch` last, so a chunk three before the end
    // holds some of the last functions: the first that traps is in it.
    let mut flipped = bytes.clone();
    flipped[last_code_byte(&bytes)? - 3 * kiln_environ::CHECK_CHUNK] ^= 0x40;
    std::fs::write(&path, &flipped)?;
    // SAFETY: the corrupt chunk is never executed: it stays inaccessible and traps.
    let corrupt = unsafe { Module::deserialize_file(&engine, &path) }?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &corrupt)?;
    let dispatch = instance.get_typed_func::<(i32, i32), i32>(&mut store, "dispatch")?;
    let mut corrupt_func = None;
    for i in (0..FUNCS).rev() {
        match dispatch.call(&mut store, (i as i32, 1)) {
            Ok(got) => ensure!(got == expected(i, 1), "f{i}(1) = {got} from an intact chunk"),
            Err(err) => {
                ensure!(err.downcast_ref::<Trap>() == Some(&Trap::CorruptCode), "f{i}: {err:?}");
                corrupt_func = Some(i);
                break;
            }
        }
    }
    let i = corrupt_func.context("no function of the corrupt chunk trapped")?;
    let err = dispatch.call(&mut store, (i as i32, 1)).err().context("corrupt code ran the second time")?;
    ensure!(err.downcast_ref::<Trap>() == Some(&Trap::CorruptCode), "{err:?}");
    ensure!(format!("{err:#}").contains("precompiled code is corrupt"), "{err:#}");
    drop((instance, store, corrupt));
    // The host goes on: the intact file loads and runs.
    std::fs::write(&path, &bytes)?;
    // SAFETY: kiln's own output, unmodified.
    check(&engine, &unsafe { Module::deserialize_file(&engine, &path) }?, "mapped again after a corrupt one")?;

    let cache = TempDir::new("aot-large-cache")?;
    let mut config = Config::new();
    config.cache(Some(cache.path().to_path_buf()));
    let cached = Engine::new(&config)?;
    let first = Module::new(&cached, &wasm)?;
    check(&cached, &first, "first cached compile")?;
    ensure!(files_in(cache.path()).len() == 1, "one cache entry expected");
    let hit = Module::new(&Engine::new(&config)?, &wasm)?;
    ensure!(hit.engine().cache_stats().hits == 1, "no cache hit: {:?}", hit.engine().cache_stats());
    check(hit.engine(), &hit, "cache hit")?;
    Ok(())
}

pub fn trials() -> Vec<Trial> {
    vec![Trial::test("aot::large_module_round_trips", || {
        large_module_round_trips().map_err(|e| Failed::from(format!("{e:?}")))
    })]
}
