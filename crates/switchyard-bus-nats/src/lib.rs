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
//! * `PREFIX.node.NODE.event`: an event for a session of NODE.
//! * `PREFIX.node.NODE.accept`: request: route this message to your session; reply: what
//!   became of it.

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
use switchyard_core::{AccountId, Message};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use directory::NodeInfo;
use directory::{Directory, NodeSeen};
use wire::{Accept, Addressed, Heartbeat, SessionBatch};

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
        message: Bytes,
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
            config: config.clone(),
        });
        let subject = |s: &str| format!("{}.{s}", config.prefix);
        let sessions = sub(&client, subject("sessions")).await?;
        let heartbeats = sub(&client, subject("heartbeat")).await?;
        let events = sub(&client, subject(&format!("node.{node}.event"))).await?;
        let accepts = sub(&client, subject(&format!("node.{node}.accept"))).await?;
        let resyncs = sub(&client, subject(&format!("node.{node}.resync"))).await?;
        let until_stopped = |task| {
            let stop = bus.shutdown.clone();
            tokio::spawn(async move { stop.run_until_cancelled(task).await });
        };
        until_stopped(Box::pin(send_outgoing(bus.clone_parts(), outgoing)) as Task);
        until_stopped(Box::pin(hear_sessions(sessions, directory.clone(), incoming_tx.clone())));
        until_stopped(Box::pin(hear_heartbeats(heartbeats, bus.clone_parts())));
        until_stopped(Box::pin(hear_events(events, incoming_tx.clone())));
        until_stopped(Box::pin(hear_accepts(accepts, client.clone(), incoming_tx.clone())));
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

    fn remote_count(&self) -> usize {
        self.directory.remote_count()
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
        let message = wire::encode(&Addressed { to, event });
        if self.outbox.try_send(Outgoing::Event { node: node.clone(), message }).is_err() {
            tracing::warn!(%node, "the bus's outbox is full; an event is dropped");
        }
    }

    async fn accept(&self, node: &NodeName, to: AccountId, message: &Message) -> Option<RemoteOutcome> {
        let subject = format!("{}.node.{node}.accept", self.config.prefix);
        let request = wire::encode(&Accept { to, message: message.clone() });
        match self.client.request(subject, request).await {
            Ok(reply) => wire::decode(&reply.payload),
            Err(e) => {
                tracing::debug!(%node, error = %e, "no answer to a message for a session there");
                None
            }
        }
    }

    fn take_incoming(&self) -> Option<mpsc::Receiver<Incoming>> {
        self.incoming.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Sends what the core queued: session changes in batches, in order, and events.
async fn send_outgoing(parts: Parts, mut outgoing: mpsc::Receiver<Outgoing>) {
    let mut batch = Vec::new();
    let mut events = Vec::new();
    while let Some(first) = outgoing.recv().await {
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outgoing::Change(change) => batch.push(change),
                Outgoing::Event { node, message } => events.push((node, message)),
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
                    send_events(&parts, &mut events).await;
                    let _ = parts.client.flush().await;
                    let _ = done.send(());
                }
            }
            if batch.len() < BATCH {
                next = outgoing.try_recv().ok();
            }
        }
        publish_sessions(&parts, std::mem::take(&mut batch), false).await;
        send_events(&parts, &mut events).await;
    }
}

async fn send_events(parts: &Parts, events: &mut Vec<(NodeName, Bytes)>) {
    for (node, message) in events.drain(..) {
        if let Err(e) = parts.client.publish(format!("{}.node.{node}.event", parts.config.prefix), message).await {
            tracing::warn!(error = %e, "cannot publish an event");
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
        let Some(Addressed { to, event }) = wire::decode(&message.payload) else { continue };
        if incoming.send(Incoming::Event { to, event }).await.is_err() {
            return;
        }
    }
}

async fn hear_accepts(mut sub: async_nats::Subscriber, client: Client, incoming: mpsc::Sender<Incoming>) {
    while let Some(request) = sub.next().await {
        let (Some(Accept { to, message }), Some(reply_to)) = (wire::decode(&request.payload), request.reply) else {
            continue;
        };
        let (reply, answer) = oneshot::channel();
        if incoming.send(Incoming::Accept { to, message, reply }).await.is_err() {
            return;
        }
        let client = client.clone();
        tokio::spawn(async move {
            let outcome = answer.await.unwrap_or(RemoteOutcome::Failed);
            if let Err(e) = client.publish(reply_to, wire::encode(&outcome)).await {
                tracing::warn!(error = %e, "cannot answer a message's sender");
            }
        });
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
