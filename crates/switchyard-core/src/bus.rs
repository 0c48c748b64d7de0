//! The seam between the nodes of a network. Every session lives on one node, in that node's hub;
//! what reaches a session on another node — an event for it, a message that must be delivered
//! or queued, the end of it when its account logs in elsewhere — and what a node knows of the
//! sessions elsewhere (presence, privacy, whether they join conversations) goes through one
//! [`Bus`]. One node alone uses [`LocalBus`], which knows no elsewhere and costs nothing.

use crate::account::{AccountId, AccountName, AccountRef};
use crate::error::CoreError;
use crate::hub::{ConversationInvite, Event};
use crate::presence::Presence;
use crate::privacy::Privacy;
use crate::routing::{Delivery, Message};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A node's name, unique in its network.
pub type NodeName = Arc<str>;

/// When a session started, to tell which of two sessions of one account is the later, wherever
/// they are: the later login wins. Ties (the same millisecond) go to the greater node name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LoginStamp {
    pub unix_ms: u64,
    pub node: String,
    pub session: u64,
}

/// What the other nodes know of one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub account: AccountRef,
    pub login: LoginStamp,
    pub presence: Presence,
    /// `None` until the session read its list (it shows no presence before that).
    pub privacy: Option<Privacy>,
    pub takes_invitations: bool,
    pub protocol: crate::Protocol,
}

impl SessionState {
    /// The privacy mode others are shown through, as [`crate::hub`] keeps it for local sessions.
    pub fn shown_privacy(&self) -> Privacy {
        self.privacy.unwrap_or(Privacy::BlockUnlisted)
    }
}

/// A session on another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSession {
    pub node: NodeName,
    pub state: SessionState,
}

/// Another live node as its last heartbeat told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLoad {
    pub node: NodeName,
    /// Its sessions.
    pub sessions: usize,
    /// Where its clients reach it, by protocol (`msn`, `mrim`, `myicq`).
    pub addresses: Vec<(String, String)>,
}

/// A change in one of this node's sessions, for the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionChange {
    Started(SessionState),
    Changed(SessionState),
    Ended { account: AccountId, login: LoginStamp },
}

/// The events that cross nodes: [`Event`] without the one that carries a hand-off (messages go
/// through [`Bus::accept`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteEvent {
    Presence {
        contact: AccountRef,
        presence: Option<Presence>,
    },
    AddedBy {
        by: AccountRef,
        version: u32,
    },
    RemovedBy {
        by: AccountRef,
        version: u32,
    },
    Authorized {
        by: AccountRef,
    },
    Invitation(ConversationInvite),
    Broadcast {
        id: i64,
        message: Message,
    },
    OfflineWaiting,
    /// The session ends: its account was disabled or deleted.
    EndSession,
}

impl RemoteEvent {
    /// The event in its crossing form; `None` for those that do not cross.
    pub fn from_event(event: Event) -> Option<RemoteEvent> {
        Some(match event {
            Event::Presence { contact, presence } => RemoteEvent::Presence { contact, presence },
            Event::AddedBy { by, version } => RemoteEvent::AddedBy { by, version },
            Event::RemovedBy { by, version } => RemoteEvent::RemovedBy { by, version },
            Event::Authorized { by } => RemoteEvent::Authorized { by },
            Event::Broadcast { id, message } => RemoteEvent::Broadcast { id, message },
            Event::OfflineWaiting => RemoteEvent::OfflineWaiting,
            Event::Invitation(invite) => RemoteEvent::Invitation(invite),
            Event::Message(..) => return None,
        })
    }

    /// The event for the session; `None` for [`RemoteEvent::EndSession`], which is not one.
    pub fn into_event(self) -> Option<Event> {
        Some(match self {
            RemoteEvent::Presence { contact, presence } => Event::Presence { contact, presence },
            RemoteEvent::AddedBy { by, version } => Event::AddedBy { by, version },
            RemoteEvent::RemovedBy { by, version } => Event::RemovedBy { by, version },
            RemoteEvent::Authorized { by } => Event::Authorized { by },
            RemoteEvent::Broadcast { id, message } => Event::Broadcast { id, message },
            RemoteEvent::OfflineWaiting => Event::OfflineWaiting,
            RemoteEvent::Invitation(invite) => Event::Invitation(invite),
            RemoteEvent::EndSession => return None,
        })
    }
}

/// What became of a message, as the node holding its recipient's session tells the sender's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteOutcome {
    Delivered(Delivery),
    NotAllowed,
    NotOnline,
    QueueFull,
    /// Anything else (the store failed there): the sender's node queues it itself.
    Failed,
}

impl RemoteOutcome {
    pub fn of(outcome: &Result<Delivery, CoreError>) -> RemoteOutcome {
        match outcome {
            Ok(delivery) => RemoteOutcome::Delivered(*delivery),
            Err(CoreError::NotAllowed) => RemoteOutcome::NotAllowed,
            Err(CoreError::NotOnline) => RemoteOutcome::NotOnline,
            Err(CoreError::QueueFull) => RemoteOutcome::QueueFull,
            Err(_) => RemoteOutcome::Failed,
        }
    }

