//! Watch streams: replay from a resourceVersion, then live changes, bookmarks, timeouts.
//!
//! Each watch is one task feeding a bounded channel into the chunked response. A watch that
//! falls behind the broadcast channel ends (the client re-watches from its last version and
//! the history replays what it missed, or answers an `ERROR` event with `410 Expired`), so a slow client never makes
//! the server buffer without bound.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::{
    error::{ApiError, Result},
    object,
    resources::ResourceType,
    route::ResourcePath,
    selector::{FieldSelector, LabelSelector},
    server::{self, Rendering, ServerState},
    store::{Change, ChangeKind, WatchStart, parse_rv},
    table::{self, IncludeObject},
};

/// The server-side timeout when the client gives none, as the real default (30 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Starts a watch response.
pub(crate) fn serve(
    state: &ServerState,
    path: &ResourcePath,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<Response> {
    let param = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let (labels, fields) = server::selectors(query, &path.rt)?;
    let from_rv = match param("resourceVersion") {
        None | Some("" | "0") => None,
        Some(rv) => Some(parse_rv(rv)?),
    };
    let storage_key = path.rt.storage_key();
    let (initial, start) = match from_rv {
        Some(rv) => match state.store.watch(&storage_key, rv) {
            Ok(start) => (Vec::new(), start),
            Err(too_old) if too_old.code == 410 => return Ok(expired_watch(&too_old)),
            Err(other) => return Err(other),
        },
        None => state.store.watch_with_initial(&storage_key),
    };
    let timeout =
        param("timeoutSeconds").and_then(|s| s.parse::<u64>().ok()).map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let spec = WatchSpec {
        rt: path.rt.clone(),
        namespace: path.namespace.clone(),
        name: path.name.clone(),
        labels,
        fields,
        rendering: server::rendering(headers),
        include_object: server::include_object(query),
        bookmarks: matches!(param("allowWatchBookmarks"), Some("true" | "1")),
        // The bookmark that ends the initial events is a bookmark: sent only when allowed.
        initial_events_end: matches!(param("sendInitialEvents"), Some("true" | "1"))
            && matches!(param("allowWatchBookmarks"), Some("true" | "1")),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let stalled = state.faults.stalled.subscribe();
    let bookmark_interval = state.bookmark_interval;
    let open = WatchGauge::open(&state.watches, &path.rt.group, &path.rt.plural);
    tokio::spawn(async move {
        let _open = open;
        let mut task = WatchTask { spec, tx, sent_columns: false, last_rv: start.current_rv, stalled };
        task.run(initial, start, timeout, bookmark_interval).await;
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

/// A watch from a version the history no longer holds: `200` and one `ERROR` event carrying
/// the `410 Expired` Status, then the end, as the watch cache answers it.
fn expired_watch(too_old: &ApiError) -> Response {
    let mut line = json!({"type": "ERROR", "object": too_old.to_status()}).to_string().into_bytes();
    line.push(b'\n');
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], line).into_response()
}

/// When the next bookmark is due, as the watch cache schedules it (`nextBookmarkTime`): after
/// the bookmark interval, but no later than 2 s before the watch ends, so a client that asked
/// for a timeout gets the version to resume from; None once that moment has passed.
fn next_bookmark(
    now: tokio::time::Instant,
    interval: Duration,
    ends: tokio::time::Instant,
) -> Option<tokio::time::Instant> {
    let beat = now + interval;
    match ends.checked_sub(Duration::from_secs(2)) {
        Some(before_end) if before_end < beat => (before_end > now).then_some(before_end),
        _ => Some(beat),
    }
}

/// How many watches are open, by (group, resource).
#[derive(Debug, Default)]
pub(crate) struct WatchGauge {
    open: std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>>,
}

/// One open watch; closing it (dropping) counts it out.
pub(crate) struct OpenWatch {
    gauge: Arc<WatchGauge>,
    key: (String, String),
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        let mut open = self.gauge.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
    }
}

impl WatchGauge {
    fn open(gauge: &Arc<WatchGauge>, group: &str, resource: &str) -> OpenWatch {
        let key = (group.to_owned(), resource.to_owned());
        *gauge.open.lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default() += 1;
        OpenWatch { gauge: gauge.clone(), key }
    }

    /// The total of open watches.
    pub(crate) fn total(&self) -> u64 {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).values().sum()
    }

    /// The Prometheus text of `apiserver_longrunning_requests` for watches.
    pub(crate) fn render(&self) -> String {
        let mut out = String::from(
            "# HELP apiserver_longrunning_requests Gauge of all active long-running apiserver requests.\n\
             # TYPE apiserver_longrunning_requests gauge\n",
        );
        for ((group, resource), n) in self.open.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            out.push_str(&format!(
                "apiserver_longrunning_requests{{component=\"apiserver\",group=\"{group}\",resource=\"{resource}\",verb=\"WATCH\"}} {n}\n"
            ));
        }
        out
    }
}

