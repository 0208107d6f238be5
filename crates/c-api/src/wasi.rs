//! wasi.h: WASI preview 1 configuration (arguments, environment, preopened directories, stdio
//! inherited or redirected to files) and `kiln_store_set_wasi`.

use crate::engine::{store_mut, wasm_store_t};
use crate::error::{cstr_arg, error_msg, guard_err, kiln_error_t};
use crate::types::take;
use crate::{boxed, guard};
use std::ffi::c_char;
use std::ptr::null_mut;

enum Stdio {
    Null,
    Inherit,
    File(String),
}

/// What a WASI program gets; consumed by `kiln_store_set_wasi`.
pub struct wasi_config_t {
    args: Vec<String>,
    inherit_args: bool,
    env: Vec<(String, String)>,
    inherit_env: bool,
    preopens: Vec<(String, String)>,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
}

fn cfg<'a>(c: *mut wasi_config_t) -> Option<&'a mut wasi_config_t> {
    // SAFETY: C passes NULL or a live config.
    unsafe { c.as_mut() }
}

#[unsafe(no_mangle)]
pub extern "C" fn wasi_config_new() -> *mut wasi_config_t {
    guard(null_mut(), || {
        boxed(wasi_config_t {
            args: Vec::new(),
            inherit_args: false,
            env: Vec::new(),
            inherit_env: false,
            preopens: Vec::new(),
            stdin: Stdio::Null,
            stdout: Stdio::Null,
            stderr: Stdio::Null,
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasi_config_delete(c: *mut wasi_config_t) {
    guard((), || drop(take(c)));
}

/// Sets `argv` (the program name first); false if a string is not UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasi_config_set_argv(c: *mut wasi_config_t, argc: usize, argv: *const *const c_char) -> bool {
    guard(false, || {
        let Some(c) = cfg(c) else { return false };
        let mut args = Vec::new();
        for i in 0..argc {
            // SAFETY: C passes `argc` string pointers.
            let Some(a) = cstr_arg(unsafe { *argv.add(i) }) else { return false };
            args.push(a.to_string());
        }
        c.args = args;
        c.inherit_args = false;
        true
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasi_config_inherit_argv(c: *mut wasi_config_t) {
    guard((), || {
        if let Some(c) = cfg(c) {
            c.inherit_args = true;
        }
    })
}

/// Sets the environment from `n` names and values; false if a string is not UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasi_config_set_env(
    c: *mut wasi_config_t,
    n: usize,
    names: *const *const c_char,
    values: *const *const c_char,
) -> bool {
    guard(false, || {
        let Some(c) = cfg(c) else { return false };
        let mut env = Vec::new();
        for i in 0..n {
            // SAFETY: C passes `n` string pointers in each array.
            let (k, v) = unsafe { (cstr_arg(*names.add(i)), cstr_arg(*values.add(i))) };
            let (Some(k), Some(v)) = (k, v) else { return false };
            env.push((k.to_string(), v.to_string()));
        }
        c.env = env;
        c.inherit_env = false;
        true
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasi_config_inherit_env(c: *mut wasi_config_t) {
    guard((), || {
        if let Some(c) = cfg(c) {
            c.inherit_env = true;
        }
    })
}

/// Gives the program the host directory `host_path` as `guest_path`; paths cannot escape it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasi_config_preopen_dir(
    c: *mut wasi_config_t,
    host_path: *const c_char,
    guest_path: *const c_char,
) -> bool {
    guard(false, || {
        let (Some(c), Some(h), Some(g)) = (cfg(c), cstr_arg(host_path), cstr_arg(guest_path)) else { return false };
        if !std::path::Path::new(h).is_dir() {
            return false;
        }
        c.preopens.push((h.to_string(), g.to_string()));
        true
    })
}

macro_rules! stdio_fns {
    ($($inherit:ident $file:ident $field:ident,)*) => {$(
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $inherit(c: *mut wasi_config_t) {
            guard((), || {
                if let Some(c) = cfg(c) {
                    c.$field = Stdio::Inherit;
                }
            })
        }
        /// Connects the stream to a host file (read for stdin; created or truncated otherwise).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $file(c: *mut wasi_config_t, path: *const c_char) -> bool {
            guard(false, || {
                let (Some(c), Some(p)) = (cfg(c), cstr_arg(path)) else { return false };
                c.$field = Stdio::File(p.to_string());
                true
            })
        }
    )*};
}

stdio_fns! {
    wasi_config_inherit_stdin wasi_config_set_stdin_file stdin,
    wasi_config_inherit_stdout wasi_config_set_stdout_file stdout,
    wasi_config_inherit_stderr wasi_config_set_stderr_file stderr,
}

fn build(c: &wasi_config_t) -> anyhow::Result<kiln_wasi::WasiCtx> {
    let mut b = kiln_wasi::WasiCtx::builder();
    if c.inherit_args {
        b.inherit_args();
    } else {
        b.args(&c.args);
    }
    if c.inherit_env {
        b.inherit_env();
    } else {
        b.envs(&c.env);
    }
    for (h, g) in &c.preopens {
        b.preopened_dir(h, g)?;
    }
    match &c.stdin {
        Stdio::Null => {}
        Stdio::Inherit => {
            b.inherit_stdin();
        }
        Stdio::File(p) => {
            b.stdin(std::fs::File::open(p)?);
        }
    }
    match &c.stdout {
        Stdio::Null => {}
        Stdio::Inherit => {
            b.inherit_stdout();
        }
        Stdio::File(p) => {
            b.stdout(std::fs::File::create(p)?);
        }
    }
    match &c.stderr {
        Stdio::Null => {}
        Stdio::Inherit => {
            b.inherit_stderr();
        }
        Stdio::File(p) => {
            b.stderr(std::fs::File::create(p)?);
        }
    }
    Ok(b.build())
}

/// Gives the store a WASI context built from `config`, which this call takes ownership of.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_store_set_wasi(
    store: *mut wasm_store_t,
    config: *mut wasi_config_t,
) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(config) = take(config) else { return error_msg("kiln_store_set_wasi: NULL config") };
        let Some(s) = store_mut(store) else {
            return error_msg("kiln_store_set_wasi: NULL store, or inside a host call");
        };
        match build(&config) {
            Ok(ctx) => {
                s.data_mut().wasi = Some(ctx);
                null_mut()
            }
            Err(e) => crate::error::error(store, &e),
        }
    })
}
