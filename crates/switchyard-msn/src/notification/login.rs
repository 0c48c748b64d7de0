//! Before login: `VER` agrees on a dialect, `CVR` and `INF` are answered, and `USR` logs in
//! with the dialect's security package: MD5 (MSNP2–7), whose challenge is the account's salt,
//! or TWN (MSNP8+), whose ticket comes from the Passport nexus.

use super::{error, flush, send_error};
use crate::conn::{Conn, Replies};
use crate::handles::ResolveError;
use crate::Context;
use msnp::command::AuthStage;
use msnp::dialect::LoginScheme;
use msnp::{Dialect, ErrorCode, Frame, NsCommand, Reply, Trid};
use rand::distr::{Alphanumeric, SampleString};
use rand::SeedableRng;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use switchyard_core::{Account, AccountName, ClientInfo, Protocol, Secrets, Session};
use tokio_util::sync::CancellationToken;

/// The policy `USR TWN S` hands the client for the nexus, as the service worded it, with the
/// challenge time `ct` (Pidgin 2.2 reads every field, `ct` included, and crashes without it).
fn tweener_policy(now: i64) -> String {
    format!(
        "lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct={now},kpp=1,kv=5,ver=2.1.0173.1,\
         tpf=43f8a4c8ed940c04e3740be46c4d1619"
    )
}

/// Commands refused before login (unknown, malformed) after which the connection is closed:
/// a client finds its way in with far fewer, a stranger gets no endless answers.
const MAX_REFUSED_BEFORE_LOGIN: u32 = 30;

pub(super) struct LoggedIn {
    pub(super) session: Session,
    pub(super) dialect: Dialect,
}

/// Where a login stands.
enum Stage {
    New,
    Versioned,
    /// `USR MD5 I` was answered with the account's salt. `account` is `None` for unknown
    /// handles, which still get a (made-up, stable) challenge so accounts cannot be probed.
    Md5Challenged {
        handle: String,
        account: Option<(Account, Secrets)>,
    },
    /// `USR TWN I` was answered with the policy; the ticket must be for `name`.
    TweenerChallenged {
        handle: String,
        name: Option<AccountName>,
    },
}

/// What a command before login leads to.
enum Step {
    Continue,
    Close,
    LoggedIn(Session),
}

/// Runs the commands before login; returns the session once `USR` succeeds.
pub(super) async fn log_in(
    context: &Context,
    conn: &mut Conn,
    first: Frame,
    referral: Option<&str>,
    deadline: tokio::time::Instant,
    shutdown: &CancellationToken,
) -> Option<LoggedIn> {
    let mut login = Login { stage: Stage::New, dialect: Dialect::OLDEST, failures: 0, referral, client: None };
    let mut refused = 0;
    let mut next = Some(first);
    loop {
        let frame = match next.take() {
            Some(frame) => frame,
            None => {
                let read = tokio::time::timeout_at(deadline, conn.read());
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    read = read => match read {
                        Ok(Ok(frame)) => frame,
                        Ok(Err(e)) => { e.log(); return None; }
                        Err(_) => { tracing::info!("closing connection not logged in in time"); return None; }
                    },
                }
            }
        };
        let step = match NsCommand::parse(&frame) {
            Ok(command) => login.command(context, conn, command, frame.trid()).await,
            Err(e) => {
                send_error(conn, e);
                refused += 1;
                if refused >= MAX_REFUSED_BEFORE_LOGIN {
                    tracing::info!(refused, "closing connection that sends only what cannot be answered before login");
                    flush(conn).await?;
                    return None;
                }
                Step::Continue
            }
        };
        match step {
            Step::Continue => flush(conn).await?,
            Step::Close => return None,
            Step::LoggedIn(session) => {
                flush(conn).await?;
                return Some(LoggedIn { session, dialect: login.dialect });
            }
        }
    }
}

struct Login<'a> {
    stage: Stage,
    dialect: Dialect,
    failures: u32,
    /// Set on a dispatch-only listener: where to refer logins.
    referral: Option<&'a str>,
    /// The client's name and version, as its `CVR` gave them.
    client: Option<String>,
}

