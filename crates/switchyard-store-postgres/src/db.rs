//! The pool of connections, and the one way statements are run: prepared once per connection,
//! counted (each execution is one round trip to the server), and — inside a transaction —
//! retried from the start when PostgreSQL broke a deadlock or a serialization conflict.

use crate::shared::{answered, SharedClient, SharedConnections};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchyard_core::store::StoreError;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;
use tokio_postgres::{Error, NoTls, Row};

/// How long getting a connection may take (a new one's connect and log-in, or waiting for a
/// busy pool) before the call fails: a database that does not answer is "try later" to the
/// client, not a login that hangs.
pub(crate) const CONNECTION_WAIT: Duration = Duration::from_secs(3);
/// Attempts of a transaction that PostgreSQL aborted to break a deadlock.
pub(crate) const TRANSACTION_ATTEMPTS: u32 = 5;

/// Shared connections beside a pool of `max_connections`: a quarter as many, at least one. Each
/// carries many callers' reads at once, so a few keep PostgreSQL's backends busy (on a 2-core
/// box one, two, four and eight gave the same login rate within noise).
fn shared_connections(max_connections: usize) -> usize {
    (max_connections / 4).max(1)
}

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(crate) struct Db {
    /// Connections for transactions (and the few callers that need one to themselves).
    pool: Pool,
    /// Connections for short reads, pipelined.
    shared: SharedConnections,
    round_trips: AtomicU64,
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A database error with PostgreSQL's own message, which `Error`'s display leaves out.
pub(crate) fn database_error(e: Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("database: {}: {}", db.code().code(), db.message())),
        None => backend(e),
    }
}

pub(crate) fn is_retryable(e: &Error) -> bool {
    matches!(e.code(), Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE)
}

impl Db {
    pub(crate) fn connect(url: &str, max_connections: usize) -> Result<Db, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("store.url is not a PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECTION_WAIT);
        }
        if config.get_application_name().is_none() {
            config.application_name("switchyard");
        }
        // Fast recycling: a connection that broke is found out by its next statement, which
        // fails once; the pool then drops it (it is closed) and makes a new one.
        let shared = SharedConnections::new(config.clone(), shared_connections(max_connections));
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECTION_WAIT))
            .create_timeout(Some(CONNECTION_WAIT))
            .recycle_timeout(Some(CONNECTION_WAIT))
            .build()
            .map_err(backend)?;
        Ok(Db { pool, shared, round_trips: AtomicU64::new(0) })
    }

    /// Statements executed so far: the round trips to the server, once each connection has
    /// prepared its statements.
    pub(crate) fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    pub(crate) fn in_transaction<'a>(
        &'a self,
        transaction: deadpool_postgres::Transaction<'a>,
    ) -> Connection<'a, deadpool_postgres::Transaction<'a>> {
        Connection { client: transaction, round_trips: &self.round_trips }
    }

    /// `BEGIN` and `COMMIT`, which do not go through [`Connection`].
    pub(crate) fn count_round_trips(&self, n: u64) {
        self.round_trips.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) async fn connection(&self) -> Result<Connection<'_, Object>, StoreError> {
        let client = self.pool.get().await.map_err(|e| StoreError::Backend(format!("database unavailable: {e}")))?;
        Ok(Connection { client, round_trips: &self.round_trips })
    }

    pub(crate) async fn opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        self.connection().await?.opt(sql, params).await.map_err(database_error)
    }

    pub(crate) async fn one(&self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        self.connection().await?.one(sql, params).await.map_err(database_error)
    }

    pub(crate) async fn rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        self.connection().await?.rows(sql, params).await.map_err(database_error)
    }

    pub(crate) async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        self.connection().await?.execute(sql, params).await.map_err(database_error)
    }

    /// A short read (an index look-up, one account's rows), pipelined on a shared connection.
    /// Writes keep pooled connections: a commit waits for its WAL flush, and everything queued
    /// behind it on a shared connection would wait too. So do long scans.
    pub(crate) async fn read_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        let (shared, statement) = self.shared_statement(sql).await?;
        answered(shared.client.query_opt(&statement, params)).await
    }

    /// A short read of exactly one row, as [`Db::read_opt`].
    pub(crate) async fn read_one(&self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        let (shared, statement) = self.shared_statement(sql).await?;
        answered(shared.client.query_one(&statement, params)).await
    }

    /// A short read of a few rows, as [`Db::read_opt`].
    pub(crate) async fn read_rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let (shared, statement) = self.shared_statement(sql).await?;
        answered(shared.client.query(&statement, params)).await
    }

    async fn shared_statement(&self, sql: &str) -> Result<(Arc<SharedClient>, Statement), StoreError> {
        tracing::trace!(statement = sql);
        let prepared = self.shared.prepared(sql).await?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        Ok(prepared)
    }
}

/// Runs `$body`, an async expression of `Result<T, tokio_postgres::Error>` using the transaction
/// `$tx`, and commits it; runs it again, in a new transaction, when PostgreSQL aborted it to
/// break a deadlock. A macro rather than a function taking a closure: a closure borrowing the
/// transaction cannot promise its future is `Send`, which every store call must be.
macro_rules! transaction {
    ($db:expr, |$tx:ident| $body:expr) => {{
        let db: &$crate::db::Db = $db;
        let mut connection = db.connection().await?;
        let mut attempt = 1;
        loop {
            let begun = connection.client.transaction().await.map_err($crate::db::database_error)?;
            let $tx = db.in_transaction(begun);
            let result: Result<_, tokio_postgres::Error> = $body.await;
            let done = match result {
                Ok(value) => $tx.client.commit().await.map(|()| value),
                Err(e) => Err(e),
            };
            db.count_round_trips(2);
            match done {
                Err(e) if $crate::db::is_retryable(&e) && attempt < $crate::db::TRANSACTION_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "transaction retried");
                    attempt += 1;
                }
                done => break done.map_err($crate::db::database_error),
            }
        }
    }};
}
pub(crate) use transaction;

/// A pooled connection, or a transaction on one.
pub(crate) struct Connection<'a, C> {
    pub(crate) client: C,
    round_trips: &'a AtomicU64,
}

impl<C: GenericClient> Connection<'_, C> {
    async fn prepared(&self, sql: &str) -> Result<tokio_postgres::Statement, Error> {
        tracing::trace!(statement = sql);
        let statement = self.client.prepare_cached(sql).await?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        Ok(statement)
    }

    pub(crate) async fn opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
        self.client.query_opt(&self.prepared(sql).await?, params).await
    }

    pub(crate) async fn one(&self, sql: &str, params: Params<'_>) -> Result<Row, Error> {
        self.client.query_one(&self.prepared(sql).await?, params).await
    }

    pub(crate) async fn rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        self.client.query(&self.prepared(sql).await?, params).await
    }

    pub(crate) async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, Error> {
        self.client.execute(&self.prepared(sql).await?, params).await
    }
}
