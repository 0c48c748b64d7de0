//! A logged-in session: the commands of a MyICQ user, and the core's events shown to them.

mod contacts;
mod conversation;
mod directory;

use super::link::{Accepted, Completes};
use super::{messages, profile, unix_now, Datagrams, End, Inputs, Link};
use crate::dispatch::InboundBox;
use crate::{status, PeerAddress};
use myicq::client::{Login, ModifyUser, Request, SearchCustom};
use myicq::codes::add_friend;
use myicq::reliable::Expiry;
use myicq::server::{LoginReply, OnlineContact, SearchResult, ServerPacket, MULTI_ONLINE_MAX, SEARCH_MAX};
use myicq::wire::from_gbk;
use std::collections::HashMap;
use std::pin::Pin;
use switchyard_core::store::StoredMessage;
use switchyard_core::{
    Account, AccountId, AccountRef, Acknowledgements, AddPolicy, CoreError, Date, Delivery, Event, KickReason,
    ListKind, Message, MessageKind, Presence, RelationFlags, SearchQuery, Session, ShownQueue, Status, TextMatch,
};
use switchyard_net::driver::{self, Step};

/// Largest contact list one reply can carry in a 1024-byte datagram.
const CONTACT_LIST_MAX: usize = 250;
/// Broadcasts a user receives at login at most (the original server kept the last 8).
const BROADCASTS_AT_LOGIN: usize = 8;
/// `GROUP_ERROR_NOT_EXIST`: this server runs no chat-room groups.
const GROUP_NOT_EXIST: u16 = 1;

pub(super) struct Online {
    link: Link,
    inputs: Inputs,
    session: Session,
    status: Status,
    display_name: String,
    expiry: Expiry,
    /// Fires when `expiry` is reached. Sessions with nothing in flight do not follow the clock's
    /// ticks at all: an idle session wakes for a datagram, an event, or this.
    expiry_timer: Pin<Box<tokio::time::Sleep>>,
    /// What the client was last told of each contact it sees online: their MyICQ status.
    shown: HashMap<AccountId, u32>,
    /// What of the offline queue this session has shown.
    shown_queue: ShownQueue,
    /// The contacts online at login, until the client has fetched its contact list.
    held_roster: Option<Box<contacts::HeldRoster>>,
    /// The client's messages not acknowledged yet, each until it is safe.
    owed: Acknowledgements<Owed>,
}

/// A `SEND_MSG` whose acknowledgement waits for its message to be safe.
pub(super) struct Owed {
    seq: u16,
    to: u32,
    /// The recipient a granted authorization lets see this user, once it is delivered.
    grant: Option<Account>,
}

/// What a session waits on besides its client's datagrams.
pub(super) enum Input {
    Settled(Owed, Result<Delivery, CoreError>),
    Tick,
    Expired,
    RosterDue,
    Event(Result<Event, KickReason>),
}

/// Starts the logged-in session: its reply to `LOGIN` and what follows it. `None` when the session
/// ended on the way (it has been finished then).
pub(super) async fn start(
    link: Link,
    inputs: Inputs,
    account: Account,
    login: &Login,
    seq: u16,
) -> Option<Box<Online>> {
    let core = link.context.core.clone();
    let display_name = account.display_name();
    let version = format!("MyICQ v{} (TCP v{})", link.ver, login.tcp_version);
    let client = switchyard_core::ClientInfo::new(switchyard_core::Protocol::MyIcq, &version, Some(link.peer.ip()));
    let session = match core.login(account, display_name.clone(), client).await {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "could not start the session");
            return None;
        }
    };
    let expiry = Expiry::new(link.now);
    let expiry_timer = Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(expiry.at())));
    let status = status::from_myicq(login.status);
    let mut online = Box::new(Online {
        link,
        inputs,
        session,
        status: Status::Offline,
        display_name,
        expiry,
        expiry_timer,
        shown: HashMap::new(),
        shown_queue: ShownQueue::default(),
        held_roster: None,
        owed: Acknowledgements::default(),
    });
    match online.welcome(login, seq, status).await {
        Ok(()) => Some(online),
        Err(end) => {
            online.finish(end).await;
            None
        }
    }
}

