//! What the detail page shows beyond the summary, read from the raw object: conditions, history,
//! events, inventory ids, and the live health of a managed object after kstatus rules.

use serde_json::Value;

use crate::api::{Condition, EventEntry, HistoryEntry, ItemHealth};
use crate::kinds::kind_info;
use crate::summary::{Health, is_terminating, summarize};

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

/// One inventory entry: its id parsed (None when unreadable), the raw id and the API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryEntry {
    pub id: Option<InventoryId>,
    pub raw: String,
    pub version: String,
}

/// What an object's status says it manages: `Ok(None)` for kinds without an inventory,
/// `Err(note)` when one is expected but not recorded.
/// - Kustomization, HelmRelease (helm-controller of Flux 2.8 and later): `status.inventory.entries`.
/// - ArtifactGenerator: `status.inventory`, a list of the ExternalArtifacts it produced.
pub fn inventory_entries(kind: &str, obj: &Value) -> Result<Option<Vec<InventoryEntry>>, String> {
    let inventory = &obj["status"]["inventory"];
    match kind {
        "Kustomization" | "HelmRelease" => match inventory["entries"].as_array() {
            Some(entries) => Ok(Some(
                entries
                    .iter()
                    .map(|e| {
                        let raw = text(&e["id"]);
                        InventoryEntry { id: InventoryId::parse(&raw), raw, version: text(&e["v"]) }
                    })
                    .collect(),
            )),
            None if kind == "HelmRelease" && !obj["status"]["history"].is_null() => {
                Err("no inventory recorded: helm-controller records one from Flux 2.8 on; before that the release's \
                 objects live only in its Helm storage Secret, which fluxboard does not read"
                    .into())
            }
            None => Ok(None),
        },
        "ArtifactGenerator" => Ok(inventory.as_array().map(|refs| {
            let namespace = text(&obj["metadata"]["namespace"]);
            refs.iter()
                .map(|r| {
                    let ns = r["namespace"].as_str().map_or_else(|| namespace.clone(), str::to_owned);
                    let name = text(&r["name"]);
                    InventoryEntry {
                        raw: format!("{ns}_{name}_source.toolkit.fluxcd.io_ExternalArtifact"),
                        id: (!name.is_empty()).then(|| InventoryId {
                            namespace: ns,
                            name,
                            group: "source.toolkit.fluxcd.io".into(),
                            kind: "ExternalArtifact".into(),
                        }),
                        version: "v1".into(),
                    }
                })
                .collect()
        })),
        _ => Ok(None),
    }
}

