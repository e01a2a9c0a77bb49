//! The application: shared state, the router, and serving it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::compression::CompressionLayer;

use crate::api::actions::ActAs;
use crate::api::audit::Audit;
use crate::api::metrics::Metrics;
use crate::auth::Caller;
use crate::auth::config::SessionStoreKind;
use crate::auth::limiter::Limits;
use crate::auth::sessions::{RedisStore, Store};
use crate::auth::{Identity, Role, SESSION_COOKIE};
use crate::fleet::cluster::Cluster;
use crate::fleet::store::{DEFAULT_CAPACITY, FleetStore};
use crate::http::BODY_LIMIT;
pub use crate::state::{AppState, Options};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The base path is not usable.
    #[error(transparent)]
    BasePath(#[from] BasePathError),
    /// The configuration does not pass its checks.
    #[error(transparent)]
    Config(#[from] crate::auth::config::ConfigError),
    /// Neither a login method nor anonymous access is configured, and no fixed identity given.
    #[error("no way in: configure a login method (auth.local.users, auth.kubernetesToken) or anonymous access")]
    NoWayIn,
    /// The Redis session store is unusable.
    #[error(transparent)]
    Sessions(#[from] crate::auth::sessions::SessionStoreError),
    /// The OIDC client could not be built.
    #[error("Failed to build the OIDC client")]
    Oidc(#[source] reqwest::Error),
}

/// Why a base path is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasePathError {
    /// It does not start with a slash.
    #[error("the base path must start with '/': {0:?}")]
    NoLeadingSlash(String),
    /// A segment is empty, `.`, `..`, or holds other characters than letters, digits and `-._~`.
    #[error("the base path may hold only letters, digits and -._~ between slashes: {0:?}")]
    BadSegment(String),
}

/// A running application: its state and the watch tasks, stopped when dropped.
#[derive(Debug)]
pub struct App {
    pub state: Arc<AppState>,
    sessions: Store,
    write_timeout: Duration,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    watchers: Vec<JoinHandle<()>>,
}

impl Drop for App {
    fn drop(&mut self) {
        for task in &self.watchers {
            task.abort();
        }
    }
}

impl App {
    /// Connects the session store and starts watching `clusters`.
    pub async fn start(clusters: Vec<Cluster>, options: &Options) -> Result<App, StartError> {
        let base_path = normalize_base_path(&options.base_path)?;
        options.config.check()?;
        if !(options.identity.is_some() || options.config.has_login() || options.config.auth.anonymous.enabled) {
            return Err(StartError::NoWayIn);
        }
        let sessions = match (&options.config.sessions.store, &options.config.sessions.redis_url) {
            (SessionStoreKind::Redis, Some(url)) => Store::Redis(RedisStore::connect(url).await?),
            _ => Store::Memory(Arc::new(crate::auth::sessions::MemoryStore::default())),
        };
        // With Redis, the replicas share the login and action limits and the audit trail too.
        let redis = match &sessions {
            Store::Redis(store) => Some(store.connection()),
            Store::Memory(_) => None,
        };
        let limits = match &redis {
            Some(conn) => Limits::Redis { conn: conn.clone(), local: Arc::default() },
            None => Limits::default(),
        };
        let epoch =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
                ^ u64::from(std::process::id());
        let store = Arc::new(FleetStore::new(epoch % 1_000_000_000_000, options.capacity.unwrap_or(DEFAULT_CAPACITY)));
        let watchers =
            clusters.iter().map(|c| tokio::spawn(crate::fleet::cluster::run(c.clone(), store.clone()))).collect();
        let state = Arc::new(AppState {
            store,
            clusters,
            base_path,
            metrics: Metrics::default(),
            audit: Audit::new(redis.clone()),
            // An open identity (no login) has no user to impersonate: it reads and acts as the
            // dashboard, by one rule.
            act_as: match &options.identity {
                Some(fixed) if *fixed == Identity::open(fixed.grants.first().map_or(Role::Viewer, |g| g.role)) => {
                    ActAs::ServiceAccount
                }
                _ => options.act_as,
            },
            source_wait: options.source_wait,
            fixed_identity: options.identity.clone().map(Arc::new),
            config: options.config.clone(),
            limiter: limits.clone(),
            action_limiter: limits,
            oidc: options
                .config
                .auth
                .oidc
                .clone()
                .map(crate::auth::oidc::Oidc::new)
                .transpose()
                .map_err(StartError::Oidc)?,
            shutdown: tokio::sync::watch::channel(false).0,
            snapshots: crate::fleet::stream::SnapshotCache::default(),
            snapshot_frames: crate::fleet::stream::SnapshotFrames::default(),
            sessions: sessions.clone(),
            hosts: options.config.hosts()?,
            body_timeout: options.body_timeout,
            stream_slots: std::sync::Mutex::default(),
        });
        Ok(App {
            state,
            sessions,
            watchers,
            write_timeout: options.write_timeout,
            header_read_timeout: options.header_read_timeout,
            idle_timeout: options.idle_timeout,
        })
    }

    pub fn router(&self) -> Router {
        router(self.state.clone(), self.sessions.clone())
    }

    /// The router as a service that knows each client's address (for rate limiting).
    pub fn service(&self) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, SocketAddr> {
        self.router().into_make_service_with_connect_info::<SocketAddr>()
    }

    /// Serves until `shutdown` completes: then stops accepting, ends every event stream, and
    /// finishes the requests in flight. Connections whose client accepts nothing for the write
    /// timeout are closed.
    pub fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
        let state = self.state.clone();
        let limits = crate::http::conn::Limits {
            write_timeout: self.write_timeout,
            idle_timeout: self.idle_timeout,
            header_read_timeout: self.header_read_timeout,
            per_address: crate::http::conn::MAX_CONNECTIONS_PER_ADDRESS,
            stalled: self.state.metrics.connections_stalled.clone(),
            exempt: self.state.config.trusted_proxies().unwrap_or_default(),
        };
        let router = self.router();
        let shutdown = async move {
            shutdown.await;
            state.shutdown.send_replace(true);
        };
        crate::http::conn::serve(listener, router, limits, shutdown)
    }

    /// Serves `/metrics` and the detailed `/readyz` on their own listener until `shutdown`.
    pub fn serve_metrics(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
        let router = metrics_router(self.state.clone());
        async move { axum::serve(listener, router).with_graceful_shutdown(shutdown).await }
    }

    /// Ends every event stream now (what shutting down does first).
    pub fn end_streams(&self) {
        self.state.shutdown.send_replace(true);
    }
}

/// Checks and normalizes a base path: "" for the root, else `/a/b` (no trailing slash).
pub fn normalize_base_path(path: &str) -> Result<String, BasePathError> {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !trimmed.starts_with('/') {
        return Err(BasePathError::NoLeadingSlash(path.to_owned()));
    }
    let ok = trimmed[1..].split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    });
    if !ok {
        return Err(BasePathError::BadSegment(path.to_owned()));
    }
    Ok(trimmed.to_owned())
}

