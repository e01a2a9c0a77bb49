//! What the detail page shows beyond the summary, read from the raw object: conditions, history,
//! events, inventory ids, and the live health of a managed object after kstatus rules.

use serde_json::Value;

use crate::api::{Condition, EventEntry, HistoryEntry, ItemHealth};
use crate::kinds::kind_info;
use crate::summary::{Health, summarize};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn opt_text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// The status conditions of an object, in the order the controller wrote them.
pub fn conditions(obj: &Value) -> Vec<Condition> {
    let Some(list) = obj["status"]["conditions"].as_array() else { return Vec::new() };
    list.iter()
        .map(|c| Condition {
            type_: text(&c["type"]),
            status: text(&c["status"]),
            reason: text(&c["reason"]),
            message: text(&c["message"]),
            last_transition_time: opt_text(&c["lastTransitionTime"]),
        })
        .collect()
}

/// The reconciliation history of a HelmRelease (release snapshots) or a Kustomization (the
/// history of applied revisions), newest first.
pub fn history(kind: &str, obj: &Value) -> Vec<HistoryEntry> {
    let Some(list) = obj["status"]["history"].as_array() else { return Vec::new() };
    list.iter()
        .map(|h| match kind {
            "HelmRelease" => HistoryEntry {
                revision: text(&h["chartVersion"]),
                status: text(&h["status"]),
                time: opt_text(&h["lastDeployed"]).or_else(|| opt_text(&h["firstDeployed"])),
                detail: format!(
                    "{} v{}{}",
                    text(&h["chartName"]),
                    h["version"].as_i64().unwrap_or_default(),
                    h["appVersion"].as_str().map(|a| format!(", app {a}")).unwrap_or_default()
                ),
            },
            _ => HistoryEntry {
                revision: text(&h["metadata"]["revision"]),
                status: text(&h["lastReconciledStatus"]),
                time: opt_text(&h["lastReconciled"]),
                detail: match h["totalReconciliations"].as_i64() {
                    Some(1) => "1 reconciliation".to_owned(),
                    Some(n) => format!("{n} reconciliations"),
                    None => String::new(),
                },
            },
        })
        .collect()
}

/// One core/v1 Event for the timeline.
pub fn event_entry(event: &Value) -> EventEntry {
    let last_seen = opt_text(&event["lastTimestamp"])
        .or_else(|| opt_text(&event["eventTime"]))
        .or_else(|| opt_text(&event["firstTimestamp"]))
        .or_else(|| opt_text(&event["metadata"]["creationTimestamp"]));
    let source = opt_text(&event["source"]["component"]).unwrap_or_else(|| text(&event["reportingComponent"]));
    EventEntry {
        type_: text(&event["type"]),
        reason: text(&event["reason"]),
        message: text(&event["message"]),
        count: event["count"].as_i64().unwrap_or(1),
        last_seen,
        source,
    }
}

/// An inventory entry id `<namespace>_<name>_<group>_<kind>` split into its parts. Flux writes
/// `:` in names (RBAC objects) as `__`; namespaces and kinds contain no `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryId {
    pub namespace: String,
    pub name: String,
    pub group: String,
    pub kind: String,
}

impl InventoryId {
    /// Parses an id; `None` when it does not have the four parts.
    pub fn parse(id: &str) -> Option<InventoryId> {
        let (namespace, rest) = id.split_once('_')?;
        let (rest, kind) = rest.rsplit_once('_')?;
        // The group has no `_`; the name may hold `__` (an escaped `:`).
        let (name, group) = rest.rsplit_once('_')?;
        let name = name.replace("__", ":");
        if name.is_empty() || kind.is_empty() || name.len() > 253 {
            return None;
        }
        Some(InventoryId { namespace: namespace.to_owned(), name, group: group.to_owned(), kind: kind.to_owned() })
    }
}

