//! `GET /api/v1/controllers/{cluster}`: the Flux controller Deployments and their readiness.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fluxboard_model::action::{ControllerStatus, RESTARTED_AT};
use fluxboard_model::detail::item_health;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

use crate::auth::Caller;
use crate::auth::Role;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The namespace the Flux controllers run in.
const FLUX_NAMESPACE: &str = "flux-system";

pub(crate) async fn get_controllers(
    State(state): State<Arc<AppState>>,
    Caller(identity): Caller,
    crate::http::error::ApiPath(cluster_name): crate::http::error::ApiPath<String>,
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
    Ok(Json(statuses(cluster).await?))
}

/// The Flux controller Deployments of a cluster and their readiness, read as the dashboard.
/// How long a read of the controllers serves root-cause requests.
const RECENT: std::time::Duration = std::time::Duration::from_secs(2);

/// The controllers' statuses read at most once every [`RECENT`] per cluster (concurrent callers
/// wait for the one read in flight), for the root-cause reads any viewer can make often.
pub(crate) async fn recent_statuses(
    cluster: &crate::fleet::cluster::Cluster,
) -> Result<Vec<ControllerStatus>, ApiError> {
    let mut last = cluster.controllers_read.lock().await;
    if let Some((at, statuses)) = last.as_ref()
        && at.elapsed() < RECENT
    {
        return Ok(statuses.clone());
    }
    let statuses = statuses(cluster).await?;
    *last = Some((std::time::Instant::now(), statuses.clone()));
    Ok(statuses)
}

pub(crate) async fn statuses(cluster: &crate::fleet::cluster::Cluster) -> Result<Vec<ControllerStatus>, ApiError> {
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
    Ok(out)
}
