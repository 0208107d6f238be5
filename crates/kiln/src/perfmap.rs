//! `/tmp/perf-PID.map`: names for JIT code that `perf report` reads (`ProfilingStrategy::PerfMap`).

use kiln_runtime::CodeMemory;
use std::io::Write;
use std::sync::Mutex;

static PERF_MAP: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Appends one line per function of `code`: `START SIZE wasm[MODULE]::NAME`.
pub(crate) fn register(code: &CodeMemory) {
    let info = code.info();
    let base = code.base() as usize;
    let module = info.module_name.as_deref().unwrap_or("<module>");
    let mut text = String::new();
    for (defined, range) in info.functions.iter().enumerate() {
        let index = info.first_defined_func + defined as u32;
        let name = match info.func_names.get(index) {
            Some(name) => name.to_string(),
            None => format!("<wasm function {index}>"),
        };
        text.push_str(&format!("{:x} {:x} wasm[{module}]::{name}\n", base + range.start as usize, range.len()));
    }
    let mut file = PERF_MAP.lock().unwrap_or_else(|e| e.into_inner());
    if file.is_none() {
        let path = format!("/tmp/perf-{}.map", std::process::id());
        *file = std::fs::OpenOptions::new().create(true).append(true).open(&path).ok();
    }
    // A profiling aid: when the map cannot be written, profiles just show unnamed addresses.
    if let Some(file) = file.as_mut() {
        let _ = file.write_all(text.as_bytes());
    }
}
