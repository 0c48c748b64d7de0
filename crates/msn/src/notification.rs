//! The dispatch and notification roles: version negotiation, MD5 login, list synchronization
//! and editing, presence, switchboard referrals, and the core's events turned into commands.

use crate::conn::{Conn, ReadError};
use crate::handles::ResolveError;
use crate::status;
use crate::Context;
use msnp::command::{AuthStage, PrivacyMode, PromptMode};
use msnp::{CommandError, Dialect, ErrorCode, Frame, List, MsnStatus, NsCommand, Reply, Trid};
use rand::Rng;
use std::sync::Arc;
use switchyard_core::{
    Account, ContactList, CoreError, Event, KickReason, ListKind, Presence, Privacy, ReverseListPrompt, Session,
};
use tokio_util::sync::CancellationToken;

/// The newest dialect this front implements; `VER` agrees on the highest one offered up to it.
/// (The codec knows MSNP2–12; the front takes them up as each dialect's behaviour lands.)
const NEWEST_SPOKEN: Dialect = Dialect::OLDEST;
const SECURITY_PACKAGE: &str = "MD5";

/// What the connection does after a command.
enum Flow {
    Continue,
    Close,
}

/// The state before login.
enum Login {
    New,
    Versioned,
    /// `USR MD5 I` was answered with `challenge`; `account` is `None` for unknown handles,
    /// which still get a challenge so that account names cannot be probed.
    Challenged {
        handle: String,
        account: Option<Account>,
        challenge: String,
    },
}

pub(crate) async fn run(
    context: Arc<Context>,
    mut conn: Conn,
    first: Frame,
    referral: Option<String>,
    shutdown: CancellationToken,
) {
    let Some(session) = log_in(&context, &mut conn, first, referral.as_deref(), &shutdown).await else {
        conn.close().await;
        return;
    };
    tracing::Span::current().record("account", session.account.name.as_str());
    tracing::info!("logged in");
    let friendly = context.config.domains.friendly_of(&session.account.to_ref());
    // Switchboards live on this node, reachable where the client reached us (or as configured).
    let switchboard_address = match conn.local_addr() {
        Ok(local) => context.public_address(local),
        Err(e) => {
            tracing::warn!(error = %e, "connection has no local address");
            let _ = context.core.logout(&session).await;
            conn.close().await;
            return;
        }
    };
    let mut ns = Notification { context, session, friendly, switchboard_address, status: MsnStatus::Offline };
    ns.serve(&mut conn, &shutdown).await;
    if let Err(e) = ns.context.core.logout(&ns.session).await {
        tracing::warn!(error = %e, "logout fan-out failed");
    }
    conn.close().await;
}

/// What a command before login leads to.
enum Step {
    Continue,
    Close,
    LoggedIn(Session),
}

/// Runs the commands before login; returns the session once `USR` succeeds.
async fn log_in(
    context: &Context,
    conn: &mut Conn,
    first: Frame,
    referral: Option<&str>,
    shutdown: &CancellationToken,
) -> Option<Session> {
    let mut login = LoginState { state: Login::New, failures: 0, referral };
    let mut next = Some(first);
    loop {
        let frame = match next.take() {
            Some(frame) => frame,
            None => {
                let read = tokio::time::timeout(context.config.login_timeout, conn.read_frame());
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    read = read => match read {
                        Ok(Ok(frame)) => frame,
                        Ok(Err(e)) => { e.log(); return None; }
                        Err(_) => { tracing::info!("closing connection idle before login"); return None; }
                    },
                }
            }
        };
        let step = match NsCommand::parse(&frame) {
            Ok(command) => login.command(context, conn, command, frame.trid()).await,
            Err(e) => {
                send_error(conn, e);
                Step::Continue
            }
        };
        match step {
            Step::Continue => flush(conn).await?,
            Step::Close => return None,
            Step::LoggedIn(session) => return flush(conn).await.map(|()| session),
        }
    }
}

struct LoginState<'a> {
    state: Login,
    failures: u32,
    /// Set on a dispatch-only listener: where to refer logins.
    referral: Option<&'a str>,
}

