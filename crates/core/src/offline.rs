//! The durable queue of messages for users who were offline. A message leaves the queue only
//! when the recipient's front confirms delivery, so a crash or a dropped connection redelivers.

use crate::account::AccountId;
use crate::error::CoreError;
use crate::store::{OfflineMessage, StoredMessage};
use crate::Core;
use std::collections::HashSet;

/// The queued messages a session has shown its client, so that reading the queue again (on
/// [`crate::Event::OfflineWaiting`]) brings only what is new. It holds only ids still queued
/// at the last read, so it never outgrows the queue.
#[derive(Debug, Default)]
pub struct ShownQueue {
    ids: HashSet<i64>,
}

impl Core {
    /// Stores a message durably; once this returns, the sender may be told it was delivered.
    pub async fn queue_offline(&self, message: &OfflineMessage) -> Result<i64, CoreError> {
        let id = self.store().enqueue_offline(message).await?;
        // A session of the recipient's may have read the queue before this message was in it
        // (it logged in meanwhile): have it read again, or the message would wait for the next
        // login.
        self.notify(message.recipient, crate::Event::OfflineWaiting);
        Ok(id)
    }

    /// Messages waiting for `recipient` that `shown` does not hold, oldest first; from now on
    /// they count as shown.
    pub async fn pending_offline(
        &self,
        recipient: AccountId,
        shown: &mut ShownQueue,
    ) -> Result<Vec<StoredMessage>, CoreError> {
        let queued = self.store().offline_messages(recipient).await?;
        let before = std::mem::replace(&mut shown.ids, queued.iter().map(|m| m.id).collect());
        Ok(queued.into_iter().filter(|m| !before.contains(&m.id)).collect())
    }

    /// Removes a delivered message; false when it was not queued for this recipient.
    pub async fn acknowledge_offline(&self, recipient: AccountId, id: i64) -> Result<bool, CoreError> {
        Ok(self.store().delete_offline(recipient, id).await?)
    }
}
