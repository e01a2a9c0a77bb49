//! The live fleet: one EventSource per tab feeding a reactive store keyed by object identity.
//!
//! Events are applied in batches (one store update per animation-sized tick), so a burst of
//! thousands of changes costs one re-render, not thousands. The fleet is first fetched as a
//! compressed snapshot, then the stream opens after the snapshot's id. The browser's EventSource
//! reconnects by itself and sends `Last-Event-ID`, so a dropped network resumes without a
//! reload; when the server refuses (the stream closed for good), the tab starts over, and the
//! old EventSource and its listeners are released.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use fluxboard_model::Summary;
use fluxboard_model::api::{ClusterStatus, ConnectionState, ObjectRef, Snapshot, event};
use fluxboard_model::view::key;
use leptos::prelude::*;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

/// One object in the store: its summary and a version that changes with every update (a row
/// compares equal to its previous self only while unchanged, so views update just that row).
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) version: u64,
    pub(crate) summary: Arc<Summary>,
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.version == other.version && Arc::ptr_eq(&self.summary, &other.summary)
    }
}

/// Every object and cluster the stream told about.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fleet {
    pub(crate) objects: HashMap<String, Row>,
    pub(crate) clusters: Vec<ClusterStatus>,
    next_version: u64,
}

impl Fleet {
    fn apply(&mut self, message: Message) {
        match message {
            Message::Snapshot(snapshot) => {
                self.objects.clear();
                self.clusters = snapshot.clusters;
                for s in snapshot.objects {
                    self.insert(s);
                }
            }
            Message::Upsert(s) => self.insert(*s),
            Message::Delete(r) => {
                self.objects.remove(&format!("{}/{}/{}/{}/{}", r.cluster, r.group, r.kind, r.namespace, r.name));
            }
            Message::Cluster(status) => match self.clusters.iter_mut().find(|c| c.name == status.name) {
                Some(c) => *c = status,
                None => {
                    self.clusters.push(status);
                    self.clusters.sort_by(|a, b| a.name.cmp(&b.name));
                }
            },
        }
    }

    fn insert(&mut self, s: Summary) {
        self.next_version += 1;
        self.objects.insert(key(&s), Row { version: self.next_version, summary: Arc::new(s) });
    }
}

/// The state of this tab's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conn {
    Connecting,
    Live,
    Reconnecting,
}

/// The live store, shared through context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Live {
    pub(crate) fleet: RwSignal<Fleet>,
    pub(crate) conn: RwSignal<Conn>,
    /// Whether a snapshot has arrived.
    pub(crate) loaded: RwSignal<bool>,
    /// `Date.now()` when the last batch of changes was applied (the wall's "last change").
    pub(crate) updated: RwSignal<f64>,
}

/// What the badge says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Badge {
    /// `live`, `connecting`, `reconnecting` or `stale`.
    pub(crate) state: &'static str,
    pub(crate) text: String,
}

impl Live {
    /// Reads the object `key` (tracked: the caller reruns when the fleet changes), if the fleet
    /// has it.
    pub(crate) fn with_object<R>(&self, key: &str, f: impl FnOnce(&Summary) -> R) -> Option<R> {
        self.fleet.with(|fleet| fleet.objects.get(key).map(|r| f(&r.summary)))
    }

    /// The names of the clusters, in order (tracked).
    pub(crate) fn cluster_names(&self) -> Vec<String> {
        self.fleet.with(|f| f.clusters.iter().map(|c| c.name.clone()).collect())
    }

    /// The API version a cluster serves a Flux kind at, when known.
    pub(crate) fn served_version(&self, cluster: &str, group: &str, kind: &str) -> Option<String> {
        self.fleet
            .with(|f| f.clusters.iter().find(|c| c.name == cluster)?.served_version(group, kind).map(str::to_owned))
    }

    pub(crate) fn badge(&self) -> Badge {
        match self.conn.get() {
            Conn::Connecting => Badge { state: "connecting", text: "connecting".into() },
            Conn::Reconnecting => Badge { state: "reconnecting", text: "reconnecting: data may be stale".into() },
            Conn::Live => self.fleet.with(|f| {
                let broken: Vec<String> = f
                    .clusters
                    .iter()
                    .filter(|c| matches!(c.state, ConnectionState::Reconnecting | ConnectionState::Error))
                    .map(|c| c.name.clone())
                    .collect();
                if broken.is_empty() {
                    Badge { state: "live", text: "live".into() }
                } else {
                    Badge { state: "stale", text: format!("stale: {} reconnecting", broken.join(", ")) }
                }
            }),
        }
    }
}

enum Message {
    Snapshot(Snapshot),
    Upsert(Box<Summary>),
    Delete(ObjectRef),
    Cluster(ClusterStatus),
}

/// Loads the fleet and follows it; returns the store it feeds.
pub(crate) fn connect() -> Live {
    let live = Live {
        fleet: RwSignal::new(Fleet::default()),
        conn: RwSignal::new(Conn::Connecting),
        loaded: RwSignal::new(false),
        updated: RwSignal::new(js_sys::Date::now()),
    };
    start(live, Feed::default());
    live
}

