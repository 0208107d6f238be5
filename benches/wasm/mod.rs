//! Wasm inputs shared by the kiln benchmarks and the wasmtime comparison suite in
//! `bench-compare/`. Both suites include this file with `#[path = ...]`, so they measure exactly
//! the same modules.

#![allow(dead_code)]

use std::fmt::Write;

/// Exports `nop`, `add`, `call_host_n` (calls the import `host.inc` N times) and `trap`.
pub const CALL_WAT: &str = include_str!("call.wat");

/// Exports `even_odd(n) -> i32` (mutual tail recursion) and `dispatch(n) -> i64` (handlers chained
/// with `return_call_indirect`), n tail calls each.
pub const TAIL_CALL_WAT: &str = include_str!("tail_call.wat");

/// A small module with one import (`host.log`), a memory, a table, globals and a few functions.
pub const INSTANTIATE_SMALL_WAT: &str = include_str!("instantiate_small.wat");

/// A component exporting `nop: func()`, `add: func(a: u32, b: u32) -> u32` and
/// `take: func(s: string) -> u32` (the string's length; memory, `realloc` and a post-return
/// that resets the allocator).
pub const COMPONENT_HOST_WAT: &str = include_str!("component_host.wat");

/// Two components composed in one: the outer export `run: func(len: u32) -> u32` makes the
/// caller component pass `len` bytes of its memory as a list<u8> to the callee's
/// `consume: func(data: list<u8>) -> u32` through a fused adapter.
pub const COMPONENT_FUSED_WAT: &str = include_str!("component_fused.wat");

/// Resource handles (see the file): exports `new-drop(n)`, `own-through-adapter(n)` and
/// `host-method(n)`, each n operations; imports the host resource `counter` with
/// `[constructor]counter` and `[method]counter.inc`.
pub const COMPONENT_RESOURCES_WAT: &str = include_str!("component_resources.wat");

/// Operations per call of the resource benchmarks.
pub const RESOURCE_OPS: u32 = 1000;

/// SIMD kernels (`init_f32`, `dot_f32`, `blend_u8`) over arrays of [`SIMD_BYTES`] bytes.
pub const SIMD_WAT: &str = include_str!("simd.wat");

/// Exception kernels: `throw_catch(n)`, `throw_deep(n)` (through 8 frames) and `try_no_throw(n)`,
/// each returning a checksum.
pub const EXCEPTIONS_WAT: &str = include_str!("exceptions.wat");

/// Exceptions thrown per iteration of the `exceptions/throw_*` benchmarks.
pub const THROWS: i32 = 1000;

/// The size in bytes of each array of the `simd/*` benchmarks.
pub const SIMD_BYTES: u32 = 256 * 1024;

/// The list length of the `component/fused_call_list_u8_64k` benchmark.
pub const FUSED_LIST_LEN: u32 = 64 * 1024;

/// The length of the string passed by `component/host_to_component_string_1k`.
pub const STRING_LEN: usize = 1024;

/// How many times `call_host_n` calls the host per benchmark iteration.
pub const HOST_CALLS_PER_ITER: u32 = 1000;

/// How many functions the generated large module defines.
pub const LARGE_FUNCS: usize = 2000;

/// Bytes in the active data segment of [`data_16mib_wat`]'s module.
pub const DATA_16MIB_BYTES: usize = 16 << 20;

/// Pages of [`data_16mib_wat`]'s memory: the data plus one page.
pub const DATA_16MIB_PAGES: u32 = (DATA_16MIB_BYTES >> 16) as u32 + 1;

