//! The MyICQ front over a real UDP socket, on the in-memory store, with tokio's clock paused:
//! resends, give-ups and expiry happen in virtual time.

#[path = "support/client.rs"]
mod support;

use myicq::client::{ModifyUser, Request, SearchCustom};
use myicq::codes::{add_friend, cmd, login, msg, status};
use myicq::info::UserInfo;
use myicq::server::{LoginReply, OnlineContact, ServerPacket};
use myicq::{ClientHeader, HEADER_LEN};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use support::Client;
use switchyard_core::memory::MemoryStore;
use switchyard_core::{AccountName, Core, CoreConfig};
use switchyard_myicq::{MyIcqConfig, MyIcqFront};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

const ALICE: u32 = 10001;
const BOB: u32 = 10002;
const CAROL: u32 = 10003;

struct Server {
    addr: SocketAddr,
    core: Core,
    front: MyIcqFront,
    shutdown: CancellationToken,
}

async fn server_with(adjust: impl FnOnce(&mut MyIcqConfig)) -> Server {
    let core = Core::new(Arc::new(MemoryStore::new()), CoreConfig::default());
    for (name, password) in [("alice", "alicepw"), ("bob", "bobpass"), ("carol", "carolpw")] {
        let name = AccountName::new(name).unwrap();
        core.store().create_account(&name, password, None).await.unwrap();
    }
    let mut config = MyIcqConfig { administrators: vec![AccountName::new("carol").unwrap()], ..MyIcqConfig::default() };
    adjust(&mut config);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let front = MyIcqFront::new(core.clone(), config, socket);
    let shutdown = CancellationToken::new();
    let (serving, token) = (front.clone(), shutdown.clone());
    tokio::spawn(async move { serving.serve(token).await });
    Server { addr, core, front, shutdown }
}

async fn server() -> Server {
    server_with(|_| {}).await
}

impl Server {
    async fn client(&self) -> Client {
        Client::new(self.addr).await
    }

    async fn online(&self, uin: u32, password: &str) -> Client {
        let mut client = self.client().await;
        client.login_online(uin, password).await;
        client
    }

    fn dropped(&self, counter: fn(&switchyard_myicq::Stats) -> &std::sync::atomic::AtomicU64) -> u64 {
        counter(self.front.stats()).load(Ordering::Relaxed)
    }

    async fn offline_count(&self, uin: u32) -> usize {
        let account = self.core.store().account_by_uin(uin).await.unwrap().unwrap();
        self.core.store().offline_count(account.id).await.unwrap()
    }
}

fn text(body: &str) -> Vec<u8> {
    myicq::msgtext::TextMessage { text: body.into(), font: None }.compose()
}

fn message(kind: u8, to: u32, body: &[u8]) -> Request {
    Request::SendMessage { kind, to, text: body.to_vec() }
}

/// `alice` puts `bob` on her list (bob lets anyone), and both see the effects.
async fn befriend(alice: &mut Client, bob: &mut Client) {
    let reply = alice.request(&Request::AddFriend { uin: bob.uin }).await;
    assert_eq!(reply, ServerPacket::AddFriend { uin: bob.uin, result: add_friend::ACCEPTED });
    let added = bob.until(|p| matches!(p, ServerPacket::Message { .. })).await;
    assert!(matches!(added, ServerPacket::Message { kind: msg::ADDED, from, .. } if from == alice.uin), "{added:?}");
}

#[tokio::test(start_paused = true)]
async fn logins_right_and_wrong() {
    let server = server().await;
    let mut client = server.client().await;
    assert_eq!(client.login(ALICE, "wrong", status::ONLINE).await, LoginReply::Refused(login::WRONG_PASSWD));
    let mut stranger = server.client().await;
    assert_eq!(stranger.login(99_999, "x", status::ONLINE).await, LoginReply::Refused(login::INVALID_UIN));
    let mut alice = server.client().await;
    let reply = alice.login(ALICE, "alicepw", status::ONLINE).await;
    assert_eq!(reply, LoginReply::Success { ip: u32::from(std::net::Ipv4Addr::LOCALHOST), online: 1 });
    // The keepalive reply carries the number online and is not resent (clients never ACK it).
    alice.acks = false;
    let seq = alice.send(&Request::KeepAlive { random: 7 }).await;
    let reply = alice.recv().await;
    assert_eq!((reply.header.ackseq, reply.packet), (seq, ServerPacket::KeepAlive { online: 1 }));
    alice.quiet_for(Duration::from_secs(35)).await;
}

