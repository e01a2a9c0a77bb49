//! The HTTP API as the web app uses it: every URL and request body in one place, answers as
//! `fluxboard-model` types, failures as one closed [`ApiError`].
//!
//! Reads made inside a reactive owner (a [`crate::load::Load`], a component) are aborted
//! when that owner is cleaned up: a page left before its data arrived does not keep the request
//! running (leptos's hackernews example does the same). Writes (actions, logins) are never
//! aborted: a request the person confirmed finishes even if the dialog or page is gone.

use fluxboard_model::action::{ActionRequest, ActionResponse, AuditEntry, ControllerStatus, Target};
use fluxboard_model::api::{ErrorBody, ObjectDetail, ObjectRef, Snapshot};
use fluxboard_model::audit::{AuditQuery, TOTAL_HEADER};
use fluxboard_model::auth::{Identity, Methods};
use leptos::prelude::on_cleanup;
use serde::de::DeserializeOwned;

use crate::route::ref_path;

/// Why a request failed, for people (`Display`) and for code (the variant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    /// The request did not reach fluxboard (network down, server gone, or aborted).
    #[error("cannot reach fluxboard: {0}")]
    Unreachable(String),
    /// fluxboard refused or failed, and said why in its `{"error": {code, message}}` body.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The machine-readable code (`not_found`, `forbidden`...).
        code: String,
        /// The sentence for people.
        message: String,
    },
    /// An error status without fluxboard's error body (a proxy in between, say).
    #[error("fluxboard answered {0}")]
    Status(u16),
    /// A success whose body is not what was asked for.
    #[error("unreadable answer: {0}")]
    Unreadable(String),
}

/// The URL that starts the single sign-on flow (a plain link: the browser leaves the app).
pub(crate) const OIDC_LOGIN: &str = "auth/oidc/login";

