//! `wasi:sockets`: TCP and UDP over the host's sockets, and name resolution, for programs the
//! embedder lets onto the network ([`super::WasiCtxBuilder::inherit_network`]; the CLI's
//! `-S inherit-network`). Without that, creating a socket and resolving a name return
//! `access-denied`; TCP or UDP alone can also be switched off (`-S tcp=n`, `-S udp=n`).
//!
//! Sockets are non-blocking host sockets: the `start-*` calls do the system call, the `finish-*`
//! calls report its outcome (`would-block` while a connection is still being made), and each
//! socket's pollable waits on its descriptor with `poll(2)`, together with the clock and stdin.
//! A connected TCP socket's streams read and write the socket; a write completes before it
//! returns (waiting for the socket to drain), so the host buffers nothing.

use super::WasiCtxView;
use super::bindings::sync::wasi::sockets::{
    instance_network, ip_name_lookup, network, tcp, tcp_create_socket, udp, udp_create_socket,
};
use super::io::{InputStream, OutputStream, Pollable};
use anyhow::Result;
use kiln::component::Resource;
use network::{ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};
use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

/// What the embedder lets a program do on the network.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetworkPolicy {
    /// Whether the program may use the host's network at all (`inherit-network`).
    pub(crate) allowed: bool,
    /// TCP sockets (when the network is allowed).
    pub(crate) tcp: bool,
    /// UDP sockets (when the network is allowed).
    pub(crate) udp: bool,
    /// Resolving names (when the network is allowed).
    pub(crate) ip_name_lookup: bool,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        NetworkPolicy { allowed: false, tcp: true, udp: true, ip_name_lookup: true }
    }
}

/// The `wasi:sockets/network` handle `instance-network` returns.
pub struct Network;

/// The most bytes a UDP datagram can carry.
const MAX_DATAGRAM: usize = 65535;
/// How many datagrams `check-send` permits at a time (each is sent before `send` returns).
const DATAGRAMS_PER_SEND: u64 = 64;

/// A `wasi:sockets/tcp` socket.
pub struct TcpSocket {
    family: IpAddressFamily,
    /// The host socket, in every state (shared with the streams once connected).
    socket: Arc<std::net::TcpStream>,
    state: TcpState,
    backlog: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TcpState {
    Default,
    BindStarted,
    Bound,
    ListenStarted,
    Listening,
    ConnectStarted,
    Connected,
    /// A connection attempt failed: the socket cannot be used again.
    Closed,
}

/// A `wasi:sockets/udp` socket.
pub struct UdpSocket {
    family: IpAddressFamily,
    /// The host socket, once bound (`start-bind` creates it).
    socket: Option<Arc<std::net::UdpSocket>>,
    bind_started: bool,
    /// The peer of `stream(some(addr))`.
    remote: Option<SocketAddr>,
}

/// The datagrams a UDP socket receives (from its peer only, when `stream` named one).
pub struct IncomingDatagramStream {
    socket: Arc<std::net::UdpSocket>,
    remote: Option<SocketAddr>,
}

/// The datagrams a UDP socket sends (to its peer, when `stream` named one).
pub struct OutgoingDatagramStream {
    socket: Arc<std::net::UdpSocket>,
    remote: Option<SocketAddr>,
}

/// The addresses a name resolved to, handed out one at a time.
pub struct ResolveAddressStream {
    addresses: VecDeque<IpAddr>,
}

fn error_code(e: &std::io::Error) -> ErrorCode {
    use rustix::io::Errno;
    let Some(errno) = e.raw_os_error().map(Errno::from_raw_os_error) else {
        return match e.kind() {
            std::io::ErrorKind::WouldBlock => ErrorCode::WouldBlock,
            std::io::ErrorKind::PermissionDenied => ErrorCode::AccessDenied,
            _ => ErrorCode::Unknown,
        };
    };
    match errno {
        Errno::ACCESS | Errno::PERM => ErrorCode::AccessDenied,
        Errno::ADDRINUSE => ErrorCode::AddressInUse,
        Errno::ADDRNOTAVAIL => ErrorCode::AddressNotBindable,
        Errno::AGAIN | Errno::INPROGRESS | Errno::ALREADY => ErrorCode::WouldBlock,
        Errno::CONNREFUSED => ErrorCode::ConnectionRefused,
        Errno::CONNRESET | Errno::PIPE => ErrorCode::ConnectionReset,
        Errno::CONNABORTED => ErrorCode::ConnectionAborted,
        Errno::HOSTUNREACH | Errno::NETUNREACH | Errno::NETDOWN | Errno::HOSTDOWN => ErrorCode::RemoteUnreachable,
        Errno::TIMEDOUT => ErrorCode::Timeout,
        Errno::INVAL | Errno::DESTADDRREQ => ErrorCode::InvalidArgument,
        Errno::NOMEM | Errno::NOBUFS => ErrorCode::OutOfMemory,
        Errno::MSGSIZE => ErrorCode::DatagramTooLarge,
        Errno::AFNOSUPPORT | Errno::OPNOTSUPP | Errno::PROTONOSUPPORT => ErrorCode::NotSupported,
        Errno::ISCONN => ErrorCode::InvalidState,
        _ => ErrorCode::Unknown,
    }
}

fn errno_code(e: rustix::io::Errno) -> ErrorCode {
    error_code(&std::io::Error::from(e))
}

fn to_std(address: &IpSocketAddress) -> SocketAddr {
    match address {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(x, y, z, w), a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (p0, p1, p2, p3, p4, p5, p6, p7) = a.address;
            let ip = Ipv6Addr::new(p0, p1, p2, p3, p4, p5, p6, p7);
            SocketAddr::V6(SocketAddrV6::new(ip, a.port, a.flow_info, a.scope_id))
        }
    }
}

