//! helm-controller's reconciliation of a HelmRelease: chart resolution, install and upgrade
//! with release history, force and reset requests, failure counters and remediation retries.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{EventType, ObjRef, Run};

const SOURCE: &str = "source.toolkit.fluxcd.io";

/// Records a reconciliation in `status.history` (newest first, at most five records).
pub(crate) fn record_history(status: &mut Value, revision: &str, inventory: Value, result: &str, now: &str) {
    let digest = format!("sha256:{}", digest(&format!("{revision}{inventory}")));
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

/// The chart to release.
struct Chart {
    name: String,
    /// The chart version as helm-controller records it: for an OCIRepository or
    /// ExternalArtifact chartRef, `<version>+<digest[:12]>` (`mutateChartWithSourceRevision`,
    /// helmrelease_controller.go:907).
    version: String,
    /// `status.lastAttemptedRevisionDigest`: the OCI digest, when the version carries one.
    digest: Option<String>,
}

fn is_semver(s: &str) -> bool {
    let core = s.trim_start_matches('v').split(['+', '-']).next().unwrap_or_default();
    core.split('.').count() == 3 && core.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Marks the source wait or failure of helm-controller's `reconcileRelease`
/// (helmrelease_controller.go:275-305): a source that cannot be read is ArtifactFailed
/// "could not get Source object: …", one that is not ready SourceNotReady with `isReady`'s
/// message. Both keep Reconciling=True "Fulfilling prerequisites" and leave the generation
/// unobserved.
fn chart_source(r: &mut Run<'_>, kind: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
    let Some(found) = r.world.get(SOURCE, kind, namespace, name) else {
        let message = format!("could not get Source object: {}", super::not_found(SOURCE, kind, name));
        r.wait("ArtifactFailed", &message);
        return None;
    };
    if let Err(message) = super::chart_source_ready(&found) {
        r.wait("SourceNotReady", &message);
        return None;
    }
    Some(found)
}

/// The chart to release, or None after marking the wait.
fn resolve_chart(r: &mut Run<'_>) -> Option<Chart> {
    let spec = &r.obj["spec"];
    if let Some(chart_ref) = spec["chartRef"].as_object() {
        let kind = chart_ref.get("kind").and_then(Value::as_str).unwrap_or("OCIRepository").to_owned();
        let namespace = chart_ref.get("namespace").and_then(Value::as_str).unwrap_or(r.namespace()).to_owned();
        let name = chart_ref.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        r.outcome.status["helmChart"] = json!(format!("{namespace}/{name}"));
        let source = chart_source(r, &kind, &namespace, &name)?;
        let revision = source["status"]["artifact"]["revision"].as_str().unwrap_or_default().to_owned();
        let chart = source["spec"]["url"].as_str().and_then(|u| u.rsplit('/').next()).unwrap_or(&name).to_owned();
        if kind == "HelmChart" {
            return Some(Chart { name: chart, version: revision, digest: None });
        }
        // OCIRepository and ExternalArtifact revisions carry a digest: `<tag>@sha256:<hex>`.
        let (tag, digest) = revision.split_once('@').unwrap_or(("", &revision));
        let version = if is_semver(tag) { tag.trim_start_matches('v').to_owned() } else { "0.1.0".to_owned() };
        let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
        let version = if hex.len() >= 12 { format!("{version}+{}", &hex[..12]) } else { version };
        return Some(Chart { name: chart, version, digest: Some(digest.to_owned()) });
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
    // helm-controller creates or updates the HelmChart before reading it back: a new one, or
    // one whose spec differs from the template, has a generation not yet reconciled.
    let stale = r.world.get(SOURCE, "HelmChart", &chart_ns, &chart_name).is_none_or(|c| {
        c["spec"]["chart"] != template["chart"]
            || c["spec"]["version"] != *chart_spec.get("version").unwrap_or(&Value::Null)
    });
    if stale {
        let message = format!(
            "HelmChart '{chart_ns}/{chart_name}' is not ready: latest generation of object has not been reconciled"
        );
        r.wait("SourceNotReady", &message);
        return None;
    }
    let chart = chart_source(r, "HelmChart", &chart_ns, &chart_name)?;
    Some(Chart {
        name: template["chart"].as_str().unwrap_or_default().to_owned(),
        version: chart["status"]["artifact"]["revision"].as_str().unwrap_or_default().to_owned(),
        digest: None,
    })
}

/// One of the two release actions and its remediation settings
/// (api/v2 helmrelease_types.go InstallRemediation/UpgradeRemediation).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Install,
    Upgrade,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Upgrade => "upgrade",
        }
    }

    fn counter(self) -> &'static str {
        match self {
            Self::Install => "installFailures",
            Self::Upgrade => "upgradeFailures",
        }
    }

    /// `spec.<action>.remediation.retries`; none under a `sim.fluxboard.dev/stall` script.
    fn retries(self, obj: &Value) -> i64 {
        if stall_scripted(obj) {
            return 0;
        }
        obj["spec"][self.name()]["remediation"]["retries"].as_i64().unwrap_or(0)
    }

    fn failures(self, status: &Value) -> i64 {
        status[self.counter()].as_i64().unwrap_or(0)
    }

    /// `RetriesExhausted`: retries >= 0 and failures > retries.
    fn exhausted(self, obj: &Value, status: &Value) -> bool {
        let retries = self.retries(obj);
        retries >= 0 && self.failures(status) > retries
    }

    /// `MustRemediateLastFailure`: install never by default, upgrade when it has retries.
    fn remediate_last_failure(self, obj: &Value) -> bool {
        match obj["spec"][self.name()]["remediation"]["remediateLastFailure"].as_bool() {
            Some(set) => set,
            None => self == Self::Upgrade && self.retries(obj) > 0,
        }
    }

    /// Install remediates by uninstalling; upgrade by rolling back unless told to uninstall.
    fn uninstalls(self, obj: &Value) -> bool {
        self == Self::Install || obj["spec"]["upgrade"]["remediation"]["strategy"] == "uninstall"
    }

    fn from_status(status: &Value) -> Self {
        if status["lastAttemptedReleaseAction"] == "install" { Self::Install } else { Self::Upgrade }
    }
}

