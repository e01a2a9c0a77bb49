//! The fleet store: every Flux object's summary in every cluster, a sequence number, a bounded
//! log of recent changes, and a broadcast of each change to the streams.
//!
//! Each change is serialized once into a [`Delta`] and shared by every stream. The broadcast
//! channel is bounded: a stream that falls behind by more than its capacity sees `Lagged` and is
//! ended (its client reconnects and resumes or resnapshots), so a slow reader never makes
//! memory grow.
//!
//! Objects are kept in [`SHARDS`] shards by a hash of their cluster and namespace, each with the
//! sequence number of its last change, so a compressed snapshot recompresses only the shards
//! that changed since it was last built ([`FleetStore::snapshot_parts`], `fleet::stream`). A
//! shard's objects go into the snapshot ordered by namespace, kind and name: objects of one
//! namespace repeat each other's names, sources and revisions, and compress to a third of the
//! same objects in any order.
//!
//! Architecture Invariant: sends happen under the write lock, and subscriptions take their
//! snapshot or log replay under the read lock, so a subscriber sees every change exactly once.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher as _;
use std::sync::{Arc, RwLock};

use fluxboard_model::Summary;
use fluxboard_model::api::{ClusterStatus, EventId, ObjectRef, event};
use tokio::sync::broadcast;

/// How many changes the log keeps for `Last-Event-ID` resumes, and how far a stream may fall
/// behind before it is cut off.
pub const DEFAULT_CAPACITY: usize = 8192;

/// Which objects a reader may see: `(cluster, namespace)` → visible. Cluster events use "".
pub type Visibility = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// One change, serialized once for every stream.
#[derive(Debug)]
pub struct Delta {
    pub seq: u64,
    /// `upsert`, `delete` or `cluster`.
    pub event: &'static str,
    /// The JSON data of the SSE event.
    pub data: Arc<str>,
    /// The whole SSE frame (event, id, data), built once and shared by every stream.
    pub frame: bytes::Bytes,
    pub cluster: String,
    /// "" for cluster events.
    pub namespace: String,
}

/// One server-sent event as its bytes: `event`, `id` and a single `data` line (JSON written by
/// serde_json holds no raw line break, so one line carries it whole).
pub fn sse_frame(event: &str, id: &str, data: &str) -> bytes::Bytes {
    debug_assert!(!data.contains(['\n', '\r']), "SSE data must be one line");
    let mut out = String::with_capacity(data.len() + event.len() + id.len() + 24);
    for part in ["event: ", event, "\nid: ", id, "\ndata: ", data, "\n\n"] {
        out.push_str(part);
    }
    bytes::Bytes::from(out)
}

/// What a new subscriber starts from.
#[derive(Debug)]
pub enum Start {
    /// A full snapshot (JSON of [`fluxboard_model::api::Snapshot`]) at this sequence number.
    Snapshot { seq: u64, json: String },
    /// The changes after the client's `Last-Event-ID`, from the log.
    Resume(Vec<Arc<Delta>>),
    /// The log no longer holds what follows the client's id (or it is another process's): the
    /// client must fetch a snapshot ([`FleetStore::resume`] only).
    Gap,
}

/// A subscription: where to start, then the live changes.
#[derive(Debug)]
pub struct Subscription {
    pub start: Start,
    pub epoch: u64,
    pub changes: broadcast::Receiver<Arc<Delta>>,
}

/// An object's identity, borrowed: what [`Keyed`] objects are found by, so a shard holds each
/// object once (its summary is its key; no [`ObjectRef`] beside it, some 280 bytes an object).
trait Identity {
    /// Cluster, group, kind, namespace, name.
    fn parts(&self) -> [&str; 5];
}

impl Identity for ObjectRef {
    fn parts(&self) -> [&str; 5] {
        [&self.cluster, &self.group, &self.kind, &self.namespace, &self.name]
    }
}

impl std::hash::Hash for dyn Identity + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for dyn Identity + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn Identity + '_ {}

/// A summary in a shard, hashed and compared by its identity.
#[derive(Debug, Clone)]
struct Keyed(Arc<Summary>);

