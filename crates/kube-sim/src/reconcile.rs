//! The emulated Flux controllers' reconcile logic, pure: from an object and a view of the
//! cluster to the status the real controller writes, the objects it applies and prunes, the
//! Events it records and when it runs again. The runtime around it is `controllers`.
//!
//! Conditions, reasons and messages follow the real controllers (shared/FLUX.md); failures are
//! scripted with `sim.fluxboard.dev/*` annotations (README).

use std::{sync::Arc, time::Duration};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

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
    fn now(&self) -> jiff::Timestamp;
}

/// Whether an object calls for work.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Nothing,
    /// Suspended, with a new request token: record it without reconciling.
    AckSuspended {
        token: String,
    },
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
        FluxKind::ArtifactGenerator => {
            obj["metadata"]["annotations"]["source.extensions.fluxcd.io/reconcile"] == "disabled"
        }
        _ => obj["spec"]["suspend"] == true,
    }
}

/// Whether a requeue may reconcile the object: not static, suspended or being deleted.
pub(crate) fn can_reconcile(kind: FluxKind, obj: &Value) -> bool {
    !kind.is_static(obj) && !suspended(kind, obj) && obj["metadata"].get("deletionTimestamp").is_none()
}

/// Reconcile on a generation change or a new request token; suspended objects never, but
/// Kustomization and HelmRelease still record a new token, as the real controllers do.
pub(crate) fn decide(kind: FluxKind, obj: &Value) -> Decision {
    if kind.is_static(obj) || obj["metadata"].get("deletionTimestamp").is_some() {
        return Decision::Nothing;
    }
    let new_token = token(obj).filter(|t| obj["status"]["lastHandledReconcileAt"].as_str() != Some(*t));
    if suspended(kind, obj) {
        return match (kind, new_token) {
            (FluxKind::Kustomization | FluxKind::HelmRelease, Some(t)) => {
                Decision::AckSuspended { token: t.to_owned() }
            }
            _ => Decision::Nothing,
        };
    }
    let stale = obj["status"]["observedGeneration"] != obj["metadata"]["generation"];
    if stale || new_token.is_some() { Decision::Reconcile } else { Decision::Nothing }
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, generation: &Value, now: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "observedGeneration": generation, "lastTransitionTime": now})
}

