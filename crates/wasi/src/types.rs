//! Constants and memory layouts of `wasi_snapshot_preview1` (from the witx definitions; sizes and
//! offsets as in wasi-libc's `wasi/api.h`).

/// `filetype`.
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `fdflags` (u16).
pub mod fdflags {
    pub const APPEND: u16 = 1 << 0;
    pub const DSYNC: u16 = 1 << 1;
    pub const NONBLOCK: u16 = 1 << 2;
    pub const RSYNC: u16 = 1 << 3;
    pub const SYNC: u16 = 1 << 4;
}

/// `oflags` (u16).
pub mod oflags {
    pub const CREAT: u16 = 1 << 0;
    pub const DIRECTORY: u16 = 1 << 1;
    pub const EXCL: u16 = 1 << 2;
    pub const TRUNC: u16 = 1 << 3;
}

/// `lookupflags` (u32).
pub const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// `fstflags` (u16).
pub mod fstflags {
    pub const ATIM: u16 = 1 << 0;
    pub const ATIM_NOW: u16 = 1 << 1;
    pub const MTIM: u16 = 1 << 2;
    pub const MTIM_NOW: u16 = 1 << 3;
}

/// `rights` (u64).
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// Everything an open regular file can do.
    pub const FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
    /// Everything an open directory can do.
    pub const DIRECTORY: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_DATASYNC
        | FD_ADVISE
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;
    /// What stdin, stdout and stderr can do (no seek or tell: wasi-libc's `isatty` checks that).
    pub const STREAM: u64 = FD_READ | FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE;
}

/// `clockid`.
pub mod clockid {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `whence` (u8).
pub mod whence {
    pub const SET: u8 = 0;
    pub const CUR: u8 = 1;
    pub const END: u8 = 2;
}

/// `eventtype` (u8).
pub mod eventtype {
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
}

/// `subclockflags`: the timeout is an absolute time of the clock.
pub const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// `preopentype`: a directory.
pub const PREOPENTYPE_DIR: u8 = 0;

/// Sizes of the structures that cross the boundary.
pub mod size {
    pub const IOVEC: u32 = 8;
    pub const FDSTAT: usize = 24;
    pub const FILESTAT: usize = 64;
    pub const DIRENT: usize = 24;
    pub const PRESTAT: usize = 8;
    pub const SUBSCRIPTION: u32 = 48;
    pub const EVENT: u32 = 32;
}

/// `fdstat`: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdStat {
    pub filetype: u8,
    pub flags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
}

impl FdStat {
    pub fn encode(&self) -> [u8; size::FDSTAT] {
        let mut out = [0; size::FDSTAT];
        out[0] = self.filetype;
        out[2..4].copy_from_slice(&self.flags.to_le_bytes());
        out[8..16].copy_from_slice(&self.rights_base.to_le_bytes());
        out[16..24].copy_from_slice(&self.rights_inheriting.to_le_bytes());
        out
    }
}

/// `filestat`: dev @0, ino @8, filetype u8 @16, nlink @24, size @32, atim @40, mtim @48, ctim @56.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

