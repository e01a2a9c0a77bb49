//! kube-sim: an emulated Kubernetes API server with emulated Flux controllers.
//!
//! A real HTTP server speaking the Kubernetes REST protocol (discovery, get/list/watch,
//! create/update/patch/delete, the status subresource, selectors, pagination, bookmarks,
//! `410 Expired`, bearer tokens, impersonation, RBAC and the review kinds), so that kube-rs and
//! kubectl talk to it as to a cluster; plus source-, kustomize-, helm-, notification- and the
//! image controllers, which reconcile Flux objects the way the real ones do. See
//! ARCHITECTURE.md for the map.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sim = kube_sim::Sim::start(kube_sim::SimConfig::default()).await?;
//! let kubeconfig = sim.kubeconfig_yaml(kube_sim::ADMIN_TOKEN);
//! # Ok(()) }
//! ```

mod auth;
pub mod cluster;
mod controllers;
pub mod error;
mod fleets;
pub mod object;
mod openapi;
mod patch;
mod proto;
mod queue;
mod rbac;
mod reconcile;
pub mod resources;
mod review;
mod route;
mod schema;
mod selector;
mod server;
pub mod store;
mod table;
mod tls;
mod watch;
mod workloads;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::Mutex, task::JoinHandle};

pub use crate::{
    auth::StaticToken,
    cluster::Cluster,
    controllers::{Content, Controllers, Timing},
    error::ApiError,
    resources::FluxRelease,
};

/// The token of the built-in cluster admin (`system:masters`).
pub const ADMIN_TOKEN: &str = "kube-sim-admin-token";

/// One PATCH request as the API server received it (after authentication, impersonation and
/// authorization).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedPatch {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `Some("status")` for the status subresource.
    pub subresource: Option<String>,
    pub content_type: String,
    pub field_manager: Option<String>,
    /// The effective user (the impersonated one, when impersonating).
    pub user: String,
    pub groups: Vec<String>,
    pub body: serde_json::Value,
}

/// Which objects to seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetChoice {
    /// Nothing but the Flux installation (and `default`).
    Empty,
    /// About 40 Flux objects of a multi-team cluster; the name varies it (`production`, `staging`).
    Demo(String),
    /// About `n` Flux objects over many namespaces, for benchmarks.
    Scale(usize),
}

/// How to start the emulated cluster.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The Flux release whose API versions are served.
    pub flux_release: FluxRelease,
    pub fleet: FleetChoice,
    /// Whether the Flux controllers run (and their Deployments exist in `flux-system`).
    pub flux: bool,
    pub timing: Timing,
    /// The admin's bearer token (user `kube-sim-admin`, group `system:masters`); the demo sets
    /// a random one per run.
    pub admin_token: String,
    /// Bearer tokens besides the admin's.
    pub tokens: Vec<StaticToken>,
    /// How often watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// How many changes the watch history keeps.
    pub history: usize,
    /// The name used for the cluster and context in kubeconfigs.
    pub name: String,
    /// Serve HTTPS with a generated CA (written into kubeconfigs); kubectl needs it, since it
    /// sends bearer tokens only over TLS. Plain HTTP is for tests that speak raw HTTP.
    pub tls: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            port: 0,
            flux_release: FluxRelease::Latest,
            fleet: FleetChoice::Empty,
            flux: true,
            timing: Timing::instant(),
            admin_token: ADMIN_TOKEN.to_owned(),
            tokens: Vec::new(),
            bookmark_interval: Duration::from_secs(1),
            history: 50_000,
            name: "kube-sim".to_owned(),
            tls: true,
        }
    }
}

/// A running emulated cluster. Dropping it stops it.
#[derive(Debug)]
pub struct Sim {
    config: SimConfig,
    addr: SocketAddr,
    state: Arc<server::ServerState>,
    cluster: Cluster,
    content: Arc<Content>,
    controllers: Arc<Controllers>,
    server: Mutex<Option<JoinHandle<()>>>,
    tasks: Vec<JoinHandle<()>>,
    tls: Option<tls::Tls>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Ok(mut server) = self.server.try_lock()
            && let Some(task) = server.take()
        {
            task.abort();
        }
    }
}

