//! One Flux object summarized: identity, health, Ready reason and message, revision as
//! `flux get` shows it, suspension, last handled request, source, dependencies.
//!
//! Health follows shared/FLUX.md and the flux CLI (flux2 `readiness.go`): Suspended, then
//! Terminating, then Stalled, then Progressing (Reconciling=True while working, Ready=Unknown, or
//! no Ready condition stamped with the current generation), then Failing (Ready=False at the
//! current generation; the controller retries it), then Ready.
//!
//! Flux leaves `status.observedGeneration` stale on every failure and stamps each condition with
//! the current generation, so the Ready condition's own `observedGeneration` is what tells a
//! fresh verdict from an old one. `status.observedGeneration` is used only when Ready carries
//! none (controllers older than fluxcd/pkg's generation stamping), and only when present (kinds
//! such as ArtifactGenerator have no such field).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kinds::{KindInfo, RevisionRule};

/// One health value per object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    #[default]
    Unknown,
}

/// The summary of one Flux object. `Default` is an empty summary of unknown health, for
/// building one field by field (tests, fixtures).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub cluster: String,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub health: Health,
    /// Failing, and the controller retries: every Ready=False that is not Stalled (Flux requeues
    /// ProgressingWithRetry, DependencyNotReady, missing sources and artifacts alike).
    pub retrying: bool,
    /// The Ready condition's reason ("" without one).
    pub reason: String,
    /// The Ready condition's message, or what `flux get` says without one.
    pub message: String,
    pub revision: String,
    pub suspended: bool,
    /// Who suspended it, while suspended through fluxboard (its `fluxboard.dev/suspended-by`
    /// annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_by: Option<String>,
    /// Why, when they said (`fluxboard.dev/suspend-reason`), while suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend_reason: Option<String>,
    pub last_handled_reconcile_at: Option<String>,
    /// `Kind/namespace/name` of the source (or chart, image repository, provider).
    pub source_ref: Option<String>,
    /// `namespace/name` of each dependsOn entry.
    pub depends_on: Vec<String>,
    pub last_transition_time: Option<String>,
    pub generation: i64,
    /// `status.observedGeneration`; -1 when absent (the CRDs' default).
    pub observed_generation: i64,
    /// Never reconciled (Alert, Provider, ExternalArtifact, an OCI HelmRepository): no request
    /// token to wait for.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub static_object: bool,
    /// `Kind/namespace/name` of each Flux object in the inventory (Kustomization, HelmRelease):
    /// the objects this one applies. Other kinds of the inventory are left out (the stream stays
    /// small); the detail page reads the whole inventory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies: Vec<String>,
    /// Since when the object has its revision: a source's `status.artifact.lastUpdateTime`, the
    /// first reconciliation of a Kustomization's latest history record, a HelmRelease's latest
    /// release (`lastDeployed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_since: Option<String>,
    /// What `status.history` (Kustomization, HelmRelease) adds to `revision`, newest first, at
    /// most five: earlier revisions, and a HelmRelease's chart version with its OCI digest
    /// (`6.5.4@sha256:...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<SeenRevision>,
}

/// A revision an object had, and since when (`revisions` of a [`Summary`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenRevision {
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// A non-empty annotation of the object whose `metadata` is `meta`.
fn annotation(meta: &Value, key: &str) -> Option<String> {
    meta["annotations"][key].as_str().filter(|v| !v.is_empty()).map(str::to_owned)
}

