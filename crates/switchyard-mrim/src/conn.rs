//! One client connection: packets framed by `dlen`, replies buffered until a flush, in the
//! dialect the client announced.

use mrim::{Dialect, Packet, PacketDecoder, ServerPacket};
use std::io;
use std::sync::Arc;
use switchyard_net::BufferedStream;
use tokio::net::TcpStream;

pub(crate) type ReadError = switchyard_net::ReadError<mrim::DecodeError>;

pub(crate) struct Conn {
    stream: BufferedStream,
    decoder: PacketDecoder,
    /// The version the client announced in its first packet; replies are written in it.
    pub(crate) dialect: Dialect,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, max_body: u32) -> Self {
        Conn { stream: BufferedStream::new(stream), decoder: PacketDecoder::new(max_body), dialect: Dialect::V1_7 }
    }

    pub(crate) fn peer_ip(&self) -> Option<std::net::IpAddr> {
        self.stream.peer_addr().ok().map(|a| a.ip())
    }

    pub(crate) fn peer(&self) -> String {
        self.stream.peer_addr().map(|a| a.to_string()).unwrap_or_default()
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// The next packet. Cancellation-safe: bytes already read stay buffered.
    pub(crate) async fn read_packet(&mut self) -> Result<Packet, ReadError> {
        loop {
            match self.buffered_packet() {
                Some(packet) => return packet,
                None => self.stream.read_more().await?,
            }
        }
    }

    /// A packet whose bytes have all been read already, if there is one.
    pub(crate) fn buffered_packet(&mut self) -> Option<Result<Packet, ReadError>> {
        self.decoder.decode(&mut self.stream.input).map_err(ReadError::Protocol).transpose()
    }

    /// Whether more input may be handled before the next flush.
    pub(crate) fn has_room_for_more(&self) -> bool {
        self.stream.has_room_for_more()
    }

    pub(crate) fn send(&mut self, packet: &ServerPacket, seq: u32) {
        packet.encode(self.dialect, seq, &mut self.stream.output);
    }

    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        self.stream.flush().await
    }

    /// Bytes queued for the next flush.
    pub(crate) fn output_len(&self) -> usize {
        self.stream.output.len()
    }

    /// Of the output a failed flush lost, how many bytes the kernel had taken.
    pub(crate) fn sent_of_lost_output(&self) -> usize {
        self.stream.sent_of_lost_output()
    }

    /// [`Conn::flush`], given up (and the connection with it) if `stop` comes first.
    pub(crate) async fn flush_unless<F: std::future::Future<Output = ()>>(
        &mut self,
        stop: impl FnOnce() -> F,
    ) -> io::Result<()> {
        self.stream.flush_unless(stop).await
    }

    /// Sends what is queued (the `MRIM_CS_OK`), then runs the TLS handshake on the same socket.
    pub(crate) async fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
        self.stream.start_tls(config).await
    }

    pub(crate) async fn close(self) {
        self.stream.close().await
    }
}
