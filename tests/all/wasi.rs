//! WASI preview 1 programs written in C (`tests/wasi-programs/`, built by
//! `scripts/build-wasi-programs` into `target/wasi-programs/`) run by kiln, through the API
//! with kiln-wasi (`wasi::api::*`) and through the `kiln` binary (`wasi::cli::*`), comparing
//! stdout, stderr, the exit status or trap, and the files left in a temporary directory with
//! what `tests/wasi-programs/manifest.json` and `NAME.stdout` expect. `wasi::cli_options::*`
//! covers `kiln run`'s other options with small text modules.
//!
//! A missing program is a failure, not a skip: set `KILN_SKIP_TOOLCHAIN_TESTS=1` to mark the
//! program tests ignored on a machine without clang and wasi-libc.

use anyhow::{Context, Result, anyhow, bail, ensure};
use kiln::{Engine, Linker, Module, Store};
use kiln_wasi::pipe::{MemoryInputPipe, MemoryOutputPipe};
use kiln_wasi::{I32Exit, WasiCtx, WasiCtxBuilder};
use libtest_mimic::{Failed, Trial};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub(super) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sources() -> PathBuf {
    repo().join("tests/wasi-programs")
}

pub(super) fn program_path(name: &str) -> Result<PathBuf> {
    let path = repo().join("target/wasi-programs").join(name);
    if !path.exists() {
        bail!(
            "{} is missing: build it with ./scripts/build-wasi-programs (clang and wasi-libc come from \
             ./scripts/setup), or set KILN_SKIP_TOOLCHAIN_TESTS=1 to skip the WASI program tests",
            path.display()
        );
    }
    Ok(path)
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Exit(i32),
    /// A trap whose message contains this text.
    Trap(String),
}

/// What the temporary directory must hold afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

/// One program of the manifest (see its `_doc`).
#[derive(Debug, Clone)]
pub(super) struct Program {
    pub(super) name: String,
    pub(super) args: Vec<String>,
    pub(super) env: Vec<(String, String)>,
    pub(super) stdin: String,
    pub(super) dirs: Vec<(String, String)>,
    pub(super) files: Vec<(String, String)>,
    pub(super) symlinks: Vec<(String, String)>,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
    pub(super) outcome: Outcome,
    pub(super) tree: Option<BTreeMap<String, Node>>,
    pub(super) cli: bool,
    /// The manifest's `p2`: why its component is not run, if it is not.
    pub(super) p2_skip: Option<String>,
    /// The manifest's `p2.exit_code`: the exit status of its component, where it differs.
    pub(super) p2_exit_code: Option<i32>,
}

fn strings(value: Option<&Value>) -> Result<Vec<String>> {
    let Some(value) = value else { return Ok(Vec::new()) };
    value
        .as_array()
        .context("expected an array")?
        .iter()
        .map(|v| v.as_str().map(str::to_string).context("expected a string"))
        .collect()
}

fn pairs(value: Option<&Value>) -> Result<Vec<(String, String)>> {
    let Some(value) = value else { return Ok(Vec::new()) };
    if let Some(object) = value.as_object() {
        return object
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_str().context("expected a string")?.to_string())))
            .collect();
    }
    value
        .as_array()
        .context("expected an array of pairs or an object")?
        .iter()
        .map(|pair| match strings(Some(pair))?.as_slice() {
            [a, b] => Ok((a.clone(), b.clone())),
            _ => bail!("expected a [string, string] pair"),
        })
        .collect()
}

fn node(value: &Value) -> Result<Node> {
    if let Some(text) = value.as_str() {
        return Ok(match text {
            "<dir>" => Node::Dir,
            _ => match text.strip_prefix("-> ") {
                Some(target) => Node::Symlink(target.to_string()),
                None => Node::File(text.as_bytes().to_vec()),
            },
        });
    }
    // {"zeros": N, "then": "text"}: binary contents.
    let zeros = value.get("zeros").and_then(Value::as_u64).context("expected a string or {zeros, then}")?;
    let mut bytes = vec![0u8; zeros as usize];
    bytes.extend_from_slice(value.get("then").and_then(Value::as_str).unwrap_or("").as_bytes());
    Ok(Node::File(bytes))
}