impl LoginState<'_> {
    async fn command(&mut self, context: &Context, conn: &mut Conn, command: NsCommand, trid: Option<Trid>) -> Step {
        let error = |conn: &mut Conn, code| {
            conn.send(Reply::Error { code, trid });
            Step::Continue
        };
        match command {
            NsCommand::Ver { trid, dialects } => {
                let chosen = Dialect::negotiate_up_to(dialects.iter().map(String::as_str), NEWEST_SPOKEN);
                let name = chosen.map(|d| d.to_string());
                conn.send(Reply::Ver { trid, dialect: name.as_deref() });
                if chosen.is_none() {
                    return Step::Close;
                }
                self.state = Login::Versioned;
                Step::Continue
            }
            NsCommand::Out => {
                conn.send(Reply::Out { reason: None });
                Step::Close
            }
            _ if matches!(self.state, Login::New) => error(conn, ErrorCode::NotExpected),
            NsCommand::Inf { trid } => {
                conn.send(Reply::Inf { trid, packages: SECURITY_PACKAGE });
                Step::Continue
            }
            NsCommand::Usr { package, .. } if package != SECURITY_PACKAGE => {
                error(conn, ErrorCode::AuthenticationFailed)
            }
            NsCommand::Usr { trid, stage: AuthStage::Initiate, value: handle, .. } => {
                if let Some(address) = self.referral {
                    conn.send(Reply::XfrNs { trid, address });
                    return Step::Close;
                }
                let account = match context.config.domains.resolve(&handle) {
                    Err(ResolveError::MissingDomain) => return error(conn, ErrorCode::FqdnMissing),
                    Err(_) => None,
                    Ok(name) => context.core.store().account_by_name(&name).await.ok().flatten(),
                };
                let challenge = new_challenge();
                conn.send(Reply::UsrChallenge { trid, package: SECURITY_PACKAGE, challenge: &challenge });
                self.state = Login::Challenged { handle: handle.to_ascii_lowercase(), account, challenge };
                Step::Continue
            }
            NsCommand::Usr { trid, stage: AuthStage::Subsequent, value: response, .. } => {
                let Login::Challenged { handle, account, challenge } =
                    std::mem::replace(&mut self.state, Login::Versioned)
                else {
                    return error(conn, ErrorCode::AuthenticationFailed);
                };
                let Some(account) = verify(context, account, &challenge, &response).await else {
                    self.failures += 1;
                    tracing::info!(%handle, failures = self.failures, "authentication failed");
                    error(conn, ErrorCode::AuthenticationFailed);
                    return if self.failures >= context.config.max_login_attempts {
                        Step::Close
                    } else {
                        Step::Continue
                    };
                };
                let friendly = context.config.domains.friendly_of(&account.to_ref());
                match context.core.login(account, friendly.clone()).await {
                    Ok(session) => {
                        conn.send(Reply::UsrOk { trid, handle: &handle, friendly: &friendly });
                        Step::LoggedIn(session)
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "login failed in the core");
                        error(conn, ErrorCode::InternalServer)
                    }
                }
            }
            _ => error(conn, ErrorCode::NotLoggedIn),
        }
    }
}

async fn verify(context: &Context, account: Option<Account>, challenge: &str, response: &str) -> Option<Account> {
    let account = account?;
    let password = context.core.store().password(account.id).await.ok().flatten()?;
    msnp::auth::verify_md5_response(challenge, &password, response).then_some(account)
}

/// A fresh challenge in the service's own shape: seconds, a dot, nine digits.
fn new_challenge() -> String {
    let mut rng = rand::rng();
    format!("{}.{:09}", rng.random_range(1_000_000_000u64..10_000_000_000), rng.random_range(0..1_000_000_000u32))
}

fn send_error(conn: &mut Conn, e: CommandError) {
    conn.send(Reply::Error { code: e.code, trid: e.trid });
}

async fn flush(conn: &mut Conn) -> Option<()> {
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
    friendly: String,
    /// `host:port` given in `XFR SB` and `RNG`.
    switchboard_address: String,
    status: MsnStatus,
}

enum Input {
    Shutdown,
    Frame(Result<Frame, ReadError>),
    Event(Result<Event, KickReason>),
}

