//! `GET /api/v1/stream`: the fleet as server-sent events.
//!
//! First a `snapshot` (or, for a client that reconnects with a `Last-Event-ID` still in the
//! change log, only the changes it missed), then `upsert`, `delete` and `cluster` events, each
//! with the id `<epoch>:<seq>`, and keep-alive comments. A client that falls further behind than
//! the store's broadcast capacity is cut off; its browser reconnects and resumes.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use fluxboard_model::api::{EventId, event};
use futures::StreamExt as _;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::auth::Identity;
use crate::store::{Delta, Start, Visibility};

/// How often an idle stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting (the SSE `retry` field).
const RETRY: Duration = Duration::from_secs(2);

pub(crate) async fn stream(
    State(state): State<Arc<AppState>>,
    Extension(identity): Extension<Arc<Identity>>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(EventId::parse);
    let visible: Visibility = crate::auth::visibility(&identity);
    let sub = state.store.subscribe(last, &visible);
    let epoch = sub.epoch;
    let initial: Vec<Event> = match sub.start {
        Start::Snapshot { seq, json } => {
            vec![Event::default().event(event::SNAPSHOT).id(EventId { epoch, seq }.to_string()).retry(RETRY).data(json)]
        }
        Start::Resume(deltas) => {
            deltas.iter().filter(|d| visible(&d.cluster, &d.namespace)).map(|d| to_event(epoch, d)).collect()
        }
    };
    state.metrics.sse_clients.fetch_add(1, Ordering::Relaxed);
    let guard = ClientGuard(state.clone());
    let shutdown = state.shutdown.subscribe();
    let start = (sub.changes, visible, guard, shutdown);
    let live = futures::stream::unfold(start, move |(mut changes, visible, guard, mut shutdown)| async move {
        loop {
            // The server is shutting down: end the stream so the browser reconnects elsewhere.
            if *shutdown.borrow() {
                return None;
            }
            let next = tokio::select! {
                next = changes.recv() => next,
                _ = shutdown.changed() => return None,
            };
            match next {
                Ok(delta) if visible(&delta.cluster, &delta.namespace) => {
                    guard.0.metrics.events_sent.fetch_add(1, Ordering::Relaxed);
                    return Some((to_event(epoch, &delta), (changes, visible, guard, shutdown)));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "stream client too slow: disconnected");
                    guard.0.metrics.clients_cut_off.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let events = futures::stream::iter(initial).chain(live).map(Ok::<_, Infallible>);
    ([("x-accel-buffering", "no")], Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn to_event(epoch: u64, delta: &Delta) -> Event {
    Event::default().event(delta.event).id(EventId { epoch, seq: delta.seq }.to_string()).data(&*delta.data)
}

/// Counts a connected stream client until its stream is dropped.
struct ClientGuard(Arc<AppState>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.metrics.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}
