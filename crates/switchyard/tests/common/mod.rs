//! A server on loopback with its own data directory, and the MSN front's line-exact test client.
#![allow(dead_code)]

#[path = "../../../switchyard-msn/tests/support/client.rs"]
mod client;
#[path = "../../../switchyard-mrim/tests/support/client.rs"]
pub mod mrim;

// Not every test binary logs MSN users in with `online`.
#[allow(unused_imports)]
pub use client::{online, Client};

use std::net::SocketAddr;
use switchyard::{Config, RunningServer};
use switchyard_core::AccountName;
use switchyard_store_postgres::scratch::ScratchDatabase;

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub config: Config,
    server: Option<RunningServer>,
    /// The PostgreSQL database the server keeps its store in, when the tests run on one.
    _database: Option<ScratchDatabase>,
}

/// The store the tests' servers use: `SWITCHYARD_TEST_STORE=postgres` runs every test of the
/// server on PostgreSQL (a database of its own each), as `.ci/run` does after the SQLite run.
async fn test_database() -> Option<ScratchDatabase> {
    match std::env::var("SWITCHYARD_TEST_STORE").as_deref() {
        Err(_) | Ok("sqlite") => None,
        Ok("postgres") => Some(ScratchDatabase::create().await),
        Ok(other) => panic!("SWITCHYARD_TEST_STORE={other}: sqlite or postgres"),
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        let database = test_database().await;
        if let Some(database) = &database {
            config.store.url = database.url.clone();
        }
        config.msn.port = 0;
        config.mrim.port = 0;
        config.mrim.redirect_port = 0;
        config.myicq.port = 0;
        config.http.port = 0;
        config.http.https_port = Some(0);
        adjust(&mut config);
        let server = RunningServer::start(&config).await.unwrap();
        TestServer { dir, config, server: Some(server), _database: database }
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("server is running")
    }

    /// What a `yard` client of `protocol` logs in to this server with.
    pub fn yard_account(&self, protocol: yard::Protocol, handle: &str, password: &str) -> yard::Account {
        let role = match protocol {
            yard::Protocol::Msn => "msn",
            yard::Protocol::Mrim => "mrim",
            yard::Protocol::MyIcq => "myicq",
        };
        let server = self.running().address(role).unwrap().to_string();
        yard::Account { protocol, server, handle: handle.into(), password: password.into() }
    }

    pub fn msn(&self) -> SocketAddr {
        self.running().address("msn").unwrap()
    }

    pub async fn add_user(&self, name: &str, password: &str, nickname: Option<&str>) -> switchyard_core::Account {
        let name = AccountName::new(name).unwrap();
        self.running().store().create_account(&name, password, nickname).await.unwrap()
    }

    /// Signs in at the nexus (`pprdr.asp`, then Passport1.4 at the `DALogin` it names) and
    /// returns the ticket, or the HTTP status of the refusal.
    pub async fn passport_ticket(&self, handle: &str, password: &str) -> Result<String, u16> {
        let http = self.running().address("http").unwrap();
        let client = reqwest::Client::new();
        let urls = client.get(format!("http://{http}/rdr/pprdr.asp")).send().await.unwrap();
        let urls = urls.headers()["PassportURLs"].to_str().unwrap().to_owned();
        // Clients cut the login URL at the next comma.
        let da_login = urls.split("DALogin=").nth(1).and_then(|rest| rest.split(',').next()).expect("DALogin");
        assert_eq!(da_login, format!("{http}/login2.srf"), "no scheme: clients add https://");
        let authorization = format!(
            "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in={},pwd={},lc=1033,id=507",
            handle.replace('@', "%40"),
            password.replace(' ', "%20")
        );
        let login =
            client.get(format!("http://{da_login}")).header("Authorization", authorization).send().await.unwrap();
        if login.status() != 200 {
            assert!(login.headers()["WWW-Authenticate"].to_str().unwrap().contains("da-status=failed"));
            return Err(login.status().as_u16());
        }
        let info = login.headers()["Authentication-Info"].to_str().unwrap();
        assert!(info.starts_with("Passport1.4 da-status=success,"), "{info}");
        let ticket = info.split("from-PP='").nth(1).unwrap().trim_end_matches('\'');
        Ok(ticket.to_owned())
    }

    pub async fn stop(&mut self) {
        self.server.take().expect("server is running").shutdown().await;
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.server = Some(RunningServer::start(&self.config).await.unwrap());
    }
}
