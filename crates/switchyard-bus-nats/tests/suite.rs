//! The bus suite across two nodes on the NATS server `SWITCHYARD_TEST_NATS` names (by default
//! the local one), each test under a subject prefix of its own so that tests run in parallel.

use std::sync::Arc;
use std::time::Duration;
use switchyard_bus_nats::{ClusterConfig, NatsBus};
use switchyard_core::bus_suite::text;
use switchyard_core::memory::MemoryStore;
use switchyard_core::{Core, CoreConfig, Store};

fn nats_url() -> String {
    std::env::var("SWITCHYARD_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("test{}x{nanos}", std::process::id())
}

async fn node(store: &Arc<dyn Store>, prefix: &str, name: &str) -> (Core, Arc<NatsBus>) {
    node_with(store, prefix, name, |_| {}).await
}

async fn node_with(
    store: &Arc<dyn Store>,
    prefix: &str,
    name: &str,
    adjust: impl FnOnce(&mut ClusterConfig),
) -> (Core, Arc<NatsBus>) {
    let mut config = ClusterConfig::new(&nats_url(), name);
    config.prefix = prefix.to_owned();
    config.heartbeat = Duration::from_millis(200);
    config.node_timeout = Duration::from_secs(2);
    adjust(&mut config);
    let bus = NatsBus::connect(config).await.unwrap_or_else(|e| {
        panic!("{e}. These tests need a NATS server: start the local one (`.ci/run` does) or name another in SWITCHYARD_TEST_NATS")
    });
    (Core::with_bus(store.clone(), bus.clone(), CoreConfig::default()), bus)
}

/// Waits until each node has heard the other.
async fn met(a: &NatsBus, b: &NatsBus) {
    for _ in 0..100 {
        if a.live_nodes().len() == 1 && b.live_nodes().len() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the nodes never heard each other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_pass_the_bus_suite() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let prefix = unique_prefix();
    let (a, bus_a) = node(&store, &prefix, "a").await;
    let (b, bus_b) = node(&store, &prefix, "b").await;
    met(&bus_a, &bus_b).await;
    // What no node sends — garbage, truncated JSON, a huge batch of nonsense — is dropped
    // (with a log line) and changes nothing.
    let stranger = async_nats::connect(nats_url()).await.unwrap();
    let huge = format!("[{}]", vec!["{\"to\":1}"; 100_000].join(","));
    for subject in ["sessions", "heartbeat", "node.a.event", "node.a.accept", "node.a.outcome", "node.b.accept"] {
        for payload in [&b"\xff\x00garbage"[..], b"{\"node\":\"x\",\"changes\":[", huge.as_bytes()] {
            stranger.publish(format!("{prefix}.{subject}"), payload.to_vec().into()).await.unwrap();
        }
    }
    stranger.flush().await.unwrap();
    switchyard_core::bus_suite::run(&a, &b, "nats").await;
    assert_eq!((bus_a.live_nodes().len(), bus_b.live_nodes().len()), (1, 1), "no node was made up");
}

/// A node that stops beating (killed, or cut off from NATS) is buried: its users are offline
/// to the watchers elsewhere, and what is sent to them is queued for their next login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_is_buried_and_its_users_messages_are_queued() {
    use switchyard_core::Delivery;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let prefix = unique_prefix();
    let (a, bus_a) = node(&store, &prefix, "a").await;
    let (b, bus_b) = node(&store, &prefix, "b").await;
    met(&bus_a, &bus_b).await;
    let (alice, bob, mut alices, bobs) = alice_and_bob_online(&store, &a, &b).await;

    // Node b goes silent with bob's session in it: no logout is ever told.
    let silent = tokio::time::Instant::now();
    bus_b.close().await;
    seen(&mut alices, bob.id, false).await;
    let gone = silent.elapsed();
    assert!(gone < Duration::from_secs(4), "buried after the 2 s timeout, not much later: {gone:?}");
    assert!(a.online_presence(bob.id).is_none());
    let message = text(&alice, "are you there?");
    assert!(matches!(a.deliver(bob.id, message).await.unwrap(), Delivery::Queued(_)));
    assert_eq!(store.offline_messages(bob.id).await.unwrap().len(), 1);
    drop(bobs);
}

/// A message for a node that stopped listening (killed) but is not buried yet is queued as
/// soon as NATS says no one listens, not after `request_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_for_a_node_that_stopped_listening_is_queued_at_once() {
    use switchyard_core::Delivery;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let prefix = unique_prefix();
    let patient = |config: &mut ClusterConfig| {
        config.node_timeout = Duration::from_secs(60);
        config.request_timeout = Duration::from_secs(60);
    };
    let (a, bus_a) = node_with(&store, &prefix, "a", patient).await;
    let (b, bus_b) = node_with(&store, &prefix, "b", patient).await;
    met(&bus_a, &bus_b).await;
    let (alice, bob, _alices, bobs) = alice_and_bob_online(&store, &a, &b).await;

    bus_b.close().await;
    // Until NATS has heard node b's subscriptions end, a message would go to no one unnoticed.
    let quick = async_nats::ConnectOptions::new().request_timeout(Some(Duration::from_millis(200)));
    let stranger = quick.connect(nats_url()).await.unwrap();
    let accepts = format!("{prefix}.node.b.accept");
    for _ in 0..100 {
        match stranger.request(accepts.clone(), "".into()).await {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => break,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(a.online_presence(bob.id).is_some(), "node b is not buried yet");
    let sent = tokio::time::Instant::now();
    let delivered = tokio::time::timeout(Duration::from_secs(10), a.deliver(bob.id, text(&alice, "still there?")))
        .await
        .expect("queued long before the minute's request timeout")
        .unwrap();
    assert!(matches!(delivered, Delivery::Queued(_)), "{delivered:?}");
    assert!(sent.elapsed() < Duration::from_secs(2), "queued after {:?}", sent.elapsed());
    assert_eq!(store.offline_messages(bob.id).await.unwrap().len(), 1);
    drop(bobs);
}

/// A NATS server of the test's own, which it may stop and start again on the same port.
struct OwnNats {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnNats {
    fn start() -> OwnNats {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut nats = OwnNats { port, child: None };
        nats.start_again();
        nats
    }

    fn start_again(&mut self) {
        let child = std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server is installed");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not start");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// NATS stops: each node goes on serving its own users, a message across goes to the durable
/// queue, the other node's users look offline; NATS returns: the nodes meet again and each
/// one's users are seen again without logging in anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_outlive_a_nats_outage_and_meet_again() {
    use switchyard_core::Delivery;
    let mut nats = OwnNats::start();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let start = |name: &'static str| {
        let (store, url) = (store.clone(), nats.url());
        async move {
            let mut config = ClusterConfig::new(&url, name);
            config.heartbeat = Duration::from_millis(200);
            config.node_timeout = Duration::from_secs(2);
            config.request_timeout = Duration::from_secs(1);
            let bus = NatsBus::connect(config).await.unwrap();
            (Core::with_bus(store, bus.clone(), CoreConfig::default()), bus)
        }
    };
    let ((a, bus_a), (b, bus_b)) = (start("a").await, start("b").await);
    met(&bus_a, &bus_b).await;
    let (alice, bob, mut alices, bobs) = alice_and_bob_online(&store, &a, &b).await;

    nats.stop();
    let during = a.deliver(bob.id, text(&alice, "during the outage")).await.unwrap();
    assert!(matches!(during, Delivery::Queued(_)), "{during:?}");
    seen(&mut alices, bob.id, false).await;

    nats.start_again();
    seen(&mut alices, bob.id, true).await;
    for _ in 0..100 {
        if b.is_visibly_online(alice.id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(a.is_visibly_online(bob.id) && b.is_visibly_online(alice.id), "each sees the other's users again");
    assert_eq!(store.offline_messages(bob.id).await.unwrap().len(), 1, "the queued message waits for bob");
    drop(bobs);
}

/// Waits until the session is told `who` is online (or offline).
async fn seen(session: &mut switchyard_core::Session, who: switchyard_core::AccountId, online: bool) {
    use switchyard_core::Event;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), session.next_event()).await.expect("a presence in time") {
            Ok(Event::Presence { contact, presence }) if contact.id == who && presence.is_some() == online => return,
            Ok(_) => continue,
            Err(reason) => panic!("the session ended: {reason:?}"),
        }
    }
}

/// Alice on node `a` and Bob on node `b`, each on the other's list, both online, Alice told of
/// Bob; their accounts and sessions.
async fn alice_and_bob_online(
    store: &Arc<dyn Store>,
    a: &Core,
    b: &Core,
) -> (switchyard_core::Account, switchyard_core::Account, switchyard_core::Session, switchyard_core::Session) {
    use switchyard_core::{AccountName, ListKind, Presence, Status};
    let create = |name: &str| {
        let store = store.clone();
        let name = AccountName::new(name).unwrap();
        async move { store.create_account(&name, "pw", None).await.unwrap() }
    };
    let (alice, bob) = (create("alice").await, create("bob").await);
    a.add_to_list(&alice, ListKind::Forward, &bob.name, "").await.unwrap();
    b.add_to_list(&bob, ListKind::Forward, &alice.name, "").await.unwrap();
    let mut alices = a
        .login(
            alice.clone(),
            "alice".into(),
            switchyard_core::ClientInfo::new(switchyard_core::Protocol::Msn, "test", None),
        )
        .await
        .unwrap();
    a.come_online(&alices, Presence::new(Status::Online, "alice".into())).await.unwrap();
    let bobs = b
        .login(
            bob.clone(),
            "bob".into(),
            switchyard_core::ClientInfo::new(switchyard_core::Protocol::Msn, "test", None),
        )
        .await
        .unwrap();
    b.come_online(&bobs, Presence::new(Status::Online, "bob".into())).await.unwrap();
    seen(&mut alices, bob.id, true).await;
    (alice, bob, alices, bobs)
}
