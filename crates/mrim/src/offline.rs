//! The RFC 822-style text of an `OFFLINE_MESSAGE_ACK`, with LF line endings: pidgin-mra parses
//! only those (CRLF makes it crash), and the official client accepts them. As the 1.7 document
//! says, a `Boundary` header names the separator that ends the text part (`\n--boundary--`);
//! pidgin-mra cuts the text there and shows nothing when the header is missing.

use crate::dialect::Dialect;
use crate::text::{from_cp1251, from_utf16le, to_cp1251, to_utf16le};
use base64::Engine;
use std::time::SystemTime;

/// Builds the stored message as the recipient's dialect expects it: CP1251 text before 1.16,
/// UTF-16LE in base64 from 1.16. `boundary` must be unique to the message (letters and digits).
pub fn compose(from: &str, sent_at: SystemTime, flags: u32, text: &str, dialect: Dialect, boundary: &str) -> Vec<u8> {
    let date = httpdate::fmt_http_date(sent_at);
    let mut out = format!("From: {from}\nDate: {date}\nX-MRIM-Flags: {flags:08x}\nBoundary: {boundary}\n").into_bytes();
    if dialect.unicode_text() {
        let body = base64::engine::general_purpose::STANDARD.encode(to_utf16le(text));
        out.extend_from_slice(
            format!("Content-Type: text/plain; charset=UTF-16LE\nContent-Transfer-Encoding: base64\n\n{body}")
                .as_bytes(),
        );
    } else {
        out.extend_from_slice(b"Content-Type: text/plain; charset=CP-1251\nContent-Transfer-Encoding: 8bit\n\n");
        out.extend_from_slice(&to_cp1251(text));
    }
    out.extend_from_slice(format!("\n--{boundary}--\n").as_bytes());
    out
}

/// A stored message as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineText {
    pub from: String,
    pub sent_at: Option<SystemTime>,
    pub flags: u32,
    pub text: String,
}

/// Reads what [`compose`] (or another server) wrote: headers up to a blank line (LF or CRLF),
/// then the text, up to the boundary, in the charset and transfer encoding named.
pub fn parse(message: &[u8]) -> Option<OfflineText> {
    let split = message.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let split = split.or_else(|| message.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4)));
    let (at, len) = split?;
    let head = String::from_utf8_lossy(&message[..at]);
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    let mut body = &message[at + len..];
    if let Some(boundary) = header("Boundary") {
        let end = format!("\n--{boundary}--");
        if let Some(cut) = body.windows(end.len()).position(|w| w == end.as_bytes()) {
            body = &body[..cut];
        }
    }
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let base64 = header("Content-Transfer-Encoding").is_some_and(|e| e.eq_ignore_ascii_case("base64"));
    let bytes = if base64 {
        let compact: Vec<u8> = body.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        base64::engine::general_purpose::STANDARD.decode(compact).ok()?
    } else {
        body.to_vec()
    };
    let utf16 = header("Content-Type").is_some_and(|t| t.to_ascii_uppercase().contains("UTF-16"));
    let text = if utf16 { from_utf16le(&bytes) } else { from_cp1251(&bytes) };
    Some(OfflineText {
        from: header("From")?,
        sent_at: header("Date").and_then(|d| httpdate::parse_http_date(&d).ok()),
        flags: header("X-MRIM-Flags").and_then(|f| u32::from_str_radix(&f, 16).ok()).unwrap_or(0),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn cp1251_for_old_clients_with_lf_endings() {
        let at = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let text = compose("bob@mail.ru", at, 0, "Привет", Dialect::V1_7, "B1");
        let expected =
            b"From: bob@mail.ru\nDate: Sun, 09 Sep 2001 01:46:40 GMT\nX-MRIM-Flags: 00000000\nBoundary: B1\n\
Content-Type: text/plain; charset=CP-1251\nContent-Transfer-Encoding: 8bit\n\n\xcf\xf0\xe8\xe2\xe5\xf2\n--B1--\n";
        assert_eq!(text, expected);
        assert!(!text.contains(&b'\r'));
    }

    #[test]
    fn utf16_base64_from_1_16() {
        let at = UNIX_EPOCH + Duration::from_secs(0);
        let text = compose("bob@mail.ru", at, 8, "Hi", Dialect { major: 1, minor: 16 }, "B2");
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("X-MRIM-Flags: 00000008\nBoundary: B2\n"));
        assert!(text.ends_with("charset=UTF-16LE\nContent-Transfer-Encoding: base64\n\nSABpAA==\n--B2--\n"), "{text}");
    }

    #[test]
    fn what_is_composed_parses_back_in_both_encodings() {
        let at = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        for dialect in [Dialect::V1_7, Dialect { major: 1, minor: 16 }] {
            let text = compose("bob@mail.ru", at, 8, "Привет\nмир", dialect, "B9");
            let parsed = parse(&text).unwrap();
            assert_eq!(
                parsed,
                OfflineText {
                    from: "bob@mail.ru".into(), sent_at: Some(at), flags: 8, text: "Привет\nмир".into()
                }
            );
        }
        assert_eq!(parse(b"no blank line"), None);
    }
}
