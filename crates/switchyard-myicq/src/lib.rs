//! The MyICQ front: MyICQ v1 over one UDP socket.
//!
//! One task reads the socket and routes each datagram to its session's task ([`dispatch`]).
//! Each session owns its reliable-delivery state (sequence numbers, duplicate window, resend
//! queue) and its core session. Time reaches sessions only through a clock that ticks once a
//! second ([`clock`]), so resends and expiry follow tokio's clock, paused in tests.

mod clock;
mod dispatch;
mod limits;
mod session;
mod stats;
mod status;

pub use stats::Stats;

use dashmap::DashMap;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::{AccountId, AccountName, Core};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone)]
pub struct MyIcqConfig {
    /// Whether `NEW_UIN` creates accounts.
    pub registration: bool,
    /// Accounts one source address may register per hour.
    pub registrations_per_hour: u32,
    /// Accounts all addresses together may register per hour (UDP source addresses are
    /// easily forged, so the per-address limit alone does not bound a flood).
    pub registrations_per_hour_total: u32,
    /// Accounts whose `BROADCAST_MSG` reaches everyone (others' are ignored).
    pub administrators: Vec<AccountName>,
    /// Sessions at once, logged in or not.
    pub max_sessions: usize,
    /// Sessions at once that have not logged in yet.
    pub max_pending: usize,
    /// How long a session may stay without logging in.
    pub login_timeout: Duration,
    /// The server's domain, as clients name it in `uin@domain` (gaim-myicq renames its account
    /// after the one the server gives).
    pub domain: String,
}

impl Default for MyIcqConfig {
    fn default() -> Self {
        MyIcqConfig {
            registration: true,
            registrations_per_hour: 3,
            registrations_per_hour_total: 60,
            administrators: Vec::new(),
            max_sessions: 50_000,
            max_pending: 1_024,
            login_timeout: Duration::from_secs(60),
            domain: "localhost".into(),
        }
    }
}

/// Where a MyICQ user can be reached directly, as `SRV_USER_ONLINE` tells their contacts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PeerAddress {
    /// The public address the server sees, network order.
    pub ip: u32,
    /// The TCP port the client listens on for direct messages.
    pub port: u16,
    /// The address the client reported (behind NAT, a private one).
    pub real_ip: u32,
}

pub(crate) struct Context {
    core: Core,
    config: MyIcqConfig,
    socket: Arc<UdpSocket>,
    stats: Stats,
    /// Direct-connection addresses of the MyICQ users online, with their session's id.
    peers: DashMap<AccountId, (u64, PeerAddress)>,
    limits: limits::PerAddress,
}

/// Bytes of datagrams the kernel may hold for the socket.
const RECEIVE_BUFFER: usize = 4 << 20;

#[derive(Clone)]
pub struct MyIcqFront {
    context: Arc<Context>,
    sessions: TaskTracker,
}

impl MyIcqFront {
    pub fn new(core: Core, config: MyIcqConfig, socket: UdpSocket) -> Self {
        // After a restart every client logs in again at once: a deep receive buffer absorbs the
        // burst instead of dropping it (clients would resend only after 5-10 s). The kernel may
        // cap it (net.core.rmem_max); a smaller buffer still works.
        if let Err(e) = socket2::SockRef::from(&socket).set_recv_buffer_size(RECEIVE_BUFFER) {
            tracing::warn!(error = %e, "could not enlarge the MyICQ receive buffer");
        }
        let limits = limits::PerAddress::new(config.registrations_per_hour, config.registrations_per_hour_total);
        let context =
            Context { core, config, socket: Arc::new(socket), stats: Stats::default(), peers: DashMap::new(), limits };
        MyIcqFront { context: Arc::new(context), sessions: TaskTracker::new() }
    }

    /// Serves datagrams until `shutdown`, then ends every session (each logs out).
    pub async fn serve(&self, shutdown: CancellationToken) {
        let clock = clock::Clock::start(shutdown.clone(), self.context.clone());
        dispatch::run(self.context.clone(), clock, &self.sessions, shutdown).await;
        self.sessions.close();
        self.sessions.wait().await;
    }

    /// Datagrams dropped so far, by reason.
    pub fn stats(&self) -> &Stats {
        &self.context.stats
    }
}
