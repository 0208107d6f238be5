//! The host side of WASI 0.2 called directly (the component tests in `tests/all/wasi_p2.rs`
//! cover it through real guests): what the preview1 adapter never calls.

use super::bindings::sync::wasi::cli::{stdin::Host as _, stdout::Host as _};
use super::bindings::sync::wasi::clocks::monotonic_clock::Host as _;
use super::bindings::sync::wasi::filesystem::preopens::Host as _;
use super::bindings::sync::wasi::filesystem::types::{self, DescriptorFlags, HostDescriptor, OpenFlags, PathFlags};
use super::bindings::sync::wasi::io::poll::{Host as _, HostPollable as _};
use super::bindings::sync::wasi::io::streams::{HostInputStream, HostOutputStream, StreamError};
use super::bindings::sync::wasi::sockets::{ip_name_lookup, network, tcp_create_socket, udp_create_socket};
use super::{WasiCtx, WasiCtxBuilder, WasiCtxView};
use crate::pipe::{MemoryInputPipe, MemoryOutputPipe};
use kiln::component::{Resource, ResourceTable};
use std::time::{Duration, Instant};

fn with<R>(ctx: &mut WasiCtx, f: impl FnOnce(&mut WasiCtxView<'_>) -> R) -> R {
    let mut table = ResourceTable::new();
    f(&mut WasiCtxView { ctx, table: &mut table })
}

fn borrow<T>(r: &Resource<T>) -> Resource<T> {
    Resource::new_borrow(r.rep())
}

#[test]
fn sockets_are_denied() {
    let mut ctx = WasiCtxBuilder::new().build();
    with(&mut ctx, |v| {
        let tcp = tcp_create_socket::Host::create_tcp_socket(v, network::IpAddressFamily::Ipv4).unwrap();
        assert!(matches!(tcp, Err(network::ErrorCode::AccessDenied)));
        let udp = udp_create_socket::Host::create_udp_socket(v, network::IpAddressFamily::Ipv6).unwrap();
        assert!(matches!(udp, Err(network::ErrorCode::AccessDenied)));
        let net = super::bindings::sync::wasi::sockets::instance_network::Host::instance_network(v).unwrap();
        let lookup = ip_name_lookup::Host::resolve_addresses(v, borrow(&net), "localhost".into()).unwrap();
        assert!(matches!(lookup, Err(network::ErrorCode::AccessDenied)));
    });
}

#[test]
fn socket_state_machine_errors() {
    use super::bindings::sync::wasi::sockets::tcp::{HostTcpSocket as Tcp, ShutdownType};
    use network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};
    let mut ctx = WasiCtxBuilder::new().inherit_network().allow_udp(false).build();
    let v4 = |port| IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address: (127, 0, 0, 1) });
    with(&mut ctx, |v| {
        let net = super::bindings::sync::wasi::sockets::instance_network::Host::instance_network(v).unwrap();
        // UDP alone can be switched off.
        let udp = udp_create_socket::Host::create_udp_socket(v, IpAddressFamily::Ipv4).unwrap();
        assert!(matches!(udp, Err(ErrorCode::AccessDenied)));

        let s = tcp_create_socket::Host::create_tcp_socket(v, IpAddressFamily::Ipv4).unwrap().unwrap();
        assert!(matches!(Tcp::finish_bind(v, borrow(&s)).unwrap(), Err(ErrorCode::NotInProgress)));
        assert!(matches!(Tcp::start_listen(v, borrow(&s)).unwrap(), Err(ErrorCode::InvalidState)));
        assert!(matches!(Tcp::local_address(v, borrow(&s)).unwrap(), Err(ErrorCode::InvalidState)));
        // Connecting needs a real port; an IPv6 address does not fit an IPv4 socket.
        assert!(matches!(
            Tcp::start_connect(v, borrow(&s), borrow(&net), v4(0)).unwrap(),
            Err(ErrorCode::InvalidArgument)
        ));
        let v6 = IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port: 80,
            flow_info: 0,
            address: (0, 0, 0, 0, 0, 0, 0, 1),
            scope_id: 0,
        });
        assert!(matches!(Tcp::start_bind(v, borrow(&s), borrow(&net), v6).unwrap(), Err(ErrorCode::InvalidArgument)));
        // Bind, then listen: the port is known after the bind.
        Tcp::start_bind(v, borrow(&s), borrow(&net), v4(0)).unwrap().unwrap();
        Tcp::finish_bind(v, borrow(&s)).unwrap().unwrap();
        let Ok(IpSocketAddress::Ipv4(local)) = Tcp::local_address(v, borrow(&s)).unwrap() else { panic!() };
        assert_ne!(local.port, 0);
        assert!(matches!(Tcp::start_bind(v, borrow(&s), borrow(&net), v4(0)).unwrap(), Err(ErrorCode::InvalidState)));
        Tcp::start_listen(v, borrow(&s)).unwrap().unwrap();
        Tcp::finish_listen(v, borrow(&s)).unwrap().unwrap();
        assert!(Tcp::is_listening(v, borrow(&s)).unwrap());
        // Nothing has connected yet: accepting would block.
        assert!(matches!(Tcp::accept(v, borrow(&s)).unwrap(), Err(ErrorCode::WouldBlock)));
        // A connection to it from a second socket completes once polled.
        let c = tcp_create_socket::Host::create_tcp_socket(v, IpAddressFamily::Ipv4).unwrap().unwrap();
        Tcp::start_connect(v, borrow(&c), borrow(&net), v4(local.port)).unwrap().unwrap();
        let ready = Tcp::subscribe(v, borrow(&c)).unwrap();
        v.block(ready).unwrap();
        let (input, output) = Tcp::finish_connect(v, borrow(&c)).unwrap().unwrap();
        v.blocking_write_and_flush(output, b"hi".to_vec()).unwrap().unwrap();
        let (_server, server_in, _server_out) = Tcp::accept(v, borrow(&s)).unwrap().unwrap();
        assert_eq!(v.blocking_read(server_in, 16).unwrap().unwrap(), b"hi");
        // Nothing came back yet: a non-blocking read is empty, not the end of the stream.
        assert_eq!(HostInputStream::read(v, input, 16).unwrap().unwrap(), b"");
        assert!(matches!(Tcp::shutdown(v, borrow(&s), ShutdownType::Both).unwrap(), Err(ErrorCode::InvalidState)));
    });
}

