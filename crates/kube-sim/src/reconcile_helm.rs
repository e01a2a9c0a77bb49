//! helm-controller's reconciliation of a HelmRelease: chart resolution, install and upgrade
//! with release history, force and reset requests, failure counters and remediation retries.

use serde_json::{Value, json};

use crate::reconcile::{EventType, Run};

const SOURCE: &str = "source.toolkit.fluxcd.io";

/// Records a reconciliation in `status.history` (newest first, at most five records).
pub(crate) fn record_history(status: &mut Value, revision: &str, inventory: Value, result: &str, now: &str) {
    let digest = format!("sha256:{}", crate::reconcile_helm::digest(&format!("{revision}{inventory}")));
    let mut history = status["history"].as_array().cloned().unwrap_or_default();
    match history.first_mut().filter(|h| h["digest"] == digest.as_str()) {
        Some(latest) => {
            latest["lastReconciled"] = json!(now);
            latest["lastReconciledStatus"] = json!(result);
            latest["totalReconciliations"] = json!(latest["totalReconciliations"].as_u64().unwrap_or(0) + 1);
        }
        None => history.insert(
            0,
            json!({"digest": digest, "firstReconciled": now, "lastReconciled": now, "lastReconciledDuration": "1s",
                   "lastReconciledStatus": result, "totalReconciliations": 1, "metadata": {"revision": revision}}),
        ),
    }
    history.truncate(5);
    status["history"] = Value::Array(history);
}