/// The live health of a managed object, after kstatus (cli-utils pkg/kstatus/status: `Compute`,
/// its generic rules and the legacy per-kind rules of core.go), with two choices of Flux's own:
/// a running Job is in progress (fluxcd/pkg runtime/statusreaders/job.go, which kustomize- and
/// helm-controller health checks use), and Flux objects are rated by their Flux health (a
/// Ready=False Kustomization is Failed, where plain kstatus says InProgress). `now` (Unix
/// seconds) dates a Pod's scheduling window. Returns the health and a short reason.
pub fn item_health(group: &str, kind: &str, obj: &Value, now: i64) -> (ItemHealth, String) {
    if is_terminating(obj) {
        return (ItemHealth::Terminating, "being deleted".to_owned());
    }
    if let Some(info) = kind_info(group, kind) {
        let summary = summarize("", info, obj);
        let health = match summary.health {
            Health::Ready | Health::Suspended => ItemHealth::Current,
            Health::Progressing => ItemHealth::InProgress,
            Health::Terminating => ItemHealth::Terminating,
            Health::Failing | Health::Stalled => ItemHealth::Failed,
            Health::Unknown => ItemHealth::Unknown,
        };
        return (health, summary.message);
    }
    if let Some(generic) = generic_health(obj) {
        return generic;
    }
    let spec = &obj["spec"];
    let status = &obj["status"];
    let int = |v: &Value, default: i64| v.as_i64().unwrap_or(default);
    let in_progress = |m: String| (ItemHealth::InProgress, m);
    match (group, kind) {
        ("apps", "Deployment") => {
            let mut progressing = spec["progressDeadlineSeconds"].is_null();
            let mut available = false;
            for c in obj["status"]["conditions"].as_array().into_iter().flatten() {
                match c["type"].as_str() {
                    Some("Progressing") if c["reason"] == "ProgressDeadlineExceeded" => {
                        return (ItemHealth::Failed, "progress deadline exceeded".into());
                    }
                    Some("Progressing") => {
                        progressing |= c["status"] == "True" && c["reason"] == "NewReplicaSetAvailable"
                    }
                    Some("Available") => available |= c["status"] == "True",
                    _ => {}
                }
            }
            let want = int(&spec["replicas"], 1);
            let total = int(&status["replicas"], 0);
            let updated = int(&status["updatedReplicas"], 0);
            let ready = int(&status["readyReplicas"], 0);
            let avail = int(&status["availableReplicas"], 0);
            if want > total {
                in_progress(format!("{total}/{want} replicas"))
            } else if want > updated {
                in_progress(format!("{updated}/{want} replicas updated"))
            } else if total > want {
                in_progress(format!("{} old replicas pending termination", total - want))
            } else if updated > avail {
                in_progress(format!("{avail}/{updated} replicas available"))
            } else if want > ready {
                in_progress(format!("{ready}/{want} replicas ready"))
            } else if !progressing {
                in_progress("the new ReplicaSet is not available yet".into())
            } else if !available {
                in_progress("the Deployment is not available yet".into())
            } else {
                (ItemHealth::Current, format!("{avail}/{want} replicas available"))
            }
        }
        ("apps", "ReplicaSet") => {
            let want = int(&spec["replicas"], 1);
            let (total, ready, avail, labelled) = (
                int(&status["replicas"], 0),
                int(&status["readyReplicas"], 0),
                int(&status["availableReplicas"], 0),
                int(&status["fullyLabeledReplicas"], 0),
            );
            if condition_is(obj, "ReplicaFailure", "True") {
                in_progress("replica failure: check the pods".into())
            } else if want > labelled {
                in_progress(format!("{labelled}/{want} replicas labelled"))
            } else if want > avail {
                in_progress(format!("{avail}/{want} replicas available"))
            } else if want > ready {
                in_progress(format!("{ready}/{want} replicas ready"))
            } else if total > want {
                in_progress(format!("{} replicas pending termination", total - want))
            } else {
                (ItemHealth::Current, format!("{avail}/{want} replicas available"))
            }
        }
        ("apps", "StatefulSet") => {
            if spec["updateStrategy"]["type"] == "OnDelete" {
                return (ItemHealth::Current, "uses the OnDelete update strategy".into());
            }
            let want = int(&spec["replicas"], 1);
            let (total, ready, current, updated) = (
                int(&status["replicas"], 0),
                int(&status["readyReplicas"], 0),
                int(&status["currentReplicas"], 0),
                int(&status["updatedReplicas"], 0),
            );
            let partition = spec["updateStrategy"]["rollingUpdate"]["partition"].as_i64();
            if want > total {
                in_progress(format!("{total}/{want} replicas"))
            } else if want > ready {
                in_progress(format!("{ready}/{want} replicas ready"))
            } else if total > want {
                in_progress(format!("{} replicas pending termination", total - want))
            } else if let Some(partition) = partition {
                if updated < want - partition {
                    in_progress(format!("partition rollout: {updated}/{} replicas updated", want - partition))
                } else {
                    (ItemHealth::Current, format!("partition rollout complete: {updated} replicas updated"))
                }
            } else if want > current {
                in_progress(format!("rolling update: {current}/{want} replicas at the new revision"))
            } else if status["currentRevision"] != status["updateRevision"] {
                in_progress("rolling update: waiting for the revisions to match".into())
            } else {
                (ItemHealth::Current, format!("{ready}/{want} replicas ready"))
            }
        }
        ("apps", "DaemonSet") => {
            if obj["metadata"]["generation"].is_null() || status["observedGeneration"].is_null() {
                return in_progress("waiting for the controller to observe it".into());
            }
            let Some(want) = status["desiredNumberScheduled"].as_i64() else {
                return in_progress("the number of pods to schedule is not known yet".into());
            };
            let counts = [
                ("scheduled", int(&status["currentNumberScheduled"], 0)),
                ("updated", int(&status["updatedNumberScheduled"], 0)),
                ("available", int(&status["numberAvailable"], 0)),
                ("ready", int(&status["numberReady"], 0)),
            ];
            match counts.iter().find(|(_, n)| want > *n) {
                Some((what, n)) => in_progress(format!("{n}/{want} pods {what}")),
                None => (ItemHealth::Current, format!("{want}/{want} pods ready")),
            }
        }
        ("batch", "Job") => {
            let failed = find_condition(obj, "Failed").filter(|c| c["status"] == "True");
            if let Some(c) = failed {
                let why = text(&c["message"]);
                (ItemHealth::Failed, if why.is_empty() { "job failed".into() } else { why })
            } else if condition_is(obj, "Complete", "True") {
                (ItemHealth::Current, "job completed".into())
            } else if spec["suspend"] == true && condition_is(obj, "Suspended", "True") {
                (ItemHealth::Current, "job is suspended".into())
            } else {
                in_progress(format!("{} active, {} succeeded", int(&status["active"], 0), int(&status["succeeded"], 0)))
            }
        }
        ("", "Pod") => pod_health(obj, now),
        ("", "Service") => {
            let lb = spec["type"] == "LoadBalancer";
            if lb && spec["clusterIP"].as_str().is_none_or(str::is_empty) {
                in_progress("waiting for a cluster IP".into())
            } else {
                (ItemHealth::Current, "service exists".into())
            }
        }
        ("", "PersistentVolumeClaim") => match status["phase"].as_str() {
            Some("Bound") => (ItemHealth::Current, "bound".into()),
            phase => in_progress(format!("claim is {}", phase.unwrap_or("pending").to_ascii_lowercase())),
        },
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            for c in obj["status"]["conditions"].as_array().into_iter().flatten() {
                let failed = match c["type"].as_str() {
                    Some("NamesAccepted") => c["status"] == "False",
                    Some("Established") if c["status"] == "True" => {
                        return (ItemHealth::Current, "established".into());
                    }
                    Some("Established") => c["status"] == "False" && c["reason"] != "Installing",
                    _ => false,
                };
                if failed {
                    return (ItemHealth::Failed, text(&c["message"]));
                }
            }
            in_progress("installing".into())
        }
        _ => match find_condition(obj, "Ready").map(|c| (text(&c["status"]), text(&c["message"]))) {
            Some((s, m)) if s == "True" => (ItemHealth::Current, m),
            // kstatus: a Ready=False that is not Stalled is still in progress.
            Some((_, m)) => in_progress(m),
            None => (ItemHealth::Current, "exists".into()),
        },
    }
}

