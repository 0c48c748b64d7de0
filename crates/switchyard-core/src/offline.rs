//! The durable queue of messages for users who were offline, or whose session could not take
//! them. A message leaves the queue only when the recipient's front confirms delivery, so a
//! crash or a dropped connection redelivers.

use crate::account::AccountId;
use crate::error::CoreError;
use crate::store::StoredMessage;
use crate::Core;
use std::collections::HashSet;

/// The queued messages a session has shown its client, so that reading the queue again (on
/// [`crate::Event::OfflineWaiting`]) brings only what is new. It holds only ids still queued
/// at the last read, so it never outgrows the queue.
#[derive(Debug, Default)]
pub struct ShownQueue {
    ids: HashSet<i64>,
}

impl ShownQueue {
    /// Counts a message as not shown after all: the next read brings it again.
    pub fn forget(&mut self, id: i64) {
        self.ids.remove(&id);
    }
}

impl Core {
    /// Messages waiting for `recipient` that `shown` does not hold, oldest first; from now on
    /// they count as shown. Those a live session is carrying to its client are left out: they
    /// come from there (or, if that session gives them up, at the next read).
    pub async fn pending_offline(
        &self,
        recipient: AccountId,
        shown: &mut ShownQueue,
    ) -> Result<Vec<StoredMessage>, CoreError> {
        let queued = self.store().offline_messages(recipient).await?;
        Ok(self.not_shown(queued, shown))
    }

    /// What waits for a session that just came online: [`Core::pending_offline`], and the
    /// newest `broadcast_limit` broadcasts `recipient` has not seen, from one read.
    pub async fn waiting_at_login(
        &self,
        recipient: AccountId,
        shown: &mut ShownQueue,
        broadcast_limit: usize,
    ) -> Result<(Vec<StoredMessage>, Vec<StoredMessage>), CoreError> {
        let (queued, broadcasts) = self.store().waiting_messages(recipient, broadcast_limit).await?;
        Ok((self.not_shown(queued, shown), broadcasts))
    }

    fn not_shown(&self, mut queued: Vec<StoredMessage>, shown: &mut ShownQueue) -> Vec<StoredMessage> {
        queued.retain(|m| !self.journal().is_held(m.id));
        let before = std::mem::replace(&mut shown.ids, queued.iter().map(|m| m.id).collect());
        queued.into_iter().filter(|m| !before.contains(&m.id)).collect()
    }

    /// Deletes a queued message its recipient's client received (with the journal's next
    /// write, so a crash just before it brings the message once more).
    pub fn acknowledge_offline(&self, recipient: AccountId, id: i64) {
        self.journal().forget(recipient, id);
    }
}