pub(crate) fn digest(input: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(input.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The chart to release: (chart name, version), or None after marking the wait.
fn resolve_chart(r: &mut Run<'_>) -> Option<(String, String)> {
    let spec = &r.obj["spec"];
    if let Some(chart_ref) = spec["chartRef"].as_object() {
        let kind = chart_ref.get("kind").and_then(Value::as_str).unwrap_or("OCIRepository").to_owned();
        let namespace = chart_ref.get("namespace").and_then(Value::as_str).unwrap_or(r.namespace()).to_owned();
        let name = chart_ref.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        return match r.ready_source(SOURCE, &kind, &namespace, &name) {
            Ok(source) => {
                let revision = source["status"]["artifact"]["revision"].as_str().unwrap_or_default();
                let version = revision.split('@').next().unwrap_or(revision).to_owned();
                let chart =
                    source["spec"]["url"].as_str().and_then(|u| u.rsplit('/').next()).unwrap_or(&name).to_owned();
                r.outcome.status["helmChart"] = json!(format!("{namespace}/{name}"));
                Some((chart, version))
            }
            Err(message) => {
                r.wait("ArtifactFailed", &message);
                None
            }
        };
    }
    let template = &spec["chart"]["spec"];
    let chart_name = format!("{}-{}", r.namespace(), r.name());
    let chart_ns = template["sourceRef"]["namespace"].as_str().unwrap_or(r.namespace()).to_owned();
    let mut chart_spec = template.clone();
    if let Some(s) = chart_spec.as_object_mut() {
        if let Some(source) = s.get_mut("sourceRef").and_then(Value::as_object_mut) {
            source.remove("namespace");
        }
        s.entry("interval").or_insert_with(|| spec["interval"].clone());
        s.entry("reconcileStrategy").or_insert_with(|| json!("ChartVersion"));
        s.entry("version").or_insert_with(|| json!("*"));
    }
    r.outcome.apply.push(json!({
        "apiVersion": format!("{SOURCE}/v1"), "kind": "HelmChart",
        "metadata": {"name": chart_name, "namespace": chart_ns,
                     "labels": {"helm.toolkit.fluxcd.io/name": r.name(), "helm.toolkit.fluxcd.io/namespace": r.namespace()}},
        "spec": chart_spec,
    }));
    r.outcome.status["helmChart"] = json!(format!("{chart_ns}/{chart_name}"));
    let chart = r.world.get(SOURCE, "HelmChart", &chart_ns, &chart_name);
    // The HelmChart must be ready for the spec we just applied.
    let current = chart.filter(|c| {
        c["spec"]["chart"] == template["chart"]
            && c["spec"]["version"] == *chart_spec.get("version").unwrap_or(&Value::Null)
    });
    match current.and_then(|c| r.ready_source(SOURCE, "HelmChart", &chart_ns, &chart_name).ok().map(|_| c)) {
        Some(c) => Some((
            template["chart"].as_str().unwrap_or_default().to_owned(),
            c["status"]["artifact"]["revision"].as_str().unwrap_or_default().to_owned(),
        )),
        None => {
            r.wait("ArtifactFailed", &format!("HelmChart '{chart_ns}/{chart_name}' is not ready: latest generation of object has not been reconciled"));
            None
        }
    }
}

/// One HelmRelease reconciliation.
pub(crate) fn helm_release(r: &mut Run<'_>) {
    let annotations = &r.obj["metadata"]["annotations"];
    let token = annotations["reconcile.fluxcd.io/requestedAt"].as_str().map(str::to_owned);
    let requested = |key: &str, handled: &str| {
        let value = annotations[key].as_str()?;
        (Some(value) == token.as_deref() && r.obj["status"][handled].as_str() != Some(value)).then(|| value.to_owned())
    };
    let force = requested("reconcile.fluxcd.io/forceAt", "lastHandledForceAt");
    let reset = requested("reconcile.fluxcd.io/resetAt", "lastHandledResetAt");
    if let Some(reset) = &reset {
        for counter in ["failures", "installFailures", "upgradeFailures"] {
            r.outcome.status.as_object_mut().map(|s| s.remove(counter));
        }
        r.outcome.status["lastHandledResetAt"] = json!(reset);
    }
    if !r.dependencies_ready() {
        return;
    }
    let Some((chart, version)) = resolve_chart(r) else { return };
    let release = release_name(r.obj);
    let namespace = r.obj["spec"]["targetNamespace"].as_str().unwrap_or(r.namespace()).to_owned();
    let values_digest = format!("sha256:{}", digest(&r.obj["spec"]["values"].to_string()));
    let history = r.outcome.status["history"].as_array().cloned().unwrap_or_default();
    let action = if history.is_empty() { "install" } else { "upgrade" };
    r.outcome.status["lastAttemptedRevision"] = json!(version);
    r.outcome.status["lastAttemptedGeneration"] = r.generation.clone();
    r.outcome.status["lastAttemptedConfigDigest"] = json!(values_digest);
    r.outcome.status["lastAttemptedValuesChecksum"] = json!(&digest(&values_digest)[..40]);
    r.outcome.status["storageNamespace"] = json!(namespace);
    if let Some(force) = &force {
        r.outcome.status["lastHandledForceAt"] = json!(force);
    }
    if failed(r, action, &release, &namespace, &chart, &version) {
        return;
    }
    let latest = history.first();
    // Released (untouched while reconciling) tells whether the last release succeeded.
    let released =
        r.obj["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "Released").cloned());
    let ready = released.as_ref().is_some_and(|c| c["status"] == "True");
    let in_sync =
        latest.is_some_and(|l| l["chartVersion"] == version.as_str() && l["configDigest"] == values_digest.as_str());
    if in_sync && force.is_none() && ready {
        let released = released.unwrap_or_default();
        let message = released["message"].as_str().unwrap_or_default().to_owned();
        let reason = released["reason"].as_str().unwrap_or("UpgradeSucceeded").to_owned();
        r.apply_inventory(release_objects(r.obj, &release, &namespace, &chart, &version));
        r.succeed(&reason, &message, None);
        return;
    }
    let number = latest.and_then(|l| l["version"].as_u64()).unwrap_or(0) + 1;
    let mut history = history;
    for old in &mut history {
        old["status"] = json!("superseded");
    }
    history.insert(
        0,
        json!({
            "name": release, "namespace": namespace, "version": number, "status": "deployed",
            "chartName": chart, "chartVersion": version, "appVersion": version, "configDigest": values_digest,
            "digest": format!("sha256:{}", digest(&format!("{release}{number}{version}{values_digest}"))),
            "firstDeployed": history.last().map_or(json!(r.now), |h| h["firstDeployed"].clone()), "lastDeployed": r.now,
        }),
    );
    history.truncate(r.obj["spec"]["maxHistory"].as_u64().unwrap_or(5).max(1) as usize);
    r.outcome.status["history"] = Value::Array(history);
    r.outcome.status["lastAttemptedReleaseAction"] = json!(action);
    r.outcome.status["lastReleaseRevision"] = json!(number);
    for counter in ["failures", "installFailures", "upgradeFailures"] {
        r.outcome.status.as_object_mut().map(|s| s.remove(counter));
    }
    r.apply_inventory(release_objects(r.obj, &release, &namespace, &chart, &version));
    let verb = if action == "install" { "install" } else { "upgrade" };
    let reason = if action == "install" { "InstallSucceeded" } else { "UpgradeSucceeded" };
    let message =
        format!("Helm {verb} succeeded for release {namespace}/{release}.v{number} with chart {chart}@{version}");
    let released = r.cond("Released", "True", reason, &message);
    r.succeed(reason, &message, Some(("Released", released)));
    r.event(EventType::Normal, reason, &message, Some(&version));
}

/// A scripted failure of the install or upgrade, with helm-controller's counters and
/// remediation retries; true when it failed.
fn failed(r: &mut Run<'_>, action: &str, release: &str, namespace: &str, chart: &str, version: &str) -> bool {
    let annotations = &r.obj["metadata"]["annotations"];
    let applies = annotations["sim.fluxboard.dev/fail-generation"]
        .as_str()
        .is_none_or(|g| Some(g) == r.generation.as_i64().map(|n| n.to_string()).as_deref());
    let Some(message) = annotations["sim.fluxboard.dev/fail"]
        .as_str()
        .or(annotations["sim.fluxboard.dev/stall"].as_str())
        .filter(|_| applies)
    else {
        return false;
    };
    let counter = if action == "install" { "installFailures" } else { "upgradeFailures" };
    let retries = r.obj["spec"][action]["remediation"]["retries"].as_u64().unwrap_or(0);
    let failures = r.outcome.status[counter].as_u64().unwrap_or(0);
    let exhausted = failures > retries;
    let reason = annotations["sim.fluxboard.dev/fail-reason"].as_str().map_or_else(
        || if action == "install" { "InstallFailed".to_owned() } else { "UpgradeFailed".to_owned() },
        str::to_owned,
    );
    if !exhausted {
        r.outcome.status[counter] = json!(failures + 1);
        r.outcome.status["failures"] = json!(r.outcome.status["failures"].as_u64().unwrap_or(0) + 1);
        r.outcome.status["lastAttemptedReleaseAction"] = json!(action);
    }
    let detail =
        format!("Helm {action} failed for release {namespace}/{release} with chart {chart}@{version}: {message}");
    let released = r.cond("Released", "False", &reason, &detail);
    let attempts = r.outcome.status[counter].as_u64().unwrap_or(1);
    let stall = annotations["sim.fluxboard.dev/stall"].is_string() || attempts > retries;
    if stall {
        let verb = if action == "install" { "install" } else { "upgrade" };
        r.fail_with(true, "RetriesExceeded", &format!("Failed to {verb} after {attempts} attempt(s)"));
        if let Some(event) = r.outcome.events.last_mut() {
            event.message.clone_from(&detail);
        }
    } else {
        r.fail_with(false, &reason, &detail);
    }
    let mut status = r.outcome.status.clone();
    let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    conditions.retain(|c| c["type"] != "Released");
    conditions.push(released);
    status["conditions"] = Value::Array(conditions);
    r.outcome.status = status;
    true
}

fn release_name(obj: &Value) -> String {
    if let Some(name) = obj["spec"]["releaseName"].as_str() {
        return name.to_owned();
    }
    let name = crate::object::name(obj);
    match obj["spec"]["targetNamespace"].as_str() {
        Some(target) => format!("{target}-{name}"),
        None => name.to_owned(),
    }
}

/// What the chart renders: a Deployment and a Service for the release.
fn release_objects(obj: &Value, release: &str, namespace: &str, chart: &str, version: &str) -> Vec<Value> {
    let values = &obj["spec"]["values"];
    let replicas = values["replicaCount"].as_u64().unwrap_or(1);
    let repository =
        values["image"]["repository"].as_str().map_or_else(|| format!("ghcr.io/acme/{chart}"), str::to_owned);
    let tag = values["image"]["tag"].as_str().unwrap_or(version);
    let labels = json!({"app.kubernetes.io/name": chart, "app.kubernetes.io/instance": release,
        "app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": format!("{chart}-{version}"),
        "helm.toolkit.fluxcd.io/name": crate::object::name(obj), "helm.toolkit.fluxcd.io/namespace": crate::object::namespace(obj)});
    let selector = json!({"app.kubernetes.io/name": chart, "app.kubernetes.io/instance": release});
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": release, "namespace": namespace, "labels": labels},
               "spec": {"replicas": replicas, "selector": {"matchLabels": selector},
                        "template": {"metadata": {"labels": selector},
                                     "spec": {"containers": [{"name": chart, "image": format!("{repository}:{tag}"), "ports": [{"containerPort": 8080, "name": "http"}]}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": release, "namespace": namespace, "labels": labels},
               "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::{
        FluxKind, reconcile,
        tests::{MapWorld, ready_condition},
    };

    fn world_with_chart() -> MapWorld {
        let mut world = MapWorld::default();
        world.put(json!({"kind": "HelmChart", "metadata": {"name": "apps-podinfo", "namespace": "apps", "generation": 1},
            "spec": {"chart": "podinfo", "version": "6.5.4"},
            "status": {"observedGeneration": 1, "artifact": {"revision": "6.5.4"}, "conditions": [{"type": "Ready", "status": "True"}]}}));
        world
    }

    fn release(annotations: Value) -> Value {
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "podinfo", "namespace": "apps", "generation": 1, "annotations": annotations},
               "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": "6.5.4", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}})
    }

    #[test]
    fn a_release_installs_then_upgrades_only_when_forced_with_the_same_token() {
        let world = world_with_chart();
        let mut hr = release(json!({}));
        let installed = reconcile(FluxKind::HelmRelease, &hr, &world);
        assert_eq!(
            ready_condition(&installed.status),
            (
                "True".into(),
                "InstallSucceeded".into(),
                "Helm install succeeded for release apps/podinfo.v1 with chart podinfo@6.5.4".into()
            )
        );
        assert_eq!(installed.status["history"][0]["version"], 1);
        assert_eq!(installed.apply[0]["kind"], "HelmChart");
        assert_eq!(installed.status["inventory"]["entries"].as_array().unwrap().len(), 2);
        hr["status"] = installed.status;
        hr["metadata"]["annotations"] =
            json!({"reconcile.fluxcd.io/requestedAt": "a", "reconcile.fluxcd.io/forceAt": "b"});
        let not_forced = reconcile(FluxKind::HelmRelease, &hr, &world);
        assert_eq!(not_forced.status["history"][0]["version"], 1);
        assert!(not_forced.status.get("lastHandledForceAt").is_none());
        hr["metadata"]["annotations"] =
            json!({"reconcile.fluxcd.io/requestedAt": "c", "reconcile.fluxcd.io/forceAt": "c"});
        let forced = reconcile(FluxKind::HelmRelease, &hr, &world);
        assert_eq!(forced.status["history"][0]["version"], 2);
        assert_eq!(forced.status["history"][1]["status"], "superseded");
        assert_eq!(forced.status["lastHandledForceAt"], "c");
        assert_eq!(ready_condition(&forced.status).1, "UpgradeSucceeded");
    }

    #[test]
    fn failures_exhaust_retries_then_stall_until_reset() {
        let world = world_with_chart();
        let mut hr = release(json!({"sim.fluxboard.dev/fail": "timed out waiting for the condition"}));
        let failed = reconcile(FluxKind::HelmRelease, &hr, &world);
        assert_eq!(failed.status["installFailures"], 1);
        assert_eq!(
            ready_condition(&failed.status),
            ("False".into(), "RetriesExceeded".into(), "Failed to install after 1 attempt(s)".into())
        );
        assert_eq!(failed.requeue_after, None);
        hr["status"] = failed.status;
        hr["metadata"]["annotations"] =
            json!({"reconcile.fluxcd.io/requestedAt": "r", "reconcile.fluxcd.io/resetAt": "r"});
        let reset = reconcile(FluxKind::HelmRelease, &hr, &world);
        assert_eq!(reset.status["lastHandledResetAt"], "r");
        assert_eq!(ready_condition(&reset.status).1, "InstallSucceeded");
        assert!(reset.status.get("installFailures").is_none());
    }

    #[test]
    fn a_missing_chart_is_waited_for() {
        let hr = release(json!({}));
        let out = reconcile(FluxKind::HelmRelease, &hr, &MapWorld::default());
        assert_eq!(ready_condition(&out.status).1, "ArtifactFailed");
        assert_eq!(out.apply.len(), 1, "the HelmChart is created");
    }
}
