//! The `yard` binary against a real server: `watch` prints events as JSON lines, `send`
//! exits 0 once a message is delivered and 1 with a reason when it is not.

use std::process::Stdio;
use std::time::Duration;
use switchyard::{Config, RunningServer};
use switchyard_core::AccountName;
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

/// `yard chat` without a terminal (its lines from a pipe): options after the command, /help and
/// /status explain themselves, your delivered messages are marked as yours, incoming ones carry
/// the time, and a login elsewhere is said and ends the session until /reconnect or /quit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_marks_its_lines_and_says_when_a_login_elsewhere_ends_it() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let mrim = server.address("mrim").unwrap();
    let mut chat = Command::new(env!("CARGO_BIN_EXE_yard"))
        .args(["chat", "--protocol", "mrim", "--server", &mrim.to_string(), "--handle", "bob@mail.ru"])
        .env("YARD_PASSWORD", "pw")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = chat.stdin.take().unwrap();
    let mut lines = BufReader::new(chat.stdout.take().unwrap()).lines();
    let mut until = async |wanted: &str| loop {
        let line = next_line(&mut lines).await;
        if line.contains(wanted) {
            return line;
        }
    };
    until("logged in as bob@mail.ru").await;
    input.write_all(b"/help\n/status\n/status sleepy\nalice@mail.ru: hi alice\n").await.unwrap();
    until("/status [STATUS]").await;
    until("one of: online, busy, away, invisible").await;
    until("\"sleepy\" is no status").await;
    let mine = until("you → alice@mail.ru: hi alice").await;
    assert!(mine.as_bytes()[2] == b':' && mine.chars().take(2).all(|c| c.is_ascii_digit()), "{mine}");

    let sent = yard("mrim", mrim, "alice@mail.ru", "secret").args(["send", "bob@mail.ru", "hello bob"]).output();
    assert!(sent.await.unwrap().status.success());
    let incoming = until("alice@mail.ru: hello bob").await;
    assert!(!incoming.contains("you →"), "{incoming}");

    // Bob logs in elsewhere: the chat says so, refuses to send, and /quit ends it.
    let elsewhere = yard("mrim", mrim, "bob@mail.ru", "pw").args(["send", "alice@mail.ru", "from elsewhere"]).output();
    assert!(elsewhere.await.unwrap().status.success());
    until("you logged in elsewhere").await;
    input.write_all(b"alice@mail.ru: still here?\n").await.unwrap();
    until("this session has ended").await;
    input.write_all(b"/quit\n").await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), chat.wait()).await.unwrap().unwrap();
    assert!(status.success());
    server.shutdown().await;
}

/// A MyICQ server takes a message to a number nobody has without a word; `yard send` asks
/// first, and exits 1 saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_a_myicq_number_nobody_has_fails() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let myicq = server.address("myicq").unwrap();
    // alice is 10001, bob 10002.
    let sent = yard("myicq", myicq, "10001", "secret").args(["send", "10002", "hello"]).output().await.unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let nobody = yard("myicq", myicq, "10001", "secret").args(["send", "19999", "hello?"]).output().await.unwrap();
    assert_eq!(nobody.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no such user"), "{nobody:?}");
    server.shutdown().await;
}
