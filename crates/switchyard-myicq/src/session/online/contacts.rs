//! The contact list: adding and removing friends, authorization, and who is shown online.

use super::*;

/// How long the contacts online at login wait for the client to ask for its contact list
/// (gaim-myicq and the Windows client ask at once; gaim-myicq with a cached list never does).
const ROSTER_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The contacts online at login, not shown to the client yet, by account.
pub(super) struct HeldRoster {
    contacts: HashMap<AccountId, (AccountRef, Status)>,
    /// When the roster is sent even though the client has not asked for its list.
    pub(super) until: Pin<Box<tokio::time::Sleep>>,
}

impl Online {
    /// How a contact online appears in `SRV_USER_ONLINE`: direct-connection addresses for
    /// MyICQ users, none for users of other protocols.
    pub(super) fn online_contact(&self, contact: &AccountRef, status: Status) -> OnlineContact {
        let address = self.link.context.peers.get(&contact.id).map(|entry| entry.1).unwrap_or_default();
        OnlineContact {
            uin: contact.uin,
            status: status::to_myicq(status),
            ip: address.ip,
            port: address.port,
            real_ip: address.real_ip,
        }
    }

    /// The first status. The contacts the user sees online are held back as a roster until the
    /// client has fetched its contact list (or [`ROSTER_GRACE`] has passed), their changes noted
    /// in it meanwhile; contacts who come online later are shown at once. gaim-myicq asks for
    /// a buddy's nickname (`UPDATE_CONTACT`) only when its `GET_CONTACTLIST` reply brings a buddy
    /// it did not have, and a `SRV_MULTI_ONLINE` read before that reply had already made the
    /// online ones, nameless.
    pub(super) async fn come_online(&mut self, status: Status) {
        self.status = status;
        let core = self.link.context.core.clone();
        let presence = Presence::new(status, self.display_name.clone());
        let visible = match core.come_online(&self.session, presence).await {
            Ok(visible) => visible,
            Err(e) => {
                tracing::error!(error = %e, "could not come online");
                Vec::new()
            }
        };
        let contacts =
            visible.into_iter().map(|(contact, presence)| (contact.id, (contact, presence.status))).collect();
        let until = Box::pin(tokio::time::sleep(ROSTER_GRACE));
        self.held_roster = Some(Box::new(HeldRoster { contacts, until }));
    }

    /// Sends the held roster (`SRV_MULTI_ONLINE`, if anyone is online); from now on presence
    /// changes go to the client as they come.
    pub(super) async fn release_roster(&mut self) -> Result<(), End> {
        let Some(held) = self.held_roster.take() else { return Ok(()) };
        let mut contacts: Vec<OnlineContact> = Vec::with_capacity(held.contacts.len());
        for (id, (contact, status)) in &held.contacts {
            let entry = self.online_contact(contact, *status);
            self.shown.insert(*id, entry.status);
            contacts.push(entry);
        }
        contacts.sort_by_key(|c| c.uin);
        for chunk in contacts.chunks(MULTI_ONLINE_MAX) {
            self.send(ServerPacket::MultiOnline(chunk.to_vec()), 0).await?;
        }
        Ok(())
    }

    /// What the user now sees of `contact`: told at once, or noted in the held roster if they
    /// are in it.
    pub(super) async fn show_presence(&mut self, contact: AccountRef, status: Option<Status>) -> Result<(), End> {
        if let Some(held) = self.held_roster.as_mut().filter(|h| h.contacts.contains_key(&contact.id)) {
            match status {
                Some(status) => held.contacts.insert(contact.id, (contact, status)),
                None => held.contacts.remove(&contact.id),
            };
            return Ok(());
        }
        let now = status.map(status::to_myicq);
        let before = match now {
            Some(code) => self.shown.insert(contact.id, code),
            None => self.shown.remove(&contact.id),
        };
        let packet = match (before, status) {
            (None, Some(status)) => ServerPacket::UserOnline(self.online_contact(&contact, status)),
            (Some(_), None) => ServerPacket::UserOffline { uin: contact.uin },
            (Some(old), Some(_)) if Some(old) != now => {
                ServerPacket::StatusChanged { uin: contact.uin, status: now.unwrap_or_default() }
            }
            _ => return Ok(()),
        };
        self.send(packet, 0).await
    }

