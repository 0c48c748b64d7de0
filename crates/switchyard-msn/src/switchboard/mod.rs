//! Switchboard sessions: rooms of participants who exchange `MSG`s, entered with one-use,
//! expiring cookies handed out by `XFR SB` (to create a room) and `RNG` (to join one).
//!
//! A room may also hold members on other protocols, reached through the core: an MSN user
//! who calls one adds them at once, and a message from one to an MSN user opens a room for it
//! (the server rings the MSN user, who answers as to any invitation). `session` runs the
//! participants' connections; `content` translates message bodies.

mod content;
mod session;

pub(crate) use content::to_msn;
pub(crate) use session::run;

use bytes::Bytes;
use dashmap::DashMap;
use rand::distr::{Alphanumeric, SampleString};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_core::{AccountId, AccountRef, Handoff, Settlements};
use tokio::sync::mpsc;

/// Events a participant's connection may have queued before it counts as too slow.
const PARTICIPANT_QUEUE: usize = 256;
/// Unused cookies one account may have caused (by `XFR SB`, `CAL` or messages to MSN users)
/// before it must wait for some to be used or expire: a bound on what a flood can make us hold.
const MAX_TICKETS_PER_ACCOUNT: usize = 32;
/// Messages waiting in a server-opened room for the MSN user to answer.
const MAX_WAITING: usize = 64;

/// A user as a switchboard shows them.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) account: AccountRef,
    pub(crate) handle: String,
    pub(crate) friendly: String,
}

enum Purpose {
    Create,
    Join(u64),
}

struct Ticket {
    member: Member,
    purpose: Purpose,
    expires: Instant,
    /// Whose request created it: the one it counts against.
    issuer: AccountId,
}

/// What to do once a message has reached the MSN client: it was kept safe until now (in
/// flight, in the durable queue, or as a broadcast not yet seen) and may be forgotten only now.
/// Dropped before, a message in flight goes back to the durable queue.
#[derive(Debug)]
pub(crate) enum Receipt {
    Live(Handoff),
    Offline(i64),
    Broadcast(i64),
}

impl Receipt {
    /// The message reached the client (or was done with): forgotten, deleted from the queue,
    /// or the broadcast marked seen. Failing that, it comes again at the next login, which
    /// beats losing it.
    /// A sender waiting for a live message is woken once `told` is dropped.
    pub(crate) async fn settle(self, core: &switchyard_core::Core, recipient: AccountId, told: &mut Settlements) {
        match self {
            Receipt::Live(handoff) => told.received(handoff),
            Receipt::Offline(id) => core.acknowledge_offline(recipient, id),
            Receipt::Broadcast(id) => {
                if let Err(e) = core.store().mark_broadcasts_seen(recipient, id).await {
                    tracing::warn!(error = %e, "could not mark a broadcast seen");
                }
            }
        }
    }
}

/// What one participant's connection is told about the others.
enum RoomEvent {
    Joined {
        handle: String,
        friendly: String,
    },
    Left {
        handle: String,
    },
    Message {
        handle: String,
        friendly: String,
        body: Bytes,
        receipt: Option<Receipt>,
    },
    /// A message written at joining came from the durable queue: settle it once flushed.
    Receipt(Receipt),
}

struct Participant {
    member: Member,
    connection: u64,
    events: mpsc::Sender<RoomEvent>,
}

/// A message from a member on another protocol, for the MSN user a room was opened for, kept
/// until they answer the ring (if they never do, its receipt, dropped, keeps it for later).
pub(crate) struct Waiting {
    pub(crate) body: Bytes,
    pub(crate) receipt: Option<Receipt>,
}

#[derive(Default)]
struct Room {
    participants: Vec<Participant>,
    /// Users called into the room who have not answered yet, until their cookie expires.
    ringing: HashMap<AccountId, Instant>,
    /// Members on other protocols.
    remote: Vec<Member>,
    /// For a room the server opened: what waits for the MSN user it rang, from `remote[0]`.
    waiting: Vec<Waiting>,
    /// The (MSN user, remote member) pairs that find this room in [`Switchboards::conversations`].
    conversations: Vec<(AccountId, AccountId)>,
}

impl Room {
    /// Queues an event for every participant but `except`; returns whether anyone got it and
    /// nobody missed it. A participant whose queue is full is taken out of the room: dropping
    /// its channel ends its connection, so it never carries on with a wrong view of the room.
    fn broadcast(&mut self, except: u64, mut event: impl FnMut(&Participant) -> RoomEvent) -> bool {
        let mut reached = false;
        let mut missed = false;
        self.participants.retain(|p| {
            if p.connection == except {
                return true;
            }
            match p.events.try_send(event(p)) {
                Ok(()) => reached = true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(participant = %p.member.handle, "switchboard participant too slow; removed");
                    missed = true;
                    return false;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => missed = true,
            }
            true
        });
        reached && !missed
    }

