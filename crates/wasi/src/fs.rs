//! The `path_*` functions, and conversions from host file metadata.
//!
//! Every path is resolved by cap-std beneath the directory descriptor it is relative to: `..`
//! past that directory, absolute paths and symlinks leading out of it fail (EPERM) instead of
//! reaching the host's filesystem.

use crate::ctx::{Descriptor, OpenDir, OpenFile};
use crate::memory::GuestMemory;
use crate::types::{FileStat, LOOKUP_SYMLINK_FOLLOW, fdflags, filetype, fstflags, oflags, rights};
use crate::{Errno, WasiCtx};
use cap_fs_ext::{DirExt as _, FollowSymlinks, OpenOptionsFollowExt as _, OpenOptionsMaybeDirExt as _};
use cap_fs_ext::{OpenOptionsSyncExt as _, SystemTimeSpec};
use cap_std::fs::{Dir, FileType, Metadata, MetadataExt as _, OpenOptions};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

type WasiResult<T = ()> = Result<T, Errno>;

/// The WASI file type of a host file type.
pub(crate) fn filetype_of(ty: &FileType) -> u8 {
    use cap_std::fs::FileTypeExt as _;
    if ty.is_dir() {
        filetype::DIRECTORY
    } else if ty.is_file() {
        filetype::REGULAR_FILE
    } else if ty.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ty.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ty.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ty.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

/// Nanoseconds since the epoch; times before it are reported as the epoch.
fn nanos(seconds: i64, nanoseconds: i64) -> u64 {
    u64::try_from(seconds)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(nanoseconds).unwrap_or(0))
}

/// A `filestat` from host metadata.
pub(crate) fn filestat_of(meta: &Metadata) -> FileStat {
    FileStat {
        dev: meta.dev(),
        ino: meta.ino(),
        filetype: filetype_of(&meta.file_type()),
        nlink: meta.nlink(),
        size: meta.len(),
        atim: nanos(meta.atime(), meta.atime_nsec()),
        mtim: nanos(meta.mtime(), meta.mtime_nsec()),
        ctim: nanos(meta.ctime(), meta.ctime_nsec()),
    }
}

/// The access and modification times `fstflags` ask for: `None` leaves a time alone.
pub(crate) fn time_specs(
    atim: u64,
    mtim: u64,
    flags: u16,
) -> WasiResult<(Option<SystemTimeSpec>, Option<SystemTimeSpec>)> {
    let spec = |time: u64, set: u16, now: u16| -> WasiResult<Option<SystemTimeSpec>> {
        match (flags & set != 0, flags & now != 0) {
            (true, true) => Err(Errno::Inval),
            (false, true) => Ok(Some(SystemTimeSpec::SymbolicNow)),
            (true, false) => {
                let time = UNIX_EPOCH + Duration::from_nanos(time);
                Ok(Some(SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(time))))
            }
            (false, false) => Ok(None),
        }
    };
    if flags & !(fstflags::ATIM | fstflags::ATIM_NOW | fstflags::MTIM | fstflags::MTIM_NOW) != 0 {
        return Err(Errno::Inval);
    }
    Ok((spec(atim, fstflags::ATIM, fstflags::ATIM_NOW)?, spec(mtim, fstflags::MTIM, fstflags::MTIM_NOW)?))
}

/// The directory itself as a readable file. cap-std may hold directories as `O_PATH`
/// descriptors, which cannot be synced or have their times set.
pub(crate) fn reopen_dir(dir: &Dir) -> std::io::Result<cap_std::fs::File> {
    dir.open_with(".", OpenOptions::new().read(true).maybe_dir(true))
}

/// A guest path as a host path relative to a directory descriptor.
fn guest_path(path: &str) -> WasiResult<&Path> {
    if path.is_empty() {
        return Err(Errno::NoEnt);
    }
    if path.contains('\0') {
        return Err(Errno::Inval);
    }
    Ok(Path::new(path))
}

