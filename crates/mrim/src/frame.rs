//! Splitting a byte stream into packets, strictly by `dlen`, with a cap on it.

use crate::header::{Header, HEADER_LEN};
use bytes::{Buf, Bytes, BytesMut};

/// One packet as it came off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub header: Header,
    pub body: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not an MRIM packet (bad magic)")]
    BadMagic,
    #[error("packet body of {0} bytes is over the limit")]
    TooLarge(u32),
}

/// Incremental decoder. Every error is fatal: the stream position is lost.
#[derive(Debug, Clone)]
pub struct PacketDecoder {
    max_body: u32,
}

impl PacketDecoder {
    /// Bodies of real clients stay far below 64 KiB (a message is at most a few KiB of text plus
    /// its RTF part); `max_body` bounds what one connection can make us buffer.
    pub fn new(max_body: u32) -> Self {
        PacketDecoder { max_body }
    }

    /// Takes one packet off the front of `buf`, `Ok(None)` when more bytes are needed.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        if buf.len() < HEADER_LEN {
            // A wrong magic is known after four bytes: no need to wait for a whole header.
            if buf.len() >= 4 && buf[..4] != crate::header::MAGIC.to_le_bytes() {
                return Err(DecodeError::BadMagic);
            }
            return Ok(None);
        }
        let header = Header::parse(&buf[..HEADER_LEN]).ok_or(DecodeError::BadMagic)?;
        if header.dlen > self.max_body {
            return Err(DecodeError::TooLarge(header.dlen));
        }
        let total = HEADER_LEN + header.dlen as usize;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(HEADER_LEN);
        let body = buf.split_to(header.dlen as usize).freeze();
        Ok(Some(Packet { header, body }))
    }
}

impl Default for PacketDecoder {
    fn default() -> Self {
        PacketDecoder::new(64 * 1024)
    }
}
