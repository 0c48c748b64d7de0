//! Accepting connections under a limit, and the tasks that serve them.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
    _shared: OwnedSemaphorePermit,
    _address: AddressPlace,
}

/// What every listener of the process shares: the connections the process can hold at all (its
/// file descriptors, less what the database, logs and the other sockets need), and how many of
/// them one source address may have.
#[derive(Clone)]
pub struct ConnectionBudget {
    total: Arc<Semaphore>,
    per_address: usize,
    by_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// Set while some address is at its cap, so that a flood logs once.
    capped: Arc<AtomicBool>,
}

impl ConnectionBudget {
    pub fn new(total: usize, per_address: usize) -> Self {
        ConnectionBudget {
            total: Arc::new(Semaphore::new(total)),
            per_address,
            by_address: Arc::default(),
            capped: Arc::default(),
        }
    }

    /// A place for one more connection from `ip`, if it has fewer than its cap.
    fn place_for(&self, ip: IpAddr) -> Option<AddressPlace> {
        let mut by_address = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        let count = by_address.entry(ip).or_default();
        if *count >= self.per_address {
            if !self.capped.swap(true, Ordering::Relaxed) {
                tracing::warn!(%ip, "an address reached its connection cap; its further connections are closed");
            }
            return None;
        }
        *count += 1;
        self.capped.store(false, Ordering::Relaxed);
        Some(AddressPlace { budget: self.clone(), ip })
    }
}

/// One connection counted against its source address.
struct AddressPlace {
    budget: ConnectionBudget,
    ip: IpAddr,
}

impl Drop for AddressPlace {
    fn drop(&mut self) {
        let mut by_address = self.budget.by_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = by_address.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                by_address.remove(&self.ip);
            }
        }
    }
}

/// The connections of one front: at most `max` at once, within the process's shared budget,
/// each served by a tracked task.
#[derive(Clone)]
pub struct Connections {
    slots: Arc<Semaphore>,
    budget: ConnectionBudget,
    tasks: TaskTracker,
    /// Set while every slot is taken, so that a flood at the limit logs once, not per connection.
    full: Arc<AtomicBool>,
}

impl Connections {
    pub fn new(max: usize, budget: ConnectionBudget) -> Self {
        Connections { slots: Arc::new(Semaphore::new(max)), budget, tasks: TaskTracker::new(), full: Arc::default() }
    }

    /// Waits for a free slot (of this front and of the shared budget), then for the next
    /// connection on `listener`; `None` once `shutdown` fires. While every slot is taken, new
    /// connections wait in the listener's backlog; one from an address at its cap is closed at
    /// once. Accepted sockets send small writes at once and use TCP keepalive, so the half-open
    /// connection of a client that vanished (power cut, NAT timeout) is found and closed.
    pub async fn accept(
        &self,
        listener: &TcpListener,
        shutdown: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, Slot)> {
        loop {
            let permit = self.wait_for(&self.slots, shutdown).await?;
            let shared = self.wait_for(&self.budget.total, shutdown).await?;
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return None,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let Some(address) = self.budget.place_for(peer.ip()) else {
                        drop(stream);
                        continue;
                    };
                    configure(&stream);
                    return Some((stream, peer, Slot { _permit: permit, _shared: shared, _address: address }));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    /// A permit of `slots`, waiting for one if none is free (and saying so once).
    async fn wait_for(&self, slots: &Arc<Semaphore>, shutdown: &CancellationToken) -> Option<OwnedSemaphorePermit> {
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                if self.full.swap(false, Ordering::Relaxed) {
                    tracing::info!("below the connection limit again");
                }
                Some(permit)
            }
            Err(_) => {
                if !self.full.swap(true, Ordering::Relaxed) {
                    tracing::warn!("connection limit reached; new connections wait");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => None,
                    permit = slots.clone().acquire_owned() => Some(permit.expect("the semaphore is never closed")),
                }
            }
        }
    }

    /// Runs the future `connection` makes as a task of this front; `slot` stays taken until it
    /// ends. The future is made inside the task (small idle sessions, see the crate's docs).
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
