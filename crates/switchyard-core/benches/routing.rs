//! Routing one message from one session to another through the core (privacy checks against
//! the store, the hand-over to the recipient's session queue, the session taking it and its
//! client receiving it, the sender hearing so), on the in-memory store.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::Arc;
use switchyard_core::memory::MemoryStore;
use switchyard_core::{AccountName, Core, CoreConfig, Delivery, Event, Message, MessageKind, Presence, Status};

fn routing(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (core, alice, mut bob) = runtime.block_on(async {
        let core = Core::new(Arc::new(MemoryStore::new()), CoreConfig::default());
        let store = core.store();
        let alice = store.create_account(&AccountName::new("alice").unwrap(), "pw", None).await.unwrap();
        let bob = store.create_account(&AccountName::new("bob").unwrap(), "pw", None).await.unwrap();
        let session = core
            .login(
                bob.clone(),
                "bob".into(),
                switchyard_core::ClientInfo::new(switchyard_core::Protocol::Msn, "test", None),
            )
            .await
            .unwrap();
        core.set_presence(&session, Presence::new(Status::Online, "bob".into())).await.unwrap();
        (core, alice, session)
    });
    let message = Message {
        from: alice.to_ref(),
        from_display_name: "alice".into(),
        kind: MessageKind::Text,
        text: "Hello there, how are you doing today?".into(),
        formatted: None,
        font: None,
        wants_receipt: true,
        sent_at: 0,
    };
    let to = bob.account.id;
    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(1));
    group.bench_function("deliver to an online session and take it off its queue", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    let accepted = core.accept(to, message.clone()).await;
                    let Ok(Event::Message(_, handoff)) = bob.next_event().await else { panic!("a message") };
                    handoff.received();
                    assert_eq!(accepted.await.unwrap(), Delivery::Live);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
