//! The `kiln` command-line interface.
//!
//! `kiln run` ([`run`]) runs a core module (a WASI preview 1 command, or `--invoke NAME` with
//! arguments) or a component (`--invoke 'name(args)'` with arguments and results in WAVE, see
//! [`wave`]); `kiln wast` runs test scripts; `kiln compile` ([`compile`]) precompiles to `.cwasm`,
//! which `kiln run` also accepts. This crate parses options and reports results; it
//! must not implement runtime or WASI behaviour itself (that is `kiln` and `kiln-wasi`).

mod compile;
mod run;
mod wave;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kiln::{Engine, Store};
use kiln_wast::{SpectestConfig, WastContext, WastStats};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kiln", version, about = "A WebAssembly runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a WebAssembly module or component (`.wasm`, `.wat`, or `.cwasm` from `kiln compile`).
    Run(run::RunCommand),
    /// Compile a module or component ahead of time into a `.cwasm` file.
    Compile(compile::CompileCommand),
    /// Run `*.wast` test scripts and report directive counts.
    Wast(WastCommand),
}

#[derive(clap::Args)]
struct WastCommand {
    /// The scripts to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    codegen: compile::CodegenOptions,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(cmd) => run::run(cmd),
        Command::Compile(cmd) => compile::compile(cmd),
        Command::Wast(cmd) => wast(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:?}");
            // A trap is a more severe failure than an error: exit like an abort, as wasmtime does.
            if err.is::<kiln::Trap>() { ExitCode::from(run::TRAP_EXIT_CODE) } else { ExitCode::FAILURE }
        }
    }
}

fn wast(cmd: WastCommand) -> Result<ExitCode> {
    let mut config = kiln::Config::new();
    cmd.codegen.configure(&mut config);
    // Scripts are compiled once each: the on-disk cache would only fill up.
    config.cache(None);
    let engine = Engine::new(&config)?;
    let mut total = WastStats::default();
    let mut failed_files = 0;
    for file in &cmd.files {
        let stats = match run_wast_file(&engine, &config, file) {
            Ok(stats) => stats,
            Err(err) => {
                failed_files += 1;
                println!("{}: error: {err:?}", file.display());
                continue;
            }
        };
        println!("{}: {stats}", file.display());
        for failure in &stats.failures {
            println!("  {failure}");
        }
        if !stats.is_ok() {
            failed_files += 1;
        }
        total.merge(stats);
    }
    if cmd.files.len() > 1 {
        println!("total: {total}");
    }
    Ok(if failed_files == 0 {
        ExitCode::SUCCESS
    } else {
        println!("{failed_files} of {} file(s) failed", cmd.files.len());
        ExitCode::FAILURE
    })
}

/// Runs one script, in an engine of its own when its `;;!` lines change the configuration.
fn run_wast_file(engine: &Engine, config: &kiln::Config, file: &Path) -> Result<WastStats> {
    let text = std::fs::read_to_string(file).with_context(|| format!("failed to read `{}`", file.display()))?;
    let mut own = config.clone();
    let engine = if kiln_wast::apply_config_directives(&mut own, &text)? { &Engine::new(&own)? } else { engine };
    let mut cx = WastContext::new(Store::new(engine, ()));
    cx.register_spectest(&SpectestConfig::default())?;
    cx.run_buffer(&file.display().to_string(), &text)
}
