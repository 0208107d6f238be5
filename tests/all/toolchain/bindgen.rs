//! `bindgen!` on the toolchain tests' WIT, run against the components built from C: typed host
//! traits for imports (logging; counters as a host resource with `Resource<T>` mapped to the
//! host's own type by `with`), typed wrappers for exports (text statistics with records,
//! flags, enums, variants, options and results; counters as a guest resource through
//! `ResourceAny`). Results are checked against the Rust models in `toolchain.rs`.

use super::{
    Counter, CounterHost, Token, analyze, borrowed, features, first_kind, first_largest, first_token, histogram, load,
    parse_int, run_model, texts, words,
};
use anyhow::{Result, ensure};
use kiln::component::{HasSelf, Linker, Resource, ResourceAny};
use kiln::{Engine, Store};

mod text {
    kiln::component::bindgen!({ path: "toolchain/wit", world: "text-stats" });
}

mod text_with_store {
    kiln::component::bindgen!({
        path: "toolchain/wit",
        world: "text-stats",
        imports: { "kiln-test:text/logging@0.1.0.log": store },
    });
}

mod text_trappable {
    kiln::component::bindgen!({ path: "toolchain/wit", world: "text-stats", trappable_imports: true });
}

mod counter_client {
    kiln::component::bindgen!({
        path: "toolchain/wit-counters",
        world: "counter-client",
        imports: { default: trappable },
        with: { "kiln-test:counters/counters/counter": crate::toolchain::Counter },
    });
}

mod counter_impl {
    kiln::component::bindgen!("counter-impl" in "toolchain/wit-counters");
}

use text::exports::kiln_test::text::stats::{CharKind, Features, ParseError, Summary, Token as WitToken};

#[derive(Default)]
struct Logs(Vec<String>);

impl text::kiln_test::text::logging::Host for Logs {
    fn log(&mut self, msg: String) {
        self.0.push(msg);
    }
}

/// Every function of `stats` through the generated wrappers, against the models.
pub fn text_stats() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "text-stats")?;
    let mut linker = Linker::new(&engine);
    text::TextStats::add_to_linker::<_, HasSelf<_>>(&mut linker, |logs| logs)?;
    let mut store = Store::new(&engine, Logs::default());
    let bindings = text::TextStats::instantiate(&mut store, &component, &linker)?;
    let stats = bindings.kiln_test_text_stats();
    for text in texts() {
        store.data_mut().0.clear();
        let Summary { words: w, lines, longest } = stats.call_analyze(&mut store, &text)?;
        let (want_words, want_lines, want_longest) = analyze(&text);
        ensure!((w, lines, &longest) == (want_words, want_lines, &want_longest), "analyze");
        let want_log = format!("analyze: {} bytes, {w} words", text.len());
        ensure!(store.data().0 == [want_log], "logged {:?}", store.data().0);
        ensure!(stats.call_tokenize(&mut store, &text)? == words(&text), "tokenize");
        let want = match parse_int(&text) {
            Ok(n) => Ok(n),
            Err("empty") => Err(ParseError::Empty),
            Err("invalid-digit") => Err(ParseError::InvalidDigit),
            Err(_) => Err(ParseError::Overflow),
        };
        ensure!(stats.call_parse_int(&mut store, &text)? == want, "parse-int");
        let mut want = Features::empty();
        for f in features(&text) {
            want |= match f {
                "has-digit" => Features::HAS_DIGIT,
                "has-upper" => Features::HAS_UPPER,
                "has-lower" => Features::HAS_LOWER,
                "has-space" => Features::HAS_SPACE,
                _ => Features::HAS_NON_ASCII,
            };
        }
        ensure!(stats.call_classify(&mut store, &text)? == want, "classify");
        let kind = stats.call_first_kind(&mut store, &text)?;
        let want = match first_kind(&text) {
            "none" => CharKind::None,
            "letter" => CharKind::Letter,
            "digit" => CharKind::Digit,
            "space" => CharKind::Space,
            "punct" => CharKind::Punct,
            _ => CharKind::Other,
        };
        ensure!(kind == want, "first-kind of {text:?}: {kind:?}");
        let got = stats.call_first_token(&mut store, &text)?;
        let ok = match (first_token(&text), &got) {
            (Token::Number(a), WitToken::Number(b)) => a == *b,
            (Token::Word(a), WitToken::Word(b)) => a == *b,
            (Token::Empty, WitToken::Empty) => true,
            _ => false,
        };
        ensure!(ok, "first-token of {text:?}: {got:?}");
        let needle = words(&text).last().map(|w| w.to_string()).unwrap_or_default();
        ensure!(stats.call_find(&mut store, &text, &needle)? == text.find(&needle).map(|i| i as u32), "find");
    }
    let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    ensure!(stats.call_histogram(&mut store, &data)? == histogram(&data), "histogram");
    Ok(())
}