/// The live health of a managed object, after kstatus: workloads by their rollout, Jobs by
/// completion, Pods by phase, Flux objects by their health, other kinds by existence or a Ready
/// condition. Returns the health and a short reason.
pub fn item_health(group: &str, kind: &str, obj: &Value) -> (ItemHealth, String) {
    if obj["metadata"].get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
        return (ItemHealth::InProgress, "being deleted".to_owned());
    }
    let generation = obj["metadata"]["generation"].as_i64();
    let observed = obj["status"]["observedGeneration"].as_i64();
    let stale = matches!((generation, observed), (Some(g), Some(o)) if o < g)
        || (generation.is_some() && observed.is_none() && matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet"));
    let status = &obj["status"];
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    match (group, kind) {
        ("apps", "Deployment") => {
            if stale {
                return (ItemHealth::InProgress, "waiting for the controller to observe the new generation".into());
            }
            let progressing = find_condition(obj, "Progressing");
            if progressing.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") {
                return (ItemHealth::Failed, "progress deadline exceeded".into());
            }
            let want = obj["spec"]["replicas"].as_i64().unwrap_or(1);
            let (updated, available, ready, total) = (
                int(&status["updatedReplicas"]),
                int(&status["availableReplicas"]),
                int(&status["readyReplicas"]),
                int(&status["replicas"]),
            );
            if updated < want {
                (ItemHealth::InProgress, format!("{updated}/{want} replicas updated"))
            } else if total > updated {
                (ItemHealth::InProgress, format!("{} old replicas pending termination", total - updated))
            } else if available < want || ready < want {
                (ItemHealth::InProgress, format!("{available}/{want} replicas available"))
            } else {
                (ItemHealth::Current, format!("{available}/{want} replicas available"))
            }
        }
        ("apps", "StatefulSet") => {
            if stale {
                return (ItemHealth::InProgress, "waiting for the controller to observe the new generation".into());
            }
            let want = obj["spec"]["replicas"].as_i64().unwrap_or(1);
            let ready = int(&status["readyReplicas"]);
            let current = int(&status["currentReplicas"]);
            if ready < want {
                (ItemHealth::InProgress, format!("{ready}/{want} replicas ready"))
            } else if status["updateRevision"].is_string() && status["currentRevision"] != status["updateRevision"] {
                (ItemHealth::InProgress, format!("rolling update: {current}/{want} replicas at the new revision"))
            } else {
                (ItemHealth::Current, format!("{ready}/{want} replicas ready"))
            }
        }
        ("apps", "DaemonSet") => {
            if stale {
                return (ItemHealth::InProgress, "waiting for the controller to observe the new generation".into());
            }
            let want = int(&status["desiredNumberScheduled"]);
            let (updated, available) = (int(&status["updatedNumberScheduled"]), int(&status["numberAvailable"]));
            if updated < want {
                (ItemHealth::InProgress, format!("{updated}/{want} pods updated"))
            } else if available < want {
                (ItemHealth::InProgress, format!("{available}/{want} pods available"))
            } else {
                (ItemHealth::Current, format!("{available}/{want} pods available"))
            }
        }
        ("batch", "Job") => {
            if find_condition(obj, "Failed").is_some_and(|c| c["status"] == "True") {
                let why = find_condition(obj, "Failed").map(|c| text(&c["message"])).unwrap_or_default();
                (ItemHealth::Failed, if why.is_empty() { "job failed".into() } else { why })
            } else if find_condition(obj, "Complete").is_some_and(|c| c["status"] == "True") {
                (ItemHealth::Current, "job completed".into())
            } else {
                (
                    ItemHealth::InProgress,
                    format!("{} active, {} succeeded", int(&status["active"]), int(&status["succeeded"])),
                )
            }
        }
        ("", "Pod") => match status["phase"].as_str().unwrap_or("Pending") {
            "Succeeded" => (ItemHealth::Current, "pod succeeded".into()),
            "Failed" => (ItemHealth::Failed, "pod failed".into()),
            "Running" if find_condition(obj, "Ready").is_some_and(|c| c["status"] == "True") => {
                (ItemHealth::Current, "pod is ready".into())
            }
            phase => (ItemHealth::InProgress, format!("pod is {}", phase.to_lowercase())),
        },
        ("", "Service") => {
            let lb = obj["spec"]["type"] == "LoadBalancer";
            if lb && status["loadBalancer"]["ingress"].as_array().is_none_or(Vec::is_empty) {
                (ItemHealth::InProgress, "waiting for a load balancer address".into())
            } else {
                (ItemHealth::Current, "service exists".into())
            }
        }
        ("", "PersistentVolumeClaim") => match status["phase"].as_str() {
            Some("Bound") => (ItemHealth::Current, "bound".into()),
            phase => (ItemHealth::InProgress, format!("claim is {}", phase.unwrap_or("pending").to_lowercase())),
        },
        _ => match kind_info(group, kind) {
            Some(info) => {
                let summary = summarize("", info, obj);
                let health = match summary.health {
                    Health::Ready | Health::Suspended => ItemHealth::Current,
                    Health::Progressing | Health::Terminating => ItemHealth::InProgress,
                    Health::Failing | Health::Stalled => ItemHealth::Failed,
                    Health::Unknown => ItemHealth::Unknown,
                };
                (health, summary.message)
            }
            None => match find_condition(obj, "Ready").map(|c| (text(&c["status"]), text(&c["message"]))) {
                Some((s, m)) if s == "True" => (ItemHealth::Current, m),
                Some((s, m)) if s == "False" => (ItemHealth::Failed, m),
                Some((_, m)) => (ItemHealth::InProgress, m),
                None if stale => (ItemHealth::InProgress, "waiting for the controller".into()),
                None => (ItemHealth::Current, "exists".into()),
            },
        },
    }
}

