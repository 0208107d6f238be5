//! [`WasiCtx`] (the state of one WASI program: arguments, environment, open descriptors) and
//! [`WasiCtxBuilder`].

use crate::Errno;
use crate::types::{filetype, rights};
use anyhow::{Context as _, Result};
use cap_std::fs::{Dir, File};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// Which host standard stream a WASI stream is, when it is one (for `isatty` and `poll`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostStdio {
    Stdin,
    Stdout,
    Stderr,
}

impl HostStdio {
    pub(crate) fn is_terminal(self) -> bool {
        match self {
            HostStdio::Stdin => rustix::termios::isatty(std::io::stdin()),
            HostStdio::Stdout => rustix::termios::isatty(std::io::stdout()),
            HostStdio::Stderr => rustix::termios::isatty(std::io::stderr()),
        }
    }
}

/// A readable stream (stdin).
pub(crate) struct InputStream {
    pub(crate) reader: Box<dyn Read + Send>,
    pub(crate) host: Option<HostStdio>,
}

/// A writable stream (stdout, stderr).
pub(crate) struct OutputStream {
    pub(crate) writer: Box<dyn Write + Send>,
    pub(crate) host: Option<HostStdio>,
}

/// An open regular file (or other non-directory).
pub(crate) struct OpenFile {
    pub(crate) file: File,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// `fdflags::APPEND`: every write goes to the end. Kept here rather than as the host's
    /// O_APPEND so `fd_fdstat_set_flags` can change it.
    pub(crate) append: bool,
    /// The other `fdflags` the guest set (reported back by `fd_fdstat_get`).
    pub(crate) flags: u16,
    pub(crate) rights_base: u64,
    pub(crate) rights_inheriting: u64,
}

/// One entry of a directory listing, as `fd_readdir` reports it.
#[derive(Debug, Clone)]
pub(crate) struct ListedEntry {
    pub(crate) name: String,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
}

/// An open directory: every path is resolved beneath it by cap-std.
pub(crate) struct OpenDir {
    pub(crate) dir: Dir,
    /// The guest path of a preopened directory (`fd_prestat_*`).
    pub(crate) preopen: Option<String>,
    /// The listing `fd_readdir` pages through, taken when it starts again at cookie 0.
    pub(crate) listing: Option<Vec<ListedEntry>>,
    pub(crate) rights_base: u64,
    pub(crate) rights_inheriting: u64,
}

/// What a WASI file descriptor refers to.
pub(crate) enum Descriptor {
    Input(InputStream),
    Output(OutputStream),
    File(OpenFile),
    Dir(OpenDir),
}

impl Descriptor {
    pub(crate) fn filetype(&self) -> u8 {
        match self {
            Descriptor::Input(InputStream { host, .. }) | Descriptor::Output(OutputStream { host, .. }) => match host {
                Some(stdio) if stdio.is_terminal() => filetype::CHARACTER_DEVICE,
                _ => filetype::UNKNOWN,
            },
            Descriptor::File(f) => {
                f.file.metadata().map(|m| crate::fs::filetype_of(&m.file_type())).unwrap_or(filetype::REGULAR_FILE)
            }
            Descriptor::Dir(_) => filetype::DIRECTORY,
        }
    }
}

/// The state of one WASI program. Put it in the store's data and hand [`crate::add_to_linker`] a
/// function that finds it.
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) fds: BTreeMap<u32, Descriptor>,
}

impl WasiCtx {
    /// A builder.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }

    pub(crate) fn get(&self, fd: u32) -> Result<&Descriptor, Errno> {
        self.fds.get(&fd).ok_or(Errno::Badf)
    }

    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut Descriptor, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::Badf)
    }

    /// The directory `fd` refers to: `EBADF` if none, `ENOTDIR` if it is something else.
    pub(crate) fn dir(&self, fd: u32) -> Result<&OpenDir, Errno> {
        match self.get(fd)? {
            Descriptor::Dir(d) => Ok(d),
            _ => Err(Errno::NotDir),
        }
    }

    /// Puts `descriptor` at the lowest free descriptor number, as POSIX `open` does.
    pub(crate) fn push(&mut self, descriptor: Descriptor) -> Result<u32, Errno> {
        let mut fd = 0u32;
        for used in self.fds.keys() {
            if *used != fd {
                break;
            }
            fd = fd.checked_add(1).ok_or(Errno::Mfile)?;
        }
        self.fds.insert(fd, descriptor);
        Ok(fd)
    }

    /// Flushes stdout and stderr (each write is flushed already; this covers writers that
    /// buffer anyway).
    pub fn flush(&mut self) {
        for descriptor in self.fds.values_mut() {
            if let Descriptor::Output(out) = descriptor {
                let _ = out.writer.flush();
            }
        }
    }
}

/// Builds a [`WasiCtx`]: arguments, environment, standard streams and preopened directories.
///
/// By default the program has no arguments and no environment, reads an empty stdin and its
/// output goes nowhere; nothing of the host's filesystem is reachable.
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: InputStream,
    stdout: OutputStream,
    stderr: OutputStream,
    preopens: Vec<(Dir, String)>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder::new()
    }
}

