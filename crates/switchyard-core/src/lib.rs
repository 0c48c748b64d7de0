//! The protocol-neutral domain of Switchyard. It knows accounts, contact relations, privacy,
//! presence and message delivery, and never sees a wire format. Fronts call [`Core`] and receive
//! [`Event`]s on their session's bounded channel.

pub mod account;
mod acknowledgements;
pub mod activity;
pub mod bus;
#[cfg(any(test, feature = "bus-suite"))]
pub mod bus_suite;
mod cluster;
mod delivery;
pub mod error;
mod hub;
mod lists;
pub mod memory;
pub mod offline;
pub mod presence;
pub mod privacy;
pub mod profile;
mod routing;
pub mod secrets;
pub mod store;
#[cfg(any(test, feature = "store-suite"))]
pub mod store_suite;
pub mod throttle;

pub use account::{Account, AccountId, AccountName, AccountRef};
pub use acknowledgements::Acknowledgements;
pub use activity::{ActivityCounts, ClientInfo, Destination, Protocol};
pub use delivery::{Accepted, Handoff, Settlements};
pub use error::CoreError;
pub use hub::{ConversationInvite, Event, Invitation, KickReason, OnlineSession, Session};
pub use lists::{ContactList, ListEntry, ListKind};
pub use offline::ShownQueue;
pub use presence::{ClientDetails, Presence, Status};
pub use privacy::{AddPolicy, Privacy, RelationFlags, ReverseListPrompt};
pub use profile::{Date, Profile, SearchQuery, Sex, TextMatch};
pub use routing::{unix_now, Delivery, Font, Formatted, Message};
pub use secrets::Secrets;
pub use store::{ContactGroup, GroupId, MessageKind, Store, StoreError};
pub use throttle::{LoginThrottle, ThrottleConfig, Throttled};

#[cfg(test)]
mod tests;

use std::sync::Arc;

/// Limits and sizes the core enforces.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Most entries on one of a user's lists (forward, allow, block).
    pub max_list_entries: usize,
    /// Events a session may have waiting before it is considered too slow and closed.
    pub session_queue: usize,
    /// Bytes of message text one session may hold in memory, not yet received by its client,
    /// before it is considered too slow and closed (what it held goes to the durable queue).
    pub session_bytes: usize,
    /// Bytes of message text all sessions together may hold in memory; past it, messages go
    /// to the durable queue first and their recipients read them from there.
    pub memory_bytes: usize,
    /// How long a message handed to a live session may be only in memory before it is stored
    /// too: most reach their client well within it and never touch the disk.
    pub delivery_grace: std::time::Duration,
    /// Messages that may wait for one offline user ("mailbox full" past that).
    pub max_offline_messages: usize,
    /// Contact groups one user may have (fronts may allow fewer).
    pub max_groups: usize,
    /// How failed logins are slowed down, for every protocol alike.
    pub throttle: ThrottleConfig,
}

impl Default for CoreConfig {
    fn default() -> Self {
        // 600 was the forward-list limit of the MSN 6–7.5 era service.
        // 30 groups was MSN's limit (MRIM allows 20).
        CoreConfig {
            max_list_entries: 600,
            session_queue: 512,
            session_bytes: 4 << 20,
            memory_bytes: 256 << 20,
            delivery_grace: std::time::Duration::from_millis(100),
            max_offline_messages: 1000,
            max_groups: 30,
            throttle: ThrottleConfig::default(),
        }
    }
}

/// The shared domain object: one per server, cheap to clone.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    bus: Arc<dyn bus::Bus>,
    hub: hub::Hub,
    throttle: LoginThrottle,
    journal: delivery::Journal,
    activity: activity::Activity,
    config: CoreConfig,
}

impl Core {
    /// The core of a server alone. Call it within a Tokio runtime: it starts the delivery
    /// journal's task there.
    pub fn new(store: Arc<dyn Store>, config: CoreConfig) -> Self {
        Core::with_bus(store, Arc::new(bus::LocalBus), config)
    }

    /// The core of one node of a network whose nodes share `store` and talk over `bus`. Call
    /// it within a Tokio runtime: it starts the journal's task and the one that answers the
    /// other nodes there.
    pub fn with_bus(store: Arc<dyn Store>, bus: Arc<dyn bus::Bus>, config: CoreConfig) -> Self {
        let incoming = bus.take_incoming();
        let throttle = LoginThrottle::new(config.throttle.clone());
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let weak = weak.clone();
            let journal = delivery::Journal::start(store.clone(), config.delivery_grace, move |to| {
                if let Some(inner) = weak.upgrade() {
                    Core { inner }.notify(to, Event::OfflineWaiting);
                }
            });
            let (hub, activity) = (hub::Hub::default(), activity::Activity::default());
            Inner { store, bus, hub, throttle, journal, activity, config }
        });
        if let Some(incoming) = incoming {
            tokio::spawn(cluster::answer_other_nodes(Arc::downgrade(&inner), incoming));
        }
        Core { inner }
    }

    /// Stores every message still in flight only in memory; for a shutdown, once the
    /// sessions have ended.
    pub async fn close(&self) {
        self.journal().flush().await;
    }

    fn journal(&self) -> &delivery::Journal {
        &self.inner.journal
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    /// The failed-login limiter of every protocol and the nexus.
    pub fn login_throttle(&self) -> &LoginThrottle {
        &self.inner.throttle
    }

    /// What this node has done since it started, and its sessions now.
    pub fn activity(&self) -> ActivityCounts {
        self.inner.activity.counts(self.inner.throttle.failures())
    }

    fn counters(&self) -> &activity::Activity {
        &self.inner.activity
    }

    fn hub(&self) -> &hub::Hub {
        &self.inner.hub
    }

    fn bus(&self) -> &dyn bus::Bus {
        self.inner.bus.as_ref()
    }

    /// Number of accounts with a live session, on every node.
    pub fn online_count(&self) -> usize {
        self.hub().len() + self.bus().remote_count()
    }

    /// Where new logins of `protocol` are best sent: the address of the live node with the
    /// fewest sessions, if that is another node (`None`: this one).
    pub fn least_loaded_elsewhere(&self, protocol: &str) -> Option<String> {
        let here = self.local_count();
        self.bus()
            .other_nodes()
            .into_iter()
            .filter(|node| node.sessions < here)
            .filter_map(|node| {
                let address = node.addresses.into_iter().find(|(p, _)| p == protocol)?.1;
                Some((node.sessions, node.node, address))
            })
            .min()
            .map(|(_, _, address)| address)
    }

    /// Number of accounts with a live session on this node.
    pub fn local_count(&self) -> usize {
        self.hub().len()
    }
}
