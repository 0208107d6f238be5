//! `wasi:filesystem` (types, preopens) through cap-std, with preview 1's sandbox: every path is
//! resolved beneath the directory descriptor it is relative to, so `..` past it, absolute paths
//! and symlinks leading out of it fail (`not-permitted`) instead of reaching the host.

use super::WasiCtxView;
use super::bindings::sync::wasi::filesystem::{preopens, types};
use super::io::{InputStream, IoError, OutputStream};
use crate::Errno;
use anyhow::Result;
use cap_fs_ext::SystemTimeSpec;
use cap_fs_ext::{DirExt as _, FollowSymlinks, OpenOptionsFollowExt as _, OpenOptionsMaybeDirExt as _};
use cap_std::fs::{Dir, OpenOptions};
use kiln::component::Resource;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use types::{
    DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, MetadataHashValue, NewTimestamp,
    OpenFlags, PathFlags,
};

type FsResult<T> = Result<Result<T, ErrorCode>>;

/// A `wasi:filesystem` descriptor: an open directory or file, with what it was opened for.
pub enum Descriptor {
    /// A directory: paths are resolved beneath it.
    Dir { dir: Arc<Dir>, flags: DescriptorFlags },
    /// A file (or other non-directory).
    File { file: Arc<std::fs::File>, flags: DescriptorFlags },
}

/// The entries of a directory, as `read-directory` listed them.
pub struct DirectoryEntryStream(std::vec::IntoIter<DirectoryEntry>);

/// The `wasi:filesystem` error code of a host error (through preview 1's mapping, which also
/// covers cap-std's sandbox refusals: `PermissionDenied` becomes `not-permitted`).
pub(crate) fn error_code(e: &std::io::Error) -> ErrorCode {
    let errno = match e.raw_os_error() {
        Some(code) => Errno::from_raw_os_error(code),
        None => Errno::from(std::io::Error::from(e.kind())),
    };
    match errno {
        Errno::Acces => ErrorCode::Access,
        Errno::Again => ErrorCode::WouldBlock,
        Errno::Already => ErrorCode::Already,
        Errno::Badf => ErrorCode::BadDescriptor,
        Errno::Busy => ErrorCode::Busy,
        Errno::Deadlk => ErrorCode::Deadlock,
        Errno::Dquot => ErrorCode::Quota,
        Errno::Exist => ErrorCode::Exist,
        Errno::Fbig => ErrorCode::FileTooLarge,
        Errno::Ilseq => ErrorCode::IllegalByteSequence,
        Errno::InProgress => ErrorCode::InProgress,
        Errno::Intr => ErrorCode::Interrupted,
        Errno::Inval => ErrorCode::Invalid,
        Errno::IsDir => ErrorCode::IsDirectory,
        Errno::Loop => ErrorCode::Loop,
        Errno::Mlink => ErrorCode::TooManyLinks,
        Errno::MsgSize => ErrorCode::MessageSize,
        Errno::NameTooLong => ErrorCode::NameTooLong,
        Errno::NoDev => ErrorCode::NoDevice,
        Errno::NoEnt => ErrorCode::NoEntry,
        Errno::NoLck => ErrorCode::NoLock,
        Errno::NoMem => ErrorCode::InsufficientMemory,
        Errno::NoSpc => ErrorCode::InsufficientSpace,
        Errno::NotDir => ErrorCode::NotDirectory,
        Errno::NotEmpty => ErrorCode::NotEmpty,
        Errno::NotRecoverable => ErrorCode::NotRecoverable,
        Errno::NotSup => ErrorCode::Unsupported,
        Errno::NoTty => ErrorCode::NoTty,
        Errno::Nxio => ErrorCode::NoSuchDevice,
        Errno::Overflow => ErrorCode::Overflow,
        Errno::Perm => ErrorCode::NotPermitted,
        Errno::Pipe => ErrorCode::Pipe,
        Errno::Rofs => ErrorCode::ReadOnly,
        Errno::Spipe => ErrorCode::InvalidSeek,
        Errno::TxtBsy => ErrorCode::TextFileBusy,
        Errno::Xdev => ErrorCode::CrossDevice,
        _ => ErrorCode::Io,
    }
}

/// Runs a host operation, turning its error into an error code.
fn io<T>(r: std::io::Result<T>) -> Result<T, ErrorCode> {
    r.map_err(|e| error_code(&e))
}