fn parse_program(name: &str, spec: &Value) -> Result<Program> {
    let stdout = match spec.get("stdout_lines") {
        Some(lines) => {
            let pattern = lines.get("pattern").and_then(Value::as_str).context("stdout_lines.pattern")?;
            let count = lines.get("count").and_then(Value::as_u64).context("stdout_lines.count")?;
            (0..count).flat_map(|i| format!("{}\n", pattern.replace("{i}", &i.to_string())).into_bytes()).collect()
        }
        None => {
            let path = sources().join(format!("{name}.stdout"));
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
        }
    };
    let stderr = std::fs::read(sources().join(format!("{name}.stderr"))).unwrap_or_default();
    let outcome = match spec.get("trap").and_then(Value::as_str) {
        Some(message) => Outcome::Trap(message.to_string()),
        None => Outcome::Exit(spec.get("exit_code").and_then(Value::as_i64).unwrap_or(0) as i32),
    };
    let tree = match spec.get("tree").and_then(Value::as_object) {
        Some(entries) => Some(entries.iter().map(|(k, v)| Ok((k.clone(), node(v)?))).collect::<Result<_>>()?),
        None => None,
    };
    Ok(Program {
        name: name.to_string(),
        args: strings(spec.get("args")).context("args")?,
        env: pairs(spec.get("env")).context("env")?,
        stdin: spec.get("stdin").and_then(Value::as_str).unwrap_or("").to_string(),
        dirs: pairs(spec.get("dirs")).context("dirs")?,
        files: pairs(spec.get("files")).context("files")?,
        symlinks: pairs(spec.get("symlinks")).context("symlinks")?,
        stdout,
        stderr,
        outcome,
        tree,
        cli: spec.get("cli").and_then(Value::as_bool).unwrap_or(false),
        p2_skip: spec.pointer("/p2/skip").and_then(Value::as_str).map(str::to_string),
        p2_exit_code: spec.pointer("/p2/exit_code").and_then(Value::as_i64).map(|c| c as i32),
    })
}

pub(super) fn load_manifest() -> Result<Vec<Program>> {
    let path = sources().join("manifest.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let programs = manifest.as_object().context("the manifest is an object")?;
    programs
        .iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .map(|(name, spec)| parse_program(name, spec).with_context(|| format!("manifest entry `{name}`")))
        .collect()
}

/// A temporary directory removed on drop.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> Result<TempDir> {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("kiln-wasi-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The temporary directory's starting contents: `sandbox/`, `outside/secret.txt`, and the
/// program's files and symlinks.
pub(super) fn prepare(program: &Program, root: &Path) -> Result<()> {
    std::fs::create_dir_all(root.join("sandbox"))?;
    std::fs::create_dir_all(root.join("outside"))?;
    std::fs::write(root.join("outside/secret.txt"), "secret\n")?;
    for (path, contents) in &program.files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().context("file in the root")?)?;
        std::fs::write(&path, contents)?;
    }
    for (path, target) in &program.symlinks {
        std::os::unix::fs::symlink(target, root.join(path))?;
    }
    Ok(())
}

fn read_tree(root: &Path, dir: &Path, tree: &mut BTreeMap<String, Node>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = path.strip_prefix(root)?.to_string_lossy().into_owned();
        let ty = entry.file_type()?;
        if ty.is_symlink() {
            tree.insert(name, Node::Symlink(std::fs::read_link(&path)?.to_string_lossy().into_owned()));
        } else if ty.is_dir() {
            tree.insert(name, Node::Dir);
            read_tree(root, &path, tree)?;
        } else {
            tree.insert(name, Node::File(std::fs::read(&path)?));
        }
    }
    Ok(())
}

