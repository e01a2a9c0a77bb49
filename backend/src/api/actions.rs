//! `POST /api/v1/actions`: reconcile, reconcile with source, force, reset, suspend, resume and
//! restart, for one object or many.
//!
//! Every attempt is checked against the caller's role and scope before anything is sent, sent
//! impersonating the caller (unless the server runs in service-account mode) with the exact merge
//! patch of `fluxboard_model::action::patch` under field manager `fluxboard`, and audited: a
//! structured log line, an entry in the in-memory audit list, and (when accepted) a core/v1 Event
//! on the target.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fluxboard_model::action::{
    Action, ActionRequest, ActionResponse, ActionResult, NotApplicable, ResultStatus, Target, applies, applies_to_kind,
    patch, supported_by,
};
use fluxboard_model::api::ObjectRef;
use fluxboard_model::{Health, KINDS, KindInfo, kind_info, summarize};
use futures::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::api::audit::entry;
use crate::auth::Caller;
use crate::auth::{Identity, Role};
use crate::fleet::cluster::Cluster;
use crate::http::error::{ApiError, Reason};
use crate::state::AppState;

/// The field manager of every patch.
pub const FIELD_MANAGER: &str = "fluxboard";
/// How many action requests one user may make per minute.
pub const ACTIONS_PER_USER: usize = 120;
/// How many targets of a bulk request are worked on at once.
const BULK_CONCURRENCY: usize = 8;
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

/// One request's work: its deadline, and the source steps its targets share.
struct Work {
    deadline: tokio::time::Instant,
    steps: Mutex<std::collections::HashMap<String, Step>>,
}

/// One source step of a request, done once for every target that shares it.
type Step = Arc<tokio::sync::OnceCell<Result<(), Attempt>>>;

impl Work {
    fn step(&self, key: &str) -> Step {
        self.steps.lock().unwrap_or_else(|e| e.into_inner()).entry(key.to_owned()).or_default().clone()
    }
}

/// Whether a recorded `handled` token answers our request `token`: the same, or a later one
/// (the controller reconciled after our request was written: another request or person asked
/// too, and the later token is the one recorded).
fn answers(handled: Option<&str>, token: &str) -> bool {
    let Some(handled) = handled else { return false };
    handled == token
        || matches!((handled.parse::<jiff::Timestamp>(), token.parse::<jiff::Timestamp>()), (Ok(h), Ok(t)) if h >= t)
}

