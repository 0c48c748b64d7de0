//! The bus suite across two nodes on the NATS server `SWITCHYARD_TEST_NATS` names (by default
//! the local one), each test under a subject prefix of its own so that tests run in parallel.

use std::sync::Arc;
use std::time::Duration;
use switchyard_bus_nats::{ClusterConfig, NatsBus};
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
    let mut config = ClusterConfig::new(&nats_url(), name);
    config.prefix = prefix.to_owned();
    config.heartbeat = Duration::from_millis(200);
    config.node_timeout = Duration::from_secs(2);
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
    switchyard_core::bus_suite::run(&a, &b, "nats").await;
}
