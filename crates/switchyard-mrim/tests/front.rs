//! Mail.Ru Agent clients of several protocol versions against the MRIM front over loopback,
//! on the in-memory store.

mod support;

use mrim::codes::{contact_flag, contact_oper, message_flag, message_status, msg, status, wp};
use std::net::SocketAddr;
use support::client::{Body, ListedContact, MrimClient};
use support::TestServer;
use tokio::io::AsyncReadExt;

async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "hunter2", Some("Бобби")).await;
    server.add_user("carol", "pw", None).await;
    server
}

fn mrim_addr(server: &TestServer) -> SocketAddr {
    server.mrim()
}

fn message(flags: u32, to: &str, text: &str, minor: u16) -> Body {
    Body::default().u32(flags).lps(to.as_bytes()).text(text, minor).lps(b"")
}

/// Sends a MESSAGE and returns the MESSAGE_STATUS value, checking it echoes the seq.
async fn send_message(c: &mut MrimClient, flags: u32, to: &str, text: &str) -> u32 {
    let minor = c.minor;
    let seq = c.send(msg::MESSAGE, message(flags, to, text, minor)).await;
    let (reply_seq, mut status) = c.expect(msg::MESSAGE_STATUS).await;
    assert_eq!(reply_seq, seq);
    status.u32()
}

async fn user_status(c: &mut MrimClient) -> (u32, String) {
    let (_, mut r) = c.expect(msg::USER_STATUS).await;
    let value = r.u32();
    if c.minor >= 14 {
        r.lps();
        r.lps();
        r.lps();
    }
    (value, String::from_utf8(r.lps().to_vec()).unwrap())
}

