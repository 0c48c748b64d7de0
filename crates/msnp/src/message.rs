//! The MIME bodies of switchboard `MSG`s that carry words: plain text with its
//! `X-MMS-IM-Format` (font, effects, colour) and typing notifications. Other bodies
//! (invitations, P2P data, nudges) are left to whoever understands them.

use crate::text::url_encode;
use percent_encoding::percent_decode_str;

/// How a text message looks: `FN=Arial; EF=BI; CO=ff; CS=0; PF=22`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFormat {
    pub font: String,
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub strikeout: bool,
    /// `0xRRGGBB` (the wire has it as BGR).
    pub color: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Text with LF line ends (the wire has CRLF).
    Text {
        text: String,
        format: Option<TextFormat>,
    },
    Typing {
        user: String,
    },
}

/// Reads a `MSG` body; `None` for anything but text and typing notifications.
pub fn parse(body: &[u8]) -> Option<Body> {
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
        return header("TypingUser").map(|user| Body::Typing { user: user.to_owned() });
    }
    if !content_type.starts_with("text/plain") {
        return None;
    }
    let format = header("X-MMS-IM-Format").map(parse_format);
    Some(Body::Text { text: text.replace("\r\n", "\n"), format })
}

fn parse_format(format: &str) -> TextFormat {
    let field = |key: &str| format.split(';').find_map(|f| f.trim().strip_prefix(key)).unwrap_or("");
    let effects = field("EF=");
    TextFormat {
        font: percent_decode_str(field("FN=")).decode_utf8_lossy().into_owned(),
        bold: effects.contains('B'),
        italic: effects.contains('I'),
        underline: effects.contains('U'),
        strikeout: effects.contains('S'),
        color: bgr_swap(u32::from_str_radix(field("CO="), 16).unwrap_or(0)),
    }
}

/// `0xBBGGRR` ↔ `0xRRGGBB`.
fn bgr_swap(color: u32) -> u32 {
    ((color & 0xFF) << 16) | (color & 0xFF00) | ((color >> 16) & 0xFF)
}

/// A plain-text body (LF or CRLF line ends in, CRLF out).
pub fn text(text: &str, format: Option<&TextFormat>) -> String {
    let format = match format {
        Some(f) => {
            let effects: String = [(f.bold, 'B'), (f.italic, 'I'), (f.underline, 'U'), (f.strikeout, 'S')]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, c)| c)
                .collect();
            format!("FN={}; EF={effects}; CO={:x}; CS=0; PF=22", url_encode(&f.font), bgr_swap(f.color))
        }
        None => "FN=MS%20Sans%20Serif; EF=; CO=0; CS=0; PF=0".to_owned(),
    };
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: {format}\r\n\r\n{text}")
}

/// A typing notification from `user`.
pub fn typing(user: &str) -> String {
    format!("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: {user}\r\n\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_format_survive_the_round_trip() {
        let format = TextFormat {
            font: "Comic Sans MS".into(),
            bold: true,
            italic: false,
            underline: true,
            strikeout: false,
            color: 0x12_34_56,
        };
        let body = text("two\nlines", Some(&format));
        assert!(body.contains("X-MMS-IM-Format: FN=Comic%20Sans%20MS; EF=BU; CO=563412;"), "{body}");
        assert!(body.ends_with("\r\n\r\ntwo\r\nlines"));
        assert_eq!(parse(body.as_bytes()), Some(Body::Text { text: "two\nlines".into(), format: Some(format) }));
    }

    #[test]
    fn typing_and_other_bodies() {
        assert_eq!(parse(typing("a@hotmail.com").as_bytes()), Some(Body::Typing { user: "a@hotmail.com".into() }));
        let p2p = b"MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: b\r\n\r\n\x00\x01";
        assert_eq!(parse(p2p), None);
        assert_eq!(parse(b"no headers at all"), None);
        let plain = b"MIME-Version: 1.0\r\ncontent-type: text/plain\r\n\r\nhi";
        assert_eq!(parse(plain), Some(Body::Text { text: "hi".into(), format: None }));
    }
}