    /// The sender's answer; `None` for [`RemoteOutcome::Failed`].
    pub fn into_result(self) -> Option<Result<Delivery, CoreError>> {
        match self {
            RemoteOutcome::Delivered(delivery) => Some(Ok(delivery)),
            RemoteOutcome::NotAllowed => Some(Err(CoreError::NotAllowed)),
            RemoteOutcome::NotOnline => Some(Err(CoreError::NotOnline)),
            RemoteOutcome::QueueFull => Some(Err(CoreError::QueueFull)),
            RemoteOutcome::Failed => None,
        }
    }
}

/// Told, once, what another node made of a message [`Bus::accept`] sent it: `None` when it did
/// not answer in time. Called from the bus's own tasks: it must not block.
pub type Answered = Box<dyn FnOnce(Option<RemoteOutcome>) + Send>;

/// Takes what became of a message another node sent, back to it. Never called (the core went
/// away first), the sender's node waits out its patience and queues the message itself.
pub type Reply = Box<dyn FnOnce(RemoteOutcome) + Send>;

/// What the other nodes ask of this one, or tell it; the core answers.
pub enum Incoming {
    /// Route a message to a session of this node (or, if it is gone, to the durable queue).
    Accept { to: AccountId, message: Message, reply: Reply },
    /// An event for a session of this node.
    Event { to: AccountId, event: RemoteEvent },
    /// The account logged in on another node at `login`: a session of it here that started
    /// earlier ends ("logged in elsewhere").
    Replaced { account: AccountId, login: LoginStamp },
    /// Sessions whose node stopped answering (it died, or this node lost the bus): this node's
    /// watchers of them see them go offline.
    Vanished(Vec<SessionState>),
    /// Sessions learned again once their node answers again: this node's watchers see them.
    Appeared(Vec<SessionState>),
}

/// The way to the sessions of the other nodes.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Whether there are other nodes at all: without, the core skips building what it would
    /// tell them.
    fn spans_nodes(&self) -> bool;
    /// This node's name (empty alone).
    fn node(&self) -> &str;
    /// Tells the other nodes of a change in one of this node's sessions, in order.
    fn publish(&self, change: SessionChange);
    /// The account's session on another node, if it has one.
    fn remote(&self, id: AccountId) -> Option<RemoteSession>;
    /// The session on another node of the account so named, if it has one.
    fn remote_by_name(&self, name: &AccountName) -> Option<RemoteSession>;
    /// The session on another node of the account with this UIN, if it has one.
    fn remote_by_uin(&self, uin: u32) -> Option<RemoteSession>;
    /// Sessions on the other nodes.
    fn remote_count(&self) -> usize;
    /// Sessions on the other nodes by protocol, in [`crate::Protocol::ALL`]'s order.
    fn remote_count_by_protocol(&self) -> [u64; 3];
    /// The other live nodes.
    fn other_nodes(&self) -> Vec<NodeLoad>;
    /// Every session on the other nodes, with its node.
    fn remote_sessions(&self) -> Vec<RemoteSession>;
    /// Hands an event to a session on `node`, without waiting: an event lost on the way is one
    /// the session's next list read makes up for.
    fn send_event(&self, node: &NodeName, to: AccountId, event: RemoteEvent);
    /// Sends `node` a message to route to its session of `to`, at once (so that one sender's
    /// messages leave in order); `answered` hears what became of it, `None` when the node did
    /// not answer in time (the sender's node then queues it).
    fn accept(&self, node: &NodeName, to: AccountId, message: Message, answered: Answered);
    /// What the other nodes ask of this one: taken once, by the core.
    fn take_incoming(&self) -> Option<mpsc::Receiver<Incoming>>;
}

/// One node alone: nothing is elsewhere.
#[derive(Debug, Default)]
pub struct LocalBus;

#[async_trait::async_trait]
impl Bus for LocalBus {
    fn spans_nodes(&self) -> bool {
        false
    }

    fn node(&self) -> &str {
        ""
    }

    fn publish(&self, _: SessionChange) {}

    fn remote(&self, _: AccountId) -> Option<RemoteSession> {
        None
    }

    fn remote_by_name(&self, _: &AccountName) -> Option<RemoteSession> {
        None
    }

    fn remote_by_uin(&self, _: u32) -> Option<RemoteSession> {
        None
    }

    fn remote_count(&self) -> usize {
        0
    }

    fn remote_count_by_protocol(&self) -> [u64; 3] {
        [0; 3]
    }

    fn other_nodes(&self) -> Vec<NodeLoad> {
        Vec::new()
    }

    fn remote_sessions(&self) -> Vec<RemoteSession> {
        Vec::new()
    }

    fn send_event(&self, _: &NodeName, _: AccountId, _: RemoteEvent) {}

    fn accept(&self, _: &NodeName, _: AccountId, _: Message, answered: Answered) {
        answered(None);
    }

    fn take_incoming(&self) -> Option<mpsc::Receiver<Incoming>> {
        None
    }
}