#[tokio::test]
async fn every_version_logs_in_and_wrong_logins_are_rejected() {
    let server = server().await;
    let addr = mrim_addr(&server);
    for minor in [7, 8, 14, 15, 16, 20, 21, 22] {
        let (mut c, contacts) = MrimClient::login(addr, minor, "alice@mail.ru", "secret").await;
        assert!(contacts.is_empty());
        c.expect_nothing_pending().await;
    }
    // Any configured domain names the account.
    MrimClient::login(addr, 7, "Alice@BK.ru", "secret").await;

    for (email, password) in [("alice@mail.ru", "wrong"), ("nobody@mail.ru", "x"), ("alice@example.com", "secret")] {
        let mut c = MrimClient::connect(addr, 7).await;
        let seq = c.hello_and_login(email, password, status::ONLINE).await;
        let (reply_seq, mut reason) = c.expect(msg::LOGIN_REJ).await;
        assert_eq!((reply_seq, &reason.lps()[..]), (seq, &b"Invalid login"[..]));
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn login3_with_plain_and_md5_passwords() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let md5: [u8; 16] = <md5::Md5 as md5::Digest>::digest(b"secret").into();
    let wrong_md5: [u8; 16] = <md5::Md5 as md5::Digest>::digest(b"Secret").into();
    // From 1.22 a 16-byte field is the MD5; anything else is read as a plain password, for
    // clients that claim a newer version than they speak.
    for (minor, secret, accepted) in [
        (21u16, b"secret".to_vec(), true),
        (22, md5.to_vec(), true),
        (22, wrong_md5.to_vec(), false),
        (22, b"secret".to_vec(), true),
        (21, md5.to_vec(), false),
    ] {
        let mut c = MrimClient::connect(addr, minor).await;
        c.send(msg::HELLO, Body::default()).await;
        c.expect(msg::HELLO_ACK).await;
        let body = Body::default().lps(b"alice@mail.ru").lps(&secret).u32(0x3ff).lps(b"client=\"magent\"").lps(b"ru");
        c.send(msg::LOGIN3, body).await;
        let expected = if accepted { msg::LOGIN_ACK } else { msg::LOGIN_REJ };
        c.expect(expected).await;
    }
}

#[tokio::test]
async fn messages_cross_versions_with_their_encodings_and_rejections() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut alice, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    let (mut bob, _) = MrimClient::login(addr, 16, "bob@mail.ru", "hunter2").await;

    assert_eq!(send_message(&mut alice, 0, "bob@mail.ru", "Привет, Bob!").await, message_status::DELIVERED);
    let (flags, from, text) = bob.receive_message().await;
    assert_eq!((flags, from.as_str(), text.as_str()), (message_flag::UNICODE, "alice@mail.ru", "Привет, Bob!"));

    let reply = "Здравствуй 😀";
    assert_eq!(send_message(&mut bob, message_flag::UNICODE, "alice@mail.ru", reply).await, message_status::DELIVERED);
    let (flags, from, text) = alice.receive_message().await;
    assert_eq!((flags, from.as_str()), (0, "bob@mail.ru"));
    assert_eq!(text, "Здравствуй ?", "CP1251 cannot carry the emoji: replaced visibly");

    // The RTF part (base64 of zlib-packed RTF) is carried through untouched, with its flag.
    let rtf = b"eJwrycxNVUjOzytRSC0sTUxNUchIzcnJBwBNgQfu";
    let body = Body::default().u32(message_flag::RTF).lps(b"bob@mail.ru").text("formatted", 7).lps(rtf);
    alice.send(msg::MESSAGE, body).await;
    assert_eq!(alice.expect(msg::MESSAGE_STATUS).await.1.u32(), message_status::DELIVERED);
    let (_, mut ack) = bob.expect(msg::MESSAGE_ACK).await;
    let (_, flags, _) = (ack.u32(), ack.u32(), ack.lps());
    assert_eq!(flags, message_flag::RTF | message_flag::UNICODE);
    assert_eq!(bob.text(&mut ack), "formatted");
    assert_eq!(&ack.lps()[..], &rtf[..]);

    // A forwarded contact list keeps its flag; NORECV tells the recipient not to confirm.
    let flags = message_flag::CONTACT | message_flag::NORECV;
    assert_eq!(send_message(&mut alice, flags, "bob@mail.ru", "carol@mail.ru;Carol;").await, message_status::DELIVERED);
    let (flags, _, text) = bob.receive_message().await;
    assert_eq!(
        (flags, text.as_str()),
        (message_flag::CONTACT | message_flag::NORECV | message_flag::UNICODE, "carol@mail.ru;Carol;")
    );

    assert_eq!(send_message(&mut alice, 0, "nobody@mail.ru", "x").await, message_status::REJECTED_NOUSER);
    assert_eq!(send_message(&mut alice, 0, "bob@example.com", "x").await, message_status::REJECTED_NOUSER);
    assert_eq!(send_message(&mut alice, 0, "bob@mail.ru", "").await, message_status::REJECTED_INTERR);
    let long = "x".repeat(17 * 1024);
    assert_eq!(send_message(&mut alice, 0, "bob@mail.ru", &long).await, message_status::REJECTED_TOO_LARGE);

    // Typing notices go to online users only.
    assert_eq!(send_message(&mut alice, message_flag::NOTIFY, "bob@mail.ru", " ").await, message_status::DELIVERED);
    assert_eq!(bob.receive_message().await.0, message_flag::NOTIFY | message_flag::UNICODE);
    assert_eq!(
        send_message(&mut alice, message_flag::NOTIFY, "carol@mail.ru", " ").await,
        message_status::REJECTED_DENY_OFFMSG
    );

    // One message to a list: bob gets it now, carol at her next login.
    let flags = message_flag::MULTICAST;
    assert_eq!(
        send_message(&mut alice, flags, "bob@mail.ru,carol@mail.ru", "to both").await,
        message_status::DELIVERED
    );
    assert_eq!(bob.receive_message().await.2, "to both");
    let (mut carol, _) = MrimClient::login(addr, 7, "carol@mail.ru", "pw").await;
    let (_, mut offline) = carol.expect(msg::OFFLINE_MESSAGE_ACK).await;
    offline.uidl();
    assert!(String::from_utf8_lossy(&offline.lps()).contains("\n\nto both\n--SWITCHYARD"));
    bob.expect_nothing_pending().await;
}

#[tokio::test]
async fn offline_messages_are_redelivered_until_deleted() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut alice, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    for text in ["первое", "second"] {
        assert_eq!(send_message(&mut alice, 0, "bob@mail.ru", text).await, message_status::DELIVERED);
    }

    let (mut bob, _) = MrimClient::login(addr, 7, "bob@mail.ru", "hunter2").await;
    let (first_uidl, first) = read_offline(&mut bob).await;
    let (_, second) = read_offline(&mut bob).await;
    assert!(first_uidl.iter().all(u8::is_ascii_hexdigit), "a UIDL is eight characters: {first_uidl:?}");
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(first.starts_with("From: alice@mail.ru\nDate: "), "{first}");
    assert!(first.contains("\nX-MRIM-Flags: 00000001\nBoundary: SWITCHYARD"), "{first}");
    assert!(first.contains("\nContent-Type: text/plain; charset=CP-1251\n"), "{first}");
    assert!(!first.contains('\r'), "LF line endings only");
    let second = String::from_utf8_lossy(&second).into_owned();
    assert!(second.contains("\n\nsecond\n--SWITCHYARD") && second.ends_with("--\n"), "{second}");
    bob.expect_nothing_pending().await;
    drop(bob);

    // Not deleted: both again, now as UTF-16LE in base64 for a 1.16 client.
    let (mut bob, _) = MrimClient::login(addr, 16, "bob@mail.ru", "hunter2").await;
    let (uidl, text) = read_offline(&mut bob).await;
    assert_eq!(uidl, first_uidl);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("charset=UTF-16LE\nContent-Transfer-Encoding: base64\n\nPwQ1BEAEMgQ+BDUE\n--SWITCHYARD"),
        "{text}"
    );
    read_offline(&mut bob).await;
    bob.send(msg::DELETE_OFFLINE_MESSAGE, Body(first_uidl.to_vec())).await;
    bob.expect_nothing_pending().await;
    drop(bob);

    let (mut bob, _) = MrimClient::login(addr, 7, "bob@mail.ru", "hunter2").await;
    let (_, text) = read_offline(&mut bob).await;
    assert!(String::from_utf8_lossy(&text).contains("\n\nsecond\n--"), "only the undeleted message is left");
    bob.expect_nothing_pending().await;
}