impl Notification {
    async fn serve(&mut self, conn: &mut Conn, shutdown: &CancellationToken) {
        loop {
            let input = tokio::select! {
                biased;
                _ = shutdown.cancelled() => Input::Shutdown,
                event = self.session.next_event() => Input::Event(event),
                frame = conn.read_frame() => Input::Frame(frame),
            };
            let flow = match input {
                Input::Shutdown => {
                    conn.send(Reply::Out { reason: Some("SSD") });
                    Flow::Close
                }
                Input::Frame(Ok(frame)) => match NsCommand::parse(&frame) {
                    Ok(command) => self.command(conn, command).await,
                    Err(e) => {
                        send_error(conn, e);
                        Flow::Continue
                    }
                },
                Input::Frame(Err(e)) => {
                    e.log();
                    Flow::Close
                }
                Input::Event(Ok(event)) => {
                    self.event(conn, event).await;
                    Flow::Continue
                }
                Input::Event(Err(KickReason::LoggedInElsewhere)) => {
                    tracing::info!("logged in elsewhere");
                    conn.send(Reply::Out { reason: Some("OTH") });
                    Flow::Close
                }
                Input::Event(Err(KickReason::TooSlow)) => Flow::Close,
            };
            if flush(conn).await.is_none() || matches!(flow, Flow::Close) {
                return;
            }
        }
    }

    async fn command(&mut self, conn: &mut Conn, command: NsCommand) -> Flow {
        let result = match command {
            NsCommand::Ver { trid, .. } => {
                conn.send(Reply::Ver { trid, dialect: Some(&NEWEST_SPOKEN.to_string()) });
                Ok(())
            }
            NsCommand::Inf { trid } => {
                conn.send(Reply::Inf { trid, packages: SECURITY_PACKAGE });
                Ok(())
            }
            NsCommand::Usr { trid, .. } => Err(CommandError { trid: Some(trid), code: ErrorCode::AlreadyLoggedIn }),
            NsCommand::Syn { trid, version } => self.synchronize(conn, trid, version).await,
            NsCommand::Lst { trid, list } => self.list(conn, trid, list).await,
            NsCommand::Gtc { trid, mode } => self.set_prompt(conn, trid, mode).await,
            NsCommand::Blp { trid, mode } => self.set_privacy(conn, trid, mode).await,
            NsCommand::Add { trid, list, handle, name } => self.add(conn, trid, list, &handle, &name).await,
            NsCommand::Rem { trid, list, handle } => self.remove(conn, trid, list, &handle).await,
            NsCommand::Chg { trid, status } => self.change_status(conn, trid, status).await,
            NsCommand::XfrSb { trid } => self.refer_to_switchboard(conn, trid),
            NsCommand::Out => {
                conn.send(Reply::Out { reason: None });
                return Flow::Close;
            }
        };
        if let Err(e) = result {
            send_error(conn, e);
        }
        Flow::Continue
    }

    async fn synchronize(&mut self, conn: &mut Conn, trid: Trid, client_version: u32) -> Result<(), CommandError> {
        let lists = self.contact_list(trid).await?;
        let version = lists.settings.version;
        conn.send(Reply::Syn { trid, version });
        if client_version != version {
            conn.send(Reply::Gtc { trid, version, mode: prompt_to_msn(lists.settings.prompt) });
            conn.send(Reply::Blp { trid, version, mode: privacy_to_msn(lists.settings.privacy) });
            for list in List::ALL {
                self.send_list(conn, trid, list, &lists);
            }
        }
        Ok(())
    }

    async fn list(&mut self, conn: &mut Conn, trid: Trid, list: List) -> Result<(), CommandError> {
        let lists = self.contact_list(trid).await?;
        self.send_list(conn, trid, list, &lists);
        Ok(())
    }

    async fn contact_list(&self, trid: Trid) -> Result<ContactList, CommandError> {
        self.context.core.contact_list(self.session.account.id).await.map_err(|e| core_error(trid, e))
    }

    fn send_list(&self, conn: &mut Conn, trid: Trid, list: List, lists: &ContactList) {
        let domains = &self.context.config.domains;
        let entries: Vec<(String, String)> = match list_kind(list) {
            Some(kind) => lists
                .entries(kind)
                .map(|e| {
                    let handle = domains.handle_of(&e.account.name);
                    let name = if e.display_name.is_empty() { handle.clone() } else { e.display_name };
                    (handle, name)
                })
                .collect(),
            None => lists.reverse().map(|a| (domains.handle_of(&a.name), domains.friendly_of(a))).collect(),
        };
        let version = lists.settings.version;
        if entries.is_empty() {
            conn.send(Reply::LstEmpty { trid, list, version });
        }
        let total = entries.len();
        for (i, (handle, friendly)) in entries.iter().enumerate() {
            conn.send(Reply::Lst { trid, list, version, index: i + 1, total, handle, friendly });
        }
    }

