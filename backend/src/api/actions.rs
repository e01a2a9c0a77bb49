//! `POST /api/v1/actions`: reconcile, reconcile with source, force, reset, suspend, resume and
//! restart, for one object or many; `GET /api/v1/audit`; `GET /api/v1/controllers/{cluster}`.
//!
//! Every attempt is checked against the caller's role and scope before anything is sent, sent
//! impersonating the caller (unless the server runs in service-account mode) with the exact merge
//! patch of `fluxboard_model::action::patch` under field manager `fluxboard`, and audited: a
//! structured log line, an entry in the in-memory audit list, and (when accepted) a core/v1 Event
//! on the target.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fluxboard_model::action::{
    Action, ActionRequest, ActionResponse, ActionResult, AuditEntry, ControllerStatus, NotApplicable, RESTARTED_AT,
    ResultStatus, Target, applies, applies_to_kind, patch, supported_by,
};
use fluxboard_model::api::ObjectRef;
use fluxboard_model::detail::item_health;
use fluxboard_model::{Health, KINDS, KindInfo, kind_info, summarize};
use futures::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::{Identity, Role};
use crate::cluster::Cluster;
use crate::error::ApiError;

/// The namespace the Flux controllers run in.
const FLUX_NAMESPACE: &str = "flux-system";
/// The field manager of every patch.
pub const FIELD_MANAGER: &str = "fluxboard";
/// How many action requests one user may make per minute.
pub const ACTIONS_PER_USER: usize = 120;
/// How many targets of a bulk request are worked on at once.
const BULK_CONCURRENCY: usize = 8;
/// How many audit entries are kept.
const AUDIT_CAPACITY: usize = 1000;
/// How many times a patch is retried after a 409 Conflict.
const CONFLICT_RETRIES: usize = 3;

/// Whose identity patches are sent with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ActAs {
    /// Impersonate the caller (Impersonate-User and Impersonate-Group): cluster RBAC decides.
    #[default]
    User,
    /// The dashboard's own ServiceAccount (for clusters without per-user RBAC).
    ServiceAccount,
}

/// The audit trail. Accepted (and failed) actions and refusals are kept in rings of their own,
/// so refusals, however many, never push an accepted action out; a request's refused targets
/// make one entry; each user's refusals are recorded at most [`REFUSALS_PER_USER`] a minute
/// (the log line is written anyway). With Redis the rings are Redis lists
/// (`fluxboard:audit:acted`, `fluxboard:audit:refused`) shared by every replica; without it,
/// or when Redis cannot answer, this replica's memory.
#[derive(Debug, Default)]
pub struct Audit {
    acted: Mutex<VecDeque<AuditEntry>>,
    refused: Mutex<VecDeque<AuditEntry>>,
    refusals: crate::limiter::Limits,
    redis: Option<crate::limiter::RedisConn>,
}

/// How many refusals of one user the audit list keeps per minute.
pub const REFUSALS_PER_USER: usize = 30;

const AUDIT_RINGS: [&str; 2] = ["fluxboard:audit:acted", "fluxboard:audit:refused"];

impl Audit {
    /// An audit trail in this replica's memory, or in Redis.
    pub fn new(redis: Option<crate::limiter::RedisConn>) -> Audit {
        let refusals = match &redis {
            Some(conn) => crate::limiter::Limits::Redis { conn: conn.clone(), local: Arc::default() },
            None => crate::limiter::Limits::default(),
        };
        Audit { refusals, redis, ..Audit::default() }
    }

