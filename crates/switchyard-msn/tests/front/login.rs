use crate::support::{Client, TestServer};

/// The MD5 challenge is the account's salt (the server keeps `md5(salt + password)`, never the
/// password): the same at every attempt, new when the password changes.
#[tokio::test]
async fn md5_login_answers_the_accounts_salt() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice A")).await;
    let mut c = Client::connect(server.msn()).await;
    c.exchange(&[("VER 1 MSNP2 CVR0", "VER 1 MSNP2"), ("INF 2", "INF 2 MD5")]).await;
    c.send("USR 3 MD5 I Alice@Hotmail.com").await;
    let first = c.challenge(3).await;
    c.send("USR 4 MD5 S 00000000000000000000000000000000").await;
    c.expect("911 4").await;
    c.send("USR 5 MD5 I alice@hotmail.com").await;
    let second = c.challenge(5).await;
    assert_eq!(first, second, "the challenge is the account's salt");
    let response = msnp::auth::md5_response(&second, "secret");
    c.send(&format!("USR 6 MD5 S {response}")).await;
    c.expect("USR 6 OK alice@hotmail.com Alice%20A").await;
    c.exchange(&[("USR 7 MD5 I alice@hotmail.com", "207 7")]).await;
    // The service closed without a word: msn-pecan reads a reason from any OUT it gets.
    c.send("OUT").await;
    c.expect_closed().await;
}

#[tokio::test]
async fn a_new_password_brings_a_new_challenge() {
    let server = TestServer::start().await;
    let alice = server.add_user("alice", "secret", None).await;
    let msn = server.msn();
    let challenge_of = |trid| async move {
        let mut c = Client::connect(msn).await;
        c.exchange(&[("VER 1 MSNP2", "VER 1 MSNP2")]).await;
        c.send(&format!("USR {trid} MD5 I alice@hotmail.com")).await;
        c.challenge(trid).await
    };
    let before = challenge_of(2).await;
    server.store().set_password(alice.id, "changed").await.unwrap();
    let after = challenge_of(3).await;
    assert_ne!(before, after);
    assert_eq!(after.len(), 20);
}

#[tokio::test]
async fn unknown_users_get_a_stable_challenge_like_anyone_else_and_three_failures_close() {
    let server = TestServer::start().await;
    let mut c = Client::connect(server.msn()).await;
    c.send("VER 1 MSNP2").await;
    c.expect("VER 1 MSNP2").await;
    c.send("USR 2 MD5 I nobody@hotmail.com").await;
    let first = c.challenge(2).await;
    c.send("USR 3 MD5 I nobody@hotmail.com").await;
    assert_eq!(c.challenge(3).await, first, "no different behaviour tells an unknown handle apart");
    assert!(first.len() == 20 && first.chars().all(|c| c.is_ascii_alphanumeric()));
    for trid in [2, 4, 6] {
        c.authenticate(trid, "nobody@hotmail.com", "x").await;
        c.expect(&format!("911 {}", trid + 1)).await;
    }
    c.expect_closed().await;
}

#[tokio::test]
async fn the_highest_dialect_both_speak_is_chosen() {
    let server = TestServer::start().await;
    let mut c = Client::connect(server.msn()).await;
    c.send("VER 1 MSNP8 MSNP7 msnp2 CVR0").await;
    c.expect("VER 1 MSNP8").await;
    let mut c = Client::connect(server.msn()).await;
    c.send("VER 1 MSNP15 MSNP12 MSNP11 CVR0").await;
    c.expect("VER 1 MSNP12").await;
}

#[tokio::test]
async fn unsupported_dialect_gets_ver_zero_and_is_closed() {
    let server = TestServer::start().await;
    let mut c = Client::connect(server.msn()).await;
    c.send("VER 1 MSNP99 CVR0").await;
    c.expect("VER 1 0").await;
    c.expect_closed().await;
}

#[tokio::test]
async fn commands_out_of_order_get_the_drafts_errors() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", None).await;
    let mut c = Client::connect(server.msn()).await;
    c.exchange(&[
        ("INF 1", "715 1"),
        ("VER 2 msnp2", "VER 2 MSNP2"),
        ("SYN 3 0", "302 3"),
        ("USR 4 MD5 S abc", "911 4"),
        ("USR 5 MD5 I alice@", "206 5"),
        ("USR 6 XYZ I alice@hotmail.com", "911 6"),
        ("CHG 7", "200 7"),
    ])
    .await;
}

