//! `GET /metrics` in the Prometheus text format: objects by cluster and health, cluster
//! connection states, stream clients and events, actions and logins by result, and request
//! latency histograms by route group.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Counters by two labels (action and result, method and result).
type Labelled = Mutex<BTreeMap<(String, String), u64>>;

/// The counters behind `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub sse_clients: AtomicU64,
    pub events_sent: AtomicU64,
    pub clients_cut_off: AtomicU64,
    /// Connections closed because the client accepted nothing for the write timeout.
    pub connections_stalled: Arc<AtomicU64>,
    actions: Labelled,
    logins: Labelled,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Adds one to the counter labelled `(first, second)`.
fn count(counters: &Labelled, first: &str, second: &str) {
    *counters.lock().unwrap_or_else(|e| e.into_inner()).entry((first.to_owned(), second.to_owned())).or_default() += 1;
}

impl Metrics {
    /// Counts an action attempt by its outcome (`accepted`, `refused`, `failed`).
    pub fn action(&self, action: &str, result: &str) {
        count(&self.actions, action, result);
    }

    /// Counts a login attempt (`local`, `token`, `oidc`; `success` or `failure`).
    pub fn login(&self, method: &str, result: &str) {
        count(&self.logins, method, result);
    }

    fn observe(&self, route: &'static str, seconds: f64) {
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = latency.entry(route).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.buckets[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }
}

/// Times every request, by route group.
pub(crate) async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let route = if path == "/api/v1/stream" {
        "stream"
    } else if path.starts_with("/api/") {
        "api"
    } else if path.starts_with("/auth/") {
        "auth"
    } else if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        "probes"
    } else {
        "assets"
    };
    let start = Instant::now();
    let response = next.run(req).await;
    state.metrics.observe(route, start.elapsed().as_secs_f64());
    response
}

/// Writes a metric family's HELP and TYPE lines; returns its name.
fn family(out: &mut String, name: &str, kind: &str, help: &str) -> String {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    name.to_owned()
}

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub(crate) async fn render(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let m = &state.metrics;
    let mut out = String::new();
    let name =
        family(&mut out, "fluxboard_objects", "gauge", "Flux objects in the watch cache, by cluster and health.");
    for ((cluster, health), n) in &state.store.counts() {
        let _ = writeln!(out, "{name}{{cluster=\"{}\",health=\"{health}\"}} {n}", label(cluster));
    }
    let name = family(&mut out, "fluxboard_cluster_state", "gauge", "1 for each cluster's current watch state.");
    for c in state.store.clusters() {
        let value = serde_json::to_value(c.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let _ = writeln!(out, "{name}{{cluster=\"{}\",state=\"{value}\"}} 1", label(&c.name));
    }
    let name =
        family(&mut out, "fluxboard_watch_state", "gauge", "1 for each watch's current state, by cluster and kind.");
    for c in state.store.clusters() {
        for k in &c.kinds {
            let value =
                serde_json::to_value(k.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let _ = writeln!(
                out,
                "{name}{{cluster=\"{}\",kind=\"{}\",state=\"{value}\"}} 1",
                label(&c.name),
                label(&k.kind)
            );
        }
    }
    let scalars = [
        ("fluxboard_sse_clients", "gauge", "Connected event-stream clients.", &m.sse_clients),
        ("fluxboard_sse_events_sent_total", "counter", "Events sent to stream clients.", &m.events_sent),
        (
            "fluxboard_sse_clients_cut_off_total",
            "counter",
            "Stream clients disconnected for reading too slowly.",
            &m.clients_cut_off,
        ),
        (
            "fluxboard_connections_stalled_total",
            "counter",
            "Connections closed because the client accepted nothing for the write timeout.",
            &*m.connections_stalled,
        ),
    ];
    for (name, kind, help, value) in scalars {
        let name = family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
    }
    let name = family(&mut out, "fluxboard_actions_total", "counter", "Action attempts by action and result.");
    for ((action, result), n) in m.actions.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(out, "{name}{{action=\"{}\",result=\"{}\"}} {n}", label(action), label(result));
    }
    let name = family(&mut out, "fluxboard_logins_total", "counter", "Login attempts by method and result.");
    for ((method, result), n) in m.logins.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(out, "{name}{{method=\"{}\",result=\"{}\"}} {n}", label(method), label(result));
    }
    let name = family(
        &mut out,
        "fluxboard_http_request_duration_seconds",
        "histogram",
        "Time to answer a request (to the first byte for streams), by route group.",
    );
    for (route, h) in m.latency.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        for (le, n) in BUCKETS.iter().zip(h.buckets) {
            let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {}", h.count);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_into_every_bucket_at_or_above_the_value() {
        let m = Metrics::default();
        m.observe("api", 0.02);
        m.observe("api", 3.0);
        let latency = m.latency.lock().unwrap();
        let h = &latency["api"];
        assert_eq!(h.count, 2);
        assert_eq!(h.buckets[0], 0, "0.005");
        assert_eq!(h.buckets[2], 1, "0.025");
        assert_eq!(h.buckets[9], 2, "5");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