    fn is_present_or_ringing(&self, account: AccountId, now: Instant) -> bool {
        self.participants.iter().any(|p| p.member.account.id == account)
            || self.remote.iter().any(|m| m.account.id == account)
            || self.ringing.get(&account).is_some_and(|expires| *expires > now)
    }

    fn has_participant(&self, account: AccountId) -> bool {
        self.participants.iter().any(|p| p.member.account.id == account)
    }
}

/// What became of a message from another protocol for an MSN user.
pub(crate) enum RemoteDelivery {
    /// Put in a room the user is in, or waiting for them to answer its ring.
    Delivered,
    /// A room was opened for it: the user must be sent this `RNG`.
    Ring { session: u64, cookie: String },
    /// Not deliverable now (too many rings, or a typing notice with no room to show it in).
    Refused,
}

pub(crate) struct Switchboards {
    rooms: DashMap<u64, Arc<Mutex<Room>>>,
    tickets: DashMap<String, Ticket>,
    /// Unused tickets per issuer.
    outstanding: DashMap<AccountId, usize>,
    /// (MSN user, member on another protocol) → the room their conversation is in.
    conversations: DashMap<(AccountId, AccountId), u64>,
    /// Rooms the server opened, by the MSN user it rang for them.
    rung: DashMap<AccountId, Vec<u64>>,
    next_room: AtomicU64,
    next_connection: AtomicU64,
    lifetime: Duration,
}

impl Switchboards {
    pub(crate) fn new(lifetime: Duration) -> Self {
        // Session ids only need to be unique on this server; a random start keeps them from
        // looking like a count of past sessions.
        let first = rand::random_range(10_000_000u64..20_000_000);
        Switchboards {
            rooms: DashMap::new(),
            tickets: DashMap::new(),
            outstanding: DashMap::new(),
            conversations: DashMap::new(),
            rung: DashMap::new(),
            next_room: AtomicU64::new(first),
            next_connection: AtomicU64::new(1),
            lifetime,
        }
    }

    /// The cookie of an `XFR SB` reply; `None` when the account has too many unused ones.
    pub(crate) fn ticket_to_create(&self, member: Member) -> Option<String> {
        let issuer = member.account.id;
        self.issue(member, Purpose::Create, issuer)
    }

    fn issue(&self, member: Member, purpose: Purpose, issuer: AccountId) -> Option<String> {
        {
            let mut count = self.outstanding.entry(issuer).or_insert(0);
            if *count >= MAX_TICKETS_PER_ACCOUNT {
                return None;
            }
            *count += 1;
        }
        let cookie = format!(
            "{}.{}",
            rand::random_range(100_000_000u64..1_000_000_000),
            Alphanumeric.sample_string(&mut rand::rng(), 20)
        );
        let ticket = Ticket { member, purpose, expires: Instant::now() + self.lifetime, issuer };
        self.tickets.insert(cookie.clone(), ticket);
        Some(cookie)
    }

    /// Takes a cookie off the table (it is good for one use), if it is valid for `account`.
    fn redeem(&self, cookie: &str, account: &switchyard_core::AccountName) -> Option<Ticket> {
        let ticket = self.withdraw(cookie)?;
        (ticket.expires > Instant::now() && ticket.member.account.name == *account).then_some(ticket)
    }

    /// Removes a ticket, used or not, releasing its place in its issuer's allowance.
    fn withdraw(&self, cookie: &str) -> Option<Ticket> {
        let (_, ticket) = self.tickets.remove(cookie)?;
        self.release(ticket.issuer);
        Some(ticket)
    }

    fn release(&self, issuer: AccountId) {
        self.outstanding.remove_if_mut(&issuer, |_, count| {
            *count -= 1;
            *count == 0
        });
    }

    /// Forgets expired cookies and rings; closes server-opened rooms nobody answered (what
    /// waited in them goes back to the durable queue as it is dropped). Returns how many
    /// messages that was.
    pub(crate) fn sweep_expired(&self) -> usize {
        let now = Instant::now();
        let mut expired = Vec::new();
        self.tickets.retain(|_, t| {
            let live = t.expires > now;
            if !live {
                expired.push(t.issuer);
            }
            live
        });
        for issuer in expired {
            self.release(issuer);
        }
        let mut unanswered = Vec::new();
        for entry in self.rooms.iter() {
            let mut room = lock(entry.value());
            room.ringing.retain(|_, expires| *expires > now);
            if room.participants.is_empty() && room.ringing.is_empty() {
                unanswered.push(*entry.key());
            }
        }
        unanswered.into_iter().filter_map(|id| self.close_if_empty(id)).map(|room| room.waiting.len()).sum()
    }

