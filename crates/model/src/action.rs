//! Actions: what a person may ask fluxboard to do to a Flux object, the exact patches that do it
//! (shared/FLUX.md), and how the browser reads the outcome from the object's summary.
//!
//! Architecture Invariant: the only trigger is `reconcile.fluxcd.io/requestedAt` (plus
//! `forceAt`/`resetAt` with the same token for HelmReleases). Nothing here ever writes
//! `spec.force`, `spec.reconcile` or labels.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::kinds::{KindInfo, kind_info};
use crate::summary::{Health, Summary};

pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
pub const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
pub const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
pub const SUSPENDED_BY: &str = "fluxboard.dev/suspended-by";
pub const SUSPEND_REASON: &str = "fluxboard.dev/suspend-reason";
pub const ARTIFACT_GENERATOR_RECONCILE: &str = "source.extensions.fluxcd.io/reconcile";

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Reconcile,
    ReconcileWithSource,
    /// HelmRelease: a one-off upgrade even when in sync.
    Force,
    /// HelmRelease: clear the failure counters.
    Reset,
    Suspend,
    Resume,
    /// A rolling restart of a Flux controller Deployment.
    Restart,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Reconcile,
        Action::ReconcileWithSource,
        Action::Force,
        Action::Reset,
        Action::Suspend,
        Action::Resume,
        Action::Restart,
    ];

    /// The word for people ("reconcile with source").
    pub fn label(self) -> &'static str {
        match self {
            Action::Reconcile => "reconcile",
            Action::ReconcileWithSource => "reconcile with source",
            Action::Force => "force upgrade",
            Action::Reset => "reset failures",
            Action::Suspend => "suspend",
            Action::Resume => "resume",
            Action::Restart => "restart",
        }
    }

    /// The reason of the Event recorded on the target.
    pub fn event_reason(self) -> &'static str {
        match self {
            Action::Reconcile | Action::ReconcileWithSource => "ReconcileRequested",
            Action::Force => "ForceRequested",
            Action::Reset => "ResetRequested",
            Action::Suspend => "SuspendRequested",
            Action::Resume => "ResumeRequested",
            Action::Restart => "RestartRequested",
        }
    }

    /// The role an action needs where it acts: admins restart controllers, operators do the
    /// rest.
    pub fn role(self) -> crate::auth::Role {
        match self {
            Action::Restart => crate::auth::Role::Admin,
            _ => crate::auth::Role::Operator,
        }
    }

    /// Whether the browser asks for confirmation first.
    pub fn needs_confirmation(self) -> bool {
        matches!(self, Action::Force | Action::Reset | Action::Suspend | Action::Restart)
    }

    /// Whether the action sets `requestedAt` (so its outcome is followed by the token).
    pub fn requests_reconcile(self) -> bool {
        !matches!(self, Action::Suspend | Action::Restart)
    }
}

/// One object to act on. `group` may be left out for Flux kinds (the kind names are unique).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    pub cluster: String,
    #[serde(default)]
    pub group: Option<String>,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// `POST /api/v1/actions`: one target (`cluster`, `kind`... at the top level) or `targets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action: Action,
    /// Why (recorded with suspensions and in the audit log).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub targets: Option<Vec<Target>>,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// The most objects one request may act on.
pub const MAX_TARGETS: usize = 500;
/// The most objects one reconcile-with-source request may act on (each waits for its sources).
pub const MAX_WITH_SOURCE_TARGETS: usize = 20;
/// The longest reason accepted.
pub const MAX_REASON: usize = 500;