#[tokio::test]
async fn first_synchronization_sends_every_list_and_a_current_one_sends_none() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    let mut c = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    c.send("SYN 5 0").await;
    for line in
        ["SYN 5 1", "GTC 5 1 A", "BLP 5 1 AL", "LST 5 FL 1 0 0", "LST 5 AL 1 0 0", "LST 5 BL 1 0 0", "LST 5 RL 1 0 0"]
    {
        c.expect(line).await;
    }
    c.send("SYN 6 1").await;
    c.expect("SYN 6 1").await;
    c.expect_nothing_pending(7).await;
}

#[tokio::test]
async fn a_second_login_ends_the_first_with_out_oth() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", Some("Bob")).await;
    let mut bob = crate::support::online(server.msn(), "bob@hotmail.com", "pw", "Bob").await;
    bob.send("ADD 6 FL alice@hotmail.com Alice").await;
    bob.expect("ADD 6 FL 2 alice@hotmail.com Alice").await;
    let mut first = crate::support::online(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    bob.expect("NLN NLN alice@hotmail.com Alice").await;

    let mut second = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    first.expect("OUT OTH").await;
    first.expect_closed().await;
    bob.expect("FLN alice@hotmail.com").await;
    second.send("CHG 5 NLN").await;
    second.expect("CHG 5 NLN").await;
    bob.expect("NLN NLN alice@hotmail.com Alice").await;
}

#[tokio::test]
async fn shutdown_sends_out_ssd_to_every_client() {
    let mut server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", Some("Bob")).await;
    let mut alice = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    let mut bob = crate::support::online(server.msn(), "bob@hotmail.com", "pw", "Bob").await;
    server.stop().await;
    for c in [&mut alice, &mut bob] {
        c.expect("OUT SSD").await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn dispatch_port_refers_logins_to_the_notification_server() {
    let server = TestServer::start_with(|c| c.dispatch = true).await;
    server.add_user("alice", "secret", Some("Alice")).await;
    let mut c = Client::connect(server.dispatch()).await;
    c.exchange(&[("VER 1 MSNP2", "VER 1 MSNP2"), ("INF 2", "INF 2 MD5")]).await;
    c.send("USR 3 MD5 I alice@hotmail.com").await;
    c.expect(&format!("XFR 3 NS {}", server.msn())).await;
    c.expect_closed().await;
    Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;

    // From MSNP8 the referral also names the dispatch server the client is on.
    let dispatch = server.dispatch();
    let mut c = Client::connect(dispatch).await;
    c.exchange(&[("VER 1 MSNP8 CVR0", "VER 1 MSNP8")]).await;
    c.exchange(&[("USR 2 TWN I alice@hotmail.com", &format!("XFR 2 NS {} 0 {dispatch}", server.msn()))]).await;
    c.expect_closed().await;
}

/// Guessing is slowed for every protocol alike: past five failures from an address, each try
/// waits (1 s, doubling; at most 1 s here) and one made too soon is refused unchecked, the
/// right password included. MSN's MD5 login, the nexus and MRIM share the one limiter.
/// In paused time: the waits pass at once.
#[tokio::test(start_paused = true)]
async fn guesses_from_one_address_wait_between_tries_on_every_protocol() {
    let server = TestServer::start_with(|c| c.core.throttle.longest_wait = std::time::Duration::from_secs(1)).await;
    server.add_user("alice", "secret", Some("Alice")).await;
    let md5_try = |password: &'static str| {
        let msn = server.msn();
        async move {
            let mut c = Client::connect(msn).await;
            c.exchange(&[("VER 1 MSNP7 CVR0", "VER 1 MSNP7")]).await;
            c.authenticate(2, "alice@hotmail.com", password).await;
            c.line().await
        }
    };
    for _ in 0..3 {
        assert_eq!(md5_try("wrong").await, "911 3");
    }
    // Two more at the nexus: five in all.
    for _ in 0..2 {
        assert_eq!(server.passport_ticket("alice@hotmail.com", "wrong").await, Err(401));
    }
    // The sixth failure starts the waits: the right password is refused everywhere meanwhile.
    assert_eq!(md5_try("wrong").await, "911 3");
    assert_eq!(md5_try("secret").await, "911 3");
    assert_eq!(server.passport_ticket("alice@hotmail.com", "secret").await, Err(401));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(md5_try("secret").await, "USR 3 OK alice@hotmail.com Alice 1");
    assert!(server.passport_ticket("alice@hotmail.com", "secret").await.is_ok());
}
