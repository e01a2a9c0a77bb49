//! One Flux object summarized: identity, health, Ready reason and message, revision as
//! `flux get` shows it, suspension, last handled request, source, dependencies.
//!
//! Health follows shared/FLUX.md: Suspended, then Terminating, then Progressing (stale
//! generation, Reconciling=True while working, Ready=Unknown), then Stalled, then Failing
//! (Ready=False, or Reconciling=True with ProgressingWithRetry: failing and retrying), then Ready.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kinds::{KindInfo, RevisionRule};

/// One health value per object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    Ready,
    Progressing,
    /// Ready=False; see [`Summary::retrying`] for whether the controller retries.
    Failing,
    /// Stalled=True: the controller will not retry until the spec or a request changes.
    Stalled,
    Suspended,
    /// Being deleted (deletionTimestamp set).
    Terminating,
    /// Nothing to tell (a Ready status that is none of True, False, Unknown).
    Unknown,
}

/// The summary of one Flux object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub cluster: String,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub health: Health,
    /// Failing, and the controller retries (Reconciling=True, ProgressingWithRetry).
    pub retrying: bool,
    /// The Ready condition's reason ("" without one).
    pub reason: String,
    /// The Ready condition's message, or what `flux get` says without one.
    pub message: String,
    pub revision: String,
    pub suspended: bool,
    pub last_handled_reconcile_at: Option<String>,
    /// `Kind/namespace/name` of the source (or chart, image repository, provider).
    pub source_ref: Option<String>,
    /// `namespace/name` of each dependsOn entry.
    pub depends_on: Vec<String>,
    pub last_transition_time: Option<String>,
    pub generation: i64,
    pub observed_generation: i64,
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn is_true(obj: &Value, type_: &str) -> bool {
    condition(obj, type_).is_some_and(|c| c["status"] == "True")
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Summarizes a Flux object of kind `info` seen in `cluster`.
pub fn summarize(cluster: &str, info: &KindInfo, obj: &Value) -> Summary {
    let meta = &obj["metadata"];
    let namespace = text(&meta["namespace"]);
    let generation = meta["generation"].as_i64().unwrap_or(0);
    let observed_generation = obj["status"]["observedGeneration"].as_i64().unwrap_or(-1);
    let ready = condition(obj, "Ready");
    let suspended = match info.kind {
        "ArtifactGenerator" => meta["annotations"]["source.extensions.fluxcd.io/reconcile"] == "disabled",
        _ => obj["spec"]["suspend"] == true,
    };
    let static_object = info.is_static_object(obj);
    let retrying =
        condition(obj, "Reconciling").is_some_and(|c| c["status"] == "True" && c["reason"] == "ProgressingWithRetry");
    let health = health(obj, static_object, suspended, retrying, generation, observed_generation);
    let message = match ready {
        Some(c) => text(&c["message"]),
        None if static_object => String::new(),
        None => "waiting to be reconciled".to_owned(),
    };
    Summary {
        cluster: cluster.to_owned(),
        group: info.group.to_owned(),
        kind: info.kind.to_owned(),
        name: text(&meta["name"]),
        health,
        retrying: retrying && health == Health::Failing,
        reason: ready.map(|c| text(&c["reason"])).unwrap_or_default(),
        message,
        revision: revision(info, obj),
        suspended,
        last_handled_reconcile_at: obj["status"]["lastHandledReconcileAt"].as_str().map(str::to_owned),
        source_ref: source_ref(info, obj, &namespace),
        depends_on: depends_on(obj, &namespace),
        last_transition_time: ready.and_then(|c| c["lastTransitionTime"].as_str()).map(str::to_owned),
        generation,
        observed_generation,
        namespace,
    }
}

fn health(obj: &Value, static_object: bool, suspended: bool, retrying: bool, generation: i64, observed: i64) -> Health {
    if suspended {
        return Health::Suspended;
    }
    if obj["metadata"].get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
        return Health::Terminating;
    }
    if static_object {
        return Health::Ready;
    }
    let ready = condition(obj, "Ready").map(|c| c["status"].as_str().unwrap_or_default());
    let reconciling = is_true(obj, "Reconciling");
    if observed != generation || (reconciling && !retrying) || matches!(ready, None | Some("Unknown")) {
        return Health::Progressing;
    }
    if is_true(obj, "Stalled") {
        return Health::Stalled;
    }
    match ready {
        Some("False") => Health::Failing,
        Some("True") => Health::Ready,
        _ => Health::Unknown,
    }
}

