//! Messages between MyICQ's `MSG_*` types and texts and the canonical [`Message`].

use myicq::codes::msg;
use myicq::msgtext::{format_flag, AuthRequest, FontSpec, TextMessage};
use myicq::server::ServerPacket;
use myicq::wire::{from_gbk, gbk_chunks};
use switchyard_core::{AccountRef, Font, Formatted, Message, MessageKind};

/// Longest message text (`MAX_MSG_LEN`): the server drops longer ones, and the clients read
/// texts into buffers of 512 bytes, so longer texts for them are cut into several messages.
pub(crate) const MAX_TEXT: usize = 450;

/// The typeface MyICQ clients send by default (宋体, 9 points, black), for texts that come
/// without one: the Windows client expects the font fields.
fn default_font() -> FontSpec {
    FontSpec { name: "宋体".into(), size: 9, colorref: 0, flags: 0 }
}

fn kind_of(message_type: u8) -> Option<MessageKind> {
    Some(match message_type {
        msg::TEXT => MessageKind::Text,
        msg::AUTO_REPLY => MessageKind::AutoReply,
        msg::AUTH_ACCEPTED => MessageKind::AuthorizationGranted,
        msg::AUTH_REQUEST => MessageKind::AuthorizationRequest,
        msg::AUTH_REJECTED => MessageKind::AuthorizationDenied,
        msg::ADDED => MessageKind::ContactAdded,
        msg::TCP_REQUEST => MessageKind::DirectConnectionRequest,
        msg::TCP_ACCEPTED => MessageKind::DirectConnectionAccepted,
        msg::TCP_REJECTED => MessageKind::DirectConnectionRejected,
        _ => return None,
    })
}

fn type_of(kind: MessageKind) -> Option<u8> {
    Some(match kind {
        MessageKind::Text | MessageKind::ContactList | MessageKind::SystemNotice | MessageKind::Broadcast => msg::TEXT,
        MessageKind::AutoReply => msg::AUTO_REPLY,
        MessageKind::AuthorizationGranted => msg::AUTH_ACCEPTED,
        MessageKind::AuthorizationRequest => msg::AUTH_REQUEST,
        MessageKind::AuthorizationDenied => msg::AUTH_REJECTED,
        MessageKind::ContactAdded => msg::ADDED,
        MessageKind::DirectConnectionRequest => msg::TCP_REQUEST,
        MessageKind::DirectConnectionAccepted => msg::TCP_ACCEPTED,
        MessageKind::DirectConnectionRejected => msg::TCP_REJECTED,
        // MyICQ has no typing notices.
        MessageKind::Typing => return None,
    })
}

/// `0x00BBGGRR` (a Windows `COLORREF`) ↔ `0xRRGGBB`: the same swap both ways.
fn swap_red_and_blue(color: u32) -> u32 {
    ((color & 0xff) << 16) | (color & 0xff00) | ((color >> 16) & 0xff)
}

fn font_of(spec: &FontSpec) -> Font {
    Font {
        name: spec.name.clone(),
        size: spec.size,
        color: swap_red_and_blue(spec.colorref),
        bold: spec.flags & format_flag::BOLD != 0,
        italic: spec.flags & format_flag::ITALIC != 0,
        underline: spec.flags & format_flag::UNDERLINE != 0,
    }
}

fn spec_of(font: &Font) -> FontSpec {
    let flag = |on: bool, bit: u8| if on { bit } else { 0 };
    FontSpec {
        name: font.name.clone(),
        size: font.size,
        colorref: swap_red_and_blue(font.color),
        flags: flag(font.bold, format_flag::BOLD)
            | flag(font.italic, format_flag::ITALIC)
            | flag(font.underline, format_flag::UNDERLINE),
    }
}

/// A `SEND_MSG` as a canonical message; `None` for a type the server does not know.
pub(crate) fn from_client(
    message_type: u8,
    text: &[u8],
    from: AccountRef,
    display_name: &str,
    now: i64,
) -> Option<Message> {
    let kind = kind_of(message_type)?;
    let (text, font, formatted) = match kind {
        MessageKind::Text => {
            let parsed = TextMessage::parse(text);
            (parsed.text, parsed.font.as_ref().map(font_of), None)
        }
        MessageKind::AuthorizationRequest => (AuthRequest::parse(text).reason, None, None),
        // The offer's fields (session name, reason, port) are for the other MyICQ client.
        k if k.is_direct_connection() => (String::new(), None, Some(Formatted::MyIcqOffer(text.to_vec()))),
        _ => (from_gbk(text), None, None),
    };
    Some(Message {
        from,
        from_display_name: display_name.to_owned(),
        kind,
        text,
        formatted,
        font,
        wants_receipt: false,
        sent_at: now,
    })
}

