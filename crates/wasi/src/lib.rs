//! kiln-wasi: WASI preview 1 (`wasi_snapshot_preview1`) for kiln.
//!
//! A program's state is a [`WasiCtx`], made by a [`WasiCtxBuilder`] (arguments, environment,
//! standard streams, preopened directories) and kept in the store's data; [`add_to_linker`]
//! defines every preview-1 function in a [`kiln::Linker`]:
//!
//! ```no_run
//! use kiln::{Engine, Linker, Module, Store};
//! use kiln_wasi::{WasiCtx, WasiCtxBuilder};
//!
//! let engine = Engine::default();
//! let module = Module::from_file(&engine, "program.wasm")?;
//! let mut linker = Linker::new(&engine);
//! kiln_wasi::add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
//! let wasi = WasiCtxBuilder::new().arg("program").inherit_stdio().preopened_dir(".", ".")?.build();
//! let mut store = Store::new(&engine, wasi);
//! let instance = linker.instantiate(&mut store, &module)?;
//! let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
//! match start.call(&mut store, ()) {
//!     Ok(()) => {}
//!     Err(e) => match e.downcast_ref::<kiln_wasi::I32Exit>() {
//!         Some(exit) => std::process::exit(exit.0),
//!         None => return Err(e),
//!     },
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! **Sandbox.** Files are reached only through preopened directories, with cap-std: every path
//! is resolved beneath a directory descriptor, so `..`, absolute paths and symlinks cannot leave
//! it (such lookups fail with `EPERM`). Rights are reported as wasmtime does (all of them), but a
//! descriptor opened read-only cannot be written and one opened write-only cannot be read.
//!
//! **Guest memory.** Every pointer from the guest is bounds-checked ([`memory::GuestMemory`]):
//! an out-of-bounds pointer is `EFAULT`. Functions use the calling instance's export `memory`;
//! a caller without one gets an error (a trap), not a crash.
//!
//! **Exit.** `proc_exit(code)` unwinds the guest with an [`I32Exit`] error that callers of
//! `Func::call` can downcast; codes of 126 and above are rejected as wasmtime does.
//! `proc_raise` and the socket functions are not supported (`ENOTSUP`, or `EBADF` for a bad
//! descriptor).
//!
//! This crate must not contain `unsafe` code: host calls go through `rustix` and cap-std.

#![forbid(unsafe_code)]

mod ctx;
mod errno;
mod fd;
mod fs;
pub mod memory;
mod misc;
pub mod p2;
pub mod pipe;
pub mod types;

pub use ctx::{WasiCtx, WasiCtxBuilder};
pub use errno::Errno;

use anyhow::{Result, anyhow, bail};
use kiln::{Caller, Extern, Linker, Memory};
use memory::GuestMemory;

/// The module name of WASI preview 1 imports.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// The error `proc_exit` ends a program with: downcast the error of `Func::call` to find the
/// exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I32Exit(pub i32);

impl std::fmt::Display for I32Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit with status {}", self.0)
    }
}

impl std::error::Error for I32Exit {}

/// The calling instance's memory, which every pointer argument refers to.
fn exported_memory<T: 'static>(caller: &mut Caller<'_, T>, func: &str) -> Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => bail!("WASI function `{MODULE}::{func}` needs the calling module to export its memory as `memory`"),
    }
}

fn errno(result: Result<(), Errno>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => i32::from(e as u16),
    }
}

/// A narrow WASI integer type passed as an i32: `EINVAL` if it does not fit.
fn narrow<N: TryFrom<u32>>(value: u32) -> Result<N, Errno> {
    N::try_from(value).map_err(|_| Errno::Inval)
}

