//! Components built by real toolchains (`wit-bindgen c`, clang with wasi-libc, `wasm-tools
//! component new` and `wasm-tools compose`) from `tests/toolchain/`, run by kiln and checked
//! against results computed here in Rust.
//!
//! Two families: text statistics (`tests/toolchain/wit`: strings, lists, records, variants,
//! flags through fused adapters and the host) and counters (`tests/toolchain/wit-counters`: a
//! resource implemented by a C component and used by another C component through fused
//! adapters, the same client using counters implemented by the host with kiln's resource API,
//! and the C implementation driven by the host through `ResourceAny` handles).
//!
//! `scripts/build-test-components` builds them into `target/test-components/` (`scripts/test`
//! runs it first). A missing component is a failure, not a skip: set
//! `KILN_SKIP_TOOLCHAIN_TESTS=1` to mark these tests ignored on a machine without the tools.

use anyhow::{Context, Result, anyhow, bail, ensure};
use kiln::component::{
    Component, ExportIndex, Func, Instance, Linker, Resource, ResourceAny, ResourceTable, ResourceType, TypedFunc, Val,
};
use kiln::{Engine, Store, StoreContextMut, Trap};
use libtest_mimic::{Failed, Trial};
use std::collections::BTreeMap;
use std::num::IntErrorKind;
use std::path::PathBuf;

mod bindgen;

const STATS: &str = "kiln-test:text/stats@0.1.0";
const LOGGING: &str = "kiln-test:text/logging@0.1.0";
const COUNTERS: &str = "kiln-test:counters/counters@0.1.0";

fn component_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-components").join(format!("{name}.wasm"))
}

fn load(engine: &Engine, name: &str) -> Result<Component> {
    let path = component_path(name);
    if !path.exists() {
        bail!(
            "{} is missing: build it with ./scripts/build-test-components (the tools come from \
             ./scripts/setup), or set KILN_SKIP_TOOLCHAIN_TESTS=1 to skip the toolchain tests",
            path.display()
        );
    }
    Component::from_file(engine, &path)
}

/// What the store holds: the messages the components logged, and for `client_through_host`,
/// text-stats' functions the host forwards the client's imports to.
#[derive(Default)]
struct State {
    log: Vec<String>,
    forward: BTreeMap<String, Func>,
}

fn linker_with_log(engine: &Engine) -> Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    linker.instance(LOGGING)?.func_wrap("log", |mut store: StoreContextMut<'_, State>, (msg,): (String,)| {
        store.data_mut().log.push(msg);
        Ok(())
    })?;
    Ok(linker)
}

fn stats_func(store: &mut Store<State>, instance: &Instance, name: &str) -> Result<Func> {
    let iface = instance.get_export_index(&mut *store, None, STATS).with_context(|| format!("no export `{STATS}`"))?;
    let index = instance.get_export_index(&mut *store, Some(&iface), name).with_context(|| format!("no `{name}`"))?;
    instance.get_func(&mut *store, &index).with_context(|| format!("`{name}` is not a function"))
}

fn call1(store: &mut Store<State>, func: Func, params: &[Val]) -> Result<Val> {
    let mut results = [Val::Bool(false)];
    func.call(&mut *store, params, &mut results)?;
    let [result] = results;
    Ok(result)
}

fn s(text: &str) -> Val {
    Val::String(text.to_string())
}

// ---- Reference implementations, over UTF-8 bytes like the C code ----

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_ascii() && is_space(c as u8)).filter(|w| !w.is_empty()).collect()
}

fn analyze(text: &str) -> (u32, u32, String) {
    let words = words(text);
    let newlines = text.bytes().filter(|&b| b == b'\n').count();
    let lines = newlines + usize::from(!text.is_empty() && !text.ends_with('\n'));
    let mut longest = "";
    for w in &words {
        if w.len() > longest.len() {
            longest = w;
        }
    }
    (words.len() as u32, lines as u32, longest.to_string())
}

fn parse_int(text: &str) -> Result<i64, &'static str> {
    text.parse::<i64>().map_err(|e| match e.kind() {
        IntErrorKind::Empty => "empty",
        IntErrorKind::InvalidDigit => "invalid-digit",
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "overflow",
        other => panic!("unexpected {other:?}"),
    })
}

fn features(text: &str) -> Vec<&'static str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for (name, test) in [
        ("has-digit", (|c: u8| c.is_ascii_digit()) as fn(u8) -> bool),
        ("has-upper", |c| c.is_ascii_uppercase()),
        ("has-lower", |c| c.is_ascii_lowercase()),
        ("has-space", is_space),
        ("has-non-ascii", |c| c >= 0x80),
    ] {
        if b.iter().any(|&c| test(c)) {
            out.push(name);
        }
    }
    out
}

fn first_kind(text: &str) -> &'static str {
    match text.as_bytes().first() {
        None => "none",
        Some(c) if c.is_ascii_alphabetic() => "letter",
        Some(c) if c.is_ascii_digit() => "digit",
        Some(&c) if is_space(c) => "space",
        Some(c) if c.is_ascii_graphic() => "punct",
        Some(_) => "other",
    }
}

