//! Computes kiln's build id: a hash of the sources of every crate that shapes generated code
//! (and of `Cargo.lock`, which pins Cranelift, and the compiler's version). Precompiled modules
//! and compile-cache entries record it, so code compiled by a different kiln is never loaded.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The crates whose sources affect what compiled code looks like or how it is loaded.
const CRATES: [&str; 5] = ["environ", "cranelift", "fact", "runtime", "kiln"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let crates_dir = manifest.parent().expect("crates/kiln has a parent").to_path_buf();
    let mut files = Vec::new();
    for name in CRATES {
        let dir = crates_dir.join(name);
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        println!("cargo:rerun-if-changed={}", dir.join("Cargo.toml").display());
        collect(&dir.join("src"), &mut files);
        files.push(dir.join("Cargo.toml"));
    }
    let lock = crates_dir.parent().map(|root| root.join("Cargo.lock"));
    if let Some(lock) = lock.filter(|l| l.exists()) {
        println!("cargo:rerun-if-changed={}", lock.display());
        files.push(lock);
    }
    files.sort();

    let mut hash = Sha256::new();
    for file in &files {
        // Paths relative to `crates/`, so the id does not depend on where the checkout lives.
        let relative = file.strip_prefix(&crates_dir).unwrap_or(file);
        hash.update(relative.to_string_lossy().as_bytes());
        hash.update([0]);
        let contents = std::fs::read(file).unwrap_or_default();
        hash.update((contents.len() as u64).to_le_bytes());
        hash.update(&contents);
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    if let Ok(out) = std::process::Command::new(rustc).arg("--version").output() {
        hash.update(&out.stdout);
    }
    let id: String = hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=KILN_BUILD_ID={id}");
}

/// Every file under `dir`, recursively.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
