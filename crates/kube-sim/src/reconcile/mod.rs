//! The emulated Flux controllers' reconcile logic, pure: from an object and a view of the
//! cluster to the status the real controller writes, the objects it applies and prunes, the
//! Events it records and when it runs again. The runtime around it is `controllers`.
//!
//! This module holds what every controller shares (the kinds, [`decide`], [`begin`],
//! [`suspended_status`], [`Run`] with its success, failure and wait paths, dependencies and the
//! inventory); one submodule per controller holds its reconciliation: [`source`]
//! (source-controller), [`kustomize`] (kustomize-controller), [`helm`] (helm-controller),
//! [`image`] (image-reflector and image-automation), [`notification`] (notification-controller)
//! and [`source_watcher`] (source-watcher).
//!
//! Conditions, reasons and messages follow the real controllers (shared/FLUX.md); failures are
//! scripted with `sim.fluxboard.dev/*` annotations (README).

use std::{sync::Arc, time::Duration};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

mod helm;
mod image;
mod kustomize;
mod notification;
mod source;
mod source_watcher;

/// The Flux kinds the emulator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FluxKind {
    GitRepository,
    OciRepository,
    Bucket,
    HelmRepository,
    HelmChart,
    ExternalArtifact,
    Kustomization,
    HelmRelease,
    ImageRepository,
    ImagePolicy,
    ImageUpdateAutomation,
    Receiver,
    Alert,
    Provider,
    ArtifactGenerator,
}

const SOURCE: &str = "source.toolkit.fluxcd.io";

impl FluxKind {
    pub(crate) const ALL: [FluxKind; 15] = [
        Self::GitRepository,
        Self::OciRepository,
        Self::Bucket,
        Self::HelmRepository,
        Self::HelmChart,
        Self::ExternalArtifact,
        Self::Kustomization,
        Self::HelmRelease,
        Self::ImageRepository,
        Self::ImagePolicy,
        Self::ImageUpdateAutomation,
        Self::Receiver,
        Self::Alert,
        Self::Provider,
        Self::ArtifactGenerator,
    ];

    pub(crate) fn from_group_kind(group: &str, kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.group() == group && k.kind() == kind)
    }

    pub(crate) fn group(self) -> &'static str {
        match self {
            Self::Kustomization => "kustomize.toolkit.fluxcd.io",
            Self::HelmRelease => "helm.toolkit.fluxcd.io",
            Self::ImageRepository | Self::ImagePolicy | Self::ImageUpdateAutomation => "image.toolkit.fluxcd.io",
            Self::Receiver | Self::Alert | Self::Provider => "notification.toolkit.fluxcd.io",
            Self::ArtifactGenerator => "source.extensions.fluxcd.io",
            _ => SOURCE,
        }
    }

    pub(crate) fn kind(self) -> &'static str {
        match self {
            Self::GitRepository => "GitRepository",
            Self::OciRepository => "OCIRepository",
            Self::Bucket => "Bucket",
            Self::HelmRepository => "HelmRepository",
            Self::HelmChart => "HelmChart",
            Self::ExternalArtifact => "ExternalArtifact",
            Self::Kustomization => "Kustomization",
            Self::HelmRelease => "HelmRelease",
            Self::ImageRepository => "ImageRepository",
            Self::ImagePolicy => "ImagePolicy",
            Self::ImageUpdateAutomation => "ImageUpdateAutomation",
            Self::Receiver => "Receiver",
            Self::Alert => "Alert",
            Self::Provider => "Provider",
            Self::ArtifactGenerator => "ArtifactGenerator",
        }
    }

    /// The Deployment in flux-system that runs this kind's controller.
    pub(crate) fn controller(self) -> &'static str {
        match self {
            Self::Kustomization => "kustomize-controller",
            Self::HelmRelease => "helm-controller",
            Self::ImageRepository | Self::ImagePolicy => "image-reflector-controller",
            Self::ImageUpdateAutomation => "image-automation-controller",
            Self::Receiver | Self::Alert | Self::Provider => "notification-controller",
            Self::ArtifactGenerator => "source-watcher",
            _ => "source-controller",
        }
    }

    /// Alert, Provider, ExternalArtifact and OCI HelmRepository are never reconciled.
    pub(crate) fn is_static(self, obj: &Value) -> bool {
        match self {
            Self::Alert | Self::Provider | Self::ExternalArtifact => true,
            Self::HelmRepository => obj["spec"]["type"] == "oci",
            _ => false,
        }
    }
}

/// A reference to another object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ObjRef {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

/// What the runtime can look up.
pub(crate) trait World {
    /// The current object of that group and kind.
    fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<Arc<Value>>;
    /// The manifests the source holds at `path`; None when the path does not exist.
    fn manifests(&self, source: &ObjRef, path: &str) -> Option<Vec<Value>>;
    /// Whether the Git repository at `url` is known not to exist (its server answers 404).
    fn repository_missing(&self, url: &str) -> bool;
    fn now(&self) -> jiff::Timestamp;
}

/// Whether an object calls for work.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Nothing,
    /// Suspended: the controller's deferred status patch runs (it may record a new request
    /// token), but nothing is reconciled ([`suspended_status`]).
    Suspended,
    Reconcile,
}

/// The result of one reconciliation.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The full new `status`.
    pub(crate) status: Value,
    /// Objects to create or update.
    pub(crate) apply: Vec<Value>,
    /// Objects to delete.
    pub(crate) delete: Vec<ObjRef>,
    /// Events to record on the object.
    pub(crate) events: Vec<EventSpec>,
    /// When to reconcile again (unscaled); None when stalled.
    pub(crate) requeue_after: Option<Duration>,
    /// A status to show first, and for how long before `status`: a health check that runs
    /// until its timeout (unscaled, scaled like retries), or None for one reconcile step (a
    /// Helm action).
    pub(crate) progress: Option<(Value, Option<Duration>)>,
}

