//! The state every request shares and the options the application starts with: the bottom
//! layer, which handlers in `fleet/`, `auth/` and `api/` import (the router in `app.rs` sits on
//! top of them).

use std::sync::Arc;
use std::time::Duration;

use crate::api::actions::ActAs;
use crate::api::audit::Audit;
use crate::api::metrics::Metrics;
use crate::auth::config::Config;
use crate::auth::limiter::Limits;
use crate::auth::oidc::Oidc;
use crate::auth::sessions::Store;
use crate::auth::{Identity, Role};
use crate::fleet::cluster::Cluster;
use crate::fleet::store::FleetStore;

/// State shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub store: Arc<FleetStore>,
    pub clusters: Vec<Cluster>,
    /// "" or a path like `/fluxboard` (no trailing slash).
    pub base_path: String,
    pub metrics: Metrics,
    pub audit: Audit,
    pub act_as: ActAs,
    /// How long reconcile-with-source waits for each source to handle its request.
    pub source_wait: Duration,
    /// A fixed identity for every request (development and tests without login), or None:
    /// identities come from sessions.
    pub fixed_identity: Option<Arc<Identity>>,
    pub config: Config,
    /// Login attempts (shared by the replicas when Redis is configured).
    pub limiter: Limits,
    /// Action requests per user.
    pub action_limiter: Limits,
    pub oidc: Option<Oidc>,
    /// Set when the server shuts down: every stream ends, so graceful shutdown can finish and
    /// browsers reconnect to another replica.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Recent compressed snapshots, shared by clients that connect at about the same time.
    pub snapshots: crate::fleet::stream::SnapshotCache,
    /// The last uncompressed snapshot frame per scope, for streams opened without `after`.
    pub snapshot_frames: crate::fleet::stream::SnapshotFrames,
    /// The session store (streams re-read their session from it).
    pub sessions: Store,
    /// The Host values answered and the origins trusted (DNS-rebinding protection).
    pub hosts: crate::http::Hosts,
    /// How long a request's body may take to arrive, in all.
    pub body_timeout: Duration,
    /// Open event streams per user (or, without login, per client address).
    pub stream_slots: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl AppState {
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
}

/// How to run the application.
#[derive(Debug, Clone)]
pub struct Options {
    /// Serve under this path prefix ("" or "/" for the root).
    pub base_path: String,
    /// Change-log and per-client queue capacity (default [`DEFAULT_CAPACITY`]).
    pub capacity: Option<usize>,
    /// Every request gets this identity, without login (development, tests, `--open-role`);
    /// None: visitors log in with the methods of `config`. Default: an anonymous viewer.
    pub identity: Option<Identity>,
    /// Login methods, local users, role bindings, sessions.
    pub config: Config,
    pub act_as: ActAs,
    /// How long reconcile-with-source waits for each source (default 30 s).
    pub source_wait: Duration,
    /// How long a client may accept no byte before its connection is closed (default 30 s).
    pub write_timeout: Duration,
    /// How long a client may take to send a request's headers (default 10 s).
    pub header_read_timeout: Duration,
    /// How long a connection may move no byte before it is closed (default 120 s).
    pub idle_timeout: Duration,
    /// How long a request's body may take to arrive, in all (default 30 s).
    pub body_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            base_path: String::new(),
            capacity: None,
            identity: Some(Identity::open(Role::Viewer)),
            config: Config::default(),
            act_as: ActAs::User,
            source_wait: Duration::from_secs(30),
            write_timeout: crate::http::conn::DEFAULT_WRITE_TIMEOUT,
            header_read_timeout: crate::http::conn::HEADER_READ_TIMEOUT,
            idle_timeout: crate::http::conn::IDLE_TIMEOUT,
            body_timeout: crate::http::conn::BODY_TIMEOUT,
        }
    }
}
