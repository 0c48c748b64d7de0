//! TCP connections of the MSN and MRIM clients.

use crate::Error;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};

/// Connects with no delay on small writes and TCP keepalive, so a server that vanished
/// without closing (power cut, NAT timeout) is noticed within about a minute even while the
/// protocol is quiet.
pub(crate) async fn connect(address: &str, local: Option<IpAddr>) -> Result<TcpStream, Error> {
    let unreachable = |e: std::io::Error| Error::Unreachable(format!("{address}: {e}"));
    let stream = match local {
        None => TcpStream::connect(address).await.map_err(unreachable)?,
        Some(local) => {
            let remote = tokio::net::lookup_host(address)
                .await
                .map_err(unreachable)?
                .next()
                .ok_or_else(|| Error::Unreachable(format!("{address} has no address")))?;
            let socket =
                if remote.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.map_err(unreachable)?;
            socket.bind(SocketAddr::new(local, 0)).map_err(unreachable)?;
            socket.connect(remote).await.map_err(unreachable)?
        }
    };
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
    Ok(stream)
}
