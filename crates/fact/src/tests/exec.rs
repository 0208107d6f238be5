//! Execution tests: a caller and a callee core module (each with its own memory and a logging bump
//! `realloc`), linked through a generated adapter and run with kiln.
//!
//! The callee's core function is generic: it records its flat parameters as 8-byte slots at
//! [`ARGS`] in its memory and returns the value(s) the test put at [`RESULTS`]. `post-return`
//! counts its calls and records its argument at [`POST`].

use super::*;
use crate::{AdapterImport, FlatType, compile};
use kiln::{Config, Engine, Extern, Func, Global, GlobalType, Instance, Memory, Module, Mutability, Store, Trap, Val};
use kiln_environ::component::{Context, UTF16_TAG, ValueType as T, flatten_func};

const ARGS: usize = 0x3F000;
const RESULTS: usize = 0x3F800;
const POST: usize = 0x3FC00;
const LOG: usize = 0x38000;
const HEAP: u32 = 0x10000;

const REALLOC: &str = r#"
  (global $bump (mut i32) (i32.const 0x10000))
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (global $mode (export "mode") (mut i32) (i32.const 0))
  (func (export "realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $new i32) (result i32)
    (local $p i32) (local $log i32)
    (local.set $log (i32.add (i32.const 0x38000) (i32.shl (global.get $calls) (i32.const 4))))
    (i32.store (local.get $log) (local.get $old))
    (i32.store offset=4 (local.get $log) (local.get $old_size))
    (i32.store offset=8 (local.get $log) (local.get $align))
    (i32.store offset=12 (local.get $log) (local.get $new))
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (global.set $bump (i32.add (local.get $p) (local.get $new)))
    (if (local.get $old_size) (then
      (memory.copy (local.get $p) (local.get $old)
        (select (local.get $old_size) (local.get $new) (i32.lt_u (local.get $old_size) (local.get $new))))))
    (if (i32.eq (global.get $mode) (i32.const 1)) (then (return (i32.add (local.get $p) (i32.const 1)))))
    (if (i32.eq (global.get $mode) (i32.const 2)) (then (return (i32.const 0x3FFF0))))
    (local.get $p))
"#;

fn wat_type(t: FlatType) -> &'static str {
    match t {
        FlatType::I32 => "i32",
        FlatType::I64 => "i64",
        FlatType::F32 => "f32",
        FlatType::F64 => "f64",
    }
}

/// `local.get i` widened to i64 bits.
fn widen(t: FlatType, i: usize) -> String {
    match t {
        FlatType::I32 => format!("(i64.extend_i32_u (local.get {i}))"),
        FlatType::I64 => format!("(local.get {i})"),
        FlatType::F32 => format!("(i64.extend_i32_u (i32.reinterpret_f32 (local.get {i})))"),
        FlatType::F64 => format!("(i64.reinterpret_f64 (local.get {i}))"),
    }
}

fn callee_wat(ty: &FuncType) -> String {
    let sig = flatten_func(ty, Context::Lift);
    let params: Vec<_> = sig.params.iter().map(|&t| wat_type(t)).collect();
    let mut body = String::new();
    for (i, &t) in sig.params.iter().enumerate() {
        body.push_str(&format!("(i64.store (i32.const {}) {})\n", ARGS + 8 * i, widen(t, i)));
    }
    let mut result = String::new();
    if let Some(&t) = sig.results.first() {
        result = format!("(result {})", wat_type(t));
        body.push_str(&format!("({}.load (i32.const {RESULTS}))", wat_type(t)));
    }
    let post_params: Vec<_> = sig.results.iter().map(|&t| wat_type(t)).collect();
    let post_record =
        sig.results.first().map_or(String::new(), |&t| format!("(i64.store (i32.const {}) {})", POST + 8, widen(t, 0)));
    format!(
        r#"(module
  (memory (export "mem") 4)
  {REALLOC}
  (func (export "callee") (param {}) {result}
    {body})
  (func (export "post") (param {})
    (i32.store (i32.const {POST}) (i32.add (i32.load (i32.const {POST})) (i32.const 1)))
    {post_record}))"#,
        params.join(" "),
        post_params.join(" ")
    )
}