/// Why an action request, or one of its targets, was refused or failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActionError {
    /// The request failed the origin, content type or body checks.
    #[error(transparent)]
    Request(#[from] crate::http::RequestError),
    /// The body is not an action request.
    #[error("malformed action request: {0}")]
    Malformed(String),
    /// The request's targets are missing, too many or malformed (the model's rule says which).
    #[error("{0}")]
    BadTargets(String),
    /// The caller made too many action requests in the last minute.
    #[error("too many action requests; try again in {} s", .0.retry_after_secs())]
    RateLimited(crate::auth::limiter::Limited),
    /// The target names a cluster this server does not watch.
    #[error("no cluster named {0:?}")]
    NoCluster(String),
    /// A restart names something other than a Deployment.
    #[error("restart applies to the Flux controller Deployments only")]
    RestartNotDeployment,
    /// The Deployment to restart is not part of Flux.
    #[error("{0} is not a Flux controller")]
    NotAController(String),
    /// The target's kind is not a Flux kind.
    #[error("{0} is not a Flux kind")]
    NotFluxKind(String),
    /// The cluster does not serve the target's kind.
    #[error("cluster {cluster} does not serve {kind}")]
    NotServed {
        /// The target's cluster.
        cluster: String,
        /// The kind it does not serve.
        kind: String,
    },
    /// The action does not apply to this kind or object (the model's rule, with its status).
    #[error("{}", .0.message)]
    NotApplicable(NotApplicable),
    /// The caller lacks the role the action needs where the target is.
    #[error("forbidden: {user} may not {action} {what} in {cluster}; it needs the {role} role there")]
    Forbidden {
        /// The caller.
        user: String,
        /// The action's label.
        action: &'static str,
        /// The target, `Kind namespace/name`.
        what: String,
        /// The target's cluster.
        cluster: String,
        /// The role needed.
        role: &'static str,
    },
    /// A client impersonating the caller could not be built.
    #[error(transparent)]
    Impersonation(Arc<crate::fleet::cluster::ClusterError>),
    /// Reading the target or a source failed (as any API read maps it).
    #[error("{}", .0.message)]
    Read(ApiError),
    /// The merge patch was refused or failed.
    #[error("{}", patch_message(what, source))]
    Patch {
        /// The object patched, `Kind namespace/name`.
        what: String,
        /// The API server's answer.
        #[source]
        source: Arc<kube::Error>,
    },
    /// A source reference names an invalid namespace or name.
    #[error("the source {kind}: {why}")]
    BadSource {
        /// The source's kind.
        kind: String,
        /// What is wrong with it.
        why: String,
    },
    /// The caller lacks the operator role where a source to reconcile first is.
    #[error(
        "forbidden: {user} may not reconcile the source {kind} {namespace}/{name} in {cluster}; it needs the operator role in {namespace}"
    )]
    SourceForbidden {
        /// The caller.
        user: String,
        /// The source's kind.
        kind: String,
        /// The source's namespace.
        namespace: String,
        /// The source's name.
        name: String,
        /// The cluster.
        cluster: String,
    },
    /// A source reference names a kind that is not a Flux kind.
    #[error("{0}: not a Flux kind")]
    SourceNotFluxKind(String),
    /// The cluster does not serve a source's kind.
    #[error("{0}: kind not served")]
    SourceNotServed(String),
    /// A source is suspended: it would not refresh its artifact.
    #[error("{0} is suspended; the object itself was not reconciled")]
    SourceSuspended(String),
    /// A source handled the request and did not end Ready.
    #[error("{what} reconciliation failed: {message}; the object itself was not reconciled")]
    SourceFailed {
        /// The source, `source Kind namespace/name`.
        what: String,
        /// Its Ready message.
        message: String,
    },
    /// A source did not handle the request in time.
    #[error(
        "{what} did not handle the request within {secs} s: is {controller} running? The object itself was not reconciled."
    )]
    SourceTimeout {
        /// The source, `source Kind namespace/name`.
        what: String,
        /// How long it was waited for.
        secs: u64,
        /// The controller that should have handled it.
        controller: &'static str,
    },
}

impl Reason for ActionError {
    fn status(&self) -> StatusCode {
        match self {
            ActionError::Request(err) => err.status(),
            ActionError::Malformed(_)
            | ActionError::BadTargets(_)
            | ActionError::RestartNotDeployment
            | ActionError::NotAController(_)
            | ActionError::BadSource { .. }
            | ActionError::SourceNotFluxKind(_) => StatusCode::BAD_REQUEST,
            ActionError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ActionError::NoCluster(_)
            | ActionError::NotFluxKind(_)
            | ActionError::NotServed { .. }
            | ActionError::SourceNotServed(_) => StatusCode::NOT_FOUND,
            ActionError::NotApplicable(n) => StatusCode::from_u16(n.code).unwrap_or(StatusCode::BAD_REQUEST),
            ActionError::Forbidden { .. } | ActionError::SourceForbidden { .. } => StatusCode::FORBIDDEN,
            ActionError::Impersonation(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ActionError::Read(err) => err.status,
            ActionError::Patch { source, .. } => patch_status(source),
            ActionError::SourceSuspended(_) | ActionError::SourceFailed { .. } => StatusCode::CONFLICT,
            ActionError::SourceTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ActionError::Request(err) => err.code(),
            ActionError::RateLimited(_) => "rate_limited",
            other => status_code_name(other.status()),
        }
    }
}

/// The `error.code` of a target's refusal or failure, by its status.
fn status_code_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        504 => "not_handled",
        _ => "cluster_error",
    }
}

