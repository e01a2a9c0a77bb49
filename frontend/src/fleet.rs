//! The browser's copy of the fleet as plain data (no signals): every object by key and the
//! indexes the pages read, kept up to date one change at a time instead of rebuilt from every
//! object for every batch: the counts (per health, kind and cluster), the filter options (a
//! reference count per cluster, kind and namespace), the objects that may need attention, and
//! each object's lower-cased search text. Applying a batch says what it changed, so
//! `live.rs` notifies only what depends on it. Tested natively.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fluxboard_model::api::{ClusterStatus, ObjectRef, Snapshot};
use fluxboard_model::view::{changes_causes, key, search_text, severity};
use fluxboard_model::{Health, Summary};

/// One object in the store: its summary, its key, its search text, and a version that changes
/// with every update.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) version: u64,
    pub(crate) summary: Arc<Summary>,
    /// `cluster/group/kind/namespace/name`, shared with the views' orders.
    pub(crate) key: Arc<str>,
    /// [`search_text`] of the summary.
    pub(crate) search: Arc<str>,
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.version == other.version && Arc::ptr_eq(&self.summary, &other.summary)
    }
}

/// What the stream says, one event.
#[derive(Debug)]
pub(crate) enum Message {
    Snapshot(Snapshot),
    Upsert(Box<Summary>),
    Delete(ObjectRef),
    Cluster(ClusterStatus),
}

/// One object's change: how it was (`None`: new) and how it is (`None`: deleted).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) key: Arc<str>,
    pub(crate) old: Option<Row>,
    pub(crate) new: Option<Row>,
}

/// What applying one batch changed.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// A snapshot replaced everything (`changes` is then empty: views start over).
    pub(crate) reset: bool,
    pub(crate) changes: Vec<Change>,
    /// A change can change a root cause ([`changes_causes`]).
    pub(crate) causes: bool,
    /// A cluster, kind or namespace appeared or went (the filter options).
    pub(crate) options: bool,
    /// An object that may need attention came, went or changed.
    pub(crate) attention: bool,
    /// A cluster's status changed.
    pub(crate) clusters: bool,
    /// An object came or went, or changed its health or revision: what the wall's tiles and the
    /// release matrix read (a new message alone, the most common change, is not one).
    pub(crate) shape: bool,
}

/// Objects per cluster, and how many fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClusterCounts {
    pub(crate) total: usize,
    pub(crate) failing: usize,
    pub(crate) stalled: usize,
}

/// The counts the overview shows.
/// Values by name, kept sorted by name: a few hundred names at most (clusters, kinds,
/// namespaces), so a sorted vector is as quick as a tree and costs the bundle no tree code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tally<V>(Vec<(String, V)>);

impl<V> Default for Tally<V> {
    fn default() -> Self {
        Tally(Vec::new())
    }
}