/// A Kubernetes Event to record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventSpec {
    pub(crate) type_: EventType,
    pub(crate) reason: String,
    pub(crate) message: String,
    pub(crate) annotations: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Normal,
    Warning,
}

const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
/// How long controllers wait for a dependency or a source (their `--requeue-dependency`).
const DEPENDENCY_REQUEUE: Duration = Duration::from_secs(30);

fn token(obj: &Value) -> Option<&str> {
    obj["metadata"]["annotations"][REQUESTED_AT].as_str()
}

fn suspended(kind: FluxKind, obj: &Value) -> bool {
    match kind {
        // source-watcher `IsDisabled` lower-cases the value (artifactgenerator_types.go:256).
        FluxKind::ArtifactGenerator => obj["metadata"]["annotations"]["source.extensions.fluxcd.io/reconcile"]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled")),
        _ => obj["spec"]["suspend"] == true,
    }
}

/// Whether the kind's controller records a new request token while the object is suspended.
/// Every controller but image-automation runs its deferred status patch (which records the
/// token) before its suspend check: source-controller `summarize.RecordReconcileReq`
/// (gitrepository_controller.go:237, suspend check at :267), kustomize-controller
/// `finalizeStatus`, helm-controller's deferred patch (helmrelease_controller.go:143),
/// image-reflector, notification-controller and source-watcher likewise.
/// ImageUpdateAutomation records it only inside `reconcile()` (pkg runtime/reconcile Finalize).
fn acks_while_suspended(kind: FluxKind) -> bool {
    kind != FluxKind::ImageUpdateAutomation
}

/// What to do with an object. `triggered`: a watch event passed the controllers' predicates
/// (a generation change, a create, a controller start) or a requeue is due. A new request
/// token is a trigger by itself. Suspended objects never reconcile, but an event still runs
/// the controller's deferred status patch.
pub(crate) fn decide(kind: FluxKind, obj: &Value, triggered: bool) -> Decision {
    if kind.is_static(obj) || obj["metadata"].get("deletionTimestamp").is_some() {
        return Decision::Nothing;
    }
    let new_token = token(obj).is_some_and(|t| obj["status"]["lastHandledReconcileAt"].as_str() != Some(t));
    if suspended(kind, obj) {
        return if triggered || (new_token && acks_while_suspended(kind)) {
            Decision::Suspended
        } else {
            Decision::Nothing
        };
    }
    if triggered || new_token { Decision::Reconcile } else { Decision::Nothing }
}

fn has_true(status: &Value, type_: &str) -> bool {
    status["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == type_ && c["status"] == "True"))
}

/// The status a suspended object gets from its controller's deferred patch, or None when it
/// does not change: the request token recorded (see [`acks_while_suspended`]) and
/// `status.observedGeneration` advanced where the controller's patch rules allow it on an
/// early return: helm-controller always (empty result, helmrelease_controller.go:153),
/// kustomize-controller and notification-controller when Ready=True (`finalizeStatus`,
/// receiver_controller.go:299), source-controller when the object has conditions
/// (`ComputeReconcileResult`, internal/reconcile/reconcile.go), the image controllers when
/// Ready or Stalled (pkg runtime/reconcile `AddPatchOptions`).
pub(crate) fn suspended_status(kind: FluxKind, obj: &Value) -> Option<Value> {
    let before = status_of(obj);
    let mut status = before.clone();
    if acks_while_suspended(kind)
        && let Some(t) = token(obj)
    {
        status["lastHandledReconcileAt"] = json!(t);
    }
    let observe = match kind {
        FluxKind::HelmRelease => true,
        // kustomize-controller `finalizeStatus`, notification-controller receiver_controller.go:299.
        FluxKind::Kustomization | FluxKind::Receiver => has_true(&before, "Ready"),
        FluxKind::GitRepository
        | FluxKind::OciRepository
        | FluxKind::Bucket
        | FluxKind::HelmRepository
        | FluxKind::HelmChart => before["conditions"].as_array().is_some_and(|c| !c.is_empty()),
        // image-reflector and image-automation: `AddPatchOptions` in their deferred patch
        // (imageupdateautomation_controller.go:215, which records no token).
        FluxKind::ImageRepository | FluxKind::ImagePolicy | FluxKind::ImageUpdateAutomation => {
            has_true(&before, "Ready") || has_true(&before, "Stalled")
        }
        _ => false,
    };
    if observe {
        status["observedGeneration"] = obj["metadata"]["generation"].clone();
    }
    (status != before).then_some(status)
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, generation: &Value, now: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "observedGeneration": generation, "lastTransitionTime": now})
}

/// Sets conditions (None removes the type), keeping transition times when the status holds.
pub(crate) fn set_conditions(status: &mut Value, updates: Vec<(&str, Option<Value>)>) {
    let mut conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    for (type_, new) in updates {
        let old = conditions.iter().position(|c| c["type"] == type_);
        match (old, new) {
            (Some(i), Some(mut c)) => {
                if conditions[i]["status"] == c["status"] {
                    c["lastTransitionTime"] = conditions[i]["lastTransitionTime"].clone();
                }
                conditions[i] = c;
            }
            (None, Some(c)) => conditions.push(c),
            (Some(i), None) => {
                conditions.remove(i);
            }
            (None, None) => {}
        }
    }
    // Ready first, as the controllers write it.
    conditions.sort_by_key(|c| c["type"] != "Ready");
    status["conditions"] = Value::Array(conditions);
}

fn status_of(obj: &Value) -> Value {
    let status = obj["status"].clone();
    if status.is_object() { status } else { json!({}) }
}