/// The whole HTTP surface: the routes and their layers, under the base path, behind the guard.
pub fn router(state: Arc<AppState>, sessions: Store) -> Router {
    let api = routes()
        .fallback(crate::api::assets::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::http::body_deadline))
        // Server-sent events are not compressed (the default predicate leaves them alone).
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::identity_layer))
        .layer(session_layer(&state, sessions))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::api::metrics::track))
        .with_state(state.clone());
    // No response may be sniffed into something else (an error echoing input as HTML): the
    // outermost layer, so the 401s of the identity layer and the base path's answers have it too.
    let nosniff = tower_http::set_header::SetResponseHeaderLayer::if_not_present(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    let guard = axum::middleware::from_fn_with_state(state.clone(), crate::http::guard);
    if state.base_path.is_empty() {
        return api.layer(guard).layer(nosniff);
    }
    under_base(api, state.base_path.clone()).layer(guard).layer(nosniff)
}

/// Every route, by path.
fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/snapshot", get(crate::fleet::stream::snapshot))
        .route("/api/v1/stream", get(crate::fleet::stream::stream))
        .route("/api/v1/clusters", get(clusters))
        .route("/api/v1/objects/{cluster}/{group}/{kind}/{namespace}/{name}", get(crate::fleet::objects::get_object))
        .route("/api/v1/actions", post(crate::api::actions::post_actions))
        .route("/api/v1/audit", get(crate::api::audit::get_audit))
        .route("/api/v1/controllers/{cluster}", get(crate::api::controllers::get_controllers))
        .route("/api/v1/why/{cluster}/{group}/{kind}/{namespace}/{name}", get(crate::api::why::get_why))
        .route("/api/v1/revisions", get(crate::api::why::get_revisions))
        .route("/api/v1/me", get(me))
        .route("/auth/methods", get(crate::auth::login::methods))
        .route("/auth/login", post(crate::auth::login::login))
        .route("/auth/token", post(crate::auth::login::token))
        .route("/auth/logout", post(crate::auth::login::logout))
        .route("/auth/oidc/login", get(crate::auth::oidc::login))
        .route("/auth/oidc/callback", get(crate::auth::oidc::callback))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|| async {
                crate::http::error::ApiError::not_found("metrics are served on the metrics listener (--metrics-listen)")
            }),
        )
}