const FAILURE_COUNTERS: [&str; 3] = ["failures", "installFailures", "upgradeFailures"];

fn clear_failures(status: &mut Value) {
    if let Some(s) = status.as_object_mut() {
        for counter in FAILURE_COUNTERS {
            s.remove(counter);
        }
    }
}

/// Whether the `sim.fluxboard.dev/fail*` scripts apply at this generation.
fn script_applies(obj: &Value) -> bool {
    obj["metadata"]["annotations"]["sim.fluxboard.dev/fail-generation"]
        .as_str()
        .is_none_or(|g| Some(g) == obj["metadata"]["generation"].as_i64().map(|n| n.to_string()).as_deref())
}

fn stall_scripted(obj: &Value) -> bool {
    script_applies(obj) && obj["metadata"]["annotations"]["sim.fluxboard.dev/stall"].is_string()
}

/// The scripted failure of every install and upgrade attempt (a stall script also takes the
/// retries away).
fn scripted_failure(r: &Run<'_>) -> Option<String> {
    let annotations = &r.obj["metadata"]["annotations"];
    if !script_applies(r.obj) {
        return None;
    }
    annotations["sim.fluxboard.dev/stall"]
        .as_str()
        .or(annotations["sim.fluxboard.dev/fail"].as_str())
        .map(str::to_owned)
}

/// Sets conditions on the outcome, keeping the others.
fn set(r: &mut Run<'_>, updates: Vec<(&str, Option<Value>)>) {
    super::set_conditions(&mut r.outcome.status, updates);
}

fn condition<'v>(status: &'v Value, type_: &str) -> Option<&'v Value> {
    status["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

/// helm-controller's `summarize` (internal/reconcile/release.go): Ready mirrors the first of
/// Remediated and Released; a remediation is a failure.
fn summarize(r: &mut Run<'_>) {
    let status = &r.outcome.status;
    let Some(source) = condition(status, "Remediated").or_else(|| condition(status, "Released")).cloned() else {
        return;
    };
    let ready = if source["type"] == "Remediated" { "False" } else { source["status"].as_str().unwrap_or("Unknown") };
    let c = r.cond(
        "Ready",
        ready,
        source["reason"].as_str().unwrap_or_default(),
        source["message"].as_str().unwrap_or_default(),
    );
    let mut updates = vec![("Ready", Some(c))];
    if ready == "True" {
        updates.push(("Stalled", None));
    }
    set(r, updates);
}

/// Out of retries (`ErrExceededMaxRetries`, atomic_release.go:204): Stalled=True
/// RetriesExceeded, Reconciling removed, Ready left as the last action summarized it; a
/// terminal error, so the generation is observed and nothing is requeued.
fn stall_out_of_retries(r: &mut Run<'_>, action: Action) {
    let message = format!("Failed to {} after {} attempt(s)", action.name(), action.failures(&r.outcome.status).max(1));
    let stalled = r.cond("Stalled", "True", "RetriesExceeded", &message);
    set(r, vec![("Stalled", Some(stalled)), ("Reconciling", None)]);
    r.observe_generation();
    r.outcome.requeue_after = None;
}

/// One HelmRelease reconciliation: helm-controller's `reconcileRelease` and `AtomicRelease`
/// (helmrelease_controller.go, internal/reconcile/atomic_release.go), one action loop per run.
pub(crate) fn helm_release(r: &mut Run<'_>) {
    release_steps(r);
    storage(r);
}

/// Helm's storage: one Secret `sh.helm.release.v1.<release>.v<version>` per release in the
/// history (type `helm.sh/release.v1`, labelled with its status; `release` holds the release
/// as base64 JSON, which Helm also reads, gzip being optional). `flux tree` reads the latest
/// one's manifest to list what a HelmRelease manages. An uninstalled release loses its Secret.
fn storage(r: &mut Run<'_>) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let history = r.outcome.status["history"].as_array().cloned().unwrap_or_default();
    let namespace = r.outcome.status["storageNamespace"].as_str().unwrap_or(r.namespace()).to_owned();
    let secret_name =
        |h: &Value| format!("sh.helm.release.v1.{}.v{}", h["name"].as_str().unwrap_or_default(), h["version"]);
    // Helm's storage keeps a release until it is uninstalled or more than `maxHistory` newer
    // ones exist, whether or not `status.history` still lists it (helm-controller truncates that).
    let mut gone: Vec<String> = history.iter().filter(|h| h["status"] == "uninstalled").map(secret_name).collect();
    if let Some(latest) = history.first() {
        let release = latest["name"].as_str().unwrap_or_default();
        let newest = latest["version"].as_u64().unwrap_or(0);
        let mut version = newest.saturating_sub(max_history(r.obj) as u64);
        while version > 0 {
            let name = format!("sh.helm.release.v1.{release}.v{version}");
            if r.world.get("", "Secret", &namespace, &name).is_none() {
                break; // the older ones went before
            }
            gone.push(name);
            version -= 1;
        }
    }
    for name in gone {
        if r.world.get("", "Secret", &namespace, &name).is_some() {
            r.outcome.delete.push(ObjRef {
                api_version: "v1".into(),
                kind: "Secret".into(),
                namespace: namespace.clone(),
                name,
            });
        }
    }
    for h in history.iter().filter(|h| h["status"] != "uninstalled") {
        let name = secret_name(h);
        let state = h["status"].as_str().unwrap_or_default();
        let current = r.world.get("", "Secret", &namespace, &name);
        if current.is_some_and(|c| c["metadata"]["labels"]["status"] == state) {
            continue;
        }
        let release = h["name"].as_str().unwrap_or_default();
        let chart = h["chartName"].as_str().unwrap_or_default();
        let version = h["chartVersion"].as_str().unwrap_or_default();
        // Helm's install order: the Service before the Deployment.
        let mut objects =
            release_objects(r.obj, release, h["namespace"].as_str().unwrap_or(&namespace), chart, version);
        objects.reverse();
        let manifest: String = objects
            .iter()
            .map(|o| {
                let file = if crate::object::kind(o) == "Service" { "service" } else { "deployment" };
                format!(
                    "---\n# Source: {chart}/templates/{file}.yaml\n{}",
                    serde_yaml::to_string(o).unwrap_or_default()
                )
            })
            .collect();
        let stored = json!({
            "name": release, "namespace": h["namespace"], "version": h["version"],
            "info": {"first_deployed": h["firstDeployed"], "last_deployed": h["lastDeployed"], "status": state,
                     "description": if state == "failed" { "Release failed" } else { "Install complete" }},
            "chart": {"metadata": {"name": chart, "version": version, "appVersion": h["appVersion"]}},
            "manifest": manifest,
        });
        let encoded = b64.encode(b64.encode(stored.to_string()));
        r.outcome.apply.push(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"name": release, "owner": "helm", "status": state, "version": h["version"].to_string()}},
            "data": {"release": encoded},
        }));
    }
}

