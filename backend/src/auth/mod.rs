//! Who is asking: login (`login`: local users and Kubernetes tokens; `oidc`: single sign-on),
//! sessions (`sessions`), login limits (`limiter`), the configuration file (`config`), and here
//! the identity on every request and what it may see.
//!
//! The identity comes from the session (local users, Kubernetes tokens; see login.rs), or is the
//! anonymous viewer when anonymous access is on, or is fixed for every request when the server
//! runs without login (`--open-role`, tests).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use fluxboard_model::auth::{Grant, Identity, Role, glob};
use tower_sessions::Session;

pub mod config;
pub(crate) mod limiter;
pub mod login;
pub(crate) mod oidc;
pub(crate) mod sessions;

use crate::state::AppState;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "fluxboard_session";
use crate::auth::login::{SESSION_SEEN, SESSION_USER, SessionUser};
use crate::fleet::store::Visibility;
use crate::http::error::ApiError;

/// What `identity` may see: objects in namespaces it holds any role for; the states of clusters
/// it holds any role in.
pub fn visibility(identity: &Identity) -> Visibility {
    // Most streams see everything (no login, a viewer or admin everywhere): such a check reads
    // nothing. Each stream checks every change, and a thousand streams' own grants are a
    // thousand cache misses a change.
    let everywhere = |patterns: &[String]| patterns.iter().any(|p| p == "*");
    if identity.grants.iter().any(|g| everywhere(&g.clusters) && everywhere(&g.namespaces)) {
        return Arc::new(|_, _| true);
    }
    let grants = identity.grants.clone();
    Arc::new(move |cluster, namespace| {
        grants.iter().any(|g| {
            g.clusters.iter().any(|c| glob(c, cluster))
                && (namespace.is_empty() || g.namespaces.iter().any(|n| glob(n, namespace)))
        })
    })
}

/// The 401 of a request without an identity.
fn unauthenticated() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first (or your session expired)")
}

/// The caller's identity as a handler takes it, put on the request by [`identity_layer`]; a
/// request without one is refused with our JSON 401 (a bare `Extension` would answer axum's
/// plain-text 500).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Arc<Identity>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Caller, ApiError> {
        parts.extensions.get::<Arc<Identity>>().cloned().map(Caller).ok_or_else(unauthenticated)
    }
}

/// Marks a request whose identity comes from a login (not fixed, not anonymous): its reads and
/// actions are sent impersonating the user.
#[derive(Debug, Clone, Copy)]
pub struct LoggedIn;

/// Puts the caller's identity on the request: the fixed one (no login), the session's user
/// (with the grants the role bindings give them now), or the anonymous viewer when that is on.
/// API requests without an identity get 401.
pub async fn identity_layer(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let identity = match &state.fixed_identity {
        Some(fixed) => Some(fixed.clone()),
        None => match session_identity(&state, req.extensions().get::<Session>()).await {
            Ok(Some(found)) => {
                req.extensions_mut().insert(LoggedIn);
                Some(found)
            }
            Ok(None) => state.config.anonymous().map(Arc::new),
            Err(error) => return error.into_response(),
        },
    };
    match identity {
        Some(identity) => {
            req.extensions_mut().insert(identity);
        }
        None if req.uri().path().starts_with("/api/") => return unauthenticated().into_response(),
        None => {}
    }
    next.run(req).await
}

async fn session_identity(state: &AppState, session: Option<&Session>) -> Result<Option<Arc<Identity>>, ApiError> {
    let Some(session) = session else { return Ok(None) };
    let user = match session.get::<SessionUser>(SESSION_USER).await {
        Ok(user) => user,
        Err(err) => {
            tracing::error!(%err, "session store failed");
            return Err(ApiError::unavailable("the session store is unavailable; try again"));
        }
    };
    let Some(user) = user else { return Ok(None) };
    // Idle expiry, enforced here too: a browser-session cookie has no Max-Age, so the store's
    // expiry is long; the last activity (updated at most once a minute) decides.
    let now = jiff::Timestamp::now().as_second();
    let seen = session.get::<i64>(SESSION_SEEN).await.ok().flatten().unwrap_or(user.login_at);
    let identity = if idle_too_long(state, seen, now) { None } else { identity_of(state, &user) };
    match identity {
        Some(identity) => {
            if now - seen >= 60 {
                let _ = session.insert(SESSION_SEEN, now).await;
            }
            Ok(Some(Arc::new(identity)))
        }
        None => {
            // Idle, past the absolute lifetime, or the user's record changed: log out.
            let _ = session.flush().await;
            Ok(None)
        }
    }
}

/// Whether a session last active at `seen` has been idle longer than the idle time at `now`.
fn idle_too_long(state: &AppState, seen: i64, now: i64) -> bool {
    now - seen > state.config.sessions.idle_minutes as i64 * 60
}

/// The identity a session's user has now, or None past the session's absolute lifetime or
/// when the user's record changed (see [`crate::auth::config::Config::current_identity`]).
fn identity_of(state: &AppState, user: &SessionUser) -> Option<Identity> {
    let absolute = state.config.sessions.absolute_hours as i64 * 3600;
    if jiff::Timestamp::now().as_second() - user.login_at > absolute {
        return None;
    }
    state.config.current_identity(user)
}

/// The identity a stored session record stands for now (None: no user, expired, or idle for
/// longer than the idle time: a browser-session record lives as long as the absolute limit).
pub(crate) fn identity_of_record(state: &AppState, record: &tower_sessions::session::Record) -> Option<Identity> {
    if record.expiry_date <= time::OffsetDateTime::now_utc() {
        return None;
    }
    let user: SessionUser = serde_json::from_value(record.data.get(SESSION_USER)?.clone()).ok()?;
    let seen = record.data.get(SESSION_SEEN).and_then(serde_json::Value::as_i64).unwrap_or(user.login_at);
    if idle_too_long(state, seen, jiff::Timestamp::now().as_second()) {
        return None;
    }
    identity_of(state, &user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_without_an_identity_answers_the_json_401() {
        use axum::extract::FromRequestParts as _;
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        let refused = Caller::from_request_parts(&mut parts, &()).await.unwrap_err();
        assert_eq!((refused.status, refused.code), (StatusCode::UNAUTHORIZED, "unauthenticated"));
        parts.extensions.insert(Arc::new(Identity::open(Role::Viewer)));
        let Caller(found) = Caller::from_request_parts(&mut parts, &()).await.unwrap();
        assert_eq!(*found, Identity::open(Role::Viewer));
    }

    #[test]
    fn visibility_follows_the_grants() {
        let id = Identity {
            user: "ann".into(),
            groups: vec![],
            grants: vec![Grant {
                role: Role::Viewer,
                clusters: vec!["prod".into()],
                namespaces: vec!["team-*".into()],
            }],
        };
        let visible = visibility(&id);
        assert!(visible("prod", "team-b") && visible("prod", ""));
        assert!(!visible("prod", "flux-system") && !visible("staging", "team-a"));
        // A grant everywhere beside a narrow one sees everything; "*" for the clusters alone
        // does not.
        let mut wide = id.clone();
        wide.grants.push(Grant { role: Role::Viewer, clusters: vec!["*".into()], namespaces: vec!["*".into()] });
        let visible = visibility(&wide);
        assert!(visible("staging", "flux-system") && visible("any", ""));
        let mut clusters_only = id;
        clusters_only.grants[0].clusters = vec!["*".into()];
        let visible = visibility(&clusters_only);
        assert!(visible("staging", "team-a") && !visible("staging", "flux-system"));
    }
}
