//! The bus between the nodes of a Switchyard network, on NATS (core NATS: nothing here needs
//! to outlive a node, what must is in the shared store).
//!
//! Subjects, under a prefix (`switchyard` unless configured):
//!
//! * `PREFIX.heartbeat`: every node, each `heartbeat`: its name, load and public addresses. A
//!   node not heard for `node_timeout` is dead: its sessions leave every directory and their
//!   watchers see them offline. A node heard for the first time (new, or back after an outage
//!   on either side) gets every session of the hearer again.
//! * `PREFIX.sessions`: the changes of a node's sessions, in batches, in order.
//! * `PREFIX.node.NODE.event`: events for sessions of NODE.
//! * `PREFIX.node.NODE.accept`: messages to route to sessions of NODE, numbered by the sender's
//!   node; `PREFIX.node.NODE.outcome`: what became of NODE's numbered messages.
//!
//! Everything a node sends goes through one task, which sends what has queued meanwhile as one
//! NATS message per subject: under load, many messages cost one write and one wake-up.

mod directory;
mod wire;

use async_nats::Client;
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchyard_core::bus::{
    Bus, Incoming, NodeLoad, NodeName, RemoteEvent, RemoteOutcome, RemoteSession, SessionChange,
};
use switchyard_core::{AccountId, AccountName, Message};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use directory::NodeInfo;
use directory::{Directory, NodeSeen};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use switchyard_core::bus::Answered;
use wire::{Accept, AcceptBatch, Addressed, Heartbeat, Outcome, SessionBatch};

/// How this node joins the network.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `nats://HOST:PORT` (several, comma-separated, for a NATS cluster).
    pub nats_url: String,
    /// This node's name, unique in the network.
    pub node: String,
    /// Subjects' prefix: networks sharing one NATS keep apart by it.
    pub prefix: String,
    pub heartbeat: Duration,
    /// A node not heard for this long is dead.
    pub node_timeout: Duration,
    /// How long a message's sender waits for the recipient's node before queuing it.
    pub request_timeout: Duration,
}

