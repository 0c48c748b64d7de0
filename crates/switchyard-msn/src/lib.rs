//! The MSN Messenger front: dispatch, notification and switchboard roles on TCP.
//!
//! One port serves every role; the first command tells them apart (`VER` starts a dispatch or
//! notification connection, `USR`/`ANS` a switchboard one). An optional dispatch-only listener
//! refers every login to a notification server with `XFR NS`, as the 1999 service did.

mod conn;
mod guid;
mod handles;
pub mod nexus;
mod notification;
mod passport;
mod status;
mod switchboard;
mod wire_log;
mod xml;

pub use handles::Domains;
pub use passport::{Passport, Refusal};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::Core;
use switchyard_net::{ConnectionBudget, Connections};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct MsnConfig {
    pub domains: Domains,
    /// `host:port` given to clients for switchboards and notification referrals. When unset,
    /// the address the client itself connected to is used, which is right for a single node.
    pub public_address: Option<String>,
    /// How long a connection may stay silent before it has logged in.
    pub login_timeout: Duration,
    /// How long an `XFR SB` or `RNG` cookie stays valid.
    pub ticket_lifetime: Duration,
    /// Failed `USR` attempts before the connection is closed.
    pub max_login_attempts: u32,
    /// Open connections across every listener of the front; more wait in the accept backlog.
    pub max_connections: usize,
    /// Whether MSNP6+ clients are sent a `CHL` challenge after they come online. Some client
    /// libraries never answer one; the official clients all do.
    pub challenges: bool,
    /// What `CVR` recommends.
    pub client_versions: ClientVersions,
    /// Seconds until the next `PNG` that `QNG` asks MSNP9+ clients for.
    pub ping_interval: u32,
    /// Base of the addresses `URL` answers with (`<web_url><service>`).
    pub web_url: String,
}

/// The versions and pages named in `CVR` replies.
#[derive(Debug, Clone)]
pub struct ClientVersions {
    /// `None`: recommend the version the client already has.
    pub recommended: Option<String>,
    pub minimum: String,
    pub download_url: String,
    pub info_url: String,
}

impl Default for ClientVersions {
    fn default() -> Self {
        ClientVersions {
            recommended: None,
            minimum: "1.0.0000".into(),
            download_url: "http://localhost/download".into(),
            info_url: "http://localhost/".into(),
        }
    }
}

impl Default for MsnConfig {
    fn default() -> Self {
        MsnConfig {
            domains: Domains::new(vec!["hotmail.com".into()]),
            public_address: None,
            login_timeout: Duration::from_secs(60),
            ticket_lifetime: Duration::from_secs(120),
            max_login_attempts: 3,
            // A process may hold 20,000 files here; the rest are for the database and listeners.
            max_connections: 19_500,
            challenges: true,
            client_versions: ClientVersions::default(),
            ping_interval: 60,
            web_url: "http://localhost/".into(),
        }
    }
}

/// What a listener does with logins.
#[derive(Debug, Clone)]
pub enum Role {
    /// Notification and switchboard service; `VER`/`INF`/`USR` log in directly.
    Notification,
    /// Dispatch only: answers `USR` with `XFR NS` to this notification address (or, among
    /// several nodes, to a less loaded node's) and closes.
    Dispatch { notification_address: String },
}

/// State shared by every MSN connection of a server.
pub(crate) struct Context {
    core: Core,
    config: MsnConfig,
    switchboards: switchboard::Switchboards,
    passport: Arc<Passport>,
}

impl Context {
    /// Where to send clients for another role of this node.
    fn public_address(&self, local: SocketAddr) -> String {
        self.config.public_address.clone().unwrap_or_else(|| local.to_string())
    }
}

/// Reads the first command and hands the connection to the role it starts.
async fn route(context: Arc<Context>, stream: TcpStream, role: Role, shutdown: CancellationToken) {
    // Made here rather than passed in (small idle sessions: `switchyard_net`).
    let mut conn = conn::new(stream);
    // Logging in must be done this long after connecting, whatever the client sends meanwhile.
    let login_deadline = tokio::time::Instant::now() + context.config.login_timeout;
    let first = tokio::select! {
        _ = shutdown.cancelled() => None,
        read = tokio::time::timeout_at(login_deadline, conn.read()) => match read {
            Ok(Ok(frame)) => Some(frame),
            Ok(Err(e)) => {
                tracing::debug!("{e}");
                None
            }
            Err(_) => {
                tracing::info!("closing connection that sent nothing");
                None
            }
        },
    };
    if let Some(first) = first {
        let starts_switchboard = matches!(first.verb.as_str(), "USR" | "ANS");
        match &role {
            Role::Notification if starts_switchboard => switchboard::run(&context, &mut conn, first, &shutdown).await,
            Role::Notification => notification::run(context, &mut conn, first, None, login_deadline, &shutdown).await,
            Role::Dispatch { notification_address } => {
                // Among several nodes, the one with the fewest users takes the login.
                let referral = context.core.least_loaded_elsewhere("msn");
                let referral = Some(referral.as_deref().unwrap_or(notification_address));
                notification::run(context, &mut conn, first, referral, login_deadline, &shutdown).await
            }
        }
    }
    conn.close().await;
}

/// A running MSN front; `serve` drives one listener of it.
#[derive(Clone)]
pub struct MsnFront {
    context: Arc<Context>,
    connections: Connections,
}

impl MsnFront {
    /// `passport` is shared with the nexus that issues its tickets; `budget` with every other
    /// listener of the process.
    pub fn new(core: Core, config: MsnConfig, passport: Arc<Passport>, budget: ConnectionBudget) -> Self {
        let switchboards = switchboard::Switchboards::new(config.ticket_lifetime);
        let connections = Connections::new(config.max_connections, budget);
        MsnFront { context: Arc::new(Context { core, config, switchboards, passport }), connections }
    }

    /// Accepts connections until `shutdown` fires; connections then end themselves
    /// (notification clients get `OUT SSD`). Await [`MsnFront::closed`] to wait for them.
    pub async fn serve(&self, listener: TcpListener, role: Role, shutdown: CancellationToken) {
        let sweeper = self.spawn_ticket_sweeper(shutdown.clone());
        while let Some((stream, peer, slot)) = self.connections.accept(&listener, &shutdown).await {
            let context = self.context.clone();
            let (role, shutdown) = (role.clone(), shutdown.clone());
            let span = tracing::info_span!("msn", %peer, account = tracing::field::Empty);
            self.connections.spawn(slot, move || route(context, stream, role, shutdown).instrument(span));
        }
        sweeper.abort();
    }

    fn spawn_ticket_sweeper(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let context = self.context.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {
                        context.passport.sweep_expired();
                        let unanswered = context.switchboards.sweep_expired();
                        if unanswered > 0 {
                            tracing::info!(messages = unanswered, "rings nobody answered; their messages wait in the queue");
                        }
                    }
                }
            }
        })
    }

    /// Waits until every connection has ended (after shutdown).
    pub async fn closed(&self) {
        self.connections.closed().await;
    }
}
