//! A quick MSNP2 load probe until `yard-bench` exists: creates accounts in a server's data
//! directory, logs them in concurrently (MD5), reports logins/s and login latency, then holds
//! the sessions open and reports the server's resident memory per idle session.
//!
//! ```sh
//! cargo run --release -- serve --data-dir /tmp/probe --msn-port 18630 &
//! cargo run --release --example msn_probe -- /tmp/probe 127.0.0.1:18630 $(pgrep -n switchyard) 5000 200
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use switchyard_core::{AccountName, Store};
use switchyard_store_sqlite::SqliteStore;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const PASSWORD: &str = "probe-password";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, data_dir, server, pid, sessions, concurrency] = &args[..] else {
        eprintln!("usage: msn_probe DATA_DIR SERVER_ADDR SERVER_PID SESSIONS CONCURRENCY");
        std::process::exit(2);
    };
    let server: SocketAddr = server.parse().expect("server address");
    let sessions: usize = sessions.parse().expect("session count");
    let concurrency: usize = concurrency.parse().expect("concurrency");

    let store = SqliteStore::open(&PathBuf::from(data_dir).join("switchyard.db")).await.expect("open store");
    for i in 0..sessions {
        let name = AccountName::new(&format!("probe{i}")).unwrap();
        if store.account_by_name(&name).await.unwrap().is_none() {
            store.create_account(&name, PASSWORD, None).await.unwrap();
        }
    }
    store.close().await;

    let rss_before = rss_kib(pid);
    let gate = std::sync::Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..sessions {
        let gate = gate.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let begun = Instant::now();
            let connection = log_in(server, &format!("probe{i}@hotmail.com")).await;
            (begun.elapsed(), connection)
        });
    }
    let mut latencies = Vec::with_capacity(sessions);
    let mut connections = Vec::with_capacity(sessions);
    while let Some(done) = tasks.join_next().await {
        let (latency, connection) = done.unwrap();
        latencies.push(latency);
        connections.push(connection);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = rss_kib(pid);
    println!("sessions {sessions}, concurrency {concurrency}");
    println!("logins/s {:.0}", sessions as f64 / elapsed.as_secs_f64());
    println!("login p50 {:?} p99 {:?} max {:?}", percentile(0.50), percentile(0.99), percentile(1.0));
    println!(
        "server RSS {rss_before} KiB before, {rss_after} KiB with all sessions idle: {:.1} KiB per session",
        (rss_after as f64 - rss_before as f64) / sessions as f64
    );
    drop(connections);
}

/// VER, USR MD5 I/S, SYN and CHG NLN; returns the open connection.
async fn log_in(server: SocketAddr, handle: &str) -> BufReader<TcpStream> {
    let mut c = BufReader::new(TcpStream::connect(server).await.expect("connect"));
    send(&mut c, &format!("VER 1 MSNP2\r\nUSR 2 MD5 I {handle}\r\n")).await;
    expect(&mut c, "VER 1 MSNP2").await;
    let challenge = expect(&mut c, "USR 2 MD5 S ").await.rsplit(' ').next().unwrap().to_owned();
    let response = msnp::auth::md5_response(&challenge, PASSWORD);
    send(&mut c, &format!("USR 3 MD5 S {response}\r\nSYN 4 1\r\nCHG 5 NLN\r\n")).await;
    expect(&mut c, "USR 3 OK").await;
    expect(&mut c, "SYN 4").await;
    expect(&mut c, "CHG 5 NLN").await;
    c
}

async fn send(c: &mut BufReader<TcpStream>, text: &str) {
    c.get_mut().write_all(text.as_bytes()).await.expect("write");
}

async fn expect(c: &mut BufReader<TcpStream>, prefix: &str) -> String {
    let mut line = String::new();
    c.read_line(&mut line).await.expect("read");
    assert!(line.starts_with(prefix), "expected {prefix:?}, got {line:?}");
    line.trim_end().to_owned()
}

fn rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server process");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