fn from_std(address: SocketAddr) -> IpSocketAddress {
    match address {
        SocketAddr::V4(a) => {
            let [x, y, z, w] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress { port: a.port(), address: (x, y, z, w) })
        }
        SocketAddr::V6(a) => {
            let [p0, p1, p2, p3, p4, p5, p6, p7] = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (p0, p1, p2, p3, p4, p5, p6, p7),
                scope_id: a.scope_id(),
            })
        }
    }
}

fn ip_to_wasi(ip: IpAddr) -> IpAddress {
    match ip {
        IpAddr::V4(ip) => {
            let [x, y, z, w] = ip.octets();
            IpAddress::Ipv4((x, y, z, w))
        }
        IpAddr::V6(ip) => {
            let [p0, p1, p2, p3, p4, p5, p6, p7] = ip.segments();
            IpAddress::Ipv6((p0, p1, p2, p3, p4, p5, p6, p7))
        }
    }
}

fn family_of(address: &SocketAddr) -> IpAddressFamily {
    match address {
        SocketAddr::V4(_) => IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => IpAddressFamily::Ipv6,
    }
}

/// The checks every address a socket is given must pass: its family is the socket's, and an
/// IPv6 socket is not handed an IPv4-mapped address (WASI keeps the two families apart).
fn check_address(family: IpAddressFamily, address: &SocketAddr) -> Result<(), ErrorCode> {
    if family_of(address) != family {
        return Err(ErrorCode::InvalidArgument);
    }
    if let SocketAddr::V6(a) = address
        && a.ip().to_ipv4_mapped().is_some()
    {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(())
}

/// The checks a remote address must pass as well: a real host and port.
fn check_remote(family: IpAddressFamily, address: &SocketAddr) -> Result<(), ErrorCode> {
    check_address(family, address)?;
    if address.ip().is_unspecified() || address.port() == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(())
}

fn is_ready(fd: &impl AsFd, write: bool) -> bool {
    super::io::fd_ready(fd.as_fd(), write, Some(Duration::ZERO)).unwrap_or(true)
}

impl WasiCtxView<'_> {
    fn tcp(&mut self, socket: &Resource<TcpSocket>) -> Result<&mut TcpSocket> {
        Ok(self.table.get_mut(socket)?)
    }

    fn udp(&mut self, socket: &Resource<UdpSocket>) -> Result<&mut UdpSocket> {
        Ok(self.table.get_mut(socket)?)
    }
}

impl network::Host for WasiCtxView<'_> {}
impl tcp::Host for WasiCtxView<'_> {}
impl udp::Host for WasiCtxView<'_> {}

impl instance_network::Host for WasiCtxView<'_> {
    fn instance_network(&mut self) -> Result<Resource<Network>> {
        Ok(self.table.push(Network)?)
    }
}