impl ClusterConfig {
    pub fn new(nats_url: &str, node: &str) -> ClusterConfig {
        ClusterConfig {
            nats_url: nats_url.to_owned(),
            node: node.to_owned(),
            prefix: "switchyard".to_owned(),
            heartbeat: Duration::from_secs(1),
            node_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot reach NATS at {url}: {error}")]
    Connect { url: String, error: String },
    #[error("NATS: {0}")]
    Nats(String),
}

/// Outgoing traffic, queued by the core's synchronous calls and sent by one task.
enum Outgoing {
    Change(SessionChange),
    Event {
        node: NodeName,
        event: Addressed,
    },
    Accept {
        node: NodeName,
        accept: Accept,
    },
    Outcome {
        node: NodeName,
        outcome: Outcome,
    },
    /// Every session of this node again, in its place among the changes.
    Resync,
    /// Answered once everything queued before it is sent.
    Flush(oneshot::Sender<()>),
}

/// Changes and events queued for NATS at most; beyond, they are dropped (and logged): the
/// directories are rebuilt when the nodes hear each other again.
const OUTBOX: usize = 65_536;
/// Session changes per published batch.
const BATCH: usize = 512;

pub struct NatsBus {
    config: ClusterConfig,
    node: NodeName,
    client: Client,
    directory: Arc<Directory>,
    outbox: mpsc::Sender<Outgoing>,
    incoming: Mutex<Option<mpsc::Receiver<Incoming>>>,
    addresses: Arc<Mutex<Vec<(String, String)>>>,
    /// Messages sent to other nodes, waiting for what became of them.
    pending: Arc<Pending>,
    next_accept: AtomicU64,
    shutdown: CancellationToken,
}

impl NatsBus {
    /// Connects and starts hearing the other nodes. Fails when NATS cannot be reached now;
    /// once connected, the client reconnects by itself after an outage.
    pub async fn connect(config: ClusterConfig) -> Result<Arc<NatsBus>, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("switchyard {}", config.node))
            .request_timeout(Some(config.request_timeout))
            .max_reconnects(None)
            .connect(config.nats_url.as_str())
            .await
            .map_err(|e| BusError::Connect { url: config.nats_url.clone(), error: e.to_string() })?;
        let node: NodeName = config.node.as_str().into();
        let (incoming_tx, incoming_rx) = mpsc::channel(4096);
        let (outbox, outgoing) = mpsc::channel(OUTBOX);
        let directory = Arc::new(Directory::new(node.clone()));
        let bus = Arc::new(NatsBus {
            node: node.clone(),
            client: client.clone(),
            directory: directory.clone(),
            outbox,
            incoming: Mutex::new(Some(incoming_rx)),
            shutdown: CancellationToken::new(),
            addresses: Arc::default(),
            pending: Arc::new(Pending::default()),
            next_accept: AtomicU64::new(0),
            config: config.clone(),
        });
        let subject = |s: &str| format!("{}.{s}", config.prefix);
        let sessions = sub(&client, subject("sessions")).await?;
        let heartbeats = sub(&client, subject("heartbeat")).await?;
        let events = sub(&client, subject(&format!("node.{node}.event"))).await?;
        let accepts = sub(&client, subject(&format!("node.{node}.accept"))).await?;
        let resyncs = sub(&client, subject(&format!("node.{node}.resync"))).await?;
        let outcomes = sub(&client, subject(&format!("node.{node}.outcome"))).await?;
        let unheard = sub(&client, unheard_subject(&config, ">")).await?;
        let until_stopped = |task| {
            let stop = bus.shutdown.clone();
            tokio::spawn(async move { stop.run_until_cancelled(task).await });
        };
        until_stopped(Box::pin(send_outgoing(bus.clone_parts(), outgoing)) as Task);
        until_stopped(Box::pin(hear_sessions(sessions, directory.clone(), incoming_tx.clone())));
        until_stopped(Box::pin(hear_heartbeats(heartbeats, bus.clone_parts())));
        until_stopped(Box::pin(hear_events(events, incoming_tx.clone())));
        until_stopped(Box::pin(hear_accepts(accepts, bus.clone_parts(), incoming_tx.clone())));
        until_stopped(Box::pin(hear_outcomes(outcomes, bus.pending.clone())));
        until_stopped(Box::pin(hear_unheard(unheard, unheard_subject(&config, ""), bus.pending.clone())));
        until_stopped(Box::pin(expire_pending(bus.pending.clone(), config.request_timeout)));
        until_stopped(Box::pin(hear_resyncs(resyncs, bus.clone_parts())));
        until_stopped(Box::pin(beat(bus.clone_parts(), incoming_tx)));
        Ok(bus)
    }

    /// The live nodes other than this one, as their heartbeats last told.
    pub fn live_nodes(&self) -> Vec<NodeInfo> {
        self.directory.live_nodes()
    }

    /// Where clients reach this node, by protocol (`msn`, `mrim`, `myicq`), for its heartbeat.
    pub fn set_addresses(&self, addresses: Vec<(String, String)>) {
        *self.addresses.lock().unwrap_or_else(|p| p.into_inner()) = addresses;
    }

    /// Sends what is queued (the ends of the sessions that just closed), then stops hearing
    /// and telling.
    pub async fn close(&self) {
        let (flushed, done) = oneshot::channel();
        if self.outbox.send(Outgoing::Flush(flushed)).await.is_ok() {
            let _ = tokio::time::timeout(self.config.request_timeout, done).await;
        }
        self.shutdown.cancel();
        // No answer will be heard now: the messages still waiting for one are queued here.
        self.pending.expire(None);
    }

    fn clone_parts(&self) -> Parts {
        Parts {
            config: self.config.clone(),
            client: self.client.clone(),
            directory: self.directory.clone(),
            outbox: self.outbox.clone(),
            addresses: self.addresses.clone(),
        }
    }
}

impl Drop for NatsBus {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What the background tasks share of the bus (not the bus itself, which the core owns).
#[derive(Clone)]
struct Parts {
    config: ClusterConfig,
    client: Client,
    directory: Arc<Directory>,
    outbox: mpsc::Sender<Outgoing>,
    addresses: Arc<Mutex<Vec<(String, String)>>>,
}

async fn sub(client: &Client, subject: String) -> Result<async_nats::Subscriber, BusError> {
    client.subscribe(subject).await.map_err(|e| BusError::Nats(e.to_string()))
}

#[async_trait::async_trait]
impl Bus for NatsBus {
    fn spans_nodes(&self) -> bool {
        true
    }

