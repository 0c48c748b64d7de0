//! What machines read: `/metrics` (Prometheus' text format, the dashboard's numbers),
//! `/healthz` (the process answers) and `/readyz` (its store answers and its listeners are up).

use crate::Web;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_core::{AccountId, ActivityCounts, Destination, Protocol};

/// The numbers of one scrape.
#[derive(Debug)]
struct Scrape {
    counts: ActivityCounts,
    sessions: [u64; 3],
    offline: Option<u64>,
    usage: Option<crate::system::ProcessUsage>,
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> std::fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut sessions = encoder.encode_descriptor(
            "switchyard_sessions",
            "Sessions of the whole network, by protocol",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for protocol in Protocol::ALL {
            let value = ConstGauge::new(self.sessions[protocol.index()] as i64);
            value.encode(sessions.encode_family(&[("protocol", protocol.name())])?)?;
        }
        let mut logins = encoder.encode_descriptor(
            "switchyard_logins",
            "Logins on this node, by protocol",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for protocol in Protocol::ALL {
            ConstCounter::new(self.counts.logins_of(protocol))
                .encode(logins.encode_family(&[("protocol", protocol.name())])?)?;
        }
        counter(&mut encoder, "switchyard_failed_logins", "Failed logins on this node", self.counts.failed_logins)?;
        let mut messages = encoder.encode_descriptor(
            "switchyard_messages",
            "Messages sent from sessions of this node, by the sender's protocol and where they went",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for from in Protocol::ALL {
            for to in Destination::ALL {
                ConstCounter::new(self.counts.messages_on(from, to))
                    .encode(messages.encode_family(&[("from", from.name()), ("to", to.name())])?)?;
            }
        }
        let presence = self.counts.presence_changes;
        counter(&mut encoder, "switchyard_presence_changes", "Status changes of sessions of this node", presence)?;
        if let Some(offline) = self.offline {
            gauge(&mut encoder, "switchyard_offline_queue_messages", "Messages in the durable queue", offline as i64)?;
        }
        if let Some(usage) = self.usage {
            let memory = usage.resident_bytes as i64;
            gauge(&mut encoder, "process_resident_memory_bytes", "Resident memory of the process", memory)?;
            let cpu = ConstCounter::new(usage.cpu_seconds);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time of the process",
                None,
                cpu.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// Anyone may ask: what costs more than reading counters (the sessions of other nodes, the
/// queue's depth) comes from the sampler's last second.
pub(crate) async fn metrics(State(web): State<Arc<Web>>) -> Response {
    let latest = web.live.latest().unwrap_or_default();
    let scrape = Scrape {
        counts: web.core.activity(),
        sessions: latest.sessions,
        offline: latest.offline,
        usage: crate::system::usage(),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::error!(error = %e, "metrics not encoded");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// How long a look at the store answers for readiness: asking more often reads nothing more.
const STORE_CHECK_FOR: Duration = Duration::from_secs(1);

/// Whether the store answered lately, asking it again when the last answer is stale.
async fn store_answers(web: &Web) -> bool {
    let last = *web.store_checked.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, answered)) = last.filter(|(at, _)| at.elapsed() < STORE_CHECK_FOR) {
        return answered;
    }
    // Any read shows the store answers; no account has id 0.
    let answered = match web.core.store().account_by_id(AccountId(0)).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            false
        }
    };
    *web.store_checked.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), answered));
    answered
}

pub(crate) async fn readyz(State(web): State<Arc<Web>>) -> Response {
    if !web.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "listeners not up\n").into_response();
    }
    if store_answers(&web).await {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
    }
}