pub(crate) async fn post_actions(
    State(state): State<Arc<AppState>>,
    Caller(identity): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (request, targets) = match read_request(&state, &identity, &headers, body).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let work = Work { deadline: tokio::time::Instant::now() + state.source_wait * 2, steps: Mutex::default() };
    let single = targets.len() == 1;
    let reason = request.reason.as_deref();
    let results: Vec<ActionResult> = futures::stream::iter(targets)
        .map(|target| run(&state, &identity, request.action, reason, target, &work))
        .buffered(BULK_CONCURRENCY)
        .collect()
        .await;
    audit_refusals(&state, &identity, (request.action, request.reason.as_deref()), &results).await;
    if single && results[0].status != ResultStatus::Accepted {
        let r = &results[0];
        let status = StatusCode::from_u16(r.code).unwrap_or(StatusCode::BAD_GATEWAY);
        return ApiError::new(status, status_code_name(status), r.message.clone()).into_response();
    }
    (StatusCode::ACCEPTED, Json(ActionResponse { action: request.action, results })).into_response()
}

/// The request and its targets, after the origin, body, shape and rate checks; a refusal is
/// audited and answered.
async fn read_request(
    state: &AppState,
    identity: &Identity,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(ActionRequest, Vec<Target>), Response> {
    let refuse = |err: ActionError, request: Option<&ActionRequest>| {
        let (action, reason) = (request.map(|r| r.action), request.and_then(|r| r.reason.clone()));
        async move {
            let err = ApiError::from(err);
            let read = (action, reason.as_deref());
            state.audit.record(entry(identity, read, None, None, ResultStatus::Refused, &err.message)).await;
            err.into_response()
        }
    };
    let body = match crate::http::json_body(&state.hosts, headers, body) {
        Ok(body) => body,
        Err(err) => return Err(refuse(err.into(), None).await),
    };
    let request: ActionRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return Err(refuse(ActionError::Malformed(err.to_string()), None).await),
    };
    let targets = match request.targets() {
        Ok(targets) => targets,
        Err(why) => return Err(refuse(ActionError::BadTargets(why), Some(&request)).await),
    };
    // Each user's action requests are limited; the total wait of one request is bounded.
    if let Err(limited) = state.action_limiter.hit(&format!("actions:{}", identity.user), ACTIONS_PER_USER).await {
        return Err(refuse(ActionError::RateLimited(limited), None).await);
    }
    Ok((request, targets))
}

/// A request's refused targets are one audit entry, whatever their number.
async fn audit_refusals(
    state: &AppState,
    identity: &Identity,
    (action, reason): (Action, Option<&str>),
    results: &[ActionResult],
) {
    let refused: Vec<&ActionResult> = results.iter().filter(|r| r.status == ResultStatus::Refused).collect();
    let Some(first) = refused.first() else { return };
    let message = match refused.len() {
        1 => first.message.clone(),
        n => format!("{n} of {} targets refused; the first: {}", results.len(), first.message),
    };
    let target = Some(first.target.clone());
    state.audit.record(entry(identity, (Some(action), reason), target, None, ResultStatus::Refused, &message)).await;
}

