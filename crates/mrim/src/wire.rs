//! Body fields: `UL` (u32 LE), `LPS` (u32 length + bytes), `UIDL` (8 bytes). Reading is lenient:
//! a field past the end of the body reads as 0 or empty, as later protocol versions append
//! fields and older clients leave them out.

use bytes::{Buf, BufMut, Bytes};

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
}

pub fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.put_u32_le(value);
}

pub fn put_lps(out: &mut Vec<u8>, bytes: &[u8]) {
    out.put_u32_le(bytes.len() as u32);
    out.put_slice(bytes);
}
