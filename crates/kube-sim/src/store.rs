//! The object store: what etcd and the API server's registry do together.
//!
//! One cluster-wide, increasing resourceVersion; generation bumped only by spec changes; the
//! status subresource; finalizers and deletionTimestamp; a bounded history of changes that
//! watches replay from, with `410 Expired` below it; one broadcast channel per resource so
//! that thousands of watches cost little.
//!
//! Architecture Invariant: every write goes through [`Store::commit`], so every change gets a
//! resourceVersion, enters the history and reaches the watches, in resourceVersion order.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::{
    error::{ApiError, Result},
    object,
    resources::ResourceType,
};

/// How a change affected an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    /// The watch event type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    /// The resource's storage key (`group/plural`).
    pub resource: Arc<str>,
    pub kind: ChangeKind,
    /// The object after the change (for a deletion: as it was, with the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The object before the change, for modifications and deletions.
    pub previous: Option<Arc<Value>>,
}

impl Change {
    /// The object's namespace ("" when cluster-scoped).
    pub fn namespace(&self) -> &str {
        object::namespace(&self.object)
    }
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: for types with a status subresource, status changes are ignored.
    Main,
    /// The status subresource: only status changes are kept.
    Status,
}

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// How many changes the history keeps for watch replay.
    pub history: usize,
    /// Capacity of each per-resource broadcast channel; a watch that falls further behind ends.
    pub channel_capacity: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { history: 50_000, channel_capacity: 16_384 }
    }
}

/// What a delete requires of the object (`DeleteOptions.preconditions`).
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    pub resource_version: Option<String>,
    pub uid: Option<String>,
}

impl Preconditions {
    /// 409 Conflict naming the Kind, as `BeforeDelete` words it, when `current` differs.
    fn check(&self, rt: &ResourceType, current: &Value) -> Result<()> {
        let meta = |k: &str| current["metadata"][k].as_str().unwrap_or_default().to_owned();
        if let Some(uid) = &self.uid
            && *uid != meta("uid")
        {
            let why = format!(
                "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                meta("uid")
            );
            return Err(ApiError::precondition_failed(&rt.group, &rt.kind, object::name(current), &why));
        }
        if let Some(rv) = &self.resource_version
            && *rv != meta("resourceVersion")
        {
            let why = format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                meta("resourceVersion")
            );
            return Err(ApiError::precondition_failed(&rt.group, &rt.kind, object::name(current), &why));
        }
        Ok(())
    }
}

/// A page of a list.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    /// Set when more items follow.
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// A watch's start: what happened since the requested version, and the live feed after it.
#[derive(Debug)]
pub struct WatchStart {
    pub replay: Vec<Arc<Change>>,
    pub live: broadcast::Receiver<Arc<Change>>,
    pub current_rv: u64,
}

/// The store.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    config: StoreConfig,
}

/// (namespace, name); "" for cluster-scoped objects.
type ObjectKey = (String, String);

#[derive(Debug, Default)]
struct Inner {
    rv: u64,
    uid_counter: u64,
    objects: HashMap<Arc<str>, BTreeMap<ObjectKey, Arc<Value>>>,
    history: VecDeque<Arc<Change>>,
    /// Changes at or below this version are no longer in the history (the watch cache's window).
    compacted_rv: u64,
    /// The storage's compaction (etcd's): versions below it can no longer be listed exactly.
    storage_compacted_rv: u64,
    channels: HashMap<Arc<str>, broadcast::Sender<Arc<Change>>>,
}

/// Filters a list or a watch: namespace, label and field selectors.
pub trait Filter {
    fn matches(&self, obj: &Value) -> bool;
}

impl<F: Fn(&Value) -> bool> Filter for F {
    fn matches(&self, obj: &Value) -> bool {
        self(obj)
    }
}

