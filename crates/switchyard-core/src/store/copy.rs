//! What `switchyard store copy` moves between stores: every row, with its id, in batches.
//!
//! Ids travel unchanged (a MyICQ UIN is 10000 + the account id, and clients remember group
//! ids), and so do the counters that hand out the next ones, so that a number a deleted
//! account had is not given again after the move.

use crate::account::Account;
use crate::privacy::RelationFlags;
use crate::profile::Profile;
use crate::secrets::Secrets;
use crate::store::{ContactGroup, GroupId, ListSettings, StoredMessage};
use crate::AccountId;

/// Rows per batch: small enough to keep a copy's memory flat, large enough to keep it quick.
pub const BATCH: usize = 1000;

/// One batch of rows of one kind. An export sends them in the order of the variants, so that
/// every row's references exist when it is imported.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreRows {
    Accounts(Vec<AccountRow>),
    Contacts(Vec<ContactRow>),
    Groups(Vec<GroupRow>),
    Members(Vec<MemberRow>),
    Offline(Vec<StoredMessage>),
    /// Broadcasts as stored messages whose recipient is their sender.
    Broadcasts(Vec<StoredMessage>),
    /// Sent last.
    NextIds(NextIds),
}

/// An account with everything kept on its row.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRow {
    pub account: Account,
    pub secrets: Secrets,
    pub settings: ListSettings,
    pub profile: Profile,
    pub created_at: i64,
    pub broadcasts_seen: i64,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    pub owner: AccountId,
    pub target: AccountId,
    pub flags: RelationFlags,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub owner: AccountId,
    pub group: ContactGroup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRow {
    pub owner: AccountId,
    pub target: AccountId,
    pub group: GroupId,
}

/// The ids each table hands out next: past every row it ever held, not only those left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NextIds {
    pub account: i64,
    pub group: i64,
    pub offline: i64,
    pub broadcast: i64,
}

impl NextIds {
    /// The tables the ids are of, as both SQL stores name them, in the order of
    /// [`NextIds::by_table`] and [`NextIds::from`].
    pub const TABLES: [&'static str; 4] = ["accounts", "contact_groups", "offline_messages", "broadcasts"];

    /// Each table of [`NextIds::TABLES`] with its next id.
    pub fn by_table(&self) -> [(&'static str, i64); 4] {
        let [a, g, o, b] = Self::TABLES;
        [(a, self.account), (g, self.group), (o, self.offline), (b, self.broadcast)]
    }
}

impl From<[i64; 4]> for NextIds {
    /// The next ids of [`NextIds::TABLES`], in that order.
    fn from([account, group, offline, broadcast]: [i64; 4]) -> NextIds {
        NextIds { account, group, offline, broadcast }
    }
}

/// How many rows of each kind a store holds: what a copy checks on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreCounts {
    pub accounts: u64,
    pub contacts: u64,
    pub groups: u64,
    pub members: u64,
    pub offline: u64,
    pub broadcasts: u64,
}

impl std::fmt::Display for StoreCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} accounts, {} contact relations, {} groups, {} group memberships, {} offline messages, {} broadcasts",
            self.accounts, self.contacts, self.groups, self.members, self.offline, self.broadcasts
        )
    }
}