impl Login<'_> {
    async fn command(&mut self, context: &Context, conn: &mut Conn, command: NsCommand, trid: Option<Trid>) -> Step {
        let refuse = |conn: &mut Conn, trid: Trid, code| {
            send_error(conn, error(trid, code));
            Step::Continue
        };
        match command {
            NsCommand::Ver { trid, dialects } => {
                let chosen = Dialect::negotiate(dialects.iter().map(String::as_str));
                let name = chosen.map(|d| d.to_string());
                conn.send(Reply::Ver { trid, dialect: name.as_deref() });
                let Some(dialect) = chosen else { return Step::Close };
                self.dialect = dialect;
                self.stage = Stage::Versioned;
                Step::Continue
            }
            // The service closed without a word: clients read a reason from any `OUT` they get.
            NsCommand::Out => Step::Close,
            NsCommand::Png => {
                conn.send(Reply::Qng { interval: None });
                Step::Continue
            }
            _ if matches!(self.stage, Stage::New) => {
                send_error(conn, msnp::CommandError { trid, code: ErrorCode::NotExpected });
                Step::Continue
            }
            NsCommand::Cvr { trid, client } => {
                answer_cvr(context, conn, trid, &client);
                // Its fifth and sixth fields: the client's name and version.
                let name_and_version: Vec<&str> = client.split(' ').skip(4).take(2).collect();
                self.client = Some(name_and_version.join(" "));
                Step::Continue
            }
            NsCommand::Inf { trid } => match answer_inf(conn, self.dialect, trid) {
                Ok(()) => Step::Continue,
                Err(e) => {
                    send_error(conn, e);
                    Step::Continue
                }
            },
            NsCommand::Usr { trid, package, .. } if package != self.dialect.login().package() => {
                refuse(conn, trid, ErrorCode::AuthenticationFailed)
            }
            NsCommand::Usr { trid, stage: AuthStage::Initiate, value: handle, .. } => {
                if let Some(address) = self.referral {
                    let current = conn.stream.local_addr().ok().filter(|_| self.dialect.xfr_ns_names_current());
                    let current = current.map(|a| a.to_string());
                    conn.send(Reply::XfrNs { trid, address, current: current.as_deref() });
                    return Step::Close;
                }
                let name = match context.config.domains.resolve(&handle) {
                    Err(ResolveError::MissingDomain) => return refuse(conn, trid, ErrorCode::FqdnMissing),
                    Err(_) => None,
                    Ok(name) => Some(name),
                };
                let handle = handle.to_ascii_lowercase();
                match self.dialect.login() {
                    LoginScheme::Md5 => {
                        let account = match &name {
                            Some(name) => match context.core.store().account_with_secrets(name).await {
                                Ok(found) => found,
                                Err(e) => return store_unavailable(conn, trid, e),
                            },
                            None => None,
                        };
                        let challenge = match &account {
                            Some((_, secrets)) => secrets.md5_challenge().to_owned(),
                            None => made_up_challenge(&handle),
                        };
                        conn.send(Reply::UsrChallenge { trid, package: "MD5", challenge: &challenge });
                        self.stage = Stage::Md5Challenged { handle, account };
                    }
                    LoginScheme::Tweener => {
                        let policy = tweener_policy(switchyard_core::unix_now());
                        conn.send(Reply::UsrChallenge { trid, package: "TWN", challenge: &policy });
                        self.stage = Stage::TweenerChallenged { handle, name };
                    }
                }
                Step::Continue
            }
            NsCommand::Usr { trid, stage: AuthStage::Subsequent, value, .. } => {
                let (handle, account) = match std::mem::replace(&mut self.stage, Stage::Versioned) {
                    Stage::Md5Challenged { handle, account } => {
                        let account = md5_login(context, conn, &handle, account, &value);
                        (handle, account)
                    }
                    Stage::TweenerChallenged { handle, name } => {
                        let ticket_for = context.passport.redeem(&value);
                        let account = match name.filter(|name| ticket_for.as_ref() == Some(name)) {
                            Some(name) => match context.core.store().account_by_name(&name).await {
                                Ok(found) => found,
                                Err(e) => return store_unavailable(conn, trid, e),
                            },
                            None => None,
                        };
                        (handle, account)
                    }
                    _ => return refuse(conn, trid, ErrorCode::AuthenticationFailed),
                };
                let Some(account) = account else {
                    self.failures += 1;
                    tracing::info!(%handle, failures = self.failures, "authentication failed");
                    refuse(conn, trid, ErrorCode::AuthenticationFailed);
                    return if self.failures >= context.config.max_login_attempts {
                        Step::Close
                    } else {
                        Step::Continue
                    };
                };
                self.finish(context, conn, trid, &handle, account, &value).await
            }
            _ => {
                send_error(conn, msnp::CommandError { trid, code: ErrorCode::NotLoggedIn });
                Step::Continue
            }
        }
    }

    async fn finish(
        &mut self,
        context: &Context,
        conn: &mut Conn,
        trid: Trid,
        handle: &str,
        account: Account,
        credential: &str,
    ) -> Step {
        let friendly = context.config.domains.friendly_of(&account.to_ref());
        let member_id = account.id;
        let version = match &self.client {
            Some(client) => format!("{} {client}", self.dialect),
            None => self.dialect.to_string(),
        };
        let client = ClientInfo::new(Protocol::Msn, &version, conn.stream.peer_addr().ok().map(|a| a.ip()));
        match context.core.login(account, friendly.clone(), client).await {
            Ok(session) => {
                conn.send(Reply::UsrOk { trid, handle, friendly: &friendly, shape: self.dialect.usr_ok() });
                if self.dialect.has_profile_message() {
                    let profile = profile_message(conn, member_id.0, credential);
                    conn.send(Reply::Msg { handle: "Hotmail", friendly: "Hotmail", body: profile.as_bytes() });
                }
                Step::LoggedIn(session)
            }
            Err(e) => {
                tracing::error!(error = %e, "login failed in the core");
                send_error(conn, error(trid, ErrorCode::ServerUnavailable));
                Step::Continue
            }
        }
    }
}