type Spy = std::sync::Arc<std::sync::Mutex<Vec<(&'static str, i32, i32)>>>;

struct H {
    store: Store<()>,
    caller: Instance,
    callee: Instance,
    caller_mem: Memory,
    callee_mem: Memory,
    caller_flags: Global,
    callee_flags: Global,
    func: Func,
    ty: FuncType,
}

impl H {
    fn new(ty: FuncType, caller_enc: StringEncoding, callee_enc: StringEncoding) -> H {
        H::build(ty, caller_enc, callee_enc, None)
    }

    /// With `spy`, the reallocs and post-return are wrapped in host functions that record both
    /// instances' flags when they run.
    fn build(ty: FuncType, caller_enc: StringEncoding, callee_enc: StringEncoding, spy: Option<&Spy>) -> H {
        let module = compile(&[adapter("f", ty.clone(), caller_enc, callee_enc)]).unwrap();
        validate(&module.wasm);
        let mut config = Config::new();
        config.wasm_multi_memory(true);
        let engine = Engine::new(&config).unwrap();
        let mut store = Store::new(&engine, ());
        let caller_module = Module::new(&engine, format!("(module (memory (export \"mem\") 4) {REALLOC})")).unwrap();
        let callee_module = Module::new(&engine, callee_wat(&ty)).unwrap();
        let caller = Instance::new(&mut store, &caller_module, &[]).unwrap();
        let callee = Instance::new(&mut store, &callee_module, &[]).unwrap();
        let caller_mem = caller.get_memory(&mut store, "mem").unwrap();
        let callee_mem = callee.get_memory(&mut store, "mem").unwrap();
        let flags_ty = GlobalType::new(kiln::ValType::I32, Mutability::Var);
        let caller_flags = Global::new(&mut store, flags_ty, Val::I32(3)).unwrap();
        let callee_flags = Global::new(&mut store, flags_ty, Val::I32(3)).unwrap();
        let wrap = |store: &mut Store<()>, real: Func, name: &'static str| -> Extern {
            match spy {
                None => real.into(),
                Some(log) => {
                    let log = log.clone();
                    let ty = real.ty(&*store);
                    Func::new(&mut *store, ty, move |mut caller, params, results| {
                        let a = caller_flags.get(&mut caller);
                        let b = callee_flags.get(&mut caller);
                        if let (Val::I32(a), Val::I32(b)) = (a, b) {
                            log.lock().unwrap().push((name, a, b));
                        }
                        real.call(&mut caller, params, results)
                    })
                    .into()
                }
            }
        };
        let mut imports: Vec<Extern> = Vec::new();
        for import in &module.imports {
            imports.push(match import {
                AdapterImport::Trap => Func::wrap(&mut store, |code: i32| -> anyhow::Result<()> {
                    Err(anyhow::Error::new(Trap::from_u8(code as u8).expect("valid trap code")))
                })
                .into(),
                AdapterImport::Memory(name) => match name.as_str() {
                    "caller-memory" => caller_mem.into(),
                    "callee-memory" => callee_mem.into(),
                    other => panic!("unknown memory {other}"),
                },
                AdapterImport::Func(name, _) => match name.as_str() {
                    "caller-realloc" => {
                        let f = caller.get_func(&mut store, "realloc").unwrap();
                        wrap(&mut store, f, "caller-realloc")
                    }
                    "callee-realloc" => {
                        let f = callee.get_func(&mut store, "realloc").unwrap();
                        wrap(&mut store, f, "callee-realloc")
                    }
                    "f-callee" => callee.get_func(&mut store, "callee").unwrap().into(),
                    "f-post-return" => {
                        let f = callee.get_func(&mut store, "post").unwrap();
                        wrap(&mut store, f, "post-return")
                    }
                    other => panic!("unknown func {other}"),
                },
                AdapterImport::Flags(0) => caller_flags.into(),
                AdapterImport::Flags(1) => callee_flags.into(),
                AdapterImport::Flags(n) => panic!("unknown instance {n}"),
                other => panic!("the execution tests pass no resource handles, yet the adapter imports {other:?}"),
            });
        }
        let adapter_module = Module::new(&engine, &module.wasm).unwrap();
        let adapter = Instance::new(&mut store, &adapter_module, &imports).unwrap();
        let func = adapter.get_func(&mut store, "f").unwrap();
        H { store, caller, callee, caller_mem, callee_mem, caller_flags, callee_flags, func, ty }
    }

    fn call(&mut self, args: &[Val]) -> anyhow::Result<Vec<Val>> {
        let n = flatten_func(&self.ty, Context::Lower).results.len();
        let mut results = vec![Val::I32(0); n];
        self.func.call(&mut self.store, args, &mut results)?;
        Ok(results)
    }

    fn call_trap(&mut self, args: &[Val]) -> Trap {
        let err = self.call(args).expect_err("call should trap");
        *err.downcast_ref::<Trap>().unwrap_or_else(|| panic!("not a trap: {err:?}"))
    }

    fn mem(&self, callee: bool) -> Memory {
        if callee { self.callee_mem } else { self.caller_mem }
    }

    fn write(&mut self, callee: bool, at: usize, bytes: &[u8]) {
        self.mem(callee).write(&mut self.store, at, bytes).unwrap();
    }

    fn read(&mut self, callee: bool, at: usize, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        self.mem(callee).read(&self.store, at, &mut buf).unwrap();
        buf
    }

    fn u32_at(&mut self, callee: bool, at: usize) -> u32 {
        u32::from_le_bytes(self.read(callee, at, 4).try_into().unwrap())
    }

    /// The flat arguments the callee received, as 64-bit patterns.
    fn args(&mut self) -> Vec<u64> {
        let n = flatten_func(&self.ty, Context::Lift).params.len();
        (0..n).map(|i| u64::from_le_bytes(self.read(true, ARGS + 8 * i, 8).try_into().unwrap())).collect()
    }

    fn set_result(&mut self, bits: u64) {
        self.write(true, RESULTS, &bits.to_le_bytes());
    }

    fn reallocs(&mut self, callee: bool) -> Vec<[u32; 4]> {
        let inst = if callee { self.callee } else { self.caller };
        let calls = match inst.get_global(&mut self.store, "calls").unwrap().get(&mut self.store) {
            Val::I32(n) => n as usize,
            _ => unreachable!(),
        };
        (0..calls)
            .map(|i| {
                let b = self.read(callee, LOG + 16 * i, 16);
                std::array::from_fn(|k| u32::from_le_bytes(b[4 * k..4 * k + 4].try_into().unwrap()))
            })
            .collect()
    }

    fn set_mode(&mut self, callee: bool, mode: i32) {
        let inst = if callee { self.callee } else { self.caller };
        inst.get_global(&mut self.store, "mode").unwrap().set(&mut self.store, Val::I32(mode)).unwrap();
    }

    fn post_calls(&mut self) -> u32 {
        self.u32_at(true, POST)
    }

    fn flags(&mut self) -> (i32, i32) {
        let get = |g: Global, s: &mut Store<()>| match g.get(s) {
            Val::I32(v) => v,
            _ => unreachable!(),
        };
        (get(self.caller_flags, &mut self.store), get(self.callee_flags, &mut self.store))
    }
}

