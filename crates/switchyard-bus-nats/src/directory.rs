//! What this node knows of the network: its own sessions (to tell nodes that just heard of it),
//! the sessions elsewhere, and the nodes alive.

use crate::wire::{Heartbeat, SessionBatch};
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchyard_core::bus::{Incoming, NodeName, RemoteSession, SessionChange, SessionState};
use switchyard_core::{AccountId, AccountName};

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
    /// `remote` by name and by UIN: senders name their recipients so (MRIM, MyICQ), and an
    /// online recipient is found here rather than in the store.
    names: DashMap<AccountName, AccountId>,
    uins: DashMap<u32, AccountId>,
    nodes: Mutex<HashMap<NodeName, NodeInfo>>,
}

impl Directory {
    pub(crate) fn new(me: NodeName) -> Directory {
        Directory {
            me,
            mine: DashMap::new(),
            remote: DashMap::new(),
            names: DashMap::new(),
            uins: DashMap::new(),
            nodes: Mutex::new(HashMap::new()),
        }
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

    pub(crate) fn remote_by_name(&self, name: &AccountName) -> Option<RemoteSession> {
        let id = *self.names.get(name)?;
        self.remote(id).filter(|session| session.state.account.name == *name)
    }

    pub(crate) fn remote_by_uin(&self, uin: u32) -> Option<RemoteSession> {
        let id = *self.uins.get(&uin)?;
        self.remote(id).filter(|session| session.state.account.uin == uin)
    }

    /// Records a session elsewhere; whether the account had one known already.
    fn insert_remote(&self, session: RemoteSession) -> bool {
        let account = &session.state.account;
        self.names.insert(account.name.clone(), account.id);
        self.uins.insert(account.uin, account.id);
        self.remote.insert(account.id, session).is_some()
    }

    /// Forgets the account's session elsewhere if `which` is it; the session forgotten.
    fn remove_remote(&self, id: AccountId, which: impl FnOnce(&RemoteSession) -> bool) -> Option<RemoteSession> {
        let (_, session) = self.remote.remove_if(&id, |_, session| which(session))?;
        let account = &session.state.account;
        self.names.remove_if(&account.name, |_, named| *named == id);
        self.uins.remove_if(&account.uin, |_, numbered| *numbered == id);
        Some(session)
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
                        let known = self.insert_remote(RemoteSession { node: node.clone(), state: state.clone() });
                        if batch.resync && !known {
                            appeared.push(state);
                        }
                    }
                }
                SessionChange::Changed(state) => {
                    if self.is_later(&state) {
                        self.insert_remote(RemoteSession { node: node.clone(), state });
                    }
                }
                SessionChange::Ended { account, login } => {
                    self.remove_remote(account, |session| session.state.login == login);
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
                    .filter_map(|id| self.remove_remote(id, |s| s.node == node))
                    .map(|s| s.state)
                    .collect();
                (node, sessions)
            })
            .collect()
    }

    pub(crate) fn live_nodes(&self) -> Vec<NodeInfo> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::bus::LoginStamp;
    use switchyard_core::{AccountRef, Presence, Protocol, Status};

    fn session(id: i64, name: &str, uin: u32, node: &str, unix_ms: u64) -> SessionState {
        SessionState {
            account: AccountRef { id: AccountId(id), name: AccountName::new(name).unwrap(), uin, nickname: None },
            login: LoginStamp { unix_ms, node: node.to_owned(), session: 1 },
            presence: Presence::new(Status::Online, name.to_owned()),
            privacy: None,
            takes_invitations: true,
            protocol: Protocol::Mrim,
        }
    }

    fn batch(node: &str, changes: Vec<SessionChange>) -> SessionBatch {
        SessionBatch { node: node.to_owned(), resync: false, changes }
    }

    fn found_by_name(directory: &Directory, name: &str) -> Option<(i64, String)> {
        let session = directory.remote_by_name(&AccountName::new(name).unwrap())?;
        Some((session.state.account.id.0, session.node.to_string()))
    }

    #[test]
    fn sessions_elsewhere_are_found_by_name_and_uin_while_they_last() {
        let directory = Directory::new("here".into());
        let alice = session(1, "alice", 10001, "a", 100);
        directory.apply(batch("a", vec![SessionChange::Started(alice.clone())]));
        assert_eq!(found_by_name(&directory, "alice"), Some((1, "a".to_owned())));
        assert_eq!(directory.remote_by_uin(10001).map(|s| s.state.account.id), Some(AccountId(1)));
        assert_eq!(found_by_name(&directory, "bob"), None);
        assert!(directory.remote_by_uin(10002).is_none());

        // Logged in again on node b: found there; the end of the older session changes nothing.
        let later = session(1, "alice", 10001, "b", 200);
        directory.apply(batch("b", vec![SessionChange::Started(later.clone())]));
        directory.apply(batch("a", vec![SessionChange::Ended { account: AccountId(1), login: alice.login }]));
        assert_eq!(found_by_name(&directory, "alice"), Some((1, "b".to_owned())));

        directory.apply(batch("b", vec![SessionChange::Ended { account: AccountId(1), login: later.login }]));
        assert_eq!(found_by_name(&directory, "alice"), None);
        assert!(directory.remote_by_uin(10001).is_none());
        assert!(directory.names.is_empty() && directory.uins.is_empty(), "nothing of an ended session is kept");
    }

    #[test]
    fn a_buried_nodes_sessions_are_no_longer_found_by_name() {
        let directory = Directory::new("here".into());
        directory.heard(&Heartbeat { node: "a".to_owned(), sessions: 1, addresses: Vec::new() });
        directory.apply(batch("a", vec![SessionChange::Started(session(1, "alice", 10001, "a", 100))]));
        assert!(found_by_name(&directory, "alice").is_some());
        let buried = directory.bury(Duration::ZERO);
        assert_eq!(buried.len(), 1);
        assert_eq!(found_by_name(&directory, "alice"), None);
        assert!(directory.remote_by_uin(10001).is_none());
    }
}
