//! The core's behaviour on the in-memory store.

use crate::bus_suite::text as message;
use crate::memory::MemoryStore;
use crate::{
    Account, AccountName, Core, CoreConfig, CoreError, Delivery, Event, KickReason, ListKind, Message, MessageKind,
    Presence, Privacy, Session, ShownQueue, Status,
};
use crate::{ClientInfo, Destination, Protocol};
use std::sync::Arc;

fn core_with(config: CoreConfig) -> Core {
    Core::new(Arc::new(MemoryStore::new()), config)
}

async fn account(core: &Core, name: &str) -> Account {
    core.store().create_account(&AccountName::new(name).unwrap(), "pw", None).await.unwrap()
}

async fn online(core: &Core, account: &Account) -> Session {
    online_on(core, account, Protocol::Msn).await
}

async fn online_on(core: &Core, account: &Account, protocol: Protocol) -> Session {
    let client = ClientInfo::new(protocol, "test 1.0", Some([127, 0, 0, 9].into()));
    let session = core.login(account.clone(), account.name.to_string(), client).await.unwrap();
    core.set_presence(&session, presence(account, Status::Online)).await.unwrap();
    session
}

fn presence(account: &Account, status: Status) -> Presence {
    Presence::new(status, account.name.to_string())
}

/// The next event, which must already be queued.
async fn next(session: &mut Session) -> Result<Event, KickReason> {
    tokio::time::timeout(std::time::Duration::from_secs(5), session.next_event()).await.expect("an event")
}

