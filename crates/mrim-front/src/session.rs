//! One MRIM session: `HELLO`, login, the contact list and stored messages, then packets from the
//! client and events from the core until logout, a silent client, or shutdown.

use crate::conn::{Conn, ReadError};
use crate::status;
use crate::Context;
use md5::{Digest, Md5};
use mrim::client::{AddContact, Login, Message, ModifyContact, Password, StatusInfo};
use mrim::codes::{contact_flag, contact_oper, failure, logout, message_flag, message_status, msg, wp};
use mrim::server::{Anketa, Contact, ContactList, Group, MessageAck};
use mrim::{ClientPacket, Dialect, Packet, ServerPacket};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchyard_core::privacy::allows;
use switchyard_core::store::MessageKind;
use switchyard_core::{
    profile, Account, ContactGroup, CoreError, Date, Delivery, Event, GroupId, KickReason, ListKind, Presence, Profile,
    RelationFlags, SearchQuery, Session, Sex, Status, TextMatch,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest message text accepted, in bytes as sent.
const MAX_TEXT: usize = 16 * 1024;
/// The group an account without groups gets, as on the real service.
const DEFAULT_GROUP: &str = "General";
/// Contact ids in `ADD_CONTACT_ACK` come after the group ids, as clients number them.
const FIRST_CONTACT_ID: u32 = contact_flag::MAX_GROUPS as u32;

pub(crate) async fn run(context: Arc<Context>, mut conn: Conn, shutdown: CancellationToken) {
    let Some((account, login, seq)) = log_in(&context, &mut conn, &shutdown).await else {
        conn.close().await;
        return;
    };
    let nickname = account.nickname.clone().unwrap_or_else(|| account.name.to_string());
    let session = match context.core.login(account, nickname.clone()).await {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "login failed in the core");
            conn.send(&ServerPacket::LoginRej { reason: "Service unavailable".into() }, seq);
            conn.close().await;
            return;
        }
    };
    tracing::Span::current().record("account", session.account.name.as_str());
    tracing::info!(version = ?conn.dialect, "logged in");
    let mut mrim = MrimSession { context, session, nickname, next_msg_id: 1, closing: false, searches: Vec::new() };
    if mrim.welcome(&mut conn, &login, seq).await.is_ok() {
        mrim.serve(&mut conn, &shutdown).await;
    }
    if let Err(e) = mrim.context.core.logout(&mrim.session).await {
        tracing::warn!(error = %e, "logout fan-out failed");
    }
    conn.close().await;
}

fn now_secs() -> u32 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or(0)
}

/// `HELLO`, then `LOGIN2`/`LOGIN3`, within the login timeout; `PING`s may come in between.
/// Returns the account, its login packet and that packet's seq; a wrong login gets `LOGIN_REJ`.
async fn log_in(context: &Context, conn: &mut Conn, shutdown: &CancellationToken) -> Option<(Account, Login, u32)> {
    let deadline = Instant::now() + context.config.login_timeout;
    let mut greeted = false;
    loop {
        let packet = tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep_until(deadline) => {
                tracing::info!("closing connection that did not log in in time");
                return None;
            }
            read = conn.read_packet() => match read {
                Ok(packet) => packet,
                Err(e) => { log_read_error(&e); return None; }
            },
        };
        if !greeted {
            // The first packet's version is the connection's version.
            conn.dialect = Dialect::from_proto(packet.header.proto);
        }
        match ClientPacket::decode(&packet, conn.dialect) {
            ClientPacket::Hello => {
                greeted = true;
                let ping_period = context.ping_period.borrow().as_secs() as u32;
                conn.send(&ServerPacket::HelloAck { ping_period, server_time: now_secs() }, 0);
            }
            ClientPacket::Ping => {}
            ClientPacket::StartTls => {
                if !start_tls(context, conn, packet.header.seq).await {
                    return None;
                }
                continue;
            }
            ClientPacket::Login(login) if greeted => {
                let seq = packet.header.seq;
                return match authenticate(context, &login).await {
                    Some(account) => Some((account, login, seq)),
                    None => {
                        tracing::info!(login = %login.login, "login rejected");
                        conn.send(&ServerPacket::LoginRej { reason: "Invalid login".into() }, seq);
                        None
                    }
                };
            }
            other => {
                tracing::warn!(packet = ?other, "unexpected packet before login");
                return None;
            }
        }
        conn.flush().await.ok()?;
    }
}