impl ActionRequest {
    /// The targets of the request, or why it is malformed.
    pub fn targets(&self) -> Result<Vec<Target>, String> {
        let single = [&self.cluster, &self.kind, &self.namespace, &self.name];
        let targets = match (&self.targets, single.iter().any(|f| f.is_some())) {
            (Some(_), true) => {
                return Err("give either one target (cluster, kind, namespace, name) or targets, not both".into());
            }
            (Some(list), false) => list.clone(),
            (None, _) => match (&self.cluster, &self.kind, &self.namespace, &self.name) {
                (Some(cluster), Some(kind), Some(namespace), Some(name)) => vec![Target {
                    cluster: cluster.clone(),
                    group: self.group.clone(),
                    kind: kind.clone(),
                    namespace: namespace.clone(),
                    name: name.clone(),
                }],
                _ => return Err("missing target: give cluster, kind, namespace and name (or targets)".into()),
            },
        };
        if targets.is_empty() {
            return Err("targets is empty".into());
        }
        if targets.len() > MAX_TARGETS {
            return Err(format!("at most {MAX_TARGETS} targets per request"));
        }
        if self.reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON) {
            return Err(format!("the reason is longer than {MAX_REASON} characters"));
        }
        for t in &targets {
            if t.cluster.is_empty() || t.cluster.len() > 253 {
                return Err("cluster must be 1 to 253 characters".into());
            }
            if t.kind.is_empty() || t.kind.len() > 63 || !t.kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("kind {:?} is not a kind name", clip(&t.kind, 40)));
            }
            check_name(&t.name)?;
            check_namespace(&t.namespace)?;
        }
        // The same object twice is one object (a bulk list must not multiply the work).
        let mut seen = std::collections::HashSet::new();
        let targets: Vec<Target> = targets.into_iter().filter(|t| seen.insert(t.clone())).collect();
        if self.action == Action::ReconcileWithSource && targets.len() > MAX_WITH_SOURCE_TARGETS {
            return Err(format!("at most {MAX_WITH_SOURCE_TARGETS} objects per reconcile with source"));
        }
        Ok(targets)
    }
}

/// At most `max` characters of `text` (for messages that repeat input).
fn clip(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(i, _)| &text[..i])
}

/// Checks an object name as Kubernetes does (a DNS-1123 subdomain: lower-case letters, digits,
/// `-` and `.`, starting and ending with a letter or digit, at most 253 characters), so nothing
/// else (`?`, `#`, `/`, `..`, spaces) ever reaches an API path.
pub fn check_name(name: &str) -> Result<(), String> {
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if name.is_empty() || name.len() > 253 || !labels_ok {
        return Err(format!("{:?} is not a Kubernetes object name", clip(name, 60)));
    }
    Ok(())
}

/// Checks a namespace as Kubernetes does (a DNS-1123 label: at most 63 lower-case letters,
/// digits and `-`, starting and ending with a letter or digit).
pub fn check_namespace(namespace: &str) -> Result<(), String> {
    let ok = !namespace.is_empty()
        && namespace.len() <= 63
        && namespace.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if !ok {
        return Err(format!("{:?} is not a Kubernetes namespace", clip(namespace, 60)));
    }
    Ok(())
}

/// What happened to one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ResultStatus {
    /// Patched: the controller will act on it.
    Accepted,
    /// Not sent: unknown object, not allowed, not applicable.
    Refused,
    /// Sent, but the API server or a step failed.
    Failed,
}

/// The result for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    pub target: Target,
    pub status: ResultStatus,
    /// The HTTP status this result would have alone (202, 400, 403, 404, 409, 502...).
    pub code: u16,
    /// The request token (`requestedAt` value), when one was sent.
    pub token: Option<String>,
    pub message: String,
}

/// The answer of `POST /api/v1/actions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResponse {
    pub action: Action,
    pub results: Vec<ActionResult>,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub time: String,
    pub user: String,
    pub groups: Vec<String>,
    /// None when the request was refused before its action could be read.
    pub action: Option<Action>,
    pub target: Option<Target>,
    pub token: Option<String>,
    pub status: ResultStatus,
    pub message: String,
    /// The reason the user gave (the confirmation dialog's field), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A Flux controller Deployment and its readiness (`GET /api/v1/controllers/{cluster}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerStatus {
    pub namespace: String,
    pub name: String,
    pub replicas: i64,
    pub ready_replicas: i64,
    pub ready: bool,
    pub message: String,
    pub image: String,
    pub restarted_at: Option<String>,
}

/// Why an action does not apply to an object, with the HTTP status it is refused with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotApplicable {
    pub code: u16,
    pub message: String,
}

fn not_applicable(code: u16, message: String) -> Result<(), NotApplicable> {
    Err(NotApplicable { code, message })
}

