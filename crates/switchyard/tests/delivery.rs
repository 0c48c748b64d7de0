//! Nothing a sender was told is delivered is lost: not to a client that stops reading, nor to
//! one that never confirms, nor to a ring nobody answers, nor across a restart.

mod common;

use common::mrim::{Body, MrimClient};
use common::{online, Client, TestServer};
use mrim::codes::{message_flag, message_status, msg};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

async fn server() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "hunter2", Some("Bob")).await;
    server
}

fn mrim_addr(server: &TestServer) -> SocketAddr {
    server.running().address("mrim").unwrap()
}

fn message(flags: u32, to: &str, text: &str) -> Body {
    Body::default().u32(flags).lps(to.as_bytes()).text(text, 7).lps(b"")
}

/// Message `n` of a run: its number, then filler to `size` bytes, so a cut or a repeat shows.
fn numbered(n: usize, size: usize) -> String {
    let head = format!("m{n:05} ");
    let filler: String = (0..size - head.len()).map(|i| char::from(b'a' + ((n + i) % 26) as u8)).collect();
    head + &filler
}

fn number_of(text: &str) -> usize {
    assert_eq!(text, numbered(text[1..6].parse().unwrap(), text.len()), "a message arrived damaged");
    text[1..6].parse().unwrap()
}

/// The text of an `OFFLINE_MESSAGE_ACK`'s MIME message (CP-1251, unencoded).
fn offline_text(mime: &[u8]) -> String {
    let mime = String::from_utf8(mime.to_vec()).unwrap();
    let body = mime.split_once("\n\n").expect("headers, then the body").1;
    body.rsplit_once("\n--SWITCHYARD").expect("the closing boundary").0.to_owned()
}

/// The offline messages a fresh login of Bob's is given, by number. They all come before the
/// answer to a request sent after the login.
async fn offline_messages(addr: SocketAddr) -> (MrimClient, Vec<usize>) {
    let (mut bob, _) = MrimClient::login(addr, 7, "bob@mail.ru", "hunter2").await;
    let seq = bob.send(msg::GET_MPOP_SESSION, Body::default()).await;
    let mut found = Vec::new();
    loop {
        let packet = bob.next().await;
        if packet.header.msg == msg::MPOP_SESSION && packet.header.seq == seq {
            return (bob, found);
        }
        assert_eq!(packet.header.msg, msg::OFFLINE_MESSAGE_ACK);
        let mut r = mrim::wire::Reader::new(packet.body);
        r.uidl();
        found.push(number_of(&offline_text(&r.lps())));
    }
}

/// Bob logs in and never reads again; Alice sends him 2,000 messages of 12 KB without waiting.
/// His session is closed as too slow. Every message Alice was told is delivered reached his
/// first connection whole (no byte of it twice: the stream parses to the end) or waits for his
/// next login, and none of them comes twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_never_reads_loses_no_acknowledged_message() {
    const MESSAGES: usize = 2000;
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut stalled, _) = MrimClient::login(addr, 7, "bob@mail.ru", "hunter2").await;
    let (mut alice, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    // In runs of 100 sent at once, each run's statuses read before the next.
    let mut acknowledged = Vec::new();
    let mut statuses = Vec::new();
    for run in 0..MESSAGES / 100 {
        let mut seqs = HashMap::new();
        for n in run * 100..(run + 1) * 100 {
            let text = numbered(n, 12_000);
            seqs.insert(alice.send(msg::MESSAGE, message(message_flag::NORECV, "bob@mail.ru", &text)).await, n);
        }
        for _ in 0..100 {
            let (seq, mut status) = alice.expect(msg::MESSAGE_STATUS).await;
            let status = status.u32();
            if status == message_status::DELIVERED {
                acknowledged.push(seqs[&seq]);
            }
            statuses.push(status);
        }
    }
    let mut refused = statuses.iter().filter(|s| **s != message_status::DELIVERED);
    assert!(refused.all(|s| *s == message_status::REJECTED_LIMIT_EXCEEDED), "only a full mailbox refuses");
    assert!(acknowledged.len() >= 1000, "at least a mailbox's worth is acknowledged: {}", acknowledged.len());

    let (packets, cut) = stalled.packets_until_closed().await;
    let mut received: BTreeMap<usize, usize> = BTreeMap::new();
    for packet in packets {
        assert_eq!(packet.header.msg, msg::MESSAGE_ACK, "only messages came after the login");
        let mut r = mrim::wire::Reader::new(packet.body);
        let (_msg_id, _flags, _from) = (r.u32(), r.u32(), r.lps());
        *received.entry(number_of(&mrim::text::from_cp1251(&r.lps()))).or_default() += 1;
    }
    let live = received.len();
    let (_bob, stored) = offline_messages(addr).await;
    for n in &stored {
        *received.entry(*n).or_default() += 1;
    }
    let missing: Vec<usize> = acknowledged.iter().copied().filter(|n| !received.contains_key(n)).collect();
    assert!(missing.is_empty(), "acknowledged and lost: {missing:?}");
    let twice: Vec<usize> = received.iter().filter(|(_, count)| **count > 1).map(|(n, _)| *n).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    eprintln!(
        "{} acknowledged: {live} written before the session was closed ({cut} bytes of one more cut off), {} stored",
        acknowledged.len(),
        stored.len()
    );
    assert!(live > 0 && !stored.is_empty(), "the test saw both paths");
}

