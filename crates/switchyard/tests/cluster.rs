//! Three nodes, one network: `switchyard serve` processes on 127.0.0.2, .3 and .4 sharing one
//! PostgreSQL database and one NATS (the local ones, or those `SWITCHYARD_TEST_POSTGRES` and
//! `SWITCHYARD_TEST_NATS` name), users on different nodes and protocols, and a node killed.

#[path = "../../switchyard-msn/tests/support/client.rs"]
mod msn_client;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard_core::{AccountName, RelationFlags, Store};
use switchyard_store_postgres::scratch::ScratchDatabase;
use switchyard_store_postgres::PostgresStore;
use yard::{Account, Client, Disconnect, Event, Options, Protocol, Status};

const PATIENCE: Duration = Duration::from_secs(15);
/// The nodes' `cluster.node_timeout_secs` here.
const NODE_TIMEOUT: Duration = Duration::from_secs(2);

fn nats_url() -> String {
    std::env::var("SWITCHYARD_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A node: a `switchyard serve` process and its listening addresses.
struct Node {
    child: Child,
    msn: SocketAddr,
    mrim: SocketAddr,
    myicq: SocketAddr,
    msn_dispatch: SocketAddr,
    mrim_redirect: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(ip: &str, name: &str, database: &str, prefix: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("switchyard.toml");
        let mut file = std::fs::File::create(&config).unwrap();
        writeln!(file, "[cluster]\nprefix = \"{prefix}\"\nheartbeat_ms = 200\nnode_timeout_secs = 2").unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--store", database, "serve", "--bind", ip, "--msn-port", "0", "--mrim-port", "0"])
            .args(["--mrim-redirect-port", "0", "--msn-dispatch-port", "0"])
            .args(["--http-port", "0", "--https-port", "off", "--myicq-port", "0"])
            .args(["--cluster-nats", &nats_url(), "--node", name])
            .env_remove("SWITCHYARD_STORE_URL")
            .env("SWITCHYARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut listeners = std::collections::HashMap::new();
        while listeners.len() < 5 {
            let line = lines.next().expect("the node prints its listeners").unwrap();
            let mut words = line.split(' ').skip(1);
            if let (Some(role), Some(address)) = (words.next(), words.next()) {
                if ["msn", "mrim", "myicq", "msn-dispatch", "mrim-redirect"].contains(&role) {
                    listeners.insert(role.to_owned(), address.parse::<SocketAddr>().unwrap());
                }
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let (msn, mrim, myicq) = (listeners["msn"], listeners["mrim"], listeners["myicq"]);
        let (msn_dispatch, mrim_redirect) = (listeners["msn-dispatch"], listeners["mrim-redirect"]);
        Node { child, msn, mrim, myicq, msn_dispatch, mrim_redirect, _dir: dir }
    }

    fn account(&self, protocol: Protocol, handle: &str) -> Account {
        let server = match protocol {
            Protocol::Msn => self.msn,
            Protocol::Mrim => self.mrim,
            Protocol::MyIcq => self.myicq,
        };
        Account { protocol, server: server.to_string(), handle: handle.into(), password: "pw".into() }
    }

    fn kill(&mut self) {
        let killed = Command::new("kill").args(["-KILL", &self.child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options() -> Options {
    Options { reconnect: false, timeout: Duration::from_secs(10), ..Options::default() }
}

/// Events until one that `want` picks.
async fn until<T>(client: &mut Client, what: &str, mut want: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let event = tokio::time::timeout_at(deadline, client.next_event())
            .await
            .unwrap_or_else(|_| panic!("no {what} in time"))
            .unwrap_or_else(|| panic!("the client ended waiting for {what}"));
        if let Some(found) = want(&event) {
            return found;
        }
    }
}

fn presence_of(name: &str, status: Status) -> impl FnMut(&Event) -> Option<()> + '_ {
    move |event| match event {
        Event::Presence { handle, status: s, .. } if handle.starts_with(name) && *s == status => Some(()),
        _ => None,
    }
}

fn message_from<'a>(name: &'a str, text: &'a str) -> impl FnMut(&Event) -> Option<()> + 'a {
    move |event| match event {
        Event::Message { from, text: t, .. } if from.starts_with(name) && t.contains(text) => Some(()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_make_one_network_and_survive_losing_one() {
    let database = ScratchDatabase::create().await;
    let prefix = format!("cluster{}", std::process::id());
    let store = PostgresStore::open(&database.url).await.unwrap();
    let mut ids = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        ids.push(store.create_account(&AccountName::new(name).unwrap(), "pw", None).await.unwrap().id);
    }
    let (alice, bob, carol, dave) = (ids[0], ids[1], ids[2], ids[3]);
    for (x, y) in [(alice, bob), (bob, alice), (alice, carol), (carol, alice), (dave, bob), (bob, dave)] {
        store.set_relation(x, y, RelationFlags::FORWARD, None).await.unwrap();
    }
    let two = Node::start("127.0.0.2", "two", &database.url, &prefix);
    let three = Node::start("127.0.0.3", "three", &database.url, &prefix);
    let mut four = Node::start("127.0.0.4", "four", &database.url, &prefix);

    // Presence and messages across nodes and protocols: alice on MRIM at two, bob on MSN at three.
    let mut alices = Client::connect(two.account(Protocol::Mrim, "alice@mail.ru"), options()).await.unwrap();
    let mut bobs = Client::connect(three.account(Protocol::Msn, "bob@hotmail.com"), options()).await.unwrap();
    until(&mut alices, "bob online", presence_of("bob@", Status::Online)).await;
    until(&mut bobs, "alice online", presence_of("alice@", Status::Online)).await;
    alices.send_message("bob@mail.ru", "hello from node two").await.unwrap();
    until(&mut bobs, "alice's message", message_from("alice@", "hello from node two")).await;
    bobs.send_message("alice@hotmail.com", "hello from node three").await.unwrap();
    until(&mut alices, "bob's message", message_from("bob@", "hello from node three")).await;

    // MSN to MSN across nodes: the switchboard is opened on the inviter's node, and the
    // invitee's node brings the conversation to its client.
    let mut daves = Client::connect(two.account(Protocol::Msn, "dave@hotmail.com"), options()).await.unwrap();
    until(&mut daves, "bob online", presence_of("bob@", Status::Online)).await;
    daves.send_message("bob@hotmail.com", "msn to msn").await.unwrap();
    until(&mut bobs, "dave's message", message_from("dave@", "msn to msn")).await;
    bobs.send_message("dave@hotmail.com", "and back").await.unwrap();
    until(&mut daves, "bob's answer", message_from("bob@", "and back")).await;
    daves.logout().await.unwrap();

    // A message for someone offline, sent on node two, read on node four.
    alices.send_message("carol@mail.ru", "read me anywhere").await.unwrap();
    let mut carols = Client::connect(four.account(Protocol::Mrim, "carol@mail.ru"), options()).await.unwrap();
    until(&mut carols, "the queued message", message_from("alice@", "read me anywhere")).await;
    until(&mut alices, "carol online", presence_of("carol@", Status::Online)).await;

    // Bob logs in again on node four: his session on node three ends.
    let mut bobs_again = Client::connect(four.account(Protocol::Msn, "bob@hotmail.com"), options()).await.unwrap();
    let ended = until(&mut bobs, "the end of the first session", |event| match event {
        Event::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ended, Disconnect::LoggedInElsewhere);
    alices.send_message("bob@mail.ru", "you moved").await.unwrap();
    until(&mut bobs_again, "the message after moving", message_from("alice@", "you moved")).await;

    // Node four dies with bob and carol on it: alice sees them go within the node timeout
    // and a heartbeat or two, and what she sends bob meanwhile waits for him.
    four.kill();
    let killed = Instant::now();
    // Until node four is buried, the others think bob is on it; once NATS knows that nobody
    // listens there, a message for him is queued at once, not after the request timeout (5 s).
    nobody_listens_at(&prefix, "four").await;
    let sent = Instant::now();
    alices.send_message("bob@mail.ru", "while four lies dead").await.unwrap();
    assert!(sent.elapsed() < Duration::from_secs(2), "acknowledged after {:?}", sent.elapsed());
    until(&mut alices, "bob offline", presence_of("bob@", Status::Offline)).await;
    until(&mut alices, "carol offline", presence_of("carol@", Status::Offline)).await;
    let noticed = killed.elapsed();
    assert!(noticed < NODE_TIMEOUT + Duration::from_secs(3), "noticed after {noticed:?}");
    alices.send_message("bob@mail.ru", "after the crash").await.unwrap();
    let mut bobs_third = Client::connect(two.account(Protocol::Msn, "bob@hotmail.com"), options()).await.unwrap();
    until(&mut bobs_third, "the message sent before the burial", message_from("alice@", "while four lies dead")).await;
    until(&mut bobs_third, "the message sent while he was gone", message_from("alice@", "after the crash")).await;
    drop(three);
}

/// Waits until the NATS server knows that no node listens for `node`'s messages.
async fn nobody_listens_at(prefix: &str, node: &str) {
    let quick = async_nats::ConnectOptions::new().request_timeout(Some(Duration::from_millis(200)));
    let nats = quick.connect(nats_url()).await.unwrap();
    for _ in 0..100 {
        match nats.request(format!("{prefix}.node.{node}.accept"), "".into()).await {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => return,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    panic!("NATS still has a listener for node {node}");
}

/// How `account` is named to a client of `protocol`.
fn handle_in(protocol: Protocol, account: &switchyard_core::Account) -> String {
    match protocol {
        Protocol::Msn => format!("{}@hotmail.com", account.name),
        Protocol::Mrim => format!("{}@mail.ru", account.name),
        Protocol::MyIcq => account.uin.to_string(),
    }
}

/// One route across nodes, as `matrix.rs` walks it on one server: x on node two (protocol
/// `p`) adds y on node three (protocol `q`), who is told in their protocol's way and
/// authorizes x; x sees y's status; a message goes each way.
async fn route(two: Account, three: Account, x: switchyard_core::Account, y: switchyard_core::Account) {
    let (p, q) = (two.protocol, three.protocol);
    let (x_as_seen_by_y, y_as_seen_by_x) = (handle_in(q, &x), handle_in(p, &y));
    let route = format!("{p:?} to {q:?}");
    // Y logs in first: by the time x is logged in, x's node has long heard of y's session
    // (what is sent for a session its node has not heard of yet is what its next list read, or
    // the queue read a moment after its first status, makes up for).
    let mut ys = Client::connect(Account { handle: handle_in(q, &y), ..three }, options()).await.unwrap();
    let mut xs = Client::connect(Account { handle: handle_in(p, &x), ..two }, options()).await.unwrap();
    xs.add_contact(&y_as_seen_by_x, "Y").await.unwrap_or_else(|e| panic!("{route}: add: {e}"));
    until(&mut ys, &format!("{route}: word of being added"), |e| match e {
        Event::AddedBy { handle } if *handle == x_as_seen_by_y => Some(()),
        Event::AuthorizationRequest { from, .. } if *from == x_as_seen_by_y => Some(()),
        Event::Message { from, text } if *from == x_as_seen_by_y && text.contains("added you") => Some(()),
        _ => None,
    })
    .await;
    ys.authorize(&x_as_seen_by_y).await.unwrap_or_else(|e| panic!("{route}: authorize: {e}"));
    ys.set_status(Status::Away).await.unwrap();
    until(&mut xs, &format!("{route}: y away"), |e| match e {
        Event::Presence { handle, status: Status::Away, .. } if *handle == y_as_seen_by_x => Some(()),
        _ => None,
    })
    .await;
    xs.send_message(&y_as_seen_by_x, "across the nodes").await.unwrap_or_else(|e| panic!("{route}: {e}"));
    until(&mut ys, &format!("{route}: x's message"), |e| match e {
        Event::Message { from, text } if *from == x_as_seen_by_y && text.ends_with("across the nodes") => Some(()),
        _ => None,
    })
    .await;
    ys.send_message(&x_as_seen_by_y, "и обратно").await.unwrap_or_else(|e| panic!("{route}: {e}"));
    until(&mut xs, &format!("{route}: y's answer"), |e| match e {
        Event::Message { from, text } if *from == y_as_seen_by_x && text.ends_with("и обратно") => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_nine_routes_cross_nodes() {
    let database = ScratchDatabase::create().await;
    let prefix = format!("routes{}", std::process::id());
    let store = PostgresStore::open(&database.url).await.unwrap();
    let two = Node::start("127.0.0.2", "two", &database.url, &prefix);
    let three = Node::start("127.0.0.3", "three", &database.url, &prefix);
    let protocols = [Protocol::Msn, Protocol::Mrim, Protocol::MyIcq];
    let mut routes = tokio::task::JoinSet::new();
    for (i, p) in protocols.into_iter().enumerate() {
        for (j, q) in protocols.into_iter().enumerate() {
            let x = store.create_account(&AccountName::new(&format!("x{i}{j}")).unwrap(), "pw", None).await.unwrap();
            let y = store.create_account(&AccountName::new(&format!("y{i}{j}")).unwrap(), "pw", None).await.unwrap();
            routes.spawn(route(two.account(p, ""), three.account(q, ""), x, y));
        }
    }
    while let Some(done) = routes.join_next().await {
        done.unwrap();
    }
}

/// `CAL`s `handle` into the switchboard until it rings: the callee's login takes a moment to
/// reach the caller's node, and until then the callee is not online there (`217`).
async fn call(board: &mut msn_client::Client, first_trid: u32, handle: &str) -> u32 {
    let deadline = Instant::now() + PATIENCE;
    for trid in first_trid.. {
        board.send(&format!("CAL {trid} {handle}")).await;
        let answer = board.line().await;
        if answer.starts_with(&format!("CAL {trid} RINGING ")) {
            return trid;
        }
        assert_eq!(answer, format!("217 {trid}"));
        assert!(Instant::now() < deadline, "{handle} never became callable");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!()
}

/// The `RNG` a notification connection receives: the switchboard's address, its session and
/// the cookie to answer with.
async fn rung(notification: &mut msn_client::Client, caller: &str) -> (SocketAddr, String, String) {
    let line = notification.line().await;
    let words: Vec<&str> = line.split(' ').collect();
    assert!(words.len() == 7 && words[0] == "RNG" && words[3] == "CKI" && words[5] == caller, "{line}");
    (words[2].parse().unwrap(), words[1].to_owned(), words[4].to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_msn_switchboard_rings_users_of_other_nodes_to_the_node_it_lives_on() {
    use msn_client::{online, Client as Line};
    let database = ScratchDatabase::create().await;
    let prefix = format!("board{}", std::process::id());
    let store = PostgresStore::open(&database.url).await.unwrap();
    let mut ids = Vec::new();
    for (name, nickname) in [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")] {
        let name = AccountName::new(name).unwrap();
        ids.push(store.create_account(&name, "pw", Some(nickname)).await.unwrap().id);
    }
    let (alice, bob, carol) = (ids[0], ids[1], ids[2]);
    // Bob and carol let alice reach them whatever their privacy mode.
    for callee in [bob, carol] {
        store.set_relation(callee, alice, RelationFlags::ALLOW, None).await.unwrap();
    }
    let two = Node::start("127.0.0.2", "two", &database.url, &prefix);
    let three = Node::start("127.0.0.3", "three", &database.url, &prefix);
    let four = Node::start("127.0.0.4", "four", &database.url, &prefix);
    let mut alice_ns = online(two.msn, "alice@hotmail.com", "pw", "Alice").await;
    let mut bob_ns = online(three.msn, "bob@hotmail.com", "pw", "Bob").await;
    let mut carol_ns = online(four.msn, "carol@hotmail.com", "pw", "Carol").await;

    // Alice opens a switchboard on node two and calls bob (node three) and carol (node four)
    // into it: each is rung to node two, where the conversation is.
    alice_ns.send("XFR 6 SB").await;
    let xfr = alice_ns.line().await;
    let cookie = xfr.rsplit(' ').next().unwrap().to_owned();
    assert!(xfr.starts_with(&format!("XFR 6 SB {} CKI ", two.msn)), "{xfr}");
    let mut alices = Line::connect(two.msn).await;
    alices.exchange(&[(&format!("USR 1 alice@hotmail.com {cookie}"), "USR 1 OK alice@hotmail.com Alice")]).await;

    let trid = call(&mut alices, 2, "bob@hotmail.com").await;
    let (address, session, cookie) = rung(&mut bob_ns, "alice@hotmail.com").await;
    assert_eq!(address, two.msn);
    let mut bobs = Line::connect(address).await;
    bobs.send(&format!("ANS 1 bob@hotmail.com {cookie} {session}")).await;
    bobs.expect("IRO 1 1 1 alice@hotmail.com Alice").await;
    bobs.expect("ANS 1 OK").await;
    alices.expect("JOI bob@hotmail.com Bob").await;

    call(&mut alices, trid + 1, "carol@hotmail.com").await;
    let (address, session, cookie) = rung(&mut carol_ns, "alice@hotmail.com").await;
    assert_eq!(address, two.msn);
    let mut carols = Line::connect(address).await;
    carols.send(&format!("ANS 1 carol@hotmail.com {cookie} {session}")).await;
    carols.expect("IRO 1 1 2 alice@hotmail.com Alice").await;
    carols.expect("IRO 1 2 2 bob@hotmail.com Bob").await;
    carols.expect("ANS 1 OK").await;
    alices.expect("JOI carol@hotmail.com Carol").await;
    bobs.expect("JOI carol@hotmail.com Carol").await;

    // One conversation of three, whoever speaks.
    let hello = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello both";
    alices.send_msg(50, "A", hello).await;
    bobs.expect_msg("alice@hotmail.com", "Alice", hello).await;
    carols.expect_msg("alice@hotmail.com", "Alice", hello).await;
    alices.expect("ACK 50").await;
    let answer = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi from three";
    bobs.send_msg(2, "N", answer).await;
    alices.expect_msg("bob@hotmail.com", "Bob", answer).await;
    carols.expect_msg("bob@hotmail.com", "Bob", answer).await;
    carols.send("OUT").await;
    alices.expect("BYE carol@hotmail.com").await;
    bobs.expect("BYE carol@hotmail.com").await;
}

/// The MRIM redirector's answer.
async fn redirected(redirector: SocketAddr) -> String {
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(redirector).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.trim_end().to_owned()
}

/// The MSN dispatch's referral for a login.
async fn referred(dispatch: SocketAddr) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(dispatch).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    write.write_all(b"VER 1 MSNP8 CVR0\r\n").await.unwrap();
    lines.next_line().await.unwrap().unwrap();
    write.write_all(b"USR 2 TWN I alice@hotmail.com\r\n").await.unwrap();
    let xfr = lines.next_line().await.unwrap().unwrap();
    let words: Vec<&str> = xfr.split(' ').collect();
    assert_eq!(&words[..3], ["XFR", "2", "NS"], "{xfr}");
    words[3].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_and_redirector_send_logins_to_the_least_loaded_node() {
    let database = ScratchDatabase::create().await;
    let prefix = format!("spread{}", std::process::id());
    let store = PostgresStore::open(&database.url).await.unwrap();
    for name in ["alice", "bob"] {
        store.create_account(&AccountName::new(name).unwrap(), "pw", None).await.unwrap();
    }
    let two = Node::start("127.0.0.2", "two", &database.url, &prefix);
    let three = Node::start("127.0.0.3", "three", &database.url, &prefix);
    // Alone with its users, a node keeps the logins it is asked for.
    assert_eq!(redirected(two.mrim_redirect).await, two.mrim.to_string());
    assert_eq!(referred(two.msn_dispatch).await, two.msn.to_string());

    let _alice = Client::connect(two.account(Protocol::Mrim, "alice@mail.ru"), options()).await.unwrap();
    let _bob = Client::connect(two.account(Protocol::Msn, "bob@hotmail.com"), options()).await.unwrap();
    // Once node three's heartbeat says it is emptier, node two sends new logins there.
    let deadline = Instant::now() + PATIENCE;
    while redirected(two.mrim_redirect).await != three.mrim.to_string() {
        assert!(Instant::now() < deadline, "the redirector never sent a login to the emptier node");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(referred(two.msn_dispatch).await, three.msn.to_string());
    // And node three, the emptier, keeps its own.
    assert_eq!(redirected(three.mrim_redirect).await, three.mrim.to_string());
    assert_eq!(referred(three.msn_dispatch).await, three.msn.to_string());
}
