//! A database of its own for each test, so that tests run in parallel: created on the server
//! `SWITCHYARD_TEST_POSTGRES` names (by default the local one, `postgres://postgres@127.0.0.1:5432/test`),
//! dropped when the value is dropped, even after a failed assertion.

use std::sync::atomic::{AtomicU32, Ordering};
use tokio_postgres::NoTls;

pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, empty database.
pub struct ScratchDatabase {
    /// Connects to the new database.
    pub url: String,
    name: String,
    server: String,
}

fn server_url() -> String {
    std::env::var("SWITCHYARD_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a postgres:// URL has a path");
    format!("{base}/{database}")
}

async fn run_on_server(server: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(server, NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    result
}

impl ScratchDatabase {
    /// Creates the database; panics, saying how to get a server, when there is none.
    pub async fn create() -> ScratchDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = server_url();
        let name = format!("switchyard_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        if let Err(e) = run_on_server(&server, &format!("CREATE DATABASE {name}")).await {
            panic!(
                "cannot create a test database on {server}: {e}. These tests need a PostgreSQL server: \
                 start the local one (`.ci/run` does) or name another in SWITCHYARD_TEST_POSTGRES"
            );
        }
        ScratchDatabase { url: with_database(&server, &name), name, server }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Drop runs outside any async context the test had: a thread with a runtime of its own.
        let (server, sql) = (self.server.clone(), format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(run_on_server(&server, &sql))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
