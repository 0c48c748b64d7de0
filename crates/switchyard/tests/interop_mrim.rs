//! Interoperability with a real, independent Mail.Ru Agent client: Debian's pidgin-mra plugin,
//! driven through bitlbee's IRC gateway. It is marked ignored, so that `cargo test` on a machine
//! without them says it did not run; `.ci/run` installs `bitlbee-libpurple` and `pidgin-mra`
//! and runs it with `--include-ignored`.

mod common;

use common::mrim::{Body, MrimClient};
use common::TestServer;
use mrim::codes::{msg, status};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use switchyard_core::{AccountName, RelationFlags};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// bitlbee in fork-daemon mode (libpurple refuses its single-process mode), killed on drop.
struct Bitlbee {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Bitlbee {
    fn start() -> Bitlbee {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.path().join("bitlbee.conf");
        std::fs::write(
            &config,
            format!("[settings]\nRunMode = ForkDaemon\nAuthMode = Open\nConfigDir = {}\n", dir.path().display()),
        )
        .unwrap();
        let child = Command::new("bitlbee")
            .args(["-F", "-n", "-i", "127.0.0.1", "-p", &port.to_string(), "-c"])
            .arg(&config)
            .arg("-d")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bitlbee is installed (bitlbee-libpurple)");
        Bitlbee { child, port, _dir: dir }
    }
}

impl Drop for Bitlbee {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a line must show, named for the failure message.
type Wanted<'a> = (&'a str, &'a dyn Fn(&str) -> bool);

/// A minimal IRC client for bitlbee's control channel.
struct Irc {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Irc {
    async fn connect(port: u16) -> Irc {
        for _ in 0..100 {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
                let (read, writer) = stream.into_split();
                return Irc { reader: BufReader::new(read), writer };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("bitlbee did not start listening");
    }

    async fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    }

    /// Reads lines until one satisfies `wanted`; fails after 30 s, showing what was seen.
    async fn wait_for(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_for_all(&[(what, &wanted)]).await.remove(0)
    }

    /// Reads lines until each condition has matched one, in any order; returns those lines.
    async fn wait_for_all(&mut self, wanted: &[Wanted<'_>]) -> Vec<String> {
        let mut found: Vec<Option<String>> = vec![None; wanted.len()];
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while found.iter().any(Option::is_none) {
            let mut line = String::new();
            match tokio::time::timeout_at(deadline, self.reader.read_line(&mut line)).await {
                Ok(Ok(n)) if n > 0 => {
                    let slot = wanted.iter().zip(&found).position(|((_, test), f)| f.is_none() && test(&line));
                    match slot {
                        Some(i) => found[i] = Some(line),
                        None => seen.push(line.trim_end().to_owned()),
                    }
                }
                _ => {
                    let missing: Vec<_> =
                        wanted.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|((w, _), _)| *w).collect();
                    panic!("never saw {missing:?}; saw:\n{}", seen.join("\n"));
                }
            }
        }
        found.into_iter().flatten().collect()
    }
}

#[tokio::test]
#[ignore = "needs Debian's bitlbee-libpurple and pidgin-mra; .ci/run installs them and runs it"]
async fn pidgin_mra_logs_in_gets_its_list_chats_both_ways_and_receives_offline_messages() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret1", Some("Alice")).await;
    server.add_user("bob", "pw", Some("Bob")).await;
    let store = server.running().store();
    let account = |name: &str| AccountName::new(name).unwrap();
    let alice = store.account_by_name(&account("alice")).await.unwrap().unwrap();
    let bob_account = store.account_by_name(&account("bob")).await.unwrap().unwrap();
    store.set_relation(alice.id, bob_account.id, RelationFlags::FORWARD, Some("Bob")).await.unwrap();
    store.set_relation(bob_account.id, alice.id, RelationFlags::FORWARD, Some("Alice")).await.unwrap();

    // Bob writes while alice is away: the message waits in the offline queue.
    let mrim = server.running().address("mrim").unwrap();
    let (mut bob, contacts) = MrimClient::login(mrim, 7, "bob@mail.ru", "pw").await;
    assert_eq!(contacts.len(), 1);
    let offline = Body::default().u32(0).lps(b"alice@mail.ru").text("offline привет", 7).lps(b"");
    bob.send(msg::MESSAGE, offline).await;
    assert_eq!(bob.expect(msg::MESSAGE_STATUS).await.1.u32(), 0);

    let bitlbee = Bitlbee::start();
    let mut irc = Irc::connect(bitlbee.port).await;
    irc.send("NICK tester").await;
    irc.send("USER tester 0 * :tester").await;
    irc.wait_for("the control channel", |l| l.contains(" 366 ")).await;
    for command in [
        "account add mra alice@mail.ru secret1".to_owned(),
        "account mra set host 127.0.0.1".to_owned(),
        format!("account mra set port {}", mrim.port()),
        "account mra on".to_owned(),
    ] {
        irc.send(&format!("PRIVMSG &bitlbee :{command}")).await;
    }
    // The login, the contact list (bitlbee shows online buddies joining its channel) and the
    // stored message, in whatever order bitlbee reports them.
    let lines = irc
        .wait_for_all(&[
            ("the login", &|l: &str| l.contains("mra - Logging in: Logged in")),
            ("bob in the contact list", &|l: &str| l.starts_with(":bob!bob@mail.ru JOIN")),
            ("the offline message", &|l: &str| l.contains("offline привет")),
        ])
        .await;
    let stored = &lines[2];
    assert!(stored.starts_with(":bob!bob@mail.ru "), "{stored}");
    // pidgin-mra deletes what it received: the queue is empty afterwards.
    for _ in 0..50 {
        if store.offline_count(alice.id).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.offline_count(alice.id).await.unwrap(), 0);

    // Bob watches alice: he sees the pidgin login.
    let (_, mut online) = bob.expect(msg::USER_STATUS).await;
    assert_eq!((online.u32(), &online.lps()[..]), (status::ONLINE, &b"alice@mail.ru"[..]));

    let live = Body::default().u32(0).lps(b"alice@mail.ru").text("live hello from bob", 7).lps(b"");
    bob.send(msg::MESSAGE, live).await;
    assert_eq!(bob.expect(msg::MESSAGE_STATUS).await.1.u32(), 0);
    irc.wait_for("the live message", |l| l.contains("live hello from bob")).await;

    irc.send("PRIVMSG bob :reply from pidgin").await;
    let (_, mut reply) = bob.expect(msg::MESSAGE_ACK).await;
    let (_, _, from) = (reply.u32(), reply.u32(), reply.lps());
    assert_eq!(&from[..], b"alice@mail.ru");
    assert_eq!(bob.text(&mut reply), "reply from pidgin");
}
