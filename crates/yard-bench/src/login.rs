//! Logging the bench's users in: the `login` scenario, and the start of every other.

use crate::measure::{ms, Latencies};
use crate::report::Report;
use crate::users::{source_address, User};
use crate::Args;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use yard::{Client, Options};

/// Logs every user in; returns the clients by user index.
pub(crate) async fn log_in(args: &Args, users: &[User], report: &mut Report) -> Vec<(usize, Client)> {
    let latencies = Latencies::default();
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, user) in users.iter().cloned().enumerate() {
        let options = Options {
            msn_dialect: args.msn_dialect,
            nexus: args.nexus.clone(),
            reconnect: false,
            local_address: Some(source_address(args, i)),
            timeout: Duration::from_secs(60),
            ..Options::default()
        };
        let account = user.account(args);
        // Open loop: each login has its intended start, and its latency counts from there.
        let intended = (args.rate > 0).then(|| started + Duration::from_secs_f64(i as f64 / f64::from(args.rate)));
        let (gate, latencies, errors) = (gate.clone(), latencies.clone(), errors.clone());
        tasks.spawn(async move {
            if let Some(at) = intended {
                tokio::time::sleep_until(at.into()).await;
            }
            let _slot = gate.acquire_owned().await.expect("never closed");
            let from = intended.unwrap_or_else(Instant::now);
            match Client::connect(account, options).await {
                Ok(client) => {
                    latencies.record(from.elapsed());
                    Some((i, client))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "login failed");
                    errors.fetch_add(1, Ordering::Relaxed);
                    None
                }
            }
        });
    }
    let mut clients = Vec::with_capacity(users.len());
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(client)) = done {
            clients.push(client);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let h = latencies.merged();
    report.logins = clients.len() as u64;
    report.login_errors = errors.load(Ordering::Relaxed);
    report.logins_per_second = clients.len() as f64 / elapsed;
    report.login_p50_ms = ms(&h, 50.0);
    report.login_p99_ms = ms(&h, 99.0);
    clients.sort_by_key(|(i, _)| *i);
    clients
}
