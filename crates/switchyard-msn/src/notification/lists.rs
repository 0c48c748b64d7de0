//! The contact lists: `SYN` in the three list formats, `LST`, `GTC`, `BLP`, adding and removing
//! contacts (`ADD` up to MSNP9, `ADC` from MSNP10, `REM`), and names (`REA`, `PRP`, `SBP`).

use super::{core_error, error, Notification};
use crate::conn::{Conn, Replies};
use crate::guid;
use msnp::command::{ContactRef, PrivacyMode, PromptMode};
use msnp::dialect::ListFormat;
use msnp::{CommandError, ErrorCode, GroupRef, List, Reply, Trid};
use switchyard_core::store::Relation;
use switchyard_core::{
    AccountRef, ContactGroup, ContactList, GroupId, ListKind, Message, MessageKind, Privacy, RelationFlags,
    ReverseListPrompt,
};

/// The name MSNP7–9 clients see for group 0, which holds the contacts in no other group.
pub(super) const DEFAULT_GROUP_NAME: &str = "Other Contacts";

/// Which lists a relation puts the other account on, as `LST` bits. The pending list (MSNP10+)
/// is not stored: it is whoever added the user and is on neither their allow nor block list.
fn lists_of(relation: &Relation, with_pending: bool) -> u8 {
    let mut bits = 0;
    for (flag, list) in [
        (RelationFlags::FORWARD, List::Forward),
        (RelationFlags::ALLOW, List::Allow),
        (RelationFlags::BLOCK, List::Block),
    ] {
        if relation.flags.contains(flag) {
            bits |= list.bit();
        }
    }
    if relation.their_flags.contains(RelationFlags::FORWARD) {
        bits |= List::Reverse.bit();
        let answered = relation.flags.contains(RelationFlags::ALLOW) || relation.flags.contains(RelationFlags::BLOCK);
        if with_pending && !answered {
            bits |= List::Pending.bit();
        }
    }
    bits
}

pub(super) fn list_kind(list: List) -> Option<ListKind> {
    match list {
        List::Forward => Some(ListKind::Forward),
        List::Allow => Some(ListKind::Allow),
        List::Block => Some(ListKind::Block),
        List::Reverse | List::Pending => None,
    }
}

fn prompt_to_msn(prompt: ReverseListPrompt) -> PromptMode {
    match prompt {
        ReverseListPrompt::Ask => PromptMode::Ask,
        ReverseListPrompt::AllowAutomatically => PromptMode::AllowAutomatically,
    }
}

fn privacy_to_msn(privacy: Privacy) -> PrivacyMode {
    match privacy {
        Privacy::AllowUnlisted => PrivacyMode::AllowAll,
        Privacy::BlockUnlisted => PrivacyMode::BlockAll,
    }
}

impl Notification {
    pub(super) async fn contact_list(&self, trid: Trid) -> Result<ContactList, CommandError> {
        self.context.core.contact_list(self.session.account.id).await.map_err(|e| core_error(trid, e))
    }

    pub(super) async fn contact_list_with_groups(
        &self,
        trid: Trid,
    ) -> Result<(ContactList, Vec<ContactGroup>), CommandError> {
        self.context.core.contact_list_with_groups(self.session.account.id).await.map_err(|e| core_error(trid, e))
    }

    pub(super) async fn groups(&self, trid: Trid) -> Result<Vec<ContactGroup>, CommandError> {
        self.context.core.groups(self.session.account.id).await.map_err(|e| core_error(trid, e))
    }

    /// The name shown for a contact: the one the user gave them, else their own.
    fn name_of(&self, relation: &Relation) -> String {
        if relation.display_name.is_empty() {
            self.context.config.domains.friendly_of(&relation.other)
        } else {
            relation.display_name.clone()
        }
    }

    /// A contact's groups as `LST`/`ADD` write them: numbers (0 for none) or GUIDs.
    fn group_field(&self, groups: &[GroupId]) -> Option<String> {
        if self.dialect.has_adc() {
            (!groups.is_empty()).then(|| groups.iter().map(|g| guid::of_group(*g)).collect::<Vec<_>>().join(","))
        } else if groups.is_empty() {
            Some("0".into())
        } else {
            Some(groups.iter().map(|g| g.0.to_string()).collect::<Vec<_>>().join(","))
        }
    }

