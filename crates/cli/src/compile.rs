//! `kiln compile`: ahead-of-time compilation to kiln's precompiled format (`.cwasm`), the
//! code-generation options it shares with `kiln run`, and loading of wasm, wat or `.cwasm` input.

use anyhow::{Context as _, Result, bail};
use kiln::component::Component;
use kiln::{Config, Engine, Module, OptLevel, Precompiled};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options that change the generated code or how it is cached, shared by `run` and `compile`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CodegenOptions {
    /// Cranelift's optimisation level: `0` (none), `1`/`2` (speed, the default) or `s` (speed
    /// and size); wasmtime's `opt-level=N` spelling is accepted too.
    #[arg(short = 'O', long = "opt-level", value_name = "LEVEL", value_parser = crate::run::parse_opt_level)]
    pub opt_level: Option<OptLevel>,
    /// Do not use the on-disk compile cache (`$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else
    /// `~/.cache/kiln`).
    #[arg(long)]
    pub no_cache: bool,
    /// Code-generation settings in wasmtime's spelling: `cache=y|n`; also
    /// `cache-compression=LEVEL|n` (zstd level of new cache entries, 3 by default; `n` stores
    /// them uncompressed: about 4x larger, faster to load).
    #[arg(short = 'C', value_name = "KEY=VALUE", value_parser = parse_codegen_setting)]
    pub settings: Vec<CodegenSetting>,
    /// WebAssembly proposals to turn on or off, in wasmtime's spelling: `-W gc=y,exceptions=n`.
    /// Names: simd, relaxed-simd, tail-call, extended-const, multi-memory, memory64,
    /// custom-page-sizes, wide-arithmetic, function-references, threads, exceptions,
    /// legacy-exceptions, compact-imports, custom-descriptors (exact types only), gc.
    #[arg(short = 'W', value_name = "FEATURE=y|n", value_delimiter = ',', value_parser = parse_wasm_setting)]
    pub wasm: Vec<WasmSetting>,
}

/// One `-W FEATURE=y|n` setting: a proposal (one of [`Config::WASM_FEATURE_NAMES`]) and
/// whether it is on.
#[derive(Debug, Clone, Copy)]
pub struct WasmSetting {
    /// The proposal's name.
    pub name: &'static str,
    /// On or off.
    pub enable: bool,
}

fn parse_flag(text: &str, value: &str) -> Result<bool, String> {
    match value {
        "y" | "yes" | "true" | "on" => Ok(true),
        "n" | "no" | "false" | "off" => Ok(false),
        _ => Err(format!("`{text}`: expected y or n")),
    }
}

fn parse_wasm_setting(text: &str) -> Result<WasmSetting, String> {
    let (key, value) = text.split_once('=').unwrap_or((text, "y"));
    let enable = parse_flag(text, value)?;
    match Config::WASM_FEATURE_NAMES.iter().find(|name| **name == key) {
        Some(name) => Ok(WasmSetting { name, enable }),
        None => Err(format!("unsupported feature: -W {key} (kiln knows: {})", Config::WASM_FEATURE_NAMES.join(", "))),
    }
}

/// One `-C KEY=VALUE` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodegenSetting {
    /// `cache=y|n`.
    Cache(bool),
    /// `cache-compression=LEVEL|n`.
    CacheCompression(Option<i32>),
}

impl CodegenOptions {
    /// Applies the options to `config`.
    pub fn configure(&self, config: &mut Config) {
        if let Some(level) = self.opt_level {
            config.cranelift_opt_level(level);
        }
        for setting in &self.wasm {
            config.wasm_feature(setting.name, setting.enable).expect("a name from WASM_FEATURE_NAMES");
        }
        let mut cache = !self.no_cache;
        for setting in &self.settings {
            match setting {
                CodegenSetting::Cache(enable) => cache = *enable && !self.no_cache,
                CodegenSetting::CacheCompression(level) => {
                    config.cache_compression(*level);
                }
            }
        }
        config.cache(if cache { Config::default_cache_dir() } else { None });
    }
}

fn parse_codegen_setting(text: &str) -> Result<CodegenSetting, String> {
    let (key, value) = text.split_once('=').unwrap_or((text, "y"));
    let flag = || parse_flag(text, value);
    match key {
        "cache" => Ok(CodegenSetting::Cache(flag()?)),
        "cache-compression" => match value {
            "n" | "no" | "false" | "off" => Ok(CodegenSetting::CacheCompression(None)),
            level => match level.parse::<i32>() {
                Ok(level @ 1..=22) => Ok(CodegenSetting::CacheCompression(Some(level))),
                _ => Err(format!("`{text}`: expected a zstd level from 1 to 22, or n")),
            },
        },
        _ => Err(format!("unknown code-generation setting `{key}` (supported: cache=y|n, cache-compression=LEVEL|n)")),
    }
}

#[derive(clap::Args)]
pub struct CompileCommand {
    /// The module or component to compile (`.wasm` or `.wat`).
    file: PathBuf,
    /// Where to write the precompiled code (default: FILE with the extension `.cwasm`).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    #[command(flatten)]
    codegen: CodegenOptions,
    /// Compile fuel checks in, as `kiln run --fuel N` needs (the amount is chosen at run time).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Compile epoch checks in, as `kiln run --timeout DURATION` needs.
    #[arg(long, value_name = "DURATION", value_parser = crate::run::parse_duration)]
    timeout: Option<std::time::Duration>,
}

/// An engine for `codegen` with fuel and epoch checks as asked.
pub fn engine(codegen: &CodegenOptions, fuel: bool, epochs: bool) -> Result<Engine> {
    let mut config = Config::new();
    config.consume_fuel(fuel);
    config.epoch_interruption(epochs);
    codegen.configure(&mut config);
    Engine::new(&config)
}

