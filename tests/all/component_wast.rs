//! kiln's component wast suite: every `tests/component-wast/*.wast` script, one test each, run
//! by `kiln-wast` and counted per directive like the spec suite.
//!
//! Adding a test is adding a file; `tests/component-wast/generate.py` writes the `types-*`
//! scripts.

use crate::tally::Tally;
use kiln::{Engine, Store};
use kiln_wast::WastContext;
use libtest_mimic::{Failed, Trial};
use std::path::{Path, PathBuf};

/// Directive counts over every component script that ran.
static SUMMARY: Tally = Tally::new();

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
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A script's `;;!` lines (e.g. `;;! component_model_implements = false`) configure its engine.
    let mut config = kiln::Config::new();
    kiln_wast::apply_config_directives(&mut config, &text).map_err(|e| format!("{e:?}"))?;
    let engine = Engine::new(&config).map_err(|e| format!("{e:?}"))?;
    let mut cx = WastContext::new(Store::new(&engine, ()));
    let stats = cx.run_buffer(&path.display().to_string(), &text).map_err(|e| format!("{e:?}"))?;
    SUMMARY.record(stats)
}

/// Prints the directive counts of every component script that ran (nothing if none did).
pub fn print_summary() {
    SUMMARY.print("component wast suite");
}