impl WasiCtx {
    /// The directory `fd` and a path read from guest memory.
    fn dir_and_path<'m>(&self, mem: &'m GuestMemory, fd: u32, ptr: u32, len: u32) -> WasiResult<(&Dir, &'m Path)> {
        let dir = &self.dir(fd)?.dir;
        Ok((dir, guest_path(mem.str(ptr, len)?)?))
    }

    pub(crate) fn path_create_directory(&mut self, mem: &mut GuestMemory, fd: u32, ptr: u32, len: u32) -> WasiResult {
        let (dir, path) = self.dir_and_path(mem, fd, ptr, len)?;
        Ok(dir.create_dir(path)?)
    }

    pub(crate) fn path_remove_directory(&mut self, mem: &mut GuestMemory, fd: u32, ptr: u32, len: u32) -> WasiResult {
        let (dir, path) = self.dir_and_path(mem, fd, ptr, len)?;
        Ok(dir.remove_dir(path)?)
    }

    pub(crate) fn path_unlink_file(&mut self, mem: &mut GuestMemory, fd: u32, ptr: u32, len: u32) -> WasiResult {
        let (dir, path) = self.dir_and_path(mem, fd, ptr, len)?;
        Ok(dir.remove_file(path)?)
    }

    pub(crate) fn path_filestat_get(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        flags: u32,
        ptr: u32,
        len: u32,
        out: u32,
    ) -> WasiResult {
        let (dir, path) = self.dir_and_path(mem, fd, ptr, len)?;
        let meta = if flags & LOOKUP_SYMLINK_FOLLOW != 0 { dir.metadata(path)? } else { dir.symlink_metadata(path)? };
        mem.write(out, &filestat_of(&meta).encode())
    }

    #[allow(clippy::too_many_arguments)] // One per WASI parameter.
    pub(crate) fn path_filestat_set_times(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        flags: u32,
        ptr: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        fst_flags: u16,
    ) -> WasiResult {
        let (dir, path) = self.dir_and_path(mem, fd, ptr, len)?;
        let (atime, mtime) = time_specs(atim, mtim, fst_flags)?;
        if flags & LOOKUP_SYMLINK_FOLLOW != 0 {
            Ok(dir.set_times(path, atime, mtime)?)
        } else {
            Ok(dir.set_symlink_times(path, atime, mtime)?)
        }
    }

    #[allow(clippy::too_many_arguments)] // One per WASI parameter.
    pub(crate) fn path_link(
        &mut self,
        mem: &mut GuestMemory,
        old_fd: u32,
        old_flags: u32,
        old_ptr: u32,
        old_len: u32,
        new_fd: u32,
        new_ptr: u32,
        new_len: u32,
    ) -> WasiResult {
        // Linking to what a symlink points at is not supported (as in wasmtime).
        if old_flags & LOOKUP_SYMLINK_FOLLOW != 0 {
            return Err(Errno::Inval);
        }
        let (old_dir, old_path) = self.dir_and_path(mem, old_fd, old_ptr, old_len)?;
        let (new_dir, new_path) = self.dir_and_path(mem, new_fd, new_ptr, new_len)?;
        Ok(old_dir.hard_link(old_path, new_dir, new_path)?)
    }

    #[allow(clippy::too_many_arguments)] // One per WASI parameter.
    pub(crate) fn path_rename(
        &mut self,
        mem: &mut GuestMemory,
        old_fd: u32,
        old_ptr: u32,
        old_len: u32,
        new_fd: u32,
        new_ptr: u32,
        new_len: u32,
    ) -> WasiResult {
        let (old_dir, old_path) = self.dir_and_path(mem, old_fd, old_ptr, old_len)?;
        let (new_dir, new_path) = self.dir_and_path(mem, new_fd, new_ptr, new_len)?;
        Ok(old_dir.rename(old_path, new_dir, new_path)?)
    }

    pub(crate) fn path_symlink(
        &mut self,
        mem: &mut GuestMemory,
        target_ptr: u32,
        target_len: u32,
        fd: u32,
        ptr: u32,
        len: u32,
    ) -> WasiResult {
        let target = guest_path(mem.str(target_ptr, target_len)?)?;
        let (dir, path) = self.dir_and_path(mem, fd, ptr, len)?;
        // cap-std refuses absolute targets; relative ones are resolved, when followed, beneath
        // the directory the guest reaches them through.
        Ok(dir.symlink(target, path)?)
    }

    #[allow(clippy::too_many_arguments)] // One per WASI parameter.
    pub(crate) fn path_readlink(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        ptr: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        out: u32,
    ) -> WasiResult {
        use std::os::unix::ffi::OsStringExt as _;
        let (dir, path) = self.dir_and_path(mem, fd, ptr, len)?;
        let target = dir.read_link_contents(path)?.into_os_string().into_vec();
        // A short buffer gets a truncated target, as POSIX readlink gives.
        let n = target.len().min(buf_len as usize);
        mem.slice_mut(buf, buf_len)?[..n].copy_from_slice(&target[..n]);
        mem.write_u32(out, n as u32)
    }

    #[allow(clippy::too_many_arguments)] // One per WASI parameter.
    pub(crate) fn path_open(
        &mut self,
        mem: &mut GuestMemory,
        fd: u32,
        dirflags: u32,
        ptr: u32,
        len: u32,
        open_flags: u16,
        rights_base: u64,
        rights_inheriting: u64,
        fd_flags: u16,
        out: u32,
    ) -> WasiResult {
        let (dir, path) = self.dir_and_path(mem, fd, ptr, len)?;
        let follow = if dirflags & LOOKUP_SYMLINK_FOLLOW != 0 { FollowSymlinks::Yes } else { FollowSymlinks::No };
        // The access mode is what wasi-libc derives from O_RDONLY / O_WRONLY / O_RDWR.
        let read = rights_base & (rights::FD_READ | rights::FD_READDIR) != 0;
        let write = rights_base & rights::FD_WRITE != 0;
        let create = open_flags & oflags::CREAT != 0;
        let truncate = open_flags & oflags::TRUNC != 0;
        let descriptor = if open_flags & oflags::DIRECTORY != 0 {
            if create || truncate {
                return Err(Errno::Inval);
            }
            if write {
                return Err(Errno::IsDir);
            }
            let sub = match follow {
                FollowSymlinks::Yes => dir.open_dir(path)?,
                FollowSymlinks::No => dir.open_dir_nofollow(path)?,
            };
            Descriptor::Dir(new_dir(sub, rights_base, rights_inheriting))
        } else {
            let mut options = OpenOptions::new();
            // The host needs write access to create or truncate even for a read-only descriptor.
            options.read(read || !write).write(write || create || truncate).truncate(truncate);
            if create {
                if open_flags & oflags::EXCL != 0 {
                    options.create_new(true);
                } else {
                    options.create(true);
                }
            }
            options.follow(follow).maybe_dir(!write && !create && !truncate);
            options
                .dsync(fd_flags & fdflags::DSYNC != 0)
                .rsync(fd_flags & fdflags::RSYNC != 0)
                .sync(fd_flags & fdflags::SYNC != 0);
            let file = dir.open_with(path, &options)?;
            if file.metadata()?.is_dir() {
                Descriptor::Dir(new_dir(Dir::from_std_file(file.into_std()), rights_base, rights_inheriting))
            } else {
                Descriptor::File(OpenFile {
                    file,
                    readable: read,
                    writable: write,
                    append: fd_flags & fdflags::APPEND != 0,
                    flags: fd_flags & fdflags::NONBLOCK,
                    rights_base: rights_base & rights::FILE,
                    rights_inheriting: rights_inheriting & rights::FILE,
                })
            }
        };
        let new_fd = self.push(descriptor)?;
        mem.write_u32(out, new_fd)
    }
}

fn new_dir(dir: Dir, rights_base: u64, rights_inheriting: u64) -> OpenDir {
    OpenDir {
        dir,
        preopen: None,
        listing: None,
        rights_base: rights_base & rights::DIRECTORY,
        rights_inheriting: rights_inheriting & (rights::DIRECTORY | rights::FILE),
    }
}