impl Store {
    pub fn new(config: StoreConfig) -> Self {
        Self { inner: Mutex::new(Inner::default()), config }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (commits are applied at the end).
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// One object.
    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Result<Arc<Value>> {
        let inner = self.lock();
        inner
            .objects
            .get(rt.storage_key().as_str())
            .and_then(|m| m.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
    }

    /// Like [`Store::get`], without an error.
    pub fn try_get(&self, storage_key: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let inner = self.lock();
        inner.objects.get(storage_key).and_then(|m| m.get(&(namespace.to_owned(), name.to_owned()))).cloned()
    }

    /// Every object of a resource (all namespaces), in key order.
    pub fn all(&self, storage_key: &str) -> Vec<Arc<Value>> {
        let inner = self.lock();
        inner.objects.get(storage_key).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// A page of objects, in key order. `namespace` None lists all namespaces. The first page
    /// reads the current state (or the state at `at`, an exact list's version); the pages
    /// after it read the state at the first page's version, undoing what changed since from
    /// the history, as etcd serves a continued list from its revision.
    pub fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        filter: &dyn Filter,
        limit: Option<usize>,
        continue_token: Option<&str>,
        at: Option<u64>,
    ) -> Result<ListPage> {
        let (start, token_rv) = match continue_token {
            Some(token) => {
                let (rv, start) = decode_continue(token)?;
                (Some(start), Some(rv))
            }
            None => (None, None),
        };
        let inner = self.lock();
        if let Some(rv) = token_rv
            && rv < inner.compacted_rv.max(inner.storage_compacted_rv)
        {
            return Err(ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter.",
            ));
        }
        let list_rv = token_rv.or(at).unwrap_or(inner.rv).min(inner.rv);
        let storage_key = rt.storage_key();
        let undone = undo_since(&inner, &storage_key, list_rv);
        let empty = BTreeMap::new();
        let objects = inner.objects.get(storage_key.as_str()).unwrap_or(&empty);
        let lower = start.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let state = merged(
            objects.range((lower.clone(), std::ops::Bound::Unbounded)),
            undone.range((lower, std::ops::Bound::Unbounded)),
        );
        let mut items = Vec::new();
        let mut last_key = None;
        let mut remaining = 0usize;
        for (key, obj) in state {
            if namespace.is_some_and(|ns| ns != key.0) || !filter.matches(obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                remaining += 1;
                continue;
            }
            items.push(obj.clone());
            last_key = Some(key.clone());
        }
        let continue_token = if remaining > 0 { last_key.map(|k| encode_continue(list_rv, &k)) } else { None };
        Ok(ListPage {
            items,
            resource_version: list_rv,
            remaining: continue_token.as_ref().map(|_| remaining),
            continue_token,
        })
    }

    /// Creates an object. `obj` has its namespace and name set (generateName already resolved).
    pub fn create(&self, rt: &ResourceType, obj: Value) -> Result<Arc<Value>> {
        self.create_as(rt, obj, false)
    }

    /// [`Store::create`], or with `dry_run` (`dryRun=All`) every check and default applied and
    /// the object returned, nothing stored.
    pub(crate) fn create_as(&self, rt: &ResourceType, mut obj: Value, dry_run: bool) -> Result<Arc<Value>> {
        let namespace = object::namespace(&obj).to_owned();
        let name = object::name(&obj).to_owned();
        let mut inner = self.lock();
        if rt.namespaced && !namespace_exists(&inner, &namespace) {
            return Err(ApiError::not_found("", "namespaces", &namespace));
        }
        let key = (namespace, name.clone());
        if inner.objects.get(rt.storage_key().as_str()).is_some_and(|m| m.contains_key(&key)) {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        inner.uid_counter += 1;
        let uid = uid(inner.uid_counter);
        let meta = object::meta_mut(&mut obj);
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
        if tracks_generation(rt) {
            meta.insert("generation".into(), json!(1));
        }
        meta.remove("deletionTimestamp");
        if rt.has_status {
            // As on a real server, create ignores status when it is a subresource.
            obj.as_object_mut().map(|o| o.remove("status"));
        }
        // CRD defaulting and pruning (structural schemas).
        if let Some(default) = &rt.status_default {
            obj["status"] = default.clone();
        }
        rt.pruning.prune(&mut obj);
        // The registry strategies' defaults for a new object.
        match rt.kind.as_str() {
            "Namespace" => obj["status"] = json!({"phase": "Active"}),
            "Pod" => obj["status"] = json!({"phase": "Pending"}),
            _ => {}
        }
        if dry_run {
            return Ok(Arc::new(obj));
        }
        Ok(self.commit(&mut inner, rt, key, ChangeKind::Added, obj, None))
    }

    /// Reads the current object, lets `mutate` change a copy, and commits it as an update of
    /// `part`, atomically. `mutate` returning an error changes nothing. A change that changes
    /// nothing is not committed (no new resourceVersion), as on a real API server.
    pub fn update_with(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        part: Part,
        mutate: impl FnOnce(&mut Value) -> Result<()>,
    ) -> Result<Arc<Value>> {
        self.update_with_as(rt, namespace, name, part, false, mutate)
    }

    /// [`Store::update_with`], or with `dry_run` the updated object returned, nothing stored.
    pub(crate) fn update_with_as(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        part: Part,
        dry_run: bool,
        mutate: impl FnOnce(&mut Value) -> Result<()>,
    ) -> Result<Arc<Value>> {
        let mut inner = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        let current = inner
            .objects
            .get(rt.storage_key().as_str())
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        let mut next = (*current).clone();
        mutate(&mut next)?;
        // Pruning before the generation is computed: a pruned field changes nothing.
        rt.pruning.prune(&mut next);
        let next = finish_update(rt, &current, next, part)?;
        if next == *current {
            return Ok(current);
        }
        if dry_run {
            return Ok(Arc::new(next));
        }
        let deleting = next["metadata"].get("deletionTimestamp").is_some();
        if deleting && object::finalizers(&next).is_empty() {
            return Ok(self.commit(&mut inner, rt, key, ChangeKind::Deleted, next, Some(current)));
        }
        Ok(self.commit(&mut inner, rt, key, ChangeKind::Modified, next, Some(current)))
    }

    /// Replaces an object (PUT). A resourceVersion in `obj` must match the stored one.
    pub fn update(&self, rt: &ResourceType, namespace: &str, name: &str, obj: Value, part: Part) -> Result<Arc<Value>> {
        self.update_as(rt, namespace, name, obj, part, false)
    }

    /// [`Store::update`], or with `dry_run` the replaced object returned, nothing stored.
    pub(crate) fn update_as(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        obj: Value,
        part: Part,
        dry_run: bool,
    ) -> Result<Arc<Value>> {
        let wanted_rv = object::resource_version(&obj).map(str::to_owned);
        let given_name = object::name(&obj);
        if !given_name.is_empty() && given_name != name {
            // Checked before the object is read, as the update handler does.
            return Err(ApiError::bad_request(format!(
                "the name of the object ({given_name}) does not match the name on the URL ({name})"
            )));
        }
        self.update_with_as(rt, namespace, name, part, dry_run, |current| {
            if let Some(rv) = wanted_rv {
                parse_rv(&rv)?;
                if Some(rv.as_str()) != object::resource_version(current) {
                    return Err(ApiError::conflict(&rt.group, &rt.plural, name));
                }
            }
            *current = obj;
            Ok(())
        })
    }

    /// Deletes an object; with finalizers it is only marked (deletionTimestamp) until they are gone.
    pub fn delete(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        precondition_rv: Option<&str>,
    ) -> Result<Arc<Value>> {
        let preconditions = Preconditions { resource_version: precondition_rv.map(str::to_owned), uid: None };
        self.delete_checked(rt, namespace, name, &preconditions)
    }

    /// [`Store::delete`] with `DeleteOptions.preconditions` (uid, resourceVersion), refused as
    /// the registry's `BeforeDelete` refuses them.
    pub fn delete_checked(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        preconditions: &Preconditions,
    ) -> Result<Arc<Value>> {
        let mut inner = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        let current = inner
            .objects
            .get(rt.storage_key().as_str())
            .and_then(|m| m.get(&key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        preconditions.check(rt, &current)?;
        if !object::finalizers(&current).is_empty() {
            if current["metadata"].get("deletionTimestamp").is_some() {
                return Ok(current);
            }
            let mut next = (*current).clone();
            let meta = object::meta_mut(&mut next);
            meta.insert("deletionTimestamp".into(), json!(object::now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            return Ok(self.commit(&mut inner, rt, key, ChangeKind::Modified, next, Some(current)));
        }
        if rt.kind == "Namespace" {
            delete_namespace_contents(self, &mut inner, name);
        }
        let next = (*current).clone();
        Ok(self.commit(&mut inner, rt, key, ChangeKind::Deleted, next, Some(current)))
    }

    /// Starts a watch of one resource from `from_rv` (exclusive): the changes since then from
    /// the history and a live receiver, with no gap between them. `410 Expired` when the
    /// history no longer reaches back that far.
    pub fn watch(&self, storage_key: &str, from_rv: u64) -> Result<WatchStart> {
        let mut inner = self.lock();
        if from_rv < inner.compacted_rv {
            return Err(ApiError::expired(format!("too old resource version: {from_rv} ({})", inner.compacted_rv + 1)));
        }
        let start = inner.history.partition_point(|c| c.rv <= from_rv);
        let replay = inner.history.range(start..).filter(|c| &*c.resource == storage_key).cloned().collect();
        let capacity = self.config.channel_capacity;
        let live = channel(&mut inner, storage_key, capacity).subscribe();
        Ok(WatchStart { replay, live, current_rv: inner.rv })
    }

    /// A watch from "now" that first sees every current object as ADDED (resourceVersion unset or "0").
    pub fn watch_with_initial(&self, storage_key: &str) -> (Vec<Arc<Value>>, WatchStart) {
        let mut inner = self.lock();
        let objects = inner.objects.get(storage_key).map(|m| m.values().cloned().collect()).unwrap_or_default();
        let capacity = self.config.channel_capacity;
        let live = channel(&mut inner, storage_key, capacity).subscribe();
        let current_rv = inner.rv;
        (objects, WatchStart { replay: Vec::new(), live, current_rv })
    }

    /// Subscribes to every change of one resource from now on (for in-process controllers).
    pub fn subscribe(&self, storage_key: &str) -> broadcast::Receiver<Arc<Change>> {
        let mut inner = self.lock();
        let capacity = self.config.channel_capacity;
        channel(&mut inner, storage_key, capacity).subscribe()
    }

    /// Forgets the whole history: every watch from an earlier version gets `410 Expired` (an
    /// etcd compaction the watch cache has seen, as after an API server restart).
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.compacted_rv = inner.rv;
        inner.storage_compacted_rv = inner.rv;
        inner.history.clear();
    }

    /// Compacts the storage only, as an etcd compaction does under a running API server: the
    /// watch history still serves its window, while an exact list or a continue token below
    /// the compaction gets `410 Expired`.
    pub fn compact_storage(&self) {
        let mut inner = self.lock();
        inner.storage_compacted_rv = inner.rv;
    }

    /// Checks that `rv` can be listed exactly (`resourceVersionMatch=Exact`): `410 Expired`
    /// below the storage's compaction (or the history's start, whose changes undo to it).
    pub fn check_exact(&self, rv: u64) -> Result<()> {
        let inner = self.lock();
        if rv < inner.storage_compacted_rv.max(inner.compacted_rv) {
            return Err(ApiError::expired(format!(
                "The resourceVersion for the provided list is too old: {rv} ({})",
                inner.storage_compacted_rv.max(inner.compacted_rv)
            )));
        }
        Ok(())
    }

    /// Ends every live watch feed (their receivers see the channel closed).
    pub fn close_watches(&self) {
        self.lock().channels.clear();
    }

    fn commit(
        &self,
        inner: &mut Inner,
        rt: &ResourceType,
        key: (String, String),
        kind: ChangeKind,
        mut obj: Value,
        previous: Option<Arc<Value>>,
    ) -> Arc<Value> {
        inner.rv += 1;
        let rv = inner.rv;
        object::meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let obj = Arc::new(obj);
        let storage_key: Arc<str> = Arc::from(rt.storage_key());
        let objects = inner.objects.entry(storage_key.clone()).or_default();
        match kind {
            ChangeKind::Deleted => objects.remove(&key),
            ChangeKind::Added | ChangeKind::Modified => objects.insert(key, obj.clone()),
        };
        let change = Arc::new(Change { rv, resource: storage_key.clone(), kind, object: obj.clone(), previous });
        if inner.history.len() >= self.config.history
            && let Some(dropped) = inner.history.pop_front()
        {
            inner.compacted_rv = dropped.rv;
        }
        inner.history.push_back(change.clone());
        if let Some(sender) = inner.channels.get(&storage_key) {
            // No receiver is fine: nobody watches this resource.
            let _ = sender.send(change);
        }
        obj
    }
}

/// What the changes to `storage_key` after `rv` replaced: each changed object's key and its
/// state at `rv` (None: it did not exist then). Walked newest first, so the oldest change's
/// prior state is the one kept.
fn undo_since(inner: &Inner, storage_key: &str, rv: u64) -> BTreeMap<ObjectKey, Option<Arc<Value>>> {
    let mut at = BTreeMap::new();
    let changes = inner.history.iter().rev().take_while(|c| c.rv > rv).filter(|c| &*c.resource == storage_key);
    for change in changes {
        let key = (object::namespace(&change.object).to_owned(), object::name(&change.object).to_owned());
        let before = match change.kind {
            ChangeKind::Added => None,
            ChangeKind::Modified | ChangeKind::Deleted => change.previous.clone(),
        };
        at.insert(key, before);
    }
    at
}

/// The current objects with `undone` laid over them, in key order: an undone key shows its
/// earlier state, or nothing when it did not exist then.
fn merged<'a>(
    current: impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)>,
    undone: impl Iterator<Item = (&'a ObjectKey, &'a Option<Arc<Value>>)>,
) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)> {
    let mut current = current.peekable();
    let mut undone = undone.peekable();
    std::iter::from_fn(move || {
        loop {
            let take_current = match (current.peek(), undone.peek()) {
                (None, None) => return None,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((a, _)), Some((b, _))) => a < b,
            };
            if take_current {
                return current.next();
            }
            let (key, before) = undone.next()?;
            if current.peek().is_some_and(|(k, _)| *k == key) {
                current.next();
            }
            if let Some(obj) = before {
                return Some((key, obj));
            }
        }
    })
}

fn channel<'a>(inner: &'a mut Inner, storage_key: &str, capacity: usize) -> &'a broadcast::Sender<Arc<Change>> {
    inner.channels.entry(Arc::from(storage_key)).or_insert_with(|| broadcast::channel(capacity).0)
}

