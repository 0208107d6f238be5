//! `wasi:io`: errors, pollables (over real readiness: `poll(2)` on the host's stdin and sockets,
//! deadlines of the monotonic clock) and input and output streams (standard streams, files and
//! TCP sockets).

use super::bindings::sync::wasi::io::{error, poll, streams};
use super::{HostStdio, StdinSource, StdoutSink, WasiCtxView};
use anyhow::{Result, bail};
use kiln::component::Resource;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use streams::StreamError;

/// The most bytes one `read` returns and `check-write` permits.
pub(crate) const CHUNK: u64 = 1 << 20;

/// stdin, shared by every stream `get-stdin` returns.
pub(crate) type SharedReader = Arc<Mutex<StdinSource>>;
/// stdout or stderr, shared by every stream `get-stdout`/`get-stderr` returns.
pub(crate) type SharedWriter = Arc<Mutex<StdoutSink>>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A `wasi:io/streams` input stream.
pub enum InputStream {
    /// The program's stdin.
    Stdin(SharedReader),
    /// A file, read from `offset` on.
    File { file: Arc<std::fs::File>, offset: u64 },
    /// A connected TCP socket (non-blocking).
    Tcp(Arc<std::net::TcpStream>),
}

/// A `wasi:io/streams` output stream.
pub enum OutputStream {
    /// The program's stdout or stderr.
    Stdio(SharedWriter),
    /// A file, written at `offset` (or at its end when `append`).
    File { file: Arc<std::fs::File>, offset: u64, append: bool },
    /// A connected TCP socket (non-blocking; a write waits until the socket took it all).
    Tcp(Arc<std::net::TcpStream>),
}

/// A host socket a pollable waits on.
pub type SharedFd = Arc<dyn AsFd + Send + Sync>;

/// A `wasi:io/poll` pollable.
pub enum Pollable {
    /// Always ready (files, in-memory pipes, output streams whose writes complete at once).
    Ready,
    /// Ready once the monotonic clock passes this instant.
    Deadline(Instant),
    /// Ready when the host's stdin is readable.
    HostStdin,
    /// Never ready (a deadline past what the host's clock can represent).
    Never,
    /// Ready when the host socket is readable (or writable, if `write`).
    Socket {
        /// The socket.
        fd: SharedFd,
        /// Whether to wait for writability rather than readability.
        write: bool,
    },
}

/// A `wasi:io/error` error: the host error that ended a stream operation.
#[derive(Debug)]
pub struct IoError(pub(crate) std::io::Error);

