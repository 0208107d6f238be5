//! The official Component Model test suite (`../shared/testsuites/component-model`, next to
//! the repository; `$KILN_COMPONENT_MODEL_SUITE` names another copy): every `.wast` file, one
//! test each, run by `kiln-wast` and counted per directive, with a per-file summary at the end.
//!
//! `tests/component-suite-expected-failures.txt` lists what is known to fail, with the reason.
//! A file that fails must be covered by it, and an entry must still be needed: a listed file
//! that passes completely, or a listed directive that passes, fails its test so the list
//! shrinks as kiln grows. A panic inside kiln is never expected. Without the suite the tests are
//! ignored (with a notice), not failed.

use kiln::{Engine, Store};
use kiln_wast::{WastContext, WastStats};
use libtest_mimic::{Failed, Trial};
use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const EXPECTED_FAILURES: &str = include_str!("../component-suite-expected-failures.txt");

/// Runner messages of a directive that failed only because an earlier one did (its module
/// failed to compile or instantiate): after any earlier failure in the file, these need no
/// entry of their own.
const CASCADES: &[&str] =
    &["no current module instance", "no definition named", "no instance named", "no definition to instantiate"];

fn suite_dir() -> PathBuf {
    let dir = match std::env::var_os("KILN_COMPONENT_MODEL_SUITE") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuites/component-model"),
    };
    dir.canonicalize().unwrap_or(dir)
}

/// What the expected-failures file says.
#[derive(Default)]
struct Expectations {
    /// `folder/`: its files may fail, but only with errors that mention the folder's name.
    folders: BTreeMap<String, String>,
    /// `folder/file.wast`: may fail in any way (but must not pass completely), with optionally
    /// the number of directives that pass today (at least) and the file's total.
    files: BTreeMap<String, FileEntry>,
    /// `folder/file.wast:LINE`: the directive starting on that line must fail.
    directives: BTreeMap<String, BTreeMap<usize, String>>,
}

struct FileEntry {
    /// `(passed, total)`: at least `passed` of `total` directives pass.
    counts: Option<(usize, usize)>,
    reason: String,
}

fn parse_expectations(text: &str) -> Result<Expectations, String> {
    let mut out = Expectations::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |msg: &str| format!("component-suite-expected-failures.txt:{}: {msg}", n + 1);
        let (what, rest) = line.split_once(char::is_whitespace).ok_or_else(|| at("every entry needs a reason"))?;
        let mut rest = rest.trim();
        let mut counts = None;
        if let Some((first, tail)) = rest.split_once(char::is_whitespace)
            && let Some((passed, total)) = first.split_once('/')
            && let (Ok(passed), Ok(total)) = (passed.parse::<usize>(), total.parse::<usize>())
        {
            if passed > total {
                return Err(at("more passing directives than directives"));
            }
            counts = Some((passed, total));
            rest = tail.trim();
        }
        let reason = rest.trim_start_matches(['—', '-']).trim().to_string();
        if reason.is_empty() {
            return Err(at("every entry needs a reason"));
        }
        let duplicate = if let Some(folder) = what.strip_suffix('/') {
            if counts.is_some() {
                return Err(at("a folder entry has no directive counts"));
            }
            out.folders.insert(format!("{folder}/"), reason).is_some()
        } else if let Some((file, line_no)) = what.rsplit_once(':') {
            let line_no = line_no.parse().map_err(|_| at("bad line number"))?;
            if counts.is_some() {
                return Err(at("a directive entry has no directive counts"));
            }
            out.directives.entry(file.to_string()).or_default().insert(line_no, reason).is_some()
        } else {
            out.files.insert(what.to_string(), FileEntry { counts, reason }).is_some()
        };
        if duplicate {
            return Err(at(&format!("`{what}` is listed twice")));
        }
    }
    Ok(out)
}

/// How one file went.
enum Ran {
    /// Every directive ran (some may have failed).
    Stats(WastStats),
    /// The file could not be run at all (it does not parse), or kiln panicked outside a
    /// directive.
    Error(String),
}

