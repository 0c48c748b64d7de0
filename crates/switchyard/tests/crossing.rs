//! One network: MSN users and users of the other protocols talk, the server opening
//! switchboards for the MSN side.

mod common;

#[path = "../../switchyard-myicq/tests/support/client.rs"]
mod myicq_client;

use common::mrim::{Body, MrimClient};
use common::{online, Client, TestServer};
use mrim::codes::{message_flag, message_status, msg};
use myicq::client::Request;
use myicq::codes::msg as icq_msg;
use myicq::msgtext::TextMessage;
use myicq::server::ServerPacket;
use std::net::SocketAddr;
use std::time::Duration;

const ALICE_UIN: u32 = 10001;
const CAROL_UIN: u32 = 10003;

/// Alice (MSN), Bob (MRIM) and Carol (MyICQ), by habit.
async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "hunter2", Some("Bob")).await;
    server.add_user("carol", "pw", Some("Carol")).await;
    server
}

fn plain(text: &str) -> String {
    format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff0000; CS=0; PF=0\r\n\r\n{text}")
}

/// Reads an `RNG`; returns (session, cookie, caller, friendly).
async fn ring(ns: &mut Client, msn: SocketAddr) -> (String, String, String, String) {
    let line = ns.line().await;
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!((parts.len(), parts[0], parts[2], parts[3]), (7, "RNG", msn.to_string().as_str(), "CKI"), "{line}");
    (parts[1].into(), parts[4].into(), parts[5].into(), parts[6].into())
}

/// Answers a ring as `handle`: the switchboard connection, after `IRO … ANS OK`.
async fn answer(msn: SocketAddr, handle: &str, session: &str, cookie: &str, members: &[&str]) -> Client {
    let mut sb = Client::connect(msn).await;
    sb.send(&format!("ANS 1 {handle} {cookie} {session}")).await;
    for (i, member) in members.iter().enumerate() {
        sb.expect(&format!("IRO 1 {} {} {member}", i + 1, members.len())).await;
    }
    sb.expect("ANS 1 OK").await;
    sb
}

/// A `MSG` from `handle` on a switchboard; returns its body.
async fn message_from(sb: &mut Client, handle: &str) -> String {
    sb.expect_payload(&format!("MSG {handle} ")).await
}

fn mrim_message(to: &str, text: &str, flags: u32) -> Body {
    Body::default().u32(flags | message_flag::UNICODE).lps(to.as_bytes()).text(text, 16).lps(b"")
}

#[tokio::test]
async fn an_mrim_user_and_an_msn_user_chat_in_a_switchboard_the_server_opens() {
    let server = server().await;
    let msn = server.msn();
    let mut alice_ns = online(msn, "alice@hotmail.com", "secret", "Alice").await;
    let (mut bob, _) = MrimClient::login(server.running().address("mrim").unwrap(), 16, "bob@mail.ru", "hunter2").await;

    bob.send(msg::MESSAGE, mrim_message("alice@mail.ru", "Привет, Alice", 0)).await;
    assert_eq!(bob.expect(msg::MESSAGE_STATUS).await.1.u32(), message_status::DELIVERED);
    let (session, cookie, caller, friendly) = ring(&mut alice_ns, msn).await;
    assert_eq!((caller.as_str(), friendly.as_str()), ("bob@hotmail.com", "Bob"));
    let mut alice = answer(msn, "alice@hotmail.com", &session, &cookie, &["bob@hotmail.com Bob"]).await;
    let body = message_from(&mut alice, "bob@hotmail.com Bob").await;
    assert!(body.contains("Content-Type: text/plain") && body.ends_with("\r\n\r\nПривет, Alice"), "{body}");

    // The reply reaches Bob, with its colour; ACK only once it did.
    alice.send_msg(2, "A", &plain("Hi Bob")).await;
    alice.expect("ACK 2").await;
    let (_, from, text) = bob.receive_message().await;
    assert_eq!((from.as_str(), text.as_str()), ("alice@mail.ru", "Hi Bob"));
    let typing = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@hotmail.com\r\n\r\n\r\n";
    alice.send_msg(3, "U", typing).await;
    assert_eq!(bob.receive_message().await.0 & message_flag::NOTIFY, message_flag::NOTIFY);

    // Bob's typing notice shows in the switchboard Alice is in.
    bob.send(msg::MESSAGE, mrim_message("alice@mail.ru", " ", message_flag::NOTIFY)).await;
    bob.expect(msg::MESSAGE_STATUS).await;
    let typing = message_from(&mut alice, "bob@hotmail.com Bob").await;
    assert!(
        typing.contains("Content-Type: text/x-msmsgscontrol") && typing.contains("TypingUser: bob@hotmail.com"),
        "{typing}"
    );

    // Bob's next message finds the same switchboard: no second ring.
    bob.send(msg::MESSAGE, mrim_message("alice@mail.ru", "how are you?", 0)).await;
    bob.expect(msg::MESSAGE_STATUS).await;
    assert!(message_from(&mut alice, "bob@hotmail.com Bob").await.ends_with("how are you?"));
    alice_ns.expect_nothing_pending(9).await;
}