/// Waits until one of `fds` (each with whether to wait for writability) is ready or `timeout`
/// passes; true if one is.
fn wait_fds(fds: &[(BorrowedFd<'_>, bool)], timeout: Option<Duration>) -> std::io::Result<bool> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut poll_fds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|(fd, write)| PollFd::from_borrowed_fd(*fd, if *write { PollFlags::OUT } else { PollFlags::IN }))
        .collect();
    let timeout = timeout.map(|t| Timespec { tv_sec: t.as_secs() as _, tv_nsec: t.subsec_nanos() as _ });
    loop {
        match rustix::event::poll(&mut poll_fds, timeout.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until `fd` is readable (or writable, if `write`) or `timeout` passes; true if it is.
/// An error, a hang-up or a closed peer count as ready: the next operation reports them.
pub(crate) fn fd_ready(fd: BorrowedFd<'_>, write: bool, timeout: Option<Duration>) -> std::io::Result<bool> {
    wait_fds(&[(fd, write)], timeout)
}

/// Waits until the host's stdin is readable or `timeout` passes; true if it is readable.
pub(crate) fn poll_host_stdin(timeout: Option<Duration>) -> std::io::Result<bool> {
    let stdin = std::io::stdin();
    fd_ready(stdin.as_fd(), false, timeout)
}

impl Pollable {
    fn ready(&self) -> Result<bool> {
        Ok(match self {
            Pollable::Ready => true,
            Pollable::Deadline(t) => Instant::now() >= *t,
            Pollable::HostStdin => poll_host_stdin(Some(Duration::ZERO))?,
            Pollable::Never => false,
            Pollable::Socket { fd, write } => fd_ready(fd.as_fd(), *write, Some(Duration::ZERO))?,
        })
    }
}

impl WasiCtxView<'_> {
    fn stream_failed(&mut self, e: std::io::Error) -> Result<StreamError> {
        Ok(StreamError::LastOperationFailed(self.table.push(IoError(e))?))
    }

    /// Reads at most `len` bytes; `blocking` waits for at least one (or end of stream).
    fn read_stream(
        &mut self,
        stream: &Resource<InputStream>,
        len: u64,
        blocking: bool,
    ) -> Result<Result<Vec<u8>, StreamError>> {
        let len = len.min(CHUNK) as usize;
        let result = match self.table.get_mut(stream)? {
            InputStream::Stdin(shared) => {
                let mut source = lock(shared);
                match &mut *source {
                    StdinSource::Host => {
                        if !blocking && !poll_host_stdin(Some(Duration::ZERO))? {
                            return Ok(Ok(Vec::new()));
                        }
                        read_some(&mut std::io::stdin().lock(), len)
                    }
                    StdinSource::Reader(reader) => read_some(reader, len),
                }
            }
            InputStream::Tcp(socket) => {
                if blocking {
                    fd_ready(socket.as_fd(), false, None)?;
                }
                match read_some(&mut &**socket, len) {
                    // Nothing to read yet: an empty read, not the end of the stream.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(Ok(Vec::new())),
                    other => other,
                }
            }
            InputStream::File { file, offset } => {
                let mut buf = vec![0; len];
                match file.read_at(&mut buf, *offset) {
                    Ok(n) => {
                        *offset += n as u64;
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(bytes) if bytes.is_empty() && len > 0 => Ok(Err(StreamError::Closed)),
            Ok(bytes) => Ok(Ok(bytes)),
            Err(e) => Ok(Err(self.stream_failed(e)?)),
        }
    }

    fn write_stream(&mut self, stream: &Resource<OutputStream>, contents: &[u8]) -> Result<Result<(), StreamError>> {
        let result = match self.table.get_mut(stream)? {
            OutputStream::Stdio(shared) => match &mut *lock(shared) {
                StdoutSink::Writer(w) => w.write_all(contents).and_then(|()| w.flush()),
                StdoutSink::Host(HostStdio::Stderr) => std::io::stderr().write_all(contents),
                StdoutSink::Host(_) => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(contents).and_then(|()| out.flush())
                }
            },
            OutputStream::Tcp(socket) => write_socket(socket, contents),
            OutputStream::File { file, offset, append } => {
                if *append {
                    let end = file.metadata().map(|m| m.len());
                    end.and_then(|end| file.write_all_at(contents, end))
                } else {
                    let r = file.write_all_at(contents, *offset);
                    if r.is_ok() {
                        *offset += contents.len() as u64;
                    }
                    r
                }
            }
        };
        match result {
            Ok(()) => Ok(Ok(())),
            Err(e) => Ok(Err(self.stream_failed(e)?)),
        }
    }
}

/// Writes all of `contents` to a non-blocking socket, waiting while its buffer is full.
fn write_socket(socket: &std::net::TcpStream, mut contents: &[u8]) -> std::io::Result<()> {
    while !contents.is_empty() {
        match (&mut &*socket).write(contents) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => contents = &contents[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                fd_ready(socket.as_fd(), true, None)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `read` of at most `len` bytes, retried on `Interrupted`.
fn read_some(reader: &mut dyn Read, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    loop {
        match reader.read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

impl error::Host for WasiCtxView<'_> {}

impl error::HostError for WasiCtxView<'_> {
    fn to_debug_string(&mut self, err: Resource<IoError>) -> Result<String> {
        Ok(self.table.get(&err)?.0.to_string())
    }
    fn drop(&mut self, err: Resource<IoError>) -> Result<()> {
        self.table.delete(err)?;
        Ok(())
    }
}

impl poll::Host for WasiCtxView<'_> {
    fn poll(&mut self, list: Vec<Resource<Pollable>>) -> Result<Vec<u32>> {
        if list.is_empty() {
            bail!("poll: the list of pollables is empty");
        }
        if list.len() > u32::MAX as usize {
            bail!("poll: too many pollables");
        }
        loop {
            let mut ready = Vec::new();
            let mut deadline: Option<Instant> = None;
            let mut stdin = false;
            let mut sockets: Vec<(SharedFd, bool)> = Vec::new();
            for (i, p) in list.iter().enumerate() {
                let pollable = self.table.get(p)?;
                if pollable.ready()? {
                    ready.push(i as u32);
                }
                match pollable {
                    Pollable::Deadline(t) => deadline = Some(deadline.map_or(*t, |d| d.min(*t))),
                    Pollable::HostStdin => stdin = true,
                    Pollable::Socket { fd, write } => sockets.push((fd.clone(), *write)),
                    Pollable::Ready | Pollable::Never => {}
                }
            }
            if !ready.is_empty() {
                return Ok(ready);
            }
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if stdin || !sockets.is_empty() {
                let host_stdin = std::io::stdin();
                let mut fds: Vec<(BorrowedFd<'_>, bool)> = sockets.iter().map(|(fd, w)| (fd.as_fd(), *w)).collect();
                if stdin {
                    fds.push((host_stdin.as_fd(), false));
                }
                wait_fds(&fds, timeout)?;
            } else if let Some(timeout) = timeout {
                std::thread::sleep(timeout);
            } else {
                bail!("poll: no pollable can become ready");
            }
        }
    }
}

impl poll::HostPollable for WasiCtxView<'_> {
    fn ready(&mut self, p: Resource<Pollable>) -> Result<bool> {
        self.table.get(&p)?.ready()
    }
    fn block(&mut self, p: Resource<Pollable>) -> Result<()> {
        let borrowed = Resource::new_borrow(p.rep());
        poll::Host::poll(self, vec![borrowed])?;
        Ok(())
    }
    fn drop(&mut self, p: Resource<Pollable>) -> Result<()> {
        self.table.delete(p)?;
        Ok(())
    }
}

impl streams::Host for WasiCtxView<'_> {}

impl streams::HostInputStream for WasiCtxView<'_> {
    fn read(&mut self, s: Resource<InputStream>, len: u64) -> Result<Result<Vec<u8>, StreamError>> {
        self.read_stream(&s, len, false)
    }
    fn blocking_read(&mut self, s: Resource<InputStream>, len: u64) -> Result<Result<Vec<u8>, StreamError>> {
        self.read_stream(&s, len, true)
    }
    fn skip(&mut self, s: Resource<InputStream>, len: u64) -> Result<Result<u64, StreamError>> {
        Ok(self.read_stream(&s, len, false)?.map(|b| b.len() as u64))
    }
    fn blocking_skip(&mut self, s: Resource<InputStream>, len: u64) -> Result<Result<u64, StreamError>> {
        Ok(self.read_stream(&s, len, true)?.map(|b| b.len() as u64))
    }
    fn subscribe(&mut self, s: Resource<InputStream>) -> Result<Resource<Pollable>> {
        let pollable = match self.table.get(&s)? {
            InputStream::Stdin(shared) if matches!(*lock(shared), StdinSource::Host) => Pollable::HostStdin,
            InputStream::Tcp(socket) => Pollable::Socket { fd: socket.clone(), write: false },
            _ => Pollable::Ready,
        };
        Ok(self.table.push(pollable)?)
    }
    fn drop(&mut self, s: Resource<InputStream>) -> Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}

impl streams::HostOutputStream for WasiCtxView<'_> {
    fn check_write(&mut self, s: Resource<OutputStream>) -> Result<Result<u64, StreamError>> {
        // Writes complete before `write` returns (nothing is buffered in the host), so the
        // stream can always take another chunk: a guest that floods stdout is held back by the
        // host's own writes, not by host memory. A socket takes more once it is writable.
        if let OutputStream::Tcp(socket) = self.table.get(&s)?
            && !fd_ready(socket.as_fd(), true, Some(Duration::ZERO))?
        {
            return Ok(Ok(0));
        }
        Ok(Ok(CHUNK))
    }
    fn write(&mut self, s: Resource<OutputStream>, contents: Vec<u8>) -> Result<Result<(), StreamError>> {
        if contents.len() as u64 > CHUNK {
            bail!("output-stream.write: {} bytes is more than check-write permitted ({CHUNK})", contents.len());
        }
        self.write_stream(&s, &contents)
    }
    fn blocking_write_and_flush(
        &mut self,
        s: Resource<OutputStream>,
        contents: Vec<u8>,
    ) -> Result<Result<(), StreamError>> {
        if contents.len() > 4096 {
            bail!("output-stream.blocking-write-and-flush: {} bytes is more than 4096", contents.len());
        }
        self.write_stream(&s, &contents)
    }
    fn flush(&mut self, s: Resource<OutputStream>) -> Result<Result<(), StreamError>> {
        self.table.get(&s)?;
        Ok(Ok(()))
    }
    fn blocking_flush(&mut self, s: Resource<OutputStream>) -> Result<Result<(), StreamError>> {
        self.table.get(&s)?;
        Ok(Ok(()))
    }
    fn subscribe(&mut self, s: Resource<OutputStream>) -> Result<Resource<Pollable>> {
        let pollable = match self.table.get(&s)? {
            OutputStream::Tcp(socket) => Pollable::Socket { fd: socket.clone(), write: true },
            _ => Pollable::Ready,
        };
        Ok(self.table.push(pollable)?)
    }
    fn write_zeroes(&mut self, s: Resource<OutputStream>, len: u64) -> Result<Result<(), StreamError>> {
        if len > CHUNK {
            bail!("output-stream.write-zeroes: {len} bytes is more than check-write permitted ({CHUNK})");
        }
        self.write_stream(&s, &vec![0; len as usize])
    }
    fn blocking_write_zeroes_and_flush(
        &mut self,
        s: Resource<OutputStream>,
        len: u64,
    ) -> Result<Result<(), StreamError>> {
        if len > 4096 {
            bail!("output-stream.blocking-write-zeroes-and-flush: {len} bytes is more than 4096");
        }
        self.write_stream(&s, &vec![0; len as usize])
    }
    fn splice(
        &mut self,
        dst: Resource<OutputStream>,
        src: Resource<InputStream>,
        len: u64,
    ) -> Result<Result<u64, StreamError>> {
        let bytes = match self.read_stream(&src, len, false)? {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.write_stream(&dst, &bytes)?.map(|()| bytes.len() as u64))
    }
    fn blocking_splice(
        &mut self,
        dst: Resource<OutputStream>,
        src: Resource<InputStream>,
        len: u64,
    ) -> Result<Result<u64, StreamError>> {
        let bytes = match self.read_stream(&src, len, true)? {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.write_stream(&dst, &bytes)?.map(|()| bytes.len() as u64))
    }
    fn drop(&mut self, s: Resource<OutputStream>) -> Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}
