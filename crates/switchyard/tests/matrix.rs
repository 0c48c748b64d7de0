//! The one network, protocol pair by protocol pair, with the `yard` client on every side: for
//! each ordered pair of different protocols, a user of the first adds a user of the second,
//! who is told and authorizes them; presence is seen across; a message goes each way; and a message sent
//! while the other is away arrives at their next login (from an MSN sender, through the
//! switchboard the conversation was in: MSN itself has no offline messages, and a `CAL` to an
//! offline user is answered 217).

mod common;

use common::TestServer;
use std::time::Duration;
use switchyard_core::Account as Stored;
use yard::{Account, Client, Event, Options, Protocol, Status};

const PATIENCE: Duration = Duration::from_secs(15);

fn handle(protocol: Protocol, account: &Stored) -> String {
    match protocol {
        Protocol::Msn => format!("{}@hotmail.com", account.name),
        Protocol::Mrim => format!("{}@mail.ru", account.name),
        Protocol::MyIcq => account.uin.to_string(),
    }
}

fn server_address(server: &TestServer, protocol: Protocol) -> String {
    let role = match protocol {
        Protocol::Msn => "msn",
        Protocol::Mrim => "mrim",
        Protocol::MyIcq => "myicq",
    };
    server.running().address(role).unwrap().to_string()
}

async fn connect(server: &TestServer, protocol: Protocol, account: &Stored) -> Client {
    let account = Account {
        protocol,
        server: server_address(server, protocol),
        handle: handle(protocol, account),
        password: "pw".into(),
    };
    Client::connect(account, Options { reconnect: false, ..Options::default() }).await.expect("logs in")
}

/// Waits for the first event `pick` accepts.
async fn wait_for<T>(client: &mut Client, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let event = tokio::time::timeout_at(deadline, client.next_event())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}"))
            .unwrap_or_else(|| panic!("the client ended before {what}"));
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

/// The first message from `from` that ends with `ending` (notices such as "added you" may
/// come first); returns its whole text.
async fn message_from(client: &mut Client, from: &str, ending: &str) -> String {
    wait_for(client, &format!("a message from {from} ending {ending:?}"), |e| match e {
        Event::Message { from: f, text } if f == from && text.ends_with(ending) => Some(text.clone()),
        _ => None,
    })
    .await
}