/// Each request, event and resend runs in the driver's box for a batch (small idle sessions:
/// `switchyard_net`).
impl driver::Session<Datagrams> for Online {
    type Input = Input;
    type Why = End;

    async fn next_input(&mut self) -> Input {
        tokio::select! {
            biased;
            _ = &mut self.expiry_timer => Input::Expired,
            _ = roster_due(&mut self.held_roster) => Input::RosterDue,
            (owed, outcome) = self.owed.next() => Input::Settled(owed, outcome),
            _ = self.inputs.clock.tick(), if !self.link.is_idle() => Input::Tick,
            event = self.session.next_event(), if self.link.has_room() => Input::Event(event),
        }
    }

    fn ready_input(&mut self) -> Option<Input> {
        self.link.has_room().then(|| self.session.try_next_event().map(Input::Event)).flatten()
    }

    fn reads(&self) -> bool {
        self.owed.has_room()
    }

    async fn frame(&mut self, _: &mut Datagrams, inbound: InboundBox) -> Step<End> {
        // An idle session did not follow the ticks: catch up with the clock.
        self.link.now = self.inputs.clock.now();
        // A datagram from another address moves the session there (a NAT mapping changed)
        // only once it proved itself: decrypted with the session's key, its check code right,
        // and not seen before.
        let elsewhere = inbound.from != self.link.peer;
        let Some(accepted) = self.link.accept(&inbound.datagram, elsewhere).await else {
            return Step::Continue;
        };
        if elsewhere {
            self.moved(inbound.from);
        }
        Step::from(self.request(accepted).await)
    }

    async fn input(&mut self, _: &mut Datagrams, input: Input) -> Step<End> {
        self.link.now = self.inputs.clock.now();
        Step::from(match input {
            Input::Expired => Err(End::Expired),
            Input::RosterDue => self.release_roster().await,
            Input::Settled(owed, outcome) => {
                self.settled(owed, outcome).await;
                Ok(())
            }
            Input::Tick => self.resend().await,
            // The core ended this session for another login of this UIN.
            Input::Event(Err(KickReason::LoggedInElsewhere)) => Err(End::Replaced),
            Input::Event(Err(KickReason::TooSlow)) => Err(End::Unresponsive),
            Input::Event(Ok(event)) => self.event(event).await,
        })
    }

    async fn goodbye(&mut self, _: &mut Datagrams, end: &driver::End<End, std::convert::Infallible>) {
        // Another login of this UIN took the session's place (the dispatcher gave it the
        // route, or the core ended this one). MyICQ has no "logged in elsewhere": the original
        // server just dropped the session, and its client, finding the server silent, logged in
        // again and took the new session's place. The user's own UIN gone offline tells a
        // client that looks for it (yard) not to; others ignore a UIN not on their list.
        if matches!(end, driver::End::Read(_) | driver::End::Session(End::Replaced)) {
            let uin = self.me().uin;
            self.link.send_once(&ServerPacket::UserOffline { uin }, 0).await;
        }
    }
}

impl Online {
    fn me(&self) -> &Account {
        &self.session.account
    }

    /// Serves the session until it ends, then finishes it.
    pub(super) async fn run(mut self: Box<Self>, mut datagrams: Datagrams) {
        let shutdown = self.inputs.shutdown.clone();
        let end = match driver::drive(&mut datagrams, &mut *self, shutdown.cancelled()).await {
            driver::End::Shutdown => End::Shutdown,
            driver::End::Read(_) => End::Replaced,
            driver::End::Write(_) => End::Unresponsive,
            driver::End::Session(end) => end,
        };
        Box::pin(self.finish(end)).await;
    }

    /// The reply to `LOGIN` and what follows it, in the original server's order.
    async fn welcome(&mut self, login: &Login, seq: u16, status: Status) -> Result<(), End> {
        let context = self.link.context.clone();
        self.inputs.registration.logged_in(self.me().uin);
        let address = PeerAddress { ip: self.link.public_ip(), port: login.msg_port, real_ip: login.real_ip };
        context.peers.insert(self.me().id, (self.session.id, address));
        tracing::info!(status = ?status, "logged in");
        let online = context.core.online_count() as u32;
        self.send(ServerPacket::Login(LoginReply::Success { ip: address.ip, online }), seq).await?;
        self.come_online(status).await;
        self.send_waiting_messages().await
    }