async fn authenticate(context: &Context, login: &Login) -> Option<Account> {
    let name = context.config.resolve(&login.login)?;
    let account = context.core.store().account_by_name(&name).await.ok()??;
    let password = context.core.store().password(account.id).await.ok()??;
    let matches = match &login.password {
        Password::Plain(given) => *given == password,
        Password::Md5(digest) => Md5::digest(password.as_bytes()).as_slice() == digest,
    };
    matches.then_some(account)
}

/// Answers `STARTTLS`: `MRIM_CS_OK` and the handshake, or `MRIM_CS_FAILURE` when TLS is not
/// configured or the connection is TLS already. Returns false when the connection is lost.
async fn start_tls(context: &Context, conn: &mut Conn, seq: u32) -> bool {
    match &context.config.tls {
        Some(tls) if !conn.is_tls() => {
            conn.send(&ServerPacket::Ok, seq);
            match conn.start_tls(tls.clone()).await {
                Ok(()) => {
                    tracing::debug!("TLS established");
                    true
                }
                Err(e) => {
                    tracing::info!(error = %e, "STARTTLS failed");
                    false
                }
            }
        }
        _ => {
            let reason = if conn.is_tls() { "TLS is already on" } else { "TLS is not enabled on this server" };
            conn.send(
                &ServerPacket::Failure { code: failure::SERVICE_UNAVAILABLE, reason: reason.into(), method: 0 },
                seq,
            );
            conn.flush().await.is_ok()
        }
    }
}

fn log_read_error(e: &ReadError) {
    match e {
        ReadError::Closed => tracing::debug!("{e}"),
        _ => tracing::warn!("{e}"),
    }
}

/// A logged-in MRIM connection.
struct MrimSession {
    context: Arc<Context>,
    session: Session,
    nickname: String,
    /// Ids of the `MESSAGE_ACK`s this session sends.
    next_msg_id: u32,
    /// Set when a packet handler lost the connection.
    closing: bool,
    /// When this session's recent searches were made.
    searches: Vec<Instant>,
}

enum Input {
    Shutdown,
    Silent,
    NewPeriod,
    Packet(Result<Packet, ReadError>),
    Event(Result<Event, KickReason>),
}

impl MrimSession {
    /// `LOGIN_ACK`, `USER_INFO`, `CONTACT_LIST2`, the stored messages, then the login status.
    async fn welcome(&mut self, conn: &mut Conn, login: &Login, seq: u32) -> std::io::Result<()> {
        conn.send(&ServerPacket::LoginAck, seq);
        let endpoint = conn.peer();
        conn.send(&ServerPacket::UserInfo { nickname: self.nickname.clone(), total: 0, unread: 0, endpoint }, 0);
        let list = match self.contact_list(conn.dialect).await {
            Ok(list) => list,
            Err(e) => {
                tracing::error!(error = %e, "cannot load the contact list");
                ContactList { status: contact_oper::INTERR, groups: Vec::new(), contacts: Vec::new() }
            }
        };
        conn.send(&ServerPacket::ContactList2(list), 0);
        // There is no mailbox behind these accounts: it is reported empty.
        conn.send(&ServerPacket::MailboxStatus { unread: 0 }, 0);
        self.send_offline_messages(conn).await;
        let status = status::to_core(login.status.status).unwrap_or(Status::Online);
        self.set_status(status).await;
        conn.flush().await
    }

