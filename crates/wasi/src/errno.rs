//! WASI `errno` values and the mapping from host I/O errors.

use std::io;

macro_rules! errnos {
    ($($name:ident = $value:literal, $text:literal;)*) => {
        /// A `wasi_snapshot_preview1` error number (the `errno` enum of the witx definition).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Errno {
            $(#[doc = $text] $name = $value,)*
        }

        impl Errno {
            /// Every error number, in numeric order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)*];

            /// The witx name, e.g. `noent`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => $text,)*
                }
            }
        }
    };
}

errnos! {
    Success = 0, "success";
    TooBig = 1, "2big";
    Acces = 2, "acces";
    AddrInUse = 3, "addrinuse";
    AddrNotAvail = 4, "addrnotavail";
    AfNoSupport = 5, "afnosupport";
    Again = 6, "again";
    Already = 7, "already";
    Badf = 8, "badf";
    BadMsg = 9, "badmsg";
    Busy = 10, "busy";
    Canceled = 11, "canceled";
    Child = 12, "child";
    ConnAborted = 13, "connaborted";
    ConnRefused = 14, "connrefused";
    ConnReset = 15, "connreset";
    Deadlk = 16, "deadlk";
    DestAddrReq = 17, "destaddrreq";
    Dom = 18, "dom";
    Dquot = 19, "dquot";
    Exist = 20, "exist";
    Fault = 21, "fault";
    Fbig = 22, "fbig";
    HostUnreach = 23, "hostunreach";
    Idrm = 24, "idrm";
    Ilseq = 25, "ilseq";
    InProgress = 26, "inprogress";
    Intr = 27, "intr";
    Inval = 28, "inval";
    Io = 29, "io";
    IsConn = 30, "isconn";
    IsDir = 31, "isdir";
    Loop = 32, "loop";
    Mfile = 33, "mfile";
    Mlink = 34, "mlink";
    MsgSize = 35, "msgsize";
    Multihop = 36, "multihop";
    NameTooLong = 37, "nametoolong";
    NetDown = 38, "netdown";
    NetReset = 39, "netreset";
    NetUnreach = 40, "netunreach";
    Nfile = 41, "nfile";
    NoBufs = 42, "nobufs";
    NoDev = 43, "nodev";
    NoEnt = 44, "noent";
    NoExec = 45, "noexec";
    NoLck = 46, "nolck";
    NoLink = 47, "nolink";
    NoMem = 48, "nomem";
    NoMsg = 49, "nomsg";
    NoProtoOpt = 50, "noprotoopt";
    NoSpc = 51, "nospc";
    NoSys = 52, "nosys";
    NotConn = 53, "notconn";
    NotDir = 54, "notdir";
    NotEmpty = 55, "notempty";
    NotRecoverable = 56, "notrecoverable";
    NotSock = 57, "notsock";
    NotSup = 58, "notsup";
    NoTty = 59, "notty";
    Nxio = 60, "nxio";
    Overflow = 61, "overflow";
    OwnerDead = 62, "ownerdead";
    Perm = 63, "perm";
    Pipe = 64, "pipe";
    Proto = 65, "proto";
    ProtoNoSupport = 66, "protonosupport";
    ProtoType = 67, "prototype";
    Range = 68, "range";
    Rofs = 69, "rofs";
    Spipe = 70, "spipe";
    Srch = 71, "srch";
    Stale = 72, "stale";
    TimedOut = 73, "timedout";
    TxtBsy = 74, "txtbsy";
    Xdev = 75, "xdev";
    NotCapable = 76, "notcapable";
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "errno {} ({})", *self as u16, self.name())
    }
}

impl std::error::Error for Errno {}