    fn room(&self, id: u64) -> Option<Arc<Mutex<Room>>> {
        self.rooms.get(&id).map(|r| r.clone())
    }

    /// Removes a room nobody is in or ringing for, and the conversations that led to it.
    fn close_if_empty(&self, id: u64) -> Option<Room> {
        let now = Instant::now();
        // The map's lock is always taken before a room's, never the other way round.
        let (_, room) = self.rooms.remove_if(&id, |_, room| {
            let room = lock(room);
            room.participants.is_empty() && !room.ringing.values().any(|expires| *expires > now)
        })?;
        let room = std::mem::take(&mut *lock(&room));
        for key in &room.conversations {
            self.conversations.remove_if(key, |_, room_id| *room_id == id);
            self.rung.remove_if_mut(&key.0, |_, rooms| {
                rooms.retain(|room| *room != id);
                rooms.is_empty()
            });
        }
        Some(room)
    }

    /// The MSN user's session ended: rooms that ring only for them are closed, and what waited
    /// in them goes back to the durable queue (for their next login) as it is dropped.
    pub(crate) fn abandon_rings(&self, msn_user: AccountId) {
        let Some((_, rooms)) = self.rung.remove(&msn_user) else { return };
        for id in rooms {
            if let Some(room) = self.room(id) {
                lock(&room).ringing.remove(&msn_user);
            }
            self.close_if_empty(id);
        }
    }

    /// Puts a member on another protocol into a room and lets `msn_user`'s later messages
    /// from them find it.
    fn add_remote(&self, room_id: u64, room: &mut Room, msn_user: AccountId, member: Member) {
        let key = (msn_user, member.account.id);
        room.remote.push(member);
        room.conversations.push(key);
        self.conversations.insert(key, room_id);
    }

    /// Brings a message from `from` (on another protocol) to MSN user `to`: into the room of
    /// their conversation, or a new room that rings them. `live_only` messages (typing) never
    /// open a room.
    pub(crate) fn deliver_from_remote(
        &self,
        to: &Member,
        from: &Member,
        waiting: Waiting,
        live_only: bool,
    ) -> RemoteDelivery {
        let key = (to.account.id, from.account.id);
        let existing = self.conversations.get(&key).map(|id| *id);
        if let Some(room) = existing.and_then(|id| self.room(id)) {
            let mut room = lock(&room);
            if room.has_participant(to.account.id) {
                // Every participant sees it; the one it is for carries its receipt. If that one's
                // queue is full, the receipt is dropped with the event and the message kept.
                let mut receipt = waiting.receipt;
                room.broadcast(0, |p| RoomEvent::Message {
                    handle: from.handle.clone(),
                    friendly: from.friendly.clone(),
                    body: waiting.body.clone(),
                    receipt: if p.member.account.id == to.account.id { receipt.take() } else { None },
                });
                return RemoteDelivery::Delivered;
            }
            if room.ringing.contains_key(&to.account.id) && !live_only && room.waiting.len() < MAX_WAITING {
                room.waiting.push(waiting);
                return RemoteDelivery::Delivered;
            }
        }
        if live_only {
            return RemoteDelivery::Refused;
        }
        let Some(cookie) = ({
            let id = self.next_room.fetch_add(1, Ordering::Relaxed);
            self.issue(to.clone(), Purpose::Join(id), from.account.id).map(|cookie| (id, cookie))
        }) else {
            return RemoteDelivery::Refused;
        };
        let (id, cookie) = cookie;
        let mut room = Room::default();
        room.ringing.insert(to.account.id, Instant::now() + self.lifetime);
        room.waiting.push(waiting);
        self.add_remote(id, &mut room, to.account.id, from.clone());
        self.rooms.insert(id, Arc::new(Mutex::new(room)));
        self.rung.entry(to.account.id).or_default().push(id);
        RemoteDelivery::Ring { session: id, cookie }
    }
}

