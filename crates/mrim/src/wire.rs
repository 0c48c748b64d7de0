//! Body fields: `UL` (u32 LE), `LPS` (u32 length + bytes), `UIDL` (8 bytes). Reading is lenient:
//! a field past the end of the body reads as 0 or empty, as later protocol versions append
//! fields and older clients leave them out.

use crate::dialect::Dialect;
use crate::header::{Header, HEADER_LEN};
use crate::text::{append_cp1251, append_utf16le, from_cp1251, from_utf16le};
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Reads fields off a packet body.
#[derive(Debug, Clone)]
pub struct Reader {
    body: Bytes,
}

impl Reader {
    pub fn new(body: Bytes) -> Self {
        Reader { body }
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// `UL`; 0 when fewer than four bytes are left.
    pub fn u32(&mut self) -> u32 {
        if self.body.len() >= 4 {
            self.body.get_u32_le()
        } else {
            self.body.clear();
            0
        }
    }

    /// `LPS`; a length running past the end takes what is there.
    pub fn lps(&mut self) -> Bytes {
        let len = self.u32() as usize;
        let len = len.min(self.body.len());
        self.body.split_to(len)
    }

    /// `UIDL`: eight bytes, zero-padded when the body is short.
    pub fn uidl(&mut self) -> [u8; 8] {
        let mut uidl = [0; 8];
        let n = self.body.len().min(8);
        uidl[..n].copy_from_slice(&self.body[..n]);
        self.body.advance(n);
        uidl
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.body)
    }

    /// An `LPS` of CP1251 text (addresses, keys, and text before 1.16).
    pub fn ansi(&mut self) -> String {
        from_cp1251(&self.lps())
    }

    /// A "UNICODE" `LPS`: UTF-16LE from 1.16, CP1251 before.
    pub fn text(&mut self, dialect: Dialect) -> String {
        decode_text(&self.lps(), dialect)
    }
}

/// A "UNICODE" field's bytes: UTF-16LE from 1.16, CP1251 before.
pub fn decode_text(bytes: &[u8], dialect: Dialect) -> String {
    if dialect.unicode_text() {
        from_utf16le(bytes)
    } else {
        from_cp1251(bytes)
    }
}

/// Writes a packet body in one dialect's encodings.
pub struct Writer {
    pub(crate) out: Vec<u8>,
    pub(crate) dialect: Dialect,
}

impl Writer {
    pub fn new(dialect: Dialect) -> Self {
        // Room for most packets' bodies (a short message), so that few grow.
        Writer { out: Vec::with_capacity(128), dialect }
    }

    pub fn u32(&mut self, value: u32) {
        put_u32(&mut self.out, value);
    }

    pub fn ansi(&mut self, text: &str) {
        self.lps_of(|out| append_cp1251(text, out));
    }

    /// A "UNICODE" field: UTF-16LE from 1.16, CP1251 before.
    pub fn text(&mut self, text: &str) {
        match self.dialect.unicode_text() {
            true => self.utf16(text),
            false => self.ansi(text),
        }
    }

    /// A UTF-16LE field whatever the dialect (a message flagged `UNICODE`).
    pub fn utf16(&mut self, text: &str) {
        self.lps_of(|out| append_utf16le(text, out));
    }

    /// An `LPS` of what `write` appends, encoded straight into the body.
    fn lps_of(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let at = self.out.len();
        self.out.put_u32_le(0);
        write(&mut self.out);
        let len = (self.out.len() - at - 4) as u32;
        self.out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        put_lps(&mut self.out, bytes);
    }

    /// Appends the header and this body to `out`.
    pub fn finish(self, msg: u32, seq: u32, out: &mut BytesMut) {
        let header = Header { proto: self.dialect.proto(), seq, msg, dlen: self.out.len() as u32 };
        out.reserve(HEADER_LEN + self.out.len());
        header.encode(out);
        out.put_slice(&self.out);
    }
}

pub fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.put_u32_le(value);
}

pub fn put_lps(out: &mut Vec<u8>, bytes: &[u8]) {
    out.put_u32_le(bytes.len() as u32);
    out.put_slice(bytes);
}