enum Token {
    Number(i64),
    Word(String),
    Empty,
}

fn first_token(text: &str) -> Token {
    match words(text).first() {
        None => Token::Empty,
        Some(w) => match w.parse::<i64>() {
            Ok(n) => Token::Number(n),
            Err(_) => Token::Word(w.to_string()),
        },
    }
}

fn histogram(data: &[u8]) -> Vec<u32> {
    let mut counts = vec![0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    counts
}

/// The report of the client's `run` (see the comment at the top of tests/toolchain/client.c).
fn report(input: &str) -> String {
    let (w, lines, longest) = analyze(input);
    let (mut numbers, mut bad, mut sum) = (0u64, 0u64, 0u64);
    for word in words(input) {
        match parse_int(word) {
            Ok(v) => {
                numbers += 1;
                sum = sum.wrapping_add(v as u64);
            }
            Err("invalid-digit") => {}
            Err(_) => bad += 1,
        }
    }
    let letters: String = features(input)
        .iter()
        .map(|f| match *f {
            "has-digit" => 'd',
            "has-upper" => 'u',
            "has-lower" => 'l',
            "has-space" => 's',
            _ => 'n',
        })
        .collect();
    let first = match first_token(input) {
        Token::Number(n) => format!("number:{n}"),
        Token::Word(w) => format!("word:{w}"),
        Token::Empty => "empty".to_string(),
    };
    let kiln = input.find("kiln").map_or("none".to_string(), |i| i.to_string());
    let counts = histogram(input.as_bytes());
    // The most frequent byte, the smallest on ties.
    let top = (0..256).rev().max_by_key(|&i| counts[i]).unwrap_or(0);
    let top = if counts[top] > 0 { format!("{top}x{}", counts[top]) } else { "none".to_string() };
    format!(
        "words={w} lines={lines} longest={longest} numbers={numbers} sum={} bad={bad} flags={letters} kind={} \
         first={first} kiln={kiln} top={top}",
        sum as i64,
        first_kind(input)
    )
}

// ---- Inputs ----

/// A deterministic pseudo-random text of at least `len` bytes: words (some non-ASCII), numbers
/// (some overflowing), punctuation, spaces, tabs and newlines.
fn big_text(len: usize, seed: u64) -> String {
    let vocabulary = [
        "kiln",
        "wasm",
        "Component",
        "wörld",
        "日本語",
        "🌍",
        "fused-adapter",
        "42",
        "-17",
        "+9",
        "99999999999999999999",
        "x1",
        "a",
        "héllo,",
        "(parenthesis)",
    ];
    let separators = [" ", " ", " ", "  ", "\t", "\n", " \r\n"];
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut text = String::new();
    while text.len() < len {
        text.push_str(vocabulary[next() % vocabulary.len()]);
        text.push_str(separators[next() % separators.len()]);
    }
    text
}

fn texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "",
        "hello",
        "The quick brown fox\njumps over the lazy dog\n",
        "  leading and trailing  ",
        "\n\n\n",
        "\t\x0b\x0c\r",
        "wörld 🌍 日本語 Ünïcödé",
        "123 -45 +6 99999999999999999999 -9223372036854775808 abc",
        "-9223372036854775809 overflow first",
        "kiln runs components; kiln!",
        "!?#",
        "\u{7f}del",
        "no-newline-at-end\nsecond line",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    texts.push(big_text(100 * 1024, 1));
    texts.push("x".repeat(100 * 1024));
    texts.push(format!("{}\n", "ünï ".repeat(30_000)));
    texts
}

fn short(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if out.len() < text.len() {
        out.push_str(&format!("... ({} bytes)", text.len()));
    }
    format!("{out:?}")
}

// ---- Tests ----

fn instantiate_text_stats(engine: &Engine) -> Result<(Store<State>, Instance)> {
    let component = load(engine, "text-stats")?;
    let imports: Vec<_> = component.imports().filter(|(_, kind)| *kind != "type").collect();
    ensure!(imports == [(LOGGING, "instance")], "text-stats imports {imports:?}");
    let mut store = Store::new(engine, State::default());
    let instance = linker_with_log(engine)?.instantiate(&mut store, &component)?;
    Ok((store, instance))
}

fn text_stats_analyze_and_log() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate_text_stats(&engine)?;
    let analyze_fn = stats_func(&mut store, &instance, "analyze")?;
    for text in texts() {
        store.data_mut().log.clear();
        let got = call1(&mut store, analyze_fn, &[s(&text)])?;
        let (words, lines, longest) = analyze(&text);
        let want = Val::Record(vec![
            ("words".into(), Val::U32(words)),
            ("lines".into(), Val::U32(lines)),
            ("longest".into(), Val::String(longest)),
        ]);
        ensure!(got == want, "analyze({}) gave {got:?}, expected {want:?}", short(&text));
        let log = &store.data().log;
        let want_log = format!("analyze: {} bytes, {words} words", text.len());
        ensure!(log.len() == 1 && log[0] == want_log, "analyze({}) logged {log:?}, not [{want_log:?}]", short(&text));
    }
    Ok(())
}