impl network::HostNetwork for WasiCtxView<'_> {
    fn drop(&mut self, rep: Resource<Network>) -> Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl ip_name_lookup::Host for WasiCtxView<'_> {
    fn resolve_addresses(
        &mut self,
        _network: Resource<Network>,
        name: String,
    ) -> Result<Result<Resource<ResolveAddressStream>, ErrorCode>> {
        let policy = self.ctx.network;
        if !policy.allowed || !policy.ip_name_lookup {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        // An address literal resolves to itself; `[...]` and ports are not names.
        let addresses: VecDeque<IpAddr> = if let Ok(ip) = name.parse::<IpAddr>() {
            [ip].into()
        } else if name.is_empty() || name.contains([':', '[', ']', '/', ' ']) {
            return Ok(Err(ErrorCode::InvalidArgument));
        } else {
            match (name.as_str(), 0).to_socket_addrs() {
                Ok(addrs) => {
                    let mut seen = Vec::new();
                    for a in addrs {
                        if !seen.contains(&a.ip()) {
                            seen.push(a.ip());
                        }
                    }
                    seen.into()
                }
                Err(_) => return Ok(Err(ErrorCode::NameUnresolvable)),
            }
        };
        Ok(Ok(self.table.push(ResolveAddressStream { addresses })?))
    }
}

impl ip_name_lookup::HostResolveAddressStream for WasiCtxView<'_> {
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> Result<Result<Option<IpAddress>, ErrorCode>> {
        Ok(Ok(self.table.get_mut(&stream)?.addresses.pop_front().map(ip_to_wasi)))
    }
    fn subscribe(&mut self, stream: Resource<ResolveAddressStream>) -> Result<Resource<Pollable>> {
        // Resolution finished in `resolve-addresses`.
        self.table.get(&stream)?;
        Ok(self.table.push(Pollable::Ready)?)
    }
    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}

impl tcp_create_socket::Host for WasiCtxView<'_> {
    fn create_tcp_socket(&mut self, family: IpAddressFamily) -> Result<Result<Resource<TcpSocket>, ErrorCode>> {
        let policy = self.ctx.network;
        if !policy.allowed || !policy.tcp {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        let domain = match family {
            IpAddressFamily::Ipv4 => AddressFamily::INET,
            IpAddressFamily::Ipv6 => AddressFamily::INET6,
        };
        let fd = match rustix::net::socket_with(
            domain,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        ) {
            Ok(fd) => fd,
            Err(e) => return Ok(Err(errno_code(e))),
        };
        if family == IpAddressFamily::Ipv6 {
            // Only IPv6 on an IPv6 socket (no IPv4-mapped traffic), as WASI specifies.
            if let Err(e) = sockopt::set_ipv6_v6only(&fd, true) {
                return Ok(Err(errno_code(e)));
            }
        }
        let socket = TcpSocket {
            family,
            socket: Arc::new(std::net::TcpStream::from(fd)),
            state: TcpState::Default,
            backlog: 128,
        };
        Ok(Ok(self.table.push(socket)?))
    }
}

