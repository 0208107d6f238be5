//! The `fd_*` functions: operations on open descriptors.

use crate::ctx::{Descriptor, ListedEntry, OpenDir};
use crate::fs::{filestat_of, time_specs};
use crate::memory::GuestMemory;
use crate::types::{FdStat, FileStat, encode_dirent, encode_prestat_dir, fdflags, filetype, rights, whence};
use crate::{Errno, WasiCtx};
use cap_std::fs::FileExt as _;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;

type WasiResult<T = ()> = Result<T, Errno>;

/// Reads into the buffers in order. A stream is read once (into the first non-empty buffer),
/// as `readv` on a pipe returns what is available rather than waiting to fill every buffer.
fn read_into(reader: &mut dyn Read, mem: &mut GuestMemory, bufs: &[Range<usize>], stream: bool) -> WasiResult<u32> {
    let mut total = 0usize;
    for range in bufs.iter().filter(|r| !r.is_empty()) {
        let buf = mem.bytes_mut(range.clone());
        let n = loop {
            match reader.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        total += n;
        if stream || n < buf.len() {
            break;
        }
    }
    byte_count(total)
}

fn write_from(writer: &mut dyn Write, mem: &GuestMemory, bufs: &[Range<usize>]) -> WasiResult<u32> {
    let mut total = 0usize;
    for range in bufs {
        writer.write_all(mem.bytes(range.clone()))?;
        total += range.len();
    }
    byte_count(total)
}

/// A number of bytes transferred, as the `size` WASI returns: `EOVERFLOW` beyond `u32`.
fn byte_count<N: TryInto<u32>>(total: N) -> WasiResult<u32> {
    total.try_into().map_err(|_| Errno::Overflow)
}

/// Positioned I/O over `bufs`: `transfer(buffer, at)` moves one buffer at file offset `at`
/// (consecutive from `offset`) and returns the bytes moved; a short transfer ends it. Returns
/// the total moved.
fn transfer_at<'a>(
    bufs: impl Iterator<Item = &'a Range<usize>>,
    offset: u64,
    mut transfer: impl FnMut(&Range<usize>, u64) -> WasiResult<usize>,
) -> WasiResult<u32> {
    let mut total = 0u64;
    for range in bufs {
        let at = offset.checked_add(total).ok_or(Errno::Inval)?;
        let n = transfer(range, at)?;
        total += n as u64;
        if n < range.len() {
            break;
        }
    }
    byte_count(total)
}

/// A stream's filestat: only its type is known.
fn stream_filestat(descriptor: &Descriptor) -> FileStat {
    FileStat { filetype: descriptor.filetype(), nlink: 1, ..FileStat::default() }
}

impl WasiCtx {
    pub(crate) fn fd_read(&mut self, mem: &mut GuestMemory, fd: u32, iovs: u32, count: u32, out: u32) -> WasiResult {
        let bufs = mem.iovecs(iovs, count)?;
        let n = match self.get_mut(fd)? {
            Descriptor::Input(input) => read_into(&mut input.reader, mem, &bufs, true)?,
            Descriptor::File(f) if f.readable => read_into(&mut f.file, mem, &bufs, false)?,
            Descriptor::File(_) | Descriptor::Output(_) => return Err(Errno::Badf),
            Descriptor::Dir(_) => return Err(Errno::IsDir),
        };
        mem.write_u32(out, n)
    }

    pub(crate) fn fd_write(&mut self, mem: &mut GuestMemory, fd: u32, iovs: u32, count: u32, out: u32) -> WasiResult {
        let bufs = mem.iovecs(iovs, count)?;
        let n = match self.get_mut(fd)? {
            Descriptor::Output(output) => {
                let n = write_from(&mut output.writer, mem, &bufs)?;
                // The guest's libc buffers already: pass each write through at once.
                output.writer.flush()?;
                n
            }
            Descriptor::File(f) if f.writable => {
                if f.append {
                    f.file.seek(SeekFrom::End(0))?;
                }
                write_from(&mut f.file, mem, &bufs)?
            }
            _ => return Err(Errno::Badf),
        };
        mem.write_u32(out, n)
    }