    pub async fn record(&self, entry: AuditEntry) {
        let target = entry.target.as_ref();
        tracing::info!(
            target: "audit",
            action = entry.action.map(Action::label),
            cluster = target.map(|t| t.cluster.as_str()),
            kind = target.map(|t| t.kind.as_str()),
            namespace = target.map(|t| t.namespace.as_str()),
            name = target.map(|t| t.name.as_str()),
            user = entry.user,
            groups = entry.groups.join(","),
            result = match entry.status {
                ResultStatus::Accepted => "accepted",
                ResultStatus::Refused => "refused",
                ResultStatus::Failed => "failed",
            },
            token = entry.token.as_deref(),
            message = entry.message,
            "action"
        );
        let refused = entry.status == ResultStatus::Refused;
        if refused && self.refusals.hit(&format!("refusals:{}", entry.user), REFUSALS_PER_USER).await.is_err() {
            return;
        }
        if let Some(conn) = &self.redis {
            let ring = AUDIT_RINGS[usize::from(refused)];
            let mut conn = conn.0.clone();
            let json = serde_json::to_string(&entry).unwrap_or_default();
            let stored: redis::RedisResult<()> = redis::pipe()
                .cmd("LPUSH")
                .arg(ring)
                .arg(json)
                .ignore()
                .cmd("LTRIM")
                .arg(ring)
                .arg(0)
                .arg(AUDIT_CAPACITY as i64 - 1)
                .ignore()
                .query_async(&mut conn)
                .await;
            match stored {
                Ok(()) => return,
                Err(err) => tracing::warn!(%err, "Redis audit unavailable: kept in this replica"),
            }
        }
        let ring = if refused { &self.refused } else { &self.acted };
        let mut entries = ring.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == AUDIT_CAPACITY {
            entries.pop_back();
        }
        entries.push_front(entry);
    }

    /// Every entry, newest first.
    pub async fn entries(&self) -> Vec<AuditEntry> {
        let mut all: Vec<AuditEntry> = [&self.acted, &self.refused]
            .iter()
            .flat_map(|ring| ring.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect::<Vec<_>>())
            .collect();
        if let Some(conn) = &self.redis {
            for ring in AUDIT_RINGS {
                let mut conn = conn.0.clone();
                let stored: redis::RedisResult<Vec<String>> =
                    redis::cmd("LRANGE").arg(ring).arg(0).arg(-1).query_async(&mut conn).await;
                match stored {
                    Ok(list) => all.extend(list.iter().filter_map(|j| serde_json::from_str::<AuditEntry>(j).ok())),
                    Err(err) => tracing::warn!(%err, "Redis audit unavailable: showing this replica's"),
                }
            }
        }
        all.sort_by(|a, b| b.time.cmp(&a.time));
        all
    }
}

/// A refusal or failure of one target: the HTTP status and a sentence.
type Refusal = (StatusCode, String);

pub(crate) async fn post_actions(
    State(state): State<Arc<AppState>>,
    Extension(identity): Extension<Arc<Identity>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let refuse = |status: StatusCode, code: &'static str, message: String| {
        let (state, identity) = (&state, &identity);
        async move {
            state.audit.record(entry(identity, None, None, None, ResultStatus::Refused, &message)).await;
            ApiError::new(status, code, message).into_response()
        }
    };
    if let Err(why) = crate::http::same_origin(&headers, &state.hosts) {
        return refuse(StatusCode::FORBIDDEN, "cross_site", why).await;
    }
    if !crate::http::is_json(&headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request as application/json".into(),
        )
        .await;
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the request body is larger than {} bytes", crate::app::BODY_LIMIT)
            } else {
                format!("cannot read the request body: {rejection}")
            };
            return refuse(status, "bad_body", message).await;
        }
    };
    let request: ActionRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return refuse(StatusCode::BAD_REQUEST, "bad_request", format!("malformed action request: {err}")).await;
        }
    };
    let targets = match request.targets() {
        Ok(targets) => targets,
        Err(why) => {
            state.audit.record(entry(&identity, Some(request.action), None, None, ResultStatus::Refused, &why)).await;
            return ApiError::bad_request(why).into_response();
        }
    };
    // Each user's action requests are limited; the total wait of one request is bounded.
    if let Err(wait) = state.action_limiter.hit(&format!("actions:{}", identity.user), ACTIONS_PER_USER).await {
        let message = format!("too many action requests; try again in {} s", wait.as_secs().max(1));
        return refuse(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).await;
    }
    let deadline = tokio::time::Instant::now() + state.source_wait * 2;
    let single = targets.len() == 1;
    let reason = request.reason.clone();
    let results: Vec<ActionResult> = futures::stream::iter(targets)
        .map(|target| run(&state, &identity, request.action, reason.as_deref(), target, deadline))
        .buffered(BULK_CONCURRENCY)
        .collect()
        .await;
    // A request's refused targets are one audit entry, whatever their number.
    let refused: Vec<&ActionResult> = results.iter().filter(|r| r.status == ResultStatus::Refused).collect();
    if let Some(first) = refused.first() {
        let message = match refused.len() {
            1 => first.message.clone(),
            n => format!("{n} of {} targets refused; the first: {}", results.len(), first.message),
        };
        state
            .audit
            .record(entry(
                &identity,
                Some(request.action),
                Some(first.target.clone()),
                None,
                ResultStatus::Refused,
                &message,
            ))
            .await;
    }
    if single && results[0].status != ResultStatus::Accepted {
        let r = &results[0];
        let status = StatusCode::from_u16(r.code).unwrap_or(StatusCode::BAD_GATEWAY);
        let code = match r.code {
            400 => "bad_request",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            504 => "not_handled",
            _ => "cluster_error",
        };
        return ApiError::new(status, code, r.message.clone()).into_response();
    }
    (StatusCode::ACCEPTED, Json(ActionResponse { action: request.action, results })).into_response()
}