    pub(super) async fn synchronize(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        client_version: u32,
    ) -> Result<(), CommandError> {
        let store = self.context.core.store();
        let me = self.session.account.id;
        let format = self.dialect.list_format();
        // MSNP2–7 clients keep their lists: one that may be up to date is checked against the
        // version alone first, without the relations (the costly read).
        if format == ListFormat::PerList && client_version != 0 {
            let version = store.list_settings(me).await.map_err(|e| core_error(trid, e.into()))?.version;
            if client_version == version {
                conn.send(Reply::Syn { trid, version });
                return Ok(());
            }
        }
        let (lists, groups) = if self.dialect.has_groups() {
            self.contact_list_with_groups(trid).await?
        } else {
            (self.contact_list(trid).await?, Vec::new())
        };
        let (settings, version) = (lists.settings, lists.settings.version);
        let prompt = prompt_to_msn(settings.prompt);
        let privacy = privacy_to_msn(settings.privacy);
        if format == ListFormat::PerList {
            conn.send(Reply::Syn { trid, version });
            conn.send(Reply::Gtc { trid: Some(trid), version: Some(version), mode: prompt });
            conn.send(Reply::Blp { trid: Some(trid), version: Some(version), mode: privacy });
            if self.dialect.has_groups() {
                self.send_indexed_groups(conn, trid, version, &groups);
            }
            for list in List::DRAFT {
                self.send_list(conn, trid, list, &lists);
            }
            return Ok(());
        }
        // MSNP8+ clients count the lines they are promised, so the whole list always follows.
        let with_pending = self.dialect.has_pending_list();
        let rows: Vec<(&Relation, u8)> =
            lists.relations.iter().map(|r| (r, lists_of(r, with_pending))).filter(|(_, bits)| *bits != 0).collect();
        let guids = format == ListFormat::Guids;
        let group_count = if guids { groups.len() } else { groups.len() + 1 };
        let settings_version = guids.then_some(version);
        conn.send(Reply::SynCounts { trid, version, settings_version, contacts: rows.len(), groups: group_count });
        conn.send(Reply::Gtc { trid: None, version: None, mode: prompt });
        conn.send(Reply::Blp { trid: None, version: None, mode: privacy });
        if guids {
            conn.send(Reply::Prp { trid: None, version: None, property: "MFN", value: &self.presence.display_name });
            for group in &groups {
                conn.send(Reply::Lsg { group: GroupRef::Guid(&guid::of_group(group.id)), name: &group.name });
            }
        } else {
            conn.send(Reply::Lsg { group: GroupRef::Number(0), name: DEFAULT_GROUP_NAME });
            for group in &groups {
                conn.send(Reply::Lsg { group: GroupRef::Number(group.id.0 as u64), name: &group.name });
            }
        }
        let domains = &self.context.config.domains;
        for (relation, lists) in rows {
            let handle = domains.handle_of(&relation.other.name);
            let friendly = self.name_of(relation);
            let forward = lists & List::Forward.bit() != 0;
            let groups = forward.then(|| self.group_field(&relation.groups)).flatten();
            if guids {
                conn.send(Reply::LstGuid {
                    handle: &handle,
                    friendly: &friendly,
                    guid: forward.then(|| guid::of_contact(relation.other.id)).as_deref(),
                    lists,
                    network: self.dialect.lst_has_network().then_some(1),
                    groups: groups.as_deref(),
                });
            } else {
                conn.send(Reply::LstBitmask { handle: &handle, friendly: &friendly, lists, groups: groups.as_deref() });
            }
        }
        Ok(())
    }

    /// MSNP7's `LSG` lines, group 0 first.
    pub(super) fn send_indexed_groups(&self, conn: &mut Conn, trid: Trid, version: u32, groups: &[ContactGroup]) {
        let total = groups.len() + 1;
        let all =
            std::iter::once((0, DEFAULT_GROUP_NAME)).chain(groups.iter().map(|g| (g.id.0 as u64, g.name.as_str())));
        for (i, (id, name)) in all.enumerate() {
            conn.send(Reply::LsgIndexed { trid, version, index: i + 1, total, id, name });
        }
    }

