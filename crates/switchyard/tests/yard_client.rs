//! The `yard` client library against the server: refused logins, "logged in elsewhere"
//! ending a client for good, and reconnecting after the server restarts.

mod common;

use common::TestServer;
use std::time::Duration;
use yard::{Account, Client, Disconnect, Error, Event, Options, Protocol};

const PATIENCE: Duration = Duration::from_secs(15);

fn account(server: &TestServer, protocol: Protocol, handle: &str, password: &str) -> Account {
    server.yard_account(protocol, handle, password)
}

fn quick() -> Options {
    Options { first_backoff: Duration::from_millis(100), ..Options::default() }
}

async fn next(client: &mut Client) -> Option<Event> {
    tokio::time::timeout(PATIENCE, client.next_event()).await.expect("an event in time")
}

/// Skips events until one matches.
async fn until(client: &mut Client, wanted: impl Fn(&Event) -> bool) -> Event {
    loop {
        let event = next(client).await.expect("the client is still running");
        if wanted(&event) {
            return event;
        }
    }
}

#[tokio::test]
async fn wrong_passwords_are_refused_at_connect() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", None).await;
    for (protocol, handle) in
        [(Protocol::Msn, "alice@hotmail.com"), (Protocol::Mrim, "alice@mail.ru"), (Protocol::MyIcq, "10001")]
    {
        let refused = Client::connect(account(&server, protocol, handle, "wrong"), quick()).await;
        // Said in words, not protocol codes (MRIM's words are the server's own).
        let expected = match protocol {
            Protocol::Msn => "wrong handle or password",
            Protocol::Mrim => "Invalid login",
            Protocol::MyIcq => "wrong UIN or password",
        };
        assert!(
            matches!(&refused, Err(Error::LoginRefused(why)) if why == expected),
            "{protocol}: {:?}",
            refused.err()
        );
        let ok = Client::connect(account(&server, protocol, handle, "secret"), quick()).await;
        assert!(ok.is_ok(), "{protocol}");
    }
}

#[tokio::test]
async fn a_login_elsewhere_ends_a_client_for_good() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", None).await;
    let both = [(Protocol::Msn, "alice@hotmail.com"), (Protocol::Mrim, "alice@mail.ru"), (Protocol::MyIcq, "10001")];
    for (protocol, handle) in both {
        let mut first = Client::connect(account(&server, protocol, handle, "secret"), quick()).await.unwrap();
        let _second = Client::connect(account(&server, protocol, handle, "secret"), quick()).await.unwrap();
        let ended = until(&mut first, |e| matches!(e, Event::Disconnected { .. })).await;
        assert_eq!(ended, Event::Disconnected { reason: Disconnect::LoggedInElsewhere }, "{protocol}");
        assert_eq!(next(&mut first).await, None, "{protocol}: no reconnect after a login elsewhere");
        assert!(matches!(first.send_message("x@mail.ru", "x").await, Err(Error::NotConnected)));
    }
}

#[tokio::test]
async fn clients_reconnect_when_the_server_comes_back() {
    let mut server = TestServer::start().await;
    server.add_user("alice", "secret", None).await;
    server.add_user("bob", "secret", None).await;
    // The same ports after the restart.
    server.config.msn.port = server.msn().port();
    server.config.mrim.port = server.running().address("mrim").unwrap().port();
    let mut msn =
        Client::connect(account(&server, Protocol::Msn, "alice@hotmail.com", "secret"), quick()).await.unwrap();
    // One session per account: Bob is the MRIM user.
    let mut mrim = Client::connect(account(&server, Protocol::Mrim, "bob@mail.ru", "secret"), quick()).await.unwrap();
    server.restart().await;
    for client in [&mut msn, &mut mrim] {
        let lost = until(client, |e| matches!(e, Event::Disconnected { .. })).await;
        assert_eq!(lost, Event::Disconnected { reason: Disconnect::ServerClosed });
        until(client, |e| matches!(e, Event::Reconnecting { .. })).await;
        until(client, |e| *e == Event::LoggedIn).await;
    }
    msn.set_status(yard::Status::Away).await.expect("the new connection works");
    mrim.set_status(yard::Status::Away).await.expect("the new connection works");
}

#[tokio::test]
async fn the_mrim_redirector_and_the_msn_dispatch_server_are_followed() {
    let server = TestServer::start_with(|config| config.msn.dispatch_port = Some(0)).await;
    server.add_user("alice", "secret", None).await;
    server.add_user("bob", "secret", None).await;
    let redirector = server.running().address("mrim-redirect").unwrap().to_string();
    let mrim = Account { server: redirector, ..account(&server, Protocol::Mrim, "bob@mail.ru", "secret") };
    let mut mrim = Client::connect(mrim, Options { mrim_redirector: true, ..quick() }).await.expect("redirected");
    assert_eq!(next(&mut mrim).await, Some(Event::LoggedIn));

    let dispatch = server.running().address("msn-dispatch").unwrap().to_string();
    let msn = Account { server: dispatch, ..account(&server, Protocol::Msn, "alice@hotmail.com", "secret") };
    let mut msn = Client::connect(msn, quick()).await.expect("referred");
    assert_eq!(next(&mut msn).await, Some(Event::LoggedIn));
    msn.send_message("bob@hotmail.com", "via the dispatch server").await.expect("delivered");
    let got = until(&mut mrim, |e| matches!(e, Event::Message { .. })).await;
    assert_eq!(got, Event::Message { from: "alice@mail.ru".into(), text: "via the dispatch server".into() });
}

