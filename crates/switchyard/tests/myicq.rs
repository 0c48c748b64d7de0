//! MyICQ clients against a running server on SQLite, in real time: the path a new user takes,
//! and the one directory shared with the other protocols.

mod common;

#[path = "../../switchyard-myicq/tests/support/client.rs"]
mod myicq_client;

use common::mrim::MrimClient;
use common::TestServer;
use myicq::client::{ModifyUser, Request};
use myicq::codes::{add_friend, msg, status};
use myicq::info::UserInfo;
use myicq::msgtext::TextMessage;
use myicq::server::ServerPacket;
use myicq_client::Client;
use std::time::Duration;

const ALICE: u32 = 10001;

async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server
}

fn myicq_addr(server: &TestServer) -> std::net::SocketAddr {
    server.running().address("myicq").unwrap()
}

fn words(packet: &ServerPacket) -> (u8, u32, String) {
    match packet {
        ServerPacket::Message { kind, from, text, .. } => (*kind, *from, TextMessage::parse(text).text),
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn registration_login_authorization_message_and_offline_message() {
    let mut server = server().await;
    let addr = myicq_addr(&server);

    // An account made with `switchyard user add` is reachable by its UIN.
    let mut alice = Client::new(addr).await;
    alice.login_online(ALICE, "secret").await;
    let ask_first =
        ModifyUser { info: UserInfo { nick: "Alice".into(), ..UserInfo::default() }, auth: 1, new_password: None };
    alice.acked(&Request::ModifyUser(Box::new(ask_first))).await;
    // MODIFY_USER is acknowledged before it is done; the next request's answer comes after it.
    alice.request(&Request::UpdateUser).await;

    // A newcomer registers, logs in and introduces themselves.
    let mut newcomer = Client::new(addr).await;
    let uin = newcomer.register("fresh-pw").await;
    assert_eq!(uin, 10002);
    newcomer.send(&Request::Logout).await;
    let mut newcomer = Client::new(addr).await;
    newcomer.login_online(uin, "fresh-pw").await;
    let intro = ModifyUser {
        info: UserInfo { nick: "新人".into(), face: 3, ..UserInfo::default() },
        auth: 0,
        new_password: None,
    };
    newcomer.acked(&Request::ModifyUser(Box::new(intro))).await;

    // Alice asks to be authorized first.
    let reply = newcomer.request(&Request::AddFriend { uin: ALICE }).await;
    assert_eq!(reply, ServerPacket::AddFriend { uin: ALICE, result: add_friend::AUTH_REQUIRED });
    newcomer
        .acked(&Request::SendMessage { kind: msg::AUTH_REQUEST, to: ALICE, text: b"3\xffx\xffhello".to_vec() })
        .await;
    let request = alice.until(|p| matches!(p, ServerPacket::Message { .. })).await;
    // Shown with the newcomer's own face and nick, whatever their client put in.
    let mut expected = b"3\xff".to_vec();
    expected.extend(myicq::wire::to_gbk("新人"));
    expected.extend(b"\xffhello");
    assert!(
        matches!(&request, ServerPacket::Message { kind: msg::AUTH_REQUEST, from, text, .. } if *from == uin && *text == expected),
        "{request:?}"
    );
    alice.acked(&Request::SendMessage { kind: msg::AUTH_ACCEPTED, to: uin, text: vec![] }).await;
    assert_eq!(words(&newcomer.until(|p| matches!(p, ServerPacket::Message { .. })).await).0, msg::AUTH_ACCEPTED);
    let online = newcomer.until(|p| matches!(p, ServerPacket::UserOnline(_))).await;
    assert!(matches!(online, ServerPacket::UserOnline(c) if c.uin == ALICE && c.status == status::ONLINE));

    // A message, then one while the newcomer is away, kept across a restart.
    let hello = TextMessage { text: "欢迎!".into(), font: None }.compose();
    alice.acked(&Request::SendMessage { kind: msg::TEXT, to: uin, text: hello }).await;
    assert_eq!(
        words(&newcomer.until(|p| matches!(p, ServerPacket::Message { .. })).await),
        (msg::TEXT, ALICE, "欢迎!".into())
    );
    // Whether the logout or the message is handled first, the message waits for the next login.
    newcomer.send(&Request::Logout).await;
    let later = TextMessage { text: "see you".into(), font: None }.compose();
    alice.acked(&Request::SendMessage { kind: msg::TEXT, to: uin, text: later }).await;
    server.restart().await;
    let mut newcomer = Client::new(myicq_addr(&server)).await;
    newcomer.login_online(uin, "fresh-pw").await;
    assert_eq!(
        words(&newcomer.until(|p| matches!(p, ServerPacket::Message { .. })).await),
        (msg::TEXT, ALICE, "see you".into())
    );
    assert_eq!(newcomer.request(&Request::GetContactList).await, ServerPacket::ContactList { uins: vec![ALICE] });
    newcomer.quiet_for(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_account_registered_over_myicq_logs_in_over_mrim_with_its_uin_as_name() {
    let server = server().await;
    let mut newcomer = Client::new(myicq_addr(&server)).await;
    let uin = newcomer.register("both-ways").await;
    let email = format!("{uin}@mail.ru");
    let (_mrim, contacts) = MrimClient::login(server.running().address("mrim").unwrap(), 19, &email, "both-ways").await;
    assert!(contacts.is_empty());
    let stats = server.running().myicq_stats().expect("MyICQ is served");
    assert_eq!(stats.total(), 0, "nothing dropped: {:?}", stats.snapshot());
}