    /// `SRV_USER_ONLINE` for a contact the user may see online and was not shown yet.
    pub(super) async fn show_if_online(&mut self, contact: &AccountRef) -> Result<(), End> {
        let held = self.held_roster.as_ref().is_some_and(|h| h.contacts.contains_key(&contact.id));
        if held || self.shown.contains_key(&contact.id) {
            return Ok(());
        }
        let core = self.link.context.core.clone();
        if let Ok(Some(presence)) = core.presence_for(self.me().id, contact).await {
            self.show_presence(contact.clone(), Some(presence.status)).await?;
        }
        Ok(())
    }

    pub(super) async fn contact_uins(&self) -> Vec<u32> {
        match self.link.context.core.contact_list(self.me().id).await {
            Ok(list) => list.entries(ListKind::Forward).map(|e| e.account.uin).take(CONTACT_LIST_MAX).collect(),
            Err(e) => {
                tracing::error!(error = %e, "could not read the contact list");
                Vec::new()
            }
        }
    }

    pub(super) async fn account_by_uin(&self, uin: u32) -> Option<Account> {
        match self.link.context.core.store().account_by_uin(uin).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "account lookup failed");
                None
            }
        }
    }

    /// `MSG_AUTH_ACCEPTED` to the user who asked: they get this user on their list, and may see
    /// and reach them.
    pub(super) async fn grant_authorization(&self, requester: &Account) {
        let core = &self.link.context.core;
        let me = self.me().to_ref();
        let result = async {
            let flags = core.store().relation_flags(requester.id, me.id).await?;
            if !flags.contains(RelationFlags::FORWARD) {
                core.change_relation(requester, &me, flags, flags | RelationFlags::FORWARD, Some(&self.display_name))
                    .await?;
            }
            core.authorize(self.me(), &requester.name).await?;
            Ok::<_, CoreError>(())
        };
        if let Err(e) = result.await {
            tracing::error!(error = %e, "could not record an authorization");
        }
    }

    /// `ADD_FRIEND`: answered with the target's add policy; added at once when they let anyone
    /// (or this user already) add them. No answer for a UIN that does not exist.
    pub(super) async fn add_friend(&mut self, uin: u32, seq: u16) -> Result<(), End> {
        let Some(target) = self.account_by_uin(uin).await else { return Ok(()) };
        let core = self.link.context.core.clone();
        let decided = async {
            if target.id == self.me().id {
                return Ok(add_friend::REJECTED);
            }
            let policy = core.store().list_settings(target.id).await?.add_policy;
            let their_flags = core.store().relation_flags(target.id, self.me().id).await?;
            if their_flags.contains(RelationFlags::BLOCK) || policy == AddPolicy::Nobody {
                return Ok(add_friend::REJECTED);
            }
            if policy == AddPolicy::AskFirst && !their_flags.contains(RelationFlags::ALLOW) {
                return Ok(add_friend::AUTH_REQUIRED);
            }
            let display_name = target.display_name();
            match core.add_to_list(self.me(), ListKind::Forward, &target.name, &display_name).await {
                Ok(_) | Err(CoreError::AlreadyOnList) => Ok(add_friend::ACCEPTED),
                Err(CoreError::ListFull) => Ok(add_friend::REJECTED),
                Err(e) => Err(e),
            }
        };
        let result = match decided.await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "could not add a contact");
                return Ok(());
            }
        };
        self.send(ServerPacket::AddFriend { uin, result }, seq).await?;
        if result == add_friend::ACCEPTED {
            let added = Message {
                from: self.me().to_ref(),
                from_display_name: self.display_name.clone(),
                kind: MessageKind::ContactAdded,
                text: String::new(),
                formatted: None,
                font: None,
                wants_receipt: false,
                sent_at: unix_now(),
            };
            if let Err(e) = core.deliver(target.id, added).await {
                tracing::debug!(error = %e, "could not tell the contact they were added");
            }
            self.show_if_online(&target.to_ref()).await?;
        }
        Ok(())
    }

    /// The other side is not told, as in the original.
    pub(super) async fn del_friend(&mut self, uin: u32) {
        let Some(target) = self.account_by_uin(uin).await else { return };
        match self.link.context.core.remove_from_list(self.me(), ListKind::Forward, &target.name).await {
            Ok(_) | Err(CoreError::NotOnList) => {
                self.shown.remove(&target.id);
                if let Some(held) = &mut self.held_roster {
                    held.contacts.remove(&target.id);
                }
            }
            Err(e) => tracing::error!(error = %e, "could not remove a contact"),
        }
    }
}
