//! The `pairs` and `mixed` scenarios: messages between pairs of users, closed or open loop,
//! and (in `mixed`) status changes seen by the partner.

use crate::report::{Report, Tally};
use crate::users::User;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use yard::{Client, Event, Protocol, Status};

/// How the pairs are loaded.
pub(crate) struct Load {
    pub(crate) length: Duration,
    /// Closed loop: messages a sender has in flight, sent but not yet received.
    pub(crate) window: usize,
    /// Open loop: messages per second over all pairs; 0 for the closed loop.
    pub(crate) message_rate: u32,
    /// How often each sender changes status, if at all.
    pub(crate) status_every: Option<Duration>,
}

/// A sender's status change in progress: the status, and when it was asked for. `None` before
/// the first, so that presence seen at login is not counted as a change.
type Change = Option<(Status, Instant)>;

/// Users 2k send to users 2k+1 for `load.length`; receivers measure delivery from the send
/// time written into each message (`t=<µs since the start> <run>`): the actual send in a closed
/// loop, the intended one in an open loop. Deliveries are also counted per route (sender's and
/// receiver's protocol). Returns the clients.
pub(crate) async fn pairs(
    users: &[User],
    clients: Vec<(usize, Client)>,
    load: &Load,
    report: &mut Report,
) -> Vec<(usize, Client)> {
    let mut by_index: HashMap<usize, Client> = clients.into_iter().collect();
    let pairs: Vec<(usize, usize)> = (0..users.len() / 2)
        .map(|k| (2 * k, 2 * k + 1))
        .filter(|(s, r)| by_index.contains_key(s) && by_index.contains_key(r))
        .collect();
    // Warm-up: the first message of each pair opens what it needs (an MSN switchboard).
    let mut warmups = tokio::task::JoinSet::new();
    for &(s, r) in &pairs {
        let (handle, to) = (by_index[&s].handle(), users[r].handle(users[s].protocol));
        warmups.spawn(async move { handle.send_message(&to, "warm-up").await.is_ok() });
    }
    while warmups.join_next().await.is_some() {}

    let sending: Vec<(yard::Handle, String)> =
        pairs.iter().map(|&(s, r)| (by_index[&s].handle(), users[r].handle(users[s].protocol))).collect();
    let routes = Routes::of(users, &pairs);
    // The closed loop's window is end to end: a sender takes a slot per message and its
    // receiver gives it back on arrival. A server's acknowledgement alone means the message
    // is in the recipient's queue, which across protocols may be far from its client.
    let windows: HashMap<usize, Arc<Semaphore>> =
        pairs.iter().map(|&(_, r)| (r, Arc::new(Semaphore::new(load.window)))).collect();
    let changes: HashMap<usize, watch::Sender<Change>> =
        pairs.iter().map(|&(s, _)| (s, watch::Sender::new(None))).collect();
    // Messages of an earlier run still in flight when it ended wait in the server's queue and
    // arrive at this run's logins: the run's mark tells them apart.
    let started_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let run: Arc<str> = format!("r{}.{}", std::process::id(), started_at.as_millis()).into();
    let presence = Tally::default();
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + load.length;
    // Receivers count until a little after the senders stop, to collect what is in flight.
    let collect_until = deadline + Duration::from_secs(2);
    let mut receivers = tokio::task::JoinSet::new();
    for &(s, r) in &pairs {
        let receiving = Receiving {
            run: run.clone(),
            start,
            window: windows[&r].clone(),
            messages: routes.tally(users, s, r),
            partner: users[s].handle(users[r].protocol),
            partner_changes: changes[&s].subscribe(),
            presence: presence.clone(),
        };
        let client = by_index.remove(&r).expect("a receiver of a pair");
        receivers.spawn(receiving.until(client, collect_until, r));
    }
    // The senders' own events only need reading, so that their clients' queues never fill.
    for (i, mut client) in by_index.drain() {
        receivers.spawn(async move {
            loop {
                tokio::select! {
                    event = client.next_event() => if event.is_none() { break },
                    _ = tokio::time::sleep_until(collect_until.into()) => break,
                }
            }
            (i, client)
        });
    }
    let mut senders = tokio::task::JoinSet::new();
    let per_pair_interval =
        (load.message_rate > 0).then(|| Duration::from_secs_f64(pairs.len() as f64 / f64::from(load.message_rate)));
    let spread = pairs.len().max(1) as f64;
    let status_changes = Arc::new(AtomicU64::new(0));
    let status_errors = Arc::new(AtomicU64::new(0));
    for (k, (handle, to)) in sending.into_iter().enumerate() {
        // Pairs start spread over one interval, not all at once.
        let phase = k as f64 / spread;
        let sender = Sender { handle, to, run: run.clone(), start, deadline, errors: errors.clone() };
        if let Some(every) = load.status_every {
            let changes = changes[&pairs[k].0].clone();
            let counters = (status_changes.clone(), status_errors.clone());
            senders.spawn(sender.clone().change_status(start + every.mul_f64(phase), every, changes, counters));
        }
        match per_pair_interval {
            None => {
                let slots = windows[&pairs[k].1].clone();
                for _ in 0..load.window {
                    senders.spawn(sender.clone().closed_loop(slots.clone()));
                }
            }
            Some(interval) => {
                let in_flight = Arc::new(Semaphore::new(load.window * 64));
                senders.spawn(sender.open_loop(start + interval.mul_f64(phase), interval, in_flight));
            }
        }
    }
    while senders.join_next().await.is_some() {}
    let mut clients = Vec::new();
    while let Some(done) = receivers.join_next().await {
        if let Ok(client) = done {
            clients.push(client);
        }
    }
    report.message_errors = errors.load(Ordering::Relaxed);
    report.delivered = routes.total(load.length.as_secs_f64());
    report.routes = routes.summaries(load.length.as_secs_f64());
    if load.status_every.is_some() {
        report.presence_changes = status_changes.load(Ordering::Relaxed);
        report.presence_errors = status_errors.load(Ordering::Relaxed);
        report.presence(presence.count(), &presence.latencies);
    }
    clients.sort_by_key(|(i, _)| *i);
    clients
}
/// One pair's sender until the deadline: messages carry their send time and the run's mark.
#[derive(Clone)]
struct Sender {
    handle: yard::Handle,
    to: String,
    run: Arc<str>,
    start: Instant,
    deadline: Instant,
    errors: Arc<AtomicU64>,
}

