//! A logged-in session: the commands of a MyICQ user, and the core's events shown to them.

use super::link::{Accepted, Completes};
use super::{messages, profile, unix_now, End, Inputs, Link};
use crate::{status, PeerAddress};
use myicq::client::{Login, ModifyUser, Request, SearchCustom};
use myicq::codes::add_friend;
use myicq::reliable::Expiry;
use myicq::server::{LoginReply, OnlineContact, SearchResult, ServerPacket, MULTI_ONLINE_MAX, SEARCH_MAX};
use myicq::wire::from_gbk;
use std::collections::HashMap;
use switchyard_core::store::StoredMessage;
use switchyard_core::{
    Account, AccountId, AccountRef, AddPolicy, CoreError, Date, Event, KickReason, ListKind, Message, MessageKind,
    Presence, RelationFlags, SearchQuery, Session, Status, TextMatch,
};

/// Largest contact list one reply can carry in a 1024-byte datagram.
const CONTACT_LIST_MAX: usize = 250;
/// Broadcasts a user receives at login at most (the original server kept the last 8).
const BROADCASTS_AT_LOGIN: usize = 8;
/// `GROUP_ERROR_NOT_EXIST`: this server runs no chat-room groups.
const GROUP_NOT_EXIST: u16 = 1;

struct Online {
    link: Link,
    inputs: Inputs,
    session: Session,
    status: Status,
    display_name: String,
    expiry: Expiry,
    /// What the client was last told of each contact it sees online: their MyICQ status.
    shown: HashMap<AccountId, u32>,
}

enum Input {
    Shutdown,
    Tick(std::time::Instant),
    Datagram(Option<crate::dispatch::InboundBox>),
    Event(Result<Event, KickReason>),
}

pub(super) async fn run(link: Link, inputs: Inputs, account: Account, login: Login, seq: u16) {
    let core = link.context.core.clone();
    let display_name = account.nickname.clone().unwrap_or_else(|| account.name.to_string());
    let session = match core.login(account, display_name.clone()).await {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "could not start the session");
            return;
        }
    };
    let expiry = Expiry::new(link.now);
    let status = status::from_myicq(login.status);
    let mut online =
        Online { link, inputs, session, status: Status::Offline, display_name, expiry, shown: HashMap::new() };
    let end = match online.start(&login, seq, status).await {
        Ok(()) => online.serve().await,
        Err(end) => end,
    };
    online.finish(end).await;
}

impl Online {
    fn me(&self) -> &Account {
        &self.session.account
    }

    /// The reply to `LOGIN` and what follows it, in the original server's order.
    async fn start(&mut self, login: &Login, seq: u16, status: Status) -> Result<(), End> {
        let context = self.link.context.clone();
        self.inputs.registration.logged_in(self.me().uin);
        let address = PeerAddress { ip: self.link.public_ip(), port: login.msg_port, real_ip: login.real_ip };
        context.peers.insert(self.me().id, (self.session.id, address));
        tracing::info!(status = ?status, "logged in");
        let online = context.core.online_count() as u32;
        self.send(ServerPacket::Login(LoginReply::Success { ip: address.ip, online }), seq).await?;
        self.send_contacts_online().await?;
        self.set_status(status).await;
        self.send_waiting_messages().await
    }

    async fn serve(&mut self) -> End {
        loop {
            let input = tokio::select! {
                biased;
                _ = self.inputs.shutdown.cancelled() => Input::Shutdown,
                now = self.inputs.clock.tick() => Input::Tick(now),
                inbound = self.inputs.datagrams.recv() => Input::Datagram(inbound),
                event = self.session.next_event(), if self.link.has_room() => Input::Event(event),
            };
            let outcome = match input {
                Input::Shutdown => Err(End::Shutdown),
                Input::Tick(now) => self.tick(now).await,
                Input::Datagram(None) | Input::Event(Err(KickReason::LoggedInElsewhere)) => Err(End::Replaced),
                Input::Event(Err(KickReason::TooSlow)) => Err(End::Unresponsive),
                Input::Datagram(Some(inbound)) => {
                    if inbound.from != self.link.peer {
                        self.moved(inbound.from);
                    }
                    match self.link.accept(&inbound.datagram).await {
                        Some(accepted) => self.request(accepted).await,
                        None => Ok(()),
                    }
                }
                Input::Event(Ok(event)) => self.event(event).await,
            };
            if let Err(end) = outcome {
                return end;
            }
        }
    }