fn i32v(v: u32) -> Val {
    Val::I32(v as i32)
}

// ---- strings ----

fn encode(enc: StringEncoding, s: &str) -> (Vec<u8>, u32) {
    match enc {
        StringEncoding::Utf8 => (s.as_bytes().to_vec(), s.len() as u32),
        StringEncoding::Utf16 => utf16(s),
        StringEncoding::CompactUtf16 => {
            if s.chars().all(|c| (c as u32) < 256) {
                (s.chars().map(|c| c as u8).collect(), s.chars().count() as u32)
            } else {
                let (b, n) = utf16(s);
                (b, n | UTF16_TAG)
            }
        }
    }
}

fn utf16(s: &str) -> (Vec<u8>, u32) {
    let units: Vec<u16> = s.encode_utf16().collect();
    (units.iter().flat_map(|u| u.to_le_bytes()).collect(), units.len() as u32)
}

fn decode(h: &mut H, callee: bool, enc: StringEncoding, ptr: u32, len: u32) -> String {
    let from16 = |b: Vec<u8>| {
        let units: Vec<u16> = b.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        String::from_utf16(&units).unwrap()
    };
    match enc {
        StringEncoding::Utf8 => String::from_utf8(h.read(callee, ptr as usize, len as usize)).unwrap(),
        StringEncoding::Utf16 => {
            assert_eq!(ptr % 2, 0);
            from16(h.read(callee, ptr as usize, 2 * len as usize))
        }
        StringEncoding::CompactUtf16 => {
            assert_eq!(ptr % 2, 0);
            if len & UTF16_TAG != 0 {
                from16(h.read(callee, ptr as usize, 2 * (len ^ UTF16_TAG) as usize))
            } else {
                h.read(callee, ptr as usize, len as usize).into_iter().map(char::from).collect()
            }
        }
    }
}

/// The spec's `store_string` realloc calls as (old_size, align, new_size).
fn expected_reallocs(src: StringEncoding, dst: StringEncoding, s: &str) -> Vec<(u32, u32, u32)> {
    use StringEncoding::*;
    let units16 = s.encode_utf16().count() as u32;
    let bytes8 = s.len() as u32;
    let chars = s.chars().count() as u32;
    let latin1 = s.chars().all(|c| (c as u32) < 256);
    let ascii = s.is_ascii();
    // (simple encoding, code units)
    let (simple, n) = match src {
        Utf8 => ("utf8", bytes8),
        Utf16 => ("utf16", units16),
        CompactUtf16 if latin1 => ("latin1", chars),
        CompactUtf16 => ("utf16", units16),
    };
    let to_utf8 = |worst: u32| {
        let mut v = vec![(0, 1, n)];
        if !ascii {
            v.push((n, 1, worst));
            if worst > bytes8 {
                v.push((worst, 1, bytes8));
            }
        }
        v
    };
    match (dst, simple) {
        (Utf8, "utf8") => vec![(0, 1, n)],
        (Utf8, "utf16") => to_utf8(3 * n),
        (Utf8, _) => to_utf8(2 * n),
        (Utf16, "utf8") => {
            let mut v = vec![(0, 2, 2 * n)];
            if 2 * units16 < 2 * n {
                v.push((2 * n, 2, 2 * units16));
            }
            v
        }
        (Utf16, _) => vec![(0, 2, 2 * n)],
        (CompactUtf16, "latin1") => vec![(0, 2, n)],
        (CompactUtf16, "utf16") if src == CompactUtf16 => {
            let mut v = vec![(0, 2, 2 * n)];
            if latin1 {
                v.push((2 * n, 1, n));
            }
            v
        }
        (CompactUtf16, _) => {
            let mut v = vec![(0, 2, n)];
            if latin1 {
                if chars < n {
                    v.push((n, 2, chars));
                }
            } else {
                v.push((n, 2, 2 * n));
                if 2 * n > 2 * units16 {
                    v.push((2 * n, 2, 2 * units16));
                }
            }
            v
        }
    }
}

