use crate::support::{login_twn, online, three_users, Client};
use std::net::SocketAddr;

/// `XFR SB` on the notification connection; returns the switchboard address and cookie.
async fn refer(ns: &mut Client, trid: u32, server: SocketAddr) -> String {
    ns.send(&format!("XFR {trid} SB")).await;
    let line = ns.line().await;
    let prefix = format!("XFR {trid} SB {server} CKI ");
    line.strip_prefix(&prefix).unwrap_or_else(|| panic!("unexpected referral {line:?}")).to_owned()
}

/// Opens a switchboard as `handle`, authenticating with the cookie.
async fn open(server: SocketAddr, handle: &str, cookie: &str, friendly: &str) -> Client {
    let mut sb = Client::connect(server).await;
    sb.send(&format!("USR 1 {handle} {cookie}")).await;
    sb.expect(&format!("USR 1 OK {handle} {friendly}")).await;
    sb
}

/// Reads the `RNG` on a callee's notification connection; returns (session, cookie).
async fn ring(ns: &mut Client, server: SocketAddr, caller: &str, friendly: &str) -> (String, String) {
    let line = ns.line().await;
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts.len(), 7, "{line:?}");
    assert_eq!((parts[0], parts[2], parts[3]), ("RNG", server.to_string().as_str(), "CKI"), "{line:?}");
    assert_eq!((parts[5], parts[6]), (caller, friendly), "{line:?}");
    (parts[1].to_owned(), parts[4].to_owned())
}

/// Alice (online as "Alice") opens a switchboard and calls Bob, who answers the ring: their
/// switchboard connections, and the session's id.
async fn alice_calls_bob(addr: SocketAddr, alice_ns: &mut Client, bob_ns: &mut Client) -> (Client, Client, String) {
    let cookie = refer(alice_ns, 6, addr).await;
    let mut alice = open(addr, "alice@hotmail.com", &cookie, "Alice").await;
    alice.send("CAL 2 bob@hotmail.com").await;
    let cal = alice.line().await;
    let session = cal.strip_prefix("CAL 2 RINGING ").unwrap_or_else(|| panic!("{cal:?}")).to_owned();
    let (rng_session, bob_cookie) = ring(bob_ns, addr, "alice@hotmail.com", "Alice").await;
    assert_eq!(rng_session, session);
    let mut bob = Client::connect(addr).await;
    bob.send(&format!("ANS 1 bob@hotmail.com {bob_cookie} {session}")).await;
    bob.expect("IRO 1 1 1 alice@hotmail.com Alice").await;
    bob.expect("ANS 1 OK").await;
    alice.expect("JOI bob@hotmail.com bob@hotmail.com").await;
    (alice, bob, session)
}

