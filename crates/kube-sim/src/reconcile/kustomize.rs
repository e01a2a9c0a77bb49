//! kustomize-controller: a Kustomization waits for its source's artifact and its dependencies,
//! applies the manifests at its path (labelled, namespaced), records the change set and the
//! inventory, prunes, runs its health checks and records its history.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    DEPENDENCY_REQUEUE, EventType, FluxKind, Run, SOURCE, Wait, World, check_dependencies, go_duration, has_true, helm,
    hex_digest, interval, not_found, obj_ref, ref_namespace, retry_interval, script, set_conditions, timeout,
};

/// What a Kustomization waits on before it works, in kustomize-controller's order
/// (kustomization_controller.go:213-262): the source, its artifact, the dependencies.
pub(super) fn kustomization_prerequisites(obj: &Value, world: &dyn World) -> Result<Arc<Value>, Wait> {
    let source_ref = &obj["spec"]["sourceRef"];
    let kind = source_ref["kind"].as_str().unwrap_or("GitRepository");
    let namespace = ref_namespace(source_ref, obj);
    let name = source_ref["name"].as_str().unwrap_or_default();
    let Some(source) = world.get(SOURCE, kind, namespace, name) else {
        return Err(("ArtifactFailed", not_found(SOURCE, kind, name), retry_interval(obj)));
    };
    if source["status"]["artifact"]["revision"].as_str().is_none() {
        let message = format!("Source artifact not found, retrying in {}", go_duration(DEPENDENCY_REQUEUE));
        return Err(("ArtifactFailed", message, DEPENDENCY_REQUEUE));
    }
    check_dependencies(FluxKind::Kustomization, obj, world, Some(&source))
        .map_err(|message| ("DependencyNotReady", message, DEPENDENCY_REQUEUE))?;
    Ok(source)
}

/// Kinds a Kustomization applies without a namespace (`targetNamespace` leaves them alone).
const CLUSTER_SCOPED: [&str; 5] =
    ["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"];