impl tcp::HostTcpSocket for WasiCtxView<'_> {
    fn start_bind(
        &mut self,
        socket: Resource<TcpSocket>,
        _network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> Result<Result<(), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if s.state != TcpState::Default {
            return Ok(Err(ErrorCode::InvalidState));
        }
        let address = to_std(&local_address);
        if let Err(e) = check_address(s.family, &address) {
            return Ok(Err(e));
        }
        // Like other runtimes: a listening port can be bound again right after it closed.
        let bound =
            sockopt::set_socket_reuseaddr(&*s.socket, true).and_then(|()| rustix::net::bind(&*s.socket, &address));
        Ok(match bound {
            Ok(()) => {
                s.state = TcpState::BindStarted;
                Ok(())
            }
            Err(e) => Err(errno_code(e)),
        })
    }
    fn finish_bind(&mut self, socket: Resource<TcpSocket>) -> Result<Result<(), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if s.state != TcpState::BindStarted {
            return Ok(Err(ErrorCode::NotInProgress));
        }
        s.state = TcpState::Bound;
        Ok(Ok(()))
    }
    fn start_connect(
        &mut self,
        socket: Resource<TcpSocket>,
        _network: Resource<Network>,
        remote_address: IpSocketAddress,
    ) -> Result<Result<(), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if !matches!(s.state, TcpState::Default | TcpState::Bound) {
            return Ok(Err(ErrorCode::InvalidState));
        }
        let address = to_std(&remote_address);
        if let Err(e) = check_remote(s.family, &address) {
            return Ok(Err(e));
        }
        Ok(match rustix::net::connect(&*s.socket, &address) {
            Ok(()) | Err(rustix::io::Errno::INPROGRESS) => {
                s.state = TcpState::ConnectStarted;
                Ok(())
            }
            Err(e) => {
                s.state = TcpState::Closed;
                Err(errno_code(e))
            }
        })
    }
    fn finish_connect(
        &mut self,
        socket: Resource<TcpSocket>,
    ) -> Result<Result<(Resource<InputStream>, Resource<OutputStream>), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if s.state != TcpState::ConnectStarted {
            return Ok(Err(ErrorCode::NotInProgress));
        }
        if !is_ready(&*s.socket, true) {
            return Ok(Err(ErrorCode::WouldBlock));
        }
        match sockopt::socket_error(&*s.socket) {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => {
                s.state = TcpState::Closed;
                return Ok(Err(errno_code(e)));
            }
        }
        s.state = TcpState::Connected;
        let stream = s.socket.clone();
        let input = self.table.push(InputStream::Tcp(stream.clone()))?;
        let output = self.table.push(OutputStream::Tcp(stream))?;
        Ok(Ok((input, output)))
    }
    fn start_listen(&mut self, socket: Resource<TcpSocket>) -> Result<Result<(), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if s.state != TcpState::Bound {
            return Ok(Err(ErrorCode::InvalidState));
        }
        let backlog = i32::try_from(s.backlog).unwrap_or(i32::MAX);
        Ok(match rustix::net::listen(&*s.socket, backlog) {
            Ok(()) => {
                s.state = TcpState::ListenStarted;
                Ok(())
            }
            Err(e) => Err(errno_code(e)),
        })
    }
    fn finish_listen(&mut self, socket: Resource<TcpSocket>) -> Result<Result<(), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if s.state != TcpState::ListenStarted {
            return Ok(Err(ErrorCode::NotInProgress));
        }
        s.state = TcpState::Listening;
        Ok(Ok(()))
    }
    fn accept(
        &mut self,
        socket: Resource<TcpSocket>,
    ) -> Result<Result<(Resource<TcpSocket>, Resource<InputStream>, Resource<OutputStream>), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if s.state != TcpState::Listening {
            return Ok(Err(ErrorCode::InvalidState));
        }
        let fd = match rustix::net::accept_with(&*s.socket, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
            Ok(fd) => fd,
            Err(e) => return Ok(Err(errno_code(e))),
        };
        let stream = Arc::new(std::net::TcpStream::from(fd));
        let accepted = TcpSocket { family: s.family, socket: stream.clone(), state: TcpState::Connected, backlog: 0 };
        let accepted = self.table.push(accepted)?;
        let input = self.table.push(InputStream::Tcp(stream.clone()))?;
        let output = self.table.push(OutputStream::Tcp(stream))?;
        Ok(Ok((accepted, input, output)))
    }
    fn local_address(&mut self, socket: Resource<TcpSocket>) -> Result<Result<IpSocketAddress, ErrorCode>> {
        let s = self.tcp(&socket)?;
        if matches!(s.state, TcpState::Default | TcpState::BindStarted | TcpState::Closed) {
            return Ok(Err(ErrorCode::InvalidState));
        }
        Ok(s.socket.local_addr().map(from_std).map_err(|e| error_code(&e)))
    }
    fn remote_address(&mut self, socket: Resource<TcpSocket>) -> Result<Result<IpSocketAddress, ErrorCode>> {
        let s = self.tcp(&socket)?;
        if s.state != TcpState::Connected {
            return Ok(Err(ErrorCode::InvalidState));
        }
        Ok(s.socket.peer_addr().map(from_std).map_err(|e| error_code(&e)))
    }
    fn is_listening(&mut self, socket: Resource<TcpSocket>) -> Result<bool> {
        Ok(self.tcp(&socket)?.state == TcpState::Listening)
    }
    fn address_family(&mut self, socket: Resource<TcpSocket>) -> Result<IpAddressFamily> {
        Ok(self.tcp(&socket)?.family)
    }
    fn set_listen_backlog_size(&mut self, socket: Resource<TcpSocket>, value: u64) -> Result<Result<(), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if value == 0 {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        s.backlog = u32::try_from(value).unwrap_or(u32::MAX);
        // On a listening socket the new size takes effect by listening again.
        if s.state == TcpState::Listening
            && let Err(e) = rustix::net::listen(&*s.socket, i32::try_from(s.backlog).unwrap_or(i32::MAX))
        {
            return Ok(Err(errno_code(e)));
        }
        Ok(Ok(()))
    }
    fn keep_alive_enabled(&mut self, socket: Resource<TcpSocket>) -> Result<Result<bool, ErrorCode>> {
        Ok(sockopt::socket_keepalive(&*self.tcp(&socket)?.socket).map_err(errno_code))
    }
    fn set_keep_alive_enabled(&mut self, socket: Resource<TcpSocket>, value: bool) -> Result<Result<(), ErrorCode>> {
        Ok(sockopt::set_socket_keepalive(&*self.tcp(&socket)?.socket, value).map_err(errno_code))
    }
    fn keep_alive_idle_time(&mut self, socket: Resource<TcpSocket>) -> Result<Result<u64, ErrorCode>> {
        Ok(sockopt::tcp_keepidle(&*self.tcp(&socket)?.socket).map(|d| d.as_nanos() as u64).map_err(errno_code))
    }
    fn set_keep_alive_idle_time(&mut self, socket: Resource<TcpSocket>, value: u64) -> Result<Result<(), ErrorCode>> {
        if value == 0 {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        let secs = Duration::from_nanos(value).as_secs().max(1);
        Ok(sockopt::set_tcp_keepidle(&*self.tcp(&socket)?.socket, Duration::from_secs(secs)).map_err(errno_code))
    }
    fn keep_alive_interval(&mut self, socket: Resource<TcpSocket>) -> Result<Result<u64, ErrorCode>> {
        Ok(sockopt::tcp_keepintvl(&*self.tcp(&socket)?.socket).map(|d| d.as_nanos() as u64).map_err(errno_code))
    }
    fn set_keep_alive_interval(&mut self, socket: Resource<TcpSocket>, value: u64) -> Result<Result<(), ErrorCode>> {
        if value == 0 {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        let secs = Duration::from_nanos(value).as_secs().max(1);
        Ok(sockopt::set_tcp_keepintvl(&*self.tcp(&socket)?.socket, Duration::from_secs(secs)).map_err(errno_code))
    }
    fn keep_alive_count(&mut self, socket: Resource<TcpSocket>) -> Result<Result<u32, ErrorCode>> {
        Ok(sockopt::tcp_keepcnt(&*self.tcp(&socket)?.socket).map_err(errno_code))
    }
    fn set_keep_alive_count(&mut self, socket: Resource<TcpSocket>, value: u32) -> Result<Result<(), ErrorCode>> {
        if value == 0 {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        Ok(sockopt::set_tcp_keepcnt(&*self.tcp(&socket)?.socket, value).map_err(errno_code))
    }
    fn hop_limit(&mut self, socket: Resource<TcpSocket>) -> Result<Result<u8, ErrorCode>> {
        let s = self.tcp(&socket)?;
        Ok(hop_limit(s.family, &*s.socket))
    }
    fn set_hop_limit(&mut self, socket: Resource<TcpSocket>, value: u8) -> Result<Result<(), ErrorCode>> {
        let s = self.tcp(&socket)?;
        Ok(set_hop_limit(s.family, &*s.socket, value))
    }
    fn receive_buffer_size(&mut self, socket: Resource<TcpSocket>) -> Result<Result<u64, ErrorCode>> {
        Ok(sockopt::socket_recv_buffer_size(&*self.tcp(&socket)?.socket).map(|n| n as u64).map_err(errno_code))
    }
    fn set_receive_buffer_size(&mut self, socket: Resource<TcpSocket>, value: u64) -> Result<Result<(), ErrorCode>> {
        Ok(set_buffer_size(&*self.tcp(&socket)?.socket, value, false))
    }
    fn send_buffer_size(&mut self, socket: Resource<TcpSocket>) -> Result<Result<u64, ErrorCode>> {
        Ok(sockopt::socket_send_buffer_size(&*self.tcp(&socket)?.socket).map(|n| n as u64).map_err(errno_code))
    }
    fn set_send_buffer_size(&mut self, socket: Resource<TcpSocket>, value: u64) -> Result<Result<(), ErrorCode>> {
        Ok(set_buffer_size(&*self.tcp(&socket)?.socket, value, true))
    }
    fn subscribe(&mut self, socket: Resource<TcpSocket>) -> Result<Resource<Pollable>> {
        let s = self.tcp(&socket)?;
        let pollable = match s.state {
            // A connection completes when the socket becomes writable; an accept is ready when
            // the listening socket is readable.
            TcpState::ConnectStarted => Pollable::Socket { fd: s.socket.clone(), write: true },
            TcpState::Listening => Pollable::Socket { fd: s.socket.clone(), write: false },
            _ => Pollable::Ready,
        };
        Ok(self.table.push(pollable)?)
    }
    fn shutdown(&mut self, socket: Resource<TcpSocket>, how: tcp::ShutdownType) -> Result<Result<(), ErrorCode>> {
        let s = self.tcp(&socket)?;
        if s.state != TcpState::Connected {
            return Ok(Err(ErrorCode::InvalidState));
        }
        let how = match how {
            tcp::ShutdownType::Receive => Shutdown::Read,
            tcp::ShutdownType::Send => Shutdown::Write,
            tcp::ShutdownType::Both => Shutdown::Both,
        };
        Ok(s.socket.shutdown(how).map_err(|e| error_code(&e)))
    }
    fn drop(&mut self, socket: Resource<TcpSocket>) -> Result<()> {
        self.table.delete(socket)?;
        Ok(())
    }
}

fn hop_limit(family: IpAddressFamily, fd: &impl AsFd) -> Result<u8, ErrorCode> {
    let limit = match family {
        IpAddressFamily::Ipv4 => sockopt::ip_ttl(fd),
        IpAddressFamily::Ipv6 => sockopt::ipv6_unicast_hops(fd).map(u32::from),
    };
    limit.map(|n| n.min(255) as u8).map_err(errno_code)
}

fn set_hop_limit(family: IpAddressFamily, fd: &impl AsFd, value: u8) -> Result<(), ErrorCode> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    match family {
        IpAddressFamily::Ipv4 => sockopt::set_ip_ttl(fd, u32::from(value)),
        IpAddressFamily::Ipv6 => sockopt::set_ipv6_unicast_hops(fd, Some(value)),
    }
    .map_err(errno_code)
}

fn set_buffer_size(fd: &impl AsFd, value: u64, send: bool) -> Result<(), ErrorCode> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    // The host clamps sizes it cannot take; so do we, to what `usize` holds.
    let value = usize::try_from(value).unwrap_or(usize::MAX / 2).min(i32::MAX as usize / 2);
    if send { sockopt::set_socket_send_buffer_size(fd, value) } else { sockopt::set_socket_recv_buffer_size(fd, value) }
        .map_err(errno_code)
}

