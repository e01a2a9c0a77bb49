//! The emulated Deployment controller and kubelet: a Deployment gets Pods for its template,
//! which become ready after a delay; a template change (as `kubectl rollout restart` makes)
//! rolls the Pods: new ones first, the old ones removed once the new ones are ready.
//!
//! Simplification: Pods are owned by their Deployment directly (no ReplicaSets); the
//! `pod-template-hash` label still names the template they run.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use crate::{cluster::Cluster, object, queue::WorkQueue, selector};

const DEPLOYMENTS: &str = "apps/deployments";
const PODS: &str = "/pods";

/// Runs the Deployment controller until the store's channels close for good.
pub(crate) async fn run(cluster: Cluster, pod_ready: Duration) {
    let queue = Arc::new(WorkQueue::<(String, String)>::new());
    let mut deployments = cluster.store.subscribe(DEPLOYMENTS);
    let mut pods = cluster.store.subscribe(PODS);
    for d in cluster.store.all(DEPLOYMENTS) {
        queue.add(key(&d));
    }
    let worker = {
        let queue = queue.clone();
        let cluster = cluster.clone();
        async move {
            loop {
                let k = queue.take().await;
                if let Some(next) = sync(&cluster, &k.0, &k.1, pod_ready) {
                    queue.add_at(k.clone(), tokio::time::Instant::now() + next);
                }
                queue.done(&k);
            }
        }
    };
    let watcher = async {
        loop {
            tokio::select! {
                received = deployments.recv() => match received {
                    Ok(change) => queue.add(key(&change.object)),
                    Err(RecvError::Lagged(_)) => cluster.store.all(DEPLOYMENTS).iter().for_each(|d| queue.add(key(d))),
                    Err(RecvError::Closed) => deployments = cluster.store.subscribe(DEPLOYMENTS),
                },
                received = pods.recv() => match received {
                    Ok(change) => {
                        if let Some(owner) = owner(&change.object) {
                            queue.add((object::namespace(&change.object).to_owned(), owner));
                        }
                    }
                    Err(RecvError::Lagged(_)) => cluster.store.all(DEPLOYMENTS).iter().for_each(|d| queue.add(key(d))),
                    Err(RecvError::Closed) => pods = cluster.store.subscribe(PODS),
                },
            }
        }
    };
    tokio::join!(worker, watcher);
}

fn key(obj: &Value) -> (String, String) {
    (object::namespace(obj).to_owned(), object::name(obj).to_owned())
}

fn owner(pod: &Value) -> Option<String> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == "Deployment")
        .and_then(|r| r["name"].as_str().map(str::to_owned))
}

/// The hash a template's Pods are labelled with.
pub(crate) fn template_hash(template: &Value) -> String {
    let digest = Sha256::digest(template.to_string().as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect::<String>()[..10].to_owned()
}

/// One pass over a Deployment; returns when to look again (a Pod becoming ready).
fn sync(cluster: &Cluster, namespace: &str, name: &str, pod_ready: Duration) -> Option<Duration> {
    let pods = cluster.list("", "Pod", |p| object::namespace(p) == namespace && owner(p).as_deref() == Some(name));
    let Some(deployment) = cluster.get("apps", "Deployment", namespace, name) else {
        for pod in pods {
            // The Deployment is gone: garbage-collect its Pods. Errors mean they are gone too.
            let _ = cluster.delete("v1", "Pod", namespace, object::name(&pod));
        }
        return None;
    };
    if deployment["metadata"].get("deletionTimestamp").is_some() {
        return None;
    }
    let Ok(selector) = selector::from_label_selector_json(&deployment["spec"]["selector"]) else {
        tracing::warn!(deployment = name, "invalid selector");
        return None;
    };
    let pods: Vec<_> = pods.into_iter().filter(|p| selector.matches_object(p)).collect();
    let template = &deployment["spec"]["template"];
    let hash = template_hash(template);
    let desired = deployment["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let (current, old): (Vec<_>, Vec<_>) =
        pods.iter().partition(|p| p["metadata"]["labels"]["pod-template-hash"] == hash.as_str());
    let mut wake = None;
    for i in current.len()..desired {
        let pod = new_pod(&deployment, &hash, i, cluster.store.resource_version());
        if let Err(err) = cluster.apply(&pod) {
            tracing::warn!(%err, deployment = name, "creating a pod failed");
        }
        wake = Some(pod_ready);
    }
    for pod in current.iter().skip(desired) {
        let _ = cluster.delete("v1", "Pod", namespace, object::name(pod));
    }
    let now = jiff::Timestamp::now();
    for pod in current.iter().take(desired) {
        match pod_ready_at(pod, pod_ready) {
            Some(at) if at <= now => mark_ready(cluster, pod),
            Some(at) => {
                let left = at.duration_since(now).unsigned_abs();
                wake = Some(wake.map_or(left, |w: Duration| w.min(left)));
            }
            None => {}
        }
    }
    let ready_current = current.iter().take(desired).filter(|p| is_ready(p)).count();
    if ready_current >= desired {
        for pod in &old {
            let _ = cluster.delete("v1", "Pod", namespace, object::name(pod));
        }
    }
    write_status(cluster, &deployment, &current, &old, desired);
    wake
}

fn new_pod(deployment: &Value, hash: &str, index: usize, salt: u64) -> Value {
    let template = &deployment["spec"]["template"];
    let name = object::name(deployment);
    let mut labels = template["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    labels.insert("pod-template-hash".into(), json!(hash));
    let suffix = template_hash(&json!([salt, index]));
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{name}-{hash}-{}", &suffix[..5]),
            "namespace": object::namespace(deployment),
            "labels": labels,
            "annotations": template["metadata"]["annotations"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                 "uid": deployment["metadata"]["uid"], "controller": true}],
        },
        "spec": template["spec"],
    })
}

