//! The `yard` client library against the server: refused logins, "logged in elsewhere"
//! ending a client for good, and reconnecting after the server restarts.

mod common;

use common::TestServer;
use std::time::Duration;
use yard::{Account, Client, Disconnect, Error, Event, Options, Protocol};

const PATIENCE: Duration = Duration::from_secs(15);

fn account(server: &TestServer, protocol: Protocol, handle: &str, password: &str) -> Account {
    let role = match protocol {
        Protocol::Msn => "msn",
        Protocol::Mrim => "mrim",
        Protocol::MyIcq => "myicq",
    };
    let server = server.running().address(role).unwrap().to_string();
    Account { protocol, server, handle: handle.into(), password: password.into() }
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