#[tokio::test(start_paused = true)]
async fn presence_follows_every_status_and_invisible_looks_offline() {
    let server = server().await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let mut bob = server.online(BOB, "bobpass").await;
    befriend(&mut alice, &mut bob).await;
    let online = alice.until(|p| matches!(p, ServerPacket::UserOnline(_))).await;
    let localhost = u32::from(std::net::Ipv4Addr::LOCALHOST);
    let bob_entry =
        OnlineContact { uin: BOB, status: status::ONLINE, ip: localhost, port: 32765, real_ip: 0xc0a8_0105 };
    assert_eq!(online, ServerPacket::UserOnline(bob_entry), "with bob's addresses for a direct connection");

    bob.acked(&Request::ChangeStatus { status: status::AWAY }).await;
    assert_eq!(alice.packet().await, ServerPacket::StatusChanged { uin: BOB, status: status::AWAY });
    bob.acked(&Request::ChangeStatus { status: status::INVISIBLE }).await;
    assert_eq!(alice.packet().await, ServerPacket::UserOffline { uin: BOB });
    bob.acked(&Request::ChangeStatus { status: status::ONLINE }).await;
    assert_eq!(alice.packet().await, ServerPacket::UserOnline(bob_entry));

    // At alice's next login, bob comes in the login's MULTI_ONLINE.
    let mut again = server.client().await;
    again.login_online(ALICE, "alicepw").await;
    assert_eq!(again.packet().await, ServerPacket::MultiOnline(vec![bob_entry]));
    bob.send(&Request::Logout).await;
    assert_eq!(again.packet().await, ServerPacket::UserOffline { uin: BOB });
    let contacts = again.request(&Request::GetContactList).await;
    assert_eq!(contacts, ServerPacket::ContactList { uins: vec![BOB] });
}

#[tokio::test(start_paused = true)]
async fn messages_live_and_offline_are_kept_until_acknowledged() {
    let server = server().await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let mut bob = server.online(BOB, "bobpass").await;
    let styled = b"hi \xc4\xe3\xba\xc3\xff\xcb\xce\xcc\xe5\xff12\xff255\xff1".to_vec();
    alice.acked(&message(msg::TEXT, BOB, &styled)).await;
    match bob.packet().await {
        ServerPacket::Message { kind, from, text, .. } => assert_eq!((kind, from, text), (msg::TEXT, ALICE, styled)),
        other => panic!("{other:?}"),
    }

    bob.send(&Request::Logout).await;
    alice.acked(&message(msg::TEXT, BOB, &text("while you were out"))).await;
    alice.acked(&message(msg::AUTO_REPLY, BOB, "I am away".as_bytes())).await;
    assert_eq!(server.offline_count(BOB).await, 2);

    // Bob logs in but acknowledges nothing: the messages stay queued.
    let mut forgetful = server.client().await;
    forgetful.acks = false;
    forgetful.login(BOB, "bobpass", status::ONLINE).await;
    forgetful.until(|p| matches!(p, ServerPacket::Message { kind: msg::AUTO_REPLY, .. })).await;
    assert_eq!(server.offline_count(BOB).await, 2);

    let mut bob = server.client().await;
    bob.login_online(BOB, "bobpass").await;
    let first = bob.packet().await;
    assert!(
        matches!(&first, ServerPacket::Message { kind: msg::TEXT, from: ALICE, text, .. }
            if myicq::msgtext::TextMessage::parse(text).text == "while you were out"),
        "{first:?}"
    );
    assert!(matches!(bob.packet().await, ServerPacket::Message { kind: msg::AUTO_REPLY, .. }));
    // A request answered after the ACKs means the server has taken them.
    bob.request(&Request::GetContactList).await;
    assert_eq!(server.offline_count(BOB).await, 0, "deleted once acknowledged");
}