    /// Resends what is due; a client that let a packet go unanswered three times, or sent no
    /// keepalive for 180 s, is gone.
    async fn tick(&mut self, now: std::time::Instant) -> Result<(), End> {
        self.link.now = now;
        let given_up = self.link.flush().await;
        if !given_up.is_empty() {
            for completes in given_up.into_iter().flatten() {
                self.undelivered(completes).await;
            }
            tracing::info!("packets never acknowledged");
            return Err(End::Unresponsive);
        }
        if self.expiry.expired(now) {
            return Err(End::Expired);
        }
        Ok(())
    }

    fn moved(&mut self, to: std::net::SocketAddr) {
        tracing::info!(from = %self.link.peer, %to, "client address changed");
        self.inputs.registration.moved(to);
        self.link.peer = to;
        let ip = self.link.public_ip();
        if let Some(mut entry) = self.link.context.peers.get_mut(&self.me().id) {
            entry.1.ip = ip;
        }
    }

    async fn finish(mut self, end: End) {
        let context = self.link.context.clone();
        let unacknowledged: Vec<Completes> = self.link.unacknowledged().collect();
        for completes in unacknowledged {
            self.undelivered(completes).await;
        }
        let (me, session_id) = (self.me().id, self.session.id);
        context.peers.remove_if(&me, |_, (id, _)| *id == session_id);
        if let Err(e) = context.core.logout(&self.session).await {
            tracing::warn!(error = %e, "logout announcement failed");
        }
        tracing::info!(?end, "session ended");
    }

    /// A packet the client never acknowledged: a live message goes to the durable queue.
    async fn undelivered(&self, completes: Completes) {
        if let Completes::Live(message) = completes {
            let queued = message.queued_for(self.me().id);
            if let Err(e) = self.link.context.core.queue_offline(&queued).await {
                tracing::error!(error = %e, "could not keep an undelivered message");
            }
        }
    }

    /// Sends a reliable packet (a reply to `ackseq`, or 0 for a push); a client with a full
    /// queue is not reading.
    async fn send(&mut self, packet: ServerPacket, ackseq: u16) -> Result<(), End> {
        self.send_completing(packet, ackseq, None).await
    }

    async fn send_completing(
        &mut self,
        packet: ServerPacket,
        ackseq: u16,
        completes: Option<Completes>,
    ) -> Result<(), End> {
        self.link.send(&packet, ackseq, completes).await.map_err(|_| {
            tracing::warn!("send queue full; the client is not reading");
            End::Unresponsive
        })
    }