const SAMPLES: [&str; 7] = [
    "",
    "hello",
    "héllo wörld ÿ",
    "ÿ\u{100}",
    "日本語 and 😀 astral 𝄞",
    "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz-long-ascii-string",
];

#[test]
fn strings_every_encoding_pair() {
    let ty = func(vec![T::String], Some(T::String));
    for caller in ENCODINGS {
        for callee in ENCODINGS {
            for s in SAMPLES {
                let mut h = H::new(ty.clone(), caller, callee);
                // Parameter: caller -> callee.
                let (bytes, len) = encode(caller, s);
                h.write(false, 0x100, &bytes);
                // Result: callee -> caller, through the callee's return pointer and the caller's
                // out-pointer.
                let (rbytes, rlen) = encode(callee, s);
                h.write(true, 0x200, &rbytes);
                h.write(true, 0x100, &[0x200u32.to_le_bytes(), rlen.to_le_bytes()].concat());
                h.set_result(0x100);
                h.call(&[i32v(0x100), i32v(len), i32v(0x80)]).unwrap();
                let args = h.args();
                let got = decode(&mut h, true, callee, args[0] as u32, args[1] as u32);
                assert_eq!(got, s, "param {caller:?} -> {callee:?}");
                if callee == StringEncoding::CompactUtf16 && !s.is_empty() {
                    let latin1 = s.chars().all(|c| (c as u32) < 256);
                    assert_eq!(args[1] as u32 & UTF16_TAG == 0, latin1, "compact form of {s:?}");
                }
                let calls: Vec<_> = h.reallocs(true).iter().map(|c| (c[1], c[2], c[3])).collect();
                assert_eq!(
                    calls,
                    expected_reallocs(caller, callee, s),
                    "callee reallocs {caller:?} -> {callee:?} {s:?}"
                );
                let (ptr, len) = (h.u32_at(false, 0x80), h.u32_at(false, 0x84));
                let got = decode(&mut h, false, caller, ptr, len);
                assert_eq!(got, s, "result {callee:?} -> {caller:?}");
                let calls: Vec<_> = h.reallocs(false).iter().map(|c| (c[1], c[2], c[3])).collect();
                assert_eq!(
                    calls,
                    expected_reallocs(callee, caller, s),
                    "caller reallocs {callee:?} -> {caller:?} {s:?}"
                );
                assert_eq!(h.post_calls(), 1);
                assert_eq!(h.flags(), (3, 3));
            }
        }
    }
}

#[test]
fn invalid_strings_trap() {
    let ty = func(vec![T::String], None);
    let utf8_cases: [&[u8]; 17] = [
        b"a\xC0\x80",              // overlong
        b"\xED\xA0\x80",           // surrogate
        b"\xE6\x97",               // truncated
        b"\xF4\x90\x80\x80",       // above U+10FFFF
        b"abc\x80",                // stray continuation
        b"\xFF",                   // invalid byte
        b"0123456789\xE0\x80\xAF", // overlong after the fast path
        b"\xC3",                   // truncated after the lead byte
        b"ab\xF0",                 // truncated four-byte lead
        b"ab\xF0\x9F\x98",         // truncated after three bytes
        b"\xE0\x80",               // truncated, but already overlong
        b"\xED\xA0",               // truncated, but already a surrogate
        b"\xF4\x90",               // truncated, but already above U+10FFFF
        b"\xE6\x41",               // truncated with a bad continuation byte
        b"\xF0\x90\x41",           // bad third byte before the end
        b"\xC3\x28",               // bad continuation byte
        b"01234567\xE2\x82",       // truncated after the fast path
    ];
    for callee in ENCODINGS {
        for bytes in utf8_cases {
            let mut h = H::new(ty.clone(), StringEncoding::Utf8, callee);
            h.write(false, 0x100, bytes);
            // The same classification as the host's (Rust's `from_utf8`): no error length means
            // the string ends inside a sequence that was valid so far.
            let want = match std::str::from_utf8(bytes) {
                Err(e) if e.error_len().is_none() => Trap::IncompleteUtf8,
                Err(_) => Trap::InvalidUtf8,
                Ok(_) => unreachable!("{bytes:?} is valid"),
            };
            assert_eq!(h.call_trap(&[i32v(0x100), i32v(bytes.len() as u32)]), want, "{bytes:?}");
            // The callee instance is poisoned.
            assert_eq!(h.call_trap(&[i32v(0x100), i32v(0)]), Trap::CannotEnterComponent);
        }
        let utf16_cases: [&[u16]; 3] = [&[0x61, 0xD800], &[0xDC00, 0x61], &[0xD800, 0xD800]];
        for caller in [StringEncoding::Utf16, StringEncoding::CompactUtf16] {
            for units in utf16_cases {
                let mut h = H::new(ty.clone(), caller, callee);
                let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
                h.write(false, 0x100, &bytes);
                let mut len = units.len() as u32;
                if caller == StringEncoding::CompactUtf16 {
                    len |= UTF16_TAG;
                }
                assert_eq!(h.call_trap(&[i32v(0x100), i32v(len)]), Trap::InvalidUtf16, "{units:?}");
            }
        }
    }
}

