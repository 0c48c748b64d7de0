//! The 44-byte packet header: `magic, proto, seq, msg, dlen, from, fromport, reserved[16]`.

use bytes::{Buf, BufMut};

pub const MAGIC: u32 = 0xDEAD_BEEF;
pub const HEADER_LEN: usize = 44;

/// The header fields that matter. `from`, `fromport` and `reserved` are ignored on input
/// (pidgin-mra fills them with garbage) and written as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `(major << 16) | minor` of the sender.
    pub proto: u32,
    pub seq: u32,
    /// Packet code (`codes::*`).
    pub msg: u32,
    /// Body length.
    pub dlen: u32,
}

impl Header {
    /// Reads a header from exactly [`HEADER_LEN`] bytes; `None` when the magic is wrong.
    pub fn parse(mut bytes: &[u8]) -> Option<Header> {
        debug_assert!(bytes.len() >= HEADER_LEN);
        if bytes.get_u32_le() != MAGIC {
            return None;
        }
        Some(Header {
            proto: bytes.get_u32_le(),
            seq: bytes.get_u32_le(),
            msg: bytes.get_u32_le(),
            dlen: bytes.get_u32_le(),
        })
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32_le(MAGIC);
        out.put_u32_le(self.proto);
        out.put_u32_le(self.seq);
        out.put_u32_le(self.msg);
        out.put_u32_le(self.dlen);
        out.put_bytes(0, HEADER_LEN - 20);
    }
}