    pub(super) async fn list(&mut self, conn: &mut Conn, trid: Trid, list: List) -> Result<(), CommandError> {
        if self.dialect.list_format() != ListFormat::PerList {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        let lists = self.contact_list(trid).await?;
        self.send_list(conn, trid, list, &lists);
        Ok(())
    }

    /// One list in the MSNP2–7 format: a line per entry, or one empty-list line.
    fn send_list(&self, conn: &mut Conn, trid: Trid, list: List, lists: &ContactList) {
        let domains = &self.context.config.domains;
        let entries: Vec<(String, String, &[GroupId])> = match list_kind(list) {
            Some(kind) => lists
                .relations
                .iter()
                .filter(|r| r.flags.contains(kind.flag()))
                .map(|r| {
                    let handle = domains.handle_of(&r.other.name);
                    let name = if r.display_name.is_empty() { handle.clone() } else { r.display_name.clone() };
                    (handle, name, r.groups.as_slice())
                })
                .collect(),
            None => lists.reverse().map(|a| (domains.handle_of(&a.name), domains.friendly_of(a), &[][..])).collect(),
        };
        let version = lists.settings.version;
        if entries.is_empty() {
            conn.send(Reply::LstEmpty { trid, list, version });
        }
        let total = entries.len();
        let with_groups = list == List::Forward && self.dialect.has_groups();
        for (i, (handle, friendly, groups)) in entries.iter().enumerate() {
            let groups = with_groups.then(|| self.group_field(groups)).flatten();
            let groups = groups.as_deref();
            conn.send(Reply::Lst { trid, list, version, index: i + 1, total, handle, friendly, groups });
        }
    }

    /// The version a reply carries, where the dialect's replies carry one.
    fn version_field(&self, version: u32) -> Option<u32> {
        self.dialect.replies_carry_version().then_some(version)
    }

    pub(super) async fn set_prompt(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        mode: PromptMode,
    ) -> Result<(), CommandError> {
        let prompt = match mode {
            PromptMode::Ask => ReverseListPrompt::Ask,
            PromptMode::AllowAutomatically => ReverseListPrompt::AllowAutomatically,
        };
        let version =
            self.context.core.set_prompt(self.session.account.id, prompt).await.map_err(|e| core_error(trid, e))?;
        conn.send(Reply::Gtc { trid: Some(trid), version: self.version_field(version), mode });
        Ok(())
    }

    pub(super) async fn set_privacy(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        mode: PrivacyMode,
    ) -> Result<(), CommandError> {
        let privacy = match mode {
            PrivacyMode::AllowAll => Privacy::AllowUnlisted,
            PrivacyMode::BlockAll => Privacy::BlockUnlisted,
        };
        let version =
            self.context.core.set_privacy(self.session.account.id, privacy).await.map_err(|e| core_error(trid, e))?;
        conn.send(Reply::Blp { trid: Some(trid), version: self.version_field(version), mode });
        Ok(())
    }

    /// Puts a contact on a list; returns them and the new list version.
    async fn put_on_list(
        &mut self,
        trid: Trid,
        list: List,
        handle: &str,
        name: &str,
    ) -> Result<(AccountRef, u32), CommandError> {
        let kind = list_kind(list).ok_or(error(trid, ErrorCode::InvalidParameter))?;
        let target = self.resolve(trid, handle)?;
        let added = self.context.core.add_to_list(&self.session.account, kind, &target, name).await;
        let (target, version) = added.map_err(|e| core_error(trid, e))?;
        Ok((target, version))
    }

    /// After a contact joins the forward list: they are told (users of protocols without a
    /// reverse list get a notice; it waits for them if they are offline), and the client is
    /// told their presence at once.
    async fn show_new_contact(&mut self, conn: &mut Conn, trid: Trid, target: &AccountRef) {
        let notice = Message {
            from: self.session.account.to_ref(),
            from_display_name: self.presence.display_name.clone(),
            kind: MessageKind::ContactAdded,
            text: String::new(),
            formatted: None,
            font: None,
            wants_receipt: false,
            sent_at: switchyard_core::unix_now(),
        };
        if let Err(e) = self.context.core.deliver(target.id, notice).await {
            tracing::debug!(error = %e, "could not tell the contact they were added");
        }
        if self.status == msnp::MsnStatus::Offline {
            return;
        }
        if let Ok(Some(presence)) = self.context.core.presence_for(self.session.account.id, target).await {
            let handle = self.context.config.domains.handle_of(&target.name);
            self.show_presence(conn, Some(trid), &handle, &presence);
        }
    }

    /// `ADD` (MSNP2–9); from MSNP7 a forward-list entry may name a group, which adds a contact
    /// already on the list to one more group.
    pub(super) async fn add(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        list: List,
        handle: &str,
        name: &str,
        group: Option<&str>,
    ) -> Result<(), CommandError> {
        if self.dialect.has_adc() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        let group = match group {
            Some(text) if list == List::Forward && self.dialect.has_groups() => Some(self.group_of(trid, text).await?),
            Some(_) => return Err(error(trid, ErrorCode::InvalidParameter)),
            None => None,
        };
        let number = |g: Option<GroupId>| g.map_or(0, |g| g.0 as u64);
        if let Some(group) = group {
            let name_of_target = self.resolve(trid, handle)?;
            let lists = self.contact_list(trid).await?;
            let existing = lists.relations.iter().find(|r| r.other.name == name_of_target);
            if let Some(relation) = existing.filter(|r| r.flags.contains(RelationFlags::FORWARD)) {
                let group = group.ok_or(error(trid, ErrorCode::AlreadyThere))?;
                let version = self.join_group(trid, relation, group).await?;
                let handle = self.context.config.domains.handle_of(&relation.other.name);
                let friendly = self.name_of(relation);
                conn.send(Reply::Add {
                    trid,
                    list,
                    version,
                    handle: &handle,
                    friendly: &friendly,
                    group: Some(group.0 as u64),
                });
                return Ok(());
            }
        }
        let (target, mut version) = self.put_on_list(trid, list, handle, name).await?;
        if let Some(Some(group)) = group {
            version = self
                .context
                .core
                .set_contact_groups(self.session.account.id, target.id, &[group])
                .await
                .map_err(|e| core_error(trid, e))?;
        }
        let handle = self.context.config.domains.handle_of(&target.name);
        let group = group.map(number);
        conn.send(Reply::Add { trid, list, version, handle: &handle, friendly: name, group });
        if list == List::Forward {
            self.show_new_contact(conn, trid, &target).await;
        }
        Ok(())
    }

    /// Adds a contact on the forward list to one more group; 215 when they are in it already.
    async fn join_group(&self, trid: Trid, relation: &Relation, group: GroupId) -> Result<u32, CommandError> {
        if relation.groups.contains(&group) {
            return Err(error(trid, ErrorCode::AlreadyThere));
        }
        let mut groups = relation.groups.clone();
        groups.push(group);
        self.context
            .core
            .set_contact_groups(self.session.account.id, relation.other.id, &groups)
            .await
            .map_err(|e| core_error(trid, e))
    }

    /// `ADC` (MSNP10+): `N=handle [F=name]` puts someone on a list; `C=guid group` adds a
    /// forward-list contact to a group.
    pub(super) async fn add_contact(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        list: List,
        contact: ContactRef,
        name: Option<String>,
        group: Option<&str>,
    ) -> Result<(), CommandError> {
        if !self.dialect.has_adc() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        match contact {
            ContactRef::Handle(handle) if list == List::Reverse && self.dialect.has_pending_list() => {
                self.accept_to_reverse_list(conn, trid, &handle).await?;
            }
            ContactRef::Handle(handle) => {
                // Without `F=` (the allow and block lists) the contact keeps the name they have.
                let name = name.unwrap_or_default();
                let (target, _) = self.put_on_list(trid, list, &handle, &name).await?;
                let handle = self.context.config.domains.handle_of(&target.name);
                let forward = list == List::Forward;
                let guid = forward.then(|| guid::of_contact(target.id));
                let friendly = forward.then_some(name.as_str());
                conn.send(Reply::Adc {
                    trid,
                    list,
                    handle: Some(&handle),
                    friendly,
                    guid: guid.as_deref(),
                    group: None,
                });
                if forward {
                    self.show_new_contact(conn, trid, &target).await;
                }
            }
            ContactRef::Guid(contact_guid) => {
                let group_text =
                    group.filter(|_| list == List::Forward).ok_or(error(trid, ErrorCode::InvalidParameter))?;
                let group = self.group_of(trid, group_text).await?.ok_or(error(trid, ErrorCode::InvalidGroup))?;
                let relation = self.forward_contact(trid, &contact_guid).await?;
                self.join_group(trid, &relation, group).await?;
                conn.send(Reply::Adc {
                    trid,
                    list,
                    handle: None,
                    friendly: None,
                    guid: Some(&contact_guid),
                    group: Some(group_text),
                });
            }
        }
        Ok(())
    }

    /// The forward-list contact a GUID names; 216 when there is none.
    async fn forward_contact(&self, trid: Trid, contact_guid: &str) -> Result<Relation, CommandError> {
        let id = guid::contact(contact_guid).ok_or(error(trid, ErrorCode::NotOnList))?;
        let lists = self.contact_list(trid).await?;
        lists
            .relations
            .into_iter()
            .find(|r| r.other.id == id && r.flags.contains(RelationFlags::FORWARD))
            .ok_or(error(trid, ErrorCode::NotOnList))
    }

    /// `ADC trid RL N=…`: MSNP10+ clients accept someone on their pending list with it (then
    /// `REM PL` and `ADC AL` or `BL`). The reverse list is derived from the other side's forward
    /// list, so it already holds them: the service acknowledged it as it was.
    async fn accept_to_reverse_list(&mut self, conn: &mut Conn, trid: Trid, handle: &str) -> Result<(), CommandError> {
        let name = self.resolve(trid, handle)?;
        let lists = self.contact_list(trid).await?;
        let on_reverse =
            lists.relations.iter().any(|r| r.other.name == name && r.their_flags.contains(RelationFlags::FORWARD));
        if !on_reverse {
            return Err(error(trid, ErrorCode::NotOnList));
        }
        let handle = self.context.config.domains.handle_of(&name);
        conn.send(Reply::Adc {
            trid,
            list: List::Reverse,
            handle: Some(&handle),
            friendly: None,
            guid: None,
            group: None,
        });
        Ok(())
    }

    /// `REM`: off a list, or (forward list with a group) out of one group. MSNP10+ names
    /// forward-list contacts by GUID.
    pub(super) async fn remove(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        list: List,
        contact: &str,
        group: Option<&str>,
    ) -> Result<(), CommandError> {
        let by_guid = list == List::Forward && self.dialect.has_adc();
        let relation = if by_guid {
            self.forward_contact(trid, contact).await?
        } else {
            let name = self.resolve(trid, contact).map_err(|_| error(trid, ErrorCode::NotOnList))?;
            let lists = self.contact_list(trid).await?;
            lists.relations.into_iter().find(|r| r.other.name == name).ok_or(error(trid, ErrorCode::NotOnList))?
        };
        let shown =
            if by_guid { contact.to_owned() } else { self.context.config.domains.handle_of(&relation.other.name) };
        let version = match (list, group) {
            (List::Forward, Some(group_text)) if self.dialect.has_groups() => {
                let Some(group) = self.group_of(trid, group_text).await? else {
                    return Err(error(trid, ErrorCode::NotInGroup));
                };
                if !relation.groups.contains(&group) {
                    return Err(error(trid, ErrorCode::NotInGroup));
                }
                let rest: Vec<GroupId> = relation.groups.iter().copied().filter(|g| *g != group).collect();
                self.context
                    .core
                    .set_contact_groups(self.session.account.id, relation.other.id, &rest)
                    .await
                    .map_err(|e| core_error(trid, e))?
            }
            (_, Some(_)) => return Err(error(trid, ErrorCode::InvalidParameter)),
            (List::Pending, None) if self.dialect.has_pending_list() => {
                // Pending is derived: answering the request (AL or BL) is what takes them off.
                if lists_of(&relation, true) & List::Pending.bit() == 0 {
                    return Err(error(trid, ErrorCode::NotOnList));
                }
                self.contact_list(trid).await?.settings.version
            }
            (List::Reverse | List::Pending, None) => return Err(error(trid, ErrorCode::InvalidParameter)),
            (list, None) => {
                let kind = list_kind(list).expect("reverse and pending handled above");
                let removed =
                    self.context.core.remove_from_list(&self.session.account, kind, &relation.other.name).await;
                removed.map_err(|e| core_error(trid, e))?.1
            }
        };
        let version = self.version_field(version);
        conn.send(Reply::Rem { trid, list, version, contact: &shown, group: group.filter(|_| list == List::Forward) });
        Ok(())
    }

    /// `REA` (MSNP2–9): renames the user (their own handle) or a forward-list contact.
    pub(super) async fn rename(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        handle: &str,
        name: &str,
    ) -> Result<(), CommandError> {
        if !self.dialect.has_rea() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        let target = self.resolve(trid, handle)?;
        let version = if target == self.session.account.name {
            self.set_own_name(trid, name).await?
        } else {
            let lists = self.contact_list(trid).await?;
            let relation =
                lists.relations.iter().find(|r| r.other.name == target).ok_or(error(trid, ErrorCode::NotOnList))?;
            self.rename_contact(trid, &relation.other, name).await?
        };
        let handle = self.context.config.domains.handle_of(&target);
        conn.send(Reply::Rea { trid, version, handle: &handle, friendly: name });
        Ok(())
    }

    async fn rename_contact(&self, trid: Trid, target: &AccountRef, name: &str) -> Result<u32, CommandError> {
        self.context.core.rename_contact(&self.session.account, target, name).await.map_err(|e| core_error(trid, e))
    }

    /// Keeps the user's new friendly name and shows it to their watchers; returns the list
    /// version (a name is not part of the lists, so it does not change).
    async fn set_own_name(&mut self, trid: Trid, name: &str) -> Result<u32, CommandError> {
        let store = self.context.core.store();
        store.set_nickname(self.session.account.id, Some(name)).await.map_err(|e| core_error(trid, e.into()))?;
        self.session.account.nickname = Some(name.to_owned());
        self.presence.display_name = name.to_owned();
        self.publish_presence(trid).await?;
        Ok(self.contact_list(trid).await?.settings.version)
    }

    /// `PRP`: `MFN` is the user's own name; phone numbers and the mobile settings are
    /// acknowledged but not kept (nothing here can call or page anyone).
    pub(super) async fn set_property(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        property: &str,
        value: Option<String>,
    ) -> Result<(), CommandError> {
        const KNOWN: [&str; 7] = ["MFN", "PHH", "PHW", "PHM", "MOB", "MBE", "WWE"];
        if !KNOWN.contains(&property) {
            return Err(error(trid, ErrorCode::InvalidParameter));
        }
        let value = value.unwrap_or_default();
        let version = if property == "MFN" {
            if value.is_empty() {
                return Err(error(trid, ErrorCode::InvalidFriendlyName));
            }
            self.set_own_name(trid, &value).await?
        } else {
            self.contact_list(trid).await?.settings.version
        };
        conn.send(Reply::Prp { trid: Some(trid), version: self.version_field(version), property, value: &value });
        Ok(())
    }

    /// `SBP guid MFN name` (MSNP10+): renames a forward-list contact.
    pub(super) async fn set_contact_property(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        contact: &str,
        property: &str,
        value: &str,
    ) -> Result<(), CommandError> {
        if !self.dialect.has_adc() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        if property != "MFN" {
            return Err(error(trid, ErrorCode::InvalidParameter));
        }
        let relation = self.forward_contact(trid, contact).await?;
        self.rename_contact(trid, &relation.other, value).await?;
        conn.send(Reply::Sbp { trid, guid: contact, property, value });
        Ok(())
    }
}