    fn node(&self) -> &str {
        &self.node
    }

    fn publish(&self, change: SessionChange) {
        self.directory.record_mine(&change);
        if self.outbox.try_send(Outgoing::Change(change)).is_err() {
            tracing::warn!("the bus's outbox is full; a session change is dropped (resent when nodes meet again)");
        }
    }

    fn remote(&self, id: AccountId) -> Option<RemoteSession> {
        self.directory.remote(id)
    }

    fn remote_by_name(&self, name: &AccountName) -> Option<RemoteSession> {
        self.directory.remote_by_name(name)
    }

    fn remote_by_uin(&self, uin: u32) -> Option<RemoteSession> {
        self.directory.remote_by_uin(uin)
    }

    fn remote_count(&self) -> usize {
        self.directory.remote_count()
    }

    fn remote_count_by_protocol(&self) -> [u64; 3] {
        self.directory.remote_count_by_protocol()
    }

    fn other_nodes(&self) -> Vec<NodeLoad> {
        self.directory
            .live_nodes()
            .into_iter()
            .map(|n| NodeLoad { node: n.name, sessions: n.sessions, addresses: n.addresses })
            .collect()
    }

    fn remote_sessions(&self) -> Vec<RemoteSession> {
        self.directory.remote_sessions()
    }

    fn send_event(&self, node: &NodeName, to: AccountId, event: RemoteEvent) {
        let event = Addressed { to, event };
        if self.outbox.try_send(Outgoing::Event { node: node.clone(), event }).is_err() {
            tracing::warn!(%node, "the bus's outbox is full; an event is dropped");
        }
    }

    fn accept(&self, node: &NodeName, to: AccountId, message: Message, answered: Answered) {
        let id = self.next_accept.fetch_add(1, Ordering::Relaxed);
        self.pending.wait(id, node.clone(), answered, Instant::now() + self.config.request_timeout);
        let accept = Accept { id, to, message };
        if self.outbox.try_send(Outgoing::Accept { node: node.clone(), accept }).is_err() {
            tracing::warn!(%node, "the bus's outbox is full; a message is queued here instead");
            self.pending.answer(id, None);
        }
    }