impl udp_create_socket::Host for WasiCtxView<'_> {
    fn create_udp_socket(&mut self, family: IpAddressFamily) -> Result<Result<Resource<UdpSocket>, ErrorCode>> {
        let policy = self.ctx.network;
        if !policy.allowed || !policy.udp {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        Ok(Ok(self.table.push(UdpSocket { family, socket: None, bind_started: false, remote: None })?))
    }
}

impl udp::HostUdpSocket for WasiCtxView<'_> {
    fn start_bind(
        &mut self,
        socket: Resource<UdpSocket>,
        _network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> Result<Result<(), ErrorCode>> {
        let s = self.udp(&socket)?;
        if s.socket.is_some() || s.bind_started {
            return Ok(Err(ErrorCode::InvalidState));
        }
        let address = to_std(&local_address);
        if let Err(e) = check_address(s.family, &address) {
            return Ok(Err(e));
        }
        let bound = std::net::UdpSocket::bind(address).and_then(|socket| {
            socket.set_nonblocking(true)?;
            Ok(socket)
        });
        Ok(match bound {
            Ok(bound) => {
                s.socket = Some(Arc::new(bound));
                s.bind_started = true;
                Ok(())
            }
            Err(e) => Err(error_code(&e)),
        })
    }
    fn finish_bind(&mut self, socket: Resource<UdpSocket>) -> Result<Result<(), ErrorCode>> {
        let s = self.udp(&socket)?;
        if !s.bind_started {
            return Ok(Err(ErrorCode::NotInProgress));
        }
        s.bind_started = false;
        Ok(Ok(()))
    }
    fn stream(
        &mut self,
        socket: Resource<UdpSocket>,
        remote_address: Option<IpSocketAddress>,
    ) -> Result<Result<(Resource<udp::IncomingDatagramStream>, Resource<udp::OutgoingDatagramStream>), ErrorCode>> {
        let s = self.udp(&socket)?;
        let Some(host) = s.socket.clone().filter(|_| !s.bind_started) else {
            return Ok(Err(ErrorCode::InvalidState));
        };
        let remote = remote_address.as_ref().map(to_std);
        if let Some(remote) = &remote {
            if let Err(e) = check_remote(s.family, remote) {
                return Ok(Err(e));
            }
            if let Err(e) = host.connect(remote) {
                return Ok(Err(error_code(&e)));
            }
        } else if s.remote.is_some()
            && let Err(e) = rustix::net::connect_unspec(&*host)
        {
            // Forgetting the peer (`AF_UNSPEC`) may report EAFNOSUPPORT although it worked.
            if e != rustix::io::Errno::AFNOSUPPORT {
                return Ok(Err(errno_code(e)));
            }
        }
        s.remote = remote;
        let incoming = self.table.push(IncomingDatagramStream { socket: host.clone(), remote })?;
        let outgoing = self.table.push(OutgoingDatagramStream { socket: host, remote })?;
        Ok(Ok((incoming, outgoing)))
    }
    fn local_address(&mut self, socket: Resource<UdpSocket>) -> Result<Result<IpSocketAddress, ErrorCode>> {
        let s = self.udp(&socket)?;
        match &s.socket {
            Some(host) if !s.bind_started => Ok(host.local_addr().map(from_std).map_err(|e| error_code(&e))),
            _ => Ok(Err(ErrorCode::InvalidState)),
        }
    }
    fn remote_address(&mut self, socket: Resource<UdpSocket>) -> Result<Result<IpSocketAddress, ErrorCode>> {
        let s = self.udp(&socket)?;
        Ok(s.remote.map(from_std).ok_or(ErrorCode::InvalidState))
    }
    fn address_family(&mut self, socket: Resource<UdpSocket>) -> Result<IpAddressFamily> {
        Ok(self.udp(&socket)?.family)
    }
    fn unicast_hop_limit(&mut self, socket: Resource<UdpSocket>) -> Result<Result<u8, ErrorCode>> {
        let s = self.udp(&socket)?;
        Ok(match &s.socket {
            Some(host) => hop_limit(s.family, &**host),
            None => Err(ErrorCode::InvalidState),
        })
    }
    fn set_unicast_hop_limit(&mut self, socket: Resource<UdpSocket>, value: u8) -> Result<Result<(), ErrorCode>> {
        let s = self.udp(&socket)?;
        Ok(match &s.socket {
            Some(host) => set_hop_limit(s.family, &**host, value),
            None => Err(ErrorCode::InvalidState),
        })
    }
    fn receive_buffer_size(&mut self, socket: Resource<UdpSocket>) -> Result<Result<u64, ErrorCode>> {
        Ok(match &self.udp(&socket)?.socket {
            Some(host) => sockopt::socket_recv_buffer_size(&**host).map(|n| n as u64).map_err(errno_code),
            None => Err(ErrorCode::InvalidState),
        })
    }
    fn set_receive_buffer_size(&mut self, socket: Resource<UdpSocket>, value: u64) -> Result<Result<(), ErrorCode>> {
        Ok(match &self.udp(&socket)?.socket {
            Some(host) => set_buffer_size(&**host, value, false),
            None => Err(ErrorCode::InvalidState),
        })
    }
    fn send_buffer_size(&mut self, socket: Resource<UdpSocket>) -> Result<Result<u64, ErrorCode>> {
        Ok(match &self.udp(&socket)?.socket {
            Some(host) => sockopt::socket_send_buffer_size(&**host).map(|n| n as u64).map_err(errno_code),
            None => Err(ErrorCode::InvalidState),
        })
    }
    fn set_send_buffer_size(&mut self, socket: Resource<UdpSocket>, value: u64) -> Result<Result<(), ErrorCode>> {
        Ok(match &self.udp(&socket)?.socket {
            Some(host) => set_buffer_size(&**host, value, true),
            None => Err(ErrorCode::InvalidState),
        })
    }
    fn subscribe(&mut self, socket: Resource<UdpSocket>) -> Result<Resource<Pollable>> {
        // Binding completes in `start-bind`.
        self.udp(&socket)?;
        Ok(self.table.push(Pollable::Ready)?)
    }
    fn drop(&mut self, socket: Resource<UdpSocket>) -> Result<()> {
        self.table.delete(socket)?;
        Ok(())
    }
}

