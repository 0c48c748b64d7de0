//! The server on PostgreSQL: the admin commands, `store copy` between SQLite and PostgreSQL
//! both ways, and a database that stops while users are online. (Every other server test runs
//! on PostgreSQL too with `SWITCHYARD_TEST_STORE=postgres`, as `.ci/run` does.)

mod common;

#[path = "../../switchyard-myicq/tests/support/client.rs"]
mod myicq_client;

use common::mrim::{Body, MrimClient};
use common::{online, Client, TestServer};
use mrim::codes::{message_flag, msg};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use switchyard::StoreLocation;
use switchyard_core::store::copy::StoreRows;
use switchyard_core::store::{MessageKind, OfflineMessage};
use switchyard_core::{AccountName, Profile, RelationFlags, Store};
use switchyard_store_postgres::scratch::{OwnServer, ScratchDatabase};

/// `switchyard ARGS` with `input` on standard input; fails the test unless it succeeds.
fn switchyard(data_dir: &Path, args: &[&str], input: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SWITCHYARD_STORE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
    assert!(status.success(), "switchyard {args:?} failed: {}", String::from_utf8_lossy(&stderr));
    String::from_utf8(stdout).unwrap()
}

#[tokio::test]
async fn the_user_commands_work_on_postgres() {
    let database = ScratchDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let store = ["--store", database.url.as_str()];
    let run = |args: &[&str], input: &str| switchyard(dir.path(), &[&store[..], args].concat(), input);
    assert_eq!(
        run(&["user", "add", "alice", "--password", "pw", "--nickname", "Alice"], ""),
        "created alice uin 10001\n"
    );
    let imported = run(&["user", "import"], "user bob secret Bob\nuser carol pw\ncontact bob alice Al\n");
    assert_eq!(imported, "10002\tbob\n10003\tcarol\n");
    run(&["user", "passwd", "carol"], "new-password\n");
    run(&["user", "profile", "bob", "--city-id", "495", "--first-name", "Боб"], "");
    run(&["user", "del", "alice"], "");
    assert_eq!(run(&["user", "list"], ""), "10002\tbob\tBob\n10003\tcarol\t\n");

    // What the commands wrote is what a server on the same database reads.
    let server = switchyard_store_postgres::PostgresStore::open(&database.url).await.unwrap();
    let bob = server.account_by_name(&AccountName::new("bob").unwrap()).await.unwrap().unwrap();
    let profile = server.profile(bob.id).await.unwrap();
    assert_eq!((profile.city_id, profile.first_name.as_str()), (495, "Боб"));
    let carol = server.account_by_name(&AccountName::new("carol").unwrap()).await.unwrap().unwrap();
    assert!(server.secrets(carol.id).await.unwrap().unwrap().accepts_password("new-password"));
    assert!(server.relations(bob.id).await.unwrap().is_empty(), "alice, and bob's contact with her, are gone");
    // The SQLite-only command says what to use instead.
    let backup = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--store", &database.url, "backup", "/tmp/never-written.db"])
        .output()
        .unwrap();
    assert!(!backup.status.success() && String::from_utf8_lossy(&backup.stderr).contains("pg_dump"));
}

/// Every row a store holds, in export order.
async fn everything(store: &dyn Store) -> Vec<StoreRows> {
    let (rows, mut batches) = tokio::sync::mpsc::channel(4);
    let (exported, collected) = tokio::join!(store.export(rows), async {
        let mut all = Vec::new();
        while let Some(batch) = batches.recv().await {
            all.push(batch);
        }
        all
    });
    exported.unwrap();
    collected
}

/// An installation with a bit of everything, and a deleted account whose UIN must stay used.
async fn fill(store: &dyn Store) {
    let name = |n: &str| AccountName::new(n).unwrap();
    let ann = store.create_account(&name("ann"), "pw-ann", Some("Ann")).await.unwrap();
    let ben = store.create_account(&name("ben"), "pw-ben", None).await.unwrap();
    let numbered = store.create_numbered_account("pw-icq").await.unwrap();
    store.set_relation(ann.id, ben.id, RelationFlags::FORWARD | RelationFlags::ALLOW, Some("Benny")).await.unwrap();
    store.set_relation(ben.id, ann.id, RelationFlags::FORWARD, None).await.unwrap();
    store.set_relation(numbered.id, ann.id, RelationFlags::BLOCK, None).await.unwrap();
    store.set_disabled(numbered.id, true).await.unwrap();
    let (friends, _) = store.create_group(ann.id, "Друзья").await.unwrap();
    store.create_group(ann.id, "Work").await.unwrap();
    store.set_contact_groups(ann.id, ben.id, &[friends.id]).await.unwrap();
    store.set_privacy(ben.id, switchyard_core::Privacy::BlockUnlisted).await.unwrap();
    let profile = Profile { first_name: "Анна".into(), city_id: 812, age: Some(30), ..Profile::default() };
    store.set_profile(ann.id, &profile).await.unwrap();
    for text in ["first", "второе"] {
        let message = OfflineMessage {
            sender: ben.id,
            recipient: ann.id,
            kind: MessageKind::Text,
            text: text.into(),
            sent_at: 7,
        };
        store.enqueue_offline(&message).await.unwrap();
    }
    let seen = store.add_broadcast(ann.id, MessageKind::Broadcast, "hello all", 9).await.unwrap();
    store.mark_broadcasts_seen(ben.id, seen).await.unwrap();
    let gone = store.create_account(&name("gone"), "pw", None).await.unwrap();
    store.delete_account(gone.id).await.unwrap();
}