/// Whether `action` applies to objects of this kind at all: the rule the API enforces before it
/// reads anything and the web app uses to offer buttons (with [`applies`]).
pub fn applies_to_kind(action: Action, info: &KindInfo) -> Result<(), NotApplicable> {
    match action {
        Action::Restart => not_applicable(400, "restart applies to the Flux controller Deployments only".into()),
        Action::Force | Action::Reset if info.kind != "HelmRelease" => {
            not_applicable(400, format!("{} applies to HelmReleases only", action.label()))
        }
        Action::ReconcileWithSource if !matches!(info.kind, "Kustomization" | "HelmRelease" | "HelmChart") => {
            not_applicable(400, format!("{} has no source to reconcile first", info.kind))
        }
        // Alert and Provider have spec.suspend though Flux never reconciles them.
        Action::Suspend | Action::Resume if matches!(info.kind, "Alert" | "Provider") => Ok(()),
        _ if !info.reconcilable => not_applicable(400, format!("{} is static: Flux never reconciles it", info.kind)),
        _ => Ok(()),
    }
}

/// Whether `action` applies to this object as it is now: its kind, then a static object (an
/// OCI HelmRepository) and a suspended one, which `flux reconcile` refuses ("resource is
/// suspended": the controller would only record the token).
pub fn applies(action: Action, s: &Summary) -> Result<(), NotApplicable> {
    let Some(info) = kind_info(&s.group, &s.kind) else {
        return not_applicable(404, format!("{} is not a Flux kind", s.kind));
    };
    applies_to_kind(action, info)?;
    let what = format!("{} {}/{}", s.kind, s.namespace, s.name);
    match action {
        Action::Suspend | Action::Resume => Ok(()),
        _ if s.static_object => not_applicable(400, format!("{what} is static: Flux never reconciles it")),
        _ if s.suspended => not_applicable(409, format!("{what}: resource is suspended; resume it first")),
        _ => Ok(()),
    }
}

/// Whether the controllers of a cluster that serves `kind` at API `version` support `action`
/// (A12 of shared/FIDELITY.md, read from shared/flux/served_versions_by_flux_release.txt):
/// ImagePolicy has `spec.suspend` and records reconcile requests from image-reflector-controller
/// v1.0 (Flux 2.7, the first to serve ImagePolicy v1); HelmRelease force and reset need
/// helm-controller v0.37 (Flux 2.2, the first to serve v2beta2).
pub fn supported_by(action: Action, kind: &str, version: &str) -> Result<(), NotApplicable> {
    match (kind, version) {
        ("ImagePolicy", "v1beta1" | "v1beta2") => not_applicable(
            400,
            format!(
                "this cluster's image-reflector-controller (ImagePolicy {version}) cannot {}: that needs Flux 2.7 or later",
                action.label()
            ),
        ),
        ("HelmRelease", "v2beta1") if matches!(action, Action::Force | Action::Reset) => not_applicable(
            400,
            format!(
                "this cluster's helm-controller (HelmRelease v2beta1) cannot {}: that needs Flux 2.2 or later",
                action.label()
            ),
        ),
        _ => Ok(()),
    }
}

/// The actions the detail page offers for this object, in order (suspend or resume, whichever
/// applies), given the API version its cluster serves the kind at (when known).
pub fn offered(s: &Summary, served_version: Option<&str>) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|&a| applies(a, s).is_ok())
        .filter(|&a| served_version.is_none_or(|v| supported_by(a, &s.kind, v).is_ok()))
        .filter(|&a| !matches!((a, s.suspended), (Action::Suspend, true) | (Action::Resume, false)))
        .collect()
}

/// The JSON merge patch an action sends to a Flux object (or, for restart, a Deployment).
pub fn patch(action: Action, kind: &str, token: &str, user: &str, reason: Option<&str>) -> Value {
    let generator = kind == "ArtifactGenerator";
    match action {
        Action::Reconcile | Action::ReconcileWithSource => json!({"metadata": {"annotations": {REQUESTED_AT: token}}}),
        Action::Force => json!({"metadata": {"annotations": {REQUESTED_AT: token, FORCE_AT: token}}}),
        Action::Reset => json!({"metadata": {"annotations": {REQUESTED_AT: token, RESET_AT: token}}}),
        Action::Suspend => {
            let mut annotations = json!({SUSPENDED_BY: user, SUSPEND_REASON: reason.filter(|r| !r.is_empty())});
            if generator {
                annotations[ARTIFACT_GENERATOR_RECONCILE] = json!("disabled");
                json!({"metadata": {"annotations": annotations}})
            } else {
                json!({"metadata": {"annotations": annotations}, "spec": {"suspend": true}})
            }
        }
        Action::Resume => {
            let mut annotations = json!({REQUESTED_AT: token, SUSPENDED_BY: null, SUSPEND_REASON: null});
            if generator {
                annotations[ARTIFACT_GENERATOR_RECONCILE] = Value::Null;
                json!({"metadata": {"annotations": annotations}})
            } else {
                json!({"metadata": {"annotations": annotations}, "spec": {"suspend": null}})
            }
        }
        Action::Restart => json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: token}}}}}),
    }
}

