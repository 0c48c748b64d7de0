//! One MRIM session: `HELLO`, login, the contact list and stored messages, then packets from the
//! client and events from the core until logout, a silent client, or shutdown.

use crate::conn::{Codec, Conn, MrimConn};
use crate::status;
use crate::Context;
use mrim::client::{Login, Password, StatusInfo};
use mrim::codes::{contact_oper, failure, logout, message_flag, msg};
use mrim::server::{ContactList, MessageAck};
use mrim::{ClientPacket, Dialect, Packet, ServerPacket};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};
use switchyard_core::{
    Account, Acknowledgements, ClientInfo, CoreError, Delivery, Event, Formatted, Handoff, KickReason, MessageKind,
    Presence, Protocol, Session, Settlements, ShownQueue, Status,
};
use switchyard_net::driver::{self, End, Step};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

mod contacts;
mod messages;
mod search;

/// Serves one connection from `HELLO` to its end. The connection is made here and the login and
/// each packet and event run in boxes of their own (small idle sessions: `switchyard_net`).
pub(crate) async fn run(context: Arc<Context>, stream: TcpStream, shutdown: CancellationToken) {
    let mut conn = Conn::new(stream, Codec::new(context.config.max_body));
    serve_connection(context, &mut conn, &shutdown).await;
    conn.close().await;
}

async fn serve_connection(context: Arc<Context>, conn: &mut Conn, shutdown: &CancellationToken) {
    let Some((account, login, seq)) = Box::pin(log_in(&context, conn, shutdown)).await else {
        return;
    };
    let nickname = account.display_name();
    let dialect = conn.dialect();
    let version = format!("MRIM {}.{} {}", dialect.major, dialect.minor, login.user_agent);
    let client = ClientInfo::new(Protocol::Mrim, version.trim_end(), conn.peer_ip());
    let session = match context.core.login(account, nickname.clone(), client).await {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "login failed in the core");
            conn.send(&ServerPacket::LoginRej { reason: Rejection::Unavailable.reason().into() }, seq);
            return;
        }
    };
    tracing::Span::current().record("account", session.account.name.as_str());
    tracing::info!(version = ?conn.dialect(), "logged in");
    // Only PING keeps a session alive, as on the official server.
    let mut period = context.ping_period.subscribe();
    let allowed_silence = *period.borrow_and_update() * 3 / 2;
    let mut mrim = MrimSession {
        context,
        period,
        allowed_silence,
        silence: Box::pin(tokio::time::sleep(allowed_silence)),
        session,
        nickname,
        next_msg_id: 1,
        searches: Vec::new(),
        shown_queue: ShownQueue::default(),
        acks: Acknowledgements::default(),
        unflushed: Vec::new(),
        awaiting_receipt: VecDeque::new(),
    };
    if Box::pin(mrim.welcome(conn, &login, seq)).await.is_ok() {
        mrim.silence.as_mut().reset(Instant::now() + mrim.allowed_silence);
        driver::drive(conn, &mut mrim, shutdown.cancelled()).await.log();
    }
    if let Err(e) = mrim.context.core.logout(&mut mrim.session).await {
        tracing::warn!(error = %e, "logout fan-out failed");
    }
    tracing::info!("session ended");
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
            read = conn.read() => match read {
                Ok(packet) => packet,
                Err(e) => { e.log(); return None; }
            },
        };
        if !greeted {
            // The first packet's version is the connection's version.
            conn.codec.dialect = Dialect::from_proto(packet.header.proto);
        }
        match ClientPacket::decode(&packet, conn.dialect()) {
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
                return match authenticate(context, &login, conn.peer_ip()).await {
                    Ok(account) => Some((account, login, seq)),
                    Err(rejection) => {
                        tracing::info!(login = %login.login, reason = rejection.reason(), "login rejected");
                        conn.send(&ServerPacket::LoginRej { reason: rejection.reason().into() }, seq);
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

/// Why a login is refused.
enum Rejection {
    /// Unknown account, wrong password, or a try the failed-login limiter held back.
    Invalid,
    /// The store could not check it: not the user's fault, and no failed attempt.
    Unavailable,
}

impl Rejection {
    /// `LOGIN_REJ`'s reason, which the clients show.
    fn reason(&self) -> &'static str {
        match self {
            Rejection::Invalid => "Invalid login",
            Rejection::Unavailable => "Service temporarily unavailable, try again later",
        }
    }
}

/// The account `login` names and proves, unless the failed-login limiter holds this try back
/// (too many failures from this address, or for this account from addresses it was not used from).
async fn authenticate(context: &Context, login: &Login, ip: Option<IpAddr>) -> Result<Account, Rejection> {
    let name = context.config.resolve(&login.login);
    let throttle = context.core.login_throttle();
    if let Some(ip) = ip {
        if let Err(held) = throttle.check(ip, name.as_ref()) {
            tracing::info!(login = %login.login, retry_after = ?held.retry_after, "login held back after too many failures");
            return Err(Rejection::Invalid);
        }
    }
    let found = match &name {
        Some(name) => match context.core.store().account_with_secrets(name).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "account lookup failed");
                return Err(Rejection::Unavailable);
            }
        },
        None => None,
    };
    let account = found
        .filter(|(_, secrets)| match &login.password {
            Password::Plain(given) => secrets.accepts_password(given),
            Password::Md5(digest) => secrets.accepts_password_md5(digest),
        })
        .map(|(account, _)| account);
    if let Some(ip) = ip {
        throttle.record(ip, name.as_ref(), account.is_some());
    }
    account.ok_or(Rejection::Invalid)
}