/// Sets conditions (None removes the type), keeping transition times when the status holds.
fn set_conditions(status: &mut Value, updates: Vec<(&str, Option<Value>)>) {
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

/// The status written when work starts: Reconciling=True, Ready=Unknown.
pub(crate) fn begin(_kind: FluxKind, obj: &Value, now: jiff::Timestamp) -> Value {
    let now = crate::object::rfc3339(now);
    let generation = &obj["metadata"]["generation"];
    let mut status = status_of(obj);
    let message = "Reconciliation in progress";
    set_conditions(
        &mut status,
        vec![
            ("Ready", Some(condition("Ready", "Unknown", "Progressing", message, generation, &now))),
            ("Reconciling", Some(condition("Reconciling", "True", "Progressing", message, generation, &now))),
        ],
    );
    status
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

fn retry_interval(obj: &Value) -> Duration {
    obj["spec"]["retryInterval"].as_str().and_then(parse_go_duration).unwrap_or_else(|| interval(obj))
}

/// Go's `Duration.String()` for whole seconds (`10m0s`, `1h0m0s`, `30s`).
fn go_duration(d: Duration) -> String {
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

/// Whether an object is ready for its dependents: Ready=True at its current generation.
fn is_ready(obj: &Value) -> bool {
    obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
        && obj["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// One reconciliation, as the real controller does it.
pub(crate) fn reconcile(kind: FluxKind, obj: &Value, world: &dyn World) -> Outcome {
    let mut r = Run::new(kind, obj, world);
    if let Some(script) = script(obj).filter(|_| kind != FluxKind::HelmRelease) {
        r.fail(&script);
        return r.outcome;
    }
    match kind {
        FluxKind::GitRepository | FluxKind::OciRepository | FluxKind::Bucket | FluxKind::HelmRepository => r.source(),
        FluxKind::HelmChart => r.helm_chart(),
        FluxKind::Kustomization => r.kustomization(),
        FluxKind::HelmRelease => crate::reconcile_helm::helm_release(&mut r),
        FluxKind::ImageRepository => r.image_repository(),
        FluxKind::ImagePolicy => r.image_policy(),
        FluxKind::ImageUpdateAutomation => r.image_update(),
        FluxKind::Receiver => r.receiver(),
        FluxKind::ArtifactGenerator => r.succeed("Succeeded", "reconciliation succeeded", None),
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
    fn new(kind: FluxKind, obj: &'a Value, world: &'a dyn World) -> Self {
        let mut status = status_of(obj);
        status["observedGeneration"] = obj["metadata"]["generation"].clone();
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

    /// Ready=True; Reconciling and Stalled removed; requeue at the interval.
    pub(crate) fn succeed(&mut self, reason: &str, message: &str, extra: Option<(&str, Value)>) {
        let ready = self.cond("Ready", "True", reason, message);
        let mut updates = vec![("Ready", Some(ready)), ("Reconciling", None), ("Stalled", None)];
        if let Some((type_, c)) = extra {
            updates.push((type_, Some(c)));
        }
        set_conditions(&mut self.outcome.status, updates);
        self.outcome.requeue_after = Some(interval(self.obj));
    }

    /// Ready=False with retry (Reconciling=True ProgressingWithRetry), or Stalled (terminal).
    pub(crate) fn fail_with(&mut self, stall: bool, reason: &str, message: &str) {
        let ready = self.cond("Ready", "False", reason, message);
        let updates = if stall {
            vec![
                ("Ready", Some(ready)),
                ("Reconciling", None),
                ("Stalled", Some(self.cond("Stalled", "True", reason, message))),
            ]
        } else {
            let retrying = self.cond("Reconciling", "True", "ProgressingWithRetry", message);
            vec![("Ready", Some(ready)), ("Reconciling", Some(retrying)), ("Stalled", None)]
        };
        set_conditions(&mut self.outcome.status, updates);
        self.outcome.requeue_after = if stall { None } else { Some(retry_interval(self.obj)) };
        self.event(EventType::Warning, reason, message, None);
    }

    fn fail(&mut self, script: &Script) {
        let reason = script.reason.clone().unwrap_or_else(|| default_failure_reason(self.kind).to_owned());
        self.fail_with(script.stall, &reason, &script.message);
    }

    /// Ready=False while waiting on something else; no retry condition, requeue in 30s.
    pub(crate) fn wait(&mut self, reason: &str, message: &str) {
        let ready = self.cond("Ready", "False", reason, message);
        set_conditions(
            &mut self.outcome.status,
            vec![("Ready", Some(ready)), ("Reconciling", None), ("Stalled", None)],
        );
        self.outcome.requeue_after = Some(DEPENDENCY_REQUEUE);
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

    fn source(&mut self) {
        let spec = &self.obj["spec"];
        let upstream = self.obj["metadata"]["annotations"]["sim.fluxboard.dev/upstream"].as_str().unwrap_or_default();
        let seed = format!("{}|{}|{}|{upstream}", spec["url"], spec["ref"], spec["bucketName"]);
        let digest = hex_digest(&seed);
        let revision = match self.kind {
            FluxKind::GitRepository => git_revision(&spec["ref"], &digest[..40]),
            FluxKind::OciRepository => {
                let tag =
                    spec["ref"]["tag"].as_str().or(spec["ref"]["semver"].as_str().map(|_| "6.5.4")).unwrap_or("latest");
                format!("{tag}@sha256:{digest}")
            }
            _ => format!("sha256:{digest}"),
        };
        let message = match self.kind {
            FluxKind::GitRepository | FluxKind::OciRepository => format!("stored artifact for revision '{revision}'"),
            _ => format!("stored artifact: revision '{revision}'"),
        };
        self.store_artifact(&revision, &message);
    }

    fn store_artifact(&mut self, revision: &str, message: &str) {
        let previous = self.outcome.status["artifact"]["revision"].as_str().map(str::to_owned);
        let (kind, namespace, name) =
            (self.kind.kind().to_lowercase(), self.namespace().to_owned(), self.name().to_owned());
        let digest = hex_digest(revision);
        let path = format!("{kind}/{namespace}/{name}/{}.tar.gz", &digest[..12]);
        self.outcome.status["artifact"] = json!({
            "digest": format!("sha256:{digest}"),
            "lastUpdateTime": self.now,
            "path": path,
            "revision": revision,
            "size": 20_000 + u64::from_str_radix(&digest[..4], 16).unwrap_or(0),
            "url": format!("http://source-controller.flux-system.svc.cluster.local./{path}"),
        });
        self.outcome.status["url"] = json!(format!(
            "http://source-controller.flux-system.svc.cluster.local./{kind}/{namespace}/{name}/latest.tar.gz"
        ));
        let in_storage = self.cond("ArtifactInStorage", "True", "Succeeded", message);
        self.succeed("Succeeded", message, Some(("ArtifactInStorage", in_storage)));
        if previous.as_deref() != Some(revision) {
            self.event(EventType::Normal, "NewArtifact", message, Some(revision));
        }
    }

    fn helm_chart(&mut self) {
        let source_ref = &self.obj["spec"]["sourceRef"];
        let kind = source_ref["kind"].as_str().unwrap_or("HelmRepository");
        let name = source_ref["name"].as_str().unwrap_or_default();
        if let Err(message) = self.ready_source(SOURCE, kind, self.namespace(), name) {
            self.wait("ChartPullFailed", &message);
            return;
        }
        let chart = self.obj["spec"]["chart"].as_str().unwrap_or("chart").to_owned();
        let version = chart_version(self.obj["spec"]["version"].as_str().unwrap_or("*"), &chart);
        self.outcome.status["observedChartName"] = json!(chart);
        let message = format!("pulled '{chart}' chart with version '{version}'");
        self.store_artifact(&version, &message);
    }

    fn kustomization(&mut self) {
        let Some(revision) = self.kustomization_source() else { return };
        if !self.dependencies_ready() {
            return;
        }
        self.outcome.status["lastAttemptedRevision"] = json!(revision);
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
            self.fail_with(false, "BuildFailed", &message);
            return;
        };
        let objects: Vec<Value> = manifests.into_iter().map(|m| self.label_for_kustomization(m)).collect();
        self.apply_inventory(objects);
        let entries = self.outcome.status["inventory"]["entries"].clone();
        crate::reconcile_helm::record_history(
            &mut self.outcome.status,
            &revision,
            entries,
            "ReconciliationSucceeded",
            &self.now,
        );
        self.outcome.status["lastAppliedRevision"] = json!(revision);
        let message = format!("Applied revision: {revision}");
        let healthy = (self.obj["spec"]["wait"] == true || self.obj["spec"]["healthChecks"].is_array())
            .then(|| ("Healthy", self.cond("Healthy", "True", "Succeeded", "Health check passed in 0s")));
        self.succeed("ReconciliationSucceeded", &message, healthy);
        let finished = format!("Reconciliation finished in 1s, next run in {}", go_duration(interval(self.obj)));
        self.event(EventType::Normal, "ReconciliationSucceeded", &finished, Some(&revision));
    }

    /// The source's artifact revision, or None after marking the wait.
    fn kustomization_source(&mut self) -> Option<String> {
        let source_ref = &self.obj["spec"]["sourceRef"];
        let kind = source_ref["kind"].as_str().unwrap_or("GitRepository");
        let namespace = ref_namespace(source_ref, self.obj).to_owned();
        let name = source_ref["name"].as_str().unwrap_or_default();
        let Some(source) = self.world.get(SOURCE, kind, &namespace, name) else {
            self.wait("ArtifactFailed", &format!("Source '{kind}/{namespace}/{name}' not found"));
            return None;
        };
        match source["status"]["artifact"]["revision"].as_str() {
            Some(revision) => Some(revision.to_owned()),
            None => {
                self.wait("ArtifactFailed", "Source artifact not found, retrying in 30s");
                None
            }
        }
    }

    /// Whether every dependsOn entry is ready; marks DependencyNotReady otherwise.
    pub(crate) fn dependencies_ready(&mut self) -> bool {
        for dep in self.obj["spec"]["dependsOn"].as_array().cloned().unwrap_or_default() {
            let namespace = ref_namespace(&dep, self.obj).to_owned();
            let name = dep["name"].as_str().unwrap_or_default();
            let ready =
                self.world.get(self.kind.group(), self.kind.kind(), &namespace, name).is_some_and(|d| is_ready(&d));
            if !ready {
                self.wait("DependencyNotReady", &format!("dependency '{namespace}/{name}' is not ready"));
                return false;
            }
        }
        true
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

    /// Applies `objects`, records them as the inventory and prunes what left it.
    pub(crate) fn apply_inventory(&mut self, objects: Vec<Value>) {
        let mut entries: Vec<Value> = objects
            .iter()
            .map(|o| {
                let (group, version) = crate::resources::split_api_version(o["apiVersion"].as_str().unwrap_or_default());
                json!({"id": inventory_id(crate::object::namespace(o), crate::object::name(o), group, crate::object::kind(o)), "v": version})
            })
            .collect();
        entries.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
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

    fn image_repository(&mut self) {
        let image = self.obj["spec"]["image"].as_str().unwrap_or_default().to_owned();
        let canonical = canonical_image(&image);
        let upstream = self.obj["metadata"]["annotations"]["sim.fluxboard.dev/upstream"].as_str().unwrap_or_default();
        let newest = 4 + u64::from_str_radix(&hex_digest(&format!("{image}{upstream}"))[..1], 16).unwrap_or(0) % 4;
        let tags: Vec<String> = (0..=newest).rev().map(|p| format!("6.5.{p}")).collect();
        self.outcome.status["canonicalImageName"] = json!(canonical);
        self.outcome.status["lastScanResult"] =
            json!({"tagCount": tags.len(), "scanTime": self.now, "latestTags": tags});
        self.outcome.status.as_object_mut().map(|s| s.remove("observedExclusionList"));
        self.succeed("Succeeded", &format!("successful scan: found {} tags", tags.len()), None);
    }

    fn image_policy(&mut self) {
        let reference = &self.obj["spec"]["imageRepositoryRef"];
        let namespace = ref_namespace(reference, self.obj).to_owned();
        let name = reference["name"].as_str().unwrap_or_default();
        let repository = self.world.get("image.toolkit.fluxcd.io", "ImageRepository", &namespace, name);
        let Some(repository) = repository.filter(|r| is_ready(r)) else {
            self.wait("DependencyNotReady", &format!("referenced ImageRepository '{namespace}/{name}' is not ready"));
            return;
        };
        let image = repository["status"]["canonicalImageName"].as_str().unwrap_or_default().to_owned();
        let Some(tag) = repository["status"]["lastScanResult"]["latestTags"][0].as_str().map(str::to_owned) else {
            self.fail_with(false, "ReconciliationFailed", "no image tags found");
            return;
        };
        let previous = self.outcome.status["latestRef"].clone();
        if previous.is_object() && previous["tag"] != tag.as_str() {
            self.outcome.status["observedPreviousRef"] = previous;
        }
        self.outcome.status["latestRef"] = json!({"name": image, "tag": tag});
        self.succeed("Succeeded", &format!("Latest image tag for {image} resolved to {tag}"), None);
    }

    fn image_update(&mut self) {
        let source_ref = &self.obj["spec"]["sourceRef"];
        let namespace = ref_namespace(source_ref, self.obj).to_owned();
        let name = source_ref["name"].as_str().unwrap_or_default();
        let source = match self.ready_source(SOURCE, "GitRepository", &namespace, name) {
            Ok(source) => source,
            Err(message) => {
                self.wait("DependencyNotReady", &message);
                return;
            }
        };
        self.outcome.status["lastAutomationRunTime"] = json!(self.now);
        self.outcome.status["observedSourceRevision"] = source["status"]["artifact"]["revision"].clone();
        self.succeed("Succeeded", "repository up-to-date", None);
    }

    fn receiver(&mut self) {
        let secret = self.obj["spec"]["secretRef"]["name"].as_str().unwrap_or_default();
        let path = format!("/hook/{}", hex_digest(&format!("{secret}{}{}", self.name(), self.namespace())));
        self.outcome.status["webhookPath"] = json!(path);
        self.succeed("Succeeded", &format!("Receiver initialized for path: {path}"), None);
    }
}

const CLUSTER_SCOPED: [&str; 5] =
    ["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"];

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

fn git_revision(reference: &Value, sha: &str) -> String {
    if let Some(commit) = reference["commit"].as_str() {
        return format!("sha1:{commit}");
    }
    let name = reference["tag"]
        .as_str()
        .or(reference["semver"].as_str().map(|_| "v1.0.0"))
        .or(reference["name"].as_str())
        .or(reference["branch"].as_str())
        .unwrap_or("master");
    format!("{name}@sha1:{sha}")
}

/// An exact version as asked; a range resolves to a plausible release.
fn chart_version(wanted: &str, chart: &str) -> String {
    let exact = wanted.trim_start_matches('v');
    if !exact.is_empty()
        && exact.split('.').count() == 3
        && exact.split('.').all(|p| p.chars().all(|c| c.is_ascii_digit()))
    {
        return wanted.to_owned();
    }
    let n = u64::from_str_radix(&hex_digest(chart)[..2], 16).unwrap_or(0);
    format!("{}.{}.{}", 1 + n % 9, n % 20, n % 7)
}

fn canonical_image(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    if first.contains('.') || first.contains(':') || first == "localhost" {
        image.to_owned()
    } else if image.contains('/') {
        format!("index.docker.io/{image}")
    } else {
        format!("index.docker.io/library/{image}")
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

    fn git(upstream: &str) -> Value {
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "app", "namespace": "apps", "generation": 1, "annotations": {"sim.fluxboard.dev/upstream": upstream}},
               "spec": {"interval": "1m", "url": "https://github.com/acme/app", "ref": {"branch": "main"}}})
    }

    #[test]
    fn only_a_generation_change_or_a_new_token_calls_for_work() {
        let mut obj = git("a");
        assert_eq!(decide(FluxKind::GitRepository, &obj), Decision::Reconcile, "never observed");
        obj["status"] = json!({"observedGeneration": 1});
        assert_eq!(decide(FluxKind::GitRepository, &obj), Decision::Nothing);
        obj["metadata"]["labels"] = json!({"x": "y"});
        obj["spec"]["force"] = json!(true);
        assert_eq!(decide(FluxKind::GitRepository, &obj), Decision::Nothing, "labels and spec.force are not requests");
        obj["metadata"]["annotations"][REQUESTED_AT] = json!("t1");
        assert_eq!(decide(FluxKind::GitRepository, &obj), Decision::Reconcile);
        obj["status"]["lastHandledReconcileAt"] = json!("t1");
        assert_eq!(decide(FluxKind::GitRepository, &obj), Decision::Nothing);
    }

    #[test]
    fn suspended_objects_record_tokens_only_for_appliers() {
        let mut ks = json!({"metadata": {"generation": 2, "annotations": {REQUESTED_AT: "t"}}, "spec": {"suspend": true}, "status": {"observedGeneration": 1}});
        assert_eq!(decide(FluxKind::Kustomization, &ks), Decision::AckSuspended { token: "t".into() });
        assert_eq!(decide(FluxKind::GitRepository, &ks), Decision::Nothing);
        ks["status"]["lastHandledReconcileAt"] = json!("t");
        assert_eq!(decide(FluxKind::Kustomization, &ks), Decision::Nothing);
        assert_eq!(decide(FluxKind::Alert, &json!({"metadata": {"generation": 1}})), Decision::Nothing, "static");
    }

    #[test]
    fn a_git_repository_stores_an_artifact_and_a_new_upstream_is_a_new_revision() {
        let world = MapWorld::default();
        let mut obj = git("a");
        obj["metadata"]["annotations"][REQUESTED_AT] = json!("t");
        let first = reconcile(FluxKind::GitRepository, &obj, &world);
        let revision = first.status["artifact"]["revision"].as_str().unwrap().to_owned();
        assert!(revision.starts_with("main@sha1:") && revision.len() == "main@sha1:".len() + 40, "{revision}");
        assert_eq!(
            ready_condition(&first.status),
            ("True".into(), "Succeeded".into(), format!("stored artifact for revision '{revision}'"))
        );
        assert_eq!(first.status["lastHandledReconcileAt"], "t");
        assert_eq!(first.status["observedGeneration"], 1);
        assert_eq!(first.events[0].reason, "NewArtifact");
        assert_eq!(first.requeue_after, Some(Duration::from_secs(60)));
        obj["status"] = first.status.clone();
        let again = reconcile(FluxKind::GitRepository, &obj, &world);
        assert!(again.events.is_empty(), "no new artifact, no event");
        obj["metadata"]["annotations"]["sim.fluxboard.dev/upstream"] = json!("b");
        assert_ne!(reconcile(FluxKind::GitRepository, &obj, &world).status["artifact"]["revision"], revision.as_str());
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
            "status": {"inventory": {"entries": [{"id": "apps_old__ConfigMap", "v": "v1"}]}}});
        let out = reconcile(FluxKind::Kustomization, &ks, &world);
        let (status, reason, message) = ready_condition(&out.status);
        assert_eq!((status.as_str(), reason.as_str()), ("True", "ReconciliationSucceeded"));
        assert!(message.starts_with("Applied revision: main@sha1:"));
        assert_eq!(out.status["inventory"]["entries"], json!([{"id": "apps_web_apps_Deployment", "v": "v1"}]));
        assert_eq!(out.apply[0]["metadata"]["namespace"], "apps");
        assert_eq!(out.apply[0]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "app");
        assert_eq!(out.delete, vec![obj_ref("v1", "ConfigMap", "apps", "old")]);
        assert_eq!(out.status["history"][0]["totalReconciliations"], 1);
        ks["spec"]["path"] = json!("./missing");
        assert_eq!(ready_condition(&reconcile(FluxKind::Kustomization, &ks, &world).status).1, "BuildFailed");
        ks["spec"]["dependsOn"] = json!([{"name": "infra"}]);
        let waiting = reconcile(FluxKind::Kustomization, &ks, &world);
        assert_eq!(
            ready_condition(&waiting.status),
            ("False".into(), "DependencyNotReady".into(), "dependency 'apps/infra' is not ready".into())
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