fn entry(
    identity: &Identity,
    action: Option<Action>,
    target: Option<Target>,
    token: Option<String>,
    status: ResultStatus,
    message: &str,
) -> AuditEntry {
    AuditEntry {
        time: jiff::Timestamp::now().to_string(),
        user: identity.user.clone(),
        groups: identity.groups.clone(),
        action,
        target,
        token,
        status,
        message: message.to_owned(),
    }
}

async fn run(
    state: &AppState,
    identity: &Identity,
    action: Action,
    reason: Option<&str>,
    target: Target,
    deadline: tokio::time::Instant,
) -> ActionResult {
    let outcome = attempt(state, identity, action, reason, &target, deadline).await;
    let (status, code, token, message) = match outcome {
        Ok((token, message)) => (ResultStatus::Accepted, 202, Some(token), message),
        Err(Attempt::Refused((code, message))) => (ResultStatus::Refused, code.as_u16(), None, message),
        Err(Attempt::Failed((code, message), token)) => (ResultStatus::Failed, code.as_u16(), token, message),
    };
    if status != ResultStatus::Refused {
        state.audit.record(entry(identity, Some(action), Some(target.clone()), token.clone(), status, &message)).await;
    }
    let result = match status {
        ResultStatus::Accepted => "accepted",
        ResultStatus::Refused => "refused",
        ResultStatus::Failed => "failed",
    };
    state.metrics.action(action.label(), result);
    ActionResult { target, status, code, token, message }
}

enum Attempt {
    /// Nothing was sent.
    Refused(Refusal),
    /// Something was sent and then a step failed (with the token, when one was sent).
    Failed(Refusal, Option<String>),
}

fn refused(status: StatusCode, message: impl Into<String>) -> Attempt {
    Attempt::Refused((status, message.into()))
}

fn not_applicable(n: NotApplicable) -> Attempt {
    refused(StatusCode::from_u16(n.code).unwrap_or(StatusCode::BAD_REQUEST), n.message)
}

/// A Flux kind by name (and group, when given).
fn flux_kind(target: &Target) -> Option<&'static KindInfo> {
    match &target.group {
        Some(group) => kind_info(group, &target.kind),
        None => KINDS.iter().find(|k| k.kind == target.kind),
    }
}