fn type_of(ty: &cap_std::fs::FileType) -> DescriptorType {
    use cap_std::fs::FileTypeExt as _;
    if ty.is_dir() {
        DescriptorType::Directory
    } else if ty.is_file() {
        DescriptorType::RegularFile
    } else if ty.is_symlink() {
        DescriptorType::SymbolicLink
    } else if ty.is_char_device() {
        DescriptorType::CharacterDevice
    } else if ty.is_block_device() {
        DescriptorType::BlockDevice
    } else if ty.is_fifo() {
        DescriptorType::Fifo
    } else if ty.is_socket() {
        DescriptorType::Socket
    } else {
        DescriptorType::Unknown
    }
}

fn datetime(seconds: i64, nanoseconds: i64) -> Option<types::Datetime> {
    Some(types::Datetime { seconds: u64::try_from(seconds).ok()?, nanoseconds: u32::try_from(nanoseconds).ok()? })
}

fn stat_of(meta: &cap_std::fs::Metadata) -> DescriptorStat {
    use cap_std::fs::MetadataExt as _;
    DescriptorStat {
        type_: type_of(&meta.file_type()),
        link_count: meta.nlink(),
        size: meta.len(),
        data_access_timestamp: datetime(meta.atime(), meta.atime_nsec()),
        data_modification_timestamp: datetime(meta.mtime(), meta.mtime_nsec()),
        status_change_timestamp: datetime(meta.ctime(), meta.ctime_nsec()),
    }
}

fn hash_of(meta: &cap_std::fs::Metadata) -> MetadataHashValue {
    use cap_std::fs::MetadataExt as _;
    MetadataHashValue { lower: meta.ino(), upper: meta.dev() }
}

fn time_spec(t: NewTimestamp) -> Option<SystemTimeSpec> {
    match t {
        NewTimestamp::NoChange => None,
        NewTimestamp::Now => Some(SystemTimeSpec::SymbolicNow),
        NewTimestamp::Timestamp(d) => {
            let time = UNIX_EPOCH + Duration::new(d.seconds, d.nanoseconds);
            Some(SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(time)))
        }
    }
}

/// A guest path as a path relative to a directory (empty paths name nothing).
fn rel(path: &str) -> Result<&Path, ErrorCode> {
    if path.is_empty() { Err(ErrorCode::NoEntry) } else { Ok(Path::new(path)) }
}

/// The directory itself as a readable file (cap-std may hold directories as `O_PATH`).
fn reopen_dir(dir: &Dir) -> std::io::Result<std::fs::File> {
    Ok(dir.open_with(".", OpenOptions::new().read(true).maybe_dir(true))?.into_std())
}

impl WasiCtxView<'_> {
    fn dir(&self, d: &Resource<Descriptor>) -> Result<Result<(Arc<Dir>, DescriptorFlags), ErrorCode>> {
        Ok(match self.table.get(d)? {
            Descriptor::Dir { dir, flags } => Ok((dir.clone(), *flags)),
            Descriptor::File { .. } => Err(ErrorCode::NotDirectory),
        })
    }

    fn file(&self, d: &Resource<Descriptor>) -> Result<Result<(Arc<std::fs::File>, DescriptorFlags), ErrorCode>> {
        Ok(match self.table.get(d)? {
            Descriptor::File { file, flags } => Ok((file.clone(), *flags)),
            Descriptor::Dir { .. } => Err(ErrorCode::IsDirectory),
        })
    }

    /// The host file for operations on the descriptor itself (a directory is reopened).
    fn any_file(&self, d: &Resource<Descriptor>) -> Result<Result<Arc<std::fs::File>, ErrorCode>> {
        Ok(match self.table.get(d)? {
            Descriptor::File { file, .. } => Ok(file.clone()),
            Descriptor::Dir { dir, .. } => io(reopen_dir(dir)).map(Arc::new),
        })
    }
}

/// Returns early from a host function with the error code of a failed step.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return Ok(Err(code)),
        }
    };
}

impl preopens::Host for WasiCtxView<'_> {
    fn get_directories(&mut self) -> Result<Vec<(Resource<Descriptor>, String)>> {
        let preopens = self.ctx.preopens.clone();
        let mut out = Vec::new();
        for (dir, name) in preopens {
            let flags = DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY;
            out.push((self.table.push(Descriptor::Dir { dir, flags })?, name));
        }
        Ok(out)
    }
}

impl types::Host for WasiCtxView<'_> {
    fn filesystem_error_code(&mut self, err: Resource<IoError>) -> Result<Option<ErrorCode>> {
        Ok(Some(error_code(&self.table.get(&err)?.0)))
    }
}