/// Names resolve (an address literal to itself) when the network is allowed.
#[test]
fn names_resolve_with_the_network() {
    use super::bindings::sync::wasi::sockets::ip_name_lookup::{HostResolveAddressStream as _, IpAddress};
    let mut ctx = WasiCtxBuilder::new().inherit_network().build();
    with(&mut ctx, |v| {
        let net = super::bindings::sync::wasi::sockets::instance_network::Host::instance_network(v).unwrap();
        let stream = ip_name_lookup::Host::resolve_addresses(v, borrow(&net), "10.1.2.3".into()).unwrap().unwrap();
        assert!(matches!(v.resolve_next_address(borrow(&stream)).unwrap(), Ok(Some(IpAddress::Ipv4((10, 1, 2, 3))))));
        assert!(matches!(v.resolve_next_address(borrow(&stream)).unwrap(), Ok(None)));
        let stream = ip_name_lookup::Host::resolve_addresses(v, borrow(&net), "localhost".into()).unwrap().unwrap();
        let first = v.resolve_next_address(borrow(&stream)).unwrap().unwrap();
        assert!(
            matches!(first, Some(IpAddress::Ipv4((127, 0, 0, 1)) | IpAddress::Ipv6((0, 0, 0, 0, 0, 0, 0, 1)))),
            "{first:?}"
        );
        let bad = ip_name_lookup::Host::resolve_addresses(v, borrow(&net), "a b".into()).unwrap();
        assert!(matches!(bad, Err(network::ErrorCode::InvalidArgument)));
    });
}

