//! Accepting connections under a limit, and the tasks that serve them.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// After a failed accept (out of file descriptors, most often) the listener rests this long
/// instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// One of a limited number of places for a connection; the place is free again when this drops.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// The connections of one front: at most `max` at once, each served by a tracked task.
#[derive(Clone)]
pub struct Connections {
    slots: Arc<Semaphore>,
    tasks: TaskTracker,
    /// Set while every slot is taken, so that a flood at the limit logs once, not per connection.
    full: Arc<AtomicBool>,
}

impl Connections {
    pub fn new(max: usize) -> Self {
        Connections { slots: Arc::new(Semaphore::new(max)), tasks: TaskTracker::new(), full: Arc::default() }
    }

    /// Waits for a free slot, then for the next connection on `listener`; `None` once `shutdown`
    /// fires. While every slot is taken, new connections wait in the listener's backlog.
    /// Accepted sockets send small writes at once and use TCP keepalive, so the half-open
    /// connection of a client that vanished (power cut, NAT timeout) is found and closed.
    pub async fn accept(
        &self,
        listener: &TcpListener,
        shutdown: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, Slot)> {
        loop {
            let permit = match self.slots.clone().try_acquire_owned() {
                Ok(permit) => {
                    if self.full.swap(false, Ordering::Relaxed) {
                        tracing::info!("below the connection limit again");
                    }
                    permit
                }
                Err(_) => {
                    if !self.full.swap(true, Ordering::Relaxed) {
                        tracing::warn!("connection limit reached; new connections wait");
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => return None,
                        permit = self.slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    }
                }
            };
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return None,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    configure(&stream);
                    return Some((stream, peer, Slot { _permit: permit }));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    /// Runs the future `connection` makes as a task of this front; `slot` stays taken until it
    /// ends. The future is made inside the task: an async block that awaits a future it was
    /// given keeps room for it twice (rustc #62958), and a session's future is most of an idle
    /// session's memory.
    pub fn spawn<F>(&self, slot: Slot, connection: impl FnOnce() -> F + Send + 'static)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(async move {
            connection().await;
            drop(slot);
        });
    }

    /// Waits until every connection task has ended (call after shutdown).
    pub async fn closed(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

fn configure(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let keepalive =
        socket2::TcpKeepalive::new().with_time(Duration::from_secs(120)).with_interval(Duration::from_secs(20));
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive);
}