use counter_client::kiln_test::counters::counters::{Host as CountersHost, HostCounter};

impl HostCounter for CounterHost {
    fn new(&mut self, start: u32) -> Result<Resource<Counter>> {
        self.push(start)
    }
    fn inc(&mut self, this: Resource<Counter>) -> Result<u32> {
        borrowed(&this)?;
        let c = self.table.get_mut(&this)?;
        c.value = c.value.wrapping_add(1);
        Ok(c.value)
    }
    fn get(&mut self, this: Resource<Counter>) -> Result<u32> {
        borrowed(&this)?;
        self.value(&this)
    }
    fn add(&mut self, this: Resource<Counter>, other: Resource<Counter>) -> Result<u32> {
        borrowed(&this)?;
        borrowed(&other)?;
        let v = self.value(&other)?;
        let c = self.table.get_mut(&this)?;
        c.value = c.value.wrapping_add(v);
        Ok(c.value)
    }
    fn merge(&mut self, a: Resource<Counter>, b: Resource<Counter>) -> Result<Resource<Counter>> {
        borrowed(&b)?;
        let v = self.consume(a)?.wrapping_add(self.value(&b)?);
        self.push(v)
    }
    fn split(&mut self, this: Resource<Counter>, n: u32) -> Result<Vec<Resource<Counter>>> {
        borrowed(&this)?;
        let v = self.value(&this)?;
        (0..n).map(|k| self.push(v.wrapping_add(k))).collect()
    }
    fn drop(&mut self, rep: Resource<Counter>) -> Result<()> {
        self.table.delete(rep)?;
        self.dropped += 1;
        Ok(())
    }
}

impl CountersHost for CounterHost {
    fn total(&mut self, cs: Vec<Resource<Counter>>) -> Result<u32> {
        let mut sum = 0u32;
        for c in &cs {
            borrowed(c)?;
            sum = sum.wrapping_add(self.value(c)?);
        }
        Ok(sum)
    }
    fn largest(&mut self, cs: Vec<Resource<Counter>>) -> Result<Option<Resource<Counter>>> {
        let values = cs.iter().map(|c| self.value(c)).collect::<Result<Vec<_>>>()?;
        let best = first_largest(&values).map(|(i, _)| i);
        for (i, c) in cs.iter().enumerate() {
            if Some(i) != best {
                self.consume(*c)?;
            }
        }
        Ok(best.map(|i| cs[i]))
    }
    fn live_count(&mut self) -> Result<u32> {
        Ok(self.table.len() as u32)
    }
}

/// The C client using counters that the host implements through the generated traits.
pub fn counter_client_with_host_counters() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "counter-client")?;
    let mut linker = Linker::new(&engine);
    counter_client::CounterClient::add_to_linker::<_, HasSelf<_>>(&mut linker, |host| host)?;
    let mut store = Store::new(&engine, CounterHost::default());
    let pre = counter_client::CounterClientPre::new(linker.instantiate_pre(&component)?)?;
    let client = pre.instantiate(&mut store)?;
    for n in (0..=30).chain([100]) {
        ensure!(client.call_run(&mut store, n)? == run_model(n), "run({n})");
        ensure!(client.call_live(&mut store)? == 0, "counters alive after run({n})");
    }
    for (i, start) in [5, 10, 20].into_iter().enumerate() {
        ensure!(client.call_keep(&mut store, start)? == i as u32 + 1);
    }
    ensure!(client.call_release(&mut store)? == 6 + 11 + 21);
    let host = store.data();
    ensure!(host.table.is_empty(), "host counters left: {}", host.table.len());
    ensure!(host.created == host.dropped + host.consumed && host.dropped > 0 && host.consumed > 0);
    // A trappable import's error becomes a trap: `misuse` makes the host see a bad handle.
    let err = client.call_misuse(&mut store, 0).unwrap_err();
    ensure!(format!("{err:?}").contains("unknown handle index"), "{err:?}");
    Ok(())
}

