//! Contact lists: forward (watching), allow and block, with the derived reverse list.

use crate::account::{Account, AccountId, AccountName, AccountRef};
use crate::error::CoreError;
use crate::hub::Event;
use crate::presence::Presence;
use crate::privacy::{Privacy, RelationFlags, ReverseListPrompt};
use crate::profile::{Profile, SearchQuery};
use crate::store::{ContactGroup, GroupId, ListSettings, Relation};
use crate::Core;

/// A list the user edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Forward,
    Allow,
    Block,
}

impl ListKind {
    pub fn flag(self) -> RelationFlags {
        match self {
            ListKind::Forward => RelationFlags::FORWARD,
            ListKind::Allow => RelationFlags::ALLOW,
            ListKind::Block => RelationFlags::BLOCK,
        }
    }

    /// The list an entry may not be on at the same time.
    fn opposite(self) -> RelationFlags {
        match self {
            ListKind::Forward => RelationFlags::NONE,
            ListKind::Allow => RelationFlags::BLOCK,
            ListKind::Block => RelationFlags::ALLOW,
        }
    }
}

/// One entry of a list as a client shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub account: AccountRef,
    pub display_name: String,
}

/// A user's lists and settings at one version.
#[derive(Debug, Clone)]
pub struct ContactList {
    pub settings: ListSettings,
    pub relations: Vec<Relation>,
}

impl ContactList {
    /// Entries of one of the user's own lists, in name order.
    pub fn entries(&self, kind: ListKind) -> impl Iterator<Item = ListEntry> + '_ {
        self.relations
            .iter()
            .filter(move |r| r.flags.contains(kind.flag()))
            .map(|r| ListEntry { account: r.other.clone(), display_name: r.display_name.clone() })
    }

    /// The users who have this user on their forward list.
    pub fn reverse(&self) -> impl Iterator<Item = &AccountRef> + '_ {
        self.relations.iter().filter(|r| r.their_flags.contains(RelationFlags::FORWARD)).map(|r| &r.other)
    }
}

impl Core {
    pub async fn contact_list(&self, owner: AccountId) -> Result<ContactList, CoreError> {
        let (settings, relations) = self.store().contact_list(owner).await?;
        self.learn_online_privacy(owner, settings.privacy);
        Ok(ContactList { settings, relations })
    }

    /// The list and the groups a client is first shown, in one read where the store can.
    pub async fn contact_list_with_groups(
        &self,
        owner: AccountId,
    ) -> Result<(ContactList, Vec<ContactGroup>), CoreError> {
        let (settings, relations, groups) = self.store().contact_list_with_groups(owner).await?;
        self.learn_online_privacy(owner, settings.privacy);
        Ok((ContactList { settings, relations }, groups))
    }

    /// Puts `target` on one of `owner`'s lists; returns the target and the owner's new version.
    pub async fn add_to_list(
        &self,
        owner: &Account,
        kind: ListKind,
        target: &AccountName,
        display_name: &str,
    ) -> Result<(AccountRef, u32), CoreError> {
        let target = self.store().account_by_name(target).await?.ok_or(CoreError::NoSuchAccount)?.to_ref();
        let flags = self.store().relation_flags(owner.id, target.id).await?;
        if flags.contains(kind.flag()) {
            return Err(CoreError::AlreadyOnList);
        }
        if !kind.opposite().is_empty() && flags.contains(kind.opposite()) {
            return Err(CoreError::OnOppositeList);
        }
        if self.store().count_with_flag(owner.id, kind.flag()).await? >= self.config().max_list_entries {
            return Err(CoreError::ListFull);
        }
        // An empty name leaves the one the owner gave before, if any.
        let display_name = (!display_name.is_empty()).then_some(display_name);
        let version = self.change_relation(owner, &target, flags, flags | kind.flag(), display_name).await?;
        Ok((target, version))
    }

