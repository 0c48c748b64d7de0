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

/// A PostgreSQL server of a test's own, on a free port, for tests that stop and start it (the
/// shared one must not be touched). It runs as the `postgres` user when the test runs as root,
/// as PostgreSQL refuses to run as root; it is stopped and deleted when dropped.
pub struct OwnServer {
    dir: std::path::PathBuf,
    pub port: u16,
}

const BIN: &str = "/usr/lib/postgresql";

/// The newest installed PostgreSQL's programs.
fn program(name: &str) -> std::path::PathBuf {
    let mut versions: Vec<_> = std::fs::read_dir(BIN)
        .unwrap_or_else(|e| panic!("no PostgreSQL under {BIN} ({e}): install the postgresql package"))
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    versions.sort_unstable();
    let version = versions.last().unwrap_or_else(|| panic!("no PostgreSQL version under {BIN}"));
    std::path::Path::new(BIN).join(version.to_string()).join("bin").join(name)
}

fn as_postgres_user(program: std::path::PathBuf) -> std::process::Command {
    if running_as_root() {
        let mut command = std::process::Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        std::process::Command::new(program)
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

impl OwnServer {
    /// Makes a new cluster and starts it.
    pub fn start() -> OwnServer {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "switchyard-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a directory for the cluster");
        // Owned by whoever runs the server.
        let chown = std::process::Command::new("chown").arg("postgres").arg(&dir).status();
        if running_as_root() {
            assert!(chown.is_ok_and(|s| s.success()), "cannot give {} to the postgres user", dir.display());
        }
        let initdb = as_postgres_user(program("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("initdb runs");
        assert!(initdb.success(), "initdb failed");
        let server = OwnServer { dir, port: free_port() };
        server.start_again();
        server
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) {
        let status = as_postgres_user(program("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(status.success(), "pg_ctl {args:?} failed");
    }

    /// Starts the server again after [`OwnServer::stop`] (on the same port).
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.dir.display()
        );
        self.pg_ctl(&["-o", &options, "-l", &self.dir.join("log").to_string_lossy(), "-w", "start"]);
    }

    /// Stops the server the way an administrator does in a hurry: connections are cut.
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = as_postgres_user(program("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