/// Defines WASI functions in `$linker`, one `"name" (args) |ctx, mem| body;` or
/// `"name" (args) |ctx| body;` entry each: the first form for functions that read or write guest
/// memory (the calling instance's `memory` export), the second for those that only use the
/// context. `$get` finds the [`WasiCtx`] in the store's data; `body` returns `Result<(), Errno>`.
macro_rules! wasi_functions {
    ($linker:ident, $get:ident;) => {};
    ($linker:ident, $get:ident;
        $name:literal ($($arg:ident: $ty:ty),*) |$ctx:ident, $mem:ident| $body:expr; $($rest:tt)*) => {
        $linker.func_wrap(MODULE, $name, move |mut caller: Caller<'_, T>, $($arg: $ty),*| -> Result<i32> {
            let memory = exported_memory(&mut caller, $name)?;
            let (data, state) = memory.data_and_store_mut(&mut caller);
            let $ctx: &mut WasiCtx = $get(state);
            let $mem = &mut GuestMemory::new(data);
            Ok(errno($body))
        })?;
        wasi_functions!($linker, $get; $($rest)*);
    };
    ($linker:ident, $get:ident;
        $name:literal ($($arg:ident: $ty:ty),*) |$ctx:ident| $body:expr; $($rest:tt)*) => {
        $linker.func_wrap(MODULE, $name, move |mut caller: Caller<'_, T>, $($arg: $ty),*| -> i32 {
            let $ctx: &mut WasiCtx = $get(caller.data_mut());
            errno($body)
        })?;
        wasi_functions!($linker, $get; $($rest)*);
    };
}

