//! The WASI preview 1 C programs of `tests/wasi-programs/` as WASI 0.2 command components
//! (`scripts/build-wasi-programs` adapts each into `target/wasi-programs/NAME.component.wasm`
//! with the preview1 command adapter), run through `kiln_wasi::p2` (`wasi_p2::api::*`) and
//! through `kiln run` (`wasi_p2::cli::*`). Each must give exactly the stdout, stderr, exit status
//! or trap, and files that `tests/wasi-programs/manifest.json` expects of its preview 1 run:
//! arguments and environment, exit codes, files inside a preopen, escapes refused. The
//! manifest's `p2` key names the few programs that test preview 1 details the preview1 adapter
//! does not carry (they behave the same under wasmtime), and the exit status the adapter gives.
//! `wasi_p2::compare::*` runs a few under `wasmtime run` too when it is installed, and
//! `wasi_p2::componentize_py` a Python command built by componentize-py.

use super::wasi::{
    Outcome, Program, TempDir, check_outcome, check_output, check_tree, kiln, load_manifest, prepare, program_path,
    run_cli,
};
use anyhow::{Context, Result, ensure};
use kiln::component::{Component, Linker, ResourceTable};
use kiln::{Engine, Store};
use kiln_wasi::I32Exit;
use kiln_wasi::p2::bindings::sync::Command;
use kiln_wasi::p2::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use kiln_wasi::pipe::{MemoryInputPipe, MemoryOutputPipe};
use libtest_mimic::{Failed, Trial};
use std::path::PathBuf;

struct State {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

fn component_path(program: &Program) -> Result<PathBuf> {
    program_path(&format!("{}.component.wasm", program.name))
}

/// Runs a program's component through the embedding API.
fn run_api(program: &Program) -> Result<()> {
    let engine = Engine::default();
    let component = Component::from_file(&engine, component_path(program)?)?;
    let root = TempDir::new(&format!("p2-{}", program.name))?;
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
    kiln_wasi::p2::add_to_linker_sync(&mut linker)?;
    let mut store = Store::new(&engine, State { ctx: builder.build(), table: ResourceTable::new() });
    let command = Command::instantiate(&mut store, &component, &linker)?;
    let outcome = match command.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => Outcome::Exit(0),
        Ok(Err(())) => Outcome::Exit(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Outcome::Exit(exit.0),
            None if e.is::<kiln::Trap>() => Outcome::Trap(format!("{e:?}")),
            None => return Err(e.context("the program failed without a trap or an exit")),
        },
    };
    check_outcome(&program.outcome, &outcome)?;
    check_output("stdout", &program.stdout, &stdout.contents())?;
    check_output("stderr", &program.stderr, &stderr.contents())?;
    check_tree(program, &root.0)
}

/// Runs a program's component through `kiln run`, under the name `NAME.wasm` (its argv[0]).
fn run_kiln_cli(program: &Program) -> Result<()> {
    let bin = TempDir::new(&format!("p2-bin-{}", program.name))?;
    let wasm = bin.0.join(format!("{}.wasm", program.name));
    std::fs::copy(component_path(program)?, &wasm).context("copying the component")?;
    run_cli(program, &wasm)
}

/// `wasmtime run` on the same component gives the same stdout and exit status (skipped when
/// no `wasmtime` is on PATH or in ~/.cache/kiln-tools/bin).
fn compare_with_wasmtime(program: &Program) -> Result<()> {
    let tools = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kiln-tools/bin/wasmtime"));
    let wasmtime = match tools.filter(|p| p.exists()) {
        Some(p) => p,
        None => PathBuf::from("wasmtime"),
    };
    let root = TempDir::new(&format!("p2-wasmtime-{}", program.name))?;
    prepare(program, &root.0)?;
    let bin = TempDir::new(&format!("p2-wbin-{}", program.name))?;
    let wasm = bin.0.join(format!("{}.wasm", program.name));
    std::fs::copy(component_path(program)?, &wasm)?;
    let mut cmd = std::process::Command::new(&wasmtime);
    cmd.arg("run");
    for (host, guest) in &program.dirs {
        cmd.arg(format!("--dir={host}::{guest}"));
    }
    for (name, value) in &program.env {
        cmd.arg(format!("--env={name}={value}"));
    }
    cmd.arg(&wasm).args(&program.args).current_dir(&root.0).stdin(std::process::Stdio::null());
    let output = match cmd.output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Outcome::Exit(code) = program.outcome else { return Ok(()) };
    ensure!(output.status.code() == Some(code), "wasmtime exited with {:?}, expected {code}", output.status.code());
    check_output("stdout (wasmtime)", &program.stdout, &output.stdout)
}