impl Sim {
    /// Starts the server and the controllers, and seeds the fleet.
    pub async fn start(config: SimConfig) -> anyhow::Result<Self> {
        let registry = Arc::new(resources::Registry::new(&config.flux_release));
        let store = Arc::new(store::Store::new(store::StoreConfig { history: config.history, ..Default::default() }));
        let cluster = Cluster { registry: registry.clone(), store: store.clone() };
        let content = Arc::new(Content::default());
        let mut tokens = vec![StaticToken::new(&config.admin_token, "kube-sim-admin", &["system:masters"])];
        tokens.extend(config.tokens.iter().cloned());
        let state = Arc::new(server::ServerState {
            registry,
            store,
            authn: auth::Authenticator::new(&tokens),
            bookmark_interval: config.bookmark_interval,
            faults: server::FaultState { stalled: tokio::sync::watch::channel(false).0 },
            patches: std::sync::Mutex::default(),
            watches: Arc::default(),
            openapi: std::sync::OnceLock::new(),
        });
        seed(&cluster, &content, &config).context("Failed to seed the fleet")?;
        let controllers = Controllers::new(cluster.clone(), content.clone(), config.timing.clone());
        let mut tasks = vec![tokio::spawn(workloads::run(cluster.clone(), config.timing.pod_ready))];
        if config.flux {
            tasks.push(tokio::spawn(controllers.clone().run()));
        }
        let tls = if config.tls { Some(tls::generate()?) } else { None };
        let listener = bind(config.port).await?;
        let addr = listener.local_addr().context("Failed to read the bound address")?;
        let server = tokio::spawn(serve(listener, state.clone(), tls.clone()));
        Ok(Self { config, addr, state, cluster, content, controllers, server: Mutex::new(Some(server)), tasks, tls })
    }

    /// The address the API server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>` (`http://` without TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The CA certificate (PEM) that signed the server's certificate, when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// In-process access to the objects (as cluster admin, without HTTP).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The emulated content of sources (what a Kustomization's path holds).
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// The emulated Flux controllers.
    pub fn controllers(&self) -> &Controllers {
        &self.controllers
    }

    /// The admin's bearer token.
    pub fn admin_token(&self) -> &str {
        &self.config.admin_token
    }

    /// A kubeconfig for this server, authenticating with `token`.
    pub fn kubeconfig_yaml(&self, token: &str) -> String {
        kubeconfig(&self.config.name, &self.url(), self.ca_pem(), &[(self.config.name.clone(), token.to_owned())])
    }

    /// Writes [`Sim::kubeconfig_yaml`] with the admin token to `path`.
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> anyhow::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml(&self.config.admin_token))
            .with_context(|| format!("Failed to write {}", path.display()))
    }

    /// Every authorized PATCH request so far (at most the last 10,000), oldest first: what the
    /// client sent, as it arrived.
    pub fn patches(&self) -> Vec<RecordedPatch> {
        self.state.patches.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }

    /// Ends every open watch (clients see their streams end and must re-watch).
    pub fn drop_watches(&self) {
        self.state.store.close_watches();
    }

    /// Forgets the change history: a watch from an older resourceVersion gets `410 Expired`
    /// (an etcd compaction the watch cache has seen, as after an API server restart).
    pub fn compact(&self) {
        self.state.store.compact();
    }

    /// Compacts the storage only, as etcd's compaction under a running API server: watches are
    /// still served from the history; an exact list or a continue token below it gets `410`.
    pub fn compact_storage(&self) {
        self.state.store.compact_storage();
    }

    /// How many watch requests are open now (all clients, all resources).
    pub fn open_watches(&self) -> u64 {
        self.state.watches.total()
    }

    /// While stalled, requests and watch deliveries wait.
    pub fn set_stalled(&self, stalled: bool) {
        self.state.faults.stalled.send_replace(stalled);
    }

    /// Restarts the API server: every connection is cut, the port refuses connections for a
    /// moment, then a new server with the same objects (and no watch history) listens again.
    pub async fn restart(&self) -> anyhow::Result<()> {
        let mut server = self.server.lock().await;
        if let Some(task) = server.take() {
            task.abort();
            // Wait for the abort so the port is free again.
            let _ = task.await;
        }
        self.state.store.close_watches();
        self.state.store.compact();
        let listener = bind(self.addr.port()).await?;
        *server = Some(tokio::spawn(serve(listener, self.state.clone(), self.tls.clone())));
        Ok(())
    }
}

