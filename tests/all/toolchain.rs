//! Components built by real toolchains (`wit-bindgen c`, clang with wasi-libc, `wasm-tools
//! component new` and `wasm-tools compose`) from `tests/toolchain/`, run by kiln and checked
//! against results computed here in Rust.
//!
//! `scripts/build-test-components` builds them into `target/test-components/` (`scripts/test`
//! runs it first). A missing component is a failure, not a skip: set
//! `KILN_SKIP_TOOLCHAIN_TESTS=1` to mark these tests ignored on a machine without the tools.

use anyhow::{Context, Result, anyhow, bail, ensure};
use kiln::component::{Component, Func, Instance, Linker, Val};
use kiln::{Engine, Store, StoreContextMut};
use libtest_mimic::{Failed, Trial};
use std::collections::BTreeMap;
use std::num::IntErrorKind;
use std::path::PathBuf;

const STATS: &str = "kiln-test:text/stats@0.1.0";
const LOGGING: &str = "kiln-test:text/logging@0.1.0";

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

pub fn trials() -> Vec<Trial> {
    let skip = std::env::var("KILN_SKIP_TOOLCHAIN_TESTS").is_ok_and(|v| v == "1");
    type Test = fn() -> Result<()>;
    let tests: [(&str, Test); 9] = [
        ("text_stats_analyze_and_log", text_stats_analyze_and_log),
        ("text_stats_tokenize", text_stats_tokenize),
        ("text_stats_histogram", text_stats_histogram),
        ("text_stats_parse_int", text_stats_parse_int),
        ("text_stats_find", text_stats_find),
        ("text_stats_classify_and_first", text_stats_classify_and_first),
        ("text_stats_many_calls", text_stats_many_calls),
        ("composed_run", composed_run),
        ("client_through_host", client_through_host),
    ];
    tests
        .into_iter()
        .map(|(name, f)| {
            Trial::test(format!("toolchain::{name}"), move || f().map_err(|e| Failed::from(format!("{e:?}"))))
                .with_ignored_flag(skip)
        })
        .collect()
}