/// Defines every `wasi_snapshot_preview1` function in `linker`; `get` finds the [`WasiCtx`] in
/// the store's data.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static,
) -> Result<()> {
    wasi_functions! { linker, get;
        "args_get" (argv: u32, buf: u32) |ctx, mem| ctx.args_get(mem, argv, buf);
        "args_sizes_get" (count: u32, size: u32) |ctx, mem| ctx.args_sizes_get(mem, count, size);
        "environ_get" (environ: u32, buf: u32) |ctx, mem| ctx.environ_get(mem, environ, buf);
        "environ_sizes_get" (count: u32, size: u32) |ctx, mem| ctx.environ_sizes_get(mem, count, size);
        "clock_res_get" (id: u32, out: u32) |ctx, mem| ctx.clock_res_get(mem, id, out);
        "clock_time_get" (id: u32, precision: u64, out: u32) |ctx, mem| ctx.clock_time_get(mem, id, precision, out);

        "fd_advise" (fd: u32, offset: u64, len: u64, advice: u32)
            |ctx| narrow(advice).and_then(|advice| ctx.fd_advise(fd, offset, len, advice));
        "fd_allocate" (fd: u32, offset: u64, len: u64) |ctx| ctx.fd_allocate(fd, offset, len);
        "fd_close" (fd: u32) |ctx| ctx.fd_close(fd);
        "fd_datasync" (fd: u32) |ctx| ctx.fd_sync(fd, true);
        "fd_fdstat_get" (fd: u32, out: u32) |ctx, mem| ctx.fd_fdstat_get(mem, fd, out);
        "fd_fdstat_set_flags" (fd: u32, flags: u32)
            |ctx| narrow(flags).and_then(|flags| ctx.fd_fdstat_set_flags(fd, flags));
        "fd_fdstat_set_rights" (fd: u32, base: u64, inheriting: u64)
            |ctx| ctx.fd_fdstat_set_rights(fd, base, inheriting);
        "fd_filestat_get" (fd: u32, out: u32) |ctx, mem| ctx.fd_filestat_get(mem, fd, out);
        "fd_filestat_set_size" (fd: u32, size: u64) |ctx| ctx.fd_filestat_set_size(fd, size);
        "fd_filestat_set_times" (fd: u32, atim: u64, mtim: u64, flags: u32)
            |ctx| narrow(flags).and_then(|flags| ctx.fd_filestat_set_times(fd, atim, mtim, flags));
        "fd_pread" (fd: u32, iovs: u32, count: u32, offset: u64, out: u32)
            |ctx, mem| ctx.fd_pread(mem, fd, iovs, count, offset, out);
        "fd_prestat_get" (fd: u32, out: u32) |ctx, mem| ctx.fd_prestat_get(mem, fd, out);
        "fd_prestat_dir_name" (fd: u32, path: u32, len: u32) |ctx, mem| ctx.fd_prestat_dir_name(mem, fd, path, len);
        "fd_pwrite" (fd: u32, iovs: u32, count: u32, offset: u64, out: u32)
            |ctx, mem| ctx.fd_pwrite(mem, fd, iovs, count, offset, out);
        "fd_read" (fd: u32, iovs: u32, count: u32, out: u32) |ctx, mem| ctx.fd_read(mem, fd, iovs, count, out);
        "fd_readdir" (fd: u32, buf: u32, len: u32, cookie: u64, out: u32)
            |ctx, mem| ctx.fd_readdir(mem, fd, buf, len, cookie, out);
        "fd_renumber" (from: u32, to: u32) |ctx| ctx.fd_renumber(from, to);
        "fd_seek" (fd: u32, offset: i64, whence: u32, out: u32)
            |ctx, mem| narrow(whence).and_then(|whence| ctx.fd_seek(mem, fd, offset, whence, out));
        "fd_sync" (fd: u32) |ctx| ctx.fd_sync(fd, false);
        "fd_tell" (fd: u32, out: u32) |ctx, mem| ctx.fd_tell(mem, fd, out);
        "fd_write" (fd: u32, iovs: u32, count: u32, out: u32) |ctx, mem| ctx.fd_write(mem, fd, iovs, count, out);

        "path_create_directory" (fd: u32, path: u32, len: u32) |ctx, mem| ctx.path_create_directory(mem, fd, path, len);
        "path_filestat_get" (fd: u32, flags: u32, path: u32, len: u32, out: u32)
            |ctx, mem| ctx.path_filestat_get(mem, fd, flags, path, len, out);
        "path_filestat_set_times" (fd: u32, flags: u32, path: u32, len: u32, atim: u64, mtim: u64, fst: u32)
            |ctx, mem| {
                narrow(fst).and_then(|fst| ctx.path_filestat_set_times(mem, fd, flags, path, len, atim, mtim, fst))
            };
        "path_link" (old_fd: u32, old_flags: u32, old_path: u32, old_len: u32, new_fd: u32, new_path: u32, new_len: u32)
            |ctx, mem| ctx.path_link(mem, old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len);
        "path_open" (
            fd: u32,
            dirflags: u32,
            path: u32,
            len: u32,
            oflags: u32,
            rights_base: u64,
            rights_inheriting: u64,
            fdflags: u32,
            out: u32
        ) |ctx, mem| narrow(oflags).and_then(|oflags| {
            narrow(fdflags).and_then(|fdflags| {
                ctx.path_open(mem, fd, dirflags, path, len, oflags, rights_base, rights_inheriting, fdflags, out)
            })
        });
        "path_readlink" (fd: u32, path: u32, len: u32, buf: u32, buf_len: u32, out: u32)
            |ctx, mem| ctx.path_readlink(mem, fd, path, len, buf, buf_len, out);
        "path_remove_directory" (fd: u32, path: u32, len: u32) |ctx, mem| ctx.path_remove_directory(mem, fd, path, len);
        "path_rename" (fd: u32, old_path: u32, old_len: u32, new_fd: u32, new_path: u32, new_len: u32)
            |ctx, mem| ctx.path_rename(mem, fd, old_path, old_len, new_fd, new_path, new_len);
        "path_symlink" (old_path: u32, old_len: u32, fd: u32, new_path: u32, new_len: u32)
            |ctx, mem| ctx.path_symlink(mem, old_path, old_len, fd, new_path, new_len);
        "path_unlink_file" (fd: u32, path: u32, len: u32) |ctx, mem| ctx.path_unlink_file(mem, fd, path, len);

        "poll_oneoff" (subs: u32, events: u32, n: u32, out: u32) |ctx, mem| ctx.poll_oneoff(mem, subs, events, n, out);
        "random_get" (buf: u32, len: u32) |ctx, mem| ctx.random_get(mem, buf, len);

        "sock_accept" (fd: u32, _flags: u32, _out: u32) |ctx| ctx.sock_check(fd);
        "sock_recv" (fd: u32, _iovs: u32, _count: u32, _flags: u32, _out_len: u32, _out_flags: u32)
            |ctx| ctx.sock_check(fd);
        "sock_send" (fd: u32, _iovs: u32, _count: u32, _flags: u32, _out: u32) |ctx| ctx.sock_check(fd);
        "sock_shutdown" (fd: u32, _how: u32) |ctx| ctx.sock_check(fd);
    }
    linker.func_wrap(MODULE, "proc_exit", |code: u32| -> Result<()> {
        // WASI exit statuses are 0..126; larger ones would be confused with signals.
        if code < 126 {
            Err(I32Exit(code as i32).into())
        } else {
            Err(anyhow!("exit with invalid exit status {code}: outside of [0..126)"))
        }
    })?;
    // Signals are not supported (as in wasmtime).
    linker.func_wrap(MODULE, "proc_raise", |_signal: u32| -> i32 { Errno::NotSup as i32 })?;
    linker.func_wrap(MODULE, "sched_yield", || -> i32 {
        std::thread::yield_now();
        0
    })?;
    Ok(())
}