    async fn serve(&mut self, conn: &mut Conn, shutdown: &CancellationToken) {
        // Only PING keeps a session alive, as on the official server.
        let mut period = self.context.ping_period.subscribe();
        let mut allowed_silence = *period.borrow_and_update() * 3 / 2;
        let silence = tokio::time::sleep(allowed_silence);
        tokio::pin!(silence);
        loop {
            let input = tokio::select! {
                biased;
                _ = shutdown.cancelled() => Input::Shutdown,
                _ = &mut silence => Input::Silent,
                Ok(()) = period.changed() => Input::NewPeriod,
                event = self.session.next_event() => Input::Event(event),
                packet = conn.read_packet() => Input::Packet(packet),
            };
            match input {
                Input::Shutdown => return,
                Input::Silent => {
                    tracing::info!("no PING within 1.5 ping periods; closing");
                    return;
                }
                Input::NewPeriod => {
                    let new = *period.borrow_and_update();
                    allowed_silence = new * 3 / 2;
                    silence.as_mut().reset(Instant::now() + allowed_silence);
                    conn.send(&ServerPacket::ConnectionParams { ping_period: new.as_secs() as u32 }, 0);
                }
                Input::Packet(Err(e)) => {
                    log_read_error(&e);
                    return;
                }
                Input::Packet(Ok(packet)) => {
                    if packet.header.msg == msg::PING {
                        silence.as_mut().reset(Instant::now() + allowed_silence);
                    }
                    self.packet(conn, packet).await;
                    if self.closing {
                        return;
                    }
                }
                Input::Event(Ok(event)) => self.event(conn, event),
                Input::Event(Err(KickReason::LoggedInElsewhere)) => {
                    tracing::info!("logged in elsewhere");
                    conn.send(&ServerPacket::Logout { reason: logout::NO_RELOGIN }, 0);
                    return;
                }
                Input::Event(Err(KickReason::TooSlow)) => return,
            }
            if let Err(e) = conn.flush().await {
                tracing::info!(error = %e, "write failed");
                return;
            }
        }
    }