    async fn set_prompt(&mut self, conn: &mut Conn, trid: Trid, mode: PromptMode) -> Result<(), CommandError> {
        let prompt = match mode {
            PromptMode::Ask => ReverseListPrompt::Ask,
            PromptMode::AllowAutomatically => ReverseListPrompt::AllowAutomatically,
        };
        let version =
            self.context.core.set_prompt(self.session.account.id, prompt).await.map_err(|e| core_error(trid, e))?;
        conn.send(Reply::Gtc { trid, version, mode });
        Ok(())
    }

    async fn set_privacy(&mut self, conn: &mut Conn, trid: Trid, mode: PrivacyMode) -> Result<(), CommandError> {
        let privacy = match mode {
            PrivacyMode::AllowAll => Privacy::AllowUnlisted,
            PrivacyMode::BlockAll => Privacy::BlockUnlisted,
        };
        let version =
            self.context.core.set_privacy(self.session.account.id, privacy).await.map_err(|e| core_error(trid, e))?;
        conn.send(Reply::Blp { trid, version, mode });
        Ok(())
    }

    async fn add(
        &mut self,
        conn: &mut Conn,
        trid: Trid,
        list: List,
        handle: &str,
        name: &str,
    ) -> Result<(), CommandError> {
        let kind = list_kind(list).ok_or(CommandError { trid: Some(trid), code: ErrorCode::InvalidParameter })?;
        let target = self.resolve(trid, handle)?;
        let (target, version) = self
            .context
            .core
            .add_to_list(&self.session.account, kind, &target, name)
            .await
            .map_err(|e| core_error(trid, e))?;
        let handle = self.context.config.domains.handle_of(&target.name);
        conn.send(Reply::Add { trid, list, version, handle: &handle, friendly: name });
        if kind == ListKind::Forward && self.status != MsnStatus::Offline {
            let presence = self.context.core.presence_for(self.session.account.id, &target).await;
            if let Ok(Some(presence)) = presence {
                let status = status::to_msn(presence.status);
                conn.send(Reply::Iln { trid, status, handle: &handle, friendly: &presence.display_name });
            }
        }
        Ok(())
    }

    async fn remove(&mut self, conn: &mut Conn, trid: Trid, list: List, handle: &str) -> Result<(), CommandError> {
        let kind = list_kind(list).ok_or(CommandError { trid: Some(trid), code: ErrorCode::InvalidParameter })?;
        let target =
            self.resolve(trid, handle).map_err(|_| CommandError { trid: Some(trid), code: ErrorCode::NotOnList })?;
        let (target, version) = self
            .context
            .core
            .remove_from_list(&self.session.account, kind, &target)
            .await
            .map_err(|e| core_error(trid, e))?;
        let handle = self.context.config.domains.handle_of(&target.name);
        conn.send(Reply::Rem { trid, list, version, handle: &handle });
        Ok(())
    }

    async fn change_status(&mut self, conn: &mut Conn, trid: Trid, new: MsnStatus) -> Result<(), CommandError> {
        let presence = Presence { status: status::to_core(new), display_name: self.friendly.clone() };
        self.context.core.set_presence(&self.session, presence).await.map_err(|e| core_error(trid, e))?;
        let was_receiving = self.status != MsnStatus::Offline;
        self.status = new;
        conn.send(Reply::Chg { trid, status: new });
        if !was_receiving && new != MsnStatus::Offline {
            let contacts =
                self.context.core.visible_contacts(self.session.account.id).await.map_err(|e| core_error(trid, e))?;
            for (contact, presence) in contacts {
                let handle = self.context.config.domains.handle_of(&contact.name);
                let status = status::to_msn(presence.status);
                conn.send(Reply::Iln { trid, status, handle: &handle, friendly: &presence.display_name });
            }
        }
        Ok(())
    }

