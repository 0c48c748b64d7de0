//! The dispatch and notification roles: dialect negotiation and login (`login`), the contact
//! lists and groups (`lists`, `groups`), presence and challenges (`presence`), switchboard
//! referrals, and the core's events turned into commands of the connection's dialect.

mod groups;
mod lists;
mod login;
mod messages;
mod presence;

use crate::conn::{BadInput, Conn, Replies};
use crate::handles::ResolveError;
use crate::Context;
use msnp::{CommandError, Dialect, ErrorCode, Frame, List, MsnStatus, NsCommand, Reply, Trid};
use presence::PendingChallenge;
use std::sync::Arc;
use switchyard_core::{AccountName, CoreError, Event, KickReason, Presence, Session, ShownQueue};
use switchyard_net::driver::{self, End, Step};
use tokio_util::sync::CancellationToken;

/// Logs the client in and serves it until it leaves; the caller closes `conn`. The login runs in
/// a box of its own (small idle sessions: `switchyard_net`).
pub(crate) async fn run(
    context: Arc<Context>,
    conn: &mut Conn,
    first: Frame,
    referral: Option<&str>,
    login_deadline: tokio::time::Instant,
    shutdown: &CancellationToken,
) {
    let login = login::log_in(&context, conn, first, referral, login_deadline, shutdown);
    let Some(login) = Box::pin(login).await else {
        return;
    };
    let mut session = login.session;
    tracing::Span::current().record("account", session.account.name.as_str());
    // MSN users join the conversations they are invited to (switchboards).
    if let Err(e) = context.core.take_invitations(&session) {
        tracing::warn!(error = %e, "session ended before it started");
    }
    tracing::info!(dialect = %login.dialect, "logged in");
    // Switchboards live on this node, reachable where the client reached us (or as configured).
    let switchboard_address = match conn.stream.local_addr() {
        Ok(local) => context.public_address(local),
        Err(e) => {
            tracing::warn!(error = %e, "connection has no local address");
            let _ = context.core.logout(&mut session).await;
            return;
        }
    };
    let friendly = context.config.domains.friendly_of(&session.account.to_ref());
    let mut ns = Notification {
        handle: context.config.domains.handle_of(&session.account.name),
        context,
        session,
        dialect: login.dialect,
        presence: Presence::new(switchyard_core::Status::Offline, friendly),
        status: MsnStatus::Offline,
        switchboard_address,
        challenge: PendingChallenge::NotYet,
        shown_queue: ShownQueue::default(),
    };
    driver::drive(conn, &mut ns, shutdown.cancelled()).await.log();
    if let Err(e) = ns.context.core.logout(&mut ns.session).await {
        tracing::warn!(error = %e, "logout fan-out failed");
    }
    // Its rings can no longer be answered: what waited in them is for the next login.
    ns.context.switchboards.abandon_rings(ns.session.account.id);
    tracing::info!("session ended");
}

pub(super) fn send_error(conn: &mut Conn, e: CommandError) {
    conn.send(Reply::Error { code: e.code, trid: e.trid });
}

pub(super) async fn flush(conn: &mut Conn) -> Option<()> {
    match conn.flush().await {
        Ok(()) => Some(()),
        Err(e) => {
            tracing::info!(error = %e, "write failed");
            None
        }
    }
}

/// A logged-in notification connection.
struct Notification {
    context: Arc<Context>,
    session: Session,
    dialect: Dialect,
    /// The user's own handle as clients see it.
    handle: String,
    /// What the user shows others once not offline: name, personal message, client details.
    presence: Presence,
    status: MsnStatus,
    /// `host:port` given in `XFR SB` and `RNG`.
    switchboard_address: String,
    challenge: PendingChallenge,
    /// What of the offline queue this session has offered.
    shown_queue: ShownQueue,
}

/// What a session waits on besides its client's commands.
enum Input {
    ChallengeExpired,
    Event(Result<Event, KickReason>),
}

/// How a session ends itself.
enum Why {
    ChallengeExpired,
    WrongChallengeAnswer,
    LoggedInElsewhere,
    TooSlow,
    /// The client said `OUT`.
    LoggedOut,
}

impl driver::Session<Conn> for Notification {
    type Input = Input;
    type Why = Why;

    async fn next_input(&mut self) -> Input {
        tokio::select! {
            biased;
            _ = self.challenge.expired() => Input::ChallengeExpired,
            event = self.session.next_event() => Input::Event(event),
        }
    }

    fn ready_input(&mut self) -> Option<Input> {
        self.session.try_next_event().map(Input::Event)
    }

    async fn frame(&mut self, conn: &mut Conn, frame: Frame) -> Step<Why> {
        match NsCommand::parse(&frame) {
            Ok(command) => self.command(conn, command).await,
            Err(e) => {
                send_error(conn, e);
                Step::Continue
            }
        }
    }

