//! One client connection: packets framed by `dlen`, replies buffered until a flush, in the
//! dialect the client announced.

use bytes::BytesMut;
use mrim::{Dialect, Packet, PacketDecoder, ServerPacket};
use switchyard_net::Framed;

pub(crate) type Conn = Framed<Codec>;

/// MRIM's packets from a client, and the version its replies are written in.
pub(crate) struct Codec {
    decoder: PacketDecoder,
    /// The version the client announced in its first packet.
    pub(crate) dialect: Dialect,
}

impl Codec {
    pub(crate) fn new(max_body: u32) -> Self {
        Codec { decoder: PacketDecoder::new(max_body), dialect: Dialect::V1_7 }
    }
}

impl switchyard_net::Codec for Codec {
    type Frame = Packet;
    type Error = mrim::DecodeError;

    fn decode(&mut self, input: &mut BytesMut, _: &mut BytesMut) -> Result<Option<Packet>, mrim::DecodeError> {
        self.decoder.decode(input)
    }
}

/// What a session does with its connection beyond reading and flushing.
pub(crate) trait MrimConn {
    fn dialect(&self) -> Dialect;
    fn peer_ip(&self) -> Option<std::net::IpAddr>;
    fn peer(&self) -> String;
    fn send(&mut self, packet: &ServerPacket, seq: u32);
    /// Bytes queued for the next flush.
    fn output_len(&self) -> usize;
}

impl MrimConn for Conn {
    fn dialect(&self) -> Dialect {
        self.codec.dialect
    }

    fn peer_ip(&self) -> Option<std::net::IpAddr> {
        self.stream.peer_addr().ok().map(|a| a.ip())
    }

    fn peer(&self) -> String {
        self.stream.peer_addr().map(|a| a.to_string()).unwrap_or_default()
    }

    fn send(&mut self, packet: &ServerPacket, seq: u32) {
        packet.encode(self.codec.dialect, seq, &mut self.stream.output);
    }

    fn output_len(&self) -> usize {
        self.stream.output.len()
    }
}
