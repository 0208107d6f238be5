//! The `kiln` command-line interface.
//!
//! `kiln run` runs a core module (calling `_start` or `--invoke NAME` with arguments) or a
//! component (`--invoke 'name(args)'` with arguments and results in WAVE, see [`wave`]);
//! `kiln wast` runs test scripts.

mod wave;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use kiln::{Engine, ExternType, Func, Linker, Module, Store, Val, ValType};
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
    /// Run a WebAssembly module (`.wasm` or `.wat`).
    Run(RunCommand),
    /// Run `*.wast` test scripts and report directive counts.
    Wast(WastCommand),
}

#[derive(clap::Args)]
struct RunCommand {
    /// The module or component to run (`.wasm` or `.wat`).
    file: PathBuf,
    /// The exported function to call. For a core module, a name (default: `_start`); for a
    /// component, a WAVE invocation such as `'greet("world", 3)'`, where the name may be
    /// qualified by an exported instance (`ns:pkg/iface.f(...)`, `ns:pkg/iface@1.2.3.f(...)`).
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Stop the program with a trap after about this many wasm operators (fuel).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Stop the program with a trap after this long, e.g. `500ms`, `10s`, `2m` (epoch
    /// interruption).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Arguments for the function, parsed according to its parameter types.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

/// Parses `500ms`, `10s`, `2m` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration (try `500ms`, `10s`, `2m`)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit `{other}` (use ms, s, m or h)")),
    };
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

/// An engine configured for the command's limits.
fn engine_for(cmd: &RunCommand) -> Result<Engine> {
    let mut config = kiln::Config::new();
    config.consume_fuel(cmd.fuel.is_some());
    config.epoch_interruption(cmd.timeout.is_some());
    Engine::new(&config)
}

/// A store with the command's fuel and deadline; the deadline is enforced by a timer thread.
fn store_for(cmd: &RunCommand, engine: &Engine) -> Result<Store<()>> {
    let mut store = Store::new(engine, ());
    if let Some(fuel) = cmd.fuel {
        store.set_fuel(fuel)?;
    }
    if let Some(timeout) = cmd.timeout {
        store.set_epoch_deadline(1);
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(timeout);
            engine.increment_epoch();
        });
    }
    Ok(store)
}

