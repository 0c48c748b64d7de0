//! Switchboard `MSG` bodies and the core's messages, both ways (the MIME itself is the codec's,
//! `msnp::message`). Everything MSN clients send each other but text and typing notifications
//! (invitations, P2P data, nudges) has no meaning elsewhere.

use msnp::message::{self, Body, TextFormat};
use switchyard_core::{Font, MessageKind};

/// What an MSN message means to users of other protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    Text { text: String, font: Option<Font> },
    Typing,
}

/// Reads a `MSG` body; `None` for kinds other protocols cannot show.
pub(crate) fn from_msn(body: &[u8]) -> Option<Content> {
    Some(match message::parse(body)? {
        Body::Typing { .. } => Content::Typing,
        Body::Text { text, format } => Content::Text {
            text,
            font: format.map(|f| Font {
                name: f.font,
                // MSN has no size; this is what its clients show by default.
                size: 10,
                color: f.color,
                bold: f.bold,
                italic: f.italic,
                underline: f.underline,
            }),
        },
    })
}

/// A core message as a `MSG` body from `handle`; `None` for kinds an MSN client cannot show.
pub(crate) fn to_msn(kind: MessageKind, text: &str, font: Option<&Font>, handle: &str) -> Option<String> {
    let text = match kind {
        MessageKind::Typing => return Some(message::typing(handle)),
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
    let format = font.map(|f| TextFormat {
        font: f.name.clone(),
        bold: f.bold,
        italic: f.italic,
        underline: f.underline,
        strikeout: false,
        color: f.color,
    });
    Some(message::text(&text, format.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fonts_cross_and_kinds_msn_cannot_show_do_not() {
        let font =
            Font { name: "Arial".into(), size: 10, color: 0xFF0000, bold: true, italic: false, underline: false };
        let body = to_msn(MessageKind::Text, "hi", Some(&font), "a@hotmail.com").unwrap();
        assert_eq!(from_msn(body.as_bytes()), Some(Content::Text { text: "hi".into(), font: Some(font) }));
        let typing = to_msn(MessageKind::Typing, "", None, "a@hotmail.com").unwrap();
        assert_eq!(from_msn(typing.as_bytes()), Some(Content::Typing));
        assert_eq!(to_msn(MessageKind::DirectConnectionRequest, "", None, "a@hotmail.com"), None);
        assert!(to_msn(MessageKind::AuthorizationRequest, "me?", None, "a")
            .unwrap()
            .ends_with("their contact list) me?"));
    }
}
