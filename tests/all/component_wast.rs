//! kiln's component wast suite: every `tests/component-wast/*.wast` script, one test each, run
//! by `kiln-wast` and counted per directive like the spec suite.
//!
//! Adding a test is adding a file; `tests/component-wast/generate.py` writes the `types-*`
//! scripts.

use kiln::{Engine, Store};
use kiln_wast::{WastContext, WastStats};
use libtest_mimic::{Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Directive counts over every component script that ran.
static SUMMARY: Mutex<Option<(usize, WastStats)>> = Mutex::new(None);

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("component-wast")
}

pub fn trials() -> Vec<Trial> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/component-wast exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wast"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = format!("component_wast::{}", path.file_name().unwrap().to_string_lossy());
            Trial::test(name, move || run(&path))
        })
        .collect()
}

fn run(path: &Path) -> Result<(), Failed> {
    let engine = Engine::default();
    let mut cx = WastContext::new(Store::new(&engine, ()));
    let stats = cx.run_file(path).map_err(|e| format!("{e:?}"))?;
    let result = stats.check();
    {
        let mut summary = SUMMARY.lock().unwrap_or_else(|e| e.into_inner());
        let (files, total) = summary.get_or_insert_with(Default::default);
        *files += 1;
        let mut counts = stats;
        counts.failures.clear();
        total.merge(counts);
    }
    result.map_err(|e| Failed::from(format!("{e:?}")))
}

/// Prints the directive counts of every component script that ran (nothing if none did).
pub fn print_summary() {
    let summary = SUMMARY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((files, total)) = &*summary {
        println!("component wast suite: {files} scripts, {total}");
    }
}
