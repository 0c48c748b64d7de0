//! The store's SQLite connections: four for short reads, one for long reads, one for writes.
//!
//! A read by primary key or index takes a few microseconds once its pages are cached, less than
//! handing it to another thread and back, so short reads run on the calling task's thread.
//! Writes (and long reads such as a search) run on tokio's blocking threads: a write may wait
//! for the write lock or for a WAL checkpoint's disk flush, and must not hold up the runtime
//! while it does; a long read has its own connection, so short reads never wait behind it. WAL
//! mode lets the readers go on beside the writer.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use switchyard_core::store::StoreError;

/// Connections for short reads: more than the runtime has threads, so a short read never
/// waits for a connection.
const READERS: usize = 4;
/// Distinct statements the store prepares; each connection keeps them all prepared.
const STATEMENT_CACHE: usize = 64;
/// How long a connection waits for a lock another process holds (the admin CLI writing while
/// the server runs).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Connections {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Long reads queue for this one, on blocking threads, never for a short reader.
    long_reader: Mutex<Connection>,
    writer: Mutex<Connection>,
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn locked(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic inside a closure leaves no half-done work behind: SQLite rolls back a transaction
    // whose handle was dropped, so the connection is fine to use again.
    connection.lock().unwrap_or_else(PoisonError::into_inner)
}

fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", true)
}

impl Connections {
    /// Opens the database (creating it if needed), readies the writer with `prepare`, which
    /// brings the schema up to date, and then opens the readers.
    pub(crate) fn open(
        path: &Path,
        prepare: impl FnOnce(&mut Connection) -> Result<(), StoreError>,
    ) -> Result<Self, StoreError> {
        let mut writer = Connection::open(path).map_err(backend)?;
        configure(&writer).map_err(backend)?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!("{} cannot use WAL mode (got {mode})", path.display())));
        }
        prepare(&mut writer)?;
        let open_reader = || {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )?;
            configure(&reader)?;
            reader.pragma_update(None, "query_only", true)?;
            Ok(Mutex::new(reader))
        };
        let readers = (0..READERS).map(|_| open_reader()).collect::<rusqlite::Result<_>>().map_err(backend)?;
        Ok(Connections {
            readers,
            next_reader: AtomicUsize::new(0),
            long_reader: open_reader().map_err(backend)?,
            writer: Mutex::new(writer),
        })
    }

    /// Runs a short read here, on a free reader (or waits for one, briefly).
    pub(crate) fn read<T>(&self, query: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        let free = (0..n).find_map(|i| self.readers[(start + i) % n].try_lock().ok());
        let reader = free.unwrap_or_else(|| locked(&self.readers[start % n]));
        query(&reader).map_err(backend)
    }

    /// Runs a write on a blocking thread, with the write connection.
    pub(crate) async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.on_blocking_thread(|c| &c.writer, work).await
    }

    /// Runs a long read on a blocking thread, with the long-read connection.
    pub(crate) async fn long_read<T: Send + 'static>(
        self: &Arc<Self>,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.on_blocking_thread(|c| &c.long_reader, |db| query(db)).await
    }

    async fn on_blocking_thread<T: Send + 'static>(
        self: &Arc<Self>,
        connection: fn(&Connections) -> &Mutex<Connection>,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connections = self.clone();
        tokio::task::spawn_blocking(move || work(&mut locked(connection(&connections))))
            .await
            .map_err(backend)?
            .map_err(backend)
    }
}