/// A file's verdict: `Ok(note)` if its outcome is what the list expects.
fn judge(key: &str, ran: &Ran, expect: &Expectations) -> Result<&'static str, String> {
    let file = expect.files.get(key);
    let listed_lines = expect.directives.get(key);
    let folder = expect.folders.keys().find(|f| key.starts_with(f.as_str())).map(|f| f.trim_end_matches('/'));
    let mentions_folder = |message: &str| folder.is_some_and(|f| message.to_lowercase().contains(&f.to_lowercase()));
    let stats = match ran {
        // (Only a file entry covers a file that does not run: its error names the file's path.)
        Ran::Error(err) if !err.starts_with("kiln panicked") && file.is_some() => return Ok("expected failure"),
        Ran::Error(err) => return Err(format!("{key} did not run: {err}")),
        Ran::Stats(stats) => stats,
    };
    let mut problems = Vec::new();
    // Listed directives must still fail.
    if let Some(lines) = listed_lines {
        for (line, reason) in lines {
            if !stats.failures.iter().any(|f| f.line == *line) {
                problems.push(format!(
                    "{key}:{line} is listed as failing ({reason}), but no directive starting on that \
                     line failed: remove it from tests/component-suite-expected-failures.txt"
                ));
            }
        }
    }
    let mut earlier_failure = false;
    // A call that failed naming an unsupported feature leaves its instance unenterable, like a
    // trap: later calls into it fail with "cannot enter component instance".
    let mut earlier_unsupported = false;
    // Whether some failure needs the file's own entry (the folder rule and the directive entries
    // do not cover it).
    let mut needs_file_entry = false;
    for failure in &stats.failures {
        let message = failure.message.split("Stack backtrace:").next().unwrap_or_default();
        let panicked = message.starts_with("kiln panicked");
        let cascade = earlier_failure && CASCADES.iter().any(|c| message.contains(c))
            || earlier_unsupported
                && message.split_once(", got ").is_some_and(|(_, got)| got.contains("cannot enter component instance"));
        let implied = cascade || mentions_folder(message);
        earlier_failure = true;
        earlier_unsupported |= message.contains("unsupported feature");
        let line_entry = listed_lines.and_then(|lines| lines.get(&failure.line));
        if let Some(reason) = line_entry
            && implied
        {
            problems.push(format!(
                "{key}:{} is listed ({reason}), but its failure needs no entry (it mentions the \
                 folder or follows an earlier failure): remove it from \
                 tests/component-suite-expected-failures.txt",
                failure.line
            ));
        }
        if panicked {
            problems.push(format!("kiln panicked: {failure}"));
        } else if !implied && line_entry.is_none() {
            needs_file_entry = true;
            if file.is_none() {
                problems.push(format!("unexpected failure: {failure}"));
            }
        }
    }
    if let Some(entry) = file {
        if stats.is_ok() {
            problems.push(format!(
                "{key} is listed as failing ({}) but passes: remove it from \
                 tests/component-suite-expected-failures.txt",
                entry.reason
            ));
        } else if !needs_file_entry {
            problems.push(format!(
                "{key} is listed as failing ({}), but its failures need no entry of its own (the \
                 folder entry or its directive entries cover them): remove it from \
                 tests/component-suite-expected-failures.txt",
                entry.reason
            ));
        }
        if let Some((passed, total)) = entry.counts {
            if stats.total() != total {
                problems
                    .push(format!("{key} has {} directives, the list says {total}: update its entry", stats.total()));
            } else if stats.passed < passed {
                problems.push(format!(
                    "{key}: {} of {total} directives pass, the list says at least {passed} did",
                    stats.passed
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(format!("{stats}\n  {}", problems.join("\n  ")));
    }
    Ok(if stats.is_ok() { "ok" } else { "expected failure" })
}

/// Per-file results of the files that ran, printed after the run.
static SUMMARY: Mutex<BTreeMap<String, (Option<WastStats>, &'static str)>> = Mutex::new(BTreeMap::new());

fn record(key: &str, ran: &Ran, verdict: &Result<&'static str, String>) {
    let counts = match ran {
        Ran::Stats(stats) => {
            let mut counts = stats.clone();
            counts.failures.clear();
            Some(counts)
        }
        Ran::Error(_) => None,
    };
    let note = match verdict {
        Ok(note) => note,
        Err(_) => "UNEXPECTED",
    };
    SUMMARY.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), (counts, note));
}

/// Every `.wast` file under `dir`, as `(path relative to dir with `/`, full path)`, sorted.
fn wast_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "wast") {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let key = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                out.push((key, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn trials() -> Vec<Trial> {
    let expect = match parse_expectations(EXPECTED_FAILURES) {
        Ok(expect) => Arc::new(expect),
        Err(e) => return vec![Trial::test("component_suite::expected-failures", move || Err(e.clone().into()))],
    };
    let dir = suite_dir();
    let files = match wast_files(&dir) {
        Ok(files) if !files.is_empty() => files,
        result => {
            let why = match result {
                Err(e) => e.to_string(),
                Ok(_) => "no .wast files".to_string(),
            };
            eprintln!(
                "note: the Component Model test suite is not at {} ({why}): its tests are ignored",
                dir.display()
            );
            return vec![Trial::test("component_suite::suite-missing", || Ok(())).with_ignored_flag(true)];
        }
    };
    let mut trials = Vec::new();
    // Every entry of the list names something in the suite.
    let keys: Vec<String> = files.iter().map(|(key, _)| key.clone()).collect();
    let listed = {
        let expect = expect.clone();
        move || -> Result<(), Failed> {
            let mut stale = Vec::new();
            for folder in expect.folders.keys() {
                if !keys.iter().any(|k| k.starts_with(folder.as_str())) {
                    stale.push(folder.clone());
                }
            }
            for file in expect.files.keys().chain(expect.directives.keys()) {
                if !keys.contains(file) {
                    stale.push(file.clone());
                }
            }
            if stale.is_empty() {
                Ok(())
            } else {
                Err(format!("listed in the expected failures but not in the suite: {}", stale.join(", ")).into())
            }
        }
    };
    trials.push(Trial::test("component_suite::expected-failures", listed));
    for (key, path) in files {
        let expect = expect.clone();
        trials.push(Trial::test(format!("component_suite::{key}"), move || {
            let ran = run(&key, &path);
            let verdict = judge(&key, &ran, &expect);
            record(&key, &ran, &verdict);
            verdict.map(drop).map_err(Failed::from)
        }));
    }
    trials
}

/// Runs one file in a fresh store; failures name it by `key`. A panic that escapes the runner
/// (which already catches them per directive) becomes an error instead of ending the test
/// binary.
fn run(key: &str, path: &Path) -> Ran {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return Ran::Error(format!("failed to read {}: {e}", path.display())),
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let engine = Engine::default();
        let mut cx = WastContext::new(Store::new(&engine, ()));
        cx.run_buffer(key, &text)
    }));
    match result {
        Ok(Ok(stats)) => Ran::Stats(stats),
        Ok(Err(e)) => Ran::Error(format!("{e:#}")),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string panic payload>".to_string());
            Ran::Error(format!("kiln panicked: {msg}"))
        }
    }
}

/// Prints each file's directive counts and the totals (nothing if no file ran).
pub fn print_summary() {
    let summary = SUMMARY.lock().unwrap_or_else(|e| e.into_inner());
    if summary.is_empty() {
        return;
    }
    println!("component-model suite ({}):", suite_dir().display());
    let width = summary.keys().map(|k| k.len()).max().unwrap_or(0);
    let mut total = WastStats::default();
    let mut notes: HashMap<&str, usize> = HashMap::new();
    for (key, (counts, note)) in summary.iter() {
        *notes.entry(note).or_default() += 1;
        match counts {
            Some(counts) => {
                println!(
                    "  {key:width$}  {:4} directives: {:4} passed, {:4} failed, {:3} unsupported  [{note}]",
                    counts.total(),
                    counts.passed,
                    counts.failed,
                    counts.unsupported
                );
                total.merge(counts.clone());
            }
            None => println!("  {key:width$}  did not run  [{note}]"),
        }
    }
    let count = |note: &str| notes.get(note).copied().unwrap_or(0);
    println!(
        "component-model suite: {} files ({} pass, {} expected failures, {} unexpected), {total}",
        summary.len(),
        count("ok"),
        count("expected failure"),
        count("UNEXPECTED")
    );
}
