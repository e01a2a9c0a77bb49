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
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
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
use crate::auth::{Identity, Role};
use crate::fleet::cluster::Cluster;
use crate::http::error::ApiError;
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
                format!("the request body is larger than {} bytes", crate::http::BODY_LIMIT)
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
    let work = Work { deadline: tokio::time::Instant::now() + state.source_wait * 2, steps: Mutex::default() };
    let single = targets.len() == 1;
    let reason = request.reason.clone();
    let results: Vec<ActionResult> = futures::stream::iter(targets)
        .map(|target| run(&state, &identity, request.action, reason.as_deref(), target, &work))
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

#[derive(Clone)]
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
    work: &Work,
) -> Result<(String, String), Attempt> {
    let cluster = state
        .cluster(&t.cluster)
        .ok_or_else(|| refused(StatusCode::NOT_FOUND, format!("no cluster named {:?}", t.cluster)))?;
    let what = format!("{} {}/{}", t.kind, t.namespace, t.name);
    let needed = action.role();
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
            // Targets of one request that share a source reconcile it once and wait together.
            let step = work.step(&format!("{}/{kind}/{namespace}/{name}", t.cluster));
            step.get_or_init(|| {
                reconcile_and_wait(
                    state,
                    cluster,
                    &client,
                    &kind,
                    &namespace,
                    &name,
                    &token,
                    &identity.user,
                    work.deadline,
                )
            })
            .await
            .clone()?;
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
            && answers(summary.last_handled_reconcile_at.as_deref(), token)
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
        other => {
            (StatusCode::BAD_GATEWAY, format!("patching {what} failed: {}", crate::fleet::cluster::kube_error(other)))
        }
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