/// Reads an OFFLINE_MESSAGE_ACK: (uidl, message text).
async fn read_offline(c: &mut MrimClient) -> ([u8; 8], Vec<u8>) {
    let (_, mut r) = c.expect(msg::OFFLINE_MESSAGE_ACK).await;
    (r.uidl(), r.lps().to_vec())
}

fn add_contact(flags: u32, email: &str, name: &str) -> Body {
    Body::default().u32(flags).u32(0).lps(email.as_bytes()).text(name, 7).lps(b"")
}

async fn add(c: &mut MrimClient, body: Body) -> (u32, u32) {
    c.send(msg::ADD_CONTACT, body).await;
    let (_, mut r) = c.expect(msg::ADD_CONTACT_ACK).await;
    (r.u32(), r.u32())
}

async fn modify(c: &mut MrimClient, flags: u32, email: &str, name: &str) -> u32 {
    let body = Body::default().u32(20).u32(flags).u32(0).lps(email.as_bytes()).text(name, c.minor).lps(b"");
    c.send(msg::MODIFY_CONTACT, body).await;
    c.expect(msg::MODIFY_CONTACT_ACK).await.1.u32()
}

#[tokio::test]
async fn contacts_presence_and_a_second_login() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut alice, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    assert_eq!(add(&mut alice, add_contact(0, "bob@mail.ru", "Bobby")).await, (contact_oper::SUCCESS, 20));
    assert_eq!(add(&mut alice, add_contact(0, "bob@mail.ru", "Bobby")).await.0, contact_oper::USER_EXISTS);
    assert_eq!(add(&mut alice, add_contact(0, "nobody@mail.ru", "x")).await.0, contact_oper::NO_SUCH_USER);

    let (mut bob, _) = MrimClient::login(addr, 16, "bob@mail.ru", "hunter2").await;
    assert_eq!(user_status(&mut alice).await, (status::ONLINE, "bob@mail.ru".to_owned()));
    for (value, seen) in [(status::AWAY, status::AWAY), (status::ONLINE | status::FLAG_INVISIBLE, status::OFFLINE)] {
        bob.send(msg::CHANGE_STATUS, Body::default().u32(value).lps(b"").text("", 16).text("", 16).u32(0)).await;
        assert_eq!(user_status(&mut alice).await.0, seen);
    }

    // A second login ends the first with LOGOUT(NO_RELOGIN).
    let (mut again, contacts) = MrimClient::login(addr, 16, "alice@mail.ru", "secret").await;
    let (_, mut logout) = alice.expect(msg::LOGOUT).await;
    assert_eq!(logout.u32(), 0x10);
    alice.expect_closed().await;
    let bobby = ListedContact {
        flags: contact_flag::UNICODE_NAME,
        group: 0,
        email: "bob@mail.ru".into(),
        nickname: "Bobby".into(),
        server_flags: 0,
        status: status::OFFLINE,
    };
    assert_eq!(contacts, vec![bobby.clone()], "bob is invisible");

    assert_eq!(modify(&mut again, contact_flag::VISIBLE, "bob@mail.ru", "Бобби Б").await, contact_oper::SUCCESS);
    assert_eq!(modify(&mut again, 0, "carol@mail.ru", "x").await, contact_oper::NO_SUCH_USER);
    drop(again);
    let (mut alice, contacts) = MrimClient::login(addr, 16, "alice@mail.ru", "secret").await;
    let renamed = ListedContact {
        flags: contact_flag::UNICODE_NAME | contact_flag::VISIBLE,
        nickname: "Бобби Б".into(),
        ..bobby
    };
    assert_eq!(contacts, vec![renamed]);
    assert_eq!(modify(&mut alice, contact_flag::REMOVED, "bob@mail.ru", "").await, contact_oper::SUCCESS);
    // A shadow entry: alice is always invisible to carol, who is not her contact.
    let shadow = contact_flag::SHADOW | contact_flag::INVISIBLE;
    assert_eq!(add(&mut alice, add_contact(shadow, "carol@mail.ru", "carol")).await, (contact_oper::SUCCESS, 20));
    assert_eq!(
        add(&mut alice, add_contact(contact_flag::SHADOW, "bob@mail.ru", "x")).await.0,
        contact_oper::INVALID_INFO
    );
    drop(alice);
    let (mut alice, contacts) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    assert_eq!(contacts.len(), 1);
    assert_eq!((contacts[0].email.as_str(), contacts[0].flags), ("carol@mail.ru", shadow));
    assert_eq!(modify(&mut alice, contact_flag::REMOVED, "carol@mail.ru", "").await, contact_oper::SUCCESS);
    drop(alice);
    let (_, contacts) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    assert!(contacts.is_empty());
}

