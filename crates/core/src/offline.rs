//! The durable queue of messages for users who were offline. A message leaves the queue only
//! when the recipient's front confirms delivery, so a crash or a dropped connection redelivers.

use crate::account::AccountId;
use crate::error::CoreError;
use crate::store::{OfflineMessage, StoredMessage};
use crate::Core;

impl Core {
    /// Stores a message durably; once this returns, the sender may be told it was delivered.
    pub async fn queue_offline(&self, message: &OfflineMessage) -> Result<i64, CoreError> {
        Ok(self.store().enqueue_offline(message).await?)
    }

    /// Messages waiting for `recipient`, oldest first.
    pub async fn pending_offline(&self, recipient: AccountId) -> Result<Vec<StoredMessage>, CoreError> {
        Ok(self.store().offline_messages(recipient).await?)
    }

    /// Removes a delivered message; false when it was not queued for this recipient.
    pub async fn acknowledge_offline(&self, recipient: AccountId, id: i64) -> Result<bool, CoreError> {
        Ok(self.store().delete_offline(recipient, id).await?)
    }
}