    async fn packet(&mut self, conn: &mut Conn, packet: Packet) {
        let seq = packet.header.seq;
        match ClientPacket::decode(&packet, conn.dialect) {
            ClientPacket::Ping | ClientPacket::Hello | ClientPacket::MessageRecv { .. } => {}
            ClientPacket::Login(_) => tracing::warn!("LOGIN on a logged-in connection ignored"),
            ClientPacket::Message(message) => {
                let status = self.send_message(message).await;
                conn.send(&ServerPacket::MessageStatus { status }, seq);
            }
            ClientPacket::AddContact(add) => {
                let (status, contact_id) = self.add_contact(add).await;
                conn.send(&ServerPacket::AddContactAck { status, contact_id }, seq);
            }
            ClientPacket::ModifyContact(modify) => {
                let status = self.modify_contact(modify).await;
                conn.send(&ServerPacket::ModifyContactAck { status }, seq);
            }
            ClientPacket::DeleteOfflineMessage { uidl } => {
                let Some(id) = id_of_uidl(&uidl) else {
                    tracing::info!(?uidl, "DELETE_OFFLINE_MESSAGE with a UIDL this server never gave");
                    return;
                };
                match self.context.core.acknowledge_offline(self.session.account.id, id).await {
                    Ok(true) => {}
                    Ok(false) => tracing::debug!(id, "DELETE_OFFLINE_MESSAGE for no queued message"),
                    Err(e) => tracing::error!(error = %e, "could not delete an offline message"),
                }
            }
            ClientPacket::Authorize { user } => self.authorize(&user).await,
            ClientPacket::ChangeStatus(info) => match status::to_core(info.status) {
                Some(status) => self.set_status(status).await,
                None => tracing::warn!(status = info.status, "CHANGE_STATUS to a status clients may not set"),
            },
            ClientPacket::GetMpopSession => {
                // There is no web mailbox here; the key is well-formed so that clients carry on.
                let key: String = (0..32).map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)])).collect();
                conn.send(&ServerPacket::MpopSession { status: 1, key }, seq);
            }
            ClientPacket::WpRequest { params } => {
                let anketa = self.search(&params).await;
                conn.send(&ServerPacket::AnketaInfo(anketa), seq);
            }
            ClientPacket::StartTls => {
                if !start_tls(&self.context, conn, seq).await {
                    self.closing = true;
                }
            }
            ClientPacket::Unknown { msg } => tracing::debug!(msg = format_args!("{msg:#x}"), "unknown packet ignored"),
        }
    }

    fn event(&mut self, conn: &mut Conn, event: Event) {
        let context = self.context.clone();
        let config = &context.config;
        match event {
            Event::Presence { contact, presence } => {
                let status = presence.map_or(mrim::codes::status::OFFLINE, |p| status::to_mrim(p.status));
                let email = config.email_of(&contact.name);
                let info = StatusInfo { status, ..StatusInfo::default() };
                conn.send(&ServerPacket::UserStatus { status: info, email, user_agent: String::new() }, 0);
            }
            Event::Message(message) => {
                let flags = match message.kind {
                    MessageKind::AuthorizationRequest => message_flag::AUTHORIZE,
                    MessageKind::Typing => message_flag::NOTIFY,
                    MessageKind::ContactList => message_flag::CONTACT,
                    MessageKind::SystemNotice | MessageKind::Broadcast => message_flag::SYSTEM,
                    _ => 0,
                };
                let (flags, rtf) = match message.formatted {
                    Some(rtf) => (flags | message_flag::RTF, rtf),
                    None => (flags, Vec::new()),
                };
                let ack = MessageAck {
                    msg_id: self.next_message_id(),
                    flags,
                    from: config.email_of(&message.from.name),
                    text: message.text,
                    rtf,
                };
                conn.send(&ServerPacket::MessageAck(ack), 0);
            }
            Event::Authorized { by } => conn.send(&ServerPacket::AuthorizeAck { user: config.email_of(&by.name) }, 0),
            // MRIM has no reverse list and no switchboards: a request to authorize comes as a
            // MESSAGE from the adder's client, and conversations need no invitation.
            Event::AddedBy { .. } | Event::RemovedBy { .. } | Event::Invitation(_) => {}
        }
    }

    fn next_message_id(&mut self) -> u32 {
        let id = self.next_msg_id;
        self.next_msg_id = self.next_msg_id.wrapping_add(1).max(1);
        id
    }

    async fn set_status(&self, status: Status) {
        let presence = Presence { status, display_name: self.nickname.clone() };
        if let Err(e) = self.context.core.set_presence(&self.session, presence).await {
            tracing::warn!(error = %e, "could not change status");
        }
    }

    /// The list in the client's dialect: one group, the forward-list contacts with the
    /// visibility flags, whether each has authorized the user, and what the user sees of them.
    async fn contact_list(&self, dialect: Dialect) -> Result<ContactList, CoreError> {
        let core = &self.context.core;
        let me = self.session.account.id;
        let groups = self.groups().await?;
        let lists = core.contact_list(me).await?;
        let visible = core.visible_contacts(me).await?;
        let unicode = if dialect.unicode_text() { contact_flag::UNICODE_NAME } else { 0 };
        let contacts = lists
            .relations
            .iter()
            .filter(|r| listed(r.flags))
            .map(|r| {
                let seen = visible.iter().find(|(a, _)| a.id == r.other.id).map(|(_, p)| p.status);
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
        let core = &self.context.core;
        let me = self.session.account.id;
        let mut groups = core.groups(me).await?;
        if groups.is_empty() {
            groups.push(core.create_group(me, DEFAULT_GROUP).await?.0);
        }
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

    /// One `OFFLINE_MESSAGE_ACK` per queued message, oldest first; each stays queued until the
    /// client deletes it, so a dropped connection gets it again.
    async fn send_offline_messages(&self, conn: &mut Conn) {
        let core = &self.context.core;
        let queued = match core.pending_offline(self.session.account.id).await {
            Ok(queued) => queued,
            Err(e) => {
                tracing::error!(error = %e, "cannot read offline messages");
                return;
            }
        };
        for stored in queued {
            let message = &stored.message;
            let from = match core.store().account_by_id(message.sender).await {
                Ok(Some(sender)) => self.context.config.email_of(&sender.name),
                _ => continue,
            };
            let flags = match message.kind {
                MessageKind::AuthorizationRequest => message_flag::AUTHORIZE,
                MessageKind::ContactList => message_flag::CONTACT,
                MessageKind::SystemNotice | MessageKind::Broadcast => message_flag::SYSTEM,
                _ => 0,
            } | message_flag::OFFLINE;
            let sent_at = UNIX_EPOCH + Duration::from_secs(message.sent_at.max(0) as u64);
            let boundary = format!("SWITCHYARD{:016X}", stored.id);
            let text = mrim::offline::compose(&from, sent_at, flags, &message.text, conn.dialect, &boundary);
            conn.send(&ServerPacket::OfflineMessageAck { uidl: uidl_of(stored.id), message: text }, 0);
        }
    }

    /// Routes a `MESSAGE` to each recipient; the status is the first failure, if any.
    async fn send_message(&self, message: Message) -> u32 {
        let kind = if message.flags & message_flag::NOTIFY != 0 {
            MessageKind::Typing
        } else if message.flags & message_flag::AUTHORIZE != 0 {
            MessageKind::AuthorizationRequest
        } else if message.flags & message_flag::CONTACT != 0 {
            MessageKind::ContactList
        } else {
            MessageKind::Text
        };
        if message.text.len() > MAX_TEXT {
            return message_status::REJECTED_TOO_LARGE;
        }
        // The document forbids empty text (clients send a space); nothing can be shown for it.
        if message.text.is_empty() {
            return message_status::REJECTED_INTERR;
        }
        let mut status = message_status::DELIVERED;
        for to in &message.to {
            let delivered = self.deliver_one(to, kind, &message).await;
            if status == message_status::DELIVERED {
                status = delivered;
            }
        }
        status
    }

    async fn deliver_one(&self, to: &str, kind: MessageKind, sent: &Message) -> u32 {
        let core = &self.context.core;
        let Some(name) = self.context.config.resolve(to) else { return message_status::REJECTED_NOUSER };
        let recipient = match core.store().account_by_name(&name).await {
            Ok(Some(account)) => account,
            Ok(None) => return message_status::REJECTED_NOUSER,
            Err(e) => {
                tracing::error!(error = %e, "recipient lookup failed");
                return message_status::REJECTED_INTERR;
            }
        };
        let message = switchyard_core::Message {
            from: self.session.account.to_ref(),
            from_display_name: self.nickname.clone(),
            kind,
            text: sent.text.clone(),
            // The RTF part is carried through to MRIM recipients as it came.
            formatted: (sent.flags & message_flag::RTF != 0 && !sent.rtf.is_empty()).then(|| sent.rtf.to_vec()),
            sent_at: i64::from(now_secs()),
        };
        match core.deliver(recipient.id, message).await {
            Ok(Delivery::Live | Delivery::Queued(_) | Delivery::Ignored) => message_status::DELIVERED,
            Err(CoreError::NoSuchAccount) => message_status::REJECTED_NOUSER,
            Err(CoreError::QueueFull) => message_status::REJECTED_LIMIT_EXCEEDED,
            Err(CoreError::NotOnline) => message_status::REJECTED_DENY_OFFMSG,
            Err(CoreError::NotAllowed) => message_status::REJECTED_PERMISSION,
            Err(e) => {
                tracing::error!(error = %e, "delivery failed");
                message_status::REJECTED_INTERR
            }
        }
    }

    async fn add_contact(&self, add: AddContact) -> (u32, u32) {
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
    async fn modify_contact(&self, modify: ModifyContact) -> u32 {
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

    async fn authorize(&self, user: &str) {
        let Some(name) = self.context.config.resolve(user) else {
            tracing::info!(%user, "AUTHORIZE for an address that is not ours");
            return;
        };
        if let Err(e) = self.context.core.authorize(&self.session.account, &name).await {
            tracing::info!(error = %e, %user, "AUTHORIZE failed");
        }
    }

    /// `WP_REQUEST`: every parameter of the 1.7 document, all of which must hold; names
    /// ending in `*` match as prefixes. Limited to `MAX_SEARCHES` a minute per session.
    async fn search(&mut self, params: &[(u32, String)]) -> Anketa {
        let now = Instant::now();
        self.searches.retain(|t| now.duration_since(*t) < SEARCH_WINDOW);
        let mut anketa = Anketa {
            status: wp::ANKETA_NOUSER,
            max_rows: MAX_SEARCH_ROWS as u32,
            server_time: now_secs(),
            fields: ANKETA_FIELDS.to_vec(),
            rows: Vec::new(),
        };
        if self.searches.len() >= MAX_SEARCHES {
            anketa.status = wp::ANKETA_RATELIMERR;
            return anketa;
        }
        self.searches.push(now);
        let Some((query, online_only)) = self.query_of(params) else { return anketa };
        let found = match self.context.core.search(&query, online_only, MAX_SEARCH_ROWS).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "search failed");
                anketa.status = wp::ANKETA_DBERR;
                return anketa;
            }
        };
        for (account, profile) in found {
            let status = self
                .context
                .core
                .online_presence(account.id)
                .filter(|p| p.status.is_visible())
                .map_or(mrim::codes::status::OFFLINE, |p| status::to_mrim(p.status));
            anketa.rows.push(anketa_row(&self.context.config.domains[0], &account, &profile, status));
        }
        if !anketa.rows.is_empty() {
            anketa.status = wp::ANKETA_OK;
        }
        anketa
    }

    /// The search a request asks for, and whether only online users count; `None` when it
    /// names an address that cannot be ours.
    fn query_of(&self, params: &[(u32, String)]) -> Option<(SearchQuery, bool)> {
        let today = Date::from_unix(i64::from(now_secs()));
        let mut query = SearchQuery::default();
        let (mut user, mut domain, mut online_only) = (None, None, false);
        let text = |value: &str| match value.strip_suffix('*') {
            Some(prefix) => TextMatch::Prefix(prefix.to_owned()),
            None => TextMatch::Exact(value.to_owned()),
        };
        for (field, value) in params {
            let value = value.trim();
            let number = value.parse::<u32>().ok();
            match *field {
                wp::USER => user = Some(value),
                wp::DOMAIN => domain = Some(value),
                wp::NICKNAME if !value.is_empty() => query.nickname = Some(text(value)),
                wp::FIRSTNAME if !value.is_empty() => query.first_name = Some(text(value)),
                wp::LASTNAME if !value.is_empty() => query.last_name = Some(text(value)),
                wp::SEX => {
                    query.sex = number
                        .and_then(|n| [None, Some(Sex::Male), Some(Sex::Female)].get(n as usize).copied().flatten())
                }
                wp::DATE1 => query.born_until = number.map(|age| profile::born_by_for_age_at_least(today, age as u16)),
                wp::DATE2 => query.born_from = number.map(|age| profile::born_from_for_age_at_most(today, age as u16)),
                wp::CITY_ID => query.city_id = number,
                wp::COUNTRY_ID => query.country_id = number,
                wp::ZODIAC => query.birthday_window = number.and_then(|sign| profile::zodiac_window(sign as u8)),
                wp::BIRTHDAY_MONTH => query.birth_month = number.map(|m| m as u8),
                wp::BIRTHDAY_DAY => query.birth_day = number.map(|d| d as u8),
                wp::ONLINE => online_only = value == "1",
                // BIRTHDAY and STATUS are "not used for search" (the document).
                _ => {}
            }
        }
        match (user, domain) {
            (Some(user), Some(domain)) => query.name = Some(self.context.config.resolve(&format!("{user}@{domain}"))?),
            (Some(user), None) => {
                query.name = Some(switchyard_core::AccountName::new(&user.to_ascii_lowercase()).ok()?)
            }
            _ => {}
        }
        Some((query, online_only))
    }
}

/// Searches one session may make per `SEARCH_WINDOW` before getting the rate-limit status.
const MAX_SEARCHES: usize = 10;
const SEARCH_WINDOW: Duration = Duration::from_secs(60);
/// Rows one search returns at most.
const MAX_SEARCH_ROWS: usize = 50;
/// The anketa columns, named as clients read them.
const ANKETA_FIELDS: [&str; 15] = [
    "Username",
    "Domain",
    "Nickname",
    "FirstName",
    "LastName",
    "Sex",
    "Birthday",
    "City_id",
    "Location",
    "Zodiac",
    "BMonth",
    "BDay",
    "Country_id",
    "Phone",
    "mrim_status",
];

fn anketa_row(domain: &str, account: &Account, profile: &Profile, status: u32) -> Vec<String> {
    let number = |n: u32| if n == 0 { String::new() } else { n.to_string() };
    let sex = match profile.sex {
        Sex::Male => "1",
        Sex::Female => "2",
        Sex::Unknown => "",
    };
    let birthday = profile.birthday;
    vec![
        account.name.to_string(),
        domain.to_owned(),
        account.nickname.clone().unwrap_or_else(|| account.name.to_string()),
        profile.first_name.clone(),
        profile.last_name.clone(),
        sex.to_owned(),
        birthday.map(|b| b.to_string()).unwrap_or_default(),
        number(profile.city_id),
        profile.location.clone(),
        birthday.map(|b| b.zodiac().to_string()).unwrap_or_default(),
        birthday.map(|b| b.month.to_string()).unwrap_or_default(),
        birthday.map(|b| b.day.to_string()).unwrap_or_default(),
        number(profile.country_id),
        String::new(),
        status.to_string(),
    ]
}

/// A queue id as the document's UIDL: eight characters (here hexadecimal digits).
fn uidl_of(id: i64) -> [u8; 8] {
    let mut uidl = [0; 8];
    uidl.copy_from_slice(format!("{:08X}", id as u32).as_bytes());
    uidl
}

fn id_of_uidl(uidl: &[u8; 8]) -> Option<i64> {
    let text = std::str::from_utf8(uidl).ok()?;
    u32::from_str_radix(text, 16).ok().map(i64::from)
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