#[derive(clap::Args)]
struct WastCommand {
    /// The scripts to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(cmd) => run(cmd),
        Command::Wast(cmd) => wast(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:?}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: RunCommand) -> Result<ExitCode> {
    let bytes = std::fs::read(&cmd.file).with_context(|| format!("failed to read `{}`", cmd.file.display()))?;
    let binary = if bytes.starts_with(b"\0asm") {
        bytes
    } else {
        wat::parse_bytes(&bytes).with_context(|| format!("failed to parse `{}`", cmd.file.display()))?.into_owned()
    };
    if wasmparser::Parser::is_component(&binary) {
        return run_component(&cmd, &binary);
    }
    let engine = engine_for(&cmd)?;
    let module = Module::from_file(&engine, &cmd.file)
        .with_context(|| format!("failed to load module `{}`", cmd.file.display()))?;
    let mut store = store_for(&cmd, &engine)?;
    let linker = Linker::new(&engine);

    // Nothing is provided to modules yet (WASI comes later): name the first missing import
    // instead of letting instantiation report it in its own words.
    if let Some(import) = module.imports().next() {
        bail!(
            "cannot satisfy import `{}::{}` ({}): kiln run does not provide any imports yet",
            import.module(),
            import.name(),
            extern_kind(&import.ty())
        );
    }
    let instance = linker
        .instantiate(&mut store, &module)
        .with_context(|| format!("failed to instantiate `{}`", cmd.file.display()))?;

    let name = cmd.invoke.as_deref().unwrap_or("_start");
    let func = instance.get_func(&mut store, name).with_context(|| {
        let funcs: Vec<String> =
            module.exports().filter(|e| matches!(e.ty(), ExternType::Func(_))).map(|e| e.name().to_string()).collect();
        format!(
            "module `{}` has no exported function `{name}` (exported functions: {})",
            cmd.file.display(),
            if funcs.is_empty() { "none".to_string() } else { funcs.join(", ") }
        )
    })?;
    let results = call(&mut store, func, name, &cmd.args)?;
    for result in &results {
        println!("{}", display_val(result));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `cmd.invoke` of the component in `binary`, printing its result in WAVE.
fn run_component(cmd: &RunCommand, binary: &[u8]) -> Result<ExitCode> {
    let file = cmd.file.display();
    let engine = engine_for(cmd)?;
    let component = kiln::component::Component::from_binary(&engine, binary)
        .with_context(|| format!("failed to load component `{file}`"))?;
    if let Some((name, kind)) = component.imports().find(|(_, kind)| *kind != "type") {
        bail!(
            "cannot satisfy import `{name}` ({kind}) of component `{file}`: kiln run does not provide any imports yet"
        );
    }
    let Some(invoke) = cmd.invoke.as_deref() else {
        bail!("`{file}` is a component: name the function to call with --invoke 'name(arguments...)'");
    };
    if !cmd.args.is_empty() {
        bail!("a component's arguments go inside the invocation: --invoke '{invoke}(...)'");
    }
    let invocation = wave::Invocation::parse(invoke)?;
    let path = wave::find_export(&component.exported_functions(), &invocation.name)
        .with_context(|| format!("in component `{file}`"))?;
    let mut store = store_for(cmd, &engine)?;
    let instance = kiln::component::Linker::new(&engine)
        .instantiate(&mut store, &component)
        .with_context(|| format!("failed to instantiate `{file}`"))?;
    let func = if path.instance.is_empty() {
        instance.get_func(&mut store, path.func.as_str())
    } else {
        let parent = instance.get_export_index(&store, None, &path.instance);
        instance.get_export_index(&store, parent.as_ref(), &path.func).and_then(|i| instance.get_func(&mut store, i))
    }
    .with_context(|| format!("component `{file}` has no function `{path}`"))?;
    let params = func.params(&store);
    let args = invocation.args(&params).with_context(|| format!("invalid arguments for `{path}`"))?;
    let result_ty = func.result(&store);
    let mut results: Vec<kiln::component::Val> = result_ty.iter().map(|_| kiln::component::Val::Bool(false)).collect();
    func.call(&mut store, &args, &mut results).with_context(|| format!("failed to call `{path}`"))?;
    if let (Some(ty), Some(value)) = (&result_ty, results.first()) {
        println!("{}", wave::format(ty, value)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn call(store: &mut Store<()>, func: Func, name: &str, args: &[String]) -> Result<Vec<Val>> {
    let ty = func.ty(&*store);
    let params: Vec<ValType> = ty.params().collect();
    if params.len() != args.len() {
        bail!(
            "function `{name}` takes {} argument(s) ({}), {} given",
            params.len(),
            params.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
            args.len()
        );
    }
    let vals = params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (ty, arg))| {
            parse_arg(ty, arg).with_context(|| format!("invalid argument {i} (`{arg}`) for `{name}`"))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut results = vec![Val::I32(0); ty.results().count()];
    func.call(&mut *store, &vals, &mut results).with_context(|| format!("failed to call `{name}`"))?;
    Ok(results)
}

fn parse_arg(ty: &ValType, arg: &str) -> Result<Val> {
    Ok(match ty {
        ValType::I32 => Val::I32(parse_int(arg)?),
        ValType::I64 => Val::I64(parse_int(arg)?),
        ValType::F32 => Val::F32(arg.parse::<f32>().context("not an f32")?.to_bits()),
        ValType::F64 => Val::F64(arg.parse::<f64>().context("not an f64")?.to_bits()),
        // The form results are printed in: `0x` and 32 hex digits, lane 0 last.
        ValType::V128 => Val::V128(match arg.strip_prefix("0x").or_else(|| arg.strip_prefix("0X")) {
            Some(hex) => u128::from_str_radix(&hex.replace('_', ""), 16).context("not a 128-bit hex number")?,
            None => arg.replace('_', "").parse::<u128>().context("not a v128 (`0x` and up to 32 hex digits)")?,
        }),
        other => bail!("cannot pass a `{other}` from the command line"),
    })
}

/// Parses a decimal integer, or a `0x` hexadecimal one, in the signed or unsigned range.
fn parse_int<T>(arg: &str) -> Result<T>
where
    T: TryFrom<i128>,
{
    let (neg, digits) = match arg.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    let magnitude = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => digits.replace('_', "").parse::<u64>(),
    }
    .context("not an integer")?;
    let value = if neg { -i128::from(magnitude) } else { i128::from(magnitude) };
    let bits = std::mem::size_of::<T>() * 8;
    // Accept the unsigned range too (`4294967295` as an i32 is -1), as wasm integers are
    // sign-agnostic.
    let min = -(1i128 << (bits - 1));
    let max = (1i128 << bits) - 1;
    if value < min || value > max {
        bail!("integer out of range for {bits} bits");
    }
    let wrapped = if value >= 1i128 << (bits - 1) { value - (1i128 << bits) } else { value };
    T::try_from(wrapped).ok().context("integer out of range")
}

fn display_val(v: &Val) -> String {
    match v {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(v) => format!("0x{v:032x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "<funcref>".to_string(),
        Val::ExternRef(Some(_)) => "<externref>".to_string(),
        #[allow(unreachable_patterns)]
        _ => "<value>".to_string(),
    }
}

fn extern_kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        #[allow(unreachable_patterns)]
        _ => "extern",
    }
}

fn wast(cmd: WastCommand) -> Result<ExitCode> {
    let engine = Engine::default();
    let mut total = WastStats::default();
    let mut failed_files = 0;
    for file in &cmd.files {
        let stats = match run_wast_file(&engine, file) {
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

fn run_wast_file(engine: &Engine, file: &Path) -> Result<WastStats> {
    let mut cx = WastContext::new(Store::new(engine, ()));
    cx.register_spectest(&SpectestConfig::default())?;
    cx.run_file(file)
}

#[cfg(test)]
mod tests {
    use super::parse_int;

    #[test]
    fn integers() {
        assert_eq!(parse_int::<i32>("42").unwrap(), 42);
        assert_eq!(parse_int::<i32>("-2147483648").unwrap(), i32::MIN);
        assert_eq!(parse_int::<i32>("4294967295").unwrap(), -1);
        assert_eq!(parse_int::<i32>("0x10").unwrap(), 16);
        assert_eq!(parse_int::<i64>("-0x1").unwrap(), -1);
        assert_eq!(parse_int::<i64>("18446744073709551615").unwrap(), -1);
        assert!(parse_int::<i32>("4294967296").is_err());
        assert!(parse_int::<i32>("-2147483649").is_err());
        assert!(parse_int::<i32>("1.5").is_err());
    }

    #[test]
    fn v128_arguments_read_back_what_results_print() {
        use kiln::{Val, ValType};
        let v = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10u128;
        let printed = super::display_val(&Val::V128(v));
        assert_eq!(super::parse_arg(&ValType::V128, &printed).unwrap(), Val::V128(v));
        assert_eq!(super::parse_arg(&ValType::V128, "7").unwrap(), Val::V128(7));
        assert!(super::parse_arg(&ValType::V128, "0x1_0000_0000_0000_0000_0000_0000_0000_0000").is_err());
        assert!(super::parse_arg(&ValType::V128, "i32x4 1 2 3 4").is_err());
    }
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
