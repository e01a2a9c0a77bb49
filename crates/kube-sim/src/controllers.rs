//! The runtime of the emulated Flux controllers: watches, a work queue, timing, controller
//! Pods that must be running, and writing the pure reconcile results of [`crate::flux`] into
//! the cluster (status, applied and pruned objects, Events).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::{sync::broadcast::error::RecvError, time::Instant};

use crate::{
    cluster::Cluster,
    object,
    queue::WorkQueue,
    reconcile::{self as flux, Decision, EventSpec, EventType, FluxKind, ObjRef, World},
    store::{Change, ChangeKind},
    workloads,
};

/// The namespace the Flux controllers run in.
pub(crate) const FLUX_NAMESPACE: &str = "flux-system";
/// The finalizer the Flux controllers put on what they reconcile.
pub(crate) const FINALIZER: &str = "finalizers.fluxcd.io";
/// Events kept per object; older ones are deleted (a real cluster expires them after an hour).
const EVENTS_PER_OBJECT: usize = 30;
/// How many reconciliations run at once.
const CONCURRENCY: usize = 16;

/// How fast the emulated world moves.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// How long a reconciliation works between `Reconciling` and its result.
    pub reconcile: Duration,
    /// How long a new Pod takes to become ready.
    pub pod_ready: Duration,
    /// Factor applied to `spec.interval` for periodic reconciliation; None: no periodic runs.
    pub interval_scale: Option<f64>,
    /// Factor applied to retry and dependency waits (30 s and `spec.retryInterval`).
    pub retry_scale: f64,
    /// When true, nothing is reconciled until [`Controllers::run_until_idle`] is called.
    pub manual: bool,
}

impl Timing {
    /// As fast as possible: for tests and benchmarks.
    pub fn instant() -> Self {
        Self {
            reconcile: Duration::ZERO,
            pod_ready: Duration::ZERO,
            interval_scale: None,
            retry_scale: 0.05,
            manual: false,
        }
    }

    /// Human-visible: about a second per reconciliation, intervals a tenth of their value.
    pub fn demo() -> Self {
        Self {
            reconcile: Duration::from_millis(1200),
            pod_ready: Duration::from_secs(3),
            interval_scale: Some(0.1),
            retry_scale: 0.2,
            manual: false,
        }
    }

    /// Driven step by step by the test.
    pub fn manual() -> Self {
        Self { manual: true, ..Self::instant() }
    }
}

/// (source kind, namespace, name, normalized path).
type ContentKey = (String, String, String, String);

/// The emulated content of sources: what a source holds at a path, and the Git servers kube-sim
/// stands in for.
#[derive(Debug, Default)]
pub struct Content {
    manifests: RwLock<HashMap<ContentKey, Vec<Value>>>,
    /// Git server base URLs (no trailing `/`) and the repositories each holds.
    git_servers: RwLock<HashMap<String, HashSet<String>>>,
}

impl Content {
    /// Says that the Git server at `base` (`http://127.0.0.1:8080/git`) holds exactly
    /// `repositories` (paths under it: `fleet.git`): a GitRepository whose URL is under `base`
    /// but names none of them fails as source-controller fails when the server answers 404
    /// (`repository not found`). URLs under no such server are served from the emulated content.
    pub fn serve_git(&self, base: &str, repositories: &[&str]) {
        let repositories = repositories.iter().map(|r| r.trim_matches('/').to_owned()).collect();
        let mut servers = self.git_servers.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        servers.insert(base.trim_end_matches('/').to_owned(), repositories);
    }

    /// Whether `url` is under a Git server of [`Content::serve_git`] that does not hold it.
    fn repository_missing(&self, url: &str) -> bool {
        let servers = self.git_servers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        servers.iter().any(|(base, repositories)| {
            url.strip_prefix(base.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|repository| !repositories.contains(repository.trim_end_matches('/')))
        })
    }

