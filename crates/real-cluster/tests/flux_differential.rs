//! Keeps kube-sim's Flux controllers honest: the same Flux objects and the same steps (create, a
//! reconcile request, suspend with a request, resume, a bad path and its fix, dependsOn on a
//! failing Kustomization, a missing source, a HelmRelease install, new values, force, reset, a HelmRelease
//! whose install fails until it is out of retries and its reset, a GitRepository whose
//! repository does not exist) against the real controllers (crates/real-cluster) and
//! against kube-sim, whose sources are given the same content. After each step both sides settle
//! and each object's status is reduced to what fluxboard reads (conditions with type, status,
//! reason, message and whether they are current; observedGeneration as current, -1 or stale; the
//! handled tokens; revisions, inventory and history, with hashes, numbers and temp paths masked)
//! and compared. Differences not in [`KNOWN`] fail, and so does a known one that went away.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube_sim::{Sim, SimConfig};
use real_cluster::{Cluster, Options, fleet};
use serde_json::{Value, json};

/// Differences found by this test and not fixed in kube-sim, each with its reason: (step/object,
/// what); a leading `*` matches that object in every step.
const KNOWN: &[(&str, &str)] = &[];

/// The real cluster's TMPDIR, shown in kustomize-controller's messages.
static SCRATCH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

const SRC: &str = "source.toolkit.fluxcd.io";
const KS: &str = "kustomize.toolkit.fluxcd.io";
const HR: &str = "helm.toolkit.fluxcd.io";

/// (kind, namespace, name) of every object compared.
const OBJECTS: &[(&str, &str, &str)] = &[
    ("GitRepository", "flux-system", "fleet"),
    ("GitRepository", "flux-system", "missing"),
    ("HelmRepository", "flux-system", "charts"),
    ("Kustomization", "flux-system", "infrastructure"),
    ("Kustomization", "flux-system", "apps"),
    ("Kustomization", "flux-system", "broken"),
    ("Kustomization", "flux-system", "after-broken"),
    ("Kustomization", "flux-system", "orphan"),
    ("HelmRelease", "team-a", "frontend"),
    ("HelmRelease", "team-a", "failing"),
];

/// Why the `failing` HelmRelease's install fails on the real cluster (its values make the
/// chart render `replicas: -1`, which the API server refuses); kube-sim renders no chart, so
/// the same object carries the failure as its script (`sim.fluxboard.dev/fail`), ignored by the
/// real controllers. What is compared is what helm-controller does with the failure.
const INSTALL_FAILURE: &str = "server-side apply failed for object team-a/failing apps/v1, Kind=Deployment: \
     Deployment.apps \"failing\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0";

fn group(kind: &str) -> &'static str {
    match kind {
        "Kustomization" => KS,
        "HelmRelease" => HR,
        _ => SRC,
    }
}

fn api_version(kind: &str) -> String {
    format!("{}/{}", group(kind), if kind == "HelmRelease" { "v2" } else { "v1" })
}

fn objects(url: &str) -> Vec<Value> {
    let git = |name: &str, repo: &str| {
        json!({"apiVersion": api_version("GitRepository"), "kind": "GitRepository",
               "metadata": {"name": name, "namespace": "flux-system"},
               "spec": {"interval": "10m", "url": format!("{url}/git/{repo}"), "ref": {"branch": "main"}}})
    };
    let ks = |name: &str, path: &str, source: &str, depends: &[&str]| {
        let mut spec = json!({"interval": "10m", "retryInterval": "30s", "path": path, "prune": true, "wait": true,
                              "timeout": "2m", "sourceRef": {"kind": "GitRepository", "name": source}});
        if !depends.is_empty() {
            spec["dependsOn"] = depends.iter().map(|d| json!({"name": d})).collect();
        }
        json!({"apiVersion": api_version("Kustomization"), "kind": "Kustomization",
               "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec})
    };
    vec![
        git("fleet", "fleet.git"),
        git("missing", "does-not-exist.git"),
        json!({"apiVersion": api_version("HelmRepository"), "kind": "HelmRepository",
               "metadata": {"name": "charts", "namespace": "flux-system"},
               "spec": {"interval": "10m", "url": format!("{url}/charts")}}),
        ks("infrastructure", "./infrastructure", "fleet", &[]),
        ks("apps", "./apps/team-a", "fleet", &["infrastructure"]),
        ks("broken", "./does-not-exist", "fleet", &[]),
        ks("after-broken", "./apps/team-b", "fleet", &["broken"]),
        ks("orphan", "./", "nope", &[]),
        json!({"apiVersion": api_version("HelmRelease"), "kind": "HelmRelease",
               "metadata": {"name": "frontend", "namespace": "team-a"},
               "spec": {"interval": "10m", "chart": {"spec": {"chart": "frontend", "version": "0.1.0",
                        "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux-system"}}},
                        "values": {"replicas": 2}}}),
        json!({"apiVersion": api_version("HelmRelease"), "kind": "HelmRelease",
               "metadata": {"name": "failing", "namespace": "team-a", "annotations": {"sim.fluxboard.dev/fail": INSTALL_FAILURE}},
               "spec": {"interval": "10m", "chart": {"spec": {"chart": "frontend", "version": "0.1.0",
                        "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux-system"}}},
                        "values": {"replicas": -1}, "install": {"remediation": {"retries": 1}}}}),
    ]
}