/// A login the store could not check: "try again later" (601), which is no failed attempt; the
/// client may try again on this connection.
fn store_unavailable(conn: &mut Conn, trid: Trid, e: switchyard_core::StoreError) -> Step {
    tracing::error!(error = %e, "login not checked: the store failed");
    send_error(conn, error(trid, ErrorCode::ServerUnavailable));
    Step::Continue
}

/// The challenge an unknown handle gets: shaped like a salt, and the same at every attempt
/// (while this process runs), as a real account's would be.
fn made_up_challenge(handle: &str) -> String {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let seed = KEY.get_or_init(Default::default).hash_one(handle);
    Alphanumeric.sample_string(&mut rand::rngs::StdRng::seed_from_u64(seed), 20)
}

/// `CVR`: recommends the configured version, or the client's own (so nobody is nagged to
/// upgrade to a build that does not exist), and the download and information pages.
pub(super) fn answer_cvr(context: &Context, conn: &mut Conn, trid: Trid, client: &str) {
    let versions = &context.config.client_versions;
    // The sixth field of CVR (after the trid) is the client's version.
    let own = client.split(' ').nth(5).unwrap_or("1.0.0000");
    conn.send(Reply::Cvr {
        trid,
        recommended: versions.recommended.as_deref().unwrap_or(own),
        minimum: &versions.minimum,
        download_url: &versions.download_url,
        info_url: &versions.info_url,
    });
}

/// `INF` exists up to MSNP7, where it names the one security package.
pub(super) fn answer_inf(conn: &mut Conn, dialect: Dialect, trid: Trid) -> Result<(), msnp::CommandError> {
    if !dialect.has_inf() {
        return Err(error(trid, ErrorCode::CommandDisabled));
    }
    conn.send(Reply::Inf { trid, packages: dialect.login().package() });
    Ok(())
}

/// The `text/x-msmsgsprofile` message clients expect right after login (MSNP5+).
fn profile_message(conn: &Conn, member_id: i64, credential: &str) -> String {
    let now = switchyard_core::unix_now();
    let (ip, port) = conn.stream.peer_addr().map(|a| (a.ip().to_string(), a.port())).unwrap_or_default();
    // The ticket's `t=` part doubles as the Hotmail cookie; MD5 logins have none.
    let auth = credential.strip_prefix("t=").and_then(|t| t.split('&').next()).unwrap_or("");
    format!(
        "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: {now}\r\n\
         EmailEnabled: 0\r\nMemberIdHigh: 0\r\nMemberIdLow: {member_id}\r\nlang_preference: 1033\r\n\
         preferredEmail: \r\ncountry: \r\nPostalCode: \r\nGender: \r\nKid: 0\r\nAge: \r\nBDayPre: \r\n\
         Birthday: \r\nWallet: \r\nFlags: 1027\r\nsid: 507\r\nkv: 5\r\nMSPAuth: {auth}\r\nClientIP: {ip}\r\n\
         ClientPort: {port}\r\nABCHMigrated: 0\r\n\r\n"
    )
}

/// Checks an MD5 answer, unless the failed-login limiter holds this try back (too many failures
/// from this address, or for this account from addresses it was not used from).
fn md5_login(
    context: &Context,
    conn: &Conn,
    handle: &str,
    account: Option<(Account, Secrets)>,
    answer: &str,
) -> Option<Account> {
    let name = context.config.domains.resolve(handle).ok();
    let throttle = context.core.login_throttle();
    let ip = conn.stream.peer_addr().ok().map(|a| a.ip());
    if let Some(ip) = ip {
        if let Err(held) = throttle.check(ip, name.as_ref()) {
            tracing::info!(%handle, retry_after = ?held.retry_after, "login held back after too many failures");
            return None;
        }
    }
    let account = account.filter(|(_, secrets)| secrets.accepts_md5_response(answer)).map(|(account, _)| account);
    if let Some(ip) = ip {
        throttle.record(ip, name.as_ref(), account.is_some());
    }
    account
}