    /// Resends what is due; a client that let a packet go unanswered three times is gone.
    async fn resend(&mut self) -> Result<(), End> {
        if self.link.flush().await {
            tracing::info!("packets never acknowledged");
            return Err(End::Unresponsive);
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

    async fn finish(mut self: Box<Self>, end: End) {
        // What the client never acknowledged is dropped with the session: live messages go back
        // to the durable queue, stored ones stay there.
        let context = self.link.context.clone();
        let (me, session_id) = (self.me().id, self.session.id);
        context.peers.remove_if(&me, |_, (id, _)| *id == session_id);
        if let Err(e) = context.core.logout(&mut self.session).await {
            tracing::warn!(error = %e, "logout announcement failed");
        }
        tracing::info!(?end, "session ended");
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
                let deadline = tokio::time::Instant::from_std(self.expiry.at());
                self.expiry_timer.as_mut().reset(deadline);
                let online = self.link.context.core.online_count() as u32;
                self.link.send_once(&ServerPacket::KeepAlive { online }, seq).await;
            }
            // Already logged in: acknowledged so that the client stops resending, else ignored.
            Request::Login(_) | Request::NewUin { .. } => self.link.pure_ack(seq).await,
            Request::ChangeStatus { status } => self.set_status(status::from_myicq(status)).await,
            Request::GetContactList => {
                let uins = self.contact_uins().await;
                self.send(ServerPacket::ContactList { uins }, seq).await?;
                self.release_roster().await?;
            }
            Request::GetRemoteContactList => {
                let domain = self.link.context.config.domain.clone();
                self.send(ServerPacket::RemoteContactList { domain }, seq).await?
            }
            Request::UpdateContact { uin } => self.update_contact(uin, seq).await?,
            Request::UpdateUser => self.update_user(seq).await?,
            Request::ModifyUser(modify) => self.modify_user(*modify).await,
            // Acknowledged once delivered or stored, never before: an ACK tells the sender the
            // message is safe.
            Request::SendMessage { kind, to, text } => self.send_message(kind, to, &text, seq).await,
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
        match completes {
            Completes::Offline(id) => core.acknowledge_offline(me, id),
            Completes::Live(handoff) => handoff.received(),
            Completes::Broadcast(id) => {
                if let Err(e) = core.store().mark_broadcasts_seen(me, id).await {
                    tracing::error!(error = %e, "could not mark a broadcast seen");
                }
            }
        }
    }

    async fn set_status(&mut self, status: Status) {
        self.status = status;
        let presence = Presence::new(status, self.display_name.clone());
        if let Err(e) = self.link.context.core.set_presence(&self.session, presence).await {
            tracing::warn!(error = %e, "could not change status");
        }
    }

    async fn event(&mut self, event: Event) -> Result<(), End> {
        match event {
            Event::Presence { contact, presence } => self.show_presence(contact, presence.map(|p| p.status)).await,
            Event::Message(message, handoff) => self.show(&message, Some(Completes::Live(handoff))).await,
            Event::Broadcast { id, message } => self.show(&message, Some(Completes::Broadcast(id))).await,
            // The contact now lets this user see them: show them if they are online.
            Event::Authorized { by } => self.show_if_online(&by).await,
            // MyICQ has no reverse list (adding is told by a MSG_ADDED message) and no
            // conversations to be invited to.
            Event::AddedBy { .. } | Event::RemovedBy { .. } | Event::Invitation(_) => Ok(()),
            Event::OfflineWaiting => self.send_queued().await,
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

/// Fires when a held roster is due; never without one.
async fn roster_due(held: &mut Option<Box<contacts::HeldRoster>>) {
    match held {
        Some(held) => held.until.as_mut().await,
        None => std::future::pending().await,
    }
}