    async fn input(&mut self, conn: &mut Conn, input: Input) -> Step<Why> {
        match input {
            Input::ChallengeExpired => {
                tracing::info!("challenge not answered in time");
                Step::End(Why::ChallengeExpired)
            }
            Input::Event(Ok(event)) => {
                Box::pin(self.event(conn, event)).await;
                Step::Continue
            }
            Input::Event(Err(KickReason::LoggedInElsewhere)) => {
                tracing::info!("logged in elsewhere");
                Step::End(Why::LoggedInElsewhere)
            }
            Input::Event(Err(KickReason::TooSlow)) => Step::End(Why::TooSlow),
        }
    }

    async fn goodbye(&mut self, conn: &mut Conn, end: &End<Why, BadInput>) {
        match end {
            End::Shutdown => conn.send(Reply::Out { reason: Some("SSD") }),
            End::Session(Why::LoggedInElsewhere) => conn.send(Reply::Out { reason: Some("OTH") }),
            _ => {}
        }
    }
}

impl Notification {
    async fn command(&mut self, conn: &mut Conn, command: NsCommand) -> Step<Why> {
        let result = match command {
            NsCommand::Ver { trid, .. } => {
                conn.send(Reply::Ver { trid, dialect: Some(&self.dialect.to_string()) });
                Ok(())
            }
            NsCommand::Cvr { trid, client } => {
                login::answer_cvr(&self.context, conn, trid, &client);
                Ok(())
            }
            NsCommand::Inf { trid } => login::answer_inf(conn, self.dialect, trid),
            NsCommand::Usr { trid, .. } => Err(error(trid, ErrorCode::AlreadyLoggedIn)),
            NsCommand::Syn { trid, version } => self.synchronize(conn, trid, version).await,
            NsCommand::Lst { trid, list } => self.list(conn, trid, list).await,
            NsCommand::Gtc { trid, mode } => self.set_prompt(conn, trid, mode).await,
            NsCommand::Blp { trid, mode } => self.set_privacy(conn, trid, mode).await,
            NsCommand::Add { trid, list, handle, name, group } => {
                self.add(conn, trid, list, &handle, &name, group.as_deref()).await
            }
            NsCommand::Adc { trid, list, contact, name, group } => {
                self.add_contact(conn, trid, list, contact, name, group.as_deref()).await
            }
            NsCommand::Rem { trid, list, contact, group } => {
                self.remove(conn, trid, list, &contact, group.as_deref()).await
            }
            NsCommand::Lsg { trid } => self.list_groups(conn, trid).await,
            NsCommand::Adg { trid, name } => self.add_group(conn, trid, &name).await,
            NsCommand::Rmg { trid, group } => self.remove_group(conn, trid, &group).await,
            NsCommand::Reg { trid, group, name } => self.rename_group(conn, trid, &group, &name).await,
            NsCommand::Rea { trid, handle, name } => self.rename(conn, trid, &handle, &name).await,
            NsCommand::Prp { trid, property, value } => self.set_property(conn, trid, &property, value).await,
            NsCommand::Sbp { trid, contact, property, value } => {
                self.set_contact_property(conn, trid, &contact, &property, &value).await
            }
            NsCommand::Chg { trid, status, capabilities, object } => {
                self.change_status(conn, trid, status, capabilities, object).await
            }
            NsCommand::Uux { trid, payload } => self.set_personal_message(conn, trid, &payload).await,
            NsCommand::Qry { trid, product, payload } => return self.answer_challenge(conn, trid, &product, &payload),
            NsCommand::Url { trid, service } => self.url(conn, trid, &service),
            NsCommand::Gcf { trid, file } => self.configuration_file(conn, trid, &file),
            NsCommand::Png => {
                let interval = self.dialect.qng_has_interval().then_some(self.context.config.ping_interval);
                conn.send(Reply::Qng { interval });
                Ok(())
            }
            NsCommand::XfrSb { trid } => self.refer_to_switchboard(conn, trid),
            // The service closed without a word: msn-pecan reads a reason from any `OUT` it gets.
            NsCommand::Out => return Step::End(Why::LoggedOut),
        };
        if let Err(e) = result {
            send_error(conn, e);
        }
        Step::Continue
    }

    /// `URL`: where the web pages of a service are. There are none here; the configured web
    /// address with the service's name keeps clients from failing.
    fn url(&mut self, conn: &mut Conn, trid: Trid, service: &str) -> Result<(), CommandError> {
        let service = service.to_ascii_lowercase();
        let url = format!("{}{service}", self.context.config.web_url);
        conn.send(Reply::Url { trid, rru: &format!("/{service}"), url: &url, id: 2 });
        Ok(())
    }

    /// `GCF`: MSNP11+ clients ask for `Shields.xml` (which client versions may connect) and
    /// wait for it; it allows every version.
    fn configuration_file(&mut self, conn: &mut Conn, trid: Trid, file: &str) -> Result<(), CommandError> {
        const SHIELDS: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\" ?><config><shield><cli maj=\"7\" min=\"0\" \
            minbld=\"0\" maxbld=\"9999\" deny=\" \" /></shield><block></block></config>";
        if !self.dialect.has_gcf() {
            return Err(error(trid, ErrorCode::CommandDisabled));
        }
        conn.send(Reply::Gcf { trid, file, payload: SHIELDS });
        Ok(())
    }