fn namespace_exists(inner: &Inner, namespace: &str) -> bool {
    inner
        .objects
        .get("/namespaces")
        .and_then(|m| m.get(&(String::new(), namespace.to_owned())))
        .is_some_and(|ns| ns["metadata"].get("deletionTimestamp").is_none())
}

fn delete_namespace_contents(store: &Store, inner: &mut Inner, namespace: &str) {
    let mut doomed = Vec::new();
    for (resource, objects) in &inner.objects {
        for (key, obj) in objects {
            if key.0 == namespace {
                doomed.push((resource.clone(), key.clone(), obj.clone()));
            }
        }
    }
    for (resource, key, obj) in doomed {
        let (group, plural) = resource.split_once('/').unwrap_or(("", &resource));
        let rt = ResourceType {
            group: group.to_owned(),
            version: String::new(),
            kind: object::kind(&obj).to_owned(),
            plural: plural.to_owned(),
            singular: String::new(),
            namespaced: true,
            short_names: Vec::new(),
            categories: Vec::new(),
            has_status: false,
            storage: crate::resources::Storage::Stored,
            printer_columns: None,
            preferred: true,
            pruning: crate::schema::Pruning::None,
            status_default: None,
            openapi_schema: None,
        };
        store.commit(inner, &rt, key, ChangeKind::Deleted, (*obj).clone(), Some(obj));
    }
}

