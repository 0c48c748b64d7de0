//! A quick load probe until `yard-bench` exists: creates accounts in a server's data
//! directory, logs them in concurrently over MSNP2 (MD5) or MyICQ, reports logins/s and login
//! latency, then holds the sessions open and reports the server's resident memory per idle
//! session.
//!
//! ```sh
//! cargo run --release -- serve --data-dir /tmp/probe --msn-port 18630 --myicq-port 18631 &
//! cargo run --release --example probe -- msn /tmp/probe 127.0.0.1:18630 $(pgrep -n switchyard) 5000 200
//! cargo run --release --example probe -- myicq /tmp/probe 127.0.0.1:18631 $(pgrep -n switchyard) 5000 200
//! ```

use myicq::client::{Login, Request};
use myicq::codes::{cmd, status};
use myicq::datagram::client_datagram;
use myicq::server::{LoginReply, ServerPacket};
use myicq::{BodyCipher, ClientHeader, ServerHeader, HEADER_LEN};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use switchyard_core::{AccountName, Store};
use switchyard_store_sqlite::SqliteStore;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Semaphore;

const PASSWORD: &str = "probe-password";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, protocol, data_dir, server, pid, sessions, concurrency] = &args[..] else {
        eprintln!("usage: probe msn|myicq DATA_DIR SERVER_ADDR SERVER_PID SESSIONS CONCURRENCY");
        std::process::exit(2);
    };
    let myicq = match protocol.as_str() {
        "msn" => false,
        "myicq" => true,
        other => panic!("unknown protocol {other}"),
    };
    let server: SocketAddr = server.parse().expect("server address");
    let sessions: usize = sessions.parse().expect("session count");
    let concurrency: usize = concurrency.parse().expect("concurrency");

    let store = SqliteStore::open_in(&PathBuf::from(data_dir)).await.expect("open store");
    let mut uins = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let name = AccountName::new(&format!("probe{i}")).unwrap();
        let account = match store.account_by_name(&name).await.unwrap() {
            Some(account) => account,
            None => store.create_account(&name, PASSWORD, None).await.unwrap(),
        };
        uins.push(account.uin);
    }
    store.close().await;

    let rss_before = rss_kib(pid);
    let gate = std::sync::Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, uin) in uins.into_iter().enumerate() {
        let gate = gate.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let begun = Instant::now();
            let session = if myicq {
                Session::MyIcq(log_in_myicq(server, uin).await)
            } else {
                Session::Msn(log_in(server, &format!("probe{i}@hotmail.com")).await)
            };
            (begun.elapsed(), session)
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
    println!("{protocol}: sessions {sessions}, concurrency {concurrency}");
    println!("logins/s {:.0}", sessions as f64 / elapsed.as_secs_f64());
    println!("login p50 {:?} p99 {:?} max {:?}", percentile(0.50), percentile(0.99), percentile(1.0));
    println!(
        "server RSS {rss_before} KiB before, {rss_after} KiB with all sessions idle: {:.1} KiB per session",
        (rss_after as f64 - rss_before as f64) / sessions as f64
    );
    drop(connections);
}

/// What keeps a session open.
#[allow(dead_code)]
enum Session {
    Msn(BufReader<TcpStream>),
    MyIcq(UdpSocket),
}

/// LOGIN (online), its reply, and the ACK of it; returns the session's socket.
async fn log_in_myicq(server: SocketAddr, uin: u32) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let header = ClientHeader { ver: 1, uin, sid: uin, cmd: cmd::LOGIN, seq: 100, cc: 0 };
    let login = Login { password: PASSWORD.into(), status: status::ONLINE, tcp_version: 1, real_ip: 0, msg_port: 0 };
    let datagram = client_datagram(header, &Request::Login(login).encode(), &BodyCipher::new(b""), 0);
    let mut buf = [0u8; 1024];
    loop {
        socket.send_to(&datagram, server).await.expect("send");
        // UDP may lose the LOGIN or its reply: ask again after a while, as clients do.
        let Ok(received) = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf)).await else { continue };
        let len = received.expect("receive");
        let reply = ServerHeader::parse(&buf[..len]).expect("header");
        if reply.cmd != cmd::LOGIN {
            continue;
        }
        let packet = ServerPacket::parse(reply.cmd, &buf[HEADER_LEN..len]);
        assert!(matches!(packet, ServerPacket::Login(LoginReply::Success { .. })), "{packet:?}");
        let mut ack = Vec::new();
        ClientHeader { cmd: cmd::ACK, seq: reply.seq, ..header }.encode(&mut ack);
        socket.send_to(&ack, server).await.expect("send");
        return socket;
    }
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