pub(super) fn check_tree(program: &Program, root: &Path) -> Result<()> {
    let Some(expected) = &program.tree else { return Ok(()) };
    let mut actual = BTreeMap::new();
    read_tree(root, root, &mut actual)?;
    for (path, node) in expected {
        match actual.get(path) {
            Some(found) if found == node => {}
            Some(found) => bail!("`{path}` should be {node:?}, found {found:?}"),
            None => bail!("`{path}` is missing (expected {node:?})"),
        }
    }
    if let Some(extra) = actual.keys().find(|path| !expected.contains_key(*path)) {
        bail!("unexpected `{extra}` in the directory: {:?}", actual[extra]);
    }
    Ok(())
}

/// Compares output, with the first differing line when they differ.
pub(super) fn check_output(what: &str, expected: &[u8], actual: &[u8]) -> Result<()> {
    if expected == actual {
        return Ok(());
    }
    let (expected, actual) = (String::from_utf8_lossy(expected), String::from_utf8_lossy(actual));
    let line = expected.lines().zip(actual.lines()).position(|(e, a)| e != a);
    match line {
        Some(i) => bail!(
            "{what} differs at line {}:\n  expected: {:?}\n  actual:   {:?}",
            i + 1,
            expected.lines().nth(i).unwrap_or(""),
            actual.lines().nth(i).unwrap_or("")
        ),
        None => bail!(
            "{what} differs in length: expected {} lines ({} bytes), got {} lines ({} bytes); actual:\n{}",
            expected.lines().count(),
            expected.len(),
            actual.lines().count(),
            actual.len(),
            actual.chars().take(2000).collect::<String>()
        ),
    }
}

/// Runs a program through the API, with in-memory stdio.
fn run_api(program: &Program) -> Result<()> {
    let engine = Engine::default();
    let module = Module::from_file(&engine, program_path(&format!("{}.wasm", program.name))?)?;
    let root = TempDir::new(&program.name)?;
    prepare(program, &root.0)?;

    let (stdout, stderr) = (MemoryOutputPipe::new(), MemoryOutputPipe::new());
    let mut builder = WasiCtxBuilder::new();
    builder
        .arg(format!("{}.wasm", program.name))
        .args(&program.args)
        .stdin(MemoryInputPipe::new(program.stdin.as_bytes()))
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    for (name, value) in &program.env {
        builder.env(name, value);
    }
    for (host, guest) in &program.dirs {
        builder.preopened_dir(root.0.join(host), guest)?;
    }
    let mut linker = Linker::new(&engine);
    kiln_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    let mut store = Store::new(&engine, builder.build());
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    let outcome = match start.call(&mut store, ()) {
        Ok(()) => Outcome::Exit(0),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Outcome::Exit(exit.0),
            None if e.is::<kiln::Trap>() => {
                let backtrace = e.downcast_ref::<kiln::WasmBacktrace>().context("a trap carries a backtrace")?;
                ensure!(
                    backtrace.frames().iter().any(|f| f.func_name() == Some("_start")),
                    "the trap's backtrace reaches _start: {backtrace}"
                );
                Outcome::Trap(format!("{e:?}"))
            }
            None => return Err(e.context("the program failed without a trap or an exit")),
        },
    };
    check_outcome(&program.outcome, &outcome)?;
    check_output("stdout", &program.stdout, &stdout.contents())?;
    check_output("stderr", &program.stderr, &stderr.contents())?;
    check_tree(program, &root.0)
}

pub(super) fn check_outcome(expected: &Outcome, actual: &Outcome) -> Result<()> {
    match (expected, actual) {
        (Outcome::Trap(message), Outcome::Trap(report)) if report.contains(message.as_str()) => Ok(()),
        (Outcome::Exit(e), Outcome::Exit(a)) if e == a => Ok(()),
        _ => bail!("expected {expected:?}, got {actual:?}"),
    }
}

