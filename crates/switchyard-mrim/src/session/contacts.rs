//! The contact list as MRIM shows it (groups by position, contacts with their flags), and
//! the packets that change it: `ADD_CONTACT` and `MODIFY_CONTACT` for contacts, groups and
//! shadow entries.

use super::MrimSession;
use crate::status;
use mrim::client::{AddContact, ModifyContact, StatusInfo};
use mrim::codes::{contact_flag, contact_oper};
use mrim::server::{Contact, ContactList, Group};
use mrim::Dialect;
use switchyard_core::privacy::allows;
use switchyard_core::store::Relation;
use switchyard_core::{ContactGroup, CoreError, GroupId, ListKind, RelationFlags};

/// The group an account without groups gets, as on the real service.
const DEFAULT_GROUP: &str = "General";
/// Contact ids come after the group ids, as clients number them (20 plus the position).
const FIRST_CONTACT_ID: u32 = contact_flag::MAX_GROUPS as u32;

impl MrimSession {
    /// The list in the client's dialect, from the user's `relations` and `groups`: the groups,
    /// the forward-list contacts with the visibility flags, whether each has authorized the
    /// user, and what the user sees of them.
    pub(super) async fn contact_list(
        &self,
        dialect: Dialect,
        relations: &[Relation],
        mut groups: Vec<ContactGroup>,
    ) -> Result<ContactList, CoreError> {
        let core = &self.context.core;
        if groups.is_empty() {
            // The account's first MRIM login: it gets the default group.
            groups = self.groups().await?;
        }
        groups.truncate(contact_flag::MAX_GROUPS);
        let unicode = if dialect.unicode_text() { contact_flag::UNICODE_NAME } else { 0 };
        let contacts = relations
            .iter()
            .filter(|r| listed(r.flags))
            .map(|r| {
                let seen = core.seen_through(r).map(|p| p.status);
                let authorized = allows(r.their_privacy, r.their_flags);
                let group = r.groups.first().and_then(|g| groups.iter().position(|c| c.id == *g)).unwrap_or(0);
                let shadow = if r.flags.contains(RelationFlags::FORWARD) { 0 } else { contact_flag::SHADOW };
                Contact {
                    flags: contact_flags(r.flags) | unicode | shadow,
                    group: group as u32,
                    email: self.context.config.email_of(&r.other.name),
                    nickname: if r.display_name.is_empty() { r.other.name.to_string() } else { r.display_name.clone() },
                    server_flags: if authorized { 0 } else { contact_flag::NOT_AUTHORIZED },
                    status: StatusInfo {
                        status: seen.map_or(mrim::codes::status::OFFLINE, status::to_mrim),
                        ..StatusInfo::default()
                    },
                    ..Contact::default()
                }
            })
            .collect();
        let groups = groups
            .iter()
            .enumerate()
            .map(|(i, g)| Group { flags: contact_flag::GROUP | unicode | ((i as u32) << 24), name: g.name.clone() })
            .collect();
        Ok(ContactList { status: contact_oper::SUCCESS, groups, contacts })
    }

    /// The groups MRIM shows, by position (at most 20); an account without any gets the
    /// default group first.
    async fn groups(&self) -> Result<Vec<ContactGroup>, CoreError> {
        let mut groups = self.context.core.groups_or_default(self.session.account.id, DEFAULT_GROUP).await?;
        groups.truncate(contact_flag::MAX_GROUPS);
        Ok(groups)
    }

    /// The group at an MRIM group index, falling back to the first.
    async fn group_at(&self, index: u32) -> Result<GroupId, CoreError> {
        let groups = self.groups().await?;
        Ok(groups.get(index as usize).unwrap_or(&groups[0]).id)
    }

    /// `ADD_CONTACT` with the group flag: a new group, named by the name field (or the address
    /// field, which some clients use); its id is its index.
    async fn add_group(&self, add: &AddContact) -> (u32, u32) {
        let name = if add.name.is_empty() { add.email.as_str() } else { add.name.as_str() };
        let groups = match self.groups().await {
            Ok(groups) => groups,
            Err(_) => return (contact_oper::INTERR, u32::MAX),
        };
        if name.is_empty() {
            return (contact_oper::INVALID_INFO, u32::MAX);
        }
        if groups.len() >= contact_flag::MAX_GROUPS {
            return (contact_oper::GROUP_LIMIT, u32::MAX);
        }
        match self.context.core.create_group(self.session.account.id, name).await {
            Ok(_) => (contact_oper::SUCCESS, groups.len() as u32),
            Err(CoreError::GroupLimit) => (contact_oper::GROUP_LIMIT, u32::MAX),
            Err(e) => {
                tracing::error!(error = %e, "group creation failed");
                (contact_oper::INTERR, u32::MAX)
            }
        }
    }