    fn refer_to_switchboard(&mut self, conn: &mut Conn, trid: Trid) -> Result<(), CommandError> {
        if matches!(self.status, MsnStatus::Offline | MsnStatus::Hidden) {
            return Err(CommandError { trid: Some(trid), code: ErrorCode::NotAllowedWhenOffline });
        }
        let member = self.member();
        let Some(cookie) = self.context.switchboards.ticket_to_create(member) else {
            return Err(CommandError { trid: Some(trid), code: ErrorCode::UserTooActive });
        };
        conn.send(Reply::XfrSb { trid, address: &self.switchboard_address, cookie: &cookie });
        Ok(())
    }

    fn member(&self) -> crate::switchboard::Member {
        crate::switchboard::Member {
            account: self.session.account.to_ref(),
            handle: self.context.config.domains.handle_of(&self.session.account.name),
            friendly: self.friendly.clone(),
        }
    }

    fn resolve(&self, trid: Trid, handle: &str) -> Result<switchyard_core::AccountName, CommandError> {
        self.context.config.domains.resolve(handle).map_err(|e| CommandError {
            trid: Some(trid),
            code: match e {
                ResolveError::Malformed => ErrorCode::InvalidParameter,
                ResolveError::MissingDomain => ErrorCode::FqdnMissing,
                ResolveError::Foreign => ErrorCode::InvalidUser,
            },
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
                    Some(p) => conn.send(Reply::Nln {
                        status: status::to_msn(p.status),
                        handle: &handle,
                        friendly: &p.display_name,
                    }),
                    None => conn.send(Reply::Fln { handle: &handle }),
                }
            }
            Event::AddedBy { by, version } => {
                let handle = domains.handle_of(&by.name);
                let friendly = domains.friendly_of(&by);
                conn.send(Reply::Add { trid: 0, list: List::Reverse, version, handle: &handle, friendly: &friendly });
            }
            Event::RemovedBy { by, version } => {
                let handle = domains.handle_of(&by.name);
                conn.send(Reply::Rem { trid: 0, list: List::Reverse, version, handle: &handle });
            }
            Event::Invitation(invite) => {
                let caller = domains.handle_of(&invite.from.name);
                conn.send(Reply::Rng {
                    session: invite.conversation,
                    address: &self.switchboard_address,
                    cookie: &invite.ticket,
                    caller: &caller,
                    friendly: &invite.from_display_name,
                });
            }
            // MSNP has no word for "someone allowed you": the grantor's allow list shows it.
            // Broadcasts wait (unseen) until MSN sessions can be sent messages by the server.
            Event::Authorized { .. } | Event::Broadcast { .. } => {}
            Event::Message(message) => {
                // MSNP2 receives messages only inside switchboards; opening one on the server's
                // initiative comes with cross-protocol delivery. Until then the message goes back
                // to the durable queue, so nothing routed here is lost.
                tracing::warn!(from = %message.from.name, "no switchboard to deliver a routed message; queued");
                let queued = message.queued_for(self.session.account.id);
                if let Err(e) = self.context.core.queue_offline(&queued).await {
                    tracing::error!(error = %e, "could not queue a routed message");
                }
            }
        }
    }
}

fn list_kind(list: List) -> Option<ListKind> {
    match list {
        List::Forward => Some(ListKind::Forward),
        List::Allow => Some(ListKind::Allow),
        List::Block => Some(ListKind::Block),
        List::Reverse => None,
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

/// The draft's error for each refusal of the core.
fn core_error(trid: Trid, e: CoreError) -> CommandError {
    let code = match e {
        CoreError::NoSuchAccount => ErrorCode::InvalidUser,
        CoreError::AlreadyOnList => ErrorCode::AlreadyThere,
        CoreError::OnOppositeList => ErrorCode::AlreadyInOppositeList,
        CoreError::ListFull => ErrorCode::ListFull,
        CoreError::NotOnList => ErrorCode::NotOnList,
        CoreError::AlreadyInMode => ErrorCode::AlreadyInTheMode,
        CoreError::NotOnline => ErrorCode::NotOnline,
        CoreError::NotAllowed => ErrorCode::NotOnList,
        CoreError::SessionGone
        | CoreError::QueueFull
        | CoreError::NoSuchGroup
        | CoreError::GroupLimit
        | CoreError::Store(_) => {
            tracing::error!(error = %e, "command failed");
            ErrorCode::InternalServer
        }
    };
    CommandError { trid: Some(trid), code }
}