/// The `kiln` binary of this build profile, built once per test process (cargo makes it up
/// to date; the test binary cannot depend on a binary target).
pub(super) fn kiln_binary() -> Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            // target/<profile>/deps/all-<hash>
            let profile_dir = exe.parent().and_then(Path::parent).ok_or("unexpected test binary location")?;
            let target_dir = profile_dir.parent().ok_or("unexpected test binary location")?;
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "--quiet", "-p", "kiln-cli", "--bin", "kiln", "--target-dir"]).arg(target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.current_dir(repo()).status().map_err(|e| format!("running cargo build: {e}"))?;
            if !status.success() {
                return Err(format!("cargo build -p kiln-cli failed: {status}"));
            }
            Ok(profile_dir.join("kiln"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

pub(super) struct CliRun {
    pub(super) code: i32,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: String,
}

pub(super) fn kiln(args: &[&str], stdin: &str, cwd: &Path) -> Result<CliRun> {
    let mut child = Command::new(kiln_binary()?)
        .args(args)
        .current_dir(cwd)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting kiln")?;
    let mut input = child.stdin.take().context("stdin")?;
    let text = stdin.to_string();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut input, text.as_bytes()));
    let output = child.wait_with_output()?;
    writer.join().map_err(|_| anyhow!("stdin writer panicked"))??;
    Ok(CliRun {
        code: output.status.code().context("kiln was killed by a signal")?,
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs a program through `kiln run`, with `--dir` and `--env`.
pub(super) fn run_cli(program: &Program, wasm: &Path) -> Result<()> {
    let root = TempDir::new(&format!("cli-{}", program.name))?;
    prepare(program, &root.0)?;
    let mut args: Vec<String> = vec!["run".into()];
    for (host, guest) in &program.dirs {
        args.push(format!("--dir={host}::{guest}"));
    }
    for (name, value) in &program.env {
        args.push(format!("--env={name}={value}"));
    }
    args.push(wasm.to_string_lossy().into_owned());
    args.extend(program.args.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = kiln(&args, &program.stdin, &root.0)?;
    match &program.outcome {
        Outcome::Exit(code) => {
            ensure!(run.code == *code, "exit status {} (expected {code}); stderr:\n{}", run.code, run.stderr);
            check_output("stderr", &program.stderr, run.stderr.as_bytes())?;
        }
        Outcome::Trap(message) => {
            ensure!(run.code == 134, "a trap exits with 134, got {}; stderr:\n{}", run.code, run.stderr);
            ensure!(run.stderr.contains(message.as_str()), "stderr names the trap `{message}`:\n{}", run.stderr);
            ensure!(run.stderr.contains("wasm backtrace"), "stderr has a wasm backtrace:\n{}", run.stderr);
        }
    }
    check_output("stdout", &program.stdout, &run.stdout)?;
    check_tree(program, &root.0)
}

// ---- kiln run's other options, on small text modules ----

fn write_module(dir: &Path, name: &str, text: &str) -> Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path.to_string_lossy().into_owned())
}

fn expect_run(args: &[&str], code: i32, stdout: &str) -> Result<CliRun> {
    let run = kiln(args, "", &repo())?;
    ensure!(
        run.code == code,
        "`kiln {}` exited with {} (expected {code}); stderr:\n{}",
        args.join(" "),
        run.code,
        run.stderr
    );
    check_output("stdout", stdout.as_bytes(), &run.stdout)?;
    Ok(run)
}

fn readme_fib() -> Result<()> {
    expect_run(&["run", "examples/fib.wat", "--invoke", "fib", "20"], 0, "6765\n")?;
    Ok(())
}

fn opt_levels() -> Result<()> {
    for level in ["0", "1", "2", "s", "opt-level=0", "opt-level=2"] {
        expect_run(&["run", "-O", level, "examples/fib.wat", "--invoke", "fib", "20"], 0, "6765\n")?;
    }
    let run = kiln(&["run", "-O", "fast", "examples/fib.wat"], "", &repo())?;
    ensure!(run.code != 0 && run.stderr.contains("unknown optimisation level"), "bad -O: {}", run.stderr);
    Ok(())
}

fn max_memory_size() -> Result<()> {
    let dir = TempDir::new("max-memory")?;
    let grow = write_module(
        &dir.0,
        "grow.wat",
        r#"(module (memory 1) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
    )?;
    // Two pages allowed: growing by one works, by two returns -1 as in wasmtime.
    expect_run(&["run", "--max-memory-size", "131072", &grow, "--invoke", "grow", "1"], 0, "1\n")?;
    expect_run(&["run", "--max-memory-size", "131072", &grow, "--invoke", "grow", "2"], 0, "-1\n")?;
    expect_run(&["run", &grow, "--invoke", "grow", "2"], 0, "1\n")?;
    let big = write_module(&dir.0, "big.wat", r#"(module (memory 4) (func (export "_start")))"#)?;
    let run = kiln(&["run", "--max-memory-size", "131072", &big], "", &repo())?;
    ensure!(
        run.code == 1 && run.stderr.contains("exceeds the memory limit"),
        "initial size over the limit: {}",
        run.stderr
    );
    Ok(())
}

fn preload() -> Result<()> {
    let dir = TempDir::new("preload")?;
    let lib = write_module(
        &dir.0,
        "lib.wat",
        r#"(module (func (export "double") (param i32) (result i32) local.get 0 i32.const 2 i32.mul))"#,
    )?;
    let main = write_module(
        &dir.0,
        "main.wat",
        r#"(module
             (import "lib" "double" (func $double (param i32) (result i32)))
             (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
             (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
             (memory (export "memory") 1)
             (data (i32.const 16) "hi from main\n")
             (func (export "_start")
               (i32.store (i32.const 0) (i32.const 16))
               (i32.store (i32.const 4) (i32.const 13))
               (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
               (call $exit (call $double (i32.const 3))))
             (func (export "triple") (param i32) (result i32)
               (i32.add (local.get 0) (call $double (local.get 0)))))"#,
    )?;
    let preload = format!("lib={lib}");
    expect_run(&["run", "--preload", &preload, &main], 6, "hi from main\n")?;
    expect_run(&["run", "--preload", &preload, &main, "--invoke", "triple", "7"], 0, "21\n")?;
    let run = kiln(&["run", &main], "", &repo())?;
    ensure!(
        run.code == 1 && run.stderr.contains("cannot satisfy import `lib::double`"),
        "missing preload: {}",
        run.stderr
    );
    Ok(())
}

/// A component's interface function named every way `--invoke` accepts: bare, with the
/// interface (unversioned), with the version before the function (`iface@1.0.0.f`) and after it
/// (`iface.f@1.0.0`, the reference runtime's spelling).
fn component_invoke_names() -> Result<()> {
    let dir = TempDir::new("invoke-names")?;
    let component = write_module(
        &dir.0,
        "calc.wat",
        r#"(component
             (core module $m (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
             (core instance $i (instantiate $m))
             (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
             (instance $calc (export "add" (func $add)))
             (export "kiln:test/calc@1.0.0" (instance $calc)))"#,
    )?;
    for name in ["add", "kiln:test/calc.add", "kiln:test/calc@1.0.0.add", "kiln:test/calc.add@1.0.0"] {
        let invoke = format!("{name}(40, 2)");
        expect_run(&["run", "--invoke", &invoke, &component], 0, "42\n")?;
    }
    for (name, error) in [
        ("kiln:test/calc.add@2.0.0", "no exported function `kiln:test/calc.add@2.0.0`"),
        ("kiln:test/other.add@1.0.0", "no exported function"),
    ] {
        let run = kiln(&["run", "--invoke", &format!("{name}(1, 2)"), &component], "", &repo())?;
        ensure!(run.code == 1 && run.stderr.contains(error), "--invoke {name}: {}", run.stderr);
    }
    Ok(())
}

fn guest_args_after_file() -> Result<()> {
    let args_env = program_path("args_env.wasm")?;
    let args_env = args_env.to_string_lossy();
    // Options between the file and the first argument are kiln's; everything after the first
    // argument is the program's.
    let run = kiln(&["run", &args_env, "--env", "A=1", "x", "--env", "B=2"], "", &repo())?;
    ensure!(run.code == 0, "exit status {}: {}", run.code, run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    ensure!(stdout.contains("argv[1]: x\nargv[2]: --env\nargv[3]: B=2\n"), "guest argv:\n{stdout}");
    ensure!(stdout.contains("environ: A=1\n") && !stdout.contains("environ: B=2"), "environment:\n{stdout}");
    Ok(())
}

// ---- API details the C programs do not reach ----

fn run_wat(text: &str) -> Result<(Result<()>, Vec<u8>)> {
    let engine = Engine::default();
    let module = Module::new(&engine, text)?;
    let stdout = MemoryOutputPipe::new();
    let mut linker = Linker::new(&engine);
    kiln_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    let mut store = Store::new(&engine, WasiCtxBuilder::new().stdout(stdout.clone()).build());
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    let result = start.call(&mut store, ());
    Ok((result, stdout.contents()))
}

fn missing_memory_export() -> Result<()> {
    let (result, _) = run_wat(
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
             (memory 1)
             (func (export "_start") (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))))"#,
    )?;
    let err = result.err().context("fd_write without an exported memory must fail")?;
    ensure!(format!("{err:?}").contains("export its memory as `memory`"), "message: {err:?}");
    Ok(())
}

fn proc_exit_statuses() -> Result<()> {
    let exit_with = |code: i32| {
        run_wat(&format!(
            r#"(module
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (func (export "_start") (call $exit (i32.const {code}))))"#
        ))
    };
    let (result, _) = exit_with(0)?;
    ensure!(result.as_ref().err().and_then(|e| e.downcast_ref::<I32Exit>()) == Some(&I32Exit(0)), "exit 0: {result:?}");
    let (result, _) = exit_with(125)?;
    ensure!(result.as_ref().err().and_then(|e| e.downcast_ref::<I32Exit>()) == Some(&I32Exit(125)), "exit 125");
    let (result, _) = exit_with(126)?;
    let err = result.err().context("exit 126 must fail")?;
    ensure!(err.downcast_ref::<I32Exit>().is_none(), "126 is not a valid status");
    ensure!(format!("{err:?}").contains("invalid exit status 126"), "message: {err:?}");
    Ok(())
}

fn fd_write_iovecs() -> Result<()> {
    // Two iovecs, one of them empty, and a result written back to memory; then EFAULT for an
    // iovec reaching one byte past the end of memory.
    let (result, stdout) = run_wat(
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (data (i32.const 100) "abc")
             (data (i32.const 200) "def\n")
             (func (export "_start")
               (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 3))
               (i32.store (i32.const 8) (i32.const 300)) (i32.store (i32.const 12) (i32.const 0))
               (i32.store (i32.const 16) (i32.const 200)) (i32.store (i32.const 20) (i32.const 4))
               (if (i32.ne (call $fd_write (i32.const 1) (i32.const 0) (i32.const 3) (i32.const 24)) (i32.const 0))
                 (then unreachable))
               (if (i32.ne (i32.load (i32.const 24)) (i32.const 7)) (then unreachable))
               (i32.store (i32.const 0) (i32.const 65535)) (i32.store (i32.const 4) (i32.const 2))
               ;; errno 21 is EFAULT
               (if (i32.ne (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 24)) (i32.const 21))
                 (then unreachable))))"#,
    )?;
    result?;
    ensure!(stdout == b"abcdef\n", "stdout: {:?}", String::from_utf8_lossy(&stdout));
    Ok(())
}

pub fn trials() -> Vec<Trial> {
    let skip = std::env::var("KILN_SKIP_TOOLCHAIN_TESTS").is_ok_and(|v| v == "1");
    let wrap = |f: fn() -> Result<()>| move || f().map_err(|e| Failed::from(format!("{e:?}")));
    let mut trials = vec![
        Trial::test("wasi::api::missing_memory_export", wrap(missing_memory_export)),
        Trial::test("wasi::api::proc_exit_statuses", wrap(proc_exit_statuses)),
        Trial::test("wasi::api::fd_write_iovecs", wrap(fd_write_iovecs)),
        Trial::test("wasi::api::random_calls", wrap(random_calls)),
        Trial::test("wasi::cli_options::readme_fib", wrap(readme_fib)),
        Trial::test("wasi::cli_options::opt_levels", wrap(opt_levels)),
        Trial::test("wasi::cli_options::max_memory_size", wrap(max_memory_size)),
        Trial::test("wasi::cli_options::preload", wrap(preload)),
        Trial::test("wasi::cli_options::component_invoke_names", wrap(component_invoke_names)),
        Trial::test("wasi::cli_options::guest_args_after_file", wrap(guest_args_after_file)).with_ignored_flag(skip),
    ];
    let programs = match load_manifest() {
        Ok(programs) => programs,
        Err(e) => {
            let message = format!("{e:?}");
            trials.push(Trial::test("wasi::manifest", move || Err(Failed::from(message.clone()))));
            return trials;
        }
    };
    for program in programs {
        let p = program.clone();
        trials.push(
            Trial::test(format!("wasi::api::{}", program.name), move || {
                run_api(&p).map_err(|e| Failed::from(format!("{e:?}")))
            })
            .with_ignored_flag(skip),
        );
        if program.cli {
            trials.push(
                Trial::test(format!("wasi::cli::{}", program.name), move || {
                    run_cli(&program, &program_path(&format!("{}.wasm", program.name))?)
                        .map_err(|e| Failed::from(format!("{e:?}")))
                })
                .with_ignored_flag(skip),
            );
        }
    }
    trials
}

/// Every preview-1 function (but `proc_exit`, which ends the run, and `poll_oneoff`, which may
/// sleep for as long as a random timeout says) with its core parameter types.
const SIGNATURES: &[(&str, &str)] = &[
    ("args_get", "i32 i32"),
    ("args_sizes_get", "i32 i32"),
    ("environ_get", "i32 i32"),
    ("environ_sizes_get", "i32 i32"),
    ("clock_res_get", "i32 i32"),
    ("clock_time_get", "i32 i64 i32"),
    ("fd_advise", "i32 i64 i64 i32"),
    ("fd_allocate", "i32 i64 i64"),
    ("fd_close", "i32"),
    ("fd_datasync", "i32"),
    ("fd_fdstat_get", "i32 i32"),
    ("fd_fdstat_set_flags", "i32 i32"),
    ("fd_fdstat_set_rights", "i32 i64 i64"),
    ("fd_filestat_get", "i32 i32"),
    ("fd_filestat_set_size", "i32 i64"),
    ("fd_filestat_set_times", "i32 i64 i64 i32"),
    ("fd_pread", "i32 i32 i32 i64 i32"),
    ("fd_prestat_get", "i32 i32"),
    ("fd_prestat_dir_name", "i32 i32 i32"),
    ("fd_pwrite", "i32 i32 i32 i64 i32"),
    ("fd_read", "i32 i32 i32 i32"),
    ("fd_readdir", "i32 i32 i32 i64 i32"),
    ("fd_renumber", "i32 i32"),
    ("fd_seek", "i32 i64 i32 i32"),
    ("fd_sync", "i32"),
    ("fd_tell", "i32 i32"),
    ("fd_write", "i32 i32 i32 i32"),
    ("path_create_directory", "i32 i32 i32"),
    ("path_filestat_get", "i32 i32 i32 i32 i32"),
    ("path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32"),
    ("path_link", "i32 i32 i32 i32 i32 i32 i32"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32"),
    ("path_readlink", "i32 i32 i32 i32 i32 i32"),
    ("path_remove_directory", "i32 i32 i32"),
    ("path_rename", "i32 i32 i32 i32 i32 i32"),
    ("path_symlink", "i32 i32 i32 i32 i32"),
    ("path_unlink_file", "i32 i32 i32"),
    ("proc_raise", "i32"),
    ("sched_yield", ""),
    ("random_get", "i32 i32"),
    ("sock_accept", "i32 i32 i32"),
    ("sock_recv", "i32 i32 i32 i32 i32 i32"),
    ("sock_send", "i32 i32 i32 i32 i32"),
    ("sock_shutdown", "i32 i32"),
];

/// Calls every function many times with random arguments (mostly small descriptors, pointers
/// near the end of memory or past it, and random bytes as paths and structures), inside a
/// preopened temporary directory. Each call must return an errno of the witx enum; none may
/// crash the host or escape the directory.
fn random_calls() -> Result<()> {
    let mut imports = String::new();
    let mut exports = String::new();
    for (name, params) in SIGNATURES {
        let params: Vec<&str> = params.split_whitespace().collect();
        imports.push_str(&format!(
            "(import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} (param {}) (result i32)))\n",
            params.join(" ")
        ));
        let gets: String = (0..params.len()).map(|i| format!("(local.get {i})")).collect();
        exports.push_str(&format!(
            "(func (export \"{name}\") (param {}) (result i32) (call ${name} {gets}))\n",
            params.join(" ")
        ));
    }
    let text = format!("(module\n{imports}(memory (export \"memory\") 1)\n{exports})");
    let engine = Engine::default();
    let module = Module::new(&engine, &text)?;
    let root = TempDir::new("random-calls")?;
    std::fs::create_dir_all(root.0.join("sandbox/dir"))?;
    std::fs::write(root.0.join("sandbox/file"), "contents\n")?;
    std::fs::write(root.0.join("secret"), "outside\n")?;
    let mut linker = Linker::new(&engine);
    kiln_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    let wasi = WasiCtxBuilder::new()
        .arg("random")
        .env("K", "V")
        .stdin(MemoryInputPipe::new(b"input".to_vec()))
        .stdout(MemoryOutputPipe::new())
        .preopened_dir(root.0.join("sandbox"), "/sandbox")?
        .build();
    let mut store = Store::new(&engine, wasi);
    let instance = linker.instantiate(&mut store, &module)?;
    let memory = instance.get_memory(&mut store, "memory").context("memory")?;

    // xorshift64*: reproducible without a dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut calls = 0;
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..60 {
        // Fresh random bytes in memory each round, with some plausible paths at the start.
        let data = memory.data_mut(&mut store);
        for chunk in data.chunks_mut(8) {
            let bytes = next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        data[..16].copy_from_slice(b"file\0dir\0../sec\0");
        for (name, params) in SIGNATURES {
            let func = instance.get_func(&mut store, name).context("export")?;
            let args: Vec<kiln::Val> = params
                .split_whitespace()
                .enumerate()
                .map(|(i, ty)| {
                    let r = next();
                    let small = (r >> 8) % 8;
                    match ty {
                        // Descriptors first, then pointers, lengths and flags.
                        "i32" => kiln::Val::I32(match (i, r % 5) {
                            (0, _) | (_, 0) => small as i32,
                            (_, 1) => (65536 - small * 4) as i32,
                            (_, 2) => (r >> 16) as i32,
                            (_, 3) => (small * 5) as i32,
                            _ => ((r >> 20) % 65536) as i32,
                        }),
                        _ => kiln::Val::I64(if r % 3 == 0 { small as i64 } else { (r >> 3) as i64 }),
                    }
                })
                .collect();
            let mut result = [kiln::Val::I32(0)];
            func.call(&mut store, &args, &mut result).with_context(|| format!("round {round}: {name}{args:?}"))?;
            let kiln::Val::I32(errno) = result[0] else { bail!("{name} returned {:?}", result[0]) };
            ensure!((0..=76).contains(&errno), "round {round}: {name}{args:?} returned errno {errno}");
            seen.insert(errno);
            calls += 1;
        }
    }
    ensure!(calls == 60 * SIGNATURES.len(), "every call ran");
    // The arguments reach past the first checks: successes and many different errors.
    ensure!(seen.contains(&0) && seen.len() >= 8, "errnos returned: {seen:?}");
    ensure!(std::fs::read(root.0.join("secret"))? == b"outside\n", "the file outside the preopen is untouched");
    let mut outside = BTreeMap::new();
    read_tree(&root.0, &root.0, &mut outside)?;
    ensure!(
        outside.keys().all(|path| path == "secret" || path.starts_with("sandbox")),
        "nothing was created outside the preopen: {:?}",
        outside.keys().collect::<Vec<_>>()
    );
    Ok(())
}
