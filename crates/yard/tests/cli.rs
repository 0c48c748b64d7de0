//! The `yard` binary against a real server: `watch` prints events as JSON lines, `send`
//! exits 0 once a message is delivered and 1 with a reason when it is not.

use std::process::Stdio;
use std::time::Duration;
use switchyard::{Config, RunningServer};
use switchyard_core::{AccountName, Store};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

async fn server(dir: &std::path::Path) -> RunningServer {
    let mut config = Config { data_dir: dir.to_path_buf(), ..Config::default() };
    (config.msn.port, config.mrim.port, config.mrim.redirect_port, config.myicq.port) = (0, 0, 0, 0);
    (config.http.port, config.http.https_port) = (0, None);
    let server = RunningServer::start(&config).await.unwrap();
    for (name, password) in [("alice", "secret"), ("bob", "pw")] {
        server.store().create_account(&AccountName::new(name).unwrap(), password, None).await.unwrap();
    }
    server
}

fn yard(protocol: &str, server: std::net::SocketAddr, handle: &str, password: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_yard"));
    command
        .args(["--protocol", protocol, "--server", &server.to_string(), "--handle", handle])
        .env("YARD_PASSWORD", password)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await.expect("a line in time");
    line.unwrap().expect("yard watch is still running")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_what_send_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let (msn, mrim) = (server.address("msn").unwrap(), server.address("mrim").unwrap());

    let mut watch = yard("mrim", mrim, "bob@mail.ru", "pw").arg("watch").spawn().unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut lines).await, r#"{"event":"logged_in"}"#);

    let sent =
        yard("msn", msn, "alice@hotmail.com", "secret").args(["send", "bob@hotmail.com", "hello", "there"]).output();
    let sent = sent.await.unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    loop {
        let line = next_line(&mut lines).await;
        if line.contains(r#""event":"message""#) {
            assert_eq!(line, r#"{"event":"message","from":"alice@mail.ru","text":"hello there"}"#);
            break;
        }
    }

    let nobody =
        yard("mrim", mrim, "alice@mail.ru", "secret").args(["send", "nobody@mail.ru", "x"]).output().await.unwrap();
    assert_eq!(nobody.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("not delivered"), "{nobody:?}");
    let wrong = yard("mrim", mrim, "alice@mail.ru", "wrong").args(["send", "bob@mail.ru", "x"]).output().await.unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("cannot log in"), "{wrong:?}");
    watch.kill().await.unwrap();
    server.shutdown().await;
}