#[tokio::test]
async fn authorization_request_and_grant() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let store = server.store();
    let bob_id = {
        let bob = store.account_by_name(&switchyard_core::AccountName::new("bob").unwrap()).await.unwrap().unwrap();
        store.set_privacy(bob.id, switchyard_core::Privacy::BlockUnlisted).await.unwrap();
        bob.id
    };
    assert!(bob_id.0 > 0);
    let (mut bob, _) = MrimClient::login(addr, 7, "bob@mail.ru", "hunter2").await;
    let (mut alice, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    assert_eq!(add(&mut alice, add_contact(0, "bob@mail.ru", "Bob")).await.0, contact_oper::SUCCESS);
    drop(alice);
    let (mut alice, contacts) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    assert_eq!((contacts[0].server_flags, contacts[0].status), (contact_flag::NOT_AUTHORIZED, status::OFFLINE));

    assert_eq!(send_message(&mut alice, 0, "bob@mail.ru", "hi").await, message_status::REJECTED_PERMISSION);
    let flags = message_flag::AUTHORIZE;
    assert_eq!(send_message(&mut alice, flags, "bob@mail.ru", "Please add me").await, message_status::DELIVERED);
    let (flags, from, text) = bob.receive_message().await;
    assert_eq!((flags, from.as_str(), text.as_str()), (message_flag::AUTHORIZE, "alice@mail.ru", "Please add me"));

    bob.send(msg::AUTHORIZE, Body::default().lps(b"alice@mail.ru")).await;
    // Bob's status comes after the grant: Mail.Ru clients ignore the status of a contact who
    // has not authorized them yet.
    let (_, mut ack) = alice.expect(msg::AUTHORIZE_ACK).await;
    assert_eq!(ack.lps(), &b"bob@mail.ru"[..]);
    assert_eq!(user_status(&mut alice).await, (status::ONLINE, "bob@mail.ru".to_owned()));
    assert_eq!(send_message(&mut alice, 0, "bob@mail.ru", "thanks").await, message_status::DELIVERED);
    drop(alice);
    let (_, contacts) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    assert_eq!((contacts[0].server_flags, contacts[0].status), (0, status::ONLINE));
}

#[tokio::test]
async fn a_grant_that_changes_no_visibility_still_shows_the_grantor_after_the_ack() {
    // Carol lets everyone see her: her grant changes nothing Alice sees, yet Alice's client
    // showed her offline until it was authorized, so the status must follow the ACK.
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut carol, _) = MrimClient::login(addr, 14, "carol@mail.ru", "pw").await;
    let (mut alice, _) = MrimClient::login(addr, 14, "alice@mail.ru", "secret").await;
    assert_eq!(add(&mut alice, add_contact(0, "carol@mail.ru", "Carol")).await.0, contact_oper::SUCCESS);
    carol.send(msg::AUTHORIZE, Body::default().lps(b"alice@mail.ru")).await;
    let (_, mut ack) = alice.expect(msg::AUTHORIZE_ACK).await;
    assert_eq!(ack.lps(), &b"carol@mail.ru"[..]);
    assert_eq!(user_status(&mut alice).await, (status::ONLINE, "carol@mail.ru".to_owned()));
    alice.expect_nothing_pending().await;
}