fn pod_ready_at(pod: &Value, pod_ready: Duration) -> Option<jiff::Timestamp> {
    if is_ready(pod) {
        return None;
    }
    let created: jiff::Timestamp = pod["metadata"]["creationTimestamp"].as_str()?.parse().ok()?;
    let delay = jiff::SignedDuration::try_from(pod_ready).ok()?;
    created.checked_add(delay).ok()
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn mark_ready(cluster: &Cluster, pod: &Value) {
    let now = object::now_rfc3339();
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    json!({"name": c["name"], "image": c["image"], "ready": true, "started": true,
                                "restartCount": 0, "state": {"running": {"startedAt": now}}})
                })
                .collect()
        })
        .unwrap_or_default();
    let status = json!({
        "phase": "Running",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ],
        "containerStatuses": containers,
        "hostIP": "10.0.0.10",
        "podIP": "10.244.0.10",
        "startTime": pod["metadata"]["creationTimestamp"],
    });
    if let Ok(rt) = cluster.type_of_kind("", "Pod") {
        let _ = cluster.write_status(rt, object::namespace(pod), object::name(pod), status);
    }
}

fn write_status(cluster: &Cluster, deployment: &Value, current: &[&Arc<Value>], old: &[&Arc<Value>], desired: usize) {
    let namespace = object::namespace(deployment);
    let name = object::name(deployment);
    // Re-read the Pods: some were just made ready or deleted.
    let pods = cluster.list("", "Pod", |p| object::namespace(p) == namespace && owner(p).as_deref() == Some(name));
    let updated = current.len().min(desired);
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let unavailable = desired.saturating_sub(ready);
    let complete = updated == desired && pods.len() == desired && ready == desired && !old.iter().any(|_| true);
    let mut status = deployment["status"].clone();
    let now = object::now_rfc3339();
    let available = ready >= desired;
    let progressing = if complete {
        json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
               "message": format!("ReplicaSet \"{name}-{}\" has successfully progressed.", template_hash(&deployment["spec"]["template"]))})
    } else {
        json!({"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
               "message": format!("ReplicaSet \"{name}-{}\" is progressing.", template_hash(&deployment["spec"]["template"]))})
    };
    let available_condition = if available {
        json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."})
    } else {
        json!({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."})
    };
    let conditions = [available_condition, progressing]
        .into_iter()
        .map(|mut c| {
            let old =
                status["conditions"].as_array().and_then(|cs| cs.iter().find(|o| o["type"] == c["type"]).cloned());
            let same = old.as_ref().is_some_and(|o| o["status"] == c["status"] && o["reason"] == c["reason"]);
            let since = old.filter(|_| same).map_or(json!(now), |o| o["lastTransitionTime"].clone());
            c["lastTransitionTime"] = since;
            c["lastUpdateTime"] = json!(now);
            c
        })
        .collect::<Vec<_>>();
    status["observedGeneration"] = deployment["metadata"]["generation"].clone();
    status["replicas"] = json!(pods.len());
    status["updatedReplicas"] = json!(updated);
    status["readyReplicas"] = json!(ready);
    status["availableReplicas"] = json!(ready);
    status["unavailableReplicas"] = json!(unavailable);
    if unavailable == 0 {
        status.as_object_mut().map(|s| s.remove("unavailableReplicas"));
    }
    if ready == 0 {
        for key in ["readyReplicas", "availableReplicas"] {
            status.as_object_mut().map(|s| s.remove(key));
        }
    }
    // Keep the timestamps still when nothing else changed, so a settled Deployment is quiet.
    if strip_times(&status["conditions"]) == strip_times(&json!(conditions)) {
        status["conditions"] = deployment["status"]["conditions"].clone();
    } else {
        status["conditions"] = json!(conditions);
    }
    if let Ok(rt) = cluster.type_of_kind("apps", "Deployment") {
        let _ = cluster.write_status(rt, namespace, name, status);
    }
}

fn strip_times(conditions: &Value) -> Value {
    let mut c = conditions.clone();
    if let Some(list) = c.as_array_mut() {
        for item in list {
            if let Some(m) = item.as_object_mut() {
                m.remove("lastTransitionTime");
                m.remove("lastUpdateTime");
            }
        }
    }
    c
}

/// Whether a Deployment has rolled out its current template with every replica ready and no
/// old Pod left: for a Flux controller, whether it is running (and holds its leader lease).
pub(crate) fn is_rolled_out(deployment: &Value) -> bool {
    let status = &deployment["status"];
    let desired = deployment["spec"]["replicas"].as_u64().unwrap_or(1);
    desired >= 1
        && status["observedGeneration"] == deployment["metadata"]["generation"]
        && status["updatedReplicas"].as_u64() == Some(desired)
        && status["replicas"].as_u64() == Some(desired)
        && status["readyReplicas"].as_u64().unwrap_or(0) >= desired
}
