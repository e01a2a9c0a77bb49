//! The live fleet: one EventSource per tab feeding a fine-grained store keyed by object
//! identity.
//!
//! Events are applied in batches (one store update per animation-sized tick), so a burst of
//! thousands of changes costs one update, not thousands. The data and its indexes are
//! `fleet.rs` (plain data, kept up to date per change); this module tells only what depends on a
//! change: each object has a trigger of its own (a list row or the detail page reruns when its
//! object changes, not when any does), the counts, the filter options, the cluster states and the
//! objects that may need attention are signals set only when they change, the root causes rerun
//! only for changes that can change one (in a task of their own, spaced by what they cost), and the
//! list keeps its order from each batch's changes.
//! Whole-fleet views (the graph, the wall's tiles, the release matrix) read everything, paced
//! the same way (at most once a second, their reads at most 5% of the main thread); the tiles
//! and the matrix only after a change of which objects there are, their health or revision.
//!
//! The fleet is first fetched as a compressed snapshot, then the stream opens after the
//! snapshot's id. The browser's EventSource reconnects by itself and sends `Last-Event-ID`, so a
//! dropped network resumes without a reload; when the server refuses (the stream closed for
//! good), the tab starts over, and the old EventSource and its listeners are released.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use fluxboard_model::Summary;
use fluxboard_model::api::{ClusterStatus, ConnectionState, event};
use leptos::prelude::*;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

pub(crate) use crate::fleet::{Change, ClusterCounts, Counts, FilterOptions, Fleet, Message, Row};

/// The store's data behind triggers: what a read tracks decides what reruns it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FleetSignal {
    data: StoredValue<Fleet>,
    /// Notified after a batch that can change a root cause, paced ([`Paced`]).
    causes: Paced,
    /// Notified after every batch, paced: for the views that walk the whole fleet.
    whole: Paced,
    /// Notified after a batch that changes the fleet's shape ([`crate::fleet::Applied::shape`]),
    /// paced.
    shape: Paced,
    /// Per object key, once something read it: notified when that object changes.
    watchers: StoredValue<HashMap<String, ArcTrigger>>,
}

impl FleetSignal {
    fn new() -> FleetSignal {
        FleetSignal {
            data: StoredValue::new(Fleet::default()),
            causes: Paced::new(),
            whole: Paced::new(),
            shape: Paced::new(),
            watchers: StoredValue::new(HashMap::new()),
        }
    }

    /// Reads the whole fleet without tracking.
    pub(crate) fn with_untracked<R>(&self, f: impl FnOnce(&Fleet) -> R) -> R {
        self.data.with_value(f)
    }

    /// Reads the whole fleet for the root causes: reruns the caller only after a batch that
    /// can change one (`fluxboard_model::view::changes_causes`), paced as [`Paced`] says.
    pub(crate) fn with_causes<R>(&self, f: impl FnOnce(&Fleet) -> R) -> R {
        self.causes.read(self.data, f)
    }

    /// Reads the whole fleet for a view that walks all of it (the graph, a revision search):
    /// reruns the caller after batches, paced as [`Paced`] says, so on a fleet of 50k objects
    /// changing a hundred times a second such a view redraws about once a second instead of
    /// blocking the main thread on every batch.
    pub(crate) fn with_paced<R>(&self, f: impl FnOnce(&Fleet) -> R) -> R {
        self.whole.read(self.data, f)
    }

    /// [`FleetSignal::with_paced`] for a view that reads only which objects there are, their
    /// health and their revision (the wall's tiles, the release matrix): it reruns only after a
    /// batch that changes one of those, not for new messages.
    pub(crate) fn with_shape<R>(&self, f: impl FnOnce(&Fleet) -> R) -> R {
        self.shape.read(self.data, f)
    }

    /// The version of the object `key` (None: the fleet has no such object), tracked per
    /// object: the caller reruns when that object changes, not when another does.
    pub(crate) fn version(&self, key: &str) -> Option<u64> {
        self.track(key);
        self.data.with_value(|f| f.objects.get(key).map(|r| r.version))
    }