/// The C implementation of counters driven by the host through the generated `Guest` wrappers:
/// owned and borrowed `ResourceAny` handles, lists of them, and the destructor.
pub fn counter_impl_resources() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "counter-impl")?;
    let mut store = Store::new(&engine, ());
    let bindings = counter_impl::CounterImpl::instantiate(&mut store, &component, &Linker::new(&engine))?;
    let counters = bindings.kiln_test_counters_counters();
    let counter = counters.counter();
    let a: ResourceAny = counter.call_constructor(&mut store, 5)?;
    ensure!(counter.call_inc(&mut store, a)? == 6);
    let b = counter.call_constructor(&mut store, 10)?;
    ensure!(counter.call_add(&mut store, a, b)? == 16);
    let m = counter.call_merge(&mut store, a, b)?;
    ensure!(counter.call_get(&mut store, m)? == 26);
    let parts = counter.call_split(&mut store, m, 3)?;
    ensure!(parts.len() == 3 && counters.call_total(&mut store, &parts)? == 26 * 3 + 3);
    ensure!(counters.call_live_count(&mut store)? == 5, "b, m and three parts are alive");
    let largest = counters.call_largest(&mut store, &parts)?.expect("a largest counter");
    ensure!(counter.call_get(&mut store, largest)? == 28);
    ensure!(counters.call_live_count(&mut store)? == 3, "largest consumed the other two parts");
    for handle in [largest, m, b] {
        handle.resource_drop(&mut store)?;
    }
    ensure!(counters.call_live_count(&mut store)? == 0, "the destructors ran");
    Ok(())
}

/// The host state of `text_with_store`: the log, and how many log calls saw the store.
#[derive(Default)]
struct StoreLogs {
    lines: Vec<String>,
    store_calls: u32,
}

impl text_with_store::kiln_test::text::logging::Host for StoreLogs {}

impl text_with_store::kiln_test::text::logging::HostWithStore for HasSelf<StoreLogs> {
    fn log<T: 'static>(mut host: kiln::component::Access<'_, T, Self>, msg: String) {
        host.get().lines.push(msg);
        // The store itself is reachable too (here, to count the calls that used it).
        let mut store = kiln::AsContextMut::as_context_mut(&mut host);
        let _ = store.data_mut();
        host.get().store_calls += 1;
    }
}

/// An import with the `store` flag: generated into `HostWithStore`, called with an `Access`.
pub fn text_stats_store_flag() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "text-stats")?;
    let mut linker = Linker::new(&engine);
    text_with_store::TextStats::add_to_linker::<_, HasSelf<StoreLogs>>(&mut linker, |logs| logs)?;
    let mut store = Store::new(&engine, StoreLogs::default());
    let bindings = text_with_store::TextStats::instantiate(&mut store, &component, &linker)?;
    let summary = bindings.kiln_test_text_stats().call_analyze(&mut store, "two words")?;
    ensure!(summary.words == 2);
    ensure!(store.data().lines == ["analyze: 9 bytes, 2 words"], "{:?}", store.data().lines);
    ensure!(store.data().store_calls == 1);
    Ok(())
}

/// A host that refuses to log.
struct RefusingLogs;

impl text_trappable::kiln_test::text::logging::Host for RefusingLogs {
    fn log(&mut self, msg: String) -> Result<()> {
        anyhow::bail!("the host refused to log {msg:?}")
    }
}

/// A trappable import's `Err` traps the component that called it: the export fails with the
/// host's error, and the instance cannot be entered again.
pub fn trappable_import_error_traps() -> Result<()> {
    let engine = Engine::default();
    let component = load(&engine, "text-stats")?;
    let mut linker = Linker::new(&engine);
    text_trappable::TextStats::add_to_linker::<_, HasSelf<_>>(&mut linker, |h| h)?;
    let mut store = Store::new(&engine, RefusingLogs);
    let bindings = text_trappable::TextStats::instantiate(&mut store, &component, &linker)?;
    let stats = bindings.kiln_test_text_stats();
    let err = stats.call_analyze(&mut store, "a b").unwrap_err();
    ensure!(format!("{err:?}").contains("the host refused to log \"analyze: 3 bytes, 2 words\""), "{err:?}");
    let again = stats.call_analyze(&mut store, "a b").unwrap_err();
    ensure!(
        again.downcast_ref::<kiln::Trap>() == Some(&kiln::Trap::CannotEnterComponent),
        "a trapped instance must stay poisoned: {again:?}"
    );
    Ok(())
}
