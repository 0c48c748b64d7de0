//! One client session: registering and logging in ([`run`]), then the logged-in session
//! ([`online`]).

mod link;
mod messages;
mod online;
mod profile;

pub(crate) use link::Link;

use crate::clock::Clock;
use crate::dispatch::{InboundBox, Registration};
use crate::limits::{Budget, EVERYONE};
use link::Accepted;
use myicq::client::{Login, Request};
use myicq::codes::login;
use myicq::server::{LoginReply, ServerPacket};
use myicq::wire::from_gbk;
use std::future::Future;
use std::io;
use switchyard_core::Account;
use switchyard_net::{driver, ReadError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What a session runs on besides its link and its datagrams.
pub(crate) struct Inputs {
    pub registration: Registration,
    pub clock: Clock,
    pub shutdown: CancellationToken,
}

/// The datagrams the dispatcher routes to a session. They end (`ReadError::Closed`) when
/// another session took the route: a new login of the same UIN or from the same address.
pub(crate) struct Datagrams(mpsc::Receiver<InboundBox>);

impl driver::Link for Datagrams {
    type Frame = InboundBox;
    type Bad = std::convert::Infallible;

    fn buffered(&mut self) -> Option<Result<InboundBox, ReadError<Self::Bad>>> {
        self.0.try_recv().ok().map(Ok)
    }

    async fn read(&mut self) -> Result<InboundBox, ReadError<Self::Bad>> {
        self.0.recv().await.ok_or(ReadError::Closed)
    }

    fn has_room_for_more(&self) -> bool {
        true
    }

    /// Every reply is sent as it is made (the link resends what is not acknowledged).
    async fn flush_unless<F: Future<Output = ()> + Send>(&mut self, _: impl FnOnce() -> F + Send) -> io::Result<()> {
        Ok(())
    }

    fn sent_of_lost_output(&self) -> usize {
        0
    }
}

/// Runs a session from its first datagram (a `LOGIN` or `NEW_UIN`, already in `datagrams`).
pub(crate) fn run(
    link: Link,
    registration: Registration,
    datagrams: mpsc::Receiver<InboundBox>,
    clock: Clock,
    shutdown: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    let span = tracing::info_span!("myicq", peer = %link.peer, uin = tracing::field::Empty);
    let inputs = Inputs { registration, clock, shutdown };
    let pending = Box::new(Pending { link, inputs, datagrams: Datagrams(datagrams) });
    serve(pending).instrument(span)
}

/// The session's state is passed boxed and logging in runs in boxes of its own (small idle
/// sessions: `switchyard_net`).
async fn serve(mut pending: Box<Pending>) {
    let Some((account, login, seq)) = Box::pin(pending.until_logged_in()).await else { return };
    tracing::Span::current().record("uin", account.uin);
    let Pending { link, inputs, datagrams } = *pending;
    if let Some(online) = Box::pin(online::start(link, inputs, account, &login, seq)).await {
        online.run(datagrams).await;
    }
}

struct Pending {
    link: Link,
    inputs: Inputs,
    datagrams: Datagrams,
}

impl Pending {
    /// Serves `NEW_UIN` and `LOGIN` until a login succeeds (its account, request and seq), or
    /// the session ends: a new session from the same address, the login timeout, shutdown.
    async fn until_logged_in(&mut self) -> Option<(Account, Login, u16)> {
        let deadline = self.link.now + self.link.context.config.login_timeout;
        loop {
            let inbound = tokio::select! {
                _ = self.inputs.shutdown.cancelled() => return None,
                now = self.inputs.clock.tick() => {
                    self.link.now = now;
                    self.link.flush().await;
                    if now >= deadline {
                        tracing::debug!("no login in time; session ended");
                        return None;
                    }
                    continue;
                }
                inbound = self.datagrams.0.recv() => inbound?,
            };
            if inbound.from != self.link.peer {
                // Only a logged-in session is looked up by its uin from another address.
                continue;
            }
            let Some(Accepted { header, body }) = self.link.accept(&inbound.datagram, false).await else { continue };
            match Request::parse(header.cmd, &body) {
                Request::Ack => {
                    self.link.acknowledged(header.seq).await;
                }
                Request::NewUin { password } => self.register(&password, header.seq, inbound.datagram.len()).await,
                // A refused login ends the session: it would hold a place among the sessions
                // not logged in, which a flood of wrong passwords would fill.
                Request::Login(login) => {
                    let request_len = inbound.datagram.len();
                    let account = self.log_in(&login, header.uin, header.seq, request_len).await?;
                    return Some((account, login, header.seq));
                }
                // gaim sends LOGOUT right after registering, then LOGIN with the same session
                // id: that LOGIN must find this session still listening.
                other => tracing::debug!(cmd = other.cmd(), "command before login ignored"),
            }
        }
    }

    /// `NEW_UIN`: an account named after its UIN, or UIN 0 when registration is closed or the
    /// address has registered enough this hour.
    async fn register(&mut self, password: &[u8], seq: u16, request_len: usize) {
        let context = self.link.context.clone();
        let ip = self.link.peer.ip();
        let now = self.link.now;
        let open = context.config.registration && context.limits.allows(ip, Budget::Registration, now);
        let open = open && {
            let room = context.limits.allows(EVERYONE, Budget::AllRegistrations, now);
            if !room {
                tracing::warn!(%ip, "registrations of all addresses at their hourly limit; refused");
            }
            room
        };
        let uin = if !open || password.is_empty() {
            0
        } else {
            context.limits.spend(ip, Budget::Registration, now);
            context.limits.spend(EVERYONE, Budget::AllRegistrations, now);
            match context.core.store().create_numbered_account(&from_gbk(password)).await {
                Ok(account) => {
                    tracing::info!(uin = account.uin, name = %account.name, "registered");
                    account.uin
                }
                Err(e) => {
                    tracing::error!(error = %e, "registration failed");
                    0
                }
            }
        };
        if uin == 0 {
            tracing::info!(registration = context.config.registration, "registration refused");
            // Clients read no domain after UIN 0; a refusal stays within the request's size.
            let refusal = ServerPacket::NewUin { uin, domain: String::new() };
            return self.reply_before_login(&refusal, seq, request_len).await;
        }
        // The server's domain names the new account (`uin@domain`). This answer may be a few
        // bytes longer than its request, but each one is an account created within the
        // address's registration budget, so it cannot be used to amplify traffic.
        let created = ServerPacket::NewUin { uin, domain: context.config.domain.clone() };
        if self.link.send(&created, seq, None).await.is_err() {
            tracing::debug!("send queue full before login");
        }
    }

    /// Checks a `LOGIN`; a refusal is answered here, a success by the caller. A try the
    /// failed-login limiter holds back is refused unchecked.
    async fn log_in(&mut self, login: &Login, uin: u32, seq: u16, request_len: usize) -> Option<Account> {
        let context = self.link.context.clone();
        let ip = self.link.peer.ip();
        let store = context.core.store();
        let account = match store.account_by_uin(uin).await {
            Ok(account) => account,
            Err(e) => {
                tracing::error!(error = %e, "account lookup failed");
                return None;
            }
        };
        let name = account.as_ref().map(|a| a.name.clone());
        let throttle = context.core.login_throttle();
        let refused = if let Err(held) = throttle.check(ip, name.as_ref()) {
            tracing::info!(uin, retry_after = ?held.retry_after, "login held back after too many failures");
            login::WRONG_PASSWD
        } else {
            // An unknown UIN is refused as a wrong password is: a login does not tell which
            // UINs exist.
            let Some(account) = account else {
                throttle.failed(ip, None);
                return self.refuse_login(uin, login::WRONG_PASSWD, seq, request_len).await;
            };
            let secrets = match store.secrets(account.id).await {
                Ok(secrets) => secrets,
                Err(e) => {
                    tracing::error!(error = %e, "secrets lookup failed");
                    return None;
                }
            };
            let right = secrets.is_some_and(|secrets| accepts(&secrets, &login.password));
            throttle.record(ip, name.as_ref(), right);
            if right {
                self.link.uin = uin;
                self.link.set_key(&login.password);
                return Some(account);
            }
            login::WRONG_PASSWD
        };
        self.refuse_login(uin, refused, seq, request_len).await
    }

    async fn refuse_login(&mut self, uin: u32, code: u8, seq: u16, request_len: usize) -> Option<Account> {
        tracing::info!(uin, code, "login refused");
        self.reply_before_login(&ServerPacket::Login(LoginReply::Refused(code)), seq, request_len).await;
        None
    }

    /// Answers a request from an address not yet proven, never with more bytes than the request
    /// had: a forged sender address must not turn this server into an amplifier.
    async fn reply_before_login(&mut self, reply: &ServerPacket, seq: u16, request_len: usize) {
        if myicq::HEADER_LEN + reply.encode().len() > request_len {
            tracing::debug!("reply longer than its request; not sent");
            return;
        }
        if self.link.send(reply, seq, None).await.is_err() {
            tracing::debug!("send queue full before login");
        }
    }
}

pub(crate) use switchyard_core::unix_now;

/// Ends of a session, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Logout,
    /// No keepalive for 180 s.
    Expired,
    /// The client stopped acknowledging what it was sent.
    Unresponsive,
    /// A new session replaced this one (a new login, elsewhere or from the same address).
    Replaced,
    Shutdown,
}

/// MyICQ clients send the password in GBK; one typed as UTF-8 elsewhere is taken too.
fn accepts(secrets: &switchyard_core::Secrets, password: &[u8]) -> bool {
    secrets.accepts_password(&from_gbk(password))
        || std::str::from_utf8(password).is_ok_and(|utf8| secrets.accepts_password(utf8))
}