struct WatchSpec {
    rt: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    rendering: Rendering,
    include_object: IncludeObject,
    bookmarks: bool,
    initial_events_end: bool,
}

impl WatchSpec {
    fn matches(&self, obj: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == object::namespace(obj))
            && self.name.as_deref().is_none_or(|name| name == object::name(obj))
            && self.labels.matches_object(obj)
            && self.fields.matches_object(obj)
    }
}

struct WatchTask {
    spec: WatchSpec,
    tx: mpsc::Sender<Bytes>,
    sent_columns: bool,
    /// Every change up to this version has been seen (sent or filtered out).
    last_rv: u64,
    stalled: tokio::sync::watch::Receiver<bool>,
}

impl WatchTask {
    async fn run(
        &mut self,
        initial: Vec<Arc<Value>>,
        mut start: WatchStart,
        timeout: Duration,
        bookmark_interval: Duration,
    ) {
        for obj in initial {
            if self.spec.matches(&obj) && !self.send("ADDED", &obj).await {
                return;
            }
        }
        if self.spec.initial_events_end && !self.send_bookmark(true).await {
            return;
        }
        for change in std::mem::take(&mut start.replay) {
            if !self.deliver(&change).await {
                return;
            }
        }
        let ends = tokio::time::Instant::now() + timeout;
        let deadline = tokio::time::sleep_until(ends);
        tokio::pin!(deadline);
        let mut due = next_bookmark(tokio::time::Instant::now(), bookmark_interval, ends);
        let bookmark = tokio::time::sleep_until(due.unwrap_or(ends));
        tokio::pin!(bookmark);
        loop {
            tokio::select! {
                () = self.tx.closed() => return,
                () = &mut deadline => return,
                () = &mut bookmark, if self.spec.bookmarks && due.is_some() => {
                    if !self.send_bookmark(false).await { return; }
                    due = next_bookmark(tokio::time::Instant::now(), bookmark_interval, ends);
                    bookmark.as_mut().reset(due.unwrap_or(ends));
                }
                received = start.live.recv() => match received {
                    Ok(change) => if !self.deliver(&change).await { return },
                    Err(RecvError::Lagged(_) | RecvError::Closed) => return,
                },
            }
        }
    }

    /// Sends a change as the watch sees it; false when the client is gone.
    async fn deliver(&mut self, change: &Change) -> bool {
        self.last_rv = self.last_rv.max(change.rv);
        let now = self.spec.matches(&change.object);
        let before = change.previous.as_deref().is_some_and(|p| self.spec.matches(p));
        let event = match change.kind {
            ChangeKind::Added if now => "ADDED",
            ChangeKind::Modified if now && before => "MODIFIED",
            ChangeKind::Modified if now => "ADDED",
            ChangeKind::Modified if before => "DELETED",
            ChangeKind::Deleted if before || now => "DELETED",
            _ => return true,
        };
        self.send(event, &change.object).await
    }

    async fn send(&mut self, event: &str, obj: &Value) -> bool {
        let rendered = match self.spec.rendering {
            Rendering::Full => server::converted(obj, &self.spec.rt).into_owned(),
            Rendering::Metadata => server::metadata_only(obj),
            Rendering::Table => {
                let meta = json!({"resourceVersion": object::resource_version(obj)});
                let columns = !self.sent_columns;
                self.sent_columns = true;
                let rt = &self.spec.rt;
                table::build_table(
                    &rt.kind,
                    rt.printer_columns.as_deref(),
                    &[obj],
                    self.spec.include_object,
                    columns,
                    meta,
                )
            }
        };
        self.write(&json!({"type": event, "object": rendered})).await
    }

    async fn send_bookmark(&mut self, initial_events_end: bool) -> bool {
        let mut metadata = json!({"resourceVersion": self.last_rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.spec.rt.kind, "apiVersion": self.spec.rt.api_version(), "metadata": metadata});
        self.write(&json!({"type": "BOOKMARK", "object": object})).await
    }

    async fn write(&mut self, event: &Value) -> bool {
        // A stall holds deliveries too; a closed fault channel means shutdown: go on.
        let _ = self.stalled.wait_for(|s| !s).await;
        let Ok(mut line) = serde_json::to_vec(event) else { return false };
        line.push(b'\n');
        self.tx.send(Bytes::from(line)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::next_bookmark;

    #[test]
    fn bookmarks_come_at_the_interval_and_two_seconds_before_the_end() {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let ends = now + Duration::from_secs(300);
        assert_eq!(next_bookmark(now, minute, ends), Some(now + minute));
        let short = now + Duration::from_secs(5);
        assert_eq!(next_bookmark(now, minute, short), Some(now + Duration::from_secs(3)));
        assert_eq!(next_bookmark(now + Duration::from_secs(3), minute, short), None, "the last one was sent");
    }
}
