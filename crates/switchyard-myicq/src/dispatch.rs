//! Reading the socket and routing each datagram to the session it belongs to.
//!
//! A session is found by the sender's address; `LOGIN` and `NEW_UIN` from an address without
//! one (or with a new session id) start one. Any other command from an unknown address is
//! taken by the logged-in session of its uin when the session id matches (the client's NAT
//! mapping changed). Everything else is dropped without an answer and counted.

use crate::clock::Clock;
use crate::session;
use crate::stats::Stats;
use crate::Context;
use bytes::Bytes;
use myicq::codes::cmd;
use myicq::datagram::{split_client, DatagramError, MAX_DATAGRAM};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Datagrams a session may have waiting; more are dropped (the client resends).
const INBOX: usize = 64;
/// Sessions not logged in yet from one IP address at once: a client needs one, a household
/// behind one NAT a few, and a flood from one address cannot take the places of everyone else.
const PENDING_PER_ADDRESS: usize = 16;

/// A datagram for a session, with the address it came from.
pub(crate) struct Inbound {
    pub from: SocketAddr,
    pub datagram: Bytes,
}

/// Datagrams travel boxed: tokio's channel allocates a block of 32 slots when created, and idle
/// sessions, most of them, should not each hold 32 inline datagrams.
pub(crate) type InboundBox = Box<Inbound>;

struct Route {
    sid: u32,
    /// 0 until the session has logged in.
    uin: u32,
    /// Tells this route from a later one at the same address.
    generation: u64,
    inbox: mpsc::Sender<InboundBox>,
}

#[derive(Default)]
struct Routes {
    by_addr: HashMap<SocketAddr, Route>,
    by_uin: HashMap<u32, SocketAddr>,
    pending: usize,
    /// Sessions not logged in yet, by IP address.
    pending_by_ip: HashMap<IpAddr, usize>,
    next_generation: u64,
}

impl Routes {
    fn remove(&mut self, addr: SocketAddr) -> Option<Route> {
        let route = self.by_addr.remove(&addr)?;
        if route.uin == 0 {
            self.no_longer_pending(addr.ip());
        } else if self.by_uin.get(&route.uin) == Some(&addr) {
            self.by_uin.remove(&route.uin);
        }
        Some(route)
    }

    fn add_pending(&mut self, ip: IpAddr) {
        self.pending += 1;
        *self.pending_by_ip.entry(ip).or_default() += 1;
    }

    fn no_longer_pending(&mut self, ip: IpAddr) {
        self.pending -= 1;
        if let Some(count) = self.pending_by_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                self.pending_by_ip.remove(&ip);
            }
        }
    }

    fn pending_from(&self, ip: IpAddr) -> usize {
        self.pending_by_ip.get(&ip).copied().unwrap_or(0)
    }
}

/// The routing table, shared by the reader and the sessions (which update their own entry).
#[derive(Clone, Default)]
pub(crate) struct Table(Arc<Mutex<Routes>>);

/// A session's handle on its own entry.
pub(crate) struct Registration {
    table: Table,
    pub addr: SocketAddr,
    generation: u64,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Registration {
    fn is_mine(&self, routes: &Routes) -> bool {
        routes.by_addr.get(&self.addr).is_some_and(|r| r.generation == self.generation)
    }

    /// The session logged in as `uin`: datagrams of that uin from a new address reach it too.
    pub(crate) fn logged_in(&self, uin: u32) {
        let mut routes = self.table.lock();
        if !self.is_mine(&routes) {
            return;
        }
        let route = routes.by_addr.get_mut(&self.addr).expect("checked");
        if route.uin == 0 {
            route.uin = uin;
            routes.no_longer_pending(self.addr.ip());
        }
        if let Some(previous) = routes.by_uin.insert(uin, self.addr) {
            // An older session of the same user at another address is over (the core has
            // ended it): its datagrams must not reach this one by its uin.
            if previous != self.addr {
                routes.remove(previous);
            }
        }
    }

    /// The client now sends from `addr` (its NAT mapping changed).
    pub(crate) fn moved(&mut self, addr: SocketAddr) {
        let mut routes = self.table.lock();
        if !self.is_mine(&routes) || routes.by_addr.contains_key(&addr) {
            return;
        }
        let route = routes.by_addr.remove(&self.addr).expect("checked");
        if route.uin != 0 {
            routes.by_uin.insert(route.uin, addr);
        }
        routes.by_addr.insert(addr, route);
        self.addr = addr;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut routes = self.table.lock();
        if self.is_mine(&routes) {
            routes.remove(self.addr);
        }
    }
}

/// Datagrams read in one turn of the dispatch task before it lets other tasks run. This one
/// task is the door for every MyICQ user, while each TCP connection has a task of its own: at
/// tokio's usual budget (128 operations a turn) it falls behind under load, its socket's
/// buffer fills and datagrams are dropped (and resent by clients only after 10 s).
const DATAGRAMS_PER_TURN: usize = 2048;

/// Reads datagrams until `shutdown`.
pub(crate) async fn run(context: Arc<Context>, clock: Clock, sessions: &TaskTracker, shutdown: CancellationToken) {
    let dispatcher = Dispatcher { context, clock, sessions, shutdown, table: Table::default() };
    let (context, shutdown) = (&dispatcher.context, &dispatcher.shutdown);
    // One byte more than the largest datagram tells an oversized one from one that fits.
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            readable = context.socket.readable() => {
                if let Err(e) = readable {
                    tracing::error!(error = %e, "the MyICQ socket failed");
                    return;
                }
            }
        };
        for _ in 0..DATAGRAMS_PER_TURN {
            match context.socket.try_recv_from(&mut buf) {
                Ok((len, from)) => dispatcher.dispatch(&buf[..len], from),
                // Drained: wait for readiness again.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // ICMP "port unreachable" from an earlier send surfaces here on some systems.
                Err(e) => tracing::debug!(error = %e, "receive failed"),
            }
        }
        // A full turn: others run before the next one (after a drained one this costs a turn).
        tokio::task::yield_now().await;
    }
}

