//! TCP connections of the MSN and MRIM clients.

use crate::Error;
use std::time::Duration;
use tokio::net::TcpStream;

/// Connects with no delay on small writes and TCP keepalive, so a server that vanished
/// without closing (power cut, NAT timeout) is noticed within about a minute even while the
/// protocol is quiet.
pub(crate) async fn connect(address: &str) -> Result<TcpStream, Error> {
    let stream = TcpStream::connect(address).await.map_err(|e| Error::Unreachable(format!("{address}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
    Ok(stream)
}