#[test]
fn string_pointer_checks() {
    let ty = func(vec![T::String], None);
    let mut h = H::new(ty.clone(), StringEncoding::Utf16, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0x101), i32v(1)]), Trap::UnalignedPointer);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0x3FFFF), i32v(2)]), Trap::StringOutOfBounds);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0xFFFF_FFFF), i32v(0x7FFF_FFFF)]), Trap::StringOutOfBounds);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    // Longer than the Canonical ABI allows: out of bounds (the reference runtime's wording).
    assert_eq!(h.call_trap(&[i32v(0), i32v(0x8000_0000)]), Trap::StringOutOfBounds);
    let mut h = H::new(ty.clone(), StringEncoding::Utf16, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0), i32v(0x4000_0000)]), Trap::StringOutOfBounds);
    // The limit is `MAX_STRING_BYTE_LENGTH` (2^28 - 1 bytes), checked before the alignment: an
    // unaligned UTF-16 string of 2^28 bytes is out of bounds, one of 2^28 - 2 unaligned.
    let mut h = H::new(ty.clone(), StringEncoding::Utf16, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0x101), i32v(0x0800_0000)]), Trap::StringOutOfBounds);
    let mut h = H::new(ty.clone(), StringEncoding::Utf16, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0x101), i32v(0x07FF_FFFF)]), Trap::UnalignedPointer);
    // A realloc result that is unaligned or out of bounds.
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf16);
    h.write(false, 0x100, b"abc");
    h.set_mode(true, 1);
    assert_eq!(h.call_trap(&[i32v(0x100), i32v(3)]), Trap::UnalignedPointer);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    h.write(false, 0x100, &[b'x'; 64]);
    h.set_mode(true, 2);
    assert_eq!(h.call_trap(&[i32v(0x100), i32v(64)]), Trap::StringOutOfBounds);
}

// ---- scalars and flags protocol ----

#[test]
fn scalars() {
    let ty = func(vec![T::U8, T::S8, T::U16, T::S16, T::U32, T::S64, T::F32, T::F64, T::Bool, T::Char], Some(T::U64));
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_result(0x1234_5678_9abc_def0);
    let results = h
        .call(&[
            i32v(0x1FF),
            i32v(0xFF),
            i32v(0x1_FFFF),
            i32v(0x8000),
            i32v(0xDEAD_BEEF),
            Val::I64(-5),
            Val::F32(1.5f32.to_bits()),
            Val::F64(2.25f64.to_bits()),
            i32v(7),
            i32v('é' as u32),
        ])
        .unwrap();
    assert_eq!(
        h.args(),
        vec![
            0xFF,
            0xFFFF_FFFF,
            0xFFFF,
            0xFFFF_8000,
            0xDEAD_BEEF,
            (-5i64) as u64,
            u64::from(1.5f32.to_bits()),
            2.25f64.to_bits(),
            1,
            0xE9
        ]
    );
    assert!(matches!(results[0], Val::I64(0x1234_5678_9abc_def0)));
    assert_eq!(h.post_calls(), 1);
    assert_eq!(h.u32_at(true, POST + 8), 0x9abc_def0);
    assert_eq!(h.flags(), (3, 3));
    // Calls repeat fine.
    h.call(
        &[i32v(0); 5]
            .iter()
            .cloned()
            .chain([Val::I64(0), Val::F32(0), Val::F64(0), i32v(0), i32v(0)])
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(h.post_calls(), 2);
}

#[test]
fn invalid_char_traps_and_poisons() {
    let ty = func(vec![T::Char], Some(T::Char));
    for bad in [0xD800u32, 0xDFFF, 0x11_0000, 0xFFFF_FFFF] {
        let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
        assert_eq!(h.call_trap(&[i32v(bad)]), Trap::InvalidChar);
        assert_eq!(h.flags(), (3, 1), "the callee stays poisoned");
        assert_eq!(h.call_trap(&[i32v('a' as u32)]), Trap::CannotEnterComponent);
    }
    // An invalid char result from the callee.
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_result(0xD900);
    assert_eq!(h.call_trap(&[i32v('a' as u32)]), Trap::InvalidChar);
    assert_eq!(h.post_calls(), 0);
}

#[test]
fn flag_checks() {
    let ty = func(vec![T::U32], None);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    h.caller_flags.set(&mut h.store, Val::I32(2)).unwrap();
    assert_eq!(h.call_trap(&[i32v(1)]), Trap::CannotLeaveComponent);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    h.callee_flags.set(&mut h.store, Val::I32(1)).unwrap();
    assert_eq!(h.call_trap(&[i32v(1)]), Trap::CannotEnterComponent);
}

// ---- lists ----

#[test]
fn bulk_list_of_bytes() {
    let ty = func(vec![list(T::U8)], None);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    let data: Vec<u8> = (0..65536u32).map(|i| (i * 7 + i / 256) as u8).collect();
    h.write(false, 0, &data);
    h.call(&[i32v(0), i32v(65536)]).unwrap();
    let args = h.args();
    assert_eq!(args[1], 65536);
    assert_eq!(h.read(true, args[0] as usize, 65536), data);
    assert_eq!(h.reallocs(true), vec![[0, 0, 1, 65536]]);
}

#[test]
fn list_checks() {
    let ty = func(vec![list(T::U32)], None);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(2), i32v(1)]), Trap::UnalignedPointer);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0x3FFF0), i32v(5)]), Trap::ListOutOfBounds);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0), i32v(0x2000_0000)]), Trap::LengthTooLarge);
    // `MAX_LIST_BYTE_LENGTH` (2^28 - 1 bytes) comes before the alignment check.
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(2), i32v(0x0400_0000)]), Trap::LengthTooLarge);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(2), i32v(0x03FF_FFFF)]), Trap::UnalignedPointer);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_mode(true, 1);
    assert_eq!(h.call_trap(&[i32v(0), i32v(1)]), Trap::UnalignedPointer);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_mode(true, 2);
    assert_eq!(h.call_trap(&[i32v(0), i32v(8)]), Trap::ListOutOfBounds);
}