async fn run(
    state: &AppState,
    identity: &Identity,
    action: Action,
    reason: Option<&str>,
    target: Target,
    work: &Work,
) -> ActionResult {
    let outcome = attempt(state, identity, action, reason, &target, work).await;
    let (status, code, token, message) = match outcome {
        Ok((token, message)) => (ResultStatus::Accepted, 202, Some(token), message),
        Err(Attempt::Refused(err)) => (ResultStatus::Refused, err.status().as_u16(), None, err.to_string()),
        Err(Attempt::Failed(err, token)) => (ResultStatus::Failed, err.status().as_u16(), token, err.to_string()),
    };
    if status != ResultStatus::Refused {
        let read = (Some(action), reason);
        state.audit.record(entry(identity, read, Some(target.clone()), token.clone(), status, &message)).await;
    }
    let result = match status {
        ResultStatus::Accepted => "accepted",
        ResultStatus::Refused => "refused",
        ResultStatus::Failed => "failed",
    };
    state.metrics.action(action.label(), result);
    ActionResult { target, status, code, token, message }
}

/// How one target's attempt went wrong.
#[derive(Debug, Clone)]
enum Attempt {
    /// Nothing was sent.
    Refused(ActionError),
    /// Something was sent and then a step failed (with the token, when one was sent).
    Failed(ActionError, Option<String>),
}

impl From<ActionError> for Attempt {
    fn from(err: ActionError) -> Attempt {
        Attempt::Refused(err)
    }
}

/// A Flux kind by name (and group, when given).
fn flux_kind(target: &Target) -> Option<&'static KindInfo> {
    match &target.group {
        Some(group) => kind_info(group, &target.kind),
        None => KINDS.iter().find(|k| k.kind == target.kind),
    }
}

/// One target's attempt: who asks, where, with which client and token.
struct Job<'a> {
    state: &'a AppState,
    identity: &'a Identity,
    cluster: &'a Cluster,
    client: kube::Client,
    action: Action,
    reason: Option<&'a str>,
    target: &'a Target,
    /// `Kind namespace/name`, for messages.
    what: String,
    /// The token this attempt writes.
    token: String,
    work: &'a Work,
}

/// Checks one target (kind, role), then carries it out: `(token, message)` when accepted.
async fn attempt(
    state: &AppState,
    identity: &Identity,
    action: Action,
    reason: Option<&str>,
    t: &Target,
    work: &Work,
) -> Result<(String, String), Attempt> {
    let cluster = state.cluster(&t.cluster).ok_or_else(|| ActionError::NoCluster(t.cluster.clone()))?;
    let what = format!("{} {}/{}", t.kind, t.namespace, t.name);
    check_kind(action, t)?;
    let needed = action.role();
    if !identity.may(needed, &t.cluster, &t.namespace) {
        return Err(ActionError::Forbidden {
            user: identity.user.clone(),
            action: action.label(),
            what,
            cluster: t.cluster.clone(),
            role: if needed == Role::Admin { "admin" } else { "operator" },
        }
        .into());
    }
    let client = match state.act_as {
        ActAs::User => cluster
            .impersonating(&identity.user, &identity.groups)
            .map_err(|e| ActionError::Impersonation(Arc::new(e)))?,
        ActAs::ServiceAccount => cluster.client.clone(),
    };
    let token = jiff::Timestamp::now().to_string();
    let job = Job { state, identity, cluster, client, action, reason, target: t, what, token, work };
    match action {
        Action::Restart => restart(job).await,
        _ => flux_action(job).await,
    }
}

/// Whether the action applies to the target's kind: restart to Deployments, the rest to Flux
/// kinds by the model's rule.
fn check_kind(action: Action, t: &Target) -> Result<(), ActionError> {
    if action == Action::Restart {
        if t.kind != "Deployment" || t.group.as_deref().is_some_and(|g| g != "apps") {
            return Err(ActionError::RestartNotDeployment);
        }
        return Ok(());
    }
    let info = flux_kind(t).ok_or_else(|| ActionError::NotFluxKind(t.kind.clone()))?;
    applies_to_kind(action, info).map_err(ActionError::NotApplicable)
}

