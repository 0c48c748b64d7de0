//! Persistence behind one small trait; the server picks an implementation at start-up.

use crate::account::{Account, AccountId, AccountName, AccountRef};
use crate::privacy::{AddPolicy, Privacy, RelationFlags, ReverseListPrompt};
use crate::profile::{Profile, SearchQuery};
use crate::secrets::Secrets;
use async_trait::async_trait;
use copy::{StoreCounts, StoreRows};
use tokio::sync::mpsc;

pub mod codes;
pub mod copy;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an account named {0} already exists")]
    NameTaken(AccountName),
    #[error("{0} is digits only, as MyICQ numbers are: such names belong to the account with that number; choose one with a letter")]
    NumericName(AccountName),
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// `text` for SQL's `LIKE … ESCAPE '\'`: its `%`, `_` and `\` match only themselves.
pub fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Per-account settings that travel with the contact lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSettings {
    /// Serial number of the lists and settings; grows by one with every change.
    pub version: u32,
    pub privacy: Privacy,
    pub prompt: ReverseListPrompt,
    pub add_policy: AddPolicy,
}

/// One account related to the list owner in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub other: AccountRef,
    /// Name the owner gave this contact (empty when the owner has no relation to them).
    pub display_name: String,
    /// Owner → other.
    pub flags: RelationFlags,
    /// Other → owner: `FORWARD` here puts `other` on the owner's reverse list.
    pub their_flags: RelationFlags,
    /// The other's privacy mode: with `their_flags`, whether they let the owner see them.
    pub their_privacy: Privacy,
    /// The owner's groups this contact is in, in group order.
    pub groups: Vec<GroupId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub i64);

/// A named group of an owner's contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactGroup {
    pub id: GroupId,
    pub name: String,
}

/// The list versions after a relation change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionsAfterChange {
    pub owner: u32,
    /// The target's version, when its reverse list changed (the `FORWARD` flag moved).
    pub target: Option<u32>,
}

/// A message waiting for a recipient who was offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineMessage {
    pub sender: AccountId,
    pub recipient: AccountId,
    pub kind: MessageKind,
    pub text: String,
    /// Seconds since the Unix epoch when the sender sent it.
    pub sent_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MessageKind {
    Text,
    AuthorizationRequest,
    AuthorizationGranted,
    AuthorizationDenied,
    ContactList,
    SystemNotice,
    Broadcast,
    /// "Is typing": delivered live or not at all.
    Typing,
    /// Sent automatically while the sender is away.
    AutoReply,
    /// The sender put the recipient on their contact list.
    ContactAdded,
    /// Offers a direct (peer-to-peer) connection. The offering client's own description of it
    /// (addresses, ports) travels in [`crate::Message::formatted`], for clients of its protocol.
    /// These three are delivered live or not at all: an offer is stale by the next login.
    DirectConnectionRequest,
    DirectConnectionAccepted,
    DirectConnectionRejected,
}

impl MessageKind {
    /// Every kind, in the order of their stable storage codes: new kinds go at the end.
    pub const ALL: [MessageKind; 13] = [
        MessageKind::Text,
        MessageKind::AuthorizationRequest,
        MessageKind::AuthorizationGranted,
        MessageKind::AuthorizationDenied,
        MessageKind::ContactList,
        MessageKind::SystemNotice,
        MessageKind::Broadcast,
        MessageKind::Typing,
        MessageKind::AutoReply,
        MessageKind::ContactAdded,
        MessageKind::DirectConnectionRequest,
        MessageKind::DirectConnectionAccepted,
        MessageKind::DirectConnectionRejected,
    ];

    /// Kinds that mean nothing once the moment has passed: never queued for later.
    pub fn is_live_only(self) -> bool {
        self == MessageKind::Typing || self.is_direct_connection()
    }

    /// Negotiation of a peer-to-peer connection, meaningful only between clients of one protocol.
    pub fn is_direct_connection(self) -> bool {
        matches!(
            self,
            MessageKind::DirectConnectionRequest
                | MessageKind::DirectConnectionAccepted
                | MessageKind::DirectConnectionRejected
        )
    }

    /// Stable number used in storage.
    pub fn code(self) -> i64 {
        MessageKind::ALL.iter().position(|k| *k == self).expect("listed") as i64
    }

    pub fn from_code(code: i64) -> Option<MessageKind> {
        usize::try_from(code).ok().and_then(|i| MessageKind::ALL.get(i).copied())
    }
}