    fn take_incoming(&self) -> Option<mpsc::Receiver<Incoming>> {
        self.incoming.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Sends what the core queued: session changes in batches, in order, and the events,
/// messages and outcomes for each node gathered into one NATS message per node and kind.
async fn send_outgoing(parts: Parts, mut outgoing: mpsc::Receiver<Outgoing>) {
    let mut batch = Vec::new();
    let mut gathered = Gathered::default();
    while let Some(first) = outgoing.recv().await {
        // Lets the tasks woken with this one (the rest of a client's read, other sessions on
        // this thread) queue theirs first: under load a NATS message then carries several, and
        // each one costs the node, NATS and the receiving node a write, a read and wake-ups.
        tokio::task::yield_now().await;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outgoing::Change(change) => batch.push(change),
                Outgoing::Event { node, event } => gathered.events.entry(node).or_default().push(event),
                Outgoing::Accept { node, accept } => gathered.accepts.entry(node).or_default().push(accept),
                Outgoing::Outcome { node, outcome } => gathered.outcomes.entry(node).or_default().push(outcome),
                Outgoing::Resync => {
                    publish_sessions(&parts, std::mem::take(&mut batch), false).await;
                    let mine = parts.directory.mine();
                    for chunk in mine.chunks(BATCH) {
                        publish_sessions(&parts, chunk.iter().cloned().map(SessionChange::Started).collect(), true)
                            .await;
                    }
                }
                Outgoing::Flush(done) => {
                    publish_sessions(&parts, std::mem::take(&mut batch), false).await;
                    gathered.send(&parts).await;
                    let _ = parts.client.flush().await;
                    let _ = done.send(());
                }
            }
            if batch.len() < BATCH {
                next = outgoing.try_recv().ok();
            }
        }
        publish_sessions(&parts, std::mem::take(&mut batch), false).await;
        gathered.send(&parts).await;
    }
}

/// What waits to be sent to each node.
#[derive(Default)]
struct Gathered {
    events: HashMap<NodeName, Vec<Addressed>>,
    accepts: HashMap<NodeName, Vec<Accept>>,
    outcomes: HashMap<NodeName, Vec<Outcome>>,
}

impl Gathered {
    async fn send(&mut self, parts: &Parts) {
        let subject = |node: &NodeName, kind: &str| format!("{}.node.{node}.{kind}", parts.config.prefix);
        let mut messages = Vec::new();
        for (node, events) in self.events.drain() {
            messages.push((subject(&node, "event"), None, wire::encode(&events)));
        }
        for (node, accepts) in self.accepts.drain() {
            let batch = AcceptBatch { from: parts.config.node.clone(), accepts };
            // Where NATS says at once that no node listens (the node is gone), rather than
            // the messages waiting out their time.
            let unheard = unheard_subject(&parts.config, &node);
            messages.push((subject(&node, "accept"), Some(unheard), wire::encode(&batch)));
        }
        for (node, outcomes) in self.outcomes.drain() {
            messages.push((subject(&node, "outcome"), None, wire::encode(&outcomes)));
        }
        for (subject, reply, message) in messages {
            let published = match reply {
                Some(reply) => parts.client.publish_with_reply(subject, reply, message).await,
                None => parts.client.publish(subject, message).await,
            };
            if let Err(e) = published {
                tracing::warn!(error = %e, "cannot publish to another node");
            }
        }
    }
}

async fn publish_sessions(parts: &Parts, changes: Vec<SessionChange>, resync: bool) {
    if changes.is_empty() {
        return;
    }
    let message = wire::encode(&SessionBatch { node: parts.config.node.clone(), resync, changes });
    if let Err(e) = parts.client.publish(format!("{}.sessions", parts.config.prefix), message).await {
        tracing::warn!(error = %e, "cannot publish session changes");
    }
}

async fn hear_sessions(mut sub: async_nats::Subscriber, directory: Arc<Directory>, incoming: mpsc::Sender<Incoming>) {
    while let Some(message) = sub.next().await {
        let Some(batch) = wire::decode::<SessionBatch>(&message.payload) else { continue };
        for told in directory.apply(batch) {
            if incoming.send(told).await.is_err() {
                return;
            }
        }
    }
}

async fn hear_heartbeats(mut sub: async_nats::Subscriber, parts: Parts) {
    while let Some(message) = sub.next().await {
        let Some(heartbeat) = wire::decode::<Heartbeat>(&message.payload) else { continue };
        if heartbeat.node == parts.config.node {
            continue;
        }
        if parts.directory.heard(&heartbeat) == NodeSeen::New {
            // New to this node, or back: each tells the other its sessions (the other may
            // not have counted this node dead, and would not tell otherwise).
            tracing::info!(node = %heartbeat.node, "node joined");
            let ask = format!("{}.node.{}.resync", parts.config.prefix, heartbeat.node);
            if let Err(e) = parts.client.publish(ask, Bytes::new()).await {
                tracing::debug!(error = %e, "cannot ask a node for its sessions");
            }
            resend_mine(&parts).await;
        }
    }
}

async fn hear_resyncs(mut sub: async_nats::Subscriber, parts: Parts) {
    while sub.next().await.is_some() {
        resend_mine(&parts).await;
    }
}

/// Every session of this node, for a node that has just heard of it.
async fn resend_mine(parts: &Parts) {
    if parts.outbox.send(Outgoing::Resync).await.is_err() {
        tracing::debug!("the bus is closing");
    }
}

async fn hear_events(mut sub: async_nats::Subscriber, incoming: mpsc::Sender<Incoming>) {
    while let Some(message) = sub.next().await {
        let Some(events) = wire::decode::<Vec<Addressed>>(&message.payload) else { continue };
        for Addressed { to, event } in events {
            if incoming.send(Incoming::Event { to, event }).await.is_err() {
                return;
            }
        }
    }
}

/// Messages from other nodes for sessions here: the core routes them in order, and what
/// becomes of each goes back to its sender's node.
async fn hear_accepts(mut sub: async_nats::Subscriber, parts: Parts, incoming: mpsc::Sender<Incoming>) {
    while let Some(message) = sub.next().await {
        let Some(AcceptBatch { from, accepts }) = wire::decode(&message.payload) else { continue };
        let from: NodeName = from.as_str().into();
        for Accept { id, to, message } in accepts {
            let (outbox, node) = (parts.outbox.clone(), from.clone());
            let reply = Box::new(move |outcome| {
                if outbox.try_send(Outgoing::Outcome { node, outcome: Outcome { id, outcome } }).is_err() {
                    tracing::warn!("the bus's outbox is full; the sender's node will queue a message itself");
                }
            });
            if incoming.send(Incoming::Accept { to, message, reply }).await.is_err() {
                return;
            }
        }
    }
}

/// Where this node hears that no one took what it sent `node` (`>`: from any node).
fn unheard_subject(config: &ClusterConfig, node: &str) -> String {
    format!("{}.node.{}.unheard.{node}", config.prefix, config.node)
}

/// NATS's "no responders" for messages sent to a node that no longer listens: every message
/// waiting for that node's answer is queued here now (its users are not yet buried).
async fn hear_unheard(mut sub: async_nats::Subscriber, before_node: String, pending: Arc<Pending>) {
    // Every batch sent to a dead node comes back so until it is buried: said once a minute.
    let mut said: HashMap<String, Instant> = HashMap::new();
    while let Some(message) = sub.next().await {
        if message.status != Some(async_nats::StatusCode::NO_RESPONDERS) {
            continue;
        }
        let Some(node) = message.subject.strip_prefix(before_node.as_str()) else { continue };
        if said.get(node).is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            tracing::warn!(%node, "no one listens for that node; messages for its users are queued here");
            if said.len() >= 1024 {
                said.clear();
            }
            said.insert(node.to_owned(), Instant::now());
        }
        pending.nobody_at(node);
    }
}

