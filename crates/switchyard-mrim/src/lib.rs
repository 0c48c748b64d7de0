//! The Mail.Ru Agent front: MRIM/MMP over TCP, and the redirector that tells clients where the
//! server is (`ip:port\n`, then close).

mod conn;
mod session;
mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::{AccountName, Core};
use switchyard_net::{ConnectionBudget, Connections};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Clone)]
pub struct MrimConfig {
    /// Domains whose addresses name local accounts; the first is the one shown.
    pub domains: Vec<String>,
    /// The interval told to clients in `HELLO_ACK`; silence for 1.5 times it ends the session.
    pub ping_period: Duration,
    /// How long a connection may take to say `HELLO` and log in.
    pub login_timeout: Duration,
    /// Largest packet body accepted.
    pub max_body: u32,
    pub max_connections: usize,
    /// The TLS configuration `STARTTLS` switches to; without it the answer is `FAILURE`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for MrimConfig {
    fn default() -> Self {
        MrimConfig {
            domains: ["mail.ru", "inbox.ru", "bk.ru", "list.ru"].map(String::from).to_vec(),
            ping_period: Duration::from_secs(30),
            login_timeout: Duration::from_secs(60),
            max_body: 64 * 1024,
            max_connections: 19_500,
            tls: None,
        }
    }
}

impl MrimConfig {
    /// `alice@mail.ru` → `alice`, for any configured domain (case-insensitive).
    pub(crate) fn resolve(&self, email: &str) -> Option<AccountName> {
        let (local, domain) = email.split_once('@')?;
        let domain = domain.to_ascii_lowercase();
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)).then_some(())?;
        AccountName::new(&local.to_ascii_lowercase()).ok()
    }

    pub(crate) fn email_of(&self, name: &AccountName) -> String {
        format!("{}@{}", name, self.domains[0])
    }
}

pub(crate) struct Context {
    core: Core,
    config: MrimConfig,
    /// The ping period in force; sessions tell their clients when it changes.
    ping_period: tokio::sync::watch::Sender<Duration>,
}

#[derive(Clone)]
pub struct MrimFront {
    context: Arc<Context>,
    connections: Connections,
}

impl MrimFront {
    /// `config.domains` must not be empty.
    /// `budget` is shared with every other listener of the process.
    pub fn new(core: Core, config: MrimConfig, budget: ConnectionBudget) -> Self {
        assert!(!config.domains.is_empty(), "at least one MRIM domain");
        let connections = Connections::new(config.max_connections, budget);
        let ping_period = tokio::sync::watch::Sender::new(config.ping_period);
        MrimFront { context: Arc::new(Context { core, config, ping_period }), connections }
    }

    /// Changes the ping period: new sessions get it in `HELLO_ACK`, logged-in ones in
    /// `CONNECTION_PARAMS`, and each allows 1.5 times it of silence from then on.
    pub fn set_ping_period(&self, period: Duration) {
        self.context.ping_period.send_replace(period.max(Duration::from_secs(1)));
    }

    /// Accepts MRIM connections until `shutdown`.
    pub async fn serve(&self, listener: TcpListener, shutdown: CancellationToken) {
        while let Some((stream, peer, slot)) = self.connections.accept(&listener, &shutdown).await {
            let context = self.context.clone();
            let span = tracing::info_span!("mrim", %peer, account = tracing::field::Empty);
            let shutdown = shutdown.clone();
            self.connections.spawn(slot, move || session::run(context, stream, shutdown).instrument(span));
        }
    }

    /// Answers every connection with `ip:port\n` of the MRIM listener and closes it. When no
    /// address is configured, the one the client reached the redirector on is used; among
    /// several nodes, a less loaded node's.
    pub async fn serve_redirector(&self, listener: TcpListener, target: RedirectTarget, shutdown: CancellationToken) {
        while let Some((mut stream, _, slot)) = self.connections.accept(&listener, &shutdown).await {
            let target = target.clone();
            // Among several nodes, the one with the fewest users takes the login.
            let elsewhere = self.context.core.least_loaded_elsewhere("mrim");
            self.connections.spawn(slot, move || async move {
                let address = match (elsewhere, &target) {
                    (Some(address), _) => address,
                    (None, RedirectTarget::Fixed(address)) => address.clone(),
                    (None, RedirectTarget::SameHost { port }) => match stream.local_addr() {
                        Ok(local) => SocketAddr::new(local.ip(), *port).to_string(),
                        Err(_) => return,
                    },
                };
                let reply = format!("{address}\n");
                let _ = tokio::time::timeout(Duration::from_secs(10), stream.write_all(reply.as_bytes())).await;
                let _ = stream.shutdown().await;
            });
        }
    }

    /// Waits until every connection has ended (after shutdown).
    pub async fn closed(&self) {
        self.connections.closed().await;
    }
}

/// Where the redirector sends clients.
#[derive(Debug, Clone)]
pub enum RedirectTarget {
    /// A configured `host:port`.
    Fixed(String),
    /// This host, as the client reached it, on the MRIM port.
    SameHost { port: u16 },
}