/// A component built against older WASI 0.2 releases (0.2.0 and 0.2.3) links with kiln's
/// 0.2.12 by semver, as toolchains pinned to an older WIT expect.
fn older_wasi_versions_link() -> Result<()> {
    let engine = Engine::default();
    let component = Component::new(
        &engine,
        r#"(component
            (import "wasi:random/random@0.2.0" (instance $random
              (export "get-random-u64" (func (result u64)))))
            (import "wasi:clocks/monotonic-clock@0.2.3" (instance $clock
              (export "now" (func (result u64)))))
            (core func $rand (canon lower (func $random "get-random-u64")))
            (core func $now (canon lower (func $clock "now")))
            (core module $m
              (import "" "rand" (func $rand (result i64)))
              (import "" "now" (func $now (result i64)))
              ;; Two random draws differ and the clock does not go back.
              (func (export "run") (result i32)
                (local $t i64)
                (local.set $t (call $now))
                (i32.and
                  (i64.ne (call $rand) (call $rand))
                  (i64.ge_u (call $now) (local.get $t)))))
            (core instance $i (instantiate $m (with "" (instance
              (export "rand" (func $rand)) (export "now" (func $now))))))
            (func (export "run") (result bool) (canon lift (core func $i "run"))))"#,
    )?;
    let mut linker = Linker::new(&engine);
    kiln_wasi::p2::add_to_linker_sync(&mut linker)?;
    let mut store = Store::new(&engine, State { ctx: WasiCtxBuilder::new().build(), table: ResourceTable::new() });
    let instance = linker.instantiate(&mut store, &component)?;
    let run = instance.get_typed_func::<(), (bool,)>(&mut store, "run")?;
    let (ok,) = run.call(&mut store, ())?;
    ensure!(ok, "random draws repeated or the clock went back");
    Ok(())
}

/// A Python command built by componentize-py (`tests/wasi-programs/python/app.py`): CPython in
/// a component, through the embedding API, with arguments, environment, clocks, random, and a
/// preopened directory it reads, writes and lists; an absolute path outside it does not open.
/// Then sockets: refused without the network, and with it a TCP echo and a UDP round trip over
/// loopback. The component is compiled once and run both ways. The expected output is what
/// `wasmtime run` (with `-S inherit-network` for the second run) prints for it.
fn componentize_py() -> Result<()> {
    let engine = Engine::default();
    let component = Component::from_file(&engine, program_path("python_app.component.wasm")?)?;
    let common = "args: ['a', 'b']\n\
        env NAME: kiln\n\
        wall clock after 2020: True\n\
        read: hello from the host\n\
        listdir: ['in.txt', 'out.txt']\n\
        random draws distinct: True\n\
        urandom bytes: 16\n\
        monotonic ok: True\n\
        escape: refused FileNotFoundError\n";
    let denied = "sockets: refused PermissionError\n";
    let network = "tcp listening on loopback: True\n\
        tcp peer is the client: True\n\
        tcp server got: 40000 b'pingping'\n\
        tcp client got the echo: True\n\
        tcp end of stream: True\n\
        udp got: b'datagram' True\n\
        udp reply: b'DATAGRAM'\n";
    for (inherit_network, sockets) in [(false, denied), (true, network)] {
        let root = TempDir::new("p2-python")?;
        std::fs::write(root.0.join("in.txt"), "hello from the host\n")?;
        let stdout = MemoryOutputPipe::new();
        let mut builder = WasiCtxBuilder::new();
        builder.args(&["app.wasm", "a", "b"]).env("NAME", "kiln").stdout(stdout.clone());
        builder.preopened_dir(&root.0, "/data")?;
        if inherit_network {
            builder.inherit_network();
        }
        let mut linker = Linker::new(&engine);
        kiln_wasi::p2::add_to_linker_sync(&mut linker)?;
        let mut store = Store::new(&engine, State { ctx: builder.build(), table: ResourceTable::new() });
        let command = Command::instantiate(&mut store, &component, &linker)?;
        ensure!(command.wasi_cli_run().call_run(&mut store)?.is_ok(), "the program returned an error");
        let expected = format!("{common}{sockets}");
        check_output("stdout", expected.as_bytes(), &stdout.contents())
            .with_context(|| format!("inherit_network: {inherit_network}"))?;
        let written = std::fs::read_to_string(root.0.join("out.txt"))?;
        ensure!(written == "HELLO FROM THE HOST\n", "out.txt holds {written:?}");
    }
    Ok(())
}