/// Answers `STARTTLS`: `MRIM_CS_OK` and the handshake, or `MRIM_CS_FAILURE` when TLS is not
/// configured or the connection is TLS already. Returns false when the connection is lost.
async fn start_tls(context: &Context, conn: &mut Conn, seq: u32) -> bool {
    match &context.config.tls {
        Some(tls) if !conn.stream.is_tls() => {
            conn.send(&ServerPacket::Ok, seq);
            match conn.stream.start_tls(tls.clone()).await {
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
            let reason = if conn.stream.is_tls() { "TLS is already on" } else { "TLS is not enabled on this server" };
            conn.send(
                &ServerPacket::Failure { code: failure::SERVICE_UNAVAILABLE, reason: reason.into(), method: 0 },
                seq,
            );
            conn.flush().await.is_ok()
        }
    }
}

/// A logged-in MRIM connection.
struct MrimSession {
    context: Arc<Context>,
    /// The ping period clients are told, which an operator may change.
    period: watch::Receiver<Duration>,
    /// How long a client may go without a `PING`, and when its time is up.
    allowed_silence: Duration,
    silence: Pin<Box<Sleep>>,
    session: Session,
    nickname: String,
    /// Ids of the `MESSAGE_ACK`s this session sends.
    next_msg_id: u32,
    /// When this session's recent searches were made.
    searches: Vec<Instant>,
    /// What of the offline queue this session has sent.
    shown_queue: ShownQueue,
    /// The `MESSAGE_STATUS` replies owed, by `seq`, each sent once its message is safe.
    acks: Acknowledgements<u32>,
    /// Messages written to the connection's buffer, not yet flushed.
    unflushed: Vec<Shown>,
    /// Messages the client has and was asked to confirm (`MESSAGE_RECV`), oldest first.
    awaiting_receipt: VecDeque<(u32, Handoff)>,
}

/// A message written for the client: its `MESSAGE_ACK` id, where its packet ends in the output,
/// and what keeps it safe.
struct Shown {
    msg_id: u32,
    end: usize,
    handoff: Handoff,
    wants_receipt: bool,
}

/// Messages awaiting their `MESSAGE_RECV` at most; past it, the oldest counts as received (it
/// was written): a client that never confirms must not make the server hold more and more.
const MOST_AWAITING_RECEIPT: usize = 64;

/// What a session waits on besides its client's packets.
enum Input {
    Silent,
    NewPeriod,
    Settled(u32, Result<Delivery, CoreError>),
    Event(Result<Event, KickReason>),
}

/// How a session ends itself.
enum Why {
    Silent,
    LoggedInElsewhere,
    TooSlow,
    TlsFailed,
}

impl driver::Session<Conn> for MrimSession {
    type Input = Input;
    type Why = Why;

    async fn next_input(&mut self) -> Input {
        tokio::select! {
            biased;
            _ = self.silence.as_mut() => Input::Silent,
            Ok(()) = self.period.changed() => Input::NewPeriod,
            (seq, outcome) = self.acks.next() => Input::Settled(seq, outcome),
            event = self.session.next_event() => Input::Event(event),
        }
    }

    fn ready_input(&mut self) -> Option<Input> {
        self.session.try_next_event().map(Input::Event)
    }

    fn reads(&self) -> bool {
        self.acks.has_room()
    }

    async fn frame(&mut self, conn: &mut Conn, packet: Packet) -> Step<Why> {
        if packet.header.msg == msg::PING {
            self.silence.as_mut().reset(Instant::now() + self.allowed_silence);
        }
        self.packet(conn, packet).await
    }

    async fn input(&mut self, conn: &mut Conn, input: Input) -> Step<Why> {
        match input {
            Input::Silent => {
                tracing::info!("no PING within 1.5 ping periods; closing");
                return Step::End(Why::Silent);
            }
            Input::NewPeriod => {
                let new = *self.period.borrow_and_update();
                self.allowed_silence = new * 3 / 2;
                self.silence.as_mut().reset(Instant::now() + self.allowed_silence);
                conn.send(&ServerPacket::ConnectionParams { ping_period: new.as_secs() as u32 }, 0);
            }
            Input::Settled(seq, outcome) => {
                conn.send(&ServerPacket::MessageStatus { status: messages::status_of(outcome) }, seq);
                self.acks.let_more_settle().await;
                return Step::WriteNow;
            }
            Input::Event(Ok(event)) => self.event(conn, event).await,
            Input::Event(Err(KickReason::LoggedInElsewhere)) => {
                tracing::info!("logged in elsewhere");
                return Step::End(Why::LoggedInElsewhere);
            }
            Input::Event(Err(KickReason::TooSlow)) => return Step::End(Why::TooSlow),
        }
        Step::Continue
    }

    fn before_flush(&mut self, conn: &mut Conn) {
        while let Some((seq, outcome)) = self.acks.ready() {
            conn.send(&ServerPacket::MessageStatus { status: messages::status_of(outcome) }, seq);
        }
    }

    async fn flushed(&mut self, sent: usize) {
        self.settle_written(sent);
    }

    /// A session ended as too slow has a client that is not reading: its stalled write is given
    /// up at once.
    fn stalled(&self) -> Option<tokio_util::sync::CancellationToken> {
        Some(self.session.ended())
    }

    async fn goodbye(&mut self, conn: &mut Conn, end: &End<Why, mrim::DecodeError>) {
        if let End::Session(Why::LoggedInElsewhere) = end {
            conn.send(&ServerPacket::Logout { reason: logout::NO_RELOGIN }, 0);
        }
    }
}

impl MrimSession {
    /// `LOGIN_ACK`, `USER_INFO`, `CONTACT_LIST2`, the stored messages, then the login status.
    async fn welcome(&mut self, conn: &mut Conn, login: &Login, seq: u32) -> std::io::Result<()> {
        conn.send(&ServerPacket::LoginAck, seq);
        let endpoint = conn.peer();
        conn.send(&ServerPacket::UserInfo { nickname: self.nickname.clone(), total: 0, unread: 0, endpoint }, 0);
        // One read of the list serves what the client is shown and the first status's fan-out.
        let (stored, groups) = match self.context.core.contact_list_with_groups(self.session.account.id).await {
            Ok((stored, groups)) => (Some(stored), groups),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the contact list");
                (None, Vec::new())
            }
        };
        let list = match &stored {
            Some(stored) => self.contact_list(conn.dialect(), &stored.relations, groups).await.map_err(|e| {
                tracing::error!(error = %e, "cannot load the contact list");
            }),
            None => Err(()),
        };
        let list =
            list.unwrap_or(ContactList { status: contact_oper::INTERR, groups: Vec::new(), contacts: Vec::new() });
        conn.send(&ServerPacket::ContactList2(list), 0);
        // There is no mailbox behind these accounts: it is reported empty.
        conn.send(&ServerPacket::MailboxStatus { unread: 0 }, 0);
        self.send_offline_messages(conn).await;
        let status = status::to_core(login.status.status).unwrap_or(Status::Online);
        let presence = Presence::new(status, self.nickname.clone());
        let published = match &stored {
            Some(stored) => self.context.core.set_presence_among(&self.session, presence, stored),
            None => self.context.core.set_presence(&self.session, presence).await,
        };
        if let Err(e) = published {
            tracing::warn!(error = %e, "could not set the first status");
        }
        conn.flush().await
    }

    /// The messages flushed (those whose packets end within the first `sent` bytes of the
    /// output) are with the client: forgotten, or kept until it confirms them. The rest go back
    /// to the queue as their hand-offs are dropped.
    fn settle_written(&mut self, sent: usize) {
        let mut told = Settlements::default();
        for Shown { msg_id, end, handoff, wants_receipt } in self.unflushed.drain(..) {
            if end > sent {
                continue;
            }
            if !wants_receipt || !handoff.is_durable() {
                told.received(handoff);
                continue;
            }
            told.written(&handoff);
            if self.awaiting_receipt.len() == MOST_AWAITING_RECEIPT {
                if let Some((_, oldest)) = self.awaiting_receipt.pop_front() {
                    tracing::debug!("a message never confirmed with MESSAGE_RECV counts as received");
                    told.received(oldest);
                }
            }
            self.awaiting_receipt.push_back((msg_id, handoff));
        }
    }

    /// `MESSAGE_RECV`: the client confirms a message.
    fn receipt(&mut self, msg_id: u32) {
        match self.awaiting_receipt.iter().position(|(id, _)| *id == msg_id) {
            Some(index) => {
                if let Some((_, handoff)) = self.awaiting_receipt.remove(index) {
                    handoff.received();
                }
            }
            None => tracing::debug!(msg_id, "MESSAGE_RECV for no message awaiting it"),
        }
    }

    async fn packet(&mut self, conn: &mut Conn, packet: Packet) -> Step<Why> {
        let seq = packet.header.seq;
        match ClientPacket::decode(&packet, conn.dialect()) {
            ClientPacket::Ping | ClientPacket::Hello => {}
            ClientPacket::MessageRecv { msg_id, .. } => self.receipt(msg_id),
            ClientPacket::Login(_) => tracing::warn!("LOGIN on a logged-in connection ignored"),
            ClientPacket::Message(message) => self.send_message(conn, message, seq).await,
            ClientPacket::AddContact(add) => {
                let (status, contact_id) = self.add_contact(add).await;
                conn.send(&ServerPacket::AddContactAck { status, contact_id }, seq);
            }
            ClientPacket::ModifyContact(modify) => {
                let status = self.modify_contact(modify).await;
                conn.send(&ServerPacket::ModifyContactAck { status }, seq);
            }
            ClientPacket::DeleteOfflineMessage { uidl } => self.delete_offline(uidl),
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
                    return Step::End(Why::TlsFailed);
                }
            }
            ClientPacket::Unknown { msg } => tracing::debug!(msg = format_args!("{msg:#x}"), "unknown packet ignored"),
        }
        Step::Continue
    }

    async fn event(&mut self, conn: &mut Conn, event: Event) {
        let context = self.context.clone();
        let config = &context.config;
        match event {
            Event::Presence { contact, presence } => {
                let status = presence.map_or(mrim::codes::status::OFFLINE, |p| status::to_mrim(p.status));
                let email = config.email_of(&contact.name);
                let info = StatusInfo { status, ..StatusInfo::default() };
                conn.send(&ServerPacket::UserStatus { status: info, email, user_agent: String::new() }, 0);
            }
            // Another protocol's peer-to-peer offers mean nothing to an MRIM client, and a
            // granted authorization reaches it as `AUTHORIZE_ACK` (`Event::Authorized`).
            Event::Message(message, handoff)
                if message.kind.is_direct_connection() || message.kind == MessageKind::AuthorizationGranted =>
            {
                handoff.received()
            }
            Event::Message(message, handoff) => self.show_message(conn, message, handoff),
            Event::Broadcast { id, message } => {
                self.show_message(conn, message, Handoff::none());
                // TCP delivered it in order with everything before: seen as soon as it is sent.
                let (store, me) = (self.context.core.clone(), self.session.account.id);
                tokio::spawn(async move {
                    if let Err(e) = store.store().mark_broadcasts_seen(me, id).await {
                        tracing::warn!(error = %e, "could not mark a broadcast seen");
                    }
                });
            }
            Event::Authorized { by } => conn.send(&ServerPacket::AuthorizeAck { user: config.email_of(&by.name) }, 0),
            // MRIM has no reverse list and no switchboards: a request to authorize comes as a
            // MESSAGE from the adder's client, and conversations need no invitation.
            Event::AddedBy { .. } | Event::RemovedBy { .. } | Event::Invitation(_) => {}
            Event::OfflineWaiting => self.send_offline_messages(conn).await,
        }
    }

    fn show_message(&mut self, conn: &mut Conn, mut message: switchyard_core::Message, handoff: Handoff) {
        // Notices other protocols send without words get the words MRIM clients would show.
        if message.text.is_empty() {
            message.text = match message.kind {
                MessageKind::ContactAdded => "added you to their contact list".into(),
                MessageKind::AuthorizationDenied => "declined your authorization request".into(),
                _ => message.text,
            };
        }
        let flags = messages::flags_of(message.kind);
        let flags = if message.wants_receipt { flags } else { flags | message_flag::NORECV };
        let (flags, rtf) = match message.formatted {
            Some(Formatted::MrimRtf(rtf)) => (flags | message_flag::RTF, rtf),
            _ => (flags, Vec::new()),
        };
        let msg_id = self.next_message_id();
        let ack = MessageAck {
            msg_id,
            flags,
            from: self.context.config.email_of(&message.from.name),
            text: message.text,
            rtf,
        };
        conn.send(&ServerPacket::MessageAck(ack), 0);
        self.unflushed.push(Shown { msg_id, end: conn.output_len(), handoff, wants_receipt: message.wants_receipt });
    }

    fn next_message_id(&mut self) -> u32 {
        let id = self.next_msg_id;
        self.next_msg_id = self.next_msg_id.wrapping_add(1).max(1);
        id
    }

    async fn set_status(&self, status: Status) {
        let presence = Presence::new(status, self.nickname.clone());
        if let Err(e) = self.context.core.set_presence(&self.session, presence).await {
            tracing::warn!(error = %e, "could not change status");
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
}