/// The status a controller writes when work starts, or None when it writes nothing first.
///
/// - Sources and image objects: pkg runtime/reconcile `ProgressiveStatus(false, …)`:
///   Reconciling=True, and Ready=Unknown only when Ready is missing or already Unknown, so a
///   no-op reconcile keeps Ready=True (source-controller gitrepository_controller.go:291-301).
/// - Kustomization: Ready=Unknown "Reconciliation in progress" and Reconciling "Fetching
///   manifests…", once the source artifact and the dependencies are there
///   (kustomization_controller.go:325); waits write nothing first.
/// - HelmRelease: Reconciling "Fulfilling prerequisites", Ready untouched
///   (helmrelease_controller.go:236); Receiver: Reconciling only (receiver_controller.go:254).
pub(crate) fn begin(kind: FluxKind, obj: &Value, world: &dyn World) -> Option<Value> {
    let now = crate::object::rfc3339(world.now());
    let generation = &obj["metadata"]["generation"];
    let mut status = status_of(obj);
    let cond =
        |type_: &str, status: &str, message: &str| condition(type_, status, "Progressing", message, generation, &now);
    match kind {
        FluxKind::Kustomization => {
            let source = kustomize::kustomization_prerequisites(obj, world).ok()?;
            let revision = source["status"]["artifact"]["revision"].as_str().unwrap_or_default();
            let message =
                format!("Fetching manifests for revision {revision} with a timeout of {}", go_duration(timeout(obj)));
            set_conditions(
                &mut status,
                vec![
                    ("Ready", Some(cond("Ready", "Unknown", "Reconciliation in progress"))),
                    ("Reconciling", Some(cond("Reconciling", "True", &message))),
                ],
            );
        }
        FluxKind::HelmRelease => {
            set_conditions(
                &mut status,
                vec![("Reconciling", Some(cond("Reconciling", "True", "Fulfilling prerequisites")))],
            );
        }
        // receiver_controller.go:254: Reconciling only.
        FluxKind::Receiver => {
            set_conditions(
                &mut status,
                vec![("Reconciling", Some(cond("Reconciling", "True", "Reconciliation in progress")))],
            );
        }
        _ => {
            let observed = &status["observedGeneration"];
            let mut message = if observed.is_i64() && observed != generation {
                format!("processing object: new generation {observed} -> {generation}")
            } else {
                "reconciliation in progress".to_owned()
            };
            let ready = condition_of(&status, "Ready");
            let mut drift = ready.is_none_or(|c| c["status"] == "Unknown");
            let mut updates = Vec::new();
            // A new upstream revision: `ProgressiveStatus(true, …)` "building artifact: new
            // upstream revision …" and ArtifactOutdated (gitrepository_controller.go:640-652).
            let fetches = matches!(
                kind,
                FluxKind::GitRepository | FluxKind::OciRepository | FluxKind::Bucket | FluxKind::HelmRepository
            );
            if fetches && script(obj).is_none() {
                let revision = source::upstream_revision(kind, obj);
                let stored = status["artifact"]["revision"].as_str();
                if stored != Some(revision.as_str()) {
                    message = match stored {
                        Some(_) => format!("building artifact: new upstream revision '{revision}'"),
                        None => "building artifact".to_owned(),
                    };
                    if stored.is_some() {
                        let outdated = condition(
                            "ArtifactOutdated",
                            "True",
                            "NewRevision",
                            &format!("new upstream revision '{revision}'"),
                            generation,
                            &now,
                        );
                        updates.push(("ArtifactOutdated", Some(outdated)));
                    }
                    drift = true;
                }
            }
            updates.push(("Reconciling", Some(cond("Reconciling", "True", &message))));
            if drift {
                updates.push(("Ready", Some(cond("Ready", "Unknown", &message))));
            }
            set_conditions(&mut status, updates);
        }
    }
    Some(status)
}