impl Errno {
    /// The WASI error for a host `errno` value (Linux/POSIX numbering through `rustix`).
    pub fn from_raw_os_error(code: i32) -> Errno {
        use rustix::io::Errno as E;
        let e = E::from_raw_os_error(code);
        // A table rather than arithmetic: host and WASI numbers differ.
        let table: &[(E, Errno)] = &[
            (E::TOOBIG, Errno::TooBig),
            (E::ACCESS, Errno::Acces),
            (E::ADDRINUSE, Errno::AddrInUse),
            (E::ADDRNOTAVAIL, Errno::AddrNotAvail),
            (E::AFNOSUPPORT, Errno::AfNoSupport),
            (E::AGAIN, Errno::Again),
            (E::ALREADY, Errno::Already),
            (E::BADF, Errno::Badf),
            (E::BADMSG, Errno::BadMsg),
            (E::BUSY, Errno::Busy),
            (E::CANCELED, Errno::Canceled),
            (E::CHILD, Errno::Child),
            (E::CONNABORTED, Errno::ConnAborted),
            (E::CONNREFUSED, Errno::ConnRefused),
            (E::CONNRESET, Errno::ConnReset),
            (E::DEADLK, Errno::Deadlk),
            (E::DESTADDRREQ, Errno::DestAddrReq),
            (E::DOM, Errno::Dom),
            (E::DQUOT, Errno::Dquot),
            (E::EXIST, Errno::Exist),
            (E::FAULT, Errno::Fault),
            (E::FBIG, Errno::Fbig),
            (E::HOSTUNREACH, Errno::HostUnreach),
            (E::IDRM, Errno::Idrm),
            (E::ILSEQ, Errno::Ilseq),
            (E::INPROGRESS, Errno::InProgress),
            (E::INTR, Errno::Intr),
            (E::INVAL, Errno::Inval),
            (E::IO, Errno::Io),
            (E::ISCONN, Errno::IsConn),
            (E::ISDIR, Errno::IsDir),
            (E::LOOP, Errno::Loop),
            (E::MFILE, Errno::Mfile),
            (E::MLINK, Errno::Mlink),
            (E::MSGSIZE, Errno::MsgSize),
            (E::MULTIHOP, Errno::Multihop),
            (E::NAMETOOLONG, Errno::NameTooLong),
            (E::NETDOWN, Errno::NetDown),
            (E::NETRESET, Errno::NetReset),
            (E::NETUNREACH, Errno::NetUnreach),
            (E::NFILE, Errno::Nfile),
            (E::NOBUFS, Errno::NoBufs),
            (E::NODEV, Errno::NoDev),
            (E::NOENT, Errno::NoEnt),
            (E::NOEXEC, Errno::NoExec),
            (E::NOLCK, Errno::NoLck),
            (E::NOLINK, Errno::NoLink),
            (E::NOMEM, Errno::NoMem),
            (E::NOMSG, Errno::NoMsg),
            (E::NOPROTOOPT, Errno::NoProtoOpt),
            (E::NOSPC, Errno::NoSpc),
            (E::NOSYS, Errno::NoSys),
            (E::NOTCONN, Errno::NotConn),
            (E::NOTDIR, Errno::NotDir),
            (E::NOTEMPTY, Errno::NotEmpty),
            (E::NOTRECOVERABLE, Errno::NotRecoverable),
            (E::NOTSOCK, Errno::NotSock),
            (E::NOTSUP, Errno::NotSup),
            (E::OPNOTSUPP, Errno::NotSup),
            (E::NOTTY, Errno::NoTty),
            (E::NXIO, Errno::Nxio),
            (E::OVERFLOW, Errno::Overflow),
            (E::OWNERDEAD, Errno::OwnerDead),
            (E::PERM, Errno::Perm),
            (E::PIPE, Errno::Pipe),
            (E::PROTO, Errno::Proto),
            (E::PROTONOSUPPORT, Errno::ProtoNoSupport),
            (E::PROTOTYPE, Errno::ProtoType),
            (E::RANGE, Errno::Range),
            (E::ROFS, Errno::Rofs),
            (E::SPIPE, Errno::Spipe),
            (E::SRCH, Errno::Srch),
            (E::STALE, Errno::Stale),
            (E::TIMEDOUT, Errno::TimedOut),
            (E::TXTBSY, Errno::TxtBsy),
            (E::XDEV, Errno::Xdev),
        ];
        table.iter().find(|(host, _)| *host == e).map_or(Errno::Io, |(_, wasi)| *wasi)
    }
}

impl From<io::Error> for Errno {
    fn from(error: io::Error) -> Errno {
        if let Some(code) = error.raw_os_error() {
            return Errno::from_raw_os_error(code);
        }
        // Errors made by Rust or cap-std without an OS error number. cap-std reports a path
        // that would leave its directory as `PermissionDenied`: EPERM, like wasmtime.
        match error.kind() {
            io::ErrorKind::NotFound => Errno::NoEnt,
            io::ErrorKind::PermissionDenied => Errno::Perm,
            io::ErrorKind::AlreadyExists => Errno::Exist,
            io::ErrorKind::InvalidInput => Errno::Inval,
            io::ErrorKind::InvalidData => Errno::Ilseq,
            io::ErrorKind::WouldBlock => Errno::Again,
            io::ErrorKind::Interrupted => Errno::Intr,
            io::ErrorKind::BrokenPipe => Errno::Pipe,
            io::ErrorKind::UnexpectedEof => Errno::Io,
            io::ErrorKind::Unsupported => Errno::NotSup,
            io::ErrorKind::OutOfMemory => Errno::NoMem,
            io::ErrorKind::NotADirectory => Errno::NotDir,
            io::ErrorKind::IsADirectory => Errno::IsDir,
            io::ErrorKind::DirectoryNotEmpty => Errno::NotEmpty,
            io::ErrorKind::InvalidFilename => Errno::Inval,
            _ => Errno::Io,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Errno;
    use std::io;

    #[test]
    fn numbering_matches_the_witx_enum() {
        // The enum is dense from 0 to 76, in witx order.
        for (i, e) in Errno::ALL.iter().enumerate() {
            assert_eq!(*e as u16 as usize, i, "{e:?}");
        }
        assert_eq!(Errno::ALL.len(), 77);
        assert_eq!(Errno::NoEnt as u16, 44);
        assert_eq!(Errno::NotCapable as u16, 76);
        assert_eq!(Errno::Fault.name(), "fault");
    }

    #[test]
    fn host_errors_map_to_wasi() {
        let os = |code| Errno::from(io::Error::from_raw_os_error(code));
        assert_eq!(os(rustix::io::Errno::NOENT.raw_os_error()), Errno::NoEnt);
        assert_eq!(os(rustix::io::Errno::EXIST.raw_os_error()), Errno::Exist);
        assert_eq!(os(rustix::io::Errno::NOTEMPTY.raw_os_error()), Errno::NotEmpty);
        assert_eq!(os(rustix::io::Errno::NOTDIR.raw_os_error()), Errno::NotDir);
        assert_eq!(os(rustix::io::Errno::ISDIR.raw_os_error()), Errno::IsDir);
        assert_eq!(os(rustix::io::Errno::LOOP.raw_os_error()), Errno::Loop);
        assert_eq!(os(rustix::io::Errno::ACCESS.raw_os_error()), Errno::Acces);
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, "a path led outside of the filesystem");
        assert_eq!(Errno::from(escape), Errno::Perm);
        assert_eq!(Errno::from(io::Error::other("odd")), Errno::Io);
    }
}