impl Identity for Keyed {
    fn parts(&self) -> [&str; 5] {
        let s = &self.0;
        [&s.cluster, &s.group, &s.kind, &s.namespace, &s.name]
    }
}

impl std::hash::Hash for Keyed {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The same as `dyn Identity`'s, which lookups hash.
        (self as &dyn Identity).hash(state);
    }
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Keyed {}

impl<'a> std::borrow::Borrow<dyn Identity + 'a> for Keyed {
    fn borrow(&self) -> &(dyn Identity + 'a) {
        self
    }
}

/// How many shards hold the objects: at 65k objects about 130 each (some 70 KB of JSON, a
/// piece of the compressed snapshot). Summaries are kept once, not with their JSON beside them:
/// a change is serialized once for the streams, and a snapshot serializes what it sends (the
/// compressed one only its changed shards).
pub const SHARDS: usize = 512;

/// Some of the objects, and the sequence number of their last change (0: never changed).
#[derive(Debug, Default)]
struct Shard {
    objects: std::collections::HashSet<Keyed>,
    version: u64,
}

#[derive(Debug)]
struct Inner {
    seq: u64,
    shards: Vec<Shard>,
    /// Which shard an object is in.
    hasher: std::collections::hash_map::RandomState,
    clusters: BTreeMap<String, (ClusterStatus, Arc<str>)>,
    log: VecDeque<Arc<Delta>>,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            seq: 0,
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            clusters: BTreeMap::new(),
            log: VecDeque::new(),
        }
    }
}

impl Inner {
    fn shard_of(&self, key: &ObjectRef) -> usize {
        self.shard_of_parts(key)
    }

    /// The shard of an object: by its cluster and namespace.
    fn shard_of_parts(&self, object: &dyn Identity) -> usize {
        let [cluster, _, _, namespace, _] = object.parts();
        (self.hasher.hash_one((cluster, namespace)) % SHARDS as u64) as usize
    }

    fn entry(&self, key: &ObjectRef) -> Option<&Arc<Summary>> {
        self.shards[self.shard_of(key)].objects.get(key as &dyn Identity).map(|k| &k.0)
    }

    /// Every object, shard by shard.
    fn entries(&self) -> impl Iterator<Item = &Arc<Summary>> {
        self.shards.iter().flat_map(|s| s.objects.iter().map(|k| &k.0))
    }
}

/// What a compressed snapshot is made of ([`FleetStore::snapshot_parts`]).
#[derive(Debug)]
pub struct SnapshotParts {
    pub seq: u64,
    /// The snapshot's JSON up to its first object: `{"id":...,"clusters":[...],"objects":[`.
    pub head: String,
    /// Per shard: the sequence number of its last change, and its visible objects in snapshot
    /// order when that is not the version the caller already has.
    pub shards: Vec<(u64, Option<Vec<Arc<Summary>>>)>,
}

/// The fleet store.
#[derive(Debug)]
pub struct FleetStore {
    inner: RwLock<Inner>,
    tx: broadcast::Sender<Arc<Delta>>,
    epoch: u64,
    capacity: usize,
}

impl FleetStore {
    /// A store whose log keeps `capacity` changes; `epoch` tells this process's event ids apart
    /// from another process's.
    pub fn new(epoch: u64, capacity: usize) -> FleetStore {
        let (tx, _) = broadcast::channel(capacity.max(16));
        FleetStore { inner: RwLock::new(Inner::default()), tx, epoch, capacity: capacity.max(16) }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Records an object's summary; nothing happens when it did not change.
    pub fn upsert(&self, summary: Summary) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        self.upsert_locked(&mut inner, summary);
    }