/// What routing a datagram to its session needs.
struct Dispatcher<'a> {
    context: Arc<Context>,
    clock: Clock,
    sessions: &'a TaskTracker,
    shutdown: CancellationToken,
    table: Table,
}

impl Dispatcher<'_> {
    /// Hands one datagram to its session, starting one for a login or registration.
    fn dispatch(&self, datagram: &[u8], from: SocketAddr) {
        let Dispatcher { context, clock, sessions, shutdown, table } = self;
        let header = match split_client(datagram) {
            Ok((header, _)) => header,
            Err(e) => {
                tracing::debug!(%from, error = %e, "datagram dropped");
                let stats = &context.stats;
                Stats::count(match e {
                    DatagramError::TooShort => &stats.too_short,
                    DatagramError::TooLong => &stats.too_long,
                    DatagramError::BadVersion(_) => &stats.bad_version,
                });
                return;
            }
        };
        let inbound = Box::new(Inbound { from, datagram: Bytes::copy_from_slice(datagram) });
        let starts_session = matches!(header.cmd, cmd::LOGIN | cmd::NEW_UIN);
        let mut routes = table.lock();
        let addr = match routes.by_addr.get(&from) {
            Some(route) if starts_session && route.sid != header.sid => {
                // The client started over (a new session id): the old session ends with its route.
                routes.remove(from);
                None
            }
            Some(route) if route.sid != header.sid || (route.uin != 0 && route.uin != header.uin) => {
                tracing::debug!(%from, uin = header.uin, "uin or session id does not match; dropped");
                Stats::count(&context.stats.spoofed);
                return;
            }
            Some(_) => Some(from),
            None if starts_session => None,
            None => match routes.by_uin.get(&header.uin) {
                Some(addr) if routes.by_addr[addr].sid == header.sid => Some(*addr),
                found => {
                    tracing::debug!(%from, uin = header.uin, "no session; dropped");
                    Stats::count(if found.is_some() { &context.stats.spoofed } else { &context.stats.no_session });
                    return;
                }
            },
        };
        let inbox = match addr {
            Some(addr) => routes.by_addr[&addr].inbox.clone(),
            None => {
                let config = &context.config;
                if routes.by_addr.len() >= config.max_sessions || routes.pending >= config.max_pending {
                    tracing::debug!(%from, "too many sessions; dropped");
                    Stats::count(&context.stats.overloaded);
                    return;
                }
                if routes.pending_from(from.ip()) >= PENDING_PER_ADDRESS {
                    tracing::debug!(%from, "too many sessions not logged in from this address; dropped");
                    Stats::count(&context.stats.overloaded);
                    return;
                }
                let (inbox, datagrams) = mpsc::channel(INBOX);
                routes.next_generation += 1;
                let generation = routes.next_generation;
                routes.by_addr.insert(from, Route { sid: header.sid, uin: 0, generation, inbox: inbox.clone() });
                routes.add_pending(from.ip());
                let registration = Registration { table: table.clone(), addr: from, generation };
                let link = session::Link::new(context.clone(), header, from, clock.now());
                sessions.spawn(session::run(link, registration, datagrams, clock.clone(), shutdown.clone()));
                inbox
            }
        };
        drop(routes);
        if inbox.try_send(inbound).is_err() {
            Stats::count(&context.stats.overloaded);
        }
    }
}