fn text_stats_tokenize() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate_text_stats(&engine)?;
    let tokenize = stats_func(&mut store, &instance, "tokenize")?.typed::<(String,), (Vec<String>,)>(&store)?;
    for text in texts() {
        store.data_mut().log.clear();
        let (got,) = tokenize.call(&mut store, (text.clone(),))?;
        let want = words(&text);
        ensure!(got == want, "tokenize({}) gave {} tokens, expected {}", short(&text), got.len(), want.len());
        let log = &store.data().log;
        ensure!(log == &[format!("tokenize: {} tokens", want.len())], "tokenize({}) logged {log:?}", short(&text));
    }
    Ok(())
}

fn text_stats_histogram() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate_text_stats(&engine)?;
    let typed = stats_func(&mut store, &instance, "histogram")?.typed::<(Vec<u8>,), (Vec<u32>,)>(&store)?;
    let dynamic = stats_func(&mut store, &instance, "histogram")?;
    let mut inputs: Vec<Vec<u8>> = vec![vec![], vec![0], vec![255; 3], (0..=255).collect()];
    inputs.push(big_text(100 * 1024, 7).into_bytes());
    let mut state = 12345u32;
    inputs.push(
        (0..200_000)
            .map(|_| {
                state = state.wrapping_mul(1103515245).wrapping_add(12345);
                (state >> 16) as u8
            })
            .collect(),
    );
    for data in inputs {
        let want = histogram(&data);
        let (got,) = typed.call(&mut store, (data.clone(),))?;
        ensure!(got == want, "histogram of {} bytes (typed call) differs", data.len());
        let got = call1(&mut store, dynamic, &[Val::List(data.iter().map(|&b| Val::U8(b)).collect())])?;
        let want = Val::List(want.into_iter().map(Val::U32).collect());
        ensure!(got == want, "histogram of {} bytes (dynamic call) differs", data.len());
    }
    ensure!(store.data().log.is_empty(), "histogram logged {:?}", store.data().log);
    Ok(())
}

fn text_stats_parse_int() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate_text_stats(&engine)?;
    let parse = stats_func(&mut store, &instance, "parse-int")?;
    let long_digits = "7".repeat(100 * 1024);
    let inputs = [
        "0",
        "-0",
        "+42",
        "42",
        "-17",
        "007",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "",
        "-",
        "+",
        "12a",
        "a12",
        " 1",
        "1 ",
        "٣",
        "1_000",
        "--1",
        long_digits.as_str(),
    ];
    for text in inputs {
        let got = call1(&mut store, parse, &[s(text)])?;
        let want = match parse_int(text) {
            Ok(v) => Val::Result(Ok(Some(Box::new(Val::S64(v))))),
            Err(e) => Val::Result(Err(Some(Box::new(Val::Enum(e.into()))))),
        };
        ensure!(got == want, "parse-int({}) gave {got:?}, expected {want:?}", short(text));
    }
    Ok(())
}

fn text_stats_find() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate_text_stats(&engine)?;
    let find = stats_func(&mut store, &instance, "find")?;
    let typed = find.typed::<(String, String), (Option<u32>,)>(&store)?;
    let big = big_text(100 * 1024, 3);
    let mut cases: Vec<(String, String)> = vec![
        ("".into(), "".into()),
        ("".into(), "a".into()),
        ("abc".into(), "".into()),
        ("abc".into(), "c".into()),
        ("abc".into(), "abcd".into()),
        ("ababab".into(), "bab".into()),
        ("wörld 🌍 日本語".into(), "🌍".into()),
        ("wörld 🌍 日本語".into(), "本".into()),
        ("wörld".into(), "o".into()),
    ];
    for needle in ["kiln", "日本語 🌍", "fused-adapter\n", "not there at all"] {
        cases.push((big.clone(), needle.into()));
    }
    let mut tail = "y".repeat(100 * 1024);
    tail.push_str("needle");
    cases.push((tail, "needle".into()));
    for (haystack, needle) in cases {
        let want = haystack.find(needle.as_str()).map(|i| i as u32);
        let got = call1(&mut store, find, &[s(&haystack), s(&needle)])?;
        let want_val = Val::Option(want.map(|i| Box::new(Val::U32(i))));
        ensure!(got == want_val, "find({}, {}) gave {got:?}, expected {want:?}", short(&haystack), short(&needle));
        let (got,) = typed.call(&mut store, (haystack.clone(), needle.clone()))?;
        ensure!(got == want, "typed find({}, {}) gave {got:?}, expected {want:?}", short(&haystack), short(&needle));
    }
    Ok(())
}