async fn attempt(
    state: &AppState,
    identity: &Identity,
    action: Action,
    reason: Option<&str>,
    t: &Target,
    deadline: tokio::time::Instant,
) -> Result<(String, String), Attempt> {
    let cluster = state
        .cluster(&t.cluster)
        .ok_or_else(|| refused(StatusCode::NOT_FOUND, format!("no cluster named {:?}", t.cluster)))?;
    let what = format!("{} {}/{}", t.kind, t.namespace, t.name);
    let needed = if action == Action::Restart { Role::Admin } else { Role::Operator };
    if action == Action::Restart {
        if t.kind != "Deployment" || t.group.as_deref().is_some_and(|g| g != "apps") {
            return Err(refused(StatusCode::BAD_REQUEST, "restart applies to the Flux controller Deployments only"));
        }
    } else {
        let info =
            flux_kind(t).ok_or_else(|| refused(StatusCode::NOT_FOUND, format!("{} is not a Flux kind", t.kind)))?;
        applies_to_kind(action, info).map_err(not_applicable)?;
    }
    if !identity.may(needed, &t.cluster, &t.namespace) {
        let role = if needed == Role::Admin { "admin" } else { "operator" };
        return Err(refused(
            StatusCode::FORBIDDEN,
            format!(
                "forbidden: {} may not {} {what} in {}; it needs the {role} role there",
                identity.user,
                action.label(),
                t.cluster
            ),
        ));
    }
    let client = match state.act_as {
        ActAs::User => cluster
            .impersonating(&identity.user, &identity.groups)
            .map_err(|e| Attempt::Refused((StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))))?,
        ActAs::ServiceAccount => cluster.client.clone(),
    };
    let token = jiff::Timestamp::now().to_string();
    if action == Action::Restart {
        let ar = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        let api: Api<DynamicObject> = Api::namespaced_with(client, &t.namespace, &ar);
        let obj = api.get(&t.name).await.map_err(|e| read_refusal(&what, &e))?;
        let labels = &obj.metadata.labels;
        if labels.as_ref().and_then(|l| l.get("app.kubernetes.io/part-of")).map(String::as_str) != Some("flux") {
            return Err(refused(StatusCode::BAD_REQUEST, format!("{what} is not a Flux controller")));
        }
        send(&api, &t.name, &patch(action, "Deployment", &token, &identity.user, reason), &what)
            .await
            .map_err(Attempt::Refused)?;
        record_event(cluster, &ar, &obj, action, &token, &identity.user, reason).await;
        return Ok((token, format!("rolling restart of {what} requested")));
    }
    let info = flux_kind(t).expect("checked above");
    let ar = cluster
        .flux_kind(info.group, info.kind)
        .ok_or_else(|| refused(StatusCode::NOT_FOUND, format!("cluster {} does not serve {}", t.cluster, info.kind)))?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &t.namespace, &ar);
    let obj = api.get(&t.name).await.map_err(|e| read_refusal(&what, &e))?;
    let value = serde_json::to_value(&obj).unwrap_or_default();
    applies(action, &summarize(&t.cluster, info, &value)).map_err(not_applicable)?;
    supported_by(action, info.kind, &ar.version).map_err(not_applicable)?;
    if action == Action::ReconcileWithSource {
        let mut chain = source_chain(info.kind, &t.namespace, &value);
        if info.kind == "HelmRelease"
            && let [chart] = chain.as_slice()
            && chart.0 == "HelmChart"
            && let Some(source) = chart_source(cluster, &client, chart).await
        {
            chain.insert(0, source);
        }
        for (kind, namespace, name) in chain {
            fluxboard_model::action::check_namespace(&namespace)
                .and_then(|()| fluxboard_model::action::check_name(&name))
                .map_err(|why| refused(StatusCode::BAD_REQUEST, format!("the source {kind}: {why}")))?;
            // Scope is checked on every object the action touches, not only the target.
            if !identity.may(Role::Operator, &t.cluster, &namespace) {
                return Err(refused(
                    StatusCode::FORBIDDEN,
                    format!(
                        "forbidden: {} may not reconcile the source {kind} {namespace}/{name} in {}; it needs the operator role in {namespace}",
                        identity.user, t.cluster
                    ),
                ));
            }
            reconcile_and_wait(state, cluster, &client, &kind, &namespace, &name, &token, &identity.user, deadline)
                .await?;
        }
    }
    send(&api, &t.name, &patch(action, info.kind, &token, &identity.user, reason), &what).await.map_err(|r| {
        if action == Action::ReconcileWithSource {
            Attempt::Failed(r, Some(token.clone()))
        } else {
            Attempt::Refused(r)
        }
    })?;
    record_event(cluster, &ar, &obj, action, &token, &identity.user, reason).await;
    Ok((token, format!("{} of {what} requested", action.label())))
}