/// kstatus `checkGenericProperties`: a stale observedGeneration, then Reconciling=True, then
/// Stalled=True.
fn generic_health(obj: &Value) -> Option<(ItemHealth, String)> {
    let generation = obj["metadata"]["generation"].as_i64();
    let observed = obj["status"]["observedGeneration"].as_i64();
    if let (Some(g), Some(o)) = (generation, observed)
        && g != o
    {
        return Some((ItemHealth::InProgress, "waiting for the controller to observe the new generation".into()));
    }
    if let Some(c) = find_condition(obj, "Reconciling").filter(|c| c["status"] == "True") {
        return Some((ItemHealth::InProgress, text(&c["message"])));
    }
    find_condition(obj, "Stalled").filter(|c| c["status"] == "True").map(|c| (ItemHealth::Failed, text(&c["message"])))
}

/// How long a Pod may wait unschedulable before kstatus calls it failed (`ScheduleWindow`).
const SCHEDULE_WINDOW_SECS: i64 = 15;

fn pod_health(obj: &Value, now: i64) -> (ItemHealth, String) {
    match obj["status"]["phase"].as_str().unwrap_or_default() {
        "Succeeded" => (ItemHealth::Current, "pod succeeded".into()),
        // kstatus: a finished Pod is Current, successful or not.
        "Failed" => (ItemHealth::Current, "pod completed, but not successfully".into()),
        "Running" if condition_is(obj, "Ready", "True") => (ItemHealth::Current, "pod is ready".into()),
        "Running" => {
            let looping: Vec<&str> = obj["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["state"]["waiting"]["reason"] == "CrashLoopBackOff")
                .filter_map(|c| c["name"].as_str())
                .collect();
            if looping.is_empty() {
                (ItemHealth::InProgress, "pod is running but not ready".into())
            } else {
                (ItemHealth::Failed, format!("containers crash-looping: {}", looping.join(", ")))
            }
        }
        "Pending" => {
            let unschedulable = find_condition(obj, "PodScheduled")
                .is_some_and(|c| c["status"] == "False" && c["reason"] == "Unschedulable");
            let created = obj["metadata"]["creationTimestamp"].as_str().and_then(crate::view::parse_rfc3339);
            match (unschedulable, created) {
                (true, Some(created)) if now - created > SCHEDULE_WINDOW_SECS => {
                    (ItemHealth::Failed, "pod could not be scheduled".into())
                }
                (true, _) => (ItemHealth::InProgress, "pod has not been scheduled".into()),
                _ => (ItemHealth::InProgress, "pod is pending".into()),
            }
        }
        "" => (ItemHealth::InProgress, "pod phase not available yet".into()),
        phase => (ItemHealth::Unknown, format!("unknown pod phase {phase}")),
    }
}

fn condition_is(obj: &Value, type_: &str, status: &str) -> bool {
    find_condition(obj, type_).is_some_and(|c| c["status"] == status)
}

fn find_condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(replicas: i64, status: Value) -> Value {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": replicas, "progressDeadlineSeconds": 600}, "status": status})
    }

    fn health(group: &str, kind: &str, obj: &Value) -> ItemHealth {
        item_health(group, kind, obj, 0).0
    }

    fn rolled_out(extra: Value) -> Value {
        let mut status = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                           {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]});
        for (k, v) in extra.as_object().unwrap() {
            status[k] = v.clone();
        }
        status
    }

    #[test]
    fn deployments_follow_kstatus() {
        // cli-utils kstatus core.go deploymentConditions.
        assert_eq!(health("apps", "Deployment", &deployment(2, rolled_out(json!({})))), ItemHealth::Current);
        let stale = rolled_out(json!({"observedGeneration": 1}));
        assert_eq!(health("apps", "Deployment", &deployment(2, stale)), ItemHealth::InProgress);
        let half = rolled_out(json!({"readyReplicas": 1, "availableReplicas": 1}));
        assert_eq!(
            item_health("apps", "Deployment", &deployment(2, half), 0),
            (ItemHealth::InProgress, "1/2 replicas available".into())
        );
        // Scaling down with pods still terminating: status.replicas > spec.replicas (D4).
        let terminating = rolled_out(json!({"replicas": 3, "updatedReplicas": 3}));
        assert_eq!(health("apps", "Deployment", &deployment(2, terminating)), ItemHealth::InProgress);
        // Counts complete but the new ReplicaSet not yet reported available.
        let no_conditions = rolled_out(json!({"conditions": []}));
        assert_eq!(
            item_health("apps", "Deployment", &deployment(2, no_conditions), 0),
            (ItemHealth::InProgress, "the new ReplicaSet is not available yet".into())
        );
        let dead = json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]});
        assert_eq!(health("apps", "Deployment", &deployment(2, dead)), ItemHealth::Failed);
        let no_status = json!({"metadata": {"generation": 1}, "spec": {}});
        assert_eq!(health("apps", "Deployment", &no_status), ItemHealth::InProgress);
    }

    #[test]
    fn stateful_sets_with_on_delete_or_a_partition_finish() {
        // core.go stsConditions (D5).
        let sts = |strategy: Value, status: Value| json!({"metadata": {"generation": 1}, "spec": {"replicas": 3, "updateStrategy": strategy}, "status": status});
        let mid_rollout = json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 2,
            "updatedReplicas": 1, "currentRevision": "a", "updateRevision": "b"});
        assert_eq!(
            health("apps", "StatefulSet", &sts(json!({"type": "RollingUpdate"}), mid_rollout.clone())),
            ItemHealth::InProgress
        );
        assert_eq!(
            health("apps", "StatefulSet", &sts(json!({"type": "OnDelete"}), mid_rollout.clone())),
            ItemHealth::Current
        );
        let partitioned = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
        assert_eq!(health("apps", "StatefulSet", &sts(partitioned.clone(), mid_rollout.clone())), ItemHealth::Current);
        let mut none_updated = mid_rollout;
        none_updated["updatedReplicas"] = json!(0);
        assert_eq!(health("apps", "StatefulSet", &sts(partitioned, none_updated)), ItemHealth::InProgress);
        let done = json!({"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
            "currentRevision": "b", "updateRevision": "b"});
        assert_eq!(health("apps", "StatefulSet", &sts(json!({"type": "RollingUpdate"}), done)), ItemHealth::Current);
    }

    #[test]
    fn daemon_sets_need_every_count() {
        // core.go daemonsetConditions (D6).
        let ds = |status: Value| json!({"metadata": {"generation": 1}, "status": status});
        assert_eq!(health("apps", "DaemonSet", &ds(json!({"observedGeneration": 1}))), ItemHealth::InProgress);
        let not_ready = json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
            "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 1});
        assert_eq!(
            item_health("apps", "DaemonSet", &ds(not_ready), 0),
            (ItemHealth::InProgress, "1/2 pods ready".into())
        );
        let all = json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
            "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 2});
        assert_eq!(health("apps", "DaemonSet", &ds(all)), ItemHealth::Current);
        assert_eq!(health("apps", "DaemonSet", &json!({"metadata": {"generation": 1}})), ItemHealth::InProgress);
    }

    #[test]
    fn jobs_pods_services_and_plain_objects() {
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert_eq!(item_health("batch", "Job", &failed, 0), (ItemHealth::Failed, "BackoffLimitExceeded".into()));
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(health("batch", "Job", &done), ItemHealth::Current);
        // A running Job is in progress, as Flux's own Job reader says (statusreaders/job.go).
        assert_eq!(health("batch", "Job", &json!({"status": {"startTime": "t", "active": 1}})), ItemHealth::InProgress);
        let suspended =
            json!({"spec": {"suspend": true}, "status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
        assert_eq!(health("batch", "Job", &suspended), ItemHealth::Current, "D7");
        // LoadBalancer Services need only a cluster IP (D9).
        let lb = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"}, "status": {"loadBalancer": {}}});
        assert_eq!(health("", "Service", &lb), ItemHealth::Current);
        let lb_no_ip = json!({"spec": {"type": "LoadBalancer"}});
        assert_eq!(health("", "Service", &lb_no_ip), ItemHealth::InProgress);
        assert_eq!(item_health("", "ConfigMap", &json!({"data": {}}), 0), (ItemHealth::Current, "exists".into()));
        let deleting = json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(health("", "ConfigMap", &deleting), ItemHealth::Terminating);
    }

    #[test]
    fn pods_follow_kstatus() {
        // core.go podConditions (D8).
        let pod = |status: Value| json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "status": status});
        assert_eq!(health("", "Pod", &pod(json!({"phase": "Failed"}))), ItemHealth::Current);
        let looping = json!({"phase": "Running", "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]});
        assert_eq!(
            item_health("", "Pod", &pod(looping), 0),
            (ItemHealth::Failed, "containers crash-looping: app".into())
        );
        let unschedulable = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}),
        );
        let created = crate::view::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(item_health("", "Pod", &unschedulable, created + 5).0, ItemHealth::InProgress);
        assert_eq!(item_health("", "Pod", &unschedulable, created + 16).0, ItemHealth::Failed);
        assert_eq!(health("", "Pod", &pod(json!({"phase": "Pending"}))), ItemHealth::InProgress);
    }

    #[test]
    fn other_kinds_follow_the_generic_rules() {
        // status.go checkGenericProperties and checkReadyCondition; core.go CRDConditions (D11).
        let cr = |status: Value| json!({"metadata": {"generation": 2}, "status": status});
        assert_eq!(health("example.com", "Widget", &cr(json!({"observedGeneration": 1}))), ItemHealth::InProgress);
        let reconciling = cr(json!({"conditions": [{"type": "Reconciling", "status": "True", "message": "working"}]}));
        assert_eq!(item_health("example.com", "Widget", &reconciling, 0), (ItemHealth::InProgress, "working".into()));
        let stalled = cr(json!({"conditions": [{"type": "Stalled", "status": "True", "message": "stuck"}]}));
        assert_eq!(health("example.com", "Widget", &stalled), ItemHealth::Failed);
        let not_ready = cr(json!({"conditions": [{"type": "Ready", "status": "False", "message": "later"}]}));
        assert_eq!(
            health("example.com", "Widget", &not_ready),
            ItemHealth::InProgress,
            "kstatus: Ready=False is InProgress"
        );
        let crd = |conditions: Value| json!({"status": {"conditions": conditions}});
        let group = "apiextensions.k8s.io";
        assert_eq!(
            health(group, "CustomResourceDefinition", &crd(json!([{"type": "Established", "status": "True"}]))),
            ItemHealth::Current
        );
        assert_eq!(
            health(
                group,
                "CustomResourceDefinition",
                &crd(json!([{"type": "NamesAccepted", "status": "False", "message": "clash"}]))
            ),
            ItemHealth::Failed
        );
        assert_eq!(
            health(
                group,
                "CustomResourceDefinition",
                &crd(json!([{"type": "Established", "status": "False", "reason": "Installing"}]))
            ),
            ItemHealth::InProgress
        );
    }

    #[test]
    fn flux_objects_in_an_inventory_use_their_flux_health() {
        let ks = json!({"metadata": {"generation": 2}, "spec": {}, "status": {"observedGeneration": -1,
            "conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "kustomize build failed", "observedGeneration": 2}]}});
        assert_eq!(
            item_health("kustomize.toolkit.fluxcd.io", "Kustomization", &ks, 0),
            (ItemHealth::Failed, "kustomize build failed".into())
        );
    }

    #[test]
    fn inventories_of_kustomizations_helm_releases_and_generators() {
        let ks = json!({"status": {"inventory": {"entries": [{"id": "default_web_apps_Deployment", "v": "v1"}, {"id": "bad", "v": "v1"}]}}});
        let entries = inventory_entries("Kustomization", &ks).unwrap().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].id.as_ref().unwrap().name.as_str(), entries[0].version.as_str()), ("web", "v1"));
        assert_eq!((entries[1].id.as_ref(), entries[1].raw.as_str()), (None, "bad"));
        // helm-controller before Flux 2.8 writes history but no inventory (D2).
        let old_hr = json!({"status": {"history": [{"chartVersion": "1.0.0"}]}});
        assert!(inventory_entries("HelmRelease", &old_hr).unwrap_err().contains("Flux 2.8"));
        assert_eq!(inventory_entries("HelmRelease", &json!({})), Ok(None));
        // ArtifactGenerator: a list of ExternalArtifact references (D3).
        let ag = json!({"metadata": {"namespace": "apps"}, "status": {"inventory": [
            {"name": "frontend", "namespace": "apps", "digest": "sha256:1", "filename": "a.tgz"}, {"name": "backend"}]}});
        let entries = inventory_entries("ArtifactGenerator", &ag).unwrap().unwrap();
        let ids: Vec<_> = entries.iter().map(|e| e.id.clone().unwrap()).collect();
        assert_eq!(
            (ids[1].namespace.as_str(), ids[1].name.as_str(), ids[1].kind.as_str()),
            ("apps", "backend", "ExternalArtifact")
        );
        assert_eq!(inventory_entries("GitRepository", &ag), Ok(None));
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