fn text_stats_classify_and_first() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate_text_stats(&engine)?;
    let classify = stats_func(&mut store, &instance, "classify")?;
    let kind = stats_func(&mut store, &instance, "first-kind")?;
    let token = stats_func(&mut store, &instance, "first-token")?;
    let mut inputs = texts();
    inputs.extend(["9", "ÿ", "\u{1}", "~tilde", "  -12 rest", "+", "99999999999999999999 big"].map(String::from));
    for text in inputs {
        let got = call1(&mut store, classify, &[s(&text)])?;
        let want = Val::Flags(features(&text).iter().map(|f| f.to_string()).collect());
        ensure!(got == want, "classify({}) gave {got:?}, expected {want:?}", short(&text));

        let got = call1(&mut store, kind, &[s(&text)])?;
        let want = Val::Enum(first_kind(&text).into());
        ensure!(got == want, "first-kind({}) gave {got:?}, expected {want:?}", short(&text));

        let got = call1(&mut store, token, &[s(&text)])?;
        let want = match first_token(&text) {
            Token::Number(n) => Val::Variant("number".into(), Some(Box::new(Val::S64(n)))),
            Token::Word(w) => Val::Variant("word".into(), Some(Box::new(Val::String(w)))),
            Token::Empty => Val::Variant("empty".into(), None),
        };
        ensure!(got == want, "first-token({}) gave {got:?}, expected {want:?}", short(&text));
    }
    Ok(())
}

/// Many calls on one instance: the C allocator's state must survive them (post-return frees
/// what each call returned).
fn text_stats_many_calls() -> Result<()> {
    let engine = Engine::default();
    let (mut store, instance) = instantiate_text_stats(&engine)?;
    let tokenize = stats_func(&mut store, &instance, "tokenize")?.typed::<(String,), (Vec<String>,)>(&store)?;
    let text = big_text(4096, 11);
    let want = words(&text);
    for i in 0..2000 {
        let (got,) = tokenize.call(&mut store, (text.clone(),))?;
        ensure!(got == want, "call {i} differs");
    }
    ensure!(store.data().log.len() == 2000, "expected one log message per call");
    Ok(())
}

fn composed_run() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "composed")?;
    // One fused adapter per function of `stats` that the client imports from text-stats.
    let adapters = component.adapter_count();
    ensure!(adapters == 8, "the composition has {adapters} fused adapters, expected 8");
    let imports: Vec<_> = component.imports().filter(|(_, kind)| *kind != "type").collect();
    ensure!(imports == [(LOGGING, "instance")], "composed imports {imports:?}");
    let mut store = Store::new(&engine, State::default());
    let instance = linker_with_log(&engine)?.instantiate(&mut store, &component)?;
    let run = instance.get_func(&mut store, "run").ok_or_else(|| anyhow!("no `run` export"))?;
    let typed = run.typed::<(String,), (String,)>(&store)?;
    for text in texts() {
        store.data_mut().log.clear();
        let got = call1(&mut store, run, &[s(&text)])?;
        let want = report(&text);
        ensure!(got == Val::String(want.clone()), "run({}) gave {got:?}, expected {want:?}", short(&text));
        // Through the fused adapter, text-stats logs once for analyze and once for tokenize.
        let (w, ..) = analyze(&text);
        let want_log = [format!("analyze: {} bytes, {w} words", text.len()), format!("tokenize: {w} tokens")];
        ensure!(store.data().log == want_log, "run({}) logged {:?}", short(&text), store.data().log);
        let (got,) = typed.call(&mut store, (text.clone(),))?;
        ensure!(got == want, "typed run({}) differs", short(&text));
    }
    Ok(())
}

/// The client alone, its `stats` import defined in the linker by host functions that forward
/// to a text-stats instance in the same store (host -> client -> host -> text-stats).
fn client_through_host() -> Result<()> {
    let engine = Engine::default();
    let client = load(&engine, "client")?;
    let (mut store, stats) = instantiate_text_stats(&engine)?;
    let names = ["analyze", "tokenize", "histogram", "parse-int", "find", "classify", "first-kind", "first-token"];
    let mut linker: Linker<State> = Linker::new(&engine);
    {
        let mut iface = linker.instance(STATS)?;
        for name in names {
            let func = stats_func(&mut store, &stats, name)?;
            store.data_mut().forward.insert(name.to_string(), func);
            iface.func_new(name, move |mut store: StoreContextMut<'_, State>, params, results| {
                let func = store.data().forward[name];
                func.call(&mut store, params, results)
            })?;
        }
    }
    let instance = linker.instantiate(&mut store, &client)?;
    let run = instance.get_func(&mut store, "run").ok_or_else(|| anyhow!("no `run` export"))?;
    for text in texts() {
        store.data_mut().log.clear();
        let got = call1(&mut store, run, &[s(&text)])?;
        let want = report(&text);
        ensure!(got == Val::String(want.clone()), "run({}) gave {got:?}, expected {want:?}", short(&text));
        ensure!(store.data().log.len() == 2, "run({}) logged {:?}", short(&text), store.data().log);
    }
    Ok(())
}

// ---- Counters: resources ----

fn mix(h: &mut u32, v: u32) {
    *h = h.wrapping_mul(31).wrapping_add(v);
}

/// The first largest of `values` (index and value), as the `largest` implementations choose it.
fn first_largest(values: &[u32]) -> Option<(usize, u32)> {
    let mut best: Option<(usize, u32)> = None;
    for (i, &v) in values.iter().enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best
}