/// Generates the WAT text of a module with one memory of [`DATA_16MIB_PAGES`] pages whose first
/// [`DATA_16MIB_BYTES`] bytes come from one active data segment of non-zero bytes (lowercase
/// letters from [`Lcg`], which need no escaping in a WAT string). It exports
/// `touch() -> i32`, which writes one byte in each 64 KiB page of the data (the first write to a
/// copy-on-write page) and returns the sum of the bytes it replaced, so the caller can check the
/// segment really was there.
pub fn data_16mib_wat() -> String {
    let mut rng = Lcg(0x6461_7461_3136_6d62);
    let mut out = String::with_capacity(DATA_16MIB_BYTES + 1024);
    writeln!(out, "(module\n  (memory (export \"memory\") {DATA_16MIB_PAGES})").unwrap();
    out.push_str("  (func (export \"touch\") (result i32) (local $addr i32) (local $sum i32)\n");
    out.push_str("    loop $pages\n");
    out.push_str("      (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get $addr))))\n");
    out.push_str("      (i32.store8 (local.get $addr) (i32.const 0xff))\n");
    out.push_str("      (local.set $addr (i32.add (local.get $addr) (i32.const 0x10000)))\n");
    writeln!(out, "      (br_if $pages (i32.lt_u (local.get $addr) (i32.const {DATA_16MIB_BYTES})))").unwrap();
    out.push_str("    end\n    local.get $sum)\n");
    out.push_str("  (data (i32.const 0) \"");
    for _ in 0..DATA_16MIB_BYTES {
        out.push(char::from(b'a' + rng.below(26) as u8));
    }
    out.push_str("\")\n)\n");
    out
}

/// The sum `touch` of [`data_16mib_wat`]'s module returns on a fresh instance: the segment's
/// byte at the start of each 64 KiB page.
pub fn data_16mib_touch_sum() -> i32 {
    let mut rng = Lcg(0x6461_7461_3136_6d62);
    let mut sum = 0i32;
    for i in 0..DATA_16MIB_BYTES {
        let byte = i32::from(b'a' + rng.below(26) as u8);
        if i % 0x10000 == 0 {
            sum += byte;
        }
    }
    sum
}

/// A small deterministic pseudo-random generator (64-bit LCG); the large module is the same on
/// every run and in both suites.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// Generates the WAT text of a large module: [`LARGE_FUNCS`] functions of type
/// `(i32, i32) -> i32` whose bodies mix integer and float arithmetic, memory accesses, globals,
/// structured control flow, direct and indirect calls, and `br_table`.
pub fn large_module_wat() -> String {
    let mut rng = Lcg(0x6b69_6c6e_6265_6e63);
    let mut out = String::with_capacity(LARGE_FUNCS * 600);
    out.push_str("(module\n");
    out.push_str("  (type $sig (func (param i32 i32) (result i32)))\n");
    out.push_str("  (memory 1)\n");
    writeln!(out, "  (table {LARGE_FUNCS} funcref)").unwrap();
    out.push_str("  (global $g0 (mut i32) (i32.const 7))\n");
    out.push_str("  (global $g1 (mut i64) (i64.const 11))\n");
    out.push_str("  (global $g2 (mut f64) (f64.const 0.5))\n");
    for i in 0..LARGE_FUNCS {
        let statements = 4 + rng.below(12);
        writeln!(out, "  (func $f{i} (export \"f{i}\") (type $sig) (local $a i32) (local $b i64) (local $c f64)")
            .unwrap();
        for _ in 0..statements {
            statement(&mut out, &mut rng, i);
        }
        out.push_str("    local.get $a)\n");
    }
    out.push_str("  (elem (i32.const 0) func");
    for i in 0..LARGE_FUNCS {
        write!(out, " $f{i}").unwrap();
    }
    out.push_str(")\n)\n");
    out
}

