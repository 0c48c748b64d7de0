//! Body fields: BYTE, WORD and DWORD (big-endian) and STRING (WORD length including a final NUL,
//! then the bytes). Reading follows myicqd: a field past the end reads as 0 or "", and a STRING
//! whose length is 0, runs past the end or lacks its NUL reads as "" after consuming only its
//! two length bytes. Text is GBK on the wire.

use encoding_rs::GBK;

/// Reads fields off a decrypted body; never fails.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    body: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        Reader { body }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.body.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.body = rest;
                *head
            }
            None => {
                self.body = &[];
                [0; N]
            }
        }
    }

    pub fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// A STRING's raw bytes, without the NUL.
    pub fn bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16());
        match self.body.get(..len) {
            Some(value) if len > 0 && value[len - 1] == 0 => {
                self.body = &self.body[len..];
                &value[..len - 1]
            }
            _ => &[],
        }
    }

    /// A STRING as text (GBK).
    pub fn text(&mut self) -> String {
        from_gbk(self.bytes())
    }
}

/// Writes fields of a body.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    pub body: Vec<u8>,
}

impl Writer {
    pub fn u8(mut self, value: u8) -> Self {
        self.body.push(value);
        self
    }

    pub fn u16(mut self, value: u16) -> Self {
        self.body.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub fn u32(mut self, value: u32) -> Self {
        self.body.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// A STRING of raw bytes (cut so that length and NUL fit a WORD).
    pub fn bytes(mut self, value: &[u8]) -> Self {
        let value = &value[..value.len().min(usize::from(u16::MAX) - 1)];
        self.body.extend_from_slice(&(value.len() as u16 + 1).to_be_bytes());
        self.body.extend_from_slice(value);
        self.body.push(0);
        self
    }

    /// A STRING as GBK text.
    pub fn text(self, value: &str) -> Self {
        self.bytes(&to_gbk(value))
    }

    /// A STRING as GBK text of at most `max` bytes, cut between characters.
    pub fn text_max(self, value: &str, max: usize) -> Self {
        self.bytes(&to_gbk_max(value, max))
    }
}

pub fn from_gbk(bytes: &[u8]) -> String {
    GBK.decode_without_bom_handling(bytes).0.into_owned()
}

/// Unicode to GBK; characters GBK cannot carry become `?`, visibly, and NUL (which would end
/// the string early) becomes a space.
pub fn to_gbk(text: &str) -> Vec<u8> {
    let mut buf = [0u8; 4];
    text.chars().flat_map(|ch| gbk_char(ch, &mut buf)).collect()
}

/// [`to_gbk`] of the longest prefix of `text` that fits in `max` (at least 2) bytes.
pub fn to_gbk_max(text: &str, max: usize) -> Vec<u8> {
    gbk_chunks(text, max).next().map(|(bytes, _)| bytes).unwrap_or_default()
}

/// `text` in GBK cut between characters into pieces of at most `max` (at least 2) bytes, each
/// with the Unicode text it encodes.
pub fn gbk_chunks(text: &str, max: usize) -> impl Iterator<Item = (Vec<u8>, String)> + '_ {
    let mut chars = text.chars().peekable();
    let mut buf = [0u8; 4];
    std::iter::from_fn(move || {
        chars.peek()?;
        let (mut bytes, mut unicode) = (Vec::new(), String::new());
        while let Some(&ch) = chars.peek() {
            let encoded = gbk_char(ch, &mut buf);
            if !bytes.is_empty() && bytes.len() + encoded.len() > max {
                break;
            }
            bytes.extend_from_slice(&encoded);
            unicode.push(ch);
            chars.next();
        }
        Some((bytes, unicode))
    })
}

fn gbk_char(ch: char, buf: &mut [u8; 4]) -> Vec<u8> {
    let ch = if ch == '\0' { ' ' } else { ch };
    let (bytes, _, unmappable) = GBK.encode(ch.encode_utf8(buf));
    if unmappable {
        vec![b'?']
    } else {
        bytes.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_as_the_document_gives_them() {
        assert_eq!(Writer::default().text("freeman").body, b"\x00\x08freeman\x00");
        assert_eq!(Writer::default().text("").body, b"\x00\x01\x00");
        let mut r = Reader::new(b"\x00\x08freeman\x00\x00\x00\x00\x2a");
        assert_eq!(r.text(), "freeman");
        assert_eq!(r.u32(), 42);
        assert_eq!(r.u32(), 0, "past the end reads 0");
        assert_eq!(r.text(), "");
    }

    #[test]
    fn broken_strings_read_empty_after_their_length() {
        // Each broken STRING reads "" and consumes only its two length bytes.
        let mut zero_length = Reader::new(b"\x00\x00\x00\x2a");
        assert_eq!((zero_length.bytes(), zero_length.u16()), (&b""[..], 42));
        let mut past_the_end = Reader::new(b"\x00\x09ab\x00");
        assert_eq!((past_the_end.bytes(), past_the_end.u16()), (&b""[..], 0x6162));
        let mut no_nul = Reader::new(b"\x00\x02ab\x00\x03xy\x00");
        assert_eq!(no_nul.bytes(), b"");
        assert_eq!(no_nul.u16(), 0x6162, "reading goes on right after the length");
        assert_eq!(no_nul.bytes(), b"xy", "and the next, well-formed STRING reads normally");
        // DES zero padding after the last field reads as an empty string.
        assert_eq!(Reader::new(&[0; 5]).text(), "");
    }

    #[test]
    fn gbk_text() {
        let bytes = to_gbk("你好 hi");
        assert_eq!(bytes, b"\xc4\xe3\xba\xc3 hi");
        assert_eq!(from_gbk(&bytes), "你好 hi");
        assert_eq!(to_gbk("a😀b\0c"), b"a?b c");
        assert_eq!(to_gbk_max("你好吗", 5), to_gbk("你好"), "cut between characters");
        let pieces: Vec<_> = gbk_chunks("ab你c", 3).collect();
        assert_eq!(pieces, [(b"ab".to_vec(), "ab".to_owned()), (b"\xc4\xe3c".to_vec(), "你c".to_owned())]);
        let written = Writer::default().text("宋体").u8(7).body;
        let mut r = Reader::new(&written);
        assert_eq!((r.text(), r.u8()), ("宋体".to_owned(), 7));
    }
}
