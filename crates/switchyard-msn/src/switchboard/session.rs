//! One participant's switchboard connection: `USR`/`ANS` with a cookie, then `CAL`, `MSG`, `OUT`.

use super::content::{from_msn, Content};
use super::{lock, Member, Participant, Purpose, Receipt, Room, RoomEvent, PARTICIPANT_QUEUE};
use crate::conn::{Conn, Replies};
use crate::Context;
use bytes::Bytes;
use msnp::command::AckMode;
use msnp::{ErrorCode, Frame, Reply, SbCommand, Trid};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use switchyard_core::{
    Accepted, Acknowledgements, ConversationInvite, CoreError, Invitation, Message, MessageKind, Settlements,
};
use switchyard_net::driver::{self, Step};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A participant's place in a room, and its queue of room events.
struct Seat {
    room_id: u64,
    room: Arc<Mutex<Room>>,
    member: Member,
    connection: u64,
    events: mpsc::Receiver<RoomEvent>,
}

/// Serves a switchboard connection until it leaves; the caller closes `conn`.
pub(crate) async fn run(context: &Context, conn: &mut Conn, first: Frame, shutdown: &CancellationToken) {
    let Some(seat) = enter(context, conn, &first) else {
        conn.send(Reply::Error { code: ErrorCode::AuthenticationFailed, trid: first.trid() });
        return;
    };
    tracing::Span::current().record("account", seat.member.account.name.as_str());
    let mut seated = Seated { context, seat, written: Vec::new(), acks: Acknowledgements::default() };
    driver::drive(conn, &mut seated, shutdown.cancelled()).await.log();
    leave(context, &seated.seat);
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
            conn.send(Reply::UsrOk {
                trid,
                handle: &handle,
                friendly: &member.friendly,
                shape: msnp::reply::SWITCHBOARD_USR_OK,
            });
            (id, room)
        }
        (Purpose::Join(id), Some(session)) if id == session => {
            let room = boards.room(id)?;
            let mut guard = lock(&room);
            guard.ringing.remove(&member.account.id);
            let present = guard.participants.iter().map(|p| &p.member).chain(guard.remote.iter());
            let present: Vec<&Member> = present.collect();
            let total = present.len();
            for (i, other) in present.into_iter().enumerate() {
                let (handle, friendly) = (&other.handle, &other.friendly);
                conn.send(Reply::Iro { trid, index: i + 1, total, handle, friendly });
            }
            guard.broadcast(connection, |_| RoomEvent::Joined {
                handle: member.handle.clone(),
                friendly: member.friendly.clone(),
            });
            conn.send(Reply::AnsOk { trid });
            // What waited for this user (the room was opened for them) follows the answer.
            if let Some(from) = guard.remote.first().cloned() {
                for waiting in std::mem::take(&mut guard.waiting) {
                    let (handle, friendly) = (&from.handle, &from.friendly);
                    conn.send(Reply::Msg { handle, friendly, body: &waiting.body });
                    if let Some(receipt) = waiting.receipt {
                        // Acknowledged once written; see `serve`.
                        let _ = participant.events.try_send(RoomEvent::Receipt(receipt));
                    }
                }
            }
            guard.participants.push(participant);
            drop(guard);
            (id, room)
        }
        _ => return None,
    };
    Some(Seat { room_id, room, member, connection, events })
}

/// A participant's connection as the driver runs it.
struct Seated<'a> {
    context: &'a Context,
    seat: Seat,
    /// Messages written to the client but not yet flushed: forgotten once they are.
    written: Vec<Receipt>,
    /// The `ACK`/`NAK` owed for the client's `MSG`s, each sent once its message is safe.
    acks: Acknowledgements<(Trid, AckMode)>,
}

/// What a participant waits on besides its client's commands.
enum Input {
    Settled((Trid, AckMode), Result<switchyard_core::Delivery, CoreError>),
    /// `None`: the room closed the participant's queue.
    Room(Option<RoomEvent>),
}

/// How a participant's connection ends itself.
enum Why {
    /// The client said `OUT`.
    Left,
    RoomClosed,
}