fn release_steps(r: &mut Run<'_>) {
    // pkg apis/meta `HandleAnnotationRequest`: honoured only with the same token as a new
    // requestedAt, and recorded as handled whenever present.
    let annotations = &r.obj["metadata"]["annotations"];
    let token = annotations["reconcile.fluxcd.io/requestedAt"].as_str();
    let new_token = token.is_some() && r.obj["status"]["lastHandledReconcileAt"].as_str() != token;
    let requested = |key: &str, handled: &str| {
        let value = annotations[key].as_str()?;
        let honoured = new_token && Some(value) == token && r.obj["status"][handled].as_str() != Some(value);
        Some((value.to_owned(), honoured))
    };
    let force_at = requested("reconcile.fluxcd.io/forceAt", "lastHandledForceAt");
    let reset_at = requested("reconcile.fluxcd.io/resetAt", "lastHandledResetAt");
    let force = force_at.as_ref().filter(|(_, honoured)| *honoured).map(|(v, _)| v.clone());
    let reset = reset_at.as_ref().filter(|(_, honoured)| *honoured).map(|(v, _)| v.clone());
    if !r.dependencies_ready() {
        return;
    }
    let Some(chart) = resolve_chart(r) else { return };
    let release = release_name(r.obj);
    let namespace = r.obj["spec"]["targetNamespace"].as_str().unwrap_or(r.namespace()).to_owned();
    let values_digest = format!("sha256:{}", digest(&r.obj["spec"]["values"].to_string()));
    // `MustResetFailures` (internal/action/reset.go): a new generation, chart version or
    // values, or a reset request clear the failure counters.
    let status = &r.outcome.status;
    let must_reset = reset.is_some()
        || status["lastAttemptedGeneration"] != r.generation
        || status["lastAttemptedRevision"] != chart.version.as_str()
        || status["lastAttemptedConfigDigest"].as_str().is_some_and(|d| d != values_digest);
    if must_reset {
        clear_failures(&mut r.outcome.status);
    }
    if let Some((value, _)) = &reset_at {
        r.outcome.status["lastHandledResetAt"] = json!(value);
    }
    if let Some((value, _)) = &force_at {
        r.outcome.status["lastHandledForceAt"] = json!(value);
    }
    let st = &mut r.outcome.status;
    st["lastAttemptedGeneration"] = r.generation.clone();
    st["lastAttemptedRevision"] = json!(chart.version);
    st["lastAttemptedConfigDigest"] = json!(values_digest);
    st["storageNamespace"] = json!(namespace);
    if let Some(s) = st.as_object_mut() {
        s.remove("lastAttemptedValuesChecksum");
        match &chart.digest {
            Some(d) => s.insert("lastAttemptedRevisionDigest".into(), json!(d)),
            None => s.remove("lastAttemptedRevisionDigest"),
        };
    }
    let history = r.outcome.status["history"].as_array().cloned().unwrap_or_default();
    let latest = history.first().cloned();
    let latest_status = latest.as_ref().and_then(|l| l["status"].as_str()).unwrap_or("uninstalled");
    let in_sync = latest_status == "deployed"
        && latest
            .as_ref()
            .is_some_and(|l| l["chartVersion"] == chart.version.as_str() && l["configDigest"] == values_digest);
    let status = r.outcome.status.clone();
    // `actionForState` (atomic_release.go:265-548).
    let action = match latest_status {
        "deployed" if in_sync && force.is_none() => {
            in_sync_release(r, &release, &namespace, &chart);
            return;
        }
        "deployed" if in_sync => Action::Upgrade,
        "uninstalled" => {
            if Action::Install.exhausted(r.obj, &status) && force.is_none() {
                return stall_out_of_retries(r, Action::Install);
            }
            Action::Install
        }
        "failed" => {
            let active = Action::from_status(&status);
            if active.failures(&status) > 0
                && force.is_none()
                && active.exhausted(r.obj, &status)
                && !active.remediate_last_failure(r.obj)
            {
                return stall_out_of_retries(r, active);
            }
            if active.failures(&status) > 0 && force.is_none() {
                // Remediate the earlier failure first.
                remediate(r, active, &release, &namespace);
                return;
            }
            Action::Upgrade
        }
        _ => {
            if Action::Upgrade.exhausted(r.obj, &status) && force.is_none() {
                return stall_out_of_retries(r, Action::Upgrade);
            }
            Action::Upgrade
        }
    };
    r.outcome.status["lastAttemptedReleaseAction"] = json!(action.name());
    // While the action runs: Reconciling and Ready=Unknown "Running '<action>' action with
    // timeout of …" (atomic_release.go:222-236).
    let timeout = r.obj["spec"][action.name()]["timeout"]
        .as_str()
        .or(r.obj["spec"]["timeout"].as_str())
        .and_then(super::parse_go_duration)
        .unwrap_or(std::time::Duration::from_secs(300));
    let running = format!("Running '{}' action with timeout of {}", action.name(), super::go_duration(timeout));
    let mut progress = r.outcome.status.clone();
    super::set_conditions(
        &mut progress,
        vec![
            ("Reconciling", Some(r.cond("Reconciling", "True", "Progressing", &running))),
            ("Ready", Some(r.cond("Ready", "Unknown", "Progressing", &running))),
        ],
    );
    r.outcome.progress = Some((progress, None));
    let number = if action == Action::Install {
        1
    } else {
        latest.as_ref().and_then(|l| l["version"].as_u64()).unwrap_or(0) + 1
    };
    let mut history = history;
    if let Some(message) = scripted_failure(r) {
        // An upgrade of a release that never deployed creates its objects: Helm's `Update`
        // words a failure to create one `failed to create resource: …` (an install does not).
        let deployed_before = history.iter().any(|h| h["status"] == "deployed" || h["status"] == "superseded");
        let message = if action == Action::Upgrade && !deployed_before {
            format!("failed to create resource: {message}")
        } else {
            message
        };
        // install.go/upgrade.go `failure`: Released=False, the counter up, a failed release
        // whose manifest is the inventory.
        observe(&mut history, snapshot(r, &release, &namespace, number, "failed", &chart, &values_digest));
        r.record_inventory(&release_objects(r.obj, &release, &namespace, &chart.name, &chart.version));
        history.truncate(max_history(r.obj));
        r.outcome.status["history"] = Value::Array(history);
        let counter = action.counter();
        let st = &mut r.outcome.status;
        st[counter] = json!(action.failures(st) + 1);
        st["failures"] = json!(st["failures"].as_i64().unwrap_or(0) + 1);
        let reason = r.obj["metadata"]["annotations"]["sim.fluxboard.dev/fail-reason"].as_str().map_or_else(
            || if action == Action::Install { "InstallFailed".to_owned() } else { "UpgradeFailed".to_owned() },
            str::to_owned,
        );
        let detail = format!(
            "Helm {} failed for release {namespace}/{release} with chart {}@{}: {message}",
            action.name(),
            chart.name,
            chart.version
        );
        let released = r.cond("Released", "False", &reason, &detail);
        set(r, vec![("Released", Some(released)), ("Remediated", None)]);
        summarize(r);
        r.event(EventType::Warning, &reason, &detail, Some(&chart.version));
        // The next loop iteration sees a failed release.
        let status = r.outcome.status.clone();
        if action.exhausted(r.obj, &status) && !action.remediate_last_failure(r.obj) {
            return stall_out_of_retries(r, action);
        }
        remediate(r, action, &release, &namespace);
        return;
    }
    for old in history.iter_mut().filter(|h| h["status"] == "deployed") {
        old["status"] = json!("superseded");
    }
    observe(&mut history, snapshot(r, &release, &namespace, number, "deployed", &chart, &values_digest));
    history.truncate(max_history(r.obj));
    // The action loop's next turn finds the release in sync and truncates the history.
    truncate_to_previous(&mut history);
    r.outcome.status["history"] = Value::Array(history);
    r.outcome.status["lastReleaseRevision"] = json!(number);
    clear_failures(&mut r.outcome.status);
    r.apply_inventory(release_objects(r.obj, &release, &namespace, &chart.name, &chart.version));
    let (reason, verb) =
        if action == Action::Install { ("InstallSucceeded", "install") } else { ("UpgradeSucceeded", "upgrade") };
    let message = format!(
        "Helm {verb} succeeded for release {namespace}/{release}.v{number} with chart {}@{}",
        chart.name, chart.version
    );
    let released = r.cond("Released", "True", reason, &message);
    set(r, vec![("Released", Some(released)), ("Remediated", None)]);
    summarize(r);
    r.succeed(reason, &message, None);
    r.event(EventType::Normal, reason, &message, Some(&chart.version));
}

