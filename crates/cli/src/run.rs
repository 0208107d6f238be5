//! `kiln run`: runs a core module (WASI preview 1 command, or `--invoke NAME` with arguments)
//! or a component (`--invoke 'name(args)'` in WAVE), with wasmtime's conventions for options,
//! arguments and exit codes.

use crate::wave;
use anyhow::{Context as _, Result, bail};
use kiln::{Engine, ExternType, Func, Linker, Module, OptLevel, Store, Val, ValType};
use kiln_wasi::{I32Exit, WasiCtx, WasiCtxBuilder};
use std::path::PathBuf;
use std::process::ExitCode;

/// The exit status of a run that trapped, as wasmtime uses on Unix: 128 + SIGABRT.
pub const TRAP_EXIT_CODE: u8 = 134;

#[derive(clap::Args)]
pub struct RunCommand {
    /// Give the program the host directory HOST, named GUEST inside it (default: HOST).
    /// Repeatable. Paths cannot escape it.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Set an environment variable for the program; `--env NAME` passes the host's value.
    /// Repeatable.
    #[arg(long = "env", value_name = "NAME[=VAL]")]
    envs: Vec<String>,
    /// The exported function to call. For a core module, a name (default: `_start`); for a
    /// component, a WAVE invocation such as `'greet("world", 3)'`, where the name may be
    /// qualified by an exported instance (`ns:pkg/iface.f(...)`, `ns:pkg/iface@1.2.3.f(...)`,
    /// or with the version after the function, `ns:pkg/iface.f@1.2.3(...)`).
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Instantiate the module at PATH first and let the program import its exports under NAME.
    /// Repeatable.
    #[arg(long = "preload", value_name = "NAME=PATH")]
    preloads: Vec<String>,
    /// Stop the program with a trap after about this many wasm operators (fuel).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Stop the program with a trap after this long, e.g. `500ms`, `10s`, `2m` (epoch
    /// interruption).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Cap every linear memory at this many bytes: `memory.grow` past it returns -1.
    #[arg(long, value_name = "BYTES")]
    max_memory_size: Option<u64>,
    /// Make the compiled code visible to a profiler: `perfmap` writes `/tmp/perf-PID.map` for
    /// `perf report`.
    #[arg(long, value_name = "STRATEGY", value_parser = parse_profile)]
    profile: Option<kiln::ProfilingStrategy>,
    /// WASI options, comma-separated or repeated, with wasmtime's names: `inherit-network`
    /// (let a component use the host's network through `wasi:sockets`), `tcp=n`, `udp=n`,
    /// `allow-ip-name-lookup=n` (switch one of them off again). Values: y/n (default y).
    #[arg(short = 'S', value_name = "KEY[=y|n]", value_parser = parse_wasi_options, action = clap::ArgAction::Append)]
    wasi: Vec<Vec<(WasiOption, bool)>>,
    #[command(flatten)]
    codegen: crate::compile::CodegenOptions,
    /// The module or component to run (`.wasm`, `.wat`, or `.cwasm` from `kiln compile`).
    file: PathBuf,
    /// The program's arguments (after its name); with `--invoke`, the function's arguments,
    /// parsed according to its parameter types.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

/// A `-S` WASI option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasiOption {
    /// `inherit-network`: the host's network for `wasi:sockets`.
    InheritNetwork,
    /// `tcp`: TCP sockets.
    Tcp,
    /// `udp`: UDP sockets.
    Udp,
    /// `allow-ip-name-lookup`: name resolution.
    IpNameLookup,
}

/// Parses `-S inherit-network,tcp=n`.
fn parse_wasi_options(text: &str) -> Result<Vec<(WasiOption, bool)>, String> {
    text.split(',')
        .map(|item| {
            let (key, value) = item.split_once('=').unwrap_or((item, "y"));
            let value = match value {
                "y" | "yes" | "true" => true,
                "n" | "no" | "false" => false,
                other => return Err(format!("-S {key}: `{other}` is not y or n")),
            };
            let option = match key {
                "inherit-network" => WasiOption::InheritNetwork,
                "tcp" => WasiOption::Tcp,
                "udp" => WasiOption::Udp,
                "allow-ip-name-lookup" => WasiOption::IpNameLookup,
                other => {
                    return Err(format!(
                        "unsupported feature: -S {other} (kiln knows inherit-network, tcp, udp, allow-ip-name-lookup)"
                    ));
                }
            };
            Ok((option, value))
        })
        .collect()
}