    async fn request(&mut self, Accepted { header, body }: Accepted) -> Result<(), End> {
        let seq = header.seq;
        let request = Request::parse(header.cmd, &body);
        // Commands without a reply are acknowledged first, as myicqd did.
        if matches!(
            request,
            Request::ChangeStatus { .. }
                | Request::ModifyUser(_)
                | Request::SendMessage { .. }
                | Request::DelFriend { .. }
                | Request::Broadcast { .. }
                | Request::GroupTraffic { .. }
        ) {
            self.link.pure_ack(seq).await;
        }
        match request {
            Request::Ack => {
                if let Some(completes) = self.link.acknowledged(seq).await {
                    self.delivered(completes).await;
                }
            }
            Request::Logout => return Err(End::Logout),
            Request::KeepAlive { .. } => {
                self.expiry.keepalive(self.link.now);
                let online = self.link.context.core.online_count() as u32;
                self.link.send_once(&ServerPacket::KeepAlive { online }, seq).await;
            }
            // Already logged in: acknowledged so that the client stops resending, else ignored.
            Request::Login(_) | Request::NewUin { .. } => self.link.pure_ack(seq).await,
            Request::ChangeStatus { status } => self.set_status(status::from_myicq(status)).await,
            Request::GetContactList => {
                let uins = self.contact_uins().await;
                self.send(ServerPacket::ContactList { uins }, seq).await?;
            }
            Request::GetRemoteContactList => self.send(ServerPacket::RemoteContactList, seq).await?,
            Request::UpdateContact { uin } => self.update_contact(uin, seq).await?,
            Request::UpdateUser => self.update_user(seq).await?,
            Request::ModifyUser(modify) => self.modify_user(*modify).await,
            Request::SendMessage { kind, to, text } => self.send_message(kind, to, &text).await,
            Request::SearchRandom => self.search_random(seq).await?,
            Request::SearchCustom(search) => self.search_custom(search, seq).await?,
            Request::AddFriend { uin } => self.add_friend(uin, seq).await?,
            Request::DelFriend { uin } => self.del_friend(uin).await,
            Request::Broadcast { kind, text } => self.broadcast(kind, &text).await,
            // MyICQ 1.0's federation and chat rooms: there are no other servers and no rooms.
            Request::GetServerList => self.send(ServerPacket::ServerList, seq).await?,
            Request::GetGroupList { .. } => self.send(ServerPacket::GroupList, seq).await?,
            Request::CreateGroup { .. } => self.send(ServerPacket::CreateGroup { id: 0 }, seq).await?,
            Request::EnterGroup { id } => {
                self.send(ServerPacket::EnterGroup { id, error: GROUP_NOT_EXIST }, seq).await?
            }
            Request::SearchGroup { .. } | Request::GroupTraffic { .. } => {}
            Request::Unknown { cmd } => tracing::debug!(cmd, "unknown command ignored"),
        }
        Ok(())
    }

    /// The client acknowledged a packet that completes something.
    async fn delivered(&self, completes: Completes) {
        let (core, me) = (&self.link.context.core, self.me().id);
        let done = match completes {
            Completes::Offline(id) => core.acknowledge_offline(me, id).await.map(drop),
            Completes::Broadcast(id) => core.store().mark_broadcasts_seen(me, id).await.map_err(CoreError::from),
            Completes::Live(_) => Ok(()),
        };
        if let Err(e) = done {
            tracing::error!(error = %e, "could not record a delivery");
        }
    }

    async fn set_status(&mut self, status: Status) {
        self.status = status;
        let presence = Presence { status, display_name: self.display_name.clone() };
        if let Err(e) = self.link.context.core.set_presence(&self.session, presence).await {
            tracing::warn!(error = %e, "could not change status");
        }
    }

    /// How a contact online appears in `SRV_USER_ONLINE`: direct-connection addresses for
    /// MyICQ users, none for users of other protocols.
    fn online_contact(&self, contact: &AccountRef, status: Status) -> OnlineContact {
        let address = self.link.context.peers.get(&contact.id).map(|entry| entry.1).unwrap_or_default();
        OnlineContact {
            uin: contact.uin,
            status: status::to_myicq(status),
            ip: address.ip,
            port: address.port,
            real_ip: address.real_ip,
        }
    }

    async fn send_contacts_online(&mut self) -> Result<(), End> {
        let core = self.link.context.core.clone();
        let visible = match core.visible_contacts(self.me().id).await {
            Ok(visible) => visible,
            Err(e) => {
                tracing::error!(error = %e, "could not read contacts online");
                return Ok(());
            }
        };
        let contacts: Vec<OnlineContact> = visible.iter().map(|(c, p)| self.online_contact(c, p.status)).collect();
        for ((contact, _), entry) in visible.iter().zip(&contacts) {
            self.shown.insert(contact.id, entry.status);
        }
        for chunk in contacts.chunks(MULTI_ONLINE_MAX) {
            self.send(ServerPacket::MultiOnline(chunk.to_vec()), 0).await?;
        }
        Ok(())
    }

