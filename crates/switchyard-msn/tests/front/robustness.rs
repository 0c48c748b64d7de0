use crate::support::{online, Client, TestServer};

async fn two_users() -> TestServer {
    let server = TestServer::start_with(|c| c.msn.login_timeout = std::time::Duration::from_secs(1)).await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", None).await;
    server
}

#[tokio::test]
async fn an_overlong_line_closes_only_that_connection() {
    let server = two_users().await;
    let mut bob = online(server.msn(), "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    let mut alice = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice.send_raw(&vec![b'A'; 5000]).await;
    alice.expect_closed().await;
    bob.expect_nothing_pending(6).await;
}

#[tokio::test]
async fn an_oversized_msg_closes_the_switchboard_connection() {
    let server = two_users().await;
    let mut alice_ns = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice_ns.send("XFR 6 SB").await;
    let line = alice_ns.line().await;
    let cookie = line.rsplit(' ').next().unwrap().to_owned();
    let mut sb = Client::connect(server.msn()).await;
    sb.send(&format!("USR 1 alice@hotmail.com {cookie}")).await;
    sb.expect("USR 1 OK alice@hotmail.com Alice").await;
    sb.send("MSG 2 A 1000000").await;
    sb.expect_closed().await;
    alice_ns.expect_nothing_pending(7).await;
}

#[tokio::test]
async fn bad_lines_get_200_and_persistent_garbage_closes() {
    let server = two_users().await;
    let mut alice = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice
        .exchange(&[
            ("CHG abc NLN", "200"),
            ("chg 6 NLN", "200"),
            ("FOO 7", "200 7"),
            ("CHG 8 XYZ", "201 8"),
            ("CHG 9 NLN", "CHG 9 NLN"),
        ])
        .await;
    for _ in 0..7 {
        alice.send_raw(b"\x00\x01\xfe\xff\r\n").await;
        alice.expect("200").await;
    }
    alice.send_raw(b"\x00\x01\xfe\xff\r\n").await;
    alice.expect_closed().await;
}

#[tokio::test]
async fn commands_split_at_any_point_and_batched_are_both_understood() {
    let server = two_users().await;
    let mut alice = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    for byte in b"SYN 5 1\r\n" {
        alice.send_raw(&[*byte]).await;
        tokio::task::yield_now().await;
    }
    alice.send_raw(b"GTC 6 N\r\nBLP 7 BL\r\nLST 8 AL\r\n").await;
    for line in ["SYN 5 1", "GTC 6 2 N", "BLP 7 3 BL", "LST 8 AL 3 0 0"] {
        alice.expect(line).await;
    }
}

/// In paused time: the waits pass at once.
#[tokio::test(start_paused = true)]
async fn silent_and_unfinished_logins_are_closed() {
    let server = two_users().await;
    let mut silent = Client::connect(server.msn()).await;
    silent.expect_closed().await;
    let mut halfway = Client::connect(server.msn()).await;
    halfway.send("VER 1 MSNP2").await;
    halfway.expect("VER 1 MSNP2").await;
    halfway.expect_closed().await;
    // Logged-in sessions are not subject to the login timeout.
    let mut alice = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    alice.expect_nothing_pending(6).await;
}

/// In paused time: the waits pass at once.
#[tokio::test(start_paused = true)]
async fn the_login_deadline_counts_from_connect_and_junk_before_login_closes() {
    let server = two_users().await;
    // Pings keep nothing alive before login: the deadline (1 s here) counts from connect.
    let mut pinger = Client::connect(server.msn()).await;
    for _ in 0..4 {
        pinger.send("PNG").await;
        pinger.expect("QNG").await;
        tokio::time::sleep(std::time::Duration::from_millis(220)).await;
    }
    // 0.9 s after connecting, 0.2 s after the last ping: closed at the 1 s deadline.
    pinger.expect_closed_within(std::time::Duration::from_millis(600)).await;

    // Commands that cannot be answered before login: thirty, then the connection is closed.
    let mut junk = Client::connect(server.msn()).await;
    for trid in 1..30 {
        junk.send(&format!("ZZZ {trid}")).await;
        junk.expect(&format!("200 {trid}")).await;
    }
    junk.send("ZZZ 30").await;
    junk.expect("200 30").await;
    junk.expect_closed_within(std::time::Duration::from_millis(500)).await;
}

#[tokio::test]
async fn connections_past_the_limit_wait_for_a_free_slot() {
    let server = TestServer::start_with(|c| c.msn.max_connections = 2).await;
    server.add_user("alice", "secret", Some("Alice")).await;
    let alice = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    let mut second = Client::connect(server.msn()).await;
    second.send("VER 1 MSNP2").await;
    second.expect("VER 1 MSNP2").await;
    let mut third = Client::connect(server.msn()).await;
    third.send("VER 1 MSNP2").await;
    assert!(
        third.line_within(std::time::Duration::from_millis(300)).await.is_none(),
        "the third connection must not be served while two are open"
    );
    drop(alice);
    third.expect("VER 1 MSNP2").await;
}

/// Sessions handle what is ready before they write: a long pipeline with bad lines in it is
/// answered whole and in order.
#[tokio::test]
async fn a_long_pipeline_is_answered_whole_and_in_order() {
    let server = two_users().await;
    let mut alice = online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    let trids = 10..210;
    let mut burst = Vec::new();
    for trid in trids.clone() {
        if trid % 10 == 0 {
            burst.extend_from_slice(b"\x00\x01\xfe\xff\r\n");
        }
        let state = if trid % 2 == 0 { "BSY" } else { "NLN" };
        burst.extend_from_slice(format!("CHG {trid} {state}\r\n").as_bytes());
    }
    alice.send_raw(&burst).await;
    for trid in trids {
        if trid % 10 == 0 {
            alice.expect("200").await;
        }
        let state = if trid % 2 == 0 { "BSY" } else { "NLN" };
        alice.expect(&format!("CHG {trid} {state}")).await;
    }
    alice.expect_nothing_pending(300).await;
}