/// A rolling restart of a Flux controller's Deployment.
async fn restart(job: Job<'_>) -> Result<(String, String), Attempt> {
    let (t, what, token) = (job.target, &job.what, &job.token);
    let ar = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(job.client.clone(), &t.namespace, &ar);
    let obj = api.get(&t.name).await.map_err(|e| read_error(what, &e))?;
    let labels = &obj.metadata.labels;
    if labels.as_ref().and_then(|l| l.get("app.kubernetes.io/part-of")).map(String::as_str) != Some("flux") {
        return Err(ActionError::NotAController(job.what).into());
    }
    send(&api, &t.name, &patch(job.action, "Deployment", token, &job.identity.user, job.reason), what).await?;
    record_event(job.cluster, &ar, &obj, job.action, token, &job.identity.user, job.reason).await;
    Ok((job.token.clone(), format!("rolling restart of {what} requested")))
}

/// An action on a Flux object: read it as the caller, check the action applies to it and to its
/// served version, reconcile its sources first (with source), then patch it.
async fn flux_action(job: Job<'_>) -> Result<(String, String), Attempt> {
    let (t, what, token, user) = (job.target, &job.what, &job.token, &job.identity.user);
    let info = flux_kind(t).ok_or_else(|| ActionError::NotFluxKind(t.kind.clone()))?;
    let ar = job
        .cluster
        .flux_kind(info.group, info.kind)
        .ok_or_else(|| ActionError::NotServed { cluster: t.cluster.clone(), kind: info.kind.to_owned() })?;
    let api: Api<DynamicObject> = Api::namespaced_with(job.client.clone(), &t.namespace, &ar);
    let obj = api.get(&t.name).await.map_err(|e| read_error(what, &e))?;
    let value = serde_json::to_value(&obj).unwrap_or_default();
    applies(job.action, &summarize(&t.cluster, info, &value)).map_err(ActionError::NotApplicable)?;
    supported_by(job.action, info.kind, &ar.version).map_err(ActionError::NotApplicable)?;
    let with_source = job.action == Action::ReconcileWithSource;
    if with_source {
        reconcile_sources(&job, info, &value).await?;
    }
    send(&api, &t.name, &patch(job.action, info.kind, token, user, job.reason), what).await.map_err(|err| {
        // Once a source was reconciled, something was sent: the target's patch failing is a failure.
        if with_source { Attempt::Failed(err, Some(token.clone())) } else { Attempt::Refused(err) }
    })?;
    record_event(job.cluster, &ar, &obj, job.action, token, user, job.reason).await;
    Ok((token.clone(), format!("{} of {what} requested", job.action.label())))
}