/// `kiln run`'s limits and artifacts work for components as for modules: `--fuel` and
/// `--timeout` stop an endless `wasi:cli/run` with a trap (134, with a backtrace), a `.cwasm`
/// from `kiln compile` and a warm compile cache run the same program, `-S` rejects unknown keys.
fn cli_options_for_components() -> Result<()> {
    let dir = TempDir::new("p2-cli-options")?;
    let endless = dir.0.join("endless.wat");
    std::fs::write(
        &endless,
        r#"(component
            (core module $m (func (export "run") (result i32) (loop $l (br $l)) unreachable))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $inst (export "run" (func $run)))
            (export "wasi:cli/run@0.2.12" (instance $inst)))"#,
    )?;
    let endless = endless.to_string_lossy().into_owned();
    for limit in [["--fuel", "100000"], ["--timeout", "200ms"]] {
        let run = kiln(&["run", limit[0], limit[1], &endless], "", &dir.0)?;
        ensure!(run.code == 134, "{limit:?}: exit status {}; stderr:\n{}", run.code, run.stderr);
        let message = if limit[0] == "--fuel" { "all fuel consumed" } else { "interrupt" };
        ensure!(run.stderr.contains(message) && run.stderr.contains("wasm backtrace"), "{limit:?}:\n{}", run.stderr);
    }

    let random = program_path("random.component.wasm")?.to_string_lossy().into_owned();
    let reference = kiln(&["run", "-C", "cache=n", &random], "", &dir.0)?;
    ensure!(reference.code == 0, "random: {}", reference.stderr);
    let lines = |out: &[u8]| String::from_utf8_lossy(out).lines().count();
    let cwasm = dir.0.join("random.cwasm").to_string_lossy().into_owned();
    let compiled = kiln(&["compile", &random, "-o", &cwasm], "", &dir.0)?;
    ensure!(compiled.code == 0, "kiln compile: {}", compiled.stderr);
    let cache = dir.0.join("cache");
    for args in
        [vec!["run", cwasm.as_str()], vec!["run", "-C", "cache=y", &random], vec!["run", "-C", "cache=y", &random]]
    {
        let mut command = std::process::Command::new(super::wasi::kiln_binary()?);
        let output = command.args(&args).env("KILN_CACHE_DIR", &cache).env("RUST_BACKTRACE", "0").output()?;
        ensure!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        ensure!(lines(&output.stdout) == lines(&reference.stdout), "{args:?} printed other lines");
    }
    ensure!(std::fs::read_dir(&cache)?.count() > 0, "the compile cache stayed empty");

    let run = kiln(&["run", "-S", "http", &random], "", &dir.0)?;
    ensure!(run.code != 0 && run.stderr.contains("unsupported feature: -S http"), "{}", run.stderr);

    // `get-terminal-stdout` is some exactly when stdout is the host's and a terminal:
    // `terminal.wat` exits 0 then, 1 otherwise. Here stdout is a pipe; under `script(1)`, a pty.
    let terminal = super::wasi::repo().join("tests/wasi-programs/terminal.wat").to_string_lossy().into_owned();
    let run = kiln(&["run", &terminal], "", &dir.0)?;
    ensure!(run.code == 1, "a pipe is a terminal? exit status {}: {}", run.code, run.stderr);
    if std::process::Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let command = format!("'{}' run '{terminal}'", super::wasi::kiln_binary()?.display());
        let status = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("RUST_BACKTRACE", "0")
            .stdout(std::process::Stdio::null())
            .status()?;
        ensure!(status.code() == Some(0), "a pty is not a terminal: {status:?}");
    }
    Ok(())
}