#[tokio::test]
async fn an_installation_moves_from_sqlite_to_postgres_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let database = ScratchDatabase::create().await;
    let sqlite = dir.path().join("switchyard.db");
    let original = switchyard_store_sqlite::SqliteStore::open(&sqlite).await.unwrap();
    fill(&original).await;
    let before = everything(&original).await;
    original.close().await;
    drop(original);

    let from = format!("sqlite://{}", sqlite.display());
    let copied = switchyard(dir.path(), &["store", "copy", "--from", &from, "--to", &database.url], "");
    assert_eq!(
        copied,
        "copied 3 accounts, 3 contact relations, 2 groups, 1 group memberships, 2 offline messages, 1 broadcasts\n"
    );
    let postgres = switchyard_store_postgres::PostgresStore::open(&database.url).await.unwrap();
    assert_eq!(everything(&postgres).await, before, "every row, id and counter came over");
    let ann = postgres.account_by_name(&AccountName::new("ann").unwrap()).await.unwrap().unwrap();
    let secrets = postgres.secrets(ann.id).await.unwrap().unwrap();
    assert!(secrets.accepts_password("pw-ann"), "passwords still work");
    let relations = postgres.relations(ann.id).await.unwrap();
    assert_eq!(relations.iter().find(|r| r.other.name.as_str() == "ben").unwrap().display_name, "Benny");

    // A second copy into the filled store is refused, and changes nothing.
    let refused = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--data-dir", &dir.path().to_string_lossy(), "store", "copy", "--from", &from, "--to", &database.url])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // And back, into a new SQLite file.
    let back = dir.path().join("back.db");
    let to = format!("sqlite://{}", back.display());
    switchyard(dir.path(), &["store", "copy", "--from", &database.url, "--to", &to], "");
    let returned = switchyard_store_sqlite::SqliteStore::open(&back).await.unwrap();
    assert_eq!(everything(&returned).await, before);

    // Both go on numbering after the deleted account: its UIN is never handed out again.
    let name = AccountName::new("newcomer").unwrap();
    let on_postgres = postgres.create_account(&name, "pw", None).await.unwrap();
    let on_sqlite = returned.create_account(&name, "pw", None).await.unwrap();
    assert_eq!((on_postgres.uin, on_sqlite.uin), (10005, 10005));
    assert_eq!(StoreLocation::parse(&database.url, dir.path()).unwrap(), StoreLocation::Postgres(database.url.clone()));
}

fn mrim_message(to: &str, text: &str) -> Body {
    Body::default().u32(message_flag::UNICODE).lps(to.as_bytes()).text(text, 16).lps(b"")
}