impl driver::Session<Conn> for Seated<'_> {
    type Input = Input;
    type Why = Why;

    async fn next_input(&mut self) -> Input {
        tokio::select! {
            biased;
            (reply, outcome) = self.acks.next() => Input::Settled(reply, outcome),
            event = self.seat.events.recv() => Input::Room(event),
        }
    }

    fn ready_input(&mut self) -> Option<Input> {
        self.seat.events.try_recv().ok().map(|event| Input::Room(Some(event)))
    }

    fn reads(&self) -> bool {
        self.acks.has_room()
    }

    async fn frame(&mut self, conn: &mut Conn, frame: Frame) -> Step<Why> {
        let (context, seat) = (self.context, &self.seat);
        match SbCommand::parse(&frame) {
            Ok(SbCommand::Out) => return Step::End(Why::Left),
            Ok(SbCommand::Cal { trid, handle }) => call(context, conn, seat, trid, &handle).await,
            Ok(SbCommand::Msg { trid, ack, body }) => {
                send_message(context, seat, &mut self.acks, trid, ack, body).await
            }
            Ok(SbCommand::Usr { trid, .. } | SbCommand::Ans { trid, .. }) => {
                conn.send(Reply::Error { code: ErrorCode::AlreadyLoggedIn, trid: Some(trid) })
            }
            Err(e) => conn.send(Reply::Error { code: e.code, trid: e.trid }),
        }
        Step::Continue
    }

    async fn input(&mut self, conn: &mut Conn, input: Input) -> Step<Why> {
        match input {
            Input::Settled(reply, outcome) => {
                acknowledge(conn, reply, outcome.is_ok());
                self.acks.let_more_settle().await;
                return Step::WriteNow;
            }
            Input::Room(Some(event)) => self.written.extend(relay(conn, event)),
            Input::Room(None) => return Step::End(Why::RoomClosed),
        }
        Step::Continue
    }

    fn before_flush(&mut self, conn: &mut Conn) {
        while let Some((reply, outcome)) = self.acks.ready() {
            acknowledge(conn, reply, outcome.is_ok());
        }
    }

    async fn flushed(&mut self, sent: usize) {
        if sent != usize::MAX {
            // Not known to be whole with the client: dropped, the messages wait in the queue.
            self.written.clear();
            return;
        }
        let mut told = Settlements::default();
        for receipt in self.written.drain(..) {
            receipt.settle(&self.context.core, self.seat.member.account.id, &mut told).await;
        }
    }
}

/// Answers a `MSG` once settled, as its acknowledgement mode asks.
fn acknowledge(conn: &mut Conn, (trid, mode): (Trid, AckMode), delivered: bool) {
    match (mode, delivered) {
        (AckMode::Acknowledged, true) => conn.send(Reply::Ack { trid }),
        (AckMode::Acknowledged | AckMode::NegativeOnly, false) => conn.send(Reply::Nak { trid }),
        _ => {}
    }
}

