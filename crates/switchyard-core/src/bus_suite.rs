//! The conformance suite of every [`crate::bus::Bus`]: two nodes' cores on one store. With
//! [`crate::bus::LocalBus`] both are the same core; with a bus spanning nodes, each test's
//! users sit on different nodes and every route crosses between them.

use crate::{Account, AccountName, Core, Delivery, Event, KickReason, ListKind, Message, MessageKind, Presence};
use crate::{Session, ShownQueue, Status};
use std::future::Future;
use std::time::Duration;

/// How long a change may take to reach the other node.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs every test with users on `a` and on `b`. `tag` keeps each run's account names apart.
pub async fn run(a: &Core, b: &Core, tag: &str) {
    presence_crosses_both_ways(a, b, &format!("{tag}p")).await;
    messages_cross_and_are_delivered_live(a, b, &format!("{tag}m")).await;
    a_login_on_one_node_ends_the_session_on_the_other(a, b, &format!("{tag}r")).await;
    a_message_queued_on_one_node_is_read_on_the_other(a, b, &format!("{tag}o")).await;
    a_message_queued_before_a_node_knew_the_session_is_read_a_moment_later(a, b, &format!("{tag}k")).await;
    events_for_list_changes_cross(a, b, &format!("{tag}l")).await;
    disabling_on_one_node_ends_the_session_on_the_other(a, b, &format!("{tag}d")).await;
}

async fn account(core: &Core, name: &str) -> Account {
    core.store().create_account(&AccountName::new(name).unwrap(), "pw", None).await.unwrap()
}

async fn friends(core: &Core, x: &Account, y: &Account) {
    core.add_to_list(x, ListKind::Forward, &y.name, "").await.unwrap();
    core.add_to_list(y, ListKind::Forward, &x.name, "").await.unwrap();
}

/// A plain text message from `from`.
pub fn text(from: &Account, text: &str) -> Message {
    Message {
        from: from.to_ref(),
        from_display_name: from.name.to_string(),
        kind: MessageKind::Text,
        text: text.into(),
        formatted: None,
        font: None,
        wants_receipt: true,
        sent_at: 1,
    }
}

/// Waits until `check` holds, for at most [`PATIENCE`].
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next event other than presence and list notices, within [`PATIENCE`].
async fn next_event(session: &mut Session) -> Result<Event, KickReason> {
    tokio::time::timeout(PATIENCE, session.next_event()).await.expect("an event in time")
}

/// Events until one that `want` picks, which it returns.
async fn wait_for<T>(session: &mut Session, what: &str, mut want: impl FnMut(Event) -> Option<T>) -> T {
    loop {
        match next_event(session).await {
            Ok(event) => {
                if let Some(found) = want(event) {
                    return found;
                }
            }
            Err(reason) => panic!("session ended ({reason:?}) waiting for {what}"),
        }
    }
}

async fn online(core: &Core, account: &Account) -> Session {
    let session = core
        .login(account.clone(), account.name.to_string(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None))
        .await
        .unwrap();
    core.come_online(&session, Presence::new(Status::Online, account.name.to_string())).await.unwrap();
    session
}

async fn presence_crosses_both_ways(a: &Core, b: &Core, tag: &str) {
    let alice = account(a, &format!("{tag}-alice")).await;
    let bob = account(a, &format!("{tag}-bob")).await;
    friends(a, &alice, &bob).await;
    let mut alices = online(a, &alice).await;
    eventually("alice seen online from b", || async { b.is_visibly_online(alice.id) }).await;
    eventually("every session of the network counted by its protocol", || async {
        b.sessions_by_protocol().iter().sum::<u64>() as usize == b.online_count()
    })
    .await;
    let bobs =
        b.login(bob.clone(), "bob".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None)).await.unwrap();
    let seen = b.come_online(&bobs, Presence::new(Status::Away, "bob".into())).await.unwrap();
    assert_eq!(seen.iter().map(|(who, p)| (who.id, p.status)).collect::<Vec<_>>(), [(alice.id, Status::Online)]);
    let status = wait_for(&mut alices, "bob's presence", |event| match event {
        Event::Presence { contact, presence } if contact.id == bob.id => Some(presence.map(|p| p.status)),
        _ => None,
    })
    .await;
    assert_eq!(status, Some(Status::Away));
    let mut bobs = bobs;
    b.logout(&mut bobs).await.unwrap();
    // (A repeat of his status may come first: a node looks again for contacts elsewhere.)
    wait_for(&mut alices, "bob leaving", |event| match event {
        Event::Presence { contact, presence: None } if contact.id == bob.id => Some(()),
        _ => None,
    })
    .await;
    eventually("bob gone everywhere", || async { a.online_presence(bob.id).is_none() }).await;
    a.logout(&mut alices).await.unwrap();
}