#[tokio::test]
async fn refusals_are_said_in_words() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", None).await;
    let mrim = Client::connect(account(&server, Protocol::Mrim, "alice@mail.ru", "secret"), quick()).await.unwrap();
    let refused = mrim.send_message("nobody@mail.ru", "hello?").await;
    assert!(matches!(&refused, Err(Error::NotDelivered(why)) if why == "no such user"), "{refused:?}");
    let msn = Client::connect(account(&server, Protocol::Msn, "alice@hotmail.com", "secret"), quick()).await.unwrap();
    let refused = msn.add_contact("nobody@hotmail.com", "Nobody").await;
    assert!(matches!(&refused, Err(Error::Refused(why)) if why == "no such user"), "{refused:?}");
}

/// A client pointed at another protocol's port is told so, not "ServerClosed".
#[tokio::test]
async fn a_port_of_another_protocol_is_said_to_be_one() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", None).await;
    let mut msn_at_mrim = account(&server, Protocol::Msn, "alice@hotmail.com", "secret");
    msn_at_mrim.server = server.running().address("mrim").unwrap().to_string();
    let mut mrim_at_msn = account(&server, Protocol::Mrim, "alice@mail.ru", "secret");
    mrim_at_msn.server = server.running().address("msn").unwrap().to_string();
    for (wrong, protocol) in [(msn_at_mrim, "MSN"), (mrim_at_msn, "MRIM")] {
        let options = Options { reconnect: false, timeout: Duration::from_secs(5), ..quick() };
        match tokio::time::timeout(PATIENCE, Client::connect(wrong, options)).await.expect("an answer in time") {
            Err(Error::Unreachable(why)) => {
                assert!(why.contains(&format!("is this the server's {protocol} port?")), "{why}")
            }
            Err(other) => panic!("{protocol}: {other:?}"),
            Ok(_) => panic!("{protocol}: logged in at the wrong port"),
        }
    }
}

/// yard logs in with every dialect the server speaks (MD5 up to MSNP7, a Passport ticket from
/// the nexus from MSNP8), reads its contact list in that dialect's shape, changes it, and
/// talks to a user on another dialect.
#[tokio::test]
async fn yard_speaks_every_msn_dialect() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", None).await;
    server.add_user("bob", "bobpw", None).await;
    let nexus = format!("http://{}", server.running().address("http").unwrap());
    let options = |dialect| Options { msn_dialect: dialect, nexus: Some(nexus.clone()), reconnect: false, ..quick() };
    let mut bob =
        Client::connect(account(&server, Protocol::Msn, "bob@hotmail.com", "bobpw"), options(7)).await.unwrap();
    for dialect in 2..=12 {
        let alice_account = account(&server, Protocol::Msn, "alice@hotmail.com", "secret");
        let mut alice =
            Client::connect(alice_account, options(dialect)).await.unwrap_or_else(|e| panic!("MSNP{dialect}: {e}"));
        if dialect > 2 {
            // Added on the last login: the list says so in this dialect's own shape.
            let listed = until(&mut alice, |e| matches!(e, Event::Contact { .. } | Event::Presence { .. })).await;
            assert!(
                matches!(&listed, Event::Contact { handle, .. } if handle == "bob@hotmail.com"),
                "MSNP{dialect}: {listed:?}"
            );
            alice.remove_contact("bob@hotmail.com").await.unwrap_or_else(|e| panic!("MSNP{dialect} remove: {e}"));
        }
        alice.add_contact("bob@hotmail.com", "Bob").await.unwrap_or_else(|e| panic!("MSNP{dialect} add: {e}"));
        let text = format!("hello in MSNP{dialect}");
        alice.send_message("bob@hotmail.com", &text).await.unwrap_or_else(|e| panic!("MSNP{dialect} send: {e}"));
        let got = until(&mut bob, |e| matches!(e, Event::Message { .. })).await;
        assert_eq!(got, Event::Message { from: "alice@hotmail.com".into(), text }, "MSNP{dialect}");
        alice.logout().await.unwrap();
    }
    // A wrong password through the nexus is a refused login, in words.
    let wrong = account(&server, Protocol::Msn, "alice@hotmail.com", "wrong");
    let refused = Client::connect(wrong, options(9)).await;
    assert!(
        matches!(&refused, Err(Error::LoginRefused(why)) if why == "wrong handle or password"),
        "{:?}",
        refused.err()
    );
}

/// Over HTTPS the nexus's certificate must be trusted: the server's own self-signed one, given.
#[tokio::test]
async fn an_https_nexus_is_trusted_with_the_servers_certificate() {
    let server = TestServer::start().await;
    server.add_user("alice", "secret", None).await;
    let nexus = format!("https://localhost:{}", server.running().address("https").unwrap().port());
    let options =
        |ca| Options { msn_dialect: 12, nexus: Some(nexus.clone()), nexus_ca: ca, reconnect: false, ..quick() };
    let alice = || account(&server, Protocol::Msn, "alice@hotmail.com", "secret");
    let untrusted = Client::connect(alice(), options(None)).await;
    assert!(matches!(&untrusted, Err(Error::Unreachable(why)) if why.contains("nexus")), "{:?}", untrusted.err());
    let certificate = server.dir.path().join("tls/https.crt");
    assert!(certificate.exists(), "the server keeps its certificate at {}", certificate.display());
    let trusted = Client::connect(alice(), options(Some(certificate))).await;
    assert!(trusted.is_ok(), "{:?}", trusted.err());
}