fn revision(info: &KindInfo, obj: &Value) -> String {
    let status = &obj["status"];
    let found = match info.revision {
        RevisionRule::Artifact => status["artifact"]["revision"].as_str(),
        RevisionRule::LastApplied => status["lastAppliedRevision"].as_str(),
        RevisionRule::HelmHistory => {
            status["history"][0]["chartVersion"].as_str().or(status["lastAttemptedRevision"].as_str())
        }
        RevisionRule::LatestImage => status["latestRef"]["tag"].as_str(),
        RevisionRule::PushCommit => status["lastPushCommit"].as_str().or(status["observedSourceRevision"].as_str()),
        RevisionRule::None => None,
    };
    found.unwrap_or_default().to_owned()
}

fn source_ref(info: &KindInfo, obj: &Value, namespace: &str) -> Option<String> {
    let reference = match info.kind {
        // A HelmRelease names its chart's source in the chart template, or a chartRef.
        "HelmRelease" if !obj["spec"]["chartRef"].is_object() => &obj["spec"]["chart"]["spec"]["sourceRef"],
        _ => obj.pointer(info.source_ref?)?,
    };
    let name = reference["name"].as_str()?;
    let kind = reference["kind"].as_str().unwrap_or(match info.kind {
        "ImagePolicy" => "ImageRepository",
        "Alert" => "Provider",
        _ => "",
    });
    let ns = reference["namespace"].as_str().unwrap_or(namespace);
    Some(format!("{kind}/{ns}/{name}"))
}