/// In sync and not forced: nothing to run. Released (and so Ready) is restored if an earlier
/// failure left it false, and a Remediated condition is replaced (atomic_release.go:283-330).
fn in_sync_release(r: &mut Run<'_>, release: &str, namespace: &str, chart: &Chart) {
    if let Some(history) = r.outcome.status["history"].as_array_mut() {
        truncate_to_previous(history);
    }
    let status = r.outcome.status.clone();
    let released = condition(&status, "Released").cloned();
    let ok = released.as_ref().is_some_and(|c| c["status"] == "True") && condition(&status, "Remediated").is_none();
    if !ok {
        let number = status["history"][0]["version"].as_u64().unwrap_or(1);
        let install = released.as_ref().is_some_and(|c| c["reason"] == "InstallFailed");
        let (reason, verb) = if install { ("InstallSucceeded", "install") } else { ("UpgradeSucceeded", "upgrade") };
        let message = format!(
            "Helm {verb} succeeded for release {namespace}/{release}.v{number} with chart {}@{}",
            chart.name, chart.version
        );
        let c = r.cond("Released", "True", reason, &message);
        set(r, vec![("Released", Some(c)), ("Remediated", None)]);
    }
    r.apply_inventory(release_objects(r.obj, release, namespace, &chart.name, &chart.version));
    summarize(r);
    let ready = condition(&r.outcome.status, "Ready").cloned().unwrap_or_default();
    let reason = ready["reason"].as_str().unwrap_or("UpgradeSucceeded").to_owned();
    let message = ready["message"].as_str().unwrap_or_default().to_owned();
    r.succeed(&reason, &message, None);
}