fn find_condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(replicas: i64, status: Value) -> Value {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": replicas}, "status": status})
    }

    #[test]
    fn deployments_follow_kstatus() {
        let full = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2});
        assert_eq!(item_health("apps", "Deployment", &deployment(2, full)).0, ItemHealth::Current);
        let stale = json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2});
        assert_eq!(item_health("apps", "Deployment", &deployment(2, stale)).0, ItemHealth::InProgress);
        let half = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 1, "availableReplicas": 1});
        assert_eq!(
            item_health("apps", "Deployment", &deployment(2, half)),
            (ItemHealth::InProgress, "1/2 replicas available".into())
        );
        let old = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2});
        assert_eq!(item_health("apps", "Deployment", &deployment(2, old)).0, ItemHealth::InProgress);
        let dead = json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]});
        assert_eq!(item_health("apps", "Deployment", &deployment(2, dead)).0, ItemHealth::Failed);
        let no_status = json!({"metadata": {"generation": 1}, "spec": {}});
        assert_eq!(item_health("apps", "Deployment", &no_status).0, ItemHealth::InProgress);
    }

    #[test]
    fn jobs_pods_services_and_plain_objects() {
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert_eq!(item_health("batch", "Job", &failed), (ItemHealth::Failed, "BackoffLimitExceeded".into()));
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(item_health("batch", "Job", &done).0, ItemHealth::Current);
        assert_eq!(item_health("", "Pod", &json!({"status": {"phase": "Pending"}})).0, ItemHealth::InProgress);
        let lb = json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}});
        assert_eq!(item_health("", "Service", &lb).0, ItemHealth::InProgress);
        assert_eq!(item_health("", "ConfigMap", &json!({"data": {}})), (ItemHealth::Current, "exists".into()));
        let deleting = json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(item_health("", "ConfigMap", &deleting).0, ItemHealth::InProgress);
    }

    #[test]
    fn flux_objects_in_an_inventory_use_their_flux_health() {
        let ks = json!({"metadata": {"generation": 1}, "spec": {}, "status": {"observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "kustomize build failed"}]}});
        assert_eq!(
            item_health("kustomize.toolkit.fluxcd.io", "Kustomization", &ks),
            (ItemHealth::Failed, "kustomize build failed".into())
        );
    }

    #[test]
    fn inventory_ids_parse_including_escaped_colons() {
        let id = InventoryId::parse("default_my-nginx-deploy_apps_Deployment").unwrap();
        assert_eq!(
            (id.namespace.as_str(), id.name.as_str(), id.group.as_str(), id.kind.as_str()),
            ("default", "my-nginx-deploy", "apps", "Deployment")
        );
        let cluster_scoped = InventoryId::parse("_flux-system__Namespace").unwrap();
        assert_eq!(
            (cluster_scoped.namespace.as_str(), cluster_scoped.name.as_str(), cluster_scoped.group.as_str()),
            ("", "flux-system", "")
        );
        let rbac = InventoryId::parse("_system__controller__flux_rbac.authorization.k8s.io_ClusterRole").unwrap();
        assert_eq!(rbac.name, "system:controller:flux");
        for bad in ["", "a", "a_b", "a_b_c", "ns__apps_Deployment", "ns_name_apps_"] {
            assert_eq!(InventoryId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn history_reads_helm_releases_and_kustomizations() {
        let hr = json!({"status": {"history": [{"chartName": "podinfo", "chartVersion": "6.5.4", "appVersion": "6.5.4",
            "version": 3, "status": "deployed", "lastDeployed": "2026-01-01T00:00:00Z"}]}});
        let h = history("HelmRelease", &hr);
        assert_eq!(h[0].revision, "6.5.4");
        assert_eq!(h[0].detail, "podinfo v3, app 6.5.4");
        let ks = json!({"status": {"history": [{"metadata": {"revision": "main@sha1:abc"}, "lastReconciledStatus": "ReconciliationSucceeded",
            "lastReconciled": "2026-01-01T00:00:00Z", "totalReconciliations": 4}]}});
        let h = history("Kustomization", &ks);
        assert_eq!((h[0].revision.as_str(), h[0].detail.as_str()), ("main@sha1:abc", "4 reconciliations"));
        assert!(history("Kustomization", &json!({})).is_empty());
    }

    #[test]
    fn events_prefer_the_last_timestamp() {
        let e = json!({"type": "Warning", "reason": "BuildFailed", "message": "x", "count": 3,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-02T00:00:00Z", "source": {"component": "kustomize-controller"}});
        let entry = event_entry(&e);
        assert_eq!(
            (entry.count, entry.last_seen.as_deref(), entry.source.as_str()),
            (3, Some("2026-01-02T00:00:00Z"), "kustomize-controller")
        );
    }
}
