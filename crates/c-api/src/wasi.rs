//! wasi.h: WASI preview 1 configuration (arguments, environment, preopened directories, stdio
//! inherited, redirected to files or captured in memory) and `kiln_store_set_wasi`. The same
//! configuration gives components their WASI 0.2 context.

use crate::engine::{store_mut, wasm_store_t};
use crate::error::{cstr_arg, error_msg, guard_err, kiln_error_t};
use crate::types::take;
use crate::vec::{CVec, wasm_byte_vec_t};
use crate::{boxed, guard};
use std::ffi::c_char;
use std::io::Write;
use std::ptr::null_mut;
use std::sync::{Arc, Mutex};

enum Stdio {
    Null,
    Inherit,
    File(String),
    Capture,
}

/// Output captured in memory, read back with `kiln_store_wasi_stdout` / `_stderr`.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

macro_rules! capture_fns {
    ($($name:ident $field:ident,)*) => {$(
        /// Captures the stream in memory (see `kiln_store_wasi_stdout` / `_stderr`).
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(c: *mut wasi_config_t) {
            guard((), || {
                if let Some(c) = cfg(c) {
                    c.$field = Stdio::Capture;
                }
            })
        }
    )*};
}

capture_fns! {
    wasi_config_capture_stdout stdout,
    wasi_config_capture_stderr stderr,
}

stdio_fns! {
    wasi_config_inherit_stdin wasi_config_set_stdin_file stdin,
    wasi_config_inherit_stdout wasi_config_set_stdout_file stdout,
    wasi_config_inherit_stderr wasi_config_set_stderr_file stderr,
}

/// The WASI contexts (preview 1 for modules, 0.2 for components, sharing the standard streams)
/// and the buffers captured streams write to.
struct Built {
    ctx: kiln_wasi::WasiCtx,
    p2: kiln_wasi::p2::WasiCtx,
    stdout: Option<Captured>,
    stderr: Option<Captured>,
}

/// Both builders get the same setting.
macro_rules! both {
    ($b1:ident, $b2:ident, $($call:tt)*) => {{
        $b1.$($call)*;
        $b2.$($call)*;
    }};
}

fn build(c: &wasi_config_t) -> anyhow::Result<Built> {
    let (mut stdout, mut stderr) = (None, None);
    let mut b1 = kiln_wasi::WasiCtx::builder();
    let mut b2 = kiln_wasi::p2::WasiCtx::builder();
    if c.inherit_args {
        both!(b1, b2, inherit_args());
    } else {
        both!(b1, b2, args(&c.args));
    }
    if c.inherit_env {
        both!(b1, b2, inherit_env());
    } else {
        both!(b1, b2, envs(&c.env));
    }
    for (h, g) in &c.preopens {
        b1.preopened_dir(h, g)?;
        b2.preopened_dir(h, g)?;
    }
    match &c.stdin {
        Stdio::Null | Stdio::Capture => {}
        Stdio::Inherit => both!(b1, b2, inherit_stdin()),
        Stdio::File(p) => {
            // One open file: what a module reads, a component does not read again.
            let f = std::fs::File::open(p)?;
            b1.stdin(f.try_clone()?);
            b2.stdin(f);
        }
    }
    for (which, sink) in [(&c.stdout, &mut stdout), (&c.stderr, &mut stderr)] {
        let is_out = std::ptr::eq(which, &c.stdout);
        let writers: Option<(Box<dyn Write + Send>, Box<dyn Write + Send>)> = match which {
            Stdio::Null => None,
            Stdio::Inherit => {
                if is_out {
                    both!(b1, b2, inherit_stdout());
                } else {
                    both!(b1, b2, inherit_stderr());
                }
                None
            }
            Stdio::File(p) => {
                let f = std::fs::File::create(p)?;
                Some((Box::new(f.try_clone()?), Box::new(f)))
            }
            Stdio::Capture => {
                let buf = Captured::default();
                *sink = Some(buf.clone());
                Some((Box::new(buf.clone()), Box::new(buf)))
            }
        };
        if let Some((w1, w2)) = writers {
            if is_out {
                b1.stdout(w1);
                b2.stdout(w2);
            } else {
                b1.stderr(w1);
                b2.stderr(w2);
            }
        }
    }
    Ok(Built { ctx: b1.build(), p2: b2.build(), stdout, stderr })
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
            Ok(built) => {
                let data = s.data_mut();
                data.wasi = Some(built.ctx);
                data.wasi_p2 = Some(Box::new(crate::engine::WasiP2 {
                    ctx: built.p2,
                    table: kiln_rs::component::ResourceTable::new(),
                }));
                data.wasi_stdout = built.stdout;
                data.wasi_stderr = built.stderr;
                null_mut()
            }
            Err(e) => crate::error::error(store, &e),
        }
    })
}

fn captured(store: *mut wasm_store_t, out: *mut wasm_byte_vec_t, stderr: bool) -> bool {
    guard(false, || {
        let Some(s) = store_mut(store) else { return false };
        if out.is_null() {
            return false;
        }
        let data = s.data_mut();
        if let Some(wasi) = data.wasi.as_mut() {
            wasi.flush();
        }
        let buf = if stderr { &data.wasi_stderr } else { &data.wasi_stdout };
        let Some(buf) = buf else { return false };
        let bytes = buf.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(bytes)) };
        true
    })
}

/// What the store's WASI program wrote to a captured stdout so far, into `*out` (caller-owned);
/// false if stdout is not captured.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_store_wasi_stdout(store: *mut wasm_store_t, out: *mut wasm_byte_vec_t) -> bool {
    captured(store, out, false)
}

/// As `kiln_store_wasi_stdout`, for stderr.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_store_wasi_stderr(store: *mut wasm_store_t, out: *mut wasm_byte_vec_t) -> bool {
    captured(store, out, true)
}
