//! The `pairs` scenario: messages between pairs of users, closed or open loop.

use crate::measure::Latencies;
use crate::report::Report;
use crate::users::User;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use yard::{Client, Event};

/// Users 2k send to users 2k+1 for `length`; receivers measure delivery from the send time
/// written into each message (`t=<µs since the start> <run>`): the actual send in a closed loop, the
/// intended one in an open loop. Returns the clients.
pub(crate) async fn pairs(
    users: &[User],
    clients: Vec<(usize, Client)>,
    length: Duration,
    window: usize,
    message_rate: u32,
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
    // The closed loop's window is end to end: a sender takes a slot per message and its
    // receiver gives it back on arrival. A server's acknowledgement alone means the message
    // is in the recipient's queue, which across protocols may be far from its client.
    let windows: HashMap<usize, Arc<Semaphore>> =
        pairs.iter().map(|&(_, r)| (r, Arc::new(Semaphore::new(window.max(1))))).collect();
    // Messages of an earlier run still in flight when it ended wait in the server's queue and
    // arrive at this run's logins: the run's mark tells them apart.
    let started_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let run: Arc<str> = format!("r{}.{}", std::process::id(), started_at.as_millis()).into();
    let latencies = Latencies::default();
    let delivered = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + length;
    // Receivers count until a little after the senders stop, to collect what is in flight.
    let collect_until = deadline + Duration::from_secs(2);
    let mut receivers = tokio::task::JoinSet::new();
    for (i, mut client) in by_index.drain() {
        let (latencies, delivered) = (latencies.clone(), delivered.clone());
        let receiving = i % 2 == 1;
        let window = windows.get(&i).cloned();
        let run = run.clone();
        receivers.spawn(async move {
            loop {
                let event = tokio::select! {
                    event = client.next_event() => event,
                    _ = tokio::time::sleep_until(collect_until.into()) => break,
                };
                let Some(event) = event else { break };
                if let (true, Event::Message { text, .. }) = (receiving, event) {
                    if let Some(sent) = sent_in_this_run(&text, &run) {
                        let now = start.elapsed().as_micros() as u64;
                        latencies.record(Duration::from_micros(now.saturating_sub(sent)));
                        delivered.fetch_add(1, Ordering::Relaxed);
                        if let Some(window) = &window {
                            window.add_permits(1);
                        }
                    }
                }
            }
            (i, client)
        });
    }
    let mut senders = tokio::task::JoinSet::new();
    let per_pair_interval =
        (message_rate > 0).then(|| Duration::from_secs_f64(pairs.len() as f64 / f64::from(message_rate)));
    let spread = sending.len().max(1) as f64;
    for (k, (handle, to)) in sending.into_iter().enumerate() {
        match per_pair_interval {
            None => {
                let slots = windows[&pairs[k].1].clone();
                for _ in 0..window.max(1) {
                    let (handle, to, errors, slots) = (handle.clone(), to.clone(), errors.clone(), slots.clone());
                    let run = run.clone();
                    senders.spawn(async move {
                        while Instant::now() < deadline {
                            let slot = tokio::time::timeout_at(deadline.into(), slots.acquire()).await;
                            let Ok(Ok(slot)) = slot else { break };
                            slot.forget();
                            let text = format!("t={} {run} hello", start.elapsed().as_micros());
                            if handle.send_message(&to, &text).await.is_err() {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            }
            Some(interval) => {
                let (errors, run) = (errors.clone(), run.clone());
                senders.spawn(async move {
                    let in_flight = Arc::new(Semaphore::new(window.max(1) * 64));
                    // Pairs start spread over one interval, not all at once.
                    let mut intended = start + interval.mul_f64(k as f64 / spread);
                    while intended < deadline {
                        tokio::time::sleep_until(intended.into()).await;
                        let text = format!("t={} {run} hello", intended.duration_since(start).as_micros());
                        let (handle, to, errors) = (handle.clone(), to.clone(), errors.clone());
                        let Ok(slot) = in_flight.clone().acquire_owned().await else { break };
                        tokio::spawn(async move {
                            if handle.send_message(&to, &text).await.is_err() {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                            drop(slot);
                        });
                        intended += interval;
                    }
                });
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
    report.deliveries(delivered.load(Ordering::Relaxed), length.as_secs_f64(), &latencies);
    clients.sort_by_key(|(i, _)| *i);
    clients
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
