//! The MyICQ front over a real UDP socket, on the in-memory store, with tokio's clock paused:
//! resends, give-ups and expiry happen in virtual time.

#[path = "support/client.rs"]
mod support;

use myicq::client::{ModifyUser, Request, SearchCustom};
use myicq::codes::{add_friend, cmd, login, msg, status};
use myicq::info::UserInfo;
use myicq::server::{LoginReply, OnlineContact, ServerPacket};
use myicq::ClientHeader;
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
    /// Cancelled when the test ends: the front stops with it.
    _shutdown: tokio_util::sync::DropGuard,
}

async fn server_with(adjust: impl FnOnce(&mut MyIcqConfig)) -> Server {
    server_with_core(CoreConfig::default(), adjust).await
}

async fn server_with_core(core_config: CoreConfig, adjust: impl FnOnce(&mut MyIcqConfig)) -> Server {
    let core = Core::new(Arc::new(MemoryStore::new()), core_config);
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
    Server { addr, core, front, _shutdown: shutdown.drop_guard() }
}

async fn server() -> Server {
    server_with(|_| {}).await
}

impl Server {
    async fn client(&self) -> Client {
        Client::new(self.addr).await
    }

    /// A client sending from 127.0.0.`last`: another source address on this machine.
    async fn client_from(&self, last: u8) -> Client {
        let mut client = Client::new(self.addr).await;
        client.socket = UdpSocket::bind((std::net::Ipv4Addr::new(127, 0, 0, last), 0)).await.unwrap();
        client
    }