    /// Takes `target` off one of `owner`'s lists; returns the target and the owner's new version.
    pub async fn remove_from_list(
        &self,
        owner: &Account,
        kind: ListKind,
        target: &AccountName,
    ) -> Result<(AccountRef, u32), CoreError> {
        let target = self.store().account_by_name(target).await?.ok_or(CoreError::NotOnList)?.to_ref();
        let flags = self.store().relation_flags(owner.id, target.id).await?;
        if !flags.contains(kind.flag()) {
            return Err(CoreError::NotOnList);
        }
        let version = self.change_relation(owner, &target, flags, flags - kind.flag(), None).await?;
        Ok((target, version))
    }

    /// Renames a contact on `owner`'s forward list; returns the owner's new list version.
    pub async fn rename_contact(&self, owner: &Account, target: &AccountRef, name: &str) -> Result<u32, CoreError> {
        let flags = self.store().relation_flags(owner.id, target.id).await?;
        if !flags.contains(RelationFlags::FORWARD) {
            return Err(CoreError::NotOnList);
        }
        self.change_relation(owner, target, flags, flags, Some(name)).await
    }

    /// `owner` lets `target` see them and reach them whatever their privacy mode (on the allow
    /// list, off the block list), and `target` is told. Granting twice is not an error.
    pub async fn authorize(&self, owner: &Account, target: &AccountName) -> Result<AccountRef, CoreError> {
        let target = self.store().account_by_name(target).await?.ok_or(CoreError::NoSuchAccount)?.to_ref();
        let flags = self.store().relation_flags(owner.id, target.id).await?;
        let granted = (flags - RelationFlags::BLOCK) | RelationFlags::ALLOW;
        self.write_relation(owner, &target, granted, None).await?;
        // Only the target's view of the owner can change. It hears of the grant first and then
        // what it sees, even if that did not change: Mail.Ru clients ignore the status of a
        // contact who has not authorized them, so one sent before the grant was lost.
        self.notify(target.id, Event::Authorized { by: owner.to_ref() });
        if self.store().relation_flags(target.id, owner.id).await?.contains(RelationFlags::FORWARD) {
            let presence = self.presence_seen_by(owner.id, granted);
            self.notify(target.id, Event::Presence { contact: owner.to_ref(), presence });
        }
        Ok(target)
    }

    /// Replaces `owner`'s flags toward `target` (`before` → `after`) and tells whoever it
    /// concerns: the target when its reverse list changed, watchers whose view of the owner
    /// changed. Returns the owner's new list version.
    pub async fn change_relation(
        &self,
        owner: &Account,
        target: &AccountRef,
        before: RelationFlags,
        after: RelationFlags,
        display_name: Option<&str>,
    ) -> Result<u32, CoreError> {
        let version = self.write_relation(owner, target, after, display_name).await?;
        const VISIBILITY: RelationFlags = RelationFlags(
            RelationFlags::ALLOW.0
                | RelationFlags::BLOCK.0
                | RelationFlags::VISIBLE_TO.0
                | RelationFlags::INVISIBLE_TO.0,
        );
        if (before.0 ^ after.0) & VISIBILITY.0 != 0 {
            let privacy = self.store().list_settings(owner.id).await?.privacy;
            let target_id = target.id;
            let rule = |changed: RelationFlags| {
                move |w: &Relation| (privacy, if w.other.id == target_id { changed } else { w.flags })
            };
            self.reannounce(owner.id, rule(before), rule(after)).await?;
        }
        Ok(version)
    }

    /// Stores `owner`'s flags toward `target` and tells the target when its reverse list
    /// changed; returns the owner's new list version.
    async fn write_relation(
        &self,
        owner: &Account,
        target: &AccountRef,
        after: RelationFlags,
        display_name: Option<&str>,
    ) -> Result<u32, CoreError> {
        let versions = self.store().set_relation(owner.id, target.id, after, display_name).await?;
        self.forget_flags(owner.id, target.id);
        if let Some(version) = versions.target {
            let by = owner.to_ref();
            let event = if after.contains(RelationFlags::FORWARD) {
                Event::AddedBy { by, version }
            } else {
                Event::RemovedBy { by, version }
            };
            self.notify(target.id, event);
        }
        Ok(versions.owner)
    }