#[tokio::test]
async fn redirector_mpop_and_search() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let mut redirect = tokio::net::TcpStream::connect(server.redirect()).await.unwrap();
    let mut answer = String::new();
    redirect.read_to_string(&mut answer).await.unwrap();
    assert_eq!(answer, format!("{addr}\n"));

    let (mut c, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    let seq = c.send(msg::GET_MPOP_SESSION, Body::default()).await;
    let (reply_seq, mut mpop) = c.expect(msg::MPOP_SESSION).await;
    assert_eq!((reply_seq, mpop.u32()), (seq, 1));
    let key = mpop.lps();
    assert!(key.len() == 32 && key.iter().all(u8::is_ascii_hexdigit));

    let search = Body::default().u32(wp::USER).lps(b"bob").u32(wp::DOMAIN).lps(b"mail.ru");
    c.send(msg::WP_REQUEST, search).await;
    let (_, mut anketa) = c.expect(msg::ANKETA_INFO).await;
    let (result, fields, _max_rows, _time) = (anketa.u32(), anketa.u32(), anketa.u32(), anketa.u32());
    assert_eq!((result, fields), (wp::ANKETA_OK, 15));
    let names: Vec<_> = (0..fields).map(|_| anketa.lps()).collect();
    assert_eq!((&names[0][..], &names[2][..]), (&b"Username"[..], &b"Nickname"[..]));
    let values: Vec<String> = (0..fields).map(|_| c.text(&mut anketa)).collect();
    assert_eq!((values[0].as_str(), values[1].as_str(), values[2].as_str()), ("bob", "mail.ru", "Бобби"));

    c.expect_nothing_pending().await;
}

#[tokio::test]
async fn starttls_switches_the_same_connection_to_tls() {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let certificate = generated.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
    let tls = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![certificate], key).unwrap();
    let server = TestServer::start_with(|c| c.mrim.tls = Some(std::sync::Arc::new(tls))).await;
    server.add_user("alice", "secret", Some("Alice")).await;

    let mut c = MrimClient::connect(mrim_addr(&server), 21).await;
    c.send(msg::HELLO, Body::default()).await;
    c.expect(msg::HELLO_ACK).await;
    let seq = c.send(msg::STARTTLS, Body::default()).await;
    assert_eq!(c.expect(msg::OK).await.0, seq);
    c.upgrade_tls(generated.cert.der().clone()).await;
    let login = c.hello_and_login("alice@mail.ru", "secret", status::ONLINE).await;
    assert_eq!(c.expect(msg::LOGIN_ACK).await.0, login);
    c.expect(msg::USER_INFO).await;
    c.contact_list().await;
    c.expect(msg::MAILBOX_STATUS).await;
    // Once is enough.
    c.send(msg::STARTTLS, Body::default()).await;
    assert_eq!(c.expect(msg::FAILURE).await.1.u32(), mrim::codes::failure::SERVICE_UNAVAILABLE);
    c.expect_nothing_pending().await;
}

#[tokio::test]
async fn framing_by_dlen_split_and_coalesced_and_bad_input_closes() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut c, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    // Two packets in one write, then one packet a byte at a time.
    let mut both = Vec::new();
    for code in [msg::PING, msg::GET_MPOP_SESSION] {
        mrim::header::Header { proto: 0x10007, seq: 50, msg: code, dlen: 0 }.encode(&mut both);
    }
    c.send_raw(&both).await;
    c.expect(msg::MPOP_SESSION).await;
    let mut one = Vec::new();
    mrim::header::Header { proto: 0x10007, seq: 51, msg: msg::GET_MPOP_SESSION, dlen: 0 }.encode(&mut one);
    for byte in one {
        c.send_raw(&[byte]).await;
    }
    assert_eq!(c.expect(msg::MPOP_SESSION).await.0, 51);

    let mut garbage = MrimClient::connect(addr, 7).await;
    garbage.send_raw(b"GET / HTTP/1.1\r\n\r\n").await;
    garbage.expect_closed().await;
    let mut huge = MrimClient::connect(addr, 7).await;
    let mut header = Vec::new();
    mrim::header::Header { proto: 0x10007, seq: 1, msg: msg::HELLO, dlen: 100_000_000 }.encode(&mut header);
    huge.send_raw(&header).await;
    huge.expect_closed().await;
    c.expect_nothing_pending().await;
}

#[tokio::test]
async fn a_client_that_stops_pinging_is_disconnected() {
    let server = TestServer::start_with(|c| c.mrim.ping_period = std::time::Duration::from_secs(1)).await;
    server.add_user("alice", "secret", None).await;
    let addr = mrim_addr(&server);
    let mut pinging = MrimClient::connect(addr, 7).await;
    pinging.expected_ping = 1;
    pinging.hello_and_login("alice@mail.ru", "secret", status::ONLINE).await;
    pinging.expect(msg::LOGIN_ACK).await;
    for _ in 0..4 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        pinging.send(msg::PING, Body::default()).await;
    }
    pinging.expect(msg::USER_INFO).await;
    pinging.expect(msg::CONTACT_LIST2).await;
    pinging.expect(msg::MAILBOX_STATUS).await;
    pinging.expect_nothing_pending().await;
    // Now silent: closed after 1.5 periods.
    pinging.expect_closed().await;
}

