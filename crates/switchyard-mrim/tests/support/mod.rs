//! The MRIM front and its redirector on loopback over the in-memory store.
#![allow(dead_code)]

pub mod client;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::memory::MemoryStore;
use switchyard_core::{Account, AccountName, Core, CoreConfig, Store};
use switchyard_mrim::{MrimConfig, MrimFront, RedirectTarget};
use switchyard_net::ConnectionBudget;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What a test may change before the front starts.
pub struct Settings {
    pub mrim: MrimConfig,
    pub core: CoreConfig,
}

pub struct TestServer {
    core: Core,
    front: MrimFront,
    mrim: SocketAddr,
    redirect: SocketAddr,
    shutdown: CancellationToken,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestServer {
        let mut settings = Settings { mrim: MrimConfig::default(), core: CoreConfig::default() };
        adjust(&mut settings);
        let core = Core::new(Arc::new(MemoryStore::new()), settings.core);
        let front = MrimFront::new(core.clone(), settings.mrim, ConnectionBudget::new(10_000, 1_000));
        let shutdown = CancellationToken::new();
        let (mrim, listener) = listen().await;
        let serving = front.clone();
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move { serving.serve(listener, shutdown).await }
        });
        let (redirect, listener) = listen().await;
        let redirecting = front.clone();
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move { redirecting.serve_redirector(listener, RedirectTarget::Fixed(mrim.to_string()), shutdown).await }
        });
        TestServer { core, front, mrim, redirect, shutdown }
    }

    pub fn mrim(&self) -> SocketAddr {
        self.mrim
    }

    /// The redirector, which answers with the MRIM address and closes.
    pub fn redirect(&self) -> SocketAddr {
        self.redirect
    }

    pub fn store(&self) -> &dyn Store {
        self.core.store()
    }

    pub async fn add_user(&self, name: &str, password: &str, nickname: Option<&str>) -> Account {
        let name = AccountName::new(name).unwrap();
        self.store().create_account(&name, password, nickname).await.unwrap()
    }

    /// What an operator's new ping period does to the sessions already running.
    pub fn set_ping_period(&self, period: Duration) {
        self.front.set_ping_period(period);
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