/// Messages waiting for the next batch, whether a batch is scheduled, and the open stream.
#[derive(Clone, Default)]
struct Feed {
    pending: Rc<RefCell<Vec<Message>>>,
    scheduled: Rc<RefCell<bool>>,
    current: Rc<RefCell<Option<Stream>>>,
    /// Resyncs and failures since the stream last opened: each waits longer (with jitter), so
    /// replicas that cannot continue each other's snapshots do not make a reload loop.
    retries: Rc<std::cell::Cell<u32>>,
}

impl Feed {
    /// The next pause before starting over.
    fn pause(&self) -> Duration {
        let attempt = self.retries.get();
        self.retries.set(attempt.saturating_add(1));
        Duration::from_millis(fluxboard_model::view::backoff_ms(attempt, js_sys::Math::random()))
    }
}

/// An EventSource and the listeners attached to it. Replacing it (a new stream after the old
/// one was refused) closes the old source and frees its listeners.
struct Stream {
    source: EventSource,
    _messages: Vec<Closure<dyn FnMut(MessageEvent)>>,
    _states: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.source.close();
    }
}

impl Feed {
    /// Queues a message; the queue is applied to the store in one update shortly after.
    fn push(&self, live: Live, message: Message) {
        self.pending.borrow_mut().push(message);
        if self.scheduled.replace(true) {
            return;
        }
        let feed = self.clone();
        set_timeout(
            move || {
                feed.scheduled.replace(false);
                let batch: Vec<Message> = feed.pending.borrow_mut().drain(..).collect();
                let snapshot = batch.iter().any(|m| matches!(m, Message::Snapshot(_)));
                live.fleet.update(|f| batch.into_iter().for_each(|m| f.apply(m)));
                live.updated.set(js_sys::Date::now());
                if snapshot {
                    live.loaded.set(true);
                }
            },
            Duration::from_millis(30),
        );
    }
}

/// Fetches the snapshot (compressed), then opens the stream right after it. On failure, shows
/// the login page when the session ended, or tries again shortly.
fn start(live: Live, feed: Feed) {
    leptos::task::spawn_local(async move {
        match crate::api::snapshot().await {
            Ok(snapshot) => {
                let url = crate::api::stream_url(&snapshot.id);
                feed.push(live, Message::Snapshot(snapshot));
                open(live, feed, &url);
            }
            Err(err) => {
                leptos::logging::warn!("fluxboard: loading the fleet failed: {err}");
                live.conn.set(Conn::Reconnecting);
                retry(live, feed);
            }
        }
    });
}

/// After a failure: the login page when the session ended, otherwise a new start after a pause.
fn retry(live: Live, feed: Feed) {
    leptos::task::spawn_local(async {
        if let Ok(None) = crate::api::me().await {
            let _ = window().location().reload();
        }
    });
    let pause = feed.pause().max(Duration::from_secs(1));
    set_timeout(move || start(live, feed), pause);
}

fn open(live: Live, feed: Feed, url: &str) {
    let Ok(source) = EventSource::new(url) else {
        live.conn.set(Conn::Reconnecting);
        retry(live, feed);
        return;
    };
    let handler = |name: &'static str| {
        let feed = feed.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let data = ev.data().as_string().unwrap_or_default();
            let message = match name {
                event::SNAPSHOT => serde_json::from_str(&data).ok().map(Message::Snapshot),
                event::UPSERT => serde_json::from_str(&data).ok().map(Message::Upsert),
                event::DELETE => serde_json::from_str(&data).ok().map(Message::Delete),
                _ => serde_json::from_str(&data).ok().map(Message::Cluster),
            };
            match message {
                Some(message) => feed.push(live, message),
                None => leptos::logging::warn!("fluxboard: unreadable {name} event"),
            }
        })
    };
    let messages: Vec<_> = [event::SNAPSHOT, event::UPSERT, event::DELETE, event::CLUSTER]
        .into_iter()
        .map(|name| {
            let closure = handler(name);
            let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
            closure
        })
        .collect();
    // The server cannot continue after our snapshot (it restarted, or another replica
    // answered): load the snapshot again. The new stream replaces this one from a task.
    let resync_source = source.clone();
    let resync_feed = feed.clone();
    let on_resync = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        resync_source.close();
        live.conn.set(Conn::Connecting);
        let feed = resync_feed.clone();
        let pause = feed.pause();
        set_timeout(move || start(live, feed), pause);
    });
    let _ = source.add_event_listener_with_callback(event::RESYNC, on_resync.as_ref().unchecked_ref());
    let open_feed = feed.clone();
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        open_feed.retries.set(0);
        live.conn.set(Conn::Live);
    });
    let _ = source.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
    let retry_source = source.clone();
    let retry_feed = feed.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        live.conn.set(Conn::Reconnecting);
        // CLOSED: the browser gave up (an error status); start over with a new snapshot (the
        // new stream replaces this one later, outside this listener). Otherwise the browser
        // reconnects by itself with Last-Event-ID.
        if retry_source.ready_state() == EventSource::CLOSED {
            retry(live, retry_feed.clone());
        }
    });
    let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    // Called from a task, never from the old stream's listeners: dropping them here is safe.
    *feed.current.borrow_mut() =
        Some(Stream { source, _messages: messages, _states: vec![on_resync, on_open, on_error] });
}