#[test]
fn element_wise_lists() {
    // list<record { u8, char, bool }>: size 12, align 4.
    let ty = func(vec![list(record(vec![T::U8, T::Char, T::Bool]))], None);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    let mut bytes = Vec::new();
    for i in 0..3u32 {
        bytes.extend([i as u8 + 1, 0, 0, 0]);
        bytes.extend(('a' as u32 + i).to_le_bytes());
        bytes.extend([i as u8 * 2, 0xAA, 0xAA, 0xAA]);
    }
    h.write(false, 0x100, &bytes);
    h.call(&[i32v(0x100), i32v(3)]).unwrap();
    let args = h.args();
    let got = h.read(true, args[0] as usize, 36);
    for i in 0..3usize {
        assert_eq!(got[12 * i], i as u8 + 1);
        assert_eq!(u32::from_le_bytes(got[12 * i + 4..12 * i + 8].try_into().unwrap()), 'a' as u32 + i as u32);
        assert_eq!(got[12 * i + 8], u8::from(i > 0), "bools are normalized");
    }
    // An invalid char in the second element.
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    bytes[16..20].copy_from_slice(&0xD800u32.to_le_bytes());
    h.write(false, 0x100, &bytes);
    assert_eq!(h.call_trap(&[i32v(0x100), i32v(3)]), Trap::InvalidChar);
}

#[test]
fn nested_lists_of_strings() {
    let ty = func(vec![list(list(T::String))], None);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf16);
    let words = [["ab", "ç"], ["😀", ""]];
    // Strings at 0x1000.., inner lists at 0x200.., outer list at 0x100.
    let mut next = 0x1000u32;
    for (i, inner) in words.iter().enumerate() {
        for (j, w) in inner.iter().enumerate() {
            h.write(false, next as usize, w.as_bytes());
            let entry = [next.to_le_bytes(), (w.len() as u32).to_le_bytes()].concat();
            h.write(false, 0x200 + 0x40 * i + 8 * j, &entry);
            next += 0x10;
        }
        let outer = [(0x200 + 0x40 * i as u32).to_le_bytes(), 2u32.to_le_bytes()].concat();
        h.write(false, 0x100 + 8 * i, &outer);
    }
    h.call(&[i32v(0x100), i32v(2)]).unwrap();
    let args = h.args();
    assert_eq!(args[1], 2);
    for (i, inner) in words.iter().enumerate() {
        let list = h.u32_at(true, args[0] as usize + 8 * i);
        assert_eq!(h.u32_at(true, args[0] as usize + 8 * i + 4), 2);
        for (j, w) in inner.iter().enumerate() {
            let (p, n) = (h.u32_at(true, list as usize + 8 * j), h.u32_at(true, list as usize + 8 * j + 4));
            assert_eq!(decode(&mut h, true, StringEncoding::Utf16, p, n), *w);
        }
    }
}

#[test]
fn maps_are_lists_of_entries() {
    // map<string, u16>: entries tuple<string, u16> of size 12, align 4.
    let ty = func(vec![map(T::String, T::U16)], None);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf16);
    let entries = [("one", 1u16), ("zwei", 2), ("trois", 3)];
    let mut next = 0x1000u32;
    for (i, (k, v)) in entries.iter().enumerate() {
        h.write(false, next as usize, k.as_bytes());
        let entry =
            [&next.to_le_bytes()[..], &(k.len() as u32).to_le_bytes(), &v.to_le_bytes(), &[0xAA, 0xAA]].concat();
        h.write(false, 0x100 + 12 * i, &entry);
        next += 0x10;
    }
    h.call(&[i32v(0x100), i32v(3)]).unwrap();
    let args = h.args();
    assert_eq!(args[1], 3);
    for (i, (k, v)) in entries.iter().enumerate() {
        let at = args[0] as usize + 12 * i;
        let (p, n) = (h.u32_at(true, at), h.u32_at(true, at + 4));
        assert_eq!(decode(&mut h, true, StringEncoding::Utf16, p, n), *k);
        assert_eq!(h.read(true, at + 8, 2), v.to_le_bytes());
    }
    // One allocation for the entries (align 4), then one per key.
    assert_eq!(h.reallocs(true)[0], [0, 0, 4, 36]);
    // The list checks apply to maps.
    let mut h = H::new(func(vec![map(T::U32, T::U32)], None), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0x3FFF8), i32v(2)]), Trap::ListOutOfBounds);
    let mut h = H::new(func(vec![map(T::U32, T::U32)], None), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(2), i32v(1)]), Trap::UnalignedPointer);
}