    /// Offline messages, then broadcasts not seen yet, each kept until acknowledged.
    async fn send_waiting_messages(&mut self) -> Result<(), End> {
        let (core, me) = (self.link.context.core.clone(), self.me().id);
        let queued = core.pending_offline(me).await;
        self.send_stored(queued, Completes::Offline).await?;
        let unseen = core.store().unseen_broadcasts(me, BROADCASTS_AT_LOGIN).await.map_err(CoreError::from);
        self.send_stored(unseen, Completes::Broadcast).await
    }

    async fn send_stored(
        &mut self,
        stored: Result<Vec<StoredMessage>, CoreError>,
        completes: fn(i64) -> Completes,
    ) -> Result<(), End> {
        match stored {
            Ok(stored) => {
                for message in stored {
                    self.show_stored(message, completes).await?;
                }
            }
            Err(e) => tracing::error!(error = %e, "could not read waiting messages"),
        }
        Ok(())
    }

    /// Shows a stored message; its last piece's acknowledgement completes it.
    async fn show_stored(&mut self, stored: StoredMessage, completes: fn(i64) -> Completes) -> Result<(), End> {
        let core = self.link.context.core.clone();
        let sender = match core.store().account_by_id(stored.message.sender).await {
            Ok(Some(sender)) => sender,
            // The sender's account is gone: nothing to show it from; it stays queued.
            _ => return Ok(()),
        };
        let message = Message {
            from: sender.to_ref(),
            from_display_name: sender.nickname.clone().unwrap_or_else(|| sender.name.to_string()),
            kind: stored.message.kind,
            text: stored.message.text,
            formatted: None,
            font: None,
            wants_receipt: false,
            sent_at: stored.message.sent_at,
        };
        self.show(&message, Some(completes(stored.id))).await
    }

    /// Sends a message as `SRV_MESSAGE`s; `completes` goes with the last piece.
    async fn show(&mut self, message: &Message, completes: Option<Completes>) -> Result<(), End> {
        let face = match message.kind {
            MessageKind::AuthorizationRequest => self.face_of(message.from.id).await,
            _ => 0,
        };
        let mut packets = messages::to_client(message, face);
        let Some(last) = packets.pop() else {
            if let Some(completes) = completes {
                // Nothing MyICQ can show (a typing notice): done with it.
                self.delivered(completes).await;
            }
            return Ok(());
        };
        for packet in packets {
            self.send(packet, 0).await?;
        }
        self.send_completing(last, 0, completes).await
    }

    async fn face_of(&self, id: AccountId) -> u8 {
        self.link.context.core.store().profile(id).await.map(|p| p.face).unwrap_or(0)
    }