    /// Sets what the source `kind/namespace/name` holds at `path`.
    pub fn set(&self, kind: &str, namespace: &str, name: &str, path: &str, objects: Vec<Value>) {
        let key = (kind.to_owned(), namespace.to_owned(), name.to_owned(), normalize(path));
        self.manifests.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, objects);
    }

    fn get(&self, source: &ObjRef, path: &str) -> Option<Vec<Value>> {
        let key = (source.kind.clone(), source.namespace.clone(), source.name.clone(), normalize(path));
        let manifests = self.manifests.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match manifests.get(&key) {
            Some(objects) => Some(objects.clone()),
            // A source nobody described holds an empty directory at its root.
            None if key.3.is_empty() => Some(Vec::new()),
            None => None,
        }
    }
}

fn normalize(path: &str) -> String {
    path.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/').to_owned()
}

type Key = (&'static str, &'static str, String, String);

fn key_of(kind: FluxKind, obj: &Value) -> Key {
    (kind.group(), kind.kind(), object::namespace(obj).to_owned(), object::name(obj).to_owned())
}

/// The emulated Flux controllers.
#[derive(Debug)]
pub struct Controllers {
    cluster: Cluster,
    content: Arc<Content>,
    timing: Timing,
    queue: WorkQueue<Key>,
    state: Mutex<State>,
    semaphore: Arc<tokio::sync::Semaphore>,
}

#[derive(Debug, Default)]
struct State {
    /// Which controller Deployments are running.
    running: HashMap<String, bool>,
    /// Who consumes what: (group, kind, namespace, name) -> consumers.
    dependents: HashMap<(String, String, String, String), HashSet<Key>>,
    depends_on: HashMap<Key, Vec<(String, String, String, String)>>,
    /// Keys queued by a requeue, a dependency or a controller start: they reconcile even
    /// without a new generation or request, as a real controller's requeue does.
    forced: HashSet<Key>,
    /// The generation last seen per object: the informer cache the controllers' predicates
    /// compare with (GenerationChangedPredicate).
    generations: HashMap<Key, Value>,
    /// Events recorded per involved object uid, oldest first.
    events: HashMap<String, VecDeque<(String, String)>>,
}