/// The failing release is out of retries: Stalled, after `failures` attempts of `counter`
/// (`installFailures`, `upgradeFailures`).
fn out_of_retries(side: &Side<'_>, counter: &str, failures: i64) -> bool {
    let hr = side.get("HelmRelease", "team-a", "failing");
    let stalled = hr["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Stalled" && c["status"] == "True");
    stalled && hr["status"][counter].as_i64() == Some(failures)
}

/// One side: the real cluster or kube-sim.
enum Side<'a> {
    Real(&'a Cluster),
    Sim(&'a Sim),
}

impl Side<'_> {
    fn create(&self, obj: &Value) -> anyhow::Result<()> {
        match self {
            Side::Real(c) => c.apply_yaml(&obj.to_string()),
            Side::Sim(s) => s.cluster().apply(obj).map(|_| ()).map_err(|e| anyhow::anyhow!("{e:?}")),
        }
    }

    /// A JSON merge patch of `kind/namespace/name`.
    fn merge(&self, kind: &str, namespace: &str, name: &str, patch: Value) -> anyhow::Result<()> {
        match self {
            Side::Real(c) => c
                .kubectl(&[
                    "patch",
                    &format!("{}.{}", kind.to_lowercase(), group(kind)),
                    name,
                    "-n",
                    namespace,
                    "--type",
                    "merge",
                    "-p",
                    &patch.to_string(),
                ])
                .map(|_| ()),
            Side::Sim(s) => {
                let mut obj = patch;
                obj["apiVersion"] = json!(api_version(kind));
                obj["kind"] = json!(kind);
                obj["metadata"]["name"] = json!(name);
                obj["metadata"]["namespace"] = json!(namespace);
                s.cluster().apply(&obj).map(|_| ()).map_err(|e| anyhow::anyhow!("{e:?}"))
            }
        }
    }

    fn get(&self, kind: &str, namespace: &str, name: &str) -> Value {
        match self {
            Side::Real(c) => {
                c.get_json(namespace, &format!("{}.{}", kind.to_lowercase(), group(kind)), name).unwrap_or(Value::Null)
            }
            Side::Sim(s) => {
                s.cluster().get(group(kind), kind, namespace, name).map(|o| (*o).clone()).unwrap_or(Value::Null)
            }
        }
    }
}