    /// Accounts matching `query`, at most `limit`; with `online_only`, just those online and
    /// not invisible.
    pub async fn search(
        &self,
        query: &SearchQuery,
        online_only: bool,
        limit: usize,
    ) -> Result<Vec<(crate::Account, Profile)>, CoreError> {
        if !online_only {
            return Ok(self.store().search(query, limit).await?);
        }
        // The store does not know who is online: ask it for more and keep the online ones.
        let candidates = self.store().search(query, limit.saturating_mul(20).min(2000)).await?;
        Ok(candidates.into_iter().filter(|(a, _)| self.is_visibly_online(a.id)).take(limit).collect())
    }

    pub async fn groups(&self, owner: AccountId) -> Result<Vec<ContactGroup>, CoreError> {
        Ok(self.store().groups(owner).await?)
    }

    /// The owner's groups; an owner without any first gets one named `default`.
    pub async fn groups_or_default(&self, owner: AccountId, default: &str) -> Result<Vec<ContactGroup>, CoreError> {
        // No groups is within any limit: no need to count them first.
        Ok(self.store().groups_or_default(owner, default).await?)
    }

    /// Creates a group; returns it and the owner's new list version.
    pub async fn create_group(&self, owner: AccountId, name: &str) -> Result<(ContactGroup, u32), CoreError> {
        if self.store().groups(owner).await?.len() >= self.config().max_groups {
            return Err(CoreError::GroupLimit);
        }
        Ok(self.store().create_group(owner, name).await?)
    }

    pub async fn rename_group(&self, owner: AccountId, id: GroupId, name: &str) -> Result<u32, CoreError> {
        self.store().rename_group(owner, id, name).await?.ok_or(CoreError::NoSuchGroup)
    }

    /// Deletes a group; its contacts stay on the list, outside it.
    pub async fn delete_group(&self, owner: AccountId, id: GroupId) -> Result<u32, CoreError> {
        self.store().delete_group(owner, id).await?.ok_or(CoreError::NoSuchGroup)
    }

    /// Puts a contact in exactly these groups; groups the owner does not have are ignored.
    pub async fn set_contact_groups(
        &self,
        owner: AccountId,
        target: AccountId,
        groups: &[GroupId],
    ) -> Result<u32, CoreError> {
        Ok(self.store().set_contact_groups(owner, target, groups).await?)
    }

    /// Changes how unlisted users are treated; returns the list version (as it was, when the
    /// mode does not change).
    pub async fn set_privacy(&self, owner: AccountId, privacy: Privacy) -> Result<u32, CoreError> {
        let settings = self.store().list_settings(owner).await?;
        let before = settings.privacy;
        // Setting the mode one has changes nothing (msn-pecan sets it right after every login).
        if before == privacy {
            return Ok(settings.version);
        }
        let version = self.store().set_privacy(owner, privacy).await?;
        self.set_online_privacy(owner, privacy);
        self.reannounce(owner, |w| (before, w.flags), |w| (privacy, w.flags)).await?;
        Ok(version)
    }

    /// Changes the reverse-list prompt setting; returns the list version (as it was, when the
    /// setting does not change).
    pub async fn set_prompt(&self, owner: AccountId, prompt: ReverseListPrompt) -> Result<u32, CoreError> {
        let settings = self.store().list_settings(owner).await?;
        if settings.prompt == prompt {
            return Ok(settings.version);
        }
        Ok(self.store().set_prompt(owner, prompt).await?)
    }

    /// What `viewer` may see of `target` now (for the initial presence after adding a contact).
    pub async fn presence_for(&self, viewer: AccountId, target: &AccountRef) -> Result<Option<Presence>, CoreError> {
        let their_flags = self.store().relation_flags(target.id, viewer).await?;
        Ok(self.presence_seen_by(target.id, their_flags))
    }
}
