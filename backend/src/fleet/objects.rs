//! `GET /api/v1/objects/{cluster}/{group}/{kind}/{namespace}/{name}`: one Flux object in full:
//! YAML (managed fields dropped, secret values masked), conditions, core Events, history, and
//! its inventory with the live health of every managed object.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use fluxboard_model::api::{InventoryItem, ItemHealth, ObjectDetail};
use fluxboard_model::detail::{
    InventoryEntry, InventoryId, conditions, event_entry, history, inventory_entries, item_health,
};
use fluxboard_model::{kind_info, summarize};
use futures::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::Value;

use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::state::AppState;

/// How many inventory objects are read at once.
const INVENTORY_CONCURRENCY: usize = 16;
/// At most this many inventory entries are read live (the rest are listed as unknown).
const INVENTORY_LIMIT: usize = 500;
/// At most this many Events are shown.
const EVENTS_LIMIT: usize = 100;
/// What replaces a masked value.
pub(crate) const MASK: &str = "<masked>";

pub(crate) async fn get_object(
    State(state): State<Arc<AppState>>,
    Caller(identity): Caller,
    logged_in: Option<axum::Extension<crate::auth::LoggedIn>>,
    crate::http::error::ApiPath((cluster, group, kind, namespace, name)): crate::http::error::ApiPath<(
        String,
        String,
        String,
        String,
        String,
    )>,
) -> Result<Json<ObjectDetail>, ApiError> {
    // Kubernetes names only, before any scope check or API call (a `?`, `#`, `/` or `..` would
    // change the API path).
    fluxboard_model::action::check_namespace(&namespace)
        .and_then(|()| fluxboard_model::action::check_name(&name))
        .map_err(ApiError::bad_request)?;
    if !identity.may(crate::auth::Role::Viewer, &cluster, &namespace) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            format!("{namespace} in {cluster} is outside what {} may see", identity.user),
        ));
    }
    let info =
        kind_info(&group, &kind).ok_or_else(|| ApiError::not_found(format!("{group}/{kind} is not a Flux kind")))?;
    let client = state.cluster(&cluster).ok_or_else(|| ApiError::not_found(format!("no cluster named {cluster:?}")))?;
    let ar = client
        .flux_kind(&group, &kind)
        .ok_or_else(|| ApiError::not_found(format!("cluster {cluster:?} does not serve {kind}")))?;
    // Reads follow the rule actions follow: in `user` mode they impersonate the identity (cluster
    // RBAC decides what it sees), except the anonymous viewer, who has no user and reads as the
    // dashboard within the scope fluxboard enforces above.
    let anonymous = logged_in.is_none() && state.fixed_identity.is_none();
    let reader = match (anonymous, state.act_as) {
        (false, crate::api::actions::ActAs::User) => {
            client.impersonating(&identity.user, &identity.groups).map_err(ApiError::from)?
        }
        _ => client.client.clone(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(reader.clone(), &namespace, &ar);
    let what = format!("{kind} {namespace}/{name}");
    let obj = api.get(&name).await.map_err(|e| ApiError::from_kube(&what, &e))?;
    let value = serde_json::to_value(&obj).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (entries, inventory_note) = match inventory_entries(&kind, &value) {
        Ok(entries) => (entries, None),
        Err(note) => (None, Some(note)),
    };
    let (events, inventory) =
        tokio::join!(events(reader.clone(), &namespace, &kind, &name), inventory(client, &reader, entries));
    Ok(Json(ObjectDetail {
        summary: summarize(&cluster, info, &value),
        api_version: ar.api_version.clone(),
        conditions: conditions(&value),
        events: events.clone().unwrap_or_default(),
        events_error: events.err().map(|err| err.to_string()),
        history: history(&kind, &value),
        inventory,
        inventory_note,
        yaml: to_masked_yaml(value),
    }))
}

/// Why an object's Events are not shown (the rest of the detail still is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum EventsError {
    /// Cluster RBAC does not let the reader list Events there.
    #[error("the Events are not readable for you (cluster RBAC)")]
    Forbidden,
    /// The list failed otherwise (logged); the next reload tries again.
    #[error("the Events could not be read from the cluster; they show again on the next reload")]
    Unreadable,
}

async fn events(
    client: kube::Client,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<fluxboard_model::api::EventEntry>, EventsError> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, namespace, &ApiResource::erase::<k8s_openapi::api::core::v1::Event>(&()));
    let params = ListParams::default().fields(&format!("involvedObject.kind={kind},involvedObject.name={name}"));
    let list = match api.list(&params).await {
        Ok(list) => list,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return Err(EventsError::Forbidden);
        }
        Err(err) => {
            tracing::debug!(err = crate::fleet::cluster::kube_error(&err), "events not readable");
            return Err(EventsError::Unreadable);
        }
    };
    let mut entries: Vec<_> =
        list.items.iter().map(|e| event_entry(&serde_json::to_value(e).unwrap_or_default())).collect();
    sort_newest_first(&mut entries, jiff::Timestamp::now().as_second());
    entries.truncate(EVENTS_LIMIT);
    Ok(entries)
}

