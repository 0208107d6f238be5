//! `wasi:sockets`, denied: kiln does not offer the network to components yet. The default
//! network handle exists (`instance-network`), but creating a TCP or UDP socket and resolving a
//! name return `access-denied`. So no socket or address stream handle is ever created, and
//! their methods cannot be reached with a valid handle (they trap if they were).

use super::WasiCtxView;
use super::bindings::sync::wasi;
use super::bindings::sync::wasi::sockets::{
    instance_network, ip_name_lookup, network, tcp, tcp_create_socket, udp, udp_create_socket,
};
use anyhow::{Result, bail};
use kiln::component::Resource;

/// The `wasi:sockets/network` handle `instance-network` returns (it grants nothing yet).
pub struct Network;

fn no_socket<T>() -> Result<T> {
    bail!("kiln creates no sockets or address streams, so this handle cannot exist")
}

impl network::Host for WasiCtxView<'_> {}
impl tcp::Host for WasiCtxView<'_> {}
impl udp::Host for WasiCtxView<'_> {}

impl instance_network::Host for WasiCtxView<'_> {
    fn instance_network(&mut self) -> Result<Resource<wasi::sockets::network::Network>> {
        Ok(self.table.push(Network)?)
    }
}

impl ip_name_lookup::HostResolveAddressStream for WasiCtxView<'_> {
    fn resolve_next_address(
        &mut self,
        _self_: Resource<ip_name_lookup::ResolveAddressStream>,
    ) -> Result<std::result::Result<Option<ip_name_lookup::IpAddress>, ip_name_lookup::ErrorCode>> {
        no_socket()
    }
    fn subscribe(
        &mut self,
        _self_: Resource<ip_name_lookup::ResolveAddressStream>,
    ) -> Result<Resource<wasi::io::poll::Pollable>> {
        no_socket()
    }
    fn drop(&mut self, _rep: Resource<ip_name_lookup::ResolveAddressStream>) -> Result<()> {
        no_socket()
    }
}

impl ip_name_lookup::Host for WasiCtxView<'_> {
    fn resolve_addresses(
        &mut self,
        _network: Resource<wasi::sockets::network::Network>,
        _name: String,
    ) -> Result<std::result::Result<Resource<ip_name_lookup::ResolveAddressStream>, ip_name_lookup::ErrorCode>> {
        Ok(Err(ip_name_lookup::ErrorCode::AccessDenied))
    }
}