/// How a followed action is doing, read from the object's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sent; the controller has not handled it yet.
    Pending,
    /// Handled and the object is Ready (or, for suspend, suspended).
    Succeeded(String),
    /// Handled and failing (Ready=False, not Stalled): the controller retries.
    FailingRetrying(String),
    /// Handled and stalled (or still suspended): it will not fix itself.
    Failed(String),
    /// Handled, still progressing.
    Progressing,
    /// Not handled within the deadline.
    NotHandled,
}

impl Outcome {
    pub fn is_final(&self) -> bool {
        !matches!(self, Outcome::Pending | Outcome::Progressing)
    }
}

/// How long the browser waits for a request to be handled before saying so.
pub const HANDLE_DEADLINE_SECS: f64 = 60.0;

/// The outcome of `action` sent with `token`, `elapsed` seconds ago, given the object's summary.
pub fn outcome(action: Action, token: &str, summary: &Summary, elapsed: f64) -> Outcome {
    let handled = match action {
        Action::Suspend => summary.suspended,
        Action::Restart => true,
        // A static object (Alert, Provider, OCI HelmRepository) has no token to record: resuming
        // is done once `spec.suspend` is gone, as `flux resume` reads it (readiness.go:131).
        Action::Resume if summary.static_object => !summary.suspended,
        _ => summary.last_handled_reconcile_at.as_deref() == Some(token),
    };
    if !handled {
        return if elapsed > HANDLE_DEADLINE_SECS { Outcome::NotHandled } else { Outcome::Pending };
    }
    if action == Action::Suspend {
        return Outcome::Succeeded("suspended".into());
    }
    match summary.health {
        Health::Ready => Outcome::Succeeded(summary.message.clone()),
        // Flux requeues every Ready=False that is not Stalled; only Stalled is terminal.
        Health::Failing => Outcome::FailingRetrying(summary.message.clone()),
        Health::Stalled => Outcome::Failed(summary.message.clone()),
        Health::Suspended => Outcome::Failed("the object is suspended".into()),
        Health::Progressing | Health::Terminating | Health::Unknown => Outcome::Progressing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_are_exactly_what_flux_reads() {
        let t = "2026-11-25T17:00:00.123456789Z";
        assert_eq!(
            patch(Action::Reconcile, "Kustomization", t, "ann", None),
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": t}}})
        );
        assert_eq!(
            patch(Action::Force, "HelmRelease", t, "ann", None),
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": t, "reconcile.fluxcd.io/forceAt": t}}})
        );
        assert_eq!(
            patch(Action::Reset, "HelmRelease", t, "ann", None),
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": t, "reconcile.fluxcd.io/resetAt": t}}})
        );
        assert_eq!(
            patch(Action::Suspend, "Kustomization", t, "ann", Some("freeze")),
            json!({"metadata": {"annotations": {"fluxboard.dev/suspended-by": "ann", "fluxboard.dev/suspend-reason": "freeze"}},
                "spec": {"suspend": true}})
        );
        assert_eq!(
            patch(Action::Resume, "Kustomization", t, "ann", None),
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": t, "fluxboard.dev/suspended-by": null,
                "fluxboard.dev/suspend-reason": null}}, "spec": {"suspend": null}})
        );
        assert_eq!(
            patch(Action::Suspend, "ArtifactGenerator", t, "ann", None),
            json!({"metadata": {"annotations": {"fluxboard.dev/suspended-by": "ann", "fluxboard.dev/suspend-reason": null,
                "source.extensions.fluxcd.io/reconcile": "disabled"}}})
        );
        assert_eq!(
            patch(Action::Restart, "Deployment", t, "ann", None),
            json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": t}}}}})
        );
        for action in Action::ALL {
            let text = patch(action, "Kustomization", t, "ann", Some("r")).to_string();
            assert!(!text.contains("force\"") && !text.contains("\"reconcile\"") && !text.contains("labels"), "{text}");
        }
    }

    #[test]
    fn requests_name_one_target_or_many() {
        let one: ActionRequest = serde_json::from_value(json!({"action": "reconcile", "cluster": "c",
            "kind": "Kustomization", "namespace": "n", "name": "x"}))
        .unwrap();
        assert_eq!(one.targets().unwrap().len(), 1);
        let many: ActionRequest = serde_json::from_value(json!({"action": "suspend", "reason": "freeze",
            "targets": [{"cluster": "c", "kind": "Kustomization", "namespace": "n", "name": "x"},
                        {"cluster": "c", "kind": "HelmRelease", "namespace": "n", "name": "y"}]}))
        .unwrap();
        assert_eq!(many.targets().unwrap().len(), 2);
        for bad in [
            json!({"action": "reconcile"}),
            json!({"action": "reconcile", "targets": []}),
            json!({"action": "reconcile", "cluster": "c", "kind": "", "namespace": "n", "name": "x"}),
            json!({"action": "reconcile", "cluster": "c", "kind": "K", "namespace": "n", "name": "x",
                "targets": [{"cluster": "c", "kind": "K", "namespace": "n", "name": "x"}]}),
        ] {
            let req: ActionRequest = serde_json::from_value(bad.clone()).unwrap();
            assert!(req.targets().is_err(), "{bad}");
        }
        assert!(serde_json::from_value::<ActionRequest>(json!({"action": "delete"})).is_err());
        // Names and namespaces are Kubernetes names, or the request is refused (L2).
        for (ns, name) in [
            ("team-a", "podinfo?x="),
            ("team-a", "podinfo#not-me"),
            ("team-a", "podinfo/status"),
            ("team-a", "x y"),
            ("team-a", "Podinfo"),
            ("team-a/../flux-system", "podinfo"),
            ("team-a", ".."),
            ("-team", "podinfo"),
        ] {
            let req: ActionRequest = serde_json::from_value(json!({"action": "reconcile", "cluster": "c",
                "kind": "Kustomization", "namespace": ns, "name": name}))
            .unwrap();
            assert!(req.targets().is_err(), "{ns}/{name}");
        }
        // Duplicates are one target; reconcile with source is bounded harder.
        let t = json!({"cluster": "c", "kind": "Kustomization", "namespace": "n", "name": "x"});
        let dup: ActionRequest =
            serde_json::from_value(json!({"action": "reconcile", "targets": vec![t.clone(); 500]})).unwrap();
        assert_eq!(dup.targets().unwrap().len(), 1);
        let many: Vec<Value> = (0..21)
            .map(|i| json!({"cluster": "c", "kind": "Kustomization", "namespace": "n", "name": format!("x{i}")}))
            .collect();
        let with_source: ActionRequest =
            serde_json::from_value(json!({"action": "reconcileWithSource", "targets": many})).unwrap();
        assert!(with_source.targets().unwrap_err().contains("at most 20"));
        assert!(serde_json::from_value::<ActionRequest>(json!({"action": "reconcile", "force": true})).is_err());
    }

    fn summary(handled: Option<&str>, health: Health, retrying: bool) -> Summary {
        Summary {
            cluster: "c".into(),
            group: "g".into(),
            kind: "Kustomization".into(),
            namespace: "n".into(),
            name: "x".into(),
            health,
            retrying,
            message: "m".into(),
            suspended: health == Health::Suspended,
            last_handled_reconcile_at: handled.map(str::to_owned),
            generation: 1,
            observed_generation: 1,
            ..Summary::default()
        }
    }

    #[test]
    fn outcomes_follow_the_token_then_the_health() {
        let t = "tok";
        assert_eq!(outcome(Action::Reconcile, t, &summary(Some("old"), Health::Ready, false), 1.0), Outcome::Pending);
        assert_eq!(
            outcome(Action::Reconcile, t, &summary(Some("old"), Health::Ready, false), 61.0),
            Outcome::NotHandled
        );
        assert_eq!(
            outcome(Action::Reconcile, t, &summary(Some(t), Health::Ready, false), 1.0),
            Outcome::Succeeded("m".into())
        );
        assert_eq!(
            outcome(Action::Reconcile, t, &summary(Some(t), Health::Failing, true), 1.0),
            Outcome::FailingRetrying("m".into())
        );
        assert_eq!(
            outcome(Action::Reconcile, t, &summary(Some(t), Health::Stalled, false), 1.0),
            Outcome::Failed("m".into())
        );
        assert_eq!(
            outcome(Action::Reconcile, t, &summary(Some(t), Health::Progressing, false), 1.0),
            Outcome::Progressing
        );
        assert_eq!(
            outcome(Action::Suspend, t, &summary(None, Health::Suspended, false), 1.0),
            Outcome::Succeeded("suspended".into())
        );
        // DependencyNotReady and the like: Failing without ProgressingWithRetry is still retried.
        assert_eq!(
            outcome(Action::Reconcile, t, &summary(Some(t), Health::Failing, false), 1.0),
            Outcome::FailingRetrying("m".into())
        );
    }

    fn of_kind(group: &str, kind: &str) -> Summary {
        let mut s = summary(None, Health::Ready, false);
        (s.group, s.kind) = (group.into(), kind.into());
        s
    }

    #[test]
    fn actions_apply_as_the_flux_cli_allows_them() {
        let hr = of_kind("helm.toolkit.fluxcd.io", "HelmRelease");
        assert_eq!(
            offered(&hr, None),
            [Action::Reconcile, Action::ReconcileWithSource, Action::Force, Action::Reset, Action::Suspend]
        );
        let ks = of_kind("kustomize.toolkit.fluxcd.io", "Kustomization");
        assert_eq!(offered(&ks, None), [Action::Reconcile, Action::ReconcileWithSource, Action::Suspend]);
        assert_eq!(applies(Action::Force, &ks).unwrap_err().code, 400);
        // flux reconcile source chart --with-source (A10).
        let chart = of_kind("source.toolkit.fluxcd.io", "HelmChart");
        assert!(offered(&chart, None).contains(&Action::ReconcileWithSource));
        let git = of_kind("source.toolkit.fluxcd.io", "GitRepository");
        assert_eq!(offered(&git, None), [Action::Reconcile, Action::Suspend]);
        // A suspended object: "resource is suspended" (A5); only resume is offered.
        let mut suspended = ks.clone();
        suspended.suspended = true;
        let refusal = applies(Action::Reconcile, &suspended).unwrap_err();
        assert_eq!((refusal.code, refusal.message.contains("resource is suspended")), (409, true));
        assert_eq!(offered(&suspended, None), [Action::Resume]);
        // Static objects: Alert and Provider may be suspended, nothing is reconciled.
        let mut alert = of_kind("notification.toolkit.fluxcd.io", "Alert");
        alert.static_object = true;
        assert_eq!(offered(&alert, None), [Action::Suspend]);
        let mut oci = of_kind("source.toolkit.fluxcd.io", "HelmRepository");
        oci.static_object = true;
        assert_eq!(offered(&oci, None), [Action::Suspend]);
        let mut ea = of_kind("source.toolkit.fluxcd.io", "ExternalArtifact");
        ea.static_object = true;
        assert!(offered(&ea, None).is_empty());
        assert_eq!(applies(Action::Reconcile, &of_kind("x", "Widget")).unwrap_err().code, 404);
    }

    #[test]
    fn old_controllers_are_not_asked_what_they_cannot_do() {
        let hr = of_kind("helm.toolkit.fluxcd.io", "HelmRelease");
        assert_eq!(offered(&hr, Some("v2beta1")), [Action::Reconcile, Action::ReconcileWithSource, Action::Suspend]);
        assert_eq!(offered(&hr, Some("v2beta2")).len(), 5);
        let policy = of_kind("image.toolkit.fluxcd.io", "ImagePolicy");
        assert!(offered(&policy, Some("v1beta2")).is_empty());
        assert!(supported_by(Action::Suspend, "ImagePolicy", "v1beta2").unwrap_err().message.contains("Flux 2.7"));
        assert_eq!(offered(&policy, Some("v1")), [Action::Reconcile, Action::Suspend]);
    }

    #[test]
    fn resuming_a_static_object_is_done_when_suspend_is_gone() {
        let mut alert = summary(None, Health::Suspended, false);
        alert.static_object = true;
        assert_eq!(outcome(Action::Resume, "tok", &alert, 1.0), Outcome::Pending);
        alert.suspended = false;
        alert.health = Health::Ready;
        alert.message = "Alert is Ready".into();
        assert_eq!(outcome(Action::Resume, "tok", &alert, 1.0), Outcome::Succeeded("Alert is Ready".into()));
    }
}