impl Run<'_> {
    pub(super) fn kustomization(&mut self) {
        let source = match kustomization_prerequisites(self.obj, self.world) {
            Ok(source) => source,
            Err((reason, message, after)) => {
                self.wait_for(reason, &message, after);
                if reason == "DependencyNotReady" {
                    let retrying =
                        format!("Dependencies do not meet ready condition, retrying in {}", go_duration(after));
                    self.event(EventType::Normal, reason, &retrying, None);
                }
                return;
            }
        };
        let revision = source["status"]["artifact"]["revision"].as_str().unwrap_or_default().to_owned();
        if let Some(script) = script(self.obj) {
            self.outcome.status["lastAttemptedRevision"] = json!(revision);
            self.fail(&script);
            return;
        }
        let source_ref = &self.obj["spec"]["sourceRef"];
        let source = obj_ref(
            SOURCE,
            source_ref["kind"].as_str().unwrap_or_default(),
            ref_namespace(source_ref, self.obj),
            source_ref["name"].as_str().unwrap_or_default(),
        );
        let path = self.obj["spec"]["path"].as_str().unwrap_or("./").to_owned();
        let Some(manifests) = self.world.manifests(&source, &path) else {
            let dir = &hex_digest(self.name())[..9];
            let message = format!(
                "kustomization path not found: stat /tmp/kustomization-{dir}/{}: no such file or directory",
                path.trim_start_matches("./")
            );
            // kustomization_controller.go: a missing path is an ArtifactFailed failure.
            self.fail_with(false, "ArtifactFailed", &message);
            return;
        };
        self.outcome.status["lastAttemptedRevision"] = json!(revision);
        let objects: Vec<Value> = manifests.into_iter().map(|m| self.label_for_kustomization(m)).collect();
        let mut changes = self.change_set(&objects);
        let pruned_before = self.outcome.delete.len();
        self.apply_inventory(objects);
        for gone in &self.outcome.delete[pruned_before..] {
            let id =
                if gone.namespace.is_empty() { gone.name.clone() } else { format!("{}/{}", gone.namespace, gone.name) };
            changes.push(format!("{}/{id} deleted", gone.kind));
        }
        if !changes.is_empty() {
            // kustomize-controller's change set event: what the apply created, configured, pruned.
            self.event(EventType::Normal, "Progressing", &changes.join("\n"), Some(&revision));
        }
        let entries = self.outcome.status["inventory"]["entries"].clone();
        if !self.health_check(&revision, &entries) {
            return;
        }
        helm::record_history(&mut self.outcome.status, &revision, entries, "ReconciliationSucceeded", &self.now);
        self.outcome.status["lastAppliedRevision"] = json!(revision);
        let message = format!("Applied revision: {revision}");
        self.succeed("ReconciliationSucceeded", &message, None);
        let finished = format!("Reconciliation finished in 1s, next run in {}", go_duration(interval(self.obj)));
        self.event(EventType::Normal, "ReconciliationSucceeded", &finished, Some(&revision));
    }

    /// kustomize-controller's `checkHealth` (kustomization_controller.go:997-1080): without
    /// `wait` or `healthChecks` there is no Healthy condition; otherwise the checked objects
    /// must become Current within `spec.timeout`. `sim.fluxboard.dev/unhealthy: Kind/ns/name`
    /// scripts one that never does: the controller shows the health check running for the
    /// timeout (the runtime waits it out), then fails with HealthCheckFailed and retries.
    /// Returns whether the checks passed.
    fn health_check(&mut self, revision: &str, entries: &Value) -> bool {
        let spec = &self.obj["spec"];
        if spec["wait"] != true && spec["healthChecks"].as_array().is_none_or(|h| h.is_empty()) {
            set_conditions(&mut self.outcome.status, vec![("Healthy", None)]);
            return true;
        }
        let Some(unhealthy) = self.obj["metadata"]["annotations"]["sim.fluxboard.dev/unhealthy"].as_str() else {
            let passed = self.cond("Healthy", "True", "Succeeded", "Health check passed in 0s");
            let was_healthy = has_true(&self.obj["status"], "Healthy");
            set_conditions(&mut self.outcome.status, vec![("Healthy", Some(passed))]);
            if !was_healthy {
                self.event(EventType::Normal, "Progressing", "Health check passed in 0s", Some(revision));
            }
            return true;
        };
        let timeout = timeout(self.obj);
        let running =
            format!("Running health checks for revision {revision} with a timeout of {}", go_duration(timeout));
        let mut progress = self.outcome.status.clone();
        set_conditions(
            &mut progress,
            vec![
                ("Reconciling", Some(self.cond("Reconciling", "True", "Progressing", &running))),
                ("Healthy", Some(self.cond("Healthy", "Unknown", "Progressing", &running))),
            ],
        );
        self.outcome.progress = Some((progress, Some(timeout)));
        let failure = format!("timeout waiting for: [{unhealthy} status: 'InProgress']");
        let unhealthy = self.cond("Healthy", "False", "HealthCheckFailed", &failure);
        let reconciling = self.cond("Reconciling", "True", "Progressing", &running);
        set_conditions(&mut self.outcome.status, vec![("Reconciling", Some(reconciling))]);
        helm::record_history(&mut self.outcome.status, revision, entries.clone(), "HealthCheckFailed", &self.now);
        self.fail_with(false, "HealthCheckFailed", &failure);
        set_conditions(&mut self.outcome.status, vec![("Healthy", Some(unhealthy))]);
        if let Some(event) = self.outcome.events.last_mut() {
            event.message = format!("health check failed after {}: {failure}", go_duration(timeout));
            event.annotations.insert(format!("{}/revision", FluxKind::Kustomization.group()), json!(revision));
        }
        false
    }

    /// The server-side apply change set (fluxcd/pkg/ssa): `Kind/namespace/name created` or
    /// `configured` for each object that is new or differs, in apply order (kinds as ssa sorts
    /// them: namespaces and cluster-wide kinds first, workloads after their configuration).
    fn change_set(&self, objects: &[Value]) -> Vec<String> {
        const ORDER: [&str; 16] = [
            "Namespace",
            "ResourceQuota",
            "LimitRange",
            "ServiceAccount",
            "Secret",
            "ConfigMap",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "DaemonSet",
            "Pod",
            "Deployment",
            "StatefulSet",
        ];
        let rank = |o: &Value| ORDER.iter().position(|k| *k == crate::object::kind(o)).unwrap_or(ORDER.len());
        let mut sorted: Vec<&Value> = objects.iter().collect();
        sorted.sort_by_key(|o| rank(o));
        let mut out = Vec::new();
        for o in sorted {
            let (group, _) = crate::resources::split_api_version(o["apiVersion"].as_str().unwrap_or_default());
            let (kind, namespace, name) = (crate::object::kind(o), crate::object::namespace(o), crate::object::name(o));
            let action = match self.world.get(group, kind, namespace, name) {
                None => "created",
                Some(current) => {
                    let differs = o.as_object().into_iter().flatten().any(|(k, v)| match k.as_str() {
                        "metadata" => ["labels", "annotations"].iter().any(|f| {
                            v[f].as_object().into_iter().flatten().any(|(key, val)| current["metadata"][f][key] != *val)
                        }),
                        "status" | "apiVersion" | "kind" => false,
                        _ => current[k] != *v,
                    });
                    if !differs {
                        continue;
                    }
                    "configured"
                }
            };
            let id = if namespace.is_empty() { name.to_owned() } else { format!("{namespace}/{name}") };
            out.push(format!("{kind}/{id} {action}"));
        }
        out
    }

    fn label_for_kustomization(&self, mut manifest: Value) -> Value {
        let target = self.obj["spec"]["targetNamespace"].as_str();
        let kind = crate::object::kind(&manifest).to_owned();
        let meta = crate::object::meta_mut(&mut manifest);
        if !CLUSTER_SCOPED.contains(&kind.as_str()) {
            if let Some(ns) = target {
                meta.insert("namespace".into(), json!(ns));
            } else if !meta.contains_key("namespace") {
                meta.insert("namespace".into(), json!(crate::object::namespace(self.obj)));
            }
        }
        let mut labels = meta.get("labels").and_then(Value::as_object).cloned().unwrap_or_default();
        labels.insert("kustomize.toolkit.fluxcd.io/name".into(), json!(self.name()));
        labels.insert("kustomize.toolkit.fluxcd.io/namespace".into(), json!(self.namespace()));
        meta.insert("labels".into(), Value::Object(labels));
        manifest
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::*;
    use super::super::*;

    #[test]
    fn a_kustomization_applies_its_path_and_prunes_what_left() {
        let mut world = MapWorld::default();
        let mut source = git("a");
        source["status"] = reconcile(FluxKind::GitRepository, &source, &world).status;
        world.put(source);
        world.manifests.insert(
            "./deploy".into(),
            vec![json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}})],
        );
        let mut ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "app", "namespace": "apps", "generation": 1},
            "spec": {"interval": "10m", "path": "./deploy", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "app"}},
            "status": {"observedGeneration": -1, "inventory": {"entries": [{"id": "apps_old__ConfigMap", "v": "v1"}]}}});
        let out = reconcile(FluxKind::Kustomization, &ks, &world);
        let (status, reason, message) = ready_condition(&out.status);
        assert_eq!((status.as_str(), reason.as_str()), ("True", "ReconciliationSucceeded"));
        assert!(message.starts_with("Applied revision: main@sha1:"));
        assert_eq!(out.status["observedGeneration"], 1);
        assert_eq!(out.status["inventory"]["entries"], json!([{"id": "apps_web_apps_Deployment", "v": "v1"}]));
        assert_eq!(out.apply[0]["metadata"]["namespace"], "apps");
        assert_eq!(out.apply[0]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "app");
        assert_eq!(out.delete, vec![obj_ref("v1", "ConfigMap", "apps", "old")]);
        assert_eq!(out.status["history"][0]["totalReconciliations"], 1);
        // kustomization_controller.go: a missing path fails with ArtifactFailed.
        ks["spec"]["path"] = json!("./missing");
        assert_eq!(ready_condition(&reconcile(FluxKind::Kustomization, &ks, &world).status).1, "ArtifactFailed");
        ks["spec"]["dependsOn"] = json!([{"name": "infra"}]);
        let waiting = reconcile(FluxKind::Kustomization, &ks, &world);
        assert_eq!(
            ready_condition(&waiting.status),
            (
                "False".into(),
                "DependencyNotReady".into(),
                "dependency 'apps/infra' not found: Kustomization.kustomize.toolkit.fluxcd.io \"infra\" not found"
                    .into()
            )
        );
    }

    /// E10: health checks that time out (kustomization_controller.go:997-1080, pkg ssa
    /// manager_wait.go) and dependsOn's revision check for a shared source (L612-624).
    #[test]
    fn health_checks_can_time_out_and_dependencies_must_apply_the_shared_revision() {
        let mut world = MapWorld::default();
        let mut source = git("a");
        source["status"] = reconcile(FluxKind::GitRepository, &source, &world).status;
        let revision = source["status"]["artifact"]["revision"].as_str().unwrap().to_owned();
        world.put(source);
        world.manifests.insert(
            "./".into(),
            vec![json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}})],
        );
        let mut ks = json!({"kind": "Kustomization", "metadata": {"name": "app", "namespace": "apps", "generation": 1,
                "annotations": {"sim.fluxboard.dev/unhealthy": "Deployment/apps/web"}},
            "spec": {"interval": "10m", "timeout": "1m", "wait": true, "path": "./", "sourceRef": {"kind": "GitRepository", "name": "app"}},
            "status": {"observedGeneration": -1}});
        let out = reconcile(FluxKind::Kustomization, &ks, &world);
        let failure = "timeout waiting for: [Deployment/apps/web status: 'InProgress']";
        assert_eq!(ready_condition(&out.status), ("False".into(), "HealthCheckFailed".into(), failure.into()));
        assert_eq!(cond(&out.status, "Healthy").unwrap()["reason"], "HealthCheckFailed");
        assert_eq!(cond(&out.status, "Reconciling").unwrap()["reason"], "ProgressingWithRetry");
        assert_eq!(out.status["observedGeneration"], -1);
        assert!(out.status.get("lastAppliedRevision").is_none(), "applied only once healthy");
        assert_eq!(out.status["history"][0]["lastReconciledStatus"], "HealthCheckFailed");
        assert_eq!(out.events[0].message, "Deployment/apps/web created", "the apply's change set first");
        assert_eq!(out.events[1].message, format!("health check failed after 1m0s: {failure}"));
        let (progress, lasts) = out.progress.clone().expect("the health check is shown running");
        assert_eq!(lasts, Some(Duration::from_secs(60)));
        assert_eq!(cond(&progress, "Healthy").unwrap()["status"], "Unknown");
        assert_eq!(
            cond(&progress, "Reconciling").unwrap()["message"],
            format!("Running health checks for revision {revision} with a timeout of 1m0s")
        );
        ks["metadata"]["annotations"] = json!({});
        let healthy = reconcile(FluxKind::Kustomization, &ks, &world);
        assert_eq!(cond(&healthy.status, "Healthy").unwrap()["message"], "Health check passed in 0s");

        // A dependency on the same source must have applied the source's revision.
        let mut infra = ks.clone();
        infra["metadata"]["name"] = json!("infra");
        infra["status"] = json!({"observedGeneration": 1, "lastAppliedRevision": "main@sha1:old",
            "conditions": [{"type": "Ready", "status": "True"}]});
        world.put(infra.clone());
        ks["spec"]["dependsOn"] = json!([{"name": "infra"}]);
        assert_eq!(
            ready_condition(&reconcile(FluxKind::Kustomization, &ks, &world).status).2,
            "dependency 'apps/infra' revision is not up to date"
        );
        infra["status"]["lastAppliedRevision"] = json!(revision);
        world.put(infra);
        assert_eq!(ready_condition(&reconcile(FluxKind::Kustomization, &ks, &world).status).0, "True");
    }
}