impl FileStat {
    pub fn encode(&self) -> [u8; size::FILESTAT] {
        let mut out = [0; size::FILESTAT];
        out[0..8].copy_from_slice(&self.dev.to_le_bytes());
        out[8..16].copy_from_slice(&self.ino.to_le_bytes());
        out[16] = self.filetype;
        out[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        out[32..40].copy_from_slice(&self.size.to_le_bytes());
        out[40..48].copy_from_slice(&self.atim.to_le_bytes());
        out[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        out[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        out
    }
}

/// `dirent` header (the name follows it, not NUL-terminated): d_next @0, d_ino @8,
/// d_namlen u32 @16, d_type u8 @20.
pub fn encode_dirent(next: u64, ino: u64, name_len: u32, filetype: u8) -> [u8; size::DIRENT] {
    let mut out = [0; size::DIRENT];
    out[0..8].copy_from_slice(&next.to_le_bytes());
    out[8..16].copy_from_slice(&ino.to_le_bytes());
    out[16..20].copy_from_slice(&name_len.to_le_bytes());
    out[20] = filetype;
    out
}

/// `prestat` of a directory: tag u8 @0, name length u32 @4.
pub fn encode_prestat_dir(name_len: u32) -> [u8; size::PRESTAT] {
    let mut out = [0; size::PRESTAT];
    out[0] = PREOPENTYPE_DIR;
    out[4..8].copy_from_slice(&name_len.to_le_bytes());
    out
}

/// What a `subscription` asks for: userdata u64 @0, tag u8 @8, then at @16 either
/// `subscription_clock` (id u32 @16, timeout u64 @24, precision u64 @32, flags u16 @40) or
/// `subscription_fd_readwrite` (fd u32 @16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    Clock { userdata: u64, id: u32, timeout: u64, flags: u16 },
    FdRead { userdata: u64, fd: u32 },
    FdWrite { userdata: u64, fd: u32 },
}

impl Subscription {
    /// Decodes one 48-byte subscription; `None` for an unknown tag.
    pub fn decode(bytes: &[u8]) -> Option<Subscription> {
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let userdata = u64_at(0);
        Some(match bytes[8] {
            eventtype::CLOCK => Subscription::Clock {
                userdata,
                id: u32_at(16),
                timeout: u64_at(24),
                flags: u16::from_le_bytes([bytes[40], bytes[41]]),
            },
            eventtype::FD_READ => Subscription::FdRead { userdata, fd: u32_at(16) },
            eventtype::FD_WRITE => Subscription::FdWrite { userdata, fd: u32_at(16) },
            _ => return None,
        })
    }
}

/// An `event`: userdata u64 @0, error u16 @8, type u8 @10, fd_readwrite.nbytes u64 @16,
/// fd_readwrite.flags u16 @24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub userdata: u64,
    pub error: u16,
    pub kind: u8,
    pub nbytes: u64,
    pub flags: u16,
}

impl Event {
    pub fn encode(&self) -> [u8; size::EVENT as usize] {
        let mut out = [0; size::EVENT as usize];
        out[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        out[8..10].copy_from_slice(&self.error.to_le_bytes());
        out[10] = self.kind;
        out[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        out[24..26].copy_from_slice(&self.flags.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdstat_layout() {
        let bytes = FdStat { filetype: 4, flags: 0x0201, rights_base: 0x1122, rights_inheriting: u64::MAX }.encode();
        assert_eq!(bytes[0], 4);
        assert_eq!(bytes[1], 0, "padding");
        assert_eq!(&bytes[2..4], &[0x01, 0x02]);
        assert_eq!(&bytes[8..10], &[0x22, 0x11]);
        assert_eq!(&bytes[16..24], &[0xff; 8]);
    }

    #[test]
    fn filestat_layout() {
        let stat = FileStat { dev: 1, ino: 2, filetype: 3, nlink: 4, size: 5, atim: 6, mtim: 7, ctim: 8 };
        let bytes = stat.encode();
        for (offset, value) in [(0, 1), (8, 2), (24, 4), (32, 5), (40, 6), (48, 7), (56, 8)] {
            assert_eq!(u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap()), value, "@{offset}");
        }
        assert_eq!(bytes[16], 3);
        assert!(bytes[17..24].iter().all(|b| *b == 0));
    }

    #[test]
    fn dirent_and_prestat_layout() {
        let d = encode_dirent(9, 77, 5, filetype::DIRECTORY);
        assert_eq!(u64::from_le_bytes(d[0..8].try_into().unwrap()), 9);
        assert_eq!(u64::from_le_bytes(d[8..16].try_into().unwrap()), 77);
        assert_eq!(u32::from_le_bytes(d[16..20].try_into().unwrap()), 5);
        assert_eq!(d[20], 3);
        assert_eq!(encode_prestat_dir(8), [0, 0, 0, 0, 8, 0, 0, 0]);
    }

    #[test]
    fn subscriptions_and_events() {
        let mut sub = [0u8; 48];
        sub[0..8].copy_from_slice(&42u64.to_le_bytes());
        sub[8] = eventtype::CLOCK;
        sub[16..20].copy_from_slice(&clockid::MONOTONIC.to_le_bytes());
        sub[24..32].copy_from_slice(&1_000_000u64.to_le_bytes());
        sub[40..42].copy_from_slice(&SUBSCRIPTION_CLOCK_ABSTIME.to_le_bytes());
        assert_eq!(
            Subscription::decode(&sub),
            Some(Subscription::Clock { userdata: 42, id: 1, timeout: 1_000_000, flags: 1 })
        );
        sub[8] = eventtype::FD_WRITE;
        assert_eq!(Subscription::decode(&sub), Some(Subscription::FdWrite { userdata: 42, fd: 1 }));
        sub[8] = 7;
        assert_eq!(Subscription::decode(&sub), None);

        let event = Event { userdata: 42, error: 8, kind: eventtype::FD_READ, nbytes: 10, flags: 1 }.encode();
        assert_eq!(u64::from_le_bytes(event[0..8].try_into().unwrap()), 42);
        assert_eq!(&event[8..11], &[8, 0, 1]);
        assert_eq!(u64::from_le_bytes(event[16..24].try_into().unwrap()), 10);
        assert_eq!(&event[24..26], &[1, 0]);
    }
}
