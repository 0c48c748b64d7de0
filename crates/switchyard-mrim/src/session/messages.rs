//! Messages: `MESSAGE` routed through the core with its delivery status, and the stored
//! messages sent at login.

use super::{now_secs, MrimSession};
use crate::conn::{Conn, MrimConn};
use mrim::client::Message;
use mrim::codes::{message_flag, message_status};
use mrim::ServerPacket;
use std::time::{Duration, UNIX_EPOCH};
use switchyard_core::store::MessageKind;
use switchyard_core::{Accepted, CoreError, Delivery, Formatted};

/// Longest message text accepted, in bytes as sent.
const MAX_TEXT: usize = 16 * 1024;

impl MrimSession {
    /// `DELETE_OFFLINE_MESSAGE`: the client has the message; it leaves the queue.
    pub(super) fn delete_offline(&self, uidl: [u8; 8]) {
        let Some(id) = id_of_uidl(&uidl) else {
            tracing::info!(?uidl, "DELETE_OFFLINE_MESSAGE with a UIDL this server never gave");
            return;
        };
        self.context.core.acknowledge_offline(self.session.account.id, id);
    }

    /// One `OFFLINE_MESSAGE_ACK` per queued message not sent in this session yet, oldest first;
    /// each stays queued until the client deletes it, so a dropped connection gets it again.
    pub(super) async fn send_offline_messages(&mut self, conn: &mut Conn) {
        let core = self.context.core.clone();
        let queued = match core.pending_offline(self.session.account.id, &mut self.shown_queue).await {
            Ok(queued) => queued,
            Err(e) => {
                tracing::error!(error = %e, "cannot read offline messages");
                return;
            }
        };
        for stored in queued {
            let message = &stored.message;
            let from = match core.store().account_by_id(message.sender).await {
                Ok(Some(sender)) => self.context.config.email_of(&sender.name),
                _ => continue,
            };
            let flags = flags_of(message.kind) | message_flag::OFFLINE;
            let sent_at = UNIX_EPOCH + Duration::from_secs(message.sent_at.max(0) as u64);
            let boundary = format!("SWITCHYARD{:016X}", stored.id);
            let text = mrim::offline::compose(&from, sent_at, flags, &message.text, conn.dialect(), &boundary);
            conn.send(&ServerPacket::OfflineMessageAck { uidl: uidl_of(stored.id), message: text }, 0);
        }
    }

    /// Routes a `MESSAGE` to each recipient. Its `MESSAGE_STATUS` follows once the message is
    /// safe for every one of them (or refused by one: the first refusal is the status).
    pub(super) async fn send_message(&mut self, conn: &mut Conn, message: Message, seq: u32) {
        let kind = if message.flags & message_flag::NOTIFY != 0 {
            MessageKind::Typing
        } else if message.flags & message_flag::AUTHORIZE != 0 {
            MessageKind::AuthorizationRequest
        } else if message.flags & message_flag::CONTACT != 0 {
            MessageKind::ContactList
        } else {
            MessageKind::Text
        };
        if message.text.len() > MAX_TEXT {
            return conn.send(&ServerPacket::MessageStatus { status: message_status::REJECTED_TOO_LARGE }, seq);
        }
        // The document forbids empty text (clients send a space); nothing can be shown for it.
        if message.text.is_empty() {
            return conn.send(&ServerPacket::MessageStatus { status: message_status::REJECTED_INTERR }, seq);
        }
        if let [to] = message.to.as_slice() {
            let part = self.deliver_one(to, kind, &message).await;
            return self.acks.push(seq, [part]);
        }
        let mut parts = Vec::with_capacity(message.to.len());
        for to in &message.to {
            parts.push(self.deliver_one(to, kind, &message).await);
        }
        self.acks.push(seq, parts);
    }

    async fn deliver_one(&self, to: &str, kind: MessageKind, sent: &Message) -> Accepted {
        let core = &self.context.core;
        let Some(name) = self.context.config.resolve(to) else {
            return Accepted::ready(Err(CoreError::NoSuchAccount));
        };
        let recipient = match core.account_by_name(&name).await {
            Ok(Some(account)) => account,
            Ok(None) => return Accepted::ready(Err(CoreError::NoSuchAccount)),
            Err(e) => return Accepted::ready(Err(e)),
        };
        let message = switchyard_core::Message {
            from: self.session.account.to_ref(),
            from_display_name: self.nickname.clone(),
            kind,
            text: sent.text.clone(),
            // The RTF part is carried through to MRIM recipients as it came.
            formatted: (sent.flags & message_flag::RTF != 0 && !sent.rtf.is_empty())
                .then(|| Formatted::MrimRtf(sent.rtf.to_vec())),
            font: None,
            wants_receipt: sent.flags & message_flag::NORECV == 0,
            sent_at: i64::from(now_secs()),
        };
        core.accept(recipient.id, message).await
    }
}

/// The `MESSAGE_STATUS` of a message once it is settled.
pub(super) fn status_of(outcome: Result<Delivery, CoreError>) -> u32 {
    match outcome {
        Ok(Delivery::Live | Delivery::Queued(_) | Delivery::Ignored) => message_status::DELIVERED,
        Err(CoreError::NoSuchAccount) => message_status::REJECTED_NOUSER,
        Err(CoreError::QueueFull) => message_status::REJECTED_LIMIT_EXCEEDED,
        Err(CoreError::NotOnline) => message_status::REJECTED_DENY_OFFMSG,
        Err(CoreError::NotAllowed) => message_status::REJECTED_PERMISSION,
        Err(e) => {
            tracing::error!(error = %e, "delivery failed");
            message_status::REJECTED_INTERR
        }
    }
}

/// A queue id as the document's UIDL: eight characters (here hexadecimal digits).
fn uidl_of(id: i64) -> [u8; 8] {
    let mut uidl = [0; 8];
    uidl.copy_from_slice(format!("{:08X}", id as u32).as_bytes());
    uidl
}

fn id_of_uidl(uidl: &[u8; 8]) -> Option<i64> {
    let text = std::str::from_utf8(uidl).ok()?;
    u32::from_str_radix(text, 16).ok().map(i64::from)
}

/// The `MESSAGE_ACK` / offline-message flags that say what kind of message this is.
pub(super) fn flags_of(kind: MessageKind) -> u32 {
    match kind {
        MessageKind::AuthorizationRequest => message_flag::AUTHORIZE,
        MessageKind::Typing => message_flag::NOTIFY,
        MessageKind::ContactList => message_flag::CONTACT,
        MessageKind::SystemNotice | MessageKind::Broadcast | MessageKind::ContactAdded => message_flag::SYSTEM,
        MessageKind::Text
        | MessageKind::AutoReply
        | MessageKind::AuthorizationGranted
        | MessageKind::AuthorizationDenied => 0,
        // Never shown to MRIM users (see `Session::event`).
        MessageKind::DirectConnectionRequest
        | MessageKind::DirectConnectionAccepted
        | MessageKind::DirectConnectionRejected => 0,
    }
}