/// Remediation of a failed release: uninstall (install's strategy) or roll back to the
/// previous release (rollback_remediation.go, uninstall_remediation.go): Remediated=True,
/// which `summarize` turns into Ready=False. Then the strategy stops: retried while retries
/// remain (Reconciling ProgressingWithRetry with the Ready message), stalled otherwise
/// (atomic_release.go:242-262).
fn remediate(r: &mut Run<'_>, action: Action, release: &str, namespace: &str) {
    let mut history = r.outcome.status["history"].as_array().cloned().unwrap_or_default();
    // "Reset the history up to the point where the failure occurred."
    truncate_to_previous(&mut history);
    let Some(failed) = history.first().cloned() else { return };
    let name = |h: &Value| {
        format!(
            "{namespace}/{release}.v{} with chart {}@{}",
            h["version"],
            h["chartName"].as_str().unwrap_or_default(),
            h["chartVersion"].as_str().unwrap_or_default()
        )
    };
    let (reason, message) = if action.uninstalls(r.obj) {
        history[0]["status"] = json!("uninstalled");
        // No release left in storage: nothing in the inventory.
        r.outcome.status.as_object_mut().map(|s| s.remove("inventory"));
        ("UninstallSucceeded", format!("Helm uninstall remediation for release {} succeeded", name(&failed)))
    } else {
        let Some(target) =
            history.iter().skip(1).find(|h| h["status"] == "superseded" || h["status"] == "deployed").cloned()
        else {
            let message =
                "Failed to perform remediation: missing target release for rollback: cannot remediate failed release";
            let stalled = r.cond("Stalled", "True", "MissingRollbackTarget", message);
            set(r, vec![("Stalled", Some(stalled)), ("Reconciling", None)]);
            r.observe_generation();
            r.outcome.requeue_after = None;
            return;
        };
        history[0]["status"] = json!("superseded");
        let mut rolled = target.clone();
        let number = failed["version"].as_u64().unwrap_or(0) + 1;
        rolled["version"] = json!(number);
        rolled["status"] = json!("deployed");
        rolled["lastDeployed"] = json!(r.now);
        rolled["digest"] = json!(format!("sha256:{}", digest(&format!("{release}{number}{}", target["chartVersion"]))));
        history.insert(0, rolled);
        history.truncate(max_history(r.obj));
        ("RollbackSucceeded", format!("Helm rollback to previous release {} succeeded", name(&target)))
    };
    r.outcome.status["history"] = Value::Array(history);
    let remediated = r.cond("Remediated", "True", reason, &message);
    set(r, vec![("Remediated", Some(remediated))]);
    summarize(r);
    r.event(EventType::Normal, reason, &message, None);
    let status = r.outcome.status.clone();
    if action.exhausted(r.obj, &status) && !(action == Action::Upgrade && action.uninstalls(r.obj)) {
        return stall_out_of_retries(r, action);
    }
    let ready =
        condition(&r.outcome.status, "Ready").and_then(|c| c["message"].as_str()).unwrap_or_default().to_owned();
    let retrying = r.cond("Reconciling", "True", "ProgressingWithRetry", &ready);
    set(r, vec![("Reconciling", Some(retrying)), ("Stalled", None)]);
    // `ErrMustRequeue`: requeued with backoff, the generation not observed.
    r.outcome.requeue_after = Some(RETRY);
}

/// How soon a remediated release is tried again (controller-runtime's backoff, roughly).
const RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// helm-controller's `observeRelease`: a release of the same name, namespace and version as
/// the latest snapshot replaces it (an install after an uninstall is version 1 again);
/// another goes first.
fn observe(history: &mut Vec<Value>, release: Value) {
    let same = |h: &Value| ["name", "namespace", "version"].iter().all(|k| h[k] == release[k]);
    match history.first_mut() {
        Some(latest) if same(latest) => *latest = release,
        _ => history.insert(0, release),
    }
}

/// helm-controller's `Snapshots.Truncate`: the history up to the previous deployed or
/// superseded release, or the newest five when there is none (api/v2 snapshot_types.go), as an
/// in-sync release and a remediation leave it (atomic_release.go).
fn truncate_to_previous(history: &mut Vec<Value>) {
    let previous = history.iter().skip(1).position(|h| h["status"] == "deployed" || h["status"] == "superseded");
    match previous {
        Some(i) => history.truncate(i + 2),
        None => history.truncate(DEFAULT_MAX_HISTORY),
    }
}