/// In paused time: the waits pass at once.
#[tokio::test(start_paused = true)]
async fn connection_params_change_the_ping_period_of_live_sessions() {
    let server = TestServer::start_with(|c| c.mrim.ping_period = std::time::Duration::from_secs(1)).await;
    server.add_user("alice", "secret", None).await;
    let addr = mrim_addr(&server);
    let mut c = MrimClient::connect(addr, 7).await;
    c.expected_ping = 1;
    c.hello_and_login("alice@mail.ru", "secret", status::ONLINE).await;
    for code in [msg::LOGIN_ACK, msg::USER_INFO, msg::CONTACT_LIST2, msg::MAILBOX_STATUS] {
        c.expect(code).await;
    }
    server.set_ping_period(std::time::Duration::from_secs(30));
    let (_, mut params) = c.expect(msg::CONNECTION_PARAMS).await;
    assert_eq!(params.u32(), 30);
    // Silent for longer than the old period allowed, and still served.
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    c.expect_nothing_pending().await;
    let mut late = MrimClient::connect(addr, 7).await;
    late.send(msg::HELLO, Body::default()).await;
    assert_eq!(late.expect(msg::HELLO_ACK).await.1.u32(), 30, "new sessions get the new period");
}

#[tokio::test]
async fn groups_are_created_renamed_removed_and_hold_contacts() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut alice, _) = MrimClient::login(addr, 16, "alice@mail.ru", "secret").await;
    let group = |name: &str| Body::default().u32(contact_flag::GROUP).u32(0).lps(b"").text(name, 16).lps(b"");
    assert_eq!(add(&mut alice, group("Друзья")).await, (contact_oper::SUCCESS, 1), "after the default group");
    assert_eq!(add(&mut alice, group("Work")).await, (contact_oper::SUCCESS, 2));
    let bob_in_friends = Body::default().u32(0).u32(1).lps(b"bob@mail.ru").text("Bob", 16).lps(b"");
    assert_eq!(add(&mut alice, bob_in_friends).await.0, contact_oper::SUCCESS);

    // Rename group 2, then move bob to it.
    let rename = Body::default().u32(2).u32(contact_flag::GROUP).u32(0).lps(b"").text("Job", 16).lps(b"");
    alice.send(msg::MODIFY_CONTACT, rename).await;
    assert_eq!(alice.expect(msg::MODIFY_CONTACT_ACK).await.1.u32(), contact_oper::SUCCESS);
    drop(alice);
    let mut alice = MrimClient::connect(addr, 16).await;
    alice.hello_and_login("alice@mail.ru", "secret", status::ONLINE).await;
    alice.expect(msg::LOGIN_ACK).await;
    alice.expect(msg::USER_INFO).await;
    let (groups, contacts) = alice.contact_list().await;
    alice.expect(msg::MAILBOX_STATUS).await;
    assert_eq!(groups, vec!["General", "Друзья", "Job"]);
    assert_eq!((contacts[0].email.as_str(), contacts[0].group), ("bob@mail.ru", 1));
    let move_bob = Body::default().u32(20).u32(0).u32(2).lps(b"bob@mail.ru").text("Bob", 16).lps(b"");
    alice.send(msg::MODIFY_CONTACT, move_bob).await;
    assert_eq!(alice.expect(msg::MODIFY_CONTACT_ACK).await.1.u32(), contact_oper::SUCCESS);
    let remove_friends =
        Body::default().u32(1).u32(contact_flag::GROUP | contact_flag::REMOVED).u32(0).lps(b"").text("", 16).lps(b"");
    alice.send(msg::MODIFY_CONTACT, remove_friends).await;
    assert_eq!(alice.expect(msg::MODIFY_CONTACT_ACK).await.1.u32(), contact_oper::SUCCESS);
    let missing = Body::default().u32(9).u32(contact_flag::GROUP).u32(0).lps(b"").text("x", 16).lps(b"");
    alice.send(msg::MODIFY_CONTACT, missing).await;
    assert_eq!(alice.expect(msg::MODIFY_CONTACT_ACK).await.1.u32(), contact_oper::ERROR);
    drop(alice);

    let mut alice = MrimClient::connect(addr, 7).await;
    alice.hello_and_login("alice@mail.ru", "secret", status::ONLINE).await;
    alice.expect(msg::LOGIN_ACK).await;
    alice.expect(msg::USER_INFO).await;
    let (groups, contacts) = alice.contact_list().await;
    alice.expect(msg::MAILBOX_STATUS).await;
    assert_eq!(groups, vec!["General", "Job"]);
    assert_eq!(contacts[0].group, 1, "bob is in Job, now at index 1");

    // At most 20 groups.
    for i in 2..20 {
        let body = Body::default().u32(contact_flag::GROUP).u32(0).lps(b"").text(&format!("g{i}"), 7).lps(b"");
        assert_eq!(add(&mut alice, body).await, (contact_oper::SUCCESS, i));
    }
    let body = Body::default().u32(contact_flag::GROUP).u32(0).lps(b"").text("one too many", 7).lps(b"");
    assert_eq!(add(&mut alice, body).await.0, contact_oper::GROUP_LIMIT);
}