pub fn compile(cmd: CompileCommand) -> Result<ExitCode> {
    let file = cmd.file.display();
    let bytes = std::fs::read(&cmd.file).with_context(|| format!("failed to read `{file}`"))?;
    if Engine::detect_precompiled(&bytes).is_some() {
        bail!("`{file}` is already precompiled");
    }
    let binary = wasm_binary(&cmd.file, bytes)?;
    let engine = engine(&cmd.codegen, cmd.fuel.is_some(), cmd.timeout.is_some())?;
    let precompiled = if wasmparser::Parser::is_component(&binary) {
        engine.precompile_component(&binary).with_context(|| format!("failed to compile component `{file}`"))?
    } else {
        engine.precompile_module(&binary).with_context(|| format!("failed to compile module `{file}`"))?
    };
    let output = cmd.output.unwrap_or_else(|| cmd.file.with_extension("cwasm"));
    write_by_rename(&output, &precompiled).with_context(|| format!("failed to write `{}`", output.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a temporary file next to `path` and renames it over `path`: a process
/// running the old file (which kiln maps, not reads) keeps seeing the old contents.
fn write_by_rename(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// The binary form of a file's contents: wasm as it is, text converted.
pub fn wasm_binary(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    if bytes.starts_with(b"\x7fELF") {
        bail!(
            "`{}` is an ELF file, neither WebAssembly nor kiln's precompiled code (a `.cwasm` from another runtime, \
             such as `wasmtime compile`?): compile the `.wasm` with `kiln compile` instead",
            path.display()
        );
    }
    Ok(wat::parse_bytes(&bytes).with_context(|| format!("failed to parse `{}`", path.display()))?.into_owned())
}

/// What a file given to `kiln run` holds: precompiled code (`kiln compile` output), which is
/// mapped when loaded rather than read, or wasm (text converted to binary).
pub enum Input {
    /// A precompiled module or component.
    Precompiled(Precompiled),
    /// A wasm binary.
    Wasm(Vec<u8>),
}

impl Input {
    /// Reads `path`: only its first bytes if it is precompiled.
    pub fn read(path: &Path) -> Result<Input> {
        use std::io::Read;
        let file = path.display();
        let mut head = Vec::with_capacity(16);
        std::fs::File::open(path)
            .and_then(|f| f.take(16).read_to_end(&mut head))
            .with_context(|| format!("failed to read `{file}`"))?;
        if let Some(kind) = Engine::detect_precompiled(&head) {
            return Ok(Input::Precompiled(kind));
        }
        let bytes = std::fs::read(path).with_context(|| format!("failed to read `{file}`"))?;
        Ok(Input::Wasm(wasm_binary(path, bytes)?))
    }

    /// Whether the input is a component (precompiled or not).
    pub fn is_component(&self) -> bool {
        match self {
            Input::Precompiled(kind) => *kind == Precompiled::Component,
            Input::Wasm(binary) => wasmparser::Parser::is_component(binary),
        }
    }
}

/// The module in `path`, read as `input`.
pub fn load_module(engine: &Engine, path: &Path, input: &Input) -> Result<Module> {
    let file = path.display();
    match input {
        // SAFETY: running a `.cwasm` the user names is running code they chose, like running a
        // native executable; the format's checks reject files made by another kiln or for other
        // settings. `kiln compile` replaces files by renaming, so it never changes one in use.
        Input::Precompiled(_) => unsafe { Module::deserialize_file(engine, path) },
        Input::Wasm(binary) => {
            Module::from_binary(engine, binary).with_context(|| format!("failed to load module `{file}`"))
        }
    }
}

/// The component in `path`, read as `input`.
pub fn load_component(engine: &Engine, path: &Path, input: &Input) -> Result<Component> {
    let file = path.display();
    match input {
        // SAFETY: as in `load_module`.
        Input::Precompiled(_) => unsafe { Component::deserialize_file(engine, path) },
        Input::Wasm(binary) => {
            Component::from_binary(engine, binary).with_context(|| format!("failed to load component `{file}`"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codegen_settings_parse() {
        assert_eq!(parse_codegen_setting("cache=n"), Ok(CodegenSetting::Cache(false)));
        assert_eq!(parse_codegen_setting("cache=y"), Ok(CodegenSetting::Cache(true)));
        assert!(parse_codegen_setting("cache=maybe").is_err());
        assert_eq!(parse_codegen_setting("cache-compression=n"), Ok(CodegenSetting::CacheCompression(None)));
        assert_eq!(parse_codegen_setting("cache-compression=19"), Ok(CodegenSetting::CacheCompression(Some(19))));
        assert!(parse_codegen_setting("cache-compression=0").is_err());
        assert!(parse_codegen_setting("cache-compression=fast").is_err());
        assert!(parse_codegen_setting("parallel-compilation=n").is_err());
    }

    #[test]
    fn wasm_settings_switch_proposals() {
        let off = parse_wasm_setting("exceptions=n").unwrap();
        let mut config = kiln::Config::new();
        config.wasm_feature(off.name, off.enable).unwrap();
        let tags = "(module (tag))";
        assert!(kiln::Module::new(&kiln::Engine::new(&config).unwrap(), tags).is_err());
        let on = parse_wasm_setting("gc").unwrap();
        assert!(on.enable);
        config.wasm_feature(on.name, on.enable).unwrap();
        let rec = "(module (rec (type (func)) (type (func))))";
        assert!(kiln::Module::new(&kiln::Engine::new(&config).unwrap(), rec).is_ok());
        assert!(parse_wasm_setting("gc=maybe").is_err());
        assert!(parse_wasm_setting("stringref").unwrap_err().contains("unsupported feature"));
    }
}