/// A queued offline message with its queue id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: i64,
    pub message: OfflineMessage,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account with the next free UIN (10001 upwards).
    async fn create_account(
        &self,
        name: &AccountName,
        password: &str,
        nickname: Option<&str>,
    ) -> Result<Account, StoreError>;
    async fn account_by_name(&self, name: &AccountName) -> Result<Option<Account>, StoreError>;
    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError>;
    async fn account_by_uin(&self, uin: u32) -> Result<Option<Account>, StoreError>;
    /// Creates an account named after its own UIN (`"10042"`), for a registration that chose
    /// no name (MyICQ's `NEW_UIN`); `"icq-10042"` if that name is taken already.
    async fn create_numbered_account(&self, password: &str) -> Result<Account, StoreError>;
    async fn set_nickname(&self, id: AccountId, nickname: Option<&str>) -> Result<(), StoreError>;
    async fn accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Up to `limit` accounts whose name contains `fragment`, by name: the operator's search.
    async fn find_accounts(&self, fragment: &str, limit: usize) -> Result<Vec<Account>, StoreError>;
    /// Removes the account, its relations in both directions and its queued messages.
    async fn delete_account(&self, id: AccountId) -> Result<bool, StoreError>;
    /// Replaces the account's secrets with those of a new password (and a new salt).
    async fn set_password(&self, id: AccountId, password: &str) -> Result<(), StoreError>;
    /// What logins are checked against; the password itself is never stored. `None` for a
    /// disabled account.
    async fn secrets(&self, id: AccountId) -> Result<Option<Secrets>, StoreError>;
    /// Disables the account (it keeps everything, but its secrets are given out no more, so it
    /// cannot log in anywhere) or enables it again. Returns whether the account exists.
    async fn set_disabled(&self, id: AccountId, disabled: bool) -> Result<bool, StoreError>;
    /// Whether the account is disabled (`false` for no such account).
    async fn is_disabled(&self, id: AccountId) -> Result<bool, StoreError>;
    /// The account named `name` and its secrets, in one lookup: what a login by name needs.
    async fn account_with_secrets(&self, name: &AccountName) -> Result<Option<(Account, Secrets)>, StoreError>;

    async fn list_settings(&self, id: AccountId) -> Result<ListSettings, StoreError>;
    /// Sets the privacy mode and returns the new list version.
    async fn set_privacy(&self, id: AccountId, privacy: Privacy) -> Result<u32, StoreError>;
    /// Sets the reverse-list prompt and returns the new list version.
    async fn set_prompt(&self, id: AccountId, prompt: ReverseListPrompt) -> Result<u32, StoreError>;

    /// Sets who may add the user and returns the new list version.
    async fn set_add_policy(&self, id: AccountId, policy: AddPolicy) -> Result<u32, StoreError>;

    /// Every account related to `owner` in either direction, ordered by name.
    async fn relations(&self, owner: AccountId) -> Result<Vec<Relation>, StoreError>;
    /// The owner's list settings and relations, as of one moment where the store can (in one
    /// statement on PostgreSQL): what a list synchronization sends.
    async fn contact_list(&self, owner: AccountId) -> Result<(ListSettings, Vec<Relation>), StoreError> {
        Ok((self.list_settings(owner).await?, self.relations(owner).await?))
    }
    /// [`Store::contact_list`] and the owner's groups in creation order, as of one moment where
    /// the store can: what a client's first list shows.
    async fn contact_list_with_groups(
        &self,
        owner: AccountId,
    ) -> Result<(ListSettings, Vec<Relation>, Vec<ContactGroup>), StoreError> {
        let (settings, relations) = self.contact_list(owner).await?;
        Ok((settings, relations, self.groups(owner).await?))
    }
    /// The owner's flags toward `target` (empty when unrelated).
    async fn relation_flags(&self, owner: AccountId, target: AccountId) -> Result<RelationFlags, StoreError>;
    /// How many relations of `owner` carry `flag`.
    async fn count_with_flag(&self, owner: AccountId, flag: RelationFlags) -> Result<usize, StoreError>;
    /// Atomically replaces the flags (removing the relation when they become empty), keeps or
    /// sets the display name, and bumps the owner's version — and the target's when `FORWARD`
    /// changed, since that is the target's reverse list.
    async fn set_relation(
        &self,
        owner: AccountId,
        target: AccountId,
        flags: RelationFlags,
        display_name: Option<&str>,
    ) -> Result<VersionsAfterChange, StoreError>;

    /// What the user tells about themselves (empty until set).
    async fn profile(&self, id: AccountId) -> Result<Profile, StoreError>;
    async fn set_profile(&self, id: AccountId, profile: &Profile) -> Result<(), StoreError>;
    /// Accounts matching every criterion, by name, at most `limit`.
    async fn search(&self, query: &SearchQuery, limit: usize) -> Result<Vec<(Account, Profile)>, StoreError>;

    /// The owner's groups in creation order.
    async fn groups(&self, owner: AccountId) -> Result<Vec<ContactGroup>, StoreError>;
    /// The owner's groups; an owner without any first gets one named `default` (and a new
    /// list version), in one statement where the store can.
    async fn groups_or_default(&self, owner: AccountId, default: &str) -> Result<Vec<ContactGroup>, StoreError> {
        let groups = self.groups(owner).await?;
        if !groups.is_empty() {
            return Ok(groups);
        }
        Ok(vec![self.create_group(owner, default).await?.0])
    }
    /// Creates a group and bumps the owner's version; returns the group and the version.
    async fn create_group(&self, owner: AccountId, name: &str) -> Result<(ContactGroup, u32), StoreError>;
    /// Renames a group; `None` when the owner has no such group.
    async fn rename_group(&self, owner: AccountId, id: GroupId, name: &str) -> Result<Option<u32>, StoreError>;
    /// Deletes a group (its contacts stay, outside it); `None` when there is no such group.
    async fn delete_group(&self, owner: AccountId, id: GroupId) -> Result<Option<u32>, StoreError>;
    /// Puts an existing contact in exactly these groups of the owner; returns the new version.
    async fn set_contact_groups(
        &self,
        owner: AccountId,
        target: AccountId,
        groups: &[GroupId],
    ) -> Result<u32, StoreError>;

    async fn enqueue_offline(&self, message: &OfflineMessage) -> Result<i64, StoreError>;
    /// How many messages wait for `recipient`.
    async fn offline_count(&self, recipient: AccountId) -> Result<usize, StoreError>;
    /// Messages in the durable queue, for everyone: the operator's gauge.
    async fn offline_total(&self) -> Result<u64, StoreError>;
    /// Queued messages for `recipient`, oldest first.
    async fn offline_messages(&self, recipient: AccountId) -> Result<Vec<StoredMessage>, StoreError>;
    async fn delete_offline(&self, recipient: AccountId, id: i64) -> Result<bool, StoreError>;
    /// Leaves what the store holds tidy for the next start (SQLite: the WAL checkpointed into
    /// the database file); called once at shutdown, after the last write.
    async fn close(&self) {}
    /// Queues `new` messages and deletes the `done` ones (recipient, id), as one transaction
    /// where the store has them; returns the new messages' ids, in order, `None` for one whose
    /// sender or recipient no longer exists. The delivery journal's one write per batch.
    async fn update_queue(
        &self,
        new: Vec<OfflineMessage>,
        done: Vec<(AccountId, i64)>,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let mut ids = Vec::with_capacity(new.len());
        for message in &new {
            let exists = self.account_by_id(message.recipient).await?.is_some()
                && self.account_by_id(message.sender).await?.is_some();
            ids.push(if exists { Some(self.enqueue_offline(message).await?) } else { None });
        }
        for (recipient, id) in done {
            self.delete_offline(recipient, id).await?;
        }
        Ok(ids)
    }

    /// Stores a message for everyone and returns its id (ids grow). Each account reads the
    /// broadcasts after its own mark; new accounts start past every broadcast already sent.
    async fn add_broadcast(
        &self,
        sender: AccountId,
        kind: MessageKind,
        text: &str,
        sent_at: i64,
    ) -> Result<i64, StoreError>;
    /// The newest `limit` broadcasts `recipient` has not marked seen, oldest first (each with
    /// `recipient` as its recipient).
    async fn unseen_broadcasts(&self, recipient: AccountId, limit: usize) -> Result<Vec<StoredMessage>, StoreError>;
    /// What waits for `recipient` at login: [`Store::offline_messages`] and
    /// [`Store::unseen_broadcasts`], in one statement where the store can.
    async fn waiting_messages(
        &self,
        recipient: AccountId,
        broadcast_limit: usize,
    ) -> Result<(Vec<StoredMessage>, Vec<StoredMessage>), StoreError> {
        Ok((self.offline_messages(recipient).await?, self.unseen_broadcasts(recipient, broadcast_limit).await?))
    }
    /// Marks every broadcast up to `id` seen by `recipient` (a mark never moves back).
    async fn mark_broadcasts_seen(&self, recipient: AccountId, id: i64) -> Result<(), StoreError>;

    /// Sends every row, with its id, in batches of at most [`copy::BATCH`], in the order of
    /// [`StoreRows`]'s variants, as of one moment. Stops early, without an error, when the
    /// receiver is dropped.
    async fn export(&self, _to: mpsc::Sender<StoreRows>) -> Result<(), StoreError> {
        Err(StoreError::Backend("this store cannot be copied".into()))
    }
    /// Writes what an export sent into this store, which must hold no accounts yet: all of it,
    /// or (on any error, or a sender dropped before [`StoreRows::NextIds`]) nothing.
    async fn import(&self, _from: mpsc::Receiver<StoreRows>) -> Result<(), StoreError> {
        Err(StoreError::Backend("this store cannot be copied into".into()))
    }
    /// How many rows of each kind the store holds.
    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        Err(StoreError::Backend("this store cannot count its rows".into()))
    }
}