    async fn event(&mut self, event: Event) -> Result<(), End> {
        match event {
            Event::Presence { contact, presence } => {
                let status = presence.map(|p| p.status);
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
            Event::Message(message) => {
                let live = Completes::Live(Box::new(message.clone()));
                self.show(&message, Some(live)).await
            }
            Event::Broadcast { id, message } => self.show(&message, Some(Completes::Broadcast(id))).await,
            // The contact now lets this user see them: show them if they are online.
            Event::Authorized { by } => self.show_if_online(&by).await,
            // MyICQ has no reverse list (adding is told by a MSG_ADDED message) and no
            // conversations to be invited to.
            Event::AddedBy { .. } | Event::RemovedBy { .. } | Event::Invitation(_) => Ok(()),
        }
    }

    /// `SRV_USER_ONLINE` for a contact the user may see online and was not shown yet.
    async fn show_if_online(&mut self, contact: &AccountRef) -> Result<(), End> {
        if self.shown.contains_key(&contact.id) {
            return Ok(());
        }
        let core = self.link.context.core.clone();
        if let Ok(Some(presence)) = core.presence_for(self.me().id, contact).await {
            let entry = self.online_contact(contact, presence.status);
            self.shown.insert(contact.id, entry.status);
            self.send(ServerPacket::UserOnline(entry), 0).await?;
        }
        Ok(())
    }

    async fn contact_uins(&self) -> Vec<u32> {
        match self.link.context.core.contact_list(self.me().id).await {
            Ok(list) => list.entries(ListKind::Forward).map(|e| e.account.uin).take(CONTACT_LIST_MAX).collect(),
            Err(e) => {
                tracing::error!(error = %e, "could not read the contact list");
                Vec::new()
            }
        }
    }

    async fn account_by_uin(&self, uin: u32) -> Option<Account> {
        match self.link.context.core.store().account_by_uin(uin).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "account lookup failed");
                None
            }
        }
    }

    fn today() -> Date {
        Date::from_unix(unix_now())
    }

    /// No reply for a UIN that does not exist, as the original server did.
    async fn update_contact(&mut self, uin: u32, seq: u16) -> Result<(), End> {
        let Some(account) = self.account_by_uin(uin).await else { return Ok(()) };
        let Ok(found) = self.link.context.core.store().profile(account.id).await else { return Ok(()) };
        let info = profile::info_of(&account, &found, Self::today());
        self.send(ServerPacket::UpdateContact { uin, info }, seq).await
    }

    async fn update_user(&mut self, seq: u16) -> Result<(), End> {
        let store = self.link.context.core.store();
        let me = self.me().clone();
        let (found, settings) = match (store.profile(me.id).await, store.list_settings(me.id).await) {
            (Ok(found), Ok(settings)) => (found, settings),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "could not read the profile");
                return Ok(());
            }
        };
        let info = profile::info_of(&me, &found, Self::today());
        self.send(ServerPacket::UpdateUser { info, auth: profile::auth_of(settings.add_policy) }, seq).await
    }

    /// Stores the profile, the add policy and a new password (the session keeps its key: the
    /// new one applies from the next login).
    async fn modify_user(&mut self, modify: ModifyUser) {
        let core = self.link.context.core.clone();
        let store = core.store();
        let me = self.me().id;
        let nickname = modify.info.nick.trim().to_owned();
        let result = async {
            let profile = profile::updated(store.profile(me).await?, &modify.info, Self::today());
            store.set_profile(me, &profile).await?;
            store.set_nickname(me, (!nickname.is_empty()).then_some(nickname.as_str())).await?;
            let policy = profile::add_policy_of(modify.auth);
            if store.list_settings(me).await?.add_policy != policy {
                store.set_add_policy(me, policy).await?;
            }
            if let Some(password) = modify.new_password.filter(|p| !p.is_empty()) {
                store.set_password(me, &from_gbk(&password)).await?;
                tracing::info!("password changed");
            }
            Ok::<_, switchyard_core::StoreError>(())
        };
        if let Err(e) = result.await {
            tracing::error!(error = %e, "could not store the profile");
            return;
        }
        let display_name = if nickname.is_empty() { self.me().name.to_string() } else { nickname.clone() };
        self.session.account.nickname = (!nickname.is_empty()).then_some(nickname);
        if display_name != self.display_name {
            self.display_name = display_name;
            self.set_status(self.status).await;
        }
    }

    async fn send_message(&mut self, kind: u8, to: u32, text: &[u8]) {
        if text.len() > messages::MAX_TEXT {
            tracing::info!(len = text.len(), "message longer than 450 bytes dropped");
            return;
        }
        let Some(recipient) = self.account_by_uin(to).await else {
            tracing::info!(to, "message to a UIN that does not exist dropped");
            return;
        };
        let from = self.me().to_ref();
        let Some(message) = messages::from_client(kind, text, from, &self.display_name, unix_now()) else {
            tracing::debug!(kind, "message of an unknown type dropped");
            return;
        };
        let granted = message.kind == MessageKind::AuthorizationGranted;
        let core = self.link.context.core.clone();
        match core.deliver(recipient.id, message).await {
            Ok(_) => {}
            Err(CoreError::NotAllowed | CoreError::NotOnline) => tracing::debug!(to, "message not deliverable"),
            Err(e) => tracing::warn!(to, error = %e, "message not delivered"),
        }
        if granted {
            self.grant_authorization(&recipient).await;
        }
    }

    /// `MSG_AUTH_ACCEPTED` to the user who asked: they get this user on their list, and may see
    /// and reach them.
    async fn grant_authorization(&self, requester: &Account) {
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

    async fn search_random(&mut self, seq: u16) -> Result<(), End> {
        let core = self.link.context.core.clone();
        let mut results = Vec::new();
        for id in core.random_online(SEARCH_MAX, self.me().id) {
            if let (Ok(Some(account)), Ok(found)) =
                (core.store().account_by_id(id).await, core.store().profile(id).await)
            {
                results.push(search_result(&account, &found, true));
            }
        }
        self.send(ServerPacket::Search(results), seq).await
    }

    async fn search_custom(&mut self, search: SearchCustom, seq: u16) -> Result<(), End> {
        let core = self.link.context.core.clone();
        let query = match search {
            SearchCustom::Uin(uin) => {
                let Some(account) = self.account_by_uin(uin).await else { return Ok(()) };
                SearchQuery { name: Some(account.name), ..SearchQuery::default() }
            }
            SearchCustom::Fields { nick, email, start_uin } => {
                let exact = |text: String| (!text.is_empty()).then_some(TextMatch::Exact(text));
                if nick.is_empty() && email.is_empty() {
                    return Ok(());
                }
                SearchQuery {
                    nickname: exact(nick),
                    email: exact(email),
                    uin_above: Some(start_uin),
                    ..SearchQuery::default()
                }
            }
        };
        let found = match core.search(&query, false, SEARCH_MAX).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "search failed");
                return Ok(());
            }
        };
        let online = |id| core.online_presence(id).is_some_and(|p| p.status.is_visible());
        let results = found.iter().map(|(account, p)| search_result(account, p, online(account.id))).collect();
        self.send(ServerPacket::Search(results), seq).await
    }

    /// `ADD_FRIEND`: answered with the target's add policy; added at once when they let anyone
    /// (or this user already) add them. No answer for a UIN that does not exist.
    async fn add_friend(&mut self, uin: u32, seq: u16) -> Result<(), End> {
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
            let display_name = target.nickname.clone().unwrap_or_else(|| target.name.to_string());
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
    async fn del_friend(&mut self, uin: u32) {
        let Some(target) = self.account_by_uin(uin).await else { return };
        match self.link.context.core.remove_from_list(self.me(), ListKind::Forward, &target.name).await {
            Ok(_) | Err(CoreError::NotOnList) => {
                self.shown.remove(&target.id);
            }
            Err(e) => tracing::error!(error = %e, "could not remove a contact"),
        }
    }

    /// `BROADCAST_MSG`: only an administrator's reaches everyone.
    async fn broadcast(&mut self, kind: u8, text: &[u8]) {
        let context = self.link.context.clone();
        if !context.config.administrators.contains(&self.me().name) {
            tracing::warn!("broadcast from a user who is not an administrator ignored");
            return;
        }
        let from = self.me().to_ref();
        let Some(mut message) = messages::from_client(kind, text, from, &self.display_name, unix_now()) else {
            return;
        };
        message.kind = MessageKind::Broadcast;
        match context.core.broadcast(message).await {
            Ok(id) => tracing::info!(id, "broadcast sent"),
            Err(e) => tracing::error!(error = %e, "broadcast failed"),
        }
    }
}

fn search_result(account: &Account, found: &switchyard_core::Profile, online: bool) -> SearchResult {
    SearchResult {
        uin: account.uin,
        online,
        face: found.face,
        nick: account.nickname.clone().unwrap_or_default(),
        province: found.province.clone(),
    }
}