/// Sends a WP_REQUEST; returns the status and the Username column of each row.
async fn search(c: &mut MrimClient, params: &[(u32, &str)]) -> (u32, Vec<String>) {
    let mut body = Body::default();
    for (field, value) in params {
        body = if matches!(*field, wp::NICKNAME | wp::FIRSTNAME | wp::LASTNAME) {
            body.u32(*field).text(value, c.minor)
        } else {
            body.u32(*field).lps(value.as_bytes())
        };
    }
    c.send(msg::WP_REQUEST, body).await;
    let (_, mut r) = c.expect(msg::ANKETA_INFO).await;
    let (status, fields, _, _) = (r.u32(), r.u32(), r.u32(), r.u32());
    let names: Vec<_> = (0..fields).map(|_| r.lps()).collect();
    assert_eq!(&names[0][..], b"Username");
    let mut users = Vec::new();
    while !r.is_empty() {
        // User-written columns are UTF-16LE from 1.16; the rest are ANSI.
        let row: Vec<String> = names
            .iter()
            .map(|name| match &name[..] {
                b"Nickname" | b"FirstName" | b"LastName" | b"Location" => c.text(&mut r),
                _ => mrim::text::from_cp1251(&r.lps()),
            })
            .collect();
        users.push(row[0].clone());
    }
    (status, users)
}

#[tokio::test]
async fn white_pages_search_over_every_parameter() {
    use switchyard_core::{AccountName, Date, Profile, Sex};
    let server = server().await;
    let store = server.store();
    let today =
        Date::from_unix(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64);
    let born = |age: u16, month: u8, day: u8| Some(Date { year: today.year - age, month, day });
    for (name, profile) in [
        (
            "alice",
            Profile {
                first_name: "Алиса".into(),
                last_name: "Иванова".into(),
                sex: Sex::Female,
                birthday: born(30, 3, 25),
                city_id: 495,
                country_id: 24,
                ..Profile::default()
            },
        ),
        (
            "bob",
            Profile {
                first_name: "Борис".into(),
                last_name: "Петров".into(),
                sex: Sex::Male,
                birthday: born(40, 12, 30),
                city_id: 812,
                country_id: 24,
                ..Profile::default()
            },
        ),
        (
            "carol",
            Profile {
                first_name: "Carol".into(),
                sex: Sex::Female,
                birthday: born(20, 7, 1),
                country_id: 1,
                ..Profile::default()
            },
        ),
    ] {
        let account = store.account_by_name(&AccountName::new(name).unwrap()).await.unwrap().unwrap();
        store.set_profile(account.id, &profile).await.unwrap();
    }
    let addr = mrim_addr(&server);
    let (mut c, _) = MrimClient::login(addr, 16, "alice@mail.ru", "secret").await;
    let ok = |users: &[&str]| (wp::ANKETA_OK, users.iter().map(|u| u.to_string()).collect::<Vec<_>>());
    assert_eq!(search(&mut c, &[(wp::FIRSTNAME, "бор*")]).await, ok(&["bob"]));
    assert_eq!(search(&mut c, &[(wp::LASTNAME, "иванова")]).await, ok(&["alice"]));
    assert_eq!(search(&mut c, &[(wp::NICKNAME, "Бо*")]).await, ok(&["bob"]));
    assert_eq!(search(&mut c, &[(wp::SEX, "2"), (wp::COUNTRY_ID, "24"), (wp::CITY_ID, "495")]).await, ok(&["alice"]));
    assert_eq!(search(&mut c, &[(wp::DATE1, "25"), (wp::DATE2, "35")]).await, ok(&["alice"]));
    assert_eq!(search(&mut c, &[(wp::ZODIAC, "10")]).await, ok(&["bob"]), "Capricorn wraps the year end");
    assert_eq!(search(&mut c, &[(wp::BIRTHDAY_MONTH, "7"), (wp::BIRTHDAY_DAY, "1")]).await, ok(&["carol"]));
    assert_eq!(search(&mut c, &[(wp::USER, "carol"), (wp::DOMAIN, "bk.ru")]).await, ok(&["carol"]));
    assert_eq!(search(&mut c, &[(wp::USER, "carol"), (wp::DOMAIN, "example.com")]).await.0, wp::ANKETA_NOUSER);
    // Online only: alice is, bob and carol are not.
    assert_eq!(search(&mut c, &[(wp::COUNTRY_ID, "24"), (wp::ONLINE, "1")]).await, ok(&["alice"]));
    // Ten searches a minute; this session has made ten.
    assert_eq!(search(&mut c, &[(wp::CITY_ID, "812")]).await.0, wp::ANKETA_RATELIMERR);
}