impl udp::HostIncomingDatagramStream for WasiCtxView<'_> {
    fn receive(
        &mut self,
        stream: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> Result<Result<Vec<udp::IncomingDatagram>, ErrorCode>> {
        let s = self.table.get(&stream)?;
        let mut datagrams = Vec::new();
        let mut buf = vec![0; MAX_DATAGRAM];
        while (datagrams.len() as u64) < max_results.min(DATAGRAMS_PER_SEND) {
            match s.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    // A connected socket only hears its peer (the host filters, but a
                    // datagram queued before `stream` may still come from elsewhere).
                    if s.remote.is_some_and(|r| r != from) {
                        continue;
                    }
                    datagrams.push(udp::IncomingDatagram { data: buf[..n].to_vec(), remote_address: from_std(from) });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if datagrams.is_empty() => return Ok(Err(error_code(&e))),
                Err(_) => break,
            }
        }
        Ok(Ok(datagrams))
    }
    fn subscribe(&mut self, stream: Resource<IncomingDatagramStream>) -> Result<Resource<Pollable>> {
        let socket = self.table.get(&stream)?.socket.clone();
        Ok(self.table.push(Pollable::Socket { fd: socket, write: false })?)
    }
    fn drop(&mut self, stream: Resource<IncomingDatagramStream>) -> Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}