async fn pair(p: Protocol, q: Protocol) {
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    let server = TestServer::start().await;
    let x = server.add_user("xavier", "pw", Some("Xavier")).await;
    let y = server.add_user("yvonne", "pw", Some("Yvonne")).await;
    let (x_as_seen_by_y, y_as_seen_by_x) = (handle(q, &x), handle(p, &y));
    let mut xc = connect(&server, p, &x).await;
    let mut yc = connect(&server, q, &y).await;

    // X adds Y, and Y is told in their protocol's way (MSN: the reverse list; MRIM: a request
    // to authorize or a notice; MyICQ: the request or "added you"); Y lets X in.
    xc.add_contact(&y_as_seen_by_x, "Yvonne").await.expect("the contact is added");
    wait_for(&mut yc, "word of being added", |e| match e {
        Event::AddedBy { handle } if *handle == x_as_seen_by_y => Some(()),
        Event::AuthorizationRequest { from, .. } if *from == x_as_seen_by_y => Some(()),
        Event::Message { from, text } if *from == x_as_seen_by_y && text.contains("added you") => Some(()),
        _ => None,
    })
    .await;
    yc.authorize(&x_as_seen_by_y).await.expect("authorized");
    yc.set_status(Status::Away).await.unwrap();
    let seen = wait_for(&mut xc, "Y away", |e| match e {
        Event::Presence { handle, status: Status::Away, .. } if *handle == y_as_seen_by_x => Some(()),
        _ => None,
    });
    seen.await;

    // A message each way.
    xc.send_message(&y_as_seen_by_x, "hello from the first").await.expect("delivered");
    assert_eq!(message_from(&mut yc, &x_as_seen_by_y, "hello from the first").await, "hello from the first");
    // Cyrillic crosses every pair: UTF-8, UTF-16LE and GBK all carry it.
    yc.send_message(&x_as_seen_by_y, "и обратно").await.expect("delivered");
    assert_eq!(message_from(&mut xc, &y_as_seen_by_x, "и обратно").await, "и обратно");

    // While Y is away, X writes; Y finds it at the next login.
    yc.logout().await.unwrap();
    wait_for(&mut xc, "Y offline", |e| match e {
        Event::Presence { handle, status: Status::Offline, .. } if *handle == y_as_seen_by_x => Some(()),
        _ => None,
    })
    .await;
    xc.send_message(&y_as_seen_by_x, "while you were out").await.expect("stored for later");
    let mut yc = connect(&server, q, &y).await;
    message_from(&mut yc, &x_as_seen_by_y, "while you were out").await;

    // And X takes Y off the list again.
    xc.remove_contact(&y_as_seen_by_x).await.expect("removed");
    // MyICQ acknowledges DEL_FRIEND before doing it: wait for it to be done.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let flags = server.running().store().relation_flags(x.id, y.id).await.unwrap();
        if !flags.contains(switchyard_core::RelationFlags::FORWARD) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still on the list: {flags:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

macro_rules! pairs {
    ($($name:ident: $p:ident -> $q:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            pair(Protocol::$p, Protocol::$q).await;
        }
    )*};
}

pairs! {
    msn_to_mrim: Msn -> Mrim,
    msn_to_myicq: Msn -> MyIcq,
    mrim_to_msn: Mrim -> Msn,
    mrim_to_myicq: Mrim -> MyIcq,
    myicq_to_msn: MyIcq -> Msn,
    myicq_to_mrim: MyIcq -> Mrim,
}

/// What X sees of Y as Y's visibility changes: Y lets only listed users see them, so X (who has
/// Y on their list) sees Y offline until Y authorizes X; then Y's going invisible and coming
/// back. Every route, the same protocol on both sides included.
async fn visibility(p: Protocol, q: Protocol) {
    let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
    let server = TestServer::start().await;
    let x = server.add_user("xavier", "pw", Some("Xavier")).await;
    let y = server.add_user("yvonne", "pw", Some("Yvonne")).await;
    let store = server.running().store();
    store.set_privacy(y.id, switchyard_core::Privacy::BlockUnlisted).await.unwrap();
    store.set_relation(x.id, y.id, switchyard_core::RelationFlags::FORWARD, Some("Yvonne")).await.unwrap();
    let (x_as_seen_by_y, y_as_seen_by_x) = (handle(q, &x), handle(p, &y));
    let mut xc = connect(&server, p, &x).await;
    xc.set_status(Status::Online).await.unwrap();
    let yc = connect(&server, q, &y).await;
    yc.set_status(Status::Online).await.unwrap();
    let y_is = |wanted: Status| {
        let y = y_as_seen_by_x.clone();
        move |e: &Event| match e {
            Event::Presence { handle, status, .. } if *handle == y => Some(*status == wanted),
            _ => None,
        }
    };
    // Y's first status reaches no one (X is not allowed): the grant is what shows Y online.
    yc.authorize(&x_as_seen_by_y).await.expect("authorized");
    assert!(wait_for(&mut xc, "Y shown after the grant", y_is(Status::Online)).await, "Y is shown offline");
    yc.set_status(Status::Invisible).await.unwrap();
    assert!(wait_for(&mut xc, "Y gone invisible", y_is(Status::Offline)).await, "Y is shown online");
    yc.set_status(Status::Online).await.unwrap();
    assert!(wait_for(&mut xc, "Y visible again", y_is(Status::Online)).await, "Y is shown offline");
}

macro_rules! visibility_routes {
    ($($name:ident: $p:ident -> $q:ident,)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            visibility(Protocol::$p, Protocol::$q).await;
        }
    )*};
}

visibility_routes! {
    visibility_msn_sees_msn: Msn -> Msn,
    visibility_msn_sees_mrim: Msn -> Mrim,
    visibility_msn_sees_myicq: Msn -> MyIcq,
    visibility_mrim_sees_msn: Mrim -> Msn,
    visibility_mrim_sees_mrim: Mrim -> Mrim,
    visibility_mrim_sees_myicq: Mrim -> MyIcq,
    visibility_myicq_sees_msn: MyIcq -> Msn,
    visibility_myicq_sees_mrim: MyIcq -> Mrim,
    visibility_myicq_sees_myicq: MyIcq -> MyIcq,
}