/// The sources to reconcile first, in order, as `flux reconcile --with-source` does: a
/// Kustomization's source; a HelmRelease's chart source and then its HelmChart
/// `<namespace>-<name>` (reconcile_helmrelease.go), or its chartRef; a HelmChart's source (`flux
/// reconcile source chart --with-source`). A chartRef to a HelmChart also needs that chart's own
/// source first: [`chart_source`] reads it.
fn source_chain(kind: &str, namespace: &str, obj: &Value) -> Vec<(String, String, String)> {
    match kind {
        "Kustomization" | "HelmChart" => reference(&obj["spec"]["sourceRef"], namespace).into_iter().collect(),
        "HelmRelease" => {
            if let Some(chart_ref) = reference(&obj["spec"]["chartRef"], namespace) {
                return vec![chart_ref];
            }
            let Some((source_kind, source_ns, source_name)) =
                reference(&obj["spec"]["chart"]["spec"]["sourceRef"], namespace)
            else {
                return Vec::new();
            };
            let chart = format!("{namespace}-{}", obj["metadata"]["name"].as_str().unwrap_or_default());
            vec![(source_kind, source_ns.clone(), source_name), ("HelmChart".to_owned(), source_ns, chart)]
        }
        _ => Vec::new(),
    }
}

/// `(kind, namespace, name)` of a source reference, defaulting to the referrer's namespace.
fn reference(r: &Value, namespace: &str) -> Option<(String, String, String)> {
    let kind = r["kind"].as_str()?.to_owned();
    let name = r["name"].as_str()?.to_owned();
    let ns = r["namespace"].as_str().unwrap_or(namespace).to_owned();
    Some((kind, ns, name))
}

/// The source of a HelmChart, read as the user.
async fn chart_source(
    cluster: &Cluster,
    client: &kube::Client,
    (_, namespace, name): &(String, String, String),
) -> Option<(String, String, String)> {
    let ar = cluster.flux_kind("source.toolkit.fluxcd.io", "HelmChart")?;
    let chart = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &ar).get(name).await.ok()?;
    reference(&chart.data["spec"]["sourceRef"], namespace)
}