/// The `SRV_MESSAGE`s that show `message` to a MyICQ client (none for what MyICQ cannot
/// show). `sender_face` is the sender's picture, for an authorization request.
pub(crate) fn to_client(message: &Message, sender_face: u8) -> Vec<ServerPacket> {
    let Some(message_type) = type_of(message.kind) else { return Vec::new() };
    let packet = |text: Vec<u8>| ServerPacket::Message {
        kind: message_type,
        from: message.from.uin,
        time: message.sent_at.clamp(0, i64::from(u32::MAX)) as u32,
        text,
    };
    let pieces = |text: &str, room: usize| -> Vec<String> {
        let pieces: Vec<String> = gbk_chunks(text, room).map(|(_, piece)| piece).collect();
        if pieces.is_empty() {
            vec![String::new()]
        } else {
            pieces
        }
    };
    match message.kind {
        MessageKind::AuthorizationGranted | MessageKind::ContactAdded => vec![packet(Vec::new())],
        MessageKind::AuthorizationRequest => {
            let mut request =
                AuthRequest { face: sender_face, nick: message.from_display_name.clone(), reason: String::new() };
            let room = MAX_TEXT.saturating_sub(request.compose().len()).max(2);
            request.reason = pieces(&message.text, room).swap_remove(0);
            vec![packet(request.compose())]
        }
        k if k.is_direct_connection() => {
            let offer = match &message.formatted {
                Some(Formatted::MyIcqOffer(fields)) => fields.clone(),
                _ => myicq::wire::to_gbk(&message.text),
            };
            vec![packet(offer)]
        }
        MessageKind::AutoReply | MessageKind::AuthorizationDenied => {
            pieces(&message.text, MAX_TEXT).iter().map(|piece| packet(myicq::wire::to_gbk(piece))).collect()
        }
        _ => {
            let font = message.font.as_ref().map(spec_of).unwrap_or_else(default_font);
            let suffix = TextMessage { text: String::new(), font: Some(font.clone()) }.compose().len();
            pieces(&message.text, MAX_TEXT.saturating_sub(suffix).max(2))
                .into_iter()
                .map(|text| packet(TextMessage { text, font: Some(font.clone()) }.compose()))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::{AccountId, AccountName};

    fn alice() -> AccountRef {
        AccountRef { id: AccountId(1), name: AccountName::new("alice").unwrap(), uin: 10001, nickname: None }
    }

    fn texts(packets: &[ServerPacket]) -> Vec<Vec<u8>> {
        packets
            .iter()
            .map(|p| match p {
                ServerPacket::Message { text, .. } => text.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_text_with_its_font_goes_through_unchanged() {
        let sent = b"hi\xff\xcb\xce\xcc\xe5\xff12\xff255\xff5";
        let message = from_client(msg::TEXT, sent, alice(), "Alice", 7).unwrap();
        let font = message.font.clone().unwrap();
        assert_eq!((font.color, font.bold, font.italic, font.underline), (0xff0000, true, false, true));
        assert_eq!(texts(&to_client(&message, 0)), [sent.to_vec()]);
    }

    #[test]
    fn long_texts_are_cut_to_what_clients_read() {
        let message = Message { text: "好".repeat(600), ..from_client(msg::TEXT, b"x", alice(), "A", 0).unwrap() };
        let shown = texts(&to_client(&message, 0));
        assert_eq!(shown.len(), 3);
        assert!(shown.iter().all(|t| t.len() <= MAX_TEXT));
        let joined: String = shown.iter().map(|t| TextMessage::parse(t).text).collect();
        assert_eq!(joined, message.text, "nothing lost between the pieces");
    }

    #[test]
    fn authorization_requests_carry_the_senders_face_and_name() {
        let message = from_client(msg::AUTH_REQUEST, b"3\xffold nick\xffplease", alice(), "Alice", 0).unwrap();
        assert_eq!((message.kind, message.text.as_str()), (MessageKind::AuthorizationRequest, "please"));
        assert_eq!(texts(&to_client(&message, 9)), [b"9\xffAlice\xffplease".to_vec()]);
    }

    #[test]
    fn direct_connection_offers_keep_their_fields_and_unknown_types_are_refused() {
        let offer = b"sendfile\xffhere it is\xff0";
        let message = from_client(msg::TCP_REQUEST, offer, alice(), "A", 0).unwrap();
        assert_eq!(texts(&to_client(&message, 0)), [offer.to_vec()]);
        assert!(from_client(42, b"", alice(), "A", 0).is_none());
        let typing = Message { kind: MessageKind::Typing, ..message };
        assert!(to_client(&typing, 0).is_empty());
    }
}
