//! The fleet graph's answers, computed from the fleet store: `GET /api/v1/why/{cluster}/{group}/
//! {kind}/{namespace}/{name}` (the chain from an object to its root cause, the object's
//! controller readiness read on demand) and `GET /api/v1/revisions?q=...` (where a revision is,
//! and what is behind it). The graph is built from every summary, so a cause outside the
//! caller's scope is still found; such a hop is reported as "outside your scope", without its
//! name or message.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use fluxboard_model::api::ObjectRef;
use fluxboard_model::graph::{Graph, Hop, RevisionSearch, Why};

use crate::auth::Caller;
use crate::auth::{Identity, Role};
use crate::http::error::{ApiError, ApiPath};
use crate::state::AppState;

/// The longest revision query accepted.
const QUERY_LIMIT: usize = 256;

/// Graph reads (`/why` and `/revisions`) each user may make per minute: each builds the fleet
/// graph, so a script cannot keep a worker busy with them.
pub(crate) const GRAPH_READS_PER_USER: usize = 600;

/// Counts a graph read of `identity` against [`GRAPH_READS_PER_USER`].
async fn count_read(state: &AppState, identity: &Identity) -> Result<(), ApiError> {
    state.action_limiter.hit(&format!("graph:{}", identity.user), GRAPH_READS_PER_USER).await.map_err(|limited| {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("too many graph reads: {limited}"))
    })
}

fn visible(identity: &Identity, r: &ObjectRef) -> bool {
    identity.may(Role::Viewer, &r.cluster, &r.namespace)
}

/// The controllers of `cluster` that are not running (not ready, or scaled to nothing); none
/// when they cannot be read (the chain then says what the objects say).
async fn stopped_controllers(state: &AppState, cluster: &str) -> HashSet<(String, String)> {
    let Some(cluster) = state.cluster(cluster) else { return HashSet::new() };
    match crate::api::controllers::recent_statuses(cluster).await {
        Ok(list) => list
            .into_iter()
            .filter(|c| !c.ready || c.ready_replicas == 0)
            .map(|c| (cluster.name.clone(), c.name))
            .collect(),
        Err(e) => {
            tracing::debug!(cluster = %cluster.name, error = %e.message, "controllers not read for a root cause");
            HashSet::new()
        }
    }
}

pub(crate) async fn get_why(
    State(state): State<Arc<AppState>>,
    Caller(identity): Caller,
    ApiPath((cluster, group, kind, namespace, name)): ApiPath<(String, String, String, String, String)>,
) -> Result<Json<Why>, ApiError> {
    if !identity.may(Role::Viewer, &cluster, &namespace) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{namespace} in {cluster} is outside what {} may see", identity.user),
        ));
    }
    count_read(&state, &identity).await?;
    let stopped = stopped_controllers(&state, &cluster).await;
    let summaries = state.store.summaries();
    let graph = Graph::build(summaries.iter().map(|s| &**s));
    let node = graph
        .find(&cluster, &kind, &namespace, &name)
        .filter(|&n| graph.nodes[n].summary().is_some_and(|s| s.group == group))
        .ok_or_else(|| ApiError::not_found(format!("no {kind} {namespace}/{name} in {cluster}")))?;
    let object = graph.nodes[node].summary().expect("found objects are present").clone();
    let hops = match graph.why(node, &stopped) {
        Some(chain) => graph.hops(&chain),
        None => vec![Hop::of(&graph.nodes[node])],
    };
    // The browser's "blocked by" lines tell a hidden cause by the same rule.
    let chain: Vec<Hop> = hops.into_iter().map(|hop| hop.seen_by(&identity)).collect();
    let root_cause = (object.health != fluxboard_model::Health::Ready).then(|| chain.last().cloned()).flatten();
    Ok(Json(Why { object, chain, root_cause }))
}

pub(crate) async fn get_revisions(
    State(state): State<Arc<AppState>>,
    Caller(identity): Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<RevisionSearch>, ApiError> {
    let q = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("q="))
        .map(fluxboard_model::view::decode)
        .unwrap_or_default();
    let q = q.trim();
    if q.is_empty() || q.len() > QUERY_LIMIT {
        return Err(ApiError::bad_request(format!(
            "q must be a revision of 1 to {QUERY_LIMIT} characters: a Git SHA, branch@sha1:..., an OCI digest or tag, a chart version"
        )));
    }
    count_read(&state, &identity).await?;
    let summaries = state.store.summaries();
    let graph = Graph::build(summaries.iter().map(|s| &**s));
    let mut found = graph.search_revision(q);
    found.matches.retain(|m| visible(&identity, &m.reference));
    // An object the caller sees is behind only by a source they see: a hidden source's
    // revision is not told.
    found.behind.retain(|b| visible(&identity, &b.reference) && visible(&identity, &b.source));
    Ok(Json(found))
}
