//! Text on the wire: "ANSI" fields are CP1251, "UNICODE" fields UTF-16LE (from protocol 1.16).

use encoding_rs::WINDOWS_1251;

/// CP1251 bytes to Unicode; undecodable bytes cannot occur (every byte maps to something).
pub fn from_cp1251(bytes: &[u8]) -> String {
    WINDOWS_1251.decode_without_bom_handling(bytes).0.into_owned()
}

/// Unicode to CP1251. Characters CP1251 cannot carry become `?`: visibly replaced, never dropped.
pub fn to_cp1251(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let (bytes, _, unmappable) = WINDOWS_1251.encode(ch.encode_utf8(&mut buf));
        if unmappable {
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// UTF-16LE bytes to Unicode; an odd trailing byte is dropped, unpaired surrogates become U+FFFD.
pub fn from_utf16le(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

pub fn to_utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp1251_round_trip_and_visible_replacement() {
        let bytes = to_cp1251("Привет, Bob!");
        assert_eq!(&bytes[..6], b"\xcf\xf0\xe8\xe2\xe5\xf2");
        assert_eq!(from_cp1251(&bytes), "Привет, Bob!");
        assert_eq!(to_cp1251("a宋b"), b"a?b");
    }

    #[test]
    fn utf16le_round_trip() {
        let text = "Привет 😀";
        assert_eq!(from_utf16le(&to_utf16le(text)), text);
        assert_eq!(to_utf16le("A"), b"A\0");
        assert_eq!(from_utf16le(b"A\0\x00\xd8"), "A\u{fffd}");
    }
}
