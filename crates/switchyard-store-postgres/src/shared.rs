//! Connections every short read shares. tokio-postgres pipelines what several tasks ask of one
//! client at once: their statements leave in one write and PostgreSQL reads them in one go,
//! where a pooled connection carries one statement per round trip and costs a wake-up and two
//! system calls on each side for each. Logins are a handful of short reads each, so most of the
//! store's work takes this path; writes and transactions keep their pooled connections.

use crate::db::{database_error, CONNECTION_WAIT};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use switchyard_core::store::StoreError;
use tokio_postgres::{Client, Config, NoTls, Statement};

/// How long a statement may wait for its answer. A shared connection has no pool to run dry, so
/// without a bound a database that stopped answering (but kept its sockets) would hold every
/// caller forever instead of telling clients to try later.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

pub(crate) struct SharedConnections {
    config: Config,
    slots: Vec<Slot>,
    next: AtomicUsize,
}

#[derive(Default)]
struct Slot {
    current: RwLock<Option<Arc<SharedClient>>>,
    /// Held while (re)connecting, so that callers finding the slot empty make one connection.
    connecting: tokio::sync::Mutex<()>,
}

pub(crate) struct SharedClient {
    pub(crate) client: Client,
    /// Statements this connection has prepared, by their text.
    prepared: RwLock<HashMap<String, Statement>>,
}

impl SharedConnections {
    /// `connections` (at least one) slots, each connected at its first use.
    pub(crate) fn new(config: Config, connections: usize) -> SharedConnections {
        let slots = (0..connections).map(|_| Slot::default()).collect();
        SharedConnections { config, slots, next: AtomicUsize::new(0) }
    }

    /// The next shared connection (connected anew if it is new or broke) and `sql` prepared on it.
    pub(crate) async fn prepared(&self, sql: &str) -> Result<(Arc<SharedClient>, Statement), StoreError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let shared = self.client(slot).await?;
        let statement = answered(shared.prepare(sql)).await?;
        Ok((shared, statement))
    }

    async fn client(&self, slot: &Slot) -> Result<Arc<SharedClient>, StoreError> {
        if let Some(shared) = slot.live() {
            return Ok(shared);
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(shared) = slot.live() {
            return Ok(shared);
        }
        // The whole connect (TCP, start-up, authentication) is bounded, as the pool's creation is:
        // callers wait behind it.
        let (client, connection) = tokio::time::timeout(CONNECTION_WAIT, self.config.connect(NoTls))
            .await
            .map_err(|_| StoreError::Backend(format!("database unavailable: no connection in {CONNECTION_WAIT:?}")))?
            .map_err(|e| StoreError::Backend(format!("database unavailable: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "shared PostgreSQL connection ended");
            }
        });
        let shared = Arc::new(SharedClient { client, prepared: RwLock::default() });
        *slot.current.write().unwrap_or_else(|e| e.into_inner()) = Some(shared.clone());
        Ok(shared)
    }
}

impl Slot {
    fn live(&self) -> Option<Arc<SharedClient>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().filter(|shared| !shared.client.is_closed()).cloned()
    }
}

impl SharedClient {
    async fn prepare(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.prepared.read().unwrap_or_else(|e| e.into_inner()).get(sql) {
            return Ok(statement.clone());
        }
        // Tasks preparing the same text at once each prepare it; the last one is kept.
        let statement = self.client.prepare(sql).await?;
        self.prepared.write().unwrap_or_else(|e| e.into_inner()).insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// A statement's answer, or "unavailable" once [`ANSWER_WAIT`] has passed.
pub(crate) async fn answered<T>(
    answer: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(ANSWER_WAIT, answer).await {
        Ok(answer) => answer.map_err(database_error),
        Err(_) => Err(StoreError::Backend(format!("database unavailable: no answer in {ANSWER_WAIT:?}"))),
    }
}