impl Controllers {
    pub(crate) fn new(cluster: Cluster, content: Arc<Content>, timing: Timing) -> Arc<Self> {
        Arc::new(Self {
            cluster,
            content,
            timing,
            queue: WorkQueue::new(),
            state: Mutex::new(State::default()),
            semaphore: Arc::new(tokio::sync::Semaphore::new(CONCURRENCY)),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Watches the Flux kinds and the controller Deployments and reconciles, until aborted.
    pub(crate) async fn run(self: Arc<Self>) {
        let kinds: Vec<(FluxKind, String)> = FluxKind::ALL
            .iter()
            .filter_map(|k| self.cluster.registry.by_kind(k.group(), k.kind()).map(|rt| (*k, rt.storage_key())))
            .collect();
        // Aborting `run` drops the set, which aborts the watch tasks too.
        let mut watchers = tokio::task::JoinSet::new();
        for (kind, storage_key) in kinds {
            let receiver = self.cluster.store.subscribe(&storage_key);
            for obj in self.cluster.store.all(&storage_key) {
                self.observe(kind, None, &obj);
            }
            watchers.spawn(self.clone().watch_kind(kind, storage_key, receiver));
        }
        let deployments = self.cluster.store.subscribe("apps/deployments");
        for d in self.cluster.store.all("apps/deployments") {
            self.observe_deployment(&d);
        }
        watchers.spawn(self.clone().watch_deployments(deployments));
        if !self.timing.manual {
            self.clone().work().await;
        }
        watchers.join_all().await;
    }

    async fn work(self: Arc<Self>) {
        // Reconciliations in flight end with `run`.
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            let key = self.queue.take().await;
            let this = self.clone();
            let Ok(permit) = this.semaphore.clone().acquire_owned().await else { return };
            running.spawn(async move {
                this.process(&key).await;
                this.queue.done(&key);
                drop(permit);
            });
        }
    }

    /// In manual timing: processes everything due until nothing is, and returns how many
    /// reconciliations ran. Changes made by other tasks (Pods becoming ready) are not awaited.
    pub async fn run_until_idle(&self) -> usize {
        let mut n = 0;
        for _ in 0..10_000 {
            // Let the watch tasks observe what the last step wrote.
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            let Some(key) = self.queue.try_take() else {
                if self.queue.is_idle() {
                    break;
                }
                continue;
            };
            self.process(&key).await;
            self.queue.done(&key);
            n += 1;
        }
        n
    }

    async fn watch_kind(
        self: Arc<Self>,
        kind: FluxKind,
        storage_key: String,
        mut receiver: tokio::sync::broadcast::Receiver<Arc<Change>>,
    ) {
        loop {
            match receiver.recv().await {
                Ok(change) => self.observe_change(kind, &change),
                Err(RecvError::Lagged(_)) => {
                    for obj in self.cluster.store.all(&storage_key) {
                        self.observe(kind, None, &obj);
                    }
                }
                Err(RecvError::Closed) => {
                    // The watch channels were reset (a fault): subscribe again and resync.
                    receiver = self.cluster.store.subscribe(&storage_key);
                    for obj in self.cluster.store.all(&storage_key) {
                        self.observe(kind, None, &obj);
                    }
                }
            }
        }
    }

    async fn watch_deployments(self: Arc<Self>, mut receiver: tokio::sync::broadcast::Receiver<Arc<Change>>) {
        loop {
            match receiver.recv().await {
                Ok(change) if change.kind == ChangeKind::Deleted => {
                    if object::namespace(&change.object) == FLUX_NAMESPACE {
                        self.state().running.insert(object::name(&change.object).to_owned(), false);
                    }
                }
                Ok(change) => self.observe_deployment(&change.object),
                Err(RecvError::Lagged(_)) => {
                    self.cluster.store.all("apps/deployments").iter().for_each(|d| self.observe_deployment(d))
                }
                Err(RecvError::Closed) => receiver = self.cluster.store.subscribe("apps/deployments"),
            }
        }
    }

    fn observe_deployment(&self, deployment: &Value) {
        if object::namespace(deployment) != FLUX_NAMESPACE {
            return;
        }
        let name = object::name(deployment).to_owned();
        let running = workloads::is_rolled_out(deployment);
        let started = {
            let mut state = self.state();
            let was = state.running.insert(name.clone(), running).unwrap_or(false);
            running && !was
        };
        if started {
            // A controller that starts lists and reconciles everything it owns.
            for kind in FluxKind::ALL.iter().filter(|k| k.controller() == name) {
                for obj in self.cluster.list(kind.group(), kind.kind(), |_| true) {
                    self.force(key_of(*kind, &obj), Instant::now());
                }
            }
        }
    }

    fn observe_change(&self, kind: FluxKind, change: &Change) {
        if change.kind == ChangeKind::Deleted {
            let key = key_of(kind, &change.object);
            let mut state = self.state();
            state.generations.remove(&key);
            if let Some(deps) = state.depends_on.remove(&key) {
                for dep in deps {
                    if let Some(set) = state.dependents.get_mut(&dep) {
                        set.remove(&key);
                    }
                }
            }
            drop(state);
            self.wake_dependents(kind, &change.object);
            return;
        }
        self.observe(kind, change.previous.as_deref(), &change.object);
    }

    /// Notes an object's current state: its dependencies, whether it needs work, whether its
    /// consumers must hear of a new revision or readiness.
    fn observe(&self, kind: FluxKind, previous: Option<&Value>, obj: &Value) {
        let key = key_of(kind, obj);
        let deps: Vec<_> = flux::dependencies(kind, obj).iter().map(dep_key).collect();
        let generation_changed = {
            let mut state = self.state();
            let old = state.depends_on.insert(key.clone(), deps.clone()).unwrap_or_default();
            for dep in old.iter().filter(|d| !deps.contains(d)) {
                if let Some(set) = state.dependents.get_mut(dep) {
                    set.remove(&key);
                }
            }
            for dep in deps {
                state.dependents.entry(dep).or_default().insert(key.clone());
            }
            let generation = obj["metadata"]["generation"].clone();
            state.generations.insert(key.clone(), generation.clone()).is_none_or(|seen| seen != generation)
        };
        let deleting =
            obj["metadata"].get("deletionTimestamp").is_some() && object::finalizers(obj).contains(&FINALIZER);
        if deleting {
            self.queue.add(key);
        } else if flux::decide(kind, obj, generation_changed) != Decision::Nothing {
            if generation_changed {
                self.state().forced.insert(key.clone());
            }
            self.queue.add(key);
        }
        let changed = previous.is_none_or(|p| {
            flux::published_revision(kind, p) != flux::published_revision(kind, obj)
                || ready_status(p) != ready_status(obj)
        });
        if changed && previous.is_some() {
            self.wake_dependents(kind, obj);
        }
    }

    fn wake_dependents(&self, kind: FluxKind, obj: &Value) {
        let dep = (
            kind.group().to_owned(),
            kind.kind().to_owned(),
            object::namespace(obj).to_owned(),
            object::name(obj).to_owned(),
        );
        let consumers: Vec<Key> =
            self.state().dependents.get(&dep).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        for consumer in consumers {
            self.force(consumer, Instant::now());
        }
    }

    /// Queues a reconciliation that runs even when nothing in the object changed.
    fn force(&self, key: Key, at: Instant) {
        self.state().forced.insert(key.clone());
        self.queue.add_at(key, at);
    }

    /// Whether the kind's controller runs. When it does not, the object waits: a controller
    /// that starts reconciles everything it owns.
    fn controller_running(&self, kind: FluxKind) -> bool {
        self.state().running.get(kind.controller()).copied().unwrap_or(false)
    }

    async fn process(&self, key: &Key) {
        let Some(kind) = FluxKind::from_group_kind(key.0, key.1) else { return };
        let Some(obj) = self.cluster.get(key.0, key.1, &key.2, &key.3) else { return };
        if kind.is_static(&obj) || !self.controller_running(kind) {
            return;
        }
        if obj["metadata"].get("deletionTimestamp").is_some() {
            self.finalize(kind, &obj);
            return;
        }
        let forced = self.state().forced.remove(key);
        match flux::decide(kind, &obj, forced) {
            Decision::Nothing => {}
            Decision::Suspended => {
                let Some(obj) = self.with_finalizer(kind, key, obj) else { return };
                if let Some(status) = flux::suspended_status(kind, &obj) {
                    self.write_status(kind, &obj, status);
                }
            }
            Decision::Reconcile => self.reconcile(kind, key, obj).await,
        }
    }

    /// The controllers add their finalizer first, before the suspend check.
    fn with_finalizer(&self, kind: FluxKind, key: &Key, obj: Arc<Value>) -> Option<Arc<Value>> {
        if object::finalizers(&obj).contains(&FINALIZER) {
            return Some(obj);
        }
        let rt = self.cluster.registry.by_kind(kind.group(), kind.kind())?;
        self.cluster
            .store
            .update_with(rt, &key.2, &key.3, crate::store::Part::Main, |o| {
                let mut finalizers = o["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
                finalizers.push(json!(FINALIZER));
                object::meta_mut(o).insert("finalizers".into(), Value::Array(finalizers));
                Ok(())
            })
            .ok()
    }

    async fn reconcile(&self, kind: FluxKind, key: &Key, obj: Arc<Value>) {
        let Some(obj) = self.with_finalizer(kind, key, obj) else { return };
        let world = SimWorld { cluster: &self.cluster, content: &self.content };
        let started = match flux::begin(kind, &obj, &world) {
            Some(status) => match self.write_status(kind, &obj, status) {
                Some(written) => written,
                None => return,
            },
            None => obj,
        };
        if !self.timing.reconcile.is_zero() {
            tokio::time::sleep(self.timing.reconcile).await;
            if !self.controller_running(kind) {
                // The controller went away mid-reconciliation; its successor starts over.
                return;
            }
        }
        let mut outcome = flux::reconcile(kind, &started, &world);
        if let Err(message) = self.apply_outcome(&outcome) {
            mark_apply_failure(&mut outcome, &started, &message);
        }
        if let Some((progress, lasts)) = outcome.progress.take() {
            // A step that takes a while (a health check until its timeout, a Helm action):
            // shown while it runs.
            if self.write_status(kind, &started, progress).is_none() {
                return;
            }
            let lasts = lasts.map_or(self.timing.reconcile, |d| d.mul_f64(self.timing.retry_scale));
            tokio::time::sleep(lasts).await;
            if !self.controller_running(kind) {
                return;
            }
        }
        let ready = ready_status(&json!({"status": outcome.status})) == Some("True".to_owned());
        let Some(written) = self.write_status(kind, &started, std::mem::take(&mut outcome.status)) else { return };
        for event in &outcome.events {
            self.record_event(kind, &written, event);
        }
        if let Some(after) = outcome.requeue_after {
            let scale = if ready { self.timing.interval_scale } else { Some(self.timing.retry_scale) };
            if let Some(scale) = scale {
                let delay = after.mul_f64(scale).max(Duration::from_millis(10));
                self.force(key.clone(), Instant::now() + delay);
            }
        }
    }

    fn apply_outcome(&self, outcome: &flux::Outcome) -> Result<(), String> {
        let mut first_error = None;
        for obj in &outcome.apply {
            if let Err(err) = self.cluster.apply(obj) {
                let what = format!("{}/{}/{}", object::kind(obj), object::namespace(obj), object::name(obj));
                first_error.get_or_insert(format!("{what} apply failed: {}", err.message));
            }
        }
        for gone in &outcome.delete {
            if let Err(err) = self.cluster.delete(&gone.api_version, &gone.kind, &gone.namespace, &gone.name) {
                first_error.get_or_insert(format!(
                    "{}/{}/{} delete failed: {}",
                    gone.kind, gone.namespace, gone.name, err.message
                ));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn write_status(&self, kind: FluxKind, obj: &Value, status: Value) -> Option<Arc<Value>> {
        let rt = self.cluster.registry.by_kind(kind.group(), kind.kind())?;
        match self.cluster.write_status(rt, object::namespace(obj), object::name(obj), status) {
            Ok(written) => Some(written),
            Err(err) => {
                tracing::debug!(%err, name = object::name(obj), "status write failed");
                None
            }
        }
    }

    /// Deletion of a Flux object: prune what it applied (Kustomization with prune, HelmRelease
    /// always), then drop the finalizer so the API server deletes it.
    fn finalize(&self, kind: FluxKind, obj: &Value) {
        let prune = match kind {
            FluxKind::Kustomization => {
                obj["spec"]["prune"].as_bool().unwrap_or(false) && obj["spec"]["suspend"] != true
            }
            FluxKind::HelmRelease => obj["spec"]["suspend"] != true,
            _ => false,
        };
        if prune {
            for entry in obj["status"]["inventory"]["entries"].as_array().into_iter().flatten() {
                let (Some(id), Some(version)) = (entry["id"].as_str(), entry["v"].as_str()) else { continue };
                let Some((namespace, name, group, kind)) = flux::parse_inventory_id(id) else { continue };
                let api_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
                let _ = self.cluster.delete(&api_version, &kind, &namespace, &name);
            }
        }
        let Some(rt) = self.cluster.registry.by_kind(kind.group(), kind.kind()) else { return };
        let _ = self.cluster.store.update_with(
            rt,
            object::namespace(obj),
            object::name(obj),
            crate::store::Part::Main,
            |o| {
                let finalizers: Vec<Value> =
                    object::finalizers(o).into_iter().filter(|f| *f != FINALIZER).map(|f| json!(f)).collect();
                object::meta_mut(o).insert("finalizers".into(), Value::Array(finalizers));
                Ok(())
            },
        );
    }

    /// Records a core/v1 Event on `involved`, aggregating repeats as the real recorder does.
    fn record_event(&self, kind: FluxKind, involved: &Value, event: &EventSpec) {
        let Ok(rt) = self.cluster.type_of_kind("", "Event").cloned() else { return };
        let namespace = object::namespace(involved).to_owned();
        let uid = involved["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
        let digest = Sha256::digest(format!("{uid}/{}/{}", event.reason, event.message).as_bytes());
        let suffix: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let name = format!("{}.{suffix}", object::name(involved));
        let now = object::now_rfc3339();
        let existing = self.cluster.store.try_get(&rt.storage_key(), &namespace, &name);
        if existing.is_some() {
            let _ = self.cluster.store.update_with(&rt, &namespace, &name, crate::store::Part::Main, |e| {
                e["count"] = json!(e["count"].as_u64().unwrap_or(1) + 1);
                e["lastTimestamp"] = json!(now);
                e["metadata"]["annotations"] = Value::Object(event.annotations.clone());
                Ok(())
            });
            return;
        }
        let controller = kind.controller();
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace, "annotations": event.annotations},
            "involvedObject": {
                "apiVersion": involved["apiVersion"], "kind": involved["kind"], "name": object::name(involved),
                "namespace": namespace, "uid": uid, "resourceVersion": involved["metadata"]["resourceVersion"],
            },
            "reason": event.reason,
            "message": event.message,
            "type": match event.type_ { EventType::Normal => "Normal", EventType::Warning => "Warning" },
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": controller},
            "reportingComponent": controller,
            "reportingInstance": format!("{controller}-0"),
        });
        if self.cluster.apply(&obj).is_err() {
            return;
        }
        let expired = {
            let mut state = self.state();
            let list = state.events.entry(uid).or_default();
            list.push_back((namespace, name));
            if list.len() > EVENTS_PER_OBJECT { list.pop_front() } else { None }
        };
        if let Some((namespace, name)) = expired {
            let _ = self.cluster.delete("v1", "Event", &namespace, &name);
        }
    }
}

fn dep_key(r: &ObjRef) -> (String, String, String, String) {
    let (group, _) = crate::resources::split_api_version(&r.api_version);
    (group.to_owned(), r.kind.clone(), r.namespace.clone(), r.name.clone())
}

fn ready_status(obj: &Value) -> Option<String> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str().map(str::to_owned))
}

/// An apply that the API server refused fails the reconciliation, as it does in Flux: Ready
/// False, retrying, and the generation not observed.
fn mark_apply_failure(outcome: &mut flux::Outcome, started: &Value, message: &str) {
    match started["status"].get("observedGeneration") {
        Some(observed) => outcome.status["observedGeneration"] = observed.clone(),
        None => {
            outcome.status.as_object_mut().map(|s| s.remove("observedGeneration"));
        }
    }
    let generation = started["metadata"]["generation"].clone();
    let Some(conditions) = outcome.status["conditions"].as_array_mut() else { return };
    for c in conditions.iter_mut().filter(|c| c["type"] == "Ready") {
        c["status"] = json!("False");
        c["reason"] = json!("ReconciliationFailed");
        c["message"] = json!(message);
    }
    if !conditions.iter().any(|c| c["type"] == "Reconciling") {
        conditions.push(json!({"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry",
            "message": message, "observedGeneration": generation, "lastTransitionTime": object::now_rfc3339()}));
    }
    outcome.events.push(EventSpec {
        type_: EventType::Warning,
        reason: "ReconciliationFailed".into(),
        message: message.to_owned(),
        annotations: serde_json::Map::new(),
    });
}

struct SimWorld<'a> {
    cluster: &'a Cluster,
    content: &'a Content,
}

impl World for SimWorld<'_> {
    fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.cluster.get(group, kind, namespace, name)
    }

    fn manifests(&self, source: &ObjRef, path: &str) -> Option<Vec<Value>> {
        self.content.get(source, path)
    }

    fn repository_missing(&self, url: &str) -> bool {
        self.content.repository_missing(url)
    }

    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

#[cfg(test)]
mod tests {
    use super::Content;

    #[test]
    fn a_git_server_holds_only_the_repositories_it_was_given() {
        let content = Content::default();
        content.serve_git("http://127.0.0.1:8080/git/", &["fleet.git"]);
        assert!(!content.repository_missing("http://127.0.0.1:8080/git/fleet.git"));
        assert!(content.repository_missing("http://127.0.0.1:8080/git/does-not-exist.git"));
        assert!(!content.repository_missing("https://github.com/acme/fleet"), "no server there: emulated content");
    }
}