async fn hear_outcomes(mut sub: async_nats::Subscriber, pending: Arc<Pending>) {
    while let Some(message) = sub.next().await {
        let Some(outcomes) = wire::decode::<Vec<Outcome>>(&message.payload) else { continue };
        for Outcome { id, outcome } in outcomes {
            pending.answer(id, Some(outcome));
        }
    }
}

/// Messages sent to other nodes, by number, until their node answers or its time is up.
#[derive(Default)]
struct Pending(Mutex<Waiting>);

#[derive(Default)]
struct Waiting {
    /// Who waits for each message, and the node it went to.
    answers: HashMap<u64, (NodeName, Answered)>,
    /// Every number as it was sent, with the end of its wait: all wait alike, so this is also
    /// the order in which they run out (one timer for all, not one per message).
    deadlines: VecDeque<(Instant, u64)>,
}

impl Pending {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait(&self, id: u64, node: NodeName, answered: Answered, deadline: Instant) {
        let mut waiting = self.waiting();
        waiting.answers.insert(id, (node, answered));
        waiting.deadlines.push_back((deadline, id));
    }

    fn answer(&self, id: u64, outcome: Option<RemoteOutcome>) {
        let answered = self.waiting().answers.remove(&id);
        if let Some((_, answered)) = answered {
            answered(outcome);
        }
    }

    /// Tells the senders of every message waiting for `node` that no answer will come.
    /// (Their deadlines stay queued and find nothing when they come.)
    fn nobody_at(&self, node: &str) {
        // (`HashMap::extract_if` would do this in one pass, from Rust 1.88; the project keeps 1.85.)
        let unanswered: Vec<Answered> = {
            let mut waiting = self.waiting();
            let ids: Vec<u64> =
                waiting.answers.iter().filter(|(_, (to, _))| &**to == node).map(|(id, _)| *id).collect();
            ids.into_iter().filter_map(|id| waiting.answers.remove(&id)).map(|(_, answered)| answered).collect()
        };
        for answered in unanswered {
            answered(None);
        }
    }