impl<V: Default> Tally<V> {
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`, inserted as the default when absent.
    fn entry(&mut self, key: &str) -> &mut V {
        let i = self.find(key).unwrap_or_else(|i| {
            self.0.insert(i, (key.to_owned(), V::default()));
            i
        });
        &mut self.0[i].1
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    fn remove(&mut self, key: &str) {
        if let Ok(i) = self.find(key) {
            self.0.remove(i);
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// (name, value) in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl<V: Default> std::ops::Index<&str> for Tally<V> {
    type Output = V;
    fn index(&self, key: &str) -> &V {
        self.get(key).expect("a name in the tally")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) total: usize,
    /// By [`severity`] (0 the worst).
    pub(crate) by_health: [usize; 7],
    /// Per kind: Ready, Failing, Stalled, other (failing and stalled counted apart, as the health
    /// cards do).
    pub(crate) by_kind: Tally<[usize; 4]>,
    pub(crate) by_cluster: Tally<ClusterCounts>,
}

impl Counts {
    /// Counts `s` in (`by` 1) or out (`by` -1).
    fn count(&mut self, s: &Summary, by: isize) {
        let step = |n: &mut usize| *n = n.saturating_add_signed(by);
        step(&mut self.total);
        step(&mut self.by_health[usize::from(severity(s.health))]);
        let slot = match s.health {
            Health::Ready => 0,
            Health::Failing => 1,
            Health::Stalled => 2,
            _ => 3,
        };
        let kind = self.by_kind.entry(&s.kind);
        step(&mut kind[slot]);
        if kind.iter().all(|n| *n == 0) {
            self.by_kind.remove(&s.kind);
        }
        let cluster = self.by_cluster.entry(&s.cluster);
        step(&mut cluster.total);
        if s.health == Health::Failing {
            step(&mut cluster.failing);
        }
        if s.health == Health::Stalled {
            step(&mut cluster.stalled);
        }
        if cluster.total == 0 {
            self.by_cluster.remove(&s.cluster);
        }
    }
}

/// The values the list's filters offer, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FilterOptions {
    pub(crate) clusters: Vec<String>,
    pub(crate) kinds: Vec<String>,
    pub(crate) namespaces: Vec<String>,
}

/// Every object and cluster the stream told about, with the indexes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fleet {
    pub(crate) objects: HashMap<String, Row>,
    pub(crate) clusters: Vec<ClusterStatus>,
    pub(crate) counts: Counts,
    /// Keys of the objects whose health may need attention (failing, stalled, suspended,
    /// progressing: "stuck" depends on the clock, so the overview decides, and sorts them).
    pub(crate) attention: HashSet<Arc<str>>,
    /// How many objects each cluster, kind and namespace has.
    options: [Tally<usize>; 3],
    next_version: u64,
}

/// Whether an object of this health may need attention.
fn may_need_attention(health: Health) -> bool {
    matches!(health, Health::Failing | Health::Stalled | Health::Suspended | Health::Progressing)
}

impl Fleet {
    /// Applies a batch of messages in order and says what changed.
    pub(crate) fn apply(&mut self, batch: Vec<Message>) -> Applied {
        let mut out = Applied::default();
        for message in batch {
            match message {
                Message::Snapshot(snapshot) => self.reset(snapshot, &mut out),
                Message::Upsert(s) => self.upsert(*s, &mut out),
                Message::Delete(r) => self.delete(&r.key(), &mut out),
                Message::Cluster(status) => self.cluster(status, &mut out),
            }
        }
        out
    }

    /// The filter options now.
    pub(crate) fn options(&self) -> FilterOptions {
        let [clusters, kinds, namespaces] = &self.options;
        let keys = |m: &Tally<usize>| m.keys().cloned().collect();
        FilterOptions { clusters: keys(clusters), kinds: keys(kinds), namespaces: keys(namespaces) }
    }

    fn reset(&mut self, snapshot: Snapshot, out: &mut Applied) {
        let next_version = self.next_version;
        *self = Fleet { clusters: snapshot.clusters, next_version, ..Fleet::default() };
        self.objects.reserve(snapshot.objects.len());
        // Changes within a snapshot are not recorded: the views start over.
        let mut ignored = Applied { reset: true, ..Applied::default() };
        for s in snapshot.objects {
            self.upsert(s, &mut ignored);
        }
        *out = Applied {
            reset: true,
            causes: true,
            options: true,
            attention: true,
            clusters: true,
            shape: true,
            ..Applied::default()
        };
    }

    fn upsert(&mut self, s: Summary, out: &mut Applied) {
        self.next_version += 1;
        let k = key(&s);
        let old = self.objects.remove(&k);
        let key: Arc<str> = old.as_ref().map_or_else(|| Arc::from(k.as_str()), |r| r.key.clone());
        let row = Row { version: self.next_version, search: search_text(&s).into(), summary: Arc::new(s), key };
        // In before out, so an option the object keeps is not counted as gone and back.
        self.index(&row, out);
        if let Some(old) = &old {
            self.unindex(old, out);
        }
        self.attention.remove(&row.key);
        if may_need_attention(row.summary.health) {
            self.attention.insert(row.key.clone());
        }
        self.objects.insert(k, row.clone());
        Fleet::record(old, Some(row), out);
    }

    fn delete(&mut self, k: &str, out: &mut Applied) {
        let Some(old) = self.objects.remove(k) else { return };
        self.unindex(&old, out);
        self.attention.remove(&old.key);
        Fleet::record(Some(old), None, out);
    }

    fn cluster(&mut self, status: ClusterStatus, out: &mut Applied) {
        out.clusters = true;
        match self.clusters.iter_mut().find(|c| c.name == status.name) {
            Some(c) => *c = status,
            None => {
                self.clusters.push(status);
                fluxboard_model::order::sort_by(&mut self.clusters, &|a, b| a.name.cmp(&b.name));
            }
        }
    }

    fn record(old: Option<Row>, new: Option<Row>, out: &mut Applied) {
        let (o, n) = (old.as_ref().map(|r| &*r.summary), new.as_ref().map(|r| &*r.summary));
        out.causes |= changes_causes(o, n);
        out.shape |= match (o, n) {
            (Some(o), Some(n)) => o.health != n.health || o.revision != n.revision,
            _ => true,
        };
        out.attention |=
            o.is_some_and(|s| may_need_attention(s.health)) || n.is_some_and(|s| may_need_attention(s.health));
        if out.reset {
            return;
        }
        let key = new.as_ref().or(old.as_ref()).map(|r| r.key.clone()).expect("a change has a row");
        out.changes.push(Change { key, old, new });
    }

    fn index(&mut self, row: &Row, out: &mut Applied) {
        let s = &*row.summary;
        self.counts.count(s, 1);
        for (map, value) in self.options.iter_mut().zip([&s.cluster, &s.kind, &s.namespace]) {
            let n = map.entry(value);
            *n += 1;
            out.options |= *n == 1;
        }
    }

    fn unindex(&mut self, row: &Row, out: &mut Applied) {
        let s = &*row.summary;
        self.counts.count(s, -1);
        for (map, value) in self.options.iter_mut().zip([&s.cluster, &s.kind, &s.namespace]) {
            if let Some(n) = map.get_mut(value.as_str()) {
                *n -= 1;
                if *n == 0 {
                    map.remove(value.as_str());
                    out.options = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(cluster: &str, kind: &str, ns: &str, name: &str, health: Health) -> Summary {
        Summary {
            cluster: cluster.into(),
            group: "g".into(),
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            health,
            message: "Applied".into(),
            generation: 1,
            observed_generation: 1,
            ..Summary::default()
        }
    }

    fn snapshot(objects: Vec<Summary>) -> Message {
        Message::Snapshot(Snapshot { id: "1:1".into(), clusters: Vec::new(), objects })
    }

    /// The indexes as a rebuild from every object gives them.
    fn rebuilt(fleet: &Fleet) -> (Counts, FilterOptions, HashSet<Arc<str>>) {
        let mut again = Fleet::default();
        let objects = fleet.objects.values().map(|r| (*r.summary).clone()).collect();
        again.apply(vec![snapshot(objects)]);
        let options = again.options();
        (again.counts, options, again.attention)
    }

    #[test]
    fn indexes_follow_each_change_as_a_rebuild_would() {
        let mut fleet = Fleet::default();
        let a = summary("prod", "Kustomization", "team-a", "app", Health::Ready);
        let b = summary("prod", "HelmRelease", "team-b", "db", Health::Failing);
        let applied = fleet.apply(vec![snapshot(vec![a.clone(), b.clone()])]);
        assert!(applied.reset && applied.changes.is_empty());
        assert_eq!(fleet.counts.total, 2);
        assert_eq!(fleet.counts.by_cluster["prod"], ClusterCounts { total: 2, failing: 1, stalled: 0 });

        // A message-only change of a Ready object: no option, cause or attention change.
        let a2 = Summary { message: "Applied revision main@sha1:2".into(), ..a.clone() };
        let applied = fleet.apply(vec![Message::Upsert(Box::new(a2))]);
        assert!(!applied.options && !applied.causes && !applied.attention && !applied.reset && !applied.shape);
        assert_eq!(applied.changes.len(), 1);
        // A new revision changes the shape (the release matrix reads it), and nothing else here.
        let a3 = Summary { revision: "main@sha1:2".into(), ..fleet.objects[&key(&a)].summary.as_ref().clone() };
        let applied = fleet.apply(vec![Message::Upsert(Box::new(a3))]);
        assert!(applied.shape && !applied.options && !applied.attention);
        assert_eq!(fleet.objects[&key(&a)].search.as_ref(), search_text(&fleet.objects[&key(&a)].summary));

        // A new namespace, a fix, a deletion.
        let c = summary("stage", "Kustomization", "team-c", "web", Health::Stalled);
        let b2 = Summary { health: Health::Ready, ..b.clone() };
        let applied = fleet.apply(vec![
            Message::Upsert(Box::new(c)),
            Message::Upsert(Box::new(b2)),
            Message::Delete(ObjectRef::of(&a)),
        ]);
        assert!(applied.options && applied.causes && applied.attention && applied.shape);
        assert_eq!(applied.changes.len(), 3);
        assert!(applied.changes[2].new.is_none() && applied.changes[2].old.is_some());
        let (counts, options, attention) = rebuilt(&fleet);
        assert_eq!(fleet.counts, counts);
        assert_eq!(fleet.options(), options);
        assert_eq!(fleet.attention, attention);
        assert_eq!(fleet.options().namespaces, ["team-b", "team-c"]);
        assert_eq!(fleet.counts.by_kind["Kustomization"], [0, 0, 1, 0]);
        assert_eq!(fleet.attention.len(), 1);
    }

    #[test]
    fn a_cluster_status_is_replaced_or_added_in_name_order() {
        let mut fleet = Fleet::default();
        let status = |name: &str| ClusterStatus {
            name: name.into(),
            state: fluxboard_model::api::ConnectionState::Connected,
            message: String::new(),
            kinds: Vec::new(),
            server_version: None,
            flux_version: None,
        };
        let applied = fleet.apply(vec![Message::Cluster(status("b")), Message::Cluster(status("a"))]);
        assert!(applied.clusters);
        fleet.apply(vec![Message::Cluster(status("b"))]);
        assert_eq!(fleet.clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }
}