/// Summarizes a Flux object of kind `info` seen in `cluster`.
pub fn summarize(cluster: &str, info: &KindInfo, obj: &Value) -> Summary {
    let meta = &obj["metadata"];
    let namespace = text(&meta["namespace"]);
    let generation = meta["generation"].as_i64().unwrap_or(0);
    let observed_generation = obj["status"]["observedGeneration"].as_i64();
    let ready = condition(obj, "Ready");
    let suspended = info.is_suspended(obj);
    let static_message = info.static_message(obj);
    let health = match static_message {
        _ if suspended => Health::Suspended,
        _ if is_terminating(obj) => Health::Terminating,
        Some(_) => Health::Ready,
        None => health(obj, generation, observed_generation),
    };
    let message = match (ready, static_message) {
        (_, Some(message)) => message.to_owned(),
        (Some(c), None) => text(&c["message"]),
        (None, None) => "waiting to be reconciled".to_owned(),
    };
    Summary {
        cluster: cluster.to_owned(),
        group: info.group.to_owned(),
        kind: info.kind.to_owned(),
        name: text(&meta["name"]),
        health,
        retrying: health == Health::Failing,
        reason: match static_message {
            Some(_) => String::new(),
            None => ready.map(|c| text(&c["reason"])).unwrap_or_default(),
        },
        message,
        revision: revision(info, obj),
        suspended,
        suspended_by: suspended.then(|| annotation(meta, crate::action::SUSPENDED_BY)).flatten(),
        suspend_reason: suspended.then(|| annotation(meta, crate::action::SUSPEND_REASON)).flatten(),
        last_handled_reconcile_at: obj["status"]["lastHandledReconcileAt"].as_str().map(str::to_owned),
        source_ref: source_ref(info, obj, &namespace),
        depends_on: depends_on(obj, &namespace),
        last_transition_time: ready.and_then(|c| c["lastTransitionTime"].as_str()).map(str::to_owned),
        generation,
        observed_generation: observed_generation.unwrap_or(-1),
        static_object: static_message.is_some() || !info.reconcilable,
        applies: applies(info, obj),
        revision_since: revision_since(info, obj),
        revisions: seen_revisions(info, obj),
        namespace,
    }
}

/// The Flux objects in an inventory, as `Kind/namespace/name`.
fn applies(info: &KindInfo, obj: &Value) -> Vec<String> {
    if !matches!(info.kind, "Kustomization" | "HelmRelease") {
        return Vec::new();
    }
    let Some(entries) = obj["status"]["inventory"]["entries"].as_array() else { return Vec::new() };
    entries
        .iter()
        .filter_map(|e| crate::detail::InventoryId::parse(e["id"].as_str()?))
        .filter(|id| crate::kinds::kind_info(&id.group, &id.kind).is_some())
        .map(|id| format!("{}/{}/{}", id.kind, id.namespace, id.name))
        .collect()
}

fn revision_since(info: &KindInfo, obj: &Value) -> Option<String> {
    let status = &obj["status"];
    let found = match info.revision {
        RevisionRule::Artifact => status["artifact"]["lastUpdateTime"].as_str(),
        RevisionRule::LastApplied => {
            let latest = &status["history"][0];
            (latest["metadata"]["revision"] == status["lastAppliedRevision"])
                .then(|| latest["firstReconciled"].as_str())
                .flatten()
        }
        RevisionRule::HelmHistory => {
            let latest = &status["history"][0];
            latest["lastDeployed"].as_str().or(latest["firstDeployed"].as_str())
        }
        _ => None,
    };
    found.map(str::to_owned)
}

fn seen_revisions(info: &KindInfo, obj: &Value) -> Vec<SeenRevision> {
    let Some(history) = obj["status"]["history"].as_array() else { return Vec::new() };
    let current = revision(info, obj);
    let since = revision_since(info, obj);
    let mut out: Vec<SeenRevision> = Vec::new();
    for h in history.iter().take(5) {
        let seen = match info.revision {
            RevisionRule::LastApplied => SeenRevision {
                revision: text(&h["metadata"]["revision"]),
                since: h["firstReconciled"].as_str().map(str::to_owned),
            },
            RevisionRule::HelmHistory => {
                let version = text(&h["chartVersion"]);
                SeenRevision {
                    revision: match h["ociDigest"].as_str() {
                        Some(digest) if !version.is_empty() => format!("{version}@{digest}"),
                        _ => version,
                    },
                    since: h["lastDeployed"].as_str().or(h["firstDeployed"].as_str()).map(str::to_owned),
                }
            }
            _ => return Vec::new(),
        };
        let known =
            (seen.revision == current && seen.since == since) || out.iter().any(|o| o.revision == seen.revision);
        if !seen.revision.is_empty() && !known {
            out.push(seen);
        }
    }
    out
}

