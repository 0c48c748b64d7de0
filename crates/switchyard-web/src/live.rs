//! The dashboard's live numbers: a sampler reads the core's counters and the process's memory
//! and CPU once a second, keeps the last five minutes, and the dashboard's charts follow it over
//! server-sent events.

use crate::page::Page;
use crate::system::ProcessUsage;
use crate::Web;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use switchyard_core::{ActivityCounts, Destination, Protocol};
use tokio::sync::watch;

const PERIOD: Duration = Duration::from_secs(1);
/// Samples kept: what a newly opened dashboard draws at once.
const KEPT: usize = 300;
/// The offline queue is counted in the store, so less often.
const QUEUE_EVERY: u64 = 5;

/// The network as of one moment, and what happened in the second before it.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: u64,
    /// Sessions of the whole network, by protocol (MSN, MRIM, MyICQ).
    pub sessions: [u64; 3],
    /// Per second, on this node.
    pub logins: f64,
    pub failed_logins: f64,
    /// Per second, by route (`msn→mrim`, `mrim→offline`, …).
    pub messages: BTreeMap<String, f64>,
    pub presence: f64,
    /// Messages waiting in the durable queue (all nodes').
    pub offline: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub cpu_percent: Option<f64>,
    #[serde(skip)]
    pub counts: ActivityCounts,
    #[serde(skip)]
    pub cpu_seconds: Option<f64>,
}

pub(crate) struct Live {
    history: Mutex<VecDeque<Arc<Sample>>>,
    latest: watch::Sender<Option<Arc<Sample>>>,
}

impl Default for Live {
    fn default() -> Self {
        Live { history: Mutex::default(), latest: watch::Sender::new(None) }
    }
}

impl Live {
    pub fn latest(&self) -> Option<Arc<Sample>> {
        self.latest.borrow().clone()
    }

    fn history(&self) -> Vec<Arc<Sample>> {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    fn push(&self, sample: Sample) {
        let sample = Arc::new(sample);
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == KEPT {
            history.pop_front();
        }
        history.push_back(sample.clone());
        drop(history);
        self.latest.send_replace(Some(sample));
    }
}

/// Per-second rates between two counts `seconds` apart.
fn rate(now: u64, before: u64, seconds: f64) -> f64 {
    now.saturating_sub(before) as f64 / seconds
}

/// The sample after `previous`, from the counters and usage read now.
fn next_sample(
    previous: Option<&Sample>,
    counts: ActivityCounts,
    sessions: [u64; 3],
    usage: Option<ProcessUsage>,
    offline: Option<u64>,
    t: u64,
) -> Sample {
    let before = previous.map(|p| p.counts.clone()).unwrap_or_else(|| counts.clone());
    let seconds = previous.map_or(1.0, |p| (t.saturating_sub(p.t) as f64 / 1000.0).max(0.001));
    let mut messages = BTreeMap::new();
    for from in Protocol::ALL {
        for to in Destination::ALL {
            let per_second = rate(counts.messages_on(from, to), before.messages_on(from, to), seconds);
            messages.insert(format!("{}→{}", from.name(), to.name()), per_second);
        }
    }
    let cpu_seconds = usage.map(|u| u.cpu_seconds);
    let cpu_percent = match (cpu_seconds, previous.and_then(|p| p.cpu_seconds)) {
        (Some(now), Some(then)) => Some(((now - then) / seconds * 100.0).max(0.0)),
        _ => None,
    };
    Sample {
        t,
        sessions,
        logins: rate(counts.logins.iter().sum(), before.logins.iter().sum(), seconds),
        failed_logins: rate(counts.failed_logins, before.failed_logins, seconds),
        messages,
        presence: rate(counts.presence_changes, before.presence_changes, seconds),
        offline: offline.or(previous.and_then(|p| p.offline)),
        memory_bytes: usage.map(|u| u.resident_bytes),
        cpu_percent,
        counts,
        cpu_seconds,
    }
}

pub(crate) fn start_sampling(web: &Arc<Web>) {
    let web: Weak<Web> = Arc::downgrade(web);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        for tick in 0u64.. {
            ticks.tick().await;
            let Some(web) = web.upgrade() else { return };
            let offline = if tick % QUEUE_EVERY == 0 { web.core.store().offline_total().await.ok() } else { None };
            let t =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
            let previous = web.live.latest();
            let sample = next_sample(
                previous.as_deref(),
                web.core.activity(),
                web.core.sessions_by_protocol(),
                crate::system::usage(),
                offline,
                t,
            );
            web.live.push(sample);
        }
    });
}

/// The samples as server-sent events: the history first (`history`, a JSON array), then each
/// new one (`sample`). For administrators only.
pub(crate) async fn stream(State(web): State<Arc<Web>>, page: Page) -> Response {
    if !page.account().is_some_and(|a| web.is_admin(&a.name)) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let history = web.live.history();
    let history: Vec<&Sample> = history.iter().map(|sample| &**sample).collect();
    let history = serde_json::to_string(&history).unwrap_or_else(|_| "[]".into());
    let first = Event::default().event("history").data(history);
    let updates = web.live.latest.subscribe();
    let later = futures_util::stream::unfold(updates, |mut updates| async move {
        updates.changed().await.ok()?;
        let sample = updates.borrow_and_update().clone()?;
        let data = serde_json::to_string(&*sample).ok()?;
        Some((Ok::<_, std::convert::Infallible>(Event::default().event("sample").data(data)), updates))
    });
    let events = futures_util::StreamExt::chain(futures_util::stream::once(async { Ok(first) }), later);
    page.with_cookie(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_second_between_samples() {
        let mut counts = ActivityCounts::default();
        let first = next_sample(None, counts.clone(), [1, 0, 0], None, None, 10_000);
        assert_eq!(first.logins, 0.0);
        counts.logins[0] = 4;
        counts.messages[1][3] = 6;
        let usage = ProcessUsage { resident_bytes: 1 << 20, cpu_seconds: 1.0 };
        let second = next_sample(Some(&first), counts, [2, 0, 0], Some(usage), Some(7), 12_000);
        assert_eq!(second.logins, 2.0);
        assert_eq!(second.messages["mrim→offline"], 3.0);
        assert_eq!(second.messages["msn→mrim"], 0.0);
        assert_eq!((second.offline, second.memory_bytes), (Some(7), Some(1 << 20)));
        assert_eq!(second.cpu_percent, None, "CPU needs two readings");
    }
}