#[tokio::test]
async fn an_msn_user_calls_a_myicq_user_into_a_switchboard() {
    let server = server().await;
    let msn = server.msn();
    let mut alice_ns = online(msn, "alice@hotmail.com", "secret", "Alice").await;
    let mut carol = myicq_client::Client::new(server.running().address("myicq").unwrap()).await;
    carol.login_online(CAROL_UIN, "pw").await;
    // The login's status is set once the session has taken its next request.
    carol.request(&Request::GetContactList).await;

    alice_ns.send("XFR 6 SB").await;
    let line = alice_ns.line().await;
    let cookie = line.rsplit(' ').next().unwrap().to_owned();
    let mut alice = Client::connect(msn).await;
    alice.exchange(&[(&format!("USR 1 alice@hotmail.com {cookie}"), "USR 1 OK alice@hotmail.com Alice")]).await;
    alice.send("CAL 2 carol@hotmail.com").await;
    assert!(alice.line().await.starts_with("CAL 2 RINGING "));
    alice.expect("JOI carol@hotmail.com Carol").await;

    alice.send_msg(3, "A", &plain("你好, Carol")).await;
    alice.expect("ACK 3").await;
    let received = carol.until(|p| matches!(p, ServerPacket::Message { .. })).await;
    let ServerPacket::Message { from, text, .. } = received else { unreachable!() };
    assert_eq!((from, TextMessage::parse(&text).text), (ALICE_UIN, "你好, Carol".to_owned()));

    let reply = TextMessage { text: "hello from MyICQ".into(), font: None }.compose();
    carol.acked(&Request::SendMessage { kind: icq_msg::TEXT, to: ALICE_UIN, text: reply }).await;
    assert!(message_from(&mut alice, "carol@hotmail.com Carol").await.ends_with("hello from MyICQ"));

    // A P2P data message means nothing to MyICQ: not delivered, so NAK.
    let p2p = "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: carol@hotmail.com\r\n\r\nxyz";
    alice.send_msg(4, "D", p2p).await;
    alice.expect("NAK 4").await;
}

#[tokio::test]
async fn messages_that_waited_reach_an_msn_user_after_login_marked_with_their_time() {
    let server = server().await;
    let msn = server.msn();
    let (mut bob, _) = MrimClient::login(server.running().address("mrim").unwrap(), 16, "bob@mail.ru", "hunter2").await;
    for text in ["first", "second"] {
        bob.send(msg::MESSAGE, mrim_message("alice@mail.ru", text, 0)).await;
        assert_eq!(bob.expect(msg::MESSAGE_STATUS).await.1.u32(), message_status::DELIVERED);
    }
    let store = server.running().store();
    let alice = store.account_by_name(&switchyard_core::AccountName::new("alice").unwrap()).await.unwrap().unwrap();
    assert_eq!(store.offline_count(alice.id).await.unwrap(), 2);

    let mut alice_ns = Client::login(msn, "alice@hotmail.com", "secret", "Alice").await;
    alice_ns.exchange(&[("CHG 5 NLN", "CHG 5 NLN")]).await;
    let (session, cookie, caller, _) = ring(&mut alice_ns, msn).await;
    assert_eq!(caller, "bob@hotmail.com");
    let mut sb = answer(msn, "alice@hotmail.com", &session, &cookie, &["bob@hotmail.com Bob"]).await;
    for text in ["first", "second"] {
        let body = message_from(&mut sb, "bob@hotmail.com Bob").await;
        let shown = body.split("\r\n\r\n").nth(1).unwrap();
        assert!(shown.starts_with("(sent ") && shown.contains(" GMT) ") && shown.ends_with(text), "{shown}");
    }
    // Written to the client, they are gone from the queue.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.offline_count(alice.id).await.unwrap() != 0 {
        assert!(tokio::time::Instant::now() < deadline, "delivered messages still queued");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    alice_ns.expect_nothing_pending(6).await;
}