/// Requests a reconciliation of a source and waits until it is handled.
#[allow(clippy::too_many_arguments)] // reason: one step of one action; a struct would only rename these
async fn reconcile_and_wait(
    state: &AppState,
    cluster: &Cluster,
    client: &kube::Client,
    kind: &str,
    namespace: &str,
    name: &str,
    token: &str,
    user: &str,
    request_deadline: tokio::time::Instant,
) -> Result<(), Attempt> {
    let started = tokio::time::Instant::now();
    let what = format!("source {kind} {namespace}/{name}");
    let Some(info) = KINDS.iter().find(|k| k.kind == kind) else {
        return Err(Attempt::Failed((StatusCode::BAD_REQUEST, format!("{what}: not a Flux kind")), None));
    };
    let Some(ar) = cluster.flux_kind(info.group, info.kind) else {
        return Err(Attempt::Failed((StatusCode::NOT_FOUND, format!("{what}: kind not served")), None));
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
    let obj = api.get(name).await.map_err(|e| Attempt::Failed(step_refusal(&what, &e), None))?;
    let value = serde_json::to_value(&obj).unwrap_or_default();
    // A static source (an OCI HelmRepository, an ExternalArtifact) has nothing to reconcile.
    if !info.reconcilable || info.is_static_object(&value) {
        return Ok(());
    }
    // A suspended source would ack the token and leave its artifact as it is (source-controller
    // records the request before its suspend check), so the object would reconcile stale input.
    if info.is_suspended(&value) {
        return Err(Attempt::Failed(
            (StatusCode::CONFLICT, format!("{what} is suspended; the object itself was not reconciled")),
            None,
        ));
    }
    send(&api, name, &patch(Action::Reconcile, kind, token, user, None), &what)
        .await
        .map_err(|r| Attempt::Failed(r, None))?;
    record_event(cluster, &ar, &obj, Action::Reconcile, token, user, None).await;
    // Waited on the watch cache (the store), not by polling the API server; bounded by the step's
    // wait and by what is left of the whole request's.
    let deadline = (tokio::time::Instant::now() + state.source_wait).min(request_deadline);
    let key = ObjectRef {
        cluster: cluster.name.clone(),
        group: info.group.to_owned(),
        kind: info.kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    loop {
        if let Some(summary) = state.store.get(&key)
            && summary.last_handled_reconcile_at.as_deref() == Some(token)
        {
            // Handled: go on only if the source ended Ready, as the CLI requires.
            match summary.health {
                Health::Ready => return Ok(()),
                Health::Failing | Health::Stalled | Health::Suspended | Health::Unknown => {
                    return Err(Attempt::Failed(
                        (
                            StatusCode::CONFLICT,
                            format!(
                                "{what} reconciliation failed: {}; the object itself was not reconciled",
                                summary.message
                            ),
                        ),
                        Some(token.to_owned()),
                    ));
                }
                Health::Progressing | Health::Terminating => {}
            }
        }
        if tokio::time::Instant::now() > deadline {
            let waited = started.elapsed();
            let controller = if kind == "HelmChart" || info.group.starts_with("source") {
                "source-controller"
            } else {
                "its controller"
            };
            return Err(Attempt::Failed(
                (
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "{what} did not handle the request within {} s: is {controller} running? The object itself was not reconciled.",
                        waited.as_secs()
                    ),
                ),
                Some(token.to_owned()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a merge patch under the `fluxboard` field manager, retrying conflicts.
async fn send(api: &Api<DynamicObject>, name: &str, body: &Value, what: &str) -> Result<(), Refusal> {
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
    let mut tries = 0;
    loop {
        match api.patch(name, &params, &Patch::Merge(body)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 && tries < CONFLICT_RETRIES => tries += 1,
            Err(err) => return Err(write_refusal(what, &err)),
        }
    }
}

fn read_refusal(what: &str, err: &kube::Error) -> Attempt {
    Attempt::Refused(step_refusal(what, err))
}

fn step_refusal(what: &str, err: &kube::Error) -> Refusal {
    let api = ApiError::from_kube(what, err);
    (api.status, api.message)
}

fn write_refusal(what: &str, err: &kube::Error) -> Refusal {
    match err {
        kube::Error::Api(status) if status.code == 403 => {
            (StatusCode::FORBIDDEN, format!("forbidden by cluster RBAC: {}", status.message))
        }
        kube::Error::Api(status) if status.code == 404 => (StatusCode::NOT_FOUND, format!("{what} not found")),
        kube::Error::Api(status) if status.code == 409 => {
            (StatusCode::CONFLICT, format!("{what} kept changing; try again ({})", status.message))
        }
        other => (StatusCode::BAD_GATEWAY, format!("patching {what} failed: {}", crate::cluster::kube_error(other))),
    }
}

/// Records a core/v1 Event on the target, as the dashboard (users may not create Events).
async fn record_event(
    cluster: &Cluster,
    ar: &ApiResource,
    obj: &DynamicObject,
    action: Action,
    token: &str,
    user: &str,
    reason: Option<&str>,
) {
    let namespace = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let now = jiff::Timestamp::now();
    let why = reason.filter(|r| !r.is_empty()).map(|r| format!(": {r}")).unwrap_or_default();
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{name}.{:x}", now.as_nanosecond()),
            "namespace": namespace,
            "annotations": {"fluxboard.dev/user": user, "fluxboard.dev/token": token},
        },
        "involvedObject": {"apiVersion": ar.api_version, "kind": ar.kind, "name": name, "namespace": namespace,
            "uid": obj.metadata.uid, "resourceVersion": obj.metadata.resource_version},
        "reason": action.event_reason(),
        "message": format!("{user} requested {} via fluxboard{why}", action.label()),
        "type": "Normal",
        "source": {"component": "fluxboard"},
        "reportingComponent": "fluxboard",
        "firstTimestamp": now.to_string(),
        "lastTimestamp": now.to_string(),
        "count": 1,
    });
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        &namespace,
        &ApiResource::erase::<k8s_openapi::api::core::v1::Event>(&()),
    );
    let event: DynamicObject = match serde_json::from_value(event) {
        Ok(e) => e,
        Err(_) => return,
    };
    if let Err(err) = api.create(&PostParams::default(), &event).await {
        tracing::warn!(err = crate::cluster::kube_error(&err), "could not record the action as an Event");
    }
}

pub(crate) async fn get_audit(
    State(state): State<Arc<AppState>>,
    Extension(identity): Extension<Arc<Identity>>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    if !identity.has_role_somewhere(Role::Admin) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "the audit log is for admins"));
    }
    // An admin of some places sees what happened there; entries without a target (malformed
    // requests) only admins of everything see.
    let everywhere = identity
        .grants
        .iter()
        .any(|g| g.role == Role::Admin && g.clusters.iter().any(|c| c == "*") && g.namespaces.iter().any(|n| n == "*"));
    let entries = state.audit.entries().await.into_iter().filter(|e| match &e.target {
        Some(t) => identity.may(Role::Admin, &t.cluster, &t.namespace),
        None => everywhere,
    });
    Ok(Json(entries.collect()))
}

