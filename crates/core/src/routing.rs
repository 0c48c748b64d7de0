//! Routing a message to the one session that needs it, or to the durable offline queue.

use crate::account::{AccountId, AccountRef};
use crate::error::CoreError;
use crate::hub::Event;
use crate::privacy::{allows, RelationFlags};
use crate::store::{MessageKind, OfflineMessage};
use crate::Core;

/// A message on its way to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from: AccountRef,
    /// The name the sender shows.
    pub from_display_name: String,
    pub kind: MessageKind,
    pub text: String,
    /// A formatted copy in the sender's own format, for recipients of the same protocol
    /// (MRIM: base64 of zlib-packed RTF; MyICQ: a peer-to-peer offer's fields). Delivered live
    /// only; the text is what is stored.
    pub formatted: Option<Vec<u8>>,
    /// The typeface the sender wrote in, where their client says.
    pub font: Option<Font>,
    /// Whether the sender asks the recipient's client to confirm receipt (MRIM: not `NORECV`).
    pub wants_receipt: bool,
    /// Seconds since the Unix epoch when it was sent.
    pub sent_at: i64,
}

/// How the sender's text looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Font {
    pub name: String,
    /// In points.
    pub size: u8,
    /// `0xRRGGBB`.
    pub color: u32,
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
}

impl Message {
    /// The durable form of this message, waiting for `recipient`.
    pub fn queued_for(&self, recipient: AccountId) -> OfflineMessage {
        OfflineMessage {
            sender: self.from.id,
            recipient,
            kind: self.kind,
            text: self.text.clone(),
            sent_at: self.sent_at,
        }
    }
}

/// Seconds since the Unix epoch: what [`Message::sent_at`] holds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Where a message went. In every case the sender may be told it was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the recipient's live session.
    Live,
    /// Stored durably under this queue id, for the recipient's next login.
    Queued(i64),
    /// The recipient ignores the sender: dropped without telling the sender, as clients expect.
    Ignored,
}

impl Core {
    /// Delivers `message` to `to`'s session, or queues it when they are offline or their
    /// session cannot take it. Refused when the recipient does not let the sender reach them,
    /// when their queue is full, and for typing notices nobody is there to see.
    pub async fn deliver(&self, to: AccountId, message: Message) -> Result<Delivery, CoreError> {
        // An online recipient exists and carries its privacy mode; only others need the store.
        let privacy = match self.online_privacy(to) {
            Some(privacy) => privacy,
            None => {
                self.store().account_by_id(to).await?.ok_or(CoreError::NoSuchAccount)?;
                self.store().list_settings(to).await?.privacy
            }
        };
        let flags = self.flags_toward(to, message.from.id).await?;
        if flags.contains(RelationFlags::IGNORE) {
            return Ok(Delivery::Ignored);
        }
        // Asking for authorization is how one becomes allowed, so only a block stops it.
        let asking = message.kind == MessageKind::AuthorizationRequest;
        let may_ask = asking && !flags.contains(RelationFlags::BLOCK);
        if !allows(privacy, flags) && !may_ask {
            return Err(CoreError::NotAllowed);
        }
        let queued = message.queued_for(to);
        let live_only = message.kind.is_live_only();
        if self.notify(to, Event::Message(message)) {
            return Ok(Delivery::Live);
        }
        if live_only {
            return Err(CoreError::NotOnline);
        }
        self.after_unread_of_ended_session(to).await;
        if self.store().offline_count(to).await? >= self.config().max_offline_messages {
            return Err(CoreError::QueueFull);
        }
        Ok(Delivery::Queued(self.queue_offline(&queued).await?))
    }
}