#[test]
fn poll_waits_for_the_earliest_deadline() {
    let mut ctx = WasiCtxBuilder::new().build();
    with(&mut ctx, |v| {
        let long = v.subscribe_duration(10_000_000_000).unwrap();
        let short = v.subscribe_duration(30_000_000).unwrap();
        assert!(!v.ready(borrow(&short)).unwrap());
        let start = Instant::now();
        let ready = v.poll(vec![borrow(&long), borrow(&short)]).unwrap();
        let waited = start.elapsed();
        assert_eq!(ready, [1]);
        assert!(waited >= Duration::from_millis(25) && waited < Duration::from_secs(5), "{waited:?}");
        // An instant already past is ready at once.
        let now = v.now().unwrap();
        let past = v.subscribe_instant(now.saturating_sub(1)).unwrap();
        assert!(v.ready(borrow(&past)).unwrap());
        // An empty list is the guest's error: a trap, not a hang.
        assert!(v.poll(Vec::new()).is_err());
    });
}

#[test]
fn stdio_streams_read_write_and_end() {
    let out = MemoryOutputPipe::new();
    let mut ctx = WasiCtxBuilder::new().stdin(MemoryInputPipe::new(b"abcdef".to_vec())).stdout(out.clone()).build();
    with(&mut ctx, |v| {
        let input = v.get_stdin().unwrap();
        assert_eq!(HostInputStream::read(v, borrow(&input), 4).unwrap().unwrap(), b"abcd");
        assert_eq!(v.skip(borrow(&input), 1).unwrap().unwrap(), 1);
        assert_eq!(v.blocking_read(borrow(&input), 100).unwrap().unwrap(), b"f");
        assert!(matches!(v.blocking_read(borrow(&input), 100).unwrap(), Err(StreamError::Closed)));

        let output = v.get_stdout().unwrap();
        let permitted = v.check_write(borrow(&output)).unwrap().unwrap();
        assert!(permitted >= 4096);
        HostOutputStream::write(v, borrow(&output), b"hello ".to_vec()).unwrap().unwrap();
        v.blocking_write_and_flush(borrow(&output), b"world".to_vec()).unwrap().unwrap();
        v.flush(borrow(&output)).unwrap().unwrap();
        // More than check-write permits is the guest's error: a trap.
        assert!(HostOutputStream::write(v, borrow(&output), vec![0; permitted as usize + 1]).is_err());
        // splice moves stdin's rest (none left) and reports the end.
        assert!(matches!(v.splice(borrow(&output), borrow(&input), 10).unwrap(), Err(StreamError::Closed)));
    });
    assert_eq!(out.contents(), b"hello world");
}

#[test]
fn files_stay_inside_the_preopen() {
    let root = std::env::temp_dir().join(format!("kiln-p2-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("sandbox")).unwrap();
    std::fs::write(root.join("secret.txt"), "secret").unwrap();
    let mut ctx = WasiCtxBuilder::new().preopened_dir(root.join("sandbox"), "/sandbox").unwrap().build();
    with(&mut ctx, |v| {
        let dirs = v.get_directories().unwrap();
        assert_eq!(dirs.len(), 1);
        assert_eq!(dirs[0].1, "/sandbox");
        let dir = borrow(&dirs[0].0);
        let rw = DescriptorFlags::READ | DescriptorFlags::WRITE;
        let file = v.open_at(borrow(&dir), PathFlags::empty(), "a.txt".into(), OpenFlags::CREATE, rw).unwrap().unwrap();
        assert_eq!(HostDescriptor::write(v, borrow(&file), b"data".to_vec(), 0).unwrap().unwrap(), 4);
        let stream = v.read_via_stream(borrow(&file), 1).unwrap().unwrap();
        assert_eq!(v.blocking_read(borrow(&stream), 10).unwrap().unwrap(), b"ata");
        for path in ["../secret.txt", "/etc/passwd", "./../secret.txt"] {
            let r = v.open_at(
                borrow(&dir),
                PathFlags::SYMLINK_FOLLOW,
                path.into(),
                OpenFlags::empty(),
                DescriptorFlags::READ,
            );
            assert!(matches!(r.unwrap(), Err(types::ErrorCode::NotPermitted)), "{path}");
        }
        let r = v.stat_at(borrow(&dir), PathFlags::empty(), "missing".into()).unwrap();
        assert!(matches!(r, Err(types::ErrorCode::NoEntry)));
    });
    std::fs::remove_dir_all(&root).unwrap();
}
