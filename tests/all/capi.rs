//! The C API (`crates/c-api`) from C: the examples in `examples/c/` and the C tests in
//! `crates/c-api/tests/` (`conformance.c` calls every function of `wasm.h`, `kiln_ext.c` the rest
//! of `kiln.h` and `wasi.h`) are configured and built with CMake and run with `ctest`: with kiln
//! from the source tree (`add_subdirectory`), from an installed package (`cmake --install` of
//! `crates/c-api`, then `find_package(kiln)`), linked statically, built with
//! AddressSanitizer (leaks included), and run under valgrind. The libraries are the ones cargo
//! built with this binary (see `kiln_cmake_args`). Each program checks its own results and exits non-zero on failure;
//! the test also requires its `NAME: ok` line.
//!
//! They need `cmake`, a C compiler and valgrind (`./scripts/setup` installs cmake and valgrind). Without them the tests
//! are ignored with a notice on stderr.

use anyhow::{Context, Result, bail, ensure};
use libtest_mimic::{Failed, Trial};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// cargo's target directory and profile of this test binary (`<target>/<profile>/deps/all-*`).
fn target_and_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(Path::parent).map(Path::to_path_buf);
    match profile_dir {
        Some(dir) if dir.parent().is_some() => {
            let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
            let profile = if profile == "release" { "release" } else { "debug" };
            (dir.parent().unwrap().to_path_buf(), profile.to_string())
        }
        _ => (workspace().join("target"), "debug".to_string()),
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// A fresh build directory under the target directory.
fn build_dir(name: &str) -> Result<PathBuf> {
    let dir = target_and_profile().0.join("capi-tests").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Runs a command, failing with its output if it fails; returns its stdout. The test runner's
/// `LD_LIBRARY_PATH` (cargo puts `<target>/<profile>` on it, where an older `libkiln.so` may lie)
/// is removed: the programs must load the library their build linked (`KILN_LIBRARY_DIR`).
fn run(cmd: &mut Command) -> Result<String> {
    cmd.env_remove("LD_LIBRARY_PATH");
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("{cmd:?} failed ({}):\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    Ok(stdout)
}

/// The cache variables that point the kiln CMake project at the libraries cargo built with this
/// test binary (`kiln-c-api` is a dev-dependency, so they are as fresh as the test and built
/// with the same features: letting CMake run `cargo build -p kiln-c-api` would build the
/// dependency graph again with that package's own feature set).
fn kiln_cmake_args() -> Vec<String> {
    let (target, profile) = target_and_profile();
    let libs = target.join(&profile).join("deps");
    vec![
        format!("-DKILN_CARGO_PROFILE={profile}"),
        "-DKILN_CARGO_BUILD=OFF".to_string(),
        format!("-DKILN_LIBRARY_DIR={}", libs.display()),
    ]
}

/// Configures `source` into `build` with `args`, builds it, and (for the examples) runs ctest.
fn cmake_build(source: &Path, build: &Path, args: &[String]) -> Result<()> {
    run(Command::new("cmake").arg("-S").arg(source).arg("-B").arg(build).args(args))?;
    run(Command::new("cmake").arg("--build").arg(build).arg("--parallel").arg("2"))?;
    Ok(())
}

const EXAMPLES: [&str; 17] = [
    "hello",
    "callback",
    "memory",
    "table",
    "global",
    "trap",
    "multi",
    "serialize",
    "threads",
    "fuel",
    "epoch",
    "linking",
    "wasi",
    "component",
    "conformance",
    "kiln_ext",
    "component_api",
];

/// The WASI 0.2 command component `component_api` runs when given it (built by
/// `scripts/build-wasi-programs`; without it that part says it did not run).
fn wasi_component() -> PathBuf {
    target_and_profile().0.join("wasi-programs/args_env.component.wasm")
}

/// Runs ctest in `build` (exit statuses decide) and each example directly, checking that it
/// prints its `NAME: ok` line and the lines listed here.
fn check_examples(build: &Path) -> Result<()> {
    let out = run(Command::new("ctest").arg("--output-on-failure").current_dir(build))?;
    let all_passed = format!("100% tests passed, 0 tests failed out of {}", EXAMPLES.len());
    ensure!(out.contains(&all_passed), "ctest:\n{out}");
    let expect: [(&str, &[&str]); 8] = [
        ("hello", &["Hello from the host!", "hello: ok"]),
        ("callback", &["twice(21) with bias 100 = 142"]),
        (
            "trap",
            &["trap message: wasm trap: integer divide by zero", "trace: 2 frames", "host trap message: host says no"],
        ),
        ("multi", &["results: 1 2 3.5 99"]),
        ("linking", &["run() = 42, logged 14"]),
        ("wasi", &["exit status: 3", "captured stdout: hello from wasi"]),
        ("component", &["host log: Hello, C", "greet returned: Hello, C"]),
        (
            "component_api",
            &[
                "echo: every kind of value crossed (3 host calls)",
                "host failures: ok",
                "resources: ok",
                "host resources: ok",
            ],
        ),
    ];
    let wasi = wasi_component();
    for example in EXAMPLES {
        let mut cmd = Command::new(build.join(example));
        if example == "component_api" {
            if wasi.exists() {
                cmd.arg(&wasi);
            } else {
                eprintln!("note: {} is missing (scripts/build-wasi-programs builds it)", wasi.display());
            }
        }
        let out = run(cmd.current_dir(build))?;
        if example == "component_api" && wasi.exists() {
            ensure!(out.contains("wasi component: ok"), "component_api printed:\n{out}");
        }
        let lines = expect.iter().find(|(name, _)| *name == example).map_or(&[][..], |(_, lines)| *lines);
        for line in lines.iter().copied().chain([format!("{example}: ok").as_str()]) {
            ensure!(out.contains(line), "{example} printed:\n{out}\nexpected a line `{line}`");
        }
    }
    Ok(())
}

/// The examples and C tests built with AddressSanitizer (which also checks for leaks at exit,
/// in the library's allocations too: Rust allocates through malloc): no invalid access, no
/// double free, nothing leaked.
fn examples_asan() -> Result<()> {
    let probe_dir = build_dir("asan-probe")?;
    let probe = probe_dir.join("probe.c");
    std::fs::write(&probe, "int main(void) { return 0; }\n")?;
    let ok = Command::new("cc")
        .args(["-fsanitize=address", "-o"])
        .arg(probe_dir.join("probe"))
        .arg(&probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("note: capi::examples_asan: the C compiler cannot build with -fsanitize=address; not run");
        return Ok(());
    }
    let build = build_dir("asan")?;
    let mut args = kiln_cmake_args();
    args.push("-DCMAKE_C_FLAGS=-fsanitize=address -fno-omit-frame-pointer".to_string());
    cmake_build(&workspace().join("examples/c"), &build, &args)?;
    check_examples(&build)
}

/// The examples and C tests under valgrind's memcheck: no invalid access (but the guard-region
/// accesses that are wasm's out-of-bounds traps, `crates/c-api/tests/valgrind.supp`), no use of
/// uninitialised values, nothing definitely or indirectly leaked.
fn examples_valgrind() -> Result<()> {
    if !have("valgrind") {
        eprintln!("note: capi::examples_valgrind: valgrind not found (./scripts/setup installs it); not run");
        return Ok(());
    }
    let build = build_dir("valgrind")?;
    cmake_build(&workspace().join("examples/c"), &build, &kiln_cmake_args())?;
    let suppressions = workspace().join("crates/c-api/tests/valgrind.supp");
    let wasi = wasi_component();
    for example in EXAMPLES {
        let mut cmd = Command::new("valgrind");
        cmd.args(["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect"])
            .arg(format!("--suppressions={}", suppressions.display()))
            .arg(build.join(example))
            .current_dir(&build);
        if example == "component_api" && wasi.exists() {
            cmd.arg(&wasi);
        }
        // As in `run`: the library the build linked, not one on the test runner's path.
        cmd.env_remove("LD_LIBRARY_PATH");
        let out = cmd.output().with_context(|| format!("running {example} under valgrind"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(
            out.status.success() && stderr.contains("ERROR SUMMARY: 0 errors"),
            "{example} under valgrind ({}):\n{}\n{stderr}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        ensure!(String::from_utf8_lossy(&out.stdout).contains(&format!("{example}: ok")), "{example} did not finish");
    }
    Ok(())
}

fn examples_add_subdirectory() -> Result<()> {
    let build = build_dir("add-subdirectory")?;
    cmake_build(&workspace().join("examples/c"), &build, &kiln_cmake_args())?;
    check_examples(&build)
}

fn install_package(name: &str) -> Result<PathBuf> {
    let lib_build = build_dir(&format!("{name}-lib"))?;
    cmake_build(&workspace().join("crates/c-api"), &lib_build, &kiln_cmake_args())?;
    let prefix = build_dir(&format!("{name}-prefix"))?;
    run(Command::new("cmake").arg("--install").arg(&lib_build).arg("--prefix").arg(&prefix))?;
    for file in [
        "include/wasm.h",
        "include/kiln.h",
        "include/kiln/linker.h",
        "include/wasi.h",
        "lib/cmake/kiln/kilnConfig.cmake",
    ] {
        ensure!(prefix.join(file).exists(), "{file} was not installed");
    }
    Ok(prefix)
}

fn examples_find_package() -> Result<()> {
    let prefix = install_package("package")?;
    let build = build_dir("find-package")?;
    let args = ["-DKILN_FROM_PACKAGE=ON".to_string(), format!("-DCMAKE_PREFIX_PATH={}", prefix.display())];
    cmake_build(&workspace().join("examples/c"), &build, &args)?;
    check_examples(&build)
}

fn examples_static() -> Result<()> {
    let build = build_dir("static")?;
    let mut args = kiln_cmake_args();
    args.push("-DKILN_LINK_STATIC=ON".to_string());
    run(Command::new("cmake").arg("-S").arg(workspace().join("examples/c")).arg("-B").arg(&build).args(&args))?;
    for target in ["hello", "conformance"] {
        run(Command::new("cmake").arg("--build").arg(&build).arg("--target").arg(target))?;
        let out = run(Command::new(build.join(target)).current_dir(&build))?;
        ensure!(out.contains(&format!("{target}: ok")), "{target} printed:\n{out}");
    }
    // Statically linked: the program does not load libkiln.so.
    let ldd = Command::new("ldd").arg(build.join("hello")).output();
    if let Ok(ldd) = ldd {
        ensure!(!String::from_utf8_lossy(&ldd.stdout).contains("libkiln"), "hello links libkiln.so");
    }
    Ok(())
}

/// Every function `wasm.h` declares is called by `conformance.c` (after preprocessing, so calls
/// made through its macros count).
fn conformance_covers_wasm_h() -> Result<()> {
    let include = workspace().join("crates/c-api/include");
    let header = run(Command::new("cc")
        .args(["-E", "-P", "-x", "c", "-"])
        .arg("-I")
        .arg(&include)
        .stdin(std::fs::File::open(include.join("wasm.h"))?))?;
    let functions = c_calls(&header);
    ensure!(functions.len() > 250, "found only {} functions in wasm.h", functions.len());
    let conformance = run(Command::new("cc")
        .args(["-E", "-P"])
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(workspace().join("examples/c"))
        .arg(workspace().join("crates/c-api/tests/conformance.c")))?;
    let marker = "kiln-conformance-calls-begin";
    let body = &conformance[conformance.find(marker).context("the conformance marker")?..];
    let called = c_calls(body);
    let missing: Vec<_> = functions.difference(&called).collect();
    ensure!(missing.is_empty(), "conformance.c does not call {missing:?}");
    Ok(())
}

/// Every function `kiln/component.h` declares is called by the component example or
/// `component_api.c`.
fn component_tests_cover_component_h() -> Result<()> {
    let include = workspace().join("crates/c-api/include");
    let header = std::fs::read_to_string(include.join("kiln/component.h"))?;
    let functions = c_calls_with_prefix(&header, "kiln_component_");
    ensure!(functions.len() > 30, "found only {} functions in kiln/component.h", functions.len());
    let mut called = BTreeSet::new();
    for file in ["crates/c-api/tests/component_api.c", "examples/c/component.c"] {
        called.extend(c_calls_with_prefix(&std::fs::read_to_string(workspace().join(file))?, "kiln_component_"));
    }
    let missing: Vec<_> = functions.difference(&called).collect();
    ensure!(missing.is_empty(), "the component tests do not call {missing:?}");
    Ok(())
}

/// What the C API added to the Rust API for trap frames: `FrameInfo::func_offset` and
/// `Module::contains_frame`.
fn frame_offsets_and_modules() -> Result<()> {
    use kiln::{Engine, Instance, Module, Store, WasmBacktrace};
    let engine = Engine::default();
    let wat = r#"(module
        (func $inner (param i32) (result i32) (local i64)
          nop
          (i32.div_u (i32.const 1) (local.get 0)))
        (func (export "run") (param i32) (result i32) (call $inner (local.get 0))))"#;
    let module = Module::new(&engine, wat)?;
    let other = Module::new(&engine, wat)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
    let err = run.call(&mut store, 0).expect_err("division by zero");
    let bt = err.downcast_ref::<WasmBacktrace>().context("a backtrace")?;
    let frames = bt.frames();
    ensure!(frames.len() == 2, "{bt}");
    let (inner, outer) = (&frames[0], &frames[1]);
    ensure!(inner.func_index() == 0 && outer.func_index() == 1, "{bt}");
    // `nop` has no code: the function's first instruction with code is `i32.const 1`, and the
    // trapping `i32.div_u` follows it and `local.get 0` (2 bytes each).
    ensure!(inner.func_offset() == Some(4), "func_offset {:?}", inner.func_offset());
    ensure!(inner.module_offset().is_some_and(|m| m > 4));
    ensure!(outer.func_offset().is_some());
    ensure!(frames.iter().all(|f| module.contains_frame(f)));
    ensure!(!frames.iter().any(|f| other.contains_frame(f)), "another module's code");
    Ok(())
}

/// The `wasm_*` identifiers followed by `(`.
fn c_calls(text: &str) -> BTreeSet<String> {
    c_calls_with_prefix(text, "wasm_")
}

/// The identifiers starting with `prefix` followed by `(` (type names, `*_t`, excluded).
fn c_calls_with_prefix(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find(prefix) {
        let start = i + pos;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let rest = text[end..].trim_start();
        if boundary && rest.starts_with('(') && !text[start..end].ends_with("_t") {
            names.insert(text[start..end].to_string());
        }
        i = end.max(start + 1);
    }
    names
}

pub fn trials() -> Vec<Trial> {
    let missing: Vec<&str> = ["cmake", "ctest", "cc"].into_iter().filter(|t| !have(t)).collect();
    type Test = fn() -> Result<()>;
    let tests: [(&str, Test); 8] = [
        ("examples_asan", examples_asan),
        ("examples_valgrind", examples_valgrind),
        ("frame_offsets_and_modules", frame_offsets_and_modules),
        ("examples_add_subdirectory", examples_add_subdirectory),
        ("examples_find_package", examples_find_package),
        ("examples_static", examples_static),
        ("conformance_covers_wasm_h", conformance_covers_wasm_h),
        ("component_tests_cover_component_h", component_tests_cover_component_h),
    ];
    if !missing.is_empty() {
        eprintln!("note: capi tests ignored: {} not found (./scripts/setup installs cmake)", missing.join(", "));
    }
    tests
        .into_iter()
        .map(|(name, f)| {
            let needs_tools = !matches!(name, "frame_offsets_and_modules" | "component_tests_cover_component_h");
            Trial::test(format!("capi::{name}"), move || f().map_err(|e| Failed::from(format!("{e:#}"))))
                .with_ignored_flag(needs_tools && !missing.is_empty())
        })
        .collect()
}