/// The checksum of the client's `run(n)` (see the comment at the top of
/// tests/toolchain/counter-client.c), computed from the counters' values alone.
fn run_model(n: u32) -> u32 {
    let mut h = 17;
    // 1.
    let mut a: Vec<u32> = (0..n).map(|i| 7 * i + 1).collect();
    mix(&mut h, n);
    // 2.
    for (i, v) in a.iter_mut().enumerate() {
        for _ in 0..=i % 3 {
            *v = v.wrapping_add(1);
            mix(&mut h, *v);
        }
    }
    // 3.
    for i in 1..a.len() {
        a[i] = a[i].wrapping_add(a[i - 1]);
        mix(&mut h, a[i]);
    }
    if let Some(v) = a.first_mut() {
        *v = v.wrapping_mul(2);
        mix(&mut h, *v);
    }
    // 4.
    mix(&mut h, a.iter().fold(0u32, |s, &v| s.wrapping_add(v)));
    // 5.
    let mut m = 0u32;
    for &v in &a {
        m = m.wrapping_add(v);
        mix(&mut h, m);
    }
    mix(&mut h, n + 1);
    // 6.
    let parts: Vec<u32> = (0..n % 4 + 1).map(|k| m.wrapping_add(k)).collect();
    for &p in &parts {
        mix(&mut h, p);
    }
    mix(&mut h, first_largest(&parts).unwrap().1);
    mix(&mut h, n + 1);
    // 7.
    mix(&mut h, 0);
    // 8.
    mix(&mut h, first_largest(&a[..n as usize / 2]).map_or(0, |(_, v)| v));
    mix(&mut h, 0);
    h
}

/// The client's exports.
struct CounterClient {
    run: TypedFunc<(u32,), (u32,)>,
    keep: TypedFunc<(u32,), (u32,)>,
    release: TypedFunc<(), (u32,)>,
    live: TypedFunc<(), (u32,)>,
}

impl CounterClient {
    fn new<T: 'static>(store: &mut Store<T>, instance: &Instance) -> Result<CounterClient> {
        Ok(CounterClient {
            run: instance.get_typed_func(&mut *store, "run")?,
            keep: instance.get_typed_func(&mut *store, "keep")?,
            release: instance.get_typed_func(&mut *store, "release")?,
            live: instance.get_typed_func(&mut *store, "live")?,
        })
    }

    /// Runs `run(n)` for many `n` and checks the checksums and that `run` leaves no counter
    /// alive, then keeps counters across calls (while `run` makes and drops others) and releases
    /// them.
    fn exercise<T: 'static>(&self, store: &mut Store<T>) -> Result<()> {
        ensure!(self.live.call(&mut *store, ())?.0 == 0, "counters exist before the first run");
        for n in (0..=40).chain([100, 257]) {
            let (got,) = self.run.call(&mut *store, (n,))?;
            let want = run_model(n);
            ensure!(got == want, "run({n}) returned {got:#x}, expected {want:#x}");
            let (live,) = self.live.call(&mut *store, ())?;
            ensure!(live == 0, "{live} counters alive after run({n})");
        }
        // Handles kept in the client's table across calls, while `run` makes and drops others.
        let starts = [5, 10, 20, 0, 7];
        for (i, &start) in starts.iter().enumerate() {
            let (kept,) = self.keep.call(&mut *store, (start,))?;
            ensure!(kept == i as u32 + 1, "keep returned {kept} after {} calls", i + 1);
            let (got,) = self.run.call(&mut *store, (i as u32 * 5,))?;
            ensure!(got == run_model(i as u32 * 5), "run({}) with {} kept counters", i * 5, i + 1);
        }
        ensure!(self.live.call(&mut *store, ())?.0 == starts.len() as u32);
        let (sum,) = self.release.call(&mut *store, ())?;
        let want: u32 = starts.iter().map(|s| s + 1).sum();
        ensure!(sum == want, "release returned {sum}, expected {want}");
        ensure!(self.live.call(&mut *store, ())?.0 == 0, "counters alive after release");
        ensure!(self.release.call(&mut *store, ())?.0 == 0, "a second release finds nothing");
        // Many calls: handle indices and the C allocators' memory are reused.
        for _ in 0..300 {
            ensure!(self.run.call(&mut *store, (12,))?.0 == run_model(12));
        }
        ensure!(self.live.call(&mut *store, ())?.0 == 0);
        Ok(())
    }
}

/// The client composed with the C implementation: every call of the client goes through a
/// fused adapter, which moves owned handles (`merge`, `largest`, results of the constructor,
/// `merge`, `split`, `largest`) between the two components' tables and lends borrowed ones.
fn counters_composed() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "counters-composed")?;
    // One fused adapter per function of `counters` the client imports (`[resource-drop]counter`
    // is a built-in, not an adapter).
    let adapters = component.adapter_count();
    ensure!(adapters == 9, "the composition has {adapters} fused adapters, expected 9");
    let imports: Vec<_> = component.imports().filter(|(_, kind)| *kind != "type").collect();
    ensure!(imports.is_empty(), "counters-composed imports {imports:?}");
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    CounterClient::new(&mut store, &instance)?.exercise(&mut store)
}

/// The host's state behind a `counter`.
pub(crate) struct Counter {
    value: u32,
}

