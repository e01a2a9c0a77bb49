//! Clusters: connecting (kubeconfig contexts or in-cluster), discovering which Flux kinds each
//! serves, and one watcher per (cluster, kind) feeding the fleet store.
//!
//! A watch that breaks (dropped connection, `410 Expired`, API server restart) marks its cluster
//! `reconnecting` and is rebuilt from a fresh list after a backoff, so the store converges on
//! the API server's state; the browser shows the stale badge meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fluxboard_model::api::{ClusterStatus, ConnectionState, ServedKind};
use fluxboard_model::{KINDS, KindInfo, kind_info, summarize};
use futures::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{Discovery, verbs};
use kube::runtime::watcher;
use tokio::task::JoinSet;

use crate::fleet::store::FleetStore;

/// An API resource and whether it is namespaced.
type Resource = (ApiResource, bool);
/// Resources by (group, version, kind); `None` when not served.
type ResourceCache = HashMap<(String, String, String), Option<Resource>>;

/// What went wrong connecting to a cluster, or talking to it on a request's behalf.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig file could not be read (`None`: `KUBECONFIG` or `~/.kube/config`).
    #[error("Failed to read {}", .path.as_ref().map_or("the kubeconfig (KUBECONFIG or ~/.kube/config)".to_owned(), |p| p.display().to_string()))]
    Kubeconfig {
        /// The file named on the command line, if one was.
        path: Option<std::path::PathBuf>,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// A kubeconfig context could not be loaded.
    #[error("Failed to load context {name:?}")]
    Context {
        /// The context.
        name: String,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The kubeconfig has no contexts.
    #[error("the kubeconfig has no contexts")]
    NoContexts,
    /// The in-cluster configuration (ServiceAccount token, environment) could not be read.
    #[error("Failed to read the in-cluster configuration")]
    InCluster(#[source] kube::config::InClusterError),
    /// A client could not be built from a cluster's configuration.
    #[error("Failed to build a client for {cluster:?}")]
    Client {
        /// The cluster.
        cluster: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A client impersonating the caller could not be built from the cluster's configuration.
    #[error("Failed to build an impersonating client: {}", kube_error(.0))]
    Impersonating(#[source] kube::Error),
    /// The TokenReview was not answered (this is not a refusal of the token).
    #[error("TokenReview failed: {}", kube_error(.0))]
    TokenReview(#[source] kube::Error),
}

impl crate::http::error::Reason for ClusterError {
    fn status(&self) -> axum::http::StatusCode {
        match self {
            ClusterError::TokenReview(_) => axum::http::StatusCode::BAD_GATEWAY,
            _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ClusterError::TokenReview(_) => "token_review_failed",
            _ => "internal",
        }
    }
}

/// One cluster fluxboard watches.
#[derive(Clone)]
pub struct Cluster {
    pub name: String,
    /// The dashboard's own identity.
    pub client: kube::Client,
    config: kube::Config,
    /// The Flux kinds discovery found, by (group, kind).
    kinds: Arc<Mutex<HashMap<(String, String), ApiResource>>>,
    /// API resources of other kinds (inventory items), found on demand.
    other_kinds: Arc<Mutex<ResourceCache>>,
    /// Impersonating clients by (user, groups), reused so each action does not build a new
    /// connection pool; at most [`IMPERSONATING_CLIENTS`].
    impersonating: Arc<Mutex<Impersonating>>,
    /// Set once every watched kind has listed once (readiness).
    synced: Arc<std::sync::atomic::AtomicBool>,
    /// The last read of the Flux controllers' Deployments and when it was made, shared by the
    /// root-cause reads so a burst of them makes one LIST (api::controllers::recent_statuses).
    pub(crate) controllers_read: Arc<tokio::sync::Mutex<Option<ControllersRead>>>,
}

/// A read of the controllers' statuses and its time.
pub(crate) type ControllersRead = (std::time::Instant, Vec<fluxboard_model::action::ControllerStatus>);

/// Impersonating clients by (user, groups).
type Impersonating = HashMap<(String, Vec<String>), kube::Client>;

/// How many impersonating clients a cluster keeps.
const IMPERSONATING_CLIENTS: usize = 256;

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster reached with `config` (the dashboard's own identity).
    pub fn from_config(name: impl Into<String>, config: kube::Config) -> Result<Cluster, ClusterError> {
        let name = name.into();
        let client = kube::Client::try_from(config.clone())
            .map_err(|source| ClusterError::Client { cluster: name.clone(), source })?;
        Ok(Cluster {
            name,
            client,
            config,
            kinds: Arc::default(),
            other_kinds: Arc::default(),
            impersonating: Arc::default(),
            synced: Arc::default(),
            controllers_read: Arc::default(),
        })
    }

    /// A client that impersonates `user` and `groups` (Impersonate-User, Impersonate-Group), so
    /// the cluster's RBAC decides what they may do.
    pub fn impersonating(&self, user: &str, groups: &[String]) -> Result<kube::Client, ClusterError> {
        let key = (user.to_owned(), groups.to_vec());
        if let Some(client) = self.impersonating.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(client.clone());
        }
        let mut config = self.config.clone();
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups = (!groups.is_empty()).then(|| groups.to_vec());
        let client = kube::Client::try_from(config).map_err(ClusterError::Impersonating)?;
        let mut cache = self.impersonating.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= IMPERSONATING_CLIENTS {
            cache.clear();
        }
        cache.insert(key, client.clone());
        Ok(client)
    }

    /// Whether every watched kind of this cluster has listed at least once.
    pub fn synced_once(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The API resource of a Flux kind this cluster serves.
    pub fn flux_kind(&self, group: &str, kind: &str) -> Option<ApiResource> {
        self.kinds.lock().unwrap_or_else(|e| e.into_inner()).get(&(group.to_owned(), kind.to_owned())).cloned()
    }

    /// The API resource of any kind at `group/version`, and whether it is namespaced; `None`
    /// when the API server does not serve it.
    pub async fn resource(&self, group: &str, version: &str, kind: &str) -> Option<(ApiResource, bool)> {
        let key = (group.to_owned(), version.to_owned(), kind.to_owned());
        if let Some(found) = self.other_kinds.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return found.clone();
        }
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let found = match kube::discovery::pinned_kind(&self.client, &gvk).await {
            Ok((resource, caps)) => Some((resource, caps.scope == kube::discovery::Scope::Namespaced)),
            // Not served (or a transient failure: not cached, so it is asked again next time).
            Err(err) => {
                tracing::debug!(%err, group, version, kind, "kind not found");
                return None;
            }
        };
        self.other_kinds.lock().unwrap_or_else(|e| e.into_inner()).insert(key, found.clone());
        found
    }
}

/// Connects to the contexts of a kubeconfig file (all of them when `contexts` is empty; the
/// context name becomes the cluster name).
pub async fn from_kubeconfig(
    path: Option<&std::path::Path>,
    contexts: &[String],
) -> Result<Vec<Cluster>, ClusterError> {
    let kubeconfig = match path {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    }
    .map_err(|source| ClusterError::Kubeconfig { path: path.map(std::path::Path::to_owned), source })?;
    let names: Vec<String> = if contexts.is_empty() {
        match &kubeconfig.current_context {
            Some(current) => vec![current.clone()],
            None => kubeconfig.contexts.iter().map(|c| c.name.clone()).collect(),
        }
    } else {
        contexts.to_vec()
    };
    let mut clusters = Vec::new();
    for name in names {
        let options = KubeConfigOptions { context: Some(name.clone()), ..KubeConfigOptions::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
            .await
            .map_err(|source| ClusterError::Context { name: name.clone(), source })?;
        clusters.push(Cluster::from_config(name, config)?);
    }
    if clusters.is_empty() {
        return Err(ClusterError::NoContexts);
    }
    Ok(clusters)
}

/// Connects to the cluster fluxboard runs in, with its ServiceAccount.
pub fn in_cluster(name: &str) -> Result<Cluster, ClusterError> {
    let config = kube::Config::incluster().map_err(ClusterError::InCluster)?;
    Cluster::from_config(name, config)
}

/// Runs discovery and the watchers of one cluster until the task is aborted.
pub async fn run(cluster: Cluster, store: Arc<FleetStore>) {
    store.set_cluster(status(
        &cluster.name,
        ConnectionState::Connecting,
        String::new(),
        Vec::new(),
        &Versions::default(),
    ));
    let mut watched: Vec<(&'static KindInfo, ApiResource)> = Vec::new();
    loop {
        let (kinds, version) = discover_until_found(&cluster, &store).await;
        // Kinds no longer served (a Flux upgrade, a CRD removed) leave the store.
        for (info, _) in watched.iter().filter(|(w, _)| !kinds.iter().any(|(k, _)| k.kind == w.kind)) {
            store.replace_kind(&cluster.name, info.group, info.kind, Vec::new());
        }
        watched.clone_from(&kinds);
        let gone = watch_all(&cluster, &store, kinds.clone(), version).await;
        tracing::info!(cluster = cluster.name, why = gone, "discovering the Flux kinds again");
    }
}

/// How often discovery runs again to notice CRDs installed later or served versions changing.
const REDISCOVER: Duration = Duration::from_secs(300);

/// Discovery, retried with backoff until it finds Flux kinds (the cluster card says why not).
async fn discover_until_found(
    cluster: &Cluster,
    store: &FleetStore,
) -> (Vec<(&'static KindInfo, ApiResource)>, Versions) {
    let mut backoff = Backoff::default();
    loop {
        let message = match discover(cluster).await {
            Ok(found) if !found.0.is_empty() => return found,
            Ok(_) => "no Flux kinds are served: is Flux installed?".to_owned(),
            Err(err) => format!("discovery failed: {err:#}"),
        };
        tracing::warn!(cluster = cluster.name, "{message}");
        store.set_cluster(status(&cluster.name, ConnectionState::Error, message, Vec::new(), &Versions::default()));
        backoff.wait().await;
    }
}

/// Watches every kind until discovery should run again: a watch was told its kind is not
/// served (404), or a periodic discovery finds other kinds or versions. Returns why.
async fn watch_all(
    cluster: &Cluster,
    store: &Arc<FleetStore>,
    kinds: Vec<(&'static KindInfo, ApiResource)>,
    version: Versions,
) -> &'static str {
    let served: Vec<ServedKind> = kinds
        .iter()
        .map(|(info, ar)| ServedKind {
            group: info.group.into(),
            kind: info.kind.into(),
            version: ar.version.clone(),
            state: ConnectionState::Connecting,
        })
        .collect();
    {
        let mut map = cluster.kinds.lock().unwrap_or_else(|e| e.into_inner());
        map.clear();
        for (info, ar) in &kinds {
            map.insert((info.group.to_owned(), info.kind.to_owned()), ar.clone());
        }
    }
    let health = Arc::new(WatchHealth {
        cluster: cluster.name.clone(),
        kinds: served,
        version,
        states: Mutex::new(kinds.iter().map(|(info, _)| (info.kind, KindState::Listing)).collect()),
        synced: cluster.synced.clone(),
    });
    health.publish(store);
    let (gone, mut not_served) = tokio::sync::mpsc::channel::<()>(1);
    let mut tasks = JoinSet::new();
    for (info, ar) in kinds.iter().cloned() {
        tasks.spawn(watch_kind(cluster.clone(), info, ar, store.clone(), health.clone(), gone.clone()));
    }
    let mut every = tokio::time::interval(REDISCOVER);
    every.tick().await;
    let why = loop {
        tokio::select! {
            _ = not_served.recv() => break "a watched kind is no longer served",
            _ = every.tick() => {
                if let Ok((found, _)) = discover(cluster).await
                    && !found.is_empty()
                    && !same_kinds(&found, &kinds)
                {
                    break "the served Flux kinds or versions changed";
                }
            }
        }
    };
    tasks.abort_all();
    why
}

/// Whether two discoveries found the same kinds at the same versions.
fn same_kinds(a: &[(&'static KindInfo, ApiResource)], b: &[(&'static KindInfo, ApiResource)]) -> bool {
    let key = |list: &[(&'static KindInfo, ApiResource)]| {
        let mut keys: Vec<(&str, String)> = list.iter().map(|(info, ar)| (info.kind, ar.version.clone())).collect();
        keys.sort();
        keys
    };
    key(a) == key(b)
}

/// Whether a watch error says the resource is not served (404 on list or watch).
fn not_served(err: &watcher::Error) -> bool {
    match err {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 404,
        watcher::Error::WatchError(s) => s.code == 404,
        _ => false,
    }
}

/// Flux kinds this cluster serves, at their most stable version, and the server and Flux versions.
async fn discover(cluster: &Cluster) -> anyhow::Result<(Vec<(&'static KindInfo, ApiResource)>, Versions)> {
    let groups: Vec<&str> = {
        let mut g: Vec<&str> = KINDS.iter().map(|k| k.group).collect();
        g.dedup();
        g
    };
    let discovery = Discovery::new(cluster.client.clone()).filter(&groups).run().await?;
    let mut found = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.resources_by_stability() {
            if let Some(info) = kind_info(&ar.group, &ar.kind)
                && caps.supports_operation(verbs::WATCH)
            {
                found.push((info, ar));
            }
        }
    }
    found.sort_by_key(|(info, _)| KINDS.iter().position(|k| k.kind == info.kind));
    let server = cluster.client.apiserver_version().await.ok().map(|v| v.git_version);
    Ok((found, Versions { server, flux: flux_version(cluster).await }))
}

/// The API server's and Flux's versions, when known.
#[derive(Debug, Clone, Default)]
struct Versions {
    server: Option<String>,
    flux: Option<String>,
}

/// The Flux release, from the `app.kubernetes.io/version` label the flux install manifests put
/// on the controller Deployments (readable with the dashboard's RBAC; controllers run outside the
/// cluster have none, and then the version stays unknown).
async fn flux_version(cluster: &Cluster) -> Option<String> {
    let ar = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
    let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &ar);
    let params = ListParams::default().labels("app.kubernetes.io/part-of=flux,app.kubernetes.io/version").limit(20);
    let list = api.list(&params).await.ok()?;
    list.items.iter().find_map(|d| d.metadata.labels.as_ref()?.get("app.kubernetes.io/version").cloned())
}

#[derive(Debug, Clone, PartialEq)]
enum KindState {
    Listing,
    Synced,
    Broken(String),
}

/// The watch state of every kind of one cluster, summarized as the cluster's state.
#[derive(Debug)]
struct WatchHealth {
    cluster: String,
    kinds: Vec<ServedKind>,
    version: Versions,
    states: Mutex<BTreeMap<&'static str, KindState>>,
    /// The cluster's "synced once" flag.
    synced: Arc<std::sync::atomic::AtomicBool>,
}

impl WatchHealth {
    fn set(&self, store: &FleetStore, kind: &'static str, state: KindState) {
        self.states.lock().unwrap_or_else(|e| e.into_inner()).insert(kind, state);
        self.publish(store);
    }

    fn publish(&self, store: &FleetStore) {
        let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        let broken: Vec<String> = states
            .iter()
            .filter_map(|(kind, s)| match s {
                KindState::Broken(why) => Some(format!("{kind}: {why}")),
                _ => None,
            })
            .collect();
        let (state, message) = if !broken.is_empty() {
            (ConnectionState::Reconnecting, broken.join("; "))
        } else if states.values().any(|s| *s == KindState::Listing) {
            (ConnectionState::Connecting, "listing objects".to_owned())
        } else {
            self.synced.store(true, std::sync::atomic::Ordering::Relaxed);
            (ConnectionState::Connected, String::new())
        };
        let kinds = self
            .kinds
            .iter()
            .map(|k| ServedKind {
                state: match states.iter().find(|(kind, _)| **kind == k.kind).map(|(_, s)| s) {
                    Some(KindState::Synced) => ConnectionState::Connected,
                    Some(KindState::Broken(_)) => ConnectionState::Reconnecting,
                    _ => ConnectionState::Connecting,
                },
                ..k.clone()
            })
            .collect();
        store.set_cluster(status(&self.cluster, state, message, kinds, &self.version));
    }
}

fn status(
    name: &str,
    state: ConnectionState,
    message: String,
    kinds: Vec<ServedKind>,
    versions: &Versions,
) -> ClusterStatus {
    ClusterStatus {
        name: name.to_owned(),
        state,
        message,
        kinds,
        server_version: versions.server.clone(),
        flux_version: versions.flux.clone(),
    }
}

/// Watches one kind: list, then watch; on any error, mark it broken, back off, and list again.
async fn watch_kind(
    cluster: Cluster,
    info: &'static KindInfo,
    ar: ApiResource,
    store: Arc<FleetStore>,
    health: Arc<WatchHealth>,
    gone: tokio::sync::mpsc::Sender<()>,
) {
    let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &ar);
    let mut backoff = Backoff::default();
    loop {
        let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
        let mut listing: Option<Vec<fluxboard_model::Summary>> = None;
        let summarize = |obj: &DynamicObject| {
            let value = serde_json::to_value(obj).unwrap_or_default();
            summarize(&cluster.name, info, &value)
        };
        let err = loop {
            match events.try_next().await {
                Ok(Some(watcher::Event::Init)) => listing = Some(Vec::new()),
                Ok(Some(watcher::Event::InitApply(obj))) => listing.get_or_insert_default().push(summarize(&obj)),
                Ok(Some(watcher::Event::InitDone)) => {
                    store.replace_kind(&cluster.name, info.group, info.kind, listing.take().unwrap_or_default());
                    health.set(&store, info.kind, KindState::Synced);
                    backoff.reset();
                }
                Ok(Some(watcher::Event::Apply(obj))) => store.upsert(summarize(&obj)),
                Ok(Some(watcher::Event::Delete(obj))) => {
                    let s = summarize(&obj);
                    store.delete(&fluxboard_model::api::ObjectRef::of(&s));
                }
                Ok(None) => break "the watch ended".to_owned(),
                Err(err) => {
                    if not_served(&err) {
                        // The kind or its version went away: discovery runs again.
                        let _ = gone.try_send(());
                    }
                    break describe(&err);
                }
            }
        };
        tracing::warn!(cluster = cluster.name, kind = info.kind, err, "watch broken; listing again");
        health.set(&store, info.kind, KindState::Broken(err));
        backoff.wait().await;
    }
}

fn describe(err: &watcher::Error) -> String {
    match err {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            kube_error(e)
        }
        watcher::Error::WatchError(status) => format!("{} ({})", status.message, status.code),
        watcher::Error::NoResourceVersion => err.to_string(),
    }
}

/// A one-line description of a kube error for people.
pub fn kube_error(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// Exponential backoff from 250 ms to 15 s.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: Duration::from_millis(250) }
    }
}

impl Backoff {
    async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(Duration::from_secs(15));
    }

    fn reset(&mut self) {
        *self = Backoff::default();
    }
}

/// Asks the cluster who a bearer token belongs to (TokenReview, as the dashboard): the user and
/// groups, or None when the token is not accepted.
pub async fn review_token(cluster: &Cluster, token: &str) -> Result<Option<(String, Vec<String>)>, ClusterError> {
    use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
    if token.is_empty() || token.len() > 16 * 1024 {
        return Ok(None);
    }
    let review = TokenReview {
        spec: TokenReviewSpec { token: Some(token.to_owned()), ..TokenReviewSpec::default() },
        ..TokenReview::default()
    };
    let api: Api<TokenReview> = Api::all(cluster.client.clone());
    let answer = api.create(&kube::api::PostParams::default(), &review).await.map_err(ClusterError::TokenReview)?;
    let Some(status) = answer.status.filter(|s| s.authenticated == Some(true)) else { return Ok(None) };
    let Some(user) = status.user.and_then(|u| u.username.map(|name| (name, u.groups.unwrap_or_default()))) else {
        return Ok(None);
    };
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> kube::core::Status {
        serde_json::from_value(
            serde_json::json!({"status": "Failure", "code": code, "message": "x", "reason": "NotFound"}),
        )
        .unwrap()
    }

    #[test]
    fn a_kind_that_is_no_longer_served_sends_discovery_again() {
        let api = |code| kube::Error::Api(Box::new(status(code)));
        assert!(not_served(&watcher::Error::InitialListFailed(api(404))));
        assert!(not_served(&watcher::Error::WatchFailed(api(404))));
        assert!(not_served(&watcher::Error::WatchError(Box::new(status(404)))));
        assert!(!not_served(&watcher::Error::WatchError(Box::new(status(410)))), "410 is a relist, not a rediscovery");
        assert!(!not_served(&watcher::Error::InitialListFailed(api(403))));
    }

    #[test]
    fn discoveries_compare_by_kind_and_version() {
        let ks = kind_info("kustomize.toolkit.fluxcd.io", "Kustomization").unwrap();
        let hr = kind_info("helm.toolkit.fluxcd.io", "HelmRelease").unwrap();
        let ar = |group: &str, version: &str, kind: &str, plural: &str| ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: kind.into(),
            plural: plural.into(),
        };
        let a = vec![
            (ks, ar(ks.group, "v1", "Kustomization", "kustomizations")),
            (hr, ar(hr.group, "v2", "HelmRelease", "helmreleases")),
        ];
        let mut b = a.clone();
        b.reverse();
        assert!(same_kinds(&a, &b), "order does not matter");
        b[0].1.version = "v2beta2".into();
        assert!(!same_kinds(&a, &b), "a served version changed");
        assert!(!same_kinds(&a, &a[..1]), "a kind went away");
    }
}
