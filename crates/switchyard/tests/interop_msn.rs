//! Interoperability with an independent MSNP11 client: `msnp11-sdk` (crates.io, MIT) logs two
//! users in through our Passport nexus (TWN), synchronizes, adds a contact and a group, changes
//! status and personal message, and chats in a switchboard both ways.
//!
//! The library's quirks (see `protocols/msnp.md`): it never answers `CHL` (challenges are off
//! here), it prefixes `https://` to a `DALogin` without a scheme (the nexus names an `http://`
//! one), and the side that is called must attach a handler to the switchboard it is given.

#[path = "common/mod.rs"]
mod common;

use common::TestServer;
use msnp11_sdk::{Client, Event, MsnpList, MsnpStatus, PersonalMessage, PlainText, Switchboard};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const PATIENCE: Duration = Duration::from_secs(10);

/// A logged-in SDK client and the events it has received.
struct User {
    client: Client,
    events: mpsc::UnboundedReceiver<Event>,
}

impl User {
    async fn log_in(server: &TestServer, handle: &str, password: &str) -> User {
        let msn = server.msn();
        let nexus = format!("http://{}/rdr/pprdr.asp", server.running().address("http").unwrap());
        let client = Client::new(&msn.ip().to_string(), msn.port()).await.expect("connects");
        let (tx, events) = mpsc::unbounded_channel();
        client.add_event_handler_closure(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        });
        let logged_in =
            tokio::time::timeout(PATIENCE, client.login(handle.to_owned(), password, &nexus, "msnp11-sdk", "0.13"))
                .await
                .expect("login finishes")
                .expect("login succeeds");
        assert!(matches!(logged_in, Event::Authenticated), "{logged_in:?}");
        User { client, events }
    }

    /// Waits for the first event `pick` accepts, skipping others.
    async fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(Event) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}"))
                .unwrap_or_else(|| panic!("events ended before {what}"));
            if let Some(found) = pick(event) {
                return found;
            }
        }
    }
}

/// The events of a switchboard, as a channel.
fn switchboard_events(switchboard: &Switchboard) -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    switchboard.add_event_handler_closure(move |event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event);
        }
    });
    rx
}

async fn text_from(events: &mut mpsc::UnboundedReceiver<Event>) -> (String, String) {
    loop {
        let event = tokio::time::timeout(PATIENCE, events.recv()).await.expect("a message arrives").expect("open");
        if let Event::TextMessage { email, message } = event {
            return (email, message.text);
        }
    }
}

fn text(text: &str) -> PlainText {
    PlainText {
        bold: false,
        italic: false,
        underline: false,
        strikethrough: false,
        color: "0".into(),
        text: text.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msnp11_sdk_logs_in_through_the_nexus_and_chats() {
    let server = TestServer::start_with(|config| {
        config.msn.challenges = false;
        config.http.da_login = Some("http://{host}/login2.srf".into());
    })
    .await;
    let alice = server.add_user("alice", "alice pw", Some("Alice")).await;
    server.add_user("bob", "bob pw", Some("Bob")).await;

    // A wrong password is refused by the nexus.
    let msn = server.msn();
    let nexus = format!("http://{}/rdr/pprdr.asp", server.running().address("http").unwrap());
    let intruder = Client::new(&msn.ip().to_string(), msn.port()).await.unwrap();
    let refused = intruder.login("alice@hotmail.com".into(), "wrong", &nexus, "msnp11-sdk", "0.13").await;
    assert!(refused.is_err(), "{refused:?}");

    let mut a = User::log_in(&server, "alice@hotmail.com", "alice pw").await;
    a.wait_for("own name", |e| matches!(e, Event::DisplayName(ref n) if n == "Alice").then_some(())).await;
    let mut b = User::log_in(&server, "bob@hotmail.com", "bob pw").await;
    b.client.set_presence(MsnpStatus::Online).await.unwrap();

    // Alice adds Bob; Bob is told and adds her back.
    let added = a.client.add_contact("bob@hotmail.com", "Bobby", MsnpList::ForwardList).await.unwrap();
    let Event::ContactInForwardList { guid: bob_guid, .. } = added else { panic!("{added:?}") };
    let by = b.wait_for("AddedBy", |e| match e {
        Event::AddedBy { email, display_name } => Some((email, display_name)),
        _ => None,
    });
    assert_eq!(by.await, ("alice@hotmail.com".to_owned(), "Alice".to_owned()));
    b.client.add_contact("alice@hotmail.com", "Alice", MsnpList::ForwardList).await.unwrap();
    b.client.add_contact("alice@hotmail.com", "Alice", MsnpList::AllowList).await.unwrap();

    // A group, with Bob in it.
    a.client.create_group("Friends").await.unwrap();
    let groups = server.running().store().groups(alice.id).await.unwrap();
    assert_eq!(groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["Friends"]);
    let group_guid = format!("00000000-0000-0000-0002-{:012x}", groups[0].id.0);
    a.client.add_contact_to_group(&bob_guid, &group_guid).await.unwrap();

    // Status and personal message cross.
    a.client.set_presence(MsnpStatus::Busy).await.unwrap();
    let seen = b.wait_for("Alice busy", |e| match e {
        Event::PresenceUpdate { email, presence, .. } if email == "alice@hotmail.com" => Some(presence.status),
        _ => None,
    });
    assert_eq!(seen.await, MsnpStatus::Busy);
    let psm = PersonalMessage { psm: "at lunch & back soon".into(), current_media: String::new() };
    a.client.set_personal_message(&psm).await.unwrap();
    let shown = b.wait_for("Alice's personal message", |e| match e {
        Event::PersonalMessageUpdate { email, personal_message }
            if email == "alice@hotmail.com" && !personal_message.psm.is_empty() =>
        {
            Some(personal_message.psm)
        }
        _ => None,
    });
    assert_eq!(shown.await, "at lunch & back soon");

    // A switchboard chat, both ways.
    let alice_side = a.client.create_session("bob@hotmail.com").await.unwrap();
    let mut alice_hears = switchboard_events(&alice_side);
    let bob_side: Arc<Switchboard> = b
        .wait_for("the invitation", |e| match e {
            Event::SessionAnswered(switchboard) => Some(switchboard),
            _ => None,
        })
        .await;
    let mut bob_hears = switchboard_events(&bob_side);
    alice_side.send_text_message(&text("hello Bob")).await.unwrap();
    assert_eq!(text_from(&mut bob_hears).await, ("alice@hotmail.com".to_owned(), "hello Bob".to_owned()));
    bob_side.send_text_message(&text("hi Alice")).await.unwrap();
    assert_eq!(text_from(&mut alice_hears).await, ("bob@hotmail.com".to_owned(), "hi Alice".to_owned()));

    // A new login synchronizes what the first one built.
    a.client.disconnect().await.unwrap();
    let mut again = User::log_in(&server, "alice@hotmail.com", "alice pw").await;
    let group = again.wait_for("the group", |e| match e {
        Event::Group { name, guid } => Some((name, guid)),
        _ => None,
    });
    assert_eq!(group.await, ("Friends".to_owned(), group_guid.clone()));
    let bob = again.wait_for("Bob on the forward list", |e| match e {
        Event::ContactInForwardList { email, display_name, groups, lists, .. } if email == "bob@hotmail.com" => {
            Some((display_name, groups, lists))
        }
        _ => None,
    });
    let (name, groups, lists) = bob.await;
    assert_eq!((name.as_str(), groups), ("Bobby", vec![group_guid]));
    assert!(lists.contains(&MsnpList::ReverseList), "Bob has Alice on his list too: {lists:?}");
}