/// Parses `--profile perfmap`.
fn parse_profile(text: &str) -> Result<kiln::ProfilingStrategy, String> {
    match text {
        "perfmap" => Ok(kiln::ProfilingStrategy::PerfMap),
        other => Err(format!("unsupported feature: --profile {other} (kiln supports perfmap)")),
    }
}

/// Parses `500ms`, `10s`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
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

/// Parses `-O 0|1|2|s` and wasmtime's `-O opt-level=N`.
pub fn parse_opt_level(text: &str) -> Result<OptLevel, String> {
    let level = match text.split_once('=') {
        Some(("opt-level", level)) => level,
        Some((key, _)) => return Err(format!("unsupported feature: -O {key} (kiln supports -O opt-level=N)")),
        None => text,
    };
    match level {
        "0" => Ok(OptLevel::None),
        "1" | "2" => Ok(OptLevel::Speed),
        "s" => Ok(OptLevel::SpeedAndSize),
        other => Err(format!("unknown optimisation level `{other}` (use 0, 1, 2 or s)")),
    }
}

/// An engine configured for the command's limits.
fn engine_for(cmd: &RunCommand) -> Result<Engine> {
    let mut config = kiln::Config::new();
    config.consume_fuel(cmd.fuel.is_some());
    config.epoch_interruption(cmd.timeout.is_some());
    if let Some(bytes) = cmd.max_memory_size {
        config.max_memory_size(bytes);
    }
    cmd.codegen.configure(&mut config);
    if let Some(strategy) = cmd.profile {
        config.profiler(strategy);
    }
    Engine::new(&config)
}

/// A store with the command's fuel and deadline; the deadline is enforced by a timer thread.
fn store_for<T: 'static>(cmd: &RunCommand, engine: &Engine, data: T) -> Result<Store<T>> {
    let mut store = Store::new(engine, data);
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

/// What `kiln run` gives a WASI program, for either version of WASI: argv (the file name, not
/// the path to it, as wasmtime does, then the arguments), `--env` (`NAME` alone passes the
/// host's value, if it has one) and `--dir` (`HOST[::GUEST]`).
struct WasiSetup<'a> {
    argv: Vec<String>,
    env: Vec<(&'a str, String)>,
    dirs: Vec<(&'a str, &'a str)>,
}

impl RunCommand {
    fn wasi_setup(&self) -> WasiSetup<'_> {
        let program =
            self.file.file_name().map_or_else(|| self.file.display().to_string(), |n| n.to_string_lossy().into());
        let env = self
            .envs
            .iter()
            .filter_map(|env| match env.split_once('=') {
                Some((name, value)) => Some((name, value.to_string())),
                None => std::env::var(env).ok().map(|value| (env.as_str(), value)),
            })
            .collect();
        let dirs = self.dirs.iter().map(|dir| dir.split_once("::").unwrap_or((dir, dir))).collect();
        WasiSetup { argv: std::iter::once(program).chain(self.args.iter().cloned()).collect(), env, dirs }
    }
}

/// The program's WASI context: the host's stdio, arguments, `--env` and `--dir`.
fn wasi_ctx(cmd: &RunCommand) -> Result<WasiCtx> {
    let setup = cmd.wasi_setup();
    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stdio().args(&setup.argv);
    for (name, value) in &setup.env {
        builder.env(name, value);
    }
    for (host, guest) in setup.dirs {
        builder.preopened_dir(host, guest)?;
    }
    Ok(builder.build())
}