/// A guest that floods stdout while nobody reads is held back by the pipe, not buffered by the
/// host: `flood.c` writes 64 MiB through `kiln run`, whose stdout is a pipe this test leaves
/// unread for a while. kiln must then be blocked with its resident memory well below 64 MiB
/// (about 20 MiB is kiln itself); once the pipe is drained, every byte arrives and the program
/// exits 0.
fn stdout_flood_is_held_back() -> Result<()> {
    use std::io::Read;
    const MIB: usize = 64;
    let flood = program_path("flood.component.wasm")?;
    let mut child = std::process::Command::new(super::wasi::kiln_binary()?)
        .args(["run", "-C", "cache=n"])
        .arg(&flood)
        .arg(MIB.to_string())
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let resident_kib = |pid: u32| -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
        Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
    };
    // The first bytes show the program is flooding; then nobody reads for a while, and a host
    // that buffered would be growing meanwhile.
    let mut out = child.stdout.take().context("stdout")?;
    let mut buf = vec![0; 1 << 16];
    let mut total = out.read(&mut buf)?;
    ensure!(total > 0, "no output");
    std::thread::sleep(std::time::Duration::from_secs(1));
    ensure!(child.try_wait()?.is_none(), "kiln finished although nobody read its stdout");
    let before = resident_kib(child.id())?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    let blocked = resident_kib(child.id())?;
    ensure!(blocked < 48 * 1024, "kiln holds {blocked} KiB while its stdout is not read");
    ensure!(blocked < before + 16 * 1024, "kiln grew from {before} to {blocked} KiB while blocked");
    loop {
        let n = out.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ensure!(buf[..n].iter().all(|b| *b == b'x'), "stdout holds something else");
        total += n;
    }
    let status = child.wait()?;
    ensure!(status.success(), "kiln exited with {status:?}");
    ensure!(total == MIB << 20, "{total} bytes arrived, expected {}", MIB << 20);
    Ok(())
}

pub fn trials() -> Vec<Trial> {
    let skip = std::env::var("KILN_SKIP_TOOLCHAIN_TESTS").is_ok_and(|v| v == "1");
    let mut trials = vec![
        Trial::test("wasi_p2::older_wasi_versions_link", || {
            older_wasi_versions_link().map_err(|e| Failed::from(format!("{e:?}")))
        }),
        Trial::test("wasi_p2::componentize_py", || componentize_py().map_err(|e| Failed::from(format!("{e:?}"))))
            .with_ignored_flag(skip),
        Trial::test("wasi_p2::stdout_flood_is_held_back", || {
            stdout_flood_is_held_back().map_err(|e| Failed::from(format!("{e:?}")))
        })
        .with_ignored_flag(skip),
        Trial::test("wasi_p2::cli_options_for_components", || {
            cli_options_for_components().map_err(|e| Failed::from(format!("{e:?}")))
        })
        .with_ignored_flag(skip),
    ];
    let programs = match load_manifest() {
        Ok(programs) => programs,
        Err(e) => {
            let message = format!("{e:?}");
            trials.push(Trial::test("wasi_p2::manifest", move || Err(Failed::from(message.clone()))));
            return trials;
        }
    };
    for mut program in programs {
        if program.p2_skip.is_some() {
            continue;
        }
        if let Some(code) = program.p2_exit_code {
            program.outcome = Outcome::Exit(code);
        }
        let p = program.clone();
        trials.push(
            Trial::test(format!("wasi_p2::api::{}", program.name), move || {
                run_api(&p).map_err(|e| Failed::from(format!("{e:?}")))
            })
            .with_ignored_flag(skip),
        );
        if program.cli {
            let p = program.clone();
            trials.push(
                Trial::test(format!("wasi_p2::cli::{}", program.name), move || {
                    run_kiln_cli(&p).map_err(|e| Failed::from(format!("{e:?}")))
                })
                .with_ignored_flag(skip),
            );
        }
        if ["args_env", "fs", "escape_paths", "exit", "clocks", "random"].contains(&program.name.as_str()) {
            trials.push(
                Trial::test(format!("wasi_p2::compare::{}", program.name), move || {
                    compare_with_wasmtime(&program).map_err(|e| Failed::from(format!("{e:?}")))
                })
                .with_ignored_flag(skip),
            );
        }
    }
    trials
}
