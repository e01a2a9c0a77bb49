//! The stream events and HTTP API bodies that the backend sends and the browser reads.
//!
//! Stream (`GET /api/v1/stream`, server-sent events): the first event is `snapshot`
//! ([`Snapshot`]), then `upsert` ([`Summary`]), `delete` ([`ObjectRef`]) and `cluster`
//! ([`ClusterStatus`]). Every event carries an SSE id `<epoch>:<seq>` ([`EventId`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::summary::Summary;

/// The SSE event names.
pub mod event {
    pub const SNAPSHOT: &str = "snapshot";
    pub const UPSERT: &str = "upsert";
    pub const DELETE: &str = "delete";
    pub const CLUSTER: &str = "cluster";
    /// A stream opened with `?after=` that cannot continue from there (another process, or too
    /// far behind): fetch the snapshot again and open a new stream after it.
    pub const RESYNC: &str = "resync";
}

/// The identity of one object in the fleet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub cluster: String,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    /// The reference of the object a summary describes.
    pub fn of(summary: &Summary) -> ObjectRef {
        ObjectRef {
            cluster: summary.cluster.clone(),
            group: summary.group.clone(),
            kind: summary.kind.clone(),
            namespace: summary.namespace.clone(),
            name: summary.name.clone(),
        }
    }

    /// The key everyone uses for an object: `cluster/group/kind/namespace/name`.
    pub fn key(&self) -> String {
        key(&self.cluster, &self.group, &self.kind, &self.namespace, &self.name)
    }
}

/// `cluster/group/kind/namespace/name`: the one way an object is keyed (stores, lists, links).
pub fn key(cluster: &str, group: &str, kind: &str, namespace: &str, name: &str) -> String {
    format!("{cluster}/{group}/{kind}/{namespace}/{name}")
}

/// Everything the user may see and every cluster's state: `GET /api/v1/snapshot`, and the first
/// stream event of a client that does not resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The event id (`<epoch>:<seq>`) the snapshot is at: a stream opened with
    /// `?after=<id>` continues from it.
    #[serde(default)]
    pub id: String,
    pub clusters: Vec<ClusterStatus>,
    pub objects: Vec<Summary>,
}

/// How the dashboard's watches on one cluster are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionState {
    /// Discovery or the first list is still running.
    Connecting,
    /// Every watch is established and its cache is complete.
    Connected,
    /// A watch broke; the cache may be stale until it re-lists.
    Reconnecting,
    /// Discovery failed or no Flux kind is served; retried with backoff.
    Error,
}

/// One Flux kind a cluster serves, and the version fluxboard reads it at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedKind {
    pub group: String,
    pub kind: String,
    pub version: String,
    /// How this kind's watch is doing.
    pub state: ConnectionState,
}

/// One cluster's connection state (the `cluster` stream event and `GET /api/v1/clusters`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub name: String,
    pub state: ConnectionState,
    /// Why the state is not `connected` ("" when it is).
    pub message: String,
    /// The Flux kinds found by discovery.
    pub kinds: Vec<ServedKind>,
    /// The API server's version (`gitVersion`), when known.
    pub server_version: Option<String>,
    /// The Flux release installed (`app.kubernetes.io/version` of the Flux controller
    /// Deployments, else of the Flux CRDs), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux_version: Option<String>,
}

impl ClusterStatus {
    /// The API version this cluster serves a Flux kind at.
    pub fn served_version(&self, group: &str, kind: &str) -> Option<&str> {
        self.kinds.iter().find(|k| k.group == group && k.kind == kind).map(|k| k.version.as_str())
    }
}

/// An SSE event id: the backend process's epoch and the fleet store's sequence number. An id
/// from another epoch (another process or replica) cannot be resumed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventId {
    pub epoch: u64,
    pub seq: u64,
}

impl EventId {
    /// Parses `<epoch>:<seq>` (both decimal); anything else is `None`.
    pub fn parse(text: &str) -> Option<EventId> {
        let (epoch, seq) = text.trim().split_once(':')?;
        let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(epoch) || !digits(seq) {
            return None;
        }
        Some(EventId { epoch: epoch.parse().ok()?, seq: seq.parse().ok()? })
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.epoch, self.seq)
    }
}

/// One status condition, as shown on the detail page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: Option<String>,
}

/// One core/v1 Event about an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEntry {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    pub reason: String,
    pub message: String,
    pub count: i64,
    /// The last time the event was seen (lastTimestamp, else eventTime, else firstTimestamp).
    pub last_seen: Option<String>,
    /// The component that reported it (`kustomize-controller`).
    pub source: String,
}

/// One entry of an object's reconciliation history (HelmRelease and Kustomization `status.history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Chart version or source revision.
    pub revision: String,
    /// `deployed`, `superseded`, `failed`, `Success`...
    pub status: String,
    /// When it happened (last deployed or last reconciled).
    pub time: Option<String>,
    /// Extra detail: chart name and app version, or the number of reconciliations.
    pub detail: String,
}

/// The live health of an object in an inventory, after kstatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemHealth {
    /// Fully rolled out and available (or, for kinds without a rollout, it exists).
    Current,
    /// Rolling out, scaling or starting.
    InProgress,
    /// The rollout failed (deadline exceeded, job failed, pod crash-looping or unschedulable).
    Failed,
    /// Being deleted (deletionTimestamp set).
    Terminating,
    /// In the inventory but not in the cluster.
    NotFound,
    /// Could not be read (forbidden, unknown kind).
    Unknown,
}

/// One object a Kustomization or HelmRelease manages, with its live health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    pub namespace: String,
    pub name: String,
    pub group: String,
    pub kind: String,
    pub version: String,
    pub health: ItemHealth,
    /// Why (for example "1/2 replicas available").
    pub message: String,
}

/// `GET /api/v1/objects/{cluster}/{group}/{kind}/{namespace}/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDetail {
    pub summary: Summary,
    pub api_version: String,
    pub conditions: Vec<Condition>,
    pub events: Vec<EventEntry>,
    /// Why no Events are listed when they could not be read (not "no recent events").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_error: Option<String>,
    pub history: Vec<HistoryEntry>,
    /// `None` for kinds without an inventory.
    pub inventory: Option<Vec<InventoryItem>>,
    /// Why no inventory is listed where one would be expected (a HelmRelease of a helm-controller
    /// before Flux 2.8 records none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_note: Option<String>,
    /// The object as YAML, managed fields dropped and secret values masked.
    pub yaml: String,
}

/// The body of every error response: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A machine-readable code (`not_found`, `bad_request`...) and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_round_trip_and_garbage_is_refused() {
        let id = EventId { epoch: 17, seq: 42 };
        assert_eq!(EventId::parse(&id.to_string()), Some(id));
        for bad in ["", "17", ":", "17:", ":42", "a:1", "1:-1", "1:2:3", "99999999999999999999999:1", "1: 2"] {
            assert_eq!(EventId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn conditions_serialize_with_the_kubernetes_field_names() {
        let c = Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Succeeded".into(),
            message: "ok".into(),
            last_transition_time: None,
        };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["type"], "Ready");
        assert_eq!(json["lastTransitionTime"], serde_json::Value::Null);
    }
}
