use crate::support::{online, Client, TestServer};

#[tokio::test]
async fn adding_and_removing_with_every_error_of_the_draft() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", None).await;
    let mut alice = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice
        .exchange(&[
            ("ADD 5 FL bob@hotmail.com Bobby", "ADD 5 FL 2 bob@hotmail.com Bobby"),
            ("ADD 6 AL bob@hotmail.com Bobby", "ADD 6 AL 3 bob@hotmail.com Bobby"),
            ("ADD 7 BL bob@hotmail.com Bobby", "219 7"),
            ("ADD 8 FL BOB@hotmail.com Bobby", "215 8"),
            ("ADD 9 FL nobody@hotmail.com x", "205 9"),
            ("ADD 10 FL bob@example.com x", "205 10"),
            ("ADD 11 FL a@b x", "201 11"),
            ("ADD 12 FL bob@ x", "206 12"),
            ("ADD 13 RL bob@hotmail.com x", "201 13"),
            ("ADD 14 FL bob@hotmail.com %FF", "209 14"),
            ("ADD 15 XL bob@hotmail.com x", "201 15"),
            ("REM 16 BL bob@hotmail.com", "216 16"),
            ("REM 17 RL bob@hotmail.com", "201 17"),
            // Setting the mode one has is answered as a change, at the same version (msn-pecan does it).
            ("GTC 18 A", "GTC 18 3 A"),
            ("GTC 19 N", "GTC 19 4 N"),
            ("GTC 20 X", "201 20"),
            ("BLP 21 AL", "BLP 21 4 AL"),
            ("BLP 22 BL", "BLP 22 5 BL"),
            ("LST 23 FL", "LST 23 FL 5 1 1 bob@hotmail.com Bobby"),
            ("LST 24 BL", "LST 24 BL 5 0 0"),
            ("REM 25 AL bob@hotmail.com", "REM 25 AL 6 bob@hotmail.com"),
            ("ADD 26 BL bob@hotmail.com Bobby", "ADD 26 BL 7 bob@hotmail.com Bobby"),
        ])
        .await;
    let long_name = "x".repeat(388);
    alice.send(&format!("ADD 27 AL bob@hotmail.com {long_name}")).await;
    alice.expect("209 27").await;
}

#[tokio::test]
async fn the_other_user_gets_asynchronous_reverse_list_changes() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", None).await;
    let mut alice = Client::login(server.msn(), "alice@hotmail.com", "secret", "Alice").await;
    alice.send("ADD 5 FL bob@hotmail.com Bob").await;
    alice.expect("ADD 5 FL 2 bob@hotmail.com Bob").await;

    let mut bob = Client::login(server.msn(), "bob@hotmail.com", "pw", "bob@hotmail.com").await;
    bob.send("SYN 5 0").await;
    for line in ["SYN 5 2", "GTC 5 2 A", "BLP 5 2 AL", "LST 5 FL 2 0 0", "LST 5 AL 2 0 0", "LST 5 BL 2 0 0"] {
        bob.expect(line).await;
    }
    bob.expect("LST 5 RL 2 1 1 alice@hotmail.com Alice").await;

    alice.send("REM 6 FL bob@hotmail.com").await;
    alice.expect("REM 6 FL 3 bob@hotmail.com").await;
    bob.expect("REM 0 RL 3 alice@hotmail.com").await;
    alice.send("ADD 7 FL bob@hotmail.com Bob%20B").await;
    alice.expect("ADD 7 FL 4 bob@hotmail.com Bob%20B").await;
    bob.expect("ADD 0 RL 4 alice@hotmail.com Alice").await;
    // Allow and block lists are the owner's business: no message to the other side.
    alice.send("ADD 8 AL bob@hotmail.com Bob").await;
    alice.expect("ADD 8 AL 5 bob@hotmail.com Bob").await;
    bob.expect_nothing_pending(6).await;
}

#[tokio::test]
async fn a_full_list_refuses_more_with_210() {
    let server = TestServer::start_with(|c| c.core.max_list_entries = 2).await;
    for name in ["alice", "b1", "b2", "b3"] {
        server.add_user(name, "pw", None).await;
    }
    let mut alice = Client::login(server.msn(), "alice@hotmail.com", "pw", "alice@hotmail.com").await;
    alice
        .exchange(&[
            ("ADD 5 FL b1@hotmail.com b1", "ADD 5 FL 2 b1@hotmail.com b1"),
            ("ADD 6 FL b2@hotmail.com b2", "ADD 6 FL 3 b2@hotmail.com b2"),
            ("ADD 7 FL b3@hotmail.com b3", "210 7"),
            ("ADD 8 AL b3@hotmail.com b3", "ADD 8 AL 4 b3@hotmail.com b3"),
        ])
        .await;
}

#[tokio::test]
async fn any_configured_domain_names_the_same_account() {
    let server = TestServer::start_with(|c| {
        c.msn.domains = switchyard_msn::Domains::new(vec!["hotmail.com".into(), "msn.com".into()])
    })
    .await;
    server.add_user("alice", "secret", Some("Alice")).await;
    server.add_user("bob", "pw", None).await;
    let mut alice = online(server.msn(), "alice@msn.com", "secret", "Alice").await;
    alice.send("ADD 6 FL bob@msn.com Bob").await;
    alice.expect("ADD 6 FL 2 bob@hotmail.com Bob").await;
}