/// The next event, which must be a message: its client has it.
async fn receive(session: &mut Session) -> Message {
    match next(session).await {
        Ok(Event::Message(message, handoff)) => {
            handoff.received();
            message
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Delivers to an online recipient, whose client receives it.
async fn deliver_live(core: &Core, session: &mut Session, message: Message) -> (Result<Delivery, CoreError>, Message) {
    let accepted = core.accept(session.account.id, message).await;
    let received = receive(session).await;
    (accepted.await, received)
}

fn nothing_queued(session: &mut Session) {
    let polled = futures_poll_once(session.next_event());
    assert!(polled.is_none(), "unexpected event {polled:?}");
}

/// Polls a future once with a no-op waker: `Some` if it was ready.
fn futures_poll_once<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

#[tokio::test]
async fn the_memory_store_passes_the_conformance_suite() {
    crate::store_suite::run(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_keeps_concurrent_writers_apart() {
    let store: Arc<dyn crate::Store> = Arc::new(MemoryStore::new());
    crate::store_suite::run_concurrent(store.clone(), store).await;
}

#[tokio::test]
async fn a_second_login_kicks_the_first_and_watchers_see_it_leave() {
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    core.add_to_list(&bob, ListKind::Forward, &alice.name, "A").await.unwrap();
    let mut bob_session = online(&core, &bob).await;
    let mut first = online(&core, &alice).await;
    assert!(matches!(next(&mut bob_session).await, Ok(Event::Presence { presence: Some(_), .. })));

    let second = core
        .login(alice.clone(), "alice".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    assert_eq!(next(&mut first).await, Err(KickReason::LoggedInElsewhere));
    assert!(matches!(next(&mut bob_session).await, Ok(Event::Presence { presence: None, .. })));
    // The old session's own logout must not end the new one.
    core.logout(&mut first).await.unwrap();
    assert_eq!(core.online_count(), 2);
    core.set_presence(&second, presence(&alice, Status::Away)).await.unwrap();
    assert!(matches!(core.set_presence(&first, presence(&alice, Status::Busy)).await, Err(CoreError::SessionGone)));
}

#[tokio::test]
async fn messages_go_live_or_to_the_durable_queue_and_respect_blocks() {
    let core = core_with(CoreConfig::default());
    let (alice, bob, eve) = (account(&core, "alice").await, account(&core, "bob").await, account(&core, "eve").await);
    assert!(matches!(core.deliver(bob.id, message(&alice, "later")).await, Ok(Delivery::Queued(_))));
    let mut bob_session = online(&core, &bob).await;
    let (delivery, received) = deliver_live(&core, &mut bob_session, message(&alice, "now")).await;
    assert_eq!((delivery.unwrap(), received), (Delivery::Live, message(&alice, "now")));

    let queued = core.pending_offline(bob.id, &mut ShownQueue::default()).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].message.text, "later");
    core.acknowledge_offline(bob.id, queued[0].id);
    core.close().await;
    assert!(core.pending_offline(bob.id, &mut ShownQueue::default()).await.unwrap().is_empty());

    core.add_to_list(&bob, ListKind::Block, &eve.name, "eve").await.unwrap();
    assert!(matches!(core.deliver(bob.id, message(&eve, "hi")).await, Err(CoreError::NotAllowed)));
    core.set_privacy(bob.id, Privacy::BlockUnlisted).await.unwrap();
    assert!(matches!(core.deliver(bob.id, message(&alice, "hi")).await, Err(CoreError::NotAllowed)));
    core.add_to_list(&bob, ListKind::Allow, &alice.name, "alice").await.unwrap();
    let (delivery, received) = deliver_live(&core, &mut bob_session, message(&alice, "hi")).await;
    assert_eq!((delivery.unwrap(), received), (Delivery::Live, message(&alice, "hi")));
}

#[tokio::test]
async fn reading_the_queue_again_brings_only_what_was_not_shown() {
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    core.deliver(bob.id, message(&alice, "first")).await.unwrap();
    let mut shown = ShownQueue::default();
    let texts =
        |queued: Vec<crate::store::StoredMessage>| queued.into_iter().map(|m| m.message.text).collect::<Vec<_>>();
    assert_eq!(texts(core.pending_offline(bob.id, &mut shown).await.unwrap()), ["first"]);
    core.deliver(bob.id, message(&alice, "second")).await.unwrap();
    assert_eq!(texts(core.pending_offline(bob.id, &mut shown).await.unwrap()), ["second"], "first was shown");
    assert!(core.pending_offline(bob.id, &mut shown).await.unwrap().is_empty());
    // Shown but never acknowledged: a new session (a new `ShownQueue`) gets both again.
    assert_eq!(texts(core.pending_offline(bob.id, &mut ShownQueue::default()).await.unwrap()), ["first", "second"]);
}

/// The sender found Bob offline, Bob logged in and read his queue, then the message was
/// stored: his session is told to read the queue again.
#[tokio::test]
async fn a_message_queued_after_the_recipient_logged_in_is_announced() {
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut bob_session = online(&core, &bob).await;
    let mut shown = ShownQueue::default();
    assert!(core.pending_offline(bob.id, &mut shown).await.unwrap().is_empty());
    core.journal().store(message(&alice, "late").queued_for(bob.id)).await.unwrap();
    assert_eq!(next(&mut bob_session).await, Ok(Event::OfflineWaiting));
    let queued = core.pending_offline(bob.id, &mut shown).await.unwrap();
    assert_eq!(queued.iter().map(|m| m.message.text.as_str()).collect::<Vec<_>>(), ["late"]);
}

#[tokio::test]
async fn a_session_that_does_not_read_is_closed_and_nothing_is_lost() {
    let core = core_with(CoreConfig { session_queue: 4, ..CoreConfig::default() });
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut bob_session = online(&core, &bob).await;
    // Bob's front ends his session when it is kicked, as every front does.
    let ending = {
        let core = core.clone();
        tokio::spawn(async move {
            assert_eq!(next(&mut bob_session).await, Err(KickReason::TooSlow));
            core.logout(&mut bob_session).await.unwrap();
        })
    };
    let mut deliveries = Vec::new();
    for i in 0..6 {
        deliveries.push(core.accept(bob.id, message(&alice, &i.to_string())).await);
    }
    ending.await.unwrap();
    // Every one is safe (stored: he never read any), and the four he was handed and never read
    // went back to the queue before the two that did not fit: all six wait for him, in order.
    for accepted in deliveries {
        assert!(matches!(accepted.await, Ok(Delivery::Queued(_))));
    }
    let queued = core.pending_offline(bob.id, &mut ShownQueue::default()).await.unwrap();
    let texts: Vec<&str> = queued.iter().map(|m| m.message.text.as_str()).collect();
    assert_eq!(texts, ["0", "1", "2", "3", "4", "5"]);
}

#[tokio::test]
async fn presence_reaches_only_watchers_who_are_allowed() {
    let core = core_with(CoreConfig::default());
    let alice = account(&core, "alice").await;
    let bob = account(&core, "bob").await;
    let carol = account(&core, "carol").await;
    for watcher in [&bob, &carol] {
        core.add_to_list(watcher, ListKind::Forward, &alice.name, "alice").await.unwrap();
    }
    core.add_to_list(&alice, ListKind::Block, &carol.name, "carol").await.unwrap();
    let mut bob_session = online(&core, &bob).await;
    let mut carol_session = online(&core, &carol).await;
    let alice_session = online(&core, &alice).await;
    assert_eq!(
        next(&mut bob_session).await,
        Ok(Event::Presence { contact: alice.to_ref(), presence: Some(presence(&alice, Status::Online)) })
    );
    nothing_queued(&mut carol_session);
    core.set_presence(&alice_session, presence(&alice, Status::Invisible)).await.unwrap();
    assert_eq!(next(&mut bob_session).await, Ok(Event::Presence { contact: alice.to_ref(), presence: None }));
    nothing_queued(&mut carol_session);
    // What a new session of Bob's sees as it comes online.
    let again = core
        .login(bob.clone(), "bob".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    let visible = core.come_online(&again, presence(&bob, Status::Online)).await.unwrap();
    assert!(visible.is_empty(), "invisible users are not listed");
    core.set_presence(&alice_session, presence(&alice, Status::Away)).await.unwrap();
    let again = core
        .login(bob.clone(), "bob".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    let visible = core.come_online(&again, presence(&bob, Status::Online)).await.unwrap();
    assert_eq!(visible, vec![(alice.to_ref(), presence(&alice, Status::Away))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sessions_log_in_and_out_concurrently() {
    let core = core_with(CoreConfig::default());
    let mut accounts = Vec::new();
    for i in 0..64 {
        accounts.push(account(&core, &format!("user{i}")).await);
    }
    for pair in accounts.chunks(2) {
        core.add_to_list(&pair[0], ListKind::Forward, &pair[1].name, "x").await.unwrap();
        core.add_to_list(&pair[1], ListKind::Forward, &pair[0].name, "x").await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for account in accounts {
        let core = core.clone();
        tasks.spawn(async move {
            for _ in 0..20 {
                let mut session = online(&core, &account).await;
                core.logout(&mut session).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(core.online_count(), 0);
}

#[tokio::test]
async fn authorization_ignoring_typing_and_a_full_mailbox() {
    let core = core_with(CoreConfig { max_offline_messages: 2, ..CoreConfig::default() });
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    core.set_privacy(bob.id, Privacy::BlockUnlisted).await.unwrap();
    assert!(matches!(core.deliver(bob.id, message(&alice, "hi")).await, Err(CoreError::NotAllowed)));
    let request = Message { kind: MessageKind::AuthorizationRequest, ..message(&alice, "may I?") };
    assert!(matches!(core.deliver(bob.id, request.clone()).await, Ok(Delivery::Queued(_))), "asking is allowed");
    let eve = account(&core, "eve").await;
    core.add_to_list(&bob, ListKind::Block, &eve.name, "eve").await.unwrap();
    let from_eve = Message { from: eve.to_ref(), ..request };
    assert!(matches!(core.deliver(bob.id, from_eve).await, Err(CoreError::NotAllowed)), "but not when blocked");

    // Bob authorizes alice: she may reach him now, and her session hears of it.
    let mut alice_session = online(&core, &alice).await;
    core.authorize(&bob, &alice.name).await.unwrap();
    assert_eq!(next(&mut alice_session).await, Ok(Event::Authorized { by: bob.to_ref() }));
    assert!(matches!(core.deliver(bob.id, message(&alice, "one")).await, Ok(Delivery::Queued(_))));
    assert!(matches!(core.deliver(bob.id, message(&alice, "two")).await, Err(CoreError::QueueFull)));

    let typing = Message { kind: MessageKind::Typing, ..message(&alice, " ") };
    assert!(matches!(core.deliver(alice.id, typing.clone()).await, Ok(Delivery::Live)));
    assert!(matches!(core.deliver(bob.id, typing).await, Err(CoreError::NotOnline)), "typing is never queued");

    // Ignoring drops silently, whatever else the relation says.
    let flags = core.store().relation_flags(alice.id, bob.id).await.unwrap();
    core.change_relation(&alice, &bob.to_ref(), flags, flags | crate::RelationFlags::IGNORE, None).await.unwrap();
    assert_eq!(
        next(&mut alice_session).await,
        Ok(Event::Message(Message { kind: MessageKind::Typing, ..message(&alice, " ") }, crate::Handoff::none()))
    );
    assert_eq!(core.deliver(alice.id, message(&bob, "psst")).await.unwrap(), Delivery::Ignored);
    nothing_queued(&mut alice_session);
}

#[tokio::test]
async fn an_invisible_user_is_seen_online_by_those_it_is_always_visible_to() {
    use crate::RelationFlags as F;
    let core = core_with(CoreConfig::default());
    let (alice, bob, carol) =
        (account(&core, "alice").await, account(&core, "bob").await, account(&core, "carol").await);
    for watcher in [&bob, &carol] {
        core.add_to_list(watcher, ListKind::Forward, &alice.name, "alice").await.unwrap();
    }
    let mut bob_session = online(&core, &bob).await;
    let mut carol_session = online(&core, &carol).await;
    core.change_relation(&alice, &bob.to_ref(), F::NONE, F::VISIBLE_TO, None).await.unwrap();
    let alice_session = core
        .login(alice.clone(), "alice".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    core.set_presence(&alice_session, presence(&alice, Status::Invisible)).await.unwrap();
    assert_eq!(
        next(&mut bob_session).await,
        Ok(Event::Presence { contact: alice.to_ref(), presence: Some(presence(&alice, Status::Online)) })
    );
    nothing_queued(&mut carol_session);
    // "Always invisible to" wins over being online.
    core.change_relation(&alice, &bob.to_ref(), F::VISIBLE_TO, F::INVISIBLE_TO, None).await.unwrap();
    assert_eq!(next(&mut bob_session).await, Ok(Event::Presence { contact: alice.to_ref(), presence: None }));
    core.set_presence(&alice_session, presence(&alice, Status::Online)).await.unwrap();
    assert!(matches!(next(&mut carol_session).await, Ok(Event::Presence { presence: Some(_), .. })));
    nothing_queued(&mut bob_session);
}

#[tokio::test]
async fn broadcasts_reach_every_session_but_the_senders_and_random_picks_only_visible_strangers() {
    let core = core_with(CoreConfig::default());
    let (admin, bob, carol, dave) = (
        account(&core, "admin").await,
        account(&core, "bob").await,
        account(&core, "carol").await,
        account(&core, "dave").await,
    );
    let mut admin_session = online(&core, &admin).await;
    let mut bob_session = online(&core, &bob).await;
    let carol_session = core
        .login(carol.clone(), "carol".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    core.set_presence(&carol_session, presence(&carol, Status::Invisible)).await.unwrap();
    let _dave_session = online(&core, &dave).await;
    core.set_privacy(dave.id, Privacy::BlockUnlisted).await.unwrap();

    let notice = Message { kind: MessageKind::Broadcast, ..message(&admin, "maintenance") };
    let id = core.broadcast(notice.clone()).await.unwrap();
    assert_eq!(next(&mut bob_session).await, Ok(Event::Broadcast { id, message: notice }));
    nothing_queued(&mut admin_session);
    assert_eq!(core.store().unseen_broadcasts(carol.id, 8).await.unwrap()[0].id, id, "stored for whoever logs in");

    // Carol is invisible and dave shows himself to his allow list only: neither is picked.
    for _ in 0..20 {
        assert_eq!(core.random_online(10, admin.id), vec![bob.id]);
    }
    assert!(core.random_online(10, bob.id).contains(&admin.id));
    assert_eq!(core.random_online(1, dave.id).len(), 1);
}

#[tokio::test]
async fn direct_connection_offers_are_never_queued() {
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let offer = Message { kind: MessageKind::DirectConnectionRequest, ..message(&alice, "") };
    assert!(matches!(core.deliver(bob.id, offer.clone()).await, Err(CoreError::NotOnline)));
    assert_eq!(core.store().offline_count(bob.id).await.unwrap(), 0);
    let mut bob_session = online(&core, &bob).await;
    assert_eq!(core.deliver(bob.id, offer.clone()).await.unwrap(), Delivery::Live);
    assert_eq!(next(&mut bob_session).await, Ok(Event::Message(offer, crate::Handoff::none())));
}

#[tokio::test]
async fn accounts_are_found_by_name_and_uin_online_or_not() {
    let core = core_with(CoreConfig::default());
    let alice = account(&core, "alice").await;
    let found = |core: Core| async move {
        let by_name = core.account_by_name(&AccountName::new("alice").unwrap()).await.unwrap();
        let by_uin = core.account_by_uin(10001).await.unwrap();
        (by_name, by_uin)
    };
    assert_eq!(found(core.clone()).await, (Some(alice.clone()), Some(alice.clone())));
    let mut session = online(&core, &alice).await;
    assert_eq!(found(core.clone()).await, (Some(alice.clone()), Some(alice.clone())));
    core.logout(&mut session).await.unwrap();
    assert_eq!(found(core.clone()).await, (Some(alice.clone()), Some(alice)));
    assert_eq!(core.account_by_uin(99999).await.unwrap(), None);
}

/// What the queue holds for an account, oldest first, whoever holds it.
async fn stored_texts(core: &Core, account: &Account) -> Vec<String> {
    core.store().offline_messages(account.id).await.unwrap().into_iter().map(|m| m.message.text).collect()
}

#[tokio::test(start_paused = true)]
async fn a_message_its_client_receives_within_the_grace_never_touches_the_disk() {
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut bob_session = online(&core, &bob).await;
    let (delivery, _) = deliver_live(&core, &mut bob_session, message(&alice, "quick")).await;
    assert_eq!(delivery.unwrap(), Delivery::Live);
    core.close().await;
    tokio::time::sleep(CoreConfig::default().delivery_grace * 2).await;
    assert!(stored_texts(&core, &bob).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_message_not_received_in_time_is_stored_held_and_forgotten_on_receipt() {
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut bob_session = online(&core, &bob).await;
    // Nobody takes it off Bob's queue: after the grace it is stored and Alice hears so.
    let delivery = core.deliver(bob.id, message(&alice, "slow")).await.unwrap();
    assert!(matches!(delivery, Delivery::Queued(_)));
    assert_eq!(stored_texts(&core, &bob).await, ["slow"]);
    // Bob's session carries it: reading the queue does not bring it a second time.
    assert!(core.pending_offline(bob.id, &mut ShownQueue::default()).await.unwrap().is_empty());
    assert_eq!(receive(&mut bob_session).await.text, "slow");
    core.close().await;
    assert!(stored_texts(&core, &bob).await.is_empty(), "deleted once received");
}

#[tokio::test(start_paused = true)]
async fn what_an_ended_session_carried_comes_to_the_next_one() {
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut first = online(&core, &bob).await;
    let stored = core.accept(bob.id, message(&alice, "one")).await;
    tokio::time::sleep(CoreConfig::default().delivery_grace * 2).await;
    let in_memory = core.accept(bob.id, message(&alice, "two")).await;
    // One stored while the session carried it, one only in memory: the session ends unread.
    let mut second = core
        .login(bob.clone(), "bob".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    let mut shown = ShownQueue::default();
    let read_at_login = core.pending_offline(bob.id, &mut shown).await.unwrap();
    assert!(read_at_login.is_empty(), "the old session still carries them");
    assert!(matches!(next(&mut first).await, Err(KickReason::LoggedInElsewhere)));
    core.logout(&mut first).await.unwrap();
    assert!(matches!(stored.await, Ok(Delivery::Queued(_))));
    assert!(matches!(in_memory.await, Ok(Delivery::Queued(_))));
    // The new session is told, and reads both, in order, once.
    let mut texts = Vec::new();
    while texts.len() < 2 {
        assert_eq!(next(&mut second).await, Ok(Event::OfflineWaiting));
        texts.extend(core.pending_offline(bob.id, &mut shown).await.unwrap().into_iter().map(|m| m.message.text));
    }
    assert_eq!(texts, ["one", "two"]);
}

#[tokio::test(start_paused = true)]
async fn a_message_written_but_not_confirmed_is_kept_until_the_session_ends() {
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut bob_session = online(&core, &bob).await;
    let accepted = core.accept(bob.id, message(&alice, "awaiting receipt")).await;
    let Ok(Event::Message(_, handoff)) = next(&mut bob_session).await else { panic!("a message") };
    handoff.written();
    assert_eq!(accepted.await.unwrap(), Delivery::Live, "written: the sender may hear it");
    tokio::time::sleep(CoreConfig::default().delivery_grace * 2).await;
    core.close().await;
    assert!(stored_texts(&core, &bob).await.is_empty(), "in the client's hands, not stored");
    drop(handoff);
    core.close().await;
    assert_eq!(stored_texts(&core, &bob).await, ["awaiting receipt"], "never confirmed: kept for later");
}

#[tokio::test(start_paused = true)]
async fn a_session_holding_too_many_bytes_is_closed_and_nothing_is_lost() {
    let core = core_with(CoreConfig { session_bytes: 1000, ..CoreConfig::default() });
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut bob_session = online(&core, &bob).await;
    let big = "x".repeat(400);
    let mut accepted = Vec::new();
    for _ in 0..3 {
        accepted.push(core.accept(bob.id, message(&alice, &big)).await);
    }
    assert_eq!(next(&mut bob_session).await.unwrap_err(), KickReason::TooSlow);
    core.logout(&mut bob_session).await.unwrap();
    for accepted in accepted {
        assert!(matches!(accepted.await, Ok(Delivery::Queued(_))));
    }
    assert_eq!(stored_texts(&core, &bob).await.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn past_the_memory_limit_messages_go_to_the_queue_first() {
    let core = core_with(CoreConfig { memory_bytes: 500, ..CoreConfig::default() });
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut bob_session = online(&core, &bob).await;
    let first = core.accept(bob.id, message(&alice, &"a".repeat(400))).await;
    let second = core.accept(bob.id, message(&alice, &"b".repeat(400))).await;
    assert!(receive(&mut bob_session).await.text.starts_with('a'));
    assert_eq!(first.await.unwrap(), Delivery::Live);
    assert!(matches!(second.await, Ok(Delivery::Queued(_))), "stored without being held in memory");
    assert_eq!(next(&mut bob_session).await, Ok(Event::OfflineWaiting));
    assert_eq!(stored_texts(&core, &bob).await, ["b".repeat(400)]);
}

#[tokio::test(start_paused = true)]
async fn closing_stores_what_is_only_in_memory() {
    let core = core_with(CoreConfig { delivery_grace: std::time::Duration::from_secs(3600), ..CoreConfig::default() });
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let _bob_session = online(&core, &bob).await;
    let accepted = core.accept(bob.id, message(&alice, "in flight")).await;
    core.close().await;
    assert!(matches!(accepted.await, Ok(Delivery::Queued(_))));
    assert_eq!(stored_texts(&core, &bob).await, ["in flight"]);
}

/// Counts how often the task it stands for is woken.
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_of_settled_messages_wakes_their_sender_once_when_it_is_done() {
    use std::future::Future;
    use std::sync::atomic::Ordering::SeqCst;
    let core = core_with(CoreConfig::default());
    let (alice, bob) = (account(&core, "alice").await, account(&core, "bob").await);
    let mut bob_session = online(&core, &bob).await;
    let mut first = Box::pin(core.accept(bob.id, message(&alice, "one")).await);
    let mut second = Box::pin(core.accept(bob.id, message(&alice, "two")).await);
    let sender = Arc::new(CountingWaker(Default::default()));
    let waker = std::task::Waker::from(sender.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(first.as_mut().poll(&mut cx).is_pending() && second.as_mut().poll(&mut cx).is_pending());
    let Ok(Event::Message(_, one)) = next(&mut bob_session).await else { panic!("a message") };
    let Ok(Event::Message(_, two)) = next(&mut bob_session).await else { panic!("a message") };
    let mut told = crate::Settlements::default();
    told.written(&one);
    told.received(two);
    assert_eq!(sender.0.load(SeqCst), 0, "nobody is woken while the batch is being settled");
    drop(told);
    assert_eq!(sender.0.load(SeqCst), 1, "then the sender once, for both");
    assert_eq!(first.await.unwrap(), Delivery::Live);
    assert_eq!(second.await.unwrap(), Delivery::Live);
    drop(one);
}

#[tokio::test]
async fn a_session_that_has_not_read_its_list_is_guarded_by_the_stored_privacy_mode() {
    let core = core_with(CoreConfig::default());
    let (bob, eve) = (account(&core, "bob").await, account(&core, "eve").await);
    core.store().set_privacy(bob.id, Privacy::BlockUnlisted).await.unwrap();
    // Logged in, list not read yet: the session does not know its mode, the store does.
    let mut session = core
        .login(bob.clone(), "bob".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    assert!(matches!(core.deliver(bob.id, message(&eve, "hi")).await, Err(CoreError::NotAllowed)));
    core.set_presence(&session, presence(&bob, Status::Online)).await.unwrap();
    assert!(matches!(core.deliver(bob.id, message(&eve, "hi")).await, Err(CoreError::NotAllowed)));
    // Nor does the strictest mode stand in for an unknown one when messages are checked.
    let carol = account(&core, "carol").await;
    let mut carols = core
        .login(carol.clone(), "carol".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    let (delivered, _) = deliver_live(&core, &mut carols, message(&eve, "hello")).await;
    assert!(delivered.is_ok(), "{delivered:?}");
    // A change made while the session runs is the one that counts from then on.
    core.set_privacy(bob.id, Privacy::AllowUnlisted).await.unwrap();
    let (delivered, received) = deliver_live(&core, &mut session, message(&eve, "now")).await;
    assert!(delivered.is_ok(), "{delivered:?}");
    assert_eq!(received.text, "now");
}

#[tokio::test]
async fn activity_counts_sessions_logins_messages_by_route_and_presence_changes() {
    let core = core_with(CoreConfig::default());
    let (alice, bob, carol) =
        (account(&core, "alice").await, account(&core, "bob").await, account(&core, "carol").await);
    let mut alices = online_on(&core, &alice, Protocol::Mrim).await;
    let mut bobs = online_on(&core, &bob, Protocol::MyIcq).await;
    deliver_live(&core, &mut bobs, message(&alice, "to icq")).await.0.unwrap();
    core.deliver(carol.id, message(&alice, "to the queue")).await.unwrap();
    let typing = Message { kind: MessageKind::Typing, ..message(&alice, "") };
    let _ = core.deliver(bob.id, typing).await;
    let counts = core.activity();
    assert_eq!(counts.sessions_of(Protocol::Mrim), 1);
    assert_eq!(counts.sessions_of(Protocol::MyIcq), 1);
    assert_eq!(counts.sessions_of(Protocol::Msn), 0);
    assert_eq!(counts.messages_on(Protocol::Mrim, Destination::Session(Protocol::MyIcq)), 1, "typing is no message");
    assert_eq!(counts.messages_on(Protocol::Mrim, Destination::Queue), 1);
    assert_eq!(counts.presence_changes, 2);

    let online = core.online_sessions();
    let mine = online.iter().find(|s| s.account.id == alice.id).unwrap();
    let client = mine.client.as_ref().unwrap();
    assert_eq!(
        (mine.protocol, &*client.version, client.address),
        (Protocol::Mrim, "test 1.0", Some([127, 0, 0, 9].into()))
    );

    // A second login replaces the first: still one session, two logins.
    let mut again = online_on(&core, &alice, Protocol::Msn).await;
    core.logout(&mut alices).await.unwrap();
    let counts = core.activity();
    assert_eq!((counts.sessions_of(Protocol::Mrim), counts.sessions_of(Protocol::Msn)), (0, 1));
    assert_eq!((counts.logins_of(Protocol::Mrim), counts.logins_of(Protocol::Msn)), (1, 1));
    core.logout(&mut again).await.unwrap();
    core.logout(&mut bobs).await.unwrap();
    assert_eq!(core.activity().sessions, [0, 0, 0]);
    assert!(core.online_sessions().is_empty());
}

#[tokio::test]
async fn one_node_alone_passes_the_bus_suite() {
    let core = core_with(CoreConfig::default());
    crate::bus_suite::run(&core, &core, "local").await;
}