    pub(crate) fn fd_pread(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        out: u32,
    ) -> WasiResult {
        let bufs = mem.iovecs(iovs, count)?;
        let file = self.positioned_file(fd, false)?;
        let n = transfer_at(bufs.iter().filter(|r| !r.is_empty()), offset, |range, at| {
            Ok(file.read_at(mem.bytes_mut(range.clone()), at)?)
        })?;
        mem.write_u32(out, n)
    }

    pub(crate) fn fd_pwrite(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        out: u32,
    ) -> WasiResult {
        let bufs = mem.iovecs(iovs, count)?;
        let file = self.positioned_file(fd, true)?;
        let n = transfer_at(bufs.iter(), offset, |range, at| {
            file.write_all_at(mem.bytes(range.clone()), at)?;
            Ok(range.len())
        })?;
        mem.write_u32(out, n)
    }

    /// The file of `fd` for `fd_pread` (`write` false) or `fd_pwrite`: `EBADF` unless it is
    /// open for that, `ESPIPE` for a stream, `EISDIR` for a directory read.
    fn positioned_file(&self, fd: u32, write: bool) -> WasiResult<&cap_std::fs::File> {
        match self.get(fd)? {
            Descriptor::File(f) if if write { f.writable } else { f.readable } => Ok(&f.file),
            Descriptor::Input(_) | Descriptor::Output(_) => Err(Errno::Spipe),
            Descriptor::Dir(_) if !write => Err(Errno::IsDir),
            _ => Err(Errno::Badf),
        }
    }