impl types::HostDescriptor for WasiCtxView<'_> {
    fn read_via_stream(&mut self, d: Resource<Descriptor>, offset: u64) -> FsResult<Resource<InputStream>> {
        let (file, flags) = tri!(self.file(&d)?);
        if !flags.contains(DescriptorFlags::READ) {
            return Ok(Err(ErrorCode::BadDescriptor));
        }
        Ok(Ok(self.table.push(InputStream::File { file, offset })?))
    }
    fn write_via_stream(&mut self, d: Resource<Descriptor>, offset: u64) -> FsResult<Resource<OutputStream>> {
        let (file, flags) = tri!(self.file(&d)?);
        if !flags.contains(DescriptorFlags::WRITE) {
            return Ok(Err(ErrorCode::BadDescriptor));
        }
        Ok(Ok(self.table.push(OutputStream::File { file, offset, append: false })?))
    }
    fn append_via_stream(&mut self, d: Resource<Descriptor>) -> FsResult<Resource<OutputStream>> {
        let (file, flags) = tri!(self.file(&d)?);
        if !flags.contains(DescriptorFlags::WRITE) {
            return Ok(Err(ErrorCode::BadDescriptor));
        }
        Ok(Ok(self.table.push(OutputStream::File { file, offset: 0, append: true })?))
    }
    fn advise(&mut self, d: Resource<Descriptor>, offset: u64, len: u64, advice: types::Advice) -> FsResult<()> {
        use rustix::fs::Advice as A;
        let (file, _) = tri!(self.file(&d)?);
        let advice = match advice {
            types::Advice::Normal => A::Normal,
            types::Advice::Sequential => A::Sequential,
            types::Advice::Random => A::Random,
            types::Advice::WillNeed => A::WillNeed,
            types::Advice::DontNeed => A::DontNeed,
            types::Advice::NoReuse => A::NoReuse,
        };
        let len = std::num::NonZeroU64::new(len);
        Ok(io(rustix::fs::fadvise(&*file, offset, len, advice).map_err(std::io::Error::from)))
    }
    fn sync_data(&mut self, d: Resource<Descriptor>) -> FsResult<()> {
        let file = tri!(self.any_file(&d)?);
        Ok(io(file.sync_data()))
    }
    fn sync(&mut self, d: Resource<Descriptor>) -> FsResult<()> {
        let file = tri!(self.any_file(&d)?);
        Ok(io(file.sync_all()))
    }
    fn get_flags(&mut self, d: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        Ok(Ok(match self.table.get(&d)? {
            Descriptor::Dir { flags, .. } | Descriptor::File { flags, .. } => *flags,
        }))
    }
    fn get_type(&mut self, d: Resource<Descriptor>) -> FsResult<DescriptorType> {
        Ok(match self.table.get(&d)? {
            Descriptor::Dir { .. } => Ok(DescriptorType::Directory),
            Descriptor::File { file, .. } => {
                io(file.metadata()).map(|m| type_of(&cap_std::fs::Metadata::from_just_metadata(m).file_type()))
            }
        })
    }
    fn set_size(&mut self, d: Resource<Descriptor>, size: u64) -> FsResult<()> {
        let (file, flags) = tri!(self.file(&d)?);
        if !flags.contains(DescriptorFlags::WRITE) {
            return Ok(Err(ErrorCode::BadDescriptor));
        }
        Ok(io(file.set_len(size)))
    }
    fn set_times(&mut self, d: Resource<Descriptor>, atime: NewTimestamp, mtime: NewTimestamp) -> FsResult<()> {
        let file = tri!(self.any_file(&d)?);
        let conv = |t: Option<SystemTimeSpec>| {
            t.map(|t| match t {
                SystemTimeSpec::SymbolicNow => fs_set_times::SystemTimeSpec::SymbolicNow,
                SystemTimeSpec::Absolute(t) => fs_set_times::SystemTimeSpec::Absolute(t.into_std()),
            })
        };
        Ok(io(fs_set_times::SetTimes::set_times(&*file, conv(time_spec(atime)), conv(time_spec(mtime)))))
    }
    fn read(&mut self, d: Resource<Descriptor>, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        use std::os::unix::fs::FileExt as _;
        let (file, flags) = tri!(self.file(&d)?);
        if !flags.contains(DescriptorFlags::READ) {
            return Ok(Err(ErrorCode::BadDescriptor));
        }
        let mut buf = vec![0; len.min(super::io::CHUNK) as usize];
        let n = tri!(io(file.read_at(&mut buf, offset)));
        buf.truncate(n);
        let eof = n == 0 && len > 0;
        Ok(Ok((buf, eof)))
    }
    fn write(&mut self, d: Resource<Descriptor>, buffer: Vec<u8>, offset: u64) -> FsResult<u64> {
        use std::os::unix::fs::FileExt as _;
        let (file, flags) = tri!(self.file(&d)?);
        if !flags.contains(DescriptorFlags::WRITE) {
            return Ok(Err(ErrorCode::BadDescriptor));
        }
        Ok(io(file.write_at(&buffer, offset)).map(|n| n as u64))
    }
    fn read_directory(&mut self, d: Resource<Descriptor>) -> FsResult<Resource<DirectoryEntryStream>> {
        let (dir, _) = tri!(self.dir(&d)?);
        let mut entries = Vec::new();
        for entry in tri!(io(dir.entries())) {
            let entry = tri!(io(entry));
            let type_ = entry.file_type().map(|t| type_of(&t)).unwrap_or(DescriptorType::Unknown);
            let Ok(name) = entry.file_name().into_string() else {
                return Ok(Err(ErrorCode::IllegalByteSequence));
            };
            entries.push(DirectoryEntry { type_, name });
        }
        Ok(Ok(self.table.push(DirectoryEntryStream(entries.into_iter()))?))
    }
    fn create_directory_at(&mut self, d: Resource<Descriptor>, path: String) -> FsResult<()> {
        let (dir, _) = tri!(self.dir(&d)?);
        Ok(io(dir.create_dir(tri!(rel(&path)))))
    }
    fn stat(&mut self, d: Resource<Descriptor>) -> FsResult<DescriptorStat> {
        Ok(match self.table.get(&d)? {
            Descriptor::Dir { dir, .. } => io(dir.dir_metadata()).map(|m| stat_of(&m)),
            Descriptor::File { file, .. } => {
                io(file.metadata()).map(|m| stat_of(&cap_std::fs::Metadata::from_just_metadata(m)))
            }
        })
    }
    fn stat_at(&mut self, d: Resource<Descriptor>, pf: PathFlags, path: String) -> FsResult<DescriptorStat> {
        let (dir, _) = tri!(self.dir(&d)?);
        let path = tri!(rel(&path));
        let meta = if pf.contains(PathFlags::SYMLINK_FOLLOW) { dir.metadata(path) } else { dir.symlink_metadata(path) };
        Ok(io(meta).map(|m| stat_of(&m)))
    }
    fn set_times_at(
        &mut self,
        d: Resource<Descriptor>,
        pf: PathFlags,
        path: String,
        atime: NewTimestamp,
        mtime: NewTimestamp,
    ) -> FsResult<()> {
        let (dir, _) = tri!(self.dir(&d)?);
        let path = tri!(rel(&path));
        let (a, m) = (time_spec(atime), time_spec(mtime));
        Ok(io(if pf.contains(PathFlags::SYMLINK_FOLLOW) {
            dir.set_times(path, a, m)
        } else {
            dir.set_symlink_times(path, a, m)
        }))
    }
    fn link_at(
        &mut self,
        d: Resource<Descriptor>,
        old_pf: PathFlags,
        old_path: String,
        new_d: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        // Linking to what a symlink points at is not supported (as in preview 1).
        if old_pf.contains(PathFlags::SYMLINK_FOLLOW) {
            return Ok(Err(ErrorCode::Invalid));
        }
        let (old_dir, _) = tri!(self.dir(&d)?);
        let (new_dir, _) = tri!(self.dir(&new_d)?);
        Ok(io(old_dir.hard_link(tri!(rel(&old_path)), &new_dir, tri!(rel(&new_path)))))
    }
    fn open_at(
        &mut self,
        d: Resource<Descriptor>,
        pf: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let (dir, dir_flags) = tri!(self.dir(&d)?);
        let path = tri!(rel(&path));
        let follow = if pf.contains(PathFlags::SYMLINK_FOLLOW) { FollowSymlinks::Yes } else { FollowSymlinks::No };
        let create = oflags.contains(OpenFlags::CREATE);
        let truncate = oflags.contains(OpenFlags::TRUNCATE);
        let write = flags.contains(DescriptorFlags::WRITE);
        // A descriptor cannot open files for more than it may itself do.
        if (write || create || truncate) && !dir_flags.contains(DescriptorFlags::MUTATE_DIRECTORY) {
            return Ok(Err(ErrorCode::NotPermitted));
        }
        if oflags.contains(OpenFlags::DIRECTORY) {
            if create || truncate || write {
                return Ok(Err(if write { ErrorCode::IsDirectory } else { ErrorCode::Invalid }));
            }
            let sub = tri!(io(match follow {
                FollowSymlinks::Yes => dir.open_dir(path),
                FollowSymlinks::No => dir.open_dir_nofollow(path),
            }));
            let flags = flags & (DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY);
            return Ok(Ok(self.table.push(Descriptor::Dir { dir: Arc::new(sub), flags })?));
        }
        let read = flags.contains(DescriptorFlags::READ);
        let mut options = OpenOptions::new();
        options.read(read || !write).write(write || create || truncate).truncate(truncate);
        if create {
            if oflags.contains(OpenFlags::EXCLUSIVE) {
                options.create_new(true);
            } else {
                options.create(true);
            }
        }
        options.follow(follow).maybe_dir(!write && !create && !truncate);
        let file = tri!(io(dir.open_with(path, &options)));
        let is_dir = tri!(io(file.metadata())).is_dir();
        let descriptor = if is_dir {
            let flags = flags & (DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY);
            Descriptor::Dir { dir: Arc::new(Dir::from_std_file(file.into_std())), flags }
        } else {
            Descriptor::File { file: Arc::new(file.into_std()), flags: flags & !DescriptorFlags::MUTATE_DIRECTORY }
        };
        Ok(Ok(self.table.push(descriptor)?))
    }
    fn readlink_at(&mut self, d: Resource<Descriptor>, path: String) -> FsResult<String> {
        let (dir, _) = tri!(self.dir(&d)?);
        let target = tri!(io(dir.read_link_contents(tri!(rel(&path)))));
        Ok(target.into_os_string().into_string().map_err(|_| ErrorCode::IllegalByteSequence))
    }
    fn remove_directory_at(&mut self, d: Resource<Descriptor>, path: String) -> FsResult<()> {
        let (dir, _) = tri!(self.dir(&d)?);
        Ok(io(dir.remove_dir(tri!(rel(&path)))))
    }
    fn rename_at(
        &mut self,
        d: Resource<Descriptor>,
        old: String,
        new_d: Resource<Descriptor>,
        new: String,
    ) -> FsResult<()> {
        let (old_dir, _) = tri!(self.dir(&d)?);
        let (new_dir, _) = tri!(self.dir(&new_d)?);
        Ok(io(old_dir.rename(tri!(rel(&old)), &new_dir, tri!(rel(&new)))))
    }
    fn symlink_at(&mut self, d: Resource<Descriptor>, target: String, path: String) -> FsResult<()> {
        let (dir, _) = tri!(self.dir(&d)?);
        // cap-std refuses absolute targets; relative ones are resolved, when followed, beneath
        // the directory the guest reaches them through.
        Ok(io(dir.symlink(tri!(rel(&target)), tri!(rel(&path)))))
    }
    fn unlink_file_at(&mut self, d: Resource<Descriptor>, path: String) -> FsResult<()> {
        let (dir, _) = tri!(self.dir(&d)?);
        Ok(io(dir.remove_file(tri!(rel(&path)))))
    }
    fn is_same_object(&mut self, a: Resource<Descriptor>, b: Resource<Descriptor>) -> Result<bool> {
        let (Ok(a), Ok(b)) = (self.metadata_hash(a)?, self.metadata_hash(b)?) else {
            return Ok(false);
        };
        Ok(a.lower == b.lower && a.upper == b.upper)
    }
    fn metadata_hash(&mut self, d: Resource<Descriptor>) -> FsResult<MetadataHashValue> {
        Ok(match self.table.get(&d)? {
            Descriptor::Dir { dir, .. } => io(dir.dir_metadata()).map(|m| hash_of(&m)),
            Descriptor::File { file, .. } => {
                io(file.metadata()).map(|m| hash_of(&cap_std::fs::Metadata::from_just_metadata(m)))
            }
        })
    }
    fn metadata_hash_at(
        &mut self,
        d: Resource<Descriptor>,
        pf: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        let (dir, _) = tri!(self.dir(&d)?);
        let path = tri!(rel(&path));
        let meta = if pf.contains(PathFlags::SYMLINK_FOLLOW) { dir.metadata(path) } else { dir.symlink_metadata(path) };
        Ok(io(meta).map(|m| hash_of(&m)))
    }
    fn drop(&mut self, d: Resource<Descriptor>) -> Result<()> {
        self.table.delete(d)?;
        Ok(())
    }
}

impl types::HostDirectoryEntryStream for WasiCtxView<'_> {
    fn read_directory_entry(&mut self, s: Resource<DirectoryEntryStream>) -> FsResult<Option<DirectoryEntry>> {
        Ok(Ok(self.table.get_mut(&s)?.0.next()))
    }
    fn drop(&mut self, s: Resource<DirectoryEntryStream>) -> Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}
