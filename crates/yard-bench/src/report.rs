//! What a run measured, as a table or JSON.

use crate::measure::{histogram, ms, Latencies, Usage};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Deliveries of one kind (messages, those of one route, presence changes seen): how many, and
/// how long each took.
#[derive(Clone, Default)]
pub(crate) struct Tally {
    pub(crate) latencies: Latencies,
    count: Arc<AtomicU64>,
}

impl Tally {
    pub(crate) fn record(&self, latency: Duration) {
        self.latencies.record(latency);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// What was delivered in `seconds`, and how long it took.
    pub(crate) fn deliveries(&self, seconds: f64) -> Deliveries {
        Tally::deliveries_of([self], seconds)
    }

    /// What these tallies delivered together in `seconds`, and how long it took.
    pub(crate) fn deliveries_of<'a>(tallies: impl IntoIterator<Item = &'a Tally>, seconds: f64) -> Deliveries {
        let (mut h, mut messages) = (histogram(), 0);
        for tally in tallies {
            tally.latencies.add_to(&mut h);
            messages += tally.count();
        }
        Deliveries {
            messages,
            messages_per_second: messages as f64 / seconds,
            delivery_p50_ms: ms(&h, 50.0),
            delivery_p99_ms: ms(&h, 99.0),
            delivery_p999_ms: ms(&h, 99.9),
        }
    }
}

/// Messages (or, in `fanout`, notifications) delivered: how many, how fast, how long each took.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Deliveries {
    pub(crate) messages: u64,
    pub(crate) messages_per_second: f64,
    pub(crate) delivery_p50_ms: f64,
    pub(crate) delivery_p99_ms: f64,
    pub(crate) delivery_p999_ms: f64,
}

impl Deliveries {
    /// The table's columns from the rate on: `   N/s   p50 … ms  p99 … ms  p99.9 … ms`.
    fn columns(&self) -> String {
        format!(
            "{:>9.0}/s   p50 {:>8.2} ms  p99 {:>8.2} ms  p99.9 {:>8.2} ms",
            self.messages_per_second, self.delivery_p50_ms, self.delivery_p99_ms, self.delivery_p999_ms
        )
    }
}

/// The messages of one route (`msn->mrim`: MSN senders, MRIM receivers).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct RouteReport {
    pub(crate) route: String,
    #[serde(flatten)]
    pub(crate) delivered: Deliveries,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Report {
    pub(crate) scenario: String,
    pub(crate) protocol: String,
    pub(crate) users: usize,
    pub(crate) logins: u64,
    pub(crate) login_errors: u64,
    pub(crate) logins_per_second: f64,
    pub(crate) login_p50_ms: f64,
    pub(crate) login_p99_ms: f64,
    pub(crate) message_errors: u64,
    #[serde(flatten)]
    pub(crate) delivered: Deliveries,
    /// `pairs` and `mixed`: the messages of each route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) routes: Vec<RouteReport>,
    /// `mixed`: status changes made, refused, and seen by the partner (and how long that took).
    pub(crate) presence_changes: u64,
    pub(crate) presence_errors: u64,
    pub(crate) presence_seen: u64,
    pub(crate) presence_p50_ms: f64,
    pub(crate) presence_p99_ms: f64,
    pub(crate) server_rss_kib_before: u64,
    pub(crate) server_rss_kib_after: u64,
    pub(crate) server_kib_per_session: f64,
    pub(crate) server_cpu_seconds: f64,
    /// UDP datagrams delivered on this machine during the scenario: with MyICQ clients, each
    /// has the server at one end (it sent or received it).
    pub(crate) udp_datagrams: u64,
    pub(crate) udp_datagrams_per_second: f64,
    /// Datagrams dropped on this machine for a full socket buffer during the scenario.
    pub(crate) udp_buffer_drops: u64,
}

impl Report {
    /// Status changes seen by the partners, and how long each took.
    pub(crate) fn presence(&mut self, seen: u64, latencies: &Latencies) {
        let h = latencies.merged();
        self.presence_seen = seen;
        self.presence_p50_ms = ms(&h, 50.0);
        self.presence_p99_ms = ms(&h, 99.0);
    }
}

pub(crate) fn finish_usage(report: &mut Report, before: Usage, after: Usage, sessions: usize) {
    report.server_rss_kib_after = after.rss_kib;
    report.server_cpu_seconds = after.cpu.saturating_sub(before.cpu).as_secs_f64();
    if sessions > 0 && after.rss_kib > 0 {
        report.server_kib_per_session = after.rss_kib.saturating_sub(before.rss_kib) as f64 / sessions as f64;
    }
}

pub(crate) fn print_table(r: &Report) {
    println!("scenario {}  protocol {}  users {}", r.scenario, r.protocol, r.users);
    println!(
        "logins      {:>8} ok {:>6} errors  {:>9.0}/s   p50 {:>8.2} ms  p99 {:>8.2} ms",
        r.logins, r.login_errors, r.logins_per_second, r.login_p50_ms, r.login_p99_ms
    );
    let d = &r.delivered;
    if r.scenario == "fanout" {
        println!("presence    {:>8} seen {:>4} errors  {}", d.messages, r.message_errors, d.columns());
    }
    if matches!(r.scenario.as_str(), "pairs" | "mixed") {
        println!("messages    {:>8} ok {:>6} errors  {}", d.messages, r.message_errors, d.columns());
        if r.routes.len() > 1 {
            for route in &r.routes {
                println!(
                    "  {:<13} {:>8} ok                {}",
                    route.route,
                    route.delivered.messages,
                    route.delivered.columns()
                );
            }
        }
    }
    if r.presence_changes + r.presence_errors > 0 {
        println!(
            "presence    {:>8} seen of {} changes, {} refused       p50 {:>8.2} ms  p99 {:>8.2} ms",
            r.presence_seen, r.presence_changes, r.presence_errors, r.presence_p50_ms, r.presence_p99_ms
        );
    }
    if matches!(r.protocol.as_str(), "myicq" | "mixed") && r.scenario != "login" {
        println!(
            "udp         {:>8} datagrams        {:>9.0}/s   {} dropped for a full buffer",
            r.udp_datagrams, r.udp_datagrams_per_second, r.udp_buffer_drops
        );
    }
    if r.server_rss_kib_after > 0 {
        println!(
            "server      RSS {} KiB -> {} KiB ({:.1} KiB per session), CPU {:.2} s",
            r.server_rss_kib_before, r.server_rss_kib_after, r.server_kib_per_session, r.server_cpu_seconds
        );
    }
}

#[cfg(test)]
mod tests {
    use super::Report;

    /// The table is printed from the report's JSON, which leaves out an empty route list (a
    /// `login` run): it must read back.
    #[test]
    fn a_report_without_routes_reads_back_from_its_json() {
        let report = Report { scenario: "login".into(), logins: 3, ..Report::default() };
        let json = serde_json::to_value(&report).unwrap();
        assert!(json.get("routes").is_none());
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!((back.scenario.as_str(), back.logins, back.routes.len()), ("login", 3, 0));
    }
}