/// Reconciles the target's sources first, in order, each within the caller's scope; targets
/// of one request that share a source reconcile it once and wait together.
async fn reconcile_sources(job: &Job<'_>, info: &KindInfo, value: &Value) -> Result<(), Attempt> {
    let t = job.target;
    let mut chain = source_chain(info.kind, &t.namespace, value);
    if info.kind == "HelmRelease"
        && let [chart] = chain.as_slice()
        && chart.0 == "HelmChart"
        && let Some(source) = chart_source(job.cluster, &job.client, chart).await
    {
        chain.insert(0, source);
    }
    for (kind, namespace, name) in chain {
        fluxboard_model::action::check_namespace(&namespace)
            .and_then(|()| fluxboard_model::action::check_name(&name))
            .map_err(|why| ActionError::BadSource { kind: kind.clone(), why })?;
        // Scope is checked on every object the action touches, not only the target.
        if !job.identity.may(Role::Operator, &t.cluster, &namespace) {
            return Err(ActionError::SourceForbidden {
                user: job.identity.user.clone(),
                kind,
                namespace,
                name,
                cluster: t.cluster.clone(),
            }
            .into());
        }
        let step = job.work.step(&format!("{}/{kind}/{namespace}/{name}", t.cluster));
        step.get_or_init(|| {
            reconcile_and_wait(
                job.state,
                job.cluster,
                &job.client,
                &kind,
                &namespace,
                &name,
                &job.token,
                &job.identity.user,
                job.work.deadline,
            )
        })
        .await
        .clone()?;
    }
    Ok(())
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
        return Err(Attempt::Failed(ActionError::SourceNotFluxKind(what), None));
    };
    let Some(ar) = cluster.flux_kind(info.group, info.kind) else {
        return Err(Attempt::Failed(ActionError::SourceNotServed(what), None));
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
    let obj =
        api.get(name).await.map_err(|e| Attempt::Failed(ActionError::Read(ApiError::from_kube(&what, &e)), None))?;
    let value = serde_json::to_value(&obj).unwrap_or_default();
    // A static source (an OCI HelmRepository, an ExternalArtifact) has nothing to reconcile.
    if !info.reconcilable || info.is_static_object(&value) {
        return Ok(());
    }
    // A suspended source would ack the token and leave its artifact as it is (source-controller
    // records the request before its suspend check), so the object would reconcile stale input.
    if info.is_suspended(&value) {
        return Err(Attempt::Failed(ActionError::SourceSuspended(what), None));
    }
    send(&api, name, &patch(Action::Reconcile, kind, token, user, None), &what)
        .await
        .map_err(|err| Attempt::Failed(err, None))?;
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
            && answers(summary.last_handled_reconcile_at.as_deref(), token)
        {
            // Handled: go on only if the source ended Ready, as the CLI requires.
            match summary.health {
                Health::Ready => return Ok(()),
                Health::Failing | Health::Stalled | Health::Suspended | Health::Unknown => {
                    return Err(Attempt::Failed(
                        ActionError::SourceFailed { what, message: summary.message.clone() },
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
            let timeout = ActionError::SourceTimeout { what, secs: waited.as_secs(), controller };
            return Err(Attempt::Failed(timeout, Some(token.to_owned())));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a merge patch under the `fluxboard` field manager, retrying conflicts.
async fn send(api: &Api<DynamicObject>, name: &str, body: &Value, what: &str) -> Result<(), ActionError> {
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
    let mut tries = 0;
    loop {
        match api.patch(name, &params, &Patch::Merge(body)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 && tries < CONFLICT_RETRIES => tries += 1,
            Err(err) => return Err(ActionError::Patch { what: what.to_owned(), source: Arc::new(err) }),
        }
    }
}

/// A failed read of `what`, as any API read maps it.
fn read_error(what: &str, err: &kube::Error) -> ActionError {
    ActionError::Read(ApiError::from_kube(what, err))
}

/// The status of a failed patch: the API server's 403, 404 and 409 keep their meaning.
fn patch_status(err: &kube::Error) -> StatusCode {
    match err {
        kube::Error::Api(status) if matches!(status.code, 403 | 404 | 409) => {
            StatusCode::from_u16(status.code).unwrap_or(StatusCode::BAD_GATEWAY)
        }
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// The sentence of a failed patch of `what`.
fn patch_message(what: &str, err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.code == 403 => format!("forbidden by cluster RBAC: {}", status.message),
        kube::Error::Api(status) if status.code == 404 => format!("{what} not found"),
        kube::Error::Api(status) if status.code == 409 => {
            format!("{what} kept changing; try again ({})", status.message)
        }
        other => format!("patching {what} failed: {}", crate::fleet::cluster::kube_error(other)),
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
        tracing::warn!(err = crate::fleet::cluster::kube_error(&err), "could not record the action as an Event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_token_answers_an_earlier_request() {
        let ours = "2026-12-01T10:00:00.123456Z";
        assert!(answers(Some(ours), ours));
        assert!(answers(Some("2026-12-01T10:00:01Z"), ours), "handled after ours");
        assert!(answers(Some("2026-12-01T11:00:00.5+01:00"), ours), "the CLI writes a local offset");
        assert!(!answers(Some("2026-12-01T09:59:59Z"), ours));
        assert!(!answers(Some("not-a-time"), ours) && !answers(None, ours));
    }

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