#[tokio::test]
async fn two_users_chat_and_a_third_joins() {
    let server = three_users().await;
    let addr = server.msn();
    let mut alice_ns = online(addr, "alice@hotmail.com", "secret", "Alice").await;
    let mut bob_ns = online(addr, "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    let mut carol_ns = online(addr, "carol@hotmail.com", "pw", "Carol").await;

    let (mut alice, mut bob, session) = alice_calls_bob(addr, &mut alice_ns, &mut bob_ns).await;

    let hello = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHello, Bob!";
    alice.send_msg(3, "A", hello).await;
    bob.expect_msg("alice@hotmail.com", "Alice", hello).await;
    alice.expect("ACK 3").await;
    bob.send_msg(2, "N", "MIME-Version: 1.0\r\n\r\nhi").await;
    alice.expect_msg("bob@hotmail.com", "bob@hotmail.com", "MIME-Version: 1.0\r\n\r\nhi").await;
    bob.send_msg(3, "U", "MIME-Version: 1.0\r\n\r\nbye").await;
    alice.expect_msg("bob@hotmail.com", "bob@hotmail.com", "MIME-Version: 1.0\r\n\r\nbye").await;
    bob.expect_nothing_pending(4).await;

    // Any participant may invite; the roster comes before the answer.
    bob.send("CAL 5 carol@hotmail.com").await;
    bob.expect(&format!("CAL 5 RINGING {session}")).await;
    let (_, carol_cookie) = ring(&mut carol_ns, addr, "bob@hotmail.com", "bob@hotmail.com").await;
    alice.send("CAL 4 carol@hotmail.com").await;
    alice.expect("215 4").await;
    let mut carol = Client::connect(addr).await;
    carol.send(&format!("ANS 7 carol@hotmail.com {carol_cookie} {session}")).await;
    carol.expect("IRO 7 1 2 alice@hotmail.com Alice").await;
    carol.expect("IRO 7 2 2 bob@hotmail.com bob@hotmail.com").await;
    carol.expect("ANS 7 OK").await;
    alice.expect("JOI carol@hotmail.com Carol").await;
    bob.expect("JOI carol@hotmail.com Carol").await;

    carol.send_msg(8, "A", "x").await;
    alice.expect_msg("carol@hotmail.com", "Carol", "x").await;
    bob.expect_msg("carol@hotmail.com", "Carol", "x").await;
    carol.expect("ACK 8").await;
    alice.exchange(&[("CAL 5 bob@hotmail.com", "215 5"), ("CAL 6 alice@hotmail.com", "215 6")]).await;

    bob.send("OUT").await;
    bob.expect_closed().await;
    alice.expect("BYE bob@hotmail.com").await;
    carol.expect("BYE bob@hotmail.com").await;
    drop(carol);
    alice.expect("BYE carol@hotmail.com").await;
    alice.send_msg(7, "N", "anyone?").await;
    alice.expect("NAK 7").await;
}

#[tokio::test]
async fn cookies_are_good_for_one_use_by_their_owner_only() {
    let server = three_users().await;
    let addr = server.msn();
    let mut alice_ns = online(addr, "alice@hotmail.com", "secret", "Alice").await;
    let cookie = refer(&mut alice_ns, 6, addr).await;

    let mut thief = Client::connect(addr).await;
    thief.send(&format!("USR 1 bob@hotmail.com {cookie}")).await;
    thief.expect("911 1").await;
    thief.expect_closed().await;
    // The failed attempt consumed the cookie.
    let mut late = Client::connect(addr).await;
    late.send(&format!("USR 1 alice@hotmail.com {cookie}")).await;
    late.expect("911 1").await;
    late.expect_closed().await;

    let cookie = refer(&mut alice_ns, 7, addr).await;
    let mut alice = open(addr, "alice@hotmail.com", &cookie, "Alice").await;
    alice.send_msg(2, "A", "alone").await;
    alice.expect("NAK 2").await;
    let mut again = Client::connect(addr).await;
    again.send(&format!("USR 1 alice@hotmail.com {cookie}")).await;
    again.expect("911 1").await;
    let mut wrong_session = Client::connect(addr).await;
    wrong_session.send(&format!("ANS 1 alice@hotmail.com {cookie} 1")).await;
    wrong_session.expect("911 1").await;
}

#[tokio::test]
async fn cal_honours_presence_and_privacy() {
    let server = three_users().await;
    server.add_user("dave", "pw", Some("Dave")).await;
    let addr = server.msn();
    let mut alice_ns = online(addr, "alice@hotmail.com", "secret", "Alice").await;
    let mut bob_ns = online(addr, "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    let mut dave_ns = Client::login(addr, "dave@hotmail.com", "pw", "Dave").await;
    dave_ns.send("CHG 5 HDN").await;
    dave_ns.expect("CHG 5 HDN").await;
    let cookie = refer(&mut alice_ns, 6, addr).await;
    let mut alice = open(addr, "alice@hotmail.com", &cookie, "Alice").await;

    alice
        .exchange(&[
            ("CAL 2 carol@hotmail.com", "217 2"),
            ("CAL 3 dave@hotmail.com", "217 3"),
            ("CAL 4 @@a", "208 4"),
            ("CAL 5 nobody@hotmail.com", "208 5"),
        ])
        .await;

    bob_ns.send("ADD 6 BL alice@hotmail.com Alice").await;
    bob_ns.expect("ADD 6 BL 2 alice@hotmail.com Alice").await;
    alice.send("CAL 6 bob@hotmail.com").await;
    alice.expect("216 6").await;
    bob_ns
        .exchange(&[("REM 7 BL alice@hotmail.com", "REM 7 BL 3 alice@hotmail.com"), ("BLP 8 BL", "BLP 8 4 BL")])
        .await;
    alice.send("CAL 7 bob@hotmail.com").await;
    alice.expect("216 7").await;
    bob_ns.send("ADD 9 AL alice@hotmail.com Alice").await;
    bob_ns.expect("ADD 9 AL 5 alice@hotmail.com Alice").await;
    alice.send("CAL 8 bob@hotmail.com").await;
    assert!(alice.line().await.starts_with("CAL 8 RINGING "));
    ring(&mut bob_ns, addr, "alice@hotmail.com", "Alice").await;
    bob_ns.expect_nothing_pending(10).await;

    // Nobody can open a switchboard while hidden or offline.
    dave_ns.send("XFR 6 SB").await;
    dave_ns.expect("913 6").await;
    alice_ns.exchange(&[("CHG 7 FLN", "CHG 7 FLN"), ("XFR 8 SB", "913 8")]).await;
}

/// Switchboards are the same in every dialect: an MSNP12 chat with typing notifications
/// (`MSG U`, no answer) and a data message (`MSG D`, acknowledged like `A`).
#[tokio::test]
async fn msnp12_users_chat_with_typing_notifications() {
    let server = three_users().await;
    let addr = server.msn();
    let ok = |handle: &str| format!("USR 3 OK {handle} 1 0");
    let mut alice_ns = login_twn(&server, 12, "alice@hotmail.com", "secret", &ok("alice@hotmail.com")).await;
    let mut bob_ns = login_twn(&server, 12, "bob@hotmail.com", "pw", &ok("bob@hotmail.com")).await;
    for ns in [&mut alice_ns, &mut bob_ns] {
        ns.exchange(&[("CHG 4 NLN 1342177280", "CHG 4 NLN 1342177280")]).await;
        // Challenges are on by default; these sessions ignore theirs (a minute is long enough).
        assert!(ns.line().await.starts_with("CHL 0 "));
    }
    let (mut alice, mut bob, _) = alice_calls_bob(addr, &mut alice_ns, &mut bob_ns).await;

    let typing = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@hotmail.com\r\n\r\n\r\n";
    alice.send_msg(3, "U", typing).await;
    bob.expect_msg("alice@hotmail.com", "Alice", typing).await;
    let data = "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: bob@hotmail.com\r\n\r\nxyz";
    alice.send_msg(4, "D", data).await;
    bob.expect_msg("alice@hotmail.com", "Alice", data).await;
    alice.expect("ACK 4").await;
    alice.expect_nothing_pending(5).await;
}

/// Sessions handle what is ready before they write, a batch at a time: messages pipelined in
/// one write are each acknowledged and delivered, in order.
#[tokio::test]
async fn pipelined_messages_are_acknowledged_and_delivered_in_order() {
    let server = three_users().await;
    let addr = server.msn();
    let mut alice_ns = online(addr, "alice@hotmail.com", "secret", "Alice").await;
    let mut bob_ns = online(addr, "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    let (mut alice, mut bob, _) = alice_calls_bob(addr, &mut alice_ns, &mut bob_ns).await;

    let body = |n: u32| format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nmessage {n}");
    let mut burst = Vec::new();
    for n in 0..150 {
        let body = body(n);
        burst.extend_from_slice(format!("MSG {} A {}\r\n{body}", 10 + n, body.len()).as_bytes());
    }
    alice.send_raw(&burst).await;
    for n in 0..150 {
        alice.expect(&format!("ACK {}", 10 + n)).await;
    }
    for n in 0..150 {
        bob.expect_msg("alice@hotmail.com", "Alice", &body(n)).await;
    }
}
