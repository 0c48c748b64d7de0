//! Routing a message to the one session that needs it, or to the durable offline queue.

use crate::account::{AccountId, AccountRef};
use crate::error::CoreError;
use crate::hub::Event;
use crate::privacy::allows;
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
    /// Seconds since the Unix epoch when it was sent.
    pub sent_at: i64,
}

/// Where a message went. Either way the sender may be told it was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the recipient's live session.
    Live,
    /// Stored durably under this queue id, for the recipient's next login.
    Queued(i64),
}

impl Core {
    /// Delivers `message` to `to`'s session, or queues it when they are offline or their
    /// session cannot take it. Refused when the recipient does not let the sender reach them.
    pub async fn deliver(&self, to: AccountId, message: Message) -> Result<Delivery, CoreError> {
        self.store().account_by_id(to).await?.ok_or(CoreError::NoSuchAccount)?;
        let privacy = match self.online_privacy(to) {
            Some(privacy) => privacy,
            None => self.store().list_settings(to).await?.privacy,
        };
        let flags = self.store().relation_flags(to, message.from.id).await?;
        if !allows(privacy, flags) {
            return Err(CoreError::NotAllowed);
        }
        let queued = OfflineMessage {
            sender: message.from.id,
            recipient: to,
            kind: message.kind,
            text: message.text.clone(),
            sent_at: message.sent_at,
        };
        if self.notify(to, Event::Message(message)) {
            return Ok(Delivery::Live);
        }
        Ok(Delivery::Queued(self.store().enqueue_offline(&queued).await?))
    }
}
