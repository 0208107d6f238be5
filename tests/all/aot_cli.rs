//! `kiln compile` and `kiln run X.cwasm` through the real `kiln` binary, and the CLI's compile
//! cache (on by default, off with `--no-cache` or `-C cache=n`).
//!
//! The binary is built first with the cargo that built this test binary, into the same target
//! directory and profile (a no-op when it is up to date), so the test never runs a stale CLI.

use crate::aot::{TempDir, files_in};
use anyhow::{Context, Result, bail, ensure};
use libtest_mimic::{Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `kiln` binary next to this test binary, built once per test run.
fn kiln_binary() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(|| build_kiln().map_err(|e| format!("{e:?}"))).clone().map_err(anyhow::Error::msg)
}

fn build_kiln() -> Result<PathBuf> {
    // This binary is `<target>/<profile dir>/deps/all-<hash>`.
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().and_then(Path::parent).context("unexpected test binary location")?;
    let target_dir = profile_dir.parent().context("unexpected test binary location")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(name) => name.to_string(),
        None => bail!("unexpected test binary location {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "kiln-cli", "--bin", "kiln", "--profile", &profile, "--target-dir"])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .context("failed to run cargo to build the kiln binary")?;
    ensure!(status.success(), "building the kiln binary failed");
    let binary = profile_dir.join("kiln");
    ensure!(binary.exists(), "{} was not built", binary.display());
    Ok(binary)
}

/// Runs `kiln args...` in `dir` with the cache in `dir/cache`.
fn kiln(dir: &Path, args: &[&str]) -> Result<Output> {
    let output = Command::new(kiln_binary()?)
        .args(args)
        .current_dir(dir)
        .env("KILN_CACHE_DIR", dir.join("cache"))
        .env_remove("RUST_BACKTRACE")
        .output()
        .context("failed to run kiln")?;
    Ok(output)
}

/// Runs `kiln args...` expecting success, and returns its standard output.
fn kiln_ok(dir: &Path, args: &[&str]) -> Result<String> {
    let out = kiln(dir, args)?;
    ensure!(
        out.status.success(),
        "kiln {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Runs `kiln args...` expecting failure, and returns its standard error.
fn kiln_err(dir: &Path, args: &[&str]) -> Result<String> {
    let out = kiln(dir, args)?;
    ensure!(!out.status.success(), "kiln {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    Ok(String::from_utf8(out.stderr)?)
}

fn example(dir: &Path, name: &str) -> Result<()> {
    let from = format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(&from, dir.join(name)).with_context(|| format!("copying {from}"))?;
    Ok(())
}

fn compile_then_run_cwasm() -> Result<()> {
    let tmp = TempDir::new("cli-compile")?;
    let dir = tmp.path();
    example(dir, "fib.wat")?;

    kiln_ok(dir, &["compile", "fib.wat"])?;
    let cwasm = std::fs::read(dir.join("fib.cwasm")).context("kiln compile wrote no fib.cwasm")?;
    ensure!(cwasm.starts_with(b"\0kilnaot"), "fib.cwasm is not a precompiled file");
    ensure!(kiln_ok(dir, &["run", "--invoke", "fib", "fib.cwasm", "20"])? == "6765\n", "fib(20) from fib.cwasm");

    // -o, and the codegen options of `run`: the file only runs with matching options.
    kiln_ok(dir, &["compile", "-O", "0", "--fuel", "1", "fib.wat", "-o", "fib-fuel.cwasm"])?;
    let err = kiln_err(dir, &["run", "--invoke", "fib", "fib-fuel.cwasm", "20"])?;
    ensure!(err.contains("consume_fuel=true") && err.contains("recompile"), "mismatch error: {err}");
    let out = kiln_ok(dir, &["run", "-O", "0", "--fuel", "1000000", "--invoke", "fib", "fib-fuel.cwasm", "20"])?;
    ensure!(out == "6765\n", "fib(20) with fuel: {out}");
    let err = kiln_err(dir, &["run", "-O", "0", "--fuel", "100", "--invoke", "fib", "fib-fuel.cwasm", "20"])?;
    ensure!(err.contains("fuel"), "running out of fuel: {err}");

    // A damaged file is an error, not a crash.
    std::fs::write(dir.join("cut.cwasm"), &cwasm[..cwasm.len() / 2])?;
    let err = kiln_err(dir, &["run", "--invoke", "fib", "cut.cwasm", "20"])?;
    ensure!(err.contains("failed to load precompiled module") && err.contains("corrupt"), "truncated file: {err}");

    // Components too.
    example(dir, "greet.wat")?;
    kiln_ok(dir, &["compile", "greet.wat", "-o", "greet.cwasm"])?;
    let out = kiln_ok(dir, &["run", "--invoke", "greet(\"aot\")", "greet.cwasm"])?;
    ensure!(out == "\"Hello, aot!\"\n", "greet from greet.cwasm: {out}");
    let err = kiln_err(dir, &["compile", "greet.cwasm"])?;
    ensure!(err.contains("already precompiled"), "compiling a .cwasm: {err}");
    Ok(())
}

fn run_uses_the_cache_unless_disabled() -> Result<()> {
    let tmp = TempDir::new("cli-cache")?;
    let dir = tmp.path();
    example(dir, "fib.wat")?;
    let cache = dir.join("cache");

    for flags in [&["--no-cache"][..], &["-C", "cache=n"]] {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--invoke", "fib", "fib.wat", "10"]);
        ensure!(kiln_ok(dir, &args)? == "55\n", "fib(10) with {flags:?}");
        ensure!(files_in(&cache).is_empty(), "{flags:?} wrote to the cache: {:?}", files_in(&cache));
    }

    ensure!(kiln_ok(dir, &["run", "--invoke", "fib", "fib.wat", "10"])? == "55\n", "cold run");
    let entries = files_in(&cache);
    ensure!(entries.len() == 1, "one entry expected after a cold run: {entries:?}");
    let written = std::fs::metadata(&entries[0])?.modified()?;
    let original = std::fs::read(&entries[0])?;
    // The CLI compresses entries (zstd frames).
    ensure!(original.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]), "the entry is not compressed");
    ensure!(kiln_ok(dir, &["run", "--invoke", "fib", "fib.wat", "10"])? == "55\n", "warm run");
    ensure!(files_in(&cache) == entries, "the warm run changed the cache: {:?}", files_in(&cache));
    ensure!(std::fs::metadata(&entries[0])?.modified()? == written, "the warm run rewrote the entry");

    // A corrupt entry is replaced, and the program still runs.
    std::fs::write(&entries[0], b"garbage")?;
    ensure!(kiln_ok(dir, &["run", "--invoke", "fib", "fib.wat", "10"])? == "55\n", "run over a corrupt entry");
    ensure!(std::fs::read(&entries[0])? == original, "the corrupt entry was not replaced");

    // `-C cache-compression=n` writes a plain entry, which a default run then uses as it is.
    std::fs::remove_file(&entries[0])?;
    let plain = ["run", "-C", "cache-compression=n", "--invoke", "fib", "fib.wat", "10"];
    ensure!(kiln_ok(dir, &plain)? == "55\n", "run with cache-compression=n");
    let written = std::fs::read(&entries[0])?;
    ensure!(written.starts_with(b"\0kilnaot"), "cache-compression=n wrote a compressed entry");
    ensure!(kiln_ok(dir, &["run", "--invoke", "fib", "fib.wat", "10"])? == "55\n", "run over a plain entry");
    ensure!(std::fs::read(&entries[0])? == written, "a plain entry was replaced");

    // Other options are another entry.
    kiln_ok(dir, &["run", "-O", "0", "--invoke", "fib", "fib.wat", "10"])?;
    ensure!(files_in(&cache).len() == 2, "-O 0 should add an entry: {:?}", files_in(&cache));
    Ok(())
}

/// `kiln run --profile perfmap` writes `/tmp/perf-PID.map` naming every compiled function, as
/// `perf report` expects (`START SIZE NAME`, hexadecimal).
fn profile_perfmap_names_functions() -> Result<()> {
    let dir = TempDir::new("perfmap")?;
    let wat = r#"(module $prof (func $helper (result i32) (i32.const 41))
        (func (export "answer") (result i32) (i32.add (call $helper) (i32.const 1))))"#;
    std::fs::write(dir.path().join("prof.wat"), wat)?;
    let child = Command::new(kiln_binary()?)
        .args(["run", "--no-cache", "--profile", "perfmap", "--invoke", "answer", "prof.wat"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("failed to run kiln")?;
    let map_path = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let out = child.wait_with_output()?;
    ensure!(out.status.success() && String::from_utf8(out.stdout)?.trim() == "42", "kiln run failed");
    let map = std::fs::read_to_string(&map_path).with_context(|| format!("no {}", map_path.display()));
    let _ = std::fs::remove_file(&map_path);
    let map = map?;
    let names: Vec<&str> = map.lines().filter_map(|l| l.splitn(3, ' ').nth(2)).collect();
    ensure!(names.contains(&"wasm[prof]::helper"), "map: {map}");
    for line in map.lines() {
        let mut fields = line.splitn(3, ' ');
        let (start, size) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        ensure!(usize::from_str_radix(start, 16).is_ok() && usize::from_str_radix(size, 16).is_ok_and(|s| s > 0));
    }
    Ok(())
}

/// A `.cwasm` large enough to be mapped runs; with one bit of its code flipped, `kiln run` traps
/// with a message when it first touches that chunk, before running any of it. Another runtime's
/// `.cwasm` is refused with an error that says so.
fn corrupt_mapped_code_never_runs() -> Result<()> {
    let temp = TempDir::new("cli-corrupt-code")?;
    let dir = temp.path();
    std::fs::write(dir.join("large.wasm"), crate::aot_large::generate(3000))?;
    kiln_ok(dir, &["compile", "large.wasm"])?;
    let args = ["run", "--invoke", "dispatch", "large.cwasm", "2999", "5"];
    ensure!(kiln_ok(dir, &args)? == "3005\n", "dispatch from large.cwasm");
    let mut bytes = std::fs::read(dir.join("large.cwasm"))?;
    let at = crate::aot_large::last_code_byte(&bytes)?;
    bytes[at] ^= 0x01;
    std::fs::write(dir.join("large.cwasm"), &bytes)?;
    // The last chunk of mapped code is checked at load: refused before anything runs.
    let err = kiln_err(dir, &args)?;
    ensure!(err.contains("code is corrupt") && err.contains("recompile it"), "{err}");
    // An earlier chunk is checked when first touched: calling into it is a trap.
    // (A chunk holds a few hundred of these functions: every 25th one finds it.)
    bytes[at] ^= 0x01;
    bytes[at - 2 * kiln_environ::CHECK_CHUNK] ^= 0x01;
    std::fs::write(dir.join("large.cwasm"), &bytes)?;
    let mut trapped = false;
    for i in (0..3000).rev().step_by(25) {
        let arg = i.to_string();
        let run = kiln(dir, &["run", "--invoke", "dispatch", "large.cwasm", &arg, "5"])?;
        if run.status.success() {
            continue;
        }
        let stderr = String::from_utf8_lossy(&run.stderr);
        ensure!(run.status.code() == Some(134), "f{i}: {:?}: {stderr}", run.status);
        ensure!(stderr.contains("precompiled code is corrupt") && stderr.contains("recompile it"), "{stderr}");
        trapped = true;
        break;
    }
    ensure!(trapped, "no function of the corrupt chunk trapped");

    // Another runtime's precompiled file (an ELF object) is refused, saying what it is.
    std::fs::write(dir.join("other.cwasm"), b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0")?;
    let err = kiln_err(dir, &["run", "other.cwasm"])?;
    ensure!(err.contains("ELF file") && err.contains("kiln compile"), "{err}");
    Ok(())
}

pub fn trials() -> Vec<Trial> {
    type Test = fn() -> Result<()>;
    let tests: [(&str, Test); 4] = [
        ("corrupt_mapped_code_never_runs", corrupt_mapped_code_never_runs),
        ("compile_then_run_cwasm", compile_then_run_cwasm),
        ("run_uses_the_cache_unless_disabled", run_uses_the_cache_unless_disabled),
        ("profile_perfmap_names_functions", profile_perfmap_names_functions),
    ];
    tests
        .into_iter()
        .map(|(name, f)| {
            Trial::test(format!("aot_cli::{name}"), move || f().map_err(|e| Failed::from(format!("{e:?}"))))
        })
        .collect()
}