/// How many snapshots helm-controller keeps when none is a previous deployed release.
const DEFAULT_MAX_HISTORY: usize = 5;

fn max_history(obj: &Value) -> usize {
    obj["spec"]["maxHistory"].as_u64().unwrap_or(5).max(1) as usize
}

fn snapshot(
    r: &Run<'_>,
    release: &str,
    namespace: &str,
    number: u64,
    state: &str,
    chart: &Chart,
    values_digest: &str,
) -> Value {
    let mut s = json!({
        "name": release, "namespace": namespace, "version": number, "status": state,
        "chartName": chart.name, "chartVersion": chart.version, "appVersion": chart.version.split('+').next().unwrap_or_default(),
        "configDigest": values_digest,
        "digest": format!("sha256:{}", digest(&format!("{release}{number}{}{values_digest}{state}", chart.version))),
        "firstDeployed": r.now, "lastDeployed": r.now,
    });
    if let Some(d) = &chart.digest {
        s["ociDigest"] = json!(d);
    }
    s
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

    use super::super::{
        FluxKind, Outcome, begin, reconcile,
        tests::{MapWorld, ready_condition},
    };
    use super::*;

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
               "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": "6.5.4", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}},
               "status": {"observedGeneration": -1}})
    }

    /// One run as the runtime does it: the begin status, then the reconciliation; the result
    /// is written back into `hr`.
    fn step(hr: &mut Value, world: &MapWorld) -> Outcome {
        if let Some(started) = begin(FluxKind::HelmRelease, hr, world) {
            hr["status"] = started;
        }
        let out = reconcile(FluxKind::HelmRelease, hr, world);
        hr["status"] = out.status.clone();
        out
    }

    fn cond(status: &Value, type_: &str) -> (String, String, String) {
        let c = status["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == type_)).cloned();
        let c = c.unwrap_or_default();
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
        (s("status"), s("reason"), s("message"))
    }

    fn annotate(hr: &mut Value, pairs: Value) {
        for (k, v) in pairs.as_object().unwrap() {
            hr["metadata"]["annotations"][k] = v.clone();
        }
    }

    #[test]
    fn a_release_installs_then_upgrades_only_when_forced_with_the_same_token() {
        let world = world_with_chart();
        let mut hr = release(json!({}));
        let installed = step(&mut hr, &world);
        assert_eq!(
            ready_condition(&installed.status),
            (
                "True".into(),
                "InstallSucceeded".into(),
                "Helm install succeeded for release apps/podinfo.v1 with chart podinfo@6.5.4".into()
            )
        );
        assert_eq!(installed.status["history"][0]["version"], 1);
        assert_eq!(installed.status["observedGeneration"], 1);
        assert_eq!(installed.apply[0]["kind"], "HelmChart");
        assert_eq!(installed.status["inventory"]["entries"].as_array().unwrap().len(), 2);
        assert_eq!(cond(&installed.status, "Reconciling").0, "", "removed on success");
        let (running, _) = installed.progress.clone().expect("the action is shown running");
        let message = "Running 'install' action with timeout of 5m0s";
        assert_eq!(cond(&running, "Ready"), ("Unknown".into(), "Progressing".into(), message.into()));
        assert_eq!(cond(&running, "Reconciling").2, message);
        annotate(&mut hr, json!({"reconcile.fluxcd.io/requestedAt": "a", "reconcile.fluxcd.io/forceAt": "b"}));
        // A no-op reconcile never flips Ready: helm-controller marks only Reconciling first
        // (helmrelease_controller.go:236) and Ready=Unknown only before a release action.
        assert_eq!(cond(&begin(FluxKind::HelmRelease, &hr, &world).unwrap(), "Ready").0, "True");
        let not_forced = step(&mut hr, &world);
        assert!(not_forced.progress.is_none(), "in sync: no action runs");
        assert_eq!(not_forced.status["history"][0]["version"], 1);
        assert_eq!(
            not_forced.status["lastHandledForceAt"], "b",
            "recorded, not honoured (pkg HandleAnnotationRequest)"
        );
        annotate(&mut hr, json!({"reconcile.fluxcd.io/requestedAt": "c", "reconcile.fluxcd.io/forceAt": "c"}));
        let forced = step(&mut hr, &world);
        assert_eq!(forced.status["history"][0]["version"], 2);
        assert_eq!(forced.status["history"][1]["status"], "superseded");
        assert_eq!(forced.status["lastHandledForceAt"], "c");
        assert_eq!(ready_condition(&forced.status).1, "UpgradeSucceeded");
    }

    /// E4/E5: out of retries, Stalled carries RetriesExceeded and Ready keeps the Helm failure
    /// (atomic_release.go:204-210, install.go `failure`); a plain reconcile does not heal it
    /// even once the cause is gone; reset, force or a spec change do (internal/action/reset.go).
    #[test]
    fn out_of_retries_a_release_stalls_until_reset_forced_or_changed() {
        let world = world_with_chart();
        let mut hr = release(json!({"sim.fluxboard.dev/fail": "timed out waiting for the condition"}));
        let failed = step(&mut hr, &world);
        assert_eq!(failed.status["installFailures"], 1);
        assert_eq!(
            ready_condition(&failed.status),
            (
                "False".into(),
                "InstallFailed".into(),
                "Helm install failed for release apps/podinfo with chart podinfo@6.5.4: timed out waiting for the condition"
                    .into()
            )
        );
        assert_eq!(
            cond(&failed.status, "Stalled"),
            ("True".into(), "RetriesExceeded".into(), "Failed to install after 1 attempt(s)".into())
        );
        assert_eq!(cond(&failed.status, "Released").1, "InstallFailed");
        assert_eq!(cond(&failed.status, "Reconciling").0, "", "a stall removes Reconciling");
        assert_eq!(failed.status["observedGeneration"], 1, "a terminal error observes the generation");
        assert_eq!(failed.status["history"][0]["status"], "failed");
        assert_eq!(failed.requeue_after, None);

        // The cause goes away; a plain reconcile request stays out of retries.
        annotate(&mut hr, json!({"sim.fluxboard.dev/fail": null, "reconcile.fluxcd.io/requestedAt": "r1"}));
        let still = step(&mut hr, &world);
        assert_eq!(cond(&still.status, "Stalled").1, "RetriesExceeded");
        assert_eq!(ready_condition(&still.status).1, "InstallFailed");
        assert_eq!(still.status["lastHandledReconcileAt"], "r1");

        // A reset (resetAt == requestedAt) clears the counters; the failed release upgrades.
        let mut reset = hr.clone();
        annotate(&mut reset, json!({"reconcile.fluxcd.io/requestedAt": "r2", "reconcile.fluxcd.io/resetAt": "r2"}));
        let healed = step(&mut reset, &world);
        assert_eq!(healed.status["lastHandledResetAt"], "r2");
        assert_eq!(ready_condition(&healed.status).1, "UpgradeSucceeded");
        assert!(healed.status.get("installFailures").is_none());
        assert_eq!(cond(&healed.status, "Stalled").0, "");

        // A reset while the cause stays: the failed release is upgraded, and Helm creates its
        // objects (none was ever deployed), so the failure reads as a create's.
        let mut again = hr.clone();
        annotate(
            &mut again,
            json!({"sim.fluxboard.dev/fail": "boom", "reconcile.fluxcd.io/requestedAt": "r4", "reconcile.fluxcd.io/resetAt": "r4"}),
        );
        let upgrade_failed = step(&mut again, &world);
        assert_eq!(
            cond(&upgrade_failed.status, "Released").2,
            "Helm upgrade failed for release apps/podinfo with chart podinfo@6.5.4: failed to create resource: boom"
        );
        assert_eq!(upgrade_failed.status["upgradeFailures"], 1);

        // So does a force, while out of retries (atomic_release.go:396-421).
        let mut forced = hr.clone();
        annotate(&mut forced, json!({"reconcile.fluxcd.io/requestedAt": "r3", "reconcile.fluxcd.io/forceAt": "r3"}));
        assert_eq!(ready_condition(&step(&mut forced, &world).status).0, "True");

        // And a spec change: a new generation resets the counters.
        let mut changed = hr.clone();
        changed["metadata"]["generation"] = json!(2);
        changed["spec"]["values"] = json!({"replicaCount": 2});
        let upgraded = step(&mut changed, &world);
        assert_eq!(ready_condition(&upgraded.status).0, "True");
        assert_eq!(upgraded.status["observedGeneration"], 2);
    }

    /// E6: with retries, a failed upgrade is rolled back (Remediated=True, Ready=False
    /// RollbackSucceeded) and retried, the generation unobserved, until the last attempt
    /// stalls (rollback_remediation.go, atomic_release.go:242-262).
    #[test]
    fn a_failed_upgrade_is_rolled_back_and_retried_until_out_of_retries() {
        let world = world_with_chart();
        let mut hr = release(json!({}));
        hr["spec"]["upgrade"] = json!({"remediation": {"retries": 2}});
        step(&mut hr, &world);
        hr["metadata"]["generation"] = json!(2);
        hr["spec"]["values"] = json!({"replicaCount": 3});
        annotate(&mut hr, json!({"sim.fluxboard.dev/fail": "context deadline exceeded"}));
        // Each rollback is a release of its own: v1, then v3 (the first rollback).
        for (attempt, target) in [(1, 1), (2, 3)] {
            let rollback =
                format!("Helm rollback to previous release apps/podinfo.v{target} with chart podinfo@6.5.4 succeeded");
            let rollback = rollback.as_str();
            let out = step(&mut hr, &world);
            assert_eq!(out.status["upgradeFailures"], attempt);
            assert_eq!(cond(&out.status, "Remediated"), ("True".into(), "RollbackSucceeded".into(), rollback.into()));
            assert_eq!(ready_condition(&out.status), ("False".into(), "RollbackSucceeded".into(), rollback.into()));
            assert_eq!(
                cond(&out.status, "Reconciling"),
                ("True".into(), "ProgressingWithRetry".into(), rollback.into())
            );
            assert_eq!(out.status["observedGeneration"], 1, "a retried failure leaves the generation stale");
            assert!(out.requeue_after.is_some());
            assert_eq!(out.status["history"][0]["chartVersion"], "6.5.4");
            assert_eq!(out.status["history"][0]["status"], "deployed");
        }
        let last = step(&mut hr, &world);
        assert_eq!(
            cond(&last.status, "Stalled"),
            ("True".into(), "RetriesExceeded".into(), "Failed to upgrade after 3 attempt(s)".into())
        );
        assert_eq!(ready_condition(&last.status).1, "RollbackSucceeded", "the last failure is remediated too");
        assert_eq!(last.status["observedGeneration"], 2);
        assert_eq!(last.requeue_after, None);
        assert!(last.events.iter().any(|e| e.reason == "UpgradeFailed"
            && e.message
                == "Helm upgrade failed for release apps/podinfo with chart podinfo@6.5.4: context deadline exceeded"));
    }

    /// `sim.fluxboard.dev/stall` on a HelmRelease: out of retries at the first failure, whatever
    /// the remediation settings, and it stays so.
    #[test]
    fn a_stall_script_takes_the_retries_away() {
        let world = world_with_chart();
        let mut hr = release(json!({"sim.fluxboard.dev/stall": "chart requires kubeVersion >=1.30"}));
        hr["spec"]["install"] = json!({"remediation": {"retries": 3}});
        let out = step(&mut hr, &world);
        assert_eq!(cond(&out.status, "Stalled").2, "Failed to install after 1 attempt(s)");
        assert_eq!(cond(&out.status, "Remediated").0, "", "the last failure is not remediated");
        annotate(&mut hr, json!({"reconcile.fluxcd.io/requestedAt": "again"}));
        let again = step(&mut hr, &world);
        assert_eq!(cond(&again.status, "Stalled").2, "Failed to install after 1 attempt(s)");
        assert_eq!(again.status["installFailures"], 1);
    }

    /// E7: waiting for the chart is SourceNotReady with `isReady`'s message; waits keep
    /// Reconciling "Fulfilling prerequisites" (helmrelease_controller.go:236-301, 871).
    #[test]
    fn waits_keep_fulfilling_prerequisites_and_the_chart_is_judged_as_helm_controller_does() {
        let mut hr = release(json!({}));
        let out = step(&mut hr, &MapWorld::default());
        assert_eq!(
            ready_condition(&out.status),
            (
                "False".into(),
                "SourceNotReady".into(),
                "HelmChart 'apps/apps-podinfo' is not ready: latest generation of object has not been reconciled"
                    .into()
            )
        );
        assert_eq!(out.apply.len(), 1, "the HelmChart is created");
        assert_eq!(
            cond(&out.status, "Reconciling"),
            ("True".into(), "Progressing".into(), "Fulfilling prerequisites".into())
        );
        assert_eq!(out.status["observedGeneration"], -1);

        // A chart whose last pull failed but that serves its artifact at its generation is
        // ready for helm-controller; a stalled one is not.
        let mut world = world_with_chart();
        let failing = json!({"kind": "HelmChart", "metadata": {"name": "apps-podinfo", "namespace": "apps", "generation": 1},
            "spec": {"chart": "podinfo", "version": "6.5.4"},
            "status": {"observedGeneration": 1, "artifact": {"revision": "6.5.4"},
                       "conditions": [{"type": "Ready", "status": "False", "message": "pull failed"}]}});
        world.put(failing.clone());
        assert_eq!(ready_condition(&step(&mut release(json!({})), &world).status).0, "True");
        let mut stalled = failing;
        stalled["status"]["conditions"] = json!([{"type": "Stalled", "status": "True", "message": "invalid chart"}]);
        world.put(stalled);
        assert_eq!(
            ready_condition(&step(&mut release(json!({})), &world).status).2,
            "HelmChart 'apps/apps-podinfo' is not ready: invalid chart"
        );

        let mut dependent = release(json!({}));
        dependent["spec"]["dependsOn"] = json!([{"name": "database"}]);
        let waiting = step(&mut dependent, &world_with_chart());
        assert_eq!(ready_condition(&waiting.status).1, "DependencyNotReady");
        assert_eq!(cond(&waiting.status, "Reconciling").2, "Fulfilling prerequisites");
    }

    /// E8: an OCI chartRef's version carries the digest (`mutateChartWithSourceRevision`,
    /// helmrelease_controller.go:907).
    /// api/v2 snapshot_types.go `Truncate`: up to the previous deployed or superseded release.
    #[test]
    fn the_history_is_truncated_to_the_previous_release() {
        let h = |version: u64, status: &str| json!({"version": version, "status": status});
        let versions = |history: &[Value]| history.iter().map(|h| h["version"].as_u64().unwrap()).collect::<Vec<_>>();
        let mut history = vec![h(4, "deployed"), h(3, "failed"), h(2, "superseded"), h(1, "superseded")];
        super::truncate_to_previous(&mut history);
        assert_eq!(versions(&history), [4, 3, 2]);
        let mut failures: Vec<Value> = (1..=7).rev().map(|v| h(v, "failed")).collect();
        super::truncate_to_previous(&mut failures);
        assert_eq!(versions(&failures), [7, 6, 5, 4, 3], "the newest five without a previous release");
    }

    #[test]
    fn an_oci_chart_version_carries_the_first_twelve_digest_characters() {
        let mut world = MapWorld::default();
        let hex = "0cc9a8446c95aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33";
        world.put(
            json!({"kind": "OCIRepository", "metadata": {"name": "redis-chart", "namespace": "apps", "generation": 1},
            "spec": {"url": "oci://registry-1.docker.io/bitnamicharts/redis"},
            "status": {"observedGeneration": 1, "artifact": {"revision": format!("20.6.1@sha256:{hex}")},
                       "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        let mut hr = release(json!({}));
        hr["spec"] = json!({"interval": "30m", "chartRef": {"kind": "OCIRepository", "name": "redis-chart"}});
        let out = step(&mut hr, &world);
        assert_eq!(out.status["lastAttemptedRevision"], "20.6.1+0cc9a8446c95");
        assert_eq!(out.status["lastAttemptedRevisionDigest"], format!("sha256:{hex}"));
        assert_eq!(out.status["history"][0]["chartVersion"], "20.6.1+0cc9a8446c95");
        assert_eq!(
            ready_condition(&out.status).2,
            "Helm install succeeded for release apps/podinfo.v1 with chart redis@20.6.1+0cc9a8446c95"
        );
    }
}
