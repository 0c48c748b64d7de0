//! What travels on the bus: JSON, so that `nats sub 'switchyard.>'` shows it as it is.

use bytes::Bytes;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use switchyard_core::bus::{RemoteEvent, RemoteOutcome, SessionChange};
use switchyard_core::{AccountId, Message};

#[derive(Serialize, Deserialize)]
pub(crate) struct SessionBatch {
    pub node: String,
    /// Every session of the node again, for nodes that just heard of it.
    pub resync: bool,
    pub changes: Vec<SessionChange>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Heartbeat {
    pub node: String,
    pub sessions: usize,
    pub addresses: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Addressed {
    pub to: AccountId,
    pub event: RemoteEvent,
}

/// A message for a session of the receiving node, numbered by the sender's.
#[derive(Serialize, Deserialize)]
pub(crate) struct Accept {
    pub id: u64,
    pub to: AccountId,
    pub message: Message,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AcceptBatch {
    pub from: String,
    pub accepts: Vec<Accept>,
}

/// What became of the message numbered `id`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub id: u64,
    pub outcome: RemoteOutcome,
}

pub(crate) fn encode(value: &impl Serialize) -> Bytes {
    serde_json::to_vec(value).expect("bus types serialize").into()
}

/// `None`, with a log line, for what no node of this version sends.
pub(crate) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Option<T> {
    serde_json::from_slice(payload).map_err(|e| tracing::warn!(error = %e, "undecodable bus message dropped")).ok()
}