/// Newest first; a time more than a minute in the future is not believed and sorts last, so a
/// clock-skewed or hostile Event cannot pin itself to the top of the timeline.
fn sort_newest_first(entries: &mut [fluxboard_model::api::EventEntry], now: i64) {
    let when = |e: &fluxboard_model::api::EventEntry| {
        e.last_seen
            .as_deref()
            .and_then(fluxboard_model::view::parse_rfc3339)
            .filter(|t| *t <= now + 60)
            .unwrap_or(i64::MIN)
    };
    entries.sort_by_key(|e| std::cmp::Reverse(when(e)));
}

async fn inventory(
    cluster: &crate::fleet::cluster::Cluster,
    reader: &kube::Client,
    entries: Option<Vec<InventoryEntry>>,
) -> Option<Vec<InventoryItem>> {
    let now = jiff::Timestamp::now().as_second();
    let items = futures::stream::iter(entries?.into_iter().enumerate())
        .map(|(index, InventoryEntry { id, raw, version })| async move {
            match id {
                Some(id) if index < INVENTORY_LIMIT => live_item(cluster, reader, id, version, now).await,
                Some(id) => item(id, version, ItemHealth::Unknown, "not read: the inventory is too large".into()),
                None => InventoryItem {
                    namespace: String::new(),
                    name: raw,
                    group: String::new(),
                    kind: String::new(),
                    version,
                    health: ItemHealth::Unknown,
                    message: "unreadable inventory id".into(),
                },
            }
        })
        .buffered(INVENTORY_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    Some(items)
}

async fn live_item(
    cluster: &crate::fleet::cluster::Cluster,
    reader: &kube::Client,
    id: InventoryId,
    version: String,
    now: i64,
) -> InventoryItem {
    let Some((ar, namespaced)) = cluster.resource(&id.group, &version, &id.kind).await else {
        return item(id, version, ItemHealth::Unknown, "kind not served by the cluster".into());
    };
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(reader.clone(), &id.namespace, &ar)
    } else {
        Api::all_with(reader.clone(), &ar)
    };
    match api.get_opt(&id.name).await {
        Ok(Some(obj)) => {
            let value = serde_json::to_value(&obj).unwrap_or_default();
            let (health, message) = item_health(&id.group, &id.kind, &value, now);
            item(id, version, health, message)
        }
        Ok(None) => item(id, version, ItemHealth::NotFound, "not found in the cluster".into()),
        Err(kube::Error::Api(status)) if status.code == 403 => {
            item(id, version, ItemHealth::Unknown, "you may not read this object (cluster RBAC)".into())
        }
        Err(err) => item(id, version, ItemHealth::Unknown, crate::fleet::cluster::kube_error(&err)),
    }
}

fn item(id: InventoryId, version: String, health: ItemHealth, message: String) -> InventoryItem {
    InventoryItem { namespace: id.namespace, name: id.name, group: id.group, kind: id.kind, version, health, message }
}

/// The object as YAML without managed fields, with Secret values and last-applied
/// configurations masked.
pub(crate) fn to_masked_yaml(mut obj: Value) -> String {
    mask(&mut obj);
    serde_yaml::to_string(&obj).unwrap_or_else(|e| format!("# cannot render as YAML: {e}"))
}

fn mask(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut)
            && let Some(v) = annotations.get_mut("kubectl.kubernetes.io/last-applied-configuration")
        {
            *v = Value::String(MASK.to_owned());
        }
    }
    if obj["kind"] == "Secret" && obj["apiVersion"] == "v1" {
        for field in ["data", "stringData"] {
            if let Some(map) = obj.get_mut(field).and_then(Value::as_object_mut) {
                for v in map.values_mut() {
                    *v = Value::String(MASK.to_owned());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_and_last_applied_configurations_are_masked() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "managedFields": [{}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"p\":\"c2VjcmV0\"}}"}},
            "data": {"password": "c2VjcmV0"}, "stringData": {"token": "abc"}});
        let yaml = to_masked_yaml(secret);
        assert!(!yaml.contains("c2VjcmV0") && !yaml.contains("abc") && !yaml.contains("managedFields"), "{yaml}");
        assert_eq!(yaml.matches(MASK).count(), 3, "{yaml}");
    }

    #[test]
    fn events_from_the_future_do_not_pin_themselves_to_the_top() {
        let event = |reason: &str, at: &str| fluxboard_model::api::EventEntry {
            type_: "Normal".into(),
            reason: reason.into(),
            message: String::new(),
            count: 1,
            last_seen: Some(at.into()),
            source: String::new(),
        };
        let now = fluxboard_model::view::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
        let mut entries = vec![
            event("old", "2026-12-01T09:00:00Z"),
            event("forged", "2099-01-01T00:00:00Z"),
            event("new", "2026-12-01T09:59:00Z"),
        ];
        sort_newest_first(&mut entries, now);
        let order: Vec<&str> = entries.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(order, ["new", "old", "forged"], "a time from the future is not believed");
        // Ordinary clock skew (under a minute) still counts as the time it says.
        entries.push(event("skewed", "2026-12-01T10:00:30Z"));
        sort_newest_first(&mut entries, now);
        assert_eq!(entries[0].reason, "skewed");
    }

    #[test]
    fn other_objects_keep_their_data() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
        assert!(to_masked_yaml(cm).contains("k: v"));
    }
}