/// Retries `attempt` until it succeeds, for up to ten seconds.
async fn eventually<F: std::future::Future<Output = bool>>(mut attempt: impl FnMut() -> F) {
    for _ in 0..50 {
        if attempt().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never succeeded");
}

/// The next line starting with `prefix`, past presence notices.
async fn line_starting(client: &mut Client, prefix: &str) -> String {
    loop {
        let line = client.line().await;
        if line.starts_with(prefix) {
            return line;
        }
    }
}

/// An MD5 login's answer to `USR I` and (when challenged) `USR S`: the first line that is not
/// a challenge.
async fn md5_login_answer(msn: std::net::SocketAddr, handle: &str, password: &str) -> String {
    let mut c = Client::connect(msn).await;
    c.exchange(&[("VER 1 MSNP2 CVR0", "VER 1 MSNP2")]).await;
    c.send(&format!("USR 2 MD5 I {handle}")).await;
    let line = c.line().await;
    let Some(challenge) = line.strip_prefix("USR 2 MD5 S ") else { return line };
    c.send(&format!("USR 3 MD5 S {}", msnp::auth::md5_response(challenge, password))).await;
    c.line().await
}

#[tokio::test]
async fn a_database_outage_refuses_logins_politely_while_conversations_go_on() {
    let postgres = OwnServer::start();
    let url = postgres.url();
    let server = TestServer::start_with(|config| config.store.url = url.clone()).await;
    let store = server.running().store();
    let import = "user alice pw Alice\nuser bob pw Bob\nuser carol pw Carol\nuser dave pw Dave\nuser erin pw Erin\n\
                  contact alice bob\ncontact bob alice\ncontact carol dave\ncontact dave carol\n";
    switchyard::import::import(store, import.as_bytes(), &mut Vec::new()).await.unwrap();
    let msn = server.msn();
    let mrim_address = server.running().address("mrim").unwrap();

    // Alice and Bob (MSN) in a switchboard, Carol and Dave (MRIM) online.
    let mut alice_ns = online(msn, "alice@hotmail.com", "pw", "Alice").await;
    let _bob_ns = online(msn, "bob@hotmail.com", "pw", "Bob").await;
    alice_ns.send("XFR 6 SB").await;
    let cookie = line_starting(&mut alice_ns, "XFR 6 SB ").await.rsplit(' ').next().unwrap().to_owned();
    let mut alice = Client::connect(msn).await;
    alice.exchange(&[(&format!("USR 1 alice@hotmail.com {cookie}"), "USR 1 OK alice@hotmail.com Alice")]).await;
    alice.send("CAL 2 bob@hotmail.com").await;
    assert!(alice.line().await.starts_with("CAL 2 RINGING "));
    let mut bob_ns = _bob_ns;
    let ring = line_starting(&mut bob_ns, "RNG ").await;
    let parts: Vec<&str> = ring.split(' ').collect();
    let mut bob = Client::connect(msn).await;
    bob.send(&format!("ANS 1 bob@hotmail.com {} {}", parts[4], parts[1])).await;
    bob.expect("IRO 1 1 1 alice@hotmail.com Alice").await;
    bob.expect("ANS 1 OK").await;
    alice.expect("JOI bob@hotmail.com Bob").await;
    let (mut carol, _) = MrimClient::login(mrim_address, 16, "carol@mail.ru", "pw").await;
    let (mut dave, _) = MrimClient::login(mrim_address, 16, "dave@mail.ru", "pw").await;
    carol.expect(msg::USER_STATUS).await; // Dave came online

    postgres.stop();

    // Conversations between those online go on.
    let body = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nstill here?";
    alice.send_msg(3, "A", body).await;
    alice.expect("ACK 3").await;
    assert!(bob.expect_payload("MSG alice@hotmail.com Alice ").await.ends_with("still here?"));
    dave.send(msg::MESSAGE, mrim_message("carol@mail.ru", "и я тут")).await;
    dave.expect(msg::MESSAGE_STATUS).await;
    let (_, from, text) = carol.receive_message().await;
    assert_eq!((from.as_str(), text.as_str()), ("dave@mail.ru", "и я тут"));

    // Logins and list changes are told to try later: 601, LOGIN_REJ with the reason, 503.
    assert_eq!(md5_login_answer(msn, "erin@hotmail.com", "pw").await, "601 2");
    let mut erin = MrimClient::connect(mrim_address, 16).await;
    erin.hello_and_login("erin@mail.ru", "pw", mrim::codes::status::ONLINE).await;
    let (_, mut rejection) = erin.expect(msg::LOGIN_REJ).await;
    let reason = String::from_utf8_lossy(&rejection.lps()).into_owned();
    assert!(reason.contains("try again later"), "{reason}");
    alice_ns.send("BLP 7 BL").await;
    alice_ns.expect("500 7").await;
    let http = server.running().address("http").unwrap();
    let nexus = reqwest::Client::new()
        .get(format!("http://{http}/login2.srf"))
        .header("Authorization", "Passport1.4 OrgVerb=GET,sign-in=erin%40hotmail.com,pwd=pw,lc=1033,id=507")
        .send()
        .await
        .unwrap();
    assert_eq!(nexus.status(), 503);
    // MyICQ has no "try later": no answer, so the client resends its LOGIN (and, after its
    // resends, says the server cannot be reached) rather than hear "wrong password".
    let myicq_address = server.running().address("myicq").unwrap();
    let mut erin_icq = myicq_client::Client::new(myicq_address).await;
    erin_icq.uin = 10005;
    erin_icq.set_password("pw");
    let login = myicq::client::Request::Login(myicq::client::Login {
        password: b"pw".to_vec(),
        status: myicq::codes::status::ONLINE,
        tcp_version: 1,
        real_ip: 0,
        msg_port: 0,
    });
    erin_icq.send(&login).await;
    while let Some(received) = erin_icq.recv_within(Duration::from_secs(1)).await {
        assert!(
            !matches!(received.packet, myicq::server::ServerPacket::Login(_)),
            "a LOGIN the store could not check is not answered: {:?}",
            received.packet
        );
    }

    // The database comes back, and so does the service, by itself.
    postgres.start_again();
    eventually(|| async { md5_login_answer(msn, "erin@hotmail.com", "pw").await.starts_with("USR 3 OK") }).await;
    // The failed tries during the outage were no failed logins: no throttle on Erin's account.
    let (mut erin, _) = MrimClient::login(mrim_address, 16, "erin@mail.ru", "pw").await;
    erin.expect_nothing_pending().await;
    myicq_client::Client::new(myicq_address).await.login_online(10005, "pw").await;
    alice_ns.send("BLP 8 BL").await;
    let answer = alice_ns.line().await;
    assert!(answer.starts_with("BLP 8 "), "{answer}");
}