async fn bind(port: u16) -> anyhow::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4().context("Failed to create a socket")?;
    socket.set_reuseaddr(true).context("Failed to set SO_REUSEADDR")?;
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .with_context(|| format!("Failed to bind 127.0.0.1:{port}"))?;
    socket.listen(1024).context("Failed to listen")
}

/// Accepts connections until aborted; aborting it also cuts every open connection (they live in
/// its `JoinSet`), which is what a restart needs.
async fn serve(listener: TcpListener, state: Arc<server::ServerState>, tls: Option<tls::Tls>) {
    let app = server::router(state);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let tls = tls.clone();
        // Connection errors (a failed handshake, a client gone mid-response) are the client's business.
        connections.spawn(async move {
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(tls) => {
                    if let Ok(stream) = tls.acceptor.accept(stream).await {
                        let _ = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

/// A kubeconfig with one context per `(name, token)`, all on one cluster at `url` whose
/// certificate is signed by `ca_pem`.
pub fn kubeconfig(cluster: &str, url: &str, ca_pem: Option<&str>, contexts: &[(String, String)]) -> String {
    use base64::Engine as _;
    let mut cluster_entry = json!({"server": url});
    if let Some(ca) = ca_pem {
        cluster_entry["certificate-authority-data"] = json!(base64::engine::general_purpose::STANDARD.encode(ca));
    }
    let value = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": cluster_entry}],
        "users": contexts.iter().map(|(name, token)| json!({"name": name, "user": {"token": token}})).collect::<Vec<_>>(),
        "contexts": contexts.iter().map(|(name, _)| json!({"name": name, "context": {"cluster": cluster, "user": name, "namespace": "default"}})).collect::<Vec<_>>(),
        "current-context": contexts.first().map(|(name, _)| name.clone()).unwrap_or_default(),
        "preferences": {},
    });
    serde_yaml::to_string(&value).unwrap_or_default()
}

fn seed(cluster: &Cluster, content: &Content, config: &SimConfig) -> anyhow::Result<()> {
    let mut objects: Vec<Value> = vec![namespace("default"), namespace("kube-system")];
    let mut crds = cluster.registry.crd_objects();
    if config.flux {
        crds.iter_mut().for_each(fleets::label_crd);
    }
    objects.extend(crds);
    if config.flux {
        objects.extend(fleets::flux_system());
    }
    let fleet = match &config.fleet {
        FleetChoice::Empty => fleets::Fleet::default(),
        FleetChoice::Demo(name) => fleets::demo(name),
        FleetChoice::Scale(n) => fleets::scale(*n),
    };
    objects.extend(fleet.objects);
    for obj in &objects {
        if cluster.registry.for_object(obj).is_none() {
            // The fleet holds kinds this Flux release does not serve: a real cluster would not have them.
            continue;
        }
        if cluster.get_for(obj).is_some() {
            continue;
        }
        cluster
            .apply(obj)
            .map_err(|e| anyhow::anyhow!("{} {}: {}", object::kind(obj), object::name(obj), e.message))?;
    }
    for m in fleet.manifests {
        content.set(&m.source_kind, &m.source_namespace, &m.source_name, &m.path, m.objects);
    }
    Ok(())
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}