    /// `MODIFY_CONTACT` with the group flag: the id is the group's index; rename or remove it.
    async fn modify_group(&self, modify: &ModifyContact) -> u32 {
        let core = &self.context.core;
        let me = self.session.account.id;
        let Ok(groups) = self.groups().await else { return contact_oper::INTERR };
        let Some(group) = groups.get(modify.id as usize) else { return contact_oper::ERROR };
        let result = if modify.flags & contact_flag::REMOVED != 0 {
            core.delete_group(me, group.id).await
        } else {
            let name = if modify.name.is_empty() { modify.contact.as_str() } else { modify.name.as_str() };
            if name.is_empty() {
                return contact_oper::INVALID_INFO;
            }
            core.rename_group(me, group.id, name).await
        };
        match result {
            Ok(_) => contact_oper::SUCCESS,
            Err(CoreError::NoSuchGroup) => contact_oper::ERROR,
            Err(e) => {
                tracing::error!(error = %e, "group change failed");
                contact_oper::INTERR
            }
        }
    }

    pub(super) async fn add_contact(&self, add: AddContact) -> (u32, u32) {
        const FAILED: u32 = u32::MAX;
        if add.flags & contact_flag::GROUP != 0 {
            return self.add_group(&add).await;
        }
        let core = &self.context.core;
        let Some(name) = self.context.config.resolve(&add.email) else { return (contact_oper::NO_SUCH_USER, FAILED) };
        let me = &self.session.account;
        let display = if add.name.is_empty() { add.email.as_str() } else { add.name.as_str() };
        if add.flags & contact_flag::SHADOW != 0 {
            return self.add_shadow(&name, visibility_flags(add.flags), display).await;
        }
        let target = match core.add_to_list(me, ListKind::Forward, &name, display).await {
            Ok((target, _)) => target,
            Err(CoreError::NoSuchAccount) => return (contact_oper::NO_SUCH_USER, FAILED),
            Err(CoreError::AlreadyOnList) => return (contact_oper::USER_EXISTS, FAILED),
            Err(CoreError::ListFull) => return (contact_oper::ERROR, FAILED),
            Err(e) => {
                tracing::error!(error = %e, "ADD_CONTACT failed");
                return (contact_oper::INTERR, FAILED);
            }
        };
        let filed = match self.group_at(add.group_id).await {
            Ok(group) => core.set_contact_groups(me.id, target.id, &[group]).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = filed {
            tracing::error!(error = %e, "ADD_CONTACT group failed");
            return (contact_oper::INTERR, FAILED);
        }
        let extra = visibility_flags(add.flags);
        if !extra.is_empty() {
            let flags = RelationFlags::FORWARD;
            if let Err(e) = core.change_relation(me, &target, flags, flags | extra, None).await {
                tracing::error!(error = %e, "ADD_CONTACT flags failed");
                return (contact_oper::INTERR, FAILED);
            }
        }
        (contact_oper::SUCCESS, self.contact_id(target.id).await)
    }

    /// The id clients give the contact: 20 plus its position in `CONTACT_LIST2`.
    async fn contact_id(&self, target: switchyard_core::AccountId) -> u32 {
        let position = match self.context.core.contact_list(self.session.account.id).await {
            Ok(list) => {
                list.relations.iter().filter(|r| listed(r.flags)).position(|r| r.other.id == target).unwrap_or(0)
            }
            Err(_) => 0,
        };
        FIRST_CONTACT_ID + position as u32
    }

    /// A shadow entry: visibility flags toward someone who is not a contact.
    async fn add_shadow(&self, name: &switchyard_core::AccountName, flags: RelationFlags, display: &str) -> (u32, u32) {
        const FAILED: u32 = u32::MAX;
        let core = &self.context.core;
        let me = &self.session.account;
        if flags.is_empty() {
            return (contact_oper::INVALID_INFO, FAILED);
        }
        let target = match core.store().account_by_name(name).await {
            Ok(Some(account)) => account.to_ref(),
            Ok(None) => return (contact_oper::NO_SUCH_USER, FAILED),
            Err(_) => return (contact_oper::INTERR, FAILED),
        };
        let Ok(before) = core.store().relation_flags(me.id, target.id).await else {
            return (contact_oper::INTERR, FAILED);
        };
        if listed(before) {
            return (contact_oper::USER_EXISTS, FAILED);
        }
        match core.change_relation(me, &target, before, before | flags, Some(display)).await {
            Ok(_) => (contact_oper::SUCCESS, self.contact_id(target.id).await),
            Err(e) => {
                tracing::error!(error = %e, "shadow ADD_CONTACT failed");
                (contact_oper::INTERR, FAILED)
            }
        }
    }

    /// Renames, changes the visibility flags of, or (with `REMOVED`) deletes a contact. The
    /// contact is named by address in the packet, so the id is not needed to find it.
    pub(super) async fn modify_contact(&self, modify: ModifyContact) -> u32 {
        if modify.flags & contact_flag::GROUP != 0 {
            return self.modify_group(&modify).await;
        }
        let core = &self.context.core;
        let me = &self.session.account;
        let Some(name) = self.context.config.resolve(&modify.contact) else { return contact_oper::NO_SUCH_USER };
        let target = match core.store().account_by_name(&name).await {
            Ok(Some(account)) => account.to_ref(),
            Ok(None) => return contact_oper::NO_SUCH_USER,
            Err(_) => return contact_oper::INTERR,
        };
        let Ok(before) = core.store().relation_flags(me.id, target.id).await else { return contact_oper::INTERR };
        if !listed(before) {
            return contact_oper::NO_SUCH_USER;
        }
        const MRIM_FLAGS: RelationFlags = RelationFlags(RelationFlags::FORWARD.0 | VISIBILITY.0);
        let kept = before - MRIM_FLAGS;
        let after = if modify.flags & contact_flag::REMOVED != 0 {
            kept
        } else if modify.flags & contact_flag::SHADOW != 0 {
            kept | visibility_flags(modify.flags)
        } else {
            kept | RelationFlags::FORWARD | visibility_flags(modify.flags)
        };
        let display =
            (!modify.name.is_empty() && after.contains(RelationFlags::FORWARD)).then_some(modify.name.as_str());
        let changed = core.change_relation(me, &target, before, after, display).await;
        let moved = match changed {
            Ok(_) if after.contains(RelationFlags::FORWARD) => match self.group_at(modify.group_id).await {
                Ok(group) => core.set_contact_groups(me.id, target.id, &[group]).await.map(|_| ()),
                Err(e) => Err(e),
            },
            other => other.map(|_| ()),
        };
        match moved {
            Ok(()) => contact_oper::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "MODIFY_CONTACT failed");
                contact_oper::INTERR
            }
        }
    }
}