/// Whether the object is being deleted.
pub(crate) fn is_terminating(obj: &Value) -> bool {
    obj["metadata"].get("deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// The health of a reconciled object that is neither suspended nor being deleted.
fn health(obj: &Value, generation: i64, observed: Option<i64>) -> Health {
    // A condition is current when it was written for this generation; without a stamp, fall
    // back to the status-level rule, and only where the kind has the field.
    let current = |c: &Value| match c["observedGeneration"].as_i64() {
        Some(stamped) => stamped == generation,
        None => observed.is_none_or(|o| o == generation),
    };
    if condition(obj, "Stalled").is_some_and(|c| c["status"] == "True" && current(c)) {
        return Health::Stalled;
    }
    let Some(ready) = condition(obj, "Ready") else { return Health::Progressing };
    let working =
        condition(obj, "Reconciling").is_some_and(|c| c["status"] == "True" && c["reason"] != "ProgressingWithRetry");
    if !current(ready) || working {
        return Health::Progressing;
    }
    match ready["status"].as_str() {
        Some("False") => Health::Failing,
        Some("True") => Health::Ready,
        Some("Unknown") => Health::Progressing,
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
        RevisionRule::LatestImage => {
            // image-reflector v1 `latestRef`; v1beta2 before image-reflector v1.0: `latestImage`.
            let latest = &status["latestRef"];
            return match (latest["name"].as_str(), latest["tag"].as_str(), latest["digest"].as_str()) {
                (Some(name), Some(tag), _) => format!("{name}:{tag}"),
                (Some(name), None, Some(digest)) => format!("{name}@{digest}"),
                (None, Some(tag), _) => tag.to_owned(),
                _ => text(&status["latestImage"]),
            };
        }
        RevisionRule::LastScan => status["lastScanResult"]["scanTime"].as_str(),
        RevisionRule::LastRun => status["lastAutomationRunTime"].as_str(),
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
        "ImageUpdateAutomation" => "GitRepository",
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
            (Health::Failing, "DependencyNotReady", true)
        );
    }

    #[test]
    fn suspension_wins_over_an_old_failure_and_deletion_over_readiness() {
        let mut obj = ks(json!({"observedGeneration": 2, "conditions": [ready("False", "BuildFailed", "old")]}));
        assert_eq!(summary(&obj).suspended_by, None);
        obj["metadata"]["annotations"] =
            json!({"fluxboard.dev/suspended-by": "alice", "fluxboard.dev/suspend-reason": "release freeze"});
        assert_eq!((summary(&obj).suspended_by, summary(&obj).suspend_reason), (None, None), "only while suspended");
        obj["spec"]["suspend"] = json!(true);
        let s = summary(&obj);
        assert_eq!(s.health, Health::Suspended);
        assert_eq!((s.suspended_by.as_deref(), s.suspend_reason.as_deref()), (Some("alice"), Some("release freeze")));
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
        assert_eq!((s.health, s.message.as_str(), s.static_object), (Health::Ready, "Alert is Ready", true));
        assert_eq!(s.source_ref.as_deref(), Some("Provider/n/slack"));
        // An OCI HelmRepository is never reconciled: old conditions from before `type: oci` are ignored (B8).
        let oci = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "r", "namespace": "n", "generation": 1}, "spec": {"type": "oci"},
            "status": {"conditions": [ready("False", "IndexationFailed", "old")]}});
        let s = summary(&oci);
        assert_eq!((s.health, s.message.as_str(), s.reason.as_str()), (Health::Ready, "Helm repository is Ready", ""));
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
        // shared/flux/examples/flux2-testdata/get__status_objects.yaml, gr-failed: no generation
        // stamps at all (an old controller), so the Ready condition is the verdict.
        let failed = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "gr-failed", "namespace": "flux-system"}, "spec": {"interval": "5m"},
            "status": {"conditions": [{"lastTransitionTime": "2021-07-20T00:48:16Z", "message": "failed to checkout and determine revision",
                "reason": "GitOperationFailed", "status": "False", "type": "Ready"}]}});
        let s = summary(&failed);
        assert_eq!(
            (s.health, s.retrying, s.message.as_str(), s.revision.as_str()),
            (Health::Failing, true, "failed to checkout and determine revision", "")
        );
    }

    fn stamped(status: &str, reason: &str, message: &str, generation: i64) -> Value {
        let mut c = ready(status, reason, message);
        c["observedGeneration"] = json!(generation);
        c
    }

    #[test]
    fn a_source_that_never_succeeded_is_failing_not_progressing() {
        // source-controller leaves observedGeneration at the CRD default -1 until a success, and
        // fluxcd/pkg conditions.Set stamps Ready with the current generation (B1).
        let git = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "team-b-app", "namespace": "team-b", "generation": 1},
            "status": {"observedGeneration": -1, "conditions": [
                stamped("False", "AuthenticationFailed", "authentication required", 1),
                {"type": "FetchFailed", "status": "True", "reason": "AuthenticationFailed", "observedGeneration": 1}]}});
        let s = summary(&git);
        assert_eq!(
            (s.health, s.retrying, s.reason.as_str(), s.message.as_str(), s.observed_generation),
            (Health::Failing, true, "AuthenticationFailed", "authentication required", -1)
        );
    }

    #[test]
    fn a_failure_after_a_spec_edit_is_failing_and_an_old_verdict_is_progressing() {
        // kustomize-controller finalizeStatus advances observedGeneration only when Ready=True.
        let failing = ks(json!({"observedGeneration": 1, "conditions": [
            stamped("False", "BuildFailed", "kustomize build failed", 2),
            {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry", "observedGeneration": 2}]}));
        assert_eq!((summary(&failing).health, summary(&failing).retrying), (Health::Failing, true));
        let old_verdict =
            ks(json!({"observedGeneration": 1, "conditions": [stamped("True", "ReconciliationSucceeded", "x", 1)]}));
        assert_eq!(summary(&old_verdict).health, Health::Progressing, "Ready was written for generation 1");
        let old_stall = ks(json!({"observedGeneration": 1, "conditions": [stamped("False", "InvalidPath", "bad", 1),
            {"type": "Stalled", "status": "True", "reason": "InvalidPath", "observedGeneration": 1}]}));
        assert_eq!(summary(&old_stall).health, Health::Progressing, "the stall was of the previous spec");
    }

    #[test]
    fn every_ready_false_without_a_stall_is_retried() {
        // kustomization_controller.go: DependencyNotReady and missing sources are requeued (B3).
        for (reason, message) in [
            ("DependencyNotReady", "dependency 'flux-system/infra' is not ready"),
            ("ArtifactFailed", "Source artifact not found, retrying in 30s"),
            ("ArtifactFailed", "Source 'GitRepository/flux-system/x' not found"),
        ] {
            let s =
                summary(&ks(json!({"observedGeneration": -1, "conditions": [stamped("False", reason, message, 2)]})));
            assert_eq!((s.health, s.retrying, s.message.as_str()), (Health::Failing, true, message));
        }
        let stalled =
            summary(&ks(json!({"observedGeneration": 2, "conditions": [stamped("False", "InvalidPath", "bad", 2),
            {"type": "Stalled", "status": "True", "reason": "InvalidPath", "observedGeneration": 2}]})));
        assert_eq!((stalled.health, stalled.retrying), (Health::Stalled, false));
    }

    #[test]
    fn artifact_generators_have_no_observed_generation_to_compare() {
        // source-watcher ArtifactGeneratorStatus has no observedGeneration (B2).
        let mut ag = json!({"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
            "metadata": {"name": "gen", "namespace": "n", "generation": 3},
            "status": {"conditions": [ready("True", "Succeeded", "reconciliation succeeded, generated 2 artifact(s)")]}});
        assert_eq!(summary(&ag).health, Health::Ready);
        ag["metadata"]["annotations"] = json!({"source.extensions.fluxcd.io/reconcile": "Disabled"});
        assert!(summary(&ag).suspended, "IsDisabled lower-cases the value");
    }

    #[test]
    fn external_artifacts_read_their_ready_condition_and_source() {
        // get_source_external.go: the Ready condition and spec.sourceRef (B7).
        let ea = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "ExternalArtifact",
            "metadata": {"name": "app", "namespace": "n", "generation": 1},
            "spec": {"sourceRef": {"apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator", "name": "gen"}},
            "status": {"conditions": [ready("False", "BuildFailed", "no artifact")]}});
        let s = summary(&ea);
        assert_eq!((s.health, s.message.as_str(), s.static_object), (Health::Failing, "no artifact", true));
        assert_eq!(s.source_ref.as_deref(), Some("ArtifactGenerator/n/gen"));
    }

    #[test]
    fn image_revisions_read_as_flux_get_shows_them() {
        let policy = |status: Value| {
            json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
                "metadata": {"name": "p", "namespace": "n", "generation": 1}, "status": status})
        };
        assert_eq!(
            summary(&policy(json!({"latestRef": {"name": "ghcr.io/x/app", "tag": "1.2.3"}}))).revision,
            "ghcr.io/x/app:1.2.3"
        );
        assert_eq!(summary(&policy(json!({"latestImage": "ghcr.io/x/app:1.2.0"}))).revision, "ghcr.io/x/app:1.2.0");
        let repo = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "r", "namespace": "n"}, "status": {"lastScanResult": {"scanTime": "2026-01-01T00:00:00Z", "tagCount": 3}}});
        assert_eq!(summary(&repo).revision, "2026-01-01T00:00:00Z");
        let auto = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "u", "namespace": "n"}, "spec": {"sourceRef": {"name": "repo"}},
            "status": {"lastAutomationRunTime": "2026-01-02T00:00:00Z", "lastPushCommit": "abc"}});
        let s = summary(&auto);
        assert_eq!(
            (s.revision.as_str(), s.source_ref.as_deref()),
            ("2026-01-02T00:00:00Z", Some("GitRepository/n/repo"))
        );
    }

    #[test]
    fn inventories_keep_flux_objects_and_histories_their_revisions() {
        let mut obj = ks(json!({"observedGeneration": 2, "lastAppliedRevision": "main@sha1:bbb",
            "inventory": {"entries": [
                {"id": "flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization", "v": "v1"},
                {"id": "team-a_podinfo_source.toolkit.fluxcd.io_GitRepository", "v": "v1"},
                {"id": "default_web_apps_Deployment", "v": "v1"},
                {"id": "_team-a__Namespace", "v": "v1"},
                {"id": "garbage", "v": "v1"}]},
            "history": [
                {"firstReconciled": "2026-11-30T10:00:00Z", "metadata": {"revision": "main@sha1:bbb"}},
                {"firstReconciled": "2026-11-29T10:00:00Z", "metadata": {"revision": "main@sha1:aaa"}}],
            "conditions": [ready("True", "ReconciliationSucceeded", "x")]}));
        let s = summary(&obj);
        assert_eq!(s.applies, ["Kustomization/flux-system/apps", "GitRepository/team-a/podinfo"]);
        assert_eq!(s.revision_since.as_deref(), Some("2026-11-30T10:00:00Z"));
        assert_eq!(
            s.revisions,
            [SeenRevision { revision: "main@sha1:aaa".into(), since: Some("2026-11-29T10:00:00Z".into()) }]
        );
        // A history that has not recorded the applied revision says nothing of when it came.
        obj["status"]["lastAppliedRevision"] = json!("main@sha1:ccc");
        assert_eq!(summary(&obj).revision_since, None);
        let hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "redis", "namespace": "team-b", "generation": 1},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "redis-chart"}},
            "status": {"history": [
                {"chartVersion": "20.6.1", "ociDigest": "sha256:abc", "firstDeployed": "t0", "lastDeployed": "t2"},
                {"chartVersion": "20.6.0", "firstDeployed": "t0", "lastDeployed": "t1"}]}});
        let s = summary(&hr);
        assert_eq!((s.revision.as_str(), s.revision_since.as_deref()), ("20.6.1", Some("t2")));
        let seen: Vec<&str> = s.revisions.iter().map(|r| r.revision.as_str()).collect();
        assert_eq!(seen, ["20.6.1@sha256:abc", "20.6.0"]);
        let git = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "r", "namespace": "n", "generation": 1},
            "status": {"artifact": {"revision": "main@sha1:bbb", "lastUpdateTime": "2026-11-30T09:00:00Z"}}});
        let s = summary(&git);
        assert_eq!(
            (s.revision_since.as_deref(), s.revisions.len(), s.applies.len()),
            (Some("2026-11-30T09:00:00Z"), 0, 0)
        );
        let json = serde_json::to_value(&s).unwrap();
        assert!(json.get("applies").is_none() && json.get("revisions").is_none(), "empty lists are not sent");
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