pub fn run(cmd: RunCommand) -> Result<ExitCode> {
    let input = crate::compile::Input::read(&cmd.file)?;
    if input.is_component() {
        return run_component(&cmd, &input);
    }
    let engine = engine_for(&cmd)?;
    let module = crate::compile::load_module(&engine, &cmd.file, &input)?;
    let mut store = store_for(&cmd, &engine, wasi_ctx(&cmd)?)?;
    let mut linker = Linker::new(&engine);
    kiln_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
    for preload in &cmd.preloads {
        preload_module(&mut linker, &mut store, &engine, preload)?;
    }

    // Name the first import nothing provides, rather than letting instantiation report it.
    for import in module.imports() {
        if linker.get(&mut store, import.module(), import.name()).is_none() {
            bail!(
                "cannot satisfy import `{}::{}` ({}) of `{}`: kiln run provides `{}` and the modules given with \
                 --preload NAME=PATH",
                import.module(),
                import.name(),
                extern_kind(&import.ty()),
                cmd.file.display(),
                kiln_wasi::MODULE
            );
        }
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
    // A command's arguments are its argv; an invoked function's are its parameters.
    let func_args: &[String] = if cmd.invoke.is_some() { &cmd.args } else { &[] };
    let result = call(&mut store, func, name, func_args);
    store.data_mut().flush();
    match result {
        Ok(results) => {
            for result in &results {
                println!("{}", display_val(result));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => match err.downcast_ref::<I32Exit>() {
            // proc_exit allows 0..126 only, so the status fits.
            Some(exit) => Ok(ExitCode::from(exit.0 as u8)),
            None => Err(err),
        },
    }
}

/// `--preload NAME=PATH`: instantiates the module (it may import WASI and earlier preloads),
/// runs its `_initialize` if it has one, and defines its exports under NAME.
fn preload_module(linker: &mut Linker<WasiCtx>, store: &mut Store<WasiCtx>, engine: &Engine, spec: &str) -> Result<()> {
    let Some((name, path)) = spec.split_once('=') else {
        bail!("--preload takes NAME=PATH, got `{spec}`");
    };
    let module = Module::from_file(engine, path)?;
    let instance =
        linker.instantiate(&mut *store, &module).with_context(|| format!("failed to instantiate preload `{path}`"))?;
    if let Some(init) = instance.get_func(&mut *store, "_initialize") {
        init.call(&mut *store, &[], &mut []).with_context(|| format!("failed to initialize preload `{path}`"))?;
    }
    linker.instance(&mut *store, name, instance)?;
    Ok(())
}

/// The store data of a component run: its WASI 0.2 context and resource table.
struct ComponentState {
    ctx: kiln_wasi::p2::WasiCtx,
    table: kiln::component::ResourceTable,
}

impl kiln_wasi::p2::WasiView for ComponentState {
    fn ctx(&mut self) -> kiln_wasi::p2::WasiCtxView<'_> {
        kiln_wasi::p2::WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

/// The component's WASI 0.2 context: the host's stdio, arguments, `--env` and `--dir`.
fn wasi_p2_ctx(cmd: &RunCommand) -> Result<kiln_wasi::p2::WasiCtx> {
    let setup = cmd.wasi_setup();
    let mut builder = kiln_wasi::p2::WasiCtxBuilder::new();
    builder.inherit_stdio().args(&setup.argv);
    for (name, value) in &setup.env {
        builder.env(name, value);
    }
    for (host, guest) in setup.dirs {
        builder.preopened_dir(host, guest)?;
    }
    for (option, on) in cmd.wasi.iter().flatten() {
        match option {
            WasiOption::InheritNetwork if *on => builder.inherit_network(),
            WasiOption::InheritNetwork => &mut builder,
            WasiOption::Tcp => builder.allow_tcp(*on),
            WasiOption::Udp => builder.allow_udp(*on),
            WasiOption::IpNameLookup => builder.allow_ip_name_lookup(*on),
        };
    }
    Ok(builder.build())
}

/// Runs a component: its `wasi:cli/run` export (a WASI 0.2 command, with the arguments after
/// the file as its argv) or, with `--invoke`, the named function, printing its result in WAVE.
/// Either way its imports are WASI 0.2's (`kiln_wasi::p2`).
fn run_component(cmd: &RunCommand, input: &crate::compile::Input) -> Result<ExitCode> {
    let file = cmd.file.display();
    if !cmd.preloads.is_empty() {
        bail!("unsupported feature: --preload for components (only core modules can be preloaded)");
    }
    let engine = engine_for(cmd)?;
    let component = crate::compile::load_component(&engine, &cmd.file, input)?;
    let mut linker = kiln::component::Linker::new(&engine);
    kiln_wasi::p2::add_to_linker_sync(&mut linker)?;
    let state = ComponentState { ctx: wasi_p2_ctx(cmd)?, table: kiln::component::ResourceTable::new() };
    let mut store = store_for(cmd, &engine, state)?;
    let Some(invoke) = cmd.invoke.as_deref() else {
        let pre = linker.instantiate_pre(&component).with_context(|| format!("failed to instantiate `{file}`"))?;
        let pre = kiln_wasi::p2::bindings::sync::CommandPre::new(pre).with_context(|| {
            format!("`{file}` is a component without a `wasi:cli/run` export: name a function to call with --invoke 'name(arguments...)'")
        })?;
        let command = pre.instantiate(&mut store).with_context(|| format!("failed to instantiate `{file}`"))?;
        return match command.wasi_cli_run().call_run(&mut store) {
            Ok(Ok(())) => Ok(ExitCode::SUCCESS),
            Ok(Err(())) => Ok(ExitCode::FAILURE),
            Err(err) => match err.downcast_ref::<I32Exit>() {
                Some(exit) => Ok(ExitCode::from(exit.0 as u8)),
                None => Err(err),
            },
        };
    };
    if !cmd.args.is_empty() {
        bail!("a component's arguments go inside the invocation: --invoke '{invoke}(...)'");
    }
    let invocation = wave::Invocation::parse(invoke)?;
    let path = wave::find_export(&component.exported_functions(), &invocation.name)
        .with_context(|| format!("in component `{file}`"))?;
    let instance =
        linker.instantiate(&mut store, &component).with_context(|| format!("failed to instantiate `{file}`"))?;
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
    match func.call(&mut store, &args, &mut results) {
        Ok(()) => {}
        Err(err) => match err.downcast_ref::<I32Exit>() {
            Some(exit) => return Ok(ExitCode::from(exit.0 as u8)),
            None => return Err(err.context(format!("failed to call `{path}`"))),
        },
    }
    if let (Some(ty), Some(value)) = (&result_ty, results.first()) {
        println!("{}", wave::format(ty, value)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn call<T: 'static>(store: &mut Store<T>, func: Func, name: &str, args: &[String]) -> Result<Vec<Val>> {
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

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_int, parse_opt_level};
    use kiln::OptLevel;
    use std::time::Duration;

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
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn opt_levels_parse() {
        assert_eq!(parse_opt_level("0"), Ok(OptLevel::None));
        assert_eq!(parse_opt_level("2"), Ok(OptLevel::Speed));
        assert_eq!(parse_opt_level("s"), Ok(OptLevel::SpeedAndSize));
        assert_eq!(parse_opt_level("opt-level=0"), Ok(OptLevel::None));
        assert!(parse_opt_level("3").is_err());
        assert!(parse_opt_level("pooling-allocator=y").unwrap_err().contains("unsupported feature"));
    }

    #[test]
    fn wasi_options_parse() {
        use super::{WasiOption, parse_wasi_options};
        assert_eq!(
            parse_wasi_options("inherit-network,tcp=n,udp=yes").unwrap(),
            [(WasiOption::InheritNetwork, true), (WasiOption::Tcp, false), (WasiOption::Udp, true)]
        );
        assert_eq!(parse_wasi_options("allow-ip-name-lookup=n").unwrap(), [(WasiOption::IpNameLookup, false)]);
        assert!(parse_wasi_options("tcp=maybe").is_err());
        assert!(parse_wasi_options("http").unwrap_err().contains("unsupported feature: -S http"));
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
