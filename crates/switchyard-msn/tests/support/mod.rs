//! The MSN front on loopback over the in-memory store (its notification and switchboard
//! listener, and a dispatch listener when asked), with the Passport that issues its tickets.
#![allow(dead_code)]

pub mod client;

pub use client::{online, Client};

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use switchyard_core::memory::MemoryStore;
use switchyard_core::{Account, AccountName, Core, CoreConfig, Store};
use switchyard_msn::{MsnConfig, MsnFront, Passport, Refusal, Role};
use switchyard_net::ConnectionBudget;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What a test may change before the front starts.
pub struct Settings {
    pub msn: MsnConfig,
    pub core: CoreConfig,
    /// Also serve a dispatch-only listener that refers logins to the notification one.
    pub dispatch: bool,
}

pub struct TestServer {
    core: Core,
    config: MsnConfig,
    front: MsnFront,
    passport: Arc<Passport>,
    msn: SocketAddr,
    dispatch: Option<SocketAddr>,
    shutdown: CancellationToken,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestServer {
        let mut settings = Settings { msn: MsnConfig::default(), core: CoreConfig::default(), dispatch: false };
        adjust(&mut settings);
        let core = Core::new(Arc::new(MemoryStore::new()), settings.core);
        let passport = Arc::new(Passport::new(settings.msn.ticket_lifetime));
        let budget = ConnectionBudget::new(10_000, 1_000);
        let front = MsnFront::new(core.clone(), settings.msn.clone(), passport.clone(), budget);
        let shutdown = CancellationToken::new();
        let (msn, listener) = listen().await;
        tokio::spawn(serve(front.clone(), listener, Role::Notification, shutdown.clone()));
        let dispatch = if settings.dispatch {
            let (dispatch, listener) = listen().await;
            let role = Role::Dispatch { notification_address: msn.to_string() };
            tokio::spawn(serve(front.clone(), listener, role, shutdown.clone()));
            Some(dispatch)
        } else {
            None
        };
        TestServer { core, config: settings.msn, front, passport, msn, dispatch, shutdown }
    }

    pub fn msn(&self) -> SocketAddr {
        self.msn
    }

    pub fn dispatch(&self) -> SocketAddr {
        self.dispatch.expect("started with a dispatch listener")
    }

    pub fn store(&self) -> &dyn Store {
        self.core.store()
    }

    pub async fn add_user(&self, name: &str, password: &str, nickname: Option<&str>) -> Account {
        let name = AccountName::new(name).unwrap();
        self.store().create_account(&name, password, nickname).await.unwrap()
    }

    /// A ticket as the nexus signs one in (the same Passport and failed-login limiter), or the
    /// HTTP status the nexus would refuse with.
    pub async fn passport_ticket(&self, handle: &str, password: &str) -> Result<String, u16> {
        let ip = Ipv4Addr::LOCALHOST.into();
        match self.passport.sign_in(&self.core, &self.config.domains, ip, handle, password).await {
            Ok(ticket) => Ok(ticket),
            Err(Refusal::BadCredentials) => Err(401),
            Err(Refusal::Unavailable) => Err(503),
        }
    }

    /// Shuts the front down and waits for every connection to end.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        self.front.closed().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn listen() -> (SocketAddr, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    (listener.local_addr().unwrap(), listener)
}

async fn serve(front: MsnFront, listener: TcpListener, role: Role, shutdown: CancellationToken) {
    front.serve(listener, role, shutdown).await
}

/// Logs in with TWN in `dialect` (MSNP8+), with a ticket from the Passport.
pub async fn login_twn(server: &TestServer, dialect: u8, handle: &str, password: &str, ok: &str) -> Client {
    let mut c = Client::connect(server.msn()).await;
    c.exchange(&[(&format!("VER 1 MSNP{dialect} CVR0"), &format!("VER 1 MSNP{dialect}"))]).await;
    c.send(&format!("USR 2 TWN I {handle}")).await;
    let policy = c.line().await;
    assert!(policy.starts_with("USR 2 TWN S lc=1033,id=507,"), "{policy}");
    let ticket = server.passport_ticket(handle, password).await.expect("the Passport gives a ticket");
    c.send(&format!("USR 3 TWN S {ticket}")).await;
    c.expect(ok).await;
    let profile = c.expect_payload("MSG Hotmail Hotmail ").await;
    assert!(profile.contains("Content-Type: text/x-msmsgsprofile"), "{profile}");
    c
}

/// A server with alice ("Alice", password `secret`), bob (no nickname) and carol ("Carol").
pub async fn three_users() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", None).await;
    server.add_user("carol", "pw", Some("Carol")).await;
    server
}