/// A message whose receipt the sender asked for is kept until the client confirms it with
/// `MESSAGE_RECV`: one left unconfirmed when the connection ends comes again at the next login.
#[tokio::test]
async fn an_mrim_message_not_confirmed_comes_again() {
    let server = server().await;
    let addr = mrim_addr(&server);
    let (mut bob, _) = MrimClient::login(addr, 7, "bob@mail.ru", "hunter2").await;
    let (mut alice, _) = MrimClient::login(addr, 7, "alice@mail.ru", "secret").await;
    for n in 0..3 {
        alice.send(msg::MESSAGE, message(0, "bob@mail.ru", &numbered(n, 40))).await;
    }
    for n in 0..3 {
        let (_, mut ack) = bob.expect(msg::MESSAGE_ACK).await;
        let (msg_id, _flags, from) = (ack.u32(), ack.u32(), ack.lps());
        assert_eq!(number_of(&mrim::text::from_cp1251(&ack.lps())), n);
        if n != 1 {
            bob.send(msg::MESSAGE_RECV, Body::default().lps(&from).u32(msg_id)).await;
        }
    }
    for _ in 0..3 {
        assert_eq!(alice.expect(msg::MESSAGE_STATUS).await.1.u32(), message_status::DELIVERED);
    }
    bob.expect_nothing_pending().await;
    drop(bob);
    // The next login may come before the server saw the last one end: then the message follows
    // the login, as soon as the old session gave it back.
    let (mut bob, _) = MrimClient::login(addr, 7, "bob@mail.ru", "hunter2").await;
    let (_, mut r) = bob.expect(msg::OFFLINE_MESSAGE_ACK).await;
    r.uidl();
    assert_eq!(number_of(&offline_text(&r.lps())), 1);
    bob.expect_nothing_pending().await;
}

/// Reads an `RNG`; returns (session, cookie).
async fn ring(ns: &mut Client) -> (String, String) {
    let line = ns.line().await;
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts[0], "RNG", "{line}");
    (parts[1].into(), parts[4].into())
}

/// Bob (MSN) answers a ring and reads the message that waited for him.
async fn answer_and_read(msn: SocketAddr, ns: &mut Client) -> String {
    let (session, cookie) = ring(ns).await;
    let mut sb = Client::connect(msn).await;
    sb.send(&format!("ANS 1 bob@hotmail.com {cookie} {session}")).await;
    assert!(sb.line().await.starts_with("IRO 1 1 1 alice@hotmail.com"));
    sb.expect("ANS 1 OK").await;
    sb.expect_payload("MSG alice@hotmail.com ").await
}

/// An MRIM user writes to an MSN user who is online but never answers the ring; the MSN
/// user's connection then drops. Alice was told "delivered": the message waits, and comes
/// with the ring of Bob's next login.
#[tokio::test]
async fn a_message_waiting_for_an_unanswered_ring_survives_the_recipient_leaving() {
    let server = server().await;
    let msn = server.msn();
    let mut bob_ns = online(msn, "bob@hotmail.com", "hunter2", "Bob").await;
    let (mut alice, _) = MrimClient::login(mrim_addr(&server), 7, "alice@mail.ru", "secret").await;
    alice.send(msg::MESSAGE, message(0, "bob@mail.ru", "are you there?")).await;
    assert_eq!(alice.expect(msg::MESSAGE_STATUS).await.1.u32(), message_status::DELIVERED);
    ring(&mut bob_ns).await;
    drop(bob_ns);

    let mut bob_ns = online(msn, "bob@hotmail.com", "hunter2", "Bob").await;
    let body = answer_and_read(msn, &mut bob_ns).await;
    assert!(body.ends_with(") are you there?"), "{body}");
}

/// The same across a server restart while the ring is pending: the message Alice was told is
/// delivered is in the database when the server stops.
#[tokio::test]
async fn a_message_waiting_for_a_ring_survives_a_restart() {
    let mut server = server().await;
    let mut bob_ns = online(server.msn(), "bob@hotmail.com", "hunter2", "Bob").await;
    let (mut alice, _) = MrimClient::login(mrim_addr(&server), 7, "alice@mail.ru", "secret").await;
    alice.send(msg::MESSAGE, message(0, "bob@mail.ru", "still there?")).await;
    assert_eq!(alice.expect(msg::MESSAGE_STATUS).await.1.u32(), message_status::DELIVERED);
    ring(&mut bob_ns).await;
    server.restart().await;
    drop((alice, bob_ns));

    let msn = server.msn();
    let mut bob_ns = online(msn, "bob@hotmail.com", "hunter2", "Bob").await;
    let body = answer_and_read(msn, &mut bob_ns).await;
    assert!(body.ends_with(") still there?"), "{body}");
}