fn depends_on(obj: &Value, namespace: &str) -> Vec<String> {
    obj["spec"]["dependsOn"]
        .as_array()
        .map(|deps| {
            deps.iter()
                .filter_map(|d| {
                    Some(format!("{}/{}", d["namespace"].as_str().unwrap_or(namespace), d["name"].as_str()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kinds::kind_info;

    fn ks(status: Value) -> Value {
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "apps", "namespace": "flux-system", "generation": 2},
               "spec": {"sourceRef": {"kind": "GitRepository", "name": "flux-system"}, "dependsOn": [{"name": "infra"}]},
               "status": status})
    }

    fn summary(obj: &Value) -> Summary {
        let info =
            kind_info(obj["apiVersion"].as_str().unwrap().split('/').next().unwrap(), obj["kind"].as_str().unwrap())
                .unwrap();
        summarize("production", info, obj)
    }

    fn ready(status: &str, reason: &str, message: &str) -> Value {
        json!({"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"})
    }

    #[test]
    fn a_ready_kustomization_reads_like_flux_get() {
        let s = summary(&ks(json!({"observedGeneration": 2, "lastAppliedRevision": "main@sha1:abc",
            "lastHandledReconcileAt": "t", "conditions": [ready("True", "ReconciliationSucceeded", "Applied revision: main@sha1:abc")]})));
        assert_eq!(s.health, Health::Ready);
        assert_eq!((s.revision.as_str(), s.reason.as_str()), ("main@sha1:abc", "ReconciliationSucceeded"));
        assert_eq!(s.source_ref.as_deref(), Some("GitRepository/flux-system/flux-system"));
        assert_eq!(s.depends_on, vec!["flux-system/infra"]);
        assert_eq!(s.last_handled_reconcile_at.as_deref(), Some("t"));
        assert_eq!(s.last_transition_time.as_deref(), Some("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn a_stale_observed_generation_is_progressing_even_when_ready() {
        let s = summary(&ks(
            json!({"observedGeneration": 1, "conditions": [ready("True", "ReconciliationSucceeded", "x")]}),
        ));
        assert_eq!(s.health, Health::Progressing);
    }

    #[test]
    fn no_conditions_means_waiting_to_be_reconciled() {
        let s = summary(&ks(json!({})));
        assert_eq!(
            (s.health, s.message.as_str(), s.observed_generation),
            (Health::Progressing, "waiting to be reconciled", -1)
        );
    }

    #[test]
    fn failing_and_retrying_is_failing_not_progressing() {
        let s = summary(&ks(json!({"observedGeneration": 2, "conditions": [
            ready("False", "BuildFailed", "kustomize build failed"),
            {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry", "message": "kustomize build failed"}]})));
        assert_eq!((s.health, s.retrying), (Health::Failing, true));
        let working = summary(&ks(json!({"observedGeneration": 2, "conditions": [
            ready("Unknown", "Progressing", "Reconciliation in progress"),
            {"type": "Reconciling", "status": "True", "reason": "Progressing"}]})));
        assert_eq!(working.health, Health::Progressing);
    }

    #[test]
    fn stalled_and_dependency_not_ready() {
        let stalled =
            summary(&ks(json!({"observedGeneration": 2, "conditions": [ready("False", "InvalidPath", "bad"),
            {"type": "Stalled", "status": "True", "reason": "InvalidPath"}]})));
        assert_eq!(stalled.health, Health::Stalled);
        let waiting = summary(&ks(
            json!({"observedGeneration": 2, "conditions": [ready("False", "DependencyNotReady", "dependency 'flux-system/infra' is not ready")]}),
        ));
        assert_eq!(
            (waiting.health, waiting.reason.as_str(), waiting.retrying),
            (Health::Failing, "DependencyNotReady", false)
        );
    }

    #[test]
    fn suspension_wins_over_an_old_failure_and_deletion_over_readiness() {
        let mut obj = ks(json!({"observedGeneration": 2, "conditions": [ready("False", "BuildFailed", "old")]}));
        obj["spec"]["suspend"] = json!(true);
        assert_eq!(summary(&obj).health, Health::Suspended);
        let mut deleting =
            ks(json!({"observedGeneration": 2, "conditions": [ready("True", "ReconciliationSucceeded", "x")]}));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(summary(&deleting).health, Health::Terminating);
    }

    #[test]
    fn alerts_and_oci_helm_repositories_without_status_are_ready() {
        let alert = json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
            "metadata": {"name": "a", "namespace": "n", "generation": 1}, "spec": {"providerRef": {"name": "slack"}}});
        let s = summary(&alert);
        assert_eq!((s.health, s.message.as_str()), (Health::Ready, ""));
        assert_eq!(s.source_ref.as_deref(), Some("Provider/n/slack"));
        let oci = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "r", "namespace": "n", "generation": 1}, "spec": {"type": "oci"}});
        assert_eq!(summary(&oci).health, Health::Ready);
    }

    #[test]
    fn helm_release_revision_comes_from_history_then_the_last_attempt() {
        let mut hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "apps", "generation": 1},
            "spec": {"chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}}}},
            "status": {"lastAttemptedRevision": "6.5.5", "history": [{"chartVersion": "6.5.4"}]}});
        assert_eq!(summary(&hr).revision, "6.5.4");
        assert_eq!(summary(&hr).source_ref.as_deref(), Some("HelmRepository/flux-system/podinfo"));
        hr["status"]["history"] = json!([]);
        assert_eq!(summary(&hr).revision, "6.5.5");
    }

    #[test]
    fn flux_cli_fixtures_summarize_as_flux_get_shows_them() {
        // shared/flux/examples/flux2-testdata/get__status_objects.yaml, gr-failed and gr-ready.
        let failed = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "gr-failed", "namespace": "flux-system"}, "spec": {"interval": "5m"},
            "status": {"conditions": [{"lastTransitionTime": "2021-07-20T00:48:16Z", "message": "failed to checkout and determine revision",
                "reason": "GitOperationFailed", "status": "False", "type": "Ready"}]}});
        let s = summary(&failed);
        assert_eq!(
            (s.health, s.message.as_str(), s.revision.as_str()),
            (Health::Progressing, "failed to checkout and determine revision", "")
        );
        let mut settled = failed.clone();
        settled["status"]["observedGeneration"] = json!(0);
        assert_eq!(summary(&settled).health, Health::Failing, "with a current observedGeneration the failure shows");
    }

    #[test]
    fn summaries_serialize_in_camel_case() {
        let s = summary(&ks(json!({})));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["health"], "Progressing");
        assert!(json.get("lastHandledReconcileAt").is_some());
        assert_eq!(serde_json::from_value::<Summary>(json).unwrap(), s);
    }
}