/// Writes a room event; returns the receipt to settle once it is on its way.
fn relay(conn: &mut Conn, event: RoomEvent) -> Option<Receipt> {
    match event {
        RoomEvent::Joined { handle, friendly } => conn.send(Reply::Joi { handle: &handle, friendly: &friendly }),
        RoomEvent::Left { handle } => conn.send(Reply::Bye { handle: &handle }),
        RoomEvent::Message { handle, friendly, body, receipt } => {
            conn.send(Reply::Msg { handle: &handle, friendly: &friendly, body: &body });
            return receipt;
        }
        RoomEvent::Receipt(receipt) => return Some(receipt),
    }
    None
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
    let Some(ticket) = boards.issue(member.clone(), Purpose::Join(seat.room_id), seat.member.account.id) else {
        lock(&seat.room).ringing.remove(&callee.id);
        return error(conn, ErrorCode::UserTooActive);
    };
    // The invitee's client, on whichever node, comes here: where this client reached us.
    let address = match conn.stream.local_addr() {
        Ok(local) => context.public_address(local),
        Err(e) => {
            tracing::warn!(error = %e, "connection has no local address");
            boards.withdraw(&ticket);
            lock(&seat.room).ringing.remove(&callee.id);
            return error(conn, ErrorCode::InternalServer);
        }
    };
    let invite = ConversationInvite {
        from: seat.member.account.clone(),
        from_display_name: seat.member.friendly.clone(),
        conversation: seat.room_id,
        address,
        ticket: ticket.clone(),
    };
    let invited = context.core.invite(callee.id, invite).await;
    if !matches!(invited, Ok(Invitation::Sent)) {
        boards.withdraw(&ticket);
        lock(&seat.room).ringing.remove(&callee.id);
    }
    match invited {
        Ok(Invitation::Sent) => conn.send(Reply::Cal { trid, session: seat.room_id }),
        Ok(Invitation::ByMessage) => {
            // Online on another protocol: a member at once, reached through the core.
            conn.send(Reply::Cal { trid, session: seat.room_id });
            let mut room = lock(&seat.room);
            room.broadcast(0, |_| RoomEvent::Joined {
                handle: member.handle.clone(),
                friendly: member.friendly.clone(),
            });
            boards.add_remote(seat.room_id, &mut room, seat.member.account.id, member);
        }
        Err(e) => {
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

/// Relays a `MSG` to the room's other participants and, through the core, to its members on
/// other protocols. Its `ACK` (or `NAK`) is owed until the message is safe for every one of
/// them: written to their client, or in the durable queue (text only; other content is
/// delivered as written, or not at all).
async fn send_message(
    context: &Context,
    seat: &Seat,
    acks: &mut Acknowledgements<(Trid, AckMode)>,
    trid: Trid,
    ack: AckMode,
    body: Bytes,
) {
    let content = from_msn(&body);
    let message = content.as_ref().map(|content| core_message(seat, content));
    let durable = message.as_ref().filter(|m| !m.kind.is_live_only());
    let mut parts = Vec::new();
    let remote = {
        let mut room = lock(&seat.room);
        let alone = room.participants.len() <= 1 && room.remote.is_empty();
        let reached = room.broadcast(seat.connection, |participant| {
            let receipt = durable.map(|message| {
                let (handoff, accepted) = context.core.hand_off(participant.member.account.id, message);
                parts.push(accepted);
                Receipt::Live(handoff)
            });
            RoomEvent::Message {
                handle: seat.member.handle.clone(),
                friendly: seat.member.friendly.clone(),
                body: body.clone(),
                receipt,
            }
        });
        // A participant that missed a durable message gets it from the queue; anything else
        // it missed is lost to it.
        if alone || (!reached && durable.is_none()) {
            parts.push(Accepted::ready(Err(CoreError::NotOnline)));
        }
        room.remote.clone()
    };
    for member in &remote {
        match &message {
            Some(message) => parts.push(to_other_protocol(context, member, message.clone()).await),
            None => parts.push(Accepted::ready(Err(CoreError::NotAllowed))),
        }
    }
    if ack != AckMode::Unacknowledged {
        acks.push((trid, ack), parts);
    }
}

/// The core's form of what an MSN user wrote.
fn core_message(seat: &Seat, content: &Content) -> Message {
    let (kind, text, font) = match content {
        Content::Text { text, font } => (MessageKind::Text, text.clone(), font.clone()),
        Content::Typing => (MessageKind::Typing, String::new(), None),
    };
    Message {
        from: seat.member.account.clone(),
        from_display_name: seat.member.friendly.clone(),
        kind,
        text,
        formatted: None,
        font,
        wants_receipt: false,
        sent_at: switchyard_core::unix_now(),
    }
}

/// Hands a message to a member on another protocol.
async fn to_other_protocol(context: &Context, member: &Member, message: Message) -> Accepted {
    let typing = message.kind == MessageKind::Typing;
    let accepted = context.core.accept(member.account.id, message).await;
    if typing {
        // Nobody to show a typing notice to is no failure.
        drop(accepted);
        return Accepted::ready(Ok(switchyard_core::Delivery::Live));
    }
    accepted
}

/// Takes the participant out of its room, telling the others; an empty room is closed.
fn leave(context: &Context, seat: &Seat) {
    {
        let mut room = lock(&seat.room);
        room.participants.retain(|p| p.connection != seat.connection);
        room.broadcast(seat.connection, |_| RoomEvent::Left { handle: seat.member.handle.clone() });
    }
    context.switchboards.close_if_empty(seat.room_id);
}