/// Applies the API server's rules to an update: immutable metadata kept, status or main part
/// kept depending on `part`, generation bumped when the spec changed.
fn finish_update(rt: &ResourceType, current: &Value, mut next: Value, part: Part) -> Result<Value> {
    if !next.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    }
    let name = object::name(current);
    let next_name = object::name(&next);
    if !next_name.is_empty() && next_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({next_name}) does not match the name on the URL ({name})"
        )));
    }
    let next_ns = object::namespace(&next);
    if !next_ns.is_empty() && next_ns != object::namespace(current) {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({next_ns}) does not match the namespace on the URL ({})",
            object::namespace(current)
        )));
    }
    match part {
        Part::Status => {
            let status = next.get("status").cloned();
            next = current.clone();
            set_or_remove(&mut next, "status", status);
        }
        Part::Main if rt.has_status => {
            set_or_remove(&mut next, "status", current.get("status").cloned());
        }
        Part::Main => {}
    }
    next["apiVersion"] = current["apiVersion"].clone();
    next["kind"] = current["kind"].clone();
    let current_meta = current["metadata"].as_object().cloned().unwrap_or_default();
    let meta = object::meta_mut(&mut next);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
    ] {
        match current_meta.get(field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    if tracks_generation(rt) && spec_of(current) != spec_of(&next) {
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
        object::meta_mut(&mut next).insert("generation".into(), json!(generation + 1));
    }
    Ok(next)
}

fn set_or_remove(obj: &mut Value, key: &str, value: Option<Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => map.insert(key.to_owned(), v),
            None => map.remove(key),
        };
    }
}