pub(crate) async fn get_controllers(
    State(state): State<Arc<AppState>>,
    Extension(identity): Extension<Arc<Identity>>,
    crate::error::ApiPath(cluster_name): crate::error::ApiPath<String>,
) -> Result<Json<Vec<ControllerStatus>>, ApiError> {
    // Authorization first, so cluster names do not leak through 404s: the controllers are for
    // those who see the Flux namespace of that cluster, or are an admin in it.
    let admin_here = identity
        .grants
        .iter()
        .any(|g| g.role == Role::Admin && g.clusters.iter().any(|c| crate::auth::glob(c, &cluster_name)));
    if !identity.may(Role::Viewer, &cluster_name, FLUX_NAMESPACE) && !admin_here {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "you may not see this cluster's controllers"));
    }
    let cluster = state
        .cluster(&cluster_name)
        .ok_or_else(|| ApiError::not_found(format!("no cluster named {cluster_name:?}")))?;
    let ar = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
    let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &ar);
    let list = api
        .list(&ListParams::default().labels("app.kubernetes.io/part-of=flux"))
        .await
        .map_err(|e| ApiError::from_kube("the Flux controllers", &e))?;
    let mut out: Vec<ControllerStatus> = list
        .items
        .iter()
        .map(|d| {
            let value = serde_json::to_value(d).unwrap_or_default();
            let (health, message) = item_health("apps", "Deployment", &value, jiff::Timestamp::now().as_second());
            let template = &value["spec"]["template"];
            ControllerStatus {
                namespace: d.metadata.namespace.clone().unwrap_or_default(),
                name: d.metadata.name.clone().unwrap_or_default(),
                replicas: value["spec"]["replicas"].as_i64().unwrap_or(1),
                ready_replicas: value["status"]["readyReplicas"].as_i64().unwrap_or(0),
                ready: health == fluxboard_model::api::ItemHealth::Current,
                message,
                image: template["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_owned(),
                restarted_at: template["metadata"]["annotations"][RESTARTED_AT].as_str().map(str::to_owned),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_come_before_the_object() {
        let ks = json!({"spec": {"sourceRef": {"kind": "GitRepository", "name": "repo"}}});
        assert_eq!(
            source_chain("Kustomization", "team-a", &ks),
            vec![("GitRepository".into(), "team-a".into(), "repo".into())]
        );
        let hr = json!({"metadata": {"name": "podinfo"}, "spec": {"chart": {"spec": {"chart": "podinfo",
            "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux-system"}}}}});
        assert_eq!(
            source_chain("HelmRelease", "team-a", &hr),
            vec![
                ("HelmRepository".into(), "flux-system".into(), "charts".into()),
                ("HelmChart".into(), "flux-system".into(), "team-a-podinfo".into())
            ]
        );
        let chart_ref = json!({"spec": {"chartRef": {"kind": "OCIRepository", "name": "redis"}}});
        assert_eq!(
            source_chain("HelmRelease", "team-b", &chart_ref),
            vec![("OCIRepository".into(), "team-b".into(), "redis".into())]
        );
        let chart = json!({"spec": {"sourceRef": {"kind": "GitRepository", "name": "charts"}}});
        assert_eq!(
            source_chain("HelmChart", "team-a", &chart),
            vec![("GitRepository".into(), "team-a".into(), "charts".into())],
            "flux reconcile source chart --with-source"
        );
        assert!(source_chain("GitRepository", "x", &json!({})).is_empty());
    }
}