impl network::HostNetwork for WasiCtxView<'_> {
    fn drop(&mut self, rep: Resource<Network>) -> Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl tcp::HostTcpSocket for WasiCtxView<'_> {
    fn start_bind(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _network: Resource<wasi::sockets::network::Network>,
        _local_address: tcp::IpSocketAddress,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn finish_bind(&mut self, _self_: Resource<tcp::TcpSocket>) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn start_connect(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _network: Resource<wasi::sockets::network::Network>,
        _remote_address: tcp::IpSocketAddress,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn finish_connect(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<
        std::result::Result<
            (Resource<wasi::io::streams::InputStream>, Resource<wasi::io::streams::OutputStream>),
            tcp::ErrorCode,
        >,
    > {
        no_socket()
    }
    fn start_listen(&mut self, _self_: Resource<tcp::TcpSocket>) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn finish_listen(&mut self, _self_: Resource<tcp::TcpSocket>) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn accept(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<
        std::result::Result<
            (
                Resource<tcp::TcpSocket>,
                Resource<wasi::io::streams::InputStream>,
                Resource<wasi::io::streams::OutputStream>,
            ),
            tcp::ErrorCode,
        >,
    > {
        no_socket()
    }
    fn local_address(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<std::result::Result<tcp::IpSocketAddress, tcp::ErrorCode>> {
        no_socket()
    }
    fn remote_address(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<std::result::Result<tcp::IpSocketAddress, tcp::ErrorCode>> {
        no_socket()
    }
    fn is_listening(&mut self, _self_: Resource<tcp::TcpSocket>) -> Result<bool> {
        no_socket()
    }
    fn address_family(&mut self, _self_: Resource<tcp::TcpSocket>) -> Result<tcp::IpAddressFamily> {
        no_socket()
    }
    fn set_listen_backlog_size(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _value: u64,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn keep_alive_enabled(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<std::result::Result<bool, tcp::ErrorCode>> {
        no_socket()
    }
    fn set_keep_alive_enabled(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _value: bool,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn keep_alive_idle_time(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<std::result::Result<tcp::Duration, tcp::ErrorCode>> {
        no_socket()
    }
    fn set_keep_alive_idle_time(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _value: tcp::Duration,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn keep_alive_interval(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<std::result::Result<tcp::Duration, tcp::ErrorCode>> {
        no_socket()
    }
    fn set_keep_alive_interval(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _value: tcp::Duration,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn keep_alive_count(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<std::result::Result<u32, tcp::ErrorCode>> {
        no_socket()
    }
    fn set_keep_alive_count(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _value: u32,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn hop_limit(&mut self, _self_: Resource<tcp::TcpSocket>) -> Result<std::result::Result<u8, tcp::ErrorCode>> {
        no_socket()
    }
    fn set_hop_limit(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _value: u8,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn receive_buffer_size(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<std::result::Result<u64, tcp::ErrorCode>> {
        no_socket()
    }
    fn set_receive_buffer_size(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _value: u64,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn send_buffer_size(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
    ) -> Result<std::result::Result<u64, tcp::ErrorCode>> {
        no_socket()
    }
    fn set_send_buffer_size(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _value: u64,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn subscribe(&mut self, _self_: Resource<tcp::TcpSocket>) -> Result<Resource<wasi::io::poll::Pollable>> {
        no_socket()
    }
    fn shutdown(
        &mut self,
        _self_: Resource<tcp::TcpSocket>,
        _shutdown_type: tcp::ShutdownType,
    ) -> Result<std::result::Result<(), tcp::ErrorCode>> {
        no_socket()
    }
    fn drop(&mut self, _rep: Resource<tcp::TcpSocket>) -> Result<()> {
        no_socket()
    }
}

impl tcp_create_socket::Host for WasiCtxView<'_> {
    fn create_tcp_socket(
        &mut self,
        _address_family: tcp_create_socket::IpAddressFamily,
    ) -> Result<std::result::Result<Resource<wasi::sockets::tcp::TcpSocket>, tcp_create_socket::ErrorCode>> {
        Ok(Err(tcp_create_socket::ErrorCode::AccessDenied))
    }
}

impl udp::HostUdpSocket for WasiCtxView<'_> {
    fn start_bind(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
        _network: Resource<wasi::sockets::network::Network>,
        _local_address: udp::IpSocketAddress,
    ) -> Result<std::result::Result<(), udp::ErrorCode>> {
        no_socket()
    }
    fn finish_bind(&mut self, _self_: Resource<udp::UdpSocket>) -> Result<std::result::Result<(), udp::ErrorCode>> {
        no_socket()
    }
    fn stream(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
        _remote_address: Option<udp::IpSocketAddress>,
    ) -> Result<
        std::result::Result<
            (Resource<udp::IncomingDatagramStream>, Resource<udp::OutgoingDatagramStream>),
            udp::ErrorCode,
        >,
    > {
        no_socket()
    }
    fn local_address(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
    ) -> Result<std::result::Result<udp::IpSocketAddress, udp::ErrorCode>> {
        no_socket()
    }
    fn remote_address(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
    ) -> Result<std::result::Result<udp::IpSocketAddress, udp::ErrorCode>> {
        no_socket()
    }
    fn address_family(&mut self, _self_: Resource<udp::UdpSocket>) -> Result<udp::IpAddressFamily> {
        no_socket()
    }
    fn unicast_hop_limit(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
    ) -> Result<std::result::Result<u8, udp::ErrorCode>> {
        no_socket()
    }
    fn set_unicast_hop_limit(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
        _value: u8,
    ) -> Result<std::result::Result<(), udp::ErrorCode>> {
        no_socket()
    }
    fn receive_buffer_size(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
    ) -> Result<std::result::Result<u64, udp::ErrorCode>> {
        no_socket()
    }
    fn set_receive_buffer_size(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
        _value: u64,
    ) -> Result<std::result::Result<(), udp::ErrorCode>> {
        no_socket()
    }
    fn send_buffer_size(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
    ) -> Result<std::result::Result<u64, udp::ErrorCode>> {
        no_socket()
    }
    fn set_send_buffer_size(
        &mut self,
        _self_: Resource<udp::UdpSocket>,
        _value: u64,
    ) -> Result<std::result::Result<(), udp::ErrorCode>> {
        no_socket()
    }
    fn subscribe(&mut self, _self_: Resource<udp::UdpSocket>) -> Result<Resource<wasi::io::poll::Pollable>> {
        no_socket()
    }
    fn drop(&mut self, _rep: Resource<udp::UdpSocket>) -> Result<()> {
        no_socket()
    }
}

impl udp::HostIncomingDatagramStream for WasiCtxView<'_> {
    fn receive(
        &mut self,
        _self_: Resource<udp::IncomingDatagramStream>,
        _max_results: u64,
    ) -> Result<std::result::Result<Vec<udp::IncomingDatagram>, udp::ErrorCode>> {
        no_socket()
    }
    fn subscribe(
        &mut self,
        _self_: Resource<udp::IncomingDatagramStream>,
    ) -> Result<Resource<wasi::io::poll::Pollable>> {
        no_socket()
    }
    fn drop(&mut self, _rep: Resource<udp::IncomingDatagramStream>) -> Result<()> {
        no_socket()
    }
}

impl udp::HostOutgoingDatagramStream for WasiCtxView<'_> {
    fn check_send(
        &mut self,
        _self_: Resource<udp::OutgoingDatagramStream>,
    ) -> Result<std::result::Result<u64, udp::ErrorCode>> {
        no_socket()
    }
    fn send(
        &mut self,
        _self_: Resource<udp::OutgoingDatagramStream>,
        _datagrams: Vec<udp::OutgoingDatagram>,
    ) -> Result<std::result::Result<u64, udp::ErrorCode>> {
        no_socket()
    }
    fn subscribe(
        &mut self,
        _self_: Resource<udp::OutgoingDatagramStream>,
    ) -> Result<Resource<wasi::io::poll::Pollable>> {
        no_socket()
    }
    fn drop(&mut self, _rep: Resource<udp::OutgoingDatagramStream>) -> Result<()> {
        no_socket()
    }
}

impl udp_create_socket::Host for WasiCtxView<'_> {
    fn create_udp_socket(
        &mut self,
        _address_family: udp_create_socket::IpAddressFamily,
    ) -> Result<std::result::Result<Resource<wasi::sockets::udp::UdpSocket>, udp_create_socket::ErrorCode>> {
        Ok(Err(udp_create_socket::ErrorCode::AccessDenied))
    }
}
