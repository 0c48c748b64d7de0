//! One client connection: packets framed by `dlen`, buffered replies, write deadlines, and the
//! switch to TLS that `STARTTLS` asks for.

use bytes::BytesMut;
use mrim::{Dialect, Packet, PacketDecoder, ServerPacket};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client that does not take our bytes within this time is gone or hostile.
const WRITE_DEADLINE: Duration = Duration::from_secs(30);
/// A TLS handshake takes a few round trips; a client that stalls in it is dropped.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub(crate) enum ReadError {
    Closed,
    Io(io::Error),
    Framing(mrim::DecodeError),
}

impl ReadError {
    /// A client closing is routine; anything else is worth a warning.
    pub(crate) fn log(&self) {
        match self {
            ReadError::Closed => tracing::debug!("{self}"),
            _ => tracing::warn!("{self}"),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("client closed the connection"),
            ReadError::Io(e) => write!(f, "read failed: {e}"),
            ReadError::Framing(e) => write!(f, "framing error: {e}"),
        }
    }
}

enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while a handshake is running; a failed one leaves the connection unusable.
    Gone,
}

pub(crate) struct Conn {
    transport: Transport,
    decoder: PacketDecoder,
    input: BytesMut,
    output: BytesMut,
    /// The version the client announced in its first packet; replies are written in it.
    pub(crate) dialect: Dialect,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection lost in a TLS handshake")
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, max_body: u32) -> Self {
        Conn {
            transport: Transport::Plain(stream),
            decoder: PacketDecoder::new(max_body),
            input: BytesMut::with_capacity(256),
            output: BytesMut::new(),
            dialect: Dialect::V1_7,
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match &self.transport {
            Transport::Plain(tcp) => Some(tcp),
            Transport::Tls(tls) => Some(tls.get_ref().0),
            Transport::Gone => None,
        }
    }

    pub(crate) fn peer(&self) -> String {
        self.tcp().and_then(|t| t.peer_addr().ok()).map(|a| a.to_string()).unwrap_or_default()
    }

    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    /// The next packet. Cancellation-safe: bytes already read stay buffered.
    pub(crate) async fn read_packet(&mut self) -> Result<Packet, ReadError> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.input).map_err(ReadError::Framing)? {
                return Ok(packet);
            }
            let n = match &mut self.transport {
                Transport::Plain(tcp) => tcp.read_buf(&mut self.input).await,
                Transport::Tls(tls) => tls.read_buf(&mut self.input).await,
                Transport::Gone => Err(gone()),
            };
            if n.map_err(ReadError::Io)? == 0 {
                return Err(ReadError::Closed);
            }
        }
    }

    pub(crate) fn send(&mut self, packet: &ServerPacket, seq: u32) {
        packet.encode(self.dialect, seq, &mut self.output);
    }

    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let write = async {
            match &mut self.transport {
                Transport::Plain(tcp) => tcp.write_all(&self.output).await,
                Transport::Tls(tls) => {
                    tls.write_all(&self.output).await?;
                    tls.flush().await
                }
                Transport::Gone => Err(gone()),
            }
        };
        match tokio::time::timeout(WRITE_DEADLINE, write).await {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading")),
        }
        self.output.clear();
        Ok(())
    }

    /// Sends what is queued (the `MRIM_CS_OK`), then runs the TLS handshake on the same socket.
    /// The client must wait for the OK before its handshake, so nothing may be buffered.
    pub(crate) async fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
        self.flush().await?;
        if !self.input.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "client sent data before the TLS handshake"));
        }
        let Transport::Plain(tcp) = std::mem::replace(&mut self.transport, Transport::Gone) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "already TLS"));
        };
        let accept = TlsAcceptor::from(config).accept(tcp);
        let tls = tokio::time::timeout(HANDSHAKE_DEADLINE, accept)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.transport = Transport::Tls(Box::new(tls));
        Ok(())
    }

    pub(crate) async fn close(mut self) {
        if self.flush().await.is_ok() {
            let _ = match &mut self.transport {
                Transport::Plain(tcp) => tcp.shutdown().await,
                Transport::Tls(tls) => tls.shutdown().await,
                Transport::Gone => Ok(()),
            };
        }
    }
}