/// The session cookie: HTTP-only, SameSite=Lax, scoped to the base path, renewed on every
/// request, ending with the browser or after the idle time.
fn session_layer(state: &AppState, sessions: Store) -> tower_sessions::SessionManagerLayer<Store> {
    let cookie_path = if state.base_path.is_empty() { "/".to_owned() } else { format!("{}/", state.base_path) };
    tower_sessions::SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_secure(state.config.sessions.secure_cookie)
        .with_http_only(true)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_path(cookie_path)
        // Every request renews the idle deadline (otherwise it would count from the login).
        .with_always_save(true)
        .with_expiry(if state.config.sessions.browser_session {
            // The record lives as long as the absolute limit; idleness is checked per request.
            tower_sessions::Expiry::OnSessionEnd
        } else {
            tower_sessions::Expiry::OnInactivity(time::Duration::minutes(state.config.sessions.idle_minutes as i64))
        })
}

/// `api` served below `base`: `/` redirects to `base/`, anything else outside it is a 404.
fn under_base(api: Router, base: String) -> Router {
    Router::new().fallback_service(tower::service_fn(move |req: axum::extract::Request| {
        let (api, base) = (api.clone(), base.clone());
        async move {
            let path = req.uri().path().to_owned();
            let Some(rest) = strip_base(&path, &base) else {
                let response = if path == "/" {
                    Redirect::temporary(&format!("{base}/")).into_response()
                } else {
                    crate::http::error::ApiError::not_found(format!("fluxboard is served under {base}/"))
                        .into_response()
                };
                return Ok::<_, std::convert::Infallible>(response);
            };
            let mut req = req;
            let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = format!("{rest}{query}").parse().ok();
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
            tower::ServiceExt::oneshot(api, req).await
        }
    }))
}

/// The path below `base` (`/tools/flux/x` → `/x`, `/tools/flux` → `/`), or None outside it.
fn strip_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    match path.strip_prefix(base)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

async fn clusters(State(state): State<Arc<AppState>>, Caller(identity): Caller) -> impl IntoResponse {
    let visible = crate::auth::visibility(&identity);
    axum::Json(state.store.clusters().into_iter().filter(|c| visible(&c.name, "")).collect::<Vec<_>>())
}

/// A known path with a method it does not take (the router adds the `Allow` header).
async fn method_not_allowed(method: axum::http::Method) -> crate::http::error::ApiError {
    crate::http::error::ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed here; see the Allow header"),
    )
}

/// Who the caller is and what they may do.
async fn me(Caller(identity): Caller) -> impl IntoResponse {
    axum::Json(identity.as_ref().clone())
}

/// Whether every cluster's caches have been synced once. Readiness is "synced once", not
/// "healthy now": ordinary watch churn (a relist, an API server restart) must not take a
/// replica out of its Service, and the stream says when a cluster is stale.
fn ready(state: &AppState) -> bool {
    state.clusters.iter().all(crate::fleet::cluster::Cluster::synced_once)
}

/// The public readiness probe: the status code and nothing that describes the clusters.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let ready = ready(&state);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(serde_json::json!({"ready": ready}))).into_response()
}

/// The readiness probe with each cluster's state (metrics listener only).
async fn readyz_details(State(state): State<Arc<AppState>>) -> Response {
    let status = if ready(&state) { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(state.store.clusters())).into_response()
}

/// What the metrics listener serves: `/metrics` and the detailed `/readyz`, kept off the
/// public port (and so out of the Ingress).
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(crate::api::metrics::render))
        .route("/readyz", get(readyz_details))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_stripped_of_the_base_path() {
        assert_eq!(strip_base("/tools/flux", "/tools/flux"), Some("/"));
        assert_eq!(strip_base("/tools/flux/", "/tools/flux"), Some("/"));
        assert_eq!(strip_base("/tools/flux/api/v1/stream", "/tools/flux"), Some("/api/v1/stream"));
        assert_eq!(strip_base("/tools/fluxboard", "/tools/flux"), None);
        assert_eq!(strip_base("/other", "/tools/flux"), None);
    }

    #[test]
    fn base_paths_are_normalized_and_checked() {
        assert_eq!(normalize_base_path("").unwrap(), "");
        assert_eq!(normalize_base_path("/").unwrap(), "");
        assert_eq!(normalize_base_path("/flux/board/").unwrap(), "/flux/board");
        for bad in ["flux", "/a//b", "/a/../b", "/a b", "/<x>"] {
            assert!(normalize_base_path(bad).is_err(), "{bad:?}");
        }
    }
}
