//! What this node knows of the network: its own sessions (to tell nodes that just heard of it),
//! the sessions elsewhere, and the nodes alive.

use crate::wire::{Heartbeat, SessionBatch};
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchyard_core::bus::{Incoming, NodeName, RemoteSession, SessionChange, SessionState};
use switchyard_core::AccountId;

/// A live node as its last heartbeat told.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub name: NodeName,
    pub sessions: usize,
    /// Where its clients reach it, by protocol.
    pub addresses: Vec<(String, String)>,
    last_heard: Instant,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NodeSeen {
    /// Not heard before, or heard again after it was counted dead.
    New,
    Known,
}

pub(crate) struct Directory {
    me: NodeName,
    mine: DashMap<AccountId, SessionState>,
    remote: DashMap<AccountId, RemoteSession>,
    nodes: Mutex<HashMap<NodeName, NodeInfo>>,
}

impl Directory {
    pub(crate) fn new(me: NodeName) -> Directory {
        Directory { me, mine: DashMap::new(), remote: DashMap::new(), nodes: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn record_mine(&self, change: &SessionChange) {
        match change {
            SessionChange::Started(state) | SessionChange::Changed(state) => {
                self.mine.insert(state.account.id, state.clone());
            }
            SessionChange::Ended { account, login } => {
                self.mine.remove_if(account, |_, state| state.login == *login);
            }
        }
    }

    pub(crate) fn mine(&self) -> Vec<SessionState> {
        self.mine.iter().map(|entry| entry.value().clone()).collect()
    }

    pub(crate) fn mine_count(&self) -> usize {
        self.mine.len()
    }

    pub(crate) fn remote(&self, id: AccountId) -> Option<RemoteSession> {
        self.remote.get(&id).map(|entry| entry.value().clone())
    }

    pub(crate) fn remote_count(&self) -> usize {
        self.remote.len()
    }

    pub(crate) fn remote_count_by_protocol(&self) -> [u64; 3] {
        let mut counts = [0; 3];
        for session in self.remote.iter() {
            counts[session.state.protocol.index()] += 1;
        }
        counts
    }

    pub(crate) fn remote_sessions(&self) -> Vec<RemoteSession> {
        self.remote.iter().map(|entry| entry.value().clone()).collect()
    }

    /// Takes another node's session changes in; returns what the core must hear of them.
    pub(crate) fn apply(&self, batch: SessionBatch) -> Vec<Incoming> {
        if *batch.node == *self.me {
            return Vec::new();
        }
        let node: NodeName = batch.node.as_str().into();
        let mut told = Vec::new();
        let mut appeared = Vec::new();
        for change in batch.changes {
            match change {
                SessionChange::Started(state) => {
                    let id = state.account.id;
                    if self.mine.get(&id).is_some_and(|mine| mine.login < state.login) {
                        told.push(Incoming::Replaced { account: id, login: state.login.clone() });
                    }
                    if self.is_later(&state) {
                        let session = RemoteSession { node: node.clone(), state: state.clone() };
                        let known = self.remote.insert(id, session).is_some();
                        if batch.resync && !known {
                            appeared.push(state);
                        }
                    }
                }
                SessionChange::Changed(state) => {
                    if self.is_later(&state) {
                        self.remote.insert(state.account.id, RemoteSession { node: node.clone(), state });
                    }
                }
                SessionChange::Ended { account, login } => {
                    self.remote.remove_if(&account, |_, session| session.state.login == login);
                }
            }
        }
        if !appeared.is_empty() {
            told.push(Incoming::Appeared(appeared));
        }
        told
    }

    /// Whether `state` is of the account's latest session known elsewhere.
    fn is_later(&self, state: &SessionState) -> bool {
        self.remote.get(&state.account.id).is_none_or(|known| known.state.login <= state.login)
    }

    pub(crate) fn heard(&self, heartbeat: &Heartbeat) -> NodeSeen {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let name: NodeName = heartbeat.node.as_str().into();
        let info = NodeInfo {
            name: name.clone(),
            sessions: heartbeat.sessions,
            addresses: heartbeat.addresses.clone(),
            last_heard: Instant::now(),
        };
        match nodes.insert(name, info) {
            Some(_) => NodeSeen::Known,
            None => NodeSeen::New,
        }
    }

    /// Forgets the nodes not heard for `timeout`, and their sessions, which it returns.
    pub(crate) fn bury(&self, timeout: Duration) -> Vec<(NodeName, Vec<SessionState>)> {
        let dead: Vec<NodeName> = {
            let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
            let dead: Vec<NodeName> =
                nodes.values().filter(|n| n.last_heard.elapsed() > timeout).map(|n| n.name.clone()).collect();
            for name in &dead {
                nodes.remove(name);
            }
            dead
        };
        dead.into_iter()
            .map(|node| {
                let ids: Vec<AccountId> =
                    self.remote.iter().filter(|e| e.value().node == node).map(|e| *e.key()).collect();
                let sessions = ids
                    .into_iter()
                    .filter_map(|id| self.remote.remove_if(&id, |_, s| s.node == node))
                    .map(|(_, s)| s.state)
                    .collect();
                (node, sessions)
            })
            .collect()
    }

    pub(crate) fn live_nodes(&self) -> Vec<NodeInfo> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }
}