/// The store data of the host implementation of `counters`.
#[derive(Default)]
struct CounterHost {
    table: ResourceTable,
    created: u32,
    /// Destructor calls (the client dropped an owned handle).
    dropped: u32,
    /// Counters the host destroyed itself (given to `merge` or `largest`).
    consumed: u32,
}

impl CounterHost {
    fn push(&mut self, value: u32) -> Result<Resource<Counter>> {
        self.created += 1;
        Ok(self.table.push(Counter { value })?)
    }

    fn consume(&mut self, c: Resource<Counter>) -> Result<u32> {
        ensure!(c.owned(), "an own<counter> parameter arrived as a borrow");
        self.consumed += 1;
        Ok(self.table.delete(c)?.value)
    }

    fn value(&self, c: &Resource<Counter>) -> Result<u32> {
        Ok(self.table.get(c)?.value)
    }
}

fn borrowed(c: &Resource<Counter>) -> Result<()> {
    ensure!(!c.owned(), "a borrow<counter> parameter arrived as an owned handle");
    Ok(())
}

/// `kiln-test:counters/counters` implemented by the host: counters in a `ResourceTable`, the
/// destructor deleting them.
fn counters_linker(engine: &Engine) -> Result<Linker<CounterHost>> {
    type Ctx<'a> = StoreContextMut<'a, CounterHost>;
    type C = Resource<Counter>;
    let mut linker: Linker<CounterHost> = Linker::new(engine);
    let mut iface = linker.instance(COUNTERS)?;
    iface.resource("counter", ResourceType::host::<Counter>(), |mut store, rep| {
        let host = store.data_mut();
        host.table.delete(Resource::<Counter>::new_own(rep))?;
        host.dropped += 1;
        Ok(())
    })?;
    iface.func_wrap("[constructor]counter", |mut store: Ctx<'_>, (start,): (u32,)| {
        Ok((store.data_mut().push(start)?,))
    })?;
    iface.func_wrap("[method]counter.inc", |mut store: Ctx<'_>, (this,): (C,)| {
        borrowed(&this)?;
        let c = store.data_mut().table.get_mut(&this)?;
        c.value = c.value.wrapping_add(1);
        Ok((c.value,))
    })?;
    iface.func_wrap("[method]counter.get", |store: Ctx<'_>, (this,): (C,)| {
        borrowed(&this)?;
        Ok((store.data().value(&this)?,))
    })?;
    iface.func_wrap("[method]counter.add", |mut store: Ctx<'_>, (this, other): (C, C)| {
        borrowed(&this)?;
        borrowed(&other)?;
        let v = store.data().value(&other)?;
        let c = store.data_mut().table.get_mut(&this)?;
        c.value = c.value.wrapping_add(v);
        Ok((c.value,))
    })?;
    iface.func_wrap("[static]counter.merge", |mut store: Ctx<'_>, (a, b): (C, C)| {
        borrowed(&b)?;
        let host = store.data_mut();
        let v = host.consume(a)?.wrapping_add(host.value(&b)?);
        Ok((host.push(v)?,))
    })?;
    iface.func_wrap("[method]counter.split", |mut store: Ctx<'_>, (this, n): (C, u32)| {
        borrowed(&this)?;
        let host = store.data_mut();
        let v = host.value(&this)?;
        let parts = (0..n).map(|k| host.push(v.wrapping_add(k))).collect::<Result<Vec<_>>>()?;
        Ok((parts,))
    })?;
    iface.func_wrap("total", |store: Ctx<'_>, (cs,): (Vec<C>,)| {
        let mut sum = 0u32;
        for c in &cs {
            borrowed(c)?;
            sum = sum.wrapping_add(store.data().value(c)?);
        }
        Ok((sum,))
    })?;
    iface.func_wrap("largest", |mut store: Ctx<'_>, (cs,): (Vec<C>,)| {
        let host = store.data_mut();
        let values = cs.iter().map(|c| host.value(c)).collect::<Result<Vec<_>>>()?;
        let best = first_largest(&values).map(|(i, _)| i);
        for (i, c) in cs.iter().enumerate() {
            if Some(i) != best {
                host.consume(*c)?;
            } else {
                ensure!(c.owned(), "an own<counter> parameter arrived as a borrow");
            }
        }
        Ok((best.map(|i| cs[i]),))
    })?;
    iface.func_wrap("live-count", |store: Ctx<'_>, (): ()| Ok((store.data().table.len() as u32,)))?;
    Ok(linker)
}

