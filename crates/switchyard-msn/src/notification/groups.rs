//! Contact groups (MSNP7+): `LSG`, `ADG`, `RMG`, `REG`. MSNP7–9 name groups by number, with a
//! group 0 that always exists and holds everyone in no other group; MSNP10+ by GUID.

use super::{core_error, error, Notification};
use crate::conn::{Conn, Replies};
use crate::guid;
use msnp::text::url_encode;
use msnp::{CommandError, ErrorCode, GroupRef, Reply, Trid};
use switchyard_core::GroupId;

/// Longest group name clients could create (URL-encoded bytes).
const MAX_GROUP_NAME: usize = 61;

impl Notification {
    fn group_reply_version(&self, version: u32) -> Option<u32> {
        self.dialect.group_replies_carry_version().then_some(version)
    }

    /// The group a parameter names: `None` is group 0 (MSNP7–9); 224 for anything else that is
    /// not one of the user's groups.
    pub(super) async fn group_of(&self, trid: Trid, text: &str) -> Result<Option<GroupId>, CommandError> {
        let id = if self.dialect.has_adc() {
            guid::group(text)
        } else {
            match text.parse::<i64>() {
                Ok(0) => return Ok(None),
                Ok(id) => Some(GroupId(id)),
                Err(_) => None,
            }
        };
        let id = id.ok_or(error(trid, ErrorCode::InvalidGroup))?;
        let exists = self.groups(trid).await?.iter().any(|g| g.id == id);
        if exists {
            Ok(Some(id))
        } else {
            Err(error(trid, ErrorCode::InvalidGroup))
        }
    }

    fn group_ref(&self, id: GroupId) -> GroupText {
        if self.dialect.has_adc() {
            GroupText::Guid(guid::of_group(id))
        } else {
            GroupText::Number(id.0 as u64)
        }
    }

    /// `LSG trid` (MSNP7; later dialects get groups only in `SYN`).
    pub(super) async fn list_groups(&mut self, conn: &mut Conn, trid: Trid) -> Result<(), CommandError> {
        if !self.dialect.has_groups() || self.dialect.list_format() != msnp::dialect::ListFormat::PerList {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        let (lists, groups) = self.contact_list_with_groups(trid).await?;
        self.send_indexed_groups(conn, trid, lists.settings.version, &groups);
        Ok(())
    }

    /// Refuses names that are too long (229) or taken (228).
    async fn check_group_name(&self, trid: Trid, name: &str) -> Result<(), CommandError> {
        if name.is_empty() || url_encode(name).len() > MAX_GROUP_NAME {
            return Err(error(trid, ErrorCode::GroupNameTooLong));
        }
        let taken = name == super::lists::DEFAULT_GROUP_NAME && !self.dialect.has_adc()
            || self.groups(trid).await?.iter().any(|g| g.name == name);
        if taken {
            return Err(error(trid, ErrorCode::GroupNameExists));
        }
        Ok(())
    }

    pub(super) async fn add_group(&mut self, conn: &mut Conn, trid: Trid, name: &str) -> Result<(), CommandError> {
        if !self.dialect.has_groups() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        self.check_group_name(trid, name).await?;
        let created = self.context.core.create_group(self.session.account.id, name).await;
        let (group, version) = created.map_err(|e| core_error(trid, e))?;
        let group = self.group_ref(group.id);
        conn.send(Reply::Adg { trid, version: self.group_reply_version(version), name, group: group.as_ref() });
        Ok(())
    }

    pub(super) async fn remove_group(&mut self, conn: &mut Conn, trid: Trid, text: &str) -> Result<(), CommandError> {
        if !self.dialect.has_groups() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        let id = self.group_of(trid, text).await?.ok_or(error(trid, ErrorCode::CannotRemoveGroupZero))?;
        let deleted = self.context.core.delete_group(self.session.account.id, id).await;
        let version = deleted.map_err(|e| core_error(trid, e))?;
        let group = self.group_ref(id);
        conn.send(Reply::Rmg { trid, version: self.group_reply_version(version), group: group.as_ref() });
        Ok(())
    }

    pub(super) async fn rename_group(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        text: &str,
        name: &str,
    ) -> Result<(), CommandError> {
        if !self.dialect.has_groups() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        // Group 0 is not stored anywhere: its name is the clients' own.
        let id = self.group_of(trid, text).await?.ok_or(error(trid, ErrorCode::InvalidGroup))?;
        self.check_group_name(trid, name).await?;
        let renamed = self.context.core.rename_group(self.session.account.id, id, name).await;
        let version = renamed.map_err(|e| core_error(trid, e))?;
        let group = self.group_ref(id);
        conn.send(Reply::Reg { trid, version: self.group_reply_version(version), name, group: group.as_ref() });
        Ok(())
    }
}

/// An owned [`GroupRef`].
enum GroupText {
    Number(u64),
    Guid(String),
}

impl GroupText {
    fn as_ref(&self) -> GroupRef<&str> {
        match self {
            GroupText::Number(n) => GroupRef::Number(*n),
            GroupText::Guid(g) => GroupRef::Guid(g),
        }
    }
}