fn condition_of<'a>(status: &'a Value, type_: &str) -> Option<&'a Value> {
    status["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

/// A `sim.fluxboard.dev/fail` or `/stall` script in force.
struct Script {
    stall: bool,
    message: String,
    reason: Option<String>,
}

fn script(obj: &Value) -> Option<Script> {
    let annotations = &obj["metadata"]["annotations"];
    let applies = match annotations["sim.fluxboard.dev/fail-generation"].as_str() {
        Some(g) => obj["metadata"]["generation"].as_i64().map(|x| x.to_string()).as_deref() == Some(g),
        None => true,
    };
    if !applies {
        return None;
    }
    let reason = annotations["sim.fluxboard.dev/fail-reason"].as_str().map(str::to_owned);
    if let Some(message) = annotations["sim.fluxboard.dev/stall"].as_str() {
        return Some(Script { stall: true, message: message.to_owned(), reason });
    }
    annotations["sim.fluxboard.dev/fail"].as_str().map(|m| Script { stall: false, message: m.to_owned(), reason })
}

/// A Go duration (`10m`, `1m30s`, `1h`, `500ms`, `2h45m10s`).
pub(crate) fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += value * factor;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

fn interval(obj: &Value) -> Duration {
    obj["spec"]["interval"].as_str().and_then(parse_go_duration).unwrap_or(Duration::from_secs(600))
}

/// `spec.timeout`, else the interval (`GetTimeout`).
fn timeout(obj: &Value) -> Duration {
    obj["spec"]["timeout"].as_str().and_then(parse_go_duration).unwrap_or_else(|| interval(obj))
}

fn retry_interval(obj: &Value) -> Duration {
    obj["spec"]["retryInterval"].as_str().and_then(parse_go_duration).unwrap_or_else(|| interval(obj))
}

/// Go's `Duration.String()` for whole seconds (`10m0s`, `1h0m0s`, `30s`).
pub(crate) fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

fn hex_digest(input: &str) -> String {
    Sha256::digest(input.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The inventory id `<namespace>_<name>_<group>_<kind>` (`:` in names written as `__`).
pub(crate) fn inventory_id(namespace: &str, name: &str, group: &str, kind: &str) -> String {
    format!("{namespace}_{}_{group}_{kind}", name.replace(':', "__"))
}

/// Parses an inventory id into (namespace, name, group, kind).
pub(crate) fn parse_inventory_id(id: &str) -> Option<(String, String, String, String)> {
    let (namespace, rest) = id.split_once('_')?;
    let (rest, kind) = rest.rsplit_once('_')?;
    let (name, group) = rest.rsplit_once('_')?;
    // A name written with `__` leaves a trailing `_` on the name part.
    let (name, group) = match name.strip_suffix('_') {
        Some(stripped) if group.is_empty() => (stripped, ""),
        _ => (name, group),
    };
    if name.is_empty() || kind.is_empty() {
        return None;
    }
    Some((namespace.to_owned(), name.replace("__", ":"), group.to_owned(), kind.to_owned()))
}

fn obj_ref(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjRef {
    ObjRef {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

/// The namespace of a reference: its own, or the referrer's.
fn ref_namespace<'a>(reference: &'a Value, obj: &'a Value) -> &'a str {
    reference["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or_else(|| crate::object::namespace(obj))
}

fn helm_chart_ref(obj: &Value) -> ObjRef {
    let namespace = crate::object::namespace(obj);
    let source_ns = obj["spec"]["chart"]["spec"]["sourceRef"]["namespace"].as_str().unwrap_or(namespace);
    obj_ref(&format!("{SOURCE}/v1"), "HelmChart", source_ns, &format!("{namespace}-{}", crate::object::name(obj)))
}

/// What an object consumes: its source, chart, dependencies, image repository.
pub(crate) fn dependencies(kind: FluxKind, obj: &Value) -> Vec<ObjRef> {
    let spec = &obj["spec"];
    let source = |r: &Value, group: &str| {
        obj_ref(
            group,
            r["kind"].as_str().unwrap_or_default(),
            ref_namespace(r, obj),
            r["name"].as_str().unwrap_or_default(),
        )
    };
    let mut out = Vec::new();
    match kind {
        FluxKind::Kustomization => out.push(source(&spec["sourceRef"], &format!("{SOURCE}/v1"))),
        FluxKind::HelmRelease if spec["chartRef"].is_object() => {
            out.push(source(&spec["chartRef"], &format!("{SOURCE}/v1")))
        }
        FluxKind::HelmRelease => out.push(helm_chart_ref(obj)),
        FluxKind::HelmChart => out.push(source(&spec["sourceRef"], &format!("{SOURCE}/v1"))),
        FluxKind::ImagePolicy => {
            let r = &spec["imageRepositoryRef"];
            out.push(obj_ref(
                "image.toolkit.fluxcd.io/v1",
                "ImageRepository",
                ref_namespace(r, obj),
                r["name"].as_str().unwrap_or_default(),
            ));
        }
        FluxKind::ImageUpdateAutomation => out.push(source(&spec["sourceRef"], &format!("{SOURCE}/v1"))),
        FluxKind::ArtifactGenerator => {
            for s in spec["sources"].as_array().into_iter().flatten() {
                out.push(source(s, &format!("{SOURCE}/v1")));
            }
        }
        _ => {}
    }
    if matches!(kind, FluxKind::Kustomization | FluxKind::HelmRelease) {
        for d in spec["dependsOn"].as_array().into_iter().flatten() {
            let api = if kind == FluxKind::Kustomization {
                "kustomize.toolkit.fluxcd.io/v2"
            } else {
                "helm.toolkit.fluxcd.io/v2"
            };
            out.push(obj_ref(api, kind.kind(), ref_namespace(d, obj), d["name"].as_str().unwrap_or_default()));
        }
    }
    out.retain(|r| !r.kind.is_empty() && !r.name.is_empty());
    out
}

/// What dependents see change: a source's artifact revision, a policy's latest tag, a scan.
pub(crate) fn published_revision(kind: FluxKind, obj: &Value) -> Option<String> {
    let status = &obj["status"];
    match kind {
        FluxKind::ImagePolicy => status["latestRef"]["tag"].as_str().map(str::to_owned),
        FluxKind::ImageRepository => status["lastScanResult"].get("latestTags").map(Value::to_string),
        _ => status["artifact"]["revision"].as_str().map(str::to_owned),
    }
}

/// Whether an object is ready for its dependents (dependsOn, an ImagePolicy's repository):
/// Ready=True at its current generation (kustomization_controller.go `checkDependencies`,
/// helmrelease_controller.go:613).
fn is_ready(obj: &Value) -> bool {
    obj["status"]["observedGeneration"] == obj["metadata"]["generation"] && has_true(&obj["status"], "Ready")
}

/// helm-controller's `isSourceReady`/`isReady` for the chart's source
/// (helmrelease_controller.go:857-895): the generation observed, not stalled, an artifact.
/// Ready=True is not required: a source that failed after a success keeps serving its artifact.
pub(crate) fn chart_source_ready(found: &Value) -> Result<(), String> {
    let (kind, namespace, name) =
        (crate::object::kind(found), crate::object::namespace(found), crate::object::name(found));
    let what = format!("{kind} '{namespace}/{name}' is not ready");
    let status = &found["status"];
    if kind != "ExternalArtifact" {
        if status["observedGeneration"] != found["metadata"]["generation"] {
            let message = match condition_of(status, "Ready") {
                Some(ready) if ready["status"] == "False" => ready["message"].as_str().unwrap_or_default().to_owned(),
                _ => "latest generation of object has not been reconciled".to_owned(),
            };
            return Err(format!("{what}: {message}"));
        }
        if let Some(stalled) = condition_of(status, "Stalled").filter(|c| c["status"] == "True") {
            return Err(format!("{what}: {}", stalled["message"].as_str().unwrap_or_default()));
        }
    }
    if status["artifact"]["revision"].as_str().is_none() {
        return Err(format!("{what}: does not have an artifact"));
    }
    Ok(())
}

/// The NotFound message of a controller's read: controller-runtime's cache names the Kind, not
/// the resource, as the API server does (`GitRepository.source.toolkit.fluxcd.io "x" not
/// found`); the Flux controllers read their kinds through it.
pub(crate) fn not_found(group: &str, kind: &str, name: &str) -> String {
    format!("{kind}.{group} \"{name}\" not found")
}

/// The inventory entries of `objects` (`id` and version `v`), sorted by id.
fn inventory_entries(objects: &[Value]) -> Vec<Value> {
    let mut entries: Vec<Value> = objects
        .iter()
        .map(|o| {
            let (group, version) = crate::resources::split_api_version(o["apiVersion"].as_str().unwrap_or_default());
            let (namespace, name, kind) = (crate::object::namespace(o), crate::object::name(o), crate::object::kind(o));
            json!({"id": inventory_id(namespace, name, group, kind), "v": version})
        })
        .collect();
    entries.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    entries
}

/// A wait: the Ready reason and message and when to look again.
type Wait = (&'static str, String, Duration);

/// dependsOn: each dependency exists, is Ready=True at its generation and, for a Kustomization
/// sharing the source, has applied the source's current revision
/// (kustomization_controller.go:558-624; helmrelease_controller.go:613).
fn check_dependencies(kind: FluxKind, obj: &Value, world: &dyn World, source: Option<&Value>) -> Result<(), String> {
    for dep in obj["spec"]["dependsOn"].as_array().into_iter().flatten() {
        let namespace = ref_namespace(dep, obj);
        let name = dep["name"].as_str().unwrap_or_default();
        let Some(found) = world.get(kind.group(), kind.kind(), namespace, name) else {
            let missing = not_found(kind.group(), kind.kind(), name);
            return Err(match kind {
                FluxKind::Kustomization => format!("dependency '{namespace}/{name}' not found: {missing}"),
                _ => format!("unable to get '{namespace}/{name}' dependency: {missing}"),
            });
        };
        if !is_ready(&found) {
            return Err(format!("dependency '{namespace}/{name}' is not ready"));
        }
        if let Some(source) = source {
            let theirs = &found["spec"]["sourceRef"];
            let ours = &obj["spec"]["sourceRef"];
            let same = theirs["kind"] == ours["kind"]
                && theirs["name"] == ours["name"]
                && ref_namespace(theirs, &found) == ref_namespace(ours, obj);
            if same && found["status"]["lastAppliedRevision"] != source["status"]["artifact"]["revision"] {
                return Err(format!("dependency '{namespace}/{name}' revision is not up to date"));
            }
        }
    }
    Ok(())
}

/// One reconciliation, as the real controller does it.
pub(crate) fn reconcile(kind: FluxKind, obj: &Value, world: &dyn World) -> Outcome {
    let mut r = Run::new(kind, obj, world);
    // A Kustomization's or HelmRelease's scripted failure is its build, apply or release: it
    // comes after the waits for sources and dependencies.
    if let Some(script) = script(obj).filter(|_| !matches!(kind, FluxKind::HelmRelease | FluxKind::Kustomization)) {
        r.fail(&script);
        return r.outcome;
    }
    match kind {
        FluxKind::GitRepository | FluxKind::OciRepository | FluxKind::Bucket | FluxKind::HelmRepository => r.source(),
        FluxKind::HelmChart => r.helm_chart(),
        FluxKind::Kustomization => r.kustomization(),
        FluxKind::HelmRelease => helm::helm_release(&mut r),
        FluxKind::ImageRepository => r.image_repository(),
        FluxKind::ImagePolicy => r.image_policy(),
        FluxKind::ImageUpdateAutomation => r.image_update(),
        FluxKind::Receiver => r.receiver(),
        FluxKind::ArtifactGenerator => r.artifact_generator(),
        FluxKind::ExternalArtifact | FluxKind::Alert | FluxKind::Provider => {}
    }
    r.outcome
}

/// The state of one reconciliation in progress.
pub(crate) struct Run<'a> {
    pub(crate) kind: FluxKind,
    pub(crate) obj: &'a Value,
    pub(crate) world: &'a dyn World,
    pub(crate) now: String,
    pub(crate) generation: Value,
    pub(crate) outcome: Outcome,
}

impl<'a> Run<'a> {
    /// `status.observedGeneration` is left as it is: only success and stalls advance it.
    fn new(kind: FluxKind, obj: &'a Value, world: &'a dyn World) -> Self {
        let mut status = status_of(obj);
        if let Some(t) = token(obj) {
            status["lastHandledReconcileAt"] = json!(t);
        }
        Self {
            kind,
            obj,
            world,
            now: crate::object::rfc3339(world.now()),
            generation: obj["metadata"]["generation"].clone(),
            outcome: Outcome { status, ..Outcome::default() },
        }
    }

    pub(crate) fn name(&self) -> &str {
        crate::object::name(self.obj)
    }

    pub(crate) fn namespace(&self) -> &str {
        crate::object::namespace(self.obj)
    }

    pub(crate) fn cond(&self, type_: &str, status: &str, reason: &str, message: &str) -> Value {
        condition(type_, status, reason, message, &self.generation, &self.now)
    }

    pub(crate) fn event(&mut self, type_: EventType, reason: &str, message: &str, revision: Option<&str>) {
        let mut annotations = Map::new();
        if let Some(rev) = revision {
            annotations.insert(format!("{}/revision", self.kind.group()), json!(rev));
        }
        self.outcome.events.push(EventSpec {
            type_,
            reason: reason.to_owned(),
            message: message.to_owned(),
            annotations,
        });
    }

    /// Success or a stall: `status.observedGeneration` catches up with the generation (every
    /// kind but ArtifactGenerator, whose status has no such field).
    pub(crate) fn observe_generation(&mut self) {
        if self.kind != FluxKind::ArtifactGenerator {
            self.outcome.status["observedGeneration"] = self.generation.clone();
        }
    }

    /// Ready=True; Reconciling and Stalled removed; the generation observed; requeue at the
    /// interval.
    pub(crate) fn succeed(&mut self, reason: &str, message: &str, extra: Option<(&str, Value)>) {
        let ready = self.cond("Ready", "True", reason, message);
        let mut updates = vec![("Ready", Some(ready)), ("Reconciling", None), ("Stalled", None)];
        if let Some((type_, c)) = extra {
            updates.push((type_, Some(c)));
        }
        set_conditions(&mut self.outcome.status, updates);
        self.observe_generation();
        self.outcome.requeue_after = Some(interval(self.obj));
    }

    /// Ready=False with retry (Reconciling=True ProgressingWithRetry, keeping the progress
    /// message the controller last wrote, as kustomize-controller's `finalizeStatus` and
    /// source-controller's `ComputeReconcileResult` do), or Stalled (terminal, the generation
    /// observed). A failure leaves `status.observedGeneration` stale.
    pub(crate) fn fail_with(&mut self, stall: bool, reason: &str, message: &str) {
        let ready = self.cond("Ready", "False", reason, message);
        let updates = if stall {
            vec![
                ("Ready", Some(ready)),
                ("Reconciling", None),
                ("Stalled", Some(self.cond("Stalled", "True", reason, message))),
            ]
        } else {
            let progress = condition_of(&self.outcome.status, "Reconciling")
                .and_then(|c| c["message"].as_str())
                .unwrap_or(message)
                .to_owned();
            let retrying = self.cond("Reconciling", "True", "ProgressingWithRetry", &progress);
            vec![("Ready", Some(ready)), ("Reconciling", Some(retrying)), ("Stalled", None)]
        };
        set_conditions(&mut self.outcome.status, updates);
        if stall {
            self.observe_generation();
        }
        self.outcome.requeue_after = if stall { None } else { Some(retry_interval(self.obj)) };
        self.event(EventType::Warning, reason, message, None);
    }

    fn fail(&mut self, script: &Script) {
        let reason = script.reason.clone().unwrap_or_else(|| default_failure_reason(self.kind).to_owned());
        if matches!(
            self.kind,
            FluxKind::GitRepository | FluxKind::OciRepository | FluxKind::Bucket | FluxKind::HelmRepository
        ) && !script.stall
        {
            let fetch = self.cond("FetchFailed", "True", &reason, &script.message);
            set_conditions(&mut self.outcome.status, vec![("FetchFailed", Some(fetch))]);
        }
        self.fail_with(script.stall, &reason, &script.message);
    }

    /// Ready=False while waiting on something else, requeued after `after`; the generation is
    /// not observed. A Reconciling condition already there stays: helm-controller keeps its
    /// "Fulfilling prerequisites" (helmrelease_controller.go:236), the others turn it into
    /// ProgressingWithRetry.
    pub(crate) fn wait_for(&mut self, reason: &str, message: &str, after: Duration) {
        let ready = self.cond("Ready", "False", reason, message);
        let reconciling = condition_of(&self.outcome.status, "Reconciling").cloned().map(|mut c| {
            if self.kind != FluxKind::HelmRelease {
                c["reason"] = json!("ProgressingWithRetry");
            }
            c
        });
        set_conditions(
            &mut self.outcome.status,
            vec![("Ready", Some(ready)), ("Reconciling", reconciling), ("Stalled", None)],
        );
        self.outcome.requeue_after = Some(after);
    }

    /// [`Run::wait_for`] the controllers' dependency requeue (30 s).
    pub(crate) fn wait(&mut self, reason: &str, message: &str) {
        self.wait_for(reason, message, DEPENDENCY_REQUEUE);
    }

    /// The referenced object, if it is ready with an artifact: Err(message) otherwise.
    pub(crate) fn ready_source(
        &self,
        group: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, String> {
        let found = self
            .world
            .get(group, kind, namespace, name)
            .ok_or_else(|| format!("{kind} '{namespace}/{name}' not found"))?;
        if !is_ready(&found) || found["status"]["artifact"]["revision"].as_str().is_none() {
            return Err(format!("{kind} '{namespace}/{name}' is not ready"));
        }
        Ok(found)
    }

    /// Whether every dependsOn entry is ready; marks DependencyNotReady otherwise.
    pub(crate) fn dependencies_ready(&mut self) -> bool {
        match check_dependencies(self.kind, self.obj, self.world, None) {
            Ok(()) => true,
            Err(message) => {
                self.wait("DependencyNotReady", &message);
                false
            }
        }
    }

    /// Records `objects` as the inventory without applying them (what a failed Helm release's
    /// manifest lists: helm-controller reads the inventory from the release in storage).
    pub(crate) fn record_inventory(&mut self, objects: &[Value]) {
        self.outcome.status["inventory"] = json!({"entries": inventory_entries(objects)});
    }

    /// Applies `objects`, records them as the inventory and prunes what left it.
    pub(crate) fn apply_inventory(&mut self, objects: Vec<Value>) {
        let entries = inventory_entries(&objects);
        let prune = self.kind == FluxKind::HelmRelease || self.obj["spec"]["prune"] == true;
        for old in self.outcome.status["inventory"]["entries"].as_array().into_iter().flatten() {
            let (Some(id), Some(version)) = (old["id"].as_str(), old["v"].as_str()) else { continue };
            if !prune || entries.iter().any(|e| e["id"] == id) {
                continue;
            }
            if let Some((ns, name, group, kind)) = parse_inventory_id(id) {
                let api_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
                self.outcome.delete.push(ObjRef { api_version, kind, namespace: ns, name });
            }
        }
        self.outcome.status["inventory"] = json!({"entries": entries});
        self.outcome.apply.extend(objects);
    }
}

/// The Ready reason of a scripted failure without `sim.fluxboard.dev/fail-reason`: each
/// controller's usual one.
fn default_failure_reason(kind: FluxKind) -> &'static str {
    match kind {
        FluxKind::GitRepository => "GitOperationFailed",
        FluxKind::OciRepository => "OCIArtifactPullFailed",
        FluxKind::HelmRepository => "Failed",
        FluxKind::Bucket => "BucketOperationFailed",
        FluxKind::HelmChart => "ChartPullFailed",
        FluxKind::HelmRelease => "UpgradeFailed",
        _ => "ReconciliationFailed",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A world of objects in a map.
    #[derive(Default)]
    pub(crate) struct MapWorld {
        pub(crate) objects: HashMap<(String, String, String), Arc<Value>>,
        pub(crate) manifests: HashMap<String, Vec<Value>>,
        pub(crate) missing_repositories: Vec<String>,
    }

    impl MapWorld {
        pub(crate) fn put(&mut self, obj: Value) {
            let key = (
                crate::object::kind(&obj).to_owned(),
                crate::object::namespace(&obj).to_owned(),
                crate::object::name(&obj).to_owned(),
            );
            self.objects.insert(key, Arc::new(obj));
        }
    }

    impl World for MapWorld {
        fn get(&self, _group: &str, kind: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
            self.objects.get(&(kind.to_owned(), namespace.to_owned(), name.to_owned())).cloned()
        }
        fn manifests(&self, _source: &ObjRef, path: &str) -> Option<Vec<Value>> {
            self.manifests.get(path).cloned()
        }
        fn repository_missing(&self, url: &str) -> bool {
            self.missing_repositories.iter().any(|m| m == url)
        }
        fn now(&self) -> jiff::Timestamp {
            jiff::Timestamp::UNIX_EPOCH
        }
    }

    pub(crate) fn ready_condition(obj: &Value) -> (String, String, String) {
        let c = obj["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .cloned()
            .unwrap_or_default();
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
        (s("status"), s("reason"), s("message"))
    }

    pub(crate) fn git(upstream: &str) -> Value {
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "app", "namespace": "apps", "generation": 1, "annotations": {"sim.fluxboard.dev/upstream": upstream}},
               "spec": {"interval": "1m", "url": "https://github.com/acme/app", "ref": {"branch": "main"}}})
    }

    #[test]
    fn only_a_trigger_or_a_new_token_calls_for_work() {
        let mut obj = git("a");
        assert_eq!(decide(FluxKind::GitRepository, &obj, true), Decision::Reconcile, "created");
        obj["status"] = json!({"observedGeneration": -1});
        assert_eq!(decide(FluxKind::GitRepository, &obj, false), Decision::Nothing, "a stale generation is no trigger");
        obj["metadata"]["labels"] = json!({"x": "y"});
        obj["spec"]["force"] = json!(true);
        assert_eq!(
            decide(FluxKind::GitRepository, &obj, false),
            Decision::Nothing,
            "labels and spec.force are not requests"
        );
        obj["metadata"]["annotations"][REQUESTED_AT] = json!("t1");
        assert_eq!(decide(FluxKind::GitRepository, &obj, false), Decision::Reconcile);
        obj["status"]["lastHandledReconcileAt"] = json!("t1");
        assert_eq!(decide(FluxKind::GitRepository, &obj, false), Decision::Nothing);
        assert_eq!(decide(FluxKind::Alert, &json!({"metadata": {"generation": 1}}), true), Decision::Nothing, "static");
    }

    /// E3: a new token on a suspended object is recorded by every kind whose deferred status
    /// patch runs before the suspend check, not by ImageUpdateAutomation
    /// (source-controller gitrepository_controller.go:237/267, image-automation's Finalize).
    #[test]
    fn suspended_objects_record_tokens_except_image_update_automations() {
        let ks = json!({"metadata": {"generation": 2, "annotations": {REQUESTED_AT: "t"}}, "spec": {"suspend": true},
                        "status": {"observedGeneration": 1}});
        for kind in FluxKind::ALL.into_iter().filter(|k| !k.is_static(&ks) && *k != FluxKind::ArtifactGenerator) {
            let acks = kind != FluxKind::ImageUpdateAutomation;
            let expected = if acks { Decision::Suspended } else { Decision::Nothing };
            assert_eq!(decide(kind, &ks, false), expected, "{kind:?}");
            let status = suspended_status(kind, &ks);
            assert_eq!(status.as_ref().map(|s| s["lastHandledReconcileAt"] == "t"), acks.then_some(true), "{kind:?}");
        }
        let ag = json!({"metadata": {"generation": 1, "annotations": {REQUESTED_AT: "t", "source.extensions.fluxcd.io/reconcile": "Disabled"}}});
        assert_eq!(decide(FluxKind::ArtifactGenerator, &ag, false), Decision::Suspended);
        assert_eq!(suspended_status(FluxKind::ArtifactGenerator, &ag).unwrap(), json!({"lastHandledReconcileAt": "t"}));
        let mut handled = ks.clone();
        handled["status"]["lastHandledReconcileAt"] = json!("t");
        assert_eq!(decide(FluxKind::Kustomization, &handled, false), Decision::Nothing);
        // A generation change reaches a suspended object too: helm-controller's empty result
        // observes the generation (helmrelease_controller.go:153), kustomize-controller only
        // when Ready=True.
        assert_eq!(suspended_status(FluxKind::HelmRelease, &handled).unwrap()["observedGeneration"], 2);
        assert_eq!(suspended_status(FluxKind::Kustomization, &handled), None);
    }

    #[test]
    fn scripted_failures_retry_and_stalls_do_not() {
        let world = MapWorld::default();
        let mut obj = git("a");
        obj["metadata"]["annotations"]["sim.fluxboard.dev/fail"] = json!("authentication required");
        let failed = reconcile(FluxKind::GitRepository, &obj, &world);
        assert_eq!(
            ready_condition(&failed.status),
            ("False".into(), "GitOperationFailed".into(), "authentication required".into())
        );
        let reconciling =
            failed.status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Reconciling").unwrap();
        assert_eq!(reconciling["reason"], "ProgressingWithRetry");
        assert!(failed.requeue_after.is_some());
        obj["metadata"]["annotations"]["sim.fluxboard.dev/stall"] = json!("invalid");
        obj["metadata"]["annotations"]["sim.fluxboard.dev/fail-reason"] = json!("InvalidURL");
        let stalled = reconcile(FluxKind::GitRepository, &obj, &world);
        assert_eq!(ready_condition(&stalled.status).1, "InvalidURL");
        assert!(
            stalled.status["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Stalled" && c["status"] == "True")
        );
        assert_eq!(stalled.requeue_after, None);
        obj["metadata"]["annotations"]["sim.fluxboard.dev/fail-generation"] = json!("0");
        assert_eq!(
            ready_condition(&reconcile(FluxKind::GitRepository, &obj, &world).status).0,
            "True",
            "healed by a spec change"
        );
    }

    pub(crate) fn cond(status: &Value, type_: &str) -> Option<Value> {
        condition_of(status, type_).cloned()
    }

    /// E1: only success and stalls advance `status.observedGeneration`; failures and waits
    /// leave it stale while every condition carries the current generation
    /// (kustomize-controller `finalizeStatus`, source-controller `ComputeReconcileResult`,
    /// pkg runtime/conditions setter.go).
    #[test]
    fn failures_and_waits_leave_the_observed_generation_stale() {
        let world = MapWorld::default();
        let mut obj = git("a");
        obj["metadata"]["generation"] = json!(3);
        obj["status"] = json!({"observedGeneration": 2});
        obj["metadata"]["annotations"]["sim.fluxboard.dev/fail"] = json!("authentication required");
        let failed = reconcile(FluxKind::GitRepository, &obj, &world);
        assert_eq!(failed.status["observedGeneration"], 2);
        for c in failed.status["conditions"].as_array().unwrap() {
            assert_eq!(c["observedGeneration"], 3, "{c}");
        }
        assert_eq!(cond(&failed.status, "FetchFailed").unwrap()["status"], "True");
        obj["metadata"]["annotations"]["sim.fluxboard.dev/stall"] = json!("invalid URL");
        assert_eq!(reconcile(FluxKind::GitRepository, &obj, &world).status["observedGeneration"], 3, "a stall");

        let ks = json!({"kind": "Kustomization", "metadata": {"name": "app", "namespace": "apps", "generation": 1},
            "spec": {"interval": "10m", "path": "./", "sourceRef": {"kind": "GitRepository", "name": "app"}},
            "status": {"observedGeneration": -1}});
        let waiting = reconcile(FluxKind::Kustomization, &ks, &world);
        assert_eq!(
            ready_condition(&waiting.status),
            (
                "False".into(),
                "ArtifactFailed".into(),
                "GitRepository.source.toolkit.fluxcd.io \"app\" not found".into()
            )
        );
        assert_eq!(waiting.status["observedGeneration"], -1);
        assert_eq!(cond(&waiting.status, "Ready").unwrap()["observedGeneration"], 1);
    }

    /// E9: sources keep Ready=True through a no-op reconcile (pkg runtime/reconcile
    /// `ProgressiveStatus(false, …)`); a Kustomization marks Ready=Unknown once it works
    /// (kustomization_controller.go:325) and writes nothing first while it waits.
    #[test]
    fn sources_keep_ready_while_reconciling_and_kustomizations_do_not() {
        let mut world = MapWorld::default();
        let mut source = git("a");
        assert_eq!(
            cond(&begin(FluxKind::GitRepository, &source, &world).unwrap(), "Ready").unwrap()["status"],
            "Unknown"
        );
        source["status"] = reconcile(FluxKind::GitRepository, &source, &world).status;
        let again = begin(FluxKind::GitRepository, &source, &world).unwrap();
        assert_eq!(cond(&again, "Ready").unwrap()["status"], "True");
        assert_eq!(cond(&again, "Reconciling").unwrap()["message"], "reconciliation in progress");
        source["metadata"]["generation"] = json!(2);
        let changed = begin(FluxKind::GitRepository, &source, &world).unwrap();
        assert_eq!(cond(&changed, "Reconciling").unwrap()["message"], "processing object: new generation 1 -> 2");
        // A new upstream revision is drift: Ready=Unknown until stored (gitrepository_controller.go:640-652).
        let mut moved = source.clone();
        moved["metadata"]["annotations"]["sim.fluxboard.dev/upstream"] = json!("b");
        let building = begin(FluxKind::GitRepository, &moved, &world).unwrap();
        assert_eq!(cond(&building, "Ready").unwrap()["status"], "Unknown");
        assert!(
            cond(&building, "Ready").unwrap()["message"]
                .as_str()
                .unwrap()
                .starts_with("building artifact: new upstream revision 'main@sha1:")
        );
        assert_eq!(cond(&building, "ArtifactOutdated").unwrap()["reason"], "NewRevision");
        moved["status"] = building;
        assert_eq!(cond(&reconcile(FluxKind::GitRepository, &moved, &world).status, "ArtifactOutdated"), None);

        let ks = json!({"kind": "Kustomization", "metadata": {"name": "app", "namespace": "apps", "generation": 1},
            "spec": {"interval": "10m", "timeout": "2m", "path": "./", "sourceRef": {"kind": "GitRepository", "name": "app"}}});
        assert_eq!(begin(FluxKind::Kustomization, &ks, &world), None, "no source yet");
        source["metadata"]["generation"] = json!(1);
        world.put(source);
        let started = begin(FluxKind::Kustomization, &ks, &world).unwrap();
        assert_eq!(cond(&started, "Ready").unwrap()["status"], "Unknown");
        let progress = cond(&started, "Reconciling").unwrap()["message"].as_str().unwrap().to_owned();
        assert!(
            progress.starts_with("Fetching manifests for revision main@sha1:")
                && progress.ends_with("with a timeout of 2m0s")
        );
    }

    #[test]
    fn inventory_ids_round_trip() {
        assert_eq!(
            parse_inventory_id("apps_web_apps_Deployment"),
            Some(("apps".into(), "web".into(), "apps".into(), "Deployment".into()))
        );
        assert_eq!(
            parse_inventory_id("_team-a__Namespace"),
            Some(("".into(), "team-a".into(), "".into(), "Namespace".into()))
        );
        let id = inventory_id("", "system:flux:view", "rbac.authorization.k8s.io", "ClusterRole");
        assert_eq!(parse_inventory_id(&id).unwrap().1, "system:flux:view");
        assert_eq!(parse_inventory_id("garbage"), None);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("2h45m10s"), Some(Duration::from_secs(9910)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("10x"), None);
        assert_eq!(go_duration(Duration::from_secs(600)), "10m0s");
    }
}