    /// Forgets an object.
    pub fn delete(&self, key: &ObjectRef) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        self.delete_locked(&mut inner, key);
    }

    /// Replaces every object of one kind in one cluster by a fresh list (after a (re)list):
    /// changed objects are upserted, objects not in the list are deleted.
    pub fn replace_kind(&self, cluster: &str, group: &str, kind: &str, summaries: Vec<Summary>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let fresh: HashMap<ObjectRef, Summary> = summaries.into_iter().map(|s| (ObjectRef::of(&s), s)).collect();
        let gone: Vec<ObjectRef> = inner
            .entries()
            .filter(|s| s.cluster == cluster && s.group == group && s.kind == kind)
            .map(|s| ObjectRef::of(s))
            .filter(|k| !fresh.contains_key(k))
            .collect();
        for key in gone {
            self.delete_locked(&mut inner, &key);
        }
        for (_, summary) in fresh {
            self.upsert_locked(&mut inner, summary);
        }
    }

    /// Forgets every object of a cluster (for example when it is removed).
    pub fn clear_cluster(&self, cluster: &str) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let gone: Vec<ObjectRef> = inner.entries().filter(|s| s.cluster == cluster).map(|s| ObjectRef::of(s)).collect();
        for key in gone {
            self.delete_locked(&mut inner, &key);
        }
    }

    /// Records a cluster's connection state; nothing happens when it did not change.
    pub fn set_cluster(&self, status: ClusterStatus) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.clusters.get(&status.name).is_some_and(|(old, _)| *old == status) {
            return;
        }
        let json: Arc<str> = serde_json::to_string(&status).unwrap_or_default().into();
        inner.clusters.insert(status.name.clone(), (status.clone(), json.clone()));
        self.push(&mut inner, event::CLUSTER, json, status.name, String::new());
    }

    /// Every cluster's state.
    pub fn clusters(&self) -> Vec<ClusterStatus> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.clusters.values().map(|(s, _)| s.clone()).collect()
    }

    /// One object's summary.
    pub fn get(&self, key: &ObjectRef) -> Option<Arc<Summary>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner.entry(key).cloned()
    }

    /// How many objects each cluster holds per health (counted under the read lock, nothing
    /// cloned but the cluster names).
    pub fn counts(&self) -> BTreeMap<(String, &'static str), u64> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut counts: BTreeMap<(&str, &'static str), u64> = BTreeMap::new();
        for summary in inner.entries() {
            let health = fluxboard_model::view::health_label(summary.health);
            *counts.entry((summary.cluster.as_str(), health)).or_default() += 1;
        }
        counts.into_iter().map(|((cluster, health), n)| ((cluster.to_owned(), health), n)).collect()
    }

    /// How many streams are subscribed to the changes.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Every summary, sorted by identity (for tests and comparisons with the cluster).
    pub fn summaries(&self) -> Vec<Arc<Summary>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<Arc<Summary>> = inner.entries().cloned().collect();
        all.sort_by(|a, b| {
            (&a.cluster, &a.group, &a.kind, &a.namespace, &a.name).cmp(&(
                &b.cluster,
                &b.group,
                &b.kind,
                &b.namespace,
                &b.name,
            ))
        });
        all
    }

    /// Subscribes a reader: from `last` when it is this epoch's and still in the log, otherwise
    /// from a snapshot of what `visible` allows.
    pub fn subscribe(&self, last: Option<EventId>, visible: &Visibility) -> Subscription {
        self.subscribe_from(last, visible, true)
    }

    /// Subscribes a reader that has a snapshot: from `last` when the log still holds what
    /// follows it, otherwise [`Start::Gap`] (no snapshot is built).
    pub fn resume(&self, last: EventId, visible: &Visibility) -> Subscription {
        self.subscribe_from(Some(last), visible, false)
    }

    fn subscribe_from(&self, last: Option<EventId>, visible: &Visibility, snapshot: bool) -> Subscription {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let changes = self.tx.subscribe();
        let resumable = last.filter(|id| id.epoch == self.epoch && id.seq <= inner.seq).and_then(|id| {
            if id.seq == inner.seq {
                return Some(Vec::new());
            }
            let first = inner.log.front()?.seq;
            // The log must still hold the change right after the client's last one.
            (id.seq + 1 >= first).then(|| inner.log.iter().filter(|d| d.seq > id.seq).cloned().collect())
        });
        let start = match resumable {
            Some(deltas) => Start::Resume(deltas),
            None if snapshot => {
                // Taken under the lock, written after it (writers do not wait for the JSON).
                let (seq, head, objects) =
                    (inner.seq, self.snapshot_head(&inner, visible), visible_objects(&inner, visible));
                drop(inner);
                Start::Snapshot { seq, json: snapshot_json(head, &objects) }
            }
            None => Start::Gap,
        };
        Subscription { start, epoch: self.epoch, changes }
    }

    /// A snapshot of what `visible` allows (JSON of [`fluxboard_model::api::Snapshot`]) and the
    /// sequence number it is at.
    pub fn snapshot(&self, visible: &Visibility) -> (u64, String) {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let (seq, head, objects) = (inner.seq, self.snapshot_head(&inner, visible), visible_objects(&inner, visible));
        drop(inner);
        (seq, snapshot_json(head, &objects))
    }

    /// What a compressed snapshot of what `visible` allows is made of: its head, and the
    /// objects of every shard whose version is not the one in `known` (the versions the caller
    /// built its pieces from, by shard; missing ones count as unknown).
    pub fn snapshot_parts(&self, visible: &Visibility, known: &[u64]) -> SnapshotParts {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let shards = inner
            .shards
            .iter()
            .enumerate()
            .map(|(i, shard)| {
                if known.get(i) == Some(&shard.version) {
                    return (shard.version, None);
                }
                let mut objects: Vec<Arc<Summary>> =
                    shard.objects.iter().map(|k| &k.0).filter(|s| visible(&s.cluster, &s.namespace)).cloned().collect();
                objects.sort_unstable_by(|a, b| {
                    (&a.cluster, &a.namespace, &a.kind, &a.name, &a.group).cmp(&(
                        &b.cluster,
                        &b.namespace,
                        &b.kind,
                        &b.name,
                        &b.group,
                    ))
                });
                (shard.version, Some(objects))
            })
            .collect();
        SnapshotParts { seq: inner.seq, head: self.snapshot_head(&inner, visible), shards }
    }

    /// The snapshot's JSON up to its first object.
    fn snapshot_head(&self, inner: &Inner, visible: &Visibility) -> String {
        let mut out = String::with_capacity(256 * (inner.clusters.len() + 1));
        out.push_str(&format!("{{\"id\":\"{}\",\"clusters\":[", EventId { epoch: self.epoch, seq: inner.seq }));
        let mut first = true;
        for (status, json) in inner.clusters.values() {
            if !visible(&status.name, "") {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(json);
        }
        out.push_str("],\"objects\":[");
        out
    }

    fn upsert_locked(&self, inner: &mut Inner, summary: Summary) {
        let summary = Keyed(Arc::new(summary));
        let shard = inner.shard_of_parts(&summary);
        if inner.shards[shard].objects.get(&summary as &dyn Identity).is_some_and(|k| k.0 == summary.0) {
            return;
        }
        let json: Arc<str> = serde_json::to_string(&*summary.0).unwrap_or_default().into();
        let (cluster, namespace) = (summary.0.cluster.clone(), summary.0.namespace.clone());
        inner.shards[shard].objects.replace(summary);
        self.push(inner, event::UPSERT, json, cluster, namespace);
        inner.shards[shard].version = inner.seq;
    }

    fn delete_locked(&self, inner: &mut Inner, key: &ObjectRef) {
        let shard = inner.shard_of(key);
        if !inner.shards[shard].objects.remove(key as &dyn Identity) {
            return;
        }
        let json: Arc<str> = serde_json::to_string(key).unwrap_or_default().into();
        self.push(inner, event::DELETE, json, key.cluster.clone(), key.namespace.clone());
        inner.shards[shard].version = inner.seq;
    }

    fn push(&self, inner: &mut Inner, event: &'static str, data: Arc<str>, cluster: String, namespace: String) {
        inner.seq += 1;
        let id = fluxboard_model::api::EventId { epoch: self.epoch, seq: inner.seq }.to_string();
        let frame = sse_frame(event, &id, &data);
        let delta = Arc::new(Delta { seq: inner.seq, event, data, frame, cluster, namespace });
        if inner.log.len() == self.capacity {
            inner.log.pop_front();
        }
        inner.log.push_back(delta.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(delta);
    }
}

/// Every object `visible` allows, shard by shard (cheap: the summaries are shared).
fn visible_objects(inner: &Inner, visible: &Visibility) -> Vec<Arc<Summary>> {
    inner.entries().filter(|s| visible(&s.cluster, &s.namespace)).cloned().collect()
}

/// The snapshot's JSON: its head, then the objects.
fn snapshot_json(head: String, objects: &[Arc<Summary>]) -> String {
    let mut bytes = head.into_bytes();
    bytes.reserve(16 + objects.len() * 560);
    write_objects(&mut bytes, objects);
    bytes.extend_from_slice(b"]}");
    // serde_json writes UTF-8, and the head is a String.
    String::from_utf8(bytes).unwrap_or_default()
}

/// Objects' JSON separated by commas (one shard's part of a snapshot).
pub fn objects_json(objects: &[Arc<Summary>]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(objects.len() * 560);
    write_objects(&mut bytes, objects);
    bytes
}

fn write_objects(bytes: &mut Vec<u8>, objects: &[Arc<Summary>]) {
    for (i, summary) in objects.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        // Writing a summary to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *bytes, &**summary);
    }
}