    /// Makes the caller rerun when the object `key` changes (or comes, or goes).
    fn track(&self, key: &str) {
        let known = self.watchers.with_value(|w| w.get(key).cloned());
        let trigger = known.unwrap_or_else(|| {
            let trigger = ArcTrigger::new();
            self.watchers.update_value(|w| {
                w.insert(key.to_owned(), trigger.clone());
            });
            trigger
        });
        trigger.track();
    }

    /// Notifies the readers of the changed objects (all of them after a snapshot).
    fn notify(&self, applied: &crate::fleet::Applied) {
        let triggers: Vec<ArcTrigger> = self.watchers.with_value(|w| {
            if applied.reset {
                w.values().cloned().collect()
            } else {
                applied.changes.iter().filter_map(|c| w.get(&*c.key).cloned()).collect()
            }
        });
        triggers.iter().for_each(ArcTrigger::notify);
        self.whole.schedule();
        if applied.shape {
            self.shape.schedule();
        }
        if applied.causes {
            self.causes.schedule();
        }
    }
}

/// A trigger for readers of the whole fleet, notified soon after a batch, in a task of its own
/// (not added to the batch's): at once after a quiet while, else once the pause the last
/// recomputation earned has passed. At most once a second, and spaced so that its costliest
/// read takes at most [`PACED_SHARE`] of the main thread (each paced trigger on its own; the
/// drawing that follows a read is not counted). The fleet graph of 50k objects takes a few
/// hundred milliseconds to build in the browser, and a fleet that size changes many times a
/// second: spaced so, such a view lags by a second or a few, and the main thread stays free.
#[derive(Debug, Clone, Copy)]
struct Paced {
    trigger: Trigger,
    clock: StoredValue<PaceClock>,
}

impl Paced {
    fn new() -> Paced {
        Paced { trigger: Trigger::new(), clock: StoredValue::new(PaceClock::default()) }
    }

    /// Reads `data` tracking the trigger, and records what the read cost.
    fn read<R>(&self, data: StoredValue<Fleet>, f: impl FnOnce(&Fleet) -> R) -> R {
        self.trigger.track();
        let started = js_sys::Date::now();
        let out = data.with_value(f);
        let took = js_sys::Date::now() - started;
        self.clock.update_value(|c| c.took = c.took.max(took));
        out
    }

    /// Notifies the trigger soon (nothing when a notification is already scheduled).
    fn schedule(&self) {
        let clock = self.clock.get_value();
        if clock.scheduled {
            return;
        }
        self.clock.update_value(|c| c.scheduled = true);
        let wait = (clock.last + clock.pause_ms() - js_sys::Date::now()).max(0.0);
        let (trigger, at) = (self.trigger, self.clock);
        set_timeout(
            move || {
                // The readers of this round record their cost afresh.
                at.try_update_value(|c| {
                    c.last = js_sys::Date::now();
                    c.scheduled = false;
                    c.took = 0.0;
                });
                trigger.notify();
            },
            Duration::from_millis(wait as u64),
        );
    }
}

/// Whole-fleet readers rerun at most once a second...
const PACED_EVERY_MS: f64 = 1000.0;
/// ...and take at most this share of the main thread (a recomputation of `t` ms waits `t / share`
/// ms after the last).
const PACED_SHARE: f64 = 0.05;

/// When a paced trigger was last notified and what its readers cost.
#[derive(Debug, Clone, Copy, Default)]
struct PaceClock {
    /// `Date.now()` of the last notification.
    last: f64,
    scheduled: bool,
    /// Milliseconds the costliest read took since the last notification.
    took: f64,
}

impl PaceClock {
    /// The pause between two notifications.
    fn pause_ms(&self) -> f64 {
        (self.took / PACED_SHARE).max(PACED_EVERY_MS)
    }
}