    pub(crate) fn fd_seek(&mut self, mem: &mut GuestMemory, fd: u32, offset: i64, how: u8, out: u32) -> WasiResult {
        let position = match how {
            whence::SET => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::Inval)?),
            whence::CUR => SeekFrom::Current(offset),
            whence::END => SeekFrom::End(offset),
            _ => return Err(Errno::Inval),
        };
        let new = match self.get_mut(fd)? {
            Descriptor::File(f) => f.file.seek(position)?,
            Descriptor::Input(_) | Descriptor::Output(_) => return Err(Errno::Spipe),
            Descriptor::Dir(_) => return Err(Errno::Badf),
        };
        mem.write_u64(out, new)
    }

    pub(crate) fn fd_tell(&mut self, mem: &mut GuestMemory, fd: u32, out: u32) -> WasiResult {
        self.fd_seek(mem, fd, 0, whence::CUR, out)
    }

    pub(crate) fn fd_close(&mut self, fd: u32) -> WasiResult {
        self.fds.remove(&fd).map(drop).ok_or(Errno::Badf)
    }

    pub(crate) fn fd_renumber(&mut self, from: u32, to: u32) -> WasiResult {
        if !self.fds.contains_key(&from) || !self.fds.contains_key(&to) {
            return Err(Errno::Badf);
        }
        if from != to {
            let descriptor = self.fds.remove(&from).ok_or(Errno::Badf)?;
            // Replacing `to` closes what it referred to.
            self.fds.insert(to, descriptor);
        }
        Ok(())
    }

    pub(crate) fn fd_fdstat_get(&mut self, mem: &mut GuestMemory, fd: u32, out: u32) -> WasiResult {
        let descriptor = self.get(fd)?;
        let stat = match descriptor {
            Descriptor::Input(_) | Descriptor::Output(_) => {
                FdStat { filetype: descriptor.filetype(), flags: 0, rights_base: rights::STREAM, rights_inheriting: 0 }
            }
            Descriptor::File(f) => FdStat {
                filetype: descriptor.filetype(),
                flags: f.flags | if f.append { fdflags::APPEND } else { 0 },
                rights_base: f.rights_base,
                rights_inheriting: f.rights_inheriting,
            },
            Descriptor::Dir(d) => FdStat {
                filetype: filetype::DIRECTORY,
                flags: 0,
                rights_base: d.rights_base,
                rights_inheriting: d.rights_inheriting,
            },
        };
        mem.write(out, &stat.encode())
    }

    pub(crate) fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u16) -> WasiResult {
        // Synchronous-I/O modes cannot be changed on an open descriptor (as in wasmtime).
        if flags & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
            return Err(Errno::NotSup);
        }
        match self.get_mut(fd)? {
            Descriptor::File(f) => {
                f.append = flags & fdflags::APPEND != 0;
                f.flags = flags & fdflags::NONBLOCK;
                Ok(())
            }
            // Host streams and directories have no per-descriptor flags to change.
            _ => Ok(()),
        }
    }

    pub(crate) fn fd_fdstat_set_rights(&mut self, fd: u32, base: u64, inheriting: u64) -> WasiResult {
        let (current_base, current_inheriting) = match self.get(fd)? {
            Descriptor::Input(_) | Descriptor::Output(_) => (rights::STREAM, 0),
            Descriptor::File(f) => (f.rights_base, f.rights_inheriting),
            Descriptor::Dir(d) => (d.rights_base, d.rights_inheriting),
        };
        // Rights can only be dropped.
        if base & !current_base != 0 || inheriting & !current_inheriting != 0 {
            return Err(Errno::NotCapable);
        }
        match self.get_mut(fd)? {
            Descriptor::File(f) => {
                f.rights_base = base;
                f.rights_inheriting = inheriting;
                f.readable &= base & rights::FD_READ != 0;
                f.writable &= base & rights::FD_WRITE != 0;
            }
            Descriptor::Dir(d) => {
                d.rights_base = base;
                d.rights_inheriting = inheriting;
            }
            Descriptor::Input(_) | Descriptor::Output(_) => {}
        }
        Ok(())
    }

    pub(crate) fn fd_filestat_get(&mut self, mem: &mut GuestMemory, fd: u32, out: u32) -> WasiResult {
        let descriptor = self.get(fd)?;
        let stat = match descriptor {
            Descriptor::File(f) => filestat_of(&f.file.metadata()?),
            Descriptor::Dir(d) => filestat_of(&d.dir.dir_metadata()?),
            Descriptor::Input(_) | Descriptor::Output(_) => stream_filestat(descriptor),
        };
        mem.write(out, &stat.encode())
    }

    pub(crate) fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> WasiResult {
        match self.get(fd)? {
            Descriptor::File(f) if f.writable => Ok(f.file.set_len(size)?),
            Descriptor::Dir(_) => Err(Errno::IsDir),
            _ => Err(Errno::Badf),
        }
    }

    pub(crate) fn fd_filestat_set_times(&mut self, fd: u32, atim: u64, mtim: u64, flags: u16) -> WasiResult {
        let (atime, mtime) = time_specs(atim, mtim, flags)?;
        let (atime, mtime) = (atime.map(|t| t.into_std()), mtime.map(|t| t.into_std()));
        match self.get(fd)? {
            Descriptor::File(f) => Ok(fs_set_times::SetTimes::set_times(&f.file, atime, mtime)?),
            Descriptor::Dir(d) => Ok(fs_set_times::SetTimes::set_times(&crate::fs::reopen_dir(&d.dir)?, atime, mtime)?),
            Descriptor::Input(_) | Descriptor::Output(_) => Err(Errno::Badf),
        }
    }

    pub(crate) fn fd_advise(&mut self, fd: u32, _offset: u64, _len: u64, advice: u8) -> WasiResult {
        // `advice` values are normal, sequential, random, willneed, dontneed, noreuse.
        if advice > 5 {
            return Err(Errno::Inval);
        }
        match self.get(fd)? {
            // Advice is a hint: accepting it without acting on it is a valid implementation.
            Descriptor::File(_) => Ok(()),
            Descriptor::Input(_) | Descriptor::Output(_) => Err(Errno::Spipe),
            Descriptor::Dir(_) => Err(Errno::Badf),
        }
    }

    pub(crate) fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> WasiResult {
        match self.get(fd)? {
            Descriptor::File(f) if f.writable => {
                let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
                if end > f.file.metadata()?.len() {
                    f.file.set_len(end)?;
                }
                Ok(())
            }
            Descriptor::Input(_) | Descriptor::Output(_) => Err(Errno::Spipe),
            _ => Err(Errno::Badf),
        }
    }

    pub(crate) fn fd_sync(&mut self, fd: u32, data_only: bool) -> WasiResult {
        match self.get(fd)? {
            Descriptor::File(f) if data_only => Ok(f.file.sync_data()?),
            Descriptor::File(f) => Ok(f.file.sync_all()?),
            Descriptor::Dir(d) => Ok(crate::fs::reopen_dir(&d.dir)?.sync_all()?),
            Descriptor::Input(_) | Descriptor::Output(_) => Err(Errno::Inval),
        }
    }

    pub(crate) fn fd_prestat_get(&mut self, mem: &mut GuestMemory, fd: u32, out: u32) -> WasiResult {
        match self.get(fd)? {
            Descriptor::Dir(OpenDir { preopen: Some(name), .. }) => {
                let len = u32::try_from(name.len()).map_err(|_| Errno::NameTooLong)?;
                mem.write(out, &encode_prestat_dir(len))
            }
            _ => Err(Errno::Badf),
        }
    }

    pub(crate) fn fd_prestat_dir_name(&mut self, mem: &mut GuestMemory, fd: u32, path: u32, len: u32) -> WasiResult {
        match self.get(fd)? {
            Descriptor::Dir(OpenDir { preopen: Some(name), .. }) => {
                if (len as usize) < name.len() {
                    return Err(Errno::NameTooLong);
                }
                mem.write(path, name.as_bytes())
            }
            _ => Err(Errno::Badf),
        }
    }

    /// Fills `buf` with dirents from `cookie` on. The last one may be cut off: a full buffer
    /// tells the guest to call again from the last complete entry's `d_next`.
    pub(crate) fn fd_readdir(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        out: u32,
    ) -> WasiResult {
        let target = mem.range(buf, buf_len)?;
        let dir = match self.get_mut(fd)? {
            Descriptor::Dir(d) => d,
            _ => return Err(Errno::NotDir),
        };
        if cookie == 0 || dir.listing.is_none() {
            dir.listing = Some(list_dir(dir)?);
        }
        let listing = dir.listing.as_deref().unwrap_or_default();
        let start = usize::try_from(cookie).map_err(|_| Errno::Inval)?;
        let mut bytes = Vec::new();
        for (i, entry) in listing.iter().enumerate().skip(start) {
            if bytes.len() >= target.len() {
                break;
            }
            let name_len = u32::try_from(entry.name.len()).map_err(|_| Errno::NameTooLong)?;
            bytes.extend_from_slice(&encode_dirent(i as u64 + 1, entry.ino, name_len, entry.filetype));
            bytes.extend_from_slice(entry.name.as_bytes());
        }
        let used = bytes.len().min(target.len());
        mem.bytes_mut(target.start..target.start + used).copy_from_slice(&bytes[..used]);
        mem.write_u32(out, used as u32)
    }
}

/// `.`, `..` and the directory's entries sorted by name (so listings are reproducible).
fn list_dir(dir: &OpenDir) -> WasiResult<Vec<ListedEntry>> {
    use std::os::unix::fs::DirEntryExt as _;
    let own = dir.dir.dir_metadata()?;
    let mut entries = vec![
        ListedEntry { name: ".".into(), ino: cap_std::fs::MetadataExt::ino(&own), filetype: filetype::DIRECTORY },
        // The parent may be outside the sandbox: report it without looking at it.
        ListedEntry { name: "..".into(), ino: 0, filetype: filetype::DIRECTORY },
    ];
    let mut rest = Vec::new();
    for entry in dir.dir.entries()? {
        let entry = entry?;
        // Names that are not UTF-8 cannot be passed to a WASI program faithfully.
        let Ok(name) = entry.file_name().into_string() else { continue };
        let filetype = crate::fs::filetype_of(&entry.file_type()?);
        rest.push(ListedEntry { name, ino: entry.ino(), filetype });
    }
    rest.sort_by(|a, b| a.name.cmp(&b.name));
    entries.extend(rest);
    Ok(entries)
}
