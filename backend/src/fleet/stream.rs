//! `GET /api/v1/snapshot` and `GET /api/v1/stream`: the fleet, then its changes as server-sent
//! events.
//!
//! A client first fetches the snapshot (gzip-compressed: 10k objects are about 4 MB of JSON and
//! a few hundred KB compressed; text/event-stream cannot be compressed event by event without a
//! compressor per connection), then opens the stream with `?after=<the snapshot's id>`. Compressed
//! snapshots are shared for a second by clients of the same scope, so a thousand browsers
//! reconnecting after a restart cost one compression, not a thousand; a snapshot a second old is
//! still correct because the stream continues from its id.
//!
//! The stream starts with the changes after `Last-Event-ID` (the browser's own reconnect) or
//! `after`, when the change log still holds them. Otherwise a stream opened with `after` gets
//! one `resync` event (fetch the compressed snapshot again: after a restart, a thousand browsers
//! then share one compression), and a stream without it a full `snapshot` event. Then come
//! `upsert`, `delete` and `cluster` events, each with the id `<epoch>:<seq>`, and keep-alive
//! comments. A client that falls further behind than the store's broadcast capacity is cut off;
//! its browser reconnects and resumes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use fluxboard_model::api::{EventId, event};
use futures::StreamExt as _;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Identity;
use crate::fleet::gzip::{self, Piece};
use crate::fleet::store::{Delta, FleetStore, Start, Subscription, Visibility, sse_frame};
use crate::http::error::ApiError;
use crate::state::AppState;

/// How often an idle stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting (the SSE `retry` field).
const RETRY: Duration = Duration::from_secs(2);

/// How often a stream of a logged-in user checks that the session still stands.
const SESSION_CHECK: Duration = Duration::from_secs(2);
/// The most event streams one user (or, without login, one client address) holds at once:
/// enough for many tabs, not for a flood.
pub const MAX_STREAMS_PER_CLIENT: usize = 16;