/// One batch's changes, numbered: a view that keeps its own order (the list) applies them, and
/// starts over when it missed one or after a snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct Batch {
    pub(crate) seq: u64,
    pub(crate) reset: bool,
    pub(crate) changes: Vec<Change>,
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
    pub(crate) fleet: FleetSignal,
    /// The overview's counts (set when they change).
    pub(crate) counts: RwSignal<Counts>,
    /// The list's filter options (set when a cluster, kind or namespace comes or goes).
    pub(crate) options: RwSignal<Arc<FilterOptions>>,
    /// Every cluster's state, in name order (set when one changes).
    pub(crate) clusters: RwSignal<Vec<ClusterStatus>>,
    /// Notified when an object that may need attention comes, goes or changes.
    pub(crate) attention: Trigger,
    /// The last batch's changes.
    pub(crate) batch: RwSignal<Arc<Batch>>,
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
    /// The object `key`'s summary, tracked: the caller reruns when that object changes, not
    /// when another does.
    pub(crate) fn object(&self, key: &str) -> Option<Arc<Summary>> {
        self.fleet.track(key);
        self.fleet.data.with_value(|f| f.objects.get(key).map(|r| r.summary.clone()))
    }

    /// Reads the object `key` (tracked as [`Live::object`]), if the fleet has it.
    pub(crate) fn with_object<R>(&self, key: &str, f: impl FnOnce(&Summary) -> R) -> Option<R> {
        self.fleet.track(key);
        self.fleet.data.with_value(|fleet| fleet.objects.get(key).map(|r| f(&r.summary)))
    }

    /// The names of the clusters, in order (tracked).
    pub(crate) fn cluster_names(&self) -> Vec<String> {
        self.clusters.with(|c| c.iter().map(|c| c.name.clone()).collect())
    }

    /// The API version a cluster serves a Flux kind at, when known.
    pub(crate) fn served_version(&self, cluster: &str, group: &str, kind: &str) -> Option<String> {
        self.clusters.with(|c| c.iter().find(|c| c.name == cluster)?.served_version(group, kind).map(str::to_owned))
    }

    pub(crate) fn badge(&self) -> Badge {
        match self.conn.get() {
            Conn::Connecting => Badge { state: "connecting", text: "connecting".into() },
            Conn::Reconnecting => Badge { state: "reconnecting", text: "reconnecting: data may be stale".into() },
            Conn::Live => self.clusters.with(|clusters| {
                let broken: Vec<String> = clusters
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

    /// Applies a batch to the store and tells what depends on it.
    fn apply(&self, batch: Vec<Message>) {
        let Some(applied) = self.fleet.data.try_update_value(|f| f.apply(batch)) else { return };
        self.fleet.notify(&applied);
        let (counts, options, clusters) = self.fleet.data.with_value(|f| {
            let options = (applied.options || applied.reset).then(|| f.options());
            let clusters = (applied.clusters || applied.reset).then(|| f.clusters.clone());
            (f.counts.clone(), options, clusters)
        });
        if self.counts.with_untracked(|c| *c != counts) {
            self.counts.set(counts);
        }
        if let Some(options) = options.filter(|o| self.options.with_untracked(|c| **c != *o)) {
            self.options.set(Arc::new(options));
        }
        if let Some(clusters) = clusters.filter(|c| self.clusters.with_untracked(|now| now != c)) {
            self.clusters.set(clusters);
        }
        if applied.attention || applied.reset {
            self.attention.notify();
        }
        let seq = self.batch.with_untracked(|b| b.seq) + 1;
        self.batch.set(Arc::new(Batch { seq, reset: applied.reset, changes: applied.changes }));
        self.updated.set(js_sys::Date::now());
        if applied.reset {
            self.loaded.set(true);
        }
    }
}

/// Loads the fleet and follows it; returns the store it feeds.
pub(crate) fn connect() -> Live {
    let live = Live {
        fleet: FleetSignal::new(),
        counts: RwSignal::new(Counts::default()),
        options: RwSignal::new(Arc::new(FilterOptions::default())),
        clusters: RwSignal::new(Vec::new()),
        attention: Trigger::new(),
        batch: RwSignal::new(Arc::new(Batch::default())),
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
                live.apply(batch);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_costly_whole_fleet_read_waits_longer() {
        let clock = |took| PaceClock { last: 0.0, scheduled: false, took };
        assert_eq!(clock(0.0).pause_ms(), 1000.0, "at most once a second");
        assert_eq!(clock(20.0).pause_ms(), 1000.0);
        assert_eq!(clock(250.0).pause_ms(), 5000.0, "at most 5% of the main thread");
    }
}