impl udp::HostOutgoingDatagramStream for WasiCtxView<'_> {
    fn check_send(&mut self, stream: Resource<OutgoingDatagramStream>) -> Result<Result<u64, ErrorCode>> {
        let s = self.table.get(&stream)?;
        Ok(Ok(if is_ready(&*s.socket, true) { DATAGRAMS_PER_SEND } else { 0 }))
    }
    fn send(
        &mut self,
        stream: Resource<OutgoingDatagramStream>,
        datagrams: Vec<udp::OutgoingDatagram>,
    ) -> Result<Result<u64, ErrorCode>> {
        let s = self.table.get(&stream)?;
        let family = match s.socket.local_addr() {
            Ok(local) => family_of(&local),
            Err(e) => return Ok(Err(error_code(&e))),
        };
        let mut sent = 0;
        for datagram in &datagrams {
            let target = datagram.remote_address.as_ref().map(to_std);
            let result = match (target, s.remote) {
                (Some(to), Some(peer)) if to != peer => Err(ErrorCode::InvalidArgument),
                (Some(to), None) => match check_remote(family, &to) {
                    Ok(()) => s.socket.send_to(&datagram.data, to).map_err(|e| error_code(&e)),
                    Err(e) => Err(e),
                },
                (_, Some(_)) => s.socket.send(&datagram.data).map_err(|e| error_code(&e)),
                (None, None) => Err(ErrorCode::InvalidArgument),
            };
            match result {
                Ok(_) => sent += 1,
                // Some datagrams went out: report those; the next call reports the error.
                Err(_) if sent > 0 => break,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(sent))
    }
    fn subscribe(&mut self, stream: Resource<OutgoingDatagramStream>) -> Result<Resource<Pollable>> {
        let socket = self.table.get(&stream)?.socket.clone();
        Ok(self.table.push(Pollable::Socket { fd: socket, write: true })?)
    }
    fn drop(&mut self, stream: Resource<OutgoingDatagramStream>) -> Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