    fn refer_to_switchboard(&mut self, conn: &mut Conn, trid: Trid) -> Result<(), CommandError> {
        if matches!(self.status, MsnStatus::Offline | MsnStatus::Hidden) {
            return Err(error(trid, ErrorCode::NotAllowedWhenOffline));
        }
        let member = crate::switchboard::Member {
            account: self.session.account.to_ref(),
            handle: self.handle.clone(),
            friendly: self.presence.display_name.clone(),
        };
        let Some(cookie) = self.context.switchboards.ticket_to_create(member) else {
            return Err(error(trid, ErrorCode::UserTooActive));
        };
        conn.send(Reply::XfrSb { trid, address: &self.switchboard_address, cookie: &cookie });
        Ok(())
    }

    fn resolve(&self, trid: Trid, handle: &str) -> Result<AccountName, CommandError> {
        self.context.config.domains.resolve(handle).map_err(|e| {
            error(
                trid,
                match e {
                    ResolveError::Malformed => ErrorCode::InvalidParameter,
                    ResolveError::MissingDomain => ErrorCode::FqdnMissing,
                    ResolveError::Foreign => ErrorCode::InvalidUser,
                },
            )
        })
    }

    async fn event(&mut self, conn: &mut Conn, event: Event) {
        let domains = &self.context.config.domains;
        match event {
            Event::Presence { contact, presence } => {
                if self.status == MsnStatus::Offline {
                    return;
                }
                let handle = domains.handle_of(&contact.name);
                match presence {
                    Some(p) => self.show_presence(conn, None, &handle, &p),
                    None => conn.send(Reply::Fln { handle: &handle }),
                }
            }
            Event::AddedBy { by, version } => {
                let handle = domains.handle_of(&by.name);
                let friendly = domains.friendly_of(&by);
                if self.dialect.has_adc() {
                    conn.send(Reply::Adc {
                        trid: 0,
                        list: List::Reverse,
                        handle: Some(&handle),
                        friendly: Some(&friendly),
                        guid: None,
                        group: None,
                    });
                } else {
                    conn.send(Reply::Add {
                        trid: 0,
                        list: List::Reverse,
                        version,
                        handle: &handle,
                        friendly: &friendly,
                        group: None,
                    });
                }
            }
            Event::RemovedBy { by, version } => {
                let handle = domains.handle_of(&by.name);
                let version = self.dialect.replies_carry_version().then_some(version);
                conn.send(Reply::Rem { trid: 0, list: List::Reverse, version, contact: &handle, group: None });
            }
            Event::Invitation(invite) => {
                let caller = domains.handle_of(&invite.from.name);
                conn.send(Reply::Rng {
                    session: invite.conversation,
                    address: &invite.address,
                    cookie: &invite.ticket,
                    caller: &caller,
                    friendly: &invite.from_display_name,
                });
            }
            // MSNP has no word for "someone allowed you": the grantor's allow list shows it.
            Event::Authorized { .. } => {}
            Event::Broadcast { id, message } => {
                self.receive_message(conn, message, Some(crate::switchboard::Receipt::Broadcast(id)))
            }
            Event::Message(message, handoff) => {
                let receipt = handoff.is_durable().then(|| crate::switchboard::Receipt::Live(handoff));
                self.receive_message(conn, message, receipt)
            }
            // Before the first status the queue is read anyway, when the user comes online.
            Event::OfflineWaiting if self.status == MsnStatus::Offline => {}
            Event::OfflineWaiting => self.deliver_queued(conn).await,
        }
    }
}

fn error(trid: Trid, code: ErrorCode) -> CommandError {
    CommandError { trid: Some(trid), code }
}

/// The protocol's error for each refusal of the core.
fn core_error(trid: Trid, e: CoreError) -> CommandError {
    let code = match e {
        CoreError::NoSuchAccount => ErrorCode::InvalidUser,
        CoreError::AlreadyOnList => ErrorCode::AlreadyThere,
        CoreError::OnOppositeList => ErrorCode::AlreadyInOppositeList,
        CoreError::ListFull => ErrorCode::ListFull,
        CoreError::NotOnList => ErrorCode::NotOnList,
        CoreError::NotOnline => ErrorCode::NotOnline,
        CoreError::NotAllowed => ErrorCode::NotOnList,
        CoreError::NoSuchGroup => ErrorCode::InvalidGroup,
        CoreError::GroupLimit => ErrorCode::TooManyGroups,
        CoreError::SessionGone | CoreError::QueueFull | CoreError::Store(_) => {
            tracing::error!(error = %e, "command failed");
            ErrorCode::InternalServer
        }
    };
    error(trid, code)
}
