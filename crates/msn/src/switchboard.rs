//! Switchboard sessions: rooms of participants who exchange `MSG`s, entered with one-use,
//! expiring cookies handed out by `XFR SB` (to create a room) and `RNG` (to join one).

use crate::conn::{Conn, ReadError};
use crate::Context;
use bytes::Bytes;
use dashmap::DashMap;
use msnp::command::AckMode;
use msnp::{ErrorCode, Frame, Reply, SbCommand, Trid};
use rand::distr::{Alphanumeric, SampleString};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_core::{AccountId, AccountRef, ConversationInvite, CoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The switchboard's `USR OK` names the user in every dialect: `USR trid OK handle friendly`.
const SWITCHBOARD_USR_OK: msnp::UsrOkShape = msnp::UsrOkShape { friendly: true, verified: false, kids_flag: false };

/// Events a participant's connection may have queued before it counts as too slow.
const PARTICIPANT_QUEUE: usize = 256;
/// Unused cookies one account may have caused (by `XFR SB` or `CAL`) before it must wait for
/// some to be used or expire: a bound on what a flood of requests can make us hold.
const MAX_TICKETS_PER_ACCOUNT: usize = 32;

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

/// What one participant's connection is told about the others.
enum RoomEvent {
    Joined { handle: String, friendly: String },
    Left { handle: String },
    Message { handle: String, friendly: String, body: Bytes },
}

struct Participant {
    member: Member,
    connection: u64,
    events: mpsc::Sender<RoomEvent>,
}

#[derive(Default)]
struct Room {
    participants: Vec<Participant>,
    /// Users called into the room who have not answered yet, until their cookie expires.
    ringing: HashMap<AccountId, Instant>,
}

impl Room {
    /// Queues an event for every participant but `except`; returns whether anyone got it and
    /// nobody missed it. A participant whose queue is full is taken out of the room: dropping
    /// its channel ends its connection, so it never carries on with a wrong view of the room.
    fn broadcast(&mut self, except: u64, event: impl Fn() -> RoomEvent) -> bool {
        let mut reached = false;
        let mut missed = false;
        self.participants.retain(|p| {
            if p.connection == except {
                return true;
            }
            match p.events.try_send(event()) {
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
            || self.ringing.get(&account).is_some_and(|expires| *expires > now)
    }
}

pub(crate) struct Switchboards {
    rooms: DashMap<u64, Arc<Mutex<Room>>>,
    tickets: DashMap<String, Ticket>,
    /// Unused tickets per issuer.
    outstanding: DashMap<AccountId, usize>,
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

    pub(crate) fn sweep_expired(&self) {
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
        for room in self.rooms.iter() {
            if let Ok(mut room) = room.lock() {
                room.ringing.retain(|_, expires| *expires > now);
            }
        }
    }

    fn room(&self, id: u64) -> Option<Arc<Mutex<Room>>> {
        self.rooms.get(&id).map(|r| r.clone())
    }
}

/// A participant's place in a room, and its queue of room events.
struct Seat {
    room_id: u64,
    room: Arc<Mutex<Room>>,
    member: Member,
    connection: u64,
    events: mpsc::Receiver<RoomEvent>,
}

fn lock(room: &Mutex<Room>) -> std::sync::MutexGuard<'_, Room> {
    // A panic while holding the lock cannot leave a room half-updated in a way that matters
    // more than losing the room, so poisoning is ignored.
    room.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) async fn run(context: Arc<Context>, mut conn: Conn, first: Frame, shutdown: CancellationToken) {
    let Some(mut seat) = enter(&context, &mut conn, &first) else {
        conn.send(Reply::Error { code: ErrorCode::AuthenticationFailed, trid: first.trid() });
        conn.close().await;
        return;
    };
    tracing::Span::current().record("account", seat.member.account.name.as_str());
    if conn.flush().await.is_ok() {
        serve(&context, &mut conn, &mut seat, &shutdown).await;
    }
    leave(&context, &seat);
    conn.close().await;
}

/// `USR` (creating a room) or `ANS` (joining one) with a valid cookie.
fn enter(context: &Context, conn: &mut Conn, first: &Frame) -> Option<Seat> {
    let boards = &context.switchboards;
    let (trid, handle, cookie, session) = match SbCommand::parse(first).ok()? {
        SbCommand::Usr { trid, handle, cookie } => (trid, handle, cookie, None),
        SbCommand::Ans { trid, handle, cookie, session } => (trid, handle, cookie, Some(session)),
        _ => return None,
    };
    let name = context.config.domains.resolve(&handle).ok()?;
    let ticket = boards.redeem(&cookie, &name)?;
    let connection = boards.next_connection.fetch_add(1, Ordering::Relaxed);
    let (events_tx, events) = mpsc::channel(PARTICIPANT_QUEUE);
    let participant = Participant { member: ticket.member.clone(), connection, events: events_tx };
    let member = ticket.member;
    let (room_id, room) = match (ticket.purpose, session) {
        (Purpose::Create, None) => {
            let id = boards.next_room.fetch_add(1, Ordering::Relaxed);
            let room = Arc::new(Mutex::new(Room { participants: vec![participant], ..Room::default() }));
            boards.rooms.insert(id, room.clone());
            conn.send(Reply::UsrOk { trid, handle: &handle, friendly: &member.friendly, shape: SWITCHBOARD_USR_OK });
            (id, room)
        }
        (Purpose::Join(id), Some(session)) if id == session => {
            let room = boards.room(id)?;
            let mut guard = lock(&room);
            guard.ringing.remove(&member.account.id);
            let total = guard.participants.len();
            for (i, other) in guard.participants.iter().enumerate() {
                let (handle, friendly) = (&other.member.handle, &other.member.friendly);
                conn.send(Reply::Iro { trid, index: i + 1, total, handle, friendly });
            }
            guard.broadcast(connection, || RoomEvent::Joined {
                handle: member.handle.clone(),
                friendly: member.friendly.clone(),
            });
            conn.send(Reply::AnsOk { trid });
            guard.participants.push(participant);
            drop(guard);
            (id, room)
        }
        _ => return None,
    };
    Some(Seat { room_id, room, member, connection, events })
}

enum Input {
    Shutdown,
    Frame(Result<Frame, ReadError>),
    Room(Option<RoomEvent>),
}

async fn serve(context: &Context, conn: &mut Conn, seat: &mut Seat, shutdown: &CancellationToken) {
    loop {
        let input = tokio::select! {
            biased;
            _ = shutdown.cancelled() => Input::Shutdown,
            event = seat.events.recv() => Input::Room(event),
            frame = conn.read_frame() => Input::Frame(frame),
        };
        match input {
            Input::Shutdown | Input::Room(None) => return,
            Input::Room(Some(event)) => relay(conn, event),
            Input::Frame(Err(e)) => {
                e.log();
                return;
            }
            Input::Frame(Ok(frame)) => match SbCommand::parse(&frame) {
                Ok(SbCommand::Out) => return,
                Ok(SbCommand::Cal { trid, handle }) => call(context, conn, seat, trid, &handle).await,
                Ok(SbCommand::Msg { trid, ack, body }) => send_message(conn, seat, trid, ack, body),
                Ok(SbCommand::Usr { trid, .. } | SbCommand::Ans { trid, .. }) => {
                    conn.send(Reply::Error { code: ErrorCode::AlreadyLoggedIn, trid: Some(trid) })
                }
                Err(e) => conn.send(Reply::Error { code: e.code, trid: e.trid }),
            },
        }
        if let Err(e) = conn.flush().await {
            tracing::info!(error = %e, "write failed");
            return;
        }
    }
}

fn relay(conn: &mut Conn, event: RoomEvent) {
    match &event {
        RoomEvent::Joined { handle, friendly } => conn.send(Reply::Joi { handle, friendly }),
        RoomEvent::Left { handle } => conn.send(Reply::Bye { handle }),
        RoomEvent::Message { handle, friendly, body } => conn.send(Reply::Msg { handle, friendly, body }),
    }
}

async fn call(context: &Context, conn: &mut Conn, seat: &Seat, trid: Trid, handle: &str) {
    let error = |conn: &mut Conn, code| conn.send(Reply::Error { code, trid: Some(trid) });
    let Ok(name) = context.config.domains.resolve(handle) else {
        return error(conn, ErrorCode::InvalidUsername);
    };
    let callee = match context.core.store().account_by_name(&name).await {
        Ok(Some(account)) => account,
        Ok(None) => return error(conn, ErrorCode::InvalidUsername),
        Err(e) => {
            tracing::error!(error = %e, "account lookup failed");
            return error(conn, ErrorCode::InternalServer);
        }
    };
    let boards = &context.switchboards;
    let expires = Instant::now() + boards.lifetime;
    {
        let mut room = lock(&seat.room);
        if callee.id == seat.member.account.id || room.is_present_or_ringing(callee.id, Instant::now()) {
            return error(conn, ErrorCode::AlreadyThere);
        }
        room.ringing.insert(callee.id, expires);
    }
    let friendly = context
        .core
        .online_presence(callee.id)
        .map(|p| p.display_name)
        .unwrap_or_else(|| context.config.domains.friendly_of(&callee.to_ref()));
    let member = Member { handle: context.config.domains.handle_of(&callee.name), account: callee.to_ref(), friendly };
    let Some(ticket) = boards.issue(member, Purpose::Join(seat.room_id), seat.member.account.id) else {
        lock(&seat.room).ringing.remove(&callee.id);
        return error(conn, ErrorCode::UserTooActive);
    };
    let invite = ConversationInvite {
        from: seat.member.account.clone(),
        from_display_name: seat.member.friendly.clone(),
        conversation: seat.room_id,
        ticket: ticket.clone(),
    };
    match context.core.invite(callee.id, invite).await {
        Ok(()) => conn.send(Reply::Cal { trid, session: seat.room_id }),
        Err(e) => {
            boards.withdraw(&ticket);
            lock(&seat.room).ringing.remove(&callee.id);
            let code = match e {
                CoreError::NotOnline => ErrorCode::NotOnline,
                CoreError::NotAllowed => ErrorCode::NotOnList,
                _ => {
                    tracing::error!(error = %e, "invitation failed");
                    ErrorCode::InternalServer
                }
            };
            error(conn, code);
        }
    }
}

fn send_message(conn: &mut Conn, seat: &Seat, trid: Trid, ack: AckMode, body: Bytes) {
    let delivered = lock(&seat.room).broadcast(seat.connection, || RoomEvent::Message {
        handle: seat.member.handle.clone(),
        friendly: seat.member.friendly.clone(),
        body: body.clone(),
    });
    match (ack, delivered) {
        (AckMode::Acknowledged, true) => conn.send(Reply::Ack { trid }),
        (AckMode::Acknowledged | AckMode::NegativeOnly, false) => conn.send(Reply::Nak { trid }),
        _ => {}
    }
}

/// Takes the participant out of its room, telling the others; an empty room is closed.
fn leave(context: &Context, seat: &Seat) {
    {
        let mut room = lock(&seat.room);
        room.participants.retain(|p| p.connection != seat.connection);
        room.broadcast(seat.connection, || RoomEvent::Left { handle: seat.member.handle.clone() });
    }
    // The map's lock is always taken before a room's, never the other way round.
    context.switchboards.rooms.remove_if(&seat.room_id, |_, room| lock(room).participants.is_empty());
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
        let hello = || RoomEvent::Left { handle: "x".into() };
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
}