    async fn online(&self, uin: u32, password: &str) -> Client {
        let mut client = self.client().await;
        client.login_online(uin, password).await;
        client
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

/// Alice and bob online, bob on alice's list, and alice shown bob online.
async fn friends_online(server: &Server) -> (Client, Client) {
    let mut alice = server.online(ALICE, "alicepw").await;
    let mut bob = server.online(BOB, "bobpass").await;
    befriend(&mut alice, &mut bob).await;
    alice.until(|p| matches!(p, ServerPacket::UserOnline(_))).await;
    (alice, bob)
}

#[tokio::test(start_paused = true)]
async fn logins_right_and_wrong() {
    let server = server().await;
    let mut client = server.client().await;
    assert_eq!(client.login(ALICE, "wrong", status::ONLINE).await, LoginReply::Refused(login::WRONG_PASSWD));
    let mut stranger = server.client().await;
    // An unknown UIN gets the same answer as a wrong password: logins do not tell which exist.
    assert_eq!(stranger.login(99_999, "x", status::ONLINE).await, LoginReply::Refused(login::WRONG_PASSWD));
    let mut alice = server.client().await;
    let reply = alice.login(ALICE, "alicepw", status::ONLINE).await;
    assert_eq!(reply, LoginReply::Success { ip: u32::from(std::net::Ipv4Addr::LOCALHOST), online: 1 });
    // The keepalive reply carries the number online and is not resent (clients never ACK it).
    alice.acks = false;
    let seq = alice.send(&Request::KeepAlive { random: 7 }).await;
    let reply = alice.recv().await;
    assert_eq!((reply.header.ackseq, reply.packet), (seq, ServerPacket::KeepAlive { online: 1 }));
    alice.quiet_for(Duration::from_secs(35)).await;
    alice.send(&Request::Logout).await;
    assert!(alice.recv_within(Duration::from_secs(5)).await.is_none(), "LOGOUT gets neither an ACK nor a reply");
    assert_eq!(server.core.online_count(), 0);
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
    let shown = bob.recv().await;
    match shown.packet {
        ServerPacket::Message { kind, from, text, time } => {
            assert_eq!((kind, from, &text), (msg::TEXT, ALICE, &styled));
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
            assert!(now.abs_diff(u64::from(time)) < 5, "sent at {time}, now {now}");
        }
        other => panic!("{other:?}"),
    }
    assert!(shown.bytes.ends_with(b"\x00\x01\x00"), "the 1.0 domain string, empty: this server");

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

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_packet_is_resent_twice_then_the_client_is_logged_out() {
    let server = server().await;
    let (mut alice, mut bob) = friends_online(&server).await;
    bob.acks = false;
    alice.acked(&message(msg::TEXT, BOB, &text("are you there?"))).await;
    let first = bob.recv().await;
    let sent_at = tokio::time::Instant::now();
    let again = bob.recv().await;
    assert_eq!(again.bytes, first.bytes, "resent as it was");
    let waited = sent_at.elapsed();
    assert!((Duration::from_secs(9)..Duration::from_secs(12)).contains(&waited), "{waited:?}");
    assert_eq!(bob.recv().await.bytes, first.bytes, "and once more");
    // Alice keeps her own session alive while bob's ends.
    alice.send(&Request::KeepAlive { random: 1 }).await;
    assert_eq!(
        alice.until(|p| !matches!(p, ServerPacket::KeepAlive { .. })).await,
        ServerPacket::UserOffline { uin: BOB }
    );
    bob.quiet_for(Duration::from_secs(30)).await;
    assert_eq!(server.offline_count(BOB).await, 1, "the unacknowledged message waits for the next login");
}

#[tokio::test(start_paused = true)]
async fn without_keepalives_a_session_expires_after_180_seconds() {
    let server = server().await;
    let (mut alice, _bob) = friends_online(&server).await;
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        alice.send(&Request::KeepAlive { random: 2 }).await;
        let reply = alice.packet().await;
        if reply == (ServerPacket::UserOffline { uin: BOB }) {
            let lasted = start.elapsed();
            assert!(lasted >= Duration::from_secs(170), "bob expired after {lasted:?}");
            return;
        }
    }
    let offline = alice.until(|p| !matches!(p, ServerPacket::KeepAlive { .. })).await;
    assert_eq!(offline, ServerPacket::UserOffline { uin: BOB });
    assert!(start.elapsed() <= Duration::from_secs(185));
}

#[tokio::test(start_paused = true)]
async fn duplicates_are_acknowledged_again_and_not_processed_twice_and_order_does_not_matter() {
    let server = server().await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let mut bob = server.online(BOB, "bobpass").await;
    let (seq, datagram) = alice.datagram(&message(msg::TEXT, BOB, &text("once")));
    for _ in 0..2 {
        alice.send_raw(&datagram).await;
        let ack = alice.recv_any().await;
        assert_eq!((ack.header.cmd, ack.header.seq, ack.header.ackseq), (cmd::ACK, 0, seq));
    }
    assert!(matches!(bob.packet().await, ServerPacket::Message { .. }));
    bob.quiet_for(Duration::from_secs(5)).await;

    // Two messages arriving in the opposite order are both delivered.
    let (_, first) = alice.datagram(&message(msg::TEXT, BOB, &text("one")));
    let (_, second) = alice.datagram(&message(msg::TEXT, BOB, &text("two")));
    alice.send_raw(&second).await;
    alice.send_raw(&first).await;
    let mut got = Vec::new();
    for _ in 0..2 {
        if let ServerPacket::Message { text, .. } = bob.packet().await {
            got.push(myicq::msgtext::TextMessage::parse(&text).text);
        }
    }
    assert_eq!(got, ["two", "one"]);
}

#[tokio::test(start_paused = true)]
async fn spoofed_broken_and_undecryptable_datagrams_are_dropped_without_an_answer() {
    let server = server().await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let mut bob = server.online(BOB, "bobpass").await;
    let dropped = |server: &Server| {
        let stats = server.front.stats();
        [&stats.spoofed, &stats.undecryptable, &stats.too_short, &stats.too_long, &stats.bad_version, &stats.no_session]
            .map(|c| c.load(Ordering::Relaxed))
    };

    // From bob's address with alice's uin; from a stranger's address with bob's uin and a
    // wrong session id; bob's packet sealed with another key.
    let forged = |uin, sid, seq| {
        let mut datagram = Vec::new();
        ClientHeader { ver: 1, uin, sid, cmd: cmd::GET_CONTACTLIST, seq, cc: 0 }.encode(&mut datagram);
        datagram
    };
    bob.send_raw(&forged(ALICE, bob.sid, bob.seq.wrapping_add(1))).await;
    let stranger = server.client().await;
    stranger.send_raw(&forged(BOB, 12345, 1)).await;
    bob.set_password("not bobs");
    bob.send(&message(msg::TEXT, ALICE, &text("x"))).await;
    bob.set_password("bobpass");
    // Too short, too long, another version, and a body that is not whole blocks.
    stranger.send_raw(&[0; 10]).await;
    stranger.send_raw(&vec![0; 1500]).await;
    let mut v2 = forged(BOB, bob.sid, 1);
    v2[1] = 2;
    stranger.send_raw(&v2).await;
    let mut ragged = forged(BOB, bob.sid, bob.seq.wrapping_add(5));
    ragged[15] = cmd::SEND_MSG as u8;
    ragged.extend_from_slice(&[1, 2, 3]);
    bob.send_raw(&ragged).await;
    // Anything but LOGIN or NEW_UIN from an unknown address with an unknown uin.
    stranger.send_raw(&forged(55_555, 1, 1)).await;

    bob.quiet_for(Duration::from_secs(3)).await;
    alice.quiet_for(Duration::from_secs(1)).await;
    let mut buf = [0u8; 64];
    let answer = tokio::time::timeout(Duration::from_secs(1), stranger.socket.recv_from(&mut buf)).await;
    assert!(answer.is_err(), "no answer to the stranger");
    assert_eq!(dropped(&server), [2, 2, 1, 1, 1, 1]);
    // Bob's session is unharmed.
    assert_eq!(bob.request(&Request::GetContactList).await, ServerPacket::ContactList { uins: vec![] });
}

#[tokio::test(start_paused = true)]
async fn registration_gives_a_uin_and_a_login_name_and_is_limited() {
    let server = server_with(|c| c.registrations_per_hour = 2).await;
    let mut newcomer = server.client().await;
    let uin = newcomer.register("secret").await;
    assert_eq!(uin, 10004);
    let account = server.core.store().account_by_uin(uin).await.unwrap().unwrap();
    assert_eq!(account.name.as_str(), "10004", "a login name for the other protocols");
    // As gaim does: LOGOUT, then at once LOGIN in the same session.
    newcomer.send(&Request::Logout).await;
    newcomer.login_online(uin, "secret").await;

    let mut second = server.client().await;
    assert_eq!(second.register("another").await, 10005);
    let mut third = server.client().await;
    assert_eq!(third.register("more one").await, 0, "two an hour from one address");
    tokio::time::sleep(Duration::from_secs(3601)).await;
    let mut later = server.client().await;
    assert_eq!(later.register("an hour later").await, 10006);

    let mut last = server.client().await;
    assert_eq!(last.register("the second this hour").await, 10007);
    // A refusal longer than its request is not sent (no amplification).
    let mut tiny = server.client().await;
    tiny.send(&Request::NewUin { password: b"ab".to_vec() }).await;
    tiny.quiet_for(Duration::from_secs(2)).await;

    let closed = server_with(|c| c.registration = false).await;
    let mut refused = closed.client().await;
    assert_eq!(refused.register("secret").await, 0);
}

#[tokio::test(start_paused = true)]
async fn adding_a_friend_who_asks_first_runs_the_authorization_messages() {
    let server = server().await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let mut carol = server.online(CAROL, "carolpw").await;
    let mut info = UserInfo { nick: "Carol".into(), face: 4, ..UserInfo::default() };
    carol.acked(&Request::ModifyUser(Box::new(ModifyUser { info: info.clone(), auth: 1, new_password: None }))).await;
    info.nick = "Alice".into();
    info.face = 7;
    alice.acked(&Request::ModifyUser(Box::new(ModifyUser { info, auth: 0, new_password: None }))).await;

    let reply = alice.request(&Request::AddFriend { uin: CAROL }).await;
    assert_eq!(reply, ServerPacket::AddFriend { uin: CAROL, result: add_friend::AUTH_REQUIRED });
    assert_eq!(alice.request(&Request::GetContactList).await, ServerPacket::ContactList { uins: vec![] });
    alice.acked(&message(msg::AUTH_REQUEST, CAROL, b"7\xffAlice\xffplease add me")).await;
    let request = carol.until(|p| matches!(p, ServerPacket::Message { .. })).await;
    assert!(
        matches!(&request, ServerPacket::Message { kind: msg::AUTH_REQUEST, from: ALICE, text, .. }
            if text == b"7\xffAlice\xffplease add me"),
        "{request:?}"
    );
    carol.acked(&message(msg::AUTH_ACCEPTED, ALICE, b"")).await;
    let granted = alice.until(|p| matches!(p, ServerPacket::Message { .. })).await;
    assert!(matches!(granted, ServerPacket::Message { kind: msg::AUTH_ACCEPTED, from: CAROL, .. }), "{granted:?}");
    let online = alice.until(|p| matches!(p, ServerPacket::UserOnline(_))).await;
    assert!(matches!(online, ServerPacket::UserOnline(c) if c.uin == CAROL));
    assert_eq!(alice.request(&Request::GetContactList).await, ServerPacket::ContactList { uins: vec![CAROL] });

    // Someone who lets nobody add them; and a refusal with a reason.
    let mut bob = server.online(BOB, "bobpass").await;
    bob.acked(&Request::ModifyUser(Box::new(ModifyUser { info: UserInfo::default(), auth: 2, new_password: None })))
        .await;
    let reply = alice.request(&Request::AddFriend { uin: BOB }).await;
    assert_eq!(reply, ServerPacket::AddFriend { uin: BOB, result: add_friend::REJECTED });
    carol.acked(&message(msg::AUTH_REJECTED, BOB, b"no thanks")).await;
    let refusal = bob.until(|p| matches!(p, ServerPacket::Message { .. })).await;
    assert_eq!(
        refusal,
        ServerPacket::Message {
            kind: msg::AUTH_REJECTED,
            from: CAROL,
            time: match &refusal {
                ServerPacket::Message { time, .. } => *time,
                _ => 0,
            },
            text: b"no thanks".to_vec()
        }
    );
    // Deleting a friend takes them off the list; they are not told.
    alice.acked(&Request::DelFriend { uin: CAROL }).await;
    assert_eq!(alice.request(&Request::GetContactList).await, ServerPacket::ContactList { uins: vec![] });
    carol.quiet_for(Duration::from_secs(2)).await;
}

fn full_info() -> UserInfo {
    UserInfo {
        face: 12,
        nick: "小明".into(),
        age: 30,
        gender: 1,
        country: "中国".into(),
        province: "广东".into(),
        city: "深圳".into(),
        email: "ming@example.cn".into(),
        address: "深南大道 1 号".into(),
        zipcode: "518000".into(),
        tel: "0755-1234567".into(),
        name: "王 小明".into(),
        blood: 2,
        college: "深圳大学".into(),
        occupation: "工程师".into(),
        homepage: "http://ming.example.cn/".into(),
        intro: "你好".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn the_whole_profile_is_stored_shown_and_the_password_changes_at_the_next_login() {
    let server = server().await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let modify = ModifyUser { info: full_info(), auth: 1, new_password: Some(b"newpass".to_vec()) };
    alice.acked(&Request::ModifyUser(Box::new(modify))).await;
    assert_eq!(alice.request(&Request::UpdateUser).await, ServerPacket::UpdateUser { info: full_info(), auth: 1 });
    // The running session keeps its key: this request is sealed with the old password.
    let mut bob = server.online(BOB, "bobpass").await;
    assert_eq!(
        bob.request(&Request::UpdateContact { uin: ALICE }).await,
        ServerPacket::UpdateContact { uin: ALICE, info: full_info() }
    );
    // No answer about a UIN that does not exist.
    bob.send(&Request::UpdateContact { uin: 77_777 }).await;
    bob.quiet_for(Duration::from_secs(3)).await;

    alice.send(&Request::Logout).await;
    let mut old = server.client().await;
    assert_eq!(old.login(ALICE, "alicepw", status::ONLINE).await, LoginReply::Refused(login::WRONG_PASSWD));
    let mut renewed = server.client().await;
    renewed.login_online(ALICE, "newpass").await;
    let account = server.core.store().account_by_uin(ALICE).await.unwrap().unwrap();
    assert_eq!(account.nickname.as_deref(), Some("小明"), "the nick is the account's nickname everywhere");
}

#[tokio::test(start_paused = true)]
async fn searches_by_uin_by_nick_or_email_with_paging_and_at_random() {
    let server = server().await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let mut bob = server.online(BOB, "bobpass").await;
    let mut carol = server.online(CAROL, "carolpw").await;
    for (client, face) in [(&mut bob, 1), (&mut carol, 2)] {
        let info = UserInfo {
            nick: "twin".into(),
            email: "twin@example.org".into(),
            face,
            province: "北京".into(),
            ..UserInfo::default()
        };
        client.acked(&Request::ModifyUser(Box::new(ModifyUser { info, auth: 0, new_password: None }))).await;
    }
    carol.acked(&Request::ChangeStatus { status: status::INVISIBLE }).await;

    let results = |packet: ServerPacket| match packet {
        ServerPacket::Search(results) => {
            results.iter().map(|r| (r.uin, r.online, r.face, r.nick.clone())).collect::<Vec<_>>()
        }
        other => panic!("{other:?}"),
    };
    let by_uin = alice.request(&Request::SearchCustom(SearchCustom::Uin(BOB))).await;
    assert_eq!(results(by_uin), [(BOB, true, 1, "twin".to_owned())]);
    let by_nick = SearchCustom::Fields { nick: "twin".into(), email: String::new(), start_uin: 0 };
    let found = results(alice.request(&Request::SearchCustom(by_nick)).await);
    assert_eq!(found, [(BOB, true, 1, "twin".into()), (CAROL, false, 2, "twin".into())], "invisible looks offline");
    let next_page = SearchCustom::Fields { nick: String::new(), email: "twin@example.org".into(), start_uin: BOB };
    assert_eq!(results(alice.request(&Request::SearchCustom(next_page)).await), [(CAROL, false, 2, "twin".into())]);
    let random = results(alice.request(&Request::SearchRandom).await);
    assert_eq!(random, [(BOB, true, 1, "twin".into())], "online and visible, not the one asking");
    match bob.request(&Request::SearchRandom).await {
        ServerPacket::Search(r) => assert_eq!((r.len(), r[0].uin, r[0].province.as_str()), (1, ALICE, "")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_administrators_broadcast_reaches_everyone_once() {
    let server = server().await;
    let mut carol = server.online(CAROL, "carolpw").await;
    let mut alice = server.online(ALICE, "alicepw").await;
    alice.acked(&Request::Broadcast { kind: msg::TEXT, text: text("not from an administrator") }).await;
    carol.acked(&Request::Broadcast { kind: msg::TEXT, text: text("maintenance at noon") }).await;
    let shown = |packet: ServerPacket| match packet {
        ServerPacket::Message { kind, from, text, .. } => (kind, from, myicq::msgtext::TextMessage::parse(&text).text),
        other => panic!("{other:?}"),
    };
    assert_eq!(shown(alice.packet().await), (msg::TEXT, CAROL, "maintenance at noon".into()));
    alice.quiet_for(Duration::from_secs(2)).await;
    carol.quiet_for(Duration::from_secs(1)).await;

    // Bob was offline: he gets it at login, and only once.
    let mut bob = server.online(BOB, "bobpass").await;
    assert_eq!(shown(bob.packet().await), (msg::TEXT, CAROL, "maintenance at noon".into()));
    bob.request(&Request::GetContactList).await;
    bob.send(&Request::Logout).await;
    let mut bob = server.online(BOB, "bobpass").await;
    bob.quiet_for(Duration::from_secs(3)).await;
}

#[tokio::test(start_paused = true)]
async fn direct_connection_offers_are_relayed_with_the_clients_ports() {
    let server = server().await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let mut bob = server.online(BOB, "bobpass").await;
    let offer = b"sendfile\xffhere it is\xff33765".to_vec();
    alice.acked(&message(msg::TCP_REQUEST, BOB, &offer)).await;
    assert!(
        matches!(bob.packet().await, ServerPacket::Message { kind: msg::TCP_REQUEST, from: ALICE, text, .. } if text == offer)
    );
    let accepted = b"sendfile\xff33766".to_vec();
    bob.acked(&message(msg::TCP_ACCEPTED, ALICE, &accepted)).await;
    assert!(
        matches!(alice.packet().await, ServerPacket::Message { kind: msg::TCP_ACCEPTED, text, .. } if text == accepted)
    );
    alice.acked(&message(msg::TCP_REJECTED, BOB, b"")).await;
    assert!(matches!(bob.packet().await, ServerPacket::Message { kind: msg::TCP_REJECTED, from: ALICE, .. }));
    // An offer to someone offline is stale by their next login: not kept.
    bob.send(&Request::Logout).await;
    alice.acked(&message(msg::TCP_REQUEST, BOB, &offer)).await;
    assert_eq!(server.offline_count(BOB).await, 0);
}

#[tokio::test(start_paused = true)]
async fn the_1_0_extras_answer_that_there_is_nothing_to_federate_or_join() {
    let server = server_with(|c| c.domain = "myicq.example.net".into()).await;
    let mut alice = server.online(ALICE, "alicepw").await;
    // The server's domain, which gaim-myicq names its account after: never empty.
    assert_eq!(
        alice.request(&Request::GetRemoteContactList).await,
        ServerPacket::RemoteContactList { domain: "myicq.example.net".into() }
    );
    assert_eq!(alice.request(&Request::GetServerList).await, ServerPacket::ServerList);
    assert_eq!(alice.request(&Request::GetGroupList { group_type: 0 }).await, ServerPacket::GroupList);
    assert_eq!(
        alice.request(&Request::CreateGroup { group_type: 0, name: "room".into() }).await,
        ServerPacket::CreateGroup { id: 0 }
    );
    assert_eq!(alice.request(&Request::EnterGroup { id: 5 }).await, ServerPacket::EnterGroup { id: 5, error: 1 });
    alice.acked(&Request::GroupTraffic { cmd: cmd::GROUP_MESSAGE }).await;
}

#[tokio::test(start_paused = true)]
async fn a_session_follows_its_client_to_a_new_address_and_a_new_login_replaces_it() {
    let server = server().await;
    let (mut alice, mut bob) = friends_online(&server).await;
    // Bob's NAT mapping changes: same uin and session id from another port. A request without
    // a body proves nothing (anyone can forge one) and is dropped; the first that decrypts with
    // Bob's key, here his keepalive, moves the session.
    bob.socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    bob.send(&Request::GetContactList).await;
    bob.quiet_for(Duration::from_secs(1)).await;
    bob.acks = false;
    let seq = bob.send(&Request::KeepAlive { random: 9 }).await;
    let reply = bob.recv().await;
    assert_eq!((reply.header.ackseq, reply.packet), (seq, ServerPacket::KeepAlive { online: 2 }));
    bob.acks = true;
    assert_eq!(bob.request(&Request::GetContactList).await, ServerPacket::ContactList { uins: vec![] });
    alice.acked(&message(msg::TEXT, BOB, &text("still there?"))).await;
    assert!(matches!(bob.packet().await, ServerPacket::Message { .. }), "replies go to the new address");

    // Bob logs in again from elsewhere: the old session ends without an offline notice to his
    // watchers; the old client alone hears, once, that its own UIN went offline (the only
    // "logged in elsewhere" MyICQ can say).
    let mut bob_again = server.online(BOB, "bobpass").await;
    alice.acked(&message(msg::TEXT, BOB, &text("which one?"))).await;
    assert!(matches!(bob_again.packet().await, ServerPacket::Message { .. }));
    assert_eq!(bob.packet().await, ServerPacket::UserOffline { uin: BOB });
    bob.quiet_for(Duration::from_secs(3)).await;
    bob.send(&Request::GetContactList).await;
    bob.quiet_for(Duration::from_secs(3)).await;
}

#[tokio::test(start_paused = true)]
async fn gender_is_numbered_as_gaim_myicq_reads_it() {
    // gaim-myicq: 0 not given, 1 male, 2 female (an account without one showed as "Female").
    let server = server().await;
    let mut bob = server.online(BOB, "bobpass").await;
    let gender_of_alice = |reply: ServerPacket| match reply {
        ServerPacket::UpdateContact { info, .. } => info.gender,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(gender_of_alice(bob.request(&Request::UpdateContact { uin: ALICE }).await), 0);
    let store = server.core.store();
    let alice = store.account_by_uin(ALICE).await.unwrap().unwrap();
    for (sex, byte) in [(switchyard_core::Sex::Male, 1), (switchyard_core::Sex::Female, 2)] {
        let profile = switchyard_core::Profile { sex, ..store.profile(alice.id).await.unwrap() };
        store.set_profile(alice.id, &profile).await.unwrap();
        assert_eq!(gender_of_alice(bob.request(&Request::UpdateContact { uin: ALICE }).await), byte);
    }
    // And what the client writes is read the same way.
    let mut alice_client = server.online(ALICE, "alicepw").await;
    for (byte, sex) in
        [(2, switchyard_core::Sex::Female), (1, switchyard_core::Sex::Male), (0, switchyard_core::Sex::Unknown)]
    {
        let info = UserInfo { gender: byte, ..full_info() };
        alice_client.acked(&Request::ModifyUser(Box::new(ModifyUser { info, auth: 0, new_password: None }))).await;
        assert_eq!(store.profile(alice.id).await.unwrap().sex, sex);
    }
}

#[tokio::test(start_paused = true)]
async fn contacts_online_at_login_follow_the_contact_list_so_gaim_asks_their_nicknames() {
    // gaim-myicq asks UPDATE_CONTACT (the nickname) only for buddies its GET_CONTACTLIST reply
    // brings; a MULTI_ONLINE read before it would have made them nameless.
    let server = server().await;
    let (alice, mut bob) = friends_online(&server).await;
    drop(alice);
    let bob_entry = |status| OnlineContact {
        uin: BOB,
        status,
        ip: u32::from(std::net::Ipv4Addr::LOCALHOST),
        port: 32765,
        real_ip: 0xc0a8_0105,
    };

    let mut first = server.client().await;
    first.login_online(ALICE, "alicepw").await;
    first.quiet_for(Duration::from_millis(1500)).await;
    // Changes meanwhile are in the roster when it comes, not sent before it.
    bob.acked(&Request::ChangeStatus { status: status::AWAY }).await;
    first.quiet_for(Duration::from_millis(100)).await;
    assert_eq!(
        first.request(&Request::GetRemoteContactList).await,
        ServerPacket::RemoteContactList { domain: "localhost".into() }
    );
    assert_eq!(first.request(&Request::GetContactList).await, ServerPacket::ContactList { uins: vec![BOB] });
    assert_eq!(first.packet().await, ServerPacket::MultiOnline(vec![bob_entry(status::AWAY)]));
    bob.acked(&Request::ChangeStatus { status: status::ONLINE }).await;
    assert_eq!(first.packet().await, ServerPacket::StatusChanged { uin: BOB, status: status::ONLINE });

    // A client that does not ask (gaim-myicq with a cached list) gets the roster after 2 s.
    let mut cached = server.client().await;
    cached.login_online(ALICE, "alicepw").await;
    let started = tokio::time::Instant::now();
    assert_eq!(cached.packet().await, ServerPacket::MultiOnline(vec![bob_entry(status::ONLINE)]));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_message_is_acknowledged_only_once_it_is_delivered_or_stored() {
    let server = server_with_core(CoreConfig { max_offline_messages: 1, ..CoreConfig::default() }, |_| {}).await;
    let mut alice = server.online(ALICE, "alicepw").await;
    let styled = |t: &str| message(msg::TEXT, BOB, &text(t));
    let says = |p: &ServerPacket, t: &str| matches!(p, ServerPacket::Message { text, .. } if myicq::msgtext::TextMessage::parse(text).text == t);
    alice.acked(&styled("first")).await;
    assert_eq!(server.offline_count(BOB).await, 1);

    // Bob's mailbox is full: the second is neither delivered nor stored, so it is not
    // acknowledged, and its resend (same seq) is tried again rather than taken for a duplicate.
    let (seq, second) = alice.datagram(&styled("second"));
    alice.send_raw(&second).await;
    alice.quiet_for(Duration::from_secs(3)).await;
    alice.send_raw(&second).await;
    alice.quiet_for(Duration::from_secs(3)).await;
    assert_eq!(server.offline_count(BOB).await, 1);

    // Once Bob has read his mail, the client's next resend is delivered and acknowledged.
    let mut bob = server.online(BOB, "bobpass").await;
    bob.until(|p| says(p, "first")).await;
    bob.quiet_for(Duration::from_secs(1)).await;
    assert_eq!(server.offline_count(BOB).await, 0);
    alice.send_raw(&second).await;
    loop {
        let r = alice.recv_any().await;
        if r.header.cmd == cmd::ACK && r.header.seq == 0 && r.header.ackseq == seq {
            break;
        }
    }
    bob.until(|p| says(p, "second")).await;
}

#[tokio::test(start_paused = true)]
async fn a_stranger_with_a_sessions_uin_and_id_can_neither_move_nor_end_it() {
    let server = server().await;
    let (mut alice, mut bob) = friends_online(&server).await;
    // The stranger knows Bob's UIN, session id and sequence numbers, but not his password.
    let mut stranger = server.client().await;
    (stranger.uin, stranger.sid, stranger.seq) = (bob.uin, bob.sid, bob.seq);
    stranger.set_password("not bob's");
    stranger.send(&Request::GetContactList).await;
    stranger.send(&Request::Logout).await;
    stranger.ack(1).await;
    stranger.quiet_for(Duration::from_secs(2)).await;
    assert!(server.front.stats().spoofed.load(Ordering::Relaxed) >= 2, "counted as spoofed");

    // Bob is still online, at his own address.
    alice.acked(&message(msg::TEXT, BOB, &text("still yours?"))).await;
    assert!(matches!(bob.packet().await, ServerPacket::Message { .. }), "delivered to bob's address");
    assert_eq!(bob.request(&Request::GetContactList).await, ServerPacket::ContactList { uins: vec![] });
    alice.quiet_for(Duration::from_secs(2)).await;
}

#[tokio::test(start_paused = true)]
async fn wrong_passwords_hold_nothing_and_one_address_cannot_fill_the_server() {
    let server = server_with(|c| {
        c.registration = false;
        c.max_pending = 20;
    })
    .await;
    // Alice has logged in from 127.0.0.2 before.
    let mut alice = server.client_from(2).await;
    assert!(matches!(alice.login(ALICE, "alicepw", status::ONLINE).await, LoginReply::Success { .. }));
    alice.send(&Request::Logout).await;
    // A refused login ends its session: more of them than there are places leave room for
    // everyone, and all are answered (past five, unchecked: the address waits between tries).
    for _ in 0..25 {
        let mut guesser = server.client().await;
        assert_eq!(guesser.login(ALICE, "guess", status::ONLINE).await, LoginReply::Refused(login::WRONG_PASSWD));
    }
    // Even the right password waits at the guessing address, and at any other new one...
    let mut guesser = server.client().await;
    assert_eq!(guesser.login(ALICE, "alicepw", status::ONLINE).await, LoginReply::Refused(login::WRONG_PASSWD));
    let mut stranger = server.client_from(3).await;
    assert_eq!(stranger.login(ALICE, "alicepw", status::ONLINE).await, LoginReply::Refused(login::WRONG_PASSWD));
    // ...but not at Alice's own, and not for long: the longest wait is a minute.
    let mut alice = server.client_from(2).await;
    assert!(matches!(alice.login(ALICE, "alicepw", status::ONLINE).await, LoginReply::Success { .. }));
    tokio::time::sleep(Duration::from_secs(61)).await;
    let mut later = server.client_from(3).await;
    assert!(matches!(later.login(ALICE, "alicepw", status::ONLINE).await, LoginReply::Success { .. }));
    // A refusal is sent once, never resent (a forged source would get it three times over).
    let mut forged = server.client().await;
    forged.acks = false;
    assert_eq!(forged.login(BOB, "guess", status::ONLINE).await, LoginReply::Refused(login::WRONG_PASSWD));
    forged.quiet_for(Duration::from_secs(30)).await;

    // Sessions that wait without logging in (a refused registration waits for the LOGIN gaim
    // sends next) are capped per address: the 17th from 127.0.0.1 is not answered...
    let mut waiting = Vec::new();
    for _ in 0..16 {
        let mut client = server.client().await;
        assert_eq!(client.register("long enough to be answered").await, 0);
        waiting.push(client);
    }
    let mut one_more = server.client().await;
    one_more.send(&Request::NewUin { password: b"a much longer password".to_vec() }).await;
    one_more.quiet_for(Duration::from_secs(2)).await;
    // ...while another address logs in at once.
    let mut elsewhere = server.client_from(2).await;
    assert!(matches!(elsewhere.login(BOB, "bobpass", status::ONLINE).await, LoginReply::Success { .. }));
}

#[tokio::test(start_paused = true)]
async fn registrations_are_limited_across_all_addresses_too() {
    // Source addresses are easily forged: 300 accounts were made from 100 of them in 2 s.
    let server = server_with(|c| c.registrations_per_hour_total = 3).await;
    for last in 2..5 {
        assert_ne!(server.client_from(last).await.register("long enough to be answered").await, 0, "127.0.0.{last}");
    }
    assert_eq!(server.client_from(5).await.register("long enough to be answered").await, 0, "the fourth this hour");
    tokio::time::sleep(Duration::from_secs(3601)).await;
    assert_ne!(server.client_from(6).await.register("long enough to be answered").await, 0, "an hour later");
}