/// Whether the kind's registry strategy keeps `metadata.generation`: custom resources and the
/// workloads do; ConfigMaps, Secrets, Services, ServiceAccounts, Events, Namespaces and the
/// RBAC kinds have none on a real API server.
fn tracks_generation(rt: &ResourceType) -> bool {
    let without =
        matches!(rt.kind.as_str(), "ConfigMap" | "Secret" | "Service" | "ServiceAccount" | "Event" | "Namespace")
            || rt.group == "rbac.authorization.k8s.io";
    !without
}

/// Everything but metadata and status: what a generation tracks.
fn spec_of(obj: &Value) -> Map<String, Value> {
    let mut map = obj.as_object().cloned().unwrap_or_default();
    for key in ["metadata", "status", "apiVersion", "kind"] {
        map.remove(key);
    }
    map
}

/// Parses a resourceVersion; a malformed one is a 400, as on a real server.
pub fn parse_rv(rv: &str) -> Result<u64> {
    rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("Invalid value: {rv:?}: invalid resource version")))
}

fn uid(n: u64) -> String {
    let hex = format!("{n:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn encode_continue(rv: u64, key: &(String, String)) -> String {
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{}/{}", key.0, key.1)}).to_string();
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<(u64, (String, String))> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(bad());
    }
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok()).collect();
    let value: Value = bytes.and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(bad)?;
    let rv = value["rv"].as_u64().ok_or_else(bad)?;
    let start = value["start"].as_str().ok_or_else(bad)?;
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((rv, (ns.to_owned(), name.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{FluxRelease, Registry};

    fn setup() -> (Store, Registry) {
        let store = Store::new(StoreConfig { history: 100, channel_capacity: 64 });
        let registry = Registry::new(&FluxRelease::Latest);
        let ns = registry.by_kind("", "Namespace").unwrap();
        store.create(ns, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})).unwrap();
        (store, registry)
    }

    fn ks(name: &str) -> Value {
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": name, "namespace": "apps"}, "spec": {"interval": "10m", "path": "./"}})
    }

    #[test]
    fn generation_bumps_on_spec_changes_only() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let created = store.create(rt, ks("a")).unwrap();
        assert_eq!(created["metadata"]["generation"], 1);
        let labelled = store
            .update_with(rt, "apps", "a", Part::Main, |o| {
                o["metadata"]["labels"] = json!({"x": "y"});
                Ok(())
            })
            .unwrap();
        assert_eq!(labelled["metadata"]["generation"], 1);
        assert_ne!(labelled["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
        let status = store
            .update_with(rt, "apps", "a", Part::Status, |o| {
                o["status"] = json!({"observedGeneration": 1});
                Ok(())
            })
            .unwrap();
        assert_eq!(status["metadata"]["generation"], 1);
        assert_eq!(status["status"]["observedGeneration"], 1);
        let spec = store
            .update_with(rt, "apps", "a", Part::Main, |o| {
                o["spec"]["suspend"] = json!(true);
                o["status"] = json!({"ignored": true});
                Ok(())
            })
            .unwrap();
        assert_eq!(spec["metadata"]["generation"], 2);
        assert_eq!(spec["status"], json!({"observedGeneration": 1}), "status kept on main writes");
    }

    #[test]
    fn a_no_op_update_keeps_the_resource_version() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let created = store.create(rt, ks("a")).unwrap();
        let same = store.update_with(rt, "apps", "a", Part::Main, |_| Ok(())).unwrap();
        assert_eq!(same["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    }

    #[test]
    fn a_stale_resource_version_conflicts_and_changes_nothing() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let created = store.create(rt, ks("a")).unwrap();
        let mut stale = (*created).clone();
        stale["metadata"]["resourceVersion"] = json!("1");
        stale["spec"]["path"] = json!("./other");
        let err = store.update(rt, "apps", "a", stale, Part::Main).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(store.get(rt, "apps", "a").unwrap(), created);
    }

    #[test]
    fn creating_twice_or_in_a_missing_namespace_fails() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        store.create(rt, ks("a")).unwrap();
        assert_eq!(store.create(rt, ks("a")).unwrap_err().reason, "AlreadyExists");
        let mut elsewhere = ks("b");
        elsewhere["metadata"]["namespace"] = json!("nope");
        let err = store.create(rt, elsewhere).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (404, "namespaces \"nope\" not found"));
    }

    #[test]
    fn finalizers_hold_a_deletion_until_removed() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let mut obj = ks("a");
        obj["metadata"]["finalizers"] = json!(["finalizers.fluxcd.io"]);
        store.create(rt, obj).unwrap();
        let marked = store.delete(rt, "apps", "a", None).unwrap();
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        assert!(store.get(rt, "apps", "a").is_ok());
        store
            .update_with(rt, "apps", "a", Part::Main, |o| {
                o["metadata"]["finalizers"] = json!([]);
                Ok(())
            })
            .unwrap();
        assert_eq!(store.get(rt, "apps", "a").unwrap_err().code, 404);
    }

    #[test]
    fn lists_page_with_continue_tokens() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        for name in ["a", "b", "c"] {
            store.create(rt, ks(name)).unwrap();
        }
        let all = |_: &Value| true;
        let first = store.list(rt, None, &all, Some(2), None, None).unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.remaining, Some(1));
        let token = first.continue_token.unwrap();
        let second = store.list(rt, Some("apps"), &all, Some(2), Some(&token), None).unwrap();
        assert_eq!(second.items.len(), 1);
        assert_eq!(second.items[0]["metadata"]["name"], "c");
        assert!(second.continue_token.is_none());
        assert_eq!(second.resource_version, first.resource_version);
        assert_eq!(store.list(rt, None, &all, None, Some("zz"), None).unwrap_err().code, 400);
    }

    #[test]
    fn later_pages_and_exact_lists_read_the_state_at_their_version() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        for name in ["a", "b", "c", "d"] {
            store.create(rt, ks(name)).unwrap();
        }
        let all = |_: &Value| true;
        let names = |page: &ListPage| page.items.iter().map(|o| object::name(o).to_owned()).collect::<Vec<_>>();
        let first = store.list(rt, None, &all, Some(2), None, None).unwrap();
        let at = first.resource_version;
        // After the first page: c changes, d goes, e comes.
        store
            .update_with(rt, "apps", "c", Part::Main, |o| {
                o["spec"]["path"] = json!("./changed");
                Ok(())
            })
            .unwrap();
        store.delete(rt, "apps", "d", None).unwrap();
        store.create(rt, ks("e")).unwrap();
        let second = store.list(rt, None, &all, None, first.continue_token.as_deref(), None).unwrap();
        assert_eq!(names(&second), ["c", "d"], "as at the first page's version");
        assert_ne!(second.items[0]["spec"]["path"], "./changed");
        assert_eq!(second.resource_version, at);
        let exact = store.list(rt, None, &all, None, None, Some(at)).unwrap();
        assert_eq!(names(&exact), ["a", "b", "c", "d"]);
        let now = store.list(rt, None, &all, None, None, None).unwrap();
        assert_eq!(names(&now), ["a", "b", "c", "e"]);
        assert_eq!(now.items[2]["spec"]["path"], "./changed");
    }

    #[test]
    fn watches_replay_history_and_expire_below_it() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let before = store.resource_version();
        store.create(rt, ks("a")).unwrap();
        store.create(rt, ks("b")).unwrap();
        let start = store.watch(&rt.storage_key(), before).unwrap();
        let names: Vec<_> = start.replay.iter().map(|c| object::name(&c.object).to_owned()).collect();
        assert_eq!(names, vec!["a", "b"]);
        store.compact();
        let err = store.watch(&rt.storage_key(), before).unwrap_err();
        assert_eq!((err.code, err.reason), (410, "Expired"));
        assert!(store.watch(&rt.storage_key(), store.resource_version()).is_ok());
    }

    #[tokio::test]
    async fn live_watches_see_changes_in_order() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let mut start = store.watch(&rt.storage_key(), store.resource_version()).unwrap();
        store.create(rt, ks("a")).unwrap();
        store.delete(rt, "apps", "a", None).unwrap();
        let added = start.live.recv().await.unwrap();
        let deleted = start.live.recv().await.unwrap();
        assert_eq!((added.kind, deleted.kind), (ChangeKind::Added, ChangeKind::Deleted));
        assert!(deleted.rv > added.rv);
    }

    #[test]
    fn deleting_a_namespace_deletes_what_is_in_it() {
        let (store, registry) = setup();
        let rt = registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        store.create(rt, ks("a")).unwrap();
        let ns = registry.by_kind("", "Namespace").unwrap();
        store.delete(ns, "", "apps", None).unwrap();
        assert!(store.all(&rt.storage_key()).is_empty());
    }
}