fn lock(room: &Mutex<Room>) -> std::sync::MutexGuard<'_, Room> {
    // A panic while holding the lock cannot leave a room half-updated in a way that matters
    // more than losing the room, so poisoning is ignored.
    room.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::AccountName;

    fn member(id: i64, name: &str) -> Member {
        let name = AccountName::new(name).unwrap();
        Member {
            account: AccountRef { id: AccountId(id), name: name.clone(), uin: 10000 + id as u32, nickname: None },
            handle: format!("{name}@hotmail.com"),
            friendly: name.to_string(),
        }
    }

    #[test]
    fn a_participant_whose_queue_is_full_is_removed_not_desynchronised() {
        let (fast_tx, mut fast_rx) = mpsc::channel(8);
        let (slow_tx, slow_rx) = mpsc::channel(1);
        let mut room = Room::default();
        for (connection, events, name) in [(1, fast_tx, "fast"), (2, slow_tx, "slow")] {
            room.participants.push(Participant { member: member(connection as i64, name), connection, events });
        }
        let hello = |_: &Participant| RoomEvent::Left { handle: "x".into() };
        assert!(room.broadcast(0, hello), "both queues had room");
        assert!(!room.broadcast(0, hello), "the slow one missed this");
        assert_eq!(room.participants.len(), 1);
        assert_eq!(room.participants[0].connection, 1);
        assert!(room.broadcast(0, hello));
        assert_eq!(std::iter::from_fn(|| fast_rx.try_recv().ok()).count(), 3);
        drop(slow_rx);
    }

    #[test]
    fn a_cookie_works_once_for_its_owner_before_it_expires() {
        let boards = Switchboards::new(Duration::from_secs(60));
        let alice = AccountName::new("alice").unwrap();
        let cookie = boards.ticket_to_create(member(1, "alice")).unwrap();
        assert!(boards.redeem(&cookie, &alice).is_some());
        assert!(boards.redeem(&cookie, &alice).is_none());

        let expired = Switchboards::new(Duration::ZERO);
        let cookie = expired.ticket_to_create(member(1, "alice")).unwrap();
        assert!(expired.redeem(&cookie, &alice).is_none());
    }

    #[test]
    fn unused_cookies_per_account_are_bounded_and_released() {
        let boards = Switchboards::new(Duration::from_secs(60));
        let cookies: Vec<String> =
            (0..MAX_TICKETS_PER_ACCOUNT).map(|_| boards.ticket_to_create(member(1, "alice")).unwrap()).collect();
        assert!(boards.ticket_to_create(member(1, "alice")).is_none());
        assert!(boards.ticket_to_create(member(2, "bob")).is_some(), "other accounts are not affected");
        boards.redeem(&cookies[0], &AccountName::new("alice").unwrap());
        assert!(boards.ticket_to_create(member(1, "alice")).is_some());

        let expiring = Switchboards::new(Duration::ZERO);
        for _ in 0..MAX_TICKETS_PER_ACCOUNT {
            expiring.ticket_to_create(member(1, "alice")).unwrap();
        }
        expiring.sweep_expired();
        assert!(expiring.tickets.is_empty() && expiring.outstanding.is_empty());
        assert!(expiring.ticket_to_create(member(1, "alice")).is_some());
    }

    fn waiting(text: &str) -> Waiting {
        Waiting { body: Bytes::from(text.to_owned()), receipt: Some(Receipt::Offline(text.len() as i64)) }
    }

    #[test]
    fn a_remote_message_rings_once_and_what_nobody_answers_goes_back_to_the_queue() {
        let boards = Switchboards::new(Duration::ZERO);
        let (alice, bob) = (member(1, "alice"), member(2, "bob"));
        assert!(matches!(boards.deliver_from_remote(&alice, &bob, waiting("typing"), true), RemoteDelivery::Refused));
        let RemoteDelivery::Ring { .. } = boards.deliver_from_remote(&alice, &bob, waiting("one"), false) else {
            panic!("the first message opens a room")
        };
        // The ring has expired already (lifetime zero): the room is swept with what waited in it.
        assert_eq!(boards.sweep_expired(), 1);
        assert!(boards.rooms.is_empty() && boards.conversations.is_empty() && boards.tickets.is_empty());

        let boards = Switchboards::new(Duration::from_secs(60));
        assert!(matches!(boards.deliver_from_remote(&alice, &bob, waiting("one"), false), RemoteDelivery::Ring { .. }));
        assert!(matches!(boards.deliver_from_remote(&alice, &bob, waiting("two"), false), RemoteDelivery::Delivered));
        assert_eq!(boards.sweep_expired(), 0, "still ringing");
        let room = boards.rooms.iter().next().unwrap().value().clone();
        assert_eq!(lock(&room).waiting.len(), 2);
    }
}