impl Sender {
    /// Sends whenever the receiver gave back a slot of the window, without waiting for the
    /// server's acknowledgement of the message before (it comes once the message is safe,
    /// which is when it reached the receiver or the durable queue).
    async fn closed_loop(self, slots: Arc<Semaphore>) {
        let mut acknowledgements = tokio::task::JoinSet::new();
        while Instant::now() < self.deadline {
            let slot = tokio::time::timeout_at(self.deadline.into(), slots.acquire()).await;
            let Ok(Ok(slot)) = slot else { break };
            slot.forget();
            let text = format!("t={} {} hello", self.start.elapsed().as_micros(), self.run);
            let (handle, to) = (self.handle.clone(), self.to.clone());
            acknowledgements.spawn(async move { handle.send_message(&to, &text).await.is_ok() });
            while let Some(acknowledged) = acknowledgements.try_join_next() {
                if !matches!(acknowledged, Ok(true)) {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        while let Some(acknowledged) = acknowledgements.join_next().await {
            if !matches!(acknowledged, Ok(true)) {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Sends at `first`, then every `interval`, whatever came back; the message carries the
    /// intended time, so a late send counts as late.
    async fn open_loop(self, first: Instant, interval: Duration, in_flight: Arc<Semaphore>) {
        let mut intended = first;
        while intended < self.deadline {
            tokio::time::sleep_until(intended.into()).await;
            let text = format!("t={} {} hello", intended.duration_since(self.start).as_micros(), self.run);
            let Ok(slot) = in_flight.clone().acquire_owned().await else { break };
            let (handle, to, errors) = (self.handle.clone(), self.to.clone(), self.errors.clone());
            tokio::spawn(async move {
                if handle.send_message(&to, &text).await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                drop(slot);
            });
            intended += interval;
        }
    }

    /// Alternates between away and online at `first` and every `every`, announcing each change
    /// to the partner's counter before making it; counts the changes made and refused.
    async fn change_status(
        self,
        first: Instant,
        every: Duration,
        changes: watch::Sender<Change>,
        (made, refused): (Arc<AtomicU64>, Arc<AtomicU64>),
    ) {
        let (mut at, mut status) = (first, Status::Away);
        while at < self.deadline {
            tokio::time::sleep_until(at.into()).await;
            changes.send_replace(Some((status, Instant::now())));
            let counter = if self.handle.set_status(status).await.is_ok() { &made } else { &refused };
            counter.fetch_add(1, Ordering::Relaxed);
            status = if status == Status::Away { Status::Online } else { Status::Away };
            at += every;
        }
    }
}

/// What a receiver of a pair counts.
struct Receiving {
    run: Arc<str>,
    start: Instant,
    /// The closed loop's window, given back a slot per message received.
    window: Arc<Semaphore>,
    /// Where each message of this run is counted: its route's tally (the totals are theirs
    /// added up).
    messages: Tally,
    /// The sender's handle as this receiver's protocol writes it, and its status changes.
    partner: String,
    partner_changes: watch::Receiver<Change>,
    presence: Tally,
}

impl Receiving {
    async fn until(self, mut client: Client, until: Instant, index: usize) -> (usize, Client) {
        let mut last_counted = None;
        loop {
            let event = tokio::select! {
                event = client.next_event() => event,
                _ = tokio::time::sleep_until(until.into()) => break,
            };
            match event {
                None => break,
                Some(Event::Message { text, .. }) => {
                    if let Some(sent) = sent_in_this_run(&text, &self.run) {
                        let now = self.start.elapsed().as_micros() as u64;
                        self.messages.record(Duration::from_micros(now.saturating_sub(sent)));
                        self.window.add_permits(1);
                    }
                }
                Some(Event::Presence { handle, status, .. }) if handle == self.partner => {
                    let change = *self.partner_changes.borrow();
                    if let Some((expected, at)) = change {
                        // Each change once: a repeated notification of the same one is not another.
                        if status == expected && last_counted != Some(at) {
                            last_counted = Some(at);
                            self.presence.record(at.elapsed());
                        }
                    }
                }
                Some(_) => {}
            }
        }
        (index, client)
    }
}

/// The routes the pairs take (sender's protocol → receiver's), each with its tally.
struct Routes(Vec<((Protocol, Protocol), Tally)>);

impl Routes {
    fn of(users: &[User], pairs: &[(usize, usize)]) -> Routes {
        let mut routes: Vec<((Protocol, Protocol), Tally)> = Vec::new();
        for &(s, r) in pairs {
            let route = (users[s].protocol, users[r].protocol);
            if !routes.iter().any(|(known, _)| *known == route) {
                routes.push((route, Tally::default()));
            }
        }
        Routes(routes)
    }

    fn tally(&self, users: &[User], s: usize, r: usize) -> Tally {
        let route = (users[s].protocol, users[r].protocol);
        self.0.iter().find(|(known, _)| *known == route).map(|(_, tally)| tally.clone()).expect("a route of the pairs")
    }

    /// Every route's messages together.
    fn total(&self, seconds: f64) -> crate::report::Deliveries {
        Tally::deliveries_of(self.0.iter().map(|(_, tally)| tally), seconds)
    }

    fn summaries(&self, seconds: f64) -> Vec<crate::report::RouteReport> {
        self.0
            .iter()
            .map(|((from, to), tally)| crate::report::RouteReport {
                route: format!("{from}->{to}"),
                delivered: tally.deliveries(seconds),
            })
            .collect()
    }
}

/// The send time in a message of this run (`t=<µs> <run> …`).
fn sent_in_this_run(text: &str, run: &str) -> Option<u64> {
    let mut words = text.strip_prefix("t=")?.split(' ');
    let sent = words.next()?.parse().ok()?;
    (words.next()? == run).then_some(sent)
}

#[cfg(test)]
mod tests {
    use super::sent_in_this_run;

    #[test]
    fn only_messages_of_this_run_are_timed() {
        assert_eq!(sent_in_this_run("t=1500 r7.42 hello", "r7.42"), Some(1500));
        assert_eq!(sent_in_this_run("t=1500 r7.41 hello", "r7.42"), None, "a message of an earlier run");
        assert_eq!(sent_in_this_run("warm-up", "r7.42"), None);
        assert_eq!(sent_in_this_run("t=soon r7.42 hello", "r7.42"), None);
    }
}
