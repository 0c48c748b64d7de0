//! One client connection: packets framed by `dlen`, buffered replies, write deadlines.

use bytes::BytesMut;
use mrim::{Dialect, Packet, PacketDecoder, ServerPacket};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client that does not take our bytes within this time is gone or hostile.
const WRITE_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) enum ReadError {
    Closed,
    Io(io::Error),
    Framing(mrim::DecodeError),
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

pub(crate) struct Conn {
    stream: TcpStream,
    decoder: PacketDecoder,
    input: BytesMut,
    output: BytesMut,
    /// The version the client announced in its first packet; replies are written in it.
    pub(crate) dialect: Dialect,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, max_body: u32) -> Self {
        Conn {
            stream,
            decoder: PacketDecoder::new(max_body),
            input: BytesMut::with_capacity(256),
            output: BytesMut::new(),
            dialect: Dialect::V1_7,
        }
    }

    pub(crate) fn peer(&self) -> String {
        self.stream.peer_addr().map(|a| a.to_string()).unwrap_or_default()
    }

    /// The next packet. Cancellation-safe: bytes already read stay buffered.
    pub(crate) async fn read_packet(&mut self) -> Result<Packet, ReadError> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.input).map_err(ReadError::Framing)? {
                return Ok(packet);
            }
            if self.stream.read_buf(&mut self.input).await.map_err(ReadError::Io)? == 0 {
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
        match tokio::time::timeout(WRITE_DEADLINE, self.stream.write_all(&self.output)).await {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading")),
        }
        self.output.clear();
        Ok(())
    }

    pub(crate) async fn close(mut self) {
        if self.flush().await.is_ok() {
            let _ = self.stream.shutdown().await;
        }
    }
}
