//! The text of a message carries extra fields after the text itself, separated by 0xFF (a byte
//! GBK never uses), numbers in decimal ASCII.

use crate::wire::{from_gbk, to_gbk};

pub const SEPARATOR: u8 = 0xFF;

/// `MFF_*` format flags of a `MSG_TEXT`.
pub mod format_flag {
    pub const BOLD: u8 = 1;
    pub const ITALIC: u8 = 2;
    pub const UNDERLINE: u8 = 4;
}

/// The typeface of a `MSG_TEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FontSpec {
    pub name: String,
    pub size: u8,
    /// A Windows `COLORREF`: `0x00BBGGRR`.
    pub colorref: u32,
    /// [`format_flag`] bits.
    pub flags: u8,
}

/// `MSG_TEXT`: `text 0xFF font 0xFF size 0xFF color 0xFF flags`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMessage {
    pub text: String,
    /// Absent when the sender gave no font fields.
    pub font: Option<FontSpec>,
}

fn fields(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == SEPARATOR)
}

fn number<T: std::str::FromStr + Default>(field: Option<&[u8]>) -> T {
    field.and_then(|f| std::str::from_utf8(f).ok()).and_then(|f| f.trim().parse().ok()).unwrap_or_default()
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&SEPARATOR)
}

impl TextMessage {
    pub fn parse(bytes: &[u8]) -> TextMessage {
        let mut fields = fields(bytes);
        let text = from_gbk(fields.next().unwrap_or_default());
        let font = fields.next().map(|name| FontSpec {
            name: from_gbk(name),
            size: number(fields.next()),
            colorref: number(fields.next()),
            flags: number(fields.next()),
        });
        TextMessage { text, font }
    }

    pub fn compose(&self) -> Vec<u8> {
        let text = to_gbk(&self.text);
        match &self.font {
            None => text,
            Some(font) => join(&[
                &text,
                &to_gbk(&font.name),
                font.size.to_string().as_bytes(),
                font.colorref.to_string().as_bytes(),
                font.flags.to_string().as_bytes(),
            ]),
        }
    }
}

/// `MSG_AUTH_REQUEST`: `face 0xFF nick 0xFF reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub face: u8,
    pub nick: String,
    pub reason: String,
}

impl AuthRequest {
    pub fn parse(bytes: &[u8]) -> AuthRequest {
        let mut fields = fields(bytes);
        let face = number(fields.next());
        let nick = from_gbk(fields.next().unwrap_or_default());
        // The reason is the rest, separators and all.
        let reason_at = bytes.iter().enumerate().filter(|(_, &b)| b == SEPARATOR).nth(1).map(|(i, _)| i + 1);
        let reason = reason_at.map(|at| from_gbk(&bytes[at..])).unwrap_or_default();
        AuthRequest { face, nick, reason }
    }

    pub fn compose(&self) -> Vec<u8> {
        join(&[self.face.to_string().as_bytes(), &to_gbk(&self.nick), &to_gbk(&self.reason)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_gaim_sends() {
        // "hi", 宋体 in GBK, 9 points, black, no flags (protocols/myicq.md §15).
        let sent = b"hi\xff\xcb\xce\xcc\xe5\xff9\xff0\xff0";
        let parsed = TextMessage::parse(sent);
        assert_eq!(parsed.text, "hi");
        assert_eq!(parsed.font, Some(FontSpec { name: "宋体".into(), size: 9, colorref: 0, flags: 0 }));
        assert_eq!(parsed.compose(), sent);
    }

    #[test]
    fn plain_text_and_broken_numbers() {
        assert_eq!(TextMessage::parse(b"just text"), TextMessage { text: "just text".into(), font: None });
        assert_eq!(TextMessage { text: "x".into(), font: None }.compose(), b"x");
        let odd = TextMessage::parse(b"t\xffArial\xffbig\xff255");
        assert_eq!(odd.font, Some(FontSpec { name: "Arial".into(), size: 0, colorref: 255, flags: 0 }));
    }

    #[test]
    fn authorization_requests() {
        let request = AuthRequest { face: 3, nick: "小明".into(), reason: "hi, it's me".into() };
        assert_eq!(AuthRequest::parse(&request.compose()), request);
        assert_eq!(AuthRequest::parse(b"7\xffnick\xffa\xffb").reason, "a\u{fffd}b", "the rest is the reason");
        assert_eq!(AuthRequest::parse(b""), AuthRequest { face: 0, nick: String::new(), reason: String::new() });
    }
}