impl WasiCtxBuilder {
    /// A builder for a program with nothing: see [`WasiCtxBuilder`].
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: InputStream { reader: Box::new(std::io::empty()), host: None },
            stdout: OutputStream { writer: Box::new(std::io::sink()), host: None },
            stderr: OutputStream { writer: Box::new(std::io::sink()), host: None },
            preopens: Vec::new(),
        }
    }

    /// Appends one argument (the first is the program's name).
    pub fn arg(&mut self, arg: impl AsRef<str>) -> &mut Self {
        self.args.push(arg.as_ref().to_string());
        self
    }

    /// Appends arguments.
    pub fn args(&mut self, args: &[impl AsRef<str>]) -> &mut Self {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Appends the host process's arguments (those that are valid UTF-8).
    pub fn inherit_args(&mut self) -> &mut Self {
        self.args.extend(std::env::args_os().filter_map(|a| a.into_string().ok()));
        self
    }

    /// Sets one environment variable.
    pub fn env(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> &mut Self {
        let name = name.as_ref().to_string();
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.as_ref().to_string()));
        self
    }

    /// Sets environment variables.
    pub fn envs(&mut self, vars: &[(impl AsRef<str>, impl AsRef<str>)]) -> &mut Self {
        for (name, value) in vars {
            self.env(name, value);
        }
        self
    }

    /// Copies the host's environment (variables that are valid UTF-8).
    pub fn inherit_env(&mut self) -> &mut Self {
        for (name, value) in std::env::vars_os() {
            if let (Ok(name), Ok(value)) = (name.into_string(), value.into_string()) {
                self.env(name, value);
            }
        }
        self
    }

    /// Reads stdin from `reader` (for tests: [`crate::pipe::MemoryInputPipe`]).
    pub fn stdin(&mut self, reader: impl Read + Send + 'static) -> &mut Self {
        self.stdin = InputStream { reader: Box::new(reader), host: None };
        self
    }

    /// Sends stdout to `writer` (for tests: [`crate::pipe::MemoryOutputPipe`]).
    pub fn stdout(&mut self, writer: impl Write + Send + 'static) -> &mut Self {
        self.stdout = OutputStream { writer: Box::new(writer), host: None };
        self
    }

    /// Sends stderr to `writer`.
    pub fn stderr(&mut self, writer: impl Write + Send + 'static) -> &mut Self {
        self.stderr = OutputStream { writer: Box::new(writer), host: None };
        self
    }

    /// Uses the host process's stdin.
    pub fn inherit_stdin(&mut self) -> &mut Self {
        self.stdin = InputStream { reader: Box::new(std::io::stdin()), host: Some(HostStdio::Stdin) };
        self
    }

    /// Uses the host process's stdout.
    pub fn inherit_stdout(&mut self) -> &mut Self {
        self.stdout = OutputStream { writer: Box::new(std::io::stdout()), host: Some(HostStdio::Stdout) };
        self
    }

    /// Uses the host process's stderr.
    pub fn inherit_stderr(&mut self) -> &mut Self {
        self.stderr = OutputStream { writer: Box::new(std::io::stderr()), host: Some(HostStdio::Stderr) };
        self
    }

    /// Uses the host process's stdin, stdout and stderr.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.inherit_stdin().inherit_stdout().inherit_stderr()
    }

    /// Gives the program the host directory `host_path` under the name `guest_path`. The program
    /// reaches nothing outside it: `..`, absolute paths and symlinks are resolved beneath it.
    pub fn preopened_dir(&mut self, host_path: impl AsRef<Path>, guest_path: impl AsRef<str>) -> Result<&mut Self> {
        let host_path = host_path.as_ref();
        let dir = Dir::open_ambient_dir(host_path, cap_std::ambient_authority())
            .with_context(|| format!("failed to open directory `{}` to preopen", host_path.display()))?;
        self.preopens.push((dir, guest_path.as_ref().to_string()));
        Ok(self)
    }

    /// The context. The builder is left empty (as from [`WasiCtxBuilder::new`]).
    pub fn build(&mut self) -> WasiCtx {
        let builder = std::mem::take(self);
        let mut fds = BTreeMap::new();
        fds.insert(0, Descriptor::Input(builder.stdin));
        fds.insert(1, Descriptor::Output(builder.stdout));
        fds.insert(2, Descriptor::Output(builder.stderr));
        for (fd, (dir, guest_path)) in (3..).zip(builder.preopens) {
            fds.insert(
                fd,
                Descriptor::Dir(OpenDir {
                    dir,
                    preopen: Some(guest_path),
                    listing: None,
                    rights_base: rights::DIRECTORY,
                    rights_inheriting: rights::DIRECTORY | rights::FILE,
                }),
            );
        }
        WasiCtx { args: builder.args, env: builder.env, fds }
    }
}