/// The client with counters implemented by the host: owned handles to host counters move into
/// the client's table and back, borrows are lent to the host for one call, and the client's
/// drops run the host destructor.
fn counters_from_host() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "counter-client")?;
    let imports: Vec<_> = component.imports().filter(|(_, kind)| *kind != "type").collect();
    ensure!(imports == [(COUNTERS, "instance")], "counter-client imports {imports:?}");
    let mut store = Store::new(&engine, CounterHost::default());
    let instance = counters_linker(&engine)?.instantiate(&mut store, &component)?;
    CounterClient::new(&mut store, &instance)?.exercise(&mut store)?;
    let host = store.data();
    ensure!(host.table.is_empty(), "host counters left: {}", host.table.len());
    ensure!(
        host.created == host.dropped + host.consumed,
        "{} counters created, {} dropped by the client, {} consumed by the host",
        host.created,
        host.dropped,
        host.consumed
    );
    ensure!(host.dropped > 0 && host.consumed > 0, "both destructors and host consumption ran");
    // run(0) creates m and one part; `largest` returns that part, and the client drops it and m.
    let before = (host.created, host.dropped, host.consumed);
    let client = CounterClient::new(&mut store, &instance)?;
    ensure!(client.run.call(&mut store, (0,))?.0 == run_model(0));
    let host = store.data();
    let after = (host.created - before.0, host.dropped - before.1, host.consumed - before.2);
    ensure!(after == (2, 2, 0), "run(0): (created, dropped, consumed) = {after:?}");
    // run(1): a[0], m, merge's result, 2 parts; merge consumes m, `largest` one part, and
    // `largest` of a[0 .. 0] nothing; the client drops the larger part, a[0] and m.
    ensure!(client.run.call(&mut store, (1,))?.0 == run_model(1));
    let host = store.data();
    let after = (host.created - before.0 - 2, host.dropped - before.1 - 2, host.consumed - before.2);
    ensure!(after == (5, 3, 2), "run(1): (created, dropped, consumed) = {after:?}");
    ensure!(host.table.is_empty());
    Ok(())
}

/// Handle misuse in the client (see `misuse` in tests/toolchain/wit-counters/counters.wit)
/// traps, whether the counters come from the C implementation (the fused adapter or
/// `resource.drop` finds no handle) or from the host (the host call's lifting finds none); the
/// instance is then poisoned.
fn counters_misuse_traps() -> Result<()> {
    let engine = Engine::default();
    let composed = load(&engine, "counters-composed")?;
    let client = load(&engine, "counter-client")?;
    let host_linker = counters_linker(&engine)?;
    for kind in 0..6u32 {
        for from_host in [false, true] {
            let what = format!("misuse({kind}) with counters from {}", if from_host { "the host" } else { "C" });
            let mut store = Store::new(&engine, CounterHost::default());
            let instance = if from_host {
                host_linker.instantiate(&mut store, &client)?
            } else {
                Linker::new(&engine).instantiate(&mut store, &composed)?
            };
            let exports = CounterClient::new(&mut store, &instance)?;
            let misuse = instance.get_typed_func::<(u32,), (u32,)>(&mut store, "misuse")?;
            let err = match misuse.call(&mut store, (kind,)) {
                Ok((r,)) => bail!("{what} returned {r} instead of trapping"),
                Err(err) => err,
            };
            ensure!(
                err.downcast_ref::<Trap>() == Some(&Trap::UnknownHandle),
                "{what}: not an unknown-handle trap: {err:?}"
            );
            ensure!(format!("{err:?}").contains("unknown handle index"), "{what}: {err:?}");
            ensure!(exports.live.call(&mut store, ()).is_err(), "{what}: the instance is not poisoned");
        }
    }
    Ok(())
}

/// The exports of the C implementation, called by the host.
struct CounterExports {
    new: TypedFunc<(u32,), (ResourceAny,)>,
    inc: TypedFunc<(ResourceAny,), (u32,)>,
    get: TypedFunc<(ResourceAny,), (u32,)>,
    add: TypedFunc<(ResourceAny, ResourceAny), (u32,)>,
    merge: TypedFunc<(ResourceAny, ResourceAny), (ResourceAny,)>,
    split: TypedFunc<(ResourceAny, u32), (Vec<ResourceAny>,)>,
    total: TypedFunc<(Vec<ResourceAny>,), (u32,)>,
    largest: TypedFunc<(Vec<ResourceAny>,), (Option<ResourceAny>,)>,
    live: TypedFunc<(), (u32,)>,
}