async fn messages_cross_and_are_delivered_live(a: &Core, b: &Core, tag: &str) {
    let alice = account(a, &format!("{tag}-alice")).await;
    let bob = account(a, &format!("{tag}-bob")).await;
    friends(a, &alice, &bob).await;
    let mut bobs = online(b, &bob).await;
    eventually("bob seen online from a", || async { a.is_visibly_online(bob.id) }).await;
    let accepted = a.accept(bob.id, text(&alice, "hello across")).await;
    let received = wait_for(&mut bobs, "the message", |event| match event {
        Event::Message(message, handoff) => {
            handoff.received();
            Some(message)
        }
        _ => None,
    })
    .await;
    assert_eq!(received.text, "hello across");
    assert_eq!(tokio::time::timeout(PATIENCE, accepted).await.expect("settled").unwrap(), Delivery::Live);
    b.logout(&mut bobs).await.unwrap();
}

async fn a_login_on_one_node_ends_the_session_on_the_other(a: &Core, b: &Core, tag: &str) {
    let carol = account(a, &format!("{tag}-carol")).await;
    let mut first = online(a, &carol).await;
    eventually("carol seen from b", || async { b.is_visibly_online(carol.id) }).await;
    let mut second = online(b, &carol).await;
    let ended = loop {
        match next_event(&mut first).await {
            Err(reason) => break reason,
            Ok(_) => continue,
        }
    };
    assert_eq!(ended, KickReason::LoggedInElsewhere);
    a.logout(&mut first).await.unwrap();
    assert!(b.online_presence(carol.id).is_some(), "the later session stays");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(second.try_next_event().is_none_or(|e| e.is_ok()), "and is not ended by the earlier one's end");
    b.logout(&mut second).await.unwrap();
}

async fn a_message_queued_on_one_node_is_read_on_the_other(a: &Core, b: &Core, tag: &str) {
    let dave = account(a, &format!("{tag}-dave")).await;
    let erin = account(a, &format!("{tag}-erin")).await;
    friends(a, &dave, &erin).await;
    let delivered = a.deliver(erin.id, text(&dave, "while you were out")).await.unwrap();
    assert!(matches!(delivered, Delivery::Queued(_)), "{delivered:?}");
    let erins =
        b.login(erin.clone(), "erin".into(), crate::ClientInfo::new(crate::Protocol::Msn, "test", None)).await.unwrap();
    let waiting = b.pending_offline(erin.id, &mut ShownQueue::default()).await.unwrap();
    assert_eq!(waiting.iter().map(|m| m.message.text.as_str()).collect::<Vec<_>>(), ["while you were out"]);
    let mut erins = erins;
    b.logout(&mut erins).await.unwrap();
}

/// A node that had not heard yet of a session elsewhere queues what it is sent: the session's
/// own node has it read a moment after its first status. (One node alone has no such moment:
/// a queued message finds the session, if there is one.)
async fn a_message_queued_before_a_node_knew_the_session_is_read_a_moment_later(a: &Core, b: &Core, tag: &str) {
    if !b.bus().spans_nodes() {
        return;
    }
    let hal = account(a, &format!("{tag}-hal")).await;
    let ida = account(a, &format!("{tag}-ida")).await;
    let mut idas = online(b, &ida).await;
    // As node a does when it does not know of ida's session yet: straight to the queue.
    a.store().enqueue_offline(&text(&hal, "before your node was known").queued_for(ida.id)).await.unwrap();
    wait_for(&mut idas, "word of the queue", |event| matches!(event, Event::OfflineWaiting).then_some(())).await;
    let waiting = b.pending_offline(ida.id, &mut ShownQueue::default()).await.unwrap();
    assert_eq!(waiting.iter().map(|m| m.message.text.as_str()).collect::<Vec<_>>(), ["before your node was known"]);
    b.logout(&mut idas).await.unwrap();
}

async fn disabling_on_one_node_ends_the_session_on_the_other(a: &Core, b: &Core, tag: &str) {
    let jon = account(a, &format!("{tag}-jon")).await;
    let mut jons = online(b, &jon).await;
    eventually("jon seen from a", || async { a.is_visibly_online(jon.id) }).await;
    assert!(a.set_disabled(jon.id, true).await.unwrap());
    let ended = loop {
        match next_event(&mut jons).await {
            Err(reason) => break reason,
            Ok(_) => continue,
        }
    };
    assert_eq!(ended, KickReason::LoggedInElsewhere);
    b.logout(&mut jons).await.unwrap();
    assert_eq!(b.store().secrets(jon.id).await.unwrap(), None, "and it cannot log in again");
    a.set_disabled(jon.id, false).await.unwrap();
}

async fn events_for_list_changes_cross(a: &Core, b: &Core, tag: &str) {
    let fay = account(a, &format!("{tag}-fay")).await;
    let gil = account(a, &format!("{tag}-gil")).await;
    let mut gils = online(b, &gil).await;
    eventually("gil seen from a", || async { a.is_visibly_online(gil.id) }).await;
    a.add_to_list(&fay, ListKind::Forward, &gil.name, "").await.unwrap();
    let by = wait_for(&mut gils, "being added", |event| match event {
        Event::AddedBy { by, .. } => Some(by),
        _ => None,
    })
    .await;
    assert_eq!(by.id, fay.id);
    b.logout(&mut gils).await.unwrap();
}