/// Appends one self-contained statement (net stack effect zero) to the body of function `func`.
fn statement(out: &mut String, rng: &mut Lcg, func: usize) {
    let k = rng.next() as i32;
    match rng.below(10) {
        // Integer arithmetic chain.
        0 => {
            let op = ["i32.add", "i32.sub", "i32.mul", "i32.xor", "i32.and", "i32.or", "i32.shl", "i32.rotl"]
                [rng.below(8) as usize];
            writeln!(out, "    local.get 0\n    local.get 1\n    {op}\n    i32.const {k}\n    i32.add\n    local.get $a\n    i32.xor\n    local.set $a").unwrap();
        }
        // Load, modify, store through linear memory.
        1 => {
            let offset = rng.below(256) * 4;
            writeln!(
                out,
                "    local.get 0\n    i32.const 0xf000\n    i32.and\n    local.get 0\n    i32.const 0xf000\n    i32.and\n    i32.load offset={offset}\n    local.get $a\n    i32.add\n    i32.store offset={offset}\n    local.get 1\n    i32.const 0xf000\n    i32.and\n    i64.load offset={offset}\n    local.get $b\n    i64.add\n    local.set $b"
            )
            .unwrap();
        }
        // if/else on a comparison.
        2 => {
            writeln!(
                out,
                "    local.get 0\n    local.get 1\n    i32.lt_s\n    if\n      local.get $a\n      i32.const {k}\n      i32.mul\n      local.set $a\n    else\n      local.get $a\n      i32.const 3\n      i32.shr_u\n      local.set $a\n    end"
            )
            .unwrap();
        }
        // A counted loop.
        3 => {
            let n = 1 + rng.below(16);
            writeln!(
                out,
                "    i32.const {n}\n    local.set 1\n    block\n      loop\n        local.get 1\n        i32.eqz\n        br_if 1\n        local.get $a\n        local.get 1\n        i32.add\n        local.set $a\n        local.get 1\n        i32.const 1\n        i32.sub\n        local.set 1\n        br 0\n      end\n    end"
            )
            .unwrap();
        }
        // Direct call to an earlier function.
        4 if func > 0 => {
            let callee = rng.below(func as u32);
            writeln!(out, "    local.get $a\n    local.get 1\n    call $f{callee}\n    local.set $a").unwrap();
        }
        // Floating point.
        5 => {
            writeln!(
                out,
                "    local.get 0\n    f64.convert_i32_s\n    global.get $g2\n    f64.mul\n    local.get $c\n    f64.add\n    f64.sqrt\n    local.set $c\n    local.get $c\n    i32.trunc_sat_f64_s\n    local.get $a\n    i32.add\n    local.set $a"
            )
            .unwrap();
        }
        // 64-bit integers and globals.
        6 => {
            writeln!(
                out,
                "    local.get $b\n    global.get $g1\n    i64.mul\n    i64.const {k}\n    i64.rotl\n    local.tee $b\n    global.set $g1\n    global.get $g0\n    local.get $b\n    i32.wrap_i64\n    i32.add\n    global.set $g0"
            )
            .unwrap();
        }
        // Indirect call through the table.
        7 => {
            let slot = rng.below(LARGE_FUNCS as u32);
            writeln!(out, "    local.get 0\n    local.get $a\n    i32.const {slot}\n    call_indirect (type $sig)\n    local.set $a").unwrap();
        }
        // br_table over nested blocks.
        8 => {
            writeln!(
                out,
                "    block\n      block\n        block\n          local.get $a\n          i32.const 3\n          i32.and\n          br_table 0 1 2\n        end\n        local.get $a\n        i32.const {k}\n        i32.add\n        local.set $a\n      end\n      local.get $a\n      i32.popcnt\n      local.set $a\n    end"
            )
            .unwrap();
        }
        // Division and select.
        _ => {
            writeln!(
                out,
                "    local.get 0\n    local.get 1\n    i32.const 1\n    i32.or\n    i32.div_u\n    local.get $a\n    local.get 1\n    select\n    local.get $a\n    i32.add\n    local.set $a"
            )
            .unwrap();
        }
    }
}

/// A component exporting `sum8: func(r: rec) -> u32` (a record of 8 fields), `count: func(l:
/// list<rec>) -> u32` and `run: func(n: u32) -> u32`, which calls the import `host-add: func(a:
/// u32, b: u32) -> u32` n times. Both suites give `bindgen!` the same inline world for it
/// (`bindgen!` takes a literal).
pub const COMPONENT_TYPED_WAT: &str = include_str!("component_typed.wat");

/// The list length of `component/typed_list_1000_records`.
pub const RECORDS: usize = 1000;

/// Host calls per iteration of `component/bindgen_host_import`.
pub const BINDGEN_CALLS: u32 = 1000;