/// The C implementation driven by the host: handles it returns are `ResourceAny` values in the
/// host's table, lent back as borrows (the implementation gets its rep), given back as owns, and
/// dropped by the host (running the C destructor).
fn counter_impl_from_host() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "counter-impl")?;
    let imports: Vec<_> = component.imports().filter(|(_, kind)| *kind != "type").collect();
    ensure!(imports.is_empty(), "counter-impl imports {imports:?}");
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate(&mut store, &component)?;
    let iface =
        instance.get_export_index(&mut store, None, COUNTERS).with_context(|| format!("no export `{COUNTERS}`"))?;
    let index = |store: &mut Store<()>, name: &str| -> Result<ExportIndex> {
        instance.get_export_index(&mut *store, Some(&iface), name).with_context(|| format!("no `{name}`"))
    };
    macro_rules! typed {
        ($name:expr) => {{
            let i = index(&mut store, $name)?;
            instance.get_typed_func(&mut store, &i)?
        }};
    }
    let f = CounterExports {
        new: typed!("[constructor]counter"),
        inc: typed!("[method]counter.inc"),
        get: typed!("[method]counter.get"),
        add: typed!("[method]counter.add"),
        merge: typed!("[static]counter.merge"),
        split: typed!("[method]counter.split"),
        total: typed!("total"),
        largest: typed!("largest"),
        live: typed!("live-count"),
    };
    let counter_index = index(&mut store, "counter")?;
    let counter_type = instance.get_resource(&store, &counter_index).context("no resource `counter`")?;
    ensure!(!counter_type.is_host::<Counter>(), "`counter` is a guest type");

    let live = |store: &mut Store<()>| -> Result<u32> { Ok(f.live.call(&mut *store, ())?.0) };
    let (a,) = f.new.call(&mut store, (5,))?;
    let (b,) = f.new.call(&mut store, (10,))?;
    ensure!(a.owned() && a.ty() == counter_type, "the constructor returns an owned counter: {a:?}");
    ensure!(live(&mut store)? == 2);
    ensure!(f.inc.call(&mut store, (a,))?.0 == 6);
    ensure!(f.add.call(&mut store, (a, b))?.0 == 16);
    ensure!(f.add.call(&mut store, (b, b))?.0 == 20, "the same handle lent twice to one call");
    ensure!(f.get.call(&mut store, (b,))?.0 == 20);
    // `merge` consumes `a` (its C destructor runs) and makes a new counter.
    let (c,) = f.merge.call(&mut store, (a, b))?;
    ensure!(live(&mut store)? == 2);
    ensure!(f.get.call(&mut store, (c,))?.0 == 36);
    let (parts,) = f.split.call(&mut store, (c, 3))?;
    ensure!(parts.len() == 3 && parts.iter().all(|p| p.owned() && p.ty() == counter_type));
    ensure!(live(&mut store)? == 5);
    for (k, p) in parts.iter().enumerate() {
        ensure!(f.get.call(&mut store, (*p,))?.0 == 36 + k as u32);
    }
    let mut all = vec![b, c];
    all.extend(&parts);
    ensure!(f.total.call(&mut store, (all,))?.0 == 20 + 36 + 36 + 37 + 38);
    ensure!(f.split.call(&mut store, (c, 0))?.0.is_empty());
    // `largest` keeps the largest part (38) and destroys the others.
    let (best,) = f.largest.call(&mut store, (parts,))?;
    let best = best.context("largest of three counters returned none")?;
    ensure!(f.get.call(&mut store, (best,))?.0 == 38);
    ensure!(live(&mut store)? == 3);
    ensure!(f.largest.call(&mut store, (vec![],))?.0.is_none());
    // Dropped by the host: the C destructor runs.
    for r in [b, c, best] {
        r.resource_drop(&mut store)?;
    }
    ensure!(live(&mut store)? == 0, "every counter is destroyed");
    // Many counters at once.
    let many: Vec<ResourceAny> =
        (0..1000).map(|i| f.new.call(&mut store, (i,)).map(|(r,)| r)).collect::<Result<_>>()?;
    ensure!(live(&mut store)? == 1000);
    ensure!(f.total.call(&mut store, (many.clone(),))?.0 == (0..1000).sum::<u32>());
    let (best,) = f.largest.call(&mut store, (many,))?;
    let best = best.context("largest of 1000 counters returned none")?;
    ensure!(f.get.call(&mut store, (best,))?.0 == 999);
    best.resource_drop(&mut store)?;
    ensure!(live(&mut store)? == 0);
    // A handle given away is gone from the host's table.
    let err = f.get.call(&mut store, (a,)).unwrap_err();
    ensure!(format!("{err:?}").contains("unknown handle index"), "a consumed handle is gone: {err:?}");
    Ok(())
}

pub fn trials() -> Vec<Trial> {
    let skip = std::env::var("KILN_SKIP_TOOLCHAIN_TESTS").is_ok_and(|v| v == "1");
    type Test = fn() -> Result<()>;
    let tests: [(&str, Test); 18] = [
        ("text_stats_analyze_and_log", text_stats_analyze_and_log),
        ("text_stats_tokenize", text_stats_tokenize),
        ("text_stats_histogram", text_stats_histogram),
        ("text_stats_parse_int", text_stats_parse_int),
        ("text_stats_find", text_stats_find),
        ("text_stats_classify_and_first", text_stats_classify_and_first),
        ("text_stats_many_calls", text_stats_many_calls),
        ("composed_run", composed_run),
        ("client_through_host", client_through_host),
        ("counters_composed", counters_composed),
        ("counters_from_host", counters_from_host),
        ("counters_misuse_traps", counters_misuse_traps),
        ("counter_impl_from_host", counter_impl_from_host),
        ("bindgen_text_stats", bindgen::text_stats),
        ("bindgen_text_stats_store_flag", bindgen::text_stats_store_flag),
        ("bindgen_trappable_import_error_traps", bindgen::trappable_import_error_traps),
        ("bindgen_counter_client_with_host_counters", bindgen::counter_client_with_host_counters),
        ("bindgen_counter_impl_resources", bindgen::counter_impl_resources),
    ];
    tests
        .into_iter()
        .map(|(name, f)| {
            Trial::test(format!("toolchain::{name}"), move || f().map_err(|e| Failed::from(format!("{e:?}"))))
                .with_ignored_flag(skip)
        })
        .collect()
}