#[tokio::test]
async fn a_full_offline_mailbox_refuses_more() {
    let server = TestServer::start_with(|c| c.core.max_offline_messages = 2).await;
    server.add_user("alice", "secret", None).await;
    server.add_user("bob", "pw", None).await;
    let (mut alice, _) = MrimClient::login(mrim_addr(&server), 7, "alice@mail.ru", "secret").await;
    for expected in [message_status::DELIVERED, message_status::DELIVERED, message_status::REJECTED_LIMIT_EXCEEDED] {
        assert_eq!(send_message(&mut alice, 0, "bob@mail.ru", "hi").await, expected);
    }
}

#[tokio::test]
async fn a_client_that_vanishes_mid_packet_goes_offline_for_its_watchers() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut bob, _) = MrimClient::login(addr, 7, "bob@mail.ru", "hunter2").await;
    assert_eq!(add(&mut bob, add_contact(0, "alice@mail.ru", "Alice")).await.0, contact_oper::SUCCESS);
    let (mut alice, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    assert_eq!(user_status(&mut bob).await, (status::ONLINE, "alice@mail.ru".to_owned()));
    // Half a packet, then gone.
    let mut header = Vec::new();
    mrim::header::Header { proto: 0x10007, seq: 9, msg: msg::MESSAGE, dlen: 100 }.encode(&mut header);
    alice.send_raw(&header).await;
    alice.send_raw(&[0; 10]).await;
    drop(alice);
    assert_eq!(user_status(&mut bob).await, (status::OFFLINE, "alice@mail.ru".to_owned()));
    bob.expect_nothing_pending().await;
}

/// Sessions handle what is ready before they write, a batch at a time: messages pipelined in
/// one write, more than a batch of them, are each answered in order, and the recipient gets
/// them all in order.
#[tokio::test]
async fn a_pipeline_longer_than_a_batch_is_answered_and_delivered_in_order() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut bob, _) = MrimClient::login(addr, 16, "bob@mail.ru", "hunter2").await;
    let (mut alice, _) = MrimClient::login(addr, 16, "alice@mail.ru", "secret").await;
    let first_seq = 1000;
    let mut burst = Vec::new();
    for n in 0..150u32 {
        let body = message(0, "bob@mail.ru", &format!("message {n}"), 16);
        let header = mrim::header::Header {
            proto: alice.proto(),
            seq: first_seq + n,
            msg: msg::MESSAGE,
            dlen: body.0.len() as u32,
        };
        header.encode(&mut burst);
        burst.extend_from_slice(&body.0);
    }
    alice.send_raw(&burst).await;
    for n in 0..150u32 {
        let (seq, mut status) = alice.expect(msg::MESSAGE_STATUS).await;
        assert_eq!((seq, status.u32()), (first_seq + n, message_status::DELIVERED));
    }
    let mut got = Vec::new();
    for _ in 0..150u32 {
        let (_, from, text) = bob.receive_message().await;
        assert_eq!(from, "alice@mail.ru");
        got.push(text);
    }
    let expected: Vec<String> = (0..150).map(|n| format!("message {n}")).collect();
    assert_eq!(got, expected);
}

/// In paused time: the waits pass at once.
#[tokio::test(start_paused = true)]
async fn guessed_mrim_logins_wait_between_tries() {
    let server = TestServer::start_with(|c| c.core.throttle.longest_wait = std::time::Duration::from_secs(1)).await;
    server.add_user("alice", "secret", Some("Alice")).await;
    let addr = mrim_addr(&server);
    let attempt = |password: &'static str| async move {
        let mut c = MrimClient::connect(addr, 7).await;
        c.hello_and_login("alice@mail.ru", password, status::ONLINE).await;
        c.next().await.header.msg
    };
    for _ in 0..6 {
        assert_eq!(attempt("wrong").await, msg::LOGIN_REJ);
    }
    // Held back: the right password is refused unchecked until the wait is over.
    assert_eq!(attempt("secret").await, msg::LOGIN_REJ);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(attempt("secret").await, msg::LOGIN_ACK);
}
