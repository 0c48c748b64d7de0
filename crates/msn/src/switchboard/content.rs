//! Switchboard `MSG` bodies (MIME headers, a blank line, the content) and the core's messages,
//! both ways: plain text with its `X-MMS-IM-Format` font, and typing notifications. Everything
//! else MSN clients send each other (invitations, P2P data, nudges) has no meaning elsewhere.

use msnp::text::url_encode;
use percent_encoding::percent_decode_str;
use switchyard_core::{Font, MessageKind};

/// What an MSN message means to users of other protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    Text { text: String, font: Option<Font> },
    Typing,
}

/// Reads a `MSG` body; `None` for kinds other protocols cannot show.
pub(crate) fn from_msn(body: &[u8]) -> Option<Content> {
    let body = std::str::from_utf8(body).ok()?;
    let (head, text) = body.split_once("\r\n\r\n")?;
    let header = |name: &str| {
        head.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    };
    let content_type = header("Content-Type")?.to_ascii_lowercase();
    if content_type.starts_with("text/x-msmsgscontrol") {
        return header("TypingUser").map(|_| Content::Typing);
    }
    if !content_type.starts_with("text/plain") {
        return None;
    }
    let font = header("X-MMS-IM-Format").map(font_of);
    Some(Content::Text { text: text.replace("\r\n", "\n"), font })
}

/// `FN=Arial; EF=BI; CO=ff; CS=0; PF=22`: name (URL-encoded), effects, colour as BGR hex.
fn font_of(format: &str) -> Font {
    let field = |key: &str| format.split(';').find_map(|f| f.trim().strip_prefix(key)).unwrap_or("");
    let effects = field("EF=");
    let bgr = u32::from_str_radix(field("CO="), 16).unwrap_or(0);
    Font {
        name: percent_decode_str(field("FN=")).decode_utf8_lossy().into_owned(),
        // MSN has no size; this is what its clients show by default.
        size: 10,
        color: bgr_swap(bgr),
        bold: effects.contains('B'),
        italic: effects.contains('I'),
        underline: effects.contains('U'),
    }
}

/// `0xBBGGRR` ↔ `0xRRGGBB`.
fn bgr_swap(color: u32) -> u32 {
    ((color & 0xFF) << 16) | (color & 0xFF00) | ((color >> 16) & 0xFF)
}

/// A core message as a `MSG` body from `handle`; `None` for kinds an MSN client cannot show.
pub(crate) fn to_msn(kind: MessageKind, text: &str, font: Option<&Font>, handle: &str) -> Option<String> {
    let text = match kind {
        MessageKind::Typing => {
            return Some(format!(
                "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: {handle}\r\n\r\n\r\n"
            ))
        }
        MessageKind::Text | MessageKind::AutoReply | MessageKind::Broadcast | MessageKind::SystemNotice => {
            text.to_owned()
        }
        MessageKind::AuthorizationRequest => format!("(asks to add you to their contact list) {text}"),
        MessageKind::AuthorizationGranted
        | MessageKind::AuthorizationDenied
        | MessageKind::ContactList
        | MessageKind::ContactAdded
        | MessageKind::DirectConnectionRequest
        | MessageKind::DirectConnectionAccepted
        | MessageKind::DirectConnectionRejected => return None,
    };
    let format = match font {
        Some(font) => {
            let effects: String = [(font.bold, 'B'), (font.italic, 'I'), (font.underline, 'U')]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, c)| c)
                .collect();
            format!("FN={}; EF={effects}; CO={:x}; CS=0; PF=22", url_encode(&font.name), bgr_swap(font.color))
        }
        None => "FN=MS%20Sans%20Serif; EF=; CO=0; CS=0; PF=0".to_owned(),
    };
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    Some(format!(
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: {format}\r\n\r\n{text}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_font_survive_the_round_trip() {
        let font = Font {
            name: "Comic Sans MS".into(),
            size: 10,
            color: 0x12_34_56,
            bold: true,
            italic: false,
            underline: true,
        };
        let body = to_msn(MessageKind::Text, "two\nlines", Some(&font), "a@hotmail.com").unwrap();
        assert!(body.contains("X-MMS-IM-Format: FN=Comic%20Sans%20MS; EF=BU; CO=563412;"), "{body}");
        assert!(body.ends_with("\r\n\r\ntwo\r\nlines"));
        assert_eq!(from_msn(body.as_bytes()), Some(Content::Text { text: "two\nlines".into(), font: Some(font) }));
    }

    #[test]
    fn typing_and_other_kinds() {
        let typing = to_msn(MessageKind::Typing, "", None, "a@hotmail.com").unwrap();
        assert!(typing.contains("TypingUser: a@hotmail.com"));
        assert_eq!(from_msn(typing.as_bytes()), Some(Content::Typing));
        assert_eq!(to_msn(MessageKind::DirectConnectionRequest, "", None, "a@hotmail.com"), None);
        let p2p = b"MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: b\r\n\r\n\x00\x01";
        assert_eq!(from_msn(p2p), None);
        assert_eq!(from_msn(b"no headers at all"), None);
        let plain = b"MIME-Version: 1.0\r\ncontent-type: text/plain\r\n\r\nhi";
        assert_eq!(from_msn(plain), Some(Content::Text { text: "hi".into(), font: None }));
    }
}
