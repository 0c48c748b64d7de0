//! Routing a message to the one session that needs it, or to the durable offline queue.

use crate::account::{AccountId, AccountRef};
use crate::activity::{Destination, Protocol};
use crate::bus::{NodeName, RemoteOutcome};
use crate::delivery::{Accepted, Handoff};
use crate::error::CoreError;
use crate::hub::{Event, KickReason, Online};
use crate::privacy::{allows, RelationFlags};
use crate::store::{MessageKind, OfflineMessage};
use crate::Core;
use dashmap::mapref::one::Ref;
use serde::{Deserialize, Serialize};

/// A message on its way to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: AccountRef,
    /// The name the sender shows.
    pub from_display_name: String,
    pub kind: MessageKind,
    pub text: String,
    /// A formatted copy in the sender's own format, for recipients of the same protocol.
    /// Delivered live only; the text is what is stored.
    pub formatted: Option<Formatted>,
    /// The typeface the sender wrote in, where their client says.
    pub font: Option<Font>,
    /// Whether the sender asks the recipient's client to confirm receipt (MRIM: not `NORECV`).
    pub wants_receipt: bool,
    /// Seconds since the Unix epoch when it was sent.
    pub sent_at: i64,
}

/// A message's bytes in one protocol's own format, tagged with it, so that no other protocol
/// takes them for its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Formatted {
    /// MRIM: base64 of zlib-packed RTF, as the client sent it.
    MrimRtf(Vec<u8>),
    /// MyICQ: a peer-to-peer offer's fields (session name, reason, port).
    MyIcqOffer(Vec<u8>),
}

/// How the sender's text looks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Font {
    pub name: String,
    /// In points.
    pub size: u8,
    /// `0xRRGGBB`.
    pub color: u32,
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
}

impl Message {
    /// The durable form of this message, waiting for `recipient`.
    pub fn queued_for(&self, recipient: AccountId) -> OfflineMessage {
        OfflineMessage {
            sender: self.from.id,
            recipient,
            kind: self.kind,
            text: self.text.clone(),
            sent_at: self.sent_at,
        }
    }
}

/// Seconds since the Unix epoch: what [`Message::sent_at`] holds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Where a message went. In every case the sender may be told it was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivery {
    /// Written to the recipient's client.
    Live,
    /// Stored durably under this queue id, until the recipient's client has it.
    Queued(i64),
    /// The recipient ignores the sender: dropped without telling the sender, as clients expect.
    Ignored,
}

impl Core {
    /// Delivers `message` to `to` and returns once it is safe: written to their client, or in
    /// the durable queue. Refused when the recipient does not let the sender reach them, when
    /// their queue is full, and for typing notices nobody is there to see.
    pub async fn deliver(&self, to: AccountId, message: Message) -> Result<Delivery, CoreError> {
        self.accept(to, message).await.await
    }

    /// Takes `message` for `to`; what it returns resolves once it is safe (or refused). A front
    /// that acknowledges in order, later, handles its client's next commands meanwhile.
    pub async fn accept(&self, to: AccountId, message: Message) -> Accepted {
        self.route(to, message).await.unwrap_or_else(|refused| Accepted::ready(Err(refused)))
    }

    async fn route(&self, to: AccountId, message: Message) -> Result<Accepted, CoreError> {
        let here = self.hub().online.get(&to).map(|entry| entry.client.protocol);
        if here.is_none() {
            if let Some(remote) = self.bus().remote(to) {
                self.count(&message, Destination::Session(remote.state.protocol));
                return Ok(self.route_via(remote.node, to, message));
            }
        }
        self.count(&message, here.map_or(Destination::Queue, Destination::Session));
        self.route_here(to, message).await
    }

    /// Counts a message (not a typing notice) from a session of this node by its route.
    fn count(&self, message: &Message, to: Destination) {
        if message.kind.is_live_only() {
            return;
        }
        if let Some(from) = self.hub().online.get(&message.from.id).map(|entry| entry.client.protocol) {
            self.counters().message(from, to);
        }
    }