#[cfg(test)]
mod tests {
    use fluxboard_model::Health;
    use fluxboard_model::api::{ConnectionState, Snapshot};

    use super::*;

    fn everything() -> Visibility {
        Arc::new(|_, _| true)
    }

    fn summary(ns: &str, name: &str, message: &str) -> Summary {
        Summary {
            cluster: "c".into(),
            group: "kustomize.toolkit.fluxcd.io".into(),
            kind: "Kustomization".into(),
            namespace: ns.into(),
            name: name.into(),
            health: Health::Ready,
            reason: "ReconciliationSucceeded".into(),
            message: message.into(),
            revision: "main@sha1:1".into(),
            generation: 1,
            observed_generation: 1,
            ..Summary::default()
        }
    }

    fn snapshot(sub: &Subscription) -> Snapshot {
        match &sub.start {
            Start::Snapshot { json, .. } => serde_json::from_str(json).unwrap(),
            Start::Resume(_) | Start::Gap => panic!("expected a snapshot"),
        }
    }

    #[test]
    fn a_resume_past_the_log_is_a_gap_not_a_snapshot() {
        let store = FleetStore::new(7, 16);
        for i in 0..40 {
            store.upsert(summary(&format!("o{i}"), "x", "ok"));
        }
        assert!(matches!(store.resume(EventId { epoch: 7, seq: 2 }, &everything()).start, Start::Gap));
        assert!(matches!(store.resume(EventId { epoch: 8, seq: 40 }, &everything()).start, Start::Gap));
        match store.resume(EventId { epoch: 7, seq: 38 }, &everything()).start {
            Start::Resume(deltas) => assert_eq!(deltas.iter().map(|d| d.seq).collect::<Vec<_>>(), [39, 40]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn objects_are_found_by_their_reference_and_forgotten_by_it() {
        let store = FleetStore::new(1, 16);
        let here = summary("a", "x", "ok");
        let there = Summary { cluster: "d".into(), ..summary("a", "x", "elsewhere") };
        store.upsert(here.clone());
        store.upsert(there.clone());
        assert_eq!(store.get(&ObjectRef::of(&here)).as_deref(), Some(&here));
        assert_eq!(store.get(&ObjectRef::of(&there)).as_deref(), Some(&there));
        store.upsert(summary("a", "x", "changed"));
        assert_eq!(store.get(&ObjectRef::of(&here)).unwrap().message, "changed");
        store.delete(&ObjectRef::of(&here));
        assert_eq!(store.get(&ObjectRef::of(&here)), None);
        assert_eq!(store.summaries().len(), 1);
        assert_eq!(store.counts().into_iter().collect::<Vec<_>>(), [(("d".to_owned(), "Ready"), 1)]);
    }

    #[test]
    fn unchanged_upserts_are_not_changes() {
        let store = FleetStore::new(1, 16);
        store.upsert(summary("a", "x", "ok"));
        store.upsert(summary("a", "x", "ok"));
        let sub = store.subscribe(Some(EventId { epoch: 1, seq: 0 }), &everything());
        let Start::Resume(deltas) = sub.start else { panic!("expected a resume") };
        assert_eq!(deltas.len(), 1);
    }

    #[test]
    fn resume_replays_only_what_was_missed_and_old_or_foreign_ids_get_a_snapshot() {
        let store = FleetStore::new(7, 16);
        for i in 0..5 {
            store.upsert(summary("a", &format!("o{i}"), "ok"));
        }
        let sub = store.subscribe(Some(EventId { epoch: 7, seq: 3 }), &everything());
        let Start::Resume(deltas) = sub.start else { panic!("expected a resume") };
        assert_eq!(deltas.iter().map(|d| d.seq).collect::<Vec<_>>(), vec![4, 5]);
        // Up to date: nothing to replay.
        let sub = store.subscribe(Some(EventId { epoch: 7, seq: 5 }), &everything());
        assert!(matches!(sub.start, Start::Resume(ref d) if d.is_empty()));
        // Another process's id, an id from the future, and one older than the log: snapshots.
        for id in [EventId { epoch: 8, seq: 3 }, EventId { epoch: 7, seq: 99 }] {
            assert_eq!(snapshot(&store.subscribe(Some(id), &everything())).objects.len(), 5);
        }
        for i in 5..40 {
            store.upsert(summary("a", &format!("o{i}"), "ok"));
        }
        assert_eq!(snapshot(&store.subscribe(Some(EventId { epoch: 7, seq: 2 }), &everything())).objects.len(), 40);
    }

    #[test]
    fn replacing_a_kind_deletes_what_is_gone_and_upserts_what_changed() {
        let store = FleetStore::new(1, 64);
        store.upsert(summary("a", "keep", "ok"));
        store.upsert(summary("a", "change", "ok"));
        store.upsert(summary("a", "gone", "ok"));
        let mut sub = store.subscribe(None, &everything());
        store.replace_kind(
            "c",
            "kustomize.toolkit.fluxcd.io",
            "Kustomization",
            vec![summary("a", "keep", "ok"), summary("a", "change", "new message"), summary("a", "new", "ok")],
        );
        let mut events = Vec::new();
        while let Ok(delta) = sub.changes.try_recv() {
            events.push((delta.event, delta.data.to_string()));
        }
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(events.iter().any(|(e, d)| *e == "delete" && d.contains("\"gone\"")));
        assert!(events.iter().any(|(e, d)| *e == "upsert" && d.contains("new message")));
        assert!(events.iter().any(|(e, d)| *e == "upsert" && d.contains("\"new\"")));
        assert_eq!(store.summaries().len(), 3);
    }

    #[test]
    fn snapshots_apply_visibility_and_include_clusters() {
        let store = FleetStore::new(1, 16);
        store.set_cluster(ClusterStatus {
            name: "c".into(),
            state: ConnectionState::Connected,
            message: String::new(),
            kinds: Vec::new(),
            server_version: None,
            flux_version: None,
        });
        store.upsert(summary("team-a", "x", "ok"));
        store.upsert(summary("team-b", "y", "ok"));
        let team_a: Visibility = Arc::new(|_, ns| ns.is_empty() || ns == "team-a");
        let snap = snapshot(&store.subscribe(None, &team_a));
        assert_eq!(snap.clusters.len(), 1);
        assert_eq!(snap.objects.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["x"]);
    }

    #[test]
    fn a_reader_that_falls_behind_lags_instead_of_buffering() {
        let store = FleetStore::new(1, 16);
        let mut sub = store.subscribe(None, &everything());
        for i in 0..100 {
            store.upsert(summary("a", &format!("o{i}"), "ok"));
        }
        assert!(matches!(sub.changes.try_recv(), Err(broadcast::error::TryRecvError::Lagged(_))));
    }
}