#[test]
fn fixed_length_lists_flat_and_in_memory() {
    // Flat: list<char, 3> is three i32s, each checked.
    let ty = func(vec![fixed(T::Char, 3)], None);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    h.call(&[i32v('a' as u32), i32v('é' as u32), i32v(0x1F600)]).unwrap();
    assert_eq!(h.args(), vec!['a' as u64, 'é' as u64, 0x1F600]);
    assert_eq!(h.call_trap(&[i32v('a' as u32), i32v(0xD800), i32v(0)]), Trap::InvalidChar);

    // Through memory (20 u32s > 16 flat values): copied in one go into the callee's tuple.
    let ty = func(vec![fixed(T::U32, 20)], None);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    let words: Vec<u8> = (0..20u32).flat_map(|i| (i * 1000 + 7).to_le_bytes()).collect();
    h.write(false, 0x100, &words);
    h.call(&[i32v(0x100)]).unwrap();
    let args = h.args();
    assert_eq!(h.reallocs(true), vec![[0, 0, 4, 80]]);
    assert_eq!(h.read(true, args[0] as usize, 80), words);

    // Element-wise in a loop (bools are normalized), as a result through memory.
    let ty = func(vec![], Some(fixed(record(vec![T::Bool, T::U8]), 40)));
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    let pairs: Vec<u8> = (0..40u8).flat_map(|i| [i % 3, i]).collect();
    h.write(true, 0x200, &pairs);
    h.set_result(0x200);
    h.call(&[i32v(0x80)]).unwrap();
    let got = h.read(false, 0x80, 80);
    for i in 0..40usize {
        assert_eq!(got[2 * i], u8::from(i % 3 != 0));
        assert_eq!(got[2 * i + 1], i as u8);
    }

    // Strings inside: each element transcoded.
    let ty = func(vec![fixed(T::String, 2)], None);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf16);
    h.write(false, 0x1000, b"hi");
    h.write(false, 0x1010, "😀".as_bytes());
    h.call(&[i32v(0x1000), i32v(2), i32v(0x1010), i32v(4)]).unwrap();
    let args = h.args();
    assert_eq!(decode(&mut h, true, StringEncoding::Utf16, args[0] as u32, args[1] as u32), "hi");
    assert_eq!(decode(&mut h, true, StringEncoding::Utf16, args[2] as u32, args[3] as u32), "😀");
}

// ---- variants, options, results, records, flags ----

#[test]
fn variants_with_joined_payloads() {
    // Flat: [i32 disc, i64 (f32 | u64 | string ptr), i32 (string len)].
    let ty = func(vec![variant(vec![Some(T::F32), Some(T::U64), Some(T::String), None])], None);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    h.call(&[i32v(0), Val::I64(i64::from(2.5f32.to_bits())), i32v(99)]).unwrap();
    assert_eq!(h.args(), vec![0, u64::from(2.5f32.to_bits()), 0]);
    h.call(&[i32v(1), Val::I64(-1), i32v(99)]).unwrap();
    assert_eq!(h.args(), vec![1, u64::MAX, 0]);
    h.write(false, 0x100, b"hello");
    h.call(&[i32v(2), Val::I64(0x100), i32v(5)]).unwrap();
    let args = h.args();
    assert_eq!(args[0], 2);
    assert_eq!(h.read(true, args[1] as usize, 5), b"hello");
    assert_eq!(args[2], 5);
    h.call(&[i32v(3), Val::I64(7), i32v(7)]).unwrap();
    assert_eq!(h.args(), vec![3, 0, 0]);
    assert_eq!(h.call_trap(&[i32v(4), Val::I64(0), i32v(0)]), Trap::InvalidDiscriminant);
}

#[test]
fn variant_results_through_memory() {
    // Size 16: u8 discriminant, payload at 8.
    let ty = func(vec![], Some(variant(vec![Some(T::F32), Some(T::U64), Some(T::String)])));
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    h.write(true, 0x200, b"world");
    h.write(true, 0x100, &[2, 0, 0, 0, 0, 0, 0, 0]);
    h.write(true, 0x108, &[0x200u32.to_le_bytes(), 5u32.to_le_bytes()].concat());
    h.set_result(0x100);
    h.call(&[i32v(0x80)]).unwrap();
    assert_eq!(h.read(false, 0x80, 1), [2]);
    let (p, n) = (h.u32_at(false, 0x88), h.u32_at(false, 0x8C));
    assert_eq!(h.read(false, p as usize, n as usize), b"world");
    assert_eq!(h.u32_at(true, POST + 8), 0x100, "post-return gets the callee's return pointer");
    // Bad discriminant, unaligned return pointer, unaligned or out-of-bounds out-pointer.
    h.write(true, 0x100, &[3]);
    assert_eq!(h.call_trap(&[i32v(0x80)]), Trap::InvalidDiscriminant);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_result(0x104);
    assert_eq!(h.call_trap(&[i32v(0x80)]), Trap::UnalignedPointer);
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_result(0x100);
    assert_eq!(h.call_trap(&[i32v(0x84)]), Trap::UnalignedPointer);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_result(0x3FFF8);
    assert_eq!(h.call_trap(&[i32v(0x80)]), Trap::PointerOutOfBounds);
}