    /// Tells the senders of messages whose wait ended by `now` (of all, without) that no
    /// answer came.
    fn expire(&self, now: Option<Instant>) {
        loop {
            let answered = {
                let mut waiting = self.waiting();
                match waiting.deadlines.front() {
                    Some((deadline, _)) if now.is_none_or(|now| *deadline <= now) => {
                        let (_, id) = waiting.deadlines.pop_front().expect("a front exists");
                        waiting.answers.remove(&id)
                    }
                    _ => return,
                }
            };
            if let Some((_, answered)) = answered {
                answered(None);
            }
        }
    }
}

/// Ends the waits that ran out, checking a tenth of the patience apart (1 to 100 ms).
async fn expire_pending(pending: Arc<Pending>, patience: Duration) {
    let mut every = tokio::time::interval((patience / 10).clamp(Duration::from_millis(1), Duration::from_millis(100)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        pending.expire(Some(Instant::now()));
    }
}

/// Beats, and buries the nodes that stopped beating.
async fn beat(parts: Parts, incoming: mpsc::Sender<Incoming>) {
    let subject = format!("{}.heartbeat", parts.config.prefix);
    let mut every = tokio::time::interval(parts.config.heartbeat);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let heartbeat = Heartbeat {
            node: parts.config.node.clone(),
            sessions: parts.directory.mine_count(),
            addresses: parts.addresses.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        };
        if let Err(e) = parts.client.publish(subject.clone(), wire::encode(&heartbeat)).await {
            tracing::debug!(error = %e, "cannot beat");
        }
        for (node, sessions) in parts.directory.bury(parts.config.node_timeout) {
            tracing::warn!(%node, sessions = sessions.len(), "node stopped beating; its users are offline");
            if incoming.send(Incoming::Vanished(sessions)).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc as std_mpsc;

    fn waiting(pending: &Pending, id: u64, deadline: Instant) -> std_mpsc::Receiver<Option<RemoteOutcome>> {
        waiting_for(pending, "b", id, deadline)
    }

    fn waiting_for(
        pending: &Pending,
        node: &str,
        id: u64,
        deadline: Instant,
    ) -> std_mpsc::Receiver<Option<RemoteOutcome>> {
        let (told, heard) = std_mpsc::channel();
        pending.wait(id, node.into(), Box::new(move |outcome| told.send(outcome).unwrap()), deadline);
        heard
    }

    #[test]
    fn a_message_hears_its_answer_or_that_none_came_in_time_once() {
        let pending = Pending::default();
        let now = Instant::now();
        let answered = waiting(&pending, 1, now);
        let late = waiting(&pending, 2, now);
        let patient = waiting(&pending, 3, now + Duration::from_secs(60));

        pending.answer(1, Some(RemoteOutcome::NotOnline));
        assert!(matches!(answered.try_recv(), Ok(Some(RemoteOutcome::NotOnline))));
        pending.expire(Some(now));
        assert!(answered.try_recv().is_err(), "an answered message is not expired too");
        assert!(matches!(late.try_recv(), Ok(None)), "no answer in time");
        assert!(patient.try_recv().is_err(), "its time is not up");
        pending.answer(2, Some(RemoteOutcome::NotOnline));
        assert!(late.try_recv().is_err(), "an answer after the time is up is not heard");

        pending.expire(None);
        assert!(matches!(patient.try_recv(), Ok(None)), "all end when the bus closes");
        assert!(pending.waiting().answers.is_empty() && pending.waiting().deadlines.is_empty());
    }

    #[test]
    fn messages_for_a_node_nobody_listens_for_hear_so_at_once_and_only_they() {
        let pending = Pending::default();
        let later = Instant::now() + Duration::from_secs(60);
        let (gone, also_gone) = (waiting_for(&pending, "c", 1, later), waiting_for(&pending, "c", 3, later));
        let alive = waiting_for(&pending, "b", 2, later);
        pending.nobody_at("c");
        assert!(matches!(gone.try_recv(), Ok(None)) && matches!(also_gone.try_recv(), Ok(None)));
        assert!(alive.try_recv().is_err(), "another node's messages wait on");
        pending.answer(1, Some(RemoteOutcome::NotOnline));
        assert!(gone.try_recv().is_err(), "told once");
        pending.answer(2, Some(RemoteOutcome::NotOnline));
        assert!(matches!(alive.try_recv(), Ok(Some(RemoteOutcome::NotOnline))));
    }
}