    /// Has the node holding the recipient's session route the message (it knows the session's
    /// privacy and flags); if it does not answer, the message is routed here, to the queue.
    fn route_via(&self, node: NodeName, to: AccountId, message: Message) -> Accepted {
        let (settle, accepted) = Accepted::later();
        let (core, kept, toward) = (self.clone(), message.clone(), node.clone());
        let answered =
            Box::new(move |answer: Option<RemoteOutcome>| match answer.and_then(RemoteOutcome::into_result) {
                Some(outcome) => {
                    let _ = settle.send(outcome);
                }
                None => {
                    tracing::debug!(node = %toward, %to, "the recipient's node did not take the message; queued here");
                    tokio::spawn(async move {
                        let _ = settle.send(core.accept_here(to, kept).await.await);
                    });
                }
            });
        self.bus().accept(&node, to, message, answered);
        accepted
    }

    /// [`Core::accept`] with the recipient's session, if any, on this node: what another node
    /// asks of this one, and what a sender falls back to when that node does not answer.
    pub(crate) async fn accept_here(&self, to: AccountId, message: Message) -> Accepted {
        self.route_here(to, message).await.unwrap_or_else(|refused| Accepted::ready(Err(refused)))
    }

    async fn route_here(&self, to: AccountId, message: Message) -> Result<Accepted, CoreError> {
        // An online recipient exists and carries its privacy mode; only others need the store.
        let privacy = match self.online_privacy(to) {
            Some(privacy) => privacy,
            None => {
                self.store().account_by_id(to).await?.ok_or(CoreError::NoSuchAccount)?;
                self.store().list_settings(to).await?.privacy
            }
        };
        let flags = self.flags_toward(to, message.from.id).await?;
        if flags.contains(RelationFlags::IGNORE) {
            return Ok(Accepted::ready(Ok(Delivery::Ignored)));
        }
        // Asking for authorization is how one becomes allowed, so only a block stops it.
        let asking = message.kind == MessageKind::AuthorizationRequest;
        let may_ask = asking && !flags.contains(RelationFlags::BLOCK);
        if !allows(privacy, flags) && !may_ask {
            return Err(CoreError::NotAllowed);
        }
        if message.kind.is_live_only() {
            return match self.notify_here(to, Event::Message(message, Handoff::none())) {
                true => Ok(Accepted::ready(Ok(Delivery::Live))),
                false => Err(CoreError::NotOnline),
            };
        }
        if let Some(session) = self.session_with_room(to, message.text.len()) {
            return Ok(self.hand_to_session(&session, message));
        }
        if self.store().offline_count(to).await? >= self.config().max_offline_messages {
            return Err(CoreError::QueueFull);
        }
        Ok(self.journal().store(message.queued_for(to)))
    }

    /// For a message a front carries itself to `to` (a member of an MSN switchboard): what keeps
    /// it safe travels with it to that connection, and the sender awaits the other half. Only
    /// the durable kinds need it; others are delivered as they are written.
    pub fn hand_off(&self, to: AccountId, message: &Message) -> (Handoff, Accepted) {
        if message.kind.is_live_only() {
            return (Handoff::none(), Accepted::ready(Ok(Delivery::Live)));
        }
        self.count(message, Destination::Session(Protocol::Msn));
        let held_bytes = self.hub().online.get(&to).map(|entry| entry.held_bytes.clone());
        self.journal().hand_off(message.queued_for(to), held_bytes)
    }

    /// The recipient's session, if they have one and the server may hold `size` more bytes in
    /// memory (else the message goes to the durable queue first).
    fn session_with_room(&self, to: AccountId, size: usize) -> Option<Ref<'_, AccountId, Online>> {
        let session = self.hub().online.get(&to)?;
        if self.journal().bytes_in_memory() + size > self.config().memory_bytes {
            self.journal().warn_memory_full();
            return None;
        }
        Some(session)
    }

    /// Hands a message to the recipient's session with what keeps it safe. A session that
    /// cannot take it (its queue or its bytes are full) is closed as too slow, and the
    /// message, accepted, goes to the durable queue as the session's other unread ones do.
    fn hand_to_session(&self, session: &Online, message: Message) -> Accepted {
        let (handoff, accepted) =
            self.journal().hand_off(message.queued_for(session.account.id), Some(session.held_bytes.clone()));
        if session.held_bytes.load(std::sync::atomic::Ordering::Relaxed) > self.config().session_bytes {
            tracing::warn!(account = %session.account.name, "session holds too many bytes of messages; closing the slow session");
            session.kick(KickReason::TooSlow);
            return accepted;
        }
        // Refused, the event is dropped here and its hand-off gives the message to the queue.
        session.push(Event::Message(message, handoff));
        accepted
    }
}