/// The flags MRIM's visible, invisible and ignore lists keep.
const VISIBILITY: RelationFlags =
    RelationFlags(RelationFlags::VISIBLE_TO.0 | RelationFlags::INVISIBLE_TO.0 | RelationFlags::IGNORE.0);

/// Whether a relation appears in `CONTACT_LIST2`: a contact, or a shadow entry holding only
/// visibility flags.
fn listed(flags: RelationFlags) -> bool {
    flags.contains(RelationFlags::FORWARD) || flags.0 & VISIBILITY.0 != 0
}

/// The relation flags an MRIM contact's flags ask for.
fn visibility_flags(mrim_flags: u32) -> RelationFlags {
    let mut flags = RelationFlags::NONE;
    for (bit, flag) in [
        (contact_flag::VISIBLE, RelationFlags::VISIBLE_TO),
        (contact_flag::INVISIBLE, RelationFlags::INVISIBLE_TO),
        (contact_flag::IGNORE, RelationFlags::IGNORE),
    ] {
        if mrim_flags & bit != 0 {
            flags = flags | flag;
        }
    }
    flags
}

/// The MRIM contact flags for a relation.
fn contact_flags(flags: RelationFlags) -> u32 {
    [
        (RelationFlags::VISIBLE_TO, contact_flag::VISIBLE),
        (RelationFlags::INVISIBLE_TO, contact_flag::INVISIBLE),
        (RelationFlags::IGNORE, contact_flag::IGNORE),
    ]
    .into_iter()
    .filter(|(flag, _)| flags.contains(*flag))
    .fold(0, |acc, (_, bit)| acc | bit)
}