#[test]
fn options_results_enums() {
    let ty = func(vec![option(T::U8), result(Some(T::U32), Some(T::String)), enum_(300)], Some(option(T::S16)));
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    h.write(true, 0x100, &[1, 0, 0xFE, 0xFF]);
    h.set_result(0x100);
    h.write(false, 0x300, b"err!");
    h.call(&[i32v(1), i32v(0x1AB), i32v(1), i32v(0x300), i32v(4), i32v(299), i32v(0x80)]).unwrap();
    let args = h.args();
    assert_eq!(&args[..3], &[1, 0xAB, 1]);
    assert_eq!(h.read(true, args[3] as usize, 4), b"err!");
    assert_eq!(&args[4..], &[4, 299]);
    assert_eq!(h.read(false, 0x80, 4), [1, 0, 0xFE, 0xFF]);
    assert_eq!(
        h.call_trap(&[i32v(0), i32v(0), i32v(0), i32v(0), i32v(0), i32v(300), i32v(0x80)]),
        Trap::InvalidDiscriminant
    );
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(
        h.call_trap(&[i32v(2), i32v(0), i32v(0), i32v(0), i32v(0), i32v(0), i32v(0x80)]),
        Trap::InvalidDiscriminant
    );
}

#[test]
fn flags_drop_unused_bits() {
    let ty = func(vec![flags(33), flags(3)], Some(flags(9)));
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_result(0xFFFF);
    let r = h.call(&[i32v(u32::MAX), i32v(u32::MAX), i32v(0xFF)]).unwrap();
    assert_eq!(h.args(), vec![0xFFFF_FFFF, 1, 7]);
    assert!(matches!(r[0], Val::I32(0x1FF)));
}

#[test]
fn records_and_indirect_params() {
    // 17 u32 parameters: both sides pass the parameters through memory.
    let ty = func((0..17).map(|_| T::U32).collect(), Some(record(vec![T::U8, T::U64, T::String])));
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    let params: Vec<u8> = (0..17u32).flat_map(|i| (i * 1000).to_le_bytes()).collect();
    h.write(false, 0x100, &params);
    // Result record { u8, u64, string }: size 24 at 0x400 in the callee.
    h.write(true, 0x500, b"rec");
    let rec = [
        vec![9, 0, 0, 0, 0, 0, 0, 0],
        77u64.to_le_bytes().to_vec(),
        0x500u32.to_le_bytes().to_vec(),
        3u32.to_le_bytes().to_vec(),
    ]
    .concat();
    h.write(true, 0x400, &rec);
    h.set_result(0x400);
    h.call(&[i32v(0x100), i32v(0x80)]).unwrap();
    let args = h.args();
    assert_eq!(h.read(true, args[0] as usize, 68), params);
    assert_eq!(h.reallocs(true)[0], [0, 0, 4, 68]);
    assert_eq!(h.read(false, 0x80, 1), [9]);
    assert_eq!(h.read(false, 0x88, 8), 77u64.to_le_bytes());
    let (p, n) = (h.u32_at(false, 0x90), h.u32_at(false, 0x94));
    assert_eq!(h.read(false, p as usize, n as usize), b"rec");
    // Unaligned and out-of-bounds parameter pointers.
    let mut h = H::new(ty.clone(), StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0x102), i32v(0x80)]), Trap::UnalignedPointer);
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    assert_eq!(h.call_trap(&[i32v(0x3FFC0), i32v(0x80)]), Trap::PointerOutOfBounds);
}

#[test]
fn heap_start_is_untouched_without_pointers() {
    let ty = func(vec![T::U32], Some(T::U32));
    let mut h = H::new(ty, StringEncoding::Utf8, StringEncoding::Utf8);
    h.set_result(5);
    let r = h.call(&[i32v(4)]).unwrap();
    assert!(matches!(r[0], Val::I32(5)));
    assert!(h.reallocs(true).is_empty() && h.reallocs(false).is_empty());
    assert_eq!(h.u32_at(true, HEAP as usize), 0);
}

#[test]
fn flags_around_realloc_and_post_return() {
    let spy = Spy::default();
    let ty = func(vec![T::String], Some(T::String));
    let mut h = H::build(ty, StringEncoding::Utf8, StringEncoding::Utf8, Some(&spy));
    h.write(false, 0x100, b"in");
    h.write(true, 0x200, b"out");
    h.write(true, 0x100, &[0x200u32.to_le_bytes(), 3u32.to_le_bytes()].concat());
    h.set_result(0x100);
    h.call(&[i32v(0x100), i32v(2), i32v(0x80)]).unwrap();
    // (caller flags, callee flags): the callee may not be entered during the call, and the
    // instance whose realloc or post-return runs may not leave.
    assert_eq!(*spy.lock().unwrap(), [("callee-realloc", 3, 0), ("caller-realloc", 2, 1), ("post-return", 3, 0)]);
    assert_eq!(h.flags(), (3, 3));
}
