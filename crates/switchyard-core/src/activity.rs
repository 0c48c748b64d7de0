//! What the network is doing, counted as it happens: sessions, logins, messages by route,
//! presence changes. The operator's dashboard and `/metrics` read it; counting is a relaxed
//! atomic add, nothing on the way of a message waits for it.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The networks a session can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Protocol {
    Msn,
    Mrim,
    MyIcq,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Msn, Protocol::Mrim, Protocol::MyIcq];

    /// Its name in metrics and settings: `msn`, `mrim`, `myicq`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Msn => "msn",
            Protocol::Mrim => "mrim",
            Protocol::MyIcq => "myicq",
        }
    }

    /// How people call it.
    pub fn title(self) -> &'static str {
        match self {
            Protocol::Msn => "MSN Messenger",
            Protocol::Mrim => "Mail.Ru Agent",
            Protocol::MyIcq => "MyICQ",
        }
    }

    /// Its place in per-protocol arrays: [`Protocol::ALL`]'s order.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The client behind a session, as it introduced itself: for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub protocol: Protocol,
    /// What the client said it is (the MSN dialect and `CVR`, the MRIM user agent, the MyICQ
    /// version), at most [`ClientInfo::MAX_VERSION`] bytes.
    pub version: Box<str>,
    pub address: Option<IpAddr>,
}

impl ClientInfo {
    pub const MAX_VERSION: usize = 100;

    pub fn new(protocol: Protocol, version: &str, address: Option<IpAddr>) -> ClientInfo {
        let mut end = version.len().min(Self::MAX_VERSION);
        while !version.is_char_boundary(end) {
            end -= 1;
        }
        ClientInfo { protocol, version: version[..end].into(), address }
    }
}

/// Where a message went: to a session of a protocol, or to the durable queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Session(Protocol),
    Queue,
}

impl Destination {
    pub const ALL: [Destination; 4] = [
        Destination::Session(Protocol::Msn),
        Destination::Session(Protocol::Mrim),
        Destination::Session(Protocol::MyIcq),
        Destination::Queue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Destination::Session(protocol) => protocol.name(),
            Destination::Queue => "offline",
        }
    }

    fn index(self) -> usize {
        match self {
            Destination::Session(protocol) => protocol.index(),
            Destination::Queue => 3,
        }
    }
}

/// The counters of one node.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    sessions: [AtomicI64; 3],
    logins: [AtomicU64; 3],
    /// By the sender's protocol, then the destination.
    messages: [[AtomicU64; 4]; 3],
    presence_changes: AtomicU64,
}

/// The counters at one moment. Counts only grow; `sessions` is how many there are now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityCounts {
    pub sessions: [u64; 3],
    pub logins: [u64; 3],
    pub failed_logins: u64,
    pub messages: [[u64; 4]; 3],
    pub presence_changes: u64,
}

impl ActivityCounts {
    pub fn sessions_of(&self, protocol: Protocol) -> u64 {
        self.sessions[protocol.index()]
    }

    pub fn logins_of(&self, protocol: Protocol) -> u64 {
        self.logins[protocol.index()]
    }

    pub fn messages_on(&self, from: Protocol, to: Destination) -> u64 {
        self.messages[from.index()][to.index()]
    }
}

impl Activity {
    pub(crate) fn session_started(&self, protocol: Protocol) {
        self.sessions[protocol.index()].fetch_add(1, Ordering::Relaxed);
        self.logins[protocol.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn session_ended(&self, protocol: Protocol) {
        self.sessions[protocol.index()].fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn message(&self, from: Protocol, to: Destination) {
        self.messages[from.index()][to.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn presence_changed(&self) {
        self.presence_changes.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now; `failed_logins` is the login throttle's to give.
    pub(crate) fn counts(&self, failed_logins: u64) -> ActivityCounts {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ActivityCounts {
            sessions: self.sessions.each_ref().map(|gauge| gauge.load(Ordering::Relaxed).max(0) as u64),
            logins: self.logins.each_ref().map(load),
            failed_logins,
            messages: self.messages.each_ref().map(|row| row.each_ref().map(load)),
            presence_changes: load(&self.presence_changes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_cut_at_a_character_boundary() {
        let long = "я".repeat(80);
        let info = ClientInfo::new(Protocol::Mrim, &long, None);
        assert_eq!(info.version.len(), ClientInfo::MAX_VERSION);
        let info = ClientInfo::new(Protocol::Mrim, &format!("x{long}"), None);
        assert_eq!(info.version.len(), ClientInfo::MAX_VERSION - 1);
    }

    #[test]
    fn counts_follow_sessions_and_messages() {
        let activity = Activity::default();
        activity.session_started(Protocol::Mrim);
        activity.session_started(Protocol::Mrim);
        activity.session_ended(Protocol::Mrim);
        activity.message(Protocol::Msn, Destination::Queue);
        let counts = activity.counts(0);
        assert_eq!((counts.sessions_of(Protocol::Mrim), counts.logins_of(Protocol::Mrim)), (1, 2));
        assert_eq!(counts.messages_on(Protocol::Msn, Destination::Queue), 1);
        assert_eq!(counts.messages_on(Protocol::Mrim, Destination::Queue), 0);
    }
}