/// `GET /api/v1/me`: the logged-in identity, `None` when login is needed.
pub(crate) async fn me() -> Result<Option<Identity>, ApiError> {
    match get::<Identity>("api/v1/me").await {
        Ok(me) => Ok(Some(me)),
        Err(ApiError::Refused { status: 401, .. } | ApiError::Status(401)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET /api/v1/snapshot`: the fleet the caller may see (gzip on the wire).
pub(crate) async fn snapshot() -> Result<Snapshot, ApiError> {
    get("api/v1/snapshot").await
}

/// The event stream continuing right after the snapshot `id`.
pub(crate) fn stream_url(after: &str) -> String {
    format!("api/v1/stream?after={after}")
}

/// `GET /api/v1/objects/...`: one object in full.
pub(crate) async fn object(r: &ObjectRef) -> Result<ObjectDetail, ApiError> {
    get(&format!("api/v1/objects/{}", ref_path(r))).await
}

/// `GET /api/v1/why/...`: the chain from an object to its root cause, read as `T` (the detail
/// page reads only the parts it shows).
pub(crate) async fn why<T: DeserializeOwned>(r: &ObjectRef) -> Result<T, ApiError> {
    get(&format!("api/v1/why/{}", ref_path(r))).await
}

/// `GET /api/v1/controllers/<cluster>`: the cluster's Flux controllers.
pub(crate) async fn controllers(cluster: &str) -> Result<Vec<ControllerStatus>, ApiError> {
    get(&format!("api/v1/controllers/{}", fluxboard_model::view::encode(cluster))).await
}

/// `GET /api/v1/audit?...`: a page of the action attempts, newest first, and how many match
/// in all (admins).
pub(crate) async fn audit(page: AuditQuery) -> Result<(Vec<AuditEntry>, usize), ApiError> {
    let signal = abort_on_cleanup();
    let res = gloo_net::http::Request::get(&format!("api/v1/audit?{}", page.to_query()))
        .abort_signal(signal.as_ref())
        .send()
        .await
        .map_err(|e| ApiError::Unreachable(e.to_string()))?;
    let total = res.headers().get(TOTAL_HEADER).and_then(|t| t.parse().ok());
    let entries: Vec<AuditEntry> = answer(res).await?;
    let total = total.unwrap_or(page.offset + entries.len());
    Ok((entries, total))
}

/// `POST /api/v1/actions`: one target at the top level, several as `targets`.
pub(crate) async fn act(
    action: fluxboard_model::action::Action,
    targets: &[Target],
    reason: Option<String>,
) -> Result<ActionResponse, ApiError> {
    let mut request = ActionRequest {
        action,
        reason,
        targets: None,
        cluster: None,
        group: None,
        kind: None,
        namespace: None,
        name: None,
    };
    match targets {
        [t] => {
            request.cluster = Some(t.cluster.clone());
            request.group = t.group.clone();
            request.kind = Some(t.kind.clone());
            request.namespace = Some(t.namespace.clone());
            request.name = Some(t.name.clone());
        }
        many => request.targets = Some(many.to_vec()),
    }
    post::<ActionResponse>("api/v1/actions", &to_json(&request)?)
        .await?
        .ok_or_else(|| ApiError::Unreadable("fluxboard sent no answer".to_owned()))
}

/// `GET /auth/methods`: the login methods this server offers.
pub(crate) async fn login_methods() -> Result<Methods, ApiError> {
    get("auth/methods").await
}

/// What a person logs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// A local user's name and password: `POST /auth/login`.
    Password { username: String, password: String },
    /// A Kubernetes bearer token, reviewed by the cluster: `POST /auth/token`.
    Token(String),
}

/// Logs in (the session cookie is set by the answer).
pub(crate) async fn log_in(credentials: &Credentials) -> Result<(), ApiError> {
    let (url, body) = match credentials {
        Credentials::Password { username, password } => {
            ("auth/login", serde_json::json!({"username": username, "password": password}))
        }
        Credentials::Token(token) => ("auth/token", serde_json::json!({ "token": token })),
    };
    post::<serde_json::Value>(url, &body).await.map(|_| ())
}

/// `POST /auth/logout`.
pub(crate) async fn logout() -> Result<(), ApiError> {
    post::<serde_json::Value>("auth/logout", &serde_json::json!({})).await.map(|_| ())
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::Unreadable(e.to_string()))
}

/// An abort signal for a read, fired when the current reactive owner is cleaned up (none
/// outside an owner: the app's own long-lived reads).
fn abort_on_cleanup() -> Option<web_sys::AbortSignal> {
    let controller = web_sys::AbortController::new().ok()?;
    let signal = controller.signal();
    let controller = send_wrapper::SendWrapper::new(controller);
    on_cleanup(move || controller.abort());
    Some(signal)
}

/// GETs `url` (relative to the base path) as JSON.
async fn get<T: DeserializeOwned>(url: &str) -> Result<T, ApiError> {
    let signal = abort_on_cleanup();
    let res = gloo_net::http::Request::get(url)
        .abort_signal(signal.as_ref())
        .send()
        .await
        .map_err(|e| ApiError::Unreachable(e.to_string()))?;
    answer(res).await
}

/// POSTs `body` as JSON to `url`; `None` for an answer without a body (204).
async fn post<T: DeserializeOwned>(url: &str, body: &serde_json::Value) -> Result<Option<T>, ApiError> {
    let res = gloo_net::http::Request::post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .map_err(|e| ApiError::Unreachable(e.to_string()))?
        .send()
        .await
        .map_err(|e| ApiError::Unreachable(e.to_string()))?;
    if res.status() == 204 {
        return Ok(None);
    }
    answer(res).await.map(Some)
}

async fn answer<T: DeserializeOwned>(res: gloo_net::http::Response) -> Result<T, ApiError> {
    if res.ok() {
        return res.json::<T>().await.map_err(|e| ApiError::Unreadable(e.to_string()));
    }
    let status = res.status();
    match res.json::<ErrorBody>().await {
        Ok(body) => Err(ApiError::Refused { status, code: body.error.code, message: body.error.message }),
        Err(_) => Err(ApiError::Status(status)),
    }
}