#[allow(clippy::too_many_arguments)] // reason: an axum handler's extractors
pub(crate) async fn stream(
    State(state): State<Arc<AppState>>,
    crate::auth::Caller(identity): crate::auth::Caller,
    logged_in: Option<Extension<crate::auth::LoggedIn>>,
    session: Option<Extension<tower_sessions::Session>>,
    addr: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let after = match after_param(query.as_deref()) {
        Ok(after) => after,
        Err(err) => return err.into_response(),
    };
    // A logged-in stream ends when its session does (logout, idle or absolute expiry, changed
    // grants): it re-reads the session from the store every SESSION_CHECK.
    let session_id = match (logged_in, session) {
        (Some(_), Some(Extension(session))) => session.id(),
        _ => None,
    };
    let client = match session_id {
        Some(_) => format!("user:{}", identity.user),
        None => format!("addr:{}", crate::auth::login::client(&state, addr.as_ref().map(|a| &a.0), &headers)),
    };
    let Some(slot) = StreamSlot::take(&state, client) else {
        return ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!("at most {MAX_STREAMS_PER_CLIENT} event streams at once; close other tabs"),
        )
        .into_response();
    };
    // The browser's own reconnect sends Last-Event-ID, which is later than the URL's `after`.
    let last = match headers.get("last-event-id") {
        Some(value) => value.to_str().ok().and_then(EventId::parse),
        None => after,
    };
    let visible: Visibility = crate::auth::visibility(&identity);
    // A client that brought its own snapshot (`after`) is never sent one on the stream: a gap
    // (this process restarted, another replica, too far behind) tells it to fetch one, compressed.
    let scope = scope_key(&identity);
    let sub = match (after, last) {
        (None, None) => match state.snapshot_frames.subscribe(&state.store, &scope, &visible).await {
            Some(sub) => sub,
            None => return ApiError::unavailable("the snapshot could not be built; try again").into_response(),
        },
        // A browser's own reconnect without `after` (old clients): from the log, or a fresh
        // snapshot when the log cannot continue.
        (None, Some(last)) => match state.store.resume(last, &visible) {
            sub if !matches!(sub.start, Start::Gap) => FramedStart::from(sub, &visible),
            _ => match state.snapshot_frames.subscribe(&state.store, &scope, &visible).await {
                Some(sub) => sub,
                None => return ApiError::unavailable("the snapshot could not be built; try again").into_response(),
            },
        },
        (Some(_), Some(last)) => FramedStart::from(state.store.resume(last, &visible), &visible),
        (Some(_), None) => return resync(),
    };
    // Every stream starts by telling the browser how soon to reconnect.
    let mut initial = vec![bytes::Bytes::from(format!("retry: {}\n\n", RETRY.as_millis()))];
    match sub.frames {
        Some(frames) => initial.extend(frames),
        None => return resync(),
    }
    state.metrics.sse_clients.fetch_add(1, Ordering::Relaxed);
    let guard = ClientGuard(state.clone());
    let shutdown = state.shutdown.subscribe();
    // Only a logged-in stream has a session to check.
    let check = session_id.map(|_| {
        let mut check = tokio::time::interval(SESSION_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        check
    });
    let watch = SessionWatch { id: session_id, identity, check, keep_alive: KeepAlive::new(KEEP_ALIVE), _slot: slot };
    let start = (sub.changes, visible, guard, shutdown, watch);
    let live = futures::stream::unfold(
        start,
        move |(mut changes, visible, guard, mut shutdown, mut watch)| async move {
            loop {
                // The server is shutting down: end the stream so the browser reconnects elsewhere.
                if *shutdown.borrow() {
                    return None;
                }
                let next = tokio::select! {
                    next = changes.recv() => next,
                    _ = shutdown.changed() => return None,
                    () = watch.keep_alive.timer.as_mut() => {
                        if watch.keep_alive.due() {
                            return Some((bytes::Bytes::from_static(b":\n\n"), (changes, visible, guard, shutdown, watch)));
                        }
                        continue;
                    }
                    _ = tick(&mut watch.check) => {
                        if watch.session_ended(&guard.0).await {
                            tracing::info!(user = watch.identity.user, "session ended: its event stream is closed");
                            return None;
                        }
                        continue;
                    }
                };
                match next {
                    Ok(delta) if visible(&delta.cluster, &delta.namespace) => {
                        let Ok((frames, sent)) = batch(delta, &mut changes, &visible) else {
                            tracing::info!("stream client too slow: disconnected");
                            guard.0.metrics.clients_cut_off.fetch_add(1, Ordering::Relaxed);
                            return None;
                        };
                        guard.0.metrics.events_sent.fetch_add(sent, Ordering::Relaxed);
                        watch.keep_alive.sent();
                        return Some((frames, (changes, visible, guard, shutdown, watch)));
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
        },
    );
    let frames = futures::stream::iter(initial).chain(live).map(Ok::<_, Infallible>);
    event_stream(axum::body::Body::from_stream(frames))
}

/// The most frames one write of a stream carries.
const BATCH: usize = 64;

/// A stream's receiver fell further behind than the broadcast holds.
#[derive(Debug, PartialEq)]
struct Lagged;

/// `first` and the visible changes already queued behind it (at most [`BATCH`]) as one chunk,
/// and how many changes it holds: a stream that is behind catches up in few writes (and its
/// reader in few reads) instead of one per change.
fn batch(
    first: Arc<Delta>,
    changes: &mut tokio::sync::broadcast::Receiver<Arc<Delta>>,
    visible: &Visibility,
) -> Result<(bytes::Bytes, u64), Lagged> {
    use tokio::sync::broadcast::error::TryRecvError;
    let mut deltas = vec![first];
    while deltas.len() < BATCH {
        match changes.try_recv() {
            Ok(delta) if visible(&delta.cluster, &delta.namespace) => deltas.push(delta),
            Ok(_) => {}
            // The changes not sent are replayed from the log when the browser reconnects.
            Err(TryRecvError::Lagged(_)) => return Err(Lagged),
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    if let [one] = deltas.as_slice() {
        return Ok((one.frame.clone(), 1));
    }
    let mut out = bytes::BytesMut::with_capacity(deltas.iter().map(|d| d.frame.len()).sum());
    for delta in &deltas {
        out.extend_from_slice(&delta.frame);
    }
    Ok((out.freeze(), deltas.len() as u64))
}

/// An event-stream response around `body` (frames written by [`sse_frame`]).
fn event_stream(body: axum::body::Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A stream of one `resync` event: the client fetches the snapshot again.
fn resync() -> Response {
    let retry = format!("retry: {}\n\n", RETRY.as_millis());
    let frames = [bytes::Bytes::from(retry), sse_frame(event::RESYNC, "", "{}")];
    event_stream(axum::body::Body::from_stream(futures::stream::iter(frames.map(Ok::<_, Infallible>))))
}

/// Where a stream starts: its first frames (None: the client must resync) and its changes.
pub(crate) struct FramedStart {
    frames: Option<Vec<bytes::Bytes>>,
    changes: tokio::sync::broadcast::Receiver<Arc<Delta>>,
}

impl FramedStart {
    fn from(sub: Subscription, visible: &Visibility) -> FramedStart {
        let frames = match sub.start {
            Start::Snapshot { seq, json } => {
                Some(vec![sse_frame(event::SNAPSHOT, &EventId { epoch: sub.epoch, seq }.to_string(), &json)])
            }
            Start::Resume(deltas) => {
                Some(deltas.iter().filter(|d| visible(&d.cluster, &d.namespace)).map(|d| d.frame.clone()).collect())
            }
            Start::Gap => None,
        };
        FramedStart { frames, changes: sub.changes }
    }
}

/// The last snapshot frame built per scope, shared by the streams that open without `after`
/// (old clients, scripts): the next one continues from its sequence number through the change
/// log instead of building and holding a copy of its own.
#[derive(Debug, Default)]
pub struct SnapshotFrames {
    frames: std::sync::Mutex<HashMap<String, (EventId, bytes::Bytes)>>,
}

impl SnapshotFrames {
    async fn subscribe(&self, store: &Arc<FleetStore>, scope: &str, visible: &Visibility) -> Option<FramedStart> {
        let cached = self.frames.lock().unwrap_or_else(|e| e.into_inner()).get(scope).cloned();
        if let Some((id, frame)) = cached {
            let sub = store.resume(id, visible);
            if let Start::Resume(deltas) = sub.start {
                let mut frames = vec![frame];
                frames.extend(deltas.iter().filter(|d| visible(&d.cluster, &d.namespace)).map(|d| d.frame.clone()));
                return Some(FramedStart { frames: Some(frames), changes: sub.changes });
            }
        }
        // Building a full snapshot is blocking work: off the async workers.
        let (built_store, built_visible) = (store.clone(), visible.clone());
        let sub = tokio::task::spawn_blocking(move || built_store.subscribe(None, &built_visible)).await.ok()?;
        let Start::Snapshot { seq, json } = sub.start else { return Some(FramedStart::from(sub, visible)) };
        let id = EventId { epoch: sub.epoch, seq };
        let frame = sse_frame(event::SNAPSHOT, &id.to_string(), &json);
        let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        if frames.len() >= SNAPSHOT_SCOPES && !frames.contains_key(scope) {
            frames.clear();
        }
        frames.insert(scope.to_owned(), (id, frame.clone()));
        Some(FramedStart { frames: Some(vec![frame]), changes: sub.changes })
    }
}

/// The changed shards' pieces (None for a shard the scope sees nothing of), compressed on every
/// core when there are many (a whole snapshot after a start: 512 pieces).
fn compress_all(changed: Vec<(usize, u64, Vec<Arc<fluxboard_model::Summary>>)>) -> Vec<(usize, u64, Option<Piece>)> {
    let compress = |shards: &[(usize, u64, Vec<Arc<fluxboard_model::Summary>>)]| {
        let piece = |objects: &[Arc<fluxboard_model::Summary>]| {
            (!objects.is_empty()).then(|| Piece::compress(&crate::fleet::store::objects_json(objects), gzip::LEVEL))
        };
        shards.iter().map(|(i, version, objects)| (*i, *version, piece(objects))).collect::<Vec<_>>()
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(8);
    if changed.len() < 32 || threads < 2 {
        return compress(&changed);
    }
    let chunk = changed.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = changed.chunks(chunk).map(|part| scope.spawn(move || compress(part))).collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// The stream's query: nothing, or `after=<epoch>:<seq>`.
fn after_param(query: Option<&str>) -> Result<Option<EventId>, ApiError> {
    let mut after = None;
    for (name, value) in
        query.unwrap_or_default().split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, "")))
    {
        match name {
            "after" => {
                let id = EventId::parse(value)
                    .ok_or_else(|| ApiError::bad_request("after must be an event id like 1764100000:42"))?;
                after = Some(id);
            }
            _ => return Err(ApiError::bad_request(format!("unknown stream parameter {:?}", truncate(name, 40)))),
        }
    }
    Ok(after)
}

fn truncate(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(i, _)| &text[..i])
}

/// `GET /api/v1/snapshot`: every object and cluster the caller may see, with the id to open the
/// stream after. Gzip-compressed when the client accepts it (every browser does).
pub(crate) async fn snapshot(
    State(state): State<Arc<AppState>>,
    crate::auth::Caller(identity): crate::auth::Caller,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let visible = crate::auth::visibility(&identity);
    let store = state.store.clone();
    let built = if accepts_gzip(&headers) {
        state.snapshots.gzip(store, scope_key(&identity), visible).await.map(|(body, fresh)| (body, true, fresh))
    } else {
        let built = tokio::task::spawn_blocking(move || store.snapshot(&visible).1).await;
        built.ok().map(|json| (bytes::Bytes::from(json), false, true))
    };
    let Some((body, gzip, fresh)) = built else {
        return ApiError::unavailable("the snapshot could not be built; try again").into_response();
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    // Whether this request built the snapshot or shared one built for another (the benchmark
    // measures only built ones).
    let how = if fresh { "built" } else { "shared" };
    let took = format!("snapshot;dur={:.1};desc=\"{how}\"", started.elapsed().as_secs_f64() * 1000.0);
    if let Ok(value) = HeaderValue::from_str(&took) {
        headers.insert("server-timing", value);
    }
    response
}

/// Whether `Accept-Encoding` allows gzip.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        },
    )
}

/// Readers with the same key see the same objects (visibility depends only on where grants
/// apply, not on the role).
fn scope_key(identity: &Identity) -> String {
    let mut scopes: Vec<String> =
        identity.grants.iter().map(|g| format!("{:?}|{:?}", g.clusters, g.namespaces)).collect();
    scopes.sort();
    scopes.dedup();
    scopes.join(";")
}

/// How long a compressed snapshot is shared.
pub const SNAPSHOT_REUSE: Duration = Duration::from_secs(1);
/// How many scopes keep a compressed snapshot at once.
const SNAPSHOT_SCOPES: usize = 32;

/// Compressed snapshots by scope, each shared for [`SNAPSHOT_REUSE`], and the compressed
/// pieces they are joined from (one per store shard), kept until their shard changes.
#[derive(Debug, Default)]
pub struct SnapshotCache {
    entries: std::sync::Mutex<HashMap<String, (Instant, Shared)>>,
    pieces: std::sync::Mutex<HashMap<String, Arc<std::sync::Mutex<ScopePieces>>>>,
}

/// One scope's compressed shards: the shard versions they were built from, and each shard's
/// piece (None when the scope sees none of its objects).
#[derive(Debug, Default)]
struct ScopePieces {
    versions: Vec<u64>,
    pieces: Vec<Option<Piece>>,
}

impl ScopePieces {
    /// The compressed snapshot: the shards that changed since the last one are compressed
    /// again (outside the store's lock), the others reused.
    fn build(&mut self, store: &FleetStore, visible: &Visibility) -> Vec<u8> {
        let parts = store.snapshot_parts(visible, &self.versions);
        self.versions.resize(parts.shards.len(), u64::MAX);
        self.pieces.resize_with(parts.shards.len(), || None);
        let changed: Vec<(usize, u64, Vec<Arc<fluxboard_model::Summary>>)> = parts
            .shards
            .into_iter()
            .enumerate()
            .filter_map(|(i, (version, objects))| Some((i, version, objects?)))
            .collect();
        for (i, version, piece) in compress_all(changed) {
            self.pieces[i] = piece;
            self.versions[i] = version;
        }
        let (head, comma, tail) =
            (Piece::compress(parts.head.as_bytes(), gzip::LEVEL), Piece::stored(b","), Piece::stored(b"]}"));
        let mut all = vec![&head];
        for (n, piece) in self.pieces.iter().flatten().enumerate() {
            if n > 0 {
                all.push(&comma);
            }
            all.push(piece);
        }
        all.push(&tail);
        gzip::join(all)
    }
}

/// One scope's compressed snapshot, made once by whoever asks first.
type Shared = Arc<tokio::sync::OnceCell<bytes::Bytes>>;

impl SnapshotCache {
    /// The gzip-compressed snapshot for a scope: a recent one, or a new one. Clients of a scope
    /// arriving while one is compressed wait for it rather than compress their own; other
    /// scopes do not wait. None when compressing failed (nothing is kept then); otherwise the
    /// body and whether this call built it.
    async fn gzip(&self, store: Arc<FleetStore>, key: String, visible: Visibility) -> Option<(bytes::Bytes, bool)> {
        let pieces = {
            let mut all = self.pieces.lock().unwrap_or_else(|e| e.into_inner());
            if all.len() >= SNAPSHOT_SCOPES && !all.contains_key(&key) {
                all.clear();
            }
            all.entry(key.clone()).or_default().clone()
        };
        let cell = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            match entries.get(&key) {
                Some((at, cell)) if at.elapsed() < SNAPSHOT_REUSE => cell.clone(),
                _ => {
                    entries.retain(|_, (at, _)| at.elapsed() < SNAPSHOT_REUSE);
                    let cell = Arc::new(tokio::sync::OnceCell::new());
                    if entries.len() < SNAPSHOT_SCOPES {
                        entries.insert(key, (Instant::now(), cell.clone()));
                    }
                    cell
                }
            }
        };
        // If the client that compresses goes away, the next waiter compresses instead.
        let fresh = std::sync::atomic::AtomicBool::new(false);
        let body = cell
            .get_or_try_init(|| async {
                fresh.store(true, Ordering::Relaxed);
                let built = tokio::task::spawn_blocking(move || {
                    pieces.lock().unwrap_or_else(|e| e.into_inner()).build(&store, &visible)
                })
                .await;
                built.map(bytes::Bytes::from)
            })
            .await;
        body.ok().cloned().map(|b| (b, fresh.load(Ordering::Relaxed)))
    }
}

/// The timers of one stream: the session re-check of a logged-in user, the keep-alive comment.
struct SessionWatch {
    id: Option<tower_sessions::session::Id>,
    identity: Arc<Identity>,
    /// Every [`SESSION_CHECK`], for a logged-in stream.
    check: Option<tokio::time::Interval>,
    keep_alive: KeepAlive,
    _slot: StreamSlot,
}

/// A comment when nothing else was sent for a while: the timer is moved when it fires, not on
/// every event (5k streams at 20 events a second would reset 100k timers a second).
struct KeepAlive {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    every: Duration,
    /// When the stream last sent something.
    last_sent: tokio::time::Instant,
}

impl KeepAlive {
    fn new(every: Duration) -> KeepAlive {
        let now = tokio::time::Instant::now();
        KeepAlive { timer: Box::pin(tokio::time::sleep_until(now + every)), every, last_sent: now }
    }

    /// The stream sent something now.
    fn sent(&mut self) {
        self.last_sent = tokio::time::Instant::now();
    }

    /// Called when the timer fires: whether a comment is due now (then it counts as sent);
    /// otherwise the timer is set to `every` after the last thing sent.
    fn due(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let due = self.last_sent + self.every;
        if due <= now {
            self.last_sent = now;
            self.timer.as_mut().reset(now + self.every);
            return true;
        }
        self.timer.as_mut().reset(due);
        false
    }
}

/// The next tick of an interval that may not exist (then never).
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl SessionWatch {
    /// Whether the session is gone, expired, past its absolute lifetime, or now grants something
    /// else than when the stream opened. A store that cannot answer keeps the stream (a Redis
    /// blip must not disconnect everyone); the next check asks again.
    async fn session_ended(&self, state: &AppState) -> bool {
        let Some(id) = self.id else { return false };
        match tower_sessions::SessionStore::load(&state.sessions, &id).await {
            Ok(Some(record)) => match crate::auth::identity_of_record(state, &record) {
                Some(now) => now.user != self.identity.user || now.grants != self.identity.grants,
                None => true,
            },
            Ok(None) => true,
            Err(err) => {
                tracing::warn!(%err, "session store failed while checking a stream's session");
                false
            }
        }
    }
}

/// One of a client's [`MAX_STREAMS_PER_CLIENT`] stream slots, given back when dropped.
struct StreamSlot {
    state: Arc<AppState>,
    client: String,
}

impl StreamSlot {
    fn take(state: &Arc<AppState>, client: String) -> Option<StreamSlot> {
        let mut counts = state.stream_slots.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(client.clone()).or_default();
        if *count >= MAX_STREAMS_PER_CLIENT {
            return None;
        }
        *count += 1;
        Some(StreamSlot { state: state.clone(), client })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut counts = self.state.stream_slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// Counts a connected stream client until its stream is dropped.
struct ClientGuard(Arc<AppState>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.metrics.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_query_is_nothing_or_an_event_id() {
        assert_eq!(after_param(None).unwrap(), None);
        assert_eq!(after_param(Some("")).unwrap(), None);
        assert_eq!(after_param(Some("after=7:42")).unwrap(), Some(EventId { epoch: 7, seq: 42 }));
        for bad in ["after=", "after=x", "after=1:2:3", "after=-1:2", "other=1", "after=1:2&x=<script>"] {
            let err = after_param(Some(bad)).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
        let long = format!("{}=1", "a".repeat(1000));
        assert!(after_param(Some(&long)).unwrap_err().message.len() < 100);
    }

    #[tokio::test]
    async fn streams_without_after_share_one_snapshot_frame_and_continue_from_it() {
        let store = Arc::new(FleetStore::new(7, 64));
        let info = fluxboard_model::kind_info("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let ks = |name: &str| {
            let obj = serde_json::json!({"metadata": {"name": name, "namespace": "team-a", "generation": 1}});
            fluxboard_model::summarize("production", info, &obj)
        };
        store.upsert(ks("a"));
        let visible: Visibility = Arc::new(|_: &str, _: &str| true);
        let frames = SnapshotFrames::default();
        let first = frames.subscribe(&store, "all", &visible).await.unwrap().frames.unwrap();
        store.upsert(ks("b"));
        let second = frames.subscribe(&store, "all", &visible).await.unwrap().frames.unwrap();
        // The same bytes (no copy of the snapshot per stream), then the change made since.
        assert_eq!(first[0].as_ptr(), second[0].as_ptr());
        assert_eq!(second.len(), 2);
        let text = std::str::from_utf8(&second[1]).unwrap();
        assert!(text.starts_with("event: upsert\nid: 7:2\ndata: {") && text.ends_with("}\n\n"), "{text}");
        assert!(text.contains("\"name\":\"b\""));
    }

    #[test]
    fn the_compressed_snapshot_is_the_snapshot_and_only_changed_shards_are_compressed_again() {
        use std::io::Read as _;
        let store = FleetStore::new(3, 64);
        let info = fluxboard_model::kind_info("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let ks = |ns: &str, name: &str, message: &str| {
            let obj = serde_json::json!({"metadata": {"name": name, "namespace": ns, "generation": 1},
                "status": {"conditions": [{"type": "Ready", "status": "True", "message": message}]}});
            fluxboard_model::summarize("production", info, &obj)
        };
        for i in 0..300 {
            store.upsert(ks(&format!("team-{}", i % 40), &format!("app-{i}"), "ok"));
        }
        let inflate = |gz: &[u8]| {
            let mut json = String::new();
            flate2::read::GzDecoder::new(gz).read_to_string(&mut json).unwrap();
            serde_json::from_str::<fluxboard_model::api::Snapshot>(&json).unwrap()
        };
        let sorted = |mut snapshot: fluxboard_model::api::Snapshot| {
            snapshot.objects.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            snapshot
        };
        let everything: Visibility = Arc::new(|_: &str, _: &str| true);
        let mut pieces = ScopePieces::default();
        let first = inflate(&pieces.build(&store, &everything));
        let plain: fluxboard_model::api::Snapshot = serde_json::from_str(&store.snapshot(&everything).1).unwrap();
        assert_eq!(sorted(first), sorted(plain));
        // One change: one shard built again, the others kept.
        let before: Vec<u64> = pieces.versions.clone();
        store.upsert(ks("team-7", "app-7", "changed"));
        let second = inflate(&pieces.build(&store, &everything));
        let changed = before.iter().zip(&pieces.versions).filter(|(a, b)| a != b).count();
        assert_eq!(changed, 1);
        assert_eq!(second.objects.len(), 300);
        assert!(second.objects.iter().any(|o| o.name == "app-7" && o.message == "changed"));
        // A scope that sees one namespace gets only its objects.
        let team_a: Visibility = Arc::new(|_: &str, ns: &str| ns.is_empty() || ns == "team-1");
        let mine = inflate(&ScopePieces::default().build(&store, &team_a));
        assert!(!mine.objects.is_empty() && mine.objects.iter().all(|o| o.namespace == "team-1"));
        assert_eq!(mine.id, second.id);
    }

    #[test]
    fn a_stream_behind_sends_what_is_queued_in_one_chunk_and_a_lagging_one_ends() {
        let store = FleetStore::new(1, 16);
        let info = fluxboard_model::kind_info("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let ks = |ns: &str, name: &str| {
            let obj = serde_json::json!({"metadata": {"name": name, "namespace": ns, "generation": 1}});
            fluxboard_model::summarize("production", info, &obj)
        };
        let team_a: Visibility = Arc::new(|_: &str, ns: &str| ns == "team-a");
        let mut sub = store.subscribe(None, &team_a);
        for (ns, name) in [("team-a", "x"), ("team-b", "y"), ("team-a", "z")] {
            store.upsert(ks(ns, name));
        }
        let first = sub.changes.try_recv().unwrap();
        let (chunk, sent) = batch(first, &mut sub.changes, &team_a).unwrap();
        let text = std::str::from_utf8(&chunk).unwrap();
        assert_eq!(sent, 2);
        assert_eq!(text.matches("event: upsert").count(), 2, "{text}");
        assert!(text.contains("\"name\":\"x\"") && text.contains("\"name\":\"z\"") && !text.contains("\"y\""));
        // Nothing queued: the frame as it is.
        store.upsert(ks("team-a", "w"));
        let only = sub.changes.try_recv().unwrap();
        let frame = only.frame.clone();
        assert_eq!(batch(only, &mut sub.changes, &team_a).unwrap(), (frame, 1));
        // Past the broadcast's capacity while sending: the stream ends.
        store.upsert(ks("team-a", "v"));
        let next = sub.changes.try_recv().unwrap();
        for i in 0..40 {
            store.upsert(ks("team-a", &format!("o{i}")));
        }
        assert_eq!(batch(next, &mut sub.changes, &team_a), Err(Lagged));
    }

    #[tokio::test(start_paused = true)]
    async fn a_keep_alive_is_due_only_after_a_quiet_period() {
        let mut keep_alive = KeepAlive::new(Duration::from_secs(15));
        let start = tokio::time::Instant::now();
        // Events at 10 s and 20 s: the timer fires at 15 s, too early, and waits until 35 s.
        tokio::time::sleep(Duration::from_secs(10)).await;
        keep_alive.sent();
        tokio::time::sleep(Duration::from_secs(10)).await;
        keep_alive.sent();
        let mut comments = Vec::new();
        while comments.len() < 2 {
            keep_alive.timer.as_mut().await;
            if keep_alive.due() {
                comments.push(start.elapsed().as_secs());
            }
        }
        assert_eq!(comments, [35, 50]);
    }

    #[test]
    fn gzip_is_used_when_accepted() {
        let accepts = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
            accepts_gzip(&headers)
        };
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, gzip;q=0.8"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br, identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn readers_with_the_same_places_share_a_scope() {
        use crate::auth::{Grant, Role};
        let grant = |role, ns: &str| Grant { role, clusters: vec!["*".into()], namespaces: vec![ns.into()] };
        let who = |grants| Identity { user: "u".into(), groups: Vec::new(), grants };
        assert_eq!(
            scope_key(&who(vec![grant(Role::Viewer, "team-a")])),
            scope_key(&who(vec![grant(Role::Operator, "team-a")]))
        );
        assert_ne!(
            scope_key(&who(vec![grant(Role::Viewer, "team-a")])),
            scope_key(&who(vec![grant(Role::Viewer, "*")]))
        );
    }
}