/// Durations (words that start with a digit and end in `s`) as `D`, hex runs of 7 or more with a
/// digit (hashes) as `H`, other digit runs as `N`; the real cluster's scratch dir as `/tmp`.
fn mask(text: &str) -> String {
    let text = match SCRATCH.get() {
        Some(scratch) => text.replace(scratch.as_str(), "/tmp"),
        None => text.to_string(),
    };
    let text: Vec<String> = text
        .split(' ')
        .map(|w| {
            if w.starts_with(|c: char| c.is_ascii_digit()) && w.ends_with('s') && !w.contains(':') {
                "D".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    let text = text.join(" ");
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_hexdigit() {
            j += 1;
        }
        let run = &chars[i..j];
        if run.len() >= 7 && run.iter().any(char::is_ascii_digit) && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            out.push('H');
            i = j;
            continue;
        }
        if chars[i].is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push('N');
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// What fluxboard reads of an object's status, normalised.
fn reading(obj: &Value, tokens: &BTreeMap<&str, String>) -> Value {
    if obj.is_null() {
        return json!("absent");
    }
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(0);
    let status = &obj["status"];
    let mut conditions: Vec<Value> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            json!({"type": c["type"], "status": c["status"], "reason": c["reason"],
                   "message": mask(c["message"].as_str().unwrap_or_default()),
                   "current": c["observedGeneration"].as_i64() == Some(generation)})
        })
        .collect();
    conditions.sort_by_key(|c| c["type"].as_str().unwrap_or_default().to_string());
    let observed = match status["observedGeneration"].as_i64() {
        Some(g) if g == generation => json!("current"),
        Some(-1) => json!(-1),
        Some(_) => json!("stale"),
        None => Value::Null,
    };
    let token = |field: &str| match status[field].as_str() {
        None => Value::Null,
        Some(t) => json!(tokens.iter().find(|(_, v)| v.as_str() == t).map(|(k, _)| *k).unwrap_or("other")),
    };
    let text = |v: &Value| v.as_str().map(mask).map(Value::String).unwrap_or(Value::Null);
    let mut inventory: Vec<String> = status["inventory"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    inventory.sort();
    let history: Vec<Value> = status["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| json!({"status": h["status"], "chartVersion": h["chartVersion"], "version": h["version"]}))
        .collect();
    json!({
        "conditions": conditions,
        "observedGeneration": observed,
        "lastHandledReconcileAt": token("lastHandledReconcileAt"),
        "lastHandledForceAt": token("lastHandledForceAt"),
        "lastHandledResetAt": token("lastHandledResetAt"),
        "lastAppliedRevision": text(&status["lastAppliedRevision"]),
        "lastAttemptedRevision": text(&status["lastAttemptedRevision"]),
        "artifactRevision": text(&status["artifact"]["revision"]),
        "inventory": inventory,
        "history": history,
        "installFailures": status["installFailures"],
        "upgradeFailures": status["upgradeFailures"],
    })
}

fn ready_condition(obj: &Value) -> Option<&Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")
}

/// Settled: suspended; or the Ready condition is current and True with nothing Reconciling, or
/// False with at most a retry scheduled; a dependency wait counts only while a dependency is
/// itself failing (otherwise it is about to pass).
fn settled(side: &Side<'_>, obj: &Value) -> bool {
    if obj["spec"]["suspend"] == true {
        return true;
    }
    let generation = obj["metadata"]["generation"].as_i64();
    let conditions = obj["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let Some(ready) = ready_condition(obj) else { return false };
    let reconciling = conditions.iter().find(|c| c["type"] == "Reconciling" && c["status"] == "True");
    if ready["observedGeneration"].as_i64() != generation {
        return false;
    }
    if ready["status"] == "True" {
        return reconciling.is_none();
    }
    if ready["status"] != "False" || reconciling.is_some_and(|r| r["reason"] != "ProgressingWithRetry") {
        return false;
    }
    if ready["reason"] == "DependencyNotReady" {
        let namespace = obj["metadata"]["namespace"].as_str().unwrap_or_default();
        return obj["spec"]["dependsOn"].as_array().into_iter().flatten().any(|d| {
            let dep = side.get(
                obj["kind"].as_str().unwrap_or_default(),
                d["namespace"].as_str().unwrap_or(namespace),
                d["name"].as_str().unwrap_or_default(),
            );
            ready_condition(&dep).is_some_and(|r| r["status"] == "False" && r["reason"] != "DependencyNotReady")
        });
    }
    true
}

/// Polls `side` until every object is settled and `extra` holds, for at most `deadline`; returns
/// whether it did (a side that never settles is compared as it is).
async fn settle(side: &Side<'_>, deadline: Duration, extra: &dyn Fn(&Side<'_>) -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if OBJECTS.iter().all(|(k, ns, n)| settled(side, &side.get(k, ns, n))) && extra(side) {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await; // poll interval between checks
    }
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|d| serde::Deserialize::deserialize(d).ok())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

async fn step(
    name: &str,
    real: &Side<'_>,
    sim: &Side<'_>,
    tokens: &BTreeMap<&str, String>,
    extra: &dyn Fn(&Side<'_>) -> bool,
    out: &mut Vec<(String, Value, Value)>,
) {
    // Each side is read the moment it settles: transient states do not wait for the other side.
    let real_settled = settle(real, Duration::from_secs(180), extra).await;
    let real_readings: Vec<Value> = OBJECTS.iter().map(|(k, ns, n)| reading(&real.get(k, ns, n), tokens)).collect();
    let sim_settled = settle(sim, Duration::from_secs(30), extra).await;
    out.push((format!("{name}/settled"), json!(real_settled), json!(sim_settled)));
    for ((kind, ns, obj), real_reading) in OBJECTS.iter().zip(real_readings) {
        let _ = ns;
        out.push((format!("{name}/{kind}/{obj}"), real_reading, reading(&sim.get(kind, ns, obj), tokens)));
    }
}

fn handled(side: &Side<'_>, kind: &str, ns: &str, name: &str, field: &str, token: &str) -> bool {
    side.get(kind, ns, name)["status"][field] == token
}

#[test]
fn kube_sims_flux_controllers_answer_as_the_real_ones_do() {
    let mut cluster = Cluster::start(&Options { fleet: false, ..Options::default() })
        .unwrap_or_else(|e| panic!("the real cluster starts: {e:#}"));
    let url = cluster.serve_sources().expect("sources served");
    let _ = SCRATCH.set(format!("{}/tmp", cluster.dir.display()));
    let extra_files = vec![(
        "fixed/config.yaml".to_string(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fixed\n  namespace: infra\ndata:\n  fixed: \"yes\"\n"
            .to_string(),
    )];
    cluster.commit_fleet(&extra_files, "a path for the fix").expect("commit");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let out = runtime.block_on(async {
        let sim = Sim::start(SimConfig { flux: true, ..SimConfig::default() }).await.expect("kube-sim starts");
        // kube-sim's sources hold what the real repository holds.
        let mut dirs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (path, text) in fleet::repo_files().into_iter().chain(extra_files.clone()) {
            let dir = path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
            dirs.entry(dir).or_default().extend(yaml_docs(&text));
        }
        for (dir, docs) in dirs {
            sim.content().set("GitRepository", "flux-system", "fleet", &dir, docs);
        }
        // kube-sim stands in for the same Git server: it holds the fleet's repository only.
        sim.content().serve_git(&format!("{url}/git"), &["fleet.git"]);
        let real = Side::Real(&cluster);
        let emulated = Side::Sim(&sim);
        for side in [&real, &emulated] {
            for ns in fleet::NAMESPACES {
                side.create(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).expect("namespace");
            }
        }
        let mut tokens: BTreeMap<&str, String> = BTreeMap::new();
        let mut out = Vec::new();

        for side in [&real, &emulated] {
            for obj in objects(&url) {
                side.create(&obj).expect("create");
            }
        }
        step("create", &real, &emulated, &tokens, &|s| out_of_retries(s, "installFailures", 2), &mut out).await;

        tokens.insert("request", "2026-12-01T10:00:00.000000001Z".into());
        for side in [&real, &emulated] {
            side.merge("Kustomization", "flux-system", "apps", json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": tokens["request"]}}})).expect("request");
        }
        let t = tokens["request"].clone();
        step("reconcile request", &real, &emulated, &tokens, &move |s| handled(s, "Kustomization", "flux-system", "apps", "lastHandledReconcileAt", &t), &mut out).await;

        tokens.insert("suspended request", "2026-12-01T10:00:00.000000002Z".into());
        for side in [&real, &emulated] {
            side.merge("Kustomization", "flux-system", "infrastructure", json!({"spec": {"suspend": true},
                "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": tokens["suspended request"]}}})).expect("suspend");
        }
        let t = tokens["suspended request"].clone();
        step("suspend and a request", &real, &emulated, &tokens, &move |s| handled(s, "Kustomization", "flux-system", "infrastructure", "lastHandledReconcileAt", &t), &mut out).await;

        tokens.insert("resume", "2026-12-01T10:00:00.000000003Z".into());
        for side in [&real, &emulated] {
            side.merge("Kustomization", "flux-system", "infrastructure", json!({"spec": {"suspend": null},
                "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": tokens["resume"]}}})).expect("resume");
        }
        let t = tokens["resume"].clone();
        step("resume", &real, &emulated, &tokens, &move |s| handled(s, "Kustomization", "flux-system", "infrastructure", "lastHandledReconcileAt", &t), &mut out).await;

        for side in [&real, &emulated] {
            side.merge("Kustomization", "flux-system", "broken", json!({"spec": {"path": "./fixed"}})).expect("fix");
        }
        step("the fix", &real, &emulated, &tokens, &|s| ready_condition(&s.get("Kustomization", "flux-system", "after-broken")).is_some_and(|r| r["status"] == "True"), &mut out).await;

        // New values: a new generation, an upgrade to release 2.
        for side in [&real, &emulated] {
            side.merge("HelmRelease", "team-a", "frontend", json!({"spec": {"values": {"replicas": 3}}})).expect("values");
        }
        step("new values", &real, &emulated, &tokens, &|s| {
            let hr = s.get("HelmRelease", "team-a", "frontend");
            hr["status"]["history"][0]["version"] == 2 && hr["status"]["observedGeneration"] == hr["metadata"]["generation"]
        }, &mut out).await;

        for (action, field) in [("force", "lastHandledForceAt"), ("reset", "lastHandledResetAt")] {
            let token = format!("2026-12-01T10:00:01.00000000{}Z", if action == "force" { 1 } else { 2 });
            tokens.insert(action, token.clone());
            let key = format!("reconcile.fluxcd.io/{action}At");
            for side in [&real, &emulated] {
                side.merge("HelmRelease", "team-a", "frontend", json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token, key.clone(): token}}})).expect(action);
            }
            let t = token.clone();
            step(action, &real, &emulated, &tokens, &move |s| handled(s, "HelmRelease", "team-a", "frontend", field, &t), &mut out).await;
        }

        // A reset of the release that is out of retries: the counters cleared, and the failed
        // release upgraded once (upgrades have no retries by default) before it stalls again.
        tokens.insert("reset of the failing release", "2026-12-01T10:00:02.000000001Z".into());
        let token = tokens["reset of the failing release"].clone();
        for side in [&real, &emulated] {
            side.merge("HelmRelease", "team-a", "failing", json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token, "reconcile.fluxcd.io/resetAt": token}}})).expect("reset");
        }
        let t = token.clone();
        step("reset of the failing release", &real, &emulated, &tokens, &move |s| handled(s, "HelmRelease", "team-a", "failing", "lastHandledResetAt", &t) && out_of_retries(s, "upgradeFailures", 1), &mut out).await;
        out
    });
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    for (what, real, sim) in &out {
        println!("{what}: {real}");
        let known = KNOWN.iter().any(|(k, _)| k.strip_prefix('*').map_or(k == what, |suffix| what.ends_with(suffix)));
        if real != sim && !known {
            let fields: Vec<String> = match (real.as_object(), sim.as_object()) {
                (Some(r), Some(k)) => r
                    .keys()
                    .filter(|f| r.get(*f) != k.get(*f))
                    .map(|f| format!("{f}: real {} / kube-sim {}", r[f], k.get(f.as_str()).unwrap_or(&Value::Null)))
                    .collect(),
                _ => vec![format!("real {real} / kube-sim {sim}")],
            };
            unexpected.push(format!("{what}:\n  {}", fields.join("\n  ")));
        }
    }
    for (k, _) in KNOWN {
        let matches = |what: &str| k.strip_prefix('*').map_or(*k == what, |suffix| what.ends_with(suffix));
        if !out.iter().any(|(what, real, sim)| matches(what) && real != sim) {
            stale.push(k.to_string());
        }
    }
    println!("{} readings compared, {} known differences", out.len(), KNOWN.len());
    assert!(stale.is_empty(), "known differences that no longer differ (remove them from KNOWN): {stale:?}");
    assert!(unexpected.is_empty(), "kube-sim's controllers differ from the real ones:\n{}", unexpected.join("\n"));
}
