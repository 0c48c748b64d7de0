//! Text on the wire: "ANSI" fields are CP1251, "UNICODE" fields UTF-16LE (from protocol 1.16).

use encoding_rs::{UTF_16LE, WINDOWS_1251};

/// CP1251 bytes to Unicode; undecodable bytes cannot occur (every byte maps to something).
pub fn from_cp1251(bytes: &[u8]) -> String {
    WINDOWS_1251.decode_without_bom_handling(bytes).0.into_owned()
}

/// Unicode to CP1251. Characters CP1251 cannot carry become `?`: visibly replaced, never dropped.
pub fn to_cp1251(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    append_cp1251(text, &mut out);
    out
}

/// [`to_cp1251`], appended to `out`.
pub fn append_cp1251(text: &str, out: &mut Vec<u8>) {
    // Most text is ASCII, which CP1251 keeps as it is.
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let (bytes, _, unmappable) = WINDOWS_1251.encode(ch.encode_utf8(&mut buf));
        if unmappable {
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
}

/// UTF-16LE bytes to Unicode; an odd trailing byte is dropped, unpaired surrogates become U+FFFD.
pub fn from_utf16le(bytes: &[u8]) -> String {
    let whole_units = &bytes[..bytes.len() & !1];
    UTF_16LE.decode_without_bom_handling(whole_units).0.into_owned()
}

pub fn to_utf16le(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    append_utf16le(text, &mut out);
    out
}

/// [`to_utf16le`], appended to `out`.
pub fn append_utf16le(text: &str, out: &mut Vec<u8>) {
    out.reserve(text.len() * 2);
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
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
        assert_eq!(
            from_utf16le(b"\xff\xfeA\0B"),
            "\u{feff}A",
            "a byte-order mark is text; an odd last byte is dropped"
        );
        assert_eq!(from_utf16le(b"\x00\xdcA\0"), "\u{fffd}A", "a lone low surrogate");
    }

    proptest::proptest! {
        #[test]
        fn any_text_survives_utf16le(text in ".*") {
            proptest::prop_assert_eq!(from_utf16le(&to_utf16le(&text)), text);
        }

        #[test]
        fn cp1251_keeps_what_it_can_carry(text in "[a-zA-Z0-9 а-яА-ЯёЁ№«»]*") {
            proptest::prop_assert_eq!(from_cp1251(&to_cp1251(&text)), text);
        }
    }
}
